//! The per-tenant queue of mailboxes waiting for an incremental sync.
//!
//! Triggers are coalesced: a mailbox already waiting is not queued twice,
//! and one whose cycle is running is marked dirty and queued once more when
//! it finishes, so a burst of 50 events gives at most one more cycle. A
//! cycle reads Exchange and the ROOMS changes afresh, so nothing a trigger
//! meant is lost by coalescing.
//!
//! A mailbox whose cycle failed is not started again by ROOMS-side
//! triggers ([`Trigger::Rooms`]) for a back-off: 30 s after the first
//! failure, doubling with every further one up to a cap (the scheduler
//! passes `IntervallTaskInSeconds` × 10), so a booking that keeps failing
//! does not loop. Exchange-side triggers (events, notifications, the start)
//! are not held back; a successful cycle clears the back-off.
//!
//! The queue is plain data; the scheduler wakes its workers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The first back-off after a failed cycle.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);

/// What asked for a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The service started, or the person is new.
    Start,
    /// Exchange: events, a notification, a lost or renewed subscription, or
    /// the fallback interval of push persons without a callback.
    Exchange,
    /// ROOMS-side changes waiting (`pending_homes`).
    Rooms,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    until: Instant,
    wait: Duration,
}

/// The queue of one tenant.
#[derive(Debug)]
pub struct SyncQueue {
    waiting: VecDeque<String>,
    queued: BTreeSet<String>,
    running: BTreeSet<String>,
    dirty: BTreeSet<String>,
    backoff: BTreeMap<String, Backoff>,
    max_backoff: Duration,
}

impl SyncQueue {
    /// An empty queue whose back-off doubles up to `max_backoff` (at least
    /// [`FIRST_BACKOFF`]).
    pub fn new(max_backoff: Duration) -> SyncQueue {
        SyncQueue {
            waiting: VecDeque::new(),
            queued: BTreeSet::new(),
            running: BTreeSet::new(),
            dirty: BTreeSet::new(),
            backoff: BTreeMap::new(),
            max_backoff: max_backoff.max(FIRST_BACKOFF),
        }
    }

    /// Asks for a sync of `mailbox` (lower-case). True when a worker should
    /// be woken (the mailbox was newly queued).
    pub fn push(&mut self, mailbox: &str, trigger: Trigger, now: Instant) -> bool {
        if trigger == Trigger::Rooms && self.backing_off(mailbox, now) {
            return false;
        }
        if self.queued.contains(mailbox) {
            return false;
        }
        if self.running.contains(mailbox) {
            self.dirty.insert(mailbox.to_string());
            return false;
        }
        self.queued.insert(mailbox.to_string());
        self.waiting.push_back(mailbox.to_string());
        true
    }

    /// The next mailbox to sync, now marked running.
    pub fn pop(&mut self) -> Option<String> {
        let mailbox = self.waiting.pop_front()?;
        self.queued.remove(&mailbox);
        self.running.insert(mailbox.clone());
        Some(mailbox)
    }

    /// The cycle of `mailbox` ended (`ok` false: it failed). True when the
    /// mailbox was queued again because a trigger came while it ran.
    pub fn done(&mut self, mailbox: &str, ok: bool, now: Instant) -> bool {
        self.running.remove(mailbox);
        if ok {
            self.backoff.remove(mailbox);
        } else {
            let wait = match self.backoff.get(mailbox) {
                Some(b) => (b.wait * 2).min(self.max_backoff),
                None => FIRST_BACKOFF.min(self.max_backoff),
            };
            self.backoff.insert(
                mailbox.to_string(),
                Backoff {
                    until: now + wait,
                    wait,
                },
            );
        }
        if self.dirty.remove(mailbox) {
            self.queued.insert(mailbox.to_string());
            self.waiting.push_back(mailbox.to_string());
            return true;
        }
        false
    }

    /// Drops a mailbox that is gone (removed or disabled person) from the
    /// waiting list and the back-offs.
    pub fn forget(&mut self, mailbox: &str) {
        if self.queued.remove(mailbox) {
            self.waiting.retain(|m| m != mailbox);
        }
        self.dirty.remove(mailbox);
        self.backoff.remove(mailbox);
    }

    /// True while ROOMS-side triggers of `mailbox` are held back.
    pub fn backing_off(&self, mailbox: &str, now: Instant) -> bool {
        self.backoff.get(mailbox).is_some_and(|b| now < b.until)
    }

    /// The current back-off of `mailbox`, if it is held back at `now`.
    pub fn backoff_of(&self, mailbox: &str, now: Instant) -> Option<Duration> {
        self.backoff
            .get(mailbox)
            .filter(|b| now < b.until)
            .map(|b| b.wait)
    }

    /// The earliest end of a back-off after `after`, if any: when ROOMS-side
    /// changes held back may be looked at again.
    pub fn next_backoff_end(&self, after: Instant) -> Option<Instant> {
        self.backoff
            .values()
            .map(|b| b.until)
            .filter(|u| *u > after)
            .min()
    }

    /// Mailboxes waiting (not running).
    pub fn depth(&self) -> usize {
        self.waiting.len()
    }

    /// True when `mailbox` is running now.
    pub fn is_running(&self, mailbox: &str) -> bool {
        self.running.contains(mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_triggers_gives_one_waiting_entry() {
        let now = Instant::now();
        let mut q = SyncQueue::new(Duration::from_secs(300));
        assert!(q.push("a@x.com", Trigger::Exchange, now));
        for _ in 0..49 {
            assert!(!q.push("a@x.com", Trigger::Exchange, now));
        }
        assert!(q.push("b@x.com", Trigger::Rooms, now));
        assert_eq!(q.depth(), 2);
        assert_eq!(q.pop().as_deref(), Some("a@x.com"));
        assert_eq!(q.pop().as_deref(), Some("b@x.com"));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn triggers_while_running_give_exactly_one_more_cycle() {
        let now = Instant::now();
        let mut q = SyncQueue::new(Duration::from_secs(300));
        q.push("a@x.com", Trigger::Start, now);
        assert_eq!(q.pop().as_deref(), Some("a@x.com"));
        assert!(q.is_running("a@x.com"));
        for _ in 0..50 {
            assert!(!q.push("a@x.com", Trigger::Exchange, now));
        }
        assert_eq!(q.depth(), 0, "a running mailbox is not queued twice");
        assert!(q.done("a@x.com", true, now), "queued again once");
        assert_eq!(q.depth(), 1);
        assert_eq!(q.pop().as_deref(), Some("a@x.com"));
        assert!(!q.done("a@x.com", true, now), "no third cycle");
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_failed_cycle_holds_back_rooms_triggers_with_a_doubling_backoff() {
        let t0 = Instant::now();
        let mut q = SyncQueue::new(Duration::from_secs(100));
        q.push("a@x.com", Trigger::Rooms, t0);
        q.pop();
        q.done("a@x.com", false, t0);
        assert_eq!(q.backoff_of("a@x.com", t0), Some(FIRST_BACKOFF));
        assert!(!q.push("a@x.com", Trigger::Rooms, t0 + Duration::from_secs(29)));
        assert_eq!(q.next_backoff_end(t0), Some(t0 + FIRST_BACKOFF));
        // Exchange-side triggers still run.
        assert!(q.push("a@x.com", Trigger::Exchange, t0 + Duration::from_secs(1)));
        q.pop();
        let t1 = t0 + Duration::from_secs(2);
        q.done("a@x.com", false, t1);
        assert_eq!(q.backoff_of("a@x.com", t1), Some(Duration::from_secs(60)));
        q.push("a@x.com", Trigger::Exchange, t1);
        q.pop();
        q.done("a@x.com", false, t1);
        assert_eq!(
            q.backoff_of("a@x.com", t1),
            Some(Duration::from_secs(100)),
            "capped"
        );
        // After the back-off, ROOMS-side triggers run again; a success clears it.
        let later = t1 + Duration::from_secs(101);
        assert!(q.push("a@x.com", Trigger::Rooms, later));
        q.pop();
        q.done("a@x.com", true, later);
        assert_eq!(q.backoff_of("a@x.com", later), None);
    }

    #[test]
    fn forgetting_a_mailbox_drops_it_from_the_queue() {
        let now = Instant::now();
        let mut q = SyncQueue::new(Duration::from_secs(300));
        q.push("a@x.com", Trigger::Start, now);
        q.push("b@x.com", Trigger::Start, now);
        q.forget("a@x.com");
        assert_eq!(q.depth(), 1);
        assert_eq!(q.pop().as_deref(), Some("b@x.com"));
        // It can be queued again later.
        assert!(q.push("a@x.com", Trigger::Start, now));
    }
}
