//! `notifications.subscribe`: one `Subscribe` per person of a batch.
//!
//! A person in `O365` mode gets a push subscription to the callback URL of
//! [`SubscribeOptions`] (without one: a `configuration` problem naming
//! `ExchangePushNotificationEndpointUrl` and `--public-url`); a person in
//! `O365Pull` mode gets a pull subscription. With a previous subscription of
//! the same mailbox, the new one starts at its watermark, so the events in
//! between are delivered; when Exchange refuses that watermark (expired,
//! unknown: [`crate::ews::get_events::LOST_CODES`]), the person is subscribed
//! afresh and the answer says `resumed: false`, so the host runs an
//! incremental sync. A failure of one person does not stop the others.
//!
//! A previous pull subscription of the same mailbox is ended (`Unsubscribe`,
//! best effort) once its successor exists: Exchange Online keeps at most 20
//! subscriptions per mailbox (`EWSMaxSubscriptions`), and a renewal every
//! `IntervallSubscribeInMinutes` would otherwise pile up subscriptions that
//! live until their `Timeout`. A previous push subscription needs no call:
//! the host stores the new one in its place, so the old one's next
//! notification finds no subscription and is answered `Unsubscribe`.

use super::{Batch, problem_of, stored};
use crate::error::Error;
use crate::ews::get_events::lost_code;
use crate::ews::subscribe::{self as ews_subscribe, Kind};
use crate::ews::unsubscribe as ews_unsubscribe;
use crate::platform::{Level, Person, Platform, Subscription, SyncMode};
use crate::sync::Problem;
use crate::url::HttpUrl;

/// The settings key of the push callback.
pub const CALLBACK_KEY: &str = "ExchangePushNotificationEndpointUrl";

/// How new subscriptions are made (the WIT `subscribe-options`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Pull: minutes without `GetEvents` before Exchange drops the
    /// subscription (1..=1440).
    pub timeout_minutes: u32,
    /// Push: the callback URL; none for pull.
    pub callback_url: Option<String>,
    /// Push: minutes between heartbeats (1..=1440).
    pub status_frequency_minutes: u32,
}

/// One person to subscribe, with its previous subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The person.
    pub person: Person,
    /// The subscription it had, if any.
    pub previous: Option<Subscription>,
}

/// The new subscription of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// The subscription, to be stored in place of the previous one.
    pub subscription: Subscription,
    /// True when it starts at the previous subscription's watermark.
    pub resumed: bool,
}

/// Subscribes every person of `requests`; the answers are in their order.
// The answers mirror the WIT `result<subscribed, sync-problem>`.
#[allow(clippy::result_large_err)]
pub fn subscribe(
    platform: &mut dyn Platform,
    requests: &[SubscribeRequest],
    options: &SubscribeOptions,
) -> Vec<Result<Subscribed, Problem>> {
    let mut batch = Batch::new(platform);
    requests
        .iter()
        .map(|request| {
            let outcome = one(platform, &mut batch, request, options);
            match &outcome {
                Ok(s) => platform.log(
                    Level::Info,
                    &format!(
                        "{} subscription of {} made{}",
                        mode_name(s.subscription.mode),
                        s.subscription.mailbox,
                        if s.resumed {
                            ", resumed at the previous watermark"
                        } else {
                            ""
                        }
                    ),
                ),
                Err(e) => platform.log(
                    Level::Warn,
                    &format!(
                        "subscribing {} failed: {}",
                        request.person.email,
                        e.message()
                    ),
                ),
            }
            outcome.map_err(|e| problem_of(&e))
        })
        .collect()
}

fn mode_name(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::O365 => "push",
        SyncMode::O365Pull => "pull",
    }
}

fn one(
    platform: &mut dyn Platform,
    batch: &mut Batch,
    request: &SubscribeRequest,
    options: &SubscribeOptions,
) -> Result<Subscribed, Error> {
    let person = &request.person;
    let mailbox = person.email.to_ascii_lowercase();
    let kind = match person.sync_mode {
        SyncMode::O365 => Kind::Push {
            status_frequency_minutes: options.status_frequency_minutes,
            url: callback(options)?,
        },
        SyncMode::O365Pull => Kind::Pull {
            timeout_minutes: options.timeout_minutes,
        },
    };
    let index = batch.target(person)?;
    let (target, pacer) = batch.parts(index);
    let client = target.client();
    let previous = request
        .previous
        .as_ref()
        .filter(|p| p.mailbox.eq_ignore_ascii_case(&mailbox) && !p.watermark.trim().is_empty())
        .map(|p| p.watermark.as_str());
    let mut send = |platform: &mut dyn Platform, watermark: Option<&str>| {
        pacer.run(platform, &mailbox, true, |p| {
            ews_subscribe::subscribe(&client, p, &mailbox, kind, watermark)
        })
    };
    let (made, resumed) = match previous {
        None => (send(platform, None)?, false),
        Some(watermark) => match send(platform, Some(watermark)) {
            Ok(made) => (made, true),
            Err(e) if lost_code(&e).is_some() => {
                platform.log(
                    Level::Info,
                    &format!(
                        "Exchange no longer knows the previous watermark of {mailbox} ({}); \
                         subscribing afresh",
                        lost_code(&e).unwrap_or_default()
                    ),
                );
                (send(platform, None)?, false)
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(old) = request.previous.as_ref().filter(|p| {
        p.mode == SyncMode::O365Pull && p.mailbox.eq_ignore_ascii_case(&mailbox) && p.id != made.id
    }) {
        let ended = pacer.run(platform, &mailbox, true, |p| {
            ews_unsubscribe::unsubscribe(&client, p, &mailbox, &old.id, old.affinity.as_deref())
        });
        if let Err(e) = ended {
            platform.log(
                Level::Warn,
                &format!(
                    "the previous pull subscription of {mailbox} could not be ended (it expires                      after its timeout): {}",
                    e.message()
                ),
            );
        }
    }
    Ok(Subscribed {
        subscription: stored(Subscription {
            mailbox,
            mode: person.sync_mode,
            id: made.id,
            watermark: made.watermark,
            affinity: made.affinity,
        }),
        resumed,
    })
}

/// The push callback, checked: an absolute `http(s)` URL shorter than the
/// 2083 characters Exchange accepts.
fn callback(options: &SubscribeOptions) -> Result<&str, Error> {
    let fix = format!(
        "Set {CALLBACK_KEY} (NotificationEndpointUrl in appsettings.json) to the public HTTPS \
         address of the webhook, e.g. https://rooms.contoso.com/api/webhooks/exchange, or start \
         rooms-sync serve with --public-url; or set the person's SyncMode to O365Pull."
    );
    let url = options
        .callback_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Error::configuration(
                CALLBACK_KEY,
                "is not set and the service has no public URL (--public-url), so Exchange has \
                 nowhere to push notifications of O365 persons",
                fix.clone(),
            )
        })?;
    if url.len() >= 2083 {
        return Err(Error::configuration(
            CALLBACK_KEY,
            "is longer than the 2082 characters Exchange accepts",
            fix,
        ));
    }
    HttpUrl::parse(url)
        .map_err(|problem| Error::configuration(CALLBACK_KEY, problem, fix.clone()))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{sent_operation, soap};
    use crate::ews::get_events::test_support::error_answer;
    use crate::ews::xml::Ns;
    use crate::notifications::test_support::{person, platform};
    use crate::platform::HttpResponse;
    use crate::testing::{TestPlatform, ews_sample};

    fn options() -> SubscribeOptions {
        SubscribeOptions {
            timeout_minutes: 720,
            callback_url: Some("https://rooms.contoso.com/api/webhooks/exchange".into()),
            status_frequency_minutes: 30,
        }
    }

    fn with_cookie(mut answer: HttpResponse, value: &str) -> HttpResponse {
        answer.headers.push((
            "Set-Cookie".into(),
            format!("X-BackEndOverrideCookie={value}; path=/; HttpOnly"),
        ));
        answer
    }

    fn previous(mailbox: &str, watermark: &str) -> Subscription {
        Subscription {
            mailbox: mailbox.into(),
            mode: SyncMode::O365Pull,
            id: "old-id".into(),
            watermark: watermark.into(),
            affinity: Some("OLD~1".into()),
        }
    }

    #[test]
    fn push_and_pull_by_sync_mode_in_one_sign_in() {
        let mut platform = platform();
        platform.answers.push_back(with_cookie(
            soap(&ews_sample!("subscribe-push-response.xml")[..]),
            "EMU1~1",
        ));
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        let answers = subscribe(
            &mut platform,
            &[
                SubscribeRequest {
                    person: person("Alice@Contoso.com", SyncMode::O365),
                    previous: None,
                },
                SubscribeRequest {
                    person: person("room1@contoso.com", SyncMode::O365Pull),
                    previous: None,
                },
            ],
            &options(),
        );
        let push = answers[0].as_ref().unwrap();
        assert_eq!(
            push,
            &Subscribed {
                subscription: Subscription {
                    mailbox: "alice@contoso.com".into(),
                    mode: SyncMode::O365,
                    id: "83826921-afdf-48be-b469-628cc02b5f49".into(),
                    watermark: "AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=".into(),
                    affinity: Some("EMU1~1".into()),
                },
                resumed: false,
            }
        );
        let pull = answers[1].as_ref().unwrap();
        assert_eq!(pull.subscription.mode, SyncMode::O365Pull);
        assert_eq!(pull.subscription.affinity, None);
        // Two requests, both to EWS: the token came from the cache once.
        assert_eq!(platform.requests.len(), 2);
        let op = sent_operation(&platform, 0);
        let push_request = op.child(&Ns::Messages, "PushSubscriptionRequest").unwrap();
        assert_eq!(
            push_request.child(&Ns::Types, "URL").unwrap().text,
            "https://rooms.contoso.com/api/webhooks/exchange"
        );
        assert_eq!(
            push_request
                .child(&Ns::Types, "StatusFrequency")
                .unwrap()
                .text,
            "30"
        );
        let op = sent_operation(&platform, 1);
        let pull_request = op.child(&Ns::Messages, "PullSubscriptionRequest").unwrap();
        assert_eq!(
            pull_request.child(&Ns::Types, "Timeout").unwrap().text,
            "720"
        );
        assert_eq!(
            platform.requests[0].header("x-anchormailbox"),
            Some("alice@contoso.com")
        );
    }

    #[test]
    fn a_previous_watermark_is_resumed_and_the_old_pull_subscription_ended() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        platform
            .answers
            .push_back(soap(&ews_sample!("unsubscribe-response.xml")[..]));
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("room1@contoso.com", SyncMode::O365Pull),
                previous: Some(previous("room1@contoso.com", "W-OLD")),
            }],
            &options(),
        );
        assert!(answers[0].as_ref().unwrap().resumed);
        let op = sent_operation(&platform, 0);
        let request = op.child(&Ns::Messages, "PullSubscriptionRequest").unwrap();
        assert_eq!(
            request.child(&Ns::Types, "Watermark").unwrap().text,
            "W-OLD"
        );
        // The old subscription's cookie is not sent: the new one gets its own.
        assert_eq!(platform.requests[0].header("cookie"), None);
        // Then the old one is ended, with its own affinity.
        let op = sent_operation(&platform, 1);
        assert!(op.is(&Ns::Messages, "Unsubscribe"));
        assert_eq!(
            op.child(&Ns::Messages, "SubscriptionId").unwrap().text,
            "old-id"
        );
        assert_eq!(
            platform.requests[1].header("cookie"),
            Some("X-BackEndOverrideCookie=OLD~1")
        );
        assert_eq!(platform.requests.len(), 2);
    }

    #[test]
    fn a_refused_watermark_falls_back_to_a_fresh_subscription() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(error_answer("Subscribe", "ErrorInvalidWatermark")));
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        // Ending the old subscription fails: the new one stands all the same.
        platform
            .answers
            .push_back(soap(error_answer("Unsubscribe", "ErrorAccessDenied")));
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("room1@contoso.com", SyncMode::O365Pull),
                previous: Some(previous("room1@contoso.com", "W-OLD")),
            }],
            &options(),
        );
        let made = answers[0].as_ref().unwrap();
        assert!(!made.resumed);
        assert_eq!(made.subscription.id, "39ea5d0f-f062-455e-a1e9-89c0304390f4");
        assert_eq!(platform.requests.len(), 3);
        let second = sent_operation(&platform, 1);
        let request = second
            .child(&Ns::Messages, "PullSubscriptionRequest")
            .unwrap();
        assert!(request.child(&Ns::Types, "Watermark").is_none());
        assert!(sent_operation(&platform, 2).is(&Ns::Messages, "Unsubscribe"));
        assert!(
            platform.logged().iter().any(|l| l
                .contains("previous pull subscription of room1@contoso.com could not be ended")),
            "{:?}",
            platform.logged()
        );
    }

    #[test]
    fn a_previous_push_subscription_is_left_to_the_webhook() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-push-response.xml")[..]));
        let mut old = previous("alice@contoso.com", "W-OLD");
        old.mode = SyncMode::O365;
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("alice@contoso.com", SyncMode::O365),
                previous: Some(old),
            }],
            &options(),
        );
        assert!(answers[0].as_ref().unwrap().resumed);
        assert_eq!(platform.requests.len(), 1);
    }

    #[test]
    fn a_previous_subscription_of_another_mailbox_is_not_resumed() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("room1@contoso.com", SyncMode::O365Pull),
                previous: Some(previous("room2@contoso.com", "W-OTHER")),
            }],
            &options(),
        );
        assert!(!answers[0].as_ref().unwrap().resumed);
        let op = sent_operation(&platform, 0);
        assert!(
            !op.children[0]
                .children
                .iter()
                .any(|c| c.name == "Watermark")
        );
    }

    #[test]
    fn push_without_a_callback_is_a_configuration_problem_and_others_go_on() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        let mut no_callback = options();
        no_callback.callback_url = Some("  ".into());
        let answers = subscribe(
            &mut platform,
            &[
                SubscribeRequest {
                    person: person("alice@contoso.com", SyncMode::O365),
                    previous: None,
                },
                SubscribeRequest {
                    person: person("room1@contoso.com", SyncMode::O365Pull),
                    previous: None,
                },
            ],
            &no_callback,
        );
        let problem = answers[0].as_ref().unwrap_err();
        assert_eq!(problem.code, "configuration");
        assert!(
            problem.message.contains(CALLBACK_KEY),
            "{}",
            problem.message
        );
        assert!(
            problem.message.contains("--public-url"),
            "{}",
            problem.message
        );
        assert!(problem.fix.as_deref().unwrap().contains("--public-url"));
        assert!(matches!(problem.cause, Some(Error::Configuration(_))));
        assert!(answers[1].is_ok());
        assert_eq!(platform.requests.len(), 1, "nothing sent for alice");

        let mut bad = options();
        bad.callback_url = Some("ftp://rooms.contoso.com/hook".into());
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("alice@contoso.com", SyncMode::O365),
                previous: None,
            }],
            &bad,
        );
        assert_eq!(answers[0].as_ref().unwrap_err().code, "configuration");
    }

    #[test]
    fn throttling_is_waited_out_on_the_hosts_clock() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("serverbusy-soapfault.xml")[..]));
        platform
            .answers
            .push_back(soap(&ews_sample!("subscribe-pull-response.xml")[..]));
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("room1@contoso.com", SyncMode::O365Pull),
                previous: None,
            }],
            &options(),
        );
        assert!(answers[0].is_ok());
        let waits = platform.waits.borrow().clone();
        assert_eq!(waits.len(), 1);
        assert_eq!(waits[0].0, "room1@contoso.com");
        assert!(waits[0].1 >= 297_749, "{waits:?}");

        // A wait past the host's deadline stops with the throttling problem.
        platform.wait_answer = false;
        platform
            .answers
            .push_back(soap(&ews_sample!("serverbusy-soapfault.xml")[..]));
        let answers = subscribe(
            &mut platform,
            &[SubscribeRequest {
                person: person("room1@contoso.com", SyncMode::O365Pull),
                previous: None,
            }],
            &options(),
        );
        let problem = answers[0].as_ref().unwrap_err();
        assert_eq!(problem.code, "ErrorServerBusy");
        assert!(matches!(problem.cause, Some(Error::Throttled { .. })));
    }

    #[test]
    fn a_settings_problem_fails_every_person_with_its_fix() {
        let mut platform = TestPlatform::new();
        let answers = subscribe(
            &mut platform,
            &[
                SubscribeRequest {
                    person: person("room1@contoso.com", SyncMode::O365Pull),
                    previous: None,
                },
                SubscribeRequest {
                    person: person("room2@contoso.com", SyncMode::O365Pull),
                    previous: None,
                },
            ],
            &options(),
        );
        for answer in &answers {
            let problem = answer.as_ref().unwrap_err();
            assert_eq!(problem.code, "configuration");
            assert!(problem.fix.is_some());
        }
        assert!(platform.requests.is_empty());
    }
}
