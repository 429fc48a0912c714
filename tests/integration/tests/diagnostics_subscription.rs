//! The fifth check of `check`, `subscription`, end to end against the
//! emulator: a pull person subscribes, reads its first event and leaves no
//! subscription behind; a refused `Subscribe` is red with the fix; a push
//! person without a callback URL is skipped with the reason; a push person
//! with `rooms-sync serve` running is green (the service's webhook received
//! the probe's notification) and the probe is gone afterwards, in
//! `rooms.db` and, after its next notification, at the emulator; a push
//! person with a `--public-url` where nothing listens is red naming the URL.

use std::time::Duration;

use exo_emulator::{ErrorShape, FaultAction, FaultSpec};
use rooms_sync_integration::service::{
    Service, ServiceOptions, WAIT, add_person_mode, advance_clock, free_port, subscriptions_of,
    webhook_path,
};
use rooms_sync_integration::{Mode, Run, TenantDir, assert_has};

/// The check names in the order `check --json` reports them.
const ORDER: [&str; 5] = [
    "configuration",
    "sign-in",
    "calendar-access",
    "write",
    "subscription",
];

/// The `subscription` check of `who`, after asserting the order of all.
fn subscription_check(run: &Run, who: &str) -> serde_json::Value {
    let json = run.json();
    let person = json["persons"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["email"] == who))
        .unwrap_or_else(|| panic!("no {who} in {json}"))
        .clone();
    let checks = person["checks"].as_array().unwrap().clone();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ORDER, "{json}");
    for earlier in &checks[..4] {
        assert_eq!(earlier["ok"], true, "{earlier}");
    }
    checks[4].clone()
}

fn text(check: &serde_json::Value, field: &str) -> String {
    check[field].as_str().unwrap_or_default().to_string()
}

/// The probe rows `check` left in the tenant's `rooms.db`.
fn probes(tenant: &TenantDir) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        tenant.path.join("rooms.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("rooms.db opens read-only");
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT count(*) FROM probe_subscriptions", [], |r| r.get(0))
        .expect("the probe table")
}

#[tokio::test]
async fn a_pull_person_receives_an_event_and_leaves_no_subscription() {
    let world = rooms_sync_integration::World::start().await;
    let who = "alice@contoso.com";
    for mode in [Mode::Secret, Mode::Delegated] {
        let tenant = world.tenant(&format!("pull-{mode:?}"), mode, &[]);
        tenant.add_person(&world, who).await;
        let run = tenant.check(Some(who)).await;
        let check = subscription_check(&run, who);
        assert_eq!(check["ok"], true, "{check}");
        assert!(check["fix"].is_null(), "{check}");
        assert_has(
            &text(&check, "message"),
            &[
                &format!("A pull subscription on the calendar of {who} was made"),
                "GetEvents received its first event (StatusEvent)",
                "ended with Unsubscribe",
            ],
        );
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            subscriptions_of(&world, who, "pull").await.is_empty(),
            "{:?}",
            subscriptions_of(&world, who, "pull").await
        );
    }
}

#[tokio::test]
async fn a_refused_subscribe_is_red_with_the_fix() {
    let world = rooms_sync_integration::World::start().await;
    let who = "alice@contoso.com";
    let tenant = world.tenant("refused", Mode::Secret, &[]);
    tenant.add_person(&world, who).await;
    let refuse_once = || {
        world.emulator.inject_fault(FaultSpec {
            operation: Some("Subscribe".into()),
            ..FaultSpec::ews(FaultAction::EwsError {
                code: "ErrorExceededSubscriptionCount".into(),
                message: None,
                shape: ErrorShape::ResponseMessage,
                back_off_ms: None,
            })
        })
    };
    refuse_once();
    let run = tenant.check(Some(who)).await;
    let check = subscription_check(&run, who);
    assert_eq!(check["ok"], false, "{check}");
    assert_has(
        &text(&check, "message"),
        &[
            &format!("Subscribing to the calendar of {who} for pull notifications failed"),
            "ErrorExceededSubscriptionCount",
        ],
    );
    assert_has(
        &text(&check, "fix"),
        &["EWSMaxSubscriptions, 20", "a second `rooms-sync serve`"],
    );
    assert_eq!(check["code"], "protocol", "{check}");
    assert_eq!(run.code, 1, "{run:?}");

    // The summary groups it under its own check.
    refuse_once();
    let summary = tenant
        .run(&["check", "--summary", "--json", "--person", who])
        .await
        .json();
    assert_eq!(summary["groups"][0]["check"], "subscription", "{summary}");
}

#[tokio::test]
async fn a_push_person_without_a_callback_is_skipped_with_the_reason() {
    let world = rooms_sync_integration::World::start().await;
    let who = "alice@contoso.com";
    let tenant = world.tenant("push-skipped", Mode::Secret, &[]);
    add_person_mode(&tenant, &world, who, "O365").await;
    let run = tenant.check(Some(who)).await;
    let check = subscription_check(&run, who);
    assert_eq!(check["ok"], true, "{check}");
    assert!(check["fix"].is_null(), "{check}");
    assert_has(
        &text(&check, "message"),
        &[
            "skipped:",
            "uses push notifications (SyncMode O365)",
            "--public-url",
            "ExchangePushNotificationEndpointUrl",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(subscriptions_of(&world, who, "push").await.is_empty());
}

#[tokio::test]
async fn a_push_person_with_the_service_running_is_green_and_the_probe_ends() {
    let world = rooms_sync_integration::World::start().await;
    let who = "alice@contoso.com";
    let tenant = world.tenant("push-served", Mode::Secret, &[]);
    add_person_mode(&tenant, &world, who, "O365").await;
    let options = ServiceOptions::beside(&tenant);
    let public_url = options.public_url();
    let callback = options.callback_url("push-served");
    let service = Service::start(options).await;
    // The service's own push subscription exists first.
    let own = service
        .wait_until("the service's push subscription", WAIT, async || {
            let subs = subscriptions_of(&world, who, "push").await;
            (subs.len() == 1).then(|| subs[0]["id"].as_str().unwrap().to_owned())
        })
        .await;

    let run = tenant
        .run(&[
            "check",
            "--json",
            "--person",
            who,
            "--public-url",
            &public_url,
            "--subscription-wait-secs",
            "60",
        ])
        .await;
    let check = subscription_check(&run, who);
    assert_eq!(check["ok"], true, "{check}\n{}", service.log_tail());
    assert_eq!(
        text(&check, "message"),
        format!(
            "Exchange delivered a push notification for the calendar of {who} to {callback}, \
             and the service received it."
        )
    );
    assert_eq!(run.code, 0, "{run:?}");
    // The probe is gone from rooms.db ...
    assert_eq!(probes(&tenant), 0);
    // ... so its next notification (the heartbeat a minute later on the
    // emulator's clock) is answered Unsubscribe and it ends; the service's
    // own subscription stays.
    advance_clock(&world, 61).await;
    service
        .wait_until("the probe's subscription to end", WAIT, async || {
            let subs = subscriptions_of(&world, who, "push").await;
            let ids: Vec<&str> = subs.iter().filter_map(|s| s["id"].as_str()).collect();
            (ids == [own.as_str()]).then_some(())
        })
        .await;
}

#[tokio::test]
async fn a_push_person_with_an_unreachable_url_is_red_naming_it() {
    let world = rooms_sync_integration::World::start().await;
    let who = "alice@contoso.com";
    let tenant = world.tenant("push-unreachable", Mode::Secret, &[]);
    add_person_mode(&tenant, &world, who, "O365").await;
    let public_url = format!("http://127.0.0.1:{}", free_port());
    let run = tenant
        .run(&[
            "check",
            "--json",
            "--person",
            who,
            "--public-url",
            &public_url,
            "--subscription-wait-secs",
            "2",
        ])
        .await;
    let check = subscription_check(&run, who);
    assert_eq!(check["ok"], false, "{check}");
    let url = format!("{public_url}{}", webhook_path("push-unreachable"));
    assert_has(
        &text(&check, "message"),
        &[
            &format!("No push notification for the calendar of {who} reached the service at {url}"),
            "within 2 s",
        ],
    );
    assert_has(
        &text(&check, "fix"),
        &[
            &format!("Is `rooms-sync serve` running and reachable at {url} from the internet?"),
            "must forward POST /api/webhooks/exchange/push-unreachable with its body",
            "README, Running the service",
        ],
    );
    assert_eq!(check["code"], "configuration", "{check}");
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(probes(&tenant), 0);

    // A bad --public-url is refused with the reason.
    let bad = tenant
        .run(&[
            "check",
            "--person",
            who,
            "--public-url",
            "rooms.contoso.com",
        ])
        .await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert_has(&bad.stderr, &["not an absolute http(s) URL"]);
}
