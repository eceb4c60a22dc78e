//! Runs `ocpp load` as a user would: against `ocpp csms` (a child process) and against an
//! in-process central system that misbehaves on purpose, and checks the counts of its JSON
//! report and its exit status.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::{ErrorCode, Version};
use ocpp_io_tokio::{Event, ServerConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ocpp");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `ocpp load args...` (at most a minute) and returns its output.
fn load(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("load")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ocpp binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ocpp load ran for more than a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    assert!(
        !text(&output.stderr).contains("panicked"),
        "{}",
        text(&output.stderr)
    );
    output
}

/// The JSON report of a run that exited with `code`.
fn report(output: &Output, code: i32) -> Value {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// A running `ocpp csms --accept-all`.
struct Csms {
    child: Child,
    url: String,
    /// Its second line: what it restored from the store.
    restored: String,
}

impl Csms {
    /// Starts one on a fresh store.
    fn start(name: &str) -> Csms {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("load-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Csms::start_on(&dir.join("csms.redb"))
    }

    /// Starts one on the store `db`, new or not.
    fn start_on(db: &std::path::Path) -> Csms {
        let mut child = Command::new(BIN)
            .args([
                "csms",
                "--listen",
                "127.0.0.1:0",
                "--accept-all",
                "--log",
                "off",
            ])
            .arg("--db")
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ocpp csms runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (mut first, mut restored) = (String::new(), String::new());
        stdout
            .read_line(&mut first)
            .and_then(|_| stdout.read_line(&mut restored))
            .expect("the csms says where it listens and what it restored");
        child.stdout = Some(stdout.into_inner());
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .expect("listening on ws://...")
            .to_owned();
        Csms {
            child,
            url,
            restored,
        }
    }

    /// Stops it (SIGTERM) and returns its summary.
    fn stop(self) -> String {
        let status = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
        let output = self.child.wait_with_output().expect("the csms exits");
        text(&output.stdout)
    }
}

#[test]
fn round_trips_against_the_csms_are_counted_and_seen_by_the_server() {
    let csms = Csms::start("round-trips");
    let output = load(&[
        "--url",
        &csms.url,
        "--stations",
        "3",
        "--duration",
        "60",
        "--round-trips",
        "40",
        "--calls",
        "heartbeat,authorize,status-notification,meter-values",
        "--server-pid",
        &csms.child.id().to_string(),
        "--json",
    ]);
    let report = report(&output, 0);
    assert_eq!(report["mode"], "round-trips");
    assert_eq!(report["connected"], 3);
    assert_eq!(report["booted"], 3);
    // The cap ends the phase long before the duration.
    assert_eq!(report["round_trips"], 40);
    assert_eq!(report["errors"]["total"], 0);
    assert!(report["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert!(report["latency_ms"]["max"].as_f64() >= report["latency_ms"]["p99"].as_f64());
    assert!(report["phase_seconds"].as_f64().unwrap() < 60.0);
    assert!(report["server"]["rss_kib_end"].as_u64().unwrap() > 0);
    assert!(report["server"]["cpu_us_per_round_trip"].as_f64().is_some());
    // The server saw every frame: 3 boots and 40 round trips, a request and an answer each.
    let summary = csms.stop();
    assert!(
        summary.contains("frames: 86"),
        "the csms counted other frames: {summary}"
    );
    assert!(summary.contains("stations: 3"), "{summary}");
}

#[test]
fn a_boot_storm_reports_when_the_last_boot_was_answered() {
    let csms = Csms::start("boot-storm");
    let output = load(&[
        "--url",
        &csms.url,
        "--stations",
        "50",
        "--mode",
        "boot-storm",
        "--json",
    ]);
    let report = report(&output, 0);
    assert_eq!(report["mode"], "boot-storm");
    assert_eq!(report["booted"], 50);
    assert_eq!(report["round_trips"], 0);
    let boot = report["boot_seconds"].as_f64().unwrap();
    assert!(boot > 0.0 && boot >= report["connect_seconds"].as_f64().unwrap());
    csms.stop();
}

/// The csms commits the boots of many stations together (group commit); each is durable
/// before its answer, so a restarted csms knows every station that was answered and does not
/// make an accepted station boot again after a mere reconnect (OCPP 1.6 section 4.2).
#[test]
fn every_station_of_a_boot_storm_is_restored_after_a_restart() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load-durable-storm");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let db = dir.join("csms.redb");
    let csms = Csms::start_on(&db);
    let output = load(&[
        "--url",
        &csms.url,
        "--stations",
        "200",
        "--mode",
        "boot-storm",
        "--json",
    ]);
    assert_eq!(report(&output, 0)["booted"], 200);
    // Killed, not stopped: only what was committed survives.
    let mut child = csms.child;
    child.kill().expect("kill");
    child.wait().expect("the csms exits");
    let csms = Csms::start_on(&db);
    assert!(
        csms.restored.starts_with("restored 200 stations"),
        "{}",
        csms.restored
    );
    csms.stop();
}

#[test]
fn idle_stations_ramped_up_stay_connected_for_the_hold() {
    let csms = Csms::start("idle");
    let output = load(&[
        "--url",
        &csms.url,
        "--stations",
        "20",
        "--rate",
        "100",
        "--mode",
        "idle",
        "--duration",
        "0.5",
        "--server-pid",
        &csms.child.id().to_string(),
        "--json",
    ]);
    let report = report(&output, 0);
    assert_eq!(report["booted"], 20);
    // Station 19 starts 0.19 s after the first at 100 connects per second.
    assert!(report["connect_seconds"].as_f64().unwrap() >= 0.19);
    assert!(report["phase_seconds"].as_f64().unwrap() >= 0.5);
    assert!(report["server"]["rss_bytes_per_station"].as_f64().is_some());
    csms.stop();
}

/// A central system that gets things wrong on purpose: it accepts the boots of stations with
/// an even number and rejects the others, answers Heartbeat with a CallError, never answers
/// Authorize, and answers StatusNotification with a payload its schema forbids.
fn faulty_central_system() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let endpoint = || {
                let mut config = EndpointConfig::v16();
                config.validate_sent = false;
                Endpoint::new(config, Box::new(CounterIds::default()))
            };
            let mut server = ocpp_io_tokio::bind(
                "127.0.0.1:0",
                ServerConfig::new([Version::V16]),
                move |_| endpoint(),
            )
            .await
            .expect("bind");
            tx.send(format!("ws://{}", server.local_addr()))
                .expect("send");
            while let Some(mut connection) = server.next_connection().await {
                let even = connection
                    .info
                    .charge_point_id
                    .ends_with(['0', '2', '4', '6', '8']);
                tokio::spawn(async move {
                    while let Some(event) = connection.events.next().await {
                        let Event::Machine(RpcEvent::Call(call)) = event else {
                            continue;
                        };
                        let id = call.id.clone();
                        let _ = connection
                            .handle
                            .run(move |ep, now| match call.action.as_str() {
                                "BootNotification" => {
                                    let status = if even { "Accepted" } else { "Rejected" };
                                    let answer = json!({"status": status, "interval": 60,
                                        "currentTime": "2026-01-01T00:00:00Z"});
                                    let _ = ep.respond(now, &id, answer);
                                }
                                "Heartbeat" => {
                                    let _ = ep.respond_error(
                                        now,
                                        &id,
                                        ErrorCode::InternalError,
                                        "on purpose",
                                        None,
                                    );
                                }
                                "StatusNotification" => {
                                    let _ = ep.respond(now, &id, json!({"bogus": true}));
                                }
                                _ => {}
                            })
                            .await;
                    }
                });
            }
        });
    });
    rx.recv().expect("the server starts")
}

#[test]
fn every_kind_of_error_is_counted_and_exits_1() {
    let url = faulty_central_system();
    // Two of four boots rejected; the accepted stations do nothing else.
    let output = load(&[
        "--url",
        &url,
        "--stations",
        "4",
        "--mode",
        "boot-storm",
        "--json",
    ]);
    let boots = report(&output, 1);
    assert_eq!(boots["connected"], 4);
    assert_eq!(boots["booted"], 2);
    assert_eq!(boots["errors"]["boots_not_accepted"], 2);
    assert_eq!(boots["errors"]["total"], 2);
    assert!(text(&output.stderr).contains("BootNotification answered Rejected"));

    for (calls, kind) in [
        ("heartbeat", "call_errors"),
        ("authorize", "timeouts"),
        ("status-notification", "invalid_answers"),
    ] {
        let output = load(&[
            "--url",
            &url,
            "--stations",
            "1",
            "--calls",
            calls,
            "--round-trips",
            "3",
            "--timeout",
            "0.2",
            "--json",
        ]);
        let report = report(&output, 1);
        assert_eq!(report["booted"], 1, "{calls}");
        assert_eq!(report["round_trips"], 0, "{calls}");
        assert_eq!(report["errors"][kind], 3, "{calls}");
        assert_eq!(report["errors"]["total"], 3, "{calls}");
    }
}

#[test]
fn an_unreachable_central_system_exits_2_with_the_reason() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let output = load(&[
        "--url",
        &format!("ws://127.0.0.1:{port}"),
        "--stations",
        "3",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no station could connect"), "{stderr}");
    assert!(stderr.contains("connection failed"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_arguments_exit_2_with_what_is_wrong() {
    for (args, expected) in [
        (&["--stations", "3"][..], "--url"),
        (&["--url", "ws://127.0.0.1:1", "--stations", "0"][..], "0"),
        (
            &[
                "--url",
                "ws://127.0.0.1:1",
                "--stations",
                "2",
                "--duration=-1",
            ][..],
            "between 0 and",
        ),
        (
            &[
                "--url",
                "ws://127.0.0.1:1",
                "--stations",
                "2",
                "--rate",
                "0",
            ][..],
            "positive",
        ),
        (
            &["--url", "http://127.0.0.1:1", "--stations", "2"][..],
            "not a ws:// or wss:// URL",
        ),
        (
            &[
                "--url",
                "ws://127.0.0.1:1",
                "--stations",
                "2",
                "--mode",
                "boot-storm",
                "--rate",
                "10",
            ][..],
            "all at once",
        ),
        (
            &[
                "--url",
                "ws://127.0.0.1:1",
                "--stations",
                "2",
                "--calls",
                "reset",
            ][..],
            "reset",
        ),
    ] {
        let output = load(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn help_explains_the_modes_with_examples() {
    let output = load(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = text(&output.stdout);
    for needle in ["--mode", "boot-storm", "idle", "--server-pid", "Examples:"] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}
