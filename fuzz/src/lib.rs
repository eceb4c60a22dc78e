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

/// One step of the [`charge_point`] target: what can happen to a Charge Point.
#[derive(Debug, arbitrary::Arbitrary)]
pub enum Step {
    /// The WebSocket connects.
    Connect,
    /// The WebSocket drops.
    Disconnect,
    /// Time passes (seconds), firing whatever is due.
    Advance(u16),
    /// The Central System answers the station's last call: 0 a good answer, 1 a CALLERROR,
    /// 2 a malformed frame with its id, 3 a schema-breaking answer.
    Answer(u8),
    /// The Central System calls the station (the action is picked from the 1.6 list).
    CentralSystemCall {
        /// Which action.
        action: u8,
        /// Which payload variant.
        variant: u8,
    },
    /// Arbitrary text arrives.
    Raw(String),
    /// The application starts a transaction.
    Start {
        /// Connector (0 to 3; the station has 2).
        connector: u8,
        /// Meter start.
        meter: u16,
    },
    /// The application stops the transaction on a connector.
    Stop {
        /// Connector.
        connector: u8,
        /// Meter stop.
        meter: u16,
    },
    /// The application reports a connector status.
    Status {
        /// Connector.
        connector: u8,
        /// Which status.
        status: u8,
    },
    /// The application asks to authorize an id tag.
    Authorize,
    /// The station loses power and restarts from what it persisted.
    Restart,
}

const CP_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

struct CpRig {
    /// The station, recording into `trace` (the trace of the current power cycle) if any.
    cp: ocpp_core::trace::Recorder<ocpp_core::charge_point::ChargePoint>,
    trace: Option<ocpp_core::trace::MemorySink>,
    stored: ocpp_core::persist::Snapshot,
    now: Now,
    connected: bool,
    /// The station's last CALL (id, action) and when it was sent, while unanswered.
    outstanding: Option<(String, String, Now)>,
}

fn new_charge_point(
    stored: &ocpp_core::persist::Snapshot,
    trace: Option<&ocpp_core::trace::MemorySink>,
) -> ocpp_core::trace::Recorder<ocpp_core::charge_point::ChargePoint> {
    use ocpp_core::charge_point::ChargePointSetup;
    use ocpp_core::charge_point::config::StandardKey;
    let boot = ocpp_core::v16::BootNotificationRequest::new("Fuzz", "Fuzz");
    let mut setup = ChargePointSetup::new(boot).key(StandardKey::NumberOfConnectors, "2");
    setup.call_timeout_ms = CP_CALL_TIMEOUT.as_millis() as u64;
    setup.snapshot = ocpp_core::trace::StoredSnapshot::of(stored);
    ocpp_core::trace::Recorder::new(
        &setup,
        Box::new(CounterIds::default()),
        trace.map(|sink| Box::new(sink.clone()) as Box<dyn ocpp_core::trace::TraceSink>),
    )
    .expect("what the station persisted always restores")
}

/// The trace of one power cycle replays on a fresh machine (`ocpp_core::trace::replay`): the
/// machine is deterministic and the trace holds everything it saw.
fn check_replay(trace: Option<&ocpp_core::trace::MemorySink>) {
    let Some(trace) = trace.filter(|trace| !trace.is_empty()) else {
        return;
    };
    let text = trace.text();
    if let Err(error) = ocpp_core::trace::replay(&text) {
        panic!("the trace does not replay: {error}\n{text}");
    }
}

impl CpRig {
    /// Applies the outputs of the last input and checks them.
    fn drain(&mut self) {
        use ocpp_core::machine::{Machine, Output};
        while let Some(output) = self.cp.poll_output() {
            match output {
                Output::Persist(op) => self.stored.apply([&op]),
                Output::Transmit(text) => {
                    assert!(self.connected, "a frame sent while offline: {text}");
                    let frame = Frame::parse(&text).expect("we only send frames");
                    if let Frame::Call(call) = frame {
                        // At most one CALL in flight (OCPP-J section 4.1.1).
                        if let Some((id, _, sent)) = &self.outstanding {
                            let timed_out = self.now.monotonic.saturating_since(sent.monotonic)
                                >= CP_CALL_TIMEOUT;
                            assert!(timed_out, "a second CALL while {id} is unanswered");
                        }
                        validate::validate(
                            Version::V16,
                            &call.action,
                            PayloadKind::Request,
                            &call.payload,
                        )
                        .expect("we only send valid requests");
                        // A transaction message is durable before it is sent.
                        if call.action.ends_with("Transaction") {
                            assert!(
                                self.stored.records("cp16.tx-queue").next().is_some(),
                                "{} sent without a queue record",
                                call.action
                            );
                        }
                        self.outstanding = Some((call.id, call.action, self.now));
                    }
                }
                Output::Event(_) | Output::Close(_) => {}
            }
        }
    }

    fn answer(&mut self, kind: u8) {
        use ocpp_core::machine::Machine;
        let Some((id, action, _)) = self.outstanding.take() else {
            return;
        };
        let time = "2024-05-01T10:00:00Z";
        let text = match kind % 4 {
            0 => {
                let payload = match action.as_str() {
                    "BootNotification" => {
                        json!({"status": "Accepted", "currentTime": time, "interval": 60})
                    }
                    "Heartbeat" => json!({"currentTime": time}),
                    "Authorize" => json!({"idTagInfo": {"status": "Accepted"}}),
                    "StartTransaction" => {
                        json!({"transactionId": 7, "idTagInfo": {"status": "Accepted"}})
                    }
                    "StopTransaction" | "StatusNotification" | "MeterValues" => json!({}),
                    _ => json!({}),
                };
                Frame::CallResult(ocpp_core::rpc::CallResult { id, payload }).to_text()
            }
            1 => format!(r#"[4,"{id}","InternalError","",{{}}]"#),
            2 => format!(r#"[3,"{id}",{{}},"extra"]"#),
            _ => format!(r#"[3,"{id}",{{"unexpected":true}}]"#),
        };
        self.cp.handle_message(self.now, &text);
    }
}

/// The 1.6 Charge Point state machine under arbitrary sequences of events.
///
/// Invariants: no panic; every frame sent is a valid frame, sent only while connected, and
/// every CALL's payload validates; at most one CALL is in flight; StartTransaction and
/// StopTransaction are sent only after their queue record was persisted; restoring from
/// the persisted records at any point succeeds.
pub fn charge_point(data: &[u8]) {
    run_charge_point(data, false);
}

/// [`charge_point`], recording the station's trace and requiring the trace of every power
/// cycle to replay (`ocpp_core::trace::replay`): the machine is deterministic and a trace
/// holds all it saw. About three times slower, so the corpus test runs it on a sample.
pub fn charge_point_traced(data: &[u8]) {
    run_charge_point(data, true);
}

fn run_charge_point(data: &[u8], traced: bool) {
    use ocpp_core::charge_point::ConnectorStatus;
    use ocpp_core::machine::Machine;
    use ocpp_core::v16::ChargePointStatus;

    let mut input = arbitrary::Unstructured::new(data);
    let Ok(steps) = input.arbitrary::<Vec<Step>>() else {
        return;
    };
    let stored = ocpp_core::persist::Snapshot::new();
    let trace = traced.then(ocpp_core::trace::MemorySink::new);
    let mut rig = CpRig {
        cp: new_charge_point(&stored, trace.as_ref()),
        trace,
        stored,
        now: Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH),
        connected: false,
        outstanding: None,
    };
    let actions: Vec<&str> = schemas::actions(Version::V16).collect();
    for step in steps.into_iter().take(200) {
        match step {
            Step::Connect if !rig.connected => {
                rig.connected = true;
                rig.cp.handle_connected(rig.now);
            }
            Step::Connect => {}
            Step::Disconnect if rig.connected => {
                rig.connected = false;
                rig.outstanding = None;
                rig.cp.handle_disconnected(rig.now);
            }
            Step::Disconnect => {}
            Step::Advance(seconds) => {
                let end = rig.now.monotonic + std::time::Duration::from_secs(u64::from(seconds));
                // Fire every deadline on the way, as a driver does.
                for _ in 0..1000 {
                    match rig.cp.poll_timeout() {
                        Some(at) if at <= end => {
                            let step = at.saturating_since(rig.now.monotonic);
                            rig.now = rig.now.advanced(step);
                            rig.cp.handle_timeout(rig.now);
                            rig.drain();
                        }
                        _ => break,
                    }
                }
                let step = end.saturating_since(rig.now.monotonic);
                rig.now = rig.now.advanced(step);
            }
            Step::Answer(kind) if rig.connected => rig.answer(kind),
            Step::Answer(_) => {}
            Step::CentralSystemCall { action, variant } if rig.connected => {
                let action = actions[usize::from(action) % actions.len()];
                let payload = match variant % 3 {
                    0 => json!({}),
                    1 => json!({"connectorId": 1, "idTag": "T", "type": "Soft",
                        "transactionId": 7, "requestedMessage": "StatusNotification"}),
                    _ => json!({"key": "HeartbeatInterval", "value": "30", "vendorId": "v"}),
                };
                let text = Frame::call_text("cs-1", action, &payload);
                rig.cp.handle_message(rig.now, &text);
            }
            Step::CentralSystemCall { .. } => {}
            Step::Raw(text) if rig.connected => rig.cp.handle_message(rig.now, &text),
            Step::Raw(_) => {}
            Step::Start { connector, meter } => {
                let _ = rig.cp.start_transaction(
                    rig.now,
                    u32::from(connector % 4),
                    "TAG",
                    i32::from(meter),
                    None,
                );
            }
            Step::Stop { connector, meter } => {
                let _ = rig.cp.stop_transaction(
                    rig.now,
                    u32::from(connector % 4),
                    i32::from(meter),
                    None,
                    None,
                );
            }
            Step::Status { connector, status } => {
                let status = [
                    ChargePointStatus::Available,
                    ChargePointStatus::Preparing,
                    ChargePointStatus::Charging,
                    ChargePointStatus::Faulted,
                ][usize::from(status % 4)];
                let _ = rig.cp.report_status(
                    rig.now,
                    u32::from(connector % 4),
                    ConnectorStatus::new(status),
                );
            }
            Step::Authorize => {
                let _ = rig.cp.authorize(rig.now, "TAG");
            }
            Step::Restart => {
                check_replay(rig.trace.as_ref());
                rig.trace = traced.then(ocpp_core::trace::MemorySink::new);
                rig.cp = new_charge_point(&rig.stored, rig.trace.as_ref());
                rig.connected = false;
                rig.outstanding = None;
            }
        }
        rig.drain();
    }
    check_replay(rig.trace.as_ref());
}

/// One step of the [`central_system`] target.
#[derive(Debug, arbitrary::Arbitrary)]
pub enum CsStep {
    /// The WebSocket connects.
    Connect,
    /// The WebSocket drops.
    Disconnect,
    /// Time passes (seconds).
    Advance(u16),
    /// The charge point calls an action (picked from the 1.6 list) with a payload variant.
    Call {
        /// Which action.
        action: u8,
        /// Which payload variant.
        variant: u8,
    },
    /// The charge point answers the Central System's last call: 0 good, 1 CALLERROR, 2
    /// malformed, 3 schema-breaking.
    Answer(u8),
    /// Arbitrary text arrives.
    Raw(String),
    /// The application calls the charge point (an action picked from the 1.6 list).
    AppCall(u8),
    /// The application answers the oldest open decision (0 accept-like, 1 refuse-like, 2 a
    /// wrong reply type).
    Reply(u8),
}

/// The 1.6 Central System state machine under arbitrary sequences of events.
///
/// Invariants: no panic; every frame sent is valid and sent only while connected; every
/// CALLRESULT and CALL payload it sends validates; at most one CALL in flight; a CALLERROR
/// code is one 1.6 defines.
pub fn central_system(data: &[u8]) {
    use ocpp_core::central_system::{
        Answer, CentralSystem, CentralSystemConfig, CentralSystemPolicy, Event,
    };
    use ocpp_core::machine::{Machine, Output};

    let mut input = arbitrary::Unstructured::new(data);
    let Ok(steps) = input.arbitrary::<Vec<CsStep>>() else {
        return;
    };
    let mut config = CentralSystemConfig::new("CP-FUZZ");
    if steps.len() % 2 == 0 {
        config.policy = CentralSystemPolicy::accept_all();
    }
    config.rpc.call_timeout = CP_CALL_TIMEOUT;
    let mut cs = CentralSystem::new(config, Box::new(CounterIds::default()));
    let mut now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
    let mut connected = false;
    let mut outstanding: Option<(String, Now)> = None;
    let mut decisions = std::collections::VecDeque::new();
    let mut peer_calls = 0u64;
    let actions: Vec<&str> = schemas::actions(Version::V16).collect();

    for step in steps.into_iter().take(200) {
        match step {
            CsStep::Connect if !connected => {
                connected = true;
                cs.handle_connected(now);
            }
            CsStep::Disconnect if connected => {
                connected = false;
                outstanding = None;
                decisions.clear();
                cs.handle_disconnected(now);
            }
            CsStep::Connect | CsStep::Disconnect => {}
            CsStep::Advance(seconds) => {
                now = now.advanced(std::time::Duration::from_secs(u64::from(seconds)));
                cs.handle_timeout(now);
            }
            CsStep::Call { action, variant } if connected => {
                peer_calls += 1;
                let action = actions[usize::from(action) % actions.len()];
                let payload = match variant % 4 {
                    0 => json!({}),
                    1 => json!({"chargePointVendor": "V", "chargePointModel": "M"}),
                    2 => json!({"connectorId": 1, "idTag": "T", "meterStart": 0,
                        "timestamp": "2024-05-01T10:00:00Z", "transactionId": 1,
                        "meterStop": 5, "errorCode": "NoError", "status": "Available"}),
                    _ => json!({"idTag": "T", "vendorId": "v"}),
                };
                let id = format!("cp-{peer_calls}");
                cs.handle_message(now, &Frame::call_text(&id, action, &payload));
            }
            CsStep::Answer(kind) if connected => {
                if let Some((id, _)) = outstanding.take() {
                    let text = match kind % 4 {
                        0 => format!(r#"[3,"{id}",{{"status":"Accepted"}}]"#),
                        1 => format!(r#"[4,"{id}","GenericError","",{{}}]"#),
                        2 => format!(r#"[3,"{id}"]"#),
                        _ => format!(r#"[3,"{id}",{{"bogus":1}}]"#),
                    };
                    cs.handle_message(now, &text);
                }
            }
            CsStep::Raw(text) if connected => cs.handle_message(now, &text),
            CsStep::Call { .. } | CsStep::Answer(_) | CsStep::Raw(_) => {}
            CsStep::AppCall(which) => {
                // Refusals (offline, a charge point's action) are part of what is exercised.
                let _ = match which % 4 {
                    0 => cs.call(
                        now,
                        &ocpp_core::v16::ResetRequest {
                            kind: ocpp_core::v16::ResetType::Soft,
                        },
                    ),
                    1 => cs.call(now, &ocpp_core::v16::ClearCacheRequest::default()),
                    2 => cs.call(now, &ocpp_core::v16::GetConfigurationRequest::default()),
                    _ => cs.call(now, &ocpp_core::v16::HeartbeatRequest::default()),
                };
            }
            CsStep::Reply(kind) => {
                if let Some((decision, action)) = decisions.pop_front() {
                    let response = match (action, kind % 3) {
                        ("Authorize", 0 | 1) => {
                            ocpp_core::v16::Response::Authorize(ocpp_core::v16::AuthorizeResponse {
                                id_tag_info: ocpp_core::v16::IdTagInfo {
                                    status: if kind % 3 == 0 {
                                        ocpp_core::v16::AuthorizationStatus::Accepted
                                    } else {
                                        ocpp_core::v16::AuthorizationStatus::Blocked
                                    },
                                    expiry_date: None,
                                    parent_id_tag: None,
                                },
                            })
                        }
                        _ => {
                            ocpp_core::v16::Response::Heartbeat(ocpp_core::v16::HeartbeatResponse {
                                current_time: time::OffsetDateTime::UNIX_EPOCH,
                            })
                        }
                    };
                    let _ = cs.reply(now, decision, response);
                }
            }
        }
        while let Some(output) = cs.poll_output() {
            match output {
                Output::Transmit(text) => {
                    assert!(connected, "a frame sent while offline: {text}");
                    match Frame::parse(&text).expect("we only send frames") {
                        Frame::Call(call) => {
                            if let Some((id, sent)) = &outstanding {
                                let timed_out = now.monotonic.saturating_since(sent.monotonic)
                                    >= CP_CALL_TIMEOUT;
                                assert!(timed_out, "a second CALL while {id} is unanswered");
                            }
                            validate::validate(
                                Version::V16,
                                &call.action,
                                PayloadKind::Request,
                                &call.payload,
                            )
                            .expect("we only send valid requests");
                            outstanding = Some((call.id, now));
                        }
                        Frame::CallResult(_) => {}
                        Frame::CallError(error) => {
                            let code = error.error_code().expect("a defined code");
                            assert!(code.is_defined_in(Version::V16), "{code}");
                        }
                    }
                }
                Output::Event(Event::Request {
                    request,
                    answer: Answer::Decide(decision),
                }) => decisions.push_back((decision, request.action().as_str())),
                Output::Event(_) | Output::Persist(_) | Output::Close(_) => {}
            }
        }
    }
}
