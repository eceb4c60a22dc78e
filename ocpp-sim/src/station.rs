//! [`Station`]: one simulated station over all its lives, and everything one can do to it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use ocpp_core::charge_point::Fault;
use tokio::sync::{Mutex, broadcast, mpsc, watch};

use crate::config::StationConfig;
use crate::error::SimError;
use crate::hardware::{Hardware, Then};
use crate::life::{Life, Link, Request, Signals, StationHandle};
use crate::relay::{Relay, split_ws_url};
use crate::state::{IdTagOutcome, StationEvent, StationState};

/// Events a subscriber may fall behind by before it misses some
/// ([`broadcast::error::RecvError::Lagged`]).
const EVENT_CAPACITY: usize = 1024;

/// How long an accepted Reset waits for the queued messages to be delivered before the
/// station restarts.
const RESET_DRAIN: Duration = Duration::from_secs(5);

/// How long a power-on keeps trying to open a store that the previous life still holds.
const REOPEN_WAIT: Duration = Duration::from_secs(5);

/// A simulated 1.6 charge point: the real Charge Point role and a redb store over a real
/// WebSocket, with simulated hardware. See the [crate docs](crate).
///
/// A cheap handle: clones drive the same station. Every action is carried out in full
/// before the next one on the same station begins (and before the station acts on the next
/// request of the central system), so the facts and the role never disagree.
#[derive(Clone)]
pub struct Station {
    shared: Arc<Shared>,
}

struct Shared {
    config: StationConfig,
    /// Where the station connects: the central system's URL, or the relay's.
    url: String,
    relay: Option<Relay>,
    hardware: Mutex<Hardware>,
    signals: Arc<Signals>,
    /// Lives begun so far.
    lives: AtomicU64,
    /// `shutdown` was called.
    closed: AtomicBool,
}

impl std::fmt::Debug for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Station")
            .field("id", &self.shared.config.id)
            .finish_non_exhaustive()
    }
}

impl Station {
    /// Builds the station and powers it on: opens its store, rebuilds its machine, starts
    /// connecting (see [`Station::accepted`]). Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SimError::Start`]: the store's error text (locked, not a database, corrupt, ...),
    /// a record the machine cannot restore, a trace file, the relay, a configuration preset,
    /// or settings that do not fit together (the URL scheme and the security profile).
    pub async fn start(config: StationConfig) -> Result<Station, SimError> {
        if config.connectors == 0 {
            return Err(SimError::Start(
                "a station has at least one connector".into(),
            ));
        }
        let (relay, url) = match split_ws_url(&config.url).filter(|_| config.network_switch) {
            Some((target, path)) => {
                let relay = Relay::start(target)
                    .await
                    .map_err(|e| SimError::Start(format!("cannot start the network relay: {e}")))?;
                let url = format!("ws://{}{path}", relay.addr());
                (Some(relay), url)
            }
            None => (None, config.url.clone()),
        };
        let (requests, received) = mpsc::unbounded_channel();
        let signals = Arc::new(Signals {
            id: config.id.clone(),
            verbose: config.verbose,
            link: watch::channel(Link::Connecting).0,
            connected: AtomicBool::new(false),
            current: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            events: broadcast::channel(EVENT_CAPACITY).0,
            requests,
        });
        let shared = Arc::new(Shared {
            hardware: Mutex::new(Hardware::new(config.connectors)),
            config,
            url,
            relay,
            signals,
            lives: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        {
            let mut hardware = shared.hardware.lock().await;
            shared.power_on(&mut hardware)?;
        }
        tokio::spawn(carry_out_requests(Arc::downgrade(&shared), received));
        tokio::spawn(run_meters(Arc::downgrade(&shared)));
        Ok(Station { shared })
    }

    /// The charge point id.
    pub fn id(&self) -> &str {
        &self.shared.config.id
    }

    /// What the station was built from.
    pub fn config(&self) -> &StationConfig {
        &self.shared.config
    }

    /// Subscribes to what happens to the station from now on. A subscriber that falls
    /// behind by more than about a thousand events misses the oldest ones.
    pub fn events(&self) -> broadcast::Receiver<StationEvent> {
        self.shared.signals.events.subscribe()
    }

    /// Errors seen so far: failed calls, refused id tags, unanswered requests, failed
    /// sessions, requests of the central system that could not be carried out.
    pub fn errors(&self) -> u64 {
        self.shared.signals.errors.load(Ordering::Relaxed)
    }

    /// Whether the station has a WebSocket connection now.
    pub fn is_connected(&self) -> bool {
        self.shared.signals.connected.load(Ordering::Relaxed)
    }

    /// Waits until the central system has accepted the station since it was last powered
    /// on (its BootNotification answered Accepted).
    ///
    /// # Errors
    ///
    /// Why the first connection failed (unreachable, refused credentials, TLS, ...), that
    /// the station is off, or that it was not accepted in time.
    pub async fn accepted(&self, timeout: Duration) -> Result<(), String> {
        let mut link = self.shared.signals.link.subscribe();
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

    /// The station's state: its hardware, and what its role says while it runs.
    pub async fn state(&self) -> StationState {
        let hardware = self.shared.hardware.lock().await;
        hardware.state(self.id(), self.is_connected()).await
    }

    /// The handle of the running machine, for commands the simulator does not make itself;
    /// `None` while the station is off. A power cycle or a reset makes a new machine, and
    /// the old handle then says [`Gone`](ocpp_io_tokio::Gone).
    pub async fn machine(&self) -> Option<StationHandle> {
        let hardware = self.shared.hardware.lock().await;
        hardware.life.as_ref().map(|life| life.handle.clone())
    }

    /// The cable is plugged into `connector`: Preparing, or a transaction starts if an
    /// accepted id tag waits for it.
    ///
    /// # Errors
    ///
    /// No such connector (or 0), or the role refused the transaction's start.
    pub async fn plug_in(&self, connector: u32) -> Result<(), SimError> {
        let connector = self.connector(connector, false)?;
        self.shared.hardware.lock().await.plug_in(connector).await
    }

    /// The cable is unplugged from `connector`: a running transaction stops with reason
    /// EVDisconnected (StopTransactionOnEVSideDisconnect).
    ///
    /// # Errors
    ///
    /// No such connector (or 0), or the role refused.
    pub async fn unplug(&self, connector: u32) -> Result<(), SimError> {
        let connector = self.connector(connector, false)?;
        self.shared.hardware.lock().await.unplug(connector).await
    }

    /// An id tag is presented at `connector`: with a transaction running, its own tag (or an
    /// accepted one of its group) stops it; otherwise the verdict, and an accepted tag waits
    /// for the cable or starts the transaction.
    ///
    /// # Errors
    ///
    /// No such connector (or 0), the station is off, the verdict did not come
    /// ([`SimError::NoAnswer`]), or the role refused the step (a reservation for another
    /// id tag, say).
    pub async fn present_id_tag(
        &self,
        connector: u32,
        id_tag: impl Into<String>,
    ) -> Result<IdTagOutcome, SimError> {
        let connector = self.connector(connector, false)?;
        let mut hardware = self.shared.hardware.lock().await;
        hardware.present_id_tag(connector, id_tag.into()).await
    }

    /// The EV on `connector` draws power (Charging during a transaction, the meter running
    /// by [`StationConfig::metering`]) or stops drawing it (SuspendedEV).
    ///
    /// # Errors
    ///
    /// No such connector (or 0), or the role refused.
    pub async fn set_ev_drawing(&self, connector: u32, drawing: bool) -> Result<(), SimError> {
        let connector = self.connector(connector, false)?;
        let mut hardware = self.shared.hardware.lock().await;
        hardware.set_ev_drawing(connector, drawing).await
    }

    /// A fault of `connector` (0: the station as a whole): Faulted with its error code until
    /// it is cleared.
    ///
    /// # Errors
    ///
    /// No such connector, or the role refused.
    pub async fn report_fault(&self, connector: u32, fault: Fault) -> Result<(), SimError> {
        let connector = self.connector(connector, true)?;
        let mut hardware = self.shared.hardware.lock().await;
        hardware.report_fault(connector, fault).await
    }

    /// The fault of `connector` (0: the station as a whole) is gone.
    ///
    /// # Errors
    ///
    /// No such connector, or the role refused.
    pub async fn clear_fault(&self, connector: u32) -> Result<(), SimError> {
        let connector = self.connector(connector, true)?;
        self.shared
            .hardware
            .lock()
            .await
            .clear_fault(connector)
            .await
    }

    /// The operator sets a configuration key locally, checked as a ChangeConfiguration
    /// would be (read-only keys refused).
    ///
    /// # Errors
    ///
    /// The station is off, or [`SimError::Configuration`].
    pub async fn set_configuration(&self, key: &str, value: &str) -> Result<(), SimError> {
        let life = self.shared.hardware.lock().await.life()?;
        let (key, value) = (key.to_owned(), value.to_owned());
        life.run(move |cp, now| cp.set_configuration(now, &key, &value))
            .await?
            .map_err(SimError::Configuration)
    }

    /// Cuts the network (`false`: the connection drops without a close frame, connection
    /// attempts fail) or restores it (`true`: the station reconnects with its back-off).
    ///
    /// # Errors
    ///
    /// [`SimError::NoNetworkSwitch`] without [`StationConfig::network_switch`] and a `ws://`
    /// URL.
    pub async fn set_online(&self, online: bool) -> Result<(), SimError> {
        let relay = self
            .shared
            .relay
            .as_ref()
            .ok_or(SimError::NoNetworkSwitch)?;
        let mut hardware = self.shared.hardware.lock().await;
        hardware.online = online;
        relay.set_online(online);
        Ok(())
    }

    /// Power loss and restart: the connection drops without a close frame (with a network
    /// switch), and the station starts again from its store, as after a power cut: what was
    /// not acknowledged is resent, a running transaction is stopped as PowerLoss.
    ///
    /// # Errors
    ///
    /// [`SimError::Start`]: the station could not start again.
    pub async fn power_cycle(&self) -> Result<(), SimError> {
        let mut hardware = self.shared.hardware.lock().await;
        let relay = self.shared.relay.as_ref().filter(|relay| relay.is_online());
        if let Some(relay) = relay {
            // The power goes: nothing more reaches the central system.
            relay.set_online(false);
        }
        self.shared.power_off(&mut hardware).await;
        let started = self.shared.power_on_again(&mut hardware).await;
        if let Some(relay) = relay {
            relay.set_online(true);
        }
        started
    }

    /// Powers the station off: its connection closes (WebSocket close 1000) and its store is
    /// released. The hardware facts stay as they are, and may change while it is off.
    pub async fn power_off(&self) {
        let mut hardware = self.shared.hardware.lock().await;
        self.shared.power_off(&mut hardware).await;
    }

    /// Powers a station that is off on again: it starts from its store and is told the
    /// facts that changed while it was off; `false` if it was running already.
    ///
    /// # Errors
    ///
    /// [`SimError::Start`], or the role refused a fact.
    pub async fn power_on(&self) -> Result<bool, SimError> {
        let mut hardware = self.shared.hardware.lock().await;
        if hardware.life.is_some() {
            return Ok(false);
        }
        self.shared.power_on(&mut hardware)?;
        // The cable, the EV or a fault may have changed while it was off.
        hardware.report_all().await?;
        Ok(true)
    }

    /// Waits until every transaction message has been delivered and no other call waits for
    /// its answer, or `timeout` has passed; how many transaction messages are left (0 while
    /// the station is off).
    pub async fn drain(&self, timeout: Duration) -> usize {
        let life = self.shared.hardware.lock().await.life.clone();
        match life {
            Some(life) => life.drain(timeout).await,
            None => 0,
        }
    }

    /// Powers the station off for good: the connection closes (1000), the store is
    /// released, the relay and the meters stop. Clones left can read the state but not
    /// power it on again.
    pub async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.power_off().await;
        if let Some(relay) = &self.shared.relay {
            relay.stop();
        }
    }

    /// `connector` if the station has it; 0 (the station as a whole) only if `whole`.
    pub(crate) fn connector(&self, connector: u32, whole: bool) -> Result<u32, SimError> {
        let connectors = self.shared.config.connectors;
        if connector > connectors {
            return Err(SimError::NoSuchConnector {
                station: self.id().to_owned(),
                connectors,
                connector,
            });
        }
        if connector == 0 && !whole {
            return Err(SimError::StationAsAWhole);
        }
        Ok(connector)
    }

    /// The running life, for the crate's scripted sessions.
    pub(crate) async fn life(&self) -> Result<Arc<Life>, SimError> {
        self.shared.hardware.lock().await.life()
    }

    /// The hardware, for the crate's scripted sessions.
    pub(crate) fn hardware(&self) -> &Mutex<Hardware> {
        &self.shared.hardware
    }

    /// Counts an error.
    pub(crate) fn count_error(&self) {
        self.shared.signals.count_error();
    }
}

impl Shared {
    /// Begins a new life: the store opened, the machine rebuilt, connecting.
    fn power_on(&self, hardware: &mut Hardware) -> Result<(), SimError> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(SimError::Start("the station was shut down".into()));
        }
        let number = self.lives.fetch_add(1, Ordering::Relaxed) + 1;
        let signals = &self.signals;
        signals.current.store(number, Ordering::Relaxed);
        signals.connected.store(false, Ordering::Relaxed);
        signals.link.send_replace(Link::Connecting);
        match Life::start(&self.config, &self.url, number, signals.clone()) {
            Ok(life) => {
                hardware.powered_on(Arc::new(life));
                signals.publish(|| StationEvent::PoweredOn);
                Ok(())
            }
            Err(error) => {
                signals.current.store(0, Ordering::Relaxed);
                signals.link.send_replace(Link::Failed(error.to_string()));
                Err(error)
            }
        }
    }

    /// [`Shared::power_on`], waiting (a little) for the previous life's last tasks to let go
    /// of the store.
    async fn power_on_again(&self, hardware: &mut Hardware) -> Result<(), SimError> {
        let deadline = tokio::time::Instant::now() + REOPEN_WAIT;
        loop {
            match self.power_on(hardware) {
                Err(SimError::Start(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// Ends the current life: the connection closes (1000), the store is released.
    async fn power_off(&self, hardware: &mut Hardware) {
        let Some(life) = hardware.life.take() else {
            return;
        };
        let signals = &self.signals;
        signals.current.store(0, Ordering::Relaxed);
        signals.connected.store(false, Ordering::Relaxed);
        signals
            .link
            .send_replace(Link::Failed("the station is off".into()));
        life.close().await;
        if let Some(error) = life.trace_error() {
            eprintln!("{}: the trace is incomplete: {error}", self.config.id);
        }
        signals.publish(|| StationEvent::PoweredOff);
    }

    /// After an accepted Reset: what is queued is delivered (a bounded wait), the connection
    /// closed (1000), and the station starts again on its store, which boots again (1.6
    /// section 5.14).
    async fn restart(&self, hardware: &mut Hardware, kind: ocpp_core::v16::ResetType) {
        self.signals.publish(|| StationEvent::Restarting(kind));
        self.signals
            .note(format_args!("{kind:?} reset: restarting"));
        if let Some(life) = hardware.life.clone() {
            life.drain(RESET_DRAIN).await;
        }
        self.power_off(hardware).await;
        if let Err(error) = self.power_on_again(hardware).await {
            self.signals.count_error();
            eprintln!("{}: restart after the reset: {error}", self.config.id);
        }
    }
}

/// Carries out, one after the other, the requests of the central system that the hardware
/// decides.
async fn carry_out_requests(station: Weak<Shared>, mut requests: mpsc::UnboundedReceiver<Request>) {
    while let Some(Request { life, event }) = requests.recv().await {
        let Some(shared) = station.upgrade() else {
            return;
        };
        let mut hardware = shared.hardware.lock().await;
        // A request of a machine that is gone cannot be answered any more.
        if hardware.life.as_ref().map(|l| l.number) != Some(life) {
            continue;
        }
        let what = request_name(&event);
        match hardware
            .on_request(&shared.config, &shared.signals, event)
            .await
        {
            Ok(Then::Nothing) => {}
            Ok(Then::Restart(kind)) => shared.restart(&mut hardware, kind).await,
            Err(error) => {
                shared.signals.count_error();
                shared.signals.note(format_args!("{what}: {error}"));
            }
        }
    }
}

fn request_name(event: &ocpp_core::charge_point::Event) -> &'static str {
    use ocpp_core::charge_point::Event as CpEvent;
    match event {
        CpEvent::RemoteStartRequested { .. } => "remote start",
        CpEvent::StopRequested { .. } => "stop",
        CpEvent::ResetRequested { .. } => "reset",
        CpEvent::UnlockRequested { .. } => "unlock",
        _ => "request",
    }
}

/// Advances the meter of every connector whose EV draws power, by the station's metering.
async fn run_meters(station: Weak<Shared>) {
    loop {
        let Some(metering) = station.upgrade().map(|s| s.config.metering) else {
            return;
        };
        tokio::time::sleep(metering.tick).await;
        let Some(shared) = station.upgrade() else {
            return;
        };
        if shared.closed.load(Ordering::Relaxed) {
            return;
        }
        let hardware = shared.hardware.lock().await;
        if let Err(error) = hardware.tick(metering.step_wh).await {
            eprintln!("{}: meter: {error}", shared.config.id);
        }
    }
}
