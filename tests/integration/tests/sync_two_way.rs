//! Two-way sync end to end: the real component in the real host against the
//! emulator. Outlook-side changes are made as an Outlook user makes them
//! (the emulator's admin item API, invitations sent, rooms answering);
//! ROOMS-side changes through the `booking` commands. Both sides are read
//! back: `booking list --json`, the mailboxes' calendars, `run --json`.
//!
//! Covered here: the initial import (single meetings with rooms, private,
//! all-day and multi-day items), incremental create/update/cancel in each
//! direction, echo suppression (a run right after a run writes nothing),
//! and one booking per meeting when the organiser's and the room's (and an
//! attendee's) calendars are all synced.

use std::collections::HashMap;

use rooms_sync_integration::{
    ALICE, BERLIN, BOB, TenantDir, WEST_EUROPE, World, extended_property, resources, ts, ts_of,
};
use serde_json::{Value, json};

const ROOM: &[&str] = &["--room"];
const PERSON: &[&str] = &[];

/// Alice, Bob and Room Berlin, synced.
async fn tenant(world: &World, name: &str) -> TenantDir {
    world
        .sync_tenant(name, &[], &[(ALICE, PERSON), (BOB, PERSON), (BERLIN, ROOM)])
        .await
}

fn attendee<'a>(booking: &'a Value, email: &str) -> Option<&'a Value> {
    booking["attendees"].as_array()?.iter().find(|a| {
        a["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

fn rooms_of(booking: &Value) -> Vec<String> {
    let mut rooms: Vec<String> = booking["rooms"]
        .as_array()
        .unwrap_or_else(|| panic!("no rooms in {booking}"))
        .iter()
        .map(|r| r.as_str().unwrap().to_ascii_lowercase())
        .collect();
    rooms.sort();
    rooms
}

#[tokio::test]
async fn initial_import_brings_every_kind_of_item_once() {
    let world = World::start().await;
    let kickoff = world
        .outlook_create(
            ALICE,
            json!({
                "subject": "Project kickoff", "start": "2027-01-12T09:00:00", "end": "2027-01-12T10:00:00",
                "time_zone": WEST_EUROPE, "location": "Room Berlin", "reminder_minutes": 25,
                "required_attendees": [BOB], "resources": [BERLIN],
            }),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({
                "subject": "Doctor", "sensitivity": "Private", "free_busy": "OOF",
                "start": "2027-01-13T14:00:00", "end": "2027-01-13T15:00:00", "time_zone": WEST_EUROPE,
            }),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({
                "subject": "Offsite", "is_all_day": true,
                "start": "2027-01-15T00:00:00", "end": "2027-01-16T00:00:00", "time_zone": WEST_EUROPE,
            }),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({
                "subject": "Conference", "free_busy": "WorkingElsewhere",
                "start": "2027-01-18T08:00:00Z", "end": "2027-01-20T17:00:00Z",
            }),
        )
        .await;
    // Bob's own appointment.
    world
        .outlook_create(
            BOB,
            json!({"subject": "Dentist", "start": "2027-01-14T07:00:00Z", "end": "2027-01-14T08:00:00Z"}),
        )
        .await;
    // The room accepted the kickoff, Bob holds a tentative copy.
    assert_eq!(
        world.calendar_items(BERLIN, "Project kickoff").await.len(),
        1
    );
    assert_eq!(world.calendar_items(BOB, "Project kickoff").await.len(), 1);

    let dir = tenant(&world, "import").await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [5, 0, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    assert_eq!(dir.bookings().await.len(), 5);

    let b = dir.only_booking("Project kickoff").await;
    assert_eq!(b["organiser"], ALICE);
    assert_eq!(rooms_of(&b), [BERLIN]);
    assert_eq!(ts_of(&b["start"]), ts("2027-01-12T08:00:00Z"));
    assert_eq!(ts_of(&b["end"]), ts("2027-01-12T09:00:00Z"));
    assert_eq!(b["time_zone"], WEST_EUROPE);
    assert_eq!(b["all_day"], false);
    assert_eq!(b["reminder_minutes"], 25);
    assert_eq!(b["private"], false);
    assert_eq!(b["free_busy"], "Busy");
    assert_eq!(b["state"], "active");
    assert!(b["recurrence"].is_null(), "{b}");
    assert_eq!(
        attendee(&b, BOB).map(|a| &a["kind"]),
        Some(&json!("required")),
        "{b}"
    );
    assert_eq!(
        attendee(&b, BERLIN).map(|a| &a["kind"]),
        Some(&json!("resource")),
        "{b}"
    );
    assert!(
        attendee(&b, ALICE).is_none(),
        "the organiser is not an attendee: {b}"
    );
    assert_eq!(b["exchange"]["uid"], kickoff["calendar"]["uid"], "{b}");
    assert_eq!(
        b["exchange"]["item_id"], kickoff["id"],
        "linked to the organiser's item: {b}"
    );

    let b = dir.only_booking("Doctor").await;
    assert_eq!(b["private"], true, "{b}");
    assert_eq!(b["free_busy"], "OOF", "{b}");
    assert_eq!(rooms_of(&b), Vec::<String>::new());

    let b = dir.only_booking("Offsite").await;
    assert_eq!(b["all_day"], true, "{b}");
    assert_eq!(ts_of(&b["start"]), ts("2027-01-14T23:00:00Z"), "{b}");
    assert_eq!(ts_of(&b["end"]), ts("2027-01-15T23:00:00Z"), "{b}");

    let b = dir.only_booking("Conference").await;
    assert_eq!(ts_of(&b["start"]), ts("2027-01-18T08:00:00Z"));
    assert_eq!(ts_of(&b["end"]), ts("2027-01-20T17:00:00Z"));
    assert_eq!(b["free_busy"], "WorkingElsewhere");

    let b = dir.only_booking("Dentist").await;
    assert_eq!(b["organiser"], BOB);

    dir.assert_quiet(&world).await;
    dir.assert_quiet(&world).await;
}

/// The organiser's, the room's and an attendee's copy of one meeting are one
/// booking, whichever calendar is synced first, and also when all of them
/// sync in the same run.
#[tokio::test]
async fn one_meeting_in_several_synced_calendars_is_one_booking() {
    let world = World::start().await;
    let meeting = world
        .outlook_create(
            ALICE,
            json!({
                "subject": "Design review", "start": "2027-02-02T10:00:00Z", "end": "2027-02-02T11:00:00Z",
                "required_attendees": [BOB], "resources": [BERLIN],
            }),
        )
        .await;
    let uid = meeting["calendar"]["uid"].as_str().unwrap().to_owned();

    let orders: [(&str, &[&str]); 3] = [
        ("room-first", &[BERLIN, BOB, ALICE]),
        ("organiser-first", &[ALICE, BERLIN, BOB]),
        ("attendee-first", &[BOB, ALICE, BERLIN]),
    ];
    for (name, order) in orders {
        let dir = tenant(&world, name).await;
        let mut created = 0;
        for person in order {
            let r = dir.sync(Some(person)).await;
            created += r.totals().to_rooms[0];
        }
        let found = dir.bookings_titled("Design review").await;
        assert_eq!(found.len(), 1, "{name}: {found:#?}");
        assert_eq!(created, 1, "{name}");
        let b = &found[0];
        assert_eq!(b["organiser"], ALICE, "{name}: {b}");
        assert_eq!(rooms_of(b), [BERLIN], "{name}: {b}");
        assert_eq!(b["exchange"]["uid"], uid.as_str(), "{name}: {b}");
        assert_eq!(b["state"], "active", "{name}: {b}");
        dir.assert_quiet(&world).await;
    }

    // All at once, as `run` does (persons may sync concurrently).
    let dir = tenant(&world, "together").await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [1, 0, 0], "{}", r.json);
    assert_eq!(dir.bookings_titled("Design review").await.len(), 1);
    dir.assert_quiet(&world).await;
    assert_eq!(dir.bookings_titled("Design review").await.len(), 1);
}

#[tokio::test]
async fn outlook_creates_updates_and_cancels_reach_rooms() {
    let world = World::start().await;
    let dir = tenant(&world, "from-outlook").await;
    let moved = world
        .outlook_create(
            ALICE,
            json!({"subject": "To be moved", "start": "2027-03-01T09:00:00Z", "end": "2027-03-01T10:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    let cancelled = world
        .outlook_create(
            ALICE,
            json!({"subject": "To be cancelled", "start": "2027-03-02T09:00:00Z", "end": "2027-03-02T10:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [2, 0, 0], "{}", r.json);
    dir.assert_quiet(&world).await;

    // Outlook: a new meeting, a change of time, subject and attendees, a
    // cancellation.
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Brand new", "start": "2027-03-03T09:00:00Z", "end": "2027-03-03T09:30:00Z",
                   "optional_attendees": [BOB], "resources": [BERLIN], "reminder_minutes": 5}),
        )
        .await;
    world
        .outlook_patch(
            ALICE,
            moved["id"].as_str().unwrap(),
            json!({"subject": "Moved", "start": "2027-03-01T13:00:00Z", "end": "2027-03-01T14:30:00Z",
                   "required_attendees": [BOB]}),
        )
        .await;
    world
        .outlook_delete(ALICE, cancelled["id"].as_str().unwrap())
        .await;
    let before = dir.bookings().await;

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [1, 1, 1], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);

    let all = dir.bookings().await;
    assert_eq!(all.len(), 3, "{all:#?}");
    let b = dir.only_booking("Brand new").await;
    assert_eq!(rooms_of(&b), [BERLIN]);
    assert_eq!(
        attendee(&b, BOB).map(|a| &a["kind"]),
        Some(&json!("optional")),
        "{b}"
    );
    assert_eq!(b["reminder_minutes"], 5);
    let b = dir.only_booking("Moved").await;
    let old = before
        .iter()
        .find(|o| o["subject"] == "To be moved")
        .unwrap();
    assert_eq!(b["id"], old["id"], "the same booking is updated");
    assert_eq!(ts_of(&b["start"]), ts("2027-03-01T13:00:00Z"));
    assert_eq!(ts_of(&b["end"]), ts("2027-03-01T14:30:00Z"));
    assert_eq!(
        attendee(&b, BOB).map(|a| &a["kind"]),
        Some(&json!("required")),
        "{b}"
    );
    assert_eq!(b["state"], "active");
    let b = dir.only_booking("To be cancelled").await;
    assert_eq!(b["state"], "cancelled", "{b}");

    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn rooms_creates_updates_and_cancels_reach_outlook() {
    let world = World::start().await;
    let dir = tenant(&world, "from-rooms").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Planning",
            "--start",
            "2027-04-06T07:00:00Z",
            "--end",
            "2027-04-06T08:00:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--room",
            BERLIN,
            "--attendee",
            BOB,
            "--reminder",
            "10",
        ])
        .await;
    let b = dir.booking(&id).await;
    assert!(b["exchange"].is_null(), "not in Exchange before a run: {b}");

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [1, 0, 0], "{}", r.json);
    assert_eq!(r.totals().to_rooms, [0, 0, 0], "{}", r.json);
    // In the organiser's calendar, tagged, with the room as a resource that
    // accepted; in the room's calendar as the same meeting.
    let item = world.only_item(ALICE, "Planning").await;
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(id.as_str()),
        "{item}"
    );
    assert_eq!(resources(&item), [BERLIN]);
    assert_eq!(
        item["calendar"]["resources"][0]["response"], "Accept",
        "{item}"
    );
    assert_eq!(
        item["calendar"]["required_attendees"][0]["email"], BOB,
        "{item}"
    );
    assert_eq!(
        ts_of(&item["calendar"]["start"]),
        ts("2027-04-06T07:00:00Z")
    );
    assert_eq!(item["calendar"]["time_zone"], WEST_EUROPE);
    let room_copy = world.only_item(BERLIN, "Planning").await;
    assert_eq!(room_copy["calendar"]["uid"], item["calendar"]["uid"]);
    assert_eq!(
        room_copy["calendar"]["my_response"], "Accept",
        "{room_copy}"
    );
    let b = dir.booking(&id).await;
    assert_eq!(b["exchange"]["item_id"], item["id"], "{b}");
    assert_eq!(b["exchange"]["uid"], item["calendar"]["uid"], "{b}");
    assert_eq!(
        dir.bookings().await.len(),
        1,
        "the room's copy is not a second booking"
    );
    dir.assert_quiet(&world).await;

    dir.ok(&[
        "booking",
        "update",
        &id,
        "--subject",
        "Planning (longer)",
        "--start",
        "2027-04-06T07:30:00Z",
        "--end",
        "2027-04-06T09:00:00Z",
    ])
    .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 1, 0], "{}", r.json);
    assert_eq!(r.totals().to_rooms, [0, 0, 0], "{}", r.json);
    let item = world.only_item(ALICE, "Planning (longer)").await;
    assert_eq!(
        ts_of(&item["calendar"]["start"]),
        ts("2027-04-06T07:30:00Z")
    );
    assert_eq!(ts_of(&item["calendar"]["end"]), ts("2027-04-06T09:00:00Z"));
    assert_eq!(world.calendar_items(ALICE, "Planning").await.len(), 0);
    let room_copy = world.only_item(BERLIN, "Planning (longer)").await;
    assert_eq!(
        ts_of(&room_copy["calendar"]["start"]),
        ts("2027-04-06T07:30:00Z")
    );
    dir.assert_quiet(&world).await;

    dir.ok(&["booking", "cancel", &id]).await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 0, 1], "{}", r.json);
    assert_eq!(r.totals().to_rooms, [0, 0, 0], "{}", r.json);
    assert!(
        world
            .calendar_items(ALICE, "Planning (longer)")
            .await
            .is_empty()
    );
    assert!(
        world
            .calendar_items(BERLIN, "Planning (longer)")
            .await
            .is_empty()
    );
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "cancelled");
    dir.assert_quiet(&world).await;
}

/// A booking whose organiser is not a synced person goes straight into the
/// room's calendar, without invitations.
#[tokio::test]
async fn a_booking_of_an_outside_organiser_goes_into_the_room_calendar() {
    let world = World::start().await;
    let dir = tenant(&world, "outside").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            "visitor@fabrikam.com",
            "--subject",
            "Visitor workshop",
            "--start",
            "2027-04-07T12:00:00Z",
            "--end",
            "2027-04-07T15:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    let mark = world.log_mark();
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [1, 0, 0], "{}", r.json);
    let item = world.only_item(BERLIN, "Visitor workshop").await;
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(id.as_str()),
        "{item}"
    );
    assert_eq!(
        ts_of(&item["calendar"]["start"]),
        ts("2027-04-07T12:00:00Z")
    );
    assert!(
        world
            .calendar_items(ALICE, "Visitor workshop")
            .await
            .is_empty()
    );
    assert!(
        world
            .calendar_items(BOB, "Visitor workshop")
            .await
            .is_empty()
    );
    let creates = world.ews_requests_since(mark, Some("CreateItem"));
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert!(
        creates[0]
            .mailbox
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(BERLIN)),
        "written into the room's mailbox: {creates:#?}"
    );
    let b = dir.booking(&id).await;
    assert_eq!(b["organiser"], "visitor@fabrikam.com");
    assert_eq!(b["exchange"]["item_id"], item["id"], "{b}");
    dir.assert_quiet(&world).await;

    // Changed and cancelled in ROOMS: the room's item follows.
    dir.ok(&[
        "booking",
        "update",
        &id,
        "--subject",
        "Visitor workshop (short)",
    ])
    .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 1, 0], "{}", r.json);
    world.only_item(BERLIN, "Visitor workshop (short)").await;
    dir.assert_quiet(&world).await;
    dir.ok(&["booking", "cancel", &id]).await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 0, 1], "{}", r.json);
    assert!(
        world
            .calendar_items(BERLIN, "Visitor workshop (short)")
            .await
            .is_empty()
    );
    dir.assert_quiet(&world).await;
}

/// Our own writes never come back as changes: after a run that wrote both
/// ways (singles, a series, a private item, a room's acceptance), the next
/// runs move nothing and write nothing.
#[tokio::test]
async fn echo_suppression_a_run_right_after_a_run_writes_nothing() {
    let world = World::start().await;
    let dir = tenant(&world, "echo").await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Outlook single", "start": "2027-05-03T08:00:00Z", "end": "2027-05-03T09:00:00Z",
                   "required_attendees": [BOB], "resources": [BERLIN]}),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Outlook series", "start": "2027-05-04T09:00:00", "end": "2027-05-04T09:30:00",
                   "time_zone": WEST_EUROPE, "resources": [BERLIN],
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "start": "2027-05-04", "count": 5}}}),
        )
        .await;
    world
        .outlook_create(
            BOB,
            json!({"subject": "Bob private", "sensitivity": "Private", "start": "2027-05-05T08:00:00Z", "end": "2027-05-05T09:00:00Z"}),
        )
        .await;
    dir.booking_add(&[
        "--organiser",
        ALICE,
        "--subject",
        "ROOMS single",
        "--start",
        "2027-05-06T08:00:00Z",
        "--end",
        "2027-05-06T09:00:00Z",
        "--room",
        BERLIN,
        "--attendee",
        BOB,
    ])
    .await;
    dir.booking_add(&[
        "--organiser",
        BOB,
        "--subject",
        "ROOMS series",
        "--start",
        "2027-05-10T07:00:00Z",
        "--end",
        "2027-05-10T08:00:00Z",
        "--time-zone",
        WEST_EUROPE,
        "--room",
        BERLIN,
        "--weekly",
        "Monday",
        "--count",
        "4",
        "--private",
    ])
    .await;

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [3, 0, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [2, 0, 0], "{}", r.json);
    assert_eq!(dir.bookings().await.len(), 5);
    // No run writes again what it wrote, and the rooms' and attendees'
    // copies of ROOMS-made meetings are not new bookings.
    for _ in 0..3 {
        dir.assert_quiet(&world).await;
    }
    assert_eq!(dir.bookings().await.len(), 5);
    for subject in ["Outlook single", "ROOMS single"] {
        assert_eq!(
            world.calendar_items(ALICE, subject).await.len(),
            1,
            "{subject}"
        );
        assert_eq!(
            world.calendar_items(BERLIN, subject).await.len(),
            1,
            "{subject}"
        );
        assert_eq!(
            world.calendar_items(BOB, subject).await.len(),
            1,
            "{subject}"
        );
    }
    assert_eq!(world.calendar_items(BOB, "ROOMS series").await.len(), 1);
    assert_eq!(world.calendar_items(BERLIN, "ROOMS series").await.len(), 1);

    // One more change on each side: exactly those move, then quiet again.
    let single = world.only_item(ALICE, "Outlook single").await;
    world
        .outlook_patch(
            ALICE,
            single["id"].as_str().unwrap(),
            json!({"subject": "Outlook single v2"}),
        )
        .await;
    let rooms_single = dir.only_booking("ROOMS single").await;
    dir.ok(&[
        "booking",
        "update",
        rooms_single["id"].as_str().unwrap(),
        "--subject",
        "ROOMS single v2",
    ])
    .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 1, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 1, 0], "{}", r.json);
    dir.assert_quiet(&world).await;
    let by_subject: HashMap<String, usize> =
        dir.bookings()
            .await
            .iter()
            .fold(HashMap::new(), |mut m, b| {
                *m.entry(b["subject"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                m
            });
    assert_eq!(by_subject.len(), 5, "{by_subject:?}");
    assert!(by_subject.values().all(|&n| n == 1), "{by_subject:?}");
    world.only_item(ALICE, "ROOMS single v2").await;
}

/// Every synced field of a ROOMS booking arrives in Outlook as set, and
/// reads back unchanged (a second run moves nothing).
#[tokio::test]
async fn rooms_fields_arrive_in_outlook_as_set() {
    let world = World::start().await;
    let dir = tenant(&world, "fields").await;
    let private = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Appraisal",
            "--start",
            "2027-06-14T13:00",
            "--end",
            "2027-06-14T14:30",
            "--time-zone",
            WEST_EUROPE,
            "--room",
            BERLIN,
            "--optional",
            BOB,
            "--private",
            "--free-busy",
            "OOF",
            "--reminder",
            "30",
        ])
        .await;
    let all_day = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Team day",
            "--start",
            "2027-06-15",
            "--end",
            "2027-06-17",
            "--time-zone",
            WEST_EUROPE,
            "--all-day",
            "--free-busy",
            "Free",
        ])
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [2, 0, 0], "{}", r.json);

    let item = world.only_item(ALICE, "Appraisal").await;
    let cal = &item["calendar"];
    assert_eq!(item["sensitivity"], "Private", "{item}");
    assert_eq!(ts_of(&cal["start"]), ts("2027-06-14T11:00:00Z"), "{item}");
    assert_eq!(ts_of(&cal["end"]), ts("2027-06-14T12:30:00Z"), "{item}");
    assert_eq!(cal["time_zone"], WEST_EUROPE);
    assert_eq!(cal["free_busy"], "OOF", "{item}");
    assert_eq!(cal["optional_attendees"][0]["email"], BOB, "{item}");
    assert_eq!(cal["required_attendees"], json!([]), "{item}");
    assert_eq!(resources(&item), [BERLIN]);
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(private.as_str())
    );
    let b = dir.booking(&private).await;
    assert_eq!(b["private"], true);
    assert_eq!(b["reminder_minutes"], 30);

    let item = world.only_item(ALICE, "Team day").await;
    let cal = &item["calendar"];
    assert_eq!(cal["is_all_day"], true, "{item}");
    assert_eq!(cal["free_busy"], "Free", "{item}");
    assert_eq!(ts_of(&cal["start"]), ts("2027-06-14T22:00:00Z"), "{item}");
    assert_eq!(ts_of(&cal["end"]), ts("2027-06-16T22:00:00Z"), "{item}");
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(all_day.as_str())
    );

    // What Outlook holds reads back as the same bookings.
    let before = rooms_sync_integration::comparable(&dir.bookings().await);
    dir.assert_quiet(&world).await;
    assert_eq!(
        before,
        rooms_sync_integration::comparable(&dir.bookings().await)
    );
    // A fresh tenant importing the same calendar sees the same fields.
    let fresh = tenant(&world, "fields-fresh").await;
    fresh.sync(None).await;
    for id in [&private, &all_day] {
        let ours = dir.booking(id).await;
        let theirs = fresh.booking(id).await;
        for field in [
            "subject",
            "start",
            "end",
            "time_zone",
            "all_day",
            "reminder_minutes",
            "private",
            "free_busy",
            "rooms",
            "organiser",
        ] {
            assert_eq!(ours[field], theirs[field], "{field}: {ours} vs {theirs}");
        }
    }
}

/// An item the sync created is deleted in Outlook before the next run: the
/// deletion reaches ROOMS. (A sync state committed before the create would
/// never report it: an item created and deleted after a state is not a
/// change of that state. The cycle's closing pass reads its own writes back.)
#[tokio::test]
async fn an_item_the_sync_created_and_outlook_deleted_cancels_the_booking() {
    let world = World::start().await;
    let dir = tenant(&world, "created-deleted").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Short-lived",
            "--start",
            "2027-04-06T08:00:00Z",
            "--end",
            "2027-04-06T09:00:00Z",
        ])
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange[0], 1, "{}", r.json);
    let item_id = dir.booking(&id).await["exchange"]["item_id"]
        .as_str()
        .unwrap()
        .to_owned();
    world.outlook_delete(ALICE, &item_id).await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms[2], 1, "{}", r.json);
    assert_eq!(dir.booking(&id).await["state"], "cancelled");
    dir.assert_quiet(&world).await;
}
