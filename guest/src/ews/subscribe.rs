//! The EWS `Subscribe` operation: a pull or push subscription on a
//! mailbox's calendar folder, and the affinity that keeps later calls of the
//! subscription on the mailbox server that holds it.
//!
//! The request watches the `calendar` distinguished folder (with `Mailbox`
//! for a delegated caller, as the other operations address it) for
//! [`EVENT_TYPES`], optionally starting after a `Watermark` of an earlier
//! subscription of the same mailbox, so the events in between are not lost.
//! A pull subscription has a `Timeout` (minutes without `GetEvents` after
//! which Exchange drops it); a push subscription has a `StatusFrequency`
//! (minutes between heartbeats) and the callback `URL`. Both minute values
//! are kept within the 1 to 1440 the schema allows. The answer holds the
//! `SubscriptionId` and the `Watermark` to start reading at.
//!
//! Affinity (learn.microsoft.com/exchange/client-developer/exchange-web-services/how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server):
//! notification subscriptions live on one mailbox server, and the client
//! keeps requests on it. `Subscribe` carries `X-AnchorMailbox` (the mailbox,
//! as every request) and `X-PreferServerAffinity: true`; the answer sets the
//! cookie `X-BackEndOverrideCookie`, whose value ([`affinity_cookie`], never
//! the cookie's attributes) is kept with the subscription and sent back as
//! `Cookie: X-BackEndOverrideCookie=…` with its `GetEvents` and
//! `Unsubscribe` ([`affinity_headers`]). Each subscription is its own group
//! (one mailbox, anchored on itself): every `GetEvents` polls one
//! subscription, so nothing is gained by grouping, and a mailbox that moves
//! to another server takes only its own subscription along.
//!
//! Errors: every failure is classified as in [`super::classify`];
//! `ErrorSubscriptionDelegateAccessNotSupported` (Exchange refuses a
//! subscription through delegate access) is access denied, with the grant
//! and the way to app-only access as the fix; a refused
//! watermark (`ErrorInvalidWatermark`, or another of
//! [`super::get_events::LOST_CODES`]) is recognised by
//! [`super::get_events::lost_code`], and the caller subscribes again without
//! it.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/subscribe-operation

use super::calendar_item::{messages, unusable_answer};
use super::get_events::{check, token};
use super::response::ResponseMessage;
use super::soap::Addressing;
use super::xml::{Ns, escape};
use super::{Access, EwsClient};
use crate::error::{Error, EwsFailure};
use crate::platform::{Level, Platform};
use crate::safe_text;

/// The operation name.
pub const NAME: &str = "Subscribe";

/// The events a subscription asks for: every change of a calendar item.
pub const EVENT_TYPES: [&str; 5] = [
    "CreatedEvent",
    "ModifiedEvent",
    "DeletedEvent",
    "MovedEvent",
    "CopiedEvent",
];

/// The name of the affinity cookie.
pub const AFFINITY_COOKIE: &str = "X-BackEndOverrideCookie";

/// The longest affinity cookie value kept (real ones are a server name and a
/// number, some 60 characters).
pub const MAX_AFFINITY_LEN: usize = 1024;

/// Pull or push, with what each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A pull subscription.
    Pull {
        /// `Timeout` in minutes (kept within 1..=1440).
        timeout_minutes: u32,
    },
    /// A push subscription.
    Push {
        /// `StatusFrequency` in minutes (kept within 1..=1440).
        status_frequency_minutes: u32,
        /// The callback `URL` Exchange POSTs `SendNotification` to.
        url: &'a str,
    },
}

/// A new subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribed {
    /// `SubscriptionId`.
    pub id: String,
    /// `Watermark`: where the first read starts.
    pub watermark: String,
    /// The `X-BackEndOverrideCookie` value of the answer, if it set one.
    pub affinity: Option<String>,
}

/// The `m:Subscribe` element for the calendar of `mailbox`; an empty
/// `watermark` is sent as none.
pub fn request_body(
    addressing: Addressing,
    mailbox: &str,
    kind: Kind<'_>,
    watermark: Option<&str>,
) -> String {
    let (element, tail) = match kind {
        Kind::Pull { timeout_minutes } => (
            "PullSubscriptionRequest",
            format!("<t:Timeout>{}</t:Timeout>", timeout_minutes.clamp(1, 1440)),
        ),
        Kind::Push {
            status_frequency_minutes,
            url,
        } => (
            "PushSubscriptionRequest",
            format!(
                "<t:StatusFrequency>{}</t:StatusFrequency><t:URL>{}</t:URL>",
                status_frequency_minutes.clamp(1, 1440),
                escape(url)
            ),
        ),
    };
    let events: String = EVENT_TYPES
        .iter()
        .map(|e| format!("<t:EventType>{e}</t:EventType>"))
        .collect();
    let watermark = match watermark.map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => format!("<t:Watermark>{}</t:Watermark>", escape(w)),
        None => String::new(),
    };
    format!(
        "<m:Subscribe><m:{element}><t:FolderIds>{}</t:FolderIds><t:EventTypes>{events}\
         </t:EventTypes>{watermark}{tail}</m:{element}></m:Subscribe>",
        addressing.distinguished_folder_id("calendar", mailbox)
    )
}

/// Reads a successful response message: (`SubscriptionId`, `Watermark`).
pub fn parse_message(message: &ResponseMessage) -> Result<(String, String), String> {
    let read = |name: &str| {
        message
            .element
            .child(&Ns::Messages, name)
            .and_then(|e| token(e.trimmed_text()))
            .ok_or_else(|| format!("it has no usable {name}"))
    };
    Ok((read("SubscriptionId")?, read("Watermark")?))
}

/// The `X-BackEndOverrideCookie` value among the answer's `Set-Cookie`
/// fields: the value only, without the cookie's attributes (`path`,
/// `secure`, ...). Fields that a proxy folded into one (`a=1, b=2`) are read
/// too. A value that is not a plain cookie value (RFC 6265 `cookie-octet`s,
/// at most [`MAX_AFFINITY_LEN`] bytes) is ignored.
pub fn affinity_cookie(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .flat_map(|(_, value)| value.split(','))
        .filter_map(|cookie| {
            let pair = cookie.split(';').next()?.trim();
            let (name, value) = pair.split_once('=')?;
            (name.trim() == AFFINITY_COOKIE).then(|| value.trim())
        })
        .map(|value| {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
        .find(|value| is_cookie_value(value))
        .map(str::to_owned)
}

/// True for a non-empty RFC 6265 cookie value of plain `cookie-octet`s.
fn is_cookie_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_AFFINITY_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

/// The HTTP headers that keep a call of a subscription on its mailbox
/// server: `X-PreferServerAffinity` and the cookie. None without affinity;
/// a stored value that is not a plain cookie value is left out (and logged),
/// never put into a header.
pub fn affinity_headers(platform: &dyn Platform, affinity: Option<&str>) -> Vec<(String, String)> {
    match affinity {
        Some(value) if is_cookie_value(value) => vec![
            ("X-PreferServerAffinity".into(), "true".into()),
            ("Cookie".into(), format!("{AFFINITY_COOKIE}={value}")),
        ],
        Some(_) => {
            platform.log(
                Level::Warn,
                "the stored affinity of a subscription is not a cookie value; sending the request \
                 without it",
            );
            Vec::new()
        }
        None => Vec::new(),
    }
}

/// The code of a subscription refused for delegate access.
pub const DELEGATE_NOT_SUPPORTED: &str = "ErrorSubscriptionDelegateAccessNotSupported";

fn delegate_refused(text: &str, mailbox: &str, access: &Access) -> Error {
    Error::AccessDenied {
        failure: EwsFailure {
            response_code: DELEGATE_NOT_SUPPORTED.into(),
            message: safe_text::quote(text),
            mailbox: mailbox.to_owned(),
        },
        fix: format!(
            "{} If Exchange still refuses, use app-only access (ExchangeUseImpersonation true \
             with ExchangeClientSecret or ExchangeCertThumbprint): subscriptions through delegate \
             access are not supported by every Exchange server.",
            access.grant_fix(mailbox)
        ),
    }
}

/// Subscribes to the calendar of `mailbox`.
pub fn subscribe(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    kind: Kind<'_>,
    watermark: Option<&str>,
) -> Result<Subscribed, Error> {
    let body = request_body(client.access().addressing(), mailbox, kind, watermark);
    let headers = vec![("X-PreferServerAffinity".to_owned(), "true".to_owned())];
    let answer = client.call_with(platform, mailbox, &body, &headers)?;
    let message = messages(answer.element, NAME, mailbox, 1)?.remove(0);
    if message.code == DELEGATE_NOT_SUPPORTED {
        return Err(delegate_refused(&message.text, mailbox, client.access()));
    }
    check(&message, mailbox, client)?;
    let (id, watermark) =
        parse_message(&message).map_err(|e| unusable_answer(NAME, mailbox, &e))?;
    Ok(Subscribed {
        id,
        watermark,
        affinity: affinity_cookie(&answer.headers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::ews::get_events::lost_code;
    use crate::ews::get_events::test_support::error_answer;
    use crate::ews::response::{Content, read_envelope, response_messages};
    use crate::ews::soap::envelope;
    use crate::ews::xml::{Element, parse};
    use crate::testing::{TestPlatform, app_only, delegated, ews_sample};

    fn message(bytes: &[u8]) -> ResponseMessage {
        let Content::Response(response) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        response_messages(response, NAME).unwrap().remove(0)
    }

    fn operation(xml: &str) -> Element {
        let root = parse(xml.as_bytes()).unwrap();
        root.child(&Ns::Soap, "Body").unwrap().children[0].clone()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_pull_request_has_the_documented_shape_and_the_calendar_events() {
        let body = request_body(
            Addressing::Impersonation,
            "room1@contoso.com",
            Kind::Pull {
                timeout_minutes: 720,
            },
            None,
        );
        let ours = operation(&envelope(
            Addressing::Impersonation,
            "room1@contoso.com",
            &body,
        ));
        let documented = parse(ews_sample!("subscribe-pull-request.xml")).unwrap();
        let documented = &documented.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(ours.is(&Ns::Messages, NAME) && documented.is(&Ns::Messages, NAME));
        let (ours, documented) = (&ours.children[0], &documented.children[0]);
        assert!(ours.is(&Ns::Messages, "PullSubscriptionRequest"));
        assert!(documented.is(&Ns::Messages, "PullSubscriptionRequest"));
        assert_eq!(names(ours), names(documented));
        assert!(ours.children.iter().all(|c| c.ns == Ns::Types));
        let folder = &ours.children[0].children[0];
        assert_eq!(folder.attr("Id"), Some("calendar"));
        assert!(folder.children.is_empty(), "impersonation names no Mailbox");
        let events: Vec<&str> = ours.children[1]
            .children
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(events, EVENT_TYPES);
        assert_eq!(ours.children[2].text, "720");
    }

    #[test]
    fn a_resumed_delegated_push_request_in_schema_order() {
        let body = request_body(
            Addressing::Delegated,
            "room1@contoso.com",
            Kind::Push {
                status_frequency_minutes: 0,
                url: "https://rooms.contoso.com/api/webhooks/exchange?t=<1>&x",
            },
            Some(" AQAAAOpv== "),
        );
        let op = operation(&envelope(Addressing::Delegated, "room1@contoso.com", &body));
        let request = &op.children[0];
        assert!(request.is(&Ns::Messages, "PushSubscriptionRequest"));
        assert_eq!(
            names(request),
            [
                "FolderIds",
                "EventTypes",
                "Watermark",
                "StatusFrequency",
                "URL"
            ]
        );
        assert_eq!(request.children[2].text, "AQAAAOpv==");
        assert_eq!(request.children[3].text, "1", "kept within 1..=1440");
        assert_eq!(
            request.children[4].text,
            "https://rooms.contoso.com/api/webhooks/exchange?t=<1>&x"
        );
        let mailbox = &request.children[0].children[0].children[0].children[0];
        assert!(mailbox.is(&Ns::Types, "EmailAddress"));
        assert_eq!(mailbox.text, "room1@contoso.com");
        let pull = request_body(
            Addressing::Impersonation,
            "r@c.com",
            Kind::Pull {
                timeout_minutes: 99_999,
            },
            Some("  "),
        );
        assert!(pull.contains("<t:Timeout>1440</t:Timeout>"), "{pull}");
        assert!(!pull.contains("Watermark"), "{pull}");
    }

    #[test]
    fn the_documented_answers() {
        assert_eq!(
            parse_message(&message(ews_sample!("subscribe-pull-response.xml"))).unwrap(),
            (
                "39ea5d0f-f062-455e-a1e9-89c0304390f4".to_owned(),
                "AAAAAHgGAAAAAAAAAQ==".to_owned()
            )
        );
        assert_eq!(
            parse_message(&message(ews_sample!("subscribe-push-response.xml"))).unwrap(),
            (
                "83826921-afdf-48be-b469-628cc02b5f49".to_owned(),
                "AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=".to_owned()
            )
        );
        let refused = message(ews_sample!(
            "subscribe-error-delegateaccessnotsupported.xml"
        ));
        assert_eq!(refused.code, "ErrorSubscriptionDelegateAccessNotSupported");
        assert!(
            parse_message(&refused)
                .unwrap_err()
                .contains("SubscriptionId")
        );
    }

    #[test]
    fn the_affinity_cookie_of_the_documented_answer() {
        // The Set-Cookie fields of the answer to Alfred's subscription in
        // "Maintain affinity between a group of subscriptions and the
        // Mailbox server in Exchange" (learn.microsoft.com).
        let answer = headers(&[
            ("Content-Type", "text/xml; charset=utf-8"),
            (
                "Set-Cookie",
                "exchangecookie=ddb8c383aef34c7694132aa679744feb; expires=Thu, 25-Sep-2014 18:42:45 GMT; path=/; HttpOnly",
            ),
            (
                "Set-Cookie",
                "X-BackEndOverrideCookie=CO1PR06MB222.namprd06.prod.outlook.com~1941996295; path=/; secure; HttpOnly",
            ),
            (
                "Set-Cookie",
                "X-BackEndCookie=alfred@contoso.com=Ox8XKzcXLxg==; expires=Wed, 25-Sep-2013 18:52:49 GMT; path=/EWS; secure; HttpOnly",
            ),
        ]);
        assert_eq!(
            affinity_cookie(&answer).as_deref(),
            Some("CO1PR06MB222.namprd06.prod.outlook.com~1941996295")
        );
        // Sadie's answer sets no affinity cookie.
        assert_eq!(affinity_cookie(&answer[..2]), None);
        assert_eq!(
            affinity_cookie(&[answer[0].clone(), answer[3].clone()]),
            None
        );
        // Folded into one field by a proxy, quoted, or lower-case names.
        let folded = headers(&[(
            "set-cookie",
            "exchangecookie=ddb8; expires=Thu, 25-Sep-2014 18:42:45 GMT; path=/, X-BackEndOverrideCookie=\"EMU01MB0001~42\"; path=/",
        )]);
        assert_eq!(affinity_cookie(&folded).as_deref(), Some("EMU01MB0001~42"));
        // Never a value that could break a header or smuggle attributes.
        for bad in [
            "X-BackEndOverrideCookie=",
            "X-BackEndOverrideCookie=a b",
            "X-BackEndOverrideCookie=a\r\nX-Evil: 1",
            "X-BackEndOverrideCookie=a\\b",
            "X-BackEndOverrideCookieX=abc",
        ] {
            assert_eq!(
                affinity_cookie(&headers(&[("Set-Cookie", bad)])),
                None,
                "{bad}"
            );
        }
        let long = format!(
            "X-BackEndOverrideCookie={}",
            "a".repeat(MAX_AFFINITY_LEN + 1)
        );
        assert_eq!(affinity_cookie(&headers(&[("Set-Cookie", &long)])), None);
    }

    #[test]
    fn affinity_headers_only_for_a_plain_value() {
        let platform = TestPlatform::new();
        assert_eq!(
            affinity_headers(&platform, Some("EMU01~1")),
            headers(&[
                ("X-PreferServerAffinity", "true"),
                ("Cookie", "X-BackEndOverrideCookie=EMU01~1")
            ])
        );
        assert!(affinity_headers(&platform, None).is_empty());
        assert!(affinity_headers(&platform, Some("a\r\nX-Evil: 1")).is_empty());
        assert_eq!(platform.logs.borrow().len(), 1);
        assert!(!platform.logged()[0].contains("Evil"));
    }

    #[test]
    fn subscribing_through_the_client_asks_for_affinity_and_keeps_it() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, delegated());
        let mut answer = soap(&ews_sample!("subscribe-pull-response.xml")[..]);
        answer.headers.push((
            "Set-Cookie".into(),
            "X-BackEndOverrideCookie=EMU1MB2.emulator.prod.outlook.com~3; path=/; HttpOnly".into(),
        ));
        platform.answers.push_back(answer);
        let subscribed = subscribe(
            &client,
            &mut platform,
            "room1@contoso.com",
            Kind::Pull {
                timeout_minutes: 30,
            },
            Some("W0"),
        )
        .unwrap();
        assert_eq!(
            subscribed,
            Subscribed {
                id: "39ea5d0f-f062-455e-a1e9-89c0304390f4".into(),
                watermark: "AAAAAHgGAAAAAAAAAQ==".into(),
                affinity: Some("EMU1MB2.emulator.prod.outlook.com~3".into()),
            }
        );
        let request = &platform.requests[0];
        assert_eq!(request.header("x-preferserveraffinity"), Some("true"));
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));
        assert_eq!(request.header("cookie"), None);
        let op = sent_operation(&platform, 0);
        let pull = op.child(&Ns::Messages, "PullSubscriptionRequest").unwrap();
        assert_eq!(pull.child(&Ns::Types, "Watermark").unwrap().text, "W0");
    }

    #[test]
    fn refusals_through_the_client() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let mut call = |body: Vec<u8>| {
            platform.answers.push_back(soap(body));
            subscribe(
                &client,
                &mut platform,
                "room1@contoso.com",
                Kind::Pull {
                    timeout_minutes: 30,
                },
                Some("old"),
            )
        };
        let e = call(error_answer(NAME, "ErrorInvalidWatermark").into_bytes()).unwrap_err();
        assert_eq!(lost_code(&e), Some("ErrorInvalidWatermark"));
        let e = call(ews_sample!("subscribe-error-delegateaccessnotsupported.xml").to_vec())
            .unwrap_err();
        assert_eq!(lost_code(&e), None);
        let Error::AccessDenied { failure, fix } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(failure.response_code, DELEGATE_NOT_SUPPORTED);
        assert_eq!(
            failure.message,
            "Subscriptions are not supported for delegate user access."
        );
        assert!(
            fix.contains("full_access_as_app") && fix.contains("app-only"),
            "{fix}"
        );
        let e = call(ews_sample!("serverbusy-soapfault.xml").to_vec());
        assert!(matches!(e, Err(Error::Throttled { .. })), "{e:?}");
        let e = call(ews_sample!("getevents-response-newmail.xml").to_vec()).unwrap_err();
        assert!(e.message().contains("cannot be used"), "{e}");
    }
}
