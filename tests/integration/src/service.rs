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
//! Also here: the emulator's subscription admin routes
//! (`GET`/`DELETE /admin/subscriptions`), a person in a given sync mode,
//! counting EWS requests per mailbox, and a Prometheus text parser.
//!
//! Needs `make build` (the component and `target/release/rooms-sync`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{SECRET_APP, TenantDir, World};

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

// -------------------------------------------------------------------- HTTP

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header fields as received.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`). The
/// body is written by a separate task while the answer is read, so an
/// answer sent before the whole body was read (413) is still seen; write
/// errors after that are ignored.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    http_from(None, addr, method, path, headers, body).await
}

/// [`http`] from the local address `source` (any of 127.0.0.0/8 on
/// loopback), so a test can be many peers at once.
pub async fn http_from(
    source: Option<std::net::IpAddr>,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    let stream = match source {
        None => tokio::net::TcpStream::connect(addr).await?,
        Some(ip) => {
            let target: std::net::SocketAddr = addr
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(ip, 0))?;
            socket.connect(target).await?
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let body = body.to_vec();
    // The task hands the write half back, so the connection is not
    // half-closed while the answer is on its way.
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        writer.flush().await?;
        Ok::<_, io::Error>(writer)
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let outcome = loop {
        match reader.read(&mut buf).await {
            Ok(0) => break parse_answer(&raw, true),
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if let Some(answer) = parse_answer(&raw, false) {
                    break Some(answer);
                }
            }
            Err(e) if raw.is_empty() => {
                sending.abort();
                return Err(e);
            }
            Err(_) => break parse_answer(&raw, true),
        }
    };
    sending.abort();
    outcome.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "incomplete answer: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(300)])
            ),
        )
    })
}

/// The answer in `raw` when it is complete (`eof`: the connection ended).
fn parse_answer(raw: &[u8], eof: bool) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let rest = &raw[split + 4..];
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// The body of a complete chunked encoding; `None` until the last chunk.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ----------------------------------------------------------------- metrics

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (`rooms_sync_syncs_total`, `..._bucket`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Every sample of a Prometheus text exposition (comments skipped).
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_sample)
        .collect()
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut key = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(i);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    // A quoted value follows.
                    let (_, quote) = chars.next()?;
                    if quote != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        rest = &inner[end? + 1..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The sum of the samples named `name` whose labels include `labels`.
pub fn metric_in(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse_metrics(text)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .map(|s| s.value)
        .sum()
}

/// True when the exposition declares the family `name` (a `# TYPE` line
/// for it, or for it without a `_total` suffix).
pub fn has_family(text: &str, name: &str) -> bool {
    let bare = name.strip_suffix("_total").unwrap_or(name);
    text.lines().any(|l| {
        let mut words = l.split_whitespace();
        words.next() == Some("#")
            && words.next() == Some("TYPE")
            && words.next().is_some_and(|n| n == name || n == bare)
    })
}

// --------------------------------------------------- emulator and tenants

/// Adds a person in `mode` (`O365` or `O365Pull`) with the emulator's EWS
/// URL.
pub async fn add_person_mode(dir: &TenantDir, world: &World, email: &str, mode: &str) {
    let url = world.ews_url();
    dir.ok(&[
        "person",
        "add",
        email,
        "--mode",
        mode,
        "--sync-url",
        url.as_str(),
    ])
    .await;
}

/// The emulator's subscriptions (`GET /admin/subscriptions`).
pub async fn subscriptions(world: &World) -> Vec<Value> {
    let (status, json) = world.admin("GET", "subscriptions", None).await;
    assert_eq!(status, 200, "GET /admin/subscriptions: {json}");
    match json {
        Value::Array(list) => list,
        Value::Object(ref o) => o
            .get("subscriptions")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_else(|| panic!("no subscriptions list in {json}")),
        other => panic!("GET /admin/subscriptions answered {other}"),
    }
}

/// The emulator's subscriptions of `mailbox` of `kind` (`pull`/`push`).
pub async fn subscriptions_of(world: &World, mailbox: &str, kind: &str) -> Vec<Value> {
    subscriptions(world)
        .await
        .into_iter()
        .filter(|s| {
            s["mailbox"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
                && s["kind"] == kind
        })
        .collect()
}

/// Drops a subscription in the emulator (`DELETE /admin/subscriptions/{id}`).
pub async fn drop_subscription(world: &World, id: &str) {
    let path = format!("subscriptions/{}", exo_emulator::util::percent_encode(id));
    let (status, json) = world.admin("DELETE", &path, None).await;
    assert!(
        status == 200 || status == 204,
        "DELETE /admin/{path}: {status} {json}"
    );
}

/// EWS requests of `operation` for `mailbox` after `mark`.
pub fn ews_for(
    world: &World,
    mark: u64,
    operation: &str,
    mailbox: &str,
) -> Vec<exo_emulator::LogEntry> {
    world
        .ews_requests_since(mark, Some(operation))
        .into_iter()
        .filter(|e| {
            e.mailbox
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
        })
        .collect()
}

/// Waits until the emulator has no request of the secret app in flight
/// (those of a killed process included).
pub async fn settle(world: &World) {
    let account = format!("app:{}", SECRET_APP.to_ascii_lowercase());
    let shared = world.emulator.shared();
    let deadline = Instant::now() + WAIT;
    let mut quiet = 0;
    while quiet < 3 {
        if shared.inflight(&account) == 0 {
            quiet += 1;
        } else {
            quiet = 0;
            assert!(
                Instant::now() < deadline,
                "the emulator still works on requests {WAIT:?} later"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rewrites `RoomsAppSettings.config` of `dir` atomically (a temporary
/// file renamed over it), so a rescan never reads half a file.
pub fn replace_settings(dir: &Path, xml: &str) {
    let tmp = dir.join("RoomsAppSettings.config.tmp");
    std::fs::write(&tmp, xml).expect("the settings are written");
    std::fs::rename(&tmp, dir.join("RoomsAppSettings.config")).expect("the settings are replaced");
}

/// One row of a tenant's `subscriptions` table in `rooms.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// The person's mailbox.
    pub mailbox: String,
    /// `O365` or `O365Pull`.
    pub mode: String,
    /// The EWS `SubscriptionId`.
    pub id: String,
    /// The last watermark stored.
    pub watermark: String,
    /// The push callback, if any.
    pub callback_url: Option<String>,
}

/// The subscriptions stored in the `rooms.db` of `dir` (read directly, as
/// an operator's `sqlite3` would).
pub fn stored_subscriptions(dir: &TenantDir) -> Vec<StoredSubscription> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.path.join("rooms.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("rooms.db opens read-only");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    let mut statement = conn
        .prepare(
            "SELECT mailbox, mode, subscription_id, watermark, callback_url FROM subscriptions \
             ORDER BY mailbox",
        )
        .expect("the subscriptions table");
    statement
        .query_map([], |r| {
            Ok(StoredSubscription {
                mailbox: r.get(0)?,
                mode: r.get(1)?,
                id: r.get(2)?,
                watermark: r.get(3)?,
                callback_url: r.get(4)?,
            })
        })
        .expect("the subscriptions are read")
        .collect::<Result<_, _>>()
        .expect("every subscription row reads")
}

/// An Outlook item (no attendees) in hour `slot` of a test week far from
/// every other test's items: `2027-09-06T06:00Z` plus `slot` hours.
pub fn outlook_item(subject: &str, slot: i64) -> Value {
    let first: jiff::Timestamp = "2027-09-06T06:00:00Z".parse().expect("an instant");
    let start = first
        .checked_add(jiff::SignedDuration::from_hours(slot))
        .expect("in range");
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("in range");
    serde_json::json!({ "subject": subject, "start": start.to_string(), "end": end.to_string() })
}

/// `--start`/`--end` of a ROOMS booking in hour `slot` of another test
/// week (`2027-10-04T06:00Z` plus `slot` hours).
pub fn booking_slot(slot: i64) -> (String, String) {
    let first: jiff::Timestamp = "2027-10-04T06:00:00Z".parse().expect("an instant");
    let start = first
        .checked_add(jiff::SignedDuration::from_hours(slot))
        .expect("in range");
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("in range");
    (start.to_string(), end.to_string())
}

/// Creates `items` in `mailbox` at once, one concurrent admin request each
/// (a burst, as when an assistant edits many meetings); returns the items.
pub async fn outlook_create_all(world: &World, mailbox: &str, items: Vec<Value>) -> Vec<Value> {
    let url = format!(
        "{}/admin/mailboxes/{mailbox}/items",
        world.emulator.base_url()
    );
    let mut tasks = tokio::task::JoinSet::new();
    for item in items {
        let url = url.clone();
        tasks.spawn(async move {
            let answer = exo_emulator::client::send(
                "POST",
                &url,
                &[("Content-Type", "application/json")],
                item.to_string().as_bytes(),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            assert_eq!(answer.status, 201, "creating {item}: {}", answer.text());
            serde_json::from_slice::<Value>(&answer.body).expect("the item as JSON")
        });
    }
    tasks.join_all().await
}

/// Moves the emulator's clock by `seconds`.
pub async fn advance_clock(world: &World, seconds: i64) {
    let (status, json) = world
        .admin(
            "POST",
            "clock/advance",
            Some(&serde_json::json!({ "seconds": seconds })),
        )
        .await;
    assert_eq!(status, 200, "advancing the clock: {json}");
}

/// A `SendNotification` request as Exchange POSTs it: one notification of
/// `subscription_id` with `events` (`t:CreatedEvent` ... elements; none
/// gives a `StatusEvent`).
pub fn send_notification(subscription_id: &str, watermark: &str, events: &str) -> String {
    let events = if events.is_empty() {
        format!("<t:StatusEvent><t:Watermark>{watermark}</t:Watermark></t:StatusEvent>")
    } else {
        events.to_owned()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<soap11:Envelope xmlns:soap11=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap11:Header><t:RequestServerVersion Version=\"Exchange2010_SP1\" \
xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"/></soap11:Header>\
<soap11:Body><m:SendNotification xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" \
xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\">\
<m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass=\"Success\">\
<m:ResponseCode>NoError</m:ResponseCode><m:Notification>\
<t:SubscriptionId>{subscription_id}</t:SubscriptionId>\
<t:PreviousWatermark>{watermark}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>\
{events}</m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages>\
</m:SendNotification></soap11:Body></soap11:Envelope>"
    )
}

/// A `t:CreatedEvent` of a calendar item (ids as Exchange writes them:
/// opaque base64).
pub fn created_event(watermark: &str, item_id: &str) -> String {
    format!(
        "<t:CreatedEvent><t:Watermark>{watermark}</t:Watermark>\
<t:TimeStamp>2027-09-06T06:00:00Z</t:TimeStamp>\
<t:ItemId Id=\"{item_id}\" ChangeKey=\"DwAAABYAAAA=\"/>\
<t:ParentFolderId Id=\"AAMkAGNhbGVuZGFy\" ChangeKey=\"AQAAAA==\"/></t:CreatedEvent>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_with_labels() {
        let text = "# HELP rooms_sync_syncs Syncs.\n# TYPE rooms_sync_syncs counter\n\
                    rooms_sync_syncs_total{tenant=\"a\",outcome=\"ok\"} 3\n\
                    rooms_sync_syncs_total{tenant=\"b\",outcome=\"ok\"} 2\n\
                    rooms_sync_syncs_total{tenant=\"a\",outcome=\"failed\"} 1\n\
                    rooms_sync_tenants{state=\"running\"} 2\n\
                    rooms_sync_x_bucket{le=\"+Inf\"} 7\n\
                    odd{v=\"q\\\"uote, }\"} 1.5\n";
        assert_eq!(metric_in(text, "rooms_sync_syncs_total", &[]), 6.0);
        assert_eq!(
            metric_in(text, "rooms_sync_syncs_total", &[("tenant", "a")]),
            4.0
        );
        assert_eq!(
            metric_in(
                text,
                "rooms_sync_syncs_total",
                &[("tenant", "a"), ("outcome", "ok")]
            ),
            3.0
        );
        assert_eq!(
            metric_in(text, "rooms_sync_tenants", &[("state", "broken")]),
            0.0
        );
        assert_eq!(
            metric_in(text, "rooms_sync_x_bucket", &[("le", "+Inf")]),
            7.0
        );
        assert_eq!(metric_in(text, "odd", &[("v", "q\"uote, }")]), 1.5);
        assert!(has_family(text, "rooms_sync_syncs_total"));
        assert!(!has_family(text, "rooms_sync_items_total"));
    }

    #[test]
    fn reads_answers_with_length_chunks_or_eof() {
        let a = parse_answer(
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig",
            false,
        )
        .unwrap();
        assert_eq!((a.status, a.text().as_str()), (413, "big"));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nbig", false).is_none());
        let c = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_answer(c, false).unwrap().text(), "abcde");
        assert!(parse_answer(&c[..c.len() - 7], false).is_none());
        assert_eq!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\nno", true)
                .unwrap()
                .text(),
            "no"
        );
    }
}
