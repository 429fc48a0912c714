//! `notifications.handle-webhook`: a request to the push webhook
//! (`POST /api/webhooks/exchange`), answered without any outgoing request.
//!
//! Anyone can POST to a public webhook, so nothing in the body is trusted:
//!
//! 1. The method must be `POST` (else 405 with `allow: POST`), the content
//!    type `text/xml` or `application/soap+xml`, parameters such as
//!    `charset` allowed (else 415), the body at most
//!    [`MAX_BODY_BYTES`](crate::ews::send_notification::MAX_BODY_BYTES)
//!    (else 413; the host caps it before, this is a sanity cap) and a
//!    well-formed SOAP `SendNotification` with one notification (else 400).
//!    Refusals are answered in plain text, with a reason in the component's
//!    own words that never quotes the body.
//! 2. The notification's `SubscriptionId` is looked up with
//!    `rooms.find-subscription`. An unknown id, a stored pull subscription,
//!    and a subscription whose person is gone, sync-disabled or in pull
//!    mode are answered `Unsubscribe`, so Exchange stops sending.
//! 3. Otherwise the answer is `OK`, and the event for the host is the
//!    subscription with the notification's last watermark and the number of
//!    item events (zero for the heartbeat). The item ids in the events are
//!    never read: the host runs the person's incremental sync.
//!
//! Answers to notifications are the SOAP `SendNotificationResult`, status
//! 200, `content-type: text/xml; charset=utf-8`, as Exchange expects.

use crate::ews::send_notification::{
    MAX_BODY_BYTES, SubscriptionStatus, parse_request, result_body,
};
use crate::platform::{Level, Platform, Subscription, SyncMode};
use crate::safe_text;

/// An HTTP request as the host received it (the WIT `http-request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The method, upper-case.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The header fields, names lower-case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The HTTP answer (the WIT `http-response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The status code.
    pub status: u16,
    /// Header fields to send.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What a request was (the WIT `webhook-event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// A notification of a known, active push subscription, answered `OK`:
    /// the subscription with its new watermark, and the item-event count.
    Notified(Subscription, u32),
    /// A notification answered `Unsubscribe`; the `SubscriptionId` it named.
    Unsubscribed(String),
    /// Not a notification; the reason, never quoting the body.
    Refused(String),
}

/// The answer to one request and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// What to send back.
    pub response: WebhookResponse,
    /// What it was.
    pub event: WebhookEvent,
}

/// The media types a notification may come as.
pub const MEDIA_TYPES: [&str; 2] = ["text/xml", "application/soap+xml"];

/// Answers one webhook request.
pub fn handle_webhook(platform: &dyn Platform, request: &WebhookRequest) -> WebhookOutcome {
    let outcome = answer(platform, request);
    let line = match &outcome.event {
        WebhookEvent::Notified(s, count) => format!(
            "webhook: a notification for {} with {count} item events, answered OK",
            s.mailbox
        ),
        WebhookEvent::Unsubscribed(id) => {
            format!("webhook: a notification of subscription {id}, answered Unsubscribe")
        }
        WebhookEvent::Refused(reason) => format!(
            "webhook: refused {} {} with HTTP {}: {reason}",
            safe_text::clean(&request.method, 16),
            safe_text::clean(request.path.split('?').next().unwrap_or_default(), 100),
            outcome.response.status
        ),
    };
    platform.log(Level::Info, &line);
    outcome
}

fn answer(platform: &dyn Platform, request: &WebhookRequest) -> WebhookOutcome {
    if request.method != "POST" {
        return refused(
            405,
            format!(
                "the method {} is not allowed; notifications are POSTed",
                safe_text::clean(&request.method, 16)
            ),
            vec![("allow".into(), "POST".into())],
        );
    }
    let content_type = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str());
    let Some(content_type) = content_type else {
        return refused(
            415,
            "the request has no content type; notifications are text/xml".into(),
            Vec::new(),
        );
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media_type.as_str()) {
        return refused(
            415,
            format!(
                "the content type {} is not text/xml or application/soap+xml",
                safe_text::clean(&media_type, 60)
            ),
            Vec::new(),
        );
    }
    if request.body.len() > MAX_BODY_BYTES {
        return refused(
            413,
            format!(
                "the body has {} bytes, more than the {MAX_BODY_BYTES} a notification may have",
                request.body.len()
            ),
            Vec::new(),
        );
    }
    let notification = match parse_request(&request.body) {
        Ok(notification) => notification,
        Err(reason) => {
            return refused(400, format!("not a SendNotification: {reason}"), Vec::new());
        }
    };
    let id = notification.subscription_id.clone();
    let Some(stored) = platform.find_subscription(&id) else {
        return unsubscribe(platform, id, "no such subscription is stored");
    };
    if stored.mode == SyncMode::O365Pull {
        return unsubscribe(platform, id, "it is stored as a pull subscription");
    }
    let why_not = match platform.person(&stored.mailbox) {
        None => Some("its mailbox belongs to no ROOMS person"),
        Some(p) if p.sync_disabled => Some("the sync of its person is disabled"),
        Some(p) if p.sync_mode == SyncMode::O365Pull => Some("its person is in O365Pull mode"),
        Some(_) => None,
    };
    if let Some(why) = why_not {
        return unsubscribe(platform, id, why);
    }
    let count = notification.item_events();
    let mut subscription = stored;
    subscription.mailbox.make_ascii_lowercase();
    subscription.watermark = notification.last_watermark().to_owned();
    WebhookOutcome {
        response: soap(SubscriptionStatus::Ok),
        event: WebhookEvent::Notified(subscription, count),
    }
}

fn soap(status: SubscriptionStatus) -> WebhookResponse {
    WebhookResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/xml; charset=utf-8".into())],
        body: result_body(status).into_bytes(),
    }
}

fn unsubscribe(platform: &dyn Platform, id: String, why: &str) -> WebhookOutcome {
    platform.log(
        Level::Debug,
        &format!("webhook: subscription {id} is to end: {why}"),
    );
    WebhookOutcome {
        response: soap(SubscriptionStatus::Unsubscribe),
        event: WebhookEvent::Unsubscribed(id),
    }
}

fn refused(status: u16, reason: String, mut headers: Vec<(String, String)>) -> WebhookOutcome {
    headers.push(("content-type".into(), "text/plain; charset=utf-8".into()));
    WebhookOutcome {
        response: WebhookResponse {
            status,
            headers,
            body: format!("{reason}\n").into_bytes(),
        },
        event: WebhookEvent::Refused(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::send_notification::test_support::{changes, request};
    use crate::ews::xml::{self, MESSAGES_NS, Ns};
    use crate::notifications::test_support::person;
    use crate::testing::{TestPlatform, ews_sample};

    fn platform() -> TestPlatform {
        let mut platform = TestPlatform::new();
        platform.persons = vec![
            person("alice@contoso.com", SyncMode::O365),
            person("room1@contoso.com", SyncMode::O365Pull),
            {
                let mut p = person("bob@contoso.com", SyncMode::O365);
                p.sync_disabled = true;
                p
            },
        ];
        for (id, mailbox, mode) in [
            ("SUB-ALICE", "Alice@Contoso.com", SyncMode::O365),
            ("SUB-ROOM1", "room1@contoso.com", SyncMode::O365),
            ("SUB-BOB", "bob@contoso.com", SyncMode::O365),
            ("SUB-GONE", "gone@contoso.com", SyncMode::O365),
            ("SUB-PULL", "alice@contoso.com", SyncMode::O365Pull),
        ] {
            platform.subscriptions.push(Subscription {
                mailbox: mailbox.into(),
                mode,
                id: id.into(),
                watermark: "W0".into(),
                affinity: Some("EMU~1".into()),
            });
        }
        platform
    }

    fn post(body: impl Into<Vec<u8>>) -> WebhookRequest {
        WebhookRequest {
            method: "POST".into(),
            path: "/api/webhooks/exchange".into(),
            headers: vec![
                ("host".into(), "rooms.contoso.com".into()),
                ("content-type".into(), "text/xml; charset=utf-8".into()),
            ],
            body: body.into(),
        }
    }

    /// The `SubscriptionStatus` of an answer, read as a callback's answer
    /// is read: `SendNotificationResult` in the messages namespace.
    fn status_of(response: &WebhookResponse) -> String {
        assert_eq!(response.status, 200);
        assert_eq!(
            response.headers,
            [(
                "content-type".to_owned(),
                "text/xml; charset=utf-8".to_owned()
            )]
        );
        let root = xml::parse(&response.body).unwrap();
        assert!(root.is(&Ns::Soap, "Envelope"));
        let result = &root.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(result.is(&Ns::Messages, "SendNotificationResult"));
        assert_eq!(
            MESSAGES_NS,
            "http://schemas.microsoft.com/exchange/services/2006/messages"
        );
        result
            .child(&Ns::Messages, "SubscriptionStatus")
            .unwrap()
            .text
            .clone()
    }

    #[test]
    fn a_known_active_push_subscription_is_answered_ok_with_its_count() {
        let platform = platform();
        let outcome = handle_webhook(&platform, &post(changes("SUB-ALICE")));
        assert_eq!(status_of(&outcome.response), "OK");
        assert_eq!(
            outcome.event,
            WebhookEvent::Notified(
                Subscription {
                    mailbox: "alice@contoso.com".into(),
                    mode: SyncMode::O365,
                    id: "SUB-ALICE".into(),
                    watermark: "W2".into(),
                    affinity: Some("EMU~1".into()),
                },
                2
            )
        );
        assert_eq!(*platform.subscription_lookups.borrow(), ["SUB-ALICE"]);
        assert!(platform.requests.is_empty(), "no outgoing request");
    }

    #[test]
    fn the_heartbeat_is_ok_with_no_changes() {
        let platform = platform();
        let body =
            String::from_utf8(ews_sample!("sendnotification-request-statusevent.xml").to_vec())
                .unwrap()
                .replace("XXXXX=", "SUB-ALICE");
        let outcome = handle_webhook(&platform, &post(body));
        assert_eq!(status_of(&outcome.response), "OK");
        let WebhookEvent::Notified(subscription, 0) = &outcome.event else {
            panic!("{:?}", outcome.event)
        };
        assert_eq!(subscription.watermark, "BBBBB=");
    }

    #[test]
    fn unknown_pull_disabled_and_personless_subscriptions_are_unsubscribed() {
        let platform = platform();
        for id in [
            "SUB-UNKNOWN",
            "XXXXX=",
            "SUB-ROOM1",
            "SUB-BOB",
            "SUB-GONE",
            "SUB-PULL",
        ] {
            let outcome = handle_webhook(&platform, &post(changes(id)));
            assert_eq!(status_of(&outcome.response), "Unsubscribe", "{id}");
            assert_eq!(outcome.event, WebhookEvent::Unsubscribed(id.into()), "{id}");
        }
        // The documented heartbeat of an unknown subscription, as it comes.
        let outcome = handle_webhook(
            &platform,
            &post(&ews_sample!("sendnotification-request-statusevent.xml")[..]),
        );
        assert_eq!(outcome.event, WebhookEvent::Unsubscribed("XXXXX=".into()));
    }

    #[test]
    fn every_kind_of_refusal() {
        let platform = platform();
        let secret = "Bearer eyJ0eXAiOiJKV1Qi";
        let mut get = post(changes("SUB-ALICE"));
        get.method = "GET".into();
        let mut json = post(changes("SUB-ALICE"));
        json.headers[1].1 = "application/json".into();
        let mut none = post(changes("SUB-ALICE"));
        none.headers.remove(1);
        let mut soap12 = post(changes("SUB-ALICE"));
        soap12.headers[1] = (
            "Content-Type".into(),
            "Application/SOAP+XML; charset=UTF-8; action=\"x\"".into(),
        );
        let mut huge = post(vec![b' '; MAX_BODY_BYTES + 1]);
        huge.body.extend_from_slice(changes("SUB-ALICE").as_bytes());
        let cases = [
            (get, 405, "the method GET is not allowed"),
            (
                json,
                415,
                "the content type application/json is not text/xml",
            ),
            (none, 415, "no content type"),
            (huge, 413, "more than the 1048576"),
            (
                post(format!("<html>{secret}</html>")),
                400,
                "not a SOAP envelope",
            ),
            (post(secret), 400, "not well-formed XML"),
            (
                post(format!(
                    "<!DOCTYPE x [<!ENTITY s \"{secret}\">]><x>&s;&s;</x>"
                )),
                400,
                "not well-formed XML",
            ),
            (
                post(request(&format!(
                    "<t:SubscriptionId>SUB-ALICE</t:SubscriptionId><t:MoreEvents>false</t:MoreEvents><x:Secret xmlns:x=\"urn:x\">{secret}</x:Secret>"
                ))),
                400,
                "holds no event",
            ),
            (
                post(changes("SUB-ALICE").replace("W1", secret)),
                400,
                "no usable Watermark",
            ),
        ];
        for (request, status, reason) in cases {
            let outcome = handle_webhook(&platform, &request);
            assert_eq!(outcome.response.status, status, "{reason}");
            let WebhookEvent::Refused(said) = &outcome.event else {
                panic!("{reason}: {:?}", outcome.event)
            };
            assert!(said.contains(reason), "{reason}: {said}");
            assert!(!said.contains("eyJ0"), "{said}");
            let body = String::from_utf8(outcome.response.body.clone()).unwrap();
            assert_eq!(body, format!("{said}\n"));
            assert!(
                outcome
                    .response
                    .headers
                    .contains(&("content-type".into(), "text/plain; charset=utf-8".into()))
            );
            if status == 405 {
                assert!(
                    outcome
                        .response
                        .headers
                        .contains(&("allow".into(), "POST".into()))
                );
            }
        }
        // A SOAP 1.2 content type with parameters is accepted.
        let outcome = handle_webhook(&platform, &soap12);
        assert!(matches!(outcome.event, WebhookEvent::Notified(_, 2)));
        // Nothing of any body reached the log, and nothing was looked up
        // for a refused request.
        assert!(platform.logged().iter().all(|l| !l.contains("eyJ0")));
        assert_eq!(*platform.subscription_lookups.borrow(), ["SUB-ALICE"]);
    }

    #[test]
    fn hostile_method_and_content_type_are_quoted_safely() {
        let platform = platform();
        let mut request = post(changes("SUB-ALICE"));
        request.method = format!("P\u{1b}]0;x\u{7}{}", "T".repeat(500));
        let outcome = handle_webhook(&platform, &request);
        let WebhookEvent::Refused(reason) = &outcome.event else {
            panic!()
        };
        assert!(safe_text::is_clean(reason), "{reason:?}");
        assert!(reason.len() < 200, "{}", reason.len());
        let mut request = post(changes("SUB-ALICE"));
        request.headers[1].1 = format!("text/\u{202e}html{}", "x".repeat(1000));
        let outcome = handle_webhook(&platform, &request);
        let WebhookEvent::Refused(reason) = &outcome.event else {
            panic!()
        };
        assert!(
            safe_text::is_clean(reason) && reason.len() < 200,
            "{reason:?}"
        );
    }
}
