//! The table of standard configuration keys: every key of OCPP 1.6 edition 2 chapter 9 (with
//! the keys its errata sheet adds), of the security white paper (edition 3, chapter 7) and of the
//! ISO 15118 Plug & Charge application note (chapter 9), with what each is and how it behaves.
//!
//! The table is one macro invocation so that the [`StandardKey`] enum and the rows can never
//! drift apart: a key is added by adding one row.

use super::value::{ListLimit, ValueType};

/// A feature profile of OCPP 1.6 (chapter 3 and 9.1.29), or one of the two extensions whose
/// configuration keys this registry also knows.
///
/// The first six are the values of the `SupportedFeatureProfiles` key; [`Profile::Security`] and
/// [`Profile::Iso15118PnC`] are not feature profiles and never appear there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// `Core`: basic Charge Point functionality.
    Core,
    /// `FirmwareManagement`: firmware update and diagnostics upload.
    FirmwareManagement,
    /// `LocalAuthListManagement`: the local authorization list.
    LocalAuthListManagement,
    /// `Reservation`: reservation of a connector.
    Reservation,
    /// `SmartCharging`: charging profiles.
    SmartCharging,
    /// `RemoteTrigger`: TriggerMessage (no configuration keys).
    RemoteTrigger,
    /// The security white paper ("Improved security for OCPP 1.6-J"), chapter 7.
    Security,
    /// The ISO 15118 Plug & Charge application note, chapter 9.
    Iso15118PnC,
}

impl Profile {
    /// Every profile, feature profiles first in the order 9.1.29 lists them.
    pub const ALL: [Profile; 8] = [
        Profile::Core,
        Profile::FirmwareManagement,
        Profile::LocalAuthListManagement,
        Profile::Reservation,
        Profile::SmartCharging,
        Profile::RemoteTrigger,
        Profile::Security,
        Profile::Iso15118PnC,
    ];

    /// The identifier `SupportedFeatureProfiles` uses, or `None` for the two extensions.
    pub const fn feature_profile_name(self) -> Option<&'static str> {
        match self {
            Profile::Core => Some("Core"),
            Profile::FirmwareManagement => Some("FirmwareManagement"),
            Profile::LocalAuthListManagement => Some("LocalAuthListManagement"),
            Profile::Reservation => Some("Reservation"),
            Profile::SmartCharging => Some("SmartCharging"),
            Profile::RemoteTrigger => Some("RemoteTrigger"),
            Profile::Security | Profile::Iso15118PnC => None,
        }
    }
}

/// The six identifiers `SupportedFeatureProfiles` may hold (9.1.29).
pub(crate) const FEATURE_PROFILE_NAMES: &[&str] = &[
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
];

/// Who may read and write a key (chapter 9: "R", "RW"; security white paper: "W").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Accessibility {
    /// Read with GetConfiguration, never written with ChangeConfiguration (`Rejected`).
    ReadOnly,
    /// Read and written by the Central System.
    ReadWrite,
    /// Written but never read back (AuthorizationKey): GetConfiguration never shows its value.
    WriteOnly,
}

/// The accessibility a standard key's specification prescribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessRule {
    /// The specification fixes it.
    Fixed(Accessibility),
    /// "R or RW. Choice is up to Charge Point implementation": read-write unless the integrator
    /// makes it read-only.
    ReadOnlyOrReadWrite,
}

impl AccessRule {
    /// The accessibility a key has unless the integrator chooses otherwise.
    pub const fn default_accessibility(self) -> Accessibility {
        match self {
            AccessRule::Fixed(access) => access,
            AccessRule::ReadOnlyOrReadWrite => Accessibility::ReadWrite,
        }
    }

    /// Whether `access` is allowed by the rule.
    pub fn allows(self, access: Accessibility) -> bool {
        match self {
            AccessRule::Fixed(fixed) => fixed == access,
            AccessRule::ReadOnlyOrReadWrite => access != Accessibility::WriteOnly,
        }
    }
}

/// Whether the specification requires a key of a Charge Point that supports its profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Required ("only has to be supported by the Charge Point if it supports that profile").
    Required,
    /// Optional: for a boolean, its presence says the functionality exists (chapter 9 intro).
    Optional,
}

/// The unit of a key's value, as the specification states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// No unit (flags, lists, limits, names).
    None,
    /// Seconds.
    Seconds,
    /// A number of times.
    Times,
    /// Percent.
    Percent,
    /// Watt-hours.
    WattHours,
    /// Characters (a size limit).
    Characters,
}

/// One row of the standard key table.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// The key.
    pub key: StandardKey,
    /// The name as the specification spells it (names match case-insensitively).
    pub name: &'static str,
    /// The profiles that bring the key; it is defined when any of them is supported.
    pub profiles: &'static [Profile],
    /// Required or optional.
    pub requirement: Requirement,
    /// The accessibility the specification prescribes.
    pub access: AccessRule,
    /// The value type, with its range or allowed values.
    pub value_type: ValueType,
    /// The unit of the value.
    pub unit: Unit,
    /// The value a Charge Point starts with; `None`: not set until written.
    pub default: Option<&'static str>,
    /// Whether an optional key is defined unless the integrator removes it. Optional keys that
    /// describe hardware the stack cannot know of (lights, phase switching, ...) start absent.
    pub present_by_default: bool,
    /// Where the specification defines the key.
    pub source: &'static str,
}

use Profile::{
    Core, FirmwareManagement, Iso15118PnC, LocalAuthListManagement, Reservation, Security,
    SmartCharging,
};
use Requirement::{Optional, Required};

const R: AccessRule = AccessRule::Fixed(Accessibility::ReadOnly);
const RW: AccessRule = AccessRule::Fixed(Accessibility::ReadWrite);
const W: AccessRule = AccessRule::Fixed(Accessibility::WriteOnly);
const R_OR_RW: AccessRule = AccessRule::ReadOnlyOrReadWrite;

const BOOL: ValueType = ValueType::Boolean;
/// Intervals, counts and limits are integers (32-bit, as everywhere in this crate); none of them
/// can be negative (9.1.34 says so for WebSocketPingInterval, the PnC note for its two).
const UINT: ValueType = ValueType::Integer {
    min: 0,
    max: i32::MAX as i64,
};
const fn int(min: i64, max: i64) -> ValueType {
    ValueType::Integer { min, max }
}
const fn measurands(max_length: StandardKey) -> ValueType {
    ValueType::MeasurandList {
        max_items: ListLimit::Key(max_length),
    }
}

macro_rules! standard_keys {
    ($(
        $(#[doc = $doc:literal])+
        $key:ident = $name:literal, [$($profile:ident),+], $req:ident, $access:ident,
            $type:expr, $unit:ident, $default:expr, present: $present:literal, $source:literal;
    )+) => {
        /// A standard configuration key. [`StandardKey::spec`] gives its row of the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum StandardKey {
            $( $(#[doc = $doc])+ $key, )+
        }

        /// Every standard key, in the order of the specifications.
        pub(crate) const STANDARD_KEYS: &[KeySpec] = &[
            $(KeySpec {
                key: StandardKey::$key,
                name: $name,
                profiles: &[$($profile),+],
                requirement: $req,
                access: $access,
                value_type: $type,
                unit: Unit::$unit,
                default: $default,
                present_by_default: $present,
                source: $source,
            },)+
        ];
    };
}

standard_keys! {
    // ---- 9.1 Core profile ----------------------------------------------------------------
    /// Whether unknown identifiers may start a transaction while offline.
    AllowOfflineTxForUnknownId = "AllowOfflineTxForUnknownId", [Core], Optional, RW,
        BOOL, None, Some("false"), present: true, "1.6 9.1.1";
    /// Whether the Authorization Cache is enabled.
    AuthorizationCacheEnabled = "AuthorizationCacheEnabled", [Core], Optional, RW,
        BOOL, None, Some("true"), present: true, "1.6 9.1.2";
    /// Whether RemoteStartTransaction is authorized like a local start first.
    AuthorizeRemoteTxRequests = "AuthorizeRemoteTxRequests", [Core], Required, R_OR_RW,
        BOOL, None, Some("false"), present: true, "1.6 9.1.3";
    /// Times to blink the Charge Point lighting when signalling.
    BlinkRepeat = "BlinkRepeat", [Core], Optional, RW,
        UINT, Times, Some("3"), present: false, "1.6 9.1.4";
    /// Size of the clock-aligned data interval; 0: no clock-aligned data.
    ClockAlignedDataInterval = "ClockAlignedDataInterval", [Core], Required, RW,
        UINT, Seconds, Some("0"), present: true, "1.6 9.1.5";
    /// Time from Preparing until an incipient transaction is cancelled.
    ConnectionTimeOut = "ConnectionTimeOut", [Core], Required, RW,
        UINT, Seconds, Some("60"), present: true, "1.6 9.1.6, errata 3.77";
    /// Phase rotation per connector, `<connector>.<rotation>` items.
    ConnectorPhaseRotation = "ConnectorPhaseRotation", [Core], Required, RW,
        ValueType::PhaseRotationList {
            max_items: ListLimit::Key(StandardKey::ConnectorPhaseRotationMaxLength),
        },
        None, Some("0.Unknown,1.Unknown"), present: true, "1.6 9.1.7";
    /// Maximum number of items in ConnectorPhaseRotation.
    ConnectorPhaseRotationMaxLength = "ConnectorPhaseRotationMaxLength", [Core], Optional, R,
        UINT, None, Some("2"), present: true, "1.6 9.1.8";
    /// Maximum number of keys in one GetConfiguration.req.
    GetConfigurationMaxKeys = "GetConfigurationMaxKeys", [Core], Required, R,
        int(1, i32::MAX as i64), None, Some("100"), present: true, "1.6 9.1.9";
    /// Inactivity after which a Heartbeat.req is sent.
    HeartbeatInterval = "HeartbeatInterval", [Core], Required, RW,
        UINT, Seconds, Some("300"), present: true, "1.6 9.1.10";
    /// Percentage of maximum intensity of the Charge Point lighting.
    LightIntensity = "LightIntensity", [Core], Optional, RW,
        int(0, 100), Percent, Some("100"), present: false, "1.6 9.1.11";
    /// Whether locally authorized identifiers start transactions while offline.
    LocalAuthorizeOffline = "LocalAuthorizeOffline", [Core], Required, RW,
        BOOL, None, Some("true"), present: true, "1.6 9.1.12";
    /// Whether locally authorized identifiers start transactions without Authorize.req.
    LocalPreAuthorize = "LocalPreAuthorize", [Core], Required, RW,
        BOOL, None, Some("false"), present: true, "1.6 9.1.13";
    /// Energy delivered after an identifier is invalidated during a transaction.
    MaxEnergyOnInvalidId = "MaxEnergyOnInvalidId", [Core], Optional, RW,
        UINT, WattHours, Some("0"), present: false, "1.6 9.1.14";
    /// Clock-aligned measurands in MeterValues.req.
    MeterValuesAlignedData = "MeterValuesAlignedData", [Core], Required, RW,
        measurands(StandardKey::MeterValuesAlignedDataMaxLength),
        None, Some("Energy.Active.Import.Register"), present: true, "1.6 9.1.15";
    /// Maximum number of items in MeterValuesAlignedData.
    MeterValuesAlignedDataMaxLength = "MeterValuesAlignedDataMaxLength", [Core], Optional, R,
        UINT, None, Some("8"), present: true, "1.6 9.1.16";
    /// Sampled measurands in MeterValues.req.
    MeterValuesSampledData = "MeterValuesSampledData", [Core], Required, RW,
        measurands(StandardKey::MeterValuesSampledDataMaxLength),
        None, Some("Energy.Active.Import.Register"), present: true, "1.6 9.1.17";
    /// Maximum number of items in MeterValuesSampledData.
    MeterValuesSampledDataMaxLength = "MeterValuesSampledDataMaxLength", [Core], Optional, R,
        UINT, None, Some("8"), present: true, "1.6 9.1.18";
    /// Interval between samples of metering data; 0: no sampled data.
    MeterValueSampleInterval = "MeterValueSampleInterval", [Core], Required, RW,
        UINT, Seconds, Some("60"), present: true, "1.6 9.1.19";
    /// Time a status must be stable before StatusNotification.req is sent.
    MinimumStatusDuration = "MinimumStatusDuration", [Core], Optional, RW,
        UINT, Seconds, Some("0"), present: true, "1.6 9.1.20";
    /// Number of physical connectors.
    NumberOfConnectors = "NumberOfConnectors", [Core], Required, R,
        int(1, i32::MAX as i64), None, Some("1"), present: true, "1.6 9.1.21";
    /// Times to retry an unsuccessful reset.
    ResetRetries = "ResetRetries", [Core], Required, RW,
        UINT, Times, Some("3"), present: true, "1.6 9.1.22";
    /// Whether unplugging at the EV stops the transaction (optional since errata 3.80).
    StopTransactionOnEVSideDisconnect = "StopTransactionOnEVSideDisconnect", [Core], Optional,
        R_OR_RW, BOOL, None, Some("true"), present: true, "1.6 9.1.23, errata 3.80";
    /// Whether a non-Accepted StartTransaction.conf stops the transaction.
    StopTransactionOnInvalidId = "StopTransactionOnInvalidId", [Core], Required, RW,
        BOOL, None, Some("true"), present: true, "1.6 9.1.24";
    /// Clock-aligned measurands in StopTransaction.req; empty: none (errata 3.14.5).
    StopTxnAlignedData = "StopTxnAlignedData", [Core], Required, RW,
        measurands(StandardKey::StopTxnAlignedDataMaxLength),
        None, Some(""), present: true, "1.6 9.1.25";
    /// Maximum number of items in StopTxnAlignedData.
    StopTxnAlignedDataMaxLength = "StopTxnAlignedDataMaxLength", [Core], Optional, R,
        UINT, None, Some("8"), present: true, "1.6 9.1.26";
    /// Sampled measurands in StopTransaction.req; empty: none (errata 3.14.5).
    StopTxnSampledData = "StopTxnSampledData", [Core], Required, RW,
        measurands(StandardKey::StopTxnSampledDataMaxLength),
        None, Some(""), present: true, "1.6 9.1.27";
    /// Maximum number of items in StopTxnSampledData.
    StopTxnSampledDataMaxLength = "StopTxnSampledDataMaxLength", [Core], Optional, R,
        UINT, None, Some("8"), present: true, "1.6 9.1.28";
    /// The supported feature profiles; set from the integrator's profile list.
    SupportedFeatureProfiles = "SupportedFeatureProfiles", [Core], Required, R,
        ValueType::EnumList {
            allowed: FEATURE_PROFILE_NAMES,
            max_items: ListLimit::Unlimited,
        },
        None, Some("Core"), present: true, "1.6 9.1.29";
    /// Maximum number of items in SupportedFeatureProfiles ("has no use", errata 3.81).
    SupportedFeatureProfilesMaxLength = "SupportedFeatureProfilesMaxLength", [Core], Optional, R,
        UINT, None, Some("6"), present: false, "1.6 9.1.30, errata 3.81";
    /// Tries to submit a transaction-related message the Central System fails to process.
    TransactionMessageAttempts = "TransactionMessageAttempts", [Core], Required, RW,
        UINT, Times, Some("3"), present: true, "1.6 9.1.31";
    /// Wait before resubmitting a transaction-related message.
    TransactionMessageRetryInterval = "TransactionMessageRetryInterval", [Core], Required, RW,
        UINT, Seconds, Some("60"), present: true, "1.6 9.1.32";
    /// Whether unplugging at the EV unlocks the Charge Point side (R allowed, errata 3.84).
    UnlockConnectorOnEVSideDisconnect = "UnlockConnectorOnEVSideDisconnect", [Core], Required,
        R_OR_RW, BOOL, None, Some("true"), present: true, "1.6 9.1.33, errata 3.84";
    /// Seconds between client WebSocket pings; 0: no client pings.
    WebSocketPingInterval = "WebSocketPingInterval", [Core], Optional, RW,
        UINT, Seconds, Some("60"), present: true, "1.6 9.1.34, OCPP-J errata 3.11";
    /// Time after which a request without response is considered timed out.
    MessageTimeout = "MessageTimeout", [Core], Optional, RW,
        int(1, i32::MAX as i64), Seconds, Some("30"), present: true, "errata 3.83";
    /// Most meter values a StopTransaction.req carries in transactionData.
    StopTransactionMaxMeterValues = "StopTransactionMaxMeterValues", [Core], Optional, R,
        UINT, None, Some("100"), present: true, "errata 3.91";

    // ---- 9.2 Local Auth List Management profile -----------------------------------------
    /// Whether the Local Authorization List is enabled.
    LocalAuthListEnabled = "LocalAuthListEnabled", [LocalAuthListManagement], Required, RW,
        BOOL, None, Some("true"), present: true, "1.6 9.2.1";
    /// Maximum number of identifications in the Local Authorization List.
    LocalAuthListMaxLength = "LocalAuthListMaxLength", [LocalAuthListManagement], Required, R,
        UINT, None, Some("1000"), present: true, "1.6 9.2.2";
    /// Maximum number of identifications in one SendLocalList.req.
    SendLocalListMaxLength = "SendLocalListMaxLength", [LocalAuthListManagement], Required, R,
        UINT, None, Some("100"), present: true, "1.6 9.2.3";

    // ---- 9.3 Reservation profile ----------------------------------------------------------
    /// Whether connector 0 (the whole Charge Point) can be reserved.
    ReserveConnectorZeroSupported = "ReserveConnectorZeroSupported", [Reservation], Optional, R,
        BOOL, None, Some("false"), present: true, "1.6 9.3.1";

    // ---- 9.4 Smart Charging profile -------------------------------------------------------
    /// Highest stackLevel of a charging profile.
    ChargeProfileMaxStackLevel = "ChargeProfileMaxStackLevel", [SmartCharging], Required, R,
        UINT, None, Some("10"), present: true, "1.6 9.4.1";
    /// Quantities allowed in a charging schedule: `Current` (A) and/or `Power` (W).
    ChargingScheduleAllowedChargingRateUnit = "ChargingScheduleAllowedChargingRateUnit",
        [SmartCharging], Required, R,
        ValueType::EnumList { allowed: &["Current", "Power"], max_items: ListLimit::Unlimited },
        None, Some("Current,Power"), present: true, "1.6 9.4.2, errata 3.88";
    /// Maximum number of periods per charging schedule.
    ChargingScheduleMaxPeriods = "ChargingScheduleMaxPeriods", [SmartCharging], Required, R,
        UINT, None, Some("24"), present: true, "1.6 9.4.3";
    /// Whether a transaction can switch from 3 to 1 phase.
    ConnectorSwitch3to1PhaseSupported = "ConnectorSwitch3to1PhaseSupported", [SmartCharging],
        Optional, R, BOOL, None, Some("false"), present: false, "1.6 9.4.4, errata 4.28";
    /// Maximum number of charging profiles installed at a time.
    MaxChargingProfilesInstalled = "MaxChargingProfilesInstalled", [SmartCharging], Required, R,
        UINT, None, Some("10"), present: true, "1.6 9.4.5";

    // ---- 9.5 Firmware Management (errata 3.90) --------------------------------------------
    /// File transfer protocols supported: FTP, FTPS, HTTP, HTTPS.
    SupportedFileTransferProtocols = "SupportedFileTransferProtocols", [FirmwareManagement],
        Optional, R,
        ValueType::EnumList {
            allowed: &["FTP", "FTPS", "HTTP", "HTTPS"],
            max_items: ListLimit::Unlimited,
        },
        None, Some("HTTP,HTTPS"), present: false, "errata 3.90";

    // ---- Security white paper, chapter 7 ----------------------------------------------------
    /// Whether only one Central System root certificate (plus a fallback) may be installed.
    AdditionalRootCertificateCheck = "AdditionalRootCertificateCheck", [Security], Optional, R,
        BOOL, None, Some("false"), present: true, "security 7.1";
    /// The HTTP Basic authentication password, hexadecimal (write-only).
    AuthorizationKey = "AuthorizationKey", [Security], Optional, W,
        ValueType::HexBinary { min_digits: 32, max_digits: 40 },
        None, None, present: true, "security 7.2, A00.FR.205, OCPP-J errata 3.12";
    /// Maximum size of CertificateSigned.req certificateChain (at most 10000).
    CertificateSignedMaxChainSize = "CertificateSignedMaxChainSize", [Security, Iso15118PnC],
        Optional, R, int(0, 10_000), Characters, Some("10000"), present: true,
        "security 7.3, PnC 9.2";
    /// Maximum number of Root/CA certificates installed.
    CertificateStoreMaxLength = "CertificateStoreMaxLength", [Security, Iso15118PnC], Optional,
        R, UINT, None, Some("20"), present: true, "security 7.4, PnC 9.5";
    /// The CPO name put in the organizationName of a CSR.
    CpoName = "CpoName", [Security], Optional, RW,
        ValueType::Text { max_chars: 500 }, None, None, present: true, "security 7.5";
    /// The security profile in use (0 to 3); can only be raised.
    SecurityProfile = "SecurityProfile", [Security], Optional, RW,
        int(0, 3), None, Some("0"), present: true, "security 7.6, A05";

    // ---- ISO 15118 Plug & Charge application note, chapter 9 --------------------------------
    /// Whether contract certificates the Charge Point cannot validate go to the Central System.
    CentralContractValidationAllowed = "CentralContractValidationAllowed", [Iso15118PnC],
        Optional, RW, BOOL, None, Some("false"), present: true, "PnC 9.1";
    /// Back-off before generating another CSR; 0: never regenerate.
    CertSigningWaitMinimum = "CertSigningWaitMinimum", [Iso15118PnC], Optional, RW,
        UINT, Seconds, Some("60"), present: true, "PnC 9.3";
    /// Times the CSR back-off doubles; 0: it does not double.
    CertSigningRepeatTimes = "CertSigningRepeatTimes", [Iso15118PnC], Optional, RW,
        UINT, Times, Some("3"), present: true, "PnC 9.4";
    /// Whether contract certificates are validated while offline.
    ContractValidationOffline = "ContractValidationOffline", [Iso15118PnC], Required, RW,
        BOOL, None, Some("true"), present: true, "PnC 9.6";
    /// Whether ISO 15118 Plug & Charge messages via DataTransfer are enabled.
    ISO15118PnCEnabled = "ISO15118PnCEnabled", [Iso15118PnC], Required, RW,
        BOOL, None, Some("false"), present: true, "PnC 9.7";
}

impl StandardKey {
    /// The key's row of the table.
    pub fn spec(self) -> &'static KeySpec {
        // The table lists the variants in declaration order (the macro writes both).
        &STANDARD_KEYS[self as usize]
    }

    /// The name as the specification spells it.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Every standard key, in the order of the specifications.
    pub fn all() -> impl Iterator<Item = StandardKey> {
        STANDARD_KEYS.iter().map(|spec| spec.key)
    }

    /// The key named `name`, compared case-insensitively (keys are CiString50Type).
    pub fn from_name(name: &str) -> Option<StandardKey> {
        STANDARD_KEYS
            .iter()
            .find(|spec| spec.name.eq_ignore_ascii_case(name))
            .map(|spec| spec.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_variant_once_in_declaration_order() {
        for (index, spec) in STANDARD_KEYS.iter().enumerate() {
            assert_eq!(spec.key as usize, index, "{}", spec.name);
            assert_eq!(StandardKey::from_name(spec.name), Some(spec.key));
            assert!(
                spec.name.len() <= 50,
                "{} exceeds CiString50Type",
                spec.name
            );
        }
    }

    #[test]
    fn every_max_length_key_is_a_read_only_integer() {
        for spec in STANDARD_KEYS {
            if spec.name.ends_with("MaxLength") {
                assert_eq!(spec.access, R, "{}", spec.name);
                assert!(matches!(spec.value_type, ValueType::Integer { .. }));
            }
        }
    }
}
