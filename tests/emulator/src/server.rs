//! The HTTP server (hyper 1, HTTP/1.1 on loopback), routing, and the running-emulator handle.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jiff::SignedDuration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::directory::Directory;
use crate::faults::FaultSpec;
use crate::reply::{Delivery, EmuBody, Reply};
use crate::request_log::{LogEntry, LogFilter};
use crate::seed::{AccessPolicy, App, FolderPermission, Mailbox, Seed, Settings};
use crate::state::{Shared, State};

/// Starts emulators.
#[derive(Debug, Clone, Copy)]
pub struct Emulator;

impl Emulator {
    /// Loads the seed into a directory, binds `listen` (use port 0 for a free port) and serves
    /// until the returned handle is shut down or dropped.
    pub async fn start(seed: Seed, listen: SocketAddr) -> anyhow::Result<RunningEmulator> {
        let directory = Directory::from_seed(&seed)?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let state = State::new(directory, seed.settings.clone(), seed.base_dir.clone());
        let shared = Shared::new(state, base_url.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(RunningEmulator {
            shared,
            base_url,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { respond(shared, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// Error returned to hyper to drop a connection without an answer.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

async fn respond(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<EmuBody>, DropConnection> {
    let reply = route(shared, req).await;
    if reply.delivery == Delivery::Reset {
        return Err(DropConnection);
    }
    let mut builder = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if reply.body.is_empty() {
        builder = builder.header("Content-Length", "0");
    }
    let body = match reply.delivery {
        Delivery::Truncated => EmuBody::truncated(reply.body),
        _ => EmuBody::full(reply.body),
    };
    builder.body(body).map_err(|_| DropConnection)
}

async fn route(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let limit = shared.lock().settings.max_request_bytes;
    let body = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Reply::new(
                413,
                "text/plain; charset=utf-8",
                format!("The request body is larger than {limit} bytes."),
            );
        }
    };
    let path = parts.uri.path().to_string();
    let lower = path.to_ascii_lowercase();
    if lower == "/ews/exchange.asmx" {
        return crate::ews::handle(shared, &parts, body).await;
    }
    if path == "/admin" || path.starts_with("/admin/") {
        return crate::admin::handle(shared, &parts.method, &path, parts.uri.query(), body).await;
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let [tenant, "oauth2", "v2.0", "token"] = segments.as_slice() {
        let tenant = crate::util::percent_decode(tenant.as_bytes());
        return crate::oauth::handle(shared, &parts, &tenant, body).await;
    }
    Reply::new(
        404,
        "text/plain; charset=utf-8",
        format!(
            "No such endpoint: {path}. The emulator serves /{{tenant}}/oauth2/v2.0/token, /EWS/Exchange.asmx and /admin/..."
        ),
    )
}

/// A running emulator. Dropping it stops the server.
pub struct RunningEmulator {
    shared: Arc<Shared>,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token endpoint of a tenant (id or domain).
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url)
    }

    /// The EWS endpoint.
    pub fn ews_url(&self) -> String {
        format!("{}/EWS/Exchange.asmx", self.base_url)
    }

    /// The EWS resource a client derives from [`Self::ews_url`]'s host:
    /// `https://127.0.0.1:PORT`.
    pub fn ews_resource(&self) -> String {
        format!("https://{}", self.shared.authority())
    }

    /// The shared state (for calendar helpers and advanced tests).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Runs `f` on the locked state.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.shared.lock())
    }

    /// Sets the org-level `EWSEnabled` of a tenant (`None` = `$null`).
    pub fn set_org_ews_enabled(&self, tenant: &str, enabled: Option<bool>) -> anyhow::Result<()> {
        self.with_state(|s| {
            let t = s
                .directory
                .tenant_mut(tenant)
                .ok_or_else(|| anyhow::anyhow!("no tenant '{tenant}'"))?;
            t.ews_enabled = enabled;
            Ok(())
        })
    }

    /// Sets `EWSAllowedAppIDs` of a tenant (`None` = no list).
    pub fn set_ews_allowed_app_ids(
        &self,
        tenant: &str,
        apps: Option<Vec<String>>,
    ) -> anyhow::Result<()> {
        self.with_state(|s| {
            let t = s
                .directory
                .tenant_mut(tenant)
                .ok_or_else(|| anyhow::anyhow!("no tenant '{tenant}'"))?;
            t.ews_allowed_app_ids = apps;
            Ok(())
        })
    }

    /// Sets the mailbox-level `EWSEnabled` (`None` = `$null`).
    pub fn set_mailbox_ews_enabled(
        &self,
        address: &str,
        enabled: Option<bool>,
    ) -> anyhow::Result<()> {
        self.update_mailbox(address, |m| m.ews_enabled = enabled)
    }

    /// Changes a mailbox in place.
    pub fn update_mailbox(
        &self,
        address: &str,
        f: impl FnOnce(&mut Mailbox),
    ) -> anyhow::Result<()> {
        self.with_state(|s| {
            let m = s
                .directory
                .mailbox_mut(address)
                .ok_or_else(|| anyhow::anyhow!("no mailbox with primary address '{address}'"))?;
            f(m);
            Ok(())
        })
    }

    /// Adds or replaces a mailbox.
    pub fn upsert_mailbox(&self, mailbox: Mailbox) -> anyhow::Result<()> {
        self.with_state(|s| {
            s.directory
                .upsert_mailbox(mailbox)
                .map_err(anyhow::Error::msg)
        })
    }

    /// Adds or replaces an app.
    pub fn upsert_app(&self, app: App) -> anyhow::Result<()> {
        self.with_state(|s| crate::admin::upsert_app(s, app).map_err(anyhow::Error::from))
    }

    /// Adds an application access policy.
    pub fn add_policy(&self, policy: AccessPolicy) -> anyhow::Result<()> {
        self.with_state(|s| crate::admin::add_policy(s, policy).map_err(anyhow::Error::from))
    }

    /// Removes every application access policy.
    pub fn clear_policies(&self) {
        self.with_state(|s| s.directory.access_policies.clear());
    }

    /// Sets a folder permission (replacing that user's entry on that folder).
    pub fn set_folder_permission(&self, permission: FolderPermission) -> anyhow::Result<()> {
        self.with_state(|s| {
            s.directory
                .set_folder_permission(permission)
                .map_err(anyhow::Error::msg)
        })
    }

    /// Changes settings in place.
    pub fn update_settings(&self, f: impl FnOnce(&mut Settings)) {
        self.with_state(|s| f(&mut s.settings));
    }

    /// Injects a fault; returns its id.
    pub fn inject_fault(&self, fault: FaultSpec) -> u64 {
        self.with_state(|s| s.faults.add(fault))
    }

    /// Removes all injected faults.
    pub fn clear_faults(&self) {
        self.with_state(|s| s.faults.clear());
    }

    /// Moves the emulator clock.
    pub fn advance_clock(&self, by: SignedDuration) {
        self.shared.clock.advance(by);
    }

    /// The emulator's current time.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.clock.now()
    }

    /// Request-log entries matching a filter.
    pub fn request_log(&self, filter: &LogFilter) -> Vec<LogEntry> {
        self.with_state(|s| s.log.query(filter))
    }

    /// Clears the request log.
    pub fn clear_request_log(&self) {
        self.with_state(|s| s.log.clear());
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
