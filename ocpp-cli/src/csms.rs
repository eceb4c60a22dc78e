//! The central system of `ocpp csms` and `ocpp demo`: one `CentralSystem` machine per
//! connection on an ocpp-io-tokio server, and a ledger of stations and transactions shared by
//! all connections and kept in a redb file.
//!
//! The machines answer the protocol (Heartbeat, the notifications); this module makes the
//! business decisions they ask for: every station is accepted once its BootNotification is
//! stored, whether an id tag may charge (a list from a file, or every tag) and which
//! transaction id a transaction gets
//! (a counter over all stations that continues after a restart). A StartTransaction that a
//! station sends again because it restarted before it got the answer (same station,
//! connector, idTag, meterStart and timestamp) gets the transaction id it was given the first
//! time; a repeated StopTransaction is applied once (1.6 sections 4.8 and 4.10: the station
//! delivers transaction messages at least once).
//!
//! What is decided is made durable before the answer goes out. The records go to one writer
//! thread that owns the store and commits whatever has queued up since its last commit in one
//! redb transaction (group commit): a commit costs about 0.3 ms (two fsyncs) however many
//! records it holds, so a boot storm of thousands of stations costs a few dozen commits, not
//! one per station, and no runtime worker ever waits for the disk. A Heartbeat changes
//! nothing but the station's `last_seen`, which is kept in memory and written with the
//! station's next record: a commit per Heartbeat would make the disk the limit of the whole
//! central system.
//!
//! Everything a connection needs happens in its own task, inside its machine ([`Logged`]):
//! the requests are recorded while the machine's outputs are drained, and an answer that
//! waits for a commit is handed back to the machine by the writer thread through the
//! connection's handle. So an idle connection costs the central system no task, channel or
//! buffer of its own beyond its machine and its station record (issue #7 asks for at most
//! 4 KiB per idle station, all included).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use ocpp_core::ErrorCode;
use ocpp_core::Version;
use ocpp_core::central_system::{
    Answer, CallCompleted, CentralSystem, CentralSystemConfig, CentralSystemPolicy,
    CentralSystemSetup, Decision, Event as CsEvent, Registration,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::persist::StoreOp;
use ocpp_core::primitives::datetime;
use ocpp_core::rpc::{CallHandle, UuidV4Ids};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::{Recorder, TraceSink};
use ocpp_core::v16::{
    Action, AuthorizationStatus, AuthorizeResponse, BootNotificationRequest,
    BootNotificationResponse, IdTagInfo, MeterValue, MeterValuesResponse, RegistrationStatus,
    Request, Response, StartTransactionRequest, StartTransactionResponse,
    StatusNotificationRequest, StopTransactionRequest, StopTransactionResponse,
};
use ocpp_io_tokio::{
    BasicAuthPassword, Connection, ConnectionInfo, Credentials, DuplicateId, Event, Handle,
    NoPersist, Persister, ServerConfig, ServerSecurity, Verdict,
};
use ocpp_store::{RecordStore, RedbStore};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// Stations, keyed by charge point id.
const STATIONS: &str = "csms.stations";
/// Transactions, keyed by their id, zero-padded so that they sort numerically.
const TRANSACTIONS: &str = "csms.transactions";
/// The heartbeat interval every accepted station is given, in seconds.
const HEARTBEAT_INTERVAL_SECONDS: i32 = 300;
/// The format version of the records of both collections.
const RECORD_VERSION: u32 = 1;

/// What is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogLevel {
    /// Nothing.
    Off,
    /// Connections, registrations and transactions, one line each.
    Summary,
    /// The summary and every frame, in both directions.
    Full,
}

/// A station as the central system remembers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Station {
    v: u32,
    pub(crate) id: String,
    /// The last BootNotification; a station that has one was accepted (the policy accepts
    /// every station). Boxed: an idle station's record stays small.
    pub(crate) boot: Option<Box<BootNotificationRequest>>,
    /// When the last message of the station arrived (stored as RFC 3339).
    #[serde(default, with = "datetime::option")]
    pub(crate) last_seen: Option<OffsetDateTime>,
    /// The last StatusNotification of each connector.
    pub(crate) connectors: BTreeMap<i32, StatusNotificationRequest>,
    /// The meter values of the last MeterValues of each connector (absent in records written
    /// before they were kept).
    #[serde(default)]
    pub(crate) meter_values: BTreeMap<i32, Vec<MeterValue>>,
}

/// A transaction as the central system records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Transaction {
    v: u32,
    pub(crate) id: i32,
    pub(crate) station: String,
    pub(crate) connector: i32,
    pub(crate) id_tag: String,
    pub(crate) meter_start: i32,
    /// The StartTransaction timestamp (RFC 3339, as normalised by `datetime::format`).
    pub(crate) started: String,
    pub(crate) meter_stop: Option<i32>,
    pub(crate) stopped: Option<String>,
    pub(crate) stop_reason: Option<String>,
    /// The meter values of the transaction, from MeterValues and the StopTransaction's
    /// transactionData, in the order they arrived, each once.
    #[serde(default)]
    pub(crate) meter_values: Vec<MeterValue>,
}

/// What identifies a StartTransaction, so that a retransmission is recognised.
type StartKey = (String, i32, String, i32, String);

/// The id tags the central system knows; `None` accepts every tag.
pub(crate) type IdTags = Option<BTreeMap<String, IdTagInfo>>;

/// One entry of an `--id-tags` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdTagEntry {
    id_tag: String,
    status: AuthorizationStatus,
    #[serde(default, with = "datetime::option")]
    expiry_date: Option<OffsetDateTime>,
    #[serde(default)]
    parent_id_tag: Option<String>,
}

/// Reads an `--id-tags` file: a JSON array of `{"idTag", "status", "expiryDate"?,
/// "parentIdTag"?}`.
pub(crate) fn read_id_tags(path: &Path) -> Result<BTreeMap<String, IdTagInfo>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries: Vec<IdTagEntry> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a JSON array of {{\"idTag\", \"status\", \"expiryDate\"?, \"parentIdTag\"?}}: {e}",
            path.display()
        )
    })?;
    let mut tags = BTreeMap::new();
    for entry in entries {
        if entry.id_tag.is_empty() || entry.id_tag.len() > 20 {
            return Err(format!(
                "{}: idTag {:?} is not 1 to 20 characters (OCPP 1.6 IdToken)",
                path.display(),
                entry.id_tag
            ));
        }
        let info = IdTagInfo {
            expiry_date: entry.expiry_date,
            parent_id_tag: entry.parent_id_tag,
            status: entry.status,
        };
        if tags.insert(entry.id_tag.clone(), info).is_some() {
            return Err(format!(
                "{}: idTag {:?} is listed twice",
                path.display(),
                entry.id_tag
            ));
        }
    }
    Ok(tags)
}

/// Reads an `--auth-keys` file: a JSON object from charge point id to its AuthorizationKey
/// (hex), and turns each key into the password bytes it stands for.
pub(crate) fn read_auth_keys(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let keys: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not a JSON object of charge point id to AuthorizationKey (hex): {e}",
            path.display()
        )
    })?;
    keys.into_iter()
        .map(|(id, hex)| {
            let password = BasicAuthPassword::from_authorization_key(&hex)
                .map_err(|e| format!("{}: the key of {id:?}: {e}", path.display()))?;
            Ok((id, password.as_bytes().to_vec()))
        })
        .collect()
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts of what the central system did, for summaries.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Frames received and sent, over all connections that have ended.
    pub(crate) frames: AtomicU64,
    /// StartTransaction requests recognised as retransmissions.
    pub(crate) repeated_starts: AtomicU64,
    /// StopTransaction requests of a transaction stopped already.
    pub(crate) repeated_stops: AtomicU64,
    /// Requests answered with a CallError because the store failed.
    pub(crate) errors: AtomicU64,
}

/// What runs on the writer thread once a batch is committed (or failed to be).
type Durable = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Records for the writer thread, and what to do when they are durable.
type Batch = (Vec<StoreOp>, Durable);

struct Ledger {
    /// To the writer thread (see the module docs); sent under the ledger's lock, so that the
    /// store sees the records in the order the ledger changed.
    writer: std::sync::mpsc::Sender<Batch>,
    /// Boxed, so that the map's nodes hold pointers, not half-empty slots of whole records.
    stations: BTreeMap<String, Box<Station>>,
    transactions: BTreeMap<i32, Transaction>,
    starts: BTreeMap<StartKey, i32>,
    next_id: i32,
}

/// The central system's state, shared by every connection.
pub(crate) struct Csms {
    ledger: Mutex<Ledger>,
    /// The connected stations, for the HTTP API.
    pub(crate) live: crate::api::Live,
    /// How long a call to a station waits for its answer, ms (`--call-timeout`).
    call_timeout_ms: AtomicU64,
    id_tags: IdTags,
    log: LogLevel,
    pub(crate) counters: Counters,
    /// Where each connection's trace goes (`--trace DIR`), if anywhere.
    trace_dir: std::sync::OnceLock<std::path::PathBuf>,
}

/// What was restored at start-up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Restored {
    pub(crate) stations: usize,
    pub(crate) transactions: usize,
    pub(crate) open: usize,
    pub(crate) next_id: i32,
}

fn start_key(station: &str, request: &StartTransactionRequest) -> StartKey {
    (
        station.to_owned(),
        request.connector_id,
        request.id_tag.clone(),
        request.meter_start,
        datetime::format(request.timestamp),
    )
}

fn now_text() -> String {
    datetime::format(OffsetDateTime::now_utc())
}

fn record<T: Serialize>(collection: &'static str, key: String, value: &T) -> StoreOp {
    StoreOp::Put {
        collection,
        key,
        // Plain structs of strings and numbers: serialising cannot fail.
        value: serde_json::to_vec(value).unwrap_or_default(),
    }
}

fn transaction_key(id: i32) -> String {
    // Offset so that negative ids (none are issued, but a file may hold anything) sort too.
    format!("{:011}", i64::from(id) + i64::from(i32::MAX) + 1)
}

/// Starts the writer thread of `store`: it commits every batch queued up since its last
/// commit in one transaction and runs each batch's completion with the outcome. It ends when
/// the ledger (the only sender) is dropped.
fn spawn_writer(mut store: RedbStore) -> Result<std::sync::mpsc::Sender<Batch>, String> {
    let (tx, rx) = std::sync::mpsc::channel::<Batch>();
    std::thread::Builder::new()
        .name("csms-store".to_owned())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batches = vec![first];
                batches.extend(rx.try_iter());
                let ops: Vec<StoreOp> = batches
                    .iter_mut()
                    .flat_map(|(ops, _)| std::mem::take(ops))
                    .collect();
                let outcome = store.apply(&ops).map_err(|e| e.to_string());
                for (_, durable) in batches {
                    durable(outcome.clone());
                }
            }
        })
        .map_err(|e| format!("cannot start the store's writer thread: {e}"))?;
    Ok(tx)
}

impl Csms {
    /// Opens (or creates) the store at `path` and restores the stations and transactions in
    /// it.
    ///
    /// # Errors
    ///
    /// The store's error text: locked by another process, not a database, corrupt, too new,
    /// or a record this build cannot read.
    pub(crate) fn open(
        path: &Path,
        id_tags: IdTags,
        log: LogLevel,
    ) -> Result<(Arc<Csms>, Restored), String> {
        let store = RedbStore::open(path).map_err(|e| e.to_string())?;
        let snapshot = store.load().map_err(|e| e.to_string())?;
        let bad = |collection: &str, key: &str, e: serde_json::Error| {
            format!(
                "store {}: record {collection}/{key} is unreadable: {e}",
                path.display()
            )
        };
        let mut stations = BTreeMap::new();
        for (key, bytes) in snapshot.records(STATIONS) {
            let station: Station =
                serde_json::from_slice(bytes).map_err(|e| bad(STATIONS, key, e))?;
            stations.insert(station.id.clone(), Box::new(station));
        }
        let mut transactions = BTreeMap::new();
        let mut starts = BTreeMap::new();
        for (key, bytes) in snapshot.records(TRANSACTIONS) {
            let transaction: Transaction =
                serde_json::from_slice(bytes).map_err(|e| bad(TRANSACTIONS, key, e))?;
            starts.insert(
                (
                    transaction.station.clone(),
                    transaction.connector,
                    transaction.id_tag.clone(),
                    transaction.meter_start,
                    transaction.started.clone(),
                ),
                transaction.id,
            );
            transactions.insert(transaction.id, transaction);
        }
        let next_id = transactions.keys().next_back().map_or(1, |id| id + 1);
        let restored = Restored {
            stations: stations.len(),
            transactions: transactions.len(),
            open: transactions
                .values()
                .filter(|t: &&Transaction| t.stopped.is_none())
                .count(),
            next_id,
        };
        let csms = Csms {
            ledger: Mutex::new(Ledger {
                writer: spawn_writer(store)?,
                stations,
                transactions,
                starts,
                next_id,
            }),
            live: crate::api::Live::default(),
            call_timeout_ms: AtomicU64::new(30_000),
            id_tags,
            log,
            counters: Counters::default(),
            trace_dir: std::sync::OnceLock::new(),
        };
        Ok((Arc::new(csms), restored))
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every transaction, by id.
    pub(crate) fn transactions(&self) -> Vec<Transaction> {
        self.ledger().transactions.values().cloned().collect()
    }

    /// How long a call to a station waits for its answer (OCPP-J leaves it to the
    /// implementation); applies to the connections made from now on.
    pub(crate) fn set_call_timeout(&self, timeout: std::time::Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.call_timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// How long a call to a station waits for its answer.
    pub(crate) fn call_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.call_timeout_ms.load(Ordering::Relaxed))
    }

    /// Every station, by id.
    pub(crate) fn stations(&self) -> Vec<Station> {
        self.ledger()
            .stations
            .values()
            .map(|station| (**station).clone())
            .collect()
    }

    /// How many stations are known.
    pub(crate) fn station_count(&self) -> usize {
        self.ledger().stations.len()
    }

    fn summary(&self, line: std::fmt::Arguments<'_>) {
        if self.log != LogLevel::Off {
            eprintln!("{} {line}", now_text());
        }
    }

    /// The verdict on `id_tag` now.
    fn id_tag_info(&self, id_tag: &str) -> IdTagInfo {
        let Some(tags) = &self.id_tags else {
            return IdTagInfo {
                expiry_date: None,
                parent_id_tag: None,
                status: AuthorizationStatus::Accepted,
            };
        };
        match tags.get(id_tag) {
            Some(info) => {
                let mut info = info.clone();
                if info.status == AuthorizationStatus::Accepted
                    && info
                        .expiry_date
                        .is_some_and(|expiry| expiry <= OffsetDateTime::now_utc())
                {
                    info.status = AuthorizationStatus::Expired;
                }
                info
            }
            None => IdTagInfo {
                expiry_date: None,
                parent_id_tag: None,
                status: AuthorizationStatus::Invalid,
            },
        }
    }

    /// Records the trace of every connection from now on into `dir` (created if missing), one
    /// file per connection: `ID-N.jsonl`, N the first number not taken.
    pub(crate) fn record_traces(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let _ = self.trace_dir.set(dir.to_owned());
        Ok(())
    }

    /// A new file for a connection's trace, if traces are recorded.
    fn trace_sink(&self, charge_point_id: &str) -> Option<Box<dyn TraceSink>> {
        let dir = self.trace_dir.get()?;
        let name: String = charge_point_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        for n in 1u64.. {
            let path = dir.join(format!("{name}-{n}.jsonl"));
            // Created only if absent, so that two connections never share a file.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => return Some(Box::new(ocpp_io::trace::FileSink::new(file))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    eprintln!(
                        "{} cannot record a trace in {}: {e}",
                        now_text(),
                        path.display()
                    );
                    return None;
                }
            }
        }
        None
    }

    /// The machine for a new connection of `charge_point_id`: a station that was accepted
    /// before does not boot again after a mere reconnect (1.6 section 4.2).
    fn machine(self: &Arc<Self>, charge_point_id: &str, handle: &Handle<Logged>) -> Logged {
        let mut config = CentralSystemConfig::new(charge_point_id);
        let mut policy = CentralSystemPolicy::default()
            // The ledger keeps the boot and the connector statuses: no second copy per
            // connection.
            .without_reports()
            // Accepted once the station is stored: a station told it is accepted must still be
            // known after a crash, or its next connection would be refused until it reboots.
            .ask(Action::BootNotification)
            .automatic(Action::DataTransfer)
            .automatic(Action::SignCertificate)
            .ask(Action::StartTransaction)
            .ask(Action::StopTransaction)
            // Answered once the values are stored, so that none is acknowledged and lost.
            .ask(Action::MeterValues);
        policy = if self.id_tags.is_none() {
            policy.automatic(Action::Authorize)
        } else {
            policy.ask(Action::Authorize)
        };
        config.policy = policy;
        config.rpc.call_timeout = self.call_timeout();
        let known = self
            .ledger()
            .stations
            .get(charge_point_id)
            .is_some_and(|station| station.boot.is_some());
        if known {
            config.registration = Registration::Accepted;
        }
        // A setup made from a configuration always builds (unit tested in ocpp-core).
        let inner = Recorder::new(
            &CentralSystemSetup::of(&config),
            Box::new(UuidV4Ids),
            self.trace_sink(charge_point_id),
        )
        .expect("the setup of a configuration builds");
        Logged {
            inner,
            id: Arc::from(charge_point_id),
            csms: self.clone(),
            waiters: BTreeMap::new(),
            handle: handle.clone(),
            frames: 0,
            now: None,
        }
    }

    /// Records what `request`, received at `now`, tells about the station and, if `decide`,
    /// decides the answer.
    ///
    /// The records it changes go to the writer thread together with the completion `durable`
    /// builds (from the answer), which runs there once they are committed; the returned flag
    /// says whether that happened. A request that changes nothing durable (a Heartbeat) does
    /// not call `durable`: its answer may go out at once.
    fn record_request(
        &self,
        station: &str,
        request: &Request,
        decide: bool,
        now: OffsetDateTime,
        durable: impl FnOnce(Option<&Response>) -> Durable,
    ) -> (Option<Response>, bool) {
        let mut ledger = self.ledger();
        let ledger = &mut *ledger;
        let mut ops = Vec::new();
        // Looked up before it is inserted: no key to allocate on every request.
        let entry = match ledger.stations.get_mut(station) {
            Some(entry) => entry,
            None => ledger
                .stations
                .entry(station.to_owned())
                .or_insert_with(|| {
                    Box::new(Station {
                        v: RECORD_VERSION,
                        id: station.to_owned(),
                        boot: None,
                        last_seen: None,
                        connectors: BTreeMap::new(),
                        meter_values: BTreeMap::new(),
                    })
                }),
        };
        entry.last_seen = Some(now);
        let mut response = None;
        match request {
            Request::BootNotification(boot) => {
                entry.boot = Some(Box::new(boot.clone()));
                self.summary(format_args!(
                    "{station} booted: {} {}",
                    boot.charge_point_vendor, boot.charge_point_model
                ));
                if decide {
                    response = Some(Response::from(BootNotificationResponse {
                        status: RegistrationStatus::Accepted,
                        current_time: now,
                        interval: HEARTBEAT_INTERVAL_SECONDS,
                    }));
                }
            }
            Request::StatusNotification(status) => {
                entry.connectors.insert(status.connector_id, status.clone());
            }
            Request::Authorize(authorize) if decide => {
                let id_tag_info = self.id_tag_info(&authorize.id_tag);
                self.summary(format_args!(
                    "{station} Authorize {}: {:?}",
                    authorize.id_tag, id_tag_info.status
                ));
                response = Some(Response::from(AuthorizeResponse { id_tag_info }));
            }
            Request::StartTransaction(start) if decide => {
                let id_tag_info = self.id_tag_info(&start.id_tag);
                let key = start_key(station, start);
                let id = match ledger.starts.get(&key) {
                    Some(&id) => {
                        self.counters
                            .repeated_starts
                            .fetch_add(1, Ordering::Relaxed);
                        self.summary(format_args!(
                            "{station} StartTransaction repeated: transaction {id} again"
                        ));
                        id
                    }
                    None => {
                        let id = ledger.next_id;
                        ledger.next_id = ledger.next_id.checked_add(1).unwrap_or(1);
                        let transaction = Transaction {
                            v: RECORD_VERSION,
                            id,
                            station: station.to_owned(),
                            connector: start.connector_id,
                            id_tag: start.id_tag.clone(),
                            meter_start: start.meter_start,
                            started: key.4.clone(),
                            meter_stop: None,
                            stopped: None,
                            stop_reason: None,
                            meter_values: Vec::new(),
                        };
                        ops.push(record(TRANSACTIONS, transaction_key(id), &transaction));
                        ledger.transactions.insert(id, transaction);
                        ledger.starts.insert(key, id);
                        self.summary(format_args!(
                            "{station} transaction {id} started on connector {} (idTag {}, \
                             meter {} Wh): {:?}",
                            start.connector_id, start.id_tag, start.meter_start, id_tag_info.status
                        ));
                        id
                    }
                };
                response = Some(Response::from(StartTransactionResponse {
                    id_tag_info,
                    transaction_id: id,
                }));
            }
            Request::MeterValues(values) => {
                entry
                    .meter_values
                    .insert(values.connector_id, values.meter_value.clone());
                if let Some(transaction) = values
                    .transaction_id
                    .and_then(|id| ledger.transactions.get_mut(&id))
                {
                    add_meter_values(transaction, &values.meter_value);
                    ops.push(record(
                        TRANSACTIONS,
                        transaction_key(transaction.id),
                        &*transaction,
                    ));
                }
                if decide {
                    response = Some(Response::from(MeterValuesResponse {}));
                }
            }
            Request::StopTransaction(stop) if decide => {
                self.apply_stop(ledger, station, stop, &mut ops);
                let id_tag_info = stop.id_tag.as_deref().map(|tag| self.id_tag_info(tag));
                response = Some(Response::from(StopTransactionResponse { id_tag_info }));
            }
            _ => {}
        }
        // A Heartbeat changes only `last_seen`: not worth a commit (see the module docs).
        if !matches!(request, Request::Heartbeat(_)) {
            let station_record = ledger
                .stations
                .get(station)
                .map(|s| record(STATIONS, station.to_owned(), s));
            ops.extend(station_record);
        }
        if ops.is_empty() {
            return (response, false);
        }
        let batch = (ops, durable(response.as_ref()));
        if let Err(std::sync::mpsc::SendError((_, durable))) = ledger.writer.send(batch) {
            durable(Err("the store's writer has stopped".to_owned()));
        }
        (response, true)
    }

    fn apply_stop(
        &self,
        ledger: &mut Ledger,
        station: &str,
        stop: &StopTransactionRequest,
        ops: &mut Vec<StoreOp>,
    ) {
        let id = stop.transaction_id;
        let Some(transaction) = ledger.transactions.get_mut(&id) else {
            // A station whose StartTransaction never got through stops with id -1 (or an id
            // of another central system); acknowledged, as section 4.10 requires, not recorded.
            self.summary(format_args!(
                "{station} StopTransaction of unknown transaction {id} acknowledged"
            ));
            return;
        };
        if transaction.stopped.is_some() {
            self.counters.repeated_stops.fetch_add(1, Ordering::Relaxed);
            self.summary(format_args!(
                "{station} StopTransaction repeated: transaction {id} was stopped already"
            ));
            return;
        }
        transaction.meter_stop = Some(stop.meter_stop);
        add_meter_values(
            transaction,
            stop.transaction_data.as_deref().unwrap_or_default(),
        );
        transaction.stopped = Some(datetime::format(stop.timestamp));
        let reason = stop
            .reason
            .map(|reason| {
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .unwrap_or_else(|| "Local".to_owned());
        self.summary(format_args!(
            "{station} transaction {id} stopped: {} Wh, reason {reason}",
            i64::from(stop.meter_stop) - i64::from(transaction.meter_start)
        ));
        transaction.stop_reason = Some(reason);
        ops.push(record(TRANSACTIONS, transaction_key(id), &*transaction));
    }
}

/// Appends the values `transaction` does not hold yet: a station sends a MeterValues again
/// when it did not get the answer (1.6 section 4.7).
fn add_meter_values(transaction: &mut Transaction, values: &[MeterValue]) {
    for value in values {
        if !transaction.meter_values.contains(value) {
            transaction.meter_values.push(value.clone());
        }
    }
}

/// A `CentralSystem` that logs and counts the frames it receives and sends, and records and
/// answers the requests the csms decides, all within its connection's own task: an idle
/// connection has no task or channel of the application's.
pub(crate) struct Logged {
    pub(crate) inner: Recorder<CentralSystem>,
    id: Arc<str>,
    csms: Arc<Csms>,
    /// Who waits for the end of which call of the HTTP API; dropped with the connection.
    pub(crate) waiters: BTreeMap<CallHandle, oneshot::Sender<CallCompleted>>,
    /// Its own connection's handle, for the answers made on the writer thread. The server
    /// ends the driver (and drops this) when the connection ends.
    handle: Handle<Logged>,
    /// Frames received and sent on this connection not yet added to the csms's count: added
    /// when the connection ends, so that connections on different threads do not contend
    /// for one counter on every frame.
    frames: u64,
    /// The time of the last input: a decision made while draining its outputs is made then.
    now: Option<Now>,
}

impl Logged {
    fn frame(&mut self, arrow: &str, text: &str) {
        self.frames += 1;
        if self.csms.log == LogLevel::Full {
            eprintln!("{} {} {arrow} {text}", now_text(), self.id);
        }
    }

    /// Records a request of the station and answers it if the csms decides the answer: at
    /// once if nothing had to be committed, else from the writer thread once it is durable.
    fn on_request(&mut self, request: &Request, answer: Answer) {
        let mut decision = match answer {
            Answer::Decide(decision) => Some(decision),
            Answer::Sent(_) => None,
        };
        let decide = decision.is_some();
        // The time of the input that brought the request (always known: it came on a
        // connection, after `handle_connected`).
        let wall = self
            .now
            .map_or_else(OffsetDateTime::now_utc, |now| now.wall);
        let (response, committing) =
            self.csms
                .record_request(&self.id, request, decide, wall, |response| {
                    let reply = decision.take().zip(response.cloned());
                    let (csms, id, handle) =
                        (self.csms.clone(), self.id.clone(), self.handle.clone());
                    Box::new(move |outcome| committed(&csms, &id, &handle, reply, outcome))
                });
        if committing {
            return;
        }
        if let (Some(decision), Some(response), Some(now)) = (decision, response, self.now) {
            // The decision was made for this very request: it is still awaited.
            let _ = self.inner.reply(now, decision, response);
        }
    }
}

/// The end of a commit on the writer thread: the waiting answer goes out, or the request is
/// refused with an InternalError if the store failed.
fn committed(
    csms: &Csms,
    id: &str,
    handle: &Handle<Logged>,
    reply: Option<(Decision, Response)>,
    outcome: Result<(), String>,
) {
    match outcome {
        Ok(()) => {
            if let Some((decision, response)) = reply {
                // Gone: the connection has ended; nobody waits for the answer any more.
                let _ = handle.run_detached(move |m, now| {
                    let _ = m.inner.reply(now, decision, response);
                });
            }
        }
        Err(error) => {
            csms.counters.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("{} {id} error: {error}", now_text());
            if let Some((decision, _)) = reply {
                let _ = handle.run_detached(move |m, now| {
                    let _ = m.inner.reply_error(
                        now,
                        decision,
                        ErrorCode::InternalError,
                        "storage failure",
                    );
                });
            }
        }
    }
}

impl Machine for Logged {
    type Event = CsEvent;

    fn handle_connected(&mut self, now: Now) {
        self.now = Some(now);
        self.inner.handle_connected(now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.now = Some(now);
        self.inner.handle_disconnected(now);
        let frames = std::mem::take(&mut self.frames);
        self.csms
            .counters
            .frames
            .fetch_add(frames, Ordering::Relaxed);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        self.now = Some(now);
        self.frame("<-", text);
        self.inner.handle_message(now, text);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.now = Some(now);
        self.inner.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<CsEvent>> {
        loop {
            let output = self.inner.poll_output()?;
            match output {
                Output::Transmit(ref text) => self.frame("->", text),
                Output::Event(CsEvent::CallCompleted(ref completed)) => {
                    if let Some(waiter) = self.waiters.remove(&completed.handle) {
                        let _ = waiter.send(completed.clone());
                    }
                    if self.waiters.is_empty() {
                        // An emptied map keeps its node: given back for the idle connection.
                        self.waiters = BTreeMap::new();
                    }
                }
                // Handled here, in the connection's task (see the module docs).
                Output::Event(CsEvent::Request { request, answer }) => {
                    self.on_request(&request, answer);
                    continue;
                }
                Output::Event(CsEvent::NotAccepted { ref request, .. }) => {
                    self.csms.summary(format_args!(
                        "{} sent {} before being accepted: SecurityError",
                        self.id,
                        request.action()
                    ));
                }
                Output::Event(CsEvent::PeerError {
                    ref error,
                    ref answered,
                }) => {
                    self.csms.summary(format_args!(
                        "{} protocol error: {error:?} ({answered:?})",
                        self.id
                    ));
                }
                _ => {}
            }
            return Some(output);
        }
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.inner.poll_timeout()
    }
}

/// Who may connect: everyone (profile 0) or the charge points of an `--auth-keys` file with
/// their password (profile 1).
pub(crate) fn server_config(auth_keys: Option<BTreeMap<String, Vec<u8>>>) -> ServerConfig {
    let mut config = ServerConfig::new([Version::V16]);
    // A station that was killed reconnects before the server notices the old connection is
    // dead: the new connection wins.
    config.duplicate_id = DuplicateId::Replace;
    if let Some(keys) = auth_keys {
        let check = move |c: &Credentials<'_>| match (keys.get(c.charge_point_id), c.password) {
            (Some(expected), Some(given)) if constant_time_eq(expected, given) => Verdict::Allow,
            _ => Verdict::Deny,
        };
        config = config.with_security(ServerSecurity::basic_auth(check));
    }
    config
}

/// A running central system server.
pub(crate) type CsmsServer = ocpp_io_tokio::Server<Logged>;

/// Binds the server on `addr`, its connections served by the current runtime.
pub(crate) async fn bind(
    csms: &Arc<Csms>,
    addr: &str,
    config: ServerConfig,
) -> std::io::Result<CsmsServer> {
    bind_across(csms, vec![tokio::runtime::Handle::current()], addr, config).await
}

/// Binds the server on `addr`, its connections spread over `runtimes` (one single-threaded
/// runtime per core: see `ocpp_io_tokio::bind_across`). Call it from the first runtime.
pub(crate) async fn bind_across(
    csms: &Arc<Csms>,
    runtimes: Vec<tokio::runtime::Handle>,
    addr: &str,
    config: ServerConfig,
) -> std::io::Result<CsmsServer> {
    let factory = csms.clone();
    let server = ocpp_io_tokio::bind_across(
        runtimes,
        addr,
        config,
        move |info: &ConnectionInfo, handle: &Handle<Logged>| {
            factory.machine(&info.charge_point_id, handle)
        },
        |_: &ConnectionInfo| -> Box<dyn Persister> { Box::new(NoPersist) },
    )
    .await?;
    csms.live.watch(&server);
    Ok(server)
}

/// Takes over a connection the server accepted: its machine does all the work in the
/// connection's own task (see [`Logged`]) and the HTTP API finds it in the server's registry;
/// with logging on, a task of its own logs why it ended.
pub(crate) fn accept(csms: &Arc<Csms>, connection: Connection<Logged>) {
    let Connection {
        info,
        handle,
        mut events,
    } = connection;
    let id = info.charge_point_id;
    csms.summary(format_args!(
        "{id} connected from {} ({})",
        info.peer, info.security_profile
    ));
    drop(handle);
    if csms.log == LogLevel::Off {
        // Nobody listens: the driver stops producing events.
        return;
    }
    let csms = csms.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if let Event::Disconnected(reason) = event {
                csms.summary(format_args!("{id} disconnected: {reason:?}"));
            }
        }
    });
}
