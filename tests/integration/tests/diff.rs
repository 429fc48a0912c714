//! `rooms-sync diff` end to end: the real component in the real host
//! against the emulator. Differences are made as they happen: in Outlook
//! through the emulator's admin item API (not yet synced), in ROOMS through
//! the `booking` commands (not yet written). `diff --json` is read back, and
//! after `--resolve` both sides: `booking list --json` and the emulator's
//! items.

use rooms_sync_integration::{ALICE, BERLIN, TenantDir, WEST_EUROPE, World, ts, ts_of};
use serde_json::{Value, json};

/// Today as the tests pin it (`ROOMS_SYNC_TODAY`): the default window is
/// 2027-01-02 to 2028-02-01.
const TODAY: &str = "2027-02-01";

async fn tenant(world: &World, name: &str) -> TenantDir {
    let mut dir = world
        .sync_tenant(name, &[], &[(ALICE, &[]), (BERLIN, &["--room"])])
        .await;
    dir.env.insert("ROOMS_SYNC_TODAY".into(), TODAY.into());
    dir
}

/// `diff --person ALICE --json` with `extra` arguments: its exit code and
/// JSON.
async fn diff(dir: &TenantDir, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["diff", "--person", ALICE, "--json"];
    args.extend_from_slice(extra);
    let run = dir.run(&args).await;
    assert!(run.code == 0 || run.code == 1, "diff failed: {run:?}");
    let json = run.json();
    let count = json["differences"].as_array().map_or(0, Vec::len);
    assert_eq!(run.code == 1, count > 0, "exit code against {json}");
    (run.code, json)
}

fn differences(json: &Value) -> Vec<Value> {
    json["differences"].as_array().cloned().unwrap_or_default()
}

/// The one difference of `subject`.
fn only(json: &Value, subject: &str) -> Value {
    let found: Vec<Value> = differences(json)
        .into_iter()
        .filter(|d| d["subject"] == subject)
        .collect();
    assert_eq!(found.len(), 1, "one difference of {subject} in {json:#}");
    found[0].clone()
}

fn field<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["field"] == name))
        .unwrap_or_else(|| panic!("no field {name} in {d:#}"))
}

async fn resolve(dir: &TenantDir, target: &str, how: &str) {
    let run = dir
        .run(&[
            "diff",
            "--person",
            ALICE,
            "--resolve",
            target,
            how,
            "--json",
        ])
        .await;
    assert_eq!(run.code, 0, "--resolve {target} {how}: {run:?}");
    let json = run.json();
    assert_eq!(json["resolution"], how, "{json}");
    assert_eq!(json["resolved"], true, "{json}");
}

async fn meeting(world: &World, subject: &str, day: &str) -> Value {
    world
        .outlook_create(
            ALICE,
            json!({"subject": subject, "start": format!("{day}T09:00:00"), "end": format!("{day}T10:00:00"),
                   "time_zone": WEST_EUROPE, "resources": [BERLIN]}),
        )
        .await
}

#[tokio::test]
async fn diff_finds_a_difference_made_on_each_side_and_resolve_settles_it() {
    let world = World::start().await;
    let planning = meeting(&world, "Planning", "2027-03-02").await;
    meeting(&world, "Review", "2027-03-03").await;
    let retro = meeting(&world, "Retro", "2027-03-04").await;
    let dir = tenant(&world, "diff-sides").await;
    dir.sync(None).await;

    // After a clean sync both sides agree, in text too.
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["from"], "2027-01-02T00:00:00Z", "{json}");
    // The last day, 2028-02-01, is included: the window ends after it.
    assert_eq!(json["to"], "2028-02-02T00:00:00Z", "{json}");
    let text = dir.ok(&["diff", "--person", ALICE]).await;
    assert!(text.stdout.contains("no differences"), "{}", text.stdout);
    assert!(!text.stdout.contains('\x1b'), "no colour off a terminal");

    // Outlook: Planning renamed and moved by half an hour (not synced).
    world
        .outlook_patch(
            ALICE,
            planning["id"].as_str().unwrap(),
            json!({"subject": "Planning (moved)", "start": "2027-03-02T08:30:00Z", "end": "2027-03-02T09:30:00Z"}),
        )
        .await;
    // ROOMS: Review renamed (not written).
    let review_id = dir.only_booking("Review").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    dir.ok(&[
        "booking",
        "update",
        &review_id,
        "--subject",
        "Review (ROOMS)",
    ])
    .await;
    // Outlook: Retro deleted; a new item no booking knows.
    world
        .outlook_delete(ALICE, retro["id"].as_str().unwrap())
        .await;
    let walk_in = world
        .outlook_create(
            ALICE,
            json!({"subject": "Walk-in", "start": "2027-03-05T12:00:00Z", "end": "2027-03-05T12:30:00Z"}),
        )
        .await;

    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(differences(&json).len(), 4, "{json:#}");
    let planning_id = dir.only_booking("Planning").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = only(&json, "Planning");
    assert_eq!(d["kind"], "fields-differ");
    assert_eq!(d["booking"], planning_id.as_str());
    assert_eq!(d["item_id"], planning["id"]);
    assert_eq!(field(&d, "subject")["rooms"], "Planning");
    assert_eq!(field(&d, "subject")["exchange"], "Planning (moved)");
    assert_eq!(
        ts(field(&d, "start")["rooms"].as_str().unwrap()),
        ts("2027-03-02T08:00:00Z")
    );
    assert_eq!(
        ts(field(&d, "start")["exchange"].as_str().unwrap()),
        ts("2027-03-02T08:30:00Z")
    );
    let d = only(&json, "Review (ROOMS)");
    assert_eq!(d["kind"], "fields-differ");
    assert_eq!(field(&d, "subject")["rooms"], "Review (ROOMS)");
    assert_eq!(field(&d, "subject")["exchange"], "Review");
    let d = only(&json, "Retro");
    assert_eq!(d["kind"], "missing-in-exchange", "{d:#}");
    assert!(d["item_id"].is_null(), "{d}");
    let d = only(&json, "Walk-in");
    assert_eq!(d["kind"], "missing-in-rooms", "{d:#}");
    assert!(d["booking"].is_null(), "{d}");
    assert_eq!(d["item_id"], walk_in["id"]);

    // The text lists the same with both values.
    let text = dir.run(&["diff", "--person", ALICE]).await;
    assert_eq!(text.code, 1, "{text:?}");
    for needle in [
        "[DIFFERS]",
        "subject: ROOMS \"Planning\" | Exchange \"Planning (moved)\"",
        "[MISSING IN EXCHANGE]",
        "[MISSING IN ROOMS]",
        "--resolve ID use-exchange|use-rooms|ignore",
    ] {
        assert!(
            text.stdout.contains(needle),
            "`{needle}` in {}",
            text.stdout
        );
    }

    // A window that leaves March out sees none of it.
    let (code, _) = diff(&dir, &["--from", "2027-04-01", "--to", "2027-04-30"]).await;
    assert_eq!(code, 0);

    // use-exchange: ROOMS takes Outlook's Planning.
    resolve(&dir, &planning_id, "use-exchange").await;
    let b = dir.booking(&planning_id).await;
    assert_eq!(b["subject"], "Planning (moved)", "{b:#}");
    assert_eq!(ts_of(&b["start"]), ts("2027-03-02T08:30:00Z"));
    // use-rooms: Exchange takes ROOMS' Review.
    resolve(&dir, &review_id, "use-rooms").await;
    let item = world.only_item(ALICE, "Review (ROOMS)").await;
    assert_eq!(item["subject"], "Review (ROOMS)");
    assert!(world.calendar_items(ALICE, "Review").await.is_empty());
    // use-exchange of a deleted item: the booking is cancelled.
    let retro_id = dir.only_booking("Retro").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    resolve(&dir, &retro_id, "use-exchange").await;
    assert_eq!(dir.booking(&retro_id).await["state"], "cancelled");
    // use-exchange of an item with no booking (by ItemId): imported.
    resolve(&dir, walk_in["id"].as_str().unwrap(), "use-exchange").await;
    assert_eq!(dir.only_booking("Walk-in").await["state"], "active");

    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "settled: {json:#}");
    // The sync agrees: the next cycle finds nothing to change back.
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "still settled after a sync: {json:#}");
    assert_eq!(
        dir.only_booking("Planning (moved)").await["id"],
        planning_id.as_str()
    );
}

#[tokio::test]
async fn use_rooms_recreates_a_deleted_item_and_use_exchange_imports_by_uid() {
    let world = World::start().await;
    let standup = meeting(&world, "Standup", "2027-03-02").await;
    let dir = tenant(&world, "diff-recreate").await;
    dir.sync(None).await;
    let id = dir.only_booking("Standup").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    world
        .outlook_delete(ALICE, standup["id"].as_str().unwrap())
        .await;
    let (_, json) = diff(&dir, &[]).await;
    assert_eq!(only(&json, "Standup")["kind"], "missing-in-exchange");
    resolve(&dir, &id, "use-rooms").await;
    let item = world.only_item(ALICE, "Standup").await;
    assert_ne!(item["id"], standup["id"], "a new item");
    assert_eq!(dir.booking(&id).await["state"], "active");

    let lunch = world
        .outlook_create(
            ALICE,
            json!({"subject": "Lunch", "start": "2027-03-08T11:00:00Z", "end": "2027-03-08T12:00:00Z"}),
        )
        .await;
    let (_, json) = diff(&dir, &[]).await;
    let d = only(&json, "Lunch");
    let uid = d["uid"].as_str().expect("the item's UID").to_owned();
    assert_eq!(uid, lunch["calendar"]["uid"].as_str().unwrap());
    resolve(&dir, &uid, "use-exchange").await;
    assert_eq!(dir.bookings_titled("Lunch").await.len(), 1);
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "{json:#}");
}

#[tokio::test]
async fn ignore_hides_a_difference_until_outlook_changes_it_again() {
    let world = World::start().await;
    let planning = meeting(&world, "Planning", "2027-03-02").await;
    let dir = tenant(&world, "diff-ignore").await;
    dir.sync(None).await;
    let id = dir.only_booking("Planning").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item_id = planning["id"].as_str().unwrap();
    world
        .outlook_patch(ALICE, item_id, json!({"subject": "Planning (Outlook)"}))
        .await;
    let (code, _) = diff(&dir, &[]).await;
    assert_eq!(code, 1);

    resolve(&dir, &id, "ignore").await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "ignored: {json:#}");
    assert_eq!(json["ignored"], 1, "{json}");
    // Nothing was written to either side.
    assert_eq!(dir.booking(&id).await["subject"], "Planning");
    assert_eq!(
        world.outlook_item(ALICE, item_id).await.unwrap()["subject"],
        "Planning (Outlook)"
    );

    // A new change in Outlook lists it again.
    world
        .outlook_patch(ALICE, item_id, json!({"subject": "Planning (again)"}))
        .await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 1, "listed again after an Outlook change: {json:#}");
    assert_eq!(
        field(&only(&json, "Planning"), "subject")["exchange"],
        "Planning (again)"
    );
    // Ignored again, then a ROOMS change lists it again.
    resolve(&dir, &id, "ignore").await;
    assert_eq!(diff(&dir, &[]).await.0, 0);
    dir.ok(&["booking", "update", &id, "--subject", "Planning (ROOMS)"])
        .await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 1, "listed again after a ROOMS change: {json:#}");
}

#[tokio::test]
async fn an_exception_changed_in_outlook_is_that_occurrences_difference() {
    let world = World::start().await;
    let daily = world
        .outlook_create(
            ALICE,
            json!({"subject": "Daily standup", "start": "2027-03-01T09:00:00", "end": "2027-03-01T09:15:00",
                   "time_zone": WEST_EUROPE, "resources": [BERLIN],
                   "recurrence": {"pattern": {"type": "daily", "interval": 1},
                                  "range": {"type": "numbered", "start": "2027-03-01", "count": 10}}}),
        )
        .await;
    let daily_id = daily["id"].as_str().unwrap().to_owned();
    let dir = tenant(&world, "diff-series").await;
    dir.sync(None).await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "{json:#}");

    let occ = world
        .outlook_occurrences(
            ALICE,
            &daily_id,
            "2027-02-28T00:00:00Z",
            "2027-03-31T00:00:00Z",
        )
        .await;
    assert_eq!(occ.len(), 10);
    world
        .outlook_patch(
            ALICE,
            occ[2]["id"].as_str().unwrap(),
            json!({"subject": "Standup (moved)", "start": "2027-03-03T11:00:00Z", "end": "2027-03-03T11:15:00Z"}),
        )
        .await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 1);
    let found = differences(&json);
    assert_eq!(found.len(), 1, "only the occurrence differs: {json:#}");
    let d = &found[0];
    assert_eq!(ts_of(&d["occurrence"]), ts("2027-03-03T08:00:00Z"), "{d:#}");
    assert_eq!(field(d, "subject")["rooms"], "Daily standup");
    assert_eq!(field(d, "subject")["exchange"], "Standup (moved)");
    assert_eq!(
        ts(field(d, "start")["exchange"].as_str().unwrap()),
        ts("2027-03-03T11:00:00Z")
    );

    let id = d["booking"].as_str().unwrap().to_owned();
    resolve(&dir, &id, "use-exchange").await;
    let b = dir.booking(&id).await;
    assert_eq!(
        b["recurrence"]["modified"][0]["subject"], "Standup (moved)",
        "{b:#}"
    );
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "{json:#}");
}

#[tokio::test]
async fn bad_arguments_exit_2_with_the_cause() {
    let world = World::start().await;
    meeting(&world, "Planning", "2027-03-02").await;
    let dir = tenant(&world, "diff-bad").await;
    dir.sync(None).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["diff", "--person", "nobody@contoso.com"],
            "nobody@contoso.com is not a person of this tenant",
        ),
        (
            &["diff", "--person", ALICE, "--from", "2027-13-01"],
            "--from \"2027-13-01\" is not a date",
        ),
        (
            &[
                "diff",
                "--person",
                ALICE,
                "--from",
                "2027-05-01",
                "--to",
                "2027-04-01",
            ],
            "--from 2027-05-01 is after --to 2027-04-01",
        ),
        (
            &[
                "diff",
                "--person",
                ALICE,
                "--resolve",
                "no-such-booking",
                "use-rooms",
            ],
            "no-such-booking is not a booking of alice@contoso.com",
        ),
        (
            &[
                "diff",
                "--person",
                ALICE,
                "--resolve",
                "no-such-booking",
                "use-exchange",
            ],
            "neither a booking nor an item",
        ),
        (
            &[
                "diff",
                "--person",
                ALICE,
                "--resolve",
                "no-such-booking",
                "ignore",
            ],
            "has no difference of no-such-booking",
        ),
        (
            &["diff", "--person", ALICE, "--resolve", "x", "use-both"],
            "the resolution is use-exchange, use-rooms or ignore",
        ),
    ];
    for (args, message) in cases {
        let run = dir.run(args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(message),
            "{args:?}: `{message}` in {}",
            run.stderr
        );
    }
    // The help names the default window and what --resolve accepts.
    let help = dir.run(&["diff", "--help"]).await;
    assert_eq!(help.code, 0);
    for needle in ["today - 30 days", "today + 365", "ItemId or UID"] {
        assert!(
            help.stdout.contains(needle),
            "`{needle}` in {}",
            help.stdout
        );
    }
}

#[tokio::test]
async fn use_rooms_resets_an_exception_changed_in_outlook() {
    let world = World::start().await;
    let weekly = world
        .outlook_create(
            ALICE,
            json!({"subject": "Jour fixe", "start": "2027-03-01T14:00:00", "end": "2027-03-01T15:00:00",
                   "time_zone": WEST_EUROPE, "resources": [BERLIN],
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1, "days": ["Monday"]},
                                  "range": {"type": "numbered", "start": "2027-03-01", "count": 6}}}),
        )
        .await;
    let weekly_id = weekly["id"].as_str().unwrap().to_owned();
    let dir = tenant(&world, "diff-series-rooms").await;
    dir.sync(None).await;
    let occ = world
        .outlook_occurrences(
            ALICE,
            &weekly_id,
            "2027-02-28T00:00:00Z",
            "2027-04-30T00:00:00Z",
        )
        .await;
    assert_eq!(occ.len(), 6);
    world
        .outlook_patch(
            ALICE,
            occ[1]["id"].as_str().unwrap(),
            json!({"subject": "Jour fixe (Outlook)"}),
        )
        .await;
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 1);
    let d = only(&json, "Jour fixe");
    assert_eq!(ts_of(&d["occurrence"]), ts("2027-03-08T13:00:00Z"), "{d:#}");
    let id = d["booking"].as_str().unwrap().to_owned();

    resolve(&dir, &id, "use-rooms").await;
    let after = world
        .outlook_occurrences(
            ALICE,
            &weekly_id,
            "2027-02-28T00:00:00Z",
            "2027-04-30T00:00:00Z",
        )
        .await;
    assert_eq!(after.len(), 6, "{after:#?}");
    assert!(
        after.iter().all(|o| o["subject"] == "Jour fixe"),
        "the Outlook exception is reset: {after:#?}"
    );
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "{json:#}");
    // The next sync keeps both sides as they are.
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_exchange, [0, 0, 0], "{}", r.json);
    let (code, json) = diff(&dir, &[]).await;
    assert_eq!(code, 0, "after a sync: {json:#}");
}
