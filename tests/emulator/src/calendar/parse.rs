//! Reads items and property values from requests (`CreateItem` items, `UpdateItem`
//! `SetItemField` values) into the item model, strictly, as Exchange validates them.
//!
//! - Children of `t:CalendarItem`/`t:Message` must come in schema order (`ItemType` sequence,
//!   then the type's own sequence); an unknown or misplaced element is `ErrorSchemaValidation`.
//! - Enumerations, booleans and numbers are checked (`ErrorSchemaValidation`).
//! - Read-only properties (`ItemId`, `DateTimeCreated`, `CalendarItemType`, `Organizer`, ...)
//!   are `ErrorInvalidPropertySet`.
//! - A `dateTime` without offset is read in the item's `StartTimeZone`/`EndTimeZone` if the
//!   element carries one, else in the `TimeZoneContext` header's zone, else UTC (the table of
//!   "Time zones and EWS in Exchange" for Exchange2010 and later).

use super::datetime::{parse_xs_date, parse_xs_datetime};
use super::item::{
    Attendee, AttendeeList, Body, BodyType, EmailAddress, ExtendedFieldUri, ExtendedProperty,
    ExtendedValue, FreeBusy, Importance, ResponseType, Sensitivity, validate_extended_value,
};
use super::recurrence::{
    DayOfWeek, DayOfWeekIndex, Pattern, Range, Recurrence, parse_month, parse_weekday,
};
use super::shape::parse_extended_field_uri;
use super::timezone::{TimeZoneContextKind, WindowsZone};
use crate::ews::context::OpError;
use crate::ews::dom::{Element, TYPES_NS};
use crate::ews::fault::{EwsFault, MessageXml, ResponseError};

/// A parse failure: for the whole request, or for this item only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Schema violation: SOAP fault.
    Fault(EwsFault),
    /// Semantic error: error response message for the item.
    Item(ResponseError),
}

impl From<EwsFault> for ParseError {
    fn from(f: EwsFault) -> Self {
        ParseError::Fault(f)
    }
}

impl From<ResponseError> for ParseError {
    fn from(e: ResponseError) -> Self {
        ParseError::Item(e)
    }
}

impl From<ParseError> for OpError {
    fn from(e: ParseError) -> Self {
        match e {
            ParseError::Fault(f) => OpError::Fault(f),
            ParseError::Item(e) => OpError::Item(e),
        }
    }
}

/// `ErrorInvalidPropertySet`: the property `uri` cannot be set (on this item).
pub fn read_only(uri: &str) -> ResponseError {
    ResponseError::new(
        "ErrorInvalidPropertySet",
        "Set action is invalid for property.",
    )
    .with(MessageXml::field_uri(uri))
}

/// Which item element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemElement {
    /// `t:CalendarItem`.
    Calendar,
    /// `t:Message`.
    Message,
}

/// A property path: first-class or extended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropPath {
    /// A `FieldURI`.
    Field(&'static str),
    /// An `ExtendedFieldURI`.
    Extended(ExtendedFieldUri),
}

impl PropPath {
    /// Name used in conflict bookkeeping and error messages.
    pub fn name(&self) -> String {
        match self {
            PropPath::Field(f) => (*f).to_owned(),
            PropPath::Extended(e) => e.field_name(),
        }
    }
}

/// A parsed property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    /// `ItemClass`.
    ItemClass(String),
    /// `Subject`.
    Subject(String),
    /// `Sensitivity`.
    Sensitivity(Sensitivity),
    /// `Body`.
    Body(Body),
    /// `Categories`.
    Categories(Vec<String>),
    /// `Importance`.
    Importance(Importance),
    /// `ReminderIsSet`.
    ReminderIsSet(bool),
    /// `ReminderMinutesBeforeStart`.
    ReminderMinutes(i32),
    /// An extended property.
    Extended(ExtendedProperty),
    /// `UID`.
    Uid(String),
    /// `Start`, already converted to an instant.
    Start(jiff::Timestamp),
    /// `End`, already converted to an instant.
    End(jiff::Timestamp),
    /// `IsAllDayEvent`.
    IsAllDay(bool),
    /// `LegacyFreeBusyStatus`.
    FreeBusy(FreeBusy),
    /// `Location`.
    Location(String),
    /// One of the attendee lists.
    Attendees(AttendeeList, Vec<Attendee>),
    /// `Recurrence`.
    Recurrence(Recurrence),
    /// `StartTimeZone` (or `MeetingTimeZone`).
    StartTimeZone(WindowsZone),
    /// `EndTimeZone`.
    EndTimeZone(WindowsZone),
    /// `ToRecipients`.
    ToRecipients(Vec<EmailAddress>),
    /// `From`/`Sender`.
    From(EmailAddress),
    /// `IsRead`.
    IsRead(bool),
    /// Accepted and ignored (`Culture`, `ReminderDueBy`, `ConferenceType`, ...).
    Ignored,
}

/// One property parsed from an item element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedProp {
    /// Its path.
    pub path: PropPath,
    /// Its value.
    pub value: PropValue,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Settable,
    ReadOnly,
    Ignored,
}

/// `ItemType` sequence: (element, FieldURI, kind).
const ITEM_SEQUENCE: &[(&str, &str, Kind)] = &[
    ("MimeContent", "item:MimeContent", Kind::Ignored),
    ("ItemId", "item:ItemId", Kind::ReadOnly),
    ("ParentFolderId", "item:ParentFolderId", Kind::ReadOnly),
    ("ItemClass", "item:ItemClass", Kind::Settable),
    ("Subject", "item:Subject", Kind::Settable),
    ("Sensitivity", "item:Sensitivity", Kind::Settable),
    ("Body", "item:Body", Kind::Settable),
    ("Attachments", "item:Attachments", Kind::Ignored),
    ("DateTimeReceived", "item:DateTimeReceived", Kind::ReadOnly),
    ("Size", "item:Size", Kind::ReadOnly),
    ("Categories", "item:Categories", Kind::Settable),
    ("Importance", "item:Importance", Kind::Settable),
    ("InReplyTo", "item:InReplyTo", Kind::Ignored),
    ("IsSubmitted", "item:IsSubmitted", Kind::ReadOnly),
    ("IsDraft", "item:IsDraft", Kind::ReadOnly),
    ("IsFromMe", "item:IsFromMe", Kind::ReadOnly),
    ("IsResend", "item:IsResend", Kind::ReadOnly),
    ("IsUnmodified", "item:IsUnmodified", Kind::ReadOnly),
    (
        "InternetMessageHeaders",
        "item:InternetMessageHeaders",
        Kind::ReadOnly,
    ),
    ("DateTimeSent", "item:DateTimeSent", Kind::ReadOnly),
    ("DateTimeCreated", "item:DateTimeCreated", Kind::ReadOnly),
    ("ResponseObjects", "item:ResponseObjects", Kind::ReadOnly),
    ("ReminderDueBy", "item:ReminderDueBy", Kind::Ignored),
    ("ReminderIsSet", "item:ReminderIsSet", Kind::Settable),
    ("ReminderNextTime", "item:ReminderNextTime", Kind::Ignored),
    (
        "ReminderMinutesBeforeStart",
        "item:ReminderMinutesBeforeStart",
        Kind::Settable,
    ),
    ("DisplayCc", "item:DisplayCc", Kind::ReadOnly),
    ("DisplayTo", "item:DisplayTo", Kind::ReadOnly),
    ("DisplayBcc", "item:DisplayBcc", Kind::ReadOnly),
    ("HasAttachments", "item:HasAttachments", Kind::ReadOnly),
    ("ExtendedProperty", "", Kind::Settable),
    ("Culture", "item:Culture", Kind::Ignored),
    ("EffectiveRights", "item:EffectiveRights", Kind::ReadOnly),
    ("LastModifiedName", "item:LastModifiedName", Kind::ReadOnly),
    ("LastModifiedTime", "item:LastModifiedTime", Kind::ReadOnly),
    ("IsAssociated", "item:IsAssociated", Kind::ReadOnly),
    (
        "WebClientReadFormQueryString",
        "item:WebClientReadFormQueryString",
        Kind::ReadOnly,
    ),
    (
        "WebClientEditFormQueryString",
        "item:WebClientEditFormQueryString",
        Kind::ReadOnly,
    ),
    ("ConversationId", "item:ConversationId", Kind::ReadOnly),
    ("UniqueBody", "item:UniqueBody", Kind::ReadOnly),
    ("Flag", "item:Flag", Kind::Ignored),
    ("StoreEntryId", "item:StoreEntryId", Kind::ReadOnly),
    ("InstanceKey", "item:InstanceKey", Kind::ReadOnly),
    ("NormalizedBody", "item:NormalizedBody", Kind::ReadOnly),
    (
        "EntityExtractionResult",
        "item:EntityExtractionResult",
        Kind::ReadOnly,
    ),
    ("PolicyTag", "item:PolicyTag", Kind::Ignored),
    ("ArchiveTag", "item:ArchiveTag", Kind::Ignored),
    ("RetentionDate", "item:RetentionDate", Kind::ReadOnly),
    ("Preview", "item:Preview", Kind::ReadOnly),
    ("RightsManagementLicenseData", "", Kind::ReadOnly),
    ("PredictedActionReasons", "", Kind::ReadOnly),
    ("IsClutter", "", Kind::ReadOnly),
    ("TextBody", "item:TextBody", Kind::ReadOnly),
    ("IconIndex", "item:IconIndex", Kind::ReadOnly),
];

/// `CalendarItemType` sequence (after `ItemType`).
const CALENDAR_SEQUENCE: &[(&str, &str, Kind)] = &[
    ("UID", "calendar:UID", Kind::Settable),
    ("RecurrenceId", "calendar:RecurrenceId", Kind::ReadOnly),
    ("DateTimeStamp", "calendar:DateTimeStamp", Kind::ReadOnly),
    ("Start", "calendar:Start", Kind::Settable),
    ("End", "calendar:End", Kind::Settable),
    ("OriginalStart", "calendar:OriginalStart", Kind::ReadOnly),
    ("IsAllDayEvent", "calendar:IsAllDayEvent", Kind::Settable),
    (
        "LegacyFreeBusyStatus",
        "calendar:LegacyFreeBusyStatus",
        Kind::Settable,
    ),
    ("Location", "calendar:Location", Kind::Settable),
    ("When", "calendar:When", Kind::Ignored),
    ("IsMeeting", "calendar:IsMeeting", Kind::ReadOnly),
    ("IsCancelled", "calendar:IsCancelled", Kind::ReadOnly),
    ("IsRecurring", "calendar:IsRecurring", Kind::ReadOnly),
    (
        "MeetingRequestWasSent",
        "calendar:MeetingRequestWasSent",
        Kind::ReadOnly,
    ),
    (
        "IsResponseRequested",
        "calendar:IsResponseRequested",
        Kind::Ignored,
    ),
    (
        "CalendarItemType",
        "calendar:CalendarItemType",
        Kind::ReadOnly,
    ),
    ("MyResponseType", "calendar:MyResponseType", Kind::ReadOnly),
    ("Organizer", "calendar:Organizer", Kind::ReadOnly),
    (
        "RequiredAttendees",
        "calendar:RequiredAttendees",
        Kind::Settable,
    ),
    (
        "OptionalAttendees",
        "calendar:OptionalAttendees",
        Kind::Settable,
    ),
    ("Resources", "calendar:Resources", Kind::Settable),
    (
        "ConflictingMeetingCount",
        "calendar:ConflictingMeetingCount",
        Kind::ReadOnly,
    ),
    (
        "AdjacentMeetingCount",
        "calendar:AdjacentMeetingCount",
        Kind::ReadOnly,
    ),
    (
        "ConflictingMeetings",
        "calendar:ConflictingMeetings",
        Kind::ReadOnly,
    ),
    (
        "AdjacentMeetings",
        "calendar:AdjacentMeetings",
        Kind::ReadOnly,
    ),
    ("Duration", "calendar:Duration", Kind::ReadOnly),
    ("TimeZone", "calendar:TimeZone", Kind::ReadOnly),
    (
        "AppointmentReplyTime",
        "calendar:AppointmentReplyTime",
        Kind::ReadOnly,
    ),
    (
        "AppointmentSequenceNumber",
        "calendar:AppointmentSequenceNumber",
        Kind::ReadOnly,
    ),
    (
        "AppointmentState",
        "calendar:AppointmentState",
        Kind::ReadOnly,
    ),
    ("Recurrence", "calendar:Recurrence", Kind::Settable),
    (
        "FirstOccurrence",
        "calendar:FirstOccurrence",
        Kind::ReadOnly,
    ),
    ("LastOccurrence", "calendar:LastOccurrence", Kind::ReadOnly),
    (
        "ModifiedOccurrences",
        "calendar:ModifiedOccurrences",
        Kind::ReadOnly,
    ),
    (
        "DeletedOccurrences",
        "calendar:DeletedOccurrences",
        Kind::ReadOnly,
    ),
    (
        "MeetingTimeZone",
        "calendar:MeetingTimeZone",
        Kind::Settable,
    ),
    ("StartTimeZone", "calendar:StartTimeZone", Kind::Settable),
    ("EndTimeZone", "calendar:EndTimeZone", Kind::Settable),
    ("ConferenceType", "calendar:ConferenceType", Kind::Ignored),
    (
        "AllowNewTimeProposal",
        "calendar:AllowNewTimeProposal",
        Kind::Ignored,
    ),
    ("IsOnlineMeeting", "calendar:IsOnlineMeeting", Kind::Ignored),
    (
        "MeetingWorkspaceUrl",
        "calendar:MeetingWorkspaceUrl",
        Kind::Ignored,
    ),
    ("NetShowUrl", "calendar:NetShowUrl", Kind::Ignored),
    (
        "EnhancedLocation",
        "calendar:EnhancedLocation",
        Kind::Ignored,
    ),
    ("StartWallClock", "calendar:StartWallClock", Kind::ReadOnly),
    ("EndWallClock", "calendar:EndWallClock", Kind::ReadOnly),
    (
        "StartTimeZoneId",
        "calendar:StartTimeZoneId",
        Kind::ReadOnly,
    ),
    ("EndTimeZoneId", "calendar:EndTimeZoneId", Kind::ReadOnly),
    ("IntendedFreeBusyStatus", "", Kind::Ignored),
    (
        "JoinOnlineMeetingUrl",
        "calendar:JoinOnlineMeetingUrl",
        Kind::ReadOnly,
    ),
    (
        "OnlineMeetingSettings",
        "calendar:OnlineMeetingSettings",
        Kind::ReadOnly,
    ),
    ("IsOrganizer", "calendar:IsOrganizer", Kind::ReadOnly),
];

/// `MessageType` sequence (after `ItemType`).
const MESSAGE_SEQUENCE: &[(&str, &str, Kind)] = &[
    ("Sender", "message:Sender", Kind::Settable),
    ("ToRecipients", "message:ToRecipients", Kind::Settable),
    ("CcRecipients", "message:CcRecipients", Kind::Ignored),
    ("BccRecipients", "message:BccRecipients", Kind::Ignored),
    (
        "IsReadReceiptRequested",
        "message:IsReadReceiptRequested",
        Kind::Ignored,
    ),
    (
        "IsDeliveryReceiptRequested",
        "message:IsDeliveryReceiptRequested",
        Kind::Ignored,
    ),
    (
        "ConversationIndex",
        "message:ConversationIndex",
        Kind::ReadOnly,
    ),
    (
        "ConversationTopic",
        "message:ConversationTopic",
        Kind::ReadOnly,
    ),
    ("From", "message:From", Kind::Settable),
    (
        "InternetMessageId",
        "message:InternetMessageId",
        Kind::Ignored,
    ),
    ("IsRead", "message:IsRead", Kind::Settable),
    (
        "IsResponseRequested",
        "message:IsResponseRequested",
        Kind::Ignored,
    ),
    ("References", "message:References", Kind::Ignored),
    ("ReplyTo", "message:ReplyTo", Kind::Ignored),
    ("ReceivedBy", "message:ReceivedBy", Kind::ReadOnly),
    (
        "ReceivedRepresenting",
        "message:ReceivedRepresenting",
        Kind::ReadOnly,
    ),
];

fn sequence(
    element: ItemElement,
) -> impl Iterator<Item = &'static (&'static str, &'static str, Kind)> {
    let own = match element {
        ItemElement::Calendar => CALENDAR_SEQUENCE,
        ItemElement::Message => MESSAGE_SEQUENCE,
    };
    ITEM_SEQUENCE.iter().chain(own.iter())
}

/// The field URI an element name stands for in an item element ("" for `ExtendedProperty`).
pub fn field_uri_of(element: ItemElement, name: &str) -> Option<&'static str> {
    sequence(element)
        .find(|(n, _, _)| *n == name)
        .map(|(_, uri, _)| *uri)
}

/// Where unspecified times are read.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// The `TimeZoneContext` zone, or UTC.
    pub zone: WindowsZone,
}

impl TimeContext {
    /// Reads `t:TimeZoneContext/t:TimeZoneDefinition/@Id` from the SOAP header (UTC when absent).
    pub fn from_header(header: Option<&Element>) -> Result<TimeContext, ResponseError> {
        let Some(definition) = header
            .and_then(|h| h.t("TimeZoneContext"))
            .and_then(|c| c.t("TimeZoneDefinition"))
        else {
            return Ok(TimeContext {
                zone: WindowsZone::utc(),
            });
        };
        let id = definition.attr("Id").unwrap_or("");
        let zone = WindowsZone::lookup(id, TimeZoneContextKind::RequestHeader).map_err(|e| {
            ResponseError::new(e.response_code(), "The time zone isn't valid.")
                .with(MessageXml::value("TimeZoneId", id))
        })?;
        Ok(TimeContext { zone })
    }
}

fn schema_value(el: &Element, type_name: &str) -> EwsFault {
    EwsFault::schema(
        el,
        &format!(
            "The '{TYPES_NS}:{}' element is invalid - The value '{}' is invalid according to its datatype '{type_name}'.",
            el.name,
            el.trimmed_text()
        ),
    )
}

/// Parses `xs:boolean`.
pub fn parse_bool(el: &Element) -> Result<bool, EwsFault> {
    match el.trimmed_text() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(schema_value(el, "http://www.w3.org/2001/XMLSchema:boolean")),
    }
}

fn parse_int(el: &Element) -> Result<i32, EwsFault> {
    el.trimmed_text()
        .parse()
        .map_err(|_| schema_value(el, "http://www.w3.org/2001/XMLSchema:int"))
}

fn parse_enum<T>(
    el: &Element,
    type_name: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<T, EwsFault> {
    f(el.trimmed_text()).ok_or_else(|| {
        EwsFault::schema(
            el,
            &format!(
                "The '{TYPES_NS}:{}' element is invalid - The value '{}' is invalid according to its datatype '{TYPES_NS}:{type_name}' - The Enumeration constraint failed.",
                el.name,
                el.trimmed_text()
            ),
        )
    })
}

fn only_types_children(el: &Element) -> Result<(), EwsFault> {
    match el.children.iter().find(|c| c.namespace != TYPES_NS) {
        Some(bad) => Err(EwsFault::unexpected_child(el, bad)),
        None => Ok(()),
    }
}

/// Parses a `t:Mailbox` (or `EmailAddressType`-shaped) element.
pub fn parse_email_address(el: &Element) -> Result<EmailAddress, ParseError> {
    only_types_children(el)?;
    let email = el
        .t("EmailAddress")
        .map(|e| e.trimmed_text().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ResponseError::new(
                "ErrorMissingInformationEmailAddress",
                "An e-mail address is required for each recipient and attendee.",
            )
        })?;
    Ok(EmailAddress {
        name: el
            .t("Name")
            .map(|n| n.trimmed_text().to_owned())
            .filter(|n| !n.is_empty()),
        email,
        routing_type: el.t("RoutingType").map(|r| r.trimmed_text().to_owned()),
        mailbox_type: el.t("MailboxType").map(|r| r.trimmed_text().to_owned()),
    })
}

fn parse_attendees(el: &Element) -> Result<Vec<Attendee>, ParseError> {
    let mut attendees = Vec::new();
    for child in &el.children {
        if !child.is(TYPES_NS, "Attendee") {
            return Err(EwsFault::unexpected_child(el, child).into());
        }
        let mailbox = child
            .t("Mailbox")
            .ok_or_else(|| EwsFault::missing_child(child, TYPES_NS, "Mailbox"))?;
        let response_type = match child.t("ResponseType") {
            Some(r) => parse_enum(r, "ResponseTypeType", ResponseType::parse)?,
            None => ResponseType::Unknown,
        };
        attendees.push(Attendee {
            mailbox: parse_email_address(mailbox)?,
            response_type,
            last_response_time: None,
        });
    }
    Ok(attendees)
}

fn parse_time_zone(el: &Element) -> Result<WindowsZone, ParseError> {
    let id = el
        .attr("Id")
        .or_else(|| el.attr("TimeZoneName"))
        .unwrap_or("")
        .to_owned();
    WindowsZone::lookup(&id, TimeZoneContextKind::CalendarItem).map_err(|e| {
        ParseError::Item(
            ResponseError::new(e.response_code(), "Time zone is invalid.")
                .with(MessageXml::value("TimeZoneId", &id)),
        )
    })
}

fn required_child<'a>(el: &'a Element, name: &str) -> Result<&'a Element, EwsFault> {
    el.t(name)
        .ok_or_else(|| EwsFault::missing_child(el, TYPES_NS, name))
}

fn parse_interval(el: &Element) -> Result<u32, EwsFault> {
    let interval = required_child(el, "Interval")?;
    interval
        .trimmed_text()
        .parse()
        .map_err(|_| schema_value(interval, "http://www.w3.org/2001/XMLSchema:int"))
}

fn parse_day_of_month(el: &Element) -> Result<i8, EwsFault> {
    let day = required_child(el, "DayOfMonth")?;
    day.trimmed_text()
        .parse::<i64>()
        .map(|d| d.clamp(-1, 127) as i8)
        .map_err(|_| schema_value(day, "http://www.w3.org/2001/XMLSchema:int"))
}

/// Parses `t:Recurrence`.
pub fn parse_recurrence(el: &Element) -> Result<Recurrence, ParseError> {
    only_types_children(el)?;
    let mut pattern = None;
    let mut range = None;
    for child in &el.children {
        match child.name.as_str() {
            "DailyRecurrence" => {
                pattern = Some(Pattern::Daily {
                    interval: parse_interval(child)?,
                })
            }
            "WeeklyRecurrence" => {
                let days_el = required_child(child, "DaysOfWeek")?;
                let mut days = Vec::new();
                for word in days_el.trimmed_text().split_whitespace() {
                    match DayOfWeek::parse(word) {
                        Some(DayOfWeek::Named(day)) => days.push(day),
                        Some(_) => {
                            return Err(ParseError::Item(ResponseError::new(
                                "ErrorCalendarInvalidDayForWeeklyRecurrence",
                                "Day, Weekday and WeekendDay are not valid days of a weekly recurrence.",
                            )));
                        }
                        None => {
                            return Err(schema_value(
                                days_el,
                                &format!("{TYPES_NS}:DaysOfWeekType"),
                            )
                            .into());
                        }
                    }
                }
                let first_day_of_week = match child.t("FirstDayOfWeek") {
                    Some(f) => parse_enum(f, "DayOfWeekType", parse_weekday)?,
                    None => jiff::civil::Weekday::Sunday,
                };
                pattern = Some(Pattern::Weekly {
                    interval: parse_interval(child)?,
                    days,
                    first_day_of_week,
                });
            }
            "AbsoluteMonthlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteMonthly {
                    interval: parse_interval(child)?,
                    day_of_month: parse_day_of_month(child)?,
                })
            }
            "RelativeMonthlyRecurrence" => {
                pattern = Some(Pattern::RelativeMonthly {
                    interval: parse_interval(child)?,
                    day: parse_enum(
                        required_child(child, "DaysOfWeek")?,
                        "DayOfWeekType",
                        DayOfWeek::parse,
                    )?,
                    index: parse_enum(
                        required_child(child, "DayOfWeekIndex")?,
                        "DayOfWeekIndexType",
                        DayOfWeekIndex::parse,
                    )?,
                })
            }
            "AbsoluteYearlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteYearly {
                    day_of_month: parse_day_of_month(child)?,
                    month: parse_enum(
                        required_child(child, "Month")?,
                        "MonthNamesType",
                        parse_month,
                    )?,
                })
            }
            "RelativeYearlyRecurrence" => {
                pattern = Some(Pattern::RelativeYearly {
                    day: parse_enum(
                        required_child(child, "DaysOfWeek")?,
                        "DayOfWeekType",
                        DayOfWeek::parse,
                    )?,
                    index: parse_enum(
                        required_child(child, "DayOfWeekIndex")?,
                        "DayOfWeekIndexType",
                        DayOfWeekIndex::parse,
                    )?,
                    month: parse_enum(
                        required_child(child, "Month")?,
                        "MonthNamesType",
                        parse_month,
                    )?,
                })
            }
            "NoEndRecurrence" | "EndDateRecurrence" | "NumberedRecurrence" => {
                let start_el = required_child(child, "StartDate")?;
                let start = parse_xs_date(start_el.trimmed_text())
                    .map_err(|e| EwsFault::schema(start_el, &e.to_string()))?;
                range = Some(match child.name.as_str() {
                    "NoEndRecurrence" => Range::NoEnd { start },
                    "EndDateRecurrence" => {
                        let end_el = required_child(child, "EndDate")?;
                        let end = parse_xs_date(end_el.trimmed_text())
                            .map_err(|e| EwsFault::schema(end_el, &e.to_string()))?;
                        Range::EndDate { start, end }
                    }
                    _ => {
                        let count_el = required_child(child, "NumberOfOccurrences")?;
                        let count = count_el.trimmed_text().parse::<i64>().map_err(|_| {
                            schema_value(count_el, "http://www.w3.org/2001/XMLSchema:int")
                        })?;
                        if !(1..=999).contains(&count) {
                            return Err(ParseError::Item(ResponseError::new(
                                "ErrorCalendarOutOfRange",
                                &format!(
                                    "NumberOfOccurrences {count} is out of range; allowed is 1..=999."
                                ),
                            )));
                        }
                        Range::Numbered {
                            start,
                            count: count as u32,
                        }
                    }
                });
            }
            _ => return Err(EwsFault::unexpected_child(el, child).into()),
        }
    }
    let pattern =
        pattern.ok_or_else(|| EwsFault::missing_child(el, TYPES_NS, "WeeklyRecurrence"))?;
    let range = range.ok_or_else(|| EwsFault::missing_child(el, TYPES_NS, "NoEndRecurrence"))?;
    let recurrence = Recurrence { pattern, range };
    recurrence
        .validate()
        .map_err(|e| ParseError::Item(ResponseError::new(e.response_code(), &format!("{e}."))))?;
    Ok(recurrence)
}

/// Parses `t:ExtendedProperty`.
pub fn parse_extended_property(el: &Element) -> Result<ExtendedProperty, ParseError> {
    only_types_children(el)?;
    let uri_el = required_child(el, "ExtendedFieldURI")?;
    let uri = parse_extended_field_uri(uri_el)?;
    let value = match (el.t("Value"), el.t("Values")) {
        (Some(v), None) if !uri.is_array() => ExtendedValue::Single(v.text.clone()),
        (None, Some(vs)) if uri.is_array() => ExtendedValue::Multi(
            vs.children_named(TYPES_NS, "Value")
                .map(|v| v.text.clone())
                .collect(),
        ),
        (None, None) => return Err(EwsFault::missing_child(el, TYPES_NS, "Value").into()),
        _ => {
            return Err(ParseError::Item(ResponseError::new(
                "ErrorInvalidExtendedPropertyValue",
                "The extended property value does not match its type: use Value for single-valued and Values for ...Array types.",
            )));
        }
    };
    let values: Vec<&str> = match &value {
        ExtendedValue::Single(v) => vec![v.as_str()],
        ExtendedValue::Multi(vs) => vs.iter().map(String::as_str).collect(),
    };
    for v in values {
        validate_extended_value(uri.property_type(), v).map_err(|why| {
            ParseError::Item(ResponseError::new(
                "ErrorInvalidExtendedPropertyValue",
                &format!("Extended property value is invalid: {why}."),
            ))
        })?;
    }
    Ok(ExtendedProperty { uri, value })
}

/// Parses the children of an item element (`t:CalendarItem` or `t:Message`) in schema order.
pub fn parse_item(
    el: &Element,
    element: ItemElement,
    time: &TimeContext,
) -> Result<Vec<ParsedProp>, ParseError> {
    let order: Vec<&(&str, &str, Kind)> = sequence(element).collect();
    let mut last_index: Option<usize> = None;
    let mut props = Vec::new();
    let mut start_raw: Option<&Element> = None;
    let mut end_raw: Option<&Element> = None;
    let mut start_zone: Option<WindowsZone> = None;
    let mut end_zone: Option<WindowsZone> = None;
    for child in &el.children {
        if child.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(el, child).into());
        }
        let Some(index) = order.iter().position(|(name, _, _)| *name == child.name) else {
            return Err(EwsFault::unexpected_child(el, child).into());
        };
        let repeatable = child.name == "ExtendedProperty";
        if let Some(last) = last_index
            && (index < last || (index == last && !repeatable))
        {
            return Err(EwsFault::unexpected_child(el, child).into());
        }
        last_index = Some(index);
        let (name, uri, kind) = *order[index];
        match kind {
            Kind::ReadOnly => return Err(ParseError::Item(read_only(uri))),
            Kind::Ignored => {
                props.push(ParsedProp {
                    path: PropPath::Field(uri),
                    value: PropValue::Ignored,
                });
                continue;
            }
            Kind::Settable => {}
        }
        let value = match name {
            "ItemClass" => PropValue::ItemClass(child.trimmed_text().to_owned()),
            "Subject" => PropValue::Subject(child.text.clone()),
            "Sensitivity" => PropValue::Sensitivity(parse_enum(
                child,
                "SensitivityChoicesType",
                Sensitivity::parse,
            )?),
            "Body" => {
                let body_type = child
                    .attr("BodyType")
                    .ok_or_else(|| EwsFault::missing_attribute(child, "BodyType"))?;
                let body_type = BodyType::parse(body_type).ok_or_else(|| {
                    EwsFault::invalid_enum(child, "BodyType", body_type, "BodyTypeType")
                })?;
                PropValue::Body(Body {
                    body_type,
                    content: child.text.clone(),
                })
            }
            "Categories" => {
                only_types_children(child)?;
                PropValue::Categories(
                    child
                        .children_named(TYPES_NS, "String")
                        .map(|s| s.text.clone())
                        .collect(),
                )
            }
            "Importance" => PropValue::Importance(parse_enum(
                child,
                "ImportanceChoicesType",
                Importance::parse,
            )?),
            "ReminderIsSet" => PropValue::ReminderIsSet(parse_bool(child)?),
            "ReminderMinutesBeforeStart" => PropValue::ReminderMinutes(parse_int(child)?),
            "ExtendedProperty" => {
                let property = parse_extended_property(child)?;
                props.push(ParsedProp {
                    path: PropPath::Extended(property.uri.clone()),
                    value: PropValue::Extended(property),
                });
                continue;
            }
            "UID" => PropValue::Uid(child.trimmed_text().to_owned()),
            "Start" => {
                start_raw = Some(child);
                continue;
            }
            "End" => {
                end_raw = Some(child);
                continue;
            }
            "IsAllDayEvent" => PropValue::IsAllDay(parse_bool(child)?),
            "LegacyFreeBusyStatus" => {
                PropValue::FreeBusy(parse_enum(child, "LegacyFreeBusyType", FreeBusy::parse)?)
            }
            "Location" => PropValue::Location(child.text.clone()),
            "RequiredAttendees" => {
                PropValue::Attendees(AttendeeList::Required, parse_attendees(child)?)
            }
            "OptionalAttendees" => {
                PropValue::Attendees(AttendeeList::Optional, parse_attendees(child)?)
            }
            "Resources" => PropValue::Attendees(AttendeeList::Resources, parse_attendees(child)?),
            "Recurrence" => PropValue::Recurrence(parse_recurrence(child)?),
            "MeetingTimeZone" | "StartTimeZone" => {
                let zone = parse_time_zone(child)?;
                start_zone = Some(zone.clone());
                PropValue::StartTimeZone(zone)
            }
            "EndTimeZone" => {
                let zone = parse_time_zone(child)?;
                end_zone = Some(zone.clone());
                PropValue::EndTimeZone(zone)
            }
            "ToRecipients" => {
                only_types_children(child)?;
                let mut to = Vec::new();
                for mailbox in &child.children {
                    to.push(parse_email_address(mailbox)?);
                }
                PropValue::ToRecipients(to)
            }
            "From" | "Sender" => {
                let mailbox = required_child(child, "Mailbox")?;
                PropValue::From(parse_email_address(mailbox)?)
            }
            "IsRead" => PropValue::IsRead(parse_bool(child)?),
            _ => PropValue::Ignored,
        };
        props.push(ParsedProp {
            path: PropPath::Field(uri),
            value,
        });
    }
    let time_of =
        |raw: &Element, zone: Option<&WindowsZone>| -> Result<jiff::Timestamp, ParseError> {
            let zone = zone.unwrap_or(&time.zone);
            parse_xs_datetime(raw.trimmed_text(), zone)
                .map_err(|e| ParseError::Fault(EwsFault::schema(raw, &e.to_string())))
        };
    if let Some(raw) = start_raw {
        props.push(ParsedProp {
            path: PropPath::Field("calendar:Start"),
            value: PropValue::Start(time_of(raw, start_zone.as_ref())?),
        });
    }
    if let Some(raw) = end_raw {
        props.push(ParsedProp {
            path: PropPath::Field("calendar:End"),
            value: PropValue::End(time_of(raw, end_zone.as_ref().or(start_zone.as_ref()))?),
        });
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::dom::parse;

    fn item(xml: &str) -> Result<Vec<ParsedProp>, ParseError> {
        let doc = format!("<t:CalendarItem xmlns:t=\"{TYPES_NS}\">{xml}</t:CalendarItem>");
        let el = parse(doc.as_bytes()).unwrap();
        parse_item(
            &el,
            ItemElement::Calendar,
            &TimeContext {
                zone: WindowsZone::utc(),
            },
        )
    }

    fn value_of<'a>(props: &'a [ParsedProp], uri: &str) -> &'a PropValue {
        &props
            .iter()
            .find(|p| p.path == PropPath::Field(canonical(uri)))
            .unwrap()
            .value
    }

    fn canonical(uri: &str) -> &'static str {
        crate::calendar::shape::canonical_field_uri(uri).unwrap()
    }

    #[test]
    fn parses_the_create_item_fixture_body() {
        let props = item(
            "<t:Subject>Planning Meeting</t:Subject><t:Body BodyType=\"Text\">Plan the agenda.</t:Body><t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderMinutesBeforeStart>60</t:ReminderMinutesBeforeStart><t:Start>2006-11-02T14:00:00</t:Start><t:End>2006-11-02T15:00:00</t:End><t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus><t:Location>Conference Room 721</t:Location><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>User1@example.com</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees>",
        )
        .unwrap();
        assert_eq!(
            value_of(&props, "item:Subject"),
            &PropValue::Subject("Planning Meeting".into())
        );
        assert_eq!(
            value_of(&props, "calendar:Start"),
            &PropValue::Start("2006-11-02T14:00:00Z".parse().unwrap())
        );
        assert!(
            matches!(value_of(&props, "calendar:RequiredAttendees"), PropValue::Attendees(AttendeeList::Required, a) if a.len() == 1)
        );
    }

    #[test]
    fn start_time_zone_applies_to_times_without_offset() {
        let props = item(
            "<t:Start>2026-01-12T09:00:00</t:Start><t:End>2026-01-12T10:00:00</t:End><t:StartTimeZone Id=\"W. Europe Standard Time\"/>",
        )
        .unwrap();
        assert_eq!(
            value_of(&props, "calendar:Start"),
            &PropValue::Start("2026-01-12T08:00:00Z".parse().unwrap())
        );
        assert_eq!(
            value_of(&props, "calendar:End"),
            &PropValue::End("2026-01-12T09:00:00Z".parse().unwrap())
        );
    }

    #[test]
    fn rejects_out_of_order_unknown_and_read_only_elements() {
        let out_of_order = item("<t:Location>x</t:Location><t:Subject>y</t:Subject>").unwrap_err();
        assert!(matches!(out_of_order, ParseError::Fault(f) if f.code == "ErrorSchemaValidation"));
        let unknown = item("<t:Colour>red</t:Colour>").unwrap_err();
        assert!(matches!(unknown, ParseError::Fault(f) if f.code == "ErrorSchemaValidation"));
        let read_only = item("<t:CalendarItemType>Single</t:CalendarItemType>").unwrap_err();
        assert!(matches!(read_only, ParseError::Item(e) if e.code == "ErrorInvalidPropertySet"));
        let twice = item("<t:Subject>a</t:Subject><t:Subject>b</t:Subject>").unwrap_err();
        assert!(matches!(twice, ParseError::Fault(_)));
        let bad_bool = item("<t:IsAllDayEvent>yes</t:IsAllDayEvent>").unwrap_err();
        assert!(matches!(bad_bool, ParseError::Fault(_)));
    }

    #[test]
    fn unknown_time_zones_are_calendar_errors() {
        let err = item("<t:StartTimeZone Id=\"Europe/Berlin\"/>").unwrap_err();
        assert!(matches!(err, ParseError::Item(e) if e.code == "ErrorCalendarInvalidTimeZone"));
    }

    #[test]
    fn parses_recurrences_and_extended_properties() {
        let props = item(
            "<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId=\"PublicStrings\" PropertyName=\"RoomsBookingId\" PropertyType=\"String\"/><t:Value>B-1</t:Value></t:ExtendedProperty><t:Start>2026-01-05T09:00:00Z</t:Start><t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek></t:WeeklyRecurrence><t:NumberedRecurrence><t:StartDate>2026-01-05</t:StartDate><t:NumberOfOccurrences>10</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>",
        )
        .unwrap();
        assert!(props.iter().any(|p| matches!(&p.value, PropValue::Extended(e) if e.value == ExtendedValue::Single("B-1".into()))));
        assert!(
            matches!(value_of(&props, "calendar:Recurrence"), PropValue::Recurrence(r) if matches!(&r.pattern, Pattern::Weekly { days, .. } if days.len() == 2))
        );
        let weekly_day = item(
            "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2026-01-05</t:StartDate></t:NoEndRecurrence></t:Recurrence>",
        )
        .unwrap_err();
        assert!(
            matches!(weekly_day, ParseError::Item(e) if e.code == "ErrorCalendarInvalidDayForWeeklyRecurrence")
        );
        let bad_int = item(
            "<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag=\"0x8001\" PropertyType=\"Integer\"/><t:Value>abc</t:Value></t:ExtendedProperty>",
        )
        .unwrap_err();
        assert!(
            matches!(bad_int, ParseError::Item(e) if e.code == "ErrorInvalidExtendedPropertyValue")
        );
    }
}
