//! The persons and rooms of a tenant: the mailboxes whose Exchange
//! calendars sync.
//!
//! A person is stored in `persons` (address, sync mode, Sync-URL, conflict
//! behaviour, sync state) and `person_kinds` (whether it is a room, and a
//! room's `Ist Sync-Master` flag). A person without a `person_kinds` row is
//! a person, not a room: that is every person of a database from before the
//! flags existed. When ROOMS stopped syncing a person, `person_disabled`
//! holds why and when (see [`super::subscriptions`]); a flag without a row
//! (set by an older version) reads as disabled without a reason.

use rusqlite::{OptionalExtension, params};

use super::{DbError, RoomsDb};

/// The EWS endpoint of Exchange Online, the default Sync-URL of a person.
pub const DEFAULT_SYNC_URL: &str = "https://outlook.office365.com/EWS/Exchange.asmx";

/// How ROOMS learns about Exchange changes for a person (`SyncMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `O365`: push notifications to the ROOMS webhook.
    O365,
    /// `O365Pull`: pull subscriptions polled with GetEvents.
    O365Pull,
}

impl SyncMode {
    /// The original spelling, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::O365 => "O365",
            SyncMode::O365Pull => "O365Pull",
        }
    }

    /// Parses `O365` or `O365Pull` (any case).
    pub fn parse(s: &str) -> Option<SyncMode> {
        match s.to_ascii_lowercase().as_str() {
            "o365" => Some(SyncMode::O365),
            "o365pull" => Some(SyncMode::O365Pull),
            _ => None,
        }
    }
}

/// What ROOMS does on a conflict (`SyncConflictBehaviour`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictBehaviour {
    /// Reset the Outlook item to the ROOMS state (default).
    Rollback,
    /// Cancel the ROOMS booking and unlink the Outlook item.
    Cancel,
}

impl ConflictBehaviour {
    /// The original spelling, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictBehaviour::Rollback => "Rollback",
            ConflictBehaviour::Cancel => "Cancel",
        }
    }

    /// Parses `Rollback` or `Cancel` (any case).
    pub fn parse(s: &str) -> Option<ConflictBehaviour> {
        match s.to_ascii_lowercase().as_str() {
            "rollback" => Some(ConflictBehaviour::Rollback),
            "cancel" => Some(ConflictBehaviour::Cancel),
            _ => None,
        }
    }
}

/// A ROOMS person or room that syncs with Exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Primary SMTP address of the mailbox (stored lower-case).
    pub email: String,
    /// Push or pull.
    pub sync_mode: SyncMode,
    /// EWS endpoint.
    pub sync_url: String,
    /// Conflict behaviour.
    pub conflict: ConflictBehaviour,
    /// True when ROOMS stopped syncing this person.
    pub sync_disabled: bool,
    /// True for a room (a resource mailbox), false for a person.
    pub room: bool,
    /// `Ist Sync-Master` (rooms only): when the room declines a meeting, the
    /// sync also removes the room from the Exchange meeting.
    pub sync_master: bool,
    /// Why ROOMS stopped syncing this person (with `sync_disabled`); none
    /// when enabled, or for a flag set by an older version.
    pub disabled_reason: Option<String>,
    /// When ROOMS stopped syncing this person (with `disabled_reason`).
    pub disabled_at: Option<jiff::Timestamp>,
}

impl Person {
    /// A person with the defaults of the original product: default Sync-URL,
    /// `Rollback`, sync enabled. The address is checked and lower-cased.
    pub fn new(email: &str, sync_mode: SyncMode) -> Result<Person, DbError> {
        Ok(Person {
            email: normalise_email(email)?,
            sync_mode,
            sync_url: DEFAULT_SYNC_URL.to_string(),
            conflict: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: false,
            sync_master: false,
            disabled_reason: None,
            disabled_at: None,
        })
    }

    /// Marks the person as a room, with `Ist Sync-Master` on or off.
    pub fn as_room(mut self, sync_master: bool) -> Person {
        self.room = true;
        self.sync_master = sync_master;
        self
    }

    /// Sets the Sync-URL after checking it is an absolute http(s) URL.
    pub fn with_sync_url(mut self, url: &str) -> Result<Person, DbError> {
        let parsed: http::Uri = url
            .parse()
            .map_err(|_| DbError::InvalidSyncUrl(url.to_string()))?;
        let scheme_ok = matches!(parsed.scheme_str(), Some("https") | Some("http"));
        if !scheme_ok || parsed.host().is_none() {
            return Err(DbError::InvalidSyncUrl(url.to_string()));
        }
        self.sync_url = url.to_string();
        Ok(self)
    }
}

/// Checks the shape of a mail address and lower-cases it.
pub fn normalise_email(email: &str) -> Result<String, DbError> {
    let email = email.trim();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(email.to_ascii_lowercase())
    } else {
        Err(DbError::InvalidEmail(email.to_string()))
    }
}

impl RoomsDb {
    /// Adds a person; fails if the address exists already, or when sync
    /// master is set for a person that is not a room.
    pub fn add_person(&self, person: &Person) -> Result<(), DbError> {
        if person.sync_master && !person.room {
            return Err(DbError::SyncMasterNotRoom(person.email.clone()));
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let result = tx.execute(
            "INSERT INTO persons (email, sync_mode, sync_url, conflict_behaviour, sync_disabled)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                person.email,
                person.sync_mode.as_str(),
                person.sync_url,
                person.conflict.as_str(),
                person.sync_disabled
            ],
        );
        match result {
            Ok(_) => {
                tx.execute(
                    "INSERT OR REPLACE INTO person_kinds (email, room, sync_master)
                     VALUES (?1, ?2, ?3)",
                    params![person.email, person.room, person.sync_master],
                )?;
                if let (true, Some(reason)) = (person.sync_disabled, &person.disabled_reason) {
                    let at = super::subscriptions::whole_seconds(
                        person.disabled_at.unwrap_or_else(jiff::Timestamp::now),
                    );
                    tx.execute(
                        "INSERT OR REPLACE INTO person_disabled (email, reason, disabled_at)
                         VALUES (?1, ?2, ?3)",
                        params![person.email, reason, at.to_string()],
                    )?;
                }
                tx.commit()?;
                Ok(())
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(DbError::DuplicatePerson(person.email.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a person; false when there was none.
    pub fn remove_person(&self, email: &str) -> Result<bool, DbError> {
        let email = email.trim().to_ascii_lowercase();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let removed = tx.execute("DELETE FROM persons WHERE email = ?1", [&email])? > 0;
        tx.execute("DELETE FROM person_kinds WHERE email = ?1", [&email])?;
        tx.execute("DELETE FROM person_disabled WHERE email = ?1", [&email])?;
        tx.execute("DELETE FROM person_failures WHERE mailbox = ?1", [&email])?;
        tx.commit()?;
        Ok(removed)
    }

    /// All persons, ordered by address. Fails on the first row it cannot
    /// read; [`RoomsDb::list_person_rows`] reports such rows one by one.
    pub fn list_persons(&self) -> Result<Vec<Person>, DbError> {
        self.list_person_rows()?
            .into_iter()
            .map(PersonRow::into_result)
            .collect()
    }

    /// Every stored person, ordered by address, each either valid or with
    /// the reason it cannot be read, so one bad row spoils nothing else.
    pub fn list_person_rows(&self) -> Result<Vec<PersonRow>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT p.email, p.sync_mode, p.sync_url, p.conflict_behaviour, p.sync_disabled,
                    k.room, k.sync_master, d.reason, d.disabled_at
             FROM persons p LEFT JOIN person_kinds k ON k.email = p.email
                  LEFT JOIN person_disabled d ON d.email = p.email
             ORDER BY p.email",
        )?;
        let rows = stmt.query_map([], |row| Ok(read_row(row)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One person by address (case-insensitive).
    pub fn get_person(&self, email: &str) -> Result<Option<Person>, DbError> {
        self.get_person_row(email)?
            .map(PersonRow::into_result)
            .transpose()
    }

    /// One stored person by address (case-insensitive), valid or not.
    pub fn get_person_row(&self, email: &str) -> Result<Option<PersonRow>, DbError> {
        let email = email.trim().to_ascii_lowercase();
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT p.email, p.sync_mode, p.sync_url, p.conflict_behaviour, p.sync_disabled,
                    k.room, k.sync_master, d.reason, d.disabled_at
             FROM persons p LEFT JOIN person_kinds k ON k.email = p.email
                  LEFT JOIN person_disabled d ON d.email = p.email
             WHERE p.email = ?1",
        )?;
        Ok(stmt
            .query_row([email], |row| Ok(read_row(row)))
            .optional()?)
    }
}

/// A stored person as read: valid, or the reason it cannot be used.
#[derive(Debug)]
pub enum PersonRow {
    /// Every column is understood.
    Valid(Person),
    /// A column holds a value this version does not understand.
    Unreadable {
        /// The stored address (shown lossily when it is not text).
        email: String,
        /// What is wrong.
        problem: DbError,
    },
}

impl PersonRow {
    /// The address of the row.
    pub fn email(&self) -> &str {
        match self {
            PersonRow::Valid(p) => &p.email,
            PersonRow::Unreadable { email, .. } => email,
        }
    }

    pub(crate) fn into_result(self) -> Result<Person, DbError> {
        match self {
            PersonRow::Valid(p) => Ok(p),
            PersonRow::Unreadable { problem, .. } => Err(problem),
        }
    }
}

/// Reads one row of `persons` without failing: a value of the wrong type or
/// an unknown spelling makes the row [`PersonRow::Unreadable`].
fn read_row(row: &rusqlite::Row<'_>) -> PersonRow {
    use rusqlite::types::ValueRef;
    let text = |i: usize| -> Option<String> {
        match row.get_ref(i).ok()? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok().map(str::to_owned),
            _ => None,
        }
    };
    let shown = |i: usize| -> String {
        match row.get_ref(i) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Integer(n)) => n.to_string(),
            Ok(ValueRef::Real(x)) => x.to_string(),
            Ok(ValueRef::Blob(b)) => format!("a blob of {} bytes", b.len()),
            Ok(ValueRef::Null) | Err(_) => "NULL".into(),
        }
    };
    let email_shown = crate::text::operator_text(&shown(0), 320);
    let corrupt = |what: &'static str, i: usize| PersonRow::Unreadable {
        email: email_shown.clone(),
        problem: DbError::Corrupt {
            email: email_shown.clone(),
            what,
            value: crate::text::operator_text(&shown(i), 80),
        },
    };
    let Some(email) = text(0) else {
        return corrupt("address", 0);
    };
    let Some(sync_mode) = text(1).as_deref().and_then(SyncMode::parse) else {
        return corrupt("sync mode", 1);
    };
    let Some(sync_url) = text(2) else {
        return corrupt("Sync-URL", 2);
    };
    let Some(conflict) = text(3).as_deref().and_then(ConflictBehaviour::parse) else {
        return corrupt("conflict behaviour", 3);
    };
    let sync_disabled = match row.get_ref(4) {
        Ok(ValueRef::Integer(0)) => false,
        Ok(ValueRef::Integer(1)) => true,
        _ => return corrupt("sync state", 4),
    };
    // The flags come from a LEFT JOIN: no `person_kinds` row is a person.
    let flag = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Integer(0)) | Ok(ValueRef::Null) => Some(false),
        Ok(ValueRef::Integer(1)) => Some(true),
        _ => None,
    };
    let Some(room) = flag(5) else {
        return corrupt("room flag", 5);
    };
    let Some(sync_master) = flag(6) else {
        return corrupt("sync-master flag", 6);
    };
    // The reason and time come from a LEFT JOIN too, and count only while
    // the flag is set.
    let (disabled_reason, disabled_at) = match (sync_disabled, row.get_ref(7)) {
        (false, _) | (true, Ok(ValueRef::Null)) => (None, None),
        (true, _) => {
            let Some(reason) = text(7) else {
                return corrupt("deactivation reason", 7);
            };
            let Some(at) = text(8).and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
                return corrupt("deactivation time", 8);
            };
            (Some(reason), Some(at))
        }
    };
    PersonRow::Valid(Person {
        email,
        sync_mode,
        sync_url,
        conflict,
        sync_disabled,
        room,
        sync_master,
        disabled_reason,
        disabled_at,
    })
}
