//! The in-memory store: the semantics of [`RedbStore`](crate::RedbStore) without a file.

use ocpp_core::persist::{Snapshot, StoreOp};

use crate::{RecordStore, StoreError};

/// A [`RecordStore`] held in memory, for tests and for drivers that persist nothing.
///
/// It applies ops exactly as [`RedbStore`](crate::RedbStore) does (in order, all of one call
/// together) and never fails. Its content lives as long as the value; [`MemoryStore::snapshot`]
/// lets a test "restart" a machine from what was applied so far.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    snapshot: Snapshot,
}

impl MemoryStore {
    /// An empty store: what a first start sees.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store that starts with `snapshot`'s records.
    pub fn from_snapshot(snapshot: Snapshot) -> MemoryStore {
        MemoryStore { snapshot }
    }

    /// The records applied so far.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }
}

impl RecordStore for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(self.snapshot.clone())
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        self.snapshot.apply(ops);
        Ok(())
    }
}
