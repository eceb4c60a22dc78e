//! Version-generic traits over the generated message types.
//!
//! Every request and response type of [`crate::v16`] and [`crate::v201`] implements
//! [`OcppRequest`] or [`OcppResponse`], which tie the two payloads of an action together and
//! name its version and action. Code that sends a CALL can then be written once:
//! `fn call<R: OcppRequest>(request: R) -> R::Response` knows the response type, the action
//! name for the frame and the schema to validate against.
//!
//! ```
//! use ocpp_core::message::{OcppRequest, OcppResponse};
//! use ocpp_core::{Version, v16};
//!
//! fn action_of<R: OcppRequest>(_: &R) -> (Version, &'static str) {
//!     (R::VERSION, R::ACTION)
//! }
//!
//! let heartbeat = v16::HeartbeatRequest {};
//! assert_eq!(action_of(&heartbeat), (Version::V16, "Heartbeat"));
//! assert_eq!(<v16::HeartbeatResponse as OcppResponse>::ACTION, "Heartbeat");
//! ```

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Version;

/// The payload of a CALL of one action of one version.
pub trait OcppRequest:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The OCPP version whose schemas define this payload.
    const VERSION: Version;
    /// The action name carried in the CALL frame, e.g. `BootNotification`.
    const ACTION: &'static str;
    /// The payload of the CALLRESULT that answers this request.
    type Response: OcppResponse<Request = Self>;
}

/// The payload of a CALLRESULT of one action of one version.
pub trait OcppResponse:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The OCPP version whose schemas define this payload.
    const VERSION: Version;
    /// The action whose CALL this payload answers.
    const ACTION: &'static str;
    /// The request this payload answers.
    type Request: OcppRequest<Response = Self>;
}
