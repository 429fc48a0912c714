//! `wasi:config/store`: the tenant's non-secret settings.
//!
//! The component reads the original `RoomsAppSettings` keys here, with
//! environment overrides and defaults already applied by
//! [`crate::settings`]. Secret keys are never in this map: the component asks
//! [`super::secrets`] for them.

use crate::bindings::wasi::config::store::{Error, Host};
use crate::state::TenantState;

impl Host for TenantState {
    fn get(&mut self, key: String) -> Result<Option<String>, Error> {
        Ok(self.tenant().public_config().get(&key).cloned())
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, Error> {
        Ok(self
            .tenant()
            .public_config()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
