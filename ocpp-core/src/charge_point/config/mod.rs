//! The configuration keys of an OCPP 1.6 Charge Point: what GetConfiguration reports, what
//! ChangeConfiguration may change, how changes survive a restart, and the typed values the
//! Charge Point state machine runs with.
//!
//! Every standard key is one row of a table ([`StandardKey`], [`KeySpec`]): the keys of 1.6
//! edition 2 chapter 9 and those its errata sheet adds (MessageTimeout,
//! StopTransactionMaxMeterValues, SupportedFileTransferProtocols), the security white paper's
//! (chapter 7) and the ISO 15118 Plug & Charge application note's (chapter 9). The integrator
//! picks profiles, optional keys, initial values, measurands and application keys with
//! [`Definitions::builder`]; [`Configuration::restore`] combines the definitions with what was
//! persisted. Like the rest of the crate it is pure: no clock, no I/O; durable state leaves as
//! [`StoreOp`]s.
//!
//! ```
//! use ocpp_core::charge_point::config::{Configuration, Definitions, Profile, StandardKey};
//! use ocpp_core::persist::Snapshot;
//! use ocpp_core::v16::ConfigurationStatus;
//!
//! let definitions = Definitions::builder()
//!     .profiles(&[Profile::Core, Profile::SmartCharging])
//!     .initial(StandardKey::NumberOfConnectors, "2")
//!     .build()?;
//! let mut snapshot = Snapshot::new();
//! let (mut config, issues) = Configuration::restore(definitions.clone(), &snapshot);
//! assert!(issues.is_empty());
//!
//! let outcome = config.change("HeartbeatInterval", "900");
//! assert_eq!(outcome.status(), ConfigurationStatus::Accepted);
//! let applied = outcome.applied().expect("accepted");
//! snapshot.apply([&applied.record()]); // the adapter persists this before answering
//! assert_eq!(config.heartbeat_interval().as_secs(), 900);
//!
//! let (config, _) = Configuration::restore(definitions, &snapshot);
//! assert_eq!(config.heartbeat_interval().as_secs(), 900);
//! # Ok::<(), ocpp_core::charge_point::config::DefinitionError>(())
//! ```
//!
//! # Decisions where the specification leaves room
//!
//! - **Names compare case-insensitively.** Keys are `CiString50Type` (6.9, 6.23) and values
//!   `CiString500Type`, which 1.6 defines as case-insensitive: `heartbeatinterval` finds
//!   HeartbeatInterval and `TRUE` is a boolean. Responses spell keys as the specification does.
//! - **Canonical values.** Booleans are stored as `true`/`false`, integers in plain decimal,
//!   list items trimmed, joined with `,` and in the specification's spelling; texts and the
//!   AuthorizationKey are kept verbatim. A value already in that form is stored as given.
//! - **Empty lists are allowed** in the `...Data` keys: errata 3.14.5 gives the empty
//!   StopTxnAlignedData/StopTxnSampledData a meaning (no meter values in StopTransaction).
//! - **List lengths.** A list longer than its `...MaxLength` key is `Rejected`; when that key
//!   is not defined the list holds one item (5.3: "If this key is not set, a safe value of 1
//!   (one) item SHOULD be assumed"). An item given twice is a format error (`Rejected`).
//! - **Measurands** are checked against the integrator's list ([`DefinitionsBuilder::supported_measurands`]),
//!   as errata 3.14.4 requires ("If the comma separated list contains one or more measurands
//!   that are not supported by this Charge Point, the Charge Point SHALL respond with ...
//!   Rejected"). `Measurand.Phase` items (`Voltage.L1`, 9.1.17) are accepted.
//! - **GetConfigurationMaxKeys** limits the keys *requested* (5.8: "The number of configuration
//!   keys requested in a single PDU MAY be limited by the Charge Point"). A request naming more
//!   is refused as a whole with [`TooManyKeys`], whose CallError is
//!   `OccurenceConstraintViolation`: the `key` array exceeds the occurrence the Charge Point
//!   allows, and answering only part of it would contradict "SHALL return a list of recognized
//!   keys". A request without keys returns every key whatever the limit, because 5.8 says "SHALL
//!   return a list of all configuration settings" and the limit is about requested keys.
//! - **AuthorizationKey is write-only** (OCPP-J errata 3.12, white paper 7.2): "so that it cannot
//!   be accidentally stored in plaintext by the Central System when it reads out all
//!   configuration keys". It is left out of the full listing. Asked for by name it is a
//!   recognized key, so it is not put in `unknownKey` (5.8 reserves that for unrecognized keys):
//!   it is reported with `readonly: false` and no value, which 7.29 allows ("value ... may be
//!   absent"). Its value never appears in a response, an error message or a `Debug` output.
//! - **AuthorizationKey length.** A00.FR.205: "Minimal 16-bytes long ... Hexadecimal represented
//!   (20 bytes maximum, represented as a string of up to 40 hexadecimal digits)": 32 to 40
//!   hexadecimal digits, an even number (whole bytes). The OCTT value of TC_073_CS (38 digits)
//!   fits.
//! - **SecurityProfile** only goes up (A05.FR.01) and needs a valid AuthorizationKey for
//!   profiles 1 and 2 (A05.FR.02); otherwise `Rejected`. The certificate prerequisites of
//!   A05.FR.03/04 belong to the certificate store: the state machine checks them before it calls
//!   [`Configuration::change`]. An accepted change answers `Accepted` (A05.FR.05) and the state
//!   machine reconnects, as it does after an AuthorizationKey change.
//! - **Reboot-required keys.** 7.22: RebootRequired means the "setting has been changed, but
//!   change will be available after reboot". So the new value is persisted at once and is what
//!   GetConfiguration reports (the setting *has* changed), while the typed accessors keep
//!   returning the value the Charge Point runs with until the next [`Configuration::restore`].
//!   Setting a reboot-required key back to the value in effect answers `Accepted`. No standard
//!   key is reboot-required by default (the stack applies every one of them at once); the
//!   integrator can make any key so.
//! - **Optional keys** of supported profiles are defined unless the integrator removes them,
//!   except those describing hardware the stack cannot know of (BlinkRepeat, LightIntensity,
//!   MaxEnergyOnInvalidId, ConnectorSwitch3to1PhaseSupported, SupportedFileTransferProtocols)
//!   and SupportedFeatureProfilesMaxLength (errata 3.81: "does not have to be implemented").
//!
//! # Persistence
//!
//! Each applied change yields a [`StoreOp::Put`] in the collection [`COLLECTION`]
//! (`"configuration"`): the record key is the key's name as the specification (or the
//! application) spells it, the record value is the UTF-8 text `1:` followed by the canonical
//! value, `1` being the record format version. [`Configuration::restore`] reads them back:
//!
//! - a record of a key no longer defined is ignored ([`RestoreIssue::UnknownKey`]);
//! - a record of a key that is now read-only is ignored, the integrator's value wins
//!   ([`RestoreIssue::ReadOnly`]);
//! - a record that is not UTF-8 or of an unknown format version, or whose value no longer
//!   validates (a narrower range, a measurand the new meter lacks), leaves the key at its
//!   initial value and is reported ([`RestoreIssue::Malformed`], [`RestoreIssue::InvalidValue`]).
//!
//! Refused records are left in the store: a later firmware may define the key again, and the
//! next accepted change overwrites the record anyway. Restoring never panics.

mod definitions;
mod keys;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::ErrorCode;
use crate::persist::{Snapshot, StoreOp};
use crate::v16::{
    ChargingRateUnitType, ConfigurationStatus, GetConfigurationResponse, KeyValue, Measurand,
};

pub use definitions::{
    ApplicationKey, DefinitionError, Definitions, DefinitionsBuilder, MAX_KEY_CHARS,
};
pub use keys::{AccessRule, Accessibility, KeySpec, Profile, Requirement, StandardKey, Unit};
pub use value::{InvalidValue, ListLimit, MAX_VALUE_CHARS, SampledMeasurand, ValueType};

use value::Context;

/// The store collection of configuration records.
pub const COLLECTION: &str = "configuration";

/// The version written in front of every record value (`1:<value>`).
pub const RECORD_VERSION: u32 = 1;

/// A configuration key: standard or application-defined.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigKey {
    /// A key of the specifications.
    Standard(StandardKey),
    /// A key the application defined.
    Application(String),
}

impl ConfigKey {
    /// The key's name.
    pub fn name(&self) -> &str {
        match self {
            ConfigKey::Standard(key) => key.name(),
            ConfigKey::Application(name) => name,
        }
    }
}

/// A GetConfiguration.req naming more keys than GetConfigurationMaxKeys allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{requested} keys requested, GetConfigurationMaxKeys is {max}")]
pub struct TooManyKeys {
    /// The number of keys in the request.
    pub requested: usize,
    /// GetConfigurationMaxKeys.
    pub max: usize,
}

impl TooManyKeys {
    /// The CallError to answer with: the `key` array exceeds the allowed occurrence.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::OccurrenceConstraintViolation
    }
}

/// Why a ChangeConfiguration was `Rejected`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The key is read-only.
    #[error("the key is read-only")]
    ReadOnly,
    /// The value does not fit the key's type or range.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
    /// SecurityProfile can only be raised (A05.FR.01).
    #[error("SecurityProfile can only be raised above {current}")]
    SecurityProfileNotRaised {
        /// The profile in use.
        current: i64,
    },
    /// Security profiles 1 and 2 need an AuthorizationKey first (A05.FR.02).
    #[error("SecurityProfile {requested} needs an AuthorizationKey")]
    AuthorizationKeyMissing {
        /// The profile asked for.
        requested: i64,
    },
}

/// A change that was made: what to persist and what the state machine may have to react to.
#[derive(Clone, PartialEq, Eq)]
pub struct Applied {
    key: ConfigKey,
    value: String,
    previous: Option<String>,
    after_reboot: bool,
    write_only: bool,
}

impl Applied {
    /// The key that changed (HeartbeatInterval: reschedule; AuthorizationKey, SecurityProfile:
    /// reconnect; ...).
    pub fn key(&self) -> &ConfigKey {
        &self.key
    }

    /// The new canonical value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value reported before (for SecurityProfile, what to fall back to, A05.FR.08).
    pub fn previous(&self) -> Option<&str> {
        self.previous.as_deref()
    }

    /// Whether the change only takes effect at the next start (`RebootRequired`).
    pub fn takes_effect_after_reboot(&self) -> bool {
        self.after_reboot
    }

    /// The record that makes the change durable; the adapter applies it before the
    /// ChangeConfiguration.conf is sent.
    pub fn record(&self) -> StoreOp {
        StoreOp::Put {
            collection: COLLECTION,
            key: self.key.name().to_owned(),
            value: encode_record(&self.value),
        }
    }
}

impl fmt::Debug for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &str| if self.write_only { "<write-only>" } else { v }.to_owned();
        f.debug_struct("Applied")
            .field("key", &self.key)
            .field("value", &redact(&self.value))
            .field("previous", &self.previous.as_deref().map(redact))
            .field("after_reboot", &self.after_reboot)
            .finish()
    }
}

/// The result of [`Configuration::change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Changed and in effect.
    Accepted(Applied),
    /// Changed and persisted; in effect after the next start.
    RebootRequired(Applied),
    /// Not changed.
    Rejected(Rejection),
    /// No such key.
    NotSupported,
}

impl ChangeOutcome {
    /// The status for ChangeConfiguration.conf.
    pub fn status(&self) -> ConfigurationStatus {
        match self {
            ChangeOutcome::Accepted(_) => ConfigurationStatus::Accepted,
            ChangeOutcome::RebootRequired(_) => ConfigurationStatus::RebootRequired,
            ChangeOutcome::Rejected(_) => ConfigurationStatus::Rejected,
            ChangeOutcome::NotSupported => ConfigurationStatus::NotSupported,
        }
    }

    /// The change, if one was made.
    pub fn applied(&self) -> Option<&Applied> {
        match self {
            ChangeOutcome::Accepted(applied) | ChangeOutcome::RebootRequired(applied) => {
                Some(applied)
            }
            _ => None,
        }
    }
}

/// Why [`Configuration::set_local`] refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalSetError {
    /// No such key.
    #[error("no such key")]
    NotDefined,
    /// Read-only keys take their value from the definitions.
    #[error("read-only keys are set in the definitions")]
    ReadOnly,
    /// The value does not fit.
    #[error(transparent)]
    InvalidValue(#[from] InvalidValue),
}

/// A persisted record that [`Configuration::restore`] did not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreIssue {
    /// No key of that name is defined any more; the record is ignored.
    #[error("record of undefined key {key} ignored")]
    UnknownKey {
        /// The record's key.
        key: String,
    },
    /// The key is read-only now; its value comes from the definitions.
    #[error("record of read-only key {key} ignored")]
    ReadOnly {
        /// The key.
        key: String,
    },
    /// The record is not UTF-8 `<version>:<value>` of a known version; the key keeps its
    /// initial value.
    #[error("record of {key} is unreadable ({reason}); initial value kept")]
    Malformed {
        /// The key.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The stored value no longer validates; the key keeps its initial value.
    #[error("stored value of {key} no longer valid ({error}); initial value kept")]
    InvalidValue {
        /// The key.
        key: String,
        /// Why.
        error: InvalidValue,
    },
}

#[derive(Clone)]
struct Slot {
    /// What GetConfiguration reports and the store holds.
    reported: Option<String>,
    /// What the Charge Point runs with; differs from `reported` only while a reboot-required
    /// change waits for the next start.
    active: Option<String>,
}

/// The configuration of a Charge Point: definitions plus current values.
#[derive(Clone)]
pub struct Configuration {
    definitions: Definitions,
    slots: Vec<Slot>,
    /// Lower-case name to index in `definitions.keys`.
    by_name: BTreeMap<String, usize>,
    by_key: BTreeMap<StandardKey, usize>,
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (def, slot) in self.definitions.keys.iter().zip(&self.slots) {
            let shown = match (&slot.reported, def.accessibility) {
                (Some(_), Accessibility::WriteOnly) => Some("<write-only>"),
                (value, _) => value.as_deref(),
            };
            map.entry(&def.name, &shown);
        }
        map.finish()
    }
}

impl Context for Configuration {
    fn value_of(&self, key: StandardKey) -> Option<&str> {
        let index = *self.by_key.get(&key)?;
        self.slots[index].reported.as_deref()
    }

    fn supports_measurand(&self, measurand: Measurand) -> bool {
        self.definitions.measurands.contains(&measurand)
    }
}

fn encode_record(value: &str) -> Vec<u8> {
    format!("{RECORD_VERSION}:{value}").into_bytes()
}

fn decode_record(bytes: &[u8]) -> Result<&str, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let (version, value) = text.split_once(':').ok_or("no version")?;
    if version != RECORD_VERSION.to_string() {
        return Err("unknown record version");
    }
    Ok(value)
}

impl Configuration {
    /// A first start: every key at its initial value.
    pub fn new(definitions: Definitions) -> Configuration {
        let slots = definitions
            .keys
            .iter()
            .map(|def| Slot {
                reported: def.initial.clone(),
                active: def.initial.clone(),
            })
            .collect();
        let mut by_name = BTreeMap::new();
        let mut by_key = BTreeMap::new();
        for (index, def) in definitions.keys.iter().enumerate() {
            by_name.insert(def.name.to_ascii_lowercase(), index);
            if let ConfigKey::Standard(key) = def.id {
                by_key.insert(key, index);
            }
        }
        Configuration {
            definitions,
            slots,
            by_name,
            by_key,
        }
    }

    /// The configuration after a restart: initial values, overridden by the records of the
    /// [`COLLECTION`] collection in `snapshot`. Records that cannot be applied are listed, never
    /// a panic (see the module docs). Pending reboot-required values take effect here.
    pub fn restore(
        definitions: Definitions,
        snapshot: &Snapshot,
    ) -> (Configuration, Vec<RestoreIssue>) {
        let mut config = Configuration::new(definitions);
        let mut issues = Vec::new();
        let mut accepted = Vec::new();
        for (name, bytes) in snapshot.records(COLLECTION) {
            let Some(index) = config.index(name) else {
                issues.push(RestoreIssue::UnknownKey {
                    key: name.to_owned(),
                });
                continue;
            };
            let def = &config.definitions.keys[index];
            if def.accessibility == Accessibility::ReadOnly {
                issues.push(RestoreIssue::ReadOnly {
                    key: def.name.clone(),
                });
                continue;
            }
            let raw = match decode_record(bytes) {
                Ok(raw) => raw,
                Err(reason) => {
                    issues.push(RestoreIssue::Malformed {
                        key: def.name.clone(),
                        reason,
                    });
                    continue;
                }
            };
            // Writable values depend only on read-only keys (limits, NumberOfConnectors), which
            // records never change, so records can be checked in any order.
            match def.value_type.canonical(raw, &config) {
                Ok(value) => accepted.push((index, value)),
                Err(error) => issues.push(RestoreIssue::InvalidValue {
                    key: def.name.clone(),
                    error,
                }),
            }
        }
        for (index, value) in accepted {
            config.slots[index] = Slot {
                reported: Some(value.clone()),
                active: Some(value),
            };
        }
        (config, issues)
    }

    /// The definitions this configuration follows.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    fn index(&self, name: &str) -> Option<usize> {
        if name.chars().count() > MAX_KEY_CHARS {
            return None;
        }
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    fn key_value(&self, index: usize) -> KeyValue {
        let def = &self.definitions.keys[index];
        KeyValue {
            key: def.name.clone(),
            readonly: def.accessibility == Accessibility::ReadOnly,
            value: match def.accessibility {
                Accessibility::WriteOnly => None,
                _ => self.slots[index].reported.clone(),
            },
        }
    }

    /// Answers GetConfiguration.req (5.8).
    ///
    /// `None` or an empty list: every key except write-only ones, in table order, then the
    /// application keys. Otherwise each requested key once, in request order; unrecognized
    /// names go to `unknownKey`. A request with more keys than GetConfigurationMaxKeys is
    /// refused (see the module docs). Empty lists are left out of the response.
    pub fn get(&self, keys: Option<&[String]>) -> Result<GetConfigurationResponse, TooManyKeys> {
        let requested = keys.unwrap_or(&[]);
        if requested.is_empty() {
            let all = (0..self.slots.len())
                .filter(|&i| self.definitions.keys[i].accessibility != Accessibility::WriteOnly)
                .map(|i| self.key_value(i))
                .collect();
            return Ok(GetConfigurationResponse {
                configuration_key: Some(all),
                unknown_key: None,
            });
        }
        let max = self.get_configuration_max_keys() as usize;
        if requested.len() > max {
            return Err(TooManyKeys {
                requested: requested.len(),
                max,
            });
        }
        let mut known: Vec<usize> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        for name in requested {
            match self.index(name) {
                Some(index) if !known.contains(&index) => known.push(index),
                Some(_) => {}
                None if !unknown.contains(name) => unknown.push(name.clone()),
                None => {}
            }
        }
        Ok(GetConfigurationResponse {
            configuration_key: (!known.is_empty())
                .then(|| known.into_iter().map(|i| self.key_value(i)).collect()),
            unknown_key: (!unknown.is_empty()).then_some(unknown),
        })
    }

    /// Answers ChangeConfiguration.req (5.3): `NotSupported` for an unknown key, `Rejected` for
    /// a read-only key or a value that does not fit, otherwise the value is stored and the
    /// outcome carries the record to persist and the key for the state machine to react to.
    pub fn change(&mut self, key: &str, value: &str) -> ChangeOutcome {
        let Some(index) = self.index(key) else {
            return ChangeOutcome::NotSupported;
        };
        let def = &self.definitions.keys[index];
        if def.accessibility == Accessibility::ReadOnly {
            return ChangeOutcome::Rejected(Rejection::ReadOnly);
        }
        let canonical = match def.value_type.canonical(value, self) {
            Ok(canonical) => canonical,
            Err(error) => return ChangeOutcome::Rejected(error.into()),
        };
        if def.id == ConfigKey::Standard(StandardKey::SecurityProfile)
            && let Err(rejection) = self.check_security_profile(&canonical)
        {
            return ChangeOutcome::Rejected(rejection);
        }
        let applied = self.apply(index, canonical);
        if applied.after_reboot {
            ChangeOutcome::RebootRequired(applied)
        } else {
            ChangeOutcome::Accepted(applied)
        }
    }

    /// Sets a writable key on the Charge Point's own initiative, e.g. falling back to the
    /// previous SecurityProfile when the new one cannot connect (A05.FR.08). The value is
    /// checked like a Central System's, but the rules about who may change what (read-write
    /// access, SecurityProfile only rising) do not apply.
    pub fn set_local(&mut self, key: &str, value: &str) -> Result<Applied, LocalSetError> {
        let index = self.index(key).ok_or(LocalSetError::NotDefined)?;
        let def = &self.definitions.keys[index];
        if def.accessibility == Accessibility::ReadOnly {
            return Err(LocalSetError::ReadOnly);
        }
        let canonical = def.value_type.canonical(value, self)?;
        Ok(self.apply(index, canonical))
    }

    fn check_security_profile(&self, canonical: &str) -> Result<(), Rejection> {
        let requested = value::parse_integer(canonical)?;
        let current = self
            .value_of(StandardKey::SecurityProfile)
            .and_then(|v| value::parse_integer(v).ok())
            .unwrap_or(0);
        if requested <= current {
            return Err(Rejection::SecurityProfileNotRaised { current });
        }
        // A stored AuthorizationKey passed validation, so its presence is enough.
        if matches!(requested, 1 | 2) && self.value_of(StandardKey::AuthorizationKey).is_none() {
            return Err(Rejection::AuthorizationKeyMissing { requested });
        }
        Ok(())
    }

    fn apply(&mut self, index: usize, canonical: String) -> Applied {
        let def = &self.definitions.keys[index];
        let slot = &mut self.slots[index];
        let after_reboot = def.reboot_required && slot.active.as_deref() != Some(&canonical);
        let previous = slot.reported.replace(canonical.clone());
        if !after_reboot {
            slot.active = Some(canonical.clone());
        }
        Applied {
            key: def.id.clone(),
            value: canonical,
            previous,
            after_reboot,
            write_only: def.accessibility == Accessibility::WriteOnly,
        }
    }

    // ---- generic access ------------------------------------------------------------------

    /// Whether a key of that name (case-insensitive) is defined.
    pub fn is_defined(&self, name: &str) -> bool {
        self.index(name).is_some()
    }

    /// The accessibility of a defined key.
    pub fn accessibility(&self, name: &str) -> Option<Accessibility> {
        self.index(name)
            .map(|i| self.definitions.keys[i].accessibility)
    }

    /// The value the Charge Point runs with (write-only keys included: this is the Charge
    /// Point reading its own settings, not the Central System).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.slots[self.index(name)?].active.as_deref()
    }

    /// The value a reboot-required change set, while it waits for the next start.
    pub fn pending(&self, name: &str) -> Option<&str> {
        let slot = &self.slots[self.index(name)?];
        (slot.reported != slot.active)
            .then_some(slot.reported.as_deref())
            .flatten()
    }

    // ---- typed access for the state machine ----------------------------------------------

    fn active(&self, key: StandardKey) -> Option<&str> {
        self.slots[*self.by_key.get(&key)?].active.as_deref()
    }

    /// An absent optional boolean means the function is not provided (chapter 9): false.
    fn flag(&self, key: StandardKey) -> bool {
        self.active(key)
            .is_some_and(|v| value::parse_bool(v).unwrap_or(false))
    }

    fn number(&self, key: StandardKey) -> Option<u32> {
        self.active(key).and_then(|v| v.parse().ok())
    }

    fn seconds(&self, key: StandardKey) -> Option<Duration> {
        self.number(key).map(|s| Duration::from_secs(s.into()))
    }

    /// `None` for zero, which these keys define as "off".
    fn seconds_or_off(&self, key: StandardKey) -> Option<Duration> {
        self.seconds(key).filter(|d| !d.is_zero())
    }

    fn measurands(&self, key: StandardKey) -> Vec<SampledMeasurand> {
        self.active(key)
            .map(|v| {
                value::split_list(v)
                    .filter_map(SampledMeasurand::parse)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// AllowOfflineTxForUnknownId (9.1.1); false when absent.
    pub fn allow_offline_tx_for_unknown_id(&self) -> bool {
        self.flag(StandardKey::AllowOfflineTxForUnknownId)
    }

    /// AuthorizationCacheEnabled (9.1.2); false when absent (no cache).
    pub fn authorization_cache_enabled(&self) -> bool {
        self.flag(StandardKey::AuthorizationCacheEnabled)
    }

    /// AuthorizeRemoteTxRequests (9.1.3).
    pub fn authorize_remote_tx_requests(&self) -> bool {
        self.flag(StandardKey::AuthorizeRemoteTxRequests)
    }

    /// ClockAlignedDataInterval (9.1.5); `None` when 0 (no clock-aligned data).
    pub fn clock_aligned_data_interval(&self) -> Option<Duration> {
        self.seconds_or_off(StandardKey::ClockAlignedDataInterval)
    }

    /// ConnectionTimeOut (9.1.6).
    pub fn connection_timeout(&self) -> Duration {
        self.seconds(StandardKey::ConnectionTimeOut)
            .unwrap_or_default()
    }

    /// GetConfigurationMaxKeys (9.1.9).
    pub fn get_configuration_max_keys(&self) -> u32 {
        self.number(StandardKey::GetConfigurationMaxKeys)
            .unwrap_or(u32::MAX)
    }

    /// HeartbeatInterval (9.1.10).
    pub fn heartbeat_interval(&self) -> Duration {
        self.seconds(StandardKey::HeartbeatInterval)
            .unwrap_or_default()
    }

    /// LocalAuthorizeOffline (9.1.12).
    pub fn local_authorize_offline(&self) -> bool {
        self.flag(StandardKey::LocalAuthorizeOffline)
    }

    /// LocalPreAuthorize (9.1.13).
    pub fn local_pre_authorize(&self) -> bool {
        self.flag(StandardKey::LocalPreAuthorize)
    }

    /// MaxEnergyOnInvalidId in Wh (9.1.14); `None` when the key is absent.
    pub fn max_energy_on_invalid_id(&self) -> Option<u32> {
        self.number(StandardKey::MaxEnergyOnInvalidId)
    }

    /// MeterValuesAlignedData (9.1.15).
    pub fn meter_values_aligned_data(&self) -> Vec<SampledMeasurand> {
        self.measurands(StandardKey::MeterValuesAlignedData)
    }

    /// MeterValuesSampledData (9.1.17).
    pub fn meter_values_sampled_data(&self) -> Vec<SampledMeasurand> {
        self.measurands(StandardKey::MeterValuesSampledData)
    }

    /// MeterValueSampleInterval (9.1.19); `None` when 0 (no sampled data).
    pub fn meter_value_sample_interval(&self) -> Option<Duration> {
        self.seconds_or_off(StandardKey::MeterValueSampleInterval)
    }

    /// MinimumStatusDuration (9.1.20); zero when absent.
    pub fn minimum_status_duration(&self) -> Duration {
        self.seconds(StandardKey::MinimumStatusDuration)
            .unwrap_or_default()
    }

    /// NumberOfConnectors (9.1.21).
    pub fn number_of_connectors(&self) -> u32 {
        self.number(StandardKey::NumberOfConnectors).unwrap_or(0)
    }

    /// ResetRetries (9.1.22).
    pub fn reset_retries(&self) -> u32 {
        self.number(StandardKey::ResetRetries).unwrap_or(0)
    }

    /// StopTransactionOnEVSideDisconnect (9.1.23); false when absent.
    pub fn stop_transaction_on_ev_side_disconnect(&self) -> bool {
        self.flag(StandardKey::StopTransactionOnEVSideDisconnect)
    }

    /// StopTransactionOnInvalidId (9.1.24).
    pub fn stop_transaction_on_invalid_id(&self) -> bool {
        self.flag(StandardKey::StopTransactionOnInvalidId)
    }

    /// StopTxnAlignedData (9.1.25); empty: no aligned values in StopTransaction.
    pub fn stop_txn_aligned_data(&self) -> Vec<SampledMeasurand> {
        self.measurands(StandardKey::StopTxnAlignedData)
    }

    /// StopTxnSampledData (9.1.27); empty: no sampled values in StopTransaction.
    pub fn stop_txn_sampled_data(&self) -> Vec<SampledMeasurand> {
        self.measurands(StandardKey::StopTxnSampledData)
    }

    /// SupportedFeatureProfiles (9.1.29): the feature profiles, Core first.
    pub fn supported_feature_profiles(&self) -> Vec<Profile> {
        self.definitions
            .profiles
            .iter()
            .copied()
            .filter(|p| p.feature_profile_name().is_some())
            .collect()
    }

    /// Whether `profile` (feature profile or extension) is supported.
    pub fn supports(&self, profile: Profile) -> bool {
        self.definitions.profiles.contains(&profile)
    }

    /// TransactionMessageAttempts (9.1.31).
    pub fn transaction_message_attempts(&self) -> u32 {
        self.number(StandardKey::TransactionMessageAttempts)
            .unwrap_or(0)
    }

    /// TransactionMessageRetryInterval (9.1.32).
    pub fn transaction_message_retry_interval(&self) -> Duration {
        self.seconds(StandardKey::TransactionMessageRetryInterval)
            .unwrap_or_default()
    }

    /// UnlockConnectorOnEVSideDisconnect (9.1.33).
    pub fn unlock_connector_on_ev_side_disconnect(&self) -> bool {
        self.flag(StandardKey::UnlockConnectorOnEVSideDisconnect)
    }

    /// WebSocketPingInterval (9.1.34); `None` when 0 or absent (no client pings).
    pub fn websocket_ping_interval(&self) -> Option<Duration> {
        self.seconds_or_off(StandardKey::WebSocketPingInterval)
    }

    /// MessageTimeout (errata 3.83); `None` when absent (the RPC layer's own default applies).
    pub fn message_timeout(&self) -> Option<Duration> {
        self.seconds(StandardKey::MessageTimeout)
    }

    /// StopTransactionMaxMeterValues (errata 3.91); `None` when absent.
    pub fn stop_transaction_max_meter_values(&self) -> Option<u32> {
        self.number(StandardKey::StopTransactionMaxMeterValues)
    }

    /// LocalAuthListEnabled (9.2.1); false without the Local Auth List Management profile.
    pub fn local_auth_list_enabled(&self) -> bool {
        self.flag(StandardKey::LocalAuthListEnabled)
    }

    /// LocalAuthListMaxLength (9.2.2); 0 without the profile.
    pub fn local_auth_list_max_length(&self) -> u32 {
        self.number(StandardKey::LocalAuthListMaxLength)
            .unwrap_or(0)
    }

    /// SendLocalListMaxLength (9.2.3); 0 without the profile.
    pub fn send_local_list_max_length(&self) -> u32 {
        self.number(StandardKey::SendLocalListMaxLength)
            .unwrap_or(0)
    }

    /// ReserveConnectorZeroSupported (9.3.1); false when absent.
    pub fn reserve_connector_zero_supported(&self) -> bool {
        self.flag(StandardKey::ReserveConnectorZeroSupported)
    }

    /// ChargeProfileMaxStackLevel (9.4.1); 0 without Smart Charging.
    pub fn charge_profile_max_stack_level(&self) -> u32 {
        self.number(StandardKey::ChargeProfileMaxStackLevel)
            .unwrap_or(0)
    }

    /// ChargingScheduleAllowedChargingRateUnit (9.4.2) as rate units: `Current` is A, `Power`
    /// is W (errata 3.88); empty without Smart Charging.
    pub fn charging_schedule_allowed_charging_rate_unit(&self) -> Vec<ChargingRateUnitType> {
        self.active(StandardKey::ChargingScheduleAllowedChargingRateUnit)
            .map(|v| {
                value::split_list(v)
                    .filter_map(|item| match item {
                        "Current" => Some(ChargingRateUnitType::A),
                        "Power" => Some(ChargingRateUnitType::W),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// ChargingScheduleMaxPeriods (9.4.3); 0 without Smart Charging.
    pub fn charging_schedule_max_periods(&self) -> u32 {
        self.number(StandardKey::ChargingScheduleMaxPeriods)
            .unwrap_or(0)
    }

    /// ConnectorSwitch3to1PhaseSupported (9.4.4); false when absent.
    pub fn connector_switch_3to1_phase_supported(&self) -> bool {
        self.flag(StandardKey::ConnectorSwitch3to1PhaseSupported)
    }

    /// MaxChargingProfilesInstalled (9.4.5); 0 without Smart Charging.
    pub fn max_charging_profiles_installed(&self) -> u32 {
        self.number(StandardKey::MaxChargingProfilesInstalled)
            .unwrap_or(0)
    }

    /// SupportedFileTransferProtocols (errata 3.90); empty when absent.
    pub fn supported_file_transfer_protocols(&self) -> Vec<&str> {
        self.active(StandardKey::SupportedFileTransferProtocols)
            .map(|v| value::split_list(v).collect())
            .unwrap_or_default()
    }

    /// AdditionalRootCertificateCheck (security 7.1); false when absent.
    pub fn additional_root_certificate_check(&self) -> bool {
        self.flag(StandardKey::AdditionalRootCertificateCheck)
    }

    /// AuthorizationKey (security 7.2), the HTTP Basic password; `None` when not set.
    pub fn authorization_key(&self) -> Option<&str> {
        self.active(StandardKey::AuthorizationKey)
    }

    /// CertificateSignedMaxChainSize (security 7.3); `None` when absent.
    pub fn certificate_signed_max_chain_size(&self) -> Option<u32> {
        self.number(StandardKey::CertificateSignedMaxChainSize)
    }

    /// CertificateStoreMaxLength (security 7.4); `None` when absent.
    pub fn certificate_store_max_length(&self) -> Option<u32> {
        self.number(StandardKey::CertificateStoreMaxLength)
    }

    /// CpoName (security 7.5); `None` when not set.
    pub fn cpo_name(&self) -> Option<&str> {
        self.active(StandardKey::CpoName)
    }

    /// SecurityProfile (security 7.6); 0 when absent ("Default, when no security profile is
    /// yet configured: 0").
    pub fn security_profile(&self) -> u8 {
        self.number(StandardKey::SecurityProfile)
            .and_then(|n| u8::try_from(n).ok())
            .unwrap_or(0)
    }

    /// CentralContractValidationAllowed (PnC 9.1); false when absent.
    pub fn central_contract_validation_allowed(&self) -> bool {
        self.flag(StandardKey::CentralContractValidationAllowed)
    }

    /// CertSigningWaitMinimum (PnC 9.3); `None` when 0 or absent (no new CSR).
    pub fn cert_signing_wait_minimum(&self) -> Option<Duration> {
        self.seconds_or_off(StandardKey::CertSigningWaitMinimum)
    }

    /// CertSigningRepeatTimes (PnC 9.4); 0 when absent.
    pub fn cert_signing_repeat_times(&self) -> u32 {
        self.number(StandardKey::CertSigningRepeatTimes)
            .unwrap_or(0)
    }

    /// ContractValidationOffline (PnC 9.6); false without Plug & Charge.
    pub fn contract_validation_offline(&self) -> bool {
        self.flag(StandardKey::ContractValidationOffline)
    }

    /// ISO15118PnCEnabled (PnC 9.7); false without Plug & Charge.
    pub fn iso15118_pnc_enabled(&self) -> bool {
        self.flag(StandardKey::ISO15118PnCEnabled)
    }
}
