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
