//! Writes items as EWS XML (`t:CalendarItem`, `t:Message`, `t:MeetingRequest`, ...) in a
//! response shape.
//!
//! Elements follow the schema's sequence order (`ItemType`, then the type's own elements), the
//! order Exchange writes them in and strict clients expect. Properties without a value are
//! left out, as Exchange does (an item without a location has no `t:Location`). Times are UTC.

use jiff::{SignedDuration, Timestamp};

use super::Store;
use super::datetime::{format_xs_date, format_xs_datetime};
use super::ids::ItemRef;
use super::item::{
    Attendee, CalendarItem, CalendarItemType, EmailAddress, ExtendedValue, FolderKind, Item,
    ItemKind, MeetingMessageKind,
};
use super::mailbox::Mailbox;
use super::recurrence::{Pattern, Range, Recurrence, Series, month_name, weekday_name};
use super::shape::{BodyTypeWanted, ItemShape, write_extended_field_uri};
use crate::directory::FolderRights;
use crate::ews::folders::{encode_folder_id, folder_change_key};
use crate::ews::writer::XmlWriter;
use crate::seed::FolderName;

/// What rendering needs besides the item: the store (ids), the mailbox and the caller's rights.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The store (encodes ids).
    pub store: &'a Store,
    /// The mailbox the item is in.
    pub mailbox: &'a Mailbox,
    /// The caller's rights on the item's folder (`EffectiveRights`).
    pub rights: &'a FolderRights,
}

/// The E1 folder name of a store folder (every store folder has one).
pub fn folder_name(folder: FolderKind) -> Option<FolderName> {
    Some(match folder {
        FolderKind::Root => FolderName::Msgfolderroot,
        FolderKind::Calendar => FolderName::Calendar,
        FolderKind::Drafts => FolderName::Drafts,
        FolderKind::Inbox => FolderName::Inbox,
        FolderKind::DeletedItems => FolderName::Deleteditems,
        FolderKind::SentItems => FolderName::Sentitems,
    })
}

/// The store folder of an E1 folder name.
pub fn folder_kind(folder: FolderName) -> FolderKind {
    match folder {
        FolderName::Root | FolderName::Msgfolderroot => FolderKind::Root,
        FolderName::Calendar => FolderKind::Calendar,
        FolderName::Drafts => FolderKind::Drafts,
        FolderName::Inbox => FolderKind::Inbox,
        FolderName::Deleteditems => FolderKind::DeletedItems,
        FolderName::Sentitems => FolderKind::SentItems,
    }
}

/// Writes `<t:{element} Id=".." ChangeKey=".."/>` for a folder of `mailbox`.
pub fn write_folder_id(w: &mut XmlWriter, element: &str, mailbox: &str, folder: FolderKind) {
    if let Some(name) = folder_name(folder) {
        let id = encode_folder_id(mailbox, name);
        let ck = folder_change_key(mailbox, name);
        w.empty(element, &[("Id", &id), ("ChangeKey", &ck)]);
    }
}

/// Writes `<t:ItemId Id=".." ChangeKey=".."/>` (or another element name).
pub fn write_item_id(
    w: &mut XmlWriter,
    element: &str,
    cx: &RenderContext<'_>,
    id: &ItemRef,
    item: &Item,
) {
    let text = cx.store.item_id(id);
    let ck = Store::change_key(item);
    w.empty(element, &[("Id", &text), ("ChangeKey", &ck)]);
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Writes `t:Mailbox`. Exchange names an address by its display name, or by the address
/// itself when it has none; `MailboxType` appears for senders (`Mailbox`) and where known.
fn write_mailbox(w: &mut XmlWriter, address: &EmailAddress, sender: bool) {
    w.start("t:Mailbox", &[]);
    w.leaf("t:Name", address.name.as_deref().unwrap_or(&address.email));
    w.leaf("t:EmailAddress", &address.email);
    w.leaf(
        "t:RoutingType",
        address.routing_type.as_deref().unwrap_or("SMTP"),
    );
    match (&address.mailbox_type, sender) {
        (Some(kind), _) => {
            w.leaf("t:MailboxType", kind);
        }
        (None, true) => {
            w.leaf("t:MailboxType", "Mailbox");
        }
        (None, false) => {}
    }
    w.end("t:Mailbox");
}

fn write_attendees(w: &mut XmlWriter, element: &str, attendees: &[Attendee]) {
    if attendees.is_empty() {
        return;
    }
    w.start(element, &[]);
    for attendee in attendees {
        w.start("t:Attendee", &[]);
        write_mailbox(w, &attendee.mailbox, false);
        w.leaf("t:ResponseType", attendee.response_type.as_str());
        if let Some(time) = attendee.last_response_time {
            w.leaf("t:LastResponseTime", &format_xs_datetime(time));
        }
        w.end("t:Attendee");
    }
    w.end(element);
}

/// `xs:duration` of a span, as Exchange writes `Duration` (`PT1H30M`, `P1DT2H`).
pub fn format_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, rest) = (rest / 3600, rest % 3600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || (hours == 0 && minutes == 0) {
            out.push_str(&format!("{seconds}S"));
        }
    }
    out
}

fn display_names(list: &[Attendee]) -> String {
    list.iter()
        .map(|a| {
            a.mailbox
                .name
                .clone()
                .unwrap_or_else(|| a.mailbox.email.clone())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `t:Recurrence` (pattern, then range), as Exchange renders it.
pub fn write_recurrence(
    w: &mut XmlWriter,
    recurrence: &Recurrence,
    zone: &super::timezone::WindowsZone,
) {
    w.start("t:Recurrence", &[]);
    match &recurrence.pattern {
        Pattern::Daily { interval } => {
            w.start("t:DailyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.end("t:DailyRecurrence");
        }
        Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => {
            w.start("t:WeeklyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            let names: Vec<&str> = days.iter().map(|d| weekday_name(*d)).collect();
            w.leaf("t:DaysOfWeek", &names.join(" "));
            w.leaf("t:FirstDayOfWeek", weekday_name(*first_day_of_week));
            w.end("t:WeeklyRecurrence");
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => {
            w.start("t:AbsoluteMonthlyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.leaf("t:DayOfMonth", &day_of_month.to_string());
            w.end("t:AbsoluteMonthlyRecurrence");
        }
        Pattern::RelativeMonthly {
            interval,
            day,
            index,
        } => {
            w.start("t:RelativeMonthlyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.leaf("t:DaysOfWeek", day.as_str());
            w.leaf("t:DayOfWeekIndex", index.as_str());
            w.end("t:RelativeMonthlyRecurrence");
        }
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => {
            w.start("t:AbsoluteYearlyRecurrence", &[]);
            w.leaf("t:DayOfMonth", &day_of_month.to_string());
            w.leaf("t:Month", month_name(*month));
            w.end("t:AbsoluteYearlyRecurrence");
        }
        Pattern::RelativeYearly { month, day, index } => {
            w.start("t:RelativeYearlyRecurrence", &[]);
            w.leaf("t:DaysOfWeek", day.as_str());
            w.leaf("t:DayOfWeekIndex", index.as_str());
            w.leaf("t:Month", month_name(*month));
            w.end("t:RelativeYearlyRecurrence");
        }
    }
    match recurrence.range {
        Range::NoEnd { start } => {
            w.start("t:NoEndRecurrence", &[]);
            w.leaf("t:StartDate", &format_xs_date(start, zone));
            w.end("t:NoEndRecurrence");
        }
        Range::EndDate { start, end } => {
            w.start("t:EndDateRecurrence", &[]);
            w.leaf("t:StartDate", &format_xs_date(start, zone));
            w.leaf("t:EndDate", &format_xs_date(end, zone));
            w.end("t:EndDateRecurrence");
        }
        Range::Numbered { start, count } => {
            w.start("t:NumberedRecurrence", &[]);
            w.leaf("t:StartDate", &format_xs_date(start, zone));
            w.leaf("t:NumberOfOccurrences", &count.to_string());
            w.end("t:NumberedRecurrence");
        }
    }
    w.end("t:Recurrence");
}

fn write_occurrence_info(
    w: &mut XmlWriter,
    element: &str,
    cx: &RenderContext<'_>,
    master: &Item,
    original_start: Timestamp,
    start: Timestamp,
    end: Timestamp,
) {
    w.start(element, &[]);
    let id = cx.mailbox.occurrence_ref(master.key, original_start);
    write_item_id(w, "t:ItemId", cx, &id, master);
    w.leaf("t:Start", &format_xs_datetime(start));
    w.leaf("t:End", &format_xs_datetime(end));
    w.leaf("t:OriginalStart", &format_xs_datetime(original_start));
    w.end(element);
}

/// `AppointmentState` flags: 1 meeting, 2 received, 4 cancelled.
fn appointment_state(cal: &CalendarItem, is_organizer: bool) -> u32 {
    let mut state = 0;
    if cal.is_meeting {
        state |= 1;
        if !is_organizer {
            state |= 2;
        }
    }
    if cal.is_cancelled {
        state |= 4;
    }
    state
}

fn write_calendar_props(
    w: &mut XmlWriter,
    cx: &RenderContext<'_>,
    item: &Item,
    cal: &CalendarItem,
    shape: &ItemShape,
    as_request: bool,
) {
    let want = |uri: &str| shape.wants(uri);
    let is_organizer = cal
        .organizer
        .as_ref()
        .is_none_or(|o| o.same_address(cx.mailbox.address()));
    if !as_request {
        if want("calendar:UID") && !cal.uid.is_empty() {
            w.leaf("t:UID", &cal.uid);
        }
        if want("calendar:RecurrenceId")
            && let Some(original) = cal.original_start
        {
            w.leaf("t:RecurrenceId", &format_xs_datetime(original));
        }
        if want("calendar:DateTimeStamp") {
            w.leaf("t:DateTimeStamp", &format_xs_datetime(item.last_modified));
        }
    }
    if want("calendar:Start") {
        w.leaf("t:Start", &format_xs_datetime(cal.start));
    }
    if want("calendar:End") {
        w.leaf("t:End", &format_xs_datetime(cal.end));
    }
    if want("calendar:OriginalStart")
        && let Some(original) = cal.original_start
    {
        w.leaf("t:OriginalStart", &format_xs_datetime(original));
    }
    if want("calendar:IsAllDayEvent") {
        w.leaf("t:IsAllDayEvent", bool_text(cal.is_all_day));
    }
    if want("calendar:LegacyFreeBusyStatus") {
        w.leaf("t:LegacyFreeBusyStatus", cal.free_busy.as_str());
    }
    if want("calendar:Location")
        && let Some(location) = cal.location.as_deref().filter(|l| !l.is_empty())
    {
        w.leaf("t:Location", location);
    }
    if want("calendar:IsMeeting") {
        w.leaf("t:IsMeeting", bool_text(cal.is_meeting));
    }
    if want("calendar:IsCancelled") {
        w.leaf("t:IsCancelled", bool_text(cal.is_cancelled));
    }
    if want("calendar:IsRecurring") {
        w.leaf(
            "t:IsRecurring",
            bool_text(cal.item_type != CalendarItemType::Single),
        );
    }
    if want("calendar:MeetingRequestWasSent") {
        w.leaf(
            "t:MeetingRequestWasSent",
            bool_text(cal.meeting_request_was_sent),
        );
    }
    if !as_request && want("calendar:IsResponseRequested") {
        w.leaf("t:IsResponseRequested", bool_text(cal.is_meeting));
    }
    if want("calendar:CalendarItemType") {
        w.leaf("t:CalendarItemType", cal.item_type.as_str());
    }
    if want("calendar:MyResponseType") {
        w.leaf("t:MyResponseType", cal.my_response_type.as_str());
    }
    if want("calendar:Organizer")
        && let Some(organizer) = &cal.organizer
    {
        w.start("t:Organizer", &[]);
        write_mailbox(w, organizer, false);
        w.end("t:Organizer");
    }
    if want("calendar:RequiredAttendees") {
        write_attendees(w, "t:RequiredAttendees", &cal.required_attendees);
    }
    if want("calendar:OptionalAttendees") {
        write_attendees(w, "t:OptionalAttendees", &cal.optional_attendees);
    }
    if want("calendar:Resources") {
        write_attendees(w, "t:Resources", &cal.resources);
    }
    if want("calendar:Duration") {
        w.leaf(
            "t:Duration",
            &format_duration(cal.end.duration_since(cal.start)),
        );
    }
    if want("calendar:TimeZone") {
        w.leaf("t:TimeZone", cal.start_zone.id());
    }
    if !as_request
        && want("calendar:AppointmentReplyTime")
        && let Some(reply) = cal.reply_time
    {
        w.leaf("t:AppointmentReplyTime", &format_xs_datetime(reply));
    }
    if want("calendar:AppointmentSequenceNumber") {
        w.leaf(
            "t:AppointmentSequenceNumber",
            &cal.sequence_number.to_string(),
        );
    }
    if want("calendar:AppointmentState") {
        w.leaf(
            "t:AppointmentState",
            &appointment_state(cal, is_organizer).to_string(),
        );
    }
    if let Some(recurrence) = &cal.recurrence {
        if want("calendar:Recurrence") {
            write_recurrence(w, recurrence, &cal.start_zone);
        }
        if !as_request {
            let series = Series::from_master(recurrence, &cal.start_zone, cal.start, cal.end);
            let alive = |occ: &super::recurrence::Occurrence| {
                !cal.deleted_occurrences.contains(&occ.original_start)
            };
            let resolved = |occ: super::recurrence::Occurrence| match cal
                .exceptions
                .get(&occ.original_start)
                .and_then(Item::calendar)
            {
                Some(exception) => (occ.original_start, exception.start, exception.end),
                None => (occ.original_start, occ.start, occ.end),
            };
            if want("calendar:FirstOccurrence")
                && let Some(first) = series.occurrences().find(alive)
            {
                let (original, start, end) = resolved(first);
                write_occurrence_info(w, "t:FirstOccurrence", cx, item, original, start, end);
            }
            if want("calendar:LastOccurrence")
                && let Some(last) = series.last().filter(alive)
            {
                let (original, start, end) = resolved(last);
                write_occurrence_info(w, "t:LastOccurrence", cx, item, original, start, end);
            }
            if want("calendar:ModifiedOccurrences") && !cal.exceptions.is_empty() {
                w.start("t:ModifiedOccurrences", &[]);
                for (original, exception) in &cal.exceptions {
                    if let Some(ecal) = exception.calendar() {
                        write_occurrence_info(
                            w,
                            "t:Occurrence",
                            cx,
                            item,
                            *original,
                            ecal.start,
                            ecal.end,
                        );
                    }
                }
                w.end("t:ModifiedOccurrences");
            }
            if want("calendar:DeletedOccurrences") && !cal.deleted_occurrences.is_empty() {
                w.start("t:DeletedOccurrences", &[]);
                for original in &cal.deleted_occurrences {
                    w.start("t:DeletedOccurrence", &[]);
                    w.leaf("t:Start", &format_xs_datetime(*original));
                    w.end("t:DeletedOccurrence");
                }
                w.end("t:DeletedOccurrences");
            }
        }
    }
    if want("calendar:StartTimeZone") {
        w.empty("t:StartTimeZone", &[("Id", cal.start_zone.id())]);
    }
    if want("calendar:EndTimeZone") {
        w.empty("t:EndTimeZone", &[("Id", cal.end_zone.id())]);
    }
    if !as_request {
        if want("calendar:ConferenceType") {
            w.leaf("t:ConferenceType", "0");
        }
        if want("calendar:AllowNewTimeProposal") {
            w.leaf("t:AllowNewTimeProposal", "true");
        }
        if want("calendar:IsOnlineMeeting") {
            w.leaf("t:IsOnlineMeeting", "false");
        }
    }
}

fn write_effective_rights(w: &mut XmlWriter, rights: &FolderRights, item: &Item) {
    let private_hidden = item.is_private() && !rights.view_private;
    w.start("t:EffectiveRights", &[]);
    w.leaf("t:CreateAssociated", "false");
    w.leaf("t:CreateContents", "false");
    w.leaf("t:CreateHierarchy", "false");
    w.leaf("t:Delete", bool_text(rights.delete_all && !private_hidden));
    w.leaf("t:Modify", bool_text(rights.edit_all && !private_hidden));
    w.leaf("t:Read", bool_text(rights.read_items && !private_hidden));
    w.leaf("t:ViewPrivateItems", bool_text(rights.view_private));
    w.end("t:EffectiveRights");
}

fn element_name(item: &Item) -> &'static str {
    match &item.kind {
        ItemKind::Calendar(_) => "t:CalendarItem",
        ItemKind::Message(_) => "t:Message",
        ItemKind::MeetingMessage(m) => match m.kind {
            MeetingMessageKind::Request => "t:MeetingRequest",
            MeetingMessageKind::Cancellation => "t:MeetingCancellation",
            MeetingMessageKind::Response(_) => "t:MeetingResponse",
        },
    }
}

/// Writes one item in `shape`. `id` is the id to show (an occurrence id for occurrences).
pub fn write_item(
    w: &mut XmlWriter,
    cx: &RenderContext<'_>,
    id: &ItemRef,
    item: &Item,
    shape: &ItemShape,
) {
    let element = element_name(item);
    let want = |uri: &str| shape.wants(uri);
    w.start(element, &[]);
    write_item_id(w, "t:ItemId", cx, id, item);
    if want("item:ParentFolderId") {
        write_folder_id(w, "t:ParentFolderId", cx.mailbox.address(), item.folder);
    }
    if want("item:ItemClass") {
        w.leaf("t:ItemClass", &item.item_class);
    }
    if want("item:Subject") && !item.subject.is_empty() {
        w.leaf("t:Subject", &item.subject);
    }
    if want("item:Sensitivity") {
        w.leaf("t:Sensitivity", item.sensitivity.as_str());
    }
    if want("item:Body") {
        let body = match shape.body_type {
            BodyTypeWanted::Best => item.body.clone(),
            BodyTypeWanted::Exactly(t) => item.body.converted(t),
        };
        if body.content.is_empty() {
            w.empty("t:Body", &[("BodyType", body.body_type.as_str())]);
        } else {
            w.leaf_with(
                "t:Body",
                &[("BodyType", body.body_type.as_str())],
                &body.content,
            );
        }
    }
    if want("item:DateTimeReceived") {
        w.leaf("t:DateTimeReceived", &format_xs_datetime(item.received));
    }
    if want("item:Size") {
        w.leaf("t:Size", &item.size().to_string());
    }
    if want("item:Categories") && !item.categories.is_empty() {
        w.start("t:Categories", &[]);
        for category in &item.categories {
            w.leaf("t:String", category);
        }
        w.end("t:Categories");
    }
    if want("item:Importance") {
        w.leaf("t:Importance", item.importance.as_str());
    }
    let is_draft = matches!(&item.kind, ItemKind::Message(m) if m.is_draft);
    if want("item:IsSubmitted") {
        w.leaf("t:IsSubmitted", "false");
    }
    if want("item:IsDraft") {
        w.leaf("t:IsDraft", bool_text(is_draft));
    }
    if want("item:IsFromMe") {
        w.leaf("t:IsFromMe", "false");
    }
    if want("item:IsResend") {
        w.leaf("t:IsResend", "false");
    }
    if want("item:IsUnmodified") {
        w.leaf("t:IsUnmodified", bool_text(item.version == item.entered));
    }
    if want("item:DateTimeSent") {
        w.leaf("t:DateTimeSent", &format_xs_datetime(item.received));
    }
    if want("item:DateTimeCreated") {
        w.leaf("t:DateTimeCreated", &format_xs_datetime(item.created));
    }
    let calendar = match &item.kind {
        ItemKind::Calendar(c) => Some(c),
        ItemKind::MeetingMessage(m) => Some(&m.meeting),
        ItemKind::Message(_) => None,
    };
    if want("item:ReminderDueBy")
        && let Some(cal) = calendar
    {
        w.leaf("t:ReminderDueBy", &format_xs_datetime(cal.start));
    }
    if want("item:ReminderIsSet") {
        w.leaf("t:ReminderIsSet", bool_text(item.reminder_is_set));
    }
    if want("item:ReminderMinutesBeforeStart") && calendar.is_some() {
        w.leaf(
            "t:ReminderMinutesBeforeStart",
            &item.reminder_minutes.to_string(),
        );
    }
    if want("item:DisplayCc") {
        let cc = calendar
            .map(|c| display_names(&c.optional_attendees))
            .unwrap_or_default();
        w.leaf("t:DisplayCc", &cc);
    }
    if want("item:DisplayTo") {
        let to = match &item.kind {
            ItemKind::Message(m) => {
                m.to.iter()
                    .map(|a| a.name.clone().unwrap_or_else(|| a.email.clone()))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            _ => calendar
                .map(|c| display_names(&c.required_attendees))
                .unwrap_or_default(),
        };
        w.leaf("t:DisplayTo", &to);
    }
    if want("item:HasAttachments") {
        w.leaf("t:HasAttachments", "false");
    }
    for uri in &shape.extended {
        let Some(property) = item.extended_property(&uri.key()) else {
            continue;
        };
        if property.uri.property_type() != uri.property_type() {
            continue;
        }
        w.start("t:ExtendedProperty", &[]);
        write_extended_field_uri(w, uri);
        match &property.value {
            ExtendedValue::Single(value) => {
                w.leaf("t:Value", value);
            }
            ExtendedValue::Multi(values) => {
                w.start("t:Values", &[]);
                for value in values {
                    w.leaf("t:Value", value);
                }
                w.end("t:Values");
            }
        }
        w.end("t:ExtendedProperty");
    }
    if want("item:Culture") {
        w.leaf("t:Culture", "en-US");
    }
    if want("item:EffectiveRights") {
        write_effective_rights(w, cx.rights, item);
    }
    if want("item:LastModifiedName")
        && let Some(name) = &item.last_modified_name
    {
        w.leaf("t:LastModifiedName", name);
    }
    if want("item:LastModifiedTime") {
        w.leaf(
            "t:LastModifiedTime",
            &format_xs_datetime(item.last_modified),
        );
    }
    if want("item:IsAssociated") {
        w.leaf("t:IsAssociated", "false");
    }
    match &item.kind {
        ItemKind::Calendar(cal) => write_calendar_props(w, cx, item, cal, shape, false),
        ItemKind::Message(message) => {
            if want("message:Sender")
                && let Some(from) = &message.from
            {
                w.start("t:Sender", &[]);
                write_mailbox(w, from, true);
                w.end("t:Sender");
            }
            if want("message:ToRecipients") && !message.to.is_empty() {
                w.start("t:ToRecipients", &[]);
                for to in &message.to {
                    write_mailbox(w, to, false);
                }
                w.end("t:ToRecipients");
            }
            if want("message:From")
                && let Some(from) = &message.from
            {
                w.start("t:From", &[]);
                write_mailbox(w, from, true);
                w.end("t:From");
            }
            if want("message:IsRead") {
                w.leaf("t:IsRead", bool_text(message.is_read));
            }
        }
        ItemKind::MeetingMessage(meeting) => {
            if want("message:Sender")
                && let Some(from) = &meeting.from
            {
                w.start("t:Sender", &[]);
                write_mailbox(w, from, true);
                w.end("t:Sender");
            }
            if want("message:From")
                && let Some(from) = &meeting.from
            {
                w.start("t:From", &[]);
                write_mailbox(w, from, true);
                w.end("t:From");
            }
            if want("message:IsRead") {
                w.leaf("t:IsRead", bool_text(meeting.is_read));
            }
            if want("meeting:AssociatedCalendarItemId")
                && let Some(key) = meeting.associated_calendar_item
                && let Some(associated) = cx.mailbox.get(key)
            {
                write_item_id(
                    w,
                    "t:AssociatedCalendarItemId",
                    cx,
                    &cx.mailbox.item_ref(key),
                    associated,
                );
            }
            if want("meeting:IsOutOfDate") {
                w.leaf("t:IsOutOfDate", bool_text(meeting.is_out_of_date));
            }
            if want("meeting:HasBeenProcessed") {
                w.leaf("t:HasBeenProcessed", bool_text(meeting.has_been_processed));
            }
            if want("meeting:ResponseType") {
                let response = match meeting.kind {
                    MeetingMessageKind::Response(r) => r,
                    _ => super::item::ResponseType::NoResponseReceived,
                };
                w.leaf("t:ResponseType", response.as_str());
            }
            if meeting.kind == MeetingMessageKind::Request {
                if want("meetingRequest:MeetingRequestType") {
                    w.leaf("t:MeetingRequestType", meeting.request_type);
                }
                if want("meetingRequest:IntendedFreeBusyStatus") {
                    w.leaf(
                        "t:IntendedFreeBusyStatus",
                        meeting.meeting.free_busy.as_str(),
                    );
                }
                write_calendar_props(w, cx, item, &meeting.meeting, shape, true);
            }
        }
    }
    w.end(element);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(format_duration(SignedDuration::from_mins(30)), "PT30M");
        assert_eq!(format_duration(SignedDuration::from_mins(90)), "PT1H30M");
        assert_eq!(format_duration(SignedDuration::from_hours(26)), "P1DT2H");
        assert_eq!(format_duration(SignedDuration::from_hours(24)), "P1D");
        assert_eq!(format_duration(SignedDuration::ZERO), "PT0S");
    }
}
