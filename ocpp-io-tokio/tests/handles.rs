//! A server whose machines hold their own [`Handle`] (`bind_with_handles`): a machine answers
//! a request later, from another thread, with no application task per connection and no one
//! listening to the connection's events. Every test is bounded by `support::BOUND`.

mod support;

use std::time::Duration;

use ocpp_core::machine::{Machine, Output};
use ocpp_core::rpc::{Endpoint, RpcEvent};
use ocpp_core::time::{Monotonic, Now};
use ocpp_io_tokio::{ConnectionInfo, Handle, NoPersist};
use serde_json::json;
use support::*;

/// An endpoint that answers every call itself: it hands the call to a thread (standing for a
/// store's writer thread deciding it), which answers through the machine's own handle.
struct SelfAnswering {
    endpoint: Endpoint,
    handle: Handle<SelfAnswering>,
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
        self.endpoint.handle_message(now, text);
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

/// Issue #7 (no task per connection): OCPP-J 1.6 section 4.1.1, a CALL gets its CALLRESULT,
/// sent by the server's machine from another thread through the handle its factory gave it,
/// while the application dropped the connection's events and runs nothing for it.
#[tokio::test]
async fn a_machine_answers_a_call_later_through_its_own_handle() {
    tokio::time::timeout(BOUND, async {
        let mut server = ocpp_io_tokio::bind_with_handles(
            "127.0.0.1:0",
            server_config(),
            |_: &ConnectionInfo, handle: &Handle<SelfAnswering>| SelfAnswering {
                endpoint: endpoint(),
                handle: handle.clone(),
            },
            |_| Box::new(NoPersist),
        )
        .await
        .unwrap();
        let mut client =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        let connection = server.next_connection().await.unwrap();
        assert_eq!(connection.info.charge_point_id, "CP-1");
        // Nobody listens to this connection: its events are dropped, its handle kept only to
        // check the driver's end below.
        let handle = connection.handle;
        drop(connection.events);
        for _ in 0..3 {
            call_heartbeat(client.handle()).await;
            let answer = completed(client.events(), "Heartbeat").await;
            assert_eq!(answer["currentTime"], "2025-01-01T00:00:00Z");
        }
        // The machine's own handle does not keep the server's driver past its connection.
        client.close(1000, "done").await.unwrap();
        while !handle.is_gone() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(server.connected_ids().is_empty());
        server.shutdown().await;
    })
    .await
    .expect("the test did not finish in time");
}
