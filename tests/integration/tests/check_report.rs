//! The tenant report of `check`, end to end against the emulator:
//! - `check --summary` groups the red checks of many mailboxes by cause, the
//!   fix once per group, largest group first, green ones counted (text and
//!   JSON), and `check --json` keeps its shape and gains the cause codes;
//! - every `check` reports the days left until EWS in Exchange Online ends
//!   (1 April 2027), from a date pinned with `ROOMS_SYNC_TODAY`;
//! - a delegated tenant (ROPC) gets a warning naming what breaks it and what
//!   to move to; an app-only tenant gets none;
//! - persons are tested concurrently up to `SyncMaxConcurrentMailboxes`:
//!   with an account limit of two connections and two workers Exchange never
//!   answers `ErrorExceededConnectionCount`, with a limit of one it does; the
//!   workers share one sign-in.

use exo_emulator::seed::{AccessPolicy, PolicyAccess};
use exo_emulator::{FaultAction, FaultSpec, LogFilter};
use rooms_sync_integration::{
    ALICE, BERLIN, BOB, HAMBURG, Mode, SECRET_APP, SERVICE_PASSWORD, SERVICE_USER, TenantDir, World,
};
use serde_json::json;

/// An address Exchange does not know.
const NOBODY: &str = "nobody@contoso.com";

/// The date the tests pin: 122 days before 1 April 2027 (1 day left in
/// November, then 31 + 31 + 28 + 31).
const TODAY: &str = "2026-11-30";

/// A tenant of `world` in `mode` with `persons`, its date pinned to `today`.
async fn tenant(
    world: &World,
    name: &str,
    mode: Mode,
    settings: &[(&str, &str)],
    persons: &[&str],
    today: &str,
) -> TenantDir {
    let mut dir = world.tenant(name, mode, settings);
    dir.env.insert("ROOMS_SYNC_TODAY".into(), today.into());
    for email in persons {
        dir.add_person_with(world, email, &[]).await;
    }
    dir
}

/// Six persons: Alice and the service user healthy, Bob and both rooms
/// blocked by an Application Access Policy, one address without a mailbox.
async fn mixed_tenant(world: &World) -> TenantDir {
    world
        .emulator
        .add_policy(AccessPolicy {
            app_id: SECRET_APP.into(),
            members: vec![BOB.into(), BERLIN.into(), HAMBURG.into()],
            access: PolicyAccess::DenyAccess,
            description: None,
        })
        .unwrap();
    tenant(
        world,
        "mixed",
        Mode::Secret,
        &[],
        &[ALICE, BOB, BERLIN, NOBODY, SERVICE_USER, HAMBURG],
        TODAY,
    )
    .await
}

fn sorted(values: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = values
        .as_array()
        .unwrap_or_else(|| panic!("{values} is not an array"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_summary_groups_mailboxes_by_cause_with_the_fix_once() {
    let world = World::start().await;
    let dir = mixed_tenant(&world).await;

    let run = dir.run(&["check", "--summary", "--json"]).await;
    assert_eq!(run.code, 1, "a red check: {run:?}");
    let report = run.json();
    assert_eq!(
        report["totals"],
        json!({"persons": 6, "green": 2, "red": 4}),
        "{report}"
    );
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{report}");

    // The largest group first: the three blocked mailboxes, one fix for all.
    let blocked = &groups[0];
    assert_eq!(blocked["check"], "calendar-access", "{blocked}");
    assert_eq!(blocked["code"], "HTTP 403", "{blocked}");
    assert_eq!(
        blocked["title"], "HTTP 403, blocked by tenant policy",
        "{blocked}"
    );
    assert_eq!(blocked["count"], 3, "{blocked}");
    let mut expected = vec![BOB.to_string(), BERLIN.into(), HAMBURG.into()];
    expected.sort();
    assert_eq!(sorted(&blocked["mailboxes"]), expected, "{blocked}");
    let fix = blocked["fix"].as_str().unwrap();
    for needle in [
        "Test-ApplicationAccessPolicy",
        "EwsAllowedAppIDs",
        SECRET_APP,
    ] {
        assert!(fix.contains(needle), "`{needle}` in {fix}");
    }
    for mailbox in [BOB, BERLIN, HAMBURG] {
        assert!(
            !fix.contains(mailbox) && !blocked["message"].as_str().unwrap().contains(mailbox),
            "the group's texts name no single mailbox: {blocked}"
        );
    }

    // The address without a mailbox: its own group, found by the
    // configuration check.
    let unknown = &groups[1];
    assert_eq!(unknown["check"], "configuration", "{unknown}");
    assert_eq!(unknown["code"], "ErrorNonExistentMailbox", "{unknown}");
    assert_eq!(unknown["title"], "ErrorNonExistentMailbox, no such mailbox");
    assert_eq!(unknown["count"], 1, "{unknown}");
    assert_eq!(unknown["mailboxes"], json!([NOBODY]), "{unknown}");
    // The mailbox in the fix is written `<mailbox>`: the fix fits every
    // mailbox of the group.
    let fix = unknown["fix"].as_str().unwrap();
    assert!(
        fix.contains("PRIMARY SMTP address") && fix.contains("Get-Mailbox <mailbox>"),
        "{fix}"
    );

    // The text report says the same, the fix once per group.
    let text = dir.run(&["check", "--summary"]).await;
    assert_eq!(text.code, 1, "{text:?}");
    let out = &text.stdout;
    assert!(
        out.starts_with("6 mailboxes tested: 2 green, 4 red\n"),
        "{out}"
    );
    assert!(
        out.contains("\n3 mailboxes: HTTP 403, blocked by tenant policy (calendar-access)\n"),
        "{out}"
    );
    assert!(
        out.contains("\n1 mailbox: ErrorNonExistentMailbox, no such mailbox (configuration)\n"),
        "{out}"
    );
    assert_eq!(
        out.matches("Test-ApplicationAccessPolicy").count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("  fix: ").count(), 2, "{out}");
    for mailbox in [BOB, BERLIN, HAMBURG, NOBODY] {
        assert!(
            out.contains(&format!("  - {mailbox}\n")),
            "{mailbox} in {out}"
        );
    }
    // Green mailboxes are counted, not listed.
    assert!(!out.contains(ALICE), "{out}");
    assert!(
        out.contains("EWS in Exchange Online ends on 1 April 2027: 122 days left"),
        "{out}"
    );

    // The per-person JSON keeps its shape and gains the cause codes.
    let full = dir.check(None).await;
    assert_eq!(full.code, 1);
    let json = full.json();
    let persons = json["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 6, "{json}");
    let bob = full.check(BOB, "calendar-access");
    for field in ["name", "ok", "message", "fix", "code"] {
        assert!(bob.get(field).is_some(), "{field} in {bob}");
    }
    assert_eq!(bob["code"], "HTTP 403", "{bob}");
    assert_eq!(full.check(ALICE, "calendar-access")["code"], json!(null));
    assert_eq!(json["ews_retirement"]["days_left"], 122, "{json}");
    assert_eq!(json["warnings"], json!([]), "{json}");
}

#[tokio::test]
async fn every_check_reports_the_days_left_until_ews_ends() {
    let world = World::start().await;
    let mut dir = tenant(&world, "days", Mode::Secret, &[], &[ALICE], TODAY).await;

    let run = dir.check(None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["ews_retirement"],
        json!({"date": "2027-04-01", "days_left": 122})
    );
    let summary = dir.run(&["check", "--summary", "--json"]).await;
    assert_eq!(summary.code, 0, "{summary:?}");
    assert_eq!(summary.json()["ews_retirement"]["days_left"], 122);
    assert_eq!(summary.json()["groups"], json!([]));
    let text = dir.run(&["check"]).await;
    assert!(
        text.stdout
            .contains("\nEWS in Exchange Online ends on 1 April 2027: 122 days left;"),
        "{}",
        text.stdout
    );

    // On the day before, and after the end.
    dir.env
        .insert("ROOMS_SYNC_TODAY".into(), "2027-03-31".into());
    assert_eq!(
        dir.check(None).await.json()["ews_retirement"]["days_left"],
        1
    );
    dir.env
        .insert("ROOMS_SYNC_TODAY".into(), "2027-04-05".into());
    assert_eq!(
        dir.check(None).await.json()["ews_retirement"]["days_left"],
        -4
    );
    let after = dir.run(&["check"]).await;
    assert!(
        after
            .stdout
            .contains("EWS in Exchange Online ended on 1 April 2027, 4 days ago"),
        "{}",
        after.stdout
    );

    // Without the variable, the real clock's date (read around the run, so
    // a midnight in between cannot fail the test).
    dir.env.remove("ROOMS_SYNC_TODAY");
    let days = || {
        let today = jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .date();
        i64::from(
            today
                .until(jiff::civil::date(2027, 4, 1))
                .unwrap()
                .get_days(),
        )
    };
    let before = days();
    let left = dir.check(None).await.json()["ews_retirement"]["days_left"]
        .as_i64()
        .unwrap();
    assert!(left == before || left == days(), "{left} vs {before}");

    // A malformed date is bad input naming the variable.
    dir.env
        .insert("ROOMS_SYNC_TODAY".into(), "30.11.2026".into());
    let bad = dir.check(None).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("ROOMS_SYNC_TODAY") && bad.stderr.contains("YYYY-MM-DD"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn a_delegated_tenant_is_warned_about_ropc_and_app_only_is_not() {
    let world = World::start().await;
    let delegated = tenant(&world, "ropc", Mode::Delegated, &[], &[ALICE], TODAY).await;
    let run = delegated.check(None).await;
    assert_eq!(run.code, 0, "the sync itself works: {run:?}");
    let warnings = run.json()["warnings"].clone();
    assert_eq!(warnings.as_array().unwrap().len(), 1, "{warnings}");
    let warning = &warnings[0];
    assert_eq!(warning["code"], "ropc", "{warning}");
    let message = warning["message"].as_str().unwrap();
    for needle in [
        "ExchangeUseImpersonation=false",
        SERVICE_USER,
        "ROPC",
        "multi-factor authentication",
        "Conditional Access",
        "federated",
    ] {
        assert!(message.contains(needle), "`{needle}` in {message}");
    }
    let fix = warning["fix"].as_str().unwrap();
    for needle in [
        "app-only",
        "certificate",
        "full_access_as_app",
        "ExchangeCertThumbprint",
    ] {
        assert!(fix.contains(needle), "`{needle}` in {fix}");
    }
    // In the summary and the text too; the password never.
    let summary = delegated.run(&["check", "--summary", "--json"]).await;
    assert_eq!(summary.json()["warnings"], warnings);
    let text = delegated.run(&["check", "--summary"]).await;
    assert!(
        text.stdout.contains("warning: Delegated mode"),
        "{}",
        text.stdout
    );
    for r in [&run, &summary, &text] {
        assert!(!r.everything().contains(SERVICE_PASSWORD), "{r:?}");
    }

    for (name, mode) in [("secret", Mode::Secret), ("certificate", Mode::Certificate)] {
        let dir = tenant(&world, name, mode, &[], &[ALICE], TODAY).await;
        let run = dir.check(None).await;
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.json()["warnings"], json!([]), "{name}");
        let text = dir.run(&["check"]).await;
        assert!(!text.stdout.contains("warning:"), "{}", text.stdout);
    }
}

/// Tests four persons with `SyncMaxConcurrentMailboxes` 2 against an account
/// limit of `limit` connections, each person's calendar answer slowed down;
/// returns the check's JSON and how often Exchange answered
/// `ErrorExceededConnectionCount`.
async fn connection_count_faults(limit: usize) -> (serde_json::Value, usize) {
    let world = World::start().await;
    let (status, answer) = world
        .admin(
            "PATCH",
            "settings",
            Some(&json!({"max_concurrent_requests": limit})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let persons = [ALICE, BOB, BERLIN, HAMBURG];
    let dir = tenant(
        &world,
        &format!("limit-{limit}"),
        Mode::Secret,
        &[("SyncMaxConcurrentMailboxes", "2")],
        &persons,
        TODAY,
    )
    .await;
    for mailbox in persons {
        world.emulator.inject_fault(FaultSpec {
            count: 1,
            operation: Some("GetFolder".into()),
            mailbox: Some(mailbox.into()),
            ..FaultSpec::ews(FaultAction::Latency { ms: 800 })
        });
    }
    let run = dir.check(None).await;
    // The first person's sign-in is reused by every worker.
    let tokens = world
        .emulator
        .request_log(&LogFilter {
            endpoint: Some("token".into()),
            ..LogFilter::default()
        })
        .len();
    assert_eq!(tokens, 1, "one token for all workers");
    let faults = world
        .emulator
        .request_log(&LogFilter {
            response_code: Some("ErrorExceededConnectionCount".into()),
            ..LogFilter::default()
        })
        .len();
    (run.json(), faults)
}

#[tokio::test]
async fn persons_are_checked_concurrently_up_to_the_limit() {
    let (report, faults) = connection_count_faults(2).await;
    assert_eq!(
        faults, 0,
        "two workers never exceed two connections: {report}"
    );
    let persons = report["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 4);
    // The reports keep the persons' order (as `person list` has them).
    let emails: Vec<&str> = persons
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    let mut in_order = emails.clone();
    in_order.sort();
    assert_eq!(emails, in_order, "{report}");
    for person in persons {
        assert!(
            person["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["ok"] == true),
            "{person}"
        );
    }

    let (report, faults) = connection_count_faults(1).await;
    assert!(
        faults > 0,
        "two workers overlap on the account's one connection: {report}"
    );
}
