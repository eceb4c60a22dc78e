//! The sans-IO OCPP-J endpoint; see [`Endpoint`] for what it does and how it is driven.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::marker::PhantomData;
use std::time::Duration;

use serde_json::{Map, Value};

use super::frame::{CallError, Frame, FrameError, FrameErrorKind, MAX_MESSAGE_ID_LEN, PlainFrame};
use super::ids::IdGenerator;
use crate::machine::Output;
use crate::message::{OcppAction, OcppRequest, OcppResponse, Side};
use crate::schemas::PayloadKind;
use crate::time::{Monotonic, Now};
use crate::validate::{self, ValidationError};
use crate::{ErrorCode, Version, v16};

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

/// Which incoming actions of the version `A` the role layer handles; the endpoint answers
/// the rest `NotSupported` (OCPP-J 1.6 section 4.1.3) without involving the role.
///
/// A set of actions by their index in the version's table, one bit each: testing it costs
/// a shift on every CALL, and it is a plain value a server's connections copy (no shared
/// allocation). The default is every action of the version.
pub struct AcceptedActions<A = v16::Action> {
    bits: u64,
    actions: PhantomData<fn() -> A>,
}

impl<A: OcppAction> AcceptedActions<A> {
    /// The bits of every action of the version. A version with more than 64 actions does not
    /// compile here (see [`OcppAction`]'s invariants).
    fn every() -> u64 {
        const { assert!(A::ALL.len() <= 64, "a set of actions is one u64") };
        match A::ALL.len() {
            64 => u64::MAX,
            n => (1 << n) - 1,
        }
    }

    fn from_bits(bits: u64) -> AcceptedActions<A> {
        AcceptedActions {
            bits: bits & Self::every(),
            actions: PhantomData,
        }
    }

    /// Every action of the version.
    pub fn all() -> AcceptedActions<A> {
        AcceptedActions::from_bits(u64::MAX)
    }

    /// No action: every CALL is answered `NotSupported`.
    pub fn none() -> AcceptedActions<A> {
        AcceptedActions::from_bits(0)
    }

    /// Only the given actions.
    pub fn only(actions: impl IntoIterator<Item = A>) -> AcceptedActions<A> {
        actions
            .into_iter()
            .fold(AcceptedActions::none(), AcceptedActions::with)
    }

    /// The actions whose CALL `side` sends: what a role on the other side accepts, if it
    /// handles all of them (a Central System accepts what the Charge Point sends).
    pub fn sent_by(side: Side) -> AcceptedActions<A> {
        AcceptedActions::only(A::ALL.iter().copied().filter(|a| a.sent_by(side)))
    }

    /// This set and `action`.
    #[must_use]
    pub fn with(self, action: A) -> AcceptedActions<A> {
        AcceptedActions::from_bits(self.bits | 1 << action.index())
    }

    /// This set without `action`.
    #[must_use]
    pub fn without(self, action: A) -> AcceptedActions<A> {
        AcceptedActions::from_bits(self.bits & !(1 << action.index()))
    }

    /// Whether the role layer handles `action`.
    pub fn contains(&self, action: A) -> bool {
        self.bits >> action.index() & 1 == 1
    }

    /// The actions in the set, in the table's order.
    pub fn iter(&self) -> impl Iterator<Item = A> + '_ {
        A::ALL.iter().copied().filter(|a| self.contains(*a))
    }
}

impl<A: OcppAction> Default for AcceptedActions<A> {
    /// Every action of the version.
    fn default() -> AcceptedActions<A> {
        AcceptedActions::all()
    }
}

impl<A> Clone for AcceptedActions<A> {
    fn clone(&self) -> AcceptedActions<A> {
        *self
    }
}

impl<A> Copy for AcceptedActions<A> {}

impl<A> PartialEq for AcceptedActions<A> {
    fn eq(&self, other: &AcceptedActions<A>) -> bool {
        self.bits == other.bits
    }
}

impl<A> Eq for AcceptedActions<A> {}

/// Written as the set of action names.
impl<A: OcppAction> std::fmt::Debug for AcceptedActions<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Settings of one [`Endpoint`] of the OCPP version whose actions are `A`
/// ([`v16::Action`], [`v201::Action`](crate::v201::Action)).
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointConfig<A = v16::Action> {
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
    pub accepted_actions: AcceptedActions<A>,
}

impl<A: OcppAction> EndpointConfig<A> {
    /// The defaults: 30 s call timeout, 1 MiB messages, validation on in both directions,
    /// concurrent calls served, every action accepted.
    pub fn new() -> EndpointConfig<A> {
        EndpointConfig {
            call_timeout: Duration::from_secs(30),
            max_message_size: 1 << 20,
            validate_received: true,
            validate_sent: true,
            concurrent_calls: ConcurrentCalls::Serve,
            accepted_actions: AcceptedActions::all(),
        }
    }

    /// The protocol version of the connection: the version of `A`.
    pub fn version(&self) -> Version {
        A::VERSION
    }
}

impl EndpointConfig<v16::Action> {
    /// [`EndpointConfig::new`] for an OCPP 1.6 connection.
    pub fn v16() -> EndpointConfig<v16::Action> {
        EndpointConfig::new()
    }
}

impl EndpointConfig<crate::v201::Action> {
    /// [`EndpointConfig::new`] for an OCPP 2.0.1 connection.
    pub fn v201() -> EndpointConfig<crate::v201::Action> {
        EndpointConfig::new()
    }
}

impl<A: OcppAction> std::fmt::Debug for EndpointConfig<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("version", &A::VERSION)
            .field("call_timeout", &self.call_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("validate_received", &self.validate_received)
            .field("validate_sent", &self.validate_sent)
            .field("concurrent_calls", &self.concurrent_calls)
            .field("accepted_actions", &self.accepted_actions)
            .finish()
    }
}

impl<A: OcppAction> Default for EndpointConfig<A> {
    /// [`EndpointConfig::new`].
    fn default() -> EndpointConfig<A> {
        EndpointConfig::new()
    }
}

/// Identifies one outgoing call from [`Endpoint::call`] to its [`RpcEvent::Completed`]: keep
/// it to know which call an outcome belongs to.
#[must_use = "the outcome of the call comes as an event carrying this handle"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallHandle(u64);

/// A CALL of the peer that passed every check of the endpoint (a known action the role
/// accepts, a fresh id, a payload valid against the request schema if
/// [`EndpointConfig::validate_received`] is on), as [`Endpoint::handle_message`] returns it.
///
/// The peer waits for the answer. **Before giving the endpoint its next input, the caller
/// passes the call back to the endpoint exactly once**, by one of:
///
/// - an answer at once: [`Endpoint::answer`] (any payload, validated as
///   [`Endpoint::respond`] validates it), [`Endpoint::answer_valid`] /
///   [`Endpoint::answer_valid_with`] (a payload valid by construction) or
///   [`Endpoint::answer_error`]. Each returns the text of the answer, which the caller
///   transmits after whatever it reports about the call; nothing is queued, so an answer
///   given at once costs no copy of the id and no queue. An answer the endpoint refused to
///   send (invalid, too large) was replaced by a CALLERROR `InternalError` in
///   [`Endpoint::poll_output`]'s queue: drain it as after any command.
/// - [`Endpoint::hold`]: the endpoint remembers the id, and the caller answers later with
///   [`Endpoint::respond`], [`Endpoint::respond_with`] or [`Endpoint::respond_error`].
///
/// A call dropped instead is never answered, and the endpoint does not know that the peer
/// waits: a CALL repeating its id is not recognised as a duplicate, and
/// [`ConcurrentCalls::Refuse`] does not see it. Its id is still borrowed from the message
/// text when the message was of the plain form (the common case), which is why the call
/// cannot outlive the text.
#[must_use = "the peer waits for an answer: answer the call or hold it before the next input"]
#[derive(Debug)]
pub struct ReceivedCall<'t, A = v16::Action> {
    id: Cow<'t, str>,
    action: A,
    payload: Value,
}

impl<A: OcppAction> ReceivedCall<'_, A> {
    /// The message id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The action called.
    pub fn action(&self) -> A {
        self.action
    }

    /// The payload: an object, valid against the action's request schema if
    /// [`EndpointConfig::validate_received`] is on.
    pub fn payload(&self) -> &Value {
        &self.payload
    }

    /// Takes the payload out (leaving `null`), to decode it into its type without a copy:
    /// `v16::Request::from_payload(call.action(), call.take_payload())`.
    pub fn take_payload(&mut self) -> Value {
        std::mem::take(&mut self.payload)
    }
}

/// A CALL of the peer that the endpoint remembers as awaiting an answer
/// ([`Endpoint::hold`]); answer it by its id with [`Endpoint::respond`],
/// [`Endpoint::respond_with`] or [`Endpoint::respond_error`].
#[derive(Debug, Clone, PartialEq)]
pub struct HeldCall<A = v16::Action> {
    /// The message id, which the answer carries.
    pub id: String,
    /// The action called.
    pub action: A,
    /// The payload (`null` if it was taken out of the [`ReceivedCall`] before it was held).
    pub payload: Value,
}

/// Events of the RPC layer of the version whose actions are `A`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum RpcEvent<A = v16::Action> {
    /// The peer called an action the role layer accepts, with a valid payload; the endpoint
    /// holds it ([`Endpoint::hold`]). Answer it with [`Endpoint::respond`] or
    /// [`Endpoint::respond_error`].
    ///
    /// Only an endpoint driven through [`Machine`](crate::machine::Machine) (a bare
    /// endpoint, with no role over it) reports calls this way. A role calls
    /// [`Endpoint::handle_message`], which returns the call instead, so its
    /// [`Endpoint::poll_output`] never yields this event.
    Call(HeldCall<A>),
    /// An outgoing call ended.
    Completed {
        /// The handle [`Endpoint::call`] returned.
        handle: CallHandle,
        /// The message id the call was sent with.
        id: String,
        /// The action called.
        action: A,
        /// The response payload, or why there is none.
        outcome: Result<Value, CallFailure>,
    },
    /// The peer sent something wrong. The endpoint already answered it as the spec requires
    /// (or dropped it where the spec says to ignore it); this event is for logs and metrics.
    PeerError {
        /// What was wrong.
        error: PeerError<A>,
        /// The CALLERROR code sent in reply, or `None` if nothing was sent.
        answered: Option<ErrorCode>,
    },
}

/// Why an outgoing call produced no response payload.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum CallFailure {
    /// No answer within the call timeout.
    Timeout,
    /// The connection closed before the answer came.
    Disconnected,
    /// The peer answered with a CALLERROR (boxed: it is the largest failure, and every event
    /// that may carry a failure would be as large). Its code is the wire text, which a peer
    /// may fill with a code neither version defines; [`CallError::error_code`] reads it.
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
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum PeerError<A = v16::Action> {
    /// The text is not a valid OCPP-J frame, or is larger than the limit.
    Frame(FrameError),
    /// A CALL of an action the version does not define.
    UnknownAction {
        /// The message id.
        id: String,
        /// The action name as received (untrusted text: it names no action).
        action: String,
    },
    /// A CALL of an action the role layer does not handle.
    UnsupportedAction {
        /// The message id.
        id: String,
        /// The action.
        action: A,
    },
    /// A CALL whose payload breaks the action's request schema (or, found by the role, one
    /// that the types cannot hold).
    InvalidPayload {
        /// The message id.
        id: String,
        /// The action.
        action: A,
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
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallRefused<A = v16::Action> {
    /// There is no connection; nothing is queued across connections at this layer.
    #[error("not connected")]
    NotConnected,
    /// A name read as text (a stored record, a command from a file) that is no action of the
    /// version. The endpoint's own calls take the typed action and never give it; it is here
    /// for callers that resolve such a name before they call.
    #[error("OCPP {version} has no action {action:?}")]
    UnknownAction {
        /// The version of the endpoint.
        version: Version,
        /// The name, as read.
        action: String,
    },
    /// The payload breaks the action's request schema.
    #[error("invalid {action} request: {description}")]
    InvalidPayload {
        /// The action.
        action: A,
        /// What is wrong.
        description: String,
    },
    /// The frame would exceed the configured maximum message size.
    #[error("the {action} frame has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The action.
        action: A,
        /// The frame size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why [`Endpoint::respond`], [`Endpoint::respond_error`] or an answer at once could not
/// answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RespondError<A = v16::Action> {
    /// No CALL with this id awaits an answer: it was answered already, or its connection
    /// closed.
    #[error("no call {0:?} awaits an answer")]
    UnknownCall(String),
    /// The response payload breaks the action's response schema. The peer was sent an
    /// `InternalError` CALLERROR instead, so it is not left waiting.
    #[error("invalid {action} response: {description}")]
    InvalidPayload {
        /// The action.
        action: A,
        /// What is wrong.
        description: String,
    },
    /// The response would exceed the maximum message size; the peer was sent an
    /// `InternalError` CALLERROR instead.
    #[error("the {action} response has {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The action.
        action: A,
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
struct Incoming<A> {
    first: Option<(String, A)>,
    more: BTreeMap<String, A>,
}

impl<A> Default for Incoming<A> {
    fn default() -> Incoming<A> {
        Incoming {
            first: None,
            more: BTreeMap::new(),
        }
    }
}

/// Written as the map of ids to actions it stands for.
impl<A: std::fmt::Debug> std::fmt::Debug for Incoming<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.first.iter().map(|(id, action)| (id, action));
        f.debug_map().entries(first.chain(&self.more)).finish()
    }
}

impl<A: Copy> Incoming<A> {
    fn contains(&self, id: &str) -> bool {
        self.first.as_ref().is_some_and(|(first, _)| first == id) || self.more.contains_key(id)
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.more.is_empty()
    }

    /// Adds a call whose id is not held yet.
    fn insert(&mut self, id: String, action: A) {
        if self.first.is_none() {
            self.first = Some((id, action));
        } else {
            self.more.insert(id, action);
        }
    }

    fn remove(&mut self, id: &str) -> Option<A> {
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
struct Outgoing<A> {
    handle: CallHandle,
    id: String,
    action: A,
    text: String,
}

#[derive(Debug)]
struct InFlight<A> {
    call: Outgoing<A>,
    deadline: Monotonic,
}

/// The sans-IO OCPP-J endpoint: one side of one WebSocket connection at the RPC level, of the
/// OCPP version whose actions are `A` ([`v16::Action`], the default, or
/// [`v201::Action`](crate::v201::Action)).
///
/// The endpoint owns what both OCPP-J specs require of a connection regardless of role:
/// matching answers to calls, at most one outgoing CALL in flight with the rest waiting in FIFO
/// order (1.6 and 2.0.1 part 4 section 4.1.1), call timeouts, answering what the peer got
/// wrong with the CALLERROR its version requires, and schema validation of what goes in and out.
/// What a CALL means is the role layer's business: [`Endpoint::handle_message`] hands an
/// accepted CALL over as a [`ReceivedCall`], and the endpoint sends whatever answer the role
/// layer gives.
///
/// # Driving it
///
/// Feed it inputs (`handle_connected`, `handle_message`, `handle_timeout`,
/// `handle_disconnected`) and commands (`call`, `respond`, `respond_error`, the answers at
/// once). **After every input or command, drain [`Endpoint::poll_output`] until it returns
/// `None`, then read [`Endpoint::poll_timeout`]** and call `handle_timeout` when that instant
/// comes. Outputs are produced in the order they must be applied; nothing happens between two
/// inputs, so a caller that follows this rule never misses a deadline or reorders a frame. The
/// outputs are [`machine::Output`](crate::machine::Output)s (only `Transmit` and `Event`), so
/// a role forwards a `Transmit` as it is.
///
/// # The caller's obligations for a CALL of the peer
///
/// [`Endpoint::handle_message`] returns the peer's CALL when it passed the endpoint's checks
/// (everything else the message causes, answers to what the peer got wrong and outcomes of
/// our calls, is queued for `poll_output`). The caller must give it back before the next
/// input: answered at once ([`Endpoint::answer`], [`Endpoint::answer_valid`],
/// [`Endpoint::answer_error`], each returning the text to transmit) or held
/// ([`Endpoint::hold`]) and answered later by id; see [`ReceivedCall`]. A bare endpoint driven
/// through [`Machine`](crate::machine::Machine) holds every call itself and reports it as
/// [`RpcEvent::Call`].
///
/// ```
/// use ocpp_core::machine::Output;
/// use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
/// use ocpp_core::time::{Monotonic, Now};
/// use ocpp_core::v16::{Action, HeartbeatResponse};
/// use serde_json::json;
///
/// let now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
/// let config = EndpointConfig::<Action>::new();
/// let mut cp = Endpoint::new(config.clone(), Box::new(CounterIds::default()));
/// let mut cs = Endpoint::new(config, Box::new(CounterIds::default()));
/// cp.handle_connected(now);
/// cs.handle_connected(now);
/// let call = cp.call(now, Action::Heartbeat, json!({})).unwrap();
/// let Some(Output::Transmit(text)) = cp.poll_output() else { panic!("the CALL goes out") };
/// assert_eq!(text, r#"[2,"1","Heartbeat",{}]"#);
/// assert_eq!(cp.poll_output(), None);
///
/// // The other side accepts the CALL and answers it at once.
/// let received = cs.handle_message(now, &text).expect("an accepted CALL");
/// assert_eq!((received.id(), received.action()), ("1", Action::Heartbeat));
/// let answer = HeartbeatResponse { current_time: now.wall };
/// let text = cs.answer_valid(now, received, &answer).unwrap();
/// assert_eq!(text, r#"[3,"1",{"currentTime":"1970-01-01T00:00:00Z"}]"#);
///
/// // The answer arrives.
/// assert!(cp.handle_message(now, &text).is_none());
/// let Some(Output::Event(RpcEvent::Completed { handle, action, outcome, .. })) = cp.poll_output()
/// else {
///     panic!("expected the call to complete");
/// };
/// assert_eq!((handle, action), (call, Action::Heartbeat));
/// assert_eq!(outcome.unwrap()["currentTime"], "1970-01-01T00:00:00Z");
/// ```
///
/// A typed request of another version does not compile:
///
/// ```compile_fail
/// # use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig};
/// # use ocpp_core::time::{Monotonic, Now};
/// # let now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
/// let mut cp = Endpoint::new(
///     EndpointConfig::<ocpp_core::v16::Action>::new(),
///     Box::new(CounterIds::default()),
/// );
/// cp.call_request(now, &ocpp_core::v201::HeartbeatRequest {});
/// ```
pub struct Endpoint<A = v16::Action> {
    config: EndpointConfig<A>,
    ids: Box<dyn IdGenerator>,
    connected: bool,
    /// Boxed: most connections are idle, with no call in flight.
    in_flight: Option<Box<InFlight<A>>>,
    queue: VecDeque<Outgoing<A>>,
    /// Ids of the peer's CALLs held and not answered yet, with their action.
    incoming: Incoming<A>,
    outputs: VecDeque<Output<RpcEvent<A>>>,
    next_handle: u64,
}

impl<A: OcppAction> std::fmt::Debug for Endpoint<A> {
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

impl<A: OcppAction> Endpoint<A> {
    /// An endpoint that is not connected yet, taking CALL ids from `ids`.
    pub fn new(config: EndpointConfig<A>, ids: Box<dyn IdGenerator>) -> Endpoint<A> {
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
    pub fn config(&self) -> &EndpointConfig<A> {
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
    /// [`CallFailure::Disconnected`], in the order they were made, and the peer's held
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

    /// The next output, in the order outputs must be applied: only
    /// [`Output::Transmit`] and [`Output::Event`] (the endpoint persists nothing and never
    /// closes).
    pub fn poll_output(&mut self) -> Option<Output<RpcEvent<A>>> {
        crate::machine::next_output(&mut self.outputs)
    }

    /// Calls `action` on the peer. The frame is sent at once if no other call is in flight,
    /// otherwise after the calls made before it; the result comes as [`RpcEvent::Completed`].
    pub fn call(
        &mut self,
        now: Now,
        action: A,
        payload: Value,
    ) -> Result<CallHandle, CallRefused<A>> {
        if !self.connected {
            return Err(CallRefused::NotConnected);
        }
        self.check_request(action, &payload)?;
        let id = self.ids.next_id();
        let text = Frame::call_text(&id, action.as_str(), &payload);
        self.enqueue(now, id, action, text)
    }

    /// Whether [`Endpoint::call`] would accept this request: with `validate_sent`, the
    /// payload validates. For callers that must refuse a request before they store it (a
    /// durable queue), not only before they send it.
    pub fn check_request(&self, action: A, payload: &Value) -> Result<(), CallRefused<A>> {
        if self.config.validate_sent {
            validate::validate_index(A::VERSION, action.index(), PayloadKind::Request, payload)
                .map_err(|e| CallRefused::InvalidPayload {
                    action,
                    description: e.description(),
                })?;
        }
        Ok(())
    }

    /// Calls the peer with a typed request of the endpoint's version; the response payload in
    /// [`RpcEvent::Completed`] decodes into `R::Response` with
    /// `serde::Deserialize::deserialize(&payload)`.
    pub fn call_request<R: OcppRequest<Action = A>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CallRefused<A>> {
        let payload = serde_json::to_value(request).map_err(|e| CallRefused::InvalidPayload {
            action: R::TYPED_ACTION,
            description: e.to_string(),
        })?;
        self.call(now, R::TYPED_ACTION, payload)
    }

    fn enqueue(
        &mut self,
        now: Now,
        id: String,
        action: A,
        text: String,
    ) -> Result<CallHandle, CallRefused<A>> {
        if text.len() > self.config.max_message_size {
            return Err(CallRefused::TooLarge {
                action,
                size: text.len(),
                limit: self.config.max_message_size,
            });
        }
        let handle = CallHandle(self.next_handle);
        self.next_handle += 1;
        self.queue.push_back(Outgoing {
            handle,
            id,
            action,
            text,
        });
        self.send_next(now);
        Ok(handle)
    }

    /// One WebSocket text message from the peer.
    ///
    /// Returns the peer's CALL if it passed every check (see [`ReceivedCall`] for what the
    /// caller must do with it before the next input). Everything else the message causes is
    /// queued for [`Endpoint::poll_output`]: the CALLERROR answering what the peer got wrong
    /// with its [`RpcEvent::PeerError`], the [`RpcEvent::Completed`] of the call an answer
    /// belongs to (and the next queued call's frame).
    #[must_use = "an accepted CALL must be answered or held; a bare endpoint driven as a \
                  `Machine` holds it itself (`Machine::handle_message`)"]
    pub fn handle_message<'t>(&mut self, now: Now, text: &'t str) -> Option<ReceivedCall<'t, A>> {
        if text.len() > self.config.max_message_size {
            self.handle_oversized(now, text);
            return None;
        }
        let frame = match PlainFrame::scan(text) {
            Some(PlainFrame::Call {
                id,
                action,
                payload,
            }) => return self.check_call(Cow::Borrowed(id), action, payload),
            Some(PlainFrame::CallResult { id, payload }) => {
                self.handle_answer(now, id, Ok(payload));
                return None;
            }
            Some(plain) => Ok(plain.into_frame()),
            None => Frame::parse_tree(text),
        };
        match frame {
            Ok(Frame::Call(call)) => {
                self.check_call(Cow::Owned(call.id), &call.action, call.payload)
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

    /// Remembers the peer's `call` as awaiting an answer, to be given later by its id with
    /// [`Endpoint::respond`], [`Endpoint::respond_with`] or [`Endpoint::respond_error`]. Until
    /// then a CALL with the same id is refused as a duplicate and, with
    /// [`ConcurrentCalls::Refuse`], any other CALL as concurrent.
    pub fn hold(&mut self, call: ReceivedCall<'_, A>) -> HeldCall<A> {
        let id = call.id.into_owned();
        self.incoming.insert(id.clone(), call.action);
        HeldCall {
            id,
            action: call.action,
            payload: call.payload,
        }
    }

    /// Reports a held call as [`RpcEvent::Call`]: what the bare endpoint driven as a
    /// [`Machine`](crate::machine::Machine) does with every call it accepts.
    pub(crate) fn report_held(&mut self, call: HeldCall<A>) {
        self.outputs.push_back(Output::Event(RpcEvent::Call(call)));
    }

    /// Answers the peer's `call` at once with a CALLRESULT carrying `payload`, validated
    /// against the action's response schema as [`Endpoint::respond`] validates it. Returns
    /// the CALLRESULT's text, which the caller transmits (nothing is queued).
    ///
    /// An invalid or oversized answer is not sent: the peer gets a CALLERROR `InternalError`
    /// instead, queued for [`Endpoint::poll_output`], and the error says why.
    pub fn answer(
        &mut self,
        _now: Now,
        call: ReceivedCall<'_, A>,
        payload: Value,
    ) -> Result<String, RespondError<A>> {
        if self.config.validate_sent {
            self.check_response(&call.id, call.action, &payload)?;
        }
        self.result_text(
            &call.id,
            call.action,
            Frame::call_result_text(&call.id, &payload),
        )
    }

    /// [`Endpoint::answer`] for a payload that is valid by construction: one a role builds
    /// from values it controls (the Central System's automatic answers), written straight
    /// from the typed value without the intermediate JSON tree. Its schema check runs in debug
    /// builds, so every test that reaches it checks it, and is skipped in release builds,
    /// where it would only cost time. The text is the same in both.
    pub fn answer_valid<P: serde::Serialize>(
        &mut self,
        now: Now,
        call: ReceivedCall<'_, A>,
        payload: &P,
    ) -> Result<String, RespondError<A>> {
        self.answer_valid_with(now, call, payload, |id, payload| {
            Frame::call_result_text(id, payload)
        })
    }

    /// [`Endpoint::answer_valid`] with the CALLRESULT written by `write`, from the id and the
    /// payload: the text [`Frame::call_result_text`] writes, by a faster way the caller knows
    /// for its payload (the Central System writes a Heartbeat's by hand).
    pub fn answer_valid_with<P: serde::Serialize>(
        &mut self,
        _now: Now,
        call: ReceivedCall<'_, A>,
        payload: &P,
        write: impl FnOnce(&str, &P) -> String,
    ) -> Result<String, RespondError<A>> {
        if cfg!(debug_assertions) && self.config.validate_sent {
            let value = serde_json::to_value(payload).unwrap_or(Value::Null);
            self.check_response(&call.id, call.action, &value)?;
        }
        self.result_text(&call.id, call.action, write(&call.id, payload))
    }

    /// Answers the peer's `call` at once with a CALLERROR; returns its text, which the caller
    /// transmits (nothing is queued). The description is cut to 255 characters; `code` is
    /// spelled as the connection's version spells it.
    pub fn answer_error(
        &mut self,
        _now: Now,
        call: ReceivedCall<'_, A>,
        code: ErrorCode,
        description: impl Into<String>,
        details: Option<Map<String, Value>>,
    ) -> String {
        self.error_text(&call.id, code, description.into(), details)
    }

    /// Answers the peer's held CALL `id` with a CALLRESULT carrying `payload`, validated
    /// against the action's response schema if `validate_sent` is on.
    pub fn respond(&mut self, _now: Now, id: &str, payload: Value) -> Result<(), RespondError<A>> {
        let Some(action) = self.incoming.remove(id) else {
            return Err(RespondError::UnknownCall(id.to_owned()));
        };
        if self.config.validate_sent {
            self.check_response(id, action, &payload)?;
        }
        let text = self.result_text(id, action, Frame::call_result_text(id, &payload))?;
        self.outputs.push_back(Output::Transmit(text));
        Ok(())
    }

    /// Answers the peer's held CALL `id` with a typed response; see [`Endpoint::respond`].
    pub fn respond_with<T: OcppResponse<Action = A>>(
        &mut self,
        now: Now,
        id: &str,
        response: &T,
    ) -> Result<(), RespondError<A>> {
        match serde_json::to_value(response) {
            Ok(payload) => self.respond(now, id, payload),
            Err(e) => {
                // A generated type always serialises; treat the impossible like an invalid
                // response so the peer still gets an answer.
                self.respond_error(now, id, ErrorCode::InternalError, "", None)?;
                Err(RespondError::InvalidPayload {
                    action: T::TYPED_ACTION,
                    description: e.to_string(),
                })
            }
        }
    }

    /// [`Endpoint::answer_valid`] for a held CALL `id`: the CALLRESULT is queued.
    pub fn respond_valid(
        &mut self,
        _now: Now,
        id: &str,
        payload: &impl serde::Serialize,
    ) -> Result<(), RespondError<A>> {
        let Some(action) = self.incoming.remove(id) else {
            return Err(RespondError::UnknownCall(id.to_owned()));
        };
        if cfg!(debug_assertions) && self.config.validate_sent {
            let value = serde_json::to_value(payload).unwrap_or(Value::Null);
            self.check_response(id, action, &value)?;
        }
        let text = self.result_text(id, action, Frame::call_result_text(id, payload))?;
        self.outputs.push_back(Output::Transmit(text));
        Ok(())
    }

    /// Answers the peer's held CALL `id` with a CALLERROR. The description is cut to 255
    /// characters; `code` is spelled as the connection's version spells it.
    pub fn respond_error(
        &mut self,
        _now: Now,
        id: &str,
        code: ErrorCode,
        description: impl Into<String>,
        details: Option<Map<String, Value>>,
    ) -> Result<(), RespondError<A>> {
        if self.incoming.remove(id).is_none() {
            return Err(RespondError::UnknownCall(id.to_owned()));
        }
        self.send_error(id, code, description.into(), details);
        Ok(())
    }

    /// Checks a response against its schema; if it fails, answers the CALL `id` with an
    /// InternalError instead.
    fn check_response(
        &mut self,
        id: &str,
        action: A,
        payload: &Value,
    ) -> Result<(), RespondError<A>> {
        let Err(e) =
            validate::validate_index(A::VERSION, action.index(), PayloadKind::Response, payload)
        else {
            return Ok(());
        };
        self.send_error(
            id,
            ErrorCode::InternalError,
            format!("the response to {action} could not be built"),
            None,
        );
        Err(RespondError::InvalidPayload {
            action,
            description: e.description(),
        })
    }

    /// The CALLRESULT `text` answering the CALL `id` of `action` if it is within the size
    /// limit; otherwise an InternalError is sent instead.
    fn result_text(
        &mut self,
        id: &str,
        action: A,
        text: String,
    ) -> Result<String, RespondError<A>> {
        if text.len() > self.config.max_message_size {
            self.send_error(
                id,
                ErrorCode::InternalError,
                format!("the response to {action} exceeds the message size limit"),
                None,
            );
            return Err(RespondError::TooLarge {
                action,
                size: text.len(),
                limit: self.config.max_message_size,
            });
        }
        Ok(text)
    }

    /// The checks of a CALL before it is handed over (section 4.1.3 and 4.2: unknown or
    /// unsupported action, duplicate or concurrent call, schema); a refused CALL is answered
    /// and reported here.
    fn check_call<'t>(
        &mut self,
        id: Cow<'t, str>,
        name: &str,
        payload: Value,
    ) -> Option<ReceivedCall<'t, A>> {
        let refusal = match A::from_name(name) {
            None => Some((
                PeerError::UnknownAction {
                    id: id.to_string(),
                    action: name.to_owned(),
                },
                (
                    ErrorCode::NotImplemented,
                    format!("unknown action {name:?}"),
                    None,
                ),
            )),
            Some(action) => match self.refusal(&id, action, &payload) {
                None => {
                    return Some(ReceivedCall {
                        id,
                        action,
                        payload,
                    });
                }
                refusal => refusal,
            },
        };
        if let Some((error, (code, description, details))) = refusal {
            self.send_error(&id, code, description, details);
            self.report(error, Some(code.for_version(A::VERSION)));
        }
        None
    }

    /// Why a CALL of a known `action` is refused, with the CALLERROR it gets; `None` if it
    /// is accepted.
    fn refusal(&self, id: &str, action: A, payload: &Value) -> Option<(PeerError<A>, Rejection)> {
        if !self.config.accepted_actions.contains(action) {
            Some((
                PeerError::UnsupportedAction {
                    id: id.to_owned(),
                    action,
                },
                (
                    ErrorCode::NotSupported,
                    format!("{action} is not supported"),
                    None,
                ),
            ))
        } else if self.incoming.contains(id) {
            Some((
                PeerError::DuplicateId { id: id.to_owned() },
                (
                    rpc_rule_code(A::VERSION),
                    format!("a call with id {id:?} is being handled already"),
                    None,
                ),
            ))
        } else if self.config.concurrent_calls == ConcurrentCalls::Refuse
            && !self.incoming.is_empty()
        {
            Some((
                PeerError::ConcurrentCall { id: id.to_owned() },
                (
                    rpc_rule_code(A::VERSION),
                    "a previous call has not been answered yet".to_owned(),
                    None,
                ),
            ))
        } else if self.config.validate_received {
            validate::validate_index(A::VERSION, action.index(), PayloadKind::Request, payload)
                .err()
                .map(|e| {
                    (
                        PeerError::InvalidPayload {
                            id: id.to_owned(),
                            action,
                            description: e.description(),
                        },
                        rejection(&e),
                    )
                })
        } else {
            None
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
                match validate::validate_index(
                    A::VERSION,
                    call.action.index(),
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
        let version = A::VERSION;
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
                let code = ErrorCode::FormatViolation.for_version(A::VERSION);
                self.report(PeerError::Frame(error), Some(code));
            }
            _ => self.handle_bad_frame(now, error),
        }
    }

    /// The text of a CALLERROR answering the CALL `id`.
    fn error_text(
        &self,
        id: &str,
        code: ErrorCode,
        description: String,
        details: Option<Map<String, Value>>,
    ) -> String {
        Frame::CallError(CallError::new(A::VERSION, id, code, description, details)).to_text()
    }

    fn send_error(
        &mut self,
        id: &str,
        code: ErrorCode,
        description: String,
        details: Option<Map<String, Value>>,
    ) {
        let text = self.error_text(id, code, description, details);
        self.outputs.push_back(Output::Transmit(text));
    }

    fn report(&mut self, error: PeerError<A>, answered: Option<ErrorCode>) {
        self.outputs
            .push_back(Output::Event(RpcEvent::PeerError { error, answered }));
    }

    fn complete(&mut self, call: Outgoing<A>, outcome: Result<Value, CallFailure>) {
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

/// The code for a breach of the RPC rules themselves (a duplicate or concurrent CALL): 2.0.1
/// has `RpcFrameworkError` ("not a valid RPC request"); 1.6 has no code for it, so
/// `GenericError` ("any other error").
fn rpc_rule_code(version: Version) -> ErrorCode {
    match version {
        Version::V16 => ErrorCode::GenericError,
        Version::V201 => ErrorCode::RpcFrameworkError,
    }
}

/// The CALLERROR code, description and details that answer a refused CALL.
type Rejection = (ErrorCode, String, Option<Map<String, Value>>);

/// The CALLERROR code, description and details for a payload that failed validation.
fn rejection(error: &ValidationError) -> Rejection {
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
        use v16::Action::{Authorize, Heartbeat, MeterValues, StatusNotification};
        let mut incoming = Incoming::default();
        incoming.insert("a".into(), Heartbeat);
        incoming.insert("b".into(), Authorize);
        incoming.insert("c".into(), MeterValues);
        assert!(["a", "b", "c"].iter().all(|id| incoming.contains(id)));
        assert_eq!(
            format!("{incoming:?}"),
            r#"{"a": Heartbeat, "b": Authorize, "c": MeterValues}"#
        );
        assert_eq!(incoming.remove("a"), Some(Heartbeat));
        assert!(!incoming.contains("a"));
        // The inline slot is free again and takes the next call.
        incoming.insert("d".into(), StatusNotification);
        assert_eq!(incoming.remove("c"), Some(MeterValues));
        assert_eq!(incoming.remove("c"), None);
        assert_eq!(incoming.remove("b"), Some(Authorize));
        assert!(!incoming.is_empty());
        assert_eq!(incoming.remove("d"), Some(StatusNotification));
        assert!(incoming.is_empty());
        incoming.insert("e".into(), Heartbeat);
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
