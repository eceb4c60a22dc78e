//! `ocpp replay` as a user runs it: its report and its exit status (0 all match, 1 a
//! difference, 2 an unreadable or invalid trace).

use std::path::PathBuf;
use std::process::Output;

fn replay(traces: &[PathBuf]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = std::process::Command::new(env!("CARGO_BIN_EXE_ocpp"))
        .arg("replay")
        .args(traces)
        .output()
        .expect("the ocpp binary runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn committed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/traces")
        .join(name)
}

const CP_TRACE: &str = "charge_point_session.jsonl";
const CS_TRACE: &str = "central_system_session.jsonl";

#[test]
fn committed_traces_of_both_roles_replay_with_exit_0() {
    let (code, stdout, _) = replay(&[committed(CP_TRACE), committed(CS_TRACE)]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("{CP_TRACE}: ok (charge point, ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{CS_TRACE}: ok (central system, ")),
        "{stdout}"
    );
}

#[test]
fn a_directory_stands_for_its_traces() {
    let (code, stdout, _) = replay(&[committed("")]);
    assert_eq!(code, 0, "{stdout}");
    let traces = std::fs::read_dir(committed(""))
        .unwrap()
        .filter(|entry| {
            let path = entry.as_ref().unwrap().path();
            path.extension().is_some_and(|e| e == "jsonl")
        })
        .count();
    assert!(traces >= 2, "the loopback session of both roles at least");
    assert_eq!(stdout.matches(": ok (").count(), traces, "{stdout}");
    // A directory without traces proves nothing: an input error.
    let empty = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-traces");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, stderr) = replay(&[empty]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no trace files"), "{stderr}");
}

#[test]
fn a_changed_trace_prints_the_first_difference_with_exit_1() {
    let text = std::fs::read_to_string(committed(CP_TRACE)).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains(r#""out":"transmit""#) && l.contains("StartTransaction"))
        .unwrap()
        + 1;
    let changed = text.replacen(
        r#""idTag":"TAG-1","meterStart""#,
        r#""idTag":"TAG-2","meterStart""#,
        1,
    );
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("changed.jsonl");
    std::fs::write(&path, changed).unwrap();
    let (code, stdout, _) = replay(&[committed(CS_TRACE), path]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("changed.jsonl: mismatch"), "{stdout}");
    assert!(
        stdout.contains(&format!("line {line}: the replay's output differs")),
        "{stdout}"
    );
    assert!(stdout.contains(r#"actual:   {"t":"#) && stdout.contains(r#""idTag":"TAG-1""#));
}

#[test]
fn an_unreadable_or_invalid_trace_exits_2() {
    let not_a_trace = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("not-a-trace.jsonl");
    std::fs::write(&not_a_trace, "{\"hello\":1}\n").unwrap();
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("missing.jsonl");
    let (code, _, stderr) = replay(&[committed(CP_TRACE), not_a_trace, missing]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("not-a-trace.jsonl: invalid trace: line 1: not a trace header"),
        "{stderr}"
    );
    assert!(stderr.contains("cannot read"), "{stderr}");
}
