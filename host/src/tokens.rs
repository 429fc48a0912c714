//! The token cache of one tenant: OAuth tokens that outlive a component
//! instance, held in the host's memory and never written to disk.
//!
//! The component chooses the keys (they name the flow, the app, the user and
//! the scope) and the values come from the component, so both are untrusted
//! input from inside the sandbox: [`TokenLimits`] bounds how much host memory
//! one tenant's cache can hold, outside the component's own memory cap. An
//! entry over a limit is refused (and the refusal logged by the capability);
//! a full cache drops the entry that expires first. Another tenant never sees
//! these entries, because every tenant has its own [`TokenCache`].

use std::collections::HashMap;
use std::sync::Mutex;

/// One cached token, as the component stored it.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: u64,
    /// The newest refresh token (delegated sign-in only).
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("access_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// How much one tenant's token cache may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLimits {
    /// Most entries; a tenant needs one per sign-in flow and scope.
    pub max_entries: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Longest access or refresh token, in bytes (Entra tokens are a few KiB).
    pub max_token_bytes: usize,
}

impl Default for TokenLimits {
    fn default() -> Self {
        TokenLimits {
            max_entries: 64,
            max_key_bytes: 512,
            max_token_bytes: 64 * 1024,
        }
    }
}

/// Why an entry was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    /// The key is longer than [`TokenLimits::max_key_bytes`].
    #[error("a token-cache key of {0} bytes is longer than the limit of {1} bytes")]
    KeyTooLong(usize, usize),
    /// A token is longer than [`TokenLimits::max_token_bytes`].
    #[error("a token of {0} bytes is longer than the token cache's limit of {1} bytes")]
    TokenTooLong(usize, usize),
}

/// The tokens of one tenant, keyed by the component's cache key.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, CachedToken>>,
    limits: TokenLimits,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys only: they name flows and scopes, never token values.
        let keys: Vec<String> = self.lock().keys().cloned().collect();
        f.debug_struct("TokenCache").field("keys", &keys).finish()
    }
}

impl TokenCache {
    /// An empty cache with these limits.
    pub fn with_limits(limits: TokenLimits) -> TokenCache {
        TokenCache {
            entries: Mutex::default(),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token stored under `key`.
    pub fn get(&self, key: &str) -> Option<CachedToken> {
        self.lock().get(key).cloned()
    }

    /// Stores `token` under `key`, within the limits. When the cache is full,
    /// the entry that expires first makes room.
    pub fn put(&self, key: String, token: CachedToken) -> Result<(), TokenRefused> {
        let limits = self.limits;
        if key.len() > limits.max_key_bytes {
            return Err(TokenRefused::KeyTooLong(key.len(), limits.max_key_bytes));
        }
        let longest = token
            .access_token
            .len()
            .max(token.refresh_token.as_ref().map_or(0, String::len));
        if longest > limits.max_token_bytes {
            return Err(TokenRefused::TokenTooLong(longest, limits.max_token_bytes));
        }
        let mut entries = self.lock();
        if !entries.contains_key(&key) && entries.len() >= limits.max_entries {
            let first = entries
                .iter()
                .min_by_key(|(_, t)| t.expires_at)
                .map(|(k, _)| k.clone());
            if let Some(first) = first {
                entries.remove(&first);
            }
        }
        entries.insert(key, token);
        Ok(())
    }

    /// Forgets the token under `key`.
    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn token(access: &str, expires_at: u64) -> CachedToken {
        CachedToken {
            access_token: access.into(),
            expires_at,
            refresh_token: None,
        }
    }

    #[test]
    fn oversized_keys_and_tokens_are_refused() {
        let cache = TokenCache::with_limits(TokenLimits {
            max_entries: 4,
            max_key_bytes: 8,
            max_token_bytes: 16,
        });
        assert_eq!(
            cache.put("k".repeat(9), token("t", 1)),
            Err(TokenRefused::KeyTooLong(9, 8))
        );
        assert_eq!(
            cache.put("k".into(), token(&"t".repeat(17), 1)),
            Err(TokenRefused::TokenTooLong(17, 16))
        );
        let mut with_refresh = token("t", 1);
        with_refresh.refresh_token = Some("r".repeat(20));
        assert!(cache.put("k".into(), with_refresh).is_err());
        assert!(cache.is_empty());
        cache.put("k".into(), token(&"t".repeat(16), 1)).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_drops_the_entry_that_expires_first() {
        let cache = TokenCache::with_limits(TokenLimits {
            max_entries: 3,
            ..TokenLimits::default()
        });
        for (key, expires) in [("a", 30), ("b", 10), ("c", 20)] {
            cache.put(key.into(), token(key, expires)).unwrap();
        }
        // Replacing an existing key never evicts.
        cache.put("a".into(), token("a2", 40)).unwrap();
        assert_eq!(cache.len(), 3);
        cache.put("d".into(), token("d", 50)).unwrap();
        assert_eq!(cache.len(), 3);
        assert!(cache.get("b").is_none(), "b expired first and made room");
        assert_eq!(cache.get("a").unwrap().access_token, "a2");
        for _ in 0..1000 {
            cache
                .put(format!("k{}", cache.len()), token("x", 99))
                .unwrap();
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn debug_output_never_shows_token_values() {
        let cache = TokenCache::default();
        let mut t = token("eyJ-secret-access", 1);
        t.refresh_token = Some("secret-refresh".into());
        cache.put("client-secret:app".into(), t.clone()).unwrap();
        let shown = format!("{cache:?} {t:?}");
        assert!(shown.contains("client-secret:app"));
        assert!(!shown.contains("secret-access") && !shown.contains("secret-refresh"));
    }
}
