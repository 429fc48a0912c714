//! A tenant: its directory, validated settings, ROOMS database, certificate
//! store and token cache, and the runs made on its behalf.
//!
//! A tenant is a directory holding `RoomsAppSettings.config`, `rooms.db`
//! (created on first use) and `certs/`. [`Tenant::open`] validates the
//! settings once; every call into the component then gets a fresh store
//! ([`Tenant::check`] makes one per person), sandboxed to this tenant: its
//! own secrets, its own HTTP allowlist, its own memory cap and deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::bindings::{SyncError, types};
use crate::capabilities::token_cache::TokenCache;
use crate::certs::CertStore;
use crate::http_policy::{HttpLimits, HttpPolicy};
use crate::log::{Level, LogSink};
use crate::rooms_db::{DbError, Person, RoomsDb};
use crate::runtime::Runtime;
use crate::settings::{EnvSource, SettingsErrors, TenantInputs, TenantSettings};
use crate::state::TenantState;

/// The settings file of a tenant directory.
pub const SETTINGS_FILE: &str = "RoomsAppSettings.config";
/// The ROOMS database of a tenant directory.
pub const DATABASE_FILE: &str = "rooms.db";
/// The certificate store of a tenant directory.
pub const CERTS_DIR: &str = "certs";

/// Why a tenant could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The directory does not exist.
    #[error(
        "tenant directory {0} does not exist; create it and put RoomsAppSettings.config into it"
    )]
    NoDirectory(PathBuf),
    /// The settings are invalid; every problem is listed.
    #[error("{0}")]
    Settings(SettingsErrors),
    /// The ROOMS database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The long-lived data of one tenant, shared by all its calls.
pub struct Tenant {
    name: String,
    dir: PathBuf,
    settings: TenantSettings,
    public_config: BTreeMap<String, String>,
    env: Arc<dyn EnvSource + Send + Sync>,
    inputs: TenantInputs,
    db: RoomsDb,
    certs: OnceLock<CertStore>,
    tokens: TokenCache,
    log: LogSink,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The outcome of one check of one person, as the CLI shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckReport {
    /// `sign-in`, `calendar-access`, ...
    pub name: String,
    /// Green or red.
    pub ok: bool,
    /// What was found.
    pub message: String,
    /// What to change; none when green.
    pub fix: Option<String>,
}

/// All checks of one person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonReport {
    /// The person's address.
    pub email: String,
    /// The checks, in order.
    pub checks: Vec<CheckReport>,
}

impl PersonReport {
    /// True when every check is green.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Opens the ROOMS database of a tenant directory without reading its
/// settings (the person commands need no credentials).
pub fn open_database(dir: &Path) -> Result<RoomsDb, TenantError> {
    if !dir.is_dir() {
        return Err(TenantError::NoDirectory(dir.to_path_buf()));
    }
    Ok(RoomsDb::open(&dir.join(DATABASE_FILE))?)
}

impl Tenant {
    /// Reads and validates the settings of `dir`, with `env` overriding keys
    /// and holding `env:` secrets as far as the operator's `inputs` allow,
    /// and opens (or creates) its database.
    pub fn open(
        dir: &Path,
        env: Arc<dyn EnvSource + Send + Sync>,
        inputs: TenantInputs,
        log: LogSink,
    ) -> Result<Arc<Tenant>, TenantError> {
        let db = open_database(dir)?;
        let settings =
            TenantSettings::load(dir, env.as_ref(), &inputs).map_err(TenantError::Settings)?;
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        let log = log.with_context(format_args!("tenant={name}"));
        for warning in settings.warnings() {
            log.write(Level::Warn, &warning.to_string());
        }
        Ok(Arc::new(Tenant {
            public_config: settings.public_config().into_iter().collect(),
            name,
            dir: dir.to_path_buf(),
            settings,
            env,
            inputs,
            db,
            certs: OnceLock::new(),
            tokens: TokenCache::default(),
            log,
        }))
    }

    /// The directory name, used in log lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The validated settings.
    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    /// The non-secret settings the component may read.
    pub fn public_config(&self) -> &BTreeMap<String, String> {
        &self.public_config
    }

    /// Where environment overrides and `env:` secrets come from.
    pub fn env(&self) -> &dyn EnvSource {
        self.env.as_ref()
    }

    /// The operator's choices of where settings and secrets may come from.
    pub fn inputs(&self) -> &TenantInputs {
        &self.inputs
    }

    /// The ROOMS database.
    pub fn db(&self) -> &RoomsDb {
        &self.db
    }

    /// The tenant's log.
    pub fn log(&self) -> &LogSink {
        &self.log
    }

    /// The token cache of the component.
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// The certificate store, loaded on first use (`.pfx` files are opened
    /// with the `ExchangeCertPassword` secret).
    pub fn certificates(&self) -> &CertStore {
        self.certs.get_or_init(|| {
            let password = self
                .settings
                .secret("ExchangeCertPassword")
                .map(|r| r.resolve(&self.inputs.secrets, self.env.as_ref(), &self.dir));
            let password = match password {
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    self.log
                        .write(Level::Warn, &format!("ExchangeCertPassword: {e}"));
                    None
                }
                None => None,
            };
            let store = CertStore::load(&self.dir.join(CERTS_DIR), password.as_ref());
            for problem in store.problems() {
                self.log.write(Level::Warn, &problem.to_string());
            }
            store
        })
    }

    /// The HTTP policy of a run for `person`: the authority and the person's
    /// Sync-URL. A URL that the scheme rule refuses is left out (and
    /// logged), so the component meets the refusal as `HTTP-request-denied`
    /// and reports it in the check.
    pub fn http_policy(&self, person: &Person, limits: HttpLimits) -> HttpPolicy {
        let mut policy = HttpPolicy::new(self.settings.allow_insecure_loopback(), limits);
        for url in [self.settings.authority_url(), person.sync_url.as_str()] {
            if let Err(e) = policy.allow(url) {
                self.log
                    .write(Level::Warn, &format!("{}: {e}", person.email));
            }
        }
        policy
    }

    /// Runs the sync test of every person (or of `only`), each in a fresh
    /// sandboxed instance. A trap or host error becomes a red check of that
    /// person; the others still run.
    pub async fn check(
        self: &Arc<Self>,
        runtime: &Runtime,
        only: Option<&str>,
    ) -> Result<Vec<PersonReport>, TenantError> {
        let persons = match only {
            Some(email) => match self.db.get_person(email)? {
                Some(p) => vec![p],
                None => {
                    return Ok(vec![PersonReport {
                        email: email.to_string(),
                        checks: vec![CheckReport {
                            name: "person".into(),
                            ok: false,
                            message: format!("{email} is not a person of this tenant"),
                            fix: Some(format!(
                                "add it with `rooms-sync --tenant {} person add {email} --mode O365` (or O365Pull), using the mailbox's primary SMTP address",
                                self.dir.display()
                            )),
                        }],
                    }]);
                }
            },
            None => self.db.list_persons()?,
        };
        let mut reports = Vec::with_capacity(persons.len());
        for person in &persons {
            reports.push(self.check_person(runtime, person).await);
        }
        Ok(reports)
    }

    async fn check_person(self: &Arc<Self>, runtime: &Runtime, person: &Person) -> PersonReport {
        let policy = Arc::new(self.http_policy(person, runtime.limits().http));
        let state = TenantState::new(self.clone(), policy, runtime.store_limits());
        let mut store = runtime.new_store(state);
        let outcome = async {
            let plugin = runtime.instantiate(&mut store).await?;
            plugin
                .rooms_exchange_sync_sync()
                .call_check_person(&mut store, &person.email)
                .await
        }
        .await;
        let checks = match outcome {
            Ok(Ok(checks)) => checks
                .into_iter()
                .map(|c| CheckReport {
                    name: c.name,
                    ok: c.ok,
                    message: c.message,
                    fix: c.fix,
                })
                .collect(),
            Ok(Err(error)) => vec![error_check(&error)],
            Err(trap) => {
                let (message, fix) = describe_trap(&trap, runtime);
                self.log
                    .write(Level::Error, &format!("{}: {message}", person.email));
                vec![CheckReport {
                    name: "component".into(),
                    ok: false,
                    message,
                    fix: Some(fix),
                }]
            }
        };
        PersonReport {
            email: person.email.clone(),
            checks,
        }
    }
}

/// A red check for an error the component returned instead of checks.
fn error_check(error: &SyncError) -> CheckReport {
    let (message, fix) = match error {
        SyncError::UnknownPerson(email) => (
            format!("the component does not know {email}"),
            "add the person with `rooms-sync person add`".to_string(),
        ),
        SyncError::Configuration(types::ConfigProblem { key, problem }) => (
            format!("setting {key}: {problem}"),
            format!("correct {key} in RoomsAppSettings.config"),
        ),
        other => (
            format!("the sync test could not start: {other:?}"),
            "see the log for details".to_string(),
        ),
    };
    CheckReport {
        name: "sync-test".into(),
        ok: false,
        message,
        fix: Some(fix),
    }
}

/// The operator's view of a trap or host failure during a call.
fn describe_trap(error: &wasmtime::Error, runtime: &Runtime) -> (String, String) {
    let limits = runtime.limits();
    if error.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return (
            format!(
                "the sync component was stopped after its deadline of {} s",
                limits.call_deadline.as_secs_f64()
            ),
            "raise the deadline with --call-timeout-secs if Exchange is slow; otherwise report this as a bug".into(),
        );
    }
    let text = format!("{error:#}");
    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
        return (
            format!(
                "the sync component exceeded its memory cap of {} MiB",
                limits.memory_bytes >> 20
            ),
            "raise the cap with --memory-limit-mib; if it keeps growing, report this as a bug"
                .into(),
        );
    }
    (
        format!("the sync component failed: {text}"),
        "this is a bug in rooms-sync or a damaged component file: rebuild the component (`make guest`) and report it if it persists".into(),
    )
}
