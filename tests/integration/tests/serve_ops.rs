//! The service as an operator sees it: `rooms-sync serve` as a child
//! process against the emulator.
//!
//! Covered here: repeated `GetEvents` or `Subscribe` failures disable a
//! person after exactly `FailedGetEventsTillDeactivate` /
//! `FailedSubscribeTillDeactivate` failures (visible in `person list` and
//! `check`, no more requests for it) while the other persons keep syncing;
//! a tenant with broken settings is reported (`/healthz`, the log,
//! `rooms_sync_tenants`) while the good one syncs, starts once the file is
//! fixed, and a tenant directory added while the service runs is picked up;
//! every JSON log line has its tenant and person and no secret, and
//! `/metrics` has every family with sensible values.
//!
//! Needs `make build` (the component and `target/release/rooms-sync`).

use rooms_sync_integration::service::{
    Service, ServiceOptions, WAIT, add_person_mode, ews_for, has_family, metric_in, outlook_item,
    replace_settings, subscriptions_of,
};
use rooms_sync_integration::{ALICE, BOB, CLIENT_SECRET, HAMBURG, Mode, TenantDir, World};
use serde_json::{Value, json};

async fn ok_syncs(svc: &Service, tenant: &str) -> f64 {
    svc.metric(
        "rooms_sync_syncs_total",
        &[("tenant", tenant), ("outcome", "ok")],
    )
    .await
}

/// The `person list --json` entry of `email`.
async fn person(dir: &TenantDir, email: &str) -> Value {
    let json = dir.ok_json(&["person", "list"]).await;
    json["persons"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["email"] == email))
        .unwrap_or_else(|| panic!("no {email} in {json}"))
        .clone()
}

/// Injects an emulator fault.
async fn inject(world: &World, fault: Value) {
    let (status, json) = world.admin("POST", "faults", Some(&fault)).await;
    assert_eq!(status, 200, "injecting {fault}: {json}");
}

/// Injects an EWS fault for `operation` on `mailbox` that fires many times.
async fn break_operation(world: &World, operation: &str, mailbox: &str) {
    inject(
        world,
        json!({
            "count": 1000, "endpoint": "ews", "operation": operation, "mailbox": mailbox,
            "action": {"kind": "ews_error", "code": "ErrorInternalServerError",
                       "message": "An internal server error occurred. The operation failed."},
        }),
    )
    .await;
}

/// Waits until Bob's Outlook item `subject` is a booking of `dir`.
async fn bob_still_syncs(svc: &Service, world: &World, dir: &TenantDir, subject: &str, slot: i64) {
    world.outlook_create(BOB, outlook_item(subject, slot)).await;
    svc.wait_until(&format!("Bob's '{subject}'"), WAIT, async || {
        dir.bookings_titled(subject).await.pop()
    })
    .await;
}

/// Asserts what a deactivated person looks like to the operator.
async fn assert_disabled(dir: &TenantDir, email: &str, words: &[&str]) {
    let p = person(dir, email).await;
    assert_eq!(p["sync_disabled"], true, "{p}");
    let reason = p["disabled_reason"]
        .as_str()
        .unwrap_or_else(|| panic!("{p}"));
    for word in words {
        assert!(reason.contains(word), "the reason names `{word}`: {reason}");
    }
    assert!(p["disabled_at"].is_string(), "{p}");
    let check = dir.check(Some(email)).await.check(email, "sync-enabled");
    assert_eq!(check["ok"], false, "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_get_events_disable_the_person_after_exactly_the_configured_count() {
    let world = World::start().await;
    let dir = world.tenant(
        "poll-fails",
        Mode::Secret,
        &[
            ("IntervallTaskInSeconds", "1"),
            ("FailedGetEventsTillDeactivate", "3"),
        ],
    );
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    add_person_mode(&dir, &world, BOB, "O365Pull").await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    for who in [ALICE, BOB] {
        svc.wait_until(&format!("{who}'s pull subscription"), WAIT, async || {
            subscriptions_of(&world, who, "pull").await.pop()
        })
        .await;
    }
    svc.wait_for("the initial syncs", async || {
        ok_syncs(&svc, "poll-fails").await >= 2.0
    })
    .await;

    let mark = world.log_mark();
    break_operation(&world, "GetEvents", ALICE).await;
    svc.wait_for("Alice to be disabled", async || {
        person(&dir, ALICE).await["sync_disabled"] == true
    })
    .await;
    let failed = ews_for(&world, mark, "GetEvents", ALICE);
    assert_eq!(
        failed.len(),
        3,
        "exactly 3 GetEvents for Alice: {failed:#?}"
    );
    assert!(failed.iter().all(|e| e.fault.is_some()), "{failed:#?}");
    assert_disabled(&dir, ALICE, &["3", "ErrorInternalServerError"]).await;
    assert!(
        svc.log_lines().iter().any(|l| l["level"] == "error"
            && l["person"] == ALICE
            && l["msg"].as_str().is_some_and(|m| m.contains("disabled"))),
        "no error line about disabling Alice:\n{}",
        svc.log_tail()
    );
    let metrics = svc.metrics().await;
    let t = ("tenant", "poll-fails");
    assert_eq!(
        metric_in(&metrics, "rooms_sync_deactivations_total", &[t]),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        metric_in(
            &metrics,
            "rooms_sync_errors_total",
            &[t, ("code", "ErrorInternalServerError")]
        ),
        3.0,
        "{metrics}"
    );

    // Bob goes on; Alice is polled no more.
    let after = world.log_mark();
    bob_still_syncs(&svc, &world, &dir, "Bob after Alice's failures", 0).await;
    svc.wait_for("three more polls of Bob", async || {
        ews_for(&world, after, "GetEvents", BOB).len() >= 3
    })
    .await;
    let more = ews_for(&world, after, "GetEvents", ALICE);
    assert!(more.is_empty(), "a disabled person is polled: {more:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_subscribes_disable_the_person_after_exactly_the_configured_count() {
    let world = World::start().await;
    let dir = world.tenant(
        "subscribe-fails",
        Mode::Secret,
        &[
            ("IntervallTaskInSeconds", "1"),
            ("FailedSubscribeTillDeactivate", "3"),
        ],
    );
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    add_person_mode(&dir, &world, BOB, "O365Pull").await;
    let mark = world.log_mark();
    break_operation(&world, "Subscribe", ALICE).await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    svc.wait_for("Alice to be disabled", async || {
        person(&dir, ALICE).await["sync_disabled"] == true
    })
    .await;
    let failed = ews_for(&world, mark, "Subscribe", ALICE);
    assert_eq!(
        failed.len(),
        3,
        "exactly 3 Subscribe for Alice: {failed:#?}"
    );
    assert_disabled(&dir, ALICE, &["3", "ErrorInternalServerError"]).await;

    let after = world.log_mark();
    bob_still_syncs(&svc, &world, &dir, "Bob after Alice's refusals", 1).await;
    svc.wait_for("three more polls of Bob", async || {
        ews_for(&world, after, "GetEvents", BOB).len() >= 3
    })
    .await;
    for op in ["Subscribe", "GetEvents", "SyncFolderItems"] {
        let more = ews_for(&world, after, op, ALICE);
        assert!(more.is_empty(), "{op} for a disabled person: {more:#?}");
    }
}

/// The settings of `dir` with `ExchangeTenantId` replaced by `tenant_id`.
fn with_tenant_id(dir: &TenantDir, tenant_id: &str) -> String {
    let text = std::fs::read_to_string(dir.path.join("RoomsAppSettings.config")).unwrap();
    text.lines()
        .map(|l| {
            if l.contains("key=\"ExchangeTenantId\"") {
                format!("  <add key=\"ExchangeTenantId\" value=\"{tenant_id}\" />")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_tenant_is_reported_while_the_others_sync_and_is_picked_up_once_fixed() {
    let world = World::start().await;
    let good = world.tenant("good", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&good, &world, ALICE, "O365Pull").await;
    let broken = world.tenant("broken", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&broken, &world, BOB, "O365Pull").await;
    let valid = std::fs::read_to_string(broken.path.join("RoomsAppSettings.config")).unwrap();
    replace_settings(&broken.path, &with_tenant_id(&broken, "not-a-tenant-guid"));

    let svc = Service::start(ServiceOptions::beside(&good)).await;
    let health = svc
        .wait_until("the broken tenant in /healthz", WAIT, async || {
            svc.tenant_health("broken")
                .await
                .filter(|t| t["state"] == "broken")
        })
        .await;
    let error = health["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{health}"));
    assert!(
        error.contains("ExchangeTenantId"),
        "the error names the key: {error}"
    );
    let (status, all) = svc.healthz().await;
    assert_eq!(
        status, 200,
        "a broken tenant leaves the service healthy: {all}"
    );
    assert_eq!(all["status"], "ok", "{all}");
    assert!(
        svc.log_lines().iter().any(|l| l["tenant"] == "broken"
            && l["msg"]
                .as_str()
                .is_some_and(|m| m.contains("ExchangeTenantId"))),
        "no log line about the broken tenant:\n{}",
        svc.log_tail()
    );
    let metrics = svc.metrics().await;
    assert_eq!(
        metric_in(&metrics, "rooms_sync_tenants", &[("state", "broken")]),
        1.0,
        "{metrics}"
    );

    // The good tenant syncs meanwhile.
    svc.wait_until("Alice's pull subscription", WAIT, async || {
        subscriptions_of(&world, ALICE, "pull").await.pop()
    })
    .await;
    world
        .outlook_create(ALICE, outlook_item("Good tenant syncs", 0))
        .await;
    svc.wait_until("the good tenant's booking", WAIT, async || {
        good.bookings_titled("Good tenant syncs").await.pop()
    })
    .await;
    assert!(
        subscriptions_of(&world, BOB, "pull").await.is_empty(),
        "the broken tenant subscribed Bob"
    );

    // Fixed on disk: it starts, without a restart.
    replace_settings(&broken.path, &valid);
    svc.wait_for("the fixed tenant to run", async || {
        svc.tenant_health("broken")
            .await
            .is_some_and(|t| t["state"] == "running")
    })
    .await;
    world
        .outlook_create(BOB, outlook_item("Fixed tenant syncs", 1))
        .await;
    svc.wait_until("the fixed tenant's booking", WAIT, async || {
        broken.bookings_titled("Fixed tenant syncs").await.pop()
    })
    .await;
    let metrics = svc.metrics().await;
    assert_eq!(
        metric_in(&metrics, "rooms_sync_tenants", &[("state", "broken")]),
        0.0
    );
    assert_eq!(
        metric_in(&metrics, "rooms_sync_tenants", &[("state", "running")]),
        2.0
    );

    // A new tenant directory while running: picked up, its calendar imported.
    world
        .outlook_create(HAMBURG, outlook_item("Hamburg before the tenant", 2))
        .await;
    let late = world.tenant("late", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    late.add_person_with(&world, HAMBURG, &["--room"]).await;
    svc.wait_until("the new tenant's import", WAIT, async || {
        late.bookings_titled("Hamburg before the tenant")
            .await
            .pop()
    })
    .await;
    let t = svc
        .tenant_health("late")
        .await
        .expect("the new tenant in /healthz");
    assert_eq!(t["state"], "running", "{t}");
    assert_eq!(t["persons"], 1, "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_tenant_and_person_and_metrics_have_every_family() {
    let world = World::start().await;
    let dir = world.tenant("observed", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&dir, &world, ALICE, "O365").await;
    add_person_mode(&dir, &world, BOB, "O365Pull").await;
    // Alice's first sync is throttled once (back-off seconds), one of Bob's
    // polls fails (an error code); neither stops anything.
    inject(
        &world,
        json!({"count": 1, "endpoint": "ews", "operation": "SyncFolderItems", "mailbox": ALICE,
               "action": {"kind": "ews_error", "code": "ErrorServerBusy", "back_off_ms": 300}}),
    )
    .await;
    let svc = Service::start(ServiceOptions::beside(&dir).log_level("debug")).await;
    for (who, kind) in [(ALICE, "push"), (BOB, "pull")] {
        svc.wait_until(&format!("{who}'s {kind} subscription"), WAIT, async || {
            subscriptions_of(&world, who, kind).await.pop()
        })
        .await;
    }
    let mark = world.log_mark();
    inject(
        &world,
        json!({"count": 1, "endpoint": "ews", "operation": "GetEvents", "mailbox": BOB,
               "action": {"kind": "ews_error", "code": "ErrorInternalServerError",
                          "message": "An internal server error occurred."}}),
    )
    .await;
    svc.wait_for("Bob's failed poll", async || {
        ews_for(&world, mark, "GetEvents", BOB)
            .iter()
            .any(|e| e.fault.is_some())
    })
    .await;
    world
        .outlook_create(ALICE, outlook_item("Observed push", 0))
        .await;
    world
        .outlook_create(BOB, outlook_item("Observed pull", 1))
        .await;
    for subject in ["Observed push", "Observed pull"] {
        svc.wait_until(&format!("'{subject}'"), WAIT, async || {
            dir.bookings_titled(subject).await.pop()
        })
        .await;
    }
    svc.wait_idle("observed").await;

    let metrics = svc.metrics().await;
    for family in [
        "rooms_sync_syncs_total",
        "rooms_sync_items_total",
        "rooms_sync_errors_total",
        "rooms_sync_backoff_seconds_total",
        "rooms_sync_subscriptions_active",
        "rooms_sync_notifications_received_total",
        "rooms_sync_notifications_refused_total",
        "rooms_sync_instantiation_seconds",
        "rooms_sync_queue_depth",
        "rooms_sync_tenants",
        "rooms_sync_get_events_sweep_seconds",
        "rooms_sync_deactivations_total",
    ] {
        assert!(
            has_family(&metrics, family),
            "no family {family} in:\n{metrics}"
        );
    }
    let m = |name: &str, labels: &[(&str, &str)]| metric_in(&metrics, name, labels);
    let t = ("tenant", "observed");
    assert!(
        m("rooms_sync_syncs_total", &[t, ("outcome", "ok")]) >= 2.0,
        "{metrics}"
    );
    assert_eq!(
        m("rooms_sync_syncs_total", &[t, ("outcome", "failed")]),
        0.0,
        "{metrics}"
    );
    assert!(
        m("rooms_sync_items_total", &[t, ("direction", "to_rooms")]) >= 2.0,
        "{metrics}"
    );
    assert_eq!(
        m("rooms_sync_subscriptions_active", &[t, ("mode", "push")]),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        m("rooms_sync_subscriptions_active", &[t, ("mode", "pull")]),
        1.0,
        "{metrics}"
    );
    assert!(
        m("rooms_sync_notifications_received_total", &[t]) >= 1.0,
        "{metrics}"
    );
    assert_eq!(m("rooms_sync_queue_depth", &[t]), 0.0, "{metrics}");
    assert_eq!(
        m("rooms_sync_tenants", &[("state", "running")]),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        m("rooms_sync_tenants", &[("state", "broken")]),
        0.0,
        "{metrics}"
    );
    assert!(
        m("rooms_sync_instantiation_seconds_count", &[]) >= 1.0,
        "{metrics}"
    );
    assert!(
        m("rooms_sync_get_events_sweep_seconds_count", &[t]) >= 1.0,
        "{metrics}"
    );
    assert_eq!(m("rooms_sync_deactivations_total", &[t]), 0.0, "{metrics}");
    // (Which code the failed poll counts under is asserted by the
    // deactivation test.)
    assert!(m("rooms_sync_errors_total", &[t]) >= 1.0, "{metrics}");
    assert!(
        m("rooms_sync_backoff_seconds_total", &[t]) >= 0.3,
        "{metrics}"
    );

    let (status, health) = svc.healthz().await;
    assert_eq!(status, 200);
    let entry = svc
        .tenant_health("observed")
        .await
        .expect("the tenant in /healthz");
    assert_eq!(entry["state"], "running", "{health}");
    assert_eq!(entry["persons"], 2, "{health}");
    assert_eq!(
        entry["subscriptions"],
        json!({"push": 1, "pull": 1}),
        "{health}"
    );
    assert_eq!(entry["queue"], 0, "{health}");

    let lines = svc.log_lines();
    assert!(!lines.is_empty(), "no log lines at debug");
    let mut wrong = Vec::new();
    for line in &lines {
        assert!(line.is_object(), "not a JSON line: {line}");
        for key in ["ts", "level", "msg"] {
            assert!(line[key].is_string(), "no `{key}` in {line}");
        }
        assert!(
            !line.to_string().contains(CLIENT_SECRET),
            "a secret in {line}"
        );
        if !line["person"].is_null() && !line["tenant"].is_string() {
            wrong.push(format!("a person line without its tenant: {line}"));
        }
        let msg = line["msg"].as_str().unwrap_or_default();
        for (who, other) in [(ALICE, BOB), (BOB, ALICE)] {
            if msg.contains(who) && !msg.contains(other) {
                if line["tenant"] != "observed" {
                    wrong.push(format!("a line about {who} without its tenant: {line}"));
                }
                if line["person"] != who {
                    wrong.push(format!("a line about {who} without its person: {line}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} lines lack their tenant or person:\n{}",
        wrong.len(),
        lines.len(),
        wrong.join("\n")
    );
    for who in [ALICE, BOB] {
        assert!(
            lines
                .iter()
                .any(|l| l["person"] == who && l["tenant"] == "observed"),
            "no line for {who}"
        );
    }
    assert!(!svc.all_output().contains(CLIENT_SECRET));
}
