//! Running `rooms-sync serve` as a child process, for the end-to-end tests
//! of the sync service (`tests/serve*.rs`).
//!
//! A [`Service`] is the real `target/<profile>/rooms-sync` binary started
//! with `serve --tenants DIR --listen 127.0.0.1:PORT --public-url
//! http://127.0.0.1:PORT --log-format json`, where PORT is picked free
//! before the start (so the push callback URL the service hands to the
//! emulator is its own). Its stdout and stderr go to files in a temporary
//! folder, one pair per start, so a restarted service keeps the logs of
//! every run; [`Service::start`] returns once the `listening on http://ADDR`
//! line is there.
//!
//! Talking to it: [`Service::get`], [`Service::post`] and
//! [`Service::request`] use a tiny HTTP/1.1 client written here (one
//! connection per request, the body written while the answer is read, so a
//! server that answers 413 before reading a large body is seen answering);
//! [`Service::metrics`] / [`Service::metric`] read `/metrics`,
//! [`Service::healthz`] reads `/healthz`. [`Service::terminate`] sends
//! SIGTERM and returns the exit status, [`Service::kill`] sends SIGKILL, and
//! [`Service::start_again`] starts the same command again on the same port.
//!
//! Waiting: [`Service::wait_until`] polls a condition every 75 ms up to a
//! bound and panics with what it waited for and the tail of the service's
//! log; it also stops at once when the service died.
//!
//! # Layout
//!
//! - this file: [`ServiceOptions`], [`Service`] (start, stop, requests,
//!   logs, waiting);
//! - [`http`]: the HTTP/1.1 client;
//! - [`prometheus`]: reading the Prometheus text format;
//! - [`emulator`]: the emulator's subscription admin routes (`GET`/`DELETE
//!   /admin/subscriptions`), a person in a given sync mode, EWS requests
//!   per mailbox, `rooms.db`'s stored subscriptions, items and slots, and
//!   `SendNotification` bodies as Exchange posts them.
//!
//! Needs `make build` (the component and `target/release/rooms-sync`).

pub mod emulator;
pub mod http;
pub mod prometheus;

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::TenantDir;

pub use emulator::*;
pub use http::{Answer, http, http_from};
pub use prometheus::{Sample, has_family, metric_in, parse_metrics};

/// The usual bound of a wait for the service (generous: CI runs on two
/// cores with several services at once).
pub const WAIT: Duration = Duration::from_secs(30);
/// How long the service may take to print its `listening on` line (the
/// first start may compile the component).
const START_BOUND: Duration = Duration::from_secs(120);
/// How long SIGTERM may take to end the process.
const STOP_BOUND: Duration = Duration::from_secs(60);
/// Polling period of every wait.
const POLL: Duration = Duration::from_millis(75);
/// Log lines shown with a failure.
const TAIL: usize = 60;

/// The real host binary beside the test executable's directory
/// (`target/release/deps/serve-*` → `target/release/rooms-sync`).
pub fn host_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps");
    let binary = profile.join(format!("rooms-sync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} not found: build it first (`make build`, or `cargo build --release -p rooms-sync-host`)",
        binary.display()
    );
    binary
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// How to start the service; kept for restarts.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The `--tenants` directory.
    pub tenants: PathBuf,
    /// The port of `--listen 127.0.0.1:PORT` and of `--public-url`.
    pub port: u16,
    /// Environment variables added for the process.
    pub env: Vec<(String, String)>,
    /// `--log-level`.
    pub log_level: String,
    /// More arguments after `serve ...`.
    pub extra: Vec<String>,
    logs: Arc<tempfile::TempDir>,
    runs: Arc<AtomicUsize>,
}

impl ServiceOptions {
    /// Options for serving the tenant directories beside `tenant` (the
    /// [`World`]'s folder), on a free port, logging at `info`.
    pub fn beside(tenant: &TenantDir) -> ServiceOptions {
        let tenants = tenant
            .path
            .parent()
            .expect("a tenant directory has a parent")
            .to_path_buf();
        ServiceOptions::new(tenants)
    }

    /// Options for serving `tenants` on a free port, logging at `info`.
    pub fn new(tenants: PathBuf) -> ServiceOptions {
        ServiceOptions {
            tenants,
            port: free_port(),
            env: Vec::new(),
            log_level: "info".into(),
            extra: Vec::new(),
            logs: Arc::new(tempfile::tempdir().expect("a folder for the service logs")),
            runs: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> ServiceOptions {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets `--log-level`.
    pub fn log_level(mut self, level: &str) -> ServiceOptions {
        self.log_level = level.into();
        self
    }

    /// The public URL the service is told (`http://127.0.0.1:PORT`).
    pub fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The push callback URL of the tenant directory `tenant`.
    pub fn callback_url(&self, tenant: &str) -> String {
        format!("{}{}", self.public_url(), webhook_path(tenant))
    }
}

/// The webhook path of the tenant directory named `tenant`.
pub fn webhook_path(tenant: &str) -> String {
    format!("/api/webhooks/exchange/{tenant}")
}

/// A running (or stopped) `rooms-sync serve` child process.
pub struct Service {
    options: ServiceOptions,
    child: Mutex<Option<tokio::process::Child>>,
    /// Whether the process is expected to run (false after terminate/kill).
    expect_running: bool,
    /// The address it listens on (`127.0.0.1:PORT`).
    pub addr: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Service {
    /// Starts the service and waits for its `listening on` line.
    pub async fn start(options: ServiceOptions) -> Service {
        let mut service = Service {
            options,
            child: Mutex::new(None),
            expect_running: false,
            addr: String::new(),
            stdout: PathBuf::new(),
            stderr: PathBuf::new(),
        };
        service.spawn().await;
        service
    }

    /// Starts the same command again (same port, same tenants) after
    /// [`Service::terminate`] or [`Service::kill`].
    pub async fn start_again(&mut self) {
        assert!(
            !self.expect_running,
            "start_again while the service still runs"
        );
        self.spawn().await;
    }

    /// The options it was started with.
    pub fn options(&self) -> &ServiceOptions {
        &self.options
    }

    async fn spawn(&mut self) {
        let run = self.options.runs.fetch_add(1, Ordering::SeqCst) + 1;
        self.stdout = self.options.logs.path().join(format!("run-{run}.stdout"));
        self.stderr = self.options.logs.path().join(format!("run-{run}.stderr"));
        let out = std::fs::File::create(&self.stdout).expect("the stdout file");
        let err = std::fs::File::create(&self.stderr).expect("the stderr file");
        let component = rooms_sync_host::runtime::locate_component()
            .expect("the component is built (`make guest`)");
        let port = self.options.port;
        let mut command = tokio::process::Command::new(host_binary());
        command
            .arg("--log-level")
            .arg(&self.options.log_level)
            .arg("--cache-dir")
            .arg(self.options.tenants.join("cwasm-cache"))
            .arg("--component")
            .arg(component)
            .arg("serve")
            .arg("--tenants")
            .arg(&self.options.tenants)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--public-url")
            .arg(self.options.public_url())
            .arg("--log-format")
            .arg("json")
            .args(&self.options.extra)
            .envs(
                self.options
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = command.spawn().expect("rooms-sync serve starts");
        *self.child.lock().unwrap() = Some(child);
        self.expect_running = true;

        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with("listening on ")) {
                let addr = line
                    .trim()
                    .strip_prefix("listening on http://")
                    .unwrap_or_else(|| panic!("unexpected listening line `{line}`"));
                assert_eq!(
                    addr,
                    format!("127.0.0.1:{port}"),
                    "the service listens where it was told"
                );
                self.addr = addr.to_owned();
                return;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "rooms-sync serve exited with {status} before listening\nstdout:\n{text}\nstderr:\n{}",
                    self.log_text()
                );
            }
            assert!(
                started.elapsed() < START_BOUND,
                "no `listening on` line after {START_BOUND:?}\nstdout:\n{text}\nstderr:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The exit status when the process has ended.
    fn exited(&self) -> Option<ExitStatus> {
        let mut guard = self.child.lock().unwrap();
        guard
            .as_mut()
            .and_then(|c| c.try_wait().expect("the child's status"))
    }

    /// True while the process runs.
    pub fn is_running(&self) -> bool {
        self.child.lock().unwrap().is_some() && self.exited().is_none()
    }

    fn pid(&self) -> i32 {
        let guard = self.child.lock().unwrap();
        let pid = guard
            .as_ref()
            .and_then(|c| c.id())
            .expect("the service runs");
        i32::try_from(pid).expect("a pid fits an i32")
    }

    async fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                self.expect_running = false;
                return status;
            }
            assert!(
                started.elapsed() < bound,
                "the service did not stop within {bound:?}\nlog tail:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to end; returns its status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid();
        // SAFETY: `kill` with a pid we own and a valid signal number.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "SIGTERM to {pid}: {}", io::Error::last_os_error());
        self.wait_exit(STOP_BOUND).await
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub async fn kill(&mut self) {
        {
            let mut guard = self.child.lock().unwrap();
            let child = guard.as_mut().expect("the service was started");
            child.start_kill().expect("SIGKILL is sent");
        }
        self.wait_exit(STOP_BOUND).await;
    }

    // ---------------------------------------------------------------- HTTP

    /// Sends one request to the service.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Answer> {
        http(&self.addr, method, path, headers, body).await
    }

    /// `GET path`; panics (with the log tail) when there is no answer.
    pub async fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], b"")
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nlog tail:\n{}", self.log_tail()))
    }

    /// `POST path`; panics (with the log tail) when there is no answer.
    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        self.request("POST", path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}\nlog tail:\n{}", self.log_tail()))
    }

    /// `POST` of a SOAP body (`text/xml; charset=utf-8`) to the webhook of
    /// tenant `tenant`.
    pub async fn notify(&self, tenant: &str, body: &str) -> Answer {
        self.post(
            &webhook_path(tenant),
            &[("Content-Type", "text/xml; charset=utf-8")],
            body.as_bytes(),
        )
        .await
    }

    /// The `/metrics` text (asserting a 200).
    pub async fn metrics(&self) -> String {
        let answer = self.get("/metrics").await;
        assert_eq!(answer.status, 200, "/metrics: {}", answer.text());
        answer.text()
    }

    /// The sum of the samples of `name` whose labels include `labels`
    /// (0 when there is none).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_in(&self.metrics().await, name, labels)
    }

    /// The `/healthz` JSON (any status).
    pub async fn healthz(&self) -> (u16, Value) {
        let answer = self.get("/healthz").await;
        let json = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
            panic!("/healthz is not JSON ({e}): {}", answer.text());
        });
        (answer.status, json)
    }

    /// The `/healthz` entry of tenant `name`, if listed.
    pub async fn tenant_health(&self, name: &str) -> Option<Value> {
        let (_, json) = self.healthz().await;
        json["tenants"]
            .as_array()?
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
    }

    // ---------------------------------------------------------------- logs

    /// This run's stderr.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stdout and stderr of every run so far.
    pub fn all_output(&self) -> String {
        let mut out = String::new();
        let runs = self.options.runs.load(Ordering::SeqCst);
        for run in 1..=runs {
            for stream in ["stdout", "stderr"] {
                let path = self.options.logs.path().join(format!("run-{run}.{stream}"));
                out.push_str(&std::fs::read_to_string(path).unwrap_or_default());
            }
        }
        out
    }

    /// This run's stderr lines, each parsed as JSON (a line that is not
    /// JSON comes back as a JSON string, for the test to judge).
    pub fn log_lines(&self) -> Vec<Value> {
        parse_log(&self.log_text())
    }

    /// The stderr lines of every run, parsed like [`Service::log_lines`].
    pub fn all_log_lines(&self) -> Vec<Value> {
        let mut lines = Vec::new();
        let runs = self.options.runs.load(Ordering::SeqCst);
        for run in 1..=runs {
            let path = self.options.logs.path().join(format!("run-{run}.stderr"));
            lines.extend(parse_log(
                &std::fs::read_to_string(path).unwrap_or_default(),
            ));
        }
        lines
    }

    /// The last lines of this run's log.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(TAIL)..].join("\n")
    }

    // ---------------------------------------------------------------- waiting

    /// Polls `condition` until it gives a value, at most `bound`; panics
    /// naming `what` with the log tail, or at once when the service died.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        bound: Duration,
        mut condition: impl AsyncFnMut() -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = condition().await {
                return value;
            }
            if self.expect_running
                && let Some(status) = self.exited()
            {
                panic!(
                    "the service ended ({status}) while waiting for {what}\nlog tail:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > bound {
                panic!(
                    "timed out after {bound:?} waiting for {what}\nlog tail:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`Service::wait_until`] for a yes/no condition, with [`WAIT`].
    pub async fn wait_for(&self, what: &str, mut condition: impl AsyncFnMut() -> bool) {
        self.wait_until(what, WAIT, async || condition().await.then_some(()))
            .await
    }

    /// Waits until the tenant's sync queue is empty and its `ok` syncs
    /// stopped growing across two polls (nothing running or waiting).
    pub async fn wait_idle(&self, tenant: &str) {
        let mut last = -1.0;
        self.wait_for(&format!("tenant {tenant} to be idle"), async || {
            let metrics = self.metrics().await;
            let queue = metric_in(&metrics, "rooms_sync_queue_depth", &[("tenant", tenant)]);
            let syncs = metric_in(&metrics, "rooms_sync_syncs_total", &[("tenant", tenant)]);
            let quiet = queue == 0.0 && syncs == last;
            last = syncs;
            quiet
        })
        .await;
    }
}

/// Parses log text into one JSON value per non-empty line.
fn parse_log(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_owned())))
        .collect()
}
