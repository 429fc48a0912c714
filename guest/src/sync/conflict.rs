//! Conflicts: both sides changed one booking since the last sync.
//!
//! The home person's `SyncConflictBehaviour` decides:
//! - `Rollback` (default): the Outlook item is reset to the ROOMS booking
//!   (the booking stays pending and the link takes the item's current
//!   ChangeKey, so the next write overwrites exactly the version that was
//!   seen). After `SyncRollbackAttempts` (5) conflicts in a row the booking
//!   becomes `sync-disabled` instead.
//! - `Cancel`: the first conflict is rolled back; at `SyncCancelAttempts`
//!   (2) the ROOMS booking is cancelled and the Outlook item unlinked.
//!
//! Either way a conflict record holds the field-by-field difference and the
//! winner, and a notice for the organiser goes to the outbox. Attempts count
//! conflicts of the booking until an Exchange change is taken without one.

use crate::booking::{
    Booking, BookingFields, BookingState, BookingWrite, Conflict, ConflictWinner, ExchangeLink,
    FieldDifference, Notice, NoticeKind, WriteEffect,
};
use crate::platform::ConflictBehaviour;

use super::Engine;
use super::inbound::set_link;
use super::mapping;
use super::transport::Transport;

/// Decides a conflict of `b` (pending) with the Exchange version
/// `exchange` (`None`: the item was deleted in Exchange). Returns the write
/// for the page and the conflict record; pushes the organiser's notice.
pub(super) fn resolve<T: Transport>(
    engine: &mut Engine<'_, T>,
    mut b: Booking,
    exchange: Option<(&BookingFields, ExchangeLink)>,
    notices: &mut Vec<Notice>,
) -> (BookingWrite, Conflict) {
    let at = engine.platform.now_unix() as i64;
    let attempt = b.attempts + 1;
    let differences = match &exchange {
        Some((fields, _)) => mapping::differences(&b.fields, fields),
        None => vec![FieldDifference {
            field: "exists".into(),
            rooms: "yes".into(),
            exchange: "deleted".into(),
        }],
    };
    let changed: Vec<&str> = differences.iter().map(|d| d.field.as_str()).collect();
    let subject = b.fields.subject.clone();
    let organiser = b.fields.organiser.clone();
    let base = b.revision;
    let (winner, kind, message, effect) = match engine.person.conflict_behaviour {
        ConflictBehaviour::Cancel if attempt >= engine.options.cancel_attempts => {
            // The Outlook item is unlinked; the other copies' links stay, so
            // the cancelled booking still recognises the meeting and later
            // changes of it are ignored instead of imported again.
            b.state = BookingState::Cancelled;
            let mailbox = engine.mailbox.clone();
            b.links.retain(|l| l.mailbox != mailbox);
            (
                ConflictWinner::Exchange,
                NoticeKind::ConflictCancelled,
                format!(
                    "'{subject}' was changed in Outlook and in ROOMS ({}); after {attempt} \
                     conflicts the ROOMS booking was cancelled and the Outlook item left as it is.",
                    changed.join(", ")
                ),
                WriteEffect::FromExchange,
            )
        }
        ConflictBehaviour::Rollback if attempt > engine.options.rollback_attempts => {
            b.state = BookingState::SyncDisabled;
            (
                ConflictWinner::None,
                NoticeKind::SyncDisabled,
                format!(
                    "'{subject}' keeps being changed in Outlook against ROOMS ({}); after {} \
                     it is no longer synced. Change it in ROOMS to sync it again.",
                    changed.join(", "),
                    match attempt - 1 {
                        1 => "one rollback".to_owned(),
                        n => format!("{n} rollbacks"),
                    }
                ),
                WriteEffect::Bookkeeping,
            )
        }
        _ => {
            if let Some((_, link)) = exchange {
                set_link(&mut b, link);
            }
            (
                ConflictWinner::Rooms,
                NoticeKind::ConflictRolledBack,
                format!(
                    "'{subject}' was changed in Outlook and in ROOMS ({}); the Outlook item is \
                     reset to the ROOMS booking.",
                    changed.join(", ")
                ),
                WriteEffect::Bookkeeping,
            )
        }
    };
    b.attempts = attempt;
    b.last_error = Some(format!(
        "conflict {attempt}: changed on both sides ({})",
        changed.join(", ")
    ));
    notices.push(Notice {
        booking: Some(b.id.clone()),
        recipient: organiser,
        kind,
        message,
        at,
    });
    let conflict = Conflict {
        booking: b.id.clone(),
        mailbox: engine.mailbox.clone(),
        differences,
        winner,
        attempt,
        at,
    };
    (
        BookingWrite {
            booking: b,
            base_revision: Some(base),
            effect,
        },
        conflict,
    )
}
