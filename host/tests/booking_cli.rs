//! The `booking` and `person` commands through the real `rooms-sync`
//! executable: the JSON contract, local times across daylight-saving
//! changes, series with exceptions, and bad input that exits 2 and changes
//! nothing.

use std::path::Path;
use std::process::{Command, Output};

use rooms_sync_host::rooms_db::{
    Conflict, ConflictWinner, FieldDifference, ItemRef, Notice, NoticeKind, Page, QuarantinedItem,
    RoomsDb,
};
use serde_json::Value;

const BERLIN: &str = "W. Europe Standard Time";

/// A finished run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `rooms-sync --tenant DIR ARGS...`.
fn rooms_sync(tenant: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_rooms-sync"))
        .arg("--tenant")
        .arg(tenant)
        .args(args)
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A tenant directory with adele (a person) and room.berlin (a room).
fn tenant() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rooms_sync(
        dir.path(),
        &["person", "add", "adele@contoso.com", "--mode", "O365"],
    )
    .ok();
    rooms_sync(
        dir.path(),
        &[
            "person",
            "add",
            "room.berlin@contoso.com",
            "--mode",
            "O365Pull",
            "--room",
        ],
    )
    .ok();
    dir
}

/// `booking add` with `args`; returns the new id.
fn add(tenant: &Path, args: &[&str]) -> String {
    let mut all = vec!["booking", "add", "--json"];
    all.extend_from_slice(args);
    let run = rooms_sync(tenant, &all).ok();
    run.json()["id"].as_str().unwrap().to_string()
}

fn bookings(tenant: &Path) -> Vec<Value> {
    rooms_sync(tenant, &["booking", "list", "--json"])
        .ok()
        .json()["bookings"]
        .as_array()
        .unwrap()
        .clone()
}

fn occurrence_starts(tenant: &Path, from: &str, to: &str) -> Vec<String> {
    rooms_sync(
        tenant,
        &[
            "booking",
            "occurrences",
            "--from",
            from,
            "--to",
            to,
            "--json",
        ],
    )
    .ok()
    .json()["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["start"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn booking_add_prints_the_id_and_list_has_the_contract_fields() {
    let dir = tenant();
    let t = dir.path();
    let run = rooms_sync(
        t,
        &[
            "booking",
            "add",
            "--organiser",
            "Adele@Contoso.com",
            "--subject",
            "Planning",
            "--start",
            "2026-07-01T09:00",
            "--end",
            "2026-07-01T10:30",
            "--time-zone",
            BERLIN,
            "--room",
            "room.berlin@contoso.com",
            "--attendee",
            "bob@fabrikam.com",
            "--optional",
            "carl@fabrikam.com",
        ],
    )
    .ok();
    let id = run.stdout.trim().to_string();
    assert_eq!(id.len(), 36, "{id}");

    let list = bookings(t);
    assert_eq!(list.len(), 1);
    let b = &list[0];
    for key in [
        "id",
        "organiser",
        "rooms",
        "subject",
        "start",
        "end",
        "time_zone",
        "all_day",
        "reminder_minutes",
        "private",
        "free_busy",
        "attendees",
        "recurrence",
        "state",
        "exchange",
    ] {
        assert!(b.get(key).is_some(), "{key} in {b}");
    }
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["organiser"], "adele@contoso.com");
    assert_eq!(b["rooms"], serde_json::json!(["room.berlin@contoso.com"]));
    // 09:00 in Berlin in July is 07:00 UTC.
    assert_eq!(b["start"], "2026-07-01T07:00:00Z");
    assert_eq!(b["end"], "2026-07-01T08:30:00Z");
    assert_eq!(b["time_zone"], BERLIN);
    assert_eq!(b["all_day"], false);
    assert_eq!(b["reminder_minutes"], 15);
    assert_eq!(b["private"], false);
    assert_eq!(b["free_busy"], "Busy");
    assert_eq!(
        b["attendees"],
        serde_json::json!([
            {"email": "bob@fabrikam.com", "kind": "required"},
            {"email": "carl@fabrikam.com", "kind": "optional"},
            {"email": "room.berlin@contoso.com", "kind": "resource"},
        ])
    );
    assert_eq!(b["recurrence"], Value::Null);
    assert_eq!(b["state"], "active");
    assert_eq!(b["exchange"], Value::Null);
    assert_eq!(b["home"], "adele@contoso.com");
    assert_eq!(
        (b["revision"].as_u64(), b["synced_revision"].as_u64()),
        (Some(1), Some(0))
    );

    // The text list shows the booking in its own zone.
    let text = rooms_sync(t, &["booking", "list"]).ok().stdout;
    assert!(text.contains(&id), "{text}");
    assert!(text.contains("2026-07-01 09:00+02:00"), "{text}");
    // --person filters.
    let run = rooms_sync(
        t,
        &[
            "booking",
            "list",
            "--person",
            "nobody@contoso.com",
            "--json",
        ],
    )
    .ok();
    assert_eq!(run.json()["bookings"], serde_json::json!([]));
    let run = rooms_sync(
        t,
        &["booking", "list", "--person", "BOB@fabrikam.com", "--json"],
    )
    .ok();
    assert_eq!(run.json()["bookings"].as_array().unwrap().len(), 1);
}

#[test]
fn local_times_are_read_in_the_time_zone_on_their_own_date() {
    let dir = tenant();
    let t = dir.path();
    for (start, utc) in [
        ("2026-01-15T09:00", "2026-01-15T08:00:00Z"),
        ("2026-07-15T09:00", "2026-07-15T07:00:00Z"),
        ("2026-03-28 09:00", "2026-03-28T08:00:00Z"),
        ("2026-03-30T09:00:00", "2026-03-30T07:00:00Z"),
        // With an offset the zone does not matter.
        ("2026-07-15T09:00:00-04:00", "2026-07-15T13:00:00Z"),
    ] {
        let id = add(
            t,
            &[
                "--organiser",
                "adele@contoso.com",
                "--subject",
                start,
                "--start",
                start,
                "--end",
                "2026-12-31T23:00",
                "--time-zone",
                BERLIN,
            ],
        );
        let b = bookings(t)
            .into_iter()
            .find(|b| b["id"] == id.as_str())
            .unwrap();
        assert_eq!(b["start"], utc, "{start}");
    }
    // An all-day booking on the day the clocks change is 23 hours long.
    let id = add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "Away",
            "--all-day",
            "--start",
            "2026-03-29",
            "--end",
            "2026-03-30",
            "--time-zone",
            BERLIN,
            "--free-busy",
            "oof",
            "--private",
            "--no-reminder",
        ],
    );
    let b = bookings(t)
        .into_iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap();
    assert_eq!(b["start"], "2026-03-28T23:00:00Z");
    assert_eq!(b["end"], "2026-03-29T22:00:00Z");
    assert_eq!(b["all_day"], true);
    assert_eq!(b["free_busy"], "OOF");
    assert_eq!(b["private"], true);
    assert_eq!(b["reminder_minutes"], Value::Null);
}

#[test]
fn a_weekly_series_at_nine_stays_at_nine_across_march_and_october() {
    let dir = tenant();
    let t = dir.path();
    add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "Jour fixe",
            "--start",
            "2026-03-16T09:00",
            "--end",
            "2026-03-16T10:00",
            "--time-zone",
            BERLIN,
            "--room",
            "room.berlin@contoso.com",
            "--weekly",
            "mon",
        ],
    );
    let march = occurrence_starts(t, "2026-03-16T00:00:00Z", "2026-04-07T00:00:00Z");
    assert_eq!(
        march,
        [
            "2026-03-16T08:00:00Z",
            "2026-03-23T08:00:00Z",
            "2026-03-30T07:00:00Z",
            "2026-04-06T07:00:00Z"
        ]
    );
    let october = occurrence_starts(t, "2026-10-19T00:00:00Z", "2026-11-03T00:00:00Z");
    assert_eq!(
        october,
        [
            "2026-10-19T07:00:00Z",
            "2026-10-26T08:00:00Z",
            "2026-11-02T08:00:00Z"
        ]
    );
    // The series has no end: years later it still runs, at 09:00 local.
    let later = occurrence_starts(t, "2031-01-06T00:00:00Z", "2031-01-14T00:00:00Z");
    assert_eq!(later, ["2031-01-06T08:00:00Z", "2031-01-13T08:00:00Z"]);
    // The window may be given in local time too.
    let local = rooms_sync(
        t,
        &[
            "booking",
            "occurrences",
            "--from",
            "2026-03-30T09:00",
            "--to",
            "2026-03-30T09:01",
            "--time-zone",
            BERLIN,
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(local["occurrences"][0]["subject"], "Jour fixe");
    assert_eq!(
        local["occurrences"][0]["rooms"],
        serde_json::json!(["room.berlin@contoso.com"])
    );
}

#[test]
fn series_are_stored_as_pattern_range_and_exceptions() {
    let dir = tenant();
    let t = dir.path();
    let id = add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "Stand-up",
            "--start",
            "2026-05-04T09:00",
            "--end",
            "2026-05-04T09:15",
            "--time-zone",
            BERLIN,
            "--weekly",
            "Monday,thu",
            "--interval",
            "2",
            "--first-day-of-week",
            "mon",
            "--until",
            "2026-06-30",
        ],
    );
    rooms_sync(t, &["booking", "skip", &id, "--occurrence", "2026-05-07"]).ok();
    let moved = rooms_sync(
        t,
        &[
            "booking",
            "move",
            &id,
            "--occurrence",
            "2026-05-18",
            "--start",
            "2026-05-19T14:00",
            "--end",
            "2026-05-19T14:15",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(moved["revision"], 3);
    let b = bookings(t).into_iter().next().unwrap();
    assert_eq!(
        b["recurrence"],
        serde_json::json!({
            "pattern": {
                "type": "weekly",
                "interval": 2,
                "days": ["Monday", "Thursday"],
                "first_day_of_week": "Monday",
            },
            "range": {"start": "2026-05-04", "end": "2026-06-30", "count": null},
            "modified": [{
                "original_start": "2026-05-18T07:00:00Z",
                "subject": "Stand-up",
                "start": "2026-05-19T12:00:00Z",
                "end": "2026-05-19T12:15:00Z",
            }],
            "deleted": ["2026-05-07T07:00:00Z"],
        })
    );
    let run = rooms_sync(
        t,
        &[
            "booking",
            "occurrences",
            "--from",
            "2026-05-01T00:00:00Z",
            "--to",
            "2026-06-01T00:00:00Z",
            "--json",
        ],
    )
    .ok()
    .json();
    let seen: Vec<(String, bool)> = run["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["start"].as_str().unwrap().to_string(),
                o["modified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-05-04T07:00:00Z".to_string(), false),
            ("2026-05-19T12:00:00Z".to_string(), true),
            ("2026-05-21T07:00:00Z".to_string(), false),
        ]
    );
}

#[test]
fn update_and_cancel_change_only_rooms_and_bump_the_revision() {
    let dir = tenant();
    let t = dir.path();
    let id = add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "Planning",
            "--start",
            "2026-07-01T09:00:00Z",
            "--end",
            "2026-07-01T10:00:00Z",
            "--room",
            "room.berlin@contoso.com",
        ],
    );
    let run = rooms_sync(
        t,
        &[
            "booking",
            "update",
            &id,
            "--subject",
            "Planning (2)",
            "--start",
            "2026-07-02T09:00:00Z",
            "--reminder",
            "30",
            "--json",
        ],
    )
    .ok();
    assert_eq!(run.json()["revision"], 2);
    let b = bookings(t).remove(0);
    assert_eq!(b["subject"], "Planning (2)");
    // --start alone keeps the length.
    assert_eq!(b["end"], "2026-07-02T10:00:00Z");
    assert_eq!(b["reminder_minutes"], 30);
    assert_eq!(b["rooms"], serde_json::json!(["room.berlin@contoso.com"]));

    let run = rooms_sync(t, &["booking", "cancel", &id]).ok();
    assert!(run.stdout.contains("cancelled"), "{}", run.stdout);
    let b = bookings(t).remove(0);
    assert_eq!(b["state"], "cancelled");
    assert_eq!(b["revision"], 3);
    // Cancelling again changes nothing; a cancelled booking has no
    // occurrences and cannot change.
    let again = rooms_sync(t, &["booking", "cancel", &id, "--json"])
        .ok()
        .json();
    assert_eq!(again["changed"], false);
    assert!(occurrence_starts(t, "2026-07-01T00:00:00Z", "2026-07-05T00:00:00Z").is_empty());
    let run = rooms_sync(t, &["booking", "update", &id, "--subject", "x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is cancelled"), "{}", run.stderr);
}

#[test]
fn bad_input_exits_2_names_the_cause_and_the_fix_and_changes_nothing() {
    let dir = tenant();
    let t = dir.path();
    let id = add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "Series",
            "--start",
            "2026-05-04T09:00",
            "--end",
            "2026-05-04T10:00",
            "--time-zone",
            BERLIN,
            "--daily",
            "--count",
            "5",
        ],
    );
    let before = rooms_sync(t, &["booking", "list", "--json"]).ok().stdout;
    let base = [
        "booking",
        "add",
        "--organiser",
        "adele@contoso.com",
        "--subject",
        "S",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            with(&[
                "--start",
                "2026-05-04T09:00",
                "--end",
                "2026-05-04T10:00",
                "--time-zone",
                "Europe/Berlin",
            ]),
            &["Europe/Berlin", "W. Europe Standard Time"],
        ),
        (
            with(&["--start", "2026-05-04T10:00", "--end", "2026-05-04T09:00"]),
            &["not after the start", "--end"],
        ),
        (
            with(&[
                "--start",
                "2026-05-04T09:00",
                "--end",
                "2026-05-04T10:00",
                "--daily",
                "--count",
                "3",
                "--until",
                "2026-06-01",
            ]),
            &["--count", "--until", "one of them"],
        ),
        (
            with(&[
                "--start",
                "2026-05-04T09:00",
                "--end",
                "2026-05-04T10:00",
                "--weekly",
                "mon,funday",
            ]),
            &["funday", "Monday to Sunday"],
        ),
        (
            with(&[
                "--start",
                "2026-05-04T09:00",
                "--end",
                "2026-05-04T10:00",
                "--count",
                "3",
            ]),
            &["--count", "--daily or --weekly"],
        ),
        (
            with(&[
                "--start",
                "2026-03-29T02:30",
                "--end",
                "2026-03-29T03:30",
                "--time-zone",
                BERLIN,
            ]),
            &["does not exist", "clocks move forward"],
        ),
        (
            with(&["--start", "next monday", "--end", "2026-05-04T10:00"]),
            &["not a time", "RFC 3339"],
        ),
        (
            vec![
                "booking",
                "add",
                "--organiser",
                "bob@fabrikam.com",
                "--subject",
                "S",
                "--start",
                "2026-05-04T09:00",
                "--end",
                "2026-05-04T10:00",
            ],
            &["person add bob@fabrikam.com", "--room"],
        ),
        (
            vec!["booking", "update", "no-such-id", "--subject", "x"],
            &["no-such-id", "booking list"],
        ),
        (vec!["booking", "cancel", "no-such-id"], &["booking list"]),
        (
            vec![
                "booking",
                "skip",
                "no-such-id",
                "--occurrence",
                "2026-05-05",
            ],
            &["booking list"],
        ),
        (
            vec!["booking", "skip", &id, "--occurrence", "2026-05-20"],
            &["no occurrence on 2026-05-20", "booking occurrences"],
        ),
        (
            vec!["booking", "skip", &id, "--occurrence", "5/5/2026"],
            &["not a date", "YYYY-MM-DD"],
        ),
        (
            vec![
                "booking",
                "move",
                &id,
                "--occurrence",
                "2026-05-05",
                "--start",
                "2026-05-05T11:00",
                "--end",
                "2026-05-05T10:00",
            ],
            &["not after the start"],
        ),
        (vec!["booking", "update", &id], &["nothing to change"]),
        (
            vec!["booking", "update", &id, "--free-busy", "Away"],
            &["Away", "Free, Tentative, Busy, OOF"],
        ),
        (
            vec![
                "person",
                "add",
                "carl@contoso.com",
                "--mode",
                "O365",
                "--sync-master",
            ],
            &["rooms only", "--room --sync-master"],
        ),
    ];
    for (args, expected) in cases {
        let run = rooms_sync(t, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        for text in expected {
            assert!(
                run.stderr.contains(text),
                "{args:?}: {text} in {}",
                run.stderr
            );
        }
        assert_eq!(
            rooms_sync(t, &["booking", "list", "--json"]).ok().stdout,
            before,
            "{args:?} changed nothing"
        );
    }
    let persons = rooms_sync(t, &["person", "list", "--json"]).ok().json();
    assert_eq!(persons["persons"].as_array().unwrap().len(), 2);
}

#[test]
fn person_list_shows_rooms_and_sync_masters() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let run = rooms_sync(
        t,
        &[
            "person",
            "add",
            "Room.Paris@contoso.com",
            "--mode",
            "O365",
            "--room",
            "--sync-master",
        ],
    )
    .ok();
    assert!(run.stdout.contains("room, sync master"), "{}", run.stdout);
    rooms_sync(t, &["person", "add", "adele@contoso.com", "--mode", "O365"]).ok();
    let persons = rooms_sync(t, &["person", "list", "--json"]).ok().json();
    let persons = persons["persons"].as_array().unwrap();
    assert_eq!(persons[0]["email"], "adele@contoso.com");
    assert_eq!(
        (&persons[0]["room"], &persons[0]["sync_master"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    assert_eq!(persons[1]["email"], "room.paris@contoso.com");
    assert_eq!(
        (&persons[1]["room"], &persons[1]["sync_master"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    // The old fields keep their names.
    assert_eq!(persons[1]["mode"], "O365");
    assert_eq!(persons[1]["conflict"], "Rollback");
    let text = rooms_sync(t, &["person", "list"]).ok().stdout;
    assert!(text.contains("KIND"), "{text}");
    assert!(text.contains("room (master)"), "{text}");
}

#[test]
fn conflicts_outbox_and_quarantine_show_what_the_sync_recorded() {
    let dir = tenant();
    let t = dir.path();
    for (command, key) in [
        ("conflicts", "conflicts"),
        ("outbox", "notices"),
        ("quarantine", "quarantined"),
    ] {
        let run = rooms_sync(t, &["booking", command, "--json"]).ok();
        assert_eq!(run.json()[key], serde_json::json!([]), "{command}");
        let text = rooms_sync(t, &["booking", command]).ok().stdout;
        assert!(text.starts_with("no "), "{command}: {text}");
    }
    // What a sync run would have committed.
    let db = RoomsDb::open(&t.join("rooms.db")).unwrap();
    db.commit(&Page {
        mailbox: "adele@contoso.com".into(),
        conflicts: vec![Conflict {
            booking: "b-1".into(),
            mailbox: "adele@contoso.com".into(),
            differences: vec![FieldDifference {
                field: "start".into(),
                rooms: "2026-05-04T07:00:00Z".into(),
                exchange: "2026-05-04T08:00:00Z".into(),
            }],
            winner: ConflictWinner::Rooms,
            attempt: 2,
            at: 1_777_881_600,
        }],
        notices: vec![Notice {
            booking: Some("b-1".into()),
            recipient: "adele@contoso.com".into(),
            kind: NoticeKind::ConflictRolledBack,
            message: "Your change in Outlook was reset to the ROOMS booking.".into(),
            at: 1_777_881_600,
        }],
        quarantined: vec![QuarantinedItem {
            item: ItemRef {
                mailbox: "adele@contoso.com".into(),
                item_id: "AAMkBroken".into(),
            },
            subject: "Broken".into(),
            reason: "the item has no start".into(),
        }],
        ..Page::default()
    })
    .unwrap();
    drop(db);
    let conflicts = rooms_sync(t, &["booking", "conflicts", "--json"])
        .ok()
        .json();
    assert_eq!(
        conflicts["conflicts"][0],
        serde_json::json!({
            "seq": 1,
            "booking": "b-1",
            "mailbox": "adele@contoso.com",
            "differences": [{
                "field": "start",
                "rooms": "2026-05-04T07:00:00Z",
                "exchange": "2026-05-04T08:00:00Z",
            }],
            "winner": "rooms",
            "attempt": 2,
            "at": "2026-05-04T08:00:00Z",
        })
    );
    let notices = rooms_sync(t, &["booking", "outbox", "--json"]).ok().json();
    assert_eq!(notices["notices"][0]["kind"], "conflict-rolled-back");
    assert_eq!(notices["notices"][0]["recipient"], "adele@contoso.com");
    assert_eq!(notices["notices"][0]["booking"], "b-1");
    let quarantined = rooms_sync(t, &["booking", "quarantine", "--json"])
        .ok()
        .json();
    assert_eq!(quarantined["quarantined"][0]["item_id"], "AAMkBroken");
    assert_eq!(
        quarantined["quarantined"][0]["reason"],
        "the item has no start"
    );
    let text = rooms_sync(t, &["booking", "outbox"]).ok().stdout;
    assert!(text.contains("Your change in Outlook was reset"), "{text}");
}

#[test]
fn a_persons_only_database_is_migrated_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    {
        // rooms.db as the first version wrote it: persons only.
        let raw = rusqlite::Connection::open(t.join("rooms.db")).unwrap();
        raw.execute_batch(
            "CREATE TABLE persons (
                 email TEXT PRIMARY KEY NOT NULL,
                 sync_mode TEXT NOT NULL,
                 sync_url TEXT NOT NULL,
                 conflict_behaviour TEXT NOT NULL,
                 sync_disabled INTEGER NOT NULL DEFAULT 0
             );
             PRAGMA user_version = 1;
             INSERT INTO persons VALUES ('adele@contoso.com', 'O365', 'https://outlook.office365.com/EWS/Exchange.asmx', 'Rollback', 0);",
        )
        .unwrap();
    }
    let persons = rooms_sync(t, &["person", "list", "--json"]).ok().json();
    assert_eq!(persons["persons"][0]["room"], false);
    add(
        t,
        &[
            "--organiser",
            "adele@contoso.com",
            "--subject",
            "First booking",
            "--start",
            "2026-07-01T09:00:00Z",
            "--end",
            "2026-07-01T10:00:00Z",
        ],
    );
    assert_eq!(bookings(t).len(), 1);
}
