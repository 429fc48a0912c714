//! The `rooms-sync` command line as an operator uses it: persons, the check's
//! text and JSON output, exit codes, and help everywhere.

use rooms_sync_integration::{Mode, World, run_cli};

#[tokio::test]
async fn persons_are_added_listed_and_removed() {
    let world = World::start().await;
    let tenant = world.tenant("persons", Mode::Secret, &[]);
    let run = tenant.run(&["person", "list"]).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("no persons"), "{run:?}");

    let run = tenant
        .run(&[
            "person",
            "add",
            "Room-Berlin@Contoso.com",
            "--mode",
            "O365",
            "--conflict",
            "Cancel",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout.trim(),
        "added room-berlin@contoso.com (O365, https://outlook.office365.com/EWS/Exchange.asmx, Cancel)"
    );
    tenant.add_person(&world, "alice@contoso.com").await;

    let run = tenant.run(&["person", "list", "--json"]).await;
    let list = run.json();
    let persons = list["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 2);
    assert_eq!(persons[0]["email"], "alice@contoso.com");
    assert_eq!(persons[0]["mode"], "O365Pull");
    assert_eq!(persons[0]["sync_url"], world.ews_url());
    assert_eq!(persons[1]["conflict"], "Cancel");
    assert_eq!(persons[1]["sync_disabled"], false);

    let run = tenant.run(&["person", "list"]).await;
    assert!(run.stdout.starts_with("EMAIL"), "{run:?}");
    assert!(
        run.stdout.contains("room-berlin@contoso.com  O365"),
        "{run:?}"
    );

    // Duplicates and unknown persons are refused with the way out.
    let run = tenant
        .run(&["person", "add", "alice@contoso.com", "--mode", "O365"])
        .await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("person remove alice@contoso.com"),
        "{run:?}"
    );
    let run = tenant
        .run(&["person", "remove", "nobody@contoso.com"])
        .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("person list"), "{run:?}");

    let run = tenant.run(&["person", "remove", "ALICE@contoso.com"]).await;
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.trim(), "removed alice@contoso.com");
    assert_eq!(
        tenant.run(&["person", "list", "--json"]).await.json()["persons"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_arguments_name_the_accepted_values() {
    let world = World::start().await;
    let tenant = world.tenant("args", Mode::Secret, &[]);
    let cases: [(&[&str], &str); 5] = [
        (
            &["person", "add", "alice@contoso.com", "--mode", "Push"],
            "use O365 (push) or O365Pull (pull)",
        ),
        (
            &[
                "person",
                "add",
                "alice@contoso.com",
                "--mode",
                "O365",
                "--conflict",
                "Ignore",
            ],
            "use Rollback or Cancel",
        ),
        (
            &["person", "add", "alice", "--mode", "O365"],
            "primary SMTP address",
        ),
        (
            &[
                "person",
                "add",
                "alice@contoso.com",
                "--mode",
                "O365",
                "--sync-url",
                "outlook/EWS",
            ],
            "absolute https URL",
        ),
        (&["check", "--memory-limit-mib", "0"], "memory-limit-mib"),
    ];
    for (args, expected) in cases {
        let run = tenant.run(args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected `{expected}` in {}",
            run.stderr
        );
    }
    let run = run_cli(
        vec!["rooms-sync".into(), "check".into()],
        Default::default(),
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--tenant"), "{run:?}");
}

#[tokio::test]
async fn help_works_everywhere() {
    for args in [
        &["--help"][..],
        &["person", "--help"],
        &["person", "add", "--help"],
        &["person", "list", "--help"],
        &["person", "remove", "--help"],
        &["check", "--help"],
        &["help", "check"],
    ] {
        let mut argv = vec!["rooms-sync".into()];
        argv.extend(args.iter().map(|a| a.into()));
        let run = run_cli(argv, Default::default()).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert!(
            run.stdout.contains("Usage: rooms-sync"),
            "{args:?}: {}",
            run.stdout
        );
    }
}

#[tokio::test]
async fn check_prints_each_check_with_reason_and_fix_and_exits_by_colour() {
    let world = World::start().await;
    let tenant = world.tenant("text", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    tenant.add_person(&world, "berlin@contoso.com").await;

    // One person green: exit 0, no fix lines.
    let run = tenant
        .run(&["check", "--person", "alice@contoso.com"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "alice@contoso.com");
    for (line, name) in
        lines[1..5]
            .iter()
            .zip(["configuration", "sign-in", "calendar-access", "write"])
    {
        assert!(line.starts_with(&format!("  [ OK ] {name} ")), "{lines:?}");
    }
    assert!(!run.stdout.contains("fix:"));

    // All persons, one red: exit 1, the red check followed by its fix.
    let run = tenant.run(&["check"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let berlin = run
        .stdout
        .split("berlin@contoso.com\n")
        .nth(1)
        .expect("berlin's block");
    let lines: Vec<&str> = berlin.lines().collect();
    // An alias: the configuration check is red.
    assert!(lines[0].starts_with("  [FAIL] configuration "), "{lines:?}");
    assert!(lines[1].trim_start().starts_with("fix: "), "{lines:?}");
    assert!(!run.stdout.contains('\x1b'), "no colour unless asked");

    // Colour on request: green and red marks.
    let run = tenant.run(&["--color", "always", "check"]).await;
    assert!(run.stdout.contains("\x1b[32m[ OK ]"), "{}", run.stdout);
    assert!(run.stdout.contains("\x1b[31m[FAIL]"), "{}", run.stdout);

    // JSON has exactly the documented shape (`code` added by the tenant
    // report, with `ews_retirement` and `warnings` beside `persons`).
    let run = tenant.check(None).await;
    let json = run.json();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["ews_retirement", "persons", "warnings"], "{json}");
    let person = &json["persons"][0];
    assert_eq!(person.as_object().unwrap().len(), 2, "{person}");
    for check in person["checks"].as_array().unwrap() {
        let keys: Vec<&String> = check.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "fix", "message", "name", "ok"], "{check}");
    }

    // An unknown person is red with the command that adds it.
    let run = tenant.check(Some("carol@contoso.com")).await;
    assert_eq!(run.code, 1);
    let check = run.check("carol@contoso.com", "person");
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .contains("person add carol@contoso.com"),
        "{check}"
    );
}
