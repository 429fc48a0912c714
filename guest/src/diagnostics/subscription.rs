//! The `subscription` check, the fifth of the sync test: proves that
//! Exchange notifies rooms-sync of changes in the person's calendar, in the
//! person's mode.
//!
//! - **Pull** (`O365Pull`): `Subscribe` (pull, [`PULL_TIMEOUT_MINUTES`]),
//!   one `GetEvents` (a fresh pull subscription answers a `StatusEvent`:
//!   that is the event received), `Unsubscribe`. Nothing is left at
//!   Exchange; an `Unsubscribe` that fails leaves a subscription that
//!   expires after its timeout, which the message says.
//! - **Push** (`O365`): without a callback URL (no
//!   `ExchangePushNotificationEndpointUrl`, no `--public-url`) the check is
//!   skipped: green, with a message starting [`SKIPPED`] that says why and
//!   how to enable it. With one, the component subscribes push
//!   (`StatusFrequency` 1 minute) to that URL, has the host store the
//!   subscription as a probe (`rooms.record-probe`), triggers an event by
//!   creating and hard-deleting a test item tagged as the `write` check's
//!   ([`super::write::TAG_URI`]), and asks `rooms.probe-delivered` every
//!   [`POLL_MS`] (waiting through `pacing.wait`) until the running service
//!   has received a notification, for at most the wait the host gives. The
//!   probe is dropped in every case (`rooms.drop-probe`): the
//!   subscription's next notification is then answered `Unsubscribe`,
//!   which ends it at Exchange (a push subscription has no `Unsubscribe`
//!   call).
//!
//! The host calls this check only after the four checks of
//! [`super::check`] are green, and reports it "not run" otherwise.

use super::write::{TAG_URI, TAG_VALUE, test_fields};
use super::{Check, SUBSCRIPTION};
use crate::config::RawSettings;
use crate::error::Error;
use crate::ews::subscribe::{self as ews_subscribe, Kind};
use crate::ews::{
    EwsClient, create_item, delete_item, find_item, get_events, unsubscribe as ews_unsubscribe,
};
use crate::notifications::subscribe::CALLBACK_KEY;
use crate::platform::{Level, Person, Platform, SyncMode};
use crate::session::Target;

/// The `Timeout` of the pull probe, in minutes: the shortest Exchange
/// takes, so a probe that could not be ended is gone soon.
pub const PULL_TIMEOUT_MINUTES: u32 = 1;

/// The `StatusFrequency` of the push probe, in minutes.
pub const PUSH_STATUS_FREQUENCY_MINUTES: u32 = 1;

/// How often the push probe asks whether the service received a
/// notification, in milliseconds.
pub const POLL_MS: u64 = 500;

/// How a skipped check's message starts.
pub const SKIPPED: &str = "skipped:";

/// The response code of a `Subscribe` refused because the mailbox has too
/// many subscriptions (`EWSMaxSubscriptions`, 20 in Exchange Online).
pub const TOO_MANY: &str = "ErrorExceededSubscriptionCount";

/// The webhook path `rooms-sync serve` answers (the tenant's name follows).
const WEBHOOK_PATH: &str = "/api/webhooks/exchange";

/// Runs the check for `person`: `callback_url` is the push callback the
/// service would use (none when unknown), `wait_secs` the longest wait for
/// a push notification.
pub fn check(
    platform: &mut dyn Platform,
    person: &Person,
    callback_url: Option<&str>,
    wait_secs: u32,
) -> Check {
    let target = match RawSettings::read(platform).and_then(|raw| Target::prepare(&raw, person)) {
        Ok(target) => target,
        Err(error) => return Check::red(SUBSCRIPTION, error),
    };
    let mailbox = person.email.to_ascii_lowercase();
    let callback = callback_url.map(str::trim).filter(|u| !u.is_empty());
    let check = match (person.sync_mode, callback) {
        (SyncMode::O365Pull, _) => pull(platform, &target, &mailbox),
        (SyncMode::O365, None) => skipped(&mailbox),
        (SyncMode::O365, Some(url)) => push(platform, &target, &mailbox, url, wait_secs),
    };
    platform.log(Level::Info, &format!("{}: {}", check.name, check.message));
    check
}

fn skipped(mailbox: &str) -> Check {
    Check::green(
        SUBSCRIPTION,
        format!(
            "{SKIPPED} {mailbox} uses push notifications (SyncMode O365), and no callback URL is \
             known, so no notification could be received. To test it, run `rooms-sync serve` \
             where Exchange can reach it and give `check` the same --public-url (or set \
             {CALLBACK_KEY} in the tenant's settings)."
        ),
    )
}

/// A subscription refused: the message names the mode, the fix is the
/// error's (or, for too many subscriptions, how to free some).
fn refused(mailbox: &str, mode: &str, error: Error) -> Check {
    let message = format!(
        "Subscribing to the calendar of {mailbox} for {mode} notifications failed: {}",
        error.message()
    );
    if error.message().contains(TOO_MANY) {
        return Check::red_saying(
            SUBSCRIPTION,
            message,
            Error::protocol(
                format!("Exchange refused a new subscription for {mailbox} ({TOO_MANY})."),
                format!(
                    "{mailbox} already has as many EWS subscriptions as Exchange Online allows \
                     (EWSMaxSubscriptions, 20, counted for the account that subscribes). Stop \
                     other programs that subscribe to it with the same account (a second \
                     `rooms-sync serve` or ROOMS installation for this tenant, other EWS tools); \
                     pull subscriptions end after their timeout (rooms-sync's after \
                     IntervallSubscribeInMinutes), push subscriptions when their callback stops \
                     answering. Check again after that; Exchange Online's limit cannot be raised."
                ),
            ),
        );
    }
    Check::red_saying(SUBSCRIPTION, message, error)
}

fn pull(platform: &mut dyn Platform, target: &Target, mailbox: &str) -> Check {
    let client = target.client();
    let kind = Kind::Pull {
        timeout_minutes: PULL_TIMEOUT_MINUTES,
    };
    let made = match ews_subscribe::subscribe(&client, platform, mailbox, kind, None) {
        Ok(made) => made,
        Err(error) => return refused(mailbox, "pull", error),
    };
    let read = get_events::get_events(
        &client,
        platform,
        mailbox,
        &made.id,
        &made.watermark,
        made.affinity.as_deref(),
    );
    let ended = ews_unsubscribe::unsubscribe(
        &client,
        platform,
        mailbox,
        &made.id,
        made.affinity.as_deref(),
    );
    let left = match &ended {
        Ok(()) => String::new(),
        Err(error) => format!(
            " Ending the subscription failed ({}); Exchange drops it after {PULL_TIMEOUT_MINUTES} \
             minute(s) without GetEvents.",
            error.message().trim_end_matches('.')
        ),
    };
    match read {
        Ok(notification) => Check::green(
            SUBSCRIPTION,
            format!(
                "A pull subscription on the calendar of {mailbox} was made, GetEvents received \
                 its first event ({}){}.{left}",
                event_names(&notification),
                if ended.is_ok() {
                    ", and it was ended with Unsubscribe"
                } else {
                    ""
                }
            ),
        ),
        Err(error) => Check::red_saying(
            SUBSCRIPTION,
            format!(
                "A pull subscription on the calendar of {mailbox} was made, but GetEvents \
                 failed: {}{left}",
                error.message()
            ),
            error,
        ),
    }
}

fn event_names(notification: &get_events::Notification) -> String {
    let mut names: Vec<String> = notification
        .events
        .iter()
        .map(|e| format!("{:?}Event", e.kind))
        .collect();
    names.dedup();
    names.join(", ")
}

fn push(
    platform: &mut dyn Platform,
    target: &Target,
    mailbox: &str,
    url: &str,
    wait_secs: u32,
) -> Check {
    let client = target.client();
    let kind = Kind::Push {
        status_frequency_minutes: PUSH_STATUS_FREQUENCY_MINUTES,
        url,
    };
    let made = match ews_subscribe::subscribe(&client, platform, mailbox, kind, None) {
        Ok(made) => made,
        Err(error) => return refused(mailbox, "push", error),
    };
    if !platform.record_probe(&made.id, mailbox) {
        // Unknown to the host, its first notification is answered
        // `Unsubscribe`, which ends it.
        return Check::red(
            SUBSCRIPTION,
            Error::protocol(
                format!(
                    "The push subscription of {mailbox} could not be recorded in the ROOMS \
                     store, so the service could not recognise its notifications."
                ),
                "Check the rooms-sync host's log for the store's error (rooms.db), then check \
                 again.",
            ),
        );
    }
    let outcome = trigger(&client, platform, mailbox)
        .map(|()| await_delivery(platform, mailbox, &made.id, wait_secs));
    platform.drop_probe(&made.id);
    match outcome {
        Err(error) => Check::red_saying(
            SUBSCRIPTION,
            format!(
                "A push subscription of {mailbox} to {url} was made, but the test item that \
                 makes Exchange notify could not be written: {}",
                error.message()
            ),
            error,
        ),
        Ok(Delivery::Received) => Check::green(
            SUBSCRIPTION,
            format!(
                "Exchange delivered a push notification for the calendar of {mailbox} to {url}, \
                 and the service received it."
            ),
        ),
        Ok(Delivery::Missing { waited_secs }) => {
            let path = path_of(url);
            Check::red_saying(
                SUBSCRIPTION,
                format!(
                    "No push notification for the calendar of {mailbox} reached the service at \
                     {url} within {waited_secs} s after a test item was created and deleted."
                ),
                Error::configuration(
                    "callback-url",
                    format!("{url} did not receive Exchange's notifications"),
                    format!(
                        "Is `rooms-sync serve` running and reachable at {url} from the \
                         internet? A reverse proxy must forward POST {path} with its body; see \
                         README, Running the service. Or give `check` a longer \
                         --subscription-wait-secs."
                    ),
                ),
            )
        }
    }
}

/// What the wait for a push notification found.
enum Delivery {
    Received,
    Missing { waited_secs: u64 },
}

/// Asks the host every [`POLL_MS`] whether the probe was delivered, for at
/// most `wait_secs` (by the waits granted and by the wall clock, whichever
/// ends first) or until the host refuses a wait (the call's deadline).
fn await_delivery(
    platform: &mut dyn Platform,
    mailbox: &str,
    id: &str,
    wait_secs: u32,
) -> Delivery {
    let started = platform.now_unix();
    let bound_ms = u64::from(wait_secs) * 1000;
    let mut waited_ms = 0u64;
    loop {
        if platform.probe_delivered(id) {
            return Delivery::Received;
        }
        let elapsed_s = platform.now_unix().saturating_sub(started);
        if waited_ms >= bound_ms || elapsed_s >= u64::from(wait_secs) {
            return Delivery::Missing {
                waited_secs: (waited_ms / 1000).max(elapsed_s),
            };
        }
        if !platform.wait(mailbox, POLL_MS) {
            platform.log(
                Level::Info,
                &format!(
                    "the wait for a push notification of {mailbox} reached the call's deadline"
                ),
            );
            return Delivery::Missing {
                waited_secs: (waited_ms / 1000).max(elapsed_s),
            };
        }
        waited_ms += POLL_MS;
    }
}

/// Creates and hard-deletes a tagged test item (the `write` check's tag),
/// so Exchange has a change to notify; on a failure, what the tag finds is
/// deleted.
fn trigger(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
) -> Result<(), Error> {
    let fields = test_fields(mailbox, platform.now_unix(), false);
    let made = create_item::create_tagged(
        client,
        platform,
        mailbox,
        &fields,
        (TAG_URI, TAG_VALUE),
        "SendToNone",
    )
    .and_then(|(id, _)| delete_item::hard_delete(client, platform, mailbox, &id));
    if made.is_err() {
        let left = find_item::find_all_tagged(client, platform, mailbox, TAG_URI, TAG_VALUE)
            .unwrap_or_default();
        for (id, _) in left {
            let _ = delete_item::hard_delete(client, platform, mailbox, &id);
        }
    }
    made
}

/// The path of `url` (for the reverse proxy hint).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.is_empty() { WEBHOOK_PATH } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenProvider;
    use crate::auth::token::AccessToken;
    use crate::config::keys;
    use crate::ews::calendar_item::test_support::{sent_operation, soap};
    use crate::ews::get_events::test_support::{answer, error_answer};
    use crate::platform::{CachedToken, ConflictBehaviour, HttpResponse};
    use crate::testing::{TestPlatform, ews_sample};

    const MAILBOX: &str = "room1@contoso.com";
    const URL: &str = "https://rooms.contoso.com/api/webhooks/exchange/contoso";

    fn person(mode: SyncMode) -> Person {
        Person {
            email: "Room1@contoso.com".into(),
            sync_mode: mode,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: true,
            sync_master: false,
        }
    }

    /// App-only settings with a cached token.
    fn platform() -> TestPlatform {
        let mut platform = TestPlatform::new();
        platform
            .config
            .insert(keys::TENANT_ID.into(), "contoso.onmicrosoft.com".into());
        platform.config.insert(
            keys::APP_ID.into(),
            "00001111-aaaa-2222-bbbb-3333cccc4444".into(),
        );
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "secret".into());
        let target = Target::prepare(
            &RawSettings::read(&platform).unwrap(),
            &person(SyncMode::O365Pull),
        )
        .unwrap();
        let tokens = TokenProvider::new(&target.settings, "https://outlook.office365.com");
        platform.cache.insert(
            tokens.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached"),
                expires_at: platform.now + 3000,
                refresh_token: None,
            },
        );
        platform
    }

    fn status_event() -> HttpResponse {
        soap(answer(
            "<t:SubscriptionId>sub-1</t:SubscriptionId><t:PreviousWatermark>w1</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents><t:StatusEvent><t:Watermark>w2</t:Watermark></t:StatusEvent>",
        ))
    }

    fn operations(platform: &TestPlatform) -> Vec<String> {
        (0..platform.requests.len())
            .map(|i| sent_operation(platform, i).name)
            .collect()
    }

    #[test]
    fn a_pull_subscription_receives_its_status_event_and_is_ended() {
        let mut platform = platform();
        for answer in [
            soap(&ews_sample!("subscribe-pull-response.xml")[..]),
            status_event(),
            soap(&ews_sample!("unsubscribe-response.xml")[..]),
        ] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &person(SyncMode::O365Pull), Some(URL), 30);
        assert!(check.ok, "{check:?}");
        assert_eq!(check.name, "subscription");
        assert_eq!(
            check.message,
            "A pull subscription on the calendar of room1@contoso.com was made, GetEvents \
             received its first event (StatusEvent), and it was ended with Unsubscribe."
        );
        assert_eq!(
            operations(&platform),
            ["Subscribe", "GetEvents", "Unsubscribe"]
        );
        let subscribe = sent_operation(&platform, 0);
        let request = subscribe.children[0].clone();
        assert_eq!(request.name, "PullSubscriptionRequest");
        let xml = String::from_utf8(platform.requests[0].body.clone()).unwrap();
        assert!(xml.contains("<t:Timeout>1</t:Timeout>"), "{xml}");
        // A pull person never touches the probe store, callback or not.
        assert!(platform.probes.is_empty());
    }

    #[test]
    fn too_many_subscriptions_is_red_with_how_to_free_them() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(error_answer("Subscribe", TOO_MANY)));
        let check = check(&mut platform, &person(SyncMode::O365Pull), None, 30);
        assert!(!check.ok);
        assert!(
            check.message.starts_with(
                "Subscribing to the calendar of room1@contoso.com for pull notifications failed:"
            ),
            "{}",
            check.message
        );
        let fix = check.fix.unwrap();
        assert!(fix.contains("EWSMaxSubscriptions, 20"), "{fix}");
        assert!(fix.contains("a second `rooms-sync serve`"), "{fix}");
        assert_eq!(operations(&platform), ["Subscribe"]);
    }

    #[test]
    fn a_failed_get_events_is_red_and_the_subscription_still_ended() {
        let mut platform = platform();
        for answer in [
            soap(&ews_sample!("subscribe-pull-response.xml")[..]),
            soap(error_answer("GetEvents", "ErrorAccessDenied")),
            soap(&ews_sample!("unsubscribe-response.xml")[..]),
        ] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &person(SyncMode::O365Pull), None, 30);
        assert!(!check.ok);
        assert!(
            check.message.contains("was made, but GetEvents failed"),
            "{}",
            check.message
        );
        assert!(matches!(check.cause, Some(Error::AccessDenied { .. })));
        assert_eq!(
            operations(&platform),
            ["Subscribe", "GetEvents", "Unsubscribe"]
        );
    }

    #[test]
    fn a_push_person_without_a_callback_is_skipped_with_the_reason() {
        let mut platform = platform();
        let check = check(&mut platform, &person(SyncMode::O365), None, 30);
        assert!(check.ok, "{check:?}");
        assert!(
            check
                .message
                .starts_with("skipped: room1@contoso.com uses push")
        );
        assert!(check.message.contains("--public-url"), "{}", check.message);
        assert!(check.message.contains(CALLBACK_KEY), "{}", check.message);
        assert_eq!(check.fix, None);
        assert!(platform.requests.is_empty());
        // A blank callback is none.
        assert!(
            super::check(&mut platform, &person(SyncMode::O365), Some("  "), 30)
                .message
                .starts_with(SKIPPED)
        );
    }

    fn push_answers(platform: &mut TestPlatform) {
        for answer in [
            soap(&ews_sample!("subscribe-push-response.xml")[..]),
            soap(&ews_sample!("createitem-calendaritem-response.xml")[..]),
            soap(&ews_sample!("deleteitem-appointment-response.xml")[..]),
        ] {
            platform.answers.push_back(answer);
        }
    }

    #[test]
    fn a_delivered_push_probe_is_green_and_dropped() {
        let mut platform = platform();
        push_answers(&mut platform);
        platform.probe_delivered_after = Some(2);
        let check = check(&mut platform, &person(SyncMode::O365), Some(URL), 30);
        assert!(check.ok, "{check:?}");
        assert_eq!(
            check.message,
            format!(
                "Exchange delivered a push notification for the calendar of room1@contoso.com \
                 to {URL}, and the service received it."
            )
        );
        assert_eq!(
            operations(&platform),
            ["Subscribe", "CreateItem", "DeleteItem"]
        );
        let xml = String::from_utf8(platform.requests[0].body.clone()).unwrap();
        assert!(xml.contains(&format!("<t:URL>{URL}</t:URL>")), "{xml}");
        assert!(
            xml.contains("<t:StatusFrequency>1</t:StatusFrequency>"),
            "{xml}"
        );
        let create = String::from_utf8(platform.requests[1].body.clone()).unwrap();
        assert!(
            create.contains("PropertyName=\"RoomsSyncTest\""),
            "{create}"
        );
        let delete = sent_operation(&platform, 2);
        assert_eq!(delete.attr("DeleteType"), Some("HardDelete"));
        let (id, mailbox) = platform.probes[0].clone();
        assert_eq!(mailbox, MAILBOX);
        assert_eq!(platform.dropped_probes, std::slice::from_ref(&id));
        // Asked three times, waiting between.
        assert_eq!(
            *platform.probe_questions.borrow(),
            [id.clone(), id.clone(), id]
        );
        assert_eq!(
            *platform.waits.borrow(),
            [(MAILBOX.to_owned(), POLL_MS), (MAILBOX.to_owned(), POLL_MS)]
        );
    }

    #[test]
    fn a_push_probe_never_delivered_is_red_naming_the_url_and_the_wait() {
        let mut platform = platform();
        push_answers(&mut platform);
        let check = check(&mut platform, &person(SyncMode::O365), Some(URL), 3);
        assert!(!check.ok);
        assert_eq!(
            check.message,
            format!(
                "No push notification for the calendar of room1@contoso.com reached the service \
                 at {URL} within 3 s after a test item was created and deleted."
            )
        );
        let fix = check.fix.unwrap();
        assert!(
            fix.contains(&format!(
                "Is `rooms-sync serve` running and reachable at {URL} from the internet? A \
                 reverse proxy must forward POST /api/webhooks/exchange/contoso with its body; \
                 see README, Running the service."
            )),
            "{fix}"
        );
        // Three seconds in steps of POLL_MS.
        assert_eq!(platform.waits.borrow().len(), 6);
        assert_eq!(platform.dropped_probes.len(), 1);
    }

    #[test]
    fn a_wait_refused_by_the_deadline_ends_the_wait_early() {
        let mut platform = platform();
        push_answers(&mut platform);
        platform.wait_answer = false;
        let check = check(&mut platform, &person(SyncMode::O365), Some(URL), 30);
        assert!(!check.ok);
        assert!(check.message.contains("within 0 s"), "{}", check.message);
        assert_eq!(platform.waits.borrow().len(), 1);
        assert_eq!(platform.dropped_probes.len(), 1);
    }

    #[test]
    fn a_probe_the_host_cannot_store_is_red_before_any_test_item() {
        let mut platform = platform();
        push_answers(&mut platform);
        platform.probe_store_works = false;
        let check = check(&mut platform, &person(SyncMode::O365), Some(URL), 30);
        assert!(!check.ok);
        assert!(
            check.message.contains("could not be recorded"),
            "{}",
            check.message
        );
        assert_eq!(operations(&platform), ["Subscribe"]);
    }

    #[test]
    fn the_path_of_a_callback_is_shown_for_the_proxy() {
        assert_eq!(path_of(URL), "/api/webhooks/exchange/contoso");
        assert_eq!(path_of("http://host:8080/hook/t?x=1"), "/hook/t");
        assert_eq!(path_of("http://host"), "/");
    }
}
