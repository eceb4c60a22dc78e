//! The OCPP 1.6 Charge Point role: the stack's side of a charging station.
//!
//! [`ChargePoint`] is a sans-IO state machine driven through [`crate::machine::Machine`]. The
//! application tells it what the hardware knows (cable plugged in or out, suspensions, faults,
//! id tags, meter readings) and the machine does the protocol: registration with the Central
//! System, heartbeats, the connector statuses it derives (see [`Cable`]), transactions,
//! answering the Central System's requests.
//!
//! What works so far: BootNotification with the Accepted / Pending / Rejected rules of 1.6
//! section 4.2 and the errata, Heartbeat at the interval the Central System sets (skipped while
//! other traffic flows), StatusNotification of every connector after registration and on
//! every change (with `MinimumStatusDuration`), the status derived per section 4.9 from the
//! hardware facts and the stack's state (or reported outright by the application),
//! `ConnectionTimeOut` and the EV-side disconnect keys, connector facts persisted and restored,
//! reservations ([`reservation`]: ReserveNow and CancelReservation with the Reservation profile),
//! clock synchronisation, TriggerMessage for BootNotification, Heartbeat and
//! StatusNotification, Authorize (online, no cache or local list yet) and DataTransfer in both
//! directions, the Central System's side answered by the application through
//! [`ChargePoint::reply`]. Every other Central System request is answered `NotSupported` until the
//! feature that handles it exists (see the README's status table).
//!
//! [`smart_charging`] holds the charging profiles of section 3.13 and the limits they impose;
//! the machine answers the Smart Charging requests when the feature profile is supported.
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
mod connector;
pub mod firmware;
mod ledger;
pub mod metering;
pub mod reservation;
mod role;
pub mod smart_charging;

pub use command::{Applied, ChargePointSetup, Command};
pub use connector::{Cable, Fault};
pub use ledger::{QUEUE_COLLECTION, TRANSACTIONS_COLLECTION, TransactionKey};
pub use role::{
    AVAILABILITY_COLLECTION, AuthorizeHandle, CONNECTOR_STATUS_COLLECTION, ChargePoint,
    ChargePointConfig, ChargePointError, Completion, ConnectorStatus, Decision, Event,
    IdTagAtTransaction, InterruptedTransactions, Registration, Reply, RestoreError,
};
