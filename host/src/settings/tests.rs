//! Tests of the validated settings: the original file format, defaults, environment overrides,
//! every validation error, the public configuration, `appsettings.json`, and that no secret
//! value ever shows in `Debug`, `Display` or errors.

use std::collections::HashMap;
use std::path::Path;

use super::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const APP: &str = "6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f";
const CLIENT_SECRET: &str = "Zq8~CLIENT-s3cr3t-4711";
const SERVICE_PASSWORD: &str = "Pw-SERVICE-s3cr3t-0815";
const CERT_PASSWORD: &str = "Pfx-CERT-s3cr3t-1234";
const THUMBPRINT: &str = "33245943 3B54FC0C 2185F75A 618FD3C8 3C7B9584";
/// Secrets short enough that the old messages quoted them.
const SHORT_SECRET: &str = "Pw!7k";
const NUMERIC_SECRET: &str = "80417723";

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A settings file with the given `<add>` lines.
fn file(entries: &[(&str, &str)]) -> String {
    let mut text = String::from("<RoomsAppSettings>\n");
    for (key, value) in entries {
        text.push_str(&format!("  <add key=\"{key}\" value=\"{value}\" />\n"));
    }
    text.push_str("</RoomsAppSettings>\n");
    text
}

/// The operator's choices these tests assume unless they say otherwise: environment overrides
/// on, and `env:` secrets from variables starting with `ROOMS_` or `NORTHWIND_`.
fn inputs() -> TenantInputs {
    TenantInputs {
        secrets: SecretScope::new()
            .allow_env_prefix("ROOMS_")
            .unwrap()
            .allow_env_prefix("NORTHWIND_")
            .unwrap(),
        env_overrides: true,
    }
}

fn load(text: &str, env: &HashMap<String, String>) -> Result<TenantSettings, SettingsErrors> {
    load_with(text, env, &inputs())
}

fn load_with(
    text: &str,
    env: &HashMap<String, String>,
    inputs: &TenantInputs,
) -> Result<TenantSettings, SettingsErrors> {
    let raw = AppSettings::parse(Path::new("/tenants/contoso/RoomsAppSettings.config"), text)
        .expect("well-formed");
    TenantSettings::from_raw(&raw, env, inputs)
}

fn errors_of(text: &str, env: &HashMap<String, String>) -> SettingsErrors {
    load(text, env).expect_err("settings must be refused")
}

fn secret_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", CLIENT_SECRET),
    ]
}

fn error_for<'a>(errors: &'a SettingsErrors, key: &str) -> &'a SettingsError {
    errors
        .errors
        .iter()
        .find(|error| error.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no error for {key}: {errors}"))
}

#[test]
fn original_secret_file_loads_with_defaults() {
    // The exact shape of the original product's documentation (seed/exchange-online.md).
    let text = format!(
        "<RoomsAppSettings>\n  <add key=\"ExchangeTenantId\" value=\"{TENANT}\" />\n  <add \
         key=\"ExchangeAppId\" value=\"{APP}\" />\n  <add key=\"ExchangeClientSecret\" \
         value=\"{CLIENT_SECRET}\" />\n</RoomsAppSettings>\n"
    );
    let settings = load(&text, &no_env()).unwrap();
    assert_eq!(settings.tenant_id(), TENANT);
    assert_eq!(settings.app_id(), APP);
    assert!(settings.use_impersonation());
    assert_eq!(
        settings.authority_url(),
        "https://login.microsoftonline.com"
    );
    assert_eq!(
        settings.ews_url(),
        "https://outlook.office365.com/EWS/Exchange.asmx"
    );
    assert!(!settings.allow_insecure_loopback());
    assert!(!settings.allow_private_networks());
    assert_eq!(settings.push_notification_endpoint_url(), None);
    let Auth::ClientSecret(secret) = settings.auth() else {
        panic!("{:?}", settings.auth());
    };
    assert_eq!(
        secret
            .resolve(&inputs().secrets, &no_env(), Path::new("/"))
            .unwrap()
            .expose(),
        CLIENT_SECRET
    );
    let t = *settings.timing();
    assert_eq!(
        [
            t.oauth_token_minutes_before_renew,
            t.batch_get_events_size,
            t.batch_get_events_sleep_between_batches_ms,
            t.batch_get_events_timeout_ms,
            t.batch_subscribe_size,
            t.batch_subscribe_timeout_ms,
            t.failed_get_events_till_deactivate,
            t.failed_subscribe_till_deactivate,
            t.intervall_subscribe_minutes,
            t.intervall_task_seconds,
            t.subscription_timeout_minutes,
            t.renewal_threshold_minutes,
            t.status_frequency_minutes,
        ],
        [
            20, 100, 0, 100_000, 100, 10_000, 10, 10, 20, 30, 720, 40, 30
        ]
    );
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());
}

#[test]
fn original_certificate_file_with_every_key_loads_unchanged() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        // As copied from the Windows certificate dialog: U+200E first, spaces, lower case.
        (
            "ExchangeCertThumbprint",
            "\u{200e}33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84",
        ),
        ("ExchangeCertPassword", CERT_PASSWORD),
        ("ExchangeUseImpersonation", "True"),
        ("ExchangeAuthorityUrl", "https://login.microsoftonline.us/"),
        (
            "ExchangePushNotificationEndpointUrl",
            "https://rooms.contoso.com/api/webhooks/exchange",
        ),
        ("OAuthTokenMinutesBeforeRenew", "15"),
        ("BatchGetEventsSize", "50"),
        ("BatchGetEventsSleepBetweenBatchesInMiliseconds", "250"),
        ("BatchGetEventsTimeoutInMiliseconds", "90000"),
        ("BatchSubscribeSize", "25"),
        ("BatchSubscribeTimeoutInMiliseconds", "20000"),
        ("FailedGetEventsTillDeactivate", "5"),
        ("FailedSubscribeTillDeactivate", "6"),
        ("IntervallSubscribeInMinutes", "10"),
        ("IntervallTaskInSeconds", "60"),
        ("SubscriptionTimeoutInMinutes", "1440"),
        // Other ROOMS settings share the file and are left alone.
        ("SmtpServer", "mail.contoso.com"),
    ]);
    let settings = load(&text, &no_env()).unwrap();
    assert_eq!(
        settings.auth(),
        &Auth::Certificate {
            thumbprint: "332459433B54FC0C2185F75A618FD3C83C7B9584".into()
        }
    );
    assert_eq!(settings.authority_url(), "https://login.microsoftonline.us");
    assert_eq!(
        settings.push_notification_endpoint_url(),
        Some("https://rooms.contoso.com/api/webhooks/exchange")
    );
    let t = *settings.timing();
    assert_eq!(
        [
            t.oauth_token_minutes_before_renew,
            t.batch_get_events_size,
            t.batch_get_events_sleep_between_batches_ms,
            t.batch_get_events_timeout_ms,
            t.batch_subscribe_size,
            t.batch_subscribe_timeout_ms,
            t.failed_get_events_till_deactivate,
            t.failed_subscribe_till_deactivate,
            t.intervall_subscribe_minutes,
            t.intervall_task_seconds,
            t.subscription_timeout_minutes,
        ],
        [15, 50, 250, 90_000, 25, 20_000, 5, 6, 10, 60, 1440]
    );
    let password = settings.secret("ExchangeCertPassword").unwrap();
    assert_eq!(
        password
            .resolve(&inputs().secrets, &no_env(), Path::new("/"))
            .unwrap()
            .expose(),
        CERT_PASSWORD
    );
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());
}

#[test]
fn original_delegated_file_loads() {
    let text = file(&[
        ("ExchangeTenantId", &format!("{{{TENANT}}}")),
        ("ExchangeAppId", APP),
        ("ExchangeUseImpersonation", "false"),
        ("ExchangeServiceUser", "roomsdelegated@rooms.myo365.site"),
        ("ExchangeServicePassword", SERVICE_PASSWORD),
    ]);
    let settings = load(&text, &no_env()).unwrap();
    assert_eq!(settings.tenant_id(), TENANT);
    assert!(!settings.use_impersonation());
    let Auth::Delegated { user, password } = settings.auth() else {
        panic!("{:?}", settings.auth());
    };
    assert_eq!(user, "roomsdelegated@rooms.myo365.site");
    assert_eq!(
        password
            .resolve(&inputs().secrets, &no_env(), Path::new("/"))
            .unwrap()
            .expose(),
        SERVICE_PASSWORD
    );
    assert_eq!(settings.secret("exchangeservicepassword"), Some(password));
    assert_eq!(settings.secret("ExchangeClientSecret"), None);
}

#[test]
fn keys_match_case_insensitively() {
    let text = file(&[
        ("exchangetenantid", TENANT),
        ("EXCHANGEAPPID", APP),
        ("ExchangeClientSecret", CLIENT_SECRET),
        ("batchgeteventssize", "7"),
    ]);
    let settings = load(&text, &no_env()).unwrap();
    assert_eq!(settings.timing().batch_get_events_size, 7);
}

#[test]
fn environment_overrides_the_file_and_adds_absent_keys() {
    let text = file(&[
        ("ExchangeTenantId", "not-a-guid"),
        ("ExchangeAppId", APP),
        ("BatchGetEventsSize", "50"),
    ]);
    let environment = env(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeClientSecret", "env:ROOMS_SECRET"),
        ("ROOMS_SECRET", CLIENT_SECRET),
        ("BatchGetEventsSize", "60"),
        ("IntervallTaskInSeconds", "45"),
    ]);
    let settings = load(&text, &environment).unwrap();
    assert_eq!(settings.tenant_id(), TENANT);
    assert_eq!(settings.timing().batch_get_events_size, 60);
    assert_eq!(settings.timing().intervall_task_seconds, 45);
    let secret = settings.secret("ExchangeClientSecret").unwrap();
    assert_eq!(secret, &SecretRef::Env("ROOMS_SECRET".into()));
    assert_eq!(
        secret
            .resolve(&inputs().secrets, &environment, Path::new("/"))
            .unwrap()
            .expose(),
        CLIENT_SECRET
    );
}

#[test]
fn an_empty_environment_variable_switches_a_file_value_off() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", CLIENT_SECRET),
        ("ExchangeCertThumbprint", THUMBPRINT),
    ]);
    let errors = errors_of(&text, &no_env());
    assert!(errors.has(ErrorKind::Conflict));
    let settings = load(&text, &env(&[("ExchangeCertThumbprint", "")])).unwrap();
    assert!(matches!(settings.auth(), Auth::ClientSecret(_)));
}

#[test]
fn errors_from_the_environment_name_the_variable() {
    let text = file(&[("ExchangeTenantId", TENANT), ("ExchangeClientSecret", "x")]);
    let errors = errors_of(&text, &env(&[("ExchangeAppId", "nope")]));
    let error = error_for(&errors, "ExchangeAppId");
    assert_eq!(error.origin, Some(Origin::Env));
    assert_eq!(error.file, None);
    assert!(
        error
            .to_string()
            .starts_with("ExchangeAppId (from environment variable ExchangeAppId): ")
    );
}

#[test]
fn secret_and_thumbprint_together_are_a_conflict() {
    let mut entries = secret_settings();
    entries.push(("ExchangeCertThumbprint", THUMBPRINT));
    let errors = errors_of(&file(&entries), &no_env());
    assert_eq!(errors.errors.len(), 1, "{errors}");
    let error = &errors.errors[0];
    assert_eq!(error.kind, ErrorKind::Conflict);
    assert_eq!(error.origin, Some(Origin::File { line: 5, column: 3 }));
    assert!(
        error.fix.contains("remove ExchangeClientSecret"),
        "{}",
        error.fix
    );
}

#[test]
fn impersonation_without_secret_or_thumbprint_says_how_to_add_one() {
    let errors = errors_of(
        &file(&[("ExchangeTenantId", TENANT), ("ExchangeAppId", APP)]),
        &no_env(),
    );
    assert_eq!(errors.errors.len(), 1, "{errors}");
    let error = &errors.errors[0];
    assert_eq!(error.kind, ErrorKind::Missing);
    assert!(
        error
            .problem
            .contains("neither ExchangeClientSecret nor ExchangeCertThumbprint")
    );
    assert!(
        error.fix.contains("Certificates & secrets"),
        "{}",
        error.fix
    );
    assert!(
        error.fix.contains("ExchangeUseImpersonation to false"),
        "{}",
        error.fix
    );
}

#[test]
fn delegated_mode_needs_user_and_password() {
    let base = [
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeUseImpersonation", "false"),
    ];
    let errors = errors_of(&file(&base), &no_env());
    assert_eq!(errors.errors.len(), 2, "{errors}");
    assert_eq!(
        error_for(&errors, "ExchangeServiceUser").kind,
        ErrorKind::Missing
    );
    assert_eq!(
        error_for(&errors, "ExchangeServicePassword").kind,
        ErrorKind::Missing
    );
    assert!(
        error_for(&errors, "ExchangeServiceUser")
            .problem
            .starts_with("is not set")
    );

    let mut entries = base.to_vec();
    entries.push(("ExchangeServiceUser", "roomsdelegated@contoso.com"));
    entries.push(("ExchangeServicePassword", ""));
    let errors = errors_of(&file(&entries), &no_env());
    assert_eq!(errors.errors.len(), 1, "{errors}");
    let error = error_for(&errors, "ExchangeServicePassword");
    assert!(error.problem.starts_with("is empty"), "{}", error.problem);
    assert_eq!(error.origin, Some(Origin::File { line: 6, column: 3 }));

    let mut entries = base.to_vec();
    entries.push(("ExchangeServiceUser", "roomsdelegated"));
    entries.push(("ExchangeServicePassword", SERVICE_PASSWORD));
    let errors = errors_of(&file(&entries), &no_env());
    assert_eq!(
        error_for(&errors, "ExchangeServiceUser").kind,
        ErrorKind::BadUser
    );
}

#[test]
fn settings_of_the_other_mode_are_ignored_with_a_warning() {
    let mut entries = secret_settings();
    entries.push(("ExchangeServiceUser", "not even a user"));
    let settings = load(&file(&entries), &no_env()).unwrap();
    let warning = &settings.warnings()[0];
    assert_eq!(warning.kind, WarningKind::Ignored);
    assert_eq!(warning.key.as_deref(), Some("ExchangeServiceUser"));

    let entries = [
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeUseImpersonation", "false"),
        ("ExchangeServiceUser", "roomsdelegated@contoso.com"),
        ("ExchangeServicePassword", SERVICE_PASSWORD),
        ("ExchangeCertThumbprint", "bogus"),
    ];
    let settings = load(&file(&entries), &no_env()).unwrap();
    assert_eq!(settings.warnings()[0].kind, WarningKind::Ignored);
    assert_eq!(
        settings.warnings()[0].key.as_deref(),
        Some("ExchangeCertThumbprint")
    );
}

#[test]
fn ids_must_be_guids_and_the_fix_says_where_to_find_them() {
    let text = file(&[
        ("ExchangeTenantId", "contoso.onmicrosoft.com"),
        ("ExchangeAppId", "xxx"),
        ("ExchangeClientSecret", CLIENT_SECRET),
    ]);
    let errors = errors_of(&text, &no_env());
    assert_eq!(errors.errors.len(), 2, "{errors}");
    let tenant = error_for(&errors, "ExchangeTenantId");
    assert_eq!(tenant.kind, ErrorKind::NotAGuid);
    assert!(tenant.problem.contains("domain name"), "{}", tenant.problem);
    assert!(
        tenant.fix.contains("Directory (tenant) ID"),
        "{}",
        tenant.fix
    );
    let app = error_for(&errors, "ExchangeAppId");
    assert!(app.fix.contains("Application (client) ID"), "{}", app.fix);
    assert!(app.fix.contains("Overview"), "{}", app.fix);
    assert_eq!(app.origin, Some(Origin::File { line: 3, column: 3 }));
}

#[test]
fn missing_ids_are_reported_together() {
    let errors = errors_of(&file(&[("ExchangeClientSecret", CLIENT_SECRET)]), &no_env());
    assert_eq!(
        error_for(&errors, "ExchangeTenantId").kind,
        ErrorKind::Missing
    );
    assert_eq!(error_for(&errors, "ExchangeAppId").kind, ErrorKind::Missing);
}

#[test]
fn booleans_numbers_thumbprints_and_urls_are_checked_all_at_once() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeCertThumbprint", "33245943 3B54FC0C 2185F75A"),
        ("ExchangeAllowInsecureLoopback", "yes"),
        ("ExchangeAllowPrivateNetworks", "1"),
        ("ExchangeAuthorityUrl", "http://login.microsoftonline.com"),
        (
            "ExchangePushNotificationEndpointUrl",
            "http://127.0.0.1:8080/hook",
        ),
        ("BatchGetEventsSize", "0"),
        ("SubscriptionTimeoutInMinutes", "2000"),
        ("IntervallTaskInSeconds", "thirty"),
    ]);
    let errors = errors_of(&text, &no_env());
    let kinds: Vec<(&str, ErrorKind)> = errors
        .errors
        .iter()
        .map(|error| (error.key.as_deref().unwrap(), error.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ExchangeCertThumbprint", ErrorKind::BadThumbprint),
            ("ExchangeAllowInsecureLoopback", ErrorKind::NotABoolean),
            ("ExchangeAllowPrivateNetworks", ErrorKind::NotABoolean),
            ("ExchangeAuthorityUrl", ErrorKind::InsecureUrl),
            (
                "ExchangePushNotificationEndpointUrl",
                ErrorKind::InsecureUrl
            ),
            ("BatchGetEventsSize", ErrorKind::OutOfRange),
            ("IntervallTaskInSeconds", ErrorKind::NotANumber),
            ("SubscriptionTimeoutInMinutes", ErrorKind::OutOfRange),
        ]
    );
    let thumbprint = error_for(&errors, "ExchangeCertThumbprint");
    assert!(
        thumbprint.problem.contains("24 hexadecimal digits"),
        "{}",
        thumbprint.problem
    );
    let timeout = error_for(&errors, "SubscriptionTimeoutInMinutes");
    assert_eq!(
        timeout.to_string(),
        "/tenants/contoso/RoomsAppSettings.config:10:3: SubscriptionTimeoutInMinutes: is out of \
         range: the number is above the maximum 1440; fix: write a whole number of minutes from 1 \
         to 1440 (default 720)"
    );
}

#[test]
fn a_sha256_thumbprint_is_explained() {
    let mut entries = vec![("ExchangeTenantId", TENANT), ("ExchangeAppId", APP)];
    let sha256 = "A".repeat(64);
    entries.push(("ExchangeCertThumbprint", &sha256));
    let errors = errors_of(&file(&entries), &no_env());
    let error = error_for(&errors, "ExchangeCertThumbprint");
    assert!(error.problem.contains("SHA-256"), "{}", error.problem);
}

#[test]
fn plain_http_to_loopback_needs_the_test_switch() {
    let mut entries = secret_settings();
    entries.push(("ExchangeAuthorityUrl", "http://127.0.0.1:5001"));
    entries.push((
        "ExchangePushNotificationEndpointUrl",
        "http://[::1]:8080/api/webhooks/exchange",
    ));
    let errors = errors_of(&file(&entries), &no_env());
    assert_eq!(errors.errors.len(), 2, "{errors}");
    assert!(
        errors
            .errors
            .iter()
            .all(|e| e.kind == ErrorKind::InsecureUrl)
    );
    assert!(
        errors.errors[0]
            .fix
            .contains("ExchangeAllowInsecureLoopback")
    );

    entries.push(("ExchangeAllowInsecureLoopback", "true"));
    let settings = load(&file(&entries), &no_env()).unwrap();
    assert_eq!(settings.authority_url(), "http://127.0.0.1:5001");
    assert!(settings.allow_insecure_loopback());
}

#[test]
fn unknown_exchange_keys_warn_with_the_nearest_known_key() {
    let mut entries = secret_settings();
    entries.push(("ExchangeTennantId", TENANT));
    entries.push(("BatchGetEventSize", "5"));
    entries.push(("ExchangeSomethingCompletelyDifferent", "1"));
    entries.push(("SmtpServer", "mail.contoso.com"));
    let settings = load(&file(&entries), &no_env()).unwrap();
    let warnings: Vec<(&str, &str)> = settings
        .warnings()
        .iter()
        .map(|w| (w.key.as_deref().unwrap(), w.problem.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [
            (
                "ExchangeTennantId",
                "is not a known setting; did you mean ExchangeTenantId?"
            ),
            (
                "BatchGetEventSize",
                "is not a known setting; did you mean BatchGetEventsSize?"
            ),
            (
                "ExchangeSomethingCompletelyDifferent",
                "is not a setting of the Exchange sync and is ignored"
            ),
        ]
    );
    assert!(
        settings
            .warnings()
            .iter()
            .all(|w| w.kind == WarningKind::UnknownKey)
    );
}

#[test]
fn duplicate_keys_use_the_last_value_and_warn() {
    let mut entries = secret_settings();
    entries.push(("BatchSubscribeSize", "10"));
    entries.push(("BatchSubscribeSize", "20"));
    let settings = load(&file(&entries), &no_env()).unwrap();
    assert_eq!(settings.timing().batch_subscribe_size, 20);
    assert_eq!(settings.warnings()[0].kind, WarningKind::DuplicateKey);
}

#[test]
fn a_secret_id_in_place_of_the_secret_value_warns() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        (
            "ExchangeClientSecret",
            "0f2c7a54-9d3e-4c1b-8a6f-2b1d5e9c7a31",
        ),
    ]);
    let settings = load(&text, &no_env()).unwrap();
    let warning = &settings.warnings()[0];
    assert_eq!(warning.kind, WarningKind::Suspicious);
    assert!(
        warning.problem.contains("secret's ID"),
        "{}",
        warning.problem
    );
    assert!(!warning.to_string().contains("0f2c7a54"));
}

#[test]
fn malformed_secret_references_are_errors() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", "env:"),
    ]);
    let errors = errors_of(&text, &no_env());
    let error = error_for(&errors, "ExchangeClientSecret");
    assert_eq!(error.kind, ErrorKind::BadSecretReference);
    assert!(
        error.fix.contains("env:ROOMS_EXCHANGE_SECRET"),
        "{}",
        error.fix
    );
}

#[test]
fn public_config_has_effective_values_and_no_secrets() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeCertThumbprint", THUMBPRINT),
        ("ExchangeCertPassword", CERT_PASSWORD),
        ("ExchangeServicePassword", SERVICE_PASSWORD),
        ("IntervallTaskInSeconds", "60"),
    ]);
    let settings = load(&text, &env(&[("BatchGetEventsSize", "42")])).unwrap();
    let config = settings.public_config();
    let get = |key: &str| {
        config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("ExchangeTenantId"), Some(TENANT));
    assert_eq!(get("ExchangeAppId"), Some(APP));
    assert_eq!(
        get("ExchangeCertThumbprint"),
        Some("332459433B54FC0C2185F75A618FD3C83C7B9584")
    );
    assert_eq!(get("ExchangeUseImpersonation"), Some("true"));
    assert_eq!(
        get("ExchangeAuthorityUrl"),
        Some("https://login.microsoftonline.com")
    );
    assert_eq!(get("ExchangeAllowInsecureLoopback"), Some("false"));
    assert_eq!(get("ExchangeAllowPrivateNetworks"), Some("false"));
    assert_eq!(get("BatchGetEventsSize"), Some("42"));
    assert_eq!(get("IntervallTaskInSeconds"), Some("60"));
    assert_eq!(get("SubscriptionTimeoutInMinutes"), Some("720"));
    assert_eq!(
        get("BatchGetEventsSleepBetweenBatchesInMiliseconds"),
        Some("0")
    );
    assert_eq!(get("ExchangePushNotificationEndpointUrl"), None);
    for secret_key in keys::SECRET_KEYS {
        assert_eq!(get(secret_key), None, "{secret_key}");
    }
    let everything = format!("{config:?}");
    for secret in [CERT_PASSWORD, SERVICE_PASSWORD] {
        assert!(!everything.contains(secret));
    }
    // Every key appears once.
    let mut keys: Vec<&str> = config.iter().map(|(k, _)| k.as_str()).collect();
    let count = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), count);
}

#[test]
fn no_secret_value_shows_in_debug_display_or_errors() {
    // Valid settings with every secret set, some through the environment.
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", CLIENT_SECRET),
        ("ExchangeServicePassword", SERVICE_PASSWORD),
    ]);
    let environment = env(&[("ExchangeCertPassword", CERT_PASSWORD)]);
    let settings = load(&text, &environment).unwrap();
    let mut shown = format!("{settings:?} {:?}", settings.public_config());
    for warning in settings.warnings() {
        shown.push_str(&format!("{warning} {warning:?}"));
    }
    // Invalid settings with the secrets in the wrong places and in conflicts.
    let text = file(&[
        ("ExchangeTenantId", CLIENT_SECRET),
        ("ExchangeAppId", SERVICE_PASSWORD),
        ("ExchangeClientSecret", CLIENT_SECRET),
        ("ExchangeCertThumbprint", CERT_PASSWORD),
        ("ExchangeServiceUser", SERVICE_PASSWORD),
        ("ExchangeAuthorityUrl", CLIENT_SECRET),
        ("ExchangeAllowInsecureLoopback", CERT_PASSWORD),
        ("ExchangeAllowPrivateNetworks", SHORT_SECRET),
        ("ExchangeUseImpersonation", SHORT_SECRET),
        ("BatchGetEventsSize", SERVICE_PASSWORD),
        ("IntervallTaskInSeconds", SHORT_SECRET),
        ("SubscriptionTimeoutInMinutes", NUMERIC_SECRET),
        ("ExchangeClientSecrett", CLIENT_SECRET),
    ]);
    let errors = errors_of(&text, &environment);
    assert!(errors.errors.len() >= 5, "{errors}");
    shown.push_str(&format!("{errors} {errors:?}"));
    let errors = errors_of(
        &file(&[
            ("ExchangeUseImpersonation", "false"),
            ("ExchangeServiceUser", CLIENT_SECRET),
            ("ExchangeServicePassword", SERVICE_PASSWORD),
        ]),
        &no_env(),
    );
    shown.push_str(&format!("{errors} {errors:?}"));
    for secret in [
        CLIENT_SECRET,
        SERVICE_PASSWORD,
        CERT_PASSWORD,
        SHORT_SECRET,
        NUMERIC_SECRET,
    ] {
        assert!(!shown.contains(secret), "{secret} shown in: {shown}");
    }
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn load_reads_the_config_file_of_a_tenant_directory() {
    let dir = tempfile::tempdir().unwrap();
    let error = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap_err();
    assert!(error.has(ErrorKind::Unreadable));
    assert!(
        error.to_string().contains("RoomsAppSettings.config"),
        "{error}"
    );

    std::fs::write(dir.path().join(SETTINGS_FILE), file(&secret_settings())).unwrap();
    let settings = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap();
    assert_eq!(settings.source(), dir.path().join(SETTINGS_FILE));
    assert_eq!(settings.tenant_id(), TENANT);
}

#[test]
fn malformed_config_stops_with_one_positioned_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(SETTINGS_FILE),
        "<RoomsAppSettings>\n  <add key=\"ExchangeAppId\" value=\"x\">\n</RoomsAppSettings>",
    )
    .unwrap();
    let errors = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap_err();
    assert_eq!(errors.errors.len(), 1);
    assert_eq!(errors.errors[0].kind, ErrorKind::Malformed);
    assert_eq!(
        errors.errors[0].origin,
        Some(Origin::File { line: 3, column: 1 })
    );
}

const FABRIKAM_TENANT: &str = "a1b2c3d4-1111-4222-8333-944455566677";

fn appsettings_json() -> String {
    format!(
        r#"{{
  "Logging": {{ "LogLevel": {{ "Default": "Information" }} }},
  "CalendarSync": {{
    "Ews": {{
      "Common": {{
        "NotificationEndpointUrl": "https://rooms.contoso.com/api/webhooks/exchange",
        "RenewalThresholdMinutes": 45,
        "StatusFrequencyMinutes": 15,
        "BatchGetEventsSize": 80
      }},
      "Providers": {{
        "O365": {{
          "EwsUrl": "https://outlook.office365.com/EWS/Exchange.asmx",
          "TenantId": "{TENANT}",
          "AppId": "{APP}",
          "ClientSecret": "{CLIENT_SECRET}",
          "UseImpersonation": true,
          "ServiceUser": null,
          "ServicePassword": null,
          "DomainOverrides": {{
            "Fabrikam.com": {{ "TenantId": "{FABRIKAM_TENANT}" }},
            "northwind.example": {{
              "TenantId": "{FABRIKAM_TENANT}",
              "UseImpersonation": false,
              "ServiceUser": "sync@northwind.example",
              "ServicePassword": "env:NORTHWIND_PASSWORD"
            }}
          }}
        }}
      }}
    }}
  }}
}}"#
    )
}

#[test]
fn appsettings_json_maps_onto_the_same_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(JSON_SETTINGS_FILE), appsettings_json()).unwrap();
    let settings = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap();
    assert_eq!(settings.tenant_id(), TENANT);
    assert_eq!(settings.app_id(), APP);
    assert!(matches!(settings.auth(), Auth::ClientSecret(_)));
    assert_eq!(
        settings.push_notification_endpoint_url(),
        Some("https://rooms.contoso.com/api/webhooks/exchange")
    );
    assert_eq!(settings.timing().renewal_threshold_minutes, 45);
    assert_eq!(settings.timing().status_frequency_minutes, 15);
    assert_eq!(settings.timing().batch_get_events_size, 80);
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());

    // Fabrikam inherits app and client secret from the main provider.
    let fabrikam = settings.credentials_for_domain("FABRIKAM.COM").unwrap();
    assert_eq!(fabrikam.domain, "fabrikam.com");
    assert_eq!(fabrikam.tenant_id, FABRIKAM_TENANT);
    assert_eq!(fabrikam.app_id, APP);
    assert_eq!(&fabrikam.auth, settings.auth());
    let northwind = settings
        .credentials_for_domain("northwind.example")
        .unwrap();
    assert_eq!(
        northwind.auth,
        Auth::Delegated {
            user: "sync@northwind.example".into(),
            password: SecretRef::Env("NORTHWIND_PASSWORD".into()),
        }
    );
    assert!(settings.credentials_for_domain("contoso.com").is_none());
    assert_eq!(
        settings.secret("ExchangeServicePassword@northwind.example"),
        Some(&SecretRef::Env("NORTHWIND_PASSWORD".into()))
    );
    let config = settings.public_config();
    assert!(config.contains(&(
        "ExchangeTenantId@fabrikam.com".to_owned(),
        FABRIKAM_TENANT.to_owned()
    )));
    assert!(config.contains(&(
        "ExchangeServiceUser@northwind.example".to_owned(),
        "sync@northwind.example".to_owned()
    )));
    assert!(!format!("{config:?}").contains(CLIENT_SECRET));

    // The environment overrides JSON values by their RoomsAppSettings.config names.
    let settings =
        TenantSettings::load(dir.path(), &env(&[("BatchGetEventsSize", "9")]), &inputs()).unwrap();
    assert_eq!(settings.timing().batch_get_events_size, 9);
}

#[test]
fn appsettings_json_errors_name_the_json_path() {
    let text = appsettings_json()
        .replace(&format!("\"AppId\": \"{APP}\""), "\"AppId\": \"xxx\"")
        .replace("\"TenantId\": \"a1b2", "\"TenantId\": \"zzzz");
    let (raw, overrides) = json::parse(Path::new("appsettings.json"), &text).unwrap();
    let errors = TenantSettings::from_raw_with_overrides(&raw, &overrides, &no_env(), &inputs())
        .unwrap_err();
    let app = error_for(&errors, "ExchangeAppId");
    assert_eq!(
        app.origin,
        Some(Origin::Json("CalendarSync:Ews:Providers:O365:AppId".into()))
    );
    assert!(app.to_string().starts_with(
        "ExchangeAppId (CalendarSync:Ews:Providers:O365:AppId in appsettings.json): "
    ));

    // With a valid main AppId, the broken override tenant is reported at its path.
    let text = appsettings_json().replace("\"TenantId\": \"a1b2", "\"TenantId\": \"zzzz");
    let (raw, overrides) = json::parse(Path::new("appsettings.json"), &text).unwrap();
    let errors = TenantSettings::from_raw_with_overrides(&raw, &overrides, &no_env(), &inputs())
        .unwrap_err();
    let error = error_for(&errors, "TenantId");
    assert_eq!(error.kind, ErrorKind::NotAGuid);
    assert_eq!(
        error.origin,
        Some(Origin::Json(
            "CalendarSync:Ews:Providers:O365:DomainOverrides:Fabrikam.com:TenantId".into()
        ))
    );
}

#[test]
fn malformed_or_incomplete_appsettings_json() {
    let errors = json::parse(
        Path::new("appsettings.json"),
        "{\n  \"CalendarSync\": {\n    \"Ews\": [\n}",
    )
    .unwrap_err();
    assert_eq!(errors.errors[0].kind, ErrorKind::Malformed);
    assert!(matches!(
        errors.errors[0].origin,
        Some(Origin::File { line: 4, .. })
    ));

    let errors = json::parse(Path::new("appsettings.json"), r#"{"Logging": {}}"#).unwrap_err();
    assert_eq!(errors.errors[0].kind, ErrorKind::Missing);
    assert!(errors.errors[0].problem.contains("CalendarSync:Ews"));

    let text = appsettings_json().replace("\"EwsUrl\"", "\"EwsUlr\"");
    let (raw, _) = json::parse(Path::new("appsettings.json"), &text).unwrap();
    let warning = &raw.warnings()[0];
    assert_eq!(warning.kind, WarningKind::UnknownKey);
    assert!(warning.problem.contains("EwsUrl"), "{}", warning.problem);
}

#[test]
fn the_environment_overrides_nothing_unless_the_operator_turns_overrides_on() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", CLIENT_SECRET),
        ("BatchGetEventsSize", "50"),
    ]);
    let environment = env(&[
        ("ExchangeTenantId", "not-a-guid"),
        ("ExchangeCertThumbprint", THUMBPRINT),
        ("BatchGetEventsSize", "60"),
    ]);
    let off = TenantInputs {
        env_overrides: false,
        ..inputs()
    };
    let settings = load_with(&text, &environment, &off).unwrap();
    assert_eq!(settings.tenant_id(), TENANT);
    assert_eq!(settings.timing().batch_get_events_size, 50);
    assert!(matches!(settings.auth(), Auth::ClientSecret(_)));
    // Turned on, the same environment applies (and here spoils the settings).
    let errors = load_with(&text, &environment, &inputs()).unwrap_err();
    assert_eq!(
        error_for(&errors, "ExchangeTenantId").origin,
        Some(Origin::Env)
    );
    assert!(errors.has(ErrorKind::Conflict), "{errors}");
    // The default is off.
    assert!(!TenantInputs::default().env_overrides);
}

#[test]
fn env_secrets_need_an_allowed_prefix_and_the_error_names_the_flag() {
    let text = file(&[
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeClientSecret", "env:HOME"),
    ]);
    let environment = env(&[("HOME", "/root")]);
    for scope in [SecretScope::new(), inputs().secrets] {
        let inputs = TenantInputs {
            secrets: scope,
            env_overrides: false,
        };
        let errors = load_with(&text, &environment, &inputs).unwrap_err();
        let error = error_for(&errors, "ExchangeClientSecret");
        assert_eq!(error.kind, ErrorKind::SecretNotAllowed);
        assert_eq!(error.origin, Some(Origin::File { line: 4, column: 3 }));
        assert!(
            error.problem.contains("environment variable HOME"),
            "{error}"
        );
        assert!(error.fix.contains("--secret-env-prefix"), "{error}");
        assert!(!error.to_string().contains("/root"), "{error}");
    }
    let allowed = TenantInputs {
        secrets: SecretScope::new().allow_env_prefix("HO").unwrap(),
        env_overrides: false,
    };
    let settings = load_with(&text, &environment, &allowed).unwrap();
    assert_eq!(
        settings.secret("ExchangeClientSecret"),
        Some(&SecretRef::Env("HOME".into()))
    );
}

#[test]
fn file_secrets_outside_the_tenant_directory_stop_the_settings() {
    let root = tempfile::tempdir().unwrap();
    let tenant = root.path().join("contoso");
    std::fs::create_dir_all(&tenant).unwrap();
    std::fs::create_dir_all(root.path().join("other")).unwrap();
    std::fs::write(root.path().join("other/secret.txt"), CLIENT_SECRET).unwrap();
    for reference in ["file:../other/secret.txt", "file:/etc/passwd"] {
        std::fs::write(
            tenant.join(SETTINGS_FILE),
            file(&[
                ("ExchangeTenantId", TENANT),
                ("ExchangeAppId", APP),
                ("ExchangeClientSecret", reference),
            ]),
        )
        .unwrap();
        let errors =
            TenantSettings::load(&tenant, &no_env(), &TenantInputs::default()).unwrap_err();
        let error = error_for(&errors, "ExchangeClientSecret");
        assert_eq!(error.kind, ErrorKind::SecretNotAllowed, "{reference}");
        let message = error.to_string();
        assert!(
            message.contains("outside the tenant directory"),
            "{message}"
        );
        assert!(message.contains("--secrets-dir"), "{message}");
        assert!(!message.contains(CLIENT_SECRET), "{message}");
    }
    // A file inside, even one that does not exist yet, passes the settings check.
    std::fs::write(
        tenant.join(SETTINGS_FILE),
        file(&[
            ("ExchangeTenantId", TENANT),
            ("ExchangeAppId", APP),
            ("ExchangeClientSecret", "file:secrets/later.txt"),
        ]),
    )
    .unwrap();
    assert!(TenantSettings::load(&tenant, &no_env(), &TenantInputs::default()).is_ok());
}

#[test]
fn secrets_of_domain_overrides_are_held_to_the_same_scope() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(JSON_SETTINGS_FILE), appsettings_json()).unwrap();
    let only_rooms = TenantInputs {
        secrets: SecretScope::new().allow_env_prefix("ROOMS_").unwrap(),
        env_overrides: false,
    };
    let errors = TenantSettings::load(dir.path(), &no_env(), &only_rooms).unwrap_err();
    let error = error_for(&errors, "ServicePassword");
    assert_eq!(error.kind, ErrorKind::SecretNotAllowed);
    assert_eq!(
        error.origin,
        Some(Origin::Json(
            "CalendarSync:Ews:Providers:O365:DomainOverrides:northwind.example:ServicePassword"
                .into()
        ))
    );
    assert!(error.problem.contains("NORTHWIND_PASSWORD"), "{error}");
}

#[test]
fn only_the_thumbprints_the_settings_name_are_used_certificates() {
    let settings = load(
        &file(&[
            ("ExchangeTenantId", TENANT),
            ("ExchangeAppId", APP),
            ("ExchangeCertThumbprint", THUMBPRINT),
        ]),
        &no_env(),
    )
    .unwrap();
    assert!(settings.uses_certificate("332459433B54FC0C2185F75A618FD3C83C7B9584"));
    assert!(!settings.uses_certificate("747907D37625EDAC941AC8DC72B2BA85FF4E9B14"));
    // A domain override's certificate counts too.
    let json = appsettings_json().replace(
        r#""Fabrikam.com": { "TenantId": "#,
        r#""Fabrikam.com": { "CertThumbprint": "74:79:07:d3:76:25:ed:ac:94:1a:c8:dc:72:b2:ba:85:ff:4e:9b:14", "TenantId": "#,
    );
    assert_ne!(json, appsettings_json());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(JSON_SETTINGS_FILE), json).unwrap();
    let settings = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap();
    assert!(settings.uses_certificate("747907D37625EDAC941AC8DC72B2BA85FF4E9B14"));
    assert!(!settings.uses_certificate("332459433B54FC0C2185F75A618FD3C83C7B9584"));
}

#[test]
fn private_networks_are_a_boolean_setting_off_by_default() {
    let mut entries = secret_settings();
    entries.push(("exchangeallowprivatenetworks", " TRUE "));
    let settings = load(&file(&entries), &no_env()).unwrap();
    assert!(settings.allow_private_networks());
    assert!(
        settings
            .public_config()
            .contains(&("ExchangeAllowPrivateNetworks".to_owned(), "true".to_owned()))
    );
    let json = appsettings_json().replace(
        r#""UseImpersonation": true,"#,
        r#""UseImpersonation": true, "AllowPrivateNetworks": true,"#,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(JSON_SETTINGS_FILE), json).unwrap();
    let settings = TenantSettings::load(dir.path(), &no_env(), &inputs()).unwrap();
    assert!(settings.allow_private_networks());
    assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());
}

#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_settings_file_is_refused_at_once() {
    use crate::files::test_support::{mkfifo, returns_promptly};
    for name in [SETTINGS_FILE, JSON_SETTINGS_FILE] {
        let dir = tempfile::tempdir().unwrap();
        mkfifo(&dir.path().join(name));
        let tenant = dir.path().to_owned();
        let errors = returns_promptly("loading settings from a FIFO", move || {
            TenantSettings::load(&tenant, &no_env(), &TenantInputs::default()).unwrap_err()
        });
        assert!(errors.has(ErrorKind::Unreadable), "{errors}");
        let message = errors.to_string();
        assert!(message.contains(name), "{message}");
        assert!(
            message.contains("is a FIFO (named pipe), not a regular file"),
            "{message}"
        );
        assert!(
            message.contains("replace it with the settings file"),
            "{message}"
        );
    }
}

#[test]
fn sync_settings_have_defaults_ranges_and_choices() {
    let base = [
        ("ExchangeTenantId", TENANT),
        ("ExchangeAppId", APP),
        ("ExchangeCertThumbprint", THUMBPRINT),
    ];
    let settings = load(&file(&base), &no_env()).unwrap();
    let config = settings.public_config();
    let get = |key: &str| {
        config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("SyncGetItemBatchSize").as_deref(), Some("100"));
    assert_eq!(get("SyncRollbackAttempts").as_deref(), Some("5"));
    assert_eq!(get("SyncCancelAttempts").as_deref(), Some("2"));
    assert_eq!(
        get("SyncSendMeetingInvitations").as_deref(),
        Some("SendToAllAndSaveCopy")
    );

    let mut bad = base.to_vec();
    bad.push(("SyncSendMeetingInvitations", "SendToEveryone"));
    bad.push(("SyncGetItemBatchSize", "5000"));
    let errors = errors_of(&file(&bad), &no_env());
    let choice = error_for(&errors, "SyncSendMeetingInvitations");
    assert_eq!(choice.kind, ErrorKind::NotAChoice);
    assert!(
        choice.problem.contains("SendToEveryone"),
        "{}",
        choice.problem
    );
    assert!(choice.fix.contains("SendToNone"), "{}", choice.fix);
    assert_eq!(
        error_for(&errors, "SyncGetItemBatchSize").kind,
        ErrorKind::OutOfRange
    );

    let mut good = base.to_vec();
    good.push(("SyncSendMeetingInvitations", "sendtonone"));
    let settings = load(&file(&good), &no_env()).unwrap();
    assert!(
        settings
            .public_config()
            .contains(&("SyncSendMeetingInvitations".into(), "SendToNone".into()))
    );
}
