//! The embedded [`Store`]: the ledger's records in an `ocpp-store` [`RecordStore`],
//! committed by a writer thread of its own with group commit (see [`EmbeddedStore`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use ocpp_core::persist::StoreOp;
use ocpp_core::primitives::datetime;
use ocpp_core::v16::{BootNotificationRequest, MeterValue, StatusNotificationRequest};
use ocpp_store::{RecordStore, RedbStore};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::{Change, CommitError, Done, Store, Stored};
use crate::{CsmsError, Station, Transaction};

const STATIONS: &str = "csms.stations";
const CONNECTORS: &str = "csms.connectors";
const TRANSACTIONS: &str = "csms.transactions";
const METER_VALUES: &str = "csms.meter_values";
const COUNTERS: &str = "csms.counters";
const NEXT_TRANSACTION_ID: &str = "next_transaction_id";

/// The format version of the records this build writes (and the newest it reads).
pub const RECORD_VERSION: u32 = 2;

/// Changes for the writer thread, and what to run once they are durable.
type Batch = (Vec<Change>, Done);

/// The embedded [`Store`]: the ledger's records in an `ocpp-store` [`RecordStore`] (a redb
/// file in production, memory in tests), committed by a writer thread of its own.
///
/// The writer commits whatever batches have queued up since its last commit in one
/// transaction (group commit): a redb commit costs about 0.3 ms (two fsyncs) however many
/// records it holds, so a boot storm of thousands of stations costs a few dozen commits, not
/// one per station, and no thread that serves connections ever waits for the disk.
///
/// # Layout
///
/// JSON records, each with its format version `v`, in these collections:
///
/// | collection | key | record |
/// |---|---|---|
/// | `csms.stations` | charge point id | the boot and when the station was last seen |
/// | `csms.connectors` | charge point id `/` connector | its last StatusNotification and meter values |
/// | `csms.transactions` | transaction id, offset and zero-padded to sort numerically | the transaction without its meter values |
/// | `csms.meter_values` | transaction key `/` index of the first value | a run of the transaction's meter values, appended |
/// | `csms.counters` | `next_transaction_id` | the id of the next new transaction |
///
/// Version 1 (before this crate) kept a station's connectors and a transaction's meter
/// values inside their records; such a file is migrated at [`Store::load`], in one
/// transaction. A record of a newer version is refused ([`CsmsError::TooNew`]).
pub struct EmbeddedStore<S> {
    /// The record store until [`Store::load`] hands it to the writer thread.
    records: Mutex<Option<S>>,
    /// To the writer thread, once loaded.
    writer: Option<mpsc::Sender<Batch>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedStore<RedbStore> {
    /// Opens (or creates) the redb file at `path`.
    ///
    /// # Errors
    ///
    /// The store's own: locked by another handle or process, not a redb database, corrupt, a
    /// newer format, an I/O error.
    pub fn open(path: impl AsRef<Path>) -> Result<EmbeddedStore<RedbStore>, CsmsError> {
        Ok(EmbeddedStore::new(RedbStore::open(path)?))
    }
}

impl<S: RecordStore + Send + 'static> EmbeddedStore<S> {
    /// The ledger's records in `records`.
    pub fn new(records: S) -> EmbeddedStore<S> {
        EmbeddedStore {
            records: Mutex::new(Some(records)),
            writer: None,
            thread: None,
        }
    }
}

impl<S: RecordStore + Send + 'static> Store for EmbeddedStore<S> {
    fn load(&mut self) -> Result<Stored, CsmsError> {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or(CsmsError::WriterStopped)?;
        let (stored, migration) = read(&records.load()?)?;
        if !migration.is_empty() {
            records.apply(&migration)?;
        }
        let (tx, rx) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("csms-store".to_owned())
            .spawn(move || write_batches(&mut records, &rx))
            .map_err(CsmsError::Thread)?;
        self.writer = Some(tx);
        self.thread = Some(thread);
        Ok(stored)
    }

    fn commit(&self, changes: Vec<Change>, done: Done) {
        let Some(writer) = &self.writer else {
            done(Err(CommitError::new(CsmsError::WriterStopped)));
            return;
        };
        if let Err(mpsc::SendError((_, done))) = writer.send((changes, done)) {
            done(Err(CommitError::new(CsmsError::WriterStopped)));
        }
    }
}

impl<S> Drop for EmbeddedStore<S> {
    /// Lets the writer commit what is queued, and waits for it, unless this runs on the
    /// writer itself (the last owner dropped in a [`Done`]).
    fn drop(&mut self) {
        self.writer = None;
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

/// The writer thread: every batch queued since the last commit in one transaction, then the
/// outcome to each. Ends when the store (the only sender) is dropped and the queue is empty.
fn write_batches<S: RecordStore>(records: &mut S, rx: &mpsc::Receiver<Batch>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        batches.extend(rx.try_iter());
        let ops: Result<Vec<StoreOp>, CsmsError> = batches
            .iter()
            .flat_map(|(changes, _)| changes.iter().map(op))
            .collect();
        let outcome = ops
            .and_then(|ops| records.apply(&ops).map_err(CsmsError::from))
            .map_err(CommitError::new);
        for (_, done) in batches {
            done(outcome.clone());
        }
    }
}

fn transaction_key(id: i32) -> String {
    // Offset so that negative ids (none are issued, but a station may send any) sort too.
    format!("{:011}", i64::from(id) + i64::from(i32::MAX) + 1)
}

fn connector_key(station: &str, connector: i32) -> String {
    // Unambiguous: the connector's part never holds a `/`.
    format!("{station}/{}", transaction_key(connector))
}

fn meter_values_key(transaction: i32, first: usize) -> String {
    format!("{}/{first:010}", transaction_key(transaction))
}

/// A station's own record. Version 1 also held its connectors (read, never written).
#[derive(Serialize, Deserialize)]
struct StationRecord<B> {
    v: u32,
    id: String,
    boot: Option<B>,
    #[serde(default, with = "datetime::option")]
    last_seen: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    connectors: BTreeMap<i32, StatusNotificationRequest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    meter_values: BTreeMap<i32, Vec<MeterValue>>,
}

#[derive(Serialize, Deserialize)]
struct ConnectorRecord {
    v: u32,
    station: String,
    connector: i32,
    status: Option<StatusNotificationRequest>,
    #[serde(default)]
    meter_values: Vec<MeterValue>,
}

/// A transaction's record. Version 1 also held its meter values (read, never written).
#[derive(Serialize, Deserialize)]
struct TransactionRecord {
    v: u32,
    id: i32,
    station: String,
    connector: i32,
    id_tag: String,
    meter_start: i32,
    started: String,
    meter_stop: Option<i32>,
    stopped: Option<String>,
    stop_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    meter_values: Vec<MeterValue>,
}

#[derive(Serialize, Deserialize)]
struct MeterValuesRecord {
    v: u32,
    transaction: i32,
    first: usize,
    values: Vec<MeterValue>,
}

#[derive(Serialize, Deserialize)]
struct CounterRecord {
    v: u32,
    value: i32,
}

fn put<T: Serialize>(
    collection: &'static str,
    key: String,
    record: &T,
) -> Result<StoreOp, CsmsError> {
    let value = serde_json::to_vec(record).map_err(|e| CsmsError::Encode(e.to_string()))?;
    Ok(StoreOp::Put {
        collection,
        key,
        value,
    })
}

fn transaction_record(t: &Transaction) -> TransactionRecord {
    TransactionRecord {
        v: RECORD_VERSION,
        id: t.id,
        station: t.station.clone(),
        connector: t.connector,
        id_tag: t.id_tag.clone(),
        meter_start: t.meter_start,
        started: t.started.clone(),
        meter_stop: t.meter_stop,
        stopped: t.stopped.clone(),
        stop_reason: t.stop_reason.clone(),
        meter_values: Vec::new(),
    }
}

/// The store op that makes `change` durable.
fn op(change: &Change) -> Result<StoreOp, CsmsError> {
    match change {
        Change::Station {
            id,
            boot,
            last_seen,
        } => put(
            STATIONS,
            id.clone(),
            &StationRecord {
                v: RECORD_VERSION,
                id: id.clone(),
                boot: boot.as_deref(),
                last_seen: *last_seen,
                connectors: BTreeMap::new(),
                meter_values: BTreeMap::new(),
            },
        ),
        Change::Connector {
            station,
            connector,
            status,
            meter_values,
        } => put(
            CONNECTORS,
            connector_key(station, *connector),
            &ConnectorRecord {
                v: RECORD_VERSION,
                station: station.clone(),
                connector: *connector,
                status: status.clone(),
                meter_values: meter_values.clone(),
            },
        ),
        Change::Transaction(transaction) => put(
            TRANSACTIONS,
            transaction_key(transaction.id),
            &transaction_record(transaction),
        ),
        Change::MeterValues {
            transaction,
            first,
            values,
        } => put(
            METER_VALUES,
            meter_values_key(*transaction, *first),
            &MeterValuesRecord {
                v: RECORD_VERSION,
                transaction: *transaction,
                first: *first,
                values: values.clone(),
            },
        ),
        Change::NextTransactionId(value) => put(
            COUNTERS,
            NEXT_TRANSACTION_ID.to_owned(),
            &CounterRecord {
                v: RECORD_VERSION,
                value: *value,
            },
        ),
    }
}

/// Decodes one record, refusing a newer version.
fn decode<'a, T: Deserialize<'a>>(
    collection: &'static str,
    key: &str,
    bytes: &'a [u8],
    version: impl Fn(&T) -> u32,
) -> Result<T, CsmsError> {
    let record: T = serde_json::from_slice(bytes).map_err(|e| CsmsError::Unreadable {
        collection,
        key: key.to_owned(),
        reason: e.to_string(),
    })?;
    let v = version(&record);
    if v > RECORD_VERSION {
        return Err(CsmsError::TooNew {
            collection,
            key: key.to_owned(),
            version: v,
            supported: RECORD_VERSION,
        });
    }
    Ok(record)
}

/// Everything in `snapshot`, and the ops that rewrite its version 1 records in the current
/// layout (empty when there are none).
fn read(snapshot: &ocpp_store::Snapshot) -> Result<(Stored, Vec<StoreOp>), CsmsError> {
    let mut migration = Vec::new();
    let mut stations: BTreeMap<String, Station> = BTreeMap::new();
    for (key, bytes) in snapshot.records(STATIONS) {
        let record: StationRecord<BootNotificationRequest> =
            decode(STATIONS, key, bytes, |r: &StationRecord<_>| r.v)?;
        let station = Station {
            id: record.id,
            boot: record.boot.map(Arc::new),
            last_seen: record.last_seen,
            connectors: record.connectors,
            meter_values: record.meter_values,
        };
        if record.v < RECORD_VERSION {
            migration.push(op(&station_change(&station))?);
            for change in connector_changes(&station) {
                migration.push(op(&change)?);
            }
        }
        stations.insert(station.id.clone(), station);
    }
    for (key, bytes) in snapshot.records(CONNECTORS) {
        let record: ConnectorRecord = decode(CONNECTORS, key, bytes, |r: &ConnectorRecord| r.v)?;
        let station = stations
            .entry(record.station.clone())
            .or_insert_with(|| Station::new(record.station));
        if let Some(status) = record.status {
            station.connectors.insert(record.connector, status);
        }
        if !record.meter_values.is_empty() {
            station
                .meter_values
                .insert(record.connector, record.meter_values);
        }
    }
    let mut transactions: BTreeMap<i32, Transaction> = BTreeMap::new();
    for (key, bytes) in snapshot.records(TRANSACTIONS) {
        let record: TransactionRecord =
            decode(TRANSACTIONS, key, bytes, |r: &TransactionRecord| r.v)?;
        let transaction = Transaction {
            id: record.id,
            station: record.station,
            connector: record.connector,
            id_tag: record.id_tag,
            meter_start: record.meter_start,
            started: record.started,
            meter_stop: record.meter_stop,
            stopped: record.stopped,
            stop_reason: record.stop_reason,
            meter_values: record.meter_values,
        };
        if record.v < RECORD_VERSION {
            migration.push(op(&Change::Transaction(transaction.clone()))?);
            if !transaction.meter_values.is_empty() {
                migration.push(op(&Change::MeterValues {
                    transaction: transaction.id,
                    first: 0,
                    values: transaction.meter_values.clone(),
                })?);
            }
        }
        transactions.insert(transaction.id, transaction);
    }
    for (key, bytes) in snapshot.records(METER_VALUES) {
        let record: MeterValuesRecord =
            decode(METER_VALUES, key, bytes, |r: &MeterValuesRecord| r.v)?;
        let Some(transaction) = transactions.get_mut(&record.transaction) else {
            return Err(CsmsError::Orphan {
                collection: METER_VALUES,
                key: key.to_owned(),
                owner: "transaction",
            });
        };
        transaction.meter_values.extend(record.values);
    }
    let mut next_transaction_id = None;
    if let Some(bytes) = snapshot.get(COUNTERS, NEXT_TRANSACTION_ID) {
        let record: CounterRecord =
            decode(COUNTERS, NEXT_TRANSACTION_ID, bytes, |r: &CounterRecord| {
                r.v
            })?;
        next_transaction_id = Some(record.value);
    }
    let stored = Stored {
        stations: stations.into_values().collect(),
        transactions: transactions.into_values().collect(),
        next_transaction_id,
    };
    Ok((stored, migration))
}

/// The change that writes `station`'s own record.
pub(crate) fn station_change(station: &Station) -> Change {
    Change::Station {
        id: station.id.clone(),
        boot: station.boot.clone(),
        last_seen: station.last_seen,
    }
}

/// The changes that write every connector of `station`.
fn connector_changes(station: &Station) -> Vec<Change> {
    let ids: std::collections::BTreeSet<i32> = station
        .connectors
        .keys()
        .chain(station.meter_values.keys())
        .copied()
        .collect();
    ids.into_iter()
        .map(|connector| connector_change(station, connector))
        .collect()
}

/// The change that writes one connector of `station`.
pub(crate) fn connector_change(station: &Station, connector: i32) -> Change {
    Change::Connector {
        station: station.id.clone(),
        connector,
        status: station.connectors.get(&connector).cloned(),
        meter_values: station
            .meter_values
            .get(&connector)
            .cloned()
            .unwrap_or_default(),
    }
}
