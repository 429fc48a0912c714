//! Admin routes for items, `/admin/mailboxes/{address}/items...`: tests act as an Outlook user
//! of the mailbox (create, change and delete appointments, meetings with rooms, recurring
//! series, exceptions, deleted occurrences, private items) and read what a mailbox holds.
//!
//! Item ids are base64 and contain `/`, `+` and `=`: percent-encode them in
//! the path (`/` as `%2F`).
//!
//! | Method | Path (after `/admin/mailboxes/{address}`) | Effect |
//! |---|---|---|
//! | `GET` | `/items[?folder=calendar]` | the folder's items (all folders without `folder`) |
//! | `POST` | `/items` | creates an item (JSON below); `201` with the item |
//! | `GET` | `/items/{id}` | one item, occurrence or exception |
//! | `GET` | `/items/{id}/occurrences?from=..&to=..` | a series' occurrences in a window, with their ids |
//! | `PATCH` | `/items/{id}` | changes the given fields; an occurrence id makes an exception |
//! | `DELETE` | `/items/{id}[?send_cancellations=false][&move_to_deleted=true]` | deletes; an occurrence id deletes that occurrence |
//!
//! Item JSON (every field optional; unknown fields are refused): `folder` (`calendar`,
//! `drafts`, `inbox`, `deleteditems`), `subject`, `body`, `body_type` (`Text`/`HTML`),
//! `sensitivity` (`Normal`, `Personal`, `Private`, `Confidential`), `importance`,
//! `categories`, `reminder_is_set`, `reminder_minutes`, `start`, `end` (`xs:dateTime`; without
//! offset they are read in `time_zone`/`end_time_zone`, else UTC), `time_zone`,
//! `end_time_zone` (Windows ids), `is_all_day`, `location`, `free_busy`,
//! `required_attendees`, `optional_attendees`, `resources` (addresses), `uid`,
//! `recurrence` (`{"pattern": {"type": "weekly", "interval": 1, "days": ["Monday"],
//! "first_day_of_week": "Sunday"}, "range": {"type": "numbered", "start": "2026-01-05",
//! "count": 10}}`; pattern types `daily`, `weekly`, `absolute_monthly` (`day_of_month`),
//! `relative_monthly` (`day`, `index`), `absolute_yearly` (`month`, `day_of_month`),
//! `relative_yearly` (`month`, `day`, `index`); range types `no_end`, `end_date` (`end`),
//! `numbered` (`count`); `null` in a PATCH removes the recurrence), `extended_properties`
//! (`[{"set": "PublicStrings" or a GUID, "name": "..." or "id": n, or "tag": n, "type":
//! "String", "value": "..." or "values": [...]}]`), `send_invitations` (default true: an
//! organizer's meeting is sent to its attendees and rooms answer, as Outlook would), and for
//! messages `to`, `from`, `is_read`.

use std::sync::Arc;

use http::Method;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::calendar::datetime::{format_xs_datetime, parse_xs_date, parse_xs_datetime};
use crate::calendar::ids::ItemRef;
use crate::calendar::item::{
    Attendee, AttendeeList, Body, BodyType, EmailAddress, ExtendedFieldUri, ExtendedProperty,
    ExtendedValue, FolderKind, FreeBusy, Importance, Item, ItemKind, PropertySet, Sensitivity,
    validate_extended_value,
};
use crate::calendar::mailbox::ViewEntry;
use crate::calendar::meetings::{MeetingChange, deliver, new_uid, prepare_new_calendar_item};
use crate::calendar::parse::{ItemElement, ParsedProp, PropPath, PropValue};
use crate::calendar::recurrence::{
    DayOfWeek, DayOfWeekIndex, Pattern, Range, Recurrence, month_name, parse_month, parse_weekday,
    weekday_name,
};
use crate::calendar::service::{
    Notify, build_item, delete_prop, finalize_calendar, remove_item, save_update, set_prop,
};
use crate::calendar::timezone::{TimeZoneContextKind, WindowsZone};
use crate::calendar::{Store, service};
use crate::reply::Reply;
use crate::state::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemInput {
    folder: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    body_type: Option<String>,
    sensitivity: Option<String>,
    importance: Option<String>,
    categories: Option<Vec<String>>,
    reminder_is_set: Option<bool>,
    reminder_minutes: Option<i32>,
    start: Option<String>,
    end: Option<String>,
    time_zone: Option<String>,
    end_time_zone: Option<String>,
    is_all_day: Option<bool>,
    location: Option<String>,
    free_busy: Option<String>,
    required_attendees: Option<Vec<String>>,
    optional_attendees: Option<Vec<String>>,
    resources: Option<Vec<String>>,
    uid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    recurrence: Option<Value>,
    extended_properties: Option<Vec<ExtendedInput>>,
    send_invitations: Option<bool>,
    to: Option<Vec<String>>,
    from: Option<String>,
    is_read: Option<bool>,
}

/// Keeps an explicit `null` (to remove a recurrence) apart from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendedInput {
    set: Option<String>,
    name: Option<String>,
    id: Option<u32>,
    tag: Option<u32>,
    #[serde(rename = "type")]
    property_type: String,
    value: Option<String>,
    values: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecurrenceInput {
    pattern: PatternInput,
    range: RangeInput,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum PatternInput {
    Daily {
        interval: u32,
    },
    Weekly {
        interval: u32,
        days: Vec<String>,
        first_day_of_week: Option<String>,
    },
    AbsoluteMonthly {
        interval: u32,
        day_of_month: i8,
    },
    RelativeMonthly {
        interval: u32,
        day: String,
        index: String,
    },
    AbsoluteYearly {
        month: String,
        day_of_month: i8,
    },
    RelativeYearly {
        month: String,
        day: String,
        index: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum RangeInput {
    NoEnd { start: String },
    EndDate { start: String, end: String },
    Numbered { start: String, count: u32 },
}

fn bad(message: impl Into<String>) -> Reply {
    Reply::json(400, &json!({ "error": message.into() }))
}

fn not_found(message: impl Into<String>) -> Reply {
    Reply::json(404, &json!({ "error": message.into() }))
}

fn zone(id: &str, field: &str) -> Result<WindowsZone, Reply> {
    WindowsZone::lookup(id, TimeZoneContextKind::CalendarItem)
        .map_err(|e| bad(format!("{field}: {e}")))
}

fn attendees(list: &[String]) -> Vec<Attendee> {
    list.iter()
        .map(|email| Attendee {
            mailbox: EmailAddress::smtp(email.trim(), None),
            ..Attendee::default()
        })
        .collect()
}

fn parse_recurrence(value: &Value) -> Result<Recurrence, Reply> {
    let input: RecurrenceInput =
        serde_json::from_value(value.clone()).map_err(|e| bad(format!("recurrence: {e}")))?;
    let day = |text: &str| {
        DayOfWeek::parse(text).ok_or_else(|| {
            bad(format!(
                "recurrence: '{text}' is not a day (Sunday..Saturday, Day, Weekday, WeekendDay)"
            ))
        })
    };
    let index = |text: &str| {
        DayOfWeekIndex::parse(text).ok_or_else(|| {
            bad(format!(
                "recurrence: '{text}' is not an index (First, Second, Third, Fourth, Last)"
            ))
        })
    };
    let month = |text: &str| {
        parse_month(text).ok_or_else(|| {
            bad(format!(
                "recurrence: '{text}' is not a month name (January..December)"
            ))
        })
    };
    let weekday = |text: &str| {
        parse_weekday(text).ok_or_else(|| {
            bad(format!(
                "recurrence: '{text}' is not a weekday (Sunday..Saturday)"
            ))
        })
    };
    let date = |text: &str| parse_xs_date(text).map_err(|e| bad(format!("recurrence: {e}")));
    let pattern = match input.pattern {
        PatternInput::Daily { interval } => Pattern::Daily { interval },
        PatternInput::Weekly {
            interval,
            days,
            first_day_of_week,
        } => Pattern::Weekly {
            interval,
            days: days.iter().map(|d| weekday(d)).collect::<Result<_, _>>()?,
            first_day_of_week: first_day_of_week
                .as_deref()
                .map(weekday)
                .transpose()?
                .unwrap_or(jiff::civil::Weekday::Sunday),
        },
        PatternInput::AbsoluteMonthly {
            interval,
            day_of_month,
        } => Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        },
        PatternInput::RelativeMonthly {
            interval,
            day: d,
            index: i,
        } => Pattern::RelativeMonthly {
            interval,
            day: day(&d)?,
            index: index(&i)?,
        },
        PatternInput::AbsoluteYearly {
            month: m,
            day_of_month,
        } => Pattern::AbsoluteYearly {
            month: month(&m)?,
            day_of_month,
        },
        PatternInput::RelativeYearly {
            month: m,
            day: d,
            index: i,
        } => Pattern::RelativeYearly {
            month: month(&m)?,
            day: day(&d)?,
            index: index(&i)?,
        },
    };
    let range = match input.range {
        RangeInput::NoEnd { start } => Range::NoEnd {
            start: date(&start)?,
        },
        RangeInput::EndDate { start, end } => Range::EndDate {
            start: date(&start)?,
            end: date(&end)?,
        },
        RangeInput::Numbered { start, count } => Range::Numbered {
            start: date(&start)?,
            count,
        },
    };
    let recurrence = Recurrence { pattern, range };
    recurrence
        .validate()
        .map_err(|e| bad(format!("recurrence: {e} ({})", e.response_code())))?;
    Ok(recurrence)
}

fn extended(input: &ExtendedInput) -> Result<ExtendedProperty, Reply> {
    let set = input.set.as_ref().map(|s| {
        if crate::calendar::item::is_distinguished_property_set(s) {
            PropertySet::Distinguished(s.clone())
        } else {
            PropertySet::Guid(s.clone())
        }
    });
    let property_type = input.property_type.clone();
    if !crate::calendar::item::PROPERTY_TYPES.contains(&property_type.as_str()) {
        return Err(bad(format!(
            "extended_properties: '{property_type}' is not a PropertyType (String, Integer, Boolean, SystemTime, StringArray, ...)"
        )));
    }
    let uri = match (set, &input.name, input.id, input.tag) {
        (Some(set), Some(name), None, None) => ExtendedFieldUri::Named {
            set,
            name: name.clone(),
            property_type,
        },
        (Some(set), None, Some(id), None) => ExtendedFieldUri::Id {
            set,
            id,
            property_type,
        },
        (None, None, None, Some(tag)) => ExtendedFieldUri::Tag { tag, property_type },
        _ => {
            return Err(bad(
                "extended_properties: give `set` with `name` or `id`, or `tag` alone",
            ));
        }
    };
    let value = match (&input.value, &input.values) {
        (Some(v), None) if !uri.is_array() => ExtendedValue::Single(v.clone()),
        (None, Some(vs)) if uri.is_array() => ExtendedValue::Multi(vs.clone()),
        _ => {
            return Err(bad(
                "extended_properties: use `value` for single types and `values` for ...Array types",
            ));
        }
    };
    let texts: Vec<&String> = match &value {
        ExtendedValue::Single(v) => vec![v],
        ExtendedValue::Multi(vs) => vs.iter().collect(),
    };
    for text in texts {
        validate_extended_value(uri.property_type(), text)
            .map_err(|e| bad(format!("extended_properties: {e}")))?;
    }
    Ok(ExtendedProperty { uri, value })
}

fn enum_value<T>(
    text: &Option<String>,
    field: &str,
    allowed: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, Reply> {
    text.as_deref()
        .map(|t| parse(t).ok_or_else(|| bad(format!("{field}: '{t}' is not one of {allowed}"))))
        .transpose()
}

/// Converts the input to EWS-style property values (so that the same rules apply).
fn props(input: &ItemInput) -> Result<Vec<ParsedProp>, Reply> {
    let mut out = Vec::new();
    let mut push = |path: &'static str, value: PropValue| {
        out.push(ParsedProp {
            path: PropPath::Field(path),
            value,
        })
    };
    if let Some(s) = &input.subject {
        push("item:Subject", PropValue::Subject(s.clone()));
    }
    if let Some(s) = enum_value(
        &input.sensitivity,
        "sensitivity",
        "Normal, Personal, Private, Confidential",
        Sensitivity::parse,
    )? {
        push("item:Sensitivity", PropValue::Sensitivity(s));
    }
    if let Some(content) = &input.body {
        let body_type = enum_value(&input.body_type, "body_type", "Text, HTML", BodyType::parse)?
            .unwrap_or(BodyType::Text);
        push(
            "item:Body",
            PropValue::Body(Body {
                body_type,
                content: content.clone(),
            }),
        );
    }
    if let Some(c) = &input.categories {
        push("item:Categories", PropValue::Categories(c.clone()));
    }
    if let Some(i) = enum_value(
        &input.importance,
        "importance",
        "Low, Normal, High",
        Importance::parse,
    )? {
        push("item:Importance", PropValue::Importance(i));
    }
    if let Some(r) = input.reminder_is_set {
        push("item:ReminderIsSet", PropValue::ReminderIsSet(r));
    }
    if let Some(m) = input.reminder_minutes {
        push(
            "item:ReminderMinutesBeforeStart",
            PropValue::ReminderMinutes(m),
        );
    }
    if let Some(uid) = &input.uid {
        push("calendar:UID", PropValue::Uid(uid.clone()));
    }
    let start_zone = input
        .time_zone
        .as_deref()
        .map(|z| zone(z, "time_zone"))
        .transpose()?;
    let end_zone = input
        .end_time_zone
        .as_deref()
        .map(|z| zone(z, "end_time_zone"))
        .transpose()?;
    let utc = WindowsZone::utc();
    if let Some(start) = &input.start {
        let t = parse_xs_datetime(start, start_zone.as_ref().unwrap_or(&utc))
            .map_err(|e| bad(format!("start: {e}")))?;
        push("calendar:Start", PropValue::Start(t));
    }
    if let Some(end) = &input.end {
        let z = end_zone.as_ref().or(start_zone.as_ref()).unwrap_or(&utc);
        let t = parse_xs_datetime(end, z).map_err(|e| bad(format!("end: {e}")))?;
        push("calendar:End", PropValue::End(t));
    }
    if let Some(b) = input.is_all_day {
        push("calendar:IsAllDayEvent", PropValue::IsAllDay(b));
    }
    if let Some(l) = &input.location {
        push("calendar:Location", PropValue::Location(l.clone()));
    }
    if let Some(f) = enum_value(
        &input.free_busy,
        "free_busy",
        "Free, Tentative, Busy, OOF, WorkingElsewhere, NoData",
        FreeBusy::parse,
    )? {
        push("calendar:LegacyFreeBusyStatus", PropValue::FreeBusy(f));
    }
    if let Some(a) = &input.required_attendees {
        push(
            "calendar:RequiredAttendees",
            PropValue::Attendees(AttendeeList::Required, attendees(a)),
        );
    }
    if let Some(a) = &input.optional_attendees {
        push(
            "calendar:OptionalAttendees",
            PropValue::Attendees(AttendeeList::Optional, attendees(a)),
        );
    }
    if let Some(a) = &input.resources {
        push(
            "calendar:Resources",
            PropValue::Attendees(AttendeeList::Resources, attendees(a)),
        );
    }
    if let Some(Value::Object(_)) = &input.recurrence {
        let recurrence = parse_recurrence(input.recurrence.as_ref().unwrap_or(&Value::Null))?;
        push("calendar:Recurrence", PropValue::Recurrence(recurrence));
    }
    if let Some(z) = start_zone {
        push("calendar:StartTimeZone", PropValue::StartTimeZone(z));
    }
    if let Some(z) = end_zone {
        push("calendar:EndTimeZone", PropValue::EndTimeZone(z));
    }
    if let Some(to) = &input.to {
        push(
            "message:ToRecipients",
            PropValue::ToRecipients(
                to.iter()
                    .map(|t| EmailAddress::smtp(t.trim(), None))
                    .collect(),
            ),
        );
    }
    if let Some(from) = &input.from {
        push(
            "message:From",
            PropValue::From(EmailAddress::smtp(from.trim(), None)),
        );
    }
    if let Some(read) = input.is_read {
        push("message:IsRead", PropValue::IsRead(read));
    }
    for property in input.extended_properties.iter().flatten() {
        let property = extended(property)?;
        out.push(ParsedProp {
            path: PropPath::Extended(property.uri.clone()),
            value: PropValue::Extended(property),
        });
    }
    Ok(out)
}

/// Handles `/admin/mailboxes/{mailbox}/items/{rest}`; `rest` holds the
/// percent-decoded path segments after `items`.
pub fn handle(
    shared: &Arc<Shared>,
    method: &Method,
    mailbox: &str,
    rest: &[String],
    query: Option<&str>,
    body: &[u8],
) -> Reply {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let Some(owner) = state
        .directory
        .by_any_address(mailbox)
        .filter(|m| m.has_mailbox)
        .cloned()
    else {
        return not_found(format!(
            "there is no mailbox '{mailbox}' in the directory; add it to the seed or with POST /admin/mailboxes"
        ));
    };
    let address = owner.address.clone();
    // Item ids are base64 and may contain '/', '+' and '=': a client
    // percent-encodes them, so an id is exactly one path segment (splitting
    // happened before decoding).
    let segments: Vec<&str> = rest.iter().map(String::as_str).collect();
    let rest = rest.join("/");
    let query = parse_query(query);
    let state = &mut *state;
    match (method.clone(), segments.as_slice()) {
        (Method::GET, []) => {
            let folder = match query.iter().find(|(k, _)| k == "folder") {
                Some((_, f)) => match FolderKind::from_distinguished(f) {
                    Some(folder) => Some(folder),
                    None => {
                        return bad(format!(
                            "folder: '{f}' is not one of calendar, drafts, inbox, deleteditems, sentitems"
                        ));
                    }
                },
                None => None,
            };
            let store = &state.calendar;
            let items: Vec<Value> = match store.mailbox(&address) {
                None => Vec::new(),
                Some(mb) => FolderKind::ALL
                    .iter()
                    .filter(|f| folder.is_none_or(|only| only == **f))
                    .flat_map(|f| mb.folder_items(*f))
                    .map(|item| item_json(store, &address, &mb.item_ref(item.key), item))
                    .collect(),
            };
            Reply::json(200, &json!({ "mailbox": address, "items": items }))
        }
        (Method::POST, []) => {
            let input: ItemInput = match serde_json::from_slice(body) {
                Ok(i) => i,
                Err(e) => return bad(format!("the item JSON is invalid: {e}")),
            };
            create(state, &address, owner.display_name.clone(), &input, now)
        }
        (Method::GET, [id]) => match locate(&state.calendar, &address, id) {
            Ok((item_ref, entry)) => Reply::json(
                200,
                &item_json(&state.calendar, &address, &item_ref, &entry.item),
            ),
            Err(reply) => reply,
        },
        (Method::GET, [id, "occurrences"]) => occurrences(&state.calendar, &address, id, &query),
        (Method::PATCH, [id]) => {
            let input: ItemInput = match serde_json::from_slice(body) {
                Ok(i) => i,
                Err(e) => return bad(format!("the item JSON is invalid: {e}")),
            };
            update(state, &address, id, &input, now)
        }
        (Method::DELETE, [id]) => {
            let flag = |name: &str, default: bool| {
                query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v == "true" || v == "1")
                    .unwrap_or(default)
            };
            let item_ref = match locate(&state.calendar, &address, id) {
                Ok((item_ref, _)) => item_ref,
                Err(reply) => return reply,
            };
            let notify = if flag("send_cancellations", true) {
                Notify::AttendeesAndSaveCopy
            } else {
                Notify::Nobody
            };
            let directory = &state.directory;
            match remove_item(
                &mut state.calendar,
                directory,
                &address,
                item_ref,
                flag("move_to_deleted", false),
                notify,
                now,
            ) {
                Ok(()) => Reply::empty(204),
                Err(e) => bad(format!("{}: {}", e.code, e.message)),
            }
        }
        _ => Reply::json(
            405,
            &json!({"error": format!("{method} /admin/mailboxes/{address}/items/{rest} is not an item route; see the admin::items module docs")}),
        ),
    }
}

fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                crate::util::percent_decode(k.as_bytes()),
                crate::util::percent_decode(v.replace('+', " ").as_bytes()),
            )
        })
        .collect()
}

fn locate(store: &Store, address: &str, id: &str) -> Result<(ItemRef, ViewEntry), Reply> {
    // The router already percent-decoded the path.
    let id = id.trim();
    let (mailbox, item_ref) = store.resolve_id(id).map_err(|e| match e {
        crate::calendar::IdError::Malformed => {
            bad(format!("'{id}' is not an item id of this emulator"))
        }
        crate::calendar::IdError::NotFound => not_found(format!("item '{id}' does not exist")),
    })?;
    if !mailbox.address().eq_ignore_ascii_case(address) {
        return Err(not_found(format!(
            "item '{id}' is not in mailbox '{address}'"
        )));
    }
    let located = service::Located {
        mailbox: address.to_owned(),
        item: item_ref,
        change_key: None,
    };
    let entry = service::view_of(store, &located)
        .ok_or_else(|| not_found(format!("item '{id}' does not exist (deleted?)")))?;
    Ok((item_ref, entry))
}

fn create(
    state: &mut crate::state::State,
    address: &str,
    display_name: Option<String>,
    input: &ItemInput,
    now: Timestamp,
) -> Reply {
    let folder = match input.folder.as_deref().map(FolderKind::from_distinguished) {
        None => FolderKind::Calendar,
        Some(Some(FolderKind::Root)) | Some(None) => {
            return bad(format!(
                "folder: '{}' is not one of calendar, drafts, inbox, deleteditems, sentitems",
                input.folder.as_deref().unwrap_or("")
            ));
        }
        Some(Some(f)) => f,
    };
    let element =
        if folder == FolderKind::Calendar || input.start.is_some() || input.recurrence.is_some() {
            ItemElement::Calendar
        } else {
            ItemElement::Message
        };
    let props = match props(input) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let mut item = match build_item(element, &props, now) {
        Ok(i) => i,
        Err(e) => return bad(format!("{}: {}", e.code, e.message)),
    };
    item.creator = Some(address.to_owned());
    let owner = EmailAddress::smtp(address.to_owned(), display_name);
    item.last_modified_name = owner.name.clone();
    if item.calendar().is_some() {
        prepare_new_calendar_item(&mut item, &owner, new_uid());
        if let Err(e) = finalize_calendar(&mut item, None) {
            return bad(format!("{}: {}", e.code, e.message));
        }
    }
    if let ItemKind::Message(m) = &mut item.kind {
        m.from.get_or_insert(owner);
        m.is_draft = folder == FolderKind::Drafts;
    }
    let has_attendees = item
        .calendar()
        .is_some_and(|c| c.all_attendees().next().is_some());
    let key = state
        .calendar
        .mailbox_mut(address)
        .insert(folder, item, now);
    if has_attendees && input.send_invitations.unwrap_or(true) {
        let directory = &state.directory;
        deliver(
            &mut state.calendar,
            directory,
            address,
            key,
            MeetingChange::New,
            true,
            now,
        );
    }
    let store = &state.calendar;
    let Some(mb) = store.mailbox(address) else {
        return not_found("mailbox vanished");
    };
    match mb.get(key) {
        Some(item) => Reply::json(201, &item_json(store, address, &mb.item_ref(key), item)),
        None => not_found("the new item vanished"),
    }
}

fn update(
    state: &mut crate::state::State,
    address: &str,
    id: &str,
    input: &ItemInput,
    now: Timestamp,
) -> Reply {
    let (item_ref, entry) = match locate(&state.calendar, address, id) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    if input.folder.is_some() {
        return bad(
            "folder: items cannot be moved with PATCH; DELETE with move_to_deleted=true moves to Deleted Items",
        );
    }
    let props = match props(input) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let occurrence = matches!(item_ref, ItemRef::Occurrence { .. });
    let before = entry.item.clone();
    let mut updated = entry.item;
    let mut fields = Vec::new();
    for prop in &props {
        if let Err(e) = set_prop(&mut updated, prop, occurrence) {
            return bad(format!("{}: {}", e.code, e.message));
        }
        fields.push(prop.path.name());
    }
    if let Some(Value::Null) = input.recurrence {
        if let Err(e) = delete_prop(
            &mut updated,
            &PropPath::Field("calendar:Recurrence"),
            occurrence,
        ) {
            return bad(format!("{}: {}", e.code, e.message));
        }
        fields.push("calendar:Recurrence".to_owned());
    }
    let notify = if input.send_invitations.unwrap_or(true) {
        Notify::AttendeesAndSaveCopy
    } else {
        Notify::Nobody
    };
    let directory = &state.directory;
    if let Err(e) = save_update(
        &mut state.calendar,
        directory,
        address,
        item_ref,
        &before,
        updated,
        &fields,
        notify,
        now,
    ) {
        return bad(format!("{}: {}", e.code, e.message));
    }
    match locate(&state.calendar, address, &state.calendar.item_id(&item_ref)) {
        Ok((item_ref, entry)) => Reply::json(
            200,
            &item_json(&state.calendar, address, &item_ref, &entry.item),
        ),
        Err(reply) => reply,
    }
}

fn occurrences(store: &Store, address: &str, id: &str, query: &[(String, String)]) -> Reply {
    let (item_ref, entry) = match locate(store, address, id) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let Some(cal) = entry.item.calendar().filter(|c| c.recurrence.is_some()) else {
        return bad("the item is not a recurring master");
    };
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let utc = WindowsZone::utc();
    let from = match get("from").map(|f| parse_xs_datetime(&f, &utc)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad(format!("from: {e}")),
        None => cal.start,
    };
    let to = match get("to").map(|t| parse_xs_datetime(&t, &utc)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad(format!("to: {e}")),
        None => from
            .checked_add(jiff::SignedDuration::from_hours(24 * 366))
            .unwrap_or(Timestamp::MAX),
    };
    let Some(mb) = store.mailbox(address) else {
        return not_found("mailbox vanished");
    };
    let list: Vec<Value> = mb
        .calendar_view(from, to, |_| true)
        .into_iter()
        .filter(|e| e.id.key() == item_ref.key() && matches!(e.id, ItemRef::Occurrence { .. }))
        .map(|e| item_json(store, address, &e.id, &e.item))
        .collect();
    Reply::json(200, &json!({ "occurrences": list }))
}

fn attendee_json(list: &[Attendee]) -> Value {
    Value::Array(
        list.iter()
            .map(|a| json!({ "email": a.mailbox.email, "name": a.mailbox.name, "response": a.response_type.as_str() }))
            .collect(),
    )
}

fn recurrence_json(r: &Recurrence) -> Value {
    let pattern = match &r.pattern {
        Pattern::Daily { interval } => json!({"type": "daily", "interval": interval}),
        Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => {
            json!({"type": "weekly", "interval": interval, "days": days.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(), "first_day_of_week": weekday_name(*first_day_of_week)})
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => {
            json!({"type": "absolute_monthly", "interval": interval, "day_of_month": day_of_month})
        }
        Pattern::RelativeMonthly {
            interval,
            day,
            index,
        } => {
            json!({"type": "relative_monthly", "interval": interval, "day": day.as_str(), "index": index.as_str()})
        }
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => {
            json!({"type": "absolute_yearly", "month": month_name(*month), "day_of_month": day_of_month})
        }
        Pattern::RelativeYearly { month, day, index } => {
            json!({"type": "relative_yearly", "month": month_name(*month), "day": day.as_str(), "index": index.as_str()})
        }
    };
    let range = match r.range {
        Range::NoEnd { start } => json!({"type": "no_end", "start": start.to_string()}),
        Range::EndDate { start, end } => {
            json!({"type": "end_date", "start": start.to_string(), "end": end.to_string()})
        }
        Range::Numbered { start, count } => {
            json!({"type": "numbered", "start": start.to_string(), "count": count})
        }
    };
    json!({ "pattern": pattern, "range": range })
}

/// The JSON form of an item (for the admin API and test assertions).
pub fn item_json(store: &Store, address: &str, item_ref: &ItemRef, item: &Item) -> Value {
    let mut value = json!({
        "id": store.item_id(item_ref),
        "change_key": Store::change_key(item),
        "folder": item.folder.distinguished_id(),
        "item_class": item.item_class,
        "subject": item.subject,
        "body": item.body.content,
        "body_type": item.body.body_type.as_str(),
        "sensitivity": item.sensitivity.as_str(),
        "importance": item.importance.as_str(),
        "categories": item.categories,
        "created": format_xs_datetime(item.created),
        "last_modified": format_xs_datetime(item.last_modified),
        "extended_properties": item.extended.iter().map(|p| json!({
            "property": p.uri.field_name(),
            "type": p.uri.property_type(),
            "value": match &p.value { ExtendedValue::Single(v) => json!(v), ExtendedValue::Multi(vs) => json!(vs) },
        })).collect::<Vec<_>>(),
    });
    let calendar = match &item.kind {
        ItemKind::Calendar(c) => Some(c),
        ItemKind::MeetingMessage(m) => Some(&m.meeting),
        ItemKind::Message(_) => None,
    };
    if let Some(cal) = calendar {
        let mailbox = store.mailbox(address);
        value["calendar"] = json!({
            "type": cal.item_type.as_str(),
            "start": format_xs_datetime(cal.start),
            "end": format_xs_datetime(cal.end),
            "time_zone": cal.start_zone.id(),
            "end_time_zone": cal.end_zone.id(),
            "is_all_day": cal.is_all_day,
            "location": cal.location,
            "free_busy": cal.free_busy.as_str(),
            "uid": cal.uid,
            "organizer": cal.organizer.as_ref().map(|o| o.email.clone()),
            "my_response": cal.my_response_type.as_str(),
            "is_meeting": cal.is_meeting,
            "is_cancelled": cal.is_cancelled,
            "meeting_request_was_sent": cal.meeting_request_was_sent,
            "sequence_number": cal.sequence_number,
            "required_attendees": attendee_json(&cal.required_attendees),
            "optional_attendees": attendee_json(&cal.optional_attendees),
            "resources": attendee_json(&cal.resources),
            "original_start": cal.original_start.map(format_xs_datetime),
            "recurrence": cal.recurrence.as_ref().map(recurrence_json),
            "exceptions": cal.exceptions.iter().map(|(original, e)| json!({
                "id": mailbox.map(|m| store.item_id(&m.occurrence_ref(item.key, *original))),
                "original_start": format_xs_datetime(*original),
                "subject": e.subject,
                "start": e.calendar().map(|c| format_xs_datetime(c.start)),
                "end": e.calendar().map(|c| format_xs_datetime(c.end)),
            })).collect::<Vec<_>>(),
            "deleted_occurrences": cal.deleted_occurrences.iter().map(|t| format_xs_datetime(*t)).collect::<Vec<_>>(),
        });
    }
    match &item.kind {
        ItemKind::Message(m) => {
            value["message"] = json!({
                "from": m.from.as_ref().map(|f| f.email.clone()),
                "to": m.to.iter().map(|t| t.email.clone()).collect::<Vec<_>>(),
                "is_read": m.is_read,
                "is_draft": m.is_draft,
            });
        }
        ItemKind::MeetingMessage(m) => {
            value["meeting_message"] = json!({
                "kind": match m.kind {
                    crate::calendar::item::MeetingMessageKind::Request => "MeetingRequest".to_owned(),
                    crate::calendar::item::MeetingMessageKind::Cancellation => "MeetingCancellation".to_owned(),
                    crate::calendar::item::MeetingMessageKind::Response(r) => format!("MeetingResponse:{}", r.as_str()),
                },
                "from": m.from.as_ref().map(|f| f.email.clone()),
                "has_been_processed": m.has_been_processed,
                "request_type": m.request_type,
                "associated_calendar_item": m.associated_calendar_item.and_then(|k| store.mailbox(address).map(|mb| store.item_id(&mb.item_ref(k)))),
            });
        }
        ItemKind::Calendar(_) => {}
    }
    value
}
