//! `rooms-sync serve`: the long-running sync service of every tenant under a
//! directory, with O365 push and O365Pull pull subscriptions.
//!
//! ```text
//! rooms-sync [global options] serve --tenants DIR [--listen ADDR] [--public-url URL]
//!                                   [--log-format text|json] [--rescan-secs N]
//!                                   [--webhook-rate N] [--webhook-burst N]
//! ```
//!
//! Once it listens (`--listen`, default `127.0.0.1:8080`; port 0 lets the
//! system pick), the service prints exactly one line to standard output,
//! `listening on http://ADDR`, and logs to standard error from then on.
//!
//! # Layout
//!
//! - this file: options, the start ([`serve`]), the tenant registry and its
//!   rescan every `--rescan-secs` (2 s), the shutdown;
//! - [`tenants`]: scanning DIR and telling what changed;
//! - [`scheduler`]: one running tenant: sync workers, the ROOMS-side
//!   watcher, the webhook worker;
//! - [`sync_queue`]: the coalescing per-tenant queue with its back-off;
//! - [`pull`]: keeping subscriptions (both modes) and the `GetEvents` sweeps;
//! - [`push`]: the callback URL and the renewal of push subscriptions;
//! - [`webhook`]: the HTTP server: webhook, `/healthz`, `/metrics`;
//! - [`metrics`]: the Prometheus families;
//! - [`shutdown`]: SIGTERM and SIGINT.
//!
//! # Tenants
//!
//! Every subdirectory of DIR with a `RoomsAppSettings.config` or
//! `appsettings.json` is a tenant named after the directory, opened like
//! `--tenant` for the other commands (the same `--secrets-dir`,
//! `--secret-env-prefix`, `--env-overrides`). One engine and precompiled
//! component serve all tenants; each tenant has its own component
//! instances, memory cap, HTTP policy and connection pool, and never shares
//! an instance. A tenant that cannot be opened (bad settings) is kept as
//! *broken* with its error (logged once per change, in `/healthz` and in
//! `rooms_sync_tenants{state="broken"}`); the others run. DIR is scanned
//! again every `--rescan-secs`: a new directory starts, a removed one stops,
//! a changed settings file restarts its tenant (after the old one stopped),
//! and a broken tenant fixed on disk starts. Persons added to a running
//! tenant's `rooms.db` are picked up within seconds.
//!
//! What each tenant runs is in [`scheduler`] and [`pull`]; the settings it
//! reads keep their original names and defaults (`IntervallTaskInSeconds`,
//! `BatchGetEventsSize`, `FailedGetEventsTillDeactivate`, ...). Tokens: the
//! component signs in for every poll and sync and renews its token
//! `OAuthTokenMinutesBeforeRenew` minutes before it expires (it keeps tokens
//! in the host's token cache between calls), so a running service never
//! uses an expiring token.
//!
//! # Stopping
//!
//! On SIGTERM or SIGINT the service closes its listener (`/healthz` answers
//! 503 on open connections meanwhile), stops scheduling, lets every call in
//! flight finish (each bounded by `--call-timeout-secs`, a batch by its
//! batch timeout) and store what it returned, answers the webhook posts it
//! had accepted, logs `stopped` and exits 0. A restart resumes from the
//! stored subscriptions and watermarks, and each person's first sync
//! covers whatever happened in between; a SIGKILL loses nothing either,
//! since every result is stored as it comes.
//!
//! # Test knob
//!
//! `ROOMS_SYNC_TEST_MINUTE_MS=<n>` (environment, not in `--help`) makes
//! every minute-based interval the service measures itself last `n`
//! milliseconds per minute: `IntervallSubscribeInMinutes`,
//! `RenewalThresholdMinutes`, the heartbeats-stopped limit (twice
//! `StatusFrequencyMinutes` plus one), and the age after which a pull
//! subscription counts as expired (`SubscriptionTimeoutInMinutes`). The
//! minutes passed to Exchange in `Subscribe` stay minutes.
//! `IntervallTaskInSeconds` is always real seconds (tests set it to 1).

pub mod metrics;
pub mod pull;
pub mod push;
pub mod scheduler;
pub mod shutdown;
pub mod sync_queue;
pub mod tenants;
pub mod webhook;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::log::{Level, LogSink};
use crate::runtime::{ComponentLoad, Runtime, RuntimeOptions};
use crate::settings::{EnvSource, TenantInputs};
use crate::tenant::Tenant;

use metrics::Metrics;
use scheduler::TenantService;
use tenants::{Change, Fingerprint};

/// The environment variable of the test knob (see the module documentation).
pub const TEST_MINUTE_VAR: &str = "ROOMS_SYNC_TEST_MINUTE_MS";

/// The default `--listen` address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The default rescan interval of the tenants directory.
pub const DEFAULT_RESCAN: Duration = Duration::from_secs(2);

/// What `serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--tenants DIR`.
    pub tenants: PathBuf,
    /// `--listen ADDR`.
    pub listen: String,
    /// `--public-url URL`: the service as Exchange reaches it.
    pub public_url: Option<String>,
    /// How often DIR is scanned.
    pub rescan: Duration,
    /// Where settings and secrets may come from.
    pub inputs: TenantInputs,
    /// The component and the limits of every call.
    pub runtime: RuntimeOptions,
    /// `--webhook-rate`: webhook posts per second allowed from one peer
    /// address.
    pub webhook_rate: f64,
    /// `--webhook-burst`: webhook posts one peer address may send at once.
    pub webhook_burst: f64,
}

/// What every tenant of the process shares.
pub(crate) struct Context {
    pub runtime: &'static Runtime,
    pub metrics: Arc<Metrics>,
    pub public_url: Option<String>,
    pub minute: Duration,
    pub log: LogSink,
    pub env: Arc<dyn EnvSource + Send + Sync>,
    pub inputs: TenantInputs,
}

/// A tenant directory as the service holds it.
pub(crate) enum Slot {
    /// Running.
    Running(Rc<TenantService>),
    /// Could not be opened; the error.
    Broken(String),
}

/// One tenant directory: its settings' fingerprint and state.
pub(crate) struct Entry {
    pub fingerprint: Fingerprint,
    pub slot: Slot,
}

/// The tenants of the service, by name.
#[derive(Default)]
pub(crate) struct Registry {
    pub slots: RefCell<BTreeMap<String, Entry>>,
    pub stopping: Cell<bool>,
}

/// The length of a minute: 60 s, or `ROOMS_SYNC_TEST_MINUTE_MS`.
pub fn minute(env: &dyn EnvSource) -> anyhow::Result<Duration> {
    match env.var(TEST_MINUTE_VAR) {
        None => Ok(Duration::from_secs(60)),
        Some(value) => match value.trim().parse::<u64>() {
            Ok(ms) if (1..=60_000).contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => bail!(
                "{TEST_MINUTE_VAR} must be a number of milliseconds from 1 to 60000 (it is a test knob; unset it in production)"
            ),
        },
    }
}

/// Checks `--public-url`: an absolute http(s) URL without query or
/// fragment; returned without a trailing slash.
pub fn public_url(url: &str) -> anyhow::Result<String> {
    let fix = "give the service's address as Exchange reaches it, e.g. --public-url https://rooms.example.com (the webhook is then https://rooms.example.com/api/webhooks/exchange/<tenant>)";
    let uri: http::Uri = match url.parse() {
        Ok(uri) => uri,
        Err(_) => bail!("--public-url is not a URL; {fix}"),
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        bail!("--public-url must be an absolute http or https URL; {fix}");
    }
    if url.contains(['?', '#']) {
        bail!("--public-url must not have a query or fragment; {fix}");
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Runs the service until SIGTERM or SIGINT; returns the exit code (0 after
/// a clean stop). Bad options, a missing DIR, a component that cannot be
/// loaded or an address that cannot be bound are an `Err` before anything
/// runs.
pub async fn serve(
    options: ServeOptions,
    env: Arc<dyn EnvSource + Send + Sync>,
    log: LogSink,
    out: &mut dyn Write,
) -> anyhow::Result<i32> {
    if !options.tenants.is_dir() {
        bail!(
            "--tenants {}: not a directory; create it with one directory per tenant inside (each with RoomsAppSettings.config or appsettings.json)",
            options.tenants.display()
        );
    }
    let public = options.public_url.as_deref().map(public_url).transpose()?;
    let minute = minute(env.as_ref())?;
    let runtime = Runtime::new(&options.runtime)?;
    let how = match runtime.component_load() {
        ComponentLoad::Compiled(took) => format!("compiled in {took:?}"),
        ComponentLoad::Cached(took) => format!("loaded precompiled in {took:?}"),
    };
    log.write(
        Level::Debug,
        &format!("component {}: {how}", options.runtime.component.display()),
    );
    for note in runtime.cache_notes() {
        log.write(Level::Warn, note);
    }
    // One runtime for the life of the process, shared by every tenant's
    // tasks (which the LocalSet requires to be 'static).
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    let mut signals = shutdown::Signals::install().context("cannot install the signal handlers")?;
    let listener = TcpListener::bind(&options.listen).await.with_context(|| {
        format!(
            "cannot listen on {}; choose another address with --listen (port 0 lets the system pick one)",
            options.listen
        )
    })?;
    let address = listener.local_addr()?;
    writeln!(out, "listening on http://{address}")?;
    out.flush()?;
    log.write(Level::Info, &format!("listening on http://{address}"));
    if public.is_none() {
        log.write(
            Level::Info,
            "no --public-url: push subscriptions use ExchangePushNotificationEndpointUrl of each tenant, if set",
        );
    }

    let ctx = Rc::new(Context {
        runtime,
        metrics: Arc::new(Metrics::new()),
        public_url: public,
        minute,
        log: log.clone(),
        env,
        inputs: options.inputs.clone(),
    });
    let registry = Rc::new(Registry::default());
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let (stop_tx, stop_rx) = watch::channel(false);
            let http = Rc::new(webhook::Http {
                registry: registry.clone(),
                metrics: ctx.metrics.clone(),
                log: log.clone(),
                reply_bound: runtime.limits().call_deadline + Duration::from_secs(5),
                limiter: RefCell::new(webhook::RateLimiter::new(
                    options.webhook_rate,
                    options.webhook_burst,
                )),
            });
            let accept = tokio::task::spawn_local(webhook::accept_loop(listener, http, stop_rx));
            let mut scan_error = None;
            let signal = loop {
                rescan(&registry, &ctx, &options.tenants, &mut scan_error);
                tokio::select! {
                    _ = tokio::time::sleep(options.rescan) => {}
                    name = signals.recv() => break name,
                }
            };
            log.write(
                Level::Info,
                &format!("{signal}: stopping (calls in flight finish first)"),
            );
            registry.stopping.set(true);
            stop_tx.send_replace(true);
            let _ = accept.await;
            let running: Vec<Rc<TenantService>> = registry
                .slots
                .borrow()
                .values()
                .filter_map(|e| match &e.slot {
                    Slot::Running(s) => Some(s.clone()),
                    Slot::Broken(_) => None,
                })
                .collect();
            for service in &running {
                service.stop();
            }
            futures_util::future::join_all(running.iter().map(|s| s.stopped())).await;
        })
        .await;
    log.write(Level::Info, "stopped");
    Ok(0)
}

/// Scans DIR and applies what changed.
fn rescan(
    registry: &Rc<Registry>,
    ctx: &Rc<Context>,
    root: &Path,
    scan_error: &mut Option<String>,
) {
    let found = match tenants::scan(root) {
        Ok(found) => {
            *scan_error = None;
            found
        }
        Err(e) => {
            let message = format!("cannot read --tenants {}: {e}", root.display());
            if scan_error.as_deref() != Some(&message) {
                ctx.log.write(Level::Error, &message);
                *scan_error = Some(message);
            }
            return;
        }
    };
    let old: BTreeMap<String, Fingerprint> = registry
        .slots
        .borrow()
        .iter()
        .map(|(name, entry)| (name.clone(), entry.fingerprint.clone()))
        .collect();
    let changes = tenants::diff(&old, &found);
    if changes.is_empty() {
        return;
    }
    for change in changes {
        let (name, changed) = match change {
            Change::Removed(name) => {
                let entry = registry.slots.borrow_mut().remove(&name);
                ctx.metrics.forget_tenant(&name);
                if let Some(Entry {
                    slot: Slot::Running(service),
                    ..
                }) = entry
                {
                    service.stop();
                    // Its last calls may still count: forget its series once
                    // it has stopped, unless the directory is back by then.
                    let (registry, ctx, name) = (registry.clone(), ctx.clone(), name.clone());
                    tokio::task::spawn_local(async move {
                        service.stopped().await;
                        if !registry.slots.borrow().contains_key(&name) {
                            ctx.metrics.forget_tenant(&name);
                        }
                    });
                }
                ctx.log
                    .with_field("tenant", &name)
                    .write(Level::Info, "tenant directory removed: stopping");
                continue;
            }
            Change::Added(name) => (name, false),
            Change::Changed(name) => (name, true),
        };
        let Some(found) = found.get(&name) else {
            continue;
        };
        let previous = match registry.slots.borrow_mut().remove(&name) {
            Some(Entry {
                slot: Slot::Running(service),
                ..
            }) => {
                service.stop();
                Some(service)
            }
            _ => None,
        };
        let log = ctx.log.with_field("tenant", &name);
        // Every line of the tenant that names one of its persons carries it.
        let persons = crate::log::PersonIndex::new();
        let tenant_log = ctx.log.with_person_index(persons.clone());
        let slot = match Tenant::open(&found.dir, ctx.env.clone(), ctx.inputs.clone(), tenant_log) {
            Ok(tenant) => {
                log.write(
                    Level::Info,
                    if changed {
                        "settings changed: restarting the tenant"
                    } else {
                        "tenant found: starting"
                    },
                );
                Slot::Running(TenantService::start(
                    name.clone(),
                    tenant,
                    ctx.clone(),
                    persons,
                    previous,
                ))
            }
            Err(e) => {
                let error = e.to_string();
                log.write(
                    Level::Error,
                    &format!("cannot start the tenant (the others keep running): {error}"),
                );
                ctx.metrics.forget_tenant(&name);
                Slot::Broken(error)
            }
        };
        registry.slots.borrow_mut().insert(
            name,
            Entry {
                fingerprint: found.fingerprint.clone(),
                slot,
            },
        );
    }
    let (running, broken) =
        registry
            .slots
            .borrow()
            .values()
            .fold((0, 0), |(r, b), e| match e.slot {
                Slot::Running(_) => (r + 1, b),
                Slot::Broken(_) => (r, b + 1),
            });
    ctx.metrics.set_tenants(running, broken);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(value: &str) -> HashMap<String, String> {
        HashMap::from([(TEST_MINUTE_VAR.to_string(), value.to_string())])
    }

    #[test]
    fn the_minute_knob_is_checked() {
        assert_eq!(
            minute(&HashMap::<String, String>::new()).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(minute(&env("25")).unwrap(), Duration::from_millis(25));
        for bad in ["0", "x", "60001", "-1"] {
            let e = minute(&env(bad)).unwrap_err().to_string();
            assert!(
                e.contains(TEST_MINUTE_VAR) && e.contains("1 to 60000"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_public_url_must_be_absolute_http() {
        assert_eq!(
            public_url("https://rooms.example.com/").unwrap(),
            "https://rooms.example.com"
        );
        assert_eq!(
            public_url("http://127.0.0.1:8080/sync").unwrap(),
            "http://127.0.0.1:8080/sync"
        );
        for bad in [
            "rooms.example.com",
            "ftp://x",
            "/path",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            let e = public_url(bad).unwrap_err().to_string();
            assert!(e.contains("--public-url"), "{bad}: {e}");
        }
    }
}
