//! The service's side of `rooms.db` (`rooms-sync serve`): the EWS change
//! subscriptions it holds, the consecutive failures per mailbox that make it
//! stop syncing a person, and the deactivation of a person with its reason.
//!
//! - `subscriptions`: one row per watched mailbox (lower-case), keyed also by
//!   its unique EWS `SubscriptionId`, so that a push notification finds its
//!   subscription ([`RoomsDb::subscription_by_id`], the WIT
//!   `rooms.find-subscription`) and a restart resumes from the stored
//!   watermark. Instants are RFC 3339 UTC text.
//! - `person_failures`: consecutive `Subscribe` and `GetEvents` failures
//!   ([`FailureKind`]) with the last error; a success clears its counter.
//! - `person_disabled`: why and when ROOMS stopped syncing a person;
//!   `persons.sync_disabled` stays the flag, and [`RoomsDb::enable_person`]
//!   clears flag, reason and counters together.
//!
//! - `probe_subscriptions`: the push subscriptions `rooms-sync check` makes
//!   for its `subscription` check ([`RoomsDb::record_probe`]). The service,
//!   another process on the same file, finds a probe by its id like a
//!   subscription ([`RoomsDb::subscription_by_id`], mode `O365`, no
//!   watermark), so its webhook answers the probe's notifications OK, and
//!   [`RoomsDb::record_subscription_event`] sets the probe's `delivered_at`,
//!   which `check` waits for ([`RoomsDb::probe_delivered`]). `check` drops
//!   the probe at the end ([`RoomsDb::drop_probe`]); the next notification
//!   then finds nothing and is answered `Unsubscribe`, which ends the
//!   subscription at Exchange. A probe older than [`PROBE_LIFETIME_SECS`]
//!   (a `check` that was killed) counts as gone and is deleted by the next
//!   `record_probe`.
//!
//! [`RoomsDb::pending_homes`] and [`RoomsDb::data_version`] let the service
//! notice ROOMS-side changes made by other processes (the CLI, the ROOMS
//! plugin host) without reading every booking.

use rusqlite::{OptionalExtension, Row, params};

use super::{DbError, RoomsDb, SyncMode};

/// Longest last error kept per mailbox, in characters.
const MAX_ERROR_CHARS: usize = 2_000;

/// A change subscription on one person's calendar, as the service keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The watched mailbox, lower-case.
    pub mailbox: String,
    /// `O365` (push) or `O365Pull` (pull).
    pub mode: SyncMode,
    /// The EWS `SubscriptionId` (unique across the tenant).
    pub id: String,
    /// The watermark of the last acknowledged event.
    pub watermark: String,
    /// The `X-BackEndOverrideCookie` value Exchange set at `Subscribe`.
    pub affinity: Option<String>,
    /// The push callback URL (push subscriptions only).
    pub callback_url: Option<String>,
    /// When the subscription was made.
    pub created_at: jiff::Timestamp,
    /// The last successful `GetEvents` or push notification, heartbeats
    /// included.
    pub last_event_at: jiff::Timestamp,
}

/// Which operation failed for a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// `Subscribe`.
    Subscribe,
    /// `GetEvents` (or a push subscription that stopped delivering).
    GetEvents,
}

impl FailureKind {
    /// The counter's column in `person_failures`.
    fn column(self) -> &'static str {
        match self {
            FailureKind::Subscribe => "subscribe_failures",
            FailureKind::GetEvents => "get_events_failures",
        }
    }
}

/// The consecutive failures of one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Consecutive `Subscribe` failures.
    pub subscribe: u32,
    /// Consecutive `GetEvents` failures.
    pub get_events: u32,
    /// The message of the last failure recorded.
    pub last_error: Option<String>,
}

/// How long a probe subscription is honoured: longer than any
/// `--subscription-wait-secs` a `check` can be given, short enough that a
/// probe left by a killed `check` is answered `Unsubscribe` within the hour.
pub const PROBE_LIFETIME_SECS: i64 = 3600;

/// The columns [`read_subscription`] reads, in order.
const COLUMNS: &str = "mailbox, mode, subscription_id, watermark, affinity, callback_url, \
     created_at, last_event_at";

/// `at` without its fraction of a second, as deactivation times are shown.
pub(crate) fn whole_seconds(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second()).unwrap_or(at)
}

fn mailbox_key(mailbox: &str) -> String {
    mailbox.trim().to_ascii_lowercase()
}

/// Reads one `subscriptions` row; an unknown mode or instant is
/// [`DbError::Corrupt`].
fn read_subscription(row: &Row<'_>) -> rusqlite::Result<Result<SubscriptionRecord, DbError>> {
    let mailbox: String = row.get(0)?;
    let mode: String = row.get(1)?;
    let created_at: String = row.get(6)?;
    let last_event_at: String = row.get(7)?;
    let corrupt = |what: &'static str, value: &str| DbError::Corrupt {
        email: crate::text::operator_text(&mailbox, 320),
        what,
        value: crate::text::operator_text(value, 80),
    };
    let Some(mode) = SyncMode::parse(&mode) else {
        return Ok(Err(corrupt("subscription mode", &mode)));
    };
    let Ok(created) = created_at.parse::<jiff::Timestamp>() else {
        return Ok(Err(corrupt("subscription creation time", &created_at)));
    };
    let Ok(last_event) = last_event_at.parse::<jiff::Timestamp>() else {
        return Ok(Err(corrupt("subscription last event time", &last_event_at)));
    };
    Ok(Ok(SubscriptionRecord {
        mode,
        id: row.get(2)?,
        watermark: row.get(3)?,
        affinity: row.get(4)?,
        callback_url: row.get(5)?,
        created_at: created,
        last_event_at: last_event,
        mailbox,
    }))
}

impl RoomsDb {
    /// Stores a subscription, replacing the mailbox's previous one.
    pub fn save_subscription(&self, s: &SubscriptionRecord) -> Result<(), DbError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO subscriptions (mailbox, mode, subscription_id, watermark, affinity,
                                        callback_url, created_at, last_event_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (mailbox) DO UPDATE SET
                 mode = excluded.mode,
                 subscription_id = excluded.subscription_id,
                 watermark = excluded.watermark,
                 affinity = excluded.affinity,
                 callback_url = excluded.callback_url,
                 created_at = excluded.created_at,
                 last_event_at = excluded.last_event_at",
        )?
        .execute(params![
            mailbox_key(&s.mailbox),
            s.mode.as_str(),
            s.id,
            s.watermark,
            s.affinity,
            s.callback_url,
            s.created_at.to_string(),
            s.last_event_at.to_string(),
        ])?;
        Ok(())
    }

    /// The subscription of a mailbox (case-insensitive), if any.
    pub fn subscription(&self, mailbox: &str) -> Result<Option<SubscriptionRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE mailbox = ?1"
        ))?;
        stmt.query_row([mailbox_key(mailbox)], read_subscription)
            .optional()?
            .transpose()
    }

    /// The subscription with this EWS `SubscriptionId` (exact), if any.
    ///
    /// A probe of `check` ([`RoomsDb::record_probe`]) younger than
    /// [`PROBE_LIFETIME_SECS`] is found too, as a push subscription of its
    /// mailbox with an empty watermark; its `last_event_at` is when it was
    /// delivered, or made.
    pub fn subscription_by_id(&self, id: &str) -> Result<Option<SubscriptionRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE subscription_id = ?1"
        ))?;
        let stored = stmt
            .query_row([id], read_subscription)
            .optional()?
            .transpose()?;
        if stored.is_some() {
            return Ok(stored);
        }
        drop(stmt);
        drop(conn);
        self.probe(id)
    }

    /// The live probe with this id, as a subscription record.
    fn probe(&self, id: &str) -> Result<Option<SubscriptionRecord>, DbError> {
        let conn = self.conn();
        let row: Option<(String, String, Option<String>)> = conn
            .prepare_cached(
                "SELECT mailbox, created_at, delivered_at FROM probe_subscriptions WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((mailbox, created_at, delivered_at)) = row else {
            return Ok(None);
        };
        let corrupt = |what: &'static str, value: &str| DbError::Corrupt {
            email: crate::text::operator_text(&mailbox, 320),
            what,
            value: crate::text::operator_text(value, 80),
        };
        let created: jiff::Timestamp = created_at
            .parse()
            .map_err(|_| corrupt("probe creation time", &created_at))?;
        if jiff::Timestamp::now().as_second() - created.as_second() > PROBE_LIFETIME_SECS {
            return Ok(None);
        }
        let delivered = match delivered_at {
            Some(at) => Some(
                at.parse::<jiff::Timestamp>()
                    .map_err(|_| corrupt("probe delivery time", &at))?,
            ),
            None => None,
        };
        Ok(Some(SubscriptionRecord {
            mailbox: mailbox.clone(),
            mode: SyncMode::O365,
            id: id.to_owned(),
            watermark: String::new(),
            affinity: None,
            callback_url: None,
            created_at: created,
            last_event_at: delivered.unwrap_or(created),
        }))
    }

    /// Stores the push subscription `id` of `mailbox` as a probe of
    /// `check`'s `subscription` check (replacing a probe of the same id),
    /// and deletes probes older than [`PROBE_LIFETIME_SECS`].
    pub fn record_probe(&self, id: &str, mailbox: &str) -> Result<(), DbError> {
        let now = jiff::Timestamp::now();
        let expired =
            jiff::Timestamp::from_second(now.as_second() - PROBE_LIFETIME_SECS).unwrap_or(now);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // RFC 3339 UTC text of whole seconds sorts as time does.
        tx.execute(
            "DELETE FROM probe_subscriptions WHERE created_at < ?1",
            [whole_seconds(expired).to_string()],
        )?;
        tx.execute(
            "INSERT INTO probe_subscriptions (id, mailbox, created_at, delivered_at)
             VALUES (?1, ?2, ?3, NULL)
             ON CONFLICT (id) DO UPDATE SET
                 mailbox = excluded.mailbox, created_at = excluded.created_at,
                 delivered_at = NULL",
            params![id, mailbox_key(mailbox), whole_seconds(now).to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// True once a notification of the probe `id` was recorded; false
    /// while none was, or when there is no such probe.
    pub fn probe_delivered(&self, id: &str) -> Result<bool, DbError> {
        let conn = self.conn();
        let delivered: Option<bool> = conn
            .prepare_cached(
                "SELECT delivered_at IS NOT NULL FROM probe_subscriptions WHERE id = ?1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(delivered.unwrap_or(false))
    }

    /// Forgets the probe `id`; false when there was none.
    pub fn drop_probe(&self, id: &str) -> Result<bool, DbError> {
        let conn = self.conn();
        let deleted = conn
            .prepare_cached("DELETE FROM probe_subscriptions WHERE id = ?1")?
            .execute([id])?;
        Ok(deleted > 0)
    }

    /// Every stored subscription, ordered by mailbox.
    pub fn list_subscriptions(&self) -> Result<Vec<SubscriptionRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM subscriptions ORDER BY mailbox"
        ))?;
        let rows = stmt.query_map([], read_subscription)?;
        rows.map(|r| r?).collect()
    }

    /// Forgets the subscription of a mailbox; false when there was none.
    pub fn delete_subscription(&self, mailbox: &str) -> Result<bool, DbError> {
        let conn = self.conn();
        let deleted = conn
            .prepare_cached("DELETE FROM subscriptions WHERE mailbox = ?1")?
            .execute([mailbox_key(mailbox)])?;
        Ok(deleted > 0)
    }

    /// Advances watermark and last_event_at of the subscription with this id
    /// (no-op → false when the id is no longer stored, e.g. it was replaced
    /// meanwhile). For a probe of `check` it sets `delivered_at` (the first
    /// time), which [`RoomsDb::probe_delivered`] reports.
    pub fn record_subscription_event(
        &self,
        id: &str,
        watermark: &str,
        at: jiff::Timestamp,
    ) -> Result<bool, DbError> {
        let conn = self.conn();
        let changed = conn
            .prepare_cached(
                "UPDATE subscriptions SET watermark = ?2, last_event_at = ?3
                 WHERE subscription_id = ?1",
            )?
            .execute(params![id, watermark, at.to_string()])?;
        let probed = conn
            .prepare_cached(
                "UPDATE probe_subscriptions SET delivered_at = COALESCE(delivered_at, ?2)
                 WHERE id = ?1",
            )?
            .execute(params![id, at.to_string()])?;
        Ok(changed + probed > 0)
    }

    /// Adds one consecutive failure and returns the new count; `message` is
    /// kept as last_error.
    pub fn record_failure(
        &self,
        mailbox: &str,
        kind: FailureKind,
        message: &str,
    ) -> Result<u32, DbError> {
        let column = kind.column();
        let conn = self.conn();
        let count: i64 = conn
            .prepare_cached(&format!(
                "INSERT INTO person_failures (mailbox, {column}, last_error) VALUES (?1, 1, ?2)
                 ON CONFLICT (mailbox) DO UPDATE SET
                     {column} = {column} + 1, last_error = excluded.last_error
                 RETURNING {column}"
            ))?
            .query_row(
                params![
                    mailbox_key(mailbox),
                    crate::text::operator_text(message, MAX_ERROR_CHARS)
                ],
                |r| r.get(0),
            )?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Resets one failure counter of a mailbox (after a success). A mailbox
    /// left without failures loses its row, last error included.
    pub fn clear_failures(&self, mailbox: &str, kind: FailureKind) -> Result<(), DbError> {
        let column = kind.column();
        let mailbox = mailbox_key(mailbox);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            &format!("UPDATE person_failures SET {column} = 0 WHERE mailbox = ?1"),
            [&mailbox],
        )?;
        tx.execute(
            "DELETE FROM person_failures
             WHERE mailbox = ?1 AND subscribe_failures = 0 AND get_events_failures = 0",
            [&mailbox],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The consecutive failures of a mailbox (zero when none are recorded).
    pub fn failures(&self, mailbox: &str) -> Result<FailureCounts, DbError> {
        let conn = self.conn();
        let counts = conn
            .prepare_cached(
                "SELECT subscribe_failures, get_events_failures, last_error
                 FROM person_failures WHERE mailbox = ?1",
            )?
            .query_row([mailbox_key(mailbox)], |r| {
                let count = |i: usize| -> rusqlite::Result<u32> {
                    Ok(u32::try_from(r.get::<_, i64>(i)?).unwrap_or(u32::MAX))
                };
                Ok(FailureCounts {
                    subscribe: count(0)?,
                    get_events: count(1)?,
                    last_error: r.get(2)?,
                })
            })
            .optional()?;
        Ok(counts.unwrap_or_default())
    }

    /// Sets sync_disabled with the reason (and time, kept to the second);
    /// false when there is no such person.
    pub fn disable_person(
        &self,
        email: &str,
        reason: &str,
        at: jiff::Timestamp,
    ) -> Result<bool, DbError> {
        let email = mailbox_key(email);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = tx.execute(
            "UPDATE persons SET sync_disabled = 1 WHERE email = ?1",
            [&email],
        )? > 0;
        if found {
            tx.execute(
                "INSERT OR REPLACE INTO person_disabled (email, reason, disabled_at)
                 VALUES (?1, ?2, ?3)",
                params![
                    email,
                    crate::text::operator_text(reason, MAX_ERROR_CHARS),
                    whole_seconds(at).to_string()
                ],
            )?;
        }
        tx.commit()?;
        Ok(found)
    }

    /// Clears sync_disabled, the reason and both failure counters.
    pub fn enable_person(&self, email: &str) -> Result<bool, DbError> {
        let email = mailbox_key(email);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = tx.execute(
            "UPDATE persons SET sync_disabled = 0 WHERE email = ?1",
            [&email],
        )? > 0;
        if found {
            tx.execute("DELETE FROM person_disabled WHERE email = ?1", [&email])?;
            tx.execute("DELETE FROM person_failures WHERE mailbox = ?1", [&email])?;
        }
        tx.commit()?;
        Ok(found)
    }

    /// Home mailboxes with pending ROOMS-side changes (the same condition as
    /// [`RoomsDb::pending_changes`]: revision > synced_revision, state not
    /// sync-disabled), lower-case, distinct, sorted.
    pub fn pending_homes(&self) -> Result<Vec<String>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT lower(home) AS h FROM bookings
             WHERE revision > synced_revision AND state != 'sync-disabled'
             ORDER BY h",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `PRAGMA data_version` of this connection: changes when another
    /// connection committed.
    pub fn data_version(&self) -> Result<i64, DbError> {
        let conn = self.conn();
        Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    #[test]
    fn a_probe_left_by_a_killed_check_expires_and_is_cleared_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let db = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
        db.record_probe("old", "room1@contoso.com").unwrap();
        let long_ago = jiff::Timestamp::from_second(
            jiff::Timestamp::now().as_second() - PROBE_LIFETIME_SECS - 60,
        )
        .unwrap();
        db.conn()
            .execute(
                "UPDATE probe_subscriptions SET created_at = ?1 WHERE id = 'old'",
                [whole_seconds(long_ago).to_string()],
            )
            .unwrap();
        // Too old to be honoured: its notifications are answered Unsubscribe.
        assert_eq!(db.subscription_by_id("old").unwrap(), None);
        db.record_probe("new", "room1@contoso.com").unwrap();
        let count: i64 = db
            .conn()
            .query_row("SELECT count(*) FROM probe_subscriptions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 1);
        assert!(db.subscription_by_id("new").unwrap().is_some());
        // A stored subscription of the same id wins over a probe.
        let at = whole_seconds(jiff::Timestamp::now());
        db.save_subscription(&SubscriptionRecord {
            mailbox: "room1@contoso.com".into(),
            mode: SyncMode::O365Pull,
            id: "new".into(),
            watermark: "wm".into(),
            affinity: None,
            callback_url: None,
            created_at: at,
            last_event_at: at,
        })
        .unwrap();
        assert_eq!(
            db.subscription_by_id("new").unwrap().unwrap().mode,
            SyncMode::O365Pull
        );
    }
}
