//! The EWS `GetEvents` operation: the events of a pull subscription after a
//! watermark, and the `Notification` that both pull (`GetEvents`) and push
//! (`SendNotification`, [`super::send_notification`]) subscriptions deliver.
//!
//! A notification names its subscription, the watermark it starts after
//! (`PreviousWatermark`), whether more events wait (`MoreEvents`: ask again
//! at once) and its events, each with its own `Watermark`. Exchange answers
//! at most 50 events per call, and a single `StatusEvent` carrying the
//! current watermark when nothing happened. The watermark to store (and to
//! send with the next `GetEvents`) is the last event's.
//!
//! An event is only ever a hint that the person's calendar changed: the ids
//! it carries are not read, the incremental sync reads Exchange. What counts
//! is [`Notification::item_events`]: every event but `StatusEvent`. That is
//! `Created`, `Modified`, `Deleted`, `Moved`, `Copied`, `NewMail` and
//! `FreeBusyChanged`, and an element the component does not know yet (an
//! event type newer than this code). Folder events (a `FolderId` instead of
//! an `ItemId`, e.g. the calendar folder `Modified` when its content
//! changed) count too: they change what a sync would see, and an extra
//! incremental sync costs one `SyncFolderItems`, a missed change costs a
//! wrong room booking.
//!
//! Errors: every failure is classified as in [`super::classify`]. The codes
//! of [`LOST_CODES`] mean that Exchange no longer has the subscription or its
//! position; they become an [`Error::Protocol`] that [`lost_code`]
//! recognises, and the caller subscribes again and syncs the person (so no
//! change is missed). The affinity cookie ([`super::subscribe`]) goes with
//! every call of a subscription that has one.
//!
//! References:
//! learn.microsoft.com/exchange/client-developer/web-service-reference/getevents-operation,
//! …/notification-ex15websvcsotherref and
//! learn.microsoft.com/exchange/client-developer/exchange-web-services/handling-notification-related-errors-in-ews-in-exchange.

use super::EwsClient;
use super::calendar_item::{messages, unusable_answer};
use super::check_message;
use super::response::ResponseMessage;
use super::subscribe::affinity_headers;
use super::xml::{Element, Ns, escape};
use crate::error::Error;
use crate::platform::Platform;
use crate::safe_text;

/// The operation name.
pub const NAME: &str = "GetEvents";

/// Response codes after which the subscription, or its watermark, is gone
/// for good: the caller makes a new subscription and syncs the person.
///
/// The first five are what Exchange answers for an expired, unknown,
/// malformed or push subscription id and for a watermark it does not know.
/// `ErrorMissedNotificationEvents` and `ErrorReadEventsFailed` are added
/// because Microsoft's advice for both is the same: create a new
/// subscription ("Handling notification-related errors in EWS in
/// Exchange").
pub const LOST_CODES: &[&str] = &[
    "ErrorSubscriptionNotFound",
    "ErrorExpiredSubscription",
    "ErrorInvalidSubscription",
    "ErrorInvalidWatermark",
    "ErrorInvalidPullSubscriptionId",
    "ErrorMissedNotificationEvents",
    "ErrorReadEventsFailed",
];

/// The longest subscription id or watermark accepted from an answer or a
/// notification: real ones are GUIDs or base64 of some dozens of bytes.
pub const MAX_TOKEN_LEN: usize = 1024;

/// The fix of a lost subscription.
const LOST_FIX: &str = "None needed: rooms-sync subscribes the person again and runs its \
    incremental sync, so no change is missed.";

/// What happened, by the event element's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `CopiedEvent`.
    Copied,
    /// `CreatedEvent`.
    Created,
    /// `DeletedEvent`.
    Deleted,
    /// `ModifiedEvent`.
    Modified,
    /// `MovedEvent`.
    Moved,
    /// `NewMailEvent`.
    NewMail,
    /// `FreeBusyChangedEvent`.
    FreeBusyChanged,
    /// `StatusEvent`: nothing happened (the heartbeat).
    Status,
    /// An event element this code does not know; counted as a change.
    Other,
}

impl EventKind {
    fn from_name(name: &str) -> Self {
        match name {
            "CopiedEvent" => Self::Copied,
            "CreatedEvent" => Self::Created,
            "DeletedEvent" => Self::Deleted,
            "ModifiedEvent" => Self::Modified,
            "MovedEvent" => Self::Moved,
            "NewMailEvent" => Self::NewMail,
            "FreeBusyChangedEvent" => Self::FreeBusyChanged,
            "StatusEvent" => Self::Status,
            _ => Self::Other,
        }
    }
}

/// One event of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The event's `Watermark`.
    pub watermark: String,
    /// True when the event names a folder (`FolderId`), not an item.
    pub folder: bool,
}

/// A `Notification` (of `GetEvents` or `SendNotification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `SubscriptionId`.
    pub subscription_id: String,
    /// `PreviousWatermark` (empty when absent).
    pub previous_watermark: String,
    /// `MoreEvents`: more events wait on the server.
    pub more_events: bool,
    /// The events, in order; never empty.
    pub events: Vec<Event>,
}

impl Notification {
    /// The watermark of the last event: where the next read starts.
    pub fn last_watermark(&self) -> &str {
        self.events
            .last()
            .map(|e| e.watermark.as_str())
            .unwrap_or_default()
    }

    /// How many events say that something changed (all but `StatusEvent`).
    pub fn item_events(&self) -> u32 {
        let count = self
            .events
            .iter()
            .filter(|e| e.kind != EventKind::Status)
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Reads a `Notification` element (children in the types namespace).
    ///
    /// The reasons name elements only, never text of the document, so they
    /// may be shown for a body anyone could have sent.
    pub fn from_element(notification: &Element) -> Result<Self, String> {
        let subscription_id = notification
            .child(&Ns::Types, "SubscriptionId")
            .ok_or("the Notification has no SubscriptionId")?;
        let subscription_id = token(subscription_id.trimmed_text())
            .ok_or("the Notification's SubscriptionId is empty, too long or not plain text")?;
        let previous_watermark = match notification.child(&Ns::Types, "PreviousWatermark") {
            Some(previous) => token(previous.trimmed_text()).ok_or(
                "the Notification's PreviousWatermark is empty, too long or not plain text",
            )?,
            None => String::new(),
        };
        let more_events = match notification
            .child(&Ns::Types, "MoreEvents")
            .map(|e| e.trimmed_text())
        {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(_) => return Err("the Notification's MoreEvents is not a boolean".into()),
            None => return Err("the Notification has no MoreEvents".into()),
        };
        let mut events = Vec::new();
        for event in notification.children.iter().filter(|c| {
            c.ns == Ns::Types
                && !matches!(
                    c.name.as_str(),
                    "SubscriptionId" | "PreviousWatermark" | "MoreEvents"
                )
        }) {
            let watermark = event
                .child(&Ns::Types, "Watermark")
                .and_then(|w| token(w.trimmed_text()))
                .ok_or("an event of the Notification has no usable Watermark")?;
            events.push(Event {
                kind: EventKind::from_name(&event.name),
                watermark,
                folder: event.child(&Ns::Types, "FolderId").is_some(),
            });
        }
        if events.is_empty() {
            return Err("the Notification holds no event".into());
        }
        Ok(Self {
            subscription_id,
            previous_watermark,
            more_events,
            events,
        })
    }
}

/// `text` as an id or watermark: non-empty, at most [`MAX_TOKEN_LEN`]
/// bytes, printable ASCII without spaces (ids and watermarks are GUIDs or
/// base64). Anything else is refused rather than stored or logged.
pub fn token(text: &str) -> Option<String> {
    let plain = !text.is_empty()
        && text.len() <= MAX_TOKEN_LEN
        && text.bytes().all(|b| b.is_ascii_graphic());
    plain.then(|| text.to_owned())
}

/// The `m:GetEvents` element.
pub fn request_body(subscription_id: &str, watermark: &str) -> String {
    format!(
        "<m:GetEvents><m:SubscriptionId>{}</m:SubscriptionId><m:Watermark>{}</m:Watermark>\
         </m:GetEvents>",
        escape(subscription_id),
        escape(watermark)
    )
}

/// Reads a successful response message's `m:Notification`.
pub fn parse_message(message: &ResponseMessage) -> Result<Notification, String> {
    let notification = message
        .element
        .child(&Ns::Messages, "Notification")
        .ok_or("it has no Notification")?;
    Notification::from_element(notification)
}

/// The error for a response code of [`LOST_CODES`].
pub(crate) fn lost(code: &str, text: &str, mailbox: &str) -> Error {
    let text = safe_text::quote(text);
    let text = text.trim_end_matches('.');
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    Error::protocol(
        format!(
            "Exchange answered {} for {mailbox}{detail}.",
            safe_text::name(code)
        ),
        LOST_FIX,
    )
}

/// The code of [`LOST_CODES`] that `error` reports, as a response message
/// or a SOAP fault (both are classified as `Exchange answered <code> for …`).
pub fn lost_code(error: &Error) -> Option<&'static str> {
    let Error::Protocol { message, .. } = error else {
        return None;
    };
    let rest = message.strip_prefix("Exchange answered ")?;
    LOST_CODES.iter().copied().find(|code| {
        rest.strip_prefix(code)
            .is_some_and(|after| after.starts_with(' ') || after.starts_with(':'))
    })
}

/// The error of a failed response message: a lost subscription, or the
/// classification of [`check_message`].
pub(crate) fn check(
    message: &ResponseMessage,
    mailbox: &str,
    client: &EwsClient<'_>,
) -> Result<(), Error> {
    if LOST_CODES.contains(&message.code.as_str()) {
        return Err(lost(&message.code, &message.text, mailbox));
    }
    check_message(message, mailbox, client.access())
}

/// One `GetEvents` for the subscription `subscription_id` of `mailbox`
/// after `watermark`, with the affinity cookie when there is one.
pub fn get_events(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    subscription_id: &str,
    watermark: &str,
    affinity: Option<&str>,
) -> Result<Notification, Error> {
    let body = request_body(subscription_id, watermark);
    let headers = affinity_headers(platform, affinity);
    let answer = client.call_with(platform, mailbox, &body, &headers)?;
    let message = messages(answer.element, NAME, mailbox, 1)?.remove(0);
    check(&message, mailbox, client)?;
    parse_message(&message).map_err(|e| unusable_answer(NAME, mailbox, &e))
}

/// GetEvents answers for the tests of the notification layer.
#[cfg(test)]
pub(crate) mod test_support {
    /// A GetEvents answer around `notification` (the children of
    /// `m:Notification`), so tests can write any notification.
    pub(crate) fn answer(notification: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetEventsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:GetEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notification>{notification}</m:Notification></m:GetEventsResponseMessage></m:ResponseMessages></m:GetEventsResponse></s:Body></s:Envelope>"#
        )
    }

    /// An error answer of `operation` (`GetEvents`) with `code`, in the
    /// shape of the documented error responses.
    pub(crate) fn error_answer(operation: &str, code: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:{operation}Response xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>It is gone.</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response></s:Body></s:Envelope>"#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{answer, error_answer};
    use super::*;
    use crate::ews::Access;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::ews::response::{Content, read_envelope, response_messages};
    use crate::ews::xml::parse;
    use crate::testing::{app_only, ews_sample};

    fn message(bytes: &[u8]) -> ResponseMessage {
        let Content::Response(response) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        response_messages(response, NAME).unwrap().remove(0)
    }

    #[test]
    fn the_request_has_the_documented_shape() {
        let body = request_body("f6bc<&>", "AAAA==");
        let ours = parse(
            crate::ews::soap::envelope(
                crate::ews::soap::Addressing::Impersonation,
                "room1@contoso.com",
                &body,
            )
            .as_bytes(),
        )
        .unwrap();
        let ours = &ours.child(&Ns::Soap, "Body").unwrap().children[0];
        let documented = parse(ews_sample!("getevents-request.xml")).unwrap();
        let documented = &documented.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(ours.is(&Ns::Messages, NAME) && documented.is(&Ns::Messages, NAME));
        assert_eq!(names(ours), names(documented));
        assert!(ours.children.iter().all(|c| c.ns == Ns::Messages));
        assert_eq!(ours.children[0].text, "f6bc<&>");
        assert_eq!(ours.children[1].text, "AAAA==");
    }

    #[test]
    fn the_documented_answer_with_two_new_mail_events() {
        let n = parse_message(&message(ews_sample!("getevents-response-newmail.xml"))).unwrap();
        assert_eq!(n.subscription_id, "f6bc657d-dde1-4f94-952d-143b95d6483d");
        assert_eq!(n.previous_watermark, "AAAAAMAGAAAAAAAAAQ==");
        assert!(!n.more_events);
        assert_eq!(
            n.events,
            vec![
                Event {
                    kind: EventKind::NewMail,
                    watermark: "AAAAAM4GAAAAAAAAAQ==".into(),
                    folder: false
                },
                Event {
                    kind: EventKind::NewMail,
                    watermark: "AAAAAOQGAAAAAAAAAQ==".into(),
                    folder: false
                },
            ]
        );
        assert_eq!(n.last_watermark(), "AAAAAOQGAAAAAAAAAQ==");
        assert_eq!(n.item_events(), 2);
    }

    #[test]
    fn every_kind_of_event_counts_but_the_status_event() {
        let n = parse_message(&message(answer(
            "<t:SubscriptionId>S</t:SubscriptionId><t:PreviousWatermark>W0</t:PreviousWatermark>\
             <t:MoreEvents>true</t:MoreEvents>\
             <t:CreatedEvent><t:Watermark>W1</t:Watermark><t:ItemId Id=\"i\"/></t:CreatedEvent>\
             <t:ModifiedEvent><t:Watermark>W2</t:Watermark><t:FolderId Id=\"f\"/><t:UnreadCount>0</t:UnreadCount></t:ModifiedEvent>\
             <t:DeletedEvent><t:Watermark>W3</t:Watermark></t:DeletedEvent>\
             <t:MovedEvent><t:Watermark>W4</t:Watermark></t:MovedEvent>\
             <t:CopiedEvent><t:Watermark>W5</t:Watermark></t:CopiedEvent>\
             <t:FreeBusyChangedEvent><t:Watermark>W6</t:Watermark></t:FreeBusyChangedEvent>\
             <t:SomethingNewEvent><t:Watermark>W7</t:Watermark></t:SomethingNewEvent>\
             <t:StatusEvent><t:Watermark>W8</t:Watermark></t:StatusEvent>",
        )
        .as_bytes()))
        .unwrap();
        assert!(n.more_events);
        let kinds: Vec<EventKind> = n.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Created,
                EventKind::Modified,
                EventKind::Deleted,
                EventKind::Moved,
                EventKind::Copied,
                EventKind::FreeBusyChanged,
                EventKind::Other,
                EventKind::Status
            ]
        );
        assert!(n.events[1].folder && !n.events[0].folder);
        assert_eq!(n.item_events(), 7);
        assert_eq!(n.last_watermark(), "W8");
    }

    #[test]
    fn a_status_event_alone_is_no_change() {
        let n = parse_message(&message(
            answer(
                "<t:SubscriptionId>S</t:SubscriptionId><t:PreviousWatermark>W0</t:PreviousWatermark>\
                 <t:MoreEvents>false</t:MoreEvents><t:StatusEvent><t:Watermark>W1</t:Watermark></t:StatusEvent>",
            )
            .as_bytes(),
        ))
        .unwrap();
        assert_eq!(n.item_events(), 0);
        assert_eq!(n.last_watermark(), "W1");
    }

    #[test]
    fn unusable_notifications_are_named_without_quoting_them() {
        let parsed = |inner: &str| parse_message(&message(answer(inner).as_bytes()));
        for (inner, reason) in [
            (
                "<t:MoreEvents>false</t:MoreEvents><t:StatusEvent><t:Watermark>W</t:Watermark></t:StatusEvent>",
                "no SubscriptionId",
            ),
            (
                "<t:SubscriptionId>S</t:SubscriptionId><t:StatusEvent><t:Watermark>W</t:Watermark></t:StatusEvent>",
                "no MoreEvents",
            ),
            (
                "<t:SubscriptionId>S</t:SubscriptionId><t:MoreEvents>maybe</t:MoreEvents><t:StatusEvent><t:Watermark>W</t:Watermark></t:StatusEvent>",
                "MoreEvents is not a boolean",
            ),
            (
                "<t:SubscriptionId>S</t:SubscriptionId><t:MoreEvents>false</t:MoreEvents>",
                "holds no event",
            ),
            (
                "<t:SubscriptionId>S</t:SubscriptionId><t:MoreEvents>false</t:MoreEvents><t:CreatedEvent/>",
                "no usable Watermark",
            ),
            (
                "<t:SubscriptionId>S</t:SubscriptionId><t:MoreEvents>false</t:MoreEvents><t:CreatedEvent><t:Watermark>W 1\u{1b}[2J</t:Watermark></t:CreatedEvent>",
                "no usable Watermark",
            ),
            (
                "<t:SubscriptionId>evil id</t:SubscriptionId><t:MoreEvents>false</t:MoreEvents><t:StatusEvent><t:Watermark>W</t:Watermark></t:StatusEvent>",
                "SubscriptionId is empty, too long",
            ),
        ] {
            let error = parsed(inner).unwrap_err();
            assert!(error.contains(reason), "{inner}: {error}");
            assert!(!error.contains("evil") && !error.contains("2J"), "{error}");
        }
        let long = "A".repeat(MAX_TOKEN_LEN + 1);
        assert!(token(&long).is_none());
        assert_eq!(token(&long[1..]).as_deref(), Some(&long[1..]));
        assert!(
            message(ews_sample!("getevents-error-subscriptionaccessdenied.xml"))
                .element
                .child(&Ns::Messages, "Notification")
                .is_none()
        );
    }

    #[test]
    fn lost_codes_are_recognised_however_they_arrive() {
        let access = app_only();
        for code in LOST_CODES {
            let m = message(error_answer(NAME, code).as_bytes());
            // Our own error, and check_message's classification (as for a
            // SOAP fault) both name the code.
            let ours = lost(&m.code, &m.text, "room1@contoso.com");
            assert_eq!(lost_code(&ours), Some(*code));
            assert!(
                ours.fix().contains("subscribes the person again"),
                "{ours:?}"
            );
            let classified = check_message(&m, "room1@contoso.com", &access).unwrap_err();
            assert_eq!(lost_code(&classified), Some(*code), "{classified:?}");
        }
        let denied = message(ews_sample!("getevents-error-subscriptionaccessdenied.xml"));
        let e = check_message(&denied, "room1@contoso.com", &access).unwrap_err();
        assert_eq!(lost_code(&e), None);
        assert!(e.message().contains("ErrorSubscriptionAccessDenied"), "{e}");
        assert_eq!(
            lost_code(&Error::protocol(
                "Exchange answered ErrorInvalidWatermarkX for a@b.c.",
                "x"
            )),
            None
        );
        assert_eq!(
            lost_code(&Error::Throttled {
                response_code: "ErrorSubscriptionNotFound".into(),
                retry_after_ms: 0
            }),
            None
        );
    }

    #[test]
    fn one_poll_through_the_client_with_the_affinity_cookie() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("getevents-response-newmail.xml")[..]));
        let n = get_events(
            &client,
            &mut platform,
            "room1@contoso.com",
            "f6bc657d",
            "AAAAAMAGAAAAAAAAAQ==",
            Some("CO1PR06MB222.namprd06.prod.outlook.com~1941996295"),
        )
        .unwrap();
        assert_eq!(n.item_events(), 2);
        let op = sent_operation(&platform, 0);
        assert_eq!(
            op.child(&Ns::Messages, "SubscriptionId").unwrap().text,
            "f6bc657d"
        );
        let request = &platform.requests[0];
        assert_eq!(
            request.header("cookie"),
            Some("X-BackEndOverrideCookie=CO1PR06MB222.namprd06.prod.outlook.com~1941996295")
        );
        assert_eq!(request.header("x-preferserveraffinity"), Some("true"));
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));

        // Without affinity: no cookie.
        platform
            .answers
            .push_back(soap(&ews_sample!("getevents-response-newmail.xml")[..]));
        get_events(&client, &mut platform, "room1@contoso.com", "f", "w", None).unwrap();
        assert_eq!(platform.requests[1].header("cookie"), None);
    }

    #[test]
    fn refusals_through_the_client() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, Access::AppOnly { app_id: "a".into() });
        let mut poll = |body: Vec<u8>| {
            platform.answers.push_back(soap(body));
            get_events(&client, &mut platform, "room1@contoso.com", "S", "W", None)
        };
        let e = poll(error_answer(NAME, "ErrorExpiredSubscription").into_bytes()).unwrap_err();
        assert_eq!(lost_code(&e), Some("ErrorExpiredSubscription"));
        assert!(
            e.message().contains("room1@contoso.com: It is gone."),
            "{e}"
        );
        let e =
            poll(ews_sample!("syncfolderitems-error-serverbusy-o365.xml").to_vec()).unwrap_err();
        assert!(e.message().contains("cannot be used"), "{e}");
        let busy = error_answer(NAME, "ErrorServerBusy").replace(
            "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>",
            "<m:MessageXml><t:Value xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" Name=\"BackOffMilliseconds\">2500</t:Value></m:MessageXml>",
        );
        assert_eq!(
            poll(busy.into_bytes()).unwrap_err(),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 2500
            }
        );
        let e =
            poll(ews_sample!("getevents-error-subscriptionaccessdenied.xml").to_vec()).unwrap_err();
        assert_eq!(lost_code(&e), None);
    }
}
