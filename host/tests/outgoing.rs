//! The host's outgoing HTTP client against real sockets on 127.0.0.1: the
//! bound on every step (connect with TLS, first byte, between bytes, overall),
//! the address rule after DNS, the size cap, TLS errors, and the keep-alive
//! pool. Every server here listens on 127.0.0.1 and no test ever connects
//! anywhere else; addresses outside this machine are only classified.
//!
//! Timings are never asserted precisely: a request must merely return within
//! [`GUARD`], so that a regression fails instead of hanging.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use rooms_sync_host::http_policy::{
    AddressClass, AddressRule, ConnectionPool, HttpLimits, HttpPolicy, PolicyHooks, PoolConfig,
    PoolStats, classify,
};
use rooms_sync_host::log::{LogSink, MemoryLog};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasmtime_wasi_http::{Error as HttpError, WasiBody, WasiHttpHooks};

/// Longer than any request here may take.
const GUARD: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Address classification (no sockets)

fn class_of(ip: &str) -> AddressClass {
    classify(IpAddr::from_str(ip).unwrap()).class
}

#[test]
fn every_special_ipv4_range_is_classified() {
    use AddressClass::*;
    let cases = [
        ("0.0.0.0", Unspecified),
        ("0.1.2.3", Unspecified),
        ("10.0.0.1", Private),
        ("10.255.255.255", Private),
        ("100.64.0.1", Shared),
        ("100.127.255.254", Shared),
        ("127.0.0.1", Loopback),
        ("127.255.0.9", Loopback),
        ("169.254.169.254", LinkLocal),
        ("169.254.0.1", LinkLocal),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.0.0.8", Reserved),
        ("192.0.2.10", Documentation),
        ("192.88.99.1", Reserved),
        ("192.168.1.1", Private),
        ("198.18.0.1", Benchmarking),
        ("198.19.255.255", Benchmarking),
        ("198.51.100.7", Documentation),
        ("203.0.113.9", Documentation),
        ("224.0.0.1", Multicast),
        ("239.255.255.250", Multicast),
        ("240.0.0.1", Reserved),
        ("255.255.255.255", Broadcast),
    ];
    for (ip, class) in cases {
        assert_eq!(class_of(ip), class, "{ip}");
    }
}

#[test]
fn the_edges_of_the_ipv4_ranges_are_public() {
    for ip in [
        "1.1.1.1",
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "52.96.0.1",
    ] {
        assert_eq!(class_of(ip), AddressClass::Public, "{ip}");
    }
}

#[test]
fn every_special_ipv6_range_is_classified() {
    use AddressClass::*;
    let cases = [
        ("::", Unspecified),
        ("::1", Loopback),
        ("fe80::1", LinkLocal),
        ("febf:ffff::1", LinkLocal),
        ("fc00::1", UniqueLocal),
        ("fd12:3456::1", UniqueLocal),
        ("fec0::1", Private),
        ("ff02::1", Multicast),
        ("ff0e::1", Multicast),
        ("2001:db8::1", Documentation),
        ("3fff::1", Documentation),
        ("2001:2::1", Benchmarking),
        ("2001::1", Reserved),
        ("2001:10::1", Reserved),
        ("2001:20::1", Reserved),
        ("100::1", Reserved),
        ("5f00::1", Reserved),
        ("64:ff9b:1::a00:1", Private),
    ];
    for (ip, class) in cases {
        assert_eq!(class_of(ip), class, "{ip}");
    }
    for ip in ["2603:1026::1", "2620:1ec::1", "2001:4860::8888", "fe00::1"] {
        assert_eq!(class_of(ip), Public, "{ip}");
    }
}

#[test]
fn ipv6_forms_carrying_ipv4_are_judged_by_the_carried_address() {
    use AddressClass::*;
    let carried: [(&str, AddressClass); 8] = [
        ("127.0.0.1", Loopback),
        ("10.1.2.3", Private),
        ("172.20.0.1", Private),
        ("192.168.0.10", Private),
        ("169.254.169.254", LinkLocal),
        ("100.64.0.1", Shared),
        ("0.0.0.0", Unspecified),
        ("8.8.8.8", Public),
    ];
    for (v4, class) in carried {
        let ip: Ipv4Addr = v4.parse().unwrap();
        let [a, b, c, d] = ip.octets();
        let forms = [
            // ::ffff:a.b.c.d
            ip.to_ipv6_mapped(),
            // ::ffff:0:a.b.c.d (SIIT)
            Ipv6Addr::from(u128::from(u32::from(ip)) | (0xffff << 48)),
            Ipv6Addr::new(
                0x64,
                0xff9b,
                0,
                0,
                0,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            ), // NAT64
            Ipv6Addr::new(
                0x2002,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
                0,
                0,
                0,
                0,
                1,
            ), // 6to4
        ];
        for form in forms {
            let got = classify(IpAddr::V6(form));
            assert_eq!(got.class, class, "{form} carrying {v4}");
            assert_eq!(got.carried.map(|(_, v4)| v4), Some(ip), "{form}");
        }
        // IPv4-compatible ::a.b.c.d (except :: and ::1, which are IPv6's own).
        if u32::from(ip) > 1 {
            let compatible = Ipv6Addr::from(u128::from(u32::from(ip)));
            assert_eq!(
                classify(IpAddr::V6(compatible)).class,
                class,
                "{compatible}"
            );
        }
    }
    // The classification names the range and the form.
    let text = classify("::ffff:10.0.0.1".parse().unwrap()).to_string();
    assert!(
        text.contains("10.0.0.0/8") && text.contains("IPv4-mapped"),
        "{text}"
    );
}

#[test]
fn the_rule_allows_loopback_only_in_loopback_mode_and_private_only_when_asked() {
    use AddressClass::*;
    let all = [
        Public,
        Loopback,
        Private,
        Shared,
        UniqueLocal,
        LinkLocal,
        Unspecified,
        Multicast,
        Broadcast,
        Documentation,
        Benchmarking,
        Reserved,
    ];
    let allowed = |rule: AddressRule| {
        all.iter()
            .copied()
            .filter(|c| rule.permits(*c))
            .collect::<Vec<_>>()
    };
    assert_eq!(allowed(AddressRule::default()), vec![Public]);
    assert_eq!(
        allowed(AddressRule {
            allow_loopback: true,
            allow_private: false
        }),
        vec![Public, Loopback]
    );
    assert_eq!(
        allowed(AddressRule {
            allow_loopback: false,
            allow_private: true
        }),
        vec![Public, Private, Shared, UniqueLocal]
    );
    // Link-local (the metadata service) and the rest: never.
    assert_eq!(
        allowed(AddressRule {
            allow_loopback: true,
            allow_private: true
        }),
        vec![Public, Loopback, Private, Shared, UniqueLocal]
    );
}

// ---------------------------------------------------------------------------
// Helpers: policies, requests and small servers on 127.0.0.1

fn limits() -> HttpLimits {
    HttpLimits {
        connect_timeout: Duration::from_secs(3),
        first_byte_timeout: Duration::from_secs(5),
        between_bytes_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    }
}

fn policy_with(urls: &[&str], loopback: bool, limits: HttpLimits) -> Arc<HttpPolicy> {
    let mut policy = HttpPolicy::new(loopback, limits);
    for url in urls {
        policy.allow(url).unwrap();
    }
    Arc::new(policy)
}

fn policy(urls: &[&str]) -> Arc<HttpPolicy> {
    policy_with(urls, true, limits())
}

fn hooks(policy: Arc<HttpPolicy>) -> (PolicyHooks, MemoryLog) {
    let (log, lines) = LogSink::memory();
    (PolicyHooks::new(policy, log), lines)
}

fn empty() -> WasiBody {
    Empty::new()
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync()
}

/// A GET as the component sends it, through the hooks; fails the test if it
/// does not return within [`GUARD`].
async fn get(hooks: &mut PolicyHooks, url: &str) -> Result<http::Response<WasiBody>, HttpError> {
    let uri: http::Uri = url.parse().unwrap();
    let request = http::Request::builder()
        .uri(uri.clone())
        .header(http::header::HOST, uri.authority().unwrap().as_str())
        .body(empty())
        .unwrap();
    let sent = hooks.send_request(request, None, Box::new(async { Ok(()) }));
    tokio::time::timeout(GUARD, Pin::from(sent))
        .await
        .expect("the request returned within the guard time")
        .map(|(response, _io)| response)
}

/// The whole body, or the error that ended it.
async fn body(response: http::Response<WasiBody>) -> Result<Bytes, HttpError> {
    tokio::time::timeout(GUARD, response.into_body().collect())
        .await
        .expect("the body ended within the guard time")
        .map(|collected| collected.to_bytes())
}

/// A listener on 127.0.0.1 that accepts connections, holds them open and
/// never writes a byte (so a TLS handshake never completes).
async fn silent_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, accepted)
}

/// A server on 127.0.0.1 that runs `script` on every connection.
async fn scripted<F, Fut>(script: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(script(stream));
        }
    });
    port
}

/// Reads a request head (the requests here have no body).
async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A keep-alive HTTP/1.1 server (hyper) on 127.0.0.1 answering `ok` to
/// everything, over TLS when `tls` is given; counts accepted connections.
struct Server {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

async fn server(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(config) => {
                        let acceptor = tokio_rustls::TlsAcceptor::from(config);
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    Server { port, accepted }
}

/// A test CA and a server certificate for `localhost` and 127.0.0.1 it
/// signed, made with the demo key of tests/certs.
struct TestPki {
    root: Vec<u8>,
    server: Arc<rustls::ServerConfig>,
}

fn test_pki() -> TestPki {
    use rsa09::pkcs8::DecodePrivateKey;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::Encode;
    use x509_cert::der::asn1::{Ia5String, OctetString};
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::Validity;

    let key_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/certs/demo-app.key");
    let key_pem = std::fs::read_to_string(key_path).unwrap();
    let key = rsa09::RsaPrivateKey::from_pkcs8_pem(&key_pem).unwrap();
    let signer = rsa09::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).unwrap();
    let validity = Validity::from_now(Duration::from_secs(24 * 3600)).unwrap();
    let ca_name = Name::from_str("CN=rooms-sync outgoing test CA").unwrap();

    let ca = CertificateBuilder::new(
        Profile::Root,
        SerialNumber::from(1u32),
        validity,
        ca_name.clone(),
        spki.clone(),
        &signer,
    )
    .unwrap()
    .build::<rsa09::pkcs1v15::Signature>()
    .unwrap();
    let mut leaf = CertificateBuilder::new(
        Profile::Leaf {
            issuer: ca_name,
            enable_key_agreement: false,
            enable_key_encipherment: true,
        },
        SerialNumber::from(2u32),
        validity,
        Name::from_str("CN=localhost").unwrap(),
        spki,
        &signer,
    )
    .unwrap();
    leaf.add_extension(&SubjectAltName(vec![
        GeneralName::DnsName(Ia5String::new("localhost").unwrap()),
        GeneralName::IpAddress(OctetString::new(vec![127, 0, 0, 1]).unwrap()),
    ]))
    .unwrap();
    let leaf = leaf.build::<rsa09::pkcs1v15::Signature>().unwrap();

    let key_der = pem::parse(&key_pem).unwrap().into_contents();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.to_der().unwrap().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
        )
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestPki {
        root: ca.to_der().unwrap(),
        server: Arc::new(server),
    }
}

/// A pool that also trusts the test CA.
fn pool_trusting(pki: &TestPki) -> Arc<ConnectionPool> {
    ConnectionPool::with_config(PoolConfig {
        extra_root_certificates: vec![pki.root.clone()],
        ..PoolConfig::default()
    })
    .unwrap()
}

// ---------------------------------------------------------------------------
// Every step is bounded

#[tokio::test]
async fn a_server_that_never_answers_the_tls_handshake_times_out_at_connect() {
    let (port, accepted) = silent_server().await;
    let url = format!("https://127.0.0.1:{port}/EWS/Exchange.asmx");
    let policy = policy_with(
        &[&url],
        true,
        HttpLimits {
            connect_timeout: Duration::from_millis(300),
            ..limits()
        },
    );
    let (mut hooks, log) = hooks(policy);
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::ConnectionTimeout)),
        "{result:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the TCP connect succeeded"
    );
    assert!(log.text().contains("TLS handshake"), "{}", log.text());
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let (mut hooks, _log) = hooks(policy(&[&url]));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::ConnectionRefused)),
        "{result:?}"
    );
}

/// Answers `ok` after `delay`.
async fn slow_head_server(delay: Duration) -> u16 {
    scripted(move |mut stream| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(delay).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await;
    })
    .await
}

#[tokio::test]
async fn a_slow_head_fails_past_the_first_byte_timeout_and_passes_within_it() {
    let port = slow_head_server(Duration::from_millis(600)).await;
    let url = format!("http://127.0.0.1:{port}/");

    let impatient = policy_with(
        &[&url],
        true,
        HttpLimits {
            first_byte_timeout: Duration::from_millis(150),
            ..limits()
        },
    );
    let (mut hooks_, log) = hooks(impatient);
    let result = get(&mut hooks_, &url).await;
    assert!(
        matches!(result, Err(HttpError::ConnectionReadTimeout)),
        "{result:?}"
    );
    assert!(log.text().contains("first-byte timeout"), "{}", log.text());

    let (mut patient, _log) = hooks(policy(&[&url]));
    let response = get(&mut patient, &url).await.unwrap();
    assert_eq!(body(response).await.unwrap(), "ok");
}

#[tokio::test]
async fn a_stalled_body_fails_with_the_between_bytes_timeout() {
    let port = scripted(|mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let policy = policy_with(
        &[&url],
        true,
        HttpLimits {
            between_bytes_timeout: Duration::from_millis(300),
            ..limits()
        },
    );
    let (mut hooks, _log) = hooks(policy);
    let response = get(&mut hooks, &url).await.unwrap();
    let result = body(response).await;
    assert!(
        matches!(result, Err(HttpError::ConnectionReadTimeout)),
        "{result:?}"
    );
    assert_eq!(
        hooks.pool().stats().idle,
        0,
        "a broken connection is not pooled"
    );
}

#[tokio::test]
async fn a_body_that_trickles_forever_meets_the_overall_bound() {
    // One byte every 50 ms keeps the between-bytes timeout happy forever.
    let port = scripted(|mut stream| async move {
        read_head(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head).await.is_err() {
            return;
        }
        for _ in 0..400 {
            if stream.write_all(b"1\r\nx\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let policy = policy_with(
        &[&url],
        true,
        HttpLimits {
            connect_timeout: Duration::from_millis(200),
            first_byte_timeout: Duration::from_millis(200),
            between_bytes_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_millis(300),
            ..limits()
        },
    );
    let (mut hooks, _log) = hooks(policy);
    let response = get(&mut hooks, &url).await.unwrap();
    let result = body(response).await;
    assert!(
        matches!(result, Err(HttpError::HttpResponseTimeout)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------
// Addresses are checked after DNS

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_without_loopback_mode() {
    let (port, accepted) = silent_server().await;
    let url = format!("https://localhost:{port}/EWS/Exchange.asmx");
    let (mut hooks, log) = hooks(policy_with(&[&url], false, limits()));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::HttpRequestDenied)),
        "{result:?}"
    );
    let text = log.text();
    for word in [
        "refused",
        "localhost resolves to 127.0.0.1",
        "loopback",
        "127.0.0.0/8",
        "ExchangeAllowInsecureLoopback=true",
    ] {
        assert!(text.contains(word), "{word} missing from the log:\n{text}");
    }
    // Private networks do not cover loopback.
    let allowing_private = {
        let mut p = HttpPolicy::new(false, limits()).with_private_networks(true);
        p.allow(&url).unwrap();
        Arc::new(p)
    };
    let (mut hooks, _log) = self::hooks(allowing_private);
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::HttpRequestDenied)),
        "{result:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing connected");
}

#[tokio::test]
async fn loopback_ip_literals_and_their_ipv6_forms_are_refused_without_loopback_mode() {
    let (port, accepted) = silent_server().await;
    for url in [
        format!("https://127.0.0.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://[::ffff:7f00:1]:{port}/x"),
    ] {
        let (mut hooks, log) = hooks(policy_with(&[&url], false, limits()));
        let result = get(&mut hooks, &url).await;
        assert!(
            matches!(result, Err(HttpError::HttpRequestDenied)),
            "{url}: {result:?}"
        );
        assert!(log.text().contains("loopback"), "{}", log.text());
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "nothing connected");
}

#[tokio::test]
async fn with_loopback_mode_a_name_resolving_to_loopback_connects_over_tls() {
    let pki = test_pki();
    let server = server(Some(pki.server.clone())).await;
    let url = format!("https://localhost:{}/EWS/Exchange.asmx", server.port);
    let mut hooks = PolicyHooks::with_pool(
        policy_with(&[&url], true, limits()),
        pool_trusting(&pki),
        LogSink::discard(),
    );
    let response = get(&mut hooks, &url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await.unwrap(), "ok");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn plain_http_to_a_name_stays_refused_in_loopback_mode() {
    let (port, accepted) = silent_server().await;
    let url = format!("http://localhost:{port}/");
    let mut policy = HttpPolicy::new(true, limits());
    assert!(
        policy.allow(&url).is_err(),
        "the scheme rule refuses it up front"
    );
    let (mut hooks, log) = hooks(Arc::new(policy));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::HttpRequestDenied)),
        "{result:?}"
    );
    assert!(log.text().contains("plain http://"), "{}", log.text());
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------
// TLS errors

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_a_tls_certificate_error() {
    let pki = test_pki();
    let server = server(Some(pki.server.clone())).await;
    let url = format!("https://localhost:{}/", server.port);
    let (mut hooks, log) = hooks(policy(&[&url]));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::TlsCertificateError)),
        "{result:?}"
    );
    assert!(log.text().contains("UnknownIssuer"), "{}", log.text());
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_a_tls_protocol_error() {
    let port = scripted(|mut stream| async move {
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let url = format!("https://127.0.0.1:{port}/");
    let (mut hooks, _log) = hooks(policy(&[&url]));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::TlsProtocolError)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------
// The size cap

#[tokio::test]
async fn the_size_cap_refuses_a_body_by_content_length() {
    let port = scripted(|mut stream| async move {
        read_head(&mut stream).await;
        let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n".to_vec();
        answer.extend(std::iter::repeat_n(b'x', 2000));
        let _ = stream.write_all(&answer).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let capped = HttpLimits {
        max_response_bytes: 1000,
        ..limits()
    };
    let (mut hooks, log) = hooks(policy_with(&[&url], true, capped));
    let result = get(&mut hooks, &url).await;
    assert!(
        matches!(result, Err(HttpError::HttpResponseBodySize(Some(2000)))),
        "{result:?}"
    );
    assert!(
        log.text().contains("announces 2000 bytes"),
        "{}",
        log.text()
    );
}

#[tokio::test]
async fn the_size_cap_stops_a_streamed_body() {
    let port = scripted(|mut stream| async move {
        read_head(&mut stream).await;
        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            answer.extend_from_slice(b"2bc\r\n"); // 700 bytes
            answer.extend(std::iter::repeat_n(b'x', 700));
            answer.extend_from_slice(b"\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        let _ = stream.write_all(&answer).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let capped = HttpLimits {
        max_response_bytes: 1000,
        ..limits()
    };
    let (mut hooks, log) = hooks(policy_with(&[&url], true, capped));
    let response = get(&mut hooks, &url).await.unwrap();
    let result = body(response).await;
    assert!(
        matches!(result, Err(HttpError::HttpResponseBodySize(Some(n))) if n > 1000 && n <= 2100),
        "{result:?}"
    );
    assert!(
        log.text().contains("the cap is 1000 bytes"),
        "{}",
        log.text()
    );
    assert_eq!(hooks.pool().stats().idle, 0);
}

// ---------------------------------------------------------------------------
// The keep-alive pool

async fn ok(hooks: &mut PolicyHooks, url: &str) {
    let response = get(hooks, url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await.unwrap(), "ok");
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let server = server(None).await;
    let url = format!("http://127.0.0.1:{}/EWS/Exchange.asmx", server.port);
    let (mut hooks, _log) = hooks(policy(&[&url]));
    for _ in 0..3 {
        ok(&mut hooks, &url).await;
    }
    assert_eq!(
        hooks.pool().stats(),
        PoolStats {
            opened: 1,
            reused: 2,
            idle: 1
        }
    );
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn sequential_https_requests_reuse_one_tls_connection() {
    let pki = test_pki();
    let server = server(Some(pki.server.clone())).await;
    let url = format!("https://localhost:{}/", server.port);
    let mut hooks =
        PolicyHooks::with_pool(policy(&[&url]), pool_trusting(&pki), LogSink::discard());
    ok(&mut hooks, &url).await;
    ok(&mut hooks, &url).await;
    assert_eq!(hooks.pool().stats().opened, 1);
    assert_eq!(hooks.pool().stats().reused, 1);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn another_origin_gets_its_own_connection() {
    let (a, b) = (server(None).await, server(None).await);
    let url_a = format!("http://127.0.0.1:{}/", a.port);
    let url_b = format!("http://127.0.0.1:{}/", b.port);
    let (mut hooks, _log) = hooks(policy(&[&url_a, &url_b]));
    ok(&mut hooks, &url_a).await;
    ok(&mut hooks, &url_b).await;
    assert_eq!(hooks.pool().stats().opened, 2);
    assert_eq!(hooks.pool().stats().reused, 0);
    ok(&mut hooks, &url_a).await;
    ok(&mut hooks, &url_b).await;
    assert_eq!(
        hooks.pool().stats(),
        PoolStats {
            opened: 2,
            reused: 2,
            idle: 2
        }
    );
}

#[tokio::test]
async fn a_new_policy_object_does_not_reuse_connections_of_the_old_one() {
    let server = server(None).await;
    let url = format!("http://127.0.0.1:{}/", server.port);
    let pool = ConnectionPool::new();
    let mut old = PolicyHooks::with_pool(policy(&[&url]), pool.clone(), LogSink::discard());
    let mut new = PolicyHooks::with_pool(policy(&[&url]), pool.clone(), LogSink::discard());
    ok(&mut old, &url).await;
    ok(&mut new, &url).await;
    assert_eq!(
        pool.stats().opened,
        2,
        "same rules, new object: a fresh connection"
    );
    assert_eq!(pool.stats().reused, 0);
    // Each policy still finds its own.
    ok(&mut old, &url).await;
    ok(&mut new, &url).await;
    assert_eq!(pool.stats().reused, 2);
    assert_eq!(pool.stats().idle, 2);
    // When the last user of a policy goes, its idle connections go too.
    drop(old);
    assert_eq!(pool.stats().idle, 1);
    drop(new);
    assert_eq!(pool.stats().idle, 0);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_whose_body_was_not_read_is_not_reused() {
    let server = server(None).await;
    let url = format!("http://127.0.0.1:{}/", server.port);
    let (mut hooks, _log) = hooks(policy(&[&url]));
    let unread = get(&mut hooks, &url).await.unwrap();
    drop(unread);
    ok(&mut hooks, &url).await;
    assert_eq!(hooks.pool().stats().opened, 2);
    assert_eq!(hooks.pool().stats().reused, 0);
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_idle_timeout_of_zero_turns_pooling_off() {
    let server = server(None).await;
    let url = format!("http://127.0.0.1:{}/", server.port);
    let no_keep_alive = HttpLimits {
        idle_timeout: Duration::ZERO,
        ..limits()
    };
    let (mut hooks, _log) = hooks(policy_with(&[&url], true, no_keep_alive));
    ok(&mut hooks, &url).await;
    ok(&mut hooks, &url).await;
    assert_eq!(hooks.pool().stats().opened, 2);
    assert_eq!(hooks.pool().stats().idle, 0);
}
