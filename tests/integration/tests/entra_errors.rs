//! Every Entra ID refusal the emulator can produce reaches the operator as a
//! red `sign-in` check naming the cause (with its AADSTS code) and the fix,
//! and the calendar check is then not run. Secrets never appear.

use rooms_sync_integration::{
    CLIENT_SECRET, Mode, PUBLIC_APP, Run, SECRET_APP, SERVICE_PASSWORD, SERVICE_USER, TenantDir,
    World, assert_has,
};

/// Runs the sync test of Alice and returns the run after checking the shape
/// every sign-in failure shares.
async fn failed_sign_in(world: &World, tenant: &TenantDir) -> (Run, String, String) {
    tenant.add_person(world, "alice@contoso.com").await;
    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    let sign_in = run.check("alice@contoso.com", "sign-in");
    assert_eq!(sign_in["ok"], false, "{sign_in}");
    let calendar = run.check("alice@contoso.com", "calendar-access");
    assert_eq!(calendar["ok"], false);
    assert!(
        calendar["message"].as_str().unwrap().contains("not run"),
        "{calendar}"
    );
    for secret in [
        CLIENT_SECRET,
        SERVICE_PASSWORD,
        "wrong-secret-value-1234",
        "Wr0ng-Passw0rd!",
    ] {
        assert!(
            !run.everything().contains(secret),
            "{secret} leaked: {run:?}"
        );
    }
    let message = sign_in["message"].as_str().unwrap().to_string();
    let fix = sign_in["fix"]
        .as_str()
        .expect("a red check has a fix")
        .to_string();
    (run, message, fix)
}

#[tokio::test]
async fn app_only_sign_in_failures_name_the_setting_or_portal_step() {
    let world = World::start_with(|seed| {
        // An app whose only secret has expired, and an app nobody consented to.
        let mut expired = seed
            .apps
            .iter()
            .find(|a| a.client_id == SECRET_APP)
            .unwrap()
            .clone();
        expired.client_id = "0d1e2f30-4152-4637-8899-aabbccddeeff".into();
        expired.secrets[0].expires = Some("2026-01-01T00:00:00Z".parse().unwrap());
        seed.apps.push(expired);
        if let Some(ids) = seed.tenants[0].ews_allowed_app_ids.as_mut() {
            ids.push("0d1e2f30-4152-4637-8899-aabbccddeeff".into());
        }
    })
    .await;

    // AADSTS7000215: a wrong client secret.
    let tenant = world.tenant(
        "wrong-secret",
        Mode::Secret,
        &[("ExchangeClientSecret", "wrong-secret-value-1234")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS7000215", SECRET_APP]);
    assert_has(&fix, &["ExchangeClientSecret", "Value (not its Secret ID)"]);

    // AADSTS7000222: the secret has expired.
    let tenant = world.tenant(
        "expired-secret",
        Mode::Secret,
        &[("ExchangeAppId", "0d1e2f30-4152-4637-8899-aabbccddeeff")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS7000222", "expired"]);
    assert_has(
        &fix,
        &["create a new client secret", "ExchangeClientSecret"],
    );

    // AADSTS700016: no such app in the tenant.
    let tenant = world.tenant(
        "unknown-app",
        Mode::Secret,
        &[("ExchangeAppId", "11111111-2222-3333-4444-555555555555")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(
        &message,
        &["AADSTS700016", "11111111-2222-3333-4444-555555555555"],
    );
    assert_has(&fix, &["ExchangeAppId", "ExchangeTenantId"]);

    // AADSTS90002: no such tenant.
    let tenant = world.tenant(
        "unknown-tenant",
        Mode::Secret,
        &[("ExchangeTenantId", "99999999-8888-7777-6666-555555555555")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(
        &message,
        &["AADSTS90002", "99999999-8888-7777-6666-555555555555"],
    );
    assert_has(&fix, &["ExchangeTenantId", "ExchangeAuthorityUrl"]);
}

#[tokio::test]
async fn a_certificate_the_app_does_not_know_is_aadsts700027() {
    let world = World::start().await;
    // A valid certificate with its key, but not the one registered for the app.
    let other = "tests/certs/pkcs8-combined.pem";
    let tenant = world.tenant("other-cert", Mode::Certificate, &[]);
    std::fs::copy(
        rooms_sync_integration::workspace().join(other),
        tenant.path.join("certs/pkcs8-combined.pem"),
    )
    .unwrap();
    let thumbprint = {
        let pem = std::fs::read_to_string(tenant.path.join("certs/pkcs8-combined.pem")).unwrap();
        let der = pem::parse_many(pem)
            .unwrap()
            .into_iter()
            .find(|p| p.tag() == "CERTIFICATE")
            .unwrap();
        rooms_sync_host::certs::thumbprint_of(der.contents())
    };
    let tenant = world.tenant(
        "other-cert",
        Mode::Certificate,
        &[("ExchangeCertThumbprint", &thumbprint)],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS700027", &thumbprint]);
    assert_has(&fix, &["upload the public part", "ExchangeCertThumbprint"]);
}

#[tokio::test]
async fn delegated_sign_in_failures_name_the_account_and_the_fix() {
    let world = World::start_with(|seed| {
        let user = |seed: &mut exo_emulator::Seed, address: &str| {
            seed.mailboxes
                .iter()
                .position(|m| m.address == address)
                .unwrap()
        };
        let bob = user(seed, "bob@contoso.com");
        seed.mailboxes[bob].mfa_required = true;
        let mut blocked = seed.mailboxes[bob].clone();
        blocked.address = "blocked@contoso.com".into();
        blocked.mfa_required = false;
        blocked.conditional_access_blocked = true;
        seed.mailboxes.push(blocked.clone());
        let mut expired = blocked;
        expired.address = "expired@contoso.com".into();
        expired.conditional_access_blocked = false;
        expired.password_expired = true;
        seed.mailboxes.push(expired);
        // A public client without admin consent.
        let mut unconsented = seed
            .apps
            .iter()
            .find(|a| a.client_id == PUBLIC_APP)
            .unwrap()
            .clone();
        unconsented.client_id = "a1b2c3d4-0000-4000-8000-0000000000a1".into();
        unconsented.admin_consent = false;
        seed.apps.push(unconsented);
        if let Some(ids) = seed.tenants[0].ews_allowed_app_ids.as_mut() {
            ids.push("a1b2c3d4-0000-4000-8000-0000000000a1".into());
        }
    })
    .await;
    let bob_password = "demo-only-bob";

    // AADSTS50126: wrong password.
    let tenant = world.tenant(
        "wrong-password",
        Mode::Delegated,
        &[("ExchangeServicePassword", "Wr0ng-Passw0rd!")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS50126", SERVICE_USER]);
    assert_has(&fix, &["ExchangeServiceUser", "ExchangeServicePassword"]);

    // AADSTS50034: no such user.
    let tenant = world.tenant(
        "no-user",
        Mode::Delegated,
        &[("ExchangeServiceUser", "nobody@contoso.com")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS50034", "nobody@contoso.com"]);
    assert_has(&fix, &["ExchangeServiceUser"]);

    // AADSTS50076: MFA required.
    let tenant = world.tenant(
        "mfa",
        Mode::Delegated,
        &[
            ("ExchangeServiceUser", "bob@contoso.com"),
            ("ExchangeServicePassword", bob_password),
        ],
    );
    let (run, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS50076", "bob@contoso.com", "multifactor"]);
    assert_has(&fix, &["Conditional Access", "ExchangeUseImpersonation"]);
    assert!(!run.everything().contains(bob_password));

    // AADSTS53003: Conditional Access.
    let tenant = world.tenant(
        "ca",
        Mode::Delegated,
        &[
            ("ExchangeServiceUser", "blocked@contoso.com"),
            ("ExchangeServicePassword", bob_password),
        ],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS53003", "blocked@contoso.com"]);
    assert_has(&fix, &["Sign-in logs", "Conditional Access policy"]);

    // AADSTS50055: password expired.
    let tenant = world.tenant(
        "pw-expired",
        Mode::Delegated,
        &[
            ("ExchangeServiceUser", "expired@contoso.com"),
            ("ExchangeServicePassword", bob_password),
        ],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS50055", "expired@contoso.com"]);
    assert_has(
        &fix,
        &["ExchangeServicePassword", "DisablePasswordExpiration"],
    );

    // AADSTS7000218: the app does not allow public client flows.
    let tenant = world.tenant(
        "confidential",
        Mode::Delegated,
        &[("ExchangeAppId", SECRET_APP)],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS7000218", SECRET_APP]);
    assert_has(&fix, &["Allow public client flows", "Yes"]);

    // AADSTS65001: no admin consent for EWS.AccessAsUser.All.
    let tenant = world.tenant(
        "no-consent",
        Mode::Delegated,
        &[("ExchangeAppId", "a1b2c3d4-0000-4000-8000-0000000000a1")],
    );
    let (_, message, fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["AADSTS65001"]);
    assert_has(&fix, &["EWS.AccessAsUser.All", "Grant admin consent"]);
}

#[tokio::test]
async fn a_token_endpoint_that_answers_html_is_a_protocol_error_naming_the_status() {
    let world = World::start().await;
    world.emulator.inject_fault(exo_emulator::FaultSpec::new(
        exo_emulator::FaultEndpoint::Token,
        exo_emulator::FaultAction::HttpStatus {
            status: 502,
            retry_after: None,
            body: Some("<html><body>Bad Gateway</body></html>".into()),
        },
    ));
    let tenant = world.tenant("proxy", Mode::Secret, &[]);
    let (_, message, _fix) = failed_sign_in(&world, &tenant).await;
    assert_has(&message, &["502"]);
}
