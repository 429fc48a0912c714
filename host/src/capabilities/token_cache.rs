//! `rooms:exchange-sync/token-cache`: OAuth tokens that outlive an instance.
//!
//! The entries live in the tenant's [`TokenCache`](crate::tokens::TokenCache),
//! in memory only, within its size and count limits: a refused entry is
//! logged (without its value) and the component signs in again next time.

use crate::bindings::rooms::exchange_sync::token_cache::{CachedToken, Host};
use crate::log::Level;
use crate::state::TenantState;
use crate::tokens;

impl Host for TenantState {
    fn get(&mut self, key: String) -> Option<CachedToken> {
        self.tenant().tokens().get(&key).map(|t| CachedToken {
            access_token: t.access_token,
            expires_at: t.expires_at,
            refresh_token: t.refresh_token,
        })
    }

    fn put(&mut self, key: String, token: CachedToken) {
        let token = tokens::CachedToken {
            access_token: token.access_token,
            expires_at: token.expires_at,
            refresh_token: token.refresh_token,
        };
        if let Err(refused) = self.tenant().tokens().put(key, token) {
            self.tenant()
                .log()
                .write(Level::Warn, &format!("token not cached: {refused}"));
        }
    }

    fn remove(&mut self, key: String) {
        self.tenant().tokens().remove(&key);
    }
}
