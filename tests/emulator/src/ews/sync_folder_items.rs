//! SyncFolderItems: the changes of a folder since a sync state, in pages.
//!
//! - The sync state is opaque and tamper-evident (HMAC-signed; it names the mailbox, the
//!   folder, the journal position and its issue time, see [`crate::calendar::ids`]). A forged,
//!   truncated, foreign (other mailbox or folder) or expired state, or one hit by the injected
//!   `InvalidSyncState` fault, answers `ErrorInvalidSyncStateData` with an empty
//!   `<m:SyncState/>` and `IncludesLastItemInRange` `true`, like the real sample.
//! - `MaxChangesReturned` must be 1..=512 (a schema error otherwise, as Exchange validates
//!   `MaxSyncChangesReturnedType`). A page ends after that many changes, with
//!   `IncludesLastItemInRange` `false`; the next call with the new state continues.
//! - Changes are collapsed per item since the state: an item created and changed is one
//!   `Create` with its current properties; changed several times, one `Update`; deleted, one
//!   `Delete` (an item created and deleted in between is not reported). Items in `Ignore` are
//!   skipped. The calendar reports single items and recurring masters (a modified or deleted
//!   occurrence is an `Update` of its master), never occurrences — exceptions live inside their
//!   master in Exchange's store, and ICS reports top-level items only.
//! - Private items are left out for a delegate without `CanViewPrivateItems`; one that becomes
//!   private is reported as deleted, one that stops being private as an `Update` (the journal
//!   does not know which items a client has seen, so clients must treat an update of an
//!   unknown item as new).
//! - `ConcurrentSyncCalls`: more than five `SyncFolderItems` calls of one acting mailbox in
//!   flight at once answer `ErrorServerBusy` with `BackOffMilliseconds` 5000, worded like the
//!   real Exchange Online sample. The pipeline counts calls in flight under
//!   [`concurrency_key`] (entered before any injected latency); this handler reads the count.

use std::collections::HashSet;

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, XmlWriter};
use crate::calendar::ids::ItemRef;
use crate::calendar::ids::encode_change_key;
use crate::calendar::mailbox::SyncChange;
use crate::calendar::render::{RenderContext, folder_kind, write_item};
use crate::calendar::service::can_see;
use crate::calendar::shape::{ItemShape, ShapeError, ShapeUse};
use crate::calendar::{IdError, Mailbox};
use crate::faults::FaultAction;

/// Largest `MaxChangesReturned` Exchange accepts.
pub const MAX_CHANGES: i64 = 512;

/// The key under which the pipeline counts `SyncFolderItems` calls in flight for an acting
/// mailbox (`Shared::enter(&concurrency_key(mailbox), usize::MAX)` before injected latency).
pub fn concurrency_key(acting_mailbox: &str) -> String {
    format!("SyncFolderItems:{}", acting_mailbox.to_ascii_lowercase())
}

struct Request<'a> {
    shape: Result<ItemShape, ResponseError>,
    folder: &'a Element,
    state: Option<&'a str>,
    ignore: Vec<&'a Element>,
    max: usize,
}

fn parse_request(op: &Element) -> Result<Request<'_>, EwsFault> {
    const ORDER: &[&str] = &[
        "ItemShape",
        "SyncFolderId",
        "SyncState",
        "Ignore",
        "MaxChangesReturned",
        "SyncScope",
    ];
    let mut last = None;
    let mut shape = None;
    let mut folder = None;
    let mut state = None;
    let mut ignore = Vec::new();
    let mut max = None;
    for child in &op.children {
        let index = (child.namespace == MESSAGES_NS)
            .then(|| ORDER.iter().position(|n| *n == child.name))
            .flatten()
            .ok_or_else(|| EwsFault::unexpected_child(op, child))?;
        if last.is_some_and(|l| index <= l) {
            return Err(EwsFault::unexpected_child(op, child));
        }
        last = Some(index);
        match child.name.as_str() {
            "ItemShape" => {
                shape = Some(match ItemShape::parse(child, ShapeUse::SyncFolderItems) {
                    Ok(s) => Ok(s),
                    Err(ShapeError::Fault(f)) => return Err(f),
                    Err(ShapeError::InvalidProperty(e)) => Err(e),
                })
            }
            "SyncFolderId" => match child.children.as_slice() {
                [one] => folder = Some(one),
                _ => {
                    return Err(EwsFault::schema(
                        child,
                        "SyncFolderId must contain exactly one FolderId or DistinguishedFolderId.",
                    ));
                }
            },
            "SyncState" => state = Some(child.trimmed_text()).filter(|s| !s.is_empty()),
            "Ignore" => {
                for id in &child.children {
                    if !id.is(TYPES_NS, "ItemId") {
                        return Err(EwsFault::unexpected_child(child, id));
                    }
                    ignore.push(id);
                }
            }
            "MaxChangesReturned" => {
                let text = child.trimmed_text();
                let value: i64 = text.parse().map_err(|_| {
                    EwsFault::schema(
                        child,
                        &format!("The 'http://schemas.microsoft.com/exchange/services/2006/messages:MaxChangesReturned' element is invalid - The value '{text}' is invalid according to its datatype 'http://schemas.microsoft.com/exchange/services/2006/types:MaxSyncChangesReturnedType' - The string '{text}' is not a valid Int32 value."),
                    )
                })?;
                if !(1..=MAX_CHANGES).contains(&value) {
                    let facet = if value < 1 {
                        "MinInclusive"
                    } else {
                        "MaxInclusive"
                    };
                    return Err(EwsFault::schema(
                        child,
                        &format!(
                            "The 'http://schemas.microsoft.com/exchange/services/2006/messages:MaxChangesReturned' element is invalid - The value '{value}' is invalid according to its datatype 'http://schemas.microsoft.com/exchange/services/2006/types:MaxSyncChangesReturnedType' - The {facet} constraint failed."
                        ),
                    ));
                }
                max = Some(value as usize);
            }
            "SyncScope" => {
                let scope = child.trimmed_text();
                if !matches!(scope, "NormalItems" | "NormalAndAssociatedItems") {
                    return Err(EwsFault::schema(
                        child,
                        &format!(
                            "The element 'SyncScope' has an invalid value '{scope}' according to its data type '{TYPES_NS}:SyncFolderItemsScopeType' - The Enumeration constraint failed."
                        ),
                    ));
                }
            }
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    Ok(Request {
        shape: shape.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemShape"))?,
        folder: folder.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "SyncFolderId"))?,
        state,
        ignore,
        max: max.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "MaxChangesReturned"))?,
    })
}

/// Handles `m:SyncFolderItems`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let request = parse_request(op)?;
    let mut response = ResponseBuilder::new("SyncFolderItems");
    let on_error = |w: &mut XmlWriter| {
        w.empty("m:SyncState", &[]);
        w.leaf("m:IncludesLastItemInRange", "true");
    };
    response.outcome(
        sync(cx, &request),
        |w, xml| {
            w.raw(&xml);
        },
        on_error,
    )?;
    Ok(response.finish())
}

fn invalid_state() -> ResponseError {
    ResponseError::new(
        "ErrorInvalidSyncStateData",
        "Synchronization state data is corrupt or otherwise invalid.",
    )
}

fn sync(cx: &mut OpContext<'_>, request: &Request<'_>) -> Result<String, OpError> {
    let folder = cx.resolve_folder(request.folder)?;
    let rights = cx.require(&folder, Need::ReadItems)?;
    let limit = cx.state.calendar.settings.max_concurrent_sync_calls as usize;
    let running = cx
        .shared
        .inflight(&concurrency_key(cx.caller.acting_mailbox()));
    if running > limit {
        let back_off = cx.state.calendar.settings.sync_busy_back_off_ms;
        return Err(
            ResponseError::server_busy("ConcurrentSyncCalls", limit as u64, back_off).into(),
        );
    }
    let shape = request.shape.clone()?;
    let kind = folder_kind(folder.folder);
    let now = cx.now;
    if request.state.is_some() && cx.take_fault(&FaultAction::InvalidSyncState, &folder.mailbox) {
        return Err(invalid_state().into());
    }
    let store = &mut cx.state.calendar;
    store.mailbox_mut(&folder.mailbox);
    let store = &cx.state.calendar;
    let mailbox: &Mailbox = store
        .mailbox(&folder.mailbox)
        .ok_or_else(crate::calendar::service::item_not_found)?;
    let position = match request.state {
        None => 0,
        Some(text) => store
            .check_sync_state(text, mailbox, kind, now)
            .map_err(|_| invalid_state())?,
    };
    let mut ignore = HashSet::new();
    for id in &request.ignore {
        let text = id
            .attr("Id")
            .ok_or_else(|| EwsFault::missing_attribute(id, "Id"))?;
        match store.resolve_id(text) {
            Ok((owner, ItemRef::Item { key, .. })) if owner.token() == mailbox.token() => {
                ignore.insert(key);
            }
            Ok(_) | Err(IdError::NotFound) => {}
            Err(IdError::Malformed) => return Err(ResponseError::id_malformed().into()),
        }
    }
    let page = mailbox.changes_since(kind, position, request.max, &ignore, |item| {
        can_see(item, &rights)
    });
    let render = RenderContext {
        store,
        mailbox,
        rights: &rights,
    };
    let mut w = XmlWriter::new();
    w.leaf(
        "m:SyncState",
        &store.issue_sync_state(mailbox, kind, page.position, now),
    );
    w.leaf(
        "m:IncludesLastItemInRange",
        if page.includes_last { "true" } else { "false" },
    );
    w.start("m:Changes", &[]);
    for change in &page.changes {
        match change {
            SyncChange::Create(item) | SyncChange::Update(item) => {
                let element = if matches!(change, SyncChange::Create(_)) {
                    "t:Create"
                } else {
                    "t:Update"
                };
                w.start(element, &[]);
                write_item(&mut w, &render, &mailbox.item_ref(item.key), item, &shape);
                w.end(element);
            }
            SyncChange::Delete(key) => {
                w.start("t:Delete", &[]);
                let id = store.item_id(&mailbox.item_ref(*key));
                let ck = encode_change_key(page.position, *key);
                w.empty("t:ItemId", &[("Id", &id), ("ChangeKey", &ck)]);
                w.end("t:Delete");
            }
        }
    }
    w.end("m:Changes");
    Ok(w.into_string())
}
