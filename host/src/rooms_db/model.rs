//! The booking data of the ROOMS store, as plain Rust types.
//!
//! These mirror the WIT `calendar` and `rooms` records (`wit/calendar.wit`,
//! `wit/rooms.wit`) one to one; [`crate::capabilities::rooms`] converts
//! between them and the generated bindings, the CLI builds them from its
//! options. Instants are seconds since the Unix epoch (UTC); time zones are
//! Windows ids. Attendees and recurrences are stored as JSON text columns in
//! the serde shape derived here (kebab-case names): that shape is part of the
//! file format of `rooms.db`, so change it only together with a migration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z.
pub type Instant = i64;

/// A calendar date without time or zone (a series range's start or end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// The year, e.g. 2026.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

impl Date {
    /// The date as a jiff civil date; `None` when it does not exist.
    pub fn to_civil(self) -> Option<jiff::civil::Date> {
        jiff::civil::Date::new(
            i16::try_from(self.year).ok()?,
            i8::try_from(self.month).ok()?,
            i8::try_from(self.day).ok()?,
        )
        .ok()
    }

    /// A jiff civil date as a [`Date`]; `None` before year 0.
    pub fn from_civil(date: jiff::civil::Date) -> Option<Date> {
        Some(Date {
            year: u16::try_from(date.year()).ok()?,
            month: u8::try_from(date.month()).ok()?,
            day: u8::try_from(date.day()).ok()?,
        })
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Free/busy status, by its EWS `LegacyFreeBusyStatus` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FreeBusy {
    /// `Free`.
    Free,
    /// `Tentative`.
    Tentative,
    /// `Busy` (the default of a new booking).
    Busy,
    /// `OOF`: out of office.
    Oof,
    /// `WorkingElsewhere`.
    WorkingElsewhere,
    /// `NoData`.
    NoData,
}

impl FreeBusy {
    /// Every value, in EWS order.
    pub const ALL: [FreeBusy; 6] = [
        FreeBusy::Free,
        FreeBusy::Tentative,
        FreeBusy::Busy,
        FreeBusy::Oof,
        FreeBusy::WorkingElsewhere,
        FreeBusy::NoData,
    ];

    /// The EWS name (`Busy`, `OOF`, ...), as stored and shown.
    pub fn as_ews(self) -> &'static str {
        match self {
            FreeBusy::Free => "Free",
            FreeBusy::Tentative => "Tentative",
            FreeBusy::Busy => "Busy",
            FreeBusy::Oof => "OOF",
            FreeBusy::WorkingElsewhere => "WorkingElsewhere",
            FreeBusy::NoData => "NoData",
        }
    }

    /// Parses an EWS name, ignoring case.
    pub fn parse(s: &str) -> Option<FreeBusy> {
        FreeBusy::ALL
            .into_iter()
            .find(|f| f.as_ews().eq_ignore_ascii_case(s.trim()))
    }
}

/// How an attendee takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttendeeKind {
    /// `RequiredAttendees`.
    Required,
    /// `OptionalAttendees`.
    Optional,
    /// `Resources`: a room or equipment mailbox.
    Resource,
}

impl AttendeeKind {
    /// `required`, `optional` or `resource`, as `booking list --json` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttendeeKind::Required => "required",
            AttendeeKind::Optional => "optional",
            AttendeeKind::Resource => "resource",
        }
    }
}

/// One attendee of a booking (never the organiser).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Attendee {
    /// SMTP address, lower-case.
    pub email: String,
    /// Required, optional or resource.
    pub kind: AttendeeKind,
}

/// A day of the week, or a day class of relative patterns, by EWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weekday {
    /// `Sunday`.
    Sunday,
    /// `Monday`.
    Monday,
    /// `Tuesday`.
    Tuesday,
    /// `Wednesday`.
    Wednesday,
    /// `Thursday`.
    Thursday,
    /// `Friday`.
    Friday,
    /// `Saturday`.
    Saturday,
    /// `Day`: any day (relative patterns only).
    Day,
    /// `Weekday`: Monday to Friday (relative patterns only).
    Weekday,
    /// `WeekendDay`: Saturday or Sunday (relative patterns only).
    WeekendDay,
}

impl Weekday {
    /// Every value, in EWS order.
    pub const ALL: [Weekday; 10] = [
        Weekday::Sunday,
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Day,
        Weekday::Weekday,
        Weekday::WeekendDay,
    ];

    /// The EWS name (`Monday`, `WeekendDay`).
    pub fn as_ews(self) -> &'static str {
        match self {
            Weekday::Sunday => "Sunday",
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Day => "Day",
            Weekday::Weekday => "Weekday",
            Weekday::WeekendDay => "WeekendDay",
        }
    }

    /// Parses an EWS name or a day's first three letters (`mon`), ignoring
    /// case.
    pub fn parse(s: &str) -> Option<Weekday> {
        let s = s.trim();
        Weekday::ALL.into_iter().find(|d| {
            d.as_ews().eq_ignore_ascii_case(s)
                || (d.to_jiff().is_some()
                    && s.len() == 3
                    && d.as_ews()[..3].eq_ignore_ascii_case(s))
        })
    }

    /// The jiff weekday of Sunday to Saturday; `None` for the day classes.
    pub fn to_jiff(self) -> Option<jiff::civil::Weekday> {
        use jiff::civil::Weekday as J;
        Some(match self {
            Weekday::Sunday => J::Sunday,
            Weekday::Monday => J::Monday,
            Weekday::Tuesday => J::Tuesday,
            Weekday::Wednesday => J::Wednesday,
            Weekday::Thursday => J::Thursday,
            Weekday::Friday => J::Friday,
            Weekday::Saturday => J::Saturday,
            Weekday::Day | Weekday::Weekday | Weekday::WeekendDay => return None,
        })
    }

    /// The [`Weekday`] of a jiff weekday.
    pub fn from_jiff(day: jiff::civil::Weekday) -> Weekday {
        use jiff::civil::Weekday as J;
        match day {
            J::Sunday => Weekday::Sunday,
            J::Monday => Weekday::Monday,
            J::Tuesday => Weekday::Tuesday,
            J::Wednesday => Weekday::Wednesday,
            J::Thursday => Weekday::Thursday,
            J::Friday => Weekday::Friday,
            J::Saturday => Weekday::Saturday,
        }
    }
}

/// Which week of the month a relative pattern means (`DayOfWeekIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeekIndex {
    /// `First`.
    First,
    /// `Second`.
    Second,
    /// `Third`.
    Third,
    /// `Fourth`.
    Fourth,
    /// `Last`.
    Last,
}

impl WeekIndex {
    /// The EWS name.
    pub fn as_ews(self) -> &'static str {
        match self {
            WeekIndex::First => "First",
            WeekIndex::Second => "Second",
            WeekIndex::Third => "Third",
            WeekIndex::Fourth => "Fourth",
            WeekIndex::Last => "Last",
        }
    }
}

/// A recurrence pattern, as EWS has them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum Pattern {
    /// Every `interval` days.
    Daily {
        /// Days between occurrences (at least 1).
        interval: u32,
    },
    /// Every `interval` weeks on `days`.
    Weekly {
        /// Weeks between occurrences (at least 1).
        interval: u32,
        /// At least one of Sunday to Saturday.
        days: Vec<Weekday>,
        /// `FirstDayOfWeek`: decides which weeks an interval above 1 skips.
        first_day_of_week: Weekday,
    },
    /// Every `interval` months on `day_of_month` (the last day of a month
    /// that lacks it).
    AbsoluteMonthly {
        /// Months between occurrences (at least 1).
        interval: u32,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// Every `interval` months on the `index` `day` (the last Friday).
    RelativeMonthly {
        /// Months between occurrences (at least 1).
        interval: u32,
        /// The day or day class.
        day: Weekday,
        /// Which one.
        index: WeekIndex,
    },
    /// Every year on `day_of_month` of `month`.
    AbsoluteYearly {
        /// 1 to 12.
        month: u8,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// Every year on the `index` `day` of `month`.
    RelativeYearly {
        /// 1 to 12.
        month: u8,
        /// The day or day class.
        day: Weekday,
        /// Which one.
        index: WeekIndex,
    },
}

impl Pattern {
    /// `daily`, `weekly`, `absolute-monthly`, ... as `booking list --json`
    /// shows it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Pattern::Daily { .. } => "daily",
            Pattern::Weekly { .. } => "weekly",
            Pattern::AbsoluteMonthly { .. } => "absolute-monthly",
            Pattern::RelativeMonthly { .. } => "relative-monthly",
            Pattern::AbsoluteYearly { .. } => "absolute-yearly",
            Pattern::RelativeYearly { .. } => "relative-yearly",
        }
    }

    /// The interval; 1 for the yearly patterns.
    pub fn interval(&self) -> u32 {
        match self {
            Pattern::Daily { interval }
            | Pattern::Weekly { interval, .. }
            | Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. } => *interval,
            Pattern::AbsoluteYearly { .. } | Pattern::RelativeYearly { .. } => 1,
        }
    }
}

/// Where a series begins and ends. `end` and `count` are never both set;
/// neither is a series without an end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecurrenceRange {
    /// The date of the first occurrence, in the series' time zone.
    pub start: Date,
    /// `EndDateRecurrence`: the last date an occurrence may fall on.
    pub end: Option<Date>,
    /// `NumberedRecurrence`: the number of occurrences (deleted ones count).
    pub count: Option<u32>,
}

/// One occurrence of a series that differs from the pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModifiedOccurrence {
    /// The start the pattern gives it; identifies it.
    pub original_start: Instant,
    /// Its own start.
    pub start: Instant,
    /// Its own end.
    pub end: Instant,
    /// Its own subject.
    pub subject: String,
}

/// A series as Exchange stores it: pattern, range and exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recurrence {
    /// The pattern.
    pub pattern: Pattern,
    /// The range.
    pub range: RecurrenceRange,
    /// Occurrences moved or changed, sorted by original start.
    pub modified: Vec<ModifiedOccurrence>,
    /// Original starts of deleted occurrences, sorted.
    pub deleted: Vec<Instant>,
}

/// The fields of a booking that synchronise both ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BookingFields {
    /// The organiser's address (lower-case).
    pub organiser: String,
    /// The room mailboxes booked (lower-case, sorted).
    pub rooms: Vec<String>,
    /// The subject.
    pub subject: String,
    /// Start (of the first occurrence for a series).
    pub start: Instant,
    /// End (of the first occurrence for a series).
    pub end: Instant,
    /// The Windows time-zone id the booking was made in.
    pub time_zone: String,
    /// An all-day event.
    pub all_day: bool,
    /// Minutes before the start a reminder fires; `None` for no reminder.
    pub reminder_minutes: Option<u32>,
    /// Sensitivity `Private`.
    pub private: bool,
    /// Free/busy status.
    pub free_busy: FreeBusy,
    /// Attendees other than the organiser, rooms included as resources.
    pub attendees: Vec<Attendee>,
    /// The series; `None` for a single booking.
    pub recurrence: Option<Recurrence>,
}

/// The lifecycle of a booking in ROOMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingState {
    /// A live booking.
    Active,
    /// Cancelled (in ROOMS or in Exchange); kept for history.
    Cancelled,
    /// No longer synced after repeated conflicts or errors.
    SyncDisabled,
}

impl BookingState {
    /// `active`, `cancelled` or `sync-disabled`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingState::Active => "active",
            BookingState::Cancelled => "cancelled",
            BookingState::SyncDisabled => "sync-disabled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<BookingState> {
        Some(match s {
            "active" => BookingState::Active,
            "cancelled" => BookingState::Cancelled,
            "sync-disabled" => BookingState::SyncDisabled,
            _ => return None,
        })
    }
}

/// Where a booking lives in one Exchange mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExchangeLink {
    /// The mailbox (lower-case).
    pub mailbox: String,
    /// The EWS `ItemId` in that mailbox.
    pub item_id: String,
    /// The `ChangeKey` last read or written by the sync.
    pub change_key: String,
    /// The meeting's iCalendar UID, the same in every mailbox.
    pub uid: String,
    /// A digest of the item's synced fields at that version (the
    /// component's choice).
    pub fingerprint: String,
}

/// A booking as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// Stable id: a UUID, from the host for bookings made in ROOMS, from the
    /// component for bookings imported from Exchange.
    pub id: String,
    /// The synced fields.
    pub fields: BookingFields,
    /// The lifecycle state.
    pub state: BookingState,
    /// The mailbox the booking is written to and read from.
    pub home: String,
    /// Counts every change of the booking (either side).
    pub revision: u64,
    /// The revision Exchange holds; below `revision` means changes to write.
    pub synced_revision: u64,
    /// One link per synced mailbox the meeting is in, sorted by mailbox.
    pub links: Vec<ExchangeLink>,
    /// Consecutive failed sync attempts since the last clean sync.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Booking {
    /// True when ROOMS holds changes that Exchange does not have yet.
    pub fn is_pending(&self) -> bool {
        self.revision > self.synced_revision
    }

    /// The link into `mailbox` (case-insensitive), if any.
    pub fn link(&self, mailbox: &str) -> Option<&ExchangeLink> {
        self.links
            .iter()
            .find(|l| l.mailbox.eq_ignore_ascii_case(mailbox))
    }
}

/// An Exchange item in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// The mailbox.
    pub mailbox: String,
    /// The EWS `ItemId`.
    pub item_id: String,
}

/// How [`RoomsDb::find_bookings`](super::RoomsDb::find_bookings) looks a
/// booking up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BookingKey {
    /// By booking id (the `RoomsBookingId` tag of an Exchange item).
    Id(String),
    /// By the meeting's UID, in any mailbox's link.
    Uid(String),
    /// By the item a link points to.
    Item(ItemRef),
}

/// How a [`BookingWrite`] changes the revision counters (WIT
/// `write-effect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    /// Fields and state came from Exchange: stored, `revision` bumped and
    /// `synced_revision` set to it. Stale when the stored revision is not
    /// the base revision.
    FromExchange,
    /// The base revision was written to Exchange: `synced_revision` becomes
    /// it; fields and revision stay (a change made meanwhile stays pending);
    /// links, attempts and last error are replaced; a `cancelled` or
    /// `sync-disabled` state is applied.
    Written,
    /// Links, attempts, last error and state only; counters stay.
    Bookkeeping,
}

/// One booking in a [`Page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingWrite {
    /// The booking as it is to be stored (its counters are ignored).
    pub booking: Booking,
    /// The revision the write is based on; `None` for a booking the
    /// component creates.
    pub base_revision: Option<u64>,
    /// What the write means.
    pub effect: WriteEffect,
}

/// One field on which ROOMS and Exchange disagreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDifference {
    /// The field's name as in `booking list --json`.
    pub field: String,
    /// The ROOMS value, as text.
    pub rooms: String,
    /// The Exchange value, as text.
    pub exchange: String,
}

/// Which side a conflict resolution kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictWinner {
    /// The Outlook item was reset to the ROOMS booking.
    Rooms,
    /// The ROOMS booking gave way.
    Exchange,
    /// Neither: the booking became sync-disabled.
    None,
}

impl ConflictWinner {
    /// `rooms`, `exchange` or `none`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictWinner::Rooms => "rooms",
            ConflictWinner::Exchange => "exchange",
            ConflictWinner::None => "none",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<ConflictWinner> {
        Some(match s {
            "rooms" => ConflictWinner::Rooms,
            "exchange" => ConflictWinner::Exchange,
            "none" => ConflictWinner::None,
            _ => return None,
        })
    }
}

/// Both sides changed one booking since the last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The booking id.
    pub booking: String,
    /// The mailbox whose item conflicted.
    pub mailbox: String,
    /// Field by field, what differed.
    pub differences: Vec<FieldDifference>,
    /// Which side was kept.
    pub winner: ConflictWinner,
    /// 1 for the first conflict of the booking.
    pub attempt: u32,
    /// When the component resolved it.
    pub at: Instant,
}

/// Why an organiser is told something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// A conflict was resolved for the ROOMS side.
    ConflictRolledBack,
    /// A conflict cancelled the ROOMS booking.
    ConflictCancelled,
    /// The booking stopped syncing.
    SyncDisabled,
    /// A room declined the meeting.
    RoomDeclined,
    /// More than one synced room is on the meeting.
    AmbiguousRooms,
}

impl NoticeKind {
    /// Every kind.
    pub const ALL: [NoticeKind; 5] = [
        NoticeKind::ConflictRolledBack,
        NoticeKind::ConflictCancelled,
        NoticeKind::SyncDisabled,
        NoticeKind::RoomDeclined,
        NoticeKind::AmbiguousRooms,
    ];

    /// The WIT name (`conflict-rolled-back`, ...), as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::ConflictRolledBack => "conflict-rolled-back",
            NoticeKind::ConflictCancelled => "conflict-cancelled",
            NoticeKind::SyncDisabled => "sync-disabled",
            NoticeKind::RoomDeclined => "room-declined",
            NoticeKind::AmbiguousRooms => "ambiguous-rooms",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A message for the organiser of a booking (the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The booking; `None` for an item that never became one.
    pub booking: Option<String>,
    /// The organiser's address.
    pub recipient: String,
    /// Why.
    pub kind: NoticeKind,
    /// One or two sentences for the organiser.
    pub message: String,
    /// When the component recorded it.
    pub at: Instant,
}

/// An Exchange item the component could not read or map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedItem {
    /// The item.
    pub item: ItemRef,
    /// Its subject when readable (may be empty).
    pub subject: String,
    /// Why it was set aside.
    pub reason: String,
}

/// What the component hands the host in one transaction (WIT `page`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The mailbox whose changes this page holds.
    pub mailbox: String,
    /// Bookings to create or update.
    pub bookings: Vec<BookingWrite>,
    /// Items whose links are dropped.
    pub unlinked: Vec<ItemRef>,
    /// The mailbox's new `SyncFolderItems` state; `None` keeps the stored
    /// one. Never empty.
    pub sync_state: Option<String>,
    /// Conflicts resolved.
    pub conflicts: Vec<Conflict>,
    /// Notices for the outbox.
    pub notices: Vec<Notice>,
    /// Items set aside.
    pub quarantined: Vec<QuarantinedItem>,
    /// Items taken out of quarantine.
    pub released: Vec<ItemRef>,
}

/// Why a page was not committed. Nothing of it was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// These bookings changed in ROOMS after the component read them.
    #[error("bookings changed in ROOMS meanwhile: {}", .0.join(", "))]
    Stale(Vec<String>),
    /// The page is inconsistent; the text says which part.
    #[error("inconsistent page: {0}")]
    Invalid(String),
    /// The store failed.
    #[error("store failed: {0}")]
    Store(String),
}

/// A stored conflict record, with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRecord {
    /// Ascending number of the record.
    pub seq: i64,
    /// The conflict.
    pub conflict: Conflict,
}

/// A stored outbox notice, with its place in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRecord {
    /// Ascending number of the notice.
    pub seq: i64,
    /// The notice.
    pub notice: Notice,
}

/// A stored quarantined item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRecord {
    /// The item, its subject and the reason.
    pub item: QuarantinedItem,
    /// When the host stored it (seconds since the epoch).
    pub at: Instant,
}
