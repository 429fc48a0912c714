//! Change notifications: the layer behind the `notifications` export, beside
//! the sync engine ([`crate::sync`]) and over the same [`Platform`].
//!
//! The host's service (`rooms-sync serve`, or a serverless host) decides when
//! to call and keeps the [`Subscription`] records; this layer speaks EWS and
//! answers what each call found, one function per export function:
//!
//! - [`subscribe`]: one `Subscribe` per person of a batch, push for
//!   `O365` (to the callback URL) and pull for `O365Pull`, resuming at the
//!   previous subscription's watermark when Exchange still knows it.
//! - [`poll`]: `GetEvents` for each pull subscription of a batch, again while
//!   Exchange says `MoreEvents` (at most [`poll::MAX_ROUNDS`] rounds), with
//!   the number of item events found.
//! - [`unsubscribe`]: `Unsubscribe` for pull subscriptions the host no longer
//!   wants.
//! - [`webhook`]: a `SendNotification` POSTed to the push webhook, checked
//!   (method, content type, SOAP shape, a known subscription of an active
//!   push person) and answered `OK` or `Unsubscribe`. It makes no outgoing
//!   request.
//!
//! An event is only ever a hint: no item data of a notification is read or
//! applied; the host runs the person's incremental sync (`sync.run-person`),
//! which reads Exchange. A subscription Exchange no longer knows is reported
//! as lost (the host subscribes again and syncs, so nothing is missed), not
//! as a failure.
//!
//! Sign-in and endpoints come from [`Target::prepare`], as for the sync: the
//! settings are read once per call, and persons on the same EWS endpoint
//! share one token provider, so a batch signs in at most once per endpoint
//! (and the host's token cache carries the token to the next call).
//! Throttling is honoured as in the sync engine ([`crate::sync::retry`]): the
//! mailbox is paused on the host's clock, and the wait is bounded by
//! `SyncRetryMaxSeconds` and by the host's deadline for the call.

pub mod poll;
pub mod subscribe;
pub mod unsubscribe;
pub mod webhook;

use crate::config::RawSettings;
use crate::error::Error;
use crate::ews::get_events::lost_code;
use crate::platform::{Person, Platform, Subscription};
use crate::session::Target;
use crate::sync::options::Options;
use crate::sync::retry::Pacer;
use crate::sync::{Problem, problem};

pub use poll::{PollOutcome, Watch, get_events};
pub use subscribe::{SubscribeOptions, SubscribeRequest, Subscribed, subscribe};
pub use unsubscribe::unsubscribe;
pub use webhook::{WebhookEvent, WebhookOutcome, WebhookRequest, WebhookResponse, handle_webhook};

/// What one call of a batch shares: the settings (read once), the targets
/// by endpoint (one token provider each) and the pacer.
pub(crate) struct Batch {
    raw: Result<RawSettings, Error>,
    targets: Vec<Target>,
    pub(crate) pacer: Pacer,
}

impl Batch {
    /// Reads the settings and the retry bound.
    pub(crate) fn new(platform: &dyn Platform) -> Self {
        let raw = RawSettings::read(platform);
        let options = Options::read(platform);
        Self {
            raw,
            targets: Vec::new(),
            pacer: Pacer::new(options.retry_max_ms),
        }
    }

    /// The target of `person`: validated settings, address and endpoint; the
    /// one already prepared for the same endpoint when there is one, so its
    /// token is reused.
    pub(crate) fn target(&mut self, person: &Person) -> Result<usize, Error> {
        let raw = self.raw.as_ref().map_err(Clone::clone)?;
        let fresh = Target::prepare(raw, person)?;
        if let Some(index) = self.targets.iter().position(|t| t.url == fresh.url) {
            return Ok(index);
        }
        self.targets.push(fresh);
        Ok(self.targets.len() - 1)
    }

    /// The target at `index` (from [`Batch::target`]) and the pacer.
    pub(crate) fn parts(&mut self, index: usize) -> (&Target, &mut Pacer) {
        (&self.targets[index], &mut self.pacer)
    }
}

/// The problem for an error of a notification call: a lost subscription is
/// named by its EWS code and needs no fix (the host subscribes again); any
/// other error is made as the sync makes its problems.
pub(crate) fn problem_of(error: &Error) -> Problem {
    match lost_code(error) {
        Some(code) => Problem {
            code: code.to_owned(),
            message: error.message(),
            fix: None,
            cause: Some(error.clone()),
        },
        None => problem(error),
    }
}

/// `subscription` with the mailbox as the host stores it (lower-case).
pub(crate) fn stored(mut subscription: Subscription) -> Subscription {
    subscription.mailbox.make_ascii_lowercase();
    subscription
}

/// What the tests of the notification layer share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::ews::calendar_item::test_support::signed_in;
    use crate::platform::{ConflictBehaviour, Person, SyncMode};
    use crate::testing::{APP_ID, TestPlatform};

    /// An active room with the default endpoint.
    pub(crate) fn person(email: &str, mode: SyncMode) -> Person {
        Person {
            email: email.into(),
            sync_mode: mode,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: true,
            sync_master: false,
        }
    }

    /// A platform with app-only settings and a cached token for them.
    pub(crate) fn platform() -> TestPlatform {
        let (mut platform, _) = signed_in();
        for (key, value) in [
            ("ExchangeTenantId", "contoso.onmicrosoft.com"),
            ("ExchangeAppId", APP_ID),
        ] {
            platform.config.insert(key.into(), value.into());
        }
        platform
    }
}
