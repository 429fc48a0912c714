//! ROOMS → Exchange: writes the bookings homed in the person's mailbox that
//! have local changes, and commits each result.
//!
//! - A new booking is created with its `RoomsBookingId` tag and a UID made
//!   from its id. Before the create a marker is committed; a booking that
//!   carries it (its create may have reached Exchange while the answer was
//!   lost, or the host died) is first looked for by its tag, so a lost
//!   answer never gives a duplicate.
//! - An update sends every synced field with the stored ChangeKey and
//!   `NeverOverwrite`: a newer Outlook version is a conflict
//!   ([`super::conflict`]), never overwritten. An item gone from Exchange is
//!   created again (ROOMS holds the newer state).
//! - A cancellation deletes the item, with cancellations to the attendees
//!   from the organiser's calendar.
//! - A series is written as a series: the master with its pattern, then the
//!   deleted and modified occurrences that Exchange does not have yet.
//!
//! In the organiser's calendar the rooms are resource attendees and get
//! invitations (`SyncSendMeetingInvitations`); a booking whose organiser is
//! not a synced person is written straight into the room's calendar, without
//! invitations.

use std::collections::HashSet;

use crate::booking::{
    Booking, BookingState, BookingWrite, ExchangeLink, ItemRef, ModifiedOccurrence, Page,
    WriteEffect,
};
use crate::error::Error;
use crate::platform::Level;

use super::Engine;
use super::inbound::{Followup, set_link};
use super::mapping;
use super::transport::{Invitations, ItemVersion, Transport, WriteError};

/// The `last_error` a booking carries while its create is under way.
pub(super) const CREATING: &str = "being created in Exchange";

/// Pending bookings asked for at a time.
const PENDING_BATCH: u32 = 50;

impl<T: Transport> Engine<'_, T> {
    /// Writes every pending booking homed in the person's mailbox.
    pub(super) fn outbound(&mut self) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let mut done: HashSet<String> = HashSet::new();
        loop {
            let todo: Vec<Booking> = self
                .platform
                .pending_changes(&mailbox, PENDING_BATCH)
                .into_iter()
                .filter(|b| !done.contains(&b.id))
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
            for b in todo {
                done.insert(b.id.clone());
                self.write_booking(b)?;
            }
        }
    }

    /// Writes one booking; `Err` only for a problem that stops the person.
    fn write_booking(&mut self, b: Booking) -> Result<(), Error> {
        let id = b.id.clone();
        if b.state == BookingState::SyncDisabled {
            return Ok(());
        }
        self.mark_unconfirmed()?;
        let result = match b.state {
            BookingState::Active => self.write_active(b.clone()),
            _ => self.write_cancel(b.clone()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if super::stops_person(&e) => Err(e),
            Err(e) => {
                let message = e.message();
                self.platform.log(
                    Level::Warn,
                    &format!("{}: booking {id} was not written: {message}", self.mailbox),
                );
                self.report.errors.push(super::problem_for_booking(&id, &e));
                let mut failed = b;
                failed.attempts += 1;
                failed.last_error = Some(message);
                let mut page = Page::new(&self.mailbox);
                let base = failed.revision;
                page.bookings.push(BookingWrite {
                    booking: failed,
                    base_revision: Some(base),
                    effect: WriteEffect::Bookkeeping,
                });
                self.commit_page(&page)
            }
        }
    }

    fn invitations(&self, b: &Booking) -> Invitations {
        if b.fields.organiser.eq_ignore_ascii_case(&self.mailbox) {
            Invitations::Send
        } else {
            Invitations::None
        }
    }

    /// The item of `b` in this mailbox: its link, or (after an interrupted
    /// create) the item carrying its tag.
    fn locate(&mut self, b: &Booking) -> Result<Option<ItemVersion>, Error> {
        if let Some(l) = b.link(&self.mailbox) {
            return Ok(Some(ItemVersion {
                item_id: l.item_id.clone(),
                change_key: l.change_key.clone(),
            }));
        }
        if b.last_error.as_deref() == Some(CREATING) || b.attempts > 0 {
            let mailbox = self.mailbox.clone();
            let id = b.id.clone();
            return self.call(true, |t, p| t.find_tagged(p, &mailbox, &id));
        }
        Ok(None)
    }

    pub(super) fn write_active(&mut self, mut b: Booking) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let invitations = self.invitations(&b);
        let uid = b
            .link(&mailbox)
            .map(|l| l.uid.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| uid_for(&b.id));
        let existing = self.locate(&b)?;
        let version = match existing {
            Some(v) => match self.update(&mut b, &v, invitations)? {
                Some(v) => v,
                None => return Ok(()), // the conflict decided; committed
            },
            None => {
                // The marker goes in first: a crash or a lost answer after
                // the create is then found by its tag.
                let mut marked = b.clone();
                marked.last_error = Some(CREATING.to_owned());
                let base = marked.revision;
                let mut page = Page::new(&mailbox);
                page.bookings.push(BookingWrite {
                    booking: marked,
                    base_revision: Some(base),
                    effect: WriteEffect::Bookkeeping,
                });
                self.commit_page(&page)?;
                let fields = b.fields.clone();
                let id = b.id.clone();
                let created = self.call(false, |t, p| {
                    t.create(p, &mailbox, &fields, &id, &uid, invitations)
                });
                let created = match created {
                    Ok(v) => v,
                    Err(e) => {
                        // Did it reach Exchange anyway?
                        match self.call(true, |t, p| t.find_tagged(p, &mailbox, &id))? {
                            Some(v) => v,
                            None => return Err(e),
                        }
                    }
                };
                self.report.to_exchange.created += 1;
                self.created.push(created.item_id.clone());
                created
            }
        };
        if let Some(r) = &b.fields.recurrence
            && (!r.modified.is_empty() || !r.deleted.is_empty())
        {
            self.write_exceptions(&b, &version, &uid, invitations)?;
        }
        let link = ExchangeLink {
            mailbox: mailbox.clone(),
            item_id: version.item_id.clone(),
            change_key: version.change_key.clone(),
            uid,
            fingerprint: mapping::fingerprint(&b.fields),
        };
        set_link(&mut b, link);
        b.last_error = None;
        self.commit_written(b)
    }

    /// Updates the item; on a conflict, decides it. `Ok(None)` when the
    /// conflict's outcome was committed and nothing more is to be written.
    fn update(
        &mut self,
        b: &mut Booking,
        version: &ItemVersion,
        invitations: Invitations,
    ) -> Result<Option<ItemVersion>, Error> {
        let mailbox = self.mailbox.clone();
        let mut version = version.clone();
        for round in 0..2 {
            let fields = b.fields.clone();
            let v = version.clone();
            // Throttling and transient failures are retried by the pacer; a
            // conflict or a missing item is an answer, decided below.
            let answer = self
                .call(true, |t, p| {
                    match t.update(p, &mailbox, &v, &fields, invitations) {
                        Err(WriteError::Failed(e)) => Err(e),
                        other => Ok(other),
                    }
                })
                .unwrap_or_else(|e| Err(WriteError::Failed(e)));
            match answer {
                Ok(v) => {
                    self.report.to_exchange.updated += 1;
                    return Ok(Some(v));
                }
                Err(WriteError::Failed(e)) => return Err(e),
                Err(WriteError::NotFound) => {
                    // Gone from Outlook: ROOMS holds the newer state, so
                    // the booking is written again.
                    b.links.retain(|l| l.mailbox != mailbox);
                    let fields = b.fields.clone();
                    let id = b.id.clone();
                    let uid = uid_for(&id);
                    let created = self.call(false, |t, p| {
                        t.create(p, &mailbox, &fields, &id, &uid, invitations)
                    })?;
                    self.report.to_exchange.created += 1;
                    self.created.push(created.item_id.clone());
                    return Ok(Some(created));
                }
                Err(WriteError::Conflict) if round == 0 => {
                    let ids = [version.item_id.clone()];
                    let fetched = self.call(true, |t, p| t.fetch(p, &mailbox, &ids))?;
                    let Some(Ok(item)) = fetched.into_iter().next() else {
                        return Err(Error::protocol(
                            format!(
                                "{mailbox}: the item of booking {} changed in Outlook and could \
                                 not be read back",
                                b.id
                            ),
                            "It is tried again on the next run.",
                        ));
                    };
                    let mapped = mapping::map_item(
                        &*self.platform,
                        &mut self.directory,
                        &item,
                        &mailbox,
                        Some(&b.fields.organiser),
                    );
                    let fresh = ItemVersion {
                        item_id: item.item_id.clone(),
                        change_key: item.change_key.clone(),
                    };
                    if mapping::normalise(mapped.fields.clone())
                        == mapping::normalise(b.fields.clone())
                    {
                        // Our own earlier write (its answer was lost).
                        return Ok(Some(fresh));
                    }
                    let link = ExchangeLink {
                        mailbox: mailbox.clone(),
                        item_id: item.item_id.clone(),
                        change_key: item.change_key.clone(),
                        uid: item.uid.clone(),
                        fingerprint: mapping::fingerprint(&mapped.fields),
                    };
                    self.report.conflicts += 1;
                    let mut notices = Vec::new();
                    let (write, conflict) = super::conflict::resolve(
                        self,
                        b.clone(),
                        Some((&mapped.fields, link)),
                        &mut notices,
                    );
                    let rolled_back = write.booking.state == BookingState::Active
                        && write.effect == WriteEffect::Bookkeeping;
                    let mut page = Page::new(&mailbox);
                    if write.booking.state == BookingState::Cancelled {
                        self.report.to_rooms.cancelled += 1;
                        page.unlinked.push(ItemRef {
                            mailbox: mailbox.clone(),
                            item_id: item.item_id.clone(),
                        });
                    }
                    *b = write.booking.clone();
                    page.bookings.push(write);
                    page.conflicts.push(conflict);
                    page.notices = notices;
                    self.commit_page(&page)?;
                    if !rolled_back {
                        return Ok(None);
                    }
                    // The booking's revision in the page above is unchanged,
                    // so `b` still describes the stored booking.
                    version = fresh;
                }
                Err(WriteError::Conflict) => {
                    return Err(Error::protocol(
                        format!(
                            "{mailbox}: the item of booking {} keeps changing in Outlook while \
                             it is written",
                            b.id
                        ),
                        "It is tried again on the next run.",
                    ));
                }
            }
        }
        Ok(None)
    }

    /// Deletes and moves the occurrences Exchange does not have as ROOMS
    /// has them.
    fn write_exceptions(
        &mut self,
        b: &Booking,
        master: &ItemVersion,
        uid: &str,
        invitations: Invitations,
    ) -> Result<(), Error> {
        let Some(r) = &b.fields.recurrence else {
            return Ok(());
        };
        let mailbox = self.mailbox.clone();
        let ids = [master.item_id.clone()];
        let fetched = self.call(true, |t, p| t.fetch(p, &mailbox, &ids))?;
        let remote = match fetched.into_iter().next() {
            Some(Ok(item)) => item,
            _ => {
                return Err(Error::protocol(
                    format!(
                        "{mailbox}: the series of booking {} could not be read back",
                        b.id
                    ),
                    "It is tried again on the next run.",
                ));
            }
        };
        let (have_modified, have_deleted): (Vec<ModifiedOccurrence>, Vec<i64>) = remote
            .recurrence
            .as_ref()
            .map(|r| (r.modified.clone(), r.deleted.clone()))
            .unwrap_or_default();
        let duration = b.fields.end - b.fields.start;
        for &original in &r.deleted {
            if have_deleted.contains(&original) {
                continue;
            }
            let occurrence = match remote.occurrence_ids.iter().find(|(s, _)| *s == original) {
                Some((_, id)) => Some(ItemVersion {
                    item_id: id.clone(),
                    change_key: String::new(),
                }),
                None => self.call(true, |t, p| {
                    t.occurrence(p, &mailbox, uid, original, duration)
                })?,
            };
            if let Some(o) = occurrence {
                self.call(true, |t, p| t.delete(p, &mailbox, &o.item_id, invitations))?;
                self.report.to_exchange.cancelled += 1;
            }
        }
        for m in &r.modified {
            if have_modified.contains(m) {
                continue;
            }
            let occurrence = match remote
                .occurrence_ids
                .iter()
                .find(|(s, _)| *s == m.original_start)
            {
                Some((_, id)) => Some(ItemVersion {
                    item_id: id.clone(),
                    change_key: String::new(),
                }),
                None => self.call(true, |t, p| {
                    t.occurrence(p, &mailbox, uid, m.original_start, duration)
                })?,
            };
            let Some(o) = occurrence else {
                self.platform.log(
                    Level::Warn,
                    &format!(
                        "{mailbox}: booking {}: no occurrence starts at {}; the exception is \
                         not written",
                        b.id,
                        crate::ews::time::format_datetime(m.original_start)
                    ),
                );
                continue;
            };
            let tz = b.fields.time_zone.clone();
            self.call(true, |t, p| {
                t.update_occurrence(
                    p,
                    &mailbox,
                    &o,
                    m.start,
                    m.end,
                    &m.subject,
                    &tz,
                    invitations,
                )
            })?;
            self.report.to_exchange.updated += 1;
        }
        Ok(())
    }

    pub(super) fn write_cancel(&mut self, mut b: Booking) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let invitations = self.invitations(&b);
        if let Some(v) = self.locate(&b)? {
            self.call(true, |t, p| t.delete(p, &mailbox, &v.item_id, invitations))?;
            self.report.to_exchange.cancelled += 1;
        }
        b.links.retain(|l| l.mailbox != mailbox);
        b.last_error = None;
        self.commit_written(b)
    }

    /// Commits that the booking's revision is now in Exchange.
    fn commit_written(&mut self, b: Booking) -> Result<(), Error> {
        let mut page = Page::new(&self.mailbox);
        let base = b.revision;
        page.bookings.push(BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::Written,
        });
        self.commit_page(&page)
    }

    /// Commits a page of the write side; a store failure stops the person.
    pub(super) fn commit_page(&mut self, page: &Page) -> Result<(), Error> {
        self.platform
            .commit(page)
            .map_err(|e| super::store_error(&e))
    }

    /// Carries out a write a committed inbound page asked for.
    pub(super) fn followup(&mut self, f: Followup) {
        match f {
            Followup::RemoveRoom { item, fields, room } => {
                if let Err(e) = self.mark_unconfirmed() {
                    self.platform.log(Level::Warn, &e.message());
                    return;
                }
                let mailbox = self.mailbox.clone();
                let v = ItemVersion {
                    item_id: item.item_id.clone(),
                    change_key: item.change_key.clone(),
                };
                let r = self.call(true, |t, p| {
                    t.update(p, &mailbox, &v, &fields, Invitations::Send)
                        .map_err(|e| match e {
                            WriteError::Failed(e) => e,
                            WriteError::Conflict | WriteError::NotFound => Error::protocol(
                                "the meeting changed meanwhile",
                                "It is tried again when Exchange reports the change.",
                            ),
                        })
                });
                match r {
                    Ok(_) => {
                        self.report.to_exchange.updated += 1;
                        self.platform.log(
                            Level::Info,
                            &format!(
                                "{mailbox}: took the declining room {room} off '{}' (sync master)",
                                item.subject
                            ),
                        );
                    }
                    Err(e) => self.platform.log(
                        Level::Warn,
                        &format!(
                            "{mailbox}: could not take the declining room {room} off '{}': {}",
                            item.subject,
                            e.message()
                        ),
                    ),
                }
            }
        }
    }
}

/// The prefix of the UIDs the sync gives the items it creates.
const UID_PREFIX: &str = "rooms-";

/// The UID the sync gives an item it creates: stable for the booking, so
/// every copy of the meeting is found by it, also before a link exists.
pub(super) fn uid_for(booking_id: &str) -> String {
    format!("{UID_PREFIX}{booking_id}")
}

/// The booking id a UID made by [`uid_for`] names.
pub(super) fn booking_of_uid(uid: &str) -> Option<&str> {
    uid.strip_prefix(UID_PREFIX).filter(|id| !id.is_empty())
}
