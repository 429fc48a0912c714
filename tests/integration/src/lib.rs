//! Shared set-up for the end-to-end tests: the real component, run by the real
//! host, against the Exchange Online emulator over loopback HTTP.
//!
//! A [`World`] is one emulator (seeded with `tests/emulator/seeds/demo.toml`)
//! plus a temporary folder for tenant directories. [`World::tenant`] writes a
//! tenant directory in the original `RoomsAppSettings.config` format for one
//! of the three sign-in modes; [`TenantDir::run`] runs the `rooms-sync` command
//! line in-process, exactly as `main` does, and captures what an operator
//! would see (stdout, stderr, exit code) plus every log line at trace level.
//!
//! The component must be built first (`make guest`); the tests find it where
//! the Makefile puts it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exo_emulator::{Emulator, RunningEmulator, Seed};
use rooms_sync_host::cli::{Output, run};
use rooms_sync_host::log::LogSink;

pub mod service;

/// The demo tenant's directory id.
pub const TENANT_ID: &str = "3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44";
/// The app that signs in with a client secret.
pub const SECRET_APP: &str = "5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70";
/// Its client secret (test-only).
pub const CLIENT_SECRET: &str = "demo-only-client-secret~not-for-production";
/// The app that signs in with the demo certificate.
pub const CERT_APP: &str = "b2c4d6e8-1a3b-4c5d-8e9f-0a1b2c3d4e5f";
/// The demo certificate's SHA-1 thumbprint.
pub const CERT_THUMBPRINT: &str = "332459433B54FC0C2185F75A618FD3C83C7B9584";
/// The public client app of the delegated service user.
pub const PUBLIC_APP: &str = "c3d5e7f9-2b4c-4d6e-9f0a-1b2c3d4e5f60";
/// The delegated service user.
pub const SERVICE_USER: &str = "svc-rooms@contoso.com";
/// Its password (test-only).
pub const SERVICE_PASSWORD: &str = "demo-only-Passw0rd!";

/// The three sign-in modes of the original product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// App-only impersonation with `ExchangeClientSecret`.
    Secret,
    /// App-only impersonation with `ExchangeCertThumbprint`.
    Certificate,
    /// Delegated (`ExchangeUseImpersonation=false`) with a service user.
    Delegated,
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One emulator and a folder for tenant directories.
pub struct World {
    /// The running emulator.
    pub emulator: RunningEmulator,
    dir: tempfile::TempDir,
}

impl World {
    /// Starts an emulator with the demo seed on 127.0.0.1.
    pub async fn start() -> World {
        Self::start_with(|_| {}).await
    }

    /// Starts an emulator with the demo seed changed by `edit` first.
    pub async fn start_with(edit: impl FnOnce(&mut Seed)) -> World {
        let mut seed = Seed::load(workspace().join("tests/emulator/seeds/demo.toml"))
            .expect("the demo seed loads");
        edit(&mut seed);
        let emulator = Emulator::start(seed, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the emulator starts");
        World {
            emulator,
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// The EWS URL persons use.
    pub fn ews_url(&self) -> String {
        self.emulator.ews_url()
    }

    /// A tenant directory `name` in `mode`, pointing at the emulator with
    /// loopback HTTP allowed. `extra` keys are added (or replace defaults).
    pub fn tenant(&self, name: &str, mode: Mode, extra: &[(&str, &str)]) -> TenantDir {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.join("certs")).unwrap();
        let mut keys: Vec<(String, String)> = vec![
            ("ExchangeTenantId".into(), TENANT_ID.into()),
            (
                "ExchangeAuthorityUrl".into(),
                self.emulator.base_url().to_string(),
            ),
            ("ExchangeAllowInsecureLoopback".into(), "true".into()),
        ];
        match mode {
            Mode::Secret => {
                keys.push(("ExchangeAppId".into(), SECRET_APP.into()));
                keys.push(("ExchangeClientSecret".into(), CLIENT_SECRET.into()));
            }
            Mode::Certificate => {
                keys.push(("ExchangeAppId".into(), CERT_APP.into()));
                keys.push(("ExchangeCertThumbprint".into(), CERT_THUMBPRINT.into()));
                for file in ["demo-app.crt", "demo-app.key"] {
                    std::fs::copy(
                        workspace().join("tests/certs").join(file),
                        path.join("certs").join(file),
                    )
                    .unwrap();
                }
            }
            Mode::Delegated => {
                keys.push(("ExchangeAppId".into(), PUBLIC_APP.into()));
                keys.push(("ExchangeUseImpersonation".into(), "false".into()));
                keys.push(("ExchangeServiceUser".into(), SERVICE_USER.into()));
                keys.push(("ExchangeServicePassword".into(), SERVICE_PASSWORD.into()));
            }
        }
        for (k, v) in extra {
            keys.retain(|(key, _)| key != k);
            if !v.is_empty() {
                keys.push((k.to_string(), v.to_string()));
            }
        }
        let dir = TenantDir {
            path,
            cache: self.dir.path().join("cwasm-cache"),
            env: HashMap::new(),
        };
        dir.write_settings(&keys);
        dir
    }
}

/// What a `rooms-sync` run printed.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Every log line, at trace level.
    pub log: String,
}

impl Run {
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The check `name` of `email` from `check --json` output.
    pub fn check(&self, email: &str, name: &str) -> serde_json::Value {
        let json = self.json();
        let person = json["persons"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["email"] == email))
            .unwrap_or_else(|| panic!("no person {email} in {json}"))
            .clone();
        person["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no check {name} for {email} in {json}"))
            .clone()
    }

    /// Everything the operator and the log saw, for secrecy assertions.
    pub fn everything(&self) -> String {
        format!("{}\n{}\n{}", self.stdout, self.stderr, self.log)
    }
}

/// A tenant directory of a [`World`].
#[derive(Debug, Clone)]
pub struct TenantDir {
    /// The directory.
    pub path: PathBuf,
    cache: PathBuf,
    /// Environment variables the run sees (overrides and `env:` secrets).
    pub env: HashMap<String, String>,
}

impl TenantDir {
    /// Writes `RoomsAppSettings.config` with these keys, as the original
    /// product's files look.
    pub fn write_settings(&self, keys: &[(String, String)]) {
        let mut xml =
            String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<RoomsAppSettings>\n");
        for (k, v) in keys {
            let v = v
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            xml.push_str(&format!("  <add key=\"{k}\" value=\"{v}\" />\n"));
        }
        xml.push_str("</RoomsAppSettings>\n");
        std::fs::write(self.path.join("RoomsAppSettings.config"), xml).unwrap();
    }

    /// Runs `rooms-sync --tenant DIR ARGS...` in-process.
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut argv: Vec<OsString> = vec![
            "rooms-sync".into(),
            "--tenant".into(),
            self.path.clone().into(),
        ];
        argv.push("--cache-dir".into());
        argv.push(self.cache.clone().into());
        argv.extend(args.iter().map(OsString::from));
        run_cli(argv, self.env.clone()).await
    }

    /// Adds a person with the emulator's EWS URL.
    pub async fn add_person(&self, world: &World, email: &str) {
        self.add_person_at(email, &world.ews_url()).await;
    }

    /// Adds a person whose Sync-URL is `sync_url`.
    pub async fn add_person_at(&self, email: &str, sync_url: &str) {
        let run = self
            .run(&[
                "person",
                "add",
                email,
                "--mode",
                "O365Pull",
                "--sync-url",
                sync_url,
            ])
            .await;
        assert_eq!(run.code, 0, "person add failed: {run:?}");
    }

    /// Runs `check --json` (optionally for one person).
    pub async fn check(&self, person: Option<&str>) -> Run {
        match person {
            Some(p) => self.run(&["check", "--json", "--person", p]).await,
            None => self.run(&["check", "--json"]).await,
        }
    }
}

/// Asserts that `text` contains every one of `needles`, naming the first one missing.
pub fn assert_has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "expected `{needle}` in: {text}");
    }
}

/// Runs the command line with `argv` (program name first) and `env`.
pub async fn run_cli(argv: Vec<OsString>, env: HashMap<String, String>) -> Run {
    let (sink, log) = LogSink::memory();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(
        argv,
        Arc::new(env),
        Some(sink),
        Output {
            out: &mut out,
            err: &mut err,
            out_is_terminal: false,
        },
    )
    .await;
    Run {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        log: log.text(),
    }
}

// ---------------------------------------------------------------------------
// Two-way sync: acting as an Outlook user through the emulator's admin API,
// running `rooms-sync run`, and reading both sides.
// ---------------------------------------------------------------------------

/// Demo mailboxes of the sync tests.
pub const ALICE: &str = "alice@contoso.com";
/// A second user.
pub const BOB: &str = "bob@contoso.com";
/// A room.
pub const BERLIN: &str = "room-berlin@contoso.com";
/// A second room.
pub const HAMBURG: &str = "room-hamburg@contoso.com";
/// The Windows zone of the sync tests.
pub const WEST_EUROPE: &str = "W. Europe Standard Time";

/// The EWS operations that change Exchange.
pub const EWS_WRITES: [&str; 3] = ["CreateItem", "UpdateItem", "DeleteItem"];

impl World {
    /// Sends one admin request (`path` after `/admin/`); returns the status
    /// and the JSON answer (`null` for an empty body).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}/admin/{path}", self.emulator.base_url());
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let answer = exo_emulator::client::send(
            method,
            &url,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let json = if answer.body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&answer.body)
                .unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {}", answer.text()))
        };
        (answer.status, json)
    }

    /// Creates an item in `mailbox` as its Outlook user would (invitations
    /// are sent unless `item` says otherwise); returns the item.
    pub async fn outlook_create(
        &self,
        mailbox: &str,
        item: serde_json::Value,
    ) -> serde_json::Value {
        let (status, json) = self
            .admin("POST", &format!("mailboxes/{mailbox}/items"), Some(&item))
            .await;
        assert_eq!(status, 201, "creating {item} in {mailbox}: {json}");
        json
    }

    /// Changes an item (an occurrence id makes an exception); returns it.
    pub async fn outlook_patch(
        &self,
        mailbox: &str,
        id: &str,
        patch: serde_json::Value,
    ) -> serde_json::Value {
        let (status, json) = self
            .admin("PATCH", &item_path(mailbox, id), Some(&patch))
            .await;
        assert_eq!(
            status, 200,
            "changing {id} in {mailbox} with {patch}: {json}"
        );
        json
    }

    /// Deletes an item (with cancellations to its attendees, as Outlook
    /// does), or one occurrence.
    pub async fn outlook_delete(&self, mailbox: &str, id: &str) {
        let (status, json) = self.admin("DELETE", &item_path(mailbox, id), None).await;
        assert_eq!(status, 204, "deleting {id} in {mailbox}: {json}");
    }

    /// One item, `None` when it does not exist.
    pub async fn outlook_item(&self, mailbox: &str, id: &str) -> Option<serde_json::Value> {
        let (status, json) = self.admin("GET", &item_path(mailbox, id), None).await;
        match status {
            200 => Some(json),
            404 => None,
            _ => panic!("reading {id} in {mailbox}: {status} {json}"),
        }
    }

    /// The items of a mailbox's calendar.
    pub async fn calendar(&self, mailbox: &str) -> Vec<serde_json::Value> {
        let (status, json) = self
            .admin(
                "GET",
                &format!("mailboxes/{mailbox}/items?folder=calendar"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{json}");
        json["items"].as_array().cloned().unwrap_or_default()
    }

    /// The calendar items of `mailbox` whose subject is `subject`.
    pub async fn calendar_items(&self, mailbox: &str, subject: &str) -> Vec<serde_json::Value> {
        self.calendar(mailbox)
            .await
            .into_iter()
            .filter(|i| i["subject"] == subject)
            .collect()
    }

    /// The one calendar item of `mailbox` with `subject`; panics unless
    /// there is exactly one.
    pub async fn only_item(&self, mailbox: &str, subject: &str) -> serde_json::Value {
        let items = self.calendar_items(mailbox, subject).await;
        assert_eq!(
            items.len(),
            1,
            "expected exactly one '{subject}' in {mailbox}'s calendar: {items:#?}"
        );
        items.into_iter().next().unwrap()
    }

    /// A series' occurrences (exceptions included, deleted ones left out)
    /// between `from` and `to` (`xs:dateTime`, UTC).
    pub async fn outlook_occurrences(
        &self,
        mailbox: &str,
        id: &str,
        from: &str,
        to: &str,
    ) -> Vec<serde_json::Value> {
        let path = format!("{}/occurrences?from={from}&to={to}", item_path(mailbox, id));
        let (status, json) = self.admin("GET", &path, None).await;
        assert_eq!(status, 200, "{json}");
        json["occurrences"].as_array().cloned().unwrap_or_default()
    }

    /// The sequence number of the newest request-log entry (0 when empty).
    pub fn log_mark(&self) -> u64 {
        self.emulator
            .request_log(&exo_emulator::LogFilter::default())
            .last()
            .map_or(0, |e| e.seq)
    }

    /// EWS requests after `mark`, optionally of one operation.
    pub fn ews_requests_since(
        &self,
        mark: u64,
        operation: Option<&str>,
    ) -> Vec<exo_emulator::LogEntry> {
        self.emulator.request_log(&exo_emulator::LogFilter {
            endpoint: Some("ews".into()),
            operation: operation.map(str::to_owned),
            since: Some(mark),
            ..exo_emulator::LogFilter::default()
        })
    }

    /// `CreateItem`/`UpdateItem`/`DeleteItem` requests after `mark`.
    pub fn writes_since(&self, mark: u64) -> Vec<exo_emulator::LogEntry> {
        self.ews_requests_since(mark, None)
            .into_iter()
            .filter(|e| {
                e.operation
                    .as_deref()
                    .is_some_and(|op| EWS_WRITES.contains(&op))
            })
            .collect()
    }
}

/// The admin path of an item (ids are base64 with `/`, `+`, `=`).
pub fn item_path(mailbox: &str, id: &str) -> String {
    format!(
        "mailboxes/{mailbox}/items/{}",
        exo_emulator::util::percent_encode(id)
    )
}

/// The `value` of an item's extended property `PublicStrings`/`name`.
pub fn extended_property<'a>(item: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    item["extended_properties"]
        .as_array()?
        .iter()
        .find(|p| p["property"].as_str().is_some_and(|n| n.contains(name)))
        .and_then(|p| p["value"].as_str())
}

/// The addresses of an item's resource attendees, lower-case, sorted.
pub fn resources(item: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = item["calendar"]["resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["email"].as_str())
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The counters of one `run --json` person entry or of its `totals`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// `to_rooms`: created, updated, cancelled.
    pub to_rooms: [u64; 3],
    /// `to_exchange`: created, updated, cancelled.
    pub to_exchange: [u64; 3],
}

impl Moved {
    /// Reads the counters of a person entry or of `totals`.
    pub fn of(entry: &serde_json::Value) -> Moved {
        let three = |v: &serde_json::Value| {
            ["created", "updated", "cancelled"].map(|k| {
                v[k].as_u64()
                    .unwrap_or_else(|| panic!("no counter {k} in {v}"))
            })
        };
        Moved {
            to_rooms: three(&entry["to_rooms"]),
            to_exchange: three(&entry["to_exchange"]),
        }
    }

    /// True when nothing moved either way.
    pub fn is_zero(&self) -> bool {
        *self == Moved::default()
    }
}

/// What a sync run reported.
#[derive(Debug, Clone)]
pub struct SyncRun {
    /// The process outcome.
    pub run: Run,
    /// `run --json` output.
    pub json: serde_json::Value,
}

impl SyncRun {
    /// The totals' counters.
    pub fn totals(&self) -> Moved {
        Moved::of(&self.json["totals"])
    }

    /// The entry of one person.
    pub fn person(&self, email: &str) -> serde_json::Value {
        self.json["persons"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["email"] == email))
            .unwrap_or_else(|| panic!("no person {email} in {}", self.json))
            .clone()
    }

    /// A total counter (`conflicts`, `quarantined`, `ews_requests`, `backoff_ms`).
    pub fn total(&self, name: &str) -> u64 {
        self.json["totals"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no total {name} in {}", self.json))
    }

    /// Every error of every person.
    pub fn errors(&self) -> Vec<serde_json::Value> {
        self.json["persons"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["errors"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl TenantDir {
    /// Adds a person with the emulator's EWS URL and extra `person add`
    /// options (`--room`, `--sync-master`, `--conflict Cancel`).
    pub async fn add_person_with(&self, world: &World, email: &str, extra: &[&str]) {
        let url = world.ews_url();
        let mut args = vec![
            "person",
            "add",
            email,
            "--mode",
            "O365Pull",
            "--sync-url",
            url.as_str(),
        ];
        args.extend_from_slice(extra);
        let run = self.run(&args).await;
        assert_eq!(run.code, 0, "person add failed: {run:?}");
    }

    /// Runs a command that must succeed; returns its output.
    pub async fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args).await;
        assert_eq!(run.code, 0, "`{}` failed: {run:?}", args.join(" "));
        run
    }

    /// Runs a command with `--json` that must succeed; returns its JSON.
    pub async fn ok_json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        self.ok(&args).await.json()
    }

    /// `run --json` (every person, or `--person`), whatever its exit code.
    pub async fn sync_any(&self, person: Option<&str>) -> SyncRun {
        let run = match person {
            Some(p) => self.run(&["run", "--person", p, "--json"]).await,
            None => self.run(&["run", "--json"]).await,
        };
        let json = run.json();
        SyncRun { run, json }
    }

    /// `run --json` that must exit 0 with no errors.
    pub async fn sync(&self, person: Option<&str>) -> SyncRun {
        let r = self.sync_any(person).await;
        assert_eq!(
            r.run.code, 0,
            "run failed: {}\nstderr: {}",
            r.json, r.run.stderr
        );
        assert!(r.errors().is_empty(), "run reported errors: {}", r.json);
        r
    }

    /// `booking add ... --json`; returns the new booking's id.
    pub async fn booking_add(&self, args: &[&str]) -> String {
        let mut all = vec!["booking", "add"];
        all.extend_from_slice(args);
        let json = self.ok_json(&all).await;
        json["id"]
            .as_str()
            .unwrap_or_else(|| panic!("booking add printed no id: {json}"))
            .to_owned()
    }

    /// `booking list --json`: every booking.
    pub async fn bookings(&self) -> Vec<serde_json::Value> {
        let json = self.ok_json(&["booking", "list"]).await;
        json["bookings"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no bookings array: {json}"))
    }

    /// The bookings with `subject`.
    pub async fn bookings_titled(&self, subject: &str) -> Vec<serde_json::Value> {
        self.bookings()
            .await
            .into_iter()
            .filter(|b| b["subject"] == subject)
            .collect()
    }

    /// The one booking with `subject`; panics unless there is exactly one.
    pub async fn only_booking(&self, subject: &str) -> serde_json::Value {
        let all = self.bookings().await;
        let found: Vec<_> = all.iter().filter(|b| b["subject"] == subject).collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one booking '{subject}': {all:#?}"
        );
        found[0].clone()
    }

    /// One booking by id.
    pub async fn booking(&self, id: &str) -> serde_json::Value {
        let all = self.bookings().await;
        all.iter()
            .find(|b| b["id"] == id)
            .unwrap_or_else(|| panic!("no booking {id}: {all:#?}"))
            .clone()
    }

    /// `booking occurrences --from --to --json`.
    pub async fn occurrences(&self, from: &str, to: &str) -> Vec<serde_json::Value> {
        let json = self
            .ok_json(&["booking", "occurrences", "--from", from, "--to", to])
            .await;
        json["occurrences"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no occurrences array: {json}"))
    }

    /// A `booking SUBCOMMAND --json` listing (`outbox`, `conflicts`,
    /// `quarantine`): the first array in its answer.
    pub async fn records(&self, subcommand: &str) -> Vec<serde_json::Value> {
        let json = self.ok_json(&["booking", subcommand]).await;
        match &json {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Object(o) => o
                .values()
                .find_map(|v| v.as_array().cloned())
                .unwrap_or_else(|| panic!("no array in `booking {subcommand} --json`: {json}")),
            _ => panic!("`booking {subcommand} --json` printed {json}"),
        }
    }

    /// Asserts that a run right now changes nothing: every counter 0, no
    /// error, no `CreateItem`/`UpdateItem`/`DeleteItem` sent, and the
    /// bookings as they were (links' ChangeKeys aside).
    pub async fn assert_quiet(&self, world: &World) {
        let before = comparable(&self.bookings().await);
        let mark = world.log_mark();
        let r = self.sync(None).await;
        for person in r.json["persons"].as_array().into_iter().flatten() {
            let moved = Moved::of(person);
            assert!(
                moved.is_zero(),
                "a run right after a run moved something: {moved:?} in {}",
                r.json
            );
        }
        assert!(r.totals().is_zero(), "{}", r.json);
        let writes = world.writes_since(mark);
        assert!(
            writes.is_empty(),
            "a run right after a run wrote to Exchange: {writes:#?}"
        );
        let after = comparable(&self.bookings().await);
        assert_eq!(before, after, "a run right after a run changed ROOMS");
    }
}

/// Bookings without what bookkeeping may move (links and ChangeKeys),
/// sorted by id, for before/after comparisons.
pub fn comparable(bookings: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = bookings
        .iter()
        .map(|b| {
            let mut b = b.clone();
            if let Some(ex) = b.get_mut("exchange").and_then(|e| e.as_object_mut()) {
                ex.remove("change_key");
            }
            // Links to the copies in attendees' and rooms' mailboxes are
            // bookkeeping: a copy made by a run's own write is linked when
            // its mailbox syncs next.
            if let Some(o) = b.as_object_mut() {
                o.remove("links");
            }
            b
        })
        .collect();
    out.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    out
}

impl World {
    /// A tenant signing in with the client secret, with `settings` added,
    /// and these persons (`(email, extra person add options)`).
    pub async fn sync_tenant(
        &self,
        name: &str,
        settings: &[(&str, &str)],
        persons: &[(&str, &[&str])],
    ) -> TenantDir {
        let dir = self.tenant(name, Mode::Secret, settings);
        for (email, extra) in persons {
            dir.add_person_with(self, email, extra).await;
        }
        dir
    }
}

/// An RFC 3339 instant.
pub fn ts(text: &str) -> jiff::Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("`{text}` is not an RFC 3339 instant: {e}"))
}

/// A JSON string holding an RFC 3339 instant.
pub fn ts_of(value: &serde_json::Value) -> jiff::Timestamp {
    ts(value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not an instant")))
}
