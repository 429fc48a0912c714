//! The sync service end to end: `rooms-sync serve` as a child process (the
//! real binary, the real component) against the emulator, with Outlook-side
//! changes made through the emulator's admin API and ROOMS-side changes
//! through the `booking` commands on the same tenant directory while the
//! service runs.
//!
//! Covered here: push notifications bring Outlook creates, updates and
//! deletes into ROOMS (and nothing but a notification can explain the sync:
//! `IntervallTaskInSeconds` is 3600); pull polling finds changes and a
//! restart keeps the stored subscription and watermark; a ROOMS booking
//! reaches Exchange without waiting for an interval; a dropped or expired
//! pull subscription and a push subscription whose heartbeats stop are
//! renewed with nothing missed; SIGTERM exits 0 and changes made while the
//! service was down arrive once, also after a SIGKILL in the middle of a
//! burst; a burst of 50 Outlook changes is coalesced into a few cycles.
//!
//! Waits poll with a generous bound ([`WAIT`]); nothing asserts speed.
//! Needs `make build` (the component and `target/release/rooms-sync`).

use std::time::Duration;

use rooms_sync_integration::service::{
    Service, ServiceOptions, WAIT, add_person_mode, advance_clock, booking_slot, drop_subscription,
    ews_for, outlook_create_all, outlook_item, settle, stored_subscriptions, subscriptions_of,
};
use rooms_sync_integration::{ALICE, Mode, TenantDir, World};
use serde_json::{Value, json};

/// `ok` syncs of `tenant`.
async fn ok_syncs(svc: &Service, tenant: &str) -> f64 {
    svc.metric(
        "rooms_sync_syncs_total",
        &[("tenant", tenant), ("outcome", "ok")],
    )
    .await
}

/// Waits until the service has subscribed `mailbox` (`kind` push or pull)
/// and run at least `persons` initial syncs of `tenant`, then until the
/// tenant is idle; returns the emulator's subscription.
async fn ready(
    svc: &Service,
    world: &World,
    tenant: &str,
    mailbox: &str,
    kind: &str,
    persons: usize,
) -> Value {
    let sub = svc
        .wait_until(
            &format!("a {kind} subscription for {mailbox}"),
            WAIT,
            async || subscriptions_of(world, mailbox, kind).await.pop(),
        )
        .await;
    svc.wait_for(&format!("the initial syncs of {tenant}"), async || {
        ok_syncs(svc, tenant).await >= persons as f64
    })
    .await;
    svc.wait_idle(tenant).await;
    sub
}

/// Waits for the one booking titled `subject` in `dir`.
async fn booking_titled(svc: &Service, dir: &TenantDir, subject: &str) -> Value {
    svc.wait_until(&format!("the booking '{subject}'"), WAIT, async || {
        dir.bookings_titled(subject).await.pop()
    })
    .await
}

/// Waits for the one calendar item titled `subject` in `mailbox`.
async fn item_titled(svc: &Service, world: &World, mailbox: &str, subject: &str) -> Value {
    svc.wait_until(
        &format!("the item '{subject}' in {mailbox}'s calendar"),
        WAIT,
        async || world.calendar_items(mailbox, subject).await.pop(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_notification_brings_outlook_creates_updates_and_deletes_into_rooms() {
    let world = World::start().await;
    // An hour between polls: only a notification explains a sync.
    let dir = world.tenant("push", Mode::Secret, &[("IntervallTaskInSeconds", "3600")]);
    add_person_mode(&dir, &world, ALICE, "O365").await;
    let options = ServiceOptions::beside(&dir);
    let callback = options.callback_url("push");
    let svc = Service::start(options).await;

    let sub = ready(&svc, &world, "push", ALICE, "push", 1).await;
    assert_eq!(
        sub["url"],
        callback.as_str(),
        "the callback names the tenant: {sub}"
    );
    let stored = stored_subscriptions(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].id, sub["id"].as_str().unwrap(), "{stored:?}");
    assert_eq!(stored[0].mode, "O365", "{stored:?}");

    let received = svc
        .metric(
            "rooms_sync_notifications_received_total",
            &[("tenant", "push")],
        )
        .await;
    let mark = world.log_mark();
    let made = world
        .outlook_create(ALICE, outlook_item("Pushed create", 0))
        .await;
    let booking = booking_titled(&svc, &dir, "Pushed create").await;
    assert_eq!(booking["organiser"], ALICE, "{booking}");
    assert_eq!(booking["exchange"]["item_id"], made["id"], "{booking}");
    // It came through a push: a SyncFolderItems after the change, no
    // GetEvents, and the service counted a notification.
    assert!(
        !ews_for(&world, mark, "SyncFolderItems", ALICE).is_empty(),
        "no SyncFolderItems for Alice after the change"
    );
    let polls = ews_for(&world, mark, "GetEvents", ALICE);
    assert!(polls.is_empty(), "a push person is not polled: {polls:#?}");
    let now_received = svc
        .metric(
            "rooms_sync_notifications_received_total",
            &[("tenant", "push")],
        )
        .await;
    assert!(
        now_received > received,
        "notifications received {received} → {now_received}"
    );

    let id = made["id"].as_str().unwrap().to_owned();
    world
        .outlook_patch(ALICE, &id, json!({ "subject": "Pushed update" }))
        .await;
    let updated = booking_titled(&svc, &dir, "Pushed update").await;
    assert_eq!(updated["id"], booking["id"], "the same booking: {updated}");

    world.outlook_delete(ALICE, &id).await;
    svc.wait_for("the booking to be cancelled", async || {
        dir.booking(booking["id"].as_str().unwrap()).await["state"] == "cancelled"
    })
    .await;
    assert_eq!(dir.bookings().await.len(), 1, "one booking, cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_polling_finds_changes_and_a_restart_keeps_the_subscription_and_watermark() {
    let world = World::start().await;
    let dir = world.tenant("pull", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    let mut svc = Service::start(ServiceOptions::beside(&dir)).await;
    let sub = ready(&svc, &world, "pull", ALICE, "pull", 1).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    assert!(
        sub["url"].is_null(),
        "a pull subscription has no callback: {sub}"
    );

    let mark = world.log_mark();
    world
        .outlook_create(ALICE, outlook_item("Pulled create", 1))
        .await;
    booking_titled(&svc, &dir, "Pulled create").await;
    let polls = ews_for(&world, mark, "GetEvents", ALICE);
    assert!(
        polls
            .iter()
            .any(|e| e.response_code.as_deref() == Some("NoError")),
        "the change was found by GetEvents: {polls:#?}"
    );
    svc.wait_idle("pull").await;
    let before = stored_subscriptions(&dir);
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].id, id);
    assert_eq!(before[0].mode, "O365Pull");

    // Restart: the stored subscription goes on, no new Subscribe.
    let status = svc.terminate().await;
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0: {status}");
    let restarted = world.log_mark();
    svc.start_again().await;
    svc.wait_for("two GetEvents after the restart", async || {
        ews_for(&world, restarted, "GetEvents", ALICE)
            .iter()
            .filter(|e| e.response_code.as_deref() == Some("NoError"))
            .count()
            >= 2
    })
    .await;
    world
        .outlook_create(ALICE, outlook_item("Pulled after restart", 2))
        .await;
    booking_titled(&svc, &dir, "Pulled after restart").await;
    let subscribes = ews_for(&world, restarted, "Subscribe", ALICE);
    assert!(
        subscribes.is_empty(),
        "the stored subscription was used, yet the service subscribed again: {subscribes:#?}"
    );
    let listed = subscriptions_of(&world, ALICE, "pull").await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["id"], id.as_str());
    svc.wait_idle("pull").await;
    let after = stored_subscriptions(&dir);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id, id, "the same subscription id is stored");
    assert_ne!(
        after[0].watermark, before[0].watermark,
        "the watermark moved on with the change after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_booking_reaches_exchange_without_waiting_for_the_interval() {
    let world = World::start().await;
    let dir = world.tenant(
        "rooms-side",
        Mode::Secret,
        &[("IntervallTaskInSeconds", "3600")],
    );
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    ready(&svc, &world, "rooms-side", ALICE, "pull", 1).await;

    let mark = world.log_mark();
    let (start, end) = booking_slot(0);
    let id = dir
        .booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            "Booked in ROOMS",
            "--start",
            &start,
            "--end",
            &end,
        ])
        .await;
    let item = item_titled(&svc, &world, ALICE, "Booked in ROOMS").await;
    assert!(
        !world.writes_since(mark).is_empty(),
        "the item was written by the service"
    );
    assert!(
        ews_for(&world, mark, "GetEvents", ALICE).is_empty(),
        "no poll explains it (IntervallTaskInSeconds=3600)"
    );
    svc.wait_for("the booking to be linked to its item", async || {
        dir.booking(&id).await["exchange"]["item_id"] == item["id"]
    })
    .await;

    dir.ok(&[
        "booking",
        "update",
        &id,
        "--subject",
        "Booked in ROOMS (moved)",
    ])
    .await;
    item_titled(&svc, &world, ALICE, "Booked in ROOMS (moved)").await;
    dir.ok(&["booking", "cancel", &id]).await;
    svc.wait_for("the cancelled booking's item to be gone", async || {
        world.calendar(ALICE).await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_expired_pull_subscription_is_renewed_and_nothing_is_missed() {
    let world = World::start().await;
    let dir = world.tenant(
        "lost",
        Mode::Secret,
        &[
            ("IntervallTaskInSeconds", "1"),
            ("SubscriptionTimeoutInMinutes", "1"),
        ],
    );
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    let first = ready(&svc, &world, "lost", ALICE, "pull", 1).await;
    let first_id = first["id"].as_str().unwrap().to_owned();

    // Dropped by Exchange: ErrorSubscriptionNotFound, a new subscription.
    let mark = world.log_mark();
    drop_subscription(&world, &first_id).await;
    world
        .outlook_create(ALICE, outlook_item("After the drop", 3))
        .await;
    booking_titled(&svc, &dir, "After the drop").await;
    let second = svc
        .wait_until("a new pull subscription", WAIT, async || {
            subscriptions_of(&world, ALICE, "pull")
                .await
                .into_iter()
                .find(|s| s["id"] != first_id.as_str())
        })
        .await;
    let codes: Vec<Option<String>> = ews_for(&world, mark, "GetEvents", ALICE)
        .into_iter()
        .map(|e| e.response_code)
        .collect();
    assert!(
        codes
            .iter()
            .any(|c| c.as_deref() == Some("ErrorSubscriptionNotFound")),
        "{codes:?}"
    );
    assert!(!ews_for(&world, mark, "Subscribe", ALICE).is_empty());
    svc.wait_idle("lost").await;

    // Expired: no GetEvents for longer than SubscriptionTimeoutInMinutes
    // on Exchange's clock.
    let mark = world.log_mark();
    advance_clock(&world, 120).await;
    world
        .outlook_create(ALICE, outlook_item("After the expiry", 4))
        .await;
    booking_titled(&svc, &dir, "After the expiry").await;
    svc.wait_until("a third pull subscription", WAIT, async || {
        subscriptions_of(&world, ALICE, "pull")
            .await
            .into_iter()
            .find(|s| s["id"] != first_id.as_str() && s["id"] != second["id"])
    })
    .await;
    let codes: Vec<Option<String>> = ews_for(&world, mark, "GetEvents", ALICE)
        .into_iter()
        .map(|e| e.response_code)
        .collect();
    assert!(
        codes
            .iter()
            .any(|c| c.as_deref() == Some("ErrorExpiredSubscription")),
        "{codes:?}"
    );
    // Neither was a failure toward deactivation.
    let persons = dir.ok_json(&["person", "list"]).await;
    assert_eq!(persons["persons"][0]["sync_disabled"], false, "{persons}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_subscription_whose_heartbeats_stop_is_renewed() {
    // Heartbeats come every StatusFrequency on Exchange's clock; the test
    // moves that clock a minute every 200 ms, so they come about five times
    // a second, well inside the service's 2 × 1 + 1 test minutes of 500 ms.
    // Tokens live a day of that clock.
    let world = World::start_with(|seed| seed.settings.token_lifetime_seconds = 86_400).await;
    let dir = world.tenant(
        "heartbeat",
        Mode::Secret,
        &[
            ("IntervallTaskInSeconds", "3600"),
            ("StatusFrequencyMinutes", "1"),
            ("RenewalThresholdMinutes", "1440"),
            ("IntervallSubscribeInMinutes", "1440"),
        ],
    );
    add_person_mode(&dir, &world, ALICE, "O365").await;
    let options = ServiceOptions::beside(&dir).env("ROOMS_SYNC_TEST_MINUTE_MS", "500");
    let svc = Service::start(options).await;
    let clock = format!("{}/admin/clock/advance", world.emulator.base_url());
    let driver = tokio::spawn(async move {
        loop {
            let _ = exo_emulator::client::send(
                "POST",
                &clock,
                &[("Content-Type", "application/json")],
                br#"{"seconds": 61}"#,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    ready(&svc, &world, "heartbeat", ALICE, "push", 1).await;

    // While heartbeats arrive, the subscription stays.
    let heard = async || {
        svc.metric(
            "rooms_sync_notifications_received_total",
            &[("tenant", "heartbeat")],
        )
        .await
    };
    let base = heard().await;
    let mark = world.log_mark();
    svc.wait_for("ten heartbeats", async || heard().await >= base + 10.0)
        .await;
    let renewals = ews_for(&world, mark, "Subscribe", ALICE);
    assert!(
        renewals.is_empty(),
        "renewed although heartbeats kept arriving: {renewals:#?}"
    );
    let stored = stored_subscriptions(&dir);
    assert_eq!(stored.len(), 1, "{stored:?}");
    let first_id = stored[0].id.clone();

    // Exchange drops it: heartbeats stop, the service subscribes again.
    let mark = world.log_mark();
    drop_subscription(&world, &first_id).await;
    let second = svc
        .wait_until("a new push subscription", WAIT, async || {
            subscriptions_of(&world, ALICE, "push")
                .await
                .into_iter()
                .find(|s| s["id"] != first_id.as_str())
        })
        .await;
    assert!(!ews_for(&world, mark, "Subscribe", ALICE).is_empty());
    svc.wait_for("the new subscription stored", async || {
        stored_subscriptions(&dir)
            .first()
            .is_some_and(|s| s.id == second["id"].as_str().unwrap())
    })
    .await;
    world
        .outlook_create(ALICE, outlook_item("After the heartbeats stopped", 5))
        .await;
    booking_titled(&svc, &dir, "After the heartbeats stopped").await;
    driver.abort();
}

/// Asserts that each subject is exactly one booking of `dir` and exactly one
/// item in Alice's calendar, and that no subject is doubled anywhere.
async fn assert_once(world: &World, dir: &TenantDir, subjects: &[String]) {
    let bookings = dir.bookings().await;
    let items = world.calendar(ALICE).await;
    for subject in subjects {
        let b = bookings.iter().filter(|b| b["subject"] == *subject).count();
        let i = items.iter().filter(|i| i["subject"] == *subject).count();
        assert_eq!(b, 1, "bookings titled '{subject}': {bookings:#?}");
        assert_eq!(i, 1, "items titled '{subject}': {items:#?}");
    }
    let mut seen = std::collections::HashSet::new();
    for b in &bookings {
        assert!(seen.insert(b["subject"].to_string()), "doubled booking {b}");
    }
    let mut seen = std::collections::HashSet::new();
    for i in &items {
        assert!(seen.insert(i["subject"].to_string()), "doubled item {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigterm_or_sigkill_misses_nothing_and_applies_nothing_twice() {
    let world = World::start().await;
    let dir = world.tenant("restart", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&dir, &world, ALICE, "O365Pull").await;
    let mut svc = Service::start(ServiceOptions::beside(&dir)).await;
    ready(&svc, &world, "restart", ALICE, "pull", 1).await;

    let status = svc.terminate().await;
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0: {status}");
    assert!(
        svc.log_lines()
            .iter()
            .any(|l| l["msg"].as_str().is_some_and(|m| m.contains("stopped"))),
        "no `stopped` line:\n{}",
        svc.log_tail()
    );

    // Both sides change while the service is down.
    let mut subjects = vec![
        "Made while down (Outlook)".to_owned(),
        "Made while down (ROOMS)".to_owned(),
    ];
    world
        .outlook_create(ALICE, outlook_item(&subjects[0], 10))
        .await;
    let (start, end) = booking_slot(10);
    dir.booking_add(&[
        "--organiser",
        ALICE,
        "--subject",
        &subjects[1],
        "--start",
        &start,
        "--end",
        &end,
    ])
    .await;
    svc.start_again().await;
    booking_titled(&svc, &dir, &subjects[0]).await;
    item_titled(&svc, &world, ALICE, &subjects[1]).await;
    svc.wait_idle("restart").await;
    assert_once(&world, &dir, &subjects).await;

    // A burst on both sides, SIGKILL while it syncs.
    let mark = world.log_mark();
    let mut burst = Vec::new();
    for n in 0..8 {
        let subject = format!("Burst {n} (Outlook)");
        burst.push(outlook_item(&subject, 20 + n));
        subjects.push(subject);
    }
    outlook_create_all(&world, ALICE, burst).await;
    for n in 0..4 {
        let subject = format!("Burst {n} (ROOMS)");
        let (start, end) = booking_slot(20 + n);
        dir.booking_add(&[
            "--organiser",
            ALICE,
            "--subject",
            &subject,
            "--start",
            &start,
            "--end",
            &end,
        ])
        .await;
        subjects.push(subject);
    }
    svc.wait_for("the service to work on the burst", async || {
        !ews_for(&world, mark, "SyncFolderItems", ALICE).is_empty()
            || !world.writes_since(mark).is_empty()
    })
    .await;
    svc.kill().await;
    settle(&world).await;

    svc.start_again().await;
    for subject in &subjects {
        if subject.ends_with("(Outlook)") {
            booking_titled(&svc, &dir, subject).await;
        } else {
            item_titled(&svc, &world, ALICE, subject).await;
        }
    }
    svc.wait_idle("restart").await;
    // A few more polls: a late duplicate would show up by now.
    let quiet = world.log_mark();
    svc.wait_for("three more polls", async || {
        ews_for(&world, quiet, "GetEvents", ALICE).len() >= 3
    })
    .await;
    svc.wait_idle("restart").await;
    assert_once(&world, &dir, &subjects).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_fifty_outlook_changes_is_coalesced_into_a_few_cycles() {
    let world = World::start().await;
    let dir = world.tenant(
        "coalesce",
        Mode::Secret,
        &[("IntervallTaskInSeconds", "3600")],
    );
    add_person_mode(&dir, &world, ALICE, "O365").await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    ready(&svc, &world, "coalesce", ALICE, "push", 1).await;

    let syncs = ok_syncs(&svc, "coalesce").await;
    let mark = world.log_mark();
    let items: Vec<Value> = (0..50)
        .map(|n| outlook_item(&format!("Coalesced {n}"), 40 + n))
        .collect();
    outlook_create_all(&world, ALICE, items).await;
    svc.wait_for("all 50 bookings", async || {
        dir.bookings()
            .await
            .iter()
            .filter(|b| {
                b["subject"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("Coalesced "))
            })
            .count()
            == 50
    })
    .await;
    svc.wait_idle("coalesce").await;
    let cycles = ok_syncs(&svc, "coalesce").await - syncs;
    let reads = ews_for(&world, mark, "SyncFolderItems", ALICE).len();
    assert!(
        (1.0..=5.0).contains(&cycles),
        "50 changes gave {cycles} sync cycles"
    );
    assert!(
        (1..=5).contains(&reads),
        "50 changes gave {reads} SyncFolderItems requests"
    );
    let mut subjects: Vec<String> = dir
        .bookings()
        .await
        .iter()
        .map(|b| b["subject"].as_str().unwrap().to_owned())
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 50, "each change once: {subjects:?}");
}
