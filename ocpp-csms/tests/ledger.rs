//! The ledger's behaviour: at-least-once delivery of transaction messages (1.6 sections 3.7,
//! 4.7, 4.8, 4.10), ids and registrations that survive a restart (section 4.2), answers
//! that wait for the commit, and stores that cannot be trusted refused with a clear error.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocpp_core::central_system::Registration;
use ocpp_core::persist::StoreOp;
use ocpp_core::v16::{AuthorizationStatus, RegistrationStatus, Request, Response};
use ocpp_csms::{
    Change, CommitError, CsmsError, Done, EmbeddedStore, Handled, IdTags, Ledger, LedgerConfig,
    Store, Stored,
};
use ocpp_store::{MemoryStore, RecordStore, RedbStore, Snapshot, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2025-06-01 12:00:00 UTC);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocpp-csms-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn request(action: &str, payload: Value) -> Request {
    let action = ocpp_core::v16::Action::from_name(action).expect("an action");
    Request::from_payload(action, payload).expect("a valid payload")
}

fn boot() -> Request {
    request(
        "BootNotification",
        json!({"chargePointVendor": "V", "chargePointModel": "M"}),
    )
}

fn start(connector: i32, meter: i32, at: &str) -> Request {
    request(
        "StartTransaction",
        json!({"connectorId": connector, "idTag": "TAG", "meterStart": meter, "timestamp": at}),
    )
}

fn stop(transaction: i32, meter: i32, data: Value) -> Request {
    request(
        "StopTransaction",
        json!({"transactionId": transaction, "meterStop": meter,
               "timestamp": "2025-06-01T12:30:00Z", "reason": "EVDisconnected",
               "transactionData": data}),
    )
}

fn reading(at: &str, wh: &str) -> Value {
    json!({"timestamp": at, "sampledValue": [{"value": wh}]})
}

fn meter_values(connector: i32, transaction: Option<i32>, values: Value) -> Request {
    let mut payload = json!({"connectorId": connector, "meterValue": values});
    if let Some(id) = transaction {
        payload["transactionId"] = json!(id);
    }
    request("MeterValues", payload)
}

/// Hands `request` (decided by the ledger) to `ledger` and waits for its answer, which may
/// come from the store's writer thread.
fn answer(ledger: &Ledger, station: &str, request: &Request) -> Result<Response, CommitError> {
    Ok(record(ledger, station, request, true)?.expect("the ledger decides an answer"))
}

/// Hands `request` to `ledger`, the ledger deciding its answer if `decide`, and waits until
/// what it recorded is durable.
fn record(
    ledger: &Ledger,
    station: &str,
    request: &Request,
    decide: bool,
) -> Result<Option<Response>, CommitError> {
    let (tx, rx) = mpsc::channel();
    let handled = ledger.handle_request(station, NOW, request, decide, |response| {
        Box::new(move |outcome| {
            let _ = tx.send(outcome.map(|()| response));
        })
    });
    let response = match handled {
        Handled::Now(response) => response,
        Handled::AfterCommit => rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the store tells the outcome")?,
    };
    Ok(response)
}

fn transaction_id(response: Response) -> i32 {
    match response {
        Response::StartTransaction(started) => started.transaction_id,
        other => panic!("not a StartTransaction answer: {other:?}"),
    }
}

fn open_memory(records: MemoryStore) -> Ledger {
    Ledger::open(
        Box::new(EmbeddedStore::new(records)),
        LedgerConfig::default(),
    )
    .expect("a ledger")
    .0
}

fn open_file(path: &std::path::Path) -> Result<(Ledger, ocpp_csms::Restored), CsmsError> {
    Ledger::open(
        Box::new(EmbeddedStore::open(path)?),
        LedgerConfig::default(),
    )
}

/// Batches committed and not completed yet.
type Queued = Arc<Mutex<Vec<(Vec<Change>, Done)>>>;

/// A store whose batches wait until the test completes them.
#[derive(Clone, Default)]
struct ManualStore {
    stored: Stored,
    batches: Queued,
}

impl ManualStore {
    fn pending(&self) -> usize {
        self.batches.lock().unwrap().len()
    }

    /// Completes every batch queued so far with `outcome`; returns their changes.
    fn complete(&self, outcome: &Result<(), CommitError>) -> Vec<Change> {
        let batches = std::mem::take(&mut *self.batches.lock().unwrap());
        let mut all = Vec::new();
        for (changes, done) in batches {
            all.extend(changes);
            done(outcome.clone());
        }
        all
    }
}

impl Store for ManualStore {
    fn load(&mut self) -> Result<Stored, CsmsError> {
        Ok(self.stored.clone())
    }

    fn commit(&self, changes: Vec<Change>, done: Done) {
        self.batches.lock().unwrap().push((changes, done));
    }
}

/// 1.6 sections 3.7 and 4.8 (TC_039_CSMS, TC_032_1_CSMS: a station that did not get the
/// answer sends its StartTransaction again): the same station, connector, idTag, meterStart
/// and timestamp get the first id again, and no second transaction.
#[test]
fn a_retransmitted_start_transaction_gets_its_first_id() {
    let ledger = open_memory(MemoryStore::new());
    answer(&ledger, "CP-1", &boot()).unwrap();
    let first =
        transaction_id(answer(&ledger, "CP-1", &start(1, 100, "2025-06-01T12:00:00Z")).unwrap());
    let again =
        transaction_id(answer(&ledger, "CP-1", &start(1, 100, "2025-06-01T12:00:00Z")).unwrap());
    assert_eq!(again, first);
    assert_eq!(ledger.transactions().len(), 1);
    assert_eq!(ledger.repeated_starts(), 1);
    // Another station with the very same message starts a transaction of its own.
    let other =
        transaction_id(answer(&ledger, "CP-2", &start(1, 100, "2025-06-01T12:00:00Z")).unwrap());
    assert_ne!(other, first);
    // So does a new start on the same connector later.
    let later =
        transaction_id(answer(&ledger, "CP-1", &start(1, 100, "2025-06-01T12:05:00Z")).unwrap());
    assert_ne!(later, first);
    assert_eq!(ledger.transactions().len(), 3);
}

/// 1.6 section 4.10: a StopTransaction sent again is acknowledged and applied once; the
/// first stop's meter reading and reason stay.
#[test]
fn a_repeated_stop_transaction_is_applied_once() {
    let ledger = open_memory(MemoryStore::new());
    let id =
        transaction_id(answer(&ledger, "CP-1", &start(1, 100, "2025-06-01T12:00:00Z")).unwrap());
    let first = answer(&ledger, "CP-1", &stop(id, 600, json!([]))).unwrap();
    assert!(matches!(first, Response::StopTransaction(_)));
    let again = answer(&ledger, "CP-1", &stop(id, 999, json!([]))).unwrap();
    assert!(matches!(again, Response::StopTransaction(_)));
    let transaction = ledger.transaction(id).unwrap();
    assert_eq!(transaction.meter_stop, Some(600));
    assert_eq!(transaction.stop_reason.as_deref(), Some("EVDisconnected"));
    assert!(!transaction.is_active());
    assert_eq!(ledger.repeated_stops(), 1);
}

/// 1.6 sections 3.7 and 4.7: a MeterValues sent again (and the StopTransaction's
/// transactionData repeating what came before) adds no value twice; new values are appended
/// in the order they came.
#[test]
fn a_retransmitted_meter_values_adds_no_value_twice() {
    let ledger = open_memory(MemoryStore::new());
    let id = transaction_id(answer(&ledger, "CP-1", &start(1, 0, "2025-06-01T12:00:00Z")).unwrap());
    let values = json!([reading("2025-06-01T12:01:00Z", "10")]);
    answer(&ledger, "CP-1", &meter_values(1, Some(id), values.clone())).unwrap();
    answer(&ledger, "CP-1", &meter_values(1, Some(id), values)).unwrap();
    let data = json!([
        reading("2025-06-01T12:01:00Z", "10"),
        reading("2025-06-01T12:02:00Z", "20")
    ]);
    answer(&ledger, "CP-1", &stop(id, 20, data)).unwrap();
    let kept = ledger.transaction(id).unwrap().meter_values;
    let texts: Vec<&str> = kept
        .iter()
        .map(|v| v.sampled_value[0].value.as_str())
        .collect();
    assert_eq!(texts, ["10", "20"]);
    // The station keeps the last values of each connector.
    assert_eq!(ledger.station("CP-1").unwrap().meter_values[&1].len(), 1);
}

/// The ids are one counter over all stations that continues after a restart, and what was
/// recorded (the station, its connector status, the transaction and its meter values) is
/// all there again.
#[test]
fn ids_and_records_continue_after_a_restart() {
    let dir = scratch("restart");
    let path = dir.join("csms.redb");
    let (first, second) = {
        let (ledger, restored) = open_file(&path).unwrap();
        assert_eq!(restored.next_transaction_id, 1);
        answer(&ledger, "CP-1", &boot()).unwrap();
        let status = request(
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Charging"}),
        );
        assert_eq!(record(&ledger, "CP-1", &status, false).unwrap(), None);
        let first =
            transaction_id(answer(&ledger, "CP-1", &start(1, 0, "2025-06-01T12:00:00Z")).unwrap());
        let second =
            transaction_id(answer(&ledger, "CP-2", &start(2, 5, "2025-06-01T12:00:00Z")).unwrap());
        let values = json!([reading("2025-06-01T12:01:00Z", "10")]);
        answer(&ledger, "CP-1", &meter_values(1, Some(first), values)).unwrap();
        answer(
            &ledger,
            "CP-1",
            &stop(first, 10, json!([reading("2025-06-01T12:02:00Z", "10.5")])),
        )
        .unwrap();
        (first, second)
    };
    let (ledger, restored) = open_file(&path).unwrap();
    assert_eq!(restored.transactions, 2);
    assert_eq!(restored.open, 1);
    assert_eq!(restored.stations, 2);
    assert_eq!(restored.next_transaction_id, second + 1);
    let third =
        transaction_id(answer(&ledger, "CP-3", &start(1, 0, "2025-06-01T13:00:00Z")).unwrap());
    assert_eq!((first, second, third), (1, 2, 3));
    let transaction = ledger.transaction(first).unwrap();
    assert_eq!(transaction.meter_values.len(), 2);
    assert_eq!(transaction.meter_stop, Some(10));
    // A retransmission after the restart is still recognised.
    let again =
        transaction_id(answer(&ledger, "CP-2", &start(2, 5, "2025-06-01T12:00:00Z")).unwrap());
    assert_eq!(again, second);
    let station = ledger.station("CP-1").unwrap();
    assert_eq!(station.connectors.len(), 1);
    assert_eq!(station.last_seen, Some(NOW));
}

/// 1.6 section 4.2 (TC_001_CSMS): a station is accepted once its boot is stored, and a
/// station that booted before is Accepted on its next connection, after a restart too,
/// without booting again; an unknown one is not.
#[test]
fn a_station_that_booted_is_accepted_on_reconnect_and_after_a_restart() {
    let dir = scratch("registry");
    let path = dir.join("csms.redb");
    {
        let (ledger, _) = open_file(&path).unwrap();
        assert_eq!(
            ledger.central_system_config("CP-1").registration,
            Registration::Unknown
        );
        match answer(&ledger, "CP-1", &boot()).unwrap() {
            Response::BootNotification(booted) => {
                assert_eq!(booted.status, RegistrationStatus::Accepted);
                assert_eq!(booted.interval, 300);
                assert_eq!(booted.current_time, NOW);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ledger.central_system_config("CP-1").registration,
            Registration::Accepted
        );
    }
    let (ledger, _) = open_file(&path).unwrap();
    assert_eq!(
        ledger.central_system_config("CP-1").registration,
        Registration::Accepted
    );
    assert_eq!(
        ledger.central_system_config("CP-2").registration,
        Registration::Unknown
    );
}

/// A decision is durable before its answer exists outside the store's completion: nothing
/// comes back from `handle_request` for a StartTransaction, the answer comes when the
/// store says the batch is durable, and a failed commit is told as the failure.
#[test]
fn the_answer_comes_only_once_the_records_are_durable() {
    let store = ManualStore::default();
    let (ledger, _) = Ledger::open(Box::new(store.clone()), LedgerConfig::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let sender = tx.clone();
    let handled = ledger.handle_request(
        "CP-1",
        NOW,
        &start(1, 0, "2025-06-01T12:00:00Z"),
        true,
        |response| Box::new(move |outcome| sender.send(outcome.map(|()| response)).unwrap()),
    );
    assert_eq!(handled, Handled::AfterCommit);
    assert_eq!(store.pending(), 1);
    assert!(rx.try_recv().is_err(), "answered before the commit");
    let changes = store.complete(&Ok(()));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Transaction(t) if t.id == 1))
    );
    assert!(changes.contains(&Change::NextTransactionId(2)));
    let answer = rx.try_recv().expect("answered after the commit").unwrap();
    assert!(matches!(answer, Some(Response::StartTransaction(s)) if s.transaction_id == 1));

    let handled = ledger.handle_request("CP-1", NOW, &boot(), true, |response| {
        Box::new(move |outcome| tx.send(outcome.map(|()| response)).unwrap())
    });
    assert_eq!(handled, Handled::AfterCommit);
    store.complete(&Err(CommitError::new(CsmsError::WriterStopped)));
    assert!(matches!(
        rx.try_recv().unwrap().unwrap_err().error(),
        CsmsError::WriterStopped
    ));
}

/// A Heartbeat (answered by the machine) changes nothing durable: no commit, nothing to
/// send; the time it came is kept in memory.
#[test]
fn a_heartbeat_commits_nothing() {
    let store = ManualStore::default();
    let (ledger, _) = Ledger::open(Box::new(store.clone()), LedgerConfig::default()).unwrap();
    let heartbeat = request("Heartbeat", json!({}));
    let handled = ledger.handle_request("CP-1", NOW, &heartbeat, false, |_| {
        panic!("nothing to commit")
    });
    assert_eq!(handled, Handled::Now(None));
    assert_eq!(store.pending(), 0);
    assert_eq!(ledger.station("CP-1").unwrap().last_seen, Some(NOW));
}

/// 1.6 section 4.10: a StopTransaction of a transaction unknown here (-1 from a station whose
/// StartTransaction never got through) is acknowledged and creates nothing; MeterValues of
/// an unknown transaction and absurd numbers are taken without a panic.
#[test]
fn unknown_transactions_and_absurd_numbers_are_acknowledged_without_effect() {
    let ledger = open_memory(MemoryStore::new());
    for id in [-1, 0, i32::MAX, i32::MIN] {
        assert!(matches!(
            answer(&ledger, "CP-1", &stop(id, i32::MIN, json!([]))).unwrap(),
            Response::StopTransaction(_)
        ));
        let values = json!([reading("2025-06-01T12:01:00Z", "1")]);
        answer(&ledger, "CP-1", &meter_values(i32::MIN, Some(id), values)).unwrap();
    }
    assert!(ledger.transactions().is_empty());
    assert_eq!(ledger.station("CP-1").unwrap().meter_values.len(), 1);
}

/// The id counter never gives an id twice, even when it wraps at the top of the 32-bit
/// range onto ids in use.
#[test]
fn the_id_counter_wraps_past_ids_in_use() {
    let store = ManualStore::default();
    let first = {
        let (ledger, _) = Ledger::open(Box::new(store.clone()), LedgerConfig::default()).unwrap();
        let handled = ledger.handle_request(
            "CP-1",
            NOW,
            &start(1, 0, "2025-06-01T12:00:00Z"),
            true,
            |_| Box::new(|_| {}),
        );
        assert_eq!(handled, Handled::AfterCommit);
        store.complete(&Ok(()));
        ledger.transactions()
    };
    let mut wrapped = store.clone();
    wrapped.stored = Stored {
        stations: Vec::new(),
        transactions: first,
        next_transaction_id: Some(i32::MAX),
    };
    let (ledger, restored) =
        Ledger::open(Box::new(wrapped.clone()), LedgerConfig::default()).unwrap();
    assert_eq!(restored.next_transaction_id, i32::MAX);
    let mut ids = Vec::new();
    for minute in 0..2 {
        let at = format!("2025-06-01T13:0{minute}:00Z");
        let _ = ledger.handle_request("CP-1", NOW, &start(1, 0, &at), true, |_| Box::new(|_| {}));
        wrapped.complete(&Ok(()));
    }
    for transaction in ledger.transactions() {
        ids.push(transaction.id);
    }
    // 1 was taken: after i32::MAX comes 2.
    assert_eq!(ids, [1, 2, i32::MAX]);
}

/// Id tags from a list: the verdict of Authorize, StartTransaction and StopTransaction
/// (TC_023_1_CSMS: an unknown tag is Invalid).
#[test]
fn id_tags_of_a_list_decide_every_verdict() {
    let tags = IdTags::from_json(r#"[{"idTag": "TAG", "status": "Blocked"}]"#).unwrap();
    let config = LedgerConfig {
        id_tags: tags,
        ..LedgerConfig::default()
    };
    let (ledger, _) =
        Ledger::open(Box::new(EmbeddedStore::new(MemoryStore::new())), config).unwrap();
    assert!(
        ledger
            .central_system_config("CP-1")
            .policy
            .is_automatic(ocpp_core::v16::Action::DataTransfer)
    );
    assert!(
        !ledger
            .central_system_config("CP-1")
            .policy
            .is_automatic(ocpp_core::v16::Action::Authorize)
    );
    let authorize = request("Authorize", json!({"idTag": "OTHER"}));
    match answer(&ledger, "CP-1", &authorize).unwrap() {
        Response::Authorize(a) => assert_eq!(a.id_tag_info.status, AuthorizationStatus::Invalid),
        other => panic!("{other:?}"),
    }
    match answer(&ledger, "CP-1", &start(1, 0, "2025-06-01T12:00:00Z")).unwrap() {
        Response::StartTransaction(s) => {
            assert_eq!(s.id_tag_info.status, AuthorizationStatus::Blocked);
        }
        other => panic!("{other:?}"),
    }
}

/// A record store whose first apply waits until the test lets it go, and that counts its
/// applies.
struct Gated {
    inner: MemoryStore,
    gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
    applies: Arc<Mutex<usize>>,
}

impl RecordStore for Gated {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load()
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let (open, changed) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = changed.wait(open).unwrap();
        }
        *self.applies.lock().unwrap() += 1;
        self.inner.apply(ops)
    }
}

/// Group commit: the batches that queue up while the writer is busy are committed in one
/// transaction, and each gets its own answer.
#[test]
fn batches_queued_during_a_commit_are_committed_together() {
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let applies = Arc::new(Mutex::new(0));
    let store = EmbeddedStore::new(Gated {
        inner: MemoryStore::new(),
        gate: gate.clone(),
        applies: applies.clone(),
    });
    let (ledger, _) = Ledger::open(Box::new(store), LedgerConfig::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    for n in 0..100 {
        let tx = tx.clone();
        let handled = ledger.handle_request(&format!("CP-{n}"), NOW, &boot(), true, |response| {
            Box::new(move |outcome| tx.send(outcome.map(|()| response)).unwrap())
        });
        assert_eq!(handled, Handled::AfterCommit);
    }
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    for _ in 0..100 {
        let answer = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert!(matches!(answer, Some(Response::BootNotification(_))));
    }
    // The first batch alone (the writer took it before the others came), then the rest.
    let count = *applies.lock().unwrap();
    assert!(count <= 2, "{count} commits for 100 batches");
    assert_eq!(ledger.station_count(), 100);
}

/// A file that is no database, one locked by another handle, a record that does not
/// decode and a record of a newer format are refused with what is wrong; nothing is reset.
#[test]
fn a_store_that_cannot_be_trusted_is_refused_with_a_clear_error() {
    let dir = scratch("refused");
    let junk = dir.join("junk.redb");
    std::fs::write(&junk, b"this is not a database, not at all, not even close").unwrap();
    let error = open_file(&junk).unwrap_err();
    assert!(
        matches!(error, CsmsError::Store(StoreError::NotADatabase { .. })),
        "{error}"
    );

    let path = dir.join("csms.redb");
    let held = open_file(&path).unwrap();
    let error = open_file(&path).unwrap_err();
    assert!(error.to_string().contains("locked"), "{error}");
    drop(held);

    let newer = json!({"v": 3, "id": "CP-1", "boot": null});
    let mut records = RedbStore::open(&path).unwrap();
    records
        .apply(&[StoreOp::Put {
            collection: "csms.stations",
            key: "CP-1".into(),
            value: serde_json::to_vec(&newer).unwrap(),
        }])
        .unwrap();
    drop(records);
    let error = open_file(&path).unwrap_err();
    assert!(
        matches!(
            &error,
            CsmsError::TooNew {
                version: 3,
                supported: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("csms.stations/CP-1"), "{error}");

    let mut records = RedbStore::open(&path).unwrap();
    records
        .apply(&[StoreOp::Put {
            collection: "csms.stations",
            key: "CP-1".into(),
            value: b"{not json".to_vec(),
        }])
        .unwrap();
    drop(records);
    let error = open_file(&path).unwrap_err();
    assert!(matches!(error, CsmsError::Unreadable { .. }), "{error}");
    // Left as it was.
    let records = RedbStore::open(&path).unwrap();
    assert_eq!(
        records.load().unwrap().get("csms.stations", "CP-1"),
        Some(&b"{not json"[..])
    );
}

/// A file written before this crate (format 1: connectors inside the station's record,
/// meter values inside the transaction's) opens with everything in it, and is rewritten in
/// the current layout.
#[test]
fn a_version_1_file_is_migrated() {
    let dir = scratch("migrate");
    let path = dir.join("csms.redb");
    let station = json!({
        "v": 1, "id": "CP-1",
        "boot": {"chargePointVendor": "V", "chargePointModel": "M"},
        "last_seen": "2025-05-01T10:00:00Z",
        "connectors": {"1": {"connectorId": 1, "errorCode": "NoError", "status": "Available"}},
        "meter_values": {"1": [reading("2025-05-01T09:59:00Z", "7")]},
    });
    let transaction = json!({
        "v": 1, "id": 41, "station": "CP-1", "connector": 1, "id_tag": "TAG",
        "meter_start": 0, "started": "2025-05-01T09:00:00Z", "meter_stop": null,
        "stopped": null, "stop_reason": null,
        "meter_values": [reading("2025-05-01T09:30:00Z", "3"), reading("2025-05-01T09:59:00Z", "7")],
    });
    let mut records = RedbStore::open(&path).unwrap();
    records
        .apply(&[
            StoreOp::Put {
                collection: "csms.stations",
                key: "CP-1".into(),
                value: serde_json::to_vec(&station).unwrap(),
            },
            StoreOp::Put {
                collection: "csms.transactions",
                key: format!("{:011}", 41 + i64::from(i32::MAX) + 1),
                value: serde_json::to_vec(&transaction).unwrap(),
            },
        ])
        .unwrap();
    drop(records);
    for _ in 0..2 {
        let (ledger, restored) = open_file(&path).unwrap();
        assert_eq!(restored.next_transaction_id, 42);
        let station = ledger.station("CP-1").unwrap();
        assert!(station.is_registered());
        assert_eq!(station.connectors.len(), 1);
        assert_eq!(station.meter_values[&1].len(), 1);
        assert_eq!(ledger.transaction(41).unwrap().meter_values.len(), 2);
        // The old start is still recognised.
        let again =
            transaction_id(answer(&ledger, "CP-1", &start(1, 0, "2025-05-01T09:00:00Z")).unwrap());
        assert_eq!(again, 41);
    }
    let snapshot = RedbStore::open(&path).unwrap().load().unwrap();
    let rewritten: Value =
        serde_json::from_slice(snapshot.get("csms.stations", "CP-1").unwrap()).unwrap();
    assert_eq!(rewritten["v"], 2);
    assert!(rewritten.get("connectors").is_none());
    assert_eq!(snapshot.records("csms.connectors").count(), 1);
    assert_eq!(snapshot.records("csms.meter_values").count(), 1);
}
