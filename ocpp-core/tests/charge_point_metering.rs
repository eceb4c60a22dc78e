//! The metering rules of the 1.6 Charge Point (`charge_point::metering`), tested through the
//! public API in virtual time. Tests are named after the OCTT 1.6 Charge Point test case
//! (specs/octt) or the specification section they come from.

use std::time::Duration;

use ocpp_core::charge_point::TransactionKey;
use ocpp_core::charge_point::config::{Configuration, Definitions, StandardKey};
use ocpp_core::charge_point::metering::{COLLECTION, Metering, Reading, Sample};
use ocpp_core::persist::{Snapshot, StoreOp};
use ocpp_core::primitives::Decimal;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{
    ConfigurationStatus, Location, Measurand, MeterValue, Phase, ReadingContext, UnitOfMeasure,
    ValueFormat,
};
use time::OffsetDateTime;
use time::macros::datetime;

const TX: TransactionKey = TransactionKey(7);

fn config(settings: &[(&str, &str)]) -> Configuration {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "2")
        .build()
        .unwrap();
    // Both intervals off unless a test turns them on, as in the OCTT's "Before" states.
    let off = [
        ("MeterValueSampleInterval", "0"),
        ("ClockAlignedDataInterval", "0"),
    ];
    let config = configured(Configuration::new(definitions), &off);
    configured(config, settings)
}

fn configured(mut config: Configuration, settings: &[(&str, &str)]) -> Configuration {
    for (key, value) in settings {
        assert_eq!(
            config.change(key, value).status(),
            ConfigurationStatus::Accepted,
            "{key}={value}"
        );
    }
    config
}

fn at(wall: OffsetDateTime) -> Now {
    Now::new(Monotonic::from_millis(1_000_000), wall)
}

fn energy(wh: i64) -> Reading {
    Reading::raw(Measurand::EnergyActiveImportRegister, wh).unit(UnitOfMeasure::Wh)
}

/// Polls at every deadline up to `until`, as the state machine does, returning what came out
/// with the instant it came out at.
fn run(
    metering: &mut Metering,
    config: &Configuration,
    from: Now,
    until: Now,
    ops: &mut Vec<StoreOp>,
) -> Vec<(Monotonic, Sample)> {
    let mut out = Vec::new();
    let mut now = from;
    metering.poll(now, config, ops);
    while let Some(deadline) = metering.next_deadline(config) {
        if deadline > until.monotonic {
            break;
        }
        now = now.advanced(deadline - now.monotonic);
        for sample in metering.poll(now, config, ops) {
            out.push((now.monotonic, sample));
        }
    }
    out
}

fn contexts(value: &MeterValue) -> Vec<ReadingContext> {
    value
        .sampled_value
        .iter()
        .map(|v| v.context.unwrap())
        .collect()
}

fn measurands(value: &MeterValue) -> Vec<Measurand> {
    value
        .sampled_value
        .iter()
        .map(|v| v.measurand.unwrap())
        .collect()
}

#[test]
fn tc_070_cs_sampled_every_interval_from_the_transaction_start() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        (
            "MeterValuesSampledData",
            "Energy.Active.Import.Register,Power.Active.Import",
        ),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(
        1,
        vec![
            energy(1000),
            Reading::raw(Measurand::PowerActiveImport, Decimal::new(72, 1)),
        ],
    );
    let start = at(datetime!(2024-05-01 10:07:13.250 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let out = run(
        &mut metering,
        &config,
        start,
        start.advanced(Duration::from_secs(35)),
        &mut ops,
    );
    let times: Vec<Duration> = out.iter().map(|(t, _)| *t - start.monotonic).collect();
    assert_eq!(
        times,
        [10, 20, 30].map(Duration::from_secs),
        "three samples at 10/20/30 s"
    );
    let stamps: Vec<OffsetDateTime> = out.iter().map(|(_, s)| s.meter_value.timestamp).collect();
    assert_eq!(stamps[1] - stamps[0], time::Duration::seconds(10));
    assert_eq!(stamps[2] - stamps[1], time::Duration::seconds(10));
    for (_, sample) in &out {
        assert_eq!(sample.connector, 1);
        assert_eq!(sample.transaction, Some(TX));
        assert_eq!(
            contexts(&sample.meter_value),
            [ReadingContext::SamplePeriodic; 2]
        );
        assert_eq!(
            measurands(&sample.meter_value),
            [
                Measurand::EnergyActiveImportRegister,
                Measurand::PowerActiveImport
            ]
        );
        assert_eq!(sample.meter_value.sampled_value[1].value, "7.2");
    }
}

#[test]
fn tc_070_cs_empty_sampled_data_means_energy_active_import_register() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        ("MeterValuesSampledData", ""),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![Reading::raw(Measurand::Voltage, 230), energy(5)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
    assert_eq!(samples.len(), 1);
    assert_eq!(
        measurands(&samples[0].meter_value),
        [Measurand::EnergyActiveImportRegister]
    );
}

#[test]
fn spec_3_16_1_interval_zero_samples_nothing() {
    let config = config(&[("MeterValueSampleInterval", "0")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    assert_eq!(metering.next_deadline(&config), None);
    assert!(
        metering
            .poll(start.advanced(Duration::from_secs(3600)), &config, &mut ops)
            .is_empty()
    );
}

#[test]
fn spec_3_16_1_no_sampled_values_without_a_transaction() {
    let config = config(&[("MeterValueSampleInterval", "10")]);
    let mut metering = Metering::new();
    metering.set_readings(1, vec![energy(1)]);
    assert_eq!(metering.next_deadline(&config), None);
}

#[test]
fn spec_3_16_1_an_interval_change_takes_effect_at_the_next_sample() {
    let mut config = config(&[("MeterValueSampleInterval", "10")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let t = |s| start.advanced(Duration::from_secs(s));
    assert_eq!(metering.poll(t(10), &config, &mut ops).len(), 1);
    assert_eq!(metering.poll(t(20), &config, &mut ops).len(), 1);
    config = configured(config, &[("MeterValueSampleInterval", "30")]);
    // The grid runs from the transaction's start: the first multiple of 30 s after 20 s.
    assert_eq!(metering.next_deadline(&config), Some(t(30).monotonic));
    assert!(metering.poll(t(29), &config, &mut ops).is_empty());
    assert_eq!(metering.poll(t(30), &config, &mut ops).len(), 1);
    assert_eq!(metering.next_deadline(&config), Some(t(60).monotonic));
    config = configured(config, &[("MeterValueSampleInterval", "0")]);
    assert_eq!(metering.next_deadline(&config), None);
    config = configured(config, &[("MeterValueSampleInterval", "5")]);
    assert_eq!(metering.next_deadline(&config), Some(t(35).monotonic));
}

#[test]
fn spec_3_16_1_a_late_poll_does_not_make_up_missed_samples() {
    let config = config(&[("MeterValueSampleInterval", "10")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let late = start.advanced(Duration::from_secs(47));
    assert_eq!(metering.poll(late, &config, &mut ops).len(), 1);
    assert_eq!(
        metering.next_deadline(&config),
        Some(start.advanced(Duration::from_secs(50)).monotonic)
    );
}

#[test]
fn spec_3_16_1_sampled_values_do_not_follow_the_wall_clock() {
    let config = config(&[("MeterValueSampleInterval", "10")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let mut now = start.advanced(Duration::from_secs(10));
    now.wall -= time::Duration::hours(2);
    let samples = metering.poll(now, &config, &mut ops);
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].meter_value.timestamp, now.wall);
}

#[test]
fn tc_071_cs_clock_aligned_values_from_an_odd_start_time() {
    let config = config(&[
        ("ClockAlignedDataInterval", "900"),
        ("MeterValuesAlignedData", "Energy.Active.Import.Register"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(90_000).location(Location::Inlet)]);
    metering.set_readings(1, vec![energy(1_000)]);
    let start = at(datetime!(2024-05-01 10:07:13 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let out = run(
        &mut metering,
        &config,
        start,
        start.advanced(Duration::from_secs(40 * 60)),
        &mut ops,
    );
    let seen: Vec<(OffsetDateTime, u32, Option<TransactionKey>)> = out
        .iter()
        .map(|(_, s)| (s.meter_value.timestamp, s.connector, s.transaction))
        .collect();
    assert_eq!(
        seen,
        [
            (datetime!(2024-05-01 10:15:00 UTC), 0, None),
            (datetime!(2024-05-01 10:15:00 UTC), 1, Some(TX)),
            (datetime!(2024-05-01 10:30:00 UTC), 0, None),
            (datetime!(2024-05-01 10:30:00 UTC), 1, Some(TX)),
            (datetime!(2024-05-01 10:45:00 UTC), 0, None),
            (datetime!(2024-05-01 10:45:00 UTC), 1, Some(TX)),
        ]
    );
    // Each sample is taken when the wall clock reaches its boundary.
    assert_eq!(out[0].0 - start.monotonic, Duration::from_secs(7 * 60 + 47));
    for (_, sample) in &out {
        assert_eq!(contexts(&sample.meter_value), [ReadingContext::SampleClock]);
    }
    assert_eq!(
        out[0].1.meter_value.sampled_value[0].location,
        Some(Location::Inlet)
    );
}

#[test]
fn tc_071_cs_clock_aligned_values_without_a_transaction() {
    let config = config(&[("ClockAlignedDataInterval", "20")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(2, vec![energy(3)]);
    let start = at(datetime!(2024-05-01 10:00:05 UTC));
    let out = run(
        &mut metering,
        &config,
        start,
        start.advanced(Duration::from_secs(60)),
        &mut ops,
    );
    let stamps: Vec<_> = out
        .iter()
        .map(|(_, s)| (s.connector, s.transaction, s.meter_value.timestamp.second()))
        .collect();
    // "in case of a 20s interval, the seconds should be of value; 0, 20, 40"
    assert_eq!(stamps, [(2, None, 20), (2, None, 40), (2, None, 0)]);
    assert!(ops.is_empty(), "nothing to persist without a transaction");
}

#[test]
fn spec_3_16_2_clock_alignment_across_midnight() {
    let config = config(&[("ClockAlignedDataInterval", "25200")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 20:00:00 UTC));
    let out = run(
        &mut metering,
        &config,
        start,
        start.advanced(Duration::from_secs(12 * 3600)),
        &mut ops,
    );
    let stamps: Vec<_> = out.iter().map(|(_, s)| s.meter_value.timestamp).collect();
    // 25200 s does not divide a day: the intervals start again at midnight.
    assert_eq!(
        stamps,
        [
            datetime!(2024-05-01 21:00:00 UTC),
            datetime!(2024-05-02 00:00:00 UTC),
            datetime!(2024-05-02 07:00:00 UTC),
        ]
    );
}

#[test]
fn spec_3_16_2_interval_zero_means_no_clock_aligned_values() {
    let config = config(&[("ClockAlignedDataInterval", "0")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    metering.poll(at(datetime!(2024-05-01 10:00:00 UTC)), &config, &mut ops);
    assert_eq!(metering.next_deadline(&config), None);
}

#[test]
fn spec_3_16_2_a_clock_set_back_replans_from_the_new_time() {
    let config = config(&[("ClockAlignedDataInterval", "900")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:14:00 UTC));
    metering.poll(start, &config, &mut ops);
    assert_eq!(
        metering.next_deadline(&config),
        Some(start.advanced(Duration::from_secs(60)).monotonic)
    );
    // Ten seconds later the clock is corrected by an hour back.
    let mut now = start.advanced(Duration::from_secs(10));
    now.wall = datetime!(2024-05-01 09:14:10 UTC);
    metering.clock_changed(now);
    assert_eq!(
        metering.next_deadline(&config),
        Some(now.advanced(Duration::from_secs(50)).monotonic)
    );
    // The old deadline (10:15 on the old clock) passes without a sample.
    let old_deadline = start.advanced(Duration::from_secs(60));
    let mut stale = now.advanced(Duration::from_secs(50));
    assert_eq!(stale.monotonic, old_deadline.monotonic);
    let samples = metering.poll(stale, &config, &mut ops);
    assert_eq!(samples.len(), 1);
    assert_eq!(
        samples[0].meter_value.timestamp,
        datetime!(2024-05-01 09:15:00 UTC)
    );
    stale = stale.advanced(Duration::from_secs(1));
    assert!(metering.poll(stale, &config, &mut ops).is_empty());
}

#[test]
fn spec_3_16_2_an_unannounced_clock_step_back_is_noticed_at_the_poll() {
    let config = config(&[("ClockAlignedDataInterval", "900")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:14:00 UTC));
    metering.poll(start, &config, &mut ops);
    // At the monotonic deadline the wall clock reads 10:05 instead of 10:15.
    let mut now = start.advanced(Duration::from_secs(60));
    now.wall = datetime!(2024-05-01 10:05:00 UTC);
    assert!(metering.poll(now, &config, &mut ops).is_empty());
    let deadline = metering.next_deadline(&config).unwrap();
    assert_eq!(deadline - now.monotonic, Duration::from_secs(600));
    let samples = metering.poll(now.advanced(Duration::from_secs(600)), &config, &mut ops);
    assert_eq!(
        samples[0].meter_value.timestamp,
        datetime!(2024-05-01 10:15:00 UTC)
    );
}

#[test]
fn spec_3_16_2_a_clock_jump_forward_over_a_boundary_takes_no_sample() {
    let config = config(&[("ClockAlignedDataInterval", "900")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:14:00 UTC));
    metering.poll(start, &config, &mut ops);
    // One second later the clock is set to 10:20 (a ClockSynchronized correction).
    let mut now = start.advanced(Duration::from_secs(1));
    now.wall = datetime!(2024-05-01 10:20:00 UTC);
    assert!(metering.poll(now, &config, &mut ops).is_empty());
    let deadline = metering.next_deadline(&config).unwrap();
    assert_eq!(deadline - now.monotonic, Duration::from_secs(600));
    let samples = metering.poll(now.advanced(Duration::from_secs(600)), &config, &mut ops);
    assert_eq!(
        samples[0].meter_value.timestamp,
        datetime!(2024-05-01 10:30:00 UTC)
    );
}

#[test]
fn spec_3_16_2_timer_jitter_still_stamps_the_boundary() {
    let config = config(&[("ClockAlignedDataInterval", "60")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(0, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:30 UTC));
    metering.poll(start, &config, &mut ops);
    // The wall clock lags the monotonic one by 200 ms at the deadline.
    let mut now = start.advanced(Duration::from_secs(30));
    now.wall -= time::Duration::milliseconds(200);
    let samples = metering.poll(now, &config, &mut ops);
    assert_eq!(
        samples[0].meter_value.timestamp,
        datetime!(2024-05-01 10:01:00 UTC)
    );
    // And it is not taken twice when the wall clock reaches it.
    assert!(
        metering
            .poll(now.advanced(Duration::from_millis(300)), &config, &mut ops)
            .is_empty()
    );
}

#[test]
fn errata_3_16_clock_aligned_values_carry_the_transaction_running_when_taken() {
    let config = config(&[("ClockAlignedDataInterval", "900")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.poll(start, &config, &mut ops);
    metering.transaction_started(start, 1, TransactionKey(1), &config, &mut ops);
    let mid = start.advanced(Duration::from_secs(300));
    metering.transaction_stopped(mid, 1, &config, &mut ops);
    metering.transaction_started(mid, 1, TransactionKey(2), &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(900)), &config, &mut ops);
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].transaction, Some(TransactionKey(2)));
}

#[test]
fn spec_3_16_3_every_phase_and_location_is_reported() {
    let config = config(&[
        ("ClockAlignedDataInterval", "300"),
        ("MeterValuesAlignedData", "Current.Import"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    let phases = |location| {
        [Phase::L1, Phase::L2, Phase::L3]
            .map(|p| {
                Reading::raw(Measurand::CurrentImport, 16)
                    .phase(p)
                    .location(location)
                    .unit(UnitOfMeasure::A)
            })
            .to_vec()
    };
    metering.set_readings(0, phases(Location::Inlet));
    metering.set_readings(1, phases(Location::Outlet));
    metering.set_readings(2, phases(Location::Outlet));
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.poll(start, &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(300)), &config, &mut ops);
    assert_eq!(samples.len(), 3);
    for (sample, (connector, location)) in samples.iter().zip([
        (0, Location::Inlet),
        (1, Location::Outlet),
        (2, Location::Outlet),
    ]) {
        assert_eq!(sample.connector, connector);
        let values = &sample.meter_value.sampled_value;
        assert_eq!(
            values.iter().map(|v| v.phase.unwrap()).collect::<Vec<_>>(),
            [Phase::L1, Phase::L2, Phase::L3]
        );
        assert!(values.iter().all(|v| v.location == Some(location)));
        assert!(values.iter().all(|v| v.unit == Some(UnitOfMeasure::A)));
    }
}

#[test]
fn spec_9_1_17_a_measurand_with_a_phase_selects_that_phase_once() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        ("MeterValuesSampledData", "Voltage.L2,Voltage"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(
        1,
        [Phase::L1N, Phase::L2N, Phase::L2]
            .map(|p| Reading::raw(Measurand::Voltage, 230).phase(p))
            .to_vec(),
    );
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
    let phases: Vec<Phase> = samples[0]
        .meter_value
        .sampled_value
        .iter()
        .map(|v| v.phase.unwrap())
        .collect();
    assert_eq!(phases, [Phase::L2, Phase::L1N, Phase::L2N]);
}

#[test]
fn spec_3_16_4_measurands_the_hardware_lacks_are_skipped() {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "1")
        .supported_measurands(&[
            Measurand::EnergyActiveImportRegister,
            Measurand::SoC,
            Measurand::Temperature,
        ])
        .build()
        .unwrap();
    let config = configured(
        Configuration::new(definitions),
        &[
            ("MeterValueSampleInterval", "10"),
            (
                "MeterValuesSampledData",
                "SoC,Energy.Active.Import.Register",
            ),
            ("ClockAlignedDataInterval", "900"),
            ("MeterValuesAlignedData", "SoC"),
        ],
    );
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    // No EV reports its state of charge.
    metering.set_readings(1, vec![energy(10)]);
    let start = at(datetime!(2024-05-01 10:14:50 UTC));
    metering.poll(start, &config, &mut ops);
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
    // Only the periodic sample: the clock-aligned one would have had no values at all.
    assert_eq!(samples.len(), 1);
    assert_eq!(
        contexts(&samples[0].meter_value),
        [ReadingContext::SamplePeriodic]
    );
    assert_eq!(
        measurands(&samples[0].meter_value),
        [Measurand::EnergyActiveImportRegister]
    );
}

#[test]
fn spec_7_49_signed_readings_carry_their_format() {
    let config = config(&[("MeterValueSampleInterval", "10")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(
        1,
        vec![Reading::signed(
            Measurand::EnergyActiveImportRegister,
            "0A1B2C",
        )],
    );
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let samples = metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
    let value = &samples[0].meter_value.sampled_value[0];
    assert_eq!(value.value, "0A1B2C");
    assert_eq!(value.format, Some(ValueFormat::SignedData));
}

#[test]
fn spec_4_10_transaction_data_collects_begin_samples_clock_and_end() {
    let config = config(&[
        ("MeterValueSampleInterval", "600"),
        ("ClockAlignedDataInterval", "900"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
        ("StopTxnAlignedData", "Energy.Active.Import.Register"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(100)]);
    let start = at(datetime!(2024-05-01 10:07:13 UTC));
    metering.poll(start, &config, &mut ops);
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let stop = start.advanced(Duration::from_secs(25 * 60));
    run(&mut metering, &config, start, stop, &mut ops);
    metering.set_readings(1, vec![energy(900)]);
    let data = metering
        .transaction_stopped(stop, 1, &config, &mut ops)
        .unwrap();
    let seen: Vec<(OffsetDateTime, ReadingContext)> = data
        .iter()
        .map(|v| (v.timestamp, v.sampled_value[0].context.unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                datetime!(2024-05-01 10:07:13 UTC),
                ReadingContext::TransactionBegin
            ),
            (
                datetime!(2024-05-01 10:15:00 UTC),
                ReadingContext::SampleClock
            ),
            (
                datetime!(2024-05-01 10:17:13 UTC),
                ReadingContext::SamplePeriodic
            ),
            (
                datetime!(2024-05-01 10:27:13 UTC),
                ReadingContext::SamplePeriodic
            ),
            (
                datetime!(2024-05-01 10:30:00 UTC),
                ReadingContext::SampleClock
            ),
            (
                datetime!(2024-05-01 10:32:13 UTC),
                ReadingContext::TransactionEnd
            ),
        ]
    );
    assert_eq!(data.last().unwrap().sampled_value[0].value, "900");
    // Everything persisted for the transaction is deleted with it.
    let mut snapshot = Snapshot::new();
    snapshot.apply(&ops);
    assert_eq!(snapshot.records(COLLECTION).count(), 0);
}

#[test]
fn spec_3_16_5_empty_stop_txn_keys_mean_no_transaction_data() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        ("StopTxnSampledData", ""),
        ("StopTxnAlignedData", ""),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let stop = start.advanced(Duration::from_secs(60));
    run(&mut metering, &config, start, stop, &mut ops);
    assert_eq!(
        metering.transaction_stopped(stop, 1, &config, &mut ops),
        None
    );
}

#[test]
fn errata_3_91_stop_transaction_max_meter_values_keeps_begin_end_and_spreads_the_rest() {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "1")
        .with_key(StandardKey::StopTransactionMaxMeterValues)
        .initial(StandardKey::StopTransactionMaxMeterValues, "6")
        .build()
        .unwrap();
    let config = configured(
        Configuration::new(definitions),
        &[
            ("MeterValueSampleInterval", "10"),
            ("StopTxnSampledData", "Energy.Active.Import.Register"),
        ],
    );
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(0)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    for n in 1..=12 {
        metering.set_readings(1, vec![energy(n)]);
        metering.poll(
            start.advanced(Duration::from_secs(10 * n as u64)),
            &config,
            &mut ops,
        );
    }
    metering.set_readings(1, vec![energy(99)]);
    let data = metering
        .transaction_stopped(
            start.advanced(Duration::from_secs(125)),
            1,
            &config,
            &mut ops,
        )
        .unwrap();
    let values: Vec<&str> = data
        .iter()
        .map(|v| v.sampled_value[0].value.as_str())
        .collect();
    assert_eq!(values, ["0", "4", "8", "12", "99"]);
    assert!(data.len() <= 6);
}

#[test]
fn errata_3_91_without_the_key_the_default_bound_applies() {
    let config = config(&[
        ("MeterValueSampleInterval", "1"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(0)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let stop = start.advanced(Duration::from_secs(1000));
    run(&mut metering, &config, start, stop, &mut ops);
    let data = metering
        .transaction_stopped(stop, 1, &config, &mut ops)
        .unwrap();
    let max = ocpp_core::charge_point::metering::DEFAULT_STOP_TRANSACTION_MAX_METER_VALUES;
    assert!(data.len() <= max as usize, "{}", data.len());
    assert!(data.len() > max as usize / 2);
}

#[test]
fn transaction_data_survives_a_restart() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        ("StopTxnSampledData", "Energy.Active.Import.Register"),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(1, vec![energy(1)]);
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
    let mut snapshot = Snapshot::new();
    snapshot.apply(&ops);

    // Power comes back; the monotonic clock starts again.
    let boot = Now::new(Monotonic::ZERO, datetime!(2024-05-01 11:00:00 UTC));
    let mut restored = Metering::restore(&snapshot, boot).unwrap();
    assert_eq!(restored.transaction_on(1), Some(TX));
    assert_eq!(
        restored.next_deadline(&config),
        Some(Monotonic::from_millis(10_000))
    );
    restored.set_readings(1, vec![energy(2)]);
    let mut ops = Vec::new();
    let data = restored
        .transaction_stopped(boot, 1, &config, &mut ops)
        .unwrap();
    let contexts: Vec<_> = data
        .iter()
        .map(|v| v.sampled_value[0].context.unwrap())
        .collect();
    assert_eq!(
        contexts,
        [
            ReadingContext::TransactionBegin,
            ReadingContext::SamplePeriodic,
            ReadingContext::TransactionEnd
        ]
    );
    snapshot.apply(&ops);
    assert_eq!(snapshot.records(COLLECTION).count(), 0);
}

#[test]
fn restore_refuses_unknown_versions_and_orphans_with_the_record_named() {
    let boot = Now::new(Monotonic::ZERO, datetime!(2024-05-01 11:00:00 UTC));
    let mut snapshot = Snapshot::new();
    snapshot.insert(
        COLLECTION,
        "00000000000000000007".into(),
        br#"{"v":9,"connector":1,"offered":0,"stride":1}"#.to_vec(),
    );
    let error = Metering::restore(&snapshot, boot).unwrap_err().to_string();
    assert!(
        error.contains("cp16.metering/00000000000000000007"),
        "{error}"
    );
    assert!(error.contains("version 9"), "{error}");

    let mut snapshot = Snapshot::new();
    snapshot.insert(
        COLLECTION,
        "00000000000000000007/0000000001".into(),
        br#"{"v":1,"meterValue":{"timestamp":"2024-05-01T10:00:00Z","sampledValue":[{"value":"1"}]}}"#
            .to_vec(),
    );
    let error = Metering::restore(&snapshot, boot).unwrap_err().to_string();
    assert!(error.contains("no header record"), "{error}");

    let mut snapshot = Snapshot::new();
    snapshot.insert(COLLECTION, "00000000000000000007".into(), b"{".to_vec());
    assert!(Metering::restore(&snapshot, boot).is_err());
}

#[test]
fn errata_3_46_triggered_meter_values_use_the_sampled_measurands() {
    let config = config(&[("MeterValuesSampledData", "Power.Active.Import")]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(
        1,
        vec![
            energy(1),
            Reading::raw(Measurand::PowerActiveImport, 11_000),
        ],
    );
    let now = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(now, 1, TX, &config, &mut ops);
    let sample = metering.triggered(now, 1, &config).unwrap();
    assert_eq!(sample.transaction, Some(TX));
    assert_eq!(contexts(&sample.meter_value), [ReadingContext::Trigger]);
    assert_eq!(
        measurands(&sample.meter_value),
        [Measurand::PowerActiveImport]
    );
    let request = sample.into_request(Some(42));
    assert_eq!(request.connector_id, 1);
    assert_eq!(request.transaction_id, Some(42));
    assert!(metering.triggered(now, 2, &config).is_none());
}

#[test]
fn spec_4_7_samples_validate_against_the_meter_values_schema() {
    let config = config(&[
        ("MeterValueSampleInterval", "10"),
        (
            "MeterValuesSampledData",
            "Energy.Active.Import.Register,Voltage",
        ),
    ]);
    let mut metering = Metering::new();
    let mut ops = Vec::new();
    metering.set_readings(
        1,
        vec![
            energy(1),
            Reading::raw(Measurand::Voltage, Decimal::new(2301, 1)).phase(Phase::L1N),
        ],
    );
    let start = at(datetime!(2024-05-01 10:00:00 UTC));
    metering.transaction_started(start, 1, TX, &config, &mut ops);
    let sample = metering
        .poll(start.advanced(Duration::from_secs(10)), &config, &mut ops)
        .remove(0);
    let payload = serde_json::to_value(sample.into_request(Some(3))).unwrap();
    let outcome = ocpp_core::validate::validate(
        ocpp_core::Version::V16,
        "MeterValues",
        ocpp_core::PayloadKind::Request,
        &payload,
    );
    assert!(outcome.is_ok(), "{outcome:?}");
}
