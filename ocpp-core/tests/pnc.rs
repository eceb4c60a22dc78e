//! The ISO 15118 Plug & Charge DataTransfer wrappers ("Using ISO 15118 Plug & Charge with
//! OCPP 1.6", section 2.2): every message both ways, and the errors a receiver needs.

use ocpp_core::pnc::{self, PncError, PncMessage, PncMessageId, PncResponse};
use ocpp_core::{PayloadKind, Version, schemas, v16, v201};
use serde_json::{Value, json};

mod common;
use common::Sample;

fn samples(action: &str, kind: PayloadKind) -> Vec<Value> {
    let text = schemas::schema_text(Version::V201, action, kind).unwrap();
    let schema: Value = serde_json::from_str(text).unwrap();
    [true, false]
        .into_iter()
        .map(|maximal| {
            Sample {
                root: &schema,
                maximal,
            }
            .build(&schema, "")
        })
        .collect()
}

fn assert_valid_v16_data_transfer(payload: &Value, kind: PayloadKind) {
    let text = schemas::schema_text(Version::V16, "DataTransfer", kind).unwrap();
    let schema: Value = serde_json::from_str(text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(payload), "{payload:#}");
}

/// Section 2.2: vendorId fixed, messageId the message name, data the JSON message as a string.
#[test]
fn every_pnc_request_wraps_and_unwraps_both_ways() {
    assert_eq!(PncMessageId::ALL.len(), 9);
    for &id in PncMessageId::ALL {
        for sample in samples(id.as_str(), PayloadKind::Request) {
            let received = v16::DataTransferRequest {
                vendor_id: pnc::VENDOR_ID.to_owned(),
                message_id: Some(id.as_str().to_owned()),
                data: Some(sample.to_string()),
            };
            let message =
                PncMessage::from_data_transfer(&received).unwrap_or_else(|e| panic!("{id:?}: {e}"));
            assert_eq!(message.message_id(), id);
            let sent = message.to_data_transfer();
            assert_eq!(sent.vendor_id, pnc::VENDOR_ID);
            assert_eq!(sent.message_id.as_deref(), Some(id.as_str()));
            let data: Value = serde_json::from_str(sent.data.as_deref().unwrap()).unwrap();
            assert_eq!(data, sample, "{id:?}");
            let payload = v16::Request::from(sent).to_payload();
            assert!(payload["data"].is_string(), "data is a JSON string");
            assert_valid_v16_data_transfer(&payload, PayloadKind::Request);
            assert_eq!(PncMessageId::from_name(id.as_str()), Some(id));
        }
    }
}

#[test]
fn every_pnc_response_wraps_and_unwraps_both_ways() {
    for &id in PncMessageId::ALL {
        for sample in samples(id.as_str(), PayloadKind::Response) {
            let received = v16::DataTransferResponse {
                status: v16::DataTransferStatus::Accepted,
                data: Some(sample.to_string()),
            };
            let response = PncResponse::from_data_transfer(id, &received)
                .unwrap_or_else(|e| panic!("{id:?}: {e}"));
            assert_eq!(response.message_id(), id);
            let sent = response.to_data_transfer();
            assert_eq!(sent.status, v16::DataTransferStatus::Accepted);
            let data: Value = serde_json::from_str(sent.data.as_deref().unwrap()).unwrap();
            assert_eq!(data, sample, "{id:?}");
            let payload = v16::Response::from(sent).to_payload();
            assert_valid_v16_data_transfer(&payload, PayloadKind::Response);
        }
    }
}

#[test]
fn typed_wrappers_match_the_application_note_example() {
    let request = v201::SignCertificateRequest {
        csr: "<certificate signing request>".into(),
        certificate_type: Some(v201::CertificateSigningUseEnumType::V2gCertificate),
        custom_data: None,
    };
    let transfer = pnc::wrap_request(&request);
    assert_eq!(
        serde_json::to_value(&transfer).unwrap(),
        json!({
            "vendorId": "org.openchargealliance.iso15118pnc",
            "messageId": "SignCertificate",
            "data": r#"{"csr":"<certificate signing request>","certificateType":"V2GCertificate"}"#,
        })
    );
    let back: v201::SignCertificateRequest = pnc::unwrap_request(&transfer).unwrap();
    assert_eq!(back, request);

    let response = v201::SignCertificateResponse {
        status: v201::GenericStatusEnumType::Accepted,
        status_info: None,
        custom_data: None,
    };
    let transfer = pnc::wrap_response::<v201::SignCertificateRequest>(&response);
    assert_eq!(transfer.data.as_deref(), Some(r#"{"status":"Accepted"}"#));
    let back = pnc::unwrap_response::<v201::SignCertificateRequest>(&transfer).unwrap();
    assert_eq!(back, response);
}

/// Section 6.9.1: the wrapped TriggerMessage.req has no fields; it means SignV2GCertificate.
#[test]
fn an_empty_trigger_message_means_sign_v2g_certificate() {
    let transfer = v16::DataTransferRequest {
        vendor_id: pnc::VENDOR_ID.into(),
        message_id: Some("TriggerMessage".into()),
        data: Some("{}".into()),
    };
    let request: v201::TriggerMessageRequest = pnc::unwrap_request(&transfer).unwrap();
    assert_eq!(
        request.requested_message,
        v201::MessageTriggerEnumType::SignV2gCertificate
    );
    assert_eq!(
        pnc::wrap_request(&request).data.as_deref(),
        Some(r#"{"requestedMessage":"SignV2GCertificate"}"#)
    );
}

#[test]
fn receivers_get_clear_errors_for_what_is_not_their_message() {
    let good = pnc::wrap_request(&v201::TriggerMessageRequest {
        requested_message: v201::MessageTriggerEnumType::SignV2gCertificate,
        evse: None,
        custom_data: None,
    });

    let wrong_vendor = v16::DataTransferRequest {
        vendor_id: "com.example".into(),
        ..good.clone()
    };
    assert!(matches!(
        PncMessage::from_data_transfer(&wrong_vendor),
        Err(PncError::WrongVendorId(v)) if v == "com.example"
    ));

    for message_id in [
        None,
        Some("Heartbeat".to_owned()),
        Some("authorize".to_owned()),
    ] {
        let unknown = v16::DataTransferRequest {
            message_id: message_id.clone(),
            ..good.clone()
        };
        assert!(matches!(
            PncMessage::from_data_transfer(&unknown),
            Err(PncError::UnknownMessageId(m)) if m == message_id
        ));
    }

    assert!(matches!(
        pnc::unwrap_request::<v201::AuthorizeRequest>(&good),
        Err(PncError::UnexpectedMessageId { expected: "Authorize", found }) if found == "TriggerMessage"
    ));

    let no_data = v16::DataTransferRequest {
        data: None,
        ..good.clone()
    };
    assert!(matches!(
        PncMessage::from_data_transfer(&no_data),
        Err(PncError::MissingData("TriggerMessage"))
    ));

    for data in [
        "not json",
        r#"{"requestedMessage":"Nonsense"}"#,
        "[]",
        r#""{}""#,
    ] {
        let bad = v16::DataTransferRequest {
            data: Some(data.into()),
            ..good.clone()
        };
        let err = PncMessage::from_data_transfer(&bad).unwrap_err();
        assert!(
            matches!(
                err,
                PncError::BadData {
                    message_id: "TriggerMessage",
                    ..
                }
            ),
            "{data}: {err}"
        );
        assert!(err.to_string().contains("TriggerMessage"));
    }

    let rejected = v16::DataTransferResponse {
        status: v16::DataTransferStatus::UnknownMessageId,
        data: None,
    };
    assert!(matches!(
        PncResponse::from_data_transfer(PncMessageId::SignCertificate, &rejected),
        Err(PncError::NotAccepted(
            v16::DataTransferStatus::UnknownMessageId
        ))
    ));
    let empty = v16::DataTransferResponse {
        status: v16::DataTransferStatus::Accepted,
        data: None,
    };
    assert!(matches!(
        pnc::unwrap_response::<v201::AuthorizeRequest>(&empty),
        Err(PncError::MissingData("Authorize"))
    ));
}
