//! The EWS calendar item both ways: reading a `t:CalendarItem` of a `GetItem`
//! answer into a [`CalendarItem`], and writing a [`BookingFields`] as the
//! `t:CalendarItem` of a `CreateItem` or as the `SetItemField`s of an
//! `UpdateItem`.
//!
//! # Reading
//!
//! [`CalendarItem::from_element`] takes the properties of [`FIELD_URIS`] and
//! the `RoomsBookingId` tag ([`BOOKING_ID_URI`]). It never panics and refuses
//! an item it cannot use with a sentence naming the reason: no `ItemId` or
//! `ChangeKey`, no `Start`/`End`, an unreadable time, enumeration or number,
//! a recurring master without its `Recurrence`. Absent optional properties
//! take Exchange's defaults (`Normal`, `Busy`, not all-day, no reminder).
//! Addresses are lower-cased; an attendee without an address (an unresolved
//! name typed in Outlook) is left out. A master's `ModifiedOccurrences` give
//! each exception's original start, start and end; its subject is not in them
//! (a `GetItem` of the occurrence id gives it), so
//! [`ModifiedOccurrence::subject`] is left empty and the occurrence
//! ids are kept in [`CalendarItem::modified_ids`].
//!
//! # Writing
//!
//! Elements follow the schema's sequence (`ItemType`, then
//! `CalendarItemType`: types.xsd, and the "CalendarItem" page of the EWS
//! reference), which Exchange validates (`ErrorSchemaValidation`). Times are
//! written in UTC (`Z`) with the booking's Windows zone as
//! `StartTimeZone`/`EndTimeZone`, so no time depends on a zone table here.
//! Every text is escaped, and characters XML 1.0 cannot carry (C0 controls
//! other than tab and line ends) are dropped. [`create_xml`] writes the whole
//! item (with the tag and, when known, the meeting's `UID`);
//! [`updates_xml`] sets every synced property, [`changed_updates_xml`] only
//! those that differ from the last synced fields, and
//! [`occurrence_updates_xml`] the subject and times of one occurrence.
//!
//! # Answers
//!
//! The operations share [`messages`] (the response messages, as many as
//! requested), [`written_item_id`] (the id and change key a `CreateItem` or
//! `UpdateItem` answers) and [`unusable_answer`] (the protocol error for an
//! answer that cannot be used).

use crate::booking::{
    Attendee, AttendeeKind, BookingFields, Date, FreeBusy, Instant, ModifiedOccurrence, Pattern,
    Range, Recurrence, WeekIndex, Weekday,
};
use crate::safe_text;

use super::time::{format_date, format_datetime, parse_date, parse_datetime};
use super::xml::{Element, Ns, escape};

/// The extended property that tags the items rooms-sync wrote: named
/// property `RoomsBookingId` in `PS_PUBLIC_STRINGS`, a string.
pub const BOOKING_ID_URI: &str = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/>"#;

/// The name of the tag property.
pub const BOOKING_ID_NAME: &str = "RoomsBookingId";

/// The extended property that tags the sync test's own test items
/// (`rooms-sync check`, the `write` and `subscription` checks): named
/// property `RoomsSyncTest` in `PS_PUBLIC_STRINGS`, a string. The sync
/// asks for it with every item and ignores items that carry it.
pub const SYNC_TEST_URI: &str = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsSyncTest" PropertyType="String"/>"#;

/// The name of the sync test's tag property.
pub const SYNC_TEST_NAME: &str = "RoomsSyncTest";

/// The GUID of `PS_PUBLIC_STRINGS`, which a server may name instead of the
/// distinguished set.
const PUBLIC_STRINGS_GUID: &str = "00020329-0000-0000-C000-000000000046";

/// The first-class properties a `GetItem` asks for, in schema order. The
/// `ItemId` (with its `ChangeKey`) comes with every shape.
pub const FIELD_URIS: &[&str] = &[
    "item:Subject",
    "item:Sensitivity",
    "item:ReminderIsSet",
    "item:ReminderMinutesBeforeStart",
    "calendar:UID",
    "calendar:Start",
    "calendar:End",
    "calendar:IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Location",
    "calendar:IsCancelled",
    "calendar:CalendarItemType",
    "calendar:MyResponseType",
    "calendar:Organizer",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "calendar:Recurrence",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:StartTimeZone",
];

/// `m:ItemShape` with `IdOnly`, [`FIELD_URIS`], the tag and the sync
/// test's tag ([`SYNC_TEST_URI`]).
pub fn item_shape() -> String {
    let mut xml =
        String::from("<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>");
    for uri in FIELD_URIS {
        xml.push_str(&format!(r#"<t:FieldURI FieldURI="{uri}"/>"#));
    }
    xml.push_str(BOOKING_ID_URI);
    xml.push_str(SYNC_TEST_URI);
    xml.push_str("</t:AdditionalProperties></m:ItemShape>");
    xml
}

/// `CalendarItemType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalendarItemType {
    /// `Single`: not part of a series.
    Single,
    /// `Occurrence`: an unmodified occurrence of a series.
    Occurrence,
    /// `Exception`: a modified occurrence.
    Exception,
    /// `RecurringMaster`: the series.
    RecurringMaster,
}

impl CalendarItemType {
    /// Parses the EWS name.
    pub fn from_ews(text: &str) -> Option<Self> {
        Some(match text {
            "Single" => Self::Single,
            "Occurrence" => Self::Occurrence,
            "Exception" => Self::Exception,
            "RecurringMaster" => Self::RecurringMaster,
            _ => return None,
        })
    }

    /// The EWS name.
    pub fn as_ews(self) -> &'static str {
        match self {
            Self::Single => "Single",
            Self::Occurrence => "Occurrence",
            Self::Exception => "Exception",
            Self::RecurringMaster => "RecurringMaster",
        }
    }
}

/// An attendee as the item lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemAttendee {
    /// The address, lower-case.
    pub email: String,
    /// The list it is in (`RequiredAttendees`, `OptionalAttendees`,
    /// `Resources`).
    pub kind: AttendeeKind,
    /// `ResponseType` (`Unknown`, `Organizer`, `Tentative`, `Accept`,
    /// `Decline`, `NoResponseReceived`); `Unknown` when absent.
    pub response_type: String,
}

impl ItemAttendee {
    /// The attendee without its response.
    pub fn attendee(&self) -> Attendee {
        Attendee {
            email: self.email.clone(),
            kind: self.kind,
        }
    }
}

/// A calendar item as `GetItem` returned it, with the synced properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarItem {
    /// `ItemId/@Id`.
    pub item_id: String,
    /// `ItemId/@ChangeKey`.
    pub change_key: String,
    /// `UID`, the meeting's identity across mailboxes (empty if absent).
    pub uid: String,
    /// `Subject` (empty if absent).
    pub subject: String,
    /// `Sensitivity` (`Normal`, `Personal`, `Private`, `Confidential`).
    pub sensitivity: String,
    /// `ReminderMinutesBeforeStart` when `ReminderIsSet` is true.
    pub reminder: Option<u32>,
    /// `Start` (the first occurrence of a master).
    pub start: Instant,
    /// `End`.
    pub end: Instant,
    /// `StartTimeZone/@Id`, a Windows zone id; empty if absent.
    pub time_zone: String,
    /// `IsAllDayEvent`.
    pub all_day: bool,
    /// `LegacyFreeBusyStatus`.
    pub free_busy: FreeBusy,
    /// `Location` (display text only; never decides the room).
    pub location: String,
    /// The organizer's address, lower-case (empty if absent).
    pub organizer: String,
    /// Required, optional and resource attendees, in that order.
    pub attendees: Vec<ItemAttendee>,
    /// `CalendarItemType`.
    pub item_type: CalendarItemType,
    /// `IsCancelled`.
    pub is_cancelled: bool,
    /// `MyResponseType` of the mailbox owner (`Unknown` if absent).
    pub my_response_type: String,
    /// The series of a recurring master: pattern, range, exceptions (without
    /// their subjects) and deleted occurrences, both sorted by original start.
    pub recurrence: Option<Recurrence>,
    /// The item id of each exception, by original start (sorted), for the
    /// `GetItem` that reads its subject.
    pub modified_ids: Vec<(Instant, String)>,
    /// The `RoomsBookingId` tag, when rooms-sync wrote the item.
    pub rooms_booking_id: Option<String>,
    /// True when the item carries the sync test's tag `RoomsSyncTest`
    /// ([`SYNC_TEST_URI`]): a test item of `rooms-sync check`.
    pub sync_test: bool,
}

impl CalendarItem {
    /// True for `Sensitivity` `Private`.
    pub fn is_private(&self) -> bool {
        self.sensitivity == "Private"
    }

    /// The attendees without their responses.
    pub fn booking_attendees(&self) -> Vec<Attendee> {
        self.attendees.iter().map(ItemAttendee::attendee).collect()
    }

    /// Reads a `t:CalendarItem`; the error says why the item is unusable.
    pub fn from_element(element: &Element) -> Result<Self, String> {
        if !element.is(&Ns::Types, "CalendarItem") {
            return Err(format!(
                "the item is a {}, not a calendar item",
                safe_text::name(&element.name)
            ));
        }
        let (item_id, change_key) = item_id(element)?;
        let change_key =
            change_key.ok_or("the ItemId has no ChangeKey, so changes could not be detected")?;
        let time = |name: &str| -> Result<Instant, String> {
            let child = types_child(element, name).ok_or_else(|| format!("it has no {name}"))?;
            parse_datetime(&child.text).map_err(|e| format!("its {name}: {e}"))
        };
        let start = time("Start")?;
        let end = time("End")?;
        if end < start {
            return Err(format!(
                "its End {} is before its Start {}",
                format_datetime(end),
                format_datetime(start)
            ));
        }
        let reminder = match types_child(element, "ReminderIsSet")
            .map(boolean)
            .transpose()?
        {
            Some(true) => {
                let minutes = types_child(element, "ReminderMinutesBeforeStart")
                    .ok_or("its reminder is set but has no ReminderMinutesBeforeStart")?;
                Some(number(minutes)?)
            }
            _ => None,
        };
        let free_busy = match types_child(element, "LegacyFreeBusyStatus") {
            Some(status) => {
                FreeBusy::from_ews(status.trimmed_text()).ok_or_else(|| invalid_value(status))?
            }
            None => FreeBusy::Busy,
        };
        let item_type = match types_child(element, "CalendarItemType") {
            Some(kind) => CalendarItemType::from_ews(kind.trimmed_text())
                .ok_or_else(|| invalid_value(kind))?,
            None => CalendarItemType::Single,
        };
        let mut attendees = Vec::new();
        for (list, kind) in [
            ("RequiredAttendees", AttendeeKind::Required),
            ("OptionalAttendees", AttendeeKind::Optional),
            ("Resources", AttendeeKind::Resource),
        ] {
            for attendee in types_child(element, list)
                .into_iter()
                .flat_map(|l| l.children_named(&Ns::Types, "Attendee"))
            {
                let Some(email) = attendee.child(&Ns::Types, "Mailbox").and_then(address) else {
                    continue;
                };
                let response_type = types_child(attendee, "ResponseType")
                    .map(|r| r.trimmed_text())
                    .filter(|r| !r.is_empty())
                    .unwrap_or("Unknown")
                    .to_owned();
                attendees.push(ItemAttendee {
                    email,
                    kind,
                    response_type,
                });
            }
        }
        let (recurrence, modified_ids) = match types_child(element, "Recurrence") {
            Some(recurrence) => {
                let (pattern, range) =
                    read_recurrence(recurrence).map_err(|e| format!("its Recurrence: {e}"))?;
                let (modified, modified_ids) = read_modified(element)?;
                let deleted = read_deleted(element)?;
                let series = Recurrence {
                    pattern,
                    range,
                    modified,
                    deleted,
                };
                (Some(series), modified_ids)
            }
            None if item_type == CalendarItemType::RecurringMaster => {
                return Err("it is a recurring master without its Recurrence".into());
            }
            None => (None, Vec::new()),
        };
        Ok(Self {
            item_id,
            change_key,
            uid: text_of(element, "UID").trim().to_owned(),
            subject: text_of(element, "Subject").to_owned(),
            sensitivity: match text_of(element, "Sensitivity").trim() {
                "" => "Normal".to_owned(),
                other => other.to_owned(),
            },
            reminder,
            start,
            end,
            time_zone: types_child(element, "StartTimeZone")
                .and_then(|z| z.attr("Id"))
                .unwrap_or("")
                .trim()
                .to_owned(),
            all_day: types_child(element, "IsAllDayEvent")
                .map(boolean)
                .transpose()?
                .unwrap_or(false),
            free_busy,
            location: text_of(element, "Location").to_owned(),
            organizer: types_child(element, "Organizer")
                .and_then(|o| o.child(&Ns::Types, "Mailbox"))
                .and_then(address)
                .unwrap_or_default(),
            attendees,
            item_type,
            is_cancelled: types_child(element, "IsCancelled")
                .map(boolean)
                .transpose()?
                .unwrap_or(false),
            my_response_type: match text_of(element, "MyResponseType").trim() {
                "" => "Unknown".to_owned(),
                other => other.to_owned(),
            },
            recurrence,
            modified_ids,
            rooms_booking_id: booking_id(element),
            sync_test: tagged(element, SYNC_TEST_NAME).is_some(),
        })
    }
}

fn types_child<'a>(element: &'a Element, name: &str) -> Option<&'a Element> {
    element.child(&Ns::Types, name)
}

fn text_of<'a>(element: &'a Element, name: &str) -> &'a str {
    types_child(element, name).map_or("", |c| c.text.as_str())
}

fn invalid_value(element: &Element) -> String {
    format!(
        "its {} '{}' is not a known value",
        safe_text::name(&element.name),
        safe_text::clean(element.trimmed_text(), 60)
    )
}

fn boolean(element: &Element) -> Result<bool, String> {
    match element.trimmed_text() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(invalid_value(element)),
    }
}

fn number(element: &Element) -> Result<u32, String> {
    element
        .trimmed_text()
        .parse()
        .map_err(|_| invalid_value(element))
}

/// `t:ItemId` (`Id`, `ChangeKey`) of an item element.
pub fn item_id(element: &Element) -> Result<(String, Option<String>), String> {
    let id = types_child(element, "ItemId").ok_or("it has no ItemId")?;
    let value = id
        .attr("Id")
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or("its ItemId has no Id")?;
    let change_key = id
        .attr("ChangeKey")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    Ok((value.to_owned(), change_key))
}

/// The lower-case `EmailAddress` of a `t:Mailbox`, if it has one.
fn address(mailbox: &Element) -> Option<String> {
    let email = types_child(mailbox, "EmailAddress")?.trimmed_text();
    (!email.is_empty()).then(|| email.to_lowercase())
}

fn booking_id(element: &Element) -> Option<String> {
    tagged(element, BOOKING_ID_NAME)
}

/// The non-empty value of the string property `name` in
/// `PS_PUBLIC_STRINGS`, when the item has it.
fn tagged(element: &Element, name: &str) -> Option<String> {
    element
        .children_named(&Ns::Types, "ExtendedProperty")
        .find(|p| {
            p.child(&Ns::Types, "ExtendedFieldURI")
                .is_some_and(|uri| is_public_string_uri(uri, name))
        })
        .and_then(|p| p.child(&Ns::Types, "Value"))
        .map(|v| v.text.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn is_public_string_uri(uri: &Element, name: &str) -> bool {
    let public_strings = uri.attr("DistinguishedPropertySetId") == Some("PublicStrings")
        || uri.attr("PropertySetId").is_some_and(|g| {
            g.trim_matches(|c| c == '{' || c == '}')
                .eq_ignore_ascii_case(PUBLIC_STRINGS_GUID)
        });
    public_strings
        && uri.attr("PropertyName") == Some(name)
        && uri.attr("PropertyType") == Some("String")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The EWS month name of 1 to 12 (`January` for anything else).
fn month_name(month: u8) -> &'static str {
    MONTHS[usize::from(month.clamp(1, 12)) - 1]
}

fn required<'a>(element: &'a Element, name: &str) -> Result<&'a Element, String> {
    types_child(element, name)
        .ok_or_else(|| format!("{} has no {name}", safe_text::name(&element.name)))
}

fn interval(pattern: &Element) -> Result<u32, String> {
    let value = number(required(pattern, "Interval")?)?;
    if value == 0 {
        return Err("its Interval is 0".into());
    }
    Ok(value)
}

fn day_of_month(pattern: &Element) -> Result<u8, String> {
    let element = required(pattern, "DayOfMonth")?;
    match number(element)? {
        day @ 1..=31 => Ok(day as u8),
        _ => Err(invalid_value(element)),
    }
}

fn month(pattern: &Element) -> Result<u8, String> {
    let element = required(pattern, "Month")?;
    MONTHS
        .iter()
        .position(|m| *m == element.trimmed_text())
        .map(|i| i as u8 + 1)
        .ok_or_else(|| invalid_value(element))
}

fn weekday(element: &Element) -> Result<Weekday, String> {
    Weekday::from_ews(element.trimmed_text()).ok_or_else(|| invalid_value(element))
}

fn week_index(pattern: &Element) -> Result<WeekIndex, String> {
    let element = required(pattern, "DayOfWeekIndex")?;
    WeekIndex::from_ews(element.trimmed_text()).ok_or_else(|| invalid_value(element))
}

/// The days of a weekly pattern, Sunday to Saturday; the day classes `Day`,
/// `Weekday` and `WeekendDay` stand for their days.
fn weekly_days(element: &Element) -> Result<Vec<Weekday>, String> {
    use Weekday::{Friday, Monday, Saturday, Sunday, Thursday, Tuesday, Wednesday};
    const WEEK: [Weekday; 7] = [
        Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday,
    ];
    let mut days = Vec::new();
    for word in element.text.split_whitespace() {
        match Weekday::from_ews(word) {
            Some(Weekday::Day) => days.extend_from_slice(&WEEK),
            Some(Weekday::Weekday) => days.extend_from_slice(&WEEK[1..6]),
            Some(Weekday::WeekendDay) => days.extend_from_slice(&[Sunday, Saturday]),
            Some(day) => days.push(day),
            None => return Err(invalid_value(element)),
        }
    }
    days.sort();
    days.dedup();
    if days.is_empty() {
        return Err("its WeeklyRecurrence has no DaysOfWeek".into());
    }
    Ok(days)
}

/// Reads the pattern and range of a `t:Recurrence`.
pub fn read_recurrence(element: &Element) -> Result<(Pattern, Range), String> {
    let mut pattern = None;
    let mut range = None;
    for child in element.children.iter().filter(|c| c.ns == Ns::Types) {
        match child.name.as_str() {
            "DailyRecurrence" => {
                pattern = Some(Pattern::Daily {
                    interval: interval(child)?,
                })
            }
            "WeeklyRecurrence" => {
                pattern = Some(Pattern::Weekly {
                    interval: interval(child)?,
                    days: weekly_days(required(child, "DaysOfWeek")?)?,
                    first_day_of_week: match types_child(child, "FirstDayOfWeek") {
                        Some(first) => weekday(first)?,
                        None => Weekday::Sunday,
                    },
                })
            }
            "AbsoluteMonthlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteMonthly {
                    interval: interval(child)?,
                    day_of_month: day_of_month(child)?,
                })
            }
            "RelativeMonthlyRecurrence" => {
                pattern = Some(Pattern::RelativeMonthly {
                    interval: interval(child)?,
                    day: weekday(required(child, "DaysOfWeek")?)?,
                    index: week_index(child)?,
                })
            }
            "AbsoluteYearlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteYearly {
                    month: month(child)?,
                    day_of_month: day_of_month(child)?,
                })
            }
            "RelativeYearlyRecurrence" => {
                pattern = Some(Pattern::RelativeYearly {
                    month: month(child)?,
                    day: weekday(required(child, "DaysOfWeek")?)?,
                    index: week_index(child)?,
                })
            }
            "NoEndRecurrence" | "EndDateRecurrence" | "NumberedRecurrence" => {
                let date = |name: &str| -> Result<Date, String> {
                    parse_date(&required(child, name)?.text).map_err(|e| format!("its {name}: {e}"))
                };
                let start = date("StartDate")?;
                range = Some(match child.name.as_str() {
                    "NoEndRecurrence" => Range {
                        start,
                        end: None,
                        count: None,
                    },
                    "EndDateRecurrence" => Range {
                        start,
                        end: Some(date("EndDate")?),
                        count: None,
                    },
                    _ => {
                        let count = number(required(child, "NumberOfOccurrences")?)?;
                        if count == 0 {
                            return Err("its NumberOfOccurrences is 0".into());
                        }
                        Range {
                            start,
                            end: None,
                            count: Some(count),
                        }
                    }
                });
            }
            other => {
                return Err(format!(
                    "the pattern or range {} is not supported",
                    safe_text::name(other)
                ));
            }
        }
    }
    match (pattern, range) {
        (Some(pattern), Some(range)) => Ok((pattern, range)),
        (None, _) => Err("it has no pattern".into()),
        (_, None) => Err("it has no range".into()),
    }
}

/// The exceptions of a master and their occurrence ids, by original start.
type Exceptions = (Vec<ModifiedOccurrence>, Vec<(Instant, String)>);

fn read_modified(element: &Element) -> Result<Exceptions, String> {
    let mut modified = Vec::new();
    let mut ids = Vec::new();
    for occurrence in types_child(element, "ModifiedOccurrences")
        .into_iter()
        .flat_map(|m| m.children_named(&Ns::Types, "Occurrence"))
    {
        let time = |name: &str| -> Result<Instant, String> {
            let child = types_child(occurrence, name)
                .ok_or_else(|| format!("a modified occurrence has no {name}"))?;
            parse_datetime(&child.text).map_err(|e| format!("a modified occurrence's {name}: {e}"))
        };
        let original_start = time("OriginalStart")?;
        let (id, _) = item_id(occurrence).map_err(|e| format!("a modified occurrence: {e}"))?;
        modified.push(ModifiedOccurrence {
            original_start,
            start: time("Start")?,
            end: time("End")?,
            subject: String::new(),
        });
        ids.push((original_start, id));
    }
    modified.sort_by_key(|m| m.original_start);
    ids.sort();
    Ok((modified, ids))
}

fn read_deleted(element: &Element) -> Result<Vec<Instant>, String> {
    let mut deleted = types_child(element, "DeletedOccurrences")
        .into_iter()
        .flat_map(|d| d.children_named(&Ns::Types, "DeletedOccurrence"))
        .map(|d| {
            let start = types_child(d, "Start").ok_or("a deleted occurrence has no Start")?;
            parse_datetime(&start.text).map_err(|e| format!("a deleted occurrence's Start: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    deleted.sort();
    deleted.dedup();
    Ok(deleted)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Escapes `text` for XML, dropping the characters XML 1.0 cannot carry.
pub fn xml_text(text: &str) -> String {
    let allowed = |c: &char| !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if text.chars().all(|c| allowed(&c)) {
        escape(text)
    } else {
        escape(&text.chars().filter(allowed).collect::<String>())
    }
}

fn leaf(name: &str, text: &str) -> String {
    format!("<t:{name}>{}</t:{name}>", xml_text(text))
}

fn boolean_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// `<t:ItemId Id=".." ChangeKey=".."/>` (no `ChangeKey` when `None` or empty).
pub fn item_id_xml(item_id: &str, change_key: Option<&str>) -> String {
    match change_key.filter(|k| !k.is_empty()) {
        Some(key) => format!(
            r#"<t:ItemId Id="{}" ChangeKey="{}"/>"#,
            xml_text(item_id),
            xml_text(key)
        ),
        None => format!(r#"<t:ItemId Id="{}"/>"#, xml_text(item_id)),
    }
}

/// The `<t:{list}>` of the attendees of `kind`, or `None` when there are none
/// (the schema does not allow an empty list).
fn attendees_xml(attendees: &[Attendee], kind: AttendeeKind) -> Option<String> {
    let mut xml = String::new();
    for attendee in attendees.iter().filter(|a| a.kind == kind) {
        xml.push_str("<t:Attendee><t:Mailbox>");
        xml.push_str(&leaf("EmailAddress", &attendee.email));
        xml.push_str("</t:Mailbox></t:Attendee>");
    }
    let list = list_name(kind);
    (!xml.is_empty()).then(|| format!("<t:{list}>{xml}</t:{list}>"))
}

fn list_name(kind: AttendeeKind) -> &'static str {
    match kind {
        AttendeeKind::Required => "RequiredAttendees",
        AttendeeKind::Optional => "OptionalAttendees",
        AttendeeKind::Resource => "Resources",
    }
}

/// `<t:Recurrence>` with the pattern, then the range, each in schema order.
pub fn recurrence_xml(recurrence: &Recurrence) -> String {
    let pattern = match &recurrence.pattern {
        Pattern::Daily { interval } => {
            format!("<t:DailyRecurrence><t:Interval>{interval}</t:Interval></t:DailyRecurrence>")
        }
        Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => {
            let days: Vec<&str> = days.iter().map(|d| d.as_ews()).collect();
            format!(
                "<t:WeeklyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek><t:FirstDayOfWeek>{}</t:FirstDayOfWeek></t:WeeklyRecurrence>",
                days.join(" "),
                first_day_of_week.as_ews()
            )
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => format!(
            "<t:AbsoluteMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DayOfMonth>{day_of_month}</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>"
        ),
        Pattern::RelativeMonthly {
            interval,
            day,
            index,
        } => format!(
            "<t:RelativeMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek><t:DayOfWeekIndex>{}</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
            day.as_ews(),
            index.as_ews()
        ),
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => format!(
            "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>{day_of_month}</t:DayOfMonth><t:Month>{}</t:Month></t:AbsoluteYearlyRecurrence>",
            month_name(*month)
        ),
        Pattern::RelativeYearly { month, day, index } => format!(
            "<t:RelativeYearlyRecurrence><t:DaysOfWeek>{}</t:DaysOfWeek><t:DayOfWeekIndex>{}</t:DayOfWeekIndex><t:Month>{}</t:Month></t:RelativeYearlyRecurrence>",
            day.as_ews(),
            index.as_ews(),
            month_name(*month)
        ),
    };
    let range = &recurrence.range;
    let start = format_date(range.start);
    let range = match (range.end, range.count) {
        (Some(end), _) => format!(
            "<t:EndDateRecurrence><t:StartDate>{start}</t:StartDate><t:EndDate>{}</t:EndDate></t:EndDateRecurrence>",
            format_date(end)
        ),
        (None, Some(count)) => format!(
            "<t:NumberedRecurrence><t:StartDate>{start}</t:StartDate><t:NumberOfOccurrences>{count}</t:NumberOfOccurrences></t:NumberedRecurrence>"
        ),
        (None, None) => {
            format!("<t:NoEndRecurrence><t:StartDate>{start}</t:StartDate></t:NoEndRecurrence>")
        }
    };
    format!("<t:Recurrence>{pattern}{range}</t:Recurrence>")
}

/// One property of a booking, as the element (or elements) of a
/// `t:CalendarItem`; `None` when the booking has no value for it.
struct Property {
    /// The `FieldURI`.
    uri: &'static str,
    /// The element, or `None` for "no value" (not written on create, deleted
    /// on update).
    xml: Option<String>,
}

/// The booking's properties in schema order (without the tag).
fn properties(fields: &BookingFields) -> Vec<Property> {
    let set = |uri, xml: String| Property {
        uri,
        xml: Some(xml),
    };
    let mut list = vec![
        set("item:Subject", leaf("Subject", &fields.subject)),
        set(
            "item:Sensitivity",
            leaf(
                "Sensitivity",
                if fields.private { "Private" } else { "Normal" },
            ),
        ),
        set(
            "item:ReminderIsSet",
            leaf(
                "ReminderIsSet",
                boolean_text(fields.reminder_minutes.is_some()),
            ),
        ),
    ];
    if let Some(minutes) = fields.reminder_minutes {
        list.push(set(
            "item:ReminderMinutesBeforeStart",
            leaf("ReminderMinutesBeforeStart", &minutes.to_string()),
        ));
    }
    list.push(set(
        "calendar:Start",
        leaf("Start", &format_datetime(fields.start)),
    ));
    list.push(set(
        "calendar:End",
        leaf("End", &format_datetime(fields.end)),
    ));
    list.push(set(
        "calendar:IsAllDayEvent",
        leaf("IsAllDayEvent", boolean_text(fields.all_day)),
    ));
    list.push(set(
        "calendar:LegacyFreeBusyStatus",
        leaf("LegacyFreeBusyStatus", fields.free_busy.as_ews()),
    ));
    for (uri, kind) in [
        ("calendar:RequiredAttendees", AttendeeKind::Required),
        ("calendar:OptionalAttendees", AttendeeKind::Optional),
        ("calendar:Resources", AttendeeKind::Resource),
    ] {
        list.push(Property {
            uri,
            xml: attendees_xml(&fields.attendees, kind),
        });
    }
    list.push(Property {
        uri: "calendar:Recurrence",
        xml: fields.recurrence.as_ref().map(recurrence_xml),
    });
    if !fields.time_zone.is_empty() {
        list.extend(time_zone_properties(&fields.time_zone));
    }
    list
}

fn time_zone_properties(zone: &str) -> [Property; 2] {
    let zone = xml_text(zone);
    [
        Property {
            uri: "calendar:StartTimeZone",
            xml: Some(format!(r#"<t:StartTimeZone Id="{zone}"/>"#)),
        },
        Property {
            uri: "calendar:EndTimeZone",
            xml: Some(format!(r#"<t:EndTimeZone Id="{zone}"/>"#)),
        },
    ]
}

/// The `t:ExtendedProperty` that tags an item with `booking_id`.
pub fn booking_id_xml(booking_id: &str) -> String {
    tag_xml(BOOKING_ID_URI, booking_id)
}

/// The `t:ExtendedProperty` of the extended property `uri` (a
/// `t:ExtendedFieldURI` element, such as [`BOOKING_ID_URI`]) with `value`.
pub fn tag_xml(uri: &str, value: &str) -> String {
    format!(
        "<t:ExtendedProperty>{uri}{}</t:ExtendedProperty>",
        leaf("Value", value)
    )
}

/// The `t:CalendarItem` of a `CreateItem` for `fields`, tagged with
/// `booking_id`: Subject, Sensitivity, ReminderIsSet(,
/// ReminderMinutesBeforeStart), the tag, the `UID` (when not empty: the
/// meeting's identity, shared by its items in every mailbox), Start, End,
/// IsAllDayEvent, LegacyFreeBusyStatus, the attendee lists that are not
/// empty, Recurrence, StartTimeZone and EndTimeZone (when the booking names a
/// zone).
pub fn create_xml(fields: &BookingFields, booking_id: &str, uid: &str) -> String {
    create_xml_tagged(fields, BOOKING_ID_URI, booking_id, uid)
}

/// [`create_xml`] with the item tagged by the extended property `tag_uri`
/// (a `t:ExtendedFieldURI` element) instead of `RoomsBookingId`: the sync
/// test's items carry a tag of their own, which the sync never takes for a
/// booking's.
pub fn create_xml_tagged(fields: &BookingFields, tag_uri: &str, tag: &str, uid: &str) -> String {
    let mut xml = String::from("<t:CalendarItem>");
    for property in properties(fields) {
        if property.uri == "calendar:Start" {
            // ExtendedProperty ends the ItemType sequence; UID begins the
            // CalendarItemType one.
            xml.push_str(&tag_xml(tag_uri, tag));
            if !uid.is_empty() {
                xml.push_str(&leaf("UID", uid));
            }
        }
        if let Some(element) = property.xml {
            xml.push_str(&element);
        }
    }
    xml.push_str("</t:CalendarItem>");
    xml
}

/// `SetItemField` of one property.
fn set_item_field(uri: &str, element: &str) -> String {
    format!(
        r#"<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:CalendarItem>{element}</t:CalendarItem></t:SetItemField>"#
    )
}

/// The `t:Updates` of an `UpdateItem` that makes an item equal to `fields`:
/// a `SetItemField` per synced property in schema order; a reminder removed
/// is `ReminderIsSet` false, an empty attendee list and a removed recurrence
/// are `DeleteItemField` (the schema has no empty list; setting a list
/// replaces it).
pub fn updates_xml(fields: &BookingFields) -> String {
    let mut xml = String::from("<t:Updates>");
    for property in properties(fields) {
        match property.xml {
            Some(element) => xml.push_str(&set_item_field(property.uri, &element)),
            None => xml.push_str(&format!(
                r#"<t:DeleteItemField><t:FieldURI FieldURI="{}"/></t:DeleteItemField>"#,
                property.uri
            )),
        }
    }
    xml.push_str("</t:Updates>");
    xml
}

/// The `t:Updates` that change only what differs between `previous` (the
/// fields the item holds, as last synced) and `fields`, in the same form as
/// [`updates_xml`]; `None` when nothing differs. Sending a series'
/// `Recurrence` again can cost it its exceptions in Exchange, and every
/// property sent is one an Outlook edit can conflict with, so an update of a
/// known item sends no more than it must. A zone dropped from the booking
/// leaves the item's zone as it is.
pub fn changed_updates_xml(fields: &BookingFields, previous: &BookingFields) -> Option<String> {
    let before = properties(previous);
    let mut xml = String::new();
    for property in properties(fields) {
        let old = before.iter().find(|p| p.uri == property.uri);
        if old.is_some_and(|old| old.xml == property.xml) {
            continue;
        }
        match property.xml {
            Some(element) => xml.push_str(&set_item_field(property.uri, &element)),
            // Absent before and now: nothing to delete.
            None if old.is_none() => {}
            None => xml.push_str(&format!(
                r#"<t:DeleteItemField><t:FieldURI FieldURI="{}"/></t:DeleteItemField>"#,
                property.uri
            )),
        }
    }
    (!xml.is_empty()).then(|| format!("<t:Updates>{xml}</t:Updates>"))
}

/// The `t:Updates` that turn one occurrence into an exception: Subject,
/// Start, End, and the series' zone as StartTimeZone/EndTimeZone (sent with
/// every start and end change, as Outlook-side clients do; empty: not sent).
pub fn occurrence_updates_xml(
    start: Instant,
    end: Instant,
    subject: &str,
    time_zone: &str,
) -> String {
    let mut xml = String::from("<t:Updates>");
    xml.push_str(&set_item_field("item:Subject", &leaf("Subject", subject)));
    xml.push_str(&set_item_field(
        "calendar:Start",
        &leaf("Start", &format_datetime(start)),
    ));
    xml.push_str(&set_item_field(
        "calendar:End",
        &leaf("End", &format_datetime(end)),
    ));
    if !time_zone.is_empty() {
        for property in time_zone_properties(time_zone) {
            if let Some(element) = property.xml {
                xml.push_str(&set_item_field(property.uri, &element));
            }
        }
    }
    xml.push_str("</t:Updates>");
    xml
}

// ---------------------------------------------------------------------------
// Answers of the calendar operations
// ---------------------------------------------------------------------------

/// The fix of an answer the component cannot use.
pub const UNUSABLE_ANSWER_FIX: &str =
    "Try again later; if it persists, report it with the rooms-sync host's log.";

/// A [`Error::Protocol`](crate::error::Error::Protocol) for an answer to
/// `operation` for `mailbox` that cannot be used, and why.
pub fn unusable_answer(operation: &str, mailbox: &str, reason: &str) -> crate::error::Error {
    crate::error::Error::protocol(
        format!(
            "The {operation} answer of Exchange for {mailbox} cannot be used: {}.",
            reason.trim_end_matches('.')
        ),
        UNUSABLE_ANSWER_FIX,
    )
}

/// The response messages of `response` (`m:<operation>Response`), which must
/// be exactly `expected`.
pub fn messages(
    response: Element,
    operation: &str,
    mailbox: &str,
    expected: usize,
) -> Result<Vec<super::response::ResponseMessage>, crate::error::Error> {
    let messages = super::response::response_messages(response, operation)
        .map_err(|e| unusable_answer(operation, mailbox, &e.to_string()))?;
    if messages.len() != expected {
        return Err(unusable_answer(
            operation,
            mailbox,
            &format!(
                "it holds {} response messages for {expected} requested",
                messages.len()
            ),
        ));
    }
    Ok(messages)
}

/// The `ItemId` and `ChangeKey` of the first item in `m:Items` of a
/// successful `CreateItem` or `UpdateItem` message.
pub fn written_item_id(
    message: &super::response::ResponseMessage,
) -> Result<(String, String), String> {
    let item = message
        .element
        .child(&Ns::Messages, "Items")
        .and_then(|items| items.children.iter().find(|c| c.ns == Ns::Types))
        .ok_or("it names no item")?;
    let (id, change_key) = item_id(item)?;
    let change_key = change_key.ok_or("its ItemId has no ChangeKey")?;
    Ok((id, change_key))
}

/// What the tests of the calendar operations share: a client signed in from
/// the token cache, the operation element of a sent request, and bookings.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::auth::TokenProvider;
    use crate::auth::token::AccessToken;
    use crate::booking::{
        Attendee, AttendeeKind, BookingFields, Date, FreeBusy, Pattern, Range, Recurrence, Weekday,
    };
    use crate::ews::xml::{Element, Ns, parse};
    use crate::platform::{CachedToken, HttpResponse};
    use crate::testing::{TestPlatform, answer, settings};
    use crate::url::HttpUrl;

    /// The EWS endpoint of the tests.
    pub const URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

    /// A platform with a cached token, and the provider that finds it.
    pub fn signed_in() -> (TestPlatform, TokenProvider) {
        let mut platform = TestPlatform::new();
        let tokens = TokenProvider::new(&settings(&[]), "https://outlook.office365.com");
        platform.cache.insert(
            tokens.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached"),
                expires_at: platform.now + 3000,
                refresh_token: None,
            },
        );
        (platform, tokens)
    }

    /// The endpoint as a URL.
    pub fn url() -> HttpUrl {
        HttpUrl::parse(URL).unwrap()
    }

    /// An HTTP 200 SOAP answer.
    pub fn soap(body: impl Into<Vec<u8>>) -> HttpResponse {
        answer(200, "text/xml; charset=utf-8", body)
    }

    /// The operation element (first child of the SOAP Body) of request
    /// `index`.
    pub fn sent_operation(platform: &TestPlatform, index: usize) -> Element {
        let root = parse(&platform.requests[index].body).expect("a well-formed request");
        let body = root.child(&Ns::Soap, "Body").expect("a SOAP Body");
        body.children[0].clone()
    }

    /// The local names of the children of `element`.
    pub fn names(element: &Element) -> Vec<&str> {
        element.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// A weekly series on Monday and Wednesday at 09:00 in Berlin, ten
    /// times, with a reminder, one attendee of each kind and a hostile
    /// subject.
    pub fn weekly() -> BookingFields {
        BookingFields {
            organiser: "alice@contoso.com".into(),
            rooms: vec!["room1@contoso.com".into()],
            subject: "Plan <Q1> & \"budget\" 'now'".into(),
            // 2026-01-05T08:00:00Z = 09:00 in W. Europe Standard Time.
            start: 1_767_600_000,
            end: 1_767_603_600,
            time_zone: "W. Europe Standard Time".into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: true,
            free_busy: FreeBusy::Busy,
            attendees: vec![
                Attendee {
                    email: "bob@contoso.com".into(),
                    kind: AttendeeKind::Required,
                },
                Attendee {
                    email: "carol@contoso.com".into(),
                    kind: AttendeeKind::Optional,
                },
                Attendee {
                    email: "room1@contoso.com".into(),
                    kind: AttendeeKind::Resource,
                },
            ],
            recurrence: Some(Recurrence {
                pattern: Pattern::Weekly {
                    interval: 1,
                    days: vec![Weekday::Monday, Weekday::Wednesday],
                    first_day_of_week: Weekday::Monday,
                },
                range: Range {
                    start: Date {
                        year: 2026,
                        month: 1,
                        day: 5,
                    },
                    end: None,
                    count: Some(10),
                },
                modified: Vec::new(),
                deleted: Vec::new(),
            }),
        }
    }

    /// A single meeting without reminder, zone, attendees or series.
    pub fn single() -> BookingFields {
        BookingFields {
            organiser: "alice@contoso.com".into(),
            rooms: Vec::new(),
            subject: "Stand-up".into(),
            start: 1_767_600_000,
            end: 1_767_601_800,
            time_zone: String::new(),
            all_day: false,
            reminder_minutes: None,
            private: false,
            free_busy: FreeBusy::Tentative,
            attendees: Vec::new(),
            recurrence: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{names, single, weekly};
    use super::*;
    use crate::booking::Weekday;
    use crate::ews::response::{Content, read_envelope, response_messages};
    use crate::ews::xml::{TYPES_NS, parse};
    use crate::testing::{ews_derived, ews_sample};

    /// `CalendarItemType` after `ItemType`, as in types.xsd and the EWS
    /// reference page "CalendarItem" (the elements this component writes or
    /// could write, in sequence).
    const SCHEMA_ORDER: &[&str] = &[
        "ItemClass",
        "Subject",
        "Sensitivity",
        "Body",
        "Categories",
        "Importance",
        "ReminderDueBy",
        "ReminderIsSet",
        "ReminderMinutesBeforeStart",
        "ExtendedProperty",
        "Culture",
        "UID",
        "Start",
        "End",
        "IsAllDayEvent",
        "LegacyFreeBusyStatus",
        "Location",
        "RequiredAttendees",
        "OptionalAttendees",
        "Resources",
        "Recurrence",
        "MeetingTimeZone",
        "StartTimeZone",
        "EndTimeZone",
    ];

    fn element(xml: &str) -> Element {
        // Element names in `xml` use the `t:` prefix of requests.
        parse(format!(r#"<r xmlns:t="{TYPES_NS}">{xml}</r>"#).as_bytes())
            .unwrap()
            .children
            .remove(0)
    }

    fn items(bytes: &[u8]) -> Vec<Result<Element, String>> {
        let Content::Response(response) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        response_messages(response, "GetItem")
            .unwrap()
            .into_iter()
            .map(|m| {
                m.element
                    .child(&Ns::Messages, "Items")
                    .and_then(|i| i.children.first())
                    .cloned()
                    .ok_or(m.code)
            })
            .collect()
    }

    fn assert_schema_order(item: &Element) {
        let mut last = 0;
        for name in names(item) {
            let at = SCHEMA_ORDER
                .iter()
                .position(|n| *n == name)
                .unwrap_or_else(|| panic!("{name} is not in the schema order"));
            assert!(at >= last, "{name} after {}", SCHEMA_ORDER[last]);
            last = at;
        }
    }

    #[test]
    fn a_weekly_series_is_written_in_schema_order_with_every_field() {
        let item = element(&create_xml(&weekly(), "B-7", "UID-<1>"));
        assert!(item.is(&Ns::Types, "CalendarItem"));
        assert_eq!(
            names(&item),
            [
                "Subject",
                "Sensitivity",
                "ReminderIsSet",
                "ReminderMinutesBeforeStart",
                "ExtendedProperty",
                "UID",
                "Start",
                "End",
                "IsAllDayEvent",
                "LegacyFreeBusyStatus",
                "RequiredAttendees",
                "OptionalAttendees",
                "Resources",
                "Recurrence",
                "StartTimeZone",
                "EndTimeZone",
            ]
        );
        assert_schema_order(&item);
        let text = |name: &str| item.child(&Ns::Types, name).unwrap().text.as_str();
        assert_eq!(text("Subject"), "Plan <Q1> & \"budget\" 'now'");
        assert_eq!(text("Sensitivity"), "Private");
        assert_eq!(text("UID"), "UID-<1>");
        assert_eq!(text("ReminderIsSet"), "true");
        assert_eq!(text("ReminderMinutesBeforeStart"), "15");
        assert_eq!(text("Start"), "2026-01-05T08:00:00Z");
        assert_eq!(text("End"), "2026-01-05T09:00:00Z");
        assert_eq!(text("IsAllDayEvent"), "false");
        assert_eq!(text("LegacyFreeBusyStatus"), "Busy");
        for (list, email) in [
            ("RequiredAttendees", "bob@contoso.com"),
            ("OptionalAttendees", "carol@contoso.com"),
            ("Resources", "room1@contoso.com"),
        ] {
            let attendees: Vec<&Element> = item
                .child(&Ns::Types, list)
                .unwrap()
                .children_named(&Ns::Types, "Attendee")
                .collect();
            assert_eq!(attendees.len(), 1, "{list}");
            assert_eq!(names(attendees[0]), ["Mailbox"]);
            let mailbox = &attendees[0].children[0];
            assert_eq!(names(mailbox), ["EmailAddress"]);
            assert_eq!(mailbox.children[0].text, email);
        }
        let property = item.child(&Ns::Types, "ExtendedProperty").unwrap();
        assert_eq!(names(property), ["ExtendedFieldURI", "Value"]);
        let uri = &property.children[0];
        assert_eq!(
            uri.attr("DistinguishedPropertySetId"),
            Some("PublicStrings")
        );
        assert_eq!(uri.attr("PropertyName"), Some("RoomsBookingId"));
        assert_eq!(uri.attr("PropertyType"), Some("String"));
        assert_eq!(property.children[1].text, "B-7");
        for zone in ["StartTimeZone", "EndTimeZone"] {
            let zone = item.child(&Ns::Types, zone).unwrap();
            assert_eq!(zone.attr("Id"), Some("W. Europe Standard Time"));
            assert!(zone.children.is_empty());
        }
        let recurrence = item.child(&Ns::Types, "Recurrence").unwrap();
        assert_eq!(
            names(recurrence),
            ["WeeklyRecurrence", "NumberedRecurrence"]
        );
        assert_eq!(
            names(&recurrence.children[0]),
            ["Interval", "DaysOfWeek", "FirstDayOfWeek"]
        );
        assert_eq!(recurrence.children[0].children[1].text, "Monday Wednesday");
        assert_eq!(
            names(&recurrence.children[1]),
            ["StartDate", "NumberOfOccurrences"]
        );
        assert_eq!(recurrence.children[1].children[0].text, "2026-01-05");
    }

    #[test]
    fn a_plain_single_leaves_out_what_it_does_not_have() {
        let item = element(&create_xml(&single(), "B-1", ""));
        assert_eq!(
            names(&item),
            [
                "Subject",
                "Sensitivity",
                "ReminderIsSet",
                "ExtendedProperty",
                "Start",
                "End",
                "IsAllDayEvent",
                "LegacyFreeBusyStatus",
            ]
        );
        assert_eq!(
            item.child(&Ns::Types, "Sensitivity").unwrap().text,
            "Normal"
        );
        assert_eq!(
            item.child(&Ns::Types, "ReminderIsSet").unwrap().text,
            "false"
        );
        assert_eq!(
            item.child(&Ns::Types, "LegacyFreeBusyStatus").unwrap().text,
            "Tentative"
        );
    }

    #[test]
    fn texts_are_escaped_and_cleared_of_what_xml_cannot_carry() {
        let mut fields = single();
        fields.subject = "a\u{1}b\u{0}c\t<d>&\u{fffe}\"e'\r\n".into();
        fields.time_zone = "Zone \"x\" & <y>".into();
        let hostile = r#"B-"1"&<2>'"#;
        let item = element(&create_xml(&fields, hostile, ""));
        assert_eq!(
            item.child(&Ns::Types, "Subject").unwrap().text,
            "abc\t<d>&\"e'\n"
        );
        assert_eq!(
            item.child(&Ns::Types, "StartTimeZone").unwrap().attr("Id"),
            Some("Zone \"x\" & <y>")
        );
        let value = &item.child(&Ns::Types, "ExtendedProperty").unwrap().children[1];
        assert_eq!(value.text, hostile);
        assert_eq!(
            item_id_xml("a\"b<", Some("k&")),
            r#"<t:ItemId Id="a&quot;b&lt;" ChangeKey="k&amp;"/>"#
        );
        assert_eq!(item_id_xml("x", Some("")), r#"<t:ItemId Id="x"/>"#);
    }

    fn series(pattern: Pattern, range: Range) -> Recurrence {
        Recurrence {
            pattern,
            range,
            modified: Vec::new(),
            deleted: Vec::new(),
        }
    }

    #[test]
    fn every_pattern_and_range_round_trips_in_schema_order() {
        let date = |year, month, day| Date { year, month, day };
        let patterns = [
            (Pattern::Daily { interval: 3 }, vec!["Interval"]),
            (
                Pattern::Weekly {
                    interval: 2,
                    days: vec![Weekday::Sunday, Weekday::Friday],
                    first_day_of_week: Weekday::Sunday,
                },
                vec!["Interval", "DaysOfWeek", "FirstDayOfWeek"],
            ),
            (
                Pattern::AbsoluteMonthly {
                    interval: 1,
                    day_of_month: 31,
                },
                vec!["Interval", "DayOfMonth"],
            ),
            (
                Pattern::RelativeMonthly {
                    interval: 6,
                    day: Weekday::WeekendDay,
                    index: WeekIndex::Last,
                },
                vec!["Interval", "DaysOfWeek", "DayOfWeekIndex"],
            ),
            (
                Pattern::AbsoluteYearly {
                    month: 12,
                    day_of_month: 24,
                },
                vec!["DayOfMonth", "Month"],
            ),
            (
                Pattern::RelativeYearly {
                    month: 3,
                    day: Weekday::Weekday,
                    index: WeekIndex::Second,
                },
                vec!["DaysOfWeek", "DayOfWeekIndex", "Month"],
            ),
        ];
        let ranges = [
            (
                Range {
                    start: date(2026, 1, 5),
                    end: None,
                    count: None,
                },
                vec!["StartDate"],
            ),
            (
                Range {
                    start: date(2026, 1, 5),
                    end: Some(date(2027, 2, 28)),
                    count: None,
                },
                vec!["StartDate", "EndDate"],
            ),
            (
                Range {
                    start: date(2026, 1, 5),
                    end: None,
                    count: Some(999),
                },
                vec!["StartDate", "NumberOfOccurrences"],
            ),
        ];
        for (pattern, pattern_order) in &patterns {
            for (range, range_order) in &ranges {
                let recurrence = series(pattern.clone(), range.clone());
                let xml = element(&recurrence_xml(&recurrence));
                assert_eq!(names(&xml.children[0]), *pattern_order, "{pattern:?}");
                assert_eq!(names(&xml.children[1]), *range_order, "{range:?}");
                assert_eq!(
                    read_recurrence(&xml),
                    Ok((pattern.clone(), range.clone())),
                    "{pattern:?} {range:?}"
                );
            }
        }
        let yearly = recurrence_xml(&series(patterns[4].0.clone(), ranges[0].0.clone()));
        assert!(yearly.contains("<t:Month>December</t:Month>"), "{yearly}");
    }

    #[test]
    fn recurrences_that_cannot_be_used_are_refused_with_a_reason() {
        let refused = |inner: &str| {
            read_recurrence(&element(&format!("<t:Recurrence>{inner}</t:Recurrence>"))).unwrap_err()
        };
        let no_end = "<t:NoEndRecurrence><t:StartDate>2026-01-05</t:StartDate></t:NoEndRecurrence>";
        let daily = "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>";
        for (inner, reason) in [
            (no_end.to_owned(), "no pattern"),
            (daily.to_owned(), "no range"),
            (
                format!(
                    "<t:DailyRecurrence><t:Interval>0</t:Interval></t:DailyRecurrence>{no_end}"
                ),
                "Interval is 0",
            ),
            (
                format!("<t:DailyRecurrence/>{no_end}"),
                "DailyRecurrence has no Interval",
            ),
            (
                format!(
                    "<t:DailyRegeneration><t:Interval>1</t:Interval></t:DailyRegeneration>{no_end}"
                ),
                "DailyRegeneration is not supported",
            ),
            (
                format!(
                    "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Funday</t:DaysOfWeek></t:WeeklyRecurrence>{no_end}"
                ),
                "DaysOfWeek 'Funday'",
            ),
            (
                format!(
                    "<t:AbsoluteMonthlyRecurrence><t:Interval>1</t:Interval><t:DayOfMonth>32</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>{no_end}"
                ),
                "DayOfMonth '32'",
            ),
            (
                format!(
                    "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>1</t:DayOfMonth><t:Month>Smarch</t:Month></t:AbsoluteYearlyRecurrence>{no_end}"
                ),
                "Month 'Smarch'",
            ),
            (
                format!(
                    "{daily}<t:NoEndRecurrence><t:StartDate>2026-02-30</t:StartDate></t:NoEndRecurrence>"
                ),
                "its StartDate: '2026-02-30' is not a valid xs:date",
            ),
            (
                format!(
                    "{daily}<t:NumberedRecurrence><t:StartDate>2026-01-05</t:StartDate><t:NumberOfOccurrences>-1</t:NumberOfOccurrences></t:NumberedRecurrence>"
                ),
                "NumberOfOccurrences '-1'",
            ),
        ] {
            let error = refused(&inner);
            assert!(error.contains(reason), "{inner}: {error}");
        }
    }

    #[test]
    fn weekly_day_classes_stand_for_their_days() {
        let days = |text: &str| {
            let xml = format!(
                "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>{text}</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2026-01-05Z</t:StartDate></t:NoEndRecurrence></t:Recurrence>"
            );
            match read_recurrence(&element(&xml)).unwrap().0 {
                Pattern::Weekly {
                    days,
                    first_day_of_week,
                    ..
                } => {
                    assert_eq!(first_day_of_week, Weekday::Sunday);
                    days
                }
                other => panic!("{other:?}"),
            }
        };
        use Weekday::{Friday, Monday, Saturday, Sunday, Thursday, Tuesday, Wednesday};
        assert_eq!(
            days("Weekday"),
            [Monday, Tuesday, Wednesday, Thursday, Friday]
        );
        assert_eq!(days("WeekendDay Monday"), [Sunday, Monday, Saturday]);
        assert_eq!(days("Day").len(), 7);
        assert_eq!(days(" Friday  Friday Monday "), [Monday, Friday]);
    }

    #[test]
    fn the_documented_all_properties_item() {
        let item = items(ews_sample!(
            "getitem-calendaritem-response-allproperties.xml"
        ))
        .remove(0)
        .unwrap();
        let item = CalendarItem::from_element(&item).unwrap();
        assert_eq!(item.item_id, "ASUAdT");
        assert_eq!(item.change_key, "otlIqB==");
        assert_eq!(item.subject, "");
        assert_eq!(item.uid, "");
        assert_eq!(item.sensitivity, "Normal");
        assert!(!item.is_private());
        assert_eq!(item.reminder, Some(15));
        assert_eq!(item.start, parse_datetime("2006-06-16T00:30:00Z").unwrap());
        assert_eq!(item.end - item.start, 1800);
        // `TimeZone` is a display name, not a zone id.
        assert_eq!(item.time_zone, "");
        assert!(!item.all_day && !item.is_cancelled);
        assert_eq!(item.free_busy, FreeBusy::Busy);
        assert_eq!(item.organizer, "someone@example.com");
        assert!(item.attendees.is_empty());
        assert_eq!(item.item_type, CalendarItemType::Single);
        assert_eq!(item.my_response_type, "Organizer");
        assert_eq!(item.recurrence, None);
        assert_eq!(item.rooms_booking_id, None);
    }

    #[test]
    fn the_documented_batch_gives_two_items_and_a_master_without_its_series() {
        let mut parsed = items(ews_sample!("getitem-batch-response.xml"))
            .into_iter()
            .map(|e| CalendarItem::from_element(&e.unwrap()));
        let first = parsed.next().unwrap().unwrap();
        assert_eq!(first.subject, "Review current quarterly deliverables");
        assert_eq!(first.location, "Local food bank");
        // ReminderMinutesBeforeStart without ReminderIsSet: no reminder.
        assert_eq!(first.reminder, None);
        assert_eq!(first.start, parse_datetime("2014-01-19T18:59:07Z").unwrap());
        let master = parsed.next().unwrap().unwrap_err();
        assert_eq!(master, "it is a recurring master without its Recurrence");
        let third = parsed.next().unwrap().unwrap();
        let emails: Vec<&str> = third.attendees.iter().map(|a| a.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "mack@contoso.com",
                "sadie@contoso.com",
                "magdalena@contoso.com"
            ]
        );
        assert!(
            third
                .attendees
                .iter()
                .all(|a| a.kind == AttendeeKind::Required && a.response_type == "Unknown")
        );
    }

    #[test]
    fn a_series_with_an_exception_a_deleted_occurrence_and_the_tag() {
        let mut all = items(ews_derived!("getitem-calendar-series-partial-response.xml"));
        let master = CalendarItem::from_element(&all.remove(0).unwrap()).unwrap();
        let at = |text| parse_datetime(text).unwrap();
        assert_eq!(
            master.item_id,
            "AAMkAAF8M7Lm65gTSAAAAAAAAAACXlp2DmHAUxhRQQ=="
        );
        assert_eq!(master.change_key, "DwAAABYAAAAAAAAAAAAAGwAAAAI=");
        assert_eq!(
            master.uid,
            "040000008200E00074C5B7101A82E00800000000F45999403D4BAF42D74DD8318DA20B90"
        );
        assert_eq!(master.subject, "Plan <Q1> & \"budget\" 'now'");
        assert!(master.is_private());
        assert_eq!(master.reminder, Some(15));
        assert_eq!(master.start, at("2026-01-05T08:00:00Z"));
        assert_eq!(master.end, at("2026-01-05T09:00:00Z"));
        assert_eq!(master.time_zone, "W. Europe Standard Time");
        assert_eq!(master.item_type, CalendarItemType::RecurringMaster);
        assert_eq!(master.organizer, "alice@contoso.com");
        assert_eq!(master.rooms_booking_id.as_deref(), Some("B-weekly"));
        assert_eq!(
            master.attendees,
            vec![
                ItemAttendee {
                    email: "bob@contoso.com".into(),
                    kind: AttendeeKind::Required,
                    response_type: "Unknown".into()
                },
                ItemAttendee {
                    email: "carol@contoso.com".into(),
                    kind: AttendeeKind::Optional,
                    response_type: "Unknown".into()
                },
                ItemAttendee {
                    email: "room-berlin@contoso.com".into(),
                    kind: AttendeeKind::Resource,
                    response_type: "Accept".into()
                },
            ]
        );
        let mut expected_fields = weekly();
        expected_fields.attendees[2].email = "room-berlin@contoso.com".into();
        assert_eq!(master.booking_attendees(), expected_fields.attendees);
        let recurrence = master.recurrence.unwrap();
        let expected = expected_fields.recurrence.unwrap();
        assert_eq!(recurrence.pattern, expected.pattern);
        assert_eq!(recurrence.range, expected.range);
        assert_eq!(
            recurrence.modified,
            vec![ModifiedOccurrence {
                original_start: at("2026-01-07T08:00:00Z"),
                start: at("2026-01-07T08:30:00Z"),
                end: at("2026-01-07T09:30:00Z"),
                subject: String::new(),
            }]
        );
        assert_eq!(
            master.modified_ids,
            vec![(
                at("2026-01-07T08:00:00Z"),
                "AAMkAAJ8M7Lm65gTSAAAAAAAAAACAAAAAGleEoBb12/GGtCTSf6X".to_owned()
            )]
        );
        assert_eq!(recurrence.deleted, vec![at("2026-01-12T08:00:00Z")]);
        assert_eq!(all.remove(0), Err("ErrorItemNotFound".into()));
        let single = CalendarItem::from_element(&all.remove(0).unwrap()).unwrap();
        assert_eq!(single.reminder, None, "ReminderIsSet false");
        assert_eq!(single.time_zone, "UTC");
        assert_eq!(single.free_busy, FreeBusy::Tentative);
        assert_eq!(single.rooms_booking_id.as_deref(), Some("B-single"));
    }

    #[test]
    fn items_that_cannot_be_used_are_refused_with_a_reason() {
        let id = r#"<t:ItemId Id="A" ChangeKey="K"/>"#;
        let times = "<t:Start>2026-01-05T08:00:00Z</t:Start><t:End>2026-01-05T09:00:00Z</t:End>";
        let refused = |inner: &str| {
            CalendarItem::from_element(&element(&format!(
                "<t:CalendarItem>{inner}</t:CalendarItem>"
            )))
            .unwrap_err()
        };
        for (inner, reason) in [
            (times.to_owned(), "it has no ItemId"),
            (
                format!(r#"<t:ItemId Id=""/>{times}"#),
                "its ItemId has no Id",
            ),
            (format!(r#"<t:ItemId Id="A"/>{times}"#), "no ChangeKey"),
            (id.to_owned(), "it has no Start"),
            (
                format!("{id}<t:Start>2026-01-05T08:00:00Z</t:Start>"),
                "it has no End",
            ),
            (
                format!("{id}<t:Start>yesterday</t:Start><t:End>2026-01-05T09:00:00Z</t:End>"),
                "its Start: 'yesterday' is not a valid xs:dateTime",
            ),
            (
                format!(
                    "{id}<t:Start>2026-01-05T10:00:00Z</t:Start><t:End>2026-01-05T09:00:00Z</t:End>"
                ),
                "its End 2026-01-05T09:00:00Z is before its Start",
            ),
            (
                format!("{id}<t:ReminderIsSet>true</t:ReminderIsSet>{times}"),
                "no ReminderMinutesBeforeStart",
            ),
            (
                format!(
                    "{id}<t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderMinutesBeforeStart>-5</t:ReminderMinutesBeforeStart>{times}"
                ),
                "ReminderMinutesBeforeStart '-5'",
            ),
            (
                format!("{id}<t:ReminderIsSet>maybe</t:ReminderIsSet>{times}"),
                "ReminderIsSet 'maybe'",
            ),
            (
                format!("{id}{times}<t:LegacyFreeBusyStatus>Bored</t:LegacyFreeBusyStatus>"),
                "LegacyFreeBusyStatus 'Bored'",
            ),
            (
                format!("{id}{times}<t:CalendarItemType>Weird</t:CalendarItemType>"),
                "CalendarItemType 'Weird'",
            ),
            (
                format!("{id}{times}<t:Recurrence/>"),
                "its Recurrence: it has no pattern",
            ),
        ] {
            let error = refused(&inner);
            assert!(error.contains(reason), "{inner}: {error}");
            assert!(safe_text::is_clean(&error), "{error:?}");
        }
        let message = element(&format!("<t:Message>{id}</t:Message>"));
        assert_eq!(
            CalendarItem::from_element(&message).unwrap_err(),
            "the item is a Message, not a calendar item"
        );
    }

    #[test]
    fn attendees_without_an_address_are_left_out_and_addresses_lower_cased() {
        let item = element(
            r#"<t:CalendarItem><t:ItemId Id="A" ChangeKey="K"/><t:Start>2026-01-05T08:00:00Z</t:Start><t:End>2026-01-05T08:00:00Z</t:End><t:Organizer><t:Mailbox><t:Name>X</t:Name><t:EmailAddress> Alice@Contoso.COM </t:EmailAddress></t:Mailbox></t:Organizer><t:Resources><t:Attendee><t:Mailbox><t:Name>Typed text</t:Name></t:Mailbox></t:Attendee><t:Attendee><t:Mailbox><t:EmailAddress>Room1@Contoso.com</t:EmailAddress></t:Mailbox><t:ResponseType>Decline</t:ResponseType></t:Attendee></t:Resources><t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="{00020329-0000-0000-c000-000000000046}" PropertyName="RoomsBookingId" PropertyType="String"/><t:Value> B-9 </t:Value></t:ExtendedProperty></t:CalendarItem>"#,
        );
        let item = CalendarItem::from_element(&item).unwrap();
        assert_eq!(item.organizer, "alice@contoso.com");
        assert_eq!(
            item.attendees,
            vec![ItemAttendee {
                email: "room1@contoso.com".into(),
                kind: AttendeeKind::Resource,
                response_type: "Decline".into()
            }]
        );
        assert_eq!(item.rooms_booking_id.as_deref(), Some("B-9"));
        let other_tag = element(
            r#"<t:CalendarItem><t:ItemId Id="A" ChangeKey="K"/><t:Start>2026-01-05T08:00:00Z</t:Start><t:End>2026-01-05T08:00:00Z</t:End><t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="SomethingElse" PropertyType="String"/><t:Value>x</t:Value></t:ExtendedProperty></t:CalendarItem>"#,
        );
        assert_eq!(
            CalendarItem::from_element(&other_tag)
                .unwrap()
                .rooms_booking_id,
            None
        );
        assert!(!item.sync_test);
        assert!(!CalendarItem::from_element(&other_tag).unwrap().sync_test);
    }

    #[test]
    fn the_sync_tests_tag_is_asked_for_and_marks_a_test_item() {
        let shape = item_shape();
        assert!(shape.contains(SYNC_TEST_URI), "{shape}");
        assert!(shape.contains(BOOKING_ID_URI), "{shape}");
        // The `write` check tags its items with the same property.
        assert_eq!(SYNC_TEST_URI, crate::diagnostics::write::TAG_URI);
        let test_item = element(
            r#"<t:CalendarItem><t:ItemId Id="A" ChangeKey="K"/><t:Start>2026-01-05T08:00:00Z</t:Start><t:End>2026-01-05T08:15:00Z</t:End><t:ExtendedProperty><t:ExtendedFieldURI PropertySetId="{00020329-0000-0000-C000-000000000046}" PropertyName="RoomsSyncTest" PropertyType="String"/><t:Value>rooms-sync-test</t:Value></t:ExtendedProperty></t:CalendarItem>"#,
        );
        let item = CalendarItem::from_element(&test_item).unwrap();
        assert!(item.sync_test);
        // It is no booking's tag.
        assert_eq!(item.rooms_booking_id, None);
    }

    fn updates(xml: &str) -> Vec<(String, String, Vec<String>)> {
        let updates = element(xml);
        assert!(updates.is(&Ns::Types, "Updates"));
        updates
            .children
            .iter()
            .map(|u| {
                let uri = u.children[0].attr("FieldURI").unwrap().to_owned();
                let set: Vec<String> = u
                    .children
                    .get(1)
                    .map(|item| {
                        assert!(item.is(&Ns::Types, "CalendarItem"));
                        item.children.iter().map(|c| c.name.clone()).collect()
                    })
                    .unwrap_or_default();
                (u.name.clone(), uri, set)
            })
            .collect()
    }

    #[test]
    fn an_update_sets_every_field_once_in_schema_order() {
        let all = updates(&updates_xml(&weekly()));
        let expected = [
            "item:Subject",
            "item:Sensitivity",
            "item:ReminderIsSet",
            "item:ReminderMinutesBeforeStart",
            "calendar:Start",
            "calendar:End",
            "calendar:IsAllDayEvent",
            "calendar:LegacyFreeBusyStatus",
            "calendar:RequiredAttendees",
            "calendar:OptionalAttendees",
            "calendar:Resources",
            "calendar:Recurrence",
            "calendar:StartTimeZone",
            "calendar:EndTimeZone",
        ];
        assert_eq!(all.len(), expected.len());
        for ((kind, uri, set), expected) in all.iter().zip(expected) {
            assert_eq!(kind, "SetItemField");
            assert_eq!(uri, expected);
            // One property per change, the one the FieldURI names.
            assert_eq!(set, &[uri.split(':').nth(1).unwrap().to_owned()]);
        }
    }

    #[test]
    fn an_update_deletes_empty_lists_and_a_removed_series() {
        let all = updates(&updates_xml(&single()));
        let kinds: Vec<(&str, &str)> = all
            .iter()
            .map(|(k, u, _)| (k.as_str(), u.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("SetItemField", "item:Subject"),
                ("SetItemField", "item:Sensitivity"),
                ("SetItemField", "item:ReminderIsSet"),
                ("SetItemField", "calendar:Start"),
                ("SetItemField", "calendar:End"),
                ("SetItemField", "calendar:IsAllDayEvent"),
                ("SetItemField", "calendar:LegacyFreeBusyStatus"),
                ("DeleteItemField", "calendar:RequiredAttendees"),
                ("DeleteItemField", "calendar:OptionalAttendees"),
                ("DeleteItemField", "calendar:Resources"),
                ("DeleteItemField", "calendar:Recurrence"),
            ]
        );
        assert!(all[7..].iter().all(|(_, _, set)| set.is_empty()));
    }

    #[test]
    fn a_changed_update_sends_only_what_differs() {
        let before = weekly();
        assert_eq!(changed_updates_xml(&before, &before), None);
        let mut after = before.clone();
        after.subject = "New".into();
        after.reminder_minutes = None;
        after.attendees.retain(|a| a.kind != AttendeeKind::Optional);
        let changed = updates(&changed_updates_xml(&after, &before).unwrap());
        let kinds: Vec<(&str, &str)> = changed
            .iter()
            .map(|(k, u, _)| (k.as_str(), u.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("SetItemField", "item:Subject"),
                ("SetItemField", "item:ReminderIsSet"),
                ("DeleteItemField", "calendar:OptionalAttendees"),
            ]
        );
        // A series added to a single, and nothing deleted that was not there.
        let mut series = single();
        series.recurrence = weekly().recurrence;
        let changed = updates(&changed_updates_xml(&series, &single()).unwrap());
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].1, "calendar:Recurrence");
        let removed = updates(&changed_updates_xml(&single(), &series).unwrap());
        assert_eq!(removed[0].0, "DeleteItemField");
    }

    #[test]
    fn an_occurrence_update_sends_subject_times_and_the_series_zone() {
        let all = updates(&occurrence_updates_xml(
            1_767_774_600,
            1_767_778_200,
            "Moved <one>",
            "W. Europe Standard Time",
        ));
        let uris: Vec<&str> = all.iter().map(|(_, u, _)| u.as_str()).collect();
        assert_eq!(
            uris,
            [
                "item:Subject",
                "calendar:Start",
                "calendar:End",
                "calendar:StartTimeZone",
                "calendar:EndTimeZone"
            ]
        );
        let without_zone = updates(&occurrence_updates_xml(0, 60, "x", ""));
        assert_eq!(without_zone.len(), 3);
        let xml = occurrence_updates_xml(1_767_774_600, 1_767_778_200, "Moved <one>", "");
        assert!(
            xml.contains("<t:Start>2026-01-07T08:30:00Z</t:Start>"),
            "{xml}"
        );
        assert!(xml.contains("Moved &lt;one&gt;"), "{xml}");
    }

    #[test]
    fn the_item_shape_asks_for_every_synced_property_and_the_tag() {
        let shape = parse(
            format!(
                r#"<m:ItemShape xmlns:m="{}" xmlns:t="{TYPES_NS}">{}</m:ItemShape>"#,
                crate::ews::xml::MESSAGES_NS,
                item_shape()
                    .trim_start_matches("<m:ItemShape>")
                    .trim_end_matches("</m:ItemShape>")
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(names(&shape), ["BaseShape", "AdditionalProperties"]);
        assert_eq!(shape.children[0].text, "IdOnly");
        let paths = &shape.children[1];
        let uris: Vec<&str> = paths
            .children_named(&Ns::Types, "FieldURI")
            .filter_map(|f| f.attr("FieldURI"))
            .collect();
        assert_eq!(uris, FIELD_URIS);
        for needed in [
            "calendar:UID",
            "calendar:StartTimeZone",
            "calendar:Resources",
            "calendar:ModifiedOccurrences",
            "calendar:DeletedOccurrences",
            "calendar:MyResponseType",
        ] {
            assert!(uris.contains(&needed), "{needed}");
        }
        let tag = paths.child(&Ns::Types, "ExtendedFieldURI").unwrap();
        assert_eq!(
            tag.attr("DistinguishedPropertySetId"),
            Some("PublicStrings")
        );
        assert_eq!(tag.attr("PropertyName"), Some("RoomsBookingId"));
        assert_eq!(tag.attr("PropertyType"), Some("String"));
    }
}
