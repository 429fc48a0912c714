//! The EWS budget: a token bucket per account (app or user), on the emulator clock.
//!
//! Off by default (`[settings.budget] enabled = false`). When on, each EWS request takes one
//! token; the bucket holds `burst` tokens and refills at `recharge_per_second`. An empty bucket
//! answers `ErrorServerBusy` with `BackOffMilliseconds` (the time until a token is back, or the
//! configured `back_off_ms`). Because the bucket runs on the emulator clock, tests refill it by
//! advancing the clock.

use jiff::Timestamp;

use crate::state::{Bucket, State};

/// Charges one request to `account`; returns the back-off in milliseconds when the budget is
/// exhausted.
pub fn charge(state: &mut State, account: &str, now: Timestamp) -> Option<u64> {
    let budget = state.settings.budget.clone();
    if !budget.enabled {
        return None;
    }
    let burst = f64::from(budget.burst.max(1));
    let bucket = state.budgets.entry(account.to_string()).or_insert(Bucket {
        tokens: burst,
        last: now,
    });
    let elapsed = now.duration_since(bucket.last).as_secs_f64().max(0.0);
    bucket.tokens = (bucket.tokens + elapsed * budget.recharge_per_second).min(burst);
    bucket.last = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        return None;
    }
    if budget.back_off_ms > 0 {
        return Some(budget.back_off_ms);
    }
    let missing = 1.0 - bucket.tokens;
    let rate = budget.recharge_per_second.max(0.001);
    Some(((missing / rate) * 1000.0).ceil() as u64)
}
