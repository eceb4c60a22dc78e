//! The bookkeeping of an OCPP 1.6 central system: which stations exist, which transactions
//! ran, and the decisions that depend on them, made durable before they are answered.
//!
//! The `ocpp-core` Central System machine answers the protocol of one connection (Heartbeat,
//! the notifications, the RPC rules). What is shared by every connection and survives a
//! restart lives here, in a [`Ledger`]:
//!
//! - **Stations.** Every station is accepted once its BootNotification is durable, and is
//!   remembered across reconnects and restarts: a station that booted before is Accepted on
//!   its next connection without booting again (1.6 section 4.2;
//!   [`Ledger::central_system_config`]).
//! - **Transaction ids.** One counter over all stations, continuing after a restart.
//! - **At-least-once delivery** (1.6 sections 3.7, 4.8, 4.10). A station sends a transaction
//!   message again when it did not get the answer. A StartTransaction sent again (same
//!   station, connector, idTag, meterStart and timestamp) gets the id it was given the first
//!   time; a repeated StopTransaction is applied once; a repeated MeterValues adds no value
//!   twice.
//! - **Id tags.** A list the operator gives, or every tag ([`IdTags`]).
//!
//! # Durable before answered
//!
//! [`Ledger::handle_request`] records what a request tells, decides its answer, and hands
//! the changed records to the [`Store`]. The answer must not reach the station before the
//! records are durable (a station told "transaction 7" must still find transaction 7 after
//! a crash), so when there is something to commit, the ledger does not return the answer: it
//! gives it to a notifier the caller built, which the store runs once the commit is done
//! (possibly on another thread; the CLI's sends it back into the connection's machine). A
//! request that changes nothing durable (a Heartbeat only moves `last_seen`, kept in memory
//! and written with the station's next record) is answered at once: a commit per Heartbeat
//! would make the disk the limit of the whole central system.
//!
//! The store interface ([`Store`]) is the ledger's own: typed, fine-grained [`Change`]s in,
//! "durable" told back later. [`EmbeddedStore`] implements it over any `ocpp-store`
//! [`RecordStore`](ocpp_store::RecordStore) (a redb file in production) with a writer
//! thread and group commit; a database whose commits complete asynchronously fits the same
//! trait.
//!
//! Nothing here depends on an async runtime or on `ocpp-io`: the ledger is called from
//! inside each connection's machine, under one short lock, and never waits.
//!
//! # Example
//!
//! ```
//! use ocpp_core::v16::{BootNotificationRequest, Request, Response};
//! use ocpp_csms::{EmbeddedStore, Handled, Ledger, LedgerConfig};
//! use ocpp_store::MemoryStore;
//!
//! # fn main() -> Result<(), ocpp_csms::CsmsError> {
//! let store = EmbeddedStore::new(MemoryStore::new());
//! let (ledger, restored) = Ledger::open(Box::new(store), LedgerConfig::default())?;
//! assert_eq!(restored.next_transaction_id, 1);
//!
//! let boot: BootNotificationRequest = serde_json::from_value(serde_json::json!({
//!     "chargePointVendor": "Vendor",
//!     "chargePointModel": "Model",
//! }))
//! .unwrap();
//! let boot = Request::BootNotification(boot);
//! let (tx, rx) = std::sync::mpsc::channel();
//! let now = time::OffsetDateTime::UNIX_EPOCH;
//! // The boot is stored before its answer exists anywhere but in the notifier.
//! let handled = ledger.handle_request("CP-1", now, &boot, true, |answer| {
//!     Box::new(move |outcome| tx.send(outcome.map(|()| answer)).unwrap())
//! });
//! assert!(matches!(handled, Handled::AfterCommit));
//! let answer = rx.recv().unwrap().unwrap();
//! assert!(matches!(answer, Some(Response::BootNotification(_))));
//! assert!(ledger.is_registered("CP-1"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod embedded;
mod error;
mod id_tags;
mod ledger;
mod notice;
mod records;
mod store;

pub use embedded::{EmbeddedStore, RECORD_VERSION};
pub use error::CsmsError;
pub use id_tags::{IdTags, IdTagsError};
pub use ledger::{Handled, Ledger, LedgerConfig, Notifier, Restored};
pub use notice::Notice;
pub use records::{Station, Transaction};
pub use store::{Change, CommitError, Done, Store, Stored};
