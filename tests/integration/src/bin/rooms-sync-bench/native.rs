//! The guest's check logic compiled natively: `rooms_sync_guest::platform::Platform`
//! implemented over the same tenant data the host's capabilities read, and
//! over the host's own HTTP client (`PolicyHooks` + the tenant's
//! `ConnectionPool`).
//!
//! Each method does what the host capability of the same import does
//! (`host/src/capabilities/`), minus the crossing into the sandbox:
//!
//! - settings: `Tenant::public_config` (as `wasi:config/store`);
//! - secrets: `TenantSettings::secret` resolved with the tenant's inputs (as
//!   `secrets.reveal`); signatures from the tenant's certificate store, only
//!   for a certificate the settings name (as `secrets.sign-rs256`);
//! - tokens: the tenant's `TokenCache` (as `token-cache`);
//! - persons: the tenant's `rooms.db` (as `rooms.get-person`);
//! - HTTP: the request as `wasi:http` hands it to the hooks (absolute URI,
//!   `host` header, the guest's headers lower-cased, `content-length`), sent
//!   with `WasiHttpHooks::send_request` of a `PolicyHooks`, and the body
//!   collected into the guest's own `BodyBuffer` under the same cap;
//! - log: discarded; clock and randomness: std and `rand`.
//!
//! The trait is synchronous, so the async send is driven with
//! `Handle::block_on`; a `NativePlatform` must therefore be used from a
//! blocking thread (`spawn_blocking`), never from a runtime worker.

use rooms_sync_guest::booking::{Booking, BookingKey, CommitError, ItemRef, Page};
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rand::RngCore;
use rooms_sync_guest::auth::token::{AccessToken, RefreshToken, Secret};
use rooms_sync_guest::body::{BodyBuffer, MAX_RESPONSE_BYTES};
use rooms_sync_guest::platform::{
    CachedToken, CertificateError, ConfigReadError, ConflictBehaviour, HttpRequest, HttpResponse,
    Level, Method, Person, Platform, SecretError, Signature, SyncMode, TransportError,
    TransportKind,
};
use rooms_sync_guest::url::HttpUrl;
use rooms_sync_host::capabilities::secrets::REVEALABLE;
use rooms_sync_host::certs::{CertError, normalize_thumbprint};
use rooms_sync_host::http_policy::{ConnectionPool, HttpPolicy, PolicyHooks};
use rooms_sync_host::log::LogSink;
use rooms_sync_host::rooms_db;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_host::tokens;
use tokio::runtime::Handle;
use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

/// The host, natively.
pub struct NativePlatform {
    tenant: Arc<Tenant>,
    hooks: PolicyHooks,
    handle: Handle,
    /// When set, the requests made are kept here (to replay one alone).
    pub recorded: Option<Vec<HttpRequest>>,
}

impl NativePlatform {
    /// A platform for `tenant` whose requests pass `policy` and reuse the
    /// connections `policy` opened in `pool`.
    pub fn new(
        tenant: Arc<Tenant>,
        policy: Arc<HttpPolicy>,
        pool: Arc<ConnectionPool>,
        handle: Handle,
    ) -> NativePlatform {
        NativePlatform {
            hooks: PolicyHooks::with_pool(policy, pool, LogSink::discard()),
            tenant,
            handle,
            recorded: None,
        }
    }

    /// Sends one request through the hooks, as the check would.
    pub fn send(&mut self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        send(&mut self.hooks, &self.handle, request)
    }
}

impl Platform for NativePlatform {
    fn http(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        if let Some(recorded) = &mut self.recorded {
            recorded.push(request.clone());
        }
        send(&mut self.hooks, &self.handle, &request)
    }

    fn config(&self, key: &str) -> Result<Option<String>, ConfigReadError> {
        Ok(self.tenant.public_config().get(key).cloned())
    }

    fn reveal(&self, name: &str) -> Result<Secret, SecretError> {
        if !REVEALABLE.contains(&name) {
            return Err(SecretError::NotFound);
        }
        let tenant = &self.tenant;
        let Some(reference) = tenant.settings().secret(name) else {
            return Err(SecretError::NotFound);
        };
        reference
            .resolve(&tenant.inputs().secrets, tenant.env(), tenant.dir())
            .map(|s| Secret::new(s.expose()))
            .map_err(|e| SecretError::Unreadable(format!("{name}: {e}")))
    }

    fn sign_rs256(&self, thumbprint: &str, data: &[u8]) -> Result<Signature, CertificateError> {
        let configured = normalize_thumbprint(thumbprint)
            .is_ok_and(|n| self.tenant.settings().uses_certificate(&n));
        if !configured {
            return Err(CertificateError::NotFound(thumbprint.to_owned()));
        }
        match self
            .tenant
            .certificates()
            .sign_rs256(thumbprint, data, SystemTime::now())
        {
            Ok(s) => Ok(Signature {
                signature: s.signature,
                certificate_der: s.certificate_der,
            }),
            Err(e @ CertError::Expired { .. }) => Err(CertificateError::Expired(e.to_string())),
            Err(e @ CertError::KeyNotReadable { .. }) => {
                Err(CertificateError::KeyNotReadable(e.to_string()))
            }
            Err(e) => Err(CertificateError::NotFound(e.to_string())),
        }
    }

    fn cache_get(&self, key: &str) -> Option<CachedToken> {
        self.tenant.tokens().get(key).map(|t| CachedToken {
            access_token: AccessToken::new(t.access_token),
            expires_at: t.expires_at,
            refresh_token: t.refresh_token.map(RefreshToken::new),
        })
    }

    fn cache_put(&mut self, key: &str, token: &CachedToken) {
        let _ = self.tenant.tokens().put(
            key.to_owned(),
            tokens::CachedToken {
                access_token: token.access_token.expose().to_owned(),
                expires_at: token.expires_at,
                refresh_token: token.refresh_token.as_ref().map(|r| r.expose().to_owned()),
            },
        );
    }

    fn cache_remove(&mut self, key: &str) {
        self.tenant.tokens().remove(key);
    }

    fn log(&self, _level: Level, _message: &str) {}

    fn person(&self, email: &str) -> Option<Person> {
        let p = self.tenant.db().get_person(email).ok().flatten()?;
        Some(Person {
            email: p.email,
            sync_mode: match p.sync_mode {
                rooms_db::SyncMode::O365 => SyncMode::O365,
                rooms_db::SyncMode::O365Pull => SyncMode::O365Pull,
            },
            sync_url: p.sync_url,
            conflict_behaviour: match p.conflict {
                rooms_db::ConflictBehaviour::Rollback => ConflictBehaviour::Rollback,
                rooms_db::ConflictBehaviour::Cancel => ConflictBehaviour::Cancel,
            },
            sync_disabled: p.sync_disabled,
            room: p.room,
            sync_master: p.sync_master,
        })
    }

    // The check benchmark runs `diagnostics::check`, which never reads or
    // writes bookings: the store methods below are not measured, and answer
    // as an empty store that keeps nothing.

    fn sync_state(&self, _mailbox: &str) -> Option<String> {
        None
    }

    fn pending_changes(&self, _mailbox: &str, _limit: u32) -> Vec<Booking> {
        Vec::new()
    }

    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>> {
        vec![None; keys.len()]
    }

    fn linked_items(&self, _mailbox: &str) -> Vec<ItemRef> {
        Vec::new()
    }

    fn commit(&mut self, _page: &Page) -> Result<(), CommitError> {
        Err(CommitError::Store(
            "the check benchmark's platform has no booking store".into(),
        ))
    }

    fn find_subscription(&self, _id: &str) -> Option<rooms_sync_guest::platform::Subscription> {
        None
    }

    fn wait(&mut self, _mailbox: &str, _ms: u64) -> bool {
        false
    }

    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut bytes = vec![0; n];
        rand::rng().fill_bytes(&mut bytes);
        bytes
    }
}

/// `request` as `wasi:http`'s outgoing handler builds it for the hooks, sent
/// through `hooks`, the whole body read into a `BodyBuffer`.
fn send(
    hooks: &mut PolicyHooks,
    handle: &Handle,
    request: &HttpRequest,
) -> Result<HttpResponse, TransportError> {
    let url = HttpUrl::parse(&request.url).map_err(|problem| TransportError {
        kind: TransportKind::Other,
        detail: format!("invalid request URL: {problem}"),
    })?;
    let shown = url.without_query();
    let fail = |kind, what: String| TransportError {
        kind,
        detail: format!("{shown}: {what}"),
    };
    let authority = url.authority();
    let uri = http::Uri::builder()
        .scheme(if url.is_https() { "https" } else { "http" })
        .authority(authority.as_str())
        .path_and_query(url.path_and_query())
        .build()
        .map_err(|e| fail(TransportKind::Other, e.to_string()))?;
    let mut builder = http::Request::builder()
        .method(match request.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
        })
        .uri(uri)
        .header(http::header::HOST, authority.as_str());
    for (name, value) in &request.headers {
        builder = builder.header(name.to_ascii_lowercase(), value.as_str());
    }
    if request.method == Method::Post {
        builder = builder.header(http::header::CONTENT_LENGTH, request.body.len());
    }
    let body: WasiBody = Full::new(Bytes::from(request.body.clone()))
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed_unsync();
    let http_request = builder
        .body(body)
        .map_err(|e| fail(TransportKind::Other, e.to_string()))?;
    let future = hooks.send_request(http_request, None, Box::new(async { Ok(()) }));
    handle.block_on(async move {
        let (response, _io) = Pin::from(future).await.map_err(|code| {
            let kind = match code {
                wasmtime_wasi_http::Error::HttpRequestDenied => TransportKind::Denied,
                _ => TransportKind::Other,
            };
            fail(kind, format!("{code:?}"))
        })?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let content_length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.as_str());
        let mut data = BodyBuffer::new(MAX_RESPONSE_BYTES, content_length);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|code| fail(TransportKind::Connection, format!("{code:?}")))?;
            if let Ok(chunk) = frame.into_data()
                && data.push(&chunk).is_err()
            {
                return Err(fail(
                    TransportKind::ResponseTooLarge,
                    format!("over {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body: data.finish(),
        })
    })
}
