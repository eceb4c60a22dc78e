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

mod common;

use std::path::{Path, PathBuf};

use common::{central_system, charge_point, client_config, server_config, session};
use ocpp_core::trace::{Mismatch, MismatchKind, ReplayError, Role, replay};
use ocpp_io::trace::FileSink;

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

/// Records the full session (`common::session`) of both roles into `dir` (tokio on both
/// sides), the station going down for the reset at the end.
async fn record_session(dir: &Path) {
    let cs_path = dir.join("central_system_session.jsonl");
    let cp_path = dir.join("charge_point_session.jsonl");
    let server = ocpp_io_tokio::bind("127.0.0.1:0", server_config(), move |info| {
        let sink = FileSink::create(&cs_path).unwrap();
        central_system(&info.charge_point_id, Some(Box::new(sink)))
    })
    .await
    .unwrap();
    let sink = FileSink::create(cp_path).unwrap();
    let machine = charge_point(Some(Box::new(sink)));
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), machine);
    session(server, client).await;
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
