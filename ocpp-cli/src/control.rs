//! `ocpp cp --control ADDR`: simulated charge points driven by hand over a local HTTP API,
//! for test automation. A conformance test asks the operator of a station for "manual
//! actions" (plug in the cable, present a card, let the EV draw power, cut the network, power
//! the station off and on); each route performs one on an [`ocpp_sim::Station`] (the real
//! Charge Point role with its redb store, against the central system under test) and
//! answers with the station's state. This module is only the HTTP layer: the routes, the
//! JSON of the state and of the errors, and the serving loop.
//!
//! The stations run with [`Operator::Manual`](ocpp_sim::Operator::Manual): every fact comes
//! from here, a RemoteStartTransaction waits for the cable, a stop leaves it in. Each
//! station of a `ws://` URL connects through the simulator's network switch, so that
//! going offline drops its connection and refuses new ones until it comes back online (a
//! `wss://` URL is not relayed: the TLS name check would fail against the relay).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ocpp_core::v16::ChargePointErrorCode;
use ocpp_sim::{IdTagOutcome, SimError, Station, StationConfig, StationState};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::http::{Route, error, ok};
use crate::output::Out;

/// The OpenAPI 3 document of the control API.
pub(crate) const OPENAPI: &str = include_str!("../openapi/cp-control.json");

/// A fault of a connector, as the API takes it (its StatusNotification's fields).
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

/// Why an action could not be done, as an HTTP answer.
type Refusal = (StatusCode, String);

/// The HTTP answer to a simulator error.
fn refusal(error: SimError) -> Refusal {
    let status = match &error {
        SimError::NoSuchConnector { .. } => StatusCode::NOT_FOUND,
        SimError::StationAsAWhole | SimError::Configuration(_) => StatusCode::BAD_REQUEST,
        SimError::Off => {
            return (
                StatusCode::CONFLICT,
                "the station is disconnected (POST .../connect starts it)".to_owned(),
            );
        }
        SimError::NoAnswer { .. } => StatusCode::BAD_GATEWAY,
        SimError::Gone => StatusCode::SERVICE_UNAVAILABLE,
        SimError::Start(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    };
    (status, error.to_string())
}

/// The station's state as the API shows it (`StationState` in the OpenAPI document).
fn state_json(state: &StationState) -> Value {
    let connectors: Vec<Value> = state
        .connectors
        .iter()
        .map(|connector| {
            let mut value = json!({
                "connectorId": connector.connector,
                "plugged": connector.plugged,
                "evDrawing": connector.ev_drawing,
                "fault": connector.fault,
                "waitingIdTag": connector.waiting_id_tag,
            });
            if let Some(role) = &connector.role {
                let status = role.status.as_ref();
                value["status"] = json!(status.map(|s| s.status));
                value["errorCode"] = json!(status.map(|s| s.error_code));
                value["operative"] = json!(role.operative);
                value["transaction"] = json!(role.transaction.map(|(key, id)| json!({
                    "key": key.0, "transactionId": id,
                })));
                value["meterWh"] = json!(role.meter_wh);
            }
            value
        })
        .collect();
    let mut value = json!({
        "id": state.id,
        "running": state.running,
        "connected": state.connected,
        "online": state.online,
        "fault": state.fault,
        "connectors": connectors,
    });
    if state.running {
        value["registration"] = json!(state.registration.map(|r| format!("{r:?}")));
        value["queuedTransactionMessages"] = json!(state.queued_transaction_messages);
    }
    value
}

/// Every station under control, by id.
pub(crate) struct Fleet {
    stations: BTreeMap<String, Station>,
}

impl Fleet {
    fn get(&self, id: &str) -> Result<&Station, Refusal> {
        self.stations
            .get(id)
            .ok_or_else(|| (StatusCode::NOT_FOUND, format!("unknown station {id:?}")))
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
    for station in fleet.stations.values() {
        all.push(state_json(&station.state().await));
    }
    ok(Value::Array(all))
}

async fn one(State(fleet): State<Shared>, Path(id): Path<String>) -> Response {
    match fleet.get(&id) {
        Ok(station) => ok(state_json(&station.state().await)),
        Err((status, message)) => error(status, message),
    }
}

/// Reads a JSON body of type `T`.
fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(bytes)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
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
async fn answer(station: &Station, result: Value) -> Response {
    let mut state = state_json(&station.state().await);
    state["result"] = result;
    ok(state)
}

/// The last segment of the request's path: the action.
fn action_of(uri: &axum::http::Uri) -> String {
    uri.path().rsplit('/').next().unwrap_or_default().to_owned()
}

async fn station_action(
    State(fleet): State<Shared>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    bytes: Bytes,
) -> Response {
    let action = action_of(&uri);
    let done = async {
        let station = fleet.get(&id)?;
        let result = match action.as_str() {
            "power-cycle" => {
                station.power_cycle().await.map_err(refusal)?;
                json!("restarted from the store")
            }
            "connect" => match station.power_on().await.map_err(refusal)? {
                true => json!("started"),
                false => json!("running already"),
            },
            "disconnect" => {
                station.power_off().await;
                json!("stopped")
            }
            "offline" | "online" => {
                station
                    .set_online(action == "online")
                    .await
                    .map_err(refusal)?;
                json!(action)
            }
            _ => {
                let SetKey { key, value } = body(&bytes)?;
                station
                    .set_configuration(&key, &value)
                    .await
                    .map_err(refusal)?;
                json!("set")
            }
        };
        Ok::<_, Refusal>(answer(station, result).await)
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
    let action = action_of(&uri);
    let done = async {
        let station = fleet.get(&id)?;
        let connector: u32 = connector.parse().map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                format!("a connector is a number, not {connector:?}"),
            )
        })?;
        let mut result = Value::Null;
        match action.as_str() {
            "plug-in" => station.plug_in(connector).await,
            "unplug" => station.unplug(connector).await,
            "id-tag" => {
                let IdTag { id_tag } = body(&bytes)?;
                let outcome = station
                    .present_id_tag(connector, id_tag)
                    .await
                    .map_err(refusal)?;
                result = match outcome {
                    IdTagOutcome::Authorized(info) => json!({"idTagInfo": info}),
                    IdTagOutcome::AtTransaction {
                        stopped,
                        id_tag_info: Some(info),
                    } => json!({"stopped": stopped, "idTagInfo": info}),
                    IdTagOutcome::AtTransaction { stopped, .. } => json!({"stopped": stopped}),
                };
                Ok(())
            }
            "ev-start" | "ev-stop" => {
                station
                    .set_ev_drawing(connector, action == "ev-start")
                    .await
            }
            "fault" => {
                let fault: Fault = body(&bytes)?;
                station.report_fault(connector, fault.into()).await
            }
            _ => station.clear_fault(connector).await,
        }
        .map_err(refusal)?;
        Ok::<_, Refusal>(answer(station, result).await)
    };
    done.await
        .unwrap_or_else(|(status, message)| error(status, message))
}

/// The control API's router over `fleet`.
fn router(fleet: Shared) -> Router {
    crate::http::build_router(routes()).with_state(fleet)
}

/// Runs `ocpp cp --control ADDR` with the stations of `configs`: starts them, serves the
/// API until SIGINT or SIGTERM, then delivers what is queued and closes them. `Ok(true)`
/// when every transaction message was delivered at the end.
pub(crate) async fn serve(
    configs: Vec<StationConfig>,
    addr: &str,
    out: &mut Out,
) -> Result<bool, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (--control): {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("--control: {e}"))?;
    let mut stations = BTreeMap::new();
    let mut accepted = Vec::new();
    for config in configs {
        let wait = config.connect_timeout + Duration::from_secs(10);
        let station = Station::start(config).await.map_err(|e| e.to_string())?;
        let waiting = station.clone();
        // All stations connect at once; each must be accepted in time.
        accepted.push(async move {
            waiting
                .accepted(wait)
                .await
                .map_err(|e| format!("{}: {e}", waiting.id()))
        });
        stations.insert(station.id().to_owned(), station);
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
        .with_graceful_shutdown(crate::wait_for_signal())
        .await
        .map_err(|e| format!("the control API stopped: {e}"))?;
    let mut left = 0;
    for station in fleet.stations.values() {
        left += station.drain(Duration::from_secs(5)).await;
        station.shutdown().await;
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
}
