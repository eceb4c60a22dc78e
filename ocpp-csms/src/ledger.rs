//! The [`Ledger`]: the state shared by every connection, and the decisions made from it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ocpp_core::central_system::{CentralSystemConfig, CentralSystemPolicy, Registration};
use ocpp_core::primitives::datetime;
use ocpp_core::v16::{
    Action, AuthorizeResponse, BootNotificationResponse, MeterValue, MeterValuesResponse,
    RegistrationStatus, Request, Response, StartTransactionRequest, StartTransactionResponse,
    StopTransactionRequest, StopTransactionResponse,
};
use time::OffsetDateTime;

use crate::embedded::{connector_change, station_change};
use crate::store::{Change, Done, Store};
use crate::{CsmsError, IdTags, Notice, Station, Transaction};

/// Who is told of the ledger's [`Notice`]s; it runs under the ledger's lock, so it must be
/// quick (write a line, bump a counter).
pub type Notifier = Box<dyn Fn(&Notice<'_>) + Send + Sync>;

/// What the ledger decides with.
pub struct LedgerConfig {
    /// Which id tags may charge.
    pub id_tags: IdTags,
    /// The heartbeat interval every accepted station is given, seconds.
    pub heartbeat_interval: i32,
    /// Who is told of what the ledger does (nobody: nothing is built).
    pub notices: Option<Notifier>,
}

impl Default for LedgerConfig {
    /// Every id tag accepted, a heartbeat every 300 s, no notices.
    fn default() -> LedgerConfig {
        LedgerConfig {
            id_tags: IdTags::AcceptAll,
            heartbeat_interval: 300,
            notices: None,
        }
    }
}

impl std::fmt::Debug for LedgerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerConfig")
            .field("id_tags", &self.id_tags)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("notices", &self.notices.is_some())
            .finish()
    }
}

/// What was restored when the ledger opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Stations known.
    pub stations: usize,
    /// Transactions known.
    pub transactions: usize,
    /// Of those, the ones not stopped.
    pub open: usize,
    /// The id the next new transaction gets.
    pub next_transaction_id: i32,
}

/// What [`Ledger::handle_request`] did with the answer.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Handled {
    /// Nothing had to be made durable: send this answer now (`None`: the machine answered
    /// on its own, or nothing is decided here).
    Now(Option<Response>),
    /// The records went to the store with the answer: the [`Done`] built for it runs once
    /// they are durable.
    AfterCommit,
}

/// What identifies a StartTransaction, so that a retransmission is recognised: station,
/// connector, idTag, meterStart and timestamp.
type StartKey = (String, i32, String, i32, String);

struct State {
    /// Boxed, so that the map's nodes hold pointers, not half-empty slots of whole records.
    stations: BTreeMap<String, Box<Station>>,
    transactions: BTreeMap<i32, Transaction>,
    starts: BTreeMap<StartKey, i32>,
    next_id: i32,
}

/// The central system's stations and transactions, shared by every connection; see the
/// [crate docs](crate).
///
/// Every method takes `&self`: the ledger is shared (in an `Arc`) by the threads that serve
/// the connections, and holds one lock for the short time a request takes to record.
pub struct Ledger {
    state: Mutex<State>,
    /// Called under `state`'s lock, so that the store sees the changes in the order the
    /// ledger made them.
    store: Box<dyn Store>,
    id_tags: IdTags,
    heartbeat_interval: i32,
    notices: Option<Notifier>,
    repeated_starts: AtomicU64,
    repeated_stops: AtomicU64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Ledger")
            .field("stations", &state.stations.len())
            .field("transactions", &state.transactions.len())
            .field("next_id", &state.next_id)
            .finish_non_exhaustive()
    }
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

/// `candidate`, or the first id after it that no transaction has (1 to `i32::MAX`, wrapping
/// to 1), so that an id is never given twice even after the counter wraps.
fn free_id(transactions: &BTreeMap<i32, Transaction>, candidate: i32) -> i32 {
    let mut id = candidate.max(1);
    // At most one step per transaction known: bounded.
    for _ in 0..=transactions.len() {
        if !transactions.contains_key(&id) {
            break;
        }
        id = id.checked_add(1).unwrap_or(1);
    }
    id
}

/// `transaction` without its meter values: what its record holds (they are appended).
fn header(transaction: &Transaction) -> Transaction {
    Transaction {
        id: transaction.id,
        station: transaction.station.clone(),
        connector: transaction.connector,
        id_tag: transaction.id_tag.clone(),
        meter_start: transaction.meter_start,
        started: transaction.started.clone(),
        meter_stop: transaction.meter_stop,
        stopped: transaction.stopped.clone(),
        stop_reason: transaction.stop_reason.clone(),
        meter_values: Vec::new(),
    }
}

/// Appends the values `transaction` does not hold yet (a station sends a MeterValues again
/// when it did not get the answer, 1.6 section 3.7) and returns the change that appends
/// them, if any.
fn add_meter_values(transaction: &mut Transaction, values: &[MeterValue]) -> Option<Change> {
    let first = transaction.meter_values.len();
    for value in values {
        if !transaction.meter_values.contains(value) {
            transaction.meter_values.push(value.clone());
        }
    }
    let added = transaction.meter_values.get(first..).unwrap_or_default();
    (!added.is_empty()).then(|| Change::MeterValues {
        transaction: transaction.id,
        first,
        values: added.to_vec(),
    })
}

impl Ledger {
    /// Loads everything `store` holds and starts the ledger on it.
    ///
    /// # Errors
    ///
    /// The store's: it cannot be read, a record is unreadable or of a newer version. The
    /// ledger never starts empty in place of a store it cannot read.
    pub fn open(
        mut store: Box<dyn Store>,
        config: LedgerConfig,
    ) -> Result<(Ledger, Restored), CsmsError> {
        let stored = store.load()?;
        let mut stations = BTreeMap::new();
        for station in stored.stations {
            stations.insert(station.id.clone(), Box::new(station));
        }
        let mut transactions = BTreeMap::new();
        let mut starts = BTreeMap::new();
        for transaction in stored.transactions {
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
        let after_last = transactions
            .keys()
            .next_back()
            .map_or(1, |id: &i32| id.checked_add(1).unwrap_or(1));
        let next_id = free_id(
            &transactions,
            stored.next_transaction_id.unwrap_or(after_last),
        );
        let restored = Restored {
            stations: stations.len(),
            transactions: transactions.len(),
            open: transactions.values().filter(|t| t.is_active()).count(),
            next_transaction_id: next_id,
        };
        let ledger = Ledger {
            state: Mutex::new(State {
                stations,
                transactions,
                starts,
                next_id,
            }),
            store,
            id_tags: config.id_tags,
            heartbeat_interval: config.heartbeat_interval,
            notices: config.notices,
            repeated_starts: AtomicU64::new(0),
            repeated_stops: AtomicU64::new(0),
        };
        Ok((ledger, restored))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notice(&self, notice: Notice<'_>) {
        if let Some(notices) = &self.notices {
            notices(&notice);
        }
    }

    /// The Central System machine's configuration for a new connection of
    /// `charge_point_id`: which requests the ledger decides, and the station's registration
    /// (a station that booted before is Accepted at once, 1.6 section 4.2).
    ///
    /// The caller adds what is its own (the RPC call timeout, say) and builds the machine;
    /// each request the machine reports goes to [`handle_request`](Ledger::handle_request).
    pub fn central_system_config(&self, charge_point_id: &str) -> CentralSystemConfig {
        let mut config = CentralSystemConfig::new(charge_point_id);
        let policy = CentralSystemPolicy::default()
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
        config.policy = if self.id_tags.accepts_all() {
            policy.automatic(Action::Authorize)
        } else {
            policy.ask(Action::Authorize)
        };
        if self.is_registered(charge_point_id) {
            config.registration = Registration::Accepted;
        }
        config
    }

    /// Records what `request` of `station`, received at `now`, tells and, if `decide` (the
    /// machine asked for the answer), decides the answer.
    ///
    /// When records changed, they go to the store, and `after_commit` is called once, with
    /// the answer, to build the [`Done`] the store runs when they are durable: send the
    /// answer from there (or the failure), never before. It is called under the ledger's
    /// lock: it should only package what it needs. Otherwise nothing is committed and
    /// `after_commit` is not called: the answer comes back in [`Handled::Now`].
    pub fn handle_request(
        &self,
        station: &str,
        now: OffsetDateTime,
        request: &Request,
        decide: bool,
        after_commit: impl FnOnce(Option<Response>) -> Done,
    ) -> Handled {
        let mut guard = self.state();
        let state = &mut *guard;
        let mut changes = Vec::new();
        // Looked up before it is inserted: no key to allocate on every request.
        let entry = match state.stations.get_mut(station) {
            Some(entry) => entry,
            None => state
                .stations
                .entry(station.to_owned())
                .or_insert_with(|| Box::new(Station::new(station))),
        };
        entry.last_seen = Some(now);
        let mut response = None;
        let mut connector = None;
        match request {
            Request::BootNotification(boot) => {
                entry.boot = Some(Arc::new(boot.clone()));
                self.notice(Notice::Booted {
                    station,
                    vendor: &boot.charge_point_vendor,
                    model: &boot.charge_point_model,
                });
                if decide {
                    response = Some(Response::from(BootNotificationResponse {
                        status: RegistrationStatus::Accepted,
                        current_time: now,
                        interval: self.heartbeat_interval,
                    }));
                }
            }
            Request::StatusNotification(status) => {
                entry.connectors.insert(status.connector_id, status.clone());
                connector = Some(status.connector_id);
            }
            Request::Authorize(authorize) if decide => {
                let id_tag_info = self.id_tags.verdict(&authorize.id_tag, now);
                self.notice(Notice::Authorized {
                    station,
                    id_tag: &authorize.id_tag,
                    status: id_tag_info.status,
                });
                response = Some(Response::from(AuthorizeResponse { id_tag_info }));
            }
            Request::StartTransaction(start) if decide => {
                let id_tag_info = self.id_tags.verdict(&start.id_tag, now);
                let key = start_key(station, start);
                let id = match state.starts.get(&key) {
                    Some(&id) => {
                        self.repeated_starts.fetch_add(1, Ordering::Relaxed);
                        self.notice(Notice::RepeatedStart {
                            station,
                            transaction: id,
                        });
                        id
                    }
                    None => {
                        let id = state.next_id;
                        let transaction = Transaction {
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
                        changes.push(Change::Transaction(header(&transaction)));
                        state.transactions.insert(id, transaction);
                        state.starts.insert(key, id);
                        state.next_id =
                            free_id(&state.transactions, id.checked_add(1).unwrap_or(1));
                        changes.push(Change::NextTransactionId(state.next_id));
                        self.notice(Notice::Started {
                            station,
                            transaction: id,
                            connector: start.connector_id,
                            id_tag: &start.id_tag,
                            meter_start: start.meter_start,
                            status: id_tag_info.status,
                        });
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
                connector = Some(values.connector_id);
                if let Some(transaction) = values
                    .transaction_id
                    .and_then(|id| state.transactions.get_mut(&id))
                {
                    changes.extend(add_meter_values(transaction, &values.meter_value));
                }
                if decide {
                    response = Some(Response::from(MeterValuesResponse {}));
                }
            }
            Request::StopTransaction(stop) if decide => {
                self.apply_stop(&mut state.transactions, station, stop, &mut changes);
                let id_tag_info = stop
                    .id_tag
                    .as_deref()
                    .map(|tag| self.id_tags.verdict(tag, now));
                response = Some(Response::from(StopTransactionResponse { id_tag_info }));
            }
            _ => {}
        }
        // A Heartbeat changes only `last_seen`: not worth a commit (see the crate docs).
        if !matches!(request, Request::Heartbeat(_))
            && let Some(entry) = state.stations.get(station)
        {
            changes.push(station_change(entry));
            if let Some(connector) = connector {
                changes.push(connector_change(entry, connector));
            }
        }
        if changes.is_empty() {
            return Handled::Now(response);
        }
        self.store.commit(changes, after_commit(response));
        Handled::AfterCommit
    }

    fn apply_stop(
        &self,
        transactions: &mut BTreeMap<i32, Transaction>,
        station: &str,
        stop: &StopTransactionRequest,
        changes: &mut Vec<Change>,
    ) {
        let id = stop.transaction_id;
        let Some(transaction) = transactions.get_mut(&id) else {
            // A station whose StartTransaction never got through stops with id -1 (or an id
            // of another central system); acknowledged, as section 4.10 requires.
            self.notice(Notice::UnknownStop {
                station,
                transaction: id,
            });
            return;
        };
        if !transaction.is_active() {
            self.repeated_stops.fetch_add(1, Ordering::Relaxed);
            self.notice(Notice::RepeatedStop {
                station,
                transaction: id,
            });
            return;
        }
        transaction.meter_stop = Some(stop.meter_stop);
        let appended = add_meter_values(
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
        self.notice(Notice::Stopped {
            station,
            transaction: id,
            energy_wh: i64::from(stop.meter_stop) - i64::from(transaction.meter_start),
            reason: &reason,
        });
        transaction.stop_reason = Some(reason);
        changes.push(Change::Transaction(header(transaction)));
        changes.extend(appended);
    }

    /// Whether `charge_point_id` booted (here or before a restart), and so is accepted.
    pub fn is_registered(&self, charge_point_id: &str) -> bool {
        self.state()
            .stations
            .get(charge_point_id)
            .is_some_and(|station| station.is_registered())
    }

    /// Every station, by id.
    pub fn stations(&self) -> Vec<Station> {
        self.state()
            .stations
            .values()
            .map(|station| (**station).clone())
            .collect()
    }

    /// The station `id`, if known.
    pub fn station(&self, id: &str) -> Option<Station> {
        self.state()
            .stations
            .get(id)
            .map(|station| (**station).clone())
    }

    /// How many stations are known.
    pub fn station_count(&self) -> usize {
        self.state().stations.len()
    }

    /// Every transaction, by id.
    pub fn transactions(&self) -> Vec<Transaction> {
        self.state().transactions.values().cloned().collect()
    }

    /// The transaction `id`, if known.
    pub fn transaction(&self, id: i32) -> Option<Transaction> {
        self.state().transactions.get(&id).cloned()
    }

    /// The id the next new transaction gets.
    pub fn next_transaction_id(&self) -> i32 {
        self.state().next_id
    }

    /// How many StartTransactions were recognised as retransmissions since the ledger opened.
    pub fn repeated_starts(&self) -> u64 {
        self.repeated_starts.load(Ordering::Relaxed)
    }

    /// How many StopTransactions of a transaction stopped already came since the ledger
    /// opened.
    pub fn repeated_stops(&self) -> u64 {
        self.repeated_stops.load(Ordering::Relaxed)
    }
}
