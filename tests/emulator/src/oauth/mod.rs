//! The Entra ID token endpoint: `POST {base}/{tenant}/oauth2/v2.0/token` (form-encoded).
//!
//! Grants: `client_credentials` (client secret or certificate assertion), `password` (ROPC)
//! and `refresh_token` (rotating: the old refresh token stops working). The tenant segment is
//! the tenant GUID or any of its domains. Scopes follow v2 rules: app-only needs
//! `<resource>/.default`; delegated needs `<resource>/EWS.AccessAsUser.All` (or `/.default`),
//! with `offline_access` for a refresh token. Resources answered for:
//! `https://outlook.office365.com` (and its aliases) and `https://{emulator host:port}` (what a
//! client derives from the emulator's EWS URL); `https://graph.microsoft.com` is also known, so
//! tests can get a token with a wrong audience for EWS.
//!
//! Errors are Entra-shaped JSON ([`error::EntraError`]).

pub mod assertion;
pub mod error;
pub mod token;

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::faults::{FaultAction, FaultEndpoint};
use crate::reply::{Delivery, Reply};
use crate::request_log::{LogEntry, selected_headers};
use crate::seed::{App, Tenant};
use crate::state::{RefreshGrant, Shared, State};
use crate::util::{constant_time_eq, new_guid, parse_form};
use error::EntraError;
use token::AccessClaims;

/// The delegated EWS permission.
pub const EWS_DELEGATED: &str = "EWS.AccessAsUser.All";
/// The application EWS permission.
pub const EWS_APPLICATION: &str = "full_access_as_app";
const OUTLOOK: &str = "https://outlook.office365.com";
const GRAPH: &str = "https://graph.microsoft.com";

/// A successful grant, before the token is minted.
struct Grant {
    claims: AccessClaims,
    refresh: Option<RefreshGrant>,
    scope: Option<String>,
}

/// Form parameters, first value wins.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn require(&self, name: &str) -> Result<&str, EntraError> {
        self.get(name)
            .ok_or_else(|| EntraError::missing_parameter(name))
    }
}

/// Maps a resource identifier to the audience the token will carry; `None` if unknown.
fn resource_audience(resource: &str, authority: &str) -> Option<String> {
    let r = resource.trim_end_matches('/');
    let lower = r.to_ascii_lowercase();
    if crate::ews::auth::EXCHANGE_RESOURCES
        .iter()
        .any(|x| x.eq_ignore_ascii_case(r))
    {
        return Some(OUTLOOK.to_string());
    }
    if lower == format!("https://{}", authority.to_ascii_lowercase())
        || lower == format!("http://{}", authority.to_ascii_lowercase())
    {
        return Some(format!("https://{authority}"));
    }
    if lower == GRAPH || lower == "00000003-0000-0000-c000-000000000000" {
        return Some(GRAPH.to_string());
    }
    None
}

/// Handles one request to the token endpoint.
pub async fn handle(
    shared: Arc<Shared>,
    parts: &Parts,
    tenant_segment: &str,
    body: Bytes,
) -> Reply {
    let now = shared.clock.now();
    let form = Form(parse_form(&body));
    let content_is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form = if content_is_form {
        form
    } else {
        Form(Vec::new())
    };
    let grant_type = form.get("grant_type").map(str::to_string);
    let mut entry = LogEntry {
        seq: 0,
        time: now.to_string(),
        endpoint: "token".into(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        operation: grant_type.clone(),
        mailbox: form.get("username").map(str::to_string),
        caller: form.get("client_id").map(str::to_string),
        headers: selected_headers(&parts.headers),
        http_status: 0,
        response_code: None,
        fault: None,
    };

    let fault = shared.lock().faults.take(
        FaultEndpoint::Token,
        grant_type.as_deref(),
        form.get("username"),
        |_| true,
    );
    let mut reset_after = false;
    if let Some(action) = fault {
        entry.fault = Some(format!("{action:?}"));
        match action {
            FaultAction::Latency { ms } => {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await
            }
            FaultAction::HttpStatus {
                status,
                retry_after,
                body,
            } => {
                let r = Reply::injected_status(status, retry_after, body);
                entry.http_status = status;
                shared.lock().log.push(entry);
                return r;
            }
            FaultAction::ResetBefore => {
                shared.lock().log.push(entry);
                return Reply::reset();
            }
            FaultAction::ResetAfter => reset_after = true,
            _ => {}
        }
    }

    let correlation = parts
        .headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| crate::seed::is_guid(v))
        .map(str::to_string)
        .unwrap_or_else(new_guid);
    let result = if parts.method != http::Method::POST {
        Err(EntraError::post_only(parts.method.as_str()))
    } else {
        let mut state = shared.lock();
        grant(&shared, &mut state, tenant_segment, &form, now)
    };
    let mut reply = match result {
        Ok(g) => {
            let access = shared.signer.issue(&g.claims);
            let expires_in = g.claims.exp - g.claims.iat;
            let mut body = json!({
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": access,
            });
            if let Some(scope) = g.scope {
                body["scope"] = json!(scope);
            }
            if let Some(refresh) = g.refresh {
                let value = format!("1.{}", crate::util::b64url(&rand::random::<[u8; 48]>()));
                shared.lock().refresh_tokens.insert(value.clone(), refresh);
                body["refresh_token"] = json!(value);
            }
            entry.caller = Some(g.claims.appid.clone());
            entry.response_code = Some("issued".into());
            Reply::json(200, &body)
        }
        Err(e) => {
            entry.response_code = Some(format!("AADSTS{}", e.code));
            Reply::json(e.status, &e.body(now, &new_guid(), &correlation))
        }
    };
    reply = reply
        .header("Cache-Control", "no-store, no-cache")
        .header("Pragma", "no-cache")
        .header("client-request-id", correlation.clone());
    if reset_after {
        reply = Reply {
            delivery: Delivery::Reset,
            ..reply
        };
    }
    entry.http_status = if reply.delivery == Delivery::Reset {
        0
    } else {
        reply.status
    };
    shared.lock().log.push(entry);
    reply
}

fn grant(
    shared: &Shared,
    state: &mut State,
    tenant_segment: &str,
    form: &Form,
    now: Timestamp,
) -> Result<Grant, EntraError> {
    let looks_valid = crate::seed::is_guid(tenant_segment)
        || (tenant_segment.contains('.')
            && tenant_segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    if !looks_valid {
        return Err(EntraError::tenant_malformed(tenant_segment));
    }
    let tenant = state
        .directory
        .tenant(tenant_segment)
        .cloned()
        .ok_or_else(|| EntraError::tenant_not_found(tenant_segment))?;
    let grant_type = form.require("grant_type")?;
    let client_id = form.require("client_id")?;
    if !crate::seed::is_guid(client_id) {
        return Err(EntraError::client_id_malformed(client_id));
    }
    let app = state
        .directory
        .app_in_tenant(&tenant.id, client_id)
        .cloned()
        .ok_or_else(|| EntraError::app_not_found(client_id, &tenant.domain))?;
    let endpoint_url = format!("{}/{}/oauth2/v2.0/token", shared.base_url, tenant_segment);
    match grant_type {
        "client_credentials" => {
            let acr = authenticate_client(state, &app, form, &endpoint_url, now, true)?;
            client_credentials(shared, state, &tenant, &app, form, acr, now)
        }
        "password" => {
            let acr = authenticate_client(state, &app, form, &endpoint_url, now, false)?;
            password(shared, state, &tenant, &app, form, acr, now)
        }
        "refresh_token" => {
            let acr = authenticate_client(state, &app, form, &endpoint_url, now, false)?;
            refresh(shared, state, &tenant, &app, form, acr, now)
        }
        other => Err(EntraError::unsupported_grant(other)),
    }
}

/// Checks the client credential; returns `appidacr` (`0` public, `1` secret, `2` certificate).
fn authenticate_client(
    state: &mut State,
    app: &App,
    form: &Form,
    endpoint_url: &str,
    now: Timestamp,
    confidential_only: bool,
) -> Result<&'static str, EntraError> {
    if let Some(secret) = form.get("client_secret") {
        let matching = app
            .secrets
            .iter()
            .find(|s| constant_time_eq(s.value.expose().as_bytes(), secret.as_bytes()))
            .ok_or_else(|| EntraError::invalid_secret(&app.client_id))?;
        if matching.expires.is_some_and(|e| e <= now) {
            return Err(EntraError::secret_expired(&app.client_id));
        }
        return Ok("1");
    }
    if let Some(assertion) = form.get("client_assertion") {
        let kind = form.get("client_assertion_type").unwrap_or("");
        if kind != assertion::JWT_BEARER {
            return Err(EntraError::assertion_malformed(&format!(
                "The client_assertion_type must be '{}'.",
                assertion::JWT_BEARER
            )));
        }
        let certs = state.directory.certificates(&app.client_id).to_vec();
        let settings = state.settings.clone();
        let check = assertion::AssertionCheck {
            client_id: &app.client_id,
            certificates: &certs,
            endpoint_url,
            now,
            settings: &settings,
        };
        check.verify(assertion, &mut state.used_jtis)?;
        return Ok("2");
    }
    if confidential_only || !app.allow_public_client_flows {
        return Err(EntraError::credential_required());
    }
    Ok("0")
}

fn base_claims(
    shared: &Shared,
    tenant: &Tenant,
    app: &App,
    aud: String,
    acr: &str,
    now: Timestamp,
    lifetime: u64,
) -> AccessClaims {
    let iat = now.as_second();
    let _ = shared;
    AccessClaims {
        aud,
        iss: format!("https://sts.windows.net/{}/", tenant.id),
        iat,
        nbf: iat,
        exp: iat + i64::try_from(lifetime).unwrap_or(3599),
        appid: app.client_id.clone(),
        app_displayname: app.display_name.clone(),
        appidacr: acr.to_string(),
        idtyp: "app".into(),
        tid: tenant.id.clone(),
        oid: new_guid(),
        roles: None,
        scp: None,
        upn: None,
        uti: crate::util::b64url(&rand::random::<[u8; 16]>()),
        ver: "1.0".into(),
    }
}

fn client_credentials(
    shared: &Shared,
    state: &State,
    tenant: &Tenant,
    app: &App,
    form: &Form,
    acr: &str,
    now: Timestamp,
) -> Result<Grant, EntraError> {
    let scope = form.require("scope")?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(EntraError::scope_not_default(scope));
    };
    let Some(resource) = single.strip_suffix("/.default") else {
        return Err(EntraError::scope_not_default(single));
    };
    let aud = resource_audience(resource, shared.authority())
        .ok_or_else(|| EntraError::resource_not_found(resource, &tenant.domain))?;
    let mut claims = base_claims(
        shared,
        tenant,
        app,
        aud.clone(),
        acr,
        now,
        state.settings.token_lifetime_seconds,
    );
    // Without admin consent Entra still issues the token, with no roles in it.
    let roles: Vec<String> = if app.admin_consent && aud != GRAPH {
        app.application_permissions.clone()
    } else {
        Vec::new()
    };
    claims.roles = (!roles.is_empty()).then_some(roles);
    Ok(Grant {
        claims,
        refresh: None,
        scope: None,
    })
}

/// Checks delegated scopes; returns (audience, resource as requested, wants refresh token).
fn delegated_scopes(
    shared: &Shared,
    tenant: &Tenant,
    app: &App,
    scope: &str,
) -> Result<(String, String, bool), EntraError> {
    let mut resource: Option<(String, String)> = None;
    let mut offline = false;
    for s in scope.split_whitespace() {
        match s {
            "offline_access" => offline = true,
            "openid" | "profile" | "email" => {}
            _ => {
                let (res, perm) = s
                    .rsplit_once('/')
                    .ok_or_else(|| EntraError::invalid_scope(s))?;
                let aud = resource_audience(res, shared.authority())
                    .ok_or_else(|| EntraError::resource_not_found(res, &tenant.domain))?;
                if aud == GRAPH || !(perm == EWS_DELEGATED || perm == ".default") {
                    return Err(EntraError::invalid_scope(s));
                }
                if resource.as_ref().is_some_and(|(a, _)| *a != aud) {
                    return Err(EntraError::invalid_scope(s));
                }
                resource = Some((aud, res.trim_end_matches('/').to_string()));
            }
        }
    }
    let (aud, res) = resource.ok_or_else(|| EntraError::invalid_scope(scope))?;
    let _ = app;
    Ok((aud, res, offline))
}

fn check_user_sign_in(app: &App, user: &crate::seed::Mailbox) -> Result<(), EntraError> {
    if user.password_expired {
        return Err(EntraError::password_expired());
    }
    if user.conditional_access_blocked {
        return Err(EntraError::conditional_access());
    }
    if user.mfa_required {
        return Err(EntraError::mfa_required());
    }
    if !app.admin_consent || !app.delegated_permissions.iter().any(|p| p == EWS_DELEGATED) {
        return Err(EntraError::consent_required(
            &app.client_id,
            &app.display_name,
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn delegated_grant(
    shared: &Shared,
    state: &State,
    tenant: &Tenant,
    app: &App,
    user: &crate::seed::Mailbox,
    aud: String,
    resource: String,
    offline: bool,
    acr: &str,
    now: Timestamp,
) -> Grant {
    let mut claims = base_claims(
        shared,
        tenant,
        app,
        aud.clone(),
        acr,
        now,
        state.settings.token_lifetime_seconds,
    );
    claims.idtyp = "user".into();
    claims.scp = Some(EWS_DELEGATED.into());
    claims.upn = Some(user.upn().to_string());
    claims.oid = crate::directory::mailbox_guid(user);
    let lifetime = SignedDuration::from_secs(
        i64::try_from(state.settings.refresh_token_lifetime_seconds).unwrap_or(i64::MAX / 2),
    );
    let refresh = offline.then(|| RefreshGrant {
        tenant_id: tenant.id.clone(),
        client_id: app.client_id.clone(),
        user: user.address.clone(),
        resource: resource.clone(),
        permissions: vec![EWS_DELEGATED.into()],
        issued: now,
        expires: now.saturating_add(lifetime).unwrap_or(Timestamp::MAX),
    });
    Grant {
        claims,
        refresh,
        scope: Some(format!("{resource}/{EWS_DELEGATED}")),
    }
}

fn password(
    shared: &Shared,
    state: &State,
    tenant: &Tenant,
    app: &App,
    form: &Form,
    acr: &str,
    now: Timestamp,
) -> Result<Grant, EntraError> {
    let username = form.require("username")?;
    let password = form.require("password")?;
    let scope = form.require("scope")?;
    let (aud, resource, offline) = delegated_scopes(shared, tenant, app, scope)?;
    let dir = &state.directory;
    let user = dir
        .by_upn(username)
        .filter(|u| dir.tenant_of(u).is_some_and(|t| t.id == tenant.id))
        .ok_or_else(|| EntraError::user_not_found(&tenant.domain))?;
    let ok = user
        .password
        .as_ref()
        .is_some_and(|p| constant_time_eq(p.expose().as_bytes(), password.as_bytes()));
    if !ok {
        return Err(EntraError::bad_password());
    }
    check_user_sign_in(app, user)?;
    Ok(delegated_grant(
        shared, state, tenant, app, user, aud, resource, offline, acr, now,
    ))
}

fn refresh(
    shared: &Shared,
    state: &mut State,
    tenant: &Tenant,
    app: &App,
    form: &Form,
    acr: &str,
    now: Timestamp,
) -> Result<Grant, EntraError> {
    let value = form.require("refresh_token")?;
    if !value.starts_with("1.") {
        return Err(EntraError::refresh_malformed());
    }
    let grant = state
        .refresh_tokens
        .get(value)
        .cloned()
        .ok_or_else(EntraError::refresh_invalid)?;
    if !grant.client_id.eq_ignore_ascii_case(&app.client_id) || grant.tenant_id != tenant.id {
        return Err(EntraError::refresh_invalid());
    }
    if grant.expires <= now {
        state.refresh_tokens.remove(value);
        return Err(EntraError::refresh_expired(grant.issued));
    }
    let (aud, resource) = match form.get("scope") {
        Some(scope) => {
            let (aud, resource, _) = delegated_scopes(shared, tenant, app, scope)?;
            (aud, resource)
        }
        None => (
            resource_audience(&grant.resource, shared.authority())
                .unwrap_or_else(|| OUTLOOK.into()),
            grant.resource.clone(),
        ),
    };
    let user = state
        .directory
        .by_primary(&grant.user)
        .cloned()
        .ok_or_else(|| EntraError::user_not_found(&tenant.domain))?;
    check_user_sign_in(app, &user)?;
    state.refresh_tokens.remove(value);
    Ok(delegated_grant(
        shared, state, tenant, app, &user, aud, resource, true, acr, now,
    ))
}
