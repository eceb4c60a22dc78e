//! What can go wrong when opening, loading or writing a store, and what the caller does about it.

use std::io;
use std::path::PathBuf;

/// Why a store could not be opened, loaded or written.
///
/// Every variant that concerns a file names its path. None of them is ever answered by this
/// crate with a silent reset: a store that cannot be trusted is refused, and what happens to the
/// file is the operator's decision (move it aside and start empty, restore a backup, or run a
/// newer build).
///
/// | variant | meaning | what the caller should do |
/// |---|---|---|
/// | [`Io`](Self::Io) | the file or its directory cannot be reached: missing directory, permission denied, a directory where the file should be, disk full, a failed `fsync` | fix the path, permissions or disk; retrying may help |
/// | [`Locked`](Self::Locked) | another handle, in this or another process, has the file open | make sure only one driver owns a store; retry after the other has exited |
/// | [`NotADatabase`](Self::NotADatabase) | the file exists but is not a redb database at all | wrong path, or a file overwritten by something else: do not delete it blindly |
/// | [`Truncated`](Self::Truncated) | a redb database that is shorter than its own header says (copied incompletely, cut by a full disk) | restore the file or move it aside |
/// | [`Corrupt`](Self::Corrupt) | a redb database whose pages fail their checksums or whose structure is inconsistent (flipped bits, a redb panic contained) | restore the file or move it aside |
/// | [`Foreign`](Self::Foreign) | a redb database with tables that this crate did not write | wrong path: the file belongs to another program |
/// | [`TooNew`](Self::TooNew) | written by a newer format of this crate | run the newer build (no downgrade exists) |
/// | [`Failed`](Self::Failed) | an earlier `apply` on this handle failed; the handle refuses further writes | drop the handle, reopen, reload, rebuild the machine |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file or its directory could not be read or written.
    #[error("store {path}: {source}")]
    Io {
        /// The store's file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file is open in another handle of this process or in another process.
    #[error("store {path}: the file is locked by another open handle or process")]
    Locked {
        /// The store's file.
        path: PathBuf,
    },
    /// The file is not a redb database.
    #[error("store {path}: not a redb database (its first bytes are not redb's magic number)")]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a redb database cut short.
    #[error("store {path}: the database is truncated ({detail})")]
    Truncated {
        /// The store's file.
        path: PathBuf,
        /// What was found short.
        detail: String,
    },
    /// The file is a redb database whose content fails its checks.
    #[error("store {path}: the database is corrupt: {detail}")]
    Corrupt {
        /// The store's file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The file is a redb database but not one this crate wrote.
    #[error(
        "store {path}: a redb database of another program (no ocpp-store meta table; tables: {tables})"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// The names of the tables it holds, comma-separated.
        tables: String,
    },
    /// The file was written by a newer format version than this build supports.
    #[error("store {path}: format version {found} is newer than the supported version {supported}")]
    TooNew {
        /// The store's file.
        path: PathBuf,
        /// The format version the file declares.
        found: u32,
        /// The newest format version this build reads.
        supported: u32,
    },
    /// An earlier write on this handle failed, so its state on disk is not known to the handle.
    #[error(
        "store {path}: an earlier write failed; reopen the store and reload before writing again"
    )]
    Failed {
        /// The store's file.
        path: PathBuf,
    },
}
