//! Waiting and retrying: throttling answers (`ErrorServerBusy` with
//! `BackOffMilliseconds`, HTTP 429/503 with `Retry-After`,
//! `ErrorExceededConnectionCount`) and transient transport failures.
//!
//! A throttled mailbox is paused, not only the request: the wait goes to the
//! host's clock ([`Platform::wait`]) before anything else is sent for that
//! mailbox. The server's hint is honoured as a minimum; without one, and for
//! transient failures, the wait grows exponentially (1 s, 2 s, 4 s, ... up
//! to 60 s) with up to 25% random jitter, so many mailboxes that were
//! throttled together do not come back together. The total wait of one
//! operation is bounded (`SyncRetryMaxSeconds`); past it, or when the host
//! says the wait would pass the call's deadline, the operation fails with
//! the last error.

use crate::error::Error;
use crate::platform::{Level, Platform, TransportKind};

/// The first back-off without a server hint.
const BASE_MS: u64 = 1_000;
/// The longest single back-off without a server hint.
const MAX_STEP_MS: u64 = 60_000;
/// Attempts of one operation at most (the first included).
const MAX_ATTEMPTS: u32 = 10;

/// Waiting state of one run.
#[derive(Debug)]
pub struct Pacer {
    /// Bound of the total wait of one operation.
    pub max_total_ms: u64,
    /// Milliseconds waited in this run.
    pub waited_ms: u64,
}

impl Pacer {
    /// A pacer that waits at most `max_total_ms` per operation.
    pub fn new(max_total_ms: u64) -> Self {
        Pacer {
            max_total_ms,
            waited_ms: 0,
        }
    }

    /// Runs `op` until it succeeds, fails with an error that is not worth a
    /// retry, or the waits are used up. `retry_transport` is false for
    /// operations that must not be repeated blindly (a create: the caller
    /// looks for its tag first).
    pub fn run<T>(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        retry_transport: bool,
        mut op: impl FnMut(&mut dyn Platform) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut total = 0u64;
        let mut attempt = 0u32;
        loop {
            let error = match op(platform) {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            attempt += 1;
            let hint = match &error {
                Error::Throttled { retry_after_ms, .. } => Some(*retry_after_ms),
                Error::Transport(t)
                    if retry_transport
                        && matches!(t.kind, TransportKind::Connection | TransportKind::Timeout) =>
                {
                    Some(0)
                }
                _ => None,
            };
            let Some(hint) = hint else {
                return Err(error);
            };
            if attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
            let step = backoff_ms(platform, attempt);
            let wait = hint.max(step);
            if total + wait > self.max_total_ms {
                platform.log(
                    Level::Warn,
                    &format!(
                        "{mailbox}: giving up after {attempt} attempts and {total} ms of waiting: {}",
                        error.message()
                    ),
                );
                return Err(error);
            }
            platform.log(
                Level::Info,
                &format!(
                    "{mailbox}: {}; pausing the mailbox for {wait} ms (attempt {attempt})",
                    error.message()
                ),
            );
            if !platform.wait(mailbox, wait) {
                return Err(error);
            }
            total += wait;
            self.waited_ms += wait;
        }
    }
}

/// The exponential step for `attempt` (1-based), with up to 25% jitter.
fn backoff_ms(platform: &mut dyn Platform, attempt: u32) -> u64 {
    let step = BASE_MS
        .saturating_mul(1u64 << (attempt - 1).min(16))
        .min(MAX_STEP_MS);
    let random = platform.random_bytes(2);
    let r = u64::from(u16::from_le_bytes([
        random.first().copied().unwrap_or(0),
        random.get(1).copied().unwrap_or(0),
    ]));
    step + step / 4 * r / u64::from(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::TransportError;
    use crate::testing::TestPlatform;

    fn busy(ms: u64) -> Error {
        Error::Throttled {
            response_code: "ErrorServerBusy".into(),
            retry_after_ms: ms,
        }
    }

    #[test]
    fn honours_the_server_hint_and_then_succeeds() {
        let mut p = TestPlatform::new();
        let mut pacer = Pacer::new(300_000);
        let mut calls = 0;
        let out = pacer.run(&mut p, "alice@contoso.com", true, |_| {
            calls += 1;
            if calls < 3 { Err(busy(5_000)) } else { Ok(7) }
        });
        assert_eq!(out.unwrap(), 7);
        let waits = p.waits.borrow().clone();
        assert_eq!(waits.len(), 2);
        assert!(
            waits
                .iter()
                .all(|(m, ms)| m == "alice@contoso.com" && *ms >= 5_000)
        );
        assert_eq!(pacer.waited_ms, waits.iter().map(|w| w.1).sum::<u64>());
    }

    #[test]
    fn grows_without_a_hint_and_stops_at_the_bound() {
        let mut p = TestPlatform::new();
        let mut pacer = Pacer::new(10_000);
        let out: Result<(), _> = pacer.run(&mut p, "m@contoso.com", true, |_| Err(busy(0)));
        assert!(matches!(out, Err(Error::Throttled { .. })));
        let waits: Vec<u64> = p.waits.borrow().iter().map(|w| w.1).collect();
        assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
        assert!(waits.iter().sum::<u64>() <= 10_000);
    }

    #[test]
    fn a_wait_past_the_call_deadline_stops_with_the_server_error() {
        let mut p = TestPlatform::new();
        p.wait_answer = false;
        let mut pacer = Pacer::new(300_000);
        let mut calls = 0;
        let out: Result<(), _> = pacer.run(&mut p, "m@contoso.com", true, |_| {
            calls += 1;
            Err(busy(5_000))
        });
        assert!(matches!(out, Err(Error::Throttled { .. })));
        assert_eq!(calls, 1, "nothing is sent after a refused wait");
        assert_eq!(pacer.waited_ms, 0);
    }

    #[test]
    fn a_create_is_not_repeated_after_a_lost_connection() {
        let mut p = TestPlatform::new();
        let mut pacer = Pacer::new(300_000);
        let mut calls = 0;
        let out: Result<(), _> = pacer.run(&mut p, "m@contoso.com", false, |_| {
            calls += 1;
            Err(Error::Transport(TransportError {
                kind: TransportKind::Connection,
                detail: "closed".into(),
            }))
        });
        assert!(out.is_err());
        assert_eq!(calls, 1);
    }
}
