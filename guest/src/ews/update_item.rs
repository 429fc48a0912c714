//! The EWS `UpdateItem` operation: a calendar item made equal to a booking,
//! or one occurrence of a series turned into an exception.
//!
//! Every update names the `ChangeKey` the caller last read or wrote and uses
//! `ConflictResolution="NeverOverwrite"`: when the item changed in Exchange
//! after that version (an Outlook edit), Exchange refuses with
//! `ErrorIrresolvableConflict` instead of overwriting it, and the caller
//! handles a conflict ([`UpdateError::Conflict`]). (`AutoResolve`, the
//! default, would overwrite the Outlook edit in most cases: MS-OXWSCORE
//! 3.1.4.9.4.1.) `SendMeetingInvitationsOrCancellations` is the caller's
//! (`SendToAllAndSaveCopy` for an organizer's meeting, `SendToNone` for an
//! item written into a room's calendar).
//!
//! [`update`] sets every synced field ([`super::calendar_item::updates_xml`]):
//! attendee lists are replaced, an empty one and a removed recurrence are
//! deleted, a removed reminder is `ReminderIsSet` false. [`update_changed`]
//! sends only what differs from the fields last synced (a series' `Recurrence`
//! sent again can cost it its exceptions). [`update_occurrence`]
//! sets the subject, start and end of one occurrence (by its occurrence item
//! id), with the series' zone as `StartTimeZone`/`EndTimeZone`, which Exchange
//! accepts on an occurrence when it names the series' own zone.
//!
//! Errors: [`UpdateError::Conflict`] for `ErrorIrresolvableConflict` (and
//! `ErrorStaleObject`, a change key that does not match the item: the same
//! remedy, read the item again), [`UpdateError::NotFound`] for
//! `ErrorItemNotFound`, and [`UpdateError::Other`] with the classified
//! [`Error`] for everything else.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/updateitem-operation
//! and …/conflictresolution (`t:ConflictResolutionType`).

use super::calendar_item::{
    changed_updates_xml, item_id_xml, messages, occurrence_updates_xml, unusable_answer,
    updates_xml, written_item_id,
};
use super::xml::escape;
use super::{EwsClient, check_message};
use crate::booking::{BookingFields, Instant};
use crate::error::Error;
use crate::platform::Platform;

/// The operation name.
pub const NAME: &str = "UpdateItem";

/// Why an update was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateError {
    /// The item changed in Exchange after the given `ChangeKey`
    /// (`ErrorIrresolvableConflict`, `ErrorStaleObject`): nothing was
    /// written.
    Conflict,
    /// The item no longer exists (`ErrorItemNotFound`).
    NotFound,
    /// Any other failure, classified.
    Other(Error),
}

impl From<Error> for UpdateError {
    fn from(error: Error) -> Self {
        Self::Other(error)
    }
}

/// The `m:UpdateItem` element that applies `updates` (a `t:Updates`) to one
/// item.
pub fn request_body(item_id: &str, change_key: Option<&str>, updates: &str, send: &str) -> String {
    format!(
        "<m:UpdateItem ConflictResolution=\"NeverOverwrite\" \
         SendMeetingInvitationsOrCancellations=\"{}\"><m:ItemChanges><t:ItemChange>{}{updates}\
         </t:ItemChange></m:ItemChanges></m:UpdateItem>",
        escape(send),
        item_id_xml(item_id, change_key)
    )
}

fn apply(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    body: &str,
) -> Result<(String, String), UpdateError> {
    let response = client.call(platform, mailbox, body)?;
    let message = messages(response, NAME, mailbox, 1)?.remove(0);
    match message.code.as_str() {
        "ErrorIrresolvableConflict" | "ErrorStaleObject" => return Err(UpdateError::Conflict),
        "ErrorItemNotFound" => return Err(UpdateError::NotFound),
        _ => {}
    }
    check_message(&message, mailbox, client.access())?;
    Ok(written_item_id(&message).map_err(|e| unusable_answer(NAME, mailbox, &e))?)
}

/// Makes the item `item_id` (last seen at `change_key`) equal to `fields` and
/// returns its `(ItemId, ChangeKey)` after the update.
pub fn update(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    item_id: &str,
    change_key: &str,
    fields: &BookingFields,
    send: &str,
) -> Result<(String, String), UpdateError> {
    let body = request_body(item_id, Some(change_key), &updates_xml(fields), send);
    apply(client, platform, mailbox, &body)
}

/// Like [`update`], but sends only the properties in which `fields` differ
/// from `previous` (what the item held at `change_key`, as last synced); with
/// no difference nothing is sent and the item keeps its id and key.
#[allow(clippy::too_many_arguments)]
pub fn update_changed(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    item_id: &str,
    change_key: &str,
    fields: &BookingFields,
    previous: &BookingFields,
    send: &str,
) -> Result<(String, String), UpdateError> {
    let Some(updates) = changed_updates_xml(fields, previous) else {
        return Ok((item_id.to_owned(), change_key.to_owned()));
    };
    let body = request_body(item_id, Some(change_key), &updates, send);
    apply(client, platform, mailbox, &body)
}

/// Gives one occurrence (its occurrence item id, and the `ChangeKey` that
/// came with it, if any) its own `start`, `end` and `subject`; `time_zone` is
/// the series' zone (empty: none sent). Returns the exception's
/// `(ItemId, ChangeKey)`.
#[allow(clippy::too_many_arguments)]
pub fn update_occurrence(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    occurrence_item_id: &str,
    change_key: Option<&str>,
    start: Instant,
    end: Instant,
    subject: &str,
    time_zone: &str,
    send: &str,
) -> Result<(String, String), UpdateError> {
    let updates = occurrence_updates_xml(start, end, subject, time_zone);
    let body = request_body(occurrence_item_id, change_key, &updates, send);
    apply(client, platform, mailbox, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{
        names, sent_operation, signed_in, single, soap, url, weekly,
    };
    use crate::ews::xml::Ns;
    use crate::testing::{app_only, ews_derived, ews_sample};

    fn answer_with(code: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:UpdateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:UpdateItemResponseMessage ResponseClass="Error"><m:MessageText>x</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:Items/></m:UpdateItemResponseMessage></m:ResponseMessages></m:UpdateItemResponse></s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn the_request_never_overwrites_and_names_the_change_key() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("updateitem-meeting-response.xml")[..]));
        let updated = update(
            &client,
            &mut platform,
            "alice@contoso.com",
            "A&1",
            "K\"1",
            &weekly(),
            "SendToAllAndSaveCopy",
        )
        .unwrap();
        assert_eq!(updated, ("AAMkA".to_owned(), "DwAAA".to_owned()));
        let op = sent_operation(&platform, 0);
        assert!(op.is(&Ns::Messages, "UpdateItem"));
        assert_eq!(op.attr("ConflictResolution"), Some("NeverOverwrite"));
        assert_eq!(
            op.attr("SendMeetingInvitationsOrCancellations"),
            Some("SendToAllAndSaveCopy")
        );
        assert_eq!(names(&op), ["ItemChanges"]);
        let change = &op.children[0].children[0];
        assert!(change.is(&Ns::Types, "ItemChange"));
        assert_eq!(names(change), ["ItemId", "Updates"]);
        assert_eq!(change.children[0].attr("Id"), Some("A&1"));
        assert_eq!(change.children[0].attr("ChangeKey"), Some("K\"1"));
        assert_eq!(change.children[1].children.len(), 14);
    }

    #[test]
    fn a_stale_change_key_is_a_conflict_and_a_gone_item_not_found() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let mut run = |answer: crate::platform::HttpResponse| {
            platform.answers.push_back(answer);
            update(
                &client,
                &mut platform,
                "a@c.com",
                "A",
                "K",
                &single(),
                "SendToNone",
            )
        };
        assert_eq!(
            run(soap(
                &ews_derived!("updateitem-error-irresolvableconflict.xml")[..]
            )),
            Err(UpdateError::Conflict)
        );
        assert_eq!(
            run(soap(answer_with("ErrorStaleObject"))),
            Err(UpdateError::Conflict)
        );
        assert_eq!(
            run(soap(answer_with("ErrorItemNotFound"))),
            Err(UpdateError::NotFound)
        );
        assert!(matches!(
            run(soap(answer_with("ErrorAccessDenied"))),
            Err(UpdateError::Other(Error::AccessDenied { .. }))
        ));
        assert!(matches!(
            run(soap(answer_with("ErrorCalendarInvalidTimeZone"))),
            Err(UpdateError::Other(Error::Protocol { .. }))
        ));
    }

    #[test]
    fn an_unchanged_booking_sends_nothing_and_a_change_only_itself() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let before = weekly();
        assert_eq!(
            update_changed(
                &client,
                &mut platform,
                "a@c.com",
                "A",
                "K",
                &before,
                &before,
                "SendToNone"
            ),
            Ok(("A".to_owned(), "K".to_owned()))
        );
        assert!(platform.requests.is_empty());
        let mut after = before.clone();
        after.end += 1800;
        platform
            .answers
            .push_back(soap(&ews_sample!("updateitem-meeting-response.xml")[..]));
        update_changed(
            &client,
            &mut platform,
            "a@c.com",
            "A",
            "K",
            &after,
            &before,
            "SendToNone",
        )
        .unwrap();
        let op = sent_operation(&platform, 0);
        let updates = &op.children[0].children[0].children[1];
        assert_eq!(names(updates), ["SetItemField"]);
        assert_eq!(
            updates.children[0].children[0].attr("FieldURI"),
            Some("calendar:End")
        );
    }

    #[test]
    fn an_occurrence_becomes_an_exception() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform
            .answers
            .push_back(soap(&ews_sample!("updateitem-meeting-response.xml")[..]));
        update_occurrence(
            &client,
            &mut platform,
            "a@c.com",
            "OCC",
            None,
            1_767_774_600,
            1_767_778_200,
            "Moved",
            "W. Europe Standard Time",
            "SendToAllAndSaveCopy",
        )
        .unwrap();
        let op = sent_operation(&platform, 0);
        let change = &op.children[0].children[0];
        assert_eq!(change.children[0].attr("Id"), Some("OCC"));
        assert_eq!(change.children[0].attr("ChangeKey"), None);
        let uris: Vec<&str> = change.children[1]
            .children
            .iter()
            .map(|u| u.children[0].attr("FieldURI").unwrap())
            .collect();
        assert_eq!(
            uris,
            [
                "item:Subject",
                "calendar:Start",
                "calendar:End",
                "calendar:StartTimeZone",
                "calendar:EndTimeZone"
            ]
        );
    }
}
