//! The newer `appsettings.json` form of the settings (`CalendarSync:Ews`), mapped onto the keys
//! of `RoomsAppSettings.config` so that one validation serves both.
//!
//! | `appsettings.json` path under `CalendarSync:Ews` | key |
//! |---|---|
//! | `Common:NotificationEndpointUrl` | `ExchangePushNotificationEndpointUrl` |
//! | `Common:RenewalThresholdMinutes` (40) | `RenewalThresholdMinutes` |
//! | `Common:StatusFrequencyMinutes` (30) | `StatusFrequencyMinutes` |
//! | `Common:<any key of RoomsAppSettings.config>` | that key (`BatchGetEventsSize`, ...) |
//! | `Providers:O365:EwsUrl` | `ExchangeEwsUrl` |
//! | `Providers:O365:TenantId`, `AppId`, `ClientSecret`, `UseImpersonation`, `ServiceUser`, `ServicePassword` | `Exchange…` of the same name |
//! | `Providers:O365:CertThumbprint`, `CertPassword`, `AuthorityUrl`, `AllowInsecureLoopback`, `AllowPrivateNetworks` | `Exchange…` of the same name |
//! | `Providers:O365:DomainOverrides:<mail domain>:<field>` | a [`super::DomainCredentials`] |
//!
//! As in .NET's configuration, paths match case-insensitively, nested objects and `a:b` keys are
//! the same, and `null` means not set. With `--env-overrides`, the environment overrides the
//! mapped keys by their `RoomsAppSettings.config` names (`ExchangeClientSecret`). A domain override takes `TenantId`,
//! `AppId`, `ClientSecret`, `CertThumbprint`, `UseImpersonation`, `ServiceUser` and
//! `ServicePassword`; what it leaves out is inherited from the main provider.

use std::path::Path;

use super::app_settings::{self, AppSettings, Entry};
use super::error::{
    ErrorKind, Origin, SettingsError, SettingsErrors, SettingsWarning, WarningKind,
};
use super::values::{self, Invalid};
use super::{Auth, Check, DomainCredentials, keys};
use crate::certs::thumbprint::normalize_thumbprint;
use crate::secrets::SecretRef;

/// The section that holds the settings.
const SECTION: &str = "CalendarSync:Ews";

/// The fields of `Providers:O365` and the keys they map to.
const PROVIDER_FIELDS: [(&str, &str); 12] = [
    ("EwsUrl", keys::EWS_URL),
    ("TenantId", keys::TENANT_ID),
    ("AppId", keys::APP_ID),
    ("ClientSecret", keys::CLIENT_SECRET),
    ("UseImpersonation", keys::USE_IMPERSONATION),
    ("ServiceUser", keys::SERVICE_USER),
    ("ServicePassword", keys::SERVICE_PASSWORD),
    ("CertThumbprint", keys::CERT_THUMBPRINT),
    ("CertPassword", keys::CERT_PASSWORD),
    ("AuthorityUrl", keys::AUTHORITY_URL),
    ("AllowInsecureLoopback", keys::ALLOW_INSECURE_LOOPBACK),
    ("AllowPrivateNetworks", keys::ALLOW_PRIVATE_NETWORKS),
];

/// The fields a domain override may set.
const OVERRIDE_FIELDS: [&str; 7] = [
    "TenantId",
    "AppId",
    "ClientSecret",
    "CertThumbprint",
    "UseImpersonation",
    "ServiceUser",
    "ServicePassword",
];

/// One `DomainOverrides:<domain>` object: its fields, with their JSON paths as origins.
#[derive(Clone, Debug)]
pub(crate) struct DomainOverride {
    /// The domain as written.
    domain: String,
    /// The JSON path of the override object.
    path: String,
    /// The fields (key = field name such as `TenantId`).
    fields: Vec<Entry>,
}

impl DomainOverride {
    fn field(&self, name: &str) -> Option<&Entry> {
        self.fields
            .iter()
            .find(|entry| entry.key.eq_ignore_ascii_case(name) && !entry.value.trim().is_empty())
    }
}

/// Reads `appsettings.json` into entries named like `RoomsAppSettings.config` keys, and the
/// domain overrides.
pub(crate) fn load(path: &Path) -> Result<(AppSettings, Vec<DomainOverride>), SettingsErrors> {
    let bytes = app_settings::read_file(path)?;
    let text = app_settings::decode(path, &bytes)?;
    parse(path, &text)
}

/// Parses `appsettings.json` text; `path` is used in messages only.
pub(crate) fn parse(
    path: &Path,
    text: &str,
) -> Result<(AppSettings, Vec<DomainOverride>), SettingsErrors> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        // serde_json's syntax messages name the expected token, never the content.
        let message = error.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(message, _)| message);
        SettingsError {
            kind: ErrorKind::Malformed,
            file: Some(path.to_owned()),
            key: None,
            origin: Some(Origin::File {
                line: u32::try_from(error.line()).unwrap_or(u32::MAX),
                column: u32::try_from(error.column()).unwrap_or(u32::MAX),
            }),
            problem: format!("malformed JSON: {message}"),
            fix: "correct the JSON at this position".into(),
        }
    })?;
    let mut flat = Vec::new();
    flatten(&document, String::new(), &mut flat);
    let prefix = format!("{SECTION}:");
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut overrides: Vec<DomainOverride> = Vec::new();
    let mut found_section = false;
    for (json_path, value) in flat {
        let Some(rest) = strip_prefix_ignore_case(&json_path, &prefix) else {
            continue;
        };
        found_section = true;
        let origin = Origin::Json(json_path.clone());
        let entry = |key: &str| Entry {
            key: key.to_owned(),
            value: value.clone(),
            origin: origin.clone(),
        };
        if let Some(field) = strip_prefix_ignore_case(rest, "Common:") {
            let key = match field.to_ascii_lowercase().as_str() {
                "notificationendpointurl" => Some(keys::PUSH_NOTIFICATION_ENDPOINT_URL),
                _ => keys::ALL
                    .iter()
                    .find(|known| known.eq_ignore_ascii_case(field))
                    .copied(),
            };
            match key {
                Some(key) => entries.push(entry(key)),
                None => warnings.push(unknown(path, field, &origin, COMMON_FIELDS)),
            }
        } else if let Some(field) = strip_prefix_ignore_case(rest, "Providers:O365:") {
            if let Some(domain_field) = strip_prefix_ignore_case(field, "DomainOverrides:") {
                let Some((domain, name)) = domain_field.split_once(':') else {
                    continue;
                };
                let override_path = json_path[..json_path.len() - name.len() - 1].to_owned();
                if !OVERRIDE_FIELDS
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(name))
                {
                    warnings.push(unknown(path, name, &origin, &OVERRIDE_FIELDS));
                    continue;
                }
                let position = overrides
                    .iter()
                    .position(|o| o.domain.eq_ignore_ascii_case(domain));
                let index = position.unwrap_or_else(|| {
                    overrides.push(DomainOverride {
                        domain: domain.to_owned(),
                        path: override_path,
                        fields: Vec::new(),
                    });
                    overrides.len() - 1
                });
                overrides[index].fields.push(entry(name));
            } else {
                match PROVIDER_FIELDS
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(field))
                {
                    Some((_, key)) => entries.push(entry(key)),
                    None => {
                        let names: Vec<&str> = PROVIDER_FIELDS.iter().map(|(n, _)| *n).collect();
                        warnings.push(unknown(path, field, &origin, &names));
                    }
                }
            }
        } else {
            warnings.push(unknown(path, rest, &origin, &["Common", "Providers:O365"]));
        }
    }
    if !found_section {
        return Err(SettingsError {
            kind: ErrorKind::Missing,
            file: Some(path.to_owned()),
            key: None,
            origin: None,
            problem: format!("there is no {SECTION} section"),
            fix: format!(
                "add \"CalendarSync\": {{ \"Ews\": {{ \"Providers\": {{ \"O365\": {{ \"TenantId\": \
                 \"...\", \"AppId\": \"...\", ... }} }} }} }}, or use {}",
                super::SETTINGS_FILE
            ),
        }
        .into());
    }
    Ok((
        AppSettings::from_parts(path.to_owned(), entries, warnings),
        overrides,
    ))
}

/// The fields known under `Common` besides the legacy keys.
const COMMON_FIELDS: &[&str] = &[
    "NotificationEndpointUrl",
    "RenewalThresholdMinutes",
    "StatusFrequencyMinutes",
];

/// A warning for an unknown field, naming the nearest known one.
fn unknown(file: &Path, field: &str, origin: &Origin, known: &[&str]) -> SettingsWarning {
    let nearest = known
        .iter()
        .min_by_key(|name| {
            keys::edit_distance(&field.to_ascii_lowercase(), &name.to_ascii_lowercase())
        })
        .copied()
        .unwrap_or_default();
    SettingsWarning::at(
        WarningKind::UnknownKey,
        Some(&file.to_owned()),
        field,
        Some(origin),
        format!("is not a known setting of {SECTION}; the nearest known one is {nearest}"),
        format!("rename it to {nearest}, or delete it"),
    )
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Flattens JSON into `a:b:c` paths with string values, as .NET's JSON configuration does:
/// arrays are indexed, `null` is an empty value.
fn flatten(value: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}:{key}")
        }
    };
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                flatten(value, join(key), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                flatten(value, join(&index.to_string()), out);
            }
        }
        serde_json::Value::Null => out.push((path, String::new())),
        serde_json::Value::Bool(value) => out.push((path, value.to_string())),
        serde_json::Value::Number(value) => out.push((path, value.to_string())),
        serde_json::Value::String(value) => out.push((path, value.clone())),
    }
}

/// Validates one domain override, inheriting what it leaves out from the main provider.
pub(super) fn validate_override(
    check: &mut Check<'_>,
    entry: &DomainOverride,
    main_tenant: &str,
    main_app: &str,
    main_auth: &Auth,
    main_impersonation: bool,
) -> Option<DomainCredentials> {
    let file = check.raw.path().to_owned();
    let mut ok = true;
    let mut fail = |check: &mut Check<'_>, key: &str, origin: &Origin, invalid: Invalid| {
        ok = false;
        check.errors.push(SettingsError::at(
            invalid.kind,
            Some(&file),
            key,
            Some(origin),
            invalid.problem,
            invalid.fix,
        ));
    };
    let domain = entry.domain.trim().to_ascii_lowercase();
    let domain_origin = Origin::Json(entry.path.clone());
    if domain.is_empty() || domain.contains(['@', ' ']) || !domain.contains('.') {
        fail(
            check,
            "DomainOverrides",
            &domain_origin,
            Invalid {
                kind: ErrorKind::UnexpectedContent,
                problem: format!("`{}` is not a mail domain", entry.domain),
                fix: "name each override by the part of the mail addresses after @, like \
                      fabrikam.com"
                    .into(),
            },
        );
    }
    let mut guid =
        |check: &mut Check<'_>, name: &str, key: &str, inherited: &str| match entry.field(name) {
            Some(field) => match values::guid(key, &field.value) {
                Ok(guid) => Some(guid),
                Err(invalid) => {
                    fail(check, name, &field.origin, invalid);
                    None
                }
            },
            None => Some(inherited.to_owned()),
        };
    let tenant_id = guid(check, "TenantId", keys::TENANT_ID, main_tenant);
    let app_id = guid(check, "AppId", keys::APP_ID, main_app);
    let impersonation = match entry.field("UseImpersonation") {
        Some(field) => match values::boolean(&field.value) {
            Ok(value) => Some(value),
            Err(invalid) => {
                fail(check, "UseImpersonation", &field.origin, invalid);
                None
            }
        },
        None => Some(main_impersonation),
    };
    let secret = |check: &mut Check<'_>, name: &str| -> Option<Result<SecretRef, ()>> {
        let field = entry.field(name)?;
        let parsed = SecretRef::parse(&field.value).map_err(|error| {
            check.errors.push(SettingsError::at(
                ErrorKind::BadSecretReference,
                Some(&check.raw.path().to_owned()),
                name,
                Some(&field.origin),
                error.to_string(),
                "correct the reference, or write the secret itself",
            ));
        });
        Some(parsed.and_then(|reference| {
            if check.in_scope(name, &field.origin, &reference) {
                Ok(reference)
            } else {
                Err(())
            }
        }))
    };
    let missing = |what: &str| Invalid {
        kind: ErrorKind::Missing,
        problem: format!("the override has no {what} and the main provider has none to inherit"),
        fix: format!("add {what} to the override"),
    };
    let auth = match impersonation? {
        true => {
            let client_secret = secret(check, "ClientSecret");
            let thumbprint = entry.field("CertThumbprint");
            match (client_secret, thumbprint) {
                (Some(_), Some(field)) => {
                    fail(
                        check,
                        "CertThumbprint",
                        &field.origin,
                        Invalid {
                            kind: ErrorKind::Conflict,
                            problem: "ClientSecret and CertThumbprint are both set".into(),
                            fix: "keep one of them".into(),
                        },
                    );
                    None
                }
                (Some(secret), None) => secret.ok().map(Auth::ClientSecret),
                (None, Some(field)) => match normalize_thumbprint(&field.value) {
                    Ok(thumbprint) => Some(Auth::Certificate { thumbprint }),
                    Err(error) => {
                        fail(
                            check,
                            "CertThumbprint",
                            &field.origin,
                            Invalid {
                                kind: ErrorKind::BadThumbprint,
                                problem: error.to_string(),
                                fix: "copy the certificate's Thumbprint (40 hexadecimal digits)"
                                    .into(),
                            },
                        );
                        None
                    }
                },
                (None, None) => match main_auth {
                    Auth::ClientSecret(_) | Auth::Certificate { .. } => Some(main_auth.clone()),
                    Auth::Delegated { .. } => {
                        fail(
                            check,
                            "ClientSecret",
                            &domain_origin,
                            missing("ClientSecret or CertThumbprint"),
                        );
                        None
                    }
                },
            }
        }
        false => {
            let (main_user, main_password) = match main_auth {
                Auth::Delegated { user, password } => (Some(user), Some(password)),
                _ => (None, None),
            };
            let user = match entry.field("ServiceUser") {
                Some(field) => match values::user_principal_name(&field.value) {
                    Ok(user) => Some(user),
                    Err(invalid) => {
                        fail(check, "ServiceUser", &field.origin, invalid);
                        None
                    }
                },
                None => {
                    if main_user.is_none() {
                        fail(check, "ServiceUser", &domain_origin, missing("ServiceUser"));
                    }
                    main_user.cloned()
                }
            };
            let password = match secret(check, "ServicePassword") {
                Some(password) => password.ok(),
                None => {
                    if main_password.is_none() {
                        fail(
                            check,
                            "ServicePassword",
                            &domain_origin,
                            missing("ServicePassword"),
                        );
                    }
                    main_password.cloned()
                }
            };
            Some(Auth::Delegated {
                user: user?,
                password: password?,
            })
        }
    };
    if !ok {
        return None;
    }
    Some(DomainCredentials {
        domain,
        tenant_id: tenant_id?,
        app_id: app_id?,
        auth: auth?,
    })
}
