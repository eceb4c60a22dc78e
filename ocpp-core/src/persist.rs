//! What a state machine asks to be made durable, and what it gets back after a restart.
//!
//! The core never touches a file. A role state machine that must survive a power loss (the
//! Charge Point's transaction queue, connector states, authorization cache, local list,
//! configuration) emits [`StoreOp`]s among its outputs; the adapter applies **all ops of one
//! input in one atomic transaction before it transmits any frame of that input**, so a message
//! is durable before the peer can see it. At start-up the adapter loads a [`Snapshot`] and hands
//! it to the state machine's constructor.
//!
//! The model is deliberately small, an ordered key-value map per named collection with bytes as
//! values, so that a store (`ocpp-store`: redb on disk, or in memory for tests) knows nothing of
//! OCPP. The role state machines own the meaning, the encoding and the versioning of their
//! records; keys sort as byte strings, which is how a queue keeps its order (fixed-width
//! sequence numbers).

use std::collections::BTreeMap;

/// One change to the durable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Sets `key` in `collection` to `value`, replacing any previous value.
    Put {
        /// The collection, a name the role state machine defines.
        collection: &'static str,
        /// The record's key; collections iterate in key order.
        key: String,
        /// The encoded record.
        value: Vec<u8>,
    },
    /// Removes `key` from `collection`; removing an absent key is not an error.
    Delete {
        /// The collection.
        collection: &'static str,
        /// The record's key.
        key: String,
    },
    /// Removes every record of `collection`.
    Clear {
        /// The collection.
        collection: &'static str,
    },
}

impl StoreOp {
    /// The collection the op changes.
    pub fn collection(&self) -> &'static str {
        match self {
            StoreOp::Put { collection, .. }
            | StoreOp::Delete { collection, .. }
            | StoreOp::Clear { collection } => collection,
        }
    }
}

/// The durable state as loaded at start-up: every collection with its records in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    collections: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

impl Snapshot {
    /// An empty snapshot: a first start.
    pub fn new() -> Snapshot {
        Snapshot::default()
    }

    /// Applies `ops` in order, as a store does; what tests and the in-memory store use.
    pub fn apply<'a>(&mut self, ops: impl IntoIterator<Item = &'a StoreOp>) {
        for op in ops {
            match op {
                StoreOp::Put {
                    collection,
                    key,
                    value,
                } => {
                    self.collections
                        .entry((*collection).to_owned())
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                StoreOp::Delete { collection, key } => {
                    if let Some(records) = self.collections.get_mut(*collection) {
                        records.remove(key);
                        if records.is_empty() {
                            self.collections.remove(*collection);
                        }
                    }
                }
                StoreOp::Clear { collection } => {
                    self.collections.remove(*collection);
                }
            }
        }
    }

    /// Inserts one record; what a store uses while loading.
    pub fn insert(&mut self, collection: &str, key: String, value: Vec<u8>) {
        self.collections
            .entry(collection.to_owned())
            .or_default()
            .insert(key, value);
    }

    /// The records of `collection` in key order (none if it is empty or unknown).
    pub fn records(&self, collection: &str) -> impl Iterator<Item = (&str, &[u8])> {
        self.collections
            .get(collection)
            .into_iter()
            .flat_map(|records| records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
    }

    /// One record.
    pub fn get(&self, collection: &str, key: &str) -> Option<&[u8]> {
        self.collections
            .get(collection)?
            .get(key)
            .map(Vec::as_slice)
    }

    /// The names of the collections that hold records.
    pub fn collections(&self) -> impl Iterator<Item = &str> {
        self.collections.keys().map(String::as_str)
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(collection: &'static str, key: &str, value: &str) -> StoreOp {
        StoreOp::Put {
            collection,
            key: key.to_owned(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn ops_apply_in_order_and_records_iterate_in_key_order() {
        let mut snapshot = Snapshot::new();
        snapshot.apply(&[
            put("queue", "0002", "b"),
            put("queue", "0001", "a"),
            put("config", "HeartbeatInterval", "300"),
            put("queue", "0003", "c"),
            StoreOp::Delete {
                collection: "queue",
                key: "0002".into(),
            },
        ]);
        let queue: Vec<_> = snapshot.records("queue").map(|(k, _)| k).collect();
        assert_eq!(queue, ["0001", "0003"]);
        assert_eq!(
            snapshot.get("config", "HeartbeatInterval"),
            Some(&b"300"[..])
        );
        snapshot.apply(&[StoreOp::Clear {
            collection: "queue",
        }]);
        assert_eq!(snapshot.records("queue").count(), 0);
        assert_eq!(snapshot.collections().collect::<Vec<_>>(), ["config"]);
        snapshot.apply(&[StoreOp::Delete {
            collection: "nothing",
            key: "x".into(),
        }]);
        assert!(!snapshot.is_empty());
    }
}
