//! The tokio adapter over loopback (127.0.0.1, port 0), against itself and against the smol
//! adapter. Every test is bounded by `support::BOUND`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::Version;
use ocpp_core::machine::{Close, Output};
use ocpp_core::persist::StoreOp;
use ocpp_core::rpc::{Endpoint, RpcEvent};
use ocpp_io_tokio::{ClientConfig, Disconnect, DuplicateId, Event, PersistError};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn bounded<F: std::future::Future>(test: F) -> F::Output {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test did not finish in time")
}

async fn server(config: ocpp_io_tokio::ServerConfig) -> ocpp_io_tokio::Server<Endpoint> {
    ocpp_io_tokio::bind("127.0.0.1:0", config, |_| endpoint())
        .await
        .unwrap()
}

/// OCPP-J 1.6 sections 3 and 4: both roles call and answer over one tokio connection.
#[tokio::test]
async fn tokio_client_and_tokio_server_call_each_other() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut client =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// Events to handlers on tokio: the server's application is an `EventHandler` on a
/// `tokio::spawn`ed task, the client's last events go to a closure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_receive_every_event_on_tokio() {
    bounded(async {
        let mut server = server(server_config()).await;
        let client = ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        handlers_receive_every_event(&mut server, client, |task| {
            tokio::spawn(task);
        })
        .await;
        server.shutdown().await;
    })
    .await;
}

/// The shared driver is runtime-neutral: a tokio client talks to a smol server.
#[tokio::test]
async fn tokio_client_and_smol_server_call_each_other() {
    bounded(async {
        let mut server = ocpp_io_smol::bind("127.0.0.1:0", server_config(), |_| endpoint())
            .await
            .unwrap();
        let mut client =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// And a smol client talks to a tokio server.
#[tokio::test]
async fn smol_client_and_tokio_server_call_each_other() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut client =
            ocpp_io_smol::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// OCPP-J 1.6 section 3.2 / 2.0.1 part 4 section 3.2: a server that supports none of the
/// offered versions completes the handshake without Sec-WebSocket-Protocol and closes; the
/// client refuses the connection and never reports it connected.
#[tokio::test]
async fn a_subprotocol_mismatch_is_refused() {
    bounded(async {
        let server = server(ocpp_io_tokio::ServerConfig::new([Version::V201])).await;
        let mut config = client_config(server.local_addr(), "CP-1");
        config.reconnect = None;
        let mut client = ocpp_io_tokio::connect(config, endpoint());
        match client.events().next().await {
            Some(Event::ConnectFailed(error)) => {
                assert_eq!(error, ocpp_io_tokio::ConnectError::NoSubprotocol)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(client.finished().await.is_some());
        assert!(server.connected_ids().is_empty());
        server.shutdown().await;
    })
    .await;
}

/// OCPP-J 1.6 section 3.1.1: the id is percent-encoded into one path segment and comes out
/// decoded on the server, even with a space and a slash.
#[tokio::test]
async fn an_id_with_a_space_and_a_slash_round_trips_through_the_url() {
    bounded(async {
        let mut server = server(server_config()).await;
        let client = ocpp_io_tokio::connect(
            client_config(server.local_addr(), "CP 1/Bay #2 ü"),
            endpoint(),
        );
        let connection = server.next_connection().await.unwrap();
        assert_eq!(connection.info.charge_point_id, "CP 1/Bay #2 ü");
        assert_eq!(server.connected_ids(), ["CP 1/Bay #2 ü"]);
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// OCPP 2.0.1 part 4 section 5.3: after the server drops the connection the client
/// reconnects, and it is the same machine instance that is told disconnected, then connected.
#[tokio::test]
async fn the_client_reconnects_with_the_same_machine_after_the_server_drops_it() {
    bounded(async {
        let mut server = server(server_config()).await;
        let machine = Recorder {
            endpoint: endpoint(),
            log: Vec::new(),
        };
        let mut client =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), machine);
        let first = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        first.handle.close(1000, "go away").unwrap();
        match next_link_event(client.events()).await {
            Event::Disconnected(Disconnect::Peer(Some(Close { code: 1000, reason }))) => {
                assert_eq!(reason, "go away")
            }
            other => panic!("expected the server's close, got {other:?}"),
        }
        let mut second = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        let log = client.handle().run(|m, _| m.log.clone()).await.unwrap();
        assert_eq!(log, ["connected", "disconnected", "connected"]);
        // The machine works over the new connection.
        let _ = client
            .handle()
            .run(|m, now| {
                m.endpoint
                    .call(now, ocpp_core::v16::Action::Heartbeat, json!({}))
            })
            .await
            .unwrap()
            .unwrap();
        answer_next(
            &mut second,
            "Heartbeat",
            json!({"currentTime": "2025-01-01T00:00:00Z"}),
        )
        .await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// A second connection with a connected id is refused before the upgrade (HTTP 409); the
/// first stays up.
#[tokio::test]
async fn a_second_connection_with_the_same_id_is_refused_by_default() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut first =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        let _first_connection = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(first.events()).await,
            Event::Connected { .. }
        ));
        let mut config = client_config(server.local_addr(), "CP-1");
        config.reconnect = None;
        let mut second = ocpp_io_tokio::connect(config, endpoint());
        match second.events().next().await {
            Some(Event::ConnectFailed(error)) => {
                assert!(error.to_string().contains("409"), "{error}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(first.handle().run(|ep, _| ep.is_connected()).await.unwrap());
        first.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// With `DuplicateId::Replace` the newer connection wins and the older one is closed.
#[tokio::test]
async fn a_second_connection_with_the_same_id_replaces_the_first_if_configured() {
    bounded(async {
        let mut config = server_config();
        config.duplicate_id = DuplicateId::Replace;
        let mut server = server(config).await;
        let mut old_config = client_config(server.local_addr(), "CP-1");
        old_config.reconnect = None;
        let mut old = ocpp_io_tokio::connect(old_config, endpoint());
        let _old_connection = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(old.events()).await,
            Event::Connected { .. }
        ));
        let mut new =
            ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        let mut new_connection = server.next_connection().await.unwrap();
        match next_link_event(old.events()).await {
            Event::Disconnected(Disconnect::Peer(Some(close))) => {
                assert_eq!(close.code, 1000);
                assert!(close.reason.contains("replaced"));
            }
            other => panic!("expected the old connection closed, got {other:?}"),
        }
        assert!(matches!(
            next_link_event(new.events()).await,
            Event::Connected { .. }
        ));
        let _ = new
            .handle()
            .run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({})))
            .await
            .unwrap()
            .unwrap();
        answer_next(
            &mut new_connection,
            "Heartbeat",
            json!({"currentTime": "2025-01-01T00:00:00Z"}),
        )
        .await;
        assert_eq!(server.connected_ids(), ["CP-1"]);
        new.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// A message over the WebSocket size limit closes the connection with 1009 (RFC 6455 section
/// 7.4.1), and the sender learns it from the close frame.
#[tokio::test]
async fn an_oversized_message_closes_the_connection_with_1009() {
    bounded(async {
        let mut config = server_config();
        config.driver.max_message_size = 1024;
        let mut server = server(config).await;
        let mut client_config = client_config(server.local_addr(), "CP-1");
        client_config.reconnect = None;
        let mut client = ocpp_io_tokio::connect(client_config, endpoint());
        let mut connection = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        let data = "x".repeat(4096);
        let _ = client
            .handle()
            .run(move |ep, now| {
                ep.call(
                    now,
                    ocpp_core::v16::Action::DataTransfer,
                    json!({"vendorId": "acme", "data": data}),
                )
            })
            .await
            .unwrap()
            .unwrap();
        match next_link_event(client.events()).await {
            Event::Disconnected(Disconnect::Peer(Some(close))) => assert_eq!(close.code, 1009),
            other => panic!("expected a 1009 close, got {other:?}"),
        }
        assert!(matches!(
            next_link_event(&mut connection.events).await,
            Event::Connected { .. }
        ));
        match next_link_event(&mut connection.events).await {
            Event::Disconnected(Disconnect::TooLarge { limit, .. }) => assert_eq!(limit, 1024),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        client.finished().await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// A client that opens TCP but never sends its handshake is dropped after the bound.
#[tokio::test]
async fn a_client_that_never_completes_the_handshake_is_dropped() {
    bounded(async {
        let mut config = server_config();
        config.handshake_timeout = Duration::from_millis(200);
        let server = server(config).await;
        let mut socket = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        socket
            .write_all(b"GET /ocpp/CP-1 HTTP/1.1\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 64];
        let read = socket.read(&mut buffer).await;
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert!(started.elapsed() < Duration::from_secs(5));
        server.shutdown().await;
    })
    .await;
}

/// Shutdown closes every connection with a close frame (1001) and waits for them.
#[tokio::test]
async fn graceful_shutdown_closes_every_client_with_a_close_frame() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut clients = Vec::new();
        for id in ["CP-1", "CP-2"] {
            let mut config = client_config(server.local_addr(), id);
            config.reconnect = None;
            let mut client = ocpp_io_tokio::connect(config, endpoint());
            server.next_connection().await.unwrap();
            assert!(matches!(
                next_link_event(client.events()).await,
                Event::Connected { .. }
            ));
            clients.push(client);
        }
        server.shutdown().await;
        for mut client in clients {
            match next_link_event(client.events()).await {
                Event::Disconnected(Disconnect::Peer(Some(close))) => {
                    assert_eq!(close.code, 1001)
                }
                other => panic!("expected a 1001 close, got {other:?}"),
            }
            client.finished().await.unwrap();
        }
    })
    .await;
}

/// OCPP core `machine` docs: every Persist op of one input is handed over as one batch before
/// any Transmit of that input leaves. The persister is slow on purpose: if the frame went out
/// first, the server would see it first.
#[tokio::test]
async fn persist_ops_are_committed_before_the_transmit_of_the_same_input() {
    bounded(async {
        let order = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut server = server(server_config()).await;
        let mut config = client_config(server.local_addr(), "CP-1");
        config.reconnect = None;
        let log = Arc::clone(&order);
        let persister = move |ops: &[StoreOp]| -> Result<(), PersistError> {
            std::thread::sleep(Duration::from_millis(100));
            log.lock().unwrap().push(format!("persisted {}", ops.len()));
            Ok(())
        };
        let mut client =
            ocpp_io_tokio::connect_with_persister(config, Scripted::default(), Box::new(persister));
        let mut connection = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        client
            .handle()
            .run(|machine, _| {
                let put = |key: &str| StoreOp::Put {
                    collection: "queue",
                    key: key.to_owned(),
                    value: b"x".to_vec(),
                };
                machine.outputs.extend([
                    Output::Persist(put("1")),
                    Output::Transmit(r#"[2,"m1","Heartbeat",{}]"#.to_owned()),
                    Output::Persist(put("2")),
                ]);
            })
            .await
            .unwrap();
        let RpcEvent::Call(call) = next_rpc(&mut connection.events).await else {
            panic!("expected the call");
        };
        order.lock().unwrap().push(format!("received {}", call.id));
        assert_eq!(*order.lock().unwrap(), ["persisted 2", "received m1"]);
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// A failing persister: nothing of that input is sent and the connection closes with 1011.
#[tokio::test]
async fn a_persist_failure_sends_nothing_and_closes_with_1011() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut config = client_config(server.local_addr(), "CP-1");
        config.reconnect = None;
        let persister =
            |_: &[StoreOp]| -> Result<(), PersistError> { Err(PersistError::new("disk full")) };
        let mut client =
            ocpp_io_tokio::connect_with_persister(config, Scripted::default(), Box::new(persister));
        let mut connection = server.next_connection().await.unwrap();
        client
            .handle()
            .run(|machine, _| {
                machine.outputs.extend([
                    Output::Persist(StoreOp::Clear {
                        collection: "queue",
                    }),
                    Output::Transmit(r#"[2,"m1","Heartbeat",{}]"#.to_owned()),
                ]);
            })
            .await
            .unwrap();
        match next_link_event(client.events()).await {
            Event::Connected { .. } => {}
            other => panic!("{other:?}"),
        }
        match next_link_event(client.events()).await {
            Event::Disconnected(Disconnect::PersistFailed(error)) => {
                assert!(error.contains("disk full"))
            }
            other => panic!("expected PersistFailed, got {other:?}"),
        }
        // The server never saw the call: its next event is the 1011 close.
        loop {
            match connection.events.next().await.unwrap() {
                Event::Machine(RpcEvent::Call(call)) => panic!("the call leaked: {call:?}"),
                Event::Disconnected(Disconnect::Peer(Some(close))) => {
                    assert_eq!(close.code, 1011);
                    break;
                }
                _ => {}
            }
        }
        client.finished().await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// Keep-alive: with pings on, a peer that answers keeps the connection up past several
/// intervals.
#[tokio::test]
async fn pings_answered_by_the_peer_keep_the_connection_up() {
    bounded(async {
        let mut server = server(server_config()).await;
        let mut config: ClientConfig = client_config(server.local_addr(), "CP-1");
        config.driver.ping_interval = Some(Duration::from_millis(50));
        config.driver.pong_timeout = Duration::from_millis(200);
        let mut client = ocpp_io_tokio::connect(config, endpoint());
        let mut connection = server.next_connection().await.unwrap();
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        tokio::time::sleep(Duration::from_millis(400)).await;
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
        completed(client.events(), "Heartbeat").await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    })
    .await;
}

/// Keep-alive: a peer that stops reading (so never answers a ping) is detected: no pong
/// within the pong timeout closes the connection.
#[tokio::test]
async fn a_missing_pong_closes_the_connection() {
    use async_tungstenite::tungstenite::handshake::server::{Request, Response};
    use async_tungstenite::tungstenite::http::HeaderValue;
    bounded(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent_server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            // tungstenite's `Callback` dictates the (large) error type.
            #[allow(clippy::result_large_err)]
            let callback = |_: &Request, mut response: Response| {
                response.headers_mut().insert(
                    "Sec-WebSocket-Protocol",
                    HeaderValue::from_static("ocpp1.6"),
                );
                Ok(response)
            };
            let ws = async_tungstenite::tokio::accept_hdr_async(socket, callback)
                .await
                .unwrap();
            // Holds the connection open without ever reading from it.
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(ws);
        });
        let mut config = client_config(addr, "CP-1");
        config.reconnect = None;
        config.driver.ping_interval = Some(Duration::from_millis(50));
        config.driver.pong_timeout = Duration::from_millis(150);
        config.driver.close_timeout = Duration::from_millis(100);
        let mut client = ocpp_io_tokio::connect(config, endpoint());
        assert!(matches!(
            next_link_event(client.events()).await,
            Event::Connected { .. }
        ));
        let started = std::time::Instant::now();
        match next_link_event(client.events()).await {
            Event::Disconnected(Disconnect::PongTimeout) => {}
            other => panic!("expected PongTimeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        client.finished().await.unwrap();
        silent_server.abort();
    })
    .await;
}

/// `Server::connections` is a view of the server's own registry that outlives borrowing the
/// server: it finds a connected station's handle (which reaches that connection's machine)
/// and forgets the station once its connection has ended.
#[tokio::test]
async fn the_connections_view_follows_the_registry() {
    bounded(async {
        let mut server = server(server_config()).await;
        let connections = server.connections();
        assert!(connections.ids().is_empty());
        let client = ocpp_io_tokio::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        let mut connection = server.next_connection().await.unwrap();
        assert_eq!(connections.ids(), ["CP-1"]);
        assert!(connections.contains("CP-1") && !connections.contains("CP-2"));
        let handle = connections.get("CP-1").expect("connected");
        assert_eq!(handle.run(|_, _| 42).await, Ok(42));
        client.close(1000, "done").await.unwrap();
        while connection.events.next().await.is_some() {}
        assert!(connections.get("CP-1").is_none());
        assert!(connections.ids().is_empty());
        server.shutdown().await;
    })
    .await;
}
