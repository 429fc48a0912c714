//! The service's push webhook under attack and between tenants:
//! `rooms-sync serve` as a child process against the emulator.
//!
//! Covered here: hostile posts to `/api/webhooks/exchange/<tenant>` (wrong
//! method, wrong content type, an oversized body, malformed XML, SOAP that
//! is not `SendNotification`, an unknown subscription, an unknown tenant, a
//! flood) are refused with the right status, counted by reason in
//! `/metrics`, never logged with their bodies, and leave the service
//! healthy and syncing; two tenants served at once (two Entra tenants, two
//! apps with their own secrets, their own persons) each sync their own
//! persons, a genuine notification of one tenant's subscription posted to
//! the other's path is answered `Unsubscribe` and changes nothing there, and
//! no secret reaches any log line.
//!
//! Needs `make build` (the component and `target/release/rooms-sync`).

use std::time::Duration;

use exo_emulator::Seed;
use rooms_sync_integration::service::{
    Answer, Service, ServiceOptions, WAIT, add_person_mode, advance_clock, created_event, ews_for,
    metric_in, outlook_item, send_notification, stored_subscriptions, subscriptions_of,
    webhook_path,
};
use rooms_sync_integration::{ALICE, BOB, CLIENT_SECRET, Mode, TenantDir, World, comparable};
use serde_json::Value;

/// In every hostile body; it must never reach the log.
const MARKER: &str = "HOSTILE-BODY-MARKER-5c1e";
/// A well-formed subscription id no one has (base64 of
/// `unknown-subscription-0001`).
const UNKNOWN_SUBSCRIPTION: &str = "dW5rbm93bi1zdWJzY3JpcHRpb24tMDAwMQ==";
/// A watermark-shaped value.
const WATERMARK: &str = "AQAAAEhPU1RJTEUtV0FURVJNQVJLAAAAAA==";

/// `refused` notifications counted with `reason`.
fn refused(metrics: &str, reason: &str) -> f64 {
    metric_in(
        metrics,
        "rooms_sync_notifications_refused_total",
        &[("reason", reason)],
    )
}

/// Waits until the service subscribed `mailbox` for push and ran the
/// tenant's initial syncs; returns the emulator's subscription.
async fn ready(svc: &Service, world: &World, tenant: &str, mailbox: &str) -> Value {
    let sub = svc
        .wait_until(
            &format!("a push subscription for {mailbox}"),
            WAIT,
            async || subscriptions_of(world, mailbox, "push").await.pop(),
        )
        .await;
    svc.wait_for(&format!("the initial sync of {tenant}"), async || {
        svc.metric(
            "rooms_sync_syncs_total",
            &[("tenant", tenant), ("outcome", "ok")],
        )
        .await
            >= 1.0
    })
    .await;
    svc.wait_idle(tenant).await;
    sub
}

/// Waits for a booking titled `subject` in `dir`; every 3 s of waiting it
/// moves the emulator's clock 31 s, so a push delivery refused during a
/// flood is retried (Exchange retries after 30 s, then doubling).
async fn arrives(svc: &Service, world: &World, dir: &TenantDir, subject: &str) -> Value {
    let mut polls = 0u32;
    svc.wait_until(&format!("the booking '{subject}'"), WAIT, async || {
        polls += 1;
        if polls.is_multiple_of(40) {
            advance_clock(world, 31).await;
        }
        dir.bookings_titled(subject).await.pop()
    })
    .await
}

fn unknown_notification(marker: &str) -> String {
    send_notification(
        UNKNOWN_SUBSCRIPTION,
        WATERMARK,
        &created_event(WATERMARK, &format!("AAMk{marker}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_webhook_posts_are_refused_counted_and_never_logged() {
    let world = World::start().await;
    let dir = world.tenant(
        "hostile",
        Mode::Secret,
        &[("IntervallTaskInSeconds", "3600")],
    );
    add_person_mode(&dir, &world, ALICE, "O365").await;
    let svc = Service::start(ServiceOptions::beside(&dir).log_level("debug")).await;
    ready(&svc, &world, "hostile", ALICE).await;
    let path = webhook_path("hostile");
    let before = svc.metrics().await;

    let answer = svc
        .request("GET", &path, &[], b"")
        .await
        .expect("an answer to GET");
    assert_eq!(answer.status, 405, "GET: {}", answer.text());

    let answer = svc
        .post(
            &path,
            &[("Content-Type", "application/json")],
            format!("{{\"x\":\"{MARKER}-json\"}}").as_bytes(),
        )
        .await;
    assert_eq!(answer.status, 415, "JSON: {}", answer.text());

    let mut big = format!("<?xml version=\"1.0\"?><x>{MARKER}-big").into_bytes();
    big.resize(2 * 1024 * 1024, b'a');
    let answer = svc
        .request(
            "POST",
            &path,
            &[("Content-Type", "text/xml; charset=utf-8")],
            &big,
        )
        .await
        .expect("an answer to a 2 MiB post");
    assert_eq!(answer.status, 413, "2 MiB: {}", answer.text());

    let answer = svc
        .notify("hostile", &format!("<s:Envelope><unclosed {MARKER}-xml"))
        .await;
    assert_eq!(answer.status, 400, "malformed XML: {}", answer.text());

    let not_a_notification = format!(
        "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <soap:Body><m:GetEvents xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">\
         <m:SubscriptionId>{MARKER}-soap</m:SubscriptionId><m:Watermark>{WATERMARK}</m:Watermark>\
         </m:GetEvents></soap:Body></soap:Envelope>"
    );
    let answer = svc.notify("hostile", &not_a_notification).await;
    assert_eq!(answer.status, 400, "GetEvents SOAP: {}", answer.text());

    let answer = svc
        .notify(
            "hostile",
            &unknown_notification(&format!("{MARKER}-unknown")),
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "unknown subscription: {}",
        answer.text()
    );
    assert!(
        answer.text().contains("Unsubscribe"),
        "answered {}",
        answer.text()
    );

    let answer = svc
        .notify(
            "no-such-tenant",
            &unknown_notification(&format!("{MARKER}-tenant")),
        )
        .await;
    assert_eq!(answer.status, 404, "unknown tenant: {}", answer.text());

    // A flood: 500 posts from five connections at a time.
    let addr = svc.addr.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..5 {
        let addr = addr.clone();
        let path = path.clone();
        tasks.spawn(async move {
            let mut answers: Vec<Result<Answer, String>> = Vec::new();
            for n in 0..100 {
                let body = unknown_notification(&format!("{MARKER}-flood-{task}-{n}"));
                let answer = rooms_sync_integration::service::http(
                    &addr,
                    "POST",
                    &path,
                    &[("Content-Type", "text/xml; charset=utf-8")],
                    body.as_bytes(),
                )
                .await
                .map_err(|e| e.to_string());
                answers.push(answer);
            }
            answers
        });
    }
    let answers: Vec<Result<Answer, String>> =
        tasks.join_all().await.into_iter().flatten().collect();
    let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(failed.is_empty(), "posts without an answer: {failed:?}");
    let statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().status).collect();
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    let (ok, limited, full) = (count(200), count(429), count(503));
    assert_eq!(
        ok + limited + full,
        500,
        "only 200, 429 and 503 expected: {statuses:?}"
    );
    assert!(limited + full > 0, "a flood is limited: {statuses:?}");
    for a in answers.iter().map(|a| a.as_ref().unwrap()) {
        if a.status == 503 {
            assert!(a.header("retry-after").is_some(), "503 without Retry-After");
        }
    }
    assert!(svc.is_running(), "the service survived the flood");
    let (status, health) = svc.healthz().await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["status"], "ok", "{health}");

    // Once this source may post again, a real change still syncs.
    let (mut probes_ok, mut probes_limited) = (0.0, 0.0);
    svc.wait_for("the webhook to take posts again", async || {
        let answer = svc
            .notify("hostile", &unknown_notification(&format!("{MARKER}-probe")))
            .await;
        if answer.status == 200 {
            probes_ok += 1.0;
            return true;
        }
        assert_eq!(answer.status, 429, "a probe: {}", answer.text());
        probes_limited += 1.0;
        tokio::time::sleep(Duration::from_millis(400)).await;
        false
    })
    .await;
    world
        .outlook_create(ALICE, outlook_item("After the flood", 0))
        .await;
    arrives(&svc, &world, &dir, "After the flood").await;

    let after = svc.metrics().await;
    let delta = |reason: &str| refused(&after, reason) - refused(&before, reason);
    assert_eq!(delta("method"), 1.0, "{after}");
    assert_eq!(delta("content_type"), 1.0, "{after}");
    assert_eq!(delta("too_large"), 1.0, "{after}");
    assert_eq!(delta("malformed"), 2.0, "{after}");
    assert_eq!(delta("unknown_tenant"), 1.0, "{after}");
    assert_eq!(
        delta("unknown_subscription"),
        1.0 + ok as f64 + probes_ok,
        "{after}"
    );
    assert_eq!(
        delta("rate_limited"),
        limited as f64 + probes_limited,
        "{after}"
    );
    assert_eq!(delta("queue_full"), full as f64, "{after}");

    let everything = svc.all_output();
    assert!(
        !everything.contains(MARKER),
        "a posted body reached the log: {}",
        everything
            .lines()
            .filter(|l| l.contains(MARKER))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_many_sources_does_not_starve_the_syncs() {
    let world = World::start().await;
    let dir = world.tenant("flooded", Mode::Secret, &[("IntervallTaskInSeconds", "1")]);
    add_person_mode(&dir, &world, ALICE, "O365").await;
    add_person_mode(&dir, &world, BOB, "O365Pull").await;
    let svc = Service::start(ServiceOptions::beside(&dir)).await;
    ready(&svc, &world, "flooded", ALICE).await;
    svc.wait_until("Bob's pull subscription", WAIT, async || {
        subscriptions_of(&world, BOB, "pull").await.pop()
    })
    .await;

    // 100 peers (127.0.0.2 ...) post as fast as they are answered, each
    // from its own address, so the per-source limit alone cannot stop them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = tokio::task::JoinSet::new();
    for peer in 0..100u8 {
        let (addr, path, stop) = (svc.addr.clone(), webhook_path("flooded"), stop.clone());
        flood.spawn(async move {
            let source = std::net::IpAddr::from([127, 0, 0, 2 + peer]);
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = unknown_notification(&format!("{MARKER}-peer-{peer}-{n}"));
                let answer = rooms_sync_integration::service::http_from(
                    Some(source),
                    &addr,
                    "POST",
                    &path,
                    &[("Content-Type", "text/xml; charset=utf-8")],
                    body.as_bytes(),
                )
                .await;
                statuses.push(answer.map(|a| a.status).map_err(|e| e.to_string()));
            }
            statuses
        });
    }
    world
        .outlook_create(BOB, outlook_item("Synced during the flood", 0))
        .await;
    svc.wait_until("Bob's booking during the flood", WAIT, async || {
        dir.bookings_titled("Synced during the flood").await.pop()
    })
    .await;
    let (status, health) = svc.healthz().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses: Vec<Result<u16, String>> = flood.join_all().await.into_iter().flatten().collect();
    assert_eq!(status, 200, "{health}");
    let odd: Vec<&Result<u16, String>> = statuses
        .iter()
        .filter(|s| !matches!(s, Ok(200 | 429 | 503)))
        .collect();
    assert!(odd.is_empty(), "answers other than 200/429/503: {odd:?}");
    let count = |code: u16| statuses.iter().filter(|s| **s == Ok(code)).count();
    println!(
        "flood: {} posts, {} answered 200, {} 429, {} 503",
        statuses.len(),
        count(200),
        count(429),
        count(503)
    );
    assert!(svc.is_running(), "the service survived the flood");
    assert!(
        !svc.all_output().contains(MARKER),
        "a posted body was logged"
    );
}

/// Fabrikam: a second Entra tenant with its own app, secret and mailbox.
const FABRIKAM_TENANT: &str = "7b2e9d40-3c1f-4a8b-b6d2-9e0f1a2b3c4d";
const FABRIKAM_APP: &str = "8c3f0e51-4d2a-4b9c-a7e3-0f1a2b3c4d5e";
const FABRIKAM_SECRET: &str = "fabrikam-only-secret~never-in-a-log";
const DAVE: &str = "dave@fabrikam.com";

fn with_fabrikam(seed: &mut Seed) {
    let extra = Seed::from_toml_str(&format!(
        r#"
[[tenants]]
id = "{FABRIKAM_TENANT}"
domain = "fabrikam.com"
display_name = "Fabrikam"
ews_enabled = true
ews_allowed_app_ids = ["{FABRIKAM_APP}"]

[[apps]]
tenant = "{FABRIKAM_TENANT}"
client_id = "{FABRIKAM_APP}"
display_name = "ROOMS sync (Fabrikam)"
secrets = [{{ value = "{FABRIKAM_SECRET}" }}]
application_permissions = ["full_access_as_app"]

[[mailboxes]]
address = "{DAVE}"
display_name = "Dave Fabrikam"
"#
    ))
    .expect("the Fabrikam seed loads");
    seed.tenants.extend(extra.tenants);
    seed.apps.extend(extra.apps);
    seed.mailboxes.extend(extra.mailboxes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_never_see_each_others_notifications_secrets_or_data() {
    let world = World::start_with(with_fabrikam).await;
    let contoso = world.tenant(
        "contoso",
        Mode::Secret,
        &[("IntervallTaskInSeconds", "3600")],
    );
    add_person_mode(&contoso, &world, ALICE, "O365").await;
    let fabrikam = world.tenant(
        "fabrikam",
        Mode::Secret,
        &[
            ("ExchangeTenantId", FABRIKAM_TENANT),
            ("ExchangeAppId", FABRIKAM_APP),
            ("ExchangeClientSecret", FABRIKAM_SECRET),
            ("IntervallTaskInSeconds", "3600"),
        ],
    );
    add_person_mode(&fabrikam, &world, DAVE, "O365").await;
    let options = ServiceOptions::beside(&contoso).log_level("debug");
    let (contoso_url, fabrikam_url) = (
        options.callback_url("contoso"),
        options.callback_url("fabrikam"),
    );
    let svc = Service::start(options).await;
    let alice_sub = ready(&svc, &world, "contoso", ALICE).await;
    let dave_sub = ready(&svc, &world, "fabrikam", DAVE).await;
    assert_eq!(alice_sub["url"], contoso_url.as_str(), "{alice_sub}");
    assert_eq!(dave_sub["url"], fabrikam_url.as_str(), "{dave_sub}");

    // Both sync their own persons.
    world
        .outlook_create(ALICE, outlook_item("Contoso meeting", 0))
        .await;
    world
        .outlook_create(DAVE, outlook_item("Fabrikam meeting", 1))
        .await;
    arrives(&svc, &world, &contoso, "Contoso meeting").await;
    arrives(&svc, &world, &fabrikam, "Fabrikam meeting").await;
    svc.wait_idle("contoso").await;
    svc.wait_idle("fabrikam").await;

    // Contoso's genuine notification, posted to Fabrikam's path.
    let alice_id = alice_sub["id"].as_str().unwrap();
    let body = send_notification(
        alice_id,
        WATERMARK,
        &created_event(WATERMARK, "AAMkAGI2TG93AAA="),
    );
    let fabrikam_before = comparable(&fabrikam.bookings().await);
    let fabrikam_subs = stored_subscriptions(&fabrikam);
    let contoso_syncs = svc
        .metric("rooms_sync_syncs_total", &[("tenant", "contoso")])
        .await;
    let mark = world.log_mark();
    let answer = svc.notify("fabrikam", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer.text().contains("Unsubscribe"),
        "another tenant's subscription is unknown here: {}",
        answer.text()
    );
    // Watch for a while: nothing moves in either tenant.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let syncs = svc
            .metric("rooms_sync_syncs_total", &[("tenant", "contoso")])
            .await;
        assert_eq!(
            syncs, contoso_syncs,
            "Fabrikam's webhook started a Contoso sync"
        );
        let reads = ews_for(&world, mark, "SyncFolderItems", ALICE);
        assert!(reads.is_empty(), "Alice was synced: {reads:#?}");
    }
    assert_eq!(comparable(&fabrikam.bookings().await), fabrikam_before);
    assert_eq!(stored_subscriptions(&fabrikam), fabrikam_subs);
    assert!(
        fabrikam.bookings_titled("Contoso meeting").await.is_empty()
            && contoso.bookings_titled("Fabrikam meeting").await.is_empty(),
        "a tenant holds the other's booking"
    );

    // The same body on Contoso's own path is a notification (the control:
    // the body is genuine) and starts Alice's sync there.
    let answer = svc.notify("contoso", &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.text().contains("OK"), "{}", answer.text());
    svc.wait_for("Contoso's sync after its own notification", async || {
        svc.metric("rooms_sync_syncs_total", &[("tenant", "contoso")])
            .await
            > contoso_syncs
    })
    .await;

    // No secret anywhere; each tenant's lines speak of its own persons.
    let everything = svc.all_output();
    for secret in [CLIENT_SECRET, FABRIKAM_SECRET] {
        assert!(!everything.contains(secret), "a client secret was logged");
    }
    let lines = svc.all_log_lines();
    let of = |tenant: &str| {
        lines
            .iter()
            .filter(|l| l["tenant"] == tenant)
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    let (c, f) = (of("contoso"), of("fabrikam"));
    assert!(!c.is_empty() && !f.is_empty(), "tenant lines: {lines:#?}");
    for line in &f {
        assert!(!line.contains(ALICE), "Fabrikam's line names Alice: {line}");
    }
    for line in &c {
        assert!(!line.contains(DAVE), "Contoso's line names Dave: {line}");
    }
}
