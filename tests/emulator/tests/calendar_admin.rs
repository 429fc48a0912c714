//! The admin item routes (`/admin/mailboxes/{address}/items...`): acting as an Outlook user
//! on series, exceptions, deleted occurrences and private items, and the errors that name the
//! problem.

mod calendar_support;

use calendar_support::*;
use serde_json::json;

#[tokio::test]
async fn outlook_user_edits_a_series_with_exceptions_and_deleted_occurrences() {
    let emu = start().await;
    let series = admin_create(
        &emu,
        ROOM,
        json!({
            "subject": "Stand-up", "start": "2026-10-19T09:00:00", "end": "2026-10-19T09:15:00",
            "time_zone": "W. Europe Standard Time", "location": "Room Berlin",
            "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Monday", "Wednesday"]},
                           "range": {"type": "end_date", "start": "2026-10-19", "end": "2026-11-04"}},
            "extended_properties": [{"set": "PublicStrings", "name": "RoomsBookingId", "type": "String", "value": "B-1"}]
        }),
    )
    .await;
    assert_eq!(series["calendar"]["type"], "RecurringMaster");
    assert_eq!(series["calendar"]["start"], "2026-10-19T07:00:00Z");
    assert_eq!(
        series["calendar"]["recurrence"]["range"]["type"],
        "end_date"
    );
    let id = series["id"].as_str().unwrap();
    let r = admin(
        &emu,
        "GET",
        &format!("mailboxes/{ROOM}/items/{}/occurrences", percent_encode(id)),
        &json!(null),
    )
    .await;
    let occurrences = r.json()["occurrences"].as_array().cloned().unwrap();
    let starts: Vec<&str> = occurrences
        .iter()
        .map(|o| o["calendar"]["start"].as_str().unwrap())
        .collect();
    // DST ends on 25 October: 07:00Z before, 08:00Z after.
    assert_eq!(
        starts,
        [
            "2026-10-19T07:00:00Z",
            "2026-10-21T07:00:00Z",
            "2026-10-26T08:00:00Z",
            "2026-10-28T08:00:00Z",
            "2026-11-02T08:00:00Z",
            "2026-11-04T08:00:00Z"
        ]
    );
    let exception = admin_patch(&emu, ROOM, occurrences[1]["id"].as_str().unwrap(), &json!({"subject": "Stand-up (moved)", "start": "2026-10-21T11:00:00Z", "end": "2026-10-21T11:15:00Z"})).await;
    assert_eq!(exception.status, 200, "{}", exception.text());
    assert_eq!(exception.json()["calendar"]["type"], "Exception");
    let deleted = admin(
        &emu,
        "DELETE",
        &format!(
            "mailboxes/{ROOM}/items/{}",
            percent_encode(occurrences[2]["id"].as_str().unwrap())
        ),
        &json!(null),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let master = admin(
        &emu,
        "GET",
        &format!("mailboxes/{ROOM}/items/{}", percent_encode(id)),
        &json!(null),
    )
    .await
    .json();
    assert_eq!(
        master["calendar"]["exceptions"][0]["subject"],
        "Stand-up (moved)"
    );
    assert_eq!(
        master["calendar"]["deleted_occurrences"],
        json!(["2026-10-26T08:00:00Z"])
    );
    assert_eq!(master["extended_properties"][0]["value"], "B-1");
    // Changing the series' time drops its exceptions, as Outlook warns.
    let r = admin_patch(&emu, ROOM, id, &json!({"start": "2026-10-19T10:00:00", "end": "2026-10-19T10:15:00", "time_zone": "W. Europe Standard Time"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["calendar"]["exceptions"], json!([]));
    assert_eq!(r.json()["calendar"]["deleted_occurrences"], json!([]));
    // Removing the recurrence makes it a single item.
    let r = admin_patch(&emu, ROOM, id, &json!({"recurrence": null})).await;
    assert_eq!(r.json()["calendar"]["type"], "Single");
}

#[tokio::test]
async fn listing_and_private_items() {
    let emu = start().await;
    admin_create(&emu, ALICE, json!({"subject": "Private", "sensitivity": "Private", "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T09:00:00Z"})).await;
    admin_create(
        &emu,
        ALICE,
        json!({"folder": "drafts", "subject": "Draft", "to": [BOB]}),
    )
    .await;
    let calendar = admin_items(&emu, ALICE, "calendar").await;
    assert_eq!(calendar.len(), 1);
    assert_eq!(calendar[0]["sensitivity"], "Private");
    let drafts = admin_items(&emu, ALICE, "drafts").await;
    assert_eq!(drafts[0]["message"]["is_draft"], true);
    assert_eq!(drafts[0]["message"]["to"], json!([BOB]));
    let all = admin(
        &emu,
        "GET",
        &format!("mailboxes/{ALICE}/items"),
        &json!(null),
    )
    .await
    .json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn admin_errors_name_the_problem() {
    let emu = start().await;
    let r = admin(
        &emu,
        "POST",
        "mailboxes/nobody@contoso.com/items",
        &json!({"subject": "x"}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("nobody@contoso.com")
    );
    let r = admin(
        &emu,
        "POST",
        &format!("mailboxes/{ROOM}/items"),
        &json!({"subjekt": "typo"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("subjekt"),
        "{}",
        r.text()
    );
    let r = admin(
        &emu,
        "POST",
        &format!("mailboxes/{ROOM}/items"),
        &json!({"start": "2026-05-04T08:00:00", "time_zone": "Berlin"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("time_zone"),
        "{}",
        r.text()
    );
    let r = admin(
        &emu,
        "POST",
        &format!("mailboxes/{ROOM}/items"),
        &json!({"start": "2026-05-04T09:00:00Z", "end": "2026-05-04T08:00:00Z"}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("ErrorCalendarEndDateIsEarlierThanStartDate")
    );
    let r = admin(
        &emu,
        "POST",
        &format!("mailboxes/{ROOM}/items"),
        &json!({"start": "2026-05-04T08:00:00Z", "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Funday"]}, "range": {"type": "no_end", "start": "2026-05-04"}}}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Funday"), "{}", r.text());
    let r = admin(
        &emu,
        "GET",
        &format!("mailboxes/{ROOM}/items/notanid"),
        &json!(null),
    )
    .await;
    assert_eq!(r.status, 400);
    let other = admin_create(
        &emu,
        ALICE,
        json!({"subject": "A", "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T09:00:00Z"}),
    )
    .await;
    let r = admin(
        &emu,
        "GET",
        &format!(
            "mailboxes/{ROOM}/items/{}",
            percent_encode(other["id"].as_str().unwrap())
        ),
        &json!(null),
    )
    .await;
    assert_eq!(
        r.status, 404,
        "an item of another mailbox is not found here"
    );
}
