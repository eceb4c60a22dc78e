//! The OCPP 1.6 Charge Point role: the stack's side of a charging station.
//!
//! [`ChargePoint`] is a sans-IO state machine driven through [`crate::machine::Machine`]. The
//! application tells it what the hardware knows (connector status today; plug events, id tags,
//! meter readings as the role grows) and the machine does the protocol: registration with the
//! Central System, heartbeats, status notifications, answering the Central System's requests.
//!
//! What works so far: BootNotification with the Accepted / Pending / Rejected rules of 1.6
//! section 4.2 and the errata, Heartbeat at the interval the Central System sets (skipped while
//! other traffic flows), StatusNotification of every connector after registration and on
//! every change (with `MinimumStatusDuration`), connector states persisted and restored,
//! clock synchronisation, TriggerMessage for BootNotification, Heartbeat and
//! StatusNotification, Authorize (online, no cache or local list yet) and DataTransfer in both
//! directions, the Central System's side answered by the application through
//! [`ChargePoint::reply`]. Every other Central System request is answered `NotSupported` until the
//! feature that handles it exists (see the README's status table).
//!
//! [`Command`] is every application command as data ([`ChargePoint::apply`] runs one) and
//! [`ChargePointSetup`] what a station is built from, as a trace ([`crate::trace`]) records them.
//!
//! [`config`] is the registry of configuration keys (chapter 9 of 1.6, the security white paper
//! and Plug & Charge) that the Central System reads with GetConfiguration and writes with
//! ChangeConfiguration, and that the machine's behaviour reads.

pub mod authorization;
mod command;
pub mod config;
mod ledger;
pub mod metering;
mod role;

pub use command::{Applied, ChargePointSetup, Command};
pub use ledger::{QUEUE_COLLECTION, TRANSACTIONS_COLLECTION, TransactionKey};
pub use role::{
    AVAILABILITY_COLLECTION, AuthorizeHandle, CONNECTOR_STATUS_COLLECTION, ChargePoint,
    ChargePointConfig, ChargePointError, ConnectorStatus, Decision, Event, InterruptedTransactions,
    Registration, Reply, RestoreError,
};
