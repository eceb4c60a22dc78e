//! OCPP-J, the RPC layer of OCPP over WebSocket: frames, message ids and the sans-IO endpoint
//! that enforces the rules both versions share.
//!
//! The endpoint is what a role state machine (Charge Point, Central System, ...) talks through:
//! it turns WebSocket text into accepted calls and call outcomes, and calls and answers into
//! WebSocket text. See [`Endpoint`] for the driving contract.

mod endpoint;
mod frame;
mod ids;

pub use endpoint::{
    AcceptedActions, CallFailure, CallHandle, CallRefused, ConcurrentCalls, Endpoint,
    EndpointConfig, HeldCall, PeerError, ReceivedCall, RespondError, RpcEvent,
};
pub(crate) use frame::push_json_string;
pub use frame::{
    Call, CallError, CallResult, Frame, FrameError, FrameErrorKind, MAX_ERROR_DESCRIPTION_LEN,
    MAX_MESSAGE_ID_LEN, MessageType,
};
#[cfg(feature = "uuid")]
pub use ids::UuidV4Ids;
pub use ids::{CounterIds, IdGenerator};
