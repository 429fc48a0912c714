//! From a remote item to booking fields, and back to comparisons: which
//! attendees are rooms, the fingerprint of an item's synced fields, and the
//! field-by-field differences a conflict record holds.
//!
//! Rules (shared/DESIGN.md §1):
//! - the room of a booking is a resource mailbox among the attendees that
//!   ROOMS knows as a room, never the Location text;
//! - a room that declined is not a room of the booking;
//! - the organiser of an existing booking never changes through Exchange.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::booking::{Attendee, AttendeeKind, BookingFields, Recurrence};
use crate::ews::time::format_datetime;
use crate::platform::{Person, Platform};

use super::transport::{RemoteItem, Response};

/// Persons looked up during one run, by lower-case address.
#[derive(Debug, Default)]
pub struct Directory {
    known: HashMap<String, Option<Person>>,
}

impl Directory {
    /// The ROOMS person or room with this address, asked of the host once.
    pub fn person(&mut self, platform: &dyn Platform, email: &str) -> Option<Person> {
        let key = email.to_ascii_lowercase();
        self.known
            .entry(key)
            .or_insert_with_key(|k| platform.person(k))
            .clone()
    }

    /// True when ROOMS knows `email` as a room.
    pub fn is_room(&mut self, platform: &dyn Platform, email: &str) -> bool {
        self.person(platform, email).is_some_and(|p| p.room)
    }

    /// True when ROOMS knows `email` as a person (not a room).
    pub fn is_person(&mut self, platform: &dyn Platform, email: &str) -> bool {
        self.person(platform, email).is_some_and(|p| !p.room)
    }
}

/// A remote item read as a booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The fields (rooms: the synced rooms that did not decline).
    pub fields: BookingFields,
    /// Synced rooms that declined.
    pub declined_rooms: Vec<String>,
}

/// Maps `item`, seen in `mailbox`, to booking fields. `organiser` is the
/// stored booking's organiser when there is one (it never changes through
/// Exchange).
pub fn map_item(
    platform: &dyn Platform,
    directory: &mut Directory,
    item: &RemoteItem,
    mailbox: &str,
    organiser: Option<&str>,
) -> Mapped {
    let organiser = match organiser {
        Some(o) => o.to_owned(),
        None if item.organizer.is_empty() => mailbox.to_ascii_lowercase(),
        None => item.organizer.to_ascii_lowercase(),
    };
    let mut attendees: Vec<Attendee> = Vec::new();
    let mut rooms = Vec::new();
    let mut declined_rooms = Vec::new();
    for a in &item.attendees {
        let email = a.email.to_ascii_lowercase();
        if email.is_empty() || email == organiser {
            continue;
        }
        let room = directory.is_room(platform, &email);
        let kind = if room { AttendeeKind::Resource } else { a.kind };
        if room {
            if a.response == Response::Decline {
                declined_rooms.push(email.clone());
            } else {
                rooms.push(email.clone());
            }
        }
        if !attendees.iter().any(|x| x.email == email) {
            attendees.push(Attendee { email, kind });
        }
    }
    attendees.sort();
    rooms.sort();
    rooms.dedup();
    declined_rooms.sort();
    declined_rooms.dedup();
    let fields = BookingFields {
        organiser,
        rooms,
        subject: item.subject.clone(),
        start: item.start,
        end: item.end,
        time_zone: if item.time_zone.is_empty() {
            "UTC".to_owned()
        } else {
            item.time_zone.clone()
        },
        all_day: item.all_day,
        reminder_minutes: item.reminder_minutes,
        private: item.private,
        free_busy: item.free_busy,
        attendees,
        recurrence: item.recurrence.clone().map(normalise_recurrence),
    };
    Mapped {
        fields,
        declined_rooms,
    }
}

/// Sorts a series' exceptions so equal series compare equal.
pub fn normalise_recurrence(mut r: Recurrence) -> Recurrence {
    r.modified.sort_by_key(|m| m.original_start);
    r.modified.dedup_by_key(|m| m.original_start);
    r.deleted.sort_unstable();
    r.deleted.dedup();
    r
}

/// Puts booking fields into the canonical order the comparisons use.
pub fn normalise(mut f: BookingFields) -> BookingFields {
    f.organiser = f.organiser.to_ascii_lowercase();
    for r in &mut f.rooms {
        *r = r.to_ascii_lowercase();
    }
    f.rooms.sort();
    f.rooms.dedup();
    for a in &mut f.attendees {
        a.email = a.email.to_ascii_lowercase();
    }
    for room in &f.rooms {
        if !f.attendees.iter().any(|a| &a.email == room) {
            f.attendees.push(Attendee {
                email: room.clone(),
                kind: AttendeeKind::Resource,
            });
        }
    }
    f.attendees.sort();
    f.attendees.dedup_by(|a, b| a.email == b.email);
    f.recurrence = f.recurrence.map(normalise_recurrence);
    f
}

/// A short digest of the synced fields (64-bit FNV-1a over a canonical
/// rendering), stored with a link to tell a real change of an item from a
/// ChangeKey that moved for another reason.
pub fn fingerprint(fields: &BookingFields) -> String {
    let canonical = format!("{:?}", normalise(fields.clone()));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in canonical.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The fields on which `rooms` and `exchange` differ, with both values as
/// text, by their `booking list --json` names.
pub fn differences(
    rooms: &BookingFields,
    exchange: &BookingFields,
) -> Vec<crate::booking::FieldDifference> {
    let mut out = Vec::new();
    let mut diff = |field: &str, a: String, b: String| {
        if a != b {
            out.push(crate::booking::FieldDifference {
                field: field.to_owned(),
                rooms: a,
                exchange: b,
            });
        }
    };
    diff("rooms", rooms.rooms.join(", "), exchange.rooms.join(", "));
    diff("subject", rooms.subject.clone(), exchange.subject.clone());
    diff(
        "start",
        format_datetime(rooms.start),
        format_datetime(exchange.start),
    );
    diff(
        "end",
        format_datetime(rooms.end),
        format_datetime(exchange.end),
    );
    diff(
        "time_zone",
        rooms.time_zone.clone(),
        exchange.time_zone.clone(),
    );
    diff(
        "all_day",
        rooms.all_day.to_string(),
        exchange.all_day.to_string(),
    );
    diff(
        "reminder_minutes",
        opt(rooms.reminder_minutes),
        opt(exchange.reminder_minutes),
    );
    diff(
        "private",
        rooms.private.to_string(),
        exchange.private.to_string(),
    );
    diff(
        "free_busy",
        rooms.free_busy.as_ews().to_owned(),
        exchange.free_busy.as_ews().to_owned(),
    );
    diff(
        "attendees",
        attendees(&rooms.attendees),
        attendees(&exchange.attendees),
    );
    diff(
        "recurrence",
        format!("{:?}", rooms.recurrence),
        format!("{:?}", exchange.recurrence),
    );
    out
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn attendees(list: &[Attendee]) -> String {
    let mut s = String::new();
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let kind = match a.kind {
            AttendeeKind::Required => "required",
            AttendeeKind::Optional => "optional",
            AttendeeKind::Resource => "resource",
        };
        let _ = write!(s, "{} ({kind})", a.email);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booking::FreeBusy;
    use crate::platform::{ConflictBehaviour, SyncMode};
    use crate::sync::transport::RemoteAttendee;
    use crate::testing::TestPlatform;

    fn person(email: &str, room: bool) -> Person {
        Person {
            email: email.into(),
            sync_mode: SyncMode::O365Pull,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room,
            sync_master: false,
        }
    }

    fn item() -> RemoteItem {
        RemoteItem {
            item_id: "id1".into(),
            change_key: "ck1".into(),
            uid: "uid1".into(),
            tag: None,
            organizer: "Alice@Contoso.com".into(),
            subject: "Planning".into(),
            start: 1_790_000_000,
            end: 1_790_003_600,
            time_zone: "W. Europe Standard Time".into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: false,
            free_busy: FreeBusy::Busy,
            location: "Berlin, 3rd floor".into(),
            attendees: vec![
                RemoteAttendee {
                    email: "bob@contoso.com".into(),
                    kind: AttendeeKind::Required,
                    response: Response::Accept,
                },
                RemoteAttendee {
                    email: "room-berlin@contoso.com".into(),
                    kind: AttendeeKind::Resource,
                    response: Response::Accept,
                },
                RemoteAttendee {
                    email: "room-hamburg@contoso.com".into(),
                    kind: AttendeeKind::Resource,
                    response: Response::Decline,
                },
                RemoteAttendee {
                    email: "projector@contoso.com".into(),
                    kind: AttendeeKind::Resource,
                    response: Response::Accept,
                },
            ],
            cancelled: false,
            recurrence: None,
            occurrence_ids: Vec::new(),
            sync_test: false,
        }
    }

    fn platform() -> TestPlatform {
        let mut p = TestPlatform::new();
        p.persons = vec![
            person("alice@contoso.com", false),
            person("room-berlin@contoso.com", true),
            person("room-hamburg@contoso.com", true),
        ];
        p
    }

    #[test]
    fn rooms_are_synced_resource_mailboxes_that_did_not_decline() {
        let p = platform();
        let mut dir = Directory::default();
        let m = map_item(&p, &mut dir, &item(), "alice@contoso.com", None);
        assert_eq!(m.fields.organiser, "alice@contoso.com");
        assert_eq!(m.fields.rooms, vec!["room-berlin@contoso.com"]);
        assert_eq!(m.declined_rooms, vec!["room-hamburg@contoso.com"]);
        // An equipment mailbox ROOMS does not know stays an attendee only.
        assert!(
            m.fields
                .attendees
                .iter()
                .any(|a| a.email == "projector@contoso.com" && a.kind == AttendeeKind::Resource)
        );
    }

    #[test]
    fn location_text_never_decides_the_room() {
        let p = platform();
        let mut dir = Directory::default();
        let a = map_item(&p, &mut dir, &item(), "alice@contoso.com", None);
        let mut moved = item();
        moved.location = "Room Hamburg".into();
        let b = map_item(&p, &mut dir, &moved, "alice@contoso.com", None);
        assert_eq!(a, b);
        assert_eq!(fingerprint(&a.fields), fingerprint(&b.fields));
    }

    #[test]
    fn the_stored_organiser_is_kept() {
        let p = platform();
        let mut dir = Directory::default();
        let m = map_item(
            &p,
            &mut dir,
            &item(),
            "room-berlin@contoso.com",
            Some("carol@fabrikam.com"),
        );
        assert_eq!(m.fields.organiser, "carol@fabrikam.com");
    }

    #[test]
    fn fingerprint_ignores_order_and_sees_changes() {
        let p = platform();
        let mut dir = Directory::default();
        let a = map_item(&p, &mut dir, &item(), "alice@contoso.com", None).fields;
        let mut reversed = a.clone();
        reversed.attendees.reverse();
        assert_eq!(fingerprint(&a), fingerprint(&reversed));
        let mut changed = a.clone();
        changed.subject = "Planning (moved)".into();
        assert_ne!(fingerprint(&a), fingerprint(&changed));
        let d = differences(&a, &changed);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].field, "subject");
        assert_eq!(d[0].exchange, "Planning (moved)");
    }
}
