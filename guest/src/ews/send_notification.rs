//! The push side of notifications: the `SendNotification` request Exchange
//! POSTs to a push subscription's callback, and the `SendNotificationResult`
//! the callback answers with.
//!
//! The request is a SOAP envelope whose body holds
//! `m:SendNotification/m:ResponseMessages/m:SendNotificationResponseMessage`
//! (`ResponseClass` `Success`) with one `m:Notification`, read as
//! [`Notification`] (subscription id, previous watermark, more events, the
//! events). The answer's `SubscriptionStatus` is `OK` (keep sending) or
//! `Unsubscribe` (end the subscription).
//!
//! Anyone can POST to a public webhook, so [`parse_request`] reads the body
//! under tight [`LIMITS`] (size, depth, element count; no document type
//! declarations, so no entity expansion) and names what is wrong in its own
//! words: the reasons never quote the body, so they can go into a log or an
//! HTTP answer. One notification per request is what Exchange sends (the
//! answer holds one status for one subscription); a request with several is
//! refused.
//!
//! References:
//! learn.microsoft.com/exchange/client-developer/web-service-reference/sendnotification,
//! …/sendnotificationresponsemessage and …/sendnotificationresult.

use super::get_events::Notification;
use super::xml::{self, Element, Limits, MESSAGES_NS, Ns, SOAP_NS};

/// The largest request body read (a notification holds at most 50 events,
/// some kilobytes).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The SOAP 1.2 envelope namespace, accepted beside SOAP 1.1 (a request
/// sent as `application/soap+xml`).
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// The parser's caps for a request body.
pub const LIMITS: Limits = Limits {
    max_bytes: MAX_BODY_BYTES,
    max_depth: 16,
    max_elements: 10_000,
    max_attributes: 32,
    max_name_len: 128,
    max_attribute_len: 4096,
    max_text_len: 16 << 10,
    max_tree_bytes: 4 << 20,
};

/// What the callback answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// `OK`: the notification was accepted; keep sending.
    Ok,
    /// `Unsubscribe`: end the subscription.
    Unsubscribe,
}

impl SubscriptionStatus {
    /// The `SubscriptionStatus` text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Unsubscribe => "Unsubscribe",
        }
    }
}

/// Reads a `SendNotification` request body into its notification. The
/// error is a reason in the component's own words.
pub fn parse_request(body: &[u8]) -> Result<Notification, String> {
    let root = xml::parse_with(body, LIMITS).map_err(|_| {
        "the body is not well-formed XML within the webhook's limits (UTF-8, at most 1 MiB, \
         16 levels, no document type declaration)"
            .to_owned()
    })?;
    let is_soap = |e: &Element, name: &str| {
        e.name == name && (e.ns == Ns::Soap || e.ns == Ns::Other(SOAP12_NS.to_owned()))
    };
    if !is_soap(&root, "Envelope") {
        return Err("the body is not a SOAP envelope".into());
    }
    let body = root
        .children
        .iter()
        .find(|c| is_soap(c, "Body"))
        .ok_or("the SOAP envelope has no Body")?;
    let send = body
        .children
        .first()
        .filter(|c| c.is(&Ns::Messages, "SendNotification"))
        .ok_or("the SOAP Body holds no SendNotification")?;
    let messages = send
        .child(&Ns::Messages, "ResponseMessages")
        .ok_or("the SendNotification has no ResponseMessages")?;
    let all: Vec<&Element> = messages
        .children_named(&Ns::Messages, "SendNotificationResponseMessage")
        .collect();
    let [message] = all.as_slice() else {
        return Err(format!(
            "the SendNotification holds {} notifications, not one",
            all.len()
        ));
    };
    if message.attr("ResponseClass") != Some("Success") {
        return Err("the SendNotificationResponseMessage is not a Success".into());
    }
    if message
        .child(&Ns::Messages, "ResponseCode")
        .is_some_and(|c| c.trimmed_text() != "NoError")
    {
        return Err("the SendNotificationResponseMessage's ResponseCode is not NoError".into());
    }
    let notification = message
        .child(&Ns::Messages, "Notification")
        .ok_or("the SendNotificationResponseMessage has no Notification")?;
    Notification::from_element(notification)
}

/// The SOAP answer with `SendNotificationResult/SubscriptionStatus`.
pub fn result_body(status: SubscriptionStatus) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:m="{MESSAGES_NS}"><soap:Body><m:SendNotificationResult><m:SubscriptionStatus>{}</m:SubscriptionStatus></m:SendNotificationResult></soap:Body></soap:Envelope>"#,
        status.as_str()
    )
}

/// Notification bodies for the tests of the webhook.
#[cfg(test)]
pub(crate) mod test_support {
    /// A `SendNotification` request around the children of `m:Notification`.
    pub(crate) fn request(notification: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Header><t:RequestServerVersion Version="Exchange2010_SP1" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"/></soap11:Header><soap11:Body><m:SendNotification xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notification>{notification}</m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages></m:SendNotification></soap11:Body></soap11:Envelope>"#
        )
    }

    /// A notification of subscription `id` with a created and a modified
    /// item (the emulator's shape), ending at watermark `W2`.
    pub(crate) fn changes(id: &str) -> String {
        request(&format!(
            "<t:SubscriptionId>{id}</t:SubscriptionId><t:PreviousWatermark>W0</t:PreviousWatermark>\
             <t:MoreEvents>false</t:MoreEvents>\
             <t:CreatedEvent><t:Watermark>W1</t:Watermark><t:TimeStamp>2026-01-05T08:00:00Z</t:TimeStamp><t:ItemId Id=\"AAMk1\" ChangeKey=\"DwAA\"/><t:ParentFolderId Id=\"AAMkc\" ChangeKey=\"AQAA\"/></t:CreatedEvent>\
             <t:ModifiedEvent><t:Watermark>W2</t:Watermark><t:TimeStamp>2026-01-05T08:00:01Z</t:TimeStamp><t:ItemId Id=\"AAMk1\" ChangeKey=\"DwAB\"/><t:ParentFolderId Id=\"AAMkc\" ChangeKey=\"AQAA\"/></t:ModifiedEvent>"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{changes, request};
    use super::*;
    use crate::ews::get_events::EventKind;
    use crate::testing::ews_sample;

    /// Element names, namespaces and trimmed texts, depth first.
    fn shape(element: &Element, out: &mut Vec<String>) {
        out.push(format!(
            "{:?}:{}={}",
            element.ns,
            element.name,
            element.trimmed_text()
        ));
        for child in &element.children {
            shape(child, out);
        }
    }

    fn shape_of(xml: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        shape(&xml::parse(xml).unwrap(), &mut out);
        out
    }

    #[test]
    fn the_heartbeat_exchange_sends() {
        let n = parse_request(ews_sample!("sendnotification-request-statusevent.xml")).unwrap();
        assert_eq!(n.subscription_id, "XXXXX=");
        assert_eq!(n.previous_watermark, "AAAAA=");
        assert!(!n.more_events);
        assert_eq!(n.events.len(), 1);
        assert_eq!(n.events[0].kind, EventKind::Status);
        assert_eq!(n.last_watermark(), "BBBBB=");
        assert_eq!(n.item_events(), 0);
    }

    #[test]
    fn a_notification_of_changes() {
        let n = parse_request(changes("SUB1").as_bytes()).unwrap();
        assert_eq!(n.subscription_id, "SUB1");
        assert_eq!(n.item_events(), 2);
        assert_eq!(n.last_watermark(), "W2");
        // SOAP 1.2 and the documentation's https typo are envelopes too.
        for ns in [SOAP12_NS, "https://schemas.xmlsoap.org/soap/envelope/"] {
            let other = changes("SUB1").replace("http://schemas.xmlsoap.org/soap/envelope/", ns);
            assert_eq!(parse_request(other.as_bytes()).unwrap(), n);
        }
    }

    #[test]
    fn our_answers_are_the_documented_results() {
        for (status, sample) in [
            (
                SubscriptionStatus::Ok,
                &ews_sample!("sendnotificationresult-ok.xml")[..],
            ),
            (
                SubscriptionStatus::Unsubscribe,
                &ews_sample!("sendnotificationresult-unsubscribe.xml")[..],
            ),
        ] {
            assert_eq!(shape_of(result_body(status).as_bytes()), shape_of(sample));
        }
        assert!(result_body(SubscriptionStatus::Ok).contains(">OK<"));
    }

    #[test]
    fn what_is_not_a_notification_is_named_without_quoting_it() {
        let secret = "Bearer-eyJ0eXAi";
        let cases: Vec<(String, &str)> = vec![
            (format!("not xml {secret}"), "not well-formed XML"),
            (format!("<html>{secret}</html>"), "not a SOAP envelope"),
            (
                format!("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"{secret}\">]><x>&a;</x>"),
                "not well-formed XML",
            ),
            (
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#.into(),
                "no Body",
            ),
            (
                format!(
                    r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetEvents xmlns:m="{MESSAGES_NS}">{secret}</m:GetEvents></s:Body></s:Envelope>"#
                ),
                "no SendNotification",
            ),
            (
                changes("SUB1")
                    .replace("<m:ResponseMessages>", "<m:X>")
                    .replace("</m:ResponseMessages>", "</m:X>"),
                "no ResponseMessages",
            ),
            (
                changes("SUB1").replace(r#"ResponseClass="Success""#, r#"ResponseClass="Error""#),
                "not a Success",
            ),
            (
                changes("SUB1").replace(">NoError<", ">ErrorMissedNotificationEvents<"),
                "not NoError",
            ),
            (
                changes("SUB1")
                    .replace("<m:Notification>", "<m:Note>")
                    .replace("</m:Notification>", "</m:Note>"),
                "no Notification",
            ),
            (
                changes("SUB1").replace(
                    "</m:ResponseMessages>",
                    &format!("{}</m:ResponseMessages>", {
                        let one = changes("SUB2");
                        let start = one.find("<m:SendNotificationResponseMessage").unwrap();
                        let end = one.find("</m:ResponseMessages>").unwrap();
                        one[start..end].to_owned()
                    }),
                ),
                "holds 2 notifications, not one",
            ),
            (
                request("<t:MoreEvents>false</t:MoreEvents>"),
                "no SubscriptionId",
            ),
            (
                changes(&format!("{secret} x")),
                "SubscriptionId is empty, too long or not plain text",
            ),
        ];
        for (body, reason) in cases {
            let error = parse_request(body.as_bytes()).unwrap_err();
            assert!(error.contains(reason), "{reason}: {error}");
            assert!(!error.contains(secret), "{error}");
        }
    }

    #[test]
    fn hostile_bodies_are_refused_cleanly() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        let wide = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}</s:Body></s:Envelope>"#,
            "<x/>".repeat(20_000)
        );
        let huge = format!("<a>{}</a>", "x".repeat(MAX_BODY_BYTES));
        let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>"#;
        let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        let undefined = changes("SUB1").replace("W1", "&undefined;");
        for body in [
            deep.as_bytes(),
            wide.as_bytes(),
            huge.as_bytes(),
            billion_laughs.as_bytes(),
            external.as_bytes(),
            undefined.as_bytes(),
            &[0xff, 0xfe, 0x00, 0x3c][..],
            b"",
        ] {
            assert!(parse_request(body).is_err(), "{}", body.len());
        }
        // Every prefix of a real notification is handled without a panic.
        let full = changes("SUB1");
        for cut in 0..full.len() {
            let _ = parse_request(&full.as_bytes()[..cut]);
        }
    }
}
