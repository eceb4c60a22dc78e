//! The facts the schemas do not carry: which side sends each action, and the names the 1.6
//! specification gives to the objects and enumerations its schemas define inline.

use std::collections::BTreeMap;

use crate::model::{NameEntry, Version};

/// Which side of the connection sends the CALL of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The Charge Point (1.6) or Charging Station (2.0.1).
    Station,
    /// The Central System (1.6) or CSMS (2.0.1).
    Central,
    /// Either side (DataTransfer).
    Both,
}

impl Sender {
    /// The variant of the generated `Sender` enum of `version`.
    pub fn variant(self, version: Version) -> &'static str {
        match (self, version) {
            (Sender::Station, Version::V16) => "ChargePoint",
            (Sender::Central, Version::V16) => "CentralSystem",
            (Sender::Station, Version::V201) => "ChargingStation",
            (Sender::Central, Version::V201) => "Csms",
            (Sender::Both, _) => "Both",
        }
    }
}

/// 1.6 edition 2 chapter 4 ("Operations Initiated by Charge Point"), chapter 5 ("Operations
/// Initiated by Central System"; DataTransfer is in both), and the security white paper
/// edition 3 chapter 5, whose message sections say "sent by the Central System to the Charge
/// Point" or the reverse.
const V16_SENDERS: &[(&str, Sender)] = &[
    ("Authorize", Sender::Station),
    ("BootNotification", Sender::Station),
    ("DataTransfer", Sender::Both),
    ("DiagnosticsStatusNotification", Sender::Station),
    ("FirmwareStatusNotification", Sender::Station),
    ("Heartbeat", Sender::Station),
    ("MeterValues", Sender::Station),
    ("StartTransaction", Sender::Station),
    ("StatusNotification", Sender::Station),
    ("StopTransaction", Sender::Station),
    ("CancelReservation", Sender::Central),
    ("ChangeAvailability", Sender::Central),
    ("ChangeConfiguration", Sender::Central),
    ("ClearCache", Sender::Central),
    ("ClearChargingProfile", Sender::Central),
    ("GetCompositeSchedule", Sender::Central),
    ("GetConfiguration", Sender::Central),
    ("GetDiagnostics", Sender::Central),
    ("GetLocalListVersion", Sender::Central),
    ("RemoteStartTransaction", Sender::Central),
    ("RemoteStopTransaction", Sender::Central),
    ("ReserveNow", Sender::Central),
    ("Reset", Sender::Central),
    ("SendLocalList", Sender::Central),
    ("SetChargingProfile", Sender::Central),
    ("TriggerMessage", Sender::Central),
    ("UnlockConnector", Sender::Central),
    ("UpdateFirmware", Sender::Central),
    // Security white paper.
    ("CertificateSigned", Sender::Central),
    ("DeleteCertificate", Sender::Central),
    ("ExtendedTriggerMessage", Sender::Central),
    ("GetInstalledCertificateIds", Sender::Central),
    ("GetLog", Sender::Central),
    ("InstallCertificate", Sender::Central),
    ("LogStatusNotification", Sender::Station),
    ("SecurityEventNotification", Sender::Station),
    ("SignCertificate", Sender::Station),
    ("SignedFirmwareStatusNotification", Sender::Station),
    ("SignedUpdateFirmware", Sender::Central),
];

/// 2.0.1 part 2, from the use cases that send each message ("The Charging Station sends a
/// ...Request to the CSMS" or the reverse). PublishFirmware goes from the CSMS to a Local
/// Controller, which takes the Charging Station side of the connection (use case L03).
const V201_SENDERS: &[(&str, Sender)] = &[
    ("Authorize", Sender::Station),
    ("BootNotification", Sender::Station),
    ("ClearedChargingLimit", Sender::Station),
    ("FirmwareStatusNotification", Sender::Station),
    ("Get15118EVCertificate", Sender::Station),
    ("GetCertificateStatus", Sender::Station),
    ("Heartbeat", Sender::Station),
    ("LogStatusNotification", Sender::Station),
    ("MeterValues", Sender::Station),
    ("NotifyChargingLimit", Sender::Station),
    ("NotifyCustomerInformation", Sender::Station),
    ("NotifyDisplayMessages", Sender::Station),
    ("NotifyEVChargingNeeds", Sender::Station),
    ("NotifyEVChargingSchedule", Sender::Station),
    ("NotifyEvent", Sender::Station),
    ("NotifyMonitoringReport", Sender::Station),
    ("NotifyReport", Sender::Station),
    ("PublishFirmwareStatusNotification", Sender::Station),
    ("ReportChargingProfiles", Sender::Station),
    ("ReservationStatusUpdate", Sender::Station),
    ("SecurityEventNotification", Sender::Station),
    ("SignCertificate", Sender::Station),
    ("StatusNotification", Sender::Station),
    ("TransactionEvent", Sender::Station),
    ("DataTransfer", Sender::Both),
    ("CancelReservation", Sender::Central),
    ("CertificateSigned", Sender::Central),
    ("ChangeAvailability", Sender::Central),
    ("ClearCache", Sender::Central),
    ("ClearChargingProfile", Sender::Central),
    ("ClearDisplayMessage", Sender::Central),
    ("ClearVariableMonitoring", Sender::Central),
    ("CostUpdated", Sender::Central),
    ("CustomerInformation", Sender::Central),
    ("DeleteCertificate", Sender::Central),
    ("GetBaseReport", Sender::Central),
    ("GetChargingProfiles", Sender::Central),
    ("GetCompositeSchedule", Sender::Central),
    ("GetDisplayMessages", Sender::Central),
    ("GetInstalledCertificateIds", Sender::Central),
    ("GetLocalListVersion", Sender::Central),
    ("GetLog", Sender::Central),
    ("GetMonitoringReport", Sender::Central),
    ("GetReport", Sender::Central),
    ("GetTransactionStatus", Sender::Central),
    ("GetVariables", Sender::Central),
    ("InstallCertificate", Sender::Central),
    ("PublishFirmware", Sender::Central),
    ("RequestStartTransaction", Sender::Central),
    ("RequestStopTransaction", Sender::Central),
    ("ReserveNow", Sender::Central),
    ("Reset", Sender::Central),
    ("SendLocalList", Sender::Central),
    ("SetChargingProfile", Sender::Central),
    ("SetDisplayMessage", Sender::Central),
    ("SetMonitoringBase", Sender::Central),
    ("SetMonitoringLevel", Sender::Central),
    ("SetNetworkProfile", Sender::Central),
    ("SetVariableMonitoring", Sender::Central),
    ("SetVariables", Sender::Central),
    ("TriggerMessage", Sender::Central),
    ("UnlockConnector", Sender::Central),
    ("UnpublishFirmware", Sender::Central),
    ("UpdateFirmware", Sender::Central),
];

/// The sender of every action of `version`.
pub fn senders(version: Version) -> BTreeMap<&'static str, Sender> {
    let table = match version {
        Version::V16 => V16_SENDERS,
        Version::V201 => V201_SENDERS,
    };
    table.iter().copied().collect()
}

/// Names for types at schema locations, keyed by (schema file without `.json`, location).
///
/// A location is the dotted path of property names from the root, with `[]` for the items of
/// an array (`meterValue[].sampledValue[].unit`), or `definitions/Name` for a definition.
///
/// 1.6 core schemas define every object and enumeration inline; the names are those of
/// OCPP 1.6 edition 2 chapter 7 ("Types"). The same name on several locations is one type:
/// the generator checks that all its occurrences have the same structure. Definitions
/// (1.6 security, 2.0.1) keep their own names unless listed here; none needs renaming, because
/// no two same-named definitions of one version differ in structure.
const V16_NAMES: &[(&str, &str, &str)] = &[
    ("AuthorizeResponse", "idTagInfo", "IdTagInfo"),
    (
        "AuthorizeResponse",
        "idTagInfo.status",
        "AuthorizationStatus",
    ),
    ("BootNotificationResponse", "status", "RegistrationStatus"),
    (
        "CancelReservationResponse",
        "status",
        "CancelReservationStatus",
    ),
    ("ChangeAvailability", "type", "AvailabilityType"),
    ("ChangeAvailabilityResponse", "status", "AvailabilityStatus"),
    (
        "ChangeConfigurationResponse",
        "status",
        "ConfigurationStatus",
    ),
    ("ClearCacheResponse", "status", "ClearCacheStatus"),
    (
        "ClearChargingProfile",
        "chargingProfilePurpose",
        "ChargingProfilePurposeType",
    ),
    (
        "ClearChargingProfileResponse",
        "status",
        "ClearChargingProfileStatus",
    ),
    ("DataTransferResponse", "status", "DataTransferStatus"),
    (
        "DiagnosticsStatusNotification",
        "status",
        "DiagnosticsStatus",
    ),
    ("FirmwareStatusNotification", "status", "FirmwareStatus"),
    (
        "GetCompositeSchedule",
        "chargingRateUnit",
        "ChargingRateUnitType",
    ),
    (
        "GetCompositeScheduleResponse",
        "status",
        "GetCompositeScheduleStatus",
    ),
    (
        "GetCompositeScheduleResponse",
        "chargingSchedule",
        "ChargingSchedule",
    ),
    (
        "GetCompositeScheduleResponse",
        "chargingSchedule.chargingRateUnit",
        "ChargingRateUnitType",
    ),
    (
        "GetCompositeScheduleResponse",
        "chargingSchedule.chargingSchedulePeriod[]",
        "ChargingSchedulePeriod",
    ),
    ("GetConfigurationResponse", "configurationKey[]", "KeyValue"),
    ("MeterValues", "meterValue[]", "MeterValue"),
    ("MeterValues", "meterValue[].sampledValue[]", "SampledValue"),
    (
        "MeterValues",
        "meterValue[].sampledValue[].context",
        "ReadingContext",
    ),
    (
        "MeterValues",
        "meterValue[].sampledValue[].format",
        "ValueFormat",
    ),
    (
        "MeterValues",
        "meterValue[].sampledValue[].measurand",
        "Measurand",
    ),
    ("MeterValues", "meterValue[].sampledValue[].phase", "Phase"),
    (
        "MeterValues",
        "meterValue[].sampledValue[].location",
        "Location",
    ),
    (
        "MeterValues",
        "meterValue[].sampledValue[].unit",
        "UnitOfMeasure",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile",
        "ChargingProfile",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.chargingProfilePurpose",
        "ChargingProfilePurposeType",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.chargingProfileKind",
        "ChargingProfileKindType",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.recurrencyKind",
        "RecurrencyKindType",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.chargingSchedule",
        "ChargingSchedule",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.chargingSchedule.chargingRateUnit",
        "ChargingRateUnitType",
    ),
    (
        "RemoteStartTransaction",
        "chargingProfile.chargingSchedule.chargingSchedulePeriod[]",
        "ChargingSchedulePeriod",
    ),
    (
        "RemoteStartTransactionResponse",
        "status",
        "RemoteStartStopStatus",
    ),
    (
        "RemoteStopTransactionResponse",
        "status",
        "RemoteStartStopStatus",
    ),
    ("ReserveNowResponse", "status", "ReservationStatus"),
    ("Reset", "type", "ResetType"),
    ("ResetResponse", "status", "ResetStatus"),
    (
        "SendLocalList",
        "localAuthorizationList[]",
        "AuthorizationData",
    ),
    (
        "SendLocalList",
        "localAuthorizationList[].idTagInfo",
        "IdTagInfo",
    ),
    (
        "SendLocalList",
        "localAuthorizationList[].idTagInfo.status",
        "AuthorizationStatus",
    ),
    ("SendLocalList", "updateType", "UpdateType"),
    ("SendLocalListResponse", "status", "UpdateStatus"),
    (
        "SetChargingProfile",
        "csChargingProfiles",
        "ChargingProfile",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.chargingProfilePurpose",
        "ChargingProfilePurposeType",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.chargingProfileKind",
        "ChargingProfileKindType",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.recurrencyKind",
        "RecurrencyKindType",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.chargingSchedule",
        "ChargingSchedule",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.chargingSchedule.chargingRateUnit",
        "ChargingRateUnitType",
    ),
    (
        "SetChargingProfile",
        "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[]",
        "ChargingSchedulePeriod",
    ),
    (
        "SetChargingProfileResponse",
        "status",
        "ChargingProfileStatus",
    ),
    ("StartTransactionResponse", "idTagInfo", "IdTagInfo"),
    (
        "StartTransactionResponse",
        "idTagInfo.status",
        "AuthorizationStatus",
    ),
    ("StatusNotification", "errorCode", "ChargePointErrorCode"),
    ("StatusNotification", "status", "ChargePointStatus"),
    ("StopTransaction", "reason", "Reason"),
    // `transactionData` is a list of MeterValue (1.6 section 6.49); its schema repeats the
    // MeterValues one, and the generator checks that the two agree.
    ("StopTransaction", "transactionData[]", "MeterValue"),
    (
        "StopTransaction",
        "transactionData[].sampledValue[]",
        "SampledValue",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].context",
        "ReadingContext",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].format",
        "ValueFormat",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].measurand",
        "Measurand",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].phase",
        "Phase",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].location",
        "Location",
    ),
    (
        "StopTransaction",
        "transactionData[].sampledValue[].unit",
        "UnitOfMeasure",
    ),
    ("StopTransactionResponse", "idTagInfo", "IdTagInfo"),
    (
        "StopTransactionResponse",
        "idTagInfo.status",
        "AuthorizationStatus",
    ),
    ("TriggerMessage", "requestedMessage", "MessageTrigger"),
    ("TriggerMessageResponse", "status", "TriggerMessageStatus"),
    ("UnlockConnectorResponse", "status", "UnlockStatus"),
];

/// The naming table of `version`, each entry not yet used.
pub fn inline_names(version: Version) -> BTreeMap<(&'static str, &'static str), NameEntry> {
    let table: &[(&str, &str, &str)] = match version {
        Version::V16 => V16_NAMES,
        Version::V201 => &[],
    };
    table
        .iter()
        .map(|&(file, location, name)| ((file, location), NameEntry { name, used: false }))
        .collect()
}
