//! Schema validation against the vendored OCA schemas and the CallError code each failure maps
//! to (OCPP-J 1.6 section 4.2.3 table 7, OCPP 2.0.1 part 4 section 4.3 table 8).

use ocpp_core::validate::{
    MAX_DESCRIPTION_LEN, MAX_DETAILED_VIOLATIONS, SchemaDraft, ValidationError, ViolationKind,
    compile_all, schema_draft, validate,
};
use ocpp_core::{ErrorCode, PayloadKind, Version};
use serde_json::{Value, json};

const REQ: PayloadKind = PayloadKind::Request;
const RES: PayloadKind = PayloadKind::Response;

/// Validates and expects failure; returns the error.
fn invalid(version: Version, action: &str, kind: PayloadKind, payload: Value) -> ValidationError {
    match validate(version, action, kind, &payload) {
        Ok(()) => panic!("{version} {action} {kind:?} accepted {payload}"),
        Err(e) => e,
    }
}

/// Asserts the deciding violation (kind and pointer) and the code as `version` spells it.
fn assert_rejected(
    version: Version,
    action: &str,
    kind: PayloadKind,
    payload: Value,
    expected_kind: ViolationKind,
    pointer: &str,
    wire_code: &str,
) -> ValidationError {
    let error = invalid(version, action, kind, payload);
    let first = &error.violations()[0];
    assert_eq!(first.kind(), expected_kind, "{error}");
    assert_eq!(first.pointer(), pointer, "{error}");
    assert_eq!(error.error_code().wire_name(version), wire_code, "{error}");
    error
}

fn boot16() -> Value {
    json!({"chargePointVendor": "VendorX", "chargePointModel": "ModelY"})
}

fn boot201() -> Value {
    json!({"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}})
}

fn transaction_event201(timestamp: &str) -> Value {
    json!({
        "eventType": "Started",
        "timestamp": timestamp,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-1"}
    })
}

// ---------------------------------------------------------------------------------------------
// Compilation and drafts

#[test]
fn every_schema_of_both_versions_compiles() {
    // 1.6: 28 core + 11 security actions; 2.0.1: 64 actions; one request and one response each.
    assert_eq!(compile_all(), Ok(2 * (39 + 64)));
}

/// OCPP-J 1.6 errata 3.8: "The OCPP-J 1.6 Schema files are [JSON_SCHEMA] draft-04 schemas";
/// the security white paper and 2.0.1 files declare draft-06.
#[test]
fn each_schema_is_compiled_with_the_draft_its_schema_keyword_names() {
    assert_eq!(
        schema_draft(Version::V16, "BootNotification", REQ),
        Ok(SchemaDraft::Draft04)
    );
    assert_eq!(
        schema_draft(Version::V16, "StopTransaction", RES),
        Ok(SchemaDraft::Draft04)
    );
    assert_eq!(
        schema_draft(Version::V16, "SignCertificate", REQ),
        Ok(SchemaDraft::Draft06)
    );
    assert_eq!(
        schema_draft(Version::V201, "TransactionEvent", REQ),
        Ok(SchemaDraft::Draft06)
    );
}

/// Every one of the 206 schemas is a closed object at the root (additionalProperties false), so
/// each classifies a non-object and an unknown member the same way.
#[test]
fn every_schema_rejects_non_objects_and_unknown_root_members_with_the_version_code() {
    for version in Version::ALL {
        for action in ocpp_core::schemas::actions(version) {
            for kind in [REQ, RES] {
                let error = invalid(version, action, kind, json!(null));
                assert_eq!(
                    error.violations()[0].kind(),
                    ViolationKind::NotAnObject,
                    "{version} {action}"
                );
                assert_eq!(error.violations().len(), 1);
                assert_eq!(
                    error.error_code(),
                    ViolationKind::NotAnObject.error_code(version)
                );

                let error = invalid(version, action, kind, json!({"notAnOcppField": 1}));
                let first = &error.violations()[0];
                assert_eq!(
                    first.kind(),
                    ViolationKind::UnexpectedMember,
                    "{version} {action} {error}"
                );
                assert_eq!(first.pointer(), "/notAnOcppField");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Valid payloads

#[test]
fn valid_payloads_of_both_versions_and_both_drafts_pass() {
    let cases = [
        (Version::V16, "BootNotification", REQ, boot16()),
        (
            Version::V16,
            "BootNotification",
            RES,
            json!({"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300}),
        ),
        (Version::V16, "Heartbeat", REQ, json!({})),
        (
            Version::V16,
            "StartTransaction",
            REQ,
            json!({"connectorId": 1, "idTag": "ABC", "meterStart": 0, "timestamp": "2024-01-01T00:00:00+02:00"}),
        ),
        (
            Version::V16,
            "GetDiagnostics",
            REQ,
            json!({"location": "ftp://user:pw@example.com/diag/"}),
        ),
        (
            Version::V16,
            "SignCertificate",
            REQ,
            json!({"csr": "-----BEGIN"}),
        ),
        (Version::V201, "BootNotification", REQ, boot201()),
        (
            Version::V201,
            "TransactionEvent",
            REQ,
            transaction_event201("2013-02-01T20:53:32.486Z"),
        ),
        (
            Version::V201,
            "TransactionEvent",
            REQ,
            transaction_event201("2024-01-01T00:00:00+02:00"),
        ),
        // CustomDataType is the one open class of 2.0.1 (part 4 section 7): extra members pass.
        (
            Version::V201,
            "Heartbeat",
            REQ,
            json!({"customData": {"vendorId": "acme", "anything": [1, 2]}}),
        ),
    ];
    for (version, action, kind, payload) in cases {
        assert_eq!(
            validate(version, action, kind, &payload),
            Ok(()),
            "{version} {action} {payload}"
        );
    }
}

/// Many chargers send limits like 16.3 A; the 1.6 schemas say `multipleOf: 0.1`, and binary
/// floating point must not turn such a value into a violation.
#[test]
fn v16_decimal_limits_that_are_multiples_of_a_tenth_pass() {
    for limit in [0.1, 0.3, 6.7, 16.3, 32.1, 230.4, 1.1, 7.9, 11.0, 22080.5] {
        let payload = json!({
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1, "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]
                }
            }
        });
        assert_eq!(
            validate(Version::V16, "SetChargingProfile", REQ, &payload),
            Ok(()),
            "limit {limit}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// OCPP 1.6: one test per violation kind, codes of section 4.2.3 table 7 as spelled on the wire

/// 4.2.3 FormationViolation: "not conform the PDU structure for Action".
#[test]
fn v16_payload_that_is_not_an_object_is_a_formation_violation() {
    for payload in [
        json!(null),
        json!([1]),
        json!("text"),
        json!(3),
        json!(true),
    ] {
        assert_rejected(
            Version::V16,
            "BootNotification",
            REQ,
            payload,
            ViolationKind::NotAnObject,
            "",
            "FormationViolation",
        );
    }
}

/// 4.2.3 ProtocolError: "Payload for Action is incomplete".
#[test]
fn v16_missing_required_member_is_a_protocol_error() {
    assert_rejected(
        Version::V16,
        "BootNotification",
        REQ,
        json!({"chargePointModel": "ModelY"}),
        ViolationKind::MissingMember,
        "/chargePointVendor",
        "ProtocolError",
    );
    // Nested: the pointer names the missing member inside its parent.
    assert_rejected(
        Version::V16,
        "Authorize",
        RES,
        json!({"idTagInfo": {}}),
        ViolationKind::MissingMember,
        "/idTagInfo/status",
        "ProtocolError",
    );
}

/// 4.2.3 FormationViolation: an unknown member is "not conform the PDU structure".
#[test]
fn v16_unknown_member_is_a_formation_violation() {
    let mut payload = boot16();
    payload["colour"] = json!("red");
    assert_rejected(
        Version::V16,
        "BootNotification",
        REQ,
        payload,
        ViolationKind::UnexpectedMember,
        "/colour",
        "FormationViolation",
    );
}

/// 4.2.3 TypeConstraintViolation: "violates data type constraints (e.g. "somestring": 12)".
#[test]
fn v16_wrong_type_is_a_type_constraint_violation() {
    let error = assert_rejected(
        Version::V16,
        "StatusNotification",
        REQ,
        json!({"connectorId": "1", "errorCode": "NoError", "status": "Available"}),
        ViolationKind::WrongType,
        "/connectorId",
        "TypeConstraintViolation",
    );
    assert_eq!(
        error.violations()[0].message(),
        "expected integer, found string"
    );
    // A fraction where an integer belongs is a type failure too.
    assert_rejected(
        Version::V16,
        "StatusNotification",
        REQ,
        json!({"connectorId": 1.5, "errorCode": "NoError", "status": "Available"}),
        ViolationKind::WrongType,
        "/connectorId",
        "TypeConstraintViolation",
    );
}

/// 4.2.3 PropertyConstraintViolation: "at least one field contains an invalid value";
/// chargePointVendor is CiString20Type.
#[test]
fn v16_string_longer_than_its_max_length_is_a_property_constraint_violation() {
    let mut payload = boot16();
    payload["chargePointVendor"] = json!("V".repeat(21));
    let error = assert_rejected(
        Version::V16,
        "BootNotification",
        REQ,
        payload,
        ViolationKind::TooLong,
        "/chargePointVendor",
        "PropertyConstraintViolation",
    );
    assert_eq!(
        error.description(),
        "/chargePointVendor: longer than 20 characters"
    );
    // Exactly 20 is fine.
    let mut payload = boot16();
    payload["chargePointVendor"] = json!("V".repeat(20));
    assert_eq!(
        validate(Version::V16, "BootNotification", REQ, &payload),
        Ok(())
    );
}

/// 4.2.3 PropertyConstraintViolation for a value outside the enumeration.
#[test]
fn v16_value_outside_the_enumeration_is_a_property_constraint_violation() {
    let error = assert_rejected(
        Version::V16,
        "Authorize",
        RES,
        json!({"idTagInfo": {"status": "Bogus"}}),
        ViolationKind::NotInEnum,
        "/idTagInfo/status",
        "PropertyConstraintViolation",
    );
    assert_eq!(
        error.violations()[0].message(),
        "not one of Accepted, Blocked, Expired, Invalid, ConcurrentTx"
    );
}

/// 4.2.3 PropertyConstraintViolation for a number off its grid (`multipleOf: 0.1`); OCTT
/// TC_040_2_CS expects this code for an invalid numeric value.
#[test]
fn v16_number_off_its_multiple_of_grid_is_a_property_constraint_violation() {
    assert_rejected(
        Version::V16,
        "GetCompositeSchedule",
        RES,
        json!({
            "status": "Accepted",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.35}]
            }
        }),
        ViolationKind::OutOfRange,
        "/chargingSchedule/chargingSchedulePeriod/0/limit",
        "PropertyConstraintViolation",
    );
}

/// 4.2.3 OccurenceConstraintViolation (1.6 spelling): a 1..* list that is empty. The draft-06
/// security schema GetInstalledCertificateIds.conf has `minItems: 1`.
#[test]
fn v16_empty_list_that_needs_an_item_is_an_occurence_constraint_violation() {
    assert_rejected(
        Version::V16,
        "GetInstalledCertificateIds",
        RES,
        json!({"status": "Accepted", "certificateHashData": []}),
        ViolationKind::TooFewItems,
        "/certificateHashData",
        "OccurenceConstraintViolation",
    );
}

/// 4.2.3 TypeConstraintViolation: a timestamp that is not a dateTime, and a location that is
/// not an anyURI.
#[test]
fn v16_malformed_date_time_and_uri_are_type_constraint_violations() {
    for timestamp in [
        "yesterday",
        "2013-02-31T20:53:32Z",
        "2013-02-01 20:53:32Z",
        "",
        // Found by the payload fuzz target: jsonschema's own check accepted this year, which
        // the decoder then refused.
        "2/13-02-01T20:53:32.486Z",
        "2013-02-01T20:53:32",
    ] {
        assert_rejected(
            Version::V16,
            "StartTransaction",
            REQ,
            json!({"connectorId": 1, "idTag": "ABC", "meterStart": 0, "timestamp": timestamp}),
            ViolationKind::BadFormat,
            "/timestamp",
            "TypeConstraintViolation",
        );
    }
    assert_rejected(
        Version::V16,
        "GetDiagnostics",
        REQ,
        json!({"location": "not a uri"}),
        ViolationKind::BadFormat,
        "/location",
        "TypeConstraintViolation",
    );
}

/// The security white paper schemas are draft-06; the same table applies.
#[test]
fn v16_security_schemas_classify_like_the_core_ones() {
    assert_rejected(
        Version::V16,
        "SignCertificate",
        REQ,
        json!({}),
        ViolationKind::MissingMember,
        "/csr",
        "ProtocolError",
    );
    assert_rejected(
        Version::V16,
        "SignCertificate",
        REQ,
        json!({"csr": "x".repeat(5501)}),
        ViolationKind::TooLong,
        "/csr",
        "PropertyConstraintViolation",
    );
    assert_rejected(
        Version::V16,
        "SignCertificate",
        REQ,
        json!({"csr": "x", "extra": 1}),
        ViolationKind::UnexpectedMember,
        "/extra",
        "FormationViolation",
    );
}

/// LogStatusNotification.conf (draft-06) is `{"type": "object", "additionalProperties": false}`
/// with no `properties`: every member is unexpected and each gets its own pointer.
#[test]
fn v16_response_that_allows_no_member_names_every_unexpected_member() {
    assert_eq!(
        validate(Version::V16, "LogStatusNotification", RES, &json!({})),
        Ok(())
    );
    let error = invalid(
        Version::V16,
        "LogStatusNotification",
        RES,
        json!({"b": 1, "a": {"nested": true}}),
    );
    let pointers: Vec<_> = error.violations().iter().map(|v| v.pointer()).collect();
    assert_eq!(pointers, ["/a", "/b"]);
    assert!(
        error
            .violations()
            .iter()
            .all(|v| v.kind() == ViolationKind::UnexpectedMember)
    );
    assert_eq!(
        error.error_code().wire_name(Version::V16),
        "FormationViolation"
    );
}

// ---------------------------------------------------------------------------------------------
// OCPP 2.0.1: one test per violation kind, codes of part 4 section 4.3 table 8

/// 4.3 FormatViolation: "Payload for Action is syntactically incorrect".
#[test]
fn v201_payload_that_is_not_an_object_is_a_format_violation() {
    for payload in [json!(null), json!([]), json!("{}")] {
        assert_rejected(
            Version::V201,
            "Heartbeat",
            REQ,
            payload,
            ViolationKind::NotAnObject,
            "",
            "FormatViolation",
        );
    }
}

/// 4.3 OccurrenceConstraintViolation: a required (1..1) field does not occur.
#[test]
fn v201_missing_required_member_is_an_occurrence_constraint_violation() {
    assert_rejected(
        Version::V201,
        "BootNotification",
        REQ,
        json!({"reason": "PowerUp", "chargingStation": {"model": "M"}}),
        ViolationKind::MissingMember,
        "/chargingStation/vendorName",
        "OccurrenceConstraintViolation",
    );
}

/// 4.3 ProtocolError: "Payload for Action is not conform the PDU structure".
#[test]
fn v201_unknown_member_is_a_protocol_error() {
    let mut payload = boot201();
    payload["chargingStation"]["colour"] = json!("red");
    assert_rejected(
        Version::V201,
        "BootNotification",
        REQ,
        payload,
        ViolationKind::UnexpectedMember,
        "/chargingStation/colour",
        "ProtocolError",
    );
}

/// 4.3 TypeConstraintViolation.
#[test]
fn v201_wrong_type_is_a_type_constraint_violation() {
    let mut payload = transaction_event201("2024-01-01T00:00:00Z");
    payload["seqNo"] = json!("0");
    assert_rejected(
        Version::V201,
        "TransactionEvent",
        REQ,
        payload,
        ViolationKind::WrongType,
        "/seqNo",
        "TypeConstraintViolation",
    );
}

/// 4.3 TypeConstraintViolation for a timestamp that is not an RFC 3339 date-time.
#[test]
fn v201_malformed_timestamp_is_a_type_constraint_violation() {
    for timestamp in [
        "2024-13-01T00:00:00Z",
        "01/02/2024 10:00",
        "2024-01-01T25:00:00Z",
    ] {
        assert_rejected(
            Version::V201,
            "TransactionEvent",
            REQ,
            transaction_event201(timestamp),
            ViolationKind::BadFormat,
            "/timestamp",
            "TypeConstraintViolation",
        );
    }
}

/// 4.3 PropertyConstraintViolation: model is string[0..20].
#[test]
fn v201_too_long_string_is_a_property_constraint_violation() {
    let mut payload = boot201();
    payload["chargingStation"]["model"] = json!("M".repeat(21));
    assert_rejected(
        Version::V201,
        "BootNotification",
        REQ,
        payload,
        ViolationKind::TooLong,
        "/chargingStation/model",
        "PropertyConstraintViolation",
    );
}

/// 4.3 PropertyConstraintViolation: a value outside BootReasonEnumType.
#[test]
fn v201_value_outside_the_enumeration_is_a_property_constraint_violation() {
    let mut payload = boot201();
    payload["reason"] = json!("Bored");
    assert_rejected(
        Version::V201,
        "BootNotification",
        REQ,
        payload,
        ViolationKind::NotInEnum,
        "/reason",
        "PropertyConstraintViolation",
    );
}

/// 4.3 PropertyConstraintViolation: stateOfCharge-like percentages have minimum 0 and maximum
/// 100 in NotifyEVChargingNeeds; ePriceLevel has minimum 0.
#[test]
fn v201_number_below_minimum_or_above_maximum_is_a_property_constraint_violation() {
    let needs = |soc: i64| {
        json!({
            "evseId": 1,
            "chargingNeeds": {
                "requestedEnergyTransfer": "DC",
                "dcChargingParameters": {"evMaxCurrent": 100, "evMaxVoltage": 400, "stateOfCharge": soc}
            }
        })
    };
    assert_eq!(
        validate(Version::V201, "NotifyEVChargingNeeds", REQ, &needs(50)),
        Ok(())
    );
    for soc in [-1, 101] {
        assert_rejected(
            Version::V201,
            "NotifyEVChargingNeeds",
            REQ,
            needs(soc),
            ViolationKind::OutOfRange,
            "/chargingNeeds/dcChargingParameters/stateOfCharge",
            "PropertyConstraintViolation",
        );
    }
}

/// 4.3 OccurrenceConstraintViolation for list cardinality; part 2 B06.FR.16 uses this code for
/// a request with more elements than allowed. AuthorizeRequest.iso15118CertificateHashData is
/// 1..4.
#[test]
fn v201_list_with_too_many_or_too_few_items_is_an_occurrence_constraint_violation() {
    let hash = json!({
        "hashAlgorithm": "SHA256", "issuerNameHash": "a", "issuerKeyHash": "b",
        "serialNumber": "c", "responderURL": "http://ocsp"
    });
    let authorize = |n: usize| {
        json!({
            "idToken": {"idToken": "ABC", "type": "ISO14443"},
            "iso15118CertificateHashData": vec![hash.clone(); n]
        })
    };
    assert_eq!(
        validate(Version::V201, "Authorize", REQ, &authorize(4)),
        Ok(())
    );
    assert_rejected(
        Version::V201,
        "Authorize",
        REQ,
        authorize(5),
        ViolationKind::TooManyItems,
        "/iso15118CertificateHashData",
        "OccurrenceConstraintViolation",
    );
    assert_rejected(
        Version::V201,
        "Authorize",
        REQ,
        authorize(0),
        ViolationKind::TooFewItems,
        "/iso15118CertificateHashData",
        "OccurrenceConstraintViolation",
    );
}

// ---------------------------------------------------------------------------------------------
// The tables themselves

/// The two tables of the module docs, row by row.
#[test]
fn every_violation_kind_maps_to_the_documented_code_in_both_versions() {
    use ErrorCode::*;
    use ViolationKind as K;
    let table: [(K, &str, ErrorCode); 13] = [
        (K::NotAnObject, "FormationViolation", FormatViolation),
        (K::UnexpectedMember, "FormationViolation", ProtocolError),
        (K::Other, "FormationViolation", ProtocolError),
        (
            K::MissingMember,
            "ProtocolError",
            OccurrenceConstraintViolation,
        ),
        (
            K::TooManyItems,
            "OccurenceConstraintViolation",
            OccurrenceConstraintViolation,
        ),
        (
            K::TooFewItems,
            "OccurenceConstraintViolation",
            OccurrenceConstraintViolation,
        ),
        (
            K::WrongType,
            "TypeConstraintViolation",
            TypeConstraintViolation,
        ),
        (
            K::BadFormat,
            "TypeConstraintViolation",
            TypeConstraintViolation,
        ),
        (
            K::TooLong,
            "PropertyConstraintViolation",
            PropertyConstraintViolation,
        ),
        (
            K::TooShort,
            "PropertyConstraintViolation",
            PropertyConstraintViolation,
        ),
        (
            K::NotInEnum,
            "PropertyConstraintViolation",
            PropertyConstraintViolation,
        ),
        (
            K::PatternMismatch,
            "PropertyConstraintViolation",
            PropertyConstraintViolation,
        ),
        (
            K::OutOfRange,
            "PropertyConstraintViolation",
            PropertyConstraintViolation,
        ),
    ];
    assert_eq!(
        table.map(|row| row.0),
        ViolationKind::ALL,
        "table covers every kind in precedence order"
    );
    for (kind, v16_wire, v201_code) in table {
        assert_eq!(
            kind.error_code(Version::V16).wire_name(Version::V16),
            v16_wire
        );
        assert_eq!(kind.error_code(Version::V201), v201_code);
        for version in Version::ALL {
            assert!(kind.error_code(version).is_defined_in(version));
        }
    }
}

/// OCPP-J 1.6 4.2.3 and 2.0.1 4.3: NotImplemented, "Requested Action is not known by
/// receiver". Action names are case-sensitive (1.6 section 4.2.1).
#[test]
fn unknown_action_is_not_implemented() {
    for (version, action) in [
        (Version::V16, "TransactionEvent"),
        (Version::V16, "bootnotification"),
        (Version::V201, "StartTransaction"),
        (Version::V201, ""),
    ] {
        let error = invalid(version, action, REQ, json!({}));
        assert!(matches!(error, ValidationError::UnknownAction { .. }));
        assert_eq!(error.error_code(), ErrorCode::NotImplemented);
        assert_eq!(error.details(), json!({"action": action}));
        assert!(error.violations().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Precedence and determinism

/// Module docs, "Precedence": structure before occurrence before type before value.
#[test]
fn with_several_violations_the_highest_precedence_kind_decides_the_code() {
    // Unknown member + too long string: structure wins.
    let payload = json!({"chargePointVendor": "V".repeat(30), "chargePointModel": "M", "x": 1});
    let error = invalid(Version::V16, "BootNotification", REQ, payload.clone());
    assert_eq!(
        error.error_code().wire_name(Version::V16),
        "FormationViolation"
    );
    assert_eq!(error.violations().len(), 2);
    let error = invalid(Version::V201, "Heartbeat", REQ, json!({"x": 1}));
    assert_eq!(error.error_code(), ErrorCode::ProtocolError);

    // Missing member + wrong type: occurrence wins (1.6: ProtocolError, "incomplete").
    let payload = json!({"chargePointVendor": 5});
    let error = invalid(Version::V16, "BootNotification", REQ, payload);
    let kinds: Vec<_> = error.violations().iter().map(|v| v.kind()).collect();
    assert_eq!(
        kinds,
        [ViolationKind::MissingMember, ViolationKind::WrongType]
    );
    assert_eq!(error.error_code(), ErrorCode::ProtocolError);

    // Wrong type + value outside the enumeration: type wins.
    let payload =
        json!({"reason": 7, "chargingStation": {"model": "M".repeat(40), "vendorName": "V"}});
    let error = invalid(Version::V201, "BootNotification", REQ, payload);
    assert_eq!(error.error_code(), ErrorCode::TypeConstraintViolation);
    assert_eq!(error.violations()[0].pointer(), "/reason");
}

#[test]
fn violation_order_and_code_do_not_depend_on_member_order() {
    let a: Value = serde_json::from_str(
        r#"{"zz": 1, "chargePointVendor": 1, "aa": 2, "chargePointModel": "MMMMMMMMMMMMMMMMMMMMMMMMM"}"#,
    )
    .unwrap();
    let b: Value = serde_json::from_str(
        r#"{"chargePointModel": "MMMMMMMMMMMMMMMMMMMMMMMMM", "aa": 2, "chargePointVendor": 1, "zz": 1}"#,
    )
    .unwrap();
    let ea = invalid(Version::V16, "BootNotification", REQ, a);
    let eb = invalid(Version::V16, "BootNotification", REQ, b);
    assert_eq!(ea, eb);
    let pointers: Vec<_> = ea.violations().iter().map(|v| v.pointer()).collect();
    assert_eq!(
        pointers,
        ["/aa", "/zz", "/chargePointVendor", "/chargePointModel"]
    );
    assert_eq!(ea.description(), eb.description());
}

// ---------------------------------------------------------------------------------------------
// errorDescription and errorDetails

/// 2.0.1 part 4 table 7: errorDescription is string[255].
#[test]
fn description_never_exceeds_255_bytes_even_for_huge_payloads() {
    let mut payload = serde_json::Map::new();
    for i in 0..500 {
        payload.insert(format!("{}{i}", "ü".repeat(300)), json!(i));
    }
    payload.insert("chargePointVendor".into(), json!("V".repeat(100_000)));
    let error = invalid(
        Version::V16,
        "BootNotification",
        REQ,
        Value::Object(payload),
    );
    let description = error.description();
    assert!(
        description.len() <= MAX_DESCRIPTION_LEN,
        "{}",
        description.len()
    );
    assert!(description.chars().count() <= 255);
    assert!(description.ends_with(" more)"), "{description}");

    let details = error.details();
    assert_eq!(
        details["violations"].as_array().unwrap().len(),
        MAX_DETAILED_VIOLATIONS
    );
    assert_eq!(details["omitted"], json!(error.violations().len() - 10));
    assert!(details.to_string().len() < 4096);

    // A single huge member name is cut, not dropped.
    let error = invalid(
        Version::V201,
        "Heartbeat",
        REQ,
        json!({"a".repeat(10_000): 1}),
    );
    let description = error.description();
    assert!(description.len() <= MAX_DESCRIPTION_LEN);
    assert!(description.starts_with("/aaaa"));
    assert!(description.ends_with("..."));
}

#[test]
fn details_list_pointer_kind_and_message_of_each_violation() {
    let error = invalid(
        Version::V16,
        "Authorize",
        RES,
        json!({"idTagInfo": {"status": "Bogus", "parentIdTag": "P".repeat(21)}}),
    );
    assert_eq!(
        error.details(),
        json!({"violations": [
            {"pointer": "/idTagInfo/parentIdTag", "kind": "TooLong", "message": "longer than 20 characters"},
            {"pointer": "/idTagInfo/status", "kind": "NotInEnum",
             "message": "not one of Accepted, Blocked, Expired, Invalid, ConcurrentTx"}
        ]})
    );
    assert_eq!(
        error.description(),
        "/idTagInfo/parentIdTag: longer than 20 characters; \
         /idTagInfo/status: not one of Accepted, Blocked, Expired, Invalid, ConcurrentTx"
    );
}

/// Messages name the constraint, never the peer's value (an idTag is personal data).
#[test]
fn messages_do_not_echo_the_offending_value() {
    let secret = "SECRET-ID-TAG-123456789";
    let error = invalid(Version::V16, "Authorize", REQ, json!({"idTag": secret}));
    assert!(!error.description().contains(secret));
    assert!(!error.details().to_string().contains(secret));
}

#[test]
fn json_pointers_escape_member_names() {
    let error = invalid(Version::V201, "Heartbeat", REQ, json!({"a/b~c": 1}));
    assert_eq!(error.violations()[0].pointer(), "/a~1b~0c");
}

#[test]
fn non_object_payload_description_names_the_payload() {
    let error = invalid(Version::V16, "Heartbeat", REQ, json!([1, 2]));
    assert_eq!(error.description(), "payload: expected object, found array");
}
