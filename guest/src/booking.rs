//! ROOMS bookings as the sync logic sees them: the plain types of the WIT
//! `calendar` interface and of the `rooms` store (pages, conflicts, notices),
//! which cross the [`crate::platform::Platform`] trait.
//!
//! `component`/`wasi_platform` convert them to and from the generated
//! bindings; nothing here knows about EWS. Instants are seconds since the
//! Unix epoch (UTC); time zones are Windows ids.

/// Seconds since 1970-01-01T00:00:00Z.
pub type Instant = i64;

/// A calendar date (a series range's start or end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
}

/// Free/busy status by its EWS `LegacyFreeBusyStatus` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreeBusy {
    /// `Free`.
    Free,
    /// `Tentative`.
    Tentative,
    /// `Busy`.
    Busy,
    /// `OOF`.
    Oof,
    /// `WorkingElsewhere`.
    WorkingElsewhere,
    /// `NoData`.
    NoData,
}

impl FreeBusy {
    /// The EWS name.
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

    /// Parses the EWS name.
    pub fn from_ews(s: &str) -> Option<FreeBusy> {
        Some(match s {
            "Free" => FreeBusy::Free,
            "Tentative" => FreeBusy::Tentative,
            "Busy" => FreeBusy::Busy,
            "OOF" => FreeBusy::Oof,
            "WorkingElsewhere" => FreeBusy::WorkingElsewhere,
            "NoData" => FreeBusy::NoData,
            _ => return None,
        })
    }
}

/// How an attendee takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttendeeKind {
    /// `RequiredAttendees`.
    Required,
    /// `OptionalAttendees`.
    Optional,
    /// `Resources`.
    Resource,
}

/// One attendee (never the organiser).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attendee {
    /// SMTP address, lower-case.
    pub email: String,
    /// Required, optional or resource.
    pub kind: AttendeeKind,
}

/// A day of the week, or a day class of relative patterns, by EWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// `Day`.
    Day,
    /// `Weekday`.
    Weekday,
    /// `WeekendDay`.
    WeekendDay,
}

impl Weekday {
    /// The EWS name.
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

    /// Parses the EWS name.
    pub fn from_ews(s: &str) -> Option<Weekday> {
        Some(match s {
            "Sunday" => Weekday::Sunday,
            "Monday" => Weekday::Monday,
            "Tuesday" => Weekday::Tuesday,
            "Wednesday" => Weekday::Wednesday,
            "Thursday" => Weekday::Thursday,
            "Friday" => Weekday::Friday,
            "Saturday" => Weekday::Saturday,
            "Day" => Weekday::Day,
            "Weekday" => Weekday::Weekday,
            "WeekendDay" => Weekday::WeekendDay,
            _ => return None,
        })
    }
}

/// `DayOfWeekIndex` of relative patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// Parses the EWS name.
    pub fn from_ews(s: &str) -> Option<WeekIndex> {
        Some(match s {
            "First" => WeekIndex::First,
            "Second" => WeekIndex::Second,
            "Third" => WeekIndex::Third,
            "Fourth" => WeekIndex::Fourth,
            "Last" => WeekIndex::Last,
            _ => return None,
        })
    }
}

/// A recurrence pattern (the WIT `pattern`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Every `interval` days.
    Daily {
        /// Days between occurrences.
        interval: u32,
    },
    /// Every `interval` weeks on `days`.
    Weekly {
        /// Weeks between occurrences.
        interval: u32,
        /// The days (Sunday to Saturday).
        days: Vec<Weekday>,
        /// `FirstDayOfWeek`.
        first_day_of_week: Weekday,
    },
    /// Every `interval` months on a day of the month.
    AbsoluteMonthly {
        /// Months between occurrences.
        interval: u32,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// Every `interval` months on the `index` `day`.
    RelativeMonthly {
        /// Months between occurrences.
        interval: u32,
        /// The day.
        day: Weekday,
        /// Which one.
        index: WeekIndex,
    },
    /// Every year on a date.
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
        /// The day.
        day: Weekday,
        /// Which one.
        index: WeekIndex,
    },
}

/// Where a series begins and ends (`end` and `count` never both set).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Range {
    /// Date of the first occurrence in the series' zone.
    pub start: Date,
    /// `EndDateRecurrence`.
    pub end: Option<Date>,
    /// `NumberedRecurrence`.
    pub count: Option<u32>,
}

/// An exception of a series.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModifiedOccurrence {
    /// The start the pattern gives it.
    pub original_start: Instant,
    /// Its own start.
    pub start: Instant,
    /// Its own end.
    pub end: Instant,
    /// Its own subject.
    pub subject: String,
}

/// A series as Exchange stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Recurrence {
    /// The pattern.
    pub pattern: Pattern,
    /// The range.
    pub range: Range,
    /// Exceptions, by original start (kept sorted by the sync).
    pub modified: Vec<ModifiedOccurrence>,
    /// Original starts of deleted occurrences (kept sorted by the sync).
    pub deleted: Vec<Instant>,
}

/// The fields that synchronise both ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BookingFields {
    /// The organiser's address (lower-case).
    pub organiser: String,
    /// Room mailboxes (lower-case, sorted).
    pub rooms: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Start (first occurrence of a series).
    pub start: Instant,
    /// End (first occurrence of a series).
    pub end: Instant,
    /// Windows time-zone id.
    pub time_zone: String,
    /// All-day event.
    pub all_day: bool,
    /// Reminder minutes before start; `None` for no reminder.
    pub reminder_minutes: Option<u32>,
    /// Sensitivity `Private`.
    pub private: bool,
    /// Free/busy.
    pub free_busy: FreeBusy,
    /// Attendees other than the organiser (sorted), rooms as resources.
    pub attendees: Vec<Attendee>,
    /// The series, if any.
    pub recurrence: Option<Recurrence>,
}

/// The lifecycle of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BookingState {
    /// Live.
    Active,
    /// Cancelled.
    Cancelled,
    /// No longer synced (`last_error` says why).
    SyncDisabled,
}

/// A booking's item in one Exchange mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExchangeLink {
    /// The mailbox (lower-case).
    pub mailbox: String,
    /// EWS ItemId.
    pub item_id: String,
    /// ChangeKey last read or written.
    pub change_key: String,
    /// The meeting UID.
    pub uid: String,
    /// Digest of the item's synced fields at that ChangeKey.
    pub fingerprint: String,
}

/// A booking as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// Stable id (the `RoomsBookingId` tag).
    pub id: String,
    /// The synced fields.
    pub fields: BookingFields,
    /// Lifecycle.
    pub state: BookingState,
    /// The mailbox the booking is written to and read from.
    pub home: String,
    /// Bumped on every change.
    pub revision: u64,
    /// The revision Exchange holds.
    pub synced_revision: u64,
    /// One link per synced mailbox the meeting is in.
    pub links: Vec<ExchangeLink>,
    /// Consecutive failed attempts.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Booking {
    /// True when ROOMS holds changes Exchange does not have yet.
    pub fn is_pending(&self) -> bool {
        self.revision > self.synced_revision
    }

    /// The link into `mailbox`, if any.
    pub fn link(&self, mailbox: &str) -> Option<&ExchangeLink> {
        self.links
            .iter()
            .find(|l| l.mailbox.eq_ignore_ascii_case(mailbox))
    }
}

/// How [`crate::platform::Platform::find_bookings`] looks a booking up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BookingKey {
    /// By booking id.
    Id(String),
    /// By meeting UID (any link).
    Uid(String),
    /// By the item a link points to.
    Item(ItemRef),
}

/// An Exchange item in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// The mailbox.
    pub mailbox: String,
    /// The EWS ItemId.
    pub item_id: String,
}

/// How a [`BookingWrite`] changes the revision counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEffect {
    /// Fields and state came from Exchange.
    FromExchange,
    /// `base_revision` was written to Exchange.
    Written,
    /// Links, attempts, last error or state only.
    Bookkeeping,
}

/// One booking in a [`Page`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingWrite {
    /// The booking as it is to be stored (revision counters ignored).
    pub booking: Booking,
    /// The revision the write is based on; `None` for a new booking.
    pub base_revision: Option<u64>,
    /// What the write means.
    pub effect: WriteEffect,
}

/// One field on which the two sides disagreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDifference {
    /// The field name as in `booking list --json`.
    pub field: String,
    /// The ROOMS value.
    pub rooms: String,
    /// The Exchange value.
    pub exchange: String,
}

/// Which side a conflict resolution kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictWinner {
    /// The Outlook item was reset to ROOMS.
    Rooms,
    /// The ROOMS booking gave way.
    Exchange,
    /// Neither: sync disabled.
    None,
}

/// A conflict and its resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The booking.
    pub booking: String,
    /// The mailbox whose item conflicted.
    pub mailbox: String,
    /// What differed.
    pub differences: Vec<FieldDifference>,
    /// Who won.
    pub winner: ConflictWinner,
    /// 1 for the first conflict of the booking.
    pub attempt: u32,
    /// When.
    pub at: Instant,
}

/// Why the organiser is told something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Outlook item reset to ROOMS.
    ConflictRolledBack,
    /// ROOMS booking cancelled after a conflict.
    ConflictCancelled,
    /// The booking stopped syncing.
    SyncDisabled,
    /// A room declined.
    RoomDeclined,
    /// More than one synced room.
    AmbiguousRooms,
}

/// A message for an organiser (the outbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The booking, if one exists.
    pub booking: Option<String>,
    /// The organiser.
    pub recipient: String,
    /// Why.
    pub kind: NoticeKind,
    /// One or two sentences.
    pub message: String,
    /// When.
    pub at: Instant,
}

/// An item set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The item.
    pub item: ItemRef,
    /// Its subject when readable.
    pub subject: String,
    /// Why.
    pub reason: String,
}

/// One transaction for the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The mailbox whose changes these are.
    pub mailbox: String,
    /// Bookings to create or update.
    pub bookings: Vec<BookingWrite>,
    /// Items whose links are dropped.
    pub unlinked: Vec<ItemRef>,
    /// The new sync state (never empty); `None` keeps the stored one.
    pub sync_state: Option<String>,
    /// Conflicts.
    pub conflicts: Vec<Conflict>,
    /// Outbox.
    pub notices: Vec<Notice>,
    /// Items set aside.
    pub quarantined: Vec<Quarantined>,
    /// Items out of quarantine.
    pub released: Vec<ItemRef>,
}

impl Page {
    /// An empty page for `mailbox`.
    pub fn new(mailbox: &str) -> Page {
        Page {
            mailbox: mailbox.to_owned(),
            ..Page::default()
        }
    }

    /// True when committing it would change nothing.
    pub fn is_empty(&self) -> bool {
        self.bookings.is_empty()
            && self.unlinked.is_empty()
            && self.sync_state.is_none()
            && self.conflicts.is_empty()
            && self.notices.is_empty()
            && self.quarantined.is_empty()
            && self.released.is_empty()
    }
}

/// Why a page was not committed (nothing of it was stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// These bookings changed in ROOMS after they were read.
    Stale(Vec<String>),
    /// The page is inconsistent.
    Invalid(String),
    /// The store failed.
    Store(String),
}
