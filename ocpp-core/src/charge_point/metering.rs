//! When the 1.6 Charge Point takes meter values, and the `MeterValue` records it builds from
//! them: sampled values during a transaction (1.6 section 3.16.1), clock-aligned values
//! (3.16.2), and the `transactionData` of StopTransaction (4.10, errata 3.16.6 and 3.91).
//!
//! The specification owns the timing rules and the application owns the meter. [`Metering`]
//! keeps the rules: it knows the configuration keys, the running transactions and the clock,
//! tells its caller (the Charge Point state machine) when it next has work
//! ([`Metering::next_deadline`]), and at that instant turns the application's latest readings
//! into [`Sample`]s for MeterValues.req ([`Metering::poll`]). Like the rest of the crate it is
//! pure: time comes in as [`Now`], durable state leaves as [`StoreOp`]s.
//!
//! ```
//! use std::time::Duration;
//! use ocpp_core::charge_point::TransactionKey;
//! use ocpp_core::charge_point::config::{Configuration, Definitions};
//! use ocpp_core::charge_point::metering::{Metering, Reading};
//! use ocpp_core::time::{Monotonic, Now};
//! use ocpp_core::v16::{Measurand, ReadingContext};
//! use time::macros::datetime;
//!
//! let mut config = Configuration::new(Definitions::standard());
//! config.change("MeterValueSampleInterval", "10");
//! let mut metering = Metering::new();
//! let mut ops = Vec::new();
//! let start = Now::new(Monotonic::ZERO, datetime!(2024-05-01 10:07:13 UTC));
//!
//! // The application keeps the readings current; the stack decides when they are sampled.
//! metering.set_readings(1, vec![Reading::raw(Measurand::EnergyActiveImportRegister, 1250)]);
//! metering.transaction_started(start, 1, TransactionKey(0), &config, &mut ops);
//! assert_eq!(metering.next_deadline(&config), Some(Monotonic::from_millis(10_000)));
//!
//! let samples = metering.poll(start.advanced(Duration::from_secs(10)), &config, &mut ops);
//! assert_eq!(samples.len(), 1);
//! let value = &samples[0].meter_value.sampled_value[0];
//! assert_eq!(value.context, Some(ReadingContext::SamplePeriodic));
//! assert_eq!(value.value, "1250");
//! ```
//!
//! # The caller's obligations
//!
//! - **Readings are pushed ahead of time.** The application calls
//!   [`Metering::set_readings`] (through the state machine) with the current value of every
//!   measurand its hardware measures on a connector (0 is the main meter), as often as it wants
//!   the values fresh, and at least before a transaction starts or stops. A sample takes
//!   whatever was last set. Asking the application for readings when a sample is due would
//!   need a round trip through the event queue, during which the deadline, the context and the
//!   transaction the sample belongs to could all change; with pushed readings every sample is
//!   built inside the one input that is due, and the state machine stays a function of its
//!   inputs.
//! - **Poll at the deadline.** When [`Metering::next_deadline`] has come, call
//!   [`Metering::poll`]; calling it more often is harmless. Ask for the deadline again after
//!   every input: configuration changes move it (an interval change takes effect at the next
//!   sample).
//! - **Persist the ops** given back in `ops` with the other ops of the same input, before
//!   sending anything: they hold the `transactionData` collected so far.
//! - **The wall clock in `now`** is the one the Charge Point stamps its messages with (the
//!   caller's clock corrected by the Central System's time, if the state machine does so).
//!
//! # Decisions, and the text behind them
//!
//! - **Sampled values run from the start of the transaction.** 3.16.1: "Samples are acquired
//!   and transmitted periodically at this interval from the start of the charging transaction";
//!   "A value of "0" (numeric zero), by convention, is to be interpreted to mean that no sampled
//!   data should be transmitted." The n-th sample is due at start + n × MeterValueSampleInterval
//!   on the monotonic clock, so a wall clock change does not disturb it. After an interval
//!   change the next sample is the first instant of the new grid after the previous sample;
//!   an instant already past is sampled at once. Missed instants (a late poll) are not made up:
//!   a meter cannot be read in the past. The values carry context `Sample.Periodic` (7.35) and
//!   the measurands of MeterValuesSampledData; their timestamp is the moment of the poll.
//! - **Clock-aligned values are aligned to UTC midnight.** 3.16.2: "the set of evenly spaced
//!   meter data aggregation intervals per day, starting at 00:00:00 (midnight)". The
//!   specification names no time zone for it, and section 3.14 says "it is strongly recommended
//!   to use UTC for all time values"; the core knows no local time zone nor daylight saving
//!   (a 23 or 25 hour day is not evenly divisible). So the boundaries are midnight UTC plus
//!   multiples of ClockAlignedDataInterval, starting again at every midnight when the interval
//!   does not divide a day (25200 s gives 00:00, 07:00, 14:00, 21:00). Values carry context
//!   `Sample.Clock` and the measurands of MeterValuesAlignedData, for connector 0 and every
//!   connector that has readings, whether or not a transaction runs on it (3.16.3 reports all
//!   locations; errata 3.15: "the Charge Point SHALL send MeterValues at the given
//!   interval(s)"). The timestamp is the boundary itself: 4.7 says the values of one
//!   `MeterValue` are "all captured at the same point in time", and the OCTT (TC_071_CS)
//!   checks that "the MeterValue.timestamp should contain a Clock-aligned value".
//! - **The transaction of a clock-aligned value** is the one running on the connector when the
//!   value is taken (errata 3.16: "The transactionId is always the ID of the Transaction that is
//!   ongoing (on that connector) at the moment the meter value sample is taken ... If the values
//!   are taken from the main energy meter, it is advised NOT to add a transactionId"), so
//!   connector 0 never has one.
//! - **The wall clock decides the boundary, the monotonic clock the wake-up.** The deadline is
//!   the next boundary translated to the monotonic clock through the latest `Now` seen. At the
//!   poll the wall clock is checked again: a boundary is taken when the wall clock has reached
//!   it (within half a second of timer jitter) and the monotonic clock agrees (within two
//!   seconds). A wall clock that went back re-plans from the new time (boundaries already
//!   reported are reported again once the clock reaches them); one that jumped forward over a
//!   boundary (a ClockSynchronized correction) takes no sample for the jump, since no time
//!   passed, and waits for the next boundary. [`Metering::clock_changed`] does the same at once.
//! - **Measurands the hardware does not measure are skipped.** 3.16.4 makes the Charge Point
//!   refuse a configuration naming measurands it does not support (the configuration registry
//!   does); a measurand configured but absent from the readings of a connector (SoC without an
//!   EV that reports it) is left out of that connector's values, and a connector with none of
//!   the configured measurands sends nothing.
//! - **Every phase and location is reported.** 3.16.3: "all possible locations and/or phases
//!   SHALL be reported when configured". `Voltage` selects every `Voltage` reading of the
//!   connector; `Voltage.L1` only the L1 ones (9.1.17). A reading selected twice is reported
//!   once.
//! - **An empty MeterValuesSampledData or MeterValuesAlignedData means
//!   Energy.Active.Import.Register** for MeterValues.req: the interval asks for values (errata
//!   3.15), a MeterValue holds at least one, and the OCTT (TC_070_CS, TC_071_CS) says "When the
//!   value for MeterValuesSampledData is empty the measurand Energy.Active.Import.Register is
//!   assumed as default", the default of `SampledValue.measurand` (7.43).
//! - **transactionData** collects, during the transaction, the StopTxnSampledData measurands at
//!   every sample instant (context `Sample.Periodic`, 3.16.1: "every MeterValueSampleInterval
//!   seconds from the start of the Transaction") and the StopTxnAlignedData measurands at every
//!   clock boundary (`Sample.Clock`, 3.16.2). It begins with a `Transaction.Begin` value and
//!   ends with a `Transaction.End` value of every measurand of both keys (errata 3.16.6: "the
//!   Charge Point is RECOMMENDED to always provide the start (Transaction.Begin) and stop
//!   (Transaction.End) values of every measurand configured"). When both keys are empty there
//!   is no `transactionData` at all (3.16.5: "the Charge Point SHALL not put meter values in a
//!   StopTransaction.req PDU").
//! - **StopTransactionMaxMeterValues bounds the `MeterValue` elements** of `transactionData`
//!   (errata 3.91: "The maximum amount of meter values that this Charge Point can report in the
//!   transactionData field"). "The Start and Stop meter values SHALL never be dropped", so two
//!   places are kept for them and the rest hold intermediate values. When they are full, every
//!   other intermediate value is dropped, the 1st, 3rd, 5th... ("It is better to drop
//!   intermediate messages first (1st message, 3th message, 5th message etc.)"), and from then
//!   on only every second new value is kept, so the kept values stay evenly spread over the
//!   whole transaction at half the resolution. Without the key the stack bounds the collection
//!   at [`DEFAULT_STOP_TRANSACTION_MAX_METER_VALUES`]: the errata's reason for the key is that
//!   a long transaction "might collect more meter values than it can store or send".
//!
//! # Persistence
//!
//! A running transaction's `transactionData` is the only state that must survive a restart:
//! the StopTransaction sent after a power loss (or at the end of a transaction that outlives a
//! reboot) must still carry it. It lives in the collection [`COLLECTION`]
//! (`"cp16.metering"`): a header record per transaction under its [`TransactionKey`] (20
//! digits) with the connector and the thinning state, and one record per kept `MeterValue`
//! under `<key>/<sequence>` (10 digits; sequence 0 is the `Transaction.Begin` value). Every
//! record is JSON with a format version `v` (today 1). [`Metering::restore`] refuses records of
//! an unknown version, undecodable ones, values without their header, and two transactions on
//! one connector, with a [`RestoreError`] naming the record. The sampling schedules are not
//! stored: the monotonic clock starts again at a restart, so a restored transaction samples
//! from the restart on, and clock-aligned sampling resumes at the next boundary.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, Time, UtcOffset};

use super::RestoreError;
use super::TransactionKey;
use super::config::{Configuration, SampledMeasurand};
use crate::persist::{Snapshot, StoreOp};
use crate::primitives::Decimal;
use crate::time::{Monotonic, Now};
use crate::v16::{
    Location, Measurand, MeterValue, MeterValuesRequest, Phase, ReadingContext, SampledValue,
    UnitOfMeasure, ValueFormat,
};

/// The store collection of collected `transactionData`.
pub const COLLECTION: &str = "cp16.metering";

/// The format version of the records in [`COLLECTION`].
pub const RECORD_VERSION: u32 = 1;

/// The bound on `transactionData` when StopTransactionMaxMeterValues is not defined.
pub const DEFAULT_STOP_TRANSACTION_MAX_METER_VALUES: u32 = 100;

/// How early (wall clock) a clock-aligned boundary may be taken: timer jitter.
const BOUNDARY_TOLERANCE: Duration = Duration::from_millis(500);

/// How far the wall clock may run ahead of the monotonic one before it counts as a step.
const CLOCK_STEP: Duration = Duration::from_secs(2);

const SECONDS_PER_DAY: i64 = 86_400;

/// The value of a [`Reading`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadingValue {
    /// A number (`SampledValue.format` Raw, the default).
    Raw(Decimal),
    /// Signed meter data as the meter gives it, hex encoded (`format` SignedData, 7.49).
    Signed(String),
}

/// One value the hardware measures on a connector: what [`SampledValue`]s are made of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    /// What is measured.
    pub measurand: Measurand,
    /// The phase, when the value is of one phase (absent: an overall value, 7.43).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Where it is measured (absent: Outlet, 7.43).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The unit (absent: Wh, 7.43).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitOfMeasure>,
    /// The value.
    pub value: ReadingValue,
}

impl Reading {
    /// A numeric reading of `measurand` with no phase, location or unit.
    pub fn raw(measurand: Measurand, value: impl Into<Decimal>) -> Reading {
        Reading {
            measurand,
            phase: None,
            location: None,
            unit: None,
            value: ReadingValue::Raw(value.into()),
        }
    }

    /// A signed reading of `measurand` (hex encoded signed data).
    pub fn signed(measurand: Measurand, data: impl Into<String>) -> Reading {
        Reading {
            measurand,
            phase: None,
            location: None,
            unit: None,
            value: ReadingValue::Signed(data.into()),
        }
    }

    /// The same reading of one phase.
    pub fn phase(mut self, phase: Phase) -> Reading {
        self.phase = Some(phase);
        self
    }

    /// The same reading at `location`.
    pub fn location(mut self, location: Location) -> Reading {
        self.location = Some(location);
        self
    }

    /// The same reading in `unit`.
    pub fn unit(mut self, unit: UnitOfMeasure) -> Reading {
        self.unit = Some(unit);
        self
    }

    fn sampled_value(&self, context: ReadingContext) -> SampledValue {
        let (value, format) = match &self.value {
            ReadingValue::Raw(number) => (number.to_string(), None),
            ReadingValue::Signed(data) => (data.clone(), Some(ValueFormat::SignedData)),
        };
        SampledValue {
            value,
            context: Some(context),
            format,
            measurand: Some(self.measurand),
            phase: self.phase,
            location: self.location,
            unit: self.unit,
        }
    }
}

/// A meter value to send in a MeterValues.req.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The connector it was taken on (0: the main meter).
    pub connector: u32,
    /// The transaction running on the connector when it was taken: the MeterValues.req is
    /// then transaction-related (its `transactionId` is that transaction's) and queued durably.
    pub transaction: Option<TransactionKey>,
    /// The values.
    pub meter_value: MeterValue,
}

impl Sample {
    /// The MeterValues.req carrying this sample, with the Central System's `transaction_id`
    /// of [`Sample::transaction`] (the caller knows it; `-1` when its StartTransaction was
    /// given up, errata 3.18).
    pub fn into_request(self, transaction_id: Option<i32>) -> MeterValuesRequest {
        MeterValuesRequest {
            connector_id: i32::try_from(self.connector).unwrap_or(i32::MAX),
            transaction_id,
            meter_value: vec![self.meter_value],
        }
    }
}

/// The metering schedules of a Charge Point and the `transactionData` of its running
/// transactions. See the [module documentation](self).
#[derive(Debug, Clone, Default)]
pub struct Metering {
    readings: BTreeMap<u32, Vec<Reading>>,
    running: BTreeMap<u32, Running>,
    /// The latest `Now` seen by [`Metering::poll`]: how the wall clock maps to the monotonic one.
    anchor: Option<Now>,
    /// The last clock-aligned boundary sampled.
    last_boundary: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
struct Running {
    key: TransactionKey,
    /// Where the sample grid starts.
    started: Monotonic,
    /// The last periodic sample.
    last_sample: Option<Monotonic>,
    data: TransactionData,
}

/// The collected `transactionData` of one transaction.
#[derive(Debug, Clone)]
struct TransactionData {
    begin: Option<MeterValue>,
    /// Kept intermediate values with their sequence number (1-based among those offered).
    values: Vec<(u64, MeterValue)>,
    /// Intermediate values offered so far.
    offered: u64,
    /// Only values whose sequence number is a multiple of this are kept.
    stride: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct HeaderRecord {
    v: u32,
    connector: u32,
    offered: u64,
    stride: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValueRecord {
    v: u32,
    meter_value: MeterValue,
}

fn header_key(key: TransactionKey) -> String {
    format!("{:020}", key.0)
}

fn value_key(key: TransactionKey, seq: u64) -> String {
    format!("{:020}/{seq:010}", key.0)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Integers, strings, enums and timestamps only: serialisation cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

impl Running {
    fn next_sample(&self, interval: Duration) -> Monotonic {
        let since = self
            .last_sample
            .map_or(0, |last| last.saturating_since(self.started).as_nanos());
        let n = since / interval.as_nanos() + 1;
        let offset = interval.as_nanos().saturating_mul(n);
        self.started + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
    }

    fn save_header(&self, connector: u32, ops: &mut Vec<StoreOp>) {
        ops.push(StoreOp::Put {
            collection: COLLECTION,
            key: header_key(self.key),
            value: encode(&HeaderRecord {
                v: RECORD_VERSION,
                connector,
                offered: self.data.offered,
                stride: self.data.stride,
            }),
        });
    }

    /// Offers an intermediate value to `transactionData`, bounded by `max` (errata 3.91).
    fn collect(&mut self, connector: u32, value: MeterValue, max: u32, ops: &mut Vec<StoreOp>) {
        let data = &mut self.data;
        data.offered += 1;
        let seq = data.offered;
        // Two places are kept for the Transaction.Begin and Transaction.End values.
        let capacity = usize::try_from(max.saturating_sub(2)).unwrap_or(usize::MAX);
        let mut keep = capacity > 0 && seq.is_multiple_of(data.stride);
        if keep {
            while data.values.len() >= capacity {
                // Drop the 1st, 3rd, 5th... and keep every second value from now on.
                let mut index = 0;
                data.values.retain(|(dropped, _)| {
                    index += 1;
                    let drop = index % 2 == 1;
                    if drop {
                        ops.push(StoreOp::Delete {
                            collection: COLLECTION,
                            key: value_key(self.key, *dropped),
                        });
                    }
                    !drop
                });
                data.stride = data.stride.saturating_mul(2);
            }
            keep = seq.is_multiple_of(data.stride);
        }
        if keep {
            ops.push(StoreOp::Put {
                collection: COLLECTION,
                key: value_key(self.key, seq),
                value: encode(&ValueRecord {
                    v: RECORD_VERSION,
                    meter_value: value.clone(),
                }),
            });
            data.values.push((seq, value));
        }
        self.save_header(connector, ops);
    }

    fn forget(&self, ops: &mut Vec<StoreOp>) {
        if self.data.begin.is_some() {
            ops.push(StoreOp::Delete {
                collection: COLLECTION,
                key: value_key(self.key, 0),
            });
        }
        for (seq, _) in &self.data.values {
            ops.push(StoreOp::Delete {
                collection: COLLECTION,
                key: value_key(self.key, *seq),
            });
        }
        ops.push(StoreOp::Delete {
            collection: COLLECTION,
            key: header_key(self.key),
        });
    }
}

/// The [`SampledValue`]s of `selection` among `readings`: every reading of a selected measurand
/// (of the selected phase, if one is given), in the order of the selection, each at most once.
fn select(
    readings: &[Reading],
    selection: &[SampledMeasurand],
    context: ReadingContext,
) -> Vec<SampledValue> {
    let mut chosen: Vec<&Reading> = Vec::new();
    for wanted in selection {
        for reading in readings {
            let matches = reading.measurand == wanted.measurand
                && wanted
                    .phase
                    .is_none_or(|phase| reading.phase == Some(phase));
            let seen = chosen.iter().any(|r| {
                r.measurand == reading.measurand
                    && r.phase == reading.phase
                    && r.location == reading.location
            });
            if matches && !seen {
                chosen.push(reading);
            }
        }
    }
    chosen
        .into_iter()
        .map(|r| r.sampled_value(context))
        .collect()
}

/// MeterValuesSampledData / MeterValuesAlignedData, Energy.Active.Import.Register when empty.
fn or_default_register(mut selection: Vec<SampledMeasurand>) -> Vec<SampledMeasurand> {
    if selection.is_empty() {
        selection.push(SampledMeasurand {
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
        });
    }
    selection
}

/// Every measurand of StopTxnSampledData and StopTxnAlignedData: what Transaction.Begin and
/// Transaction.End report.
fn stop_txn_measurands(config: &Configuration) -> Vec<SampledMeasurand> {
    let mut all = config.stop_txn_sampled_data();
    for item in config.stop_txn_aligned_data() {
        if !all.contains(&item) {
            all.push(item);
        }
    }
    all
}

fn meter_value(timestamp: OffsetDateTime, sampled_value: Vec<SampledValue>) -> Option<MeterValue> {
    (!sampled_value.is_empty()).then_some(MeterValue {
        timestamp,
        sampled_value,
    })
}

fn max_meter_values(config: &Configuration) -> u32 {
    config
        .stop_transaction_max_meter_values()
        .unwrap_or(DEFAULT_STOP_TRANSACTION_MAX_METER_VALUES)
}

/// Midnight UTC of the day of `t`.
fn day_start(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(UtcOffset::UTC).replace_time(Time::MIDNIGHT)
}

/// The latest clock-aligned boundary at or before `t`.
fn boundary_at_or_before(t: OffsetDateTime, interval: Duration) -> OffsetDateTime {
    let start = day_start(t);
    let into = (t - start).whole_nanoseconds();
    let step = i128::try_from(interval.as_nanos()).unwrap_or(i128::MAX);
    let nanos = into / step * step;
    start + time::Duration::nanoseconds(i64::try_from(nanos).unwrap_or(0))
}

/// The first clock-aligned boundary after `t`.
fn boundary_after(t: OffsetDateTime, interval: Duration) -> OffsetDateTime {
    let start = day_start(t);
    let next_day = start + time::Duration::seconds(SECONDS_PER_DAY);
    let into = (t - start).whole_nanoseconds();
    let step = i128::try_from(interval.as_nanos()).unwrap_or(i128::MAX);
    let nanos = (into / step).saturating_add(1).saturating_mul(step);
    if nanos >= next_day.unix_timestamp_nanos() - start.unix_timestamp_nanos() {
        next_day
    } else {
        start + time::Duration::nanoseconds(i64::try_from(nanos).unwrap_or(0))
    }
}

/// `later - earlier` as a non-negative duration (zero if `later` is earlier).
fn wall_since(later: OffsetDateTime, earlier: OffsetDateTime) -> Duration {
    Duration::try_from(later - earlier).unwrap_or_default()
}

impl Metering {
    /// No readings, no transactions: a first start.
    pub fn new() -> Metering {
        Metering::default()
    }

    /// The `transactionData` collected for the transactions that were running when the
    /// Charge Point went down, read from the [`COLLECTION`] records of `snapshot`. Their sample
    /// schedules start again at `now`.
    ///
    /// The state machine reconciles them with its own record of transactions: it calls
    /// [`Metering::transaction_stopped`] for each it stops at start-up, and
    /// [`Metering::forget`] for any it does not know.
    pub fn restore(snapshot: &Snapshot, now: Now) -> Result<Metering, RestoreError> {
        let bad = |key: &str, reason: String| RestoreError::BadRecord {
            collection: COLLECTION,
            key: key.to_owned(),
            reason,
        };
        let mut by_key: BTreeMap<u64, (u32, Running)> = BTreeMap::new();
        let mut values: Vec<(&str, u64, u64, MeterValue)> = Vec::new();
        for (key, bytes) in snapshot.records(COLLECTION) {
            match key.split_once('/') {
                None => {
                    let number: u64 = key
                        .parse()
                        .map_err(|_| bad(key, "not a transaction key".into()))?;
                    let record: HeaderRecord =
                        serde_json::from_slice(bytes).map_err(|e| bad(key, e.to_string()))?;
                    if record.v != RECORD_VERSION {
                        return Err(bad(key, format!("record version {} is unknown", record.v)));
                    }
                    if record.stride == 0 {
                        return Err(bad(key, "stride 0".into()));
                    }
                    let running = Running {
                        key: TransactionKey(number),
                        started: now.monotonic,
                        last_sample: None,
                        data: TransactionData {
                            begin: None,
                            values: Vec::new(),
                            offered: record.offered,
                            stride: record.stride,
                        },
                    };
                    by_key.insert(number, (record.connector, running));
                }
                Some((transaction, seq)) => {
                    let transaction: u64 = transaction
                        .parse()
                        .map_err(|_| bad(key, "not a transaction key".into()))?;
                    let seq: u64 = seq
                        .parse()
                        .map_err(|_| bad(key, "not a sequence number".into()))?;
                    let record: ValueRecord =
                        serde_json::from_slice(bytes).map_err(|e| bad(key, e.to_string()))?;
                    if record.v != RECORD_VERSION {
                        return Err(bad(key, format!("record version {} is unknown", record.v)));
                    }
                    values.push((key, transaction, seq, record.meter_value));
                }
            }
        }
        for (key, transaction, seq, value) in values {
            let Some((_, running)) = by_key.get_mut(&transaction) else {
                return Err(bad(
                    key,
                    format!("its transaction {transaction} has no header record"),
                ));
            };
            if seq == 0 {
                running.data.begin = Some(value);
            } else {
                running.data.values.push((seq, value));
            }
        }
        let mut metering = Metering::new();
        for (number, (connector, mut running)) in by_key {
            running.data.values.sort_by_key(|(seq, _)| *seq);
            if metering.running.insert(connector, running).is_some() {
                return Err(bad(
                    &header_key(TransactionKey(number)),
                    format!("a second transaction on connector {connector}"),
                ));
            }
        }
        Ok(metering)
    }

    /// Sets the current readings of `connector` (0: the main meter), replacing the previous
    /// ones: every value the hardware measures there, of every phase and location. The next
    /// samples of that connector take them.
    pub fn set_readings(&mut self, connector: u32, readings: Vec<Reading>) {
        self.readings.insert(connector, readings);
    }

    /// The current readings of `connector`.
    pub fn readings(&self, connector: u32) -> &[Reading] {
        self.readings.get(&connector).map_or(&[], Vec::as_slice)
    }

    /// The transaction running on `connector`, as far as metering knows.
    pub fn transaction_on(&self, connector: u32) -> Option<TransactionKey> {
        self.running.get(&connector).map(|r| r.key)
    }

    /// The running transactions: `(connector, key)` in connector order.
    pub fn transactions(&self) -> impl Iterator<Item = (u32, TransactionKey)> + '_ {
        self.running.iter().map(|(c, r)| (*c, r.key))
    }

    /// A transaction started on `connector` at `now` (the moment of its StartTransaction):
    /// its sample schedule starts, and its `transactionData` with the `Transaction.Begin`
    /// values of the StopTxn measurands, taken from the current readings (set them first).
    /// A transaction still recorded on the connector is forgotten.
    pub fn transaction_started(
        &mut self,
        now: Now,
        connector: u32,
        key: TransactionKey,
        config: &Configuration,
        ops: &mut Vec<StoreOp>,
    ) {
        self.forget(connector, ops);
        let begin = meter_value(
            now.wall,
            select(
                self.readings(connector),
                &stop_txn_measurands(config),
                ReadingContext::TransactionBegin,
            ),
        );
        let running = Running {
            key,
            started: now.monotonic,
            last_sample: None,
            data: TransactionData {
                begin,
                values: Vec::new(),
                offered: 0,
                stride: 1,
            },
        };
        running.save_header(connector, ops);
        if let Some(begin) = &running.data.begin {
            ops.push(StoreOp::Put {
                collection: COLLECTION,
                key: value_key(key, 0),
                value: encode(&ValueRecord {
                    v: RECORD_VERSION,
                    meter_value: begin.clone(),
                }),
            });
        }
        self.running.insert(connector, running);
    }

    /// The transaction on `connector` stopped at `now`: its sampling ends, its records are
    /// deleted, and its `transactionData` comes back for the StopTransaction.req, ending with
    /// the `Transaction.End` values from the current readings (set them first). `None` when
    /// there is nothing to report, in particular when StopTxnSampledData and
    /// StopTxnAlignedData are empty (3.16.5), or when no transaction is recorded there.
    pub fn transaction_stopped(
        &mut self,
        now: Now,
        connector: u32,
        config: &Configuration,
        ops: &mut Vec<StoreOp>,
    ) -> Option<Vec<MeterValue>> {
        let running = self.running.remove(&connector)?;
        running.forget(ops);
        let end = meter_value(
            now.wall,
            select(
                self.readings(connector),
                &stop_txn_measurands(config),
                ReadingContext::TransactionEnd,
            ),
        );
        let data: Vec<MeterValue> = running
            .data
            .begin
            .into_iter()
            .chain(running.data.values.into_iter().map(|(_, value)| value))
            .chain(end)
            .collect();
        (!data.is_empty()).then_some(data)
    }

    /// Drops what is recorded of the transaction on `connector` without reporting it (the
    /// state machine does not know that transaction).
    pub fn forget(&mut self, connector: u32, ops: &mut Vec<StoreOp>) {
        if let Some(running) = self.running.remove(&connector) {
            running.forget(ops);
        }
    }

    /// The wall clock in `now` was just set (ClockSynchronized): clock-aligned sampling is
    /// re-planned from it, without a sample for the jump.
    pub fn clock_changed(&mut self, now: Now) {
        if let Some(anchor) = self.anchor
            && now.wall < anchor.wall
        {
            self.last_boundary = None;
        }
        self.anchor = Some(now);
    }

    /// When [`Metering::poll`] has work next: the earliest periodic sample of a running
    /// transaction and the next clock-aligned boundary. `None`: no interval is configured or
    /// nothing to sample. Before the first poll, an aligned interval asks for a poll at once
    /// (to learn the clock).
    pub fn next_deadline(&self, config: &Configuration) -> Option<Monotonic> {
        let periodic = config.meter_value_sample_interval().and_then(|interval| {
            self.running
                .values()
                .map(|running| running.next_sample(interval))
                .min()
        });
        let aligned = config.clock_aligned_data_interval().map(|interval| {
            match self.next_boundary(interval) {
                Some((boundary, anchor)) => anchor.monotonic + wall_since(boundary, anchor.wall),
                None => Monotonic::ZERO,
            }
        });
        periodic.into_iter().chain(aligned).min()
    }

    /// The next boundary to sample and the anchor it is planned from.
    fn next_boundary(&self, interval: Duration) -> Option<(OffsetDateTime, Now)> {
        let anchor = self.anchor?;
        let after = match self.last_boundary {
            Some(last) if last > anchor.wall => last,
            _ => anchor.wall,
        };
        Some((boundary_after(after, interval), anchor))
    }

    /// Every sample due at `now`: clock-aligned values of every connector with readings
    /// (connector order), then periodic values of the running transactions (connector order).
    /// Values for `transactionData` are collected on the way (their records in `ops`).
    pub fn poll(
        &mut self,
        now: Now,
        config: &Configuration,
        ops: &mut Vec<StoreOp>,
    ) -> Vec<Sample> {
        let mut samples = Vec::new();
        if let Some(boundary) = self.due_boundary(now, config) {
            self.sample_aligned(boundary, config, &mut samples, ops);
        }
        if let Some(interval) = config.meter_value_sample_interval() {
            self.sample_periodic(now, interval, config, &mut samples, ops);
        }
        samples
    }

    /// Checks the clock-aligned schedule at `now` and moves the anchor: the boundary to
    /// sample, if one is due.
    fn due_boundary(&mut self, now: Now, config: &Configuration) -> Option<OffsetDateTime> {
        let Some(anchor) = self.anchor else {
            self.anchor = Some(now);
            return None;
        };
        let mut due = None;
        if now.wall + BOUNDARY_TOLERANCE < anchor.wall {
            // The wall clock went back: plan from the new time.
            self.last_boundary = None;
        } else if let Some(interval) = config.clock_aligned_data_interval()
            && let Some((boundary, _)) = self.next_boundary(interval)
            && now.wall + BOUNDARY_TOLERANCE >= boundary
        {
            let deadline = anchor.monotonic + wall_since(boundary, anchor.wall);
            if now.monotonic + CLOCK_STEP >= deadline {
                let taken = boundary_at_or_before(now.wall + BOUNDARY_TOLERANCE, interval);
                let taken = taken.max(boundary);
                self.last_boundary = Some(taken);
                due = Some(taken);
            } else {
                // The wall clock jumped over the boundary; no time passed for it.
                self.last_boundary = Some(boundary_at_or_before(now.wall, interval));
            }
        }
        self.anchor = Some(now);
        due
    }

    fn sample_aligned(
        &mut self,
        boundary: OffsetDateTime,
        config: &Configuration,
        samples: &mut Vec<Sample>,
        ops: &mut Vec<StoreOp>,
    ) {
        let selection = or_default_register(config.meter_values_aligned_data());
        let stop_selection = config.stop_txn_aligned_data();
        let max = max_meter_values(config);
        for connector in 0..=config.number_of_connectors() {
            let readings = self.readings.get(&connector).map_or(&[][..], Vec::as_slice);
            let running = self.running.get_mut(&connector).filter(|_| connector != 0);
            if let Some(value) = meter_value(
                boundary,
                select(readings, &selection, ReadingContext::SampleClock),
            ) {
                samples.push(Sample {
                    connector,
                    transaction: running.as_ref().map(|r| r.key),
                    meter_value: value,
                });
            }
            if let Some(running) = running
                && let Some(value) = meter_value(
                    boundary,
                    select(readings, &stop_selection, ReadingContext::SampleClock),
                )
            {
                running.collect(connector, value, max, ops);
            }
        }
    }

    fn sample_periodic(
        &mut self,
        now: Now,
        interval: Duration,
        config: &Configuration,
        samples: &mut Vec<Sample>,
        ops: &mut Vec<StoreOp>,
    ) {
        let selection = or_default_register(config.meter_values_sampled_data());
        let stop_selection = config.stop_txn_sampled_data();
        let max = max_meter_values(config);
        for (connector, running) in &mut self.running {
            if running.next_sample(interval) > now.monotonic {
                continue;
            }
            running.last_sample = Some(now.monotonic);
            let readings = self.readings.get(connector).map_or(&[][..], Vec::as_slice);
            if let Some(value) = meter_value(
                now.wall,
                select(readings, &selection, ReadingContext::SamplePeriodic),
            ) {
                samples.push(Sample {
                    connector: *connector,
                    transaction: Some(running.key),
                    meter_value: value,
                });
            }
            if let Some(value) = meter_value(
                now.wall,
                select(readings, &stop_selection, ReadingContext::SamplePeriodic),
            ) {
                running.collect(*connector, value, max, ops);
            }
        }
    }

    /// The values a TriggerMessage for MeterValues asks of `connector`: the most recent
    /// readings of every measurand of MeterValuesSampledData (errata 3.46: "SHALL return the
    /// most recent measurements for all measurands configured in configuration key
    /// MeterValuesSampledData"), context `Trigger`, with the transaction running there.
    /// `None` when the connector has none of them.
    pub fn triggered(&self, now: Now, connector: u32, config: &Configuration) -> Option<Sample> {
        let selection = or_default_register(config.meter_values_sampled_data());
        let value = meter_value(
            now.wall,
            select(
                self.readings(connector),
                &selection,
                ReadingContext::Trigger,
            ),
        )?;
        Some(Sample {
            connector,
            transaction: self.transaction_on(connector).filter(|_| connector != 0),
            meter_value: value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn boundaries_restart_at_midnight_utc() {
        let interval = Duration::from_secs(25_200);
        assert_eq!(
            boundary_after(datetime!(2024-05-01 21:00:00 UTC), interval),
            datetime!(2024-05-02 00:00:00 UTC)
        );
        assert_eq!(
            boundary_after(datetime!(2024-05-01 13:59:59.9 UTC), interval),
            datetime!(2024-05-01 14:00:00 UTC)
        );
        assert_eq!(
            boundary_at_or_before(datetime!(2024-05-01 23:59:59 UTC), interval),
            datetime!(2024-05-01 21:00:00 UTC)
        );
    }

    #[test]
    fn boundaries_of_an_offset_clock_are_utc_ones() {
        let interval = Duration::from_secs(3_600 * 5);
        // 10:30 at +02:00 is 08:30 UTC; the next UTC boundary is 10:00 UTC.
        assert_eq!(
            boundary_after(datetime!(2024-05-01 10:30:00 +02:00), interval),
            datetime!(2024-05-01 10:00:00 UTC)
        );
    }

    #[test]
    fn an_interval_longer_than_a_day_means_every_midnight() {
        let interval = Duration::from_secs(2 * 86_400);
        assert_eq!(
            boundary_after(datetime!(2024-05-01 00:00:00 UTC), interval),
            datetime!(2024-05-02 00:00:00 UTC)
        );
    }

    #[test]
    fn thinning_drops_the_first_third_fifth_and_keeps_even_spacing() {
        let mut running = Running {
            key: TransactionKey(1),
            started: Monotonic::ZERO,
            last_sample: None,
            data: TransactionData {
                begin: None,
                values: Vec::new(),
                offered: 0,
                stride: 1,
            },
        };
        let mut ops = Vec::new();
        let value = MeterValue {
            timestamp: datetime!(2024-05-01 00:00:00 UTC),
            sampled_value: Vec::new(),
        };
        // Max 6: Begin and End plus 4 intermediate values.
        for _ in 0..12 {
            running.collect(1, value.clone(), 6, &mut ops);
        }
        let kept: Vec<u64> = running.data.values.iter().map(|(s, _)| *s).collect();
        assert_eq!(kept, vec![4, 8, 12]);
        assert_eq!(running.data.stride, 4);
    }
}
