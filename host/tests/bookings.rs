//! The `rooms` and `pacing` capabilities as the component meets them: the
//! generated WIT `Host` traits implemented over a real tenant's `rooms.db`,
//! with WIT values in and out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rooms_sync_host::bindings::rooms::exchange_sync::calendar as wit;
use rooms_sync_host::bindings::rooms::exchange_sync::pacing::Host as _;
use rooms_sync_host::bindings::rooms::exchange_sync::rooms::{
    BookingKey, BookingWrite, CommitError, Host as _, ItemRef, Page, WriteEffect,
};
use rooms_sync_host::capabilities::rooms::booking_from_wit;
use rooms_sync_host::http_policy::{HttpLimits, HttpPolicy};
use rooms_sync_host::log::LogSink;
use rooms_sync_host::rooms_db::{Person, SyncMode};
use rooms_sync_host::settings::TenantInputs;
use rooms_sync_host::state::{CallLimiter, TenantState};
use rooms_sync_host::tenant::Tenant;

const SETTINGS: &str = "<RoomsAppSettings>\n\
    <add key=\"ExchangeTenantId\" value=\"72f988bf-86f1-41af-91ab-2d7cd011db47\" />\n\
    <add key=\"ExchangeAppId\" value=\"6e9157a8-801c-4f5c-9522-9ae9ffd2aa4f\" />\n\
    <add key=\"ExchangeClientSecret\" value=\"not-a-real-secret\" />\n\
    </RoomsAppSettings>\n";

/// A tenant with adele (a person) and room.berlin (a sync-master room), and
/// a store for one call with a deadline of `deadline` and `env`.
fn state(env: &[(&str, &str)], deadline: Duration) -> (tempfile::TempDir, TenantState) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("RoomsAppSettings.config"), SETTINGS).unwrap();
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (sink, _log) = LogSink::memory();
    let tenant = Tenant::open(dir.path(), Arc::new(env), TenantInputs::default(), sink).unwrap();
    tenant
        .db()
        .add_person(&Person::new("adele@contoso.com", SyncMode::O365).unwrap())
        .unwrap();
    tenant
        .db()
        .add_person(
            &Person::new("room.berlin@contoso.com", SyncMode::O365Pull)
                .unwrap()
                .as_room(true),
        )
        .unwrap();
    let policy = Arc::new(HttpPolicy::new(false, HttpLimits::default()));
    let limits = CallLimiter::new(64 << 20).with_call_deadline(deadline);
    (dir, TenantState::new(tenant, policy, limits))
}

/// A weekly series as the component would import it from Exchange.
fn imported(id: &str) -> wit::Booking {
    wit::Booking {
        id: id.into(),
        fields: wit::BookingFields {
            organiser: "adele@contoso.com".into(),
            rooms: vec!["room.berlin@contoso.com".into()],
            subject: "Jour fixe".into(),
            start: 1_772_438_400, // 2026-03-02T08:00:00Z
            end: 1_772_442_000,
            time_zone: "W. Europe Standard Time".into(),
            all_day: false,
            reminder_minutes: None,
            private: true,
            free_busy: wit::FreeBusy::Oof,
            attendees: vec![wit::Attendee {
                email: "room.berlin@contoso.com".into(),
                kind: wit::AttendeeKind::Resource,
            }],
            recurrence: Some(wit::Recurrence {
                pattern: wit::Pattern::RelativeMonthly(wit::RelativeMonthlyPattern {
                    interval: 1,
                    day: wit::Weekday::Monday,
                    index: wit::WeekIndex::First,
                }),
                range: wit::RecurrenceRange {
                    start: wit::Date {
                        year: 2026,
                        month: 3,
                        day: 2,
                    },
                    end: None,
                    count: Some(12),
                },
                modified: vec![wit::ModifiedOccurrence {
                    original_start: 1_775_462_400,
                    start: 1_775_466_000,
                    end: 1_775_469_600,
                    subject: "Jour fixe (later)".into(),
                }],
                deleted: vec![1_777_881_600],
            }),
        },
        state: wit::BookingState::Active,
        home: "adele@contoso.com".into(),
        revision: 0,
        synced_revision: 0,
        links: vec![wit::ExchangeLink {
            mailbox: "adele@contoso.com".into(),
            item_id: "AAMkADAT".into(),
            change_key: "DwAAABYA".into(),
            uid: "040000008200E00074C5B7101A82E008".into(),
            fingerprint: "f1".into(),
        }],
        attempts: 0,
        last_error: None,
    }
}

fn page(bookings: Vec<BookingWrite>, sync_state: Option<&str>) -> Page {
    Page {
        mailbox: "adele@contoso.com".into(),
        bookings,
        unlinked: Vec::new(),
        sync_state: sync_state.map(str::to_string),
        conflicts: Vec::new(),
        notices: Vec::new(),
        quarantined: Vec::new(),
        released: Vec::new(),
    }
}

#[test]
fn a_page_from_the_component_round_trips_through_rooms_db() {
    let (_dir, mut state) = state(&[], Duration::from_secs(60));
    let room = state.get_person("ROOM.Berlin@contoso.com".into()).unwrap();
    assert!(room.room && room.sync_master);
    assert!(!state.get_person("adele@contoso.com".into()).unwrap().room);
    assert_eq!(state.get_sync_state("adele@contoso.com".into()), None);

    let booking = imported("b-1");
    state
        .commit(page(
            vec![BookingWrite {
                booking: booking.clone(),
                base_revision: None,
                effect: WriteEffect::FromExchange,
            }],
            Some("state-1"),
        ))
        .unwrap();
    assert_eq!(
        state.get_sync_state("adele@contoso.com".into()).as_deref(),
        Some("state-1")
    );
    let found = state.find_bookings(vec![
        BookingKey::Uid("040000008200E00074C5B7101A82E008".into()),
        BookingKey::Item(ItemRef {
            mailbox: "adele@contoso.com".into(),
            item_id: "AAMkADAT".into(),
        }),
        BookingKey::Id("nope".into()),
    ]);
    let stored = found[0].clone().unwrap();
    // Every field survives the trip, the counters are the host's.
    let (stored, sent) = (booking_from_wit(stored), booking_from_wit(booking.clone()));
    assert_eq!(stored.fields, sent.fields);
    assert_eq!(stored.links, sent.links);
    assert_eq!((stored.revision, stored.synced_revision), (1, 1));
    assert_eq!(found[1].as_ref().map(|b| b.id.as_str()), Some("b-1"));
    assert!(found[2].is_none());
    let linked: Vec<(String, String)> = state
        .linked_items("adele@contoso.com".into())
        .into_iter()
        .map(|i: ItemRef| (i.mailbox, i.item_id))
        .collect();
    assert_eq!(linked, [("adele@contoso.com".into(), "AAMkADAT".into())]);
    assert!(
        state
            .pending_changes("adele@contoso.com".into(), 10)
            .is_empty()
    );

    // The component's next write based on revision 0 is stale; an empty
    // sync state is invalid; neither stores anything.
    let stale = state.commit(page(
        vec![BookingWrite {
            booking: booking.clone(),
            base_revision: Some(0),
            effect: WriteEffect::FromExchange,
        }],
        Some("state-2"),
    ));
    assert!(
        matches!(&stale, Err(CommitError::Stale(ids)) if ids == &["b-1"]),
        "{stale:?}"
    );
    let invalid = state.commit(page(Vec::new(), Some("")));
    assert!(
        matches!(invalid, Err(CommitError::Invalid(_))),
        "{invalid:?}"
    );
    assert_eq!(
        state.get_sync_state("adele@contoso.com".into()).as_deref(),
        Some("state-1")
    );
}

#[test]
fn rooms_side_bookings_are_pending_changes_of_their_home() {
    let (_dir, mut state) = state(&[], Duration::from_secs(60));
    let fields = rooms_sync_host::rooms_db::BookingFields {
        organiser: "bob@fabrikam.com".into(),
        rooms: vec!["room.berlin@contoso.com".into()],
        subject: "Visit".into(),
        start: 1_772_438_400,
        end: 1_772_442_000,
        time_zone: "UTC".into(),
        all_day: false,
        reminder_minutes: Some(15),
        private: false,
        free_busy: rooms_sync_host::rooms_db::FreeBusy::Busy,
        attendees: Vec::new(),
        recurrence: None,
    };
    let made = state.tenant().db().add_booking(fields).unwrap();
    let pending = state.pending_changes("room.berlin@contoso.com".into(), 10);
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, made.id);
    assert_eq!((pending[0].revision, pending[0].synced_revision), (1, 0));
    assert_eq!(pending[0].home, "room.berlin@contoso.com");
    // Written back: no longer pending.
    state
        .commit(Page {
            mailbox: "room.berlin@contoso.com".into(),
            ..page(
                vec![BookingWrite {
                    booking: pending[0].clone(),
                    base_revision: Some(1),
                    effect: WriteEffect::Written,
                }],
                None,
            )
        })
        .unwrap();
    assert!(
        state
            .pending_changes("room.berlin@contoso.com".into(), 10)
            .is_empty()
    );
}

#[tokio::test]
async fn waits_sleep_on_the_host_clock_within_the_call_deadline() {
    let (_dir, mut state) = state(&[], Duration::from_secs(5));
    let started = Instant::now();
    assert!(state.wait("adele@contoso.com".into(), 30).await);
    assert!(started.elapsed() >= Duration::from_millis(30));
    // A wait that would pass the deadline is refused at once.
    let started = Instant::now();
    assert!(!state.wait("adele@contoso.com".into(), 60_000).await);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        (
            state.pacing().waits,
            state.pacing().waited_ms,
            state.pacing().refused
        ),
        (1, 30, 1)
    );
}

#[tokio::test]
async fn the_test_clock_skips_waits_but_counts_them() {
    let (_dir, mut state) = state(
        &[("ROOMS_SYNC_TEST_CLOCK", "skip-waits")],
        Duration::from_secs(30),
    );
    let started = Instant::now();
    for _ in 0..3 {
        assert!(state.wait("adele@contoso.com".into(), 10_000).await);
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        (state.pacing().waits, state.pacing().waited_ms),
        (3, 30_000)
    );
    // The deadline still applies.
    assert!(!state.wait("adele@contoso.com".into(), 40_000).await);
}
