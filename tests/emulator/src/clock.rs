//! The emulator clock: real time plus an adjustable offset.
//!
//! Everything time-dependent (token and assertion expiry, client secret expiry, sync-state and
//! subscription expiry) reads [`Clock::now`], so tests move time with the admin API
//! (`POST /admin/clock/advance`) instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// Real time plus an offset in nanoseconds (about ±292 years). Cheap to read from any thread.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ns: AtomicI64,
}

impl Clock {
    /// A clock showing real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The emulator's current time.
    pub fn now(&self) -> Timestamp {
        let offset = SignedDuration::from_nanos(self.offset_ns.load(Ordering::SeqCst));
        Timestamp::now()
            .saturating_add(offset)
            .unwrap_or(Timestamp::MAX)
    }

    /// The emulator's current time in whole seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.now().as_second()
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: SignedDuration) {
        let ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Sets the clock so that it now shows `at`.
    pub fn set(&self, at: Timestamp) {
        let diff = at.duration_since(Timestamp::now());
        self.offset_ns.store(
            i64::try_from(diff.as_nanos()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The current offset from real time.
    pub fn offset(&self) -> SignedDuration {
        SignedDuration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(SignedDuration::from_hours(2));
        let after = clock.now();
        assert!(after.duration_since(before) >= SignedDuration::from_hours(2));
        assert_eq!(clock.offset(), SignedDuration::from_hours(2));
    }

    #[test]
    fn set_jumps_to_a_given_instant() {
        let clock = Clock::new();
        let target: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        clock.set(target);
        let diff = clock.now().duration_since(target);
        assert!(diff.abs() < SignedDuration::from_mins(1), "{diff:?}");
    }
}
