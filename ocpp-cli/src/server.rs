//! `ocpp csms`: the central system of [`crate::csms`] on a listening socket, until a signal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::csms::{self, Csms, LogLevel};
use crate::output::Out;

/// The arguments of `ocpp csms`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("authorization").required(true).args(["id_tags", "accept_all"]))]
pub(crate) struct Args {
    /// The address to listen on, e.g. 127.0.0.1:9000 (port 0 picks a free port; the first
    /// stdout line says which).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// The redb file of stations and transactions; created if missing, restored if present.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// 0: no authentication; 1: HTTP Basic authentication with the keys of --auth-keys.
    #[arg(long, value_name = "0|1", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    security_profile: u8,
    /// JSON object of charge point id to AuthorizationKey (hex), for --security-profile 1.
    #[arg(long, value_name = "FILE")]
    auth_keys: Option<PathBuf>,
    /// JSON array of id tags: {"idTag", "status" (Accepted, Blocked, Expired, Invalid),
    /// "expiryDate"?, "parentIdTag"?}. Unknown tags are Invalid.
    #[arg(long, value_name = "FILE")]
    id_tags: Option<PathBuf>,
    /// Accept every id tag.
    #[arg(long)]
    accept_all: bool,
    /// What to log on stderr: nothing, a line per connection, boot and transaction, or
    /// that and every frame.
    #[arg(long, value_enum, default_value_t = LogLevel::Summary)]
    log: LogLevel,
    /// Serve the JSON REST API (stations, transactions, calls to stations; its OpenAPI
    /// document at /openapi.json) on this address, e.g. 127.0.0.1:8080 (port 0 picks a free
    /// port; the third stdout line says which). No authentication: bind it to loopback.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Seconds a call of the central system (sent through --http) waits for the station's
    /// answer before it fails (504).
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    call_timeout: u64,
    /// Record each connection's trace (every input and output of its state machine, JSON
    /// lines) into this directory, one file per connection (ID-N.jsonl), for `ocpp replay`.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// Threads serving the connections, each with its share of them for their whole life.
    /// One thread serves some 150,000 requests/s; more help with TLS handshakes on many
    /// cores. The store commits on a thread of its own either way.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,
}

/// Runs `ocpp csms`.
pub(crate) fn run(args: &Args, out: &mut Out) -> ExitCode {
    let outcome = Workers::start(usize::from(args.threads)).and_then(|workers| {
        let outcome = workers
            .first
            .block_on(serve(args, out, workers.runtimes.clone()));
        workers.stop();
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            out.flush();
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// One single-threaded runtime per worker thread, the first driven by the main thread (which
/// also runs the HTTP API and the signal handling), each of the others by a thread of its own.
///
/// A connection is served by one of them for its whole life: its input never wakes a second
/// thread, which a work-stealing runtime does for a good share of inputs under load. One
/// thread is the default: every thread that runs out of work sleeps and is woken again, and
/// on the benchmark machine (a 2-vCPU VM, the load on the same cores) those wake-ups cost
/// more than a second thread gains (see BENCHMARKS.md).
struct Workers {
    first: tokio::runtime::Runtime,
    /// Every runtime's handle, the first's included, in the order connections go to them.
    runtimes: Vec<tokio::runtime::Handle>,
    /// The other threads, and what tells each to stop.
    others: Vec<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
}

impl Workers {
    fn start(threads: usize) -> Result<Workers, String> {
        let first = single_threaded()?;
        let mut workers = Workers {
            runtimes: vec![first.handle().clone()],
            first,
            others: Vec::new(),
        };
        for n in 1..threads {
            let (started_tx, started) = std::sync::mpsc::channel();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("ocpp-worker-{n}"))
                .spawn(move || match single_threaded() {
                    Ok(runtime) => {
                        let _ = started_tx.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(error) => {
                        let _ = started_tx.send(Err(error));
                    }
                })
                .map_err(|e| format!("cannot start a worker thread: {e}"))?;
            let runtime = started
                .recv()
                .map_err(|_| "a worker thread ended at its start".to_owned())??;
            workers.runtimes.push(runtime);
            workers.others.push((stop, thread));
        }
        Ok(workers)
    }

    /// Ends the other threads (their connections have ended) and waits for them.
    fn stop(self) {
        for (stop, thread) in self.others {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

fn single_threaded() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

async fn serve(
    args: &Args,
    out: &mut Out,
    runtimes: Vec<tokio::runtime::Handle>,
) -> Result<(), String> {
    let auth_keys = match (args.security_profile, &args.auth_keys) {
        (1, Some(path)) => Some(csms::read_auth_keys(path)?),
        (1, None) => return Err("--security-profile 1 needs --auth-keys FILE".to_owned()),
        (_, Some(_)) => {
            return Err("--auth-keys is for --security-profile 1".to_owned());
        }
        (_, None) => None,
    };
    let id_tags = match &args.id_tags {
        Some(path) => csms::read_id_tags(path)?,
        None => ocpp_csms::IdTags::AcceptAll,
    };
    let (csms, restored) = Csms::open(&args.db, id_tags, args.log)?;
    csms.set_call_timeout(std::time::Duration::from_secs(args.call_timeout));
    if let Some(dir) = &args.trace {
        csms.record_traces(dir)?;
    }
    let mut server = csms::bind_across(
        &csms,
        runtimes,
        &args.listen,
        csms::server_config(auth_keys),
    )
    .await
    .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let http = match &args.http {
        Some(addr) => Some(
            crate::api::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} (--http): {e}"))?,
        ),
        None => None,
    };
    out.line(&format!("listening on ws://{}", server.local_addr()));
    out.line(&format!(
        "restored {} stations, {} transactions ({} open); next transaction id {}",
        restored.stations, restored.transactions, restored.open, restored.next_transaction_id
    ));
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = match http {
        Some(listener) => {
            match listener.local_addr() {
                Ok(addr) => out.line(&format!("http api on http://{addr}")),
                Err(e) => return Err(format!("--http: {e}")),
            }
            let stop = async move {
                let _ = http_stopped.await;
            };
            Some(tokio::spawn(crate::api::serve(
                listener,
                csms.clone(),
                stop,
            )))
        }
        None => None,
    };
    out.flush();

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    loop {
        tokio::select! {
            connection = server.next_connection() => match connection {
                Some(connection) => {
                    csms::accept(&csms, connection);
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
        }
    }
    if args.log != LogLevel::Off {
        eprintln!("shutting down");
    }
    // Closing the connections first ends the calls the API waits for (503), so that its
    // graceful shutdown does not wait for them.
    let _ = stop_http.send(());
    server.shutdown().await;
    if let Some(task) = http_task {
        let _ = task.await;
    }
    summary(&csms, out);
    Ok(())
}

fn summary(csms: &Arc<Csms>, out: &mut Out) {
    let transactions = csms.ledger.transactions();
    let open = transactions.iter().filter(|t| t.is_active()).count();
    out.line(&format!("stations: {}", csms.ledger.station_count()));
    out.line(&format!(
        "transactions: {} ({open} open)",
        transactions.len()
    ));
    out.line(&format!(
        "repeated StartTransaction: {}, repeated StopTransaction: {}",
        csms.ledger.repeated_starts(),
        csms.ledger.repeated_stops()
    ));
    out.line(&format!(
        "frames: {}",
        csms.counters.frames.load(Ordering::Relaxed)
    ));
    out.flush();
}
