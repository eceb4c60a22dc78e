//! Firmware Management in the 1.6 Charge Point role, in virtual time: UpdateFirmware with its
//! FirmwareStatusNotification sequence (section 5.19, 4.5, errata 3.47-3.49; OCTT TC_044_1_CS,
//! TC_044_2_CS, TC_044_3_CS), GetDiagnostics with DiagnosticsStatusNotification (5.9, 4.4; OCTT
//! TC_045_1_CS, TC_045_2_CS), the triggered notifications (5.17, OCTT TC_054_CS), retries,
//! power loss and offline periods.

use std::time::Duration;

use ocpp_core::charge_point::config::{Definitions, Profile, StandardKey};
use ocpp_core::charge_point::firmware::{TransferError, TransferOutcome};
use ocpp_core::charge_point::{
    ChargePoint, ChargePointConfig, ChargePointError, ConnectorStatus, Event, Reply,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::Snapshot;
use ocpp_core::primitives::datetime;
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{BootNotificationRequest, ChargePointStatus, Reason};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const START: OffsetDateTime = datetime!(2025-03-01 08:00 UTC);

/// A station with `connectors` connectors, a Central System that answers everything, and the
/// store between them.
struct Bench {
    now: Now,
    cp: ChargePoint,
    cs: Endpoint,
    configure: fn(&mut ChargePointConfig),
    definitions: Definitions,
    store: Snapshot,
    /// (action, payload) of every call the station made.
    calls: Vec<(String, Value)>,
    events: Vec<Event>,
    answer: Option<Result<Value, String>>,
}

fn station(
    definitions: &Definitions,
    configure: fn(&mut ChargePointConfig),
    store: &Snapshot,
) -> ChargePoint {
    let mut config = ChargePointConfig::new(
        BootNotificationRequest::new("VendorX", "Model1"),
        definitions.clone(),
    );
    configure(&mut config);
    ChargePoint::new(config, Box::new(CounterIds::default()), store).unwrap()
}

impl Bench {
    fn new(connectors: u32) -> Bench {
        Bench::configured(connectors, |_| {})
    }

    fn configured(connectors: u32, configure: fn(&mut ChargePointConfig)) -> Bench {
        let definitions = Definitions::builder()
            .initial(StandardKey::NumberOfConnectors, &connectors.to_string())
            .build()
            .unwrap();
        Bench::with_definitions(definitions, configure)
    }

    fn with_definitions(definitions: Definitions, configure: fn(&mut ChargePointConfig)) -> Bench {
        let store = Snapshot::new();
        Bench {
            now: Now::new(Monotonic::ZERO, START),
            cp: station(&definitions, configure, &store),
            cs: Endpoint::new(
                EndpointConfig::new(),
                Box::new(CounterIds::starting_at(500)),
            ),
            configure,
            definitions,
            store,
            calls: Vec::new(),
            events: Vec::new(),
            answer: None,
        }
    }

    fn online(mut self) -> Bench {
        self.cs.handle_connected(self.now);
        self.cp.handle_connected(self.now);
        self.pump();
        self.calls.clear();
        self.events.clear();
        self
    }

    /// Power cycle: a new machine from the store, as after a restart.
    fn restart(&mut self) {
        self.cs.handle_disconnected(self.now);
        self.pump();
        self.cp = station(&self.definitions, self.configure, &self.store);
    }

    fn reconnect(&mut self) {
        self.cs.handle_connected(self.now);
        self.cp.handle_connected(self.now);
        self.pump();
    }

    fn disconnect(&mut self) {
        self.cs.handle_disconnected(self.now);
        self.cp.handle_disconnected(self.now);
        self.pump();
    }

    fn pump(&mut self) {
        loop {
            let mut quiet = true;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        quiet = false;
                        Machine::handle_message(&mut self.cs, self.now, &text);
                    }
                    Output::Persist(op) => self.store.apply([&op]),
                    Output::Event(event) => self.events.push(event),
                    Output::Close(close) => panic!("unexpected close {close:?}"),
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        quiet = false;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(RpcEvent::Call(call)) => {
                        let time = datetime::format(self.now.wall);
                        let answer = match call.action.as_str() {
                            "BootNotification" => {
                                json!({"status": "Accepted", "currentTime": time, "interval": 3600})
                            }
                            "StartTransaction" => {
                                json!({"transactionId": 7, "idTagInfo": {"status": "Accepted"}})
                            }
                            "StopTransaction" | "Authorize" => {
                                json!({"idTagInfo": {"status": "Accepted"}})
                            }
                            "Heartbeat" => json!({"currentTime": time}),
                            _ => json!({}),
                        };
                        self.calls.push((call.action.to_string(), call.payload));
                        self.cs.respond(self.now, &call.id, answer).unwrap();
                    }
                    Output::Event(RpcEvent::Completed { outcome, .. }) => {
                        self.answer = Some(outcome.map_err(|e| format!("{e:?}")));
                    }
                    Output::Event(RpcEvent::PeerError { error, .. }) => {
                        panic!("the station sent something wrong: {error:?}")
                    }
                    other => panic!("unexpected output of the bare endpoint: {other:?}"),
                }
            }
            if quiet {
                return;
            }
        }
    }

    /// The Central System calls the station and gets its answer.
    fn request(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        let known = ocpp_core::v16::Action::from_name(action).expect("a 1.6 action");
        let _ = self.cs.call(self.now, known, payload).unwrap();
        self.pump();
        self.answer.take().expect("the station answered")
    }

    /// Runs virtual time `seconds` ahead, firing every deadline on the way.
    fn wait(&mut self, seconds: u64) {
        let end = self.now.monotonic + Duration::from_secs(seconds);
        loop {
            let next = [self.cp.poll_timeout(), self.cs.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|at| *at <= end)
                .min();
            let at = next.unwrap_or(end);
            self.now = self.now.advanced(at.saturating_since(self.now.monotonic));
            if next.is_none() {
                return;
            }
            self.cp.handle_timeout(self.now);
            self.cs.handle_timeout(self.now);
            self.pump();
        }
    }

    /// The statuses of the transfer notifications sent since the last call, in order.
    fn notices(&mut self) -> Vec<(String, String)> {
        let calls = std::mem::take(&mut self.calls);
        calls
            .into_iter()
            .filter(|(action, _)| {
                action.ends_with("StatusNotification") && action != "StatusNotification"
            })
            .map(|(action, payload)| (action, payload["status"].as_str().unwrap().to_owned()))
            .collect()
    }

    /// Whether the station asked the application to install since the last look.
    fn asked_to_install(&mut self) -> bool {
        self.take_events()
            .iter()
            .any(|e| matches!(e, Event::FirmwareInstallRequested { .. }))
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn downloaded(&mut self, outcome: TransferOutcome) {
        self.cp.firmware_downloaded(self.now, outcome).unwrap();
        self.pump();
    }

    fn installed(&mut self, outcome: TransferOutcome) {
        self.cp.firmware_installed(self.now, outcome).unwrap();
        self.pump();
    }

    fn uploaded(&mut self, outcome: TransferOutcome) {
        self.cp.diagnostics_uploaded(self.now, outcome).unwrap();
        self.pump();
    }

    fn update_firmware(&mut self, in_seconds: i64, extra: Value) {
        let mut payload = json!({
            "location": "ftp://firmware.example.com/v2.bin",
            "retrieveDate": datetime::format(self.now.wall + time::Duration::seconds(in_seconds)),
        });
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        assert_eq!(self.request("UpdateFirmware", payload), Ok(json!({})));
    }
}

fn fw(status: &str) -> (String, String) {
    ("FirmwareStatusNotification".to_owned(), status.to_owned())
}

fn diag(status: &str) -> (String, String) {
    (
        "DiagnosticsStatusNotification".to_owned(),
        status.to_owned(),
    )
}

fn statuses(calls: &[(String, Value)]) -> Vec<(i64, String)> {
    calls
        .iter()
        .filter(|(action, _)| action == "StatusNotification")
        .map(|(_, p)| {
            (
                p["connectorId"].as_i64().unwrap(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn download_requests(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::FirmwareDownloadRequested { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect()
}

/// OCTT TC_044_1_CS: Downloading, Downloaded, Installing; the station restarts into the new
/// firmware and, after its BootNotification and StatusNotifications, reports Installed. Nothing
/// starts before the retrieve date (errata 3.63: "after which the Charge Point is allowed to
/// retrieve").
#[test]
fn tc_044_1_cs_firmware_is_downloaded_installed_and_reported_after_the_restart() {
    let mut bench = Bench::new(2).online();
    bench.update_firmware(600, json!({}));
    bench.wait(599);
    assert!(
        bench.take_events().is_empty(),
        "not before the retrieve date"
    );
    assert!(bench.notices().is_empty());
    bench.wait(1);
    assert_eq!(
        bench.take_events(),
        [Event::FirmwareDownloadRequested {
            location: "ftp://firmware.example.com/v2.bin".into(),
            attempt: 1
        }]
    );
    assert_eq!(bench.notices(), [fw("Downloading")]);

    bench.downloaded(TransferOutcome::Succeeded);
    assert_eq!(
        bench.take_events(),
        [Event::FirmwareInstallRequested {
            location: "ftp://firmware.example.com/v2.bin".into()
        }]
    );
    // No transaction runs: installation at once, connectors held Unavailable meanwhile.
    let calls = bench.calls.clone();
    assert_eq!(bench.notices(), [fw("Downloaded"), fw("Installing")]);
    assert_eq!(
        statuses(&calls),
        [
            (0, "Unavailable".into()),
            (1, "Unavailable".into()),
            (2, "Unavailable".into())
        ]
    );
    assert!(!bench.cp.is_operative(1));

    // The station restarts into the new firmware, which finds itself good.
    bench.restart();
    bench
        .cp
        .firmware_installed(bench.now, TransferOutcome::Succeeded)
        .unwrap();
    bench.reconnect();
    let actions: Vec<&str> = bench.calls.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "BootNotification",
            "StatusNotification",
            "StatusNotification",
            "StatusNotification",
            "FirmwareStatusNotification"
        ]
    );
    assert!(statuses(&bench.calls).iter().all(|(_, s)| s == "Available"));
    assert_eq!(bench.notices(), [fw("Installed")]);
    assert!(bench.cp.is_operative(1));
    // Done: a triggered notification now says Idle.
    assert_eq!(
        bench.request(
            "TriggerMessage",
            json!({"requestedMessage": "FirmwareStatusNotification"})
        ),
        Ok(json!({"status": "Accepted"}))
    );
    assert_eq!(bench.notices(), [fw("Idle")]);
}

/// OCTT TC_044_2_CS: with `retries` 0 a failed download is reported DownloadFailed at once,
/// and the connectors were never taken out of service.
#[test]
fn tc_044_2_cs_a_failed_download_without_retries_is_reported() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({"retries": 0}));
    assert_eq!(download_requests(&bench.take_events()), [1]);
    bench.downloaded(TransferOutcome::Failed);
    let calls = bench.calls.clone();
    assert_eq!(bench.notices(), [fw("Downloading"), fw("DownloadFailed")]);
    assert!(statuses(&calls).is_empty());
    assert!(bench.cp.is_operative(1));
    bench.wait(3600);
    assert!(download_requests(&bench.take_events()).is_empty());
}

/// Section 6.55: `retries` failed attempts are tried again `retryInterval` apart; only the
/// last failure is reported.
#[test]
fn a_failed_download_is_retried_at_the_retry_interval() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({"retries": 2, "retryInterval": 30}));
    assert_eq!(download_requests(&bench.take_events()), [1]);
    bench.downloaded(TransferOutcome::Failed);
    bench.wait(29);
    assert!(bench.take_events().is_empty());
    bench.wait(1);
    assert_eq!(download_requests(&bench.take_events()), [2]);
    bench.downloaded(TransferOutcome::Failed);
    bench.wait(30);
    assert_eq!(download_requests(&bench.take_events()), [3]);
    assert_eq!(
        bench.notices(),
        [fw("Downloading")],
        "one Downloading for every attempt"
    );
    bench.downloaded(TransferOutcome::Failed);
    assert_eq!(bench.notices(), [fw("DownloadFailed")]);
}

/// Without `retries` the station's defaults apply (`FirmwareSettings`).
#[test]
fn the_stations_default_retries_apply_when_the_request_gives_none() {
    let mut bench = Bench::configured(1, |config| {
        config.firmware.default_retries = 1;
        config.firmware.default_retry_interval = Duration::from_secs(5);
    })
    .online();
    bench.update_firmware(0, json!({}));
    bench.downloaded(TransferOutcome::Failed);
    bench.wait(5);
    assert_eq!(download_requests(&bench.take_events()), [1, 2]);
    bench.downloaded(TransferOutcome::Failed);
    assert_eq!(bench.notices(), [fw("Downloading"), fw("DownloadFailed")]);
}

/// OCTT TC_044_3_CS: a failed installation is reported InstallationFailed and the connectors
/// are available again.
#[test]
fn tc_044_3_cs_a_failed_installation_is_reported() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({}));
    bench.downloaded(TransferOutcome::Succeeded);
    assert_eq!(
        bench.notices(),
        [fw("Downloading"), fw("Downloaded"), fw("Installing")]
    );
    bench.installed(TransferOutcome::Failed);
    let calls = bench.calls.clone();
    assert_eq!(bench.notices(), [fw("InstallationFailed")]);
    assert_eq!(
        statuses(&calls),
        [(0, "Available".into()), (1, "Available".into())]
    );
    assert!(bench.cp.is_operative(1));
}

/// Errata 3.49: installation waits for the running transaction; meanwhile the free connector
/// is Unavailable so that no new session delays it, and the busy one keeps charging.
#[test]
fn installation_waits_for_running_transactions() {
    let mut bench = Bench::new(2).online();
    let charging = ConnectorStatus::new(ChargePointStatus::Charging);
    bench.cp.report_status(bench.now, 1, charging).unwrap();
    let key = bench
        .cp
        .start_transaction(bench.now, 1, "TAG1", 0, None)
        .unwrap();
    bench.pump();
    bench.calls.clear();
    bench.update_firmware(0, json!({}));
    bench.downloaded(TransferOutcome::Succeeded);
    assert!(!bench.asked_to_install());
    bench.wait(5);
    let calls = std::mem::take(&mut bench.calls);
    assert!(statuses(&calls).contains(&(2, "Unavailable".into())));
    assert!(
        !statuses(&calls).iter().any(|(c, _)| *c == 1),
        "connector 1 charges on"
    );

    bench
        .cp
        .stop_transaction(bench.now, 1, 1_000, Some(Reason::Local), None)
        .unwrap();
    bench.pump();
    assert!(
        bench.asked_to_install(),
        "installation starts once {key:?} ended"
    );
    assert_eq!(bench.notices().last(), Some(&fw("Installing")));
}

/// A station that can install while charging does so at once.
#[test]
fn a_station_that_installs_while_charging_does_not_wait() {
    let mut bench = Bench::configured(1, |config| {
        config.firmware.install_during_transactions = true;
    })
    .online();
    bench
        .cp
        .start_transaction(bench.now, 1, "TAG1", 0, None)
        .unwrap();
    bench.pump();
    bench.update_firmware(0, json!({}));
    bench.downloaded(TransferOutcome::Succeeded);
    assert!(bench.asked_to_install());
}

/// A download cut short by a power loss counts as a failed attempt: it is asked for again
/// after the restart, and given up when no retries remain.
#[test]
fn a_download_cut_by_a_power_loss_is_tried_again_after_the_restart() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({"retries": 1, "retryInterval": 60}));
    assert_eq!(download_requests(&bench.take_events()), [1]);
    bench.restart();
    bench.reconnect();
    assert_eq!(
        download_requests(&bench.take_events()),
        [2],
        "the retry of a restart is at once"
    );
    bench.restart();
    bench.reconnect();
    assert!(download_requests(&bench.take_events()).is_empty());
    assert_eq!(bench.notices(), [fw("Downloading"), fw("DownloadFailed")]);
}

/// An update scheduled for later survives a restart and starts at its retrieve date.
#[test]
fn a_scheduled_update_survives_a_restart() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(3600, json!({}));
    bench.restart();
    bench.reconnect();
    bench.wait(3599);
    assert!(download_requests(&bench.take_events()).is_empty());
    bench.wait(1);
    assert_eq!(download_requests(&bench.take_events()), [1]);
}

/// Notifications made while offline are sent, in order, once the station is back and accepted;
/// the transfer itself went on offline.
#[test]
fn notifications_made_offline_are_sent_in_order_when_back() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({}));
    bench.disconnect();
    bench.calls.clear();
    bench.downloaded(TransferOutcome::Succeeded);
    assert!(bench.asked_to_install());
    bench.installed(TransferOutcome::Succeeded);
    bench.reconnect();
    assert_eq!(
        bench.notices(),
        [fw("Downloaded"), fw("Installing"), fw("Installed")]
    );
}

/// A newer UpdateFirmware replaces an update not yet installing; the application is told to
/// drop the old download.
#[test]
fn a_newer_update_replaces_the_one_under_way() {
    let mut bench = Bench::new(1).online();
    bench.update_firmware(0, json!({}));
    bench.take_events();
    let payload = json!({
        "location": "https://firmware.example.com/v3.bin",
        "retrieveDate": datetime::format(bench.now.wall),
    });
    assert_eq!(bench.request("UpdateFirmware", payload), Ok(json!({})));
    assert_eq!(
        bench.take_events(),
        [
            Event::FirmwareUpdateCancelled {
                location: "ftp://firmware.example.com/v2.bin".into()
            },
            Event::FirmwareDownloadRequested {
                location: "https://firmware.example.com/v3.bin".into(),
                attempt: 1
            }
        ]
    );
}

impl Bench {
    /// A GetDiagnostics the application answers with `file_name`; the station's answer.
    fn get_diagnostics(
        &mut self,
        payload: Value,
        file_name: Option<&str>,
    ) -> Result<Value, String> {
        let _ = self
            .cs
            .call(self.now, ocpp_core::v16::Action::GetDiagnostics, payload)
            .unwrap();
        self.pump();
        assert!(self.answer.is_none(), "the application decides");
        let decision = match self.take_events().as_slice() {
            [
                Event::DiagnosticsRequested {
                    decision, location, ..
                },
            ] => {
                assert_eq!(location, "ftp://logs.example.com/");
                decision.clone()
            }
            other => panic!("expected one DiagnosticsRequested, got {other:?}"),
        };
        let file_name = file_name.map(str::to_owned);
        self.cp
            .reply(self.now, decision, Reply::Diagnostics { file_name })
            .unwrap();
        self.pump();
        self.answer.take().expect("the station answered")
    }
}

fn upload_attempts(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::DiagnosticsUploadRequested {
                attempt, file_name, ..
            } => {
                assert_eq!(file_name, "diag-1.zip");
                Some(*attempt)
            }
            _ => None,
        })
        .collect()
}

/// OCTT TC_045_1_CS: the answer names the file, then Uploading and Uploaded.
#[test]
fn tc_045_1_cs_diagnostics_are_uploaded() {
    let mut bench = Bench::new(1).online();
    let answer = bench.get_diagnostics(
        json!({"location": "ftp://logs.example.com/", "startTime": "2025-02-01T00:00:00Z"}),
        Some("diag-1.zip"),
    );
    assert_eq!(answer, Ok(json!({"fileName": "diag-1.zip"})));
    let events = bench.take_events();
    assert_eq!(upload_attempts(&events), [1]);
    assert!(matches!(
        &events[0],
        Event::DiagnosticsUploadRequested { start_time: Some(t), stop_time: None, .. }
            if *t == datetime!(2025-02-01 00:00 UTC)
    ));
    assert_eq!(
        bench.request(
            "TriggerMessage",
            json!({"requestedMessage": "DiagnosticsStatusNotification"})
        ),
        Ok(json!({"status": "Accepted"}))
    );
    bench.uploaded(TransferOutcome::Succeeded);
    assert_eq!(
        bench.notices(),
        [diag("Uploading"), diag("Uploading"), diag("Uploaded")]
    );
}

/// OCTT TC_045_2_CS: a failed upload is retried per `retries` / `retryInterval`, then
/// reported UploadFailed.
#[test]
fn tc_045_2_cs_a_failed_upload_is_retried_then_reported() {
    let mut bench = Bench::new(1).online();
    let answer = bench.get_diagnostics(
        json!({"location": "ftp://logs.example.com/", "retries": 1, "retryInterval": 10}),
        Some("diag-1.zip"),
    );
    assert_eq!(answer, Ok(json!({"fileName": "diag-1.zip"})));
    assert_eq!(upload_attempts(&bench.take_events()), [1]);
    bench.uploaded(TransferOutcome::Failed);
    bench.wait(9);
    assert!(bench.take_events().is_empty());
    bench.wait(1);
    assert_eq!(upload_attempts(&bench.take_events()), [2]);
    bench.uploaded(TransferOutcome::Failed);
    assert_eq!(bench.notices(), [diag("Uploading"), diag("UploadFailed")]);
}

/// Section 5.9: without diagnostic information the answer has no file name and nothing is
/// uploaded; while an upload runs, a second request gets no file either.
#[test]
fn no_file_name_when_there_is_nothing_to_upload_or_an_upload_runs() {
    let mut bench = Bench::new(1).online();
    let request = json!({"location": "ftp://logs.example.com/"});
    let answer = bench.get_diagnostics(request.clone(), None);
    assert_eq!(answer, Ok(json!({})));
    assert!(bench.take_events().is_empty());
    assert!(bench.notices().is_empty());

    let answer = bench.get_diagnostics(request.clone(), Some("diag-1.zip"));
    assert_eq!(answer, Ok(json!({"fileName": "diag-1.zip"})));
    bench.take_events();
    assert_eq!(bench.request("GetDiagnostics", request), Ok(json!({})));
    assert!(
        bench.take_events().is_empty(),
        "the application is not asked twice"
    );
}

/// Reports of transfers the stack did not ask for are refused, and change nothing.
#[test]
fn reports_nobody_asked_for_are_refused() {
    let mut bench = Bench::new(1).online();
    let refused = |r: Result<(), ChargePointError>, what: &str| {
        assert_eq!(
            r.unwrap_err().to_string(),
            ChargePointError::Transfer(TransferError::NotUnderWay(match what {
                "download" => "firmware download",
                "install" => "firmware installation",
                _ => "diagnostics upload",
            }))
            .to_string()
        );
    };
    refused(
        bench
            .cp
            .firmware_downloaded(bench.now, TransferOutcome::Succeeded),
        "download",
    );
    refused(
        bench
            .cp
            .firmware_installed(bench.now, TransferOutcome::Succeeded),
        "install",
    );
    refused(
        bench
            .cp
            .diagnostics_uploaded(bench.now, TransferOutcome::Failed),
        "upload",
    );
    // Before the retrieve date there is no download to report either.
    bench.update_firmware(60, json!({}));
    refused(
        bench
            .cp
            .firmware_downloaded(bench.now, TransferOutcome::Succeeded),
        "download",
    );
    bench.pump();
    assert!(bench.notices().is_empty());
}

/// A station without the Firmware Management profile answers its requests NotSupported and
/// its triggers NotImplemented (section 5.17).
#[test]
fn without_the_profile_firmware_requests_are_not_supported() {
    let definitions = Definitions::builder()
        .profiles(&[Profile::Core, Profile::RemoteTrigger])
        .build()
        .unwrap();
    let mut bench = Bench::with_definitions(definitions, |_| {}).online();
    let answer = bench.request(
        "UpdateFirmware",
        json!({"location": "ftp://x/", "retrieveDate": "2025-03-01T08:00:00Z"}),
    );
    assert!(answer.unwrap_err().contains("NotSupported"));
    assert_eq!(
        bench.request(
            "TriggerMessage",
            json!({"requestedMessage": "FirmwareStatusNotification"})
        ),
        Ok(json!({"status": "NotImplemented"}))
    );
}

/// A corrupt firmware record is a clear error at start-up, not a silent reset.
#[test]
fn a_damaged_firmware_record_is_a_clear_error() {
    let definitions = Definitions::builder().build().unwrap();
    let mut store = Snapshot::new();
    store.insert(
        "cp16.firmware",
        "update".into(),
        b"{\"v\":1,\"step\":3}".to_vec(),
    );
    let mut config = ChargePointConfig::new(BootNotificationRequest::new("V", "M"), definitions);
    config.firmware.default_retries = 0;
    let error = ChargePoint::new(config, Box::new(CounterIds::default()), &store).unwrap_err();
    assert!(
        error.to_string().contains("cp16.firmware/update"),
        "{error}"
    );
}
