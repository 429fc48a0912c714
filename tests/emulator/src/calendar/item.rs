//! The item model of the emulated mailbox store: calendar items, plain messages and meeting
//! messages, with the properties EWS exposes for them.
//!
//! Every item carries the store-level bookkeeping Exchange keeps (a per-mailbox change number
//! that becomes the `ChangeKey`, creation and modification times, the folder it lives in) and,
//! for conflict detection in `UpdateItem`, the change number at which each property last
//! changed ([`Item::field_versions`]).
//!
//! Calendar data lives in [`CalendarItem`]. A recurring master keeps its exceptions (modified
//! occurrences, each a full [`Item`] of type `Exception`) and its deleted occurrences keyed by
//! the occurrence's original start, as Exchange stores them as attachments of the master.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::recurrence::Recurrence;
use super::timezone::WindowsZone;

/// A store-wide item serial number (the emulator's entry id).
pub type ItemKey = u64;

/// The distinguished folders the emulator keeps per mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FolderKind {
    /// `msgfolderroot` / `root`: holds no items in the emulator.
    Root,
    /// `calendar`.
    Calendar,
    /// `drafts`.
    Drafts,
    /// `inbox`: meeting requests and cancellations are delivered here.
    Inbox,
    /// `deleteditems`: target of `MoveToDeletedItems`.
    DeletedItems,
    /// `sentitems`: copies of sent meeting requests (`SendToAllAndSaveCopy`).
    SentItems,
}

impl FolderKind {
    /// All folders, in index order.
    pub const ALL: [FolderKind; 6] = [
        FolderKind::Root,
        FolderKind::Calendar,
        FolderKind::Drafts,
        FolderKind::Inbox,
        FolderKind::DeletedItems,
        FolderKind::SentItems,
    ];

    /// Parses a `DistinguishedFolderId/@Id` value this emulator models.
    pub fn from_distinguished(id: &str) -> Option<FolderKind> {
        Some(match id {
            "root" | "msgfolderroot" => FolderKind::Root,
            "calendar" => FolderKind::Calendar,
            "drafts" => FolderKind::Drafts,
            "inbox" => FolderKind::Inbox,
            "deleteditems" => FolderKind::DeletedItems,
            "sentitems" => FolderKind::SentItems,
            _ => return None,
        })
    }

    /// The `DistinguishedFolderId/@Id` value.
    pub fn distinguished_id(self) -> &'static str {
        match self {
            FolderKind::Root => "msgfolderroot",
            FolderKind::Calendar => "calendar",
            FolderKind::Drafts => "drafts",
            FolderKind::Inbox => "inbox",
            FolderKind::DeletedItems => "deleteditems",
            FolderKind::SentItems => "sentitems",
        }
    }

    /// Index into per-folder arrays.
    pub fn index(self) -> usize {
        match self {
            FolderKind::Root => 0,
            FolderKind::Calendar => 1,
            FolderKind::Drafts => 2,
            FolderKind::Inbox => 3,
            FolderKind::DeletedItems => 4,
            FolderKind::SentItems => 5,
        }
    }

    /// The folder's display name in an English mailbox.
    pub fn display_name(self) -> &'static str {
        match self {
            FolderKind::Root => "Top of Information Store",
            FolderKind::Calendar => "Calendar",
            FolderKind::Drafts => "Drafts",
            FolderKind::Inbox => "Inbox",
            FolderKind::DeletedItems => "Deleted Items",
            FolderKind::SentItems => "Sent Items",
        }
    }
}

/// `BodyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// Plain text.
    Text,
    /// HTML.
    Html,
}

impl BodyType {
    /// Parses `Text`, `HTML` (and `Best`, which the caller resolves) from the schema.
    pub fn parse(text: &str) -> Option<BodyType> {
        match text {
            "Text" => Some(BodyType::Text),
            "HTML" => Some(BodyType::Html),
            _ => None,
        }
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyType::Text => "Text",
            BodyType::Html => "HTML",
        }
    }
}

/// An item body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// How `content` is encoded.
    pub body_type: BodyType,
    /// The text.
    pub content: String,
}

impl Default for Body {
    fn default() -> Self {
        Body {
            body_type: BodyType::Text,
            content: String::new(),
        }
    }
}

impl Body {
    /// The body converted to `target`: HTML is wrapped/unwrapped the way Exchange does it
    /// (tags stripped and entities decoded for text; text escaped and wrapped for HTML).
    pub fn converted(&self, target: BodyType) -> Body {
        let content = match (self.body_type, target) {
            (a, b) if a == b => self.content.clone(),
            (BodyType::Text, BodyType::Html) => {
                let escaped = self
                    .content
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace("\r\n", "<br>")
                    .replace('\n', "<br>");
                format!(
                    "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{escaped}\r\n</body>\r\n</html>\r\n"
                )
            }
            (_, _) => html_to_text(&self.content),
        };
        Body {
            body_type: target,
            content,
        }
    }
}

fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let body = match (lower.find("<body"), lower.rfind("</body>")) {
        (Some(start), Some(end)) if start < end => {
            let open_end = lower[start..]
                .find('>')
                .map(|i| start + i + 1)
                .unwrap_or(start);
            &html[open_end.min(end)..end]
        }
        _ => html,
    };
    let mut out = String::with_capacity(body.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for ch in body.chars() {
        match (in_tag, ch) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(name.as_str(), "br" | "br/" | "p" | "div" | "li" | "tr") {
                    out.push_str("\r\n");
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// `Sensitivity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sensitivity {
    /// Normal.
    #[default]
    Normal,
    /// Personal.
    Personal,
    /// Private: hidden from delegates without `CanViewPrivateItems`.
    Private,
    /// Confidential.
    Confidential,
}

impl Sensitivity {
    /// Parses the schema value.
    pub fn parse(text: &str) -> Option<Sensitivity> {
        Some(match text {
            "Normal" => Sensitivity::Normal,
            "Personal" => Sensitivity::Personal,
            "Private" => Sensitivity::Private,
            "Confidential" => Sensitivity::Confidential,
            _ => return None,
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Normal => "Normal",
            Sensitivity::Personal => "Personal",
            Sensitivity::Private => "Private",
            Sensitivity::Confidential => "Confidential",
        }
    }
}

/// `Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Importance {
    /// Low.
    Low,
    /// Normal.
    #[default]
    Normal,
    /// High.
    High,
}

impl Importance {
    /// Parses the schema value.
    pub fn parse(text: &str) -> Option<Importance> {
        Some(match text {
            "Low" => Importance::Low,
            "Normal" => Importance::Normal,
            "High" => Importance::High,
            _ => return None,
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            Importance::Low => "Low",
            Importance::Normal => "Normal",
            Importance::High => "High",
        }
    }
}

/// `LegacyFreeBusyStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreeBusy {
    /// Free.
    Free,
    /// Tentative.
    Tentative,
    /// Busy.
    #[default]
    Busy,
    /// Out of office.
    Oof,
    /// Working elsewhere.
    WorkingElsewhere,
    /// No data.
    NoData,
}

impl FreeBusy {
    /// Parses the schema value.
    pub fn parse(text: &str) -> Option<FreeBusy> {
        Some(match text {
            "Free" => FreeBusy::Free,
            "Tentative" => FreeBusy::Tentative,
            "Busy" => FreeBusy::Busy,
            "OOF" => FreeBusy::Oof,
            "WorkingElsewhere" => FreeBusy::WorkingElsewhere,
            "NoData" => FreeBusy::NoData,
            _ => return None,
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            FreeBusy::Free => "Free",
            FreeBusy::Tentative => "Tentative",
            FreeBusy::Busy => "Busy",
            FreeBusy::Oof => "OOF",
            FreeBusy::WorkingElsewhere => "WorkingElsewhere",
            FreeBusy::NoData => "NoData",
        }
    }
}

/// `ResponseType` of an attendee (and `MyResponseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// Unknown.
    #[default]
    Unknown,
    /// The organizer.
    Organizer,
    /// Tentatively accepted.
    Tentative,
    /// Accepted.
    Accept,
    /// Declined.
    Decline,
    /// No response yet.
    NoResponseReceived,
}

impl ResponseType {
    /// Parses the schema value.
    pub fn parse(text: &str) -> Option<ResponseType> {
        Some(match text {
            "Unknown" => ResponseType::Unknown,
            "Organizer" => ResponseType::Organizer,
            "Tentative" => ResponseType::Tentative,
            "Accept" => ResponseType::Accept,
            "Decline" => ResponseType::Decline,
            "NoResponseReceived" => ResponseType::NoResponseReceived,
            _ => return None,
        })
    }

    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Unknown => "Unknown",
            ResponseType::Organizer => "Organizer",
            ResponseType::Tentative => "Tentative",
            ResponseType::Accept => "Accept",
            ResponseType::Decline => "Decline",
            ResponseType::NoResponseReceived => "NoResponseReceived",
        }
    }
}

/// `CalendarItemType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CalendarItemType {
    /// A non-recurring item.
    #[default]
    Single,
    /// An unmodified occurrence of a series (never stored; synthesized from the master).
    Occurrence,
    /// A modified occurrence.
    Exception,
    /// The master of a series.
    RecurringMaster,
}

impl CalendarItemType {
    /// The schema value.
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarItemType::Single => "Single",
            CalendarItemType::Occurrence => "Occurrence",
            CalendarItemType::Exception => "Exception",
            CalendarItemType::RecurringMaster => "RecurringMaster",
        }
    }
}

/// An e-mail address (`t:Mailbox`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailAddress {
    /// Display name.
    pub name: Option<String>,
    /// SMTP address.
    pub email: String,
    /// `RoutingType` (`SMTP`).
    pub routing_type: Option<String>,
    /// `MailboxType` (`Mailbox`, `PublicDL`, ...).
    pub mailbox_type: Option<String>,
}

impl EmailAddress {
    /// An SMTP address with an optional display name (mailbox type not stated).
    pub fn smtp(email: impl Into<String>, name: Option<String>) -> EmailAddress {
        EmailAddress {
            name,
            email: email.into(),
            routing_type: Some("SMTP".to_owned()),
            mailbox_type: None,
        }
    }

    /// Case-insensitive address comparison.
    pub fn same_address(&self, other: &str) -> bool {
        self.email.eq_ignore_ascii_case(other)
    }
}

/// An attendee (`t:Attendee`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attendee {
    /// Who.
    pub mailbox: EmailAddress,
    /// Their response.
    pub response_type: ResponseType,
    /// When they responded.
    pub last_response_time: Option<Timestamp>,
}

/// Which attendee list an attendee belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttendeeList {
    /// `RequiredAttendees`.
    Required,
    /// `OptionalAttendees`.
    Optional,
    /// `Resources` (rooms and equipment).
    Resources,
}

/// Property-set part of an extended property name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PropertySet {
    /// `DistinguishedPropertySetId` (`PublicStrings`, `Appointment`, ...).
    Distinguished(String),
    /// `PropertySetId` (a GUID, as sent).
    Guid(String),
}

/// The well-known property sets and their GUIDs ([MS-OXPROPS] 1.3.2).
const DISTINGUISHED_SETS: &[(&str, &str)] = &[
    ("Meeting", "6ed8da90-450b-101b-98da-00aa003f1305"),
    ("Appointment", "00062002-0000-0000-c000-000000000046"),
    ("Common", "00062008-0000-0000-c000-000000000046"),
    ("PublicStrings", "00020329-0000-0000-c000-000000000046"),
    ("Address", "00062004-0000-0000-c000-000000000046"),
    ("InternetHeaders", "00020386-0000-0000-c000-000000000046"),
    ("CalendarAssistant", "11000e07-b51b-40d6-af21-caa85edab1d0"),
    ("UnifiedMessaging", "4442858e-a9e3-4e80-b900-317a210cc15b"),
    ("Task", "00062003-0000-0000-c000-000000000046"),
    ("Sharing", "00062040-0000-0000-c000-000000000046"),
];

/// The `DistinguishedPropertySetId` values the schema allows.
pub fn is_distinguished_property_set(name: &str) -> bool {
    DISTINGUISHED_SETS.iter().any(|(n, _)| *n == name)
}

/// The `PropertyType` values the schema allows.
pub const PROPERTY_TYPES: &[&str] = &[
    "ApplicationTime",
    "ApplicationTimeArray",
    "Binary",
    "BinaryArray",
    "Boolean",
    "CLSID",
    "CLSIDArray",
    "Currency",
    "CurrencyArray",
    "Double",
    "DoubleArray",
    "Error",
    "Float",
    "FloatArray",
    "Integer",
    "IntegerArray",
    "Long",
    "LongArray",
    "Null",
    "Object",
    "ObjectArray",
    "Short",
    "ShortArray",
    "SystemTime",
    "SystemTimeArray",
    "String",
    "StringArray",
];

impl PropertySet {
    /// The set's GUID in lower case (distinguished names resolved), which is its identity.
    pub fn guid(&self) -> String {
        match self {
            PropertySet::Distinguished(name) => DISTINGUISHED_SETS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, g)| (*g).to_owned())
                .unwrap_or_else(|| name.to_ascii_lowercase()),
            PropertySet::Guid(guid) => guid
                .trim_matches(|c| c == '{' || c == '}')
                .to_ascii_lowercase(),
        }
    }
}

/// An `ExtendedFieldURI`: which extended (MAPI) property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedFieldUri {
    /// A named property by name.
    Named {
        /// Its set.
        set: PropertySet,
        /// `PropertyName`.
        name: String,
        /// `PropertyType`.
        property_type: String,
    },
    /// A named property by numeric id.
    Id {
        /// Its set.
        set: PropertySet,
        /// `PropertyId`.
        id: u32,
        /// `PropertyType`.
        property_type: String,
    },
    /// A tagged property.
    Tag {
        /// `PropertyTag` (the 16-bit id, as parsed from `0x....` or decimal).
        tag: u32,
        /// `PropertyType`.
        property_type: String,
    },
}

/// Identity of an extended property in the store (set GUID + name/id, or the tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PropertyKey {
    /// Named by string.
    Named(String, String),
    /// Named by number.
    Id(String, u32),
    /// Tagged.
    Tag(u32),
}

impl ExtendedFieldUri {
    /// The property's identity: two URIs naming the same property compare equal here even if
    /// one uses `DistinguishedPropertySetId` and the other the set's GUID.
    pub fn key(&self) -> PropertyKey {
        match self {
            ExtendedFieldUri::Named { set, name, .. } => {
                PropertyKey::Named(set.guid(), name.clone())
            }
            ExtendedFieldUri::Id { set, id, .. } => PropertyKey::Id(set.guid(), *id),
            ExtendedFieldUri::Tag { tag, .. } => PropertyKey::Tag(*tag),
        }
    }

    /// `PropertyType`.
    pub fn property_type(&self) -> &str {
        match self {
            ExtendedFieldUri::Named { property_type, .. }
            | ExtendedFieldUri::Id { property_type, .. }
            | ExtendedFieldUri::Tag { property_type, .. } => property_type,
        }
    }

    /// Whether the type is multi-valued (`...Array`).
    pub fn is_array(&self) -> bool {
        self.property_type().ends_with("Array")
    }

    /// A stable name for conflict bookkeeping.
    pub fn field_name(&self) -> String {
        match self.key() {
            PropertyKey::Named(set, name) => format!("ext:{set}:{name}"),
            PropertyKey::Id(set, id) => format!("ext:{set}:#{id}"),
            PropertyKey::Tag(tag) => format!("ext:tag:{tag:#06x}"),
        }
    }
}

/// The value of an extended property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedValue {
    /// `t:Value`.
    Single(String),
    /// `t:Values/t:Value*`.
    Multi(Vec<String>),
}

/// An extended property set on an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedProperty {
    /// Which property (as first written).
    pub uri: ExtendedFieldUri,
    /// Its value.
    pub value: ExtendedValue,
}

/// Checks an extended property value against its declared type, as Exchange does when it
/// converts the string to the MAPI type.
pub fn validate_extended_value(property_type: &str, value: &str) -> Result<(), String> {
    let base = property_type.trim_end_matches("Array");
    let ok = match base {
        "Integer" | "Long" => value.trim().parse::<i64>().is_ok(),
        "Short" => value.trim().parse::<i16>().is_ok(),
        "Boolean" => matches!(value.trim(), "true" | "false" | "1" | "0"),
        "Double" | "Float" | "Currency" | "ApplicationTime" => value.trim().parse::<f64>().is_ok(),
        "SystemTime" => {
            crate::calendar::parse_xs_datetime(value.trim(), &WindowsZone::utc()).is_ok()
        }
        "CLSID" => value.trim().trim_matches(|c| c == '{' || c == '}').len() == 36,
        "Binary" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .is_ok()
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("the value {value:?} is not a valid {base}"))
    }
}

/// Calendar-specific data of an item (`t:CalendarItem`), also used for the meeting data a
/// meeting request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarItem {
    /// Start instant.
    pub start: Timestamp,
    /// End instant.
    pub end: Timestamp,
    /// `StartTimeZone` (also the series' time zone for recurrence expansion).
    pub start_zone: WindowsZone,
    /// `EndTimeZone`.
    pub end_zone: WindowsZone,
    /// `IsAllDayEvent`.
    pub is_all_day: bool,
    /// `Location`.
    pub location: Option<String>,
    /// `Organizer`.
    pub organizer: Option<EmailAddress>,
    /// `RequiredAttendees`.
    pub required_attendees: Vec<Attendee>,
    /// `OptionalAttendees`.
    pub optional_attendees: Vec<Attendee>,
    /// `Resources`.
    pub resources: Vec<Attendee>,
    /// `LegacyFreeBusyStatus`.
    pub free_busy: FreeBusy,
    /// `IsCancelled`.
    pub is_cancelled: bool,
    /// `IsMeeting`.
    pub is_meeting: bool,
    /// `MeetingRequestWasSent`.
    pub meeting_request_was_sent: bool,
    /// `MyResponseType` of the mailbox owner.
    pub my_response_type: ResponseType,
    /// `AppointmentSequenceNumber`.
    pub sequence_number: u32,
    /// `CalendarItemType` (Single, RecurringMaster or Exception; occurrences are synthesized).
    pub item_type: CalendarItemType,
    /// `UID` (iCalendar UID, shared by organizer and attendee copies).
    pub uid: String,
    /// `Recurrence` (masters only).
    pub recurrence: Option<Recurrence>,
    /// Modified occurrences by original start (masters only).
    pub exceptions: BTreeMap<Timestamp, Item>,
    /// Deleted occurrences by original start (masters only).
    pub deleted_occurrences: BTreeSet<Timestamp>,
    /// `OriginalStart` / `RecurrenceId` (exceptions only).
    pub original_start: Option<Timestamp>,
    /// `AppointmentReplyTime`.
    pub reply_time: Option<Timestamp>,
}

impl CalendarItem {
    /// A single appointment with the given times, in UTC, with everything else at defaults.
    pub fn new(start: Timestamp, end: Timestamp) -> CalendarItem {
        CalendarItem {
            start,
            end,
            start_zone: WindowsZone::utc(),
            end_zone: WindowsZone::utc(),
            is_all_day: false,
            location: None,
            organizer: None,
            required_attendees: Vec::new(),
            optional_attendees: Vec::new(),
            resources: Vec::new(),
            free_busy: FreeBusy::Busy,
            is_cancelled: false,
            is_meeting: false,
            meeting_request_was_sent: false,
            my_response_type: ResponseType::Organizer,
            sequence_number: 0,
            item_type: CalendarItemType::Single,
            uid: String::new(),
            recurrence: None,
            exceptions: BTreeMap::new(),
            deleted_occurrences: BTreeSet::new(),
            original_start: None,
            reply_time: None,
        }
    }

    /// The attendee list of a kind.
    pub fn attendees(&self, list: AttendeeList) -> &Vec<Attendee> {
        match list {
            AttendeeList::Required => &self.required_attendees,
            AttendeeList::Optional => &self.optional_attendees,
            AttendeeList::Resources => &self.resources,
        }
    }

    /// The attendee list of a kind, mutable.
    pub fn attendees_mut(&mut self, list: AttendeeList) -> &mut Vec<Attendee> {
        match list {
            AttendeeList::Required => &mut self.required_attendees,
            AttendeeList::Optional => &mut self.optional_attendees,
            AttendeeList::Resources => &mut self.resources,
        }
    }

    /// All attendees of all three lists.
    pub fn all_attendees(&self) -> impl Iterator<Item = (AttendeeList, &Attendee)> {
        self.required_attendees
            .iter()
            .map(|a| (AttendeeList::Required, a))
            .chain(
                self.optional_attendees
                    .iter()
                    .map(|a| (AttendeeList::Optional, a)),
            )
            .chain(self.resources.iter().map(|a| (AttendeeList::Resources, a)))
    }

    /// Whether this is the master of a series.
    pub fn is_recurring_master(&self) -> bool {
        self.recurrence.is_some()
    }
}

/// A plain message (`t:Message`, `IPM.Note`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageItem {
    /// `From` / `Sender`.
    pub from: Option<EmailAddress>,
    /// `ToRecipients`.
    pub to: Vec<EmailAddress>,
    /// `IsRead`.
    pub is_read: bool,
    /// `IsDraft`.
    pub is_draft: bool,
}

/// What kind of meeting message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeetingMessageKind {
    /// `t:MeetingRequest` (`IPM.Schedule.Meeting.Request`).
    Request,
    /// `t:MeetingCancellation` (`IPM.Schedule.Meeting.Canceled`).
    Cancellation,
    /// `t:MeetingResponse` (`IPM.Schedule.Meeting.Resp.*`).
    Response(ResponseType),
}

/// A meeting request, cancellation or response delivered to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingMessage {
    /// Which message.
    pub kind: MeetingMessageKind,
    /// `From` (the organizer for requests and cancellations).
    pub from: Option<EmailAddress>,
    /// `IsRead`.
    pub is_read: bool,
    /// The meeting as sent.
    pub meeting: CalendarItem,
    /// `AssociatedCalendarItemId`: the copy in the recipient's calendar.
    pub associated_calendar_item: Option<ItemKey>,
    /// `HasBeenProcessed`.
    pub has_been_processed: bool,
    /// `IsOutOfDate`.
    pub is_out_of_date: bool,
    /// `MeetingRequestType` (`NewMeetingRequest`, `FullUpdate`, ...).
    pub request_type: &'static str,
}

/// Type-specific part of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "nearly every item is a calendar item; boxing it would only add an allocation"
)]
pub enum ItemKind {
    /// A calendar item.
    Calendar(CalendarItem),
    /// A plain message.
    Message(MessageItem),
    /// A meeting request/cancellation/response.
    MeetingMessage(Box<MeetingMessage>),
}

/// An item in a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Store serial (for exceptions: the master's serial).
    pub key: ItemKey,
    /// Change number of the last modification (the `ChangeKey` version).
    pub version: u64,
    /// Change number at which the item entered its current folder.
    pub entered: u64,
    /// Folder it lives in.
    pub folder: FolderKind,
    /// `ItemClass`.
    pub item_class: String,
    /// `Subject`.
    pub subject: String,
    /// `Body`.
    pub body: Body,
    /// `Sensitivity`.
    pub sensitivity: Sensitivity,
    /// `Importance`.
    pub importance: Importance,
    /// `Categories`.
    pub categories: Vec<String>,
    /// `ReminderIsSet`.
    pub reminder_is_set: bool,
    /// `ReminderMinutesBeforeStart`.
    pub reminder_minutes: i32,
    /// Extended properties, in the order they were set.
    pub extended: Vec<ExtendedProperty>,
    /// `DateTimeCreated`.
    pub created: Timestamp,
    /// `LastModifiedTime`.
    pub last_modified: Timestamp,
    /// `LastModifiedName`.
    pub last_modified_name: Option<String>,
    /// Primary address of the mailbox that created the item (a delegate, or the owner).
    pub creator: Option<String>,
    /// `DateTimeReceived` (creation time for items not received).
    pub received: Timestamp,
    /// Change number at which each field (by FieldURI / extended key) last changed, for
    /// fields changed after creation.
    pub field_versions: HashMap<String, u64>,
    /// Type-specific data.
    pub kind: ItemKind,
}

impl Item {
    /// A new item with defaults for everything but its kind; the store fills in the key,
    /// versions, folder and times when it is saved.
    pub fn new(kind: ItemKind) -> Item {
        let item_class = match &kind {
            ItemKind::Calendar(_) => "IPM.Appointment",
            ItemKind::Message(_) => "IPM.Note",
            ItemKind::MeetingMessage(m) => match m.kind {
                MeetingMessageKind::Request => "IPM.Schedule.Meeting.Request",
                MeetingMessageKind::Cancellation => "IPM.Schedule.Meeting.Canceled",
                MeetingMessageKind::Response(ResponseType::Accept) => {
                    "IPM.Schedule.Meeting.Resp.Pos"
                }
                MeetingMessageKind::Response(ResponseType::Tentative) => {
                    "IPM.Schedule.Meeting.Resp.Tent"
                }
                MeetingMessageKind::Response(_) => "IPM.Schedule.Meeting.Resp.Neg",
            },
        };
        Item {
            key: 0,
            version: 0,
            entered: 0,
            folder: FolderKind::Calendar,
            item_class: item_class.to_owned(),
            subject: String::new(),
            body: Body::default(),
            sensitivity: Sensitivity::Normal,
            importance: Importance::Normal,
            categories: Vec::new(),
            reminder_is_set: false,
            reminder_minutes: 15,
            extended: Vec::new(),
            created: Timestamp::UNIX_EPOCH,
            last_modified: Timestamp::UNIX_EPOCH,
            last_modified_name: None,
            creator: None,
            received: Timestamp::UNIX_EPOCH,
            field_versions: HashMap::new(),
            kind,
        }
    }

    /// The calendar data, if this is a calendar item.
    pub fn calendar(&self) -> Option<&CalendarItem> {
        match &self.kind {
            ItemKind::Calendar(c) => Some(c),
            _ => None,
        }
    }

    /// The calendar data, mutable.
    pub fn calendar_mut(&mut self) -> Option<&mut CalendarItem> {
        match &mut self.kind {
            ItemKind::Calendar(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the item is private (hidden from delegates without `CanViewPrivateItems`).
    pub fn is_private(&self) -> bool {
        self.sensitivity == Sensitivity::Private
    }

    /// The value of an extended property, if set.
    pub fn extended_property(&self, key: &PropertyKey) -> Option<&ExtendedProperty> {
        self.extended.iter().find(|p| &p.uri.key() == key)
    }

    /// Sets (or replaces) an extended property.
    pub fn set_extended_property(&mut self, property: ExtendedProperty) {
        let key = property.uri.key();
        match self.extended.iter_mut().find(|p| p.uri.key() == key) {
            Some(existing) => existing.value = property.value,
            None => self.extended.push(property),
        }
    }

    /// Removes an extended property; returns whether it was set.
    pub fn remove_extended_property(&mut self, key: &PropertyKey) -> bool {
        let before = self.extended.len();
        self.extended.retain(|p| &p.uri.key() != key);
        before != self.extended.len()
    }

    /// Approximate `Size` in bytes, as a MAPI store would report it.
    pub fn size(&self) -> usize {
        let attendees = self
            .calendar()
            .map(|c| {
                c.all_attendees()
                    .map(|(_, a)| a.mailbox.email.len() + 64)
                    .sum::<usize>()
            })
            .unwrap_or(0);
        512 + self.subject.len() + self.body.content.len() + attendees + self.extended.len() * 48
    }

    /// The change number at which `field` last changed (creation for fields never updated).
    pub fn field_version(&self, field: &str) -> u64 {
        self.field_versions.get(field).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_and_guid_property_sets_name_the_same_property() {
        let by_name = ExtendedFieldUri::Named {
            set: PropertySet::Distinguished("PublicStrings".into()),
            name: "RoomsBookingId".into(),
            property_type: "String".into(),
        };
        let by_guid = ExtendedFieldUri::Named {
            set: PropertySet::Guid("{00020329-0000-0000-C000-000000000046}".into()),
            name: "RoomsBookingId".into(),
            property_type: "String".into(),
        };
        assert_eq!(by_name.key(), by_guid.key());
        let other_name = ExtendedFieldUri::Named {
            set: PropertySet::Distinguished("PublicStrings".into()),
            name: "roomsbookingid".into(),
            property_type: "String".into(),
        };
        assert_ne!(by_name.key(), other_name.key());
    }

    #[test]
    fn setting_an_extended_property_twice_replaces_it() {
        let mut item = Item::new(ItemKind::Message(MessageItem::default()));
        let uri = ExtendedFieldUri::Tag {
            tag: 0x1000,
            property_type: "String".into(),
        };
        item.set_extended_property(ExtendedProperty {
            uri: uri.clone(),
            value: ExtendedValue::Single("a".into()),
        });
        item.set_extended_property(ExtendedProperty {
            uri: uri.clone(),
            value: ExtendedValue::Single("b".into()),
        });
        assert_eq!(item.extended.len(), 1);
        assert_eq!(
            item.extended_property(&uri.key()).unwrap().value,
            ExtendedValue::Single("b".into())
        );
        assert!(item.remove_extended_property(&uri.key()));
        assert!(!item.remove_extended_property(&uri.key()));
    }

    #[test]
    fn extended_values_are_checked_against_their_type() {
        assert!(validate_extended_value("Integer", "42").is_ok());
        assert!(validate_extended_value("Integer", "forty-two").is_err());
        assert!(validate_extended_value("Boolean", "true").is_ok());
        assert!(validate_extended_value("Boolean", "yes").is_err());
        assert!(validate_extended_value("SystemTime", "2026-01-01T10:00:00Z").is_ok());
        assert!(validate_extended_value("String", "anything <at> all").is_ok());
    }

    #[test]
    fn bodies_convert_between_text_and_html() {
        let text = Body {
            body_type: BodyType::Text,
            content: "a < b\nnext".into(),
        };
        let html = text.converted(BodyType::Html);
        assert!(html.content.contains("a &lt; b<br>next"));
        assert_eq!(html.converted(BodyType::Text).content, "a < b\r\nnext");
    }

    #[test]
    fn folder_names_round_trip() {
        for folder in FolderKind::ALL {
            assert_eq!(
                FolderKind::from_distinguished(folder.distinguished_id()),
                Some(folder)
            );
        }
        assert_eq!(
            FolderKind::from_distinguished("root"),
            Some(FolderKind::Root)
        );
        assert_eq!(FolderKind::from_distinguished("contacts"), None);
    }
}
