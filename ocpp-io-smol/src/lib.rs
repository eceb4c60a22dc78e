//! OCPP-J over WebSocket on smol (and async-std): a client (Charge Point) and a server
//! (Central System) that drive `ocpp-core` state machines.
//!
//! The counterpart of `ocpp-io-tokio` on futures-io: TCP sockets from `smol::net`, timers
//! from `async-io`, tasks from smol's global executor (or any spawner you give
//! [`Smol::with_spawner`], e.g. async-std's). The driver loop, the reconnect loop and the
//! server's handshake logic are the runtime-neutral `ocpp-io` crate's, shared with the tokio
//! adapter. async-io timers and sockets run on their own reactor thread, so the same code runs
//! under `smol::block_on`, `async_std::task::block_on` or any other executor.
//!
//! - [`bind`] starts a [`Server`]: every accepted connection gets its own machine from your
//!   factory and comes to you as a [`Connection`].
//! - [`bind_with_handles`] does the same with a factory that also receives each connection's
//!   [`Handle`], for machines that answer on their own later (no task per connection).
//! - [`connect`] starts a [`Client`] that connects to `<url>/<charge point id>`, runs your
//!   machine, and reconnects with back-off when the connection is lost.
//! - Events come as a stream ([`Events`]) or, with [`Events::for_each_handler`], to an
//!   [`EventHandler`] whose loop you run on a task (`smol::spawn` or `async_std::task::spawn`).
//!
//! # Security profiles
//!
//! OCPP security profiles 1 to 3 are set with [`ClientConfig::security`] and
//! [`ServerConfig::security`]; [`ocpp_io::security`] says which profile needs which settings
//! and what is checked where. This crate only runs the TLS handshake, with futures-rustls
//! ([`SmolConnector`], [`SmolTls`], [`tls_connect`]) over any futures-io stream, using the
//! rustls configuration `ocpp-io` built.
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use ocpp_core::Version;
//! use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
//! use ocpp_io_smol::{ClientConfig, Event, ServerConfig};
//! use serde_json::json;
//!
//! smol::block_on(async {
//!     let endpoint = || Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()));
//!     let mut server = ocpp_io_smol::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), move |_| endpoint())
//!         .await
//!         .unwrap();
//!     let url = format!("ws://{}", server.local_addr());
//!     let mut client = ocpp_io_smol::connect(ClientConfig::new(url, "CP-1", [Version::V16]), endpoint());
//!
//!     // The server's side: the connection arrives, the client's call comes as an event.
//!     let mut connection = server.next_connection().await.unwrap();
//!     assert_eq!(connection.info.charge_point_id, "CP-1");
//!     client.handle().run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({}))).await.unwrap().unwrap();
//!     while let Some(event) = connection.events.next().await {
//!         if let Event::Machine(RpcEvent::Call(call)) = event {
//!             assert_eq!(call.action, ocpp_core::v16::Action::Heartbeat);
//!             break;
//!         }
//!     }
//!     client.close(1000, "bye").await;
//!     server.shutdown().await;
//! });
//! ```
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::io::{AsyncRead, AsyncWrite};
use ocpp_core::machine::Machine;
use ocpp_core::time::{Monotonic, Now};
use ocpp_io::rustls;
use ocpp_io::rustls::pki_types::ServerName;
use smol::Timer;
use smol::net::{AsyncToSocketAddrs, TcpListener, TcpStream};

/// Recording a connection's trace: wrap the machine in `ocpp_core::trace::Recorder` with a
/// [`trace::FileSink`].
pub use ocpp_io::trace;
pub use ocpp_io::{
    Authenticator, Authorization, AwaitError, Awaiting, Backoff, BasicAuthPassword, ClientConfig,
    ClientSecurity, Command, ConnectError, Connection, ConnectionInfo, Connections, Credentials,
    Disconnect, DriverConfig, DuplicateId, Event, EventHandler, Events, Gone, Handle, NoPersist,
    PersistError, Persister, SecurityProfile, ServerConfig, ServerSecurity, TlsInfo, Verdict,
};

/// A server on smol.
pub type Server<M> = ocpp_io::Server<M, Smol>;
/// A client on smol.
pub type Client<M> = ocpp_io::Client<M>;

/// How a [`Smol`] runtime starts a task.
pub type Spawner = fn(BoxFuture<'static, ()>);

/// The smol [`Runtime`](ocpp_io::Runtime): `std::time::Instant` and the wall clock,
/// `async-io` timers, and tasks on smol's global executor unless another spawner is given.
#[derive(Debug, Clone, Copy)]
pub struct Smol {
    origin: Instant,
    spawner: Spawner,
}

impl Smol {
    /// A runtime whose monotonic clock starts now, spawning on smol's global executor.
    pub fn new() -> Smol {
        Smol::with_spawner(|task| smol::spawn(task).detach())
    }

    /// A runtime that starts its tasks with `spawner`, e.g. `|t| { async_std::task::spawn(t); }`.
    pub fn with_spawner(spawner: Spawner) -> Smol {
        Smol {
            origin: Instant::now(),
            spawner,
        }
    }
}

impl Default for Smol {
    fn default() -> Smol {
        Smol::new()
    }
}

impl ocpp_io::Runtime for Smol {
    fn now(&self) -> Now {
        Now::new(
            Monotonic::from_elapsed(self.origin.elapsed()),
            time::OffsetDateTime::now_utc(),
        )
    }

    fn sleep_until(&self, deadline: Monotonic) -> BoxFuture<'static, ()> {
        let timer = match self.origin.checked_add(deadline.elapsed()) {
            Some(at) => Timer::at(at),
            None => Timer::never(),
        };
        Box::pin(async move {
            timer.await;
        })
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        (self.spawner)(task);
    }
}

/// Opens client connections with `smol::net::TcpStream` (Nagle off).
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolConnector;

impl ocpp_io::Connector for SmolConnector {
    type Stream = TcpStream;
    type TlsStream = futures_rustls::client::TlsStream<TcpStream>;

    fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<TcpStream>> {
        Box::pin(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    }

    fn connect_tls(
        &self,
        stream: TcpStream,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<Self::TlsStream>> {
        tls_connect(stream, config, server_name)
    }
}

/// The client side of TLS with futures-rustls over any futures-io stream: what a
/// [`Connector`](ocpp_io::Connector) of another futures-io runtime (e.g. async-std's sockets)
/// returns from `connect_tls`.
pub fn tls_connect<S>(
    stream: S,
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
) -> BoxFuture<'static, io::Result<futures_rustls::client::TlsStream<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Box::pin(futures_rustls::TlsConnector::from(config).connect(server_name, stream))
}

/// Runs the server side of TLS with futures-rustls over any futures-io stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolTls;

impl<S> ocpp_io::TlsAcceptor<S> for SmolTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = futures_rustls::server::TlsStream<S>;

    fn accept(
        &self,
        stream: S,
        config: Arc<rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Self::Stream, TlsInfo)>> {
        Box::pin(async move {
            let tls = futures_rustls::TlsAcceptor::from(config)
                .accept(stream)
                .await?;
            let info = TlsInfo::of_server(tls.get_ref().1);
            Ok((tls, info))
        })
    }
}

/// Starts a client with `machine`, connecting as `config` says; see [`ocpp_io::client`].
pub fn connect<M>(config: ClientConfig, machine: M) -> Client<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    connect_on(Smol::new(), config, machine, Box::new(NoPersist))
}

/// [`connect`] on a given runtime (spawner), persisting the machine's store ops with
/// `persister` before their frames go out.
pub fn connect_on<M>(
    runtime: Smol,
    config: ClientConfig,
    machine: M,
    persister: Box<dyn Persister>,
) -> Client<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    ocpp_io::Client::start(runtime, SmolConnector, config, machine, persister)
}

/// Listens on `addr` and serves OCPP-J connections, each with a machine from `factory`; see
/// [`ocpp_io::server`].
pub async fn bind<M, F>(
    addr: impl AsyncToSocketAddrs,
    config: ServerConfig,
    factory: F,
) -> io::Result<Server<M>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    F: Fn(&ConnectionInfo) -> M + Send + Sync + 'static,
{
    bind_on(Smol::new(), addr, config, factory, |_| Box::new(NoPersist)).await
}

/// [`bind`] on a given runtime (spawner), with a persister for each connection from
/// `persisters`.
pub async fn bind_on<M, F, P>(
    runtime: Smol,
    addr: impl AsyncToSocketAddrs,
    config: ServerConfig,
    factory: F,
    persisters: P,
) -> io::Result<Server<M>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    F: Fn(&ConnectionInfo) -> M + Send + Sync + 'static,
    P: Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync + 'static,
{
    bind_with_handles(
        runtime,
        addr,
        config,
        move |info: &ConnectionInfo, _: &Handle<M>| factory(info),
        persisters,
    )
    .await
}

/// [`bind_on`], with a factory that also receives the connection's [`Handle`], so that the
/// machine can run commands on itself later (e.g. answer a request once a store commit on
/// another thread has decided it) without a task per connection; see
/// [`ocpp_io::Server::start_with_handles`].
pub async fn bind_with_handles<M, F, P>(
    runtime: Smol,
    addr: impl AsyncToSocketAddrs,
    config: ServerConfig,
    factory: F,
    persisters: P,
) -> io::Result<Server<M>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    F: Fn(&ConnectionInfo, &Handle<M>) -> M + Send + Sync + 'static,
    P: Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local_addr: SocketAddr = listener.local_addr()?;
    let accepted = futures_util::stream::unfold(listener, |listener| async move {
        let next = listener.accept().await.and_then(|(stream, peer)| {
            stream.set_nodelay(true)?;
            Ok((stream, peer))
        });
        Some((next, listener))
    });
    Ok(ocpp_io::Server::start_with_handles(
        runtime,
        config,
        local_addr,
        Box::pin(accepted),
        SmolTls,
        factory,
        persisters,
    ))
}
