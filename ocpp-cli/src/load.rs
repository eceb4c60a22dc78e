//! `ocpp load`: N simulated OCPP 1.6 stations against any central system, and what it took.
//!
//! Each station is one task that owns its WebSocket and a bare RPC [`Endpoint`]: no Charge
//! Point role and no store, so the load tool spends its time on the OCPP-J framing, the
//! schema check of every answer and the matching of answers to calls, not on what a real
//! station would persist. That keeps it well below the cost of the central system it drives,
//! and it works against any central system: only the wire is shared.
//!
//! A run has three phases:
//!
//! 1. **connect and boot**: every station opens its connection (all at once, or ramped at
//!    `--rate` connects per second) and sends a BootNotification;
//! 2. once every station has been answered (or has failed), the **measured phase**: for
//!    `--duration` seconds each accepted station does round trips back to back (mode
//!    `round-trips`), or stays connected and silent (mode `idle`, for memory figures); mode
//!    `boot-storm` has no second phase, its figure is the time until the last boot answer;
//! 3. every station closes its connection (1000).
//!
//! Stations stay connected until every station has finished the measured phase, so the
//! central system holds all of them throughout. With `--server-pid` the tool samples the
//! central system's CPU time and resident memory from `/proc` at the phase boundaries: CPU
//! per round trip and memory per connected station come out of one run.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::{CallFailure, CallHandle, CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::{ErrorCode, Version, v16};
use ocpp_io::Runtime;
use ocpp_io::client::ClientStream;
use ocpp_io::tungstenite::Message;
use ocpp_io::tungstenite::protocol::CloseFrame;
use ocpp_io::tungstenite::protocol::frame::coding::CloseCode;
use ocpp_io_tokio::{ClientConfig, Tokio, TokioConnector};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::output::Out;

/// What the stations do once they are connected and booted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Round trips back to back for --duration seconds.
    RoundTrips,
    /// Every station connects and boots at once; the figure is the time until the last
    /// BootNotification is answered.
    BootStorm,
    /// Stay connected without traffic for --duration seconds (memory measurements).
    Idle,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::RoundTrips => "round-trips",
            Mode::BootStorm => "boot-storm",
            Mode::Idle => "idle",
        }
    }
}

/// A request a station sends in the round-trip phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Call {
    /// `Heartbeat {}`.
    Heartbeat,
    /// `Authorize` of the id tag LOAD-TAG.
    Authorize,
    /// `StatusNotification` of connector 1: Available, NoError.
    StatusNotification,
    /// `MeterValues` of connector 1: one energy reading.
    MeterValues,
}

impl Call {
    fn action(self) -> v16::Action {
        match self {
            Call::Heartbeat => v16::Action::Heartbeat,
            Call::Authorize => v16::Action::Authorize,
            Call::StatusNotification => v16::Action::StatusNotification,
            Call::MeterValues => v16::Action::MeterValues,
        }
    }

    fn payload(self, round: u64) -> Value {
        match self {
            Call::Heartbeat => json!({}),
            Call::Authorize => json!({"idTag": "LOAD-TAG"}),
            Call::StatusNotification => {
                json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"})
            }
            Call::MeterValues => json!({
                "connectorId": 1,
                "meterValue": [{
                    "timestamp": ocpp_core::primitives::datetime::format(
                        time::OffsetDateTime::now_utc()
                    ),
                    "sampledValue": [{"value": round.to_string()}]
                }]
            }),
        }
    }
}

/// The arguments of `ocpp load`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The central system's OCPP-J endpoint (ws://HOST:PORT[/PATH]); each station connects to
    /// URL/ID.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Number of simulated stations.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=60_000))]
    stations: u32,
    /// What the stations do once booted.
    #[arg(long, value_enum, default_value_t = Mode::RoundTrips)]
    mode: Mode,
    /// Length of the measured phase in seconds (round trips, or the idle hold).
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Ramp the connections up at R connects per second instead of opening all at once.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rate: Option<f64>,
    /// The requests of the round-trip phase, comma-separated; each station cycles through
    /// them.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "heartbeat")]
    calls: Vec<Call>,
    /// Stop the round-trip phase after this many round trips over all stations (or at the
    /// end of --duration, whichever comes first).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    round_trips: Option<u64>,
    /// Each station pauses this long between two round trips (milliseconds) instead of
    /// sending the next at once.
    #[arg(long, value_name = "MS")]
    interval: Option<u64>,
    /// Bound on a connection attempt and on each answer, in seconds.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    timeout: Duration,
    /// Station ids are PREFIX followed by a five-digit number.
    #[arg(long, value_name = "PREFIX", default_value = "LOAD-")]
    id_prefix: String,
    /// The central system's process id (Linux): report its CPU time per round trip and its
    /// resident memory per connected station, sampled from /proc.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the report as one JSON object instead of the human summary.
    #[arg(long)]
    json: bool,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.0..=1e6).contains(&seconds) {
        return Err(format!("{text} is not between 0 and 1000000 seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of connects per second"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!(
            "{text} is not a positive number of connects per second"
        ));
    }
    Ok(rate)
}

/// Counts arrivals and wakes the one waiter when the last of `target` has arrived.
struct Gate {
    arrived: AtomicU32,
    target: u32,
    notify: Notify,
}

impl Gate {
    fn new(target: u32) -> Gate {
        Gate {
            arrived: AtomicU32::new(0),
            target,
            notify: Notify::new(),
        }
    }

    fn arrive(&self) {
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            // The permit is kept if the waiter is not waiting yet.
            self.notify.notify_one();
        }
    }

    async fn wait(&self) {
        if self.arrived.load(Ordering::Acquire) < self.target {
            self.notify.notified().await;
        }
    }
}

/// What every station shares with the run.
struct Plan {
    url: String,
    id_prefix: String,
    mode: Mode,
    calls: Vec<Call>,
    timeout: Duration,
    interval: Option<Duration>,
    rate: Option<f64>,
    round_trip_cap: u64,
    start: Instant,
    runtime: Tokio,
    claimed: AtomicU64,
    /// Every station has been answered its BootNotification or has failed.
    settled: Gate,
    /// Every station has finished the measured phase.
    finished: Gate,
    /// The end of the measured phase, once it has begun.
    phase: watch::Sender<Option<Instant>>,
    /// The run is over: close the connections.
    closing: watch::Sender<bool>,
}

impl Plan {
    /// Takes one round trip of the cap; false when the cap is used up.
    fn claim(&self) -> bool {
        self.claimed.fetch_add(1, Ordering::Relaxed) < self.round_trip_cap
    }
}

/// How a call went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ErrorKind {
    ConnectFailed,
    BootNotAccepted,
    CallError,
    Timeout,
    InvalidAnswer,
    Disconnected,
    ProtocolError,
}

impl ErrorKind {
    const ALL: [ErrorKind; 7] = [
        ErrorKind::ConnectFailed,
        ErrorKind::BootNotAccepted,
        ErrorKind::CallError,
        ErrorKind::Timeout,
        ErrorKind::InvalidAnswer,
        ErrorKind::Disconnected,
        ErrorKind::ProtocolError,
    ];

    fn key(self) -> &'static str {
        match self {
            ErrorKind::ConnectFailed => "connect_failures",
            ErrorKind::BootNotAccepted => "boots_not_accepted",
            ErrorKind::CallError => "call_errors",
            ErrorKind::Timeout => "timeouts",
            ErrorKind::InvalidAnswer => "invalid_answers",
            ErrorKind::Disconnected => "disconnects",
            ErrorKind::ProtocolError => "protocol_errors",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ErrorKind::ConnectFailed => "connect failures",
            ErrorKind::BootNotAccepted => "boots not accepted",
            ErrorKind::CallError => "CallErrors",
            ErrorKind::Timeout => "timeouts",
            ErrorKind::InvalidAnswer => "invalid answers",
            ErrorKind::Disconnected => "disconnects",
            ErrorKind::ProtocolError => "protocol errors",
        }
    }
}

/// What one station saw.
#[derive(Debug, Default)]
struct StationReport {
    connected_at: Option<Instant>,
    booted_at: Option<Instant>,
    /// Round-trip latencies, microseconds.
    latencies: Vec<u32>,
    /// Calls of the central system (answered NotSupported).
    server_calls: u64,
    errors: BTreeMap<ErrorKind, (u64, String)>,
}

impl StationReport {
    fn error(&mut self, kind: ErrorKind, message: impl FnOnce() -> String) {
        self.errors
            .entry(kind)
            .and_modify(|(count, _)| *count += 1)
            .or_insert_with(|| (1, message()));
    }

    fn failure(&mut self, action: v16::Action, failure: &CallFailure) {
        match failure {
            CallFailure::Timeout => self.error(ErrorKind::Timeout, || {
                format!("{action}: no answer in time")
            }),
            CallFailure::CallError(error) => self.error(ErrorKind::CallError, || {
                format!("{action}: CallError {} {:?}", error.code, error.description)
            }),
            CallFailure::InvalidResponse { description, .. } => {
                self.error(ErrorKind::InvalidAnswer, || {
                    format!("{action}: invalid answer: {description}")
                });
            }
            CallFailure::MalformedResponse(error) => self.error(ErrorKind::InvalidAnswer, || {
                format!("{action}: malformed answer: {error}")
            }),
            CallFailure::Disconnected => self.error(ErrorKind::Disconnected, || {
                format!("{action}: disconnected before the answer")
            }),
            // A kind of failure the RPC layer may add later.
            other => self.error(ErrorKind::ProtocolError, || {
                format!("{action}: the call failed: {other:?}")
            }),
        }
    }
}

type Socket = ocpp_io::WsStream<ClientStream<TokioConnector>>;

/// One connected station: its socket and its RPC endpoint.
struct Station {
    ws: Socket,
    endpoint: Endpoint,
    runtime: Tokio,
    report: StationReport,
}

/// The connection is gone (the text says why).
struct Lost(String);

impl Station {
    /// Applies the endpoint's outputs: sends its frames, answers the central system's calls,
    /// and returns the outcome of call `want` if it has come.
    async fn pump(
        &mut self,
        want: Option<CallHandle>,
    ) -> Result<Option<Result<Value, CallFailure>>, Lost> {
        let mut outcome = None;
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit(text) => self
                    .ws
                    .send(Message::text(text))
                    .await
                    .map_err(|e| Lost(format!("sending failed: {e}")))?,
                Output::Event(RpcEvent::Completed {
                    handle,
                    outcome: result,
                    ..
                }) if Some(handle) == want => outcome = Some(result),
                Output::Event(RpcEvent::Call(call)) => {
                    self.report.server_calls += 1;
                    // Answered, not ignored: the central system must not wait for it.
                    let _ = self.endpoint.respond_error(
                        self.runtime.now(),
                        &call.id,
                        ErrorCode::NotSupported,
                        "a load-test station answers no calls",
                        None,
                    );
                }
                Output::Event(RpcEvent::PeerError { error, .. }) => {
                    self.report.error(ErrorKind::ProtocolError, || {
                        format!("the central system sent something wrong: {error:?}")
                    });
                }
                Output::Event(_) | Output::Persist(_) | Output::Close(_) => {}
            }
        }
        Ok(outcome)
    }

    /// Reads one message and hands it to the endpoint.
    async fn read(&mut self) -> Result<(), Lost> {
        match self.ws.next().await {
            Some(Ok(Message::Text(text))) => {
                // Driven as a bare machine: a call of the central system is held and reported,
                // and `pump` answers it.
                Machine::handle_message(&mut self.endpoint, self.runtime.now(), text.as_str());
                Ok(())
            }
            Some(Ok(Message::Close(frame))) => Err(Lost(match frame {
                Some(frame) => format!(
                    "closed by the central system: {} {}",
                    u16::from(frame.code),
                    frame.reason
                ),
                None => "closed by the central system".to_owned(),
            })),
            // Pings are answered by tungstenite; pongs and binary messages mean nothing here.
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(Lost(e.to_string())),
            None => Err(Lost("the connection closed".to_owned())),
        }
    }

    /// One call and its outcome (`Err` when the connection is gone).
    async fn call(
        &mut self,
        action: v16::Action,
        payload: Value,
    ) -> Result<Result<Value, CallFailure>, Lost> {
        let handle = self
            .endpoint
            .call(self.runtime.now(), action, payload)
            .map_err(|e| Lost(format!("{action} not sent: {e}")))?;
        if let Some(outcome) = self.pump(Some(handle)).await? {
            return Ok(outcome);
        }
        // One call at a time: its deadline is the endpoint's only one.
        let deadline = self.endpoint.poll_timeout();
        let mut timer = deadline.map(|d| (d, self.runtime.sleep_until(d)));
        loop {
            let expired = match timer.as_mut() {
                Some((deadline, sleep)) => tokio::select! {
                    read = self.read() => { read?; None }
                    () = sleep => Some(*deadline),
                },
                None => {
                    self.read().await?;
                    None
                }
            };
            if let Some(deadline) = expired {
                let mut now = self.runtime.now();
                now.monotonic = now.monotonic.max(deadline);
                self.endpoint.handle_timeout(now);
                timer = None;
            }
            if let Some(outcome) = self.pump(Some(handle)).await? {
                return Ok(outcome);
            }
        }
    }

    /// Keeps the connection served (pings, calls of the central system) until `until`
    /// completes.
    async fn hold<F: Future>(&mut self, until: F) -> Result<F::Output, Lost> {
        let mut until = pin!(until);
        loop {
            tokio::select! {
                output = &mut until => return Ok(output),
                read = self.read() => {
                    read?;
                    self.pump(None).await?;
                }
            }
        }
    }

    /// Closes the connection (1000) and waits, bounded, for the central system's close.
    async fn close(mut self) -> StationReport {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "load test done".into(),
        };
        let closing = async {
            if self.ws.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = self.ws.next().await {}
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
        self.report
    }
}

/// Which gates a station has passed; each is passed exactly once, whatever happens.
#[derive(Default)]
struct Arrivals {
    settled: bool,
    finished: bool,
}

impl Arrivals {
    fn settle(&mut self, plan: &Plan) {
        if !std::mem::replace(&mut self.settled, true) {
            plan.settled.arrive();
        }
    }

    fn finish(&mut self, plan: &Plan) {
        self.settle(plan);
        if !std::mem::replace(&mut self.finished, true) {
            plan.finished.arrive();
        }
    }
}

/// One station from its connection to its close.
async fn station(index: u32, plan: Arc<Plan>) -> StationReport {
    if let Some(rate) = plan.rate {
        let offset = Duration::from_secs_f64(f64::from(index) / rate);
        tokio::time::sleep_until((plan.start + offset).into()).await;
    }
    let mut arrivals = Arrivals::default();
    let mut config = ClientConfig::new(
        plan.url.as_str(),
        format!("{}{index:05}", plan.id_prefix),
        [Version::V16],
    );
    config.connect_timeout = plan.timeout;
    let mut report = StationReport::default();
    let ws = match ocpp_io::client::connect(&plan.runtime, &TokioConnector, &config).await {
        Ok((ws, _)) => ws,
        Err(error) => {
            report.error(ErrorKind::ConnectFailed, || error.to_string());
            arrivals.finish(&plan);
            return report;
        }
    };
    report.connected_at = Some(Instant::now());
    let mut endpoint_config = EndpointConfig::v16();
    endpoint_config.call_timeout = plan.timeout;
    // What the tool sends is built here and valid; what it receives is checked.
    endpoint_config.validate_sent = false;
    let mut endpoint = Endpoint::new(endpoint_config, Box::new(CounterIds::default()));
    endpoint.handle_connected(plan.runtime.now());
    let mut station = Station {
        ws,
        endpoint,
        runtime: plan.runtime.clone(),
        report,
    };
    let outcome = run_station(&mut station, index, &plan, &mut arrivals).await;
    arrivals.finish(&plan);
    if let Err(Lost(reason)) = outcome {
        station.report.error(ErrorKind::Disconnected, || reason);
    }
    station.close().await
}

/// Boot, the measured phase, and the wait until every station is done.
async fn run_station(
    station: &mut Station,
    index: u32,
    plan: &Plan,
    arrivals: &mut Arrivals,
) -> Result<(), Lost> {
    let boot = json!({
        "chargePointVendor": "ocpp-rs",
        "chargePointModel": "ocpp load",
        "chargePointSerialNumber": format!("{}{index:05}", plan.id_prefix)
            .chars()
            .take(25)
            .collect::<String>(),
    });
    let accepted = match station.call(v16::Action::BootNotification, boot).await? {
        Ok(answer) => match answer.get("status").and_then(Value::as_str) {
            Some("Accepted") => {
                station.report.booted_at = Some(Instant::now());
                true
            }
            status => {
                let status = status.unwrap_or("?").to_owned();
                station.report.error(ErrorKind::BootNotAccepted, || {
                    format!("BootNotification answered {status}")
                });
                false
            }
        },
        Err(failure) => {
            station
                .report
                .failure(v16::Action::BootNotification, &failure);
            false
        }
    };
    arrivals.settle(plan);
    if !accepted {
        return Ok(());
    }
    let mut phase = plan.phase.subscribe();
    let end = station
        .hold(async move {
            phase
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|end| *end)
        })
        .await?;
    let Some(end) = end else {
        return Ok(());
    };
    match plan.mode {
        Mode::RoundTrips => round_trips(station, index, plan, end).await?,
        Mode::Idle => station.hold(tokio::time::sleep_until(end.into())).await?,
        Mode::BootStorm => {}
    }
    arrivals.finish(plan);
    let mut closing = plan.closing.subscribe();
    station
        .hold(async move {
            let _ = closing.wait_for(|closing| *closing).await;
        })
        .await
}

/// Round trips until `end` or until the cap is used up.
async fn round_trips(
    station: &mut Station,
    index: u32,
    plan: &Plan,
    end: Instant,
) -> Result<(), Lost> {
    // Stations start at different places of the cycle, so every request type is in flight.
    let mut round = u64::from(index);
    while Instant::now() < end && plan.claim() {
        let call = plan.calls[usize::try_from(round % plan.calls.len() as u64).unwrap_or(0)];
        let sent = Instant::now();
        match station.call(call.action(), call.payload(round)).await? {
            Ok(_) => {
                let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                station.report.latencies.push(micros);
            }
            Err(failure) => station.report.failure(call.action(), &failure),
        }
        round += 1;
        if let Some(interval) = plan.interval {
            let next = (Instant::now() + interval).min(end);
            station.hold(tokio::time::sleep_until(next.into())).await?;
        }
    }
    Ok(())
}

/// CPU time and resident memory of a process, from `/proc`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    cpu: Duration,
    rss_kib: u64,
}

/// Reads `/proc/PID/stat` (utime + stime) and `/proc/PID/status` (VmRSS).
fn sample(pid: &str) -> Result<Sample, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name may hold spaces and parentheses; the fields after the last ')' do not.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
    // Fields 14 and 15 of proc(5); `fields` starts at field 3.
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(format!("/proc/{pid}/stat has no utime and stime"));
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("/proc/{pid}/status has no VmRSS"))?;
    // The kernel reports CPU times in USER_HZ, 100 per second on every Linux ABI.
    Ok(Sample {
        cpu: Duration::from_millis((utime + stime) * 10),
        rss_kib,
    })
}

/// Samples at the start, when every station has settled, and at the end of the phase.
#[derive(Debug, Clone, Copy)]
struct Samples {
    start: Sample,
    settled: Sample,
    finished: Sample,
}

/// Everything `ocpp load` found out.
struct Report {
    mode: Mode,
    url: String,
    stations: u32,
    connected: u64,
    booted: u64,
    /// From the first connection attempt to the last connection.
    connect_time: Option<Duration>,
    /// From the first connection attempt to the last accepted BootNotification.
    boot_time: Option<Duration>,
    /// From the end of the boots to the end of the last station's measured phase.
    phase_time: Duration,
    /// Sorted round-trip latencies, microseconds.
    latencies: Vec<u32>,
    errors: BTreeMap<ErrorKind, (u64, String)>,
    server_calls: u64,
    server: Option<(u32, Samples)>,
    own: Option<Samples>,
}

impl Report {
    fn error_total(&self) -> u64 {
        self.errors.values().map(|(count, _)| count).sum()
    }

    fn round_trips(&self) -> u64 {
        self.latencies.len() as u64
    }

    fn per_second(&self, count: u64, time: Option<Duration>) -> Option<f64> {
        let seconds = time?.as_secs_f64();
        (seconds > 0.0).then(|| count as f64 / seconds)
    }

    /// CPU microseconds per round trip in the measured phase.
    fn cpu_per_round_trip(&self, samples: &Samples) -> Option<f64> {
        let cpu = samples.finished.cpu.saturating_sub(samples.settled.cpu);
        (self.round_trips() > 0).then(|| cpu.as_secs_f64() * 1e6 / self.round_trips() as f64)
    }

    /// Resident memory per booted station, bytes: the growth from the start to the end of
    /// the phase.
    fn rss_per_station(&self, samples: &Samples) -> Option<f64> {
        let grown = samples
            .finished
            .rss_kib
            .saturating_sub(samples.start.rss_kib);
        (self.booted > 0).then(|| grown as f64 * 1024.0 / self.booted as f64)
    }

    /// Nearest-rank percentile, milliseconds.
    fn percentile(&self, p: usize) -> Option<f64> {
        let n = self.latencies.len();
        let rank = (n * p).div_ceil(100).max(1) - 1;
        self.latencies.get(rank).map(|&us| f64::from(us) / 1000.0)
    }

    fn json(&self) -> Value {
        let mut errors = serde_json::Map::new();
        errors.insert("total".to_owned(), json!(self.error_total()));
        for kind in ErrorKind::ALL {
            let count = self.errors.get(&kind).map_or(0, |(count, _)| *count);
            errors.insert(kind.key().to_owned(), json!(count));
        }
        let latency = (!self.latencies.is_empty()).then(|| {
            json!({
                "p50": self.percentile(50),
                "p99": self.percentile(99),
                "max": self.percentile(100),
            })
        });
        let server = self.server.map(|(pid, samples)| {
            json!({
                "pid": pid,
                "cpu_seconds_boot": (samples.settled.cpu.saturating_sub(samples.start.cpu)).as_secs_f64(),
                "cpu_seconds_phase": (samples.finished.cpu.saturating_sub(samples.settled.cpu)).as_secs_f64(),
                "cpu_us_per_round_trip": self.cpu_per_round_trip(&samples),
                "rss_kib_start": samples.start.rss_kib,
                "rss_kib_end": samples.finished.rss_kib,
                "rss_bytes_per_station": self.rss_per_station(&samples),
            })
        });
        let own = self.own.map(|samples| {
            json!({
                "cpu_seconds_phase": (samples.finished.cpu.saturating_sub(samples.settled.cpu)).as_secs_f64(),
                "cpu_us_per_round_trip": self.cpu_per_round_trip(&samples),
            })
        });
        json!({
            "mode": self.mode.name(),
            "url": self.url,
            "stations": self.stations,
            "connected": self.connected,
            "booted": self.booted,
            "connect_seconds": self.connect_time.map(|t| t.as_secs_f64()),
            "connects_per_second": self.per_second(self.connected, self.connect_time),
            "boot_seconds": self.boot_time.map(|t| t.as_secs_f64()),
            "phase_seconds": self.phase_time.as_secs_f64(),
            "round_trips": self.round_trips(),
            "round_trips_per_second": self.per_second(self.round_trips(), Some(self.phase_time)),
            "latency_ms": latency,
            "errors": errors,
            "server_calls": self.server_calls,
            "server": server,
            "load_tool": own,
        })
    }

    fn lines(&self) -> Vec<String> {
        let seconds =
            |t: Option<Duration>| t.map_or("-".to_owned(), |t| format!("{:.3} s", t.as_secs_f64()));
        let rate = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.1}/s"));
        let mut lines = vec![
            format!("mode                {}", self.mode.name()),
            format!(
                "stations            {} ({} connected, {} booted)",
                self.stations, self.connected, self.booted
            ),
            format!(
                "connects            {} in {} ({})",
                self.connected,
                seconds(self.connect_time),
                rate(self.per_second(self.connected, self.connect_time))
            ),
            format!(
                "boots answered      {} of {} after {}",
                self.booted,
                self.stations,
                seconds(self.boot_time)
            ),
        ];
        if self.mode == Mode::RoundTrips {
            lines.push(format!(
                "round trips         {} in {} ({})",
                self.round_trips(),
                seconds(Some(self.phase_time)),
                rate(self.per_second(self.round_trips(), Some(self.phase_time)))
            ));
            lines.push(format!(
                "latency             {}",
                match (
                    self.percentile(50),
                    self.percentile(99),
                    self.percentile(100)
                ) {
                    (Some(p50), Some(p99), Some(max)) =>
                        format!("p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms"),
                    _ => "no round trips".to_owned(),
                }
            ));
        }
        let details: Vec<String> = ErrorKind::ALL
            .iter()
            .filter_map(|kind| {
                let (count, _) = self.errors.get(kind)?;
                Some(format!("{count} {}", kind.label()))
            })
            .collect();
        lines.push(if details.is_empty() {
            "errors              0".to_owned()
        } else {
            format!(
                "errors              {} ({})",
                self.error_total(),
                details.join(", ")
            )
        });
        if self.server_calls > 0 {
            lines.push(format!(
                "server calls        {} (answered NotSupported)",
                self.server_calls
            ));
        }
        if let Some((pid, samples)) = self.server {
            let cpu = samples.finished.cpu.saturating_sub(samples.settled.cpu);
            let mut line = format!(
                "server CPU          {:.2} s in the phase (pid {pid})",
                cpu.as_secs_f64()
            );
            if let Some(us) = self.cpu_per_round_trip(&samples) {
                line.push_str(&format!(", {us:.1} us per round trip"));
            }
            lines.push(line);
            let mut line = format!(
                "server RSS          {} KiB at the start, {} KiB at the end",
                samples.start.rss_kib, samples.finished.rss_kib
            );
            if let Some(bytes) = self.rss_per_station(&samples) {
                line.push_str(&format!(", {:.2} KiB per booted station", bytes / 1024.0));
            }
            lines.push(line);
        }
        if let Some(samples) = self.own
            && let Some(us) = self.cpu_per_round_trip(&samples)
        {
            lines.push(format!("load tool           CPU {us:.1} us per round trip"));
        }
        lines
    }
}

/// Runs `ocpp load`.
pub(crate) fn run(args: &Args, out: &mut Out) -> ExitCode {
    match crate::runtime().and_then(|runtime| runtime.block_on(load(args))) {
        Ok(report) => {
            for (kind, (count, message)) in &report.errors {
                eprintln!("{} ({count}), first: {message}", kind.label());
            }
            if args.json {
                out.line(&report.json().to_string());
            } else {
                for line in report.lines() {
                    out.line(&line);
                }
            }
            out.flush();
            if report.error_total() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn own_sample() -> Option<Sample> {
    sample("self").ok()
}

async fn load(args: &Args) -> Result<Report, String> {
    if args.mode == Mode::BootStorm && args.rate.is_some() {
        return Err(
            "--rate ramps the connections up; a boot storm opens them all at once".to_owned(),
        );
    }
    if args.calls.is_empty() {
        return Err("--calls needs at least one request".to_owned());
    }
    // Settings that cannot work fail here, once, not in every station.
    let probe = ClientConfig::new(
        args.url.as_str(),
        format!("{}00000", args.id_prefix),
        [Version::V16],
    );
    probe.validate().map_err(|e| e.to_string())?;
    let server_pid = args.server_pid.map(|pid| pid.to_string());
    let server_sample = || server_pid.as_deref().map(sample).transpose();
    let server_start = server_sample()?;
    let own_start = own_sample();

    let plan = Arc::new(Plan {
        url: args.url.clone(),
        id_prefix: args.id_prefix.clone(),
        mode: args.mode,
        calls: args.calls.clone(),
        timeout: args.timeout,
        interval: args.interval.map(Duration::from_millis),
        rate: args.rate,
        round_trip_cap: args.round_trips.unwrap_or(u64::MAX),
        start: Instant::now(),
        runtime: Tokio::new(),
        claimed: AtomicU64::new(0),
        settled: Gate::new(args.stations),
        finished: Gate::new(args.stations),
        phase: watch::channel(None).0,
        closing: watch::channel(false).0,
    });
    eprintln!(
        "load: {} stations connecting to {}{}",
        args.stations,
        args.url,
        args.rate
            .map(|rate| format!(" at {rate} per second"))
            .unwrap_or_default()
    );
    let tasks: Vec<_> = (0..args.stations)
        .map(|index| tokio::spawn(station(index, plan.clone())))
        .collect();

    plan.settled.wait().await;
    let settled_at = Instant::now();
    let server_settled = server_sample()?;
    let own_settled = own_sample();
    let hold = match args.mode {
        Mode::BootStorm => Duration::ZERO,
        Mode::RoundTrips | Mode::Idle => args.duration,
    };
    eprintln!(
        "load: every station answered or failed after {:.3} s; {} for {:.1} s",
        plan.start.elapsed().as_secs_f64(),
        args.mode.name(),
        hold.as_secs_f64()
    );
    plan.phase.send_replace(Some(settled_at + hold));
    plan.finished.wait().await;
    let phase_time = settled_at.elapsed();
    let server_finished = server_sample()?;
    let own_finished = own_sample();
    plan.closing.send_replace(true);

    let mut report = Report {
        mode: args.mode,
        url: args.url.clone(),
        stations: args.stations,
        connected: 0,
        booted: 0,
        connect_time: None,
        boot_time: None,
        phase_time,
        latencies: Vec::new(),
        errors: BTreeMap::new(),
        server_calls: 0,
        server: None,
        own: None,
    };
    for task in tasks {
        let station = task
            .await
            .map_err(|e| format!("a station task failed: {e}"))?;
        let since_start = |at: Instant| at.saturating_duration_since(plan.start);
        if let Some(at) = station.connected_at {
            report.connected += 1;
            report.connect_time = report.connect_time.max(Some(since_start(at)));
        }
        if let Some(at) = station.booted_at {
            report.booted += 1;
            report.boot_time = report.boot_time.max(Some(since_start(at)));
        }
        report.latencies.extend_from_slice(&station.latencies);
        report.server_calls += station.server_calls;
        for (kind, (count, message)) in station.errors {
            report
                .errors
                .entry(kind)
                .and_modify(|(total, _)| *total += count)
                .or_insert((count, message));
        }
    }
    report.latencies.sort_unstable();
    if report.connected == 0 {
        let reason = report
            .errors
            .get(&ErrorKind::ConnectFailed)
            .map_or("", |(_, message)| message.as_str());
        return Err(format!(
            "no station could connect to {}: {reason}",
            args.url
        ));
    }
    if let (Some(pid), Some(start), Some(settled), Some(finished)) = (
        args.server_pid,
        server_start,
        server_settled,
        server_finished,
    ) {
        report.server = Some((
            pid,
            Samples {
                start,
                settled,
                finished,
            },
        ));
    }
    if let (Some(start), Some(settled), Some(finished)) = (own_start, own_settled, own_finished) {
        report.own = Some(Samples {
            start,
            settled,
            finished,
        });
    }
    Ok(report)
}
