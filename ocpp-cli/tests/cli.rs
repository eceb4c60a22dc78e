//! Runs the `ocpp` binary as a user would and checks its output and exit status.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs `ocpp args...` with `stdin` piped in.
fn ocpp(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocpp"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ocpp binary runs");
    // The child may exit before reading (usage errors); a closed pipe is fine then.
    let _ = child.stdin.take().expect("piped").write_all(stdin);
    child.wait_with_output().expect("the ocpp binary exits")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit status and that nothing panicked.
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    assert!(!stderr(output).contains("panicked"), "{}", stderr(output));
}

/// A file in cargo's per-test scratch directory.
fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, contents).expect("scratch file is writable");
    path
}

const BOOT16_VALID: &str = r#"{"chargePointVendor": "VendorX", "chargePointModel": "ModelY"}"#;

// ---------------------------------------------------------------------------------------------
// ocpp actions

#[test]
fn actions_lists_39_for_v16_and_64_for_v201() {
    for (version, count) in [("1.6", 39), ("2.0.1", 64)] {
        let output = ocpp(&["actions", "--ocpp", version], b"");
        assert_exit(&output, 0);
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), count, "{version}");
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(lines.iter().any(|a| a == "BootNotification"));
    }
    let v16 = stdout(&ocpp(&["actions", "--ocpp", "1.6"], b""));
    assert!(
        v16.lines().any(|a| a == "SignCertificate"),
        "security actions"
    );
    assert!(!v16.lines().any(|a| a == "TransactionEvent"));
}

#[test]
fn actions_without_or_with_an_unknown_version_is_a_usage_error() {
    let output = ocpp(&["actions"], b"");
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--ocpp"), "{}", stderr(&output));

    let output = ocpp(&["actions", "--ocpp", "2.1"], b"");
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("expected 1.6 or 2.0.1"));
}

// ---------------------------------------------------------------------------------------------
// ocpp validate: verdicts

#[test]
fn valid_v16_payload_from_a_file_prints_valid() {
    let path = temp_file("boot16.json", BOOT16_VALID.as_bytes());
    let output = ocpp(
        &[
            "validate",
            "--ocpp",
            "1.6",
            "--action",
            "BootNotification",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "valid\n");
    assert_eq!(stderr(&output), "");
}

#[test]
fn invalid_v16_payload_lists_violations_and_the_1_6_spelling_of_the_code() {
    let payload = r#"{"chargePointVendor": "VVVVVVVVVVVVVVVVVVVVV", "colour": "red"}"#;
    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "BootNotification"],
        payload.as_bytes(),
    );
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(
        text.contains("/colour: member not defined by the schema"),
        "{text}"
    );
    assert!(
        text.contains("/chargePointModel: required member is missing"),
        "{text}"
    );
    assert!(
        text.contains("/chargePointVendor: longer than 20 characters"),
        "{text}"
    );
    // OCPP-J 1.6 section 4.2.3 and errata 5.2: the 1.6 wire spelling.
    assert!(text.ends_with("errorCode: FormationViolation\n"), "{text}");
}

#[test]
fn invalid_v201_payload_uses_the_2_0_1_spelling_of_the_code() {
    let payload = r#"{"reason": "PowerUp", "chargingStation": {"model": "M"}}"#;
    let output = ocpp(
        &[
            "validate",
            "--ocpp",
            "2.0.1",
            "--action",
            "BootNotification",
        ],
        payload.as_bytes(),
    );
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("/chargingStation/vendorName: required member is missing"));
    assert!(
        text.ends_with("errorCode: OccurrenceConstraintViolation\n"),
        "{text}"
    );
}

#[test]
fn response_flag_selects_the_response_schema() {
    let payload = r#"{"currentTime": "2013-02-01T20:53:32.486Z"}"#;
    let args = ["validate", "--ocpp", "1.6", "--action", "Heartbeat"];
    assert_exit(&ocpp(&args, payload.as_bytes()), 1);
    let mut with_response = args.to_vec();
    with_response.push("--response");
    assert_exit(&ocpp(&with_response, payload.as_bytes()), 0);
}

#[test]
fn malformed_timestamp_in_v201_is_a_type_constraint_violation() {
    let payload = r#"{"eventType": "Started", "timestamp": "yesterday", "triggerReason": "Authorized",
        "seqNo": 0, "transactionInfo": {"transactionId": "t"}}"#;
    let output = ocpp(
        &[
            "validate",
            "--ocpp",
            "2.0.1",
            "--action",
            "TransactionEvent",
            "-",
        ],
        payload.as_bytes(),
    );
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("/timestamp: not a valid date-time"));
    assert!(stdout(&output).ends_with("errorCode: TypeConstraintViolation\n"));
}

#[test]
fn payload_that_is_not_an_object_is_invalid_not_an_error() {
    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "Heartbeat"],
        b"\"hello\"",
    );
    assert_exit(&output, 1);
    assert!(stdout(&output).contains("payload: expected object, found string"));
}

// ---------------------------------------------------------------------------------------------
// ocpp validate: frames

#[test]
fn call_frame_is_validated_as_a_request_of_its_own_action() {
    let frame = format!(r#"[2, "19223201", "BootNotification", {BOOT16_VALID}]"#);
    let output = ocpp(&["validate", "--ocpp", "1.6"], frame.as_bytes());
    assert_exit(&output, 0);

    let frame = r#"[2, "19223201", "BootNotification", {"chargePointModel": "M"}]"#;
    let output = ocpp(&["validate", "--ocpp", "1.6"], frame.as_bytes());
    assert_exit(&output, 1);
    assert!(stdout(&output).ends_with("errorCode: ProtocolError\n"));
}

#[test]
fn callresult_frame_needs_action_and_is_validated_as_a_response() {
    let frame = r#"[3, "19223201", {"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300}]"#;
    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "BootNotification"],
        frame.as_bytes(),
    );
    assert_exit(&output, 0);

    let output = ocpp(&["validate", "--ocpp", "1.6"], frame.as_bytes());
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--action"), "{}", stderr(&output));
}

#[test]
fn frames_that_contradict_the_arguments_or_are_malformed_are_usage_errors() {
    let cases: [(&[&str], &str, &str); 6] = [
        (
            &["--action", "Authorize"],
            r#"[2, "1", "Heartbeat", {}]"#,
            "--action says",
        ),
        (
            &["--response"],
            r#"[2, "1", "Heartbeat", {}]"#,
            "--response conflicts",
        ),
        (&[], r#"[2, "1", "Heartbeat"]"#, "needs 4"),
        (&[], r#"[2, 1, "Heartbeat", {}]"#, "message id"),
        (
            &[],
            r#"[4, "1", "GenericError", "", {}]"#,
            "CALLERROR frame carries no payload",
        ),
        (&[], r#"[7, "1", {}]"#, "unknown message type 7"),
    ];
    for (extra, frame, message) in cases {
        let mut args = vec!["validate", "--ocpp", "1.6"];
        args.extend_from_slice(extra);
        let output = ocpp(&args, frame.as_bytes());
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(message),
            "{frame}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "");
    }
}

// ---------------------------------------------------------------------------------------------
// ocpp validate: input errors

#[test]
fn invalid_json_is_exit_2_and_says_where() {
    let output = ocpp(
        &["validate", "--ocpp", "2.0.1", "--action", "Heartbeat"],
        b"{\n  \"a\": 1,,\n}",
    );
    assert_exit(&output, 2);
    let message = stderr(&output);
    assert!(
        message.contains("<stdin>: invalid JSON at line 2, column"),
        "{message}"
    );

    let output = ocpp(&["validate", "--ocpp", "1.6", "--action", "Heartbeat"], b"");
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("invalid JSON"));
}

#[test]
fn input_that_is_not_utf8_is_exit_2() {
    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "Heartbeat"],
        b"{\"a\": \"\xff\"}",
    );
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("not UTF-8"), "{}", stderr(&output));
}

#[test]
fn unreadable_file_is_exit_2_and_names_it() {
    let output = ocpp(
        &[
            "validate",
            "--ocpp",
            "1.6",
            "--action",
            "Heartbeat",
            "/nonexistent/payload.json",
        ],
        b"",
    );
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("cannot read /nonexistent/payload.json"));
}

#[test]
fn unknown_action_is_exit_2_and_suggests_the_right_case() {
    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "bootnotification"],
        BOOT16_VALID.as_bytes(),
    );
    assert_exit(&output, 2);
    let message = stderr(&output);
    assert!(
        message.contains("OCPP 1.6 has no action \"bootnotification\""),
        "{message}"
    );
    assert!(
        message.contains("did you mean BootNotification?"),
        "{message}"
    );

    let output = ocpp(
        &["validate", "--ocpp", "1.6", "--action", "TransactionEvent"],
        b"{}",
    );
    assert_exit(&output, 2);
}

#[test]
fn bare_payload_without_action_is_a_usage_error() {
    let output = ocpp(&["validate", "--ocpp", "1.6"], BOOT16_VALID.as_bytes());
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--action NAME is required"));
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["actions", "--help"],
        &["validate", "--help"],
    ] {
        let output = ocpp(args, b"");
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("Usage: ocpp"), "{args:?}");
    }
}

#[test]
fn odd_inputs_never_panic() {
    let inputs: [&[u8]; 10] = [
        b"[]",
        b"[2]",
        b"[3]",
        b"[-1, \"x\", {}]",
        b"[1e400]",
        b"null",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        b"{\"\": {\"~/\": []}}",
        b"  \n\t ",
        b"\xef\xbb\xbf{}",
    ];
    for input in inputs {
        let output = ocpp(
            &["validate", "--ocpp", "2.0.1", "--action", "Heartbeat"],
            input,
        );
        let code = output.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{:?}: {code:?} {}",
            String::from_utf8_lossy(input),
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"));
    }
}
