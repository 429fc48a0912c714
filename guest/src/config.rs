//! Typed settings, read through [`Platform::config`] under their original
//! `RoomsAppSettings` key names.
//!
//! Reading happens in two steps (ripgrep's low/high split): [`RawSettings::read`]
//! only fetches the strings and fails only when the settings store itself
//! fails; [`RawSettings::validate`] turns them into [`Settings`] with defaults
//! applied, and names the key and the fix for every value it refuses. The host
//! validated the same keys already, but the component reads defensively.

use crate::error::Error;
use crate::platform::Platform;

/// The `RoomsAppSettings` keys the component reads (all non-secret).
pub mod keys {
    /// Directory (tenant) ID or verified domain.
    pub const TENANT_ID: &str = "ExchangeTenantId";
    /// Application (client) ID of the Entra app registration.
    pub const APP_ID: &str = "ExchangeAppId";
    /// SHA-1 thumbprint of the certificate for the certificate sign-in.
    pub const CERT_THUMBPRINT: &str = "ExchangeCertThumbprint";
    /// `true` (app-only with impersonation, default) or `false` (delegated).
    pub const USE_IMPERSONATION: &str = "ExchangeUseImpersonation";
    /// User principal name of the delegated service user.
    pub const SERVICE_USER: &str = "ExchangeServiceUser";
    /// The Entra ID authority (default `https://login.microsoftonline.com`).
    pub const AUTHORITY_URL: &str = "ExchangeAuthorityUrl";
    /// Minutes before expiry at which a cached token is renewed (default 20).
    pub const TOKEN_MINUTES_BEFORE_RENEW: &str = "OAuthTokenMinutesBeforeRenew";
    /// Secret: the client secret's value (revealed through `secrets`).
    pub const CLIENT_SECRET: &str = "ExchangeClientSecret";
    /// Secret: the service user's password (revealed through `secrets`).
    pub const SERVICE_PASSWORD: &str = "ExchangeServicePassword";

    /// Every non-secret key, in the order they are read.
    pub const ALL: [&str; 7] = [
        TENANT_ID,
        APP_ID,
        CERT_THUMBPRINT,
        USE_IMPERSONATION,
        SERVICE_USER,
        AUTHORITY_URL,
        TOKEN_MINUTES_BEFORE_RENEW,
    ];
}

/// The Entra ID authority used when `ExchangeAuthorityUrl` is not set.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// `OAuthTokenMinutesBeforeRenew` when not set.
pub const DEFAULT_MINUTES_BEFORE_RENEW: u64 = 20;

/// The largest accepted `OAuthTokenMinutesBeforeRenew` (one day).
const MAX_MINUTES_BEFORE_RENEW: u64 = 24 * 60;

/// How the component signs in, decided by the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// App-only (impersonation) with `ExchangeClientSecret`.
    ClientSecret,
    /// App-only (impersonation) with the certificate `ExchangeCertThumbprint`.
    Certificate(Thumbprint),
    /// Delegated: the service user signs in with its password (ROPC).
    Password {
        /// `ExchangeServiceUser`.
        user: String,
    },
}

impl Credential {
    /// True for the app-only flows, which use EWS impersonation.
    pub fn is_app_only(&self) -> bool {
        !matches!(self, Self::Password { .. })
    }
}

/// A SHA-1 certificate thumbprint: 20 bytes, written as 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprint {
    bytes: [u8; 20],
}

impl Thumbprint {
    /// Parses a thumbprint as Windows and OpenSSL print it: case-insensitive,
    /// with spaces or colons between the digits, and without the invisible
    /// left-to-right mark that copying from the Windows certificate dialog adds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits: Vec<u8> = text
            .chars()
            .filter(|c| {
                !c.is_whitespace() && !matches!(c, ':' | '\u{200e}' | '\u{200f}' | '\u{feff}')
            })
            .map(|c| c.to_digit(16).map(|d| d as u8).ok_or(c))
            .collect::<Result<_, char>>()
            .map_err(|c| format!("contains '{}', which is not a hex digit", c.escape_debug()))?;
        if digits.len() != 40 {
            return Err(format!(
                "has {} hex digits; a SHA-1 thumbprint has 40",
                digits.len()
            ));
        }
        let mut bytes = [0u8; 20];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Ok(Self { bytes })
    }

    /// The 20 bytes of the SHA-1.
    pub fn bytes(&self) -> &[u8; 20] {
        &self.bytes
    }

    /// 40 upper-case hex digits, the form passed to `secrets.sign-rs256`.
    pub fn hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02X}")).collect()
    }
}

/// The settings as read, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSettings {
    values: Vec<(&'static str, String)>,
}

impl RawSettings {
    /// Reads every key in [`keys::ALL`]. Fails only when the store fails.
    pub fn read(platform: &dyn Platform) -> Result<Self, Error> {
        let mut values = Vec::new();
        for key in keys::ALL {
            match platform.config(key) {
                Ok(Some(value)) => values.push((key, value)),
                Ok(None) => {}
                Err(e) => {
                    return Err(Error::configuration(
                        key,
                        format!("could not be read from the settings store ({})", e.0),
                        "Check the tenant's settings file and the host's log; the settings must \
                         be readable before any check can run.",
                    ));
                }
            }
        }
        Ok(Self { values })
    }

    /// Settings from `(key, value)` pairs, as a test or another host supplies them.
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        Self {
            values: pairs.iter().map(|&(k, v)| (k, v.to_owned())).collect(),
        }
    }

    /// The trimmed value of `key`; `None` when unset or blank.
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Applies defaults and checks every value.
    pub fn validate(&self) -> Result<Settings, Error> {
        let tenant_id = self.tenant_id()?;
        let app_id = self.required(
            keys::APP_ID,
            "Set ExchangeAppId to the Application (client) ID shown in Entra admin center → App \
             registrations → <app> → Overview.",
        )?;
        if app_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::configuration(
                keys::APP_ID,
                "contains spaces or control characters",
                "Copy the Application (client) ID from Entra admin center → App registrations → \
                 <app> → Overview into ExchangeAppId.",
            ));
        }
        let credential = if self.use_impersonation()? {
            match self.get(keys::CERT_THUMBPRINT) {
                Some(text) => Credential::Certificate(Thumbprint::parse(text).map_err(|problem| {
                    Error::configuration(
                        keys::CERT_THUMBPRINT,
                        problem,
                        "Set ExchangeCertThumbprint to the certificate's SHA-1 thumbprint (40 hex \
                         digits) as shown in Entra admin center → App registrations → <app> → \
                         Certificates & secrets → Certificates, or remove it to sign in with \
                         ExchangeClientSecret.",
                    )
                })?),
                None => Credential::ClientSecret,
            }
        } else {
            let user = self.required(
                keys::SERVICE_USER,
                "Set ExchangeServiceUser to the user principal name of the service user \
                 (svc-rooms@contoso.com), or set ExchangeUseImpersonation to true for app-only \
                 access.",
            )?;
            if !user.contains('@') || user.chars().any(char::is_whitespace) {
                return Err(Error::configuration(
                    keys::SERVICE_USER,
                    "is not a user principal name (name@domain)",
                    "Set ExchangeServiceUser to the service user's sign-in name as shown in Entra \
                     admin center → Users → <user> → User principal name.",
                ));
            }
            Credential::Password { user }
        };
        Ok(Settings {
            tenant_id,
            app_id,
            credential,
            authority: self.authority()?,
            renew_before_secs: self.minutes_before_renew()? * 60,
        })
    }

    fn required(&self, key: &str, fix: &str) -> Result<String, Error> {
        self.get(key)
            .map(str::to_owned)
            .ok_or_else(|| Error::configuration(key, "is not set", fix))
    }

    fn tenant_id(&self) -> Result<String, Error> {
        const FIX: &str = "Set ExchangeTenantId to the Directory (tenant) ID shown in Entra admin \
                           center → Overview (or the tenant's verified domain, e.g. \
                           contoso.onmicrosoft.com).";
        let tenant = self.required(keys::TENANT_ID, FIX)?;
        if !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(Error::configuration(
                keys::TENANT_ID,
                "is neither a tenant ID nor a domain name",
                FIX,
            ));
        }
        if ["common", "organizations", "consumers"]
            .iter()
            .any(|generic| tenant.eq_ignore_ascii_case(generic))
        {
            return Err(Error::configuration(
                keys::TENANT_ID,
                format!("is '{tenant}', which cannot issue app or service-account tokens"),
                FIX,
            ));
        }
        Ok(tenant)
    }

    fn use_impersonation(&self) -> Result<bool, Error> {
        match self.get(keys::USE_IMPERSONATION) {
            None => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Error::configuration(
                keys::USE_IMPERSONATION,
                format!("is '{v}', not true or false"),
                "Set ExchangeUseImpersonation to true (app-only access with impersonation) or \
                 false (delegated access by ExchangeServiceUser).",
            )),
        }
    }

    fn authority(&self) -> Result<String, Error> {
        let Some(text) = self.get(keys::AUTHORITY_URL) else {
            return Ok(DEFAULT_AUTHORITY.to_owned());
        };
        const FIX: &str = "Set ExchangeAuthorityUrl to the Entra ID authority without the tenant, \
                           normally https://login.microsoftonline.com, or remove it.";
        let url = crate::url::HttpUrl::parse(text)
            .map_err(|problem| Error::configuration(keys::AUTHORITY_URL, problem, FIX))?;
        if url.path_and_query().contains('?') {
            return Err(Error::configuration(
                keys::AUTHORITY_URL,
                "must not contain a query (?...)",
                FIX,
            ));
        }
        Ok(url.to_string().trim_end_matches('/').to_owned())
    }

    fn minutes_before_renew(&self) -> Result<u64, Error> {
        let Some(text) = self.get(keys::TOKEN_MINUTES_BEFORE_RENEW) else {
            return Ok(DEFAULT_MINUTES_BEFORE_RENEW);
        };
        match text.parse::<u64>() {
            Ok(minutes) if minutes <= MAX_MINUTES_BEFORE_RENEW => Ok(minutes),
            _ => Err(Error::configuration(
                keys::TOKEN_MINUTES_BEFORE_RENEW,
                format!(
                    "is '{text}', not a whole number of minutes from 0 to {MAX_MINUTES_BEFORE_RENEW}"
                ),
                "Set OAuthTokenMinutesBeforeRenew to the minutes before expiry at which a token \
                 is renewed (default 20), or remove it.",
            )),
        }
    }
}

/// Validated settings of the tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ExchangeTenantId`.
    pub tenant_id: String,
    /// `ExchangeAppId`.
    pub app_id: String,
    /// The sign-in flow and its non-secret parameters.
    pub credential: Credential,
    /// `ExchangeAuthorityUrl` without a trailing `/`.
    pub authority: String,
    /// `OAuthTokenMinutesBeforeRenew`, in seconds.
    pub renew_before_secs: u64,
}

impl Settings {
    /// The v2 token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
    const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

    fn problem(result: Result<Settings, Error>) -> (String, String, String) {
        match result {
            Err(Error::Configuration(p)) => (p.key, p.problem, p.fix),
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_give_the_client_secret_flow() {
        let settings = RawSettings::from_pairs(&[(keys::TENANT_ID, TENANT), (keys::APP_ID, APP)])
            .validate()
            .unwrap();
        assert_eq!(settings.credential, Credential::ClientSecret);
        assert_eq!(settings.authority, DEFAULT_AUTHORITY);
        assert_eq!(settings.renew_before_secs, 20 * 60);
        assert_eq!(
            settings.token_endpoint(),
            format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
        );
    }

    #[test]
    fn thumbprint_selects_the_certificate_flow() {
        let settings = RawSettings::from_pairs(&[
            (keys::TENANT_ID, TENANT),
            (keys::APP_ID, APP),
            (keys::USE_IMPERSONATION, "TRUE"),
            (
                keys::CERT_THUMBPRINT,
                "33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84",
            ),
        ])
        .validate()
        .unwrap();
        let Credential::Certificate(thumbprint) = &settings.credential else {
            panic!("{settings:?}")
        };
        assert_eq!(thumbprint.hex(), "332459433B54FC0C2185F75A618FD3C83C7B9584");
        assert!(settings.credential.is_app_only());
    }

    #[test]
    fn impersonation_false_selects_the_password_flow_and_ignores_the_thumbprint() {
        let settings = RawSettings::from_pairs(&[
            (keys::TENANT_ID, TENANT),
            (keys::APP_ID, APP),
            (keys::USE_IMPERSONATION, " False "),
            (keys::CERT_THUMBPRINT, "not a thumbprint"),
            (keys::SERVICE_USER, "svc-rooms@contoso.com"),
        ])
        .validate()
        .unwrap();
        assert_eq!(
            settings.credential,
            Credential::Password {
                user: "svc-rooms@contoso.com".into()
            }
        );
        assert!(!settings.credential.is_app_only());
    }

    #[test]
    fn authority_loses_its_trailing_slash() {
        let settings = RawSettings::from_pairs(&[
            (keys::TENANT_ID, TENANT),
            (keys::APP_ID, APP),
            (keys::AUTHORITY_URL, "http://127.0.0.1:8765/"),
            (keys::TOKEN_MINUTES_BEFORE_RENEW, "5"),
        ])
        .validate()
        .unwrap();
        assert_eq!(settings.authority, "http://127.0.0.1:8765");
        assert_eq!(
            settings.token_endpoint(),
            format!("http://127.0.0.1:8765/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(settings.renew_before_secs, 300);
    }

    #[test]
    fn thumbprint_parsing_accepts_windows_and_openssl_forms() {
        let expected = "332459433B54FC0C2185F75A618FD3C83C7B9584";
        for text in [
            "332459433B54FC0C2185F75A618FD3C83C7B9584",
            "332459433b54fc0c2185f75a618fd3c83c7b9584",
            "33:24:59:43:3B:54:FC:0C:21:85:F7:5A:61:8F:D3:C8:3C:7B:95:84",
            "\u{200e}33 24 59 43 3b 54 fc 0c 21 85 f7 5a 61 8f d3 c8 3c 7b 95 84",
        ] {
            assert_eq!(Thumbprint::parse(text).unwrap().hex(), expected, "{text:?}");
        }
        assert!(
            Thumbprint::parse("3324")
                .unwrap_err()
                .contains("has 4 hex digits")
        );
        assert!(
            Thumbprint::parse("Z32459433B54FC0C2185F75A618FD3C83C7B9584")
                .unwrap_err()
                .contains("'Z'")
        );
    }

    #[test]
    fn every_bad_value_names_its_key_and_a_fix() {
        let base = [(keys::TENANT_ID, TENANT), (keys::APP_ID, APP)];
        type Case<'a> = (Vec<(&'static str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![(keys::APP_ID, APP)], keys::TENANT_ID, "is not set"),
            (vec![(keys::TENANT_ID, TENANT)], keys::APP_ID, "is not set"),
            (
                vec![(keys::TENANT_ID, "common"), (keys::APP_ID, APP)],
                keys::TENANT_ID,
                "cannot issue",
            ),
            (
                vec![(keys::TENANT_ID, "con/toso"), (keys::APP_ID, APP)],
                keys::TENANT_ID,
                "neither",
            ),
            (
                vec![(keys::TENANT_ID, TENANT), (keys::APP_ID, "a b")],
                keys::APP_ID,
                "spaces",
            ),
            (
                [&base[..], &[(keys::USE_IMPERSONATION, "yes")]].concat(),
                keys::USE_IMPERSONATION,
                "not true or false",
            ),
            (
                [&base[..], &[(keys::CERT_THUMBPRINT, "1234")]].concat(),
                keys::CERT_THUMBPRINT,
                "40",
            ),
            (
                [&base[..], &[(keys::USE_IMPERSONATION, "false")]].concat(),
                keys::SERVICE_USER,
                "is not set",
            ),
            (
                [
                    &base[..],
                    &[
                        (keys::USE_IMPERSONATION, "false"),
                        (keys::SERVICE_USER, "svc"),
                    ],
                ]
                .concat(),
                keys::SERVICE_USER,
                "user principal name",
            ),
            (
                [
                    &base[..],
                    &[(keys::AUTHORITY_URL, "login.microsoftonline.com")],
                ]
                .concat(),
                keys::AUTHORITY_URL,
                "https://",
            ),
            (
                [
                    &base[..],
                    &[(keys::AUTHORITY_URL, "https://login.microsoftonline.com?x=1")],
                ]
                .concat(),
                keys::AUTHORITY_URL,
                "query",
            ),
            (
                [&base[..], &[(keys::TOKEN_MINUTES_BEFORE_RENEW, "-5")]].concat(),
                keys::TOKEN_MINUTES_BEFORE_RENEW,
                "whole number",
            ),
            (
                [&base[..], &[(keys::TOKEN_MINUTES_BEFORE_RENEW, "99999")]].concat(),
                keys::TOKEN_MINUTES_BEFORE_RENEW,
                "whole number",
            ),
        ];
        for (pairs, key, needle) in cases {
            let (got_key, problem_text, fix) = problem(RawSettings::from_pairs(&pairs).validate());
            assert_eq!(got_key, key, "{pairs:?}");
            assert!(problem_text.contains(needle), "{pairs:?}: {problem_text}");
            assert!(fix.contains(key), "{key}: {fix}");
        }
    }
}
