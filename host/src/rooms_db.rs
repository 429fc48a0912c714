//! The ROOMS data of one tenant, in `rooms.db` (SQLite).
//!
//! Today it holds the persons (people and rooms whose Exchange calendars
//! sync). Later versions add bookings, sync states, subscriptions and the
//! outbox. The file is created on first use and migrated by `user_version`.
//! One connection is shared behind a mutex: calls are short and a tenant's
//! runs are few.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

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
        })
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
fn normalise_email(email: &str) -> Result<String, DbError> {
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

/// Errors of the ROOMS database.
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
    /// A stored value is not understood (file written by a newer version?).
    #[error("rooms.db holds an unknown {what} `{value}` for {email}")]
    Corrupt {
        /// The person.
        email: String,
        /// The column.
        what: &'static str,
        /// The stored value.
        value: String,
    },
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

/// Schema migrations; `PRAGMA user_version` counts those applied. Append,
/// never edit: existing databases are migrated from their version onwards.
const MIGRATIONS: &[&str] = &["CREATE TABLE persons (
         email TEXT PRIMARY KEY NOT NULL,
         sync_mode TEXT NOT NULL,
         sync_url TEXT NOT NULL,
         conflict_behaviour TEXT NOT NULL,
         sync_disabled INTEGER NOT NULL DEFAULT 0
     );"];

impl RoomsDb {
    /// Opens `path`, creating and migrating it when needed.
    pub fn open(path: &Path) -> Result<RoomsDb, DbError> {
        let conn = Connection::open(path).map_err(|source| DbError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (done, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            conn.execute_batch(&format!(
                "BEGIN; {migration} PRAGMA user_version = {}; COMMIT;",
                done + 1
            ))?;
        }
        Ok(RoomsDb {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a person; fails if the address exists already.
    pub fn add_person(&self, person: &Person) -> Result<(), DbError> {
        let result = self.conn().execute(
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
            Ok(_) => Ok(()),
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
        Ok(self
            .conn()
            .execute("DELETE FROM persons WHERE email = ?1", [email])?
            > 0)
    }

    /// All persons, ordered by address.
    pub fn list_persons(&self) -> Result<Vec<Person>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT email, sync_mode, sync_url, conflict_behaviour, sync_disabled
             FROM persons ORDER BY email",
        )?;
        let rows = stmt.query_map([], row_to_raw)?;
        rows.map(|r| raw_to_person(r?)).collect()
    }

    /// One person by address (case-insensitive).
    pub fn get_person(&self, email: &str) -> Result<Option<Person>, DbError> {
        let email = email.trim().to_ascii_lowercase();
        let raw = self
            .conn()
            .query_row(
                "SELECT email, sync_mode, sync_url, conflict_behaviour, sync_disabled
                 FROM persons WHERE email = ?1",
                [email],
                row_to_raw,
            )
            .optional()?;
        raw.map(raw_to_person).transpose()
    }
}

type RawPerson = (String, String, String, String, bool);

fn row_to_raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawPerson> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn raw_to_person((email, mode, url, conflict, disabled): RawPerson) -> Result<Person, DbError> {
    let sync_mode = SyncMode::parse(&mode).ok_or_else(|| DbError::Corrupt {
        email: email.clone(),
        what: "sync mode",
        value: mode,
    })?;
    let conflict = ConflictBehaviour::parse(&conflict).ok_or_else(|| DbError::Corrupt {
        email: email.clone(),
        what: "conflict behaviour",
        value: conflict,
    })?;
    Ok(Person {
        email,
        sync_mode,
        sync_url: url,
        conflict,
        sync_disabled: disabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persons_round_trip_through_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rooms.db");
        {
            let db = RoomsDb::open(&path).unwrap();
            let mut room = Person::new("Room.Berlin@Contoso.com", SyncMode::O365Pull)
                .unwrap()
                .with_sync_url("https://outlook.office365.com/EWS/Exchange.asmx")
                .unwrap();
            room.conflict = ConflictBehaviour::Cancel;
            db.add_person(&room).unwrap();
            db.add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
                .unwrap();
        }
        let db = RoomsDb::open(&path).unwrap();
        let all = db.list_persons().unwrap();
        assert_eq!(
            all.iter().map(|p| p.email.as_str()).collect::<Vec<_>>(),
            ["adele@contoso.com", "room.berlin@contoso.com"]
        );
        let room = db.get_person("ROOM.berlin@contoso.com").unwrap().unwrap();
        assert_eq!(room.sync_mode, SyncMode::O365Pull);
        assert_eq!(room.conflict, ConflictBehaviour::Cancel);
        assert!(db.remove_person("room.berlin@contoso.com").unwrap());
        assert!(!db.remove_person("room.berlin@contoso.com").unwrap());
        assert_eq!(db.list_persons().unwrap().len(), 1);
    }

    #[test]
    fn duplicates_and_bad_input_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let db = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
        let p = Person::new("adele@contoso.com", SyncMode::O365).unwrap();
        db.add_person(&p).unwrap();
        let err = db.add_person(&p).unwrap_err();
        assert!(
            err.to_string().contains("person remove adele@contoso.com"),
            "{err}"
        );
        for bad in [
            "adele",
            "@contoso.com",
            "a@b",
            "a b@contoso.com",
            "a@contoso.com.",
        ] {
            assert!(
                matches!(
                    Person::new(bad, SyncMode::O365),
                    Err(DbError::InvalidEmail(_))
                ),
                "{bad}"
            );
        }
        let err = p.with_sync_url("outlook.office365.com/EWS").unwrap_err();
        assert!(err.to_string().contains("absolute https URL"), "{err}");
    }

    #[test]
    fn an_unopenable_file_names_the_path() {
        let err = RoomsDb::open(Path::new("/nonexistent-dir/rooms.db")).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/rooms.db"),
            "{err}"
        );
    }
}
