//! Outgoing HTTP of one tenant: which requests the component may make, and
//! the host's own client that sends them.
//!
//! The component reaches the network only through `wasi:http`, and every
//! request passes [`PolicyHooks::send_request`]. The policy is built once per
//! tenant run from the settings and the persons and is fail-closed; the
//! request is then sent by our own HTTP/1.1 client (not wasmtime's default),
//! so that every step is bounded and every address is checked:
//!
//! | rule | accepted | refused with |
//! |---|---|---|
//! | origin | the authority URL's origin and each person's Sync-URL origin (scheme, host, port) | `HTTP-request-denied` |
//! | scheme | `https`; `http` only to `127.0.0.0/8` or `[::1]` and only with `ExchangeAllowInsecureLoopback=true` | `HTTP-request-denied` |
//! | address | every address the host resolves to (or the IP in the URL) must be public; loopback only in loopback test mode, private networks only with `ExchangeAllowPrivateNetworks=true`, link-local (cloud metadata), multicast, documentation and other special ranges never — see [`address`]. Only addresses that passed are connected to (no second lookup) | `HTTP-request-denied` |
//! | TLS | certificates verified against the Mozilla roots (`webpki-roots`), ALPN `http/1.1` | `TLS-certificate-error`, `TLS-protocol-error`, `TLS-alert-received` |
//! | connect | DNS, TCP and TLS together within the connect timeout | `DNS-timeout`, `DNS-error`, `connection-refused`, `connection-timeout` |
//! | first byte | the response head within the first-byte timeout | `connection-read-timeout` |
//! | body | each chunk within the between-bytes timeout, all of it within connect + first byte + [`HttpLimits::body_timeout`] | `connection-read-timeout`, `HTTP-response-timeout` |
//! | response size | at most [`HttpLimits::max_response_bytes`], by `Content-Length` or while streaming | `HTTP-response-body-size` |
//! | redirects | never followed: a 3xx reaches the component as it is | (the component reports it) |
//!
//! The component may ask for shorter timeouts, never longer ones. A refused
//! request is an error the component sees, never a trap (as in Spin's
//! outbound HTTP allowlist); the reason — the origin, or the name, the
//! address and its range, and the setting that would allow it — is logged on
//! the host side, because `HTTP-request-denied` carries no text. Transport
//! failures are logged with their detail too (TLS ones as warnings).
//!
//! Keep-alive connections are kept in a [`ConnectionPool`] per tenant, reused
//! only by the policy object that opened them; see [`pool`].
//!
//! # Layout
//!
//! - [`policy`]: [`HttpPolicy`] (the allowlist and flags), [`HttpLimits`],
//!   [`Origin`].
//! - [`address`]: classification of IP addresses and the address rule.
//! - [`pool`]: [`ConnectionPool`], its configuration and counters.
//! - `connector`: resolve, screen, TCP, TLS and HTTP/1.1 handshakes.
//! - `body`: the response body with its timeouts, size cap and the way back
//!   into the pool.
//! - `error`: wire failures to `wasi:http` error codes.

pub mod address;
mod body;
mod connector;
mod error;
pub mod policy;
pub mod pool;

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Uri};
use http_body_util::BodyExt;
use tokio::time::{Instant, timeout, timeout_at};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::log::{Level, LogSink};

pub use address::{AddressClass, AddressRule, Classified, classify};
pub use policy::{HttpLimits, HttpPolicy, Origin, PolicyError};
pub use pool::{ConnectionPool, PoolConfig, PoolError, PoolStats};

use body::ResponseBody;
use error::Failure;
use pool::Connection;

/// The `wasi:http` hooks of a tenant's store: the policy, the tenant's
/// connection pool, and a log sink for refusals and failures.
pub struct PolicyHooks {
    policy: Arc<HttpPolicy>,
    pool: Arc<ConnectionPool>,
    log: LogSink,
}

impl PolicyHooks {
    /// Hooks enforcing `policy` with a pool of their own (connections are
    /// reused within this store only), logging to `log`.
    pub fn new(policy: Arc<HttpPolicy>, log: LogSink) -> Self {
        Self::with_pool(policy, ConnectionPool::new(), log)
    }

    /// Hooks enforcing `policy` that keep connections in `pool`, the pool of
    /// the tenant (one per tenant, shared by all its stores).
    pub fn with_pool(policy: Arc<HttpPolicy>, pool: Arc<ConnectionPool>, log: LogSink) -> Self {
        PolicyHooks { policy, pool, log }
    }

    /// The pool these hooks use.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }
}

impl Drop for PolicyHooks {
    fn drop(&mut self) {
        // The last user of this policy: its idle connections go with it.
        if Arc::strong_count(&self.policy) == 1 {
            self.pool.release_policy(&self.policy);
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for PolicyHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        let origin = match self.policy.admit(request.uri()) {
            Ok(origin) => origin,
            Err(denied) => {
                self.log
                    .write(Level::Warn, &format!("outgoing request refused: {denied}"));
                return Box::new(async { Err(HttpError::HttpRequestDenied) });
            }
        };
        let timeouts = Timeouts::new(&self.policy, options);
        let sender = Sender {
            policy: self.policy.clone(),
            pool: self.pool.clone(),
            log: self.log.clone(),
            origin,
            timeouts,
        };
        Box::new(async move {
            let response = sender.send(request).await?;
            // The connection is driven by its own task (see `connector`), so
            // there is nothing left for wasmtime to drive.
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// The timeouts of one request: the component's, capped by the policy.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    connect: Duration,
    first_byte: Duration,
    between_bytes: Duration,
    body: Duration,
}

impl Timeouts {
    fn new(policy: &HttpPolicy, asked: Option<RequestOptions>) -> Timeouts {
        let limits = policy.limits();
        let options = policy.effective_options(asked);
        Timeouts {
            connect: options.connect_timeout.unwrap_or(limits.connect_timeout),
            first_byte: options
                .first_byte_timeout
                .unwrap_or(limits.first_byte_timeout),
            between_bytes: options
                .between_bytes_timeout
                .unwrap_or(limits.between_bytes_timeout),
            body: limits.body_timeout,
        }
    }
}

/// What became of sending a request on one connection.
enum Exchange {
    Answered(http::Response<hyper::body::Incoming>, Connection),
    /// A pooled connection closed before the request was written: the
    /// request comes back unsent, for a fresh connection.
    NotSent(http::Request<WasiBody>),
    Failed(Failure),
}

/// One allowed request on its way.
struct Sender {
    policy: Arc<HttpPolicy>,
    pool: Arc<ConnectionPool>,
    log: LogSink,
    origin: Origin,
    timeouts: Timeouts,
}

impl Sender {
    async fn send(
        self,
        mut request: http::Request<WasiBody>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let started = Instant::now();
        let t = self.timeouts;
        let connect_deadline = started + t.connect;
        let overall_deadline = started + t.connect + t.first_byte + t.body;

        let resolved = match timeout_at(connect_deadline, connector::resolve(&self.origin)).await {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(failure)) => return Err(self.failed(None, failure)),
            Err(_) => {
                let failure = Failure::new(
                    HttpError::DnsTimeout,
                    format!(
                        "{} was not resolved within the connect timeout",
                        self.origin.host()
                    ),
                );
                return Err(self.failed(None, failure));
            }
        };
        let addrs = self.screen(&resolved)?;

        // The request line carries the path only; scheme and authority were
        // used to connect (and the Host header names the authority).
        *request.uri_mut() = origin_form(request.uri());
        let head_only = request.method() == Method::HEAD;

        if let Some(conn) = self.pool.checkout(&self.origin, &addrs, &self.policy) {
            match exchange(conn, request, t.first_byte).await {
                Exchange::Answered(response, conn) => {
                    return self.respond(response, conn, head_only, overall_deadline);
                }
                Exchange::NotSent(unsent) => request = unsent,
                Exchange::Failed(failure) => return Err(self.failed(None, failure)),
            }
        }
        let conn = connector::open(
            &self.pool,
            &self.origin,
            &addrs,
            &self.policy,
            connect_deadline,
        )
        .await
        .map_err(|failure| self.failed(None, failure))?;
        let addr = conn.addr;
        match exchange(conn, request, t.first_byte).await {
            Exchange::Answered(response, conn) => {
                self.respond(response, conn, head_only, overall_deadline)
            }
            Exchange::NotSent(_) => Err(self.failed(
                Some(addr),
                Failure::new(
                    HttpError::ConnectionTerminated,
                    "the new connection closed before the request was sent",
                ),
            )),
            Exchange::Failed(failure) => Err(self.failed(Some(addr), failure)),
        }
    }

    /// The resolved addresses the address rule allows; the request is denied
    /// (and the reason logged) when there is none.
    fn screen(
        &self,
        resolved: &[std::net::SocketAddr],
    ) -> Result<Vec<std::net::SocketAddr>, HttpError> {
        let rule = self.policy.address_rule();
        let screened = connector::screen(resolved, rule);
        if screened.refused.is_empty() {
            return Ok(screened.allowed);
        }
        let name = self.origin.host();
        let listed = screened
            .refused
            .iter()
            .map(|(ip, why)| {
                let why = why.to_string();
                let article = if why.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("{ip}, {article} {why}")
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut fixes: Vec<&str> = screened
            .refused
            .iter()
            .map(|(_, why)| address::fix_for(why.class))
            .collect();
        fixes.sort_unstable();
        fixes.dedup();
        let what = if self.origin.ip().is_some() {
            format!("{}: {listed}", self.origin)
        } else {
            format!("{}: {name} resolves to {listed}", self.origin)
        };
        if screened.allowed.is_empty() {
            self.log.write(
                Level::Warn,
                &format!(
                    "outgoing request refused: {what}; this tenant's requests may only reach {rule}; {}",
                    fixes.join("; ")
                ),
            );
            return Err(HttpError::HttpRequestDenied);
        }
        let kept = screened
            .allowed
            .iter()
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        self.log.write(
            Level::Warn,
            &format!("outgoing request: {what}; those are skipped, connecting only to {kept}"),
        );
        Ok(screened.allowed)
    }

    /// The response as the component gets it: refused by `Content-Length`
    /// when over the cap, otherwise with a bounded body.
    fn respond(
        &self,
        response: http::Response<hyper::body::Incoming>,
        conn: Connection,
        head_only: bool,
        deadline: Instant,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let cap = self.policy.limits().max_response_bytes;
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared.filter(|len| *len > cap && !head_only) {
            self.log.write(
                Level::Warn,
                &format!(
                    "response of {} refused: it announces {len} bytes, over the cap of {cap} bytes (--max-response-mib)",
                    self.origin
                ),
            );
            return Err(HttpError::HttpResponseBodySize(Some(len)));
        }
        let pool = self.pool.clone();
        let between = self.timeouts.between_bytes;
        let log = self.log.clone();
        Ok(response.map(|incoming| {
            ResponseBody::new(incoming, conn, pool, between, deadline, cap, log).boxed_unsync()
        }))
    }

    /// Logs a failure and gives its code to the component.
    fn failed(&self, addr: Option<std::net::SocketAddr>, failure: Failure) -> HttpError {
        let level = match failure.code {
            HttpError::TlsCertificateError
            | HttpError::TlsProtocolError
            | HttpError::TlsAlertReceived { .. } => Level::Warn,
            _ => Level::Info,
        };
        let at = addr.map(|a| format!(" at {a}")).unwrap_or_default();
        self.log.write(
            level,
            &format!("outgoing request to {}{at} failed: {failure}", self.origin),
        );
        failure.code
    }
}

/// Sends `request` on `conn` and waits for the head, at most `first_byte`.
async fn exchange(
    mut conn: Connection,
    request: http::Request<WasiBody>,
    first_byte: Duration,
) -> Exchange {
    match timeout(first_byte, conn.sender.try_send_request(request)).await {
        Ok(Ok(response)) => Exchange::Answered(response, conn),
        Ok(Err(mut e)) => match e.take_message() {
            Some(unsent) if conn.reused => Exchange::NotSent(unsent),
            _ => Exchange::Failed(error::hyper(e.into_error())),
        },
        Err(_) => Exchange::Failed(Failure::new(
            HttpError::ConnectionReadTimeout,
            format!(
                "no response head within the first-byte timeout ({} ms)",
                first_byte.as_millis()
            ),
        )),
    }
}

/// `/path?query` of `uri`.
fn origin_form(uri: &Uri) -> Uri {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Uri::builder()
        .path_and_query(path)
        .build()
        .unwrap_or_else(|_| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;

    fn empty() -> WasiBody {
        http_body_util::Empty::new()
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync()
    }

    #[tokio::test]
    async fn a_refused_request_is_an_error_not_a_trap() {
        let mut policy = HttpPolicy::new(false, HttpLimits::default());
        policy
            .allow("https://outlook.office365.com/EWS/Exchange.asmx")
            .unwrap();
        let (log, lines) = LogSink::memory();
        let mut hooks = PolicyHooks::new(Arc::new(policy), log);
        let request = http::Request::builder()
            .uri("https://evil.example/")
            .body(empty())
            .unwrap();
        let fut = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        let result = Pin::from(fut).await;
        assert!(matches!(result, Err(HttpError::HttpRequestDenied)));
        assert!(
            lines
                .text()
                .contains("https://evil.example:443 is not allowed")
        );
    }

    #[test]
    fn the_request_line_carries_the_path_only() {
        let uri: Uri = "https://h.example:8443/EWS/Exchange.asmx?x=1"
            .parse()
            .unwrap();
        assert_eq!(origin_form(&uri).to_string(), "/EWS/Exchange.asmx?x=1");
        let uri: Uri = "https://h.example".parse().unwrap();
        assert_eq!(origin_form(&uri).to_string(), "/");
    }
}
