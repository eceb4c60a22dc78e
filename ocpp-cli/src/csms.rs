//! The central system of `ocpp csms` and `ocpp demo`: one `CentralSystem` machine per
//! connection on an ocpp-io-tokio server, deciding with the `ocpp_csms` [`Ledger`] of
//! stations and transactions kept in a redb file.
//!
//! The machines answer the protocol (Heartbeat, the notifications); the ledger makes the
//! business decisions they ask for and makes them durable before they are answered (see
//! `ocpp_csms`). This module binds the two to the network and the terminal: it builds each
//! connection's machine, hands the machine's requests to the ledger, sends the answers back,
//! logs, counts and records traces.
//!
//! Everything a connection needs happens in its own task, inside its machine ([`Logged`]):
//! the requests are recorded while the machine's outputs are drained, and an answer that
//! waits for a commit is handed back to the machine by the store's writer thread through the
//! connection's handle. So an idle connection costs the central system no task, channel or
//! buffer of its own beyond its machine and its station record (issue #7 asks for at most
//! 4 KiB per idle station, all included). The calls of the REST API wait in the machine's
//! [`Awaiting`] wrapper for their outcome.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use ocpp_core::ErrorCode;
use ocpp_core::Version;
use ocpp_core::central_system::{
    Answer, CentralSystem, CentralSystemSetup, Decision, Event as CsEvent,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::primitives::datetime;
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::trace::{Recorder, TraceSink};
use ocpp_core::v16::{Request, Response};
use ocpp_csms::{
    CommitError, CsmsError, EmbeddedStore, Handled, IdTags, Ledger, LedgerConfig, Restored,
};
use ocpp_io_tokio::{
    Awaiting, BasicAuthPassword, Connection, ConnectionInfo, Connections, Credentials, DuplicateId,
    Event, Handle, NoPersist, Persister, ServerConfig, ServerSecurity, Verdict,
};
use time::OffsetDateTime;

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

/// Reads an `--id-tags` file: a JSON array of `{"idTag", "status", "expiryDate"?,
/// "parentIdTag"?}`.
pub(crate) fn read_id_tags(path: &Path) -> Result<IdTags, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    IdTags::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
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

/// Counts of what the connections did, for summaries (the ledger counts the
/// retransmissions it recognised).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Frames received and sent, over all connections that have ended.
    pub(crate) frames: AtomicU64,
    /// Requests answered with a CallError because the store failed.
    pub(crate) errors: AtomicU64,
}

/// The machine of every connection: the role, with the REST API's waits.
pub(crate) type ConnectionMachine = Awaiting<Logged>;

/// The connected stations, as the server's own registry knows them: set once the server is
/// bound (before it is, nothing is connected).
#[derive(Default)]
pub(crate) struct Live {
    connections: std::sync::OnceLock<Connections<ConnectionMachine>>,
}

impl Live {
    /// Reads the connections of `server` from now on.
    fn watch(&self, server: &CsmsServer) {
        let _ = self.connections.set(server.connections());
    }

    /// The handle of `id`'s connection, if it is connected.
    pub(crate) fn get(&self, id: &str) -> Option<Handle<ConnectionMachine>> {
        self.connections.get()?.get(id)
    }

    /// The ids of the connected stations.
    pub(crate) fn ids(&self) -> std::collections::BTreeSet<String> {
        self.connections
            .get()
            .map(|connections| connections.ids().into_iter().collect())
            .unwrap_or_default()
    }
}

/// The central system: the ledger, and what the CLI adds around it.
pub(crate) struct Csms {
    /// Stations, transactions and the decisions made from them.
    pub(crate) ledger: Ledger,
    /// The connected stations, for the HTTP API.
    pub(crate) live: Live,
    /// How long a call to a station waits for its answer, ms (`--call-timeout`).
    call_timeout_ms: AtomicU64,
    log: LogLevel,
    pub(crate) counters: Counters,
    /// Where each connection's trace goes (`--trace DIR`), if anywhere.
    trace_dir: std::sync::OnceLock<std::path::PathBuf>,
}

fn now_text() -> String {
    datetime::format(OffsetDateTime::now_utc())
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
        let describe = |error: CsmsError| match error {
            CsmsError::Store(error) => error.to_string(),
            other => format!("store {}: {other}", path.display()),
        };
        let store = EmbeddedStore::open(path).map_err(describe)?;
        let notices: Option<ocpp_csms::Notifier> = (log != LogLevel::Off).then(|| {
            Box::new(|notice: &ocpp_csms::Notice<'_>| eprintln!("{} {notice}", now_text())) as _
        });
        let config = LedgerConfig {
            id_tags,
            notices,
            ..LedgerConfig::default()
        };
        let (ledger, restored) = Ledger::open(Box::new(store), config).map_err(describe)?;
        let csms = Csms {
            ledger,
            live: Live::default(),
            call_timeout_ms: AtomicU64::new(30_000),
            log,
            counters: Counters::default(),
            trace_dir: std::sync::OnceLock::new(),
        };
        Ok((Arc::new(csms), restored))
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

    fn summary(&self, line: std::fmt::Arguments<'_>) {
        if self.log != LogLevel::Off {
            eprintln!("{} {line}", now_text());
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

    /// The machine for a new connection of `charge_point_id`, configured by the ledger (a
    /// station that was accepted before does not boot again after a mere reconnect).
    fn machine(
        self: &Arc<Self>,
        charge_point_id: &str,
        handle: &Handle<ConnectionMachine>,
    ) -> ConnectionMachine {
        let mut config = self.ledger.central_system_config(charge_point_id);
        config.rpc.call_timeout = self.call_timeout();
        // A setup made from a configuration always builds (unit tested in ocpp-core).
        let inner = Recorder::new(
            &CentralSystemSetup::of(&config),
            Box::new(UuidV4Ids),
            self.trace_sink(charge_point_id),
        )
        .expect("the setup of a configuration builds");
        Awaiting::new(Logged {
            inner,
            id: Arc::from(charge_point_id),
            csms: self.clone(),
            handle: handle.clone(),
            frames: 0,
            now: None,
        })
    }
}

/// A `CentralSystem` that logs and counts the frames it receives and sends, and records and
/// answers the requests the ledger decides, all within its connection's own task: an idle
/// connection has no task or channel of the application's.
pub(crate) struct Logged {
    pub(crate) inner: Recorder<CentralSystem>,
    id: Arc<str>,
    csms: Arc<Csms>,
    /// Its own connection's handle, for the answers made on the writer thread. The server
    /// ends the driver (and drops this) when the connection ends.
    handle: Handle<ConnectionMachine>,
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

    /// Records a request of the station and answers it if the ledger decides the answer: at
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
        let handled =
            self.csms
                .ledger
                .handle_request(&self.id, wall, request, decide, |response| {
                    let reply = decision.take().zip(response);
                    let (csms, id, handle) =
                        (self.csms.clone(), self.id.clone(), self.handle.clone());
                    Box::new(move |outcome| committed(&csms, &id, &handle, reply, outcome))
                });
        if let (Handled::Now(Some(response)), Some(decision), Some(now)) =
            (handled, decision, self.now)
        {
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
    handle: &Handle<ConnectionMachine>,
    reply: Option<(Decision, Response)>,
    outcome: Result<(), CommitError>,
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
pub(crate) type CsmsServer = ocpp_io_tokio::Server<ConnectionMachine>;

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
        move |info: &ConnectionInfo, handle: &Handle<ConnectionMachine>| {
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
pub(crate) fn accept(csms: &Arc<Csms>, connection: Connection<ConnectionMachine>) {
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
