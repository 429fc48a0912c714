//! What a tenant's settings may reach, end to end through the command line:
//! secret references stay inside the tenant directory and the environment
//! variables the operator allows, environment overrides are opt-in, and a
//! FIFO in place of any input file is refused at once instead of hanging the
//! process. Every refusal is checked against the emulator's request log:
//! nothing was sent.

use std::time::Duration;

use exo_emulator::LogFilter;
use rooms_sync_integration::{CLIENT_SECRET, Mode, Run, TenantDir, World, assert_has};

/// Every request the emulator has seen.
fn requests(world: &World) -> Vec<exo_emulator::LogEntry> {
    world.emulator.request_log(&LogFilter::default())
}

/// Runs `rooms-sync` for `dir` on a thread of its own and fails the test if it
/// has not returned within `limit`: a blocked open would otherwise hang the
/// whole test run. The emulator keeps serving on the test's runtime meanwhile.
async fn run_within(limit: Duration, dir: &TenantDir, args: &[&str]) -> Run {
    let dir = dir.clone();
    let shown = args.join(" ");
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = sender.send(runtime.block_on(dir.run(&args)));
    });
    tokio::time::timeout(limit, receiver)
        .await
        .unwrap_or_else(|_| panic!("rooms-sync {shown} did not return within {limit:?}"))
        .expect("the run finished")
}

/// Settings errors stop before the component: a short limit.
const SETTINGS_LIMIT: Duration = Duration::from_secs(10);
/// A run that compiles and calls the component: a generous limit, which only
/// a hang exceeds.
const CHECK_LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_secrets_outside_the_tenant_directory_are_refused_and_nothing_is_sent() {
    let world = World::start().await;
    // Another tenant beside this one, whose secret file holds a valid secret:
    // had it been read, the sign-in would have succeeded.
    let other = world.tenant("other", Mode::Secret, &[]);
    std::fs::write(other.path.join("secret.txt"), CLIENT_SECRET).unwrap();

    let escaping = world.tenant(
        "escaping",
        Mode::Secret,
        &[("ExchangeClientSecret", "file:../other/secret.txt")],
    );
    let absolute = world.tenant(
        "absolute",
        Mode::Secret,
        &[("ExchangeClientSecret", "file:/etc/passwd")],
    );
    let linked = world.tenant(
        "linked",
        Mode::Secret,
        &[("ExchangeClientSecret", "file:secret.txt")],
    );
    std::os::unix::fs::symlink(
        other.path.join("secret.txt"),
        linked.path.join("secret.txt"),
    )
    .unwrap();
    for (tenant, shown) in [
        (&escaping, "../other/secret.txt"),
        (&absolute, "/etc/passwd"),
        (&linked, "it leads to"),
    ] {
        tenant.add_person(&world, "alice@contoso.com").await;
        let run = tenant.check(None).await;
        assert_eq!(run.code, 2, "{run:?}");
        assert_has(
            &run.stderr,
            &[
                "ExchangeClientSecret",
                shown,
                "outside the tenant directory",
                "--secrets-dir",
            ],
        );
        assert!(!run.everything().contains(CLIENT_SECRET), "{run:?}");
    }
    assert!(requests(&world).is_empty(), "{:?}", requests(&world));

    // The operator names the other directory: now the same settings work.
    let run = escaping
        .run(&[
            "--secrets-dir",
            other.path.to_str().unwrap(),
            "check",
            "--json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let tokens = world.emulator.request_log(&LogFilter {
        endpoint: Some("token".into()),
        ..LogFilter::default()
    });
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].http_status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_secrets_need_a_prefix_the_operator_allows() {
    let world = World::start().await;
    let mut home = world.tenant(
        "home",
        Mode::Secret,
        &[("ExchangeClientSecret", "env:HOME")],
    );
    // The run's environment holds a valid secret under HOME.
    home.env.insert("HOME".into(), CLIENT_SECRET.into());
    home.add_person(&world, "alice@contoso.com").await;

    let run = home.check(None).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(
        &run.stderr,
        &[
            "ExchangeClientSecret",
            "environment variable HOME",
            "none is given",
            "--secret-env-prefix",
        ],
    );
    let run = home
        .run(&["--secret-env-prefix", "ROOMS_", "check", "--json"])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_has(&run.stderr, &["HOME", "(ROOMS_)"]);
    assert!(!run.everything().contains(CLIENT_SECRET), "{run:?}");
    assert!(requests(&world).is_empty(), "{:?}", requests(&world));

    let mut allowed = world.tenant(
        "allowed",
        Mode::Secret,
        &[("ExchangeClientSecret", "env:ROOMS_EXCHANGE_SECRET")],
    );
    allowed
        .env
        .insert("ROOMS_EXCHANGE_SECRET".into(), CLIENT_SECRET.into());
    allowed.add_person(&world, "alice@contoso.com").await;
    let run = allowed
        .run(&["--secret-env-prefix", "ROOMS_", "check", "--json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_overrides_apply_only_with_the_flag() {
    let world = World::start().await;
    let mut tenant = world.tenant(
        "overrides",
        Mode::Secret,
        &[("ExchangeClientSecret", "stale-secret-from-the-file")],
    );
    tenant
        .env
        .insert("ExchangeClientSecret".into(), CLIENT_SECRET.into());
    tenant.add_person(&world, "alice@contoso.com").await;

    // Without --env-overrides the file's (wrong) secret is used.
    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    let sign_in = run.check("alice@contoso.com", "sign-in");
    assert_eq!(sign_in["ok"], false, "{sign_in}");
    assert_has(sign_in["message"].as_str().unwrap(), &["AADSTS7000215"]);

    let run = tenant.run(&["--env-overrides", "check", "--json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_place_of_a_settings_file_stops_at_once() {
    let world = World::start().await;
    for name in ["RoomsAppSettings.config", "appsettings.json"] {
        let tenant = world.tenant(&format!("fifo-{name}"), Mode::Secret, &[]);
        std::fs::remove_file(tenant.path.join("RoomsAppSettings.config")).unwrap();
        mkfifo(&tenant.path.join(name));
        let run = run_within(SETTINGS_LIMIT, &tenant, &["check"]).await;
        assert_eq!(run.code, 2, "{run:?}");
        assert_has(
            &run.stderr,
            &[name, "is a FIFO (named pipe), not a regular file"],
        );
    }
    assert!(requests(&world).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_as_secret_file_is_a_red_check_not_a_hang() {
    let world = World::start().await;
    let tenant = world.tenant(
        "fifo-secret",
        Mode::Secret,
        &[("ExchangeClientSecret", "file:secret.txt")],
    );
    mkfifo(&tenant.path.join("secret.txt"));
    tenant.add_person(&world, "alice@contoso.com").await;
    let run = run_within(CHECK_LIMIT, &tenant, &["check", "--json"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    let sign_in = run.check("alice@contoso.com", "sign-in");
    assert_has(
        sign_in["message"].as_str().unwrap(),
        &["ExchangeClientSecret", "secret.txt", "FIFO (named pipe)"],
    );
    assert!(requests(&world).is_empty(), "{:?}", requests(&world));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_the_certificate_folder_is_skipped_and_the_certificate_signs() {
    let world = World::start().await;
    let tenant = world.tenant("fifo-certs", Mode::Certificate, &[]);
    mkfifo(&tenant.path.join("certs/stuck.pem"));
    tenant.add_person(&world, "room-berlin@contoso.com").await;
    let run = run_within(CHECK_LIMIT, &tenant, &["check", "--json"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_has(
        &run.log,
        &["stuck.pem", "is a FIFO (named pipe), not a regular file"],
    );
}

/// Makes a FIFO at `path` with the `mkfifo` program.
fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}
