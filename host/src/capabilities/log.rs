//! `rooms:exchange-sync/log`: the component's log lines, into the host's log.

use crate::bindings::rooms::exchange_sync::log::{Host, Level as WitLevel};
use crate::log::Level;
use crate::state::TenantState;

impl Host for TenantState {
    fn log(&mut self, level: WitLevel, message: String) {
        let level = match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        self.component_log().write(level, &message);
    }
}
