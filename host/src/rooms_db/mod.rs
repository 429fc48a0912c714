//! The ROOMS data of one tenant, in `rooms.db` (SQLite).
//!
//! `rooms-sync`'s implementation of the WIT `rooms` interface stores here
//! what the real ROOMS plugin host keeps in its own database:
//!
//! - [`persons`]: the people and rooms whose Exchange calendars sync, with
//!   the room and sync-master flags;
//! - [`bookings`]: the bookings, their links to Exchange items and the
//!   ROOMS-side changes (add, update, cancel, skip or move an occurrence),
//!   each of which bumps the booking's `revision`; the pending changes and
//!   the look-ups the component asks for;
//! - [`sync_pages`]: the sync's side: per-mailbox `SyncFolderItems` states
//!   and [`RoomsDb::commit`], which stores one page of the component's
//!   results (bookings, links, the new sync state, conflicts, outbox notices,
//!   quarantined items) in one `BEGIN IMMEDIATE` transaction or nothing; and
//!   the listings of conflicts, notices and quarantined items;
//! - [`subscriptions`]: the service's side (`rooms-sync serve`): the EWS
//!   subscriptions per mailbox, consecutive failures, a person's
//!   deactivation with its reason, and the change checks
//!   ([`RoomsDb::pending_homes`], [`RoomsDb::data_version`]);
//! - [`differences`]: `rooms-sync diff`'s side: the bookings homed in a
//!   mailbox and the ignored differences;
//! - [`model`]: the plain types, mirroring the WIT records;
//! - [`migrations`]: the schema, versioned by `PRAGMA user_version`.
//!
//! The file is created on first use and migrated on open. One connection is
//! shared behind a mutex: calls are short and one tenant's runs are few.
//! Instants are stored as INTEGER Unix seconds; attendees and recurrences as
//! JSON text.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

pub mod bookings;
pub mod differences;
pub mod migrations;
pub mod model;
pub mod persons;
pub mod subscriptions;
pub mod sync_pages;

#[cfg(test)]
mod tests;

pub use model::*;
pub use persons::{ConflictBehaviour, DEFAULT_SYNC_URL, Person, PersonRow, SyncMode};
pub use subscriptions::{FailureCounts, FailureKind, SubscriptionRecord};

/// Errors of the ROOMS database. Each message names the cause and, where an
/// operator can act, the fix.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database file could not be opened or created.
    #[error(
        "cannot open the ROOMS database {path}: {source}; check that the tenant directory exists and is writable"
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// A query failed.
    #[error("ROOMS database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The address is not a mail address.
    #[error(
        "`{0}` is not a mail address; use the mailbox's primary SMTP address, e.g. room.berlin@contoso.com"
    )]
    InvalidEmail(String),
    /// The Sync-URL is not an absolute http(s) URL.
    #[error("`{0}` is not a valid Sync-URL; use an absolute https URL such as {DEFAULT_SYNC_URL}")]
    InvalidSyncUrl(String),
    /// The person exists already.
    #[error(
        "{0} is already a person of this tenant; remove it first (`person remove {0}`) to change it"
    )]
    DuplicatePerson(String),
    /// Sync master was asked for a person that is not a room.
    #[error(
        "{0}: sync master (`Ist Sync-Master`) applies to rooms only; add the room with `--room --sync-master`, or leave out `--sync-master`"
    )]
    SyncMasterNotRoom(String),
    /// A stored value is not understood (file written by a newer version?).
    #[error(
        "rooms.db holds an unreadable {what} `{value}` for {email} (written by a newer rooms-sync, or edited by hand)"
    )]
    Corrupt {
        /// The person.
        email: String,
        /// The column.
        what: &'static str,
        /// The stored value.
        value: String,
    },
    /// A stored booking is not understood.
    #[error(
        "rooms.db holds an unreadable {what} for booking {id} (written by a newer rooms-sync, or edited by hand)"
    )]
    CorruptBooking {
        /// The booking id.
        id: String,
        /// The column or value.
        what: String,
    },
    /// No booking has this id.
    #[error("there is no booking `{0}`; see `booking list` for the ids")]
    UnknownBooking(String),
    /// The booking is cancelled and cannot change any more.
    #[error("booking {0} is cancelled; add a new booking instead")]
    BookingCancelled(String),
    /// A booking's fields are invalid; the text names the field and the fix.
    #[error("{0}")]
    InvalidBooking(String),
    /// Neither the organiser nor a room of a new booking is a person.
    #[error(
        "the booking has no mailbox to sync with: neither the organiser {organiser} nor a room ({rooms}) is a person of this tenant; add the organiser (`person add {organiser} --mode O365`) or the room (`person add ROOM --mode O365 --room`) first"
    )]
    NoHome {
        /// The organiser.
        organiser: String,
        /// The rooms, comma-separated, or `none`.
        rooms: String,
    },
    /// A change would move a booking that Exchange already holds to another
    /// mailbox.
    #[error(
        "booking {id} lives in {from}'s calendar and this change would move it to {to}'s; cancel it and add a new booking instead"
    )]
    HomeChange {
        /// The booking.
        id: String,
        /// The current home mailbox.
        from: String,
        /// The home mailbox the change would give it.
        to: String,
    },
    /// An occurrence operation that does not fit the series.
    #[error("{0}")]
    Occurrence(String),
}

/// Puts the file in WAL mode unless it is already. Switching needs the file
/// to itself, and SQLite answers `SQLITE_BUSY` at once (without the busy
/// handler) while another connection opens it at the same moment: retried
/// for up to the busy timeout.
fn set_wal(conn: &Connection) -> Result<(), DbError> {
    let started = std::time::Instant::now();
    loop {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < std::time::Duration::from_secs(30) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The ROOMS database of one tenant.
pub struct RoomsDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for RoomsDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomsDb").field("path", &self.path).finish()
    }
}

impl RoomsDb {
    /// Opens `path`, creating and migrating it when needed.
    ///
    /// The migration runs in one `BEGIN IMMEDIATE` transaction that reads
    /// the schema version inside it, so processes opening a new file at the
    /// same moment migrate it exactly once: the first takes the write lock,
    /// the others wait (up to the busy timeout) and then find it migrated.
    /// The file is kept in WAL mode (`rooms.db-wal` and `rooms.db-shm` beside
    /// it while it is open).
    pub fn open(path: &Path) -> Result<RoomsDb, DbError> {
        let open_error = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Write-ahead log: readers (the CLI, `serve`'s watcher) do not wait
        // for a writer, and with `synchronous=NORMAL` a commit appends to the
        // log without an fsync of its own (the log is synced at checkpoints).
        // A killed process loses nothing that was committed; a power cut can
        // lose the last commits, in order, never half of one: the sync then
        // repeats that work and finds its own writes by their links and tags.
        // The service commits a watermark per poll and per notification,
        // which an fsync each would cap at a few hundred a second.
        set_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrations::migrate(&mut conn).map_err(open_error)?;
        Ok(RoomsDb {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Seconds since the Unix epoch, now (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
