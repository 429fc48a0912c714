//! The sync's side of the store: sync states, the items a mailbox's links
//! point to, and pages of results
//! committed in one transaction; and the records the sync leaves for
//! operators (conflicts, the outbox of notices, quarantined items).
//!
//! [`RoomsDb::commit`] implements `rooms.commit` of `wit/rooms.wit`: in one
//! `BEGIN IMMEDIATE` transaction it first checks the whole page, then
//! stores all of it, or nothing:
//!
//! 1. An inconsistent page is [`CommitError::Invalid`]: an empty mailbox or
//!    sync state, an empty or repeated booking id, an unknown booking id
//!    with a base revision or with `written`/`bookkeeping`, `written`
//!    without a base revision or with one newer than the stored revision,
//!    a booking with two links into one mailbox, one item linked to two
//!    bookings of the page, an item reference without mailbox or item id.
//! 2. A `from-exchange` write whose base revision is not the stored
//!    revision (a booking ROOMS changed meanwhile, or one it created
//!    meanwhile under the same id) makes the page [`CommitError::Stale`]
//!    with those ids.
//! 3. Otherwise, in this order: the `unlinked` items lose their links; each
//!    booking is written per its [`WriteEffect`](super::WriteEffect) and its
//!    links are replaced by the page's (an item linked to another booking
//!    moves to this one); the sync state is stored; conflicts and notices
//!    are appended; `released` items leave quarantine and `quarantined`
//!    ones enter it (replacing an earlier entry of the same item).
//!
//! The counters: `from-exchange` stores fields, state, home, attempts and
//! last error, sets `revision` to the stored one plus one (1 for a new
//! booking) and `synced_revision` to the same; `written` sets
//! `synced_revision` to the base revision and keeps fields and revision (a
//! change made meanwhile stays pending), replaces attempts and last error,
//! and applies a `cancelled` or `sync-disabled` state; `bookkeeping`
//! replaces attempts, last error and state and keeps both counters.
//!
//! Text that the component hands over for operators (notice messages,
//! quarantine reasons, conflict values, last errors) is made safe and
//! capped with [`crate::text::operator_text`] before it is stored.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use super::bookings::{NEXT_PENDING_SEQ, insert_booking, json_columns, to_sql_u64};
use super::{
    BookingState, CommitError, Conflict, ConflictRecord, ConflictWinner, DbError, FieldDifference,
    ItemRef, Notice, NoticeKind, NoticeRecord, Page, QuarantineRecord, QuarantinedItem, RoomsDb,
    WriteEffect, unix_now,
};
use crate::text::operator_text;

/// Longest stored operator message (notices, reasons, last errors), in
/// characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// Longest stored value of a conflict's field difference, in characters.
pub const MAX_DIFFERENCE_CHARS: usize = 1_000;

/// Most problems one `invalid` answer lists.
const MAX_PROBLEMS_SHOWN: usize = 10;

impl RoomsDb {
    /// The `SyncFolderItems` state of `mailbox`'s calendar as last
    /// committed; `None` before the first sync or after
    /// [`RoomsDb::reset_sync_state`].
    pub fn sync_state(&self, mailbox: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT state FROM sync_states WHERE mailbox = ?1")?
            .query_row([mailbox.trim().to_ascii_lowercase()], |r| r.get(0))
            .optional()?)
    }

    /// Drops the sync state of `mailbox`, so that its next sync is a full
    /// resync; false when there was none.
    pub fn reset_sync_state(&self, mailbox: &str) -> Result<bool, DbError> {
        Ok(self.conn().execute(
            "DELETE FROM sync_states WHERE mailbox = ?1",
            [mailbox.trim().to_ascii_lowercase()],
        )? > 0)
    }

    /// Every item of `mailbox` that a booking links to (any state), by item
    /// id: what a full resync compares with the items Exchange still holds.
    pub fn linked_items(&self, mailbox: &str) -> Result<Vec<ItemRef>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT mailbox, item_id FROM booking_links WHERE mailbox = ?1 ORDER BY item_id",
        )?;
        let rows = stmt.query_map([mailbox.trim().to_ascii_lowercase()], |r| {
            Ok(ItemRef {
                mailbox: r.get(0)?,
                item_id: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores one page of the component's results in one transaction, or
    /// nothing (see the module docs for the checks and the order).
    pub fn commit(&self, page: &Page) -> Result<(), CommitError> {
        let store = |e: DbError| CommitError::Store(e.to_string());
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| store(e.into()))?;
        let stored = check_page(&tx, page)?;
        apply_page(&tx, page, &stored).map_err(store)?;
        tx.commit().map_err(|e| store(e.into()))
    }

    /// Every conflict record, oldest first.
    pub fn list_conflicts(&self) -> Result<Vec<ConflictRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, booking_id, mailbox, differences, winner, attempt, at
             FROM conflicts ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, booking, mailbox, differences, winner, attempt, at) = row?;
            let corrupt = |what: &str| DbError::CorruptBooking {
                id: operator_text(&booking, 80),
                what: format!("{what} of conflict record {seq}"),
            };
            let differences: Vec<FieldDifference> =
                serde_json::from_str(&differences).map_err(|_| corrupt("differences"))?;
            let winner = ConflictWinner::parse(&winner).ok_or_else(|| corrupt("winner"))?;
            out.push(ConflictRecord {
                seq,
                conflict: Conflict {
                    booking,
                    mailbox,
                    differences,
                    winner,
                    attempt: u32::try_from(attempt).unwrap_or(0),
                    at,
                },
            });
        }
        Ok(out)
    }

    /// Every notice of the outbox, oldest first.
    pub fn list_notices(&self) -> Result<Vec<NoticeRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, booking_id, recipient, kind, message, at FROM outbox ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, booking, recipient, kind, message, at) = row?;
            let kind = NoticeKind::parse(&kind).ok_or_else(|| DbError::CorruptBooking {
                id: booking.clone().unwrap_or_default(),
                what: format!("kind of outbox notice {seq}"),
            })?;
            out.push(NoticeRecord {
                seq,
                notice: Notice {
                    booking,
                    recipient,
                    kind,
                    message,
                    at,
                },
            });
        }
        Ok(out)
    }

    /// Every quarantined item, by mailbox and item id.
    pub fn list_quarantined(&self) -> Result<Vec<QuarantineRecord>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT mailbox, item_id, subject, reason, at FROM quarantine ORDER BY mailbox, item_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QuarantineRecord {
                item: QuarantinedItem {
                    item: ItemRef {
                        mailbox: r.get(0)?,
                        item_id: r.get(1)?,
                    },
                    subject: r.get(2)?,
                    reason: r.get(3)?,
                },
                at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The counters and state of a stored booking, as the checks need them.
#[derive(Debug, Clone, Copy)]
struct StoredMeta {
    revision: u64,
}

/// Checks a page against the store; returns the stored revision of each
/// booking of the page that exists.
fn check_page(conn: &Connection, page: &Page) -> Result<HashMap<String, StoredMeta>, CommitError> {
    let store = |e: rusqlite::Error| CommitError::Store(e.to_string());
    let mut problems: Vec<String> = Vec::new();
    let mut stale: Vec<String> = Vec::new();
    let mut stored_meta = HashMap::new();
    if page.mailbox.trim().is_empty() {
        problems.push("the page names no mailbox".into());
    }
    if page
        .sync_state
        .as_deref()
        .is_some_and(|s| s.trim().is_empty())
    {
        problems.push("the sync state is empty; send none to keep the stored one".into());
    }
    let mut ids = HashSet::new();
    let mut items: HashMap<(String, &str), &str> = HashMap::new();
    for (n, write) in page.bookings.iter().enumerate() {
        let booking = &write.booking;
        let id = booking.id.as_str();
        let at = || format!("booking {} (#{n})", operator_text(id, 80));
        if id.trim().is_empty() {
            problems.push(format!("booking #{n} has an empty id"));
            continue;
        }
        if !ids.insert(id) {
            problems.push(format!("{} appears twice in the page", at()));
            continue;
        }
        let mut mailboxes = HashSet::new();
        for link in &booking.links {
            let mailbox = link.mailbox.trim().to_ascii_lowercase();
            if mailbox.is_empty() || link.item_id.is_empty() {
                problems.push(format!("{} has a link without mailbox or item id", at()));
                continue;
            }
            if !mailboxes.insert(mailbox.clone()) {
                problems.push(format!("{} has two links into {mailbox}", at()));
            }
            if let Some(other) = items.insert((mailbox.clone(), &link.item_id), id)
                && other != id
            {
                problems.push(format!(
                    "an item of {mailbox} is linked to both booking {} and booking {}",
                    operator_text(other, 80),
                    operator_text(id, 80)
                ));
            }
        }
        if write.effect == WriteEffect::FromExchange && booking.home.trim().is_empty() {
            problems.push(format!("{} has no home mailbox", at()));
        }
        let stored: Option<i64> = conn
            .prepare_cached("SELECT revision FROM bookings WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
            .map_err(store)?;
        let stored = stored.map(|r| StoredMeta {
            revision: u64::try_from(r).unwrap_or(0),
        });
        if let Some(meta) = stored {
            stored_meta.insert(id.to_string(), meta);
        }
        match (write.effect, stored, write.base_revision) {
            (WriteEffect::FromExchange, None, None) => {}
            (_, None, Some(base)) => {
                problems.push(format!("{} is unknown but has base revision {base}", at()))
            }
            (WriteEffect::Written | WriteEffect::Bookkeeping, None, None) => {
                problems.push(format!("{} is unknown", at()))
            }
            (WriteEffect::FromExchange, Some(meta), base) => {
                if base != Some(meta.revision) {
                    stale.push(id.to_string());
                }
            }
            (WriteEffect::Written, Some(_), None) => {
                problems.push(format!("{} is written without a base revision", at()))
            }
            (WriteEffect::Written, Some(meta), Some(base)) => {
                if base > meta.revision {
                    problems.push(format!(
                        "{} is written at base revision {base}, newer than the stored revision {}",
                        at(),
                        meta.revision
                    ));
                }
            }
            (WriteEffect::Bookkeeping, Some(_), _) => {}
        }
    }
    let refs = page
        .unlinked
        .iter()
        .chain(&page.released)
        .chain(page.quarantined.iter().map(|q| &q.item));
    if refs
        .into_iter()
        .any(|r| r.mailbox.trim().is_empty() || r.item_id.is_empty())
    {
        problems.push("an item reference has no mailbox or no item id".into());
    }
    if page.conflicts.iter().any(|c| c.booking.trim().is_empty()) {
        problems.push("a conflict names no booking".into());
    }
    if page.notices.iter().any(|n| n.recipient.trim().is_empty()) {
        problems.push("a notice has no recipient".into());
    }
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(MAX_PROBLEMS_SHOWN);
        problems.truncate(MAX_PROBLEMS_SHOWN);
        let mut text = problems.join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        return Err(CommitError::Invalid(text));
    }
    if !stale.is_empty() {
        return Err(CommitError::Stale(stale));
    }
    Ok(stored_meta)
}

/// Stores a checked page.
fn apply_page(
    conn: &Connection,
    page: &Page,
    stored: &HashMap<String, StoredMeta>,
) -> Result<(), DbError> {
    let now = unix_now();
    for item in &page.unlinked {
        conn.prepare_cached("DELETE FROM booking_links WHERE mailbox = ?1 AND item_id = ?2")?
            .execute(params![
                item.mailbox.trim().to_ascii_lowercase(),
                item.item_id
            ])?;
    }
    for write in &page.bookings {
        let b = &write.booking;
        let last_error = b
            .last_error
            .as_deref()
            .map(|e| operator_text(e, MAX_MESSAGE_CHARS));
        let attempts = i64::from(b.attempts);
        match (write.effect, stored.get(&b.id)) {
            (WriteEffect::FromExchange, None) => {
                let home = b.home.trim().to_ascii_lowercase();
                insert_booking(conn, &b.id, &b.fields, b.state, &home, 1, 1)?;
                conn.prepare_cached(
                    "UPDATE bookings SET attempts = ?2, last_error = ?3 WHERE id = ?1",
                )?
                .execute(params![b.id, attempts, last_error])?;
            }
            (WriteEffect::FromExchange, Some(_)) => {
                let (rooms, attendees, recurrence) = json_columns(&b.fields)?;
                let f = &b.fields;
                conn.prepare_cached(
                    "UPDATE bookings SET organiser = ?2, rooms = ?3, subject = ?4, start_at = ?5,
                         end_at = ?6, time_zone = ?7, all_day = ?8, reminder_minutes = ?9,
                         private = ?10, free_busy = ?11, attendees = ?12, recurrence = ?13,
                         state = ?14, home = ?15, attempts = ?16, last_error = ?17,
                         revision = revision + 1, synced_revision = revision + 1,
                         pending_seq = NULL, updated_at = ?18
                     WHERE id = ?1",
                )?
                .execute(params![
                    b.id,
                    f.organiser,
                    rooms,
                    f.subject,
                    f.start,
                    f.end,
                    f.time_zone,
                    f.all_day,
                    f.reminder_minutes,
                    f.private,
                    f.free_busy.as_ews(),
                    attendees,
                    recurrence,
                    b.state.as_str(),
                    b.home.trim().to_ascii_lowercase(),
                    attempts,
                    last_error,
                    now,
                ])?;
            }
            (WriteEffect::Written, _) => {
                let base = to_sql_u64(write.base_revision.unwrap_or(0));
                let state = match b.state {
                    BookingState::Cancelled | BookingState::SyncDisabled => Some(b.state.as_str()),
                    BookingState::Active => None,
                };
                conn.prepare_cached(&format!(
                    "UPDATE bookings SET synced_revision = ?2, attempts = ?3, last_error = ?4,
                         state = COALESCE(?5, state),
                         pending_seq = CASE WHEN revision > ?2
                             THEN COALESCE(pending_seq, {NEXT_PENDING_SEQ}) ELSE NULL END,
                         updated_at = ?6
                     WHERE id = ?1"
                ))?
                .execute(params![b.id, base, attempts, last_error, state, now])?;
            }
            (WriteEffect::Bookkeeping, _) => {
                conn.prepare_cached(
                    "UPDATE bookings SET attempts = ?2, last_error = ?3, state = ?4,
                         updated_at = ?5
                     WHERE id = ?1",
                )?
                .execute(params![
                    b.id,
                    attempts,
                    last_error,
                    b.state.as_str(),
                    now
                ])?;
            }
        }
        conn.prepare_cached("DELETE FROM booking_links WHERE booking_id = ?1")?
            .execute([&b.id])?;
        for link in &b.links {
            conn.prepare_cached(
                "INSERT INTO booking_links (booking_id, mailbox, item_id, change_key, uid, fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (mailbox, item_id) DO UPDATE SET booking_id = excluded.booking_id,
                     change_key = excluded.change_key, uid = excluded.uid,
                     fingerprint = excluded.fingerprint",
            )?
            .execute(params![
                b.id,
                link.mailbox.trim().to_ascii_lowercase(),
                link.item_id,
                link.change_key,
                link.uid,
                link.fingerprint
            ])?;
        }
    }
    if let Some(state) = &page.sync_state {
        conn.prepare_cached(
            "INSERT INTO sync_states (mailbox, state, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (mailbox) DO UPDATE SET state = excluded.state,
                 updated_at = excluded.updated_at",
        )?
        .execute(params![
            page.mailbox.trim().to_ascii_lowercase(),
            state,
            now
        ])?;
    }
    for conflict in &page.conflicts {
        let differences: Vec<FieldDifference> = conflict
            .differences
            .iter()
            .map(|d| FieldDifference {
                field: operator_text(&d.field, 80),
                rooms: operator_text(&d.rooms, MAX_DIFFERENCE_CHARS),
                exchange: operator_text(&d.exchange, MAX_DIFFERENCE_CHARS),
            })
            .collect();
        let differences = serde_json::to_string(&differences)
            .map_err(|e| DbError::InvalidBooking(format!("cannot store a conflict: {e}")))?;
        conn.prepare_cached(
            "INSERT INTO conflicts (booking_id, mailbox, differences, winner, attempt, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            conflict.booking,
            conflict.mailbox.trim().to_ascii_lowercase(),
            differences,
            conflict.winner.as_str(),
            i64::from(conflict.attempt),
            conflict.at
        ])?;
    }
    for notice in &page.notices {
        conn.prepare_cached(
            "INSERT INTO outbox (booking_id, recipient, kind, message, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            notice.booking,
            notice.recipient.trim().to_ascii_lowercase(),
            notice.kind.as_str(),
            operator_text(&notice.message, MAX_MESSAGE_CHARS),
            notice.at
        ])?;
    }
    for item in &page.released {
        conn.prepare_cached("DELETE FROM quarantine WHERE mailbox = ?1 AND item_id = ?2")?
            .execute(params![
                item.mailbox.trim().to_ascii_lowercase(),
                item.item_id
            ])?;
    }
    for q in &page.quarantined {
        conn.prepare_cached(
            "INSERT INTO quarantine (mailbox, item_id, subject, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (mailbox, item_id) DO UPDATE SET subject = excluded.subject,
                 reason = excluded.reason, at = excluded.at",
        )?
        .execute(params![
            q.item.mailbox.trim().to_ascii_lowercase(),
            q.item.item_id,
            operator_text(&q.subject, 255),
            operator_text(&q.reason, MAX_MESSAGE_CHARS),
            now
        ])?;
    }
    Ok(())
}
