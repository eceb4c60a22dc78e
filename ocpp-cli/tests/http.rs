//! The REST API of `ocpp csms --http`: an `ocpp csms` process, charge points that are `ocpp
//! cp` processes or scripted stations (a bare RPC endpoint over a real WebSocket, answering
//! the central system's calls as each test needs), and HTTP requests over loopback. Every wait
//! is bounded.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BIN, Csms, http, post_call, runtime, says, scratch, until};

use ocpp_core::rpc::{CallFailure, CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::{ErrorCode, Version};
use ocpp_io_tokio::{ClientConfig, Event, Handle};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// How a scripted station answers a call of the central system.
enum Reply {
    Result(Value),
    Error(ErrorCode, &'static str),
    /// Close the connection instead of answering.
    Close,
    /// Do not answer.
    Silent,
}

/// A charge point played by a bare RPC endpoint: it boots, answers the central system's
/// calls with `script`, records them, and makes the calls a test asks for.
struct Scripted {
    handle: Handle<Endpoint>,
    completed: mpsc::UnboundedReceiver<Result<Value, CallFailure>>,
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Scripted {
    async fn connect(url: &str, id: &str, script: fn(&str) -> Reply) -> Scripted {
        let mut config = ClientConfig::new(url, id, [Version::V16]);
        config.reconnect = None;
        let endpoint = Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()));
        let (handle, mut events, _done) = ocpp_io_tokio::connect(config, endpoint).split();
        let (tx, completed) = mpsc::unbounded_channel();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let answerer = handle.clone();
        tokio::spawn(async move {
            while let Some(event) = events.next_event().await {
                match event {
                    Event::Machine(RpcEvent::Completed { outcome, .. }) => {
                        let _ = tx.send(outcome);
                    }
                    Event::Machine(RpcEvent::Call(call)) => {
                        log.lock()
                            .expect("lock")
                            .push((call.action.to_string(), call.payload.clone()));
                        let id = call.id.clone();
                        match script(call.action.as_str()) {
                            Reply::Result(payload) => {
                                let _ = answerer
                                    .run(move |ep, now| ep.respond(now, &id, payload))
                                    .await;
                            }
                            Reply::Error(code, text) => {
                                let _ = answerer
                                    .run(move |ep, now| {
                                        ep.respond_error(now, &id, code, text, None)
                                    })
                                    .await;
                            }
                            Reply::Close => {
                                let _ = answerer.close(1000, "scripted close");
                            }
                            Reply::Silent => {}
                        }
                    }
                    Event::ConnectFailed(error) => panic!("{error:?}"),
                    _ => {}
                }
            }
        });
        let mut station = Scripted {
            handle,
            completed,
            received,
        };
        let boot = json!({"chargePointVendor": "Scripted", "chargePointModel": "S1"});
        let answer = station.call("BootNotification", boot).await;
        assert_eq!(answer["status"], "Accepted");
        station
    }

    /// Makes a call (waiting for the connection first) and returns the answer's payload.
    async fn call(&mut self, action: &'static str, payload: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let payload = payload.clone();
            let made = self
                .handle
                .run(move |ep, now| {
                    let known = ocpp_core::v16::Action::from_name(action).expect("a 1.6 action");
                    ep.call(now, known, payload)
                })
                .await
                .expect("the client runs");
            match made {
                Ok(_) => break,
                Err(refused) if Instant::now() < deadline => {
                    let _ = refused;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(refused) => panic!("{action}: {refused}"),
            }
        }
        let outcome = tokio::time::timeout(Duration::from_secs(10), self.completed.recv())
            .await
            .expect("answered in time")
            .expect("the client runs");
        outcome.unwrap_or_else(|failure| panic!("{action}: {failure:?}"))
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().expect("lock").clone()
    }
}

fn simulated_cp(url: &str, id: &str, dir: &Path, extra: &[&str]) -> Child {
    Command::new(BIN)
        .args(["cp", "--url", url, "--id", id, "--db"])
        .arg(dir.join(format!("{id}.redb")))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ocpp cp runs")
}

/// OCPP 1.6 sections 5.8 (GetConfiguration) and 5.17 (TriggerMessage) sent through the API to
/// the simulated charge point, whose answers come back as the response bodies; the station
/// list reflects its BootNotification and StatusNotifications, and its disconnection.
#[test]
fn calls_reach_a_simulated_charge_point_and_its_answers_come_back() {
    let dir = scratch("simulated");
    let csms = Csms::start(&dir);
    let mut cp = simulated_cp(&csms.url, "CP-SIM", &dir, &["--sessions", "0"]);
    runtime().block_on(async {
        let api = csms.api;
        let station = until(api, "/stations/CP-SIM", |s| {
            s["connected"] == true && s["connectors"].as_array().is_some_and(|c| !c.is_empty())
        })
        .await;
        assert_eq!(station["boot"]["chargePointVendor"], "ocpp-rs");
        assert_eq!(station["connectors"][0]["errorCode"], "NoError");
        let (status, list) = http(api, "GET", "/stations", "").await;
        assert_eq!(status, 200);
        assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

        let (status, body) = post_call(
            api,
            "CP-SIM",
            "GetConfiguration",
            r#"{"key": ["HeartbeatInterval", "NoSuchKey"]}"#,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["configurationKey"][0]["key"], "HeartbeatInterval");
        assert_eq!(body["unknownKey"], json!(["NoSuchKey"]));

        let (status, body) = post_call(
            api,
            "CP-SIM",
            "TriggerMessage",
            r#"{"requestedMessage": "StatusNotification", "connectorId": 1}"#,
        )
        .await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("Accepted")),
            "{body}"
        );

        // The simulator carries out remote starts (a session on the free connector).
        let (status, body) = post_call(
            api,
            "CP-SIM",
            "RemoteStartTransaction",
            r#"{"connectorId": 1, "idTag": "REMOTE"}"#,
        )
        .await;
        assert_eq!((status, body), (200, json!({"status": "Accepted"})));

        // An empty body is the empty payload.
        let (status, body) = post_call(api, "CP-SIM", "ClearCache", "").await;
        assert_eq!(status, 200, "{body}");
        assert!(body["status"].is_string(), "{body}");
    });
    let _ = cp.kill();
    let _ = cp.wait();
    runtime().block_on(async {
        let api = csms.api;
        until(api, "/stations/CP-SIM", |s| s["connected"] == false).await;
        let (status, body) = post_call(api, "CP-SIM", "GetConfiguration", "{}").await;
        assert_eq!(status, 404);
        assert!(says(&body, "not connected"), "{body}");
    });
}

/// Requests the API refuses before anything is sent: schema violations (400 with the
/// violations and the CallError code a station would answer, OCPP-J 1.6 section 4.2.3),
/// unknown stations and actions (404), Charge Point actions and non-JSON bodies (400).
#[test]
fn bad_calls_are_refused_with_the_reason() {
    let dir = scratch("refused");
    let csms = Csms::start(&dir);
    runtime().block_on(async {
        let api = csms.api;
        let _station = Scripted::connect(&csms.url, "CP-R", |_| Reply::Result(json!({}))).await;

        let (status, body) = post_call(
            api,
            "CP-R",
            "ChangeConfiguration",
            r#"{"key": 5, "value": "1"}"#,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["violations"][0]["pointer"], "/key", "{body}");
        assert!(body["errorCode"].is_string(), "{body}");
        let (status, body) = post_call(
            api,
            "CP-R",
            "RemoteStartTransaction",
            r#"{"idTag": "THIS-ID-TAG-IS-TOO-LONG"}"#,
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["violations"][0]["pointer"], "/idTag", "{body}");

        let (status, body) = post_call(api, "CP-R", "Reset", "{").await;
        assert_eq!(status, 400, "{body}");
        let (status, body) = post_call(api, "CP-R", "BootNotification", "{}").await;
        assert_eq!(status, 400, "{body}");
        assert!(says(&body, "sent by the charge point"), "{body}");
        let (status, body) = post_call(api, "CP-R", "Frobnicate", "{}").await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = post_call(api, "CP-R", "reset", "{}").await;
        assert_eq!(status, 404, "action names are case-sensitive: {body}");
        let (status, body) = post_call(api, "NOBODY", "Reset", r#"{"type": "Soft"}"#).await;
        assert_eq!(status, 404, "{body}");
        assert!(says(&body, "unknown station"), "{body}");
        let (status, _) = http(api, "GET", "/stations/NOBODY", "").await;
        assert_eq!(status, 404);
        let (status, _) = http(api, "GET", "/nowhere", "").await;
        assert_eq!(status, 404);
    });
    assert!(!csms.log().contains("panicked"));
}

/// The station's own answers: a result is passed through (200), a CALLERROR becomes 502 with
/// its code and description (OCPP-J 1.6 section 4.2.3), a connection that closes during the
/// call 503.
#[test]
fn the_station_answer_a_call_error_or_a_disconnection_is_what_the_api_answers() {
    let dir = scratch("scripted");
    let csms = Csms::start(&dir);
    runtime().block_on(async {
        let api = csms.api;
        let station = Scripted::connect(&csms.url, "CP-X", |action| match action {
            "RemoteStartTransaction" => Reply::Result(json!({"status": "Accepted"})),
            "GetDiagnostics" => Reply::Error(ErrorCode::NotSupported, "no diagnostics here"),
            _ => Reply::Close,
        })
        .await;

        let start = json!({"connectorId": 1, "idTag": "TAG-1"});
        let (status, body) =
            post_call(api, "CP-X", "RemoteStartTransaction", &start.to_string()).await;
        assert_eq!((status, body), (200, json!({"status": "Accepted"})));
        assert_eq!(
            station.received(),
            vec![("RemoteStartTransaction".to_owned(), start)]
        );

        let (status, body) = post_call(
            api,
            "CP-X",
            "GetDiagnostics",
            r#"{"location": "ftp://example.com/diag"}"#,
        )
        .await;
        assert_eq!(status, 502, "{body}");
        assert_eq!(body["code"], "NotSupported");
        assert_eq!(body["description"], "no diagnostics here");

        let (status, body) = post_call(api, "CP-X", "Reset", r#"{"type": "Hard"}"#).await;
        assert_eq!(status, 503, "{body}");
    });
}

/// A station that does not answer within --call-timeout (OCPP-J 1.6 section 4.1.1 leaves
/// the timeout to the implementation): 504.
#[test]
fn a_call_the_station_does_not_answer_in_time_is_504() {
    let dir = scratch("timeout");
    let csms = Csms::start_with(&dir, &["--accept-all", "--call-timeout", "1"]);
    runtime().block_on(async {
        let _station = Scripted::connect(&csms.url, "CP-Q", |_| Reply::Silent).await;
        let started = Instant::now();
        let (status, body) = post_call(csms.api, "CP-Q", "ClearCache", "{}").await;
        assert_eq!(status, 504, "{body}");
        assert!(started.elapsed() < Duration::from_secs(30));
    });
}

/// A transaction with its meter values (MeterValues with its transactionId, section 4.7, and
/// the StopTransaction's transactionData, section 4.10), each once although the station sent
/// one again; the filters; and the records after a restart of the central system.
#[test]
fn transactions_are_listed_with_their_meter_values_and_survive_a_restart() {
    let dir = scratch("transactions");
    let sample = |at: &str, wh: &str| json!({"timestamp": at, "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]});
    let first = sample("2025-01-01T10:15:00Z", "1250");
    let last = sample("2025-01-01T10:30:00Z", "1500");
    let id = {
        let csms = Csms::start(&dir);
        let id = runtime().block_on(async {
            let api = csms.api;
            let mut station =
                Scripted::connect(&csms.url, "CP-T", |_| Reply::Result(json!({}))).await;
            let started = station
                .call(
                    "StartTransaction",
                    json!({"connectorId": 2, "idTag": "TAG-T", "meterStart": 1000,
                           "timestamp": "2025-01-01T10:00:00Z"}),
                )
                .await;
            let id = started["transactionId"].as_i64().expect("an id");
            let values = json!({"connectorId": 2, "transactionId": id, "meterValue": [first]});
            station.call("MeterValues", values.clone()).await;
            station.call("MeterValues", values).await;

            let (_, active) = http(api, "GET", "/transactions?active=true", "").await;
            assert_eq!(active[0]["id"], id, "{active}");
            assert_eq!(active[0]["active"], true);

            station
                .call(
                    "StopTransaction",
                    json!({"transactionId": id, "meterStop": 1500, "idTag": "TAG-T",
                           "timestamp": "2025-01-01T10:30:00Z", "reason": "EVDisconnected",
                           "transactionData": [first, last]}),
                )
                .await;
            let (_, active) = http(api, "GET", "/transactions?active=true", "").await;
            assert_eq!(active, json!([]));
            let (_, other) = http(api, "GET", "/transactions?station=CP-OTHER", "").await;
            assert_eq!(other, json!([]));
            let (status, _) = http(api, "GET", "/transactions?active=maybe", "").await;
            assert_eq!(status, 400);
            let (status, _) = http(api, "GET", "/transactions/abc", "").await;
            assert_eq!(status, 400);
            let (status, _) = http(api, "GET", "/transactions/999", "").await;
            assert_eq!(status, 404);
            id
        });
        drop(csms);
        id
    };
    let csms = Csms::start(&dir);
    runtime().block_on(async {
        let (status, transaction) = http(csms.api, "GET", &format!("/transactions/{id}"), "").await;
        assert_eq!(status, 200);
        assert_eq!(
            transaction,
            json!({
                "id": id, "station": "CP-T", "connectorId": 2, "idTag": "TAG-T",
                "active": false, "meterStart": 1000, "meterStop": 1500,
                "startTime": "2025-01-01T10:00:00Z", "stopTime": "2025-01-01T10:30:00Z",
                "stopReason": "EVDisconnected", "meterValues": [first, last],
            })
        );
        let station = until(csms.api, "/stations/CP-T", |_| true).await;
        assert_eq!(station["connected"], false);
        assert_eq!(station["connectors"][0]["connectorId"], 2);
        assert_eq!(station["connectors"][0]["meterValues"], json!([first]));
    });
}

/// A whole session of the simulated charge point is listed: idTag, meter start and stop, the
/// reason.
#[test]
fn a_session_of_the_simulated_charge_point_is_listed() {
    let dir = scratch("session");
    let csms = Csms::start(&dir);
    let mut cp = simulated_cp(
        &csms.url,
        "CP-S",
        &dir,
        &[
            "--readings",
            "2",
            "--interval-ms",
            "20",
            "--id-tag",
            "TAG-S",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while cp.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "ocpp cp still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    runtime().block_on(async {
        let (status, list) = http(csms.api, "GET", "/transactions?station=CP-S", "").await;
        assert_eq!(status, 200);
        let transaction = &list[0];
        assert_eq!(transaction["idTag"], "TAG-S", "{list}");
        assert_eq!(transaction["active"], false);
        assert_eq!(
            transaction["meterStop"].as_i64().unwrap_or(0)
                - transaction["meterStart"].as_i64().unwrap_or(0),
            500,
            "{list}"
        );
    });
}

/// The served document is the committed one.
#[test]
fn the_openapi_document_is_served() {
    let dir = scratch("openapi");
    let csms = Csms::start(&dir);
    let committed: Value = serde_json::from_str(include_str!("../openapi/csms.json"))
        .expect("the committed document is JSON");
    runtime().block_on(async {
        let (status, served) = http(csms.api, "GET", "/openapi.json", "").await;
        assert_eq!(status, 200);
        assert_eq!(served, committed);
    });
}

/// An --http address that is taken is a setup error: exit 2 and the address in the message.
#[test]
fn an_http_address_in_use_exits_2() {
    let dir = scratch("in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let output = Command::new(BIN)
        .args([
            "csms",
            "--listen",
            "127.0.0.1:0",
            "--accept-all",
            "--http",
            &addr,
        ])
        .arg("--db")
        .arg(dir.join("csms.redb"))
        .stdin(Stdio::null())
        .output()
        .expect("ocpp csms runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (--http)")),
        "{stderr}"
    );
}
