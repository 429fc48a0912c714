//! Keep-alive connections of one tenant.
//!
//! A [`ConnectionPool`] holds idle HTTP/1.1 connections so that the next
//! request to the same origin skips DNS-to-TLS setup. One pool belongs to one
//! tenant and is shared by the stores of its calls
//! ([`PolicyHooks::with_pool`](super::PolicyHooks::with_pool)); tenants never
//! share one.
//!
//! An idle connection is keyed by its origin (scheme, host, port) *and* the
//! address it is connected to, and remembers the policy object that allowed
//! it. It is handed out again only
//!
//! - to a request of the same policy object (`Arc` identity: a new policy,
//!   even with the same rules, starts with fresh connections), whose policy
//!   still allows the origin;
//! - when its address is one the request's own, current resolution allowed;
//! - before its idle timeout (the shorter of the pool's and the policy's
//!   [`HttpLimits::idle_timeout`](super::HttpLimits::idle_timeout));
//! - when hyper reports it open and ready.
//!
//! A connection comes back only after its response body was read to the end
//! without error; any other connection is closed when its last user lets go.
//! At most [`PoolConfig::max_idle_per_origin`] idle connections are kept per
//! origin; a policy that is dropped takes its idle connections with it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use rustls::pki_types::CertificateDer;
use tokio::task::AbortHandle;
use wasmtime_wasi_http::WasiBody;

use super::policy::{HttpPolicy, Origin};

/// How a [`ConnectionPool`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Longest time an idle connection is kept (a policy may ask for less).
    pub idle_timeout: Duration,
    /// Most idle connections kept per origin; zero turns pooling off.
    pub max_idle_per_origin: usize,
    /// Trust anchors (DER certificates) accepted besides the Mozilla roots
    /// of `webpki-roots`: a private CA, or a test's own.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            idle_timeout: Duration::from_secs(60),
            max_idle_per_origin: 8,
            extra_root_certificates: Vec::new(),
        }
    }
}

/// A pool could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// An extra root certificate is not a usable DER certificate.
    #[error("extra root certificate {index} cannot be used as a trust anchor: {reason}")]
    BadRootCertificate {
        /// Its position in [`PoolConfig::extra_root_certificates`].
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Counters of a pool, for tests and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections established (TCP, and TLS for https).
    pub opened: u64,
    /// Requests sent on a connection taken from the pool.
    pub reused: u64,
    /// Connections idle in the pool now.
    pub idle: usize,
}

/// An open HTTP/1.1 connection: hyper's request handle and the task that
/// drives the socket. Dropping it closes the socket at once.
pub(crate) struct Connection {
    pub(crate) sender: SendRequest<WasiBody>,
    pub(crate) driver: AbortHandle,
    pub(crate) origin: Origin,
    pub(crate) addr: SocketAddr,
    pub(crate) policy: Weak<HttpPolicy>,
    /// How long it may wait idle, from the policy that opened it.
    pub(crate) idle_timeout: Duration,
    /// Whether it came from the pool (a request it could not send may then
    /// be retried on a fresh connection).
    pub(crate) reused: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

struct Idle {
    conn: Connection,
    expires: Instant,
}

impl Idle {
    fn usable(&self, now: Instant) -> bool {
        self.expires > now && self.conn.policy.strong_count() > 0 && !self.conn.sender.is_closed()
    }
}

/// The keep-alive connections of one tenant; see the module documentation.
pub struct ConnectionPool {
    config: PoolConfig,
    roots: Vec<CertificateDer<'static>>,
    tls: OnceLock<Arc<rustls::ClientConfig>>,
    idle: Mutex<HashMap<Origin, Vec<Idle>>>,
    reaper_running: AtomicBool,
    opened: AtomicU64,
    reused: AtomicU64,
    this: Weak<ConnectionPool>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl ConnectionPool {
    /// A pool with the default [`PoolConfig`] (60 s idle, 8 per origin, the
    /// Mozilla roots).
    pub fn new() -> Arc<ConnectionPool> {
        Self::build(PoolConfig::default(), Vec::new())
    }

    /// A pool with `config`; fails when an extra root certificate cannot be
    /// used.
    pub fn with_config(config: PoolConfig) -> Result<Arc<ConnectionPool>, PoolError> {
        let mut roots = Vec::new();
        for (index, der) in config.extra_root_certificates.iter().enumerate() {
            let cert = CertificateDer::from(der.clone());
            rustls::RootCertStore::empty()
                .add(cert.clone())
                .map_err(|e| PoolError::BadRootCertificate {
                    index,
                    reason: e.to_string(),
                })?;
            roots.push(cert);
        }
        Ok(Self::build(config, roots))
    }

    fn build(config: PoolConfig, roots: Vec<CertificateDer<'static>>) -> Arc<ConnectionPool> {
        Arc::new_cyclic(|this| ConnectionPool {
            config,
            roots,
            tls: OnceLock::new(),
            idle: Mutex::new(HashMap::new()),
            reaper_running: AtomicBool::new(false),
            opened: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            this: this.clone(),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            opened: self.opened.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            idle: self.lock().values().map(Vec::len).sum(),
        }
    }

    /// Closes every idle connection.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Origin, Vec<Idle>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The TLS client configuration: Mozilla roots plus the extra ones, ring,
    /// TLS 1.2 and 1.3, ALPN `http/1.1`. Built on first use and kept, so TLS
    /// sessions of this tenant resume.
    pub(crate) fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                for cert in &self.roots {
                    // Checked in `with_config`.
                    let _ = roots.add(cert.clone());
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let mut config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("the ring provider supports TLS 1.2 and 1.3")
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(config)
            })
            .clone()
    }

    pub(crate) fn count_opened(&self) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// An idle connection for a request of `policy` to `origin`, connected
    /// to one of `addrs` (the addresses the request's own resolution
    /// allowed).
    pub(crate) fn checkout(
        &self,
        origin: &Origin,
        addrs: &[SocketAddr],
        policy: &Arc<HttpPolicy>,
    ) -> Option<Connection> {
        if !policy.allows(origin) {
            return None;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        let list = idle.get_mut(origin)?;
        list.retain(|entry| entry.usable(now));
        let found = list.iter().rposition(|entry| {
            std::ptr::eq(entry.conn.policy.as_ptr(), Arc::as_ptr(policy))
                && addrs.contains(&entry.conn.addr)
                && entry.conn.sender.is_ready()
        });
        let taken = found.map(|at| list.remove(at).conn);
        if list.is_empty() {
            idle.remove(origin);
        }
        drop(idle);
        let mut conn = taken?;
        conn.reused = true;
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(conn)
    }

    /// Puts a connection whose response was read to the end back.
    pub(crate) fn checkin(&self, conn: Connection) {
        let idle_for = conn.idle_timeout.min(self.config.idle_timeout);
        if idle_for.is_zero()
            || self.config.max_idle_per_origin == 0
            || conn.policy.strong_count() == 0
            || !conn.sender.is_ready()
        {
            return;
        }
        let now = Instant::now();
        let mut idle = self.lock();
        let list = idle.entry(conn.origin.clone()).or_default();
        list.retain(|entry| entry.usable(now));
        if list.len() >= self.config.max_idle_per_origin {
            list.remove(0);
        }
        list.push(Idle {
            conn,
            expires: now + idle_for,
        });
        drop(idle);
        self.ensure_reaper();
    }

    /// Closes the idle connections that `policy` opened (its last user is
    /// going away).
    pub(crate) fn release_policy(&self, policy: &Arc<HttpPolicy>) {
        let mut idle = self.lock();
        for list in idle.values_mut() {
            list.retain(|entry| !std::ptr::eq(entry.conn.policy.as_ptr(), Arc::as_ptr(policy)));
        }
        idle.retain(|_, list| !list.is_empty());
    }

    /// Closes expired and unusable idle connections; returns when the next
    /// one expires, or `None` (and marks the reaper stopped) when none is
    /// left.
    fn purge(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut idle = self.lock();
        for list in idle.values_mut() {
            list.retain(|entry| entry.usable(now));
        }
        idle.retain(|_, list| !list.is_empty());
        let next = idle.values().flatten().map(|entry| entry.expires).min();
        if next.is_none() {
            self.reaper_running.store(false, Ordering::SeqCst);
        }
        next
    }

    /// Starts the task that closes idle connections when they expire, unless
    /// it runs already (it stops when the pool is empty or dropped).
    fn ensure_reaper(&self) {
        if self.reaper_running.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.reaper_running.store(false, Ordering::SeqCst);
            return;
        };
        let pool = self.this.clone();
        runtime.spawn(async move {
            loop {
                let next = match pool.upgrade() {
                    Some(pool) => pool.purge(),
                    None => return,
                };
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => return,
                }
            }
        });
    }
}
