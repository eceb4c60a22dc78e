//! ISO 15118 Plug & Charge over OCPP 1.6: the DataTransfer messages of the OCA application
//! note "Using ISO 15118 Plug & Charge with OCPP 1.6" (v1.0).
//!
//! The note carries nine OCPP 2.0.1 messages inside 1.6 DataTransfer (section 2.2): `vendorId`
//! is the fixed [`VENDOR_ID`], `messageId` is the 2.0.1 action name, and `data` is a JSON
//! *string* holding the whole 2.0.1 payload, serialised (`"data": "{\"csr\": ...}"`). The
//! answer comes back in the DataTransfer response's `data`, encoded the same way.
//!
//! The payloads are the generated [`crate::v201`] types; the note's messages are "slightly
//! simplified" 2.0.1 messages (fewer optional members), which those types read and write.
//! [`PncRequest`] maps each 2.0.1 request type to its message id; [`wrap_request`] /
//! [`unwrap_request`] and [`wrap_response`] / [`unwrap_response`] convert typed payloads to and
//! from DataTransfer, and [`PncMessage`] reads a request whose message id is not known in
//! advance (a Central System receiving any Plug & Charge DataTransfer).
//!
//! ```
//! use ocpp_core::{pnc, v201};
//!
//! let request = v201::SignCertificateRequest {
//!     csr: "-----BEGIN CERTIFICATE REQUEST-----...".into(),
//!     certificate_type: Some(v201::CertificateSigningUseEnumType::V2gCertificate),
//!     custom_data: None,
//! };
//! let transfer = pnc::wrap_request(&request);
//! assert_eq!(transfer.vendor_id, pnc::VENDOR_ID);
//! assert_eq!(transfer.message_id.as_deref(), Some("SignCertificate"));
//! let back: v201::SignCertificateRequest = pnc::unwrap_request(&transfer)?;
//! assert_eq!(back, request);
//! # Ok::<(), pnc::PncError>(())
//! ```
//!
//! # TriggerMessage
//!
//! The note's TriggerMessage.req (section 6.9.1) "does not contain any fields": it only ever
//! triggers a SignCertificate for the V2G certificate, while the 2.0.1 TriggerMessageRequest
//! requires `requestedMessage`. [`unwrap_request`] therefore reads an object without
//! `requestedMessage` as `SignV2GCertificate`; [`wrap_request`] writes the member, as the note's
//! figure 1 shows (`TriggerMessage(SignV2GCertificate)`).

use serde_json::Value;

use crate::message::OcppRequest;
use crate::{v16, v201};

/// The `vendorId` of every Plug & Charge DataTransfer (application note section 2.2).
pub const VENDOR_ID: &str = "org.openchargealliance.iso15118pnc";

/// A 2.0.1 request that the application note carries in a 1.6 DataTransfer.
///
/// The message id is the 2.0.1 action name; the response type is the request's
/// [`OcppRequest::Response`].
pub trait PncRequest: OcppRequest {
    /// The DataTransfer `messageId`.
    const MESSAGE_ID: &'static str;
}

/// Declares every Plug & Charge message once: the trait impls, [`PncMessageId`],
/// [`PncMessage`] and [`PncResponse`] all come from this list (application note section 2.2).
macro_rules! pnc_messages {
    ($($name:ident: $request:ident, $response:ident;)*) => {
        $(
            impl PncRequest for v201::$request {
                const MESSAGE_ID: &'static str = stringify!($name);
            }
        )*

        /// The `messageId`s the application note defines (section 2.2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PncMessageId {
            $(
                #[doc = concat!("`", stringify!($name), "`: a 2.0.1 `", stringify!($request), "`.")]
                $name,
            )*
        }

        impl PncMessageId {
            /// Every message id of the note, in its order.
            pub const ALL: &'static [PncMessageId] = &[$(PncMessageId::$name),*];

            /// The `messageId` text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(PncMessageId::$name => stringify!($name),)*
                }
            }

            /// The message id for `messageId` text (case-sensitive, like action names).
            pub fn from_name(name: &str) -> Option<PncMessageId> {
                match name {
                    $(stringify!($name) => Some(PncMessageId::$name),)*
                    _ => None,
                }
            }
        }

        /// Any Plug & Charge request, for a receiver that learns the message id from the
        /// DataTransfer.
        #[derive(Debug, Clone, PartialEq)]
        pub enum PncMessage {
            $(
                #[doc = concat!("A wrapped `", stringify!($request), "`.")]
                $name(v201::$request),
            )*
        }

        impl PncMessage {
            /// The message id of this request.
            pub const fn message_id(&self) -> PncMessageId {
                match self {
                    $(PncMessage::$name(_) => PncMessageId::$name,)*
                }
            }

            /// Reads a Plug & Charge DataTransfer request of any message id.
            pub fn from_data_transfer(transfer: &v16::DataTransferRequest) -> Result<PncMessage, PncError> {
                check_vendor(&transfer.vendor_id)?;
                let id = transfer.message_id.as_deref().ok_or(PncError::UnknownMessageId(None))?;
                match PncMessageId::from_name(id) {
                    $(Some(PncMessageId::$name) => unwrap_request(transfer).map(PncMessage::$name),)*
                    None => Err(PncError::UnknownMessageId(Some(id.to_owned()))),
                }
            }

            /// Wraps this request in a DataTransfer request.
            pub fn to_data_transfer(&self) -> v16::DataTransferRequest {
                match self {
                    $(PncMessage::$name(request) => wrap_request(request),)*
                }
            }
        }

        /// Any Plug & Charge response.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(
            clippy::large_enum_variant,
            reason = "built once per received message and matched on; boxing the Authorize variant would only make matching clumsier"
        )]
        pub enum PncResponse {
            $(
                #[doc = concat!("A wrapped `", stringify!($response), "`.")]
                $name(v201::$response),
            )*
        }

        impl PncResponse {
            /// The message id of the request this answers.
            pub const fn message_id(&self) -> PncMessageId {
                match self {
                    $(PncResponse::$name(_) => PncMessageId::$name,)*
                }
            }

            /// Reads the DataTransfer response to a request with message id `id`.
            pub fn from_data_transfer(
                id: PncMessageId,
                transfer: &v16::DataTransferResponse,
            ) -> Result<PncResponse, PncError> {
                match id {
                    $(PncMessageId::$name => unwrap_response::<v201::$request>(transfer).map(PncResponse::$name),)*
                }
            }

            /// Wraps this response in an accepted DataTransfer response.
            pub fn to_data_transfer(&self) -> v16::DataTransferResponse {
                match self {
                    $(PncResponse::$name(response) => wrap_response::<v201::$request>(response),)*
                }
            }
        }
    };
}

pnc_messages! {
    Authorize: AuthorizeRequest, AuthorizeResponse;
    CertificateSigned: CertificateSignedRequest, CertificateSignedResponse;
    DeleteCertificate: DeleteCertificateRequest, DeleteCertificateResponse;
    Get15118EVCertificate: Get15118EVCertificateRequest, Get15118EVCertificateResponse;
    GetCertificateStatus: GetCertificateStatusRequest, GetCertificateStatusResponse;
    GetInstalledCertificateIds: GetInstalledCertificateIdsRequest, GetInstalledCertificateIdsResponse;
    InstallCertificate: InstallCertificateRequest, InstallCertificateResponse;
    SignCertificate: SignCertificateRequest, SignCertificateResponse;
    TriggerMessage: TriggerMessageRequest, TriggerMessageResponse;
}

/// Why a DataTransfer is not the Plug & Charge message the caller expected.
#[derive(Debug, thiserror::Error)]
pub enum PncError {
    /// The `vendorId` is not [`VENDOR_ID`]; answer `UnknownVendorId` if no other extension
    /// claims it.
    #[error("vendorId {0:?} is not {VENDOR_ID}")]
    WrongVendorId(String),
    /// The `messageId` is absent or not one the note defines; answer `UnknownMessageId`.
    #[error("messageId {0:?} is not a Plug & Charge message")]
    UnknownMessageId(Option<String>),
    /// The `messageId` is a Plug & Charge message, but not the one asked for.
    #[error("messageId {found:?} where {expected} was expected")]
    UnexpectedMessageId {
        /// The message id the caller asked for.
        expected: &'static str,
        /// The message id the DataTransfer carries.
        found: String,
    },
    /// The DataTransfer response's status is not `Accepted`, so it carries no answer.
    #[error("DataTransfer status is {0:?}, not Accepted")]
    NotAccepted(v16::DataTransferStatus),
    /// `data` is absent.
    #[error("the {0} DataTransfer carries no data")]
    MissingData(&'static str),
    /// `data` is not JSON text of the expected 2.0.1 payload.
    #[error("the data of {message_id} is not a valid payload: {source}")]
    BadData {
        /// The message id whose payload was expected.
        message_id: &'static str,
        /// What serde_json found wrong.
        source: serde_json::Error,
    },
}

fn check_vendor(vendor_id: &str) -> Result<(), PncError> {
    if vendor_id == VENDOR_ID {
        Ok(())
    } else {
        Err(PncError::WrongVendorId(vendor_id.to_owned()))
    }
}

/// JSON text of a generated payload. Cannot fail: the types have string-keyed maps and finite
/// numbers only.
fn to_json_text<T: serde::Serialize>(payload: &T) -> String {
    serde_json::to_string(payload).expect("generated message types always serialize")
}

fn parse_data<T: serde::de::DeserializeOwned>(
    message_id: &'static str,
    data: Option<&str>,
    fill: impl FnOnce(&mut Value),
) -> Result<T, PncError> {
    let data = data.ok_or(PncError::MissingData(message_id))?;
    let bad = |source| PncError::BadData { message_id, source };
    let mut value: Value = serde_json::from_str(data).map_err(bad)?;
    fill(&mut value);
    serde_json::from_value(value).map_err(bad)
}

/// Wraps a 2.0.1 request in a 1.6 DataTransfer request.
pub fn wrap_request<R: PncRequest>(request: &R) -> v16::DataTransferRequest {
    v16::DataTransferRequest {
        vendor_id: VENDOR_ID.to_owned(),
        message_id: Some(R::MESSAGE_ID.to_owned()),
        data: Some(to_json_text(request)),
    }
}

/// Reads the 2.0.1 request of type `R` from a DataTransfer request, checking the vendor and
/// message id.
pub fn unwrap_request<R: PncRequest>(transfer: &v16::DataTransferRequest) -> Result<R, PncError> {
    check_vendor(&transfer.vendor_id)?;
    match transfer.message_id.as_deref() {
        Some(id) if id == R::MESSAGE_ID => {}
        Some(id) if PncMessageId::from_name(id).is_some() => {
            return Err(PncError::UnexpectedMessageId {
                expected: R::MESSAGE_ID,
                found: id.to_owned(),
            });
        }
        other => return Err(PncError::UnknownMessageId(other.map(str::to_owned))),
    }
    parse_data(R::MESSAGE_ID, transfer.data.as_deref(), |value| {
        // Application note 6.9.1: TriggerMessage has no fields and means SignV2GCertificate.
        if R::MESSAGE_ID == "TriggerMessage"
            && let Value::Object(members) = value
        {
            members
                .entry("requestedMessage")
                .or_insert_with(|| Value::from("SignV2GCertificate"));
        }
    })
}

/// Wraps the 2.0.1 response to an `R` in an `Accepted` DataTransfer response.
pub fn wrap_response<R: PncRequest>(response: &R::Response) -> v16::DataTransferResponse {
    v16::DataTransferResponse {
        status: v16::DataTransferStatus::Accepted,
        data: Some(to_json_text(response)),
    }
}

/// Reads the 2.0.1 response to an `R` from a DataTransfer response. A status other than
/// `Accepted` is [`PncError::NotAccepted`]: the peer did not process the message.
pub fn unwrap_response<R: PncRequest>(
    transfer: &v16::DataTransferResponse,
) -> Result<R::Response, PncError> {
    if transfer.status != v16::DataTransferStatus::Accepted {
        return Err(PncError::NotAccepted(transfer.status));
    }
    parse_data(R::MESSAGE_ID, transfer.data.as_deref(), |_| {})
}
