//! The bodies of the fuzz targets, kept apart from the `fuzz_target!` shims so that a stable
//! test in the main workspace (`conformance/tests/fuzz_corpus.rs`) can run them over the
//! committed corpus: `cargo test` exercises every target without nightly or libFuzzer.
//!
//! Each body checks invariants with `assert!`; a violated invariant is a crash the fuzzer
//! reports, the same as a panic inside the stack.
#![forbid(unsafe_code)]

use ocpp_core::machine::{Machine, Output};
use ocpp_core::message::OcppAction;
use ocpp_core::rpc::{
    CounterIds, Endpoint, EndpointConfig, Frame, MAX_ERROR_DESCRIPTION_LEN, MAX_MESSAGE_ID_LEN,
    RpcEvent,
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
    drive_endpoint::<v16::Action>(&messages);
    drive_endpoint::<v201::Action>(&messages);
}

/// An endpoint of the version of `A` with one call in flight, driven as a bare machine
/// through `messages`.
fn drive_endpoint<A: OcppAction>(messages: &[&str]) {
    let mut config = EndpointConfig::<A>::new();
    config.max_message_size = 4096;
    let mut endpoint = Endpoint::new(config, Box::new(CounterIds::default()));
    let mut now = Now::new(Monotonic::ZERO, time::OffsetDateTime::UNIX_EPOCH);
    endpoint.handle_connected(now);
    let heartbeat = A::from_name("Heartbeat").expect("both versions have Heartbeat");
    let _ = endpoint
        .call(now, heartbeat, json!({}))
        .expect("a valid call on an open connection is accepted");
    check_outputs(&mut endpoint, true);
    for text in messages {
        now = now.advanced(std::time::Duration::from_secs(1));
        Machine::handle_message(&mut endpoint, now, text);
        check_outputs(&mut endpoint, false);
    }
    endpoint.handle_disconnected(now);
    check_outputs(&mut endpoint, false);
    assert_eq!(endpoint.pending_calls(), 0);
}

fn check_outputs<A: OcppAction>(endpoint: &mut Endpoint<A>, may_call: bool) {
    let version = A::VERSION;
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
                let action = call.action.as_str();
                assert!(schemas::schema_text(version, action, PayloadKind::Request).is_some());
            }
            Output::Event(_) => {}
            other => panic!("the endpoint persists nothing and never closes: {other:?}"),
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
/// integer beyond 32 bits (also one too large for 64 bits, which JSON reads as a float with a
/// zero fraction) or a decimal beyond `rust_decimal`'s range.
fn is_out_of_range(error: &serde_json::Error) -> bool {
    let text = error.to_string();
    let whole_float_beyond_32_bits = text
        .strip_prefix("invalid value: floating point `")
        .and_then(|rest| rest.split('`').next())
        .and_then(|number| number.parse::<f64>().ok())
        .is_some_and(|v| v.fract() == 0.0 && v.abs() > f64::from(i32::MAX));
    text.contains("invalid value: integer")
        || whole_float_beyond_32_bits
        || text.contains("does not fit a decimal")
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
    // Appended after the first corpus: the variants above keep their fields and order.
    /// The hardware sees a cable plugged in.
    PlugIn(u8),
    /// The hardware sees the cable unplugged.
    Unplug(u8),
    /// The cable came out at the EV side.
    EvSideDisconnected(u8),
    /// The EV suspends (or resumes) the energy transfer.
    EvSuspended {
        /// Connector.
        connector: u8,
        /// Suspended or not.
        on: bool,
    },
    /// The EVSE suspends (or resumes) the energy transfer.
    EvseSuspended {
        /// Connector.
        connector: u8,
        /// Suspended or not.
        on: bool,
    },
    /// The hardware reports a fault (code picked from the 1.6 list, `NoError` included).
    Fault {
        /// Connector.
        connector: u8,
        /// Which error code.
        code: u8,
    },
    /// The fault is gone.
    ClearFault(u8),
    /// A driver was authorized for a connector and has `ConnectionTimeOut` to plug in.
    Prepare {
        /// Connector.
        connector: u8,
        /// Which id tag.
        tag: u8,
    },
    /// The application starts a transaction with a chosen id tag and reservation.
    StartWith {
        /// Connector.
        connector: u8,
        /// Which id tag.
        tag: u8,
        /// The reservation id it uses, if any.
        reservation: Option<u8>,
    },
    /// The application sets or lifts its own limit on a connector (amperes).
    LocalLimit {
        /// Connector (0: the station's connection).
        connector: u8,
        /// The limit, none to lift it.
        amps: Option<u8>,
    },
    /// The application reports the firmware download (true: succeeded).
    FirmwareDownloaded(bool),
    /// The application reports the firmware installation.
    FirmwareInstalled(bool),
    /// The application reports the diagnostics upload.
    DiagnosticsUploaded(bool),
    /// The application answers an open decision: `pick` chooses which, `kind` the answer
    /// (kind % 4 == 3: a reply of the wrong type, which must be refused).
    Reply {
        /// Which open decision.
        pick: u8,
        /// Which answer.
        kind: u8,
    },
    /// The Central System sends a well-formed request built from a template (see
    /// [`cs_template`]), possibly mutated.
    CsTemplate {
        /// Which template.
        action: u8,
        /// First parameter.
        a: u8,
        /// Second parameter.
        b: u8,
        /// 0 to 4: as built; 5: a field removed; 6: a field of the wrong type; 7: a number
        /// out of range.
        mutate: u8,
    },
    /// The application reports the meter of a connector.
    Meter {
        /// Connector.
        connector: u8,
        /// The reading (Wh).
        meter: u16,
    },
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
    /// Requests of the Central System waiting for the application, with their action.
    decisions: Vec<(ocpp_core::charge_point::Decision, &'static str)>,
    /// Connectors that may hold a driver's session (authorized, waiting for the cable): the
    /// one piece of connector state that is deliberately not persisted.
    sessions: std::collections::BTreeSet<u32>,
    /// Calls of the Central System sent so far, for their ids.
    cs_calls: u32,
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
                Output::Event(event) => self.note(event),
                Output::Close(_) => {}
            }
        }
    }

    /// Keeps what the application must remember of an event: decisions to answer, sessions.
    fn note(&mut self, event: ocpp_core::charge_point::Event) {
        use ocpp_core::charge_point::Event;
        let (decision, action) = match event {
            Event::DataTransferRequested { decision, .. } => (decision, "DataTransfer"),
            Event::RemoteStartRequested { decision, .. } => (decision, "RemoteStartTransaction"),
            Event::ResetRequested { decision, .. } => (decision, "Reset"),
            Event::UnlockRequested { decision, .. } => (decision, "UnlockConnector"),
            Event::DiagnosticsRequested { decision, .. } => (decision, "GetDiagnostics"),
            Event::ConnectionTimedOut {
                connector,
                id_tag: Some(_),
            } => {
                self.sessions.remove(&connector);
                return;
            }
            _ => return,
        };
        self.decisions.push((decision, action));
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
        decisions: Vec::new(),
        sessions: std::collections::BTreeSet::new(),
        cs_calls: 0,
    };
    let actions: Vec<&str> = schemas::actions(Version::V16).collect();
    // `OCPP_FUZZ_TRACE=1 cargo +nightly fuzz run charge_point <input>` prints the steps.
    let trace = std::env::var_os("OCPP_FUZZ_TRACE").is_some();
    for step in steps.into_iter().take(200) {
        if trace {
            eprintln!("{:?} {step:?}", rig.now.monotonic);
        }
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
                let connector = u32::from(connector % 4);
                let started =
                    rig.cp
                        .start_transaction(rig.now, connector, "TAG", i32::from(meter), None);
                if started.is_ok() {
                    rig.sessions.remove(&connector);
                }
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
                rig.decisions.clear();
                rig.sessions.clear();
            }
            step => rig.hardware_or_application(step),
        }
        rig.drain();
        check_rebuilt(&rig);
    }
    check_replay(rig.trace.as_ref());
}

/// The id tags the application and the Central System use: a parent's members share
/// reservations, and case does not matter.
const ID_TAGS: [&str; 4] = ["TAG", "OTHER", "PARENT", "tag"];

impl CpRig {
    /// The steps appended after the first corpus: hardware facts, firmware reports, replies
    /// to decisions, templated Central System calls.
    fn hardware_or_application(&mut self, step: Step) {
        use ocpp_core::charge_point::firmware::TransferOutcome;
        use ocpp_core::charge_point::{Fault, Reply};
        use ocpp_core::machine::Machine;
        use ocpp_core::v16::{
            ChargePointErrorCode, DataTransferResponse, DataTransferStatus, RemoteStartStopStatus,
            ResetStatus, UnlockStatus,
        };
        let now = self.now;
        let connector = |c: u8| u32::from(c % 4);
        let outcome = |ok: bool| {
            if ok {
                TransferOutcome::Succeeded
            } else {
                TransferOutcome::Failed
            }
        };
        // Refusals (unknown connector, a transfer not asked for) are part of what is exercised.
        let _ = match step {
            Step::PlugIn(c) => self.cp.plug_in(now, connector(c)),
            Step::Unplug(c) => {
                let unplugged = self.cp.unplug(now, connector(c));
                if unplugged.is_ok() {
                    self.sessions.remove(&connector(c));
                }
                unplugged
            }
            Step::EvSideDisconnected(c) => self.cp.ev_side_disconnected(now, connector(c)),
            Step::EvSuspended { connector: c, on } => {
                self.cp.set_ev_suspended(now, connector(c), on)
            }
            Step::EvseSuspended { connector: c, on } => {
                self.cp.set_evse_suspended(now, connector(c), on)
            }
            Step::Fault { connector: c, code } => {
                let code = [
                    ChargePointErrorCode::NoError,
                    ChargePointErrorCode::GroundFailure,
                    ChargePointErrorCode::OverCurrentFailure,
                    ChargePointErrorCode::OtherError,
                ][usize::from(code % 4)];
                self.cp.report_fault(now, connector(c), Fault::new(code))
            }
            Step::ClearFault(c) => self.cp.clear_fault(now, connector(c)),
            Step::Prepare { connector: c, tag } => {
                let prepared = self
                    .cp
                    .prepare(now, connector(c), ID_TAGS[usize::from(tag % 4)]);
                if prepared.is_ok() {
                    self.sessions.insert(connector(c));
                }
                prepared
            }
            Step::StartWith {
                connector: c,
                tag,
                reservation,
            } => self
                .cp
                .start_transaction(
                    now,
                    connector(c),
                    ID_TAGS[usize::from(tag % 4)],
                    0,
                    reservation.map(|r| i32::from(r % 4)),
                )
                .map(|_| {
                    self.sessions.remove(&connector(c));
                }),
            Step::LocalLimit { connector: c, amps } => {
                let limit = amps.map(|amps| {
                    ocpp_core::charge_point::smart_charging::ChargingLimit::amps(
                        ocpp_core::Decimal::from(i64::from(amps)),
                        3,
                    )
                });
                self.cp.set_local_limit(now, connector(c), limit)
            }
            Step::FirmwareDownloaded(ok) => self.cp.firmware_downloaded(now, outcome(ok)),
            Step::FirmwareInstalled(ok) => self.cp.firmware_installed(now, outcome(ok)),
            Step::DiagnosticsUploaded(ok) => self.cp.diagnostics_uploaded(now, outcome(ok)),
            Step::Reply { pick, kind } => {
                if self.decisions.is_empty() {
                    return;
                }
                let index = usize::from(pick) % self.decisions.len();
                let (decision, action) = self.decisions[index].clone();
                let yes = kind % 2 == 0;
                let reply = match (action, kind % 4 == 3) {
                    ("DataTransfer", false) => Reply::DataTransfer(DataTransferResponse {
                        status: if yes {
                            DataTransferStatus::Accepted
                        } else {
                            DataTransferStatus::UnknownVendorId
                        },
                        data: None,
                    }),
                    ("RemoteStartTransaction", false) => Reply::RemoteStart(if yes {
                        RemoteStartStopStatus::Accepted
                    } else {
                        RemoteStartStopStatus::Rejected
                    }),
                    ("Reset", false) => Reply::Reset(if yes {
                        ResetStatus::Accepted
                    } else {
                        ResetStatus::Rejected
                    }),
                    ("UnlockConnector", false) => Reply::Unlock(if yes {
                        UnlockStatus::Unlocked
                    } else {
                        UnlockStatus::UnlockFailed
                    }),
                    ("GetDiagnostics", false) => Reply::Diagnostics {
                        file_name: yes.then(|| "diagnostics.log".to_owned()),
                    },
                    // The wrong type for the request: refused, and the decision stays open.
                    ("Reset", true) => Reply::Unlock(UnlockStatus::Unlocked),
                    _ => Reply::Reset(ResetStatus::Accepted),
                };
                let wrong = kind % 4 == 3;
                if !wrong {
                    self.decisions.remove(index);
                }
                let accepted_start =
                    matches!(reply, Reply::RemoteStart(RemoteStartStopStatus::Accepted));
                let replied = self.cp.reply(now, decision, reply);
                if wrong {
                    assert!(replied.is_err(), "a reply of the wrong type was taken");
                }
                if accepted_start && replied.is_ok() {
                    // The station prepares a connector for the driver: which one is its choice.
                    self.sessions.extend(1..=2);
                }
                replied
            }
            Step::CsTemplate {
                action,
                a,
                b,
                mutate,
            } => {
                if self.connected {
                    let (action, payload) = cs_template(self.cp.time(now), action, a, b, mutate);
                    self.cs_calls += 1;
                    let id = format!("cs-t{}", self.cs_calls);
                    let text = Frame::call_text(&id, action, &payload);
                    self.cp.handle_message(now, &text);
                }
                Ok(())
            }
            Step::Meter {
                connector: c,
                meter,
            } => self.cp.report_meter(now, connector(c), i32::from(meter)),
            _ => unreachable!("the first corpus's steps are handled by the caller"),
        };
    }
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

/// A well-formed request of the Central System for the actions that reach deep states
/// (Smart Charging, Reservation, Firmware Management, remote control, triggers,
/// configuration), with times near the station's clock `at`; `a` and `b` choose the fields,
/// `mutate` may then break it (see [`Step::CsTemplate`]).
pub fn cs_template(
    at: time::OffsetDateTime,
    action: u8,
    a: u8,
    b: u8,
    mutate: u8,
) -> (&'static str, Value) {
    let time = |offset_seconds: i64| {
        (at + time::Duration::seconds(offset_seconds))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let tag = ID_TAGS[usize::from(a / 4 % 4)];
    let profile = |purpose: &str, a: u8, b: u8| {
        let kind = ["Absolute", "Recurring", "Relative"][usize::from(b / 3 % 3)];
        let mut schedule = json!({
            "chargingRateUnit": if b & 0x10 == 0 { "A" } else { "W" },
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 6 + u32::from(a % 26)},
                {"startPeriod": 60 * (1 + u32::from(b % 5)), "limit": 10, "numberPhases": 1},
            ],
        });
        if b & 0x20 != 0 {
            schedule["duration"] = json!(600);
        }
        if kind != "Relative" && b & 0x40 == 0 {
            schedule["startSchedule"] = json!(time(-30 * i64::from(a % 4)));
        }
        let mut profile = json!({
            "chargingProfileId": 1 + i32::from(a / 9 % 4),
            "stackLevel": i32::from(a / 3 % 3),
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
            "chargingSchedule": schedule,
        });
        if kind == "Recurring" {
            profile["recurrencyKind"] = json!(if b & 0x80 == 0 { "Daily" } else { "Weekly" });
        }
        if purpose == "TxProfile" && b & 0x80 != 0 {
            profile["transactionId"] = json!(7);
        }
        profile
    };
    let (action, mut payload) = match action % 16 {
        0 => {
            let purpose =
                ["TxDefaultProfile", "TxProfile", "ChargePointMaxProfile"][usize::from(b % 3)];
            let connector = if purpose == "ChargePointMaxProfile" {
                0
            } else {
                a % 3
            };
            (
                "SetChargingProfile",
                json!({"connectorId": connector, "csChargingProfiles": profile(purpose, a, b)}),
            )
        }
        1 => {
            let mut payload = json!({});
            if a & 1 != 0 {
                payload["id"] = json!(1 + i32::from(b % 4));
            }
            if a & 2 != 0 {
                payload["connectorId"] = json!(b / 4 % 3);
            }
            if a & 4 != 0 {
                payload["chargingProfilePurpose"] = json!(
                    ["TxDefaultProfile", "TxProfile", "ChargePointMaxProfile"]
                        [usize::from(b / 16 % 3)]
                );
            }
            if a & 8 != 0 {
                payload["stackLevel"] = json!(b / 64 % 3);
            }
            ("ClearChargingProfile", payload)
        }
        2 => {
            let mut payload = json!({"connectorId": a % 3, "duration": 60 * (1 + u32::from(b))});
            if a & 4 != 0 {
                payload["chargingRateUnit"] = json!(if a & 8 == 0 { "A" } else { "W" });
            }
            ("GetCompositeSchedule", payload)
        }
        3 => {
            let mut payload = json!({
                "connectorId": a % 3,
                "expiryDate": time(30 * (i64::from(b % 64) - 4)),
                "idTag": tag,
                "reservationId": i32::from(b / 64),
            });
            if a & 0x40 != 0 {
                payload["parentIdTag"] = json!("PARENT");
            }
            ("ReserveNow", payload)
        }
        4 => (
            "CancelReservation",
            json!({"reservationId": i32::from(a % 4)}),
        ),
        5 => {
            let mut payload = json!({
                "location": "ftp://firmware.example/fw.bin",
                "retrieveDate": time(i64::from(a % 40) - 5),
            });
            if b & 1 != 0 {
                payload["retries"] = json!(b / 2 % 4);
            }
            if b & 8 != 0 {
                payload["retryInterval"] = json!(b / 16);
            }
            ("UpdateFirmware", payload)
        }
        6 => {
            let mut payload = json!({"location": "ftp://diagnostics.example/"});
            if b & 1 != 0 {
                payload["retries"] = json!(b / 2 % 4);
            }
            if b & 8 != 0 {
                payload["retryInterval"] = json!(b / 16);
            }
            if a & 1 != 0 {
                payload["startTime"] = json!(time(-3600));
            }
            if a & 2 != 0 {
                payload["stopTime"] = json!(time(-60 * i64::from(a / 4)));
            }
            ("GetDiagnostics", payload)
        }
        7 => {
            let mut payload = json!({"idTag": tag});
            if a & 1 != 0 {
                payload["connectorId"] = json!(a / 2 % 3);
            }
            if a & 2 != 0 {
                payload["chargingProfile"] = profile("TxProfile", a, b & 0x7f);
            }
            ("RemoteStartTransaction", payload)
        }
        8 => (
            "RemoteStopTransaction",
            json!({"transactionId": if a & 1 == 0 { 7 } else { i32::from(a) }}),
        ),
        9 => (
            "ChangeAvailability",
            json!({"connectorId": a % 3, "type": if b & 1 == 0 { "Inoperative" } else { "Operative" }}),
        ),
        10 => {
            let message = [
                "BootNotification",
                "DiagnosticsStatusNotification",
                "FirmwareStatusNotification",
                "Heartbeat",
                "MeterValues",
                "StatusNotification",
            ][usize::from(a % 6)];
            let mut payload = json!({"requestedMessage": message});
            if b & 1 != 0 {
                payload["connectorId"] = json!(b / 2 % 3);
            }
            ("TriggerMessage", payload)
        }
        11 => {
            let key = [
                "MinimumStatusDuration",
                "ConnectionTimeOut",
                "MeterValueSampleInterval",
                "StopTransactionOnEVSideDisconnect",
                "UnlockConnectorOnEVSideDisconnect",
                "ReserveConnectorZeroSupported",
                "ChargeProfileMaxStackLevel",
                "AuthorizeRemoteTxRequests",
                "LocalPreAuthorize",
                "HeartbeatInterval",
                "ClockAlignedDataInterval",
                "LocalAuthListEnabled",
            ][usize::from(a % 12)];
            let value = ["0", "1", "true", "false", "5", "30", "-1", "x"][usize::from(b % 8)];
            ("ChangeConfiguration", json!({"key": key, "value": value}))
        }
        12 => (
            "Reset",
            json!({"type": if a & 1 == 0 { "Soft" } else { "Hard" }}),
        ),
        13 => ("UnlockConnector", json!({"connectorId": a % 3})),
        14 => {
            let mut list = vec![
                json!({"idTag": tag, "idTagInfo": {"status": "Accepted", "parentIdTag": "PARENT"}}),
            ];
            if b & 1 != 0 {
                list.push(json!({"idTag": "OTHER", "idTagInfo": {"status": "Blocked"}}));
            }
            (
                "SendLocalList",
                json!({
                    "listVersion": 1 + i32::from(b / 2 % 8),
                    "updateType": if a & 1 == 0 { "Full" } else { "Differential" },
                    "localAuthorizationList": list,
                }),
            )
        }
        _ => (
            "DataTransfer",
            json!({"vendorId": "Fuzz", "messageId": "m", "data": "d"}),
        ),
    };
    if let Some(fields) = payload.as_object_mut().filter(|fields| !fields.is_empty()) {
        let key = fields
            .keys()
            .nth(usize::from(a) % fields.len())
            .cloned()
            .unwrap_or_default();
        match mutate % 8 {
            5 => {
                fields.remove(&key);
            }
            6 => {
                let wrong = if fields[&key].is_string() {
                    json!(1)
                } else {
                    json!("x")
                };
                fields.insert(key, wrong);
            }
            7 => {
                fields.insert(key, json!(-2_147_483_649_i64));
            }
            _ => {}
        }
    }
    (action, payload)
}

/// Invariant: a machine rebuilt from the persisted records agrees with the original on all
/// the state the station persists (see fuzz/README.md for what is compared and why the rest
/// is left out).
fn check_rebuilt(rig: &CpRig) {
    let original = &rig.cp;
    let rebuilt = new_charge_point(&rig.stored, None);
    for connector in 0..=2 {
        assert_eq!(
            rebuilt.transaction(connector),
            original.transaction(connector),
            "transaction on connector {connector}"
        );
        assert_eq!(
            rebuilt.is_operative(connector),
            original.is_operative(connector),
            "availability of connector {connector}"
        );
        if rig.sessions.is_empty() {
            assert_eq!(
                rebuilt.connector_status(connector),
                original.connector_status(connector),
                "status of connector {connector}"
            );
        }
    }
    assert_eq!(
        rebuilt.queued_transaction_messages(),
        original.queued_transaction_messages(),
        "queued transaction messages"
    );
    assert!(
        rebuilt.reservations().eq(original.reservations()),
        "reservations"
    );
    assert!(
        rebuilt
            .smart_charging()
            .profiles()
            .eq(original.smart_charging().profiles()),
        "charging profiles"
    );
    let configuration = original.configuration();
    for name in configuration.definitions().names() {
        let expected = configuration
            .pending(name)
            .or_else(|| configuration.value(name));
        assert_eq!(rebuilt.configuration().value(name), expected, "{name}");
    }
    let list = |cp: &ocpp_core::charge_point::ChargePoint| {
        let list = cp.authorization().local_list();
        let entries: Vec<String> = list
            .iter()
            .map(|entry| format!("{} {:?}", entry.id_tag(), entry.info()))
            .collect();
        (list.version(), entries)
    };
    assert_eq!(list(&rebuilt), list(original), "local authorization list");
    let cache = |cp: &ocpp_core::charge_point::ChargePoint| {
        let mut entries: Vec<String> = cp
            .authorization()
            .cache()
            .iter_by_use()
            .map(|entry| format!("{} {:?}", entry.id_tag(), entry.info()))
            .collect();
        entries.sort();
        entries
    };
    assert_eq!(cache(&rebuilt), cache(original), "authorization cache");
}

/// Runs a future whose byte stream never blocks (a [`WsInput`]) to completion.
fn ws_block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// The bytes a [`WsStream`](ocpp_io::ws::WsStream) reads, handed out in the chunk sizes of
/// `chunks` (cycled), then the end of the stream; what it writes is dropped.
struct WsInput {
    data: Vec<u8>,
    pos: usize,
    chunks: Vec<usize>,
    reads: usize,
}

impl futures_util::io::AsyncRead for WsInput {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let chunk = this.chunks[this.reads % this.chunks.len()];
        this.reads += 1;
        let n = buf.len().min(chunk).min(this.data.len() - this.pos);
        buf[..n].copy_from_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        std::task::Poll::Ready(Ok(n))
    }
}

impl futures_util::io::AsyncWrite for WsInput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// What a `role` stream yields from `data` read in `chunks`: each message, then `end` or
/// the error that ended it. The stream must end: every read either consumes a byte or is
/// the end of the input.
fn ws_outcomes(
    data: &[u8],
    role: ocpp_io::tungstenite::protocol::Role,
    chunks: &[usize],
) -> Vec<String> {
    use futures_util::StreamExt;
    let input = WsInput {
        data: data.to_vec(),
        pos: 0,
        chunks: chunks.to_vec(),
        reads: 0,
    };
    let config = ocpp_io::DriverConfig {
        max_message_size: 1 << 16,
        read_buffer_size: 256,
        ..ocpp_io::DriverConfig::default()
    };
    let mut ws = ocpp_io::ws::WsStream::new(input, role, Vec::new(), &config);
    ws_block_on(async {
        let mut outcomes = Vec::new();
        loop {
            let item = ws.next().await;
            let done = !matches!(item, Some(Ok(_)));
            outcomes.push(match item {
                None => "end".to_owned(),
                Some(Ok(message)) => format!("{message:?}"),
                Some(Err(error)) => format!("{error:?}"),
            });
            assert!(outcomes.len() <= data.len() + 1, "more items than bytes");
            if done {
                return outcomes;
            }
        }
    })
}

/// The WebSocket decoder (`ocpp_io::ws::WsStream`), RFC 6455 section 5.
///
/// The first byte picks the role (bit 0) and the chunk sizes reads return (the other bits);
/// the rest is used twice. As raw bytes: the stream never panics or hangs, and yields the
/// same messages and the same final error whether they arrive at once or in chunks. As a
/// list of messages (a kind byte, a length byte, the payload): framed validly, fragmented
/// as the kind byte says, masked if the peer is a client and followed by a close, they
/// decode to the same messages whatever the chunking.
pub fn ws(data: &[u8]) {
    use ocpp_io::tungstenite::protocol::Role;
    use ocpp_io::tungstenite::{Bytes, Message};

    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let role = if selector & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let s = usize::from(selector >> 1);
    let chunks = [1 + s % 5, 1 + s % 13, 2 + s % 64, 1, 300];

    let whole = ws_outcomes(rest, role, &[usize::MAX]);
    assert_eq!(
        ws_outcomes(rest, role, &chunks),
        whole,
        "raw bytes, chunked"
    );

    // The peer's frames: masked if it is a client (we are the server).
    let masked = role == Role::Server;
    let mut frames = Vec::new();
    let mut push = |first: u8, payload: &[u8], key: u8| {
        frames.push(first);
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            len @ 0..=125 => frames.push(mask_bit | len as u8),
            len => {
                frames.push(mask_bit | 126);
                frames.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        if masked {
            let key = [key, key ^ 0x5a, key.wrapping_add(7), 0xc3];
            frames.extend_from_slice(&key);
            frames.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
        } else {
            frames.extend_from_slice(payload);
        }
    };
    let mut expected = Vec::new();
    let mut bytes = rest;
    while let [byte, len, tail @ ..] = bytes {
        let byte = *byte;
        let len = (usize::from(*len) * if byte & 0x80 != 0 { 37 } else { 1 }).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        bytes = tail;
        match byte & 3 {
            kind @ (0 | 1) => {
                let message = if kind == 0 {
                    Message::text(String::from_utf8_lossy(payload).into_owned())
                } else {
                    Message::Binary(Bytes::copy_from_slice(payload))
                };
                let data = message.clone().into_data();
                let fragments = 1 + usize::from((byte >> 2) & 3).min(data.len());
                let size = data.len().div_ceil(fragments).max(1);
                let pieces: Vec<&[u8]> = if data.is_empty() {
                    vec![&[]]
                } else {
                    data.chunks(size).collect()
                };
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = if i == 0 { 1 + kind } else { 0 };
                    let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
                    push(fin | opcode, piece, i as u8);
                }
                expected.push(format!("{message:?}"));
            }
            kind => {
                let payload = &payload[..payload.len().min(125)];
                push(0x87 + kind, payload, 0x11);
                let payload = Bytes::copy_from_slice(payload);
                expected.push(format!(
                    "{:?}",
                    if kind == 2 {
                        Message::Ping(payload)
                    } else {
                        Message::Pong(payload)
                    }
                ));
            }
        }
    }
    push(0x88, &1000u16.to_be_bytes(), 0x22);
    expected.push(format!(
        "{:?}",
        Message::Close(Some(ocpp_io::tungstenite::protocol::CloseFrame {
            code: ocpp_io::tungstenite::protocol::frame::coding::CloseCode::Normal,
            reason: "".into(),
        }))
    ));
    expected.push("end".to_owned());
    for chunks in [&[usize::MAX][..], &chunks[..]] {
        assert_eq!(ws_outcomes(&frames, role, chunks), expected, "valid frames");
    }
}
