//! Unit tests of the ROOMS database.

use super::migrations::MIGRATIONS;
use super::*;
use rusqlite::Connection;

#[test]
fn persons_round_trip_through_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rooms.db");
    {
        let db = RoomsDb::open(&path).unwrap();
        let mut room = Person::new("Room.Berlin@Contoso.com", SyncMode::O365Pull)
            .unwrap()
            .with_sync_url("https://outlook.office365.com/EWS/Exchange.asmx")
            .unwrap();
        room.conflict = ConflictBehaviour::Cancel;
        db.add_person(&room).unwrap();
        db.add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
            .unwrap();
    }
    let db = RoomsDb::open(&path).unwrap();
    let all = db.list_persons().unwrap();
    assert_eq!(
        all.iter().map(|p| p.email.as_str()).collect::<Vec<_>>(),
        ["adele@contoso.com", "room.berlin@contoso.com"]
    );
    let room = db.get_person("ROOM.berlin@contoso.com").unwrap().unwrap();
    assert_eq!(room.sync_mode, SyncMode::O365Pull);
    assert_eq!(room.conflict, ConflictBehaviour::Cancel);
    assert!(db.remove_person("room.berlin@contoso.com").unwrap());
    assert!(!db.remove_person("room.berlin@contoso.com").unwrap());
    assert_eq!(db.list_persons().unwrap().len(), 1);
}

#[test]
fn duplicates_and_bad_input_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
    let p = Person::new("adele@contoso.com", SyncMode::O365).unwrap();
    db.add_person(&p).unwrap();
    let err = db.add_person(&p).unwrap_err();
    assert!(
        err.to_string().contains("person remove adele@contoso.com"),
        "{err}"
    );
    for bad in [
        "adele",
        "@contoso.com",
        "a@b",
        "a b@contoso.com",
        "a@contoso.com.",
    ] {
        assert!(
            matches!(
                Person::new(bad, SyncMode::O365),
                Err(DbError::InvalidEmail(_))
            ),
            "{bad}"
        );
    }
    let err = p.with_sync_url("outlook.office365.com/EWS").unwrap_err();
    assert!(err.to_string().contains("absolute https URL"), "{err}");
}

#[test]
fn an_unopenable_file_names_the_path() {
    let err = RoomsDb::open(Path::new("/nonexistent-dir/rooms.db")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/rooms.db"),
        "{err}"
    );
}

#[test]
fn concurrent_first_opens_migrate_exactly_once() {
    // Eight connections (as eight processes would) open the same new
    // file at once, fifty times over.
    for round in 0..50 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rooms.db");
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    RoomsDb::open(&path).map(|db| db.list_persons().map(|p| p.len()))
                })
            })
            .collect();
        for opener in openers {
            let listed = opener.join().unwrap();
            assert!(matches!(listed, Ok(Ok(0))), "round {round}: {listed:?}");
        }
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, MIGRATIONS.len());
    }
}

#[test]
fn a_bad_row_is_reported_for_its_person_and_the_rest_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rooms.db");
    let db = RoomsDb::open(&path).unwrap();
    for email in ["a@contoso.com", "c@contoso.com"] {
        db.add_person(&Person::new(email, SyncMode::O365).unwrap())
            .unwrap();
    }
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "INSERT INTO persons VALUES ('b@contoso.com', 'O365Push', 'https://x', 'Rollback', 0);
         INSERT INTO persons VALUES ('d@contoso.com', 'O365', 'https://x', 'Rollback', 'yes');
         INSERT INTO persons VALUES (X'FF00', 'O365', 'https://x', 'Rollback', 0);",
    )
    .unwrap();
    let rows = db.list_person_rows().unwrap();
    let shown: Vec<(String, bool)> = rows
        .iter()
        .map(|r| (r.email().to_string(), matches!(r, PersonRow::Valid(_))))
        .collect();
    assert_eq!(
        shown,
        [
            ("a@contoso.com".to_string(), true),
            ("b@contoso.com".to_string(), false),
            ("c@contoso.com".to_string(), true),
            ("d@contoso.com".to_string(), false),
            ("a blob of 2 bytes".to_string(), false),
        ]
    );
    let PersonRow::Unreadable { problem, .. } = &rows[1] else {
        unreachable!()
    };
    assert!(
        problem
            .to_string()
            .contains("sync mode `O365Push` for b@contoso.com"),
        "{problem}"
    );
    assert!(matches!(
        db.get_person_row("d@contoso.com").unwrap(),
        Some(PersonRow::Unreadable { .. })
    ));
    assert!(db.get_person("c@contoso.com").unwrap().is_some());
    assert!(db.get_person("b@contoso.com").is_err());
}

// ---------------------------------------------------------------------------
// Bookings, pages and migrations.

fn t(rfc3339: &str) -> Instant {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_second()
}

/// A tenant with a person (adele), a room (room.berlin) and the database.
fn tenant_db() -> (tempfile::TempDir, RoomsDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
    db.add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
        .unwrap();
    db.add_person(
        &Person::new("room.berlin@contoso.com", SyncMode::O365Pull)
            .unwrap()
            .as_room(true),
    )
    .unwrap();
    (dir, db)
}

fn meeting(organiser: &str, subject: &str) -> BookingFields {
    BookingFields {
        organiser: organiser.into(),
        rooms: vec!["Room.Berlin@contoso.com".into()],
        subject: subject.into(),
        start: t("2026-05-04T07:00:00Z"),
        end: t("2026-05-04T08:00:00Z"),
        time_zone: "W. Europe Standard Time".into(),
        all_day: false,
        reminder_minutes: Some(15),
        private: false,
        free_busy: FreeBusy::Busy,
        attendees: vec![Attendee {
            email: "Bob@Fabrikam.com".into(),
            kind: AttendeeKind::Required,
        }],
        recurrence: None,
    }
}

fn link(mailbox: &str, item: &str, uid: &str) -> ExchangeLink {
    ExchangeLink {
        mailbox: mailbox.into(),
        item_id: item.into(),
        change_key: format!("ck-{item}"),
        uid: uid.into(),
        fingerprint: format!("fp-{item}"),
    }
}

fn write(booking: Booking, base: Option<u64>, effect: WriteEffect) -> BookingWrite {
    BookingWrite {
        booking,
        base_revision: base,
        effect,
    }
}

fn page(mailbox: &str) -> Page {
    Page {
        mailbox: mailbox.into(),
        ..Page::default()
    }
}

/// A booking as the component would import it from Exchange.
fn imported(id: &str, subject: &str) -> Booking {
    let mut fields = meeting("adele@contoso.com", subject);
    fields.organiser = "adele@contoso.com".into();
    fields.rooms = vec!["room.berlin@contoso.com".into()];
    Booking {
        id: id.into(),
        fields,
        state: BookingState::Active,
        home: "adele@contoso.com".into(),
        revision: 0,
        synced_revision: 0,
        links: vec![link(
            "adele@contoso.com",
            &format!("item-{id}"),
            &format!("uid-{id}"),
        )],
        attempts: 0,
        last_error: None,
    }
}

#[test]
fn an_old_persons_only_database_opens_and_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rooms.db");
    {
        // rooms.db as version 1 wrote it: persons only.
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(MIGRATIONS[0]).unwrap();
        raw.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO persons VALUES ('adele@contoso.com', 'O365', 'https://x.example/EWS', 'Cancel', 0);",
        )
        .unwrap();
    }
    let db = RoomsDb::open(&path).unwrap();
    let version: i64 = db
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, MIGRATIONS.len());
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert_eq!(adele.conflict, ConflictBehaviour::Cancel);
    assert!(!adele.room && !adele.sync_master);
    // The migrated file takes bookings.
    let booking = db
        .add_booking(meeting("adele@contoso.com", "After the upgrade"))
        .unwrap();
    assert_eq!(booking.home, "adele@contoso.com");
    drop(db);
    // Opening again changes nothing.
    let db = RoomsDb::open(&path).unwrap();
    assert_eq!(db.list_bookings(None).unwrap().len(), 1);
}

#[test]
fn rooms_and_sync_masters_are_stored_and_sync_master_needs_a_room() {
    let (_dir, db) = tenant_db();
    let room = db.get_person("room.berlin@contoso.com").unwrap().unwrap();
    assert!(room.room && room.sync_master);
    let mut wrong = Person::new("carl@contoso.com", SyncMode::O365).unwrap();
    wrong.sync_master = true;
    let err = db.add_person(&wrong).unwrap_err();
    assert!(err.to_string().contains("--room --sync-master"), "{err}");
    assert!(db.get_person("carl@contoso.com").unwrap().is_none());
    // Removing a room removes its flags: added again as a person, it is one.
    assert!(db.remove_person("room.berlin@contoso.com").unwrap());
    db.add_person(&Person::new("room.berlin@contoso.com", SyncMode::O365).unwrap())
        .unwrap();
    let again = db.get_person("room.berlin@contoso.com").unwrap().unwrap();
    assert!(!again.room && !again.sync_master);
}

#[test]
fn a_booking_made_in_rooms_is_pending_with_a_new_id_and_its_home() {
    let (_dir, db) = tenant_db();
    let booking = db
        .add_booking(meeting("Adele@Contoso.com", "Planning"))
        .unwrap();
    let id = &booking.id;
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a UUIDv4: {id}");
    assert_eq!((booking.revision, booking.synced_revision), (1, 0));
    assert_eq!(booking.state, BookingState::Active);
    assert_eq!(booking.home, "adele@contoso.com");
    assert_eq!(booking.fields.organiser, "adele@contoso.com");
    assert_eq!(booking.fields.rooms, ["room.berlin@contoso.com"]);
    assert_eq!(
        booking.fields.attendees,
        [
            Attendee {
                email: "bob@fabrikam.com".into(),
                kind: AttendeeKind::Required
            },
            Attendee {
                email: "room.berlin@contoso.com".into(),
                kind: AttendeeKind::Resource
            },
        ]
    );
    let pending = db.pending_changes("ADELE@contoso.com", 10).unwrap();
    assert_eq!(pending, std::slice::from_ref(&booking));
    assert_eq!(db.get_booking(id).unwrap(), Some(booking));

    // An outside organiser: the booking lives in the room's calendar.
    let outside = db
        .add_booking(meeting("bob@fabrikam.com", "Visit"))
        .unwrap();
    assert_eq!(outside.home, "room.berlin@contoso.com");

    // Neither organiser nor room is a person: refused, with the fix.
    let mut nowhere = meeting("bob@fabrikam.com", "Lost");
    nowhere.rooms = vec!["room.paris@contoso.com".into()];
    let err = db.add_booking(nowhere).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("person add bob@fabrikam.com"), "{text}");
    assert!(text.contains("--room"), "{text}");
    assert_eq!(db.list_bookings(None).unwrap().len(), 2);
}

#[test]
fn bad_booking_fields_are_refused_with_the_fix() {
    let (_dir, db) = tenant_db();
    let cases: Vec<(BookingFields, &str)> = vec![
        (
            BookingFields {
                end: t("2026-05-04T06:00:00Z"),
                ..meeting("adele@contoso.com", "x")
            },
            "not after the start",
        ),
        (
            BookingFields {
                time_zone: "Europe/Berlin".into(),
                ..meeting("adele@contoso.com", "x")
            },
            "W. Europe Standard Time",
        ),
        (
            BookingFields {
                all_day: true,
                ..meeting("adele@contoso.com", "x")
            },
            "midnight to midnight",
        ),
        (
            BookingFields {
                organiser: "adele".into(),
                ..meeting("adele@contoso.com", "x")
            },
            "primary SMTP address",
        ),
        (
            BookingFields {
                subject: "a\nb".into(),
                ..meeting("adele@contoso.com", "x")
            },
            "one line",
        ),
    ];
    for (fields, expected) in cases {
        let err = db.add_booking(fields).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert!(db.list_bookings(None).unwrap().is_empty());
}

#[test]
fn rooms_side_changes_bump_the_revision_and_stay_pending() {
    let (_dir, db) = tenant_db();
    let booking = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    let id = booking.id.clone();
    let mut fields = booking.fields.clone();
    fields.subject = "Planning (room 2)".into();
    let updated = db.update_booking(&id, fields.clone()).unwrap();
    assert_eq!((updated.revision, updated.synced_revision), (2, 0));
    // The same fields again change nothing.
    let same = db.update_booking(&id, fields).unwrap();
    assert_eq!(same.revision, 2);
    let (cancelled, changed) = db.cancel_booking(&id).unwrap();
    assert!(changed);
    assert_eq!(cancelled.state, BookingState::Cancelled);
    assert_eq!(cancelled.revision, 3);
    // A cancellation is pending until it is written.
    assert_eq!(
        db.pending_changes("adele@contoso.com", 10).unwrap().len(),
        1
    );
    let (_, changed) = db.cancel_booking(&id).unwrap();
    assert!(!changed);
    let err = db
        .update_booking(&id, meeting("adele@contoso.com", "Back"))
        .unwrap_err();
    assert!(matches!(err, DbError::BookingCancelled(_)), "{err}");
    let err = db.cancel_booking("no-such-id").unwrap_err();
    assert!(err.to_string().contains("booking list"), "{err}");
}

#[test]
fn from_exchange_stores_the_fields_bumps_the_revision_and_clears_pending() {
    let (_dir, db) = tenant_db();
    let made = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    let mut from_outlook = made.clone();
    from_outlook.fields.subject = "Planning (moved in Outlook)".into();
    from_outlook.links = vec![link("adele@contoso.com", "AAMk1", "uid-1")];
    let mut p = page("adele@contoso.com");
    p.bookings
        .push(write(from_outlook, Some(1), WriteEffect::FromExchange));
    // A meeting first seen in Exchange.
    p.bookings.push(write(
        imported("imp-1", "Imported"),
        None,
        WriteEffect::FromExchange,
    ));
    p.sync_state = Some("H4sIAAAA-state-1".into());
    db.commit(&p).unwrap();

    let stored = db.get_booking(&made.id).unwrap().unwrap();
    assert_eq!(stored.fields.subject, "Planning (moved in Outlook)");
    assert_eq!((stored.revision, stored.synced_revision), (2, 2));
    assert!(!stored.is_pending());
    let new = db.get_booking("imp-1").unwrap().unwrap();
    assert_eq!((new.revision, new.synced_revision), (1, 1));
    assert!(
        db.pending_changes("adele@contoso.com", 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.sync_state("adele@contoso.com").unwrap().as_deref(),
        Some("H4sIAAAA-state-1")
    );
    // Found by id, by UID and by item; unknown keys find nothing.
    let found = db
        .find_bookings(&[
            BookingKey::Uid("uid-1".into()),
            BookingKey::Item(ItemRef {
                mailbox: "Adele@Contoso.com".into(),
                item_id: "item-imp-1".into(),
            }),
            BookingKey::Id(made.id.clone()),
            BookingKey::Uid("nope".into()),
        ])
        .unwrap();
    let ids: Vec<Option<&str>> = found
        .iter()
        .map(|b| b.as_ref().map(|b| b.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            Some(made.id.as_str()),
            Some("imp-1"),
            Some(made.id.as_str()),
            None
        ]
    );
    assert_eq!(found[0].as_ref().unwrap().links.len(), 1);
}

#[test]
fn a_stale_page_stores_nothing() {
    let (_dir, db) = tenant_db();
    let made = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    // The component read revision 1; then ROOMS changed the booking.
    let mut changed = made.fields.clone();
    changed.subject = "Changed in ROOMS".into();
    db.update_booking(&made.id, changed).unwrap();

    let mut p = page("adele@contoso.com");
    p.bookings.push(write(
        imported("imp-1", "Imported"),
        None,
        WriteEffect::FromExchange,
    ));
    p.bookings
        .push(write(made.clone(), Some(1), WriteEffect::FromExchange));
    p.sync_state = Some("state-2".into());
    p.unlinked.push(ItemRef {
        mailbox: "adele@contoso.com".into(),
        item_id: "whatever".into(),
    });
    p.notices.push(Notice {
        booking: Some(made.id.clone()),
        recipient: "adele@contoso.com".into(),
        kind: NoticeKind::RoomDeclined,
        message: "The room declined.".into(),
        at: 1,
    });
    p.quarantined.push(QuarantinedItem {
        item: ItemRef {
            mailbox: "adele@contoso.com".into(),
            item_id: "bad".into(),
        },
        subject: "?".into(),
        reason: "unreadable".into(),
    });
    let err = db.commit(&p).unwrap_err();
    assert_eq!(err, CommitError::Stale(vec![made.id.clone()]));
    assert!(db.get_booking("imp-1").unwrap().is_none());
    assert_eq!(db.sync_state("adele@contoso.com").unwrap(), None);
    assert!(db.list_notices().unwrap().is_empty());
    assert!(db.list_quarantined().unwrap().is_empty());
    let stored = db.get_booking(&made.id).unwrap().unwrap();
    assert_eq!(stored.fields.subject, "Changed in ROOMS");
    assert_eq!((stored.revision, stored.synced_revision), (2, 0));

    // A from-exchange create of an id that exists is stale too.
    let mut p = page("adele@contoso.com");
    p.bookings.push(write(
        imported(&made.id, "Twin"),
        None,
        WriteEffect::FromExchange,
    ));
    assert_eq!(
        db.commit(&p).unwrap_err(),
        CommitError::Stale(vec![made.id.clone()])
    );
}

#[test]
fn written_with_a_change_made_meanwhile_stays_pending() {
    let (_dir, db) = tenant_db();
    let made = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    // The component writes revision 1; meanwhile ROOMS makes revision 2.
    let mut changed = made.fields.clone();
    changed.subject = "Changed meanwhile".into();
    db.update_booking(&made.id, changed).unwrap();
    let mut written = made.clone();
    written.links = vec![
        link("adele@contoso.com", "AAMk1", "uid-1"),
        link("room.berlin@contoso.com", "AAMk2", "uid-1"),
    ];
    written.attempts = 0;
    let mut p = page("adele@contoso.com");
    p.bookings
        .push(write(written.clone(), Some(1), WriteEffect::Written));
    db.commit(&p).unwrap();
    let stored = db.get_booking(&made.id).unwrap().unwrap();
    assert_eq!((stored.revision, stored.synced_revision), (2, 1));
    assert_eq!(stored.fields.subject, "Changed meanwhile");
    assert_eq!(stored.links.len(), 2);
    assert_eq!(
        db.pending_changes("adele@contoso.com", 10).unwrap()[0].id,
        made.id
    );
    // Writing revision 2 settles it; a cancellation written is applied.
    written.state = BookingState::Cancelled;
    let mut p = page("adele@contoso.com");
    p.bookings
        .push(write(written, Some(2), WriteEffect::Written));
    db.commit(&p).unwrap();
    let stored = db.get_booking(&made.id).unwrap().unwrap();
    assert_eq!((stored.revision, stored.synced_revision), (2, 2));
    assert_eq!(stored.state, BookingState::Cancelled);
    assert!(
        db.pending_changes("adele@contoso.com", 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bookkeeping_keeps_the_counters() {
    let (_dir, db) = tenant_db();
    let made = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    let mut kept = made.clone();
    kept.fields.subject = "ignored: bookkeeping keeps the fields".into();
    kept.attempts = 5;
    kept.last_error = Some("ErrorIrresolvableConflict five times".into());
    kept.state = BookingState::SyncDisabled;
    kept.links = vec![link("adele@contoso.com", "AAMk1", "uid-1")];
    let mut p = page("adele@contoso.com");
    p.bookings.push(write(kept, None, WriteEffect::Bookkeeping));
    db.commit(&p).unwrap();
    let stored = db.get_booking(&made.id).unwrap().unwrap();
    assert_eq!((stored.revision, stored.synced_revision), (1, 0));
    assert_eq!(stored.fields.subject, "Planning");
    assert_eq!(stored.attempts, 5);
    assert_eq!(stored.state, BookingState::SyncDisabled);
    assert_eq!(stored.links.len(), 1);
    // Sync-disabled bookings are not pending changes.
    assert!(
        db.pending_changes("adele@contoso.com", 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_sync_state_is_never_empty() {
    let (_dir, db) = tenant_db();
    let mut p = page("adele@contoso.com");
    p.sync_state = Some("state-1".into());
    db.commit(&p).unwrap();
    for empty in ["", "   "] {
        let mut p = page("adele@contoso.com");
        p.sync_state = Some(empty.into());
        p.notices.push(Notice {
            booking: None,
            recipient: "adele@contoso.com".into(),
            kind: NoticeKind::AmbiguousRooms,
            message: "two rooms".into(),
            at: 1,
        });
        let err = db.commit(&p).unwrap_err();
        assert!(
            matches!(&err, CommitError::Invalid(text) if text.contains("sync state is empty")),
            "{err:?}"
        );
    }
    assert!(db.list_notices().unwrap().is_empty());
    // None keeps the stored state.
    db.commit(&page("adele@contoso.com")).unwrap();
    assert_eq!(
        db.sync_state("adele@contoso.com").unwrap().as_deref(),
        Some("state-1")
    );
    assert!(db.reset_sync_state("adele@contoso.com").unwrap());
    assert_eq!(db.sync_state("adele@contoso.com").unwrap(), None);
}

#[test]
fn inconsistent_pages_are_invalid_and_store_nothing() {
    let (_dir, db) = tenant_db();
    let made = db
        .add_booking(meeting("adele@contoso.com", "Planning"))
        .unwrap();
    let mut two_links = made.clone();
    two_links.links = vec![
        link("adele@contoso.com", "A", "u"),
        link("adele@contoso.com", "B", "u"),
    ];
    let cases: Vec<(BookingWrite, &str)> = vec![
        (
            write(imported("ghost", "x"), Some(3), WriteEffect::FromExchange),
            "unknown but has base revision 3",
        ),
        (
            write(imported("ghost", "x"), None, WriteEffect::Written),
            "is unknown",
        ),
        (
            write(made.clone(), None, WriteEffect::Written),
            "without a base revision",
        ),
        (
            write(made.clone(), Some(9), WriteEffect::Written),
            "newer than the stored revision 1",
        ),
        (
            write(two_links, None, WriteEffect::Bookkeeping),
            "two links into adele@contoso.com",
        ),
    ];
    for (w, expected) in cases {
        let mut p = page("adele@contoso.com");
        p.sync_state = Some("state".into());
        p.bookings.push(w);
        match db.commit(&p) {
            Err(CommitError::Invalid(text)) => assert!(text.contains(expected), "{text}"),
            other => panic!("{expected}: {other:?}"),
        }
    }
    assert_eq!(db.sync_state("adele@contoso.com").unwrap(), None);
    assert_eq!(db.get_booking(&made.id).unwrap().unwrap(), made);
}

#[test]
fn links_move_to_the_booking_that_names_them_and_unlinked_items_drop() {
    let (_dir, db) = tenant_db();
    let mut p = page("adele@contoso.com");
    p.bookings
        .push(write(imported("a", "A"), None, WriteEffect::FromExchange));
    db.commit(&p).unwrap();
    // The same item turns out to belong to booking b.
    let mut b = imported("b", "B");
    b.links = vec![link("adele@contoso.com", "item-a", "uid-a")];
    let mut p = page("adele@contoso.com");
    p.bookings.push(write(b, None, WriteEffect::FromExchange));
    db.commit(&p).unwrap();
    assert!(db.get_booking("a").unwrap().unwrap().links.is_empty());
    assert_eq!(db.get_booking("b").unwrap().unwrap().links.len(), 1);
    assert_eq!(
        db.linked_items("ADELE@contoso.com").unwrap(),
        [ItemRef {
            mailbox: "adele@contoso.com".into(),
            item_id: "item-a".into()
        }]
    );
    let mut p = page("adele@contoso.com");
    p.unlinked.push(ItemRef {
        mailbox: "adele@contoso.com".into(),
        item_id: "item-a".into(),
    });
    db.commit(&p).unwrap();
    assert!(db.get_booking("b").unwrap().unwrap().links.is_empty());
    assert!(db.linked_items("adele@contoso.com").unwrap().is_empty());
}

#[test]
fn conflicts_notices_and_quarantined_items_are_kept_for_operators() {
    let (_dir, db) = tenant_db();
    let item = ItemRef {
        mailbox: "room.berlin@contoso.com".into(),
        item_id: "AAMkBad".into(),
    };
    let mut p = page("room.berlin@contoso.com");
    p.conflicts.push(Conflict {
        booking: "b-1".into(),
        mailbox: "room.berlin@contoso.com".into(),
        differences: vec![FieldDifference {
            field: "subject".into(),
            rooms: "Planning".into(),
            exchange: "Planning\u{1b}[31m (Outlook)".into(),
        }],
        winner: ConflictWinner::Rooms,
        attempt: 1,
        at: 100,
    });
    p.notices.push(Notice {
        booking: Some("b-1".into()),
        recipient: "Adele@contoso.com".into(),
        kind: NoticeKind::ConflictRolledBack,
        message: "Your Outlook change was reset.".into(),
        at: 100,
    });
    p.quarantined.push(QuarantinedItem {
        item: item.clone(),
        subject: "Broken".into(),
        reason: "no start".into(),
    });
    db.commit(&p).unwrap();
    let conflicts = db.list_conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].conflict.winner, ConflictWinner::Rooms);
    // Control characters from the component do not reach a terminal.
    assert!(
        !conflicts[0].conflict.differences[0]
            .exchange
            .contains('\u{1b}')
    );
    let notices = db.list_notices().unwrap();
    assert_eq!(notices[0].notice.recipient, "adele@contoso.com");
    assert_eq!(notices[0].notice.kind, NoticeKind::ConflictRolledBack);
    // Quarantining the same item again replaces its entry; releasing drops it.
    let mut p = page("room.berlin@contoso.com");
    p.quarantined.push(QuarantinedItem {
        item: item.clone(),
        subject: "Broken".into(),
        reason: "still no start".into(),
    });
    db.commit(&p).unwrap();
    let q = db.list_quarantined().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].item.reason, "still no start");
    let mut p = page("room.berlin@contoso.com");
    p.released.push(item);
    db.commit(&p).unwrap();
    assert!(db.list_quarantined().unwrap().is_empty());
}

#[test]
fn occurrences_are_skipped_and_moved_in_rooms() {
    let (_dir, db) = tenant_db();
    let mut fields = meeting("adele@contoso.com", "Stand-up");
    fields.recurrence = Some(Recurrence {
        pattern: Pattern::Weekly {
            interval: 1,
            days: vec![Weekday::Monday],
            first_day_of_week: Weekday::Monday,
        },
        range: RecurrenceRange {
            start: Date {
                year: 2000,
                month: 1,
                day: 1,
            },
            end: None,
            count: None,
        },
        modified: Vec::new(),
        deleted: Vec::new(),
    });
    let series = db.add_booking(fields).unwrap();
    let r = series.fields.recurrence.as_ref().unwrap();
    // The range start is the local date of the start.
    assert_eq!(r.range.start.to_string(), "2026-05-04");
    let second = t("2026-05-11T07:00:00Z");
    let skipped = db.skip_occurrence(&series.id, second).unwrap();
    assert_eq!(skipped.revision, 2);
    assert_eq!(
        skipped.fields.recurrence.as_ref().unwrap().deleted,
        [second]
    );
    let err = db.skip_occurrence(&series.id, second).unwrap_err();
    assert!(err.to_string().contains("already skipped"), "{err}");
    let err = db
        .skip_occurrence(&series.id, t("2026-05-12T07:00:00Z"))
        .unwrap_err();
    assert!(err.to_string().contains("booking occurrences"), "{err}");

    let third = t("2026-05-18T07:00:00Z");
    let moved = db
        .move_occurrence(
            &series.id,
            third,
            t("2026-05-19T12:00:00Z"),
            t("2026-05-19T13:00:00Z"),
        )
        .unwrap();
    assert_eq!(moved.revision, 3);
    let modified = &moved.fields.recurrence.as_ref().unwrap().modified;
    assert_eq!(modified.len(), 1);
    assert_eq!(modified[0].subject, "Stand-up");
    // Moved back to its own time, it is no exception any more.
    let back = db
        .move_occurrence(&series.id, third, third, third + 3600)
        .unwrap();
    assert!(back.fields.recurrence.as_ref().unwrap().modified.is_empty());
    let err = db
        .move_occurrence(&series.id, second, third, third + 60)
        .unwrap_err();
    assert!(err.to_string().contains("skipped"), "{err}");
}

#[test]
fn pending_changes_come_oldest_first_and_at_most_the_limit() {
    let (_dir, db) = tenant_db();
    let ids: Vec<String> = (0..4)
        .map(|n| {
            db.add_booking(meeting("adele@contoso.com", &format!("m{n}")))
                .unwrap()
                .id
        })
        .collect();
    // A later change of the first keeps its place.
    let first = db.get_booking(&ids[0]).unwrap().unwrap();
    let mut fields = first.fields.clone();
    fields.subject = "m0 again".into();
    db.update_booking(&ids[0], fields).unwrap();
    let pending: Vec<String> = db
        .pending_changes("adele@contoso.com", 3)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(pending, ids[..3]);
    assert!(
        db.pending_changes("room.berlin@contoso.com", 3)
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------
// The service's side: subscriptions, failures, deactivation (migration 3).

fn ts(rfc3339: &str) -> jiff::Timestamp {
    rfc3339.parse().unwrap()
}

fn pull_subscription(mailbox: &str, id: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        mailbox: mailbox.into(),
        mode: SyncMode::O365Pull,
        id: id.into(),
        watermark: format!("wm-{id}-0"),
        affinity: Some("affinity-cookie".into()),
        callback_url: None,
        created_at: ts("2026-05-04T07:00:00Z"),
        last_event_at: ts("2026-05-04T07:00:00Z"),
    }
}

#[test]
fn a_version_2_database_with_data_migrates_to_the_service_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rooms.db");
    let booking_id = {
        // rooms.db as version 2 wrote it (migration 3 only adds tables, so
        // dropping them gives version 2's schema), with a person disabled by
        // that version (the flag, no reason) and a pending booking.
        let db = RoomsDb::open(&path).unwrap();
        db.add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
            .unwrap();
        let id = db
            .add_booking(meeting("adele@contoso.com", "Before the upgrade"))
            .unwrap()
            .id;
        drop(db);
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "DROP TABLE subscriptions; DROP TABLE person_failures; DROP TABLE person_disabled;
             DROP TABLE ignored_differences; DROP TABLE probe_subscriptions;
             PRAGMA user_version = 2;
             UPDATE persons SET sync_disabled = 1;",
        )
        .unwrap();
        let version: i64 = raw
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
        id
    };
    let db = RoomsDb::open(&path).unwrap();
    let version: i64 = db
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, MIGRATIONS.len());
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert!(adele.sync_disabled);
    assert_eq!((adele.disabled_reason, adele.disabled_at), (None, None));
    assert_eq!(db.get_booking(&booking_id).unwrap().unwrap().revision, 1);
    assert!(db.list_subscriptions().unwrap().is_empty());
    db.save_subscription(&pull_subscription("adele@contoso.com", "s1"))
        .unwrap();
    assert!(db.enable_person("adele@contoso.com").unwrap());
    assert!(
        !db.get_person("adele@contoso.com")
            .unwrap()
            .unwrap()
            .sync_disabled
    );
    // The version-1 test above covers 1 → 3 in one go.
}

#[test]
fn subscriptions_are_one_per_mailbox_and_found_by_id() {
    let (_dir, db) = tenant_db();
    let mut first = pull_subscription("Adele@Contoso.com", "s1");
    db.save_subscription(&first).unwrap();
    first.mailbox = "adele@contoso.com".into();
    assert_eq!(
        db.subscription("ADELE@contoso.com").unwrap(),
        Some(first.clone())
    );
    assert_eq!(db.subscription_by_id("s1").unwrap(), Some(first.clone()));
    assert_eq!(db.subscription_by_id("S1").unwrap(), None, "ids are exact");

    let push = SubscriptionRecord {
        mailbox: "room.berlin@contoso.com".into(),
        mode: SyncMode::O365,
        id: "p1".into(),
        watermark: "wm-p1".into(),
        affinity: None,
        callback_url: Some("https://rooms.contoso.com/ews/notify".into()),
        created_at: ts("2026-05-04T07:30:00.25Z"),
        last_event_at: ts("2026-05-04T07:30:00.25Z"),
    };
    db.save_subscription(&push).unwrap();
    assert_eq!(db.subscription_by_id("p1").unwrap(), Some(push.clone()));

    // A new subscription of the same mailbox replaces the old one.
    let second = SubscriptionRecord {
        created_at: ts("2026-05-04T09:00:00Z"),
        last_event_at: ts("2026-05-04T09:00:00Z"),
        affinity: None,
        ..pull_subscription("adele@contoso.com", "s2")
    };
    db.save_subscription(&second).unwrap();
    assert_eq!(db.subscription_by_id("s1").unwrap(), None);
    assert_eq!(
        db.list_subscriptions().unwrap(),
        [second.clone(), push.clone()]
    );

    // Events advance the current id only.
    assert!(
        !db.record_subscription_event("s1", "wm-stale", ts("2026-05-04T10:00:00Z"))
            .unwrap()
    );
    assert!(
        db.record_subscription_event("s2", "wm-s2-1", ts("2026-05-04T10:00:00Z"))
            .unwrap()
    );
    let advanced = db.subscription("adele@contoso.com").unwrap().unwrap();
    assert_eq!(advanced.watermark, "wm-s2-1");
    assert_eq!(advanced.last_event_at, ts("2026-05-04T10:00:00Z"));
    assert_eq!(advanced.created_at, second.created_at);

    assert!(db.delete_subscription("ADELE@contoso.com").unwrap());
    assert!(!db.delete_subscription("adele@contoso.com").unwrap());
    assert_eq!(db.list_subscriptions().unwrap(), [push]);
}

#[test]
fn an_unreadable_subscription_names_its_mailbox_and_column() {
    let (_dir, db) = tenant_db();
    db.save_subscription(&pull_subscription("adele@contoso.com", "s1"))
        .unwrap();
    db.conn()
        .execute_batch("UPDATE subscriptions SET mode = 'O365Push'")
        .unwrap();
    let err = db.subscription_by_id("s1").unwrap_err();
    assert!(
        err.to_string()
            .contains("subscription mode `O365Push` for adele@contoso.com"),
        "{err}"
    );
    assert!(db.list_subscriptions().is_err());
    db.conn()
        .execute_batch("UPDATE subscriptions SET mode = 'O365', last_event_at = 'yesterday'")
        .unwrap();
    let err = db.subscription("adele@contoso.com").unwrap_err();
    assert!(err.to_string().contains("`yesterday`"), "{err}");
}

#[test]
fn failures_count_up_per_kind_and_clear() {
    let (_dir, db) = tenant_db();
    assert_eq!(
        db.failures("adele@contoso.com").unwrap(),
        FailureCounts::default()
    );
    for n in 1..=3 {
        let count = db
            .record_failure(
                "Adele@contoso.com",
                FailureKind::GetEvents,
                &format!("timeout {n}"),
            )
            .unwrap();
        assert_eq!(count, n);
    }
    assert_eq!(
        db.record_failure(
            "adele@contoso.com",
            FailureKind::Subscribe,
            "ErrorAccessDenied\nline two"
        )
        .unwrap(),
        1
    );
    assert_eq!(
        db.failures("adele@contoso.com").unwrap(),
        FailureCounts {
            subscribe: 1,
            get_events: 3,
            // Kept as an operator text: the line break is a space.
            last_error: Some("ErrorAccessDenied line two".into()),
        }
    );
    // Another mailbox counts on its own.
    assert_eq!(
        db.record_failure("room.berlin@contoso.com", FailureKind::GetEvents, "x")
            .unwrap(),
        1
    );
    db.clear_failures("adele@contoso.com", FailureKind::GetEvents)
        .unwrap();
    let left = db.failures("adele@contoso.com").unwrap();
    assert_eq!((left.subscribe, left.get_events), (1, 0));
    assert_eq!(
        db.record_failure("adele@contoso.com", FailureKind::GetEvents, "again")
            .unwrap(),
        1,
        "a success restarts the count"
    );
    db.clear_failures("adele@contoso.com", FailureKind::GetEvents)
        .unwrap();
    db.clear_failures("adele@contoso.com", FailureKind::Subscribe)
        .unwrap();
    assert_eq!(
        db.failures("adele@contoso.com").unwrap(),
        FailureCounts::default()
    );
    assert_eq!(
        db.failures("room.berlin@contoso.com").unwrap().get_events,
        1
    );
}

#[test]
fn a_person_is_disabled_with_a_reason_and_enabled_again() {
    let (_dir, db) = tenant_db();
    let at = ts("2026-05-04T07:15:00Z");
    assert!(!db.disable_person("nobody@contoso.com", "x", at).unwrap());
    assert!(!db.enable_person("nobody@contoso.com").unwrap());
    assert!(db.get_person("nobody@contoso.com").unwrap().is_none());

    db.record_failure(
        "adele@contoso.com",
        FailureKind::Subscribe,
        "ErrorNonExistentMailbox",
    )
    .unwrap();
    assert!(
        db.disable_person(
            "ADELE@contoso.com",
            "Subscribe failed 5 times: ErrorNonExistentMailbox",
            // Kept to the second.
            ts("2026-05-04T07:15:00.999Z")
        )
        .unwrap()
    );
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert!(adele.sync_disabled);
    assert_eq!(
        adele.disabled_reason.as_deref(),
        Some("Subscribe failed 5 times: ErrorNonExistentMailbox")
    );
    assert_eq!(adele.disabled_at, Some(at));
    let listed = db.list_persons().unwrap();
    assert_eq!(listed[0], adele);
    assert!(!listed[1].sync_disabled && listed[1].disabled_reason.is_none());

    assert!(db.enable_person("adele@contoso.com").unwrap());
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert!(!adele.sync_disabled);
    assert_eq!((adele.disabled_reason, adele.disabled_at), (None, None));
    assert_eq!(
        db.failures("adele@contoso.com").unwrap(),
        FailureCounts::default()
    );

    // A person removed while disabled comes back enabled.
    db.disable_person("adele@contoso.com", "again", at).unwrap();
    assert!(db.remove_person("adele@contoso.com").unwrap());
    db.add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
        .unwrap();
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert!(!adele.sync_disabled && adele.disabled_reason.is_none());
}

#[test]
fn a_flag_set_by_hand_reads_without_a_reason_and_a_bad_time_is_reported() {
    let (_dir, db) = tenant_db();
    db.conn()
        .execute_batch(
            "UPDATE persons SET sync_disabled = 1 WHERE email = 'adele@contoso.com';
             INSERT INTO person_disabled VALUES ('room.berlin@contoso.com', 'stale row', '2026-05-04T07:15:00Z');",
        )
        .unwrap();
    let adele = db.get_person("adele@contoso.com").unwrap().unwrap();
    assert!(adele.sync_disabled && adele.disabled_reason.is_none());
    // A reason without the flag does not count.
    let room = db.get_person("room.berlin@contoso.com").unwrap().unwrap();
    assert!(!room.sync_disabled && room.disabled_reason.is_none());
    db.conn()
        .execute_batch(
            "UPDATE persons SET sync_disabled = 1 WHERE email = 'room.berlin@contoso.com';
             UPDATE person_disabled SET disabled_at = 'last week';",
        )
        .unwrap();
    let err = db.get_person("room.berlin@contoso.com").unwrap_err();
    assert!(
        err.to_string()
            .contains("deactivation time `last week` for room.berlin@contoso.com"),
        "{err}"
    );
}

#[test]
fn pending_homes_are_the_mailboxes_with_pending_changes() {
    let (_dir, db) = tenant_db();
    assert!(db.pending_homes().unwrap().is_empty());
    db.add_booking(meeting("adele@contoso.com", "a1")).unwrap();
    db.add_booking(meeting("adele@contoso.com", "a2")).unwrap();
    // Organised outside the tenant: its home is the room.
    let r1 = db.add_booking(meeting("bob@fabrikam.com", "r1")).unwrap();
    assert_eq!(r1.home, "room.berlin@contoso.com");
    assert_eq!(
        db.pending_homes().unwrap(),
        ["adele@contoso.com", "room.berlin@contoso.com"]
    );
    // Synced or sync-disabled bookings are not pending.
    db.conn()
        .execute(
            "UPDATE bookings SET synced_revision = revision WHERE id = ?1",
            [&r1.id],
        )
        .unwrap();
    assert_eq!(db.pending_homes().unwrap(), ["adele@contoso.com"]);
    db.conn()
        .execute(
            "UPDATE bookings SET state = 'sync-disabled' WHERE home = 'adele@contoso.com'",
            [],
        )
        .unwrap();
    assert!(db.pending_homes().unwrap().is_empty());
    assert!(
        db.pending_changes("adele@contoso.com", 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn data_version_changes_when_another_connection_commits() {
    let (dir, db) = tenant_db();
    let other = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
    let before = db.data_version().unwrap();
    // This connection's own writes do not change it.
    db.add_booking(meeting("adele@contoso.com", "own")).unwrap();
    assert_eq!(db.data_version().unwrap(), before);
    other
        .add_booking(meeting("adele@contoso.com", "from the CLI"))
        .unwrap();
    let after = db.data_version().unwrap();
    assert_ne!(after, before);
    assert_eq!(db.data_version().unwrap(), after, "stable without commits");
}
