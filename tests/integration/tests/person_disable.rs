//! Deactivated persons as an operator meets them: `person disable` and
//! `person enable`, the reason and time in `person list` (text and JSON), and
//! the red `sync-enabled` check with the command that turns the sync on again
//! (also for a person `rooms-sync serve` stopped, written straight into
//! `rooms.db` as the service does).

use rooms_sync_host::rooms_db::{FailureKind, RoomsDb};
use rooms_sync_integration::{Mode, World, assert_has};

#[tokio::test]
async fn an_operator_disables_and_enables_a_person() {
    let world = World::start().await;
    let tenant = world.tenant("disable", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    tenant.add_person(&world, "bob@contoso.com").await;

    let run = tenant
        .run(&[
            "person",
            "disable",
            "Alice@Contoso.com",
            "--reason",
            "mailbox moves to on-premises",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_has(
        &run.stdout,
        &[
            "the sync of alice@contoso.com is disabled: mailbox moves to on-premises",
            "`person enable alice@contoso.com`",
        ],
    );

    let list = tenant.run(&["person", "list", "--json"]).await.json();
    let alice = &list["persons"][0];
    assert_eq!(alice["email"], "alice@contoso.com");
    assert_eq!(alice["sync_disabled"], true);
    assert_eq!(alice["disabled_reason"], "mailbox moves to on-premises");
    let at: jiff::Timestamp = alice["disabled_at"]
        .as_str()
        .unwrap_or_else(|| panic!("disabled_at is RFC 3339 text: {alice}"))
        .parse()
        .unwrap();
    let age = jiff::Timestamp::now().duration_since(at);
    assert!(
        age >= jiff::SignedDuration::ZERO && age < jiff::SignedDuration::from_hours(1),
        "disabled just now: {at}"
    );
    let bob = &list["persons"][1];
    assert_eq!(bob["sync_disabled"], false);
    assert!(
        bob["disabled_reason"].is_null() && bob["disabled_at"].is_null(),
        "{bob}"
    );

    let text = tenant.run(&["person", "list"]).await;
    assert_has(
        &text.stdout,
        &[&format!(
            "sync disabled since {at}: mailbox moves to on-premises"
        )],
    );
    assert_eq!(
        text.stdout.matches("sync disabled since").count(),
        1,
        "{text:?}"
    );

    // check: the component's checks, then the red sync-enabled check.
    let check = tenant.check(Some("alice@contoso.com")).await;
    assert_eq!(check.code, 1, "{check:?}");
    assert_eq!(check.check("alice@contoso.com", "sign-in")["ok"], true);
    let enabled = check.check("alice@contoso.com", "sync-enabled");
    assert_eq!(enabled["ok"], false);
    assert_eq!(enabled["code"], "sync-disabled");
    assert_eq!(
        enabled["message"],
        format!("ROOMS stopped syncing this person on {at}: mailbox moves to on-premises")
    );
    assert_eq!(
        enabled["fix"],
        format!(
            "Fix the cause, then run `rooms-sync --tenant {} person enable alice@contoso.com`",
            tenant.path.display()
        )
    );
    let checks = check.json()["persons"][0]["checks"].clone();
    assert_eq!(
        checks.as_array().unwrap().last().unwrap()["name"],
        "sync-enabled",
        "after the component's checks: {checks}"
    );

    let run = tenant.run(&["person", "enable", "ALICE@contoso.com"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        "the sync of alice@contoso.com is enabled again; the next `run` or `serve` syncs it"
    );
    let list = tenant.run(&["person", "list", "--json"]).await.json();
    let alice = &list["persons"][0];
    assert_eq!(alice["sync_disabled"], false);
    assert!(
        alice["disabled_reason"].is_null() && alice["disabled_at"].is_null(),
        "{alice}"
    );
    let check = tenant.check(Some("alice@contoso.com")).await;
    assert_eq!(check.code, 0, "{check:?}");
    assert!(!check.stdout.contains("sync-enabled"), "{check:?}");

    let run = tenant.run(&["person", "enable", "alice@contoso.com"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        "the sync of alice@contoso.com was already enabled"
    );
}

#[tokio::test]
async fn unknown_persons_and_an_empty_reason_are_refused() {
    let world = World::start().await;
    let tenant = world.tenant("disable-bad", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    for args in [
        &["person", "enable", "nobody@contoso.com"][..],
        &["person", "disable", "nobody@contoso.com", "--reason", "x"][..],
    ] {
        let run = tenant.run(args).await;
        assert_eq!(run.code, 2, "{run:?}");
        assert_has(
            &run.stderr,
            &[
                "nobody@contoso.com is not a person of this tenant",
                "`person list`",
            ],
        );
    }
    let run = tenant
        .run(&["person", "disable", "alice@contoso.com", "--reason", "  "])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(&run.stderr, &["the reason is empty", "--reason"]);
    let run = tenant
        .run(&["person", "disable", "alice@contoso.com"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(&run.stderr, &["--reason"]);
    // Nothing changed.
    let list = tenant.run(&["person", "list", "--json"]).await.json();
    assert_eq!(list["persons"][0]["sync_disabled"], false);
}

#[tokio::test]
async fn a_person_the_service_stopped_shows_why_and_enable_clears_the_failures() {
    let world = World::start().await;
    let tenant = world.tenant("disable-service", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let at: jiff::Timestamp = "2026-05-04T07:15:00Z".parse().unwrap();
    {
        // What `serve` does after the fifth GetEvents failure in a row.
        let db = RoomsDb::open(&tenant.path.join("rooms.db")).unwrap();
        for _ in 0..5 {
            db.record_failure(
                "alice@contoso.com",
                FailureKind::GetEvents,
                "ErrorSubscriptionNotFound",
            )
            .unwrap();
        }
        assert!(
            db.disable_person(
                "alice@contoso.com",
                "GetEvents failed 5 times in a row: ErrorSubscriptionNotFound",
                at
            )
            .unwrap()
        );
    }
    let check = tenant.check(None).await;
    assert_eq!(check.code, 1, "{check:?}");
    assert_eq!(
        check.check("alice@contoso.com", "sync-enabled")["message"],
        "ROOMS stopped syncing this person on 2026-05-04T07:15:00Z: GetEvents failed 5 times in a row: ErrorSubscriptionNotFound"
    );
    let list = tenant.run(&["person", "list", "--json"]).await.json();
    assert_eq!(list["persons"][0]["disabled_at"], "2026-05-04T07:15:00Z");

    assert_eq!(
        tenant
            .run(&["person", "enable", "alice@contoso.com"])
            .await
            .code,
        0
    );
    let db = RoomsDb::open(&tenant.path.join("rooms.db")).unwrap();
    let failures = db.failures("alice@contoso.com").unwrap();
    assert_eq!((failures.subscribe, failures.get_events), (0, 0));
    assert!(
        !db.get_person("alice@contoso.com")
            .unwrap()
            .unwrap()
            .sync_disabled
    );
}
