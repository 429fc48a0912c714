//! Conversions between the generated WIT types of the `calendar` and `rooms`
//! interfaces and the plain types of [`crate::booking`] (wasm32 only).
//!
//! Every booking type converts both ways: a WIT value (owned, as an import
//! returns it) becomes the plain value without copying its strings, and a
//! plain value (borrowed, as [`crate::platform::Platform`] holds it) becomes
//! the WIT value an import takes. The conversions are `From` impls, so each
//! direction is one `.into()`; nothing here is lossy, and nothing validates
//! (the host and the sync logic do that).

use crate::booking as b;
use crate::component::bindings::rooms::exchange_sync::{calendar as c, rooms as r};

/// `From` both ways between a plain enum and its WIT enum of the same
/// variants: `enums!(plain_module::Plain <=> wit_module::Wit { A, B })`.
macro_rules! enums {
    ($($pm:ident::$plain:ident <=> $wm:ident::$wit:ident { $($variant:ident),+ $(,)? })+) => {$(
        impl From<$wm::$wit> for $pm::$plain {
            fn from(value: $wm::$wit) -> Self {
                match value {
                    $($wm::$wit::$variant => $pm::$plain::$variant,)+
                }
            }
        }

        impl From<$pm::$plain> for $wm::$wit {
            fn from(value: $pm::$plain) -> Self {
                match value {
                    $($pm::$plain::$variant => $wm::$wit::$variant,)+
                }
            }
        }
    )+};
}

enums! {
    b::FreeBusy <=> c::FreeBusy { Free, Tentative, Busy, Oof, WorkingElsewhere, NoData }
    b::AttendeeKind <=> c::AttendeeKind { Required, Optional, Resource }
    b::Weekday <=> c::Weekday {
        Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Day, Weekday, WeekendDay,
    }
    b::WeekIndex <=> c::WeekIndex { First, Second, Third, Fourth, Last }
    b::BookingState <=> c::BookingState { Active, Cancelled, SyncDisabled }
    b::WriteEffect <=> r::WriteEffect { FromExchange, Written, Bookkeeping }
    b::ConflictWinner <=> r::ConflictWinner { Rooms, Exchange, None }
    b::NoticeKind <=> r::NoticeKind {
        ConflictRolledBack, ConflictCancelled, SyncDisabled, RoomDeclined, AmbiguousRooms,
    }
}

/// Each element of an owned WIT list converted.
fn from_wit<W, P: From<W>>(list: Vec<W>) -> Vec<P> {
    list.into_iter().map(P::from).collect()
}

/// Each element of a plain slice converted.
fn to_wit<'a, P, W: From<&'a P>>(list: &'a [P]) -> Vec<W> {
    list.iter().map(W::from).collect()
}

/// A plain `Copy` enum list as its WIT list.
fn copy_to_wit<P: Copy, W: From<P>>(list: &[P]) -> Vec<W> {
    list.iter().map(|&value| W::from(value)).collect()
}

// ---- calendar ------------------------------------------------------------

impl From<c::Date> for b::Date {
    fn from(d: c::Date) -> Self {
        b::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        }
    }
}

impl From<&b::Date> for c::Date {
    fn from(d: &b::Date) -> Self {
        c::Date {
            year: d.year,
            month: d.month,
            day: d.day,
        }
    }
}

impl From<c::Attendee> for b::Attendee {
    fn from(a: c::Attendee) -> Self {
        b::Attendee {
            email: a.email,
            kind: a.kind.into(),
        }
    }
}

impl From<&b::Attendee> for c::Attendee {
    fn from(a: &b::Attendee) -> Self {
        c::Attendee {
            email: a.email.clone(),
            kind: a.kind.into(),
        }
    }
}

impl From<c::Pattern> for b::Pattern {
    fn from(p: c::Pattern) -> Self {
        match p {
            c::Pattern::Daily(p) => b::Pattern::Daily {
                interval: p.interval,
            },
            c::Pattern::Weekly(p) => b::Pattern::Weekly {
                interval: p.interval,
                days: from_wit(p.days),
                first_day_of_week: p.first_day_of_week.into(),
            },
            c::Pattern::AbsoluteMonthly(p) => b::Pattern::AbsoluteMonthly {
                interval: p.interval,
                day_of_month: p.day_of_month,
            },
            c::Pattern::RelativeMonthly(p) => b::Pattern::RelativeMonthly {
                interval: p.interval,
                day: p.day.into(),
                index: p.index.into(),
            },
            c::Pattern::AbsoluteYearly(p) => b::Pattern::AbsoluteYearly {
                month: p.month,
                day_of_month: p.day_of_month,
            },
            c::Pattern::RelativeYearly(p) => b::Pattern::RelativeYearly {
                month: p.month,
                day: p.day.into(),
                index: p.index.into(),
            },
        }
    }
}

impl From<&b::Pattern> for c::Pattern {
    fn from(p: &b::Pattern) -> Self {
        match p {
            b::Pattern::Daily { interval } => c::Pattern::Daily(c::DailyPattern {
                interval: *interval,
            }),
            b::Pattern::Weekly {
                interval,
                days,
                first_day_of_week,
            } => c::Pattern::Weekly(c::WeeklyPattern {
                interval: *interval,
                days: copy_to_wit(days),
                first_day_of_week: (*first_day_of_week).into(),
            }),
            b::Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => c::Pattern::AbsoluteMonthly(c::AbsoluteMonthlyPattern {
                interval: *interval,
                day_of_month: *day_of_month,
            }),
            b::Pattern::RelativeMonthly {
                interval,
                day,
                index,
            } => c::Pattern::RelativeMonthly(c::RelativeMonthlyPattern {
                interval: *interval,
                day: (*day).into(),
                index: (*index).into(),
            }),
            b::Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } => c::Pattern::AbsoluteYearly(c::AbsoluteYearlyPattern {
                month: *month,
                day_of_month: *day_of_month,
            }),
            b::Pattern::RelativeYearly { month, day, index } => {
                c::Pattern::RelativeYearly(c::RelativeYearlyPattern {
                    month: *month,
                    day: (*day).into(),
                    index: (*index).into(),
                })
            }
        }
    }
}

impl From<c::RecurrenceRange> for b::Range {
    fn from(r: c::RecurrenceRange) -> Self {
        b::Range {
            start: r.start.into(),
            end: r.end.map(Into::into),
            count: r.count,
        }
    }
}

impl From<&b::Range> for c::RecurrenceRange {
    fn from(r: &b::Range) -> Self {
        c::RecurrenceRange {
            start: (&r.start).into(),
            end: r.end.as_ref().map(Into::into),
            count: r.count,
        }
    }
}

impl From<c::ModifiedOccurrence> for b::ModifiedOccurrence {
    fn from(m: c::ModifiedOccurrence) -> Self {
        b::ModifiedOccurrence {
            original_start: m.original_start,
            start: m.start,
            end: m.end,
            subject: m.subject,
        }
    }
}

impl From<&b::ModifiedOccurrence> for c::ModifiedOccurrence {
    fn from(m: &b::ModifiedOccurrence) -> Self {
        c::ModifiedOccurrence {
            original_start: m.original_start,
            start: m.start,
            end: m.end,
            subject: m.subject.clone(),
        }
    }
}

impl From<c::Recurrence> for b::Recurrence {
    fn from(r: c::Recurrence) -> Self {
        b::Recurrence {
            pattern: r.pattern.into(),
            range: r.range.into(),
            modified: from_wit(r.modified),
            deleted: r.deleted,
        }
    }
}

impl From<&b::Recurrence> for c::Recurrence {
    fn from(r: &b::Recurrence) -> Self {
        c::Recurrence {
            pattern: (&r.pattern).into(),
            range: (&r.range).into(),
            modified: to_wit(&r.modified),
            deleted: r.deleted.clone(),
        }
    }
}

impl From<c::BookingFields> for b::BookingFields {
    fn from(f: c::BookingFields) -> Self {
        b::BookingFields {
            organiser: f.organiser,
            rooms: f.rooms,
            subject: f.subject,
            start: f.start,
            end: f.end,
            time_zone: f.time_zone,
            all_day: f.all_day,
            reminder_minutes: f.reminder_minutes,
            private: f.private,
            free_busy: f.free_busy.into(),
            attendees: from_wit(f.attendees),
            recurrence: f.recurrence.map(Into::into),
        }
    }
}

impl From<&b::BookingFields> for c::BookingFields {
    fn from(f: &b::BookingFields) -> Self {
        c::BookingFields {
            organiser: f.organiser.clone(),
            rooms: f.rooms.clone(),
            subject: f.subject.clone(),
            start: f.start,
            end: f.end,
            time_zone: f.time_zone.clone(),
            all_day: f.all_day,
            reminder_minutes: f.reminder_minutes,
            private: f.private,
            free_busy: f.free_busy.into(),
            attendees: to_wit(&f.attendees),
            recurrence: f.recurrence.as_ref().map(Into::into),
        }
    }
}

impl From<c::ExchangeLink> for b::ExchangeLink {
    fn from(l: c::ExchangeLink) -> Self {
        b::ExchangeLink {
            mailbox: l.mailbox,
            item_id: l.item_id,
            change_key: l.change_key,
            uid: l.uid,
            fingerprint: l.fingerprint,
        }
    }
}

impl From<&b::ExchangeLink> for c::ExchangeLink {
    fn from(l: &b::ExchangeLink) -> Self {
        c::ExchangeLink {
            mailbox: l.mailbox.clone(),
            item_id: l.item_id.clone(),
            change_key: l.change_key.clone(),
            uid: l.uid.clone(),
            fingerprint: l.fingerprint.clone(),
        }
    }
}

impl From<c::Booking> for b::Booking {
    fn from(k: c::Booking) -> Self {
        b::Booking {
            id: k.id,
            fields: k.fields.into(),
            state: k.state.into(),
            home: k.home,
            revision: k.revision,
            synced_revision: k.synced_revision,
            links: from_wit(k.links),
            attempts: k.attempts,
            last_error: k.last_error,
        }
    }
}

impl From<&b::Booking> for c::Booking {
    fn from(k: &b::Booking) -> Self {
        c::Booking {
            id: k.id.clone(),
            fields: (&k.fields).into(),
            state: k.state.into(),
            home: k.home.clone(),
            revision: k.revision,
            synced_revision: k.synced_revision,
            links: to_wit(&k.links),
            attempts: k.attempts,
            last_error: k.last_error.clone(),
        }
    }
}

// ---- rooms ---------------------------------------------------------------

impl From<r::ItemRef> for b::ItemRef {
    fn from(i: r::ItemRef) -> Self {
        b::ItemRef {
            mailbox: i.mailbox,
            item_id: i.item_id,
        }
    }
}

impl From<&b::ItemRef> for r::ItemRef {
    fn from(i: &b::ItemRef) -> Self {
        r::ItemRef {
            mailbox: i.mailbox.clone(),
            item_id: i.item_id.clone(),
        }
    }
}

impl From<r::BookingKey> for b::BookingKey {
    fn from(k: r::BookingKey) -> Self {
        match k {
            r::BookingKey::Id(id) => b::BookingKey::Id(id),
            r::BookingKey::Uid(uid) => b::BookingKey::Uid(uid),
            r::BookingKey::Item(item) => b::BookingKey::Item(item.into()),
        }
    }
}

impl From<&b::BookingKey> for r::BookingKey {
    fn from(k: &b::BookingKey) -> Self {
        match k {
            b::BookingKey::Id(id) => r::BookingKey::Id(id.clone()),
            b::BookingKey::Uid(uid) => r::BookingKey::Uid(uid.clone()),
            b::BookingKey::Item(item) => r::BookingKey::Item(item.into()),
        }
    }
}

impl From<r::BookingWrite> for b::BookingWrite {
    fn from(w: r::BookingWrite) -> Self {
        b::BookingWrite {
            booking: w.booking.into(),
            base_revision: w.base_revision,
            effect: w.effect.into(),
        }
    }
}

impl From<&b::BookingWrite> for r::BookingWrite {
    fn from(w: &b::BookingWrite) -> Self {
        r::BookingWrite {
            booking: (&w.booking).into(),
            base_revision: w.base_revision,
            effect: w.effect.into(),
        }
    }
}

impl From<r::FieldDifference> for b::FieldDifference {
    fn from(d: r::FieldDifference) -> Self {
        b::FieldDifference {
            field: d.field,
            rooms: d.rooms,
            exchange: d.exchange,
        }
    }
}

impl From<&b::FieldDifference> for r::FieldDifference {
    fn from(d: &b::FieldDifference) -> Self {
        r::FieldDifference {
            field: d.field.clone(),
            rooms: d.rooms.clone(),
            exchange: d.exchange.clone(),
        }
    }
}

impl From<r::Conflict> for b::Conflict {
    fn from(k: r::Conflict) -> Self {
        b::Conflict {
            booking: k.booking,
            mailbox: k.mailbox,
            differences: from_wit(k.differences),
            winner: k.winner.into(),
            attempt: k.attempt,
            at: k.at,
        }
    }
}

impl From<&b::Conflict> for r::Conflict {
    fn from(k: &b::Conflict) -> Self {
        r::Conflict {
            booking: k.booking.clone(),
            mailbox: k.mailbox.clone(),
            differences: to_wit(&k.differences),
            winner: k.winner.into(),
            attempt: k.attempt,
            at: k.at,
        }
    }
}

impl From<r::Notice> for b::Notice {
    fn from(n: r::Notice) -> Self {
        b::Notice {
            booking: n.booking,
            recipient: n.recipient,
            kind: n.kind.into(),
            message: n.message,
            at: n.at,
        }
    }
}

impl From<&b::Notice> for r::Notice {
    fn from(n: &b::Notice) -> Self {
        r::Notice {
            booking: n.booking.clone(),
            recipient: n.recipient.clone(),
            kind: n.kind.into(),
            message: n.message.clone(),
            at: n.at,
        }
    }
}

impl From<r::QuarantinedItem> for b::Quarantined {
    fn from(q: r::QuarantinedItem) -> Self {
        b::Quarantined {
            item: q.item.into(),
            subject: q.subject,
            reason: q.reason,
        }
    }
}

impl From<&b::Quarantined> for r::QuarantinedItem {
    fn from(q: &b::Quarantined) -> Self {
        r::QuarantinedItem {
            item: (&q.item).into(),
            subject: q.subject.clone(),
            reason: q.reason.clone(),
        }
    }
}

impl From<r::Page> for b::Page {
    fn from(p: r::Page) -> Self {
        b::Page {
            mailbox: p.mailbox,
            bookings: from_wit(p.bookings),
            unlinked: from_wit(p.unlinked),
            sync_state: p.sync_state,
            conflicts: from_wit(p.conflicts),
            notices: from_wit(p.notices),
            quarantined: from_wit(p.quarantined),
            released: from_wit(p.released),
        }
    }
}

impl From<&b::Page> for r::Page {
    fn from(p: &b::Page) -> Self {
        r::Page {
            mailbox: p.mailbox.clone(),
            bookings: to_wit(&p.bookings),
            unlinked: to_wit(&p.unlinked),
            sync_state: p.sync_state.clone(),
            conflicts: to_wit(&p.conflicts),
            notices: to_wit(&p.notices),
            quarantined: to_wit(&p.quarantined),
            released: to_wit(&p.released),
        }
    }
}

impl From<r::CommitError> for b::CommitError {
    fn from(e: r::CommitError) -> Self {
        match e {
            r::CommitError::Stale(ids) => b::CommitError::Stale(ids),
            r::CommitError::Invalid(what) => b::CommitError::Invalid(what),
            r::CommitError::Store(what) => b::CommitError::Store(what),
        }
    }
}

impl From<&b::CommitError> for r::CommitError {
    fn from(e: &b::CommitError) -> Self {
        match e {
            b::CommitError::Stale(ids) => r::CommitError::Stale(ids.clone()),
            b::CommitError::Invalid(what) => r::CommitError::Invalid(what.clone()),
            b::CommitError::Store(what) => r::CommitError::Store(what.clone()),
        }
    }
}
