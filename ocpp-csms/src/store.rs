//! The ledger's own store: typed changes in, "durable" (or the failure) told back later.
//!
//! The ledger does not wait for a disk. It hands each batch of [`Change`]s to
//! [`Store::commit`] together with a [`Done`], and goes on; the store makes the batch durable
//! when it can (the embedded one commits every batch queued since its last commit in one
//! transaction, on a thread of its own) and then runs `Done` with the outcome, on whatever
//! thread it likes. That shape fits an embedded file as well as a database server whose
//! commits complete asynchronously (PostgreSQL for a cluster): the callers stay the same.
//!
//! Changes are fine-grained (a station's own record, one connector, one transaction, an
//! appended run of meter values, the id counter), so that the cost of a message does not
//! grow with what a station or a transaction has accumulated.

use std::sync::Arc;

use ocpp_core::v16::{BootNotificationRequest, MeterValue, StatusNotificationRequest};
use time::OffsetDateTime;

use crate::{CsmsError, Station, Transaction};

/// One record to make durable.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A station's own record (its connectors are records of their own), written with every
    /// message of the station but a Heartbeat.
    Station {
        /// The charge point id.
        id: String,
        /// Its last BootNotification.
        boot: Option<Arc<BootNotificationRequest>>,
        /// When its last message arrived.
        last_seen: Option<OffsetDateTime>,
    },
    /// One connector of a station: its last StatusNotification and last meter values.
    Connector {
        /// The charge point id.
        station: String,
        /// The connector id.
        connector: i32,
        /// Its last StatusNotification.
        status: Option<StatusNotificationRequest>,
        /// The meter values of its last MeterValues.
        meter_values: Vec<MeterValue>,
    },
    /// A transaction, written at its start and its stop. Its `meter_values` are empty here:
    /// they come as [`Change::MeterValues`], appended.
    Transaction(Transaction),
    /// Meter values appended to a transaction: they are its values from index `first` on.
    MeterValues {
        /// The transaction.
        transaction: i32,
        /// The index of the first of them among the transaction's values.
        first: usize,
        /// The values.
        values: Vec<MeterValue>,
    },
    /// The id the next new transaction gets, so that ids continue after a restart.
    NextTransactionId(i32),
}

/// Why a batch did not become durable. Cheap to clone: one failed commit fails every batch
/// it held.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CommitError(Arc<CsmsError>);

impl CommitError {
    /// The failure.
    pub fn new(error: CsmsError) -> CommitError {
        CommitError(Arc::new(error))
    }

    /// What went wrong.
    pub fn error(&self) -> &CsmsError {
        &self.0
    }
}

/// What runs once a batch is durable (`Ok`) or has failed; it may run on any thread, and
/// must not block for long (the embedded store runs it on its writer thread).
pub type Done = Box<dyn FnOnce(Result<(), CommitError>) + Send>;

/// Everything a store holds, as [`Store::load`] gives it back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stored {
    /// Every station, in any order.
    pub stations: Vec<Station>,
    /// Every transaction, meter values included, in any order.
    pub transactions: Vec<Transaction>,
    /// The last [`Change::NextTransactionId`] committed, if any.
    pub next_transaction_id: Option<i32>,
}

/// Where the ledger's records are kept.
///
/// # The implementer's obligations
///
/// 1. [`load`](Store::load) is called once, before any [`commit`](Store::commit), and gives
///    back every change committed before, the last of each record winning, meter values
///    appended in the order of their `first`.
/// 2. `commit` must not block on I/O: the ledger calls it under its lock, from the threads
///    that serve the connections. It queues the batch and returns.
/// 3. Batches become durable in the order they were given, each all or nothing, and a
///    batch's `Done` runs only once the batch (and so every batch before it) is durable, or
///    with the error that kept it from being. `Done` runs exactly once per batch, also when
///    the store is dropped with batches still queued (with an error then).
/// 4. A store that failed once may refuse every later batch: the ledger's memory and the
///    disk may then disagree, and the application should restart from the store.
///
/// One ledger owns a store at a time: it keeps every record in memory, decides from there
/// and allocates transaction ids itself. Several central system nodes sharing one database
/// (issue #23) will need the store to take over what must be decided in one place (the id
/// counter, which node holds a station); the ledger's callers stay as they are.
pub trait Store: Send + Sync {
    /// Every record stored; see the trait's obligations.
    ///
    /// # Errors
    ///
    /// The file or database cannot be read, a record is unreadable, or it was written by a
    /// newer version ([`CsmsError`]). The ledger never starts from an empty state instead.
    fn load(&mut self) -> Result<Stored, CsmsError>;

    /// Makes `changes` durable, then runs `done` with the outcome; see the trait's
    /// obligations.
    fn commit(&self, changes: Vec<Change>, done: Done);
}
