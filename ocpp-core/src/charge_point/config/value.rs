//! Value types of configuration keys: how a value written by the Central System is checked and
//! brought to its canonical form.
//!
//! Every value travels as a string (`CiString500Type`). A value is accepted only if it parses
//! as its key's type and lies within its range; what is stored and reported is the canonical
//! form: `true`/`false` in lower case, integers in plain decimal, list items trimmed and joined
//! with `,` in the specification's spelling. A value already in canonical form is stored as
//! given, so a Central System reads back exactly what it wrote.

use crate::v16::{Measurand, Phase};

use super::keys::StandardKey;

/// The longest value a key may hold: `KeyValue.value` is `CiString500Type` (7.29).
pub const MAX_VALUE_CHARS: usize = 500;

/// The type of a configuration key's value, with its range or allowed values.
#[derive(Debug, Clone, Copy)]
pub enum ValueType {
    /// `true` or `false`, case-insensitive (the value is a `CiString500Type`).
    Boolean,
    /// A decimal integer within `min..=max`.
    Integer {
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// Any text of at most `max_chars` characters, stored verbatim.
    Text {
        /// The longest allowed value in characters (at most 500 in any case).
        max_chars: usize,
    },
    /// Hexadecimal digits encoding whole bytes, stored verbatim (the AuthorizationKey is used
    /// as the password as written, so its letter case is kept).
    HexBinary {
        /// The fewest digits.
        min_digits: usize,
        /// The most digits.
        max_digits: usize,
    },
    /// A comma separated list of measurands, each optionally followed by `.` and a phase
    /// (`Voltage.L1`, 9.1.17), limited to the measurands the Charge Point supports (errata
    /// 3.14.4).
    MeasurandList {
        /// The most items.
        max_items: ListLimit,
    },
    /// A comma separated list of identifiers from `allowed` (case-insensitive, reported in the
    /// spelling of `allowed`), without repetitions.
    EnumList {
        /// The allowed identifiers.
        allowed: &'static [&'static str],
        /// The most items.
        max_items: ListLimit,
    },
    /// One identifier from the list (case-insensitive, reported in the spelling of the list).
    OneOf(&'static [&'static str]),
    /// ConnectorPhaseRotation: `<connector>.<rotation>` items (9.1.7), connector at most
    /// NumberOfConnectors, each connector at most once.
    PhaseRotationList {
        /// The most items.
        max_items: ListLimit,
    },
    /// An application-defined check: returns the canonical value, or why the value is refused.
    Custom(fn(&str) -> Result<String, String>),
}

/// The most items a comma separated list may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListLimit {
    /// The value of a `...MaxLength` key; when that key is not defined, 1 item (5.3: "If this
    /// key is not set, a safe value of 1 (one) item SHOULD be assumed").
    Key(StandardKey),
    /// A fixed number.
    Fixed(usize),
    /// No limit (read-only lists the integrator sets).
    Unlimited,
}

/// Why a value is refused; the Central System gets `Rejected`.
///
/// Messages never repeat the value itself: it may be a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// Longer than allowed.
    #[error("value longer than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Not `true` or `false`.
    #[error("not a boolean (true or false)")]
    NotBoolean,
    /// Not a decimal integer.
    #[error("not a decimal integer")]
    NotInteger,
    /// An integer outside the range.
    #[error("integer outside {min}..={max}")]
    OutOfRange {
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// Not hexadecimal digits encoding whole bytes within the length limits.
    #[error("not {min_digits} to {max_digits} hexadecimal digits encoding whole bytes")]
    NotHexBinary {
        /// The fewest digits.
        min_digits: usize,
        /// The most digits.
        max_digits: usize,
    },
    /// An empty item in a list (`a,,b` or a trailing comma).
    #[error("empty item in a comma separated list")]
    EmptyItem,
    /// An item that is not one of the allowed values.
    #[error("'{item}' is not an allowed value")]
    UnknownItem {
        /// The item.
        item: String,
    },
    /// A measurand (or phase) the Charge Point cannot measure (errata 3.14.4).
    #[error("measurand '{item}' is not supported by this Charge Point")]
    UnsupportedMeasurand {
        /// The item.
        item: String,
    },
    /// An item given twice.
    #[error("'{item}' is listed twice")]
    DuplicateItem {
        /// The item.
        item: String,
    },
    /// More items than the list's maximum length.
    #[error("{count} items, more than the maximum of {max}")]
    TooManyItems {
        /// The number of items given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// A connector number above NumberOfConnectors.
    #[error("connector in '{item}' does not exist")]
    NoSuchConnector {
        /// The item.
        item: String,
    },
    /// The application's check refused it.
    #[error("{0}")]
    Custom(String),
}

/// A measurand selected by a `...Data` key, with the phase it is restricted to if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SampledMeasurand {
    /// The measurand.
    pub measurand: Measurand,
    /// `Voltage.L1` selects phase L1 only; `None`: every phase the meter has.
    pub phase: Option<Phase>,
}

/// Every measurand of 1.6 (7.31), in schema order.
pub(crate) const ALL_MEASURANDS: [Measurand; 22] = [
    Measurand::EnergyActiveExportRegister,
    Measurand::EnergyActiveImportRegister,
    Measurand::EnergyReactiveExportRegister,
    Measurand::EnergyReactiveImportRegister,
    Measurand::EnergyActiveExportInterval,
    Measurand::EnergyActiveImportInterval,
    Measurand::EnergyReactiveExportInterval,
    Measurand::EnergyReactiveImportInterval,
    Measurand::PowerActiveExport,
    Measurand::PowerActiveImport,
    Measurand::PowerOffered,
    Measurand::PowerReactiveExport,
    Measurand::PowerReactiveImport,
    Measurand::PowerFactor,
    Measurand::CurrentImport,
    Measurand::CurrentExport,
    Measurand::CurrentOffered,
    Measurand::Voltage,
    Measurand::Frequency,
    Measurand::Temperature,
    Measurand::SoC,
    Measurand::Rpm,
];

const ALL_PHASES: [Phase; 10] = [
    Phase::L1,
    Phase::L2,
    Phase::L3,
    Phase::N,
    Phase::L1N,
    Phase::L2N,
    Phase::L3N,
    Phase::L1L2,
    Phase::L2L3,
    Phase::L3L1,
];

/// The phase rotations of 9.1.7.
const PHASE_ROTATIONS: &[&str] = &[
    "NotApplicable",
    "Unknown",
    "RST",
    "RTS",
    "SRT",
    "STR",
    "TRS",
    "TSR",
];

impl SampledMeasurand {
    /// Reads one list item, `Measurand` or `Measurand.Phase`, case-insensitively.
    pub fn parse(item: &str) -> Option<SampledMeasurand> {
        if let Some(measurand) = measurand_named(item) {
            return Some(SampledMeasurand {
                measurand,
                phase: None,
            });
        }
        // Measurand names contain dots themselves, so the phase is what follows the last one.
        let (measurand, phase) = item.rsplit_once('.')?;
        Some(SampledMeasurand {
            measurand: measurand_named(measurand)?,
            phase: Some(
                ALL_PHASES
                    .into_iter()
                    .find(|p| p.as_str().eq_ignore_ascii_case(phase))?,
            ),
        })
    }

    /// The item as the specification spells it.
    pub fn to_item(self) -> String {
        match self.phase {
            Some(phase) => format!("{}.{}", self.measurand.as_str(), phase.as_str()),
            None => self.measurand.as_str().to_owned(),
        }
    }
}

fn measurand_named(name: &str) -> Option<Measurand> {
    ALL_MEASURANDS
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(name))
}

/// What validation needs to know besides the value: other keys and the hardware.
pub(crate) trait Context {
    /// The current value of a standard key, `None` if the key is not defined or not set.
    fn value_of(&self, key: StandardKey) -> Option<&str>;
    /// Whether the Charge Point can measure `measurand`.
    fn supports_measurand(&self, measurand: Measurand) -> bool;
}

impl ValueType {
    /// Checks `raw` and returns its canonical form.
    pub(crate) fn canonical(
        &self,
        raw: &str,
        context: &dyn Context,
    ) -> Result<String, InvalidValue> {
        if raw.chars().count() > MAX_VALUE_CHARS {
            return Err(InvalidValue::TooLong {
                max: MAX_VALUE_CHARS,
            });
        }
        match *self {
            ValueType::Boolean => parse_bool(raw).map(|b| b.to_string()),
            ValueType::Integer { min, max } => {
                let n = parse_integer(raw)?;
                if n < min || n > max {
                    return Err(InvalidValue::OutOfRange { min, max });
                }
                Ok(n.to_string())
            }
            ValueType::Text { max_chars } => {
                if raw.chars().count() > max_chars {
                    return Err(InvalidValue::TooLong { max: max_chars });
                }
                Ok(raw.to_owned())
            }
            ValueType::HexBinary {
                min_digits,
                max_digits,
            } => {
                let ok = raw.len() >= min_digits
                    && raw.len() <= max_digits
                    && raw.len().is_multiple_of(2)
                    && raw.bytes().all(|b| b.is_ascii_hexdigit());
                if ok {
                    Ok(raw.to_owned())
                } else {
                    Err(InvalidValue::NotHexBinary {
                        min_digits,
                        max_digits,
                    })
                }
            }
            ValueType::MeasurandList { max_items } => {
                let items = list_items(raw, max_items, context)?;
                let mut out: Vec<SampledMeasurand> = Vec::with_capacity(items.len());
                for item in items {
                    let parsed =
                        SampledMeasurand::parse(item).ok_or_else(|| InvalidValue::UnknownItem {
                            item: item.to_owned(),
                        })?;
                    if !context.supports_measurand(parsed.measurand) {
                        return Err(InvalidValue::UnsupportedMeasurand {
                            item: item.to_owned(),
                        });
                    }
                    if out.contains(&parsed) {
                        return Err(InvalidValue::DuplicateItem {
                            item: item.to_owned(),
                        });
                    }
                    out.push(parsed);
                }
                Ok(join(out.into_iter().map(SampledMeasurand::to_item)))
            }
            ValueType::EnumList { allowed, max_items } => {
                let items = list_items(raw, max_items, context)?;
                let mut out: Vec<&str> = Vec::with_capacity(items.len());
                for item in items {
                    let name = one_of(allowed, item)?;
                    if out.contains(&name) {
                        return Err(InvalidValue::DuplicateItem {
                            item: item.to_owned(),
                        });
                    }
                    out.push(name);
                }
                Ok(out.join(","))
            }
            ValueType::OneOf(allowed) => one_of(allowed, raw.trim()).map(str::to_owned),
            ValueType::PhaseRotationList { max_items } => {
                let items = list_items(raw, max_items, context)?;
                let connectors = context
                    .value_of(StandardKey::NumberOfConnectors)
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(0);
                let mut out: Vec<(u32, &str)> = Vec::with_capacity(items.len());
                for item in items {
                    let unknown = || InvalidValue::UnknownItem {
                        item: item.to_owned(),
                    };
                    let (connector, rotation) = item.split_once('.').ok_or_else(unknown)?;
                    let connector = connector.trim();
                    if connector.is_empty() || !connector.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(unknown());
                    }
                    let connector: u32 = connector.parse().map_err(|_| unknown())?;
                    if connector > connectors {
                        return Err(InvalidValue::NoSuchConnector {
                            item: item.to_owned(),
                        });
                    }
                    let rotation = one_of(PHASE_ROTATIONS, rotation.trim())?;
                    if out.iter().any(|(c, _)| *c == connector) {
                        return Err(InvalidValue::DuplicateItem {
                            item: item.to_owned(),
                        });
                    }
                    out.push((connector, rotation));
                }
                Ok(join(out.into_iter().map(|(c, r)| format!("{c}.{r}"))))
            }
            ValueType::Custom(check) => {
                let value = check(raw).map_err(InvalidValue::Custom)?;
                if value.chars().count() > MAX_VALUE_CHARS {
                    return Err(InvalidValue::TooLong {
                        max: MAX_VALUE_CHARS,
                    });
                }
                Ok(value)
            }
        }
    }
}

/// `true` or `false`, ignoring ASCII case and surrounding white space.
pub(crate) fn parse_bool(raw: &str) -> Result<bool, InvalidValue> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if raw.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(InvalidValue::NotBoolean)
    }
}

/// An optional `-` and decimal digits, surrounding white space ignored; no `+`, no fraction.
pub(crate) fn parse_integer(raw: &str) -> Result<i64, InvalidValue> {
    let raw = raw.trim();
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::NotInteger);
    }
    // Too many digits for i64 is out of any range a key has.
    raw.parse::<i64>().map_err(|_| InvalidValue::OutOfRange {
        min: i64::MIN,
        max: i64::MAX,
    })
}

fn one_of(allowed: &'static [&'static str], item: &str) -> Result<&'static str, InvalidValue> {
    allowed
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(item))
        .ok_or_else(|| InvalidValue::UnknownItem {
            item: item.to_owned(),
        })
}

/// Splits a CSL into trimmed items and checks the count; the empty string is the empty list.
fn list_items<'a>(
    raw: &'a str,
    limit: ListLimit,
    context: &dyn Context,
) -> Result<Vec<&'a str>, InvalidValue> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = raw.split(',').map(str::trim).collect();
    if items.iter().any(|item| item.is_empty()) {
        return Err(InvalidValue::EmptyItem);
    }
    let max = match limit {
        ListLimit::Key(key) => context
            .value_of(key)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1),
        ListLimit::Fixed(max) => max,
        ListLimit::Unlimited => usize::MAX,
    };
    if items.len() > max {
        return Err(InvalidValue::TooManyItems {
            count: items.len(),
            max,
        });
    }
    Ok(items)
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(",")
}

/// Splits a canonical list value into its items.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Context for Fixed {
        fn value_of(&self, key: StandardKey) -> Option<&str> {
            match key {
                StandardKey::MeterValuesSampledDataMaxLength => Some("3"),
                StandardKey::NumberOfConnectors => Some("2"),
                _ => None,
            }
        }
        fn supports_measurand(&self, measurand: Measurand) -> bool {
            measurand != Measurand::Rpm
        }
    }

    fn check(ty: ValueType, raw: &str) -> Result<String, InvalidValue> {
        ty.canonical(raw, &Fixed)
    }

    #[test]
    fn the_measurand_table_matches_the_schema_spelling() {
        for m in ALL_MEASURANDS {
            let json = serde_json::to_value(m).unwrap();
            assert_eq!(json.as_str(), Some(m.as_str()));
        }
        for p in ALL_PHASES {
            assert_eq!(serde_json::to_value(p).unwrap().as_str(), Some(p.as_str()));
        }
    }

    #[test]
    fn booleans_ignore_case_and_are_stored_in_lower_case() {
        assert_eq!(check(ValueType::Boolean, "TRUE").unwrap(), "true");
        assert_eq!(check(ValueType::Boolean, "False").unwrap(), "false");
        assert_eq!(
            check(ValueType::Boolean, "1"),
            Err(InvalidValue::NotBoolean)
        );
        assert_eq!(
            check(ValueType::Boolean, "yes"),
            Err(InvalidValue::NotBoolean)
        );
        assert_eq!(check(ValueType::Boolean, ""), Err(InvalidValue::NotBoolean));
    }

    #[test]
    fn integers_are_plain_decimal_within_range() {
        let ty = ValueType::Integer { min: 0, max: 100 };
        assert_eq!(check(ty, "042").unwrap(), "42");
        assert_eq!(check(ty, " 7 ").unwrap(), "7");
        assert_eq!(
            check(ty, "-1"),
            Err(InvalidValue::OutOfRange { min: 0, max: 100 })
        );
        assert_eq!(
            check(ty, "101"),
            Err(InvalidValue::OutOfRange { min: 0, max: 100 })
        );
        for bad in ["", "+5", "5.0", "1e3", "0x10", "-", "ten"] {
            assert_eq!(check(ty, bad), Err(InvalidValue::NotInteger), "{bad}");
        }
        assert!(matches!(
            check(ty, "99999999999999999999999"),
            Err(InvalidValue::OutOfRange { .. })
        ));
    }

    #[test]
    fn measurand_lists_accept_phases_and_refuse_unsupported_unknown_and_duplicates() {
        let ty = ValueType::MeasurandList {
            max_items: ListLimit::Key(StandardKey::MeterValuesSampledDataMaxLength),
        };
        assert_eq!(
            check(
                ty,
                "energy.active.import.register, Voltage.l1,Current.Import"
            )
            .unwrap(),
            "Energy.Active.Import.Register,Voltage.L1,Current.Import"
        );
        assert_eq!(check(ty, "").unwrap(), "");
        assert!(matches!(
            check(ty, "Volts"),
            Err(InvalidValue::UnknownItem { .. })
        ));
        assert!(matches!(
            check(ty, "Voltage.L4"),
            Err(InvalidValue::UnknownItem { .. })
        ));
        assert!(matches!(
            check(ty, "RPM"),
            Err(InvalidValue::UnsupportedMeasurand { .. })
        ));
        assert!(matches!(
            check(ty, "SoC,SoC"),
            Err(InvalidValue::DuplicateItem { .. })
        ));
        assert_eq!(check(ty, "SoC,,Voltage"), Err(InvalidValue::EmptyItem));
        assert_eq!(
            check(ty, "SoC,Voltage,Frequency,Temperature"),
            Err(InvalidValue::TooManyItems { count: 4, max: 3 })
        );
    }

    #[test]
    fn a_list_whose_max_length_key_is_absent_holds_one_item() {
        let ty = ValueType::MeasurandList {
            max_items: ListLimit::Key(StandardKey::StopTxnSampledDataMaxLength),
        };
        assert!(check(ty, "SoC").is_ok());
        assert_eq!(
            check(ty, "SoC,Voltage"),
            Err(InvalidValue::TooManyItems { count: 2, max: 1 })
        );
    }

    #[test]
    fn phase_rotations_name_existing_connectors_once() {
        let ty = ValueType::PhaseRotationList {
            max_items: ListLimit::Fixed(3),
        };
        assert_eq!(
            check(ty, "0.rst, 1.RTS,2.NotApplicable").unwrap(),
            "0.RST,1.RTS,2.NotApplicable"
        );
        assert!(matches!(
            check(ty, "3.RST"),
            Err(InvalidValue::NoSuchConnector { .. })
        ));
        assert!(matches!(
            check(ty, "1.RST,1.TSR"),
            Err(InvalidValue::DuplicateItem { .. })
        ));
        assert!(matches!(
            check(ty, "RST"),
            Err(InvalidValue::UnknownItem { .. })
        ));
        assert!(matches!(
            check(ty, "1.XYZ"),
            Err(InvalidValue::UnknownItem { .. })
        ));
        assert!(matches!(
            check(ty, "-1.RST"),
            Err(InvalidValue::UnknownItem { .. })
        ));
    }

    #[test]
    fn hex_binary_is_whole_bytes_within_length_and_kept_verbatim() {
        let ty = ValueType::HexBinary {
            min_digits: 32,
            max_digits: 40,
        };
        let ok = "4F43415F4F4354545F61646D696E5F74657374";
        assert_eq!(check(ty, ok).unwrap(), ok);
        assert_eq!(check(ty, &ok.to_lowercase()).unwrap(), ok.to_lowercase());
        let err = Err(InvalidValue::NotHexBinary {
            min_digits: 32,
            max_digits: 40,
        });
        assert_eq!(check(ty, &"A".repeat(30)), err);
        assert_eq!(check(ty, &"A".repeat(42)), err);
        assert_eq!(check(ty, &"A".repeat(33)), err);
        assert_eq!(check(ty, &format!("{}G", "A".repeat(33))), err);
    }

    #[test]
    fn every_value_is_at_most_500_characters() {
        let ty = ValueType::Text { max_chars: 1000 };
        assert_eq!(check(ty, &"x".repeat(500)).unwrap().len(), 500);
        assert_eq!(
            check(ty, &"x".repeat(501)),
            Err(InvalidValue::TooLong { max: 500 })
        );
    }
}
