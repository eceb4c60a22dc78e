//! `ocpp cp`: one simulated charge point ([`crate::sim`]) against a central system.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ocpp_io::rustls::pki_types::pem::PemObject;
use ocpp_io::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use ocpp_io_tokio::{Backoff, BasicAuthPassword, ClientSecurity};

use crate::output::Out;
use crate::sim::{Charging, Latencies, Station, StationConfig, TracePath};

/// The arguments of `ocpp cp`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The central system's OCPP-J endpoint: ws:// for security profiles 0 and 1, wss:// for
    /// 2 and 3; the charge point id is appended.
    #[arg(long, value_name = "URL")]
    url: String,
    /// The charge point id.
    #[arg(long, value_name = "ID")]
    id: String,
    /// The station's redb store [default: ID.redb in the current directory].
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Number of connectors.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    connectors: u32,
    /// Charging sessions to run, spread over the connectors, which charge in parallel; 0
    /// stays connected until SIGINT or SIGTERM.
    #[arg(
        long,
        value_name = "M",
        default_value_t = 1,
        conflicts_with = "control"
    )]
    sessions: u32,
    /// The id tag the sessions authorize with.
    #[arg(long, value_name = "TAG", default_value = "SIM-TAG", value_parser = parse_id_tag, conflicts_with = "control")]
    id_tag: String,
    /// Meter readings per session.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        conflicts_with = "control"
    )]
    readings: u32,
    /// Milliseconds between two meter readings (each adds 250 Wh); with --control, between
    /// two steps of the meter of a connector whose EV draws power.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub(crate) interval_ms: u64,
    /// Serve a local HTTP control API on this address (e.g. 127.0.0.1:8181; port 0 picks one,
    /// the first stdout line says which) instead of running sessions: plug in, present an id
    /// tag, EV draws power, faults, network cuts, power cycles, configuration, state. Its
    /// OpenAPI document is at /openapi.json. Runs until SIGINT or SIGTERM.
    #[arg(long, value_name = "ADDR")]
    pub(crate) control: Option<String>,
    /// With --control: run N stations in this process, ID-1 to ID-N, each with its own store
    /// (DB-1.redb ... when --db DB.redb is given, else ID-n.redb), behind one control API.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "control", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) stations: u32,
    /// Seconds to wait for the first connection (TCP, TLS and WebSocket handshakes).
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    connect_timeout: u64,
    /// 0: plain ws://; 1: ws:// with HTTP Basic authentication (--auth-key); 2: wss:// with
    /// Basic authentication (--auth-key, --ca); 3: wss:// with a client certificate (--ca,
    /// --cert, --key).
    #[arg(long, value_name = "0-3", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
    security_profile: u8,
    /// The AuthorizationKey, hex (profiles 1 and 2): the Basic password is the bytes it
    /// stands for.
    #[arg(long, value_name = "HEX")]
    auth_key: Option<String>,
    /// PEM file of the root certificates the central system's certificate is checked against
    /// (profiles 2 and 3).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// PEM file of the charge point's certificate chain, CN = the charge point id (profile 3).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// PEM file of the charge point's private key (profile 3).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Record the charge point's trace (every input and output of its state machine, JSON
    /// lines) into this file, for `ocpp replay`. A restart after a Reset (or a power cycle of
    /// --control) starts a new trace: PATH, then PATH with .2, .3, ... before its extension;
    /// with --stations N, station n's traces are PATH with -n added to its stem.
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
}

fn parse_id_tag(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 20 {
        return Err("an id tag has 1 to 20 characters (OCPP 1.6 IdToken)".to_owned());
    }
    Ok(text.to_owned())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certificates)
}

fn password(args: &Args) -> Result<BasicAuthPassword, String> {
    let key = args.auth_key.as_deref().ok_or(format!(
        "--security-profile {} needs --auth-key HEX",
        args.security_profile
    ))?;
    BasicAuthPassword::from_authorization_key(key).map_err(|e| format!("--auth-key: {e}"))
}

fn security(args: &Args) -> Result<ClientSecurity, String> {
    let unused = |flag: &str, given: bool| {
        if given {
            Err(format!(
                "{flag} is not used by --security-profile {}",
                args.security_profile
            ))
        } else {
            Ok(())
        }
    };
    let need = |flag: &str, path: &Option<PathBuf>| {
        path.clone().ok_or(format!(
            "--security-profile {} needs {flag} FILE",
            args.security_profile
        ))
    };
    match args.security_profile {
        0 => {
            unused("--auth-key", args.auth_key.is_some())?;
            unused("--ca", args.ca.is_some())?;
            unused("--cert", args.cert.is_some())?;
            unused("--key", args.key.is_some())?;
            Ok(ClientSecurity::unsecured())
        }
        1 => {
            unused("--ca", args.ca.is_some())?;
            unused("--cert", args.cert.is_some())?;
            unused("--key", args.key.is_some())?;
            Ok(ClientSecurity::basic_auth(password(args)?))
        }
        2 => {
            unused("--cert", args.cert.is_some())?;
            unused("--key", args.key.is_some())?;
            let roots = certificates(&need("--ca", &args.ca)?)?;
            ClientSecurity::tls_basic_auth(roots, password(args)?).map_err(|e| e.to_string())
        }
        _ => {
            unused("--auth-key", args.auth_key.is_some())?;
            let roots = certificates(&need("--ca", &args.ca)?)?;
            let chain = certificates(&need("--cert", &args.cert)?)?;
            let key_path = need("--key", &args.key)?;
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| format!("{}: {e}", key_path.display()))?;
            ClientSecurity::tls_client_certificate(roots, chain, key).map_err(|e| e.to_string())
        }
    }
}

/// Runs `ocpp cp`.
pub(crate) fn run(args: &Args, out: &mut Out) -> ExitCode {
    let outcome = crate::runtime().and_then(|runtime| {
        runtime.block_on(async {
            match &args.control {
                Some(addr) => crate::control::serve(args, addr, out).await,
                None => simulate(args, out).await,
            }
        })
    });
    out.flush();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Runs the station; `Ok(true)` when every session completed. An error (settings, store,
/// connection) is a setup error: exit 2.
async fn simulate(args: &Args, out: &mut Out) -> Result<bool, String> {
    let config = station_configs(args)?.remove(0);
    let connect_timeout = config.connect_timeout;
    let station = Station::start(config.clone())?;
    // The first connection bounds the wait: a station that never got through is a setup
    // error; one that got through but is not accepted in time is too.
    station
        .accepted(connect_timeout + Duration::from_secs(10))
        .await
        .map_err(|e| format!("{}: {e}", args.url))?;

    if args.sessions == 0 {
        return serve_until_signal(station, config, out).await;
    }

    let charging = Charging {
        readings: args.readings,
        interval: Duration::from_millis(args.interval_ms),
        step_wh: 250,
    };
    let station = Arc::new(station);
    let latencies = Arc::new(Latencies::default());
    let mut tasks = Vec::new();
    for connector in 1..=args.connectors {
        let count = (args.sessions / args.connectors)
            + u32::from(connector <= args.sessions % args.connectors);
        let station = station.clone();
        let latencies = latencies.clone();
        let tag = args.id_tag.clone();
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..count {
                results.push(station.session(connector, &tag, charging, &latencies).await);
            }
            results
        }));
    }
    let mut completed = 0;
    let mut energy = 0i64;
    let session_work = tokio::select! {
        results = futures_util::future::join_all(tasks) => Some(results),
        _ = wait_for_signal() => None,
    };
    let interrupted = session_work.is_none();
    for results in session_work.into_iter().flatten() {
        for result in results.unwrap_or_default() {
            match result {
                Ok(session) => {
                    completed += 1;
                    energy += i64::from(session.energy_wh);
                    out.line(&format!(
                        "session {completed}: connector {}, transaction {}, {} Wh",
                        session.connector, session.transaction_id, session.energy_wh
                    ));
                }
                Err(error) => eprintln!("{}: session failed: {error}", args.id),
            }
        }
    }
    let left = station.drain(Duration::from_secs(15)).await;
    let errors = station.errors();
    if let Ok(station) = Arc::try_unwrap(station) {
        station.close().await;
    }
    out.line(&format!(
        "sessions completed: {completed}/{}{}",
        args.sessions,
        if interrupted { " (interrupted)" } else { "" }
    ));
    out.line(&format!("energy delivered: {energy} Wh"));
    out.line(&format!("undelivered transaction messages: {left}"));
    out.line(&format!("errors: {errors}"));
    Ok(completed == args.sessions && left == 0)
}

/// `--sessions 0`: stays connected, answering the Central System, until SIGINT or SIGTERM. A
/// Reset it accepted restarts the station: its transactions were stopped with the answer,
/// the queue is delivered, the connection closed, and the station starts again on its store
/// (and boots again, 1.6 section 5.14).
async fn serve_until_signal(
    mut station: Station,
    config: StationConfig,
    out: &mut Out,
) -> Result<bool, String> {
    let accept_wait = config.connect_timeout + Duration::from_secs(10);
    loop {
        out.line(&format!(
            "{} accepted; waiting for SIGINT or SIGTERM",
            config.id
        ));
        out.flush();
        let mut resets = station.resets();
        let reset = tokio::select! {
            _ = wait_for_signal() => None,
            changed = resets.changed() => changed.ok().and_then(|()| *resets.borrow()),
        };
        drop(resets);
        let left = station.drain(Duration::from_secs(5)).await;
        station.close().await;
        let Some(kind) = reset else {
            return Ok(left == 0);
        };
        out.line(&format!("{kind:?} reset: restarting"));
        out.flush();
        station = restart(&config).await?;
        station
            .accepted(accept_wait)
            .await
            .map_err(|e| format!("{}: {e}", config.url))?;
    }
}

/// Starts the station again on its store, waiting (a little) for the previous run's last
/// tasks to let go of the file.
async fn restart(config: &StationConfig) -> Result<Station, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match Station::start(config.clone()) {
            Ok(station) => return Ok(station),
            Err(error) if tokio::time::Instant::now() >= deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The settings of the stations the arguments describe: one, or with `--stations N` N of
/// them, `ID-1` to `ID-N`.
pub(crate) fn station_configs(args: &Args) -> Result<Vec<StationConfig>, String> {
    let security = security(args)?;
    let connect_timeout = Duration::from_secs(args.connect_timeout);
    let named = |id: String, db: PathBuf, trace: Option<PathBuf>| StationConfig {
        url: args.url.clone(),
        id,
        db,
        connectors: args.connectors,
        security: security.clone(),
        connect_timeout,
        call_timeout: Duration::from_secs(10),
        reconnect: Some(Backoff {
            wait_minimum: Duration::from_millis(500),
            random_range: Duration::from_millis(500),
            repeat_times: 4,
        }),
        verbose: true,
        trace: trace.map(TracePath::new),
    };
    if args.stations == 1 {
        let db = args
            .db
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.redb", args.id)));
        return Ok(vec![named(args.id.clone(), db, args.trace.clone())]);
    }
    // Station n's files are the given ones with -n added to their stem.
    let numbered = |path: &Path, n: u32| {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let name = match path.extension() {
            Some(extension) => format!("{stem}-{n}.{}", extension.to_string_lossy()),
            None => format!("{stem}-{n}"),
        };
        path.with_file_name(name)
    };
    Ok((1..=args.stations)
        .map(|n| {
            let id = format!("{}-{n}", args.id);
            let db = match &args.db {
                Some(db) => numbered(db, n),
                None => PathBuf::from(format!("{id}.redb")),
            };
            let trace = args.trace.as_deref().map(|path| numbered(path, n));
            named(id, db, trace)
        })
        .collect())
}

/// SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
