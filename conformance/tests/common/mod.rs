//! The full session of our 1.6 Charge Point against our 1.6 Central System over real
//! WebSockets, written once and shared by the end-to-end tests (run on every pairing of
//! runtimes) and the trace tests (recorded on both sides, then replayed).
//!
//! The session ([`session`]) is written on the runtime-neutral `ocpp_io` handles and event
//! streams; a test only starts the server and the client on its runtimes. The machines are
//! trace [`Recorder`]s, recording when given a sink. Every wait is bounded by [`BOUND`], a
//! failure bound only: nothing asserts how fast anything is.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup,
};
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::metering::Reading;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointSetup, Reply};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::trace::{Recorder, TraceSink};
use ocpp_core::v16::{
    AuthorizationStatus, BootNotificationRequest, ChangeConfigurationRequest,
    ChangeConfigurationResponse, ChargePointStatus, ConfigurationStatus, GetConfigurationRequest,
    GetConfigurationResponse, Measurand, MessageTrigger, MeterValuesRequest, ReadingContext,
    Reason, RemoteStartStopStatus, RemoteStartTransactionRequest, RemoteStartTransactionResponse,
    RemoteStopTransactionRequest, RemoteStopTransactionResponse, Request, ResetRequest,
    ResetResponse, ResetStatus, ResetType, TriggerMessageRequest, TriggerMessageResponse,
    TriggerMessageStatus,
};
use ocpp_io::{Client, ClientConfig, Event, Handle, Runtime, Server, ServerConfig};

/// The bound on every wait of a test: generous, so that a loaded machine does not fail it.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

/// The charge point's identity.
pub(crate) const CP_ID: &str = "CP-E2E";

/// The energy register reading of connector 1 the station's application reports, in Wh.
const REGISTER_WH: i32 = 2500;

/// Our Charge Point (two connectors, meter values sampled every second of a transaction,
/// section 3.16; a first start), recording into `sink` if given.
pub(crate) fn charge_point(sink: Option<Box<dyn TraceSink>>) -> Recorder<ChargePoint> {
    let mut boot = BootNotificationRequest::new("VendorX", "E2E");
    boot.firmware_version = Some("1.0".into());
    let setup = ChargePointSetup::new(boot)
        .key(StandardKey::NumberOfConnectors, "2")
        .key(StandardKey::MeterValueSampleInterval, "1");
    Recorder::new(&setup, Box::new(UuidV4Ids), sink).unwrap()
}

/// Our Central System for `charge_point_id`, accepting every id tag, recording into `sink`
/// if given.
pub(crate) fn central_system(
    charge_point_id: &str,
    sink: Option<Box<dyn TraceSink>>,
) -> Recorder<CentralSystem> {
    let mut config = CentralSystemConfig::new(charge_point_id);
    config.policy = CentralSystemPolicy::accept_all();
    Recorder::new(&CentralSystemSetup::of(&config), Box::new(UuidV4Ids), sink).unwrap()
}

/// The server's settings: OCPP 1.6.
pub(crate) fn server_config() -> ServerConfig {
    ServerConfig::new([Version::V16])
}

/// The client's settings: [`CP_ID`] at `server`, OCPP 1.6.
pub(crate) fn client_config(server: std::net::SocketAddr) -> ClientConfig {
    ClientConfig::new(format!("ws://{server}/ocpp"), CP_ID, [Version::V16])
}

/// `future`'s output, or a panic naming `what` after [`BOUND`]. The timer is async-io's,
/// which runs on its own thread when no smol executor drives it, so it works on every runtime.
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match select(pin!(future), smol::Timer::after(BOUND)).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

/// The first machine event that `pick` accepts, within the bound.
async fn next<E, T>(
    events: &mut (impl Stream<Item = Event<E>> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    within(what, async {
        while let Some(event) = events.next().await {
            if let Event::Machine(event) = &event
                && let Some(found) = pick(event)
            {
                return found;
            }
        }
        panic!("the stream ended before {what}");
    })
    .await
}

/// The MeterValues request of the charge point for `transaction` with readings of `context`.
fn meter_values(
    event: &central_system::Event,
    transaction: i32,
    context: ReadingContext,
) -> Option<MeterValuesRequest> {
    let central_system::Event::Request { request, .. } = event else {
        return None;
    };
    match request.as_ref() {
        Request::MeterValues(values)
            if values.transaction_id == Some(transaction)
                && values
                    .meter_value
                    .iter()
                    .flat_map(|m| &m.sampled_value)
                    .any(|v| v.context == Some(context)) =>
        {
            Some(values.clone())
        }
        _ => None,
    }
}

/// Waits until the Central System receives a StatusNotification of `connector` with
/// `status` (the ones before it, e.g. those of the boot, are passed over).
async fn reported(
    cs_events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
    connector: i32,
    status: ChargePointStatus,
) {
    let what = format!("connector {connector} reported {status:?}");
    next(cs_events, &what, |e| match e {
        central_system::Event::Request { request, .. } => match request.as_ref() {
            Request::StatusNotification(notification)
                if notification.connector_id == connector && notification.status == status =>
            {
                Some(())
            }
            _ => None,
        },
        _ => None,
    })
    .await;
}

/// The energy register value in a MeterValues request.
fn register(values: &MeterValuesRequest) -> Option<&str> {
    values
        .meter_value
        .iter()
        .flat_map(|m| &m.sampled_value)
        .find(|v| {
            v.measurand.is_none() || v.measurand == Some(Measurand::EnergyActiveImportRegister)
        })
        .map(|v| v.value.as_str())
}

/// A typed call of the Central System, answered.
async fn call<R, T>(
    cs: &Handle<Recorder<CentralSystem>>,
    cs_events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
    request: R,
) -> T
where
    R: ocpp_core::OcppRequest<Action = ocpp_core::v16::Action>,
    T: central_system::TypedResponse,
{
    let handle = cs
        .run(move |machine, now| machine.call(now, &request))
        .await
        .unwrap()
        .unwrap();
    let completed = next(cs_events, "the call's answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    completed.response::<T>().unwrap()
}

/// The full session on a server and a client started on any runtimes: the connection is
/// accepted, the session runs, the charge point goes down for the reset it accepted (closes
/// the connection), both sides see the end (so that both traces end with the
/// disconnection), and the server shuts down.
pub(crate) async fn session<R: Runtime>(
    mut server: Server<Recorder<CentralSystem>, R>,
    client: Client<Recorder<ChargePoint>>,
) {
    let (cp, mut cp_events, done) = client.split();
    let mut connection = within("the connection", server.next_connection())
        .await
        .expect("the server stopped accepting");
    assert_eq!(connection.info.charge_point_id, CP_ID);
    assert_eq!(connection.info.version, Version::V16);
    full_session(
        &cp,
        &mut cp_events,
        &connection.handle,
        &mut connection.events,
    )
    .await;
    cp.close(1000, "reset").unwrap();
    let machine = within("the client's end", done)
        .await
        .expect("the client's task was dropped");
    assert_eq!(
        machine.queued_transaction_messages(),
        0,
        "every transaction message was delivered"
    );
    let events = &mut connection.events;
    within("the central system's disconnection", async {
        while let Some(event) = events.next().await {
            if matches!(event, Event::Disconnected(_)) {
                return;
            }
        }
    })
    .await;
    within("the server's shutdown", server.shutdown()).await;
}

/// The session, from the charge point's registration to the reset, driven through the
/// handles and checked on both event streams: boot, a local session from plug-in to unplug
/// (authorize, start, sampled and triggered meter values, stop, the derived statuses),
/// remote start and stop, get and change configuration, triggered heartbeat and status
/// notification, reset.
async fn full_session(
    cp: &Handle<Recorder<ChargePoint>>,
    cp_events: &mut (impl Stream<Item = Event<charge_point::Event>> + Unpin),
    cs: &Handle<Recorder<CentralSystem>>,
    cs_events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
) {
    next(cp_events, "registration", |e| match e {
        charge_point::Event::Registered { status, .. } => Some(*status),
        _ => None,
    })
    .await;

    // A local session: plug in, authorize, start, meter values, stop, unplug; the stack
    // derives the statuses from the facts (section 3.7, transitions A2, B3, C6, F1).
    cp.run(|m, now| m.plug_in(now, 1)).await.unwrap().unwrap();
    reported(cs_events, 1, ChargePointStatus::Preparing).await;
    cp.run(|m, now| {
        m.set_readings(
            now,
            1,
            vec![Reading::raw(
                Measurand::EnergyActiveImportRegister,
                REGISTER_WH,
            )],
        )
    })
    .await
    .unwrap()
    .unwrap();
    cp.run(|m, now| m.authorize(now, "TAG-1"))
        .await
        .unwrap()
        .unwrap();
    let verdict = next(cp_events, "authorize", |e| match e {
        charge_point::Event::Authorized { result, .. } => Some(result.clone()),
        _ => None,
    })
    .await;
    assert_eq!(verdict.unwrap().status, AuthorizationStatus::Accepted);
    cp.run(|m, now| m.start_transaction(now, 1, "TAG-1", 1000, None))
        .await
        .unwrap()
        .unwrap();
    let id = next(cp_events, "transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    reported(cs_events, 1, ChargePointStatus::Charging).await;
    // Section 3.16: sampled every MeterValueSampleInterval, with the transaction's id.
    let sampled = next(cs_events, "sampled meter values", |e| {
        meter_values(e, id, ReadingContext::SamplePeriodic)
    })
    .await;
    assert_eq!(sampled.connector_id, 1);
    assert_eq!(register(&sampled), Some(REGISTER_WH.to_string().as_str()));
    // Section 5.17: a TriggerMessage for MeterValues gets the readings at hand, after the
    // answer.
    let trigger: TriggerMessageResponse = call(
        cs,
        cs_events,
        TriggerMessageRequest {
            requested_message: MessageTrigger::MeterValues,
            connector_id: Some(1),
        },
    )
    .await;
    assert_eq!(trigger.status, TriggerMessageStatus::Accepted);
    let triggered = next(cs_events, "triggered meter values", |e| {
        meter_values(e, id, ReadingContext::Trigger)
    })
    .await;
    assert_eq!(triggered.connector_id, 1);
    assert_eq!(register(&triggered), Some(REGISTER_WH.to_string().as_str()));
    cp.run(|m, now| m.stop_transaction(now, 1, 4000, None, Some("TAG-1".into())))
        .await
        .unwrap()
        .unwrap();
    let ended = next(cp_events, "transaction end", |e| match e {
        charge_point::Event::TransactionEnded { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    assert_eq!(ended, id);
    reported(cs_events, 1, ChargePointStatus::Finishing).await;
    cp.run(|m, now| m.unplug(now, 1)).await.unwrap().unwrap();
    reported(cs_events, 1, ChargePointStatus::Available).await;

    // Remote start: the station's application accepts and starts.
    let started = cs.run(|m, now| {
        m.call(
            now,
            &RemoteStartTransactionRequest {
                connector_id: Some(2),
                id_tag: "REMOTE".into(),
                charging_profile: None,
            },
        )
    });
    let handle = started.await.unwrap().unwrap();
    let decision = next(cp_events, "remote start request", |e| match e {
        charge_point::Event::RemoteStartRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    cp.run(move |m, now| {
        m.reply(
            now,
            decision,
            Reply::RemoteStart(RemoteStartStopStatus::Accepted),
        )
    })
    .await
    .unwrap()
    .unwrap();
    let answer = next(cs_events, "remote start answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    let answer: RemoteStartTransactionResponse = answer.response().unwrap();
    assert_eq!(answer.status, RemoteStartStopStatus::Accepted);
    cp.run(|m, now| m.plug_in(now, 2)).await.unwrap().unwrap();
    cp.run(|m, now| m.start_transaction(now, 2, "REMOTE", 0, None))
        .await
        .unwrap()
        .unwrap();
    let remote_id = next(cp_events, "remote transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;

    // Remote stop: accepted, and the station's application stops with reason Remote.
    let stop: RemoteStopTransactionResponse = call(
        cs,
        cs_events,
        RemoteStopTransactionRequest {
            transaction_id: remote_id,
        },
    )
    .await;
    assert_eq!(stop.status, RemoteStartStopStatus::Accepted);
    let (connector, reason) = next(cp_events, "stop request", |e| match e {
        charge_point::Event::StopRequested {
            connector, reason, ..
        } => Some((*connector, *reason)),
        _ => None,
    })
    .await;
    assert_eq!((connector, reason), (2, Reason::Remote));
    cp.run(move |m, now| m.stop_transaction(now, connector, 500, Some(reason), None))
        .await
        .unwrap()
        .unwrap();
    let ended = next(cp_events, "remote transaction end", |e| match e {
        charge_point::Event::TransactionEnded { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    assert_eq!(ended, remote_id);
    cp.run(|m, now| m.unplug(now, 2)).await.unwrap().unwrap();

    // Configuration read and changed.
    let all: GetConfigurationResponse =
        call(cs, cs_events, GetConfigurationRequest { key: None }).await;
    assert!(all.configuration_key.unwrap().len() > 30);
    let changed: ChangeConfigurationResponse = call(
        cs,
        cs_events,
        ChangeConfigurationRequest {
            key: "HeartbeatInterval".into(),
            value: "120".into(),
        },
    )
    .await;
    assert_eq!(changed.status, ConfigurationStatus::Accepted);

    // A triggered heartbeat and a triggered status notification reach the Central System.
    let trigger: TriggerMessageResponse = call(
        cs,
        cs_events,
        TriggerMessageRequest {
            requested_message: MessageTrigger::Heartbeat,
            connector_id: None,
        },
    )
    .await;
    assert_eq!(trigger.status, TriggerMessageStatus::Accepted);
    next(cs_events, "the triggered heartbeat", |e| match e {
        central_system::Event::Request { request, .. }
            if matches!(**request, Request::Heartbeat(_)) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let trigger: TriggerMessageResponse = call(
        cs,
        cs_events,
        TriggerMessageRequest {
            requested_message: MessageTrigger::StatusNotification,
            connector_id: Some(1),
        },
    )
    .await;
    assert_eq!(trigger.status, TriggerMessageStatus::Accepted);
    reported(cs_events, 1, ChargePointStatus::Available).await;

    // Reset: decided by the station's application.
    let reset = cs.run(|m, now| {
        m.call(
            now,
            &ResetRequest {
                kind: ResetType::Soft,
            },
        )
    });
    let handle = reset.await.unwrap().unwrap();
    let decision = next(cp_events, "reset request", |e| match e {
        charge_point::Event::ResetRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    cp.run(move |m, now| m.reply(now, decision, Reply::Reset(ResetStatus::Accepted)))
        .await
        .unwrap()
        .unwrap();
    let answer = next(cs_events, "reset answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    let answer: ResetResponse = answer.response().unwrap();
    assert_eq!(answer.status, ResetStatus::Accepted);
}
