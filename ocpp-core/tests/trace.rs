//! Traces recorded in virtual time replay exactly, and the replayer reports the first
//! difference. Our Charge Point and our Central System, each wrapped in a `Recorder` with
//! UUID message ids (as in production), run a session over an in-memory link; both traces
//! must then replay on fresh machines with counter ids (`conformance/README.md`, "Traces").
//! The replayer's reports of changed, missing and extra outputs are proved on the committed
//! traces in `conformance/tests/replay.rs`.

use std::time::Duration;

use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup,
};
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointSetup, ConnectorStatus, Reply};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::{MemorySink, Recorder, Role, replay};
use ocpp_core::v16::{
    BootNotificationRequest, ChangeConfigurationRequest, ChargePointStatus,
    GetConfigurationRequest, MessageTrigger, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, ResetRequest, ResetStatus, ResetType, TriggerMessageRequest,
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
    link.cs.call(now, &request).unwrap();
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
    link.cs
        .call(now, &GetConfigurationRequest { key: None })
        .unwrap();
    let change = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "30".into(),
    };
    link.cs.call(now, &change).unwrap();
    let trigger = TriggerMessageRequest {
        requested_message: MessageTrigger::StatusNotification,
        connector_id: Some(2),
    };
    link.cs.call(now, &trigger).unwrap();
    link.settle();
    // Quiet for longer than the heartbeat interval: the Charge Point's timer sends one.
    link.advance(Duration::from_secs(31));
    let now = link.now;
    let reset = ResetRequest {
        kind: ResetType::Soft,
    };
    link.cs.call(now, &reset).unwrap();
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
