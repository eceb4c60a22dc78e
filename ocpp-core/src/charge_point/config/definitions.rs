//! What the integrator declares before start: the supported profiles, which optional keys
//! exist, initial values and limits, the measurands the meter has, and application keys.

use std::collections::BTreeMap;

use crate::v16::Measurand;

use super::ConfigKey;
use super::keys::{AccessRule, Accessibility, Profile, Requirement, STANDARD_KEYS, StandardKey};
use super::value::{ALL_MEASURANDS, Context, InvalidValue, ValueType};

/// The longest key name: keys are `CiString50Type` (6.9, 6.23).
pub const MAX_KEY_CHARS: usize = 50;

/// A key defined by the application (vendor settings and the like). It behaves like a standard
/// key: GetConfiguration reports it, ChangeConfiguration checks it with its [`ValueType`],
/// changes are persisted and restored.
#[derive(Debug, Clone)]
pub struct ApplicationKey {
    name: String,
    value_type: ValueType,
    accessibility: Accessibility,
    reboot_required: bool,
    initial: Option<String>,
}

impl ApplicationKey {
    /// A key named `name` (at most 50 characters, unique case-insensitively among all keys)
    /// holding values of `value_type`, starting with `initial` (`None`: not set).
    pub fn new(
        name: impl Into<String>,
        value_type: ValueType,
        accessibility: Accessibility,
        initial: Option<&str>,
    ) -> ApplicationKey {
        ApplicationKey {
            name: name.into(),
            value_type,
            accessibility,
            reboot_required: false,
            initial: initial.map(str::to_owned),
        }
    }

    /// Makes a change answer `RebootRequired` and take effect at the next start.
    pub fn reboot_required(mut self, reboot_required: bool) -> ApplicationKey {
        self.reboot_required = reboot_required;
        self
    }
}

/// Why a set of definitions cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// A required key of a supported profile cannot be removed (chapter 9).
    #[error("{key} is required by its profile and cannot be removed")]
    RequiredKey {
        /// The key.
        key: &'static str,
    },
    /// The key belongs to no supported profile.
    #[error("{key} belongs to a profile that is not supported")]
    OutsideProfiles {
        /// The key.
        key: &'static str,
    },
    /// A setting was given for a key that is not defined.
    #[error("{key} is not defined, so it takes no setting")]
    NotDefined {
        /// The key.
        key: &'static str,
    },
    /// The specification does not allow that accessibility for the key.
    #[error("{key} cannot be {accessibility:?}")]
    AccessibilityNotAllowed {
        /// The key.
        key: &'static str,
        /// The accessibility asked for.
        accessibility: Accessibility,
    },
    /// SupportedFeatureProfiles follows from the profiles; it is not set directly.
    #[error("{key} is derived from the supported profiles")]
    Derived {
        /// The key.
        key: &'static str,
    },
    /// An initial value does not validate.
    #[error("initial value of {key}: {error}")]
    InvalidInitial {
        /// The key.
        key: String,
        /// Why.
        error: InvalidValue,
    },
    /// An application key name is empty or longer than 50 characters.
    #[error("key name '{name}' is empty or longer than 50 characters")]
    BadName {
        /// The name.
        name: String,
    },
    /// An application key name is already taken (names compare case-insensitively).
    #[error("key name '{name}' is already defined")]
    DuplicateName {
        /// The name.
        name: String,
    },
}

/// One defined key, resolved.
#[derive(Debug, Clone)]
pub(crate) struct KeyDef {
    pub(crate) name: String,
    pub(crate) id: ConfigKey,
    pub(crate) value_type: ValueType,
    pub(crate) accessibility: Accessibility,
    pub(crate) reboot_required: bool,
    /// Canonical.
    pub(crate) initial: Option<String>,
}

/// The keys a Charge Point has, checked and ready for [`Configuration::restore`].
///
/// Built with [`Definitions::builder`]; [`Definitions::standard`] is the builder's default.
///
/// [`Configuration::restore`]: super::Configuration::restore
#[derive(Debug, Clone)]
pub struct Definitions {
    pub(crate) keys: Vec<KeyDef>,
    pub(crate) measurands: Vec<Measurand>,
    pub(crate) profiles: Vec<Profile>,
}

impl Definitions {
    /// A builder starting from the standard keys of every feature profile and the security
    /// white paper (not Plug & Charge), all measurands, and the table's defaults.
    pub fn builder() -> DefinitionsBuilder {
        DefinitionsBuilder {
            profiles: vec![
                Profile::Core,
                Profile::FirmwareManagement,
                Profile::LocalAuthListManagement,
                Profile::Reservation,
                Profile::SmartCharging,
                Profile::RemoteTrigger,
                Profile::Security,
            ],
            present: BTreeMap::new(),
            initial: BTreeMap::new(),
            access: BTreeMap::new(),
            reboot: BTreeMap::new(),
            measurands: ALL_MEASURANDS.to_vec(),
            application: Vec::new(),
        }
    }

    /// The builder's defaults, built.
    pub fn standard() -> Definitions {
        Definitions::builder()
            .build()
            .expect("the standard table's defaults are valid (unit tested)")
    }

    /// The supported profiles, Core first.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The measurands the `...Data` keys may select.
    pub fn measurands(&self) -> &[Measurand] {
        &self.measurands
    }

    /// The names of the defined keys, standard keys in table order, then application keys.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|def| def.name.as_str())
    }
}

/// Declares a Charge Point's keys; settings are checked together by [`DefinitionsBuilder::build`].
#[derive(Debug, Clone)]
pub struct DefinitionsBuilder {
    profiles: Vec<Profile>,
    present: BTreeMap<StandardKey, bool>,
    initial: BTreeMap<StandardKey, String>,
    access: BTreeMap<StandardKey, Accessibility>,
    reboot: BTreeMap<StandardKey, bool>,
    measurands: Vec<Measurand>,
    application: Vec<ApplicationKey>,
}

impl DefinitionsBuilder {
    /// The supported profiles (Core is always included). Keys of other profiles are not
    /// defined, and SupportedFeatureProfiles lists the feature profiles among them.
    pub fn profiles(mut self, profiles: &[Profile]) -> DefinitionsBuilder {
        self.profiles = profiles.to_vec();
        self
    }

    /// Defines an optional key that the table leaves out by default (BlinkRepeat,
    /// LightIntensity, MaxEnergyOnInvalidId, ...).
    pub fn with_key(mut self, key: StandardKey) -> DefinitionsBuilder {
        self.present.insert(key, true);
        self
    }

    /// Leaves an optional key out: the Charge Point does not have the function it configures
    /// (chapter 9: an absent optional boolean means the functionality is not provided).
    pub fn without_key(mut self, key: StandardKey) -> DefinitionsBuilder {
        self.present.insert(key, false);
        self
    }

    /// The value `key` starts with, e.g. NumberOfConnectors, a `...MaxLength` limit, or factory
    /// credentials in AuthorizationKey. Checked by [`DefinitionsBuilder::build`].
    pub fn initial(mut self, key: StandardKey, value: &str) -> DefinitionsBuilder {
        self.initial.insert(key, value.to_owned());
        self
    }

    /// The accessibility of a key whose specification leaves the choice ("R or RW":
    /// AuthorizeRemoteTxRequests, StopTransactionOnEVSideDisconnect,
    /// UnlockConnectorOnEVSideDisconnect, which must be read-only with a fixed cable).
    pub fn accessibility(mut self, key: StandardKey, access: Accessibility) -> DefinitionsBuilder {
        self.access.insert(key, access);
        self
    }

    /// Makes a change of `key` answer `RebootRequired` and take effect at the next start. No
    /// standard key needs it by default: the stack applies every one of them at once.
    pub fn reboot_required(mut self, key: StandardKey, required: bool) -> DefinitionsBuilder {
        self.reboot.insert(key, required);
        self
    }

    /// The measurands the meter can provide; a `...Data` value naming another is `Rejected`
    /// (errata 3.14.4).
    pub fn supported_measurands(mut self, measurands: &[Measurand]) -> DefinitionsBuilder {
        self.measurands = measurands.to_vec();
        self
    }

    /// Adds an application-defined key.
    pub fn application_key(mut self, key: ApplicationKey) -> DefinitionsBuilder {
        self.application.push(key);
        self
    }

    /// Checks every setting and initial value against the specification and each other.
    pub fn build(self) -> Result<Definitions, DefinitionError> {
        let mut profiles = self.profiles;
        profiles.push(Profile::Core);
        profiles.sort();
        profiles.dedup();

        let mut keys = Vec::with_capacity(STANDARD_KEYS.len() + self.application.len());
        for spec in STANDARD_KEYS {
            let in_profiles = spec.profiles.iter().any(|p| profiles.contains(p));
            let present = match self.present.get(&spec.key) {
                Some(true) if !in_profiles => {
                    return Err(DefinitionError::OutsideProfiles { key: spec.name });
                }
                Some(false) if in_profiles && spec.requirement == Requirement::Required => {
                    return Err(DefinitionError::RequiredKey { key: spec.name });
                }
                Some(present) => *present,
                None => spec.present_by_default,
            };
            if !(in_profiles && present) {
                if self.initial.contains_key(&spec.key)
                    || self.access.contains_key(&spec.key)
                    || self.reboot.contains_key(&spec.key)
                {
                    return Err(DefinitionError::NotDefined { key: spec.name });
                }
                continue;
            }
            let accessibility = match self.access.get(&spec.key) {
                // Only a choice the specification leaves open can be made; restating a fixed
                // rule would hide a misunderstanding of the key.
                Some(&access)
                    if spec.access == AccessRule::ReadOnlyOrReadWrite
                        && spec.access.allows(access) =>
                {
                    access
                }
                Some(&access) => {
                    return Err(DefinitionError::AccessibilityNotAllowed {
                        key: spec.name,
                        accessibility: access,
                    });
                }
                None => spec.access.default_accessibility(),
            };
            let initial = if spec.key == StandardKey::SupportedFeatureProfiles {
                if self.initial.contains_key(&spec.key) {
                    return Err(DefinitionError::Derived { key: spec.name });
                }
                let names: Vec<&str> = profiles
                    .iter()
                    .filter_map(|p| p.feature_profile_name())
                    .collect();
                Some(names.join(","))
            } else {
                match self.initial.get(&spec.key) {
                    Some(value) => Some(value.clone()),
                    None => spec.default.map(str::to_owned),
                }
            };
            keys.push(KeyDef {
                name: spec.name.to_owned(),
                id: ConfigKey::Standard(spec.key),
                value_type: spec.value_type,
                accessibility,
                reboot_required: self.reboot.get(&spec.key).copied().unwrap_or(false),
                initial,
            });
        }
        for app in self.application {
            let chars = app.name.chars().count();
            if chars == 0 || chars > MAX_KEY_CHARS {
                return Err(DefinitionError::BadName { name: app.name });
            }
            let taken = StandardKey::from_name(&app.name).is_some()
                || keys
                    .iter()
                    .any(|def| def.name.eq_ignore_ascii_case(&app.name));
            if taken {
                return Err(DefinitionError::DuplicateName { name: app.name });
            }
            keys.push(KeyDef {
                id: ConfigKey::Application(app.name.clone()),
                name: app.name,
                value_type: app.value_type,
                accessibility: app.accessibility,
                reboot_required: app.reboot_required,
                initial: app.initial,
            });
        }

        // Lists are checked against limits held by integer keys, so those come first.
        let mut context = BuildContext {
            values: BTreeMap::new(),
            measurands: &self.measurands,
        };
        for pass_lists in [false, true] {
            for def in &mut keys {
                if is_list(&def.value_type) != pass_lists {
                    continue;
                }
                if let Some(raw) = &def.initial {
                    let canonical = def.value_type.canonical(raw, &context).map_err(|error| {
                        DefinitionError::InvalidInitial {
                            key: def.name.clone(),
                            error,
                        }
                    })?;
                    if let ConfigKey::Standard(key) = def.id {
                        context.values.insert(key, canonical.clone());
                    }
                    def.initial = Some(canonical);
                }
            }
        }

        Ok(Definitions {
            keys,
            measurands: self.measurands,
            profiles,
        })
    }
}

fn is_list(value_type: &ValueType) -> bool {
    matches!(
        value_type,
        ValueType::MeasurandList { .. }
            | ValueType::EnumList { .. }
            | ValueType::PhaseRotationList { .. }
    )
}

struct BuildContext<'a> {
    values: BTreeMap<StandardKey, String>,
    measurands: &'a [Measurand],
}

impl Context for BuildContext<'_> {
    fn value_of(&self, key: StandardKey) -> Option<&str> {
        self.values.get(&key).map(String::as_str)
    }

    fn supports_measurand(&self, measurand: Measurand) -> bool {
        self.measurands.contains(&measurand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_defaults_are_valid_with_and_without_plug_and_charge() {
        let standard = Definitions::standard();
        assert!(!standard.names().any(|n| n == "ISO15118PnCEnabled"));
        let all = Definitions::builder()
            .profiles(&Profile::ALL)
            .build()
            .unwrap();
        assert!(all.names().any(|n| n == "ISO15118PnCEnabled"));
    }

    #[test]
    fn settings_for_keys_that_are_not_defined_are_refused() {
        let err = Definitions::builder()
            .profiles(&[Profile::Core])
            .initial(StandardKey::LocalAuthListMaxLength, "10")
            .build()
            .unwrap_err();
        assert_eq!(
            err,
            DefinitionError::NotDefined {
                key: "LocalAuthListMaxLength"
            }
        );
    }
}
