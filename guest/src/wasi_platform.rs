//! [`Platform`] over the component's imports (wasm32 only).
//!
//! Settings come from `wasi:config/store`, secrets and signatures from
//! `secrets`, tokens from `token-cache`; persons, bookings, sync states and
//! committed pages go through `rooms` (converted by `wit_booking`), as do
//! the stored change subscriptions (`find-subscription`); waits
//! through `pacing`; log lines go to `log` (each made safe by
//! [`safe_text::message`] on the way); the clock is `wasi:clocks/wall-clock`
//! and randomness `wasi:random/random`. HTTP uses raw `wasi:http` (no async
//! runtime): the request is handed to the host first, then the body is
//! streamed, then the response is awaited and read up to
//! [`MAX_RESPONSE_BYTES`] into a [`BodyBuffer`] (reserved from
//! `Content-Length`, else collected in blocks and joined once, so the peak
//! stays bounded). Every `wasi:http` error code maps to a [`TransportKind`];
//! a body-write failure never hides the response future's own error (a
//! policy denial shows as `denied`, not as a broken pipe).

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method as WasiMethod,
    OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::auth::token::{AccessToken, RefreshToken, Secret};
use crate::body::{BodyBuffer, MAX_RESPONSE_BYTES, StreamFailure};
use crate::booking::{Booking, BookingKey, CommitError, ItemRef, Page};
use crate::component::bindings::rooms::exchange_sync::{
    log, pacing, rooms, secrets, token_cache, types,
};
use crate::component::bindings::wasi::config::store;
use crate::platform::{
    CachedToken, CertificateError, ConfigReadError, ConflictBehaviour, HttpRequest, HttpResponse,
    Level, Method, Person, Platform, SecretError, Signature, Subscription, SyncMode,
    TransportError, TransportKind,
};
use crate::safe_text;
use crate::url::HttpUrl;

/// The host, through the WIT imports.
pub struct WasiPlatform;

impl Platform for WasiPlatform {
    fn http(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        send(request)
    }

    fn config(&self, key: &str) -> Result<Option<String>, ConfigReadError> {
        store::get(key).map_err(|e| {
            ConfigReadError(match e {
                store::Error::Upstream(reason) | store::Error::Io(reason) => reason,
            })
        })
    }

    fn reveal(&self, name: &str) -> Result<Secret, SecretError> {
        secrets::reveal(name).map(Secret::new).map_err(|e| match e {
            secrets::SecretError::NotFound => SecretError::NotFound,
            secrets::SecretError::Unreadable(reason) => SecretError::Unreadable(reason),
        })
    }

    fn sign_rs256(&self, thumbprint: &str, data: &[u8]) -> Result<Signature, CertificateError> {
        secrets::sign_rs256(thumbprint, data)
            .map(|s| Signature {
                signature: s.signature,
                certificate_der: s.certificate_der,
            })
            .map_err(|e| match e {
                types::CertificateError::NotFound(t) => CertificateError::NotFound(t),
                types::CertificateError::KeyNotReadable(r) => CertificateError::KeyNotReadable(r),
                types::CertificateError::Expired(d) => CertificateError::Expired(d),
            })
    }

    fn cache_get(&self, key: &str) -> Option<CachedToken> {
        token_cache::get(key).map(|t| CachedToken {
            access_token: AccessToken::new(t.access_token),
            expires_at: t.expires_at,
            refresh_token: t.refresh_token.map(RefreshToken::new),
        })
    }

    fn cache_put(&mut self, key: &str, token: &CachedToken) {
        token_cache::put(
            key,
            &token_cache::CachedToken {
                access_token: token.access_token.expose().to_owned(),
                expires_at: token.expires_at,
                refresh_token: token.refresh_token.as_ref().map(|r| r.expose().to_owned()),
            },
        );
    }

    fn cache_remove(&mut self, key: &str) {
        token_cache::remove(key);
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Trace => log::Level::Trace,
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        // The final pass over every log line: server text in it is made safe.
        log::log(level, &safe_text::message_cow(message));
    }

    fn person(&self, email: &str) -> Option<Person> {
        rooms::get_person(email).map(person)
    }

    fn sync_state(&self, mailbox: &str) -> Option<String> {
        rooms::get_sync_state(mailbox)
    }

    fn pending_changes(&self, mailbox: &str, limit: u32) -> Vec<Booking> {
        rooms::pending_changes(mailbox, limit)
            .into_iter()
            .map(Booking::from)
            .collect()
    }

    fn list_bookings(&self, mailbox: &str, from: i64, to: i64) -> Vec<Booking> {
        rooms::list_bookings(mailbox, from, to)
            .into_iter()
            .map(Booking::from)
            .collect()
    }

    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>> {
        let keys: Vec<rooms::BookingKey> = keys.iter().map(Into::into).collect();
        rooms::find_bookings(&keys)
            .into_iter()
            .map(|found| found.map(Booking::from))
            .collect()
    }

    fn linked_items(&self, mailbox: &str) -> Vec<ItemRef> {
        rooms::linked_items(mailbox)
            .into_iter()
            .map(ItemRef::from)
            .collect()
    }

    fn commit(&mut self, page: &Page) -> Result<(), CommitError> {
        rooms::commit(&page.into()).map_err(CommitError::from)
    }

    fn find_subscription(&self, id: &str) -> Option<Subscription> {
        rooms::find_subscription(id).map(subscription)
    }

    fn record_probe(&mut self, id: &str, mailbox: &str) -> bool {
        rooms::record_probe(id, mailbox)
    }

    fn probe_delivered(&self, id: &str) -> bool {
        rooms::probe_delivered(id)
    }

    fn drop_probe(&mut self, id: &str) {
        rooms::drop_probe(id);
    }

    fn wait(&mut self, mailbox: &str, ms: u64) -> bool {
        pacing::wait(mailbox, ms)
    }

    fn now_unix(&self) -> u64 {
        wasip2::clocks::wall_clock::now().seconds
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        wasip2::random::random::get_random_bytes(n as u64)
    }
}

/// Sends `request` through `wasi:http/outgoing-handler` and reads the whole
/// response.
///
/// Host calls are what a call into the component costs most, so the
/// request's headers and body are handed over without copies, the response
/// future is not polled before it is waited on, and a body of known length
/// is not read past its end.
fn send(request: HttpRequest) -> Result<HttpResponse, TransportError> {
    let url = HttpUrl::parse(&request.url).map_err(|problem| TransportError {
        kind: TransportKind::Other,
        detail: format!("invalid request URL: {problem}"),
    })?;
    // The URL as shown in errors, built only when there is one.
    let fail = |kind, what: &str| TransportError {
        kind,
        detail: format!("{}: {what}", url.without_query()),
    };

    let HttpRequest {
        method,
        headers,
        body: request_body,
        ..
    } = request;
    let mut entries: Vec<(String, Vec<u8>)> = headers
        .into_iter()
        .map(|(mut name, value)| {
            name.make_ascii_lowercase();
            (name, value.into_bytes())
        })
        .collect();
    if method == Method::Post {
        entries.push((
            "content-length".into(),
            request_body.len().to_string().into_bytes(),
        ));
    }
    let headers = Fields::from_list(&entries).map_err(|e| {
        fail(
            TransportKind::Other,
            &format!("a request header was refused ({e:?})"),
        )
    })?;
    drop(entries);
    let outgoing = OutgoingRequest::new(headers);
    let wasi_method = match method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
    };
    let scheme = if url.is_https() {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let refused = |what: &str| {
        fail(
            TransportKind::Other,
            &format!("the host refused the {what}"),
        )
    };
    outgoing
        .set_method(&wasi_method)
        .map_err(|()| refused("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    outgoing
        .set_authority(Some(&url.authority()))
        .map_err(|()| refused("authority"))?;
    outgoing
        .set_path_with_query(Some(url.path_and_query()))
        .map_err(|()| refused("path"))?;
    let body = outgoing.body().map_err(|()| refused("request body"))?;

    let future = outgoing_handler::handle(outgoing, None).map_err(|code| from_code(&url, &code))?;
    // A write error usually means the request was refused, the connection
    // failed or the server answered early: the response future (and the
    // response) say which, so the write error is only reported when neither
    // has anything better.
    let written = write_body(body, &request_body);
    drop(request_body);
    let response = match wait(&future) {
        Ok(response) => response,
        Err(error) => return Err(from_code(&url, &error)),
    };
    match (written, read_response(&url, response)) {
        (_, Ok(response)) => Ok(response),
        (Err(what), Err(_)) => Err(fail(TransportKind::Connection, &what)),
        (Ok(()), Err(error)) => Err(error),
    }
}

fn write_body(body: OutgoingBody, data: &[u8]) -> Result<(), String> {
    {
        let stream = body
            .write()
            .map_err(|()| "the request body stream is unavailable".to_owned())?;
        // `blocking-write-and-flush` takes at most 4096 bytes per call.
        for chunk in data.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| {
                format!(
                    "writing the request body failed ({})",
                    describe_stream_error(&e)
                )
            })?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|code| {
        format!(
            "finishing the request body failed ({})",
            safe_text::display(&format_args!("{code:?}"), safe_text::QUOTE_MAX_CHARS)
        )
    })
}

fn wait(future: &FutureIncomingResponse) -> Result<IncomingResponse, ErrorCode> {
    loop {
        // Blocking first: the answer is never there before the host had a
        // turn, so asking first would only cost a call.
        future.subscribe().block();
        match future.get() {
            Some(Ok(result)) => return result,
            Some(Err(())) => {
                return Err(ErrorCode::InternalError(Some(
                    "the response was already taken".into(),
                )));
            }
            None => {}
        }
    }
}

fn read_response(
    url: &HttpUrl,
    response: IncomingResponse,
) -> Result<HttpResponse, TransportError> {
    let status = response.status();
    let headers: Vec<(String, String)> = {
        let fields = response.headers();
        fields
            .entries()
            .into_iter()
            .map(|(name, value)| {
                // Kept as received when UTF-8 (no copy), else decoded lossily.
                let value = String::from_utf8(value)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                (name, value)
            })
            .collect()
    };
    let fail = |kind, what: &str| TransportError {
        kind,
        detail: format!("{}: {what}", url.without_query()),
    };
    let body = response
        .consume()
        .map_err(|()| fail(TransportKind::Other, "the response body is unavailable"))?;
    let content_length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.as_str());
    let mut data = BodyBuffer::new(MAX_RESPONSE_BYTES, content_length);
    {
        let stream = body.stream().map_err(|()| {
            fail(
                TransportKind::Other,
                "the response body stream is unavailable",
            )
        })?;
        // With a Content-Length the end is known: the host's HTTP client
        // checks the length, so no read is spent on seeing the stream close.
        while !data.is_complete() {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if data.push_owned(chunk).is_err() {
                        return Err(fail(
                            TransportKind::ResponseTooLarge,
                            &format!("the response body exceeds {MAX_RESPONSE_BYTES} bytes"),
                        ));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(match wasip2::http::types::http_error_code(&e) {
                        Some(code) => from_code(url, &code),
                        None => match StreamFailure::from_host_text(&e.to_debug_string()) {
                            StreamFailure::TooLarge => fail(
                                TransportKind::ResponseTooLarge,
                                "the response exceeds the host's size cap",
                            ),
                            StreamFailure::TimedOut => fail(
                                TransportKind::Timeout,
                                "the host stopped waiting for the rest of the answer",
                            ),
                            StreamFailure::Broken(first) => fail(
                                TransportKind::Connection,
                                &format!(
                                    "the connection broke while reading the answer ({})",
                                    safe_text::quote(&first)
                                ),
                            ),
                        },
                    });
                }
            }
        }
    }
    // The trailers are never used: the body is dropped, not finished.
    drop(body);
    Ok(HttpResponse {
        status,
        headers,
        body: data.finish(),
    })
}

fn describe_stream_error(error: &StreamError) -> String {
    match error {
        StreamError::Closed => "closed".into(),
        StreamError::LastOperationFailed(e) => {
            match StreamFailure::from_host_text(&e.to_debug_string()) {
                StreamFailure::TooLarge => "the host's size cap was reached".to_owned(),
                StreamFailure::TimedOut => "the host stopped waiting".to_owned(),
                StreamFailure::Broken(first) => safe_text::quote(&first),
            }
        }
    }
}

/// The transport error for a `wasi:http` error code.
fn from_code(url: &HttpUrl, code: &ErrorCode) -> TransportError {
    let (kind, what) = match code {
        ErrorCode::HttpRequestDenied => (TransportKind::Denied, "HTTP-request-denied".to_owned()),
        ErrorCode::DestinationIpProhibited => (
            TransportKind::Denied,
            "the destination address is prohibited by the host".to_owned(),
        ),
        ErrorCode::DnsTimeout => (TransportKind::Dns, "DNS lookup timed out".to_owned()),
        ErrorCode::DnsError(p) => (
            TransportKind::Dns,
            format!(
                "DNS lookup failed ({})",
                safe_text::name(p.rcode.as_deref().unwrap_or("no such host"))
            ),
        ),
        ErrorCode::DestinationNotFound => {
            (TransportKind::Dns, "the host name was not found".to_owned())
        }
        ErrorCode::ConnectionRefused => {
            (TransportKind::Connection, "connection refused".to_owned())
        }
        ErrorCode::ConnectionTerminated => {
            (TransportKind::Connection, "connection reset".to_owned())
        }
        ErrorCode::HttpResponseIncomplete | ErrorCode::HttpProtocolError => (
            TransportKind::Connection,
            "the connection closed without a complete HTTP answer".to_owned(),
        ),
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => (
            TransportKind::Connection,
            "the destination is unreachable".to_owned(),
        ),
        ErrorCode::ConnectionLimitReached => (
            TransportKind::Connection,
            "the host's connection limit was reached".to_owned(),
        ),
        ErrorCode::ConnectionTimeout => (TransportKind::Timeout, "connect timed out".to_owned()),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            (TransportKind::Timeout, "no answer in time".to_owned())
        }
        ErrorCode::ConnectionWriteTimeout => {
            (TransportKind::Timeout, "sending timed out".to_owned())
        }
        ErrorCode::TlsProtocolError => (TransportKind::Tls, "TLS protocol error".to_owned()),
        ErrorCode::TlsCertificateError => (
            TransportKind::Tls,
            "the server certificate was not accepted".to_owned(),
        ),
        ErrorCode::TlsAlertReceived(p) => (
            TransportKind::Tls,
            format!(
                "TLS alert {}",
                safe_text::name(p.alert_message.as_deref().unwrap_or("received"))
            ),
        ),
        ErrorCode::HttpResponseBodySize(_)
        | ErrorCode::HttpResponseHeaderSize(_)
        | ErrorCode::HttpResponseHeaderSectionSize(_)
        | ErrorCode::HttpResponseTrailerSize(_)
        | ErrorCode::HttpResponseTrailerSectionSize(_) => (
            TransportKind::ResponseTooLarge,
            "the response exceeds the host's size cap".to_owned(),
        ),
        // Texts in an error code may come from the server (through the
        // host's HTTP stack): quoted.
        other => (
            TransportKind::Other,
            safe_text::display(&format_args!("{other:?}"), safe_text::QUOTE_MAX_CHARS),
        ),
    };
    TransportError {
        kind,
        detail: format!("{}: {what}", url.without_query()),
    }
}

/// A WIT person as the platform's [`Person`].
pub(crate) fn person(p: rooms::Person) -> Person {
    Person {
        email: p.email,
        sync_mode: sync_mode(p.sync_mode),
        sync_url: p.sync_url,
        conflict_behaviour: match p.conflict_behaviour {
            types::ConflictBehaviour::Rollback => ConflictBehaviour::Rollback,
            types::ConflictBehaviour::Cancel => ConflictBehaviour::Cancel,
        },
        sync_disabled: p.sync_disabled,
        room: p.room,
        sync_master: p.sync_master,
    }
}

/// A WIT subscription as the platform's [`Subscription`].
pub(crate) fn subscription(s: types::Subscription) -> Subscription {
    Subscription {
        mailbox: s.mailbox,
        mode: sync_mode(s.mode),
        id: s.id,
        watermark: s.watermark,
        affinity: s.affinity,
    }
}

fn sync_mode(mode: types::SyncMode) -> SyncMode {
    match mode {
        types::SyncMode::O365 => SyncMode::O365,
        types::SyncMode::O365Pull => SyncMode::O365Pull,
    }
}
