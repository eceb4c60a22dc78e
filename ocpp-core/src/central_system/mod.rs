//! The OCPP 1.6 Central System role: the stack's side of one connected Charge Point.
//!
//! A server creates one [`CentralSystem`] per WebSocket connection and drives it through
//! [`Machine`](crate::machine::Machine): there is no shared state and no lock between
//! connections, each machine owns what it knows about its Charge Point. The machine does the
//! protocol of chapters 4 and 5 of OCPP 1.6 (and the security white paper) from the Central
//! System's side; what a request *means* for the business (may this id tag charge? which
//! transaction id?) is the application's decision.
//!
//! # What the machine does
//!
//! - **Answers the Charge Point.** Every request of the Charge Point is reported as
//!   [`Event::Request`], with either the answer the machine already sent
//!   ([`Answer::Sent`]) or a [`Decision`] the application answers with
//!   [`CentralSystem::reply`] and the typed response ([`Answer::Decide`]).
//!   [`CentralSystemPolicy`] says which actions are answered automatically and how; by
//!   default BootNotification (Accepted, 300 s), Heartbeat (the caller's wall clock) and the
//!   seven notifications are automatic, and Authorize, StartTransaction, StopTransaction,
//!   DataTransfer and SignCertificate are asked. Any automatic answer can be taken over by the
//!   application ([`CentralSystemPolicy::ask`]), and
//!   [`CentralSystemPolicy::accept_all`] answers id tags and transactions too, for demos.
//! - **Enforces registration** (1.6 section 4.2, OCPP-J 1.6 errata 3.10). Before the Charge
//!   Point is Accepted, its CALLs other than BootNotification are answered with CallError
//!   `SecurityError` and reported as [`Event::NotAccepted`]; a pending Charge Point may still
//!   send what a TriggerMessage of ours asked for. While it is Pending the application may
//!   call it (GetConfiguration, ChangeConfiguration, ...) but RemoteStartTransaction and
//!   RemoteStopTransaction are refused locally; while it is Rejected every call is refused.
//!   A BootNotification after acceptance is answered again and reported as
//!   [`Event::Registered`] with `rebooted: true`.
//! - **Calls the Charge Point.** [`CentralSystem::call`] sends any of the 26 Central System
//!   requests (19 of 1.6 including DataTransfer, 7 of the security white paper) as its
//!   generated type; the RPC rules (one call in flight, FIFO queue, timeouts, CallErrors) are
//!   the [`Endpoint`](crate::rpc::Endpoint)'s. The answer comes as [`Event::CallCompleted`];
//!   [`CallCompleted::response`] turns it into the request's response type.
//! - **Keeps what the application wants to read**: [`CentralSystem::registration`], the last
//!   BootNotification, the last heartbeat and message times, the connectors' last
//!   StatusNotification ([`CentralSystem::connector_statuses`]) and the calls pending.
//!
//! # The application's obligations
//!
//! - Drive the machine as every machine of this crate: after each input or command, drain
//!   `poll_output` until `None`, then read `poll_timeout`. The machine persists nothing
//!   (no `Persist` outputs) and never asks to close.
//! - Answer every [`Answer::Decide`] with [`CentralSystem::reply`] (or
//!   [`CentralSystem::reply_error`]), promptly: the Charge Point waits, and it sends nothing
//!   else meanwhile (OCPP-J 1.6 section 4.1.1). StartTransaction, StopTransaction and
//!   MeterValues should always be answered (sections 4.7, 4.8, 4.10: sanity checks must not
//!   prevent the answer); the Charge Point retries them otherwise.
//! - Pass the registration it knows ([`CentralSystemConfig::registration`]) when a Charge
//!   Point it accepted before reconnects: a Charge Point boots only after a (re)start, not
//!   after a reconnect.
//!
//! # Example
//!
//! ```
//! use ocpp_core::central_system::{
//!     Answer, CentralSystem, CentralSystemConfig, Event, Registration,
//! };
//! use ocpp_core::machine::{Machine, Output};
//! use ocpp_core::rpc::CounterIds;
//! use ocpp_core::time::{Monotonic, Now};
//! use ocpp_core::v16::{self, AuthorizationStatus, AuthorizeResponse, IdTagInfo};
//!
//! let now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
//! let mut cs = CentralSystem::new(
//!     CentralSystemConfig::new("CP-1"),
//!     Box::new(CounterIds::default()),
//! );
//! cs.handle_connected(now);
//! // The Charge Point boots: accepted by the default policy.
//! cs.handle_message(
//!     now,
//!     r#"[2,"a1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]"#,
//! );
//! // It asks to authorize an id tag: the application decides.
//! cs.handle_message(now, r#"[2,"a2","Authorize",{"idTag":"04A2B3"}]"#);
//! let mut sent = Vec::new();
//! let mut decisions = Vec::new();
//! while let Some(output) = cs.poll_output() {
//!     match output {
//!         Output::Transmit(text) => sent.push(text),
//!         Output::Event(Event::Request { answer: Answer::Decide(decision), .. }) => {
//!             decisions.push(decision)
//!         }
//!         _ => {}
//!     }
//! }
//! assert_eq!(cs.registration(), Registration::Accepted);
//! assert!(sent[0].starts_with(r#"[3,"a1",{"#) && sent[0].contains(r#""status":"Accepted""#));
//! let accepted = IdTagInfo {
//!     expiry_date: None,
//!     parent_id_tag: None,
//!     status: AuthorizationStatus::Accepted,
//! };
//! let decision = decisions.pop().unwrap();
//! cs.reply(now, decision, AuthorizeResponse { id_tag_info: accepted }).unwrap();
//! assert_eq!(
//!     cs.poll_output(),
//!     Some(Output::Transmit(r#"[3,"a2",{"idTagInfo":{"status":"Accepted"}}]"#.into()))
//! );
//! ```

mod command;
mod outcome;
mod policy;
mod role;

pub use command::{CentralSystemSetup, Command};
pub use outcome::{CallCompleted, OutcomeError, TypedResponse};
pub use policy::{BootAnswer, CentralSystemPolicy};
pub use role::{
    Answer, CentralSystem, CentralSystemConfig, CentralSystemError, Decision, Event, Registration,
};
