//! The configuration key registry of the 1.6 Charge Point role, tested through its public API.
//! Tests are named after the OCTT 1.6 Charge Point test case (specs/octt) or the specification
//! section they come from.

use ocpp_core::ErrorCode;
use ocpp_core::charge_point::config::{
    Accessibility, ApplicationKey, COLLECTION, ChangeOutcome, ConfigKey, Configuration,
    DefinitionError, Definitions, InvalidValue, Profile, Rejection, Requirement, RestoreIssue,
    SampledMeasurand, StandardKey, ValueType,
};
use ocpp_core::persist::{Snapshot, StoreOp};
use ocpp_core::v16::{
    ChargingRateUnitType, ConfigurationStatus, GetConfigurationResponse, KeyValue, Measurand, Phase,
};

fn standard() -> Configuration {
    Configuration::new(Definitions::standard())
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn get_one(config: &Configuration, name: &str) -> KeyValue {
    let response = config.get(Some(&keys(&[name]))).unwrap();
    assert_eq!(response.unknown_key, None, "{name}");
    let mut found = response.configuration_key.unwrap();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

fn status(config: &mut Configuration, key: &str, value: &str) -> ConfigurationStatus {
    config.change(key, value).status()
}

fn all_listed(response: &GetConfigurationResponse) -> Vec<&KeyValue> {
    response
        .configuration_key
        .as_ref()
        .unwrap()
        .iter()
        .collect()
}

fn persist(snapshot: &mut Snapshot, outcome: &ChangeOutcome) {
    snapshot.apply([&outcome.applied().expect("a change was made").record()]);
}

// ---- the table -------------------------------------------------------------------------------

#[test]
fn chapter_9_security_and_pnc_keys_are_all_in_the_table() {
    let count = |profile: Profile| {
        StandardKey::all()
            .filter(|k| k.spec().profiles[0] == profile)
            .count()
    };
    // 34 of 9.1 plus MessageTimeout (errata 3.83) and StopTransactionMaxMeterValues (3.91).
    assert_eq!(count(Profile::Core), 36);
    assert_eq!(count(Profile::LocalAuthListManagement), 3);
    assert_eq!(count(Profile::Reservation), 1);
    assert_eq!(count(Profile::SmartCharging), 5);
    assert_eq!(count(Profile::FirmwareManagement), 1);
    assert_eq!(count(Profile::RemoteTrigger), 0);
    assert_eq!(count(Profile::Security), 6);
    assert_eq!(count(Profile::Iso15118PnC), 5);
    assert_eq!(StandardKey::all().count(), 57);
    // The white paper and the PnC note both define these two; one row serves both.
    for shared in [
        StandardKey::CertificateSignedMaxChainSize,
        StandardKey::CertificateStoreMaxLength,
    ] {
        assert_eq!(
            shared.spec().profiles,
            &[Profile::Security, Profile::Iso15118PnC]
        );
    }
}

/// TC_019_CS step 4: the required keys of every supported profile, with their accessibility.
#[test]
fn tc_019_cs_all_required_keys_are_listed_with_the_right_accessibility() {
    let config = Configuration::new(
        Definitions::builder()
            .profiles(&Profile::ALL)
            .build()
            .unwrap(),
    );
    let response = config.get(None).unwrap();
    assert_eq!(response.unknown_key, None);
    let listed = all_listed(&response);
    let readonly = |name: &str| {
        listed
            .iter()
            .find(|kv| kv.key == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .readonly
    };
    let rw = [
        "ClockAlignedDataInterval",
        "ConnectionTimeOut",
        "ConnectorPhaseRotation",
        "HeartbeatInterval",
        "LocalAuthorizeOffline",
        "LocalPreAuthorize",
        "MeterValuesAlignedData",
        "MeterValuesSampledData",
        "MeterValueSampleInterval",
        "ResetRetries",
        "StopTransactionOnInvalidId",
        "StopTxnAlignedData",
        "StopTxnSampledData",
        "TransactionMessageAttempts",
        "TransactionMessageRetryInterval",
        "LocalAuthListEnabled",
    ];
    let r = [
        "GetConfigurationMaxKeys",
        "NumberOfConnectors",
        "SupportedFeatureProfiles",
        "LocalAuthListMaxLength",
        "SendLocalListMaxLength",
        "ChargeProfileMaxStackLevel",
        "ChargingScheduleAllowedChargingRateUnit",
        "ChargingScheduleMaxPeriods",
        "MaxChargingProfilesInstalled",
    ];
    for name in rw {
        assert!(!readonly(name), "{name} should be RW");
    }
    for name in r {
        assert!(readonly(name), "{name} should be R");
    }
    // "R OR RW"
    readonly("AuthorizeRemoteTxRequests");
    readonly("UnlockConnectorOnEVSideDisconnect");
    // Every required key of a supported profile is there.
    for key in StandardKey::all() {
        if key.spec().requirement == Requirement::Required {
            assert!(
                listed.iter().any(|kv| kv.key == key.name()),
                "{}",
                key.name()
            );
        }
    }
}

/// TC_019_CS steps 1, 5 and 7.
#[test]
fn tc_019_cs_specific_keys_and_a_request_of_get_configuration_max_keys_keys() {
    let config = standard();
    let profiles = get_one(&config, "SupportedFeatureProfiles");
    assert_eq!(
        profiles.value.as_deref(),
        Some(
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
        )
    );
    assert!(profiles.readonly);
    let max = get_one(&config, "GetConfigurationMaxKeys");
    let max: usize = max.value.unwrap().parse().unwrap();

    let all = config.get(None).unwrap();
    let names: Vec<String> = all_listed(&all)
        .iter()
        .map(|kv| kv.key.clone())
        .take(max)
        .collect();
    let response = config.get(Some(&names)).unwrap();
    assert_eq!(response.unknown_key, None);
    let answered: Vec<&str> = all_listed(&response)
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        answered,
        names.iter().map(String::as_str).collect::<Vec<_>>()
    );
}

/// 5.8: an empty key list is the same as none.
#[test]
fn an_empty_key_list_returns_every_key() {
    let config = standard();
    assert_eq!(config.get(Some(&[])).unwrap(), config.get(None).unwrap());
}

/// 5.8: unrecognized keys go to unknownKey, recognized ones are answered, in request order.
#[test]
fn unknown_keys_are_reported_in_unknown_key() {
    let config = Configuration::new(
        Definitions::builder()
            .profiles(&[Profile::Core])
            .build()
            .unwrap(),
    );
    let response = config
        .get(Some(&keys(&[
            "Testing",
            "HeartbeatInterval",
            "LocalAuthListEnabled",
            "Testing",
        ])))
        .unwrap();
    assert_eq!(
        response.unknown_key,
        Some(keys(&["Testing", "LocalAuthListEnabled"]))
    );
    assert_eq!(
        response.configuration_key,
        Some(vec![KeyValue {
            key: "HeartbeatInterval".into(),
            readonly: false,
            value: Some("300".into()),
        }])
    );
    let none = config.get(Some(&keys(&["Nope"]))).unwrap();
    assert_eq!(none.configuration_key, None);
}

/// Keys are CiString50Type: case-insensitive; answers use the specification's spelling.
#[test]
fn key_names_match_case_insensitively() {
    let mut config = standard();
    assert_eq!(
        get_one(&config, "heartbeatINTERVAL").key,
        "HeartbeatInterval"
    );
    assert_eq!(
        status(&mut config, "METERVALUESAMPLEINTERVAL", "30"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(config.meter_value_sample_interval().unwrap().as_secs(), 30);
    // Longer than CiString50Type: cannot be a key.
    let long = "H".repeat(51);
    assert_eq!(
        status(&mut config, &long, "1"),
        ConfigurationStatus::NotSupported
    );
}

/// 5.8 / 9.1.9: more keys than GetConfigurationMaxKeys is refused with a CallError.
#[test]
fn more_keys_than_get_configuration_max_keys_is_an_occurrence_violation() {
    let definitions = Definitions::builder()
        .initial(StandardKey::GetConfigurationMaxKeys, "2")
        .build()
        .unwrap();
    let config = Configuration::new(definitions);
    assert!(
        config
            .get(Some(&keys(&["HeartbeatInterval", "Nope"])))
            .is_ok()
    );
    let err = config
        .get(Some(&keys(&["HeartbeatInterval", "ResetRetries", "Nope"])))
        .unwrap_err();
    assert_eq!((err.requested, err.max), (3, 2));
    assert_eq!(err.error_code(), ErrorCode::OccurrenceConstraintViolation);
    // The full listing is not limited: 5.8 "SHALL return a list of all configuration settings".
    assert!(all_listed(&config.get(None).unwrap()).len() > 2);
}

// ---- ChangeConfiguration ---------------------------------------------------------------------

/// TC_021_CS: set MeterValueSampleInterval, read it back.
#[test]
fn tc_021_cs_change_then_get_returns_the_new_value() {
    let mut config = standard();
    assert_eq!(
        status(&mut config, "MeterValueSampleInterval", "120"),
        ConfigurationStatus::Accepted
    );
    let kv = get_one(&config, "MeterValueSampleInterval");
    assert_eq!(kv.value.as_deref(), Some("120"));
    assert!(!kv.readonly);
}

/// TC_002_CS: the configuration can be read and changed before the Charge Point is accepted
/// (the registry has no notion of registration; this pins the two steps the test uses).
#[test]
fn tc_002_cs_read_all_then_set_meter_value_sample_interval() {
    let mut config = standard();
    assert!(config.get(None).unwrap().configuration_key.is_some());
    let outcome = config.change("MeterValueSampleInterval", "10");
    assert_eq!(outcome.status(), ConfigurationStatus::Accepted);
    assert_eq!(
        outcome.applied().unwrap().key(),
        &ConfigKey::Standard(StandardKey::MeterValueSampleInterval)
    );
}

/// TC_040_1_CS: key "Testing", value "true".
#[test]
fn tc_040_1_cs_unknown_key_is_not_supported() {
    let mut config = standard();
    assert_eq!(
        config.change("Testing", "true"),
        ChangeOutcome::NotSupported
    );
}

/// TC_040_2_CS: MeterValueSampleInterval -1.
#[test]
fn tc_040_2_cs_negative_interval_is_rejected() {
    let mut config = standard();
    let before = get_one(&config, "MeterValueSampleInterval");
    assert_eq!(
        config.change("MeterValueSampleInterval", "-1"),
        ChangeOutcome::Rejected(Rejection::InvalidValue(InvalidValue::OutOfRange {
            min: 0,
            max: i32::MAX as i64
        }))
    );
    assert_eq!(get_one(&config, "MeterValueSampleInterval"), before);
}

/// 9.1.34: "Negative values are not allowed. ChangeConfiguration is expected to return a
/// REJECTED result."
#[test]
fn negative_websocket_ping_interval_is_rejected_and_zero_disables_pings() {
    let mut config = standard();
    assert_eq!(
        status(&mut config, "WebSocketPingInterval", "-5"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(
        status(&mut config, "WebSocketPingInterval", "0"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(config.websocket_ping_interval(), None);
}

/// Chapter 9, every key: read-only keys are Rejected, writable keys accept a value of their type
/// and reject a value of another type; write-only keys never appear in the full listing.
#[test]
fn every_standard_key_follows_its_type_and_accessibility() {
    let mut config = Configuration::new(
        Definitions::builder()
            .profiles(&Profile::ALL)
            .with_key(StandardKey::BlinkRepeat)
            .with_key(StandardKey::LightIntensity)
            .with_key(StandardKey::MaxEnergyOnInvalidId)
            .with_key(StandardKey::ConnectorSwitch3to1PhaseSupported)
            .with_key(StandardKey::SupportedFileTransferProtocols)
            .with_key(StandardKey::SupportedFeatureProfilesMaxLength)
            .build()
            .unwrap(),
    );
    let listed: Vec<String> = all_listed(&config.get(None).unwrap())
        .iter()
        .map(|kv| kv.key.clone())
        .collect();
    for key in StandardKey::all() {
        let spec = key.spec();
        let name = spec.name;
        let access = config.accessibility(name).unwrap();
        assert_eq!(
            listed.iter().any(|n| n == name),
            access != Accessibility::WriteOnly,
            "{name}"
        );
        if access == Accessibility::ReadOnly {
            let current = config.value(name).unwrap_or("").to_owned();
            assert_eq!(
                config.change(name, &current),
                ChangeOutcome::Rejected(Rejection::ReadOnly),
                "{name}"
            );
            continue;
        }
        let (good, bad): (&str, &[&str]) = match spec.value_type {
            ValueType::Boolean => ("false", &["maybe", "1", ""]),
            ValueType::Integer { min, .. } => {
                (if min > 0 { "5" } else { "0" }, &["abc", "-1", "1.5", ""])
            }
            ValueType::Text { .. } => ("ACME Charging", &[]),
            ValueType::HexBinary { .. } => ("00112233445566778899AABBCCDDEEFF", &["xyz", "0011"]),
            ValueType::MeasurandList { .. } => ("Voltage", &["Volts", "true"]),
            ValueType::PhaseRotationList { .. } => ("1.RST", &["RST", "9.RST"]),
            _ => panic!("{name}: no writable key of this type expected"),
        };
        for bad in bad {
            assert_eq!(
                status(&mut config, name, bad),
                ConfigurationStatus::Rejected,
                "{name}={bad}"
            );
        }
        if key == StandardKey::SecurityProfile {
            // Rises only, and needs an AuthorizationKey for 1 and 2 (set by the loop already).
            assert_eq!(
                status(&mut config, name, "1"),
                ConfigurationStatus::Accepted
            );
            continue;
        }
        assert_eq!(
            status(&mut config, name, good),
            ConfigurationStatus::Accepted,
            "{name}"
        );
        if access == Accessibility::WriteOnly {
            assert_eq!(get_one(&config, name).value, None, "{name}");
        } else {
            assert_eq!(
                get_one(&config, name).value.as_deref(),
                Some(good),
                "{name}"
            );
        }
    }
}

/// 9.1.11: LightIntensity is a percentage.
#[test]
fn light_intensity_is_a_percentage() {
    let mut config = Configuration::new(
        Definitions::builder()
            .with_key(StandardKey::LightIntensity)
            .build()
            .unwrap(),
    );
    assert_eq!(
        status(&mut config, "LightIntensity", "100"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        status(&mut config, "LightIntensity", "101"),
        ConfigurationStatus::Rejected
    );
}

/// Booleans are CiString500Type values: case-insensitive, stored as "true"/"false".
#[test]
fn booleans_are_case_insensitive_and_stored_canonically() {
    let mut config = standard();
    assert_eq!(
        status(&mut config, "LocalPreAuthorize", "TRUE"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        get_one(&config, "LocalPreAuthorize").value.as_deref(),
        Some("true")
    );
    assert!(config.local_pre_authorize());
    assert_eq!(
        status(&mut config, "LocalPreAuthorize", "yes"),
        ConfigurationStatus::Rejected
    );
    assert!(config.local_pre_authorize());
}

/// 5.3 and errata 3.14.4: CSLs are bounded by their MaxLength key and list supported measurands
/// only; a refused value changes nothing.
#[test]
fn measurand_lists_respect_max_length_and_supported_measurands() {
    let definitions = Definitions::builder()
        .initial(StandardKey::MeterValuesSampledDataMaxLength, "2")
        .supported_measurands(&[
            Measurand::EnergyActiveImportRegister,
            Measurand::Voltage,
            Measurand::CurrentImport,
        ])
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(
        status(
            &mut config,
            "MeterValuesSampledData",
            "Voltage.L1, Current.Import"
        ),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        get_one(&config, "MeterValuesSampledData").value.as_deref(),
        Some("Voltage.L1,Current.Import")
    );
    assert_eq!(
        config.meter_values_sampled_data(),
        vec![
            SampledMeasurand {
                measurand: Measurand::Voltage,
                phase: Some(Phase::L1)
            },
            SampledMeasurand {
                measurand: Measurand::CurrentImport,
                phase: None
            },
        ]
    );
    // Three items, the maximum is two.
    assert_eq!(
        config.change(
            "MeterValuesSampledData",
            "Voltage,Current.Import,Energy.Active.Import.Register"
        ),
        ChangeOutcome::Rejected(Rejection::InvalidValue(InvalidValue::TooManyItems {
            count: 3,
            max: 2
        }))
    );
    // A measurand that does not exist, and one this meter does not have.
    assert_eq!(
        status(&mut config, "MeterValuesSampledData", "Energy"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(
        status(&mut config, "MeterValuesSampledData", "SoC"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(
        get_one(&config, "MeterValuesSampledData").value.as_deref(),
        Some("Voltage.L1,Current.Import")
    );
}

/// Errata 3.14.5: an empty StopTxnSampledData means no meter values in StopTransaction.
#[test]
fn stop_txn_data_may_be_emptied() {
    let mut config = standard();
    assert_eq!(
        status(&mut config, "StopTxnSampledData", "SoC"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        status(&mut config, "StopTxnSampledData", ""),
        ConfigurationStatus::Accepted
    );
    assert!(config.stop_txn_sampled_data().is_empty());
}

/// 5.3: without its MaxLength key a CSL holds one item.
#[test]
fn a_list_without_its_max_length_key_holds_one_item() {
    let definitions = Definitions::builder()
        .without_key(StandardKey::MeterValuesAlignedDataMaxLength)
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(
        status(&mut config, "MeterValuesAlignedData", "Voltage"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        status(&mut config, "MeterValuesAlignedData", "Voltage,SoC"),
        ConfigurationStatus::Rejected
    );
}

/// 9.1.7: ConnectorPhaseRotation items name existing connectors.
#[test]
fn connector_phase_rotation_names_existing_connectors() {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "2")
        .initial(StandardKey::ConnectorPhaseRotationMaxLength, "3")
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(
        status(&mut config, "ConnectorPhaseRotation", "0.RST, 1.RST, 2.RTS"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(
        get_one(&config, "ConnectorPhaseRotation").value.as_deref(),
        Some("0.RST,1.RST,2.RTS")
    );
    assert_eq!(
        status(&mut config, "ConnectorPhaseRotation", "3.RST"),
        ConfigurationStatus::Rejected
    );
}

/// Read-only keys: NumberOfConnectors is the integrator's, the Central System cannot set it.
#[test]
fn read_only_keys_are_rejected() {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "4")
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(
        config.change("NumberOfConnectors", "2"),
        ChangeOutcome::Rejected(Rejection::ReadOnly)
    );
    assert_eq!(config.number_of_connectors(), 4);
    let kv = get_one(&config, "NumberOfConnectors");
    assert!(kv.readonly);
    assert_eq!(kv.value.as_deref(), Some("4"));
}

/// Errata 3.84: UnlockConnectorOnEVSideDisconnect may be read-only (fixed cable).
#[test]
fn a_key_with_a_choice_of_accessibility_can_be_made_read_only() {
    let definitions = Definitions::builder()
        .accessibility(
            StandardKey::UnlockConnectorOnEVSideDisconnect,
            Accessibility::ReadOnly,
        )
        .initial(StandardKey::UnlockConnectorOnEVSideDisconnect, "false")
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert!(get_one(&config, "UnlockConnectorOnEVSideDisconnect").readonly);
    assert_eq!(
        status(&mut config, "UnlockConnectorOnEVSideDisconnect", "true"),
        ConfigurationStatus::Rejected
    );
    // Fixed accessibilities cannot be changed.
    let err = Definitions::builder()
        .accessibility(StandardKey::HeartbeatInterval, Accessibility::ReadOnly)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        DefinitionError::AccessibilityNotAllowed { .. }
    ));
}

/// Chapter 9: a Charge Point without a profile has none of its keys; SupportedFeatureProfiles
/// says which it has.
#[test]
fn keys_of_unsupported_profiles_are_not_supported() {
    let mut config = Configuration::new(
        Definitions::builder()
            .profiles(&[Profile::Core, Profile::SmartCharging])
            .build()
            .unwrap(),
    );
    assert_eq!(
        get_one(&config, "SupportedFeatureProfiles")
            .value
            .as_deref(),
        Some("Core,SmartCharging")
    );
    assert_eq!(
        config.supported_feature_profiles(),
        vec![Profile::Core, Profile::SmartCharging]
    );
    assert_eq!(
        status(&mut config, "LocalAuthListEnabled", "true"),
        ConfigurationStatus::NotSupported
    );
    assert_eq!(
        status(&mut config, "AuthorizationKey", "00".repeat(16).as_str()),
        ConfigurationStatus::NotSupported
    );
    assert!(!config.local_auth_list_enabled());
    assert_eq!(
        config.charging_schedule_allowed_charging_rate_unit(),
        vec![ChargingRateUnitType::A, ChargingRateUnitType::W]
    );
}

/// Chapter 9: an optional key can be left out; a required one cannot.
#[test]
fn optional_keys_can_be_removed_required_ones_cannot() {
    let mut config = Configuration::new(
        Definitions::builder()
            .without_key(StandardKey::AuthorizationCacheEnabled)
            .build()
            .unwrap(),
    );
    assert_eq!(
        status(&mut config, "AuthorizationCacheEnabled", "true"),
        ConfigurationStatus::NotSupported
    );
    assert!(!config.authorization_cache_enabled());
    assert_eq!(
        Definitions::builder()
            .without_key(StandardKey::HeartbeatInterval)
            .build()
            .unwrap_err(),
        DefinitionError::RequiredKey {
            key: "HeartbeatInterval"
        }
    );
    assert!(matches!(
        Definitions::builder()
            .initial(StandardKey::SupportedFeatureProfiles, "Core")
            .build(),
        Err(DefinitionError::Derived { .. })
    ));
    assert!(matches!(
        Definitions::builder()
            .initial(StandardKey::HeartbeatInterval, "-3")
            .build(),
        Err(DefinitionError::InvalidInitial { .. })
    ));
    // A CSL default longer than the limit the integrator set is caught at build time.
    assert!(matches!(
        Definitions::builder()
            .initial(StandardKey::StopTxnSampledDataMaxLength, "1")
            .initial(StandardKey::StopTxnSampledData, "SoC,Voltage")
            .build(),
        Err(DefinitionError::InvalidInitial { .. })
    ));
}

// ---- security white paper --------------------------------------------------------------------

const OCTT_PASSWORD: &str = "4F43415F4F4354545F61646D696E5F74657374";

/// TC_073_CS: the OCTT password is accepted; AuthorizationKey is write-only.
#[test]
fn tc_073_cs_authorization_key_is_accepted_and_never_read_back() {
    let mut config = standard();
    let outcome = config.change("AuthorizationKey", OCTT_PASSWORD);
    assert_eq!(outcome.status(), ConfigurationStatus::Accepted);
    let applied = outcome.applied().unwrap();
    assert_eq!(
        applied.key(),
        &ConfigKey::Standard(StandardKey::AuthorizationKey)
    );
    assert!(!format!("{applied:?}").contains(OCTT_PASSWORD));
    assert!(!format!("{config:?}").contains(OCTT_PASSWORD));
    assert_eq!(config.authorization_key(), Some(OCTT_PASSWORD));

    let all = config.get(None).unwrap();
    assert!(
        !all_listed(&all)
            .iter()
            .any(|kv| kv.key == "AuthorizationKey")
    );
    assert_eq!(
        get_one(&config, "AuthorizationKey"),
        KeyValue {
            key: "AuthorizationKey".into(),
            readonly: false,
            value: None
        }
    );
}

/// White paper A00.FR.205: 16 to 20 bytes as hexadecimal digits.
#[test]
fn authorization_key_must_be_16_to_20_bytes_of_hex() {
    let mut config = standard();
    for bad in [
        "",
        "00112233",
        &"0".repeat(31),
        &"0".repeat(42),
        &"0".repeat(33),
        "OCA_OCTT_admin_test",
    ] {
        assert_eq!(
            status(&mut config, "AuthorizationKey", bad),
            ConfigurationStatus::Rejected,
            "{bad}"
        );
    }
    assert_eq!(config.authorization_key(), None);
    assert_eq!(
        status(&mut config, "AuthorizationKey", &"ab".repeat(20)),
        ConfigurationStatus::Accepted
    );
}

/// TC_083_CS / A05.FR.05: a higher SecurityProfile with its prerequisites is Accepted.
#[test]
fn tc_083_cs_security_profile_can_be_raised() {
    let mut config = standard();
    assert_eq!(
        status(&mut config, "AuthorizationKey", OCTT_PASSWORD),
        ConfigurationStatus::Accepted
    );
    let outcome = config.change("SecurityProfile", "1");
    assert_eq!(outcome.status(), ConfigurationStatus::Accepted);
    assert_eq!(outcome.applied().unwrap().previous(), Some("0"));
    assert_eq!(config.security_profile(), 1);
}

/// TC_084_CS / A05.FR.01: lowering (or repeating) the SecurityProfile is Rejected.
#[test]
fn tc_084_cs_security_profile_cannot_be_lowered() {
    let definitions = Definitions::builder()
        .initial(StandardKey::SecurityProfile, "2")
        .initial(StandardKey::AuthorizationKey, OCTT_PASSWORD)
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(
        config.change("SecurityProfile", "1"),
        ChangeOutcome::Rejected(Rejection::SecurityProfileNotRaised { current: 2 })
    );
    assert_eq!(
        status(&mut config, "SecurityProfile", "2"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(
        status(&mut config, "SecurityProfile", "4"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(config.security_profile(), 2);
    // A05.FR.08: the Charge Point itself may fall back.
    let applied = config.set_local("SecurityProfile", "1").unwrap();
    assert_eq!(applied.previous(), Some("2"));
    assert_eq!(config.security_profile(), 1);
}

/// A05.FR.02: profiles 1 and 2 need an AuthorizationKey.
#[test]
fn security_profile_1_or_2_needs_an_authorization_key() {
    let mut config = standard();
    assert_eq!(
        config.change("SecurityProfile", "2"),
        ChangeOutcome::Rejected(Rejection::AuthorizationKeyMissing { requested: 2 })
    );
    // Profile 3 uses client certificates; its prerequisites are the certificate store's.
    assert_eq!(
        status(&mut config, "SecurityProfile", "3"),
        ConfigurationStatus::Accepted
    );
}

// ---- reboot-required, application keys -------------------------------------------------------

/// 5.3 / 7.22: RebootRequired: stored at once and reported, in effect after the restart.
#[test]
fn reboot_required_changes_are_reported_at_once_and_effective_after_restore() {
    let definitions = Definitions::builder()
        .reboot_required(StandardKey::WebSocketPingInterval, true)
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions.clone());
    let mut snapshot = Snapshot::new();
    let outcome = config.change("WebSocketPingInterval", "30");
    assert_eq!(outcome.status(), ConfigurationStatus::RebootRequired);
    assert!(outcome.applied().unwrap().takes_effect_after_reboot());
    persist(&mut snapshot, &outcome);

    assert_eq!(
        get_one(&config, "WebSocketPingInterval").value.as_deref(),
        Some("30")
    );
    assert_eq!(config.websocket_ping_interval().unwrap().as_secs(), 60);
    assert_eq!(config.pending("WebSocketPingInterval"), Some("30"));
    // Back to the value in effect: nothing waits for a reboot any more.
    assert_eq!(
        status(&mut config, "WebSocketPingInterval", "60"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(config.pending("WebSocketPingInterval"), None);

    let (restored, issues) = Configuration::restore(definitions, &snapshot);
    assert!(issues.is_empty());
    assert_eq!(restored.websocket_ping_interval().unwrap().as_secs(), 30);
    assert_eq!(restored.pending("WebSocketPingInterval"), None);
}

fn vendor_mode(raw: &str) -> Result<String, String> {
    match raw {
        "eco" | "fast" => Ok(raw.to_owned()),
        _ => Err("mode is eco or fast".to_owned()),
    }
}

fn with_application_keys() -> Definitions {
    Definitions::builder()
        .application_key(ApplicationKey::new(
            "VendorDisplayBrightness",
            ValueType::Integer { min: 0, max: 10 },
            Accessibility::ReadWrite,
            Some("5"),
        ))
        .application_key(
            ApplicationKey::new(
                "VendorChargeMode",
                ValueType::Custom(vendor_mode),
                Accessibility::ReadWrite,
                Some("eco"),
            )
            .reboot_required(true),
        )
        .application_key(ApplicationKey::new(
            "VendorSerial",
            ValueType::Text { max_chars: 20 },
            Accessibility::ReadOnly,
            Some("SN-1"),
        ))
        .application_key(ApplicationKey::new(
            "VendorLanguage",
            ValueType::OneOf(&["en", "de", "fr"]),
            Accessibility::ReadWrite,
            None,
        ))
        .build()
        .unwrap()
}

/// Application keys behave like standard keys.
#[test]
fn application_keys_are_read_changed_validated_and_persisted() {
    let definitions = with_application_keys();
    let mut config = Configuration::new(definitions.clone());
    let all = config.get(None).unwrap();
    let listed = all_listed(&all);
    let tail: Vec<&str> = listed[listed.len() - 4..]
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        tail,
        [
            "VendorDisplayBrightness",
            "VendorChargeMode",
            "VendorSerial",
            "VendorLanguage"
        ]
    );
    assert_eq!(get_one(&config, "VendorLanguage").value, None);
    assert!(get_one(&config, "VendorSerial").readonly);

    let mut snapshot = Snapshot::new();
    let outcome = config.change("vendordisplaybrightness", "7");
    assert_eq!(outcome.status(), ConfigurationStatus::Accepted);
    assert_eq!(
        outcome.applied().unwrap().key(),
        &ConfigKey::Application("VendorDisplayBrightness".into())
    );
    persist(&mut snapshot, &outcome);
    assert_eq!(
        status(&mut config, "VendorDisplayBrightness", "11"),
        ConfigurationStatus::Rejected
    );
    assert_eq!(
        config.change("VendorChargeMode", "turbo"),
        ChangeOutcome::Rejected(Rejection::InvalidValue(InvalidValue::Custom(
            "mode is eco or fast".into()
        )))
    );
    let outcome = config.change("VendorChargeMode", "fast");
    assert_eq!(outcome.status(), ConfigurationStatus::RebootRequired);
    persist(&mut snapshot, &outcome);
    assert_eq!(config.value("VendorChargeMode"), Some("eco"));
    assert_eq!(
        status(&mut config, "VendorSerial", "SN-2"),
        ConfigurationStatus::Rejected
    );
    let outcome = config.change("VendorLanguage", "DE");
    assert_eq!(outcome.applied().unwrap().value(), "de");
    persist(&mut snapshot, &outcome);

    let (restored, issues) = Configuration::restore(definitions, &snapshot);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(restored.value("VendorDisplayBrightness"), Some("7"));
    assert_eq!(restored.value("VendorChargeMode"), Some("fast"));
    assert_eq!(restored.value("VendorLanguage"), Some("de"));
}

#[test]
fn application_key_names_must_be_new_and_at_most_50_characters() {
    let clash = Definitions::builder()
        .application_key(ApplicationKey::new(
            "heartbeatinterval",
            ValueType::Boolean,
            Accessibility::ReadWrite,
            None,
        ))
        .build();
    assert!(matches!(clash, Err(DefinitionError::DuplicateName { .. })));
    // Even a standard key that is not defined (its profile is off) keeps its name.
    let absent = Definitions::builder()
        .profiles(&[Profile::Core])
        .application_key(ApplicationKey::new(
            "LocalAuthListEnabled",
            ValueType::Boolean,
            Accessibility::ReadWrite,
            None,
        ))
        .build();
    assert!(matches!(absent, Err(DefinitionError::DuplicateName { .. })));
    let long = Definitions::builder()
        .application_key(ApplicationKey::new(
            "V".repeat(51),
            ValueType::Boolean,
            Accessibility::ReadWrite,
            None,
        ))
        .build();
    assert!(matches!(long, Err(DefinitionError::BadName { .. })));
}

// ---- persistence -----------------------------------------------------------------------------

/// Every applied change is one Put in "configuration": `1:<canonical value>`.
#[test]
fn changes_round_trip_through_a_snapshot() {
    let definitions = Definitions::standard();
    let mut config = Configuration::new(definitions.clone());
    let mut snapshot = Snapshot::new();
    for (key, value) in [
        ("HeartbeatInterval", "0900"),
        ("LocalPreAuthorize", "True"),
        ("MeterValuesSampledData", "voltage,SoC"),
        ("AuthorizationKey", OCTT_PASSWORD),
        ("CpoName", "ACME"),
    ] {
        let outcome = config.change(key, value);
        assert_eq!(outcome.status(), ConfigurationStatus::Accepted, "{key}");
        persist(&mut snapshot, &outcome);
    }
    assert_eq!(
        config
            .clone()
            .change("HeartbeatInterval", "60")
            .applied()
            .unwrap()
            .record(),
        StoreOp::Put {
            collection: COLLECTION,
            key: "HeartbeatInterval".into(),
            value: b"1:60".to_vec(),
        }
    );
    assert_eq!(
        snapshot.get(COLLECTION, "HeartbeatInterval"),
        Some(&b"1:900"[..])
    );
    assert_eq!(
        snapshot.get(COLLECTION, "LocalPreAuthorize"),
        Some(&b"1:true"[..])
    );

    let (restored, issues) = Configuration::restore(definitions, &snapshot);
    assert!(issues.is_empty());
    assert_eq!(restored.heartbeat_interval().as_secs(), 900);
    assert!(restored.local_pre_authorize());
    assert_eq!(
        restored.meter_values_sampled_data(),
        vec![
            SampledMeasurand {
                measurand: Measurand::Voltage,
                phase: None
            },
            SampledMeasurand {
                measurand: Measurand::SoC,
                phase: None
            },
        ]
    );
    assert_eq!(restored.authorization_key(), Some(OCTT_PASSWORD));
    assert_eq!(restored.cpo_name(), Some("ACME"));
    assert_eq!(restored.get(None).unwrap(), config.get(None).unwrap());
}

/// Restore never panics: stale, read-only, unreadable and no-longer-valid records are reported
/// and the keys keep their initial values.
#[test]
fn restore_reports_stale_and_invalid_records_and_keeps_initial_values() {
    let mut snapshot = Snapshot::new();
    for (key, value) in [
        ("RetiredVendorKey", &b"1:42"[..]),
        ("NumberOfConnectors", b"1:8"),
        ("HeartbeatInterval", b"2:100"),
        ("ResetRetries", b"no version"),
        ("ConnectionTimeOut", b"\xff\xfe"),
        ("MeterValuesSampledData", b"1:SoC"),
        ("LocalPreAuthorize", b"1:sometimes"),
        ("TransactionMessageAttempts", b"1:7"),
    ] {
        snapshot.insert(COLLECTION, key.into(), value.to_vec());
    }
    snapshot.insert("other", "HeartbeatInterval".into(), b"1:1".to_vec());
    let definitions = Definitions::builder()
        .supported_measurands(&[Measurand::EnergyActiveImportRegister])
        .build()
        .unwrap();
    let (config, issues) = Configuration::restore(definitions, &snapshot);

    // Issues come in record key order.
    let expected = vec![
        RestoreIssue::Malformed {
            key: "ConnectionTimeOut".into(),
            reason: "not UTF-8",
        },
        RestoreIssue::Malformed {
            key: "HeartbeatInterval".into(),
            reason: "unknown record version",
        },
        RestoreIssue::InvalidValue {
            key: "LocalPreAuthorize".into(),
            error: InvalidValue::NotBoolean,
        },
        RestoreIssue::InvalidValue {
            key: "MeterValuesSampledData".into(),
            error: InvalidValue::UnsupportedMeasurand { item: "SoC".into() },
        },
        RestoreIssue::ReadOnly {
            key: "NumberOfConnectors".into(),
        },
        RestoreIssue::Malformed {
            key: "ResetRetries".into(),
            reason: "no version",
        },
        RestoreIssue::UnknownKey {
            key: "RetiredVendorKey".into(),
        },
    ];
    assert_eq!(issues, expected);

    assert_eq!(config.heartbeat_interval().as_secs(), 300);
    assert_eq!(config.connection_timeout().as_secs(), 60);
    assert_eq!(config.reset_retries(), 3);
    assert_eq!(config.number_of_connectors(), 1);
    assert!(!config.local_pre_authorize());
    assert_eq!(
        config.meter_values_sampled_data(),
        vec![SampledMeasurand {
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None
        }]
    );
    // The valid record in the same snapshot is applied.
    assert_eq!(config.transaction_message_attempts(), 7);
    // Messages name the key, never a value.
    assert!(issues.iter().all(|i| !i.to_string().contains("sometimes")));
}

/// A record longer than its limit after the integrator lowered the limit falls back too.
#[test]
fn restore_refuses_a_list_longer_than_the_new_max_length() {
    let mut snapshot = Snapshot::new();
    snapshot.insert(
        COLLECTION,
        "StopTxnSampledData".into(),
        b"1:Voltage,SoC,Current.Import".to_vec(),
    );
    let definitions = Definitions::builder()
        .initial(StandardKey::StopTxnSampledDataMaxLength, "2")
        .build()
        .unwrap();
    let (config, issues) = Configuration::restore(definitions, &snapshot);
    assert_eq!(
        issues,
        vec![RestoreIssue::InvalidValue {
            key: "StopTxnSampledData".into(),
            error: InvalidValue::TooManyItems { count: 3, max: 2 },
        }]
    );
    assert!(config.stop_txn_sampled_data().is_empty());
}

// ---- typed accessors -------------------------------------------------------------------------

#[test]
fn typed_accessors_read_the_values_in_effect() {
    let definitions = Definitions::builder()
        .profiles(&Profile::ALL)
        .with_key(StandardKey::MaxEnergyOnInvalidId)
        .with_key(StandardKey::SupportedFileTransferProtocols)
        .build()
        .unwrap();
    let mut config = Configuration::new(definitions);
    assert_eq!(config.heartbeat_interval().as_secs(), 300);
    assert_eq!(config.clock_aligned_data_interval(), None);
    assert_eq!(config.meter_value_sample_interval().unwrap().as_secs(), 60);
    assert_eq!(config.connection_timeout().as_secs(), 60);
    assert_eq!(config.transaction_message_attempts(), 3);
    assert_eq!(config.transaction_message_retry_interval().as_secs(), 60);
    assert_eq!(config.websocket_ping_interval().unwrap().as_secs(), 60);
    assert_eq!(config.message_timeout().unwrap().as_secs(), 30);
    assert_eq!(config.minimum_status_duration().as_secs(), 0);
    assert_eq!(config.get_configuration_max_keys(), 100);
    assert_eq!(config.stop_transaction_max_meter_values(), Some(100));
    assert_eq!(config.max_energy_on_invalid_id(), Some(0));
    assert!(!config.authorize_remote_tx_requests());
    assert!(config.local_authorize_offline());
    assert!(!config.local_pre_authorize());
    assert!(config.authorization_cache_enabled());
    assert!(!config.allow_offline_tx_for_unknown_id());
    assert!(config.stop_transaction_on_invalid_id());
    assert!(config.stop_transaction_on_ev_side_disconnect());
    assert!(config.unlock_connector_on_ev_side_disconnect());
    assert_eq!(config.reset_retries(), 3);
    assert!(config.local_auth_list_enabled());
    assert_eq!(config.local_auth_list_max_length(), 1000);
    assert_eq!(config.send_local_list_max_length(), 100);
    assert!(!config.reserve_connector_zero_supported());
    assert_eq!(config.charge_profile_max_stack_level(), 10);
    assert_eq!(config.charging_schedule_max_periods(), 24);
    assert_eq!(config.max_charging_profiles_installed(), 10);
    assert!(!config.connector_switch_3to1_phase_supported());
    assert_eq!(
        config.supported_file_transfer_protocols(),
        ["HTTP", "HTTPS"]
    );
    assert!(!config.additional_root_certificate_check());
    assert_eq!(config.certificate_signed_max_chain_size(), Some(10_000));
    assert_eq!(config.certificate_store_max_length(), Some(20));
    assert_eq!(config.security_profile(), 0);
    assert_eq!(config.cpo_name(), None);
    assert!(!config.central_contract_validation_allowed());
    assert_eq!(config.cert_signing_wait_minimum().unwrap().as_secs(), 60);
    assert_eq!(config.cert_signing_repeat_times(), 3);
    assert!(config.contract_validation_offline());
    assert!(!config.iso15118_pnc_enabled());
    assert!(config.supports(Profile::Iso15118PnC));
    assert_eq!(config.meter_values_aligned_data().len(), 1);
    assert!(config.stop_txn_aligned_data().is_empty());

    assert_eq!(
        status(&mut config, "ClockAlignedDataInterval", "900"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(config.clock_aligned_data_interval().unwrap().as_secs(), 900);
    assert_eq!(
        status(&mut config, "MeterValueSampleInterval", "0"),
        ConfigurationStatus::Accepted
    );
    assert_eq!(config.meter_value_sample_interval(), None);
    assert_eq!(
        status(&mut config, "ISO15118PnCEnabled", "true"),
        ConfigurationStatus::Accepted
    );
    assert!(config.iso15118_pnc_enabled());
}
