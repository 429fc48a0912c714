//! The store side of `rooms-sync diff`: the bookings homed in a mailbox
//! (the WIT `rooms.list-bookings`) and the ignored differences.
//!
//! An ignored difference (`diff --resolve TARGET ignore`) is one row of
//! `ignored_differences` per mailbox and target (a booking id, or the ItemId
//! of an item with no booking), holding the booking's revision and the
//! item's ChangeKey as `diff` saw them. [`IgnoredDifference::hides`] hides a
//! difference only while both are unchanged, so a new change on either side
//! lists it again. Ignoring the same target again replaces the row.

use rusqlite::params;

use super::bookings::{BOOKING_COLUMNS, links_of, read_booking_row, to_sql_u64};
use super::model::{Booking, Instant};
use super::{DbError, RoomsDb, unix_now};

/// One ignored difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredDifference {
    /// The mailbox (lower-case).
    pub mailbox: String,
    /// The booking id, or the ItemId of an item with no booking.
    pub target: String,
    /// The booking's revision when it was ignored; none for an item with
    /// no booking.
    pub revision: Option<u64>,
    /// The item's ChangeKey when it was ignored; none for a booking with
    /// no item.
    pub change_key: Option<String>,
    /// When it was ignored (seconds since the epoch).
    pub at: Instant,
}

impl IgnoredDifference {
    /// True when this record hides a difference of `target` seen at
    /// `revision` and `change_key` (both sides unchanged since).
    pub fn hides(&self, target: &str, revision: Option<u64>, change_key: Option<&str>) -> bool {
        self.target == target
            && self.revision == revision
            && self.change_key.as_deref() == change_key
    }
}

impl RoomsDb {
    /// The bookings whose home is `mailbox` (any case), in any state, that
    /// start before `to`, by start then id, with their links.
    pub fn home_bookings_before(
        &self,
        mailbox: &str,
        to: Instant,
    ) -> Result<Vec<Booking>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE lower(home) = ?1 AND start_at < ?2 \
             ORDER BY start_at, id"
        ))?;
        let rows = stmt.query_map(params![mailbox.trim().to_ascii_lowercase(), to], |row| {
            Ok(read_booking_row(row))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let mut booking = row??;
            booking.links = links_of(&conn, &booking.id)?;
            out.push(booking);
        }
        Ok(out)
    }

    /// Records that the difference of `target` in `mailbox`, as seen at
    /// `revision` and `change_key`, is ignored (replacing an earlier record).
    pub fn ignore_difference(
        &self,
        mailbox: &str,
        target: &str,
        revision: Option<u64>,
        change_key: Option<&str>,
    ) -> Result<(), DbError> {
        self.conn().execute(
            "INSERT INTO ignored_differences (mailbox, target, revision, change_key, at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (mailbox, target) DO UPDATE SET revision = excluded.revision, \
             change_key = excluded.change_key, at = excluded.at",
            params![
                mailbox.trim().to_ascii_lowercase(),
                target,
                revision.map(to_sql_u64),
                change_key,
                unix_now()
            ],
        )?;
        Ok(())
    }

    /// The ignored differences of `mailbox`, by target.
    pub fn ignored_differences(&self, mailbox: &str) -> Result<Vec<IgnoredDifference>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT mailbox, target, revision, change_key, at FROM ignored_differences \
             WHERE mailbox = ?1 ORDER BY target",
        )?;
        let rows = stmt.query_map(params![mailbox.trim().to_ascii_lowercase()], |r| {
            let revision: Option<i64> = r.get(2)?;
            Ok(IgnoredDifference {
                mailbox: r.get(0)?,
                target: r.get(1)?,
                revision: revision.map(|v| u64::try_from(v).unwrap_or(0)),
                change_key: r.get(3)?,
                at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ItemIds of `mailbox` that the sync quarantined.
    pub fn quarantined_item_ids(&self, mailbox: &str) -> Result<Vec<String>, DbError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT item_id FROM quarantine WHERE lower(mailbox) = ?1")?;
        let rows = stmt.query_map(params![mailbox.trim().to_ascii_lowercase()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the ignore record of `target` in `mailbox`; true when there
    /// was one.
    pub fn unignore_difference(&self, mailbox: &str, target: &str) -> Result<bool, DbError> {
        let n = self.conn().execute(
            "DELETE FROM ignored_differences WHERE mailbox = ?1 AND target = ?2",
            params![mailbox.trim().to_ascii_lowercase(), target],
        )?;
        Ok(n > 0)
    }

    /// The ignore record of `target` in `mailbox`, if any.
    pub fn ignored_difference(
        &self,
        mailbox: &str,
        target: &str,
    ) -> Result<Option<IgnoredDifference>, DbError> {
        Ok(self
            .ignored_differences(mailbox)?
            .into_iter()
            .find(|i| i.target == target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ignore_hides_only_the_same_revision_and_change_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = RoomsDb::open(&dir.path().join("rooms.db")).unwrap();
        db.ignore_difference("Alice@Contoso.com", "b1", Some(3), Some("ck1"))
            .unwrap();
        let all = db.ignored_differences("alice@contoso.com").unwrap();
        assert_eq!(all.len(), 1);
        let record = &all[0];
        assert!(record.hides("b1", Some(3), Some("ck1")));
        assert!(!record.hides("b1", Some(4), Some("ck1")), "ROOMS changed");
        assert!(
            !record.hides("b1", Some(3), Some("ck2")),
            "Exchange changed"
        );
        assert!(!record.hides("b2", Some(3), Some("ck1")));
        // Ignoring again replaces the record.
        db.ignore_difference("alice@contoso.com", "b1", Some(4), None)
            .unwrap();
        let again = db
            .ignored_difference("alice@contoso.com", "b1")
            .unwrap()
            .unwrap();
        assert!(again.hides("b1", Some(4), None));
        assert_eq!(
            db.ignored_differences("alice@contoso.com").unwrap().len(),
            1
        );
        assert!(
            db.ignored_differences("bob@contoso.com")
                .unwrap()
                .is_empty()
        );
        assert!(db.unignore_difference("alice@contoso.com", "b1").unwrap());
        assert!(
            db.ignored_differences("alice@contoso.com")
                .unwrap()
                .is_empty()
        );
    }
}
