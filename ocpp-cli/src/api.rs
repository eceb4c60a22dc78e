//! The JSON REST API of `ocpp csms --http ADDR`: the stations and transactions of the ledger,
//! and any Central System call of OCPP 1.6 sent to a connected station on request.
//!
//! The API is for operators and test automation (the interop scripts make our central system
//! send calls through it), so its contract is fixed by `ocpp-cli/openapi/csms.json`, which is
//! served at `GET /openapi.json`; a test keeps the router and the document in step.
//!
//! A call goes through the same `CentralSystem` machine as everything else on the connection:
//! its payload is validated against the action's schema before anything is sent (400 with
//! the violations), the machine queues it behind a call in flight (OCPP-J allows one at a
//! time), and the HTTP request waits for [`CallCompleted`] of that call in the connection
//! machine's `ocpp_io::Awaiting` wrapper. The wait is registered inside the command that
//! makes the call, on the connection's driver, so the answer cannot arrive before someone
//! waits for it; it ends with the connection, which the request sees as the station gone
//! (503).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ocpp_core::central_system::{
    CallCompleted, CentralSystem, CentralSystemError, Event as CsEvent,
};
use ocpp_core::rpc::{CallFailure, CallHandle};
use ocpp_core::time::Now;
use ocpp_core::trace::Recorder;
use ocpp_core::v16::{Action, Request, Sender};
use ocpp_core::validate::{ValidationError, validate};
use ocpp_core::{PayloadKind, Version};
use serde_json::{Value, json};

use ocpp_csms::{Station, Transaction};

use crate::csms::Csms;
use crate::http::{Route, build_router, error, ok};

/// The OpenAPI 3 document of this API.
pub(crate) const OPENAPI: &str = include_str!("../openapi/csms.json");

/// How long an HTTP request waits for a call at most: the machine times the call out after
/// its call timeout once it is sent; this bound also covers the time it waits behind other
/// calls.
fn call_wait(csms: &Csms) -> Duration {
    (csms.call_timeout() * 3).max(Duration::from_secs(60))
}

/// Every route the API serves; the router is built from this list and a test compares it
/// with the OpenAPI document.
pub(crate) fn routes() -> Vec<Route<Arc<Csms>>> {
    let route = |method: Method, path, handler| Route {
        method,
        path,
        handler,
    };
    vec![
        route(Method::GET, "/openapi.json", get(openapi)),
        route(Method::GET, "/stations", get(list_stations)),
        route(Method::GET, "/stations/{id}", get(one_station)),
        route(Method::GET, "/transactions", get(list_transactions)),
        route(Method::GET, "/transactions/{id}", get(one_transaction)),
        route(
            Method::POST,
            "/stations/{id}/calls/{action}",
            post(call_station),
        ),
    ]
}

/// The API's router over `csms`.
pub(crate) fn router(csms: Arc<Csms>) -> Router {
    build_router(routes()).with_state(csms)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The API's view of a station: the ledger's record and whether it is connected now.
fn station_json(station: &Station, connected: bool) -> Value {
    let connectors: Vec<Value> = station
        .connectors
        .keys()
        .chain(station.meter_values.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|connector| {
            let status = station.connectors.get(connector);
            json!({
                "connectorId": connector,
                "status": status.map(|s| s.status),
                "errorCode": status.map(|s| s.error_code),
                "info": status.and_then(|s| s.info.clone()),
                "vendorId": status.and_then(|s| s.vendor_id.clone()),
                "vendorErrorCode": status.and_then(|s| s.vendor_error_code.clone()),
                "timestamp": status
                    .and_then(|s| s.timestamp)
                    .map(ocpp_core::primitives::datetime::format),
                "meterValues": station.meter_values.get(connector).cloned().unwrap_or_default(),
            })
        })
        .collect();
    json!({
        "id": station.id,
        "connected": connected,
        "boot": station.boot.as_deref(),
        "lastSeen": station.last_seen.map(ocpp_core::primitives::datetime::format),
        "connectors": connectors,
    })
}

/// Every station of the ledger, and the connected ones that have not sent anything yet.
fn stations_json(csms: &Csms) -> Vec<(String, Value)> {
    let connected = csms.live.ids();
    let mut stations: BTreeMap<String, Value> = csms
        .ledger
        .stations()
        .iter()
        .map(|s| (s.id.clone(), station_json(s, connected.contains(&s.id))))
        .collect();
    for id in connected {
        stations.entry(id.clone()).or_insert_with(|| {
            json!({"id": id, "connected": true, "boot": null, "lastSeen": null, "connectors": []})
        });
    }
    stations.into_iter().collect()
}

async fn list_stations(State(csms): State<Arc<Csms>>) -> Response {
    let list: Vec<Value> = stations_json(&csms).into_iter().map(|(_, v)| v).collect();
    ok(Value::Array(list))
}

async fn one_station(State(csms): State<Arc<Csms>>, Path(id): Path<String>) -> Response {
    match stations_json(&csms).into_iter().find(|(key, _)| *key == id) {
        Some((_, station)) => ok(station),
        None => error(StatusCode::NOT_FOUND, format!("unknown station {id:?}")),
    }
}

fn transaction_json(transaction: &Transaction) -> Value {
    json!({
        "id": transaction.id,
        "station": transaction.station,
        "connectorId": transaction.connector,
        "idTag": transaction.id_tag,
        "active": transaction.stopped.is_none(),
        "meterStart": transaction.meter_start,
        "meterStop": transaction.meter_stop,
        "startTime": transaction.started,
        "stopTime": transaction.stopped,
        "stopReason": transaction.stop_reason,
        "meterValues": transaction.meter_values,
    })
}

async fn list_transactions(
    State(csms): State<Arc<Csms>>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(StatusCode::BAD_REQUEST, "malformed query string");
    };
    if let Some(unknown) = query
        .keys()
        .find(|key| !matches!(key.as_str(), "station" | "active"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown query parameter {unknown:?} (known: station, active)"),
        );
    }
    let active = match query.get("active").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("active must be true or false, not {other:?}"),
            );
        }
    };
    let station = query.get("station");
    let list: Vec<Value> = csms
        .ledger
        .transactions()
        .iter()
        .filter(|t| station.is_none_or(|s| *s == t.station))
        .filter(|t| active.is_none_or(|a| a == t.stopped.is_none()))
        .map(transaction_json)
        .collect();
    ok(Value::Array(list))
}

async fn one_transaction(State(csms): State<Arc<Csms>>, Path(id): Path<String>) -> Response {
    let Ok(number) = id.parse::<i32>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("a transaction id is an integer, not {id:?}"),
        );
    };
    match csms.ledger.transaction(number) {
        Some(transaction) => ok(transaction_json(&transaction)),
        None => error(
            StatusCode::NOT_FOUND,
            format!("unknown transaction {number}"),
        ),
    }
}

/// Makes the call `request` on the machine, through its recorder (so that a trace holds it):
/// the typed `call` of its action.
/// Requests only a Charge Point sends are refused as the machine refuses them.
pub(crate) fn send(
    machine: &mut Recorder<CentralSystem>,
    now: Now,
    request: Request,
) -> Result<CallHandle, CentralSystemError> {
    macro_rules! typed {
        ($($action:ident),* $(,)?) => {
            match request {
                $(Request::$action(payload) => machine.call(now, &payload),)*
                other => Err(CentralSystemError::ChargePointAction(other.action())),
            }
        };
    }
    typed!(
        CancelReservation,
        CertificateSigned,
        ChangeAvailability,
        ChangeConfiguration,
        ClearCache,
        ClearChargingProfile,
        DataTransfer,
        DeleteCertificate,
        ExtendedTriggerMessage,
        GetCompositeSchedule,
        GetConfiguration,
        GetDiagnostics,
        GetInstalledCertificateIds,
        GetLocalListVersion,
        GetLog,
        InstallCertificate,
        RemoteStartTransaction,
        RemoteStopTransaction,
        ReserveNow,
        Reset,
        SendLocalList,
        SetChargingProfile,
        SignedUpdateFirmware,
        TriggerMessage,
        UnlockConnector,
        UpdateFirmware,
    )
}

/// Reads and checks a call's payload: JSON (an empty body is `{}`), valid for the request
/// schema of `action`, decodable.
fn request_of(action: Action, body: &[u8]) -> Result<Request, Box<Response>> {
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            ))
        })?
    };
    match validate(
        Version::V16,
        action.as_str(),
        PayloadKind::Request,
        &payload,
    ) {
        Ok(()) => {}
        Err(invalid @ ValidationError::Invalid { .. }) => {
            let violations: Vec<Value> = invalid
                .violations()
                .iter()
                .map(|v| json!({"pointer": v.pointer(), "kind": v.kind().as_str(), "message": v.message()}))
                .collect();
            let body = json!({
                "error": format!(
                    "invalid {action} request: {}",
                    invalid.violations().iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                ),
                "errorCode": invalid.error_code().wire_name(Version::V16),
                "violations": violations,
            });
            return Err(Box::new(
                (StatusCode::BAD_REQUEST, axum::Json(body)).into_response(),
            ));
        }
        Err(other) => {
            return Err(Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                other.to_string(),
            )));
        }
    }
    Request::from_payload(action, payload).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid {action} request: {e}"),
        ))
    })
}

async fn call_station(
    State(csms): State<Arc<Csms>>,
    Path((id, action_name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(action) = Action::from_name(&action_name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("OCPP 1.6 has no action {action_name:?} (names are case-sensitive)"),
        );
    };
    if action.sender() == Sender::ChargePoint {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{action} is sent by the charge point, not the central system"),
        );
    }
    let request = match request_of(action, &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let not_connected = |csms: &Csms| {
        if csms.ledger.station(&id).is_some() {
            error(
                StatusCode::NOT_FOUND,
                format!("station {id:?} is not connected"),
            )
        } else {
            error(StatusCode::NOT_FOUND, format!("unknown station {id:?}"))
        }
    };
    let Some(handle) = csms.live.get(&id) else {
        return not_connected(&csms);
    };
    // The wait is registered in the command that makes the call, so the outcome cannot pass
    // before it.
    let made = handle
        .run(move |machine, now| {
            let call = send(&mut machine.inner, now, request)?;
            Ok(machine.wait_for(call))
        })
        .await;
    let outcome = match made {
        Ok(Ok(outcome)) => outcome,
        Err(_) | Ok(Err(CentralSystemError::Offline)) => return not_connected(&csms),
        Ok(Err(refused @ CentralSystemError::NotAccepted { .. })) => {
            return error(StatusCode::CONFLICT, refused.to_string());
        }
        Ok(Err(refused)) => return error(StatusCode::BAD_REQUEST, refused.to_string()),
    };
    let wait = call_wait(&csms);
    let completed = match tokio::time::timeout(wait, outcome).await {
        Err(_) => {
            return error(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "no answer from {id} within {} s (calls queued behind others)",
                    wait.as_secs()
                ),
            );
        }
        Ok(Err(_dropped)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("station {id:?} disconnected during the call"),
            );
        }
        Ok(Ok(CsEvent::CallCompleted(completed))) => completed,
        Ok(Ok(other)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the call ended with an unexpected event: {other:?}"),
            );
        }
    };
    outcome_response(&id, completed)
}

/// The HTTP answer for how a call ended.
fn outcome_response(id: &str, completed: CallCompleted) -> Response {
    let action = completed.action;
    match completed.outcome {
        Ok(response) => ok(response.to_payload()),
        Err(CallFailure::Timeout) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("{id} did not answer the {action} call in time"),
        ),
        Err(CallFailure::Disconnected) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("station {id:?} disconnected during the call"),
        ),
        Err(CallFailure::CallError(call_error)) => {
            let body = json!({
                "error": format!("{id} answered the {action} call with CallError {}", call_error.code),
                "code": call_error.code,
                "description": call_error.description,
                "details": call_error.details,
            });
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
        Err(CallFailure::InvalidResponse { code, description }) => {
            let body = json!({
                "error": format!("{id} answered the {action} call with an invalid payload: {description}"),
                "code": code.wire_name(Version::V16),
                "description": description,
            });
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
        Err(CallFailure::MalformedResponse(frame)) => error(
            StatusCode::BAD_GATEWAY,
            format!("{id} answered the {action} call with a malformed frame: {frame}"),
        ),
        // A kind of failure the RPC layer may add later.
        Err(other) => error(
            StatusCode::BAD_GATEWAY,
            format!("the {action} call to {id} failed: {other:?}"),
        ),
    }
}

/// Binds the API's listener on `addr`.
pub(crate) async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the API on `listener` until `stop` resolves.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    csms: Arc<Csms>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(csms))
        .with_graceful_shutdown(stop)
        .await
    {
        eprintln!("error: the HTTP API stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ocpp_core::v16::{Action, Sender};

    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes_the_router_serves() {
        crate::http::assert_documented(OPENAPI, &routes());
    }

    #[test]
    fn the_openapi_document_lists_every_central_system_action() {
        let document: Value = serde_json::from_str(OPENAPI).expect("JSON");
        let listed: BTreeSet<&str> =
            document["components"]["parameters"]["Action"]["schema"]["enum"]
                .as_array()
                .expect("the Action parameter's enum")
                .iter()
                .filter_map(Value::as_str)
                .collect();
        let sendable: BTreeSet<&str> = Action::ALL
            .iter()
            .filter(|a| a.sender() != Sender::ChargePoint)
            .map(|a| a.as_str())
            .collect();
        assert_eq!(listed, sendable);
    }

    /// OCPP 1.6 chapter 5 and the security white paper: every action the Central System
    /// sends reaches the typed `call` (a missing arm would refuse it as a Charge Point action).
    #[test]
    fn every_central_system_action_is_dispatched_to_the_typed_call() {
        for action in Action::ALL
            .iter()
            .filter(|a| a.sender() != Sender::ChargePoint)
        {
            let payload = sample_payload(*action);
            let request = Request::from_payload(*action, payload).expect("a sample payload");
            let config = ocpp_core::central_system::CentralSystemConfig::new("CP");
            let mut machine = Recorder::new(
                &ocpp_core::central_system::CentralSystemSetup::of(&config),
                Box::new(ocpp_core::rpc::UuidV4Ids),
                None,
            )
            .expect("the setup of a configuration builds");
            let now = Now {
                monotonic: ocpp_core::time::Monotonic::ZERO,
                wall: time::OffsetDateTime::UNIX_EPOCH,
            };
            // Not connected: the typed call refuses with Offline, never ChargePointAction.
            assert_eq!(
                send(&mut machine, now, request),
                Err(CentralSystemError::Offline),
                "{action}"
            );
        }
    }

    /// The smallest payload of `action` that deserializes (schema validity is not needed to
    /// reach the dispatch).
    fn sample_payload(action: Action) -> Value {
        let samples: &[(Action, Value)] = &[
            (Action::CancelReservation, json!({"reservationId": 1})),
            (Action::CertificateSigned, json!({"certificateChain": "x"})),
            (
                Action::ChangeAvailability,
                json!({"connectorId": 0, "type": "Operative"}),
            ),
            (
                Action::ChangeConfiguration,
                json!({"key": "k", "value": "v"}),
            ),
            (Action::ClearChargingProfile, json!({})),
            (Action::DataTransfer, json!({"vendorId": "v"})),
            (
                Action::DeleteCertificate,
                json!({"certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b", "serialNumber": "1"}}),
            ),
            (
                Action::ExtendedTriggerMessage,
                json!({"requestedMessage": "Heartbeat"}),
            ),
            (
                Action::GetCompositeSchedule,
                json!({"connectorId": 1, "duration": 60}),
            ),
            (Action::GetDiagnostics, json!({"location": "ftp://x"})),
            (
                Action::GetInstalledCertificateIds,
                json!({"certificateType": "CentralSystemRootCertificate"}),
            ),
            (
                Action::GetLog,
                json!({"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": "ftp://x"}}),
            ),
            (
                Action::InstallCertificate,
                json!({"certificateType": "CentralSystemRootCertificate", "certificate": "x"}),
            ),
            (Action::RemoteStartTransaction, json!({"idTag": "T"})),
            (Action::RemoteStopTransaction, json!({"transactionId": 1})),
            (
                Action::ReserveNow,
                json!({"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T", "reservationId": 1}),
            ),
            (Action::Reset, json!({"type": "Soft"})),
            (
                Action::SendLocalList,
                json!({"listVersion": 1, "updateType": "Full"}),
            ),
            (
                Action::SetChargingProfile,
                json!({"connectorId": 1, "csChargingProfiles": {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Relative", "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}}}),
            ),
            (
                Action::SignedUpdateFirmware,
                json!({"requestId": 1, "firmware": {"location": "ftp://x", "retrieveDateTime": "2030-01-01T00:00:00Z", "signingCertificate": "x", "signature": "x"}}),
            ),
            (
                Action::TriggerMessage,
                json!({"requestedMessage": "Heartbeat"}),
            ),
            (Action::UnlockConnector, json!({"connectorId": 1})),
            (
                Action::UpdateFirmware,
                json!({"location": "ftp://x", "retrieveDate": "2030-01-01T00:00:00Z"}),
            ),
        ];
        samples
            .iter()
            .find(|(a, _)| *a == action)
            .map_or_else(|| json!({}), |(_, payload)| payload.clone())
    }
}
