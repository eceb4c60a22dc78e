//! The client side (Charge Point / Charging Station): connect, run, reconnect.
//!
//! A [`Client`] connects to `<endpoint URL>/<percent-encoded charge point id>` offering the
//! configured OCPP versions as WebSocket subprotocols, refuses a server that picks none or one
//! it did not offer, and runs the [`Driver`] over the connection. When the connection is lost
//! it reconnects with exponential back-off and random jitter (OCPP 2.0.1 part 4 section 5.3),
//! rebuilding nothing but the connection: the same machine instance goes on, told
//! `handle_disconnected` and later `handle_connected`. Commands keep working in between.
//!
//! The connection is secured as [`ClientConfig::security`] says (OCPP security profiles 0 to
//! 3, see [`crate::security`]): the profile fixes the URL scheme, the TLS settings and the
//! credentials, and the client never tries a lower profile. [`Client::reconfigure`] closes the
//! connection and reconnects with new settings (a new `AuthorizationKey`, a higher profile).

use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::error::{Error as WsError, ProtocolError, SubProtocolError};
use async_tungstenite::tungstenite::http::HeaderValue;
use async_tungstenite::tungstenite::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use futures_channel::oneshot;
use futures_util::future::{BoxFuture, Either, select};
use futures_util::io::{AsyncRead, AsyncWrite};
use ocpp_core::Version;
use ocpp_core::machine::Machine;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rustls::pki_types::ServerName;

use crate::driver::{CLOSE_NORMAL, Driver, DriverConfig, Event, Events, Handle};
use crate::persist::Persister;
use crate::runtime::Runtime;
use crate::security::{ClientSecurity, basic_authorization};
use crate::ws::{self, WsStream};

/// What RFC 3986 leaves unencoded in a path segment of an id: the unreserved characters.
const ID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The connection URL of a charge point: the endpoint URL, a `/`, and the id percent-encoded
/// as RFC 3986 requires for a path segment (OCPP-J 1.6 section 3.1.1, 2.0.1 part 4 section
/// 3.1.1). Every character but the unreserved ones is encoded, so an id may hold spaces,
/// slashes or any Unicode.
///
/// ```
/// assert_eq!(
///     ocpp_io::client::connection_url("ws://csms.example/ocpp/", "CP 1/A"),
///     "ws://csms.example/ocpp/CP%201%2FA"
/// );
/// ```
pub fn connection_url(endpoint: &str, charge_point_id: &str) -> String {
    format!(
        "{}/{}",
        endpoint.trim_end_matches('/'),
        utf8_percent_encode(charge_point_id, ID_ENCODE)
    )
}

/// Opens the byte stream a client speaks WebSocket over, and runs TLS over it; supplied by
/// the runtime adapter.
///
/// # Obligations
///
/// [`Connector::connect_tls`] runs a rustls client handshake with exactly the `config` given
/// (it is built by [`ClientSecurity`]: roots, versions, suites, client certificate) for
/// `server_name`, and returns the stream only once the handshake has completed; any failure
/// is an error, never the plain stream.
pub trait Connector: Send + Sync + 'static {
    /// The stream of one connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The stream of one TLS connection over a [`Connector::Stream`].
    type TlsStream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Opens a TCP connection to `host:port`.
    fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Self::Stream>>;
    /// Runs the TLS handshake over `stream` as a client of `server_name`.
    fn connect_tls(
        &self,
        stream: Self::Stream,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> BoxFuture<'static, io::Result<Self::TlsStream>>;
}

/// The stream of a client connection: plain or TLS.
pub type ClientStream<C> = Either<<C as Connector>::Stream, <C as Connector>::TlsStream>;

/// The reconnect schedule, as OCPP 2.0.1 defines it (part 4 section 5.3, configuration
/// variables `RetryBackOffWaitMinimum`, `RetryBackOffRandomRange`, `RetryBackOffRepeatTimes`).
///
/// Attempt `n` (0 for the first retry after a loss or failure) waits
/// `wait_minimum * 2^min(n, repeat_times)` plus a uniformly random time of at most
/// `random_range`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry. Default 5 s.
    pub wait_minimum: Duration,
    /// The largest random time added to every wait. Default 5 s.
    pub random_range: Duration,
    /// How many times the wait doubles before it stays put. Default 5.
    pub repeat_times: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            wait_minimum: Duration::from_secs(5),
            random_range: Duration::from_secs(5),
            repeat_times: 5,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt`, without the random part.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.min(self.repeat_times).min(31);
        self.wait_minimum.saturating_mul(1 << doublings)
    }

    /// The wait before attempt `attempt`, with a fresh random part.
    pub fn delay(&self, attempt: u32) -> Duration {
        let range = u64::try_from(self.random_range.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(fastrand::u64(0..=range));
        self.base_delay(attempt).saturating_add(jitter)
    }
}

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The OCPP-J endpoint URL of the server, `ws://host[:port][/path]` for security profiles
    /// 0 and 1, `wss://host[:port][/path]` for profiles 2 and 3; the charge point id is
    /// appended.
    pub url: String,
    /// The charge point's identity, as it appears (decoded) in the connection URL.
    pub charge_point_id: String,
    /// The versions offered, most preferred first.
    pub versions: Vec<Version>,
    /// The bound on opening the TCP connection plus the WebSocket handshake. Default 30 s.
    pub connect_timeout: Duration,
    /// The reconnect schedule; `None` ends the client after its first connection (or failed
    /// attempt).
    pub reconnect: Option<Backoff>,
    /// The security profile and its credentials. Default: profile 0 (no authentication).
    pub security: ClientSecurity,
    /// The driver's settings.
    pub driver: DriverConfig,
}

impl ClientConfig {
    /// A client of `url` as `charge_point_id`, offering `versions`, with the default timeouts
    /// and back-off.
    pub fn new(
        url: impl Into<String>,
        charge_point_id: impl Into<String>,
        versions: impl IntoIterator<Item = Version>,
    ) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            charge_point_id: charge_point_id.into(),
            versions: versions.into_iter().collect(),
            connect_timeout: Duration::from_secs(30),
            reconnect: Some(Backoff::default()),
            security: ClientSecurity::unsecured(),
            driver: DriverConfig::default(),
        }
    }

    /// This config with `security`.
    pub fn with_security(mut self, security: ClientSecurity) -> ClientConfig {
        self.security = security;
        self
    }

    /// Checks that the URL, the charge point id and the security profile fit together: a
    /// `ws://` URL for profiles 0 and 1, `wss://` for 2 and 3, a host, a non-empty id, and no
    /// `:` in the id when it is the Basic authentication user name (RFC 7617 section 2).
    pub fn validate(&self) -> Result<(), ConnectError> {
        target(&self.url, &self.charge_point_id, &self.security).map(|_| ())
    }
}

/// Where and how to connect: the request (without subprotocols), host, port, TLS name.
struct Target {
    request: async_tungstenite::tungstenite::handshake::client::Request,
    host: String,
    port: u16,
    server_name: Option<ServerName<'static>>,
}

fn target(url: &str, id: &str, security: &ClientSecurity) -> Result<Target, ConnectError> {
    let config_error = |message: String| Err(ConnectError::Config(message));
    if id.is_empty() {
        return config_error("the charge point id is empty".to_owned());
    }
    let profile = security.profile();
    if profile.uses_basic_auth() && id.contains(':') {
        return config_error(format!(
            "{profile} uses HTTP Basic authentication, whose user name (the charge point id) \
             cannot contain ':'"
        ));
    }
    let full = connection_url(url, id);
    let mut request = full
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
    let uri = request.uri();
    let (tls, default_port) = match uri.scheme_str() {
        Some("ws") => (false, 80),
        Some("wss") => (true, 443),
        _ => {
            return Err(ConnectError::InvalidUrl(format!(
                "{url}: not a ws:// or wss:// URL"
            )));
        }
    };
    if tls != profile.uses_tls() {
        let wanted = if profile.uses_tls() {
            "wss://"
        } else {
            "ws://"
        };
        return config_error(format!("{profile} needs a {wanted} URL, not {url}"));
    }
    let host = uri
        .host()
        .ok_or_else(|| ConnectError::InvalidUrl(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(default_port);
    let server_name = if tls {
        Some(
            ServerName::try_from(host.clone())
                .map_err(|e| ConnectError::InvalidUrl(format!("{url}: {e}")))?,
        )
    } else {
        None
    };
    if let Some(password) = security.password() {
        let mut value = HeaderValue::from_str(&basic_authorization(id, password.as_bytes()))
            .map_err(|e| ConnectError::Config(e.to_string()))?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(Target {
        request,
        host,
        port,
        server_name,
    })
}

/// Why a connection attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL with a host.
    InvalidUrl(String),
    /// The settings contradict each other (a `ws://` URL with security profile 2 or 3, a
    /// `wss://` URL with 0 or 1, ...). A client ends on it: retrying cannot help, and it
    /// never falls back to another profile.
    Config(String),
    /// TCP connection or I/O failure.
    Io(String),
    /// The TLS handshake failed: the server's certificate is not trusted or not for this
    /// host, no common TLS version or cipher suite, or the server refused our certificate.
    Tls(String),
    /// The server refused our credentials: HTTP 401 (Basic authentication) or 403.
    AuthenticationFailed {
        /// The HTTP status.
        status: u16,
    },
    /// The WebSocket handshake failed (including an HTTP error status from the server).
    Handshake(String),
    /// The server accepted none of the offered subprotocols.
    NoSubprotocol,
    /// The server picked a subprotocol that was not offered.
    UnexpectedSubprotocol(String),
    /// The connection plus handshake took longer than the connect timeout.
    TimedOut,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::InvalidUrl(e) => write!(f, "invalid URL: {e}"),
            ConnectError::Config(e) => write!(f, "invalid client configuration: {e}"),
            ConnectError::Io(e) => write!(f, "connection failed: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ConnectError::AuthenticationFailed { status } => {
                write!(
                    f,
                    "the server refused our credentials (HTTP status {status})"
                )
            }
            ConnectError::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            ConnectError::NoSubprotocol => {
                f.write_str("the server accepted none of the offered OCPP versions")
            }
            ConnectError::UnexpectedSubprotocol(p) => {
                write!(
                    f,
                    "the server picked subprotocol {p:?}, which was not offered"
                )
            }
            ConnectError::TimedOut => f.write_str("connecting timed out"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Opens one connection: TCP, TLS if the profile says so, then the WebSocket handshake
/// offering the configured versions (with the Basic credentials if the profile says so).
/// Returns the stream and the version the server picked.
pub async fn connect<R: Runtime, C: Connector>(
    runtime: &R,
    connector: &C,
    config: &ClientConfig,
) -> Result<(WsStream<ClientStream<C>>, Version), ConnectError> {
    let attempt = pin!(connect_unbounded(connector, config));
    match select(attempt, runtime.sleep(config.connect_timeout)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(ConnectError::TimedOut),
    }
}

async fn connect_unbounded<C: Connector>(
    connector: &C,
    config: &ClientConfig,
) -> Result<(WsStream<ClientStream<C>>, Version), ConnectError> {
    let Target {
        mut request,
        host,
        port,
        server_name,
    } = target(&config.url, &config.charge_point_id, &config.security)?;
    let offered: Vec<&str> = config.versions.iter().map(|v| v.subprotocol()).collect();
    let header = HeaderValue::from_str(&offered.join(", "))
        .map_err(|e| ConnectError::InvalidUrl(e.to_string()))?;
    request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, header);

    let stream = connector
        .connect(host, port)
        .await
        .map_err(|e| ConnectError::Io(e.to_string()))?;
    let stream = match (config.security.tls_config(), server_name) {
        (Some(tls), Some(server_name)) => Either::Right(
            connector
                .connect_tls(stream, Arc::clone(tls), server_name)
                .await
                .map_err(|e| {
                    if is_tls_error(&e) {
                        ConnectError::Tls(e.to_string())
                    } else {
                        ConnectError::Io(format!("during the TLS handshake: {e}"))
                    }
                })?,
        ),
        (None, None) => Either::Left(stream),
        _ => {
            return Err(ConnectError::Config(
                "the profile's TLS settings do not match the URL".to_owned(),
            ));
        }
    };
    let (ws, response) =
        ws::connect(request, stream, &config.driver)
            .await
            .map_err(|e| match e {
                WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(
                    SubProtocolError::NoSubProtocol,
                )) => ConnectError::NoSubprotocol,
                WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(other)) => {
                    ConnectError::UnexpectedSubprotocol(other.to_string())
                }
                // A server refusing our certificate says so with an alert after our side
                // of a TLS 1.3 handshake has completed: it surfaces on the first read.
                WsError::Io(e) if is_tls_error(&e) => ConnectError::Tls(e.to_string()),
                WsError::Io(e) => ConnectError::Io(e.to_string()),
                WsError::Http(response) => match response.status().as_u16() {
                    status @ (401 | 403) => ConnectError::AuthenticationFailed { status },
                    status => ConnectError::Handshake(format!("HTTP status {status}")),
                },
                other => ConnectError::Handshake(other.to_string()),
            })?;
    let chosen = response
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .ok_or(ConnectError::NoSubprotocol)?;
    let chosen = chosen.to_str().unwrap_or_default().trim();
    let version = Version::from_subprotocol(chosen)
        .filter(|v| config.versions.contains(v))
        .ok_or_else(|| ConnectError::UnexpectedSubprotocol(chosen.to_owned()))?;
    Ok((ws, version))
}

/// Whether an I/O error is a TLS failure (rustls reports them as I/O errors).
fn is_tls_error(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
}

/// New settings for a running client, carried to its loop by [`Client::reconfigure`].
pub(crate) struct Reconfiguration {
    url: Option<String>,
    security: ClientSecurity,
}

/// A running client: its machine is reached through [`Client::handle`], what happens comes
/// out of [`Client::events`], and [`Client::finished`] gives the machine back at the end.
///
/// Adapters start it (`ocpp_io_tokio::connect`, `ocpp_io_smol::connect`).
pub struct Client<M: Machine> {
    handle: Handle<M>,
    events: Events<M::Event>,
    done: oneshot::Receiver<M>,
    /// The URL and id the client uses, to check new settings against.
    target: Mutex<(String, String)>,
}

impl<M: Machine> std::fmt::Debug for Client<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl<M> Client<M>
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
{
    /// Starts the client's connect-run-reconnect loop on `runtime`.
    pub fn start<R: Runtime, C: Connector>(
        runtime: R,
        connector: C,
        config: ClientConfig,
        machine: M,
        persister: Box<dyn Persister>,
    ) -> Client<M> {
        let (driver, handle, events) =
            Driver::new(runtime.clone(), machine, persister, config.driver.clone());
        let (done_tx, done) = oneshot::channel();
        let target = Mutex::new((config.url.clone(), config.charge_point_id.clone()));
        let task = run(runtime.clone(), connector, config, driver);
        runtime.spawn(Box::pin(async move {
            let machine = task.await;
            let _ = done_tx.send(machine);
        }));
        Client {
            handle,
            events,
            done,
            target,
        }
    }

    /// Closes the current connection (1000, "security settings changed") and reconnects at
    /// once with `security` instead of the current settings, e.g. after a ChangeConfiguration
    /// of `AuthorizationKey` or `SecurityProfile` was accepted (White Paper A01, A05). Between
    /// connections it cuts the attempt or back-off in progress short. The URL stays.
    ///
    /// The new settings are checked first ([`ClientConfig::validate`]): if they do not fit
    /// the URL, nothing changes and the error says why. Moving to another profile usually
    /// changes the scheme (`ws://` to `wss://`): use [`Client::reconfigure_with_url`].
    pub fn reconfigure(&self, security: ClientSecurity) -> Result<(), ConnectError> {
        self.reconfigure_target(None, security)
    }

    /// [`Client::reconfigure`], connecting to `url` from now on.
    pub fn reconfigure_with_url(
        &self,
        url: impl Into<String>,
        security: ClientSecurity,
    ) -> Result<(), ConnectError> {
        self.reconfigure_target(Some(url.into()), security)
    }

    fn reconfigure_target(
        &self,
        url: Option<String>,
        security: ClientSecurity,
    ) -> Result<(), ConnectError> {
        let mut current = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        let new_url = url.as_deref().unwrap_or(&current.0);
        target(new_url, &current.1, &security)?;
        self.handle
            .reconnect(Box::new(Reconfiguration {
                url: url.clone(),
                security,
            }))
            .map_err(|_| ConnectError::Config("the client has ended".to_owned()))?;
        if let Some(url) = url {
            current.0 = url;
        }
        Ok(())
    }

    /// The handle to the machine.
    pub fn handle(&self) -> &Handle<M> {
        &self.handle
    }

    /// The event stream.
    pub fn events(&mut self) -> &mut Events<M::Event> {
        &mut self.events
    }

    /// The handle, the events and a future of the machine, to use apart.
    pub fn split(self) -> (Handle<M>, Events<M::Event>, BoxFuture<'static, Option<M>>) {
        let done = self.done;
        (
            self.handle,
            self.events,
            Box::pin(async move { done.await.ok() }),
        )
    }

    /// Waits until the client has ended and returns its machine (`None` if the runtime
    /// dropped the task).
    pub async fn finished(self) -> Option<M> {
        self.done.await.ok()
    }

    /// Closes the connection with `code` and `reason`, stops reconnecting, and returns the
    /// machine once the driver has ended.
    pub async fn close(self, code: u16, reason: &str) -> Option<M> {
        let _ = self.handle.close(code, reason);
        self.finished().await
    }
}

/// The connect-run-reconnect loop.
async fn run<M, R, C>(
    runtime: R,
    connector: C,
    mut config: ClientConfig,
    mut driver: Driver<M, R>,
) -> M
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
    C: Connector,
{
    let mut attempt: u32 = 0;
    loop {
        let outcome = driver
            .run_offline(connect(&runtime, &connector, &config))
            .await;
        if apply_reconfiguration(&mut driver, &mut config) {
            attempt = 0;
            continue;
        }
        let Some(outcome) = outcome else {
            break;
        };
        match outcome {
            Ok((ws, version)) => {
                attempt = 0;
                driver.run_ws_connection(ws, version).await;
                if driver.is_stopped() {
                    break;
                }
                if apply_reconfiguration(&mut driver, &mut config) {
                    continue;
                }
            }
            Err(error @ ConnectError::Config(_)) => {
                // Retrying the same settings cannot help, and no lower profile is tried.
                driver.emit(Event::ConnectFailed(error));
                break;
            }
            Err(error) => driver.emit(Event::ConnectFailed(error)),
        }
        let Some(backoff) = &config.reconnect else {
            break;
        };
        let delay = backoff.delay(attempt);
        driver.emit(Event::Reconnecting { attempt, delay });
        attempt = attempt.saturating_add(1);
        let slept = driver.run_offline(runtime.sleep(delay)).await;
        if apply_reconfiguration(&mut driver, &mut config) {
            attempt = 0;
            continue;
        }
        if slept.is_none() {
            break;
        }
    }
    driver.into_machine()
}

/// Takes the settings [`Client::reconfigure`] sent, if any; returns whether there were some.
fn apply_reconfiguration<M, R>(driver: &mut Driver<M, R>, config: &mut ClientConfig) -> bool
where
    M: Machine + Send + 'static,
    M::Event: Send + 'static,
    R: Runtime,
{
    if driver.is_stopped() {
        return false;
    }
    let Some(reconfiguration) = driver.take_reconfiguration() else {
        return false;
    };
    if let Some(url) = reconfiguration.url {
        config.url = url;
    }
    config.security = reconfiguration.security;
    true
}

/// The close frame of a connection closed by [`Client::reconfigure`].
pub(crate) const RECONFIGURED: (u16, &str) = (CLOSE_NORMAL, "security settings changed");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_percent_encoded_as_one_path_segment() {
        assert_eq!(
            connection_url("ws://h:1/ocpp", "CP-01_a.b~c"),
            "ws://h:1/ocpp/CP-01_a.b~c"
        );
        assert_eq!(
            connection_url("ws://h/", "a b/c%d?é"),
            "ws://h/a%20b%2Fc%25d%3F%C3%A9"
        );
    }

    #[test]
    fn backoff_doubles_up_to_repeat_times_then_stays() {
        // OCPP 2.0.1 part 4 section 5.3.
        let backoff = Backoff {
            wait_minimum: Duration::from_secs(3),
            random_range: Duration::from_millis(500),
            repeat_times: 2,
        };
        let base: Vec<u64> = (0..5).map(|n| backoff.base_delay(n).as_secs()).collect();
        assert_eq!(base, [3, 6, 12, 12, 12]);
        for n in 0..5 {
            let delay = backoff.delay(n);
            assert!(delay >= backoff.base_delay(n));
            assert!(delay <= backoff.base_delay(n) + Duration::from_millis(500));
        }
    }
}
