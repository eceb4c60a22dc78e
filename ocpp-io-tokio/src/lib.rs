//! OCPP-J over WebSocket on the tokio runtime: a client (Charge Point) and a server (Central
//! System) that drive `ocpp-core` state machines.
//!
//! `ocpp-core` decides everything a protocol decides and does no I/O; the runtime-neutral
//! `ocpp-io` crate carries its inputs and outputs over a WebSocket connection. This crate
//! binds the two to tokio: TCP sockets from `tokio::net`, timers from `tokio::time`, tasks
//! from `tokio::spawn`, WebSocket from async-tungstenite. The driver loop, the reconnect loop
//! and the server's handshake logic are `ocpp-io`'s, shared with `ocpp-io-smol`.
//!
//! - [`bind`] starts a [`Server`]: every accepted connection gets its own machine from your
//!   factory and comes to you as a [`Connection`] (who it is, a [`Handle`] to run commands on
//!   its machine, its [`Events`]).
//! - [`bind_with_handles`] does the same with a factory that also receives each connection's
//!   [`Handle`], for machines that answer on their own later (no task per connection).
//! - [`bind_across`] is [`bind_with_handles`] with the connections spread over several
//!   runtimes, e.g. one single-threaded runtime per core: each connection then lives on one
//!   thread, and no input wakes a second one.
//! - [`connect`] starts a [`Client`] that connects to `<url>/<charge point id>`, runs your
//!   machine, and reconnects with back-off when the connection is lost.
//! - Events come as a stream ([`Events`]) or, with [`Events::for_each_handler`], to an
//!   [`EventHandler`] whose loop you run on a task (`tokio::spawn`).
//!
//! # Security profiles
//!
//! OCPP security profiles 1 to 3 (HTTP Basic authentication, TLS with a server certificate,
//! TLS with client certificates) are set with [`ClientConfig::security`] and
//! [`ServerConfig::security`]; [`ocpp_io::security`] says which profile needs which settings
//! and what is checked where. Everything but the TLS handshake itself is `ocpp-io`'s; this
//! crate runs the handshake with tokio-rustls ([`TokioConnector`], [`TokioTls`]) using the
//! rustls configuration `ocpp-io` built (ring, TLS 1.2 and 1.3, the white paper's suites).
//!
//! Profile 1, HTTP Basic authentication: the Central System's [`Authenticator`] decides on
//! the password before the WebSocket upgrade; a refused charge point gets HTTP 401.
//!
//! ```
//! use ocpp_core::Version;
//! use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig};
//! use ocpp_io_tokio::{
//!     BasicAuthPassword, ClientConfig, ClientSecurity, ConnectError, Credentials, Event,
//!     ServerConfig, ServerSecurity, Verdict,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let endpoint = || Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()));
//! // The AuthorizationKey is hex; the password on the wire is the bytes it stands for.
//! let key = "00112233445566778899AABBCCDDEEFF";
//! let expected = BasicAuthPassword::from_authorization_key(key).unwrap();
//! let check = move |c: &Credentials<'_>| {
//!     // A real Central System compares salted hashes, in constant time (A01.FR.08).
//!     if c.charge_point_id == "CP-1" && c.password == Some(expected.as_bytes()) {
//!         Verdict::Allow
//!     } else {
//!         Verdict::Deny
//!     }
//! };
//! let config = ServerConfig::new([Version::V16]).with_security(ServerSecurity::basic_auth(check));
//! let mut server = ocpp_io_tokio::bind("127.0.0.1:0", config, move |_| endpoint()).await?;
//! let url = format!("ws://{}/ocpp", server.local_addr());
//!
//! let wrong = BasicAuthPassword::from_authorization_key("FFFF").unwrap();
//! let mut config = ClientConfig::new(url.clone(), "CP-1", [Version::V16])
//!     .with_security(ClientSecurity::basic_auth(wrong));
//! config.reconnect = None;
//! let mut client = ocpp_io_tokio::connect(config, endpoint());
//! assert_eq!(
//!     client.events().next_event().await,
//!     Some(Event::ConnectFailed(ConnectError::AuthenticationFailed { status: 401 }))
//! );
//!
//! let right = BasicAuthPassword::from_authorization_key(key).unwrap();
//! let config = ClientConfig::new(url, "CP-1", [Version::V16])
//!     .with_security(ClientSecurity::basic_auth(right));
//! let client = ocpp_io_tokio::connect(config, endpoint());
//! let connection = server.next_connection().await.unwrap();
//! assert_eq!(connection.info.charge_point_id, "CP-1");
//! client.close(1000, "bye").await;
//! # Ok(())
//! # }
//! ```
//!
//! # Example
//!
//! A Central System and a Charge Point on loopback, both plain RPC endpoints: the charge
//! point calls Heartbeat, the server's application answers it.
//!
//! ```
//! use futures_util::StreamExt;
//! use ocpp_core::Version;
//! use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig, RpcEvent};
//! use ocpp_io_tokio::{ClientConfig, Event, ServerConfig};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let endpoint = || Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()));
//!
//! let mut server = ocpp_io_tokio::bind("127.0.0.1:0", ServerConfig::new([Version::V16]), move |_| endpoint())
//!     .await?;
//! let url = format!("ws://{}/ocpp", server.local_addr());
//! tokio::spawn(async move {
//!     while let Some(mut connection) = server.next_connection().await {
//!         tokio::spawn(async move {
//!             while let Some(event) = connection.events.next().await {
//!                 if let Event::Machine(RpcEvent::Call(call)) = event {
//!                     let answer = json!({"currentTime": "2025-01-01T00:00:00Z"});
//!                     let _ = connection.handle.run(move |ep, now| ep.respond(now, &call.id, answer)).await;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! let mut client = ocpp_io_tokio::connect(ClientConfig::new(url, "CP-1", [Version::V16]), endpoint());
//! assert!(matches!(client.events().next().await, Some(Event::Connected { version: Version::V16 })));
//! client.handle().run(|ep, now| ep.call(now, ocpp_core::v16::Action::Heartbeat, json!({}))).await.unwrap().unwrap();
//! let Some(Event::Machine(RpcEvent::Completed { outcome, .. })) = client.events().next().await else {
//!     panic!("no answer");
//! };
//! assert_eq!(outcome.unwrap()["currentTime"], "2025-01-01T00:00:00Z");
//! client.close(1000, "bye").await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tokio::TokioAdapter;
use futures_util::future::BoxFuture;
use futures_util::io::{AsyncRead, AsyncWrite};
use ocpp_core::machine::Machine;
use ocpp_core::time::{Monotonic, Now};
use ocpp_io::rustls;
use ocpp_io::rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio::time::Instant;

/// Recording a connection's trace: wrap the machine in `ocpp_core::trace::Recorder` with a
/// [`trace::FileSink`].
pub use ocpp_io::trace;
pub use ocpp_io::{
    Authenticator, Authorization, AwaitError, Awaiting, Backoff, BasicAuthPassword, ClientConfig,
    ClientSecurity, Command, ConnectError, Connection, ConnectionInfo, Connections, Credentials,
    Disconnect, DriverConfig, DuplicateId, Event, EventHandler, Events, Gone, Handle, NoPersist,
    PersistError, Persister, SecurityProfile, ServerConfig, ServerSecurity, TlsInfo, Verdict,
};

/// A server on tokio.
pub type Server<M> = ocpp_io::Server<M, Tokio>;
/// A client on tokio.
pub type Client<M> = ocpp_io::Client<M>;

/// The tokio [`Runtime`](ocpp_io::Runtime): `tokio::time` clocks and timers (so a test
/// runtime with paused time drives the machines in virtual time), `tokio::spawn` tasks (or,
/// from [`Tokio::across`], tasks spread over several runtimes).
///
/// Must be used from within a tokio runtime with the time driver enabled.
#[derive(Debug, Clone)]
pub struct Tokio {
    origin: Instant,
    spread: Option<Arc<Spread>>,
}

/// The runtimes [`Tokio::across`] spawns on, in turn.
#[derive(Debug)]
struct Spread {
    runtimes: Vec<tokio::runtime::Handle>,
    next: AtomicUsize,
}

impl Tokio {
    /// A runtime whose monotonic clock starts now and whose tasks go to the current tokio
    /// runtime.
    pub fn new() -> Tokio {
        Tokio {
            origin: Instant::now(),
            spread: None,
        }
    }

    /// A runtime whose monotonic clock starts now and whose tasks go to `runtimes` in turn,
    /// the first task to the first runtime; `None` if `runtimes` is empty.
    ///
    /// Each task then runs on one runtime for its whole life, with the sockets it opens and
    /// the timers it sets: with one single-threaded runtime per core, a connection's input
    /// never wakes a second thread.
    pub fn across(runtimes: Vec<tokio::runtime::Handle>) -> Option<Tokio> {
        if runtimes.is_empty() {
            return None;
        }
        Some(Tokio {
            origin: Instant::now(),
            spread: Some(Arc::new(Spread {
                runtimes,
                next: AtomicUsize::new(0),
            })),
        })
    }
}

impl Default for Tokio {
    fn default() -> Tokio {
        Tokio::new()
    }
}

impl ocpp_io::Runtime for Tokio {
    fn now(&self) -> Now {
        Now::new(
            Monotonic::from_elapsed(Instant::now().saturating_duration_since(self.origin)),
            time::OffsetDateTime::now_utc(),
        )
    }

    fn sleep_until(&self, deadline: Monotonic) -> BoxFuture<'static, ()> {
        // A deadline beyond what `Instant` can hold is "never"; a century is as good.
        let far = Duration::from_secs(100 * 365 * 24 * 3600);
        let at = self
            .origin
            .checked_add(deadline.elapsed().min(far))
            .unwrap_or_else(|| Instant::now() + far);
        Box::pin(tokio::time::sleep_until(at))
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        match &self.spread {
            Some(spread) => {
                let turn = spread.next.fetch_add(1, Ordering::Relaxed) % spread.runtimes.len();
                spread.runtimes[turn].spawn(task);
            }
            None => {
                tokio::spawn(task);
            }
        }
    }
}

/// Opens client connections with `tokio::net::TcpStream` (Nagle off: OCPP messages are small
/// and latency matters more than packing).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnector;

impl ocpp_io::Connector for TokioConnector {
    type Stream = TokioAdapter<TcpStream>;
    /// Boxed: the rustls connection is over a kilobyte, and the connection's stream is an
    /// `Either` of plain and TLS, as large as its larger side even when plain.
    type TlsStream = Box<TokioAdapter<tokio_rustls::client::TlsStream<TcpStream>>>;

    fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Self::Stream>> {
        Box::pin(async move {
            let stream = TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
            Ok(TokioAdapter::new(stream))
        })
    }

    fn connect_tls(
        &self,
        stream: Self::Stream,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<Self::TlsStream>> {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, stream.into_inner())
                .await?;
            Ok(Box::new(TokioAdapter::new(tls)))
        })
    }
}

/// An accepted TCP connection on its way to the runtime that will serve it: registered with
/// the runtime of the task that first reads, writes or runs TLS on it (see [`bind_across`]).
///
/// A tokio socket stays with the runtime it was registered with: its readiness comes from
/// that runtime's I/O driver, which would wake the serving thread from another one on every
/// frame. The accept loop therefore hands the socket on unregistered.
#[derive(Debug)]
pub struct Handoff(HandoffState);

#[derive(Debug)]
enum HandoffState {
    Unregistered(std::net::TcpStream),
    Registered(TokioAdapter<TcpStream>),
    /// Registering failed (the error was returned once); the socket is closed.
    Failed,
}

impl Handoff {
    /// Takes an accepted socket off the runtime that accepted it.
    fn new(stream: TcpStream) -> io::Result<Handoff> {
        stream.set_nodelay(true)?;
        Ok(Handoff(HandoffState::Unregistered(stream.into_std()?)))
    }

    /// The socket, registered with the current runtime (on the first call).
    fn registered(&mut self) -> io::Result<&mut TokioAdapter<TcpStream>> {
        if matches!(self.0, HandoffState::Unregistered(_))
            && let HandoffState::Unregistered(stream) =
                std::mem::replace(&mut self.0, HandoffState::Failed)
        {
            // `from_std` would panic outside a runtime: say so instead.
            tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
            self.0 = HandoffState::Registered(TokioAdapter::new(TcpStream::from_std(stream)?));
        }
        match &mut self.0 {
            HandoffState::Registered(stream) => Ok(stream),
            _ => Err(unregistered()),
        }
    }

    /// The registered tokio socket, for TLS.
    fn into_registered(mut self) -> io::Result<TcpStream> {
        self.registered()?;
        match self.0 {
            HandoffState::Registered(stream) => Ok(stream.into_inner()),
            _ => Err(unregistered()),
        }
    }
}

fn unregistered() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket could not be registered with the runtime",
    )
}

impl AsyncRead for Handoff {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().registered() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl AsyncWrite for Handoff {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().registered() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().registered() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().registered() {
            Ok(stream) => Pin::new(stream).poll_close(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

/// Runs the server side of TLS with tokio-rustls.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTls;

impl ocpp_io::TlsAcceptor<Handoff> for TokioTls {
    /// Boxed, as for a plain tokio socket.
    type Stream = Box<TokioAdapter<tokio_rustls::server::TlsStream<TcpStream>>>;

    fn accept(
        &self,
        stream: Handoff,
        config: Arc<rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Self::Stream, TlsInfo)>> {
        // Registered here, in the task that serves the connection.
        Box::pin(async move {
            let stream = stream.into_registered()?;
            ocpp_io::TlsAcceptor::accept(&TokioTls, TokioAdapter::new(stream), config).await
        })
    }
}

impl ocpp_io::TlsAcceptor<TokioAdapter<TcpStream>> for TokioTls {
    /// Boxed: the rustls connection is 1.2 KiB, and every connection's stream, plain ones
    /// included, is an `Either` as large as its larger side.
    type Stream = Box<TokioAdapter<tokio_rustls::server::TlsStream<TcpStream>>>;

    fn accept(
        &self,
        stream: TokioAdapter<TcpStream>,
        config: Arc<rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Self::Stream, TlsInfo)>> {
        Box::pin(async move {
            let tls = tokio_rustls::TlsAcceptor::from(config)
                .accept(stream.into_inner())
                .await?;
            let info = TlsInfo::of_server(tls.get_ref().1);
            Ok((Box::new(TokioAdapter::new(tls)), info))
        })
    }
}

/// Starts a client with `machine`, connecting as `config` says; see [`ocpp_io::client`].
pub fn connect<M>(config: ClientConfig, machine: M) -> Client<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    connect_with_persister(config, machine, Box::new(NoPersist))
}

/// [`connect`], persisting the machine's store ops with `persister` before their frames go out.
pub fn connect_with_persister<M>(
    config: ClientConfig,
    machine: M,
    persister: Box<dyn Persister>,
) -> Client<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    ocpp_io::Client::start(Tokio::new(), TokioConnector, config, machine, persister)
}

/// The listen backlog: connections the kernel completes before the server accepts them.
/// tokio's `TcpListener::bind` asks for 1,024; thousands of stations reconnecting at once
/// (after a power cut, or a central system restart) overflow that, and each overflowed
/// connection waits a SYN retransmission (1 s, then 3 s) before it is tried again. Linux
/// caps the value at `net.core.somaxconn` (4,096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 65_535;

/// Binds a listener on the first address of `addr` that can be bound, with
/// [`LISTEN_BACKLOG`].
async fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As `TcpListener::bind` does: a restarted server can bind while old connections
        // linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// Listens on `addr` and serves OCPP-J connections, each with a machine from `factory`; see
/// [`ocpp_io::server`].
pub async fn bind<M, F>(
    addr: impl ToSocketAddrs,
    config: ServerConfig,
    factory: F,
) -> io::Result<Server<M>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    F: Fn(&ConnectionInfo) -> M + Send + Sync + 'static,
{
    bind_with_persisters(addr, config, factory, |_| Box::new(NoPersist)).await
}

/// [`bind`], with a persister for each connection from `persisters`.
pub async fn bind_with_persisters<M, F, P>(
    addr: impl ToSocketAddrs,
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
        addr,
        config,
        move |info: &ConnectionInfo, _: &Handle<M>| factory(info),
        persisters,
    )
    .await
}

/// [`bind_with_persisters`], with a factory that also receives the connection's [`Handle`],
/// so that the machine can run commands on itself later (e.g. answer a request once a store
/// commit on another thread has decided it) without a task per connection; see
/// [`ocpp_io::Server::start_with_handles`].
pub async fn bind_with_handles<M, F, P>(
    addr: impl ToSocketAddrs,
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
    let accepted = |stream: TcpStream| {
        stream.set_nodelay(true)?;
        Ok(TokioAdapter::new(stream))
    };
    start(Tokio::new(), addr, accepted, config, factory, persisters).await
}

/// [`bind_with_handles`], with the connections spread over `runtimes` in turn: each
/// connection's task, socket and timers live on one of them for the connection's life. The
/// accept loop runs on the first runtime; call this from it.
///
/// Meant for one single-threaded (`current_thread`) runtime per core, each driven by its own
/// thread: an input then never wakes a second thread, which a work-stealing runtime does
/// often under load. The spreading is round robin, not by load: connections are long-lived
/// and alike.
///
/// # Errors
/// The listener's errors, and `InvalidInput` if `runtimes` is empty.
pub async fn bind_across<M, F, P>(
    runtimes: Vec<tokio::runtime::Handle>,
    addr: impl ToSocketAddrs,
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
    let runtime = Tokio::across(runtimes)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no runtime to serve on"))?;
    start(runtime, addr, Handoff::new, config, factory, persisters).await
}

/// Listens on `addr` and starts a server on `runtime` whose connections are the accepted
/// sockets as `accepted` makes them.
async fn start<M, F, P, S>(
    runtime: Tokio,
    addr: impl ToSocketAddrs,
    accepted: fn(TcpStream) -> io::Result<S>,
    config: ServerConfig,
    factory: F,
    persisters: P,
) -> io::Result<Server<M>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    F: Fn(&ConnectionInfo, &Handle<M>) -> M + Send + Sync + 'static,
    P: Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    TokioTls: ocpp_io::TlsAcceptor<S>,
{
    let listener = listen(addr).await?;
    let local_addr: SocketAddr = listener.local_addr()?;
    let connections = futures_util::stream::unfold(listener, move |listener| async move {
        let next = listener
            .accept()
            .await
            .and_then(|(stream, peer)| Ok((accepted(stream)?, peer)));
        Some((next, listener))
    });
    Ok(ocpp_io::Server::start_with_handles(
        runtime,
        config,
        local_addr,
        Box::pin(connections),
        TokioTls,
        factory,
        persisters,
    ))
}
