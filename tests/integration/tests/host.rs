//! What the host enforces and reports before and around the component:
//! settings validation, the certificate store, the outgoing HTTP policy, and
//! the memory cap and deadline of a call. A failing call is a red check; the
//! host keeps running.

use std::sync::Arc;
use std::time::Duration;

use exo_emulator::{FaultAction, FaultSpec, LogFilter};
use rooms_sync_host::calls;
use rooms_sync_host::certs::CertStore;
use rooms_sync_host::http_policy::HttpLimits;
use rooms_sync_host::log::LogSink;
use rooms_sync_host::runtime::{RunLimits, Runtime, RuntimeOptions, locate_component};
use rooms_sync_host::secrets::Secret;
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{
    CERT_APP, CLIENT_SECRET, Mode, SERVICE_PASSWORD, World, assert_has, workspace,
};

#[tokio::test]
async fn certificate_problems_are_told_apart() {
    let world = World::start().await;
    let certs = workspace().join("tests/certs");
    let cases = [
        // (files to install, thumbprint, words the message must contain)
        (
            vec![],
            "0123456789ABCDEF0123456789ABCDEF01234567",
            vec!["0123456789ABCDEF0123456789ABCDEF01234567", "certs"],
        ),
        (
            vec!["expired.pem"],
            "912D1728C6493FE4B4A2E782EEA8063CCACA2034",
            vec!["expired", "2021-01-01"],
        ),
        (
            vec!["cert-only.crt"],
            "74E6DD67792EE37D215E2596588FB8D463BFD7D1",
            vec!["private key"],
        ),
        (
            vec!["mismatched.crt", "mismatched.key"],
            "782FD6FBDC311A8FABB3F9A1E60738BDDA12572C",
            vec!["private key"],
        ),
        (
            vec!["ec.pem"],
            "031808F205172F33418BB904972CEE1ED1B912EA",
            vec!["RSA"],
        ),
    ];
    for (i, (files, thumbprint, words)) in cases.into_iter().enumerate() {
        let tenant = world.tenant(
            &format!("cert{i}"),
            Mode::Certificate,
            &[("ExchangeCertThumbprint", thumbprint)],
        );
        for file in files {
            std::fs::copy(certs.join(file), tenant.path.join("certs").join(file)).unwrap();
        }
        tenant.add_person(&world, "room-berlin@contoso.com").await;
        let run = tenant.check(None).await;
        assert_eq!(run.code, 1, "{run:?}");
        let sign_in = run.check("room-berlin@contoso.com", "sign-in");
        let message = sign_in["message"].as_str().unwrap();
        assert_has(message, &words);
        let fix = sign_in["fix"].as_str().unwrap();
        assert!(fix.contains("certificate"), "{fix}");
    }
    // No token request was ever made: the host refused to sign.
    let tokens = world.emulator.request_log(&LogFilter {
        endpoint: Some("token".into()),
        ..LogFilter::default()
    });
    assert!(tokens.is_empty(), "{tokens:?}");
}

#[tokio::test]
async fn a_pfx_opened_with_the_password_secret_signs_in() {
    const PFX_THUMBPRINT: &str = "72EB90D18A77F0503741EE4DC97B7A5E6A9E9E29";
    const PFX_PASSWORD: &str = "Fixture-Cert-Pass-7741";
    const PFX_APP: &str = "e5f6a7b8-1111-4222-8333-944455566677";
    // Register the PFX's certificate (as PEM) for a new app of the emulator.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::copy(
        workspace().join("tests/certs/aes.pfx"),
        scratch.path().join("aes.pfx"),
    )
    .unwrap();
    let store = CertStore::load(scratch.path(), Some(&Secret::new(PFX_PASSWORD)));
    let der = store
        .sign_rs256(PFX_THUMBPRINT, b"x", std::time::SystemTime::now())
        .expect("the fixture PFX opens with its password")
        .certificate_der;
    let pem_path = scratch.path().join("pfx.crt");
    std::fs::write(&pem_path, pem::encode(&pem::Pem::new("CERTIFICATE", der))).unwrap();
    let world = World::start_with(|seed| {
        let mut app = seed
            .apps
            .iter()
            .find(|a| a.client_id == CERT_APP)
            .unwrap()
            .clone();
        app.client_id = PFX_APP.into();
        app.certificates = vec![pem_path.display().to_string()];
        seed.apps.push(app);
        if let Some(ids) = seed.tenants[0].ews_allowed_app_ids.as_mut() {
            ids.push(PFX_APP.into());
        }
    })
    .await;

    let mut tenant = world.tenant(
        "pfx",
        Mode::Certificate,
        &[
            ("ExchangeAppId", PFX_APP),
            ("ExchangeCertThumbprint", PFX_THUMBPRINT),
            ("ExchangeCertPassword", "env:ROOMS_PFX_PASSWORD"),
        ],
    );
    std::fs::copy(
        workspace().join("tests/certs/aes.pfx"),
        tenant.path.join("certs/aes.pfx"),
    )
    .unwrap();
    tenant
        .env
        .insert("ROOMS_PFX_PASSWORD".into(), PFX_PASSWORD.into());
    tenant.add_person(&world, "room-berlin@contoso.com").await;
    let allow = ["--secret-env-prefix", "ROOMS_PFX_", "check", "--json"];
    let run = tenant.run(&allow).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.everything().contains(PFX_PASSWORD));

    // Without the password the key cannot be read, and the check says so.
    tenant.env.clear();
    let run = tenant.run(&allow).await;
    assert_eq!(run.code, 1, "{run:?}");
    let sign_in = run.check("room-berlin@contoso.com", "sign-in");
    assert_has(
        sign_in["message"].as_str().unwrap(),
        &["ExchangeCertPassword"],
    );
}

#[tokio::test]
async fn invalid_settings_stop_before_anything_runs_and_name_each_problem() {
    let world = World::start().await;
    let base = world.tenant("settings", Mode::Secret, &[]);
    let path = base.path.join("RoomsAppSettings.config");
    let write = |text: &str| std::fs::write(&path, text).unwrap();

    // Malformed XML: line and column.
    write(
        "<?xml version=\"1.0\"?>\n<RoomsAppSettings>\n  <add key=\"ExchangeTenantId\" value=\"x\">\n</RoomsAppSettings>\n",
    );
    let run = base.run(&["check"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(&run.stderr, &["RoomsAppSettings.config:4:"]);

    // Several problems at once, each named with its key and fix.
    write(&format!(
        "<RoomsAppSettings>\n\
         <add key=\"ExchangeTenantId\" value=\"contoso.onmicrosoft.com\" />\n\
         <add key=\"ExchangeAppId\" value=\"not-a-guid\" />\n\
         <add key=\"ExchangeClientSecret\" value=\"{CLIENT_SECRET}\" />\n\
         <add key=\"ExchangeCertThumbprint\" value=\"332459433B54FC0C2185F75A618FD3C83C7B9584\" />\n\
         </RoomsAppSettings>\n"
    ));
    let run = base.run(&["check"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(
        &run.stderr,
        &[
            "ExchangeTenantId",
            "Directory (tenant) ID",
            "ExchangeAppId",
            "ExchangeClientSecret",
            "ExchangeCertThumbprint",
        ],
    );
    assert!(!run.everything().contains(CLIENT_SECRET), "{run:?}");

    // Delegated mode without the service user or its password.
    write(
        "<RoomsAppSettings>\n\
         <add key=\"ExchangeTenantId\" value=\"3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44\" />\n\
         <add key=\"ExchangeAppId\" value=\"c3d5e7f9-2b4c-4d6e-9f0a-1b2c3d4e5f60\" />\n\
         <add key=\"ExchangeUseImpersonation\" value=\"false\" />\n\
         </RoomsAppSettings>\n",
    );
    let run = base.run(&["check"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(
        &run.stderr,
        &["ExchangeServiceUser", "ExchangeServicePassword"],
    );

    // An unreadable file (here: a folder where the file should be).
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let run = base.run(&["check"]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(&run.stderr, &["RoomsAppSettings.config"]);

    // No tenant directory at all.
    let run = rooms_sync_integration::run_cli(
        vec![
            "rooms-sync".into(),
            "--tenant".into(),
            "/nonexistent/tenant".into(),
            "check".into(),
        ],
        Default::default(),
    )
    .await;
    assert_eq!(run.code, 2);
    assert_has(&run.stderr, &["/nonexistent/tenant", "does not exist"]);
}

#[tokio::test]
async fn the_http_policy_refuses_plain_http_and_the_component_reports_it() {
    // Settings refuse a plain-http authority outside loopback mode up front.
    let world = World::start().await;
    let tenant = world.tenant(
        "no-loopback",
        Mode::Secret,
        &[("ExchangeAllowInsecureLoopback", "")],
    );
    let run = tenant.check(None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(
        &run.stderr,
        &["ExchangeAuthorityUrl", "ExchangeAllowInsecureLoopback"],
    );

    // A person's Sync-URL is only checked when it is used: plain http to
    // Exchange Online is refused by the host's policy before any connection
    // (the sign-in for https://outlook.office365.com/.default succeeds).
    let tenant = world.tenant("http-person", Mode::Secret, &[]);
    let added = tenant
        .run(&[
            "person",
            "add",
            "alice@contoso.com",
            "--mode",
            "O365",
            "--sync-url",
            "http://outlook.office365.com/EWS/Exchange.asmx",
        ])
        .await;
    assert_eq!(added.code, 0, "{added:?}");
    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.check("alice@contoso.com", "sign-in")["ok"],
        true,
        "{run:?}"
    );
    let calendar = run.check("alice@contoso.com", "calendar-access");
    assert_has(
        calendar["message"].as_str().unwrap(),
        &["refused", "http://outlook.office365.com"],
    );
    // The host log says why.
    assert_has(
        &run.log,
        &["plain http:// is refused for http://outlook.office365.com:80"],
    );
    let ews = world.emulator.request_log(&LogFilter {
        endpoint: Some("ews".into()),
        ..LogFilter::default()
    });
    assert!(ews.is_empty(), "{ews:?}");
}

fn runtime(limits: RunLimits) -> Runtime {
    let mut options = RuntimeOptions::new(locate_component().unwrap());
    options.cache_dir = None;
    options.limits = limits;
    Runtime::new(&options).unwrap()
}

#[tokio::test]
async fn limits_turn_into_red_checks_and_the_host_keeps_running() {
    let world = World::start().await;
    let dir = world.tenant("limits", Mode::Secret, &[]);
    dir.add_person(&world, "alice@contoso.com").await;
    let tenant = Tenant::open(
        &dir.path,
        Arc::new(std::collections::HashMap::<String, String>::new()),
        TenantInputs::default(),
        LogSink::discard(),
    )
    .unwrap();

    // A memory cap too small for the component: instantiation fails.
    let tiny = runtime(RunLimits {
        memory_bytes: 64 * 1024,
        ..RunLimits::default()
    });
    let reports = calls::check(&tenant, &tiny, None).await.unwrap();
    assert_eq!(reports[0].checks[0].name, "component");
    assert_has(&reports[0].checks[0].message, &["memory cap"]);

    // A deadline shorter than Exchange's answer: the call is interrupted.
    world.emulator.inject_fault(FaultSpec {
        operation: Some("GetFolder".into()),
        ..FaultSpec::ews(FaultAction::Latency { ms: 1500 })
    });
    let hasty = runtime(RunLimits {
        call_deadline: Duration::from_millis(300),
        ..RunLimits::default()
    });
    let reports = calls::check(&tenant, &hasty, None).await.unwrap();
    assert_eq!(reports[0].checks[0].name, "component", "{reports:?}");
    assert_has(&reports[0].checks[0].message, &["deadline"]);

    // A first-byte timeout shorter than Exchange's answer: a transport error.
    world.emulator.inject_fault(FaultSpec {
        operation: Some("GetFolder".into()),
        ..FaultSpec::ews(FaultAction::Latency { ms: 1500 })
    });
    let impatient = runtime(RunLimits {
        http: HttpLimits {
            first_byte_timeout: Duration::from_millis(300),
            ..HttpLimits::default()
        },
        ..RunLimits::default()
    });
    let reports = calls::check(&tenant, &impatient, None).await.unwrap();
    let calendar = &reports[0].checks[2];
    assert!(!calendar.ok);
    assert_has(&calendar.message.to_lowercase(), &["time"]);

    // A response-size cap smaller than the token answer.
    let capped = runtime(RunLimits {
        http: HttpLimits {
            max_response_bytes: 64,
            ..HttpLimits::default()
        },
        ..RunLimits::default()
    });
    let reports = calls::check(&tenant, &capped, None).await.unwrap();
    // The token is still cached from the calls above; Exchange's answer is
    // over the cap.
    let calendar = &reports[0].checks[2];
    assert!(!calendar.ok, "{reports:?}");
    assert_has(&calendar.message, &["size cap"]);

    // The same tenant with normal limits is green again.
    let reports = calls::check(&tenant, &runtime(RunLimits::default()), None)
        .await
        .unwrap();
    assert!(reports[0].ok(), "{reports:?}");
}

#[tokio::test]
async fn no_secret_reaches_any_output_or_log_even_at_trace_level() {
    let world = World::start().await;
    let secret = world.tenant("s", Mode::Secret, &[]);
    let delegated = world.tenant("d", Mode::Delegated, &[]);
    let mut everything = String::new();
    for tenant in [&secret, &delegated] {
        tenant.add_person(&world, "alice@contoso.com").await;
        for args in [
            &["check"][..],
            &["check", "--json"],
            &["--log-level", "trace", "check"],
        ] {
            let run = tenant.run(args).await;
            assert_eq!(run.code, 0, "{run:?}");
            everything.push_str(&run.everything());
        }
    }
    assert!(
        everything.contains("revealed secret `ExchangeClientSecret`"),
        "the log names secrets it reveals"
    );
    for secret in [CLIENT_SECRET, SERVICE_PASSWORD] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    // Nor any bearer token the emulator issued.
    assert!(!everything.contains("eyJ"), "a JWT leaked");
}

#[tokio::test]
async fn tenants_in_one_process_share_neither_secrets_nor_tokens() {
    // Two tenants of the same Entra tenant and app: one with the right secret,
    // one with a wrong one. Were tokens or secrets shared, the second would
    // ride on the first's sign-in.
    let world = World::start().await;
    let good = world.tenant("good", Mode::Secret, &[]);
    let bad = world.tenant(
        "bad",
        Mode::Secret,
        &[("ExchangeClientSecret", "wrong-secret-value-1234")],
    );
    let runtime = runtime(RunLimits::default());
    let mut opened = Vec::new();
    for dir in [&good, &bad] {
        dir.add_person(&world, "alice@contoso.com").await;
        opened.push(
            Tenant::open(
                &dir.path,
                Arc::new(std::collections::HashMap::<String, String>::new()),
                TenantInputs::default(),
                LogSink::discard(),
            )
            .unwrap(),
        );
    }
    for _ in 0..2 {
        assert!(calls::check(&opened[0], &runtime, None).await.unwrap()[0].ok());
        let bad_report = &calls::check(&opened[1], &runtime, None).await.unwrap()[0];
        assert!(!bad_report.checks[1].ok, "{bad_report:?}");
        assert_has(&bad_report.checks[1].message, &["AADSTS7000215"]);
    }
    assert_eq!(opened[0].tokens().len(), 1);
    assert!(opened[1].tokens().is_empty());
}
