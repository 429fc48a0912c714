//! Meeting responses: `CreateItem` with the `AcceptItem`, `TentativelyAcceptItem` and
//! `DeclineItem` response objects (EWS reference, "CreateItem operation (meeting request)"),
//! their effect on the attendee's calendar and the organizer's response tracking.

mod calendar_support;

use calendar_support::*;
use serde_json::Value;

/// A response object referencing `id`; `disposition` `None` leaves the attribute out.
fn respond(kind: &str, disposition: Option<&str>, id: &str) -> String {
    let disposition = disposition
        .map(|d| format!(r#" MessageDisposition="{d}""#))
        .unwrap_or_default();
    format!(
        r#"<m:CreateItem{disposition}><m:Items><t:{kind}><t:ReferenceItemId Id="{id}"/></t:{kind}></m:Items></m:CreateItem>"#
    )
}

fn by_subject<'a>(items: &'a [Value], subject: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["subject"] == subject)
}

/// Bob's response as tracked in Alice's item.
async fn tracked(ews: &Ews, alice_item: &str) -> String {
    ews.call(
        &imp(ALICE),
        &get_item(&[alice_item], "IdOnly", &["calendar:RequiredAttendees"]),
    )
    .await
    .xml()
    .find("RequiredAttendees")
    .unwrap()
    .text_of("ResponseType")
}

#[tokio::test]
async fn attendees_accept_tentatively_accept_and_decline() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let bob = imp(BOB);
    let meeting = format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Planning</t:Subject><t:Start>2026-06-01T08:00:00Z</t:Start><t:End>2026-06-01T09:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#,
        folder("calendar", None)
    );
    let r = ews.call(&imp(ALICE), &meeting).await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    let (alice_item, _) = first_item_id(&r.xml());
    let request = admin_items(&emu, BOB, "inbox").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_item = admin_items(&emu, BOB, "calendar").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // MessageDisposition is required; the organizer cannot answer its own meeting.
    let r = ews.call(&bob, &respond("AcceptItem", None, &request)).await;
    assert_eq!(r.xml().codes(), ["ErrorMessageDispositionRequired"]);
    let r = ews
        .call(
            &imp(ALICE),
            &respond("AcceptItem", Some("SendAndSaveCopy"), &alice_item),
        )
        .await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidOperation"]);

    // Accept through the meeting request, saving the copy in Sent Items by name (as exchangelib
    // does): the documented answer has empty Items.
    let accept = respond("AcceptItem", Some("SendAndSaveCopy"), &request).replace(
        "<m:Items>",
        &format!(
            "<m:SavedItemFolderId>{}</m:SavedItemFolderId><m:Items>",
            folder("sentitems", None)
        ),
    );
    let r = ews.call(&bob, &accept).await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert!(doc.find("Items").unwrap().children.is_empty());
    let calendar = admin_items(&emu, BOB, "calendar").await;
    assert_eq!(calendar[0]["calendar"]["my_response"], "Accept");
    assert_eq!(calendar[0]["calendar"]["free_busy"], "Busy");
    assert_eq!(tracked(&ews, &alice_item).await, "Accept");
    let alice_inbox = admin_items(&emu, ALICE, "inbox").await;
    let answer = by_subject(&alice_inbox, "Accepted: Planning").expect("response delivered");
    assert_eq!(answer["meeting_message"]["kind"], "MeetingResponse:Accept");
    assert_eq!(answer["meeting_message"]["from"], BOB);
    assert!(
        by_subject(
            &admin_items(&emu, BOB, "sentitems").await,
            "Accepted: Planning"
        )
        .is_some()
    );
    let sent = format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
        folder("sentitems", None)
    );
    let doc = ews.call(&bob, &sent).await.xml();
    assert_eq!(doc.codes(), ["NoError"]);
    assert_eq!(doc.text_of("DisplayName"), "Sent Items");
    assert_eq!(doc.text_of("TotalCount"), "1");

    // Tentative through the calendar item, sent without a copy.
    let r = ews
        .call(
            &bob,
            &respond("TentativelyAcceptItem", Some("SendOnly"), &bob_item),
        )
        .await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    let calendar = admin_items(&emu, BOB, "calendar").await;
    assert_eq!(calendar[0]["calendar"]["my_response"], "Tentative");
    assert_eq!(calendar[0]["calendar"]["free_busy"], "Tentative");
    assert_eq!(tracked(&ews, &alice_item).await, "Tentative");
    assert!(
        by_subject(
            &admin_items(&emu, BOB, "sentitems").await,
            "Tentative: Planning"
        )
        .is_none()
    );

    // A decline saved, not sent: a draft response; the calendar and the organizer unchanged.
    let r = ews
        .call(&bob, &respond("DeclineItem", Some("SaveOnly"), &bob_item))
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert!(
        doc.find("MeetingResponse")
            .unwrap()
            .find("ItemId")
            .is_some()
    );
    assert!(
        by_subject(
            &admin_items(&emu, BOB, "drafts").await,
            "Declined: Planning"
        )
        .is_some()
    );
    assert_eq!(
        admin_items(&emu, BOB, "calendar").await[0]["calendar"]["my_response"],
        "Tentative"
    );
    assert_eq!(tracked(&ews, &alice_item).await, "Tentative");

    // A decline sent: the meeting leaves Bob's calendar for Deleted Items.
    let r = ews
        .call(
            &bob,
            &respond("DeclineItem", Some("SendAndSaveCopy"), &bob_item),
        )
        .await;
    assert_eq!(r.xml().codes(), ["NoError"], "{}", r.text());
    assert!(admin_items(&emu, BOB, "calendar").await.is_empty());
    let deleted = admin_items(&emu, BOB, "deleteditems").await;
    assert_eq!(
        by_subject(&deleted, "Planning").unwrap()["calendar"]["my_response"],
        "Decline"
    );
    assert_eq!(tracked(&ews, &alice_item).await, "Decline");
    assert!(
        by_subject(
            &admin_items(&emu, ALICE, "inbox").await,
            "Declined: Planning"
        )
        .is_some()
    );
    // The old id is gone with the move.
    let r = ews
        .call(&bob, &respond("AcceptItem", Some("SendOnly"), &bob_item))
        .await;
    assert_eq!(r.xml().codes(), ["ErrorItemNotFound"]);
}
