//! What the conformance tests that drive machines over real connections share: waiting for
//! an event, the machines of both roles, and a full session of our Charge Point against our
//! Central System. The session is written once on futures (handles and event streams are
//! runtime-neutral), so it runs on any pairing of adapters; the machines are trace
//! `Recorder`s, recording when given a sink.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::central_system::{
    self, CentralSystem, CentralSystemConfig, CentralSystemPolicy, CentralSystemSetup,
};
use ocpp_core::charge_point::config::StandardKey;
use ocpp_core::charge_point::metering::Reading;
use ocpp_core::charge_point::{self, ChargePoint, ChargePointSetup, ConnectorStatus, Reply};
use ocpp_core::rpc::UuidV4Ids;
use ocpp_core::trace::{Recorder, TraceSink};
use ocpp_core::v16::{
    AuthorizationStatus, BootNotificationRequest, ChangeConfigurationRequest,
    ChangeConfigurationResponse, ChargePointStatus, ConfigurationStatus, GetConfigurationRequest,
    GetConfigurationResponse, Measurand, MessageTrigger, Reason, RemoteStartStopStatus,
    RemoteStartTransactionRequest, RemoteStartTransactionResponse, RemoteStopTransactionRequest,
    RemoteStopTransactionResponse, Request, ResetRequest, ResetResponse, ResetStatus, ResetType,
    TriggerMessageRequest, TriggerMessageResponse, TriggerMessageStatus,
};
use ocpp_io_tokio::{ClientConfig, Event, Handle};

/// How long a test waits for one event.
pub(crate) const BOUND: Duration = Duration::from_secs(10);

/// Our Charge Point (two connectors, a first start), recording into `sink` if given.
pub(crate) fn charge_point(sink: Option<Box<dyn TraceSink>>) -> Recorder<ChargePoint> {
    let mut boot = BootNotificationRequest::new("VendorX", "E2E");
    boot.firmware_version = Some("1.0".into());
    let setup = ChargePointSetup::new(boot).key(StandardKey::NumberOfConnectors, "2");
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

/// A session run by [`connect_and_run`]: what is left to end it.
pub(crate) struct Ran {
    cp: Handle<Recorder<ChargePoint>>,
    done: futures_util::future::BoxFuture<'static, Option<Recorder<ChargePoint>>>,
    connection: ocpp_io::Connection<Recorder<CentralSystem>>,
}

impl Ran {
    /// The station goes down (for the reset it accepted): its client closes the connection
    /// and ends, and the Central System sees the disconnection.
    pub(crate) async fn end(mut self) {
        self.cp.close(1000, "reset").unwrap();
        bounded(self.done, "the charge point's end").await;
        let events = &mut self.connection.events;
        let disconnected = async {
            while let Some(event) = events.next().await {
                if matches!(event, Event::Disconnected(_)) {
                    return;
                }
            }
        };
        bounded(disconnected, "the central system's disconnection").await;
    }
}

/// Connects `machine` as `id` to `server` (tokio client; the server on any runtime) and runs
/// [`full_session`].
pub(crate) async fn connect_and_run<R: ocpp_io::Runtime>(
    server: &mut ocpp_io::Server<Recorder<CentralSystem>, R>,
    id: &str,
    machine: Recorder<ChargePoint>,
) -> Ran {
    let url = format!("ws://{}", server.local_addr());
    let client = ocpp_io_tokio::connect(ClientConfig::new(url, id, [Version::V16]), machine);
    let (cp, mut cp_events, done) = client.split();
    let mut connection = server.next_connection().await.unwrap();
    assert_eq!(connection.info.charge_point_id, id);
    full_session(
        &cp,
        &mut cp_events,
        &connection.handle,
        &mut connection.events,
    )
    .await;
    Ran {
        cp,
        done,
        connection,
    }
}

/// The first machine event that `pick` accepts, within the bound.
pub(crate) async fn next<E, T>(
    events: &mut (impl Stream<Item = Event<E>> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(event) = events.next().await {
            if let Event::Machine(event) = &event
                && let Some(found) = pick(event)
            {
                return found;
            }
        }
        panic!("the stream ended before {what}");
    };
    bounded(wait, what).await
}

/// `future`, failing the test when it takes longer than the bound. Runtime-neutral: a thread
/// that sleeps, raced against it.
pub(crate) async fn bounded<T>(future: impl std::future::Future<Output = T>, what: &str) -> T {
    let (tx, rx) = futures_channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(BOUND);
        let _ = tx.send(());
    });
    futures_util::pin_mut!(future);
    match futures_util::future::select(future, rx).await {
        futures_util::future::Either::Left((found, _)) => found,
        futures_util::future::Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

/// A typed call of the Central System, answered.
async fn call<R, T>(
    cs: &Handle<Recorder<CentralSystem>>,
    events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
    request: R,
) -> T
where
    R: ocpp_core::OcppRequest,
    T: central_system::TypedResponse,
{
    let handle = cs
        .run(move |m, now| m.call(now, &request))
        .await
        .unwrap()
        .unwrap();
    let completed = next(events, "the call's answer", |e| match e {
        central_system::Event::CallCompleted(done) if done.handle == handle => Some(done.clone()),
        _ => None,
    })
    .await;
    completed.response::<T>().unwrap()
}

fn energy(wh: i32) -> Vec<Reading> {
    vec![Reading::raw(Measurand::EnergyActiveImportRegister, wh)]
}

/// A full session: boot, status notifications, authorize, start, sampled meter values
/// (MeterValueSampleInterval 1 s), stop, remote start and remote stop, GetConfiguration,
/// ChangeConfiguration (a heartbeat at the new interval), TriggerMessage, a soft reset
/// accepted by the station's application.
async fn full_session(
    cp: &Handle<Recorder<ChargePoint>>,
    cp_events: &mut (impl Stream<Item = Event<charge_point::Event>> + Unpin),
    cs: &Handle<Recorder<CentralSystem>>,
    cs_events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
) {
    let (cp, cs) = (cp.clone(), cs.clone());
    let (mut cp_events, mut cs_events) = (cp_events, cs_events);
    next(&mut cp_events, "registration", |e| match e {
        charge_point::Event::Registered { .. } => Some(()),
        _ => None,
    })
    .await;
    // Meter values every second during transactions.
    let sample = ChangeConfigurationRequest {
        key: "MeterValueSampleInterval".into(),
        value: "1".into(),
    };
    let _: ChangeConfigurationResponse = call(&cs, &mut cs_events, sample).await;

    // A local session: plug in, authorize, start, charge, stop, unplug.
    let status = |connector: u32, status: ChargePointStatus| {
        cp.run(move |m, now| m.report_status(now, connector, ConnectorStatus::new(status)))
    };
    status(1, ChargePointStatus::Preparing)
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
    cp.run(|m, now| m.set_readings(now, 1, energy(1000)))
        .await
        .unwrap()
        .unwrap();
    cp.run(|m, now| m.start_transaction(now, 1, "TAG-1", 1000, None))
        .await
        .unwrap()
        .unwrap();
    let id = next(&mut cp_events, "transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    status(1, ChargePointStatus::Charging)
        .await
        .unwrap()
        .unwrap();
    cp.run(|m, now| m.set_readings(now, 1, energy(1250)))
        .await
        .unwrap()
        .unwrap();
    next(&mut cs_events, "sampled meter values", |e| match e {
        central_system::Event::Request {
            request: Request::MeterValues(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    cp.run(|m, now| m.stop_transaction(now, 1, 1500, None, Some("TAG-1".into())))
        .await
        .unwrap()
        .unwrap();
    let ended = next(&mut cp_events, "transaction end", |e| match e {
        charge_point::Event::TransactionEnded { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    assert_eq!(ended, id);
    status(1, ChargePointStatus::Finishing)
        .await
        .unwrap()
        .unwrap();
    status(1, ChargePointStatus::Available)
        .await
        .unwrap()
        .unwrap();

    // Remote start, accepted by the station's application, and remote stop.
    let start = RemoteStartTransactionRequest {
        connector_id: Some(2),
        id_tag: "REMOTE".into(),
        charging_profile: None,
    };
    let handle = cs
        .run(move |m, now| m.call(now, &start))
        .await
        .unwrap()
        .unwrap();
    let decision = next(&mut cp_events, "remote start request", |e| match e {
        charge_point::Event::RemoteStartRequested { decision, .. } => Some(decision.clone()),
        _ => None,
    })
    .await;
    let accepted = Reply::RemoteStart(RemoteStartStopStatus::Accepted);
    cp.run(move |m, now| m.reply(now, decision, accepted))
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
    let transaction_id = next(&mut cp_events, "remote transaction start", |e| match e {
        charge_point::Event::TransactionStarted { transaction_id, .. } => Some(*transaction_id),
        _ => None,
    })
    .await;
    let stop: RemoteStopTransactionResponse = call(
        &cs,
        &mut cs_events,
        RemoteStopTransactionRequest { transaction_id },
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
    assert_eq!(reason, Reason::Remote);
    cp.run(move |m, now| m.stop_transaction(now, connector, 200, Some(reason), None))
        .await
        .unwrap()
        .unwrap();
    next(&mut cp_events, "remote transaction end", |e| match e {
        charge_point::Event::TransactionEnded { .. } => Some(()),
        _ => None,
    })
    .await;

    // Configuration read and changed; the new heartbeat interval comes round on its timer.
    let keys = GetConfigurationRequest {
        key: Some(vec![
            "HeartbeatInterval".into(),
            "NumberOfConnectors".into(),
        ]),
    };
    let read: GetConfigurationResponse = call(&cs, &mut cs_events, keys).await;
    assert_eq!(read.configuration_key.unwrap().len(), 2);
    let heartbeat = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "1".into(),
    };
    let changed: ChangeConfigurationResponse = call(&cs, &mut cs_events, heartbeat).await;
    assert_eq!(changed.status, ConfigurationStatus::Accepted);
    next(&mut cs_events, "a heartbeat", |e| match e {
        central_system::Event::Request {
            request: Request::Heartbeat(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    let back = ChangeConfigurationRequest {
        key: "HeartbeatInterval".into(),
        value: "300".into(),
    };
    let _: ChangeConfigurationResponse = call(&cs, &mut cs_events, back).await;

    // A triggered status notification.
    let trigger = TriggerMessageRequest {
        requested_message: MessageTrigger::StatusNotification,
        connector_id: Some(1),
    };
    let triggered: TriggerMessageResponse = call(&cs, &mut cs_events, trigger).await;
    assert_eq!(triggered.status, TriggerMessageStatus::Accepted);
    next(&mut cs_events, "the triggered status", |e| match e {
        central_system::Event::Request {
            request: Request::StatusNotification(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;

    // Reset, accepted by the station's application.
    let reset = ResetRequest {
        kind: ResetType::Soft,
    };
    let handle = cs
        .run(move |m, now| m.call(now, &reset))
        .await
        .unwrap()
        .unwrap();
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
