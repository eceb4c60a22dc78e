//! Commands awaited for their typed outcome (`ocpp_io::Awaiting`), our 1.6 Charge Point
//! against our 1.6 Central System over real WebSockets on loopback: GetConfiguration and
//! TriggerMessage awaited by the Central System, Authorize (decided by the Central System,
//! then by the Authorization Cache) and DataTransfer awaited by the Charge Point, a refused
//! command, a CallError, and a call cut off by the Charge Point's disconnect, each coming
//! back as its typed result or error.
//!
//! The scenario is written once on the runtime-neutral handles ([`scenario`]); each test
//! starts it on one runtime (tokio, smol, async-std). Every wait is bounded by [`BOUND`], a
//! failure bound only.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{Either, join, select};
use futures_util::{Stream, StreamExt};
use ocpp_core::central_system::{
    self, Answer, CentralSystem, CentralSystemConfig, CentralSystemError, CentralSystemPolicy,
};
use ocpp_core::charge_point::authorization::Source;
use ocpp_core::charge_point::config::{Definitions, StandardKey};
use ocpp_core::charge_point::{
    self, AuthorizeHandle, ChargePoint, ChargePointConfig, ChargePointError,
};
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::{CallFailure, CallHandle, UuidV4Ids};
use ocpp_core::time::{Monotonic, Now};
use ocpp_core::v16::{
    Action, AuthorizationStatus, BootNotificationRequest, DataTransferRequest,
    DataTransferResponse, DataTransferStatus, GetConfigurationRequest, HeartbeatRequest,
    MessageTrigger, Request, ResetRequest, ResetType, TriggerMessageRequest, TriggerMessageStatus,
};
use ocpp_core::{ErrorCode, Version};
use ocpp_io::{
    AwaitError, Awaiting, ChargePointCommands, Client, ClientConfig, ConnectionInfo, Event,
    Runtime, Server, ServerConfig,
};

/// The bound on every wait: generous, so that a loaded machine does not fail it.
const BOUND: Duration = Duration::from_secs(30);

const CP_ID: &str = "CP-TYPED";

/// Loopback, any free port.
const ADDR: &str = "127.0.0.1:0";

fn charge_point() -> Awaiting<ChargePoint> {
    let definitions = Definitions::builder()
        .initial(StandardKey::NumberOfConnectors, "1")
        // Section 3.5.1: an id tag the Central System accepted is decided locally next time.
        .initial(StandardKey::AuthorizationCacheEnabled, "true")
        .initial(StandardKey::LocalPreAuthorize, "true")
        .build()
        .unwrap();
    let config = ChargePointConfig::new(
        BootNotificationRequest::new("VendorX", "Typed"),
        definitions,
    );
    let snapshot = ocpp_core::persist::Snapshot::new();
    Awaiting::new(ChargePoint::new(config, Box::new(UuidV4Ids), &snapshot).unwrap())
}

/// The machine of each accepted connection: Authorize answered automatically, DataTransfer
/// left to the application.
fn central_system(info: &ConnectionInfo) -> Awaiting<CentralSystem> {
    let mut config = CentralSystemConfig::new(&info.charge_point_id);
    config.policy = CentralSystemPolicy::accept_all();
    Awaiting::new(CentralSystem::new(config, Box::new(UuidV4Ids)))
}

fn client_config(server: std::net::SocketAddr) -> ClientConfig {
    ClientConfig::new(format!("ws://{server}/ocpp"), CP_ID, [Version::V16])
}

/// `future`'s output, or a panic naming `what` after [`BOUND`] (async-io's timer, which
/// works under every runtime here).
async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match select(pin!(future), smol::Timer::after(BOUND)).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("timed out waiting for {what}"),
    }
}

/// The first machine event `pick` accepts.
async fn first<E, T>(
    events: &mut (impl Stream<Item = Event<E>> + Unpin),
    what: &str,
    mut pick: impl FnMut(&E) -> Option<T>,
) -> T {
    bounded(what, async {
        while let Some(event) = events.next().await {
            if let Event::Machine(machine_event) = &event
                && let Some(found) = pick(machine_event)
            {
                return found;
            }
        }
        panic!("the events ended before {what}");
    })
    .await
}

/// Waits until the Charge Point is registered.
async fn registered(events: &mut (impl Stream<Item = Event<charge_point::Event>> + Unpin)) {
    first(events, "the registration", |e| match e {
        charge_point::Event::Registered { .. } => Some(()),
        _ => None,
    })
    .await;
}

/// The Central System's decision on the Charge Point's next DataTransfer.
async fn data_transfer_decision(
    events: &mut (impl Stream<Item = Event<central_system::Event>> + Unpin),
) -> central_system::Decision {
    first(events, "a DataTransfer to decide", |e| match e {
        central_system::Event::Request {
            request,
            answer: Answer::Decide(decision),
        } if matches!(**request, Request::DataTransfer(_)) => Some(decision.clone()),
        _ => None,
    })
    .await
}

/// The scenario on a server and a client started on any runtime.
async fn scenario<R: Runtime>(
    mut server: Server<Awaiting<CentralSystem>, R>,
    client: Client<Awaiting<ChargePoint>>,
) {
    let (cp, mut cp_events, done) = client.split();
    let connection = bounded("the connection", server.next_connection())
        .await
        .expect("the server stopped accepting");
    let cs = connection.handle;
    let mut cs_events = connection.events;
    registered(&mut cp_events).await;

    // Section 4.1: the verdict of the Central System, awaited; the event still comes.
    let verdict = bounded("authorize", cp.authorize("TAG-1")).await.unwrap();
    assert_eq!(verdict.id_tag_info.status, AuthorizationStatus::Accepted);
    assert_eq!(verdict.source, None, "the Central System decided");
    let streamed = first(&mut cp_events, "the Authorized event", |e| match e {
        charge_point::Event::Authorized { id_tag, result, .. } => {
            Some((id_tag.clone(), result.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(
        streamed,
        ("TAG-1".to_owned(), Ok(verdict.id_tag_info.clone()))
    );
    // TC_007_CS: now cached, the verdict is local, among the outputs of the command itself.
    let cached = bounded("a cached authorize", cp.authorize("TAG-1"))
        .await
        .unwrap();
    assert_eq!(cached.source, Some(Source::Cache));
    assert_eq!(cached.id_tag_info.status, AuthorizationStatus::Accepted);

    // Section 5.8: GetConfiguration of a known and an unknown key, typed.
    let request = GetConfigurationRequest {
        key: Some(vec!["NumberOfConnectors".into(), "NoSuchKey".into()]),
    };
    let configuration = bounded("GetConfiguration", cs.call(request)).await.unwrap();
    let keys = configuration.configuration_key.unwrap_or_default();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key, "NumberOfConnectors");
    assert_eq!(keys[0].value.as_deref(), Some("1"));
    assert_eq!(
        configuration.unknown_key,
        Some(vec!["NoSuchKey".to_owned()])
    );

    // Section 5.17: a triggered Heartbeat, accepted, then sent.
    let trigger = TriggerMessageRequest {
        requested_message: MessageTrigger::Heartbeat,
        connector_id: None,
    };
    let triggered = bounded("TriggerMessage", cs.call(trigger)).await.unwrap();
    assert_eq!(triggered.status, TriggerMessageStatus::Accepted);
    first(&mut cs_events, "the triggered Heartbeat", |e| match e {
        central_system::Event::Request { request, .. }
            if matches!(**request, Request::Heartbeat(_)) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    // A Charge Point action is refused before anything is sent (chapter 4 vs 5).
    let refused = cs.call(HeartbeatRequest {}).await;
    assert_eq!(
        refused.unwrap_err(),
        AwaitError::Refused(CentralSystemError::ChargePointAction(Action::Heartbeat))
    );

    // Section 4.3: a DataTransfer answered with a CallError, then one accepted.
    let request = DataTransferRequest {
        vendor_id: "com.example".into(),
        message_id: Some("ping".into()),
        data: Some("1".into()),
    };
    let refuse = async {
        let decision = data_transfer_decision(&mut cs_events).await;
        cs.run(move |m, now| m.reply_error(now, decision, ErrorCode::NotImplemented, "no"))
            .await
            .unwrap()
            .unwrap();
    };
    let (answer, ()) = bounded(
        "a refused DataTransfer",
        join(cp.data_transfer(request.clone()), refuse),
    )
    .await;
    match answer.unwrap_err() {
        AwaitError::Failed(CallFailure::CallError(error)) => {
            assert_eq!(error.code, "NotImplemented");
        }
        other => panic!("a CallError was expected, got {other:?}"),
    }
    let accept = async {
        let decision = data_transfer_decision(&mut cs_events).await;
        let response = DataTransferResponse {
            status: DataTransferStatus::Accepted,
            data: Some("pong".into()),
        };
        cs.run(move |m, now| m.reply(now, decision, response))
            .await
            .unwrap()
            .unwrap();
    };
    let (answer, ()) = bounded(
        "an accepted DataTransfer",
        join(cp.data_transfer(request), accept),
    )
    .await;
    let answer = answer.unwrap();
    assert_eq!(answer.status, DataTransferStatus::Accepted);
    assert_eq!(answer.data.as_deref(), Some("pong"));

    // A Reset the station's application never answers: the station goes away instead, and
    // the Central System's call fails with Disconnected (OCPP-J section 4.1.1: no answer will
    // come on a closed connection).
    let go_away = async {
        first(&mut cp_events, "the reset request", |e| match e {
            charge_point::Event::ResetRequested { .. } => Some(()),
            _ => None,
        })
        .await;
        cp.close(1000, "going away").unwrap();
    };
    let reset = cs.call(ResetRequest {
        kind: ResetType::Soft,
    });
    let (reset, ()) = bounded("the cut-off Reset", join(reset, go_away)).await;
    assert_eq!(
        reset.unwrap_err(),
        AwaitError::Failed(CallFailure::Disconnected)
    );

    // Both drivers have ended: commands on their handles end at once.
    let machine = bounded("the client's end", done)
        .await
        .expect("the client's task was dropped");
    assert_eq!(machine.waiting(), 0, "no wait is left behind");
    let after = bounded(
        "a call after the end",
        cs.call(GetConfigurationRequest { key: None }),
    )
    .await;
    assert_eq!(after.unwrap_err(), AwaitError::Gone);
    let after = bounded("an authorize after the end", cp.authorize("TAG-2")).await;
    assert_eq!(after.unwrap_err(), AwaitError::Gone);
    bounded("the server's shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_on_tokio() {
    let server = ocpp_io_tokio::bind(ADDR, ServerConfig::new([Version::V16]), central_system);
    let server = server.await.unwrap();
    let client = ocpp_io_tokio::connect(client_config(server.local_addr()), charge_point());
    scenario(server, client).await;
}

#[test]
fn typed_calls_on_smol() {
    smol::block_on(async {
        let server = ocpp_io_smol::bind(ADDR, ServerConfig::new([Version::V16]), central_system);
        let server = server.await.unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr()), charge_point());
        scenario(server, client).await;
    });
}

/// The smol adapter under async-std: async-std's executor runs the scenario, async-std tasks
/// the connection and the client.
#[test]
fn typed_calls_on_async_std() {
    let runtime = || {
        ocpp_io_smol::Smol::with_spawner(|task| {
            async_std::task::spawn(task);
        })
    };
    async_std::task::block_on(async {
        let persisters =
            |_: &ConnectionInfo| -> Box<dyn ocpp_io::Persister> { Box::new(ocpp_io::NoPersist) };
        let config = ServerConfig::new([Version::V16]);
        let server = ocpp_io_smol::bind_on(runtime(), ADDR, config, central_system, persisters);
        let server = server.await.unwrap();
        let config = client_config(server.local_addr());
        let persister = Box::new(ocpp_io::NoPersist);
        let client = ocpp_io_smol::connect_on(runtime(), config, charge_point(), persister);
        scenario(server, client).await;
    });
}

/// A machine wrapper that passes everything through and counts the events, offering the
/// Charge Point's commands only through [`ChargePointCommands`] (no access to the machine):
/// the shape of a trace recorder.
struct Counting {
    machine: ChargePoint,
    events: usize,
}

impl Machine for Counting {
    type Event = charge_point::Event;

    fn handle_connected(&mut self, now: Now) {
        self.machine.handle_connected(now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.machine.handle_disconnected(now);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        self.machine.handle_message(now, text);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.machine.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<charge_point::Event>> {
        let output = self.machine.poll_output();
        if let Some(Output::Event(_)) = output {
            self.events += 1;
        }
        output
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.machine.poll_timeout()
    }
}

impl ChargePointCommands for Counting {
    fn authorize(&mut self, now: Now, id_tag: String) -> Result<AuthorizeHandle, ChargePointError> {
        self.machine.authorize(now, id_tag)
    }

    fn data_transfer(
        &mut self,
        now: Now,
        request: DataTransferRequest,
    ) -> Result<CallHandle, ChargePointError> {
        self.machine.data_transfer(now, request)
    }
}

/// `Awaiting` over another wrapper of the role: the awaited verdict comes through both.
#[test]
fn typed_calls_through_another_machine_wrapper() {
    smol::block_on(async {
        let server = ocpp_io_smol::bind(ADDR, ServerConfig::new([Version::V16]), central_system);
        let mut server = server.await.unwrap();
        let machine = Counting {
            machine: charge_point().into_inner(),
            events: 0,
        };
        let client =
            ocpp_io_smol::connect(client_config(server.local_addr()), Awaiting::new(machine));
        let (cp, mut cp_events, done) = client.split();
        let _connection = bounded("the connection", server.next_connection()).await;
        registered(&mut cp_events).await;
        let verdict = bounded("authorize", cp.authorize("TAG-W")).await.unwrap();
        assert_eq!(verdict.id_tag_info.status, AuthorizationStatus::Accepted);
        cp.close(1000, "done").unwrap();
        let machine = bounded("the client's end", done).await.unwrap();
        assert_eq!(machine.waiting(), 0);
        // Registered, ClockSynchronized and Authorized at least, all seen by the inner wrapper.
        assert!(machine.events >= 3, "{} events", machine.events);
        bounded("the server's shutdown", server.shutdown()).await;
    });
}
