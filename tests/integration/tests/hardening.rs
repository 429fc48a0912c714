//! The host under an attacker's or a careless operator's hand: waits that
//! must end, a cache that must not be swapped, a database row that must not
//! spoil the others, traps that must not show backtraces.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use exo_emulator::{FaultAction, FaultSpec};
use rooms_sync_host::calls;
use rooms_sync_host::component_cache::key_path;
use rooms_sync_host::log::LogSink;
use rooms_sync_host::runtime::{ComponentLoad, Runtime, RuntimeOptions, locate_component};
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::tenant::Tenant;
use rooms_sync_integration::{Mode, World, assert_has};

/// A test that waits on a wait it claims is bounded: fail instead of hanging.
async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {limit:?}"))
}

#[tokio::test]
async fn the_call_deadline_counts_the_time_spent_waiting_on_exchange() {
    let world = World::start().await;
    let tenant = world.tenant("slow", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    tenant.add_person(&world, "bob@contoso.com").await;
    // Alice's calendar answer takes a minute; the deadline is 2 s, the
    // first-byte timeout stays at its default of 100 s.
    world
        .emulator
        .inject_fault(FaultSpec::ews(FaultAction::Latency { ms: 60_000 }));
    let run = bounded(
        "a check under a 2 s deadline",
        Duration::from_secs(40),
        tenant.run(&["--call-timeout-secs", "2", "check", "--json"]),
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    let stopped = run.check("alice@contoso.com", "component");
    assert_eq!(stopped["ok"], false);
    assert_has(
        stopped["message"].as_str().unwrap(),
        &["stopped after its deadline of 2 s"],
    );
    assert_has(stopped["fix"].as_str().unwrap(), &["--call-timeout-secs"]);
    // The hung answer cost Alice her deadline; Bob still ran, and is green.
    assert_eq!(
        run.check("bob@contoso.com", "calendar-access")["ok"],
        true,
        "{run:?}"
    );
}

fn options(cache: &std::path::Path) -> RuntimeOptions {
    let mut options = RuntimeOptions::new(locate_component().expect("run `make guest` first"));
    options.cache_dir = Some(cache.to_path_buf());
    options
}

#[tokio::test]
async fn a_forged_cache_entry_is_never_loaded_and_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let first = Runtime::new(&options(&cache)).unwrap();
    assert!(matches!(first.component_load(), ComponentLoad::Compiled(_)));
    assert!(first.cache_notes().is_empty(), "{:?}", first.cache_notes());
    drop(first);
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one entry, no temporary files: {entries:?}"
    );
    let entry = &entries[0];
    assert!(key_path(&cache).is_file(), "the key lives beside the cache");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(entry), 0o600);
        assert_eq!(mode(&key_path(&cache)), 0o600);
        assert_eq!(mode(&cache), 0o700);
    }
    let again = Runtime::new(&options(&cache)).unwrap();
    assert!(matches!(again.component_load(), ComponentLoad::Cached(_)));
    drop(again);

    // A forger plants a genuine precompiled artefact of another component
    // (valid native code for this engine) under the genuine name, with and
    // without a made-up digest in front.
    let engine =
        wasmtime::Engine::new(&rooms_sync_host::runtime::engine_config(false, 64 << 20)).unwrap();
    let empty_component = b"\0asm\x0d\x00\x01\x00";
    let foreign = engine.precompile_component(empty_component).unwrap();
    for forged in [foreign.clone(), [vec![0u8; 32], foreign.clone()].concat()] {
        std::fs::remove_file(entry).unwrap();
        std::fs::write(entry, &forged).unwrap();
        let runtime = Runtime::new(&options(&cache)).unwrap();
        assert!(
            matches!(runtime.component_load(), ComponentLoad::Compiled(_)),
            "a forged entry must not load"
        );
        assert_has(&runtime.cache_notes().join("\n"), &["failed verification"]);
        // The runtime holds the genuine component: it can be instantiated.
        let reports = sync_test_without_persons(&runtime).await;
        assert!(reports.is_empty());
        // And the forged entry was replaced by a verified one.
        drop(runtime);
        let next = Runtime::new(&options(&cache)).unwrap();
        assert!(matches!(next.component_load(), ComponentLoad::Cached(_)));
        assert!(next.cache_notes().is_empty());
    }

    // A symlink in place of the entry is not followed.
    let elsewhere = dir.path().join("elsewhere.cwasm");
    std::fs::rename(entry, &elsewhere).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&elsewhere, entry).unwrap();
        let runtime = Runtime::new(&options(&cache)).unwrap();
        assert!(matches!(
            runtime.component_load(),
            ComponentLoad::Compiled(_)
        ));
        assert_has(&runtime.cache_notes().join("\n"), &["failed verification"]);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_cache_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    drop(Runtime::new(&options(&cache)).unwrap());
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = Runtime::new(&options(&cache)).unwrap();
    assert!(matches!(
        runtime.component_load(),
        ComponentLoad::Compiled(_)
    ));
    assert_has(
        &runtime.cache_notes().join("\n"),
        &["not used", "can be written by group or others"],
    );
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();

    // An entry owned by another user is refused (only root can make one).
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let entry = std::fs::read_dir(&cache)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
        let runtime = Runtime::new(&options(&cache)).unwrap();
        assert!(matches!(
            runtime.component_load(),
            ComponentLoad::Compiled(_)
        ));
        assert_has(
            &runtime.cache_notes().join("\n"),
            &["belongs to user id 65534"],
        );
    }
}

/// Runs the sync test of a tenant without persons: instantiates nothing, but
/// proves the runtime is usable.
async fn sync_test_without_persons(runtime: &Runtime) -> Vec<calls::PersonReport> {
    let world_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        world_dir.path().join("RoomsAppSettings.config"),
        "<RoomsAppSettings>\n<add key=\"ExchangeTenantId\" value=\"3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44\" />\n<add key=\"ExchangeAppId\" value=\"5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70\" />\n<add key=\"ExchangeClientSecret\" value=\"x\" />\n</RoomsAppSettings>\n",
    )
    .unwrap();
    let tenant = Tenant::open(
        world_dir.path(),
        Arc::new(HashMap::<String, String>::new()),
        TenantInputs::default(),
        LogSink::discard(),
    )
    .unwrap();
    calls::check(&tenant, runtime, None).await.unwrap()
}

#[tokio::test]
async fn one_unreadable_person_row_spoils_nothing_else() {
    let world = World::start().await;
    let tenant = world.tenant("badrow", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let db = rusqlite::Connection::open(tenant.path.join("rooms.db")).unwrap();
    db.execute(
        "INSERT INTO persons VALUES ('mallory@contoso.com', 'O365Push', ?1, 'Rollback', 0)",
        [world.ews_url()],
    )
    .unwrap();
    drop(db);

    let list = tenant.run(&["person", "list", "--json"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    let persons = list.json()["persons"].as_array().unwrap().clone();
    assert_eq!(persons.len(), 2);
    assert_eq!(persons[0]["email"], "alice@contoso.com");
    assert_eq!(persons[0]["mode"], "O365Pull");
    assert_eq!(persons[1]["email"], "mallory@contoso.com");
    assert_has(
        persons[1]["problem"].as_str().unwrap(),
        &["sync mode `O365Push`"],
    );
    let text = tenant.run(&["person", "list"]).await;
    assert_has(
        &text.stdout,
        &["alice@contoso.com", "mallory@contoso.com  unreadable:"],
    );

    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.check("alice@contoso.com", "calendar-access")["ok"],
        true
    );
    let bad = run.check("mallory@contoso.com", "person");
    assert_eq!(bad["ok"], false);
    assert_has(
        bad["fix"].as_str().unwrap(),
        &["person remove mallory@contoso.com"],
    );
    let one = tenant.check(Some("mallory@contoso.com")).await;
    assert_eq!(one.check("mallory@contoso.com", "person")["ok"], false);
}

#[tokio::test]
async fn a_trap_is_told_as_the_cap_that_was_hit_without_a_backtrace() {
    let world = World::start().await;
    let tenant = world.tenant("trap", Mode::Secret, &[]);
    tenant.add_person(&world, "alice@contoso.com").await;
    let run = tenant
        .run(&["--memory-limit-mib", "1", "check", "--json"])
        .await;
    let stopped = run.check("alice@contoso.com", "component");
    let message = stopped["message"].as_str().unwrap();
    assert_has(message, &["memory cap of 1 MiB"]);
    assert_has(stopped["fix"].as_str().unwrap(), &["--memory-limit-mib"]);
    for frame in ["backtrace", "    0:", "wasm function", "at /"] {
        assert!(!run.stdout.contains(frame), "{frame:?} in {}", run.stdout);
    }
    assert!(!message.contains('\n'));
}

/// A stand-in for Entra and EWS on 127.0.0.1: a token request gets a
/// token, every other request `body`, chunked (no Content-Length), as a
/// large real answer may come. Returns the base URL.
async fn chunked_ews(body: Vec<u8>) -> String {
    stand_in(StandIn {
        token: r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"stand-in-token"}"#.into(),
        ews_status: 200,
        ews: body,
    })
    .await
}

/// What the stand-in answers.
struct StandIn {
    /// The token endpoint's JSON.
    token: String,
    /// The status of every EWS answer.
    ews_status: u16,
    /// The body of every EWS answer.
    ews: Vec<u8>,
}

/// Serves `answers` on 127.0.0.1 and returns the base URL.
async fn stand_in(answers: StandIn) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answers = Arc::new(answers);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answers = answers.clone();
            tokio::spawn(async move {
                // Read the request head and its Content-Length body.
                let mut seen = Vec::new();
                let mut buf = [0u8; 16 * 1024];
                let head_end = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while seen.len() < head_end + length {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                if head.contains("/oauth2/") {
                    let token = &answers.token;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{token}",
                        token.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                    return;
                }
                let head = format!(
                    "HTTP/1.1 {} Answer\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                    answers.ews_status
                );
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for chunk in answers.ews.chunks(64 * 1024) {
                    let frame =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
                    if socket.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                let _ = socket.write_all(b"0\r\n\r\n").await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

/// The real GetFolder answer for a calendar, grown to `size` bytes by
/// whitespace after the document element (well-formed XML).
fn padded_get_folder(size: usize) -> Vec<u8> {
    let mut xml = std::fs::read(
        rooms_sync_integration::workspace()
            .join("tests/fixtures/ews-derived/getfolder-calendar-impersonation-response.xml"),
    )
    .unwrap();
    assert!(xml.len() < size);
    xml.resize(size, b' ');
    xml
}

#[tokio::test]
async fn answers_under_the_size_cap_parse_within_the_default_memory_cap() {
    let world = World::start().await;
    // Default caps: 16 MiB responses, 64 MiB of component memory.
    let cap = 16usize << 20;
    let cases = [
        ("under", padded_get_folder(cap - 1024)),
        ("over", padded_get_folder(cap + (1 << 20))),
    ];
    for (name, body) in cases {
        let base = chunked_ews(body).await;
        let tenant = world.tenant(name, Mode::Secret, &[("ExchangeAuthorityUrl", &base)]);
        let email = format!("{name}@contoso.com");
        tenant
            .add_person_at(&email, &format!("{base}/EWS/Exchange.asmx"))
            .await;
        let run = bounded(
            "a check of a large answer",
            Duration::from_secs(120),
            tenant.check(Some(&email)),
        )
        .await;
        let checks = run.json()["persons"][0]["checks"].clone();
        assert!(
            !run.stdout.contains("\"component\""),
            "{name}: the component must not trap: {checks}"
        );
        assert_eq!(run.check(&email, "sign-in")["ok"], true, "{checks}");
        let calendar = run.check(&email, "calendar-access");
        match name {
            "under" => assert_eq!(calendar["ok"], true, "{checks}"),
            _ => {
                assert_eq!(calendar["ok"], false, "{checks}");
                let message = calendar["message"].as_str().unwrap();
                assert_has(message, &["size cap"]);
                assert!(!message.to_lowercase().contains("backtrace"), "{message}");
            }
        }
    }
}

/// Hostile text a server might put into a fault: it retitles the terminal,
/// clears the screen and forges a green line.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n  [ OK ] calendar-access  forged\u{202e}";

fn assert_safe(what: &str, text: &str, cap: usize) {
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{what} carries control characters: {text:?}"
    );
    assert!(text.len() <= cap, "{what} is {} bytes long", text.len());
}

#[tokio::test]
async fn server_text_reaches_the_operator_safe_and_short() {
    let world = World::start().await;
    let fault_text = format!("{HOSTILE}{}", "x".repeat(3 << 20));
    let fault = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorInternalServerError</faultcode>
<faultstring xml:lang="en-US">{fault_text}</faultstring></s:Fault></s:Body></s:Envelope>"#
    );
    let base = stand_in(StandIn {
        token: r#"{"token_type":"Bearer","expires_in":3599,"access_token":"stand-in-token"}"#
            .into(),
        ews_status: 500,
        ews: fault.into_bytes(),
    })
    .await;
    let tenant = world.tenant("hostile", Mode::Secret, &[("ExchangeAuthorityUrl", &base)]);
    tenant
        .add_person_at("alice@contoso.com", &format!("{base}/EWS/Exchange.asmx"))
        .await;

    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    let calendar = run.check("alice@contoso.com", "calendar-access");
    assert_eq!(calendar["ok"], false);
    let message = calendar["message"].as_str().unwrap();
    assert_has(message, &["pwned"]);
    assert_safe("the JSON message", message, 16 * 1024);
    assert_safe(
        "the JSON fix",
        calendar["fix"].as_str().unwrap_or(""),
        16 * 1024,
    );

    let text = tenant.run(&["check"]).await;
    assert!(!text.stdout.contains('\u{1b}'), "{:?}", text.stdout);
    assert!(
        !text
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("[ OK ] calendar-access")),
        "a forged line: {}",
        text.stdout
    );
    assert!(
        text.stdout.len() < 64 * 1024,
        "{} bytes of output",
        text.stdout.len()
    );
    for line in text.log.lines() {
        assert_safe("a log line", line, 64 * 1024);
    }
}

#[tokio::test]
async fn a_huge_access_token_is_a_clear_sign_in_error_not_a_trap() {
    let world = World::start().await;
    let token = format!(
        r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{}"}}"#,
        "A".repeat(12 << 20)
    );
    let base = stand_in(StandIn {
        token,
        ews_status: 200,
        ews: padded_get_folder(4096),
    })
    .await;
    let tenant = world.tenant("bigtoken", Mode::Secret, &[("ExchangeAuthorityUrl", &base)]);
    tenant
        .add_person_at("alice@contoso.com", &format!("{base}/EWS/Exchange.asmx"))
        .await;
    let run = tenant.check(None).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stdout.contains("\"component\""), "{}", run.stdout);
    let sign_in = run.check("alice@contoso.com", "sign-in");
    assert_eq!(sign_in["ok"], false);
    assert!(
        !sign_in["message"].as_str().unwrap().contains("bug"),
        "{sign_in}"
    );
    assert_safe(
        "the sign-in message",
        sign_in["message"].as_str().unwrap(),
        4096,
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_in_place_of_the_database_is_refused_not_waited_on() {
    let world = World::start().await;
    let tenant = world.tenant("fifo-db", Mode::Secret, &[]);
    let made = std::process::Command::new("mkfifo")
        .arg(tenant.path.join("rooms.db"))
        .status()
        .unwrap();
    assert!(made.success());
    for args in [&["person", "list"][..], &["check"][..]] {
        let run = bounded(
            "a run with a FIFO as rooms.db",
            Duration::from_secs(30),
            tenant.run(args),
        )
        .await;
        assert_eq!(run.code, 2, "{run:?}");
        assert_has(&run.stderr, &["rooms.db", "FIFO"]);
    }
}
