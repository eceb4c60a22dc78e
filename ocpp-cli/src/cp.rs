//! `ocpp cp`: simulated charge points ([`ocpp_sim`]) against a central system: one doing
//! scripted sessions, or staying connected, or (`--control`, [`crate::control`]) several
//! driven by hand over HTTP. This module turns the arguments into station settings and
//! prints what the sessions did.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use ocpp_io::rustls::pki_types::pem::PemObject;
use ocpp_io::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use ocpp_io_tokio::{BasicAuthPassword, ClientSecurity};
use ocpp_sim::{
    Charging, Latencies, Metering, Operator, Station, StationConfig, StationEvent, TracePath,
};
use tokio::sync::broadcast;

use crate::output::Out;

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
    interval_ms: u64,
    /// Serve a local HTTP control API on this address (e.g. 127.0.0.1:8181; port 0 picks one,
    /// the first stdout line says which) instead of running sessions: plug in, present an id
    /// tag, EV draws power, faults, network cuts, power cycles, configuration, state. Its
    /// OpenAPI document is at /openapi.json. Runs until SIGINT or SIGTERM.
    #[arg(long, value_name = "ADDR")]
    control: Option<String>,
    /// With --control: run N stations in this process, ID-1 to ID-N, each with its own store
    /// (DB-1.redb ... when --db DB.redb is given, else ID-n.redb), behind one control API.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "control", value_parser = clap::value_parser!(u32).range(1..=1000))]
    stations: u32,
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
            let configs = station_configs(args)?;
            match &args.control {
                Some(addr) => crate::control::serve(configs, addr, out).await,
                None => simulate(args, configs, out).await,
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

/// How long a station may take to be accepted: its first connection, then ten seconds.
fn accept_wait(config: &StationConfig) -> Duration {
    config.connect_timeout + Duration::from_secs(10)
}

/// Runs the station; `Ok(true)` when every session completed. An error (settings, store,
/// connection) is a setup error: exit 2.
async fn simulate(
    args: &Args,
    mut configs: Vec<StationConfig>,
    out: &mut Out,
) -> Result<bool, String> {
    let config = configs.remove(0);
    let wait = accept_wait(&config);
    let station = Station::start(config).await.map_err(|e| e.to_string())?;
    // Subscribed before anything can happen, so that no restart goes unseen.
    let events = station.events();
    // The first connection bounds the wait: a station that never got through is a setup
    // error; one that got through but is not accepted in time is too.
    station
        .accepted(wait)
        .await
        .map_err(|e| format!("{}: {e}", args.url))?;

    if args.sessions == 0 {
        return serve_until_signal(&station, events, wait, &args.url, out).await;
    }

    let charging = Charging {
        readings: args.readings,
        interval: Duration::from_millis(args.interval_ms),
        step_wh: 250,
    };
    let latencies = std::sync::Arc::new(Latencies::default());
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
        _ = crate::wait_for_signal() => None,
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
    station.shutdown().await;
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
/// Reset it accepted restarts the station (its transactions stopped with the answer, the
/// queue delivered, the connection closed, the station started again on its store, which
/// boots again, 1.6 section 5.14); each restart must be accepted in time like the first
/// start.
async fn serve_until_signal(
    station: &Station,
    mut events: broadcast::Receiver<StationEvent>,
    wait: Duration,
    url: &str,
    out: &mut Out,
) -> Result<bool, String> {
    loop {
        out.line(&format!(
            "{} accepted; waiting for SIGINT or SIGTERM",
            station.id()
        ));
        out.flush();
        let reset = tokio::select! {
            _ = crate::wait_for_signal() => None,
            kind = next_reset(&mut events) => kind,
        };
        let Some(kind) = reset else {
            let left = station.drain(Duration::from_secs(5)).await;
            station.shutdown().await;
            return Ok(left == 0);
        };
        out.line(&format!("{kind:?} reset: restarting"));
        out.flush();
        // The restart delivers the queue (5 s at most), then opens the store again.
        let _ = tokio::time::timeout(Duration::from_secs(15), powered_on(&mut events)).await;
        station
            .accepted(wait)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
    }
}

/// The next Reset the station accepted and restarts for; `None` once no event can come.
async fn next_reset(
    events: &mut broadcast::Receiver<StationEvent>,
) -> Option<ocpp_core::v16::ResetType> {
    loop {
        match events.recv().await {
            Ok(StationEvent::Restarting(kind)) => return Some(kind),
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => {
                // The station is gone: nothing but a signal ends the wait now.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Until the station has powered on again.
async fn powered_on(events: &mut broadcast::Receiver<StationEvent>) {
    loop {
        match events.recv().await {
            Ok(StationEvent::PoweredOn) | Err(broadcast::error::RecvError::Closed) => return,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
        }
    }
}

/// The settings of the stations the arguments describe: one, or with `--stations N` N of
/// them, `ID-1` to `ID-N`. Without `--control` a station runs by itself (remote starts plug
/// an EV in, and with `--sessions 0` a Reset restarts it); with it the stations are driven
/// by hand, accept every Reset and connect through a network switch.
fn station_configs(args: &Args) -> Result<Vec<StationConfig>, String> {
    let security = security(args)?;
    let controlled = args.control.is_some();
    let named = |id: String, db: PathBuf, trace: Option<PathBuf>| {
        let mut config = StationConfig::new(id, args.url.clone(), db);
        config.connectors = args.connectors;
        config.security = security.clone();
        config.connect_timeout = Duration::from_secs(args.connect_timeout);
        config.call_timeout = Duration::from_secs(10);
        config.verbose = true;
        config.trace = trace.map(TracePath::new);
        config.metering = Metering {
            tick: Duration::from_millis(args.interval_ms.max(1)),
            step_wh: 250,
        };
        config.operator = if controlled {
            Operator::Manual
        } else {
            Operator::Automatic
        };
        config.restart_on_reset = controlled || args.sessions == 0;
        config.network_switch = controlled;
        config
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
