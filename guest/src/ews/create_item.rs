//! The EWS `CreateItem` operation for one booking: a calendar item (a single
//! meeting or a series master) in a mailbox's calendar, tagged with the
//! booking's id.
//!
//! The item carries every field of [`BookingFields`] (see
//! [`calendar_item::create_xml`]) and the extended property `RoomsBookingId`,
//! and, when given, the meeting's `UID` (an item written into a room's
//! calendar for a meeting that exists elsewhere keeps its identity). The tag
//! makes the item findable ([`super::find_item::find_by_booking_id`])
//! when the answer to this request is lost, and marks it as written by
//! rooms-sync. `SendMeetingInvitations` is the caller's: `SendToAllAndSaveCopy`
//! (the default of the settings) invites the attendees and rooms of an
//! organizer's meeting; `SendToNone` writes an item straight into a room's
//! calendar without telling anyone.
//!
//! Errors: a failed response message is classified as in
//! [`super::classify_code`] (for example `ErrorCalendarInvalidTimeZone` or
//! `ErrorSchemaValidation`, defects of the request; `ErrorAccessDenied`); an
//! answer without the new `ItemId` and `ChangeKey` is a protocol error.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/createitem-operation-calendar-item

use super::calendar_item::{self, messages, unusable_answer, written_item_id};
use super::soap::Addressing;
use super::xml::escape;
use super::{EwsClient, check_message};
use crate::booking::BookingFields;
use crate::error::Error;
use crate::platform::Platform;

/// The operation name.
pub const NAME: &str = "CreateItem";

/// The `m:CreateItem` element that saves `fields` in the calendar of
/// `mailbox`, tagged with `booking_id`, with the meeting `uid` (empty: Exchange
/// makes one).
pub fn request_body(
    addressing: Addressing,
    mailbox: &str,
    fields: &BookingFields,
    booking_id: &str,
    uid: &str,
    send_invitations: &str,
) -> String {
    wrap(
        addressing,
        mailbox,
        &calendar_item::create_xml(fields, booking_id, uid),
        send_invitations,
    )
}

/// The `m:CreateItem` element that saves the `t:CalendarItem` `item` in the
/// calendar of `mailbox`.
fn wrap(addressing: Addressing, mailbox: &str, item: &str, send_invitations: &str) -> String {
    format!(
        "<m:CreateItem SendMeetingInvitations=\"{}\"><m:SavedItemFolderId>{}</m:SavedItemFolderId>\
         <m:Items>{item}</m:Items></m:CreateItem>",
        escape(send_invitations),
        addressing.distinguished_folder_id("calendar", mailbox),
    )
}

/// Creates the item for `fields` in `mailbox`'s calendar and returns its
/// `(ItemId, ChangeKey)`. `uid` is the meeting's `UID` when the meeting
/// already exists in another mailbox (so that both items are one meeting),
/// empty for a new meeting.
pub fn create(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    fields: &BookingFields,
    booking_id: &str,
    uid: &str,
    send_invitations: &str,
) -> Result<(String, String), Error> {
    let addressing = client.access().addressing();
    let body = request_body(
        addressing,
        mailbox,
        fields,
        booking_id,
        uid,
        send_invitations,
    );
    send(client, platform, mailbox, &body)
}

/// Creates an item for `fields` in `mailbox`'s calendar tagged with the
/// extended property `tag_uri` (a `t:ExtendedFieldURI` element) set to `tag`
/// instead of a booking id, with a new `UID`; returns its
/// `(ItemId, ChangeKey)`. The sync test's items are made this way.
pub fn create_tagged(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    fields: &BookingFields,
    (tag_uri, tag): (&str, &str),
    send_invitations: &str,
) -> Result<(String, String), Error> {
    let body = wrap(
        client.access().addressing(),
        mailbox,
        &calendar_item::create_xml_tagged(fields, tag_uri, tag, ""),
        send_invitations,
    );
    send(client, platform, mailbox, &body)
}

fn send(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    body: &str,
) -> Result<(String, String), Error> {
    let response = client.call(platform, mailbox, body)?;
    let message = messages(response, NAME, mailbox, 1)?.remove(0);
    check_message(&message, mailbox, client.access())?;
    written_item_id(&message).map_err(|e| unusable_answer(NAME, mailbox, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{
        names, sent_operation, signed_in, single, soap, url, weekly,
    };
    use crate::ews::xml::Ns;
    use crate::testing::{app_only, delegated, ews_derived, ews_sample};

    #[test]
    fn the_request_saves_into_the_calendar_with_the_invitation_choice() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_sample!("createitem-calendaritem-response.xml")[..],
        ));
        let created = create(
            &client,
            &mut platform,
            "alice@contoso.com",
            &weekly(),
            "B-7",
            "",
            "SendToAllAndSaveCopy",
        )
        .unwrap();
        assert_eq!(created, ("AAAlAFV".to_owned(), "DwAAABYA".to_owned()));
        let op = sent_operation(&platform, 0);
        assert!(op.is(&Ns::Messages, "CreateItem"));
        assert_eq!(
            op.attr("SendMeetingInvitations"),
            Some("SendToAllAndSaveCopy")
        );
        assert_eq!(op.attributes.len(), 1);
        assert_eq!(names(&op), ["SavedItemFolderId", "Items"]);
        let folder = &op.children[0].children[0];
        assert!(folder.is(&Ns::Types, "DistinguishedFolderId"));
        assert_eq!(folder.attr("Id"), Some("calendar"));
        assert!(folder.children.is_empty(), "impersonation names no mailbox");
        let items = &op.children[1];
        assert_eq!(names(items), ["CalendarItem"]);
        assert_eq!(
            items.children[0].child(&Ns::Types, "Subject").unwrap().text,
            weekly().subject
        );
    }

    #[test]
    fn a_delegate_names_the_mailbox_of_the_calendar() {
        let body = request_body(
            crate::ews::Access::addressing(&delegated()),
            "room1@contoso.com",
            &single(),
            "B-1",
            "",
            "SendToNone",
        );
        assert!(body.starts_with(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>room1@contoso.com</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Stand-up</t:Subject>"#), "{body}");
        assert!(
            body.ends_with("</t:CalendarItem></m:Items></m:CreateItem>"),
            "{body}"
        );
    }

    #[test]
    fn refusals_are_classified() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        let mut fault = crate::testing::answer(
            500,
            "text/xml",
            &ews_sample!("schemavalidation-soapfault.xml")[..],
        );
        fault.headers.clear();
        platform.answers.push_back(fault);
        let error = create(
            &client,
            &mut platform,
            "a@c.com",
            &single(),
            "B",
            "",
            "SendToNone",
        )
        .unwrap_err();
        assert!(error.fix().contains("defect of rooms-sync"), "{error:?}");
        let denied = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>Access is denied.</m:MessageText><m:ResponseCode>ErrorAccessDenied</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
        platform.answers.push_back(soap(denied));
        assert!(matches!(
            create(
                &client,
                &mut platform,
                "a@c.com",
                &single(),
                "B",
                "",
                "SendToNone"
            ),
            Err(Error::AccessDenied { .. })
        ));
        // A success that names no item cannot be used.
        platform.answers.push_back(soap(
            &ews_derived!("getfolder-calendar-impersonation-response.xml")[..],
        ));
        let error = create(
            &client,
            &mut platform,
            "a@c.com",
            &single(),
            "B",
            "",
            "SendToNone",
        )
        .unwrap_err();
        assert!(
            error.message().contains("The CreateItem answer"),
            "{error:?}"
        );
        let empty = denied
            .replace(r#"ResponseClass="Error""#, r#"ResponseClass="Success""#)
            .replace("ErrorAccessDenied", "NoError");
        platform.answers.push_back(soap(empty));
        let error = create(
            &client,
            &mut platform,
            "a@c.com",
            &single(),
            "B",
            "",
            "SendToNone",
        )
        .unwrap_err();
        assert!(
            error
                .message()
                .ends_with("cannot be used: it names no item."),
            "{error:?}"
        );
    }
}
