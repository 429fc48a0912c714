//! Outgoing HTTP policy of one tenant: which requests the component may make.
//!
//! The component reaches the network only through `wasi:http`, and every
//! request passes [`PolicyHooks::send_request`] first. The policy is built
//! once per tenant run from the settings and the persons, and is fail-closed:
//!
//! | rule | accepted | refused with |
//! |---|---|---|
//! | origin | the authority URL's origin and each person's Sync-URL origin (scheme, host, port) | `HTTP-request-denied` |
//! | scheme | `https`; `http` only to `127.0.0.0/8` or `[::1]` and only with `ExchangeAllowInsecureLoopback=true` | `HTTP-request-denied` |
//! | redirects | never followed: a 3xx reaches the component as it is | (the component reports it) |
//! | response size | at most [`HttpLimits::max_response_bytes`], by `Content-Length` or while streaming | `HTTP-response-body-size` |
//! | time | connect and first-byte timeouts from [`HttpLimits`] (the component may ask for less, never more) | `connection-timeout`, `connection-read-timeout` |
//!
//! A refused request is an error the component sees, never a trap (as in
//! Spin's outbound HTTP allowlist). The reason is logged on the host side,
//! because `HTTP-request-denied` carries no text.

use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::uri::Scheme;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::log::{Level, LogSink};

/// Limits applied to every outgoing request of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest response body accepted, in bytes.
    pub max_response_bytes: u64,
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for the response head after the request was sent.
    pub first_byte_timeout: Duration,
    /// Longest pause between two chunks of the response body.
    pub between_bytes_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_response_bytes: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(100),
            between_bytes_timeout: Duration::from_secs(30),
        }
    }
}

/// One allowed origin: scheme, lower-case host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    secure: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http`/`https` URL.
    pub fn of_url(url: &str) -> Result<Origin, PolicyError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| PolicyError::InvalidUrl(url.to_string()))?;
        Origin::of_uri(&uri).ok_or_else(|| PolicyError::InvalidUrl(url.to_string()))
    }

    fn of_uri(uri: &Uri) -> Option<Origin> {
        let secure = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return None,
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Some(Origin {
            secure,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn is_loopback_ip(&self) -> bool {
        self.host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Why a URL cannot be part of a policy, or why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not an absolute `http(s)` URL.
    #[error("`{0}` is not an absolute http(s) URL")]
    InvalidUrl(String),
    /// Plain HTTP to a host that is not a loopback address, or loopback mode off.
    #[error(
        "plain http:// is refused for {0}: use https, or for a local test set ExchangeAllowInsecureLoopback=true (it allows http only to 127.0.0.0/8 and ::1)"
    )]
    InsecureScheme(String),
    /// The origin is neither the authority nor a person's Sync-URL.
    #[error(
        "{origin} is not allowed: the component may only reach the sign-in authority and the persons' Sync-URL hosts ({allowed})"
    )]
    NotAllowed {
        /// The refused origin.
        origin: String,
        /// The allowed origins, comma separated.
        allowed: String,
    },
}

/// The allowlist of one tenant.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    allowed: Vec<Origin>,
    allow_insecure_loopback: bool,
    limits: HttpLimits,
}

impl HttpPolicy {
    /// A policy that allows nothing yet; [`HttpPolicy::allow`] adds origins.
    pub fn new(allow_insecure_loopback: bool, limits: HttpLimits) -> HttpPolicy {
        HttpPolicy {
            allowed: Vec::new(),
            allow_insecure_loopback,
            limits,
        }
    }

    /// Allows the origin of `url` (the sign-in authority or a person's EWS
    /// URL). A URL the scheme rule refuses is not added, and the error says
    /// what to change.
    pub fn allow(&mut self, url: &str) -> Result<(), PolicyError> {
        let origin = Origin::of_url(url)?;
        self.check_scheme(&origin)?;
        if !self.allowed.contains(&origin) {
            self.allowed.push(origin);
        }
        Ok(())
    }

    /// The limits of this policy.
    pub fn limits(&self) -> HttpLimits {
        self.limits
    }

    fn check_scheme(&self, origin: &Origin) -> Result<(), PolicyError> {
        if origin.secure || (self.allow_insecure_loopback && origin.is_loopback_ip()) {
            Ok(())
        } else {
            Err(PolicyError::InsecureScheme(origin.to_string()))
        }
    }

    /// Whether a request to `uri` may be sent.
    pub fn check(&self, uri: &Uri) -> Result<(), PolicyError> {
        let origin = Origin::of_uri(uri).ok_or_else(|| PolicyError::InvalidUrl(uri.to_string()))?;
        self.check_scheme(&origin)?;
        if self.allowed.contains(&origin) {
            Ok(())
        } else {
            Err(PolicyError::NotAllowed {
                origin: origin.to_string(),
                allowed: self
                    .allowed
                    .iter()
                    .map(Origin::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// The timeouts to use: the component's own, capped by the policy.
    fn effective_options(&self, asked: Option<RequestOptions>) -> RequestOptions {
        let asked = asked.unwrap_or_default();
        let cap =
            |asked: Option<Duration>, limit: Duration| Some(asked.map_or(limit, |a| a.min(limit)));
        RequestOptions {
            connect_timeout: cap(asked.connect_timeout, self.limits.connect_timeout),
            first_byte_timeout: cap(asked.first_byte_timeout, self.limits.first_byte_timeout),
            between_bytes_timeout: cap(
                asked.between_bytes_timeout,
                self.limits.between_bytes_timeout,
            ),
        }
    }
}

/// The `wasi:http` hooks of a tenant's store: the policy plus a log sink for
/// refused requests.
pub struct PolicyHooks {
    policy: std::sync::Arc<HttpPolicy>,
    log: LogSink,
}

impl PolicyHooks {
    /// Hooks enforcing `policy`, logging refusals to `log`.
    pub fn new(policy: std::sync::Arc<HttpPolicy>, log: LogSink) -> Self {
        PolicyHooks { policy, log }
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
        if let Err(denied) = self.policy.check(request.uri()) {
            self.log
                .write(Level::Warn, &format!("outgoing request refused: {denied}"));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let options = self.policy.effective_options(options);
        let cap = self.policy.limits.max_response_bytes;
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let declared = response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(len) = declared.filter(|len| *len > cap) {
                return Err(HttpError::HttpResponseBodySize(Some(len)));
            }
            let response = response.map(|body| CappedBody::new(body, cap).boxed_unsync());
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// A response body that fails once more than `cap` bytes arrived.
struct CappedBody<B> {
    inner: B,
    received: u64,
    cap: u64,
}

impl<B> CappedBody<B> {
    fn new(inner: B, cap: u64) -> Self {
        CappedBody {
            inner,
            received: 0,
            cap,
        }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes, Error = HttpError> + Unpin,
{
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.received += data.len() as u64;
            if self.received > self.cap {
                return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(
                    self.received,
                )))));
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_of(urls: &[&str], loopback: bool) -> Result<HttpPolicy, PolicyError> {
        let mut policy = HttpPolicy::new(loopback, HttpLimits::default());
        for url in urls {
            policy.allow(url)?;
        }
        Ok(policy)
    }

    fn policy(loopback: bool) -> HttpPolicy {
        policy_of(
            &[
                "https://login.microsoftonline.com",
                "https://outlook.office365.com/EWS/Exchange.asmx",
            ],
            loopback,
        )
        .unwrap()
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn authority_and_sync_url_hosts_are_allowed() {
        let p = policy(false);
        assert!(
            p.check(&uri(
                "https://login.microsoftonline.com/t/oauth2/v2.0/token"
            ))
            .is_ok()
        );
        assert!(
            p.check(&uri("https://OUTLOOK.office365.com/EWS/Exchange.asmx"))
                .is_ok()
        );
        assert!(p.check(&uri("https://outlook.office365.com:443/x")).is_ok());
    }

    #[test]
    fn other_hosts_ports_and_schemes_are_refused() {
        let p = policy(false);
        let err = p.check(&uri("https://example.com/")).unwrap_err();
        assert!(matches!(err, PolicyError::NotAllowed { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("https://outlook.office365.com:443")
        );
        assert!(matches!(
            p.check(&uri("https://outlook.office365.com:8443/")),
            Err(PolicyError::NotAllowed { .. })
        ));
        assert!(matches!(
            p.check(&uri("http://outlook.office365.com/")),
            Err(PolicyError::InsecureScheme(_))
        ));
    }

    #[test]
    fn plain_http_needs_loopback_mode_and_a_loopback_address() {
        let urls = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/EWS/Exchange.asmx",
        ];
        let err = policy_of(&urls, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("ExchangeAllowInsecureLoopback=true"),
            "{err}"
        );

        let p = policy_of(&urls, true).unwrap();
        assert!(
            p.check(&uri("http://127.0.0.1:8080/EWS/Exchange.asmx"))
                .is_ok()
        );
        // Loopback mode is not a licence for other addresses or names.
        assert!(policy_of(&["http://10.0.0.1"], true).is_err());
        assert!(policy_of(&["http://localhost:80"], true).is_err());
        assert!(policy_of(&["http://[::1]:9000"], true).is_ok());
        assert!(policy_of(&["http://127.5.6.7:9000"], true).is_ok());
        // A refused URL is not added: the policy still allows nothing else.
        let mut p = HttpPolicy::new(false, HttpLimits::default());
        assert!(
            p.allow("http://outlook.office365.com/EWS/Exchange.asmx")
                .is_err()
        );
        assert!(
            p.check(&uri("http://outlook.office365.com/EWS/Exchange.asmx"))
                .is_err()
        );
    }

    #[test]
    fn component_timeouts_are_capped_by_the_policy() {
        let p = policy(false);
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::from_millis(5)),
            between_bytes_timeout: None,
        };
        let got = p.effective_options(Some(asked));
        assert_eq!(
            got.connect_timeout,
            Some(HttpLimits::default().connect_timeout)
        );
        assert_eq!(got.first_byte_timeout, Some(Duration::from_millis(5)));
        assert_eq!(
            got.between_bytes_timeout,
            Some(HttpLimits::default().between_bytes_timeout)
        );
    }

    #[tokio::test]
    async fn a_refused_request_is_an_error_not_a_trap() {
        let mut hooks = PolicyHooks::new(std::sync::Arc::new(policy(false)), LogSink::memory().0);
        let request = http::Request::builder()
            .uri("https://evil.example/")
            .body(
                http_body_util::Empty::new()
                    .map_err(|never: std::convert::Infallible| match never {})
                    .boxed_unsync(),
            )
            .unwrap();
        let fut = hooks.send_request(request, None, Box::new(async { Ok(()) }));
        let result = Pin::from(fut).await;
        assert!(matches!(result, Err(HttpError::HttpRequestDenied)));
    }

    #[tokio::test]
    async fn a_body_over_the_cap_fails_while_streaming() {
        let chunks: Vec<Result<Frame<Bytes>, HttpError>> = (0..3)
            .map(|_| Ok(Frame::data(Bytes::from(vec![b'x'; 700]))))
            .collect();
        let inner = http_body_util::StreamBody::new(futures_stream(chunks));
        let mut body = CappedBody::new(inner, 1000);
        let first = body.frame().await.unwrap();
        assert!(first.is_ok());
        let second = body.frame().await.unwrap();
        assert!(matches!(
            second,
            Err(HttpError::HttpResponseBodySize(Some(1400)))
        ));
    }

    fn futures_stream<T: Unpin>(items: Vec<T>) -> impl futures_core::Stream<Item = T> + Unpin {
        struct Iter<T>(std::vec::IntoIter<T>);
        impl<T: Unpin> futures_core::Stream for Iter<T> {
            type Item = T;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<T>> {
                Poll::Ready(self.0.next())
            }
        }
        Iter(items.into_iter())
    }
}
