//! Smart Charging in the 1.6 Charge Point role (section 3.13, 5.5, 5.7, 5.16 and the errata):
//! the stacking and combination rules on the pure module, named after the OCTT cases whose
//! expected Composite Schedules they reproduce (TC_066_CS, TC_067_CS, TC_072_CS), then the
//! requests over the wire against a scripted Central System in virtual time (TC_056_CS,
//! TC_057_CS, TC_058_1_CS, TC_058_2_CS, TC_059_CS, TC_060_CS, TC_082_CS), and a property test
//! comparing the Composite Schedule with the limit evaluated second by second.

use std::collections::BTreeMap;
use std::time::Duration;

use ocpp_core::charge_point::config::{Definitions, Profile, StandardKey};
use ocpp_core::charge_point::smart_charging::{
    COLLECTION, ChargingLimit, InstalledProfile, MAX_COMPOSITE_PERIODS, Rejection, Running,
    RunningTransaction, Settings, SmartCharging,
};
use ocpp_core::charge_point::{
    ChargePoint, ChargePointConfig, Event, InterruptedTransactions, Reply,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::{Snapshot, StoreOp};
use ocpp_core::primitives::Decimal;
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{
    BootNotificationRequest, ChargingProfile, ChargingProfileKindType, ChargingProfilePurposeType,
    ChargingRateUnitType, ChargingSchedule, ClearChargingProfileRequest,
    ClearChargingProfileStatus, RemoteStartStopStatus,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2024-05-01 10:00 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

fn stamp(time: OffsetDateTime) -> String {
    ocpp_core::primitives::datetime::format(time)
}

fn settings(connectors: u32) -> Settings {
    Settings {
        connectors,
        max_stack_level: 10,
        max_periods: 24,
        max_installed: 10,
        allowed_units: vec![ChargingRateUnitType::A, ChargingRateUnitType::W],
        nominal_voltage: Decimal::from(230),
        connector_rating: ChargingLimit::amps(Decimal::from(32), 3),
    }
}

/// Settings for `connectors`, the transactions running, and no profiles yet.
fn setup(connectors: u32, running: Running) -> (Settings, Running, SmartCharging) {
    (settings(connectors), running, SmartCharging::new())
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A profile from its JSON members; `periods` are (startPeriod, limit) on 3 phases.
fn profile(
    id: i32,
    purpose: &str,
    stack_level: i32,
    unit: &str,
    periods: &[(i64, &str)],
    extra: Value,
) -> ChargingProfile {
    let periods: Vec<Value> = periods
        .iter()
        .map(|(start, limit)| json!({"startPeriod": start, "limit": dec(limit), "numberPhases": 3}))
        .collect();
    let mut value = json!({
        "chargingProfileId": id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": unit,
            "chargingSchedulePeriod": periods,
            "startSchedule": stamp(T0),
        },
    });
    merge(&mut value, extra);
    serde_json::from_value(value).unwrap()
}

/// A TxDefaultProfile of one period in A.
fn flat_default(id: i32, level: i32, limit: &str, extra: Value) -> ChargingProfile {
    profile(id, "TxDefaultProfile", level, "A", &[(0, limit)], extra)
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        for (key, value) in extra {
            match (into.get_mut(&key), value) {
                (Some(slot @ Value::Object(_)), value @ Value::Object(_)) => merge(slot, value),
                (_, value) => {
                    into.insert(key, value);
                }
            }
        }
    }
}

/// A transaction on connector 1 started a minute before T0, id 42.
fn charging_on_1() -> Running {
    Running::from([(
        1,
        RunningTransaction {
            started_at: at(-60),
            transaction_id: Some(42),
        },
    )])
}

fn install(
    smart: &mut SmartCharging,
    settings: &Settings,
    connector: i32,
    profile: ChargingProfile,
    running: &Running,
) {
    let mut ops = Vec::new();
    smart
        .set(settings, connector, profile, T0, running, &mut ops)
        .unwrap();
}

/// The composite as (startPeriod, limit) pairs, with its duration and unit.
fn composite(
    smart: &SmartCharging,
    settings: &Settings,
    connector: u32,
    from: i64,
    duration: i32,
    unit: Option<ChargingRateUnitType>,
    running: &Running,
) -> (i32, ChargingRateUnitType, Vec<(i32, String)>) {
    let (start, schedule) = smart
        .composite(settings, connector, at(from), duration, unit, running)
        .unwrap();
    assert_eq!(start, at(from));
    assert_eq!(schedule.start_schedule, None, "errata 3.57");
    periods_of(&schedule)
}

fn periods_of(schedule: &ChargingSchedule) -> (i32, ChargingRateUnitType, Vec<(i32, String)>) {
    let periods = schedule
        .charging_schedule_period
        .iter()
        .map(|p| (p.start_period, p.limit.to_string()))
        .collect();
    (
        schedule.duration.unwrap(),
        schedule.charging_rate_unit,
        periods,
    )
}

fn expect(periods: &[(i32, &str)]) -> Vec<(i32, String)> {
    periods.iter().map(|(s, l)| (*s, (*l).to_owned())).collect()
}

fn borrowed(periods: &[(i64, String)]) -> Vec<(i64, &str)> {
    periods.iter().map(|(s, l)| (*s, l.as_str())).collect()
}

/// The three profiles of OCTT TC_066_CS, in `unit` (limits times 1000 for W).
fn tc_066_profiles(unit: &str) -> [(i32, ChargingProfile); 3] {
    let scale = |limits: &[(i64, i64)]| -> Vec<(i64, String)> {
        let factor = if unit == "W" { 1000 } else { 1 };
        limits
            .iter()
            .map(|(s, l)| (*s, (l * factor).to_string()))
            .collect()
    };
    let validity = json!({"validFrom": stamp(T0), "validTo": stamp(at(401))});
    let max = scale(&[(0, 10)]);
    let default = scale(&[(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)]);
    let tx = scale(&[(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)]);
    let mut with_validity = validity.clone();
    merge(
        &mut with_validity,
        json!({"chargingSchedule": {"duration": 300}}),
    );
    let mut tx_extra = validity;
    merge(
        &mut tx_extra,
        json!({"chargingSchedule": {"duration": 260}}),
    );
    [
        (
            0,
            profile(
                1,
                "ChargePointMaxProfile",
                0,
                unit,
                &borrowed(&max),
                json!({"chargingSchedule": {"duration": 86400}}),
            ),
        ),
        (
            1,
            profile(
                2,
                "TxDefaultProfile",
                0,
                unit,
                &borrowed(&default),
                with_validity,
            ),
        ),
        (
            1,
            profile(3, "TxProfile", 0, unit, &borrowed(&tx), tx_extra),
        ),
    ]
}

/// OCTT TC_066_CS: ChargePointMaxProfile, TxDefaultProfile and TxProfile combine into the
/// expected composite (x = 5 s after the profiles were sent): the TxProfile overrules the
/// default for the whole transaction, the maximum caps it.
#[test]
fn tc_066_cs_get_composite_schedule_combines_the_three_purposes() {
    for (unit, factor) in [("A", 1), ("W", 1000)] {
        let (settings, running, mut smart) = setup(1, charging_on_1());
        for (connector, p) in tc_066_profiles(unit) {
            install(&mut smart, &settings, connector, p, &running);
        }
        let rate = if unit == "A" {
            ChargingRateUnitType::A
        } else {
            ChargingRateUnitType::W
        };
        let got = composite(&smart, &settings, 1, 5, 400, Some(rate), &running);
        let limits = |l: i32| (l * factor).to_string();
        assert_eq!(
            got,
            (
                400,
                rate,
                vec![
                    (0, limits(8)),
                    (45, limits(10)),
                    (195, limits(6)),
                    (235, limits(10)),
                ]
            ),
            "unit {unit}"
        );
    }
}

/// OCTT TC_067_CS: clearing by id, then by purpose and stack level, then everything; the
/// composite after each step (x = 5 s). With nothing left the connector rating applies.
#[test]
fn tc_067_cs_clear_charging_profile_by_id_by_purpose_and_level_then_all() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let validity = json!({"validFrom": stamp(T0), "validTo": stamp(at(401)),
        "chargingSchedule": {"duration": 400}});
    let profiles = [
        (
            1,
            profile(
                11,
                "TxDefaultProfile",
                1,
                "A",
                &[(0, "6"), (60, "8"), (200, "10")],
                json!({"chargingSchedule": {"duration": 400}}),
            ),
        ),
        (
            1,
            profile(
                12,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "7"), (100, "9")],
                validity.clone(),
            ),
        ),
        (0, {
            let mut extra = validity;
            merge(&mut extra, json!({"chargingSchedule": {"duration": 86400}}));
            profile(
                13,
                "ChargePointMaxProfile",
                0,
                "A",
                &[(0, "11"), (200, "12")],
                extra,
            )
        }),
    ];
    for (connector, p) in profiles {
        install(&mut smart, &settings, connector, p, &running);
    }
    let mut ops = Vec::new();
    let by_id = ClearChargingProfileRequest {
        id: Some(11),
        ..Default::default()
    };
    let by_purpose_and_level = ClearChargingProfileRequest {
        charging_profile_purpose: Some(
            ocpp_core::v16::ChargingProfilePurposeType::TxDefaultProfile,
        ),
        stack_level: Some(0),
        ..Default::default()
    };
    let unit = Some(ChargingRateUnitType::A);
    for (request, periods) in [
        (by_id, expect(&[(0, "7"), (95, "9")])),
        (by_purpose_and_level, expect(&[(0, "11"), (195, "12")])),
        (ClearChargingProfileRequest::default(), expect(&[(0, "32")])),
    ] {
        let status = smart.clear(&request, &mut ops);
        assert_eq!(status, ClearChargingProfileStatus::Accepted, "{request:?}");
        let got = composite(&smart, &settings, 1, 5, 350, unit, &running);
        assert_eq!(got.2, periods, "{request:?}");
    }
    // Each clear deleted its records.
    let deleted: Vec<&str> = ops
        .iter()
        .filter_map(|op| match op {
            StoreOp::Delete { collection, key } if *collection == COLLECTION => Some(key.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, ["11", "12", "13"]);
}

/// Errata 3.25: the fields of ClearChargingProfile match together (logical AND); nothing
/// matching is `Unknown`.
#[test]
fn errata_3_25_clear_matches_all_given_fields_and_unknown_when_none_match() {
    let (settings, running, mut smart) = setup(2, Running::new());
    install(
        &mut smart,
        &settings,
        1,
        profile(1, "TxDefaultProfile", 0, "A", &[(0, "6")], json!({})),
        &running,
    );
    let mut ops = Vec::new();
    let wrong_connector = ClearChargingProfileRequest {
        id: Some(1),
        connector_id: Some(2),
        ..Default::default()
    };
    assert_eq!(
        smart.clear(&wrong_connector, &mut ops),
        ClearChargingProfileStatus::Unknown
    );
    assert!(ops.is_empty());
    assert_eq!(smart.profiles().count(), 1);
    let right = ClearChargingProfileRequest {
        id: Some(1),
        connector_id: Some(1),
        ..Default::default()
    };
    assert_eq!(
        smart.clear(&right, &mut ops),
        ClearChargingProfileStatus::Accepted
    );
    assert_eq!(
        smart.clear(&right, &mut ops),
        ClearChargingProfileStatus::Unknown
    );
}

/// OCTT TC_072_CS and errata 3.43: a higher stack level prevails while its schedule runs,
/// then the lower one takes over (x = 5 s), in A and in W.
#[test]
fn tc_072_cs_stacked_profiles_fall_back_to_the_lower_level_after_the_duration() {
    for (unit, factor) in [("A", 1), ("W", 1000)] {
        let (settings, running, mut smart) = setup(1, Running::new());
        let scaled = |l: i64| (l * factor).to_string();
        let (six, eight, ten, seven, nine) =
            (scaled(6), scaled(8), scaled(10), scaled(7), scaled(9));
        let validity = |duration: i64| {
            json!({"validFrom": stamp(T0), "validTo": stamp(at(401)),
                "chargingSchedule": {"duration": duration}})
        };
        let low = profile(
            1,
            "TxDefaultProfile",
            0,
            unit,
            &[(0, &six), (100, &eight), (200, &ten)],
            validity(400),
        );
        let high = profile(
            2,
            "TxDefaultProfile",
            1,
            unit,
            &[(0, &seven), (100, &nine)],
            validity(150),
        );
        install(&mut smart, &settings, 1, low, &running);
        install(&mut smart, &settings, 1, high, &running);
        let got = composite(&smart, &settings, 1, 5, 350, None, &running);
        assert_eq!(got.0, 350);
        assert_eq!(
            got.2,
            expect(&[(0, &seven), (95, &nine), (145, &eight), (195, &ten)]),
            "unit {unit}"
        );
    }
}

/// Section 3.13.7's example: a daily TxDefaultProfile of 11 kW, 6 kW from 08:00 to 20:00,
/// recurring from 2013 (errata 3.79: every 24 hours from startSchedule).
#[test]
fn section_3_13_7_a_daily_recurring_profile_repeats_every_day() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let daily = profile(
        100,
        "TxDefaultProfile",
        0,
        "W",
        &[(0, "11000"), (28800, "6000"), (72000, "11000")],
        json!({"chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {"duration": 86400, "startSchedule": "2013-01-01T00:00:00Z"}}),
    );
    install(&mut smart, &settings, 0, daily, &running);
    // T0 is 10:00; from 07:00 for two days.
    let got = composite(&smart, &settings, 1, -3 * 3600, 2 * 86400, None, &running);
    assert_eq!(got.1, ChargingRateUnitType::W);
    assert_eq!(
        got.2,
        expect(&[
            (0, "11000"),
            (3600, "6000"),
            (46800, "11000"),
            (90000, "6000"),
            (133200, "11000"),
        ])
    );
}

/// Section 5.7 with a duration of decades: the answer is bounded (periods and work) and its
/// `duration` says how far it reaches; what it reports is right up to there.
#[test]
fn section_5_7_a_composite_over_decades_is_cut_short_and_says_so() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let alternating = profile(
        1,
        "TxDefaultProfile",
        0,
        "A",
        &[(0, "10"), (3600, "20")],
        json!({"chargingProfileKind": "Recurring", "recurrencyKind": "Daily",
            "chargingSchedule": {"duration": 7200}}),
    );
    install(&mut smart, &settings, 1, alternating, &running);
    let (duration, _, periods) = composite(&smart, &settings, 1, 0, i32::MAX, None, &running);
    assert_eq!(periods.len(), MAX_COMPOSITE_PERIODS);
    // Three periods a day (10, 20, then the rating): the cut comes at a period's start.
    let last = periods.last().unwrap().0;
    assert!(
        duration > last && i64::from(duration) < 400 * 86_400,
        "{duration}"
    );
    assert_eq!(periods[3], (86_400, "10".to_owned()));
    // The same limit all day, every boundary evaluated: bounded by the steps.
    let mut ops = Vec::new();
    smart.clear(&ClearChargingProfileRequest::default(), &mut ops);
    let steady = profile(
        2,
        "TxDefaultProfile",
        0,
        "A",
        &[(0, "10"), (3600, "10"), (7200, "10")],
        json!({"chargingProfileKind": "Recurring", "recurrencyKind": "Daily"}),
    );
    install(&mut smart, &settings, 1, steady, &running);
    let (duration, _, periods) = composite(&smart, &settings, 1, 0, i32::MAX, None, &running);
    assert_eq!(periods, expect(&[(0, "10")]));
    assert!(duration < i32::MAX && duration > 365 * 86_400, "{duration}");
}

/// Section 3.13.2's example: a weekly TxDefaultProfile (full power on weekdays from 23:00 to
/// 06:00 and at weekends, reduced otherwise) with a holiday exception stacked on top, valid for
/// that day only (1 May 2024, a Wednesday).
#[test]
fn section_3_13_2_a_weekly_calendar_with_a_holiday_exception() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let (full, reduced) = ("16", "10");
    let mut periods = vec![(0, full)];
    for day in 0..5 {
        periods.push((day * 86_400 + 21_600, reduced));
        periods.push((day * 86_400 + 82_800, full));
    }
    let weekly = profile(
        1,
        "TxDefaultProfile",
        0,
        "A",
        &periods,
        json!({"chargingProfileKind": "Recurring", "recurrencyKind": "Weekly",
            "chargingSchedule": {"startSchedule": "2024-04-29T00:00:00Z"}}),
    );
    let holiday = profile(
        2,
        "TxDefaultProfile",
        1,
        "A",
        &[(0, full)],
        json!({"validFrom": "2024-05-01T00:00:00Z", "validTo": "2024-05-02T00:00:00Z",
            "chargingSchedule": {"startSchedule": "2024-05-01T00:00:00Z"}}),
    );
    install(&mut smart, &settings, 0, weekly, &running);
    install(&mut smart, &settings, 0, holiday, &running);
    // From Tuesday 30 April 00:00 (T0 is Wednesday 10:00) for three days.
    let tuesday = -(86_400 + 10 * 3600);
    let got = composite(&smart, &settings, 1, tuesday, 3 * 86_400, None, &running);
    assert_eq!(
        got.2,
        expect(&[
            (0, full),
            (21_600, reduced),
            (82_800, full),
            // Wednesday: the holiday keeps full power; Thursday is a weekday again.
            (2 * 86_400 + 21_600, reduced),
            (2 * 86_400 + 82_800, full),
        ])
    );
}

/// Section 3.13.2: an update with the same stack level and purpose whose validFrom lies ahead
/// replaces the installed profile at once; until validFrom the default behaviour applies.
#[test]
fn section_3_13_2_an_update_valid_later_replaces_now_and_reverts_to_default_until_then() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let later = json!({"validFrom": stamp(at(100))});
    for profile in [
        flat_default(1, 0, "10", json!({})),
        flat_default(2, 0, "6", later),
    ] {
        install(&mut smart, &settings, 1, profile, &running);
    }
    assert_eq!(smart.profiles().count(), 1);
    assert_eq!(smart.limit_at(&settings, 1, T0, &running), None);
    assert_eq!(
        composite(&smart, &settings, 1, 0, 200, None, &running).2,
        expect(&[(0, "32"), (100, "6")])
    );
}

/// Dates at the end of the calendar (year 9999) and the longest durations neither panic nor
/// loop: what lies beyond the last representable date never comes.
#[test]
fn schedules_at_the_end_of_the_calendar_are_handled_without_overflow() {
    let (settings, running, mut smart) = setup(1, charging_on_1());
    let far = json!({"chargingSchedule": {"startSchedule": "9999-12-31T23:00:00Z",
        "duration": i32::MAX}});
    let late = profile(
        1,
        "TxDefaultProfile",
        0,
        "A",
        &[(0, "10"), (i32::MAX.into(), "20")],
        far,
    );
    install(&mut smart, &settings, 1, late, &running);
    let relative = profile(
        2,
        "TxProfile",
        0,
        "A",
        &[(0, "12"), (i32::MAX.into(), "6")],
        json!({"chargingProfileKind": "Relative", "chargingSchedule": {"duration": i32::MAX}}),
    );
    install(&mut smart, &settings, 1, relative, &running);
    let got = composite(&smart, &settings, 1, 0, i32::MAX, None, &running);
    assert_eq!(got.2[0], (0, "12".to_owned()));
    assert_eq!(
        smart.next_change(T0, &running),
        Some(at(-60 + i64::from(i32::MAX)))
    );
    let at_the_end = datetime!(9999-12-31 23:30 UTC);
    assert_eq!(smart.next_change(at_the_end, &running), None);
    assert_eq!(
        smart.limit_at(&settings, 1, at_the_end, &running),
        None,
        "the TxProfile (valid, ended) overrules the default"
    );
}

/// Limits near the largest decimal saturate in conversions and sums instead of panicking.
#[test]
fn huge_limits_saturate_instead_of_overflowing() {
    let (settings, running, mut smart) = setup(2, Running::new());
    // 10^27 A: as power (x 230 V x 3) beyond the largest decimal.
    let huge = "1000000000000000000000000000";
    let default = flat_default(1, 0, huge, json!({}));
    install(&mut smart, &settings, 0, default, &running);
    let station = smart.limit_at(&settings, 0, T0, &running).unwrap();
    assert_eq!(station.limit, dec("2000000000000000000000000000"));
    let watts = Some(ChargingRateUnitType::W);
    let got = composite(&smart, &settings, 1, 0, 60, watts, &running);
    // Capped by the rating (32 A x 3 x 230 V) all the same.
    assert_eq!(got.2, expect(&[(0, "22080")]));
    let max = "79228162514264337593543950335";
    let limit = ChargingLimit::amps(dec(huge), 3);
    assert_eq!(
        limit.in_unit(ChargingRateUnitType::W, Decimal::from(230)),
        dec(max)
    );
}

/// Errata 3.44: periods beyond the recurrence are not executed; a weekly profile restarts
/// after 7 days.
#[test]
fn errata_3_44_a_weekly_profile_restarts_and_drops_periods_beyond_the_week() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let weekly = profile(
        7,
        "TxDefaultProfile",
        0,
        "A",
        &[(0, "10"), (3600, "20"), (700_000, "5")],
        json!({"chargingProfileKind": "Recurring", "recurrencyKind": "Weekly",
            "chargingSchedule": {"startSchedule": stamp(T0)}}),
    );
    install(&mut smart, &settings, 1, weekly, &running);
    let got = composite(&smart, &settings, 1, 0, 8 * 86400, None, &running);
    assert_eq!(
        got.2,
        expect(&[(0, "10"), (3600, "20"), (604800, "10"), (608400, "20")])
    );
}

/// Section 7.9: a Relative TxProfile counts from the transaction's start.
#[test]
fn section_7_9_a_relative_profile_starts_with_the_transaction() {
    let settings = settings(1);
    let running = charging_on_1(); // started 60 s before T0
    let mut smart = SmartCharging::new();
    let relative = profile(
        5,
        "TxProfile",
        0,
        "A",
        &[(0, "10"), (300, "16")],
        json!({"chargingProfileKind": "Relative", "chargingSchedule": {"startSchedule": null}}),
    );
    install(&mut smart, &settings, 1, relative, &running);
    let got = composite(&smart, &settings, 1, 0, 600, None, &running);
    assert_eq!(got.2, expect(&[(0, "10"), (240, "16")]));
    // The limit now and the next change.
    assert_eq!(
        smart.limit_at(&settings, 1, T0, &running),
        Some(ChargingLimit::amps(Decimal::from(10), 3))
    );
    assert_eq!(smart.next_change(T0, &running), Some(at(240)));
}

/// Section 3.13.1: a TxDefaultProfile of connector 0 applies to every connector; one set for a
/// connector replaces it for that connector only.
#[test]
fn section_3_13_1_connector_zero_defaults_apply_unless_the_connector_has_its_own() {
    let (settings, running, mut smart) = setup(2, Running::new());
    install(
        &mut smart,
        &settings,
        0,
        profile(1, "TxDefaultProfile", 0, "A", &[(0, "16")], json!({})),
        &running,
    );
    install(
        &mut smart,
        &settings,
        1,
        profile(2, "TxDefaultProfile", 0, "A", &[(0, "20")], json!({})),
        &running,
    );
    let amps = |a: i64| Some(ChargingLimit::amps(Decimal::from(a), 3));
    assert_eq!(smart.limit_at(&settings, 1, T0, &running), amps(20));
    assert_eq!(smart.limit_at(&settings, 2, T0, &running), amps(16));
    // Both remain installed: the same level and purpose on another connector is no
    // replacement.
    assert_eq!(smart.profiles().count(), 2);
}

/// Section 3.13.3: ChargePointMaxProfile caps every connector; connector 0's composite is the
/// sum of the connectors' limits (the rating where nothing limits), capped by the maximum and
/// the station's local limit (section 5.7, errata 3.30).
#[test]
fn section_3_13_3_connector_zero_is_the_capped_sum_of_the_connectors() {
    let (settings, running, mut smart) = setup(2, Running::new());
    install(
        &mut smart,
        &settings,
        1,
        profile(1, "TxDefaultProfile", 0, "A", &[(0, "16")], json!({})),
        &running,
    );
    let unit = Some(ChargingRateUnitType::A);
    // 16 + 32 (the rating of connector 2).
    assert_eq!(
        composite(&smart, &settings, 0, 0, 60, unit, &running).2,
        expect(&[(0, "48")])
    );
    smart.set_local_limit(2, Some(ChargingLimit::amps(Decimal::from(10), 3)));
    assert_eq!(
        composite(&smart, &settings, 0, 0, 60, unit, &running).2,
        expect(&[(0, "26")])
    );
    // Without the rating, connector 0 is limited only where every connector is.
    assert_eq!(
        smart.limit_at(&settings, 0, T0, &running),
        Some(ChargingLimit::amps(Decimal::from(26), 3))
    );
    install(
        &mut smart,
        &settings,
        0,
        profile(
            2,
            "ChargePointMaxProfile",
            0,
            "A",
            &[(0, "20"), (30, "12")],
            json!({}),
        ),
        &running,
    );
    assert_eq!(
        composite(&smart, &settings, 0, 0, 60, unit, &running).2,
        expect(&[(0, "20"), (30, "12")])
    );
    // And each connector is capped by it.
    assert_eq!(
        composite(&smart, &settings, 1, 0, 60, unit, &running).2,
        expect(&[(0, "16"), (30, "12")])
    );
    smart.set_local_limit(0, Some(ChargingLimit::amps(Decimal::from(8), 3)));
    assert_eq!(
        composite(&smart, &settings, 2, 0, 60, unit, &running).2,
        expect(&[(0, "8")])
    );
}

/// Section 7.12: amperes are per phase; W = A x nominal voltage x numberPhases, converted
/// values rounded down to 0.1; mixed units compare as power.
#[test]
fn section_7_12_limits_convert_between_amperes_and_watts() {
    let (settings, running, mut smart) = setup(1, Running::new());
    install(
        &mut smart,
        &settings,
        1,
        profile(
            1,
            "TxDefaultProfile",
            0,
            "W",
            &[(0, "6000"), (60, "11000")],
            json!({}),
        ),
        &running,
    );
    install(
        &mut smart,
        &settings,
        0,
        profile(2, "ChargePointMaxProfile", 0, "A", &[(0, "16")], json!({})),
        &running,
    );
    // 6000 W / (230 V x 3) = 8.69 A; 16 A x 3 x 230 = 11040 W is above 11000 W.
    for (unit, periods) in [
        (ChargingRateUnitType::A, [(0, "8.6"), (60, "15.9")]),
        (ChargingRateUnitType::W, [(0, "6000"), (60, "11000")]),
    ] {
        let got = composite(&smart, &settings, 1, 0, 120, Some(unit), &running);
        assert_eq!(got.2, expect(&periods), "{unit:?}");
    }
    let single_phase = profile(
        3,
        "TxDefaultProfile",
        1,
        "A",
        &[(0, "16")],
        json!({"chargingSchedule": {"chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16, "numberPhases": 1}]}}),
    );
    install(&mut smart, &settings, 1, single_phase, &running);
    let limit = smart.limit_at(&settings, 1, T0, &running).unwrap();
    assert_eq!(limit, ChargingLimit::amps(Decimal::from(16), 1));
    assert_eq!(
        limit.in_unit(ChargingRateUnitType::W, Decimal::from(230)),
        Decimal::from(3680)
    );
}

/// Section 3.13.2: validFrom and validTo bound a profile; the limit changes at both.
#[test]
fn section_3_13_2_validity_bounds_the_profile_and_is_a_boundary() {
    let (settings, running, mut smart) = setup(1, Running::new());
    let window = json!({"validFrom": stamp(at(100)), "validTo": stamp(at(200))});
    for profile in [
        flat_default(1, 0, "6", json!({})),
        flat_default(2, 1, "10", window),
    ] {
        install(&mut smart, &settings, 1, profile, &running);
    }
    assert_eq!(smart.next_change(T0, &running), Some(at(100)));
    assert_eq!(smart.next_change(at(100), &running), Some(at(200)));
    assert_eq!(
        composite(&smart, &settings, 1, 0, 300, None, &running).2,
        expect(&[(0, "6"), (100, "10"), (200, "6")])
    );
}

fn rejection(
    smart: &mut SmartCharging,
    settings: &Settings,
    connector: i32,
    profile: ChargingProfile,
    running: &Running,
) -> Rejection {
    let mut ops = Vec::new();
    let error = smart
        .set(settings, connector, profile, T0, running, &mut ops)
        .unwrap_err();
    assert!(ops.is_empty(), "a refused profile writes nothing");
    error
}

/// Sections 3.13.1, 5.16, 7.8 and 9.4: what SetChargingProfile refuses, and why.
#[test]
fn section_5_16_set_charging_profile_refuses_what_the_spec_forbids() {
    let mut settings = settings(2);
    settings.allowed_units = vec![ChargingRateUnitType::A];
    settings.max_periods = 3;
    let running = charging_on_1();
    let mut smart = SmartCharging::new();
    let simple = |purpose: &str| profile(1, purpose, 0, "A", &[(0, "6")], json!({}));
    let cases: Vec<(i32, ChargingProfile, Rejection)> = vec![
        (
            3,
            simple("TxDefaultProfile"),
            Rejection::UnknownConnector(3),
        ),
        (
            -1,
            simple("TxDefaultProfile"),
            Rejection::UnknownConnector(-1),
        ),
        (
            1,
            simple("ChargePointMaxProfile"),
            Rejection::WrongConnector {
                purpose: ocpp_core::v16::ChargingProfilePurposeType::ChargePointMaxProfile,
                connector: 1,
            },
        ),
        (
            0,
            simple("TxProfile"),
            Rejection::WrongConnector {
                purpose: ocpp_core::v16::ChargingProfilePurposeType::TxProfile,
                connector: 0,
            },
        ),
        (2, simple("TxProfile"), Rejection::NoTransaction(2)),
        (
            1,
            profile(
                1,
                "TxProfile",
                0,
                "A",
                &[(0, "6")],
                json!({"transactionId": 7}),
            ),
            Rejection::WrongTransaction { given: 7 },
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6")],
                json!({"transactionId": 42}),
            ),
            Rejection::UnexpectedTransactionId,
        ),
        (
            1,
            profile(1, "TxDefaultProfile", 11, "A", &[(0, "6")], json!({})),
            Rejection::StackLevel { level: 11, max: 10 },
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6"), (10, "7"), (20, "8"), (30, "9")],
                json!({}),
            ),
            Rejection::PeriodCount { count: 4, max: 3 },
        ),
        (
            1,
            profile(1, "TxDefaultProfile", 0, "A", &[(5, "6")], json!({})),
            Rejection::BadPeriods("the first period must start at 0"),
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6"), (0, "7")],
                json!({}),
            ),
            Rejection::BadPeriods("start periods must rise strictly"),
        ),
        (
            1,
            profile(1, "TxDefaultProfile", 0, "A", &[(0, "-1")], json!({})),
            Rejection::BadPeriods("a limit is negative"),
        ),
        (
            1,
            profile(1, "TxDefaultProfile", 0, "W", &[(0, "6000")], json!({})),
            Rejection::UnitNotAllowed(ChargingRateUnitType::W),
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6")],
                json!({"chargingProfileKind": "Recurring"}),
            ),
            Rejection::IncompleteRecurrence,
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6")],
                json!({"validTo": stamp(at(-1))}),
            ),
            Rejection::NeverValid,
        ),
        (
            1,
            profile(
                1,
                "TxDefaultProfile",
                0,
                "A",
                &[(0, "6")],
                json!({"chargingSchedule": {"duration": -5}}),
            ),
            Rejection::NegativeDuration,
        ),
    ];
    for (connector, profile, expected) in cases {
        let got = rejection(&mut smart, &settings, connector, profile, &running);
        assert_eq!(got, expected);
    }
    assert_eq!(smart.profiles().count(), 0);
}

/// Sections 3.13.2 and 5.16.3: a profile with the same id, or the same stack level and
/// purpose on the connector, replaces the installed one; MaxChargingProfilesInstalled bounds
/// the rest.
#[test]
fn section_5_16_3_replacement_by_id_or_level_and_the_installed_maximum() {
    let mut settings = settings(1);
    settings.max_installed = 2;
    let running = Running::new();
    let mut smart = SmartCharging::new();
    let mut ops = Vec::new();
    let mut set = |smart: &mut SmartCharging, id, level, limit: &str| {
        smart.set(
            &settings,
            1,
            profile(id, "TxDefaultProfile", level, "A", &[(0, limit)], json!({})),
            T0,
            &running,
            &mut ops,
        )
    };
    set(&mut smart, 1, 0, "6").unwrap();
    set(&mut smart, 2, 1, "7").unwrap();
    assert_eq!(set(&mut smart, 3, 2, "8"), Err(Rejection::Full(2)));
    // Same id, other level: replaces 1.
    set(&mut smart, 1, 3, "9").unwrap();
    // Same level and purpose (1), new id: replaces 2.
    set(&mut smart, 4, 1, "5").unwrap();
    let installed: Vec<(i32, i32)> = smart
        .profiles()
        .map(|p| (p.profile.charging_profile_id, p.profile.stack_level))
        .collect();
    assert_eq!(installed, [(1, 3), (4, 1)]);
}

/// Errata 3.37: profiles persist; the records restore the same set, and a TxProfile whose
/// transaction is gone is dropped (section 3.13.1).
#[test]
fn errata_3_37_profiles_are_restored_and_orphaned_tx_profiles_dropped() {
    let (settings, running, mut smart) = setup(1, charging_on_1());
    let mut ops = Vec::new();
    smart
        .set(
            &settings,
            1,
            profile(1, "TxDefaultProfile", 0, "A", &[(0, "6")], json!({})),
            T0,
            &running,
            &mut ops,
        )
        .unwrap();
    smart
        .set(
            &settings,
            1,
            profile(2, "TxProfile", 0, "A", &[(0, "8")], json!({})),
            T0,
            &running,
            &mut ops,
        )
        .unwrap();
    let mut snapshot = Snapshot::new();
    snapshot.apply(ops.iter());
    let restored = SmartCharging::restore(&snapshot).unwrap();
    assert_eq!(
        restored.profiles().collect::<Vec<_>>(),
        smart.profiles().collect::<Vec<_>>()
    );
    let mut restored = restored;
    let mut dropped = Vec::new();
    restored.drop_orphans(&Running::new(), &mut dropped);
    assert_eq!(restored.profiles().count(), 1);
    assert!(matches!(&dropped[..], [StoreOp::Delete { key, .. }] if key == "2"));
    let mut damaged = Snapshot::new();
    damaged.insert(COLLECTION, "5".to_owned(), b"{".to_vec());
    assert!(SmartCharging::restore(&damaged).is_err());
}

// ---- Over the wire ------------------------------------------------------------------------

/// Our Charge Point and a bare endpoint playing the Central System, in virtual time.
struct World {
    now: Now,
    cp: ChargePoint,
    cs: Endpoint,
    answers: Vec<(String, Result<Value, String>)>,
    /// Events with the seconds after T0 they came at.
    events: Vec<(u64, Event)>,
    stored: Snapshot,
    next_transaction_id: i32,
}

fn definitions(connectors: u32, profiles: &[Profile]) -> Definitions {
    let mut builder = Definitions::builder();
    if !profiles.is_empty() {
        builder = builder.profiles(profiles);
    }
    builder
        .initial(StandardKey::NumberOfConnectors, &connectors.to_string())
        .build()
        .unwrap()
}

impl World {
    fn new(connectors: u32) -> World {
        World::restored(definitions(connectors, &[]), Snapshot::new(), |_| {})
    }

    fn restored(
        definitions: Definitions,
        stored: Snapshot,
        configure: impl FnOnce(&mut ChargePointConfig),
    ) -> World {
        let mut config = ChargePointConfig::new(
            BootNotificationRequest::new("VendorX", "Model1"),
            definitions,
        );
        configure(&mut config);
        let cp = ChargePoint::new(config, Box::new(CounterIds::default()), &stored).unwrap();
        let cs = Endpoint::new(
            EndpointConfig::new(),
            Box::new(CounterIds::starting_at(1000)),
        );
        let mut world = World {
            now: Now::new(Monotonic::ZERO, T0),
            cp,
            cs,
            answers: Vec::new(),
            events: Vec::new(),
            stored,
            next_transaction_id: 41,
        };
        world.cs.handle_connected(world.now);
        world.cp.handle_connected(world.now);
        world.settle();
        world
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        Machine::handle_message(&mut self.cs, self.now, &text);
                    }
                    Output::Persist(op) => self.stored.apply([&op]),
                    Output::Event(event) => {
                        let elapsed = self.now.monotonic.elapsed().as_secs();
                        self.events.push((elapsed, event));
                    }
                    Output::Close(close) => panic!("unexpected close {close:?}"),
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(RpcEvent::Call(call)) => {
                        let answer = match call.action.as_str() {
                            "BootNotification" => json!({"status": "Accepted",
                                "currentTime": stamp(self.now.wall), "interval": 3600}),
                            "Heartbeat" => json!({"currentTime": stamp(self.now.wall)}),
                            "StartTransaction" => {
                                self.next_transaction_id += 1;
                                json!({"transactionId": self.next_transaction_id,
                                    "idTagInfo": {"status": "Accepted"}})
                            }
                            _ => json!({}),
                        };
                        self.cs.respond(self.now, &call.id, answer).unwrap();
                    }
                    Output::Event(RpcEvent::Completed {
                        action, outcome, ..
                    }) => self
                        .answers
                        .push((action.to_string(), outcome.map_err(|e| format!("{e:?}")))),
                    Output::Event(RpcEvent::PeerError { error, .. }) => {
                        panic!("the station sent something wrong: {error:?}")
                    }
                    other => panic!("unexpected output of the bare endpoint: {other:?}"),
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn cs_calls(&mut self, action: &str, payload: Value) -> Result<Value, String> {
        let known = ocpp_core::v16::Action::from_name(action).expect("a 1.6 action");
        let _ = self.cs.call(self.now, known, payload).unwrap();
        self.settle();
        let (got, answer) = self.answers.pop().expect("the station answered");
        assert_eq!(got, action);
        answer
    }

    fn status_of(&mut self, action: &str, payload: Value) -> String {
        let answer = self.cs_calls(action, payload).unwrap();
        answer["status"].as_str().unwrap().to_owned()
    }

    /// Runs virtual time to `seconds` after T0, firing every deadline on the way.
    fn run_until(&mut self, seconds: u64) {
        let end = Monotonic::from_elapsed(Duration::from_secs(seconds));
        for _ in 0..100_000 {
            let next = [self.cp.poll_timeout(), self.cs.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(deadline) if deadline <= end => {
                    self.now = self
                        .now
                        .advanced(deadline.saturating_since(self.now.monotonic));
                    self.cp.handle_timeout(self.now);
                    self.cs.handle_timeout(self.now);
                    self.settle();
                }
                _ => {
                    self.now = self.now.advanced(end.saturating_since(self.now.monotonic));
                    return;
                }
            }
        }
        panic!("a deadline does not move");
    }

    /// The application accepts the RemoteStartTransaction with a charging profile the
    /// machine just handed it, and the Central System hears Accepted.
    fn accept_remote_start_with_profile(&mut self) {
        let decision = self
            .events
            .iter()
            .find_map(|(_, e)| match e {
                Event::RemoteStartRequested {
                    decision,
                    charging_profile: Some(_),
                    ..
                } => Some(decision.clone()),
                _ => None,
            })
            .expect("the application decides");
        self.cp
            .reply(
                self.now,
                decision,
                Reply::RemoteStart(RemoteStartStopStatus::Accepted),
            )
            .unwrap();
        self.settle();
        assert_eq!(self.answers.pop().unwrap().1.unwrap()["status"], "Accepted");
    }

    /// SetChargingProfile; the status answered.
    fn set_profile(&mut self, connector: i64, profile: Value) -> String {
        self.status_of("SetChargingProfile", set_request(connector, profile))
    }

    /// GetCompositeSchedule; the answer.
    fn composite(&mut self, connector: i64, duration: i64, unit: Option<&str>) -> Value {
        let mut request = json!({"connectorId": connector, "duration": duration});
        if let Some(unit) = unit {
            request["chargingRateUnit"] = json!(unit);
        }
        self.cs_calls("GetCompositeSchedule", request).unwrap()
    }

    fn start(&mut self, connector: u32, id_tag: &str) {
        self.cp
            .start_transaction(self.now, connector, id_tag, 0, None)
            .unwrap();
        self.settle();
    }

    /// The ChargingLimitChanged events so far, taken: (seconds after T0, connector, amps).
    fn limit_changes(&mut self) -> Vec<(u64, u32, Option<String>)> {
        std::mem::take(&mut self.events)
            .into_iter()
            .filter_map(|(elapsed, event)| match event {
                Event::ChargingLimitChanged { connector, limit } => Some((
                    elapsed,
                    connector,
                    limit.map(|l| format!("{}{:?}", l.limit, l.unit)),
                )),
                _ => None,
            })
            .collect()
    }
}

fn set_request(connector: i64, profile: Value) -> Value {
    json!({"connectorId": connector, "csChargingProfiles": profile})
}

fn wire_profile(id: i64, purpose: &str, level: i64, periods: Value, extra: Value) -> Value {
    let mut value = json!({
        "chargingProfileId": id,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": periods},
    });
    merge(&mut value, extra);
    value
}

/// An Absolute profile of one period, stack level 0, in A.
fn flat(id: i64, purpose: &str, limit: i64) -> Value {
    let periods = json!([{"startPeriod": 0, "limit": limit}]);
    wire_profile(id, purpose, 0, periods, json!({}))
}

fn periods_json(answer: &Value) -> Vec<(i64, String)> {
    answer["chargingSchedule"]["chargingSchedulePeriod"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["startPeriod"].as_i64().unwrap(), p["limit"].to_string()))
        .collect()
}

fn json_expect(periods: &[(i64, &str)]) -> Vec<(i64, String)> {
    periods.iter().map(|(s, l)| (*s, (*l).to_owned())).collect()
}

/// OCTT TC_056_CS: a TxDefaultProfile without a transaction, then its Composite Schedule:
/// Accepted, the connector, the duration, the unit, a start within the deviation, the limit.
#[test]
fn tc_056_cs_tx_default_profile_and_its_composite_schedule() {
    let mut world = World::new(1);
    let profile = wire_profile(
        1,
        "TxDefaultProfile",
        0,
        json!([{"startPeriod": 0, "limit": 6, "numberPhases": 3}]),
        json!({"chargingSchedule": {"duration": 300}}),
    );
    assert_eq!(world.set_profile(1, profile), "Accepted");
    // The limit applies to the connector and, summed with the rating of none other, to 0.
    assert_eq!(
        world.limit_changes(),
        [(0, 0, Some("6A".into())), (0, 1, Some("6A".into()))]
    );
    world.run_until(10);
    let answer = world.composite(1, 300, Some("A"));
    assert_eq!(answer["status"], "Accepted");
    assert_eq!(answer["connectorId"], 1);
    assert_eq!(answer["scheduleStart"], stamp(at(10)));
    assert_eq!(answer["chargingSchedule"]["duration"], 300);
    assert_eq!(answer["chargingSchedule"]["chargingRateUnit"], "A");
    assert!(answer["chargingSchedule"].get("startSchedule").is_none());
    // The profile started when installed (no startSchedule) and ends after 300 s.
    assert_eq!(periods_json(&answer), json_expect(&[(0, "6"), (290, "32")]));
    // Its end is a limit change, found by the machine's own deadline.
    world.run_until(400);
    assert_eq!(world.limit_changes(), [(300, 0, None), (300, 1, None)]);
}

/// OCTT TC_057_CS: a TxProfile for the running transaction, with its id.
#[test]
fn tc_057_cs_tx_profile_for_the_running_transaction() {
    let mut world = World::new(1);
    world.start(1, "TAG");
    let profile = wire_profile(
        2,
        "TxProfile",
        0,
        json!([{"startPeriod": 0, "limit": 6, "numberPhases": 3}]),
        json!({"transactionId": 42}),
    );
    assert_eq!(world.set_profile(1, profile), "Accepted");
    let answer = world.composite(1, 120, Some("W"));
    assert_eq!(answer["chargingSchedule"]["chargingRateUnit"], "W");
    assert_eq!(periods_json(&answer), json_expect(&[(0, "4140")]));
    // The transaction ends: its TxProfile goes, from the store too.
    world
        .cp
        .stop_transaction(world.now, 1, 10, None, None)
        .unwrap();
    world.settle();
    assert_eq!(world.cp.smart_charging().profiles().count(), 0);
    assert!(world.stored.records(COLLECTION).next().is_none());
    assert_eq!(world.cp.charging_limit(world.now, 1), None);
}

/// OCTT TC_058_1_CS: a TxProfile without a transaction is Rejected.
#[test]
fn tc_058_1_cs_tx_profile_without_a_transaction_is_rejected() {
    let mut world = World::new(1);
    let profile = wire_profile(
        3,
        "TxProfile",
        0,
        json!([{"startPeriod": 0, "limit": 6}]),
        json!({"transactionId": 42}),
    );
    assert_eq!(world.set_profile(1, profile), "Rejected");
    assert!(world.stored.records(COLLECTION).next().is_none());
}

/// OCTT TC_058_2_CS: a TxProfile naming another transaction is Rejected.
#[test]
fn tc_058_2_cs_tx_profile_with_a_wrong_transaction_id_is_rejected() {
    let mut world = World::new(1);
    world.start(1, "TAG");
    let profile = wire_profile(
        3,
        "TxProfile",
        0,
        json!([{"startPeriod": 0, "limit": 6}]),
        json!({"transactionId": 999}),
    );
    assert_eq!(world.set_profile(1, profile), "Rejected");
}

/// OCTT TC_082_CS and errata 3.8: a TxDefaultProfile set during a transaction applies to it
/// at once.
#[test]
fn tc_082_cs_tx_default_profile_applies_to_the_ongoing_transaction() {
    let mut world = World::new(1);
    world.start(1, "TAG");
    world.limit_changes();
    let profile = wire_profile(
        4,
        "TxDefaultProfile",
        0,
        json!([{"startPeriod": 0, "limit": 10}, {"startPeriod": 60, "limit": 6}]),
        json!({"chargingSchedule": {"duration": 600}}),
    );
    assert_eq!(world.set_profile(1, profile), "Accepted");
    let answer = world.composite(1, 120, Some("A"));
    assert_eq!(periods_json(&answer), json_expect(&[(0, "10"), (60, "6")]));
    world.run_until(61);
    assert_eq!(
        world.limit_changes(),
        [
            (0, 0, Some("10A".into())),
            (0, 1, Some("10A".into())),
            (60, 0, Some("6A".into())),
            (60, 1, Some("6A".into())),
        ]
    );
}

/// OCTT TC_059_CS and section 5.16.2: the TxProfile of an accepted RemoteStartTransaction is
/// installed when the transaction starts, and followed.
#[test]
fn tc_059_cs_remote_start_with_a_charging_profile() {
    let mut world = World::new(2);
    let profile = wire_profile(
        9,
        "TxProfile",
        0,
        json!([{"startPeriod": 0, "limit": 12}]),
        json!({"chargingProfileKind": "Relative"}),
    );
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::RemoteStartTransaction,
            json!({"idTag": "REMOTE", "chargingProfile": profile}),
        )
        .unwrap();
    world.settle();
    world.accept_remote_start_with_profile();
    assert_eq!(world.cp.smart_charging().profiles().count(), 0);
    world.limit_changes();
    world.start(2, "REMOTE");
    let installed: Vec<u32> = world
        .cp
        .smart_charging()
        .profiles()
        .map(|p| p.connector)
        .collect();
    assert_eq!(installed, [2]);
    assert_eq!(world.limit_changes(), [(0, 2, Some("12A".into()))]);
    let answer = world.composite(2, 60, Some("A"));
    assert_eq!(periods_json(&answer), json_expect(&[(0, "12")]));
}

/// Section 5.16.2 with 9.4.5 (MaxChargingProfilesInstalled): the profile of an accepted
/// RemoteStartTransaction holds a slot until its transaction starts, so that it is never
/// dropped for want of room; a remote start whose profile has no room is Rejected, and so is
/// a SetChargingProfile that would take the held slot.
#[test]
fn section_5_16_2_a_remote_start_profile_holds_its_slot_and_is_refused_without_room() {
    let mut builder = Definitions::builder();
    builder = builder
        .initial(StandardKey::NumberOfConnectors, "2")
        .initial(StandardKey::MaxChargingProfilesInstalled, "2");
    let mut world = World::restored(builder.build().unwrap(), Snapshot::new(), |_| {});
    assert_eq!(
        world.set_profile(0, flat(1, "TxDefaultProfile", 16)),
        "Accepted"
    );
    let tx_profile = |id| {
        wire_profile(
            id,
            "TxProfile",
            0,
            json!([{"startPeriod": 0, "limit": 12}]),
            json!({"chargingProfileKind": "Relative"}),
        )
    };
    let _ = world
        .cs
        .call(
            world.now,
            ocpp_core::v16::Action::RemoteStartTransaction,
            json!({"idTag": "REMOTE", "chargingProfile": tx_profile(9)}),
        )
        .unwrap();
    world.settle();
    world.accept_remote_start_with_profile();
    // One installed, one held: full (another stack level replaces nothing).
    let other = wire_profile(
        2,
        "TxDefaultProfile",
        1,
        json!([{"startPeriod": 0, "limit": 10}]),
        json!({}),
    );
    assert_eq!(world.set_profile(0, other), "Rejected");
    world.events.clear();
    assert_eq!(
        world.status_of(
            "RemoteStartTransaction",
            json!({"idTag": "OTHER", "chargingProfile": tx_profile(10)}),
        ),
        "Rejected"
    );
    assert!(
        !world
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::RemoteStartRequested { .. }))
    );
    world.start(1, "REMOTE");
    let installed: Vec<(i32, u32)> = world
        .cp
        .smart_charging()
        .profiles()
        .map(|p| (p.profile.charging_profile_id, p.connector))
        .collect();
    assert_eq!(installed, [(1, 0), (9, 1)]);
}

/// OCTT TC_060_CS: a RemoteStartTransaction whose profile is no TxProfile is Rejected, and the
/// application is not asked.
#[test]
fn tc_060_cs_remote_start_with_a_non_tx_profile_is_rejected() {
    let mut world = World::new(1);
    let profile = flat(9, "TxDefaultProfile", 12);
    assert_eq!(
        world.status_of(
            "RemoteStartTransaction",
            json!({"connectorId": 1, "idTag": "REMOTE", "chargingProfile": profile}),
        ),
        "Rejected"
    );
    assert!(
        !world
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::RemoteStartRequested { .. }))
    );
}

/// Errata 3.39: an unknown connector is a PropertyConstraintViolation; GetCompositeSchedule
/// of an unknown connector is Rejected (section 5.7).
#[test]
fn errata_3_39_an_unknown_connector_is_a_call_error_and_composite_rejected() {
    let mut world = World::new(1);
    let profile = flat(1, "TxDefaultProfile", 6);
    let answer = world.cs_calls("SetChargingProfile", set_request(5, profile));
    assert!(answer.unwrap_err().contains("PropertyConstraintViolation"));
    let answer = world.composite(5, 60, None);
    assert_eq!(answer, json!({"status": "Rejected"}));
}

/// Errata 3.24 and 3.38: an invalid chargingRateUnit (or other enumeration value) is a
/// PropertyConstraintViolation; nothing is installed.
#[test]
fn errata_3_24_and_3_38_invalid_enumerations_are_property_constraint_violations() {
    let mut world = World::new(1);
    // A Central System that sends what its schemas forbid.
    let mut lax = EndpointConfig::new();
    lax.validate_sent = false;
    world.cs = Endpoint::new(lax, Box::new(CounterIds::starting_at(2000)));
    world.cs.handle_connected(world.now);
    let answer = world.cs_calls(
        "GetCompositeSchedule",
        json!({"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"}),
    );
    assert!(answer.unwrap_err().contains("PropertyConstraintViolation"));
    let mut profile = flat(1, "TxDefaultProfile", 6);
    profile["chargingSchedule"]["chargingRateUnit"] = json!("kW");
    let answer = world.cs_calls("SetChargingProfile", set_request(1, profile));
    assert!(answer.unwrap_err().contains("PropertyConstraintViolation"));
    assert_eq!(world.cp.smart_charging().profiles().count(), 0);
}

/// Errata 3.39: without the Smart Charging feature profile its requests are NotSupported.
#[test]
fn errata_3_39_without_the_feature_profile_smart_charging_is_not_supported() {
    let mut world = World::restored(definitions(1, &[Profile::Core]), Snapshot::new(), |_| {});
    for (action, payload) in [
        (
            "SetChargingProfile",
            set_request(1, flat(1, "TxDefaultProfile", 6)),
        ),
        ("ClearChargingProfile", json!({})),
        (
            "GetCompositeSchedule",
            json!({"connectorId": 1, "duration": 60}),
        ),
    ] {
        let answer = world.cs_calls(action, payload);
        assert!(answer.unwrap_err().contains("NotSupported"), "{action}");
    }
}

/// Errata 3.37 over the machine: profiles survive a restart and their limit is announced at
/// the first input; ClearChargingProfile lifts it.
#[test]
fn errata_3_37_profiles_survive_a_restart_and_clear_lifts_the_limit() {
    let mut world = World::new(1);
    let profile = flat(1, "ChargePointMaxProfile", 20);
    assert_eq!(world.set_profile(0, profile), "Accepted");
    let stored = world.stored.clone();
    let mut world = World::restored(definitions(1, &[]), stored, |_| {});
    assert_eq!(
        world.limit_changes(),
        [(0, 0, Some("20A".into())), (0, 1, Some("20A".into()))]
    );
    assert_eq!(
        world.status_of(
            "ClearChargingProfile",
            json!({"chargingProfilePurpose": "ChargePointMaxProfile"})
        ),
        "Accepted"
    );
    assert_eq!(world.limit_changes(), [(0, 0, None), (0, 1, None)]);
    assert_eq!(
        world.status_of("ClearChargingProfile", json!({})),
        "Unknown"
    );
}

/// Section 3.13.1 and 7.9: a Relative TxDefaultProfile of connector 0 runs from each
/// transaction's start; without one it holds its first period. Its limit changes are events,
/// at the transaction's start, its periods and its stop.
#[test]
fn section_7_9_relative_defaults_follow_each_transaction_and_change_as_events() {
    let mut world = World::new(2);
    let periods = json!([{"startPeriod": 0, "limit": 10}, {"startPeriod": 60, "limit": 16}]);
    let profile = wire_profile(
        1,
        "TxDefaultProfile",
        0,
        periods,
        json!({"chargingProfileKind": "Relative"}),
    );
    assert_eq!(world.set_profile(0, profile), "Accepted");
    let amps = |a: &str| Some(format!("{a}A"));
    assert_eq!(
        world.limit_changes(),
        [(0, 0, amps("20")), (0, 1, amps("10")), (0, 2, amps("10"))]
    );
    // No transaction, no schedule running: nothing changes with time.
    world.run_until(30);
    assert_eq!(world.limit_changes(), []);
    world.start(1, "TAG");
    world.run_until(100);
    assert_eq!(
        world.limit_changes(),
        [(90, 0, amps("26")), (90, 1, amps("16"))]
    );
    world
        .cp
        .stop_transaction(world.now, 1, 100, None, None)
        .unwrap();
    world.settle();
    assert_eq!(
        world.limit_changes(),
        [(100, 0, amps("20")), (100, 1, amps("10"))]
    );
}

/// Section 3.13.1 and 3.13.6 across a restart: a TxProfile lives as long as its transaction.
/// Ended as PowerLoss at the first input, it goes; kept running, it is still followed.
#[test]
fn section_3_13_1_a_tx_profile_lives_as_long_as_its_transaction_across_a_restart() {
    for keep in [false, true] {
        let mut world = World::new(1);
        world.start(1, "TAG");
        assert_eq!(world.set_profile(1, flat(5, "TxProfile", 9)), "Accepted");
        let stored = world.stored.clone();
        let world = World::restored(definitions(1, &[]), stored, |config| {
            if keep {
                config.interrupted_transactions = InterruptedTransactions::Continue;
            }
        });
        let installed = world.cp.smart_charging().profiles().count();
        let records = world.stored.records(COLLECTION).count();
        assert_eq!((installed, records), if keep { (1, 1) } else { (0, 0) });
        let limit = world
            .cp
            .charging_limit(world.now, 1)
            .map(|l| l.limit.to_string());
        assert_eq!(limit, keep.then(|| "9".to_owned()));
    }
}

/// Section 5.7's "local limits": the application's limit caps the connector and is reported.
#[test]
fn section_5_7_local_limits_cap_the_connector() {
    let mut world = World::new(1);
    world
        .cp
        .set_local_limit(
            world.now,
            1,
            Some(ChargingLimit::amps(Decimal::from(13), 3)),
        )
        .unwrap();
    world.settle();
    assert_eq!(
        world.limit_changes(),
        [(0, 0, Some("13A".into())), (0, 1, Some("13A".into()))]
    );
    let answer = world.composite(1, 60, None);
    assert_eq!(periods_json(&answer), json_expect(&[(0, "13")]));
    assert!(world.cp.set_local_limit(world.now, 2, None).is_err());
}

// ---- Property ------------------------------------------------------------------------------

fn arb_profile(id: i32) -> impl Strategy<Value = (u32, ChargingProfile)> {
    let purposes = prop_oneof![
        1 => Just("ChargePointMaxProfile"),
        3 => Just("TxDefaultProfile"),
        1 => Just("TxProfile"),
    ];
    let kinds = prop_oneof![Just("Absolute"), Just("Relative"), Just("Recurring")];
    (
        purposes,
        kinds,
        0..3i32,
        proptest::collection::vec((1..40i64, 0..400i64, 1..4i32), 1..4),
        proptest::option::of(1..200i64),
        proptest::option::of((-50..150i64, 1..150i64)),
        -100..100i64,
        any::<bool>(),
        0..3u32,
    )
        .prop_map(
            move |(purpose, kind, level, steps, duration, validity, start, watts, connector)| {
                let mut start_period = 0;
                let periods: Vec<Value> = steps
                    .iter()
                    .map(|(gap, limit, phases)| {
                        let period = json!({"startPeriod": start_period,
                            "limit": if watts { limit * 100 } else { *limit },
                            "numberPhases": phases});
                        start_period += gap;
                        period
                    })
                    .collect();
                let connector = match purpose {
                    "ChargePointMaxProfile" => 0,
                    "TxProfile" => 1,
                    _ => connector,
                };
                let mut value = json!({
                    "chargingProfileId": id,
                    "stackLevel": level,
                    "chargingProfilePurpose": purpose,
                    "chargingProfileKind": kind,
                    "chargingSchedule": {
                        "chargingRateUnit": if watts { "W" } else { "A" },
                        "chargingSchedulePeriod": periods,
                        "startSchedule": stamp(at(start)),
                    },
                });
                if let Some(duration) = duration {
                    value["chargingSchedule"]["duration"] = json!(duration);
                }
                if kind == "Recurring" {
                    value["recurrencyKind"] = json!("Daily");
                }
                if let Some((from, length)) = validity {
                    value["validFrom"] = json!(stamp(at(from)));
                    value["validTo"] = json!(stamp(at(from + length).max(at(1))));
                }
                (connector, serde_json::from_value(value).unwrap())
            },
        )
}

/// A brute-force model of sections 3.13.1 to 3.13.3 for the property test: every rule applied
/// directly at one instant, with loops where the module computes boundaries. Only Daily
/// recurrence (what `arb_profile` makes).
struct Model<'a> {
    profiles: Vec<&'a InstalledProfile>,
    local: &'a BTreeMap<u32, ChargingLimit>,
    running: &'a Running,
    /// Where Relative schedules without a transaction start.
    start: OffsetDateTime,
}

impl Model<'_> {
    fn power(limit: &ChargingLimit) -> Decimal {
        match limit.unit {
            ChargingRateUnitType::W => limit.limit,
            ChargingRateUnitType::A => Decimal(
                limit.limit.get()
                    * Decimal::from(230).get()
                    * Decimal::from(i64::from(limit.number_phases)).get(),
            ),
        }
    }

    fn min(limits: impl IntoIterator<Item = Option<ChargingLimit>>) -> Option<ChargingLimit> {
        let mut best: Option<ChargingLimit> = None;
        for limit in limits.into_iter().flatten() {
            if best.is_none_or(|b| Model::power(&limit) < Model::power(&b)) {
                best = Some(limit);
            }
        }
        best
    }

    fn profile_limit(
        p: &InstalledProfile,
        t: OffsetDateTime,
        begin_relative: OffsetDateTime,
    ) -> Option<ChargingLimit> {
        let profile = &p.profile;
        if profile.valid_from.is_some_and(|from| t < from)
            || profile.valid_to.is_some_and(|to| t >= to)
        {
            return None;
        }
        let schedule = &profile.charging_schedule;
        let (begin, length) = match profile.charging_profile_kind {
            ChargingProfileKindType::Absolute => (schedule.start_schedule?, schedule.duration),
            ChargingProfileKindType::Relative => (begin_relative, schedule.duration),
            ChargingProfileKindType::Recurring => {
                let day = time::Duration::seconds(86_400);
                let mut begin = schedule.start_schedule?;
                if t < begin {
                    return None;
                }
                while begin + day <= t {
                    begin += day;
                }
                (begin, Some(schedule.duration.unwrap_or(86_400).min(86_400)))
            }
        };
        if t < begin {
            return None;
        }
        let offset = (t - begin).whole_seconds();
        if length.is_some_and(|d| offset >= i64::from(d)) {
            return None;
        }
        let mut found = None;
        for period in &schedule.charging_schedule_period {
            if i64::from(period.start_period) <= offset {
                found = Some(period);
            }
        }
        found.map(|period| ChargingLimit {
            unit: schedule.charging_rate_unit,
            limit: period.limit,
            number_phases: period.number_phases.unwrap_or(3) as u32,
        })
    }

    /// The highest stack level with a limit at `t`.
    fn prevailing(
        set: &[&InstalledProfile],
        t: OffsetDateTime,
        begin_relative: OffsetDateTime,
    ) -> Option<ChargingLimit> {
        let mut best: Option<(i32, ChargingLimit)> = None;
        for p in set {
            if let Some(limit) = Model::profile_limit(p, t, begin_relative)
                && best.is_none_or(|(level, _)| p.profile.stack_level > level)
            {
                best = Some((p.profile.stack_level, limit));
            }
        }
        best.map(|(_, limit)| limit)
    }

    fn of(&self, purpose: ChargingProfilePurposeType, connector: u32) -> Vec<&InstalledProfile> {
        self.profiles
            .iter()
            .copied()
            .filter(|p| p.connector == connector && p.profile.charging_profile_purpose == purpose)
            .collect()
    }

    fn connector_limit(&self, connector: u32, t: OffsetDateTime) -> Option<ChargingLimit> {
        let started = self.running.get(&connector).map(|r| r.started_at);
        let begin = started.unwrap_or(self.start);
        let tx = self.of(ChargingProfilePurposeType::TxProfile, connector);
        let valid = |p: &&InstalledProfile| {
            p.profile.valid_from.is_none_or(|from| from <= t)
                && p.profile.valid_to.is_none_or(|to| t < to)
        };
        let purpose_limit = if started.is_some() && tx.iter().any(valid) {
            Model::prevailing(&tx, t, begin)
        } else {
            let mut defaults = self.of(ChargingProfilePurposeType::TxDefaultProfile, connector);
            let levels: Vec<i32> = defaults.iter().map(|p| p.profile.stack_level).collect();
            for p in self.of(ChargingProfilePurposeType::TxDefaultProfile, 0) {
                if connector != 0 && !levels.contains(&p.profile.stack_level) {
                    defaults.push(p);
                }
            }
            Model::prevailing(&defaults, t, begin)
        };
        Model::min([
            purpose_limit,
            self.local.get(&connector).copied(),
            Some(ChargingLimit::amps(Decimal::from(32), 3)),
        ])
    }

    fn limit(&self, connector: u32, t: OffsetDateTime) -> ChargingLimit {
        let max = Model::prevailing(
            &self.of(ChargingProfilePurposeType::ChargePointMaxProfile, 0),
            t,
            self.start,
        );
        let station = [max, self.local.get(&0).copied()];
        let own = if connector == 0 {
            let terms: Vec<ChargingLimit> = (1..=2)
                .map(|c| self.connector_limit(c, t).unwrap())
                .collect();
            let amps = terms.iter().all(|l| {
                l.unit == ChargingRateUnitType::A && l.number_phases == terms[0].number_phases
            });
            if amps {
                let total = Decimal(terms.iter().map(|l| l.limit.get()).sum());
                ChargingLimit::amps(total, terms[0].number_phases)
            } else {
                let total = Decimal(terms.iter().map(|l| Model::power(l).get()).sum());
                let phases = terms.iter().map(|l| l.number_phases).max().unwrap();
                ChargingLimit::watts(total, phases)
            }
        } else {
            self.connector_limit(connector, t).unwrap()
        };
        Model::min(station.into_iter().chain([Some(own)])).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        // The same cases on every run: the tests are deterministic.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0CC9_1600),
        ..ProptestConfig::default()
    })]

    /// The Composite Schedule (built from boundaries) equals the limit evaluated at every
    /// second of its duration, for every connector including 0.
    #[test]
    fn the_composite_schedule_matches_a_second_by_second_evaluation(
        profiles in proptest::collection::vec((0..6i32).prop_flat_map(arb_profile), 0..6),
        from in -30..30i64,
        local in proptest::option::of(1..30i64),
    ) {
        let (settings, running, mut smart) = setup(2, charging_on_1());
        let mut ops = Vec::new();
        for (index, (connector, profile)) in profiles.into_iter().enumerate() {
            let mut profile = profile;
            profile.charging_profile_id = index as i32;
            // Refusals (clashing levels, expiry) are part of the game.
            let _ = smart.set(&settings, connector as i32, profile, T0, &running, &mut ops);
        }
        let mut locals = BTreeMap::new();
        if let Some(local) = local {
            locals.insert(2, ChargingLimit::amps(Decimal::from(local), 1));
        }
        for (connector, limit) in &locals {
            smart.set_local_limit(*connector, Some(*limit));
        }
        let model = Model {
            profiles: smart.profiles().collect(),
            local: &locals,
            running: &running,
            start: at(from),
        };
        let duration = 500;
        for connector in 0..=2 {
            let (start, schedule) = smart
                .composite(&settings, connector, at(from), duration, Some(ChargingRateUnitType::A), &running)
                .unwrap();
            let periods = &schedule.charging_schedule_period;
            prop_assert_eq!(periods[0].start_period, 0);
            for second in 0..i64::from(duration) {
                let instant = start + time::Duration::seconds(second);
                let expected = model
                    .limit(connector, instant)
                    .in_unit(ChargingRateUnitType::A, settings.nominal_voltage);
                let pointwise = smart
                    .composite_limit_at(&settings, connector, start, instant, &running)
                    .in_unit(ChargingRateUnitType::A, settings.nominal_voltage);
                prop_assert_eq!(pointwise, expected, "pointwise, connector {} second {}", connector, second);
                let period = periods
                    .iter()
                    .rev()
                    .find(|p| i64::from(p.start_period) <= second)
                    .unwrap();
                prop_assert_eq!(period.limit, expected, "connector {} second {}", connector, second);
            }
            // Adjacent periods differ: the schedule is as short as it can be.
            for pair in periods.windows(2) {
                prop_assert!(pair[0].limit != pair[1].limit || pair[0].number_phases != pair[1].number_phases);
            }
        }
    }
}

/// Extreme but schema-valid profiles: any integers, dates from year 1 to 9999, limits up to
/// 10^27.
fn arb_extreme_profile() -> impl Strategy<Value = (i32, ChargingProfile)> {
    let year = prop_oneof![1i32..=9999, 2000i32..=2100, 9930i32..=9999];
    let instant = (year, 1u8..=12, 1u8..=28, 0u8..24)
        .prop_map(|(y, mo, d, h)| json!(format!("{y:04}-{mo:02}-{d:02}T{h:02}:00:00Z")));
    let limit = prop_oneof![(0..100i64).prop_map(|l| json!(l)), Just(json!(1e27))];
    (
        (-1..3i32, any::<i32>(), -1..12i32),
        (0..3usize, 0..3usize, proptest::option::of(0..2usize)),
        proptest::collection::vec((0..=i32::MAX, limit), 1..4),
        (proptest::option::of(any::<i32>()), proptest::option::of(instant.clone())),
        (proptest::option::of(instant.clone()), proptest::option::of(instant)),
    )
        .prop_map(|((connector, id, level), (purpose, kind, recurrency), periods, (duration, start), (from, to))| {
            // Rising starts from 0, as the checks require (the rest of the range is theirs).
            let mut periods = periods;
            periods[0].0 = 0;
            periods.sort_by_key(|(start, _)| *start);
            periods.dedup_by_key(|(start, _)| *start);
            let periods: Vec<Value> = periods
                .into_iter()
                .map(|(start, limit)| json!({"startPeriod": start.max(0), "limit": limit}))
                .collect();
            let purpose = ["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"][purpose];
            let kind = ["Absolute", "Relative", "Recurring"][kind];
            let mut value = json!({
                "chargingProfileId": id,
                "stackLevel": level,
                "chargingProfilePurpose": purpose,
                "chargingProfileKind": kind,
                "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": periods},
            });
            if let Some(recurrency) = recurrency {
                let recurrency = ["Daily", "Weekly"][recurrency];
                value["recurrencyKind"] = json!(recurrency);
            }
            if let Some(duration) = duration {
                value["chargingSchedule"]["duration"] = json!(duration);
            }
            if let Some(start) = start {
                value["chargingSchedule"]["startSchedule"] = start;
            }
            if let Some(from) = from {
                value["validFrom"] = from;
            }
            if let Some(to) = to {
                value["validTo"] = to;
            }
            (connector, serde_json::from_value(value).unwrap())
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x0CC9_1601),
        ..ProptestConfig::default()
    })]

    /// No profile, however extreme, makes the checks, the composite, the limit or the next
    /// change panic or loop.
    #[test]
    fn extreme_profiles_never_panic(
        profiles in proptest::collection::vec(arb_extreme_profile(), 1..5),
        duration in prop_oneof![0..1000i32, Just(i32::MAX)],
    ) {
        let (settings, running, mut smart) = setup(2, charging_on_1());
        let mut ops = Vec::new();
        for (connector, profile) in profiles {
            let _ = smart.set(&settings, connector, profile, T0, &running, &mut ops);
        }
        for connector in 0..=2 {
            let composite = smart.composite(&settings, connector, T0, duration, None, &running);
            prop_assert!(composite.is_some());
            let _ = smart.limit_at(&settings, connector, T0, &running);
        }
        if let Some(next) = smart.next_change(T0, &running) {
            prop_assert!(next > T0);
        }
    }
}
