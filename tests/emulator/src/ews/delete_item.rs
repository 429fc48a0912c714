//! DeleteItem: items and occurrences, one response message per id (partial success).
//!
//! - `DeleteType` is required: `HardDelete` and `SoftDelete` remove the item from its folder
//!   (a soft-deleted item goes to Recoverable Items, which the emulator does not expose);
//!   `MoveToDeletedItems` moves it to Deleted Items (it gets a new id there, like in Exchange;
//!   an item already in Deleted Items is soft-deleted).
//! - `SendMeetingCancellations` is required for calendar items
//!   (`ErrorSendMeetingCancellationsRequired`); when the organizer deletes a meeting with
//!   cancellations, attendees get them (see [`crate::calendar::meetings`]).
//! - Deleting an occurrence id adds a deleted occurrence to the master (and drops its
//!   exception, if any); the organizer's attendees get the updated series.
//! - An id whose item is already gone is `ErrorItemNotFound` (fixture
//!   `deleteitem-batch-response-itemnotfound.xml`); a malformed id `ErrorInvalidIdMalformed`;
//!   the caller needs `DeleteItems` (all, or own items) on the folder.

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder};
use crate::calendar::service::{Notify, locate_for_change, remove_item};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeleteType {
    Hard,
    Soft,
    MoveToDeletedItems,
}

/// Handles `m:DeleteItem`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let delete_type = match op.attr("DeleteType") {
        None => return Err(EwsFault::missing_attribute(op, "DeleteType")),
        Some("HardDelete") => DeleteType::Hard,
        Some("SoftDelete") => DeleteType::Soft,
        Some("MoveToDeletedItems") => DeleteType::MoveToDeletedItems,
        Some(other) => {
            return Err(EwsFault::invalid_enum(
                op,
                "DeleteType",
                other,
                "DisposalType",
            ));
        }
    };
    let cancellations = match op.attr("SendMeetingCancellations") {
        None => None,
        Some(v @ ("SendToNone" | "SendOnlyToAll" | "SendToAllAndSaveCopy")) => Some(v),
        Some(other) => {
            return Err(EwsFault::invalid_enum(
                op,
                "SendMeetingCancellations",
                other,
                "CalendarItemCreateOrDeleteOperationType",
            ));
        }
    };
    if let Some(v) = op.attr("AffectedTaskOccurrences")
        && !matches!(v, "AllOccurrences" | "SpecifiedOccurrenceOnly")
    {
        return Err(EwsFault::invalid_enum(
            op,
            "AffectedTaskOccurrences",
            v,
            "AffectedTaskOccurrencesType",
        ));
    }
    let mut ids_el = None;
    for child in &op.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (MESSAGES_NS, "ItemIds") if ids_el.is_none() => ids_el = Some(child),
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    let ids_el = ids_el.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "ItemIds"))?;
    if ids_el.children.is_empty() {
        return Err(EwsFault::missing_child(ids_el, TYPES_NS, "ItemId"));
    }
    let mut response = ResponseBuilder::new("DeleteItem");
    for id_el in &ids_el.children {
        if id_el.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(ids_el, id_el));
        }
        let result = delete_one(cx, id_el, delete_type, cancellations);
        response.outcome(result, |_, ()| {}, |_| {})?;
    }
    Ok(response.finish())
}

fn delete_one(
    cx: &mut OpContext<'_>,
    id_el: &Element,
    delete_type: DeleteType,
    cancellations: Option<&str>,
) -> Result<(), OpError> {
    let (located, entry) = locate_for_change(cx, id_el, |own| Need::DeleteItems { own })?;
    let calendar = entry.item.calendar().cloned();
    if calendar.is_some() && cancellations.is_none() {
        return Err(ResponseError::new(
            "ErrorSendMeetingCancellationsRequired",
            "The SendMeetingCancellations attribute is required for calendar items.",
        )
        .into());
    }
    let notify = match cancellations {
        Some("SendOnlyToAll") => Notify::Attendees,
        Some("SendToAllAndSaveCopy") => Notify::AttendeesAndSaveCopy,
        _ => Notify::Nobody,
    };
    let now = cx.now;
    let directory = &cx.state.directory;
    remove_item(
        &mut cx.state.calendar,
        directory,
        &located.mailbox,
        located.item,
        delete_type == DeleteType::MoveToDeletedItems,
        notify,
        now,
    )?;
    Ok(())
}
