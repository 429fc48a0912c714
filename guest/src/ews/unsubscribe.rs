//! The EWS `Unsubscribe` operation: ends a pull subscription.
//!
//! A subscription Exchange no longer knows (one of
//! [`super::get_events::LOST_CODES`]: unknown, expired, malformed) has ended
//! already, so it counts as ended, not as a failure. Push subscriptions are
//! not ended this way: their next notification is answered `Unsubscribe`
//! ([`super::send_notification`]). The affinity cookie of the subscription
//! goes with the request, as for `GetEvents`.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/unsubscribe-operation

use super::EwsClient;
use super::calendar_item::messages;
use super::get_events::{LOST_CODES, check};
use super::subscribe::affinity_headers;
use super::xml::escape;
use crate::error::Error;
use crate::platform::{Level, Platform};
use crate::safe_text;

/// The operation name.
pub const NAME: &str = "Unsubscribe";

/// The `m:Unsubscribe` element.
pub fn request_body(subscription_id: &str) -> String {
    format!(
        "<m:Unsubscribe><m:SubscriptionId>{}</m:SubscriptionId></m:Unsubscribe>",
        escape(subscription_id)
    )
}

/// Ends the pull subscription `subscription_id` of `mailbox`.
pub fn unsubscribe(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    subscription_id: &str,
    affinity: Option<&str>,
) -> Result<(), Error> {
    let body = request_body(subscription_id);
    let headers = affinity_headers(platform, affinity);
    let answer = client.call_with(platform, mailbox, &body, &headers)?;
    let message = messages(answer.element, NAME, mailbox, 1)?.remove(0);
    if LOST_CODES.contains(&message.code.as_str()) {
        platform.log(
            Level::Info,
            &format!(
                "the subscription of {mailbox} had ended already ({})",
                safe_text::name(&message.code)
            ),
        );
        return Ok(());
    }
    check(&message, mailbox, client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::ews::get_events::test_support::error_answer;
    use crate::ews::soap::{Addressing, envelope};
    use crate::ews::xml::{Ns, parse};
    use crate::testing::{app_only, ews_sample};

    #[test]
    fn the_request_has_the_documented_shape() {
        let xml = envelope(
            Addressing::Impersonation,
            "room1@contoso.com",
            &request_body("e6fb<&>"),
        );
        let ours = parse(xml.as_bytes()).unwrap();
        let ours = &ours.child(&Ns::Soap, "Body").unwrap().children[0];
        let documented = parse(ews_sample!("unsubscribe-request.xml")).unwrap();
        let documented = &documented.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(ours.is(&Ns::Messages, NAME) && documented.is(&Ns::Messages, NAME));
        assert_eq!(names(ours), names(documented));
        assert!(ours.children[0].is(&Ns::Messages, "SubscriptionId"));
        assert_eq!(ours.children[0].text, "e6fb<&>");
    }

    #[test]
    fn ended_unknown_and_failed() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let mut call = |body: Vec<u8>| {
            platform.answers.push_back(soap(body));
            unsubscribe(
                &client,
                &mut platform,
                "room1@contoso.com",
                "S",
                Some("EMU~1"),
            )
        };
        call(ews_sample!("unsubscribe-response.xml").to_vec()).unwrap();
        call(ews_sample!("unsubscribe-error-subscriptionnotfound.xml").to_vec()).unwrap();
        call(error_answer(NAME, "ErrorExpiredSubscription").into_bytes()).unwrap();
        let e = call(error_answer(NAME, "ErrorAccessDenied").into_bytes()).unwrap_err();
        assert!(matches!(e, Error::AccessDenied { .. }), "{e:?}");
        let e = call(ews_sample!("serverbusy-soapfault.xml").to_vec()).unwrap_err();
        assert!(matches!(e, Error::Throttled { .. }), "{e:?}");
        let op = sent_operation(&platform, 0);
        assert_eq!(op.child(&Ns::Messages, "SubscriptionId").unwrap().text, "S");
        assert_eq!(
            platform.requests[0].header("cookie"),
            Some("X-BackEndOverrideCookie=EMU~1")
        );
        assert!(
            platform
                .logged()
                .iter()
                .any(|l| l.contains("had ended already (ErrorSubscriptionNotFound)"))
        );
    }
}
