//! Rooms in two-way sync (shared/DESIGN.md §1), end to end against the
//! emulator's Resource Booking Attendant (rooms auto-accept, and decline
//! when something else occupies them):
//! - a room swapped in Outlook (new room invited, old one removed) moves the
//!   ROOMS booking; two rooms only during the swap are not ambiguous;
//! - a room that declines leaves no active booking and a notice for the
//!   organiser; with `--sync-master` the room is also taken off the Exchange
//!   meeting, without it the Exchange item stays as it is;
//! - a Location text alone never changes the room;
//! - more than one synced room outside a swap is reported as ambiguous.

use rooms_sync_integration::{
    ALICE, BERLIN, BOB, HAMBURG, TenantDir, WEST_EUROPE, World, extended_property, resources,
};
use serde_json::{Value, json};

const PERSON: &[&str] = &[];
const ROOM: &[&str] = &["--room"];
const MASTER: &[&str] = &["--room", "--sync-master"];

async fn tenant(world: &World, name: &str, berlin: &[&str]) -> TenantDir {
    world
        .sync_tenant(
            name,
            &[],
            &[(ALICE, PERSON), (BERLIN, berlin), (HAMBURG, ROOM)],
        )
        .await
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

fn resource_attendees(booking: &Value) -> Vec<String> {
    let mut out: Vec<String> = booking["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "resource")
        .map(|a| a["email"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    out.sort();
    out
}

fn text(v: &Value) -> String {
    v.to_string().to_ascii_lowercase()
}

/// The outbox records about `subject` or booking `id` of `kind`.
async fn notices(dir: &TenantDir, kind: &str) -> Vec<Value> {
    dir.records("outbox")
        .await
        .into_iter()
        .filter(|n| n["kind"] == kind)
        .collect()
}

/// Bob's meeting that occupies Room Berlin on 2027-02-01 10:00-11:00 UTC.
async fn occupy_berlin(world: &World) {
    let blocker = world
        .outlook_create(
            BOB,
            json!({"subject": "Blocker", "start": "2027-02-01T10:00:00Z", "end": "2027-02-01T11:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    assert_eq!(
        blocker["calendar"]["resources"][0]["response"], "Accept",
        "{blocker}"
    );
}

#[tokio::test]
async fn a_room_swapped_in_outlook_in_one_edit_moves_the_booking() {
    let world = World::start().await;
    let dir = tenant(&world, "swap", ROOM).await;
    let item = world
        .outlook_create(
            ALICE,
            json!({"subject": "Swap me", "start": "2027-02-03T09:00:00Z", "end": "2027-02-03T10:00:00Z",
                   "location": "Room Berlin", "required_attendees": [BOB], "resources": [BERLIN]}),
        )
        .await;
    dir.sync(None).await;
    let before = dir.only_booking("Swap me").await;
    assert_eq!(rooms_of(&before), [BERLIN]);
    dir.assert_quiet(&world).await;

    // Outlook: Hamburg invited, Berlin removed (the location text stays).
    let swapped = world
        .outlook_patch(
            ALICE,
            item["id"].as_str().unwrap(),
            json!({"resources": [HAMBURG]}),
        )
        .await;
    assert_eq!(
        swapped["calendar"]["resources"][0]["response"], "Accept",
        "{swapped}"
    );
    assert!(world.calendar_items(BERLIN, "Swap me").await.is_empty());
    assert_eq!(world.calendar_items(HAMBURG, "Swap me").await.len(), 1);

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 1, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let after = dir.only_booking("Swap me").await;
    assert_eq!(
        after["id"], before["id"],
        "the booking moved, not a new one"
    );
    assert_eq!(rooms_of(&after), [HAMBURG], "{after}");
    assert_eq!(resource_attendees(&after), [HAMBURG], "{after}");
    assert_eq!(after["state"], "active");
    assert_eq!(r.total("quarantined"), 0, "{}", r.json);
    dir.assert_quiet(&world).await;
}

/// Outlook's other way to swap: the new room added first, the old one
/// removed later. In between the booking keeps its room and nothing is
/// reported as ambiguous.
#[tokio::test]
async fn a_room_swap_in_two_steps_is_not_ambiguous() {
    let world = World::start().await;
    let dir = tenant(&world, "swap2", ROOM).await;
    let item = world
        .outlook_create(
            ALICE,
            json!({"subject": "Two steps", "start": "2027-02-04T09:00:00Z", "end": "2027-02-04T10:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    dir.sync(None).await;
    let id = item["id"].as_str().unwrap();
    world
        .outlook_patch(ALICE, id, json!({"resources": [BERLIN, HAMBURG]}))
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.total("quarantined"), 0, "{}", r.json);
    let during = dir.only_booking("Two steps").await;
    assert_eq!(
        rooms_of(&during),
        [BERLIN],
        "the booking keeps its room during a swap: {during}"
    );
    assert_eq!(during["state"], "active");
    assert!(notices(&dir, "ambiguous-rooms").await.is_empty());
    assert!(dir.records("quarantine").await.is_empty());

    world
        .outlook_patch(ALICE, id, json!({"resources": [HAMBURG]}))
        .await;
    dir.sync(None).await;
    let after = dir.only_booking("Two steps").await;
    assert_eq!(after["id"], during["id"]);
    assert_eq!(rooms_of(&after), [HAMBURG], "{after}");
    assert!(notices(&dir, "ambiguous-rooms").await.is_empty());
    dir.assert_quiet(&world).await;
}

/// The same swap made in ROOMS: the Exchange meeting gets the new room, the
/// old room's copy goes.
#[tokio::test]
async fn a_room_changed_in_rooms_moves_the_exchange_meeting() {
    let world = World::start().await;
    let dir = tenant(&world, "swap-rooms", ROOM).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Moving rooms",
            "--start",
            "2027-02-05T09:00:00Z",
            "--end",
            "2027-02-05T10:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    assert_eq!(world.calendar_items(BERLIN, "Moving rooms").await.len(), 1);
    dir.assert_quiet(&world).await;

    dir.ok(&["booking", "update", &id, "--room", HAMBURG]).await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 1, 0], "{}", r.json);
    let item = world.only_item(ALICE, "Moving rooms").await;
    assert_eq!(resources(&item), [HAMBURG], "{item}");
    assert!(
        world
            .calendar_items(BERLIN, "Moving rooms")
            .await
            .is_empty()
    );
    assert_eq!(world.calendar_items(HAMBURG, "Moving rooms").await.len(), 1);
    let b = dir.booking(&id).await;
    assert_eq!(rooms_of(&b), [HAMBURG]);
    assert_eq!(dir.bookings().await.len(), 1);
    dir.assert_quiet(&world).await;
}

async fn declined_in_outlook(sync_master: bool) {
    let world = World::start().await;
    occupy_berlin(&world).await;
    let name = if sync_master {
        "decline-master"
    } else {
        "decline"
    };
    let dir = tenant(&world, name, if sync_master { MASTER } else { ROOM }).await;
    let wanted = world
        .outlook_create(
            ALICE,
            json!({"subject": "Wants Berlin", "start": "2027-02-01T10:30:00Z", "end": "2027-02-01T11:30:00Z",
                   "required_attendees": [BOB], "resources": [BERLIN]}),
        )
        .await;
    assert_eq!(
        wanted["calendar"]["resources"][0]["response"], "Decline",
        "{wanted}"
    );
    let id = wanted["id"].as_str().unwrap();

    dir.sync(None).await;
    // Bob's meeting holds the room (Bob is not synced: home is the room).
    let blocker = dir.only_booking("Blocker").await;
    assert_eq!(blocker["state"], "active");
    assert_eq!(rooms_of(&blocker), [BERLIN]);
    // No active booking for the declined meeting.
    let active: Vec<Value> = dir
        .bookings_titled("Wants Berlin")
        .await
        .into_iter()
        .filter(|b| b["state"] == "active")
        .collect();
    assert!(
        active.is_empty(),
        "a declined meeting is no ROOMS booking: {active:#?}"
    );
    // The organiser is told.
    let told = notices(&dir, "room-declined").await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["recipient"], ALICE, "{told:#?}");
    assert!(
        text(&told[0]).contains("room-berlin@contoso.com"),
        "{told:#?}"
    );

    let item = world
        .outlook_item(ALICE, id)
        .await
        .expect("the meeting stays in Outlook");
    if sync_master {
        assert_eq!(
            resources(&item),
            Vec::<String>::new(),
            "sync master: the room is taken off: {item}"
        );
        assert_eq!(
            item["calendar"]["required_attendees"][0]["email"], BOB,
            "{item}"
        );
    } else {
        assert_eq!(
            resources(&item),
            [BERLIN],
            "no sync master: the Exchange item stays: {item}"
        );
        assert_eq!(
            item["calendar"]["resources"][0]["response"], "Decline",
            "{item}"
        );
    }
    dir.assert_quiet(&world).await;
    assert_eq!(notices(&dir, "room-declined").await.len(), 1, "told once");
}

#[tokio::test]
async fn a_room_declining_an_outlook_meeting_with_sync_master_is_taken_off_it() {
    declined_in_outlook(true).await;
}

#[tokio::test]
async fn a_room_declining_an_outlook_meeting_without_sync_master_leaves_it() {
    declined_in_outlook(false).await;
}

/// A ROOMS booking whose room declines once Exchange has it is removed
/// (cancelled), the organiser told, and the sync master room taken off the
/// Exchange meeting.
#[tokio::test]
async fn a_room_declining_a_rooms_booking_removes_it() {
    let world = World::start().await;
    occupy_berlin(&world).await;
    let dir = tenant(&world, "decline-rooms", MASTER).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Too late",
            "--start",
            "2027-02-01T10:15:00Z",
            "--end",
            "2027-02-01T10:45:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange[0], 1, "{}", r.json);
    assert!(world.calendar_items(BERLIN, "Too late").await.is_empty());

    // The run's closing pass reads the room's answer back at once.
    assert_eq!(r.totals().to_rooms[2], 1, "{}", r.json);
    let b = dir.booking(&id).await;
    assert_ne!(b["state"], "active", "the declined booking is removed: {b}");
    let told = notices(&dir, "room-declined").await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["recipient"], ALICE);
    assert_eq!(told[0]["booking"], id.as_str(), "{told:#?}");
    let item = world.only_item(ALICE, "Too late").await;
    assert_eq!(
        resources(&item),
        Vec::<String>::new(),
        "sync master: the room is taken off: {item}"
    );
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(id.as_str())
    );
    dir.assert_quiet(&world).await;
    assert_ne!(dir.booking(&id).await["state"], "active");
}

#[tokio::test]
async fn a_location_change_alone_never_changes_the_room() {
    let world = World::start().await;
    let dir = tenant(&world, "location", ROOM).await;
    let item = world
        .outlook_create(
            ALICE,
            json!({"subject": "Located", "start": "2027-02-08T09:00:00Z", "end": "2027-02-08T10:00:00Z",
                   "location": "Room Berlin", "resources": [BERLIN]}),
        )
        .await;
    // A Location text naming a room, without the room as a resource.
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Text only", "start": "2027-02-09T09:00:00Z", "end": "2027-02-09T10:00:00Z",
                   "location": "Room Hamburg (room-hamburg@contoso.com)"}),
        )
        .await;
    dir.sync(None).await;
    assert_eq!(rooms_of(&dir.only_booking("Located").await), [BERLIN]);
    assert_eq!(
        rooms_of(&dir.only_booking("Text only").await),
        Vec::<String>::new()
    );
    assert!(world.calendar_items(HAMBURG, "Text only").await.is_empty());
    dir.assert_quiet(&world).await;
    let before = dir.only_booking("Located").await;

    let id = item["id"].as_str().unwrap();
    world
        .outlook_patch(ALICE, id, json!({"location": "Room Hamburg"}))
        .await;
    let mark = world.log_mark();
    let r = dir.sync(None).await;
    assert!(
        r.totals().is_zero(),
        "a Location text is no synced change: {}",
        r.json
    );
    assert!(
        world.writes_since(mark).is_empty(),
        "{:#?}",
        world.writes_since(mark)
    );
    let after = dir.only_booking("Located").await;
    assert_eq!(rooms_of(&after), [BERLIN], "{after}");
    assert_eq!(after["id"], before["id"]);
    let item = world.outlook_item(ALICE, id).await.unwrap();
    assert_eq!(
        item["calendar"]["location"], "Room Hamburg",
        "the text is left as typed"
    );
    assert_eq!(resources(&item), [BERLIN]);
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn more_than_one_synced_room_is_reported_as_ambiguous() {
    let world = World::start().await;
    let dir = tenant(&world, "ambiguous", ROOM).await;
    let item = world
        .outlook_create(
            ALICE,
            json!({"subject": "Two rooms", "start": "2027-02-10T09:00:00Z", "end": "2027-02-10T10:00:00Z",
                   "resources": [BERLIN, HAMBURG]}),
        )
        .await;
    let r = dir.sync(None).await;
    assert!(r.total("quarantined") >= 1, "{}", r.json);
    let active: Vec<Value> = dir
        .bookings_titled("Two rooms")
        .await
        .into_iter()
        .filter(|b| b["state"] == "active")
        .collect();
    assert!(active.is_empty(), "no booking with two rooms: {active:#?}");
    let quarantine = dir.records("quarantine").await;
    assert!(
        quarantine.iter().any(|q| text(q).contains("two rooms")
            && text(q).contains("room-berlin@contoso.com")
            && text(q).contains("room-hamburg@contoso.com")),
        "the item is set aside with its reason: {quarantine:#?}"
    );
    let told = notices(&dir, "ambiguous-rooms").await;
    assert!(!told.is_empty(), "the organiser is told");
    assert!(told.iter().all(|n| n["recipient"] == ALICE), "{told:#?}");
    // Nothing is written back to Exchange for it.
    let item_now = world
        .outlook_item(ALICE, item["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(resources(&item_now), [BERLIN, HAMBURG]);

    // The organiser removes one room: the booking is made, the quarantine
    // is cleared.
    world
        .outlook_patch(
            ALICE,
            item["id"].as_str().unwrap(),
            json!({"resources": [BERLIN]}),
        )
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms[0], 1, "{}", r.json);
    let b = dir.only_booking("Two rooms").await;
    assert_eq!(rooms_of(&b), [BERLIN]);
    assert_eq!(b["state"], "active");
    let quarantine = dir.records("quarantine").await;
    assert!(
        quarantine.is_empty(),
        "released once resolved: {quarantine:#?}"
    );
    dir.assert_quiet(&world).await;
}

/// A booking in a room's zone, to check the room field survives a zone.
#[tokio::test]
async fn a_rooms_booking_keeps_its_room_through_an_outlook_time_change() {
    let world = World::start().await;
    let dir = tenant(&world, "retime", ROOM).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Retimed",
            "--start",
            "2027-02-11T08:00:00Z",
            "--end",
            "2027-02-11T09:00:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let item = world.only_item(ALICE, "Retimed").await;
    world
        .outlook_patch(
            ALICE,
            item["id"].as_str().unwrap(),
            json!({"start": "2027-02-11T14:00:00", "end": "2027-02-11T15:00:00", "time_zone": WEST_EUROPE}),
        )
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 1, 0], "{}", r.json);
    let b = dir.booking(&id).await;
    assert_eq!(rooms_of(&b), [BERLIN]);
    assert_eq!(
        rooms_sync_integration::ts_of(&b["start"]),
        rooms_sync_integration::ts("2027-02-11T13:00:00Z")
    );
    dir.assert_quiet(&world).await;
}

/// An Outlook meeting moved into a time the room is busy: the room declines
/// the update, so the booking is removed and the organiser told; the sync
/// master room is taken off the meeting.
#[tokio::test]
async fn a_meeting_moved_into_a_busy_room_is_removed() {
    let world = World::start().await;
    occupy_berlin(&world).await;
    let dir = tenant(&world, "decline-move", MASTER).await;
    let item = world
        .outlook_create(
            ALICE,
            json!({"subject": "Movable", "start": "2027-02-01T13:00:00Z", "end": "2027-02-01T14:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    dir.sync(None).await;
    let b = dir.only_booking("Movable").await;
    assert_eq!(b["state"], "active");
    assert_eq!(rooms_of(&b), [BERLIN]);
    dir.assert_quiet(&world).await;

    let id = item["id"].as_str().unwrap();
    let moved = world
        .outlook_patch(
            ALICE,
            id,
            json!({"start": "2027-02-01T10:30:00Z", "end": "2027-02-01T11:30:00Z"}),
        )
        .await;
    assert_eq!(
        moved["calendar"]["resources"][0]["response"], "Decline",
        "{moved}"
    );
    dir.sync(None).await;
    let after = dir.booking(b["id"].as_str().unwrap()).await;
    assert_ne!(after["state"], "active", "{after}");
    let told = notices(&dir, "room-declined").await;
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0]["booking"], b["id"]);
    assert_eq!(told[0]["recipient"], ALICE);
    let item = world.outlook_item(ALICE, id).await.unwrap();
    assert_eq!(resources(&item), Vec::<String>::new(), "{item}");
    // Bob's meeting keeps the room.
    assert_eq!(dir.only_booking("Blocker").await["state"], "active");
    dir.assert_quiet(&world).await;
}

/// A meeting that is a cancelled booking only because its room declined
/// becomes active again when the organiser books a room that accepts.
#[tokio::test]
async fn a_declined_meeting_swapped_to_a_free_room_becomes_a_booking() {
    let world = World::start().await;
    occupy_berlin(&world).await;
    let dir = tenant(&world, "decline-swap", ROOM).await;
    let wanted = world
        .outlook_create(
            ALICE,
            json!({"subject": "Clash", "start": "2027-02-01T10:30:00Z", "end": "2027-02-01T11:30:00Z",
                   "resources": [BERLIN]}),
        )
        .await;
    let id = wanted["id"].as_str().unwrap().to_owned();
    dir.sync(None).await;
    let declined = dir.only_booking("Clash").await;
    assert_eq!(declined["state"], "cancelled", "{declined}");

    world
        .outlook_patch(ALICE, &id, json!({"resources": [HAMBURG]}))
        .await;
    assert_eq!(
        world.outlook_item(ALICE, &id).await.unwrap()["calendar"]["resources"][0]["response"],
        "Accept"
    );
    dir.sync(None).await;
    let b = dir.only_booking("Clash").await;
    assert_eq!(b["id"], declined["id"], "the same booking: {b}");
    assert_eq!(b["state"], "active", "{b}");
    assert_eq!(rooms_of(&b), [HAMBURG], "{b}");
    assert_eq!(dir.bookings_titled("Clash").await.len(), 1);
    dir.assert_quiet(&world).await;
}
