//! Notification subscriptions (pull and push) and their delivery state.
//!
//! A subscription watches folders of one mailbox for some event types and keeps a cursor (the
//! watermark of the last event the client acknowledged) into the mailbox's event log.
//!
//! Pull subscriptions expire when the client does not call `GetEvents` within `Timeout`
//! minutes: the next `GetEvents` gets `ErrorExpiredSubscription` and the subscription is gone
//! (later calls: `ErrorSubscriptionNotFound`).
//!
//! Push subscriptions are served by the background task in `crate::push`, which asks
//! [`SubscriptionTable::due_pushes`] what to send and reports back with
//! [`SubscriptionTable::push_result`]. The retry model is the one Microsoft documents for
//! `StatusFrequency`: after a failed delivery the server retries after 30 s, then doubles the
//! interval (30 s, 60 s, 120 s, ...), counting from the first failure; a retry that would
//! fall after `StatusFrequency` minutes is not sent and the subscription is dropped. When
//! nothing happens for `StatusFrequency` minutes, a `StatusEvent` is sent as a heartbeat.
//! A callback answering `SubscriptionStatus` `Unsubscribe` ends the subscription.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};

use super::item::FolderKind;
use super::mailbox::{Event, EventKind, EventTarget};

/// Most events in one `GetEvents` answer or push notification.
pub const MAX_EVENTS_PER_NOTIFICATION: usize = 50;
/// Most active subscriptions per mailbox (`EWSMaxSubscriptions` in Exchange Online).
pub const MAX_SUBSCRIPTIONS_PER_MAILBOX: usize = 20;
/// First retry interval of a failed push delivery.
pub const FIRST_PUSH_RETRY: SignedDuration = SignedDuration::from_secs(30);

/// Pull or push, with the kind-specific state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// Pull: the client polls with `GetEvents`.
    Pull {
        /// `Timeout` (1..=1440 minutes).
        timeout: SignedDuration,
        /// Last `Subscribe`/`GetEvents` call.
        last_poll: Timestamp,
    },
    /// Push: the server POSTs `SendNotification` to `url`.
    Push {
        /// Callback URL.
        url: String,
        /// `StatusFrequency` (1..=1440 minutes).
        status_frequency: SignedDuration,
        /// When the last notification was delivered successfully (or the subscription made).
        last_delivery: Timestamp,
        /// When delivery started failing, if it is failing.
        failing_since: Option<Timestamp>,
        /// When the next attempt may be made.
        next_attempt: Timestamp,
        /// Number of retries made since `failing_since`.
        retries: u32,
        /// A delivery is in flight.
        in_flight: bool,
    },
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `SubscriptionId`.
    pub id: String,
    /// Primary address of the watched mailbox.
    pub mailbox: String,
    /// Who created it (only they may use it).
    pub owner: String,
    /// Watched folders (`None` = `SubscribeToAllFolders`).
    pub folders: Option<Vec<FolderKind>>,
    /// Watched event types.
    pub event_types: Vec<EventKind>,
    /// Position (event-log watermark) the client has acknowledged.
    pub position: u64,
    /// Pull or push state.
    pub kind: SubscriptionKind,
}

impl Subscription {
    /// Whether the subscription wants `event`.
    pub fn wants(&self, event: &Event) -> bool {
        let folder_ok = match &self.folders {
            None => true,
            Some(folders) => {
                folders.contains(&event.folder)
                    || event.old.is_some_and(|(_, f)| folders.contains(&f))
            }
        };
        let type_ok = self.event_types.contains(&event.kind)
            // Folder-level modifications are reported when ModifiedEvent is requested.
            || (event.target == EventTarget::Folder && self.event_types.contains(&EventKind::Modified));
        folder_ok && type_ok && super::notification::is_reportable(event)
    }
}

/// Why a subscription cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionError {
    /// The id cannot be a subscription id (`ErrorInvalidSubscription`).
    Invalid,
    /// No such subscription (`ErrorSubscriptionNotFound`).
    NotFound,
    /// It timed out; it is now deleted (`ErrorExpiredSubscription`).
    Expired,
    /// Someone else's (`ErrorSubscriptionAccessDenied`).
    AccessDenied,
    /// A push subscription used with `GetEvents`/`Unsubscribe` (`ErrorInvalidPullSubscriptionId`).
    NotPull,
}

impl SubscriptionError {
    /// The EWS response code and Exchange's message text.
    pub fn code_and_text(self) -> (&'static str, &'static str) {
        match self {
            SubscriptionError::Invalid => {
                ("ErrorInvalidSubscription", "The subscription is invalid.")
            }
            SubscriptionError::NotFound => (
                "ErrorSubscriptionNotFound",
                "The specified subscription was not found.",
            ),
            SubscriptionError::Expired => {
                ("ErrorExpiredSubscription", "The subscription has expired.")
            }
            SubscriptionError::AccessDenied => (
                "ErrorSubscriptionAccessDenied",
                "Access is denied. Only the subscription owner may access the subscription.",
            ),
            SubscriptionError::NotPull => (
                "ErrorInvalidPullSubscriptionId",
                "The pull subscription ID is invalid. Push subscriptions are ended by answering Unsubscribe to a notification.",
            ),
        }
    }
}

/// A notification the push task must deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushJob {
    /// The subscription.
    pub subscription_id: String,
    /// The watched mailbox.
    pub mailbox: String,
    /// The callback URL.
    pub url: String,
    /// Watermark the notification starts after (`PreviousWatermark`).
    pub previous_position: u64,
    /// The events with their watermark positions (empty: a `StatusEvent` heartbeat).
    pub events: Vec<(u64, Event)>,
    /// Position after the last event (or the current position for a heartbeat).
    pub position: u64,
    /// Whether more events are waiting.
    pub more_events: bool,
}

/// Outcome of one push delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// The callback answered `SubscriptionStatus` `OK`.
    Ok,
    /// The callback answered `SubscriptionStatus` `Unsubscribe`.
    Unsubscribe,
    /// No valid answer (connection error, non-200 status, unparsable body).
    Failed,
}

/// What became of a subscription after a push result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushDisposition {
    /// Still active.
    Active,
    /// Removed at the client's request.
    Unsubscribed,
    /// Removed because retries ran past `StatusFrequency`.
    Dropped,
}

/// All subscriptions of the emulator.
#[derive(Debug, Default, Clone)]
pub struct SubscriptionTable {
    by_id: HashMap<String, Subscription>,
}

const SUBSCRIPTION_ID_MAGIC: [u8; 2] = [0x10, 0x00];

/// A new random subscription id.
pub fn new_subscription_id() -> String {
    let mut bytes = SUBSCRIPTION_ID_MAGIC.to_vec();
    bytes.extend_from_slice(&rand::random::<[u8; 24]>());
    STANDARD.encode(bytes)
}

fn is_well_formed_id(id: &str) -> bool {
    STANDARD
        .decode(id.trim())
        .is_ok_and(|bytes| bytes.len() == 26 && bytes.starts_with(&SUBSCRIPTION_ID_MAGIC))
}

impl SubscriptionTable {
    /// Number of active subscriptions on a mailbox.
    pub fn count_for_mailbox(&self, mailbox: &str) -> usize {
        self.by_id
            .values()
            .filter(|s| s.mailbox.eq_ignore_ascii_case(mailbox))
            .count()
    }

    /// Adds a subscription.
    pub fn insert(&mut self, subscription: Subscription) {
        self.by_id.insert(subscription.id.clone(), subscription);
    }

    /// A subscription by id (no checks).
    pub fn get(&self, id: &str) -> Option<&Subscription> {
        self.by_id.get(id.trim())
    }

    /// All subscriptions.
    pub fn iter(&self) -> impl Iterator<Item = &Subscription> {
        self.by_id.values()
    }

    /// Removes a subscription (by the admin API or a push `Unsubscribe`).
    pub fn remove(&mut self, id: &str) -> Option<Subscription> {
        self.by_id.remove(id.trim())
    }

    /// Looks up a pull subscription for `GetEvents`/`Unsubscribe` by `owner` at `now`,
    /// expiring it if its timeout passed.
    pub fn pull_mut(
        &mut self,
        id: &str,
        owner: &str,
        now: Timestamp,
    ) -> Result<&mut Subscription, SubscriptionError> {
        let id = id.trim();
        if !is_well_formed_id(id) {
            return Err(SubscriptionError::Invalid);
        }
        let subscription = self.by_id.get(id).ok_or(SubscriptionError::NotFound)?;
        if !subscription.owner.eq_ignore_ascii_case(owner) {
            return Err(SubscriptionError::AccessDenied);
        }
        match subscription.kind {
            SubscriptionKind::Push { .. } => return Err(SubscriptionError::NotPull),
            SubscriptionKind::Pull { timeout, last_poll } => {
                if now.duration_since(last_poll) > timeout {
                    self.by_id.remove(id);
                    return Err(SubscriptionError::Expired);
                }
            }
        }
        self.by_id.get_mut(id).ok_or(SubscriptionError::NotFound)
    }

    /// Removes pull subscriptions whose timeout passed long ago (housekeeping; a subscription
    /// that expired recently is kept so the client learns about it with
    /// `ErrorExpiredSubscription`).
    pub fn purge_expired(&mut self, now: Timestamp) {
        self.by_id.retain(|_, s| match s.kind {
            SubscriptionKind::Pull { timeout, last_poll } => {
                now.duration_since(last_poll) <= timeout.checked_mul(4).unwrap_or(timeout)
            }
            SubscriptionKind::Push { .. } => true,
        });
    }

    /// Push notifications due at `now`, given each mailbox's events. Marks the returned
    /// subscriptions as in flight.
    pub fn due_pushes<'a>(
        &mut self,
        now: Timestamp,
        events_of: impl Fn(&str) -> Option<(&'a [Event], u64)>,
    ) -> Vec<PushJob> {
        let mut jobs = Vec::new();
        for subscription in self.by_id.values_mut() {
            let (url, heartbeat_due) = match &subscription.kind {
                SubscriptionKind::Push {
                    url,
                    status_frequency,
                    last_delivery,
                    next_attempt,
                    in_flight,
                    ..
                } => {
                    if *in_flight || now < *next_attempt {
                        continue;
                    }
                    (
                        url.clone(),
                        now.duration_since(*last_delivery) >= *status_frequency,
                    )
                }
                SubscriptionKind::Pull { .. } => continue,
            };
            let Some((events, head)) = events_of(&subscription.mailbox) else {
                continue;
            };
            let start = usize::try_from(subscription.position)
                .unwrap_or(usize::MAX)
                .min(events.len());
            let mut wanted = Vec::new();
            let mut position = subscription.position;
            let mut more = false;
            for (offset, event) in events[start..].iter().enumerate() {
                if wanted.len() == MAX_EVENTS_PER_NOTIFICATION {
                    more = true;
                    break;
                }
                position = (start + offset + 1) as u64;
                if subscription.wants(event) {
                    wanted.push((position, *event));
                }
            }
            if !more {
                position = position.max(head);
            }
            if wanted.is_empty() && !heartbeat_due {
                // Nothing to say; skip over unwanted events silently.
                subscription.position = position;
                continue;
            }
            if let SubscriptionKind::Push { in_flight, .. } = &mut subscription.kind {
                *in_flight = true;
            }
            jobs.push(PushJob {
                subscription_id: subscription.id.clone(),
                mailbox: subscription.mailbox.clone(),
                url,
                previous_position: subscription.position,
                events: wanted,
                position,
                more_events: more,
            });
        }
        jobs
    }

    /// Records the outcome of a push delivery.
    pub fn push_result(
        &mut self,
        job: &PushJob,
        outcome: PushOutcome,
        now: Timestamp,
    ) -> PushDisposition {
        let Some(subscription) = self.by_id.get_mut(&job.subscription_id) else {
            return PushDisposition::Dropped;
        };
        let SubscriptionKind::Push {
            status_frequency,
            last_delivery,
            failing_since,
            next_attempt,
            retries,
            in_flight,
            ..
        } = &mut subscription.kind
        else {
            return PushDisposition::Active;
        };
        *in_flight = false;
        match outcome {
            PushOutcome::Ok => {
                subscription.position = job.position;
                *last_delivery = now;
                *failing_since = None;
                *retries = 0;
                *next_attempt = now;
                PushDisposition::Active
            }
            PushOutcome::Unsubscribe => {
                self.by_id.remove(&job.subscription_id);
                PushDisposition::Unsubscribed
            }
            PushOutcome::Failed => {
                let first_failure = *failing_since.get_or_insert(now);
                *retries += 1;
                // Retry n happens 30 s * 2^(n-1) after the first failure.
                let delay = FIRST_PUSH_RETRY
                    .checked_mul(1i32 << (*retries - 1).min(20))
                    .unwrap_or(SignedDuration::MAX);
                if delay > *status_frequency {
                    self.by_id.remove(&job.subscription_id);
                    return PushDisposition::Dropped;
                }
                *next_attempt = first_failure.checked_add(delay).unwrap_or(Timestamp::MAX);
                PushDisposition::Active
            }
        }
    }

    /// Clears the in-flight flag of every push subscription (after a push task restart).
    pub fn reset_in_flight(&mut self) {
        for subscription in self.by_id.values_mut() {
            if let SubscriptionKind::Push { in_flight, .. } = &mut subscription.kind {
                *in_flight = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn event(folder: FolderKind, kind: EventKind, seq: u64) -> Event {
        Event {
            seq,
            time: ts("2026-01-01T00:00:00Z"),
            kind,
            target: EventTarget::Item(seq),
            folder,
            old: None,
        }
    }

    fn push(id: &str, frequency_min: i64, now: Timestamp) -> Subscription {
        Subscription {
            id: id.into(),
            mailbox: "room@contoso.com".into(),
            owner: "app".into(),
            folders: Some(vec![FolderKind::Calendar]),
            event_types: vec![EventKind::Created, EventKind::Modified],
            position: 0,
            kind: SubscriptionKind::Push {
                url: "http://127.0.0.1:9/hook".into(),
                status_frequency: SignedDuration::from_mins(frequency_min),
                last_delivery: now,
                failing_since: None,
                next_attempt: now,
                retries: 0,
                in_flight: false,
            },
        }
    }

    #[test]
    fn pull_subscriptions_expire_and_check_their_owner() {
        let mut table = SubscriptionTable::default();
        let id = new_subscription_id();
        let now = ts("2026-01-01T00:00:00Z");
        table.insert(Subscription {
            id: id.clone(),
            mailbox: "a@contoso.com".into(),
            owner: "app".into(),
            folders: None,
            event_types: vec![EventKind::Created],
            position: 0,
            kind: SubscriptionKind::Pull {
                timeout: SignedDuration::from_mins(10),
                last_poll: now,
            },
        });
        assert_eq!(
            table.pull_mut(&id, "other", now).unwrap_err(),
            SubscriptionError::AccessDenied
        );
        assert!(
            table
                .pull_mut(&id, "APP", ts("2026-01-01T00:09:00Z"))
                .is_ok()
        );
        assert_eq!(
            table.pull_mut("garbage", "app", now).unwrap_err(),
            SubscriptionError::Invalid
        );
        assert_eq!(
            table
                .pull_mut(&new_subscription_id(), "app", now)
                .unwrap_err(),
            SubscriptionError::NotFound
        );
        assert_eq!(
            table
                .pull_mut(&id, "app", ts("2026-01-01T00:11:00Z"))
                .unwrap_err(),
            SubscriptionError::Expired
        );
        assert_eq!(
            table
                .pull_mut(&id, "app", ts("2026-01-01T00:11:00Z"))
                .unwrap_err(),
            SubscriptionError::NotFound
        );
    }

    #[test]
    fn push_sends_wanted_events_and_heartbeats() {
        let now = ts("2026-01-01T00:00:00Z");
        let mut table = SubscriptionTable::default();
        table.insert(push("s1", 1, now));
        let events = [
            event(FolderKind::Inbox, EventKind::Created, 1),
            event(FolderKind::Calendar, EventKind::Created, 2),
            event(FolderKind::Calendar, EventKind::Deleted, 3),
        ];
        let jobs = table.due_pushes(now, |_| Some((&events[..], 3)));
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].events, vec![(2, events[1])]);
        assert_eq!(jobs[0].position, 3);
        // In flight: nothing more until the result is in.
        assert!(table.due_pushes(now, |_| Some((&events[..], 3))).is_empty());
        assert_eq!(
            table.push_result(&jobs[0], PushOutcome::Ok, now),
            PushDisposition::Active
        );
        assert!(
            table
                .due_pushes(ts("2026-01-01T00:00:30Z"), |_| Some((&events[..], 3)))
                .is_empty()
        );
        let heartbeat = table.due_pushes(ts("2026-01-01T00:01:00Z"), |_| Some((&events[..], 3)));
        assert_eq!(heartbeat.len(), 1);
        assert!(heartbeat[0].events.is_empty());
    }

    #[test]
    fn failed_pushes_retry_with_doubling_intervals_then_drop() {
        let start = ts("2026-01-01T00:00:00Z");
        let mut table = SubscriptionTable::default();
        table.insert(push("s1", 2, start));
        let events = [event(FolderKind::Calendar, EventKind::Created, 1)];
        let at = |s: &str| ts(&format!("2026-01-01T00:{s}Z"));
        let job = table
            .due_pushes(start, |_| Some((&events[..], 1)))
            .remove(0);
        assert_eq!(
            table.push_result(&job, PushOutcome::Failed, start),
            PushDisposition::Active
        );
        assert!(
            table
                .due_pushes(at("00:29"), |_| Some((&events[..], 1)))
                .is_empty()
        );
        let retry1 = table
            .due_pushes(at("00:30"), |_| Some((&events[..], 1)))
            .remove(0);
        assert_eq!(
            table.push_result(&retry1, PushOutcome::Failed, at("00:30")),
            PushDisposition::Active
        );
        assert!(
            table
                .due_pushes(at("00:59"), |_| Some((&events[..], 1)))
                .is_empty()
        );
        let retry2 = table
            .due_pushes(at("01:00"), |_| Some((&events[..], 1)))
            .remove(0);
        assert_eq!(
            table.push_result(&retry2, PushOutcome::Failed, at("01:00")),
            PushDisposition::Active
        );
        let retry3 = table
            .due_pushes(at("02:00"), |_| Some((&events[..], 1)))
            .remove(0);
        // The next retry would be at 4:00, past the 2-minute StatusFrequency: dropped.
        assert_eq!(
            table.push_result(&retry3, PushOutcome::Failed, at("02:00")),
            PushDisposition::Dropped
        );
        assert!(table.get("s1").is_none());
    }

    #[test]
    fn unsubscribe_answer_removes_the_subscription() {
        let now = ts("2026-01-01T00:00:00Z");
        let mut table = SubscriptionTable::default();
        table.insert(push("s1", 30, now));
        let events = [event(FolderKind::Calendar, EventKind::Created, 1)];
        let job = table.due_pushes(now, |_| Some((&events[..], 1))).remove(0);
        assert_eq!(
            table.push_result(&job, PushOutcome::Unsubscribe, now),
            PushDisposition::Unsubscribed
        );
        assert_eq!(table.count_for_mailbox("room@contoso.com"), 0);
    }
}
