//! Connector status driven by the stack (1.6 section 4.9 and its transition table): the
//! application reports hardware facts (cable, suspension, faults) and the stack derives
//! Preparing / Charging / SuspendedEV / SuspendedEVSE / Finishing / Faulted / Unavailable from
//! them and its own state; `ConnectionTimeOut` (9.1.6, errata 3.20, 3.21) and the EV-side
//! disconnect keys (9.1.23, 9.1.33). Tests are named after the OCTT 1.6 Charge Point test case or
//! the section they cover.

use ocpp_core::charge_point::InterruptedTransactions;
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::{
    CONNECTOR_STATUS_COLLECTION, ChargePointError, ConnectorStatus, Event, Fault,
};
use ocpp_core::persist::Snapshot;
use ocpp_core::v16::{ChargePointErrorCode, ChargePointStatus};
use serde_json::json;

mod cp_world;
use cp_world::*;

/// The statuses the Central System was sent since the last look.
fn new_statuses(world: &mut World) -> Vec<(i64, String)> {
    statuses(&world.take_seen())
        .into_iter()
        .map(|(c, s)| (c, s.to_owned()))
        .collect()
}

fn status_list(list: &[(i64, &str)]) -> Vec<(i64, String)> {
    list.iter().map(|(c, s)| (*c, (*s).to_owned())).collect()
}

/// OCTT TC_003_CS (plug-in first), then TC_068_CS's end: Preparing on plug-in (A2), Charging
/// once the transaction runs (B3), Finishing when it stops with the cable in (C6), Available
/// once the cable is gone (F1).
#[test]
fn tc_003_cs_plug_in_first_preparing_charging_finishing_available() {
    let mut world = accepted(1, &[]);
    world.cp.plug_in(world.now, 1).unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Preparing")]));

    world.cp.authorize(world.now, "TAG").unwrap();
    world.settle();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    assert_eq!(sent(&seen, "StartTransaction")[0].payload["connectorId"], 1);
    assert_eq!(statuses(&seen), [(1, "Charging")]);

    world
        .cp
        .stop_transaction(world.now, 1, 100, None, Some("TAG".into()))
        .unwrap();
    world.settle();
    assert_eq!(statuses(&world.take_seen()), [(1, "Finishing")]);
    world.cp.unplug(world.now, 1).unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Available")]));
}

/// OCTT TC_004_1_CS (identification first): an authorized driver makes the connector
/// Preparing; plugging in and starting makes it Charging.
#[test]
fn tc_004_1_cs_identification_first() {
    let mut world = accepted(2, &[]);
    world.cp.prepare(world.now, 2, "TAG").unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(2, "Preparing")]));
    world.cp.plug_in(world.now, 2).unwrap();
    world
        .cp
        .start_transaction(world.now, 2, "TAG", 0, None)
        .unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(2, "Charging")]));
    assert_eq!(
        world.cp.connector_status(1).unwrap().status,
        ChargePointStatus::Available
    );
}

fn timed_out(world: &World) -> Vec<(u32, Option<String>)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ConnectionTimedOut { connector, id_tag } => Some((*connector, id_tag.clone())),
            _ => None,
        })
        .collect()
}

/// OCTT TC_004_2_CS (9.1.6, errata 3.21, B1): an authorized driver who does not plug in
/// within ConnectionTimeOut is given up: Available again, and the application is told.
#[test]
fn tc_004_2_cs_connection_timeout_returns_to_available() {
    let mut world = accepted(1, &[(StandardKey::ConnectionTimeOut, "30")]);
    world.cp.prepare(world.now, 1, "TAG").unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Preparing")]));

    world.run_until(secs(29));
    assert!(timed_out(&world).is_empty());
    assert!(statuses(&world.take_seen()).is_empty());
    world.run_until(secs(30));
    assert_eq!(timed_out(&world), [(1, Some("TAG".to_owned()))]);
    let seen = world.take_seen();
    assert_eq!(statuses(&seen), [(1, "Available")]);
    assert_eq!(seen[0].at, secs(30));
}

/// A cable plugged in before the timeout stops the clock: the driver may take their time to
/// start.
#[test]
fn plugging_in_stops_the_connection_timeout() {
    let mut world = accepted(1, &[(StandardKey::ConnectionTimeOut, "30")]);
    world.cp.prepare(world.now, 1, "TAG").unwrap();
    world.run_until(secs(10));
    world.cp.plug_in(world.now, 1).unwrap();
    world.run_until(secs(100));
    assert!(timed_out(&world).is_empty());
    assert_eq!(
        world.cp.connector_status(1).unwrap().status,
        ChargePointStatus::Preparing
    );
}

/// Errata 3.20 (B6): a cable plugged in without an id tag presented in time makes the
/// connector Finishing, not Available, so the next driver cannot start on someone else's
/// cable; taking the cable away makes it Available.
#[test]
fn errata_3_20_plug_in_without_id_tag_times_out_to_finishing() {
    let mut world = accepted(1, &[(StandardKey::ConnectionTimeOut, "20")]);
    world.cp.plug_in(world.now, 1).unwrap();
    world.run_until(secs(20));
    assert_eq!(timed_out(&world), [(1, None)]);
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Preparing"), (1, "Finishing")])
    );
    // F2: presenting an id tag again starts a new session on the plugged cable.
    world.cp.prepare(world.now, 1, "TAG").unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Preparing")]));
    world.cp.unplug(world.now, 1).unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Available")]));
}

/// OCTT TC_011_1_CS / TC_011_2_CS: an accepted remote start for a connector is usage
/// initiated (A2, Preparing), and without a cable it times out like a local authorization.
#[test]
fn tc_011_2_cs_remote_start_times_out_without_a_cable() {
    let mut world = accepted(1, &[(StandardKey::ConnectionTimeOut, "15")]);
    accept_remote_start(&mut world, 1, "REMOTE");
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Preparing")]));
    world.run_until(secs(15));
    assert_eq!(timed_out(&world), [(1, Some("REMOTE".to_owned()))]);
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Available")]));
}

/// A charging session: plugged in, transaction started, statuses taken.
fn charging(keys: &[(StandardKey, &str)]) -> World {
    let mut world = accepted(1, keys);
    world.cp.plug_in(world.now, 1).unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.cp.report_meter(1, 1500).unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Preparing"), (1, "Charging")])
    );
    world
}

fn ev_disconnects(world: &World) -> Vec<(bool, bool)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::EvDisconnected {
                stopped, unlock, ..
            } => Some((*stopped, *unlock)),
            _ => None,
        })
        .collect()
}

/// OCTT TC_005_1_CS (9.1.23, 9.1.33): unplugged at the EV side with both keys true, the
/// transaction stops with reason EVDisconnected and the last meter reading, the application
/// is told to unlock, and the connector is Finishing until the cable is taken away.
#[test]
fn tc_005_1_cs_ev_side_disconnect_stops_and_unlocks() {
    let mut world = charging(&[
        (StandardKey::StopTransactionOnEVSideDisconnect, "true"),
        (StandardKey::UnlockConnectorOnEVSideDisconnect, "true"),
    ]);
    world.cp.ev_side_disconnected(world.now, 1).unwrap();
    world.settle();
    assert_eq!(ev_disconnects(&world), [(true, true)]);
    let seen = world.take_seen();
    let stop = sent(&seen, "StopTransaction")[0];
    assert_eq!(stop.payload["reason"], "EVDisconnected");
    assert_eq!(stop.payload["meterStop"], 1500);
    assert_eq!(statuses(&seen), [(1, "Finishing")]);
    assert_eq!(world.cp.transaction(1), None);
    world.cp.unplug(world.now, 1).unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Available")]));
}

/// OCTT TC_005_2_CS: with UnlockConnectorOnEVSideDisconnect false the stop is the same but
/// nothing is unlocked; a fixed cable (reported as unplugged) goes straight to Available (C1,
/// the test case allows Finishing or Available).
#[test]
fn tc_005_2_cs_ev_side_disconnect_stops_without_unlocking() {
    let mut world = charging(&[
        (StandardKey::StopTransactionOnEVSideDisconnect, "true"),
        (StandardKey::UnlockConnectorOnEVSideDisconnect, "false"),
    ]);
    world.cp.unplug(world.now, 1).unwrap();
    world.settle();
    assert_eq!(ev_disconnects(&world), [(true, false)]);
    let seen = world.take_seen();
    assert_eq!(
        sent(&seen, "StopTransaction")[0].payload["reason"],
        "EVDisconnected"
    );
    assert_eq!(statuses(&seen), [(1, "Available")]);
}

/// OCTT TC_005_3_CS: with StopTransactionOnEVSideDisconnect false the transaction goes on,
/// SuspendedEV with info "EV side disconnected"; a remote stop then ends it (reason Remote)
/// and the connector is Finishing. Plugging in again instead resumes charging (D3).
#[test]
fn tc_005_3_cs_ev_side_disconnect_suspends_the_transaction() {
    let keys = [
        (StandardKey::StopTransactionOnEVSideDisconnect, "false"),
        (StandardKey::UnlockConnectorOnEVSideDisconnect, "false"),
    ];
    let mut world = charging(&keys);
    world.cp.ev_side_disconnected(world.now, 1).unwrap();
    world.settle();
    assert_eq!(ev_disconnects(&world), [(false, false)]);
    let seen = world.take_seen();
    assert!(sent(&seen, "StopTransaction").is_empty());
    let suspended = sent(&seen, "StatusNotification")[0];
    assert_eq!(suspended.payload["status"], "SuspendedEV");
    assert_eq!(suspended.payload["info"], "EV side disconnected");

    let (_, id) = world.cp.transaction(1).unwrap();
    world
        .cs_calls(
            "RemoteStopTransaction",
            json!({"transactionId": id.unwrap()}),
        )
        .unwrap();
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
        .stop_transaction(
            world.now,
            1,
            1600,
            Some(ocpp_core::v16::Reason::Remote),
            None,
        )
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    assert_eq!(
        sent(&seen, "StopTransaction")[0].payload["reason"],
        "Remote"
    );
    assert_eq!(statuses(&seen), [(1, "Finishing")]);

    let mut world = charging(&keys);
    world.cp.ev_side_disconnected(world.now, 1).unwrap();
    world.cp.plug_in(world.now, 1).unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "SuspendedEV"), (1, "Charging")])
    );
}

/// Section 4.9: the EV and the EVSE suspend and resume (C4, C5, D3, E3, E4); when both
/// suspend, SuspendedEVSE has precedence.
#[test]
fn suspensions_by_the_ev_and_the_evse_with_evse_precedence() {
    let mut world = charging(&[]);
    world.cp.set_ev_suspended(world.now, 1, true).unwrap();
    world.settle();
    world.cp.set_evse_suspended(world.now, 1, true).unwrap();
    world.settle();
    world.cp.set_evse_suspended(world.now, 1, false).unwrap();
    world.settle();
    world.cp.set_ev_suspended(world.now, 1, false).unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[
            (1, "SuspendedEV"),
            (1, "SuspendedEVSE"),
            (1, "SuspendedEV"),
            (1, "Charging"),
        ])
    );
}

/// Section 3.5.4 with StopTransactionOnInvalidId false, C5: the transaction goes on but the
/// EVSE offers no energy, so the connector is SuspendedEVSE, also after a restart that the
/// transaction survived (`InterruptedTransactions::Continue`).
#[test]
fn a_deauthorized_transaction_that_goes_on_is_suspended_evse() {
    let keys = [(StandardKey::StopTransactionOnInvalidId, "false")];
    let mut world = accepted(1, &keys);
    world.cp.plug_in(world.now, 1).unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "INVALID", 0, None)
        .unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Preparing"), (1, "Charging"), (1, "SuspendedEVSE")])
    );

    // Across a restart, when the hardware kept the transaction running.
    let stored = world.stored.clone();
    let mut world = World::restored(
        definitions(1, &keys),
        |config| config.interrupted_transactions = InterruptedTransactions::Continue,
        stored,
    );
    world.connect();
    assert_eq!(
        statuses(&world.take_seen()),
        [(0, "Available"), (1, "SuspendedEVSE")]
    );
}

/// OCTT TC_041_CS (Fault Behavior; A9, C9, I1, I3): a fault makes the connector Faulted with
/// its error code, whatever it was doing, and resolving it returns to the state before.
#[test]
fn tc_041_cs_a_fault_and_its_recovery() {
    let mut world = accepted(2, &[]);
    let fault = Fault {
        info: Some("ground fault".into()),
        ..Fault::new(ChargePointErrorCode::GroundFailure)
    };
    world.cp.report_fault(world.now, 2, fault.clone()).unwrap();
    world.settle();
    let seen = world.take_seen();
    let faulted = sent(&seen, "StatusNotification")[0];
    assert_eq!(faulted.payload["connectorId"], 2);
    assert_eq!(faulted.payload["status"], "Faulted");
    assert_eq!(faulted.payload["errorCode"], "GroundFailure");
    assert_eq!(faulted.payload["info"], "ground fault");
    world.cp.clear_fault(world.now, 2).unwrap();
    world.settle();
    let seen = world.take_seen();
    let cleared = sent(&seen, "StatusNotification")[0];
    assert_eq!(cleared.payload["status"], "Available");
    assert_eq!(cleared.payload["errorCode"], "NoError");

    // During a transaction, and on the station as a whole.
    let mut world = charging(&[]);
    world.cp.report_fault(world.now, 1, fault.clone()).unwrap();
    world.cp.report_fault(world.now, 0, fault).unwrap();
    world.settle();
    world.cp.clear_fault(world.now, 1).unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Faulted"), (0, "Faulted"), (1, "Charging")])
    );
    assert_eq!(
        world
            .cp
            .report_fault(world.now, 1, Fault::new(ChargePointErrorCode::NoError)),
        Err(ChargePointError::NoErrorIsNoFault)
    );
}

/// Section 5.2 with derived statuses: an inoperative connector with a cable in is
/// Unavailable, and Preparing again once operative (H2).
#[test]
fn an_inoperative_connector_is_unavailable_whatever_the_cable() {
    let mut world = accepted(1, &[]);
    world.cp.plug_in(world.now, 1).unwrap();
    world.settle();
    change_availability(&mut world, 1, false);
    change_availability(&mut world, 1, true);
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Preparing"), (1, "Unavailable"), (1, "Preparing")])
    );
}

/// `report_status` wins over the derived status until the application reports a hardware
/// fact about the connector.
#[test]
fn a_status_reported_outright_wins_until_the_next_hardware_fact() {
    let mut world = accepted(1, &[]);
    world
        .cp
        .report_status(
            world.now,
            1,
            ConnectorStatus::new(ChargePointStatus::SuspendedEvse),
        )
        .unwrap();
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "SuspendedEVSE")])
    );
    world.cp.plug_in(world.now, 1).unwrap();
    world.settle();
    assert_eq!(new_statuses(&mut world), status_list(&[(1, "Charging")]));
}

/// MinimumStatusDuration (9.1.20, errata 3.19): a status that lasts shorter is never sent; the
/// one that lasts is sent once stable, with the time it began.
#[test]
fn short_lived_derived_statuses_are_not_reported() {
    let mut world = accepted(1, &[(StandardKey::MinimumStatusDuration, "5")]);
    world.cp.plug_in(world.now, 1).unwrap();
    world.run_until(secs(2));
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    world.run_until(secs(10));
    let seen = world.take_seen();
    assert_eq!(statuses(&seen), [(1, "Charging")]);
    let charging = sent(&seen, "StatusNotification")[0];
    assert_eq!(charging.at, secs(7));
    assert_eq!(
        charging.payload["timestamp"],
        ocpp_core::primitives::datetime::format(START + time::Duration::seconds(2))
    );
}

/// Section 4.9 and 5.2: the facts survive a restart (a cable in, a fault), and so does a
/// status stored by an earlier version (record version 1, a status reported outright).
#[test]
fn connector_facts_survive_a_restart() {
    let mut world = accepted(2, &[]);
    world.cp.plug_in(world.now, 1).unwrap();
    world
        .cp
        .report_fault(
            world.now,
            2,
            Fault::new(ChargePointErrorCode::HighTemperature),
        )
        .unwrap();
    world.settle();
    let stored = world.stored.clone();
    let mut world = World::restored(definitions(2, &[]), |_| {}, stored);
    world.connect();
    assert_eq!(
        statuses(&world.take_seen()),
        [(0, "Available"), (1, "Preparing"), (2, "Faulted")]
    );

    let mut old = Snapshot::new();
    old.insert(
        CONNECTOR_STATUS_COLLECTION,
        "0001".to_owned(),
        br#"{"v":1,"status":"Unavailable","error_code":"NoError"}"#.to_vec(),
    );
    let mut world = World::restored(definitions(1, &[]), |_| {}, old);
    world.connect();
    assert_eq!(
        statuses(&world.take_seen()),
        [(0, "Available"), (1, "Unavailable")]
    );
}

/// Hardware facts are about connectors 1 and up (faults also about 0), and only existing ones.
#[test]
fn hardware_facts_of_impossible_connectors_are_refused() {
    let mut world = accepted(1, &[]);
    assert_eq!(
        world.cp.plug_in(world.now, 0),
        Err(ChargePointError::ConnectorZero)
    );
    assert!(matches!(
        world.cp.unplug(world.now, 2),
        Err(ChargePointError::UnknownConnector { connector: 2, .. })
    ));
    assert!(matches!(
        world.cp.prepare(world.now, 3, "TAG"),
        Err(ChargePointError::UnknownConnector { .. })
    ));
    world
        .cp
        .start_transaction(world.now, 1, "TAG", 0, None)
        .unwrap();
    assert_eq!(
        world.cp.prepare(world.now, 1, "OTHER"),
        Err(ChargePointError::TransactionRunning(1))
    );
}

/// A cable pulled out at the EV side without a transaction stays in the socket: Finishing
/// until it is taken away, so the next driver does not start on it.
#[test]
fn a_cable_left_in_the_socket_is_finishing() {
    let mut world = accepted(1, &[]);
    world.cp.plug_in(world.now, 1).unwrap();
    world.cp.ev_side_disconnected(world.now, 1).unwrap();
    world.settle();
    world.cp.unplug(world.now, 1).unwrap();
    world.settle();
    assert_eq!(
        new_statuses(&mut world),
        status_list(&[(1, "Preparing"), (1, "Finishing"), (1, "Available")])
    );
}
