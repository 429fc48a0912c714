//! Two-way sync under faults and conflicts, end to end:
//! - a `CreateItem` whose answer is lost (the emulator applies it, then
//!   drops the connection) gives no duplicate; a lost `UpdateItem` answer is
//!   no conflict with ourselves;
//! - an invalid sync state leads to a full resync with nothing duplicated or
//!   lost, a deletion made meanwhile included;
//! - sustained `ErrorServerBusy`, HTTP 503 and `ErrorExceededConnectionCount`:
//!   the run completes and every back-off is honoured (`backoff_ms`, the
//!   host's waits and the emulator's request log);
//! - conflicts: `Rollback` and `Cancel`, sync-disabled and cancelled after N
//!   attempts, with the outbox and conflict records.

use std::collections::HashMap;

use exo_emulator::{ErrorShape, FaultAction, FaultSpec, LogEntry};
use rooms_sync_integration::{ALICE, BERLIN, TenantDir, World, extended_property, resources, ts};
use serde_json::{Value, json};

const PERSON: &[&str] = &[];
const ROOM: &[&str] = &["--room"];

async fn tenant(world: &World, name: &str, settings: &[(&str, &str)], alice: &[&str]) -> TenantDir {
    world
        .sync_tenant(name, settings, &[(ALICE, alice), (BERLIN, ROOM)])
        .await
}

fn fault(operation: &str, mailbox: &str, count: u32, action: FaultAction) -> FaultSpec {
    FaultSpec {
        count,
        operation: Some(operation.into()),
        mailbox: Some(mailbox.into()),
        ..FaultSpec::ews(action)
    }
}

fn on(mailbox: &str, e: &LogEntry) -> bool {
    e.mailbox
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
}

#[tokio::test]
async fn a_lost_create_item_answer_gives_no_duplicate() {
    let world = World::start().await;
    let dir = tenant(&world, "lost-create", &[], PERSON).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Answer lost",
            "--start",
            "2027-06-01T08:00:00Z",
            "--end",
            "2027-06-01T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    world
        .emulator
        .inject_fault(fault("CreateItem", ALICE, 1, FaultAction::ResetAfter));
    let mark = world.log_mark();
    // The first run may or may not finish the booking; the second must.
    let first = dir.sync_any(None).await;
    let creates = world.ews_requests_since(mark, Some("CreateItem"));
    assert!(
        creates.iter().any(|e| e.fault.is_some()),
        "the fault fired: {creates:#?}"
    );
    dir.sync(None).await;

    let items = world.calendar_items(ALICE, "Answer lost").await;
    assert_eq!(
        items.len(),
        1,
        "no duplicate in the organiser's calendar: {items:#?} (first run: {})",
        first.json
    );
    assert_eq!(
        extended_property(&items[0], "RoomsBookingId"),
        Some(id.as_str())
    );
    assert_eq!(
        world.calendar_items(BERLIN, "Answer lost").await.len(),
        1,
        "no duplicate in the room"
    );
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "active", "{b}");
    assert_eq!(
        b["exchange"]["item_id"], items[0]["id"],
        "linked to the one item: {b}"
    );
    assert_eq!(dir.bookings().await.len(), 1);
    let alice_creates: Vec<_> = world
        .ews_requests_since(mark, Some("CreateItem"))
        .into_iter()
        .filter(|e| on(ALICE, e))
        .collect();
    assert_eq!(
        alice_creates.len(),
        1,
        "created once, found by its tag after: {alice_creates:#?}"
    );
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn a_lost_update_item_answer_is_no_conflict() {
    let world = World::start().await;
    let dir = tenant(&world, "lost-update", &[], PERSON).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Update lost",
            "--start",
            "2027-06-02T08:00:00Z",
            "--end",
            "2027-06-02T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    dir.ok(&["booking", "update", &id, "--subject", "Update lost (v2)"])
        .await;
    world
        .emulator
        .inject_fault(fault("UpdateItem", ALICE, 1, FaultAction::ResetAfter));
    let mark = world.log_mark();
    dir.sync_any(None).await;
    assert!(
        world
            .ews_requests_since(mark, Some("UpdateItem"))
            .iter()
            .any(|e| e.fault.is_some())
    );
    let r = dir.sync(None).await;
    assert_eq!(r.total("conflicts"), 0, "{}", r.json);
    world.only_item(ALICE, "Update lost (v2)").await;
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "active");
    assert_eq!(b["subject"], "Update lost (v2)");
    assert!(
        dir.records("conflicts").await.is_empty(),
        "our own write is no conflict"
    );
    assert!(dir.records("outbox").await.is_empty());
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn an_invalid_sync_state_leads_to_a_full_resync_without_duplicates_or_losses() {
    let world = World::start().await;
    let dir = tenant(&world, "resync", &[], PERSON).await;
    let kept = world
        .outlook_create(
            ALICE,
            json!({"subject": "Kept", "start": "2027-06-07T08:00:00Z", "end": "2027-06-07T09:00:00Z", "resources": [BERLIN]}),
        )
        .await;
    // No attendees: only Alice's calendar knows about it, so only her
    // resync can find its deletion.
    let deleted = world
        .outlook_create(
            ALICE,
            json!({"subject": "Deleted meanwhile", "start": "2027-06-08T08:00:00Z", "end": "2027-06-08T09:00:00Z"}),
        )
        .await;
    let renamed = world
        .outlook_create(
            ALICE,
            json!({"subject": "Renamed meanwhile", "start": "2027-06-09T08:00:00Z", "end": "2027-06-09T09:00:00Z"}),
        )
        .await;
    let ours = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Made in ROOMS",
            "--start",
            "2027-06-10T08:00:00Z",
            "--end",
            "2027-06-10T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms[0], 3, "{}", r.json);
    assert_eq!(r.totals().to_exchange[0], 1, "{}", r.json);
    dir.assert_quiet(&world).await;
    let before = dir.bookings().await;

    // Outlook changes while the state goes bad.
    world
        .outlook_delete(ALICE, deleted["id"].as_str().unwrap())
        .await;
    world
        .outlook_patch(
            ALICE,
            renamed["id"].as_str().unwrap(),
            json!({"subject": "Renamed (v2)"}),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Created meanwhile", "start": "2027-06-11T08:00:00Z", "end": "2027-06-11T09:00:00Z"}),
        )
        .await;
    world.emulator.inject_fault(fault(
        "SyncFolderItems",
        ALICE,
        1,
        FaultAction::InvalidSyncState,
    ));
    let mark = world.log_mark();
    let r = dir.sync(None).await;
    let refused: Vec<_> = world
        .ews_requests_since(mark, Some("SyncFolderItems"))
        .into_iter()
        .filter(|e| e.response_code.as_deref() == Some("ErrorInvalidSyncStateData"))
        .collect();
    assert_eq!(refused.len(), 1, "the stored state was refused once");
    assert_eq!(r.totals().to_rooms, [1, 1, 1], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    assert!(
        world.writes_since(mark).is_empty(),
        "the resync wrote nothing to Exchange"
    );

    let after = dir.bookings().await;
    assert_eq!(after.len(), before.len() + 1, "{after:#?}");
    let mut uids: HashMap<String, usize> = HashMap::new();
    for b in after.iter().filter(|b| b["exchange"].is_object()) {
        *uids.entry(b["exchange"]["uid"].to_string()).or_default() += 1;
    }
    assert!(
        uids.values().all(|&n| n == 1),
        "one booking per meeting: {uids:?}"
    );
    assert_eq!(
        dir.only_booking("Deleted meanwhile").await["state"],
        "cancelled"
    );
    assert_eq!(dir.only_booking("Renamed (v2)").await["state"], "active");
    assert!(dir.bookings_titled("Renamed meanwhile").await.is_empty());
    assert_eq!(
        dir.only_booking("Created meanwhile").await["state"],
        "active"
    );
    let k = dir.only_booking("Kept").await;
    assert_eq!(k["exchange"]["uid"], kept["calendar"]["uid"]);
    assert_eq!(k["state"], "active");
    let m = dir.booking(&ours).await;
    assert_eq!(m["state"], "active");
    for subject in ["Kept", "Made in ROOMS", "Renamed (v2)", "Created meanwhile"] {
        assert_eq!(
            world.calendar_items(ALICE, subject).await.len(),
            1,
            "{subject}"
        );
    }
    dir.assert_quiet(&world).await;
}

/// Everything the host logged about waits for `mailbox`, in order
/// (`wait of N ms skipped`).
fn skipped_waits(log: &str, mailbox: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(mailbox) && l.contains("ms skipped"))
        .filter_map(|l| {
            let (_, rest) = l.split_once("wait of ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

#[tokio::test]
async fn sustained_throttling_completes_and_every_back_off_is_honoured() {
    let world = World::start().await;
    let mut dir = tenant(&world, "throttled", &[], PERSON).await;
    dir.env
        .insert("ROOMS_SYNC_TEST_CLOCK".into(), "skip-waits".into());
    for i in 0..3 {
        world
            .outlook_create(
                ALICE,
                json!({"subject": format!("Outlook {i}"), "start": format!("2027-07-0{}T08:00:00Z", i + 1),
                       "end": format!("2027-07-0{}T09:00:00Z", i + 1), "resources": [BERLIN]}),
            )
            .await;
    }
    for i in 0..2 {
        dir.booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            &format!("ROOMS {i}"),
            "--start",
            &format!("2027-07-1{i}T08:00:00Z"),
            "--end",
            &format!("2027-07-1{i}T09:00:00Z"),
            "--room",
            BERLIN,
        ])
        .await;
    }
    // Every kind of throttling, several times in a row, on Alice's mailbox.
    let busy = |ms| FaultAction::EwsError {
        code: "ErrorServerBusy".into(),
        message: None,
        shape: ErrorShape::ResponseMessage,
        back_off_ms: Some(ms),
    };
    world
        .emulator
        .inject_fault(fault("SyncFolderItems", ALICE, 3, busy(30_000)));
    world.emulator.inject_fault(fault(
        "GetItem",
        ALICE,
        2,
        FaultAction::HttpStatus {
            status: 503,
            retry_after: Some(20),
            body: None,
        },
    ));
    world.emulator.inject_fault(fault(
        "CreateItem",
        ALICE,
        2,
        FaultAction::EwsError {
            code: "ErrorExceededConnectionCount".into(),
            message: None,
            shape: ErrorShape::SoapFault,
            back_off_ms: None,
        },
    ));
    world
        .emulator
        .inject_fault(fault("CreateItem", ALICE, 1, busy(45_000)));

    let mark = world.log_mark();
    let started = std::time::Instant::now();
    let r = dir.sync(None).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the test clock skips the waits"
    );
    // Everything arrived, once.
    for i in 0..3 {
        assert_eq!(
            dir.only_booking(&format!("Outlook {i}")).await["state"],
            "active"
        );
    }
    for i in 0..2 {
        assert_eq!(
            world
                .calendar_items(ALICE, &format!("ROOMS {i}"))
                .await
                .len(),
            1
        );
    }
    assert_eq!(r.totals().to_rooms[0], 3, "{}", r.json);
    assert_eq!(r.totals().to_exchange[0], 2, "{}", r.json);

    // Every fault fired, and each was followed by a retry of the same
    // operation, with nothing else sent for the mailbox in between.
    let alice: Vec<LogEntry> = world
        .ews_requests_since(mark, None)
        .into_iter()
        .filter(|e| on(ALICE, e))
        .collect();
    let faulted: Vec<&LogEntry> = alice.iter().filter(|e| e.fault.is_some()).collect();
    assert_eq!(faulted.len(), 3 + 2 + 2 + 1, "{alice:#?}");
    for (i, e) in alice.iter().enumerate() {
        if e.fault.is_some() {
            let next = alice
                .get(i + 1)
                .unwrap_or_else(|| panic!("no retry after {e:#?}"));
            assert_eq!(
                next.operation, e.operation,
                "the mailbox was paused, then the same request sent again: {e:#?} then {next:#?}"
            );
        }
    }
    // Every hint was waited for (at least), in order; and counted.
    let hints: Vec<u64> = faulted
        .iter()
        .map(|e| match e.operation.as_deref() {
            Some("SyncFolderItems") => 30_000,
            Some("GetItem") => 20_000,
            Some("CreateItem") if e.response_code.as_deref() == Some("ErrorServerBusy") => 45_000,
            _ => 1, // ErrorExceededConnectionCount has no hint: any back-off
        })
        .collect();
    let waits = skipped_waits(&r.run.log, ALICE);
    assert_eq!(
        waits.len(),
        hints.len(),
        "one wait per throttled answer: {waits:?}\n{}",
        r.run.log
    );
    for (wait, hint) in waits.iter().zip(&hints) {
        assert!(
            wait >= hint,
            "waited {wait} ms for a back-off of {hint} ms: {waits:?} {hints:?}"
        );
    }
    let demanded: u64 = hints.iter().sum();
    let person = r.person(ALICE);
    let backoff = person["backoff_ms"].as_u64().unwrap();
    assert!(
        backoff >= demanded,
        "backoff_ms {backoff} < {demanded}: {}",
        r.json
    );
    assert_eq!(
        backoff,
        waits.iter().sum::<u64>(),
        "backoff_ms counts the waits: {}",
        r.json
    );
    assert!(r.total("backoff_ms") >= backoff, "{}", r.json);
    assert!(
        person["ews_requests"].as_u64().unwrap() >= alice.len() as u64,
        "{}",
        r.json
    );

    dir.env.remove("ROOMS_SYNC_TEST_CLOCK");
    dir.assert_quiet(&world).await;
}

/// On the real clock (no test clock): the request log's times show each
/// retry came no earlier than the server's back-off. Short hints keep it
/// under three seconds.
#[tokio::test]
async fn back_offs_are_honoured_on_the_real_clock() {
    let world = World::start().await;
    let dir = tenant(&world, "real-clock", &[], PERSON).await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Slow", "start": "2027-07-20T08:00:00Z", "end": "2027-07-20T09:00:00Z"}),
        )
        .await;
    world.emulator.inject_fault(fault(
        "SyncFolderItems",
        ALICE,
        1,
        FaultAction::EwsError {
            code: "ErrorServerBusy".into(),
            message: None,
            shape: ErrorShape::ResponseMessage,
            back_off_ms: Some(1_500),
        },
    ));
    world.emulator.inject_fault(fault(
        "GetItem",
        ALICE,
        1,
        FaultAction::HttpStatus {
            status: 503,
            retry_after: Some(1),
            body: None,
        },
    ));
    let mark = world.log_mark();
    let r = dir.sync(Some(ALICE)).await;
    assert_eq!(r.totals().to_rooms[0], 1, "{}", r.json);
    let alice: Vec<LogEntry> = world
        .ews_requests_since(mark, None)
        .into_iter()
        .filter(|e| on(ALICE, e))
        .collect();
    let mut checked = 0;
    for (i, e) in alice.iter().enumerate() {
        let Some(_) = &e.fault else { continue };
        let hint_ms = if e.operation.as_deref() == Some("GetItem") {
            1_000
        } else {
            1_500
        };
        let next = &alice[i + 1];
        let gap = ts(&next.time).as_millisecond() - ts(&e.time).as_millisecond();
        assert!(
            gap >= hint_ms,
            "the retry came {gap} ms after a back-off of {hint_ms} ms: {e:#?} {next:#?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2, "{alice:#?}");
    assert!(
        r.person(ALICE)["backoff_ms"].as_u64().unwrap() >= 2_500,
        "{}",
        r.json
    );
}

/// One conflict round: ROOMS and Outlook both change the subject, then a run.
async fn conflict_round(world: &World, dir: &TenantDir, id: &str, round: u32) -> Value {
    dir.ok(&[
        "booking",
        "update",
        id,
        "--subject",
        &format!("ROOMS {round}"),
    ])
    .await;
    let item_id = dir.booking(id).await["exchange"]["item_id"]
        .as_str()
        .unwrap_or_else(|| panic!("booking {id} is not linked"))
        .to_owned();
    world
        .outlook_patch(
            ALICE,
            &item_id,
            json!({"subject": format!("Outlook {round}")}),
        )
        .await;
    let r = dir.sync(None).await;
    assert_eq!(r.total("conflicts"), 1, "round {round}: {}", r.json);
    r.json
}

async fn subject_in_outlook(world: &World, item_id: &str) -> String {
    world
        .outlook_item(ALICE, item_id)
        .await
        .expect("the Outlook item stays")["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn difference<'a>(conflict: &'a Value, field: &str) -> &'a Value {
    conflict["differences"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["field"] == field))
        .unwrap_or_else(|| panic!("no difference in {field}: {conflict}"))
}

fn of_booking(records: Vec<Value>, id: &str) -> Vec<Value> {
    records.into_iter().filter(|r| r["booking"] == id).collect()
}

#[tokio::test]
async fn rollback_resets_outlook_and_disables_sync_after_n_attempts() {
    let world = World::start().await;
    let dir = tenant(&world, "rollback", &[("SyncRollbackAttempts", "2")], PERSON).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Contested",
            "--start",
            "2027-08-02T08:00:00Z",
            "--end",
            "2027-08-02T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let item_id = dir.booking(&id).await["exchange"]["item_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Two conflicts are rolled back: Outlook gets the ROOMS version.
    for round in 1..=2 {
        conflict_round(&world, &dir, &id, round).await;
        assert_eq!(
            subject_in_outlook(&world, &item_id).await,
            format!("ROOMS {round}")
        );
        let b = dir.booking(&id).await;
        assert_eq!(b["state"], "active", "round {round}: {b}");
        assert_eq!(b["subject"], format!("ROOMS {round}"));
        let conflicts = of_booking(dir.records("conflicts").await, &id);
        assert_eq!(conflicts.len() as u32, round, "{conflicts:#?}");
        let last = conflicts
            .iter()
            .find(|c| c["attempt"] == round)
            .expect("attempt numbered");
        assert_eq!(last["winner"], "rooms", "{last}");
        let d = difference(last, "subject");
        assert_eq!(d["rooms"], format!("ROOMS {round}"));
        assert_eq!(d["exchange"], format!("Outlook {round}"));
        let notices: Vec<Value> = of_booking(dir.records("outbox").await, &id)
            .into_iter()
            .filter(|n| n["kind"] == "conflict-rolled-back")
            .collect();
        assert_eq!(notices.len() as u32, round, "{notices:#?}");
        assert!(notices.iter().all(|n| n["recipient"] == ALICE));
        dir.assert_quiet(&world).await;
    }
    // The third is one too many: sync-disabled, Outlook left as it is.
    conflict_round(&world, &dir, &id, 3).await;
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "sync-disabled", "{b}");
    assert_eq!(subject_in_outlook(&world, &item_id).await, "Outlook 3");
    let conflicts = of_booking(dir.records("conflicts").await, &id);
    let last = conflicts
        .iter()
        .find(|c| c["attempt"] == 3)
        .expect("attempt 3");
    assert_eq!(last["winner"], "none", "{last}");
    let disabled: Vec<Value> = of_booking(dir.records("outbox").await, &id)
        .into_iter()
        .filter(|n| n["kind"] == "sync-disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "{disabled:#?}");
    assert_eq!(disabled[0]["recipient"], ALICE);
    dir.assert_quiet(&world).await;
    // Nothing is written for it while it is sync-disabled...
    let mark = world.log_mark();
    dir.sync(None).await;
    assert!(
        world.writes_since(mark).is_empty(),
        "{:#?}",
        world.writes_since(mark)
    );
    // ...until the organiser changes it in ROOMS: that edit is the answer,
    // the booking syncs again from zero attempts and Outlook gets it.
    let edited = dir
        .ok_json(&["booking", "update", &id, "--subject", "ROOMS 4"])
        .await;
    assert!(edited.is_object(), "{edited}");
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "active", "{b}");
    assert_eq!(b["attempts"], 0, "{b}");
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange[1], 1, "{}", r.json);
    assert_eq!(subject_in_outlook(&world, &item_id).await, "ROOMS 4");
    dir.assert_quiet(&world).await;
}

#[tokio::test]
async fn cancel_behaviour_cancels_the_booking_and_unlinks_after_n_attempts() {
    let world = World::start().await;
    let dir = tenant(
        &world,
        "cancel",
        &[("SyncCancelAttempts", "3")],
        &["--conflict", "Cancel"],
    )
    .await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Contested",
            "--start",
            "2027-08-03T08:00:00Z",
            "--end",
            "2027-08-03T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let item_id = dir.booking(&id).await["exchange"]["item_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Below the limit a conflict is rolled back.
    for round in 1..=2 {
        conflict_round(&world, &dir, &id, round).await;
        assert_eq!(
            subject_in_outlook(&world, &item_id).await,
            format!("ROOMS {round}")
        );
        assert_eq!(dir.booking(&id).await["state"], "active");
        let conflicts = of_booking(dir.records("conflicts").await, &id);
        assert_eq!(conflicts.len() as u32, round);
        assert!(
            conflicts.iter().all(|c| c["winner"] == "rooms"),
            "{conflicts:#?}"
        );
        dir.assert_quiet(&world).await;
    }
    // At the limit the ROOMS booking is cancelled, the Outlook item stays
    // as Outlook has it and is no longer linked.
    let r = conflict_round(&world, &dir, &id, 3).await;
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "cancelled", "{b} {r}");
    assert!(b["exchange"].is_null(), "unlinked: {b}");
    assert_eq!(subject_in_outlook(&world, &item_id).await, "Outlook 3");
    assert_eq!(
        resources(&world.outlook_item(ALICE, &item_id).await.unwrap()),
        [BERLIN]
    );
    let conflicts = of_booking(dir.records("conflicts").await, &id);
    let last = conflicts
        .iter()
        .find(|c| c["attempt"] == 3)
        .expect("attempt 3");
    assert_eq!(last["winner"], "exchange", "{last}");
    assert_eq!(difference(last, "subject")["exchange"], "Outlook 3");
    let cancelled: Vec<Value> = of_booking(dir.records("outbox").await, &id)
        .into_iter()
        .filter(|n| n["kind"] == "conflict-cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1, "{cancelled:#?}");
    assert_eq!(cancelled[0]["recipient"], ALICE);
    // Nothing is deleted in Exchange for the cancelled booking.
    dir.assert_quiet(&world).await;
    assert!(world.outlook_item(ALICE, &item_id).await.is_some());
    let all = dir.bookings().await;
    assert_eq!(
        all.len(),
        1,
        "the unlinked meeting is not imported again (round 3: {r}): {all:#?}"
    );
}

/// Outlook deletes the item while ROOMS changed the booking: a conflict;
/// `Rollback` puts the ROOMS booking back into Outlook, once.
#[tokio::test]
async fn rollback_recreates_an_item_deleted_in_outlook_meanwhile() {
    let world = World::start().await;
    let dir = tenant(&world, "rollback-deleted", &[], PERSON).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Deleted in Outlook",
            "--start",
            "2027-08-04T08:00:00Z",
            "--end",
            "2027-08-04T09:00:00Z",
            "--room",
            BERLIN,
        ])
        .await;
    dir.sync(None).await;
    dir.assert_quiet(&world).await;
    let item_id = dir.booking(&id).await["exchange"]["item_id"]
        .as_str()
        .unwrap()
        .to_owned();
    dir.ok(&["booking", "update", &id, "--subject", "Kept in ROOMS"])
        .await;
    world.outlook_delete(ALICE, &item_id).await;

    let r = dir.sync(None).await;
    assert_eq!(r.total("conflicts"), 1, "{}", r.json);
    let items = world.calendar_items(ALICE, "Kept in ROOMS").await;
    assert_eq!(
        items.len(),
        1,
        "the ROOMS version is back in Outlook: {items:#?}"
    );
    assert_eq!(
        extended_property(&items[0], "RoomsBookingId"),
        Some(id.as_str())
    );
    assert_eq!(world.calendar_items(BERLIN, "Kept in ROOMS").await.len(), 1);
    let b = dir.booking(&id).await;
    assert_eq!(b["state"], "active", "{b}");
    assert_eq!(b["exchange"]["item_id"], items[0]["id"], "{b}");
    let conflicts = of_booking(dir.records("conflicts").await, &id);
    assert_eq!(conflicts.len(), 1, "{conflicts:#?}");
    assert_eq!(conflicts[0]["winner"], "rooms");
    let notices: Vec<Value> = of_booking(dir.records("outbox").await, &id)
        .into_iter()
        .filter(|n| n["kind"] == "conflict-rolled-back")
        .collect();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    dir.assert_quiet(&world).await;
    assert_eq!(dir.bookings().await.len(), 1);
}

/// A series whose `CreateItem` answer is lost: one master in Exchange, with
/// the ROOMS exceptions written to it, and no second series.
#[tokio::test]
async fn a_lost_create_of_a_series_gives_one_series_with_its_exceptions() {
    let world = World::start().await;
    let dir = tenant(&world, "lost-series", &[], PERSON).await;
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Lost series",
            "--start",
            "2027-09-06T07:00:00Z",
            "--end",
            "2027-09-06T08:00:00Z",
            "--time-zone",
            "W. Europe Standard Time",
            "--room",
            BERLIN,
            "--weekly",
            "Monday",
            "--count",
            "4",
        ])
        .await;
    dir.ok(&["booking", "skip", &id, "--occurrence", "2027-09-13"])
        .await;
    world
        .emulator
        .inject_fault(fault("CreateItem", ALICE, 1, FaultAction::ResetAfter));
    let mark = world.log_mark();
    dir.sync_any(None).await;
    dir.sync(None).await;
    assert!(
        world
            .ews_requests_since(mark, Some("CreateItem"))
            .iter()
            .any(|e| e.fault.is_some()),
        "the fault fired"
    );
    let items = world.calendar_items(ALICE, "Lost series").await;
    assert_eq!(items.len(), 1, "one series: {items:#?}");
    assert_eq!(items[0]["calendar"]["type"], "RecurringMaster");
    assert_eq!(
        items[0]["calendar"]["deleted_occurrences"],
        json!(["2027-09-13T07:00:00Z"]),
        "{}",
        items[0]
    );
    assert_eq!(world.calendar_items(BERLIN, "Lost series").await.len(), 1);
    assert_eq!(
        dir.booking(&id).await["exchange"]["item_id"],
        items[0]["id"]
    );
    dir.assert_quiet(&world).await;
}

/// A calendar larger than one `SyncFolderItems` page (512 changes): the
/// import pages to the end and fetches in `SyncGetItemBatchSize` batches;
/// a later invalid sync state re-reads every page and still finds the one
/// deletion, with nothing duplicated.
#[tokio::test]
async fn a_calendar_larger_than_a_page_imports_and_resyncs_without_losses() {
    const N: usize = 600;
    let world = World::start().await;
    let dir = tenant(&world, "large", &[("SyncGetItemBatchSize", "250")], PERSON).await;
    let mut ids = Vec::new();
    for i in 0..N {
        let day = 1 + i / 24;
        let hour = i % 24;
        let item = world
            .outlook_create(
                ALICE,
                json!({"subject": format!("Item {i:03}"),
                       "start": format!("2028-01-{:02}T{hour:02}:00:00Z", day),
                       "end": format!("2028-01-{:02}T{hour:02}:30:00Z", day)}),
            )
            .await;
        ids.push(item["id"].as_str().unwrap().to_owned());
    }
    let mark = world.log_mark();
    let r = dir.sync(Some(ALICE)).await;
    assert_eq!(r.totals().to_rooms, [N as u64, 0, 0], "{}", r.json);
    assert_eq!(dir.bookings().await.len(), N);
    let pages = world.ews_requests_since(mark, Some("SyncFolderItems"));
    assert!(pages.len() >= 2, "more than one page: {}", pages.len());
    let gets = world.ews_requests_since(mark, Some("GetItem")).len();
    assert!(
        (3..=4).contains(&gets),
        "{gets} GetItem requests for {N} items in batches of 250"
    );
    dir.assert_quiet(&world).await;

    world.outlook_delete(ALICE, &ids[7]).await;
    world.emulator.inject_fault(fault(
        "SyncFolderItems",
        ALICE,
        1,
        FaultAction::InvalidSyncState,
    ));
    let r = dir.sync(Some(ALICE)).await;
    assert_eq!(r.totals().to_rooms, [0, 0, 1], "{}", r.json);
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let all = dir.bookings().await;
    assert_eq!(all.len(), N, "nothing duplicated");
    let cancelled: Vec<&Value> = all.iter().filter(|b| b["state"] == "cancelled").collect();
    assert_eq!(cancelled.len(), 1, "{cancelled:#?}");
    assert_eq!(cancelled[0]["subject"], "Item 007");
    dir.assert_quiet(&world).await;
}
