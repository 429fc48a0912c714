//! The component's view of its host: one trait, [`Platform`], and the plain
//! types that cross it.
//!
//! Everything the logic needs from outside the sandbox (HTTP, settings,
//! secrets, signing, the token cache, the ROOMS data, logging, the clock and
//! randomness) goes through this trait. The component implements it over the
//! WIT imports (`wasi_platform`, wasm32 only); unit tests implement it in
//! memory. None of these types are generated bindings, so the logic compiles
//! and tests natively.

use std::fmt;

use crate::auth::token::{AccessToken, RefreshToken, Secret};
use crate::booking::{Booking, BookingKey, CommitError, ItemRef, Page};

/// The host, as seen by the sync logic.
///
/// Methods that only read take `&self`; methods with an effect on the host
/// (network, cache writes, randomness) take `&mut self`.
pub trait Platform {
    /// Sends one HTTP request and returns the complete response.
    ///
    /// Redirects are never followed: a 3xx comes back as a response. A
    /// request refused by the host's policy, or one that got no usable
    /// answer, is a [`TransportError`].
    fn http(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Reads a non-secret setting by its `RoomsAppSettings` key.
    ///
    /// `Ok(None)` when the key is not set; `Err` when the settings store
    /// itself failed.
    fn config(&self, key: &str) -> Result<Option<String>, ConfigReadError>;

    /// Reveals a named secret (`ExchangeClientSecret`, `ExchangeServicePassword`).
    fn reveal(&self, name: &str) -> Result<Secret, SecretError>;

    /// Asks the host to sign `data` (RS256) with the certificate whose SHA-1
    /// thumbprint is `thumbprint` (40 upper-case hex digits).
    fn sign_rs256(&self, thumbprint: &str, data: &[u8]) -> Result<Signature, CertificateError>;

    /// Reads a cached token.
    fn cache_get(&self, key: &str) -> Option<CachedToken>;

    /// Stores a token after a successful token request.
    fn cache_put(&mut self, key: &str, token: &CachedToken);

    /// Forgets a token that was refused.
    fn cache_remove(&mut self, key: &str);

    /// Writes a diagnostic line. Callers never pass secrets; the component's
    /// implementation passes every line through [`crate::safe_text::message`].
    fn log(&self, level: Level, message: &str);

    /// Looks a ROOMS person or room up by address (case-insensitive).
    fn person(&self, email: &str) -> Option<Person>;

    /// The committed `SyncFolderItems` state of `mailbox`'s calendar.
    fn sync_state(&self, mailbox: &str) -> Option<String>;

    /// Bookings homed in `mailbox` with local changes to write, oldest first.
    fn pending_changes(&self, mailbox: &str, limit: u32) -> Vec<Booking>;

    /// The bookings homed in `mailbox`, any state, that start before `to`
    /// (`rooms-sync diff` decides which overlap `[from, to)`), by start.
    /// The default (a platform without a booking store, like the unit
    /// tests' and the bench's) has none.
    fn list_bookings(&self, mailbox: &str, from: i64, to: i64) -> Vec<Booking> {
        let _ = (mailbox, from, to);
        Vec::new()
    }

    /// The stored booking for each key, in order.
    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>>;

    /// Every item in `mailbox` that a booking links to (for a full resync).
    fn linked_items(&self, mailbox: &str) -> Vec<ItemRef>;

    /// Stores a page in one transaction, or nothing.
    fn commit(&mut self, page: &Page) -> Result<(), CommitError>;

    /// The stored change subscription with this EWS `SubscriptionId`, none
    /// when the host holds no such subscription (of this tenant).
    fn find_subscription(&self, id: &str) -> Option<Subscription>;

    /// Stores the push subscription `id` of `mailbox` as the `subscription`
    /// check's probe (`rooms.record-probe`); false when it cannot be
    /// stored. The default (a platform without a probe store, like the
    /// bench's) stores nothing.
    fn record_probe(&mut self, id: &str, mailbox: &str) -> bool {
        let _ = (id, mailbox);
        false
    }

    /// True once the service received a notification of the probe `id`
    /// (`rooms.probe-delivered`).
    fn probe_delivered(&self, id: &str) -> bool {
        let _ = id;
        false
    }

    /// Forgets the probe `id` (`rooms.drop-probe`).
    fn drop_probe(&mut self, id: &str) {
        let _ = id;
    }

    /// Waits `ms` milliseconds on the host's clock before the next request
    /// to `mailbox`; false when the wait would pass the call's deadline.
    fn wait(&mut self, mailbox: &str, ms: u64) -> bool;

    /// The wall-clock time in seconds since the Unix epoch.
    fn now_unix(&self) -> u64;

    /// `n` bytes from the host's secure random source.
    fn random_bytes(&mut self, n: usize) -> Vec<u8>;
}

/// HTTP methods the component uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// An outgoing HTTP request.
///
/// `Debug` hides the body and the value of the `Authorization` header, which
/// carry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute `http://` or `https://` URL.
    pub url: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The request body (empty for none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `POST` of `body` to `url` with the given headers.
    pub fn post(url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        Self {
            method: Method::Post,
            url: url.to_owned(),
            headers,
            body,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case("authorization") {
                    (name.as_str(), "[redacted]")
                } else {
                    (name.as_str(), value.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .finish()
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order (values decoded lossily as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The media type of the body (`text/xml`), lower-case, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The `Retry-After` header as milliseconds, when it is a number of
    /// seconds (the HTTP-date form is ignored).
    pub fn retry_after_ms(&self) -> Option<u64> {
        let seconds: u64 = self.header("retry-after")?.trim().parse().ok()?;
        Some(seconds.saturating_mul(1000))
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Kinds of transport failure (the WIT `transport-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The host's HTTP policy refused the request.
    Denied,
    /// The host name did not resolve.
    Dns,
    /// Nothing listens at the address, or the connection was reset.
    Connection,
    /// Connect or first-byte timeout.
    Timeout,
    /// TLS handshake or certificate problem.
    Tls,
    /// The response exceeded a size cap.
    ResponseTooLarge,
    /// The server answered with a redirect, which is never followed.
    Redirect,
    /// Anything else.
    Other,
}

/// A request that got no HTTP answer the component could use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// The class of failure.
    pub kind: TransportKind,
    /// The URL (without query) and the underlying error.
    pub detail: String,
}

/// The settings store failed (not: a key is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReadError(pub String);

/// Why a secret could not be revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// The tenant has no secret of this name.
    NotFound,
    /// The secret is configured but unreadable; carries the reason, never the value.
    Unreadable(String),
}

/// Why the host could not sign (the WIT `certificate-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateError {
    /// No certificate with this thumbprint; carries the thumbprint.
    NotFound(String),
    /// The private key is missing, encrypted or not RSA; carries the reason.
    KeyNotReadable(String),
    /// The certificate is outside its validity period; carries the date (RFC 3339).
    Expired(String),
}

/// An RS256 signature and the DER certificate whose key made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The RSASSA-PKCS1-v1_5 SHA-256 signature.
    pub signature: Vec<u8>,
    /// The DER encoding of the certificate.
    pub certificate_der: Vec<u8>,
}

/// A token as it is kept in the host's token cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The bearer token for EWS.
    pub access_token: AccessToken,
    /// When the access token expires, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// The newest refresh token (delegated sign-in only).
    pub refresh_token: Option<RefreshToken>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Step-by-step detail.
    Trace,
    /// Detail useful when investigating a problem.
    Debug,
    /// Normal progress.
    Info,
    /// Something was wrong but the call went on.
    Warn,
    /// The call failed.
    Error,
}

/// Push or pull change detection of a person (`SyncMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `O365`: push subscriptions.
    O365,
    /// `O365Pull`: pull subscriptions.
    O365Pull,
}

/// What ROOMS does on conflicts (`SyncConflictBehaviour`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictBehaviour {
    /// Reset the Outlook item to the ROOMS state.
    Rollback,
    /// Cancel the ROOMS booking and unlink the Outlook item.
    Cancel,
}

/// A ROOMS person or room whose Exchange calendar is synchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The mailbox address; must be its primary SMTP address.
    pub email: String,
    /// Push or pull change detection.
    pub sync_mode: SyncMode,
    /// The EWS endpoint; empty means the Exchange Online default.
    pub sync_url: String,
    /// What to do on conflicts.
    pub conflict_behaviour: ConflictBehaviour,
    /// True when ROOMS stopped syncing this person after repeated errors.
    pub sync_disabled: bool,
    /// True for a room (a resource mailbox).
    pub room: bool,
    /// `Ist Sync-Master` (rooms only).
    pub sync_master: bool,
}

/// A change subscription on one person's calendar folder, as the host
/// stores it (the WIT `subscription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The watched mailbox: the person's address, lower-case.
    pub mailbox: String,
    /// [`SyncMode::O365`] for a push subscription, [`SyncMode::O365Pull`]
    /// for a pull one.
    pub mode: SyncMode,
    /// The EWS `SubscriptionId`.
    pub id: String,
    /// The watermark of the last event acknowledged.
    pub watermark: String,
    /// The `X-BackEndOverrideCookie` value Exchange set when the
    /// subscription was made, sent back with its `GetEvents` and
    /// `Unsubscribe`.
    pub affinity: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_debug_hides_authorization_and_body() {
        let request = HttpRequest::post(
            "https://outlook.office365.com/EWS/Exchange.asmx",
            vec![
                (
                    "Authorization".into(),
                    "Bearer eyJ0eXAiOiJKV1Qi.secret".into(),
                ),
                ("X-AnchorMailbox".into(), "room@contoso.com".into()),
            ],
            b"client_secret=hunter2".to_vec(),
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("eyJ0eXAiOiJKV1Qi"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(debug.contains("room@contoso.com"), "{debug}");
        assert!(debug.contains("[21 bytes]"), "{debug}");
    }

    #[test]
    fn response_helpers_read_headers_case_insensitively() {
        let response = HttpResponse {
            status: 503,
            headers: vec![
                ("content-type".into(), "Text/XML; charset=utf-8".into()),
                ("Retry-After".into(), " 30 ".into()),
            ],
            body: Vec::new(),
        };
        assert_eq!(response.media_type().as_deref(), Some("text/xml"));
        assert_eq!(response.retry_after_ms(), Some(30_000));
        assert_eq!(response.header("RETRY-AFTER"), Some(" 30 "));
    }

    #[test]
    fn retry_after_as_http_date_is_not_a_number() {
        let response = HttpResponse {
            status: 429,
            headers: vec![("Retry-After".into(), "Wed, 21 Oct 2026 07:28:00 GMT".into())],
            body: Vec::new(),
        };
        assert_eq!(response.retry_after_ms(), None);
    }
}
