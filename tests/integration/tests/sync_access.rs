//! Two-way sync and the tenant's access, end to end:
//! - a mailbox blocked by policy stops that person's sync with the message
//!   and fix `check` gives, and the other persons go on;
//! - a delegate without `CanViewPrivateItems` is told so (with the exact
//!   `Set-MailboxFolderPermission` line) instead of syncing a calendar that
//!   silently lacks its private meetings;
//! - persons sync concurrently up to `SyncMaxConcurrentMailboxes`: with two
//!   workers and an account limit of one connection, Exchange answers
//!   `ErrorExceededConnectionCount` to one of them (and the back-off takes
//!   it); with one worker it never does.

use exo_emulator::{FaultAction, FaultSpec};
use rooms_sync_integration::{ALICE, BERLIN, Mode, SERVICE_USER, World};
use serde_json::json;

const BOB: &str = "bob@contoso.com";

#[tokio::test]
async fn a_blocked_mailbox_stops_only_its_person_with_the_check_message() {
    let world = World::start().await;
    let dir = world
        .sync_tenant("blocked", &[], &[(ALICE, &[]), (BOB, &[])])
        .await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Still synced", "start": "2027-02-01T08:00:00Z",
                   "end": "2027-02-01T09:00:00Z"}),
        )
        .await;
    let (status, answer) = world
        .admin(
            "PATCH",
            &format!("mailboxes/{BOB}"),
            Some(&json!({"ews_enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let r = dir.sync_any(None).await;
    assert_eq!(r.run.code, 1, "one person failed: {}", r.json);
    let alice = r.person(ALICE);
    assert_eq!(alice["completed"], true, "{alice}");
    assert_eq!(alice["to_rooms"]["created"], 1, "{alice}");
    let bob = r.person(BOB);
    assert_eq!(bob["completed"], false, "{bob}");
    let error = &bob["errors"][0];
    assert_eq!(error["code"], "HTTP 403", "{bob}");

    // The same words as the sync test's red check.
    let check = dir.check(Some(BOB)).await;
    let access = check.check(BOB, "calendar-access");
    assert_eq!(access["ok"], false);
    assert_eq!(error["message"], access["message"], "{bob}\n{access}");
    assert_eq!(error["fix"], access["fix"], "{bob}\n{access}");
}

#[tokio::test]
async fn a_delegate_without_can_view_private_items_is_told_what_to_fix() {
    let world = World::start().await;
    let dir = world.tenant("delegate", Mode::Delegated, &[]);
    dir.add_person_with(&world, ALICE, &[]).await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Public", "start": "2027-02-02T08:00:00Z",
                   "end": "2027-02-02T09:00:00Z"}),
        )
        .await;
    world
        .outlook_create(
            ALICE,
            json!({"subject": "Doctor", "sensitivity": "Private",
                   "start": "2027-02-03T08:00:00Z", "end": "2027-02-03T09:00:00Z"}),
        )
        .await;

    // With CanViewPrivateItems (the demo seed) the private item is synced,
    // flagged private with its subject kept.
    let r = dir.sync(None).await;
    assert_eq!(r.totals().to_rooms[0], 2, "{}", r.json);
    let private = dir.only_booking("Doctor").await;
    assert_eq!(private["private"], true, "{private}");

    // Without it, the run says so and names the exact fix.
    let (status, answer) = world
        .admin(
            "POST",
            "folder_permissions",
            Some(
                &json!({"mailbox": ALICE, "folder": "calendar", "user": SERVICE_USER,
                         "rights": "Editor", "flags": ["Delegate"]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let r = dir.sync_any(None).await;
    let errors = r.errors();
    let hidden = errors
        .iter()
        .find(|e| e["code"] == "private-items-hidden")
        .unwrap_or_else(|| panic!("no warning: {}", r.json));
    let fix = hidden["fix"].as_str().unwrap();
    assert!(
        fix.contains(&format!(
            "Set-MailboxFolderPermission -Identity {ALICE}:\\Calendar -User {SERVICE_USER}"
        )) && fix.contains("CanViewPrivateItems"),
        "{fix}"
    );
    assert_eq!(r.person(ALICE)["completed"], true, "{}", r.json);
    assert_eq!(r.run.code, 1, "a warning the admin must act on: {}", r.json);
}

/// Runs a two-person sync with an account limit of one connection and slow
/// `SyncFolderItems` answers; returns how often Exchange answered
/// `ErrorExceededConnectionCount`.
async fn connection_count_faults(workers: &str) -> usize {
    let world = World::start().await;
    let dir = world
        .sync_tenant(
            &format!("workers-{workers}"),
            &[("SyncMaxConcurrentMailboxes", workers)],
            &[(ALICE, &[]), (BERLIN, &["--room"])],
        )
        .await;
    // Real waits: the back-off (about a second) outlasts the other
    // worker's slow request, as it would against Exchange.
    let (status, answer) = world
        .admin(
            "PATCH",
            "settings",
            Some(&json!({"max_concurrent_requests": 1})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for mailbox in [ALICE, BERLIN] {
        world.emulator.inject_fault(FaultSpec {
            count: 1,
            operation: Some("SyncFolderItems".into()),
            mailbox: Some(mailbox.into()),
            ..FaultSpec::ews(FaultAction::Latency { ms: 500 })
        });
    }
    let r = dir.sync(None).await;
    assert!(
        r.person(ALICE)["completed"] == true && r.person(BERLIN)["completed"] == true,
        "{}",
        r.json
    );
    world
        .emulator
        .request_log(&exo_emulator::LogFilter::default())
        .iter()
        .filter(|e| e.response_code.as_deref() == Some("ErrorExceededConnectionCount"))
        .count()
}

#[tokio::test]
async fn persons_sync_concurrently_up_to_the_limit() {
    assert!(
        connection_count_faults("2").await > 0,
        "two workers overlap on the account's one connection"
    );
    assert_eq!(
        connection_count_faults("1").await,
        0,
        "one worker never overlaps"
    );
}
