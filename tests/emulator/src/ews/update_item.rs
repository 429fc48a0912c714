//! UpdateItem: `SetItemField`, `AppendToItemField` and `DeleteItemField` on items and
//! occurrences, with change-key conflict detection; one response message per `ItemChange`
//! with the new `ItemId`/`ChangeKey` and `ConflictResults`.
//!
//! # Conflict model
//! Exchange compares the version named by the client's `ChangeKey` with the stored item,
//! property by property. The emulator records, per item, the change number at which each
//! property last changed; a property the client sets is *in conflict* when it changed on the
//! server after the client's version.
//! - no `ChangeKey`: no conflict detection (the update applies);
//! - a `ChangeKey` that cannot be parsed: `ErrorInvalidChangeKey`;
//! - a `ChangeKey` of another item, or newer than the item: `ErrorStaleObject`;
//! - a stale `ChangeKey` (the item changed after the client's version) is a conflict
//!   (MS-OXWSCORE 3.1.4.9.4.1, `t:ConflictResolutionType`):
//!   - `NeverOverwrite`: `ErrorIrresolvableConflict`, whatever properties are set;
//!   - `AutoResolve` (the default): Exchange "will in most cases overwrite the existing
//!     value"; the emulator always overwrites (the documented exception, a `Sensitivity`
//!     retained, is not modelled);
//!   - `AlwaysOverwrite`: the client wins.
//!
//!   `ConflictResults/Count` counts the set properties that changed on the server after the
//!   client's version.
//!
//! # Calendar rules
//! `SendMeetingInvitationsOrCancellations` is required for calendar items
//! (`ErrorSendMeetingInvitationsOrCancellationsRequired`), `MessageDisposition` for messages.
//! Updating an occurrence id turns the occurrence into an exception (the master changes too);
//! moving it past a neighbouring occurrence is `ErrorOccurrenceCrossingBoundary`; series-level
//! properties (`Recurrence`, `UID`, `StartTimeZone`) cannot be set on an occurrence
//! (`ErrorInvalidPropertySet`), except `StartTimeZone` set to the series' own zone, which
//! clients send with every Start/End change (exchangelib's `test_change_occurrence_via_index`
//! does so against Exchange Online). An organizer's update with invitations other than `SendToNone`
//! is delivered to the attendees (see [`crate::calendar::meetings`]).

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, XmlWriter, write_items, write_no_items};
use crate::calendar::Store;
use crate::calendar::ids::{ItemRef, decode_change_key};
use crate::calendar::item::ItemKind;
use crate::calendar::parse::{ItemElement, ParsedProp, PropPath, TimeContext, parse_item};
use crate::calendar::service::{
    Notify, append_prop, delete_prop, item_not_found, locate_for_change, save_update, set_prop,
    view_of,
};
use crate::calendar::shape::{parse_extended_field_uri, parse_field_uri};

/// `ConflictResolution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictResolution {
    /// `NeverOverwrite`.
    NeverOverwrite,
    /// `AutoResolve`.
    AutoResolve,
    /// `AlwaysOverwrite`.
    AlwaysOverwrite,
}

/// `SendMeetingInvitationsOrCancellations` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendUpdates {
    None,
    OnlyToAll,
    OnlyToChanged,
    AllAndSaveCopy,
    ChangedAndSaveCopy,
}

enum Update {
    Set(ParsedProp),
    Append(ParsedProp),
    Delete(PropPath),
}

struct Options {
    resolution: ConflictResolution,
    send: Option<SendUpdates>,
    disposition: Option<String>,
}

/// Handles `m:UpdateItem`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let resolution = match op.attr("ConflictResolution").unwrap_or("AutoResolve") {
        "NeverOverwrite" => ConflictResolution::NeverOverwrite,
        "AutoResolve" => ConflictResolution::AutoResolve,
        "AlwaysOverwrite" => ConflictResolution::AlwaysOverwrite,
        other => {
            return Err(EwsFault::invalid_enum(
                op,
                "ConflictResolution",
                other,
                "ConflictResolutionType",
            ));
        }
    };
    let send = match op.attr("SendMeetingInvitationsOrCancellations") {
        None => None,
        Some(v) => Some(match v {
            "SendToNone" => SendUpdates::None,
            "SendOnlyToAll" => SendUpdates::OnlyToAll,
            "SendOnlyToChanged" => SendUpdates::OnlyToChanged,
            "SendToAllAndSaveCopy" => SendUpdates::AllAndSaveCopy,
            "SendToChangedAndSaveCopy" => SendUpdates::ChangedAndSaveCopy,
            other => {
                return Err(EwsFault::invalid_enum(
                    op,
                    "SendMeetingInvitationsOrCancellations",
                    other,
                    "CalendarItemUpdateOperationType",
                ));
            }
        }),
    };
    let disposition = match op.attr("MessageDisposition") {
        None => None,
        Some(v @ ("SaveOnly" | "SendOnly" | "SendAndSaveCopy")) => Some(v.to_owned()),
        Some(v) => {
            return Err(EwsFault::invalid_enum(
                op,
                "MessageDisposition",
                v,
                "MessageDispositionType",
            ));
        }
    };
    let options = Options {
        resolution,
        send,
        disposition,
    };
    let mut changes_el = None;
    for child in &op.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (MESSAGES_NS, "SavedItemFolderId") if changes_el.is_none() => {}
            (MESSAGES_NS, "ItemChanges") if changes_el.is_none() => changes_el = Some(child),
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    let changes_el =
        changes_el.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemChanges"))?;
    let time = TimeContext::from_header(cx.header);
    let mut response = ResponseBuilder::new("UpdateItem");
    for change in &changes_el.children {
        if !change.is(TYPES_NS, "ItemChange") {
            return Err(EwsFault::unexpected_child(changes_el, change));
        }
        let result = time
            .clone()
            .map_err(OpError::Item)
            .and_then(|time| update_one(cx, change, &options, &time));
        let success = |w: &mut XmlWriter, (xml, conflicts): (String, usize)| {
            write_items(w, &xml);
            w.start("m:ConflictResults", &[]);
            w.leaf("t:Count", &conflicts.to_string());
            w.end("m:ConflictResults");
        };
        response.outcome(result, success, write_no_items)?;
    }
    Ok(response.finish())
}

fn parse_path(el: &Element) -> Result<PropPath, OpError> {
    match el.name.as_str() {
        "FieldURI" => Ok(PropPath::Field(parse_field_uri(el)?)),
        "ExtendedFieldURI" => Ok(PropPath::Extended(parse_extended_field_uri(el)?)),
        "IndexedFieldURI" => Err(ResponseError::new(
            "ErrorInvalidPropertyRequest",
            "Indexed properties do not exist on calendar items.",
        )
        .into()),
        _ => Err(EwsFault::schema(
            el,
            &format!("The element '{}' is not a property path.", el.name),
        )
        .into()),
    }
}

fn parse_updates(updates_el: &Element, time: &TimeContext) -> Result<Vec<Update>, OpError> {
    let mut updates = Vec::new();
    for update in &updates_el.children {
        if update.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(updates_el, update).into());
        }
        let kind = update.name.as_str();
        if !matches!(
            kind,
            "SetItemField" | "AppendToItemField" | "DeleteItemField"
        ) {
            return Err(EwsFault::unexpected_child(updates_el, update).into());
        }
        let path_el = update
            .children
            .first()
            .ok_or_else(|| EwsFault::missing_child(update, TYPES_NS, "FieldURI"))?;
        let path = parse_path(path_el)?;
        if kind == "DeleteItemField" {
            if update.children.len() > 1 {
                return Err(EwsFault::unexpected_child(update, &update.children[1]).into());
            }
            updates.push(Update::Delete(path));
            continue;
        }
        let [_, item_el] = update.children.as_slice() else {
            return Err(EwsFault::missing_child(update, TYPES_NS, "CalendarItem").into());
        };
        let element = match item_el.name.as_str() {
            "CalendarItem" => ItemElement::Calendar,
            "Message"
            | "Item"
            | "MeetingRequest"
            | "MeetingMessage"
            | "MeetingResponse"
            | "MeetingCancellation" => ItemElement::Message,
            _ => return Err(EwsFault::unexpected_child(update, item_el).into()),
        };
        let props: Vec<ParsedProp> = parse_item(item_el, element, time)?;
        let [prop] = props.as_slice() else {
            return Err(ResponseError::new(
                "ErrorIncorrectUpdatePropertyCount",
                "An object within a change description must contain one and only one property to modify.",
            )
            .into());
        };
        let matches = match (&path, &prop.path) {
            (PropPath::Field(a), PropPath::Field(b)) => {
                a == b || (*a == "calendar:StartTimeZone" && *b == "calendar:MeetingTimeZone")
            }
            (PropPath::Extended(a), PropPath::Extended(b)) => a.key() == b.key(),
            _ => false,
        };
        if !matches {
            return Err(ResponseError::new(
                "ErrorUpdatePropertyMismatch",
                "The property in the change description does not match the property being set.",
            )
            .into());
        }
        updates.push(if kind == "SetItemField" {
            Update::Set(prop.clone())
        } else {
            Update::Append(prop.clone())
        });
    }
    if updates.is_empty() {
        return Err(EwsFault::missing_child(updates_el, TYPES_NS, "SetItemField").into());
    }
    Ok(updates)
}

fn update_path(update: &Update) -> &PropPath {
    match update {
        Update::Set(p) | Update::Append(p) => &p.path,
        Update::Delete(path) => path,
    }
}

fn update_one(
    cx: &mut OpContext<'_>,
    change: &Element,
    options: &Options,
    time: &TimeContext,
) -> Result<(String, usize), OpError> {
    let id_el = change
        .children
        .first()
        .ok_or_else(|| EwsFault::missing_child(change, TYPES_NS, "ItemId"))?;
    let updates_el = change
        .children
        .get(1)
        .filter(|u| u.is(TYPES_NS, "Updates"))
        .ok_or_else(|| EwsFault::missing_child(change, TYPES_NS, "Updates"))?;
    let (located, entry) = locate_for_change(cx, id_el, |own| Need::EditItems { own })?;
    let store = &cx.state.calendar;
    let is_calendar = entry.item.calendar().is_some();
    if is_calendar && options.send.is_none() {
        return Err(ResponseError::new(
            "ErrorSendMeetingInvitationsOrCancellationsRequired",
            "The SendMeetingInvitationsOrCancellations attribute is required for calendar items.",
        )
        .into());
    }
    if matches!(entry.item.kind, ItemKind::Message(_)) && options.disposition.is_none() {
        return Err(ResponseError::new(
            "ErrorMessageDispositionRequired",
            "The MessageDisposition attribute is required for messages.",
        )
        .into());
    }
    // The stored item whose version the change key names (the master for occurrences).
    let stored_version = store
        .mailbox(&located.mailbox)
        .and_then(|m| m.get(located.item.key()))
        .map(|i| i.version)
        .ok_or_else(item_not_found)?;
    let client_version = match &located.change_key {
        None => None,
        Some(text) => {
            let key = decode_change_key(text).ok_or_else(|| {
                ResponseError::new(
                    "ErrorInvalidChangeKey",
                    "The change key passed in the request cannot be parsed.",
                )
            })?;
            if u64::from(key.key_low) != located.item.key() & 0xffff_ffff
                || key.version > stored_version
            {
                return Err(ResponseError::new(
                    "ErrorStaleObject",
                    "The change key is not up-to-date or does not belong to this item. Get the item to retrieve its current change key.",
                )
                .into());
            }
            Some(key.version)
        }
    };
    let updates = parse_updates(updates_el, time)?;
    let occurrence = matches!(located.item, ItemRef::Occurrence { .. });
    let before = entry.item.clone();
    let mut updated = entry.item.clone();
    for update in &updates {
        match update {
            Update::Set(prop) => set_prop(&mut updated, prop, occurrence)?,
            Update::Append(prop) => append_prop(&mut updated, prop)?,
            Update::Delete(path) => delete_prop(&mut updated, path, occurrence)?,
        }
    }
    // Conflict detection against the version the client saw (MS-OXWSCORE 3.1.4.9.4.1).
    let mut conflicts = 0usize;
    if let Some(version) = client_version.filter(|v| *v < before.version.max(stored_version)) {
        if options.resolution == ConflictResolution::NeverOverwrite {
            return Err(ResponseError::new(
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
            )
            .into());
        }
        // AutoResolve and AlwaysOverwrite: the client's values win; the properties that
        // changed on the server after the client's version are the conflicts reported.
        conflicts = updates
            .iter()
            .filter(|u| before.field_version(&update_path(u).name()) > version)
            .count();
    }
    let fields: Vec<String> = updates.iter().map(|u| update_path(u).name()).collect();
    let notify = match options.send {
        None | Some(SendUpdates::None) => Notify::Nobody,
        Some(SendUpdates::OnlyToAll | SendUpdates::OnlyToChanged) => Notify::Attendees,
        Some(SendUpdates::AllAndSaveCopy | SendUpdates::ChangedAndSaveCopy) => {
            Notify::AttendeesAndSaveCopy
        }
    };
    let now = cx.now;
    let directory = &cx.state.directory;
    save_update(
        &mut cx.state.calendar,
        directory,
        &located.mailbox,
        located.item,
        &before,
        updated,
        &fields,
        notify,
        now,
    )?;
    let store = &cx.state.calendar;
    let entry = view_of(store, &located).ok_or_else(item_not_found)?;
    let mut w = XmlWriter::new();
    let element = if is_calendar {
        "t:CalendarItem"
    } else {
        "t:Message"
    };
    w.start(element, &[]);
    let id = store.item_id(&entry.id);
    let ck = Store::change_key(&entry.item);
    w.empty("t:ItemId", &[("Id", &id), ("ChangeKey", &ck)]);
    w.end(element);
    Ok((w.into_string(), conflicts))
}
