//! Our 1.6 Charge Point against our 1.6 Central System over real WebSockets on loopback, for
//! a full session: boot, authorize, start, sampled and triggered meter values, stop, remote
//! start and stop, get and change configuration, trigger message, reset.
//!
//! The session is written once ([`session`]), on the runtime-neutral `ocpp_io` handles and
//! event streams; each test only starts the server and the client on its runtimes: tokio,
//! smol, async-std (the smol adapter with async-std's executor and tasks), and tokio against
//! smol both ways. Every wait is bounded by [`BOUND`], a failure bound only: nothing asserts
//! how fast anything is.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::central_system::{self, CentralSystem, CentralSystemConfig, CentralSystemPolicy};
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::metering::Reading;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointConfig, Reply};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::v16::{
    AuthorizationStatus, BootNotificationRequest, ChangeConfigurationRequest,
    ChangeConfigurationResponse, ConfigurationStatus, GetConfigurationRequest,
    GetConfigurationResponse, Measurand, MessageTrigger, MeterValuesRequest, ReadingContext,
    Reason, RemoteStartStopStatus, RemoteStartTransactionRequest, RemoteStartTransactionResponse,
    RemoteStopTransactionRequest, RemoteStopTransactionResponse, Request, ResetRequest,
    ResetResponse, ResetStatus, ResetType, TriggerMessageRequest, TriggerMessageResponse,
    TriggerMessageStatus,
};
use ocpp_io::{
    Client, ClientConfig, ConnectionInfo, Event, Handle, NoPersist, Runtime, Server, ServerConfig,
};
use ocpp_io_smol::Smol;

/// The bound on every wait of a test: generous, so that a loaded machine does not fail it.
const BOUND: Duration = Duration::from_secs(30);

/// The charge point's identity.
const CP_ID: &str = "CP-E2E";

/// The energy register reading of connector 1 the station's application reports, in Wh.
const REGISTER_WH: i32 = 2500;

fn charge_point() -> ChargePoint {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "2")
        // Sampled meter values every second of a transaction (section 3.16).
        .initial(StandardKey::MeterValueSampleInterval, "1")
        .build()
        .unwrap();
    let boot = {
        let mut boot = BootNotificationRequest::new("VendorX", "E2E");
        boot.firmware_version = Some("1.0".into());
        boot
    };
    let config = ChargePointConfig::new(boot, definitions);
    ChargePoint::new(
        config,
        Box::new(UuidV4Ids),
        &ocpp_core::persist::Snapshot::new(),
    )
    .unwrap()
}

/// The machine of each accepted connection.
fn central_system(info: &ConnectionInfo) -> CentralSystem {
    let mut config = CentralSystemConfig::new(&info.charge_point_id);
    config.policy = CentralSystemPolicy::accept_all();
    CentralSystem::new(config, Box::new(UuidV4Ids))
}

fn server_config() -> ServerConfig {
    ServerConfig::new([Version::V16])
}

fn client_config(server: std::net::SocketAddr) -> ClientConfig {
    ClientConfig::new(format!("ws://{server}/ocpp"), CP_ID, [Version::V16])
}

/// `future`'s output, or a panic naming `what` after [`BOUND`]. The timer is async-io's,
/// which runs on its own thread when no smol executor drives it, so it works on every runtime
/// here.
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
    match event {
        central_system::Event::Request {
            request: Request::MeterValues(values),
            ..
        } if values.transaction_id == Some(transaction)
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
    cs: &Handle<CentralSystem>,
    cs_events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
    request: R,
) -> T
where
    R: ocpp_core::OcppRequest,
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
/// accepted, the session runs, the charge point closes, and both sides end.
async fn session<R: Runtime>(mut server: Server<CentralSystem, R>, client: Client<ChargePoint>) {
    let (cp, cp_events, done) = client.split();
    let connection = within("the connection", server.next_connection())
        .await
        .expect("the server stopped accepting");
    assert_eq!(connection.info.charge_point_id, CP_ID);
    assert_eq!(connection.info.version, Version::V16);
    full_session(&cp, cp_events, &connection.handle, connection.events).await;
    cp.close(1000, "session done").unwrap();
    let machine = within("the client's end", done)
        .await
        .expect("the client's task was dropped");
    assert_eq!(
        machine.queued_transaction_messages(),
        0,
        "every transaction message was delivered"
    );
    within("the server's shutdown", server.shutdown()).await;
}

/// The session, from the charge point's registration to the reset, driven through the
/// handles and checked on both event streams.
async fn full_session(
    cp: &Handle<ChargePoint>,
    mut cp_events: impl Stream<Item = Event<charge_point::Event>> + Unpin,
    cs: &Handle<CentralSystem>,
    mut cs_events: impl Stream<Item = Event<central_system::Event>> + Unpin,
) {
    next(&mut cp_events, "registration", |e| match e {
        charge_point::Event::Registered { status, .. } => Some(*status),
        _ => None,
    })
    .await;

    // Authorize, start and stop a transaction, with meter values between.
    cp.run(|m, _| {
        m.set_readings(
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
    let verdict = next(&mut cp_events, "authorize", |e| match e {
        charge_point::Event::Authorized { result, .. } => Some(result.clone()),
        _ => None,
    })
    .await;
    assert_eq!(verdict.unwrap().status, AuthorizationStatus::Accepted);
    cp.run(|m, now| m.start_transaction(now, 1, "TAG-1", 1000, None))
        .await
        .unwrap()
        .unwrap();
    let id = next(&mut cp_events, "transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    // Section 3.16: sampled every MeterValueSampleInterval, with the transaction's id.
    let sampled = next(&mut cs_events, "sampled meter values", |e| {
        meter_values(e, id, ReadingContext::SamplePeriodic)
    })
    .await;
    assert_eq!(sampled.connector_id, 1);
    assert_eq!(register(&sampled), Some(REGISTER_WH.to_string().as_str()));
    // Section 5.17: a TriggerMessage for MeterValues gets the readings at hand, after the
    // answer.
    let trigger: TriggerMessageResponse = call(
        cs,
        &mut cs_events,
        TriggerMessageRequest {
            requested_message: MessageTrigger::MeterValues,
            connector_id: Some(1),
        },
    )
    .await;
    assert_eq!(trigger.status, TriggerMessageStatus::Accepted);
    let triggered = next(&mut cs_events, "triggered meter values", |e| {
        meter_values(e, id, ReadingContext::Trigger)
    })
    .await;
    assert_eq!(triggered.connector_id, 1);
    assert_eq!(register(&triggered), Some(REGISTER_WH.to_string().as_str()));
    cp.run(|m, now| m.stop_transaction(now, 1, 4000, None, None))
        .await
        .unwrap()
        .unwrap();
    let ended = next(&mut cp_events, "transaction end", |e| match e {
        charge_point::Event::TransactionEnded { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    assert_eq!(ended, id);

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
    let decision = next(&mut cp_events, "remote start request", |e| match e {
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
    let answer = next(&mut cs_events, "remote start answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    let answer: RemoteStartTransactionResponse = answer.response().unwrap();
    assert_eq!(answer.status, RemoteStartStopStatus::Accepted);
    cp.run(|m, now| m.start_transaction(now, 2, "REMOTE", 0, None))
        .await
        .unwrap()
        .unwrap();
    let remote_id = next(&mut cp_events, "remote transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;

    // Remote stop: accepted, and the station's application stops with reason Remote.
    let stop: RemoteStopTransactionResponse = call(
        cs,
        &mut cs_events,
        RemoteStopTransactionRequest {
            transaction_id: remote_id,
        },
    )
    .await;
    assert_eq!(stop.status, RemoteStartStopStatus::Accepted);
    let (connector, reason) = next(&mut cp_events, "stop request", |e| match e {
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
    let ended = next(&mut cp_events, "remote transaction end", |e| match e {
        charge_point::Event::TransactionEnded { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    assert_eq!(ended, remote_id);

    // Configuration read and changed.
    let all: GetConfigurationResponse =
        call(cs, &mut cs_events, GetConfigurationRequest { key: None }).await;
    assert!(all.configuration_key.unwrap().len() > 30);
    let changed: ChangeConfigurationResponse = call(
        cs,
        &mut cs_events,
        ChangeConfigurationRequest {
            key: "HeartbeatInterval".into(),
            value: "120".into(),
        },
    )
    .await;
    assert_eq!(changed.status, ConfigurationStatus::Accepted);

    // A triggered heartbeat reaches the Central System.
    let trigger: TriggerMessageResponse = call(
        cs,
        &mut cs_events,
        TriggerMessageRequest {
            requested_message: MessageTrigger::Heartbeat,
            connector_id: None,
        },
    )
    .await;
    assert_eq!(trigger.status, TriggerMessageStatus::Accepted);
    next(&mut cs_events, "the triggered heartbeat", |e| match e {
        central_system::Event::Request {
            request: ocpp_core::v16::Request::Heartbeat(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;

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
    let decision = next(&mut cp_events, "reset request", |e| match e {
        charge_point::Event::ResetRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    cp.run(move |m, now| m.reply(now, decision, Reply::Reset(ResetStatus::Accepted)))
        .await
        .unwrap()
        .unwrap();
    let answer = next(&mut cs_events, "reset answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    let answer: ResetResponse = answer.response().unwrap();
    assert_eq!(answer.status, ResetStatus::Accepted);
}

/// The smol adapter's runtime with async-std's spawner: its tasks are async-std tasks.
fn async_std_runtime() -> Smol {
    Smol::with_spawner(|task| {
        async_std::task::spawn(task);
    })
}

/// Loopback, any free port.
const ADDR: &str = "127.0.0.1:0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_on_tokio() {
    let server = ocpp_io_tokio::bind(ADDR, server_config(), central_system);
    let server = server.await.unwrap();
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), charge_point());
    session(server, client).await;
}

#[test]
fn a_full_session_on_smol() {
    smol::block_on(async {
        let server = ocpp_io_smol::bind(ADDR, server_config(), central_system);
        let server = server.await.unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr()), charge_point());
        session(server, client).await;
    });
}

/// The smol adapter under async-std: async-std's executor runs the session, async-std tasks
/// run the server's connections and the client.
#[test]
fn a_full_session_on_async_std() {
    async_std::task::block_on(async {
        let persisters =
            |_: &ConnectionInfo| -> Box<dyn ocpp_io::Persister> { Box::new(NoPersist) };
        let server = ocpp_io_smol::bind_on(
            async_std_runtime(),
            ADDR,
            server_config(),
            central_system,
            persisters,
        );
        let server = server.await.unwrap();
        let config = client_config(server.local_addr());
        let client = ocpp_io_smol::connect_on(
            async_std_runtime(),
            config,
            charge_point(),
            Box::new(NoPersist),
        );
        session(server, client).await;
    });
}

/// A tokio Central System and a smol Charge Point; the session runs on smol's executor, the
/// tokio runtime in the background.
#[test]
fn a_full_session_tokio_central_system_smol_charge_point() {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _context = tokio.enter();
    smol::block_on(async {
        let server = ocpp_io_tokio::bind(ADDR, server_config(), central_system);
        let server = server.await.unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr()), charge_point());
        session(server, client).await;
    });
}

/// A smol Central System and a tokio Charge Point; the session runs on tokio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_smol_central_system_tokio_charge_point() {
    let server = ocpp_io_smol::bind(ADDR, server_config(), central_system);
    let server = server.await.unwrap();
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), charge_point());
    session(server, client).await;
}
