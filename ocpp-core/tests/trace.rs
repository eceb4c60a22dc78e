//! Traces recorded in virtual time replay exactly, and the replayer reports the first
//! difference. Our Charge Point and our Central System, each wrapped in a `Recorder` with
//! UUID message ids (as in production), run a session over an in-memory link; both traces
//! must then replay on fresh machines with counter ids (`conformance/README.md`, "Traces").
//! The replayer's reports of changed, missing and extra outputs are proved on the committed
//! traces in `conformance/tests/replay.rs`.

use std::time::Duration;

use ocpp_core::Decimal;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup,
};
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::firmware::TransferOutcome;
use ocpp_core::charge_point::smart_charging::ChargingLimit;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointSetup, ConnectorStatus, Fault, Reply};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::{MemorySink, Recorder, Role, replay};
use ocpp_core::v16::{
    BootNotificationRequest, ChangeConfigurationRequest, ChargePointErrorCode, ChargePointStatus,
    GetConfigurationRequest, GetDiagnosticsRequest, MessageTrigger, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, ResetRequest, ResetStatus, ResetType, TriggerMessageRequest,
    UpdateFirmwareRequest,
};
use time::macros::datetime;

struct Link {
    now: Now,
    cp: Recorder<ChargePoint>,
    cs: Recorder<CentralSystem>,
    cp_events: Vec<charge_point::Event>,
    cs_events: Vec<central_system::Event>,
}

impl Link {
    fn new(cp_sink: &MemorySink, cs_sink: &MemorySink) -> Link {
        let mut boot = BootNotificationRequest::new("VendorX", "Trace");
        boot.firmware_version = Some("1.0".into());
        let setup = ChargePointSetup::new(boot).key(StandardKey::NumberOfConnectors, "2");
        let cp =
            Recorder::new(&setup, Box::new(UuidV4Ids), Some(Box::new(cp_sink.clone()))).unwrap();
        let mut config = CentralSystemConfig::new("CP-T");
        config.policy = CentralSystemPolicy::accept_all();
        let cs = Recorder::new(
            &CentralSystemSetup::of(&config),
            Box::new(UuidV4Ids),
            Some(Box::new(cs_sink.clone())),
        )
        .unwrap();
        Link {
            // Not on a millisecond: the recorder rounds up and the trace holds what it fed.
            now: Now::new(
                Monotonic::from_elapsed(Duration::from_micros(7_250)),
                datetime!(2026-03-01 10:00:00.123456 UTC),
            ),
            cp,
            cs,
            cp_events: Vec::new(),
            cs_events: Vec::new(),
        }
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cs.handle_message(self.now, &text);
                    }
                    Output::Event(event) => self.cp_events.push(event),
                    _ => {}
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(event) => self.cs_events.push(event),
                    _ => {}
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now.monotonic + by;
        while let Some(at) = [self.cp.poll_timeout(), self.cs.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .filter(|at| *at <= end)
        {
            self.now = self.now.advanced(at.saturating_since(self.now.monotonic));
            self.cp.handle_timeout(self.now);
            self.cs.handle_timeout(self.now);
            self.settle();
        }
        self.now = self.now.advanced(end.saturating_since(self.now.monotonic));
    }

    fn cp_decision(&mut self) -> charge_point::Decision {
        self.cp_events
            .drain(..)
            .find_map(|event| match event {
                charge_point::Event::RemoteStartRequested { decision, .. }
                | charge_point::Event::ResetRequested { decision, .. } => Some(decision),
                _ => None,
            })
            .expect("a decision")
    }
}

/// Records a session of both roles: boot, status, authorize, start, stop, remote start,
/// get and change configuration, trigger, a heartbeat timeout, reset, disconnect.
fn record_session() -> (String, String) {
    let (cp_sink, cs_sink) = (MemorySink::new(), MemorySink::new());
    let mut link = Link::new(&cp_sink, &cs_sink);
    link.cs.handle_connected(link.now);
    link.cp.handle_connected(link.now);
    link.settle();
    link.advance(Duration::from_millis(3));
    let now = link.now;
    link.cp
        .report_status(now, 1, ConnectorStatus::new(ChargePointStatus::Preparing))
        .unwrap();
    link.cp.authorize(now, "TAG-1").unwrap();
    link.settle();
    link.cp
        .start_transaction(now, 1, "TAG-1", 1000, None)
        .unwrap();
    link.settle();
    link.advance(Duration::from_secs(2));
    let now = link.now;
    link.cp
        .stop_transaction(now, 1, 1600, None, Some("TAG-1".into()))
        .unwrap();
    link.settle();
    let request = RemoteStartTransactionRequest {
        connector_id: Some(2),
        id_tag: "REMOTE".into(),
        charging_profile: None,
    };
    let _ = link.cs.call(now, &request).unwrap();
    link.settle();
    let decision = link.cp_decision();
    link.cp
        .reply(
            now,
            decision,
            Reply::RemoteStart(RemoteStartStopStatus::Accepted),
        )
        .unwrap();
    link.settle();
    link.cp
        .start_transaction(now, 2, "REMOTE", 0, None)
        .unwrap();
    link.settle();
    let _ = link
        .cs
        .call(now, &GetConfigurationRequest { key: None })
        .unwrap();
    let change = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "30".into(),
    };
    let _ = link.cs.call(now, &change).unwrap();
    let trigger = TriggerMessageRequest {
        requested_message: MessageTrigger::StatusNotification,
        connector_id: Some(2),
    };
    let _ = link.cs.call(now, &trigger).unwrap();
    link.settle();
    // Quiet for longer than the heartbeat interval: the Charge Point's timer sends one.
    link.advance(Duration::from_secs(31));
    let now = link.now;
    let reset = ResetRequest {
        kind: ResetType::Soft,
    };
    let _ = link.cs.call(now, &reset).unwrap();
    link.settle();
    let decision = link.cp_decision();
    link.cp
        .reply(now, decision, Reply::Reset(ResetStatus::Accepted))
        .unwrap();
    link.settle();
    link.cp
        .stop_transaction(now, 2, 10, Some(Reason::SoftReset), None)
        .unwrap();
    link.settle();
    link.advance(Duration::from_millis(500));
    link.cp.handle_disconnected(link.now);
    link.cs.handle_disconnected(link.now);
    link.settle();
    (cp_sink.text(), cs_sink.text())
}

/// The design's conformance rule: a trace's inputs fed to a fresh machine (counter ids,
/// virtual time) give the recorded outputs, message ids and date-times normalised.
#[test]
fn both_roles_replay_what_they_recorded() {
    let (cp, cs) = record_session();
    for (text, role) in [(&cp, Role::ChargePoint), (&cs, Role::CentralSystem)] {
        let replayed = replay(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(replayed.role, role);
        assert!(replayed.outputs > 20, "{replayed:?}");
    }
    // The charge point's heartbeat came from its own timer, and was recorded as a timeout.
    assert!(cp.lines().any(|l| l.contains(r#""in":"timeout""#)));
    assert!(cp.lines().any(|l| l.contains(r#""Heartbeat""#)));
    // UUIDs were recorded; the replay used counters and still matched.
    assert!(cp.lines().nth(2).unwrap().contains('-'));
}

/// The recorder hands the machine instants on the millisecond, rounded up, and the header's
/// origin is the first of them.
#[test]
fn the_origin_is_the_first_instant_rounded_up_to_the_millisecond() {
    let (cp, _) = record_session();
    let header = cp.lines().next().unwrap();
    assert!(header.contains(r#""monotonic_ms":8"#), "{header}");
    assert!(
        header.contains(r#""wall":"2026-03-01T10:00:00.123Z""#),
        "{header}"
    );
    assert!(
        cp.lines()
            .nth(1)
            .unwrap()
            .starts_with(r#"{"t":0,"in":"connected"}"#)
    );
}

/// Every application command of the Charge Point is recorded as data and replays (DESIGN
/// "Conformance": a trace holds everything the application did): the hardware facts the
/// status is derived from (plug in, suspensions, EV-side disconnect, fault, unplug), a driver
/// prepared, the operator's configuration (accepted and refused), a local limit, and the
/// application's reports on a firmware update (1.6 section 5.19) and a diagnostics upload
/// (section 5.9).
#[test]
fn hardware_configuration_limit_and_transfer_commands_are_recorded_and_replay() {
    let (cp_sink, cs_sink) = (MemorySink::new(), MemorySink::new());
    let mut link = Link::new(&cp_sink, &cs_sink);
    link.cs.handle_connected(link.now);
    link.cp.handle_connected(link.now);
    link.settle();
    let now = link.now;
    link.cp.plug_in(now, 1).unwrap();
    link.cp.prepare(now, 1, "TAG-1").unwrap();
    link.cp
        .start_transaction(now, 1, "TAG-1", 100, None)
        .unwrap();
    link.settle();
    link.cp.set_ev_suspended(now, 1, true).unwrap();
    link.cp.set_evse_suspended(now, 1, true).unwrap();
    link.cp.set_evse_suspended(now, 1, false).unwrap();
    link.cp.set_ev_suspended(now, 1, false).unwrap();
    link.cp.ev_side_disconnected(now, 1).unwrap();
    link.settle();
    link.cp.unplug(now, 1).unwrap();
    let fault = Fault::new(ChargePointErrorCode::GroundFailure);
    link.cp.report_fault(now, 2, fault).unwrap();
    // A fault needs an error code: refused, and the refusal recorded.
    let no_fault = Fault::new(ChargePointErrorCode::NoError);
    assert!(link.cp.report_fault(now, 2, no_fault).is_err());
    link.cp.clear_fault(now, 2).unwrap();
    link.cp
        .set_configuration(now, "MeterValueSampleInterval", "17")
        .unwrap();
    assert!(link.cp.set_configuration(now, "NoSuchKey", "1").is_err());
    let limit = ChargingLimit::amps(Decimal::from(16), 3);
    link.cp.set_local_limit(now, 0, Some(limit)).unwrap();
    link.cp.set_local_limit(now, 0, None).unwrap();
    link.settle();

    let update = UpdateFirmwareRequest {
        location: "ftp://firmware.example.com/v2.bin".into(),
        retries: None,
        retrieve_date: now.wall,
        retry_interval: None,
    };
    let _ = link.cs.call(now, &update).unwrap();
    link.settle();
    link.advance(Duration::from_secs(1));
    let now = link.now;
    link.cp
        .firmware_downloaded(now, TransferOutcome::Succeeded)
        .unwrap();
    link.settle();
    link.cp
        .firmware_installed(now, TransferOutcome::Succeeded)
        .unwrap();
    link.settle();
    let diagnostics = GetDiagnosticsRequest {
        location: "ftp://logs.example.com/".into(),
        retries: None,
        retry_interval: None,
        start_time: None,
        stop_time: None,
    };
    let _ = link.cs.call(now, &diagnostics).unwrap();
    link.settle();
    let decision = link
        .cp_events
        .drain(..)
        .find_map(|event| match event {
            charge_point::Event::DiagnosticsRequested { decision, .. } => Some(decision),
            _ => None,
        })
        .expect("the diagnostics request");
    let file_name = Some("diagnostics.log".to_owned());
    link.cp
        .reply(now, decision, Reply::Diagnostics { file_name })
        .unwrap();
    link.settle();
    link.cp
        .diagnostics_uploaded(now, TransferOutcome::Succeeded)
        .unwrap();
    link.settle();
    link.cp.handle_disconnected(link.now);
    link.cs.handle_disconnected(link.now);
    link.settle();

    let (cp, cs) = (cp_sink.text(), cs_sink.text());
    for command in [
        "plug_in",
        "prepare",
        "set_ev_suspended",
        "set_evse_suspended",
        "ev_side_disconnected",
        "unplug",
        "report_fault",
        "clear_fault",
        "set_configuration",
        "set_local_limit",
        "firmware_downloaded",
        "firmware_installed",
        "diagnostics",
        "diagnostics_uploaded",
    ] {
        let recorded = format!(r#""command":{{"{command}""#);
        let replied = format!(r#""{command}":{{"#);
        assert!(
            cp.contains(&recorded) || cp.contains(&replied),
            "{command} not recorded:\n{cp}"
        );
    }
    // The refusals are results like any other.
    assert!(cp.contains("NoErrorIsNoFault"), "{cp}");
    assert!(cp.contains("Ok(Configuration(Err("), "{cp}");
    // The firmware and diagnostics statuses reached the Central System.
    for status in [r#""Downloaded""#, r#""Installed""#, r#""Uploaded""#] {
        assert!(cs.contains(status), "{status} not sent:\n{cs}");
    }
    for text in [&cp, &cs] {
        replay(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}
