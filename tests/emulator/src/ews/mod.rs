//! The EWS endpoint, `POST {base}/EWS/Exchange.asmx`: request pipeline and operation dispatch.
//!
//! # Pipeline
//! 1. Bearer token: signature, expiry and audience (`https://outlook.office365.com` or
//!    `https://{emulator host:port}`); then `full_access_as_app` (app-only) or
//!    `EWS.AccessAsUser.All` and a mailbox (delegated). Failures: HTTP 401, empty body.
//! 2. Org-level `EWSEnabled` / `EWSAllowedAppIDs` of the token's tenant: HTTP 403, empty body.
//! 3. Concurrency per account (`[settings] max_concurrent_requests`, 27):
//!    `ErrorExceededConnectionCount` SOAP fault.
//! 4. SOAP parsing into [`dom::Element`]; malformed XML or a wrong envelope namespace:
//!    `ErrorSchemaValidation` fault with `LineNumber`/`LinePosition`.
//! 5. `RequestServerVersion` (absent: processed as `Exchange2007`, as documented; unknown
//!    value: `ErrorInvalidServerVersion`).
//! 6. Operation lookup in [`OPERATIONS`] by the body element (`m:` namespace); unknown:
//!    `ErrorInvalidRequest` fault.
//! 7. Impersonation rules ([`auth::resolve_caller`]); mailbox-level `EWSEnabled` and
//!    application access policies (403).
//! 8. Injected faults, the budget (`ErrorServerBusy`), then the handler under the state lock,
//!    then faults that act after processing; the request log entry.
//!
//! # Adding an operation
//! 1. Create `src/ews/<operation>.rs` with a `//!` doc and
//!    `pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault>`.
//!    `op` is the `m:<Operation>` element of the body.
//! 2. Parse with the [`dom::Element`] helpers (`op.m("ItemShape")`, `el.t("FieldURI")`,
//!    `el.attr("Id")`). Report schema problems with [`EwsFault::schema`] (and its helpers
//!    `missing_child`, `missing_attribute`, `invalid_enum`, `unexpected_child`): they carry the
//!    element's line and column.
//! 3. Resolve folders with [`OpContext::resolve_folder`] and check rights with
//!    [`OpContext::require`]; per-item failures are [`ResponseError`]s written with
//!    [`ResponseBuilder::failure`]/[`ResponseBuilder::error`], whole-request failures are
//!    returned as `Err(EwsFault)`. [`context::OpError`] combines both for helpers.
//! 4. Write the answer with [`ResponseBuilder`] (one message per input item, in order) and
//!    [`writer::XmlWriter`] (it escapes everything).
//! 5. Add the module below and a line to [`OPERATIONS`]. `cx.state.calendar` is the calendar
//!    store; `cx.now` the emulator clock; `cx.take_fault(&FaultAction::InvalidSyncState, mbx)`
//!    the sync-state fault hook.

pub mod auth;
pub mod context;
pub mod dom;
pub mod fault;
pub mod folders;
pub mod throttle;
pub mod writer;

pub mod get_folder;
pub mod resolve_names;

pub mod create_item;
pub mod delete_item;
pub mod find_item;
pub mod get_events;
pub mod get_item;
pub mod subscribe;
pub mod sync_folder_items;
pub mod unsubscribe;
pub mod update_item;

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;

pub use context::{Caller, FolderRef, Need, OpContext, OpError, ServerVersion};
use dom::{Element, MESSAGES_NS, SOAP_NS, TYPES_NS};
pub use fault::{EwsFault, MessageXml, ResponseError};
pub use writer::{OpResponse, ResponseBuilder, ResponseClass};

use crate::faults::{ErrorShape, FaultAction, FaultEndpoint};
use crate::reply::{Delivery, Reply};
use crate::request_log::{LogEntry, selected_headers};
use crate::seed::BusyShape;
use crate::state::Shared;

/// An operation handler.
pub type Handler = fn(&mut OpContext<'_>, &Element) -> Result<OpResponse, EwsFault>;

/// One supported EWS operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Local name of the request element (`GetFolder`).
    pub name: &'static str,
    /// The handler.
    pub handler: Handler,
}

/// Every operation the emulator implements.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "GetFolder",
        handler: get_folder::handle,
    },
    Operation {
        name: "ResolveNames",
        handler: resolve_names::handle,
    },
    Operation {
        name: "FindItem",
        handler: find_item::handle,
    },
    Operation {
        name: "GetItem",
        handler: get_item::handle,
    },
    Operation {
        name: "CreateItem",
        handler: create_item::handle,
    },
    Operation {
        name: "UpdateItem",
        handler: update_item::handle,
    },
    Operation {
        name: "DeleteItem",
        handler: delete_item::handle,
    },
    Operation {
        name: "SyncFolderItems",
        handler: sync_folder_items::handle,
    },
    Operation {
        name: "Subscribe",
        handler: subscribe::handle,
    },
    Operation {
        name: "GetEvents",
        handler: get_events::handle,
    },
    Operation {
        name: "Unsubscribe",
        handler: unsubscribe::handle,
    },
];

/// The request-log entry being filled while a request is processed.
struct Draft {
    entry: LogEntry,
}

impl Draft {
    fn finish(mut self, shared: &Shared, reply: &Reply, code: Option<String>) {
        self.entry.http_status = if reply.delivery == Delivery::Reset {
            0
        } else {
            reply.status
        };
        if self.entry.response_code.is_none() {
            self.entry.response_code = code;
        }
        shared.lock().log.push(self.entry);
    }
}

fn fault_reply(f: &EwsFault) -> Reply {
    Reply::xml(500, f.to_xml())
}

/// Handles one EWS request.
pub async fn handle(shared: Arc<Shared>, parts: &Parts, body: Bytes) -> Reply {
    let now = shared.clock.now();
    let mut draft = Draft {
        entry: LogEntry {
            seq: 0,
            time: now.to_string(),
            endpoint: "ews".into(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            operation: None,
            mailbox: None,
            caller: None,
            headers: selected_headers(&parts.headers),
            http_status: 0,
            response_code: None,
            fault: None,
        },
    };
    if parts.method != http::Method::POST {
        let reply = Reply::empty(405).header("Allow", "POST");
        draft.finish(&shared, &reply, Some("405 method not allowed".into()));
        return reply;
    }

    // 1. Bearer token.
    let token = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let claims = match token {
        None => Err(auth::Unauthorized::Missing),
        Some(t) => shared
            .signer
            .verify(t, now.as_second())
            .map_err(auth::Unauthorized::Invalid)
            .and_then(|c| {
                if auth::audience_ok(&c.aud, shared.authority()) {
                    Ok(c)
                } else {
                    Err(auth::Unauthorized::Audience(c.aud.clone()))
                }
            }),
    };
    let claims = match claims {
        Ok(c) => c,
        Err(u) => {
            let reply = u.reply();
            draft.finish(&shared, &reply, Some(u.log_code()));
            return reply;
        }
    };
    let (delegated_user, max_concurrent) = {
        let state = shared.lock();
        let user = auth::check_permissions(&claims, &state);
        // 2. Org-level EWS switches.
        let org_block = state
            .directory
            .tenant(&claims.tid)
            .is_some_and(|t| match t.ews_enabled {
                Some(false) => true,
                Some(true) => t
                    .ews_allowed_app_ids
                    .as_ref()
                    .is_some_and(|l| !l.iter().any(|a| a.eq_ignore_ascii_case(&claims.appid))),
                None => false,
            });
        match user {
            Err(u) => {
                drop(state);
                let reply = u.reply();
                draft.finish(&shared, &reply, Some(u.log_code()));
                return reply;
            }
            Ok(_) if org_block => {
                drop(state);
                let reply = auth::policy_block_reply();
                draft.finish(
                    &shared,
                    &reply,
                    Some("403 EWS disabled for the organization or app".into()),
                );
                return reply;
            }
            Ok(u) => (u, state.settings.max_concurrent_requests),
        }
    };
    draft.entry.caller = Some(match &delegated_user {
        Some(u) => format!("{u} via app {}", claims.appid),
        None => format!("app {}", claims.appid),
    });

    // 3. Concurrency per account.
    let account = match &delegated_user {
        Some(u) => format!("user:{}", u.to_ascii_lowercase()),
        None => format!("app:{}", claims.appid.to_ascii_lowercase()),
    };
    let Some(_inflight) = shared.enter(&account, max_concurrent) else {
        let f = EwsFault::exceeded_connection_count(max_concurrent);
        let reply = fault_reply(&f);
        draft.finish(&shared, &reply, Some(f.code));
        return reply;
    };

    // 4. SOAP parsing.
    let envelope = match dom::parse(&body) {
        Ok(root) => root,
        Err(e) => {
            let f = EwsFault::schema_at(e.line, e.column, &e.message);
            let reply = fault_reply(&f);
            draft.finish(&shared, &reply, Some(f.code));
            return reply;
        }
    };
    let parsed = match split_envelope(&envelope) {
        Ok(p) => p,
        Err(f) => {
            let reply = fault_reply(&f);
            draft.finish(&shared, &reply, Some(f.code));
            return reply;
        }
    };
    let (header, op_el, version) = parsed;
    draft.entry.operation = Some(op_el.name.clone());

    // 6. Operation lookup.
    let Some(operation) = OPERATIONS
        .iter()
        .find(|o| op_el.namespace == MESSAGES_NS && o.name == op_el.name)
    else {
        let f = EwsFault::invalid_request();
        let reply = fault_reply(&f);
        draft.finish(&shared, &reply, Some(f.code));
        return reply;
    };

    // 7. Impersonation rules and mailbox-level policies.
    let caller = {
        let state = shared.lock();
        match auth::resolve_caller(&claims, delegated_user.clone(), header, &state) {
            Ok(c) => {
                let mailbox = state.directory.by_primary(c.acting_mailbox()).cloned();
                let block = mailbox.and_then(|m| {
                    state
                        .directory
                        .ews_policy_block(&claims.appid, &m, c.is_impersonation())
                });
                if let Some(block) = block {
                    drop(state);
                    draft.entry.mailbox = Some(c.acting_mailbox().to_string());
                    let reply = auth::policy_block_reply();
                    draft.finish(&shared, &reply, Some(format!("403 {block:?}")));
                    return reply;
                }
                c
            }
            Err(f) => {
                drop(state);
                let reply = fault_reply(&f);
                draft.finish(&shared, &reply, Some(f.code));
                return reply;
            }
        }
    };
    draft.entry.caller = Some(caller.describe());
    let target = target_mailbox(op_el).unwrap_or_else(|| caller.acting_mailbox().to_string());
    draft.entry.mailbox = Some(target.clone());
    // SyncFolderItems calls in flight per acting mailbox, counted before any
    // injected latency so held calls count; the handler enforces
    // `ConcurrentSyncCalls` (5) from this count.
    let _sync_call = (operation.name == "SyncFolderItems")
        .then(|| {
            shared.enter(
                &sync_folder_items::concurrency_key(caller.acting_mailbox()),
                usize::MAX,
            )
        })
        .flatten();

    // 8. Injected faults: latency first, then faults that replace the answer.
    let take = |kind: fn(&FaultAction) -> bool| {
        shared.lock().faults.take(
            FaultEndpoint::Ews,
            Some(operation.name),
            Some(&target),
            kind,
        )
    };
    if let Some(FaultAction::Latency { ms }) = take(|a| matches!(a, FaultAction::Latency { .. })) {
        draft.entry.fault = Some(format!("latency {ms} ms"));
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let fault = take(|a| {
        !matches!(
            a,
            FaultAction::Latency { .. } | FaultAction::InvalidSyncState
        )
    });
    if let Some(action) = &fault {
        draft.entry.fault = Some(format!("{action:?}"));
        if let Some(reply) = pre_processing_fault(action, operation.name) {
            let code = match action {
                FaultAction::EwsError { code, .. } => Some(code.clone()),
                FaultAction::HttpStatus { status, .. } => Some(format!("HTTP {status}")),
                _ => Some("connection reset".into()),
            };
            draft.finish(&shared, &reply, code);
            return reply;
        }
    }

    // The budget.
    {
        let mut state = shared.lock();
        let busy = throttle::charge(&mut state, &account, now);
        if let Some(back_off) = busy {
            let shape = state.settings.budget.shape;
            drop(state);
            let (reply, code) = busy_reply(shape, operation.name, back_off);
            draft.finish(&shared, &reply, Some(code));
            return reply;
        }
    }

    // The handler.
    let result = {
        let mut state = shared.lock();
        let mut cx = OpContext {
            state: &mut state,
            shared: &shared,
            caller,
            now,
            version,
            header,
            operation: operation.name,
        };
        (operation.handler)(&mut cx, op_el)
    };
    let (mut reply, code) = match result {
        Ok(resp) => {
            let xml = writer::envelope(&resp.body);
            let mut reply = Reply::xml(200, xml);
            for (k, v) in resp.headers {
                reply = reply.header(&k, v);
            }
            (reply, resp.first_code)
        }
        Err(f) => (fault_reply(&f), Some(f.code)),
    };
    if let Some(action) = fault.filter(FaultAction::after_processing) {
        reply = match action {
            FaultAction::ResetAfter => Reply::reset(),
            FaultAction::TruncatedBody => Reply {
                delivery: Delivery::Truncated,
                ..reply
            },
            _ => {
                let cut = reply.body.len() * 2 / 3;
                let mut broken = reply.body.slice(..cut).to_vec();
                broken.extend_from_slice(b"<<</t:Broken&&");
                Reply::xml(200, String::from_utf8_lossy(&broken).into_owned())
            }
        };
    }
    draft.finish(&shared, &reply, code);
    reply
}

/// Checks the envelope; returns (header, operation element, version).
fn split_envelope(
    envelope: &Element,
) -> Result<(Option<&Element>, &Element, ServerVersion), EwsFault> {
    if !envelope.is(SOAP_NS, "Envelope") {
        return Err(EwsFault::schema(
            envelope,
            &format!(
                "The root element must be 'Envelope' in namespace '{SOAP_NS}' (SOAP 1.1); found '{}' in namespace '{}'.",
                envelope.name, envelope.namespace
            ),
        ));
    }
    let mut header = None;
    let mut body = None;
    for child in &envelope.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (SOAP_NS, "Header") if header.is_none() && body.is_none() => header = Some(child),
            (SOAP_NS, "Body") if body.is_none() => body = Some(child),
            _ => return Err(EwsFault::unexpected_child(envelope, child)),
        }
    }
    let body = body.ok_or_else(|| EwsFault::missing_child(envelope, SOAP_NS, "Body"))?;
    let op = match body.children.as_slice() {
        [one] => one,
        [] => {
            return Err(EwsFault::schema(
                body,
                "The SOAP Body is empty; it must hold one EWS request element.",
            ));
        }
        [_, second, ..] => return Err(EwsFault::unexpected_child(body, second)),
    };
    let version = match header.and_then(|h| h.child(TYPES_NS, "RequestServerVersion")) {
        None => ServerVersion::Exchange2007,
        Some(rsv) => {
            let v = rsv
                .attr("Version")
                .ok_or_else(|| EwsFault::missing_attribute(rsv, "Version"))?;
            ServerVersion::parse(v).ok_or_else(|| {
                EwsFault::new(
                    "ErrorInvalidServerVersion",
                    "The specified server version is invalid.",
                )
            })?
        }
    };
    Ok((header, op, version))
}

/// The mailbox named by the operation's first `t:DistinguishedFolderId/t:Mailbox/t:EmailAddress`
/// (attendee mailboxes do not count), for logging and fault matching.
fn target_mailbox(op: &Element) -> Option<String> {
    fn walk(el: &Element) -> Option<String> {
        if el.is(TYPES_NS, "DistinguishedFolderId") {
            return el
                .t("Mailbox")
                .and_then(|m| m.t("EmailAddress"))
                .map(|e| e.trimmed_text().to_string())
                .filter(|s| !s.is_empty());
        }
        el.children.iter().find_map(walk)
    }
    walk(op)
}

fn pre_processing_fault(action: &FaultAction, op: &str) -> Option<Reply> {
    match action {
        FaultAction::EwsError {
            code,
            message,
            shape,
            back_off_ms,
        } => {
            let text = message
                .clone()
                .unwrap_or_else(|| format!("Injected fault: {code}."));
            let mut err = ResponseError::new(code, &text);
            if let Some(ms) = back_off_ms {
                err = err.with(MessageXml::value("BackOffMilliseconds", ms));
            }
            Some(match shape {
                ErrorShape::ResponseMessage => {
                    let mut b = ResponseBuilder::new(op);
                    b.error(&err);
                    Reply::xml(200, writer::envelope(&b.finish().body))
                }
                ErrorShape::SoapFault => fault_reply(&EwsFault::from(err)),
            })
        }
        FaultAction::HttpStatus {
            status,
            retry_after,
            body,
        } => Some(Reply::injected_status(*status, *retry_after, body.clone())),
        FaultAction::ResetBefore => Some(Reply::reset()),
        _ => None,
    }
}

fn busy_reply(shape: BusyShape, op: &str, back_off_ms: u64) -> (Reply, String) {
    match shape {
        BusyShape::ResponseMessage => {
            let mut b = ResponseBuilder::new(op);
            b.error(&ResponseError::server_busy("EwsMaxBurst", 0, back_off_ms));
            (
                Reply::xml(200, writer::envelope(&b.finish().body)),
                "ErrorServerBusy".into(),
            )
        }
        BusyShape::SoapFault => (
            fault_reply(&EwsFault::server_busy(back_off_ms)),
            "ErrorServerBusy".into(),
        ),
        BusyShape::Http503 => (
            Reply::empty(503).header("Retry-After", back_off_ms.div_ceil(1000).max(1).to_string()),
            "HTTP 503".into(),
        ),
    }
}
