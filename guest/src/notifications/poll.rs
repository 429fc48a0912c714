//! `notifications.get-events`: polling a batch of pull subscriptions.
//!
//! For each [`Watch`], `GetEvents` at the stored watermark, and again at
//! the new one while Exchange says `MoreEvents`, at most [`MAX_ROUNDS`]
//! times (Exchange hands out 50 events per call; a mailbox with more waiting
//! is polled on at the next interval). Every answered call acknowledges its
//! events on the server, so the outcome carries the last watermark and the
//! number of item events of all rounds; a later round that fails for a
//! passing reason (throttling, the network) does not lose what was
//! acknowledged before it.
//!
//! Outcomes ([`PollOutcome`]): `events` (the subscription with its new
//! watermark, and the item-event count: zero means only status events),
//! `lost` (Exchange no longer knows the subscription or its watermark, one of
//! [`crate::ews::get_events::LOST_CODES`]: the host subscribes again and
//! syncs) or `failed` (sign-in, access, throttling past the bound,
//! transport: the host counts it toward `FailedGetEventsTillDeactivate`).

use super::{Batch, problem_of, stored};
use crate::error::Error;
use crate::ews::get_events::{self, lost_code};
use crate::platform::{Level, Person, Platform, Subscription};
use crate::sync::Problem;

/// The most `GetEvents` calls for one subscription in one poll.
pub const MAX_ROUNDS: u32 = 20;

/// One pull subscription to poll, with its person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The person (its endpoint and sign-in).
    pub person: Person,
    /// The stored subscription.
    pub subscription: Subscription,
}

/// What one poll found.
#[derive(Debug, Clone)]
pub enum PollOutcome {
    /// Events were read and acknowledged: the subscription with its new
    /// watermark, and how many item events there were.
    Events(Subscription, u32),
    /// Exchange no longer knows the subscription or its watermark.
    Lost(Problem),
    /// The poll failed.
    Failed(Problem),
}

/// Polls every watch; the outcomes are in the order of `watches`.
pub fn get_events(platform: &mut dyn Platform, watches: &[Watch]) -> Vec<PollOutcome> {
    let mut batch = Batch::new(platform);
    watches
        .iter()
        .map(|watch| poll(platform, &mut batch, watch))
        .collect()
}

fn poll(platform: &mut dyn Platform, batch: &mut Batch, watch: &Watch) -> PollOutcome {
    let mailbox = watch.subscription.mailbox.to_ascii_lowercase();
    let index = match batch.target(&watch.person) {
        Ok(index) => index,
        Err(e) => return failed(platform, &mailbox, &e),
    };
    let (target, pacer) = batch.parts(index);
    let client = target.client();
    let subscription = &watch.subscription;
    let mut watermark = subscription.watermark.clone();
    let mut item_events = 0u32;
    let mut rounds = 0u32;
    loop {
        let answer = pacer.run(platform, &mailbox, true, |p| {
            get_events::get_events(
                &client,
                p,
                &mailbox,
                &subscription.id,
                &watermark,
                subscription.affinity.as_deref(),
            )
        });
        let notification = match answer {
            Ok(notification) => notification,
            Err(e) if lost_code(&e).is_some() => {
                let problem = problem_of(&e);
                platform.log(
                    Level::Info,
                    &format!(
                        "the pull subscription of {mailbox} is lost ({}); it is to be made again",
                        problem.code
                    ),
                );
                return PollOutcome::Lost(problem);
            }
            Err(e) if rounds == 0 => return failed(platform, &mailbox, &e),
            Err(e) => {
                platform.log(
                    Level::Warn,
                    &format!(
                        "polling {mailbox} stopped after {rounds} answered calls: {}",
                        e.message()
                    ),
                );
                break;
            }
        };
        rounds += 1;
        item_events = item_events.saturating_add(notification.item_events());
        watermark = notification.last_watermark().to_owned();
        if !notification.more_events {
            break;
        }
        if rounds >= MAX_ROUNDS {
            platform.log(
                Level::Info,
                &format!(
                    "{mailbox} has more events after {rounds} GetEvents calls; the rest are read \
                     at the next poll"
                ),
            );
            break;
        }
    }
    platform.log(
        Level::Debug,
        &format!("polled {mailbox}: {item_events} item events in {rounds} calls"),
    );
    PollOutcome::Events(
        stored(Subscription {
            watermark,
            ..subscription.clone()
        }),
        item_events,
    )
}

fn failed(platform: &dyn Platform, mailbox: &str, error: &Error) -> PollOutcome {
    platform.log(
        Level::Warn,
        &format!("polling {mailbox} failed: {}", error.message()),
    );
    PollOutcome::Failed(problem_of(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{sent_operation, soap};
    use crate::ews::get_events::LOST_CODES;
    use crate::ews::get_events::test_support::{answer, error_answer};
    use crate::ews::xml::Ns;
    use crate::notifications::test_support::{person, platform};
    use crate::platform::{SyncMode, TransportKind};
    use crate::testing::{TestPlatform, ews_sample};

    fn watch(mailbox: &str) -> Watch {
        Watch {
            person: person(mailbox, SyncMode::O365Pull),
            subscription: Subscription {
                mailbox: mailbox.to_ascii_lowercase(),
                mode: SyncMode::O365Pull,
                id: "SUB".into(),
                watermark: "W0".into(),
                affinity: Some("EMU1~1".into()),
            },
        }
    }

    /// A GetEvents answer from `previous` with `events` (`Created` or
    /// `Status`, named by watermark) and `more`.
    fn events(previous: &str, events: &[(&str, &str)], more: bool) -> Vec<u8> {
        let mut inner = format!(
            "<t:SubscriptionId>SUB</t:SubscriptionId><t:PreviousWatermark>{previous}</t:PreviousWatermark><t:MoreEvents>{more}</t:MoreEvents>"
        );
        for (kind, watermark) in events {
            inner.push_str(&format!(
                "<t:{kind}Event><t:Watermark>{watermark}</t:Watermark></t:{kind}Event>"
            ));
        }
        answer(&inner).into_bytes()
    }

    fn sent_watermark(platform: &TestPlatform, index: usize) -> String {
        sent_operation(platform, index)
            .child(&Ns::Messages, "Watermark")
            .unwrap()
            .text
            .clone()
    }

    #[test]
    fn events_are_counted_and_the_last_watermark_kept() {
        let mut platform = platform();
        platform.answers.push_back(soap(events(
            "W0",
            &[("Created", "W1"), ("Modified", "W2"), ("Status", "W3")],
            false,
        )));
        let outcomes = get_events(&mut platform, &[watch("Room1@contoso.com")]);
        let PollOutcome::Events(subscription, count) = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(*count, 2);
        assert_eq!(subscription.watermark, "W3");
        assert_eq!(subscription.mailbox, "room1@contoso.com");
        assert_eq!(subscription.affinity.as_deref(), Some("EMU1~1"));
        assert_eq!(sent_watermark(&platform, 0), "W0");
        assert_eq!(
            platform.requests[0].header("cookie"),
            Some("X-BackEndOverrideCookie=EMU1~1")
        );
    }

    #[test]
    fn a_status_event_only_is_zero_changes() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(events("W0", &[("Status", "W0")], false)));
        let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
        assert!(matches!(&outcomes[0], PollOutcome::Events(s, 0) if s.watermark == "W0"));
    }

    #[test]
    fn more_events_are_read_in_rounds_up_to_the_bound() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(events("W0", &[("Created", "W1")], true)));
        platform
            .answers
            .push_back(soap(events("W1", &[("Deleted", "W2")], false)));
        let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
        assert!(matches!(&outcomes[0], PollOutcome::Events(s, 2) if s.watermark == "W2"));
        assert_eq!(sent_watermark(&platform, 1), "W1");

        let mut platform = self::platform();
        for round in 0..MAX_ROUNDS + 5 {
            let (from, to) = (format!("W{round}"), format!("W{}", round + 1));
            platform
                .answers
                .push_back(soap(events(&from, &[("Modified", &to)], true)));
        }
        let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
        let PollOutcome::Events(subscription, count) = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(*count, MAX_ROUNDS);
        assert_eq!(subscription.watermark, format!("W{MAX_ROUNDS}"));
        assert_eq!(platform.requests.len(), MAX_ROUNDS as usize);
    }

    #[test]
    fn every_lost_code_is_lost_not_failed() {
        for code in LOST_CODES {
            let mut platform = platform();
            platform
                .answers
                .push_back(soap(error_answer("GetEvents", code)));
            let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
            let PollOutcome::Lost(problem) = &outcomes[0] else {
                panic!("{code}: {outcomes:?}")
            };
            assert_eq!(problem.code, *code);
            assert_eq!(problem.fix, None);
            assert!(problem.message.contains(code), "{}", problem.message);
            assert!(problem.cause.is_some());
        }
    }

    #[test]
    fn a_lost_subscription_in_a_later_round_is_lost() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(events("W0", &[("Created", "W1")], true)));
        platform
            .answers
            .push_back(soap(error_answer("GetEvents", "ErrorExpiredSubscription")));
        let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
        assert!(
            matches!(&outcomes[0], PollOutcome::Lost(p) if p.code == "ErrorExpiredSubscription")
        );
    }

    #[test]
    fn failures_are_made_like_the_syncs_problems() {
        // Access denied to the subscription, throttling past the host's
        // deadline, a transport failure: failed, with code, message, fix
        // and cause.
        let mut platform = platform();
        platform.wait_answer = false;
        platform.answers.push_back(soap(
            &ews_sample!("getevents-error-subscriptionaccessdenied.xml")[..],
        ));
        platform
            .answers
            .push_back(soap(&ews_sample!("serverbusy-soapfault.xml")[..]));
        let outcomes = get_events(
            &mut platform,
            &[
                watch("room1@contoso.com"),
                watch("room2@contoso.com"),
                watch("room3@contoso.com"),
            ],
        );
        let codes: Vec<(String, bool)> = outcomes
            .iter()
            .map(|o| match o {
                PollOutcome::Failed(p) => (
                    p.code.clone(),
                    p.fix.is_some() && p.cause.is_some() && !p.message.is_empty(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            codes,
            [
                ("ErrorSubscriptionAccessDenied".to_owned(), true),
                ("ErrorServerBusy".to_owned(), true),
                ("transport".to_owned(), true)
            ]
        );
        let PollOutcome::Failed(p) = &outcomes[0] else {
            panic!()
        };
        assert!(
            p.message.contains("ErrorSubscriptionAccessDenied"),
            "{}",
            p.message
        );
        let PollOutcome::Failed(p) = &outcomes[2] else {
            panic!()
        };
        assert!(
            matches!(&p.cause, Some(Error::Transport(t)) if t.kind == TransportKind::Connection)
        );
    }

    #[test]
    fn a_failure_after_acknowledged_rounds_keeps_them() {
        let mut platform = platform();
        platform.wait_answer = false;
        platform
            .answers
            .push_back(soap(events("W0", &[("Created", "W1")], true)));
        platform
            .answers
            .push_back(soap(&ews_sample!("serverbusy-soapfault.xml")[..]));
        let outcomes = get_events(&mut platform, &[watch("room1@contoso.com")]);
        assert!(matches!(&outcomes[0], PollOutcome::Events(s, 1) if s.watermark == "W1"));
    }

    #[test]
    fn a_bad_address_fails_only_its_watch() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(events("W0", &[("Status", "W0")], false)));
        let mut bad = watch("room1@contoso.com");
        bad.person.email = "not an address".into();
        let outcomes = get_events(&mut platform, &[bad, watch("room2@contoso.com")]);
        assert!(matches!(&outcomes[0], PollOutcome::Failed(p) if p.code == "configuration"));
        assert!(matches!(&outcomes[1], PollOutcome::Events(_, 0)));
        assert_eq!(platform.requests.len(), 1);
    }
}
