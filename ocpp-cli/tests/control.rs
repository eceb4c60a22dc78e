//! The control API of `ocpp cp --control`: two simulated stations in one `ocpp cp` process,
//! driven by hand against an `ocpp csms` process, whose REST API shows what reached the
//! central system. Every wait is bounded.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Csms, http, post_call, runtime, scratch, until};
use serde_json::{Value, json};

/// An `ocpp cp --control` process and its API address. Killed when dropped.
struct Control {
    child: Child,
    stdout: BufReader<ChildStdout>,
    api: SocketAddr,
}

impl Control {
    fn start(url: &str, dir: &Path, extra: &[&str]) -> Control {
        let mut child = Command::new(BIN)
            .args(["cp", "--url", url, "--id", "CP", "--control", "127.0.0.1:0"])
            .arg("--db")
            .arg(dir.join("cp.redb"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("cp.log")).expect("log file"))
            .spawn()
            .expect("ocpp cp runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read stdout");
        let Some(api) = first
            .trim()
            .strip_prefix("control api on http://")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            panic!("unexpected first line {first:?}");
        };
        Control { child, stdout, api }
    }

    /// SIGTERM; the exit code and the rest of stdout.
    fn stop(&mut self) -> (Option<i32>, String) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("read stdout");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status.code(), rest);
            }
            assert!(Instant::now() < deadline, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST path` on the control API; fails the test unless it answers 200.
async fn act(api: SocketAddr, path: &str, body: &str) -> Value {
    let (status, answer) = http(api, "POST", path, body).await;
    assert_eq!(status, 200, "POST {path}: {answer}");
    answer
}

/// The status the central system last got for `connector` of `station`.
fn csms_status(station: &Value, connector: i64) -> (String, String) {
    station["connectors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["connectorId"] == connector)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").to_owned(),
                c["errorCode"].as_str().unwrap_or("").to_owned(),
            )
        })
        .unwrap_or_default()
}

/// Waits until the central system has `status` (and `error_code`) for the connector.
async fn csms_sees(
    csms: SocketAddr,
    station: &str,
    connector: i64,
    status: &str,
    error_code: &str,
) {
    until(csms, &format!("/stations/{station}"), |s| {
        csms_status(s, connector) == (status.to_owned(), error_code.to_owned())
    })
    .await;
}

/// The manual steps of a session as OCTT test cases ask for them (plug in, present an id tag,
/// EV draws power, suspends, fault, network cut with an offline stop, unplug; TC_003_CS,
/// TC_010_CS, TC_027_CS, TC_037_CS, TC_045_CS), each seen by the central system as the
/// StatusNotifications and transaction messages of OCPP 1.6 sections 4.8 to 4.10.
#[test]
fn manual_steps_drive_a_session_that_the_central_system_sees() {
    let dir = scratch("control-session");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &["--stations", "2", "--interval-ms", "50"]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        let (status, list) = http(api, "GET", "/stations", "").await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = list
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert_eq!(ids, ["CP-1", "CP-2"]);
        csms_sees(cs, "CP-1", 1, "Available", "NoError").await;

        act(api, "/stations/CP-1/connectors/1/plug-in", "").await;
        csms_sees(cs, "CP-1", 1, "Preparing", "NoError").await;
        let answer = act(
            api,
            "/stations/CP-1/connectors/1/id-tag",
            r#"{"idTag": "TAG-1"}"#,
        )
        .await;
        assert_eq!(
            answer["result"]["idTagInfo"]["status"], "Accepted",
            "{answer}"
        );
        csms_sees(cs, "CP-1", 1, "SuspendedEV", "NoError").await;
        act(api, "/stations/CP-1/connectors/1/ev-start", "").await;
        csms_sees(cs, "CP-1", 1, "Charging", "NoError").await;
        let active = until(cs, "/transactions?station=CP-1&active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        assert_eq!(active[0]["idTag"], "TAG-1");
        // The meter advances while the EV draws power.
        until(api, "/stations/CP-1", |s| {
            s["connectors"][0]["meterWh"].as_i64().unwrap_or(0) >= 500
        })
        .await;
        act(api, "/stations/CP-1/connectors/1/ev-stop", "").await;
        csms_sees(cs, "CP-1", 1, "SuspendedEV", "NoError").await;

        act(
            api,
            "/stations/CP-1/connectors/1/fault",
            r#"{"errorCode": "GroundFailure", "info": "test"}"#,
        )
        .await;
        csms_sees(cs, "CP-1", 1, "Faulted", "GroundFailure").await;
        act(api, "/stations/CP-1/connectors/1/clear-fault", "").await;
        csms_sees(cs, "CP-1", 1, "SuspendedEV", "NoError").await;
        // Connector 0: the station as a whole.
        act(
            api,
            "/stations/CP-2/connectors/0/fault",
            r#"{"errorCode": "HighTemperature"}"#,
        )
        .await;
        csms_sees(cs, "CP-2", 0, "Faulted", "HighTemperature").await;
        let state = act(api, "/stations/CP-2/connectors/0/clear-fault", "").await;
        assert_eq!(state["fault"], Value::Null, "{state}");
        csms_sees(cs, "CP-2", 0, "Available", "NoError").await;

        // The network goes: the stop is queued while offline and delivered afterwards.
        let state = act(api, "/stations/CP-1/offline", "").await;
        assert_eq!(state["online"], false);
        until(cs, "/stations/CP-1", |s| s["connected"] == false).await;
        let answer = act(
            api,
            "/stations/CP-1/connectors/1/id-tag",
            r#"{"idTag": "TAG-1"}"#,
        )
        .await;
        assert_eq!(answer["result"]["stopped"], true, "{answer}");
        assert!(
            answer["queuedTransactionMessages"].as_u64().unwrap_or(0) >= 1,
            "{answer}"
        );
        let still = http(cs, "GET", "/transactions?station=CP-1&active=true", "").await;
        assert_eq!(
            still.1.as_array().map(Vec::len),
            Some(1),
            "stopped while offline"
        );
        act(api, "/stations/CP-1/online", "").await;
        until(cs, "/transactions?station=CP-1&active=true", |t| {
            t == &json!([])
        })
        .await;
        let (_, all) = http(cs, "GET", "/transactions?station=CP-1", "").await;
        assert_eq!(all[0]["stopReason"], "Local", "{all}");
        assert!(all[0]["meterStop"].as_i64() > all[0]["meterStart"].as_i64());
        until(api, "/stations/CP-1", |s| {
            s["queuedTransactionMessages"] == 0
        })
        .await;
        csms_sees(cs, "CP-1", 1, "Finishing", "NoError").await;
        act(api, "/stations/CP-1/connectors/1/unplug", "").await;
        csms_sees(cs, "CP-1", 1, "Available", "NoError").await;
    });
}

/// What the central system asks for is carried out: RemoteStartTransaction (accepted, started
/// once the cable is in) and RemoteStopTransaction (1.6 sections 5.11, 5.12; TC_011_CS,
/// TC_012_CS); a configuration value set by the operator is what GetConfiguration reports.
#[test]
fn remote_start_and_stop_and_local_configuration() {
    let dir = scratch("control-remote");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &["--connectors", "2"]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        csms_sees(cs, "CP", 2, "Available", "NoError").await;
        let (status, answer) = post_call(
            cs,
            "CP",
            "RemoteStartTransaction",
            r#"{"connectorId": 2, "idTag": "REMOTE"}"#,
        )
        .await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Accepted")),
            "{answer}"
        );
        csms_sees(cs, "CP", 2, "Preparing", "NoError").await;
        act(api, "/stations/CP/connectors/2/plug-in", "").await;
        let active = until(cs, "/transactions?station=CP&active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        assert_eq!(active[0]["idTag"], "REMOTE");
        assert_eq!(active[0]["connectorId"], 2);
        let id = active[0]["id"].as_i64().expect("an id");
        // The central system lists the transaction before its StartTransaction answer is
        // durable and sent; a RemoteStop sent before the station knows the id is Rejected
        // (section 5.12), rightly.
        until(api, "/stations/CP", |s| {
            s["connectors"][1]["transaction"]["transactionId"] == id
        })
        .await;
        let (status, answer) = post_call(
            cs,
            "CP",
            "RemoteStopTransaction",
            &json!({"transactionId": id}).to_string(),
        )
        .await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Accepted")),
            "{answer}"
        );
        let stopped = until(cs, &format!("/transactions/{id}"), |t| t["active"] == false).await;
        assert_eq!(stopped["stopReason"], "Remote");
        csms_sees(cs, "CP", 2, "Finishing", "NoError").await;

        act(
            api,
            "/stations/CP/configuration",
            r#"{"key": "MeterValueSampleInterval", "value": "17"}"#,
        )
        .await;
        let (_, answer) = post_call(
            cs,
            "CP",
            "GetConfiguration",
            r#"{"key": ["MeterValueSampleInterval"]}"#,
        )
        .await;
        assert_eq!(answer["configurationKey"][0]["value"], "17", "{answer}");
        let (status, answer) = http(
            api,
            "POST",
            "/stations/CP/configuration",
            r#"{"key": "NumberOfConnectors", "value": "5"}"#,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
    });
}

/// A power cycle restarts the station from its store: the transaction it interrupted is
/// stopped as PowerLoss (1.6 section 4.10 / StopTransactionOnPowerLoss... the role's restart
/// rule), and disconnect / connect take the station off and back on (TC_032_CS).
#[test]
fn power_cycle_disconnect_and_connect() {
    let dir = scratch("control-power");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &[]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        act(api, "/stations/CP/connectors/1/plug-in", "").await;
        act(
            api,
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "TAG-P"}"#,
        )
        .await;
        until(cs, "/transactions?station=CP&active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        let state = act(api, "/stations/CP/power-cycle", "").await;
        assert_eq!(state["running"], true, "{state}");
        let (_, all) = http(cs, "GET", "/transactions?station=CP", "").await;
        let id = all[0]["id"].as_i64().expect("an id");
        let stopped = until(cs, &format!("/transactions/{id}"), |t| t["active"] == false).await;
        assert_eq!(stopped["stopReason"], "PowerLoss", "{stopped}");
        // The cable is still in after the restart.
        until(api, "/stations/CP", |s| {
            s["connected"] == true && s["connectors"][0]["plugged"] == true
        })
        .await;

        let state = act(api, "/stations/CP/disconnect", "").await;
        assert_eq!(state["running"], false, "{state}");
        until(cs, "/stations/CP", |s| s["connected"] == false).await;
        let (status, _) = http(
            api,
            "POST",
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "TAG-P"}"#,
        )
        .await;
        assert_eq!(status, 409, "no id tag is read by a station that is off");
        // The cable comes out while the station is off: it says so once it is back.
        act(api, "/stations/CP/connectors/1/unplug", "").await;
        act(api, "/stations/CP/connect", "").await;
        until(cs, "/stations/CP", |s| s["connected"] == true).await;
        csms_sees(cs, "CP", 1, "Available", "NoError").await;
    });
}

/// Requests the API cannot carry out get a specific error.
#[test]
fn bad_control_requests_are_refused() {
    let dir = scratch("control-bad");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &[]);
    runtime().block_on(async {
        let api = control.api;
        for (path, body, expected) in [
            ("/stations/NOPE/connectors/1/plug-in", "", 404),
            ("/stations/CP/connectors/9/plug-in", "", 404),
            ("/stations/CP/connectors/x/plug-in", "", 400),
            ("/stations/CP/connectors/0/plug-in", "", 400),
            ("/stations/CP/connectors/1/id-tag", "{}", 400),
            (
                "/stations/CP/connectors/1/fault",
                r#"{"errorCode": "Melted"}"#,
                400,
            ),
            (
                "/stations/CP/configuration",
                r#"{"key": "NoSuchKey", "value": "1"}"#,
                400,
            ),
        ] {
            let (status, answer) = http(api, "POST", path, body).await;
            assert_eq!(status, expected, "POST {path} {body}: {answer}");
            assert!(answer["error"].is_string(), "{answer}");
        }
        let (status, served) = http(api, "GET", "/openapi.json", "").await;
        assert_eq!(status, 200);
        let committed: Value =
            serde_json::from_str(include_str!("../openapi/cp-control.json")).expect("JSON");
        assert_eq!(served, committed);
    });
    let mut control = control;
    let (code, rest) = control.stop();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("undelivered transaction messages: 0"),
        "{rest}"
    );
}

/// --control and the session flags exclude each other; --stations needs --control.
#[test]
fn control_flags_that_do_not_fit_exit_2() {
    for args in [
        &[
            "cp",
            "--url",
            "ws://127.0.0.1:9",
            "--id",
            "CP",
            "--control",
            "127.0.0.1:0",
            "--sessions",
            "2",
        ][..],
        &[
            "cp",
            "--url",
            "ws://127.0.0.1:9",
            "--id",
            "CP",
            "--stations",
            "2",
        ],
    ] {
        let output = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ocpp cp runs");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

/// A --control address that is taken is a setup error: exit 2 and the address in the message.
#[test]
fn a_control_address_in_use_exits_2() {
    let dir = scratch("control-in-use");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let output = Command::new(BIN)
        .args([
            "cp",
            "--url",
            "ws://127.0.0.1:9",
            "--id",
            "CP",
            "--control",
            &addr,
        ])
        .arg("--db")
        .arg(dir.join("cp.redb"))
        .stdin(Stdio::null())
        .output()
        .expect("ocpp cp runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} (--control)")),
        "{stderr}"
    );
}

/// Reset (1.6 section 5.14, TC_013_CS hard reset) stops the running transaction with reason
/// HardReset and restarts the station, which boots again; UnlockConnector (section 5.18,
/// TC_017_CS) stops the transaction with reason UnlockCommand and answers Unlocked.
#[test]
fn reset_and_unlock_from_the_central_system_are_carried_out() {
    let dir = scratch("control-reset");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &[]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        let start = || async {
            act(api, "/stations/CP/connectors/1/plug-in", "").await;
            act(
                api,
                "/stations/CP/connectors/1/id-tag",
                r#"{"idTag": "TAG-R"}"#,
            )
            .await;
            let active = until(cs, "/transactions?station=CP&active=true", |t| {
                t.as_array().is_some_and(|t| t.len() == 1)
            })
            .await;
            active[0]["id"].as_i64().expect("an id")
        };
        let first = start().await;
        let (_, before) = http(cs, "GET", "/stations/CP", "").await;
        let (status, answer) = post_call(cs, "CP", "Reset", r#"{"type": "Hard"}"#).await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Accepted")),
            "{answer}"
        );
        let stopped = until(cs, &format!("/transactions/{first}"), |t| {
            t["active"] == false
        })
        .await;
        assert_eq!(stopped["stopReason"], "HardReset", "{stopped}");
        // Booted again after the restart: connected, and seen since.
        until(cs, "/stations/CP", |s| {
            s["connected"] == true && s["lastSeen"] != before["lastSeen"]
        })
        .await;
        until(api, "/stations/CP", |s| s["registration"] == "Accepted").await;

        act(api, "/stations/CP/connectors/1/unplug", "").await;
        let second = start().await;
        let (status, answer) =
            post_call(cs, "CP", "UnlockConnector", r#"{"connectorId": 1}"#).await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Unlocked")),
            "{answer}"
        );
        let stopped = until(cs, &format!("/transactions/{second}"), |t| {
            t["active"] == false
        })
        .await;
        assert_eq!(stopped["stopReason"], "UnlockCommand", "{stopped}");
    });
}

/// Sampled meter values (1.6 section 4.7, MeterValueSampleInterval set by the central system
/// through its REST API, TC_070_CS-style) reach the central system during the transaction and
/// with its StopTransaction (StopTxnSampledData), and are listed with the transaction.
#[test]
fn sampled_meter_values_are_listed_with_the_transaction() {
    let dir = scratch("control-meter");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &["--interval-ms", "100"]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        let (status, answer) = post_call(
            cs,
            "CP",
            "ChangeConfiguration",
            r#"{"key": "MeterValueSampleInterval", "value": "1"}"#,
        )
        .await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Accepted")),
            "{answer}"
        );
        act(api, "/stations/CP/connectors/1/plug-in", "").await;
        act(api, "/stations/CP/connectors/1/ev-start", "").await;
        act(
            api,
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "TAG-M"}"#,
        )
        .await;
        let active = until(cs, "/transactions?station=CP&active=true", |t| {
            t[0]["meterValues"].as_array().is_some_and(|v| v.len() >= 2)
        })
        .await;
        let id = active[0]["id"].as_i64().expect("an id");
        let sample = &active[0]["meterValues"][0]["sampledValue"][0];
        assert!(sample["value"].as_str().is_some(), "{active}");
        act(api, "/stations/CP/connectors/1/unplug", "").await;
        let stopped = until(cs, &format!("/transactions/{id}"), |t| t["active"] == false).await;
        assert_eq!(stopped["stopReason"], "EVDisconnected");
        let during = active[0]["meterValues"].as_array().map_or(0, Vec::len);
        let all = stopped["meterValues"].as_array().map_or(0, Vec::len);
        assert!(all >= during, "{stopped}");
        let station = until(cs, "/stations/CP", |_| true).await;
        assert!(
            station["connectors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["connectorId"] == 1 && c["meterValues"] != json!([])),
            "{station}"
        );
    });
}

/// 1.6 section 3.5 (and OCTT TC_061_CS-style steps): a running transaction is stopped by its
/// own id tag or by an accepted tag of the same parent id tag, not by an unrelated one.
#[test]
fn only_the_same_tag_or_a_tag_of_the_same_parent_stops_a_transaction() {
    let dir = scratch("control-parent");
    let tags = dir.join("tags.json");
    std::fs::write(
        &tags,
        r#"[{"idTag": "TAG-A", "status": "Accepted", "parentIdTag": "FLEET-1"},
            {"idTag": "TAG-B", "status": "Accepted", "parentIdTag": "FLEET-1"},
            {"idTag": "TAG-C", "status": "Accepted", "parentIdTag": "FLEET-2"},
            {"idTag": "TAG-X", "status": "Blocked"}]"#,
    )
    .expect("write the tags");
    let csms = Csms::start_with(&dir, &["--id-tags", tags.to_str().expect("UTF-8")]);
    let control = Control::start(&csms.url, &dir, &[]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        let present = |tag: &'static str| async move {
            act(
                api,
                "/stations/CP/connectors/1/id-tag",
                &json!({"idTag": tag}).to_string(),
            )
            .await["result"]
                .clone()
        };
        let refused = present("TAG-X").await;
        assert_eq!(refused["idTagInfo"]["status"], "Blocked", "{refused}");
        act(api, "/stations/CP/connectors/1/plug-in", "").await;
        let (_, none) = http(cs, "GET", "/transactions", "").await;
        assert_eq!(none, json!([]), "a blocked tag starts nothing");
        present("TAG-A").await;
        until(cs, "/transactions?active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        let other = present("TAG-C").await;
        assert_eq!(other["stopped"], false, "{other}");
        let sibling = present("TAG-B").await;
        assert_eq!(sibling["stopped"], true, "{sibling}");
        let stopped = until(cs, "/transactions?active=false", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        assert_eq!(stopped[0]["idTag"], "TAG-A");
        assert_eq!(stopped[0]["stopReason"], "Local");
    });
}

/// The role derives the statuses from the facts the control API reports, its own state
/// included: a reservation shows Reserved (OCTT TC_046_CS, section 5.13) and admits only its
/// id tag; a driver who never plugs in is given up after ConnectionTimeOut (9.1.6, TC_004_2_CS)
/// and the connector is Available again.
#[test]
fn reservations_and_connection_timeouts_come_from_the_role() {
    let dir = scratch("control-derived");
    let csms = Csms::start(&dir);
    let control = Control::start(&csms.url, &dir, &["--connectors", "2"]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        csms_sees(cs, "CP", 1, "Available", "NoError").await;
        let (status, answer) = post_call(
            cs,
            "CP",
            "ReserveNow",
            r#"{"connectorId": 1, "expiryDate": "2099-01-01T00:00:00Z", "idTag": "MINE",
                "reservationId": 7}"#,
        )
        .await;
        assert_eq!(
            (status, &answer["status"]),
            (200, &json!("Accepted")),
            "{answer}"
        );
        csms_sees(cs, "CP", 1, "Reserved", "NoError").await;
        let (status, refused) = http(
            api,
            "POST",
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "SOMEONE"}"#,
        )
        .await;
        assert_eq!(
            status, 409,
            "the reservation holds the connector: {refused}"
        );
        act(
            api,
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "MINE"}"#,
        )
        .await;
        act(api, "/stations/CP/connectors/1/plug-in", "").await;
        let active = until(cs, "/transactions?station=CP&active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        assert_eq!(active[0]["idTag"], "MINE");

        act(
            api,
            "/stations/CP/configuration",
            r#"{"key": "ConnectionTimeOut", "value": "1"}"#,
        )
        .await;
        act(
            api,
            "/stations/CP/connectors/2/id-tag",
            r#"{"idTag": "LATE"}"#,
        )
        .await;
        csms_sees(cs, "CP", 2, "Preparing", "NoError").await;
        csms_sees(cs, "CP", 2, "Available", "NoError").await;
        let state = until(api, "/stations/CP", |s| {
            s["connectors"][1]["waitingIdTag"].is_null()
        })
        .await;
        assert_eq!(state["connectors"][1]["status"], "Available", "{state}");
    });
}

/// `--trace` on a controlled station records what the control API did through the station's
/// recorder (the hardware facts, the start, the operator's configuration), one trace per
/// start of the station: the power cycle begins `cp.2.jsonl`, restored from the store. Both
/// replay with `ocpp replay` (conformance/README.md, "Traces").
#[test]
fn traces_of_a_controlled_station_replay_across_a_power_cycle() {
    let dir = scratch("control-trace");
    let csms = Csms::start(&dir);
    let trace = dir.join("cp.jsonl");
    let trace_arg = trace.to_str().expect("UTF-8 path").to_owned();
    let mut control = Control::start(&csms.url, &dir, &["--trace", &trace_arg]);
    runtime().block_on(async {
        let (cs, api) = (csms.api, control.api);
        act(api, "/stations/CP/connectors/1/plug-in", "").await;
        act(
            api,
            "/stations/CP/connectors/1/id-tag",
            r#"{"idTag": "TAG-T"}"#,
        )
        .await;
        until(cs, "/transactions?station=CP&active=true", |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
        act(
            api,
            "/stations/CP/configuration",
            r#"{"key": "MeterValueSampleInterval", "value": "17"}"#,
        )
        .await;
        act(api, "/stations/CP/power-cycle", "").await;
        until(api, "/stations/CP", |s| s["connected"] == true).await;
    });
    let (code, _) = control.stop();
    assert_eq!(code, Some(0));
    let first = std::fs::read_to_string(&trace).expect("the first start's trace");
    for command in ["start_transaction", "set_configuration", "authorize"] {
        assert!(
            first.contains(&format!(r#""command":{{"{command}""#)),
            "{command} not recorded"
        );
    }
    let second = dir.join("cp.2.jsonl");
    assert!(second.exists(), "the restart writes its own trace");
    let output = Command::new(BIN)
        .arg("replay")
        .arg(&trace)
        .arg(&second)
        .output()
        .expect("ocpp replay runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout.matches(": ok (charge point").count(), 2, "{stdout}");
}
