//! The 1.6 Central System role in virtual time, against our own Charge Point
//! ([`ChargePoint`]) and against a bare RPC endpoint playing a scripted charge point (for what
//! our Charge Point does not do yet). Tests are named after the OCTT `TC_*_CSMS` case they
//! run where one applies, and cite the sections of OCPP 1.6 edition 2 (chapters 4 and 5), the
//! OCPP-J 1.6 errata and the security white paper they prove.

use std::time::Duration;

use ocpp_core::central_system::{
    Answer, BootAnswer, CallCompleted, CentralSystem, CentralSystemConfig, CentralSystemError,
    CentralSystemPolicy, Decision, Event, OutcomeError, Registration,
};
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{
    ChargePoint, ChargePointConfig, Event as CpEvent, Registration as CpRegistration,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::message::OcppRequest;
use ocpp_core::persist::Snapshot;
use ocpp_core::rpc::{CallFailure, CounterIds, Endpoint, EndpointConfig, HeldCall, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{
    self, Action, AuthorizationStatus, AuthorizeResponse, BootNotificationRequest,
    BootNotificationResponse, ChangeConfigurationRequest, ChangeConfigurationResponse,
    ConfigurationStatus, DataTransferRequest, DataTransferResponse, DataTransferStatus,
    GetConfigurationRequest, HeartbeatRequest, IdTagInfo, MessageTrigger, RegistrationStatus,
    RemoteStartTransactionRequest, RemoteStopTransactionRequest, Request, ResetRequest,
    ResetResponse, ResetStatus, ResetType, Response, Sender, StartTransactionResponse,
    StopTransactionResponse, TriggerMessageRequest, TriggerMessageResponse, TriggerMessageStatus,
};
use ocpp_core::{ErrorCode, PayloadKind, Version, schemas};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

mod common;
use common::Sample;

const START: OffsetDateTime = datetime!(2024-05-01 10:00 UTC);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn boot_request() -> BootNotificationRequest {
    {
        let mut boot = BootNotificationRequest::new("VendorX", "Model1");
        boot.firmware_version = Some("1.0.0".into());
        boot
    }
}

fn boot_payload() -> Value {
    serde_json::to_value(boot_request()).unwrap()
}

fn id_tag_info(status: AuthorizationStatus) -> IdTagInfo {
    IdTagInfo {
        expiry_date: None,
        parent_id_tag: None,
        status,
    }
}

/// A schema-valid sample payload of a 1.6 action, built from its schema (see `common`).
fn sample(action: &str, kind: PayloadKind, maximal: bool) -> Value {
    let text = schemas::schema_text(Version::V16, action, kind).unwrap();
    let schema: Value = serde_json::from_str(text).unwrap();
    Sample {
        root: &schema,
        maximal,
    }
    .build(&schema, action)
}

fn central_system(configure: impl FnOnce(&mut CentralSystemConfig)) -> CentralSystem {
    let mut config = CentralSystemConfig::new("CP-1");
    configure(&mut config);
    CentralSystem::new(config, Box::new(CounterIds::default()))
}

/// The decisions among `events`, with their requests.
fn decisions(events: &[Event]) -> Vec<(Request, Decision)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Request {
                request,
                answer: Answer::Decide(decision),
            } => Some((request.as_ref().clone(), decision.clone())),
            _ => None,
        })
        .collect()
}

fn completions(events: &[Event]) -> Vec<CallCompleted> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::CallCompleted(completed) => Some(completed.clone()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Our Central System against our Charge Point.

/// Our Central System, our Charge Point and virtual time.
struct Pair {
    now: Now,
    cs: CentralSystem,
    cp: ChargePoint,
    cs_events: Vec<Event>,
    cp_events: Vec<CpEvent>,
}

impl Pair {
    fn new(connectors: u32, policy: CentralSystemPolicy) -> Pair {
        let definitions = Definitions::builder()
            .initial(StandardKey::NumberOfConnectors, &connectors.to_string())
            .build()
            .unwrap();
        let config = ChargePointConfig::new(boot_request(), definitions);
        let cp =
            ChargePoint::new(config, Box::new(CounterIds::default()), &Snapshot::new()).unwrap();
        Pair {
            now: Now::new(Monotonic::ZERO, START),
            cs: central_system(|config| config.policy = policy),
            cp,
            cs_events: Vec::new(),
            cp_events: Vec::new(),
        }
    }

    fn connect(&mut self) {
        self.cs.handle_connected(self.now);
        self.cp.handle_connected(self.now);
        self.settle();
    }

    /// Exchanges frames until both sides are quiet.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cs.handle_message(self.now, &text);
                    }
                    Output::Event(event) => self.cp_events.push(event),
                    Output::Persist(_) => {}
                    Output::Close(close) => panic!("unexpected close {close:?}"),
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cp.handle_message(self.now, &text);
                    }
                    Output::Event(event) => self.cs_events.push(event),
                    Output::Persist(op) => panic!("the central system persists nothing: {op:?}"),
                    Output::Close(close) => panic!("unexpected close {close:?}"),
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Runs virtual time to `elapsed` since the start, firing every deadline on the way.
    fn run_until(&mut self, elapsed: Duration) {
        let end = Monotonic::from_elapsed(elapsed);
        loop {
            let next = [self.cp.poll_timeout(), self.cs.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= end => {
                    let step = at.saturating_since(self.now.monotonic);
                    self.now = self.now.advanced(step);
                    self.cp.handle_timeout(self.now);
                    self.cs.handle_timeout(self.now);
                    self.settle();
                }
                _ => break,
            }
        }
        let step = end.saturating_since(self.now.monotonic);
        self.now = self.now.advanced(step);
    }

    /// The Central System calls the Charge Point and gets the typed answer.
    fn call<R: OcppRequest<Action = Action>>(
        &mut self,
        request: &R,
    ) -> Result<R::Response, OutcomeError> {
        let handle = self.cs.call(self.now, request).unwrap();
        self.settle();
        let completed = completions(&std::mem::take(&mut self.cs_events))
            .pop()
            .expect("the call completed");
        assert_eq!(completed.handle, handle);
        completed.response::<R::Response>()
    }

    fn requests(&self, action: Action) -> Vec<(&Request, &Answer)> {
        self.cs_events
            .iter()
            .filter_map(|event| match event {
                Event::Request { request, answer } if request.action() == action => {
                    Some((request.as_ref(), answer))
                }
                _ => None,
            })
            .collect()
    }
}

/// OCTT TC_001_CSMS (Cold Boot Charge Point), 1.6 sections 4.2, 4.6 and 4.9: the default
/// policy accepts the BootNotification with a 300 s interval, acknowledges a StatusNotification
/// per connector and connector 0 (status Available), and answers each Heartbeat with the
/// current time.
#[test]
fn tc_001_csms_cold_boot_accepted_by_the_default_policy() {
    let mut pair = Pair::new(2, CentralSystemPolicy::default());
    pair.connect();
    assert_eq!(pair.cs.registration(), Registration::Accepted);
    assert_eq!(pair.cp.registration(), CpRegistration::Accepted);
    assert_eq!(pair.cp.heartbeat_interval(), secs(300));
    assert!(pair.cs_events.contains(&Event::Registered {
        status: RegistrationStatus::Accepted,
        interval: secs(300),
        rebooted: false,
    }));
    assert_eq!(
        pair.cs
            .boot_notification()
            .map(|b| b.charge_point_vendor.as_str()),
        Some("VendorX")
    );
    let statuses: Vec<(i32, v16::ChargePointStatus)> = pair
        .cs
        .connector_statuses()
        .iter()
        .map(|(id, status)| (*id, status.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (0, v16::ChargePointStatus::Available),
            (1, v16::ChargePointStatus::Available),
            (2, v16::ChargePointStatus::Available)
        ]
    );
    // Reported and answered automatically with the empty conf.
    for (_, answer) in pair.requests(Action::StatusNotification) {
        assert_eq!(
            answer,
            &Answer::Sent(v16::StatusNotificationResponse::default().into())
        );
    }

    // Step 5: a Heartbeat after the interval, answered with the Central System's time.
    assert_eq!(pair.cs.last_heartbeat(), None);
    pair.run_until(secs(300));
    assert_eq!(pair.cs.last_heartbeat(), Some(START + secs(300)));
    let heartbeats = pair.requests(Action::Heartbeat);
    assert_eq!(heartbeats.len(), 1);
    assert_eq!(
        heartbeats[0].1,
        &Answer::Sent(
            v16::HeartbeatResponse {
                current_time: START + secs(300)
            }
            .into()
        )
    );
    assert!(pair.cp_events.iter().any(|e| matches!(
        e,
        CpEvent::ClockSynchronized { central_system_time, .. } if *central_system_time == START + secs(300)
    )));
}

/// An application that records the reports itself (`CentralSystemPolicy::without_reports`):
/// the machine keeps no copy of the BootNotification or the StatusNotifications, and still
/// answers them and hands them to the application as events.
#[test]
fn without_reports_the_machine_keeps_no_copy_but_passes_them_on() {
    let mut pair = Pair::new(2, CentralSystemPolicy::default().without_reports());
    pair.connect();
    assert_eq!(pair.cs.registration(), Registration::Accepted);
    assert_eq!(pair.cp.registration(), CpRegistration::Accepted);
    assert!(pair.cs.boot_notification().is_none());
    assert!(pair.cs.connector_statuses().is_empty());
    let reported: Vec<i32> = pair
        .cs_events
        .iter()
        .filter_map(|event| match event {
            Event::Request { request, .. } => match &**request {
                v16::Request::StatusNotification(status) => Some(status.connector_id),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(reported, [0, 1, 2]);
    assert!(pair.cs_events.iter().any(|event| matches!(
        event,
        Event::Request { request, .. } if matches!(**request, v16::Request::BootNotification(_))
    )));
}

/// 1.6 section 4.2: a Pending Charge Point may be configured (GetConfiguration,
/// ChangeConfiguration) but not started or stopped remotely, and it may send what a
/// TriggerMessage asked for (here its status, section 5.17); it boots again after the
/// interval and stays pending under this policy.
#[test]
fn boot_pending_policy_lets_the_central_system_configure_the_charge_point() {
    let policy = CentralSystemPolicy::default().with_boot(BootAnswer::pending(secs(60)));
    let mut pair = Pair::new(1, policy);
    pair.connect();
    assert_eq!(pair.cs.registration(), Registration::Pending);
    assert_eq!(pair.cp.registration(), CpRegistration::Pending);

    let keys = pair
        .call(&GetConfigurationRequest {
            key: Some(vec!["HeartbeatInterval".into()]),
        })
        .unwrap();
    assert_eq!(keys.configuration_key.unwrap()[0].key, "HeartbeatInterval");

    let remote_start = RemoteStartTransactionRequest {
        connector_id: Some(1),
        id_tag: "TAG".into(),
        charging_profile: None,
    };
    assert_eq!(
        pair.cs.call(pair.now, &remote_start),
        Err(CentralSystemError::NotAccepted {
            action: Action::RemoteStartTransaction,
            registration: Registration::Pending,
        })
    );
    assert_eq!(
        pair.cs.call(
            pair.now,
            &RemoteStopTransactionRequest { transaction_id: 1 }
        ),
        Err(CentralSystemError::NotAccepted {
            action: Action::RemoteStopTransaction,
            registration: Registration::Pending,
        })
    );

    let triggered = pair
        .call(&TriggerMessageRequest {
            requested_message: MessageTrigger::StatusNotification,
            connector_id: Some(1),
        })
        .unwrap();
    assert_eq!(triggered.status, TriggerMessageStatus::Accepted);
    // The triggered StatusNotification is answered, not refused with SecurityError.
    assert!(
        !pair
            .cs_events
            .iter()
            .any(|e| matches!(e, Event::NotAccepted { .. }))
    );
    assert!(pair.cs.connector_status(1).is_some());

    pair.run_until(secs(60));
    let boots = pair.requests(Action::BootNotification);
    assert_eq!(boots.len(), 1, "booted again after the interval");
    assert_eq!(pair.cs.registration(), Registration::Pending);
}

/// 1.6 section 4.2: a Rejected Charge Point sends nothing until the interval has passed, and
/// the Central System initiates nothing.
#[test]
fn boot_rejected_policy_refuses_the_charge_point_and_every_call() {
    let policy = CentralSystemPolicy::default().with_boot(BootAnswer::rejected(secs(30)));
    let mut pair = Pair::new(1, policy);
    pair.connect();
    assert_eq!(pair.cs.registration(), Registration::Rejected);
    assert_eq!(pair.cp.registration(), CpRegistration::Rejected);
    assert!(pair.cs.connector_statuses().is_empty());
    assert_eq!(
        pair.cs.call(pair.now, &v16::ClearCacheRequest {}),
        Err(CentralSystemError::NotAccepted {
            action: Action::ClearCache,
            registration: Registration::Rejected,
        })
    );
    pair.run_until(secs(30));
    assert_eq!(pair.requests(Action::BootNotification).len(), 2);
}

/// OCTT TC_019_1_CSMS, TC_019_2_CSMS (retrieve all / a specific configuration key) and
/// TC_021_CSMS (change MeterValueSampleInterval to 60), 1.6 sections 5.3 and 5.8, against our
/// Charge Point.
#[test]
fn tc_019_csms_tc_021_csms_configuration_read_and_changed() {
    let mut pair = Pair::new(1, CentralSystemPolicy::default());
    pair.connect();

    let all = pair.call(&GetConfigurationRequest { key: None }).unwrap();
    let keys: Vec<String> = all
        .configuration_key
        .unwrap()
        .into_iter()
        .map(|k| k.key)
        .collect();
    for key in [
        "HeartbeatInterval",
        "NumberOfConnectors",
        "MeterValueSampleInterval",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }

    let one = pair
        .call(&GetConfigurationRequest {
            key: Some(vec!["SupportedFeatureProfiles".into()]),
        })
        .unwrap();
    assert_eq!(one.unknown_key.unwrap_or_default(), Vec::<String>::new());
    assert_eq!(
        one.configuration_key.unwrap()[0].key,
        "SupportedFeatureProfiles"
    );

    let changed = pair
        .call(&ChangeConfigurationRequest {
            key: "MeterValueSampleInterval".into(),
            value: "60".into(),
        })
        .unwrap();
    assert_eq!(
        changed,
        ChangeConfigurationResponse {
            status: ConfigurationStatus::Accepted
        }
    );
}

/// OCTT TC_004_1_CSMS / TC_023_3_CSMS with our Charge Point, 1.6 section 4.1: Authorize is
/// decided by the application by default; under the accept-all policy it is accepted at once.
#[test]
fn authorize_from_our_charge_point_is_decided_by_the_application_or_the_policy() {
    let mut pair = Pair::new(1, CentralSystemPolicy::default());
    pair.connect();
    let handle = pair.cp.authorize(pair.now, "BLOCKED-TAG").unwrap();
    pair.settle();
    let (request, decision) = decisions(&pair.cs_events).pop().expect("asked");
    assert!(matches!(request, Request::Authorize(r) if r.id_tag == "BLOCKED-TAG"));
    assert_eq!(pair.cs.open_decisions(), 1);
    pair.cs
        .reply(
            pair.now,
            decision,
            AuthorizeResponse {
                id_tag_info: id_tag_info(AuthorizationStatus::Blocked),
            },
        )
        .unwrap();
    pair.settle();
    assert_eq!(pair.cs.open_decisions(), 0);
    assert!(pair.cp_events.contains(&CpEvent::Authorized {
        handle,
        id_tag: "BLOCKED-TAG".into(),
        result: Ok(id_tag_info(AuthorizationStatus::Blocked)),
        source: None,
    }));

    let mut pair = Pair::new(1, CentralSystemPolicy::accept_all());
    pair.connect();
    let handle = pair.cp.authorize(pair.now, "ANY").unwrap();
    pair.settle();
    assert!(decisions(&pair.cs_events).is_empty());
    assert!(pair.cp_events.contains(&CpEvent::Authorized {
        handle,
        id_tag: "ANY".into(),
        result: Ok(id_tag_info(AuthorizationStatus::Accepted)),
        source: None,
    }));
}

/// OCTT TC_064_CSMS (Data Transfer to a Central System), 1.6 section 4.3: a Central System
/// that knows no vendor answers UnknownVendorId, by the application's reply or automatically.
#[test]
fn tc_064_csms_data_transfer_unknown_vendor() {
    let request = DataTransferRequest {
        vendor_id: "com.unknown".into(),
        message_id: Some("m".into()),
        data: None,
    };
    let unknown = DataTransferResponse {
        status: DataTransferStatus::UnknownVendorId,
        data: None,
    };

    let mut pair = Pair::new(1, CentralSystemPolicy::default());
    pair.connect();
    let handle = pair.cp.data_transfer(pair.now, request.clone()).unwrap();
    pair.settle();
    let (_, decision) = decisions(&pair.cs_events).pop().expect("asked by default");
    pair.cs.reply(pair.now, decision, unknown.clone()).unwrap();
    pair.settle();
    assert!(pair.cp_events.contains(&CpEvent::DataTransferAnswered {
        handle,
        result: Ok(unknown.clone()),
    }));

    let policy = CentralSystemPolicy::default().automatic(Action::DataTransfer);
    let mut pair = Pair::new(1, policy);
    pair.connect();
    let handle = pair.cp.data_transfer(pair.now, request).unwrap();
    pair.settle();
    assert!(pair.cp_events.contains(&CpEvent::DataTransferAnswered {
        handle,
        result: Ok(unknown),
    }));
}

// ---------------------------------------------------------------------------------------------
// Our Central System against a scripted charge point (a bare endpoint).

/// Our Central System, a bare endpoint playing the charge point, and virtual time.
struct Scripted {
    now: Now,
    cs: CentralSystem,
    cp: Endpoint,
    events: Vec<Event>,
    /// Calls of the Central System that reached the charge point, not answered yet.
    received: Vec<HeldCall>,
    /// Answers to the charge point's calls.
    answers: Vec<(Action, Result<Value, CallFailure>)>,
}

impl Scripted {
    fn new(configure: impl FnOnce(&mut CentralSystemConfig)) -> Scripted {
        Scripted {
            now: Now::new(Monotonic::ZERO, START),
            cs: central_system(configure),
            cp: Endpoint::new(
                EndpointConfig::new(),
                Box::new(CounterIds::starting_at(1000)),
            ),
            events: Vec::new(),
            received: Vec::new(),
            answers: Vec::new(),
        }
    }

    fn with_policy(policy: CentralSystemPolicy) -> Scripted {
        Scripted::new(|config| config.policy = policy)
    }

    fn connect(&mut self) {
        self.cs.handle_connected(self.now);
        self.cp.handle_connected(self.now);
        self.settle();
    }

    fn disconnect(&mut self) {
        self.cs.handle_disconnected(self.now);
        self.cp.handle_disconnected(self.now);
        self.settle();
    }

    fn settle(&mut self) {
        loop {
            let mut moved = false;
            while let Some(output) = self.cp.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        self.cs.handle_message(self.now, &text);
                    }
                    Output::Event(RpcEvent::Call(call)) => self.received.push(call),
                    Output::Event(RpcEvent::Completed {
                        action, outcome, ..
                    }) => self.answers.push((action, outcome)),
                    Output::Event(RpcEvent::PeerError { error, .. }) => {
                        panic!("the central system sent something wrong: {error:?}")
                    }
                    other => panic!("unexpected output {other:?}"),
                }
            }
            while let Some(output) = self.cs.poll_output() {
                match output {
                    Output::Transmit(text) => {
                        moved = true;
                        Machine::handle_message(&mut self.cp, self.now, &text);
                    }
                    Output::Event(event) => self.events.push(event),
                    other => panic!("unexpected output {other:?}"),
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.advanced(by);
        self.cs.handle_timeout(self.now);
        self.cp.handle_timeout(self.now);
        self.settle();
    }

    /// The charge point calls `action`; returns the Central System's answer if one came.
    fn send(&mut self, action: &str, payload: Value) -> Option<Result<Value, CallFailure>> {
        let action = Action::from_name(action).expect("a 1.6 action");
        let _ = self.cp.call(self.now, action, payload).unwrap();
        self.settle();
        let (answered, outcome) = self.answers.pop()?;
        assert_eq!(answered, action);
        Some(outcome)
    }

    /// The charge point calls `action` and the Central System answers with a CALLRESULT.
    fn send_ok(&mut self, action: &str, payload: Value) -> Value {
        match self.send(action, payload) {
            Some(Ok(answer)) => answer,
            other => panic!("{action} was not answered with a result: {other:?}"),
        }
    }

    /// The charge point calls `action`, which waits for the application's decision.
    fn send_for_decision(&mut self, action: &str, payload: Value) -> (Request, Decision) {
        assert_eq!(
            self.send(action, payload),
            None,
            "answered without a decision"
        );
        decisions(&self.events).pop().expect("a decision")
    }

    /// The application replies; returns the answer the charge point got.
    fn reply(&mut self, decision: Decision, response: impl Into<Response>) -> Value {
        self.cs.reply(self.now, decision, response).unwrap();
        self.settle();
        match self.answers.pop() {
            Some((_, Ok(answer))) => answer,
            other => panic!("no result reached the charge point: {other:?}"),
        }
    }

    fn boot(&mut self) -> Value {
        self.send_ok("BootNotification", boot_payload())
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

fn security_error(outcome: Option<Result<Value, CallFailure>>) -> bool {
    matches!(outcome, Some(Err(CallFailure::CallError(e))) if e.code == "SecurityError")
}

/// OCPP-J 1.6 errata 3.10 (new section 5.6): before acceptance, CALLs other than
/// BootNotification are answered with CallError SecurityError; after acceptance they are
/// served.
#[test]
fn calls_before_acceptance_get_security_error() {
    let mut world = Scripted::with_policy(
        CentralSystemPolicy::default().with_boot(BootAnswer::pending(secs(10))),
    );
    world.connect();
    assert!(security_error(world.send("Heartbeat", json!({}))));
    assert!(world.take_events().iter().any(|e| matches!(
        e,
        Event::NotAccepted {
            request,
            registration: Registration::Unknown
        } if matches!(**request, Request::Heartbeat(_))
    )));
    assert_eq!(world.cs.last_heartbeat(), None);

    // Pending: still refused unless triggered.
    assert_eq!(world.boot()["status"], "Pending");
    let status = json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"});
    assert!(security_error(
        world.send("StatusNotification", status.clone())
    ));
    assert!(world.cs.connector_statuses().is_empty());
    let authorize = json!({"idTag": "TAG"});
    assert!(security_error(world.send("Authorize", authorize.clone())));
}

/// A server that remembers having accepted the Charge Point passes that registration in: a
/// reconnect without a reboot sends no BootNotification (1.6 section 4.2).
#[test]
fn a_known_registration_serves_a_reconnecting_charge_point_without_a_boot() {
    let mut world = Scripted::new(|config| config.registration = Registration::Accepted);
    world.connect();
    assert!(world.send_ok("Heartbeat", json!({}))["currentTime"].is_string());
}

/// 1.6 section 4.6: the Heartbeat is answered with the current time (the caller's wall clock),
/// and any message counts as a sign of life.
#[test]
fn heartbeat_is_answered_with_the_current_time() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    world.advance(secs(42));
    let answer = world.send_ok("Heartbeat", json!({}));
    assert_eq!(
        answer,
        json!({"currentTime": ocpp_core::primitives::datetime::format(START + secs(42))})
    );
    assert_eq!(world.cs.last_heartbeat(), Some(START + secs(42)));
    assert_eq!(world.cs.last_message(), Some(START + secs(42)));
}

/// 1.6 sections 4.4, 4.5, 4.7, 4.9 and the security white paper (LogStatusNotification,
/// SecurityEventNotification, SignedFirmwareStatusNotification): every notification is
/// acknowledged with its empty conf and reported with its typed request; StatusNotification
/// updates the connector map and MeterValues arrive intact.
#[test]
fn notifications_are_acknowledged_and_reported() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    world.take_events();
    let notifications = [
        Action::StatusNotification,
        Action::MeterValues,
        Action::DiagnosticsStatusNotification,
        Action::FirmwareStatusNotification,
        Action::LogStatusNotification,
        Action::SecurityEventNotification,
        Action::SignedFirmwareStatusNotification,
    ];
    for action in notifications {
        for maximal in [true, false] {
            let payload = sample(action.as_str(), PayloadKind::Request, maximal);
            let expected = Request::from_payload(action, payload.clone()).unwrap();
            assert_eq!(world.send_ok(action.as_str(), payload), json!({}));
            let events = world.take_events();
            let [Event::Request { request, answer }] = events.as_slice() else {
                panic!("{action}: {events:?}");
            };
            assert_eq!(**request, expected);
            let Answer::Sent(response) = answer else {
                panic!("{action} was not answered automatically");
            };
            assert_eq!(response.action(), action);
            assert_eq!(response.to_payload(), json!({}));
        }
    }

    world.send_ok(
        "StatusNotification",
        json!({"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted", "info": "x"}),
    );
    let status = world.cs.connector_status(2).unwrap();
    assert_eq!(status.status, v16::ChargePointStatus::Faulted);
    assert_eq!(status.error_code, v16::ChargePointErrorCode::GroundFailure);
}

/// Every automatic answer can be taken over by the application: here Heartbeat and
/// StatusNotification are asked instead.
#[test]
fn automatic_answers_can_be_asked_of_the_application() {
    let policy = CentralSystemPolicy::default()
        .ask(Action::Heartbeat)
        .ask(Action::StatusNotification);
    assert!(!policy.is_automatic(Action::Heartbeat));
    let mut world = Scripted::with_policy(policy);
    world.connect();
    world.boot();
    let (_, decision) = world.send_for_decision("Heartbeat", json!({}));
    let answer = world.reply(
        decision,
        v16::HeartbeatResponse {
            current_time: datetime!(2030-01-01 0:00 UTC),
        },
    );
    assert_eq!(answer, json!({"currentTime": "2030-01-01T00:00:00Z"}));
    let (_, decision) = world.send_for_decision(
        "StatusNotification",
        json!({"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
    );
    assert_eq!(
        world.reply(decision, v16::StatusNotificationResponse {}),
        json!({})
    );
}

/// 1.6 section 4.2 with the BootNotification asked of the application: its reply sets the
/// registration (Pending, then Accepted); a reply of the wrong action is refused and the
/// decision stays open.
#[test]
fn boot_decided_by_the_application() {
    let mut world =
        Scripted::with_policy(CentralSystemPolicy::default().ask(Action::BootNotification));
    world.connect();
    let (request, decision) = world.send_for_decision("BootNotification", boot_payload());
    assert_eq!(request, Request::BootNotification(boot_request()));
    assert_eq!(decision.action(), Action::BootNotification);
    assert_eq!(
        world.cs.reply(
            world.now,
            decision.clone(),
            v16::HeartbeatResponse {
                current_time: START
            }
        ),
        Err(CentralSystemError::WrongReply {
            request: Action::BootNotification,
            reply: Action::Heartbeat,
        })
    );
    let pending = BootNotificationResponse {
        status: RegistrationStatus::Pending,
        current_time: START,
        interval: 10,
    };
    assert_eq!(world.reply(decision.clone(), pending)["status"], "Pending");
    assert_eq!(world.cs.registration(), Registration::Pending);
    // Answered once only.
    assert_eq!(
        world.cs.reply(
            world.now,
            decision.clone(),
            v16::HeartbeatResponse {
                current_time: START
            }
        ),
        Err(CentralSystemError::UnknownDecision(decision))
    );

    let (_, decision) = world.send_for_decision("BootNotification", boot_payload());
    let accepted = BootNotificationResponse {
        status: RegistrationStatus::Accepted,
        current_time: START,
        interval: 120,
    };
    world.reply(decision, accepted);
    assert_eq!(world.cs.registration(), Registration::Accepted);
    assert!(world.events.contains(&Event::Registered {
        status: RegistrationStatus::Accepted,
        interval: secs(120),
        rebooted: false,
    }));
}

/// OCTT TC_013_CSMS (Hard Reset), 1.6 sections 4.2 and 5.14: the Charge Point accepts the
/// reset, boots again and reports its connectors; the BootNotification after acceptance is
/// answered again and reported as a reboot.
#[test]
fn tc_013_csms_hard_reset_and_reboot() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let handle = world
        .cs
        .call(
            world.now,
            &ResetRequest {
                kind: ResetType::Hard,
            },
        )
        .unwrap();
    world.settle();
    let call = world.received.pop().unwrap();
    assert_eq!(call.action, Action::Reset);
    assert_eq!(call.payload, json!({"type": "Hard"}));
    world
        .cp
        .respond(world.now, &call.id, json!({"status": "Accepted"}))
        .unwrap();
    world.settle();
    let completed = completions(&world.take_events()).pop().unwrap();
    assert_eq!(completed.handle, handle);
    assert_eq!(
        completed.response::<ResetResponse>(),
        Ok(ResetResponse {
            status: ResetStatus::Accepted
        })
    );

    assert_eq!(world.boot()["status"], "Accepted");
    assert!(world.events.contains(&Event::Registered {
        status: RegistrationStatus::Accepted,
        interval: secs(300),
        rebooted: true,
    }));
    for connector in 0..=1 {
        world.send_ok(
            "StatusNotification",
            json!({"connectorId": connector, "errorCode": "NoError", "status": "Available"}),
        );
    }
    assert_eq!(world.cs.connector_statuses().len(), 2);
}

/// OCTT TC_003_CSMS (Regular Charging Session - Plugin First) and TC_004_1_CSMS
/// (Identification First), 1.6 sections 4.1, 4.8, 4.9, 4.10: Authorize, StartTransaction and
/// StopTransaction are decided by the application, which assigns the transaction id.
#[test]
fn tc_003_csms_charging_session_decided_by_the_application() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let status = |status: &str| json!({"connectorId": 1, "errorCode": "NoError", "status": status});
    world.send_ok("StatusNotification", status("Preparing"));

    let (request, decision) = world.send_for_decision("Authorize", json!({"idTag": "TAG1"}));
    assert!(matches!(request, Request::Authorize(r) if r.id_tag == "TAG1"));
    let answer = world.reply(
        decision,
        AuthorizeResponse {
            id_tag_info: id_tag_info(AuthorizationStatus::Accepted),
        },
    );
    assert_eq!(answer, json!({"idTagInfo": {"status": "Accepted"}}));

    let start = json!({"connectorId": 1, "idTag": "TAG1", "meterStart": 100,
                       "timestamp": "2024-05-01T10:00:05Z"});
    let (request, decision) = world.send_for_decision("StartTransaction", start);
    assert!(matches!(request, Request::StartTransaction(r) if r.meter_start == 100));
    let answer = world.reply(
        decision,
        StartTransactionResponse {
            id_tag_info: id_tag_info(AuthorizationStatus::Accepted),
            transaction_id: 4711,
        },
    );
    assert_eq!(answer["transactionId"], 4711);
    assert_eq!(answer["idTagInfo"]["status"], "Accepted");
    world.send_ok("StatusNotification", status("Charging"));
    assert_eq!(
        world.cs.connector_status(1).unwrap().status,
        v16::ChargePointStatus::Charging
    );

    let stop = json!({"transactionId": 4711, "idTag": "TAG1", "meterStop": 900,
                      "timestamp": "2024-05-01T11:00:00Z", "reason": "Local"});
    let (request, decision) = world.send_for_decision("StopTransaction", stop);
    assert!(matches!(request, Request::StopTransaction(r) if r.transaction_id == 4711));
    let answer = world.reply(
        decision,
        StopTransactionResponse {
            id_tag_info: Some(id_tag_info(AuthorizationStatus::Accepted)),
        },
    );
    assert_eq!(answer, json!({"idTagInfo": {"status": "Accepted"}}));
}

/// OCTT TC_023_1_CSMS, TC_023_2_CSMS, TC_023_3_CSMS (Authorize invalid / expired / blocked),
/// 1.6 section 4.1: the application's verdict reaches the Charge Point.
#[test]
fn tc_023_csms_authorize_invalid_expired_blocked() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    for (status, wire) in [
        (AuthorizationStatus::Invalid, "Invalid"),
        (AuthorizationStatus::Expired, "Expired"),
        (AuthorizationStatus::Blocked, "Blocked"),
    ] {
        let (_, decision) = world.send_for_decision("Authorize", json!({"idTag": wire}));
        let answer = world.reply(
            decision,
            AuthorizeResponse {
                id_tag_info: id_tag_info(status),
            },
        );
        assert_eq!(answer, json!({"idTagInfo": {"status": wire}}));
    }
}

/// The accept-all policy (demos and tests): every id tag accepted, transaction ids from a
/// counter, StopTransaction acknowledged with idTagInfo only when it carries an idTag.
#[test]
fn accept_all_policy_accepts_id_tags_and_numbers_transactions() {
    let policy = CentralSystemPolicy {
        first_transaction_id: 100,
        ..CentralSystemPolicy::accept_all()
    };
    let mut world = Scripted::with_policy(policy);
    world.connect();
    world.boot();
    assert_eq!(
        world.send_ok("Authorize", json!({"idTag": "X"})),
        json!({"idTagInfo": {"status": "Accepted"}})
    );
    let start = |connector: i32| {
        json!({"connectorId": connector, "idTag": "X", "meterStart": 0,
               "timestamp": "2024-05-01T10:00:05Z"})
    };
    assert_eq!(
        world.send_ok("StartTransaction", start(1)),
        json!({"idTagInfo": {"status": "Accepted"}, "transactionId": 100})
    );
    assert_eq!(
        world.send_ok("StartTransaction", start(2))["transactionId"],
        101
    );
    let stop = json!({"transactionId": 100, "idTag": "X", "meterStop": 5,
                      "timestamp": "2024-05-01T11:00:00Z"});
    assert_eq!(
        world.send_ok("StopTransaction", stop),
        json!({"idTagInfo": {"status": "Accepted"}})
    );
    let stop = json!({"transactionId": 101, "meterStop": 5, "timestamp": "2024-05-01T11:00:00Z"});
    assert_eq!(world.send_ok("StopTransaction", stop), json!({}));
    assert!(decisions(&world.events).is_empty());
    // SignCertificate is still the application's (security white paper: only a Central
    // System with a CA can sign).
    let _ = world.send_for_decision("SignCertificate", json!({"csr": "-----BEGIN CSR-----"}));
}

/// Calls a Central System action with sample requests (every member, then only the required
/// ones) against the scripted charge point, which answers with sample responses; the typed
/// outcome must equal what it sent.
fn round_trip<R: OcppRequest<Action = Action>>(world: &mut Scripted) -> Action {
    for maximal in [true, false] {
        let request: R = serde_json::from_value(sample(R::ACTION, PayloadKind::Request, maximal))
            .unwrap_or_else(|e| panic!("{}: {e}", R::ACTION));
        let handle = world
            .cs
            .call(world.now, &request)
            .unwrap_or_else(|e| panic!("{}: {e}", R::ACTION));
        world.settle();
        let call = world
            .received
            .pop()
            .expect("the call reached the charge point");
        assert_eq!(call.action, R::TYPED_ACTION);
        assert_eq!(call.payload, serde_json::to_value(&request).unwrap());
        let answer = sample(R::ACTION, PayloadKind::Response, maximal);
        let expected: R::Response = serde_json::from_value(answer.clone()).unwrap();
        world.cp.respond(world.now, &call.id, answer).unwrap();
        world.settle();
        let completed = completions(&world.take_events()).pop().expect("completed");
        assert_eq!(completed.handle, handle);
        assert_eq!(completed.action, R::TYPED_ACTION);
        assert_eq!(completed.response::<R::Response>(), Ok(expected));
    }
    R::TYPED_ACTION
}

/// 1.6 chapter 5 and the security white paper: every Central System action is a typed call
/// whose answer comes back as its typed response.
#[test]
fn every_central_system_action_round_trips_as_a_typed_call() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let covered = [
        round_trip::<v16::CancelReservationRequest>(&mut world),
        round_trip::<v16::ChangeAvailabilityRequest>(&mut world),
        round_trip::<v16::ChangeConfigurationRequest>(&mut world),
        round_trip::<v16::ClearCacheRequest>(&mut world),
        round_trip::<v16::ClearChargingProfileRequest>(&mut world),
        round_trip::<v16::DataTransferRequest>(&mut world),
        round_trip::<v16::GetCompositeScheduleRequest>(&mut world),
        round_trip::<v16::GetConfigurationRequest>(&mut world),
        round_trip::<v16::GetDiagnosticsRequest>(&mut world),
        round_trip::<v16::GetLocalListVersionRequest>(&mut world),
        round_trip::<v16::RemoteStartTransactionRequest>(&mut world),
        round_trip::<v16::RemoteStopTransactionRequest>(&mut world),
        round_trip::<v16::ReserveNowRequest>(&mut world),
        round_trip::<v16::ResetRequest>(&mut world),
        round_trip::<v16::SendLocalListRequest>(&mut world),
        round_trip::<v16::SetChargingProfileRequest>(&mut world),
        round_trip::<v16::TriggerMessageRequest>(&mut world),
        round_trip::<v16::UnlockConnectorRequest>(&mut world),
        round_trip::<v16::UpdateFirmwareRequest>(&mut world),
        round_trip::<v16::CertificateSignedRequest>(&mut world),
        round_trip::<v16::DeleteCertificateRequest>(&mut world),
        round_trip::<v16::ExtendedTriggerMessageRequest>(&mut world),
        round_trip::<v16::GetInstalledCertificateIdsRequest>(&mut world),
        round_trip::<v16::GetLogRequest>(&mut world),
        round_trip::<v16::InstallCertificateRequest>(&mut world),
        round_trip::<v16::SignedUpdateFirmwareRequest>(&mut world),
    ];
    let mut covered = covered.to_vec();
    covered.sort();
    let expected: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| a.sender() != Sender::ChargePoint)
        .collect();
    assert_eq!(covered, expected);
    assert_eq!(covered.len(), 26);
}

/// The typed outcome refuses a downcast to another action's response.
#[test]
fn a_completed_call_downcasts_only_to_its_own_response() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let _ = world
        .cs
        .call(world.now, &v16::ClearCacheRequest {})
        .unwrap();
    world.settle();
    let call = world.received.pop().unwrap();
    world
        .cp
        .respond(world.now, &call.id, json!({"status": "Accepted"}))
        .unwrap();
    world.settle();
    let completed = completions(&world.take_events()).pop().unwrap();
    assert_eq!(
        completed.response::<ResetResponse>(),
        Err(OutcomeError::WrongAction {
            expected: Action::Reset,
            actual: Action::ClearCache,
        })
    );
}

/// 1.6 chapter 4: the Charge Point's actions are not the Central System's to call; nor can
/// anything be called without a connection.
#[test]
fn charge_point_actions_are_refused_as_calls() {
    let mut world = Scripted::new(|_| {});
    assert_eq!(
        world.cs.call(world.now, &v16::ClearCacheRequest {}),
        Err(CentralSystemError::Offline)
    );
    world.connect();
    world.boot();
    assert_eq!(
        world.cs.call(world.now, &HeartbeatRequest {}),
        Err(CentralSystemError::ChargePointAction(Action::Heartbeat))
    );
    assert_eq!(
        world.cs.call(world.now, &boot_request()),
        Err(CentralSystemError::ChargePointAction(
            Action::BootNotification
        ))
    );
    assert_eq!(
        world.cs.call(
            world.now,
            &v16::AuthorizeRequest {
                id_tag: "TAG".into()
            }
        ),
        Err(CentralSystemError::ChargePointAction(Action::Authorize))
    );
    assert!(world.received.is_empty());
    // A Central System action sent by the charge point is answered NotSupported by the RPC
    // layer.
    let answer = world.send("Reset", json!({"type": "Soft"}));
    assert!(matches!(answer, Some(Err(CallFailure::CallError(e))) if e.code == "NotSupported"));
}

/// 1.6 section 4.2: RemoteStartTransaction and RemoteStopTransaction are not allowed before
/// acceptance; other calls are (a Charge Point of unknown registration can be triggered to
/// boot).
#[test]
fn remote_start_and_stop_are_refused_until_accepted() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    let start = RemoteStartTransactionRequest {
        connector_id: None,
        id_tag: "TAG".into(),
        charging_profile: None,
    };
    assert_eq!(
        world.cs.call(world.now, &start),
        Err(CentralSystemError::NotAccepted {
            action: Action::RemoteStartTransaction,
            registration: Registration::Unknown,
        })
    );
    let _ = world
        .cs
        .call(
            world.now,
            &TriggerMessageRequest {
                requested_message: MessageTrigger::BootNotification,
                connector_id: None,
            },
        )
        .unwrap();
    world.settle();
    let trigger = world.received.pop().unwrap();
    world
        .cp
        .respond(world.now, &trigger.id, json!({"status": "Accepted"}))
        .unwrap();
    world.settle();
    world.boot();
    assert!(world.cs.call(world.now, &start).is_ok());
}

/// OCTT TC_054_CSMS (Trigger Message), 1.6 section 5.17: each triggered message is answered.
#[test]
fn tc_054_csms_trigger_message() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let messages = [
        (
            MessageTrigger::MeterValues,
            "MeterValues",
            json!({"connectorId": 1, "meterValue": [{"timestamp": "2024-05-01T10:00:00Z", "sampledValue": [{"value": "12"}]}]}),
        ),
        (MessageTrigger::Heartbeat, "Heartbeat", json!({})),
        (
            MessageTrigger::StatusNotification,
            "StatusNotification",
            json!({"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        ),
        (
            MessageTrigger::DiagnosticsStatusNotification,
            "DiagnosticsStatusNotification",
            json!({"status": "Idle"}),
        ),
        (
            MessageTrigger::FirmwareStatusNotification,
            "FirmwareStatusNotification",
            json!({"status": "Idle"}),
        ),
    ];
    for (trigger, action, payload) in messages {
        let handle = world
            .cs
            .call(
                world.now,
                &TriggerMessageRequest {
                    requested_message: trigger,
                    connector_id: Some(1),
                },
            )
            .unwrap();
        world.settle();
        let call = world.received.pop().unwrap();
        world
            .cp
            .respond(world.now, &call.id, json!({"status": "Accepted"}))
            .unwrap();
        world.settle();
        let completed = completions(&world.take_events()).pop().unwrap();
        assert_eq!(completed.handle, handle);
        assert_eq!(
            completed
                .response::<TriggerMessageResponse>()
                .unwrap()
                .status,
            TriggerMessageStatus::Accepted
        );
        world.send_ok(action, payload);
    }
}

/// OCPP-J 1.6 section 4.1.1 and the endpoint's timeout: one call in flight, the next queued;
/// a call without an answer fails with Timeout and the queued one goes out; a disconnect
/// fails what is left, then the application hears of the disconnect and its open decisions
/// are void.
#[test]
fn timeouts_and_disconnects_fail_calls() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let reset = world
        .cs
        .call(
            world.now,
            &ResetRequest {
                kind: ResetType::Soft,
            },
        )
        .unwrap();
    let clear = world
        .cs
        .call(world.now, &v16::ClearCacheRequest {})
        .unwrap();
    world.settle();
    assert_eq!(world.cs.pending_calls(), 2);
    assert!(world.cs.call_in_flight());
    assert_eq!(world.received.len(), 1, "one call in flight");
    assert_eq!(
        world.cs.poll_timeout(),
        Some(Monotonic::from_elapsed(secs(30)))
    );

    world.advance(secs(30));
    let events = world.take_events();
    let completed = completions(&events);
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].handle, reset);
    assert_eq!(
        completed[0].clone().response::<ResetResponse>(),
        Err(OutcomeError::Failed(CallFailure::Timeout))
    );
    assert_eq!(world.received.len(), 2, "the queued call went out");

    let (_, decision) = world.send_for_decision("Authorize", json!({"idTag": "T"}));
    world.take_events();
    world.disconnect();
    let events = world.take_events();
    let [
        Event::CallCompleted(CallCompleted {
            handle,
            outcome: Err(CallFailure::Disconnected),
            ..
        }),
        Event::Disconnected,
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    assert_eq!(*handle, clear);
    assert_eq!(world.cs.pending_calls(), 0);
    world.connect();
    assert!(world.events.contains(&Event::Connected {
        charge_point_id: "CP-1".into()
    }));
    assert_eq!(
        world.cs.reply(
            world.now,
            decision.clone(),
            AuthorizeResponse {
                id_tag_info: id_tag_info(AuthorizationStatus::Accepted)
            }
        ),
        Err(CentralSystemError::UnknownDecision(decision))
    );
}

/// An application whose backend fails can answer a decision with a CallError.
#[test]
fn a_decision_can_be_answered_with_a_call_error() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let (_, decision) = world.send_for_decision("Authorize", json!({"idTag": "T"}));
    world
        .cs
        .reply_error(
            world.now,
            decision,
            ErrorCode::InternalError,
            "backend down",
        )
        .unwrap();
    world.settle();
    let (_, outcome) = world.answers.pop().unwrap();
    assert!(matches!(outcome, Err(CallFailure::CallError(e)) if e.code == "InternalError"));
}

/// A reply that breaks its schema is refused and the Charge Point gets InternalError rather
/// than an invalid payload.
#[test]
fn an_invalid_reply_becomes_internal_error() {
    let mut world = Scripted::new(|_| {});
    world.connect();
    world.boot();
    let (_, decision) = world.send_for_decision("Authorize", json!({"idTag": "T"}));
    let too_long = IdTagInfo {
        parent_id_tag: Some("p".repeat(21)),
        ..id_tag_info(AuthorizationStatus::Accepted)
    };
    let refused = world.cs.reply(
        world.now,
        decision,
        AuthorizeResponse {
            id_tag_info: too_long,
        },
    );
    assert!(matches!(
        refused,
        Err(CentralSystemError::InvalidReply {
            action: Action::Authorize,
            ..
        })
    ));
    world.settle();
    let (_, outcome) = world.answers.pop().unwrap();
    assert!(matches!(outcome, Err(CallFailure::CallError(e)) if e.code == "InternalError"));
}
