//! A tenant: its directory, validated settings, ROOMS database, certificate
//! store, token cache and HTTP policy: the long-lived data that every call
//! made on the tenant's behalf shares.
//!
//! A tenant is a directory holding `RoomsAppSettings.config`, `rooms.db`
//! (created on first use) and `certs/`. [`Tenant::open`] validates the
//! settings once. The calls into the component live in [`crate::calls`];
//! this module knows nothing of the runtime, so the data of a tenant can be
//! shared by the store ([`crate::state`]) without an import circle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::certs::CertStore;
use crate::files;
use crate::http_policy::{ConnectionPool, HttpLimits, HttpPolicy};
use crate::log::{Level, LogSink};
use crate::rooms_db::{DbError, Person, RoomsDb};
use crate::settings::{EnvSource, SettingsErrors, TenantInputs, TenantSettings};
use crate::tokens::TokenCache;

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
    /// A file of the tenant directory is not a regular file.
    #[error(transparent)]
    File(files::FileError),
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
    pool: Arc<ConnectionPool>,
    log: LogSink,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Opens the ROOMS database of a tenant directory without reading its
/// settings (the person commands need no credentials).
pub fn open_database(dir: &Path) -> Result<RoomsDb, TenantError> {
    if !dir.is_dir() {
        return Err(TenantError::NoDirectory(dir.to_path_buf()));
    }
    let path = dir.join(DATABASE_FILE);
    // SQLite would wait forever on a FIFO: only a regular file (or none, to
    // be created) is opened.
    match files::open_regular(&path, files::Symlinks::Follow) {
        Ok(_) | Err(files::FileError::NotFound { .. }) => {}
        Err(e) => return Err(TenantError::File(e)),
    }
    Ok(RoomsDb::open(&path)?)
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
            pool: ConnectionPool::new(),
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
        self.run_policy(std::slice::from_ref(person), limits)
    }

    /// The HTTP policy of a run for `persons`: the authority and each
    /// person's Sync-URL (all of them belong to this tenant, the isolation
    /// boundary). One policy per run lets the tenant's pooled connections
    /// serve every person of the run.
    pub fn run_policy(&self, persons: &[Person], limits: HttpLimits) -> HttpPolicy {
        let mut policy = HttpPolicy::new(self.settings.allow_insecure_loopback(), limits)
            .with_private_networks(self.settings.allow_private_networks());
        if let Err(e) = policy.allow(self.settings.authority_url()) {
            self.log
                .write(Level::Warn, &format!("ExchangeAuthorityUrl: {e}"));
        }
        for person in persons {
            if let Err(e) = policy.allow(&person.sync_url) {
                self.log
                    .write(Level::Warn, &format!("{}: {e}", person.email));
            }
        }
        policy
    }

    /// The tenant's keep-alive connections, shared by every store of its
    /// calls and never by another tenant.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }
}
