//! Meeting delivery: what happens in attendee mailboxes when an organizer sends, updates or
//! cancels a meeting (`SendMeetingInvitations`, `SendMeetingInvitationsOrCancellations`,
//! `SendMeetingCancellations` other than `SendToNone`).
//!
//! # Model
//! Only attendees with a mailbox in the emulator's directory, in the organizer's tenant, receive
//! anything; other addresses are external and ignored.
//! - **Every recipient** gets a meeting message in its Inbox: a `MeetingRequest`
//!   (`NewMeetingRequest`, or `FullUpdate` for an update) or a `MeetingCancellation`.
//! - **Users**: the Calendar Attendant puts a tentative copy (same `UID`, `MyResponseType`
//!   `NoResponseReceived`, free/busy `Tentative`) in their calendar, linked from the request's
//!   `AssociatedCalendarItemId`; an update rewrites the copy; a cancellation marks it
//!   `IsCancelled`, free/busy `Free`, subject prefixed `Canceled: `.
//! - **Rooms and equipment** are processed at once by the Resource Booking Attendant with the
//!   Exchange defaults `AutomateProcessing AutoAccept`, `AllowConflicts $false`,
//!   `BookingWindowInDays 180`: if nothing else (another `UID`) occupies the resource during the
//!   meeting (for a series: any occurrence in the next 180 days), the request is accepted — the
//!   room calendar holds the meeting with `MyResponseType` `Accept` and free/busy `Busy` —
//!   otherwise it is declined and the room calendar holds nothing for it. A cancellation, or
//!   removing the room from the attendees, deletes the room's copy. The request in the room's
//!   Inbox is marked `HasBeenProcessed`.
//! - **The organizer** gets a `MeetingResponse` (accept or decline) from each resource in its
//!   Inbox, and the resource's `ResponseType`/`LastResponseTime` in the organizer's item are
//!   updated (a second change of the organizer's item, as in Exchange). The organizer's item is
//!   marked `MeetingRequestWasSent`; every update increments `AppointmentSequenceNumber`.
//!   `...AndSaveCopy` also stores a copy of the request in the organizer's Sent Items.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

use super::Store;
use super::item::{
    AttendeeList, CalendarItem, CalendarItemType, EmailAddress, FolderKind, FreeBusy, Item,
    ItemKey, ItemKind, MeetingMessage, MeetingMessageKind, ResponseType,
};
use super::recurrence::Series;
use crate::directory::Directory;
use crate::seed::MailboxKind;

/// How far ahead a resource checks a series for conflicts (`BookingWindowInDays`).
pub const BOOKING_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 180);

/// What the organizer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingChange {
    /// The meeting was created.
    New,
    /// The meeting was updated; `previous` are the attendee addresses before the update.
    Update {
        /// Attendees before the update (lower-case addresses).
        previous: BTreeSet<String>,
    },
    /// The meeting was cancelled (deleted with cancellations).
    Cancel,
}

/// What happened, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Recipients that got a request or update.
    pub invited: Vec<String>,
    /// Recipients that got a cancellation.
    pub cancelled: Vec<String>,
    /// Resources that accepted.
    pub accepted: Vec<String>,
    /// Resources that declined.
    pub declined: Vec<String>,
}

/// Lower-case addresses of all attendees of a meeting.
pub fn attendee_addresses(cal: &CalendarItem) -> BTreeSet<String> {
    cal.all_attendees()
        .map(|(_, a)| a.mailbox.email.to_ascii_lowercase())
        .collect()
}

struct Recipient {
    address: String,
    display_name: Option<String>,
    is_resource: bool,
}

fn resolve_recipient(directory: &Directory, organizer: &str, address: &str) -> Option<Recipient> {
    let mailbox = directory
        .by_any_address(address)
        .filter(|m| m.has_mailbox)?;
    if mailbox.address.eq_ignore_ascii_case(organizer) {
        return None;
    }
    let organizer_tenant = directory
        .by_primary(organizer)
        .and_then(|o| directory.tenant_of(o))
        .map(|t| t.id.clone());
    let tenant = directory.tenant_of(mailbox).map(|t| t.id.clone());
    if organizer_tenant.is_some() && tenant != organizer_tenant {
        return None;
    }
    Some(Recipient {
        address: mailbox.address.clone(),
        display_name: mailbox.display_name.clone(),
        is_resource: matches!(mailbox.kind, MailboxKind::Room | MailboxKind::Equipment),
    })
}

/// The calendar item with this `UID` in a mailbox's calendar, if any.
pub fn find_by_uid(store: &Store, mailbox: &str, uid: &str) -> Option<ItemKey> {
    store
        .mailbox(mailbox)?
        .find_by_uid(FolderKind::Calendar, uid)
}

/// Busy intervals a meeting occupies (for a series: occurrences in the booking window).
fn busy_intervals(cal: &CalendarItem, now: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    match &cal.recurrence {
        None => vec![(cal.start, cal.end)],
        Some(recurrence) => {
            let series = Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end);
            let horizon = now.checked_add(BOOKING_WINDOW).unwrap_or(Timestamp::MAX);
            let mut intervals: Vec<(Timestamp, Timestamp)> = series
                .occurrences_overlapping(now.min(cal.start), horizon)
                .filter(|o| {
                    !cal.deleted_occurrences.contains(&o.original_start)
                        && !cal.exceptions.contains_key(&o.original_start)
                })
                .map(|o| (o.start, o.end))
                .collect();
            intervals.extend(
                cal.exceptions
                    .values()
                    .filter_map(Item::calendar)
                    .map(|e| (e.start, e.end)),
            );
            intervals
        }
    }
}

/// Whether the resource's calendar has something else (another UID) during the meeting.
fn has_conflict(store: &Store, resource: &str, cal: &CalendarItem, now: Timestamp) -> bool {
    let Some(mailbox) = store.mailbox(resource) else {
        return false;
    };
    busy_intervals(cal, now).into_iter().any(|(start, end)| {
        // Touching meetings do not conflict; the view includes items ending at `start`.
        mailbox
            .calendar_view(start, end, |_| true)
            .iter()
            .any(|entry| {
                let Some(other) = entry.item.calendar() else {
                    return false;
                };
                other.uid != cal.uid
                    && !other.is_cancelled
                    && other.end > start
                    && other.start < end
                    && !matches!(other.free_busy, FreeBusy::Free)
            })
    })
}

fn meeting_message(
    kind: MeetingMessageKind,
    organizer: &Item,
    cal: &CalendarItem,
    request_type: &'static str,
) -> Item {
    let mut message = Item::new(ItemKind::MeetingMessage(Box::new(MeetingMessage {
        kind,
        from: cal.organizer.clone(),
        is_read: false,
        meeting: strip_series_keys(cal),
        associated_calendar_item: None,
        has_been_processed: false,
        is_out_of_date: false,
        request_type,
    })));
    message.subject = match kind {
        MeetingMessageKind::Cancellation => format!("Canceled: {}", organizer.subject),
        MeetingMessageKind::Response(ResponseType::Accept) => {
            format!("Accepted: {}", organizer.subject)
        }
        MeetingMessageKind::Response(ResponseType::Tentative) => {
            format!("Tentative: {}", organizer.subject)
        }
        MeetingMessageKind::Response(_) => format!("Declined: {}", organizer.subject),
        MeetingMessageKind::Request => organizer.subject.clone(),
    };
    message.body = organizer.body.clone();
    message.sensitivity = organizer.sensitivity;
    message
}

/// A copy of calendar data without the exceptions' store keys (the store assigns new ones).
fn strip_series_keys(cal: &CalendarItem) -> CalendarItem {
    let mut copy = cal.clone();
    for exception in copy.exceptions.values_mut() {
        exception.key = 0;
        exception.field_versions.clear();
    }
    copy
}

/// The attendee's copy of the organizer's item.
fn attendee_copy(organizer: &Item, response: ResponseType, free_busy: FreeBusy) -> Item {
    let mut copy = organizer.clone();
    copy.field_versions.clear();
    copy.extended.clear();
    copy.reminder_is_set = true;
    if let Some(cal) = copy.calendar_mut() {
        *cal = strip_series_keys(cal);
        cal.my_response_type = response;
        cal.free_busy = free_busy;
        cal.is_meeting = true;
        cal.meeting_request_was_sent = false;
        for exception in cal.exceptions.values_mut() {
            if let Some(ecal) = exception.calendar_mut() {
                ecal.my_response_type = response;
                ecal.free_busy = free_busy;
            }
        }
    }
    copy
}

/// Writes (creates or replaces) the copy with `uid` in a mailbox's calendar; returns its key.
fn upsert_copy(store: &mut Store, mailbox: &str, copy: Item, now: Timestamp) -> ItemKey {
    let uid = copy.calendar().map(|c| c.uid.clone()).unwrap_or_default();
    let mailbox = store.mailbox_mut(mailbox);
    match mailbox.find_by_uid(FolderKind::Calendar, &uid) {
        Some(key) => {
            let fields = [
                "item:Subject",
                "calendar:Start",
                "calendar:End",
                "calendar:Location",
                "calendar:Recurrence",
            ]
            .map(String::from);
            mailbox.update(key, now, &fields, |item, _| {
                let created = item.created;
                let key = item.key;
                let entered = item.entered;
                let received = item.received;
                *item = Item {
                    key,
                    entered,
                    created,
                    received,
                    folder: FolderKind::Calendar,
                    ..copy
                };
            });
            key
        }
        None => mailbox.insert(FolderKind::Calendar, copy, now),
    }
}

fn set_organizer_response(
    store: &mut Store,
    organizer: &str,
    key: ItemKey,
    attendee: &str,
    response: ResponseType,
    now: Timestamp,
) {
    let fields = [
        AttendeeList::Required,
        AttendeeList::Optional,
        AttendeeList::Resources,
    ]
    .iter()
    .map(|l| match l {
        AttendeeList::Required => "calendar:RequiredAttendees".to_owned(),
        AttendeeList::Optional => "calendar:OptionalAttendees".to_owned(),
        AttendeeList::Resources => "calendar:Resources".to_owned(),
    })
    .collect::<Vec<_>>();
    store
        .mailbox_mut(organizer)
        .update(key, now, &fields, |item, _| {
            if let Some(cal) = item.calendar_mut() {
                for list in [
                    AttendeeList::Required,
                    AttendeeList::Optional,
                    AttendeeList::Resources,
                ] {
                    for a in cal.attendees_mut(list) {
                        if a.mailbox.same_address(attendee) {
                            a.response_type = response;
                            a.last_response_time = Some(now);
                        }
                    }
                }
            }
        });
}

/// Delivers the consequences of a meeting change by `organizer` on its item `key`.
///
/// `save_copy` is true for the `...AndSaveCopy` variants.
pub fn deliver(
    store: &mut Store,
    directory: &Directory,
    organizer: &str,
    key: ItemKey,
    change: MeetingChange,
    save_copy: bool,
    now: Timestamp,
) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    let Some(item) = store.mailbox(organizer).and_then(|m| m.get(key)).cloned() else {
        return report;
    };
    let Some(cal) = item.calendar().cloned() else {
        return report;
    };
    let current = attendee_addresses(&cal);
    let (invite, cancel): (BTreeSet<String>, BTreeSet<String>) = match &change {
        MeetingChange::New => (current.clone(), BTreeSet::new()),
        MeetingChange::Update { previous } => (
            current.clone(),
            previous.difference(&current).cloned().collect(),
        ),
        MeetingChange::Cancel => (BTreeSet::new(), current.clone()),
    };
    let request_type = match change {
        MeetingChange::New => "NewMeetingRequest",
        _ => "FullUpdate",
    };

    for address in &invite {
        let Some(recipient) = resolve_recipient(directory, organizer, address) else {
            continue;
        };
        report.invited.push(recipient.address.clone());
        let mut request = meeting_message(MeetingMessageKind::Request, &item, &cal, request_type);
        if recipient.is_resource {
            let conflict = has_conflict(store, &recipient.address, &cal, now);
            let response = if conflict {
                ResponseType::Decline
            } else {
                ResponseType::Accept
            };
            let associated = if conflict {
                if let Some(existing) = find_by_uid(store, &recipient.address, &cal.uid) {
                    store.mailbox_mut(&recipient.address).remove(existing, now);
                }
                report.declined.push(recipient.address.clone());
                None
            } else {
                report.accepted.push(recipient.address.clone());
                Some(upsert_copy(
                    store,
                    &recipient.address,
                    attendee_copy(&item, ResponseType::Accept, FreeBusy::Busy),
                    now,
                ))
            };
            if let ItemKind::MeetingMessage(m) = &mut request.kind {
                m.has_been_processed = true;
                m.is_read = true;
                m.associated_calendar_item = associated;
            }
            store
                .mailbox_mut(&recipient.address)
                .insert(FolderKind::Inbox, request, now);
            set_organizer_response(store, organizer, key, address, response, now);
            let mut answer = meeting_message(
                MeetingMessageKind::Response(response),
                &item,
                &cal,
                request_type,
            );
            if let ItemKind::MeetingMessage(m) = &mut answer.kind {
                m.from = Some(EmailAddress::smtp(
                    recipient.address.clone(),
                    recipient.display_name.clone(),
                ));
            }
            store
                .mailbox_mut(organizer)
                .insert(FolderKind::Inbox, answer, now);
        } else {
            let copy = upsert_copy(
                store,
                &recipient.address,
                attendee_copy(&item, ResponseType::NoResponseReceived, FreeBusy::Tentative),
                now,
            );
            if let ItemKind::MeetingMessage(m) = &mut request.kind {
                m.associated_calendar_item = Some(copy);
            }
            store
                .mailbox_mut(&recipient.address)
                .insert(FolderKind::Inbox, request, now);
        }
    }

    for address in &cancel {
        let Some(recipient) = resolve_recipient(directory, organizer, address) else {
            continue;
        };
        report.cancelled.push(recipient.address.clone());
        let mut cancellation =
            meeting_message(MeetingMessageKind::Cancellation, &item, &cal, "None");
        let existing = find_by_uid(store, &recipient.address, &cal.uid);
        if let Some(existing) = existing {
            if recipient.is_resource {
                store.mailbox_mut(&recipient.address).remove(existing, now);
            } else {
                let fields = ["calendar:IsCancelled".to_owned(), "item:Subject".to_owned()];
                store
                    .mailbox_mut(&recipient.address)
                    .update(existing, now, &fields, |copy, _| {
                        if !copy.subject.starts_with("Canceled: ") {
                            copy.subject = format!("Canceled: {}", copy.subject);
                        }
                        if let Some(c) = copy.calendar_mut() {
                            c.is_cancelled = true;
                            c.free_busy = FreeBusy::Free;
                        }
                    });
                if let ItemKind::MeetingMessage(m) = &mut cancellation.kind {
                    m.associated_calendar_item = Some(existing);
                }
            }
        }
        if let ItemKind::MeetingMessage(m) = &mut cancellation.kind {
            m.has_been_processed = recipient.is_resource;
        }
        store
            .mailbox_mut(&recipient.address)
            .insert(FolderKind::Inbox, cancellation, now);
    }

    let anything_sent = !report.invited.is_empty()
        || !report.cancelled.is_empty()
        || !invite.is_empty()
        || !cancel.is_empty();
    if anything_sent && change != MeetingChange::Cancel {
        store.mailbox_mut(organizer).update(
            key,
            now,
            &["calendar:MeetingRequestWasSent".to_owned()],
            |item, _| {
                if let Some(c) = item.calendar_mut() {
                    c.meeting_request_was_sent = true;
                    c.is_meeting = true;
                }
            },
        );
    }
    if save_copy && anything_sent {
        let kind = if change == MeetingChange::Cancel {
            MeetingMessageKind::Cancellation
        } else {
            MeetingMessageKind::Request
        };
        let mut sent = meeting_message(kind, &item, &cal, request_type);
        if let ItemKind::MeetingMessage(m) = &mut sent.kind {
            m.is_read = true;
        }
        store
            .mailbox_mut(organizer)
            .insert(FolderKind::SentItems, sent, now);
    }
    report
}

/// Prepares a new calendar item of `owner` before it is saved: organizer, meeting flags, UID
/// and the attendees' initial response types.
pub fn prepare_new_calendar_item(item: &mut Item, owner: &EmailAddress, uid: String) {
    let Some(cal) = item.calendar_mut() else {
        return;
    };
    if cal.uid.is_empty() {
        cal.uid = uid;
    }
    let has_attendees = cal.all_attendees().next().is_some();
    cal.is_meeting = has_attendees;
    cal.organizer = Some(owner.clone());
    cal.my_response_type = ResponseType::Organizer;
    cal.meeting_request_was_sent = false;
    for list in [
        AttendeeList::Required,
        AttendeeList::Optional,
        AttendeeList::Resources,
    ] {
        for attendee in cal.attendees_mut(list) {
            attendee.response_type = ResponseType::Unknown;
            attendee.last_response_time = None;
        }
    }
    if cal.recurrence.is_some() {
        cal.item_type = CalendarItemType::RecurringMaster;
    }
}

/// A new iCalendar UID in Outlook's format (the `GlobalObjectId` in hex).
pub fn new_uid() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut uid = String::from("040000008200E00074C5B7101A82E00800000000");
    for b in bytes {
        uid.push_str(&format!("{b:02X}"));
    }
    uid
}

/// An attendee's answer to a meeting (`AcceptItem`, `TentativelyAcceptItem`, `DeclineItem`
/// sent with `SendOnly` or `SendAndSaveCopy`), on the attendee's calendar item `key`.
///
/// - The attendee's item gets `MyResponseType` `response` and free/busy `Busy` (accept) or
///   `Tentative`; a decline moves it to Deleted Items.
/// - The organizer, when it has a mailbox here, gets a `MeetingResponse` in its Inbox and the
///   attendee's `ResponseType`/`LastResponseTime` in its item are updated (response tracking).
/// - `save_copy` keeps the response in the attendee's Sent Items.
///
/// Returns the attendee's calendar item afterwards (`None` after a decline).
pub fn respond(
    store: &mut Store,
    directory: &Directory,
    attendee: &str,
    key: ItemKey,
    response: ResponseType,
    save_copy: bool,
    now: Timestamp,
) -> Option<ItemKey> {
    let item = store.mailbox(attendee)?.get(key)?.clone();
    let cal = item.calendar()?.clone();
    let free_busy = match response {
        ResponseType::Accept => FreeBusy::Busy,
        ResponseType::Tentative => FreeBusy::Tentative,
        _ => FreeBusy::Free,
    };
    let fields = [
        "calendar:MyResponseType".to_owned(),
        "calendar:LegacyFreeBusyStatus".to_owned(),
    ];
    store
        .mailbox_mut(attendee)
        .update(key, now, &fields, |item, _| {
            if let Some(c) = item.calendar_mut() {
                c.my_response_type = response;
                c.free_busy = free_busy;
                for exception in c.exceptions.values_mut() {
                    if let Some(e) = exception.calendar_mut() {
                        e.my_response_type = response;
                        e.free_busy = free_busy;
                    }
                }
            }
        });
    let kept = if response == ResponseType::Decline {
        store
            .mailbox_mut(attendee)
            .move_to(key, FolderKind::DeletedItems, now);
        None
    } else {
        Some(key)
    };
    let mut answer = meeting_message(MeetingMessageKind::Response(response), &item, &cal, "None");
    if let ItemKind::MeetingMessage(m) = &mut answer.kind {
        m.from = Some(EmailAddress::smtp(
            attendee.to_owned(),
            directory
                .by_primary(attendee)
                .and_then(|m| m.display_name.clone()),
        ));
    }
    let organizer = cal
        .organizer
        .as_ref()
        .and_then(|o| directory.by_any_address(&o.email))
        .filter(|m| m.has_mailbox && !m.address.eq_ignore_ascii_case(attendee))
        .map(|m| m.address.clone());
    if let Some(organizer) = organizer {
        if let Some(organizer_key) = find_by_uid(store, &organizer, &cal.uid) {
            set_organizer_response(store, &organizer, organizer_key, attendee, response, now);
        }
        store
            .mailbox_mut(&organizer)
            .insert(FolderKind::Inbox, answer.clone(), now);
    }
    if save_copy {
        if let ItemKind::MeetingMessage(m) = &mut answer.kind {
            m.is_read = true;
        }
        store
            .mailbox_mut(attendee)
            .insert(FolderKind::SentItems, answer, now);
    }
    kept
}

/// A response saved, not sent (`MessageDisposition="SaveOnly"`): a draft `MeetingResponse` in
/// the attendee's Drafts; the calendar and the organizer are untouched. Returns its key.
pub fn save_response_draft(
    store: &mut Store,
    directory: &Directory,
    attendee: &str,
    meeting: &Item,
    response: ResponseType,
    now: Timestamp,
) -> Option<ItemKey> {
    let cal = meeting.calendar()?;
    let mut draft = meeting_message(MeetingMessageKind::Response(response), meeting, cal, "None");
    if let ItemKind::MeetingMessage(m) = &mut draft.kind {
        m.is_read = true;
        m.from = Some(EmailAddress::smtp(
            attendee.to_owned(),
            directory
                .by_primary(attendee)
                .and_then(|m| m.display_name.clone()),
        ));
    }
    Some(
        store
            .mailbox_mut(attendee)
            .insert(FolderKind::Drafts, draft, now),
    )
}
