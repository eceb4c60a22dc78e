//! The OCPP 1.6 Central System state machine of one connected Charge Point.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::thread::LocalKey;
use std::time::Duration;

use time::OffsetDateTime;

use super::outcome::CallCompleted;
use super::policy::CentralSystemPolicy;
use crate::ErrorCode;
use crate::machine::{Machine, Output, Outputs, Spare, remove_releasing};
use crate::message::{OcppRequest, Side};
use crate::primitives::datetime;
use crate::rpc::{
    AcceptedActions, CallFailure, CallHandle, CallRefused, Endpoint, EndpointConfig, Frame,
    IdGenerator, PeerError, ReceivedCall, RespondError, RpcEvent, push_json_string,
};
use crate::time::{Monotonic, Now};
use crate::v16::{
    Action, AuthorizationStatus, AuthorizeResponse, BootNotificationRequest,
    BootNotificationResponse, DataTransferResponse, DataTransferStatus,
    DiagnosticsStatusNotificationResponse, FirmwareStatusNotificationResponse,
    GenericStatusEnumType, HeartbeatResponse, IdTagInfo, LogStatusNotificationResponse,
    MessageTrigger, MessageTriggerEnumType, MeterValuesResponse, RegistrationStatus, Request,
    Response, SecurityEventNotificationResponse, Sender, SignCertificateResponse,
    SignedFirmwareStatusNotificationResponse, StartTransactionResponse, StatusNotificationRequest,
    StatusNotificationResponse, StopTransactionResponse, TriggerMessageStatus,
    TriggerMessageStatusEnumType,
};

/// Settings of one [`CentralSystem`] machine.
#[derive(Debug, Clone)]
pub struct CentralSystemConfig {
    /// The Charge Point's identity, as the server read it from the connection URL.
    pub charge_point_id: String,
    /// Which requests are answered automatically, and how.
    pub policy: CentralSystemPolicy,
    /// Settings of the RPC layer, of OCPP 1.6 by its type. Its accepted actions are set by
    /// the machine: the Charge Point's actions and DataTransfer.
    pub rpc: EndpointConfig<Action>,
    /// The registration the Charge Point starts the connection with. A Charge Point sends a
    /// BootNotification only when it boots (1.6 section 4.2), not when it merely reconnects,
    /// so a server that remembers having accepted this Charge Point passes
    /// [`Registration::Accepted`] here; the default [`Registration::Unknown`] refuses
    /// everything but a BootNotification.
    pub registration: Registration,
}

impl CentralSystemConfig {
    /// The default policy and RPC settings for the Charge Point `charge_point_id`, whose
    /// registration is unknown.
    pub fn new(charge_point_id: impl Into<String>) -> CentralSystemConfig {
        CentralSystemConfig {
            charge_point_id: charge_point_id.into(),
            policy: CentralSystemPolicy::default(),
            rpc: EndpointConfig::new(),
            registration: Registration::Unknown,
        }
    }
}

/// Where the Charge Point stands with this Central System (1.6 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// No BootNotification answered on this connection, and none known from before.
    Unknown,
    /// Accepted: everything may be sent both ways.
    Accepted,
    /// Pending: the Central System may configure the Charge Point (but not start or stop
    /// transactions remotely); the Charge Point sends only what a TriggerMessage asks for.
    Pending,
    /// Rejected: the Charge Point sends nothing until its retry interval has passed, and
    /// the Central System should not send anything.
    Rejected,
}

impl From<RegistrationStatus> for Registration {
    fn from(status: RegistrationStatus) -> Registration {
        match status {
            RegistrationStatus::Accepted => Registration::Accepted,
            RegistrationStatus::Pending => Registration::Pending,
            RegistrationStatus::Rejected => Registration::Rejected,
        }
    }
}

/// A request of the Charge Point that waits for the application's answer; pass it to
/// [`CentralSystem::reply`] or [`CentralSystem::reply_error`].
#[must_use = "the Charge Point waits for the answer to this request"]
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decision {
    /// Which connection of the machine the request came on: an answer for an earlier
    /// connection reaches nobody.
    pub(super) connection: u64,
    /// The message id of the CALL.
    pub(super) id: String,
    pub(super) action: Action,
}

impl Decision {
    /// The action of the request to answer.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The message id of the Charge Point's CALL (for logs).
    pub fn message_id(&self) -> &str {
        &self.id
    }
}

/// How a request of the Charge Point is being answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The machine answered it automatically with this response (see
    /// [`CentralSystemPolicy`]).
    Sent(Response),
    /// The application must answer it with [`CentralSystem::reply`]. The Charge Point waits
    /// for the answer until its call timeout; transaction messages it will send again.
    Decide(Decision),
}

/// What the machine tells the application.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The WebSocket connection is open.
    Connected {
        /// The Charge Point's identity.
        charge_point_id: String,
    },
    /// The WebSocket connection closed. The calls that were in flight or queued have failed
    /// with [`CallFailure::Disconnected`] (reported just before this event) and the
    /// decisions not answered yet are void.
    Disconnected,
    /// The Charge Point sent a request, and was allowed to.
    Request {
        /// The request, decoded. Boxed: every output of the machine is as large as its
        /// largest event, and requests are the largest.
        request: Box<Request>,
        /// The answer sent, or the decision to make.
        answer: Answer,
    },
    /// A BootNotification was answered (automatically or by [`CentralSystem::reply`]) and
    /// the registration is now `status`.
    Registered {
        /// The status sent.
        status: RegistrationStatus,
        /// The interval sent.
        interval: Duration,
        /// The Charge Point was accepted already: it has rebooted.
        rebooted: bool,
    },
    /// The Charge Point sent a request before being accepted; it was answered with CallError
    /// `SecurityError` (OCPP-J 1.6 errata 3.10).
    NotAccepted {
        /// The request (boxed, as in [`Event::Request`]).
        request: Box<Request>,
        /// The registration at that moment.
        registration: Registration,
    },
    /// A call of [`CentralSystem::call`] ended.
    CallCompleted(CallCompleted),
    /// The Charge Point sent something wrong; it was answered (or dropped) as the spec
    /// requires.
    PeerError {
        /// What was wrong.
        error: PeerError<Action>,
        /// The CallError code sent back, if any.
        answered: Option<ErrorCode>,
    },
}

/// Why a command of the application was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CentralSystemError {
    /// The Charge Point is not connected.
    #[error("the charge point is not connected")]
    Offline,
    /// The action is one only the Charge Point sends (1.6 chapter 4).
    #[error("{0} is sent by the charge point, not the central system")]
    ChargePointAction(Action),
    /// The registration forbids this call: nothing while Rejected (section 4.2: the Central
    /// System SHOULD NOT initiate any message), and no RemoteStartTransaction or
    /// RemoteStopTransaction before acceptance ("not allowed" while pending).
    #[error("{action} is not allowed while the registration is {registration:?}")]
    NotAccepted {
        /// The action refused.
        action: Action,
        /// The registration.
        registration: Registration,
    },
    /// The RPC layer refused the call, e.g. a payload that breaks its schema.
    #[error(transparent)]
    Refused(#[from] CallRefused<Action>),
    /// No request waits for this decision: it was answered already, or its connection closed.
    #[error("no request waits for decision {0:?}")]
    UnknownDecision(Decision),
    /// The reply is of another action than the request.
    #[error("a {reply} reply cannot answer a {request} request")]
    WrongReply {
        /// The action of the request.
        request: Action,
        /// The action of the reply.
        reply: Action,
    },
    /// The reply breaks its schema (or the message size limit); the Charge Point was sent a
    /// CallError `InternalError` instead, so it is not left waiting.
    #[error("invalid {action} reply: {description}")]
    InvalidReply {
        /// The action.
        action: Action,
        /// What is wrong.
        description: String,
    },
}

thread_local! {
    /// The output queue buffer the Central System machines of a thread lend each other.
    static SPARE_OUTPUTS: Cell<VecDeque<Output<Event>>> = const { Cell::new(VecDeque::new()) };
}

impl Spare for Output<Event> {
    fn spare() -> &'static LocalKey<Cell<VecDeque<Output<Event>>>> {
        &SPARE_OUTPUTS
    }
}

/// An outgoing call, remembered until it completes.
#[derive(Debug)]
struct Sent {
    action: Action,
    /// For TriggerMessage / ExtendedTriggerMessage: the action asked for.
    trigger: Option<Action>,
}

/// The OCPP 1.6 Central System state machine of one Charge Point connection. Drive it
/// through [`Machine`]; see the [module docs](super) for the application's obligations.
pub struct CentralSystem {
    config: CentralSystemConfig,
    endpoint: Endpoint<Action>,
    connected: bool,
    /// Incremented on every connection; part of every [`Decision`].
    connection: u64,
    registration: Registration,
    boot: Option<Box<BootNotificationRequest>>,
    last_heartbeat: Option<OffsetDateTime>,
    last_message: Option<OffsetDateTime>,
    connectors: BTreeMap<i32, StatusNotificationRequest>,
    next_transaction_id: i32,
    /// Actions a TriggerMessage asked for while the Charge Point is not accepted: section 4.2
    /// lets a pending Charge Point send what it was asked for.
    triggered: BTreeSet<Action>,
    calls: BTreeMap<CallHandle, Sent>,
    decisions: BTreeMap<(u64, String), Action>,
    outputs: Outputs<Output<Event>>,
}

impl std::fmt::Debug for CentralSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralSystem")
            .field("charge_point_id", &self.config.charge_point_id)
            .field("connected", &self.connected)
            .field("registration", &self.registration)
            .field("connectors", &self.connectors)
            .finish_non_exhaustive()
    }
}

impl CentralSystem {
    /// A machine for one Charge Point, not connected yet, taking CALL ids from `ids`.
    pub fn new(config: CentralSystemConfig, ids: Box<dyn IdGenerator>) -> CentralSystem {
        let mut rpc = config.rpc.clone();
        // Every action but the Central System's own: those are answered NotSupported.
        rpc.accepted_actions = AcceptedActions::sent_by(Side::Station);
        CentralSystem {
            endpoint: Endpoint::new(rpc, ids),
            connected: false,
            connection: 0,
            registration: config.registration,
            boot: None,
            last_heartbeat: None,
            last_message: None,
            connectors: BTreeMap::new(),
            next_transaction_id: config.policy.first_transaction_id,
            triggered: BTreeSet::new(),
            calls: BTreeMap::new(),
            decisions: BTreeMap::new(),
            outputs: Outputs::new(),
            config,
        }
    }

    /// The Charge Point's identity.
    pub fn charge_point_id(&self) -> &str {
        &self.config.charge_point_id
    }

    /// Whether the Charge Point is connected.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Where the Charge Point stands.
    pub fn registration(&self) -> Registration {
        self.registration
    }

    /// What the Charge Point said about itself in its last BootNotification, if any (and
    /// if the policy keeps reports, [`CentralSystemPolicy::keep_reports`]).
    pub fn boot_notification(&self) -> Option<&BootNotificationRequest> {
        self.boot.as_deref()
    }

    /// When (the caller's wall clock) the last Heartbeat came.
    pub fn last_heartbeat(&self) -> Option<OffsetDateTime> {
        self.last_heartbeat
    }

    /// When (the caller's wall clock) the last message of any kind came. Section 4.6: the
    /// Central System should take any message as a sign of life, as a heartbeat.
    pub fn last_message(&self) -> Option<OffsetDateTime> {
        self.last_message
    }

    /// The last StatusNotification of each connector (0 is the Charge Point as a whole),
    /// by connector id (empty if the policy keeps no reports,
    /// [`CentralSystemPolicy::keep_reports`]).
    pub fn connector_statuses(&self) -> &BTreeMap<i32, StatusNotificationRequest> {
        &self.connectors
    }

    /// The last StatusNotification of `connector`.
    pub fn connector_status(&self, connector: i32) -> Option<&StatusNotificationRequest> {
        self.connectors.get(&connector)
    }

    /// Calls made and not completed: the one in flight plus those queued behind it (one call
    /// in flight at a time, OCPP-J 1.6 section 4.1.1).
    pub fn pending_calls(&self) -> usize {
        self.endpoint.pending_calls()
    }

    /// Whether a call is waiting for the Charge Point's answer.
    pub fn call_in_flight(&self) -> bool {
        self.endpoint.pending_calls() > 0
    }

    /// Requests of the Charge Point waiting for the application's answer.
    pub fn open_decisions(&self) -> usize {
        self.decisions.len()
    }

    /// Sends a Central System request of 1.6 or of the security white paper to the Charge
    /// Point. It goes out when no other call is in flight; the answer comes as
    /// [`Event::CallCompleted`], whose [`CallCompleted::response`] gives `R::Response`.
    ///
    /// Refused when `R` is an action only the Charge Point sends, when the Charge Point is
    /// not connected, while it is Rejected, for RemoteStartTransaction and
    /// RemoteStopTransaction before it is Accepted, and when the payload breaks its schema.
    /// A request of another OCPP version does not compile.
    pub fn call<R: OcppRequest<Action = Action>>(
        &mut self,
        now: Now,
        request: &R,
    ) -> Result<CallHandle, CentralSystemError> {
        self.call_request(now, &request.clone().into_request())
    }

    /// [`CentralSystem::call`] for a request held as the [`Request`] enum (what a recorded
    /// trace replays): the same checks, the same outcome.
    pub fn call_request(
        &mut self,
        now: Now,
        request: &Request,
    ) -> Result<CallHandle, CentralSystemError> {
        let trigger = match request {
            Request::TriggerMessage(r) => Some(triggered_action(r.requested_message)),
            Request::ExtendedTriggerMessage(r) => {
                Some(extended_triggered_action(r.requested_message))
            }
            _ => None,
        };
        self.call_action(now, request.action(), trigger, request.to_payload())
    }

    fn call_action(
        &mut self,
        now: Now,
        action: Action,
        trigger: Option<Action>,
        payload: serde_json::Value,
    ) -> Result<CallHandle, CentralSystemError> {
        if action.sender() == Sender::ChargePoint {
            return Err(CentralSystemError::ChargePointAction(action));
        }
        if !self.connected {
            return Err(CentralSystemError::Offline);
        }
        let remote_transaction = matches!(
            action,
            Action::RemoteStartTransaction | Action::RemoteStopTransaction
        );
        if self.registration == Registration::Rejected
            || (remote_transaction && self.registration != Registration::Accepted)
        {
            return Err(CentralSystemError::NotAccepted {
                action,
                registration: self.registration,
            });
        }
        let handle = self.endpoint.call(now, action, payload)?;
        self.calls.insert(handle, Sent { action, trigger });
        self.drain_endpoint();
        Ok(handle)
    }

    /// Answers a request the application was asked to decide, with the response of its
    /// action: `cs.reply(now, decision, AuthorizeResponse { .. })`.
    ///
    /// A BootNotification answer sets the registration to its status.
    pub fn reply(
        &mut self,
        now: Now,
        decision: Decision,
        response: impl Into<Response>,
    ) -> Result<(), CentralSystemError> {
        let response = response.into();
        let key = (decision.connection, decision.id.clone());
        let Some(action) = self.decisions.get(&key).copied() else {
            return Err(CentralSystemError::UnknownDecision(decision));
        };
        if response.action() != action {
            return Err(CentralSystemError::WrongReply {
                request: action,
                reply: response.action(),
            });
        }
        remove_releasing(&mut self.decisions, &key);
        let sent = self
            .endpoint
            .respond(now, &decision.id, response.to_payload());
        self.drain_endpoint();
        match sent {
            Ok(()) => {
                if let Some(event) = self.answered(&response) {
                    self.outputs.push_back(Output::Event(event));
                }
                Ok(())
            }
            Err(RespondError::UnknownCall(_)) => Err(CentralSystemError::UnknownDecision(decision)),
            Err(error @ (RespondError::InvalidPayload { .. } | RespondError::TooLarge { .. })) => {
                Err(CentralSystemError::InvalidReply {
                    action,
                    description: error.to_string(),
                })
            }
        }
    }

    /// Answers a request the application was asked to decide with a CallError, e.g.
    /// `InternalError` when the application's backend is down. The description is cut to 255
    /// characters.
    pub fn reply_error(
        &mut self,
        now: Now,
        decision: Decision,
        code: ErrorCode,
        description: impl Into<String>,
    ) -> Result<(), CentralSystemError> {
        let key = (decision.connection, decision.id.clone());
        if remove_releasing(&mut self.decisions, &key).is_none() {
            return Err(CentralSystemError::UnknownDecision(decision));
        }
        let sent = self
            .endpoint
            .respond_error(now, &decision.id, code, description, None);
        self.drain_endpoint();
        sent.map_err(|_| CentralSystemError::UnknownDecision(decision))
    }

    /// Moves the endpoint's outputs into the machine's, acting on its events.
    fn drain_endpoint(&mut self) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit(text) => self.outputs.push_back(Output::Transmit(text)),
                Output::Event(event) => self.on_rpc_event(event),
                // The endpoint persists nothing and never closes; forwarded all the same.
                Output::Persist(op) => self.outputs.push_back(Output::Persist(op)),
                Output::Close(close) => self.outputs.push_back(Output::Close(close)),
            }
        }
    }

    fn on_rpc_event(&mut self, event: RpcEvent<Action>) {
        match event {
            // Only a bare endpoint driven as a machine reports calls; this one returns them
            // from `handle_message` (see `Machine::handle_message` below).
            RpcEvent::Call(_) => {}
            RpcEvent::Completed {
                handle, outcome, ..
            } => {
                let Some(sent) = remove_releasing(&mut self.calls, &handle) else {
                    return;
                };
                let outcome = outcome.and_then(|payload| {
                    Response::from_payload(sent.action, payload).map_err(|e| {
                        // Schema-valid but beyond what the types hold (an integer over 32
                        // bits): as unusable as an invalid answer.
                        CallFailure::InvalidResponse {
                            code: ErrorCode::PropertyConstraintViolation,
                            description: e.to_string(),
                        }
                    })
                });
                if let (Some(trigger), Ok(response)) = (sent.trigger, &outcome) {
                    let accepted = match response {
                        Response::TriggerMessage(r) => r.status == TriggerMessageStatus::Accepted,
                        Response::ExtendedTriggerMessage(r) => {
                            r.status == TriggerMessageStatusEnumType::Accepted
                        }
                        _ => false,
                    };
                    if accepted && self.registration != Registration::Accepted {
                        self.triggered.insert(trigger);
                    }
                }
                self.outputs
                    .push_back(Output::Event(Event::CallCompleted(CallCompleted {
                        handle,
                        action: sent.action,
                        outcome,
                    })));
            }
            RpcEvent::PeerError { error, answered } => {
                self.outputs
                    .push_back(Output::Event(Event::PeerError { error, answered }));
            }
        }
    }

    /// A call of the Charge Point the endpoint accepted: answered here at once, or held for
    /// the application's decision.
    fn on_call(&mut self, now: Now, mut call: ReceivedCall<'_, Action>) {
        let action = call.action();
        let request = match Request::from_payload(action, call.take_payload()) {
            Ok(request) => request,
            Err(e) => {
                // Schema-valid (the endpoint checked, if configured to) yet not decodable.
                let id = call.id().to_owned();
                let description = e.to_string();
                let code = ErrorCode::PropertyConstraintViolation;
                let text = self
                    .endpoint
                    .answer_error(now, call, code, description.clone(), None);
                self.outputs.push_back(Output::Event(Event::PeerError {
                    error: PeerError::InvalidPayload {
                        id,
                        action,
                        description,
                    },
                    answered: Some(code),
                }));
                self.outputs.push_back(Output::Transmit(text));
                return;
            }
        };
        // OCPP-J 1.6 errata 3.10 (new section 5.6): CALLs other than BootNotification before
        // acceptance get SecurityError; section 4.2 lets a pending Charge Point send what a
        // TriggerMessage asked for.
        let allowed = action == Action::BootNotification
            || self.registration == Registration::Accepted
            || (self.registration == Registration::Pending && self.triggered.contains(&action));
        if !allowed {
            let text = self.endpoint.answer_error(
                now,
                call,
                ErrorCode::SecurityError,
                "the charge point is not accepted",
                None,
            );
            self.outputs.push_back(Output::Event(Event::NotAccepted {
                request: Box::new(request),
                registration: self.registration,
            }));
            self.outputs.push_back(Output::Transmit(text));
            return;
        }
        let keep = self.config.policy.keep_reports;
        match &request {
            Request::BootNotification(boot) if keep => self.boot = Some(Box::new(boot.clone())),
            Request::Heartbeat(_) => self.last_heartbeat = Some(now.wall),
            Request::StatusNotification(status) if keep => {
                self.connectors.insert(status.connector_id, status.clone());
            }
            _ => {}
        }
        let automatic = if self.config.policy.is_automatic(action) {
            self.automatic_answer(now, &request)
        } else {
            None
        };
        let (answer, text) = if let Some(response) = automatic {
            // Built here from values the machine controls, all within their schemas (an
            // interval is capped, a counter is an i32): valid by construction, which every
            // test checks (debug builds validate it). Answered without holding the call: it
            // is answered before anything else can happen.
            match self
                .endpoint
                .answer_valid_with(now, call, &response, result_text)
            {
                Ok(text) => (Answer::Sent(response), Some(text)),
                // The endpoint queued InternalError instead.
                Err(_) => return,
            }
        } else {
            let decision = Decision {
                connection: self.connection,
                id: self.endpoint.hold(call).id,
                action,
            };
            self.decisions
                .insert((decision.connection, decision.id.clone()), action);
            (Answer::Decide(decision), None)
        };
        // Worked out before the request's event takes the response, reported after it.
        let registered = match &answer {
            Answer::Sent(response) => self.answered(response),
            Answer::Decide(_) => None,
        };
        self.outputs.push_back(Output::Event(Event::Request {
            request: Box::new(request),
            answer,
        }));
        if let Some(event) = registered {
            self.outputs.push_back(Output::Event(event));
        }
        // After the events, where the endpoint's queue used to put it.
        if let Some(text) = text {
            self.outputs.push_back(Output::Transmit(text));
        }
    }

    /// The built-in answer to a request of the Charge Point (see [`CentralSystemPolicy`]).
    /// `None` for the Central System's own actions, which never arrive (the endpoint accepts
    /// only the Charge Point's, see `new`).
    fn automatic_answer(&mut self, now: Now, request: &Request) -> Option<Response> {
        let accepted = || IdTagInfo {
            expiry_date: None,
            parent_id_tag: None,
            status: AuthorizationStatus::Accepted,
        };
        Some(match request {
            Request::BootNotification(_) => {
                let boot = self.config.policy.boot;
                BootNotificationResponse {
                    status: boot.status,
                    current_time: now.wall,
                    interval: i32::try_from(boot.interval.as_secs()).unwrap_or(i32::MAX),
                }
                .into()
            }
            Request::Heartbeat(_) => HeartbeatResponse {
                current_time: now.wall,
            }
            .into(),
            Request::Authorize(_) => AuthorizeResponse {
                id_tag_info: accepted(),
            }
            .into(),
            Request::StartTransaction(_) => {
                let transaction_id = self.next_transaction_id;
                self.next_transaction_id = self.next_transaction_id.wrapping_add(1);
                StartTransactionResponse {
                    id_tag_info: accepted(),
                    transaction_id,
                }
                .into()
            }
            Request::StopTransaction(stop) => StopTransactionResponse {
                id_tag_info: stop.id_tag.as_ref().map(|_| accepted()),
            }
            .into(),
            Request::DataTransfer(_) => DataTransferResponse {
                status: DataTransferStatus::UnknownVendorId,
                data: None,
            }
            .into(),
            Request::SignCertificate(_) => SignCertificateResponse {
                status: GenericStatusEnumType::Rejected,
            }
            .into(),
            Request::StatusNotification(_) => StatusNotificationResponse::default().into(),
            Request::MeterValues(_) => MeterValuesResponse::default().into(),
            Request::DiagnosticsStatusNotification(_) => {
                DiagnosticsStatusNotificationResponse::default().into()
            }
            Request::FirmwareStatusNotification(_) => {
                FirmwareStatusNotificationResponse::default().into()
            }
            Request::LogStatusNotification(_) => LogStatusNotificationResponse::default().into(),
            Request::SecurityEventNotification(_) => {
                SecurityEventNotificationResponse::default().into()
            }
            Request::SignedFirmwareStatusNotification(_) => {
                SignedFirmwareStatusNotificationResponse::default().into()
            }
            _ => return None,
        })
    }

    /// The effects of an answer once it is on its way; the event that reports them, which
    /// follows the request's.
    fn answered(&mut self, response: &Response) -> Option<Event> {
        let Response::BootNotification(boot) = response else {
            return None;
        };
        let rebooted = self.registration == Registration::Accepted;
        self.registration = boot.status.into();
        // A trigger is an allowance of the registration it was given in.
        self.triggered.clear();
        Some(Event::Registered {
            status: boot.status,
            interval: Duration::from_secs(u64::try_from(boot.interval).unwrap_or(0)),
            rebooted,
        })
    }
}

/// The CALLRESULT of an automatic answer, the text [`Frame::call_result_text`] writes. A
/// Heartbeat's, `[3,"<id>",{"currentTime":"<date-time>"}]`, the answer to the message every
/// Charge Point sends all the time, is written by hand without serde's machinery (a test
/// holds it to serde_json's text byte for byte).
fn result_text(id: &str, response: &Response) -> String {
    const HEAD: &str = "[3,";
    const MEMBER: &str = r#",{"currentTime":""#;
    const TAIL: &str = r#""}]"#;
    /// `YYYY-MM-DDThh:mm:ss.mmmZ`, the longest date-time written.
    const TIME: usize = 24;
    if let Response::Heartbeat(heartbeat) = response {
        // Room for all of it (a quoted id without escapes), so the text never regrows.
        let length = HEAD.len() + id.len() + 2 + MEMBER.len() + TIME + TAIL.len();
        let mut text = String::with_capacity(length);
        text.push_str(HEAD);
        push_json_string(&mut text, id);
        text.push_str(MEMBER);
        if datetime::push(&mut text, heartbeat.current_time) {
            text.push_str(TAIL);
            return text;
        }
    }
    Frame::call_result_text(id, response)
}

fn triggered_action(trigger: MessageTrigger) -> Action {
    match trigger {
        MessageTrigger::BootNotification => Action::BootNotification,
        MessageTrigger::DiagnosticsStatusNotification => Action::DiagnosticsStatusNotification,
        MessageTrigger::FirmwareStatusNotification => Action::FirmwareStatusNotification,
        MessageTrigger::Heartbeat => Action::Heartbeat,
        MessageTrigger::MeterValues => Action::MeterValues,
        MessageTrigger::StatusNotification => Action::StatusNotification,
    }
}

fn extended_triggered_action(trigger: MessageTriggerEnumType) -> Action {
    match trigger {
        MessageTriggerEnumType::BootNotification => Action::BootNotification,
        MessageTriggerEnumType::LogStatusNotification => Action::LogStatusNotification,
        MessageTriggerEnumType::FirmwareStatusNotification => {
            Action::SignedFirmwareStatusNotification
        }
        MessageTriggerEnumType::Heartbeat => Action::Heartbeat,
        MessageTriggerEnumType::MeterValues => Action::MeterValues,
        MessageTriggerEnumType::SignChargePointCertificate => Action::SignCertificate,
        MessageTriggerEnumType::StatusNotification => Action::StatusNotification,
    }
}

impl Machine for CentralSystem {
    type Event = Event;

    fn handle_connected(&mut self, now: Now) {
        self.connected = true;
        self.connection += 1;
        self.endpoint.handle_connected(now);
        self.outputs.push_back(Output::Event(Event::Connected {
            charge_point_id: self.config.charge_point_id.clone(),
        }));
        self.drain_endpoint();
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.connected = false;
        self.decisions.clear();
        self.triggered.clear();
        self.endpoint.handle_disconnected(now);
        self.drain_endpoint();
        self.outputs.push_back(Output::Event(Event::Disconnected));
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        self.last_message = Some(now.wall);
        // The endpoint returns an accepted call, with nothing else queued; the machine
        // answers it at once or holds it (`on_call`). What else the message caused (an
        // answer to a call of ours, a CALLERROR to the peer) is in the endpoint's queue.
        if let Some(call) = self.endpoint.handle_message(now, text) {
            self.on_call(now, call);
        }
        self.drain_endpoint();
    }

    fn handle_timeout(&mut self, now: Now) {
        self.endpoint.handle_timeout(now);
        self.drain_endpoint();
    }

    fn poll_output(&mut self) -> Option<Output<Event>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.endpoint.poll_timeout()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::CounterIds;

    /// OCPP-J 1.6 section 4.2.2 / 1.6 section 6.31: the hand-written Heartbeat CALLRESULT
    /// is serde_json's text, for plain and escaped ids, times with and without a fraction,
    /// in other offsets, and at the ends of the years written by hand (beyond them serde
    /// writes it).
    #[test]
    fn the_heartbeat_answer_is_written_as_serde_json_writes_it() {
        use time::macros::datetime;
        let times = [
            datetime!(2026-11-21 10:00:00.123 UTC),
            datetime!(2026-11-21 10:00:00 UTC),
            datetime!(2026-11-21 10:00:00.000_999 UTC),
            datetime!(2024-02-29 23:59:59.999_999_999 +02:30),
            datetime!(0000-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.5 UTC),
            datetime!(-0001-12-31 00:00:00 UTC),
        ];
        let ids = [
            "h1",
            "",
            "a\"b",
            "back\\slash",
            "tab\t",
            "\u{1}",
            "é",
            &"x".repeat(36),
        ];
        for time in times {
            for id in ids {
                let response = Response::Heartbeat(HeartbeatResponse { current_time: time });
                let text = result_text(id, &response);
                assert_eq!(
                    text,
                    Frame::call_result_text(id, &response),
                    "{id:?} {time}"
                );
                // Written into the room reserved for it, for every id without escapes (and
                // every year written by hand).
                let plain =
                    !id.contains(['"', '\\', '\t', '\u{1}']) && (0..=9999).contains(&time.year());
                assert!(!plain || text.capacity() - text.len() <= 4, "{text}");
            }
        }
        let other = Response::from(MeterValuesResponse::default());
        assert_eq!(result_text("1", &other), r#"[3,"1",{}]"#);
    }

    /// The endpoint answers a CALL of an action the role does not take NotSupported (OCPP-J
    /// 1.6 section 4.1.3): the machine takes every action the Charge Point sends (chapter 4,
    /// the security white paper's and DataTransfer) and none only the Central System sends.
    #[test]
    fn the_accepted_actions_are_those_the_charge_point_sends() {
        let cs = CentralSystem::new(
            CentralSystemConfig::new("CP-1"),
            Box::new(CounterIds::default()),
        );
        let accepted = cs.endpoint.config().accepted_actions;
        for action in Action::ALL {
            let sent_by_cp = action.sender() != Sender::CentralSystem;
            assert_eq!(accepted.contains(action), sent_by_cp, "{action}");
        }
        assert!(accepted.contains(Action::DataTransfer) && accepted.contains(Action::Heartbeat));
        assert!(!accepted.contains(Action::RemoteStartTransaction));
        assert_eq!(accepted.iter().count(), 14);
    }
}
