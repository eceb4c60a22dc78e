//! Version-generic traits over the generated message types.
//!
//! Each version's action enum ([`v16::Action`](crate::v16::Action),
//! [`v201::Action`](crate::v201::Action)) implements [`OcppAction`]: the version's table of
//! actions as a type, which the RPC endpoint is generic over
//! ([`Endpoint<A>`](crate::rpc::Endpoint)). Every request and response type of [`crate::v16`]
//! and [`crate::v201`] implements [`OcppRequest`] or [`OcppResponse`], which tie the two
//! payloads of an action together and name its version and action. Code that sends a CALL can
//! then be written once: `fn call<R: OcppRequest>(request: R) -> R::Response` knows the
//! response type, the action for the frame and the schema to validate against.
//!
//! ```
//! use ocpp_core::message::{OcppAction, OcppRequest, OcppResponse, Side};
//! use ocpp_core::{Version, v16};
//!
//! fn action_of<R: OcppRequest>(_: &R) -> (Version, R::Action) {
//!     (R::VERSION, R::TYPED_ACTION)
//! }
//!
//! let heartbeat = v16::HeartbeatRequest {};
//! assert_eq!(action_of(&heartbeat), (Version::V16, v16::Action::Heartbeat));
//! assert_eq!(<v16::HeartbeatResponse as OcppResponse>::ACTION, "Heartbeat");
//! // The action table as a type: names, positions and who sends what, for either version.
//! let action = v16::Action::from_index(19).unwrap();
//! assert_eq!((action, action.index()), (v16::Action::Heartbeat, 19));
//! assert!(action.sent_by(Side::Station) && !action.sent_by(Side::Central));
//! ```

use std::fmt::{Debug, Display};
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Version;

/// Which side of an OCPP-J connection, in the words of neither version: the station (1.6
/// Charge Point, 2.0.1 Charging Station) or the central system (1.6 Central System, 2.0.1
/// CSMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The Charge Point / Charging Station.
    Station,
    /// The Central System / CSMS.
    Central,
}

/// The actions of one OCPP version, as a type: implemented by [`v16::Action`] and
/// [`v201::Action`], generated from the version's schema table.
///
/// The endpoint and the roles key everything by it (the call in flight, the accepted set,
/// the events), so an action name is read once, where it comes off the wire, and a string
/// never stands for an action beyond that.
///
/// # Invariants
///
/// Implementations hold these, and the crate relies on them (tests check both versions):
/// - `ALL` lists every action once, sorted by name, in the order of the version's schema
///   table, and `ALL[a.index()] == a` for every action `a`;
/// - `from_name(a.as_str()) == Some(a)`, and `from_name` knows no other name (names are
///   case-sensitive, OCPP-J 1.6 section 4.2.1);
/// - `ALL` has at most 64 actions (2.0.1 has 64, 1.6 has 39), so that a set of them is one
///   word ([`AcceptedActions`](crate::rpc::AcceptedActions)).
///
/// [`v16::Action`]: crate::v16::Action
/// [`v201::Action`]: crate::v201::Action
pub trait OcppAction:
    Copy + Eq + Ord + Hash + Debug + Display + Send + Sync + Unpin + 'static
{
    /// The OCPP version these are the actions of.
    const VERSION: Version;
    /// Every action, sorted by name: the version's table.
    const ALL: &'static [Self];

    /// The version's enum over the request payloads of all its actions ([`v16::Request`]),
    /// which a role keeps and reports a request of any action as.
    ///
    /// [`v16::Request`]: crate::v16::Request
    type Request: Debug + Clone + PartialEq + Send + Sync + 'static;
    /// The version's enum over the response payloads of all its actions
    /// ([`v16::Response`]).
    ///
    /// [`v16::Response`]: crate::v16::Response
    type Response: Debug + Clone + PartialEq + Send + Sync + 'static;

    /// The name, as in a CALL's action field.
    fn as_str(self) -> &'static str;

    /// The position in [`OcppAction::ALL`] (and in the version's schema table).
    fn index(self) -> usize;

    /// The action called `name`, if the version defines one (case-sensitive).
    fn from_name(name: &str) -> Option<Self>;

    /// The action at `index` in [`OcppAction::ALL`].
    fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// Whether `side` sends the CALL of this action (both sides send DataTransfer).
    fn sent_by(self, side: Side) -> bool;
}

/// The payload of a CALL of one action of one version.
pub trait OcppRequest:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The OCPP version whose schemas define this payload.
    const VERSION: Version;
    /// The action name carried in the CALL frame, e.g. `BootNotification`.
    const ACTION: &'static str;
    /// The action table of the version.
    type Action: OcppAction;
    /// The action, as the version's [`OcppAction`] (the one named [`OcppRequest::ACTION`]).
    const TYPED_ACTION: Self::Action;
    /// The payload of the CALLRESULT that answers this request.
    type Response: OcppResponse<Request = Self, Action = Self::Action>;

    /// This request as the version's enum of all requests (e.g. [`v16::Request`]).
    ///
    /// [`v16::Request`]: crate::v16::Request
    fn into_request(self) -> <Self::Action as OcppAction>::Request;
}

/// The payload of a CALLRESULT of one action of one version.
pub trait OcppResponse:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The OCPP version whose schemas define this payload.
    const VERSION: Version;
    /// The action whose CALL this payload answers.
    const ACTION: &'static str;
    /// The action table of the version.
    type Action: OcppAction;
    /// The action, as the version's [`OcppAction`] (the one named [`OcppResponse::ACTION`]).
    const TYPED_ACTION: Self::Action;
    /// The request this payload answers.
    type Request: OcppRequest<Response = Self, Action = Self::Action>;

    /// This response as the version's enum of all responses (e.g. [`v16::Response`]).
    ///
    /// [`v16::Response`]: crate::v16::Response
    fn into_response(self) -> <Self::Action as OcppAction>::Response;

    /// The response of this type out of the version's enum of all responses, or the
    /// response back if it answers another action.
    fn from_response(
        response: <Self::Action as OcppAction>::Response,
    ) -> Result<Self, <Self::Action as OcppAction>::Response>;
}
