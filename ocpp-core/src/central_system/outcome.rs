//! The typed outcome of a call of the Central System.

use super::Event;
use crate::machine::Completes;
use crate::message::OcppResponse;
use crate::rpc::{CallFailure, CallHandle};
use crate::v16::{Action, Response};

/// How one call made with [`CentralSystem::call`](super::CentralSystem::call) ended.
///
/// The event enum of the machine cannot be generic over the request type, so the response
/// travels as the typed [`v16::Response`](crate::v16::Response) enum (already decoded: an answer whose values the
/// types cannot hold is a [`CallFailure::InvalidResponse`]) and
/// [`CallCompleted::response`] downcasts it to the type the caller expects, without
/// re-parsing:
///
/// ```
/// # use ocpp_core::central_system::CallCompleted;
/// # use ocpp_core::v16::{self, ResetResponse, ResetStatus};
/// # fn handle(completed: CallCompleted) {
/// match completed.response::<ResetResponse>() {
///     Ok(ResetResponse { status: ResetStatus::Accepted }) => { /* rebooting */ }
///     Ok(_) => { /* refused */ }
///     Err(failure) => { /* timeout, CallError, disconnect, ... */ }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CallCompleted {
    /// The handle `call` returned.
    pub handle: CallHandle,
    /// The action called.
    pub action: Action,
    /// The Charge Point's answer, or why there is none.
    pub outcome: Result<Response, CallFailure>,
}

/// A call of [`CentralSystem::call`](super::CentralSystem::call) ends with its
/// [`Event::CallCompleted`].
impl Completes for Event {
    type Key = CallHandle;

    fn completes(&self) -> Option<CallHandle> {
        match self {
            Event::CallCompleted(completed) => Some(completed.handle),
            _ => None,
        }
    }
}

/// Why [`CallCompleted::response`] has no response of the asked type.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutcomeError {
    /// The call failed: timeout, CallError, disconnect, invalid answer.
    #[error("the call failed: {0:?}")]
    Failed(CallFailure),
    /// The call was of another action than the type asked for.
    #[error("the call was {actual}, not {expected}")]
    WrongAction {
        /// The action of the type asked for.
        expected: Action,
        /// The action of the call.
        actual: Action,
    },
}

impl CallCompleted {
    /// The response as the type `T` (the `Response` of the request that was sent), or why
    /// there is none.
    pub fn response<T: TypedResponse>(self) -> Result<T, OutcomeError> {
        let response = self.outcome.map_err(OutcomeError::Failed)?;
        T::from_response(response).map_err(|other| OutcomeError::WrongAction {
            expected: T::TYPED_ACTION,
            actual: other.action(),
        })
    }
}

/// A 1.6 response type, which [`CallCompleted::response`] takes out of the
/// [`v16::Response`](crate::v16::Response) enum ([`OcppResponse::from_response`]): every generated 1.6 response.
pub trait TypedResponse: OcppResponse<Action = Action> {}

impl<T: OcppResponse<Action = Action>> TypedResponse for T {}
