//! The OCPP-J RPC rules, each proved on the sans-IO endpoint in virtual time.
//!
//! Sections cited: "1.6 §x" is the OCPP-J 1.6 specification (with its errata sheet), "2.0.1
//! §x" is OCPP 2.0.1 edition 3 part 4.

use std::time::Duration;

use ocpp_core::machine::{Machine, Output};
use ocpp_core::message::{OcppAction, Side};
use ocpp_core::rpc::{
    AcceptedActions, CallFailure, CallRefused, ConcurrentCalls, CounterIds, Endpoint,
    EndpointConfig, Frame, PeerError, RespondError, RpcEvent,
};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::Action as V16;
use ocpp_core::{ErrorCode, v201};
use serde_json::{Value, json};
use time::macros::datetime;

fn start() -> Now {
    Now::new(Monotonic::ZERO, datetime!(2024-05-01 10:00 UTC))
}

fn endpoint<A: OcppAction>(config: EndpointConfig<A>) -> Endpoint<A> {
    let mut endpoint = Endpoint::new(config, Box::new(CounterIds::default()));
    endpoint.handle_connected(start());
    endpoint
}

fn v16() -> Endpoint<V16> {
    endpoint(EndpointConfig::new())
}

fn v201() -> Endpoint<v201::Action> {
    endpoint(EndpointConfig::new())
}

/// The action of `A` called `name`, for tests written once for both versions.
fn action<A: OcppAction>(name: &str) -> A {
    A::from_name(name).unwrap()
}

/// Everything an endpoint produced since the last drain.
#[derive(Debug)]
struct Drained<A = V16> {
    sent: Vec<String>,
    events: Vec<RpcEvent<A>>,
}

fn drain<A: OcppAction>(endpoint: &mut Endpoint<A>) -> Drained<A> {
    let mut drained = Drained {
        sent: Vec::new(),
        events: Vec::new(),
    };
    while let Some(output) = endpoint.poll_output() {
        match output {
            Output::Transmit(text) => drained.sent.push(text),
            Output::Event(event) => drained.events.push(event),
            other => panic!("the endpoint persists nothing and never closes: {other:?}"),
        }
    }
    drained
}

/// Feeds `text` to the endpoint driven as a bare machine (which holds the peer's calls and
/// reports them as events) and returns what it produced.
fn feed<A: OcppAction>(endpoint: &mut Endpoint<A>, now: Now, text: &str) -> Drained<A> {
    Machine::handle_message(endpoint, now, text);
    drain(endpoint)
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The single CALLERROR an input produced: (id, code, description).
fn only_error<A>(drained: &Drained<A>) -> (String, String, String) {
    assert_eq!(
        drained.sent.len(),
        1,
        "expected one frame, got {:?}",
        drained.sent
    );
    let frame = parse(&drained.sent[0]);
    assert_eq!(frame[0], 4, "not a CALLERROR: {frame}");
    assert!(
        frame[4].is_object(),
        "errorDetails must be an object: {frame}"
    );
    (
        frame[1].as_str().unwrap().to_owned(),
        frame[2].as_str().unwrap().to_owned(),
        frame[3].as_str().unwrap().to_owned(),
    )
}

fn peer_error<A: OcppAction>(drained: &Drained<A>) -> (&PeerError<A>, Option<ErrorCode>) {
    match drained.events.as_slice() {
        [RpcEvent::PeerError { error, answered }] => (error, *answered),
        other => panic!("expected one PeerError event, got {other:?}"),
    }
}

fn boot_v16() -> Value {
    json!({"chargePointVendor": "VendorX", "chargePointModel": "SingleSocketCharger"})
}

fn boot_v16_conf() -> Value {
    json!({"status": "Accepted", "currentTime": "2013-02-01T20:53:32.486Z", "interval": 300})
}

fn completed<A: OcppAction>(event: &RpcEvent<A>) -> (A, &Result<Value, CallFailure>) {
    match event {
        RpcEvent::Completed {
            action, outcome, ..
        } => (*action, outcome),
        other => panic!("expected Completed, got {other:?}"),
    }
}

/// Shuttles frames between two endpoints until both are quiet; returns the events of each.
fn exchange(now: Now, a: &mut Endpoint, b: &mut Endpoint) -> (Vec<RpcEvent>, Vec<RpcEvent>) {
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    loop {
        let from_a = drain(a);
        let from_b = drain(b);
        events_a.extend(from_a.events);
        events_b.extend(from_b.events);
        if from_a.sent.is_empty() && from_b.sent.is_empty() {
            return (events_a, events_b);
        }
        for text in from_a.sent {
            Machine::handle_message(b, now, &text);
        }
        for text in from_b.sent {
            Machine::handle_message(a, now, &text);
        }
    }
}

/// 1.6 §4.2.1-4.2.2: a CALL is answered by the CALLRESULT with the same id, and the result
/// reaches the caller.
#[test]
fn a_call_and_its_result_travel_between_two_endpoints() {
    let now = start();
    let (mut cp, mut cs) = (v16(), v16());
    let handle = cp.call(now, V16::BootNotification, boot_v16()).unwrap();
    let (_, at_cs) = exchange(now, &mut cp, &mut cs);
    let [RpcEvent::Call(call)] = at_cs.as_slice() else {
        panic!("{at_cs:?}")
    };
    assert_eq!(call.action, V16::BootNotification);
    assert_eq!(call.payload, boot_v16());
    cs.respond(now, &call.id.clone(), boot_v16_conf()).unwrap();
    let (at_cp, _) = exchange(now, &mut cp, &mut cs);
    let [
        RpcEvent::Completed {
            handle: done,
            outcome,
            ..
        },
    ] = at_cp.as_slice()
    else {
        panic!("{at_cp:?}")
    };
    assert_eq!(*done, handle);
    assert_eq!(outcome.as_ref().unwrap(), &boot_v16_conf());
    assert_eq!(cp.pending_calls(), 0);
}

/// 1.6 §4.1.4: CALL ids come from the injected generator and are at most 36 characters.
#[test]
fn call_ids_come_from_the_injected_generator() {
    let now = start();
    let mut cp = v16();
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    assert_eq!(drain(&mut cp).sent, [r#"[2,"1","Heartbeat",{}]"#]);
    Machine::handle_message(
        &mut cp,
        now,
        r#"[3,"1",{"currentTime":"2024-05-01T10:00:00Z"}]"#,
    );
    drain(&mut cp);
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    assert_eq!(drain(&mut cp).sent, [r#"[2,"2","Heartbeat",{}]"#]);
}

/// 1.6 and 2.0.1 §4.1.1: no CALL is sent while an earlier one is unanswered; later calls
/// wait and go out in the order they were made.
#[test]
fn only_one_call_is_in_flight_and_the_rest_wait_in_fifo_order() {
    let now = start();
    let mut cp = v16();
    let first = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    let second = cp
        .call(now, V16::Authorize, json!({"idTag": "TAG1"}))
        .unwrap();
    let third = cp
        .call(now, V16::Authorize, json!({"idTag": "TAG2"}))
        .unwrap();
    assert_eq!(drain(&mut cp).sent.len(), 1, "only the first call goes out");
    assert_eq!(cp.pending_calls(), 3);

    let out = feed(
        &mut cp,
        now,
        r#"[3,"1",{"currentTime":"2024-05-01T10:00:00Z"}]"#,
    );
    assert!(matches!(out.events[0], RpcEvent::Completed { handle, .. } if handle == first));
    assert_eq!(out.sent.len(), 1);
    assert_eq!(parse(&out.sent[0])[3]["idTag"], "TAG1");

    let out = feed(
        &mut cp,
        now,
        r#"[3,"2",{"idTagInfo":{"status":"Accepted"}}]"#,
    );
    assert!(matches!(out.events[0], RpcEvent::Completed { handle, .. } if handle == second));
    assert_eq!(parse(&out.sent[0])[3]["idTag"], "TAG2");

    let out = feed(
        &mut cp,
        now,
        r#"[3,"3",{"idTagInfo":{"status":"Blocked"}}]"#,
    );
    assert!(matches!(out.events[0], RpcEvent::Completed { handle, .. } if handle == third));
    assert!(out.sent.is_empty());
    assert_eq!(cp.pending_calls(), 0);
    assert_eq!(cp.poll_timeout(), None);
}

/// 1.6 §4.1.1: a call times out when unanswered after the timeout interval (30 s by default);
/// the next queued call is then sent.
#[test]
fn an_unanswered_call_times_out_and_the_next_one_is_sent() {
    let now = start();
    let mut cp = v16();
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    drain(&mut cp);
    assert_eq!(cp.poll_timeout(), Some(Monotonic::from_millis(30_000)));

    let early = now.advanced(Duration::from_millis(29_999));
    cp.handle_timeout(early);
    assert!(
        drain(&mut cp).events.is_empty(),
        "nothing fails before the deadline"
    );

    let due = now.advanced(Duration::from_secs(30));
    cp.handle_timeout(due);
    let out = drain(&mut cp);
    assert_eq!(completed(&out.events[0]).1, &Err(CallFailure::Timeout));
    assert_eq!(out.sent, [r#"[2,"2","Heartbeat",{}]"#]);
    // The second call's deadline runs from when it was sent, not when it was made.
    assert_eq!(cp.poll_timeout(), Some(Monotonic::from_millis(60_000)));
}

#[test]
fn the_call_timeout_is_configurable() {
    let now = start();
    let mut config = EndpointConfig::new();
    config.call_timeout = Duration::from_secs(5);
    let mut cs = endpoint(config);
    let _ = cs.call(now, v201::Action::Heartbeat, json!({})).unwrap();
    assert_eq!(cs.poll_timeout(), Some(Monotonic::from_millis(5_000)));
}

/// 1.6 §4.1.1 and errata: an answer after the timeout matches nothing; it is ignored.
#[test]
fn an_answer_after_the_timeout_is_ignored_and_reported() {
    let now = start();
    let mut cp = v16();
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    drain(&mut cp);
    let later = now.advanced(Duration::from_secs(31));
    cp.handle_timeout(later);
    drain(&mut cp);
    let out = feed(
        &mut cp,
        later,
        r#"[3,"1",{"currentTime":"2024-05-01T10:00:00Z"}]"#,
    );
    assert!(out.sent.is_empty());
    assert_eq!(
        peer_error(&out),
        (&PeerError::UnexpectedResponse { id: "1".into() }, None)
    );
}

/// Both versions: a CALLRESULT or CALLERROR for an id we never used is ignored (answering an
/// answer would start a loop) and reported to the application.
#[test]
fn answers_to_unknown_ids_are_ignored_in_both_versions() {
    fn check<A: OcppAction>(mut endpoint: Endpoint<A>) {
        for text in [r#"[3,"nope",{}]"#, r#"[4,"nope","GenericError","",{}]"#] {
            let out = feed(&mut endpoint, start(), text);
            assert!(out.sent.is_empty(), "{text}");
            assert!(matches!(
                peer_error(&out),
                (PeerError::UnexpectedResponse { .. }, None)
            ));
        }
    }
    check(v16());
    check(v201());
}

/// 1.6 §4.2.3 / 2.0.1 §4.3: "NotImplemented: requested Action is not known by receiver".
#[test]
fn an_unknown_action_is_answered_not_implemented() {
    fn check<A: OcppAction>(mut endpoint: Endpoint<A>, text: &str) {
        let out = feed(&mut endpoint, start(), text);
        let (id, code, _) = only_error(&out);
        assert_eq!(
            (id.as_str(), code.as_str()),
            ("7", "NotImplemented"),
            "{text}"
        );
        let (error, answered) = peer_error(&out);
        let PeerError::UnknownAction { id, action } = error else {
            panic!("{error:?}")
        };
        assert_eq!(
            (id.as_str(), answered),
            ("7", Some(ErrorCode::NotImplemented))
        );
        // The peer's text, kept as it came: it names no action of the version.
        assert!(text.contains(&format!(r#""{action}""#)), "{action}");
    }
    check(v16(), r#"[2,"7","TransactionEvent",{}]"#);
    check(v201(), r#"[2,"7","StartTransaction",{}]"#);
    check(v201(), r#"[2,"7","heartbeat",{}]"#);
}

/// 1.6 §4.2.3 / 2.0.1 §4.3: "NotSupported: requested Action is recognized but not supported".
#[test]
fn an_action_the_role_does_not_handle_is_answered_not_supported() {
    let mut config = EndpointConfig::new();
    config.accepted_actions = AcceptedActions::only([V16::Reset, V16::GetConfiguration]);
    let mut cp = endpoint(config);
    let out = feed(
        &mut cp,
        start(),
        r#"[2,"9","BootNotification",{"chargePointVendor":"a","chargePointModel":"b"}]"#,
    );
    assert_eq!(only_error(&out).1, "NotSupported");
    assert_eq!(
        peer_error(&out),
        (
            &PeerError::UnsupportedAction {
                id: "9".into(),
                action: V16::BootNotification
            },
            Some(ErrorCode::NotSupported)
        )
    );
    let out = feed(&mut cp, start(), r#"[2,"10","Reset",{"type":"Soft"}]"#);
    assert!(out.sent.is_empty());
    assert!(matches!(out.events.as_slice(), [RpcEvent::Call(_)]));
}

/// 1.6 §4.1.1 note: calls of both sides may cross. Our call in flight does not stop us from
/// serving the peer's.
#[test]
fn calls_that_cross_are_both_served() {
    let now = start();
    let (mut cp, mut cs) = (v16(), v16());
    let _ = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    let _ = cs.call(now, V16::GetConfiguration, json!({})).unwrap();
    let (at_cp, at_cs) = exchange(now, &mut cp, &mut cs);
    let [RpcEvent::Call(to_cp)] = at_cp.as_slice() else {
        panic!("{at_cp:?}")
    };
    let [RpcEvent::Call(to_cs)] = at_cs.as_slice() else {
        panic!("{at_cs:?}")
    };
    cp.respond(now, &to_cp.id.clone(), json!({"configurationKey": []}))
        .unwrap();
    cs.respond(
        now,
        &to_cs.id.clone(),
        json!({"currentTime": "2024-05-01T10:00:00Z"}),
    )
    .unwrap();
    let (at_cp, at_cs) = exchange(now, &mut cp, &mut cs);
    assert!(completed(&at_cp[0]).1.is_ok());
    assert!(completed(&at_cs[0]).1.is_ok());
}

/// §4.1.1 forbids a second outstanding CALL from one sender; by default we serve it anyway.
#[test]
fn a_second_concurrent_call_is_served_by_default() {
    let mut cs = v16();
    let first = feed(&mut cs, start(), r#"[2,"a","Heartbeat",{}]"#);
    let second = feed(&mut cs, start(), r#"[2,"b","Heartbeat",{}]"#);
    assert!(matches!(first.events.as_slice(), [RpcEvent::Call(_)]));
    assert!(matches!(second.events.as_slice(), [RpcEvent::Call(_)]));
    assert!(second.sent.is_empty());
    cs.respond(start(), "b", json!({"currentTime": "2024-05-01T10:00:00Z"}))
        .unwrap();
    cs.respond(start(), "a", json!({"currentTime": "2024-05-01T10:00:00Z"}))
        .unwrap();
}

/// With `ConcurrentCalls::Refuse`, the second CALL gets a CALLERROR: 2.0.1 RpcFrameworkError
/// ("not a valid RPC request"), 1.6 GenericError (it has no code for RPC rule breaches).
#[test]
fn a_second_concurrent_call_can_be_refused() {
    check::<V16>("GenericError");
    check::<v201::Action>("RpcFrameworkError");
    fn check<A: OcppAction>(expected: &str) {
        let mut config = EndpointConfig::<A>::new();
        config.concurrent_calls = ConcurrentCalls::Refuse;
        let mut cs = endpoint(config);
        feed(&mut cs, start(), r#"[2,"a","Heartbeat",{}]"#);
        let out = feed(&mut cs, start(), r#"[2,"b","Heartbeat",{}]"#);
        assert_eq!(only_error(&out).0, "b");
        assert_eq!(only_error(&out).1, expected);
        assert!(matches!(
            peer_error(&out).0,
            PeerError::ConcurrentCall { .. }
        ));
        // Once the first is answered, a new call is served again.
        cs.respond(start(), "a", json!({"currentTime": "2024-05-01T10:00:00Z"}))
            .unwrap();
        drain(&mut cs);
        let out = feed(&mut cs, start(), r#"[2,"c","Heartbeat",{}]"#);
        assert!(matches!(out.events.as_slice(), [RpcEvent::Call(_)]));
    }
}

/// 1.6 §4.2.3: "an existing call with the same unique identifier is being handled already"
/// is a CALLERROR case. Once answered, the id may come again (1.6 errata 3.1: a retried
/// message MAY reuse its id).
#[test]
fn a_duplicate_id_is_refused_while_its_call_is_handled() {
    let mut cs = v16();
    feed(&mut cs, start(), r#"[2,"dup","Heartbeat",{}]"#);
    let out = feed(&mut cs, start(), r#"[2,"dup","Heartbeat",{}]"#);
    assert_eq!(only_error(&out).0, "dup");
    assert!(matches!(peer_error(&out).0, PeerError::DuplicateId { .. }));
    cs.respond(
        start(),
        "dup",
        json!({"currentTime": "2024-05-01T10:00:00Z"}),
    )
    .unwrap();
    drain(&mut cs);
    let out = feed(&mut cs, start(), r#"[2,"dup","Heartbeat",{}]"#);
    assert!(matches!(out.events.as_slice(), [RpcEvent::Call(_)]));
}

/// A CALL whose payload breaks its schema is answered with the CALLERROR code of the
/// validation table (see `ocpp_core::validate`), spelled for the version, with the violations
/// in errorDetails, and never reaches the role layer.
#[test]
fn an_invalid_call_payload_is_answered_with_the_validation_code() {
    // 1.6 table 7: a missing mandatory member means the payload "is incomplete".
    let mut cs = v16();
    let out = feed(
        &mut cs,
        start(),
        r#"[2,"1","BootNotification",{"chargePointModel":"M"}]"#,
    );
    let (id, code, description) = only_error(&out);
    assert_eq!((id.as_str(), code.as_str()), ("1", "ProtocolError"));
    assert!(description.contains("/chargePointVendor"), "{description}");
    assert_eq!(
        parse(&out.sent[0])[4]["violations"][0]["kind"],
        "MissingMember"
    );
    assert!(matches!(
        peer_error(&out),
        (
            PeerError::InvalidPayload { .. },
            Some(ErrorCode::ProtocolError)
        )
    ));
    // 1.6: a value out of its enumeration is a PropertyConstraintViolation.
    let out = feed(&mut cs, start(), r#"[2,"2","Reset",{"type":"Sideways"}]"#);
    assert_eq!(only_error(&out).1, "PropertyConstraintViolation");
    // 1.6: a string where an integer belongs ("somestring": 12, inverted).
    let out = feed(
        &mut cs,
        start(),
        r#"[2,"3","StartTransaction",{"connectorId":"1","idTag":"T","meterStart":0,"timestamp":"2024-05-01T10:00:00Z"}]"#,
    );
    assert_eq!(only_error(&out).1, "TypeConstraintViolation");

    // 2.0.1 table 8: a member the PDU does not define is "not conform the PDU structure".
    let mut cs = v201();
    let out = feed(&mut cs, start(), r#"[2,"1","Heartbeat",{"extra":1}]"#);
    assert_eq!(only_error(&out).1, "ProtocolError");
    let out = feed(&mut cs, start(), r#"[2,"2","ClearCache",[]]"#);
    assert_eq!(only_error(&out).1, "FormatViolation");
}

/// Validation is on by default and can be switched off per endpoint.
#[test]
fn validation_can_be_switched_off() {
    let mut config = EndpointConfig::<V16>::new();
    config.validate_received = false;
    config.validate_sent = false;
    let mut cs = endpoint(config);
    let out = feed(
        &mut cs,
        start(),
        r#"[2,"1","BootNotification",{"chargePointModel":"M"}]"#,
    );
    assert!(out.sent.is_empty());
    assert!(matches!(out.events.as_slice(), [RpcEvent::Call(_)]));
    // And an invalid response goes out as given.
    cs.respond(start(), "1", json!({"status": "Maybe"}))
        .unwrap();
    assert_eq!(drain(&mut cs).sent, [r#"[3,"1",{"status":"Maybe"}]"#]);
    let handle = cs.call(start(), V16::Reset, json!({"type": "Sideways"}));
    assert!(handle.is_ok());
}

/// We never put an invalid payload on the wire: an invalid request is refused to the caller.
#[test]
fn an_invalid_outgoing_request_is_refused_before_sending() {
    let mut cs = v16();
    let refused = cs
        .call(start(), V16::Reset, json!({"type": "Sideways"}))
        .unwrap_err();
    assert!(
        matches!(refused, CallRefused::InvalidPayload { .. }),
        "{refused}"
    );
    assert!(drain(&mut cs).sent.is_empty());
    assert_eq!(cs.pending_calls(), 0);
    // An action the version does not have cannot be named: `V16::TransactionEvent` does not
    // compile.
}

/// An invalid response from the role layer is not sent; the peer gets an InternalError so it
/// is not left waiting for its timeout.
#[test]
fn an_invalid_response_is_replaced_by_an_internal_error() {
    let mut cs = v16();
    feed(&mut cs, start(), r#"[2,"1","Heartbeat",{}]"#);
    let error = cs
        .respond(start(), "1", json!({"currentTime": 5}))
        .unwrap_err();
    assert!(matches!(error, RespondError::InvalidPayload { .. }));
    let out = drain(&mut cs);
    assert_eq!(only_error(&out).1, "InternalError");
    assert_eq!(
        cs.respond(start(), "1", json!({})),
        Err(RespondError::UnknownCall("1".into()))
    );
}

#[test]
fn an_invalid_response_from_the_peer_fails_the_call() {
    let mut cp = v16();
    let _ = cp.call(start(), V16::Heartbeat, json!({})).unwrap();
    drain(&mut cp);
    let out = feed(&mut cp, start(), r#"[3,"1",{}]"#);
    let (_, outcome) = completed(&out.events[0]);
    assert!(
        matches!(outcome, Err(CallFailure::InvalidResponse { .. })),
        "{outcome:?}"
    );
    assert!(
        out.sent.is_empty(),
        "nothing is sent back for a bad CALLRESULT"
    );
}

/// A CALLERROR answer reaches the caller with its code read in either spelling.
#[test]
fn a_call_error_answer_fails_the_call_with_its_code() {
    for spelling in ["FormationViolation", "FormatViolation"] {
        let mut cp = v16();
        let _ = cp.call(start(), V16::Heartbeat, json!({})).unwrap();
        drain(&mut cp);
        let out = feed(
            &mut cp,
            start(),
            &format!(r#"[4,"1","{spelling}","bad",{{"x":1}}]"#),
        );
        let (_, outcome) = completed(&out.events[0]);
        let Err(CallFailure::CallError(error)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(error.error_code(), Some(ErrorCode::FormatViolation));
        assert_eq!(error.details, json!({"x": 1}));
    }
}

/// The answer each version gives to each kind of broken frame.
///
/// 1.6 §4.1.3: an unknown message type is ignored. 1.6 has no reply for a message whose id
/// cannot be read; a CALL with a readable id gets FormationViolation ("not conform the PDU
/// structure"). 2.0.1 §4.2.3: a corrupt message gets a CALLERROR with id "-1" when the id
/// cannot be read; §4.4: an unknown message type gets MessageTypeNotSupported.
#[test]
fn broken_frames_get_the_answer_their_version_requires() {
    let long_id = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(37));
    /// (frame, 1.6 answer, 2.0.1 answer); an answer is (id, code), `None` for silence.
    type Answer<'a> = Option<(&'a str, &'a str)>;

    let cases: [(&str, Answer, Answer); 9] = [
        ("not json", None, Some(("-1", "RpcFrameworkError"))),
        (r#"{"a":1}"#, None, Some(("-1", "RpcFrameworkError"))),
        ("[]", None, Some(("-1", "RpcFrameworkError"))),
        (
            r#"[5,"m",{}]"#,
            None,
            Some(("m", "MessageTypeNotSupported")),
        ),
        (r#"[5]"#, None, Some(("-1", "MessageTypeNotSupported"))),
        (
            r#"[2,"m","Heartbeat"]"#,
            Some(("m", "FormationViolation")),
            Some(("m", "RpcFrameworkError")),
        ),
        (
            r#"[2,"m","Heartbeat",[1]]"#,
            Some(("m", "FormationViolation")),
            Some(("m", "FormatViolation")),
        ),
        (&long_id, None, Some(("-1", "RpcFrameworkError"))),
        (
            r#"[2,7,"Heartbeat",{}]"#,
            None,
            Some(("-1", "RpcFrameworkError")),
        ),
    ];
    fn check<A: OcppAction>(mut endpoint: Endpoint<A>, text: &str, expected: Answer<'_>) {
        {
            let out = feed(&mut endpoint, start(), text);
            let (error, answered) = peer_error(&out);
            assert!(matches!(error, PeerError::Frame(_)), "{text}");
            match expected {
                None => {
                    assert!(out.sent.is_empty(), "{text}: {:?}", out.sent);
                    assert_eq!(answered, None);
                }
                Some((id, code)) => {
                    let (got_id, got_code, description) = only_error(&out);
                    assert_eq!((got_id.as_str(), got_code.as_str()), (id, code), "{text}");
                    assert_eq!(answered, ErrorCode::parse(code));
                    assert!(!description.is_empty());
                }
            }
        }
    }
    for (text, expect_v16, expect_v201) in cases {
        check(v16(), text, expect_v16);
        check(v201(), text, expect_v201);
    }
}

/// A broken answer to the call in flight fails it at once rather than at its timeout, and
/// lets the next call go.
#[test]
fn a_malformed_answer_to_the_call_in_flight_fails_it_immediately() {
    let mut cp = v16();
    let _ = cp.call(start(), V16::Heartbeat, json!({})).unwrap();
    let _ = cp.call(start(), V16::Heartbeat, json!({})).unwrap();
    drain(&mut cp);
    let out = feed(&mut cp, start(), r#"[3,"1",{},"extra"]"#);
    let (_, outcome) = completed(&out.events[0]);
    assert!(matches!(outcome, Err(CallFailure::MalformedResponse(_))));
    assert_eq!(out.sent, [r#"[2,"2","Heartbeat",{}]"#]);
}

/// A message over the size limit is not parsed. A CALL whose id can be read from its head is
/// answered FormatViolation (1.6: FormationViolation); otherwise the version's rule for an
/// unreadable message applies.
#[test]
fn messages_over_the_size_limit_are_refused() {
    let big = format!(
        r#"[2,"big","DataTransfer",{{"vendorId":"v","data":"{}"}}]"#,
        "x".repeat(2_000)
    );
    check::<V16>(&big, "FormationViolation");
    check::<v201::Action>(&big, "FormatViolation");
    fn check<A: OcppAction>(big: &str, code: &str) {
        let mut config = EndpointConfig::<A>::new();
        config.max_message_size = 1_000;
        let mut cs = endpoint(config);
        let out = feed(&mut cs, start(), big);
        let (id, got, description) = only_error(&out);
        assert_eq!((id.as_str(), got.as_str()), ("big", code));
        assert!(description.contains("exceeds"), "{description}");
        assert!(matches!(
            out.events.as_slice(),
            [RpcEvent::PeerError { .. }]
        ));
    }
    // An oversized answer to the call in flight fails it at once (2.0.1 also reports the
    // corrupt message back, with the id read from the head).
    let mut config = EndpointConfig::new();
    config.max_message_size = 30;
    let mut cp = endpoint(config);
    let _ = cp
        .call(start(), v201::Action::Heartbeat, json!({}))
        .unwrap();
    drain(&mut cp);
    let out = feed(
        &mut cp,
        start(),
        r#"[3,"1",{"currentTime":"2024-05-01T10:00:00Z"}]"#,
    );
    assert_eq!(only_error(&out).0, "1");
    assert!(matches!(
        completed(&out.events[0]).1,
        Err(CallFailure::MalformedResponse(_))
    ));
    // Without a readable head, 2.0.1 answers with id "-1".
    let out = feed(&mut cp, start(), &format!("[{}]", " ".repeat(40)));
    assert_eq!(only_error(&out).0, "-1");
}

#[test]
fn an_outgoing_call_over_the_size_limit_is_refused() {
    let mut config = EndpointConfig::<V16>::new();
    config.max_message_size = 100;
    let mut cp = endpoint(config);
    let refused = cp
        .call(
            start(),
            V16::DataTransfer,
            json!({"vendorId": "v", "data": "x".repeat(200)}),
        )
        .unwrap_err();
    assert!(
        matches!(refused, CallRefused::TooLarge { limit: 100, .. }),
        "{refused}"
    );
    assert!(drain(&mut cp).sent.is_empty());
}

/// When the connection drops, the call in flight and those queued fail in order, calls are
/// refused until it is back, and the peer's unanswered calls can no longer be answered.
#[test]
fn a_disconnect_fails_every_pending_call_in_order() {
    let now = start();
    let mut cp = v16();
    let a = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    let b = cp.call(now, V16::Heartbeat, json!({})).unwrap();
    feed(&mut cp, now, r#"[2,"x","Reset",{"type":"Soft"}]"#);
    drain(&mut cp);
    cp.handle_disconnected(now);
    let out = drain(&mut cp);
    let handles: Vec<_> = out
        .events
        .iter()
        .map(|e| match e {
            RpcEvent::Completed {
                handle,
                outcome: Err(CallFailure::Disconnected),
                ..
            } => *handle,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(handles, [a, b]);
    assert_eq!(cp.poll_timeout(), None);
    assert_eq!(
        cp.call(now, V16::Heartbeat, json!({})),
        Err(CallRefused::NotConnected)
    );
    assert_eq!(
        cp.respond(now, "x", json!({"status": "Accepted"})),
        Err(RespondError::UnknownCall("x".into()))
    );
    cp.handle_connected(now);
    assert!(cp.call(now, V16::Heartbeat, json!({})).is_ok());
}

/// 2.0.1 §4.2.3 table 7: errorDescription is string[255], however long the input.
#[test]
fn error_descriptions_never_exceed_255_characters() {
    let action = "Z".repeat(5_000);
    let mut cs = v201();
    let out = feed(&mut cs, start(), &format!(r#"[2,"1","{action}",{{}}]"#));
    let (_, code, description) = only_error(&out);
    assert_eq!(code, "NotImplemented");
    assert!(description.chars().count() <= 255);
}

/// respond_error sends the code in the version's spelling.
#[test]
fn respond_error_uses_the_versions_spelling() {
    let mut cp = v16();
    feed(&mut cp, start(), r#"[2,"1","Reset",{"type":"Soft"}]"#);
    cp.respond_error(
        start(),
        "1",
        ErrorCode::OccurrenceConstraintViolation,
        "no",
        None,
    )
    .unwrap();
    let out = drain(&mut cp);
    assert_eq!(
        out.sent,
        [r#"[4,"1","OccurenceConstraintViolation","no",{}]"#]
    );
    assert!(matches!(
        Frame::parse(&out.sent[0]),
        Ok(Frame::CallError(_))
    ));
}

/// Typed calls carry the action and payload of their generated type, and a typed answer
/// decodes into the request's response type.
#[test]
fn typed_requests_and_responses_travel_between_two_endpoints() {
    use ocpp_core::v16;
    use serde::Deserialize;

    let now = start();
    let (mut cp, mut cs) = (v16(), v16());
    let request = v16::AuthorizeRequest {
        id_tag: "TAG-1".into(),
    };
    let _ = cp.call_request(now, &request).unwrap();
    let (_, at_cs) = exchange(now, &mut cp, &mut cs);
    let [RpcEvent::Call(call)] = at_cs.as_slice() else {
        panic!("{at_cs:?}")
    };
    assert_eq!(call.action, V16::Authorize);
    let received = v16::AuthorizeRequest::deserialize(&call.payload).unwrap();
    assert_eq!(received, request);
    let answer = v16::AuthorizeResponse {
        id_tag_info: v16::IdTagInfo {
            status: v16::AuthorizationStatus::Accepted,
            expiry_date: None,
            parent_id_tag: None,
        },
    };
    cs.respond_with(now, &call.id.clone(), &answer).unwrap();
    let (at_cp, _) = exchange(now, &mut cp, &mut cs);
    let (_, outcome) = completed(&at_cp[0]);
    let decoded = v16::AuthorizeResponse::deserialize(outcome.as_ref().unwrap()).unwrap();
    assert_eq!(decoded, answer);
    // A request of the other version does not compile (see `Endpoint`'s docs).
}

/// `respond_valid` writes the typed payload straight into the CALLRESULT, members in the
/// type's order, and answers only a CALL it has received.
#[test]
fn respond_valid_writes_the_typed_payload() {
    let mut cs = v16();
    feed(&mut cs, start(), r#"[2,"h1","Heartbeat",{}]"#);
    let answer = ocpp_core::v16::BootNotificationResponse {
        status: ocpp_core::v16::RegistrationStatus::Accepted,
        current_time: datetime!(2024-05-01 10:00 UTC),
        interval: 300,
    };
    // Any payload for the id: the schema check (debug builds) is of the action's response.
    let heartbeat = ocpp_core::v16::HeartbeatResponse {
        current_time: datetime!(2024-05-01 10:00 UTC),
    };
    cs.respond_valid(start(), "h1", &heartbeat).unwrap();
    assert_eq!(
        drain(&mut cs).sent,
        [r#"[3,"h1",{"currentTime":"2024-05-01T10:00:00Z"}]"#]
    );
    assert_eq!(
        cs.respond_valid(start(), "h1", &answer),
        Err(RespondError::UnknownCall("h1".to_owned()))
    );
}

/// In debug builds `respond_valid` still checks the schema: a payload that is not valid
/// after all is refused as `respond` refuses it, with an InternalError to the peer.
#[cfg(debug_assertions)]
#[test]
fn respond_valid_checks_the_schema_in_debug_builds() {
    let mut cs = v16();
    feed(&mut cs, start(), r#"[2,"h1","Heartbeat",{}]"#);
    let refused = cs.respond_valid(start(), "h1", &json!({"currentTime": 7}));
    assert!(
        matches!(refused, Err(RespondError::InvalidPayload { .. })),
        "{refused:?}"
    );
    let (_, code, _) = only_error(&drain(&mut cs));
    assert_eq!(code, "InternalError");
}

/// The role's way in (issue #14 item 1): `handle_message` returns the accepted CALL instead
/// of queueing it, with nothing else queued, and an answer given at once is returned as text
/// without the endpoint remembering the id (1.6 §4.2.2: the CALLRESULT carries the CALL's id).
#[test]
fn an_accepted_call_is_returned_and_an_answer_at_once_is_returned_as_text() {
    let now = start();
    let mut cs = v16();
    let text = r#"[2,"h1","Heartbeat",{}]"#;
    let call = cs.handle_message(now, text).expect("an accepted call");
    assert_eq!((call.id(), call.action()), ("h1", V16::Heartbeat));
    assert_eq!(call.payload(), &json!({}));
    assert!(cs.poll_output().is_none(), "nothing else is queued");
    let answer = ocpp_core::v16::HeartbeatResponse {
        current_time: datetime!(2024-05-01 10:00 UTC),
    };
    let sent = cs.answer_valid(now, call, &answer).unwrap();
    assert_eq!(sent, r#"[3,"h1",{"currentTime":"2024-05-01T10:00:00Z"}]"#);
    assert!(
        cs.poll_output().is_none(),
        "the answer is the caller's to send"
    );
    // Never held: there is nothing to answer by id, and the id is free again.
    assert_eq!(
        cs.respond(now, "h1", json!({})),
        Err(RespondError::UnknownCall("h1".into()))
    );
    let again = cs
        .handle_message(now, text)
        .expect("not a duplicate once answered");
    // An escaped id is read by the tree parser and owned; the answer carries it as written.
    let escaped = cs
        .handle_message(now, r#"[2,"a\u0062","Heartbeat",{}]"#)
        .unwrap();
    assert_eq!(escaped.id(), "ab");
    let refused = cs.answer_error(now, escaped, ErrorCode::FormatViolation, "no", None);
    assert_eq!(refused, r#"[4,"ab","FormationViolation","no",{}]"#);
    let _ = cs.hold(again);
}

/// A held call is one the peer still waits for: its id is refused as a duplicate (1.6
/// §4.2.3) and, with `ConcurrentCalls::Refuse`, any other call as concurrent (§4.1.1), until
/// it is answered by id.
#[test]
fn a_held_call_blocks_its_id_until_answered_by_it() {
    let now = start();
    let mut config = EndpointConfig::<V16>::new();
    config.concurrent_calls = ConcurrentCalls::Refuse;
    let mut cs = endpoint(config);
    let mut call = cs
        .handle_message(now, r#"[2,"r1","Reset",{"type":"Soft"}]"#)
        .unwrap();
    assert_eq!(call.take_payload(), json!({"type": "Soft"}));
    let held = cs.hold(call);
    assert_eq!((held.id.as_str(), held.action), ("r1", V16::Reset));
    assert_eq!(held.payload, Value::Null, "taken before it was held");
    assert!(
        cs.handle_message(now, r#"[2,"r1","Heartbeat",{}]"#)
            .is_none()
    );
    assert_eq!(only_error(&drain(&mut cs)).1, "GenericError");
    assert!(
        cs.handle_message(now, r#"[2,"r2","Heartbeat",{}]"#)
            .is_none()
    );
    let out = drain(&mut cs);
    assert!(matches!(
        peer_error(&out).0,
        PeerError::ConcurrentCall { .. }
    ));
    cs.respond(now, "r1", json!({"status": "Accepted"}))
        .unwrap();
    assert_eq!(drain(&mut cs).sent, [r#"[3,"r1",{"status":"Accepted"}]"#]);
    // Answered at once, a call leaves nothing behind to refuse the next one by.
    let call = cs
        .handle_message(now, r#"[2,"r3","Heartbeat",{}]"#)
        .unwrap();
    let answer = json!({"currentTime": "2024-05-01T10:00:00Z"});
    assert!(cs.answer(now, call, answer).is_ok());
    assert!(
        cs.handle_message(now, r#"[2,"r4","Heartbeat",{}]"#)
            .is_some()
    );
}

/// An answer at once is held to the same rules as one by id: validated against the action's
/// response schema and the size limit, and replaced by an InternalError CALLERROR (queued)
/// so that the peer is not left waiting.
#[test]
fn an_invalid_or_oversized_answer_at_once_becomes_an_internal_error() {
    let now = start();
    let mut cs = v201();
    let call = cs.handle_message(now, r#"[2,"1","Heartbeat",{}]"#).unwrap();
    let refused = cs.answer(now, call, json!({"currentTime": 5})).unwrap_err();
    assert!(
        matches!(
            refused,
            RespondError::InvalidPayload {
                action: v201::Action::Heartbeat,
                ..
            }
        ),
        "{refused}"
    );
    assert_eq!(only_error(&drain(&mut cs)), {
        let (id, code) = ("1".to_owned(), "InternalError".to_owned());
        (
            id,
            code,
            "the response to Heartbeat could not be built".to_owned(),
        )
    });
    let mut config = EndpointConfig::<V16>::new();
    config.max_message_size = 30;
    let mut cs = endpoint(config);
    let call = cs.handle_message(now, r#"[2,"1","Heartbeat",{}]"#).unwrap();
    let answer = ocpp_core::v16::HeartbeatResponse {
        current_time: datetime!(2024-05-01 10:00 UTC),
    };
    let refused = cs.answer_valid(now, call, &answer).unwrap_err();
    assert!(matches!(refused, RespondError::TooLarge { limit: 30, .. }));
    assert_eq!(only_error(&drain(&mut cs)).1, "InternalError");
}

/// The accepted actions are a set over the version's table: all 64 of 2.0.1 fit, and what
/// the set holds is what the endpoint lets through (1.6 §4.2.3 NotSupported for the rest).
#[test]
fn the_accepted_actions_are_a_set_over_the_version_table() {
    let every = AcceptedActions::<v201::Action>::all();
    assert_eq!(every.iter().count(), 64);
    assert!(v201::Action::ALL.iter().all(|a| every.contains(*a)));
    assert_eq!(AcceptedActions::<v201::Action>::none().iter().next(), None);
    let station = AcceptedActions::<V16>::sent_by(Side::Station);
    assert_eq!(station.iter().count(), 14);
    assert!(station.contains(V16::DataTransfer) && !station.contains(V16::Reset));
    let few = AcceptedActions::only([V16::Reset]).with(V16::Heartbeat);
    assert_eq!(few.iter().collect::<Vec<_>>(), [V16::Heartbeat, V16::Reset]);
    assert_eq!(format!("{few:?}"), "{Heartbeat, Reset}");
    assert_eq!(
        few.without(V16::Reset),
        AcceptedActions::only([V16::Heartbeat])
    );
    assert_eq!(AcceptedActions::<V16>::default(), AcceptedActions::all());

    fn served<A: OcppAction>(accepted: AcceptedActions<A>, text: &str) -> bool {
        let mut config = EndpointConfig::new();
        config.accepted_actions = accepted;
        let mut endpoint = endpoint(config);
        endpoint.handle_message(start(), text).is_some()
    }
    // The last action of 2.0.1's table, bit 63.
    let last = action::<v201::Action>("UpdateFirmware");
    assert_eq!(last.index(), 63);
    let update = r#"[2,"1","UpdateFirmware",{"requestId":1,"firmware":{"location":"l","retrieveDateTime":"2024-05-01T10:00:00Z"}}]"#;
    assert!(served(AcceptedActions::only([last]), update));
    assert!(!served(AcceptedActions::all().without(last), update));
}
