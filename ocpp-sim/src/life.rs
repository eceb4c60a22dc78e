//! One life of a station, from power-on to power-off: its store opened, the Charge Point
//! machine rebuilt from it, connecting, and the task that routes the machine's events.
//!
//! The store is written synchronously by ocpp-io's driver (it calls the `Persister` inline,
//! on the runtime's worker): a redb commit takes about 0.3 ms on a fast disk and a few
//! milliseconds on a busy one, which a simulator can afford; the demo's call latencies
//! include these commits on both sides. Besides the role's records the file holds the
//! simulated hardware's energy registers, so that a meter never runs backwards across a
//! restart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use ocpp_core::Version;
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::firmware::TransferOutcome;
use ocpp_core::charge_point::metering::Reading;
use ocpp_core::charge_point::{
    ChargePoint, ChargePointError, ChargePointSetup, Completion, Event as CpEvent,
    IdTagAtTransaction, Reply,
};
use ocpp_core::persist::StoreOp;
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::time::Now;
use ocpp_core::trace::{Recorder, StoredSnapshot, TraceSink};
use ocpp_core::v16::{
    BootNotificationRequest, DataTransferResponse, DataTransferStatus, IdTagInfo, Measurand,
    RegistrationStatus,
};
use ocpp_io_tokio::trace::{FileSink, SinkError};
use ocpp_io_tokio::{Awaiting, ClientConfig, ConnectError, Event, Events, Handle, PersistError};
use ocpp_store::{RecordStore, RedbStore};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::StationConfig;
use crate::error::SimError;
use crate::state::StationEvent;

/// The machine a simulated station runs: the 1.6 Charge Point, recorded (a trace when asked
/// for), its commands' outcomes handed to their waiters.
pub type StationMachine = Awaiting<Recorder<ChargePoint>>;

/// The handle of a running station's machine.
pub type StationHandle = Handle<StationMachine>;

/// The simulated hardware's energy registers: connector (zero-padded) -> Wh.
const METER_COLLECTION: &str = "sim.meter";

/// How long closing waits for the connection and the event routing to end.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Where the connection of the station's current life stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    Connecting,
    Accepted,
    /// The first connection failed, or the client ended: why.
    Failed(String),
}

/// A request of the central system that the station's hardware decides (remote start and
/// stop, reset, unlock, a driver given up), from the machine of life `life`.
pub(crate) struct Request {
    pub(crate) life: u64,
    pub(crate) event: CpEvent,
}

/// What the lives of a station report to the station, which outlives them.
pub(crate) struct Signals {
    pub(crate) id: String,
    pub(crate) verbose: bool,
    pub(crate) link: watch::Sender<Link>,
    /// Whether the current life has a WebSocket connection now.
    pub(crate) connected: AtomicBool,
    /// The number of the life now running; 0 while the station is off.
    pub(crate) current: AtomicU64,
    /// Errors seen so far: failed calls, refused id tags, unanswered requests, failed sessions.
    pub(crate) errors: AtomicU64,
    pub(crate) events: broadcast::Sender<StationEvent>,
    pub(crate) requests: mpsc::UnboundedSender<Request>,
}

impl Signals {
    pub(crate) fn note(&self, line: std::fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("{}: {line}", self.id);
        }
    }

    pub(crate) fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Tells the subscribers, if any (an event nobody listens to is not even built).
    pub(crate) fn publish(&self, event: impl FnOnce() -> StationEvent) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(event());
        }
    }

    fn is_current(&self, life: u64) -> bool {
        self.current.load(Ordering::Relaxed) == life
    }
}

/// One life of the station.
pub(crate) struct Life {
    pub(crate) number: u64,
    pub(crate) handle: StationHandle,
    /// `None` once closed: the file is free for the next life even while a task still holds
    /// this one.
    store: Arc<Mutex<Option<RedbStore>>>,
    /// Each connector's energy register, Wh (also in the store).
    meters: Mutex<BTreeMap<u32, i32>>,
    /// The client's end.
    done: Mutex<Option<BoxFuture<'static, Option<StationMachine>>>>,
    /// The task routing the machine's events.
    router: Mutex<Option<JoinHandle<()>>>,
    /// Where the trace file's first write error is, when recording.
    trace_error: Option<SinkError>,
    /// How long a wait for an answer of the central system lasts: the call timeout, and a
    /// second for the event to come through.
    answer_wait: Duration,
}

/// [`SimError::NoAnswer`].
fn no_answer(action: &'static str, why: impl Into<String>) -> SimError {
    SimError::NoAnswer {
        action,
        why: why.into(),
    }
}

fn boot_request(id: &str) -> BootNotificationRequest {
    let mut boot = BootNotificationRequest::new("ocpp-rs", "ocpp cp simulator");
    boot.charge_point_serial_number = Some(id.chars().take(25).collect());
    boot.firmware_version = Some(env!("CARGO_PKG_VERSION").into());
    boot
}

fn meter_key(connector: u32) -> String {
    format!("{connector:04}")
}

/// The simulated meter as the readings the stack samples: its energy register, in Wh.
pub(crate) fn energy_register(meter_wh: i32) -> Vec<Reading> {
    vec![Reading::raw(
        Measurand::EnergyActiveImportRegister,
        meter_wh,
    )]
}

/// The machine's setup: the simulator's keys, then the presets.
fn setup(config: &StationConfig) -> Result<ChargePointSetup, SimError> {
    let profile = config.security.profile().number().to_string();
    let mut setup = ChargePointSetup::new(boot_request(&config.id))
        .key(
            StandardKey::NumberOfConnectors,
            &config.connectors.to_string(),
        )
        .key(StandardKey::TransactionMessageRetryInterval, "1")
        .key(StandardKey::SecurityProfile, &profile);
    for (key, value) in &config.configuration {
        let derived = [
            StandardKey::NumberOfConnectors,
            StandardKey::SecurityProfile,
        ];
        if derived.iter().any(|k| k.name().eq_ignore_ascii_case(key)) {
            return Err(SimError::Start(format!(
                "{key} follows from the station's connectors and security; it cannot be preset"
            )));
        }
        setup.keys.insert(key.clone(), value.clone());
    }
    setup
        .config()
        .map_err(|e| SimError::Start(format!("configuration preset: {e}")))?;
    setup.call_timeout_ms = u64::try_from(config.call_timeout.as_millis()).unwrap_or(u64::MAX);
    setup.boot_retry_ms = 5_000;
    Ok(setup)
}

impl Life {
    /// Opens the store, rebuilds the machine and starts connecting to `url`.
    ///
    /// # Errors
    ///
    /// [`SimError::Start`]: the store's error text (locked, not a database, corrupt, ...),
    /// a trace file that cannot be created, a record the machine cannot restore, a preset
    /// that does not fit, or settings that do not fit together (the URL scheme and the
    /// security profile).
    pub(crate) fn start(
        config: &StationConfig,
        url: &str,
        number: u64,
        signals: Arc<Signals>,
    ) -> Result<Life, SimError> {
        let start = |e: String| SimError::Start(e);
        let store = RedbStore::open(&config.store).map_err(|e| start(e.to_string()))?;
        let (trace, trace_error) = match &config.trace {
            Some(paths) => {
                let path = paths.next();
                let sink = FileSink::create(&path)
                    .map_err(|e| start(format!("cannot create {}: {e}", path.display())))?;
                let error = sink.error();
                (Some(Box::new(sink) as Box<dyn TraceSink>), Some(error))
            }
            None => (None, None),
        };
        let snapshot = store.load().map_err(|e| start(e.to_string()))?;
        // Built from a setup, which a trace can carry, so that a recorded run replays.
        let mut setup = setup(config)?;
        setup.snapshot = StoredSnapshot::of(&snapshot);
        let machine = Recorder::new(&setup, Box::new(UuidV4Ids), trace)
            .map_err(|e| start(format!("store {}: {e}", config.store.display())))?;
        let meters = (1..=config.connectors)
            .map(|connector| {
                let wh = snapshot
                    .get(METER_COLLECTION, &meter_key(connector))
                    .and_then(|bytes| std::str::from_utf8(bytes).ok()?.parse().ok())
                    .unwrap_or(0);
                (connector, wh)
            })
            .collect();

        let mut client_config = ClientConfig::new(url, &config.id, [Version::V16])
            .with_security(config.security.clone());
        client_config.connect_timeout = config.connect_timeout;
        client_config.reconnect = config.reconnect.clone();
        client_config.validate().map_err(|e| start(e.to_string()))?;

        let store = Arc::new(Mutex::new(Some(store)));
        let writer = store.clone();
        let persister = move |ops: &[StoreOp]| {
            let mut store = writer.lock().unwrap_or_else(PoisonError::into_inner);
            match store.as_mut() {
                Some(store) => store.apply(ops).map_err(PersistError::new),
                None => Err(PersistError::new("the station is off")),
            }
        };
        let client = ocpp_io_tokio::connect_with_persister(
            client_config,
            Awaiting::new(machine),
            Box::new(persister),
        );
        let (handle, events, done) = client.split();
        let router = tokio::spawn(route(events, handle.clone(), number, signals));
        Ok(Life {
            number,
            handle,
            store,
            meters: Mutex::new(meters),
            done: Mutex::new(Some(done)),
            router: Mutex::new(Some(router)),
            trace_error,
            answer_wait: config.call_timeout + Duration::from_secs(1),
        })
    }

    /// Runs `command` on the recorded machine, through which every command of the simulator
    /// goes, so that a trace holds it.
    pub(crate) async fn run<T, F>(&self, command: F) -> Result<T, SimError>
    where
        F: FnOnce(&mut Recorder<ChargePoint>, Now) -> T + Send + 'static,
        T: Send + 'static,
    {
        let machine = self
            .handle
            .run(move |awaiting: &mut StationMachine, now| command(awaiting, now))
            .await?;
        Ok(machine)
    }

    /// Reports a hardware fact (or any command the role may refuse).
    pub(crate) async fn fact<F>(&self, report: F) -> Result<(), SimError>
    where
        F: FnOnce(&mut Recorder<ChargePoint>, Now) -> Result<(), ChargePointError> + Send + 'static,
    {
        Ok(self.run(report).await??)
    }

    /// The verdict on `id_tag` (section 3.5): from the Local Authorization List or the
    /// Authorization Cache at once, or from the central system's answer to an Authorize.
    pub(crate) async fn authorize(&self, id_tag: &str) -> Result<IdTagInfo, SimError> {
        let verdict = tokio::time::timeout(self.answer_wait, self.handle.authorize(id_tag))
            .await
            .map_err(|_| no_answer("Authorize", "no answer in time"))?
            .map_err(|e| no_answer("Authorize", e.to_string()))?;
        Ok(verdict.id_tag_info)
    }

    /// Presents `id_tag` at `connector`, where a transaction runs: the machine stops it if
    /// the id tag may (`ChargePoint::stop_by_id_tag`). The verdict, when one had to be asked
    /// for (a tag of the transaction's group), once it is in.
    pub(crate) async fn present_at_transaction(
        &self,
        connector: u32,
        id_tag: String,
    ) -> Result<Option<IdTagInfo>, SimError> {
        let waiting = self
            .handle
            .run(move |machine: &mut StationMachine, now| {
                let outcome = machine.stop_by_id_tag(now, connector, id_tag)?;
                Ok::<_, ChargePointError>(match outcome {
                    IdTagAtTransaction::Authorizing(call) => {
                        Some(machine.wait_for(Completion::Authorize(call)))
                    }
                    _ => None,
                })
            })
            .await??;
        let Some(waiting) = waiting else {
            return Ok(None);
        };
        match self.outcome("Authorize", waiting).await? {
            CpEvent::Authorized { result, .. } => result
                .map(Some)
                .map_err(|failure| no_answer("Authorize", format!("{failure:?}"))),
            other => Err(no_answer("Authorize", format!("unexpected {other:?}"))),
        }
    }

    /// The event `waiting` was registered for (`Awaiting::wait_for`, `wait_for_event`),
    /// within the answer wait.
    pub(crate) async fn outcome<E>(
        &self,
        action: &'static str,
        waiting: impl Future<Output = Result<CpEvent, E>>,
    ) -> Result<CpEvent, SimError> {
        match tokio::time::timeout(self.answer_wait, waiting).await {
            Err(_) => Err(no_answer(action, "no answer in time")),
            Ok(Err(_)) => Err(SimError::Gone),
            Ok(Ok(event)) => Ok(event),
        }
    }

    /// The energy register of `connector`, Wh.
    pub(crate) fn meter(&self, connector: u32) -> i32 {
        let meters = self.meters.lock().unwrap_or_else(PoisonError::into_inner);
        meters.get(&connector).copied().unwrap_or(0)
    }

    /// Energy flows into the EV on `connector`: the register advances by `wh`, durably first
    /// (a restarted station never reads less), then the role learns the new reading, both as
    /// the meter value of the transaction and as what it samples for MeterValues
    /// (MeterValueSampleInterval, ClockAlignedDataInterval, TriggerMessage). The new value.
    pub(crate) async fn add_energy(&self, connector: u32, wh: i32) -> Result<i32, SimError> {
        let meter = self.meter(connector).saturating_add(wh);
        {
            let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            let store = store.as_mut().ok_or(SimError::Off)?;
            store
                .apply(&[StoreOp::Put {
                    collection: METER_COLLECTION,
                    key: meter_key(connector),
                    value: meter.to_string().into_bytes(),
                }])
                .map_err(|e| SimError::Start(e.to_string()))?;
        }
        self.meters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connector, meter);
        self.fact(move |cp, now| {
            cp.report_meter(now, connector, meter)?;
            cp.set_readings(now, connector, energy_register(meter))
        })
        .await?;
        Ok(meter)
    }

    /// Waits until every transaction message has been delivered and no other call waits for
    /// its answer (the last StatusNotification of a session, say), or `timeout` has passed;
    /// how many transaction messages are left.
    pub(crate) async fn drain(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (left, pending) = self
                .run(|cp, _| (cp.queued_transaction_messages(), cp.pending_calls()))
                .await
                .unwrap_or((0, 0));
            if (left == 0 && pending == 0) || tokio::time::Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the connection (1000), waits (a bounded time) for the client and the event
    /// routing to end, and releases the store.
    pub(crate) async fn close(&self) {
        let _ = self.handle.close(1000, "done");
        let done = self
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(done) = done {
            let _ = tokio::time::timeout(CLOSE_WAIT, done).await;
        }
        let router = self
            .router
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(router) = router {
            let _ = tokio::time::timeout(CLOSE_WAIT, router).await;
        }
        // Whatever still runs of this life gets "the station is off" from now on.
        drop(
            self.store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// The trace file's first write error, if recording failed.
    pub(crate) fn trace_error(&self) -> Option<String> {
        self.trace_error.as_ref().and_then(|e| e.get())
    }
}

/// Routes the machine's events of life `number`: tracks the connection, answers at once
/// what needs no hardware (vendor data, transfers), hands the requests the hardware decides
/// to the station, and publishes every event.
async fn route(
    mut events: Events<CpEvent>,
    handle: StationHandle,
    number: u64,
    signals: Arc<Signals>,
) {
    let mut ever_connected = false;
    while let Some(event) = events.next().await {
        let current = signals.is_current(number);
        match event {
            Event::Connected { .. } => {
                ever_connected = true;
                if current {
                    signals.connected.store(true, Ordering::Relaxed);
                }
                signals.note(format_args!("connected"));
                signals.publish(|| StationEvent::Connected);
            }
            Event::ConnectFailed(error) => {
                signals.note(format_args!("connection failed: {error}"));
                if current && (!ever_connected || matches!(error, ConnectError::Config(_))) {
                    signals.link.send_replace(Link::Failed(error.to_string()));
                }
            }
            Event::Disconnected(reason) => {
                if current {
                    signals.connected.store(false, Ordering::Relaxed);
                }
                signals.note(format_args!("disconnected: {reason:?}"));
                signals.publish(|| StationEvent::Disconnected);
            }
            Event::Reconnecting { delay, .. } => {
                signals.note(format_args!("reconnecting in {} ms", delay.as_millis()));
            }
            Event::PersistFailed(error) => {
                signals.count_error();
                eprintln!("{}: {error}", signals.id);
            }
            Event::Machine(event) => on_machine_event(event, current, number, &handle, &signals),
            _ => {}
        }
    }
    if signals.is_current(number) {
        signals.link.send_if_modified(|link| match link {
            Link::Accepted | Link::Failed(_) => false,
            Link::Connecting => {
                *link = Link::Failed("the client ended".to_owned());
                true
            }
        });
    }
}

fn on_machine_event(
    event: CpEvent,
    current: bool,
    number: u64,
    handle: &StationHandle,
    signals: &Signals,
) {
    match &event {
        CpEvent::Registered { status, interval } => {
            signals.note(format_args!(
                "BootNotification {status:?} (interval {} s)",
                interval.as_secs()
            ));
            if *status == RegistrationStatus::Accepted && current {
                signals.link.send_replace(Link::Accepted);
            }
        }
        CpEvent::RemoteStartRequested { .. }
        | CpEvent::StopRequested { .. }
        | CpEvent::ResetRequested { .. }
        | CpEvent::UnlockRequested { .. }
        | CpEvent::ConnectionTimedOut { .. } => {
            let request = Request {
                life: number,
                event: event.clone(),
            };
            let _ = signals.requests.send(request);
        }
        CpEvent::TransactionInterrupted {
            transaction,
            connector,
            stopped,
        } => signals.note(format_args!(
            "transaction {} on connector {connector} was interrupted by the restart{}",
            transaction.0,
            if *stopped {
                ": stopped as PowerLoss"
            } else {
                ""
            }
        )),
        CpEvent::TransactionMessageDiscarded { action, .. } => {
            signals.count_error();
            eprintln!("{}: {action} given up after repeated failures", signals.id);
        }
        CpEvent::DataTransferRequested { decision, request } => {
            // The simulator implements no vendor extension (1.6 section 4.3).
            signals.note(format_args!(
                "DataTransfer from vendor {:?}: UnknownVendorId",
                request.vendor_id
            ));
            let answer = Reply::DataTransfer(DataTransferResponse {
                status: DataTransferStatus::UnknownVendorId,
                data: None,
            });
            let decision = decision.clone();
            let _ = handle.run_detached(move |cp, now| {
                let _ = cp.reply(now, decision, answer);
            });
        }
        CpEvent::CallFailed { action, failure } => {
            signals.count_error();
            signals.note(format_args!("{action} failed: {failure:?}"));
        }
        CpEvent::CallRefused { action, reason } => {
            signals.count_error();
            signals.note(format_args!("{action} refused: {reason}"));
        }
        CpEvent::PeerError { error, .. } => {
            signals.note(format_args!(
                "protocol error of the central system: {error:?}"
            ));
        }
        CpEvent::ConfigurationChanged { key, value, .. } => {
            signals.note(format_args!("configuration {key} = {value:?}"));
        }
        // The simulator has no image to fetch nor logs to send: every transfer it is asked
        // for succeeds at once, so the stack's notification sequence runs to its end.
        CpEvent::FirmwareDownloadRequested { location, attempt } => {
            signals.note(format_args!(
                "firmware download {location} (attempt {attempt})"
            ));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.firmware_downloaded(now, TransferOutcome::Succeeded);
            });
        }
        CpEvent::FirmwareInstallRequested { location } => {
            signals.note(format_args!("firmware install {location}"));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.firmware_installed(now, TransferOutcome::Succeeded);
            });
        }
        CpEvent::DiagnosticsRequested { decision, .. } => {
            let file_name = Some(format!("{}-diagnostics.log", signals.id));
            let decision = decision.clone();
            let _ = handle.run_detached(move |cp, now| {
                let _ = cp.reply(now, decision, Reply::Diagnostics { file_name });
            });
        }
        CpEvent::DiagnosticsUploadRequested {
            location,
            file_name,
            ..
        } => {
            signals.note(format_args!("diagnostics upload {file_name} to {location}"));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.diagnostics_uploaded(now, TransferOutcome::Succeeded);
            });
        }
        _ => {}
    }
    signals.publish(|| StationEvent::Machine(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StationConfig {
        StationConfig::new("CP-T", "ws://127.0.0.1:9", "unused.redb")
    }

    /// Issue #15's presets: any standard key, read-only ones included, over the simulator's
    /// own; the keys that follow from the station's settings are not presets.
    #[test]
    fn presets_go_over_the_simulators_keys_and_are_checked() {
        let mut presets = config();
        presets
            .configuration
            .insert("LocalAuthListMaxLength".into(), "5".into());
        presets
            .configuration
            .insert("TransactionMessageRetryInterval".into(), "30".into());
        let keys = setup(&presets).expect("valid presets").keys;
        assert_eq!(keys["LocalAuthListMaxLength"], "5");
        assert_eq!(keys["TransactionMessageRetryInterval"], "30");
        assert_eq!(keys["NumberOfConnectors"], "1");

        for (key, value, says) in [
            ("NumberOfConnectors", "2", "cannot be preset"),
            ("securityprofile", "1", "cannot be preset"),
            ("NoSuchKey", "1", "configuration preset"),
            ("HeartbeatInterval", "often", "configuration preset"),
        ] {
            let mut bad = config();
            bad.configuration.insert(key.into(), value.into());
            let Err(SimError::Start(error)) = setup(&bad) else {
                panic!("{key} = {value} was taken");
            };
            assert!(error.contains(says), "{key}: {error}");
        }
    }
}
