//! Bookings: the changes made in ROOMS, and the look-ups the sync needs.
//!
//! Every ROOMS-side change ([`RoomsDb::add_booking`],
//! [`RoomsDb::update_booking`], [`RoomsDb::cancel_booking`],
//! [`RoomsDb::skip_occurrence`], [`RoomsDb::move_occurrence`]) bumps the
//! booking's `revision`, so that `revision > synced_revision` says Exchange
//! has not got it yet; [`RoomsDb::pending_changes`] lists those bookings of a
//! home mailbox, the oldest change first (`pending_seq`, given when a booking
//! becomes pending and cleared when it is written). A booking made in ROOMS
//! gets a random UUIDv4 id, revision 1 and synced revision 0.
//!
//! Fields made in ROOMS are checked and normalised by [`prepare_fields`]:
//! addresses lower-case, rooms sorted and also listed as resource
//! attendees, the organiser not among the attendees, a known Windows time
//! zone, an end after the start, all-day bookings from midnight to midnight,
//! a sound recurrence whose first occurrence is the booking's start, and
//! exceptions that still fall on the pattern. Fields that come from Exchange
//! (through [`RoomsDb::commit`]) are stored as the component sends them.
//!
//! The home of a booking made in ROOMS ([`RoomsDb::home_for`]) is the
//! organiser when the organiser is a person of the tenant (not a room), else
//! the first of its rooms that is a person of the tenant.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::persons::normalise_email;
use super::{
    Attendee, AttendeeKind, Booking, BookingFields, BookingKey, BookingState, DbError,
    ExchangeLink, FreeBusy, Instant, ModifiedOccurrence, Pattern, Recurrence, RoomsDb, unix_now,
};
use crate::occurrences::{self, Zone};

/// The columns of `bookings` that [`read_booking_row`] reads, in order.
pub(crate) const BOOKING_COLUMNS: &str = "id, organiser, rooms, subject, start_at, end_at, \
     time_zone, all_day, reminder_minutes, private, free_busy, attendees, recurrence, state, \
     home, revision, synced_revision, attempts, last_error";

/// Longest subject Exchange accepts, in characters.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// Largest reminder, in minutes (Outlook offers up to two weeks).
pub const MAX_REMINDER_MINUTES: u32 = 525_600;

/// Largest interval of a pattern (days, weeks or months), as Outlook allows.
pub const MAX_INTERVAL: u32 = 999;

/// The next free place in the order of pending changes, as SQL.
pub(crate) const NEXT_PENDING_SEQ: &str =
    "(SELECT COALESCE(MAX(pending_seq), 0) + 1 FROM bookings)";

/// A new random booking id: a UUIDv4 in its hyphenated lower-case form.
pub fn new_booking_id() -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        DbError::InvalidBooking(format!(
            "no random bytes for a booking id: {e}; check the system's random source"
        ))
    })?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

impl RoomsDb {
    /// Adds a booking made in ROOMS: checks and normalises `fields`, picks
    /// its home mailbox and stores it with a new id, revision 1 and synced
    /// revision 0 (pending).
    pub fn add_booking(&self, fields: BookingFields) -> Result<Booking, DbError> {
        let fields = prepare_fields(fields)?;
        let home = self.home_for(&fields)?;
        let id = new_booking_id()?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        insert_booking(&tx, &id, &fields, BookingState::Active, &home, 1, 0)?;
        tx.execute(
            &format!("UPDATE bookings SET pending_seq = {NEXT_PENDING_SEQ} WHERE id = ?1"),
            [&id],
        )?;
        let booking = load_booking(&tx, &id)?.ok_or_else(|| DbError::UnknownBooking(id.clone()))?;
        tx.commit()?;
        Ok(booking)
    }

    /// One booking by id, any state.
    pub fn get_booking(&self, id: &str) -> Result<Option<Booking>, DbError> {
        load_booking(&self.conn(), id)
    }

    /// Every booking, by start then id; with `person`, only those it takes
    /// part in (as organiser, room, attendee or home mailbox; any case).
    pub fn list_bookings(&self, person: Option<&str>) -> Result<Vec<Booking>, DbError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings ORDER BY start_at, id"
        ))?;
        let rows = stmt.query_map([], |row| Ok(read_booking_row(row)))?;
        let person = person.map(|p| p.trim().to_ascii_lowercase());
        let mut out = Vec::new();
        for row in rows {
            let mut booking = row??;
            if let Some(person) = &person {
                let f = &booking.fields;
                let takes_part = f.organiser == *person
                    || booking.home == *person
                    || f.rooms.iter().any(|r| r == person)
                    || f.attendees.iter().any(|a| a.email == *person);
                if !takes_part {
                    continue;
                }
            }
            booking.links = links_of(&conn, &booking.id)?;
            out.push(booking);
        }
        Ok(out)
    }

    /// Changes the fields of a booking in ROOMS. The fields are checked and
    /// normalised as for a new booking; exceptions that no longer fall on
    /// the pattern are dropped. An unchanged booking is left alone;
    /// otherwise its revision is bumped. A cancelled booking cannot change,
    /// nor can one that Exchange holds move to another home mailbox.
    pub fn update_booking(&self, id: &str, fields: BookingFields) -> Result<Booking, DbError> {
        let fields = prepare_fields(fields)?;
        let home = self.home_for(&fields)?;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        if stored.state == BookingState::Cancelled {
            return Err(DbError::BookingCancelled(stored.id));
        }
        if home != stored.home && (!stored.links.is_empty() || stored.synced_revision > 0) {
            return Err(DbError::HomeChange {
                id: stored.id,
                from: stored.home,
                to: home,
            });
        }
        if fields == stored.fields && home == stored.home {
            return Ok(stored);
        }
        // An edit in ROOMS of a booking the sync gave up on (too many
        // conflicts) is the organiser's answer: it syncs again, from zero
        // attempts, and the next run writes it.
        let revive = (stored.state == BookingState::SyncDisabled).then_some(BookingState::Active);
        write_fields_and_bump(&tx, id, &fields, &home, revive)?;
        if revive.is_some() {
            tx.execute(
                "UPDATE bookings SET attempts = 0, last_error = NULL WHERE id = ?1",
                params![id],
            )?;
        }
        let booking = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        tx.commit()?;
        Ok(booking)
    }

    /// Cancels a booking in ROOMS (bumps its revision; the next run cancels
    /// the meeting in Exchange). Returns the booking and whether it changed:
    /// an already cancelled booking is left as it is.
    pub fn cancel_booking(&self, id: &str) -> Result<(Booking, bool), DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        if stored.state == BookingState::Cancelled {
            return Ok((stored, false));
        }
        write_fields_and_bump(
            &tx,
            id,
            &stored.fields,
            &stored.home,
            Some(BookingState::Cancelled),
        )?;
        let booking = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        tx.commit()?;
        Ok((booking, true))
    }

    /// Deletes the occurrence of a series whose pattern start is
    /// `original_start` (it joins `deleted`; a modification of it is
    /// dropped) and bumps the revision.
    pub fn skip_occurrence(&self, id: &str, original_start: Instant) -> Result<Booking, DbError> {
        self.change_occurrence(id, original_start, |booking, recurrence| {
            if recurrence.deleted.contains(&original_start) {
                return Err(DbError::Occurrence(format!(
                    "the occurrence of booking {} at {} is already skipped",
                    booking.id,
                    shown_instant(original_start)
                )));
            }
            recurrence
                .modified
                .retain(|m| m.original_start != original_start);
            recurrence.deleted.push(original_start);
            recurrence.deleted.sort_unstable();
            Ok(())
        })
    }

    /// Moves (modifies) the occurrence of a series whose pattern start is
    /// `original_start` to `[start, end)`, keeping its subject, and bumps
    /// the revision. Moving it back to its pattern times with the series'
    /// subject removes the exception.
    pub fn move_occurrence(
        &self,
        id: &str,
        original_start: Instant,
        start: Instant,
        end: Instant,
    ) -> Result<Booking, DbError> {
        if end <= start {
            return Err(DbError::InvalidBooking(format!(
                "the end ({}) is not after the start ({}); give an --end after the --start",
                shown_instant(end),
                shown_instant(start)
            )));
        }
        self.change_occurrence(id, original_start, |booking, recurrence| {
            if recurrence.deleted.contains(&original_start) {
                return Err(DbError::Occurrence(format!(
                    "the occurrence of booking {} at {} was skipped and cannot move",
                    booking.id,
                    shown_instant(original_start)
                )));
            }
            let subject = recurrence
                .modified
                .iter()
                .find(|m| m.original_start == original_start)
                .map_or_else(|| booking.fields.subject.clone(), |m| m.subject.clone());
            recurrence
                .modified
                .retain(|m| m.original_start != original_start);
            let length = booking.fields.end - booking.fields.start;
            let back_to_pattern = start == original_start
                && end == original_start + length
                && subject == booking.fields.subject;
            if !back_to_pattern {
                recurrence.modified.push(ModifiedOccurrence {
                    original_start,
                    start,
                    end,
                    subject,
                });
                recurrence.modified.sort_by_key(|m| m.original_start);
            }
            Ok(())
        })
    }

    /// Applies `change` to the recurrence of booking `id` after checking that
    /// `original_start` is one of its occurrences, then stores and bumps.
    fn change_occurrence(
        &self,
        id: &str,
        original_start: Instant,
        change: impl FnOnce(&Booking, &mut Recurrence) -> Result<(), DbError>,
    ) -> Result<Booking, DbError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        if stored.state == BookingState::Cancelled {
            return Err(DbError::BookingCancelled(stored.id));
        }
        let Some(mut recurrence) = stored.fields.recurrence.clone() else {
            return Err(DbError::Occurrence(format!(
                "booking {} is a single booking, not a series; use `booking update` or `booking cancel`",
                stored.id
            )));
        };
        let is_occurrence = occurrences::is_occurrence(&stored.fields, original_start)
            .map_err(|e| DbError::Occurrence(e.to_string()))?;
        if !is_occurrence {
            return Err(DbError::Occurrence(format!(
                "booking {} has no occurrence at {}; see `booking occurrences` for its dates",
                stored.id,
                shown_instant(original_start)
            )));
        }
        change(&stored, &mut recurrence)?;
        let mut fields = stored.fields.clone();
        fields.recurrence = Some(recurrence);
        write_fields_and_bump(&tx, id, &fields, &stored.home, None)?;
        let booking = load_booking(&tx, id)?.ok_or_else(|| DbError::UnknownBooking(id.into()))?;
        tx.commit()?;
        Ok(booking)
    }

    /// The home mailbox of a booking made in ROOMS: the organiser when the
    /// organiser is a person (not a room) of the tenant, else the first of
    /// its rooms that is a person of the tenant. Fails with the fix when
    /// neither is.
    pub fn home_for(&self, fields: &BookingFields) -> Result<String, DbError> {
        if let Some(organiser) = self.get_person(&fields.organiser)?
            && !organiser.room
        {
            return Ok(organiser.email);
        }
        for room in &fields.rooms {
            if let Some(person) = self.get_person(room)? {
                return Ok(person.email);
            }
        }
        Err(DbError::NoHome {
            organiser: fields.organiser.clone(),
            rooms: if fields.rooms.is_empty() {
                "none".into()
            } else {
                fields.rooms.join(", ")
            },
        })
    }

    /// The bookings of home mailbox `home` with changes to write
    /// (`revision > synced_revision`, not sync-disabled; cancelled ones
    /// included), the oldest change first, at most `limit`.
    pub fn pending_changes(&self, home: &str, limit: u32) -> Result<Vec<Booking>, DbError> {
        let home = home.trim().to_ascii_lowercase();
        let conn = self.conn();
        let ids: Vec<String> = {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM bookings
                 WHERE home = ?1 AND revision > synced_revision AND state != 'sync-disabled'
                 ORDER BY pending_seq IS NULL, pending_seq, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![home, i64::from(limit)], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(booking) = load_booking(&conn, &id)? {
                out.push(booking);
            }
        }
        Ok(out)
    }

    /// The stored booking for each key, in the order of `keys` (`None` where
    /// nothing matches); cancelled bookings are found too. A UID shared by
    /// links of several bookings (which the sync avoids) finds the one whose
    /// id sorts first.
    pub fn find_bookings(&self, keys: &[BookingKey]) -> Result<Vec<Option<Booking>>, DbError> {
        let conn = self.conn();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let id: Option<String> = match key {
                BookingKey::Id(id) => Some(id.clone()),
                BookingKey::Uid(uid) => conn
                    .prepare_cached(
                        "SELECT booking_id FROM booking_links WHERE uid = ?1
                         ORDER BY booking_id LIMIT 1",
                    )?
                    .query_row([uid], |r| r.get(0))
                    .optional()?,
                BookingKey::Item(item) => conn
                    .prepare_cached(
                        "SELECT booking_id FROM booking_links WHERE mailbox = ?1 AND item_id = ?2",
                    )?
                    .query_row(
                        params![item.mailbox.trim().to_ascii_lowercase(), item.item_id],
                        |r| r.get(0),
                    )
                    .optional()?,
            };
            out.push(match id {
                Some(id) => load_booking(&conn, &id)?,
                None => None,
            });
        }
        Ok(out)
    }
}

/// Checks and normalises the fields of a booking made or changed in ROOMS;
/// the error names the field and the fix. See the module docs for what is
/// checked.
pub fn prepare_fields(mut fields: BookingFields) -> Result<BookingFields, DbError> {
    let invalid = |s: String| DbError::InvalidBooking(s);
    fields.organiser = normalise_email(&fields.organiser)?;
    let mut rooms = Vec::with_capacity(fields.rooms.len());
    for room in &fields.rooms {
        rooms.push(normalise_email(room)?);
    }
    rooms.sort();
    rooms.dedup();
    fields.rooms = rooms;

    let mut attendees: Vec<Attendee> = Vec::with_capacity(fields.attendees.len());
    let rooms_as_resources = fields.rooms.iter().map(|r| Attendee {
        email: r.clone(),
        kind: AttendeeKind::Resource,
    });
    for attendee in fields.attendees.iter().cloned().chain(rooms_as_resources) {
        let email = normalise_email(&attendee.email)?;
        if email == fields.organiser {
            continue;
        }
        // One entry per address: a resource outranks required, required
        // outranks optional.
        let rank = |k: AttendeeKind| match k {
            AttendeeKind::Resource => 2,
            AttendeeKind::Required => 1,
            AttendeeKind::Optional => 0,
        };
        match attendees.iter_mut().find(|a| a.email == email) {
            Some(existing) if rank(attendee.kind) > rank(existing.kind) => {
                existing.kind = attendee.kind
            }
            Some(_) => {}
            None => attendees.push(Attendee {
                email,
                kind: attendee.kind,
            }),
        }
    }
    attendees.sort();
    fields.attendees = attendees;

    if fields.subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(invalid(format!(
            "the subject has {} characters, more than the {MAX_SUBJECT_CHARS} Exchange accepts; shorten it",
            fields.subject.chars().count()
        )));
    }
    if fields.subject.chars().any(char::is_control) {
        return Err(invalid(
            "the subject contains control characters (a line break, a tab); use one line of text"
                .into(),
        ));
    }
    if let Some(minutes) = fields.reminder_minutes
        && minutes > MAX_REMINDER_MINUTES
    {
        return Err(invalid(format!(
            "a reminder of {minutes} minutes is more than a year before the start; give at most {MAX_REMINDER_MINUTES}"
        )));
    }
    let zone = Zone::lookup(&fields.time_zone).map_err(|e| invalid(e.to_string()))?;
    fields.time_zone = zone.windows_id().to_string();
    if fields.end <= fields.start {
        return Err(invalid(format!(
            "the end ({}) is not after the start ({}); give an --end after the --start",
            shown_instant(fields.end),
            shown_instant(fields.start)
        )));
    }
    if fields.all_day {
        let midnight = |t: Instant| {
            zone.local(t)
                .is_ok_and(|l| l.time() == jiff::civil::Time::midnight())
        };
        if !midnight(fields.start) || !midnight(fields.end) {
            return Err(invalid(format!(
                "an all-day booking runs from midnight to midnight in its time zone ({}); give dates, e.g. --start 2026-04-01 --end 2026-04-02",
                zone.windows_id()
            )));
        }
    }
    if fields.recurrence.is_some() {
        prepare_recurrence(&mut fields, &zone)?;
    }
    Ok(fields)
}

/// Checks the recurrence of `fields`, sets its range start to the local
/// date of the start, moves start and end to the first occurrence, and
/// keeps only exceptions that fall on the pattern.
fn prepare_recurrence(fields: &mut BookingFields, zone: &Zone) -> Result<(), DbError> {
    let invalid = |s: String| DbError::InvalidBooking(s);
    let Some(recurrence) = fields.recurrence.as_mut() else {
        return Ok(());
    };
    let interval_ok = |i: u32| (1..=MAX_INTERVAL).contains(&i);
    let day_ok = |d: u8| (1..=31).contains(&d);
    let month_ok = |m: u8| (1..=12).contains(&m);
    let problem = match &mut recurrence.pattern {
        Pattern::Daily { interval } if !interval_ok(*interval) => Some("the interval"),
        Pattern::Weekly { interval, .. } if !interval_ok(*interval) => Some("the interval"),
        Pattern::Weekly {
            days,
            first_day_of_week,
            ..
        } => {
            days.sort();
            days.dedup();
            if days.is_empty() || days.iter().any(|d| d.to_jiff().is_none()) {
                Some("the days of the week (name at least one of Monday to Sunday)")
            } else if first_day_of_week.to_jiff().is_none() {
                Some("the first day of the week")
            } else {
                None
            }
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => (!interval_ok(*interval) || !day_ok(*day_of_month))
            .then_some("the interval or the day of the month"),
        Pattern::RelativeMonthly { interval, .. } => {
            (!interval_ok(*interval)).then_some("the interval")
        }
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => (!month_ok(*month) || !day_ok(*day_of_month)).then_some("the month or the day"),
        Pattern::RelativeYearly { month, .. } => (!month_ok(*month)).then_some("the month"),
        _ => None,
    };
    if let Some(what) = problem {
        return Err(invalid(format!(
            "the recurrence has an invalid value for {what}; intervals run from 1 to {MAX_INTERVAL}, days of the month from 1 to 31, months from 1 to 12"
        )));
    }
    let start_date = zone
        .local(fields.start)
        .ok()
        .and_then(|l| super::Date::from_civil(l.date()))
        .ok_or_else(|| invalid("the start is outside the supported dates".into()))?;
    recurrence.range.start = start_date;
    if recurrence.range.end.is_some() && recurrence.range.count.is_some() {
        return Err(invalid(
            "a series ends either after a number of occurrences or on a date, not both; give --count or --until".into(),
        ));
    }
    if recurrence.range.count == Some(0) {
        return Err(invalid(
            "a series needs at least one occurrence; give --count 1 or more".into(),
        ));
    }
    if let Some(end) = recurrence.range.end {
        if end.to_civil().is_none() {
            return Err(invalid(format!(
                "{end} is not a date; give --until YYYY-MM-DD"
            )));
        }
        if end < start_date {
            return Err(invalid(format!(
                "the series would end ({end}) before it starts ({start_date}); give an --until on or after the start date"
            )));
        }
    }
    let length = fields.end - fields.start;
    let first = occurrences::first_occurrence(fields)
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| {
            invalid(format!(
                "the series has no occurrence from {start_date} to its end; check the days, --count and --until"
            ))
        })?;
    if first.0 != fields.start {
        // The pattern starts later than the given start (a Wednesday start of
        // a Monday series): the booking is its first occurrence.
        fields.start = first.0;
        fields.end = first.0 + length;
    }
    // Exceptions must still fall on the pattern (a changed pattern drops
    // them, as Outlook does).
    let Some(mut recurrence) = fields.recurrence.take() else {
        return Ok(());
    };
    let mut probe = fields.clone();
    probe.recurrence = Some(Recurrence {
        modified: Vec::new(),
        deleted: Vec::new(),
        ..recurrence.clone()
    });
    let on_pattern = |t: Instant| occurrences::is_occurrence(&probe, t).unwrap_or(false);
    recurrence.modified.retain(|m| on_pattern(m.original_start));
    recurrence.modified.sort_by_key(|m| m.original_start);
    recurrence.modified.dedup_by_key(|m| m.original_start);
    recurrence.deleted.retain(|t| on_pattern(*t));
    recurrence.deleted.sort_unstable();
    recurrence.deleted.dedup();
    fields.recurrence = Some(recurrence);
    Ok(())
}

/// An instant as RFC 3339 in UTC, for messages.
pub(crate) fn shown_instant(t: Instant) -> String {
    jiff::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |ts| ts.to_string())
}

/// Inserts a booking row (links are written separately).
pub(crate) fn insert_booking(
    conn: &Connection,
    id: &str,
    fields: &BookingFields,
    state: BookingState,
    home: &str,
    revision: u64,
    synced_revision: u64,
) -> Result<(), DbError> {
    let (rooms, attendees, recurrence) = json_columns(fields)?;
    let now = unix_now();
    conn.prepare_cached(
        "INSERT INTO bookings (id, organiser, rooms, subject, start_at, end_at, time_zone,
             all_day, reminder_minutes, private, free_busy, attendees, recurrence, state, home,
             revision, synced_revision, attempts, last_error, pending_seq, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             0, NULL, NULL, ?18, ?18)",
    )?
    .execute(params![
        id,
        fields.organiser,
        rooms,
        fields.subject,
        fields.start,
        fields.end,
        fields.time_zone,
        fields.all_day,
        fields.reminder_minutes,
        fields.private,
        fields.free_busy.as_ews(),
        attendees,
        recurrence,
        state.as_str(),
        home,
        to_sql_u64(revision),
        to_sql_u64(synced_revision),
        now,
    ])?;
    Ok(())
}

/// Stores `fields` and `home` (and `state`, if given) of booking `id` as a
/// ROOMS-side change: the revision goes up by one and the booking keeps
/// (or gets) its place among the pending changes.
fn write_fields_and_bump(
    conn: &Connection,
    id: &str,
    fields: &BookingFields,
    home: &str,
    state: Option<BookingState>,
) -> Result<(), DbError> {
    let (rooms, attendees, recurrence) = json_columns(fields)?;
    conn.prepare_cached(&format!(
        "UPDATE bookings SET organiser = ?2, rooms = ?3, subject = ?4, start_at = ?5,
             end_at = ?6, time_zone = ?7, all_day = ?8, reminder_minutes = ?9, private = ?10,
             free_busy = ?11, attendees = ?12, recurrence = ?13, home = ?14,
             state = COALESCE(?15, state), revision = revision + 1,
             pending_seq = COALESCE(pending_seq, {NEXT_PENDING_SEQ}), updated_at = ?16
         WHERE id = ?1"
    ))?
    .execute(params![
        id,
        fields.organiser,
        rooms,
        fields.subject,
        fields.start,
        fields.end,
        fields.time_zone,
        fields.all_day,
        fields.reminder_minutes,
        fields.private,
        fields.free_busy.as_ews(),
        attendees,
        recurrence,
        home,
        state.map(BookingState::as_str),
        unix_now(),
    ])?;
    Ok(())
}

/// The JSON text of the rooms, attendees and recurrence columns.
pub(crate) fn json_columns(
    fields: &BookingFields,
) -> Result<(String, String, Option<String>), DbError> {
    let json =
        |e: serde_json::Error| DbError::InvalidBooking(format!("cannot store a booking: {e}"));
    Ok((
        serde_json::to_string(&fields.rooms).map_err(json)?,
        serde_json::to_string(&fields.attendees).map_err(json)?,
        fields
            .recurrence
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json)?,
    ))
}

/// A counter for an INTEGER column (SQLite integers are signed).
pub(crate) fn to_sql_u64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One booking with its links, by id.
pub(crate) fn load_booking(conn: &Connection, id: &str) -> Result<Option<Booking>, DbError> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = ?1"
        ))?
        .query_row([id], |row| Ok(read_booking_row(row)))
        .optional()?;
    match found {
        Some(booking) => {
            let mut booking = booking?;
            booking.links = links_of(conn, &booking.id)?;
            Ok(Some(booking))
        }
        None => Ok(None),
    }
}

/// The links of a booking, by mailbox.
pub(crate) fn links_of(conn: &Connection, id: &str) -> Result<Vec<ExchangeLink>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT mailbox, item_id, change_key, uid, fingerprint FROM booking_links
         WHERE booking_id = ?1 ORDER BY mailbox, item_id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(ExchangeLink {
            mailbox: r.get(0)?,
            item_id: r.get(1)?,
            change_key: r.get(2)?,
            uid: r.get(3)?,
            fingerprint: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Reads the [`BOOKING_COLUMNS`] of one row (links empty); a value this
/// version does not understand is [`DbError::CorruptBooking`].
pub(crate) fn read_booking_row(row: &Row<'_>) -> Result<Booking, DbError> {
    let id: String = row.get(0)?;
    let corrupt = |what: &str| DbError::CorruptBooking {
        id: crate::text::operator_text(&id, 80),
        what: what.to_string(),
    };
    let json = |i: usize, what: &str| -> Result<String, DbError> {
        row.get::<_, String>(i).map_err(|_| corrupt(what))
    };
    let rooms: Vec<String> =
        serde_json::from_str(&json(2, "rooms")?).map_err(|_| corrupt("rooms"))?;
    let attendees: Vec<Attendee> =
        serde_json::from_str(&json(11, "attendees")?).map_err(|_| corrupt("attendees"))?;
    let recurrence: Option<Recurrence> = match row.get::<_, Option<String>>(12) {
        Ok(Some(text)) => Some(serde_json::from_str(&text).map_err(|_| corrupt("recurrence"))?),
        Ok(None) => None,
        Err(_) => return Err(corrupt("recurrence")),
    };
    let free_busy: String = row.get(10)?;
    let free_busy = FreeBusy::parse(&free_busy).ok_or_else(|| corrupt("free/busy status"))?;
    let state: String = row.get(13)?;
    let state = BookingState::parse(&state).ok_or_else(|| corrupt("state"))?;
    let counter = |i: usize, what: &str| -> Result<u64, DbError> {
        let n: i64 = row.get(i)?;
        u64::try_from(n).map_err(|_| corrupt(what))
    };
    let reminder: Option<i64> = row.get(8)?;
    let reminder_minutes = reminder
        .map(|m| u32::try_from(m).map_err(|_| corrupt("reminder")))
        .transpose()?;
    Ok(Booking {
        fields: BookingFields {
            organiser: row.get(1)?,
            rooms,
            subject: row.get(3)?,
            start: row.get(4)?,
            end: row.get(5)?,
            time_zone: row.get(6)?,
            all_day: row.get(7)?,
            reminder_minutes,
            private: row.get(9)?,
            free_busy,
            attendees,
            recurrence,
        },
        state,
        home: row.get(14)?,
        revision: counter(15, "revision")?,
        synced_revision: counter(16, "synced revision")?,
        links: Vec::new(),
        attempts: u32::try_from(counter(17, "attempts")?).unwrap_or(u32::MAX),
        last_error: row.get(18)?,
        id,
    })
}
