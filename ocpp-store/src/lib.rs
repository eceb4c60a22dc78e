//! Durable storage for the records that the `ocpp-core` state machines emit.
//!
//! A role state machine that must survive a power loss (a Charge Point's queue of transaction
//! messages, its connector states, authorization cache, local list, configuration) never touches
//! a file. It emits [`StoreOp`]s among its outputs and is rebuilt at start-up from a
//! [`Snapshot`] (both in [`ocpp_core::persist`]). This crate makes those ops durable and loads
//! them back. It knows nothing of OCPP: a store is a set of named collections of byte values
//! under string keys, iterated in key order.
//!
//! Two implementations of [`RecordStore`]:
//!
//! - [`RedbStore`]: one [redb](https://docs.rs/redb) file. Each [`RecordStore::apply`] is one
//!   write transaction, committed with immediate durability (the call returns only after
//!   `fsync`) and two-phase commit. A process killed at any instant leaves the file with every
//!   batch whose `apply` returned and with no part of any other batch.
//! - [`MemoryStore`]: the same semantics in memory, for tests.
//!
//! # The caller's obligations
//!
//! The store is correct only if its driver keeps these rules. They are what lets a peer trust
//! that what we have sent survives our crash.
//!
//! 1. **One input, one call.** Collect every `Persist` output of one input of a state machine
//!    (drained with `poll_output` until `None`) and hand them to a single
//!    [`RecordStore::apply`], in the order they came. Splitting them over several calls lets a
//!    crash keep half of a state change.
//! 2. **Apply before transmitting.** Do not send any `Transmit` output of that input until
//!    `apply` has returned `Ok`. A frame sent before its record is durable can be answered by a
//!    peer that we then forget after a crash; a frame whose record is durable is resent after
//!    the restart.
//! 3. **Stop on error.** If `apply` returns an error, send nothing of that input, and treat the
//!    state machine as out of step with the disk: it may or may not have been committed (an
//!    `fsync` that failed says nothing reliable). Drop the store and the machine, reopen with
//!    [`RedbStore::open`], [`RecordStore::load`] and rebuild the machine from the snapshot. The
//!    handle refuses further writes with [`StoreError::Failed`] until then.
//! 4. **One owner per file.** Open a store once; [`RedbStore::open`] takes an exclusive lock and
//!    a second open, in any process, fails with [`StoreError::Locked`].
//! 5. **Blocking calls.** `apply` waits for the disk (milliseconds on an ordinary disk, see
//!    `BENCHMARKS.md`); an async driver calls it from a blocking context (e.g.
//!    `spawn_blocking`), never on an executor thread.
//!
//! # Errors are never resets
//!
//! A file that cannot be trusted is refused with a [`StoreError`] that names it, and is left as
//! it is: this crate never starts over on its own, because an empty store would silently drop
//! queued transaction messages and so billing data. [`RedbStore::open`] verifies the checksum of
//! every page. redb may panic on some damaged files; opening, loading and applying run under
//! [`std::panic::catch_unwind`], and such a panic becomes [`StoreError::Corrupt`] (the panic
//! message still reaches the panic hook, usually stderr).
//!
//! # Layout and versions
//!
//! A redb file holds a meta table `ocpp_store_meta` with the format version
//! ([`FORMAT_VERSION`]) and a creation marker, and one table `records/<collection>` per
//! collection. A file of an older format is migrated in place, in one transaction, through an
//! explicit chain of steps; a newer one is refused with [`StoreError::TooNew`]; a redb file
//! without the meta table is someone else's ([`StoreError::Foreign`]). Any change to the layout
//! must bump the version and add a step: `tests/fixtures/format-v1.redb`, a file of version 1,
//! is opened by the tests of every later build.
//!
//! # Example
//!
//! ```
//! use ocpp_core::persist::StoreOp;
//! use ocpp_store::{RecordStore, RedbStore};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("ocpp-store-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let path = dir.join("charge-point.redb");
//! let mut store = RedbStore::open(&path)?;
//! // All Persist outputs of one input, in one call, before any of its frames is sent.
//! store.apply(&[
//!     StoreOp::Put { collection: "queue", key: "00000001".into(), value: b"[2,\"1\",...]".to_vec() },
//!     StoreOp::Put { collection: "connectors", key: "1".into(), value: b"Charging".to_vec() },
//! ])?;
//! drop(store);
//!
//! // After a restart:
//! let store = RedbStore::open(&path)?;
//! let snapshot = store.load()?;
//! assert_eq!(snapshot.get("connectors", "1"), Some(&b"Charging"[..]));
//! # drop(store);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod error;
mod memory;
mod redb_store;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use ocpp_core::persist::{Snapshot, StoreOp};
pub use redb_store::{FORMAT_VERSION, RedbStore};

/// Where a state machine's records are made durable and loaded back from.
///
/// Synchronous: implementations may block on the disk. Object-safe, so a driver can hold a
/// `Box<dyn RecordStore + Send>`. See the [crate docs](crate) for the caller's obligations.
pub trait RecordStore {
    /// Every record stored, by collection, in key order. Empty collections are absent.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] (or another variant, see its table) if the stored data cannot be
    /// read back; the caller must not start the state machine from an empty snapshot instead.
    fn load(&self) -> Result<Snapshot, StoreError>;

    /// Makes `ops` durable, all or none, applied in order.
    ///
    /// When this returns `Ok`, every op is on disk; an empty slice does nothing. Afterwards
    /// [`load`](Self::load) returns what [`Snapshot::apply`] would give for all ops applied so
    /// far.
    ///
    /// # Errors
    ///
    /// After any error the caller must not transmit the frames of this input, and must reopen
    /// and reload (see the [crate docs](crate)); the handle answers every later call with
    /// [`StoreError::Failed`].
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError>;
}

impl<S: RecordStore + ?Sized> RecordStore for Box<S> {
    fn load(&self) -> Result<Snapshot, StoreError> {
        (**self).load()
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        (**self).apply(ops)
    }
}
