//! Scenarios shared by the loopback tests of both adapters (and their mixes): they are
//! written against the runtime-neutral `ocpp_io` types, so one scenario runs on every pairing.
#![allow(dead_code, unreachable_pub)]

pub mod security;

use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_io::{Client, ClientConfig, Connection, Event, Events, Runtime, Server, ServerConfig};
use serde_json::{Value, json};

/// Every test ends within this, whatever goes wrong.
pub const BOUND: Duration = Duration::from_secs(15);

/// A 1.6 RPC endpoint, the machine on both sides.
pub fn endpoint() -> Endpoint {
    Endpoint::new(
        EndpointConfig::new(Version::V16),
        Box::new(CounterIds::default()),
    )
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
    assert_eq!(call.action, action);
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
    assert_eq!(done, action);
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

    client
        .handle()
        .run(|ep, now| ep.call(now, "Heartbeat", json!({})))
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

    client
        .handle()
        .run(|ep, now| {
            ep.call(
                now,
                "BootNotification",
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

    connection
        .handle
        .run(|ep, now| ep.call(now, "ClearCache", json!({})))
        .await
        .unwrap()
        .unwrap();
    let RpcEvent::Call(call) = next_rpc(client.events()).await else {
        panic!("expected the server's call");
    };
    assert_eq!(call.action, "ClearCache");
    client
        .handle()
        .run(move |ep, now| ep.respond(now, &call.id, json!({"status": "Accepted"})))
        .await
        .unwrap()
        .unwrap();
    let result = completed(&mut connection.events, "ClearCache").await;
    assert_eq!(result["status"], "Accepted");
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
