//! The admin API: `{base}/admin/...`, HTTP + JSON, for tests and the demo.
//!
//! | method and path | body / query | effect |
//! |---|---|---|
//! | `GET /admin/state` | | tenants, apps (secrets redacted), mailboxes, groups, permissions, policies, settings |
//! | `POST /admin/tenants` | a tenant as in the seed | add or replace (by id) |
//! | `PATCH /admin/tenants/{id or domain}` | `{"ews_enabled": true/false/null, "ews_allowed_app_ids": [..]/null}` | change EWS switches |
//! | `POST /admin/apps` | an app as in the seed (certificates as inline PEM or paths) | add or replace (by client id) |
//! | `PATCH /admin/apps/{client_id}` | any app fields | change |
//! | `DELETE /admin/apps/{client_id}` | | remove |
//! | `POST /admin/mailboxes` | a mailbox as in the seed | add or replace (by address) |
//! | `PATCH /admin/mailboxes/{address}` | any mailbox fields (`ews_enabled`, `password`, `mfa_required`, ...) | change |
//! | `POST /admin/groups` | a group | add or replace |
//! | `POST /admin/folder_permissions` | a folder permission as in the seed | set (replaces the user's entry on that folder) |
//! | `DELETE /admin/folder_permissions` | `{"mailbox","folder","user"}` | remove |
//! | `POST /admin/access_policies` | an access policy | add |
//! | `DELETE /admin/access_policies` | `?app_id=` (optional) | remove (all, or an app's) |
//! | `PATCH /admin/settings` | any `[settings]` fields (and `budget` fields) | change |
//! | `POST /admin/faults` | a [`FaultSpec`] | inject; answers `{"id": n}` |
//! | `GET /admin/faults` / `DELETE /admin/faults` | | list / clear |
//! | `GET /admin/clock` | | `{"now": "...", "offset_seconds": n}` |
//! | `POST /admin/clock/advance` | `{"seconds": n}` | move the clock |
//! | `POST /admin/clock/set` | `{"now": "2030-01-01T00:00:00Z"}` | set the clock |
//! | `GET /admin/requests` | `?endpoint=&operation=&mailbox=&response_code=&since=` | the request log |
//! | `DELETE /admin/requests` | | clear the log |
//! | `POST /admin/refresh_tokens/revoke` | `{"user": "..."}` | revoke a user's refresh tokens |
//! | `* /admin/mailboxes/{address}/items...` | | calendar items: [`items`] (engineer E2) |
//! | `GET /admin/subscriptions` | | the notification subscriptions: [`subscriptions`] |
//! | `DELETE /admin/subscriptions/{id}` | | lose one, as Exchange does on a mailbox move or failover: [`subscriptions`] |
//!
//! Errors answer `{"error": "..."}` with 400 (bad input) or 404 (unknown object).

pub mod items;
pub mod subscriptions;

use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use jiff::{SignedDuration, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::faults::FaultSpec;
use crate::reply::Reply;
use crate::request_log::LogFilter;
use crate::seed::{
    AccessPolicy, App, FolderName, FolderPermission, Group, Mailbox, Settings, Tenant,
};
use crate::state::{Shared, State};
use crate::util::query_pairs;

/// An admin error: status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// HTTP status.
    pub status: u16,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl AdminError {
    /// A 400 error.
    pub fn bad(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }

    /// A 404 error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: 404,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

impl std::error::Error for AdminError {}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body).map_err(|e| AdminError::bad(format!("invalid JSON body: {e}")))
}

/// Applies a JSON patch (object merge) to a serializable value.
fn merge<T: serde::Serialize + DeserializeOwned>(
    current: &T,
    patch: &[u8],
) -> Result<T, AdminError> {
    let mut value = serde_json::to_value(current).map_err(|e| AdminError::bad(e.to_string()))?;
    let patch: Value = parse(patch)?;
    let Value::Object(fields) = patch else {
        return Err(AdminError::bad(
            "the body must be a JSON object of the fields to change",
        ));
    };
    for (k, v) in fields {
        if let Value::Object(inner) = &v
            && let Some(Value::Object(existing)) = value.get_mut(&k)
        {
            for (ik, iv) in inner {
                existing.insert(ik.clone(), iv.clone());
            }
            continue;
        }
        value[&k] = v;
    }
    serde_json::from_value(value).map_err(|e| AdminError::bad(format!("invalid field: {e}")))
}

fn ok() -> Reply {
    Reply::json(200, &json!({"ok": true}))
}

/// Handles one admin request.
/// The percent-decoded segments of an admin path after `/admin`. The path is
/// split before decoding, so an encoded `/` (`%2F`, common in base64 item
/// ids) stays inside its segment; `+` is a literal plus in a path.
fn path_segments(path: &str) -> Vec<String> {
    path.trim_start_matches("/admin")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| crate::util::percent_decode(s.replace('+', "%2B").as_bytes()))
        .collect()
}

pub async fn handle(
    shared: Arc<Shared>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: Bytes,
) -> Reply {
    let segments = path_segments(path);
    if segments.len() >= 3 && segments[0] == "mailboxes" && segments[2] == "items" {
        return items::handle(&shared, method, &segments[1], &segments[3..], query, &body);
    }
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match route(&shared, method, &seg, query, &body) {
        Ok(reply) => reply,
        Err(e) => Reply::json(e.status, &json!({"error": e.message})),
    }
}

fn route(
    shared: &Arc<Shared>,
    method: &Method,
    seg: &[&str],
    query: Option<&str>,
    body: &[u8],
) -> Result<Reply, AdminError> {
    let m = method.as_str();
    match (m, seg) {
        ("GET", ["state"]) => Ok(Reply::json(200, &state_json(&shared.lock()))),
        ("POST", ["tenants"]) => {
            upsert_tenant(&mut shared.lock(), parse(body)?)?;
            Ok(ok())
        }
        ("PATCH", ["tenants", id]) => {
            let mut state = shared.lock();
            let current = state
                .directory
                .tenant(id)
                .cloned()
                .ok_or_else(|| AdminError::not_found(format!("no tenant '{id}'")))?;
            let updated: Tenant = merge(&current, body)?;
            upsert_tenant(&mut state, updated)?;
            Ok(ok())
        }
        ("POST", ["apps"]) => {
            upsert_app(&mut shared.lock(), parse(body)?)?;
            Ok(ok())
        }
        ("PATCH", ["apps", id]) => {
            let mut state = shared.lock();
            let current = state
                .directory
                .app(id)
                .cloned()
                .ok_or_else(|| AdminError::not_found(format!("no app '{id}'")))?;
            let updated: App = merge(&current, body)?;
            upsert_app(&mut state, updated)?;
            Ok(ok())
        }
        ("DELETE", ["apps", id]) => {
            let mut state = shared.lock();
            let before = state.directory.apps.len();
            state
                .directory
                .apps
                .retain(|a| !a.client_id.eq_ignore_ascii_case(id));
            if before == state.directory.apps.len() {
                return Err(AdminError::not_found(format!("no app '{id}'")));
            }
            Ok(ok())
        }
        ("POST", ["mailboxes"]) => {
            let mailbox: Mailbox = parse(body)?;
            shared
                .lock()
                .directory
                .upsert_mailbox(mailbox)
                .map_err(AdminError::bad)?;
            Ok(ok())
        }
        ("PATCH", ["mailboxes", address]) => {
            let mut state = shared.lock();
            let current = state
                .directory
                .by_primary(address)
                .cloned()
                .ok_or_else(|| {
                    AdminError::not_found(format!("no mailbox with primary address '{address}'"))
                })?;
            let updated: Mailbox = merge(&current, body)?;
            if !updated.address.eq_ignore_ascii_case(&current.address) {
                return Err(AdminError::bad(
                    "the primary address cannot be changed; add a new mailbox instead",
                ));
            }
            state
                .directory
                .upsert_mailbox(updated)
                .map_err(AdminError::bad)?;
            Ok(ok())
        }
        ("POST", ["groups"]) => {
            let group: Group = parse(body)?;
            let mut state = shared.lock();
            state
                .directory
                .groups
                .retain(|g| !g.address.eq_ignore_ascii_case(&group.address));
            state.directory.groups.push(group);
            Ok(ok())
        }
        ("POST", ["folder_permissions"]) => {
            let p: FolderPermission = parse(body)?;
            shared
                .lock()
                .directory
                .set_folder_permission(p)
                .map_err(AdminError::bad)?;
            Ok(ok())
        }
        ("DELETE", ["folder_permissions"]) => {
            #[derive(serde::Deserialize)]
            struct Key {
                mailbox: String,
                folder: FolderName,
                user: String,
            }
            let k: Key = parse(body)?;
            if !shared
                .lock()
                .directory
                .remove_folder_permission(&k.mailbox, k.folder, &k.user)
            {
                return Err(AdminError::not_found("no such folder permission"));
            }
            Ok(ok())
        }
        ("POST", ["access_policies"]) => {
            add_policy(&mut shared.lock(), parse(body)?)?;
            Ok(ok())
        }
        ("DELETE", ["access_policies"]) => {
            let app = query_pairs(query)
                .into_iter()
                .find(|(k, _)| k == "app_id")
                .map(|(_, v)| v);
            let mut state = shared.lock();
            state.directory.access_policies.retain(|p| {
                app.as_ref()
                    .is_some_and(|a| !p.app_id.eq_ignore_ascii_case(a))
            });
            Ok(ok())
        }
        ("PATCH", ["settings"]) => {
            let mut state = shared.lock();
            let updated: Settings = merge(&state.settings, body)?;
            state.settings = updated;
            Ok(ok())
        }
        ("POST", ["faults"]) => {
            let spec: FaultSpec = parse(body)?;
            let id = shared.lock().faults.add(spec);
            Ok(Reply::json(200, &json!({"id": id})))
        }
        ("GET", ["faults"]) => Ok(Reply::json(200, &json!(shared.lock().faults.list()))),
        ("DELETE", ["faults"]) => {
            shared.lock().faults.clear();
            Ok(ok())
        }
        ("GET", ["clock"]) => Ok(Reply::json(200, &clock_json(shared))),
        ("POST", ["clock", "advance"]) => {
            #[derive(serde::Deserialize)]
            struct Advance {
                seconds: i64,
            }
            let a: Advance = parse(body)?;
            shared.clock.advance(SignedDuration::from_secs(a.seconds));
            Ok(Reply::json(200, &clock_json(shared)))
        }
        ("POST", ["clock", "set"]) => {
            #[derive(serde::Deserialize)]
            struct Set {
                now: Timestamp,
            }
            let s: Set = parse(body)?;
            shared.clock.set(s.now);
            Ok(Reply::json(200, &clock_json(shared)))
        }
        ("GET", ["requests"]) => {
            let filter = log_filter(query)?;
            Ok(Reply::json(200, &json!(shared.lock().log.query(&filter))))
        }
        ("DELETE", ["requests"]) => {
            shared.lock().log.clear();
            Ok(ok())
        }
        ("GET", ["subscriptions"]) => Ok(subscriptions::list(shared)),
        ("DELETE", ["subscriptions", id]) => subscriptions::drop_subscription(shared, id),
        ("POST", ["refresh_tokens", "revoke"]) => {
            #[derive(serde::Deserialize)]
            struct Revoke {
                user: String,
            }
            let r: Revoke = parse(body)?;
            let mut state = shared.lock();
            let before = state.refresh_tokens.len();
            state
                .refresh_tokens
                .retain(|_, g| !g.user.eq_ignore_ascii_case(&r.user));
            Ok(Reply::json(
                200,
                &json!({"revoked": before - state.refresh_tokens.len()}),
            ))
        }
        _ => Err(AdminError::not_found(format!(
            "no admin route {m} /admin/{}; see the admin module docs or tests/emulator/README.md",
            seg.join("/")
        ))),
    }
}

/// Parses `?endpoint=&operation=&mailbox=&response_code=&since=`.
pub fn log_filter(query: Option<&str>) -> Result<LogFilter, AdminError> {
    let mut f = LogFilter::default();
    for (k, v) in query_pairs(query) {
        match k.as_str() {
            "endpoint" => f.endpoint = Some(v),
            "operation" => f.operation = Some(v),
            "mailbox" => f.mailbox = Some(v),
            "response_code" => f.response_code = Some(v),
            "since" => {
                f.since = Some(
                    v.parse()
                        .map_err(|_| AdminError::bad("since must be a number"))?,
                )
            }
            other => return Err(AdminError::bad(format!("unknown filter '{other}'"))),
        }
    }
    Ok(f)
}

fn clock_json(shared: &Shared) -> Value {
    json!({"now": shared.clock.now().to_string(), "offset_seconds": shared.clock.offset().as_secs()})
}

/// Adds or replaces a tenant.
pub fn upsert_tenant(state: &mut State, tenant: Tenant) -> Result<(), AdminError> {
    if !crate::seed::is_guid(&tenant.id) {
        return Err(AdminError::bad(format!(
            "tenant id '{}' is not a GUID",
            tenant.id
        )));
    }
    for d in tenant.domains() {
        if let Some(other) = state.directory.tenant(d)
            && !other.id.eq_ignore_ascii_case(&tenant.id)
        {
            return Err(AdminError::bad(format!(
                "domain '{d}' already belongs to tenant '{}'",
                other.id
            )));
        }
    }
    state
        .directory
        .tenants
        .retain(|t| !t.id.eq_ignore_ascii_case(&tenant.id));
    state.directory.tenants.push(tenant);
    Ok(())
}

/// Adds or replaces an app.
pub fn upsert_app(state: &mut State, app: App) -> Result<(), AdminError> {
    let base = state.base_dir.clone();
    state
        .directory
        .upsert_app(app, base.as_deref())
        .map_err(AdminError::bad)
}

/// Adds an access policy.
pub fn add_policy(state: &mut State, policy: AccessPolicy) -> Result<(), AdminError> {
    if !crate::seed::is_guid(&policy.app_id) {
        return Err(AdminError::bad(format!(
            "app_id '{}' is not a GUID",
            policy.app_id
        )));
    }
    for m in &policy.members {
        let known = state.directory.by_any_address(m).is_some()
            || state
                .directory
                .groups
                .iter()
                .any(|g| g.address.eq_ignore_ascii_case(m));
        if !known {
            return Err(AdminError::bad(format!(
                "policy member '{m}' is neither a mailbox nor a group"
            )));
        }
    }
    state.directory.access_policies.push(policy);
    Ok(())
}

fn state_json(state: &State) -> Value {
    let d = &state.directory;
    let apps: Vec<Value> = d
        .apps
        .iter()
        .map(|a| {
            json!({
                "tenant": a.tenant,
                "client_id": a.client_id,
                "display_name": a.display_name,
                "secrets": a.secrets.iter().map(|s| json!({"value": "[redacted]", "expires": s.expires})).collect::<Vec<_>>(),
                "certificate_thumbprints": d.certificates(&a.client_id).iter().map(|c| c.thumbprint_hex()).collect::<Vec<_>>(),
                "application_permissions": a.application_permissions,
                "delegated_permissions": a.delegated_permissions,
                "allow_public_client_flows": a.allow_public_client_flows,
                "admin_consent": a.admin_consent,
            })
        })
        .collect();
    let mailboxes: Vec<Value> = d
        .mailboxes
        .iter()
        .map(|m| {
            let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
            if v.get("password").is_some_and(|p| !p.is_null()) {
                v["password"] = json!("[redacted]");
            }
            v["exchange_guid"] = json!(crate::directory::mailbox_guid(m));
            v["sid"] = json!(crate::directory::mailbox_sid(m));
            v
        })
        .collect();
    json!({
        "tenants": d.tenants,
        "apps": apps,
        "mailboxes": mailboxes,
        "groups": d.groups,
        "folder_permissions": d.folder_permissions,
        "access_policies": d.access_policies,
        "settings": state.settings,
    })
}

#[cfg(test)]
mod path_tests {
    use super::path_segments;

    /// Regression: an item id ending in '/' (base64) was trimmed away and the
    /// item route answered 400.
    #[test]
    fn encoded_slashes_and_pluses_stay_inside_their_segment() {
        assert_eq!(
            path_segments("/admin/mailboxes/room%40contoso.com/items/AAMk+x%2Fy%2F"),
            ["mailboxes", "room@contoso.com", "items", "AAMk+x/y/"]
        );
        assert_eq!(path_segments("/admin/"), Vec::<String>::new());
    }
}
