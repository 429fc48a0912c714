//! The EWS `ResolveNames` operation for one address: which mailbox owns it,
//! and that mailbox's primary SMTP address. The sync test's `configuration`
//! check uses it to tell an alias from the primary address.
//!
//! The entry is sent as `smtp:<address>`: with a routing type Exchange
//! matches every proxy address of a recipient, without one it compares with
//! the primary SMTP address only, so an alias would not resolve at all. The
//! answer's `t:Mailbox/t:EmailAddress` is the recipient's primary SMTP
//! address (Microsoft: "ResolveNames operation", Remarks,
//! learn.microsoft.com/exchange/client-developer/web-service-reference/resolvenames-operation).
//! One match is `Success`, several `Warning` `ErrorNameResolutionMultipleResults`
//! with all of them, none `Error` `ErrorNameResolutionNoResults`
//! (an empty list here).
//!
//! Addressing: a delegated service user asks as itself. App-only access must
//! impersonate a mailbox, and the address checked may be an alias, which
//! `ConnectingSID/PrimarySmtpAddress` (what [`super::EwsClient`] sends)
//! refuses; so this request impersonates by `ConnectingSID/SmtpAddress`,
//! which takes any proxy address (Microsoft: "Identify the account to
//! impersonate by using EWS in Exchange"). That is why it builds its own
//! envelope and sends it through [`super::request`] and [`super::classify`]
//! (with the same single retry after an HTTP 401) instead of
//! [`super::EwsClient::call`]. An address without a mailbox then answers
//! `ErrorNonExistentMailbox`, classified as `mailbox-not-found`.

use super::response::response_messages;
use super::soap::SERVER_VERSION;
use super::xml::{Element, MESSAGES_NS, Ns, SOAP_NS, TYPES_NS, escape};
use super::{Access, check_message, classify, request};
use crate::auth::TokenProvider;
use crate::auth::endpoint::describe_body;
use crate::error::Error;
use crate::platform::{Level, Platform};
use crate::safe_text;
use crate::url::HttpUrl;

/// The operation name.
pub const NAME: &str = "ResolveNames";

/// One recipient an address resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// `t:Mailbox/t:Name`, the display name (empty if absent).
    pub name: String,
    /// `t:Mailbox/t:EmailAddress`: the primary SMTP address.
    pub address: String,
    /// `t:Mailbox/t:MailboxType` (`Mailbox`, `PublicDL`, `Contact`, ...;
    /// empty if absent).
    pub mailbox_type: String,
}

impl Resolution {
    /// True for a mailbox (a user, room, equipment or shared mailbox), as
    /// opposed to a group or a contact.
    pub fn is_mailbox(&self) -> bool {
        matches!(self.mailbox_type.as_str(), "" | "Mailbox")
    }
}

/// The `m:ResolveNames` element for `address`: directory only, no contact
/// data.
pub fn request_body(address: &str) -> String {
    format!(
        "<m:ResolveNames ReturnFullContactData=\"false\" SearchScope=\"ActiveDirectory\">\
         <m:UnresolvedEntry>smtp:{}</m:UnresolvedEntry></m:ResolveNames>",
        escape(address)
    )
}

/// The SOAP envelope of a `ResolveNames` for `address`: impersonating it by
/// `SmtpAddress` with app-only access, no header for a delegate.
pub fn envelope(access: &Access, address: &str) -> String {
    let impersonation = match access {
        Access::AppOnly { .. } => format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>{}</t:SmtpAddress>\
             </t:ConnectingSID></t:ExchangeImpersonation>",
            escape(address)
        ),
        Access::Delegated { .. } => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><soap:Header><t:RequestServerVersion Version="{SERVER_VERSION}"/>{impersonation}</soap:Header><soap:Body>{}</soap:Body></soap:Envelope>"#,
        request_body(address)
    )
}

/// Resolves `address` at the EWS endpoint `url`: the recipients it belongs
/// to (none when Exchange knows no recipient with it). Every failure is
/// classified as in [`super::classify`].
pub fn resolve(
    platform: &mut dyn Platform,
    url: &HttpUrl,
    tokens: &TokenProvider,
    access: &Access,
    address: &str,
) -> Result<Vec<Resolution>, Error> {
    let envelope = envelope(access, address);
    let send = |platform: &mut dyn Platform| -> Result<_, Error> {
        let token = tokens.token(platform)?;
        platform.log(
            Level::Debug,
            &format!("POST {} ResolveNames for {address}", url.without_query()),
        );
        platform
            .http(request(url, &token.access_token, address, &envelope))
            .map_err(Error::Transport)
    };
    let mut response = send(platform)?;
    if response.status == 401 {
        platform.log(
            Level::Info,
            &format!(
                "EWS answered HTTP 401 ({}); signing in again and retrying once",
                describe_body(&response)
            ),
        );
        tokens.invalidate(platform);
        response = send(platform)?;
    }
    platform.log(
        Level::Debug,
        &format!(
            "EWS answered HTTP {} ({})",
            response.status,
            describe_body(&response)
        ),
    );
    let (_, element) = classify(&url.without_query(), &response, address, access)?;
    read_answer(element, address, access)
}

/// The recipients of a `ResolveNamesResponse` for `address`.
pub fn read_answer(
    response: Element,
    address: &str,
    access: &Access,
) -> Result<Vec<Resolution>, Error> {
    let unusable = |e: &str| {
        Error::protocol(
            format!(
                "The ResolveNames answer of Exchange for {address} cannot be used: {}.",
                safe_text::quote(e.trim_end_matches('.'))
            ),
            "Try again later; if it persists, report it with the rooms-sync host's log.",
        )
    };
    let mut messages = response_messages(response, NAME).map_err(|e| unusable(&e.to_string()))?;
    if messages.len() != 1 {
        return Err(unusable(&format!(
            "it holds {} response messages for 1 requested",
            messages.len()
        )));
    }
    let message = messages.remove(0);
    match message.code.as_str() {
        "ErrorNameResolutionNoResults" => return Ok(Vec::new()),
        // A Warning that still lists every candidate.
        "ErrorNameResolutionMultipleResults" => {}
        _ => check_message(&message, address, access)?,
    }
    let set = message
        .element
        .child(&Ns::Messages, "ResolutionSet")
        .ok_or_else(|| unusable("it has no ResolutionSet"))?;
    let mut found = Vec::new();
    for resolution in set.children_named(&Ns::Types, "Resolution") {
        let Some(mailbox) = resolution.child(&Ns::Types, "Mailbox") else {
            continue;
        };
        let text = |name: &str| {
            mailbox
                .child(&Ns::Types, name)
                .map(|e| e.trimmed_text().to_owned())
                .unwrap_or_default()
        };
        let address = text("EmailAddress");
        if address.is_empty() {
            // A contact from the caller's own folder may have none; it is
            // not a mailbox anyway.
            continue;
        }
        found.push(Resolution {
            name: text("Name"),
            address,
            mailbox_type: text("MailboxType"),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{URL, signed_in, soap, url};
    use crate::ews::response::{Content, read_envelope};
    use crate::ews::xml::parse;
    use crate::testing::{answer, app_only, delegated, ews_sample};

    fn response(bytes: &[u8]) -> Element {
        let Content::Response(r) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        r
    }

    #[test]
    fn the_microsoft_samples_read() {
        let found = read_answer(
            response(ews_sample!("resolvenames-response.xml")),
            "user2@example.com",
            &app_only(),
        )
        .unwrap();
        assert_eq!(
            found,
            [Resolution {
                name: "User2".into(),
                address: "User2@example.com".into(),
                mailbox_type: "Mailbox".into(),
            }]
        );
        assert!(found[0].is_mailbox());
        let none = read_answer(
            response(ews_sample!("resolvenames-error-noresults.xml")),
            "nobody@example.com",
            &app_only(),
        )
        .unwrap();
        assert!(none.is_empty());
        // The documented request names the entry the same way.
        let sample = parse(ews_sample!("resolvenames-request.xml")).unwrap();
        let op = &sample.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(op.is(&Ns::Messages, "ResolveNames"));
        assert!(op.child(&Ns::Messages, "UnresolvedEntry").is_some());
    }

    #[test]
    fn app_only_impersonates_by_any_proxy_address() {
        let xml = envelope(&app_only(), "berlin@contoso.com");
        let root = parse(xml.as_bytes()).unwrap();
        let sid = root
            .child(&Ns::Soap, "Header")
            .and_then(|h| h.child(&Ns::Types, "ExchangeImpersonation"))
            .and_then(|e| e.child(&Ns::Types, "ConnectingSID"))
            .unwrap();
        assert_eq!(sid.children.len(), 1);
        assert!(sid.children[0].is(&Ns::Types, "SmtpAddress"));
        assert_eq!(sid.children[0].text, "berlin@contoso.com");
        let op = &root.child(&Ns::Soap, "Body").unwrap().children[0];
        assert!(op.is(&Ns::Messages, "ResolveNames"));
        assert_eq!(op.attr("ReturnFullContactData"), Some("false"));
        assert_eq!(op.attr("SearchScope"), Some("ActiveDirectory"));
        assert_eq!(
            op.child(&Ns::Messages, "UnresolvedEntry").unwrap().text,
            "smtp:berlin@contoso.com"
        );
        let delegated = envelope(&delegated(), "a&b@contoso.com");
        let root = parse(delegated.as_bytes()).unwrap();
        assert_eq!(root.child(&Ns::Soap, "Header").unwrap().children.len(), 1);
        assert!(delegated.contains("smtp:a&amp;b@contoso.com"));
    }

    fn several() -> String {
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>Multiple results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode><m:ResolutionSet TotalItemsInView="2" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>Room Berlin</t:Name><t:EmailAddress>room-berlin@contoso.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution><t:Resolution><t:Mailbox><t:Name>berlin-all</t:Name><t:EmailAddress>berlin-all@contoso.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>PublicDL</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#.into()
    }

    #[test]
    fn several_results_are_all_listed_and_errors_classified() {
        let (mut platform, tokens) = signed_in();
        platform.answers.push_back(soap(several()));
        let found = resolve(
            &mut platform,
            &url(),
            &tokens,
            &app_only(),
            "berlin@contoso.com",
        )
        .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].address, "room-berlin@contoso.com");
        assert!(!found[1].is_mailbox());
        let request = &platform.requests[0];
        assert_eq!(request.url, URL);
        assert_eq!(
            request.header("x-anchormailbox"),
            Some("berlin@contoso.com")
        );
        assert_eq!(request.header("authorization"), Some("Bearer cached"));

        // An address without a mailbox cannot be impersonated.
        platform.answers.push_back(answer(
            500,
            "text/xml",
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorNonExistentMailbox</faultcode><faultstring>The SMTP address has no mailbox associated with it.</faultstring></s:Fault></s:Body></s:Envelope>"#,
        ));
        let error = resolve(
            &mut platform,
            &url(),
            &tokens,
            &app_only(),
            "nobody@contoso.com",
        )
        .unwrap_err();
        assert!(matches!(error, Error::MailboxNotFound(_)), "{error:?}");
        platform.answers.push_back(answer(403, "text/html", ""));
        assert!(matches!(
            resolve(&mut platform, &url(), &tokens, &app_only(), "a@contoso.com"),
            Err(Error::EwsBlocked { .. })
        ));
    }

    #[test]
    fn a_refused_token_is_retried_once_with_a_new_one() {
        let (mut platform, tokens) = signed_in();
        platform
            .secrets
            .insert(crate::config::keys::CLIENT_SECRET.into(), "secret".into());
        platform.answers.push_back(answer(401, "text/html", ""));
        platform.answers.push_back(answer(
            200,
            "application/json",
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"fresh"}"#,
        ));
        platform
            .answers
            .push_back(soap(&ews_sample!("resolvenames-response.xml")[..]));
        let found = resolve(
            &mut platform,
            &url(),
            &tokens,
            &app_only(),
            "user2@example.com",
        );
        assert_eq!(found.unwrap().len(), 1);
        assert_eq!(platform.requests.len(), 3);
        assert_eq!(
            platform.requests[2].header("authorization"),
            Some("Bearer fresh")
        );
        assert!(
            platform
                .logged()
                .iter()
                .all(|l| !l.contains("Bearer") && !l.contains("fresh\""))
        );
    }
}
