//! The schema of `rooms.db`, as an append-only list of migrations.
//!
//! `PRAGMA user_version` counts the migrations a file has. [`migrate`]
//! applies the missing ones in one `BEGIN IMMEDIATE` transaction, so a file
//! of any earlier version (a `rooms.db` with persons only, from before
//! bookings existed) opens and is brought up to date, and concurrent first
//! opens migrate exactly once. Append, never edit: an entry that shipped is
//! part of every existing file.
//!
//! Version 2 adds the two-way sync:
//!
//! | table | holds |
//! |---|---|
//! | `person_kinds` | the room and sync-master flags of a person (a side table, so that `persons` keeps its five columns) |
//! | `bookings` | the booking fields (attendees, rooms and recurrence as JSON text), state, home mailbox, `revision`/`synced_revision`, attempts, last error, and `pending_seq`, the order of pending changes |
//! | `booking_links` | one Exchange item per booking and mailbox: unique `(mailbox, item_id)`, indexed by `uid` |
//! | `sync_states` | the `SyncFolderItems` state per mailbox, never empty |
//! | `conflicts` | conflict records with the field differences as JSON |
//! | `outbox` | notices for organisers, `sent_at` empty until sent |
//! | `quarantine` | items the component set aside, unique per `(mailbox, item_id)` |
//!
//! Version 3 adds the service (`rooms-sync serve`) and deactivation:
//!
//! | table | holds |
//! |---|---|
//! | `subscriptions` | one EWS subscription per mailbox (lower-case): mode (`O365` push or `O365Pull` pull), the unique `SubscriptionId`, the watermark of the last acknowledged event, the affinity cookie, the push callback URL, and when it was made and last heard from (RFC 3339 UTC text) |
//! | `person_failures` | consecutive `Subscribe` and `GetEvents` failures per mailbox, with the last error |
//! | `person_disabled` | why and when ROOMS stopped syncing a person; `persons.sync_disabled` stays the flag (a row of an older file may have the flag without a reason) |
//!
//! Version 4 adds `rooms-sync diff`:
//!
//! | table | holds |
//! |---|---|
//! | `ignored_differences` | per mailbox (lower-case) and target (a booking id, or the ItemId of an item with no booking), the booking's revision and the item's ChangeKey when the difference was ignored |
//!
//! Version 5 adds the probes of `check`'s `subscription` check:
//!
//! | table | holds |
//! |---|---|
//! | `probe_subscriptions` | a push subscription `check` made to test delivery: its EWS `SubscriptionId`, the mailbox (lower-case), when it was made and when the service first received a notification of it (RFC 3339 UTC text, empty until then) |

use rusqlite::Connection;

/// Schema migrations; `PRAGMA user_version` counts those applied. Append,
/// never edit: existing databases are migrated from their version onwards.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE persons (
         email TEXT PRIMARY KEY NOT NULL,
         sync_mode TEXT NOT NULL,
         sync_url TEXT NOT NULL,
         conflict_behaviour TEXT NOT NULL,
         sync_disabled INTEGER NOT NULL DEFAULT 0
     );",
    "CREATE TABLE person_kinds (
         email TEXT PRIMARY KEY NOT NULL,
         room INTEGER NOT NULL DEFAULT 0,
         sync_master INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE bookings (
         id TEXT PRIMARY KEY NOT NULL,
         organiser TEXT NOT NULL,
         rooms TEXT NOT NULL,
         subject TEXT NOT NULL,
         start_at INTEGER NOT NULL,
         end_at INTEGER NOT NULL,
         time_zone TEXT NOT NULL,
         all_day INTEGER NOT NULL,
         reminder_minutes INTEGER,
         private INTEGER NOT NULL,
         free_busy TEXT NOT NULL,
         attendees TEXT NOT NULL,
         recurrence TEXT,
         state TEXT NOT NULL,
         home TEXT NOT NULL,
         revision INTEGER NOT NULL,
         synced_revision INTEGER NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0,
         last_error TEXT,
         pending_seq INTEGER,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL
     );
     CREATE INDEX bookings_pending ON bookings (home, pending_seq)
         WHERE pending_seq IS NOT NULL;
     CREATE INDEX bookings_pending_seq ON bookings (pending_seq);
     CREATE TABLE booking_links (
         booking_id TEXT NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
         mailbox TEXT NOT NULL,
         item_id TEXT NOT NULL,
         change_key TEXT NOT NULL,
         uid TEXT NOT NULL,
         fingerprint TEXT NOT NULL,
         UNIQUE (mailbox, item_id),
         UNIQUE (booking_id, mailbox)
     );
     CREATE INDEX booking_links_uid ON booking_links (uid);
     CREATE TABLE sync_states (
         mailbox TEXT PRIMARY KEY NOT NULL,
         state TEXT NOT NULL CHECK (length(state) > 0),
         updated_at INTEGER NOT NULL
     );
     CREATE TABLE conflicts (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         booking_id TEXT NOT NULL,
         mailbox TEXT NOT NULL,
         differences TEXT NOT NULL,
         winner TEXT NOT NULL,
         attempt INTEGER NOT NULL,
         at INTEGER NOT NULL
     );
     CREATE INDEX conflicts_booking ON conflicts (booking_id);
     CREATE TABLE outbox (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         booking_id TEXT,
         recipient TEXT NOT NULL,
         kind TEXT NOT NULL,
         message TEXT NOT NULL,
         at INTEGER NOT NULL,
         sent_at INTEGER
     );
     CREATE TABLE quarantine (
         mailbox TEXT NOT NULL,
         item_id TEXT NOT NULL,
         subject TEXT NOT NULL,
         reason TEXT NOT NULL,
         at INTEGER NOT NULL,
         PRIMARY KEY (mailbox, item_id)
     );",
    "CREATE TABLE subscriptions (
         mailbox TEXT PRIMARY KEY NOT NULL,
         mode TEXT NOT NULL,
         subscription_id TEXT NOT NULL UNIQUE,
         watermark TEXT NOT NULL,
         affinity TEXT,
         callback_url TEXT,
         created_at TEXT NOT NULL,
         last_event_at TEXT NOT NULL
     );
     CREATE TABLE person_failures (
         mailbox TEXT PRIMARY KEY NOT NULL,
         subscribe_failures INTEGER NOT NULL DEFAULT 0,
         get_events_failures INTEGER NOT NULL DEFAULT 0,
         last_error TEXT
     );
     CREATE TABLE person_disabled (
         email TEXT PRIMARY KEY NOT NULL,
         reason TEXT NOT NULL,
         disabled_at TEXT NOT NULL
     );",
    "CREATE TABLE ignored_differences (
         mailbox TEXT NOT NULL,
         target TEXT NOT NULL,
         revision INTEGER,
         change_key TEXT,
         at INTEGER NOT NULL,
         PRIMARY KEY (mailbox, target)
     );",
    "CREATE TABLE probe_subscriptions (
         id TEXT PRIMARY KEY NOT NULL,
         mailbox TEXT NOT NULL,
         created_at TEXT NOT NULL,
         delivered_at TEXT
     );",
];

/// Applies the migrations a database lacks, atomically.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
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
