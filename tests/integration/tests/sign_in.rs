//! The three sign-in modes end to end, and how tokens are reused, renewed and
//! refreshed: the component in the host against the emulator over loopback.

use std::sync::Arc;

use exo_emulator::LogFilter;
use rooms_sync_host::calls;
use rooms_sync_host::log::LogSink;
use rooms_sync_host::runtime::{Runtime, RuntimeOptions, locate_component};
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{
    CLIENT_SECRET, Mode, SERVICE_PASSWORD, SERVICE_USER, TenantDir, World,
};

fn token_requests(world: &World) -> Vec<exo_emulator::LogEntry> {
    world.emulator.request_log(&LogFilter {
        endpoint: Some("token".into()),
        ..LogFilter::default()
    })
}

fn ews_requests(world: &World) -> Vec<exo_emulator::LogEntry> {
    world.emulator.request_log(&LogFilter {
        endpoint: Some("ews".into()),
        ..LogFilter::default()
    })
}

/// How many `GetFolder` requests (the calendar check's) EWS answered.
fn get_folders(world: &World) -> usize {
    ews_requests(world)
        .iter()
        .filter(|e| e.operation.as_deref() == Some("GetFolder"))
        .count()
}

#[tokio::test]
async fn client_secret_signs_in_and_reaches_every_calendar() {
    let world = World::start().await;
    let tenant = world.tenant("secret", Mode::Secret, &[]);
    for who in ["alice@contoso.com", "room-berlin@contoso.com"] {
        tenant.add_person(&world, who).await;
    }
    let run = tenant.check(None).await;
    assert_eq!(run.code, 0, "{run:?}");
    for who in ["alice@contoso.com", "room-berlin@contoso.com"] {
        let sign_in = run.check(who, "sign-in");
        assert_eq!(sign_in["ok"], true, "{sign_in}");
        assert!(
            sign_in["message"]
                .as_str()
                .unwrap()
                .contains("client secret"),
            "{sign_in}"
        );
        assert!(sign_in["fix"].is_null());
        let access = run.check(who, "calendar-access");
        assert_eq!(access["ok"], true, "{access}");
        assert!(
            access["message"].as_str().unwrap().contains(who),
            "{access}"
        );
    }
    // One token for both persons (same app, same EWS host), and EWS saw the
    // impersonation header and the anchor mailbox for each person.
    let tokens = token_requests(&world);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].operation.as_deref(), Some("client_credentials"));
    let ews: Vec<_> = ews_requests(&world)
        .into_iter()
        .filter(|e| e.operation.as_deref() == Some("GetFolder"))
        .collect();
    assert_eq!(ews.len(), 2, "{ews:?}");
    for (entry, who) in ews
        .iter()
        .zip(["alice@contoso.com", "room-berlin@contoso.com"])
    {
        assert_eq!(entry.operation.as_deref(), Some("GetFolder"));
        assert_eq!(entry.mailbox.as_deref(), Some(who));
        assert_eq!(
            entry.headers.get("x-anchormailbox").map(String::as_str),
            Some(who),
            "{entry:?}"
        );
        assert_eq!(entry.http_status, 200);
    }
    assert!(
        !run.everything().contains(CLIENT_SECRET),
        "the client secret leaked"
    );
}

#[tokio::test]
async fn certificate_signs_in_with_a_host_signed_assertion() {
    let world = World::start().await;
    // The thumbprint as Windows' certificate dialog shows it: spaced, lower case.
    let tenant = world.tenant(
        "cert",
        Mode::Certificate,
        &[(
            "ExchangeCertThumbprint",
            "33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84",
        )],
    );
    tenant.add_person(&world, "room-berlin@contoso.com").await;
    let run = tenant.check(None).await;
    assert_eq!(run.code, 0, "{run:?}");
    let sign_in = run.check("room-berlin@contoso.com", "sign-in");
    assert!(
        sign_in["message"].as_str().unwrap().contains("certificate"),
        "{sign_in}"
    );
    let tokens = token_requests(&world);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].http_status, 200, "{tokens:?}");
    let key = std::fs::read_to_string(tenant.path.join("certs/demo-app.key")).unwrap();
    let key_body = key.lines().nth(1).unwrap();
    assert!(
        !run.everything().contains(key_body),
        "private key material leaked"
    );
}

#[tokio::test]
async fn delegated_service_user_signs_in_with_its_password() {
    let world = World::start().await;
    let tenant = world.tenant("delegated", Mode::Delegated, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let run = tenant.check(None).await;
    assert_eq!(run.code, 0, "{run:?}");
    let sign_in = run.check("alice@contoso.com", "sign-in");
    assert!(
        sign_in["message"].as_str().unwrap().contains(SERVICE_USER),
        "{sign_in}"
    );
    let tokens = token_requests(&world);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].operation.as_deref(), Some("password"));
    // Delegated requests carry no impersonation header; the emulator would
    // refuse them otherwise (ErrorImpersonateUserDenied).
    let ews = ews_requests(&world);
    assert_eq!(ews[0].http_status, 200, "{ews:?}");
    assert!(
        !run.everything().contains(SERVICE_PASSWORD),
        "the password leaked"
    );
}

#[tokio::test]
async fn secrets_can_come_from_the_environment_or_a_file() {
    let world = World::start().await;
    let mut from_env = world.tenant(
        "env",
        Mode::Secret,
        &[("ExchangeClientSecret", "env:ROOMS_TEST_SECRET")],
    );
    from_env
        .env
        .insert("ROOMS_TEST_SECRET".into(), CLIENT_SECRET.into());
    from_env.add_person(&world, "bob@contoso.com").await;
    // `env:` reads only variables whose prefix the operator allows.
    let run = from_env
        .run(&["--secret-env-prefix", "ROOMS_TEST_", "check", "--json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");

    let from_file = world.tenant(
        "file",
        Mode::Delegated,
        &[("ExchangeServicePassword", "file:password.txt")],
    );
    std::fs::write(
        from_file.path.join("password.txt"),
        format!("{SERVICE_PASSWORD}\n"),
    )
    .unwrap();
    from_file.add_person(&world, "alice@contoso.com").await;
    let run = from_file.check(None).await;
    assert_eq!(run.code, 0, "{run:?}");

    // With --env-overrides, an environment variable of a key's name overrides the file.
    let mut overridden = world.tenant(
        "override",
        Mode::Secret,
        &[("ExchangeClientSecret", "stale-secret")],
    );
    overridden
        .env
        .insert("ExchangeClientSecret".into(), CLIENT_SECRET.into());
    overridden.add_person(&world, "bob@contoso.com").await;
    let run = overridden
        .run(&["--env-overrides", "check", "--json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
}

/// Opens a tenant once, as the long-running service does, so that calls
/// share its token cache although each call has a fresh instance.
fn open(tenant: &TenantDir) -> (Arc<Tenant>, Runtime) {
    let env: std::collections::HashMap<String, String> = tenant.env.clone();
    let opened = Tenant::open(
        &tenant.path,
        Arc::new(env),
        TenantInputs::default(),
        LogSink::discard(),
    )
    .unwrap();
    let mut options = RuntimeOptions::new(locate_component().unwrap());
    options.cache_dir = None;
    (opened, Runtime::new(&options).unwrap())
}

#[tokio::test]
async fn a_token_is_reused_across_fresh_instances_until_the_renewal_window() {
    let world = World::start().await;
    let tenant = world.tenant("reuse", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let (opened, runtime) = open(&tenant);
    for _ in 0..3 {
        let reports = calls::check(&opened, &runtime, None).await.unwrap();
        assert!(reports[0].ok(), "{reports:?}");
    }
    assert_eq!(token_requests(&world).len(), 1, "three calls, one token");
    assert_eq!(get_folders(&world), 3);
}

#[tokio::test]
async fn a_token_inside_the_renewal_window_is_renewed_before_use() {
    // Tokens live 10 minutes; the default renewal window is 20 minutes, so a
    // cached token is always "about to expire" and each call fetches a new one.
    let world = World::start_with(|seed| seed.settings.token_lifetime_seconds = 600).await;
    let tenant = world.tenant("renew", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let (opened, runtime) = open(&tenant);
    for _ in 0..2 {
        assert!(calls::check(&opened, &runtime, None).await.unwrap()[0].ok());
    }
    // Each check calls the component twice (check-person, then
    // check-subscription), and each call renews.
    assert_eq!(token_requests(&world).len(), 4);

    // With OAuthTokenMinutesBeforeRenew=5 the same 10-minute token is reused.
    let tenant = world.tenant(
        "renew5",
        Mode::Secret,
        &[("OAuthTokenMinutesBeforeRenew", "5")],
    );
    tenant.add_person(&world, "alice@contoso.com").await;
    world.emulator.clear_request_log();
    let (opened, runtime) = open(&tenant);
    for _ in 0..2 {
        assert!(calls::check(&opened, &runtime, None).await.unwrap()[0].ok());
    }
    assert_eq!(token_requests(&world).len(), 1);
}

#[tokio::test]
async fn an_ews_401_forces_one_refresh_and_one_retry() {
    let world = World::start().await;
    let tenant = world.tenant("expired", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let (opened, runtime) = open(&tenant);
    assert!(calls::check(&opened, &runtime, None).await.unwrap()[0].ok());
    // The emulator's clock moves two hours on: the cached token (valid for
    // another hour by the host's clock) is expired for Exchange.
    world
        .emulator
        .advance_clock(jiff::SignedDuration::from_hours(2));
    let reports = calls::check(&opened, &runtime, None).await.unwrap();
    assert!(reports[0].ok(), "{reports:?}");
    // The second call's first request (the address's ResolveNames) is
    // refused once and retried with a new token; nothing else is refused.
    let ews = ews_requests(&world);
    let statuses: Vec<u16> = ews.iter().map(|e| e.http_status).collect();
    let refused: Vec<usize> = (0..statuses.len())
        .filter(|&i| statuses[i] == 401)
        .collect();
    assert_eq!(refused.len(), 1, "{statuses:?}");
    let retry = &ews[refused[0] + 1];
    assert_eq!(retry.http_status, 200, "{ews:?}");
    assert_eq!(retry.operation.as_deref(), Some("ResolveNames"));
    assert_eq!(token_requests(&world).len(), 2);
}

#[tokio::test]
async fn a_second_401_is_reported_not_retried_forever() {
    let world = World::start().await;
    let tenant = world.tenant("always401", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    world.emulator.inject_fault(exo_emulator::FaultSpec {
        count: 5,
        operation: Some("GetFolder".into()),
        ..exo_emulator::FaultSpec::ews(exo_emulator::FaultAction::HttpStatus {
            status: 401,
            retry_after: None,
            body: None,
        })
    });
    let run = tenant.check(None).await;
    assert_eq!(run.code, 1);
    let access = run.check("alice@contoso.com", "calendar-access");
    assert_eq!(access["ok"], false);
    assert!(
        access["message"].as_str().unwrap().contains("401"),
        "{access}"
    );
    assert_eq!(get_folders(&world), 2, "exactly one retry");
    assert_eq!(token_requests(&world).len(), 2, "exactly one refresh");
}

#[tokio::test]
async fn the_delegated_refresh_token_is_used_and_rotated() {
    // 10-minute tokens inside the 20-minute renewal window: the second call
    // renews with the refresh token instead of the password.
    let world = World::start_with(|seed| seed.settings.token_lifetime_seconds = 600).await;
    let tenant = world.tenant("rotate", Mode::Delegated, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let (opened, runtime) = open(&tenant);
    for _ in 0..3 {
        assert!(calls::check(&opened, &runtime, None).await.unwrap()[0].ok());
    }
    let grants: Vec<String> = token_requests(&world)
        .iter()
        .map(|e| e.operation.clone().unwrap_or_default())
        .collect();
    // Each check is two component calls (check-person, check-subscription),
    // each renewing. The emulator invalidates a refresh token once redeemed:
    // every later call only succeeds with the rotated one.
    assert_eq!(
        grants,
        [
            "password",
            "refresh_token",
            "refresh_token",
            "refresh_token",
            "refresh_token",
            "refresh_token"
        ]
    );
}
