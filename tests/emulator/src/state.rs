//! The emulator's shared state: directory, settings, tokens, calendar store, faults, request
//! log, budgets, and the clock.
//!
//! [`Shared`] is held in an `Arc` by the server. The mutable part, [`State`], sits behind one
//! mutex: request handlers lock it, do their (short, synchronous) work and unlock. Waiting
//! (injected latency) happens outside the lock. The per-account concurrency counter has its own
//! lock so that counting never waits on a handler.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;

use crate::clock::Clock;
use crate::directory::Directory;
use crate::faults::FaultTable;
use crate::oauth::token::TokenSigner;
use crate::request_log::RequestLog;
use crate::seed::Settings;

/// A refresh token's grant (delegated sign-in).
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Tenant id.
    pub tenant_id: String,
    /// Client id of the app it was issued to.
    pub client_id: String,
    /// Primary address of the user.
    pub user: String,
    /// Resource (audience) of the access tokens it yields.
    pub resource: String,
    /// Granted delegated permissions (e.g. `EWS.AccessAsUser.All`).
    pub permissions: Vec<String>,
    /// When it was issued.
    pub issued: Timestamp,
    /// When it expires.
    pub expires: Timestamp,
}

/// A token bucket of one account.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Tokens left.
    pub tokens: f64,
    /// Last refill time (emulator clock).
    pub last: Timestamp,
}

/// Mutable state, behind [`Shared::lock`].
#[derive(Debug)]
pub struct State {
    /// Tenants, apps, mailboxes, permissions, policies.
    pub directory: Directory,
    /// Settings from the seed (changeable by the admin API).
    pub settings: Settings,
    /// Directory of the seed file, for relative certificate paths added later.
    pub base_dir: Option<PathBuf>,
    /// Live refresh tokens by value.
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// Client-assertion `jti`s already used, per client, with their expiry.
    pub used_jtis: HashMap<(String, String), Timestamp>,
    /// Injected faults.
    pub faults: FaultTable,
    /// The request log.
    pub log: RequestLog,
    /// EWS budgets per account.
    pub budgets: HashMap<String, Bucket>,
    /// The calendar store (engineer E2's module).
    pub calendar: crate::calendar::Store,
}

/// Everything the server shares between connections.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    /// The emulator clock.
    pub clock: Clock,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    /// Signs and checks access tokens.
    pub signer: TokenSigner,
    inflight: Mutex<HashMap<String, usize>>,
}

impl Shared {
    /// Creates the shared state for a server reachable at `base_url`.
    pub fn new(state: State, base_url: String) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(state),
            clock: Clock::new(),
            base_url,
            signer: TokenSigner::new(),
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Locks the mutable state. A panic in another handler does not poison it for good.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `host:port` of the emulator.
    pub fn authority(&self) -> &str {
        self.base_url
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&self.base_url)
    }

    /// Counts a request of `account` in; returns `None` (and counts nothing) when `limit`
    /// requests of that account are already in flight.
    pub fn enter(self: &Arc<Self>, account: &str, limit: usize) -> Option<InflightGuard> {
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(account.to_string()).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(InflightGuard {
            shared: Arc::clone(self),
            account: account.to_string(),
        })
    }

    /// Requests of `account` in flight now.
    pub fn inflight(&self, account: &str) -> usize {
        let map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        map.get(account).copied().unwrap_or(0)
    }
}

/// Counts one in-flight request until dropped.
#[derive(Debug)]
pub struct InflightGuard {
    shared: Arc<Shared>,
    account: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.account);
            }
        }
    }
}

impl State {
    /// Fresh state from a directory and settings.
    pub fn new(directory: Directory, settings: Settings, base_dir: Option<PathBuf>) -> Self {
        Self {
            directory,
            settings,
            base_dir,
            refresh_tokens: HashMap::new(),
            used_jtis: HashMap::new(),
            faults: FaultTable::default(),
            log: RequestLog::default(),
            budgets: HashMap::new(),
            calendar: crate::calendar::Store::default(),
        }
    }
}
