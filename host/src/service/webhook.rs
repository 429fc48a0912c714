//! The service's HTTP server (HTTP/1.1, hyper): the push webhook,
//! `/healthz` and `/metrics`.
//!
//! # `POST /api/webhooks/exchange/<tenant>`
//!
//! Exchange posts `SendNotification` here (the callback URL of the
//! tenant's push subscriptions ends with the tenant's name, see
//! [`super::push`]). Before the component sees a post, the host refuses,
//! in this order, and counts in `rooms_sync_notifications_refused_total`:
//!
//! | check | answer | reason |
//! |---|---|---|
//! | more than `--webhook-rate` posts per second (burst `--webhook-burst`; [`RATE_PER_SECOND`] and [`RATE_BURST`] by default) from one peer address | 429, `Retry-After: 1` | `rate_limited` |
//! | not `POST` | 405, `Allow: POST` | `method` |
//! | a body over [`MAX_BODY`] (by `Content-Length`, or while reading: it is never read past the cap) | 413 | `too_large` |
//! | no running tenant of that name (also a broken one) | 404 | `unknown_tenant` |
//! | [`WEBHOOK_QUEUE`](super::scheduler::WEBHOOK_QUEUE) posts already waiting for the tenant | 503, `Retry-After: 1` | `queue_full` |
//!
//! What passes is queued for the tenant's own webhook worker, one
//! component instance apart from the sync workers, so a flood of posts
//! cannot starve the syncs. The component checks content type and SOAP
//! shape and looks the subscription up; its answer is sent back as it is
//! (`SendNotificationResult` `OK` or `Unsubscribe`, or a 4xx refusal
//! counted as `content_type`, `malformed` or `unknown_subscription`). A body
//! is never logged. The peer address is the TCP peer: behind a reverse
//! proxy, the proxy's address, so the proxy should apply its own
//! per-client limits.
//!
//! # `GET /healthz`
//!
//! 200 with `{"status":"ok","tenants":[{"name","state":"running"|"broken","error",
//! "persons","subscriptions":{"push","pull"},"queue"}]}`; a broken tenant
//! has its error and zero counts and does not make the service unhealthy.
//! 503 with `"status":"stopping"` while the service shuts down.
//!
//! # `GET /metrics`
//!
//! The metrics of [`super::metrics`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::calls::notifications::{HttpRequest, HttpResponse};
use crate::log::{Level, LogSink};

use super::metrics::Metrics;
use super::metrics::{CONTENT_TYPE, Refusal};
use super::push::{WEBHOOK_PATH, decode_segment};
use super::scheduler::WebhookJob;
use super::{Registry, Slot};

/// The largest webhook body read.
pub const MAX_BODY: u64 = 1 << 20;

/// Posts per second allowed from one peer address by default
/// (`--webhook-rate`).
pub const RATE_PER_SECOND: u32 = 20;

/// Posts one peer address may send at once before the rate applies, by
/// default (`--webhook-burst`).
pub const RATE_BURST: u32 = 100;

/// Peer addresses remembered by the rate limiter before idle ones are
/// dropped.
const MAX_SOURCES: usize = 10_000;

/// How long a request may take to send its header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A token bucket per peer address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    /// `rate` posts per second, `burst` at once.
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: HashMap::new(),
        }
    }

    /// True when `source` may post at `now` (and takes a token).
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= MAX_SOURCES && !self.buckets.contains_key(&source) {
            let (rate, burst) = (self.rate, self.burst);
            // Sources whose bucket has refilled are like new ones: drop them.
            self.buckets.retain(|_, (tokens, last)| {
                *tokens + now.saturating_duration_since(*last).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = self.buckets.entry(source).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the HTTP server needs.
pub(crate) struct Http {
    pub registry: Rc<Registry>,
    pub metrics: Arc<Metrics>,
    pub log: LogSink,
    /// How long a post waits for the component's answer.
    pub reply_bound: Duration,
    pub limiter: std::cell::RefCell<RateLimiter>,
}

type Answer = Response<Full<Bytes>>;

fn text(status: StatusCode, body: &str) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn retry_after(mut response: Answer) -> Answer {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// Accepts connections until `stop` turns true, then closes the listener;
/// open connections finish their request and close.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    http: Rc<Http>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                http.log
                    .write(Level::Warn, &format!("accepting a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let http = http.clone();
        let mut stop = stop.clone();
        tokio::task::spawn_local(async move {
            let ip = peer.ip();
            let service = service_fn(move |request| {
                let http = http.clone();
                async move { Ok::<_, Infallible>(http.handle(request, ip).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.wait_for(|s| *s) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
}

impl Http {
    async fn handle(&self, request: Request<Incoming>, ip: IpAddr) -> Answer {
        let path = request.uri().path().to_string();
        match path.as_str() {
            "/healthz" => self.healthz(),
            "/metrics" => {
                let mut response = Response::new(Full::new(Bytes::from(self.metrics.encode())));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(CONTENT_TYPE),
                );
                response
            }
            p if p == WEBHOOK_PATH || p.starts_with(&format!("{WEBHOOK_PATH}/")) => {
                let rest = &p[WEBHOOK_PATH.len()..];
                self.webhook(request, ip, rest).await
            }
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    fn refuse(&self, reason: Refusal, ip: IpAddr, response: Answer) -> Answer {
        self.metrics.refused(reason);
        self.log.write(
            Level::Debug,
            &format!("webhook: refused a post from {ip}: {}", reason.label()),
        );
        response
    }

    async fn webhook(&self, request: Request<Incoming>, ip: IpAddr, rest: &str) -> Answer {
        if !self.limiter.borrow_mut().allow(ip, Instant::now()) {
            return self.refuse(
                Refusal::RateLimited,
                ip,
                retry_after(text(StatusCode::TOO_MANY_REQUESTS, "too many requests")),
            );
        }
        if request.method() != Method::POST {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted");
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return self.refuse(Refusal::Method, ip, response);
        }
        let too_large = || text(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY) {
            return self.refuse(Refusal::TooLarge, ip, too_large());
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_BODY as usize).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return self.refuse(Refusal::TooLarge, ip, too_large());
            }
            Err(_) => {
                return self.refuse(
                    Refusal::Malformed,
                    ip,
                    text(StatusCode::BAD_REQUEST, "the body could not be read"),
                );
            }
        };
        let name = rest
            .strip_prefix('/')
            .filter(|s| !s.is_empty() && !s.contains('/'))
            .and_then(decode_segment);
        let service = name.and_then(|name| match self.registry.slots.borrow().get(&name) {
            Some(entry) => match &entry.slot {
                Slot::Running(service) if !service.stopping() => Some(service.clone()),
                _ => None,
            },
            None => None,
        });
        let Some(service) = service else {
            return self.refuse(
                Refusal::UnknownTenant,
                ip,
                text(StatusCode::NOT_FOUND, "unknown tenant"),
            );
        };
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let (reply, answer) = oneshot::channel();
        let job = WebhookJob {
            request: HttpRequest {
                method: parts.method.as_str().to_string(),
                path: parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string()),
                headers,
                body: body.to_vec(),
            },
            reply,
        };
        if let Err(reason) = service.offer_webhook(job) {
            return self.refuse(
                reason,
                ip,
                retry_after(text(StatusCode::SERVICE_UNAVAILABLE, "busy; try again")),
            );
        }
        match tokio::time::timeout(self.reply_bound, answer).await {
            Ok(Ok(Some(response))) => from_component(response),
            _ => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the notification could not be handled; see the service log",
            ),
        }
    }

    fn healthz(&self) -> Answer {
        let stopping = self.registry.stopping.get();
        let tenants: Vec<serde_json::Value> = self
            .registry
            .slots
            .borrow()
            .iter()
            .map(|(name, entry)| match &entry.slot {
                Slot::Running(service) => {
                    let status = service.status.get();
                    serde_json::json!({
                        "name": name,
                        "state": "running",
                        "error": null,
                        "persons": status.persons,
                        "subscriptions": {"push": status.push, "pull": status.pull},
                        "queue": service.queue_depth(),
                    })
                }
                Slot::Broken(error) => serde_json::json!({
                    "name": name,
                    "state": "broken",
                    "error": error,
                    "persons": 0,
                    "subscriptions": {"push": 0, "pull": 0},
                    "queue": 0,
                }),
            })
            .collect();
        let body = serde_json::json!({
            "status": if stopping { "stopping" } else { "ok" },
            "tenants": tenants,
        });
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        if stopping {
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// The component's answer as an HTTP response: its status when it is one
/// (else 500), its headers that are valid and not about the connection.
fn from_component(answer: HttpResponse) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|s| s.as_u16() >= 200)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(&value),
        ) else {
            continue;
        };
        if matches!(
            name,
            header::CONNECTION | header::CONTENT_LENGTH | header::TRANSFER_ENCODING
        ) {
            continue;
        }
        response.headers_mut().append(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let mut limiter = RateLimiter::new(20.0, 100.0);
        for i in 0..100 {
            assert!(limiter.allow(a, t0), "post {i} of the burst");
        }
        assert!(!limiter.allow(a, t0), "the 101st at once is refused");
        // Another source has its own bucket.
        assert!(limiter.allow(b, t0));
        // 100 ms later, two more tokens (20/s).
        let later = t0 + Duration::from_millis(100);
        assert!(limiter.allow(a, later));
        assert!(limiter.allow(a, later));
        assert!(!limiter.allow(a, later));
        // After a long pause the bucket is full again, not more.
        let much_later = t0 + Duration::from_secs(3600);
        for _ in 0..100 {
            assert!(limiter.allow(a, much_later));
        }
        assert!(!limiter.allow(a, much_later));
    }

    #[test]
    fn the_limiter_forgets_idle_sources_when_full() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(20.0, 100.0);
        for i in 0..MAX_SOURCES as u32 {
            assert!(limiter.allow(IpAddr::from(i.to_be_bytes()), t0));
        }
        assert_eq!(limiter.buckets.len(), MAX_SOURCES);
        let later = t0 + Duration::from_secs(60);
        assert!(limiter.allow("198.51.100.7".parse().unwrap(), later));
        assert!(limiter.buckets.len() < 10, "{}", limiter.buckets.len());
    }

    /// One request over a fresh connection; the status and the body.
    async fn send(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut read, mut write) = stream.split();
        let request = format!("{head}\r\nHost: test\r\nConnection: close\r\n\r\n");
        let sent = async {
            // The server may answer (and close) before the body is sent.
            let _ = write.write_all(request.as_bytes()).await;
            let _ = write.write_all(body).await;
        };
        let mut answer = Vec::new();
        let received = read.read_to_end(&mut answer);
        let (_, received) = tokio::join!(sent, received);
        let _ = received;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {text:?}"));
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    fn refused(text: &str, reason: &str) -> u64 {
        let line = format!("rooms_sync_notifications_refused_total{{reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&line))
            .map_or(0, |n| n.trim().parse().unwrap())
    }

    #[tokio::test]
    async fn the_host_refuses_bad_posts_before_any_component_runs() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let registry = Rc::new(Registry::default());
                registry.slots.borrow_mut().insert(
                    "broken".into(),
                    super::super::Entry {
                        fingerprint: Default::default(),
                        slot: Slot::Broken("bad settings".into()),
                    },
                );
                let metrics = Arc::new(Metrics::new());
                let (log, lines) = LogSink::memory();
                let http = Rc::new(Http {
                    registry: registry.clone(),
                    metrics: metrics.clone(),
                    log,
                    reply_bound: Duration::from_secs(5),
                    limiter: std::cell::RefCell::new(RateLimiter::new(0.0001, 12.0)),
                });
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let (stop, stop_rx) = watch::channel(false);
                let server = tokio::task::spawn_local(accept_loop(listener, http, stop_rx));
                let hook = WEBHOOK_PATH;

                let (status, _) = send(addr, &format!("GET {hook}/contoso HTTP/1.1"), b"").await;
                assert_eq!(status, 405);
                let (status, _) = send(
                    addr,
                    &format!("POST {hook}/contoso HTTP/1.1\r\nContent-Length: 2000000"),
                    b"",
                )
                .await;
                assert_eq!(status, 413, "refused by its Content-Length, unread");
                // Chunked, over the cap: refused while reading.
                let mut chunked = Vec::new();
                for _ in 0..20 {
                    chunked.extend_from_slice(format!("{:x}\r\n", 100_000).as_bytes());
                    chunked.extend(std::iter::repeat_n(b'<', 100_000));
                    chunked.extend_from_slice(b"\r\n");
                }
                chunked.extend_from_slice(b"0\r\n\r\n");
                let (status, _) = send(
                    addr,
                    &format!("POST {hook}/contoso HTTP/1.1\r\nTransfer-Encoding: chunked"),
                    &chunked,
                )
                .await;
                assert_eq!(status, 413, "refused at the cap while reading");
                for target in [
                    format!("{hook}/nobody"),
                    format!("{hook}/broken"),
                    hook.to_string(),
                    format!("{hook}/a/b"),
                ] {
                    let (status, body) = send(
                        addr,
                        &format!("POST {target} HTTP/1.1\r\nContent-Length: 4"),
                        b"<x/>",
                    )
                    .await;
                    assert_eq!((status, body.trim()), (404, "unknown tenant"), "{target}");
                }
                let (status, _) = send(addr, "GET /other HTTP/1.1", b"").await;
                assert_eq!(status, 404);
                // 7 webhook posts so far of a burst of 12 (the refill is
                // negligible): five more pass the limiter.
                for _ in 0..5 {
                    let (status, _) = send(addr, &format!("GET {hook}/x HTTP/1.1"), b"").await;
                    assert_eq!(status, 405);
                }
                let (status, _) = send(addr, &format!("GET {hook}/x HTTP/1.1"), b"").await;
                assert_eq!(status, 429, "the burst is used up");

                let (status, body) = send(addr, "GET /healthz HTTP/1.1", b"").await;
                assert_eq!(status, 200);
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(json["status"], "ok");
                assert_eq!(json["tenants"][0]["name"], "broken");
                assert_eq!(json["tenants"][0]["state"], "broken");
                assert_eq!(json["tenants"][0]["error"], "bad settings");
                let (status, text) = send(addr, "GET /metrics HTTP/1.1", b"").await;
                assert_eq!(status, 200);
                assert_eq!(refused(&text, "method"), 6);
                assert_eq!(refused(&text, "too_large"), 2);
                assert_eq!(refused(&text, "unknown_tenant"), 4);
                assert_eq!(refused(&text, "rate_limited"), 1);
                assert!(!lines.text().contains("<x/>"), "no body in the log");

                registry.stopping.set(true);
                let (status, body) = send(addr, "GET /healthz HTTP/1.1", b"").await;
                assert_eq!(status, 503);
                assert!(body.contains("\"stopping\""), "{body}");
                stop.send_replace(true);
                server.await.unwrap();
                assert!(
                    tokio::net::TcpStream::connect(addr).await.is_err(),
                    "the listener is closed"
                );
            })
            .await;
    }

    #[test]
    fn a_component_answer_keeps_status_body_and_safe_headers() {
        let response = from_component(HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/xml; charset=utf-8".into()),
                ("connection".into(), "close".into()),
                ("bad header".into(), "x".into()),
                ("x-ok".into(), "bad\nvalue".into()),
            ],
            body: b"<ok/>".to_vec(),
        });
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/xml; charset=utf-8"
        );
        assert_eq!(response.headers().len(), 1, "{:?}", response.headers());
        for status in [0, 99, 150, 1000] {
            let r = from_component(HttpResponse {
                status,
                headers: vec![],
                body: vec![],
            });
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{status}");
        }
    }
}
