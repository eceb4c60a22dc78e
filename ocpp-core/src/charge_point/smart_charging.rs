//! Smart Charging in the Charge Point role (1.6 section 3.13): the installed charging profiles,
//! the checks of SetChargingProfile, ClearChargingProfile, and the limit they impose.
//!
//! Pure logic: [`SmartCharging`] holds the profiles and the application's local limits, and
//! answers three questions for any connector (0: the station as a whole) at any instant: what
//! limit applies now ([`SmartCharging::limit_at`]), when it may change next
//! ([`SmartCharging::next_change`]) and what the Composite Schedule over a period is
//! ([`SmartCharging::composite`]). The role machine feeds it the Central System's requests and
//! the running transactions, persists its records and turns the limit into events.
//!
//! # How the limit is built
//!
//! The rules are those of sections 3.13.1 to 3.13.3 with the errata, read as follows.
//!
//! * **Within a purpose**, the prevailing profile at an instant is the one with the highest
//!   `stackLevel` among those that are valid then (`validFrom <= t < validTo`) and whose schedule
//!   covers the instant (started, not past `duration`). A schedule that has ended falls back to
//!   the next lower level (errata 3.43); with none left, that purpose does not limit.
//! * **A Relative** profile starts when the connector's transaction started. Without a
//!   transaction it starts at the beginning of the evaluation (the schedule a transaction
//!   starting then would get). **A Recurring** profile restarts every 24 hours (Daily) or 7 days
//!   (Weekly) from its `startSchedule` (errata 3.79) and is not in force before it; periods
//!   beyond the recurrence are not executed (errata 3.44). **An Absolute** profile without a
//!   `startSchedule` starts when it is installed (OCTT TC_056_CS and TC_057_CS send none).
//! * **TxProfile over TxDefaultProfile**: while a TxProfile of the connector's transaction is
//!   valid, TxDefaultProfiles are not used, even where the TxProfile's schedule has ended (the
//!   profile "overrules the default profile for the duration of the transaction"; OCTT
//!   TC_066_CS expects exactly that). **Connector 0's TxDefaultProfiles** apply to every
//!   connector, except at a stack level where the connector has one of its own (section
//!   3.13.1: replaced "only for that specific connector").
//! * **ChargePointMaxProfile** (connector 0 only) caps every connector, and so do the
//!   application's local limits of the connector and of connector 0.
//! * **Connector 0's limit** is what the station as a whole may draw from the grid (section
//!   5.7, errata 3.30): the sum of the connectors' limits, capped by the ChargePointMaxProfile
//!   and connector 0's local limit. Every connector counts, with or without a transaction: a
//!   transaction may start at any time, so the sum is the most the station can be expected to
//!   draw.
//!
//! Limits in different units are compared as power: amperes are per phase (section 7.12), so
//! `A * nominal voltage * numberPhases` watts, with 3 phases when `numberPhases` is absent.
//! Sums are in amperes when every term is in amperes on the same number of phases, otherwise in
//! watts. A limit converted for a Composite Schedule is rounded down to the 0.1 the schema
//! allows, so the report never exceeds the real limit.

use std::collections::BTreeMap;

use rust_decimal::{Decimal as Exact, RoundingStrategy};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::RestoreError;
use super::config::Configuration;
use crate::persist::{Snapshot, StoreOp};
use crate::primitives::Decimal;
use crate::v16::{
    ChargingProfile, ChargingProfileKindType, ChargingProfilePurposeType, ChargingRateUnitType,
    ChargingSchedule, ChargingSchedulePeriod, ClearChargingProfileRequest,
    ClearChargingProfileStatus, GetCompositeScheduleRequest, GetCompositeScheduleResponse,
    GetCompositeScheduleStatus, RecurrencyKindType,
};

/// The collection installed charging profiles are persisted in (errata 3.37: they survive a
/// reboot). Key: the chargingProfileId; value: the profile and its connector, JSON.
pub const COLLECTION: &str = "cp16.charging-profiles";

const RECORD_VERSION: u32 = 1;

/// At most this many periods in a Composite Schedule; a longer one is cut short and its
/// `duration` says where it ends. Keeps the answer well under any message size limit.
pub const MAX_COMPOSITE_PERIODS: usize = 1024;

/// At most this many instants are evaluated for one Composite Schedule (boundaries where the
/// limit stays the same count too); beyond, it is cut short like a long one. Bounds the work of
/// a request for decades of a daily profile.
pub const MAX_COMPOSITE_STEPS: usize = 20_000;

/// Remote start profiles waiting for their transaction; the oldest is forgotten first.
const MAX_PENDING_REMOTE: usize = 8;

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

/// A limit on the charging rate: what a connector may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingLimit {
    /// Amperes per phase or watts in total (section 7.12).
    pub unit: ChargingRateUnitType,
    /// The limit in `unit`.
    pub limit: Decimal,
    /// The phases it is given for (3 when a profile leaves `numberPhases` out). Whether the
    /// hardware can switch phases during a transaction is the application's to know and to
    /// announce (`ConnectorSwitch3to1PhaseSupported`); errata 3.34: a limit for more phases
    /// than are used applies as it is to the phases that are.
    pub number_phases: u32,
}

impl ChargingLimit {
    /// A limit of `amps` per phase on `number_phases` phases.
    pub fn amps(amps: Decimal, number_phases: u32) -> ChargingLimit {
        ChargingLimit {
            unit: ChargingRateUnitType::A,
            limit: amps,
            number_phases,
        }
    }

    /// A limit of `watts` in total on `number_phases` phases.
    pub fn watts(watts: Decimal, number_phases: u32) -> ChargingLimit {
        ChargingLimit {
            unit: ChargingRateUnitType::W,
            limit: watts,
            number_phases,
        }
    }

    /// The limit as power, for comparisons.
    fn power(&self, voltage: Exact) -> Exact {
        match self.unit {
            ChargingRateUnitType::W => self.limit.get(),
            ChargingRateUnitType::A => {
                // Saturating: a limit near Decimal's maximum is no limit, not a panic.
                let phases = Exact::from(self.number_phases.max(1));
                self.limit
                    .get()
                    .saturating_mul(voltage)
                    .saturating_mul(phases)
            }
        }
    }

    /// The limit expressed in `unit` at `voltage`, rounded down to 0.1.
    pub fn in_unit(&self, unit: ChargingRateUnitType, voltage: Decimal) -> Decimal {
        let voltage = voltage.get();
        let phases = Exact::from(self.number_phases.max(1));
        let value = match (self.unit, unit) {
            (from, to) if from == to => self.limit.get(),
            (ChargingRateUnitType::A, _) => self.power(voltage),
            (ChargingRateUnitType::W, _) if voltage.is_zero() => Exact::ZERO,
            (ChargingRateUnitType::W, _) => self
                .limit
                .get()
                .checked_div(voltage.saturating_mul(phases))
                .unwrap_or(Exact::ZERO),
        };
        Decimal(value.round_dp_with_strategy(1, RoundingStrategy::ToZero))
    }
}

/// What Smart Charging reads from the configuration and the station's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// NumberOfConnectors.
    pub connectors: u32,
    /// ChargeProfileMaxStackLevel (9.4.1).
    pub max_stack_level: u32,
    /// ChargingScheduleMaxPeriods (9.4.3).
    pub max_periods: u32,
    /// MaxChargingProfilesInstalled (9.4.5).
    pub max_installed: u32,
    /// ChargingScheduleAllowedChargingRateUnit (9.4.2).
    pub allowed_units: Vec<ChargingRateUnitType>,
    /// The set voltage of the area, for converting between A and W (section 7.12).
    pub nominal_voltage: Decimal,
    /// What one connector can deliver: a Composite Schedule reports it where nothing else
    /// limits.
    pub connector_rating: ChargingLimit,
}

impl Settings {
    /// The settings in force: the keys of `configuration`, the station's voltage and rating.
    pub fn from_configuration(
        configuration: &Configuration,
        nominal_voltage: Decimal,
        connector_rating: ChargingLimit,
    ) -> Settings {
        Settings {
            connectors: configuration.number_of_connectors(),
            max_stack_level: configuration.charge_profile_max_stack_level(),
            max_periods: configuration.charging_schedule_max_periods(),
            max_installed: configuration.max_charging_profiles_installed(),
            allowed_units: configuration.charging_schedule_allowed_charging_rate_unit(),
            nominal_voltage,
            connector_rating,
        }
    }
}

/// A transaction running on a connector, as Smart Charging needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunningTransaction {
    /// When it started: Relative profiles count from here.
    pub started_at: OffsetDateTime,
    /// The Central System's id, once known: a TxProfile naming another is refused.
    pub transaction_id: Option<i32>,
}

/// The transactions running, by connector.
pub type Running = BTreeMap<u32, RunningTransaction>;

/// An installed profile and the connector it was set for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledProfile {
    /// The connector (0: the station).
    pub connector: u32,
    /// The profile; an Absolute one without `startSchedule` has it set to when it was
    /// installed.
    pub profile: ChargingProfile,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    v: u32,
    #[serde(flatten)]
    installed: InstalledProfile,
}

/// Why a charging profile was not installed. Every reason but [`Rejection::UnknownConnector`]
/// is answered `Rejected`; that one is a CallError (errata 3.39).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The connector does not exist: CallError PropertyConstraintViolation (errata 3.39).
    #[error("connector {0} does not exist")]
    UnknownConnector(i32),
    /// ChargePointMaxProfile is for connector 0 only, TxProfile for connectors 1 and up
    /// (section 3.13.1).
    #[error("a {purpose:?} cannot be set on connector {connector}")]
    WrongConnector {
        /// The purpose.
        purpose: ChargingProfilePurposeType,
        /// The connector given.
        connector: u32,
    },
    /// A TxProfile needs a transaction on its connector (section 3.13.1, OCTT TC_058_1_CS).
    #[error("no transaction runs on connector {0}")]
    NoTransaction(u32),
    /// The TxProfile names another transaction than the one running (OCTT TC_058_2_CS).
    #[error("transaction {given} does not run on the connector")]
    WrongTransaction {
        /// The transactionId given.
        given: i32,
    },
    /// A transactionId is only for a TxProfile (section 7.8), and never in a
    /// RemoteStartTransaction (errata 3.41).
    #[error("transactionId is not allowed here")]
    UnexpectedTransactionId,
    /// A RemoteStartTransaction's profile must be a TxProfile (section 5.16.2, OCTT
    /// TC_060_CS).
    #[error("a remote start's profile must be a TxProfile, not {0:?}")]
    NotTxProfile(ChargingProfilePurposeType),
    /// `stackLevel` is negative or above ChargeProfileMaxStackLevel.
    #[error("stack level {level} is outside 0..={max}")]
    StackLevel {
        /// The level given.
        level: i32,
        /// ChargeProfileMaxStackLevel.
        max: u32,
    },
    /// More periods than ChargingScheduleMaxPeriods, or none.
    #[error("{count} periods, 1..={max} allowed")]
    PeriodCount {
        /// The periods given.
        count: usize,
        /// ChargingScheduleMaxPeriods.
        max: u32,
    },
    /// The periods do not start at 0 and rise strictly, or a limit is negative, or
    /// `numberPhases` is not 1 to 3 (section 7.14).
    #[error("bad schedule periods: {0}")]
    BadPeriods(&'static str),
    /// The unit is not in ChargingScheduleAllowedChargingRateUnit.
    #[error("charging rate unit {0:?} is not allowed")]
    UnitNotAllowed(ChargingRateUnitType),
    /// A negative `duration`.
    #[error("negative duration")]
    NegativeDuration,
    /// A Recurring profile needs `recurrencyKind` and `startSchedule`.
    #[error("a recurring profile needs recurrencyKind and startSchedule")]
    IncompleteRecurrence,
    /// `validTo` is not after `validFrom`, or has passed.
    #[error("the profile is never valid")]
    NeverValid,
    /// MaxChargingProfilesInstalled profiles are installed already.
    #[error("{0} profiles are installed already")]
    Full(u32),
}

/// Where a composite evaluation starts Relative profiles of connectors without a transaction.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// At this instant (a Composite Schedule's start).
    Fixed(OffsetDateTime),
    /// At the instant evaluated: the limit a transaction starting then would get. Such
    /// schedules have no boundaries of their own.
    Floating,
}

#[derive(Debug, Clone, PartialEq)]
struct PendingRemote {
    /// The request's id while the application has not answered it.
    decision: Option<String>,
    connector: Option<u32>,
    id_tag: String,
    profile: ChargingProfile,
}

/// The installed charging profiles and the application's local limits.
#[derive(Debug, Clone, Default)]
pub struct SmartCharging {
    profiles: BTreeMap<i32, InstalledProfile>,
    local: BTreeMap<u32, ChargingLimit>,
    pending_remote: Vec<PendingRemote>,
}

impl SmartCharging {
    /// No profiles, no local limits.
    pub fn new() -> SmartCharging {
        SmartCharging::default()
    }

    /// The profiles stored in `snapshot`.
    pub fn restore(snapshot: &Snapshot) -> Result<SmartCharging, RestoreError> {
        let mut smart = SmartCharging::new();
        for (key, value) in snapshot.records(COLLECTION) {
            let bad = |reason: String| RestoreError::BadRecord {
                collection: COLLECTION,
                key: key.to_owned(),
                reason,
            };
            let record: Record = serde_json::from_slice(value).map_err(|e| bad(e.to_string()))?;
            if record.v != RECORD_VERSION {
                return Err(bad(format!("record version {} is unknown", record.v)));
            }
            let id = record.installed.profile.charging_profile_id;
            if key != id.to_string() {
                return Err(bad(format!("holds profile {id}")));
            }
            smart.profiles.insert(id, record.installed);
        }
        Ok(smart)
    }

    /// Removes TxProfiles whose transaction no longer runs (it ended while the station was
    /// down).
    pub fn drop_orphans(&mut self, running: &Running, ops: &mut Vec<StoreOp>) {
        let orphans: Vec<i32> = self
            .profiles
            .values()
            .filter(|p| is_tx(p) && !running.contains_key(&p.connector))
            .map(|p| p.profile.charging_profile_id)
            .collect();
        for id in orphans {
            self.remove(id, ops);
        }
    }

    /// Whether nothing limits any connector: no profile, no local limit.
    pub fn is_idle(&self) -> bool {
        self.profiles.is_empty() && self.local.is_empty()
    }

    /// The installed profiles, by id.
    pub fn profiles(&self) -> impl Iterator<Item = &InstalledProfile> {
        self.profiles.values()
    }

    /// The application's limit of `connector` (0: the station's connection), or none.
    pub fn set_local_limit(&mut self, connector: u32, limit: Option<ChargingLimit>) {
        match limit {
            Some(limit) => self.local.insert(connector, limit),
            None => self.local.remove(&connector),
        };
    }

    /// SetChargingProfile (section 5.16): checks the profile and installs it, replacing one
    /// with the same id, or the same stack level and purpose on the same connector.
    pub fn set(
        &mut self,
        settings: &Settings,
        connector: i32,
        profile: ChargingProfile,
        now: OffsetDateTime,
        running: &Running,
        ops: &mut Vec<StoreOp>,
    ) -> Result<(), Rejection> {
        if connector < 0 || connector as u32 > settings.connectors {
            return Err(Rejection::UnknownConnector(connector));
        }
        let connector = connector as u32;
        check_schedule(settings, &profile, now)?;
        let purpose = profile.charging_profile_purpose;
        match purpose {
            ChargingProfilePurposeType::ChargePointMaxProfile if connector != 0 => {
                return Err(Rejection::WrongConnector { purpose, connector });
            }
            ChargingProfilePurposeType::TxProfile => {
                if connector == 0 {
                    return Err(Rejection::WrongConnector { purpose, connector });
                }
                let transaction = running
                    .get(&connector)
                    .ok_or(Rejection::NoTransaction(connector))?;
                if let Some(given) = profile.transaction_id
                    && transaction.transaction_id != Some(given)
                {
                    return Err(Rejection::WrongTransaction { given });
                }
            }
            _ if profile.transaction_id.is_some() => {
                return Err(Rejection::UnexpectedTransactionId);
            }
            _ => {}
        }
        self.install(settings, connector, profile, now, ops)
    }

    fn install(
        &mut self,
        settings: &Settings,
        connector: u32,
        mut profile: ChargingProfile,
        now: OffsetDateTime,
        ops: &mut Vec<StoreOp>,
    ) -> Result<(), Rejection> {
        let replaced: Vec<i32> = self
            .profiles
            .values()
            .filter(|p| {
                p.profile.charging_profile_id == profile.charging_profile_id
                    || (p.connector == connector
                        && p.profile.charging_profile_purpose == profile.charging_profile_purpose
                        && p.profile.stack_level == profile.stack_level)
            })
            .map(|p| p.profile.charging_profile_id)
            .collect();
        // The profiles of accepted remote starts hold their slots until their transactions
        // start (taken off the list just before they are installed here).
        let remaining = self.profiles.len() - replaced.len() + self.pending_remote.len();
        if remaining >= settings.max_installed as usize {
            return Err(Rejection::Full(settings.max_installed));
        }
        for id in replaced {
            self.remove(id, ops);
        }
        if profile.charging_profile_kind == ChargingProfileKindType::Absolute
            && profile.charging_schedule.start_schedule.is_none()
        {
            profile.charging_schedule.start_schedule = Some(now);
        }
        let installed = InstalledProfile { connector, profile };
        let value = serde_json::to_vec(&Record {
            v: RECORD_VERSION,
            installed: installed.clone(),
        })
        .unwrap_or_default();
        let id = installed.profile.charging_profile_id;
        ops.push(StoreOp::Put {
            collection: COLLECTION,
            key: id.to_string(),
            value,
        });
        self.profiles.insert(id, installed);
        Ok(())
    }

    fn remove(&mut self, id: i32, ops: &mut Vec<StoreOp>) {
        if self.profiles.remove(&id).is_some() {
            ops.push(StoreOp::Delete {
                collection: COLLECTION,
                key: id.to_string(),
            });
        }
    }

    /// ClearChargingProfile (section 5.5, errata 3.25): removes every profile matching all the
    /// fields given (all profiles when none is). `Accepted` if one was removed, else `Unknown`.
    pub fn clear(
        &mut self,
        request: &ClearChargingProfileRequest,
        ops: &mut Vec<StoreOp>,
    ) -> ClearChargingProfileStatus {
        let matching: Vec<i32> = self
            .profiles
            .values()
            .filter(|p| {
                request
                    .id
                    .is_none_or(|id| id == p.profile.charging_profile_id)
                    && request
                        .connector_id
                        .is_none_or(|c| i64::from(c) == i64::from(p.connector))
                    && request
                        .charging_profile_purpose
                        .is_none_or(|purpose| purpose == p.profile.charging_profile_purpose)
                    && request
                        .stack_level
                        .is_none_or(|level| level == p.profile.stack_level)
            })
            .map(|p| p.profile.charging_profile_id)
            .collect();
        if matching.is_empty() {
            return ClearChargingProfileStatus::Unknown;
        }
        for id in matching {
            self.remove(id, ops);
        }
        ClearChargingProfileStatus::Accepted
    }

    /// Checks the profile of a RemoteStartTransaction (section 5.16.2, errata 3.41): a TxProfile
    /// without transactionId that SetChargingProfile would accept.
    ///
    /// A profile that would not fit (MaxChargingProfilesInstalled counting the profiles of
    /// the remote starts still waiting for their transactions, each of which holds a slot)
    /// is refused too: accepting the start and dropping its profile at the start would
    /// charge without the limit the Central System asked for.
    pub fn check_remote_start_profile(
        &self,
        settings: &Settings,
        profile: &ChargingProfile,
        now: OffsetDateTime,
    ) -> Result<(), Rejection> {
        if profile.charging_profile_purpose != ChargingProfilePurposeType::TxProfile {
            return Err(Rejection::NotTxProfile(profile.charging_profile_purpose));
        }
        if profile.transaction_id.is_some() {
            return Err(Rejection::UnexpectedTransactionId);
        }
        check_schedule(settings, profile, now)?;
        // Only a profile with the same id is surely replaced: the connector may not be
        // known before the transaction starts.
        let replaced = usize::from(self.profiles.contains_key(&profile.charging_profile_id));
        if self.profiles.len() - replaced + self.pending_remote.len()
            >= settings.max_installed as usize
        {
            return Err(Rejection::Full(settings.max_installed));
        }
        Ok(())
    }

    /// Remembers the profile of a RemoteStartTransaction (checked already) until the
    /// application answers request `decision` and the transaction starts.
    pub fn remote_start_requested(
        &mut self,
        decision: &str,
        connector: Option<u32>,
        id_tag: &str,
        profile: ChargingProfile,
    ) {
        if self.pending_remote.len() >= MAX_PENDING_REMOTE {
            self.pending_remote.remove(0);
        }
        self.pending_remote.push(PendingRemote {
            decision: Some(decision.to_owned()),
            connector,
            id_tag: id_tag.to_owned(),
            profile,
        });
    }

    /// The application answered remote start `decision`: an accepted one's profile waits for
    /// its transaction, a refused one's is dropped.
    pub fn remote_start_answered(&mut self, decision: &str, accepted: bool) {
        if accepted {
            for pending in &mut self.pending_remote {
                if pending.decision.as_deref() == Some(decision) {
                    pending.decision = None;
                }
            }
        } else {
            self.pending_remote
                .retain(|p| p.decision.as_deref() != Some(decision));
        }
    }

    /// Requests whose answer will never come (the connection closed) take their profiles
    /// with them.
    pub fn remote_starts_abandoned(&mut self) {
        self.pending_remote.retain(|p| p.decision.is_none());
    }

    /// A transaction started on `connector` for `id_tag`: the profile of the accepted remote
    /// start it answers, if any, becomes its TxProfile (section 5.16.2).
    pub fn transaction_started(
        &mut self,
        settings: &Settings,
        connector: u32,
        id_tag: &str,
        now: OffsetDateTime,
        ops: &mut Vec<StoreOp>,
    ) -> bool {
        let found = self.pending_remote.iter().position(|p| {
            p.decision.is_none() && p.id_tag == id_tag && p.connector.is_none_or(|c| c == connector)
        });
        let Some(index) = found else {
            return false;
        };
        let pending = self.pending_remote.remove(index);
        self.install(settings, connector, pending.profile, now, ops)
            .is_ok()
    }

    /// The transaction on `connector` ended: its TxProfiles go (section 3.13.1).
    pub fn transaction_ended(&mut self, connector: u32, ops: &mut Vec<StoreOp>) {
        let ids: Vec<i32> = self
            .profiles
            .values()
            .filter(|p| is_tx(p) && p.connector == connector)
            .map(|p| p.profile.charging_profile_id)
            .collect();
        for id in ids {
            self.remove(id, ops);
        }
    }

    /// The limit on `connector` (0: the whole station) at `at`; `None` when nothing limits
    /// it. Relative profiles of connectors without a transaction count from `at`.
    pub fn limit_at(
        &self,
        settings: &Settings,
        connector: u32,
        at: OffsetDateTime,
        running: &Running,
    ) -> Option<ChargingLimit> {
        self.evaluate(settings, connector, at, running, Anchor::Floating, None)
    }

    /// The limit a Composite Schedule from `start` reports for `connector` at `at`: the
    /// pointwise definition [`SmartCharging::composite`] follows, with Relative profiles of
    /// connectors without a transaction counted from `start` and the connector rating where
    /// nothing else limits.
    pub fn composite_limit_at(
        &self,
        settings: &Settings,
        connector: u32,
        start: OffsetDateTime,
        at: OffsetDateTime,
        running: &Running,
    ) -> ChargingLimit {
        let rating = settings.connector_rating;
        self.evaluate(
            settings,
            connector,
            at,
            running,
            Anchor::Fixed(start),
            Some(rating),
        )
        .unwrap_or(rating)
    }

    /// The first instant after `at` at which a limit may change, if any.
    pub fn next_change(&self, at: OffsetDateTime, running: &Running) -> Option<OffsetDateTime> {
        self.profiles
            .values()
            .filter_map(|p| self.profile_boundary(p, at, running, Anchor::Floating))
            .min()
    }

    /// The Composite Schedule of `connector` (0: the station) from `start` for `duration`
    /// seconds (section 5.7), in `unit` or else in the unit of the limit in force at
    /// `start`; `None` if the connector does not exist or the duration is negative. Where
    /// nothing limits, the connector rating applies. A schedule of more than
    /// [`MAX_COMPOSITE_PERIODS`] periods or [`MAX_COMPOSITE_STEPS`] evaluations is cut short:
    /// its `duration` is then the part covered. The schedule has no `startSchedule`
    /// (errata 3.57): its periods count from `start`, which is truncated to whole seconds.
    pub fn composite(
        &self,
        settings: &Settings,
        connector: u32,
        start: OffsetDateTime,
        duration: i32,
        unit: Option<ChargingRateUnitType>,
        running: &Running,
    ) -> Option<(OffsetDateTime, ChargingSchedule)> {
        if connector > settings.connectors || duration < 0 {
            return None;
        }
        let start = start.replace_nanosecond(0).unwrap_or(start);
        let end = plus(start, i64::from(duration));
        let anchor = Anchor::Fixed(start);
        let rating = Some(settings.connector_rating);
        let mut offset: i64 = 0;
        let mut periods: Vec<ChargingSchedulePeriod> = Vec::new();
        let mut unit = unit;
        let mut covered = i64::from(duration);
        for step in 0.. {
            if step == MAX_COMPOSITE_STEPS {
                covered = offset;
                break;
            }
            let Some(at) = plus(start, offset) else {
                covered = offset;
                break;
            };
            let limit = self
                .evaluate(settings, connector, at, running, anchor, rating)
                .unwrap_or(settings.connector_rating);
            let unit = *unit.get_or_insert(limit.unit);
            let value = limit.in_unit(unit, settings.nominal_voltage);
            let phases = Some(limit.number_phases as i32);
            let same = periods
                .last()
                .is_some_and(|p| p.limit == value && p.number_phases == phases);
            if !same {
                if periods.len() == MAX_COMPOSITE_PERIODS {
                    covered = offset;
                    break;
                }
                periods.push(ChargingSchedulePeriod {
                    start_period: offset as i32,
                    limit: value,
                    number_phases: phases,
                });
            }
            let next = self
                .profiles
                .values()
                .filter_map(|p| self.profile_boundary(p, at, running, anchor))
                .min();
            match next {
                Some(next) if end.is_none_or(|end| next < end) => {
                    offset = ceil_seconds(next - start);
                }
                _ => break,
            }
        }
        let schedule = ChargingSchedule {
            duration: Some(covered as i32),
            start_schedule: None,
            charging_rate_unit: unit.unwrap_or(settings.connector_rating.unit),
            charging_schedule_period: periods,
            min_charging_rate: None,
        };
        Some((start, schedule))
    }

    /// GetCompositeSchedule (section 5.7): the Composite Schedule from `now` for the duration
    /// asked; Rejected for an unknown connector or a negative duration.
    pub fn get_composite_schedule(
        &self,
        settings: &Settings,
        request: &GetCompositeScheduleRequest,
        now: OffsetDateTime,
        running: &Running,
    ) -> GetCompositeScheduleResponse {
        let composite = u32::try_from(request.connector_id)
            .ok()
            .and_then(|connector| {
                self.composite(
                    settings,
                    connector,
                    now,
                    request.duration,
                    request.charging_rate_unit,
                    running,
                )
            });
        match composite {
            Some((start, schedule)) => GetCompositeScheduleResponse {
                status: GetCompositeScheduleStatus::Accepted,
                connector_id: Some(request.connector_id),
                schedule_start: Some(start),
                charging_schedule: Some(schedule),
            },
            None => GetCompositeScheduleResponse {
                status: GetCompositeScheduleStatus::Rejected,
                connector_id: None,
                schedule_start: None,
                charging_schedule: None,
            },
        }
    }

    fn evaluate(
        &self,
        settings: &Settings,
        connector: u32,
        at: OffsetDateTime,
        running: &Running,
        anchor: Anchor,
        cap: Option<ChargingLimit>,
    ) -> Option<ChargingLimit> {
        let voltage = settings.nominal_voltage.get();
        let max = self.winner(
            self.profiles
                .values()
                .filter(|p| purpose(p) == ChargingProfilePurposeType::ChargePointMaxProfile),
            at,
            None,
            anchor,
        );
        let station = lowest(max, self.local.get(&0).copied(), voltage);
        if connector == 0 {
            let mut terms = Vec::new();
            for c in 1..=settings.connectors {
                let own = lowest(
                    self.transaction_limit(c, at, running, anchor),
                    self.local.get(&c).copied(),
                    voltage,
                );
                terms.push(lowest(own, cap, voltage));
            }
            let sum = terms
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .and_then(|terms| sum(terms, voltage));
            lowest(station, sum, voltage)
        } else {
            let own = lowest(
                self.transaction_limit(connector, at, running, anchor),
                self.local.get(&connector).copied(),
                voltage,
            );
            lowest(lowest(station, own, voltage), cap, voltage)
        }
    }

    /// The limit of the TxProfile, or else the TxDefaultProfiles, of `connector`.
    fn transaction_limit(
        &self,
        connector: u32,
        at: OffsetDateTime,
        running: &Running,
        anchor: Anchor,
    ) -> Option<ChargingLimit> {
        let started = running.get(&connector).map(|t| t.started_at);
        let tx = || {
            self.profiles
                .values()
                .filter(move |p| is_tx(p) && p.connector == connector)
        };
        if started.is_some() && tx().any(|p| valid(&p.profile, at)) {
            return self.winner(tx(), at, started, anchor);
        }
        let own_levels: Vec<i32> = self
            .profiles
            .values()
            .filter(|p| is_default(p) && p.connector == connector)
            .map(|p| p.profile.stack_level)
            .collect();
        let defaults = self.profiles.values().filter(|p| {
            is_default(p)
                && (p.connector == connector
                    || (p.connector == 0 && !own_levels.contains(&p.profile.stack_level)))
        });
        self.winner(defaults, at, started, anchor)
    }

    /// The limit of the highest stack level whose schedule is in force at `at`.
    fn winner<'a>(
        &self,
        profiles: impl Iterator<Item = &'a InstalledProfile>,
        at: OffsetDateTime,
        started: Option<OffsetDateTime>,
        anchor: Anchor,
    ) -> Option<ChargingLimit> {
        profiles
            .filter_map(|p| {
                let limit = profile_limit(&p.profile, at, started, anchor)?;
                Some((p.profile.stack_level, limit))
            })
            .max_by_key(|(level, _)| *level)
            .map(|(_, limit)| limit)
    }

    /// The first instant after `at` at which `installed` starts, ends or changes period.
    fn profile_boundary(
        &self,
        installed: &InstalledProfile,
        at: OffsetDateTime,
        running: &Running,
        anchor: Anchor,
    ) -> Option<OffsetDateTime> {
        let profile = &installed.profile;
        let started = match purpose(installed) {
            ChargingProfilePurposeType::ChargePointMaxProfile => None,
            _ if installed.connector == 0 => {
                // Connector 0's TxDefaultProfile runs from each transaction's start.
                let mut all: Vec<OffsetDateTime> = running
                    .values()
                    .filter_map(|t| schedule_boundary(profile, at, Some(t.started_at), anchor))
                    .collect();
                all.extend(schedule_boundary(profile, at, None, anchor));
                let validity = validity_boundary(profile, at);
                return all.into_iter().chain(validity).min();
            }
            _ => running.get(&installed.connector).map(|t| t.started_at),
        };
        schedule_boundary(profile, at, started, anchor)
            .into_iter()
            .chain(validity_boundary(profile, at))
            .min()
    }
}

fn purpose(p: &InstalledProfile) -> ChargingProfilePurposeType {
    p.profile.charging_profile_purpose
}

fn is_tx(p: &InstalledProfile) -> bool {
    purpose(p) == ChargingProfilePurposeType::TxProfile
}

fn is_default(p: &InstalledProfile) -> bool {
    purpose(p) == ChargingProfilePurposeType::TxDefaultProfile
}

/// The checks every profile passes, whatever its purpose and connector.
fn check_schedule(
    settings: &Settings,
    profile: &ChargingProfile,
    now: OffsetDateTime,
) -> Result<(), Rejection> {
    let level = profile.stack_level;
    if level < 0 || level as u32 > settings.max_stack_level {
        return Err(Rejection::StackLevel {
            level,
            max: settings.max_stack_level,
        });
    }
    let schedule = &profile.charging_schedule;
    let periods = &schedule.charging_schedule_period;
    if periods.is_empty() || periods.len() > settings.max_periods as usize {
        return Err(Rejection::PeriodCount {
            count: periods.len(),
            max: settings.max_periods,
        });
    }
    if periods[0].start_period != 0 {
        return Err(Rejection::BadPeriods("the first period must start at 0"));
    }
    if periods
        .windows(2)
        .any(|w| w[1].start_period <= w[0].start_period)
    {
        return Err(Rejection::BadPeriods("start periods must rise strictly"));
    }
    if periods.iter().any(|p| p.limit.get().is_sign_negative()) {
        return Err(Rejection::BadPeriods("a limit is negative"));
    }
    if periods
        .iter()
        .any(|p| p.number_phases.is_some_and(|n| !(1..=3).contains(&n)))
    {
        return Err(Rejection::BadPeriods("numberPhases must be 1, 2 or 3"));
    }
    if !settings
        .allowed_units
        .contains(&schedule.charging_rate_unit)
    {
        return Err(Rejection::UnitNotAllowed(schedule.charging_rate_unit));
    }
    if schedule.duration.is_some_and(|d| d < 0) {
        return Err(Rejection::NegativeDuration);
    }
    if profile.charging_profile_kind == ChargingProfileKindType::Recurring
        && (profile.recurrency_kind.is_none() || schedule.start_schedule.is_none())
    {
        return Err(Rejection::IncompleteRecurrence);
    }
    if let Some(to) = profile.valid_to
        && (to <= now || profile.valid_from.is_some_and(|from| to <= from))
    {
        return Err(Rejection::NeverValid);
    }
    Ok(())
}

fn valid(profile: &ChargingProfile, at: OffsetDateTime) -> bool {
    profile.valid_from.is_none_or(|from| from <= at) && profile.valid_to.is_none_or(|to| at < to)
}

fn validity_boundary(profile: &ChargingProfile, at: OffsetDateTime) -> Option<OffsetDateTime> {
    [profile.valid_from, profile.valid_to]
        .into_iter()
        .flatten()
        .filter(|b| *b > at)
        .min()
}

/// The occurrence of the schedule that `at` falls in or precedes: its start and how long it
/// runs (`None`: indefinitely). `None` for a Relative schedule without a fixed start.
fn occurrence(
    profile: &ChargingProfile,
    at: OffsetDateTime,
    started: Option<OffsetDateTime>,
    anchor: Anchor,
) -> Option<(OffsetDateTime, Option<i64>)> {
    let schedule = &profile.charging_schedule;
    let duration = schedule.duration.map(i64::from);
    match profile.charging_profile_kind {
        ChargingProfileKindType::Absolute => Some((schedule.start_schedule?, duration)),
        ChargingProfileKindType::Relative => match (started, anchor) {
            (Some(start), _) | (None, Anchor::Fixed(start)) => Some((start, duration)),
            (None, Anchor::Floating) => None,
        },
        ChargingProfileKindType::Recurring => {
            let base = schedule.start_schedule?;
            let period = match profile.recurrency_kind? {
                RecurrencyKindType::Daily => DAY,
                RecurrencyKindType::Weekly => WEEK,
            };
            let elapsed = (at - base).whole_seconds();
            let count = if at < base {
                0
            } else {
                elapsed.div_euclid(period)
            };
            let start = plus(base, count * period)?;
            Some((start, Some(duration.unwrap_or(period).min(period))))
        }
    }
}

/// The limit of `profile` at `at`, if it is valid and its schedule covers the instant.
fn profile_limit(
    profile: &ChargingProfile,
    at: OffsetDateTime,
    started: Option<OffsetDateTime>,
    anchor: Anchor,
) -> Option<ChargingLimit> {
    if !valid(profile, at) {
        return None;
    }
    let (start, duration) = occurrence(profile, at, started, anchor).or_else(|| {
        // A floating Relative schedule starts at the instant evaluated.
        (profile.charging_profile_kind == ChargingProfileKindType::Relative)
            .then(|| (at, profile.charging_schedule.duration.map(i64::from)))
    })?;
    if at < start || duration.is_some_and(|d| plus(start, d).is_some_and(|end| at >= end)) {
        return None;
    }
    let schedule = &profile.charging_schedule;
    let period = schedule
        .charging_schedule_period
        .iter()
        .take_while(|p| plus(start, i64::from(p.start_period)).is_some_and(|b| b <= at))
        .last()?;
    Some(ChargingLimit {
        unit: schedule.charging_rate_unit,
        limit: period.limit,
        number_phases: period.number_phases.map_or(3, |n| n.max(1) as u32),
    })
}

/// The first instant after `at` at which the schedule of `profile` starts, ends, changes
/// period or recurs.
fn schedule_boundary(
    profile: &ChargingProfile,
    at: OffsetDateTime,
    started: Option<OffsetDateTime>,
    anchor: Anchor,
) -> Option<OffsetDateTime> {
    let (start, duration) = occurrence(profile, at, started, anchor)?;
    let schedule = &profile.charging_schedule;
    let mut candidates: Vec<OffsetDateTime> = schedule
        .charging_schedule_period
        .iter()
        .filter_map(|p| plus(start, i64::from(p.start_period)))
        .collect();
    if let Some(d) = duration {
        candidates.extend(plus(start, d));
    }
    if let Some(kind) = profile.recurrency_kind
        && profile.charging_profile_kind == ChargingProfileKindType::Recurring
    {
        let period = match kind {
            RecurrencyKindType::Daily => DAY,
            RecurrencyKindType::Weekly => WEEK,
        };
        candidates.extend(plus(start, period));
    }
    candidates.into_iter().filter(|b| *b > at).min()
}

/// The lower of two limits (compared as power); `None` is no limit.
fn lowest(
    a: Option<ChargingLimit>,
    b: Option<ChargingLimit>,
    voltage: Exact,
) -> Option<ChargingLimit> {
    match (a, b) {
        (Some(a), Some(b)) if b.power(voltage) < a.power(voltage) => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// The sum of limits: in amperes when all are amperes on the same phases, else in watts.
fn sum(terms: Vec<ChargingLimit>, voltage: Exact) -> Option<ChargingLimit> {
    let first = *terms.first()?;
    let same = terms
        .iter()
        .all(|t| t.unit == ChargingRateUnitType::A && t.number_phases == first.number_phases);
    if same {
        let total = terms
            .iter()
            .fold(Exact::ZERO, |sum, t| sum.saturating_add(t.limit.get()));
        return Some(ChargingLimit::amps(Decimal(total), first.number_phases));
    }
    let phases = terms.iter().map(|t| t.number_phases).max().unwrap_or(3);
    let total = terms
        .iter()
        .fold(Exact::ZERO, |sum, t| sum.saturating_add(t.power(voltage)));
    Some(ChargingLimit::watts(Decimal(total), phases))
}

/// `t` plus `seconds`; `None` beyond the last representable date, which is never reached.
fn plus(t: OffsetDateTime, seconds: i64) -> Option<OffsetDateTime> {
    t.checked_add(time::Duration::seconds(seconds))
}

/// Whole seconds, rounded up.
fn ceil_seconds(d: time::Duration) -> i64 {
    let whole = d.whole_seconds();
    if d.subsec_nanoseconds() > 0 {
        whole + 1
    } else {
        whole
    }
}
