//! The EWS `DeleteItem` operation for one calendar item or one occurrence.
//!
//! `DeleteType="MoveToDeletedItems"` keeps a deleted meeting recoverable in
//! Outlook; [`hard_delete`] (`HardDelete`, no cancellations) removes the sync
//! test's own items for good. `SendMeetingCancellations` is the caller's
//! (`SendToAllAndSaveCopy` cancels an organizer's meeting with its attendees
//! and rooms; `SendToNone` removes an item from a room's calendar quietly).
//! Deleting an occurrence id (from `ModifiedOccurrences` or
//! [`super::find_item::occurrence_at`]) deletes that occurrence only: it
//! becomes a deleted occurrence of its series.
//!
//! An item that is already gone (`ErrorItemNotFound`; for an occurrence also
//! `ErrorCalendarOccurrenceIsDeletedFromRecurrence`) counts as deleted, so a
//! delete whose answer was lost can be repeated. Every other failure is
//! classified as in [`super::classify_code`].
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/deleteitem-operation

use super::calendar_item::{item_id_xml, messages};
use super::xml::escape;
use super::{EwsClient, check_message};
use crate::error::Error;
use crate::platform::{Level, Platform};

/// The operation name.
pub const NAME: &str = "DeleteItem";

/// Codes that mean the item or occurrence is already gone.
pub const ALREADY_GONE: &[&str] = &[
    "ErrorItemNotFound",
    "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
];

/// The `m:DeleteItem` element for one item id.
pub fn request_body(item_id: &str, send_cancellations: &str) -> String {
    typed_request_body("MoveToDeletedItems", item_id, send_cancellations)
}

fn typed_request_body(delete_type: &str, item_id: &str, send_cancellations: &str) -> String {
    format!(
        "<m:DeleteItem DeleteType=\"{delete_type}\" SendMeetingCancellations=\"{}\">\
         <m:ItemIds>{}</m:ItemIds></m:DeleteItem>",
        escape(send_cancellations),
        item_id_xml(item_id, None)
    )
}

/// Deletes the item `item_id` of `mailbox` (a gone item is no error).
pub fn delete(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    item_id: &str,
    send_cancellations: &str,
) -> Result<(), Error> {
    let body = request_body(item_id, send_cancellations);
    send(client, platform, mailbox, &body)
}

/// Deletes the item `item_id` of `mailbox` for good (`HardDelete`: not kept
/// in Deleted Items) without telling anyone (`SendToNone`); a gone item is
/// no error. For the sync test's own items, which must leave nothing behind.
pub fn hard_delete(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    item_id: &str,
) -> Result<(), Error> {
    let body = typed_request_body("HardDelete", item_id, "SendToNone");
    send(client, platform, mailbox, &body)
}

fn send(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    body: &str,
) -> Result<(), Error> {
    let response = client.call(platform, mailbox, body)?;
    let message = messages(response, NAME, mailbox, 1)?.remove(0);
    if ALREADY_GONE.contains(&message.code.as_str()) {
        platform.log(
            Level::Debug,
            &format!(
                "DeleteItem for {mailbox}: {} (already deleted)",
                crate::safe_text::name(&message.code)
            ),
        );
        return Ok(());
    }
    check_message(&message, mailbox, client.access())
}

/// Deletes one occurrence of a series by its occurrence item id (a deleted
/// occurrence is no error).
pub fn delete_occurrence(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    occurrence_item_id: &str,
    send_cancellations: &str,
) -> Result<(), Error> {
    delete(
        client,
        platform,
        mailbox,
        occurrence_item_id,
        send_cancellations,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{names, sent_operation, signed_in, soap, url};
    use crate::ews::xml::Ns;
    use crate::testing::{app_only, ews_sample};

    #[test]
    fn the_request_moves_to_deleted_items_with_the_cancellation_choice() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_sample!("deleteitem-appointment-response.xml")[..],
        ));
        delete(
            &client,
            &mut platform,
            "a@c.com",
            "A<1>",
            "SendToAllAndSaveCopy",
        )
        .unwrap();
        let op = sent_operation(&platform, 0);
        assert!(op.is(&Ns::Messages, "DeleteItem"));
        assert_eq!(op.attr("DeleteType"), Some("MoveToDeletedItems"));
        assert_eq!(
            op.attr("SendMeetingCancellations"),
            Some("SendToAllAndSaveCopy")
        );
        assert_eq!(names(&op), ["ItemIds"]);
        let id = &op.children[0].children[0];
        assert!(id.is(&Ns::Types, "ItemId"));
        assert_eq!(id.attr("Id"), Some("A<1>"));
        assert_eq!(id.attr("ChangeKey"), None);
    }

    #[test]
    fn an_item_already_gone_is_deleted() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("deleteitem-error-itemnotfound.xml")[..]));
        delete_occurrence(&client, &mut platform, "a@c.com", "occ", "SendToNone").unwrap();
        assert!(
            platform
                .logged()
                .iter()
                .any(|l| l.contains("ErrorItemNotFound (already deleted)"))
        );
        let deleted_occurrence = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:DeleteItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:DeleteItemResponseMessage ResponseClass="Error"><m:MessageText>Occurrence is deleted.</m:MessageText><m:ResponseCode>ErrorCalendarOccurrenceIsDeletedFromRecurrence</m:ResponseCode></m:DeleteItemResponseMessage></m:ResponseMessages></m:DeleteItemResponse></s:Body></s:Envelope>"#;
        platform.answers.push_back(soap(deleted_occurrence));
        delete_occurrence(&client, &mut platform, "a@c.com", "occ", "SendToNone").unwrap();
    }

    #[test]
    fn other_failures_are_classified() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_sample!("deleteitem-error-internalservererror-innerquota.xml")[..],
        ));
        let error = delete(&client, &mut platform, "a@c.com", "A", "SendToNone").unwrap_err();
        assert!(
            error.message().contains("ErrorQuotaExceededOnDelete"),
            "{error:?}"
        );
        platform.answers.push_back(soap(
            &ews_sample!("deleteitem-batch-response-itemnotfound.xml")[..],
        ));
        let error = delete(&client, &mut platform, "a@c.com", "A", "SendToNone").unwrap_err();
        assert!(
            error
                .message()
                .contains("response messages for 1 requested"),
            "{error:?}"
        );
    }
}
