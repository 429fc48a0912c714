//! The EWS `GetItem` operation for a batch of calendar items, with every
//! synced property ([`calendar_item::FIELD_URIS`], the `RoomsBookingId`
//! tag and the sync test's `RoomsSyncTest` tag, so the sync can ignore the
//! test items of `rooms-sync check`).
//!
//! Exchange answers one response message per id, and a batch partly
//! succeeds: each id gets its own [`ItemResult`], either the parsed
//! [`CalendarItem`] or an [`ItemFailure`] (`ErrorItemNotFound` for an item
//! deleted meanwhile or hidden from a delegate, `ErrorInvalidIdMalformed`, or
//! [`UNPARSABLE`] for an item the component cannot read, with the reason).
//! One bad item never fails the batch. What concerns the whole mailbox
//! fails the whole call as an [`Error`]: throttling (also inside a message,
//! e.g. `ErrorServerBusy`), a missing mailbox, refused impersonation, and the
//! transient store errors of [`BATCH_CODES`]; so do SOAP faults, HTTP errors
//! and an answer whose message count does not match the ids.
//!
//! The ids may be occurrence ids (from `ModifiedOccurrences`): the answer is
//! then the exception, with its own subject, start and end.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/getitem-operation-calendar-item

use super::calendar_item::{self, CalendarItem, item_id_xml, messages};
use super::response::ResponseMessage;
use super::xml::Ns;
use super::{Access, EwsClient, check_message};
use crate::error::Error;
use crate::platform::Platform;
use crate::safe_text;

/// The operation name.
pub const NAME: &str = "GetItem";

/// The code of an [`ItemFailure`] for an item the component could not read.
pub const UNPARSABLE: &str = "Unparsable";

/// Response codes that concern the mailbox, not one item: they fail the
/// whole batch (besides throttling, recognised by its classification).
pub const BATCH_CODES: &[&str] = &[
    "ErrorNonExistentMailbox",
    "ErrorImpersonateUserDenied",
    "ErrorInvalidExchangeImpersonationHeaderData",
    "ErrorImpersonationFailed",
    "ErrorMailboxStoreUnavailable",
    "ErrorMailboxMoveInProgress",
    "ErrorInternalServerTransientError",
    "ErrorTimeoutExpired",
    "ErrorTooManyObjectsOpened",
    "ErrorConnectionFailed",
    "ErrorNoApplicableProxyCASServersAvailable",
];

/// Why one item of a batch could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFailure {
    /// The EWS response code (`ErrorItemNotFound`), or [`UNPARSABLE`].
    pub code: String,
    /// Exchange's message text, or why the item could not be read.
    pub text: String,
}

impl ItemFailure {
    /// True for `ErrorItemNotFound`: the item is gone (or not visible).
    pub fn is_not_found(&self) -> bool {
        self.code == "ErrorItemNotFound"
    }

    /// True when the component could not read the item.
    pub fn is_unparsable(&self) -> bool {
        self.code == UNPARSABLE
    }
}

/// The outcome for one id.
pub type ItemResult = Result<CalendarItem, ItemFailure>;

/// The `m:GetItem` element for `ids`.
pub fn request_body(ids: &[String]) -> String {
    let mut body = String::from("<m:GetItem>");
    body.push_str(&calendar_item::item_shape());
    body.push_str("<m:ItemIds>");
    for id in ids {
        body.push_str(&item_id_xml(id, None));
    }
    body.push_str("</m:ItemIds></m:GetItem>");
    body
}

/// The result of one response message; `Err` when the message fails the
/// whole batch.
pub fn read_result(
    message: &ResponseMessage,
    mailbox: &str,
    access: &Access,
) -> Result<ItemResult, Error> {
    if let Err(error) = check_message(message, mailbox, access) {
        if matches!(error, Error::Throttled { .. }) || BATCH_CODES.contains(&message.code.as_str())
        {
            return Err(error);
        }
        return Ok(Err(ItemFailure {
            code: safe_text::name(&message.code),
            text: safe_text::quote(&message.text),
        }));
    }
    let unparsable = |reason: String| ItemFailure {
        code: UNPARSABLE.into(),
        text: reason,
    };
    let Some(item) = message
        .element
        .child(&Ns::Messages, "Items")
        .and_then(|items| items.children.iter().find(|c| c.ns == Ns::Types))
    else {
        return Ok(Err(unparsable("the answer holds no item".into())));
    };
    Ok(CalendarItem::from_element(item).map_err(|reason| {
        let id = calendar_item::item_id(item)
            .map(|(id, _)| format!(" {}", safe_text::name(&id)))
            .unwrap_or_default();
        unparsable(format!("the item{id} cannot be read: {reason}"))
    }))
}

/// The calendar items `ids` of `mailbox`, one result per id in the same
/// order (none and no request for no ids).
pub fn get_calendar_items(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    ids: &[String],
) -> Result<Vec<ItemResult>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let response = client.call(platform, mailbox, &request_body(ids))?;
    let messages = messages(response, NAME, mailbox, ids.len())?;
    messages
        .iter()
        .map(|m| read_result(m, mailbox, client.access()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::CalendarItemType;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::testing::{app_only, ews_derived, ews_sample};

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id-{i}")).collect()
    }

    #[test]
    fn the_request_names_the_shape_then_every_id() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        // No answer queued: the request is made and fails as a transport error.
        let ids = vec!["A&1".to_owned(), "B\"2".to_owned()];
        assert!(matches!(
            get_calendar_items(&client, &mut platform, "room1@contoso.com", &ids),
            Err(Error::Transport(_))
        ));
        let op = sent_operation(&platform, 0);
        assert!(op.is(&Ns::Messages, "GetItem"));
        assert_eq!(names(&op), ["ItemShape", "ItemIds"]);
        let sent: Vec<&str> = op.children[1]
            .children_named(&Ns::Types, "ItemId")
            .map(|i| i.attr("Id").unwrap())
            .collect();
        assert_eq!(sent, ["A&1", "B\"2"]);
        let shape = &op.children[0];
        assert_eq!(shape.children[0].text, "IdOnly");
        // The fields, the booking's tag and the sync test's tag.
        assert_eq!(
            shape.children[1].children.len(),
            calendar_item::FIELD_URIS.len() + 2
        );
    }

    #[test]
    fn no_ids_no_request() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        assert_eq!(
            get_calendar_items(&client, &mut platform, "r@c.com", &[]),
            Ok(Vec::new())
        );
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn a_batch_partly_succeeds() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_derived!("getitem-calendar-series-partial-response.xml")[..],
        ));
        let results =
            get_calendar_items(&client, &mut platform, "alice@contoso.com", &ids(3)).unwrap();
        let master = results[0].as_ref().unwrap();
        assert_eq!(master.item_type, CalendarItemType::RecurringMaster);
        assert_eq!(master.recurrence.as_ref().unwrap().deleted.len(), 1);
        let missing = results[1].as_ref().unwrap_err();
        assert!(missing.is_not_found() && !missing.is_unparsable());
        assert_eq!(
            missing.text,
            "The specified object was not found in the store."
        );
        assert_eq!(results[2].as_ref().unwrap().subject, "Stand-up");
    }

    #[test]
    fn an_unreadable_item_is_a_failure_of_its_own() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("getitem-batch-response.xml")[..]));
        let results =
            get_calendar_items(&client, &mut platform, "room1@contoso.com", &ids(3)).unwrap();
        assert!(results[0].is_ok() && results[2].is_ok());
        let failure = results[1].as_ref().unwrap_err();
        assert!(failure.is_unparsable());
        assert_eq!(
            failure.text,
            "the item AAMkA cannot be read: it is a recurring master without its Recurrence"
        );
    }

    #[test]
    fn a_count_mismatch_or_mailbox_wide_error_fails_the_batch() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("getitem-batch-response.xml")[..]));
        let error = get_calendar_items(&client, &mut platform, "r@c.com", &ids(2)).unwrap_err();
        assert!(
            error
                .message()
                .contains("it holds 3 response messages for 2 requested"),
            "{error:?}"
        );
        let message = |code: &str, extra: &str| {
            format!(
                r#"<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>x</m:MessageText><m:ResponseCode>{code}</m:ResponseCode>{extra}<m:Items/></m:GetItemResponseMessage>"#
            )
        };
        let answer = |messages: &[String]| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>{}</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>"#,
                messages.concat()
            )
        };
        let busy = message(
            "ErrorServerBusy",
            r#"<m:MessageXml><t:Value Name="BackOffMilliseconds">700</t:Value></m:MessageXml>"#,
        );
        platform
            .answers
            .push_back(soap(answer(&[message("ErrorItemNotFound", ""), busy])));
        assert_eq!(
            get_calendar_items(&client, &mut platform, "r@c.com", &ids(2)).unwrap_err(),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 700
            }
        );
        platform
            .answers
            .push_back(soap(answer(&[message("ErrorNonExistentMailbox", "")])));
        assert!(matches!(
            get_calendar_items(&client, &mut platform, "r@c.com", &ids(1)).unwrap_err(),
            Error::MailboxNotFound(_)
        ));
        // An error of one item only, and a success without an item.
        platform.answers.push_back(soap(answer(&[
            message("ErrorInvalidIdMalformed", ""),
            r#"<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:GetItemResponseMessage>"#.to_owned(),
            message("ErrorAccessDenied", ""),
        ])));
        let results = get_calendar_items(&client, &mut platform, "r@c.com", &ids(3)).unwrap();
        assert_eq!(
            results[0].as_ref().unwrap_err().code,
            "ErrorInvalidIdMalformed"
        );
        assert_eq!(
            results[1].as_ref().unwrap_err(),
            &ItemFailure {
                code: UNPARSABLE.into(),
                text: "the answer holds no item".into()
            }
        );
        assert_eq!(results[2].as_ref().unwrap_err().code, "ErrorAccessDenied");
    }
}
