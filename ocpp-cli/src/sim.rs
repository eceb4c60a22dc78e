//! The simulated charge point of `ocpp cp` and `ocpp demo`: the real 1.6 `ChargePoint`
//! machine with a redb store, over a real WebSocket, doing charging sessions.
//!
//! Durability is the machine's and the store's: every record the machine emits is committed
//! before its frame goes out, and a station started again on the same file resends what was
//! not acknowledged and ends the transaction that was running as PowerLoss. The simulated
//! hardware keeps one thing of its own in the same file: each connector's energy register, so
//! that the meter never runs backwards across a restart.
//!
//! The store is written synchronously by ocpp-io's driver (it calls the `Persister` inline,
//! on the runtime's worker): a redb commit takes about 0.3 ms on a fast disk and a few
//! milliseconds on a busy one, which a simulator can afford; the demo's call latencies
//! include these commits on both sides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::charge_point::AuthorizeHandle;
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::firmware::TransferOutcome;
use ocpp_core::charge_point::{
    ChargePoint, ChargePointError, ChargePointSetup, ConnectorStatus, Decision, Event as CpEvent,
    IdTagAtTransaction, Reply, TransactionKey,
};
use ocpp_core::persist::StoreOp;
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::time::Now;
use ocpp_core::trace::{Recorder, StoredSnapshot, TraceSink};
use ocpp_core::v16::{
    AuthorizationStatus, BootNotificationRequest, ChargePointStatus, DataTransferResponse,
    DataTransferStatus, IdTagInfo, Reason, RegistrationStatus, RemoteStartStopStatus, ResetStatus,
    ResetType, UnlockStatus,
};
use ocpp_io_tokio::trace::{FileSink, SinkError};
use ocpp_io_tokio::{
    Backoff, ClientConfig, ClientSecurity, ConnectError, Event, Handle, PersistError,
};
use ocpp_store::{RecordStore, RedbStore};
use tokio::sync::{mpsc, oneshot, watch};

/// The simulated hardware's energy registers: connector (zero-padded) -> Wh.
const METER_COLLECTION: &str = "sim.meter";

/// How a remotely started transaction charges: this much energy per interval until it stops.
const REMOTE_CHARGING: Charging = Charging {
    readings: 0,
    interval: Duration::from_secs(1),
    step_wh: 250,
};

/// How one station is set up.
#[derive(Clone)]
pub(crate) struct StationConfig {
    pub(crate) url: String,
    pub(crate) id: String,
    pub(crate) db: PathBuf,
    pub(crate) connectors: u32,
    pub(crate) security: ClientSecurity,
    pub(crate) connect_timeout: Duration,
    /// How long to wait for any answer of the central system.
    pub(crate) call_timeout: Duration,
    /// Reconnect after a lost connection (or keep trying to connect).
    pub(crate) reconnect: Option<Backoff>,
    /// Print what happens on stderr.
    pub(crate) verbose: bool,
    /// Record the machine's trace (`--trace`).
    pub(crate) trace: Option<TracePath>,
}

/// Where a station records its traces. A trace is one machine's life, and every start of
/// the station (the first, and each restart after a Reset or a power cycle) builds a new
/// machine from the store: the first start writes `path`, the next ones number it
/// (`cp.jsonl`, `cp.2.jsonl`, `cp.3.jsonl`, ...). Clones share the count.
#[derive(Clone, Debug)]
pub(crate) struct TracePath {
    path: PathBuf,
    starts: Arc<AtomicU32>,
}

impl TracePath {
    /// Traces written at `path`, then numbered.
    pub(crate) fn new(path: PathBuf) -> TracePath {
        TracePath {
            path,
            starts: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The file of the next start.
    fn next(&self) -> PathBuf {
        let start = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        if start == 1 {
            return self.path.clone();
        }
        let stem = self.path.file_stem().unwrap_or_default().to_string_lossy();
        let name = match self.path.extension() {
            Some(extension) => format!("{stem}.{start}.{}", extension.to_string_lossy()),
            None => format!("{stem}.{start}"),
        };
        self.path.with_file_name(name)
    }
}

/// How a session charges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charging {
    /// Meter readings per session; the energy flows between them.
    pub(crate) readings: u32,
    /// Time between two readings.
    pub(crate) interval: Duration,
    /// Energy per interval, Wh.
    pub(crate) step_wh: i32,
}

/// Call latencies measured by the simulator (from the command to the answer's event).
#[derive(Debug, Default)]
pub(crate) struct Latencies(Mutex<Vec<Duration>>);

impl Latencies {
    fn record(&self, latency: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(latency);
    }

    /// All samples, sorted.
    pub(crate) fn sorted(&self) -> Vec<Duration> {
        let mut samples = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        samples.sort();
        samples
    }
}

/// Results delivered to whoever waits for them, whether the waiter or the result comes first.
struct Mailbox<K, V> {
    slots: Mutex<BTreeMap<K, Slot<V>>>,
}

enum Slot<V> {
    Ready(V),
    Waiting(oneshot::Sender<V>),
}

impl<K: Ord, V> Mailbox<K, V> {
    fn new() -> Mailbox<K, V> {
        Mailbox {
            slots: Mutex::new(BTreeMap::new()),
        }
    }

    fn deliver(&self, key: K, value: V) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.remove(&key) {
            Some(Slot::Waiting(tx)) => {
                let _ = tx.send(value);
            }
            _ => {
                slots.insert(key, Slot::Ready(value));
            }
        }
    }

    async fn wait(&self, key: K, timeout: Duration) -> Option<V> {
        let rx = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(Slot::Ready(value)) = slots.remove(&key) {
                return Some(value);
            }
            let (tx, rx) = oneshot::channel();
            slots.insert(key, Slot::Waiting(tx));
            rx
        };
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }
}

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Link {
    Connecting,
    Accepted,
    /// The first connection failed, or the client ended: why.
    Failed(String),
}

struct Shared {
    id: String,
    verbose: bool,
    connectors: u32,
    store: Arc<Mutex<RedbStore>>,
    /// Each connector's energy register, Wh (also in the store).
    meters: Mutex<BTreeMap<u32, i32>>,
    /// Resets the Central System asked for; a station accepts them only while someone
    /// subscribes (and so restarts it), see [`Station::resets`].
    reset: watch::Sender<Option<ResetType>>,
    authorized: Mailbox<AuthorizeHandle, (Result<IdTagInfo, String>, Instant)>,
    started: Mailbox<TransactionKey, (Result<i32, String>, Instant)>,
    ended: Mailbox<TransactionKey, Instant>,
    link: watch::Sender<Link>,
    errors: AtomicU64,
    /// Whether a WebSocket connection is open now.
    connected: AtomicBool,
    /// Where the events the simulator does not act on go, once someone asks for them
    /// ([`Station::forward_events`]).
    forward: Mutex<Option<mpsc::UnboundedSender<CpEvent>>>,
}

impl Shared {
    /// `event` back, unless it tells the outcome of a transaction and the events are
    /// forwarded: then no session waits for it and it goes to the forward receiver.
    fn sessions_only(&self, event: CpEvent) -> Option<CpEvent> {
        let outcome = matches!(
            event,
            CpEvent::TransactionStarted { .. }
                | CpEvent::TransactionDeauthorized { .. }
                | CpEvent::TransactionEnded { .. }
        );
        let forward = self.forward.lock().unwrap_or_else(PoisonError::into_inner);
        match forward.as_ref() {
            Some(forward) if outcome => {
                let _ = forward.send(event);
                None
            }
            _ => Some(event),
        }
    }

    /// `event` back, unless a control API takes the requests a station's operator or driver
    /// acts on (remote start and stop, reset, unlock): then it goes to the forward receiver
    /// and the simulator leaves it alone.
    fn to_control(&self, event: CpEvent) -> Option<CpEvent> {
        let request = matches!(
            event,
            CpEvent::RemoteStartRequested { .. }
                | CpEvent::StopRequested { .. }
                | CpEvent::ResetRequested { .. }
                | CpEvent::UnlockRequested { .. }
        );
        let forward = self.forward.lock().unwrap_or_else(PoisonError::into_inner);
        match forward.as_ref() {
            Some(forward) if request => {
                let _ = forward.send(event);
                None
            }
            _ => Some(event),
        }
    }

    fn note(&self, line: std::fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("{}: {line}", self.id);
        }
    }

    fn meter(&self, connector: u32) -> i32 {
        let meters = self.meters.lock().unwrap_or_else(PoisonError::into_inner);
        meters.get(&connector).copied().unwrap_or(0)
    }

    /// Moves the connector's register to `wh`: the store first, so that a restarted station
    /// never reads less.
    fn advance_meter(&self, connector: u32, wh: i32) -> Result<(), String> {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apply(&[StoreOp::Put {
                collection: METER_COLLECTION,
                key: meter_key(connector),
                value: wh.to_string().into_bytes(),
            }])
            .map_err(|e| e.to_string())?;
        self.meters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connector, wh);
        Ok(())
    }
}

/// A running simulated station.
pub(crate) struct Station {
    handle: Handle<Recorder<ChargePoint>>,
    shared: Arc<Shared>,
    call_timeout: Duration,
    /// The client's end (in a mutex only so that `Station` is `Sync`).
    done: Mutex<futures_util::future::BoxFuture<'static, Option<Recorder<ChargePoint>>>>,
    /// The task routing the machine's events; it holds the store until it ends.
    router: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Where the trace file's first write error is, when recording.
    trace_error: Option<SinkError>,
}

/// One completed session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) connector: u32,
    pub(crate) transaction_id: i32,
    pub(crate) energy_wh: i32,
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

impl Station {
    /// Opens the station's store, rebuilds its machine and starts connecting.
    ///
    /// # Errors
    ///
    /// The store's error text (locked, not a database, corrupt, ...), a record the machine
    /// cannot restore, or settings that do not fit together (e.g. the URL scheme and the
    /// security profile).
    pub(crate) fn start(config: StationConfig) -> Result<Station, String> {
        let store = RedbStore::open(&config.db).map_err(|e| e.to_string())?;
        let (trace, trace_error) = match &config.trace {
            Some(paths) => {
                let path = paths.next();
                let sink = FileSink::create(&path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                let error = sink.error();
                (Some(Box::new(sink) as Box<dyn TraceSink>), Some(error))
            }
            None => (None, None),
        };
        let snapshot = store.load().map_err(|e| e.to_string())?;
        let profile = config.security.profile().number().to_string();
        // Built from a setup, which a trace can carry, so that a recorded run replays.
        let mut setup = ChargePointSetup::new(boot_request(&config.id))
            .key(
                StandardKey::NumberOfConnectors,
                &config.connectors.to_string(),
            )
            .key(StandardKey::TransactionMessageRetryInterval, "1")
            .key(StandardKey::SecurityProfile, &profile);
        setup.call_timeout_ms = u64::try_from(config.call_timeout.as_millis()).unwrap_or(u64::MAX);
        setup.boot_retry_ms = 5_000;
        setup.snapshot = StoredSnapshot::of(&snapshot);
        let machine = Recorder::new(&setup, Box::new(UuidV4Ids), trace)
            .map_err(|e| format!("store {}: {e}", config.db.display()))?;
        let mut meters = BTreeMap::new();
        for connector in 1..=config.connectors {
            let wh = snapshot
                .get(METER_COLLECTION, &meter_key(connector))
                .and_then(|bytes| std::str::from_utf8(bytes).ok()?.parse().ok())
                .unwrap_or(0);
            meters.insert(connector, wh);
        }

        let mut client_config = ClientConfig::new(&config.url, &config.id, [Version::V16])
            .with_security(config.security.clone());
        client_config.connect_timeout = config.connect_timeout;
        client_config.reconnect = config.reconnect.clone();
        client_config.validate().map_err(|e| e.to_string())?;

        let store = Arc::new(Mutex::new(store));
        let writer = store.clone();
        let persister = move |ops: &[StoreOp]| {
            writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .apply(ops)
                .map_err(PersistError::new)
        };
        let client =
            ocpp_io_tokio::connect_with_persister(client_config, machine, Box::new(persister));
        let (handle, events, done) = client.split();
        let (link, _) = watch::channel(Link::Connecting);
        let (reset, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            id: config.id.clone(),
            verbose: config.verbose,
            connectors: config.connectors,
            store,
            meters: Mutex::new(meters),
            reset,
            authorized: Mailbox::new(),
            started: Mailbox::new(),
            ended: Mailbox::new(),
            link,
            errors: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            forward: Mutex::new(None),
        });
        let router = tokio::spawn(route_events(events, handle.clone(), shared.clone()));
        Ok(Station {
            handle,
            shared,
            call_timeout: config.call_timeout,
            done: Mutex::new(done),
            router: Mutex::new(Some(router)),
            trace_error,
        })
    }

    /// The resets the Central System asks for (1.6 section 5.14). While a receiver of this
    /// lives, the station answers Reset `Accepted`, stops its transactions and expects the
    /// holder to restart it (close it and start it again on the same store); without one it
    /// answers `Rejected`, as it could not keep the promise.
    pub(crate) fn resets(&self) -> watch::Receiver<Option<ResetType>> {
        self.shared.reset.subscribe()
    }

    /// The handle of the station's machine, for commands the simulator does not make itself.
    pub(crate) fn handle(&self) -> &Handle<Recorder<ChargePoint>> {
        &self.handle
    }

    /// Whether the station has a WebSocket connection now.
    pub(crate) fn is_connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// From now on, the machine events the simulator does not act on (remote start and stop,
    /// reset, unlock, availability, ...) come out of the returned receiver.
    pub(crate) fn forward_events(&self) -> mpsc::UnboundedReceiver<CpEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .shared
            .forward
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tx);
        rx
    }

    /// Energy flows into the EV on `connector`: the meter register advances by `wh`, durably
    /// first (a restarted station never reads less), then the stack learns the new reading.
    /// Returns the new register value.
    pub(crate) async fn add_energy(&self, connector: u32, wh: i32) -> Result<i32, String> {
        let meter = self.meter(connector).saturating_add(wh);
        self.shared.advance_meter(connector, meter)?;
        self.handle
            .run(move |cp, now| {
                cp.report_meter(now, connector, meter)?;
                // What the stack samples for MeterValues when the Central System has set
                // MeterValueSampleInterval / ClockAlignedDataInterval or triggers them.
                cp.set_readings(now, connector, energy_register(meter))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(meter)
    }

    /// Errors seen so far: failed calls, refused id tags, unanswered requests.
    pub(crate) fn errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    /// Waits until the central system has accepted the station.
    ///
    /// # Errors
    ///
    /// Why the first connection failed (unreachable, refused credentials, TLS, ...) or why
    /// the station was not accepted in time.
    pub(crate) async fn accepted(&self, timeout: Duration) -> Result<(), String> {
        let mut link = self.shared.link.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                let state = link.borrow_and_update().clone();
                match state {
                    Link::Accepted => return Ok(()),
                    Link::Failed(reason) => return Err(reason),
                    Link::Connecting => {}
                }
                if link.changed().await.is_err() {
                    return Err("the client ended".to_owned());
                }
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(format!(
                "not accepted by the central system within {} s",
                timeout.as_secs()
            ))
        })
    }

    fn error(&self, message: String) -> String {
        self.shared.errors.fetch_add(1, Ordering::Relaxed);
        message
    }

    /// Reports a hardware fact to the role.
    async fn fact(
        &self,
        report: impl FnOnce(&mut Recorder<ChargePoint>, Now) -> Result<(), ChargePointError>
        + Send
        + 'static,
    ) -> Result<(), String> {
        fact(&self.handle, report).await
    }

    /// Authorizes `id_tag` (locally or by the central system, as the configuration says):
    /// the verdict and how long it took.
    pub(crate) async fn authorize(&self, id_tag: &str) -> Result<(IdTagInfo, Duration), String> {
        let tag = id_tag.to_owned();
        let sent = Instant::now();
        let call = self
            .handle
            .run(move |cp, now| cp.authorize(now, tag))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("Authorize: {e}"))?;
        let (info, at) = self.verdict(call).await?;
        Ok((info, at.saturating_duration_since(sent)))
    }

    /// The verdict on authorization `call` and when it came.
    async fn verdict(&self, call: AuthorizeHandle) -> Result<(IdTagInfo, Instant), String> {
        let timeout = self.call_timeout + Duration::from_secs(1);
        let (verdict, at) = self
            .shared
            .authorized
            .wait(call, timeout)
            .await
            .ok_or("Authorize: no answer in time")?;
        let info = verdict.map_err(|e| format!("Authorize: {e}"))?;
        Ok((info, at))
    }

    /// Presents `id_tag` at `connector`, where a transaction runs: the machine stops it if
    /// the id tag may (`ChargePoint::stop_by_id_tag`). The verdict, when one had to be asked
    /// for (a tag of the transaction's group), once it is in.
    pub(crate) async fn present_at_transaction(
        &self,
        connector: u32,
        id_tag: &str,
    ) -> Result<Option<IdTagInfo>, String> {
        let tag = id_tag.to_owned();
        let outcome = self
            .handle
            .run(move |cp, now| cp.stop_by_id_tag(now, connector, tag))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("id tag at the transaction: {e}"))?;
        let IdTagAtTransaction::Authorizing(call) = outcome else {
            return Ok(None);
        };
        Ok(Some(self.verdict(call).await?.0))
    }

    /// One charging session on `connector`: plug in, authorize `id_tag`, start, meter
    /// readings, stop, unplug, with the status reports of each step.
    pub(crate) async fn session(
        &self,
        connector: u32,
        id_tag: &str,
        charging: Charging,
        latencies: &Latencies,
    ) -> Result<Session, String> {
        let result = self
            .session_steps(connector, id_tag, charging, latencies)
            .await;
        if result.is_err() {
            // The cable comes out: back to a state the next session can start from (a
            // transaction still running is stopped as EVDisconnected); best effort.
            let _ = self.fact(move |cp, now| cp.unplug(now, connector)).await;
        }
        result.map_err(|e| self.error(e))
    }

    async fn session_steps(
        &self,
        connector: u32,
        id_tag: &str,
        charging: Charging,
        latencies: &Latencies,
    ) -> Result<Session, String> {
        let timeout = self.call_timeout + Duration::from_secs(1);
        // The driver plugs in first; the role derives every status from here on (Preparing,
        // Charging, Finishing, Available).
        self.fact(move |cp, now| cp.plug_in(now, connector)).await?;

        let (info, latency) = self.authorize(id_tag).await?;
        latencies.record(latency);
        if info.status != AuthorizationStatus::Accepted {
            return Err(format!("id tag {id_tag} not accepted: {:?}", info.status));
        }

        let meter_start = self.meter(connector);
        self.handle
            .run(move |cp, now| cp.set_readings(now, connector, energy_register(meter_start)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let tag = id_tag.to_owned();
        let sent = Instant::now();
        let key = self
            .handle
            .run(move |cp, now| cp.start_transaction(now, connector, tag, meter_start, None))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("StartTransaction: {e}"))?;
        let (started, at) = self
            .shared
            .started
            .wait(key, timeout)
            .await
            .ok_or("StartTransaction: no answer in time")?;
        latencies.record(at.saturating_duration_since(sent));
        let transaction_id = started.map_err(|e| format!("StartTransaction: {e}"))?;

        let mut meter = meter_start;
        for _ in 0..charging.readings {
            tokio::time::sleep(charging.interval).await;
            meter = self.add_energy(connector, charging.step_wh).await?;
        }

        let tag = id_tag.to_owned();
        let sent = Instant::now();
        let key = self
            .handle
            .run(move |cp, now| cp.stop_transaction(now, connector, meter, None, Some(tag)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("StopTransaction: {e}"))?;
        let at = self
            .shared
            .ended
            .wait(key, timeout)
            .await
            .ok_or("StopTransaction: no answer in time")?;
        latencies.record(at.saturating_duration_since(sent));
        self.fact(move |cp, now| cp.unplug(now, connector)).await?;
        Ok(Session {
            connector,
            transaction_id,
            energy_wh: meter - meter_start,
        })
    }

    /// The energy register of `connector`, Wh.
    pub(crate) fn meter(&self, connector: u32) -> i32 {
        self.shared.meter(connector)
    }

    /// Waits until every transaction message has been delivered and no other call waits for
    /// its answer (the last StatusNotification of a session, say), or `timeout` has passed;
    /// returns how many transaction messages are left.
    pub(crate) async fn drain(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let (left, pending) = self
                .handle
                .run(|cp, _| (cp.queued_transaction_messages(), cp.pending_calls()))
                .await
                .unwrap_or((0, 0));
            if (left == 0 && pending == 0) || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the connection (1000) and waits for the client to end.
    pub(crate) async fn close(self) {
        let _ = self.handle.close(1000, "done");
        let done = self
            .done
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = tokio::time::timeout(Duration::from_secs(5), done).await;
        let router = self
            .router
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(router) = router {
            let _ = tokio::time::timeout(Duration::from_secs(5), router).await;
        }
        if let Some(error) = self.trace_error.and_then(|e| e.get()) {
            eprintln!("{}: the trace is incomplete: {error}", self.shared.id);
        }
    }
}

/// Hands the machine's events to the waiters, answers what the simulator decides, and tracks
/// the connection.
async fn route_events(
    mut events: ocpp_io_tokio::Events<CpEvent>,
    handle: Handle<Recorder<ChargePoint>>,
    shared: Arc<Shared>,
) {
    let mut ever_connected = false;
    while let Some(event) = events.next().await {
        let at = Instant::now();
        match event {
            Event::Connected { .. } => {
                ever_connected = true;
                shared.connected.store(true, Ordering::Relaxed);
                shared.note(format_args!("connected"));
            }
            Event::ConnectFailed(error) => {
                shared.note(format_args!("connection failed: {error}"));
                if !ever_connected || matches!(error, ConnectError::Config(_)) {
                    shared.link.send_replace(Link::Failed(error.to_string()));
                }
            }
            Event::Disconnected(reason) => {
                shared.connected.store(false, Ordering::Relaxed);
                shared.note(format_args!("disconnected: {reason:?}"));
            }
            Event::Reconnecting { delay, .. } => {
                shared.note(format_args!("reconnecting in {} ms", delay.as_millis()));
            }
            Event::PersistFailed(error) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("{}: {error}", shared.id);
            }
            Event::Machine(event) => on_machine_event(event, at, &handle, &shared),
            _ => {}
        }
    }
    shared.link.send_if_modified(|link| match link {
        Link::Accepted | Link::Failed(_) => false,
        Link::Connecting => {
            *link = Link::Failed("the client ended".to_owned());
            true
        }
    });
}

fn on_machine_event(
    event: CpEvent,
    at: Instant,
    handle: &Handle<Recorder<ChargePoint>>,
    shared: &Arc<Shared>,
) {
    let Some(event) = shared.sessions_only(event) else {
        return;
    };
    let Some(event) = shared.to_control(event) else {
        return;
    };
    match event {
        CpEvent::Registered { status, interval } => {
            shared.note(format_args!(
                "BootNotification {status:?} (interval {} s)",
                interval.as_secs()
            ));
            if status == RegistrationStatus::Accepted {
                shared.link.send_replace(Link::Accepted);
            }
        }
        CpEvent::Authorized {
            handle: call,
            result,
            ..
        } => {
            shared
                .authorized
                .deliver(call, (result.map_err(|e| format!("{e:?}")), at));
        }
        CpEvent::TransactionStarted {
            transaction,
            transaction_id,
            ..
        } => shared
            .started
            .deliver(transaction, (Ok(transaction_id), at)),
        CpEvent::TransactionDeauthorized {
            transaction,
            id_tag_info,
            ..
        } => shared.started.deliver(
            transaction,
            (Err(format!("id tag refused: {:?}", id_tag_info.status)), at),
        ),
        CpEvent::TransactionEnded { transaction, .. } => shared.ended.deliver(transaction, at),
        CpEvent::TransactionInterrupted {
            transaction,
            connector,
            stopped,
        } => shared.note(format_args!(
            "transaction {} on connector {connector} was interrupted by the restart{}",
            transaction.0,
            if stopped {
                ": stopped as PowerLoss"
            } else {
                ""
            }
        )),
        CpEvent::TransactionMessageDiscarded { action, .. } => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{}: {action} given up after repeated failures", shared.id);
        }
        CpEvent::DataTransferRequested { decision, request } => {
            // The simulator implements no vendor extension (1.6 section 4.3).
            shared.note(format_args!(
                "DataTransfer from vendor {:?}: UnknownVendorId",
                request.vendor_id
            ));
            let answer = Reply::DataTransfer(DataTransferResponse {
                status: DataTransferStatus::UnknownVendorId,
                data: None,
            });
            let _ = handle.run_detached(move |cp, now| {
                let _ = cp.reply(now, decision, answer);
            });
        }
        CpEvent::RemoteStartRequested {
            decision,
            connector,
            id_tag,
            authorize_first,
            ..
        } => {
            let (handle, shared) = (handle.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(error) = remote_start(
                    &handle,
                    &shared,
                    decision,
                    connector,
                    id_tag,
                    authorize_first,
                )
                .await
                {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    shared.note(format_args!("remote start: {error}"));
                }
            });
        }
        CpEvent::StopRequested {
            connector,
            transaction,
            reason,
        } => {
            let (handle, shared) = (handle.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(error) = stop(&handle, &shared, connector, transaction, reason).await {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    shared.note(format_args!("stop on connector {connector}: {error}"));
                }
            });
        }
        CpEvent::ResetRequested { decision, kind } => reset(handle, shared, decision, kind),
        CpEvent::UnlockRequested {
            decision,
            connector,
            transaction,
        } => {
            let (handle, shared) = (handle.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(error) = unlock(&handle, &shared, decision, connector, transaction).await
                {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    shared.note(format_args!("unlock connector {connector}: {error}"));
                }
            });
        }
        CpEvent::CallFailed { action, failure } => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            shared.note(format_args!("{action} failed: {failure:?}"));
        }
        CpEvent::CallRefused { action, reason } => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            shared.note(format_args!("{action} refused: {reason}"));
        }
        CpEvent::PeerError { error, .. } => {
            shared.note(format_args!(
                "protocol error of the central system: {error:?}"
            ));
        }
        CpEvent::ConfigurationChanged { key, value, .. } => {
            shared.note(format_args!("configuration {key} = {value:?}"));
        }
        // The simulator has no image to fetch nor logs to send: every transfer it is asked
        // for succeeds at once, so the stack's notification sequence runs to its end.
        CpEvent::FirmwareDownloadRequested { location, attempt } => {
            shared.note(format_args!(
                "firmware download {location} (attempt {attempt})"
            ));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.firmware_downloaded(now, TransferOutcome::Succeeded);
            });
        }
        CpEvent::FirmwareInstallRequested { location } => {
            shared.note(format_args!("firmware install {location}"));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.firmware_installed(now, TransferOutcome::Succeeded);
            });
        }
        CpEvent::DiagnosticsRequested { decision, .. } => {
            let file_name = Some(format!("{}-diagnostics.log", shared.id));
            let _ = handle.run_detached(move |cp, now| {
                let _ = cp.reply(now, decision, Reply::Diagnostics { file_name });
            });
        }
        CpEvent::DiagnosticsUploadRequested {
            location,
            file_name,
            ..
        } => {
            shared.note(format_args!("diagnostics upload {file_name} to {location}"));
            let _ = handle.run_detached(|cp, now| {
                let _ = cp.diagnostics_uploaded(now, TransferOutcome::Succeeded);
            });
        }
        other => {
            // Under a control API, what the simulator does not act on goes there.
            let forward = shared
                .forward
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(forward) = forward.as_ref() {
                let _ = forward.send(other);
            }
        }
    }
}

/// Reports a hardware fact to the role, which derives the connector's status from it.
async fn fact(
    handle: &Handle<Recorder<ChargePoint>>,
    report: impl FnOnce(&mut Recorder<ChargePoint>, Now) -> Result<(), ChargePointError>
    + Send
    + 'static,
) -> Result<(), String> {
    handle
        .run(report)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// RemoteStartTransaction (1.6 section 5.11), after the machine's own checks: the connector
/// asked for, or the first free one; the answer goes out first, then the Authorize (with
/// `AuthorizeRemoteTxRequests`) and the StartTransaction. The transaction then charges by
/// [`REMOTE_CHARGING`] until something stops it.
async fn remote_start(
    handle: &Handle<Recorder<ChargePoint>>,
    shared: &Arc<Shared>,
    decision: Decision,
    connector: Option<u32>,
    id_tag: String,
    authorize_first: bool,
) -> Result<(), String> {
    let connectors = shared.connectors;
    let connector_given = connector;
    let chosen = match connector {
        Some(connector) => Some(connector),
        None => handle
            .run(move |cp, _| {
                (1..=connectors).find(|&c| cp.transaction(c).is_none() && cp.is_operative(c))
            })
            .await
            .map_err(|e| e.to_string())?,
    };
    let status = match chosen {
        Some(_) => RemoteStartStopStatus::Accepted,
        None => RemoteStartStopStatus::Rejected,
    };
    handle
        .run(move |cp, now| cp.reply(now, decision, Reply::RemoteStart(status)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let Some(connector) = chosen else {
        return Ok(());
    };
    if connector_given.is_none() {
        // For a given connector the role prepared it already (Preparing).
        let tag = id_tag.clone();
        fact(handle, move |cp, now| cp.prepare(now, connector, tag)).await?;
    }
    if authorize_first {
        let tag = id_tag.clone();
        let call = handle
            .run(move |cp, now| cp.authorize(now, tag))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("Authorize: {e}"))?;
        let answer = shared
            .authorized
            .wait(call, Duration::from_secs(30))
            .await
            .map(|(verdict, _)| verdict);
        let accepted =
            matches!(&answer, Some(Ok(info)) if info.status == AuthorizationStatus::Accepted);
        if !accepted {
            // The driver leaves: the waiting session ends (B1).
            fact(handle, move |cp, now| cp.unplug(now, connector)).await?;
            return Err(format!("id tag {id_tag} not authorized: {answer:?}"));
        }
    }
    let meter_start = shared.meter(connector);
    // The EV is plugged in and the transaction starts in one step, so that a Reset or Unlock
    // handled meanwhile finds the connector charging.
    let key = handle
        .run(move |cp, now| {
            cp.set_readings(now, connector, energy_register(meter_start))?;
            cp.plug_in(now, connector)?;
            cp.start_transaction(now, connector, id_tag, meter_start, None)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("StartTransaction: {e}"))?;
    let weak = Arc::downgrade(shared);
    let handle = handle.clone();
    tokio::spawn(async move {
        let mut meter = meter_start;
        loop {
            tokio::time::sleep(REMOTE_CHARGING.interval).await;
            // Holds the station only for a tick, so that a closed station's store is freed.
            let Some(shared) = weak.upgrade() else { break };
            let running = handle
                .run(move |cp, _| cp.transaction(connector).map(|(k, _)| k))
                .await;
            if running != Ok(Some(key)) {
                break;
            }
            meter = meter.saturating_add(REMOTE_CHARGING.step_wh);
            if shared.advance_meter(connector, meter).is_err() {
                break;
            }
            let _ = handle.run_detached(move |cp, now| {
                let _ = cp.report_meter(now, connector, meter);
                let _ = cp.set_readings(now, connector, energy_register(meter));
            });
        }
    });
    Ok(())
}

/// Ends `transaction` on `connector` as the machine asked (RemoteStop, Reset, Unlock), with
/// the meter's reading, unless it ended already; then the cable comes out.
async fn stop(
    handle: &Handle<Recorder<ChargePoint>>,
    shared: &Shared,
    connector: u32,
    transaction: TransactionKey,
    reason: Reason,
) -> Result<(), String> {
    let meter = shared.meter(connector);
    let stopped = handle
        .run(move |cp, now| {
            if cp.transaction(connector).map(|(key, _)| key) != Some(transaction) {
                return Ok(false);
            }
            cp.stop_transaction(now, connector, meter, Some(reason), None)
                .map(|_| true)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("StopTransaction: {e}"))?;
    if stopped {
        // Finishing, then the cable comes out: Available.
        fact(handle, move |cp, now| cp.unplug(now, connector)).await?;
    }
    Ok(())
}

/// Reset (1.6 section 5.14): accepted only when the owner of the station restarts it (see
/// [`Station::resets`]). The running transactions are stopped in the same step as the answer,
/// so that their StopTransactions are queued before the owner drains and closes the station.
fn reset(
    handle: &Handle<Recorder<ChargePoint>>,
    shared: &Shared,
    decision: Decision,
    kind: ResetType,
) {
    let restartable = shared.reset.receiver_count() > 0;
    let status = if restartable {
        ResetStatus::Accepted
    } else {
        ResetStatus::Rejected
    };
    shared.note(format_args!("Reset {kind:?}: {status:?}"));
    let reason = match kind {
        ResetType::Hard => Reason::HardReset,
        ResetType::Soft => Reason::SoftReset,
    };
    let meters: Vec<(u32, i32)> = (1..=shared.connectors)
        .map(|c| (c, shared.meter(c)))
        .collect();
    let _ = handle.run_detached(move |cp, now| {
        if cp.reply(now, decision, Reply::Reset(status)).is_err() || !restartable {
            return;
        }
        for (connector, meter) in meters {
            if cp.transaction(connector).is_some() {
                let _ = cp.stop_transaction(now, connector, meter, Some(reason), None);
                // The restart ends the session: the station boots with the connector free.
                let available = ConnectorStatus::new(ChargePointStatus::Available);
                let _ = cp.report_status(now, connector, available);
            }
        }
    });
    if restartable {
        shared.reset.send_replace(Some(kind));
    }
}

/// UnlockConnector (1.6 section 5.18): the transaction on the connector, if any, is stopped
/// first (reason UnlockCommand), then the simulated lock opens.
async fn unlock(
    handle: &Handle<Recorder<ChargePoint>>,
    shared: &Shared,
    decision: Decision,
    connector: u32,
    transaction: Option<TransactionKey>,
) -> Result<(), String> {
    if let Some(transaction) = transaction {
        stop(
            handle,
            shared,
            connector,
            transaction,
            Reason::UnlockCommand,
        )
        .await?;
    }
    handle
        .run(move |cp, now| cp.reply(now, decision, Reply::Unlock(UnlockStatus::Unlocked)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// A path in `dir` for station `id`'s store.
pub(crate) fn station_db(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.redb"))
}

/// The simulated meter as the readings the stack samples: its energy register, in Wh.
fn energy_register(meter_wh: i32) -> Vec<ocpp_core::charge_point::metering::Reading> {
    vec![ocpp_core::charge_point::metering::Reading::raw(
        ocpp_core::v16::Measurand::EnergyActiveImportRegister,
        meter_wh,
    )]
}
