//! Logic shared by the calendar operations: resolving item ids with access checks, applying
//! parsed properties to items, and the validation Exchange performs when a calendar item is
//! saved.
//!
//! # Access model
//! - The mailbox owner and an app impersonating it have every right, private items included.
//! - A delegate's rights come from its folder permission on the item's folder
//!   (`ErrorAccessDenied` without `ReadItems`/`EditItems`/`DeleteItems`).
//! - Private items (`Sensitivity` `Private`) are invisible to a delegate without
//!   `CanViewPrivateItems`: `FindItem` and `SyncFolderItems` leave them out (an item that
//!   becomes private is reported as deleted), and addressing one by id answers
//!   `ErrorItemNotFound`, as for an item that does not exist. ("A value of false indicates that
//!   private items are not visible to a delegate", `ViewPrivateItems` reference.)
//!
//! # Saving a calendar item
//! - `End` before `Start`: `ErrorCalendarEndDateIsEarlierThanStartDate`; longer than 5 years:
//!   `ErrorCalendarDurationIsTooLong`.
//! - All-day events are moved to midnight of the creation time zone (start: midnight of its
//!   day; end: the next midnight unless already at midnight).
//! - A recurring master's `Start`/`End` become those of its first occurrence; a series whose
//!   occurrences would overlap is `ErrorOccurrenceTimeSpanTooBig`.
//! - Changing a master's start, end, time zone or recurrence drops its exceptions and deleted
//!   occurrences, as Outlook/Exchange do ("changes to the series remove exceptions").

use jiff::{SignedDuration, Timestamp};

use super::ids::ItemRef;
use super::item::{
    AttendeeList, CalendarItem, CalendarItemType, ExtendedValue, FolderKind, Importance, Item,
    ItemKind, MessageItem, ResponseType, Sensitivity,
};
use super::mailbox::{OccurrenceLookup, ViewEntry};
use super::meetings::{MeetingChange, attendee_addresses, deliver};
use super::parse::{ItemElement, ParsedProp, PropPath, PropValue, read_only};
use super::recurrence::Series;
use super::render::folder_name;
use super::{IdError, Store};
use crate::directory::{Directory, FolderRights};
use crate::ews::context::{FolderRef, Need, OpContext, OpError};
use crate::ews::dom::Element;
use crate::ews::fault::{EwsFault, MessageXml, ResponseError};

/// Longest allowed calendar item (5 years).
pub const MAX_DURATION: SignedDuration = SignedDuration::from_hours(24 * (365 * 5 + 1));

/// `ErrorItemNotFound` with Exchange's text.
pub fn item_not_found() -> ResponseError {
    ResponseError::new(
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

/// An item id from a request, resolved to its mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Primary address of the mailbox holding the item.
    pub mailbox: String,
    /// The item (or occurrence).
    pub item: ItemRef,
    /// The `ChangeKey` attribute sent with the id, if any.
    pub change_key: Option<String>,
}

fn decode(store: &Store, id: &str) -> Result<(String, ItemRef), ResponseError> {
    match store.resolve_id(id) {
        Ok((mailbox, item)) => Ok((mailbox.address().to_owned(), item)),
        Err(IdError::Malformed) => Err(ResponseError::id_malformed()),
        Err(IdError::NotFound) => Err(item_not_found()),
    }
}

/// Resolves `t:ItemId`, `t:OccurrenceItemId` (`RecurringMasterId` + `InstanceIndex`) or
/// `t:RecurringMasterItemId` (`OccurrenceId`). The item must exist; rights are not checked.
pub fn resolve_item_element(store: &Store, el: &Element) -> Result<Located, OpError> {
    let attr = |name: &str| {
        el.attr(name)
            .ok_or_else(|| OpError::Fault(EwsFault::missing_attribute(el, name)))
    };
    match el.name.as_str() {
        "ItemId" => {
            let (mailbox, item) = decode(store, attr("Id")?)?;
            let mb = store.mailbox(&mailbox).ok_or_else(item_not_found)?;
            match item {
                ItemRef::Item { key, .. } => {
                    mb.get(key).ok_or_else(item_not_found)?;
                }
                ItemRef::Occurrence { master, original_start, .. } => {
                    let start = Timestamp::from_second(original_start).map_err(|_| ResponseError::id_malformed())?;
                    mb.occurrence(master, start).ok_or_else(item_not_found)?;
                }
            }
            Ok(Located {
                mailbox,
                item,
                change_key: el.attr("ChangeKey").map(str::to_owned),
            })
        }
        "OccurrenceItemId" => {
            let (mailbox, master) = decode(store, attr("RecurringMasterId")?)?;
            let index_text = attr("InstanceIndex")?;
            let index: u32 = index_text.trim().parse().map_err(|_| {
                EwsFault::schema(el, &format!("The 'InstanceIndex' attribute is invalid - The value '{index_text}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:int'."))
            })?;
            let ItemRef::Item { key, .. } = master else {
                return Err(ResponseError::new(
                    "ErrorCalendarCannotUseIdForRecurringMasterId",
                    "The Id specified is not the id of a recurring master item.",
                )
                .into());
            };
            let mb = store.mailbox(&mailbox).ok_or_else(item_not_found)?;
            let entry = mb.occurrence_by_index(key, index).map_err(|e| match e {
                OccurrenceLookup::NoMaster => item_not_found(),
                OccurrenceLookup::NotRecurring => ResponseError::new(
                    "ErrorCalendarCannotUseIdForRecurringMasterId",
                    "The Id specified is not the id of a recurring master item.",
                ),
                OccurrenceLookup::OutOfRange => ResponseError::new(
                    "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                    "The occurrence index is out of the recurrence range.",
                ),
                OccurrenceLookup::Deleted => ResponseError::new(
                    "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                    "The occurrence has been deleted from the recurrence.",
                ),
            })?;
            Ok(Located {
                mailbox,
                item: entry.id,
                change_key: el.attr("ChangeKey").map(str::to_owned),
            })
        }
        "RecurringMasterItemId" => {
            let (mailbox, occurrence) = decode(store, attr("OccurrenceId")?)?;
            let ItemRef::Occurrence { mailbox: token, master, .. } = occurrence else {
                return Err(ResponseError::new(
                    "ErrorCalendarCannotUseIdForOccurrenceId",
                    "The Id specified is not the id of an occurrence of a recurring calendar item.",
                )
                .into());
            };
            store.mailbox(&mailbox).and_then(|m| m.get(master)).ok_or_else(item_not_found)?;
            Ok(Located {
                mailbox,
                item: ItemRef::Item { mailbox: token, key: master },
                change_key: el.attr("ChangeKey").map(str::to_owned),
            })
        }
        _ => Err(EwsFault::schema(
            el,
            &format!("The element '{}' is not an item id; expected ItemId, OccurrenceItemId or RecurringMasterItemId.", el.name),
        )
        .into()),
    }
}

/// The caller's rights on a folder of a mailbox (owner and impersonation: everything).
pub fn folder_rights(cx: &OpContext<'_>, mailbox: &str, folder: FolderKind) -> FolderRights {
    if cx.caller.acting_mailbox().eq_ignore_ascii_case(mailbox) {
        return FolderRights::owner();
    }
    match folder_name(folder) {
        Some(name) => cx.rights(&FolderRef {
            mailbox: mailbox.to_owned(),
            folder: name,
        }),
        None => FolderRights::default(),
    }
}

/// Whether a caller with `rights` sees `item` at all.
pub fn can_see(item: &Item, rights: &FolderRights) -> bool {
    !item.is_private() || rights.view_private
}

/// Resolves the item id element of an update or a delete: the item must exist and be visible
/// to the caller, who needs `need(own)` on its folder (`own`: the caller created the item).
/// Returns where the item is and how EWS shows it.
pub fn locate_for_change(
    cx: &OpContext<'_>,
    id_el: &Element,
    need: impl FnOnce(bool) -> Need,
) -> Result<(Located, ViewEntry), OpError> {
    let store = &cx.state.calendar;
    let located = resolve_item_element(store, id_el)?;
    let entry = view_of(store, &located).ok_or_else(item_not_found)?;
    let rights = folder_rights(cx, &located.mailbox, entry.item.folder);
    if !can_see(&entry.item, &rights) {
        return Err(item_not_found().into());
    }
    let own = entry
        .item
        .creator
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case(cx.caller.acting_mailbox()));
    if let Some(name) = folder_name(entry.item.folder) {
        cx.require(
            &FolderRef {
                mailbox: located.mailbox.clone(),
                folder: name,
            },
            need(own),
        )?;
    }
    Ok((located, entry))
}

/// The item (or occurrence) an id points at, as EWS shows it.
pub fn view_of(store: &Store, located: &Located) -> Option<ViewEntry> {
    let mailbox = store.mailbox(&located.mailbox)?;
    match located.item {
        ItemRef::Item { key, .. } => mailbox.get(key).map(|item| ViewEntry {
            id: located.item,
            item: item.clone(),
        }),
        ItemRef::Occurrence {
            master,
            original_start,
            ..
        } => mailbox.occurrence(master, Timestamp::from_second(original_start).ok()?),
    }
}

/// Builds a new item from the properties of a `CreateItem` item element.
pub fn build_item(
    element: ItemElement,
    props: &[ParsedProp],
    now: Timestamp,
) -> Result<Item, ResponseError> {
    let kind = match element {
        ItemElement::Calendar => {
            let start = round_up_half_hour(now);
            ItemKind::Calendar(CalendarItem::new(
                start,
                start
                    .checked_add(SignedDuration::from_mins(30))
                    .unwrap_or(start),
            ))
        }
        ItemElement::Message => ItemKind::Message(MessageItem {
            is_draft: true,
            is_read: true,
            ..MessageItem::default()
        }),
    };
    let mut item = Item::new(kind);
    // Exchange defaults a new appointment's reminder to 15 minutes, set.
    if element == ItemElement::Calendar {
        item.reminder_is_set = true;
    }
    for prop in props {
        set_prop(&mut item, prop, false)?;
    }
    Ok(item)
}

fn round_up_half_hour(now: Timestamp) -> Timestamp {
    let secs = now.as_second();
    let rounded = (secs + 1799).div_euclid(1800) * 1800;
    Timestamp::from_second(rounded).unwrap_or(now)
}

fn not_for(item_class: &str, path: &PropPath) -> ResponseError {
    ResponseError::new(
        "ErrorInvalidPropertyRequest",
        &format!(
            "The property {} is not valid for this object type ({item_class}).",
            path.name(),
        ),
    )
    .with(MessageXml::field_uri(path.name()))
}

/// The calendar part of `item`, to set the calendar property `path` on: another kind of item
/// does not have the property, and `series_level_on_occurrence` (a series-level property set
/// on an occurrence) makes it read-only.
fn calendar_to_set<'a>(
    item: &'a mut Item,
    path: &PropPath,
    series_level_on_occurrence: bool,
) -> Result<&'a mut CalendarItem, ResponseError> {
    match &mut item.kind {
        ItemKind::Calendar(_) if series_level_on_occurrence => Err(read_only(&path.name())),
        ItemKind::Calendar(cal) => Ok(cal),
        _ => Err(not_for(&item.item_class, path)),
    }
}

/// Sets one property (`SetItemField`, or a `CreateItem` element). `occurrence` forbids the
/// series-level properties.
pub fn set_prop(item: &mut Item, prop: &ParsedProp, occurrence: bool) -> Result<(), ResponseError> {
    let is_calendar = item.calendar().is_some();
    let path = &prop.path;
    match &prop.value {
        PropValue::Ignored => {}
        PropValue::ItemClass(class) => {
            if is_calendar && !class.starts_with("IPM.Appointment") {
                return Err(ResponseError::new(
                    "ErrorObjectTypeChanged",
                    "Object cannot be saved because its type has changed.",
                ));
            }
            item.item_class = class.clone();
        }
        PropValue::Subject(s) => item.subject = s.clone(),
        PropValue::Sensitivity(s) => item.sensitivity = *s,
        PropValue::Body(b) => item.body = b.clone(),
        PropValue::Categories(c) => item.categories = c.clone(),
        PropValue::Importance(i) => item.importance = *i,
        PropValue::ReminderIsSet(r) => item.reminder_is_set = *r,
        PropValue::ReminderMinutes(m) => item.reminder_minutes = *m,
        PropValue::Extended(p) => item.set_extended_property(p.clone()),
        PropValue::Uid(uid) => calendar_to_set(item, path, occurrence)?.uid = uid.clone(),
        PropValue::Start(t) => calendar_to_set(item, path, false)?.start = *t,
        PropValue::End(t) => calendar_to_set(item, path, false)?.end = *t,
        PropValue::IsAllDay(b) => calendar_to_set(item, path, false)?.is_all_day = *b,
        PropValue::FreeBusy(f) => calendar_to_set(item, path, false)?.free_busy = *f,
        PropValue::Location(l) => {
            calendar_to_set(item, path, false)?.location = Some(l.clone());
        }
        PropValue::Attendees(list, attendees) => {
            *calendar_to_set(item, path, false)?.attendees_mut(*list) = attendees.clone();
        }
        PropValue::Recurrence(r) => {
            let cal = calendar_to_set(item, path, occurrence)?;
            cal.recurrence = Some(r.clone());
            cal.item_type = CalendarItemType::RecurringMaster;
        }
        PropValue::StartTimeZone(z) => {
            // An occurrence keeps the series' zone; setting it to that zone (as clients do with
            // every Start/End change) is accepted, another zone is not.
            let same_zone = item.calendar().is_some_and(|c| {
                c.start_zone.id() == z.id()
                    && (*path != PropPath::Field("calendar:MeetingTimeZone")
                        || c.end_zone.id() == z.id())
            });
            let cal = calendar_to_set(item, path, occurrence && !same_zone)?;
            cal.start_zone = z.clone();
            // Exchange 2007's MeetingTimeZone names both ends.
            if *path == PropPath::Field("calendar:MeetingTimeZone") {
                cal.end_zone = z.clone();
            }
        }
        PropValue::EndTimeZone(z) => calendar_to_set(item, path, false)?.end_zone = z.clone(),
        PropValue::ToRecipients(to) => match &mut item.kind {
            ItemKind::Message(m) => m.to = to.clone(),
            _ => return Err(not_for(&item.item_class, path)),
        },
        PropValue::From(from) => match &mut item.kind {
            ItemKind::Message(m) => m.from = Some(from.clone()),
            _ => return Err(not_for(&item.item_class, path)),
        },
        PropValue::IsRead(read) => match &mut item.kind {
            ItemKind::Message(m) => m.is_read = *read,
            ItemKind::MeetingMessage(m) => m.is_read = *read,
            _ => return Err(not_for(&item.item_class, path)),
        },
    }
    Ok(())
}

/// Appends to a property (`AppendToItemField`): attendee lists, recipients and the body.
pub fn append_prop(item: &mut Item, prop: &ParsedProp) -> Result<(), ResponseError> {
    let invalid = || {
        ResponseError::new(
            "ErrorInvalidPropertyAppend",
            "The property does not support appending; only recipient and attendee collections, Body and ReplyTo do.",
        )
        .with(MessageXml::field_uri(prop.path.name()))
    };
    match &prop.value {
        PropValue::Attendees(list, attendees) => {
            let Some(cal) = item.calendar_mut() else {
                return Err(invalid());
            };
            let target = cal.attendees_mut(*list);
            for attendee in attendees {
                if !target
                    .iter()
                    .any(|a| a.mailbox.same_address(&attendee.mailbox.email))
                {
                    target.push(attendee.clone());
                }
            }
            Ok(())
        }
        PropValue::ToRecipients(to) => match &mut item.kind {
            ItemKind::Message(m) => {
                m.to.extend(to.iter().cloned());
                Ok(())
            }
            _ => Err(invalid()),
        },
        PropValue::Body(body) => {
            if body.body_type != item.body.body_type && !item.body.content.is_empty() {
                return Err(invalid());
            }
            item.body.body_type = body.body_type;
            item.body.content.push_str(&body.content);
            Ok(())
        }
        _ => Err(invalid()),
    }
}

/// Deletes a property (`DeleteItemField`).
pub fn delete_prop(
    item: &mut Item,
    path: &PropPath,
    occurrence: bool,
) -> Result<(), ResponseError> {
    let invalid = || {
        ResponseError::new(
            "ErrorInvalidPropertyDelete",
            "The property cannot be deleted.",
        )
        .with(MessageXml::field_uri(path.name()))
    };
    match path {
        PropPath::Extended(uri) => {
            item.remove_extended_property(&uri.key());
            Ok(())
        }
        PropPath::Field(field) => {
            match *field {
                "item:Subject" => item.subject.clear(),
                "item:Body" => item.body.content.clear(),
                "item:Categories" => item.categories.clear(),
                "item:Sensitivity" => item.sensitivity = Sensitivity::Normal,
                "item:Importance" => item.importance = Importance::Normal,
                "item:ReminderIsSet" => item.reminder_is_set = false,
                "calendar:Location" => match item.calendar_mut() {
                    Some(cal) => cal.location = None,
                    None => return Err(invalid()),
                },
                "calendar:RequiredAttendees"
                | "calendar:OptionalAttendees"
                | "calendar:Resources" => {
                    let list = match *field {
                        "calendar:RequiredAttendees" => AttendeeList::Required,
                        "calendar:OptionalAttendees" => AttendeeList::Optional,
                        _ => AttendeeList::Resources,
                    };
                    match item.calendar_mut() {
                        Some(cal) => cal.attendees_mut(list).clear(),
                        None => return Err(invalid()),
                    }
                }
                "calendar:Recurrence" if !occurrence => match item.calendar_mut() {
                    Some(cal) => {
                        cal.recurrence = None;
                        cal.item_type = CalendarItemType::Single;
                        cal.exceptions.clear();
                        cal.deleted_occurrences.clear();
                    }
                    None => return Err(invalid()),
                },
                _ => return Err(invalid()),
            }
            Ok(())
        }
    }
}

/// What changed on a master that invalidates its exceptions.
fn series_changed(before: &CalendarItem, after: &CalendarItem) -> bool {
    before.start != after.start
        || before.end != after.end
        || before.recurrence != after.recurrence
        || before.start_zone != after.start_zone
}

/// The validation and normalisation Exchange performs when a calendar item is saved.
/// `before` is the stored version for updates of masters and singles.
pub fn finalize_calendar(
    item: &mut Item,
    before: Option<&CalendarItem>,
) -> Result<(), ResponseError> {
    let Some(cal) = item.calendar_mut() else {
        return Ok(());
    };
    if cal.is_all_day {
        let zone = cal.start_zone.clone();
        let start_day = zone.to_local(cal.start).date();
        let end_local = zone.to_local(cal.end);
        let mut end_day = end_local.date();
        if end_local.time() != jiff::civil::Time::midnight() || end_day <= start_day {
            end_day = end_day.tomorrow().unwrap_or(end_day);
        }
        if end_day <= start_day {
            end_day = start_day.tomorrow().unwrap_or(start_day);
        }
        cal.start = zone.start_of_day(start_day);
        cal.end = zone.start_of_day(end_day);
    }
    if cal.end < cal.start {
        return Err(ResponseError::new(
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "EndDate is earlier than StartDate",
        ));
    }
    if cal.end.duration_since(cal.start) > MAX_DURATION {
        return Err(ResponseError::new(
            "ErrorCalendarDurationIsTooLong",
            "The duration of the calendar item is longer than the maximum of 5 years.",
        ));
    }
    if let Some(recurrence) = cal.recurrence.clone() {
        cal.item_type = CalendarItemType::RecurringMaster;
        let series = Series::from_master(&recurrence, &cal.start_zone, cal.start, cal.end);
        let mut occurrences = series.occurrences();
        let first = occurrences.next().ok_or_else(|| {
            ResponseError::new(
                "ErrorRecurrenceHasNoOccurrence",
                "The recurrence has no occurrence in its range.",
            )
        })?;
        if let Some(second) = occurrences.next()
            && first.end > second.start
        {
            return Err(ResponseError::new(
                "ErrorOccurrenceTimeSpanTooBig",
                "The duration of an occurrence is longer than the time between occurrences.",
            ));
        }
        cal.start = first.start;
        cal.end = first.end;
        if let Some(before) = before
            && series_changed(before, cal)
        {
            cal.exceptions.clear();
            cal.deleted_occurrences.clear();
        }
    } else if cal.item_type == CalendarItemType::RecurringMaster {
        cal.item_type = CalendarItemType::Single;
    }
    Ok(())
}

/// Checks that a moved occurrence stays between its neighbours (`ErrorOccurrenceCrossingBoundary`).
pub fn check_occurrence_move(
    master: &CalendarItem,
    original_start: Timestamp,
    new_start: Timestamp,
) -> Result<(), ResponseError> {
    let Some(recurrence) = &master.recurrence else {
        return Ok(());
    };
    let series = Series::from_master(recurrence, &master.start_zone, master.start, master.end);
    let mut previous = None;
    let mut next = None;
    for occurrence in series.occurrences() {
        if occurrence.original_start < original_start {
            previous = Some(occurrence);
        } else if occurrence.original_start > original_start {
            next = Some(occurrence);
            break;
        }
    }
    let crossing = previous.is_some_and(|p| new_start <= p.start)
        || next.is_some_and(|n| new_start >= n.start);
    if crossing {
        return Err(ResponseError::new(
            "ErrorOccurrenceCrossingBoundary",
            "An occurrence cannot be moved before the previous or after the next occurrence.",
        ));
    }
    Ok(())
}

/// An extended property value as a single string (for restrictions).
pub fn extended_text(value: &ExtendedValue) -> Vec<&str> {
    match value {
        ExtendedValue::Single(v) => vec![v.as_str()],
        ExtendedValue::Multi(vs) => vs.iter().map(String::as_str).collect(),
    }
}

/// How meeting attendees are told about a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// `SendToNone`.
    Nobody,
    /// `SendOnlyToAll` (and the `...Changed` variants).
    Attendees,
    /// `SendToAllAndSaveCopy` (and `SendToChangedAndSaveCopy`).
    AttendeesAndSaveCopy,
}

fn is_organizer_meeting(item: &Item) -> bool {
    item.calendar().is_some_and(|c| {
        c.my_response_type == ResponseType::Organizer && c.all_attendees().next().is_some()
    })
}

/// Saves an updated item (or occurrence, which becomes an exception of its master) and tells
/// the attendees when the mailbox owner organizes the meeting. `before` is the item as it
/// was; `fields` the changed properties (for conflict bookkeeping).
#[allow(clippy::too_many_arguments)]
pub fn save_update(
    store: &mut Store,
    directory: &Directory,
    mailbox: &str,
    item: ItemRef,
    before: &Item,
    mut updated: Item,
    fields: &[String],
    notify: Notify,
    now: Timestamp,
) -> Result<(), ResponseError> {
    let key = item.key();
    match item {
        ItemRef::Occurrence { .. } => {
            let master = store
                .mailbox(mailbox)
                .and_then(|m| m.get(key))
                .and_then(Item::calendar)
                .cloned()
                .ok_or_else(item_not_found)?;
            let (Some(before_cal), Some(after_cal)) = (before.calendar(), updated.calendar())
            else {
                return Err(item_not_found());
            };
            let original_start = before_cal.original_start.unwrap_or(before_cal.start);
            if after_cal.start != before_cal.start {
                check_occurrence_move(&master, original_start, after_cal.start)?;
            }
            finalize_calendar(&mut updated, None)?;
            if let Some(cal) = updated.calendar_mut() {
                cal.item_type = CalendarItemType::Exception;
                cal.original_start = Some(original_start);
                cal.recurrence = None;
            }
            let fields = fields.to_vec();
            store
                .mailbox_mut(mailbox)
                .update(
                    key,
                    now,
                    &["calendar:ModifiedOccurrences".to_owned()],
                    move |item, seq| {
                        updated.key = item.key;
                        updated.version = seq;
                        updated.entered = item.entered;
                        updated.folder = item.folder;
                        updated.last_modified = now;
                        for field in &fields {
                            updated.field_versions.insert(field.clone(), seq);
                        }
                        if let Some(cal) = item.calendar_mut() {
                            cal.deleted_occurrences.remove(&original_start);
                            cal.exceptions.insert(original_start, updated);
                        }
                    },
                )
                .ok_or_else(item_not_found)?;
        }
        ItemRef::Item { .. } => {
            finalize_calendar(&mut updated, before.calendar())?;
            store
                .mailbox_mut(mailbox)
                .update(key, now, fields, |item, _| {
                    let keep = (
                        item.key,
                        item.entered,
                        item.folder,
                        item.created,
                        item.received,
                        item.field_versions.clone(),
                    );
                    *item = updated;
                    (
                        item.key,
                        item.entered,
                        item.folder,
                        item.created,
                        item.received,
                        item.field_versions,
                    ) = keep;
                })
                .ok_or_else(item_not_found)?;
        }
    }
    let after_is_meeting = store
        .mailbox(mailbox)
        .and_then(|m| m.get(key))
        .is_some_and(is_organizer_meeting);
    if notify != Notify::Nobody && (is_organizer_meeting(before) || after_is_meeting) {
        let previous = before
            .calendar()
            .map(attendee_addresses)
            .unwrap_or_default();
        store.mailbox_mut(mailbox).update(
            key,
            now,
            &["calendar:AppointmentSequenceNumber".to_owned()],
            |item, _| {
                if let Some(cal) = item.calendar_mut() {
                    cal.sequence_number += 1;
                }
            },
        );
        deliver(
            store,
            directory,
            mailbox,
            key,
            MeetingChange::Update { previous },
            notify == Notify::AttendeesAndSaveCopy,
            now,
        );
    }
    Ok(())
}

/// Deletes an item (`move_to_deleted`: to Deleted Items, unless already there) or an
/// occurrence (it becomes a deleted occurrence of its master), telling the attendees of an
/// organizer's meeting.
pub fn remove_item(
    store: &mut Store,
    directory: &Directory,
    mailbox: &str,
    item: ItemRef,
    move_to_deleted: bool,
    notify: Notify,
    now: Timestamp,
) -> Result<(), ResponseError> {
    let key = item.key();
    let stored = store
        .mailbox(mailbox)
        .and_then(|m| m.get(key))
        .cloned()
        .ok_or_else(item_not_found)?;
    let organizer = is_organizer_meeting(&stored);
    let save_copy = notify == Notify::AttendeesAndSaveCopy;
    match item {
        ItemRef::Occurrence { original_start, .. } => {
            let original_start = Timestamp::from_second(original_start)
                .map_err(|_| ResponseError::id_malformed())?;
            let previous = stored
                .calendar()
                .map(attendee_addresses)
                .unwrap_or_default();
            store
                .mailbox_mut(mailbox)
                .update(
                    key,
                    now,
                    &["calendar:DeletedOccurrences".to_owned()],
                    |master, _| {
                        if let Some(cal) = master.calendar_mut() {
                            cal.exceptions.remove(&original_start);
                            cal.deleted_occurrences.insert(original_start);
                        }
                    },
                )
                .ok_or_else(item_not_found)?;
            if notify != Notify::Nobody && organizer {
                deliver(
                    store,
                    directory,
                    mailbox,
                    key,
                    MeetingChange::Update { previous },
                    save_copy,
                    now,
                );
            }
        }
        ItemRef::Item { .. } => {
            if notify != Notify::Nobody && organizer {
                deliver(
                    store,
                    directory,
                    mailbox,
                    key,
                    MeetingChange::Cancel,
                    save_copy,
                    now,
                );
            }
            let mb = store.mailbox_mut(mailbox);
            let removed = if move_to_deleted && stored.folder != FolderKind::DeletedItems {
                mb.move_to(key, FolderKind::DeletedItems, now).is_some()
            } else {
                mb.remove(key, now).is_some()
            };
            if !removed {
                return Err(item_not_found());
            }
        }
    }
    Ok(())
}
