//! Settings of a tenant: the original `RoomsAppSettings.config` keys, validated.
//!
//! Reading happens in two steps, raw then validated:
//! - [`AppSettings`] (`app_settings.rs`) reads `<add key value/>` entries with their positions;
//!   `json.rs` maps the newer `appsettings.json` (`CalendarSync:Ews`) onto the same keys;
//! - [`TenantSettings::from_raw`] applies environment overrides (when the operator turns them
//!   on) and defaults, checks every value, and collects *all* problems into [`SettingsErrors`].
//!
//! Decisions, so that existing files load unchanged:
//! - Keys keep the original spelling (`BatchGetEventsTimeoutInMiliseconds`,
//!   `IntervallTaskInSeconds`) and match case-insensitively, as .NET's `appSettings` does.
//! - With `--env-overrides` ([`TenantInputs::env_overrides`]), an environment variable named
//!   exactly like a key (`ExchangeClientSecret`) overrides the file, also when the key is absent
//!   from it. It is off by default: the environment is the process's, so an override applies to
//!   every tenant the process serves. An empty value (in the file or the environment) counts as
//!   not set, so an empty variable switches a file value off.
//! - A duplicate key: the last one wins, as in .NET, with a warning.
//! - `ExchangeTenantId` must be the tenant's GUID, not a domain name: the GUID is what tokens and
//!   domain overrides carry.
//! - Secret settings (`ExchangeClientSecret`, `ExchangeServicePassword`,
//!   `ExchangeCertPassword`) may be literal, `env:NAME` or `file:PATH` (see [`crate::secrets`]);
//!   they are never part of [`TenantSettings::public_config`], never in messages. A reference
//!   the operator's [`SecretScope`] refuses (a variable without an allowed prefix, a file outside
//!   the tenant directory and the allowed directories) is a settings error.
//! - No message quotes a rejected value, of any key: a secret pasted into the wrong key must not
//!   be printed. Messages say what shape was expected and how long the value is.
//! - Unknown keys are ignored, as before, but those starting with `Exchange` (or one typo away
//!   from a known key) get a warning that names the nearest known key.

mod app_settings;
mod error;
mod json;
pub mod keys;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

// The environment lives in `crate::env`; these names stay for existing callers.
pub use crate::env::{EnvSource, ProcessEnv};
pub use app_settings::{AppSettings, Entry};
pub use error::{
    ErrorKind, Finding, Origin, SettingsError, SettingsErrors, SettingsWarning, WarningKind,
};

use crate::certs::thumbprint::normalize_thumbprint;
use crate::secrets::{SecretError, SecretRef, SecretScope};
use values::{Invalid, UrlShape};

/// The settings file of the original product, in the tenant directory.
pub const SETTINGS_FILE: &str = "RoomsAppSettings.config";

/// The settings file of newer ROOMS releases, in the tenant directory.
pub const JSON_SETTINGS_FILE: &str = "appsettings.json";

/// The operator's choices about where the settings and secrets of a tenant may come from: the
/// same for every tenant of the process, made with command-line flags. The default is the
/// narrowest: no environment overrides, `file:` secrets inside the tenant directory only, no
/// `env:` secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantInputs {
    /// Where `env:` and `file:` secrets may be read (`--secret-env-prefix`, `--secrets-dir`).
    pub secrets: SecretScope,
    /// Whether an environment variable named like a key overrides the settings
    /// (`--env-overrides`).
    pub env_overrides: bool,
}

/// How the sync signs in to Entra ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// App-only with a client secret (`ExchangeClientSecret`).
    ClientSecret(SecretRef),
    /// App-only with a certificate from the tenant's `certs/` folder (`ExchangeCertThumbprint`).
    Certificate {
        /// The SHA-1 thumbprint: 40 upper-case hexadecimal digits.
        thumbprint: String,
    },
    /// A service user with user name and password (`ExchangeUseImpersonation=false`).
    Delegated {
        /// `ExchangeServiceUser`, a user principal name.
        user: String,
        /// `ExchangeServicePassword`.
        password: SecretRef,
    },
}

/// The pull-subscription and timing settings, in the units of their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `OAuthTokenMinutesBeforeRenew` (20).
    pub oauth_token_minutes_before_renew: u32,
    /// `BatchGetEventsSize` (100).
    pub batch_get_events_size: u32,
    /// `BatchGetEventsSleepBetweenBatchesInMiliseconds` (0).
    pub batch_get_events_sleep_between_batches_ms: u32,
    /// `BatchGetEventsTimeoutInMiliseconds` (100000).
    pub batch_get_events_timeout_ms: u32,
    /// `BatchSubscribeSize` (100).
    pub batch_subscribe_size: u32,
    /// `BatchSubscribeTimeoutInMiliseconds` (10000).
    pub batch_subscribe_timeout_ms: u32,
    /// `FailedGetEventsTillDeactivate` (10).
    pub failed_get_events_till_deactivate: u32,
    /// `FailedSubscribeTillDeactivate` (10).
    pub failed_subscribe_till_deactivate: u32,
    /// `IntervallSubscribeInMinutes` (20).
    pub intervall_subscribe_minutes: u32,
    /// `IntervallTaskInSeconds` (30).
    pub intervall_task_seconds: u32,
    /// `SubscriptionTimeoutInMinutes` (720).
    pub subscription_timeout_minutes: u32,
    /// `RenewalThresholdMinutes` (40, from `appsettings.json`).
    pub renewal_threshold_minutes: u32,
    /// `StatusFrequencyMinutes` (30, from `appsettings.json`).
    pub status_frequency_minutes: u32,
    /// `SyncGetItemBatchSize` (100).
    pub sync_get_item_batch_size: u32,
    /// `SyncRollbackAttempts` (5).
    pub sync_rollback_attempts: u32,
    /// `SyncCancelAttempts` (2).
    pub sync_cancel_attempts: u32,
    /// `SyncRetryMaxSeconds` (300).
    pub sync_retry_max_seconds: u32,
    /// `SyncMaxConcurrentMailboxes` (4).
    pub sync_max_concurrent_mailboxes: u32,
}

impl Timing {
    /// The field of a numeric key.
    fn field(&mut self, key: &str) -> &mut u32 {
        match key {
            keys::OAUTH_TOKEN_MINUTES_BEFORE_RENEW => &mut self.oauth_token_minutes_before_renew,
            keys::BATCH_GET_EVENTS_SIZE => &mut self.batch_get_events_size,
            keys::BATCH_GET_EVENTS_SLEEP => &mut self.batch_get_events_sleep_between_batches_ms,
            keys::BATCH_GET_EVENTS_TIMEOUT => &mut self.batch_get_events_timeout_ms,
            keys::BATCH_SUBSCRIBE_SIZE => &mut self.batch_subscribe_size,
            keys::BATCH_SUBSCRIBE_TIMEOUT => &mut self.batch_subscribe_timeout_ms,
            keys::FAILED_GET_EVENTS_TILL_DEACTIVATE => &mut self.failed_get_events_till_deactivate,
            keys::FAILED_SUBSCRIBE_TILL_DEACTIVATE => &mut self.failed_subscribe_till_deactivate,
            keys::INTERVALL_SUBSCRIBE => &mut self.intervall_subscribe_minutes,
            keys::INTERVALL_TASK => &mut self.intervall_task_seconds,
            keys::SUBSCRIPTION_TIMEOUT => &mut self.subscription_timeout_minutes,
            keys::RENEWAL_THRESHOLD => &mut self.renewal_threshold_minutes,
            keys::STATUS_FREQUENCY => &mut self.status_frequency_minutes,
            keys::SYNC_GET_ITEM_BATCH_SIZE => &mut self.sync_get_item_batch_size,
            keys::SYNC_ROLLBACK_ATTEMPTS => &mut self.sync_rollback_attempts,
            keys::SYNC_CANCEL_ATTEMPTS => &mut self.sync_cancel_attempts,
            keys::SYNC_RETRY_MAX_SECONDS => &mut self.sync_retry_max_seconds,
            keys::SYNC_MAX_CONCURRENT_MAILBOXES => &mut self.sync_max_concurrent_mailboxes,
            other => unreachable!("{other} is not a numeric key"),
        }
    }

    /// The value of a numeric key.
    fn get(&self, key: &str) -> u32 {
        let mut copy = *self;
        *copy.field(key)
    }
}

impl Default for Timing {
    /// The defaults of the original product.
    fn default() -> Self {
        let mut timing = Self {
            oauth_token_minutes_before_renew: 0,
            batch_get_events_size: 0,
            batch_get_events_sleep_between_batches_ms: 0,
            batch_get_events_timeout_ms: 0,
            batch_subscribe_size: 0,
            batch_subscribe_timeout_ms: 0,
            failed_get_events_till_deactivate: 0,
            failed_subscribe_till_deactivate: 0,
            intervall_subscribe_minutes: 0,
            intervall_task_seconds: 0,
            subscription_timeout_minutes: 0,
            renewal_threshold_minutes: 0,
            status_frequency_minutes: 0,
            sync_get_item_batch_size: 0,
            sync_rollback_attempts: 0,
            sync_cancel_attempts: 0,
            sync_retry_max_seconds: 0,
            sync_max_concurrent_mailboxes: 0,
        };
        for spec in &keys::NUMBERS {
            *timing.field(spec.key) = spec.default;
        }
        timing
    }
}

/// Credentials for the mailboxes of one mail domain that belongs to another Microsoft 365 tenant
/// (`DomainOverrides` of `appsettings.json`). Fields not given in the override are inherited
/// from the main provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainCredentials {
    /// The mail domain (lower case), the part of an address after `@`.
    pub domain: String,
    /// The other tenant's GUID.
    pub tenant_id: String,
    /// The app registration's Application (client) ID in that tenant.
    pub app_id: String,
    /// How to sign in to that tenant.
    pub auth: Auth,
}

/// The validated settings of one tenant. Read through its methods; only [`Self::from_raw`]
/// (or [`Self::load`]) makes one, so every value has been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSettings {
    source: PathBuf,
    tenant_id: String,
    app_id: String,
    use_impersonation: bool,
    authority_url: String,
    allow_insecure_loopback: bool,
    allow_private_networks: bool,
    ews_url: String,
    push_notification_endpoint_url: Option<String>,
    /// `SyncSendMeetingInvitations`.
    send_meeting_invitations: &'static str,
    timing: Timing,
    auth: Auth,
    cert_password: Option<SecretRef>,
    domain_overrides: BTreeMap<String, DomainCredentials>,
    warnings: Vec<SettingsWarning>,
}

impl TenantSettings {
    /// Loads settings from `path`: a tenant directory (its `RoomsAppSettings.config`, or its
    /// `appsettings.json` when there is no `.config` file), or a settings file (`*.json` is read
    /// as `appsettings.json`, anything else as `RoomsAppSettings.config`). The tenant directory,
    /// for `file:` secrets, is the directory of the settings file.
    pub fn load(
        path: &Path,
        env: &dyn EnvSource,
        inputs: &TenantInputs,
    ) -> Result<Self, SettingsErrors> {
        let file = if path.is_dir() {
            let config = path.join(SETTINGS_FILE);
            let json = path.join(JSON_SETTINGS_FILE);
            if config.exists() || !json.exists() {
                config
            } else {
                json
            }
        } else {
            path.to_owned()
        };
        let is_json = file
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        if is_json {
            let (raw, overrides) = json::load(&file)?;
            Self::from_raw_with_overrides(&raw, &overrides, env, inputs)
        } else {
            Self::from_raw(&AppSettings::load(&file)?, env, inputs)
        }
    }

    /// Validates raw settings: environment overrides (if `inputs` allows them), defaults, every
    /// value, secret references against `inputs.secrets`, and the sign-in mode. Returns all
    /// problems at once.
    pub fn from_raw(
        raw: &AppSettings,
        env: &dyn EnvSource,
        inputs: &TenantInputs,
    ) -> Result<Self, SettingsErrors> {
        Self::from_raw_with_overrides(raw, &[], env, inputs)
    }

    /// [`Self::from_raw`] with the domain overrides of `appsettings.json`.
    fn from_raw_with_overrides(
        raw: &AppSettings,
        overrides: &[json::DomainOverride],
        env: &dyn EnvSource,
        inputs: &TenantInputs,
    ) -> Result<Self, SettingsErrors> {
        let mut check = Check {
            raw,
            env: inputs.env_overrides.then_some(env),
            inputs,
            errors: Vec::new(),
            warnings: raw.warnings().to_vec(),
        };
        check.unknown_keys();
        let tenant_id = check.guid(keys::TENANT_ID);
        let app_id = check.guid(keys::APP_ID);
        let use_impersonation = check.boolean(keys::USE_IMPERSONATION, true);
        let auth = use_impersonation.and_then(|impersonation| check.auth(impersonation));
        let cert_password = check.secret(keys::CERT_PASSWORD);
        if cert_password.is_some() && !matches!(auth, Some(Auth::Certificate { .. })) {
            check.ignored(keys::CERT_PASSWORD, "no certificate sign-in is configured");
        }
        let allow_insecure_loopback = check
            .boolean(keys::ALLOW_INSECURE_LOOPBACK, false)
            .unwrap_or(false);
        let allow_private_networks = check
            .boolean(keys::ALLOW_PRIVATE_NETWORKS, false)
            .unwrap_or(false);
        let authority_url = check
            .url(
                keys::AUTHORITY_URL,
                UrlShape::Origin,
                allow_insecure_loopback,
            )
            .unwrap_or_else(|| keys::DEFAULT_AUTHORITY_URL.to_owned());
        let ews_url = check
            .url(keys::EWS_URL, UrlShape::Full, allow_insecure_loopback)
            .unwrap_or_else(|| keys::DEFAULT_EWS_URL.to_owned());
        let push_notification_endpoint_url = check.url(
            keys::PUSH_NOTIFICATION_ENDPOINT_URL,
            UrlShape::Full,
            allow_insecure_loopback,
        );
        let send_meeting_invitations = check
            .choice(
                keys::SYNC_SEND_MEETING_INVITATIONS,
                &["SendToAllAndSaveCopy", "SendOnlyToAll", "SendToNone"],
            )
            .unwrap_or("SendToAllAndSaveCopy");
        let mut timing = Timing::default();
        for spec in &keys::NUMBERS {
            if let Some(value) = check.number(spec) {
                *timing.field(spec.key) = value;
            }
        }
        let domain_overrides = match (&tenant_id, &app_id, &auth) {
            (Some(tenant_id), Some(app_id), Some(auth)) => {
                check.domain_overrides(overrides, tenant_id, app_id, auth, use_impersonation)
            }
            _ => BTreeMap::new(),
        };
        if let (Some(tenant), Some(app)) = (&tenant_id, &app_id)
            && tenant == app
        {
            check.warnings.push(SettingsWarning::at(
                WarningKind::Suspicious,
                Some(&raw.path().to_owned()),
                keys::APP_ID,
                check.origin(keys::APP_ID).as_ref(),
                "is the same GUID as ExchangeTenantId",
                values::guid_fix(keys::APP_ID),
            ));
        }
        match (tenant_id, app_id, use_impersonation, auth) {
            (Some(tenant_id), Some(app_id), Some(use_impersonation), Some(auth))
                if check.errors.is_empty() =>
            {
                Ok(Self {
                    source: raw.path().to_owned(),
                    tenant_id,
                    app_id,
                    use_impersonation,
                    authority_url,
                    allow_insecure_loopback,
                    allow_private_networks,
                    ews_url,
                    push_notification_endpoint_url,
                    send_meeting_invitations,
                    timing,
                    auth,
                    cert_password,
                    domain_overrides,
                    warnings: check.warnings,
                })
            }
            _ => Err(SettingsErrors {
                errors: check.errors,
                warnings: check.warnings,
            }),
        }
    }

    /// How the sync signs in.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The file the settings came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// `ExchangeTenantId`: the Directory (tenant) ID, a lower-case hyphenated GUID.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// `ExchangeAppId`: the Application (client) ID, a lower-case hyphenated GUID.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// `ExchangeUseImpersonation` (true): app-only with the `ExchangeImpersonation` header, or
    /// (false) a delegated service user.
    pub fn use_impersonation(&self) -> bool {
        self.use_impersonation
    }

    /// `ExchangeAuthorityUrl` (`https://login.microsoftonline.com`): scheme and host only, no
    /// trailing `/`.
    pub fn authority_url(&self) -> &str {
        &self.authority_url
    }

    /// `ExchangeAllowInsecureLoopback` (false): plain http to 127.0.0.0/8 and `::1`, for tests.
    pub fn allow_insecure_loopback(&self) -> bool {
        self.allow_insecure_loopback
    }

    /// `ExchangeAllowPrivateNetworks` (false): outgoing requests may go to private-range
    /// addresses, for an on-premises Exchange in a hybrid organisation.
    pub fn allow_private_networks(&self) -> bool {
        self.allow_private_networks
    }

    /// `ExchangeEwsUrl` (`EwsUrl` of `appsettings.json`; default
    /// `https://outlook.office365.com/EWS/Exchange.asmx`): the EWS endpoint for persons without a
    /// Sync-URL of their own.
    pub fn ews_url(&self) -> &str {
        &self.ews_url
    }

    /// `ExchangePushNotificationEndpointUrl`: the public webhook for push subscriptions (`O365`
    /// mode), if set.
    pub fn push_notification_endpoint_url(&self) -> Option<&str> {
        self.push_notification_endpoint_url.as_deref()
    }

    /// The pull-subscription and timing numbers.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// Warnings found while loading (duplicate or unknown keys, ignored settings).
    pub fn warnings(&self) -> &[SettingsWarning] {
        &self.warnings
    }

    /// The secret setting `name` (`ExchangeClientSecret`, `ExchangeServicePassword`,
    /// `ExchangeCertPassword`, matched case-insensitively), if the sign-in mode uses it. A domain
    /// override's secret is named `ExchangeClientSecret@fabrikam.com`.
    pub fn secret(&self, name: &str) -> Option<&SecretRef> {
        let (name, auth) = match name.split_once('@') {
            Some((name, domain)) => (name, &self.credentials_for_domain(domain)?.auth),
            None => (name, &self.auth),
        };
        if name.eq_ignore_ascii_case(keys::CERT_PASSWORD) {
            return self.cert_password.as_ref();
        }
        match auth {
            Auth::ClientSecret(secret) if name.eq_ignore_ascii_case(keys::CLIENT_SECRET) => {
                Some(secret)
            }
            Auth::Delegated { password, .. }
                if name.eq_ignore_ascii_case(keys::SERVICE_PASSWORD) =>
            {
                Some(password)
            }
            _ => None,
        }
    }

    /// The credentials for mailboxes of `domain` (the part after `@`, any case) when
    /// `appsettings.json` overrides them; `None` means the main credentials apply.
    pub fn credentials_for_domain(&self, domain: &str) -> Option<&DomainCredentials> {
        self.domain_overrides
            .get(&domain.trim().to_ascii_lowercase())
    }

    /// Whether the settings name the certificate `thumbprint` (normalized: 40 upper-case
    /// hexadecimal digits) for a sign-in: `ExchangeCertThumbprint`, or the `CertThumbprint` of a
    /// domain override. Only such a certificate may sign for this tenant.
    pub fn uses_certificate(&self, thumbprint: &str) -> bool {
        std::iter::once(&self.auth)
            .chain(self.domain_overrides.values().map(|domain| &domain.auth))
            .any(|auth| matches!(auth, Auth::Certificate { thumbprint: own } if own == thumbprint))
    }

    /// Every domain override, by domain.
    pub fn domain_overrides(&self) -> impl Iterator<Item = &DomainCredentials> {
        self.domain_overrides.values()
    }

    /// Every non-secret setting with its effective value (after environment overrides and
    /// defaults), for `wasi:config`. Never contains `ExchangeClientSecret`,
    /// `ExchangeServicePassword` or `ExchangeCertPassword`. The thumbprint is listed only for
    /// certificate sign-in and the service user only for delegated sign-in. Domain overrides add
    /// `ExchangeTenantId@domain`, `ExchangeAppId@domain`, `ExchangeUseImpersonation@domain` and,
    /// as applicable, `ExchangeCertThumbprint@domain` or `ExchangeServiceUser@domain`.
    pub fn public_config(&self) -> Vec<(String, String)> {
        let mut config = Vec::new();
        let mut put = |key: &str, value: String| config.push((key.to_owned(), value));
        put(keys::TENANT_ID, self.tenant_id.clone());
        put(keys::APP_ID, self.app_id.clone());
        put(keys::USE_IMPERSONATION, self.use_impersonation.to_string());
        match &self.auth {
            Auth::Certificate { thumbprint } => put(keys::CERT_THUMBPRINT, thumbprint.clone()),
            Auth::Delegated { user, .. } => put(keys::SERVICE_USER, user.clone()),
            Auth::ClientSecret(_) => {}
        }
        put(keys::AUTHORITY_URL, self.authority_url.clone());
        put(
            keys::ALLOW_INSECURE_LOOPBACK,
            self.allow_insecure_loopback.to_string(),
        );
        put(
            keys::ALLOW_PRIVATE_NETWORKS,
            self.allow_private_networks.to_string(),
        );
        put(keys::EWS_URL, self.ews_url.clone());
        if let Some(url) = &self.push_notification_endpoint_url {
            put(keys::PUSH_NOTIFICATION_ENDPOINT_URL, url.clone());
        }
        for spec in &keys::NUMBERS {
            put(spec.key, self.timing.get(spec.key).to_string());
        }
        put(
            keys::SYNC_SEND_MEETING_INVITATIONS,
            self.send_meeting_invitations.to_owned(),
        );
        for credentials in self.domain_overrides.values() {
            let domain = &credentials.domain;
            put(
                &format!("{}@{domain}", keys::TENANT_ID),
                credentials.tenant_id.clone(),
            );
            put(
                &format!("{}@{domain}", keys::APP_ID),
                credentials.app_id.clone(),
            );
            let delegated = matches!(credentials.auth, Auth::Delegated { .. });
            put(
                &format!("{}@{domain}", keys::USE_IMPERSONATION),
                (!delegated).to_string(),
            );
            match &credentials.auth {
                Auth::Certificate { thumbprint } => put(
                    &format!("{}@{domain}", keys::CERT_THUMBPRINT),
                    thumbprint.clone(),
                ),
                Auth::Delegated { user, .. } => {
                    put(&format!("{}@{domain}", keys::SERVICE_USER), user.clone())
                }
                Auth::ClientSecret(_) => {}
            }
        }
        config
    }
}

/// A value with where it came from.
struct Value {
    text: String,
    origin: Origin,
}

/// The validation pass: looks values up (environment first, when overrides are on) and collects
/// problems.
struct Check<'a> {
    raw: &'a AppSettings,
    /// The environment that overrides keys; `None` when overrides are off.
    env: Option<&'a dyn EnvSource>,
    inputs: &'a TenantInputs,
    errors: Vec<SettingsError>,
    warnings: Vec<SettingsWarning>,
}

impl Check<'_> {
    /// The effective value of `key`: the environment variable of that name (when overrides are
    /// on), else the file. Empty (or blank) values count as not set.
    fn value(&mut self, key: &'static str) -> Option<Value> {
        let value = match self.env.and_then(|env| env.var_os(key)) {
            Some(value) => match value.into_string() {
                Ok(text) => Value {
                    text,
                    origin: Origin::Env,
                },
                Err(_) => {
                    self.error(
                        ErrorKind::EnvNotUnicode,
                        key,
                        Some(Origin::Env),
                        "the environment variable is not valid UTF-8",
                        "set it to plain text, or unset it to use the settings file",
                    );
                    return None;
                }
            },
            None => {
                let entry = self.raw.get(key)?;
                Value {
                    text: entry.value.clone(),
                    origin: entry.origin.clone(),
                }
            }
        };
        (!value.text.trim().is_empty()).then_some(value)
    }

    /// Where `key` was set, if anywhere (for messages about keys that are set but empty).
    fn origin(&self, key: &str) -> Option<Origin> {
        if self.env.is_some_and(|env| env.var_os(key).is_some()) {
            return Some(Origin::Env);
        }
        self.raw.get(key).map(|entry| entry.origin.clone())
    }

    fn error(
        &mut self,
        kind: ErrorKind,
        key: &str,
        origin: Option<Origin>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let file = self.file_for(origin.as_ref());
        let error = SettingsError::at(kind, file.as_ref(), key, origin.as_ref(), problem, fix);
        // A value looked up twice must not report its problem twice.
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    fn invalid(&mut self, key: &str, origin: Origin, invalid: Invalid) {
        self.error(
            invalid.kind,
            key,
            Some(origin),
            invalid.problem,
            invalid.fix,
        );
    }

    /// The settings file, unless the value came from the environment.
    fn file_for(&self, origin: Option<&Origin>) -> Option<PathBuf> {
        match origin {
            Some(Origin::Env) => None,
            _ => Some(self.raw.path().to_owned()),
        }
    }

    /// A required value is missing.
    fn missing(&mut self, key: &'static str, problem: &str, fix: String) {
        let origin = self.origin(key);
        let problem = match origin {
            Some(_) => format!("is empty; {problem}"),
            None => format!("is not set; {problem}"),
        };
        self.error(ErrorKind::Missing, key, origin, problem, fix);
    }

    /// A setting the chosen sign-in mode does not use.
    fn ignored(&mut self, key: &'static str, why: &str) {
        let origin = self.origin(key);
        let file = self.file_for(origin.as_ref());
        self.warnings.push(SettingsWarning::at(
            WarningKind::Ignored,
            file.as_ref(),
            key,
            origin.as_ref(),
            format!("is set but not used: {why}"),
            format!("remove {key}, or change the sign-in mode if it was meant"),
        ));
    }

    /// A required GUID.
    fn guid(&mut self, key: &'static str) -> Option<String> {
        let Some(value) = self.value(key) else {
            self.missing(
                key,
                "every sign-in needs it",
                format!(
                    "add <add key=\"{key}\" value=\"...\" />; {}",
                    values::guid_fix(key)
                ),
            );
            return None;
        };
        values::guid(key, &value.text)
            .map_err(|invalid| self.invalid(key, value.origin, invalid))
            .ok()
    }

    /// A boolean with a default; `None` when the value is not a boolean.
    fn boolean(&mut self, key: &'static str, default: bool) -> Option<bool> {
        match self.value(key) {
            None => Some(default),
            Some(value) => values::boolean(&value.text)
                .map_err(|invalid| self.invalid(key, value.origin, invalid))
                .ok(),
        }
    }

    /// A number within its range; `None` (the default applies) when unset or invalid.
    fn number(&mut self, spec: &keys::Number) -> Option<u32> {
        let value = self.value(spec.key)?;
        values::number(spec, &value.text)
            .map_err(|invalid| self.invalid(spec.key, value.origin, invalid))
            .ok()
    }

    /// One of `choices` (matched ignoring case); `None` (the default applies) when unset or
    /// not one of them.
    fn choice(&mut self, key: &'static str, choices: &[&'static str]) -> Option<&'static str> {
        let value = self.value(key)?;
        let text = value.text.trim();
        match choices.iter().find(|c| c.eq_ignore_ascii_case(text)) {
            Some(found) => Some(found),
            None => {
                self.error(
                    ErrorKind::NotAChoice,
                    key,
                    Some(value.origin),
                    format!("`{text}` is not one of {}", choices.join(", ")),
                    format!("set it to one of {}, or remove it", choices.join(", ")),
                );
                None
            }
        }
    }

    /// An optional URL; `None` when unset or invalid.
    fn url(&mut self, key: &'static str, shape: UrlShape, allow_loopback: bool) -> Option<String> {
        let value = self.value(key)?;
        values::url(&value.text, shape, allow_loopback)
            .map_err(|invalid| self.invalid(key, value.origin, invalid))
            .ok()
    }

    /// An optional secret reference, which the operator's scope must allow. The value is never
    /// quoted.
    fn secret(&mut self, key: &'static str) -> Option<SecretRef> {
        let value = self.value(key)?;
        match SecretRef::parse(&value.text) {
            Ok(reference) => self
                .in_scope(key, &value.origin, &reference)
                .then_some(reference),
            Err(SecretError::BadReference { problem, example }) => {
                self.error(
                    ErrorKind::BadSecretReference,
                    key,
                    Some(value.origin),
                    problem,
                    format!("write it as `{example}`, or write the secret itself"),
                );
                None
            }
            Err(other) => {
                self.error(
                    ErrorKind::BadSecretReference,
                    key,
                    Some(value.origin),
                    other.to_string(),
                    "correct the reference",
                );
                None
            }
        }
    }

    /// Whether the operator's scope allows `reference` (of `key`, set at `origin`); if not, the
    /// error says which flag allows it.
    fn in_scope(&mut self, key: &str, origin: &Origin, reference: &SecretRef) -> bool {
        let tenant_dir = match self.raw.path().parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        let Some((problem, fix)) = reference
            .check_scope(&self.inputs.secrets, &tenant_dir)
            .err()
            .and_then(|error| error.scope_refusal())
        else {
            return true;
        };
        self.error(
            ErrorKind::SecretNotAllowed,
            key,
            Some(origin.clone()),
            problem,
            fix,
        );
        false
    }

    /// An optional certificate thumbprint, normalized.
    fn thumbprint(&mut self, key: &'static str) -> Option<String> {
        let value = self.value(key)?;
        match normalize_thumbprint(&value.text) {
            Ok(thumbprint) => Some(thumbprint),
            Err(error) => {
                self.error(
                    ErrorKind::BadThumbprint,
                    key,
                    Some(value.origin),
                    error.to_string(),
                    "copy the certificate's Thumbprint from the app registration (Certificates & \
                     secrets → Certificates) or from the certificate's Details tab in Windows: 40 \
                     hexadecimal digits; spaces and case do not matter",
                );
                None
            }
        }
    }

    /// Whether `key` has a (non-empty) value.
    fn is_set(&mut self, key: &'static str) -> bool {
        self.value(key).is_some()
    }

    /// The sign-in mode and its credentials. Only the settings of the chosen mode are checked;
    /// the others get a warning that they are ignored.
    fn auth(&mut self, impersonation: bool) -> Option<Auth> {
        if impersonation {
            for key in [keys::SERVICE_USER, keys::SERVICE_PASSWORD] {
                if self.is_set(key) {
                    self.ignored(
                        key,
                        "ExchangeUseImpersonation is true (the default), so the app signs in on \
                         its own",
                    );
                }
            }
            match (
                self.is_set(keys::CLIENT_SECRET),
                self.is_set(keys::CERT_THUMBPRINT),
            ) {
                (true, true) => {
                    let origin = self.origin(keys::CERT_THUMBPRINT);
                    self.error(
                        ErrorKind::Conflict,
                        keys::CERT_THUMBPRINT,
                        origin,
                        "ExchangeClientSecret and ExchangeCertThumbprint are both set, but the \
                         app signs in with exactly one of them",
                        "remove ExchangeClientSecret to sign in with the certificate, or remove \
                         ExchangeCertThumbprint to sign in with the client secret",
                    );
                    None
                }
                (false, false) => {
                    self.errors.push(SettingsError {
                        kind: ErrorKind::Missing,
                        file: Some(self.raw.path().to_owned()),
                        key: None,
                        origin: None,
                        problem: "neither ExchangeClientSecret nor ExchangeCertThumbprint is set; \
                                  app-only sign-in (ExchangeUseImpersonation=true, the default) \
                                  needs one of them"
                            .into(),
                        fix: "add ExchangeClientSecret with the Value of a client secret \
                              (App registrations → your app → Certificates & secrets), or \
                              ExchangeCertThumbprint with the thumbprint of a certificate \
                              uploaded there and placed with its private key in the tenant's \
                              certs/ folder; for a service user, set ExchangeUseImpersonation to \
                              false"
                            .into(),
                    });
                    None
                }
                (true, false) => {
                    let secret = self.secret(keys::CLIENT_SECRET)?;
                    self.warn_if_secret_id(&secret);
                    Some(Auth::ClientSecret(secret))
                }
                (false, true) => self
                    .thumbprint(keys::CERT_THUMBPRINT)
                    .map(|thumbprint| Auth::Certificate { thumbprint }),
            }
        } else {
            for key in [keys::CLIENT_SECRET, keys::CERT_THUMBPRINT] {
                if self.is_set(key) {
                    self.ignored(
                        key,
                        "ExchangeUseImpersonation is false, so the service user signs in with \
                         its password",
                    );
                }
            }
            let user = match self.value(keys::SERVICE_USER) {
                Some(value) => values::user_principal_name(&value.text)
                    .map_err(|invalid| self.invalid(keys::SERVICE_USER, value.origin, invalid))
                    .ok(),
                None => {
                    self.missing(
                        keys::SERVICE_USER,
                        "delegated sign-in (ExchangeUseImpersonation=false) needs the service user",
                        "add ExchangeServiceUser with the sign-in name of the service user, which \
                         has its own mailbox, like roomsdelegated@contoso.onmicrosoft.com; or set \
                         ExchangeUseImpersonation to true for app-only sign-in"
                            .into(),
                    );
                    None
                }
            };
            let password = if self.is_set(keys::SERVICE_PASSWORD) {
                self.secret(keys::SERVICE_PASSWORD)
            } else {
                self.missing(
                    keys::SERVICE_PASSWORD,
                    "delegated sign-in (ExchangeUseImpersonation=false) needs the service user's \
                     password",
                    "add ExchangeServicePassword with the password, or with env:NAME or \
                     file:PATH to keep it out of the settings file"
                        .into(),
                );
                None
            };
            Some(Auth::Delegated {
                user: user?,
                password: password?,
            })
        }
    }

    /// Warns when a literal client secret is a GUID: that is the secret's ID, not its value.
    fn warn_if_secret_id(&mut self, secret: &SecretRef) {
        let SecretRef::Literal(literal) = secret else {
            return;
        };
        if values::guid(keys::CLIENT_SECRET, literal.expose()).is_err() {
            return;
        }
        let origin = self.origin(keys::CLIENT_SECRET);
        let file = self.file_for(origin.as_ref());
        self.warnings.push(SettingsWarning::at(
            WarningKind::Suspicious,
            file.as_ref(),
            keys::CLIENT_SECRET,
            origin.as_ref(),
            "is a GUID, which is what Entra ID shows as the secret's ID; the secret itself is in \
             the Value column",
            "create a new client secret (App registrations → your app → Certificates & secrets → \
             New client secret) and copy its Value, which is shown only once",
        ));
    }

    /// Warns about unknown keys that look like typos of known ones.
    fn unknown_keys(&mut self) {
        for entry in self.raw.entries() {
            if keys::is_known(&entry.key) {
                continue;
            }
            let (nearest, distance) = keys::nearest(&entry.key);
            let exchange = entry
                .key
                .get(..8)
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case("Exchange"));
            if !exchange && distance > 2 {
                continue;
            }
            let (problem, fix) = if distance <= 4 {
                (
                    format!("is not a known setting; did you mean {nearest}?"),
                    format!("rename it to {nearest}, or delete it"),
                )
            } else {
                (
                    "is not a setting of the Exchange sync and is ignored".to_owned(),
                    "delete it, or check the spelling against the documented keys".to_owned(),
                )
            };
            let origin = entry.origin.clone();
            self.warnings.push(SettingsWarning::at(
                WarningKind::UnknownKey,
                Some(&self.raw.path().to_owned()),
                &entry.key,
                Some(&origin),
                problem,
                fix,
            ));
        }
    }

    /// Validates the domain overrides, inheriting what they leave out from the main credentials.
    fn domain_overrides(
        &mut self,
        overrides: &[json::DomainOverride],
        tenant_id: &str,
        app_id: &str,
        main_auth: &Auth,
        use_impersonation: Option<bool>,
    ) -> BTreeMap<String, DomainCredentials> {
        let mut result = BTreeMap::new();
        for entry in overrides {
            if let Some(credentials) = json::validate_override(
                self,
                entry,
                tenant_id,
                app_id,
                main_auth,
                use_impersonation.unwrap_or(true),
            ) {
                result.insert(credentials.domain.clone(), credentials);
            }
        }
        result
    }
}
