//! Conformance traces (`conformance/README.md`, "Traces"): every trace committed under
//! `conformance/traces/` is replayed on a fresh machine of its role and must match, and the
//! replayer is shown to catch a changed frame, a missing output and an extra output.
//!
//! The committed traces come from live runs: our Charge Point against our Central System over
//! WebSockets on loopback (tokio), both recorded. `record_live_traces` (ignored by default,
//! it writes into the source tree) records them again:
//!
//! ```text
//! cargo test -p conformance --test replay -- --ignored record_live_traces
//! ```

use std::path::{Path, PathBuf};

mod common;

use common::{BOUND, next};
use futures_util::{Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup,
};
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::metering::Reading;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointSetup, ConnectorStatus, Reply};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::trace::{Mismatch, MismatchKind, Recorder, ReplayError, Role, replay};
use ocpp_core::v16::{
    BootNotificationRequest, ChangeConfigurationRequest, ChargePointStatus,
    GetConfigurationRequest, Measurand, MessageTrigger, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, RemoteStopTransactionRequest, Request, ResetRequest,
    ResetStatus, ResetType, TriggerMessageRequest,
};
use ocpp_io::trace::FileSink;
use ocpp_io_tokio::{ClientConfig, Event, Handle, ServerConfig};

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}

/// Every committed trace, with its file name.
fn committed() -> Vec<(String, String)> {
    let mut traces: Vec<(String, String)> = std::fs::read_dir(traces_dir())
        .expect("conformance/traces exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    traces.sort();
    traces
}

fn committed_of(role: &str) -> String {
    committed()
        .into_iter()
        .find(|(_, text)| {
            let header = text.lines().next().unwrap();
            header.contains(&format!(r#""role":"{role}""#))
        })
        .map(|(_, text)| text)
        .unwrap_or_else(|| panic!("no committed {role} trace"))
}

fn mismatch(text: &str) -> Mismatch {
    match replay(text) {
        Err(ReplayError::Mismatch(mismatch)) => *mismatch,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

/// DESIGN "Conformance": the default test command replays every committed trace.
#[test]
fn every_committed_trace_replays() {
    let traces = committed();
    let mut roles = Vec::new();
    for (name, text) in &traces {
        match replay(text) {
            Ok(replayed) => roles.push(replayed.role),
            Err(error) => panic!("{name}: {error}"),
        }
    }
    assert!(roles.contains(&Role::ChargePoint), "{traces:?}");
    assert!(roles.contains(&Role::CentralSystem));
}

/// A frame of the trace changed (the StartTransaction's meter reading): reported at that
/// line, as a changed output, with the replay's frame and the lines before it.
#[test]
fn a_changed_frame_is_caught_at_its_line() {
    let text = committed_of("charge_point");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let index = lines
        .iter()
        .position(|l| l.contains(r#""out":"transmit""#) && l.contains(r#""StartTransaction""#))
        .expect("the trace starts a transaction");
    let changed = lines[index].replace(r#""meterStart":1000"#, r#""meterStart":999"#);
    assert_ne!(changed, lines[index]);
    lines[index] = changed;
    let found = mismatch(&lines.join("\n"));
    assert_eq!((found.line, found.kind), (index + 1, MismatchKind::Changed));
    assert!(
        found
            .actual
            .as_deref()
            .unwrap()
            .contains(r#""meterStart":1000"#)
    );
    assert_eq!(found.context.len(), 3);
    assert!(
        found
            .to_string()
            .starts_with(&format!("line {}:", index + 1))
    );
}

/// An output removed from the trace (a frame that was the last output of its input): the
/// machine still produces it, an extra output reported at the next input line.
#[test]
fn an_extra_output_is_caught_before_the_next_input() {
    let text = committed_of("central_system");
    let mut lines: Vec<&str> = text.lines().collect();
    let index = (1..lines.len() - 1)
        .find(|i| lines[*i].contains(r#""out":"transmit""#) && lines[i + 1].contains(r#""in":"#))
        .expect("a frame that ends its step");
    let removed = lines.remove(index);
    let found = mismatch(&lines.join("\n"));
    // The next input now sits at the removed line's place.
    assert_eq!((found.line, found.kind), (index + 1, MismatchKind::Extra));
    assert_eq!(found.expected.as_deref(), Some(lines[index]));
    let actual = found.actual.unwrap();
    let frame = |line: &str| line[line.find("\"frame\"").unwrap()..].to_owned();
    // The same frame, but for the message id (the replay's counter id).
    assert_eq!(
        frame(&actual).split(',').nth(2),
        frame(removed).split(',').nth(2)
    );
}

/// An output the machine does not produce (a frame of the trace repeated after its last
/// input, the disconnection, which produces nothing): reported at that line as missing.
#[test]
fn a_missing_output_is_caught_at_its_line() {
    let text = committed_of("charge_point");
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().contains(r#""in":"disconnected""#));
    let frame = *lines
        .iter()
        .rfind(|l| l.contains(r#""out":"transmit""#))
        .unwrap();
    lines.push(frame);
    let found = mismatch(&lines.join("\n"));
    assert_eq!(
        (found.line, found.kind),
        (lines.len(), MismatchKind::Missing)
    );
    assert_eq!(found.expected.as_deref(), Some(frame));
    assert_eq!(found.actual, None);
}

/// A trace of a format version this build does not read is refused, not misread.
#[test]
fn an_unknown_format_version_is_refused() {
    let text = committed_of("charge_point").replacen(r#""version":1"#, r#""version":99"#, 1);
    match replay(&text) {
        Err(ReplayError::Invalid(error)) => {
            assert_eq!(error.line, 1);
            assert!(error.reason.contains("version 99"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

/// The Central System calls and waits for the answer.
async fn call<R: ocpp_core::OcppRequest>(
    cs: &Handle<Recorder<CentralSystem>>,
    events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
    request: R,
) -> central_system::CallCompleted {
    let handle = cs
        .run(move |m, now| m.call(now, &request))
        .await
        .unwrap()
        .unwrap();
    next(events, "the call's answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await
}

fn energy(wh: i32) -> Vec<Reading> {
    vec![Reading::raw(Measurand::EnergyActiveImportRegister, wh)]
}

/// Records a full session of both roles into `dir`: boot, status, authorize, start, sampled
/// meter values, stop, remote start and stop, get and change configuration, a heartbeat at
/// the changed interval, trigger, reset.
async fn record_session(dir: &Path) {
    let cs_path = dir.join("central_system_session.jsonl");
    let cp_path = dir.join("charge_point_session.jsonl");
    let mut server = ocpp_io_tokio::bind(
        "127.0.0.1:0",
        ServerConfig::new([Version::V16]),
        move |info| {
            let mut config = CentralSystemConfig::new(&info.charge_point_id);
            config.policy = CentralSystemPolicy::accept_all();
            let sink = FileSink::create(&cs_path).unwrap();
            Recorder::new(
                &CentralSystemSetup::of(&config),
                Box::new(UuidV4Ids),
                Some(Box::new(sink)),
            )
            .unwrap()
        },
    )
    .await
    .unwrap();
    let mut boot = BootNotificationRequest::new("VendorX", "Traced");
    boot.firmware_version = Some("1.0".into());
    let setup = ChargePointSetup::new(boot).key(StandardKey::NumberOfConnectors, "2");
    let sink = FileSink::create(cp_path).unwrap();
    let machine: Recorder<ChargePoint> =
        Recorder::new(&setup, Box::new(UuidV4Ids), Some(Box::new(sink))).unwrap();
    let url = format!("ws://{}", server.local_addr());
    let client =
        ocpp_io_tokio::connect(ClientConfig::new(url, "CP-TRACE", [Version::V16]), machine);
    let (cp, mut cp_events, done) = client.split();
    let connection = server.next_connection().await.unwrap();
    let (cs, mut cs_events) = (connection.handle, connection.events);

    next(&mut cp_events, "registration", |e| match e {
        charge_point::Event::Registered { .. } => Some(()),
        _ => None,
    })
    .await;
    // Meter values every second during transactions.
    let sample = ChangeConfigurationRequest {
        key: "MeterValueSampleInterval".into(),
        value: "1".into(),
    };
    call(&cs, &mut cs_events, sample).await;

    // A local session: plug in, authorize, start, charge, stop, unplug.
    let status = |connector: u32, status: ChargePointStatus| {
        cp.run(move |m, now| m.report_status(now, connector, ConnectorStatus::new(status)))
    };
    status(1, ChargePointStatus::Preparing)
        .await
        .unwrap()
        .unwrap();
    cp.run(|m, now| m.authorize(now, "TAG-1"))
        .await
        .unwrap()
        .unwrap();
    next(&mut cp_events, "authorize", |e| match e {
        charge_point::Event::Authorized { .. } => Some(()),
        _ => None,
    })
    .await;
    cp.run(|m, now| m.set_readings(now, 1, energy(1000)))
        .await
        .unwrap()
        .unwrap();
    cp.run(|m, now| m.start_transaction(now, 1, "TAG-1", 1000, None))
        .await
        .unwrap()
        .unwrap();
    next(&mut cp_events, "transaction start", |e| match e {
        charge_point::Event::TransactionStarted { .. } => Some(()),
        _ => None,
    })
    .await;
    status(1, ChargePointStatus::Charging)
        .await
        .unwrap()
        .unwrap();
    cp.run(|m, now| m.set_readings(now, 1, energy(1250)))
        .await
        .unwrap()
        .unwrap();
    next(&mut cs_events, "sampled meter values", |e| match e {
        central_system::Event::Request {
            request: Request::MeterValues(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    cp.run(|m, now| m.stop_transaction(now, 1, 1500, None, Some("TAG-1".into())))
        .await
        .unwrap()
        .unwrap();
    next(&mut cp_events, "transaction end", |e| match e {
        charge_point::Event::TransactionEnded { .. } => Some(()),
        _ => None,
    })
    .await;
    status(1, ChargePointStatus::Finishing)
        .await
        .unwrap()
        .unwrap();
    status(1, ChargePointStatus::Available)
        .await
        .unwrap()
        .unwrap();

    // Remote start, accepted by the station's application, and remote stop.
    let start = RemoteStartTransactionRequest {
        connector_id: Some(2),
        id_tag: "REMOTE".into(),
        charging_profile: None,
    };
    let handle = cs
        .run(move |m, now| m.call(now, &start))
        .await
        .unwrap()
        .unwrap();
    let decision = next(&mut cp_events, "remote start request", |e| match e {
        charge_point::Event::RemoteStartRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    let accepted = Reply::RemoteStart(RemoteStartStopStatus::Accepted);
    cp.run(move |m, now| m.reply(now, decision, accepted))
        .await
        .unwrap()
        .unwrap();
    next(&mut cs_events, "remote start answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(()),
        _ => None,
    })
    .await;
    cp.run(|m, now| m.start_transaction(now, 2, "REMOTE", 0, None))
        .await
        .unwrap()
        .unwrap();
    let transaction_id = next(&mut cp_events, "remote transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    call(
        &cs,
        &mut cs_events,
        RemoteStopTransactionRequest { transaction_id },
    )
    .await;
    let (connector, reason) = next(&mut cp_events, "stop request", |e| match e {
        charge_point::Event::StopRequested {
            connector, reason, ..
        } => Some((*connector, *reason)),
        _ => None,
    })
    .await;
    assert_eq!(reason, Reason::Remote);
    cp.run(move |m, now| m.stop_transaction(now, connector, 200, Some(reason), None))
        .await
        .unwrap()
        .unwrap();
    next(&mut cp_events, "remote transaction end", |e| match e {
        charge_point::Event::TransactionEnded { .. } => Some(()),
        _ => None,
    })
    .await;

    // Configuration read and changed; the new heartbeat interval comes round on its timer.
    let keys = GetConfigurationRequest {
        key: Some(vec![
            "HeartbeatInterval".into(),
            "NumberOfConnectors".into(),
        ]),
    };
    call(&cs, &mut cs_events, keys).await;
    let heartbeat = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "1".into(),
    };
    call(&cs, &mut cs_events, heartbeat).await;
    next(&mut cs_events, "a heartbeat", |e| match e {
        central_system::Event::Request {
            request: Request::Heartbeat(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    let back = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "300".into(),
    };
    call(&cs, &mut cs_events, back).await;

    // A triggered status notification.
    let trigger = TriggerMessageRequest {
        requested_message: MessageTrigger::StatusNotification,
        connector_id: Some(1),
    };
    call(&cs, &mut cs_events, trigger).await;
    next(&mut cs_events, "the triggered status", |e| match e {
        central_system::Event::Request {
            request: Request::StatusNotification(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;

    // Reset, accepted by the station's application.
    let reset = ResetRequest {
        kind: ResetType::Soft,
    };
    let handle = cs
        .run(move |m, now| m.call(now, &reset))
        .await
        .unwrap()
        .unwrap();
    let decision = next(&mut cp_events, "reset request", |e| match e {
        charge_point::Event::ResetRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    cp.run(move |m, now| m.reply(now, decision, Reply::Reset(ResetStatus::Accepted)))
        .await
        .unwrap()
        .unwrap();
    next(&mut cs_events, "reset answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(()),
        _ => None,
    })
    .await;

    // The station goes down for the reset.
    cp.close(1000, "reset").unwrap();
    let _ = tokio::time::timeout(BOUND, done).await;
    next_disconnect(&mut cs_events).await;
    server.shutdown().await;
}

async fn next_disconnect(events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin)) {
    let wait = async {
        while let Some(event) = events.next().await {
            if matches!(event, Event::Disconnected(_)) {
                return;
            }
        }
    };
    tokio::time::timeout(BOUND, wait).await.unwrap();
}

/// A live session recorded on both sides replays on fresh machines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_recorded_on_both_sides_replays() {
    let dir = std::env::temp_dir().join(format!("ocpp-live-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    record_session(&dir).await;
    for name in ["charge_point_session.jsonl", "central_system_session.jsonl"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        if let Err(error) = replay(&text) {
            panic!("{name}: {error}");
        }
    }
    // The sampled meter values and the heartbeat came from the Charge Point's timers, fed at
    // real instants live and at the recorded offsets in the replay.
    let cp = std::fs::read_to_string(dir.join("charge_point_session.jsonl")).unwrap();
    assert!(cp.contains(r#""in":"timeout""#));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Records the committed traces again (writes into `conformance/traces/`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes into the source tree; run to re-record the committed traces"]
async fn record_live_traces() {
    record_session(&traces_dir()).await;
}
