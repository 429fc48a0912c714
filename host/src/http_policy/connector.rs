//! Opening a connection: resolve, screen the addresses, TCP connect, TLS
//! handshake, HTTP/1.1 handshake — all before one deadline.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

use super::address::{AddressRule, Classified};
use super::error::{self, Failure};
use super::policy::{HttpPolicy, Origin};
use super::pool::{Connection, ConnectionPool};

/// The addresses of an origin: the IP literal itself, or what the system
/// resolver answers for the name.
pub(crate) async fn resolve(origin: &Origin) -> Result<Vec<SocketAddr>, Failure> {
    if let Some(ip) = origin.ip() {
        return Ok(vec![SocketAddr::new(ip, origin.port())]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((origin.host(), origin.port()))
        .await
        .map_err(|e| error::dns(origin.host(), &e))?
        .collect();
    if found.is_empty() {
        return Err(Failure::new(
            HttpError::DnsError {
                rcode: Some("the name has no addresses".into()),
                info_code: None,
            },
            format!("{} resolved to no address", origin.host()),
        ));
    }
    let mut unique = Vec::with_capacity(found.len());
    for addr in found {
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    Ok(unique)
}

/// Resolved addresses split by the address rule.
#[derive(Debug, Default)]
pub(crate) struct Screened {
    pub(crate) allowed: Vec<SocketAddr>,
    pub(crate) refused: Vec<(IpAddr, Classified)>,
}

pub(crate) fn screen(addrs: &[SocketAddr], rule: AddressRule) -> Screened {
    let mut screened = Screened::default();
    for addr in addrs {
        match rule.check(addr.ip()) {
            Ok(_) => screened.allowed.push(*addr),
            Err(why) => screened.refused.push((addr.ip(), why)),
        }
    }
    screened
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A new connection to `origin` at one of `addrs` (tried in order, each
/// with a fair share of the time left), before `deadline`.
pub(crate) async fn open(
    pool: &ConnectionPool,
    origin: &Origin,
    addrs: &[SocketAddr],
    policy: &Arc<HttpPolicy>,
    deadline: Instant,
) -> Result<Connection, Failure> {
    let (tcp, addr) = connect_tcp(addrs, deadline).await?;
    let io: Box<dyn Io> = if origin.is_secure() {
        let name = server_name(origin)?;
        let connector = tokio_rustls::TlsConnector::from(pool.tls());
        match timeout_at(deadline, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => Box::new(tls),
            Ok(Err(e)) => return Err(error::tls(&e)),
            Err(_) => {
                return Err(Failure::new(
                    HttpError::ConnectionTimeout,
                    format!("no TLS handshake with {addr} before the connect timeout"),
                ));
            }
        }
    } else {
        Box::new(tcp)
    };
    let handshake =
        hyper::client::conn::http1::Builder::new().handshake::<_, WasiBody>(TokioIo::new(io));
    let (sender, driver) = match timeout_at(deadline, handshake).await {
        Ok(Ok(parts)) => parts,
        Ok(Err(e)) => return Err(error::hyper(e)),
        Err(_) => {
            return Err(Failure::new(
                HttpError::ConnectionTimeout,
                "no HTTP/1.1 handshake before the connect timeout",
            ));
        }
    };
    // The driver runs until the connection closes; dropping the
    // `Connection` aborts it, which closes the socket.
    let driver = tokio::spawn(async move {
        let _ = driver.await;
    })
    .abort_handle();
    pool.count_opened();
    Ok(Connection {
        sender,
        driver,
        origin: origin.clone(),
        addr,
        policy: Arc::downgrade(policy),
        idle_timeout: policy.limits().idle_timeout,
        reused: false,
    })
}

async fn connect_tcp(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match timeout(
            share.max(Duration::from_millis(1)),
            TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, *addr));
            }
            Ok(Err(e)) => last = Some(error::tcp(*addr, &e)),
            Err(_) => {
                last = Some(Failure::new(
                    HttpError::ConnectionTimeout,
                    format!("TCP connect to {addr} timed out"),
                ));
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        Failure::new(
            HttpError::ConnectionTimeout,
            "the connect timeout passed before a TCP connect could start",
        )
    }))
}

fn server_name(origin: &Origin) -> Result<ServerName<'static>, Failure> {
    if let Some(ip) = origin.ip() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(origin.host().to_string()).map_err(|e| {
        Failure::new(
            HttpError::DnsError {
                rcode: Some("invalid DNS name".into()),
                info_code: None,
            },
            format!("{} is not a valid TLS server name: {e}", origin.host()),
        )
    })
}
