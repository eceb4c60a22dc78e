//! The 1.6 Charge Point role against a scripted Central System, in virtual time: registration
//! (OCTT TC_001_CS, TC_002_CS; 1.6 section 4.2 and errata), heartbeats (4.6), status
//! notifications (4.9, errata 3.22, `MinimumStatusDuration`), TriggerMessage (5.17, errata 3.35)
//! and persistence of connector states.

use std::collections::VecDeque;
use std::time::Duration;

use ocpp_core::charge_point::authorization::Source;
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::{
    ChargePoint, ChargePointConfig, ChargePointError, ConnectorStatus, Event, IdTagAtTransaction,
    Registration, Reply,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::Snapshot;
use ocpp_core::rpc::CounterIds;
use ocpp_core::v16::{
    AuthorizationStatus, ChargePointErrorCode, ChargePointStatus, DataTransferRequest,
    DataTransferResponse, DataTransferStatus,
};
use serde_json::{Value, json};

mod cp_world;
use cp_world::*;

/// OCTT TC_001_CS (Cold Boot Charge Point): Rejected first, boot again after its interval, then
/// Accepted; a StatusNotification per connector and connector 0; heartbeats every interval.
#[test]
fn tc_001_cs_cold_boot_rejected_then_accepted() {
    let mut world = World::new(2, |_| {});
    world.registrations = VecDeque::from([("Rejected", 10), ("Accepted", 60)]);
    world.connect();
    assert_eq!(world.take_seen().len(), 1, "only the BootNotification");
    assert_eq!(world.cp.registration(), Registration::Rejected);

    // Section 4.2: nothing is sent before the retry interval has expired.
    world.run_until(secs(9));
    assert!(world.seen.is_empty());
    world.run_until(secs(10));
    let seen = world.take_seen();
    assert_eq!(seen[0].action, "BootNotification");
    assert_eq!(seen[0].at, secs(10));
    assert_eq!(world.cp.registration(), Registration::Accepted);
    // Errata 3.22: connector 0 and every connector, with their current status.
    assert_eq!(
        statuses(&seen),
        [(0, "Available"), (1, "Available"), (2, "Available")]
    );
    assert_eq!(world.cp.heartbeat_interval(), secs(60));

    // Step 7: a Heartbeat every interval of silence.
    world.run_until(secs(10 + 60 + 60));
    let beats: Vec<Duration> = world
        .take_seen()
        .iter()
        .filter(|s| s.action == "Heartbeat")
        .map(|s| s.at)
        .collect();
    assert_eq!(beats, [secs(70), secs(130)]);
}

/// OCTT TC_002_CS (Cold Boot Charge Point - Pending): while pending the station answers the
/// Central System, sends requests only when triggered, and boots again after the interval.
#[test]
fn tc_002_cs_cold_boot_pending() {
    let mut world = World::new(1, |_| {});
    world.registrations = VecDeque::from([("Pending", 30), ("Accepted", 300)]);
    world.connect();
    assert_eq!(world.cp.registration(), Registration::Pending);
    world.take_seen();

    // Nothing unprompted while pending, not even a status change.
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Preparing),
        )
        .unwrap();
    world.settle();
    world.run_until(secs(20));
    assert!(world.seen.is_empty());

    // Steps 3-6: the Central System reads and changes the configuration while pending.
    let all = world.cs_calls("GetConfiguration", json!({})).unwrap();
    assert!(!all["configurationKey"].as_array().unwrap().is_empty());
    let changed = world
        .cs_calls(
            "ChangeConfiguration",
            json!({"key": "MeterValueSampleInterval", "value": "30"}),
        )
        .unwrap();
    assert_eq!(changed, json!({"status": "Accepted"}));

    // Triggered messages are allowed (section 4.2).
    let answer = world.cs_calls(
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification", "connectorId": 1}),
    );
    assert_eq!(answer.unwrap(), json!({"status": "Accepted"}));
    assert_eq!(statuses(&world.take_seen()), [(1, "Preparing")]);

    world.run_until(secs(30));
    let seen = world.take_seen();
    assert_eq!(seen[0].action, "BootNotification");
    assert_eq!(seen[0].at, secs(30));
    assert_eq!(
        statuses(&seen),
        [(0, "Available"), (1, "Preparing")],
        "after acceptance every connector is reported again"
    );
}

/// Section 4.2: "While Rejected, the Charge Point SHALL NOT respond to any Central System
/// initiated message."
#[test]
fn a_rejected_station_answers_nothing() {
    let mut world = World::new(1, |_| {});
    world.registrations = VecDeque::from([("Rejected", 100), ("Accepted", 60)]);
    world.connect();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::TriggerMessage,
            json!({"requestedMessage": "Heartbeat"}),
        )
        .unwrap();
    world.settle();
    assert!(world.answers.is_empty(), "no answer while rejected");
    assert_eq!(world.actions(), ["BootNotification"]);
}

/// Section 4.2: between power-on and acceptance only BootNotification is sent.
#[test]
fn nothing_but_boot_notification_before_acceptance() {
    let mut world = World::new(1, |_| {});
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Faulted),
        )
        .unwrap();
    world.registrations = VecDeque::from([("Pending", 0)]);
    world.connect();
    world.run_until(secs(59));
    assert_eq!(world.actions(), ["BootNotification"]);
    // Interval 0: the station picks its own wait (the configured boot retry, 60 s).
    world.run_until(secs(60));
    assert_eq!(world.actions(), ["BootNotification", "BootNotification"]);
}

/// Section 4.6: a heartbeat may be skipped while other messages flow.
#[test]
fn heartbeats_are_skipped_while_other_traffic_flows() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world.take_seen();
    let mut status = ChargePointStatus::Preparing;
    for step in 1..=5 {
        world.run_until(secs(40 * step));
        world
            .cp
            .report_status(world.now, 1, ConnectorStatus::new(status))
            .unwrap();
        world.settle();
        status = match status {
            ChargePointStatus::Preparing => ChargePointStatus::Available,
            _ => ChargePointStatus::Preparing,
        };
    }
    assert!(
        !world.actions().contains(&"Heartbeat"),
        "{:?}",
        world.actions()
    );
    // Silence for a whole interval brings one.
    world.run_until(secs(200 + 60));
    assert_eq!(world.actions().last(), Some(&"Heartbeat"));
}

/// `MinimumStatusDuration` (chapter 9.1): a status is reported only once it has been stable
/// that long; a flicker is not reported at all. The timestamp is when the status began.
#[test]
fn statuses_are_reported_once_stable_for_the_minimum_duration() {
    let mut world = World::with_keys(1, &[(StandardKey::MinimumStatusDuration, "5")], |_| {});
    world.connect();
    assert_eq!(
        statuses(&world.seen).len(),
        2,
        "the report after acceptance is not delayed"
    );
    world.take_seen();
    world.run_until(secs(100));
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Preparing),
        )
        .unwrap();
    world.run_until(secs(103));
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Available),
        )
        .unwrap();
    world.run_until(secs(110));
    assert!(
        statuses(&world.seen).is_empty(),
        "a flicker is not reported: {:?}",
        world.seen
    );

    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Charging),
        )
        .unwrap();
    world.run_until(secs(114));
    assert!(statuses(&world.seen).is_empty());
    world.run_until(secs(115));
    let seen = world.take_seen();
    assert_eq!(statuses(&seen), [(1, "Charging")]);
    let report = seen
        .iter()
        .find(|s| s.action == "StatusNotification")
        .unwrap();
    assert_eq!(report.at, secs(115));
    assert_eq!(report.payload["timestamp"], "2024-05-01T10:01:50Z");
}

/// Connector states survive a restart: they are persisted when reported and reported again
/// after the next acceptance.
#[test]
fn connector_states_are_restored_after_a_restart() {
    let mut world = World::new(2, |_| {});
    world.connect();
    let mut faulted = ConnectorStatus::new(ChargePointStatus::Faulted);
    faulted.error_code = ChargePointErrorCode::GroundFailure;
    faulted.info = Some("RCD tripped".into());
    world.cp.report_status(world.now, 2, faulted).unwrap();
    world
        .cp
        .report_status(
            world.now,
            0,
            ConnectorStatus::new(ChargePointStatus::Unavailable),
        )
        .unwrap();
    world.settle();

    let mut rebooted = World::restored(definitions(2, &[]), |_| {}, world.stored.clone());
    rebooted.connect();
    let seen = rebooted.take_seen();
    assert_eq!(
        statuses(&seen),
        [(0, "Unavailable"), (1, "Available"), (2, "Faulted")]
    );
    let fault = seen.iter().find(|s| s.payload["connectorId"] == 2).unwrap();
    assert_eq!(fault.payload["errorCode"], "GroundFailure");
    assert_eq!(fault.payload["info"], "RCD tripped");
}

#[test]
fn an_unreadable_stored_record_is_a_clear_error() {
    let mut stored = Snapshot::new();
    stored.insert(
        ocpp_core::charge_point::CONNECTOR_STATUS_COLLECTION,
        "0001".into(),
        b"{not json".to_vec(),
    );
    let config = ChargePointConfig::new(boot_request(), definitions(1, &[]));
    let error = ChargePoint::new(config, Box::new(CounterIds::default()), &stored).unwrap_err();
    assert!(error.to_string().contains("0001"), "{error}");
}

/// Section 4.2 and 4.6: the Central System's time is "RECOMMENDED to be used" to synchronise;
/// the station's own timestamps follow it.
#[test]
fn timestamps_follow_the_central_systems_clock() {
    let mut world = World::new(1, |_| {});
    world.cs_clock_ahead = time::Duration::hours(1);
    world.connect();
    world.take_seen();
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::ClockSynchronized { offset, .. } if *offset == time::Duration::hours(1)
    )));
    world.run_until(secs(10));
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Preparing),
        )
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    assert_eq!(seen[0].payload["timestamp"], "2024-05-01T11:00:10Z");
}

/// Section 5.17 and errata 3.35: what TriggerMessage can ask for.
#[test]
fn trigger_message_answers_per_section_5_17() {
    let mut world = World::new(2, |_| {});
    world.connect();
    world.take_seen();
    let trigger = |world: &mut World, payload: Value| {
        world.cs_calls("TriggerMessage", payload).unwrap()["status"].clone()
    };
    // Errata 3.35: a station already accepted refuses a new BootNotification.
    assert_eq!(
        trigger(&mut world, json!({"requestedMessage": "BootNotification"})),
        "Rejected"
    );
    assert_eq!(
        trigger(&mut world, json!({"requestedMessage": "Heartbeat"})),
        "Accepted"
    );
    assert_eq!(world.actions(), ["Heartbeat"], "sent after the answer");
    assert_eq!(
        trigger(
            &mut world,
            json!({"requestedMessage": "StatusNotification"})
        ),
        "Accepted"
    );
    assert_eq!(statuses(&world.take_seen()).len(), 3);
    assert_eq!(
        trigger(
            &mut world,
            json!({"requestedMessage": "StatusNotification", "connectorId": 3})
        ),
        "Rejected"
    );
    assert_eq!(
        trigger(&mut world, json!({"requestedMessage": "MeterValues"})),
        "Accepted"
    );
    // With Firmware Management, the idle station reports Idle (section 4.4).
    assert_eq!(
        trigger(
            &mut world,
            json!({"requestedMessage": "DiagnosticsStatusNotification"})
        ),
        "Accepted"
    );
    let seen = world.take_seen();
    assert_eq!(seen.last().unwrap().payload, json!({"status": "Idle"}));
}

/// Requests of features not built yet are answered NotSupported, never silently dropped.
#[test]
fn requests_of_missing_features_are_answered_not_supported() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let answer = world.cs_calls(
        "GetInstalledCertificateIds",
        json!({"certificateType": "CentralSystemRootCertificate"}),
    );
    assert!(answer.unwrap_err().contains("NotSupported"));
}

/// OCPP-J 1.6 section 5.4: a reconnect is no reboot, so no new BootNotification; what changed
/// while offline is reported when the line is back.
#[test]
fn a_reconnect_sends_no_boot_but_the_statuses_that_changed() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world.take_seen();
    world.disconnect();
    world.run_until(secs(30));
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::Unavailable),
        )
        .unwrap();
    world.settle();
    assert!(world.seen.is_empty(), "offline");
    world.connect();
    let seen = world.take_seen();
    assert_eq!(world.cp.registration(), Registration::Accepted);
    assert!(!seen.iter().any(|s| s.action == "BootNotification"));
    assert_eq!(statuses(&seen), [(1, "Unavailable")]);
}

/// A BootNotification that gets no answer is sent again after the retry interval; one cut off
/// by a disconnect goes out again as soon as the connection is back.
#[test]
fn an_unanswered_boot_is_retried() {
    let mut world = World::new(1, |c| {
        c.rpc.call_timeout = secs(30);
        c.boot_retry = secs(20);
    });
    // The Central System swallows the first boot: drop its frames by not settling.
    world.cp.handle_connected(world.now);
    world.cs.handle_connected(world.now);
    while world.cp.poll_output().is_some() {}
    world.run_until(secs(30));
    assert!(
        world
            .events
            .iter()
            .any(|e| matches!(e, Event::CallFailed { action, .. } if action == "BootNotification"))
    );
    world.run_until(secs(49));
    assert!(world.seen.is_empty());
    world.run_until(secs(50));
    assert_eq!(world.actions()[0], "BootNotification");
    assert_eq!(world.seen[0].at, secs(50));

    // Cut off mid-boot: resent at once on reconnect.
    let mut world = World::new(1, |_| {});
    world.cp.handle_connected(world.now);
    while world.cp.poll_output().is_some() {}
    world.cp.handle_disconnected(world.now);
    world.settle();
    world.run_until(secs(1));
    world.connect();
    assert_eq!(world.actions()[0], "BootNotification");
    assert_eq!(
        world
            .actions()
            .iter()
            .filter(|a| **a == "BootNotification")
            .count(),
        1
    );
    assert_eq!(world.cp.registration(), Registration::Accepted);
}

#[test]
fn statuses_of_unknown_connectors_are_refused() {
    let mut world = World::new(2, |_| {});
    let error = world
        .cp
        .report_status(
            world.now,
            3,
            ConnectorStatus::new(ChargePointStatus::Available),
        )
        .unwrap_err();
    assert_eq!(
        error,
        ChargePointError::UnknownConnector {
            connector: 3,
            connectors: 2
        }
    );
}

/// A StatusNotification the schema refuses (an `info` over 50 characters) is not sent; the
/// application hears why.
#[test]
fn an_invalid_status_report_is_refused_with_a_reason() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world.take_seen();
    let mut status = ConnectorStatus::new(ChargePointStatus::Faulted);
    status.info = Some("x".repeat(51));
    world.cp.report_status(world.now, 1, status).unwrap();
    world.settle();
    assert!(world.seen.is_empty());
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::CallRefused { action, .. } if action == "StatusNotification"
    )));
}

/// Section 4.1: the Central System's verdict on an id tag reaches the application.
#[test]
fn authorize_asks_the_central_system() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let good = world.cp.authorize(world.now, "04A2B3").unwrap();
    let bad = world.cp.authorize(world.now, "BLOCKED").unwrap();
    world.settle();
    let verdicts: Vec<_> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Authorized {
                handle,
                id_tag,
                result,
                source: None,
            } => Some((*handle, id_tag.clone(), result.as_ref().unwrap().status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (good, "04A2B3".to_owned(), AuthorizationStatus::Accepted),
            (bad, "BLOCKED".to_owned(), AuthorizationStatus::Blocked),
        ]
    );
}

fn verdicts(world: &World) -> Vec<(String, AuthorizationStatus, Option<Source>)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Authorized {
                id_tag,
                result: Ok(info),
                source,
                ..
            } => Some((id_tag.clone(), info.status, *source)),
            _ => None,
        })
        .collect()
}

/// Section 3.5.4: a station that cannot ask the Central System (offline, or not accepted yet)
/// decides locally; an unknown id tag is refused unless AllowOfflineTxForUnknownId.
#[test]
fn authorize_decides_locally_when_the_central_system_cannot_be_asked() {
    let mut world = World::new(1, |_| {});
    world.cp.authorize(world.now, "T").unwrap();
    world.settle();
    assert_eq!(
        verdicts(&world),
        [(
            "T".to_owned(),
            AuthorizationStatus::Invalid,
            Some(Source::Unknown)
        )]
    );

    let mut world = World::with_keys(
        1,
        &[(StandardKey::AllowOfflineTxForUnknownId, "true")],
        |_| {},
    );
    world.cp.authorize(world.now, "T").unwrap();
    world.settle();
    assert_eq!(
        verdicts(&world),
        [(
            "T".to_owned(),
            AuthorizationStatus::Accepted,
            Some(Source::UnknownOffline)
        )]
    );

    // Other messages fail fast when they cannot be sent.
    let mut world = World::new(1, |_| {});
    world.registrations = VecDeque::from([("Pending", 60)]);
    world.connect();
    assert!(matches!(
        world.cp.data_transfer(
            world.now,
            DataTransferRequest {
                vendor_id: "v".into(),
                message_id: None,
                data: None
            }
        ),
        Err(ChargePointError::NotAccepted(Registration::Pending))
    ));
    let mut world = World::new(1, |_| {});
    world.connect();
    let too_long = world.cp.authorize(world.now, "x".repeat(21));
    assert!(
        matches!(too_long, Err(ChargePointError::Refused(_))),
        "{too_long:?}"
    );
}

/// OCTT TC_007_CS (Regular Start Charging Session – Cached Id), section 3.5.1: the Central
/// System's verdicts are cached; with LocalPreAuthorize a cached valid id tag is authorized
/// without an Authorize.req. TC_061_CS: ClearCache empties the cache.
#[test]
fn tc_007_cs_tc_061_cs_a_cached_id_tag_is_authorized_locally_until_cleared() {
    let mut world = World::with_keys(1, &[(StandardKey::LocalPreAuthorize, "true")], |_| {});
    world.connect();
    world.take_seen();
    world.cp.authorize(world.now, "CACHED").unwrap();
    world.settle();
    assert_eq!(sent(&world.take_seen(), "Authorize").len(), 1);
    world.cp.authorize(world.now, "CACHED").unwrap();
    world.settle();
    assert!(
        sent(&world.take_seen(), "Authorize").is_empty(),
        "decided from the cache"
    );
    assert_eq!(
        verdicts(&world).last().unwrap(),
        &(
            "CACHED".to_owned(),
            AuthorizationStatus::Accepted,
            Some(Source::Cache)
        )
    );
    assert_eq!(world.stored.records("cp16.auth-cache").count(), 1);

    let cleared = world.cs_calls("ClearCache", json!({})).unwrap();
    assert_eq!(cleared["status"], "Accepted");
    assert_eq!(world.stored.records("cp16.auth-cache").count(), 0);
    world.cp.authorize(world.now, "CACHED").unwrap();
    world.settle();
    assert_eq!(
        sent(&world.take_seen(), "Authorize").len(),
        1,
        "asked again"
    );
}

/// OCTT TC_043_CS / TC_042_2_CS / TC_008_CS (sections 5.10, 5.15, 3.5.2): the Central System
/// installs a local list; its version is reported; its entries authorize offline with
/// LocalAuthorizeOffline.
#[test]
fn tc_043_cs_a_local_list_is_installed_versioned_and_used_offline() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let version = world.cs_calls("GetLocalListVersion", json!({})).unwrap();
    assert_eq!(version["listVersion"], 0, "empty");
    let sent_list = world
        .cs_calls(
            "SendLocalList",
            json!({"listVersion": 5, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "LISTED", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}}
            ]}),
        )
        .unwrap();
    assert_eq!(sent_list["status"], "Accepted");
    let version = world.cs_calls("GetLocalListVersion", json!({})).unwrap();
    assert_eq!(version["listVersion"], 5);
    let stale = world
        .cs_calls(
            "SendLocalList",
            json!({"listVersion": 5, "updateType": "Differential"}),
        )
        .unwrap();
    assert_eq!(stale["status"], "VersionMismatch");

    world.disconnect();
    world.cp.authorize(world.now, "LISTED").unwrap();
    world.cp.authorize(world.now, "BLOCKED").unwrap();
    world.settle();
    assert_eq!(
        verdicts(&world),
        [
            (
                "LISTED".to_owned(),
                AuthorizationStatus::Accepted,
                Some(Source::LocalList)
            ),
            (
                "BLOCKED".to_owned(),
                AuthorizationStatus::Blocked,
                Some(Source::LocalList)
            ),
        ]
    );
    // The list survives a restart.
    let rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    assert_eq!(rebooted.cp.authorization().local_list().version(), 5);
}

/// Section 4.3: vendor-specific data from the station, and its answer.
#[test]
fn data_transfer_from_the_station_is_answered() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let handle = world
        .cp
        .data_transfer(
            world.now,
            DataTransferRequest {
                vendor_id: "com.example".into(),
                message_id: Some("ping".into()),
                data: None,
            },
        )
        .unwrap();
    world.settle();
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::DataTransferAnswered { handle: h, result: Ok(r) }
            if *h == handle && r.status == DataTransferStatus::Accepted && r.data.as_deref() == Some("pong")
    )));
}

/// Section 5.6: the Central System's DataTransfer is the application's to answer; a decision
/// is answered once, and not after the connection it came on has closed.
#[test]
fn data_transfer_from_the_central_system_is_decided_by_the_application() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::DataTransfer,
            json!({"vendorId": "com.example", "messageId": "hello", "data": "{}"}),
        )
        .unwrap();
    world.settle();
    assert!(world.answers.is_empty(), "waits for the application");
    let decision = world
        .events
        .iter()
        .find_map(|e| match e {
            Event::DataTransferRequested { decision, request } => {
                assert_eq!(request.message_id.as_deref(), Some("hello"));
                Some(decision.clone())
            }
            _ => None,
        })
        .expect("the application is asked");
    let reply = Reply::DataTransfer(DataTransferResponse {
        status: DataTransferStatus::Rejected,
        data: None,
    });
    world
        .cp
        .reply(world.now, decision.clone(), reply.clone())
        .unwrap();
    world.settle();
    let (_, answer) = world.answers.pop().unwrap();
    assert_eq!(answer.unwrap(), json!({"status": "Rejected"}));
    assert_eq!(
        world.cp.reply(world.now, decision.clone(), reply.clone()),
        Err(ChargePointError::UnknownDecision(decision))
    );

    // A request cut off by a disconnect can no longer be answered.
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::DataTransfer,
            json!({"vendorId": "v"}),
        )
        .unwrap();
    world.settle();
    let decision = world
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::DataTransferRequested { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .unwrap();
    world.disconnect();
    assert!(matches!(
        world.cp.reply(world.now, decision, reply),
        Err(ChargePointError::UnknownDecision(_))
    ));
}

/// OCTT TC_019_CS (Retrieve configuration) and TC_021_CS (Change/set Configuration), through
/// the whole station: the change is persisted before it is acknowledged and rules the
/// station's behaviour at once (here: the heartbeat interval).
#[test]
fn tc_019_cs_tc_021_cs_configuration_is_read_and_changed_over_the_wire() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let all = world.cs_calls("GetConfiguration", json!({})).unwrap();
    let keys = all["configurationKey"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["key"] == "HeartbeatInterval" && k["value"] == "60")
    );
    assert!(
        keys.iter()
            .any(|k| k["key"] == "NumberOfConnectors" && k["readonly"] == true)
    );
    assert!(
        !keys.iter().any(|k| k["key"] == "AuthorizationKey"),
        "write-only keys are never listed"
    );
    let one = world
        .cs_calls(
            "GetConfiguration",
            json!({"key": ["HeartbeatInterval", "NoSuchKey"]}),
        )
        .unwrap();
    assert_eq!(one["unknownKey"], json!(["NoSuchKey"]));

    world.take_seen();
    let changed = world
        .cs_calls(
            "ChangeConfiguration",
            json!({"key": "HeartbeatInterval", "value": "120"}),
        )
        .unwrap();
    assert_eq!(changed, json!({"status": "Accepted"}));
    assert_eq!(world.cp.heartbeat_interval(), secs(120));
    assert_eq!(
        world.stored.get("configuration", "HeartbeatInterval"),
        Some(&b"1:120"[..])
    );
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::ConfigurationChanged { key, value: Some(v), after_reboot: false }
            if key == "HeartbeatInterval" && v == "120"
    )));
    let start = world.elapsed();
    world.run_for_seconds(130);
    let beat = world.seen.iter().find(|s| s.action == "Heartbeat").unwrap();
    assert_eq!(beat.at, start + secs(120));
}

/// OCTT TC_040_1_CS (NotSupported) and TC_040_2_CS (invalid value: Rejected).
#[test]
fn tc_040_cs_unknown_keys_and_invalid_values() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let answer = |world: &mut World, key: &str, value: &str| {
        world
            .cs_calls("ChangeConfiguration", json!({"key": key, "value": value}))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(answer(&mut world, "NoSuchKey", "1"), "NotSupported");
    assert_eq!(
        answer(&mut world, "MeterValueSampleInterval", "-1"),
        "Rejected"
    );
    assert_eq!(answer(&mut world, "NumberOfConnectors", "5"), "Rejected");
    // Only the heartbeat interval of the boot answer was stored; nothing of the refusals.
    let stored: Vec<_> = world
        .stored
        .records("configuration")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(stored, ["HeartbeatInterval"]);
}

/// Section 4.2: the heartbeat interval of BootNotification.conf becomes HeartbeatInterval, and
/// it survives a restart; so do the Central System's changes.
#[test]
fn configuration_survives_a_restart() {
    let mut world = World::new(1, |_| {});
    world.registrations = VecDeque::from([("Accepted", 45)]);
    world.connect();
    world
        .cs_calls(
            "ChangeConfiguration",
            json!({"key": "MeterValueSampleInterval", "value": "15"}),
        )
        .unwrap();
    let rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    assert_eq!(rebooted.cp.heartbeat_interval(), secs(45));
    assert_eq!(
        rebooted.cp.configuration().meter_value_sample_interval(),
        Some(secs(15))
    );
}

/// A stored record that no longer validates is reported, not applied, and not a panic.
#[test]
fn an_invalid_stored_configuration_record_is_reported() {
    let mut stored = Snapshot::new();
    stored.insert(
        "configuration",
        "HeartbeatInterval".into(),
        b"1:soon".to_vec(),
    );
    let world = World::restored(definitions(1, &[]), |_| {}, stored);
    let mut cp = world.cp;
    let first = cp.poll_output();
    assert!(
        matches!(
            first,
            Some(Output::Event(Event::ConfigurationNotRestored(_)))
        ),
        "{first:?}"
    );
    let default = ocpp_core::charge_point::config::Configuration::new(definitions(1, &[]));
    assert_eq!(cp.heartbeat_interval(), default.heartbeat_interval());
}

/// A regular session (OCTT TC_003_CS, the transaction messages): StartTransaction, the
/// Central System's id, StopTransaction carrying that id; nothing left behind in the store.
#[test]
fn a_transaction_starts_and_stops_with_the_central_systems_id() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world.take_seen();
    let key = world
        .cp
        .start_transaction(world.now, 1, "04A2B3", 1000, None)
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    let start = sent(&seen, "StartTransaction");
    assert_eq!(start[0].payload["idTag"], "04A2B3");
    assert_eq!(start[0].payload["meterStart"], 1000);
    assert_eq!(world.cp.transaction(1), Some((key, Some(101))));
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::TransactionStarted {
            transaction_id: 101,
            connector: 1,
            ..
        }
    )));

    world.run_for_seconds(600);
    world.cp.report_meter(1, 5000).unwrap();
    world
        .cp
        .stop_transaction(world.now, 1, 6000, None, Some("04A2B3".into()))
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    let stop = sent(&seen, "StopTransaction");
    assert_eq!(stop[0].payload["transactionId"], 101);
    assert_eq!(stop[0].payload["meterStop"], 6000);
    assert!(
        stop[0].payload.get("reason").is_none(),
        "a normal stop is Local, omitted"
    );
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::TransactionEnded {
            transaction_id: 101,
            ..
        }
    )));
    assert_eq!(world.cp.transaction(1), None);
    assert_eq!(world.cp.queued_transaction_messages(), 0);
    assert!(world.stored.records("cp16.transactions").next().is_none());
    assert!(world.stored.records("cp16.tx-queue").next().is_none());
}

/// OCTT TC_039_CS (Offline Transaction), section 3.7: a whole transaction while offline is
/// queued durably and delivered in order when the station is back, the stop with the id the
/// start got.
#[test]
fn tc_039_cs_a_transaction_made_offline_is_delivered_in_order() {
    let mut world = World::new(2, |_| {});
    world.connect();
    world.disconnect();
    world.take_seen();
    world.run_for_seconds(10);
    world
        .cp
        .start_transaction(world.now, 2, "TAG", 0, None)
        .unwrap();
    world.run_for_seconds(60);
    world
        .cp
        .stop_transaction(world.now, 2, 700, None, None)
        .unwrap();
    world.settle();
    assert!(world.seen.is_empty());
    assert_eq!(world.cp.queued_transaction_messages(), 2);
    assert_eq!(world.stored.records("cp16.tx-queue").count(), 2);

    world.run_for_seconds(30);
    world.connect();
    let seen = world.take_seen();
    let order: Vec<_> = seen
        .iter()
        .filter(|s| s.action.ends_with("Transaction"))
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(order, ["StartTransaction", "StopTransaction"]);
    let start = sent(&seen, "StartTransaction")[0];
    assert_eq!(
        start.payload["timestamp"], "2024-05-01T10:00:10Z",
        "when it happened"
    );
    assert_eq!(
        sent(&seen, "StopTransaction")[0].payload["transactionId"],
        101
    );
    assert_eq!(world.cp.queued_transaction_messages(), 0);
}

/// A power loss during a transaction (OCTT TC_032_1/2_CS, section 4.10): after the restart the
/// transaction is ended with reason PowerLoss and the last meter reading known.
#[test]
fn a_transaction_running_at_power_loss_is_stopped_after_restart() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 100, None)
        .unwrap();
    world.settle();
    world.cp.report_meter(1, 4200).unwrap();
    world.settle();

    let mut rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    rebooted.connect();
    assert!(rebooted.events.iter().any(|e| matches!(
        e,
        Event::TransactionInterrupted {
            connector: 1,
            stopped: true,
            ..
        }
    )));
    let seen = rebooted.take_seen();
    let stop = sent(&seen, "StopTransaction");
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0].payload["transactionId"], 101);
    assert_eq!(stop[0].payload["reason"], "PowerLoss");
    assert_eq!(stop[0].payload["meterStop"], 4200);
    assert!(
        sent(&seen, "StartTransaction").is_empty(),
        "acknowledged, never replayed"
    );
}

/// Found by the `charge_point` fuzz target (the rebuilt machine disagreed with the original):
/// the first command after a restart that stops the interrupted transaction without sending
/// anything (an offline Authorize answered from the cache) left the connector Charging.
/// Section 4.9: once the transaction ended the status follows at once, and a ChangeAvailability
/// scheduled for its end (section 5.2) takes effect, as for a stop by the application.
#[test]
fn an_offline_command_after_a_power_loss_settles_the_status_and_scheduled_availability() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 100, None)
        .unwrap();
    world.settle();
    let answer = world.cs_calls(
        "ChangeAvailability",
        serde_json::json!({"connectorId": 1, "type": "Inoperative"}),
    );
    assert_eq!(answer.unwrap()["status"], "Scheduled");
    assert!(
        world.cp.is_operative(1),
        "scheduled until the transaction ends"
    );

    let mut rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    assert_eq!(
        rebooted.cp.connector_status(1).unwrap().status,
        ChargePointStatus::Charging
    );
    let _ = rebooted.cp.authorize(rebooted.now, "TAG");
    rebooted.settle();
    assert_eq!(rebooted.cp.transaction(1), None);
    assert!(!rebooted.cp.is_operative(1));
    assert_eq!(
        rebooted.cp.connector_status(1).unwrap().status,
        ChargePointStatus::Unavailable
    );
}

/// With `InterruptedTransactions::Continue` the application says the hardware kept charging.
#[test]
fn an_interrupted_transaction_can_be_continued() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 100, None)
        .unwrap();
    world.settle();
    let mut rebooted = World::restored(
        definitions(1, &[]),
        |c| c.interrupted_transactions = ocpp_core::charge_point::InterruptedTransactions::Continue,
        world.stored.clone(),
    );
    rebooted.connect();
    assert!(sent(&rebooted.take_seen(), "StopTransaction").is_empty());
    assert_eq!(
        rebooted.cp.transaction(1).map(|(_, id)| id),
        Some(Some(101))
    );
}

/// A crash before the StartTransaction was answered: it is still queued and goes first, and
/// the stop after the restart uses the id it gets.
#[test]
fn a_crash_before_the_start_was_acknowledged_replays_it_once() {
    let mut world = World::new(1, |_| {});
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 100, None)
        .unwrap();
    world.settle();
    let mut rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    rebooted.connect();
    let seen = rebooted.take_seen();
    assert_eq!(sent(&seen, "StartTransaction").len(), 1);
    let stop = sent(&seen, "StopTransaction");
    assert_eq!(stop[0].payload["transactionId"], 101);
    assert_eq!(stop[0].payload["reason"], "PowerLoss");
}

/// Section 3.7.1: a transaction message the Central System fails to process is retried after
/// TransactionMessageRetryInterval times the transmissions so far.
#[test]
fn failed_transaction_messages_are_retried_with_growing_waits() {
    let mut world = World::with_keys(
        1,
        &[
            (StandardKey::TransactionMessageAttempts, "3"),
            (StandardKey::TransactionMessageRetryInterval, "10"),
        ],
        |_| {},
    );
    world.connect();
    world.take_seen();
    world.fail.insert("StartTransaction".into(), 2);
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.settle();
    world.run_for_seconds(100);
    let times: Vec<Duration> = sent(&world.seen, "StartTransaction")
        .iter()
        .map(|s| s.at)
        .collect();
    assert_eq!(times, [secs(0), secs(10), secs(30)]);
    assert_eq!(world.cp.transaction(1).unwrap().1, Some(101));
}

/// Section 3.7.1 and errata 3.18: after TransactionMessageAttempts failures the message is
/// discarded, and the transaction's later messages carry transaction id -1.
#[test]
fn a_start_given_up_leaves_its_stop_with_transaction_id_minus_one() {
    let mut world = World::with_keys(
        1,
        &[
            (StandardKey::TransactionMessageAttempts, "2"),
            (StandardKey::TransactionMessageRetryInterval, "5"),
        ],
        |_| {},
    );
    world.connect();
    world.take_seen();
    world.fail.insert("StartTransaction".into(), 5);
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.settle();
    world.run_for_seconds(20);
    assert_eq!(sent(&world.seen, "StartTransaction").len(), 2);
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::TransactionMessageDiscarded { action, .. } if action == "StartTransaction"
    )));
    world
        .cp
        .stop_transaction(world.now, 1, 10, None, None)
        .unwrap();
    world.settle();
    assert_eq!(
        sent(&world.seen, "StopTransaction")[0].payload["transactionId"],
        -1
    );
}

/// No answer is no "failure to process": a timed-out message is sent again and never given up.
#[test]
fn a_timed_out_transaction_message_is_not_counted_as_a_failure() {
    let mut world = World::with_keys(
        1,
        &[
            (StandardKey::TransactionMessageAttempts, "1"),
            (StandardKey::TransactionMessageRetryInterval, "10"),
        ],
        |c| c.rpc.call_timeout = secs(30),
    );
    world.connect();
    world.take_seen();
    world.swallow.insert("StartTransaction".into(), 2);
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.settle();
    world.run_for_seconds(200);
    assert_eq!(sent(&world.seen, "StartTransaction").len(), 3);
    assert!(
        !world
            .events
            .iter()
            .any(|e| matches!(e, Event::TransactionMessageDiscarded { .. }))
    );
    assert_eq!(world.cp.transaction(1).unwrap().1, Some(101));
}

/// Section 3.5.4 with `StopTransactionOnInvalidId` = true: an id tag the Central System
/// rejects in StartTransaction.conf ends the transaction with reason DeAuthorized.
#[test]
fn a_start_with_an_invalid_id_tag_is_deauthorized() {
    let mut world = World::with_keys(
        1,
        &[(StandardKey::StopTransactionOnInvalidId, "true")],
        |_| {},
    );
    world.connect();
    world.take_seen();
    world
        .cp
        .start_transaction(world.now, 1, "INVALID", 0, None)
        .unwrap();
    world.settle();
    assert!(
        world
            .events
            .iter()
            .any(|e| matches!(e, Event::TransactionDeauthorized { stopped: true, .. }))
    );
    let seen = world.take_seen();
    assert_eq!(
        sent(&seen, "StopTransaction")[0].payload["reason"],
        "DeAuthorized"
    );
    assert_eq!(world.cp.transaction(1), None);

    // With false, only the energy stops; the transaction goes on.
    let mut world = World::with_keys(
        1,
        &[(StandardKey::StopTransactionOnInvalidId, "false")],
        |_| {},
    );
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "INVALID", 0, None)
        .unwrap();
    world.settle();
    assert!(
        world
            .events
            .iter()
            .any(|e| matches!(e, Event::TransactionDeauthorized { stopped: false, .. }))
    );
    assert!(world.cp.transaction(1).is_some());
}

#[test]
fn transaction_commands_refuse_what_cannot_be() {
    let mut world = World::new(1, |_| {});
    assert_eq!(
        world.cp.start_transaction(world.now, 0, "T", 0, None),
        Err(ChargePointError::ConnectorZero)
    );
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    assert_eq!(
        world.cp.start_transaction(world.now, 1, "T", 0, None),
        Err(ChargePointError::TransactionRunning(1))
    );
    assert!(
        world
            .cp
            .start_transaction(world.now, 2, "T", 0, None)
            .is_err()
    );
    world
        .cp
        .stop_transaction(world.now, 1, 5, None, None)
        .unwrap();
    assert_eq!(
        world.cp.stop_transaction(world.now, 1, 5, None, None),
        Err(ChargePointError::NoTransaction(1))
    );
    // An idTag over 20 characters could never be delivered: refused before it is queued.
    let refused = world
        .cp
        .start_transaction(world.now, 1, "x".repeat(21), 0, None);
    assert!(
        matches!(refused, Err(ChargePointError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(world.cp.transaction(1), None);
}

/// Found by the crash test: after a restart, the application may start a new transaction
/// before the station is connected; only the transaction interrupted by the power loss is
/// ended, never the new one.
#[test]
fn a_new_transaction_after_restart_is_not_taken_for_the_interrupted_one() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "OLD", 100, None)
        .unwrap();
    world.settle();
    let mut rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    let new = rebooted
        .cp
        .start_transaction(rebooted.now, 1, "NEW", 200, None)
        .unwrap();
    rebooted.connect();
    assert_eq!(rebooted.cp.transaction(1).map(|(key, _)| key), Some(new));
    let seen = rebooted.take_seen();
    let stops = sent(&seen, "StopTransaction");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].payload["reason"], "PowerLoss");
    assert_eq!(sent(&seen, "StartTransaction")[0].payload["idTag"], "NEW");
}

fn remote_start_decision(world: &World) -> Option<(ocpp_core::charge_point::Decision, bool)> {
    world.events.iter().rev().find_map(|e| match e {
        Event::RemoteStartRequested {
            decision,
            authorize_first,
            ..
        } => Some((decision.clone(), *authorize_first)),
        _ => None,
    })
}

/// OCTT TC_011_1_CS / TC_010_CS (section 5.11): a remote start the station can honour is the
/// application's to accept; TC_027_CS: never on connector 0; a busy or unavailable connector is
/// refused by the machine itself.
#[test]
fn remote_start_is_checked_then_decided_by_the_application() {
    let mut world = World::new(2, |_| {});
    world.connect();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::RemoteStartTransaction,
            json!({"connectorId": 1, "idTag": "APP"}),
        )
        .unwrap();
    world.settle();
    let (decision, authorize_first) = remote_start_decision(&world).expect("asked");
    assert!(
        !authorize_first,
        "AuthorizeRemoteTxRequests defaults to false"
    );
    world
        .cp
        .reply(
            world.now,
            decision,
            Reply::RemoteStart(ocpp_core::v16::RemoteStartStopStatus::Accepted),
        )
        .unwrap();
    world.settle();
    assert_eq!(
        world.answers.pop().unwrap().1.unwrap()["status"],
        "Accepted"
    );
    world
        .cp
        .start_transaction(world.now, 1, "APP", 0, None)
        .unwrap();
    world.settle();

    let rejected = |world: &mut World, payload: Value| {
        let events = world.events.len();
        let answer = world.cs_calls("RemoteStartTransaction", payload).unwrap();
        assert_eq!(world.events.len(), events, "the application is not asked");
        answer["status"].clone()
    };
    assert_eq!(
        rejected(&mut world, json!({"connectorId": 0, "idTag": "A"})),
        "Rejected"
    );
    assert_eq!(
        rejected(&mut world, json!({"connectorId": 1, "idTag": "A"})),
        "Rejected"
    );
    assert_eq!(
        rejected(&mut world, json!({"connectorId": 3, "idTag": "A"})),
        "Rejected"
    );
    world
        .cs_calls(
            "ChangeAvailability",
            json!({"connectorId": 2, "type": "Inoperative"}),
        )
        .unwrap();
    assert_eq!(
        rejected(&mut world, json!({"connectorId": 2, "idTag": "A"})),
        "Rejected"
    );
}

/// OCTT TC_012_CS (section 5.12): a remote stop of the running transaction is accepted and the
/// application is asked to stop it with reason Remote; TC_028_CS: an unknown one is rejected.
#[test]
fn remote_stop_accepts_only_the_running_transaction() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.settle();
    let answer = world
        .cs_calls("RemoteStopTransaction", json!({"transactionId": 999}))
        .unwrap();
    assert_eq!(answer["status"], "Rejected");
    let answer = world
        .cs_calls("RemoteStopTransaction", json!({"transactionId": 101}))
        .unwrap();
    assert_eq!(answer["status"], "Accepted");
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::StopRequested {
            connector: 1,
            reason: ocpp_core::v16::Reason::Remote,
            ..
        }
    )));
    world
        .cp
        .stop_transaction(world.now, 1, 50, Some(ocpp_core::v16::Reason::Remote), None)
        .unwrap();
    world.settle();
    assert_eq!(
        sent(&world.seen, "StopTransaction")[0].payload["reason"],
        "Remote"
    );
}

fn reset_decision(world: &World) -> ocpp_core::charge_point::Decision {
    world
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::ResetRequested { decision, .. } => Some(decision.clone()),
            _ => None,
        })
        .expect("asked")
}

/// OCTT TC_016_CS / TC_015_CS (section 5.14): an accepted reset asks for every running
/// transaction to stop; a transaction the reset interrupted before it could be stopped is
/// reported with the reset's reason after the restart, not as a power loss.
#[test]
fn an_accepted_reset_stops_transactions_and_names_the_reason_after_restart() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.settle();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::Reset,
            json!({"type": "Hard"}),
        )
        .unwrap();
    world.settle();
    let decision = reset_decision(&world);
    world
        .cp
        .reply(
            world.now,
            decision,
            Reply::Reset(ocpp_core::v16::ResetStatus::Accepted),
        )
        .unwrap();
    world.settle();
    assert_eq!(
        world.answers.pop().unwrap().1.unwrap()["status"],
        "Accepted"
    );
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::StopRequested {
            reason: ocpp_core::v16::Reason::HardReset,
            ..
        }
    )));
    // A hard reset need not stop gracefully: the station restarts with it running.
    let mut rebooted = World::restored(definitions(1, &[]), |_| {}, world.stored.clone());
    rebooted.connect();
    let seen = rebooted.take_seen();
    assert_eq!(
        sent(&seen, "StopTransaction")[0].payload["reason"],
        "HardReset"
    );
    assert!(
        rebooted.stored.records("cp16.state").next().is_none(),
        "marker cleared"
    );
}

/// A rejected reset changes nothing.
#[test]
fn a_rejected_reset_changes_nothing() {
    let mut world = World::new(1, |_| {});
    world.connect();
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.settle();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::Reset,
            json!({"type": "Soft"}),
        )
        .unwrap();
    world.settle();
    let decision = reset_decision(&world);
    world
        .cp
        .reply(
            world.now,
            decision,
            Reply::Reset(ocpp_core::v16::ResetStatus::Rejected),
        )
        .unwrap();
    world.settle();
    assert!(
        !world
            .events
            .iter()
            .any(|e| matches!(e, Event::StopRequested { .. }))
    );
    assert!(world.stored.records("cp16.state").next().is_none());
}

/// OCTT TC_031_CS: unlocking an unknown connector is NotSupported; TC_018_1_CS: a known one is
/// the application's, told of the transaction it must stop first.
#[test]
fn unlock_connector_per_section_5_18() {
    let mut world = World::new(1, |_| {});
    world.connect();
    let answer = world
        .cs_calls("UnlockConnector", json!({"connectorId": 2}))
        .unwrap();
    assert_eq!(answer["status"], "NotSupported");
    let key = world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.settle();
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::UnlockConnector,
            json!({"connectorId": 1}),
        )
        .unwrap();
    world.settle();
    let decision = world
        .events
        .iter()
        .find_map(|e| match e {
            Event::UnlockRequested {
                decision,
                connector: 1,
                transaction,
            } => {
                assert_eq!(*transaction, Some(key));
                Some(decision.clone())
            }
            _ => None,
        })
        .expect("asked");
    world
        .cp
        .stop_transaction(
            world.now,
            1,
            10,
            Some(ocpp_core::v16::Reason::UnlockCommand),
            None,
        )
        .unwrap();
    world
        .cp
        .reply(
            world.now,
            decision,
            Reply::Unlock(ocpp_core::v16::UnlockStatus::Unlocked),
        )
        .unwrap();
    world.settle();
    assert_eq!(
        world.answers.pop().unwrap().1.unwrap()["status"],
        "Unlocked"
    );
    assert_eq!(
        sent(&world.seen, "StopTransaction")[0].payload["reason"],
        "UnlockCommand"
    );
}

/// Section 5.2: ChangeAvailability is Accepted and reported as Unavailable, Scheduled while a
/// transaction runs (applied at its stop), persisted across a reboot, and connector 0 covers
/// the whole station.
#[test]
fn change_availability_per_section_5_2() {
    let mut world = World::new(2, |_| {});
    world.connect();
    world.take_seen();
    let change = |world: &mut World, connector: i32, kind: &str| {
        world
            .cs_calls(
                "ChangeAvailability",
                json!({"connectorId": connector, "type": kind}),
            )
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(change(&mut world, 1, "Inoperative"), "Accepted");
    assert_eq!(statuses(&world.take_seen()), [(1, "Unavailable")]);
    assert_eq!(
        change(&mut world, 1, "Inoperative"),
        "Accepted",
        "already so"
    );
    assert_eq!(change(&mut world, 3, "Inoperative"), "Rejected");

    world
        .cp
        .start_transaction(world.now, 2, "T", 0, None)
        .unwrap();
    world.settle();
    world.take_seen();
    assert_eq!(change(&mut world, 2, "Inoperative"), "Scheduled");
    assert!(statuses(&world.seen).is_empty());
    world
        .cp
        .stop_transaction(world.now, 2, 10, None, None)
        .unwrap();
    world.settle();
    assert_eq!(statuses(&world.take_seen()), [(2, "Unavailable")]);

    // Unavailable survives a reboot (section 5.2: "shall persist a reboot").
    let mut rebooted = World::restored(definitions(2, &[]), |_| {}, world.stored.clone());
    rebooted.connect();
    assert_eq!(
        statuses(&rebooted.take_seen()),
        [(0, "Available"), (1, "Unavailable"), (2, "Unavailable")]
    );
    assert_eq!(change(&mut rebooted, 1, "Operative"), "Accepted");
    assert_eq!(statuses(&rebooted.take_seen()), [(1, "Available")]);
    assert_eq!(change(&mut rebooted, 0, "Inoperative"), "Accepted");
    assert_eq!(
        statuses(&rebooted.take_seen()),
        [(0, "Unavailable"), (1, "Unavailable")]
    );
    assert!(!rebooted.cp.is_operative(1));
}

fn readings() -> Vec<ocpp_core::charge_point::metering::Reading> {
    use ocpp_core::charge_point::metering::Reading;
    use ocpp_core::v16::Measurand;
    vec![
        Reading::raw(Measurand::EnergyActiveImportRegister, 12_345),
        Reading::raw(Measurand::PowerActiveImport, 7_400),
    ]
}

fn meter_values(seen: &[Seen]) -> Vec<&Seen> {
    sent(seen, "MeterValues")
}

/// OCTT TC_070_CS (Sampled Meter Values), section 3.16.1: during a transaction, the
/// configured measurands every MeterValueSampleInterval from its start, with its id; the
/// StopTxnSampledData collected go into the StopTransaction (section 4.10).
#[test]
fn tc_070_cs_sampled_meter_values_during_a_transaction() {
    let mut world = World::with_keys(
        1,
        &[
            (StandardKey::MeterValueSampleInterval, "10"),
            (
                StandardKey::MeterValuesSampledData,
                "Energy.Active.Import.Register,Power.Active.Import",
            ),
            (
                StandardKey::StopTxnSampledData,
                "Energy.Active.Import.Register",
            ),
        ],
        |_| {},
    );
    world.connect();
    world.take_seen();
    world.cp.set_readings(1, readings()).unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.settle();
    let start = world.elapsed();
    world.run_for_seconds(35);
    let seen = world.take_seen();
    let samples = meter_values(&seen);
    let times: Vec<Duration> = samples.iter().map(|s| s.at - start).collect();
    assert_eq!(times, [secs(10), secs(20), secs(30)]);
    for sample in &samples {
        assert_eq!(sample.payload["transactionId"], 101);
        let values = &sample.payload["meterValue"][0]["sampledValue"];
        assert_eq!(values.as_array().unwrap().len(), 2);
        assert_eq!(values[0]["context"], "Sample.Periodic");
    }
    world
        .cp
        .stop_transaction(world.now, 1, 500, None, None)
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    let stop = &sent(&seen, "StopTransaction")[0].payload;
    let data = stop["transactionData"].as_array().expect("transactionData");
    assert!(data.len() >= 2, "begin, samples and end: {data:?}");
    // Stopped: no more samples.
    world.run_for_seconds(60);
    assert!(meter_values(&world.seen).is_empty());
}

/// Section 3.7: meter values of a transaction are transaction-related: queued durably while
/// offline and delivered in order, between its start and its stop.
#[test]
fn transaction_meter_values_made_offline_are_delivered_in_order() {
    let mut world = World::with_keys(1, &[(StandardKey::MeterValueSampleInterval, "10")], |_| {});
    world.connect();
    world.disconnect();
    world.take_seen();
    world.cp.set_readings(1, readings()).unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "T", 0, None)
        .unwrap();
    world.run_for_seconds(25);
    world
        .cp
        .stop_transaction(world.now, 1, 500, None, None)
        .unwrap();
    world.settle();
    assert_eq!(world.cp.queued_transaction_messages(), 4);
    world.connect();
    let seen = world.take_seen();
    let order: Vec<&str> = seen
        .iter()
        .filter(|s| s.action != "StatusNotification" && s.action != "BootNotification")
        .map(|s| s.action.as_str())
        .collect();
    assert_eq!(
        order,
        [
            "StartTransaction",
            "MeterValues",
            "MeterValues",
            "StopTransaction"
        ]
    );
    assert!(
        meter_values(&seen)
            .iter()
            .all(|m| m.payload["transactionId"] == 101)
    );
}

/// OCTT TC_071_CS (Clock-aligned Meter Values), section 3.16.2: at every multiple of
/// ClockAlignedDataInterval past midnight, context Sample.Clock, stamped with the boundary.
#[test]
fn tc_071_cs_clock_aligned_meter_values() {
    let mut world = World::with_keys(1, &[(StandardKey::ClockAlignedDataInterval, "900")], |_| {});
    world.connect();
    world.take_seen();
    world.cp.set_readings(0, readings()).unwrap();
    world.cp.set_readings(1, readings()).unwrap();
    world.run_for_seconds(13);
    world.run_for_seconds(1800);
    let seen = world.take_seen();
    let samples = meter_values(&seen);
    let stamps: Vec<(i64, &str)> = samples
        .iter()
        .map(|s| {
            (
                s.payload["connectorId"].as_i64().unwrap(),
                s.payload["meterValue"][0]["timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stamps,
        [
            (0, "2024-05-01T10:15:00Z"),
            (1, "2024-05-01T10:15:00Z"),
            (0, "2024-05-01T10:30:00Z"),
            (1, "2024-05-01T10:30:00Z"),
        ]
    );
    assert!(
        samples.iter().all(|s| {
            s.payload["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
        })
    );
}

/// Section 9 keys set by the station's own operator (`set_configuration`, used by test
/// harnesses for the "set configuration value" step of OCTT test cases): checked like a
/// ChangeConfiguration, persisted, reported, in effect at once; read-only and unknown keys
/// and invalid values are refused and leave nothing stored.
#[test]
fn the_operator_sets_a_configuration_key_locally() {
    use ocpp_core::charge_point::config::LocalSetError;

    let mut world = World::new(1, |_| {});
    world.connect();
    world.take_seen();
    let now = world.now;
    world
        .cp
        .set_configuration(now, "HeartbeatInterval", "120")
        .unwrap();
    world.settle();
    assert_eq!(world.cp.heartbeat_interval(), secs(120));
    assert_eq!(
        world.stored.get("configuration", "HeartbeatInterval"),
        Some(&b"1:120"[..])
    );
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::ConfigurationChanged { key, value: Some(v), after_reboot: false }
            if key == "HeartbeatInterval" && v == "120"
    )));
    assert_eq!(
        world.cp.set_configuration(now, "NumberOfConnectors", "4"),
        Err(LocalSetError::ReadOnly)
    );
    assert_eq!(
        world.cp.set_configuration(now, "NoSuchKey", "1"),
        Err(LocalSetError::NotDefined)
    );
    assert!(matches!(
        world
            .cp
            .set_configuration(now, "MeterValueSampleInterval", "-1"),
        Err(LocalSetError::InvalidValue(_))
    ));
    assert_eq!(
        world
            .stored
            .get("configuration", "MeterValueSampleInterval"),
        None
    );
    let start = world.elapsed();
    world.run_for_seconds(130);
    let beat = world.seen.iter().find(|s| s.action == "Heartbeat").unwrap();
    assert_eq!(beat.at, start + secs(120));
}

/// A transaction of `id_tag` runs on connector 1, what it sent taken and its events cleared.
fn charging(world: &mut World, id_tag: &str) {
    world.cp.plug_in(world.now, 1).unwrap();
    world
        .cp
        .start_transaction(world.now, 1, id_tag, 0, None)
        .unwrap();
    world.settle();
    world.take_seen();
    world.events.clear();
}

/// The TransactionStoppedByIdTag events so far: (connector, id tag).
fn stops_by_id_tag(world: &World) -> Vec<(u32, String)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TransactionStoppedByIdTag {
                connector, id_tag, ..
            } => Some((*connector, id_tag.clone())),
            _ => None,
        })
        .collect()
}

/// OCTT TC_068_CS (section 3.5): another id tag, whose group the station cannot know the
/// transaction to share (its id tag has no parent id tag), is not asked about and stops
/// nothing; the id tag that started the transaction stops it at once, without an Authorize,
/// and the StopTransaction carries it. Id tags compare case-insensitively (CiString20Type).
#[test]
fn tc_068_cs_only_the_id_tag_that_started_the_transaction_stops_it() {
    let mut world = accepted(1, &[]);
    charging(&mut world, "DRIVER");

    let outcome = world.cp.stop_by_id_tag(world.now, 1, "OTHER").unwrap();
    assert_eq!(outcome, IdTagAtTransaction::NotOfTheGroup);
    world.settle();
    assert!(
        world.take_seen().is_empty(),
        "no Authorize, no StopTransaction"
    );
    assert!(stops_by_id_tag(&world).is_empty());

    world.cp.report_meter(1, 500).unwrap();
    let outcome = world.cp.stop_by_id_tag(world.now, 1, "DRIVER").unwrap();
    assert_eq!(outcome, IdTagAtTransaction::Stopped);
    world.settle();
    assert_eq!(stops_by_id_tag(&world), [(1, "DRIVER".to_owned())]);
    assert_eq!(world.cp.transaction(1), None);
    let seen = world.take_seen();
    let stop = sent(&seen, "StopTransaction");
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0].payload["idTag"], "DRIVER");
    assert!(stop[0].payload.get("reason").is_none_or(|r| r == "Local"));
    assert_eq!(stop[0].payload["meterStop"], 500);
    assert!(sent(&seen, "Authorize").is_empty());

    world
        .cp
        .start_transaction(world.now, 1, "Driver2", 0, None)
        .unwrap();
    world.settle();
    world.events.clear();
    assert_eq!(
        world.cp.stop_by_id_tag(world.now, 1, "DRIVER2").unwrap(),
        IdTagAtTransaction::Stopped
    );
    assert!(matches!(
        world.cp.stop_by_id_tag(world.now, 2, "DRIVER2"),
        Err(ChargePointError::UnknownConnector { .. })
    ));
}

/// OCTT TC_069_CS (section 3.5): an id tag of the same group (the parent id tag the Central
/// System gave with the transaction's id tag) is authorized, then stops the transaction; one
/// of another group is authorized too, and stops nothing.
#[test]
fn tc_069_cs_an_id_tag_of_the_same_group_stops_the_transaction() {
    let mut world = accepted(1, &[(StandardKey::AuthorizationCacheEnabled, "true")]);
    for (tag, parent) in [
        ("DRIVER", "FAMILY"),
        ("SPOUSE", "FAMILY"),
        ("STRANGER", "OTHERS"),
    ] {
        world.parents.insert(tag.into(), parent.into());
    }
    charging(&mut world, "DRIVER");

    let outcome = world.cp.stop_by_id_tag(world.now, 1, "STRANGER").unwrap();
    assert!(matches!(outcome, IdTagAtTransaction::Authorizing(_)));
    world.settle();
    let seen = world.take_seen();
    assert_eq!(sent(&seen, "Authorize")[0].payload["idTag"], "STRANGER");
    assert!(stops_by_id_tag(&world).is_empty());
    assert!(world.cp.transaction(1).is_some());

    let outcome = world.cp.stop_by_id_tag(world.now, 1, "SPOUSE").unwrap();
    let IdTagAtTransaction::Authorizing(handle) = outcome else {
        panic!("SPOUSE must be authorized first: {outcome:?}");
    };
    world.settle();
    let seen = world.take_seen();
    assert_eq!(sent(&seen, "Authorize")[0].payload["idTag"], "SPOUSE");
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::Authorized { handle: h, result: Ok(info), .. }
            if *h == handle && info.status == AuthorizationStatus::Accepted
    )));
    assert_eq!(stops_by_id_tag(&world), [(1, "SPOUSE".to_owned())]);
    assert_eq!(world.cp.transaction(1), None);
    world.settle();
    let seen = [seen, world.take_seen()].concat();
    assert_eq!(sent(&seen, "StopTransaction")[0].payload["idTag"], "SPOUSE");

    // Section 3.5.1: with LocalPreAuthorize the cached verdict decides, and the stop comes
    // within the very call.
    world
        .cp
        .set_configuration(world.now, "LocalPreAuthorize", "true")
        .unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "DRIVER", 0, None)
        .unwrap();
    world.settle();
    world.take_seen();
    world.events.clear();
    let outcome = world.cp.stop_by_id_tag(world.now, 1, "SPOUSE").unwrap();
    assert!(matches!(outcome, IdTagAtTransaction::Authorizing(_)));
    assert_eq!(world.cp.transaction(1), None);
    world.settle();
    let seen = world.take_seen();
    assert!(
        sent(&seen, "Authorize").is_empty(),
        "decided from the cache"
    );
    assert_eq!(sent(&seen, "StopTransaction")[0].payload["idTag"], "SPOUSE");
}
