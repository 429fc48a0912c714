//! Exchange → ROOMS: reads the changes of a person's calendar since the
//! committed sync state, fetches the changed items, decides per item and
//! commits each page with the state it advances to.
//!
//! Per item (`Engine::decide`):
//! - it is found by its link (mailbox and id), then by its `RoomsBookingId`
//!   tag, then by the meeting UID, so the same meeting in the organiser's and
//!   a room's calendar is one booking;
//! - the ChangeKey of the link, then the fingerprint of the synced fields,
//!   tell our own writes and changes that touch no synced field (a response
//!   arrived) from real changes (echo suppression);
//! - only the booking's home mailbox changes its fields; other copies are
//!   linked;
//! - a real change to a booking with local changes waiting is a conflict
//!   ([`super::conflict`]);
//! - a synced room that declined leaves the booking cancelled with a notice
//!   to the organiser; with `sync-master` the room is also taken off the
//!   Exchange meeting;
//! - an item that cannot be read or mapped is quarantined and the page goes
//!   on;
//! - a test item of the sync test (`rooms-sync check` tags it
//!   `RoomsSyncTest` and deletes it within seconds) is ignored: neither
//!   imported nor quarantined ([`ignored`]).
//!
//! A page is built, then committed in one transaction; when ROOMS changed a
//! booking meanwhile (`stale`), the page is built again from fresh lookups.

use std::collections::{HashMap, HashSet};

use crate::booking::{
    Booking, BookingFields, BookingKey, BookingState, BookingWrite, CommitError, ExchangeLink,
    ItemRef, Notice, NoticeKind, Page, Quarantined, WriteEffect,
};
use crate::error::Error;
use crate::platform::Level;

use super::Engine;
use super::mapping::{self, Mapped};
use super::transport::{Change, Fetched, RemoteItem, Transport};

/// The words of a booking's `last_error` when its room declined.
const DECLINED: &str = "declined the meeting";

/// The prefix of a stored sync state after a cycle wrote to Exchange and
/// before its closing pass confirmed the writes.
pub(super) const UNCONFIRMED: &str = "rooms-sync:unconfirmed:";

/// Rebuilds of one page after `stale` answers, at most.
const STALE_ROUNDS: usize = 3;

/// A write to Exchange that a committed page asks for.
#[derive(Debug, Clone)]
pub(super) enum Followup {
    /// Take a declined room off the meeting (`sync-master`).
    RemoveRoom {
        /// The item in the home mailbox.
        item: RemoteItem,
        /// The fields as mapped, without the room.
        fields: BookingFields,
        /// The room.
        room: String,
    },
}

/// What one built page changes, counted once it is committed.
#[derive(Debug, Default)]
struct Outcome {
    page: Page,
    created: u32,
    updated: u32,
    cancelled: u32,
    conflicts: u32,
    quarantined: u32,
    followups: Vec<Followup>,
}

impl<T: Transport> Engine<'_, T> {
    /// Brings every change of the person's calendar into ROOMS.
    pub(super) fn inbound(&mut self) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let mut state = self.platform.sync_state(&mailbox);
        if let Some(unconfirmed) = state.as_deref().and_then(|s| s.strip_prefix(UNCONFIRMED)) {
            if self.confirming {
                // This run's own closing pass: the marker is ours.
                state = Some(unconfirmed.to_owned());
            } else {
                // A cycle wrote to Exchange and stopped before its closing
                // pass: an item it created may have been deleted since,
                // which no incremental sync would report. Read the whole
                // calendar again; the reconciliation finds such losses.
                self.platform.log(
                    Level::Warn,
                    &format!(
                        "{mailbox}: the last cycle stopped after writing to Exchange; reading \
                         the whole calendar again"
                    ),
                );
                state = None;
            }
        }
        let mut full = state.is_none();
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let result = {
                let current = state.clone();
                self.call(true, |t, p| t.changes(p, &mailbox, current.as_deref()))
            };
            let page = match result {
                Ok(page) => page,
                Err(e) if state.is_some() && self.transport.is_invalid_state(&e) => {
                    self.platform.log(
                        Level::Warn,
                        &format!(
                            "{mailbox}: Exchange no longer accepts the stored sync state; \
                             reading the whole calendar again and reconciling by id, tag and UID"
                        ),
                    );
                    state = None;
                    full = true;
                    seen.clear();
                    continue;
                }
                Err(e) => return Err(e),
            };
            let changes = collapse(page.changes);
            for c in &changes {
                if let Change::Upsert { item_id, .. } = c {
                    seen.insert(item_id.clone());
                }
            }
            let new_state = if page.state.is_empty() {
                self.platform.log(
                    Level::Warn,
                    &format!("{mailbox}: Exchange sent an empty sync state; it is not stored"),
                );
                None
            } else {
                Some(page.state.clone())
            };
            self.apply(&changes, new_state.clone())?;
            if let Some(s) = new_state {
                state = Some(s);
            }
            if page.last {
                break;
            }
        }
        if self.confirming {
            // Items this cycle created that the closing pass did not report
            // were deleted again before it (created and deleted in between
            // are not reported): look each up.
            let unseen: Vec<String> = self
                .created
                .iter()
                .filter(|id| !seen.contains(*id))
                .cloned()
                .collect();
            if !unseen.is_empty() {
                let answers = self.call(true, |t, p| t.fetch(p, &mailbox, &unseen))?;
                let gone: Vec<Change> = unseen
                    .into_iter()
                    .zip(answers)
                    .filter(|(_, a)| matches!(a, Err(reason) if reason.starts_with("ErrorItemNotFound")))
                    .map(|(item_id, _)| Change::Delete { item_id })
                    .collect();
                if !gone.is_empty() {
                    self.apply(&gone, None)?;
                }
            }
        }
        if full {
            let gone: Vec<Change> = self
                .platform
                .linked_items(&mailbox)
                .into_iter()
                .filter(|r| !seen.contains(&r.item_id))
                .map(|r| Change::Delete { item_id: r.item_id })
                .collect();
            if !gone.is_empty() {
                self.platform.log(
                    Level::Info,
                    &format!(
                        "{mailbox}: {} linked items were not in the full resync; treating them \
                         as deleted in Exchange",
                        gone.len()
                    ),
                );
                self.apply(&gone, None)?;
            }
        }
        Ok(())
    }

    /// Fetches, decides and commits one page of changes.
    pub(super) fn apply(
        &mut self,
        changes: &[Change],
        new_state: Option<String>,
    ) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        // A version this mailbox's link already holds (our own write, or
        // one seen before) is not fetched again.
        let keys: Vec<BookingKey> = changes
            .iter()
            .filter(|c| matches!(c, Change::Upsert { change_key, .. } if !change_key.is_empty()))
            .map(|c| {
                BookingKey::Item(ItemRef {
                    mailbox: mailbox.clone(),
                    item_id: c.item_id().to_owned(),
                })
            })
            .collect();
        let known: HashSet<(String, String)> = if keys.is_empty() {
            HashSet::new()
        } else {
            self.platform
                .find_bookings(&keys)
                .into_iter()
                .flatten()
                .flat_map(|b| b.links)
                .filter(|l| l.mailbox == mailbox && !l.uid.is_empty())
                .map(|l| (l.item_id, l.change_key))
                .collect()
        };
        let changes: Vec<Change> = changes
            .iter()
            .filter(|c| match c {
                Change::Upsert {
                    item_id,
                    change_key,
                } => !known.contains(&(item_id.clone(), change_key.clone())),
                Change::Delete { .. } => true,
            })
            .cloned()
            .collect();
        let changes = changes.as_slice();
        let upserts: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert { item_id, .. } => Some(item_id.clone()),
                Change::Delete { .. } => None,
            })
            .collect();
        let mut fetched: HashMap<String, Fetched> = HashMap::new();
        for chunk in upserts.chunks(self.options.batch_size.max(1)) {
            let answers = self.call(true, |t, p| t.fetch(p, &mailbox, chunk))?;
            for (id, answer) in chunk.iter().zip(answers) {
                fetched.insert(id.clone(), answer);
            }
        }
        for round in 0..STALE_ROUNDS {
            let outcome = self.build(changes, &fetched, new_state.clone());
            if outcome.page.is_empty() {
                return Ok(());
            }
            match self.platform.commit(&outcome.page) {
                Ok(()) => {
                    self.report.to_rooms.created += outcome.created;
                    self.report.to_rooms.updated += outcome.updated;
                    self.report.to_rooms.cancelled += outcome.cancelled;
                    self.report.conflicts += outcome.conflicts;
                    self.report.quarantined += outcome.quarantined;
                    for f in outcome.followups {
                        self.followup(f);
                    }
                    return Ok(());
                }
                Err(CommitError::Stale(ids)) if round + 1 < STALE_ROUNDS => {
                    self.platform.log(
                        Level::Info,
                        &format!(
                            "{mailbox}: {} bookings changed in ROOMS while their Exchange \
                             changes were read; deciding again",
                            ids.len()
                        ),
                    );
                }
                Err(e) => return Err(super::store_error(&e)),
            }
        }
        Err(super::store_error(&CommitError::Stale(Vec::new())))
    }

    /// Decides every change of a page against fresh lookups.
    fn build(
        &mut self,
        changes: &[Change],
        fetched: &HashMap<String, Fetched>,
        new_state: Option<String>,
    ) -> Outcome {
        let mailbox = self.mailbox.clone();
        let mut keys = Vec::new();
        for c in changes {
            keys.push(BookingKey::Item(ItemRef {
                mailbox: mailbox.clone(),
                item_id: c.item_id().to_owned(),
            }));
            if let Some(Ok(item)) = fetched.get(c.item_id()) {
                if let Some(tag) = &item.tag {
                    keys.push(BookingKey::Id(tag.clone()));
                }
                if !item.uid.is_empty() {
                    keys.push(BookingKey::Uid(item.uid.clone()));
                }
                if let Some(id) = super::outbound::booking_of_uid(&item.uid) {
                    keys.push(BookingKey::Id(id.to_owned()));
                }
            }
        }
        let found = self.platform.find_bookings(&keys);
        let mut by_key: HashMap<BookingKey, Booking> = HashMap::new();
        for (key, booking) in keys.into_iter().zip(found) {
            if let Some(b) = booking {
                by_key.insert(key, b);
            }
        }
        // Bookings this page already wrote, so two changes of one meeting in
        // one page build on each other.
        let mut written: HashMap<String, usize> = HashMap::new();
        let mut out = Outcome {
            page: Page::new(&mailbox),
            ..Outcome::default()
        };
        out.page.sync_state = new_state;
        for change in changes {
            let item_ref = ItemRef {
                mailbox: mailbox.clone(),
                item_id: change.item_id().to_owned(),
            };
            let lookup = |by_key: &HashMap<BookingKey, Booking>, item: Option<&RemoteItem>| {
                by_key
                    .get(&BookingKey::Item(item_ref.clone()))
                    .or_else(|| {
                        item.and_then(|i| i.tag.as_ref())
                            .and_then(|t| by_key.get(&BookingKey::Id(t.clone())))
                    })
                    .or_else(|| {
                        item.filter(|i| !i.uid.is_empty())
                            .and_then(|i| by_key.get(&BookingKey::Uid(i.uid.clone())))
                    })
                    .or_else(|| {
                        // A copy of a meeting the sync wrote (a room's, which
                        // carries no tag) before that write's link was
                        // committed: its UID names the booking.
                        item.and_then(|i| super::outbound::booking_of_uid(&i.uid))
                            .and_then(|id| by_key.get(&BookingKey::Id(id.to_owned())))
                    })
                    .cloned()
            };
            let current = |b: Option<Booking>, out: &Outcome| {
                b.map(|b| match written.get(&b.id) {
                    Some(&i) => out.page.bookings[i].booking.clone(),
                    None => b,
                })
            };
            let write = match change {
                Change::Delete { .. } => {
                    out.page.released.push(item_ref.clone());
                    let booking = current(lookup(&by_key, None), &out);
                    self.decide_delete(&item_ref, booking, &mut out)
                }
                Change::Upsert { item_id, .. } => match fetched.get(item_id) {
                    Some(Ok(item)) if ignored(item) => {
                        self.platform.log(
                            Level::Debug,
                            &format!("{mailbox}: a test item of the sync test, ignored"),
                        );
                        None
                    }
                    Some(Ok(item)) if item.cancelled => {
                        out.page.released.push(item_ref.clone());
                        let booking = current(lookup(&by_key, Some(item)), &out);
                        self.decide_delete(&item_ref, booking, &mut out)
                    }
                    Some(Ok(item)) => {
                        out.page.released.push(item_ref.clone());
                        let booking = current(lookup(&by_key, Some(item)), &out);
                        self.decide(item, booking, &mut out)
                    }
                    Some(Err(reason)) => {
                        self.platform
                            .log(Level::Warn, &format!("{mailbox}: item set aside: {reason}"));
                        out.page.quarantined.push(Quarantined {
                            item: item_ref.clone(),
                            subject: String::new(),
                            reason: reason.clone(),
                        });
                        out.quarantined += 1;
                        None
                    }
                    // Deleted between the sync and the fetch: the next
                    // sync reports the deletion.
                    None => None,
                },
            };
            if let Some(w) = write {
                match written.get(&w.booking.id) {
                    Some(&i) => {
                        // Keep the first write's base and the strongest effect.
                        let base = out.page.bookings[i].base_revision;
                        let effect = match (out.page.bookings[i].effect, w.effect) {
                            (WriteEffect::FromExchange, _) | (_, WriteEffect::FromExchange) => {
                                WriteEffect::FromExchange
                            }
                            (_, e) => e,
                        };
                        out.page.bookings[i] = BookingWrite {
                            booking: w.booking,
                            base_revision: base,
                            effect,
                        };
                    }
                    None => {
                        written.insert(w.booking.id.clone(), out.page.bookings.len());
                        out.page.bookings.push(w);
                    }
                }
            }
        }
        out
    }

    /// One created or updated item.
    fn decide(
        &mut self,
        item: &RemoteItem,
        booking: Option<Booking>,
        out: &mut Outcome,
    ) -> Option<BookingWrite> {
        let mailbox = self.mailbox.clone();
        let mapped = mapping::map_item(
            &*self.platform,
            &mut self.directory,
            item,
            &mailbox,
            booking.as_ref().map(|b| b.fields.organiser.as_str()),
        );
        let link = ExchangeLink {
            mailbox: mailbox.clone(),
            item_id: item.item_id.clone(),
            change_key: item.change_key.clone(),
            uid: item.uid.clone(),
            fingerprint: mapping::fingerprint(&mapped.fields),
        };
        let Some(mut b) = booking else {
            return self.decide_new(item, mapped, link, out);
        };
        let old = b.link(&mailbox).cloned();
        if old.as_ref().is_some_and(|l| {
            l.item_id == item.item_id && l.change_key == item.change_key && !l.uid.is_empty()
        }) {
            return None; // our own write, or seen already
        }
        if b.state != BookingState::Active {
            return self.decide_inactive(item, b, mapped, link, out);
        }
        let unchanged = old
            .as_ref()
            .is_some_and(|l| l.fingerprint == link.fingerprint);
        if old.is_none() && b.is_pending() && item.tag.as_deref() == Some(b.id.as_str()) {
            // Our own create whose answer was lost: linked here, and the
            // waiting ROOMS change is written next.
            set_link(&mut b, link);
            return Some(bookkeeping(b));
        }
        if unchanged || b.home != mailbox {
            // Not the home copy, or a version that changed no synced field:
            // the link is kept current.
            set_link(&mut b, link);
            return Some(bookkeeping(b));
        }
        if mapped.fields.rooms.len() > 1 {
            let swap = !b.fields.rooms.is_empty()
                && b.fields
                    .rooms
                    .iter()
                    .all(|r| mapped.fields.rooms.contains(r));
            if !swap {
                return self.ambiguous(item, Some(b), &mapped, out);
            }
        }
        let mut fields = mapped.fields.clone();
        if fields.rooms.len() > 1 {
            // A swap in progress: the booking keeps its room until the old
            // one is taken off.
            fields.rooms = b.fields.rooms.clone();
        }
        let declined: Vec<String> = b
            .fields
            .rooms
            .iter()
            .filter(|r| mapped.declined_rooms.contains(r))
            .cloned()
            .collect();
        if fields.rooms.is_empty() && !declined.is_empty() {
            return Some(self.room_declined(item, b, &mapped, link, &declined, out));
        }
        if mapping::normalise(b.fields.clone()) == mapping::normalise(fields.clone()) {
            set_link(&mut b, link);
            return Some(bookkeeping(b));
        }
        if b.is_pending() {
            return Some(self.conflict(b, Some((&fields, link)), out));
        }
        let base = b.revision;
        b.fields = fields;
        b.attempts = 0;
        b.last_error = None;
        set_link(&mut b, link);
        out.updated += 1;
        Some(BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::FromExchange,
        })
    }

    /// An item of a booking that is cancelled or sync-disabled. Such a
    /// booking no longer follows its meeting: changes are neither imported
    /// nor linked again. The one exception is a booking that only exists
    /// cancelled because its room declined: when the organiser books a room
    /// that accepts (a swap after the decline), it becomes active again.
    fn decide_inactive(
        &mut self,
        item: &RemoteItem,
        mut b: Booking,
        mapped: Mapped,
        link: ExchangeLink,
        out: &mut Outcome,
    ) -> Option<BookingWrite> {
        let declined_only = b.state == BookingState::Cancelled
            && b.home == self.mailbox
            && b.last_error
                .as_deref()
                .is_some_and(|e| e.contains(DECLINED));
        if !declined_only || mapped.fields.rooms.len() != 1 || b.is_pending() {
            return None;
        }
        let base = b.revision;
        b.fields = mapped.fields;
        b.state = BookingState::Active;
        b.attempts = 0;
        b.last_error = None;
        set_link(&mut b, link);
        self.platform.log(
            Level::Info,
            &format!(
                "{}: '{}' now has a room that accepted; the booking is active again",
                self.mailbox, item.subject
            ),
        );
        out.created += 1;
        Some(BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::FromExchange,
        })
    }

    /// An item no booking knows yet.
    fn decide_new(
        &mut self,
        item: &RemoteItem,
        mapped: Mapped,
        link: ExchangeLink,
        out: &mut Outcome,
    ) -> Option<BookingWrite> {
        let mailbox = self.mailbox.clone();
        if mapped.fields.rooms.len() > 1 {
            return self.ambiguous(item, None, &mapped, out);
        }
        let organiser = mapped.fields.organiser.clone();
        let home = if self.directory.is_person(&*self.platform, &organiser) {
            organiser.clone()
        } else {
            mailbox.clone()
        };
        let id = item.tag.clone().unwrap_or_else(|| self.new_id());
        let mut b = Booking {
            id,
            fields: mapped.fields.clone(),
            state: BookingState::Active,
            home,
            revision: 0,
            synced_revision: 0,
            links: vec![link],
            attempts: 0,
            last_error: None,
        };
        if b.fields.rooms.is_empty() && !mapped.declined_rooms.is_empty() {
            let declined = mapped.declined_rooms.clone();
            let reason = format!(
                "{} {DECLINED}; the booking was not made",
                declined.join(", ")
            );
            b.state = BookingState::Cancelled;
            b.last_error = Some(reason.clone());
            self.notice(
                out,
                Some(&b.id),
                &organiser,
                NoticeKind::RoomDeclined,
                reason,
            );
            self.remove_declined(item, &mapped, &declined, out);
            return Some(BookingWrite {
                booking: b,
                base_revision: None,
                effect: WriteEffect::FromExchange,
            });
        }
        out.created += 1;
        Some(BookingWrite {
            booking: b,
            base_revision: None,
            effect: WriteEffect::FromExchange,
        })
    }

    /// The booking's room declined: the booking is cancelled, the organiser
    /// told, and with `sync-master` the room taken off the meeting.
    fn room_declined(
        &mut self,
        item: &RemoteItem,
        mut b: Booking,
        mapped: &Mapped,
        link: ExchangeLink,
        declined: &[String],
        out: &mut Outcome,
    ) -> BookingWrite {
        let reason = format!(
            "{} {DECLINED}; the booking was removed",
            declined.join(", ")
        );
        self.notice(
            out,
            Some(&b.id),
            &b.fields.organiser.clone(),
            NoticeKind::RoomDeclined,
            reason.clone(),
        );
        self.remove_declined(item, mapped, declined, out);
        let base = b.revision;
        b.state = BookingState::Cancelled;
        b.last_error = Some(reason);
        set_link(&mut b, link);
        out.cancelled += 1;
        BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::FromExchange,
        }
    }

    /// Asks for the declined rooms that are sync masters to be taken off
    /// the meeting, when this mailbox is the organiser's.
    fn remove_declined(
        &mut self,
        item: &RemoteItem,
        mapped: &Mapped,
        declined: &[String],
        out: &mut Outcome,
    ) {
        if !item.organizer.eq_ignore_ascii_case(&self.mailbox) {
            return;
        }
        for room in declined {
            let master = self
                .directory
                .person(&*self.platform, room)
                .is_some_and(|p| p.room && p.sync_master);
            if master {
                let mut fields = mapped.fields.clone();
                fields.attendees.retain(|a| &a.email != room);
                out.followups.push(Followup::RemoveRoom {
                    item: item.clone(),
                    fields,
                    room: room.clone(),
                });
            }
        }
    }

    /// More than one synced room, outside a swap: set aside, organiser told.
    fn ambiguous(
        &mut self,
        item: &RemoteItem,
        booking: Option<Booking>,
        mapped: &Mapped,
        out: &mut Outcome,
    ) -> Option<BookingWrite> {
        let reason = format!(
            "the meeting has more than one ROOMS room ({}); only one is allowed",
            mapped.fields.rooms.join(", ")
        );
        out.page.released.retain(|r| r.item_id != item.item_id);
        out.page.quarantined.push(Quarantined {
            item: ItemRef {
                mailbox: self.mailbox.clone(),
                item_id: item.item_id.clone(),
            },
            subject: item.subject.clone(),
            reason: reason.clone(),
        });
        out.quarantined += 1;
        // Every synced copy is quarantined; the organiser is told once, from
        // the organiser's own calendar (or from the copy ROOMS has, when the
        // organiser is not synced).
        let organiser = mapped.fields.organiser.clone();
        let from_organiser =
            organiser == self.mailbox || !self.directory.is_person(&*self.platform, &organiser);
        if from_organiser {
            self.notice(
                out,
                booking.as_ref().map(|b| b.id.as_str()),
                &organiser,
                NoticeKind::AmbiguousRooms,
                format!("'{}': {reason}. Remove all but one room.", item.subject),
            );
        }
        None
    }

    /// A deleted (or cancelled) item.
    fn decide_delete(
        &mut self,
        item: &ItemRef,
        booking: Option<Booking>,
        out: &mut Outcome,
    ) -> Option<BookingWrite> {
        let mut b = booking?;
        let home = b.home == item.mailbox
            && b.link(&item.mailbox)
                .is_some_and(|l| l.item_id == item.item_id);
        b.links
            .retain(|l| !(l.mailbox == item.mailbox && l.item_id == item.item_id));
        out.page.unlinked.push(item.clone());
        if !home || b.state != BookingState::Active {
            return Some(bookkeeping(b));
        }
        if b.is_pending() {
            return Some(self.conflict(b, None, out));
        }
        let base = b.revision;
        b.state = BookingState::Cancelled;
        out.cancelled += 1;
        Some(BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::FromExchange,
        })
    }

    /// Records a notice for an organiser.
    fn notice(
        &mut self,
        out_page: &mut Outcome,
        booking: Option<&str>,
        recipient: &str,
        kind: NoticeKind,
        message: String,
    ) {
        let at = self.platform.now_unix() as i64;
        out_page.page.notices.push(Notice {
            booking: booking.map(str::to_owned),
            recipient: recipient.to_owned(),
            kind,
            message,
            at,
        });
    }

    /// A fresh booking id (UUID version 4).
    fn new_id(&mut self) -> String {
        let mut random = [0u8; 16];
        let bytes = self.platform.random_bytes(16);
        let n = bytes.len().min(16);
        random[..n].copy_from_slice(&bytes[..n]);
        crate::auth::jwt::uuid_v4(random)
    }

    /// A conflict of a booking with waiting local changes.
    fn conflict(
        &mut self,
        b: Booking,
        exchange: Option<(&BookingFields, ExchangeLink)>,
        out: &mut Outcome,
    ) -> BookingWrite {
        out.conflicts += 1;
        let home_item = exchange
            .as_ref()
            .map(|(_, link)| link.item_id.clone())
            .or_else(|| b.link(&self.mailbox).map(|l| l.item_id.clone()));
        let mut notices = Vec::new();
        let (write, conflict) = super::conflict::resolve(self, b, exchange, &mut notices);
        if write.effect == WriteEffect::FromExchange
            && write.booking.state == BookingState::Cancelled
        {
            out.cancelled += 1;
            if let Some(item_id) = home_item {
                out.page.unlinked.push(ItemRef {
                    mailbox: self.mailbox.clone(),
                    item_id,
                });
            }
        }
        out.page.conflicts.push(conflict);
        out.page.notices.extend(notices);
        write
    }
}

/// A write that changes only bookkeeping.
fn bookkeeping(b: Booking) -> BookingWrite {
    let base = b.revision;
    BookingWrite {
        booking: b,
        base_revision: Some(base),
        effect: WriteEffect::Bookkeeping,
    }
}

/// Replaces the booking's link into the link's mailbox.
pub(super) fn set_link(b: &mut Booking, link: ExchangeLink) {
    b.links.retain(|l| l.mailbox != link.mailbox);
    b.links.push(link);
}

/// The last change per item, in the order items last changed.
fn collapse(changes: Vec<Change>) -> Vec<Change> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        last.insert(c.item_id().to_owned(), i);
    }
    changes
        .into_iter()
        .enumerate()
        .filter(|(i, c)| last.get(c.item_id()) == Some(i))
        .map(|(_, c)| c)
        .collect()
}

/// True for an item the sync leaves alone: a test item of the sync test
/// (tagged `RoomsSyncTest`), which a sync running during `rooms-sync check`
/// could otherwise import as a booking.
pub fn ignored(item: &RemoteItem) -> bool {
    item.sync_test
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::CalendarItem;
    use crate::ews::xml::parse;
    use crate::sync::ews_transport::remote_item;

    fn item(extended: &str) -> RemoteItem {
        let xml = format!(
            r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:ItemId Id="A" ChangeKey="K"/><t:Subject>ROOMS sync test – safe to delete</t:Subject><t:Start>2026-01-05T08:00:00Z</t:Start><t:End>2026-01-05T08:15:00Z</t:End>{extended}</t:CalendarItem>"#
        );
        remote_item(CalendarItem::from_element(&parse(xml.as_bytes()).unwrap()).unwrap())
    }

    #[test]
    fn a_test_item_of_the_sync_test_is_ignored_and_other_items_are_not() {
        let test_item = item(
            r#"<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsSyncTest" PropertyType="String"/><t:Value>rooms-sync-test</t:Value></t:ExtendedProperty>"#,
        );
        assert!(ignored(&test_item));
        // The same subject without the tag is an ordinary appointment.
        assert!(!ignored(&item("")));
        // A booking's tag is no test tag.
        let booking = item(
            r#"<t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/><t:Value>B-1</t:Value></t:ExtendedProperty>"#,
        );
        assert!(!ignored(&booking));
        assert_eq!(booking.tag.as_deref(), Some("B-1"));
    }
}
