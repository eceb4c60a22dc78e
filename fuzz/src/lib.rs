//! The bodies of the fuzz targets, kept apart from the `fuzz_target!` shims so that a stable
//! test in the main workspace (`conformance/tests/fuzz_corpus.rs`) can run them over the
//! committed corpus: `cargo test` exercises every target without nightly or libFuzzer.
//!
//! Each body checks invariants with `assert!`; a violated invariant is a crash the fuzzer
//! reports, the same as a panic inside the stack.
#![forbid(unsafe_code)]

use ocpp_core::rpc::{
    CounterIds, Endpoint, EndpointConfig, Frame, MAX_ERROR_DESCRIPTION_LEN, MAX_MESSAGE_ID_LEN,
    Output, RpcEvent,
};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::{PayloadKind, Version, schemas, v16, v201, validate};
use serde_json::{Value, json};

/// Separates the WebSocket messages of one fuzz input for [`frame`], so that one input can
/// drive an endpoint through several messages (ASCII record separator: never valid unescaped
/// inside JSON, so it cannot split a well-formed frame).
pub const MESSAGE_SEPARATOR: u8 = 0x1e;

/// Frame parsing and the RPC endpoint, for both versions.
///
/// The input is a sequence of WebSocket text messages separated by [`MESSAGE_SEPARATOR`].
/// Invariants: a frame that parses serialises back to an equal frame with an id of at most 36
/// characters; an endpoint with one call in flight fed the messages never panics, every text it
/// transmits is a valid frame, it never originates a CALL by itself, and every CALLERROR it
/// sends has a code its version defines and a description of at most 255 characters.
pub fn frame(data: &[u8]) {
    let messages: Vec<&str> = data
        .split(|b| *b == MESSAGE_SEPARATOR)
        .filter_map(|m| std::str::from_utf8(m).ok())
        .collect();
    for text in &messages {
        if let Ok(frame) = Frame::parse(text) {
            assert!(frame.id().chars().count() <= MAX_MESSAGE_ID_LEN);
            let again = Frame::parse(&frame.to_text()).expect("a parsed frame re-serialises");
            assert_eq!(again, frame);
        }
    }
    for version in Version::ALL {
        let mut config = EndpointConfig::new(version);
        config.max_message_size = 4096;
        let mut endpoint = Endpoint::new(config, Box::new(CounterIds::default()));
        let mut now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
        endpoint.handle_connected(now);
        endpoint
            .call(now, "Heartbeat", json!({}))
            .expect("a valid call on an open connection is accepted");
        check_outputs(&mut endpoint, version, true);
        for text in &messages {
            now = now.advanced(std::time::Duration::from_secs(1));
            endpoint.handle_message(now, text);
            check_outputs(&mut endpoint, version, false);
        }
        endpoint.handle_disconnected(now);
        check_outputs(&mut endpoint, version, false);
        assert_eq!(endpoint.pending_calls(), 0);
    }
}

fn check_outputs(endpoint: &mut Endpoint, version: Version, may_call: bool) {
    let mut calls_sent = 0;
    while let Some(output) = endpoint.poll_output() {
        match output {
            Output::Transmit(text) => match Frame::parse(&text).expect("we only send frames") {
                Frame::Call(_) => calls_sent += 1,
                Frame::CallResult(_) => {}
                Frame::CallError(error) => {
                    let code = error.error_code().expect("we only send defined codes");
                    assert!(code.is_defined_in(version), "{code} in {version}");
                    assert!(error.description.chars().count() <= MAX_ERROR_DESCRIPTION_LEN);
                }
            },
            Output::Event(RpcEvent::Call(call)) => {
                assert!(
                    schemas::schema_text(version, &call.action, PayloadKind::Request).is_some()
                );
            }
            Output::Event(_) => {}
        }
    }
    assert!(
        calls_sent <= usize::from(may_call),
        "the endpoint sent a CALL of its own"
    );
}

/// Decodes the selector bytes of a [`payload`] input: version, payload kind and action.
pub fn payload_target(data: &[u8]) -> Option<(Version, PayloadKind, &'static str, &[u8])> {
    let [selector, low, high, rest @ ..] = data else {
        return None;
    };
    let version = if selector & 1 == 0 {
        Version::V16
    } else {
        Version::V201
    };
    let kind = if selector & 2 == 0 {
        PayloadKind::Request
    } else {
        PayloadKind::Response
    };
    let index = usize::from(u16::from_le_bytes([*low, *high])) % schemas::actions(version).len();
    let action = schemas::actions(version).nth(index)?;
    Some((version, kind, action, rest))
}

/// Schema validation and typed decoding of one payload of any action.
///
/// The input is a selector byte (bit 0: version, bit 1: request or response), a little-endian
/// u16 action index (modulo the number of actions), then the payload's JSON text.
/// Invariants: validation never panics; a rejected payload has at least one violation, a
/// CallError code its version defines, a description of at most 255 characters and an object
/// for errorDetails. A payload the schema accepts decodes into its generated type (unless a
/// number is beyond what the type holds: integers are 32-bit, see `ocpp_core::v201`), and
/// encoding that value again gives a payload the schema accepts and that decodes to the same.
pub fn payload(data: &[u8]) {
    let Some((version, kind, action, text)) = payload_target(data) else {
        return;
    };
    let Ok(payload) = serde_json::from_slice::<Value>(text) else {
        return;
    };
    match validate::validate(version, action, kind, &payload) {
        Err(error) => {
            assert!(!error.violations().is_empty(), "{error}");
            assert!(error.error_code().is_defined_in(version));
            assert!(error.description().chars().count() <= MAX_ERROR_DESCRIPTION_LEN);
            assert!(error.details().is_object());
        }
        Ok(()) => {
            let encoded = match typed_round_trip(version, kind, action, payload) {
                Ok(encoded) => encoded,
                Err(error) if is_out_of_range(&error) => return,
                Err(error) => panic!("{version} {action}: schema-valid but not decodable: {error}"),
            };
            if let Err(error) = validate::validate(version, action, kind, &encoded) {
                panic!("{version} {action}: re-encoded payload is invalid: {error}");
            }
            let again = typed_round_trip(version, kind, action, encoded.clone())
                .expect("a re-encoded payload decodes");
            assert_eq!(again, encoded, "{version} {action}: encoding is not stable");
        }
    }
}

/// Decodes `payload` into the generated type of (version, kind, action) and encodes it again.
fn typed_round_trip(
    version: Version,
    kind: PayloadKind,
    action: &str,
    payload: Value,
) -> Result<Value, serde_json::Error> {
    match (version, kind) {
        (Version::V16, PayloadKind::Request) => {
            let action = v16::Action::from_name(action).expect("listed action");
            v16::Request::from_payload(action, payload).map(|typed| typed.to_payload())
        }
        (Version::V16, PayloadKind::Response) => {
            let action = v16::Action::from_name(action).expect("listed action");
            v16::Response::from_payload(action, payload).map(|typed| typed.to_payload())
        }
        (Version::V201, PayloadKind::Request) => {
            let action = v201::Action::from_name(action).expect("listed action");
            v201::Request::from_payload(action, payload).map(|typed| typed.to_payload())
        }
        (Version::V201, PayloadKind::Response) => {
            let action = v201::Action::from_name(action).expect("listed action");
            v201::Response::from_payload(action, payload).map(|typed| typed.to_payload())
        }
    }
}

/// Whether a decode error is a number the schema allows but the Rust type cannot hold: an
/// integer beyond 32 bits or a decimal beyond `rust_decimal`'s range.
fn is_out_of_range(error: &serde_json::Error) -> bool {
    let text = error.to_string();
    text.contains("invalid value: integer") || text.contains("does not fit a decimal")
}
