//! Why the ledger's store cannot be opened, read or written.

use ocpp_store::StoreError;

/// Why the ledger's store cannot be opened, read or written. Never a reason to start over
/// from an empty ledger: the file is left as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsmsError {
    /// The record store failed: locked, not a database, corrupt, a newer format, an I/O
    /// error (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record does not decode.
    #[error("record {collection}/{key} is unreadable: {reason}")]
    Unreadable {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// What the decoder said.
        reason: String,
    },
    /// A record was written by a newer version of the ledger, whose format this build does
    /// not know.
    #[error(
        "record {collection}/{key} has format version {version}, newer than this build \
         reads ({supported}): it was written by a newer ocpp"
    )]
    TooNew {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// The version it carries.
        version: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A record refers to one that does not exist (meter values of no transaction).
    #[error("record {collection}/{key} belongs to no {owner}")]
    Orphan {
        /// Its collection.
        collection: &'static str,
        /// Its key.
        key: String,
        /// What it should belong to.
        owner: &'static str,
    },
    /// A record cannot be encoded (never happens with the ledger's own records).
    #[error("a record cannot be encoded: {0}")]
    Encode(String),
    /// The store's writer thread could not be started.
    #[error("cannot start the store's writer thread: {0}")]
    Thread(std::io::Error),
    /// The store's writer has stopped (or was never started: `load` was not called), so
    /// nothing more is committed.
    #[error("the store's writer has stopped")]
    WriterStopped,
}
