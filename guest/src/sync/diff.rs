//! `rooms-sync diff` (the original product's "Sync-Differenzen"): the
//! person's ROOMS bookings against the items of the person's Exchange
//! calendar, field by field.
//!
//! [`diff`] signs in, lists the whole calendar through the transport seam
//! (changes from no state, then the items fetched in batches; nothing is
//! committed and the stored sync state is not touched), asks the host for
//! the bookings homed in the mailbox ([`Platform::list_bookings`]) and hands
//! both to [`compare`], which is pure and tested here:
//!
//! - a booking is paired with its item by its link in the mailbox, then by
//!   the item's `RoomsBookingId` tag, then by the meeting UID;
//! - a pair counts when either side overlaps the window (a series when its
//!   range does);
//! - the item is mapped with the engine's own mapping
//!   ([`mapping::map_item`], the booking's organiser kept) and both sides
//!   are normalised before [`mapping::differences`], so only what the sync
//!   would change is listed;
//! - a series is compared as its definition (pattern, range and the master's
//!   fields) and then occurrence by occurrence (each original start that is
//!   modified or deleted on either side), so an exception changed on one
//!   side is a difference of that occurrence;
//! - the sync test's items (tagged `RoomsSyncTest`), which the sync leaves
//!   alone, are left out;
//! - an active or sync-disabled booking without an item is missing in
//!   Exchange; an item no booking knows (the host is asked by id, tag and
//!   UID, so a copy of another person's booking is not listed) is missing in
//!   ROOMS. A cancelled booking whose item is still there differs in `state`
//!   only while its cancellation waits to be written.
//!
//! The host filters out what it quarantined or was told to ignore.

use std::collections::HashMap;

use crate::booking::{
    Booking, BookingFields, BookingKey, BookingState, FieldDifference, Instant, ItemRef, Pattern,
    Recurrence,
};
use crate::config::RawSettings;
use crate::error::Error;
use crate::ews::time::{days_of, format_datetime};
use crate::platform::{Level, Person, Platform};
use crate::session::Target;

use super::mapping::{self, Directory};
use super::options::Options;
use super::retry::Pacer;
use super::transport::{Change, RemoteItem, Transport};
use super::{Engine, Problem, Report};

/// What kind of disagreement a [`Difference`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A booking without an item.
    MissingInExchange,
    /// An item without a booking.
    MissingInRooms,
    /// Both exist; the fields differ.
    FieldsDiffer,
}

/// One difference (the WIT `sync-difference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Which side lacks what.
    pub kind: Kind,
    /// The booking's id, when there is a booking.
    pub booking: Option<String>,
    /// The booking's state.
    pub state: Option<BookingState>,
    /// The booking's revision.
    pub revision: Option<u64>,
    /// The item's id, when there is an item.
    pub item_id: Option<String>,
    /// The item's ChangeKey (the master's for an occurrence).
    pub change_key: Option<String>,
    /// The meeting UID, when the item has one.
    pub uid: Option<String>,
    /// The booking's subject, else the item's.
    pub subject: String,
    /// Start (first occurrence of a series).
    pub start: Instant,
    /// End.
    pub end: Instant,
    /// The original start of the occurrence this is about; `None` for the
    /// booking as a whole.
    pub occurrence: Option<Instant>,
    /// For [`Kind::FieldsDiffer`]: the fields with both values.
    pub fields: Vec<FieldDifference>,
}

/// The differences of `person` in `[from, to)` (the WIT `diff-person`).
// A `Problem` is what the WIT export returns; it is made once per call.
#[allow(clippy::result_large_err)]
pub fn diff(
    platform: &mut dyn Platform,
    person: &Person,
    from: Instant,
    to: Instant,
) -> Result<Vec<Difference>, Problem> {
    let target = RawSettings::read(platform)
        .and_then(|raw| Target::prepare(&raw, person))
        .map_err(|e| super::problem(&e))?;
    let options = Options::read(platform);
    let client = target.client();
    let transport = super::ews_transport::EwsTransport::new(&client, &options);
    let mut engine = engine(platform, person, transport, options);
    let items = engine.list_calendar().map_err(|e| super::problem(&e))?;
    let mailbox = engine.mailbox.clone();
    let bookings = engine.platform.list_bookings(&mailbox, from, to);
    let found = compare(
        &*engine.platform,
        &mut engine.directory,
        &mailbox,
        &bookings,
        &items,
        from,
        to,
    );
    engine.platform.log(
        Level::Info,
        &format!(
            "diff of {mailbox}: {} bookings, {} items, {} differences",
            bookings.len(),
            items.len(),
            found.len()
        ),
    );
    Ok(found)
}

/// An engine for one call that is not a sync cycle (diff, resolve).
pub(crate) fn engine<'a, T: Transport>(
    platform: &'a mut dyn Platform,
    person: &Person,
    transport: T,
    options: Options,
) -> Engine<'a, T> {
    let pacer = Pacer::new(options.retry_max_ms);
    Engine {
        platform,
        transport,
        person: person.clone(),
        mailbox: person.email.to_ascii_lowercase(),
        options,
        directory: Directory::default(),
        pacer,
        report: Report::default(),
        marked: false,
        confirming: false,
        created: Vec::new(),
    }
}

impl<T: Transport> Engine<'_, T> {
    /// Every readable item of the person's calendar: the changes from no
    /// state, then the items fetched in batches. An item that cannot be read
    /// is logged and left out.
    pub(crate) fn list_calendar(&mut self) -> Result<Vec<RemoteItem>, Error> {
        let mailbox = self.mailbox.clone();
        let mut state: Option<String> = None;
        let mut ids: Vec<String> = Vec::new();
        loop {
            let current = state.clone();
            let page = self.call(true, |t, p| t.changes(p, &mailbox, current.as_deref()))?;
            for change in page.changes {
                match change {
                    Change::Upsert { item_id, .. } => {
                        if !ids.contains(&item_id) {
                            ids.push(item_id);
                        }
                    }
                    Change::Delete { item_id } => ids.retain(|i| *i != item_id),
                }
            }
            if page.last || page.state.is_empty() || Some(&page.state) == state.as_ref() {
                break;
            }
            state = Some(page.state);
        }
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.options.batch_size.max(1)) {
            let answers = self.call(true, |t, p| t.fetch(p, &mailbox, chunk))?;
            for (id, answer) in chunk.iter().zip(answers) {
                match answer {
                    Ok(item) => items.push(item),
                    Err(reason) => self.platform.log(
                        Level::Warn,
                        &format!("{mailbox}: item {id} could not be read for the diff: {reason}"),
                    ),
                }
            }
        }
        Ok(items)
    }
}

/// Compares `bookings` (homed in `mailbox`) with the `items` of its
/// calendar over `[from, to)`; the result is ordered by start.
pub fn compare(
    platform: &dyn Platform,
    directory: &mut Directory,
    mailbox: &str,
    bookings: &[Booking],
    items: &[RemoteItem],
    from: Instant,
    to: Instant,
) -> Vec<Difference> {
    let mailbox = mailbox.to_ascii_lowercase();
    // What the sync leaves alone (the sync test's items) is no difference.
    let kept: Vec<RemoteItem> = items
        .iter()
        .filter(|i| !super::inbound::ignored(i))
        .cloned()
        .collect();
    let items = kept.as_slice();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut by_tag: HashMap<&str, usize> = HashMap::new();
    let mut by_uid: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        by_id.insert(item.item_id.as_str(), i);
        if let Some(tag) = &item.tag {
            by_tag.entry(tag.as_str()).or_insert(i);
        }
        if !item.uid.is_empty() {
            by_uid.entry(item.uid.as_str()).or_insert(i);
        }
    }
    let mut paired = vec![false; items.len()];
    let mut out = Vec::new();
    for b in bookings {
        if !b.home.eq_ignore_ascii_case(&mailbox) {
            continue;
        }
        let own_uid = super::outbound::uid_for(&b.id);
        let found = b
            .link(&mailbox)
            .and_then(|l| by_id.get(l.item_id.as_str()))
            .or_else(|| by_tag.get(b.id.as_str()))
            .or_else(|| {
                b.links
                    .iter()
                    .map(|l| l.uid.as_str())
                    .chain(std::iter::once(own_uid.as_str()))
                    .filter(|u| !u.is_empty())
                    .find_map(|u| by_uid.get(u))
            })
            .copied()
            .filter(|&i| !paired[i]);
        let in_window = overlaps(
            b.fields.start,
            b.fields.end,
            b.fields.recurrence.as_ref(),
            from,
            to,
        ) || found.is_some_and(|i| item_overlaps(&items[i], from, to));
        if let Some(i) = found {
            paired[i] = true;
        }
        if !in_window {
            continue;
        }
        let Some(i) = found else {
            if b.state != BookingState::Cancelled {
                out.push(of_booking(
                    b,
                    Kind::MissingInExchange,
                    None,
                    None,
                    Vec::new(),
                ));
            }
            continue;
        };
        let item = &items[i];
        if b.state == BookingState::Cancelled {
            if b.is_pending() && !item.cancelled {
                let state = FieldDifference {
                    field: "state".into(),
                    rooms: "cancelled".into(),
                    exchange: "active".into(),
                };
                out.push(of_booking(
                    b,
                    Kind::FieldsDiffer,
                    Some(item),
                    None,
                    vec![state],
                ));
            }
            continue;
        }
        if item.cancelled {
            let state = FieldDifference {
                field: "state".into(),
                rooms: "active".into(),
                exchange: "cancelled".into(),
            };
            out.push(of_booking(
                b,
                Kind::FieldsDiffer,
                Some(item),
                None,
                vec![state],
            ));
            continue;
        }
        let mapped = mapping::map_item(
            platform,
            directory,
            item,
            &mailbox,
            Some(&b.fields.organiser),
        );
        let rooms = mapping::normalise(b.fields.clone());
        let exchange = mapping::normalise(mapped.fields);
        let mut fields = Vec::new();
        if rooms.organiser == mailbox
            && !item.organizer.is_empty()
            && !item.organizer.eq_ignore_ascii_case(&rooms.organiser)
        {
            fields.push(FieldDifference {
                field: "organiser".into(),
                rooms: rooms.organiser.clone(),
                exchange: item.organizer.to_ascii_lowercase(),
            });
        }
        fields.extend(mapping::differences(
            &definition(&rooms),
            &definition(&exchange),
        ));
        if !fields.is_empty() {
            out.push(of_booking(b, Kind::FieldsDiffer, Some(item), None, fields));
        }
        for (original, fields) in occurrence_differences(&rooms, &exchange, from, to) {
            out.push(of_booking(
                b,
                Kind::FieldsDiffer,
                Some(item),
                Some(original),
                fields,
            ));
        }
    }
    // Items no listed booking took: a booking elsewhere (another home, out
    // of the list) may still know them.
    let unpaired: Vec<&RemoteItem> = items
        .iter()
        .enumerate()
        .filter(|(i, item)| !paired[*i] && !item.cancelled && item_overlaps(item, from, to))
        .map(|(_, item)| item)
        .collect();
    if !unpaired.is_empty() {
        let mut keys = Vec::new();
        let mut owner = Vec::new();
        for (n, item) in unpaired.iter().enumerate() {
            keys.push(BookingKey::Item(ItemRef {
                mailbox: mailbox.clone(),
                item_id: item.item_id.clone(),
            }));
            owner.push(n);
            if let Some(tag) = &item.tag {
                keys.push(BookingKey::Id(tag.clone()));
                owner.push(n);
            }
            if !item.uid.is_empty() {
                keys.push(BookingKey::Uid(item.uid.clone()));
                owner.push(n);
            }
            if let Some(id) = super::outbound::booking_of_uid(&item.uid) {
                keys.push(BookingKey::Id(id.to_owned()));
                owner.push(n);
            }
        }
        let mut known = vec![false; unpaired.len()];
        for (n, found) in owner.into_iter().zip(platform.find_bookings(&keys)) {
            if found.is_some() {
                known[n] = true;
            }
        }
        for (item, known) in unpaired.into_iter().zip(known) {
            if !known {
                out.push(Difference {
                    kind: Kind::MissingInRooms,
                    booking: None,
                    state: None,
                    revision: None,
                    item_id: Some(item.item_id.clone()),
                    change_key: Some(item.change_key.clone()),
                    uid: (!item.uid.is_empty()).then(|| item.uid.clone()),
                    subject: item.subject.clone(),
                    start: item.start,
                    end: item.end,
                    occurrence: None,
                    fields: Vec::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (a.start, &a.booking, &a.item_id, a.occurrence).cmp(&(
            b.start,
            &b.booking,
            &b.item_id,
            b.occurrence,
        ))
    });
    out
}

/// A difference about booking `b` (and its `item`, if any).
fn of_booking(
    b: &Booking,
    kind: Kind,
    item: Option<&RemoteItem>,
    occurrence: Option<Instant>,
    fields: Vec<FieldDifference>,
) -> Difference {
    Difference {
        kind,
        booking: Some(b.id.clone()),
        state: Some(b.state),
        revision: Some(b.revision),
        item_id: item.map(|i| i.item_id.clone()),
        change_key: item.map(|i| i.change_key.clone()),
        uid: item.map(|i| i.uid.clone()).filter(|u| !u.is_empty()),
        subject: b.fields.subject.clone(),
        start: b.fields.start,
        end: b.fields.end,
        occurrence,
        fields,
    }
}

/// The fields without a series' exceptions (those are compared one by one).
fn definition(f: &BookingFields) -> BookingFields {
    let mut f = f.clone();
    if let Some(r) = &mut f.recurrence {
        r.modified.clear();
        r.deleted.clear();
    }
    f
}

/// One occurrence of a series as one side has it.
#[derive(Debug, PartialEq, Eq)]
enum Occurrence {
    Deleted,
    At {
        start: Instant,
        end: Instant,
        subject: String,
    },
}

fn occurrence_of(f: &BookingFields, r: &Recurrence, original: Instant) -> Occurrence {
    if r.deleted.contains(&original) {
        return Occurrence::Deleted;
    }
    match r.modified.iter().find(|m| m.original_start == original) {
        Some(m) => Occurrence::At {
            start: m.start,
            end: m.end,
            subject: m.subject.clone(),
        },
        None => Occurrence::At {
            start: original,
            end: original + (f.end - f.start),
            subject: f.subject.clone(),
        },
    }
}

/// The occurrences (by original start, in the window) that differ between
/// two series; nothing when either side is not a series.
fn occurrence_differences(
    rooms: &BookingFields,
    exchange: &BookingFields,
    from: Instant,
    to: Instant,
) -> Vec<(Instant, Vec<FieldDifference>)> {
    let (Some(r), Some(e)) = (&rooms.recurrence, &exchange.recurrence) else {
        return Vec::new();
    };
    let mut originals: Vec<Instant> = r
        .modified
        .iter()
        .chain(&e.modified)
        .map(|m| m.original_start)
        .chain(r.deleted.iter().copied())
        .chain(e.deleted.iter().copied())
        .collect();
    originals.sort_unstable();
    originals.dedup();
    let mut out = Vec::new();
    for original in originals {
        let a = occurrence_of(rooms, r, original);
        let b = occurrence_of(exchange, e, original);
        if a == b {
            continue;
        }
        let touches = |o: &Occurrence| match o {
            Occurrence::Deleted => original < to && original >= from,
            Occurrence::At { start, end, .. } => *start < to && *end > from,
        };
        if !touches(&a) && !touches(&b) {
            continue;
        }
        let mut fields = Vec::new();
        match (&a, &b) {
            (
                Occurrence::At {
                    start: s1,
                    end: e1,
                    subject: t1,
                },
                Occurrence::At {
                    start: s2,
                    end: e2,
                    subject: t2,
                },
            ) => {
                let mut field = |name: &str, x: String, y: String| {
                    if x != y {
                        fields.push(FieldDifference {
                            field: name.into(),
                            rooms: x,
                            exchange: y,
                        });
                    }
                };
                field("subject", t1.clone(), t2.clone());
                field("start", format_datetime(*s1), format_datetime(*s2));
                field("end", format_datetime(*e1), format_datetime(*e2));
            }
            _ => fields.push(FieldDifference {
                field: "deleted".into(),
                rooms: (a == Occurrence::Deleted).to_string(),
                exchange: (b == Occurrence::Deleted).to_string(),
            }),
        }
        out.push((original, fields));
    }
    out
}

/// True when the item overlaps `[from, to)` (a series when its range does).
fn item_overlaps(item: &RemoteItem, from: Instant, to: Instant) -> bool {
    overlaps(item.start, item.end, item.recurrence.as_ref(), from, to)
}

/// True when a booking or item from `start` to `end` (the first occurrence
/// of `recurrence`) overlaps `[from, to)`. A series' end is estimated from
/// above (its end date with a day's slack for the zone, or count times the
/// longest period), so a series is never left out wrongly.
pub fn overlaps(
    start: Instant,
    end: Instant,
    recurrence: Option<&Recurrence>,
    from: Instant,
    to: Instant,
) -> bool {
    const DAY: i64 = 86_400;
    let length = (end - start).max(0);
    let last_end = match recurrence {
        None => end,
        Some(r) => match (r.range.end, r.range.count) {
            (Some(date), _) => (days_of(date) + 2) * DAY + length,
            (None, Some(count)) => {
                let period = match &r.pattern {
                    Pattern::Daily { interval } => i64::from(*interval) * DAY,
                    Pattern::Weekly { interval, .. } => i64::from(*interval) * 7 * DAY,
                    Pattern::AbsoluteMonthly { interval, .. }
                    | Pattern::RelativeMonthly { interval, .. } => i64::from(*interval) * 31 * DAY,
                    Pattern::AbsoluteYearly { .. } | Pattern::RelativeYearly { .. } => 366 * DAY,
                };
                start.saturating_add(period.saturating_mul(i64::from(count)) + length)
            }
            (None, None) => Instant::MAX,
        },
    };
    start < to && last_end > from
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::{
        Attendee, AttendeeKind, Date, ExchangeLink, FreeBusy, ModifiedOccurrence, Range, Weekday,
    };
    use crate::platform::{ConflictBehaviour, SyncMode};
    use crate::testing::TestPlatform;

    const MAILBOX: &str = "alice@contoso.com";
    const START: Instant = 1_790_000_000;
    const DAY: Instant = 86_400;

    fn platform() -> TestPlatform {
        let mut p = TestPlatform::new();
        p.persons = vec![
            Person {
                email: MAILBOX.into(),
                sync_mode: SyncMode::O365Pull,
                sync_url: String::new(),
                conflict_behaviour: ConflictBehaviour::Rollback,
                sync_disabled: false,
                room: false,
                sync_master: false,
            },
            Person {
                email: "room-berlin@contoso.com".into(),
                sync_mode: SyncMode::O365Pull,
                sync_url: String::new(),
                conflict_behaviour: ConflictBehaviour::Rollback,
                sync_disabled: false,
                room: true,
                sync_master: false,
            },
        ];
        p
    }

    fn item(id: &str) -> RemoteItem {
        RemoteItem {
            item_id: format!("item-{id}"),
            change_key: "ck1".into(),
            uid: format!("uid-{id}"),
            tag: Some(id.into()),
            organizer: MAILBOX.into(),
            subject: "Planning".into(),
            start: START,
            end: START + 3600,
            time_zone: "W. Europe Standard Time".into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: false,
            free_busy: FreeBusy::Busy,
            location: String::new(),
            attendees: vec![super::super::transport::RemoteAttendee {
                email: "room-berlin@contoso.com".into(),
                kind: AttendeeKind::Resource,
                response: super::super::transport::Response::Accept,
            }],
            cancelled: false,
            recurrence: None,
            occurrence_ids: Vec::new(),
            sync_test: false,
        }
    }

    /// The booking the sync would have made of `item`, linked to it.
    fn booking_of(p: &TestPlatform, item: &RemoteItem, id: &str) -> Booking {
        let mapped = mapping::map_item(p, &mut Directory::default(), item, MAILBOX, None);
        Booking {
            id: id.into(),
            fields: mapped.fields.clone(),
            state: BookingState::Active,
            home: MAILBOX.into(),
            revision: 3,
            synced_revision: 3,
            links: vec![ExchangeLink {
                mailbox: MAILBOX.into(),
                item_id: item.item_id.clone(),
                change_key: item.change_key.clone(),
                uid: item.uid.clone(),
                fingerprint: mapping::fingerprint(&mapped.fields),
            }],
            attempts: 0,
            last_error: None,
        }
    }

    fn run(p: &TestPlatform, bookings: &[Booking], items: &[RemoteItem]) -> Vec<Difference> {
        compare(
            p,
            &mut Directory::default(),
            MAILBOX,
            bookings,
            items,
            START - 30 * DAY,
            START + 365 * DAY,
        )
    }

    fn weekly() -> Recurrence {
        Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![Weekday::Monday],
                first_day_of_week: Weekday::Monday,
            },
            range: Range {
                start: Date {
                    year: 2026,
                    month: 9,
                    day: 21,
                },
                end: None,
                count: Some(10),
            },
            modified: Vec::new(),
            deleted: Vec::new(),
        }
    }

    #[test]
    fn equal_sides_have_no_difference() {
        let p = platform();
        let i = item("b1");
        let b = booking_of(&p, &i, "b1");
        assert_eq!(run(&p, &[b], &[i]), Vec::new());
    }

    #[test]
    fn a_field_changed_on_one_side_is_listed_with_both_values() {
        let p = platform();
        let i = item("b1");
        let b = booking_of(&p, &i, "b1");
        let mut changed = i.clone();
        changed.subject = "Planning (moved)".into();
        changed.start += 1800;
        changed.change_key = "ck2".into();
        let found = run(&p, &[b], &[changed]);
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.kind, Kind::FieldsDiffer);
        assert_eq!(d.booking.as_deref(), Some("b1"));
        assert_eq!(d.revision, Some(3));
        assert_eq!(d.change_key.as_deref(), Some("ck2"));
        let names: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["subject", "start"]);
        assert_eq!(d.fields[0].rooms, "Planning");
        assert_eq!(d.fields[0].exchange, "Planning (moved)");
    }

    #[test]
    fn a_room_and_attendees_are_compared_as_the_sync_maps_them() {
        let p = platform();
        let i = item("b1");
        let mut b = booking_of(&p, &i, "b1");
        b.fields.rooms.clear();
        b.fields.attendees = vec![Attendee {
            email: "bob@contoso.com".into(),
            kind: AttendeeKind::Required,
        }];
        let found = run(&p, &[b], &[i]);
        let names: Vec<&str> = found[0].fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["rooms", "attendees"]);
        assert_eq!(found[0].fields[0].exchange, "room-berlin@contoso.com");
    }

    #[test]
    fn missing_on_either_side() {
        let p = platform();
        let linked = item("b1");
        let b1 = booking_of(&p, &linked, "b1");
        let never_written = Booking {
            id: "b2".into(),
            links: Vec::new(),
            ..b1.clone()
        };
        let mut stranger = item("x");
        stranger.tag = None;
        let found = run(&p, &[b1, never_written], &[stranger]);
        let kinds: Vec<(Kind, Option<&str>, Option<&str>)> = found
            .iter()
            .map(|d| (d.kind, d.booking.as_deref(), d.item_id.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                // Same start: the item without a booking sorts first.
                (Kind::MissingInRooms, None, Some("item-x")),
                (Kind::MissingInExchange, Some("b1"), None),
                (Kind::MissingInExchange, Some("b2"), None),
            ]
        );
    }

    #[test]
    fn a_cancelled_booking_differs_only_while_its_cancellation_waits() {
        let p = platform();
        let i = item("b1");
        let mut b = booking_of(&p, &i, "b1");
        b.state = BookingState::Cancelled;
        assert_eq!(
            run(&p, std::slice::from_ref(&b), std::slice::from_ref(&i)),
            Vec::new()
        );
        b.revision += 1;
        let found = run(&p, &[b], &[i]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].fields[0].field, "state");
        assert_eq!(found[0].fields[0].rooms, "cancelled");
    }

    #[test]
    fn a_sync_disabled_booking_is_compared_and_a_sync_test_item_is_not() {
        let p = platform();
        let i = item("b1");
        let mut b = booking_of(&p, &i, "b1");
        b.state = BookingState::SyncDisabled;
        b.fields.subject = "Planning (ROOMS)".into();
        b.revision += 1;
        let mut test_item = item("t");
        test_item.tag = None;
        test_item.sync_test = true;
        let found = run(&p, &[b], &[i, test_item]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].state, Some(BookingState::SyncDisabled));
        assert_eq!(found[0].fields[0].rooms, "Planning (ROOMS)");
    }

    #[test]
    fn outside_the_window_nothing_is_listed() {
        let p = platform();
        let mut i = item("b1");
        let b = booking_of(&p, &i, "b1");
        i.subject = "changed".into();
        let found = compare(
            &p,
            &mut Directory::default(),
            MAILBOX,
            &[b],
            &[i],
            START + DAY,
            START + 2 * DAY,
        );
        assert_eq!(found, Vec::new());
    }

    #[test]
    fn an_exception_changed_on_one_side_is_that_occurrences_difference() {
        let p = platform();
        let mut i = item("s1");
        i.recurrence = Some(weekly());
        let b = booking_of(&p, &i, "s1");
        let second = START + 7 * DAY;
        let mut moved = i.clone();
        let r = moved.recurrence.as_mut().unwrap();
        r.modified.push(ModifiedOccurrence {
            original_start: second,
            start: second + 3600,
            end: second + 7200,
            subject: "Planning (later)".into(),
        });
        r.deleted.push(START + 14 * DAY);
        let found = run(&p, &[b], &[moved]);
        let occurrences: Vec<Option<Instant>> = found.iter().map(|d| d.occurrence).collect();
        assert_eq!(occurrences, [Some(second), Some(START + 14 * DAY)]);
        let names: Vec<&str> = found[0].fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["subject", "start", "end"]);
        assert_eq!(found[0].fields[0].exchange, "Planning (later)");
        assert_eq!(found[1].fields[0].field, "deleted");
        assert_eq!(found[1].fields[0].rooms, "false");
        assert_eq!(found[1].fields[0].exchange, "true");
    }

    #[test]
    fn a_series_counts_when_its_range_overlaps() {
        let r = weekly();
        // Ten weekly occurrences from START: the window after the first
        // occurrence but within the range still sees it.
        assert!(overlaps(
            START,
            START + 3600,
            Some(&r),
            START + 20 * DAY,
            START + 21 * DAY
        ));
        assert!(!overlaps(
            START,
            START + 3600,
            None,
            START + 20 * DAY,
            START + 21 * DAY
        ));
        assert!(!overlaps(
            START,
            START + 3600,
            Some(&r),
            START + 100 * DAY,
            START + 101 * DAY
        ));
    }
}
