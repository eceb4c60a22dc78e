//! The server side (Central System / CSMS): accept, identify, negotiate, run.
//!
//! A [`Server`] takes connections from a listener the runtime adapter supplies. For each it
//! runs the WebSocket handshake within [`ServerConfig::handshake_timeout`]:
//!
//! - with TLS (security profiles 2 and 3, [`ServerConfig::security`]), the TLS handshake
//!   comes first; a client that fails it (no common version or suite, for profile 3 no client
//!   certificate or one from an unknown CA) is dropped before any HTTP is read;
//! - the charge point id is the last segment of the request path, percent-decoded. A path with
//!   no segment (`/`) is answered 404 and an empty last segment (`/ocpp/`) or one that does not
//!   decode to UTF-8 is answered 400, before the upgrade;
//! - the credentials are checked as the security profile requires (HTTP Basic authentication
//!   for profiles 1 and 2, the client certificate's CN for profile 3, then the
//!   [`Authenticator`](crate::security::Authenticator)), answering 401 or 403 before the
//!   upgrade; see [`crate::security`];
//! - the subprotocol is the first of the client's offers (its order of preference) that the
//!   server supports. If there is none, the handshake completes **without** a
//!   `Sec-WebSocket-Protocol` header and the connection is closed at once (close code 1002),
//!   as OCPP-J 1.6 section 3.2 and 2.0.1 part 4 section 3.2 require;
//! - a second connection with an id that is already connected is refused (HTTP 409) or
//!   replaces the first (which is closed with 1000), as [`DuplicateId`] says.
//!
//! Each accepted connection gets its own machine from the factory and its own [`Driver`]; the
//! application receives it as a [`Connection`] (its info, a [`Handle`] and its [`Events`]).
//! With [`Server::start_with_handles`] the factory gets the connection's [`Handle`] too, so
//! the machine can run commands on itself later (from a store's writer thread, say) and the
//! application needs no task per connection; it may drop the [`Events`] it does not read.
//! [`Server::shutdown`] stops accepting, closes every connection with a close frame (1001)
//! and waits until all of them have ended.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::http::header::{
    AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL, WWW_AUTHENTICATE,
};
use async_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use async_tungstenite::tungstenite::protocol::frame::CloseFrame;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{BoxFuture, Either, select};
use futures_util::io::{AsyncRead, AsyncWrite};
use futures_util::task::AtomicWaker;
use futures_util::{Stream, StreamExt};
use ocpp_core::Version;
use ocpp_core::machine::Machine;
use percent_encoding::percent_decode_str;

use crate::driver::{
    CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY_VIOLATION, CLOSE_PROTOCOL_ERROR, Driver,
    DriverConfig, Events, Handle, Session, WebSocket,
};
use crate::persist::{NoPersist, Persister};
use crate::runtime::Runtime;
use crate::security::{Refusal, SecurityProfile, ServerSecurity, TlsInfo};
use crate::ws::{self, WsStream};

/// Runs the server side of TLS over an accepted stream; supplied by the runtime adapter.
///
/// # Obligations
///
/// [`TlsAcceptor::accept`] runs a rustls server handshake with exactly the `config` given
/// (built by [`ServerSecurity`]: certificate, versions, suites, client verification) and
/// returns the stream only once the handshake has completed, with what it established
/// ([`TlsInfo::of_server`]); any failure is an error.
pub trait TlsAcceptor<S>: Send + Sync + 'static {
    /// The TLS stream over `S`.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Runs the handshake.
    fn accept(
        &self,
        stream: S,
        config: Arc<rustls::ServerConfig>,
    ) -> BoxFuture<'static, io::Result<(Self::Stream, TlsInfo)>>;
}

/// What to do with a connection whose charge point id is already connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateId {
    /// Refuse the new one with HTTP 409 before the upgrade; the first stays. The default.
    #[default]
    Refuse,
    /// Accept the new one and close the first (1000, "replaced by a new connection"): a
    /// charge point that lost its connection without noticing gets back in at once.
    Replace,
}

/// Settings of a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The versions the server speaks; which one a connection uses is the client's choice
    /// among them.
    pub versions: Vec<Version>,
    /// The bound on the WebSocket handshake after the TCP connection is accepted; a client
    /// that has not completed it by then is dropped. Default 10 s.
    pub handshake_timeout: Duration,
    /// A second connection with the same id.
    pub duplicate_id: DuplicateId,
    /// The security profile of this endpoint and what it checks. Default: profile 0 (none).
    pub security: ServerSecurity,
    /// The driver's settings for every connection.
    pub driver: DriverConfig,
}

impl ServerConfig {
    /// A server of `versions` with the defaults.
    pub fn new(versions: impl IntoIterator<Item = Version>) -> ServerConfig {
        ServerConfig {
            versions: versions.into_iter().collect(),
            handshake_timeout: Duration::from_secs(10),
            duplicate_id: DuplicateId::Refuse,
            security: ServerSecurity::unsecured(),
            driver: DriverConfig::default(),
        }
    }

    /// This config with `security`.
    pub fn with_security(mut self, security: ServerSecurity) -> ServerConfig {
        self.security = security;
        self
    }
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The charge point id from the URL path, percent-decoded.
    pub charge_point_id: String,
    /// The negotiated version.
    pub version: Version,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The security profile the connection was accepted under.
    pub security_profile: SecurityProfile,
    /// What the TLS handshake established (profiles 2 and 3).
    pub tls: Option<TlsInfo>,
}

/// One accepted connection, as the application receives it.
pub struct Connection<M: Machine> {
    /// Who it is.
    pub info: ConnectionInfo,
    /// Runs commands on its machine.
    pub handle: Handle<M>,
    /// What happens on it; ends when the connection has ended.
    pub events: Events<M::Event>,
}

impl<M: Machine> std::fmt::Debug for Connection<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The charge point id of a request path, or the HTTP status refusing it.
///
/// ```
/// use ocpp_io::server::charge_point_id_from_path;
/// assert_eq!(charge_point_id_from_path("/ocpp/CP%201%2FA").unwrap(), "CP 1/A");
/// assert_eq!(charge_point_id_from_path("/").unwrap_err().as_u16(), 404);
/// assert_eq!(charge_point_id_from_path("/ocpp/").unwrap_err().as_u16(), 400);
/// ```
pub fn charge_point_id_from_path(path: &str) -> Result<String, StatusCode> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Err(StatusCode::NOT_FOUND);
    }
    let segment = trimmed.rsplit('/').next().unwrap_or_default();
    if segment.is_empty() {
        return Err(StatusCode::BAD_REQUEST);
    }
    percent_decode_str(segment)
        .decode_utf8()
        .map(|id| id.into_owned())
        .map_err(|_| StatusCode::BAD_REQUEST)
}

/// The server's choice among the client's offers: the first offered that it supports.
fn choose_subprotocol(request: &Request, supported: &[Version]) -> Option<Version> {
    request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| Version::from_subprotocol(name.trim()))
        .find(|version| supported.contains(version))
}

fn refusal(status: StatusCode, message: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(message.to_owned()));
    *response.status_mut() = status;
    response
}

fn security_refusal(refusal: Refusal) -> ErrorResponse {
    match refusal {
        Refusal::Unauthorized => {
            let mut response = self::refusal(StatusCode::UNAUTHORIZED, "authentication failed");
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"OCPP\", charset=\"UTF-8\""),
            );
            response
        }
        Refusal::Forbidden => self::refusal(StatusCode::FORBIDDEN, "not allowed to connect"),
    }
}

struct Registry<M> {
    shutting_down: bool,
    next_serial: u64,
    connected: BTreeMap<String, (u64, Handle<M>)>,
}

type MachineFactory<M> = dyn Fn(&ConnectionInfo, &Handle<M>) -> M + Send + Sync;
type PersisterFactory = dyn Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync;

struct Shared<M: Machine, R> {
    runtime: R,
    config: ServerConfig,
    /// `config.driver`, shared by every connection's driver.
    driver_config: Arc<DriverConfig>,
    factory: Box<MachineFactory<M>>,
    persisters: Box<PersisterFactory>,
    /// Shared with every [`Connections`] view.
    registry: Arc<Mutex<Registry<M>>>,
    connections: mpsc::UnboundedSender<Connection<M>>,
    /// The tasks running (the accept loop, every connection's), see [`Task`].
    tasks: AtomicUsize,
    /// Woken when the last task ends.
    tasks_ended: AtomicWaker,
}

impl<M: Machine, R> Shared<M, R> {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry<M>> {
        lock_registry(&self.registry)
    }
}

fn lock_registry<M>(registry: &Mutex<Registry<M>>) -> std::sync::MutexGuard<'_, Registry<M>> {
    // The lock is never held across a panic-prone call; recover the data regardless.
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connected charge points of a [`Server`], as a view that can be cloned and kept apart
/// from the server (e.g. by an HTTP API that sends calls to stations), so that the
/// application needs no registry of its own. It reads the server's own registry: a
/// connection is in it from its registration until it has ended.
pub struct Connections<M> {
    registry: Arc<Mutex<Registry<M>>>,
}

impl<M> Clone for Connections<M> {
    fn clone(&self) -> Connections<M> {
        Connections {
            registry: Arc::clone(&self.registry),
        }
    }
}

impl<M> std::fmt::Debug for Connections<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("connected", &lock_registry(&self.registry).connected.len())
            .finish()
    }
}

impl<M: Send + 'static> Connections<M> {
    /// The handle of the connection of `charge_point_id`, if it is connected.
    pub fn get(&self, charge_point_id: &str) -> Option<Handle<M>> {
        lock_registry(&self.registry)
            .connected
            .get(charge_point_id)
            .filter(|(_, handle)| !handle.is_gone())
            .map(|(_, handle)| handle.clone())
    }

    /// The ids of the connected charge points, in order.
    pub fn ids(&self) -> Vec<String> {
        lock_registry(&self.registry)
            .connected
            .iter()
            .filter(|(_, (_, handle))| !handle.is_gone())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether `charge_point_id` is connected.
    pub fn contains(&self, charge_point_id: &str) -> bool {
        self.get(charge_point_id).is_some()
    }
}

/// A server task's way to the shared state. While it exists, its task counts as running, so
/// that [`Server::shutdown`] can wait until every task has ended: a counter, where a channel
/// sender per task would cost each connection an allocation and three words.
struct Task<M: Machine, R>(Arc<Shared<M, R>>);

impl<M: Machine, R> Task<M, R> {
    fn new(shared: &Arc<Shared<M, R>>) -> Task<M, R> {
        shared.tasks.fetch_add(1, Ordering::AcqRel);
        Task(Arc::clone(shared))
    }
}

impl<M: Machine, R> std::ops::Deref for Task<M, R> {
    type Target = Shared<M, R>;

    fn deref(&self) -> &Shared<M, R> {
        &self.0
    }
}

impl<M: Machine, R> Drop for Task<M, R> {
    fn drop(&mut self) {
        if self.0.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.tasks_ended.wake();
        }
    }
}

/// A running server. See the [module docs](self).
///
/// Dropping it stops accepting but leaves the open connections running; [`Server::shutdown`]
/// ends them.
pub struct Server<M: Machine, R> {
    local_addr: SocketAddr,
    shared: Arc<Shared<M, R>>,
    connections: mpsc::UnboundedReceiver<Connection<M>>,
    stop_accepting: Option<oneshot::Sender<()>>,
}

impl<M: Machine, R> std::fmt::Debug for Server<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl<M, R> Server<M, R>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
{
    /// Starts serving the connections `listener` yields (adapters call this after binding),
    /// running TLS with `tls` when the security profile uses it.
    ///
    /// `factory` builds the machine of each connection; its persister is a [`NoPersist`]
    /// unless [`Server::start_with_persisters`] is used.
    pub fn start<L, S, T, F>(
        runtime: R,
        config: ServerConfig,
        local_addr: SocketAddr,
        listener: L,
        tls: T,
        factory: F,
    ) -> Server<M, R>
    where
        L: Stream<Item = io::Result<(S, SocketAddr)>> + Send + Unpin + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        T: TlsAcceptor<S>,
        F: Fn(&ConnectionInfo) -> M + Send + Sync + 'static,
    {
        Server::start_with_persisters(runtime, config, local_addr, listener, tls, factory, |_| {
            Box::new(NoPersist)
        })
    }

    /// [`Server::start`], with a persister for each connection from `persisters`.
    pub fn start_with_persisters<L, S, T, F, P>(
        runtime: R,
        config: ServerConfig,
        local_addr: SocketAddr,
        listener: L,
        tls: T,
        factory: F,
        persisters: P,
    ) -> Server<M, R>
    where
        L: Stream<Item = io::Result<(S, SocketAddr)>> + Send + Unpin + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        T: TlsAcceptor<S>,
        F: Fn(&ConnectionInfo) -> M + Send + Sync + 'static,
        P: Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync + 'static,
    {
        Server::start_with_handles(
            runtime,
            config,
            local_addr,
            listener,
            tls,
            move |info: &ConnectionInfo, _: &Handle<M>| factory(info),
            persisters,
        )
    }

    /// [`Server::start_with_persisters`], with a factory that also receives the
    /// connection's [`Handle`], so that the machine can reach its own driver: e.g. answer a
    /// request from another thread once a store commit has decided it
    /// (`handle.run_detached(|m, now| ..)`), with no task per connection in the application.
    ///
    /// A machine holding its handle keeps its driver reachable, but the driver still ends
    /// with its connection (or a [`Handle::close`], or [`Server::shutdown`]); see
    /// [`Driver::build`].
    pub fn start_with_handles<L, S, T, F, P>(
        runtime: R,
        config: ServerConfig,
        local_addr: SocketAddr,
        listener: L,
        tls: T,
        factory: F,
        persisters: P,
    ) -> Server<M, R>
    where
        L: Stream<Item = io::Result<(S, SocketAddr)>> + Send + Unpin + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        T: TlsAcceptor<S>,
        F: Fn(&ConnectionInfo, &Handle<M>) -> M + Send + Sync + 'static,
        P: Fn(&ConnectionInfo) -> Box<dyn Persister> + Send + Sync + 'static,
    {
        let (connections_tx, connections) = mpsc::unbounded();
        let shared = Arc::new(Shared {
            runtime: runtime.clone(),
            driver_config: Arc::new(config.driver.clone()),
            config,
            factory: Box::new(factory),
            persisters: Box::new(persisters),
            registry: Arc::new(Mutex::new(Registry {
                shutting_down: false,
                next_serial: 0,
                connected: BTreeMap::new(),
            })),
            connections: connections_tx,
            tasks: AtomicUsize::new(0),
            tasks_ended: AtomicWaker::new(),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        runtime.spawn(Box::pin(accept_loop(
            Task::new(&shared),
            listener,
            Arc::new(tls),
            stop_rx,
        )));
        Server {
            local_addr,
            shared,
            connections,
            stop_accepting: Some(stop_tx),
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next accepted connection; `None` after the server has stopped accepting and every
    /// accepted connection was handed out.
    pub async fn next_connection(&mut self) -> Option<Connection<M>> {
        self.connections.next().await
    }

    /// The handle of the connection of `charge_point_id`, if it is connected.
    pub fn connection(&self, charge_point_id: &str) -> Option<Handle<M>> {
        self.shared
            .registry()
            .connected
            .get(charge_point_id)
            .map(|(_, handle)| handle.clone())
    }

    /// The ids of the connected charge points.
    pub fn connected_ids(&self) -> Vec<String> {
        self.shared.registry().connected.keys().cloned().collect()
    }

    /// A view of the connected charge points that can be kept apart from the server.
    pub fn connections(&self) -> Connections<M> {
        Connections {
            registry: Arc::clone(&self.shared.registry),
        }
    }

    /// Stops accepting, closes every connection with a close frame (1001, "server shutting
    /// down"), and returns once every connection (and every handshake in progress) has ended.
    pub async fn shutdown(mut self) {
        self.stop_accepting.take();
        {
            let mut registry = self.shared.registry();
            registry.shutting_down = true;
            for (_, handle) in registry.connected.values() {
                let _ = handle.close(CLOSE_GOING_AWAY, "server shutting down");
            }
        }
        poll_fn(|cx| {
            self.shared.tasks_ended.register(cx.waker());
            if self.shared.tasks.load(Ordering::Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

impl<M, R> Stream for Server<M, R>
where
    M: Machine,
{
    type Item = Connection<M>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Connection<M>>> {
        self.connections.poll_next_unpin(cx)
    }
}

async fn accept_loop<M, R, L, S, T>(
    shared: Task<M, R>,
    mut listener: L,
    tls: Arc<T>,
    mut stop: oneshot::Receiver<()>,
) where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
    L: Stream<Item = io::Result<(S, SocketAddr)>> + Unpin,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsAcceptor<S>,
{
    loop {
        match select(listener.next(), &mut stop).await {
            Either::Left((Some(Ok((stream, peer))), _)) => {
                // Opening (handshake, registration) on the heap, freed once the connection is
                // up, so that none of its state stays in the task for the connection's life.
                let opening = open_connection(Task::new(&shared.0), stream, peer, Arc::clone(&tls));
                let task = serve_connection(Box::pin(opening));
                shared.runtime.spawn(Box::pin(task));
            }
            Either::Left((Some(Err(_)), _)) => {
                // Accept errors are transient (a reset handshake, file descriptors exhausted);
                // pause briefly instead of spinning on them.
                shared.runtime.sleep(Duration::from_millis(50)).await;
            }
            Either::Left((None, _)) | Either::Right(_) => break,
        }
    }
}

/// What a completed handshake established.
struct Accepted<W> {
    ws: WsStream<W>,
    charge_point_id: String,
    version: Option<Version>,
    tls: Option<TlsInfo>,
}

/// TLS (if the profile uses it) and the WebSocket handshake, with the id, credential,
/// registry and subprotocol decisions of the [module docs](self); `None` if it failed (the
/// client got its HTTP answer, or nothing).
async fn handshake<M, R, S, T>(
    shared: &Shared<M, R>,
    stream: S,
    peer: SocketAddr,
    tls: &T,
) -> Option<Accepted<Either<S, T::Stream>>>
where
    M: Machine,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsAcceptor<S>,
{
    let config = &shared.config;
    let (stream, tls_info) = match config.security.tls_config() {
        Some(tls_config) => {
            let (stream, info) = tls.accept(stream, Arc::clone(tls_config)).await.ok()?;
            (Either::Right(stream), Some(info))
        }
        None => (Either::Left(stream), None),
    };
    let mut decided: Option<(String, Option<Version>)> = None;
    // tungstenite's `Callback` dictates the (large) error type.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| {
        let id = charge_point_id_from_path(request.uri().path())
            .map_err(|status| refusal(status, "no valid charge point id in the path"))?;
        let authorization = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        config
            .security
            .check(&id, authorization, peer, tls_info.as_ref())
            .map_err(security_refusal)?;
        {
            let registry = shared.registry();
            if registry.shutting_down {
                return Err(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server shutting down",
                ));
            }
            if config.duplicate_id == DuplicateId::Refuse && registry.connected.contains_key(&id) {
                return Err(refusal(
                    StatusCode::CONFLICT,
                    "this charge point is already connected",
                ));
            }
        }
        let version = choose_subprotocol(request, &config.versions);
        if let Some(version) = version {
            response.headers_mut().insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(version.subprotocol()),
            );
        }
        decided = Some((id, version));
        Ok(response)
    };
    let ws = ws::accept(stream, callback, &config.driver).await.ok()?;
    let (charge_point_id, version) = decided?;
    Some(Accepted {
        ws,
        charge_point_id,
        version,
        tls: tls_info,
    })
}

/// One connection's task: opens it, drives it, unregisters it.
async fn serve_connection<M, R, W>(opening: BoxFuture<'static, Option<Running<M, R, W>>>)
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
    W: WebSocket,
{
    let Some(mut running) = opening.await else {
        return;
    };
    // While the connection is up, this task holds the driver, the stream and the session
    // (a few words) and little else: see `Session`.
    poll_fn(|cx| {
        let Running {
            driver,
            ws,
            session,
            ..
        } = &mut running;
        session.poll(driver, ws, cx)
    })
    .await;
    let Running {
        shared,
        charge_point_id,
        serial,
        ..
    } = running;
    let mut registry = shared.registry();
    if registry
        .connected
        .get(&charge_point_id)
        .is_some_and(|(s, _)| *s == serial)
    {
        registry.connected.remove(&charge_point_id);
    }
}

/// What a connection's task holds while the connection is up.
struct Running<M: Machine, R, W> {
    driver: Driver<M, R>,
    ws: W,
    session: Session,
    shared: Task<M, R>,
    /// The id and serial it is registered under, to unregister it.
    charge_point_id: String,
    serial: u64,
}

/// Handshake and registration of one connection; `None` if it did not come up.
async fn open_connection<M, R, S, T>(
    shared: Task<M, R>,
    stream: S,
    peer: SocketAddr,
    tls: Arc<T>,
) -> Option<Running<M, R, impl WebSocket + Send + 'static>>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsAcceptor<S>,
{
    let config = &shared.config;
    let accepted = {
        // On the heap, and freed once it is done: its state (HTTP parsing, TLS) is as large as
        // everything an open connection keeps, and would otherwise stay in this task's
        // future for the connection's whole life.
        let handshake = Box::pin(handshake(&shared, stream, peer, &*tls));
        match select(handshake, shared.runtime.sleep(config.handshake_timeout)).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => None,
        }
    };
    let Accepted {
        mut ws,
        charge_point_id,
        version,
        tls,
    } = accepted?;
    let close_now = |code: u16, reason: &'static str| CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let Some(version) = version else {
        let frame = close_now(
            CLOSE_PROTOCOL_ERROR,
            "no supported OCPP subprotocol offered",
        );
        let closing = pin!(ws.close(Some(frame)));
        select(closing, shared.runtime.sleep(config.driver.close_timeout)).await;
        return None;
    };

    let info = ConnectionInfo {
        charge_point_id,
        version,
        peer,
        security_profile: config.security.profile(),
        tls,
    };
    let persister = (shared.persisters)(&info);
    let (driver, handle, events) = Driver::build(
        shared.runtime.clone(),
        |handle| (shared.factory)(&info, handle),
        persister,
        Arc::clone(&shared.driver_config),
    );
    let serial = {
        let mut registry = shared.registry();
        let refused = if registry.shutting_down {
            Some(close_now(CLOSE_GOING_AWAY, "server shutting down"))
        } else if config.duplicate_id == DuplicateId::Refuse
            && registry.connected.contains_key(&info.charge_point_id)
        {
            // Lost the race against a handshake of the same id that completed first.
            Some(close_now(
                CLOSE_POLICY_VIOLATION,
                "this charge point is already connected",
            ))
        } else {
            None
        };
        match refused {
            Some(frame) => Err(frame),
            None => {
                let serial = registry.next_serial;
                registry.next_serial += 1;
                let previous = registry
                    .connected
                    .insert(info.charge_point_id.clone(), (serial, handle.clone()));
                if let Some((_, previous)) = previous {
                    let _ = previous.close(CLOSE_NORMAL, "replaced by a new connection");
                }
                Ok(serial)
            }
        }
    };
    let serial = match serial {
        Ok(serial) => serial,
        Err(frame) => {
            let closing = pin!(ws.close(Some(frame)));
            select(closing, shared.runtime.sleep(config.driver.close_timeout)).await;
            return None;
        }
    };
    // Only the id stays with the task (to unregister it); the rest of the info goes.
    let charge_point_id = info.charge_point_id.clone();
    let _ = shared.connections.unbounded_send(Connection {
        info,
        handle,
        events,
    });
    Some(Running {
        driver,
        ws,
        session: Session::new(version),
        shared,
        charge_point_id,
        serial,
    })
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::SocketAddr;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use futures_util::future::{BoxFuture, pending};
    use futures_util::io::{AsyncRead, AsyncWrite};
    use ocpp_core::Version;
    use ocpp_core::rpc::{CounterIds, Endpoint, EndpointConfig};

    use super::*;
    use crate::driver::tests::Inert;

    /// A socket that never has anything to read and never accepts a write.
    struct Silent;

    impl AsyncRead for Silent {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Silent {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    struct NoTls;

    impl TlsAcceptor<Silent> for NoTls {
        type Stream = Silent;
        fn accept(
            &self,
            _: Silent,
            _: Arc<rustls::ServerConfig>,
        ) -> BoxFuture<'static, io::Result<(Silent, TlsInfo)>> {
            Box::pin(pending())
        }
    }

    /// Issue #7: an idle connection's task must stay small. Its future holds the driver (with
    /// the machine inline), the WebSocket stream and the connection's bookkeeping; anything
    /// more is state that every idle connection pays for.
    #[test]
    fn the_connection_future_holds_little_besides_the_driver_and_the_stream() {
        let endpoint = |_: &ConnectionInfo| {
            Endpoint::new(EndpointConfig::v16(), Box::new(CounterIds::default()))
        };
        let server = Server::start(
            Inert,
            ServerConfig::new([Version::V16]),
            SocketAddr::from(([127, 0, 0, 1], 0)),
            futures_util::stream::pending::<io::Result<(Silent, SocketAddr)>>(),
            NoTls,
            endpoint,
        );
        let opening = open_connection(
            Task::new(&server.shared),
            Silent,
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Arc::new(NoTls),
        );
        let future = serve_connection(Box::pin(opening));
        let driver = std::mem::size_of::<Driver<Endpoint, Inert>>();
        let ws = std::mem::size_of::<WsStream<Either<Silent, Silent>>>();
        let size = std::mem::size_of_val(&future);
        // Was 2,360 B besides the two before the connection loop was written by hand.
        assert!(
            size <= driver + ws + 120,
            "{size} B: {} B besides the driver ({driver} B) and the stream ({ws} B)",
            size - driver - ws
        );
    }
}
