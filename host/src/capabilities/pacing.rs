//! `rooms:exchange-sync/pacing`: every wait of the component, on the host's
//! clock.
//!
//! The component asks to wait before its next request to a mailbox (a
//! server's `BackOffMilliseconds` or `Retry-After`, a back-off before a
//! retry). The import is asynchronous in the bindings
//! ([`crate::bindings`]): the host sleeps with `tokio::time::sleep`, so other
//! work on the runtime goes on, and answers true after the wait. A wait that
//! would run past the call's deadline (`--call-timeout-secs`, counted from
//! the start of the call, less a margin of [`DEADLINE_MARGIN`] for the
//! request that follows) is refused at once with false, and the component
//! stops that person's sync with its throttling error instead of being cut
//! off by the deadline mid-request.
//!
//! Every wait is counted in the call's [`Pacing`] record (waits, the
//! milliseconds granted, the waits refused) and logged at debug level;
//! refusals at info level.
//!
//! **Test-only clock:** when the tenant's environment has
//! `ROOMS_SYNC_TEST_CLOCK=skip-waits`, a wait that fits the deadline
//! returns true at once without sleeping, and is still counted and logged
//! (as if it had slept), so tests of throttling need no real sleeps. Never
//! set it in production: the component would ignore Exchange's back-off
//! requests in all but name.

use std::time::{Duration, Instant};

use crate::bindings::rooms::exchange_sync::pacing::Host;
use crate::log::Level;
use crate::state::TenantState;
use crate::text::operator_text;

/// The environment variable that selects the test clock.
pub const TEST_CLOCK_VAR: &str = "ROOMS_SYNC_TEST_CLOCK";

/// The value of [`TEST_CLOCK_VAR`] that makes waits return at once.
pub const SKIP_WAITS: &str = "skip-waits";

/// Time kept free after a wait for the request that follows it; a wait
/// that would leave less of the call is refused.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// The waits of one call into the component.
#[derive(Debug, Clone)]
pub struct Pacing {
    started: Instant,
    deadline: Duration,
    skip_waits: bool,
    /// Waits granted in this call.
    pub waits: u32,
    /// Milliseconds granted in this call (slept, or skipped by the test
    /// clock).
    pub waited_ms: u64,
    /// Waits refused because they would pass the deadline.
    pub refused: u32,
}

impl Pacing {
    /// The record of a call that starts now and may last `deadline`;
    /// `skip_waits` selects the test clock.
    pub fn new(deadline: Duration, skip_waits: bool) -> Pacing {
        Pacing {
            started: Instant::now(),
            deadline,
            skip_waits,
            waits: 0,
            waited_ms: 0,
            refused: 0,
        }
    }

    /// Starts the record of the next call on a reused instance: the
    /// deadline counts from now, the counters from zero.
    pub fn begin_call(&mut self) {
        *self = Pacing::new(self.deadline, self.skip_waits);
    }

    /// True when the test clock is on.
    pub fn skips_waits(&self) -> bool {
        self.skip_waits
    }

    /// Whether a wait of `wait` fits before the deadline, now.
    fn fits(&self, wait: Duration) -> bool {
        let left = self.deadline.saturating_sub(self.started.elapsed());
        wait.saturating_add(DEADLINE_MARGIN) <= left
    }
}

impl Host for TenantState {
    async fn wait(&mut self, mailbox: String, ms: u64) -> bool {
        let wait = Duration::from_millis(ms);
        let shown = operator_text(&mailbox, 320);
        if !self.pacing.fits(wait) {
            self.pacing.refused += 1;
            self.tenant().log().write(
                Level::Info,
                &format!(
                    "{shown}: a wait of {ms} ms would pass the call deadline ({} s); refused",
                    self.pacing.deadline.as_secs()
                ),
            );
            return false;
        }
        self.pacing.waits += 1;
        self.pacing.waited_ms = self.pacing.waited_ms.saturating_add(ms);
        if self.pacing.skip_waits {
            self.tenant().log().write(
                Level::Debug,
                &format!("{shown}: wait of {ms} ms skipped ({TEST_CLOCK_VAR}={SKIP_WAITS})"),
            );
            return true;
        }
        self.tenant()
            .log()
            .write(Level::Debug, &format!("{shown}: waiting {ms} ms"));
        tokio::time::sleep(wait).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_fits_only_with_the_margin_left_before_the_deadline() {
        let pacing = Pacing::new(Duration::from_secs(10), false);
        assert!(pacing.fits(Duration::from_secs(5)));
        assert!(!pacing.fits(Duration::from_secs(9) + Duration::from_millis(500)));
        assert!(!pacing.fits(Duration::from_secs(60)));
        assert!(!pacing.fits(Duration::MAX));
    }

    #[test]
    fn begin_call_restarts_the_clock_and_the_counters() {
        let mut pacing = Pacing::new(Duration::from_secs(10), true);
        pacing.waits = 3;
        pacing.waited_ms = 1_500;
        pacing.refused = 1;
        pacing.begin_call();
        assert_eq!((pacing.waits, pacing.waited_ms, pacing.refused), (0, 0, 0));
        assert!(pacing.skips_waits());
    }
}
