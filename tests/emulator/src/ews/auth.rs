//! Authentication and authorization of EWS requests.
//!
//! - Bearer token checks answer HTTP 401 with an empty body, a `WWW-Authenticate: Bearer …
//!   error="invalid_token"` header and an `x-ms-diagnostics` header naming the reason, as Exchange
//!   Online does.
//! - The impersonation rules: app-only tokens must carry `t:ExchangeImpersonation` with exactly
//!   one `t:ConnectingSID` child; delegated tokens must not carry it.
//! - Policy blocks (org/mailbox `EWSEnabled`, `EWSAllowedAppIDs`, application access policies)
//!   answer HTTP 403 with an empty body and `X-Proxy-BackendServerStatus: 403`.

use super::context::Caller;
use super::dom::{Element, TYPES_NS};
use super::fault::EwsFault;
use crate::oauth::token::{AccessClaims, TokenProblem};
use crate::reply::Reply;
use crate::state::State;

/// The resource ids (token audiences) that Exchange Online answers for, besides the emulator's
/// own `https://host:port`.
pub const EXCHANGE_RESOURCES: &[&str] = &[
    "https://outlook.office365.com",
    "https://outlook.office.com",
    "00000002-0000-0ff1-ce00-000000000000",
];

const WWW_AUTHENTICATE: &str = "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"invalid_token\"";

/// Why a request is unauthorized (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unauthorized {
    /// No `Authorization: Bearer` header.
    Missing,
    /// The token is not valid (shape or signature).
    Invalid(TokenProblem),
    /// The token's audience is not Exchange.
    Audience(String),
    /// No `full_access_as_app` role / no `EWS.AccessAsUser.All` scope.
    NoPermission,
    /// The signed-in user has no mailbox.
    NoMailbox,
}

impl Unauthorized {
    /// The `x-ms-diagnostics` value.
    pub fn diagnostics(&self) -> String {
        match self {
            Self::Missing => "2000000;reason=\"The request does not contain a bearer token.\";error_category=\"invalid_token\"".into(),
            Self::Invalid(TokenProblem::Expired) => "2000001;reason=\"The token has expired.\";error_category=\"invalid_token\"".into(),
            Self::Invalid(TokenProblem::NotYetValid) => "2000001;reason=\"The token is not yet valid.\";error_category=\"invalid_token\"".into(),
            Self::Invalid(TokenProblem::BadSignature) => "2000001;reason=\"The token signature is invalid.\";error_category=\"invalid_signature\"".into(),
            Self::Invalid(TokenProblem::Malformed) => "2000001;reason=\"The token is malformed.\";error_category=\"invalid_token\"".into(),
            Self::Audience(aud) => format!("2000003;reason=\"The audience claim value '{aud}' is invalid for Exchange.\";error_category=\"invalid_resource\""),
            Self::NoPermission => "2000008;reason=\"The token contains no permissions, or permissions can not be understood.\";error_category=\"invalid_grant\"".into(),
            Self::NoMailbox => "2000001;reason=\"The user specified by the user-context in the token does not exist.\";error_category=\"invalid_user\"".into(),
        }
    }

    /// The HTTP 401 answer.
    pub fn reply(&self) -> Reply {
        Reply::empty(401)
            .header("WWW-Authenticate", WWW_AUTHENTICATE)
            .header("x-ms-diagnostics", self.diagnostics())
    }

    /// Short code for the request log.
    pub fn log_code(&self) -> String {
        match self {
            Self::Missing => "401 missing token".into(),
            Self::Invalid(p) => format!("401 {p:?}"),
            Self::Audience(_) => "401 wrong audience".into(),
            Self::NoPermission => "401 no permission".into(),
            Self::NoMailbox => "401 user has no mailbox".into(),
        }
    }
}

/// The HTTP 403 answer of a policy block: empty body.
pub fn policy_block_reply() -> Reply {
    Reply::empty(403).header("X-Proxy-BackendServerStatus", "403")
}

/// True when `aud` is a resource id Exchange accepts (including `https://{authority}`).
pub fn audience_ok(aud: &str, authority: &str) -> bool {
    let aud = aud.trim_end_matches('/');
    EXCHANGE_RESOURCES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(aud))
        || aud.eq_ignore_ascii_case(&format!("https://{authority}"))
        || aud.eq_ignore_ascii_case(&format!("http://{authority}"))
}

/// Checks the token's permissions and finds the caller's mailbox for delegated tokens.
/// For app-only tokens the impersonated mailbox is filled in later.
pub fn check_permissions(
    claims: &AccessClaims,
    state: &State,
) -> Result<Option<String>, Unauthorized> {
    if claims.idtyp == "app" {
        let has_role = claims
            .roles
            .as_ref()
            .is_some_and(|r| r.iter().any(|x| x == "full_access_as_app"));
        if !has_role {
            return Err(Unauthorized::NoPermission);
        }
        Ok(None)
    } else {
        let has_scope = claims
            .scp
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == "EWS.AccessAsUser.All"));
        if !has_scope {
            return Err(Unauthorized::NoPermission);
        }
        let upn = claims.upn.as_deref().unwrap_or("");
        let user = state
            .directory
            .by_upn(upn)
            .filter(|m| m.has_mailbox)
            .ok_or(Unauthorized::NoMailbox)?;
        Ok(Some(user.address.clone()))
    }
}

/// Applies the impersonation rules; returns the caller.
pub fn resolve_caller(
    claims: &AccessClaims,
    delegated_user: Option<String>,
    header: Option<&Element>,
    state: &State,
) -> Result<Caller, EwsFault> {
    let impersonation = header.and_then(|h| h.child(TYPES_NS, "ExchangeImpersonation"));
    match delegated_user {
        Some(user) => {
            if impersonation.is_some() {
                return Err(EwsFault::new(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                ));
            }
            Ok(Caller::User {
                tenant_id: claims.tid.clone(),
                app_id: claims.appid.clone(),
                mailbox: user,
            })
        }
        None => {
            let imp = impersonation.ok_or_else(|| {
                EwsFault::new(
                    "ErrorInvalidExchangeImpersonationHeaderData",
                    "ExchangeImpersonation SOAP header must be present for this type of OAuth token.",
                )
            })?;
            let mailbox = impersonated_mailbox(imp, &claims.tid, state)?;
            Ok(Caller::App {
                tenant_id: claims.tid.clone(),
                app_id: claims.appid.clone(),
                mailbox,
            })
        }
    }
}

fn impersonated_mailbox(imp: &Element, tenant_id: &str, state: &State) -> Result<String, EwsFault> {
    let sid = imp
        .t("ConnectingSID")
        .ok_or_else(|| EwsFault::missing_child(imp, TYPES_NS, "ConnectingSID"))?;
    let ids: Vec<&Element> = sid.children.iter().collect();
    let id = match ids.as_slice() {
        [one] => *one,
        [] => return Err(EwsFault::missing_child(sid, TYPES_NS, "PrimarySmtpAddress")),
        [_, second, ..] => return Err(EwsFault::unexpected_child(sid, second)),
    };
    let value = id.trimmed_text();
    if id.namespace != TYPES_NS
        || !matches!(
            id.name.as_str(),
            "PrimarySmtpAddress" | "SmtpAddress" | "PrincipalName" | "SID"
        )
    {
        return Err(EwsFault::unexpected_child(sid, id));
    }
    if value.is_empty() {
        return Err(EwsFault::new(
            "ErrorInvalidExchangeImpersonationHeaderData",
            &format!(
                "The impersonation header is invalid: the {} value is empty.",
                id.name
            ),
        ));
    }
    let dir = &state.directory;
    let found = match id.name.as_str() {
        "PrimarySmtpAddress" => dir.by_primary(value),
        "SmtpAddress" => dir.by_any_address(value),
        "PrincipalName" => dir.by_upn(value),
        _ => dir.by_sid(value),
    };
    let found = found.filter(|m| {
        m.has_mailbox
            && dir
                .tenant_of(m)
                .is_some_and(|t| t.id.eq_ignore_ascii_case(tenant_id))
    });
    match found {
        Some(m) => Ok(m.address.clone()),
        None if id.name == "PrincipalName" => Err(EwsFault::new(
            "ErrorNonExistentMailbox",
            "The user principal name has no mailbox associated with it.",
        )
        .with(super::fault::MessageXml::value("PrincipalName", value))),
        None if id.name == "SID" => Err(EwsFault::new(
            "ErrorNonExistentMailbox",
            "The SID has no mailbox associated with it.",
        )
        .with(super::fault::MessageXml::value("SID", value))),
        None => Err(EwsFault::non_existent_mailbox(value)),
    }
}
