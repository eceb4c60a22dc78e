//! A real Charge Point process, killed with SIGKILL at random points, loses and duplicates no
//! transaction.
//!
//! The child process runs the 1.6 Charge Point role (`ocpp_core::charge_point`) with its redb
//! store (`ocpp-store`) over a real WebSocket (`ocpp-io-tokio`) and does charging sessions in a
//! loop. The parent runs a central system on loopback, kills the child at random instants (in
//! the middle of a session, of a send, of a store commit) and starts it again on the same
//! store, a bounded number of times, then lets a last child run until its queue is empty.
//!
//! At-least-once delivery means a message acknowledged by the central system may be sent again
//! if the station dies before it has recorded the acknowledgement; the central system
//! recognises a retransmitted StartTransaction by its content and a repeated StopTransaction
//! by its transaction and time (as OCPP 1.6 section 4.8 and 4.10 expect of it). What must hold
//! after deduplication: every transaction that started has exactly one stop, in order (the
//! next start on the connector comes after the previous stop), none is lost, and every
//! transaction's meter values are complete (a stop reading at or above its start).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{ChargePoint, ChargePointConfig};
use ocpp_core::persist::StoreOp;
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent, UuidV4Ids};
use ocpp_core::v16::BootNotificationRequest;
use ocpp_io_tokio::{Backoff, ClientConfig, DuplicateId, Event, PersistError, ServerConfig};
use ocpp_store::{RecordStore, RedbStore};
use serde_json::{Value, json};

const CHILD_ENV: &str = "OCPP_CP_CRASH_CHILD";
const FINISH_ENV: &str = "OCPP_CP_CRASH_FINISH";
const KILLS: u32 = 10;

/// What the central system saw, after deduplication.
#[derive(Debug, Default)]
struct Ledger {
    /// Start content (connector, idTag, meterStart, timestamp) -> transaction id.
    starts: BTreeMap<(i64, String, i64, String), i64>,
    meter_start: BTreeMap<i64, i64>,
    /// Transaction id -> (meterStop, timestamp, reason), applied once.
    stops: BTreeMap<i64, (i64, String, Option<String>)>,
    /// The order transactions were started and stopped in: (transaction id, is_stop).
    order: Vec<(i64, bool)>,
    received_starts: u32,
    received_stops: u32,
    next_id: i64,
}

impl Ledger {
    fn answer(&mut self, action: &str, payload: &Value) -> Value {
        let now = ocpp_core::primitives::datetime::format(time::OffsetDateTime::now_utc());
        match action {
            "BootNotification" => {
                json!({"status": "Accepted", "currentTime": now, "interval": 300})
            }
            "Heartbeat" => json!({"currentTime": now}),
            "StartTransaction" => {
                self.received_starts += 1;
                let key = (
                    payload["connectorId"].as_i64().unwrap(),
                    payload["idTag"].as_str().unwrap().to_owned(),
                    payload["meterStart"].as_i64().unwrap(),
                    payload["timestamp"].as_str().unwrap().to_owned(),
                );
                let id = match self.starts.get(&key) {
                    Some(id) => *id,
                    None => {
                        self.next_id += 1;
                        let id = self.next_id;
                        self.meter_start.insert(id, key.2);
                        self.starts.insert(key, id);
                        self.order.push((id, false));
                        id
                    }
                };
                json!({"transactionId": id, "idTagInfo": {"status": "Accepted"}})
            }
            "StopTransaction" => {
                self.received_stops += 1;
                let id = payload["transactionId"].as_i64().unwrap();
                let stop = (
                    payload["meterStop"].as_i64().unwrap(),
                    payload["timestamp"].as_str().unwrap().to_owned(),
                    payload["reason"].as_str().map(str::to_owned),
                );
                match self.stops.get(&id) {
                    Some(applied) => assert_eq!(applied, &stop, "two different stops of {id}"),
                    None => {
                        self.stops.insert(id, stop);
                        self.order.push((id, true));
                    }
                }
                json!({"idTagInfo": {"status": "Accepted"}})
            }
            _ => json!({}),
        }
    }
}

/// The child: a charge point with a redb store doing sessions until killed (or, with
/// `OCPP_CP_CRASH_FINISH`, a few sessions and then until everything is delivered).
#[test]
fn child_process() {
    let Some(arguments) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let arguments = arguments.into_string().unwrap();
    let (path, url) = arguments.split_once('|').unwrap();
    let finish = std::env::var_os(FINISH_ENV).is_some();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run_child(Path::new(path), url, finish));
}

async fn run_child(path: &Path, url: &str, finish: bool) {
    let mut store = RedbStore::open(path).expect("child: open the store");
    let snapshot = store.load().expect("child: load the store");
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "1")
        .initial(StandardKey::TransactionMessageRetryInterval, "1")
        .build()
        .unwrap();
    let boot = BootNotificationRequest::new("Crash", "Test");
    let mut config = ChargePointConfig::new(boot, definitions);
    config.rpc.call_timeout = Duration::from_secs(5);
    let machine = ChargePoint::new(config, Box::new(UuidV4Ids), &snapshot).expect("child: restore");
    let persister = move |ops: &[StoreOp]| store.apply(ops).map_err(PersistError::new);
    let mut client_config = ClientConfig::new(url, "CP-CRASH", [Version::V16]);
    client_config.reconnect = Some(Backoff {
        wait_minimum: Duration::from_millis(50),
        random_range: Duration::from_millis(50),
        repeat_times: 2,
    });
    let client = ocpp_io_tokio::connect_with_persister(client_config, machine, Box::new(persister));
    let (handle, mut events, _done) = client.split();
    // Events are not needed, but the stream must be drained.
    tokio::spawn(async move { while events.next().await.is_some() {} });

    let sessions = if finish { 3 } else { u32::MAX };
    for _ in 0..sessions {
        let clock = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let tag = format!("T{}", clock % 1_000_000_000_000);
        let meter = i32::try_from((clock / 1_000_000) % 1_000_000_000).unwrap();
        let started = handle
            .run(move |cp, now| cp.start_transaction(now, 1, tag, meter, None))
            .await
            .unwrap();
        assert!(started.is_ok(), "child: start: {started:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
        handle
            .run(move |cp, _| cp.report_meter(1, meter + 250))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        handle
            .run(move |cp, now| cp.stop_transaction(now, 1, meter + 500, None, None))
            .await
            .unwrap()
            .unwrap();
    }
    loop {
        let left = handle
            .run(|cp, _| cp.queued_transaction_messages())
            .await
            .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "\ndrained").unwrap();
    out.flush().unwrap();
}

fn spawn_child(path: &Path, url: &str, finish: bool) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{}|{url}", path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if finish {
        command.env(FINISH_ENV, "1");
    }
    command.spawn().expect("spawn the child")
}

/// A small xorshift generator: varied kill points, not good randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_point_killed_at_random_points_loses_and_duplicates_no_transaction() {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut server_config = ServerConfig::new([Version::V16]);
    server_config.duplicate_id = DuplicateId::Replace;
    let mut server = ocpp_io_tokio::bind("127.0.0.1:0", server_config, |_| {
        Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()))
    })
    .await
    .unwrap();
    let url = format!("ws://{}", server.local_addr());
    let central_system = ledger.clone();
    tokio::spawn(async move {
        while let Some(connection) = server.next_connection().await {
            let ledger = central_system.clone();
            let handle = connection.handle;
            let mut events = connection.events;
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    if let Event::Machine(RpcEvent::Call(call)) = event {
                        let answer = ledger
                            .lock()
                            .unwrap()
                            .answer(call.action.as_str(), &call.payload);
                        let _ = handle
                            .run(move |endpoint, now| endpoint.respond(now, &call.id, answer))
                            .await;
                    }
                }
            });
        }
    });

    let dir = std::env::temp_dir().join(format!("ocpp-cp-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("station.redb");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    for _ in 0..KILLS {
        let mut child = spawn_child(&path, &url, false);
        tokio::time::sleep(Duration::from_millis(200 + rng.below(900))).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let child = spawn_child(&path, &url, true);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "the last child failed");
    assert!(String::from_utf8_lossy(&output.stdout).contains("drained"));

    let ledger = ledger.lock().unwrap();
    eprintln!(
        "{} transactions; {} StartTransaction and {} StopTransaction received (retransmissions \
         included)",
        ledger.starts.len(),
        ledger.received_starts,
        ledger.received_stops
    );
    assert!(ledger.starts.len() >= 3, "the sessions ran");
    // Every transaction has exactly one stop, and starts and stops alternate in order.
    assert_eq!(ledger.stops.len(), ledger.starts.len(), "a stop is missing");
    assert!(
        !ledger.stops.contains_key(&-1),
        "no transaction lost its id"
    );
    for pair in ledger.order.chunks(2) {
        match pair {
            [(started, false), (stopped, true)] => assert_eq!(started, stopped),
            other => panic!("out of order: {other:?} in {:?}", ledger.order),
        }
    }
    // Meter values complete: every stop reading at or above its start.
    for (id, (meter_stop, _, _)) in &ledger.stops {
        assert!(*meter_stop >= ledger.meter_start[id], "transaction {id}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
