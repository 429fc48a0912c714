//! GetItem: items by id, one response message per id in request order (partial success).
//!
//! Ids may be `t:ItemId` (items, occurrences, exceptions), `t:OccurrenceItemId`
//! (`RecurringMasterId` + 1-based `InstanceIndex`) or `t:RecurringMasterItemId` (the master of
//! an occurrence id). Per id: `ErrorInvalidIdMalformed` for an id this server did not issue,
//! `ErrorItemNotFound` for a gone item (or a private item the delegate may not see),
//! `ErrorAccessDenied` without `ReadItems` on the item's folder, the occurrence errors for
//! `OccurrenceItemId`. `ItemShape` decides the properties (`IdOnly`/`Default`/`AllProperties`,
//! `AdditionalProperties` with `FieldURI`/`ExtendedFieldURI`, `BodyType`).

use super::context::{OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, write_items, write_no_items};
use crate::calendar::ids::ItemRef;
use crate::calendar::render::{RenderContext, write_item};
use crate::calendar::service::{
    can_see, folder_rights, item_not_found, resolve_item_element, view_of,
};
use crate::calendar::shape::{ItemShape, ShapeError, ShapeUse};

/// Handles `m:GetItem`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let mut shape_el = None;
    let mut ids_el = None;
    for child in &op.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (MESSAGES_NS, "ItemShape") if shape_el.is_none() && ids_el.is_none() => {
                shape_el = Some(child)
            }
            (MESSAGES_NS, "ItemIds") if ids_el.is_none() => ids_el = Some(child),
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    let shape_el = shape_el.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemShape"))?;
    let ids_el = ids_el.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemIds"))?;
    let shape = match ItemShape::parse(shape_el, ShapeUse::GetItem) {
        Ok(shape) => Ok(shape),
        Err(ShapeError::Fault(f)) => return Err(f),
        Err(ShapeError::InvalidProperty(e)) => Err(e),
    };
    if ids_el.children.is_empty() {
        return Err(EwsFault::missing_child(ids_el, TYPES_NS, "ItemId"));
    }
    let mut response = ResponseBuilder::new("GetItem");
    for id_el in &ids_el.children {
        if id_el.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(ids_el, id_el));
        }
        let result = shape
            .clone()
            .map_err(OpError::Item)
            .and_then(|shape| get_one(cx, id_el, &shape));
        response.outcome(result, |w, xml| write_items(w, &xml), write_no_items)?;
    }
    Ok(response.finish())
}

fn get_one(cx: &OpContext<'_>, id_el: &Element, shape: &ItemShape) -> Result<String, OpError> {
    let store = &cx.state.calendar;
    let located = resolve_item_element(store, id_el)?;
    let entry = view_of(store, &located).ok_or_else(item_not_found)?;
    let rights = folder_rights(cx, &located.mailbox, entry.item.folder);
    if !rights.read_items {
        return Err(ResponseError::access_denied().into());
    }
    let visible = match located.item {
        // An occurrence is visible when its master is.
        ItemRef::Occurrence { .. } => {
            let master = store
                .mailbox(&located.mailbox)
                .and_then(|m| m.get(located.item.key()));
            master.is_some_and(|m| can_see(m, &rights)) && can_see(&entry.item, &rights)
        }
        ItemRef::Item { .. } => can_see(&entry.item, &rights),
    };
    if !visible {
        return Err(item_not_found().into());
    }
    let mailbox = store.mailbox(&located.mailbox).ok_or_else(item_not_found)?;
    let render = RenderContext {
        store,
        mailbox,
        rights: &rights,
    };
    let mut w = super::writer::XmlWriter::new();
    write_item(&mut w, &render, &entry.id, &entry.item, shape);
    Ok(w.into_string())
}
