//! `rooms:exchange-sync/log`: the component's log lines, into the host's log.
//!
//! Lines below the log's level are dropped first, before any work. Lines
//! are untrusted text from the sandbox: each one is made safe for a
//! terminal and cut to [`LogBudget::MAX_LINE_CHARS`], and one call may write
//! at most [`LogBudget::MAX_LINES`] lines and [`LogBudget::MAX_BYTES`] bytes.
//! The first line over the budget is replaced by a note; later ones are
//! dropped.

use crate::bindings::rooms::exchange_sync::log::{Host, Level as WitLevel};
use crate::log::Level;
use crate::state::{LogAdmission, LogBudget, TenantState};
use crate::text::operator_text;

impl Host for TenantState {
    fn log(&mut self, level: WitLevel, message: String) {
        let level = match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        if !self.component_log().enabled(level) {
            return;
        }
        match self.log_budget.admit(message.len()) {
            LogAdmission::Write => self.component_log().write(
                level,
                &operator_text(&message, LogBudget::MAX_LINE_CHARS),
            ),
            LogAdmission::Exhausted => self.component_log().write(
                Level::Warn,
                &format!(
                    "the component reached its log limit of {} lines or {} KiB in this call; further lines are dropped",
                    LogBudget::MAX_LINES,
                    LogBudget::MAX_BYTES >> 10
                ),
            ),
            LogAdmission::Drop => {}
        }
    }
}
