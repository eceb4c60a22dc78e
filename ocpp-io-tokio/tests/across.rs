//! A tokio server whose connections are spread over several single-threaded runtimes
//! (`bind_across`), one thread each. Every test is bounded by `support::BOUND`.

mod support;

use std::thread::{self, JoinHandle, ThreadId};

use futures_channel::oneshot;
use ocpp_io_tokio::{Handle, NoPersist};
use support::security::Ca;
use support::*;

/// Single-threaded runtimes, each driven by a thread of its own until dropped.
struct Shards {
    runtimes: Vec<tokio::runtime::Handle>,
    threads: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Shards {
    fn start(count: usize) -> Shards {
        let mut shards = Shards {
            runtimes: Vec::new(),
            threads: Vec::new(),
        };
        for _ in 0..count {
            let (runtime_tx, runtime_rx) = std::sync::mpsc::channel();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime_tx.send(runtime.handle().clone()).unwrap();
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            });
            shards.runtimes.push(runtime_rx.recv().unwrap());
            shards.threads.push((stop, thread));
        }
        shards
    }
}

impl Drop for Shards {
    fn drop(&mut self) {
        for (stop, thread) in self.threads.drain(..) {
            let _ = stop.send(());
            thread.join().unwrap();
        }
    }
}

/// The thread the connection's task runs on (a command runs in its driver).
async fn thread_of<M: ocpp_core::machine::Machine + Send + 'static>(
    handle: &Handle<M>,
) -> ThreadId {
    handle
        .run(|_, _| thread::current().id())
        .await
        .expect("the connection is up")
}

/// Issue #7 (a thread per core): connections go to the runtimes in turn and each is served,
/// socket, timers and machine, on its runtime's thread; every CALL still gets its CALLRESULT
/// (OCPP-J 1.6 section 4.1.1), here from another thread through the machine's own handle.
#[tokio::test]
async fn connections_are_spread_over_the_runtimes_and_served_on_their_threads() {
    let shards = Shards::start(2);
    tokio::time::timeout(BOUND, async {
        let mut server = ocpp_io_tokio::bind_across(
            shards.runtimes.clone(),
            "127.0.0.1:0",
            server_config(),
            SelfAnswering::new,
            |_| Box::new(NoPersist),
        )
        .await
        .unwrap();
        let mut clients = Vec::new();
        // Each thread seen and how many connections it serves.
        let mut threads = Vec::<(ThreadId, usize)>::new();
        for n in 0..4 {
            let mut client = ocpp_io_tokio::connect(
                client_config(server.local_addr(), &format!("CP-{n}")),
                endpoint(),
            );
            // One at a time, so that the turns are known.
            let connection = server.next_connection().await.unwrap();
            call_heartbeat(client.handle()).await;
            let answer = completed(client.events(), "Heartbeat").await;
            assert_eq!(answer["currentTime"], "2025-01-01T00:00:00Z");
            let thread = thread_of(&connection.handle).await;
            match threads.iter_mut().find(|(seen, _)| *seen == thread) {
                Some((_, count)) => *count += 1,
                None => threads.push((thread, 1)),
            }
            clients.push(client);
        }
        assert_eq!(threads.len(), 2, "two runtimes, two threads: {threads:?}");
        assert!(threads.iter().all(|&(_, n)| n == 2), "{threads:?}");
        assert!(threads.iter().all(|(t, _)| *t != thread::current().id()));
        for client in clients {
            client.close(1000, "done").await.unwrap();
        }
        server.shutdown().await;
    })
    .await
    .expect("the test did not finish in time");
}

/// Security profile 2 (A00.FR.301-311) across runtimes: the TLS handshake runs on the
/// connection's own runtime, which registers the socket there first.
#[tokio::test]
async fn tls_connections_are_served_across_runtimes() {
    let shards = Shards::start(2);
    tokio::time::timeout(BOUND, async {
        let ca = Ca::new("CPO root");
        let (chain, key) = ca.server_cert();
        let security = ocpp_io_tokio::ServerSecurity::tls_basic_auth(
            chain,
            key,
            support::security::check_password(None),
        )
        .unwrap();
        let mut server = ocpp_io_tokio::bind_across(
            shards.runtimes.clone(),
            "127.0.0.1:0",
            server_config().with_security(security),
            |_, _| endpoint(),
            |_| Box::new(NoPersist),
        )
        .await
        .unwrap();
        // Two connections in turn: one lands on each runtime (the accept loop took the first
        // turn).
        for _ in 0..2 {
            let mut config = client_config(server.local_addr(), "CP-1");
            config.url = format!("wss://{}/ocpp", server.local_addr());
            let config = config.with_security(
                ocpp_io_tokio::ClientSecurity::tls_basic_auth(
                    [ca.root()],
                    support::security::password(),
                )
                .unwrap(),
            );
            let mut client = ocpp_io_tokio::connect(config, endpoint());
            calls_both_ways(&mut server, &mut client).await;
            client.close(1000, "done").await.unwrap();
        }
        server.shutdown().await;
    })
    .await
    .expect("the test did not finish in time");
}

/// No runtime to serve on is a clear error, not a panic on the first connection.
#[tokio::test]
async fn binding_across_no_runtime_is_refused() {
    let error = ocpp_io_tokio::bind_across(
        Vec::new(),
        "127.0.0.1:0",
        server_config(),
        |_, _| endpoint(),
        |_| Box::new(NoPersist),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
