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
