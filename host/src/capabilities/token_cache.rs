//! `rooms:exchange-sync/token-cache`: OAuth tokens that outlive an instance.
//!
//! The host creates a fresh component instance for every call, so the
//! component keeps its tokens here. Entries live in the tenant's memory for
//! the life of the process and never touch the disk: a restarted process
//! signs in again. The component chooses the keys; another tenant never sees
//! them because every tenant has its own [`TokenCache`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::bindings::rooms::exchange_sync::token_cache::{CachedToken, Host};
use crate::state::TenantState;

/// The tokens of one tenant, keyed by the component's cache key.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, CachedToken>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys only: they name flows and scopes, never token values.
        let keys: Vec<String> = self.lock().keys().cloned().collect();
        f.debug_struct("TokenCache").field("keys", &keys).finish()
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no token is cached.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl Host for TenantState {
    fn get(&mut self, key: String) -> Option<CachedToken> {
        self.tenant().tokens().lock().get(&key).cloned()
    }

    fn put(&mut self, key: String, token: CachedToken) {
        self.tenant().tokens().lock().insert(key, token);
    }

    fn remove(&mut self, key: String) {
        self.tenant().tokens().lock().remove(&key);
    }
}
