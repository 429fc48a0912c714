//! The transport seam: what the engine needs from a calendar service, in
//! terms of its own, transport-neutral types.
//!
//! EWS fills it today ([`super::ews_transport`]); a Microsoft Graph module
//! can fill it beside it (EWS in Exchange Online ends on 1 April 2027)
//! without touching the engine. Every method sends what it needs for one
//! mailbox and classifies failures into [`Error`]; the engine decides about
//! retries and waiting ([`super::retry`]).

use crate::booking::{AttendeeKind, BookingFields, FreeBusy, Instant, Recurrence};
use crate::error::Error;
use crate::platform::Platform;

/// One change of a folder since a sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An item was created or changed.
    Upsert {
        /// The item's id.
        item_id: String,
        /// Its version, when the service names it (empty otherwise).
        change_key: String,
    },
    /// An item was deleted (or became invisible to the caller).
    Delete {
        /// The item's id.
        item_id: String,
    },
}

impl Change {
    /// The id of the item the change is about.
    pub fn item_id(&self) -> &str {
        match self {
            Change::Upsert { item_id, .. } | Change::Delete { item_id } => item_id,
        }
    }
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    /// The state after this page (never empty).
    pub state: String,
    /// True when no more changes wait.
    pub last: bool,
    /// The changes, oldest first.
    pub changes: Vec<Change>,
}

/// An attendee's answer to a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Not known, or not answered yet.
    Unknown,
    /// Accepted.
    Accept,
    /// Tentatively accepted.
    Tentative,
    /// Declined.
    Decline,
}

/// An attendee of a remote item, with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAttendee {
    /// Lower-case SMTP address.
    pub email: String,
    /// Required, optional or resource.
    pub kind: AttendeeKind,
    /// Its answer, as the organiser's copy records it.
    pub response: Response,
}

/// A calendar item as the engine sees it, whatever the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteItem {
    /// The item's id in its mailbox.
    pub item_id: String,
    /// The version (EWS ChangeKey).
    pub change_key: String,
    /// The meeting's UID (the same in every mailbox).
    pub uid: String,
    /// The `RoomsBookingId` tag, on items the sync wrote.
    pub tag: Option<String>,
    /// The organiser's address (lower-case; empty when unknown).
    pub organizer: String,
    /// The subject.
    pub subject: String,
    /// Start (first occurrence of a series).
    pub start: Instant,
    /// End.
    pub end: Instant,
    /// Windows time-zone id (empty when the service gave none).
    pub time_zone: String,
    /// All-day event.
    pub all_day: bool,
    /// Reminder minutes; `None` without a reminder.
    pub reminder_minutes: Option<u32>,
    /// Sensitivity `Private`.
    pub private: bool,
    /// Free/busy.
    pub free_busy: FreeBusy,
    /// The Location text (never decides the room).
    pub location: String,
    /// Attendees with their answers.
    pub attendees: Vec<RemoteAttendee>,
    /// The meeting was cancelled by its organiser (attendee and room copies).
    pub cancelled: bool,
    /// The series, for a recurring master (exception subjects filled in).
    pub recurrence: Option<Recurrence>,
    /// The ids of a series' modified occurrences, by original start.
    pub occurrence_ids: Vec<(Instant, String)>,
    /// A test item of the sync test (tagged `RoomsSyncTest`): the sync
    /// ignores it.
    pub sync_test: bool,
}

/// One fetched item, or why it could not be read.
pub type Fetched = Result<RemoteItem, String>;

/// A version of an item the engine wrote or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemVersion {
    /// The item's id.
    pub item_id: String,
    /// Its version.
    pub change_key: String,
}

/// Why a write was not applied.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// The item changed since the version written against (never
    /// overwritten).
    Conflict,
    /// The item no longer exists.
    NotFound,
    /// Anything else, classified.
    Failed(Error),
}

impl From<Error> for WriteError {
    fn from(e: Error) -> Self {
        WriteError::Failed(e)
    }
}

/// Who is told about a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invitations {
    /// Attendees and rooms get invitations, updates or cancellations (the
    /// organiser's calendar).
    Send,
    /// Nobody is told (an item written straight into a room's calendar).
    None,
}

/// A calendar service, as the engine needs it.
pub trait Transport {
    /// The changes of `mailbox`'s calendar since `state` (`None`: from the
    /// beginning). Fails with an error for which [`Transport::is_invalid_state`]
    /// is true when the state is no longer accepted.
    fn changes(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        state: Option<&str>,
    ) -> Result<ChangePage, Error>;

    /// True for the error that means "start again without a state".
    fn is_invalid_state(&self, error: &Error) -> bool;

    /// Reads items by id (one answer per id, in order), exception subjects of
    /// series included.
    fn fetch(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        ids: &[String],
    ) -> Result<Vec<Fetched>, Error>;

    /// The item tagged with `booking_id`, if any (a series' master).
    fn find_tagged(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        booking_id: &str,
    ) -> Result<Option<ItemVersion>, Error>;

    /// Creates an item with every field of `fields`, tagged `booking_id`,
    /// with the meeting UID `uid`.
    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        fields: &BookingFields,
        booking_id: &str,
        uid: &str,
        invitations: Invitations,
    ) -> Result<ItemVersion, Error>;

    /// Sets every field of `fields` on the item at `version`; never
    /// overwrites a newer version.
    fn update(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        version: &ItemVersion,
        fields: &BookingFields,
        invitations: Invitations,
    ) -> Result<ItemVersion, WriteError>;

    /// Deletes (cancels) an item; an item already gone is success.
    fn delete(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        item_id: &str,
        invitations: Invitations,
    ) -> Result<(), Error>;

    /// The occurrence of the series `uid` whose pattern start is
    /// `original_start`, if it still exists unmodified or modified.
    fn occurrence(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        uid: &str,
        original_start: Instant,
        duration_s: i64,
    ) -> Result<Option<ItemVersion>, Error>;

    /// Moves or renames one occurrence.
    #[allow(clippy::too_many_arguments)]
    fn update_occurrence(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        occurrence: &ItemVersion,
        start: Instant,
        end: Instant,
        subject: &str,
        time_zone: &str,
        invitations: Invitations,
    ) -> Result<(), Error>;

    /// `Some(fix)` when the caller cannot see the private items of
    /// `mailbox` in full (a delegate without `CanViewPrivateItems`), with
    /// the admin step that fixes it; `None` when it sees them (app-only
    /// access always does).
    fn private_items_hidden(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
    ) -> Result<Option<String>, Error>;

    /// Requests sent so far (retries included).
    fn requests(&self) -> u32;
}
