//! Security profile scenarios (OCPP 1.6 Security White Paper chapter 2; 2.0.1 part 2 A00),
//! written once against the runtime-neutral types and run on every pairing of adapters.
//! Certificates are generated at test time with rcgen; everything runs on 127.0.0.1.

use std::future::Future;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ocpp_core::rpc::Endpoint;
use ocpp_io::rustls;
use ocpp_io::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use ocpp_io::security::{TLS12_CIPHER_SUITES, basic_authorization, crypto_provider};
use ocpp_io::{
    BasicAuthPassword, Client, ClientConfig, ClientSecurity, ConnectError, Connector, Credentials,
    Disconnect, Event, Runtime, SecurityProfile, Server, ServerConfig, ServerSecurity, Verdict,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use super::{calls_both_ways, client_config, server_config};

/// What a scenario needs of an adapter: a server, a client, its connector.
pub trait Adapter {
    /// The adapter's runtime.
    type Runtime: Runtime;
    /// The adapter's client connector.
    type Connector: Connector;
    /// A server on 127.0.0.1, port 0, with RPC endpoints.
    fn bind(config: ServerConfig) -> impl Future<Output = Server<Endpoint, Self::Runtime>>;
    /// A client with an RPC endpoint.
    fn connect(config: ClientConfig) -> Client<Endpoint>;
    /// The connector the client uses.
    fn connector() -> Self::Connector;
}

/// The smol adapter (available to both test crates).
pub struct SmolAdapter;

impl Adapter for SmolAdapter {
    type Runtime = ocpp_io_smol::Smol;
    type Connector = ocpp_io_smol::SmolConnector;

    async fn bind(config: ServerConfig) -> Server<Endpoint, ocpp_io_smol::Smol> {
        ocpp_io_smol::bind("127.0.0.1:0", config, |_| super::endpoint())
            .await
            .unwrap()
    }
    fn connect(config: ClientConfig) -> Client<Endpoint> {
        ocpp_io_smol::connect(config, super::endpoint())
    }
    fn connector() -> ocpp_io_smol::SmolConnector {
        ocpp_io_smol::SmolConnector
    }
}

/// A certificate authority of the test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Test CPO");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    pub fn root(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    fn issue(
        &self,
        names: &[&str],
        cn: &str,
        usage: ExtendedKeyUsagePurpose,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Test CPO");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (vec![cert.der().clone()], PrivateKeyDer::from(key))
    }

    /// A Central System certificate for 127.0.0.1 (A00.FR.510).
    pub fn server_cert(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        self.issue(
            &["127.0.0.1"],
            "127.0.0.1",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A certificate for another host name only.
    pub fn other_host_cert(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        self.issue(
            &["csms.example"],
            "csms.example",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A Charge Point certificate with this CN (A00.FR.511), no subjectAltName.
    pub fn client_cert(&self, cn: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        self.issue(&[], cn, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

pub const PASSWORD: &str = "0123456789ABCDEF0123456789ABCDEF01234567";

pub fn password() -> BasicAuthPassword {
    BasicAuthPassword::from_authorization_key(PASSWORD).unwrap()
}

/// The Central System's password check: CP-1 with [`PASSWORD`]'s bytes, or `also`.
pub fn check_password(also: Option<&'static [u8]>) -> impl Fn(&Credentials<'_>) -> Verdict {
    let expected = password();
    move |credentials: &Credentials<'_>| {
        let ok = credentials.charge_point_id == "CP-1"
            && (credentials.password == Some(expected.as_bytes())
                || (also.is_some() && credentials.password == also));
        if ok { Verdict::Allow } else { Verdict::Deny }
    }
}

fn tls_url(addr: SocketAddr) -> String {
    format!("wss://{addr}/ocpp")
}

/// A client config that does not retry (one attempt, one report).
fn one_shot(config: ClientConfig) -> ClientConfig {
    ClientConfig {
        reconnect: None,
        ..config
    }
}

/// The first `ConnectFailed` of a client; the client must not have connected before it.
async fn connect_failure(client: &mut Client<Endpoint>) -> ConnectError {
    loop {
        match client.events().next().await.expect("the events ended") {
            Event::ConnectFailed(error) => return error,
            Event::Connected { .. } => panic!("the client connected"),
            _ => continue,
        }
    }
}

/// Ends a client and a server that did not connect to each other.
async fn refused<R: Runtime>(client: Client<Endpoint>, server: Server<Endpoint, R>) {
    assert!(client.finished().await.is_some());
    assert!(server.connected_ids().is_empty());
    server.shutdown().await;
}

async fn round_trip<R: Runtime>(mut server: Server<Endpoint, R>, mut client: Client<Endpoint>) {
    calls_both_ways(&mut server, &mut client).await;
    client.close(1000, "done").await.unwrap();
    server.shutdown().await;
}

/// Profile 1 (A00.FR.202-205): Basic authentication over ws://, the right password.
pub async fn profile_1_connects_with_the_right_password<S: Adapter, C: Adapter>() {
    let security = ServerSecurity::basic_auth(check_password(None));
    let server = S::bind(server_config().with_security(security)).await;
    let config = client_config(server.local_addr(), "CP-1")
        .with_security(ClientSecurity::basic_auth(password()));
    round_trip(server, C::connect(config)).await;
}

/// Profile 2 (A00.FR.301-311): TLS with the server certificate verified against the
/// configured root, and Basic authentication.
pub async fn profile_2_connects_over_tls_with_the_right_password<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let (chain, key) = ca.server_cert();
    let security = ServerSecurity::tls_basic_auth(chain, key, check_password(None)).unwrap();
    let mut server = S::bind(server_config().with_security(security)).await;
    let mut config = client_config(server.local_addr(), "CP-1");
    config.url = tls_url(server.local_addr());
    let config =
        config.with_security(ClientSecurity::tls_basic_auth([ca.root()], password()).unwrap());
    let mut client = C::connect(config);
    calls_both_ways(&mut server, &mut client).await;
    client.close(1000, "done").await.unwrap();
    server.shutdown().await;
}

/// Profile 3 (A00.FR.401-405): TLS with a client certificate whose CN is the charge point id;
/// the server sees the certificate and the TLS session.
pub async fn profile_3_connects_with_a_client_certificate<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let (chain, key) = ca.server_cert();
    let security = ServerSecurity::tls_client_certificate(chain, key, [ca.root()]).unwrap();
    let mut server = S::bind(server_config().with_security(security)).await;
    let (client_chain, client_key) = ca.client_cert("CP-3");
    let mut config = client_config(server.local_addr(), "CP-3");
    config.url = tls_url(server.local_addr());
    let config = config.with_security(
        ClientSecurity::tls_client_certificate([ca.root()], client_chain.clone(), client_key)
            .unwrap(),
    );
    let mut client = C::connect(config);
    let mut connection = server.next_connection().await.expect("no connection");
    assert_eq!(connection.info.charge_point_id, "CP-3");
    assert_eq!(
        connection.info.security_profile,
        SecurityProfile::TlsClientCertificate
    );
    let tls = connection.info.tls.clone().expect("no TLS info");
    assert_eq!(tls.peer_certificates, client_chain);
    assert_eq!(tls.version, Some(rustls::ProtocolVersion::TLSv1_3));
    // The remaining traffic, both ways, on this connection.
    assert!(matches!(
        super::next_link_event(client.events()).await,
        Event::Connected { .. }
    ));
    let _ = client
        .handle()
        .run(|ep, now| {
            ep.call(
                now,
                ocpp_core::v16::Action::Heartbeat,
                serde_json::json!({}),
            )
        })
        .await
        .unwrap()
        .unwrap();
    super::answer_next(
        &mut connection,
        "Heartbeat",
        serde_json::json!({"currentTime": "2025-01-01T00:00:00Z"}),
    )
    .await;
    super::completed(client.events(), "Heartbeat").await;
    client.close(1000, "done").await.unwrap();
    server.shutdown().await;
}

/// A01.FR.03 / A00.FR.207: a wrong password is answered 401; the client reports an
/// authentication failure and retries on the back-off schedule, not in a tight loop.
pub async fn a_wrong_password_is_refused_with_401_and_backoff<S: Adapter, C: Adapter>() {
    let security = ServerSecurity::basic_auth(check_password(None));
    let server = S::bind(server_config().with_security(security)).await;
    let config = client_config(server.local_addr(), "CP-1").with_security(
        ClientSecurity::basic_auth(BasicAuthPassword::from_authorization_key("00FF").unwrap()),
    );
    let backoff = config.reconnect.clone().unwrap();
    let mut client = C::connect(config);
    for attempt in 0..3 {
        assert_eq!(
            connect_failure(&mut client).await,
            ConnectError::AuthenticationFailed { status: 401 }
        );
        match client.events().next().await {
            Some(Event::Reconnecting { attempt: n, delay }) => {
                assert_eq!(n, attempt);
                assert!(delay >= backoff.base_delay(attempt), "{delay:?}");
            }
            other => panic!("expected a back-off, got {other:?}"),
        }
    }
    client.close(1000, "done").await;
    assert!(server.connected_ids().is_empty());
    server.shutdown().await;
}

/// A00.FR.203: a client without credentials is refused by a profile 1 server (401).
pub async fn missing_credentials_are_refused_with_401<S: Adapter, C: Adapter>() {
    let security = ServerSecurity::basic_auth(check_password(None));
    let server = S::bind(server_config().with_security(security)).await;
    let mut client = C::connect(one_shot(client_config(server.local_addr(), "CP-1")));
    assert_eq!(
        connect_failure(&mut client).await,
        ConnectError::AuthenticationFailed { status: 401 }
    );
    refused(client, server).await;
}

/// Sends `request` on a plain TCP connection to `addr` and returns what the server answers:
/// an HTTP head up to its blank line, or the first bytes of anything else, or what came
/// before the server closed or 5 s passed (a std thread, so it works under any executor).
pub async fn raw_exchange(addr: SocketAddr, request: Vec<u8>) -> Vec<u8> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::spawn(move || {
        let exchange = || -> std::io::Result<Vec<u8>> {
            let mut stream = std::net::TcpStream::connect(addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(&request)?;
            let mut answer = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => return Ok(answer),
                    Ok(n) => {
                        answer.extend_from_slice(&buffer[..n]);
                        let http = answer.starts_with(b"HTTP/");
                        if !http || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                            return Ok(answer);
                        }
                    }
                }
            }
        };
        let _ = tx.send(exchange().unwrap_or_default());
    });
    rx.await.unwrap()
}

fn upgrade_request(addr: SocketAddr, path: &str, authorization: Option<String>) -> Vec<u8> {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: ocpp1.6\r\n"
    );
    if let Some(authorization) = authorization {
        request.push_str(&format!("Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// A00.FR.204 and RFC 7235: the user name must be the id of the path, and a 401 asks for
/// Basic authentication; the right request is upgraded.
pub async fn the_user_name_must_be_the_id_of_the_path<S: Adapter>() {
    let security = ServerSecurity::basic_auth(|_: &Credentials<'_>| Verdict::Allow);
    let server = S::bind(server_config().with_security(security)).await;
    let addr = server.local_addr();
    let answer = |user: &str, authorization: bool| {
        let header = authorization.then(|| basic_authorization(user, b"password"));
        raw_exchange(addr, upgrade_request(addr, "/ocpp/CP-1", header))
    };
    let wrong_user = String::from_utf8(answer("CP-2", true).await).unwrap();
    assert!(wrong_user.starts_with("HTTP/1.1 401"), "{wrong_user}");
    assert!(
        wrong_user
            .to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{wrong_user}"
    );
    let missing = String::from_utf8(answer("CP-1", false).await).unwrap();
    assert!(missing.starts_with("HTTP/1.1 401"), "{missing}");
    let right = String::from_utf8(answer("CP-1", true).await).unwrap();
    assert!(right.starts_with("HTTP/1.1 101"), "{right}");
    server.shutdown().await;
}

/// A00.FR.307/309/310: a server certificate from a CA the client was not given is refused,
/// and so is one for another host (A00.FR.308).
pub async fn an_untrusted_or_misnamed_server_certificate_is_refused<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let stranger = Ca::new("Unknown root");
    for (chain, key) in [stranger.server_cert(), ca.other_host_cert()] {
        let security = ServerSecurity::tls_basic_auth(chain, key, check_password(None)).unwrap();
        let server = S::bind(server_config().with_security(security)).await;
        let mut config = one_shot(client_config(server.local_addr(), "CP-1"));
        config.url = tls_url(server.local_addr());
        let config =
            config.with_security(ClientSecurity::tls_basic_auth([ca.root()], password()).unwrap());
        let mut client = C::connect(config);
        match connect_failure(&mut client).await {
            ConnectError::Tls(_) => {}
            other => panic!("expected a TLS failure, got {other:?}"),
        }
        refused(client, server).await;
    }
}

/// A00.FR.405: a valid client certificate of another station is refused (403).
pub async fn a_client_certificate_of_another_station_is_refused<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let (chain, key) = ca.server_cert();
    let security = ServerSecurity::tls_client_certificate(chain, key, [ca.root()]).unwrap();
    let server = S::bind(server_config().with_security(security)).await;
    let (client_chain, client_key) = ca.client_cert("CP-OTHER");
    let mut config = one_shot(client_config(server.local_addr(), "CP-3"));
    config.url = tls_url(server.local_addr());
    let config = config.with_security(
        ClientSecurity::tls_client_certificate([ca.root()], client_chain, client_key).unwrap(),
    );
    let mut client = C::connect(config);
    assert_eq!(
        connect_failure(&mut client).await,
        ConnectError::AuthenticationFailed { status: 403 }
    );
    refused(client, server).await;
}

/// A00.FR.403/407: a client certificate from an unknown CA fails the TLS handshake.
pub async fn a_client_certificate_from_an_unknown_ca_is_refused<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let stranger = Ca::new("Unknown root");
    let (chain, key) = ca.server_cert();
    let security = ServerSecurity::tls_client_certificate(chain, key, [ca.root()]).unwrap();
    let server = S::bind(server_config().with_security(security)).await;
    let (client_chain, client_key) = stranger.client_cert("CP-3");
    let mut config = one_shot(client_config(server.local_addr(), "CP-3"));
    config.url = tls_url(server.local_addr());
    let config = config.with_security(
        ClientSecurity::tls_client_certificate([ca.root()], client_chain, client_key).unwrap(),
    );
    let mut client = C::connect(config);
    match connect_failure(&mut client).await {
        ConnectError::Tls(_) => {}
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    refused(client, server).await;
}

/// A TLS 1.1 ClientHello offering only TLS_RSA_WITH_AES_128_CBC_SHA, by hand (rustls cannot
/// send one).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x02];
    record.extend_from_slice(&u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// A00.FR.312/314, A00.FR.317/319: the server negotiates neither TLS 1.1 nor a TLS 1.2 suite
/// outside the white paper's list; a listed suite works.
pub async fn weak_tls_versions_and_suites_are_not_negotiated<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let (chain, key) = ca.server_cert();
    let security = ServerSecurity::tls_basic_auth(chain, key, check_password(None)).unwrap();
    let server = S::bind(server_config().with_security(security)).await;
    let addr = server.local_addr();

    // TLS 1.1: the first record back is an alert (content type 21), not a ServerHello.
    let answer = raw_exchange(addr, tls11_client_hello()).await;
    assert_eq!(answer.first(), Some(&0x15), "{answer:?}");

    // TLS 1.2 with one suite each: ECDHE-ECDSA-CHACHA20 (not listed) fails, AES-GCM works.
    let handshake = |suite: rustls::CipherSuite| {
        let mut provider = (*crypto_provider()).clone();
        provider.cipher_suites = rustls::crypto::ring::ALL_CIPHER_SUITES
            .iter()
            .filter(|s| s.suite() == suite)
            .copied()
            .collect();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.root()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = C::connector();
        async move {
            let stream = connector
                .connect("127.0.0.1".to_owned(), addr.port())
                .await
                .unwrap();
            let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
            connector
                .connect_tls(stream, Arc::new(config), name)
                .await
                .map(|_| ())
        }
    };
    let weak = handshake(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256).await;
    assert!(weak.is_err(), "a suite outside the list was negotiated");
    let listed = handshake(TLS12_CIPHER_SUITES[0]).await;
    assert!(listed.is_ok(), "{listed:?}");
    assert!(server.connected_ids().is_empty());
    server.shutdown().await;
}

/// A00.FR.001/005: a ws:// URL with profile 2 (or wss:// with profile 1) is a configuration
/// error; the client ends without trying plain text.
pub async fn a_url_that_contradicts_the_profile_is_a_configuration_error<S: Adapter, C: Adapter>() {
    let ca = Ca::new("CPO root");
    let server = S::bind(server_config()).await;
    // ws:// with profile 2; the config has a back-off, which is not used.
    let config = client_config(server.local_addr(), "CP-1")
        .with_security(ClientSecurity::tls_basic_auth([ca.root()], password()).unwrap());
    assert!(matches!(config.validate(), Err(ConnectError::Config(_))));
    let mut client = C::connect(config);
    assert!(matches!(
        connect_failure(&mut client).await,
        ConnectError::Config(_)
    ));
    assert!(client.finished().await.is_some());
    // wss:// with profile 1.
    let mut config = client_config(server.local_addr(), "CP-1")
        .with_security(ClientSecurity::basic_auth(password()));
    config.url = tls_url(server.local_addr());
    assert!(matches!(config.validate(), Err(ConnectError::Config(_))));
    assert!(server.connected_ids().is_empty());
    server.shutdown().await;
}

/// White Paper A01 (new AuthorizationKey) and A05 (higher profile): `Client::reconfigure`
/// closes the connection and reconnects with the new settings; settings that contradict the
/// URL are refused and change nothing.
pub async fn reconfigure_reconnects_with_the_new_settings<S: Adapter, C: Adapter>() {
    const NEW: &[u8] = b"the new password";
    let security = ServerSecurity::basic_auth(check_password(Some(NEW)));
    let mut server = S::bind(server_config().with_security(security)).await;
    let config = client_config(server.local_addr(), "CP-1")
        .with_security(ClientSecurity::basic_auth(password()));
    let mut client = C::connect(config);
    let _first = server.next_connection().await.unwrap();
    assert!(matches!(
        super::next_link_event(client.events()).await,
        Event::Connected { .. }
    ));

    let ca = Ca::new("CPO root");
    let wrong = ClientSecurity::tls_basic_auth([ca.root()], password()).unwrap();
    assert!(matches!(
        client.reconfigure(wrong),
        Err(ConnectError::Config(_))
    ));

    client
        .reconfigure(ClientSecurity::basic_auth(BasicAuthPassword::from_bytes(
            NEW,
        )))
        .unwrap();
    match super::next_link_event(client.events()).await {
        Event::Disconnected(Disconnect::Application(close)) => {
            assert_eq!(close.code, 1000);
            assert_eq!(close.reason, "security settings changed");
        }
        other => panic!("expected the reconfiguration's close, got {other:?}"),
    }
    let second = server.next_connection().await.unwrap();
    assert_eq!(second.info.charge_point_id, "CP-1");
    assert!(matches!(
        super::next_link_event(client.events()).await,
        Event::Connected { .. }
    ));

    // Upgrade to profile 2 on another endpoint of the Central System (A00.FR.006).
    let (chain, key) = ca.server_cert();
    let tls_security =
        ServerSecurity::tls_basic_auth(chain, key, check_password(Some(NEW))).unwrap();
    let mut tls_server = S::bind(server_config().with_security(tls_security)).await;
    let upgraded =
        ClientSecurity::tls_basic_auth([ca.root()], BasicAuthPassword::from_bytes(NEW)).unwrap();
    client
        .reconfigure_with_url(tls_url(tls_server.local_addr()), upgraded)
        .unwrap();
    let third = tls_server.next_connection().await.unwrap();
    assert_eq!(third.info.security_profile, SecurityProfile::TlsBasicAuth);
    assert!(third.info.tls.is_some());
    client.close(1000, "done").await.unwrap();
    tls_server.shutdown().await;
    server.shutdown().await;
}

/// A client that fails authentication is brought in by a reconfiguration during its
/// back-off, without waiting for the back-off to end.
pub async fn reconfigure_cuts_a_backoff_short<S: Adapter, C: Adapter>() {
    let security = ServerSecurity::basic_auth(check_password(None));
    let mut server = S::bind(server_config().with_security(security)).await;
    let mut config = client_config(server.local_addr(), "CP-1").with_security(
        ClientSecurity::basic_auth(BasicAuthPassword::from_utf8("wrong")),
    );
    config.reconnect = Some(ocpp_io::Backoff {
        wait_minimum: Duration::from_secs(600),
        random_range: Duration::ZERO,
        repeat_times: 0,
    });
    let mut client = C::connect(config);
    assert_eq!(
        connect_failure(&mut client).await,
        ConnectError::AuthenticationFailed { status: 401 }
    );
    assert!(matches!(
        client.events().next().await,
        Some(Event::Reconnecting { .. })
    ));
    client
        .reconfigure(ClientSecurity::basic_auth(password()))
        .unwrap();
    let connection = server.next_connection().await.unwrap();
    assert_eq!(connection.info.security_profile, SecurityProfile::BasicAuth);
    client.close(1000, "done").await.unwrap();
    server.shutdown().await;
}
