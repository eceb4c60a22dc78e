//! Our 1.6 Charge Point against our 1.6 Central System over real WebSockets on loopback, for
//! a full session: boot, authorize, start, stop, remote start and stop, get and change
//! configuration, trigger, reset. The scenario is written once on futures (handles and event
//! streams are runtime-neutral) and run on tokio, and with a tokio charge point against a
//! smol central system.

mod common;

use common::next;
use futures_util::Stream;
use ocpp_core::Version;
use ocpp_core::central_system::{self, CentralSystem, CentralSystemConfig, CentralSystemPolicy};
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{self, ChargePoint, ChargePointConfig, Reply};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::v16::{
    AuthorizationStatus, BootNotificationRequest, ChangeConfigurationRequest,
    ChangeConfigurationResponse, ConfigurationStatus, GetConfigurationRequest,
    GetConfigurationResponse, MessageTrigger, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, RemoteStartTransactionResponse, RemoteStopTransactionRequest,
    RemoteStopTransactionResponse, ResetRequest, ResetResponse, ResetStatus, ResetType,
    TriggerMessageRequest, TriggerMessageResponse, TriggerMessageStatus,
};
use ocpp_io_tokio::{ClientConfig, Event, Handle, ServerConfig};

fn charge_point() -> ChargePoint {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "2")
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

fn central_system(charge_point_id: &str) -> CentralSystem {
    let mut config = CentralSystemConfig::new(charge_point_id);
    config.policy = CentralSystemPolicy::accept_all();
    CentralSystem::new(config, Box::new(UuidV4Ids))
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

async fn full_session(
    cp: Handle<ChargePoint>,
    mut cp_events: impl Stream<Item = Event<charge_point::Event>> + Unpin,
    cs: Handle<CentralSystem>,
    mut cs_events: impl Stream<Item = Event<central_system::Event>> + Unpin,
) {
    next(&mut cp_events, "registration", |e| match e {
        charge_point::Event::Registered { status, .. } => Some(*status),
        _ => None,
    })
    .await;

    // Authorize, start and stop a transaction.
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
        &cs,
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

    // Configuration read and changed.
    let all: GetConfigurationResponse =
        call(&cs, &mut cs_events, GetConfigurationRequest { key: None }).await;
    assert!(all.configuration_key.unwrap().len() > 30);
    let changed: ChangeConfigurationResponse = call(
        &cs,
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
        &cs,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_on_tokio() {
    let mut server =
        ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), |info| {
            central_system(&info.charge_point_id)
        })
        .await
        .unwrap();
    let url = format!("ws://{}", server.local_addr());
    let client = ocpp_io_tokio::connect(
        ClientConfig::new(url, "CP-E2E", [Version::V16]),
        charge_point(),
    );
    let (cp, cp_events, _done) = client.split();
    let connection = server.next_connection().await.unwrap();
    assert_eq!(connection.info.charge_point_id, "CP-E2E");
    full_session(cp, cp_events, connection.handle, connection.events).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_tokio_charge_point_smol_central_system() {
    let mut server = smol::block_on(ocpp_io_smol::bind(
        "127.0.0.1:0",
        ServerConfig::new([Version::V16]),
        |info| central_system(&info.charge_point_id),
    ))
    .unwrap();
    let url = format!("ws://{}", server.local_addr());
    let client = ocpp_io_tokio::connect(
        ClientConfig::new(url, "CP-MIXED", [Version::V16]),
        charge_point(),
    );
    let (cp, cp_events, _done) = client.split();
    let connection = server.next_connection().await.unwrap();
    full_session(cp, cp_events, connection.handle, connection.events).await;
}
