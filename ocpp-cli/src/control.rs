//! `ocpp cp --control ADDR`: simulated charge points driven by hand over a local HTTP API,
//! for test automation. A conformance test asks the operator of a station for "manual
//! actions" (plug in the cable, present a card, let the EV draw power, cut the network, power
//! the station off and on); this API performs them on the real Charge Point role, with its
//! redb store, against the central system under test.
//!
//! Each manual action is reported to the role as the hardware fact it is (cable plugged in
//! or out, EV drawing power or not, a fault, a driver authorized at a connector), and the
//! role derives the connector status from those facts and its own state (transaction,
//! availability, reservation, ConnectionTimeOut; 1.6 section 4.9). The facts are kept here
//! too, to show them and to start a transaction once both the cable and the driver are there.
//!
//! A network cut needs a station that keeps running while its connection is gone: each
//! station of a `ws://` URL connects through a TCP relay in this process, and going offline
//! drops the relayed connections and refuses new ones until the station comes back online.
//! (A `wss://` URL is not relayed: the TLS name check would fail against the relay.)
//! Transactions started by the central system (RemoteStartTransaction) and stops it asks for
//! (RemoteStopTransaction, Reset, UnlockConnector) are carried out like the manual actions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ocpp_core::charge_point::{ChargePoint, ChargePointError, Event as CpEvent, Reply};
use ocpp_core::time::Now;
use ocpp_core::trace::Recorder;
use ocpp_core::v16::{
    AuthorizationStatus, ChargePointErrorCode, Reason, RemoteStartStopStatus, ResetStatus,
    UnlockStatus,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, watch};

use crate::cp::{self, Args};
use crate::http::{Route, error, ok};
use crate::output::Out;
use crate::sim::{Station, StationConfig};

/// The OpenAPI 3 document of the control API.
pub(crate) const OPENAPI: &str = include_str!("../openapi/cp-control.json");

/// Energy a connector's meter advances by per tick while its EV draws power, Wh.
const STEP_WH: i32 = 250;

/// The physical facts of one connector.
#[derive(Debug, Clone, Default)]
struct Physical {
    plugged: bool,
    ev_drawing: bool,
    fault: Option<Fault>,
    /// An id tag accepted (presented, or sent by RemoteStartTransaction) that waits for the
    /// cable to start a transaction.
    authorized: Option<String>,
}

/// A fault of a connector, as its StatusNotification reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fault {
    error_code: ChargePointErrorCode,
    #[serde(default)]
    info: Option<String>,
    #[serde(default)]
    vendor_error_code: Option<String>,
}

impl From<Fault> for ocpp_core::charge_point::Fault {
    fn from(fault: Fault) -> Self {
        ocpp_core::charge_point::Fault {
            error_code: fault.error_code,
            info: fault.info,
            vendor_id: None,
            vendor_error_code: fault.vendor_error_code,
        }
    }
}

/// A TCP relay between a station and its central system, which can cut the network.
struct Relay {
    addr: SocketAddr,
    online: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: String) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (online, _) = watch::channel(true);
        let switch = online.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*switch.borrow() {
                    // Offline: the connection attempt fails.
                    continue;
                }
                let mut cut = switch.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|online| !*online) => {}
                    }
                });
            }
        });
        Ok(Relay { addr, online })
    }
}

/// `ws://HOST:PORT/PATH` as `(HOST:PORT, /PATH)`; `None` for other schemes.
fn split_ws_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("ws://")?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok() && !port.contains(']'));
    let target = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Some((target, path.to_owned()))
}

/// What changes while a station runs.
struct Inner {
    /// The running station; `None` after `disconnect`.
    station: Option<Arc<Station>>,
    connectors: Vec<Physical>,
    /// The network is cut (by `offline`).
    offline: bool,
}

/// One station under control.
struct Controlled {
    id: String,
    config: StationConfig,
    relay: Option<Relay>,
    tick: Duration,
    inner: Mutex<Inner>,
}

/// Why an action could not be done, as an HTTP answer.
type Refusal = (StatusCode, String);

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    (status, message.into())
}

impl Controlled {
    async fn start(mut config: StationConfig, tick: Duration) -> Result<Arc<Controlled>, String> {
        let relay = match split_ws_url(&config.url) {
            Some((target, path)) => {
                let relay = Relay::start(target)
                    .await
                    .map_err(|e| format!("cannot start the network relay: {e}"))?;
                config.url = format!("ws://{}{path}", relay.addr);
                Some(relay)
            }
            None => None,
        };
        // Index 0 is the station as a whole, which only faults.
        let connectors = vec![Physical::default(); config.connectors as usize + 1];
        let controlled = Arc::new(Controlled {
            id: config.id.clone(),
            config,
            relay,
            tick,
            inner: Mutex::new(Inner {
                station: None,
                connectors,
                offline: false,
            }),
        });
        {
            let mut inner = controlled.inner.lock().await;
            controlled.power_on(&mut inner)?;
        }
        tokio::spawn(meter(Arc::downgrade(&controlled)));
        Ok(controlled)
    }

    /// Starts the station from its store and takes over its events.
    fn power_on(self: &Arc<Self>, inner: &mut Inner) -> Result<(), String> {
        let station = Arc::new(Station::start(self.config.clone())?);
        let events = station.forward_events();
        tokio::spawn(on_events(Arc::downgrade(self), events));
        inner.station = Some(station);
        // What the cable was doing is still true; an id tag waiting for it is forgotten.
        for physical in &mut inner.connectors {
            physical.authorized = None;
        }
        Ok(())
    }

    /// Stops the station: its connection closes (after a network cut, without a close frame
    /// reaching the central system) and its store is released.
    async fn power_off(&self, inner: &mut Inner) {
        let Some(mut station) = inner.station.take() else {
            return;
        };
        // Tasks hold a clone only for the length of one command.
        for _ in 0..200 {
            match Arc::try_unwrap(station) {
                Ok(owned) => {
                    owned.close().await;
                    return;
                }
                Err(shared) => {
                    station = shared;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        let _ = station.handle().close(1000, "power off");
    }

    fn station(inner: &Inner) -> Result<Arc<Station>, Refusal> {
        inner.station.clone().ok_or_else(|| {
            refuse(
                StatusCode::CONFLICT,
                "the station is disconnected (POST .../connect starts it)",
            )
        })
    }

    /// The index of `connector` in `Inner::connectors`; 0, the station as a whole, only for
    /// faults.
    fn check_connector(&self, connector: u32, action: &str) -> Result<usize, Refusal> {
        if connector > self.config.connectors {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "{} has connectors 1 to {} (0 is the station as a whole), not {connector}",
                    self.id, self.config.connectors
                ),
            ));
        }
        if connector == 0 && !matches!(action, "fault" | "clear-fault") {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "connector 0 is the station as a whole: it can only fault and be cleared",
            ));
        }
        Ok(connector as usize)
    }

    /// Reports a hardware fact to the running station. While it is off the fact is only kept
    /// here, and [`Controlled::report_all`] tells it when it starts again (its own record of
    /// its facts survives a restart, not what changed meanwhile).
    async fn fact(
        &self,
        inner: &Inner,
        report: impl FnOnce(&mut Recorder<ChargePoint>, Now) -> Result<(), ChargePointError>
        + Send
        + 'static,
    ) -> Result<(), Refusal> {
        let Some(station) = inner.station.clone() else {
            return Ok(());
        };
        station
            .handle()
            .run(report)
            .await
            .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .map_err(|e| refuse(StatusCode::CONFLICT, e.to_string()))
    }

    /// Reports every connector's facts, as they are now, to a station that was off.
    async fn report_all(&self, inner: &Inner) -> Result<(), Refusal> {
        for (physical, connector) in inner.connectors.iter().zip(0u32..) {
            let (plugged, drawing, fault) = (
                physical.plugged,
                physical.ev_drawing,
                physical.fault.clone(),
            );
            self.fact(inner, move |cp, now| {
                if connector > 0 {
                    if plugged {
                        cp.plug_in(now, connector)?;
                    } else {
                        cp.unplug(now, connector)?;
                    }
                    cp.set_ev_suspended(now, connector, !drawing)?;
                }
                match fault {
                    Some(fault) => cp.report_fault(now, connector, fault.into()),
                    None => cp.clear_fault(now, connector),
                }
            })
            .await?;
        }
        Ok(())
    }

    /// Starts a transaction on `connector` with its waiting id tag, if the cable is in.
    async fn start_if_ready(&self, inner: &mut Inner, connector: u32) -> Result<(), Refusal> {
        let index = connector as usize;
        let physical = &inner.connectors[index];
        let (true, Some(tag), None, None) = (
            physical.plugged,
            physical.authorized.clone(),
            physical.fault.as_ref(),
            inner.connectors[0].fault.as_ref(),
        ) else {
            return Ok(());
        };
        let station = Controlled::station(inner)?;
        let meter = station.meter(connector);
        station
            .handle()
            .run(move |cp, now| cp.start_transaction(now, connector, tag, meter, None))
            .await
            .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .map_err(|e| refuse(StatusCode::CONFLICT, e.to_string()))?;
        let drawing = inner.connectors[index].ev_drawing;
        inner.connectors[index].authorized = None;
        // Until the EV draws power, the transaction is SuspendedEV.
        self.fact(inner, move |cp, now| {
            cp.set_ev_suspended(now, connector, !drawing)
        })
        .await
    }

    /// Stops the transaction on `connector`, if one runs.
    async fn stop(
        &self,
        inner: &mut Inner,
        connector: u32,
        reason: Option<Reason>,
        id_tag: Option<String>,
    ) -> Result<bool, Refusal> {
        let station = Controlled::station(inner)?;
        let meter = station.meter(connector);
        let stopped = station
            .handle()
            .run(move |cp, now| {
                if cp.transaction(connector).is_none() {
                    return Ok(false);
                }
                cp.stop_transaction(now, connector, meter, reason, id_tag)
                    .map(|_| true)
            })
            .await
            .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .map_err(|e| refuse(StatusCode::CONFLICT, e.to_string()))?;
        Ok(stopped)
    }

    /// The state of the station as the API shows it.
    async fn state(&self) -> Value {
        let inner = self.inner.lock().await;
        self.state_of(&inner).await
    }

    async fn state_of(&self, inner: &Inner) -> Value {
        let online = !inner.offline;
        let Some(station) = inner.station.clone() else {
            return json!({
                "id": self.id, "running": false, "connected": false, "online": online,
                "fault": inner.connectors[0].fault.as_ref().map(|f| f.error_code),
                "connectors": self.connectors_json(inner, &BTreeMap::new()),
            });
        };
        let connected = station.is_connected();
        let count = self.config.connectors;
        let machine = station
            .handle()
            .run(move |cp, _| {
                let connectors: BTreeMap<u32, Value> = (1..=count)
                    .map(|c| {
                        let status = cp.connector_status(c).cloned();
                        let transaction = cp.transaction(c);
                        (
                            c,
                            json!({
                                "status": status.as_ref().map(|s| s.status),
                                "errorCode": status.as_ref().map(|s| s.error_code),
                                "operative": cp.is_operative(c),
                                "transaction": transaction.map(|(key, id)| json!({
                                    "key": key.0, "transactionId": id,
                                })),
                            }),
                        )
                    })
                    .collect();
                (
                    format!("{:?}", cp.registration()),
                    cp.queued_transaction_messages(),
                    connectors,
                )
            })
            .await;
        let (registration, queued, mut connectors) = match machine {
            Ok(state) => (Some(state.0), Some(state.1), state.2),
            Err(_) => (None, None, BTreeMap::new()),
        };
        for (connector, value) in &mut connectors {
            value["meterWh"] = json!(station.meter(*connector));
        }
        json!({
            "id": self.id,
            "running": true,
            "connected": connected,
            "online": online,
            "fault": inner.connectors[0].fault.as_ref().map(|f| f.error_code),
            "registration": registration,
            "queuedTransactionMessages": queued,
            "connectors": self.connectors_json(inner, &connectors),
        })
    }

    fn connectors_json(&self, inner: &Inner, machine: &BTreeMap<u32, Value>) -> Vec<Value> {
        inner
            .connectors
            .iter()
            .zip(0u32..)
            .skip(1)
            .map(|(physical, connector)| {
                let mut value = json!({
                    "connectorId": connector,
                    "plugged": physical.plugged,
                    "evDrawing": physical.ev_drawing,
                    "fault": physical.fault.as_ref().map(|f| f.error_code),
                    "waitingIdTag": physical.authorized.as_ref(),
                });
                if let (Some(object), Some(Value::Object(more))) =
                    (value.as_object_mut(), machine.get(&connector))
                {
                    object.extend(more.clone());
                }
                value
            })
            .collect()
    }
}

/// Advances the meter of every connector whose EV draws power in a transaction.
async fn meter(controlled: std::sync::Weak<Controlled>) {
    loop {
        let Some(tick) = controlled.upgrade().map(|c| c.tick) else {
            return;
        };
        tokio::time::sleep(tick).await;
        let Some(controlled) = controlled.upgrade() else {
            return;
        };
        let inner = controlled.inner.lock().await;
        let Some(station) = inner.station.clone() else {
            continue;
        };
        for (physical, connector) in inner.connectors.iter().zip(0u32..).skip(1) {
            if !physical.ev_drawing
                || physical.fault.is_some()
                || inner.connectors[0].fault.is_some()
            {
                continue;
            }
            let running = station
                .handle()
                .run(move |cp, _| cp.transaction(connector).is_some())
                .await
                .unwrap_or(false);
            if running && let Err(e) = station.add_energy(connector, STEP_WH).await {
                eprintln!("{}: meter of connector {connector}: {e}", controlled.id);
            }
        }
    }
}

/// Carries out what the central system asks of the station.
async fn on_events(
    controlled: std::sync::Weak<Controlled>,
    mut events: mpsc::UnboundedReceiver<CpEvent>,
) {
    while let Some(event) = events.recv().await {
        let Some(controlled) = controlled.upgrade() else {
            return;
        };
        if let Err((_, message)) = on_event(&controlled, event).await {
            eprintln!("{}: {message}", controlled.id);
        }
    }
}

async fn on_event(controlled: &Arc<Controlled>, event: CpEvent) -> Result<(), Refusal> {
    let mut inner = controlled.inner.lock().await;
    let station = Controlled::station(&inner)?;
    let reply = |decision, reply: Reply| {
        let station = station.clone();
        async move {
            station
                .handle()
                .run(move |cp, now| cp.reply(now, decision, reply))
                .await
                .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
                .map_err(|e| refuse(StatusCode::CONFLICT, e.to_string()))
        }
    };
    match event {
        CpEvent::RemoteStartRequested {
            decision,
            connector,
            id_tag,
            authorize_first,
            ..
        } => {
            // The station picks a free connector when none is named (section 5.11).
            let count = controlled.config.connectors;
            let busy: Vec<bool> = station
                .handle()
                .run(move |cp, _| (1..=count).map(|c| cp.transaction(c).is_some()).collect())
                .await
                .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
            let free = |c: &u32| {
                let physical = &inner.connectors[*c as usize];
                !busy[*c as usize - 1]
                    && physical.fault.is_none()
                    && inner.connectors[0].fault.is_none()
                    && physical.authorized.is_none()
            };
            let chosen_here = connector.is_none();
            let chosen = match connector {
                Some(c) => Some(c).filter(free),
                None => (1..=controlled.config.connectors).find(free),
            };
            let Some(connector) = chosen else {
                return reply(
                    decision,
                    Reply::RemoteStart(RemoteStartStopStatus::Rejected),
                )
                .await;
            };
            reply(
                decision,
                Reply::RemoteStart(RemoteStartStopStatus::Accepted),
            )
            .await?;
            if authorize_first {
                match station.authorize(&id_tag).await {
                    Ok((info, _)) if info.status == AuthorizationStatus::Accepted => {}
                    _ => return Ok(()),
                }
            }
            if chosen_here {
                // For a given connector the role prepared it already.
                let tag = id_tag.clone();
                controlled
                    .fact(&inner, move |cp, now| cp.prepare(now, connector, tag))
                    .await?;
            }
            inner.connectors[connector as usize].authorized = Some(id_tag);
            controlled.start_if_ready(&mut inner, connector).await
        }
        CpEvent::ConnectionTimedOut { connector, .. } => {
            // The role gave up on the driver (ConnectionTimeOut): the id tag waits no more.
            inner.connectors[connector as usize].authorized = None;
            Ok(())
        }
        CpEvent::StopRequested {
            connector, reason, ..
        } => controlled
            .stop(&mut inner, connector, Some(reason), None)
            .await
            .map(drop),
        CpEvent::UnlockRequested {
            decision,
            connector,
            transaction,
        } => {
            if transaction.is_some() {
                controlled
                    .stop(&mut inner, connector, Some(Reason::UnlockCommand), None)
                    .await?;
            }
            reply(decision, Reply::Unlock(UnlockStatus::Unlocked)).await
        }
        CpEvent::ResetRequested { decision, .. } => {
            reply(decision, Reply::Reset(ResetStatus::Accepted)).await?;
            // The machine asks for the running transactions to be stopped (StopRequested,
            // handled by this task once this event is done); the restart waits for those
            // stops, which are durable in the queue and sent after it if need be.
            let controlled = controlled.clone();
            tokio::spawn(async move {
                let count = controlled.config.connectors;
                for _ in 0..250 {
                    let running = station
                        .handle()
                        .run(move |cp, _| (1..=count).any(|c| cp.transaction(c).is_some()))
                        .await
                        .unwrap_or(false);
                    if !running {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                drop(station);
                if let Err((_, message)) = power_cycle(&controlled).await {
                    eprintln!("{}: reset: {message}", controlled.id);
                }
            });
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Power off and on: the station restarts from its store, as after a power loss.
async fn power_cycle(controlled: &Arc<Controlled>) -> Result<(), Refusal> {
    let mut inner = controlled.inner.lock().await;
    let relay_online = controlled.relay.as_ref().map(|r| *r.online.borrow());
    if let (Some(relay), Some(true)) = (&controlled.relay, relay_online) {
        // The power goes: nothing more reaches the central system.
        relay.online.send_replace(false);
    }
    controlled.power_off(&mut inner).await;
    let mut started = controlled.power_on(&mut inner);
    // The old store may still be closing.
    for _ in 0..50 {
        if started.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        started = controlled.power_on(&mut inner);
    }
    if let (Some(relay), Some(true)) = (&controlled.relay, relay_online) {
        relay.online.send_replace(true);
    }
    started.map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// Every station under control, by id.
pub(crate) struct Fleet {
    stations: BTreeMap<String, Arc<Controlled>>,
}

impl Fleet {
    fn get(&self, id: &str) -> Result<&Arc<Controlled>, Refusal> {
        self.stations
            .get(id)
            .ok_or_else(|| refuse(StatusCode::NOT_FOUND, format!("unknown station {id:?}")))
    }
}

type Shared = Arc<Fleet>;

/// Every route of the control API; a test compares them with the OpenAPI document.
pub(crate) fn routes() -> Vec<Route<Shared>> {
    let route = |method: Method, path, handler| Route {
        method,
        path,
        handler,
    };
    let station_action = |path| route(Method::POST, path, post(station_action));
    let connector_action = |path| route(Method::POST, path, post(connector_action));
    vec![
        route(Method::GET, "/openapi.json", get(openapi)),
        route(Method::GET, "/stations", get(list)),
        route(Method::GET, "/stations/{id}", get(one)),
        station_action("/stations/{id}/connect"),
        station_action("/stations/{id}/disconnect"),
        station_action("/stations/{id}/offline"),
        station_action("/stations/{id}/online"),
        station_action("/stations/{id}/power-cycle"),
        station_action("/stations/{id}/configuration"),
        connector_action("/stations/{id}/connectors/{connector}/plug-in"),
        connector_action("/stations/{id}/connectors/{connector}/unplug"),
        connector_action("/stations/{id}/connectors/{connector}/id-tag"),
        connector_action("/stations/{id}/connectors/{connector}/ev-start"),
        connector_action("/stations/{id}/connectors/{connector}/ev-stop"),
        connector_action("/stations/{id}/connectors/{connector}/fault"),
        connector_action("/stations/{id}/connectors/{connector}/clear-fault"),
    ]
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list(State(fleet): State<Shared>) -> Response {
    let mut all = Vec::new();
    for controlled in fleet.stations.values() {
        all.push(controlled.state().await);
    }
    ok(Value::Array(all))
}

async fn one(State(fleet): State<Shared>, Path(id): Path<String>) -> Response {
    match fleet.get(&id) {
        Ok(controlled) => ok(controlled.state().await),
        Err((status, message)) => error(status, message),
    }
}

/// Reads a JSON body of type `T`.
fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetKey {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IdTag {
    id_tag: String,
}

/// The answer of an action: the station's state after it, and what the action found.
async fn answer(controlled: &Controlled, inner: &Inner, result: Value) -> Response {
    let mut state = controlled.state_of(inner).await;
    state["result"] = result;
    ok(state)
}

async fn station_action(
    State(fleet): State<Shared>,
    Path(id): Path<String>,
    method_path: axum::http::Uri,
    bytes: Bytes,
) -> Response {
    let action = method_path
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let done = async {
        let controlled = fleet.get(&id)?;
        if action == "power-cycle" {
            power_cycle(controlled).await?;
            let inner = controlled.inner.lock().await;
            return Ok(answer(controlled, &inner, json!("restarted from the store")).await);
        }
        let mut inner = controlled.inner.lock().await;
        let result = match action.as_str() {
            "connect" => {
                if inner.station.is_some() {
                    json!("running already")
                } else {
                    controlled
                        .power_on(&mut inner)
                        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e))?;
                    // The cable, the EV or a fault may have changed while it was off.
                    controlled.report_all(&inner).await?;
                    json!("started")
                }
            }
            "disconnect" => {
                controlled.power_off(&mut inner).await;
                json!("stopped")
            }
            "offline" | "online" => {
                let Some(relay) = &controlled.relay else {
                    return Err(refuse(
                        StatusCode::CONFLICT,
                        "a network cut needs a ws:// URL (wss:// is not relayed)",
                    ));
                };
                inner.offline = action == "offline";
                relay.online.send_replace(!inner.offline);
                json!(action)
            }
            _ => {
                let SetKey { key, value } = body(&bytes)?;
                let station = Controlled::station(&inner)?;
                station
                    .handle()
                    .run(move |cp, now| cp.set_configuration(now, &key, &value))
                    .await
                    .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
                    .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
                json!("set")
            }
        };
        Ok(answer(controlled, &inner, result).await)
    };
    done.await
        .unwrap_or_else(|(status, message)| error(status, message))
}

async fn connector_action(
    State(fleet): State<Shared>,
    Path((id, connector)): Path<(String, String)>,
    uri: axum::http::Uri,
    bytes: Bytes,
) -> Response {
    let action = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    let done = async {
        let controlled = fleet.get(&id)?;
        let connector: u32 = connector.parse().map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                format!("a connector is a number, not {connector:?}"),
            )
        })?;
        let index = controlled.check_connector(connector, &action)?;
        let mut inner = controlled.inner.lock().await;
        let mut result = Value::Null;
        match action.as_str() {
            "plug-in" => {
                inner.connectors[index].plugged = true;
                controlled
                    .fact(&inner, move |cp, now| cp.plug_in(now, connector))
                    .await?;
                controlled.start_if_ready(&mut inner, connector).await?;
            }
            "unplug" => {
                // During a transaction the role stops it (StopTransactionOnEVSideDisconnect,
                // 9.1.23) at the meter reading of this very moment.
                let meter = inner.station.as_ref().map(|s| s.meter(connector));
                controlled
                    .fact(&inner, move |cp, now| {
                        if let Some(meter) = meter {
                            cp.report_meter(now, connector, meter)?;
                        }
                        cp.unplug(now, connector)
                    })
                    .await?;
                let physical = &mut inner.connectors[index];
                physical.plugged = false;
                physical.ev_drawing = false;
            }
            "id-tag" => {
                let IdTag { id_tag } = body(&bytes)?;
                result = present_id_tag(controlled, &mut inner, connector, id_tag).await?;
            }
            "ev-start" | "ev-stop" => {
                let drawing = action == "ev-start";
                inner.connectors[index].ev_drawing = drawing;
                controlled
                    .fact(&inner, move |cp, now| {
                        cp.set_ev_suspended(now, connector, !drawing)
                    })
                    .await?;
            }
            "fault" => {
                let fault: Fault = body(&bytes)?;
                inner.connectors[index].fault = Some(fault.clone());
                controlled
                    .fact(&inner, move |cp, now| {
                        cp.report_fault(now, connector, fault.into())
                    })
                    .await?;
            }
            _ => {
                inner.connectors[index].fault = None;
                controlled
                    .fact(&inner, move |cp, now| cp.clear_fault(now, connector))
                    .await?;
            }
        }
        Ok(answer(controlled, &inner, result).await)
    };
    done.await
        .unwrap_or_else(|(status, message)| error(status, message))
}

/// An id tag is presented at `connector`. With a transaction running, the stack decides
/// whether it stops it (`ChargePoint::stop_by_id_tag`: the tag that started it, or an
/// accepted tag of its group; 1.6 section 3.5, OCTT TC_068_CS / TC_069_CS) and stops it
/// itself. Without one, an accepted tag waits for the cable (or starts at once).
async fn present_id_tag(
    controlled: &Controlled,
    inner: &mut Inner,
    connector: u32,
    id_tag: String,
) -> Result<Value, Refusal> {
    let index = connector as usize;
    let station = Controlled::station(inner)?;
    let running = station
        .handle()
        .run(move |cp, _| cp.transaction(connector).is_some())
        .await
        .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    if running {
        let info = station
            .present_at_transaction(connector, &id_tag)
            .await
            .map_err(|e| refuse(StatusCode::BAD_GATEWAY, e))?;
        // The machine stopped it (or not) in the step that decided: no waiting for events.
        let stopped = station
            .handle()
            .run(move |cp, _| cp.transaction(connector).is_none())
            .await
            .map_err(|e| refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        return Ok(match info {
            Some(info) => json!({"stopped": stopped, "idTagInfo": info}),
            None => json!({"stopped": stopped}),
        });
    }
    let (info, _) = station
        .authorize(&id_tag)
        .await
        .map_err(|e| refuse(StatusCode::BAD_GATEWAY, e))?;
    if info.status == AuthorizationStatus::Accepted {
        // Preparing, and ConnectionTimeOut to plug in (the role's; a reservation for
        // another id tag refuses it).
        let tag = id_tag.clone();
        controlled
            .fact(inner, move |cp, now| cp.prepare(now, connector, tag))
            .await?;
        inner.connectors[index].authorized = Some(id_tag);
        controlled.start_if_ready(inner, connector).await?;
    }
    Ok(json!({"idTagInfo": info}))
}

/// The control API's router over `fleet`.
fn router(fleet: Shared) -> Router {
    crate::http::build_router(routes()).with_state(fleet)
}

/// Runs `ocpp cp --control ADDR`: the stations, and the API until SIGINT or SIGTERM. `Ok(true)`
/// when every transaction message was delivered at the end.
pub(crate) async fn serve(args: &Args, addr: &str, out: &mut Out) -> Result<bool, String> {
    let configs = cp::station_configs(args)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (--control): {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("--control: {e}"))?;
    let tick = Duration::from_millis(args.interval_ms.max(1));
    let mut stations = BTreeMap::new();
    let mut accepted = Vec::new();
    for config in configs {
        let wait = config.connect_timeout + Duration::from_secs(10);
        let controlled = Controlled::start(config, tick).await?;
        if let Some(station) = controlled.inner.lock().await.station.clone() {
            let id = controlled.id.clone();
            // All stations connect at once; each must be accepted in time.
            accepted.push(async move {
                station
                    .accepted(wait)
                    .await
                    .map_err(|e| format!("{id}: {e}"))
            });
        }
        stations.insert(controlled.id.clone(), controlled);
    }
    for outcome in futures_util::future::join_all(accepted).await {
        outcome?;
    }
    out.line(&format!("control api on http://{local}"));
    out.line(&format!(
        "stations: {}",
        stations.keys().cloned().collect::<Vec<_>>().join(" ")
    ));
    out.flush();
    let fleet = Arc::new(Fleet { stations });
    axum::serve(listener, router(fleet.clone()))
        .with_graceful_shutdown(cp::wait_for_signal())
        .await
        .map_err(|e| format!("the control API stopped: {e}"))?;
    let mut left = 0;
    for controlled in fleet.stations.values() {
        let mut inner = controlled.inner.lock().await;
        if let Some(station) = inner.station.clone() {
            left += station.drain(Duration::from_secs(5)).await;
        }
        controlled.power_off(&mut inner).await;
    }
    out.line(&format!("undelivered transaction messages: {left}"));
    Ok(left == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes_the_router_serves() {
        crate::http::assert_documented(OPENAPI, &routes());
    }

    #[test]
    fn ws_urls_split_into_the_relay_target_and_the_path() {
        assert_eq!(
            split_ws_url("ws://127.0.0.1:9000/ocpp"),
            Some(("127.0.0.1:9000".to_owned(), "/ocpp".to_owned()))
        );
        assert_eq!(
            split_ws_url("ws://csms.example"),
            Some(("csms.example:80".to_owned(), String::new()))
        );
        assert_eq!(
            split_ws_url("ws://[::1]:9000/"),
            Some(("[::1]:9000".to_owned(), "/".to_owned()))
        );
        assert_eq!(split_ws_url("wss://csms.example/ocpp"), None);
    }
}
