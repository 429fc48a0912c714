//! Series in two-way sync, end to end: daily and weekly series with
//! modified and deleted occurrences, a series without an end, and the
//! daylight-saving case (a weekly series at 09:00 `W. Europe Standard Time`
//! across the March and October 2027 changes stays at 09:00 local), each in
//! both directions. Occurrences are compared on both sides: `booking
//! occurrences` (expanded by the host) and the emulator's own expansion
//! (`/admin/mailboxes/{m}/items/{id}/occurrences`).

use jiff::Timestamp;
use jiff::civil::{Date, date};
use rooms_sync_integration::{
    ALICE, BERLIN, TenantDir, WEST_EUROPE, World, extended_property, ts, ts_of,
};
use serde_json::{Value, json};

const PERSON: &[&str] = &[];
const ROOM: &[&str] = &["--room"];

async fn tenant(world: &World, name: &str) -> TenantDir {
    world
        .sync_tenant(name, &[], &[(ALICE, PERSON), (BERLIN, ROOM)])
        .await
}

/// `(start, end, subject)` of a booking's occurrences in a window, sorted.
async fn rooms_occurrences(
    dir: &TenantDir,
    booking: &str,
    from: &str,
    to: &str,
) -> Vec<(Timestamp, Timestamp, String)> {
    let mut out: Vec<_> = dir
        .occurrences(from, to)
        .await
        .into_iter()
        .filter(|o| o["booking"] == booking)
        .map(|o| {
            (
                ts_of(&o["start"]),
                ts_of(&o["end"]),
                o["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The same from the emulator's expansion of the series `id` in `mailbox`.
async fn exchange_occurrences(
    world: &World,
    mailbox: &str,
    id: &str,
    from: &str,
    to: &str,
) -> Vec<(Timestamp, Timestamp, String)> {
    let mut out: Vec<_> = world
        .outlook_occurrences(mailbox, id, from, to)
        .await
        .into_iter()
        .map(|o| {
            (
                ts_of(&o["calendar"]["start"]),
                ts_of(&o["calendar"]["end"]),
                o["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn starts(list: &[(Timestamp, Timestamp, String)]) -> Vec<Timestamp> {
    list.iter().map(|o| o.0).collect()
}

fn instants(v: &Value) -> Vec<Timestamp> {
    let mut out: Vec<Timestamp> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(ts_of)
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn outlook_series_with_exceptions_are_imported_losslessly() {
    let world = World::start().await;
    let daily = world
        .outlook_create(
            ALICE,
            json!({"subject": "Daily standup", "start": "2027-01-11T09:00:00", "end": "2027-01-11T09:15:00",
                   "time_zone": WEST_EUROPE, "resources": [BERLIN],
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "start": "2027-01-11", "count": 10}}}),
        )
        .await;
    let daily_id = daily["id"].as_str().unwrap().to_owned();
    let occ = world
        .outlook_occurrences(
            ALICE,
            &daily_id,
            "2027-01-10T00:00:00Z",
            "2027-01-31T00:00:00Z",
        )
        .await;
    assert_eq!(occ.len(), 10);
    // 13 January moved to 12:00 local with its own subject; 15 January deleted.
    world
        .outlook_patch(
            ALICE,
            occ[2]["id"].as_str().unwrap(),
            json!({"subject": "Standup (moved)", "start": "2027-01-13T11:00:00Z", "end": "2027-01-13T11:15:00Z"}),
        )
        .await;
    world
        .outlook_delete(ALICE, occ[4]["id"].as_str().unwrap())
        .await;

    let weekly = world
        .outlook_create(
            ALICE,
            json!({"subject": "Jour fixe", "start": "2027-02-01T14:00:00", "end": "2027-02-01T15:00:00",
                   "time_zone": WEST_EUROPE,
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Monday", "Wednesday"]},
                                  "range": {"type": "end_date", "start": "2027-02-01", "end": "2027-02-24"}}}),
        )
        .await;
    let weekly_id = weekly["id"].as_str().unwrap().to_owned();
    let occ = world
        .outlook_occurrences(
            ALICE,
            &weekly_id,
            "2027-01-31T00:00:00Z",
            "2027-03-01T00:00:00Z",
        )
        .await;
    assert_eq!(occ.len(), 8);
    // 8 February an hour later; 15 February deleted.
    world
        .outlook_patch(
            ALICE,
            occ[2]["id"].as_str().unwrap(),
            json!({"start": "2027-02-08T14:00:00Z", "end": "2027-02-08T15:00:00Z"}),
        )
        .await;
    world
        .outlook_delete(ALICE, occ[4]["id"].as_str().unwrap())
        .await;

    let endless = world
        .outlook_create(
            ALICE,
            json!({"subject": "Friday beers", "start": "2027-01-08T17:00:00", "end": "2027-01-08T18:00:00",
                   "time_zone": WEST_EUROPE,
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Friday"]},
                                  "range": {"type": "no_end", "start": "2027-01-08"}}}),
        )
        .await;
    let endless_id = endless["id"].as_str().unwrap().to_owned();

    let dir = tenant(&world, "series-in").await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms[0], 3, "{}", r.json);
    assert_eq!(
        dir.bookings().await.len(),
        3,
        "one booking per series, not per occurrence"
    );

    // Daily: pattern, numbered range, the exception and the deletion.
    let b = dir.only_booking("Daily standup").await;
    let id = b["id"].as_str().unwrap().to_owned();
    let rec = &b["recurrence"];
    assert_eq!(rec["pattern"]["type"], "daily", "{b}");
    assert_eq!(rec["pattern"]["interval"], 1, "{b}");
    assert_eq!(rec["range"]["start"], "2027-01-11", "{b}");
    assert_eq!(rec["range"]["count"], 10, "{b}");
    assert!(rec["range"]["end"].is_null(), "{b}");
    assert_eq!(rec["modified"].as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(
        ts_of(&rec["modified"][0]["original_start"]),
        ts("2027-01-13T08:00:00Z")
    );
    assert_eq!(
        ts_of(&rec["modified"][0]["start"]),
        ts("2027-01-13T11:00:00Z")
    );
    assert_eq!(
        ts_of(&rec["modified"][0]["end"]),
        ts("2027-01-13T11:15:00Z")
    );
    assert_eq!(rec["modified"][0]["subject"], "Standup (moved)");
    assert_eq!(instants(&rec["deleted"]), [ts("2027-01-15T08:00:00Z")]);
    assert_eq!(ts_of(&b["start"]), ts("2027-01-11T08:00:00Z"));
    assert_eq!(b["time_zone"], WEST_EUROPE);
    let (from, to) = ("2027-01-10T00:00:00Z", "2027-01-31T00:00:00Z");
    let ours = rooms_occurrences(&dir, &id, from, to).await;
    assert_eq!(ours.len(), 9, "{ours:#?}");
    assert!(ours.contains(&(
        ts("2027-01-13T11:00:00Z"),
        ts("2027-01-13T11:15:00Z"),
        "Standup (moved)".into()
    )));
    assert!(!starts(&ours).contains(&ts("2027-01-15T08:00:00Z")));
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &daily_id, from, to).await
    );

    // Weekly: days, end date, the moved and the deleted occurrence.
    let b = dir.only_booking("Jour fixe").await;
    let id = b["id"].as_str().unwrap().to_owned();
    let rec = &b["recurrence"];
    assert_eq!(rec["pattern"]["type"], "weekly", "{b}");
    assert_eq!(rec["range"]["end"], "2027-02-24", "{b}");
    assert!(rec["range"]["count"].is_null(), "{b}");
    assert!(text_has(&rec["pattern"], &["monday", "wednesday"]), "{b}");
    assert_eq!(
        ts_of(&rec["modified"][0]["original_start"]),
        ts("2027-02-08T13:00:00Z"),
        "{b}"
    );
    assert_eq!(instants(&rec["deleted"]), [ts("2027-02-15T13:00:00Z")]);
    let (from, to) = ("2027-01-31T00:00:00Z", "2027-03-01T00:00:00Z");
    let ours = rooms_occurrences(&dir, &id, from, to).await;
    assert_eq!(ours.len(), 7, "{ours:#?}");
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &weekly_id, from, to).await
    );

    // Without an end: still there in 2029.
    let b = dir.only_booking("Friday beers").await;
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(b["recurrence"]["range"]["end"].is_null(), "{b}");
    assert!(b["recurrence"]["range"]["count"].is_null(), "{b}");
    let (from, to) = ("2029-06-01T00:00:00Z", "2029-07-01T00:00:00Z");
    let ours = rooms_occurrences(&dir, &id, from, to).await;
    assert_eq!(ours.len(), 5, "Fridays of June 2029: {ours:#?}");
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &endless_id, from, to).await
    );

    dir.assert_quiet(&world).await;
}

/// Outlook changes one occurrence of an already synced series, and deletes
/// another: the booking's exceptions follow, nothing else moves.
#[tokio::test]
async fn outlook_exception_changes_reach_a_synced_series() {
    let world = World::start().await;
    let dir = tenant(&world, "series-exc").await;
    let master = world
        .outlook_create(
            ALICE,
            json!({"subject": "Weekly 1:1", "start": "2027-01-12T10:00:00", "end": "2027-01-12T10:30:00",
                   "time_zone": WEST_EUROPE, "resources": [BERLIN],
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Tuesday"]},
                                  "range": {"type": "numbered", "start": "2027-01-12", "count": 6}}}),
        )
        .await;
    let master_id = master["id"].as_str().unwrap().to_owned();
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let occ = world
        .outlook_occurrences(
            ALICE,
            &master_id,
            "2027-01-01T00:00:00Z",
            "2027-03-01T00:00:00Z",
        )
        .await;
    world
        .outlook_patch(
            ALICE,
            occ[1]["id"].as_str().unwrap(),
            json!({"subject": "1:1 (offsite)"}),
        )
        .await;
    world
        .outlook_delete(ALICE, occ[3]["id"].as_str().unwrap())
        .await;

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 1, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let b = dir.only_booking("Weekly 1:1").await;
    let rec = &b["recurrence"];
    assert_eq!(rec["modified"][0]["subject"], "1:1 (offsite)", "{b}");
    assert_eq!(
        ts_of(&rec["modified"][0]["original_start"]),
        ts("2027-01-19T09:00:00Z")
    );
    assert_eq!(instants(&rec["deleted"]), [ts("2027-02-02T09:00:00Z")]);
    let (from, to) = ("2027-01-01T00:00:00Z", "2027-03-01T00:00:00Z");
    let ours = rooms_occurrences(&dir, b["id"].as_str().unwrap(), from, to).await;
    assert_eq!(ours.len(), 5);
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &master_id, from, to).await
    );
    dir.assert_quiet(&world).await;
}

/// ROOMS series are written as series: one master with its pattern, then the
/// skipped and moved occurrences as Exchange's deleted occurrences and
/// exceptions, never as many single items.
#[tokio::test]
async fn rooms_series_are_written_as_series_with_their_exceptions() {
    let world = World::start().await;
    let dir = tenant(&world, "series-out").await;
    let weekly = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Team weekly",
            "--start",
            "2027-02-01T08:00:00Z",
            "--end",
            "2027-02-01T09:00:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--room",
            BERLIN,
            "--weekly",
            "Monday,Wednesday",
            "--count",
            "6",
        ])
        .await;
    let daily = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Daily check",
            "--start",
            "2027-03-01T07:30:00Z",
            "--end",
            "2027-03-01T07:45:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--daily",
            "--interval",
            "2",
            "--until",
            "2027-03-11",
        ])
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [2, 0, 0], "{}", r.json);

    let item = world.only_item(ALICE, "Team weekly").await;
    assert_eq!(item["calendar"]["type"], "RecurringMaster", "{item}");
    assert_eq!(item["calendar"]["time_zone"], WEST_EUROPE);
    let rec = &item["calendar"]["recurrence"];
    assert_eq!(rec["pattern"]["type"], "weekly", "{item}");
    assert_eq!(
        rec["pattern"]["days"],
        json!(["Monday", "Wednesday"]),
        "{item}"
    );
    assert_eq!(
        rec["range"],
        json!({"type": "numbered", "start": "2027-02-01", "count": 6})
    );
    assert_eq!(
        extended_property(&item, "RoomsBookingId"),
        Some(weekly.as_str())
    );
    let room_copy = world.only_item(BERLIN, "Team weekly").await;
    assert_eq!(room_copy["calendar"]["type"], "RecurringMaster");
    let item_id = item["id"].as_str().unwrap().to_owned();

    let item = world.only_item(ALICE, "Daily check").await;
    let rec = &item["calendar"]["recurrence"];
    assert_eq!(
        rec["pattern"],
        json!({"type": "daily", "interval": 2}),
        "{item}"
    );
    assert_eq!(
        rec["range"],
        json!({"type": "end_date", "start": "2027-03-01", "end": "2027-03-11"})
    );
    let daily_item = item["id"].as_str().unwrap().to_owned();
    dir.assert_quiet(&world).await;

    // Skip 3 February, move 8 February to the afternoon; skip 5 March.
    dir.ok(&["booking", "skip", &weekly, "--occurrence", "2027-02-03"])
        .await;
    dir.ok(&[
        "booking",
        "move",
        &weekly,
        "--occurrence",
        "2027-02-08",
        "--start",
        "2027-02-08T13:00:00Z",
        "--end",
        "2027-02-08T14:00:00Z",
    ])
    .await;
    dir.ok(&["booking", "skip", &daily, "--occurrence", "2027-03-05"])
        .await;
    let b = dir.booking(&weekly).await;
    assert_eq!(
        instants(&b["recurrence"]["deleted"]),
        [ts("2027-02-03T08:00:00Z")],
        "{b}"
    );
    assert_eq!(
        ts_of(&b["recurrence"]["modified"][0]["original_start"]),
        ts("2027-02-08T08:00:00Z")
    );

    let mark = world.log_mark();
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 0, 0], "{}", r.json);
    assert_eq!(
        world.ews_requests_since(mark, Some("CreateItem")).len(),
        0,
        "no single items"
    );
    let master = world.only_item(ALICE, "Team weekly").await;
    assert_eq!(master["id"], item_id.as_str(), "the same master");
    assert_eq!(
        instants(&master["calendar"]["deleted_occurrences"]),
        [ts("2027-02-03T08:00:00Z")],
        "{master}"
    );
    let exceptions = master["calendar"]["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 1, "{master}");
    assert_eq!(
        ts_of(&exceptions[0]["original_start"]),
        ts("2027-02-08T08:00:00Z")
    );
    assert_eq!(ts_of(&exceptions[0]["start"]), ts("2027-02-08T13:00:00Z"));
    let (from, to) = ("2027-01-25T00:00:00Z", "2027-03-01T00:00:00Z");
    let ours = rooms_occurrences(&dir, &weekly, from, to).await;
    assert_eq!(ours.len(), 5, "{ours:#?}");
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &item_id, from, to).await
    );
    // The room's copy holds the same occurrences.
    let room_copy = world.only_item(BERLIN, "Team weekly").await;
    let room_id = room_copy["id"].as_str().unwrap();
    assert_eq!(
        starts(&ours),
        starts(&exchange_occurrences(&world, BERLIN, room_id, from, to).await)
    );

    let (from, to) = ("2027-02-28T00:00:00Z", "2027-03-15T00:00:00Z");
    let ours = rooms_occurrences(&dir, &daily, from, to).await;
    assert_eq!(
        starts(&ours),
        [
            "2027-03-01",
            "2027-03-03",
            "2027-03-07",
            "2027-03-09",
            "2027-03-11"
        ]
        .map(|d| ts(&format!("{d}T07:30:00Z")))
    );
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &daily_item, from, to).await
    );
    assert_eq!(
        dir.bookings().await.len(),
        2,
        "the room's copy is no booking of its own"
    );
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn a_rooms_series_without_an_end_is_written_without_an_end() {
    let world = World::start().await;
    let dir = tenant(&world, "series-endless").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Forever",
            "--start",
            "2027-01-04T08:00:00Z",
            "--end",
            "2027-01-04T08:30:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--weekly",
            "Monday",
        ])
        .await;
    let b = dir.booking(&id).await;
    assert!(b["recurrence"]["range"]["end"].is_null(), "{b}");
    assert!(b["recurrence"]["range"]["count"].is_null(), "{b}");
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [1, 0, 0], "{}", r.json);
    let item = world.only_item(ALICE, "Forever").await;
    assert_eq!(
        item["calendar"]["recurrence"]["range"],
        json!({"type": "no_end", "start": "2027-01-04"}),
        "{item}"
    );
    let (from, to) = ("2030-01-01T00:00:00Z", "2030-02-01T00:00:00Z");
    let ours = rooms_occurrences(&dir, &id, from, to).await;
    assert_eq!(ours.len(), 4, "Mondays of January 2030: {ours:#?}");
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, item["id"].as_str().unwrap(), from, to).await
    );
    dir.assert_quiet(&world).await;
}

/// Outlook edits a series that ROOMS made: a moved occurrence and a deleted
/// one come back as the booking's exceptions (nothing is written back), and
/// deleting the whole series cancels the booking.
#[tokio::test]
async fn outlook_edits_of_a_rooms_series_come_back_as_exceptions() {
    let world = World::start().await;
    let dir = tenant(&world, "series-back").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Made in ROOMS",
            "--start",
            "2027-04-05T07:00:00Z",
            "--end",
            "2027-04-05T08:00:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--room",
            BERLIN,
            "--weekly",
            "Monday",
            "--count",
            "5",
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let master = world.only_item(ALICE, "Made in ROOMS").await;
    let master_id = master["id"].as_str().unwrap().to_owned();
    let (from, to) = ("2027-04-01T00:00:00Z", "2027-05-15T00:00:00Z");
    let occ = world.outlook_occurrences(ALICE, &master_id, from, to).await;
    assert_eq!(occ.len(), 5);
    world
        .outlook_patch(
            ALICE,
            occ[1]["id"].as_str().unwrap(),
            json!({"subject": "Made in ROOMS (later)", "start": "2027-04-12T12:00:00Z", "end": "2027-04-12T13:00:00Z"}),
        )
        .await;
    world
        .outlook_delete(ALICE, occ[2]["id"].as_str().unwrap())
        .await;

    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 1, 0], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let b = dir.booking(&id).await;
    let rec = &b["recurrence"];
    assert_eq!(
        ts_of(&rec["modified"][0]["original_start"]),
        ts("2027-04-12T07:00:00Z"),
        "{b}"
    );
    assert_eq!(
        ts_of(&rec["modified"][0]["start"]),
        ts("2027-04-12T12:00:00Z"),
        "{b}"
    );
    assert_eq!(
        rec["modified"][0]["subject"], "Made in ROOMS (later)",
        "{b}"
    );
    assert_eq!(
        instants(&rec["deleted"]),
        [ts("2027-04-19T07:00:00Z")],
        "{b}"
    );
    let ours = rooms_occurrences(&dir, &id, from, to).await;
    assert_eq!(ours.len(), 4);
    assert_eq!(
        ours,
        exchange_occurrences(&world, ALICE, &master_id, from, to).await
    );
    dir.assert_quiet(&world).await;

    world.outlook_delete(ALICE, &master_id).await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms, [0, 0, 1], "{}", r.json);
    assert_eq!(dir.booking(&id).await["state"], "cancelled");
    assert!(
        world
            .calendar_items(BERLIN, "Made in ROOMS")
            .await
            .is_empty()
    );
    assert!(rooms_occurrences(&dir, &id, from, to).await.is_empty());
    dir.assert_quiet(&world).await;
}

/// An occurrence moved in ROOMS within the summer-time part of a series
/// that began in winter: it lands at the moved local time in Exchange, and
/// the other occurrences stay at 09:00 local.
#[tokio::test]
async fn an_occurrence_moved_across_dst_keeps_the_series_at_nine_local() {
    let world = World::start().await;
    let dir = tenant(&world, "dst-move").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "DST moved",
            "--start",
            "2027-03-15T09:00",
            "--end",
            "2027-03-15T10:00",
            "--time-zone",
            WEST_EUROPE,
            "--weekly",
            "Monday",
            "--until",
            "2027-11-08",
        ])
        .await;
    // 5 April (summer time) moved to 14:00 local; 1 November (winter) skipped.
    dir.ok(&[
        "booking",
        "move",
        &id,
        "--occurrence",
        "2027-04-05",
        "--start",
        "2027-04-05T14:00",
        "--end",
        "2027-04-05T15:00",
    ])
    .await;
    dir.ok(&["booking", "skip", &id, "--occurrence", "2027-11-01"])
        .await;
    let ours = rooms_occurrences(&dir, &id, DST_FROM, DST_TO).await;
    assert!(
        ours.iter().any(|o| o.0 == ts("2027-04-05T12:00:00Z")),
        "{ours:#?}"
    );
    assert!(
        !ours.iter().any(|o| o.0 == ts("2027-11-01T08:00:00Z")),
        "{ours:#?}"
    );

    dir.sync(None).await;
    let item = world.only_item(ALICE, "DST moved").await;
    let theirs = exchange_occurrences(
        &world,
        ALICE,
        item["id"].as_str().unwrap(),
        DST_FROM,
        DST_TO,
    )
    .await;
    assert_eq!(ours, theirs);
    let mondays = dst_mondays();
    assert_eq!(theirs.len(), mondays.len() - 1);
    for (start, _, _) in &theirs {
        let d: Date = start.strftime("%Y-%m-%d").to_string().parse().unwrap();
        if d == date(2027, 4, 5) {
            assert_eq!(*start, ts("2027-04-05T12:00:00Z"));
        } else {
            assert_eq!(*start, nine_local(d), "{d}");
        }
    }
    dir.assert_quiet(&world).await;
}

/// Mondays from 15 March to 8 November 2027.
fn dst_mondays() -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = date(2027, 3, 15);
    while d <= date(2027, 11, 8) {
        out.push(d);
        d = d.checked_add(jiff::Span::new().days(7)).unwrap();
    }
    out
}

/// 09:00 in Berlin on `d`, in UTC: summer time runs from 28 March 2027 to
/// 31 October 2027 (the last Sundays of March and October).
fn nine_local(d: Date) -> Timestamp {
    let summer = d >= date(2027, 3, 28) && d < date(2027, 10, 31);
    let hour = if summer { 7 } else { 8 };
    ts(&format!("{d}T{hour:02}:00:00Z"))
}

fn assert_nine_local(list: &[(Timestamp, Timestamp, String)], side: &str) {
    let mondays = dst_mondays();
    assert_eq!(list.len(), mondays.len(), "{side}: {list:#?}");
    for (d, (start, end, _)) in mondays.iter().zip(list) {
        assert_eq!(
            *start,
            nine_local(*d),
            "{side}: the occurrence of {d} is not at 09:00 local"
        );
        assert_eq!(
            end.as_second() - start.as_second(),
            3600,
            "{side}: the occurrence of {d} does not last an hour"
        );
    }
    // Both changes are inside the window.
    assert!(list.iter().any(|o| o.0 == ts("2027-03-22T08:00:00Z")));
    assert!(list.iter().any(|o| o.0 == ts("2027-03-29T07:00:00Z")));
    assert!(list.iter().any(|o| o.0 == ts("2027-10-25T07:00:00Z")));
    assert!(list.iter().any(|o| o.0 == ts("2027-11-01T08:00:00Z")));
}

const DST_FROM: &str = "2027-03-01T00:00:00Z";
const DST_TO: &str = "2027-11-30T00:00:00Z";

#[tokio::test]
async fn a_weekly_series_at_nine_local_stays_there_across_dst_from_outlook() {
    let world = World::start().await;
    let master = world
        .outlook_create(
            ALICE,
            json!({"subject": "DST from Outlook", "start": "2027-03-15T09:00:00", "end": "2027-03-15T10:00:00",
                   "time_zone": WEST_EUROPE,
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Monday"]},
                                  "range": {"type": "end_date", "start": "2027-03-15", "end": "2027-11-08"}}}),
        )
        .await;
    let master_id = master["id"].as_str().unwrap();
    let theirs = exchange_occurrences(&world, ALICE, master_id, DST_FROM, DST_TO).await;
    assert_nine_local(&theirs, "emulator");

    let dir = tenant(&world, "dst-in").await;
    dir.sync(None).await;
    let b = dir.only_booking("DST from Outlook").await;
    assert_eq!(b["time_zone"], WEST_EUROPE, "{b}");
    assert_eq!(ts_of(&b["start"]), ts("2027-03-15T08:00:00Z"));
    let ours = rooms_occurrences(&dir, b["id"].as_str().unwrap(), DST_FROM, DST_TO).await;
    assert_nine_local(&ours, "booking occurrences");
    assert_eq!(ours, theirs);
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn a_weekly_series_at_nine_local_stays_there_across_dst_from_rooms() {
    let world = World::start().await;
    let dir = tenant(&world, "dst-out").await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "DST from ROOMS",
            "--start",
            "2027-03-15T08:00:00Z",
            "--end",
            "2027-03-15T09:00:00Z",
            "--time-zone",
            WEST_EUROPE,
            "--weekly",
            "Monday",
            "--until",
            "2027-11-08",
        ])
        .await;
    let ours = rooms_occurrences(&dir, &id, DST_FROM, DST_TO).await;
    assert_nine_local(&ours, "booking occurrences");

    dir.sync(None).await;
    let item = world.only_item(ALICE, "DST from ROOMS").await;
    assert_eq!(item["calendar"]["type"], "RecurringMaster");
    assert_eq!(item["calendar"]["time_zone"], WEST_EUROPE, "{item}");
    let theirs = exchange_occurrences(
        &world,
        ALICE,
        item["id"].as_str().unwrap(),
        DST_FROM,
        DST_TO,
    )
    .await;
    assert_nine_local(&theirs, "emulator");
    assert_eq!(ours, theirs);
    dir.assert_quiet(&world).await;
    // Read back from Exchange, the booking is unchanged.
    let again = rooms_occurrences(&dir, &id, DST_FROM, DST_TO).await;
    assert_eq!(again, ours);
}

fn text_has(v: &Value, words: &[&str]) -> bool {
    let t = v.to_string().to_ascii_lowercase();
    words.iter().all(|w| t.contains(w))
}
