//! The sans-IO OCPP-J endpoint; see [`Endpoint`] for what it does and how it is driven.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::frame::{
    Call, CallError, Frame, FrameError, FrameErrorKind, MAX_MESSAGE_ID_LEN, PlainFrame,
};
use super::ids::IdGenerator;
use crate::message::{OcppRequest, OcppResponse};
use crate::schemas::{self, PayloadKind};
use crate::time::{Monotonic, Now};
use crate::validate::{self, ValidationError};
use crate::{ErrorCode, Version};

/// How the endpoint treats a CALL that arrives while an earlier CALL from the peer is still
/// unanswered.
///
/// Both specs forbid a sender to have two CALLs outstanding (section 4.1.1), but peers do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConcurrentCalls {
    /// Hand it to the role layer like any other CALL. Robust against peers that break the
    /// rule; the default.
    #[default]
    Serve,
    /// Answer it with a CALLERROR (2.0.1: `RpcFrameworkError`, 1.6: `GenericError`) without
    /// involving the role layer.
    Refuse,
}

/// Which incoming actions the role layer handles; the rest of the version's actions are
/// answered `NotSupported`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AcceptedActions {
    /// Every action of the version.
    #[default]
    All,
    /// Only these action names. Shared: a server's connections of one role accept the same
    /// actions, and each would otherwise hold its own copy of the set.
    Only(Arc<BTreeSet<String>>),
}

impl AcceptedActions {
    /// Only the given actions.
    pub fn only<'a>(actions: impl IntoIterator<Item = &'a str>) -> AcceptedActions {
        AcceptedActions::Only(Arc::new(actions.into_iter().map(str::to_owned).collect()))
    }

    pub(crate) fn accepts(&self, action: &str) -> bool {
        match self {
            AcceptedActions::All => true,
            AcceptedActions::Only(actions) => actions.contains(action),
        }
    }
}

/// Settings of one [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// The protocol version of the connection.
    pub version: Version,
    /// How long an outgoing CALL waits for its answer before it fails with
    /// [`CallFailure::Timeout`]. Default 30 s.
    pub call_timeout: Duration,
    /// The largest incoming or outgoing message, in bytes of UTF-8 text. Default 1 MiB.
    pub max_message_size: usize,
    /// Validate the payloads of received CALLs and CALLRESULTs against the schemas. Default on.
    pub validate_received: bool,
    /// Validate the payloads of sent CALLs and CALLRESULTs against the schemas. Default on.
    pub validate_sent: bool,
    /// What to do with a second unanswered CALL from the peer.
    pub concurrent_calls: ConcurrentCalls,
    /// Which incoming actions the role layer handles.
    pub accepted_actions: AcceptedActions,
}

impl EndpointConfig {
    /// The defaults for `version`: 30 s call timeout, 1 MiB messages, validation on in both
    /// directions, concurrent calls served, every action accepted.
    pub fn new(version: Version) -> EndpointConfig {
        EndpointConfig {
            version,
            call_timeout: Duration::from_secs(30),
            max_message_size: 1 << 20,
            validate_received: true,
            validate_sent: true,
            concurrent_calls: ConcurrentCalls::Serve,
            accepted_actions: AcceptedActions::All,
        }
    }
}

/// Identifies one outgoing call from [`Endpoint::call`] to its [`RpcEvent::Completed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallHandle(u64);

/// What the endpoint asks its caller to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this text as one WebSocket text message.
    Transmit(String),
    /// Something the role layer or application should know.
    Event(RpcEvent),
}

/// Events of the RPC layer.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcEvent {
    /// The peer called an action the role layer accepts, with a valid payload. Answer it with
    /// [`Endpoint::respond`] or [`Endpoint::respond_error`].
    Call(Call),
    /// An outgoing call ended.
    Completed {
        /// The handle [`Endpoint::call`] returned.
        handle: CallHandle,
        /// The message id the call was sent with.
        id: String,
        /// The action called.
        action: String,
        /// The response payload, or why there is none.
        outcome: Result<Value, CallFailure>,
    },
    /// The peer sent something wrong. The endpoint already answered it as the spec requires
    /// (or dropped it where the spec says to ignore it); this event is for logs and metrics.
    PeerError {
        /// What was wrong.
        error: PeerError,
        /// The CALLERROR code sent in reply, or `None` if nothing was sent.
        answered: Option<ErrorCode>,
    },
}

/// Why an outgoing call produced no response payload.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFailure {
    /// No answer within the call timeout.
    Timeout,
    /// The connection closed before the answer came.
    Disconnected,
    /// The peer answered with a CALLERROR (boxed: it is the largest failure, and every event
    /// that may carry a failure would be as large).
    CallError(Box<CallError>),
    /// The peer answered with a CALLRESULT whose payload breaks the action's response schema.
    InvalidResponse {
        /// The error code the violation maps to (for logs; nothing is sent back).
        code: ErrorCode,
        /// What is wrong.
        description: String,
    },
    /// The peer answered with a frame that could not be parsed (its id was readable).
    MalformedResponse(FrameError),
}

/// What the peer got wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerError {
    /// The text is not a valid OCPP-J frame, or is larger than the limit.
    Frame(FrameError),
    /// A CALL of an action the version does not define.
    UnknownAction {
        /// The message id.
        id: String,
        /// The action name as received.
        action: String,
    },
    /// A CALL of an action the role layer does not handle.
    UnsupportedAction {
        /// The message id.
        id: String,
        /// The action name.
        action: String,
    },
    /// A CALL whose payload breaks the action's request schema.
    InvalidPayload {
        /// The message id.
        id: String,
        /// The action name.
        action: String,
        /// What is wrong.
        description: String,
    },
    /// A CALL whose id equals that of a CALL of the peer still being handled.
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// A CALL while another CALL of the peer is unanswered, refused by
    /// [`ConcurrentCalls::Refuse`].
    ConcurrentCall {
        /// The refused call's id.
        id: String,
    },
    /// A CALLRESULT or CALLERROR that matches no outstanding call (late, after a timeout, or
    /// bogus). Both versions ignore it.
    UnexpectedResponse {
        /// Its id.
        id: String,
    },
}

/// Why [`Endpoint::call`] refused to send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallRefused {
    /// A typed request of one OCPP version on a connection of another.
    #[error("an OCPP {message} message cannot be sent on an OCPP {connection} connection")]
    WrongVersion {
        /// The connection's version.
        connection: Version,
        /// The message's version.
        message: Version,
    },
    /// There is no connection; nothing is queued across connections at this layer.
    #[error("not connected")]
    NotConnected,
    /// The version defines no such action.
    #[error("OCPP {version} has no action {action:?}")]
    UnknownAction {
        /// The version of the endpoint.
        version: Version,
        /// The action asked for.
        action: String,
    },
    /// The payload breaks the action's request schema.
    #[error("invalid {action} request: {description}")]
    InvalidPayload {
        /// The action.
        action: String,
        /// What is wrong.
        description: String,
    },
    /// The frame would exceed the configured maximum message size.
    #[error("the {action} frame has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The action.
        action: String,
        /// The frame size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why [`Endpoint::respond`] or [`Endpoint::respond_error`] could not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RespondError {
    /// No CALL with this id awaits an answer: it was answered already, or its connection
    /// closed.
    #[error("no call {0:?} awaits an answer")]
    UnknownCall(String),
    /// The response payload breaks the action's response schema. The peer was sent an
    /// `InternalError` CALLERROR instead, so it is not left waiting.
    #[error("invalid {action} response: {description}")]
    InvalidPayload {
        /// The action.
        action: String,
        /// What is wrong.
        description: String,
    },
    /// The response would exceed the maximum message size; the peer was sent an
    /// `InternalError` CALLERROR instead.
    #[error("the {action} response has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The action.
        action: String,
        /// The frame size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// The peer's CALLs awaiting an answer, by id, with their action. A peer has one at a time
/// (section 4.1.1), so the first is held inline and only further ones go to a map: a map's
/// node would be allocated and freed for every CALL, and an emptied map keeps its node (half a
/// KiB, held by every idle connection), so it is replaced by a new one when emptied.
#[derive(Default)]
struct Incoming {
    first: Option<(String, &'static str)>,
    more: BTreeMap<String, &'static str>,
}

/// Written as the map of ids to actions it stands for.
impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.first.iter().map(|(id, action)| (id, action));
        f.debug_map().entries(first.chain(&self.more)).finish()
    }
}

impl Incoming {
    fn contains(&self, id: &str) -> bool {
        self.first.as_ref().is_some_and(|(first, _)| first == id) || self.more.contains_key(id)
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.more.is_empty()
    }

    /// Adds a call whose id is not held yet.
    fn insert(&mut self, id: String, action: &'static str) {
        if self.first.is_none() {
            self.first = Some((id, action));
        } else {
            self.more.insert(id, action);
        }
    }

    fn remove(&mut self, id: &str) -> Option<&'static str> {
        if self.first.as_ref().is_some_and(|(first, _)| first == id) {
            return self.first.take().map(|(_, action)| action);
        }
        crate::machine::remove_releasing(&mut self.more, id)
    }

    fn clear(&mut self) {
        *self = Incoming::default();
    }
}

#[derive(Debug)]
struct Outgoing {
    handle: CallHandle,
    id: String,
    action: String,
    text: String,
}

#[derive(Debug)]
struct InFlight {
    call: Outgoing,
    deadline: Monotonic,
}

/// A CALL of the peer that passed every check of the endpoint, handed to a role layer that
/// acts on it at once ([`Endpoint::receive`]). Its id is still borrowed from the message when
/// the message was of the plain form: an answer given at once never needs a copy.
#[derive(Debug)]
pub(crate) struct Received<'t> {
    /// The message id.
    pub(crate) id: Cow<'t, str>,
    /// The action, as the version spells it (the same text as on the wire: names are
    /// case-sensitive).
    pub(crate) action: &'static str,
    /// The action's position in the version's table (`schemas::index`), which is the
    /// discriminant of its `Action`.
    pub(crate) index: usize,
    /// The payload, valid against the request schema if `validate_received` is on.
    pub(crate) payload: Value,
}

/// The sans-IO OCPP-J endpoint: one side of one WebSocket connection at the RPC level.
///
/// The endpoint owns what both OCPP-J specs require of a connection regardless of role:
/// matching answers to calls, at most one outgoing CALL in flight with the rest waiting in FIFO
/// order (1.6 and 2.0.1 part 4 section 4.1.1), call timeouts, answering what the peer got
/// wrong with the CALLERROR its version requires, and schema validation of what goes in and out.
/// What a CALL means is the role layer's business: the endpoint hands accepted CALLs over as
/// [`RpcEvent::Call`] and sends whatever answer the role layer gives.
///
/// # Driving it
///
/// Feed it inputs (`handle_connected`, `handle_message`, `handle_timeout`,
/// `handle_disconnected`) and commands (`call`, `respond`, `respond_error`). **After every
/// input or command, drain [`Endpoint::poll_output`] until it returns `None`, then read
/// [`Endpoint::poll_timeout`]** and call `handle_timeout` when that instant comes. Outputs are
/// produced in the order they must be applied; nothing happens between two inputs, so a caller
/// that follows this rule never misses a deadline or reorders a frame.
///
/// ```
/// use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, Output, RpcEvent};
/// use ocpp_core::time::{Monotonic, Now};
/// use ocpp_core::Version;
/// use serde_json::json;
///
/// let mut now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
/// let mut cp = Endpoint::new(EndpointConfig::new(Version::V16), Box::new(CounterIds::default()));
/// cp.handle_connected(now);
/// let call = cp.call(now, "Heartbeat", json!({})).unwrap();
/// assert_eq!(cp.poll_output(), Some(Output::Transmit(r#"[2,"1","Heartbeat",{}]"#.into())));
/// assert_eq!(cp.poll_output(), None);
///
/// // The answer arrives.
/// cp.handle_message(now, r#"[3,"1",{"currentTime":"2024-05-01T10:00:00Z"}]"#);
/// let Some(Output::Event(RpcEvent::Completed { handle, outcome, .. })) = cp.poll_output() else {
///     panic!("expected the call to complete");
/// };
/// assert_eq!(handle, call);
/// assert_eq!(outcome.unwrap()["currentTime"], "2024-05-01T10:00:00Z");
/// ```
pub struct Endpoint {
    config: EndpointConfig,
    ids: Box<dyn IdGenerator>,
    connected: bool,
    /// Boxed: most connections are idle, with no call in flight.
    in_flight: Option<Box<InFlight>>,
    queue: VecDeque<Outgoing>,
    /// Ids of the peer's CALLs handed to the role layer and not answered yet, with their action.
    incoming: Incoming,
    outputs: VecDeque<Output>,
    next_handle: u64,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("config", &self.config)
            .field("connected", &self.connected)
            .field("in_flight", &self.in_flight)
            .field("queued", &self.queue.len())
            .field("incoming", &self.incoming)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint that is not connected yet, taking CALL ids from `ids`.
    pub fn new(config: EndpointConfig, ids: Box<dyn IdGenerator>) -> Endpoint {
        Endpoint {
            config,
            ids,
            connected: false,
            in_flight: None,
            queue: VecDeque::new(),
            incoming: Incoming::default(),
            outputs: VecDeque::new(),
            next_handle: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Outgoing calls not answered yet: the one in flight plus those waiting behind it.
    pub fn pending_calls(&self) -> usize {
        usize::from(self.in_flight.is_some()) + self.queue.len()
    }

    /// The WebSocket connection is open. Calls can be made from now on.
    pub fn handle_connected(&mut self, _now: Now) {
        self.connected = true;
    }

    /// The WebSocket connection closed. Every outgoing call fails with
    /// [`CallFailure::Disconnected`], in the order they were made, and the peer's unanswered
    /// calls are forgotten: an answer on a later connection would reach nobody.
    pub fn handle_disconnected(&mut self, _now: Now) {
        self.connected = false;
        self.incoming.clear();
        let in_flight = self.in_flight.take().map(|f| f.call);
        for call in in_flight.into_iter().chain(std::mem::take(&mut self.queue)) {
            self.complete(call, Err(CallFailure::Disconnected));
        }
    }

    /// Time has reached `now`: fails the call in flight if its deadline has passed and sends
    /// the next one.
    pub fn handle_timeout(&mut self, now: Now) {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.deadline <= now.monotonic)
        {
            let call = self.in_flight.take().map(|f| f.call);
            if let Some(call) = call {
                self.complete(call, Err(CallFailure::Timeout));
            }
            self.send_next(now);
        }
    }

    /// The next instant at which [`Endpoint::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Monotonic> {
        self.in_flight.as_ref().map(|f| f.deadline)
    }

    /// The next output, in the order outputs must be applied.
    pub fn poll_output(&mut self) -> Option<Output> {
        crate::machine::next_output(&mut self.outputs)
    }

    /// Takes the peer's CALL `id` off the calls awaiting an answer; its action, if it was one.
    fn take_incoming(&mut self, id: &str) -> Option<&'static str> {
        self.incoming.remove(id)
    }

    /// Calls `action` on the peer. The frame is sent at once if no other call is in flight,
    /// otherwise after the calls made before it; the result comes as [`RpcEvent::Completed`].
    pub fn call(
        &mut self,
        now: Now,
        action: &str,
        payload: Value,
    ) -> Result<CallHandle, CallRefused> {
        if !self.connected {
            return Err(CallRefused::NotConnected);
        }
        self.check_request(action, &payload)?;
        let id = self.ids.next_id();
        let text = Frame::call_text(&id, action, &payload);
        self.enqueue(now, id, action, text)
    }

    /// Whether [`Endpoint::call`] would accept this request: the action exists in the
    /// version and, with `validate_sent`, the payload validates. For callers that must
    /// refuse a request before they store it (a durable queue), not only before they send it.
    pub fn check_request(&self, action: &str, payload: &Value) -> Result<(), CallRefused> {
        let version = self.config.version;
        if schemas::schema_text(version, action, PayloadKind::Request).is_none() {
            return Err(CallRefused::UnknownAction {
                version,
                action: action.to_owned(),
            });
        }
        if self.config.validate_sent {
            validate::validate(version, action, PayloadKind::Request, payload).map_err(|e| {
                CallRefused::InvalidPayload {
                    action: action.to_owned(),
                    description: e.description(),
                }
            })?;
        }
        Ok(())
    }

    /// Calls the peer with a typed request; the response payload in [`RpcEvent::Completed`]
    /// decodes into `R::Response` with `serde::Deserialize::deserialize(&payload)`.
    ///
    /// Refused with [`CallRefused::WrongVersion`] if `R` belongs to another OCPP version than
    /// the connection.
    pub fn call_request<R: OcppRequest>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CallRefused> {
        if R::VERSION != self.config.version {
            return Err(CallRefused::WrongVersion {
                connection: self.config.version,
                message: R::VERSION,
            });
        }
        let payload = serde_json::to_value(request).map_err(|e| CallRefused::InvalidPayload {
            action: R::ACTION.to_owned(),
            description: e.to_string(),
        })?;
        self.call(now, R::ACTION, payload)
    }

    /// Answers the peer's CALL `id` with a typed response; see [`Endpoint::respond`].
    pub fn respond_with<T: OcppResponse>(
        &mut self,
        now: Now,
        id: &str,
        response: &T,
    ) -> Result<(), RespondError> {
        match serde_json::to_value(response) {
            Ok(payload) => self.respond(now, id, payload),
            Err(e) => {
                // A generated type always serialises; treat the impossible like an invalid
                // response so the peer still gets an answer.
                self.respond_error(now, id, ErrorCode::InternalError, "", None)?;
                Err(RespondError::InvalidPayload {
                    action: T::ACTION.to_owned(),
                    description: e.to_string(),
                })
            }
        }
    }

    fn enqueue(
        &mut self,
        now: Now,
        id: String,
        action: &str,
        text: String,
    ) -> Result<CallHandle, CallRefused> {
        if text.len() > self.config.max_message_size {
            return Err(CallRefused::TooLarge {
                action: action.to_owned(),
                size: text.len(),
                limit: self.config.max_message_size,
            });
        }
        let handle = CallHandle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back(Outgoing {
            handle,
            id,
            action: action.to_owned(),
            text,
        });
        self.send_next(now);
        Ok(handle)
    }

    /// Answers the peer's CALL `id` with a CALLRESULT carrying `payload`.
    pub fn respond(&mut self, _now: Now, id: &str, payload: Value) -> Result<(), RespondError> {
        let Some(action) = self.take_incoming(id) else {
            return Err(RespondError::UnknownCall(id.to_owned()));
        };
        if self.config.validate_sent {
            self.check_response(id, action, &payload)?;
        }
        self.send_result(id, action, Frame::call_result_text(id, &payload))
    }

    /// [`Endpoint::respond`] for a payload that is valid by construction: one a role builds
    /// from values it controls (the Central System's automatic answers), written straight
    /// from the typed value without the intermediate JSON tree. Its schema check runs in
    /// debug builds, so every test that reaches it checks it, and is skipped in release
    /// builds, where it would only cost time. The text is the same in both.
    pub fn respond_valid(
        &mut self,
        now: Now,
        id: &str,
        payload: &impl serde::Serialize,
    ) -> Result<(), RespondError> {
        let Some(action) = self.take_incoming(id) else {
            return Err(RespondError::UnknownCall(id.to_owned()));
        };
        let text = self.answer_valid(now, id, action, payload, |id, payload| {
            Frame::call_result_text(id, payload)
        })?;
        self.outputs.push_back(Output::Transmit(text));
        Ok(())
    }

    /// [`Endpoint::respond_valid`] for a CALL from [`Endpoint::receive`] that was not held:
    /// the CALLRESULT's text, which the caller sends after whatever it reports about the CALL
    /// (the order `handle_message` and `respond_valid` give). If the answer cannot be sent,
    /// the InternalError sent instead is queued here. `write` writes the CALLRESULT's text,
    /// the text [`Frame::call_result_text`] writes (a role may know a faster way to it).
    pub(crate) fn answer_valid<P: serde::Serialize>(
        &mut self,
        _now: Now,
        id: &str,
        action: &'static str,
        payload: &P,
        write: impl FnOnce(&str, &P) -> String,
    ) -> Result<String, RespondError> {
        if cfg!(debug_assertions) && self.config.validate_sent {
            let value = serde_json::to_value(payload).unwrap_or(Value::Null);
            self.check_response(id, action, &value)?;
        }
        self.result_text(id, action, write(id, payload))
    }

    /// Checks a response against its schema; if it fails, answers the CALL `id` with an
    /// InternalError instead.
    fn check_response(
        &mut self,
        id: &str,
        action: &'static str,
        payload: &Value,
    ) -> Result<(), RespondError> {
        let version = self.config.version;
        let Err(e) = validate::validate(version, action, PayloadKind::Response, payload) else {
            return Ok(());
        };
        self.send_error(
            id,
            ErrorCode::InternalError,
            format!("the response to {action} could not be built"),
            None,
        );
        Err(RespondError::InvalidPayload {
            action: action.to_owned(),
            description: e.description(),
        })
    }

    /// Sends the CALLRESULT `text` answering the CALL `id` of `action`, or an InternalError
    /// if it is over the size limit.
    fn send_result(
        &mut self,
        id: &str,
        action: &'static str,
        text: String,
    ) -> Result<(), RespondError> {
        let text = self.result_text(id, action, text)?;
        self.outputs.push_back(Output::Transmit(text));
        Ok(())
    }

    /// The CALLRESULT `text` answering the CALL `id` of `action` if it is within the size
    /// limit; otherwise an InternalError is sent instead.
    fn result_text(
        &mut self,
        id: &str,
        action: &'static str,
        text: String,
    ) -> Result<String, RespondError> {
        if text.len() > self.config.max_message_size {
            self.send_error(
                id,
                ErrorCode::InternalError,
                format!("the response to {action} exceeds the message size limit"),
                None,
            );
            return Err(RespondError::TooLarge {
                action: action.to_owned(),
                size: text.len(),
                limit: self.config.max_message_size,
            });
        }
        Ok(text)
    }

    /// Answers the peer's CALL `id` with a CALLERROR. The description is cut to 255
    /// characters; `code` is spelled as the connection's version spells it.
    pub fn respond_error(
        &mut self,
        _now: Now,
        id: &str,
        code: ErrorCode,
        description: impl Into<String>,
        details: Option<Map<String, Value>>,
    ) -> Result<(), RespondError> {
        if self.take_incoming(id).is_none() {
            return Err(RespondError::UnknownCall(id.to_owned()));
        }
        self.send_error(id, code, description.into(), details);
        Ok(())
    }

    /// One WebSocket text message from the peer.
    pub fn handle_message(&mut self, now: Now, text: &str) {
        if let Some(call) = self.receive(now, text, None) {
            let id = call.id.into_owned();
            self.incoming.insert(id.clone(), call.action);
            self.outputs.push_back(Output::Event(RpcEvent::Call(Call {
                id,
                action: call.action.to_owned(),
                payload: call.payload,
            })));
        }
    }

    /// [`Endpoint::handle_message`] for a role layer that acts on an accepted CALL at once:
    /// the CALL is returned instead of reported as [`RpcEvent::Call`], and it is not yet
    /// remembered as awaiting an answer. Before its next input the caller either answers it
    /// with [`Endpoint::answer_valid`] or remembers it with [`Endpoint::hold`] (and then
    /// answers it as any other CALL). Everything else the message causes is queued as
    /// `handle_message` queues it.
    ///
    /// `accepts`, given, says by table index what the configured
    /// [`EndpointConfig::accepted_actions`] says by name, for a role whose set is built from
    /// the same rule: a test of bits instead of a search of a set of names on every call.
    pub(crate) fn receive<'t>(
        &mut self,
        now: Now,
        text: &'t str,
        accepts: Option<fn(usize) -> bool>,
    ) -> Option<Received<'t>> {
        if text.len() > self.config.max_message_size {
            self.handle_oversized(now, text);
            return None;
        }
        let frame = match PlainFrame::scan(text) {
            Some(PlainFrame::Call {
                id,
                action,
                payload,
            }) => return self.check_call(Cow::Borrowed(id), action, payload, accepts),
            Some(PlainFrame::CallResult { id, payload }) => {
                self.handle_answer(now, id, Ok(payload));
                return None;
            }
            Some(plain) => Ok(plain.into_frame()),
            None => Frame::parse_tree(text),
        };
        match frame {
            Ok(Frame::Call(call)) => {
                self.check_call(Cow::Owned(call.id), &call.action, call.payload, accepts)
            }
            Ok(Frame::CallResult(result)) => {
                self.handle_answer(now, &result.id, Ok(result.payload));
                None
            }
            Ok(Frame::CallError(error)) => {
                let id = error.id.clone();
                self.handle_answer(now, &id, Err(CallFailure::CallError(Box::new(error))));
                None
            }
            Err(error) => {
                self.handle_bad_frame(now, error);
                None
            }
        }
    }

    /// Remembers a CALL from [`Endpoint::receive`] as awaiting an answer, as
    /// [`Endpoint::handle_message`] remembers every CALL it hands over.
    pub(crate) fn hold(&mut self, id: &str, action: &'static str) {
        self.incoming.insert(id.to_owned(), action);
    }

    /// Forgets a CALL [`Endpoint::handle_message`] handed over, so that it can be acted on
    /// as one from [`Endpoint::receive`].
    pub(crate) fn release(&mut self, id: &str) -> Option<&'static str> {
        self.take_incoming(id)
    }

    /// The checks of a CALL before it is handed over (section 4.1.3 and 4.2: unknown or
    /// unsupported action, duplicate or concurrent call, schema); a refused CALL is answered
    /// and reported here.
    fn check_call<'t>(
        &mut self,
        id: Cow<'t, str>,
        action: &str,
        payload: Value,
        accepts: Option<fn(usize) -> bool>,
    ) -> Option<Received<'t>> {
        let version = self.config.version;
        let peer_error = |error, code| Some((error, code));
        let index = schemas::index(version, action);
        let name = index.and_then(|index| schemas::action_name_at(version, index));
        let refusal = if name.is_none() {
            peer_error(
                PeerError::UnknownAction {
                    id: id.to_string(),
                    action: action.to_owned(),
                },
                (
                    ErrorCode::NotImplemented,
                    format!("unknown action {action:?}"),
                    None,
                ),
            )
        } else if !match (accepts, index) {
            (Some(accepts), Some(index)) => accepts(index),
            _ => self.config.accepted_actions.accepts(action),
        } {
            peer_error(
                PeerError::UnsupportedAction {
                    id: id.to_string(),
                    action: action.to_owned(),
                },
                (
                    ErrorCode::NotSupported,
                    format!("{action} is not supported"),
                    None,
                ),
            )
        } else if self.incoming.contains(&id) {
            peer_error(
                PeerError::DuplicateId { id: id.to_string() },
                (
                    self.rpc_rule_code(),
                    format!("a call with id {id:?} is being handled already"),
                    None,
                ),
            )
        } else if self.config.concurrent_calls == ConcurrentCalls::Refuse
            && !self.incoming.is_empty()
        {
            peer_error(
                PeerError::ConcurrentCall { id: id.to_string() },
                (
                    self.rpc_rule_code(),
                    "a previous call has not been answered yet".to_owned(),
                    None,
                ),
            )
        } else if let (true, Some(index)) = (self.config.validate_received, index) {
            match validate::validate_index(version, index, PayloadKind::Request, &payload) {
                Ok(()) => None,
                Err(e) => peer_error(
                    PeerError::InvalidPayload {
                        id: id.to_string(),
                        action: action.to_owned(),
                        description: e.description(),
                    },
                    rejection(&e),
                ),
            }
        } else {
            None
        };
        match (refusal, name) {
            (Some((error, (code, description, details))), _) => {
                self.send_error(&id, code, description, details);
                self.report(error, Some(code.for_version(version)));
                None
            }
            // Not refused, so the action exists and has its name.
            (None, None) => None,
            (None, Some(action)) => Some(Received {
                id,
                action,
                index: index.unwrap_or_default(),
                payload,
            }),
        }
    }

    /// The code for a breach of the RPC rules themselves (a duplicate or concurrent CALL):
    /// 2.0.1 has `RpcFrameworkError` ("not a valid RPC request"); 1.6 has no code for it, so
    /// `GenericError` ("any other error").
    fn rpc_rule_code(&self) -> ErrorCode {
        match self.config.version {
            Version::V16 => ErrorCode::GenericError,
            Version::V201 => ErrorCode::RpcFrameworkError,
        }
    }

    fn handle_answer(&mut self, now: Now, id: &str, answer: Result<Value, CallFailure>) {
        let matches = self.in_flight.as_ref().is_some_and(|f| f.call.id == id);
        if !matches {
            self.report(PeerError::UnexpectedResponse { id: id.to_owned() }, None);
            return;
        }
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        let call = in_flight.call;
        let outcome = match answer {
            Ok(payload) if self.config.validate_received => {
                match validate::validate(
                    self.config.version,
                    &call.action,
                    PayloadKind::Response,
                    &payload,
                ) {
                    Ok(()) => Ok(payload),
                    Err(e) => Err(CallFailure::InvalidResponse {
                        code: e.error_code(),
                        description: e.description(),
                    }),
                }
            }
            other => other,
        };
        self.complete(call, outcome);
        self.send_next(now);
    }

    fn handle_bad_frame(&mut self, now: Now, error: FrameError) {
        let version = self.config.version;
        let is_response = matches!(error.message_type, Some(3 | 4));
        // A broken answer to the call in flight fails that call now instead of at its timeout.
        if is_response
            && let Some(id) = &error.id
            && self.in_flight.as_ref().is_some_and(|f| &f.call.id == id)
            && let Some(in_flight) = self.in_flight.take()
        {
            self.complete(
                in_flight.call,
                Err(CallFailure::MalformedResponse(error.clone())),
            );
            self.send_next(now);
        }
        let code = match (&error.kind, version) {
            // 1.6 section 4.1.3: a server "SHALL ignore the message payload" of an unknown type.
            (FrameErrorKind::UnknownMessageType(_), Version::V16) => None,
            // 2.0.1 part 4 section 4.4.
            (FrameErrorKind::UnknownMessageType(_), Version::V201) => {
                Some(ErrorCode::MessageTypeNotSupported)
            }
            // 1.6 has no "-1" convention: an error nobody can match is pointless, and answering
            // a broken answer would confuse the peer. Only a CALL whose id could be read gets
            // a CALLERROR ("not conform the PDU structure").
            (_, Version::V16) if error.message_type == Some(2) && error.id.is_some() => {
                Some(ErrorCode::FormatViolation)
            }
            (_, Version::V16) => None,
            // 2.0.1 part 4 section 4.2.3: a corrupt message gets a CALLERROR, with id "-1" when
            // the id cannot be read. A CALL whose only fault is a non-object payload is
            // "syntactically incorrect" (FormatViolation); everything else breaks the RPC
            // framing (RpcFrameworkError).
            (FrameErrorKind::PayloadNotObject, Version::V201) if error.message_type == Some(2) => {
                Some(ErrorCode::FormatViolation)
            }
            (_, Version::V201) => Some(ErrorCode::RpcFrameworkError),
        };
        if let Some(code) = code {
            let id = error.id.clone().unwrap_or_else(|| "-1".to_owned());
            self.send_error(&id, code, error.kind.to_string(), None);
        }
        self.report(
            PeerError::Frame(error),
            code.map(|c| c.for_version(version)),
        );
    }

    fn handle_oversized(&mut self, now: Now, text: &str) {
        // Only the head of the text is looked at: parsing all of it is what the limit avoids.
        let (message_type, id) = sniff_head(text);
        let error = FrameError {
            kind: FrameErrorKind::TooLarge {
                size: text.len(),
                limit: self.config.max_message_size,
            },
            message_type,
            id: id.map(str::to_owned),
        };
        match (message_type, &error.id) {
            (Some(2), Some(id)) => {
                let id = id.clone();
                self.send_error(
                    &id,
                    ErrorCode::FormatViolation,
                    error.kind.to_string(),
                    None,
                );
                let code = ErrorCode::FormatViolation.for_version(self.config.version);
                self.report(PeerError::Frame(error), Some(code));
            }
            _ => self.handle_bad_frame(now, error),
        }
    }

    fn send_error(
        &mut self,
        id: &str,
        code: ErrorCode,
        description: String,
        details: Option<Map<String, Value>>,
    ) {
        let frame = Frame::CallError(CallError::new(
            self.config.version,
            id,
            code,
            description,
            details,
        ));
        self.outputs.push_back(Output::Transmit(frame.to_text()));
    }

    fn report(&mut self, error: PeerError, answered: Option<ErrorCode>) {
        self.outputs
            .push_back(Output::Event(RpcEvent::PeerError { error, answered }));
    }

    fn complete(&mut self, call: Outgoing, outcome: Result<Value, CallFailure>) {
        self.outputs.push_back(Output::Event(RpcEvent::Completed {
            handle: call.handle,
            id: call.id,
            action: call.action,
            outcome,
        }));
    }

    fn send_next(&mut self, now: Now) {
        if !self.connected || self.in_flight.is_some() {
            return;
        }
        if let Some(call) = self.queue.pop_front() {
            self.outputs.push_back(Output::Transmit(call.text.clone()));
            self.in_flight = Some(Box::new(InFlight {
                call,
                deadline: now.monotonic + self.config.call_timeout,
            }));
        }
    }
}

/// The CALLERROR code, description and details for a payload that failed validation.
fn rejection(error: &ValidationError) -> (ErrorCode, String, Option<Map<String, Value>>) {
    let details = match error.details() {
        Value::Object(details) => Some(details),
        _ => None,
    };
    (error.error_code(), error.description(), details)
}

/// Reads the message type and id from the start of a frame without parsing the rest, for
/// messages too large to parse. Accepts only the plain form `[<digits>, "<id>"` where the id
/// has no escapes and at most 36 characters.
fn sniff_head(text: &str) -> (Option<u64>, Option<&str>) {
    let rest = text.trim_start();
    let Some(rest) = rest.strip_prefix('[') else {
        return (None, None);
    };
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(number) = rest[..digits].parse::<u64>() else {
        return (None, None);
    };
    let rest = rest[digits..].trim_start();
    let Some(rest) = rest.strip_prefix(',') else {
        return (Some(number), None);
    };
    let Some(rest) = rest.trim_start().strip_prefix('"') else {
        return (Some(number), None);
    };
    let id = rest
        .char_indices()
        .take(MAX_MESSAGE_ID_LEN + 1)
        .find(|(_, c)| *c == '"' || *c == '\\')
        .filter(|(_, c)| *c == '"')
        .map(|(end, _)| &rest[..end]);
    (Some(number), id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Section 4.1.1 concurrency is served by default, so several calls may await answers:
    /// the inline first one and those in the map behind it are one set of ids.
    #[test]
    fn calls_awaiting_an_answer_are_one_set_whether_inline_or_in_the_map() {
        let mut incoming = Incoming::default();
        incoming.insert("a".into(), "Heartbeat");
        incoming.insert("b".into(), "Authorize");
        incoming.insert("c".into(), "MeterValues");
        assert!(["a", "b", "c"].iter().all(|id| incoming.contains(id)));
        assert_eq!(
            format!("{incoming:?}"),
            r#"{"a": "Heartbeat", "b": "Authorize", "c": "MeterValues"}"#
        );
        assert_eq!(incoming.remove("a"), Some("Heartbeat"));
        assert!(!incoming.contains("a"));
        // The inline slot is free again and takes the next call.
        incoming.insert("d".into(), "StatusNotification");
        assert_eq!(incoming.remove("c"), Some("MeterValues"));
        assert_eq!(incoming.remove("c"), None);
        assert_eq!(incoming.remove("b"), Some("Authorize"));
        assert!(!incoming.is_empty());
        assert_eq!(incoming.remove("d"), Some("StatusNotification"));
        assert!(incoming.is_empty());
        incoming.insert("e".into(), "Heartbeat");
        incoming.clear();
        assert!(incoming.is_empty() && !incoming.contains("e"));
    }

    #[test]
    fn sniffing_reads_type_and_id_from_the_head_only() {
        assert_eq!(
            sniff_head(r#" [ 2 , "abc", "Heartbeat""#),
            (Some(2), Some("abc"))
        );
        assert_eq!(sniff_head(r#"[3,"x"#), (Some(3), None));
        assert_eq!(sniff_head(r#"[2,"a\"b","#), (Some(2), None));
        assert_eq!(
            sniff_head(&format!(r#"[2,"{}","#, "x".repeat(37))),
            (Some(2), None)
        );
        assert_eq!(
            sniff_head(&format!(r#"[2,"{}","#, "x".repeat(36)))
                .1
                .map(str::len),
            Some(36)
        );
        assert_eq!(sniff_head("{}"), (None, None));
        assert_eq!(sniff_head("[x"), (None, None));
    }
}
