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

/// Applies the migrations a database lacks, atomically.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(version).unwrap_or(0);
    if applied >= MIGRATIONS.len() {
        return tx.commit();
    }
    for migration in &MIGRATIONS[applied..] {
        tx.execute_batch(migration)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {};", MIGRATIONS.len()))?;
    tx.commit()
}

impl RoomsDb {
    /// Opens `path`, creating and migrating it when needed.
    ///
    /// The migration runs in one `BEGIN IMMEDIATE` transaction that reads
    /// the schema version inside it, so processes opening a new file at the
    /// same moment migrate it exactly once: the first takes the write lock,
    /// the others wait (up to the busy timeout) and then find it migrated.
    pub fn open(path: &Path) -> Result<RoomsDb, DbError> {
        let open_error = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        migrate(&mut conn).map_err(open_error)?;
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
            "SELECT email, sync_mode, sync_url, conflict_behaviour, sync_disabled
             FROM persons ORDER BY email",
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
            "SELECT email, sync_mode, sync_url, conflict_behaviour, sync_disabled
             FROM persons WHERE email = ?1",
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

    fn into_result(self) -> Result<Person, DbError> {
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
    PersonRow::Valid(Person {
        email,
        sync_mode,
        sync_url,
        conflict,
        sync_disabled,
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

    #[test]
    fn concurrent_first_opens_migrate_exactly_once() {
        // Eight connections (as eight processes would) open the same new
        // file at once, fifty times over.
        for round in 0..50 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("rooms.db");
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        RoomsDb::open(&path).map(|db| db.list_persons().map(|p| p.len()))
                    })
                })
                .collect();
            for opener in openers {
                let listed = opener.join().unwrap();
                assert!(matches!(listed, Ok(Ok(0))), "round {round}: {listed:?}");
            }
            let conn = Connection::open(&path).unwrap();
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version as usize, MIGRATIONS.len());
        }
    }

    #[test]
    fn a_bad_row_is_reported_for_its_person_and_the_rest_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rooms.db");
        let db = RoomsDb::open(&path).unwrap();
        for email in ["a@contoso.com", "c@contoso.com"] {
            db.add_person(&Person::new(email, SyncMode::O365).unwrap())
                .unwrap();
        }
        let raw = Connection::open(&path).unwrap();
        raw.execute_batch(
            "INSERT INTO persons VALUES ('b@contoso.com', 'O365Push', 'https://x', 'Rollback', 0);
             INSERT INTO persons VALUES ('d@contoso.com', 'O365', 'https://x', 'Rollback', 'yes');
             INSERT INTO persons VALUES (X'FF00', 'O365', 'https://x', 'Rollback', 0);",
        )
        .unwrap();
        let rows = db.list_person_rows().unwrap();
        let shown: Vec<(String, bool)> = rows
            .iter()
            .map(|r| (r.email().to_string(), matches!(r, PersonRow::Valid(_))))
            .collect();
        assert_eq!(
            shown,
            [
                ("a@contoso.com".to_string(), true),
                ("b@contoso.com".to_string(), false),
                ("c@contoso.com".to_string(), true),
                ("d@contoso.com".to_string(), false),
                ("a blob of 2 bytes".to_string(), false),
            ]
        );
        let PersonRow::Unreadable { problem, .. } = &rows[1] else {
            unreachable!()
        };
        assert!(
            problem
                .to_string()
                .contains("sync mode `O365Push` for b@contoso.com"),
            "{problem}"
        );
        assert!(matches!(
            db.get_person_row("d@contoso.com").unwrap(),
            Some(PersonRow::Unreadable { .. })
        ));
        assert!(db.get_person("c@contoso.com").unwrap().is_some());
        assert!(db.get_person("b@contoso.com").is_err());
    }
}
