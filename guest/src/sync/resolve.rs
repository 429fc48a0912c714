//! `rooms-sync diff --resolve`: one difference settled through the sync
//! engine, for the side the operator chose.
//!
//! - [`Resolution::UseExchange`]: the booking's item is read (GetItem by its
//!   link, else by its tag), mapped with [`mapping::map_item`] (the
//!   booking's organiser kept) and committed with the `from-exchange` effect
//!   and a fresh link; a booking whose item is gone is cancelled. An item
//!   with no booking (target = its ItemId or UID) is imported as the inbound
//!   sync imports a new item ([`Engine::apply`]).
//! - [`Resolution::UseRooms`]: the booking is written as the outbound sync
//!   writes it ([`Engine::write_active`], [`Engine::write_cancel`]), but
//!   against the item's current ChangeKey, read just before: the operator
//!   chose ROOMS, so a newer Outlook version is overwritten instead of
//!   becoming a conflict. An item gone is created again. A series'
//!   occurrences that Outlook moved or renamed and ROOMS does not are put
//!   back on the pattern; one deleted in Outlook cannot be restored.
//!
//! Ignoring is the host's alone (it records the revision and ChangeKey).

use crate::booking::{
    Booking, BookingKey, BookingState, BookingWrite, ExchangeLink, ItemRef, Page, WriteEffect,
};
use crate::config::RawSettings;
use crate::error::Error;
use crate::platform::{Level, Person, Platform};
use crate::session::Target;

use super::inbound::set_link;
use super::mapping;
use super::options::Options;
use super::transport::{Change, Invitations, ItemVersion, RemoteItem, Transport};
use super::{Engine, Problem};

/// The code of the problem for a target that names nothing of the person.
pub const UNKNOWN_BOOKING: &str = "unknown-booking";

/// Which side a resolution keeps (the WIT `resolution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Apply the Exchange item to ROOMS.
    UseExchange,
    /// Write the ROOMS booking to Exchange.
    UseRooms,
}

/// Settles the difference of `target` (a booking id, or an item's ItemId or
/// UID) of `person` (the WIT `resolve-difference`).
// A `Problem` is what the WIT export returns; it is made once per call.
#[allow(clippy::result_large_err)]
pub fn resolve(
    platform: &mut dyn Platform,
    person: &Person,
    target: &str,
    resolution: Resolution,
) -> Result<(), Problem> {
    let prepared = RawSettings::read(platform)
        .and_then(|raw| Target::prepare(&raw, person))
        .map_err(|e| super::problem(&e))?;
    let options = Options::read(platform);
    let client = prepared.client();
    let transport = super::ews_transport::EwsTransport::new(&client, &options);
    resolve_with(platform, person, transport, options, target, resolution)
}

/// [`resolve`] over any transport.
// A `Problem` is what the WIT export returns; it is made once per call.
#[allow(clippy::result_large_err)]
pub(crate) fn resolve_with<T: Transport>(
    platform: &mut dyn Platform,
    person: &Person,
    transport: T,
    options: Options,
    target: &str,
    resolution: Resolution,
) -> Result<(), Problem> {
    let mut engine = super::diff::engine(platform, person, transport, options);
    let mailbox = engine.mailbox.clone();
    let keys = [
        BookingKey::Id(target.to_owned()),
        BookingKey::Item(ItemRef {
            mailbox: mailbox.clone(),
            item_id: target.to_owned(),
        }),
        BookingKey::Uid(target.to_owned()),
    ];
    let booking = engine
        .platform
        .find_bookings(&keys)
        .into_iter()
        .flatten()
        .next();
    let result = match booking {
        Some(b) if !b.home.eq_ignore_ascii_case(&mailbox) => {
            return Err(bad_target(format!(
                "booking {} lives in the calendar of {}, not of {mailbox}; resolve it with \
                 `diff --person {}`",
                b.id, b.home, b.home
            )));
        }
        Some(b) => match resolution {
            Resolution::UseExchange => engine.use_exchange(b),
            Resolution::UseRooms => engine.use_rooms(b),
        },
        None => match resolution {
            Resolution::UseRooms => {
                return Err(bad_target(format!(
                    "{target} is not a booking of {mailbox}; `use-rooms` needs a booking id \
                     (an item with no booking can only be imported with `use-exchange` or \
                     ignored)"
                )));
            }
            Resolution::UseExchange => match engine.find_item(target) {
                Ok(Some(item)) => engine.apply(
                    &[Change::Upsert {
                        item_id: item.item_id,
                        change_key: String::new(),
                    }],
                    None,
                ),
                Ok(None) => {
                    return Err(bad_target(format!(
                        "neither a booking nor an item of {mailbox}'s calendar has the id or \
                         UID {target}; see `diff --person {mailbox}` for the ids"
                    )));
                }
                Err(e) => Err(e),
            },
        },
    };
    match result {
        Ok(()) => {
            engine.platform.log(
                Level::Info,
                &format!("{mailbox}: difference of {target} resolved ({resolution:?})"),
            );
            Ok(())
        }
        Err(e) => Err(super::problem(&e)),
    }
}

/// The problem of a target that names nothing the person has.
fn bad_target(message: String) -> Problem {
    Problem {
        code: UNKNOWN_BOOKING.into(),
        message,
        fix: Some("Pass a booking id, ItemId or UID that `diff` lists for this person.".into()),
        cause: None,
    }
}

impl<T: Transport> Engine<'_, T> {
    /// The item of `b` in the person's mailbox as it is now: by its link,
    /// else by its tag; `None` when it is gone.
    fn current_item(&mut self, b: &Booking) -> Result<Option<RemoteItem>, Error> {
        let mailbox = self.mailbox.clone();
        let mut ids = Vec::new();
        if let Some(l) = b.link(&mailbox) {
            ids.push(l.item_id.clone());
        }
        let id = b.id.clone();
        if let Some(v) = self.call(true, |t, p| t.find_tagged(p, &mailbox, &id))?
            && !ids.contains(&v.item_id)
        {
            ids.push(v.item_id);
        }
        for item_id in ids {
            let one = [item_id];
            let answer = self.call(true, |t, p| t.fetch(p, &mailbox, &one))?;
            match answer.into_iter().next() {
                Some(Ok(item)) if !item.cancelled => return Ok(Some(item)),
                Some(Ok(_)) => {}
                Some(Err(reason)) if reason.starts_with("ErrorItemNotFound") => {}
                Some(Err(reason)) => {
                    return Err(Error::protocol(
                        format!(
                            "{mailbox}: the item of booking {} cannot be read: {reason}",
                            b.id
                        ),
                        "Check the item in Outlook, then try again.",
                    ));
                }
                None => {}
            }
        }
        Ok(None)
    }

    /// An item by ItemId, else by UID (the whole calendar is listed).
    fn find_item(&mut self, target: &str) -> Result<Option<RemoteItem>, Error> {
        let mailbox = self.mailbox.clone();
        let one = [target.to_owned()];
        if let Ok(answer) = self.call(true, |t, p| t.fetch(p, &mailbox, &one))
            && let Some(Ok(item)) = answer.into_iter().next()
        {
            return Ok(Some(item));
        }
        Ok(self
            .list_calendar()?
            .into_iter()
            .find(|i| i.uid == target || i.item_id == target))
    }

    /// Applies the Exchange item of `b` to the booking (or cancels the
    /// booking when its item is gone).
    fn use_exchange(&mut self, mut b: Booking) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let base = b.revision;
        let mut page = Page::new(&mailbox);
        match self.current_item(&b)? {
            Some(item) => {
                let mapped = mapping::map_item(
                    &*self.platform,
                    &mut self.directory,
                    &item,
                    &mailbox,
                    Some(&b.fields.organiser),
                );
                set_link(
                    &mut b,
                    ExchangeLink {
                        mailbox: mailbox.clone(),
                        item_id: item.item_id.clone(),
                        change_key: item.change_key.clone(),
                        uid: item.uid.clone(),
                        fingerprint: mapping::fingerprint(&mapped.fields),
                    },
                );
                b.fields = mapped.fields;
                if b.state == BookingState::Cancelled {
                    b.state = BookingState::Active;
                }
                page.released.push(ItemRef {
                    mailbox: mailbox.clone(),
                    item_id: item.item_id,
                });
            }
            None => {
                if let Some(l) = b.link(&mailbox) {
                    page.unlinked.push(ItemRef {
                        mailbox: mailbox.clone(),
                        item_id: l.item_id.clone(),
                    });
                }
                b.links
                    .retain(|l| !l.mailbox.eq_ignore_ascii_case(&mailbox));
                b.state = BookingState::Cancelled;
            }
        }
        b.attempts = 0;
        b.last_error = None;
        page.bookings.push(BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect: WriteEffect::FromExchange,
        });
        self.commit_page(&page)
    }

    /// Writes `b` to Exchange over the item's current version.
    fn use_rooms(&mut self, mut b: Booking) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        match self.current_item(&b)? {
            Some(item) => {
                let uid = b
                    .link(&mailbox)
                    .map(|l| l.uid.clone())
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| item.uid.clone());
                let fingerprint = b
                    .link(&mailbox)
                    .map(|l| l.fingerprint.clone())
                    .unwrap_or_default();
                set_link(
                    &mut b,
                    ExchangeLink {
                        mailbox: mailbox.clone(),
                        item_id: item.item_id,
                        change_key: item.change_key,
                        uid,
                        fingerprint,
                    },
                );
            }
            None => b
                .links
                .retain(|l| !l.mailbox.eq_ignore_ascii_case(&mailbox)),
        }
        b.attempts = 0;
        if b.state == BookingState::Cancelled {
            return self.write_cancel(b);
        }
        let id = b.id.clone();
        self.write_active(b)?;
        self.reset_outlook_exceptions(&id)
    }

    /// After a series was written with `use-rooms`: the occurrences that
    /// Outlook moved or renamed and ROOMS holds as the pattern has them are
    /// put back on the pattern (the outbound write only writes the
    /// exceptions ROOMS has). An occurrence deleted in Outlook cannot be
    /// brought back through EWS; it stays listed by `diff`.
    fn reset_outlook_exceptions(&mut self, booking_id: &str) -> Result<(), Error> {
        let mailbox = self.mailbox.clone();
        let keys = [BookingKey::Id(booking_id.to_owned())];
        let Some(b) = self
            .platform
            .find_bookings(&keys)
            .into_iter()
            .flatten()
            .next()
        else {
            return Ok(());
        };
        let Some(r) = &b.fields.recurrence else {
            return Ok(());
        };
        let Some(item) = self.current_item(&b)? else {
            return Ok(());
        };
        let Some(remote) = &item.recurrence else {
            return Ok(());
        };
        let duration = b.fields.end - b.fields.start;
        let invitations = if b.fields.organiser.eq_ignore_ascii_case(&mailbox) {
            Invitations::Send
        } else {
            Invitations::None
        };
        for m in &remote.modified {
            let original = m.original_start;
            let on_pattern = m.start == original
                && m.end == original + duration
                && m.subject == b.fields.subject;
            if on_pattern
                || r.modified.iter().any(|x| x.original_start == original)
                || r.deleted.contains(&original)
            {
                continue;
            }
            let Some(occurrence_id) = item
                .occurrence_ids
                .iter()
                .find(|(s, _)| *s == original)
                .map(|(_, id)| id.clone())
            else {
                continue;
            };
            let occurrence = ItemVersion {
                item_id: occurrence_id,
                change_key: String::new(),
            };
            let (subject, tz) = (b.fields.subject.clone(), b.fields.time_zone.clone());
            self.call(true, |t, p| {
                t.update_occurrence(
                    p,
                    &mailbox,
                    &occurrence,
                    original,
                    original + duration,
                    &subject,
                    &tz,
                    invitations,
                )
            })?;
        }
        Ok(())
    }
}
