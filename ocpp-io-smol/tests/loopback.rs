//! The smol adapter over loopback (127.0.0.1, port 0), and the same code under async-std.
//! Every test is bounded by `support::BOUND`. The scenarios are shared with the tokio adapter's
//! tests.

#[path = "../../ocpp-io-tokio/tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::io;
use std::sync::Arc;

use futures_util::future::{BoxFuture, Either, select};
use ocpp_io::rustls;
use ocpp_io::rustls::pki_types::ServerName;
use ocpp_io::{Client, Connector, NoPersist};
use ocpp_io_smol::Smol;
use support::*;

/// `test`, failing if it takes longer than `BOUND`.
async fn bounded<F: Future>(test: F) -> F::Output {
    match select(std::pin::pin!(test), smol::Timer::after(BOUND)).await {
        Either::Left((output, _)) => output,
        Either::Right(_) => panic!("the test did not finish in time"),
    }
}

/// Starts a task on async-std.
fn async_std_spawn(task: BoxFuture<'static, ()>) {
    async_std::task::spawn(task);
}

/// A smol server of endpoints whose tasks `runtime` spawns.
async fn server_on(runtime: Smol) -> ocpp_io_smol::Server<ocpp_core::rpc::Endpoint> {
    let persisters =
        |_: &ocpp_io::ConnectionInfo| -> Box<dyn ocpp_io::Persister> { Box::new(NoPersist) };
    ocpp_io_smol::bind_on(
        runtime,
        "127.0.0.1:0",
        server_config(),
        |_| endpoint(),
        persisters,
    )
    .await
    .unwrap()
}

/// OCPP-J 1.6 sections 3 and 4: both roles call and answer over one smol connection.
#[test]
fn smol_client_and_smol_server_call_each_other() {
    smol::block_on(bounded(async {
        let mut server = ocpp_io_smol::bind("127.0.0.1:0", server_config(), |_| endpoint())
            .await
            .unwrap();
        let mut client =
            ocpp_io_smol::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    }));
}

/// Events to handlers on smol: the server's application is an `EventHandler` on a
/// `smol::spawn`ed task, the client's last events go to a closure.
#[test]
fn handlers_receive_every_event_on_smol() {
    smol::block_on(bounded(async {
        let mut server = ocpp_io_smol::bind("127.0.0.1:0", server_config(), |_| endpoint())
            .await
            .unwrap();
        let client = ocpp_io_smol::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        handlers_receive_every_event(&mut server, client, |task| smol::spawn(task).detach()).await;
        server.shutdown().await;
    }));
}

/// The same on async-std: its executor, and its tasks for the handler, the server and the
/// client.
#[test]
fn handlers_receive_every_event_on_async_std() {
    async_std::task::block_on(bounded(async {
        let runtime = Smol::with_spawner(async_std_spawn);
        let mut server = server_on(runtime).await;
        let config = client_config(server.local_addr(), "CP-1");
        let client = ocpp_io_smol::connect_on(runtime, config, endpoint(), Box::new(NoPersist));
        handlers_receive_every_event(&mut server, client, async_std_spawn).await;
        server.shutdown().await;
    }));
}

/// Opens connections with async-std's `TcpStream`, a futures-io type like smol's.
struct AsyncStdConnector;

impl Connector for AsyncStdConnector {
    type Stream = async_std::net::TcpStream;
    type TlsStream = futures_rustls::client::TlsStream<async_std::net::TcpStream>;

    fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Self::Stream>> {
        Box::pin(async move { async_std::net::TcpStream::connect((host.as_str(), port)).await })
    }

    fn connect_tls(
        &self,
        stream: Self::Stream,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<Self::TlsStream>> {
        ocpp_io_smol::tls_connect(stream, config, server_name)
    }
}

/// The smol adapter's code runs under async-std: an async-std executor, async-std tasks and
/// async-std sockets for the client, against a smol server.
#[test]
fn an_async_std_client_and_a_smol_server_call_each_other() {
    async_std::task::block_on(bounded(async {
        let mut server = ocpp_io_smol::bind("127.0.0.1:0", server_config(), |_| endpoint())
            .await
            .unwrap();
        let mut client = Client::start(
            Smol::with_spawner(async_std_spawn),
            AsyncStdConnector,
            client_config(server.local_addr(), "CP-1"),
            endpoint(),
            Box::new(NoPersist),
        );
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    }));
}

/// The smol server, with its tasks on async-std, serves a smol client.
#[test]
fn a_smol_server_runs_its_connections_on_async_std_tasks() {
    async_std::task::block_on(bounded(async {
        let mut server = server_on(Smol::with_spawner(async_std_spawn)).await;
        let mut client =
            ocpp_io_smol::connect(client_config(server.local_addr(), "CP-1"), endpoint());
        calls_both_ways(&mut server, &mut client).await;
        client.close(1000, "done").await.unwrap();
        server.shutdown().await;
    }));
}
