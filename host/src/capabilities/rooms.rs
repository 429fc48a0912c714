//! `rooms:exchange-sync/rooms`: the ROOMS side of the data, over the
//! tenant's `rooms.db` ([`crate::rooms_db`]).
//!
//! Each function maps to one [`RoomsDb`](crate::rooms_db::RoomsDb) call,
//! with the generated WIT types converted to and from the store's types
//! here. The read functions have no error case in WIT: a database failure
//! is logged (the operator sees the real cause) and the component gets
//! none or an empty list, as for a person or booking that does not exist.
//! `find-subscription` logs a database failure at warn (the component then
//! answers the notification with `Unsubscribe`, and the service makes a new
//! subscription on its next round). `record-probe`, `probe-delivered` and
//! `drop-probe` keep the probes of `check`'s `subscription` check in the
//! same store, where the service's webhook (another process) finds them;
//! a failure is logged and answered false. `commit` answers a database failure with `commit-error.store`, and passes
//! on the store's `stale` and `invalid` answers; a refused page is logged.

use crate::bindings::rooms::exchange_sync::calendar as wit;
use crate::bindings::rooms::exchange_sync::rooms::{
    BookingKey, BookingWrite, CommitError, Conflict, ConflictWinner, FieldDifference, Host,
    ItemRef, Notice, NoticeKind, Page, Person, QuarantinedItem, WriteEffect,
};
use crate::bindings::rooms::exchange_sync::types::{ConflictBehaviour, Subscription, SyncMode};
use crate::log::Level;
use crate::rooms_db as db;
use crate::state::TenantState;

impl Host for TenantState {
    fn get_person(&mut self, email: String) -> Option<Person> {
        match self.tenant().db().get_person(&email) {
            Ok(found) => found.map(to_wit),
            Err(e) => {
                // The WIT function has no error case: a database failure looks
                // like an unknown person to the component, and the operator
                // sees the real cause in the log.
                self.tenant()
                    .log()
                    .write(Level::Error, &format!("reading person {email}: {e}"));
                None
            }
        }
    }

    fn get_sync_state(&mut self, mailbox: String) -> Option<String> {
        match self.tenant().db().sync_state(&mailbox) {
            Ok(state) => state,
            Err(e) => {
                self.tenant().log().write(
                    Level::Error,
                    &format!("reading the sync state of {mailbox}: {e}"),
                );
                None
            }
        }
    }

    fn pending_changes(&mut self, mailbox: String, limit: u32) -> Vec<wit::Booking> {
        match self.tenant().db().pending_changes(&mailbox, limit) {
            Ok(bookings) => bookings.into_iter().map(booking_to_wit).collect(),
            Err(e) => {
                self.tenant().log().write(
                    Level::Error,
                    &format!("reading the pending changes of {mailbox}: {e}"),
                );
                Vec::new()
            }
        }
    }

    fn list_bookings(&mut self, mailbox: String, from: i64, to: i64) -> Vec<wit::Booking> {
        // `from` is the component's to apply: a series that started before
        // it may still overlap, so only `to` narrows the query.
        let _ = from;
        match self.tenant().db().home_bookings_before(&mailbox, to) {
            Ok(bookings) => bookings.into_iter().map(booking_to_wit).collect(),
            Err(e) => {
                self.tenant().log().write(
                    Level::Error,
                    &format!("reading the bookings of {mailbox}: {e}"),
                );
                Vec::new()
            }
        }
    }

    fn find_bookings(&mut self, keys: Vec<BookingKey>) -> Vec<Option<wit::Booking>> {
        let count = keys.len();
        let keys: Vec<db::BookingKey> = keys.into_iter().map(key_from_wit).collect();
        match self.tenant().db().find_bookings(&keys) {
            Ok(found) => found.into_iter().map(|b| b.map(booking_to_wit)).collect(),
            Err(e) => {
                self.tenant()
                    .log()
                    .write(Level::Error, &format!("looking up {count} bookings: {e}"));
                vec![None; count]
            }
        }
    }

    fn linked_items(&mut self, mailbox: String) -> Vec<ItemRef> {
        match self.tenant().db().linked_items(&mailbox) {
            Ok(items) => items
                .into_iter()
                .map(|i| ItemRef {
                    mailbox: i.mailbox,
                    item_id: i.item_id,
                })
                .collect(),
            Err(e) => {
                self.tenant().log().write(
                    Level::Error,
                    &format!("reading the linked items of {mailbox}: {e}"),
                );
                Vec::new()
            }
        }
    }

    fn find_subscription(&mut self, id: String) -> Option<Subscription> {
        match self.tenant().db().subscription_by_id(&id) {
            Ok(found) => found.map(subscription_to_wit),
            Err(e) => {
                self.tenant().log().write(
                    Level::Warn,
                    &format!(
                        "looking up subscription {}: {e}",
                        crate::text::operator_text(&id, 320)
                    ),
                );
                None
            }
        }
    }

    fn record_probe(&mut self, id: String, mailbox: String) -> bool {
        match self.tenant().db().record_probe(&id, &mailbox) {
            Ok(()) => true,
            Err(e) => {
                self.tenant().log().write(
                    Level::Error,
                    &format!(
                        "{}: storing the subscription check's probe: {e}",
                        crate::text::operator_text(&mailbox, 320)
                    ),
                );
                false
            }
        }
    }

    fn probe_delivered(&mut self, id: String) -> bool {
        match self.tenant().db().probe_delivered(&id) {
            Ok(delivered) => delivered,
            Err(e) => {
                self.tenant().log().write(
                    Level::Warn,
                    &format!("reading the subscription check's probe: {e}"),
                );
                false
            }
        }
    }

    fn drop_probe(&mut self, id: String) {
        if let Err(e) = self.tenant().db().drop_probe(&id) {
            self.tenant().log().write(
                Level::Warn,
                &format!(
                    "dropping the subscription check's probe (its next notification is answered \
                     Unsubscribe within the hour): {e}"
                ),
            );
        }
    }

    fn commit(&mut self, page: Page) -> Result<(), CommitError> {
        let page = page_from_wit(page);
        match self.tenant().db().commit(&page) {
            Ok(()) => {
                self.tenant().log().write(
                    Level::Debug,
                    &format!(
                        "committed a page of {}: {} bookings, {} unlinked, {} conflicts, {} notices, {} quarantined{}",
                        page.mailbox,
                        page.bookings.len(),
                        page.unlinked.len(),
                        page.conflicts.len(),
                        page.notices.len(),
                        page.quarantined.len(),
                        if page.sync_state.is_some() {
                            ", new sync state"
                        } else {
                            ""
                        }
                    ),
                );
                Ok(())
            }
            Err(e) => {
                let level = match e {
                    db::CommitError::Stale(_) => Level::Info,
                    db::CommitError::Invalid(_) | db::CommitError::Store(_) => Level::Error,
                };
                self.tenant().log().write(
                    level,
                    &format!(
                        "page of {} not committed: {}",
                        crate::text::operator_text(&page.mailbox, 320),
                        crate::text::operator_text(&e.to_string(), 2_000)
                    ),
                );
                Err(match e {
                    db::CommitError::Stale(ids) => CommitError::Stale(ids),
                    db::CommitError::Invalid(text) => CommitError::Invalid(text),
                    db::CommitError::Store(text) => CommitError::Store(text),
                })
            }
        }
    }
}

/// A ROOMS person as the WIT `person` record.
pub(crate) fn to_wit(p: db::Person) -> Person {
    Person {
        email: p.email,
        sync_mode: match p.sync_mode {
            db::SyncMode::O365 => SyncMode::O365,
            db::SyncMode::O365Pull => SyncMode::O365Pull,
        },
        sync_url: p.sync_url,
        conflict_behaviour: match p.conflict {
            db::ConflictBehaviour::Rollback => ConflictBehaviour::Rollback,
            db::ConflictBehaviour::Cancel => ConflictBehaviour::Cancel,
        },
        sync_disabled: p.sync_disabled,
        room: p.room,
        sync_master: p.sync_master,
    }
}

/// A stored subscription as the WIT `subscription` record.
pub(crate) fn subscription_to_wit(s: db::SubscriptionRecord) -> Subscription {
    Subscription {
        mailbox: s.mailbox.to_ascii_lowercase(),
        mode: match s.mode {
            db::SyncMode::O365 => SyncMode::O365,
            db::SyncMode::O365Pull => SyncMode::O365Pull,
        },
        id: s.id,
        watermark: s.watermark,
        affinity: s.affinity,
    }
}

/// A stored booking as the WIT `booking` record.
pub fn booking_to_wit(b: db::Booking) -> wit::Booking {
    wit::Booking {
        id: b.id,
        fields: fields_to_wit(b.fields),
        state: match b.state {
            db::BookingState::Active => wit::BookingState::Active,
            db::BookingState::Cancelled => wit::BookingState::Cancelled,
            db::BookingState::SyncDisabled => wit::BookingState::SyncDisabled,
        },
        home: b.home,
        revision: b.revision,
        synced_revision: b.synced_revision,
        links: b
            .links
            .into_iter()
            .map(|l| wit::ExchangeLink {
                mailbox: l.mailbox,
                item_id: l.item_id,
                change_key: l.change_key,
                uid: l.uid,
                fingerprint: l.fingerprint,
            })
            .collect(),
        attempts: b.attempts,
        last_error: b.last_error,
    }
}

/// A WIT `booking` as the store's booking.
pub fn booking_from_wit(b: wit::Booking) -> db::Booking {
    db::Booking {
        id: b.id,
        fields: fields_from_wit(b.fields),
        state: match b.state {
            wit::BookingState::Active => db::BookingState::Active,
            wit::BookingState::Cancelled => db::BookingState::Cancelled,
            wit::BookingState::SyncDisabled => db::BookingState::SyncDisabled,
        },
        home: b.home,
        revision: b.revision,
        synced_revision: b.synced_revision,
        links: b
            .links
            .into_iter()
            .map(|l| db::ExchangeLink {
                mailbox: l.mailbox,
                item_id: l.item_id,
                change_key: l.change_key,
                uid: l.uid,
                fingerprint: l.fingerprint,
            })
            .collect(),
        attempts: b.attempts,
        last_error: b.last_error,
    }
}

fn fields_to_wit(f: db::BookingFields) -> wit::BookingFields {
    wit::BookingFields {
        organiser: f.organiser,
        rooms: f.rooms,
        subject: f.subject,
        start: f.start,
        end: f.end,
        time_zone: f.time_zone,
        all_day: f.all_day,
        reminder_minutes: f.reminder_minutes,
        private: f.private,
        free_busy: match f.free_busy {
            db::FreeBusy::Free => wit::FreeBusy::Free,
            db::FreeBusy::Tentative => wit::FreeBusy::Tentative,
            db::FreeBusy::Busy => wit::FreeBusy::Busy,
            db::FreeBusy::Oof => wit::FreeBusy::Oof,
            db::FreeBusy::WorkingElsewhere => wit::FreeBusy::WorkingElsewhere,
            db::FreeBusy::NoData => wit::FreeBusy::NoData,
        },
        attendees: f
            .attendees
            .into_iter()
            .map(|a| wit::Attendee {
                email: a.email,
                kind: match a.kind {
                    db::AttendeeKind::Required => wit::AttendeeKind::Required,
                    db::AttendeeKind::Optional => wit::AttendeeKind::Optional,
                    db::AttendeeKind::Resource => wit::AttendeeKind::Resource,
                },
            })
            .collect(),
        recurrence: f.recurrence.map(|r| wit::Recurrence {
            pattern: pattern_to_wit(r.pattern),
            range: wit::RecurrenceRange {
                start: date_to_wit(r.range.start),
                end: r.range.end.map(date_to_wit),
                count: r.range.count,
            },
            modified: r
                .modified
                .into_iter()
                .map(|m| wit::ModifiedOccurrence {
                    original_start: m.original_start,
                    start: m.start,
                    end: m.end,
                    subject: m.subject,
                })
                .collect(),
            deleted: r.deleted,
        }),
    }
}

fn fields_from_wit(f: wit::BookingFields) -> db::BookingFields {
    db::BookingFields {
        organiser: f.organiser,
        rooms: f.rooms,
        subject: f.subject,
        start: f.start,
        end: f.end,
        time_zone: f.time_zone,
        all_day: f.all_day,
        reminder_minutes: f.reminder_minutes,
        private: f.private,
        free_busy: match f.free_busy {
            wit::FreeBusy::Free => db::FreeBusy::Free,
            wit::FreeBusy::Tentative => db::FreeBusy::Tentative,
            wit::FreeBusy::Busy => db::FreeBusy::Busy,
            wit::FreeBusy::Oof => db::FreeBusy::Oof,
            wit::FreeBusy::WorkingElsewhere => db::FreeBusy::WorkingElsewhere,
            wit::FreeBusy::NoData => db::FreeBusy::NoData,
        },
        attendees: f
            .attendees
            .into_iter()
            .map(|a| db::Attendee {
                email: a.email,
                kind: match a.kind {
                    wit::AttendeeKind::Required => db::AttendeeKind::Required,
                    wit::AttendeeKind::Optional => db::AttendeeKind::Optional,
                    wit::AttendeeKind::Resource => db::AttendeeKind::Resource,
                },
            })
            .collect(),
        recurrence: f.recurrence.map(|r| db::Recurrence {
            pattern: pattern_from_wit(r.pattern),
            range: db::RecurrenceRange {
                start: date_from_wit(r.range.start),
                end: r.range.end.map(date_from_wit),
                count: r.range.count,
            },
            modified: r
                .modified
                .into_iter()
                .map(|m| db::ModifiedOccurrence {
                    original_start: m.original_start,
                    start: m.start,
                    end: m.end,
                    subject: m.subject,
                })
                .collect(),
            deleted: r.deleted,
        }),
    }
}

fn date_to_wit(d: db::Date) -> wit::Date {
    wit::Date {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

fn date_from_wit(d: wit::Date) -> db::Date {
    db::Date {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

fn weekday_to_wit(d: db::Weekday) -> wit::Weekday {
    match d {
        db::Weekday::Sunday => wit::Weekday::Sunday,
        db::Weekday::Monday => wit::Weekday::Monday,
        db::Weekday::Tuesday => wit::Weekday::Tuesday,
        db::Weekday::Wednesday => wit::Weekday::Wednesday,
        db::Weekday::Thursday => wit::Weekday::Thursday,
        db::Weekday::Friday => wit::Weekday::Friday,
        db::Weekday::Saturday => wit::Weekday::Saturday,
        db::Weekday::Day => wit::Weekday::Day,
        db::Weekday::Weekday => wit::Weekday::Weekday,
        db::Weekday::WeekendDay => wit::Weekday::WeekendDay,
    }
}

fn weekday_from_wit(d: wit::Weekday) -> db::Weekday {
    match d {
        wit::Weekday::Sunday => db::Weekday::Sunday,
        wit::Weekday::Monday => db::Weekday::Monday,
        wit::Weekday::Tuesday => db::Weekday::Tuesday,
        wit::Weekday::Wednesday => db::Weekday::Wednesday,
        wit::Weekday::Thursday => db::Weekday::Thursday,
        wit::Weekday::Friday => db::Weekday::Friday,
        wit::Weekday::Saturday => db::Weekday::Saturday,
        wit::Weekday::Day => db::Weekday::Day,
        wit::Weekday::Weekday => db::Weekday::Weekday,
        wit::Weekday::WeekendDay => db::Weekday::WeekendDay,
    }
}

fn index_to_wit(i: db::WeekIndex) -> wit::WeekIndex {
    match i {
        db::WeekIndex::First => wit::WeekIndex::First,
        db::WeekIndex::Second => wit::WeekIndex::Second,
        db::WeekIndex::Third => wit::WeekIndex::Third,
        db::WeekIndex::Fourth => wit::WeekIndex::Fourth,
        db::WeekIndex::Last => wit::WeekIndex::Last,
    }
}

fn index_from_wit(i: wit::WeekIndex) -> db::WeekIndex {
    match i {
        wit::WeekIndex::First => db::WeekIndex::First,
        wit::WeekIndex::Second => db::WeekIndex::Second,
        wit::WeekIndex::Third => db::WeekIndex::Third,
        wit::WeekIndex::Fourth => db::WeekIndex::Fourth,
        wit::WeekIndex::Last => db::WeekIndex::Last,
    }
}

fn pattern_to_wit(p: db::Pattern) -> wit::Pattern {
    match p {
        db::Pattern::Daily { interval } => wit::Pattern::Daily(wit::DailyPattern { interval }),
        db::Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => wit::Pattern::Weekly(wit::WeeklyPattern {
            interval,
            days: days.into_iter().map(weekday_to_wit).collect(),
            first_day_of_week: weekday_to_wit(first_day_of_week),
        }),
        db::Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => wit::Pattern::AbsoluteMonthly(wit::AbsoluteMonthlyPattern {
            interval,
            day_of_month,
        }),
        db::Pattern::RelativeMonthly {
            interval,
            day,
            index,
        } => wit::Pattern::RelativeMonthly(wit::RelativeMonthlyPattern {
            interval,
            day: weekday_to_wit(day),
            index: index_to_wit(index),
        }),
        db::Pattern::AbsoluteYearly {
            month,
            day_of_month,
        } => wit::Pattern::AbsoluteYearly(wit::AbsoluteYearlyPattern {
            month,
            day_of_month,
        }),
        db::Pattern::RelativeYearly { month, day, index } => {
            wit::Pattern::RelativeYearly(wit::RelativeYearlyPattern {
                month,
                day: weekday_to_wit(day),
                index: index_to_wit(index),
            })
        }
    }
}

fn pattern_from_wit(p: wit::Pattern) -> db::Pattern {
    match p {
        wit::Pattern::Daily(p) => db::Pattern::Daily {
            interval: p.interval,
        },
        wit::Pattern::Weekly(p) => db::Pattern::Weekly {
            interval: p.interval,
            days: p.days.into_iter().map(weekday_from_wit).collect(),
            first_day_of_week: weekday_from_wit(p.first_day_of_week),
        },
        wit::Pattern::AbsoluteMonthly(p) => db::Pattern::AbsoluteMonthly {
            interval: p.interval,
            day_of_month: p.day_of_month,
        },
        wit::Pattern::RelativeMonthly(p) => db::Pattern::RelativeMonthly {
            interval: p.interval,
            day: weekday_from_wit(p.day),
            index: index_from_wit(p.index),
        },
        wit::Pattern::AbsoluteYearly(p) => db::Pattern::AbsoluteYearly {
            month: p.month,
            day_of_month: p.day_of_month,
        },
        wit::Pattern::RelativeYearly(p) => db::Pattern::RelativeYearly {
            month: p.month,
            day: weekday_from_wit(p.day),
            index: index_from_wit(p.index),
        },
    }
}

fn item_from_wit(i: ItemRef) -> db::ItemRef {
    db::ItemRef {
        mailbox: i.mailbox,
        item_id: i.item_id,
    }
}

fn key_from_wit(k: BookingKey) -> db::BookingKey {
    match k {
        BookingKey::Id(id) => db::BookingKey::Id(id),
        BookingKey::Uid(uid) => db::BookingKey::Uid(uid),
        BookingKey::Item(item) => db::BookingKey::Item(item_from_wit(item)),
    }
}

fn write_from_wit(w: BookingWrite) -> db::BookingWrite {
    db::BookingWrite {
        booking: booking_from_wit(w.booking),
        base_revision: w.base_revision,
        effect: match w.effect {
            WriteEffect::FromExchange => db::WriteEffect::FromExchange,
            WriteEffect::Written => db::WriteEffect::Written,
            WriteEffect::Bookkeeping => db::WriteEffect::Bookkeeping,
        },
    }
}

fn conflict_from_wit(c: Conflict) -> db::Conflict {
    db::Conflict {
        booking: c.booking,
        mailbox: c.mailbox,
        differences: c
            .differences
            .into_iter()
            .map(|d: FieldDifference| db::FieldDifference {
                field: d.field,
                rooms: d.rooms,
                exchange: d.exchange,
            })
            .collect(),
        winner: match c.winner {
            ConflictWinner::Rooms => db::ConflictWinner::Rooms,
            ConflictWinner::Exchange => db::ConflictWinner::Exchange,
            ConflictWinner::None => db::ConflictWinner::None,
        },
        attempt: c.attempt,
        at: c.at,
    }
}

fn notice_from_wit(n: Notice) -> db::Notice {
    db::Notice {
        booking: n.booking,
        recipient: n.recipient,
        kind: match n.kind {
            NoticeKind::ConflictRolledBack => db::NoticeKind::ConflictRolledBack,
            NoticeKind::ConflictCancelled => db::NoticeKind::ConflictCancelled,
            NoticeKind::SyncDisabled => db::NoticeKind::SyncDisabled,
            NoticeKind::RoomDeclined => db::NoticeKind::RoomDeclined,
            NoticeKind::AmbiguousRooms => db::NoticeKind::AmbiguousRooms,
        },
        message: n.message,
        at: n.at,
    }
}

/// A WIT `page` as the store's page.
pub fn page_from_wit(p: Page) -> db::Page {
    db::Page {
        mailbox: p.mailbox,
        bookings: p.bookings.into_iter().map(write_from_wit).collect(),
        unlinked: p.unlinked.into_iter().map(item_from_wit).collect(),
        sync_state: p.sync_state,
        conflicts: p.conflicts.into_iter().map(conflict_from_wit).collect(),
        notices: p.notices.into_iter().map(notice_from_wit).collect(),
        quarantined: p
            .quarantined
            .into_iter()
            .map(|q: QuarantinedItem| db::QuarantinedItem {
                item: item_from_wit(q.item),
                subject: q.subject,
                reason: q.reason,
            })
            .collect(),
        released: p.released.into_iter().map(item_from_wit).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::http_policy::{HttpLimits, HttpPolicy};
    use crate::log::{LogSink, MemoryLog};
    use crate::settings::TenantInputs;
    use crate::state::CallLimiter;
    use crate::tenant::Tenant;

    /// A tenant with the call state the component would get, and its log.
    fn state() -> (tempfile::TempDir, TenantState, MemoryLog) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("RoomsAppSettings.config"),
            "<RoomsAppSettings>\n\
             <add key=\"ExchangeTenantId\" value=\"72f988bf-86f1-41af-91ab-2d7cd011db47\" />\n\
             <add key=\"ExchangeAppId\" value=\"6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f\" />\n\
             <add key=\"ExchangeClientSecret\" value=\"not-a-real-secret\" />\n\
             </RoomsAppSettings>\n",
        )
        .unwrap();
        let (sink, log) = LogSink::memory();
        let tenant = Tenant::open(
            dir.path(),
            Arc::new(std::collections::HashMap::<String, String>::new()),
            TenantInputs::default(),
            sink,
        )
        .unwrap();
        let policy = Arc::new(HttpPolicy::new(false, HttpLimits::default()));
        let state = TenantState::new(tenant, policy, CallLimiter::new(64 << 20));
        (dir, state, log)
    }

    fn record(mailbox: &str, mode: db::SyncMode, id: &str) -> db::SubscriptionRecord {
        let at: jiff::Timestamp = "2026-05-04T07:00:00Z".parse().unwrap();
        db::SubscriptionRecord {
            mailbox: mailbox.into(),
            mode,
            id: id.into(),
            watermark: format!("wm-{id}"),
            affinity: (mode == db::SyncMode::O365Pull).then(|| format!("cookie-{id}")),
            callback_url: (mode == db::SyncMode::O365)
                .then(|| "https://rooms.contoso.com/ews/notify".into()),
            created_at: at,
            last_event_at: at,
        }
    }

    #[test]
    fn find_subscription_gives_the_stored_subscription_of_an_id() {
        let (_dir, mut state, _log) = state();
        let db = state.tenant().db();
        db.save_subscription(&record("Adele@Contoso.com", db::SyncMode::O365, "push-1"))
            .unwrap();
        db.save_subscription(&record(
            "room.berlin@contoso.com",
            db::SyncMode::O365Pull,
            "pull-1",
        ))
        .unwrap();

        let push = state.find_subscription("push-1".into()).unwrap();
        assert_eq!(push.mailbox, "adele@contoso.com");
        assert!(matches!(push.mode, SyncMode::O365));
        assert_eq!(
            (push.id.as_str(), push.watermark.as_str()),
            ("push-1", "wm-push-1")
        );
        assert_eq!(push.affinity, None);

        let pull = state.find_subscription("pull-1".into()).unwrap();
        assert_eq!(pull.mailbox, "room.berlin@contoso.com");
        assert!(matches!(pull.mode, SyncMode::O365Pull));
        assert_eq!(pull.affinity.as_deref(), Some("cookie-pull-1"));

        assert!(state.find_subscription("someone-elses".into()).is_none());
        assert!(state.find_subscription(String::new()).is_none());
    }

    #[test]
    fn find_subscription_logs_a_database_failure_and_finds_none() {
        let (_dir, mut state, log) = state();
        let db = state.tenant().db();
        db.save_subscription(&record("adele@contoso.com", db::SyncMode::O365, "push-1"))
            .unwrap();
        db.conn()
            .execute_batch("UPDATE subscriptions SET mode = 'Carrier pigeon'")
            .unwrap();
        assert!(state.find_subscription("push-1".into()).is_none());
        let text = log.text();
        assert!(
            text.contains("WARN") && text.contains("looking up subscription push-1"),
            "{text}"
        );
        assert!(
            text.contains("subscription mode `Carrier pigeon` for adele@contoso.com"),
            "{text}"
        );
    }

    #[test]
    fn a_probe_is_found_as_a_push_subscription_until_dropped() {
        let (_dir, mut state, _log) = state();
        assert!(state.record_probe("probe-1".into(), "Adele@Contoso.com".into()));
        // The service's webhook finds it like a subscription of its mailbox.
        let found = state.find_subscription("probe-1".into()).unwrap();
        assert_eq!(found.mailbox, "adele@contoso.com");
        assert_eq!(found.mode, SyncMode::O365);
        assert_eq!(found.watermark, "");
        assert!(!state.probe_delivered("probe-1".into()));
        // The service's heartbeat bookkeeping marks it delivered.
        assert!(
            state
                .tenant()
                .db()
                .record_subscription_event("probe-1", "wm-9", jiff::Timestamp::now())
                .unwrap()
        );
        assert!(state.probe_delivered("probe-1".into()));
        state.drop_probe("probe-1".into());
        assert!(state.find_subscription("probe-1".into()).is_none());
        assert!(!state.probe_delivered("probe-1".into()));
        // Probes are not the service's subscriptions.
        assert!(state.tenant().db().list_subscriptions().unwrap().is_empty());
        assert!(!state.probe_delivered("never-made".into()));
    }
}
