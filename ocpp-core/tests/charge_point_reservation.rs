//! Reservations of the 1.6 Charge Point (sections 3.11, 5.1 CancelReservation, 5.13
//! ReserveNow) against a scripted Central System in virtual time. Tests are named after the OCTT
//! 1.6 Charge Point test cases TC_046_CS to TC_053_CS or the section they cover.

use ocpp_core::charge_point::config::{Definitions, Profile, StandardKey};
use ocpp_core::charge_point::reservation::ReservationEnd;
use ocpp_core::charge_point::{ChargePointError, Event, Fault};
use ocpp_core::primitives::datetime;
use ocpp_core::v16::{ChargePointErrorCode, ChargePointStatus};
use serde_json::{Value, json};

mod cp_world;
use cp_world::*;

/// ReserveNow for `id_tag` on `connector`, expiring `seconds` from now; the answer's status.
fn reserve(world: &mut World, id: i32, connector: i32, id_tag: &str, seconds: i64) -> String {
    reserve_with(
        world,
        json!({
            "connectorId": connector,
            "expiryDate": datetime::format(world.now.wall + time::Duration::seconds(seconds)),
            "idTag": id_tag,
            "reservationId": id,
        }),
    )
}

fn reserve_with(world: &mut World, request: Value) -> String {
    let answer = world.cs_calls("ReserveNow", request).unwrap();
    answer["status"].as_str().unwrap().to_owned()
}

fn cancel(world: &mut World, id: i32) -> String {
    let answer = world
        .cs_calls("CancelReservation", json!({"reservationId": id}))
        .unwrap();
    answer["status"].as_str().unwrap().to_owned()
}

fn status_of(world: &World, connector: u32) -> ChargePointStatus {
    world.cp.connector_status(connector).unwrap().status
}

fn ended(world: &World) -> Vec<(i32, ReservationEnd)> {
    world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ReservationEnded {
                reservation,
                reason,
            } => Some((reservation.reservation_id, *reason)),
            _ => None,
        })
        .collect()
}

/// Starts a transaction of `id_tag` on `connector`; the reservationId its StartTransaction
/// carries.
fn start(world: &mut World, connector: u32, id_tag: &str) -> Value {
    world
        .cp
        .start_transaction(world.now, connector, id_tag, 0, None)
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    let start = sent(&seen, "StartTransaction");
    let start = start.last().expect("a StartTransaction was sent");
    start
        .payload
        .get("reservationId")
        .cloned()
        .unwrap_or(Value::Null)
}

/// OCTT TC_046_1_CS: a reserved connector is Reserved; another id tag is refused there; the
/// reserved id tag prepares (Preparing), starts with the reservationId, and the reservation
/// ends (section 5.13).
#[test]
fn tc_046_1_cs_reserved_connector_local_start() {
    let mut world = accepted(2, &[]);
    assert_eq!(reserve(&mut world, 7, 1, "RES", 3600), "Accepted");
    assert!(
        world
            .events
            .iter()
            .any(|e| matches!(e, Event::ReservationMade(r) if r.reservation_id == 7))
    );
    assert_eq!(statuses(&world.take_seen()), [(1, "Reserved")]);

    let refused = Err(ChargePointError::Reserved {
        connector: 1,
        reservation_id: 7,
    });
    assert_eq!(world.cp.prepare(world.now, 1, "OTHER"), refused);
    assert_eq!(
        world
            .cp
            .start_transaction(world.now, 1, "OTHER", 0, None)
            .map(|_| ()),
        refused
    );
    // The other connector is not held.
    world.cp.prepare(world.now, 2, "OTHER").unwrap();

    world.cp.prepare(world.now, 1, "res").unwrap();
    world.cp.plug_in(world.now, 1).unwrap();
    world.settle();
    assert_eq!(
        statuses(&world.take_seen()),
        [(2, "Preparing"), (1, "Preparing")]
    );
    world
        .cp
        .start_transaction(world.now, 1, "RES", 0, None)
        .unwrap();
    world.settle();
    let seen = world.take_seen();
    assert_eq!(
        sent(&seen, "StartTransaction")[0].payload["reservationId"],
        7
    );
    assert_eq!(statuses(&seen), [(1, "Charging")]);
    assert_eq!(ended(&world), [(7, ReservationEnd::Used)]);
    assert_eq!(world.cp.reservations().count(), 0);
    assert!(world.stored.records("cp16.reservations").next().is_none());
}

/// OCTT TC_046_2_CS: a remote start for the reserved id tag is the application's to accept,
/// one for another id tag on the reserved connector is refused by the station.
#[test]
fn tc_046_2_cs_reserved_connector_remote_start() {
    let mut world = accepted(1, &[]);
    assert_eq!(reserve(&mut world, 8, 1, "RES", 3600), "Accepted");
    let refused = world
        .cs_calls(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "OTHER"}),
        )
        .unwrap();
    assert_eq!(refused["status"], "Rejected");

    accept_remote_start(&mut world, 1, "RES");
    world.cp.plug_in(world.now, 1).unwrap();
    assert_eq!(start(&mut world, 1, "RES"), 8);
}

/// OCTT TC_047_CS: an unused reservation ends at its expiryDate: Available again, reported,
/// and the next driver starts without a reservationId.
#[test]
fn tc_047_cs_reservation_expires() {
    let mut world = accepted(1, &[]);
    assert_eq!(reserve(&mut world, 9, 1, "RES", 60), "Accepted");
    world.take_seen();
    world.run_until(secs(59));
    assert_eq!(status_of(&world, 1), ChargePointStatus::Reserved);
    assert!(statuses(&world.take_seen()).is_empty());
    world.run_until(secs(60));
    let seen = world.take_seen();
    assert_eq!(statuses(&seen), [(1, "Available")]);
    assert_eq!(seen[0].at, secs(60));
    assert_eq!(ended(&world), [(9, ReservationEnd::Expired)]);
    assert_eq!(start(&mut world, 1, "OTHER"), Value::Null);
}

/// OCTT TC_048_1_CS to TC_048_3_CS: a connector that is Faulted, occupied (a cable in, a
/// transaction) or Unavailable is not reserved, and the answer says why.
#[test]
fn tc_048_cs_a_connector_that_cannot_be_reserved() {
    let mut world = accepted(3, &[]);
    world
        .cp
        .report_fault(
            world.now,
            1,
            Fault::new(ChargePointErrorCode::PowerSwitchFailure),
        )
        .unwrap();
    assert_eq!(reserve(&mut world, 1, 1, "RES", 600), "Faulted");

    world.cp.plug_in(world.now, 2).unwrap();
    assert_eq!(reserve(&mut world, 2, 2, "RES", 600), "Occupied");
    world
        .cp
        .start_transaction(world.now, 2, "T", 0, None)
        .unwrap();
    assert_eq!(reserve(&mut world, 2, 2, "RES", 600), "Occupied");

    change_availability(&mut world, 3, false);
    assert_eq!(reserve(&mut world, 3, 3, "RES", 600), "Unavailable");
    assert_eq!(world.cp.reservations().count(), 0);
}

/// OCTT TC_048_4_CS / TC_050_4_CS: a station without the Reservation profile answers
/// ReserveNow for a connector and for the whole station (connector 0) Rejected, as section
/// 5.13 says of a station "configured not to accept reservations" (and CancelReservation
/// Rejected: it holds none); one that has the profile rejects connector 0 without
/// ReserveConnectorZeroSupported, an unknown connector, and an expiry already past.
#[test]
fn tc_048_4_cs_tc_050_4_cs_reservations_rejected() {
    let definitions = Definitions::builder()
        .profiles(&[Profile::Core])
        .initial(StandardKey::NumberOfConnectors, "1")
        .build()
        .unwrap();
    let mut world = World::restored(definitions, |_| {}, Default::default());
    world.connect();
    for connector in [1, 0] {
        let answer = world.cs_calls(
            "ReserveNow",
            json!({"connectorId": connector, "expiryDate": "2030-01-01T00:00:00Z",
                   "idTag": "RES", "reservationId": 1}),
        );
        assert_eq!(
            answer.unwrap()["status"],
            "Rejected",
            "connector {connector}"
        );
    }
    let answer = world.cs_calls("CancelReservation", json!({"reservationId": 1}));
    assert_eq!(answer.unwrap()["status"], "Rejected");
    assert_eq!(world.cp.reservations().count(), 0);

    let mut world = accepted(1, &[(StandardKey::ReserveConnectorZeroSupported, "false")]);
    assert_eq!(reserve(&mut world, 1, 0, "RES", 600), "Rejected");
    assert_eq!(reserve(&mut world, 2, 2, "RES", 600), "Rejected");
    assert_eq!(reserve(&mut world, 3, -1, "RES", 600), "Rejected");
    assert_eq!(reserve(&mut world, 4, 1, "RES", 0), "Rejected");
    assert_eq!(world.cp.reservations().count(), 0);
}

/// OCTT TC_049_CS (section 5.13, ReserveConnectorZeroSupported): a reservation of "any
/// connector" keeps one connector free for its id tag. With the other connectors Unavailable
/// the last one is Reserved, and the id tag starts there with the reservationId.
#[test]
fn tc_049_cs_reservation_of_the_charge_point() {
    let mut world = accepted(2, &[(StandardKey::ReserveConnectorZeroSupported, "true")]);
    change_availability(&mut world, 2, false);
    world.take_seen();
    assert_eq!(reserve(&mut world, 5, 0, "RES", 600), "Accepted");
    assert_eq!(statuses(&world.take_seen()), [(1, "Reserved")]);
    assert_eq!(
        world.cp.prepare(world.now, 1, "OTHER"),
        Err(ChargePointError::Reserved {
            connector: 1,
            reservation_id: 5
        })
    );
    world.cp.plug_in(world.now, 1).unwrap();
    assert_eq!(start(&mut world, 1, "RES"), 5);
    assert_eq!(ended(&world), [(5, ReservationEnd::Used)]);
}

/// Section 5.13: with two free connectors, another driver may take one of them, not both.
#[test]
fn a_reservation_of_any_connector_keeps_the_last_one_free() {
    let mut world = accepted(2, &[(StandardKey::ReserveConnectorZeroSupported, "true")]);
    assert_eq!(reserve(&mut world, 5, 0, "RES", 600), "Accepted");
    assert_eq!(status_of(&world, 1), ChargePointStatus::Available);
    world.cp.prepare(world.now, 1, "OTHER").unwrap();
    world.settle();
    assert_eq!(status_of(&world, 2), ChargePointStatus::Reserved);
    assert!(matches!(
        world.cp.start_transaction(world.now, 2, "THIRD", 0, None),
        Err(ChargePointError::Reserved { connector: 2, .. })
    ));
    // A reservation of connector 2 itself would take the connector kept free.
    assert_eq!(reserve(&mut world, 6, 2, "OTHER", 600), "Occupied");
    // And a second reservation of any connector finds none left.
    assert_eq!(reserve(&mut world, 6, 0, "OTHER", 600), "Occupied");
}

/// OCTT TC_050_1_CS to TC_050_3_CS: connector 0 is not reserved when the station is Faulted,
/// every connector is occupied, or the station is Unavailable.
#[test]
fn tc_050_cs_the_charge_point_cannot_be_reserved() {
    let keys = [(StandardKey::ReserveConnectorZeroSupported, "true")];
    let mut world = accepted(2, &keys);
    world
        .cp
        .report_fault(world.now, 0, Fault::new(ChargePointErrorCode::OtherError))
        .unwrap();
    assert_eq!(reserve(&mut world, 1, 0, "RES", 600), "Faulted");

    let mut world = accepted(2, &keys);
    world.cp.plug_in(world.now, 1).unwrap();
    world.cp.plug_in(world.now, 2).unwrap();
    assert_eq!(reserve(&mut world, 1, 0, "RES", 600), "Occupied");

    let mut world = accepted(2, &keys);
    change_availability(&mut world, 0, false);
    assert_eq!(reserve(&mut world, 1, 0, "RES", 600), "Unavailable");
}

/// OCTT TC_051_CS: CancelReservation of a reservation held is Accepted, the connector is
/// Available again and the next transaction carries no reservationId. TC_052_CS: an unknown
/// reservation id is Rejected and cancels nothing.
#[test]
fn tc_051_cs_tc_052_cs_cancel_reservation() {
    let mut world = accepted(1, &[]);
    assert_eq!(reserve(&mut world, 11, 1, "RES", 600), "Accepted");
    world.take_seen();
    assert_eq!(cancel(&mut world, 12), "Rejected");
    assert_eq!(status_of(&world, 1), ChargePointStatus::Reserved);
    assert_eq!(cancel(&mut world, 11), "Accepted");
    assert_eq!(statuses(&world.take_seen()), [(1, "Available")]);
    assert_eq!(ended(&world), [(11, ReservationEnd::Cancelled)]);
    assert_eq!(start(&mut world, 1, "OTHER2"), Value::Null);
    assert_eq!(cancel(&mut world, 11), "Rejected");
}

/// Reserves connector 1 for an hour for the id tag PARENT-CARD of the group FAMILY.
fn reserve_for_family(world: &mut World, id: i32) -> String {
    let request = json!({
        "connectorId": 1,
        "expiryDate": datetime::format(world.now.wall + time::Duration::hours(1)),
        "idTag": "PARENT-CARD",
        "parentIdTag": "FAMILY",
        "reservationId": id,
    });
    reserve_with(world, request)
}

/// OCTT TC_053_CS (sections 3.10, 5.13): an id tag with the reservation's parentIdTag may use
/// it; the parent comes from the Central System's Authorize answer when the station does not
/// know the id tag, or from the Local Authorization List.
#[test]
fn tc_053_cs_reserved_connector_used_with_the_parent_id_tag() {
    let mut world = accepted(1, &[]);
    world.parents.insert("KID".into(), "FAMILY".into());
    assert_eq!(reserve_for_family(&mut world, 21), "Accepted");
    // Unknown until the Central System says.
    assert!(world.cp.prepare(world.now, 1, "KID").is_err());
    world.cp.authorize(world.now, "KID").unwrap();
    world.settle();
    world.cp.prepare(world.now, 1, "KID").unwrap();
    world.cp.plug_in(world.now, 1).unwrap();
    assert_eq!(start(&mut world, 1, "KID"), 21);

    // From the Local Authorization List, without asking.
    let mut world = accepted(1, &[]);
    world
        .cs_calls(
            "SendLocalList",
            json!({"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
                {"idTag": "LISTED", "idTagInfo": {"status": "Accepted", "parentIdTag": "family"}}
            ]}),
        )
        .unwrap();
    assert_eq!(reserve_for_family(&mut world, 22), "Accepted");
    assert_eq!(start(&mut world, 1, "LISTED"), 22);
}

/// Section 5.13 (3): a reservation ends when its connector becomes Faulted or Unavailable; the
/// connector is not Reserved once it recovers.
#[test]
fn a_fault_or_unavailability_ends_the_reservation() {
    let mut world = accepted(2, &[]);
    assert_eq!(reserve(&mut world, 31, 1, "RES", 600), "Accepted");
    assert_eq!(reserve(&mut world, 32, 2, "RES2", 600), "Accepted");
    world.take_seen();
    world
        .cp
        .report_fault(
            world.now,
            1,
            Fault::new(ChargePointErrorCode::GroundFailure),
        )
        .unwrap();
    world.cp.clear_fault(world.now, 1).unwrap();
    world.settle();
    change_availability(&mut world, 2, false);
    assert_eq!(
        ended(&world),
        [
            (31, ReservationEnd::Faulted),
            (32, ReservationEnd::Unavailable)
        ]
    );
    assert_eq!(
        statuses(&world.take_seen()),
        [(1, "Faulted"), (1, "Available"), (2, "Unavailable")]
    );
}

/// Section 5.13: a ReserveNow with a reservation id the station holds replaces that
/// reservation; another id on a reserved connector is Occupied.
#[test]
fn a_reservation_with_the_same_id_is_replaced() {
    let mut world = accepted(2, &[]);
    assert_eq!(reserve(&mut world, 41, 1, "RES", 600), "Accepted");
    assert_eq!(reserve(&mut world, 42, 1, "RES", 600), "Occupied");
    world.take_seen();
    assert_eq!(reserve(&mut world, 41, 2, "RES", 600), "Accepted");
    assert_eq!(ended(&world), [(41, ReservationEnd::Replaced)]);
    assert_eq!(
        statuses(&world.take_seen()),
        [(1, "Available"), (2, "Reserved")]
    );
    assert_eq!(world.cp.reservations().count(), 1);
}

/// Reservations are persisted: after a restart the connector is Reserved again, still refuses
/// other id tags, and expires at the same wall-clock time.
#[test]
fn reservations_survive_a_restart() {
    let mut world = accepted(1, &[]);
    assert_eq!(reserve(&mut world, 51, 1, "RES", 120), "Accepted");
    world.run_until(secs(30));
    let stored = world.stored.clone();

    let mut world = World::restored(definitions(1, &[]), |_| {}, stored);
    world.now = world.now.advanced(secs(30));
    world.connect();
    assert_eq!(
        statuses(&world.take_seen()),
        [(0, "Available"), (1, "Reserved")]
    );
    assert!(world.cp.prepare(world.now, 1, "OTHER").is_err());
    world.run_until(secs(119));
    assert_eq!(status_of(&world, 1), ChargePointStatus::Reserved);
    world.run_until(secs(120));
    assert_eq!(statuses(&world.take_seen()), [(1, "Available")]);
}

/// A damaged reservation record is a clear restore error, not a panic.
#[test]
fn an_unreadable_reservation_record_is_a_clear_error() {
    let mut stored = ocpp_core::persist::Snapshot::new();
    stored.insert(
        ocpp_core::charge_point::reservation::RESERVATIONS_COLLECTION,
        "1".into(),
        b"{\"v\":1}".to_vec(),
    );
    let config = ocpp_core::charge_point::ChargePointConfig::new(
        ocpp_core::v16::BootNotificationRequest::new("V", "M"),
        definitions(1, &[]),
    );
    let result = ocpp_core::charge_point::ChargePoint::new(
        config,
        Box::new(ocpp_core::rpc::CounterIds::default()),
        &stored,
    );
    assert!(matches!(
        result,
        Err(ocpp_core::charge_point::RestoreError::BadRecord {
            collection: "cp16.reservations",
            ..
        })
    ));
}

/// Records to persist come out before the frames of the same input: a reservation ended by
/// ChangeAvailability is deleted from the store before the answer is sent.
#[test]
fn a_reservation_ended_by_change_availability_is_deleted_before_the_answer() {
    use ocpp_core::machine::{Machine, Output};
    use ocpp_core::persist::StoreOp;
    let mut world = accepted(1, &[]);
    assert_eq!(reserve(&mut world, 61, 1, "RES", 600), "Accepted");
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::ChangeAvailability,
            json!({"connectorId": 1, "type": "Inoperative"}),
        )
        .unwrap();
    let request = std::iter::from_fn(|| world.cs.poll_output())
        .find_map(|output| match output {
            ocpp_core::machine::Output::Transmit(text) => Some(text),
            _ => None,
        })
        .unwrap();
    world.cp.handle_message(world.now, &request);
    let outputs: Vec<_> = std::iter::from_fn(|| world.cp.poll_output()).collect();
    let deleted = outputs.iter().position(|o| {
        matches!(
            o,
            Output::Persist(StoreOp::Delete {
                collection: "cp16.reservations",
                ..
            })
        )
    });
    let answered = outputs
        .iter()
        .position(|o| matches!(o, Output::Transmit(_)));
    assert!(deleted.unwrap() < answered.unwrap(), "{outputs:?}");
}

/// A stored reservation of a connector the station no longer has (the hardware changed between
/// versions) ends at the first input instead of breaking the station.
#[test]
fn a_stored_reservation_of_a_removed_connector_ends() {
    let mut world = accepted(3, &[]);
    assert_eq!(reserve(&mut world, 71, 3, "RES", 600), "Accepted");
    let stored = world.stored.clone();
    let mut world = World::restored(definitions(1, &[]), |_| {}, stored);
    world.connect();
    assert_eq!(ended(&world), [(71, ReservationEnd::Unavailable)]);
    assert_eq!(world.cp.reservations().count(), 0);
}

/// A deterministic random walk over everything that can happen to connectors (hardware facts,
/// transactions, availability, reservations, time): the machine never panics, never stalls
/// on a deadline (`run_until` fails on one that does not move), and every reservation it
/// holds is one the Central System made and has not seen end.
#[test]
fn random_walks_over_connectors_and_reservations_stay_consistent() {
    let keys = [
        (StandardKey::ReserveConnectorZeroSupported, "true"),
        (StandardKey::ConnectionTimeOut, "20"),
        (StandardKey::MinimumStatusDuration, "1"),
    ];
    for seed in 1..=20u64 {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move |n: u64| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut world = accepted(2, &keys);
        for _ in 0..150 {
            let connector = next(3) as u32;
            let tag = ["RES", "OTHER", "KID"][next(3) as usize];
            let now = world.now;
            let _ = match next(14) {
                0 => world.cp.plug_in(now, connector),
                1 => world.cp.unplug(now, connector),
                2 => world.cp.ev_side_disconnected(now, connector),
                3 => world.cp.set_ev_suspended(now, connector, next(2) == 0),
                4 => world.cp.report_fault(
                    now,
                    connector,
                    Fault::new(ChargePointErrorCode::OtherError),
                ),
                5 => world.cp.clear_fault(now, connector),
                6 => world.cp.prepare(now, connector, tag),
                7 => world
                    .cp
                    .start_transaction(now, connector, tag, 0, None)
                    .map(|_| ()),
                8 => world
                    .cp
                    .stop_transaction(now, connector, 10, None, None)
                    .map(|_| ()),
                9 => {
                    let id = next(4) as i32;
                    let _ = reserve(&mut world, id, connector as i32, tag, next(90) as i64);
                    Ok(())
                }
                10 => {
                    let _ = cancel(&mut world, next(4) as i32);
                    Ok(())
                }
                11 => {
                    change_availability(&mut world, connector, next(2) == 0);
                    Ok(())
                }
                12 => {
                    world.disconnect();
                    world.run_for_seconds(next(30));
                    world.connect();
                    Ok(())
                }
                _ => {
                    world.run_for_seconds(next(40));
                    Ok(())
                }
            };
            world.settle();
        }
        // What the machine holds is what was made and not ended, by id.
        let mut open = std::collections::BTreeSet::new();
        for event in &world.events {
            match event {
                Event::ReservationMade(r) => {
                    open.insert(r.reservation_id);
                }
                Event::ReservationEnded { reservation, .. } => {
                    open.remove(&reservation.reservation_id);
                }
                _ => {}
            }
        }
        let held: std::collections::BTreeSet<i32> =
            world.cp.reservations().map(|r| r.reservation_id).collect();
        assert_eq!(held, open, "seed {seed}");
        let stored = world.stored.records("cp16.reservations").count();
        assert_eq!(stored, held.len(), "seed {seed}");
    }
}
