//! OCPP security profiles 1 to 3: HTTP Basic authentication, TLS, client certificates.
//!
//! The OCPP 1.6 Security White Paper (edition 3, chapter 2) and OCPP 2.0.1 part 2 block A
//! define three ways for a Charge Point and a Central System to authenticate each other:
//!
//! | profile | charge point authenticates with | server authenticates with | transport |
//! |---|---|---|---|
//! | 1 [`SecurityProfile::BasicAuth`] | HTTP Basic authentication | - | `ws://` |
//! | 2 [`SecurityProfile::TlsBasicAuth`] | HTTP Basic authentication | TLS server certificate | `wss://` |
//! | 3 [`SecurityProfile::TlsClientCertificate`] | TLS client certificate | TLS server certificate | `wss://` |
//!
//! Profile 0 ([`SecurityProfile::Unsecured`]) is plain `ws://` without authentication; it is
//! not one of the white paper's profiles and is meant for tests and closed networks.
//!
//! A client names its profile in [`ClientSecurity`], a server in [`ServerSecurity`]; both are
//! built here, runtime-neutrally, including the rustls configurations. The adapters only run
//! the TLS handshake (tokio-rustls, futures-rustls) with the configuration built here.
//!
//! # What is checked where
//!
//! On the **client** (Charge Point):
//!
//! - before connecting: the URL scheme matches the profile (`ws://` for 0 and 1, `wss://` for
//!   2 and 3; anything else is [`ConnectError::Config`](crate::ConnectError::Config), and the
//!   client ends: it never falls back to a lower profile, A00.FR.001/005); with Basic
//!   authentication the charge point id holds no `:` (RFC 7617 section 2);
//! - during the TLS handshake (rustls, [`WebPkiServerVerifier`](rustls::client::WebPkiServerVerifier)):
//!   the server's certificate chain up to one of the configured roots **only** (no system
//!   roots), its validity period, and that it is valid for the host of the URL (a DNS name or
//!   IP address in the certificate's subjectAltName, A00.FR.307/308); TLS 1.2 or 1.3 with one
//!   of [`cipher_suites`]. A failure is [`ConnectError::Tls`](crate::ConnectError::Tls) and the
//!   client retries with back-off, always over TLS;
//! - an HTTP 401 or 403 answer to the upgrade request is
//!   [`ConnectError::AuthenticationFailed`](crate::ConnectError::AuthenticationFailed), retried
//!   with back-off.
//!
//! On the **server** (Central System), in this order, before the WebSocket upgrade:
//!
//! 1. TLS (profiles 2 and 3): TLS 1.2 or 1.3 with one of [`cipher_suites`]; for profile 3 the
//!    client must present a certificate whose chain leads to one of the configured client
//!    roots (A00.FR.403/407), else the handshake fails and no HTTP is read;
//! 2. the charge point id is taken from the URL path (404 / 400 when there is none);
//! 3. profiles 1 and 2: an `Authorization: Basic` header must be present and well formed, its
//!    user name must equal the charge point id (A00.FR.204/303), and the [`Authenticator`] must
//!    allow the password; otherwise **401** with `WWW-Authenticate: Basic`;
//! 4. profile 3: the client certificate's subject must hold exactly one CN, equal to the
//!    charge point id (A00.FR.405; the white paper's A00.FR.511 puts the charge point's serial
//!    number in the CN, and that serial number is the identity the charge point connects
//!    with), then the [`Authenticator`], if one is set, must allow it; otherwise **403**. No
//!    Basic authentication is used in profile 3; an `Authorization` header is ignored;
//! 5. profile 0: the [`Authenticator`], if one is set, must allow the id; otherwise 403.
//!
//! # The Basic authentication password
//!
//! OCPP 1.6 stores the password in the `AuthorizationKey` configuration key as **hexadecimal
//! text** of the password bytes, and the bytes themselves are the password on the wire:
//! OCPP-J 1.6 section 6.2.2 says "The password is a 20-byte key that is stored on the charge
//! point", and its example, key `0001020304050607FFFFFFCCCCCCCCCCCC`, has a header whose base64
//! decodes to `AL1000:` followed by the bytes `00 01 02 ...`, not the hex digits; the OCPP-J
//! 1.6 errata (section 3.12) describe `AuthorizationKey` as the "Hexadecimal representation of
//! the password", and the White Paper's A00.FR.205 as "randomly generated binary ...
//! Hexadecimal represented". [`BasicAuthPassword::from_authorization_key`] therefore decodes
//! the hex. OCPP 2.0.1 changed this: its `BasicAuthPassword` "SHALL be sent as a UTF-8 encoded
//! string (NOT encoded into octet string or base64)" (part 2, A00.FR.205); use
//! [`BasicAuthPassword::from_utf8`] there. The server's [`Authenticator`] receives the bytes
//! as sent, so it can accept either form.
//!
//! # TLS versions and cipher suites
//!
//! Both sides use the `ring` crypto provider restricted to TLS 1.2 and 1.3 (A00.FR.312) and,
//! for TLS 1.2, to the ECDHE suites with AES-GCM of A00.FR.317/318 ([`TLS12_CIPHER_SUITES`]);
//! for TLS 1.3, to the suites rustls offers. The white paper also lists `TLS_RSA_WITH_AES_*_GCM`
//! (static RSA key exchange, no forward secrecy); rustls does not implement static RSA key
//! exchange, so RSA certificates are served with `TLS_ECDHE_RSA_WITH_AES_*_GCM` instead. TLS
//! 1.0/1.1, which the white paper allows for legacy charge points only, are not offered:
//! OCPP 2.0.1 forbids them and rustls does not implement them. rustls never uses TLS
//! compression (A00.FR.320).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, ProtocolVersion, RootCertStore, SupportedCipherSuite};

mod x509;

pub use x509::{MalformedCertificate, subject_common_names};

/// The OCPP security profile of a connection (White Paper section 2.1; 2.0.1 part 2 A00).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SecurityProfile {
    /// 0: plain `ws://`, no authentication. Not a white paper profile.
    #[default]
    Unsecured,
    /// 1: `ws://` with HTTP Basic authentication of the charge point.
    BasicAuth,
    /// 2: `wss://` (TLS, server certificate) with HTTP Basic authentication.
    TlsBasicAuth,
    /// 3: `wss://` with a TLS client certificate for the charge point.
    TlsClientCertificate,
}

impl SecurityProfile {
    /// The profile's number, as the `SecurityProfile` configuration key holds it.
    pub fn number(self) -> u8 {
        match self {
            SecurityProfile::Unsecured => 0,
            SecurityProfile::BasicAuth => 1,
            SecurityProfile::TlsBasicAuth => 2,
            SecurityProfile::TlsClientCertificate => 3,
        }
    }

    /// The profile with this number.
    pub fn from_number(number: u8) -> Option<SecurityProfile> {
        match number {
            0 => Some(SecurityProfile::Unsecured),
            1 => Some(SecurityProfile::BasicAuth),
            2 => Some(SecurityProfile::TlsBasicAuth),
            3 => Some(SecurityProfile::TlsClientCertificate),
            _ => None,
        }
    }

    /// Whether the profile runs over TLS (`wss://`).
    pub fn uses_tls(self) -> bool {
        self >= SecurityProfile::TlsBasicAuth
    }

    /// Whether the charge point authenticates with HTTP Basic authentication.
    pub fn uses_basic_auth(self) -> bool {
        matches!(
            self,
            SecurityProfile::BasicAuth | SecurityProfile::TlsBasicAuth
        )
    }
}

impl fmt::Display for SecurityProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "security profile {}", self.number())
    }
}

/// The password of HTTP Basic authentication, as the bytes that go on the wire.
///
/// Its `Debug` output does not show the password (White Paper A01.FR.12).
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuthPassword(Vec<u8>);

impl BasicAuthPassword {
    /// The password of an OCPP 1.6 `AuthorizationKey` value: the bytes its hexadecimal text
    /// stands for (see the [module docs](self#the-basic-authentication-password)).
    ///
    /// Refuses text that is empty, of odd length, or not hexadecimal. How long a key must be
    /// (the white paper asks 16 to 20 bytes) is the configuration's rule to enforce when the
    /// key is set.
    ///
    /// ```
    /// use ocpp_io::security::BasicAuthPassword;
    /// let password = BasicAuthPassword::from_authorization_key("0001FF").unwrap();
    /// assert_eq!(password.as_bytes(), [0x00, 0x01, 0xff]);
    /// assert!(BasicAuthPassword::from_authorization_key("0G").is_err());
    /// ```
    pub fn from_authorization_key(hex: &str) -> Result<BasicAuthPassword, InvalidAuthorizationKey> {
        let digits = hex.as_bytes();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(InvalidAuthorizationKey);
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        digits
            .chunks_exact(2)
            .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
            .collect::<Option<Vec<u8>>>()
            .map(BasicAuthPassword)
            .ok_or(InvalidAuthorizationKey)
    }

    /// The password of an OCPP 2.0.1 `BasicAuthPassword` variable: its UTF-8 text.
    pub fn from_utf8(password: impl Into<String>) -> BasicAuthPassword {
        BasicAuthPassword(password.into().into_bytes())
    }

    /// A password of these bytes.
    pub fn from_bytes(password: impl Into<Vec<u8>>) -> BasicAuthPassword {
        BasicAuthPassword(password.into())
    }

    /// The bytes sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for BasicAuthPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicAuthPassword(<redacted>)")
    }
}

/// An `AuthorizationKey` that is not an even number of hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidAuthorizationKey;

impl fmt::Display for InvalidAuthorizationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AuthorizationKey must be a non-empty, even number of hexadecimal digits")
    }
}

impl std::error::Error for InvalidAuthorizationKey {}

/// The value of the `Authorization` header of HTTP Basic authentication (RFC 7617):
/// `Basic ` and the base64 of the user name, a colon and the password bytes.
///
/// ```
/// use ocpp_io::security::basic_authorization;
/// // OCPP-J 1.6 section 6.2.2's example (the spec prints it with a typo, "QUwxxMDAw...").
/// let key = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xff, 0xff, 0xff];
/// assert_eq!(basic_authorization("AL1000", &key), "Basic QUwxMDAwOgABAgMEBQYH////");
/// ```
pub fn basic_authorization(user: &str, password: &[u8]) -> String {
    let mut credentials = Vec::with_capacity(user.len() + 1 + password.len());
    credentials.extend_from_slice(user.as_bytes());
    credentials.push(b':');
    credentials.extend_from_slice(password);
    format!("Basic {}", BASE64.encode(credentials))
}

/// The user name and password of an `Authorization: Basic` header value, split at the first
/// colon; `None` if it is not one (other scheme, bad base64, no colon).
pub(crate) fn parse_basic_authorization(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(token.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let password = decoded[colon + 1..].to_vec();
    let mut user = decoded;
    user.truncate(colon);
    Some((user, password))
}

/// The TLS 1.2 cipher suites offered and accepted (White Paper A00.FR.317/318, with ECDHE
/// key exchange for RSA certificates: see the [module docs](self#tls-versions-and-cipher-suites)).
pub const TLS12_CIPHER_SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// The TLS versions offered and accepted: 1.3 and 1.2.
pub const TLS_VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2];

/// The crypto provider both sides use: `ring`, with the TLS 1.2 suites cut down to
/// [`TLS12_CIPHER_SUITES`] and every TLS 1.3 suite of `ring`.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|suite| match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => TLS12_CIPHER_SUITES.contains(&suite.suite()),
    });
    Arc::new(provider)
}

/// Every cipher suite offered and accepted, in order of preference.
pub fn cipher_suites() -> Vec<CipherSuite> {
    crypto_provider()
        .cipher_suites
        .iter()
        .map(|suite| suite.suite())
        .collect()
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// A TLS setting that could not be built: a certificate, key or root that rustls refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfigError(String);

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid TLS configuration: {}", self.0)
    }
}

impl std::error::Error for TlsConfigError {}

fn tls_error(context: &str, error: impl fmt::Display) -> TlsConfigError {
    TlsConfigError(format!("{context}: {error}"))
}

fn root_store(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<RootCertStore, TlsConfigError> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store
            .add(root)
            .map_err(|e| tls_error("a root certificate", e))?;
    }
    if store.is_empty() {
        return Err(TlsConfigError("no root certificate given".to_owned()));
    }
    Ok(store)
}

fn client_tls(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<rustls::ClientConfig>, TlsConfigError> {
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| tls_error("protocol versions", e))?
        .with_root_certificates(root_store(roots)?);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls_error("the client certificate or key", e))?,
    };
    Ok(Arc::new(config))
}

/// How a client (Charge Point) secures its connection: its profile and what that profile
/// needs.
///
/// | profile | constructor | URL | needs |
/// |---|---|---|---|
/// | 0 | [`ClientSecurity::unsecured`] | `ws://` | nothing |
/// | 1 | [`ClientSecurity::basic_auth`] | `ws://` | the password |
/// | 2 | [`ClientSecurity::tls_basic_auth`] | `wss://` | the CA roots that sign the server's certificate, the password |
/// | 3 | [`ClientSecurity::tls_client_certificate`] | `wss://` | the CA roots, the charge point's certificate chain and private key |
///
/// The caller's obligations: the roots are the Central System's root certificates (the
/// `CentralSystemRootCertificate`s, White Paper M05), not the system's trust store; the
/// client certificate's subject CN is the charge point id used in the URL, which is what a
/// server of this crate checks; the password is the one the Central System holds for this
/// charge point id.
#[derive(Clone, Default)]
pub struct ClientSecurity {
    profile: SecurityProfile,
    password: Option<BasicAuthPassword>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientSecurity {
    /// Profile 0: plain `ws://`, no credentials. The default.
    pub fn unsecured() -> ClientSecurity {
        ClientSecurity::default()
    }

    /// Profile 1: `ws://` with HTTP Basic authentication (user name: the charge point id).
    pub fn basic_auth(password: BasicAuthPassword) -> ClientSecurity {
        ClientSecurity {
            profile: SecurityProfile::BasicAuth,
            password: Some(password),
            tls: None,
        }
    }

    /// Profile 2: `wss://`, the server's certificate verified against `roots` only, and HTTP
    /// Basic authentication.
    pub fn tls_basic_auth(
        roots: impl IntoIterator<Item = CertificateDer<'static>>,
        password: BasicAuthPassword,
    ) -> Result<ClientSecurity, TlsConfigError> {
        Ok(ClientSecurity {
            profile: SecurityProfile::TlsBasicAuth,
            password: Some(password),
            tls: Some(client_tls(roots, None)?),
        })
    }

    /// Profile 3: `wss://`, the server's certificate verified against `roots` only, and the
    /// charge point authenticated by `chain` (its certificate first, then any intermediates)
    /// and the matching private `key`.
    pub fn tls_client_certificate(
        roots: impl IntoIterator<Item = CertificateDer<'static>>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ClientSecurity, TlsConfigError> {
        Ok(ClientSecurity {
            profile: SecurityProfile::TlsClientCertificate,
            password: None,
            tls: Some(client_tls(roots, Some((chain, key)))?),
        })
    }

    /// The profile.
    pub fn profile(&self) -> SecurityProfile {
        self.profile
    }

    /// The Basic authentication password (profiles 1 and 2).
    pub fn password(&self) -> Option<&BasicAuthPassword> {
        self.password.as_ref()
    }

    /// The rustls configuration (profiles 2 and 3).
    pub fn tls_config(&self) -> Option<&Arc<rustls::ClientConfig>> {
        self.tls.as_ref()
    }
}

impl fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("profile", &self.profile)
            .field("password", &self.password)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// What the TLS handshake of a server connection established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The negotiated TLS version.
    pub version: Option<ProtocolVersion>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<CipherSuite>,
    /// The client's certificate chain, its own first (profile 3), verified by rustls against
    /// the client roots; empty without client authentication.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The server name the client asked for (SNI), if any.
    pub server_name: Option<String>,
}

impl TlsInfo {
    /// Reads what a completed server handshake established (adapters call this).
    pub fn of_server(connection: &rustls::ServerConnection) -> TlsInfo {
        TlsInfo {
            version: connection.protocol_version(),
            cipher_suite: connection.negotiated_cipher_suite().map(|s| s.suite()),
            peer_certificates: connection
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect())
                .unwrap_or_default(),
            server_name: connection.server_name().map(str::to_owned),
        }
    }
}

/// What an [`Authenticator`] decides about.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Credentials<'a> {
    /// The server's security profile.
    pub profile: SecurityProfile,
    /// The charge point id from the URL path (for profiles 1 and 2 already checked to equal
    /// the Basic user name; for profile 3 to equal the certificate's CN).
    pub charge_point_id: &'a str,
    /// The Basic authentication password, as sent (profiles 1 and 2).
    pub password: Option<&'a [u8]>,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The TLS session (profiles 2 and 3).
    pub tls: Option<&'a TlsInfo>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("profile", &self.profile)
            .field("charge_point_id", &self.charge_point_id)
            .field("password", &self.password.map(|_| "<redacted>"))
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .finish()
    }
}

/// An [`Authenticator`]'s decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let the connection in.
    Allow,
    /// Refuse it (HTTP 401 for profiles 1 and 2, 403 otherwise).
    Deny,
}

/// The server's credential check, run before the WebSocket upgrade.
///
/// The caller's obligations: answer quickly and without blocking (it runs on the connection's
/// task, inside the handshake timeout), so keep what it checks against in memory; compare
/// passwords in constant time and store only salted hashes (White Paper A01.FR.08); never log
/// the password (A01.FR.09). Closures `Fn(&Credentials) -> Verdict` are authenticators.
pub trait Authenticator: Send + Sync + 'static {
    /// Decides whether these credentials may connect.
    fn authenticate(&self, credentials: &Credentials<'_>) -> Verdict;
}

impl<F> Authenticator for F
where
    F: Fn(&Credentials<'_>) -> Verdict + Send + Sync + 'static,
{
    fn authenticate(&self, credentials: &Credentials<'_>) -> Verdict {
        self(credentials)
    }
}

/// How a server (Central System) secures its endpoint: one profile per endpoint (White Paper
/// A00.FR.001, A00.FR.006: serve several profiles on several ports).
///
/// | profile | constructor | needs |
/// |---|---|---|
/// | 0 | [`ServerSecurity::unsecured`] | nothing |
/// | 1 | [`ServerSecurity::basic_auth`] | an [`Authenticator`] of passwords |
/// | 2 | [`ServerSecurity::tls_basic_auth`] | the server's certificate chain and key, an [`Authenticator`] of passwords |
/// | 3 | [`ServerSecurity::tls_client_certificate`] | the server's certificate chain and key, the CA roots that sign charge point certificates |
///
/// The caller's obligations: the server certificate names the host the charge points connect
/// to in its subjectAltName (rustls clients check only that, not the CN); the client roots
/// sign only charge point certificates whose CN is the charge point id they connect with.
/// What is checked is listed in the [module docs](self#what-is-checked-where).
#[derive(Clone, Default)]
pub struct ServerSecurity {
    profile: SecurityProfile,
    authenticator: Option<Arc<dyn Authenticator>>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl ServerSecurity {
    /// Profile 0: plain `ws://`, no authentication. The default.
    pub fn unsecured() -> ServerSecurity {
        ServerSecurity::default()
    }

    /// Profile 1: `ws://`, HTTP Basic authentication decided by `authenticator`.
    pub fn basic_auth(authenticator: impl Authenticator) -> ServerSecurity {
        ServerSecurity {
            profile: SecurityProfile::BasicAuth,
            authenticator: Some(Arc::new(authenticator)),
            tls: None,
        }
    }

    /// Profile 2: `wss://` with this certificate `chain` (the server's first) and `key`, and
    /// HTTP Basic authentication decided by `authenticator`. No client certificate is asked
    /// for.
    pub fn tls_basic_auth(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        authenticator: impl Authenticator,
    ) -> Result<ServerSecurity, TlsConfigError> {
        let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| tls_error("protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls_error("the server certificate or key", e))?;
        Ok(ServerSecurity {
            profile: SecurityProfile::TlsBasicAuth,
            authenticator: Some(Arc::new(authenticator)),
            tls: Some(Arc::new(config)),
        })
    }

    /// Profile 3: `wss://` with this certificate `chain` and `key`; every client must present
    /// a certificate that chains to one of `client_roots` and whose CN is its charge point id.
    pub fn tls_client_certificate(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_roots: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<ServerSecurity, TlsConfigError> {
        let provider = crypto_provider();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(root_store(client_roots)?),
            Arc::clone(&provider),
        )
        .build()
        .map_err(|e| tls_error("the client roots", e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(VERSIONS)
            .map_err(|e| tls_error("protocol versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| tls_error("the server certificate or key", e))?;
        Ok(ServerSecurity {
            profile: SecurityProfile::TlsClientCertificate,
            authenticator: None,
            tls: Some(Arc::new(config)),
        })
    }

    /// Replaces the authenticator. For profiles 0 and 3 it is an additional check (e.g. an
    /// allow-list of ids, the certificate's organization, A00.FR.404, or its revocation,
    /// A00.FR.704); for profiles 1 and 2 it is the password check.
    pub fn with_authenticator(mut self, authenticator: impl Authenticator) -> ServerSecurity {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// The profile.
    pub fn profile(&self) -> SecurityProfile {
        self.profile
    }

    /// The rustls configuration (profiles 2 and 3).
    pub fn tls_config(&self) -> Option<&Arc<rustls::ServerConfig>> {
        self.tls.as_ref()
    }

    /// Checks a request's credentials (steps 3 to 5 of the [module docs](self#what-is-checked-where));
    /// the error is the HTTP status to refuse it with.
    pub(crate) fn check(
        &self,
        charge_point_id: &str,
        authorization: Option<&[u8]>,
        peer: SocketAddr,
        tls: Option<&TlsInfo>,
    ) -> Result<(), Refusal> {
        let decide = |password: Option<&[u8]>, refusal: Refusal| {
            let credentials = Credentials {
                profile: self.profile,
                charge_point_id,
                password,
                peer,
                tls,
            };
            match &self.authenticator {
                Some(authenticator) => match authenticator.authenticate(&credentials) {
                    Verdict::Allow => Ok(()),
                    Verdict::Deny => Err(refusal),
                },
                None if self.profile.uses_basic_auth() => Err(refusal),
                None => Ok(()),
            }
        };
        match self.profile {
            SecurityProfile::Unsecured => decide(None, Refusal::Forbidden),
            SecurityProfile::BasicAuth | SecurityProfile::TlsBasicAuth => {
                let Some((user, password)) = authorization.and_then(parse_basic_authorization)
                else {
                    return Err(Refusal::Unauthorized);
                };
                if user != charge_point_id.as_bytes() {
                    return Err(Refusal::Unauthorized);
                }
                decide(Some(&password), Refusal::Unauthorized)
            }
            SecurityProfile::TlsClientCertificate => {
                let leaf = tls
                    .and_then(|tls| tls.peer_certificates.first())
                    .ok_or(Refusal::Forbidden)?;
                match subject_common_names(leaf).as_deref() {
                    Ok([cn]) if cn == charge_point_id => decide(None, Refusal::Forbidden),
                    _ => Err(Refusal::Forbidden),
                }
            }
        }
    }
}

/// How the server refuses a request that failed [`ServerSecurity::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 401 with `WWW-Authenticate: Basic`: no, malformed or wrong Basic credentials.
    Unauthorized,
    /// 403: the TLS identity or the authenticator refused.
    Forbidden,
}

impl fmt::Debug for ServerSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSecurity")
            .field("profile", &self.profile)
            .field("authenticator", &self.authenticator.is_some())
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_numbers_round_trip() {
        for n in 0..4 {
            assert_eq!(SecurityProfile::from_number(n).unwrap().number(), n);
        }
        assert_eq!(SecurityProfile::from_number(4), None);
        assert!(!SecurityProfile::BasicAuth.uses_tls());
        assert!(SecurityProfile::TlsBasicAuth.uses_basic_auth());
        assert!(!SecurityProfile::TlsClientCertificate.uses_basic_auth());
    }

    /// OCPP-J 1.6 section 6.2.2: the password is the key's bytes, not its hex digits.
    #[test]
    fn the_authorization_key_is_sent_as_the_bytes_its_hex_stands_for() {
        let password =
            BasicAuthPassword::from_authorization_key("0001020304050607FFFFFFCCCCCCCCCCCC")
                .unwrap();
        assert_eq!(password.as_bytes().len(), 17);
        assert_eq!(password.as_bytes()[..4], [0, 1, 2, 3]);
        let header = basic_authorization("AL1000", password.as_bytes());
        assert!(header.starts_with("Basic QUwxMDAwOgABAgMEBQYH////"));
        for bad in ["", "0", "0g", "00 1"] {
            assert!(
                BasicAuthPassword::from_authorization_key(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_password_does_not_show_in_debug_output() {
        let password = BasicAuthPassword::from_utf8("secret-password-1");
        assert!(!format!("{password:?}").contains("secret"));
        let security = ClientSecurity::basic_auth(password);
        assert!(!format!("{security:?}").contains("secret"));
    }

    #[test]
    fn basic_headers_parse_back_and_split_at_the_first_colon() {
        let header = basic_authorization("CP-1", b"pa:ss\xff");
        let (user, password) = parse_basic_authorization(header.as_bytes()).unwrap();
        assert_eq!(user, b"CP-1");
        assert_eq!(password, b"pa:ss\xff");
        assert!(parse_basic_authorization(b"basic Q1AtMTpw").is_some());
        assert!(parse_basic_authorization(b"Bearer Q1AtMTpw").is_none());
        assert!(parse_basic_authorization(b"Basic !!!").is_none());
        // base64 of "CP-1" (no colon)
        assert!(parse_basic_authorization(b"Basic Q1AtMQ==").is_none());
    }

    /// A00.FR.317/318: TLS 1.2 only with the listed ECDHE AES-GCM suites; TLS 1.3 suites.
    #[test]
    fn only_the_white_paper_suites_are_offered_for_tls12() {
        let suites = cipher_suites();
        let tls12: Vec<_> = crypto_provider()
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .map(|s| s.suite())
            .collect();
        assert_eq!(tls12.len(), 4);
        for suite in &tls12 {
            assert!(TLS12_CIPHER_SUITES.contains(suite), "{suite:?}");
        }
        assert!(!suites.contains(&CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256));
        assert!(suites.contains(&CipherSuite::TLS13_AES_128_GCM_SHA256));
    }

    fn server_check(
        security: &ServerSecurity,
        id: &str,
        authorization: Option<String>,
    ) -> Result<(), Refusal> {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        security.check(id, authorization.as_deref().map(str::as_bytes), peer, None)
    }

    /// A00.FR.203/204/207: credentials present, user name = id, password checked.
    #[test]
    fn basic_auth_requires_the_id_as_user_and_the_right_password() {
        let security = ServerSecurity::basic_auth(|c: &Credentials<'_>| {
            if c.password == Some(b"right".as_slice()) {
                Verdict::Allow
            } else {
                Verdict::Deny
            }
        });
        let header = |user: &str, password: &[u8]| Some(basic_authorization(user, password));
        assert_eq!(
            server_check(&security, "CP-1", header("CP-1", b"right")),
            Ok(())
        );
        assert_eq!(
            server_check(&security, "CP-1", header("CP-1", b"wrong")),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            server_check(&security, "CP-1", header("CP-2", b"right")),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            server_check(&security, "CP-1", None),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            server_check(&security, "CP-1", Some("Basic %%%".to_owned())),
            Err(Refusal::Unauthorized)
        );
    }

    #[test]
    fn profile_3_without_a_client_certificate_is_refused() {
        let security = ServerSecurity {
            profile: SecurityProfile::TlsClientCertificate,
            authenticator: None,
            tls: None,
        };
        assert_eq!(
            server_check(&security, "CP-1", None),
            Err(Refusal::Forbidden)
        );
    }
}
