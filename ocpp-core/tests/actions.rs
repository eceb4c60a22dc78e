//! The generated action lists, payload enums and wire details that the round-trip test does
//! not pin down by itself: action names and senders, exact enum spellings, omitted optionals.

use ocpp_core::message::{OcppRequest, OcppResponse};
use ocpp_core::primitives::Decimal;
use ocpp_core::{Version, schemas, v16, v201};
use serde_json::json;
use time::macros::datetime;

#[test]
fn action_lists_match_the_schema_tables_in_order() {
    let v16_names: Vec<_> = v16::Action::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        v16_names,
        schemas::actions(Version::V16).collect::<Vec<_>>()
    );
    let v201_names: Vec<_> = v201::Action::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        v201_names,
        schemas::actions(Version::V201).collect::<Vec<_>>()
    );
}

/// OCPP-J 1.6 section 4.2.1: the action name is case-sensitive.
#[test]
fn action_names_parse_back_case_sensitively() {
    for action in v16::Action::ALL {
        assert_eq!(v16::Action::from_name(action.as_str()), Some(action));
        assert_eq!(action.to_string(), action.as_str());
    }
    for action in v201::Action::ALL {
        assert_eq!(v201::Action::from_name(action.as_str()), Some(action));
    }
    assert_eq!(v16::Action::from_name("bootNotification"), None);
    assert_eq!(v16::Action::from_name("TransactionEvent"), None);
    assert_eq!(v201::Action::from_name("StartTransaction"), None);
}

/// 1.6 edition 2 chapters 4 and 5 plus the security white paper: 13 actions from the Charge
/// Point (9 + 4), 25 from the Central System (18 + 7), DataTransfer both ways.
#[test]
fn v16_senders_follow_the_specification_chapters() {
    use v16::{Action, Sender};
    let count = |s: Sender| Action::ALL.iter().filter(|a| a.sender() == s).count();
    assert_eq!(count(Sender::ChargePoint), 13);
    assert_eq!(count(Sender::CentralSystem), 25);
    assert_eq!(count(Sender::Both), 1);
    assert_eq!(Action::DataTransfer.sender(), Sender::Both);
    assert_eq!(Action::BootNotification.sender(), Sender::ChargePoint);
    assert_eq!(Action::SignCertificate.sender(), Sender::ChargePoint);
    assert_eq!(
        Action::SecurityEventNotification.sender(),
        Sender::ChargePoint
    );
    assert_eq!(
        Action::RemoteStartTransaction.sender(),
        Sender::CentralSystem
    );
    assert_eq!(
        Action::ExtendedTriggerMessage.sender(),
        Sender::CentralSystem
    );
}

#[test]
fn v201_senders_follow_the_use_cases() {
    use v201::{Action, Sender};
    let count = |s: Sender| Action::ALL.iter().filter(|a| a.sender() == s).count();
    assert_eq!(count(Sender::ChargingStation), 24);
    assert_eq!(count(Sender::Csms), 39);
    assert_eq!(Action::DataTransfer.sender(), Sender::Both);
    assert_eq!(Action::TransactionEvent.sender(), Sender::ChargingStation);
    assert_eq!(
        Action::NotifyEVChargingNeeds.sender(),
        Sender::ChargingStation
    );
    assert_eq!(
        Action::Get15118EVCertificate.sender(),
        Sender::ChargingStation
    );
    assert_eq!(Action::GetVariables.sender(), Sender::Csms);
    assert_eq!(Action::CostUpdated.sender(), Sender::Csms);
}

#[test]
fn payload_enums_know_their_action_and_convert_from_typed_payloads() {
    let request = v16::Request::from(v16::HeartbeatRequest {});
    assert_eq!(request.action(), v16::Action::Heartbeat);
    assert_eq!(request.to_payload(), json!({}));
    let response = v201::Response::from(v201::ClearCacheResponse {
        status: v201::ClearCacheStatusEnumType::Accepted,
        status_info: None,
        custom_data: None,
    });
    assert_eq!(response.action(), v201::Action::ClearCache);
    assert_eq!(response.to_payload(), json!({ "status": "Accepted" }));
}

#[test]
fn traits_tie_each_request_to_its_response() {
    fn names<R: OcppRequest>() -> (Version, &'static str, &'static str) {
        (R::VERSION, R::ACTION, <R::Response as OcppResponse>::ACTION)
    }
    assert_eq!(
        names::<v16::BootNotificationRequest>(),
        (Version::V16, "BootNotification", "BootNotification")
    );
    assert_eq!(
        names::<v201::TransactionEventRequest>(),
        (Version::V201, "TransactionEvent", "TransactionEvent")
    );
}

#[test]
fn enum_values_serialize_to_the_exact_schema_strings() {
    let cases = [
        (
            json!(v16::Measurand::EnergyActiveImportRegister),
            "Energy.Active.Import.Register",
        ),
        (json!(v16::Measurand::SoC), "SoC"),
        (json!(v16::UnitOfMeasure::Celcius), "Celcius"),
        (json!(v16::UnitOfMeasure::Celsius), "Celsius"),
        (json!(v16::UnitOfMeasure::KWh), "kWh"),
        (json!(v16::Phase::L1N), "L1-N"),
        (json!(v16::ReadingContext::SampleClock), "Sample.Clock"),
        (json!(v16::Reason::EvDisconnected), "EVDisconnected"),
        (json!(v201::MeasurandEnumType::SoC), "SoC"),
        (
            json!(v201::GetCertificateIdUseEnumType::V2gRootCertificate),
            "V2GRootCertificate",
        ),
        (json!(v201::ConnectorEnumType::S3091p16a), "s309-1P-16A"),
    ];
    for (value, text) in cases {
        assert_eq!(value, json!(text));
    }
    let read: v16::Phase = serde_json::from_value(json!("L3-L1")).unwrap();
    assert_eq!(read, v16::Phase::L3L1);
    assert_eq!(v16::Phase::L3L1.as_str(), "L3-L1");
    assert!(serde_json::from_value::<v16::Phase>(json!("l3-l1")).is_err());
}

#[test]
fn optional_members_are_omitted_never_null() {
    let boot = v16::BootNotificationRequest {
        charge_point_vendor: "Vendor".into(),
        charge_point_model: "Model".into(),
        charge_point_serial_number: None,
        charge_box_serial_number: None,
        firmware_version: None,
        iccid: None,
        imsi: None,
        meter_type: None,
        meter_serial_number: None,
    };
    let json = serde_json::to_value(&boot).unwrap();
    assert_eq!(
        json,
        json!({ "chargePointVendor": "Vendor", "chargePointModel": "Model" })
    );
    // A peer that writes `null` for an absent member is read leniently.
    let read: v16::BootNotificationRequest = serde_json::from_value(
        json!({ "chargePointVendor": "Vendor", "chargePointModel": "Model", "iccid": null }),
    )
    .unwrap();
    assert_eq!(read, boot);
}

#[test]
fn unknown_members_are_ignored_when_reading() {
    let read = v16::Request::from_payload(
        v16::Action::Authorize,
        json!({ "idTag": "ABC", "vendorExtension": 1 }),
    )
    .unwrap();
    assert_eq!(
        read,
        v16::Request::Authorize(v16::AuthorizeRequest {
            id_tag: "ABC".into()
        })
    );
}

#[test]
fn wrong_types_are_refused() {
    for payload in [json!({}), json!({ "idTag": 5 }), json!([])] {
        assert!(v16::Request::from_payload(v16::Action::Authorize, payload).is_err());
    }
}

#[test]
fn typed_fields_carry_decimals_date_times_and_custom_data() {
    let read = v16::Request::from_payload(
        v16::Action::StopTransaction,
        json!({
            "timestamp": "2013-02-01T20:53:32.486Z",
            "transactionId": 7,
            "meterStop": 100,
            "transactionData": [{
                "timestamp": "2013-02-01T20:53:32Z",
                "sampledValue": [{ "value": "16.5", "measurand": "Current.Import", "unit": "A" }]
            }],
        }),
    )
    .unwrap();
    let v16::Request::StopTransaction(stop) = read else {
        panic!("wrong variant")
    };
    assert_eq!(stop.timestamp, datetime!(2013-02-01 20:53:32.486 UTC));
    let sample = &stop.transaction_data.as_ref().unwrap()[0].sampled_value[0];
    assert_eq!(sample.measurand, Some(v16::Measurand::CurrentImport));

    let limit: v16::ChargingSchedulePeriod =
        serde_json::from_value(json!({ "startPeriod": 0, "limit": 16.5 })).unwrap();
    assert_eq!(limit.limit, Decimal::new(165, 1));

    let custom: v201::CustomDataType =
        serde_json::from_value(json!({ "vendorId": "com.example", "flag": true })).unwrap();
    assert_eq!(custom.vendor_id, "com.example");
    assert_eq!(custom.extra.get("flag"), Some(&json!(true)));
    assert_eq!(
        serde_json::to_value(&custom).unwrap(),
        json!({ "vendorId": "com.example", "flag": true })
    );
}
