//! Scenarios shared by the loopback tests of both adapters (and their mixes): they are
//! written against the runtime-neutral `ocpp_io` types, so one scenario runs on every pairing.
#![allow(dead_code, unreachable_pub)]

pub mod security;

use std::time::Duration;

use futures_channel::oneshot;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use ocpp_core::Version;
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_io::{
    Client, ClientConfig, Connection, Disconnect, Event, EventHandler, Events, Handle, Runtime,
    Server, ServerConfig,
};
use serde_json::{Value, json};

/// Every test ends within this, whatever goes wrong.
pub const BOUND: Duration = Duration::from_secs(15);

/// A 1.6 RPC endpoint, the machine on both sides.
pub fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()))
}

pub fn server_config() -> ServerConfig {
    ServerConfig::new([Version::V16, Version::V201])
}

/// A client config that retries quickly.
pub fn client_config(addr: std::net::SocketAddr, id: &str) -> ClientConfig {
    let mut config = ClientConfig::new(format!("ws://{addr}/ocpp"), id, [Version::V16]);
    config.reconnect = Some(ocpp_io::Backoff {
        wait_minimum: Duration::from_millis(50),
        random_range: Duration::from_millis(20),
        repeat_times: 2,
    });
    config.connect_timeout = Duration::from_secs(5);
    config
}

/// The next machine event of `events`, skipping the driver's own.
pub async fn next_rpc(events: &mut Events<RpcEvent>) -> RpcEvent {
    loop {
        match events.next().await.expect("the events ended") {
            Event::Machine(event) => return event,
            _ => continue,
        }
    }
}

/// Waits for the next `Connected` or `Disconnected` event.
pub async fn next_link_event<E: std::fmt::Debug>(events: &mut Events<E>) -> Event<E> {
    loop {
        match events.next().await.expect("the events ended") {
            event @ (Event::Connected { .. } | Event::Disconnected(_)) => return event,
            _ => continue,
        }
    }
}

/// Answers the next call on `connection` with `answer`, checking its action.
pub async fn answer_next(connection: &mut Connection<Endpoint>, action: &str, answer: Value) {
    let RpcEvent::Call(call) = next_rpc(&mut connection.events).await else {
        panic!("expected a call");
    };
    assert_eq!(call.action.as_str(), action);
    connection
        .handle
        .run(move |ep, now| ep.respond(now, &call.id, answer))
        .await
        .unwrap()
        .unwrap();
}

/// The result of the next completed call on `events`.
pub async fn completed(events: &mut Events<RpcEvent>, action: &str) -> Value {
    let RpcEvent::Completed {
        action: done,
        outcome,
        ..
    } = next_rpc(events).await
    else {
        panic!("expected a completed call");
    };
    assert_eq!(done.as_str(), action);
    outcome.expect("the call failed")
}

/// The charge point calls Heartbeat and BootNotification, the Central System's application
/// answers both from its event stream, the results come back; then the Central System calls
/// the charge point (ClearCache) and the charge point's application answers.
pub async fn calls_both_ways<R: Runtime>(
    server: &mut Server<Endpoint, R>,
    client: &mut Client<Endpoint>,
) {
    let mut connection = server.next_connection().await.expect("no connection");
    assert_eq!(connection.info.version, Version::V16);
    assert!(matches!(
        next_link_event(client.events()).await,
        Event::Connected {
            version: Version::V16
        }
    ));

    let _ = client
        .handle()
        .run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({})))
        .await
        .unwrap()
        .unwrap();
    answer_next(
        &mut connection,
        "Heartbeat",
        json!({"currentTime": "2025-01-01T00:00:00Z"}),
    )
    .await;
    let result = completed(client.events(), "Heartbeat").await;
    assert_eq!(result["currentTime"], "2025-01-01T00:00:00Z");

    let _ = client
        .handle()
        .run(|ep, now| {
            ep.call(
                now,
                ocpp_core::v16::Action::BootNotification,
                json!({"chargePointVendor": "Acme", "chargePointModel": "One"}),
            )
        })
        .await
        .unwrap()
        .unwrap();
    answer_next(
        &mut connection,
        "BootNotification",
        json!({"status": "Accepted", "currentTime": "2025-01-01T00:00:00Z", "interval": 300}),
    )
    .await;
    let result = completed(client.events(), "BootNotification").await;
    assert_eq!(result["status"], "Accepted");

    let _ = connection
        .handle
        .run(|ep, now| ep.call(now, ocpp_core::v16::Action::ClearCache, json!({})))
        .await
        .unwrap()
        .unwrap();
    let RpcEvent::Call(call) = next_rpc(client.events()).await else {
        panic!("expected the server's call");
    };
    assert_eq!(call.action.as_str(), "ClearCache");
    client
        .handle()
        .run(move |ep, now| ep.respond(now, &call.id, json!({"status": "Accepted"})))
        .await
        .unwrap()
        .unwrap();
    let result = completed(&mut connection.events, "ClearCache").await;
    assert_eq!(result["status"], "Accepted");
}

/// A server's application as an async [`EventHandler`]: answers every call through the
/// connection's handle before it takes the next event, and notes what it saw.
pub struct Answerer {
    pub handle: Handle<Endpoint>,
    pub seen: Vec<&'static str>,
}

impl EventHandler<RpcEvent> for Answerer {
    async fn on_event(&mut self, event: Event<RpcEvent>) {
        match event {
            Event::Connected { .. } => self.seen.push("connected"),
            Event::Machine(RpcEvent::Call(call)) => {
                self.seen.push("call");
                let answer = json!({"currentTime": "2025-01-01T00:00:00Z"});
                self.handle
                    .run(move |ep, now| ep.respond(now, &call.id, answer))
                    .await
                    .unwrap()
                    .unwrap();
            }
            Event::Disconnected(_) => self.seen.push("disconnected"),
            _ => {}
        }
    }
}

/// Events received by handlers instead of from the stream: the server's connection is
/// served by an [`Answerer`] on a task of the runtime's (`spawn`), which answers the
/// client's two calls; once the client is closed, its last events go to a closure. Both
/// loops end when their driver has ended and give their handler back.
pub async fn handlers_receive_every_event<R: Runtime>(
    server: &mut Server<Endpoint, R>,
    client: Client<Endpoint>,
    spawn: fn(BoxFuture<'static, ()>),
) {
    let (handle, mut events, done) = client.split();
    let connection = server.next_connection().await.expect("no connection");
    let answerer = Answerer {
        handle: connection.handle,
        seen: Vec::new(),
    };
    let (served_tx, served) = oneshot::channel();
    spawn(Box::pin(async move {
        let answerer = connection.events.for_each_handler(answerer).await;
        let _ = served_tx.send(answerer.seen);
    }));
    // The server has the connection; the client's driver may not have seen it open yet, and
    // a call before that is refused (NotConnected).
    let opened = next_link_event(&mut events).await;
    assert!(matches!(opened, Event::Connected { .. }), "{opened:?}");

    for _ in 0..2 {
        let _ = handle
            .run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({})))
            .await
            .unwrap()
            .unwrap();
        let result = completed(&mut events, "Heartbeat").await;
        assert_eq!(result["currentTime"], "2025-01-01T00:00:00Z");
    }
    handle.close(1000, "done").unwrap();
    done.await.expect("the client's task was dropped");
    let mut rest = Vec::new();
    let _closure = events.for_each_handler(|event| rest.push(event)).await;
    assert!(
        matches!(
            rest.last(),
            Some(Event::Disconnected(Disconnect::Application(close))) if close.code == 1000
        ),
        "{rest:?}"
    );
    let seen = served.await.expect("the handler's task was dropped");
    assert_eq!(seen, ["connected", "call", "call", "disconnected"]);
}

/// An endpoint that also records when it was told the connection came and went.
pub struct Recorder {
    pub endpoint: Endpoint,
    pub log: Vec<&'static str>,
}

impl Machine for Recorder {
    type Event = RpcEvent;

    fn handle_connected(&mut self, now: Now) {
        self.log.push("connected");
        Machine::handle_connected(&mut self.endpoint, now);
    }
    fn handle_disconnected(&mut self, now: Now) {
        self.log.push("disconnected");
        Machine::handle_disconnected(&mut self.endpoint, now);
    }
    fn handle_message(&mut self, now: Now, text: &str) {
        Machine::handle_message(&mut self.endpoint, now, text);
    }
    fn handle_timeout(&mut self, now: Now) {
        Machine::handle_timeout(&mut self.endpoint, now);
    }
    fn poll_output(&mut self) -> Option<Output<RpcEvent>> {
        Machine::poll_output(&mut self.endpoint)
    }
    fn poll_timeout(&self) -> Option<Monotonic> {
        Machine::poll_timeout(&self.endpoint)
    }
}

/// A machine whose outputs the test queues by hand: to emit Persist then Transmit.
#[derive(Default)]
pub struct Scripted {
    pub outputs: std::collections::VecDeque<Output<()>>,
}

impl Machine for Scripted {
    type Event = ();

    fn handle_connected(&mut self, _now: Now) {}
    fn handle_disconnected(&mut self, _now: Now) {}
    fn handle_message(&mut self, _now: Now, _text: &str) {}
    fn handle_timeout(&mut self, _now: Now) {}
    fn poll_output(&mut self) -> Option<Output<()>> {
        self.outputs.pop_front()
    }
    fn poll_timeout(&self) -> Option<Monotonic> {
        None
    }
}

/// Calls Heartbeat through `handle`, which must be connected.
pub async fn call_heartbeat(handle: &Handle<Endpoint>) {
    let _ = handle
        .run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({})))
        .await
        .unwrap()
        .unwrap();
}

/// An endpoint that answers every call itself: it hands the call to a thread (standing for a
/// store's writer thread deciding it), which answers through the machine's own handle.
pub struct SelfAnswering {
    endpoint: Endpoint,
    handle: Handle<SelfAnswering>,
}

impl SelfAnswering {
    /// The factory of `bind_with_handles`.
    pub fn new(_: &ocpp_io::ConnectionInfo, handle: &Handle<SelfAnswering>) -> SelfAnswering {
        SelfAnswering {
            endpoint: endpoint(),
            handle: handle.clone(),
        }
    }
}

impl Machine for SelfAnswering {
    type Event = RpcEvent;

    fn handle_connected(&mut self, now: Now) {
        self.endpoint.handle_connected(now);
    }

    fn handle_disconnected(&mut self, now: Now) {
        self.endpoint.handle_disconnected(now);
    }

    fn handle_message(&mut self, now: Now, text: &str) {
        Machine::handle_message(&mut self.endpoint, now, text);
    }

    fn handle_timeout(&mut self, now: Now) {
        self.endpoint.handle_timeout(now);
    }

    fn poll_output(&mut self) -> Option<Output<RpcEvent>> {
        let output = Machine::poll_output(&mut self.endpoint)?;
        if let Output::Event(RpcEvent::Call(call)) = &output {
            let handle = self.handle.clone();
            let id = call.id.clone();
            std::thread::spawn(move || {
                // The decision takes a while; the connection is idle meanwhile.
                std::thread::sleep(Duration::from_millis(50));
                let answered = handle.run_detached(move |machine, now| {
                    let answer = json!({"currentTime": "2025-01-01T00:00:00Z"});
                    machine
                        .endpoint
                        .respond(now, &id, answer)
                        .expect("the call is still open");
                });
                answered.expect("the driver is still running");
            });
        }
        Some(output)
    }

    fn poll_timeout(&self) -> Option<Monotonic> {
        self.endpoint.poll_timeout()
    }
}

/// The charge point calls Heartbeat three times; the server's machine (a [`SelfAnswering`])
/// answers each later, from another thread, while the server's application dropped the
/// connection's events and runs nothing for it. Then the client leaves, and the server's
/// driver ends although its machine holds a handle to it; the server shuts down.
pub async fn machines_answer_through_their_own_handles<R: Runtime>(
    runtime: &R,
    mut server: Server<SelfAnswering, R>,
    mut client: Client<Endpoint>,
) {
    let connection = server.next_connection().await.unwrap();
    assert_eq!(connection.info.charge_point_id, "CP-1");
    let handle = connection.handle;
    drop(connection.events);
    for _ in 0..3 {
        call_heartbeat(client.handle()).await;
        let answer = completed(client.events(), "Heartbeat").await;
        assert_eq!(answer["currentTime"], "2025-01-01T00:00:00Z");
    }
    client.close(1000, "done").await.unwrap();
    while !handle.is_gone() {
        runtime.sleep(Duration::from_millis(10)).await;
    }
    assert!(server.connected_ids().is_empty());
    server.shutdown().await;
}
