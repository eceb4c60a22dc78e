//! `ocpp demo`: the embedded central system of [`crate::csms`] and N simulated charge points
//! of [`ocpp_sim`] in one process, over real WebSockets on loopback and real redb files.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ocpp_io_tokio::Backoff;
use ocpp_sim::{Charging, Latencies, Station, StationConfig};

use crate::csms::{self, Csms, LogLevel};
use crate::output::Out;

/// The arguments of `ocpp demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Number of simulated charge points.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    stations: u32,
    /// Charging sessions per charge point.
    #[arg(long, value_name = "M", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sessions: u32,
    /// The central system's redb file [default: in a temporary directory, removed at the
    /// end]. An existing file is restored and added to.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

/// How the sessions of a station go: three readings 10 ms apart, 250 Wh each.
const CHARGING: Charging = Charging {
    readings: 3,
    interval: Duration::from_millis(10),
    step_wh: 250,
};

/// Bound on the waits of the charge points (connection, each answer).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Progress {
    accepted: AtomicU32,
    sessions: AtomicU32,
    failed: AtomicU32,
    errors: AtomicU64,
}

/// Runs `ocpp demo`.
pub(crate) fn run(args: &Args, out: &mut Out) -> ExitCode {
    let dir = std::env::temp_dir().join(format!(
        "ocpp-demo-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    let outcome = std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
        .and_then(|()| crate::runtime())
        .and_then(|runtime| runtime.block_on(demo(args, &dir, out)));
    // Removed whatever happened: the stations' stores are the demo's scratch.
    let _ = std::fs::remove_dir_all(&dir);
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

async fn demo(args: &Args, dir: &std::path::Path, out: &mut Out) -> Result<bool, String> {
    let began = Instant::now();
    let db = args.db.clone().unwrap_or_else(|| dir.join("csms.redb"));
    let (csms, _) = Csms::open(&db, ocpp_csms::IdTags::AcceptAll, LogLevel::Off)?;
    let mut server = csms::bind(&csms, "127.0.0.1:0", csms::server_config(None))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let url = format!("ws://{}", server.local_addr());
    let transactions_before = csms.ledger.transactions().len();

    let progress = Arc::new(Progress::default());
    let latencies = Arc::new(Latencies::default());
    let mut stations = Vec::new();
    for n in 1..=args.stations {
        let id = format!("CP-{n:03}");
        let store = ocpp_sim::station_store(dir, &id);
        let mut config = StationConfig::new(id, url.clone(), store);
        config.connect_timeout = CALL_TIMEOUT;
        config.call_timeout = CALL_TIMEOUT;
        config.reconnect = Some(Backoff {
            wait_minimum: Duration::from_millis(100),
            random_range: Duration::from_millis(100),
            repeat_times: 2,
        });
        stations.push(tokio::spawn(station(
            config,
            args.sessions,
            progress.clone(),
            latencies.clone(),
        )));
    }

    let total = args.stations * args.sessions;
    let all_done = futures_util::future::join_all(stations);
    tokio::pin!(all_done);
    let tty = std::io::stderr().is_terminal();
    let mut ticker = tokio::time::interval(if tty {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    });
    ticker.tick().await;
    // Every wait of a station is bounded; this bounds the whole run on top.
    let limit = Duration::from_secs(30) + CALL_TIMEOUT * args.sessions * 4;
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let mut timed_out = false;
    loop {
        tokio::select! {
            connection = server.next_connection() => {
                if let Some(connection) = connection {
                    csms::accept(&csms, connection);
                }
            }
            _ = &mut all_done => break,
            _ = ticker.tick() => show_progress(&progress, args.stations, total, began, tty, false),
            _ = &mut deadline => {
                timed_out = true;
                break;
            }
        }
    }
    show_progress(&progress, args.stations, total, began, tty, true);
    let _ = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
    let elapsed = began.elapsed();

    let completed = progress.sessions.load(Ordering::Relaxed);
    let energy: i64 = csms
        .ledger
        .transactions()
        .iter()
        .skip(transactions_before)
        .filter_map(|t| Some(i64::from(t.meter_stop?) - i64::from(t.meter_start)))
        .sum();
    let errors = progress.errors.load(Ordering::Relaxed)
        + u64::from(progress.failed.load(Ordering::Relaxed))
        + csms.counters.errors.load(Ordering::Relaxed)
        + u64::from(timed_out);
    let samples = latencies.sorted();
    out.line(&format!("stations            {}", args.stations));
    out.line(&format!("sessions completed  {completed}/{total}"));
    out.line(&format!("energy delivered    {energy} Wh"));
    out.line(&format!(
        "messages exchanged  {}",
        csms.counters.frames.load(Ordering::Relaxed)
    ));
    out.line(&format!("errors              {errors}"));
    out.line(&format!("call latency        {}", latency_line(&samples)));
    out.line(&format!(
        "elapsed             {:.2} s",
        elapsed.as_secs_f64()
    ));
    if timed_out {
        eprintln!(
            "error: the demo did not finish within {} s",
            limit.as_secs()
        );
    }
    Ok(completed == total && !timed_out)
}

/// One station: connect, `sessions` sessions, deliver everything, close.
async fn station(
    config: StationConfig,
    sessions: u32,
    progress: Arc<Progress>,
    latencies: Arc<Latencies>,
) {
    let id = config.id.clone();
    let station = match Station::start(config).await {
        Ok(station) => station,
        Err(error) => {
            eprintln!("{id}: {error}");
            progress.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if let Err(error) = station.accepted(CALL_TIMEOUT * 2).await {
        eprintln!("{id}: {error}");
        progress.failed.fetch_add(1, Ordering::Relaxed);
        station.shutdown().await;
        return;
    }
    progress.accepted.fetch_add(1, Ordering::Relaxed);
    for _ in 0..sessions {
        match station.session(1, "DEMO-TAG", CHARGING, &latencies).await {
            Ok(_) => {
                progress.sessions.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => eprintln!("{id}: session failed: {error}"),
        }
    }
    if station.drain(CALL_TIMEOUT).await > 0 {
        eprintln!("{id}: transaction messages left undelivered");
        progress.failed.fetch_add(1, Ordering::Relaxed);
    }
    progress
        .errors
        .fetch_add(station.errors(), Ordering::Relaxed);
    station.shutdown().await;
}

fn show_progress(
    progress: &Progress,
    stations: u32,
    total: u32,
    began: Instant,
    tty: bool,
    last: bool,
) {
    let line = format!(
        "demo: {}/{stations} stations accepted, {}/{total} sessions, {:.1} s",
        progress.accepted.load(Ordering::Relaxed),
        progress.sessions.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );
    if tty {
        eprint!("\r\x1b[2K{line}");
        if last {
            eprintln!();
        }
    } else {
        eprintln!("{line}");
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// p50, p99 and max of sorted samples (nearest-rank percentiles).
fn latency_line(samples: &[Duration]) -> String {
    let Some(max) = samples.last() else {
        return "no calls answered".to_owned();
    };
    let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).max(1) - 1];
    format!(
        "p50 {}, p99 {}, max {} ({} calls)",
        millis(rank(50)),
        millis(rank(99)),
        millis(*max),
        samples.len()
    )
}
