//! Entra ID token-endpoint errors: parsing the JSON error body and turning
//! it into advice for the admin.
//!
//! Microsoft's guidance is to branch on `error` and `error_codes`, never on
//! `error_description`; the advice here is keyed on the first AADSTS number.
//! Each known code gives a message (the cause) and a fix naming exactly what
//! must change: a setting key, or a step in the Entra admin center. Unknown
//! codes fall back to the OAuth error, the first line of the description and
//! a pointer to the sign-in logs.

use super::AuthContext;
use super::json::{self, JsonError, Reader};
use crate::config::Credential;
use crate::error::AuthFailure;
use crate::safe_text;

/// An error answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// The HTTP status (400 for most errors, 401 for `invalid_client`).
    pub status: u16,
    /// The OAuth error (`invalid_client`, `invalid_grant`, ...).
    pub error: String,
    /// The AADSTS numbers from `error_codes`.
    pub codes: Vec<u32>,
    /// The first line of `error_description` (without trace lines), capped.
    pub description: String,
    /// `trace_id`, for a support case.
    pub trace_id: Option<String>,
    /// `correlation_id`, for a support case.
    pub correlation_id: Option<String>,
}

/// The members of an error answer the component reads.
struct ErrorBody {
    error: String,
    error_description: String,
    error_codes: Vec<i64>,
    trace_id: Option<String>,
    correlation_id: Option<String>,
}

impl ErrorBody {
    /// Reads an error answer: a JSON object with an `error` string; the
    /// other known members are optional, of their types, and appear once.
    fn parse(body: &[u8]) -> Result<Self, JsonError> {
        let (mut error, mut description, mut codes, mut trace, mut correlation) =
            (None, None, None, None, None);
        Reader::object(body, |key, value| match key {
            "error" => json::once(&mut error, value.read_string()?),
            "error_description" => json::once(&mut description, value.read_string()?),
            "error_codes" => json::once(&mut codes, value.read_i64_array()?),
            "trace_id" => json::once(&mut trace, value.read_optional_string()?),
            "correlation_id" => json::once(&mut correlation, value.read_optional_string()?),
            _ => value.skip(),
        })?;
        Ok(Self {
            error: error.ok_or(JsonError("no error member"))?,
            error_description: description.unwrap_or_default(),
            error_codes: codes.unwrap_or_default(),
            trace_id: trace.flatten(),
            correlation_id: correlation.flatten(),
        })
    }
}

const MAX_DESCRIPTION: usize = 300;

/// At most this many AADSTS codes are kept (Entra sends one or two).
const MAX_CODES: usize = 16;

/// Parses an Entra error body; `None` when the body is not one (not JSON, or
/// JSON without an `error` string). Every text in it is made safe to show
/// ([`safe_text`]).
pub fn parse_error(status: u16, body: &[u8]) -> Option<EntraError> {
    let parsed = ErrorBody::parse(body).ok()?;
    let first_line = parsed.error_description.lines().next().unwrap_or_default();
    Some(EntraError {
        status,
        error: safe_text::name(&parsed.error),
        codes: parsed
            .error_codes
            .into_iter()
            .filter_map(|code| u32::try_from(code).ok())
            .take(MAX_CODES)
            .collect(),
        description: safe_text::clean(first_line.trim(), MAX_DESCRIPTION),
        trace_id: parsed.trace_id.as_deref().map(safe_text::name),
        correlation_id: parsed.correlation_id.as_deref().map(safe_text::name),
    })
}

impl EntraError {
    /// True when Entra refused a grant (an expired or revoked refresh token,
    /// wrong password, MFA required, ...).
    pub fn is_invalid_grant(&self) -> bool {
        self.error == "invalid_grant"
    }

    /// The failure as the operator sees it, with advice for the first AADSTS code.
    pub fn to_failure(&self, ctx: &AuthContext) -> AuthFailure {
        let (message, fix) = match self.codes.first() {
            Some(&code) => {
                advice(code, ctx).unwrap_or_else(|| self.generic_advice(Some(code), ctx))
            }
            None => self.generic_advice(None, ctx),
        };
        AuthFailure {
            error: self.error.clone(),
            aadsts: self.codes.clone(),
            message,
            fix,
        }
    }

    fn generic_advice(&self, code: Option<u32>, ctx: &AuthContext) -> (String, String) {
        let detail = match (code, self.description.as_str()) {
            (_, d) if d.starts_with("AADSTS") => d.to_owned(),
            (Some(code), "") => format!("AADSTS{code}"),
            (Some(code), d) => format!("AADSTS{code}: {d}"),
            (None, "") => format!("HTTP {}", self.status),
            (None, d) => d.to_owned(),
        };
        let message = format!(
            "Entra ID refused the sign-in: {} ({}).",
            self.error,
            detail.trim_end_matches('.')
        );
        let lookup = match code {
            Some(code) => format!(
                "Look the code up at https://login.microsoftonline.com/error?code={code} and check"
            ),
            None => "Check".to_owned(),
        };
        let support = match &self.correlation_id {
            Some(id) => format!(" A Microsoft support case needs the correlation ID {id}."),
            None => String::new(),
        };
        let fix = format!(
            "{lookup} Entra admin center → Monitoring & health → Sign-in logs (service \
             principal sign-ins for app-only access) for app {}.{support}",
            ctx.app_id
        );
        (message, fix)
    }
}

/// The message and fix for a known AADSTS code.
fn advice(code: u32, ctx: &AuthContext) -> Option<(String, String)> {
    let app = &ctx.app_id;
    let tenant = &ctx.tenant_id;
    let user = ctx.user().unwrap_or("the service user");
    let who = match ctx.user() {
        Some(user) => user.to_owned(),
        None => format!("app {app}"),
    };
    let app_only = ctx.credential.is_app_only();
    let advice = match code {
        700016 | 700011 => (
            format!("Entra ID has no application {app} in tenant {tenant} (AADSTS{code})."),
            "Set ExchangeAppId to the Application (client) ID shown in Entra admin center → App \
             registrations → <app> → Overview, and ExchangeTenantId to the Directory (tenant) ID \
             of the tenant where that app is registered."
                .to_owned(),
        ),
        7000215 => (
            format!("Entra ID refused the client secret of app {app} as invalid (AADSTS7000215)."),
            "Entra admin center → App registrations → <app> → Certificates & secrets: create a new \
             client secret and put its Value (not its Secret ID) into ExchangeClientSecret."
                .to_owned(),
        ),
        7000222 => (
            format!("The client secret of app {app} has expired (AADSTS7000222)."),
            "Entra admin center → App registrations → <app> → Certificates & secrets: create a new \
             client secret, put its Value (not its Secret ID) into ExchangeClientSecret, and note \
             when it expires."
                .to_owned(),
        ),
        700027 => {
            let thumbprint = match &ctx.credential {
                Credential::Certificate(t) => t.hex(),
                _ => "in ExchangeCertThumbprint".to_owned(),
            };
            (
                format!(
                    "Entra ID could not verify the certificate sign-in of app {app}: certificate \
                     {thumbprint} is not registered for the app, or the signature does not match \
                     it (AADSTS700027)."
                ),
                format!(
                    "Entra admin center → App registrations → <app> → Certificates & secrets → \
                     Certificates: upload the public part (.cer) of the certificate {thumbprint} \
                     (ExchangeCertThumbprint), and make sure the tenant's certificate store on the \
                     rooms-sync host holds the same certificate with its private key."
                ),
            )
        }
        7000218 => (
            format!(
                "App {app} may not sign in {user} with a password unless public client flows are \
                 allowed (AADSTS7000218)."
            ),
            "Entra admin center → App registrations → <app> → Authentication → Advanced settings: \
             set \"Allow public client flows\" to Yes."
                .to_owned(),
        ),
        700024 => (
            "Entra ID says the certificate sign-in is outside its valid time range \
             (AADSTS700024); the clock of the rooms-sync host is probably wrong."
                .to_owned(),
            "Synchronise the clock of the rooms-sync host (NTP); the assertion is valid for 5 \
             minutes from the host's current time."
                .to_owned(),
        ),
        50126 => (
            format!("Entra ID refused the user name or password of {user} (AADSTS50126)."),
            "Check ExchangeServiceUser (the user principal name) and set ExchangeServicePassword \
             to the service user's current password. A federated (AD FS) or guest account cannot \
             sign in with a password."
                .to_owned(),
        ),
        50076 => (
            format!(
                "Entra ID requires multifactor authentication for {user} (AADSTS50076), which an \
                 unattended sign-in cannot do."
            ),
            format!(
                "Exclude {user} from the multifactor requirement (Entra admin center → Protection \
                 → Conditional Access: exclude it from the policy that requires MFA, or turn off \
                 per-user MFA for it), or switch to app-only access (ExchangeUseImpersonation = \
                 true)."
            ),
        ),
        50079 => (
            format!("Entra ID requires {user} to register for multifactor authentication (AADSTS50079)."),
            format!(
                "Exclude {user} from the MFA registration requirement (Entra admin center → \
                 Protection → Identity Protection → Multifactor authentication registration \
                 policy, or the Conditional Access policy that requires it), or switch to \
                 app-only access (ExchangeUseImpersonation = true)."
            ),
        ),
        53003 => (
            format!("A Conditional Access policy blocked the sign-in of {who} (AADSTS53003)."),
            format!(
                "Entra admin center → Monitoring & health → Sign-in logs: open the failed \
                 sign-in of {who}, see which Conditional Access policy blocked it, and exclude \
                 the account from that policy or allow the rooms-sync host's network location."
            ),
        ),
        530035 => (
            format!("Security defaults blocked the sign-in of {who} (AADSTS530035)."),
            "Switch to app-only access (ExchangeUseImpersonation = true with a client secret or a \
             certificate), or replace security defaults with Conditional Access policies that \
             exclude the service user."
                .to_owned(),
        ),
        65001 => {
            let permission = if app_only {
                "Application permissions → full_access_as_app"
            } else {
                "Delegated permissions → EWS.AccessAsUser.All"
            };
            (
                format!(
                    "No administrator has consented to the Exchange permission app {app} needs \
                     (AADSTS65001)."
                ),
                format!(
                    "Entra admin center → App registrations → <app> → API permissions: add Office \
                     365 Exchange Online → {permission} and click \"Grant admin consent for \
                     <tenant>\"."
                ),
            )
        }
        90002 => (
            format!("Entra ID has no tenant {tenant} (AADSTS90002)."),
            "Set ExchangeTenantId to the Directory (tenant) ID shown in Entra admin center → \
             Overview; for a national cloud also set ExchangeAuthorityUrl to that cloud's \
             authority (for example https://login.microsoftonline.us)."
                .to_owned(),
        ),
        50034 => (
            format!("Entra ID has no user {user} in tenant {tenant} (AADSTS50034)."),
            "Set ExchangeServiceUser to the user principal name of an existing user of this \
             tenant (Entra admin center → Users → <user> → User principal name)."
                .to_owned(),
        ),
        50055 => (
            format!("The password of {user} has expired (AADSTS50055)."),
            format!(
                "Give the service user a new password, put it into ExchangeServicePassword, and \
                 exempt the account from password expiry (`Update-MgUser -UserId {user} \
                 -PasswordPolicies DisablePasswordExpiration`)."
            ),
        ),
        50053 => (
            format!(
                "Entra ID locked {user} after too many failed sign-ins, or blocked a sign-in from \
                 a malicious IP address (AADSTS50053)."
            ),
            "Set ExchangeServicePassword to the correct password, wait for the lockout to end \
             (or unblock the user), and read the failure reason in Entra admin center → \
             Monitoring & health → Sign-in logs (error 50053)."
                .to_owned(),
        ),
        50057 => (
            format!("The account {user} is disabled (AADSTS50057)."),
            "Enable the service user (Entra admin center → Users → <user> → Account enabled), or \
             set ExchangeServiceUser to an enabled account."
                .to_owned(),
        ),
        70011 => (
            format!("Entra ID refused the scope {} (AADSTS70011).", ctx.scope),
            format!(
                "The scope is built from the host of the person's sync-url ({}); set sync-url to \
                 the Exchange Online endpoint https://outlook.office365.com/EWS/Exchange.asmx (or \
                 leave it empty).",
                ctx.resource
            ),
        ),
        500011 => (
            format!(
                "Tenant {tenant} has no service for the resource {} (AADSTS500011).",
                ctx.resource
            ),
            "The resource is the host of the person's sync-url: set sync-url to the Exchange \
             Online endpoint https://outlook.office365.com/EWS/Exchange.asmx (or leave it empty), \
             and check that the tenant has Exchange Online."
                .to_owned(),
        ),
        7000112 => (
            format!("App {app} is disabled in tenant {tenant} (AADSTS7000112)."),
            "Entra admin center → Enterprise applications → <app> → Properties: set \"Enabled for \
             users to sign-in?\" to Yes."
                .to_owned(),
        ),
        50173 | 700082 | 70008 => (
            format!(
                "The stored refresh token of {user} is no longer valid (AADSTS{code}: revoked or \
                 expired)."
            ),
            "Nothing to change if the next check passes: the component signs in with \
             ExchangeServicePassword again. If it keeps failing, check that password."
                .to_owned(),
        ),
        _ => return None,
    };
    Some(advice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Credential, RawSettings, keys};

    fn ctx(credential: &str) -> AuthContext {
        let mut pairs = vec![
            (keys::TENANT_ID, "aaaabbbb-0000-cccc-1111-dddd2222eeee"),
            (keys::APP_ID, "00001111-aaaa-2222-bbbb-3333cccc4444"),
        ];
        match credential {
            "certificate" => pairs.push((
                keys::CERT_THUMBPRINT,
                "332459433B54FC0C2185F75A618FD3C83C7B9584",
            )),
            "password" => {
                pairs.push((keys::USE_IMPERSONATION, "false"));
                pairs.push((keys::SERVICE_USER, "svc-rooms@contoso.com"));
            }
            _ => {}
        }
        let settings = RawSettings::from_pairs(&pairs).validate().unwrap();
        AuthContext::new(&settings, "https://outlook.office365.com")
    }

    /// A body shaped like `fixtures/oauth/*.json`.
    fn body(error: &str, code: u32, text: &str) -> Vec<u8> {
        format!(
            r#"{{"error":"{error}","error_description":"AADSTS{code}: {text}\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2026-01-09 02:02:12Z","error_codes":[{code}],"timestamp":"2026-01-09 02:02:12Z","trace_id":"0000aaaa-11bb-cccc-dd22-eeeeee333333","correlation_id":"aaaa0000-bb11-2222-33cc-444444dddddd","error_uri":"https://login.microsoftonline.com/error?code={code}"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_real_fixtures_parse() {
        for (file, status) in [
            (
                include_str!(
                    "../../../tests/fixtures/oauth/token-error-invalid-scope-aadsts70011-msdocs.json"
                ),
                400,
            ),
            (
                include_str!(
                    "../../../tests/fixtures/oauth/token-error-invalid-scope-aadsts70011-real.json"
                ),
                400,
            ),
        ] {
            let error = parse_error(status, file.as_bytes()).unwrap();
            assert_eq!(error.error, "invalid_scope");
            assert_eq!(error.codes, vec![70011]);
            assert!(error.description.starts_with("AADSTS70011: The provided"));
            assert!(!error.description.contains("Trace ID"));
            let failure = error.to_failure(&ctx("secret"));
            assert_eq!(failure.aadsts, vec![70011]);
            assert!(
                failure
                    .message
                    .contains("https://outlook.office365.com/.default")
            );
            assert!(failure.fix.contains("sync-url"));
        }
    }

    #[test]
    fn every_listed_code_has_specific_advice() {
        // (code, OAuth error, flow, text the message must hold, text the fix must hold)
        let cases = [
            (
                700016,
                "unauthorized_client",
                "secret",
                "no application",
                "ExchangeAppId",
            ),
            (
                7000215,
                "invalid_client",
                "secret",
                "invalid",
                "Value (not its Secret ID) into ExchangeClientSecret",
            ),
            (
                7000222,
                "invalid_client",
                "secret",
                "expired",
                "ExchangeClientSecret",
            ),
            (
                700027,
                "invalid_client",
                "certificate",
                "332459433B54FC0C2185F75A618FD3C83C7B9584",
                "Certificates & secrets → Certificates",
            ),
            (
                7000218,
                "invalid_client",
                "password",
                "public client flows",
                "Allow public client flows",
            ),
            (
                50126,
                "invalid_grant",
                "password",
                "svc-rooms@contoso.com",
                "ExchangeServicePassword",
            ),
            (
                50076,
                "invalid_grant",
                "password",
                "multifactor",
                "Conditional Access",
            ),
            (
                50079,
                "invalid_grant",
                "password",
                "register",
                "registration",
            ),
            (
                53003,
                "invalid_grant",
                "password",
                "Conditional Access",
                "Sign-in logs",
            ),
            (
                65001,
                "invalid_grant",
                "secret",
                "consented",
                "full_access_as_app",
            ),
            (
                65001,
                "invalid_grant",
                "password",
                "consented",
                "EWS.AccessAsUser.All",
            ),
            (
                90002,
                "invalid_request",
                "secret",
                "no tenant",
                "ExchangeTenantId",
            ),
            (
                50034,
                "invalid_grant",
                "password",
                "no user",
                "ExchangeServiceUser",
            ),
            (
                50055,
                "invalid_grant",
                "password",
                "expired",
                "DisablePasswordExpiration",
            ),
            (
                50053,
                "invalid_grant",
                "password",
                "locked",
                "ExchangeServicePassword",
            ),
            (70011, "invalid_scope", "secret", "scope", "sync-url"),
            (
                700024,
                "invalid_client",
                "certificate",
                "time range",
                "clock",
            ),
            (
                50173,
                "invalid_grant",
                "password",
                "refresh token",
                "ExchangeServicePassword",
            ),
            (
                700082,
                "invalid_grant",
                "password",
                "refresh token",
                "ExchangeServicePassword",
            ),
            (500011, "invalid_resource", "secret", "resource", "sync-url"),
            (
                50057,
                "invalid_grant",
                "password",
                "disabled",
                "Account enabled",
            ),
            (
                7000112,
                "unauthorized_client",
                "secret",
                "disabled",
                "Enterprise applications",
            ),
        ];
        for (code, oauth, flow, in_message, in_fix) in cases {
            let error = parse_error(400, &body(oauth, code, "text that must not matter")).unwrap();
            let failure = error.to_failure(&ctx(flow));
            assert_eq!(failure.error, oauth);
            assert_eq!(failure.aadsts, vec![code]);
            assert!(
                failure.message.contains(&format!("AADSTS{code}")),
                "{code}: {}",
                failure.message
            );
            assert!(
                failure.message.contains(in_message),
                "{code}: {}",
                failure.message
            );
            assert!(failure.fix.contains(in_fix), "{code}: {}", failure.fix);
            assert!(
                !failure.message.contains("text that must not matter"),
                "{code}: advice must not echo the description"
            );
        }
    }

    #[test]
    fn advice_does_not_depend_on_the_description_text() {
        let a = parse_error(
            401,
            &body("invalid_client", 7000215, "Invalid client secret provided."),
        )
        .unwrap();
        let b = parse_error(
            401,
            &body(
                "invalid_client",
                7000215,
                "Ungültiger geheimer Clientschlüssel.",
            ),
        )
        .unwrap();
        assert_eq!(a.to_failure(&ctx("secret")), b.to_failure(&ctx("secret")));
    }

    #[test]
    fn unknown_codes_get_a_generic_answer_with_the_code_and_correlation() {
        let error = parse_error(
            400,
            &body(
                "invalid_request",
                9002313,
                "Request is malformed or invalid.",
            ),
        )
        .unwrap();
        let failure = error.to_failure(&ctx("secret"));
        assert_eq!(
            failure.message,
            "Entra ID refused the sign-in: invalid_request (AADSTS9002313: Request is malformed or invalid)."
        );
        assert!(
            failure
                .fix
                .contains("https://login.microsoftonline.com/error?code=9002313")
        );
        assert!(failure.fix.contains("aaaa0000-bb11-2222-33cc-444444dddddd"));
        assert!(failure.fix.contains("00001111-aaaa-2222-bbbb-3333cccc4444"));
    }

    #[test]
    fn a_body_without_codes_still_yields_a_failure() {
        let error = parse_error(400, br#"{"error":"invalid_request"}"#).unwrap();
        let failure = error.to_failure(&ctx("secret"));
        assert!(failure.aadsts.is_empty());
        assert_eq!(
            failure.message,
            "Entra ID refused the sign-in: invalid_request (HTTP 400)."
        );
    }

    #[test]
    fn non_error_bodies_are_not_entra_errors() {
        assert_eq!(
            parse_error(502, b"<html><body>Bad gateway</body></html>"),
            None
        );
        assert_eq!(parse_error(400, br#"{"message":"nope"}"#), None);
        assert_eq!(parse_error(400, br#"{"error":42}"#), None);
        assert_eq!(parse_error(400, b"\xff\xfe"), None);
        let odd = parse_error(
            400,
            br#"{"error":"x","error_codes":[-1, 99999999999, 50126]}"#,
        )
        .unwrap();
        assert_eq!(odd.codes, vec![50126]);
    }

    #[test]
    fn invalid_grant_is_recognised() {
        let error = parse_error(
            400,
            &body("invalid_grant", 700082, "The refresh token has expired"),
        )
        .unwrap();
        assert!(error.is_invalid_grant());
        let error = parse_error(401, &body("invalid_client", 7000215, "x")).unwrap();
        assert!(!error.is_invalid_grant());
        assert!(matches!(
            ctx("password").credential,
            Credential::Password { .. }
        ));
    }

    #[test]
    fn every_text_of_an_error_body_is_made_safe_and_codes_are_few() {
        let codes: Vec<String> = (0..10_000).map(|i| (50_000 + i).to_string()).collect();
        let body = format!(
            r#"{{"error":"invalid_grant\u001b]0;pwned\u0007","error_description":"AADSTS50126: \u001b[2J\u0085[ OK ] forged\u202e{}","error_codes":[{}],"trace_id":"\u009b31m","correlation_id":"{}"}}"#,
            "d".repeat(10_000),
            codes.join(","),
            "c".repeat(10_000)
        );
        let error = parse_error(400, body.as_bytes()).unwrap();
        assert_eq!(error.error, "invalid_grant ]0;pwned");
        assert!(
            error
                .description
                .starts_with("AADSTS50126: [2J [ OK ] forged ddd"),
            "{}",
            error.description
        );
        assert!(error.description.chars().count() <= MAX_DESCRIPTION);
        assert_eq!(error.trace_id.as_deref(), Some("31m"));
        assert!(error.correlation_id.unwrap().chars().count() <= 100);
        assert_eq!(error.codes.len(), MAX_CODES);
        assert_eq!(error.codes[0], 50_000);
    }
}
