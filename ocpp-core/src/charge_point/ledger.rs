//! The durable record of transactions and of the transaction-related messages not yet
//! delivered (1.6 section 3.7).
//!
//! Every transaction-related message (StartTransaction, StopTransaction, MeterValues of a
//! transaction) is written to the queue before it is first sent and removed only when the
//! Central System has answered it or it has been given up after repeated failures, so a power
//! loss at any instant loses nothing and replays nothing that was acknowledged. The queue is
//! delivered strictly in order. Messages of a transaction whose StartTransaction.conf has not
//! arrived yet carry no transaction id in the queue: the id is filled in when the message is
//! sent, which is after the StartTransaction was answered (the queue is in order), or `-1` if
//! that StartTransaction was given up (errata 3.18).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::RestoreError;
use crate::persist::{Snapshot, StoreOp};
use crate::time::Monotonic;

/// Where running and unfinished transactions are kept; key: the local number, 20 digits.
pub const TRANSACTIONS_COLLECTION: &str = "cp16.transactions";
/// Where undelivered transaction-related messages are kept; key: the sequence number, 20
/// digits, so that key order is delivery order.
pub const QUEUE_COLLECTION: &str = "cp16.tx-queue";

const RECORD_VERSION: u32 = 1;

/// The station's own number for a transaction, valid from its start, before (and whether or
/// not) the Central System assigns its transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TransactionKey(pub u64);

/// A transaction as the station keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Transaction {
    v: u32,
    pub(super) key: TransactionKey,
    pub(super) connector: u32,
    pub(super) id_tag: String,
    pub(super) meter_start: i32,
    #[serde(with = "crate::primitives::datetime")]
    pub(super) started_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reservation_id: Option<i32>,
    /// The Central System's id, once StartTransaction.conf has arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) transaction_id: Option<i32>,
    /// The StartTransaction was given up: later messages use transaction id -1.
    #[serde(default)]
    pub(super) start_given_up: bool,
    /// The last meter reading known, in Wh: what a stop at power-up reports.
    pub(super) last_meter: i32,
    /// A StopTransaction is queued: the transaction no longer runs on its connector.
    #[serde(default)]
    pub(super) stopped: bool,
}

impl Transaction {
    /// The transaction id to put in a message now.
    pub(super) fn id_for_messages(&self) -> i32 {
        self.transaction_id.unwrap_or(-1)
    }
}

/// A queued message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    v: u32,
    pub(super) seq: u64,
    pub(super) transaction: TransactionKey,
    pub(super) action: String,
    /// The request payload; for StopTransaction and MeterValues without `transactionId`,
    /// which is added when sending.
    pub(super) payload: Value,
    /// Failures to process reported so far (section 3.7.1).
    #[serde(default)]
    pub(super) attempts: u32,
    /// Not before this instant (a retry wait); not persisted: after a restart, at once.
    #[serde(skip)]
    pub(super) not_before: Monotonic,
}

/// Transactions and the queue, with the store ops that keep them durable.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    transactions: BTreeMap<TransactionKey, Transaction>,
    queue: VecDeque<Entry>,
    next_key: u64,
    next_seq: u64,
}

fn key_of(number: u64) -> String {
    format!("{number:020}")
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // These records hold strings, integers and JSON values only; they always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

impl Ledger {
    /// The ledger as stored.
    pub(super) fn restore(snapshot: &Snapshot) -> Result<Ledger, RestoreError> {
        let mut ledger = Ledger::default();
        for (key, bytes) in snapshot.records(TRANSACTIONS_COLLECTION) {
            let transaction: Transaction = decode(TRANSACTIONS_COLLECTION, key, bytes)?;
            ledger.next_key = ledger.next_key.max(transaction.key.0 + 1);
            ledger.transactions.insert(transaction.key, transaction);
        }
        for (key, bytes) in snapshot.records(QUEUE_COLLECTION) {
            let entry: Entry = decode(QUEUE_COLLECTION, key, bytes)?;
            if !ledger.transactions.contains_key(&entry.transaction) {
                return Err(RestoreError::BadRecord {
                    collection: QUEUE_COLLECTION,
                    key: key.to_owned(),
                    reason: format!("its transaction {} is not stored", entry.transaction.0),
                });
            }
            ledger.next_seq = ledger.next_seq.max(entry.seq + 1);
            ledger.queue.push_back(entry);
        }
        Ok(ledger)
    }

    /// The transaction running on `connector`, if any.
    pub(super) fn running_on(&self, connector: u32) -> Option<&Transaction> {
        self.transactions
            .values()
            .find(|t| t.connector == connector && !t.stopped)
    }

    pub(super) fn get(&self, key: TransactionKey) -> Option<&Transaction> {
        self.transactions.get(&key)
    }

    /// Transactions that were running when the station went down, oldest first.
    pub(super) fn running(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions.values().filter(|t| !t.stopped)
    }

    /// Records a new transaction.
    pub(super) fn begin(
        &mut self,
        connector: u32,
        id_tag: String,
        meter_start: i32,
        started_at: OffsetDateTime,
        reservation_id: Option<i32>,
        ops: &mut Vec<StoreOp>,
    ) -> TransactionKey {
        let key = TransactionKey(self.next_key);
        self.next_key += 1;
        let transaction = Transaction {
            v: RECORD_VERSION,
            key,
            connector,
            id_tag,
            meter_start,
            started_at,
            reservation_id,
            transaction_id: None,
            start_given_up: false,
            last_meter: meter_start,
            stopped: false,
        };
        self.transactions.insert(key, transaction);
        self.save(key, ops);
        key
    }

    /// Changes a transaction and persists it.
    pub(super) fn update(
        &mut self,
        key: TransactionKey,
        ops: &mut Vec<StoreOp>,
        change: impl FnOnce(&mut Transaction),
    ) {
        if let Some(transaction) = self.transactions.get_mut(&key) {
            change(transaction);
            self.save(key, ops);
        }
    }

    fn save(&self, key: TransactionKey, ops: &mut Vec<StoreOp>) {
        if let Some(transaction) = self.transactions.get(&key) {
            ops.push(StoreOp::Put {
                collection: TRANSACTIONS_COLLECTION,
                key: key_of(key.0),
                value: encode(transaction),
            });
        }
    }

    /// Appends a message to the queue.
    pub(super) fn enqueue(
        &mut self,
        transaction: TransactionKey,
        action: &str,
        payload: Value,
        ops: &mut Vec<StoreOp>,
    ) {
        let entry = Entry {
            v: RECORD_VERSION,
            seq: self.next_seq,
            transaction,
            action: action.to_owned(),
            payload,
            attempts: 0,
            not_before: Monotonic::ZERO,
        };
        self.next_seq += 1;
        ops.push(StoreOp::Put {
            collection: QUEUE_COLLECTION,
            key: key_of(entry.seq),
            value: encode(&entry),
        });
        self.queue.push_back(entry);
    }

    /// The next message to deliver.
    pub(super) fn head(&self) -> Option<&Entry> {
        self.queue.front()
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The payload of the head, ready to send: with the transaction id filled in.
    pub(super) fn head_payload(&self) -> Option<(String, Value)> {
        let entry = self.queue.front()?;
        let mut payload = entry.payload.clone();
        if entry.action != "StartTransaction"
            && let (Some(transaction), Value::Object(members)) =
                (self.transactions.get(&entry.transaction), &mut payload)
        {
            members.insert(
                "transactionId".to_owned(),
                Value::from(transaction.id_for_messages()),
            );
        }
        Some((entry.action.clone(), payload))
    }

    /// The head was answered or given up: removes it, and its transaction once nothing of it
    /// is left to deliver after its stop.
    pub(super) fn pop_head(&mut self, ops: &mut Vec<StoreOp>) -> Option<Entry> {
        let entry = self.queue.pop_front()?;
        ops.push(StoreOp::Delete {
            collection: QUEUE_COLLECTION,
            key: key_of(entry.seq),
        });
        let key = entry.transaction;
        let finished = self.transactions.get(&key).is_some_and(|t| t.stopped)
            && !self.queue.iter().any(|e| e.transaction == key);
        if finished {
            self.transactions.remove(&key);
            ops.push(StoreOp::Delete {
                collection: TRANSACTIONS_COLLECTION,
                key: key_of(key.0),
            });
        }
        Some(entry)
    }

    /// Counts a failure to process the head and sets when it may be retried; returns the
    /// number of failures so far.
    pub(super) fn head_failed(&mut self, retry_at: impl FnOnce(u32) -> Monotonic) -> u32 {
        let Some(entry) = self.queue.front_mut() else {
            return 0;
        };
        entry.attempts += 1;
        entry.not_before = retry_at(entry.attempts);
        entry.attempts
    }

    /// Holds the head back until `at` without counting a failure (no answer came).
    pub(super) fn head_wait(&mut self, at: Monotonic) {
        if let Some(entry) = self.queue.front_mut() {
            entry.not_before = at;
        }
    }

    /// Persists the head's failure count.
    pub(super) fn save_head(&self, ops: &mut Vec<StoreOp>) {
        if let Some(entry) = self.queue.front() {
            ops.push(StoreOp::Put {
                collection: QUEUE_COLLECTION,
                key: key_of(entry.seq),
                value: encode(entry),
            });
        }
    }
}

fn decode<T: serde::de::DeserializeOwned + HasVersion>(
    collection: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<T, RestoreError> {
    let bad = |reason: String| RestoreError::BadRecord {
        collection,
        key: key.to_owned(),
        reason,
    };
    let record: T = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if record.version() != RECORD_VERSION {
        return Err(bad(format!(
            "record version {} is unknown",
            record.version()
        )));
    }
    Ok(record)
}

trait HasVersion {
    fn version(&self) -> u32;
}

impl HasVersion for Transaction {
    fn version(&self) -> u32 {
        self.v
    }
}

impl HasVersion for Entry {
    fn version(&self) -> u32 {
        self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn a_ledger_survives_a_round_trip_through_the_store() {
        let mut ledger = Ledger::default();
        let mut ops = Vec::new();
        let key = ledger.begin(
            1,
            "TAG".into(),
            100,
            datetime!(2024-05-01 10:00 UTC),
            None,
            &mut ops,
        );
        ledger.enqueue(key, "StartTransaction", json!({"connectorId": 1}), &mut ops);
        ledger.enqueue(key, "StopTransaction", json!({"meterStop": 200}), &mut ops);
        let mut snapshot = Snapshot::new();
        snapshot.apply(&ops);
        let restored = Ledger::restore(&snapshot).unwrap();
        assert_eq!(restored.len(), 2);
        assert_eq!(restored.head().unwrap().action, "StartTransaction");
        assert_eq!(restored.get(key).unwrap().id_tag, "TAG");
        assert_eq!(restored.next_seq, 2);
        assert_eq!(restored.next_key, 1);
    }

    /// Errata 3.18: without a transaction id, messages carry -1.
    #[test]
    fn messages_get_the_central_systems_id_or_minus_one() {
        let mut ledger = Ledger::default();
        let mut ops = Vec::new();
        let key = ledger.begin(
            1,
            "T".into(),
            0,
            datetime!(2024-05-01 10:00 UTC),
            None,
            &mut ops,
        );
        ledger.enqueue(key, "StopTransaction", json!({"meterStop": 5}), &mut ops);
        assert_eq!(ledger.head_payload().unwrap().1["transactionId"], -1);
        ledger.update(key, &mut ops, |t| t.transaction_id = Some(42));
        assert_eq!(ledger.head_payload().unwrap().1["transactionId"], 42);
    }

    #[test]
    fn a_stopped_transaction_is_forgotten_once_its_messages_are_delivered() {
        let mut ledger = Ledger::default();
        let mut ops = Vec::new();
        let key = ledger.begin(
            1,
            "T".into(),
            0,
            datetime!(2024-05-01 10:00 UTC),
            None,
            &mut ops,
        );
        ledger.enqueue(key, "StartTransaction", json!({}), &mut ops);
        ledger.update(key, &mut ops, |t| t.stopped = true);
        ledger.enqueue(key, "StopTransaction", json!({}), &mut ops);
        ledger.pop_head(&mut ops);
        assert!(ledger.get(key).is_some(), "its stop is still queued");
        ledger.pop_head(&mut ops);
        assert!(ledger.get(key).is_none());
        let mut snapshot = Snapshot::new();
        snapshot.apply(&ops);
        assert!(snapshot.is_empty());
    }

    #[test]
    fn a_queue_entry_without_its_transaction_is_a_restore_error() {
        let mut snapshot = Snapshot::new();
        let entry =
            json!({"v": 1, "seq": 0, "transaction": 7, "action": "StopTransaction", "payload": {}});
        snapshot.insert(QUEUE_COLLECTION, key_of(0), entry.to_string().into_bytes());
        assert!(Ledger::restore(&snapshot).is_err());
    }
}
