//! An in-memory [`Platform`] for unit tests.
//!
//! It holds settings, secrets, persons, the token cache and a fixed clock,
//! records every request, signature, log line, page and wait, and has no
//! network: every HTTP request is recorded and then answered with the next of
//! the `answers` a test queued, or, when there is none, fails as a transport
//! error. Flows
//! that need real answers from Entra ID or Exchange are tested end to end
//! against the emulator; the queued answers serve tests of what the component
//! makes of one hostile or odd answer.
//!
//! It is also an in-memory ROOMS store with the semantics that `wit/rooms.wit`
//! gives the host: `commit` stores a whole page or nothing, applies each
//! booking write by its `write-effect`, refuses a page as `stale` when ROOMS
//! changed a booking that came from Exchange meanwhile, and as `invalid` when
//! it is inconsistent (the rules are listed at `TestPlatform::commit_page`).
//! A test plays the ROOMS side with [`TestPlatform::change_in_rooms`] and
//! reads the store's fields directly; [`rooms_booking`] and
//! [`exchange_link`] build the values.
//!
//! [`ews_sample!`] and [`ews_derived!`] embed the XML fixtures shared by the
//! workspace (`tests/fixtures/`): real Microsoft samples, and the few answers
//! written in their documented shape where no real sample exists.

/// The bytes of a real Microsoft EWS sample in `tests/fixtures/ews/`.
macro_rules! ews_sample {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/ews/",
            $name
        ))
    };
}

/// The bytes of an EWS answer written in the documented shape, in
/// `tests/fixtures/ews-derived/` (see its README).
macro_rules! ews_derived {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/ews-derived/",
            $name
        ))
    };
}

pub(crate) use {ews_derived, ews_sample};

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use crate::auth::token::Secret;
use crate::auth::{AuthContext, form};
use crate::booking::{
    Booking, BookingFields, BookingKey, BookingState, CommitError, Conflict, ExchangeLink,
    FreeBusy, ItemRef, Notice, Page, Quarantined, WriteEffect,
};
use crate::config::{RawSettings, Settings, keys};
use crate::ews::Access;
use crate::platform::{
    CachedToken, CertificateError, ConfigReadError, HttpRequest, HttpResponse, Level, Person,
    Platform, SecretError, Signature, TransportError, TransportKind,
};

/// See the module documentation.
#[derive(Debug)]
pub struct TestPlatform {
    /// Non-secret settings.
    pub config: HashMap<String, String>,
    /// When set, every settings read fails with it.
    pub config_error: Option<ConfigReadError>,
    /// Secrets by name.
    pub secrets: HashMap<String, String>,
    /// Secrets that exist but cannot be read, with the reason.
    pub unreadable_secrets: HashMap<String, String>,
    /// What `sign_rs256` answers.
    pub signature: Result<Signature, CertificateError>,
    /// Every `sign_rs256` call: (thumbprint, data).
    pub signed: RefCell<Vec<(String, Vec<u8>)>>,
    /// The token cache.
    pub cache: HashMap<String, CachedToken>,
    /// Known persons.
    pub persons: Vec<Person>,
    /// The clock.
    pub now: u64,
    /// Every HTTP request sent.
    pub requests: Vec<HttpRequest>,
    /// Answers to the next requests, in order.
    pub answers: VecDeque<HttpResponse>,
    /// Every log line.
    pub logs: RefCell<Vec<(Level, String)>>,
    /// The ROOMS bookings, in the order of their last change (oldest
    /// first): the order `pending_changes` lists them in. A test that
    /// changes a booking as ROOMS would uses [`Self::change_in_rooms`], which
    /// keeps this order; one pushed here is the newest change.
    pub bookings: Vec<Booking>,
    /// The committed `SyncFolderItems` state by mailbox (looked up
    /// case-insensitively).
    pub sync_states: HashMap<String, String>,
    /// Every conflict committed, in order.
    pub conflicts: Vec<Conflict>,
    /// The outbox: every notice committed, in order.
    pub notices: Vec<Notice>,
    /// The items in quarantine.
    pub quarantine: Vec<Quarantined>,
    /// Every page handed to `commit`, stored or refused, in order.
    pub pages: Vec<Page>,
    /// Errors the next commits fail with, first first (a failing store);
    /// such a commit stores nothing.
    pub commit_failures: VecDeque<CommitError>,
    /// Every `wait`: (mailbox, milliseconds).
    pub waits: RefCell<Vec<(String, u64)>>,
    /// What `wait` answers: true (waited, the default) or false (the wait
    /// would pass the call's deadline).
    pub wait_answer: bool,
    random_counter: u8,
}

impl TestPlatform {
    /// An empty platform at time 1 767 225 600 (2026-01-01).
    pub fn new() -> Self {
        Self {
            config: HashMap::new(),
            config_error: None,
            secrets: HashMap::new(),
            unreadable_secrets: HashMap::new(),
            signature: Err(CertificateError::NotFound(
                "(no certificate in tests)".into(),
            )),
            signed: RefCell::new(Vec::new()),
            cache: HashMap::new(),
            persons: Vec::new(),
            now: 1_767_225_600,
            requests: Vec::new(),
            answers: VecDeque::new(),
            logs: RefCell::new(Vec::new()),
            bookings: Vec::new(),
            sync_states: HashMap::new(),
            conflicts: Vec::new(),
            notices: Vec::new(),
            quarantine: Vec::new(),
            pages: Vec::new(),
            commit_failures: VecDeque::new(),
            waits: RefCell::new(Vec::new()),
            wait_answer: true,
            random_counter: 0,
        }
    }

    /// The stored booking `id`.
    pub fn stored(&self, id: &str) -> Option<&Booking> {
        self.bookings.iter().find(|b| b.id == id)
    }

    /// Changes booking `id` as ROOMS would: applies `change`, bumps the
    /// revision (so the booking is pending) and makes it the newest change.
    ///
    /// # Panics
    ///
    /// When no booking `id` is stored.
    pub fn change_in_rooms(&mut self, id: &str, change: impl FnOnce(&mut Booking)) {
        let index = self
            .bookings
            .iter()
            .position(|b| b.id == id)
            .unwrap_or_else(|| panic!("no booking {id} in the store"));
        let mut booking = self.bookings.remove(index);
        change(&mut booking);
        booking.revision += 1;
        self.bookings.push(booking);
    }

    /// `page` applied to the store, or why not; nothing is stored on an
    /// error. The rules of `wit/rooms.wit`:
    ///
    /// - an empty sync state is `invalid`;
    /// - a booking id twice in one page is `invalid`;
    /// - a write with a `base_revision` for an unknown id is `invalid`, and
    ///   so are `written` without a `base_revision`, `written` with a
    ///   `base_revision` above the stored revision, and `bookkeeping` of an
    ///   unknown id;
    /// - `from-exchange` is `stale` when the stored revision is not
    ///   `base_revision`, and when `base_revision` is `None` but the id is
    ///   stored already (the booking was created meanwhile); every stale id
    ///   is listed, in page order;
    /// - then `unlinked` drops links wherever they are, and the page's
    ///   bookings are stored: `from-exchange` stores the booking whole with
    ///   `revision` bumped (1 for a new booking) and `synced_revision` equal
    ///   to it; `written` sets `synced_revision` to `base_revision`, keeps
    ///   fields, home and revision, replaces links, attempts and last error,
    ///   and applies a `cancelled` or `sync-disabled` state; `bookkeeping`
    ///   replaces links, attempts, last error and state only;
    /// - the sync state (when given) replaces the mailbox's; conflicts and
    ///   notices are appended; released items leave the quarantine, then
    ///   quarantined items enter it (replacing an entry of the same item).
    fn commit_page(&mut self, page: &Page) -> Result<(), CommitError> {
        if page.sync_state.as_deref() == Some("") {
            return Err(CommitError::Invalid(format!(
                "the sync state of {} is empty",
                page.mailbox
            )));
        }
        let mut seen = HashSet::new();
        let mut stale = Vec::new();
        for write in &page.bookings {
            let id = &write.booking.id;
            if !seen.insert(id.as_str()) {
                return Err(CommitError::Invalid(format!(
                    "booking {id} is written twice in one page"
                )));
            }
            let stored = self.stored(id);
            match (write.effect, write.base_revision, stored) {
                (_, Some(base), None) => {
                    return Err(CommitError::Invalid(format!(
                        "unknown booking {id} with base revision {base}"
                    )));
                }
                (WriteEffect::FromExchange, None, None) => {}
                (WriteEffect::FromExchange, None, Some(_)) => stale.push(id.clone()),
                (WriteEffect::FromExchange, Some(base), Some(stored)) => {
                    if stored.revision != base {
                        stale.push(id.clone());
                    }
                }
                (WriteEffect::Written, None, _) => {
                    return Err(CommitError::Invalid(format!(
                        "booking {id} is marked written without its base revision"
                    )));
                }
                (WriteEffect::Written, Some(base), Some(stored)) => {
                    if base > stored.revision {
                        return Err(CommitError::Invalid(format!(
                            "base revision {base} of booking {id} is above its stored \
                             revision {}",
                            stored.revision
                        )));
                    }
                }
                (WriteEffect::Bookkeeping, None, None) => {
                    return Err(CommitError::Invalid(format!(
                        "bookkeeping of unknown booking {id}"
                    )));
                }
                (WriteEffect::Bookkeeping, _, Some(_)) => {}
            }
        }
        if !stale.is_empty() {
            return Err(CommitError::Stale(stale));
        }

        for item in &page.unlinked {
            for booking in &mut self.bookings {
                booking.links.retain(|link| !links_to(link, item));
            }
        }
        for write in &page.bookings {
            let incoming = &write.booking;
            let index = self.bookings.iter().position(|b| b.id == incoming.id);
            match (write.effect, index) {
                (WriteEffect::FromExchange, index) => {
                    let revision = index.map_or(0, |i| self.bookings.remove(i).revision) + 1;
                    let mut booking = incoming.clone();
                    booking.revision = revision;
                    booking.synced_revision = revision;
                    self.bookings.push(booking);
                }
                (WriteEffect::Written, Some(i)) => {
                    let stored = &mut self.bookings[i];
                    stored.synced_revision = write.base_revision.unwrap_or(stored.synced_revision);
                    stored.links = incoming.links.clone();
                    stored.attempts = incoming.attempts;
                    stored.last_error = incoming.last_error.clone();
                    if incoming.state != BookingState::Active {
                        stored.state = incoming.state;
                    }
                }
                (WriteEffect::Bookkeeping, Some(i)) => {
                    let stored = &mut self.bookings[i];
                    stored.links = incoming.links.clone();
                    stored.attempts = incoming.attempts;
                    stored.last_error = incoming.last_error.clone();
                    stored.state = incoming.state;
                }
                // Refused as invalid above.
                (WriteEffect::Written | WriteEffect::Bookkeeping, None) => unreachable!(),
            }
        }
        if let Some(state) = &page.sync_state {
            self.sync_states
                .retain(|mailbox, _| !mailbox.eq_ignore_ascii_case(&page.mailbox));
            self.sync_states.insert(page.mailbox.clone(), state.clone());
        }
        self.conflicts.extend(page.conflicts.iter().cloned());
        self.notices.extend(page.notices.iter().cloned());
        for item in &page.released {
            self.quarantine.retain(|q| !same_item(&q.item, item));
        }
        for entry in &page.quarantined {
            self.quarantine.retain(|q| !same_item(&q.item, &entry.item));
            self.quarantine.push(entry.clone());
        }
        Ok(())
    }

    /// The logged messages.
    pub fn logged(&self) -> Vec<String> {
        self.logs.borrow().iter().map(|(_, m)| m.clone()).collect()
    }

    /// The form fields of the `index`-th request sent (a token request).
    pub fn sent_form(&self, index: usize) -> SentForm {
        let body = std::str::from_utf8(&self.requests[index].body).expect("a UTF-8 form");
        SentForm(form::decode(body).expect("a well-formed form"))
    }
}

/// True when `link` points at `item` (mailboxes compared case-insensitively).
fn links_to(link: &ExchangeLink, item: &ItemRef) -> bool {
    link.item_id == item.item_id && link.mailbox.eq_ignore_ascii_case(&item.mailbox)
}

/// True when `a` and `b` are the same item (mailboxes compared
/// case-insensitively).
fn same_item(a: &ItemRef, b: &ItemRef) -> bool {
    a.item_id == b.item_id && a.mailbox.eq_ignore_ascii_case(&b.mailbox)
}

/// A single, active booking `id` made in ROOMS and not yet written to
/// Exchange (revision 1, synced revision 0, no links), homed in and
/// organised by `home`: "Team meeting", 2026-01-05 09:00 to 10:00 UTC in
/// `W. Europe Standard Time`, busy, a 15-minute reminder, no attendees.
pub fn rooms_booking(id: &str, home: &str) -> Booking {
    Booking {
        id: id.into(),
        fields: BookingFields {
            organiser: home.into(),
            rooms: Vec::new(),
            subject: "Team meeting".into(),
            start: 1_767_603_600,
            end: 1_767_607_200,
            time_zone: "W. Europe Standard Time".into(),
            all_day: false,
            reminder_minutes: Some(15),
            private: false,
            free_busy: FreeBusy::Busy,
            attendees: Vec::new(),
            recurrence: None,
        },
        state: BookingState::Active,
        home: home.into(),
        revision: 1,
        synced_revision: 0,
        links: Vec::new(),
        attempts: 0,
        last_error: None,
    }
}

/// A link to item `item_id` in `mailbox` of meeting `uid`, with change key
/// `ck-<item_id>` and fingerprint `fp-<item_id>`.
pub fn exchange_link(mailbox: &str, item_id: &str, uid: &str) -> ExchangeLink {
    ExchangeLink {
        mailbox: mailbox.into(),
        item_id: item_id.into(),
        change_key: format!("ck-{item_id}"),
        uid: uid.into(),
        fingerprint: format!("fp-{item_id}"),
    }
}

/// The fields of a form the code under test sent.
#[derive(Debug, Clone)]
pub struct SentForm(pub Vec<(String, String)>);

impl SentForm {
    /// The value of the field `name`, if it was sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The app id (`ExchangeAppId`) of the unit tests.
pub const APP_ID: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

/// Validated settings of tenant `contoso.onmicrosoft.com` and [`APP_ID`], plus `extra` (the
/// keys of a sign-in mode).
pub fn settings(extra: &[(&'static str, &str)]) -> Settings {
    let mut pairs = vec![
        (keys::TENANT_ID, "contoso.onmicrosoft.com"),
        (keys::APP_ID, APP_ID),
    ];
    pairs.extend_from_slice(extra);
    RawSettings::from_pairs(&pairs).validate().unwrap()
}

/// The sign-in context of [`settings`] for EWS in Exchange Online.
pub fn auth_context(extra: &[(&'static str, &str)]) -> AuthContext {
    AuthContext::new(&settings(extra), "https://outlook.office365.com")
}

/// An HTTP answer with status `status`, one `Content-Type` and `body`.
pub fn answer(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.into(),
    }
}

/// App-only access of [`APP_ID`].
pub fn app_only() -> Access {
    Access::AppOnly {
        app_id: APP_ID.into(),
    }
}

/// Delegated access of [`APP_ID`] as the service user `svc-rooms@contoso.com`.
pub fn delegated() -> Access {
    Access::Delegated {
        app_id: APP_ID.into(),
        user: "svc-rooms@contoso.com".into(),
    }
}

impl Platform for TestPlatform {
    fn http(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let detail = format!("{}: unit tests have no network", request.url);
        self.requests.push(request);
        if let Some(answer) = self.answers.pop_front() {
            return Ok(answer);
        }
        Err(TransportError {
            kind: TransportKind::Connection,
            detail,
        })
    }

    fn config(&self, key: &str) -> Result<Option<String>, ConfigReadError> {
        match &self.config_error {
            Some(error) => Err(error.clone()),
            None => Ok(self.config.get(key).cloned()),
        }
    }

    fn reveal(&self, name: &str) -> Result<Secret, SecretError> {
        if let Some(reason) = self.unreadable_secrets.get(name) {
            return Err(SecretError::Unreadable(reason.clone()));
        }
        self.secrets
            .get(name)
            .map(|s| Secret::new(s.clone()))
            .ok_or(SecretError::NotFound)
    }

    fn sign_rs256(&self, thumbprint: &str, data: &[u8]) -> Result<Signature, CertificateError> {
        self.signed
            .borrow_mut()
            .push((thumbprint.to_owned(), data.to_vec()));
        self.signature.clone()
    }

    fn cache_get(&self, key: &str) -> Option<CachedToken> {
        self.cache.get(key).cloned()
    }

    fn cache_put(&mut self, key: &str, token: &CachedToken) {
        self.cache.insert(key.to_owned(), token.clone());
    }

    fn cache_remove(&mut self, key: &str) {
        self.cache.remove(key);
    }

    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn person(&self, email: &str) -> Option<Person> {
        self.persons
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email))
            .cloned()
    }

    fn sync_state(&self, mailbox: &str) -> Option<String> {
        self.sync_states
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(mailbox))
            .map(|(_, state)| state.clone())
    }

    fn pending_changes(&self, mailbox: &str, limit: u32) -> Vec<Booking> {
        self.bookings
            .iter()
            .filter(|b| {
                b.home.eq_ignore_ascii_case(mailbox)
                    && b.is_pending()
                    && b.state != BookingState::SyncDisabled
            })
            .take(limit as usize)
            .cloned()
            .collect()
    }

    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>> {
        keys.iter()
            .map(|key| {
                self.bookings
                    .iter()
                    .find(|b| match key {
                        BookingKey::Id(id) => &b.id == id,
                        BookingKey::Uid(uid) => b.links.iter().any(|l| &l.uid == uid),
                        BookingKey::Item(item) => b.links.iter().any(|l| links_to(l, item)),
                    })
                    .cloned()
            })
            .collect()
    }

    fn linked_items(&self, mailbox: &str) -> Vec<ItemRef> {
        self.bookings
            .iter()
            .flat_map(|b| &b.links)
            .filter(|l| l.mailbox.eq_ignore_ascii_case(mailbox))
            .map(|l| ItemRef {
                mailbox: l.mailbox.clone(),
                item_id: l.item_id.clone(),
            })
            .collect()
    }

    fn commit(&mut self, page: &Page) -> Result<(), CommitError> {
        self.pages.push(page.clone());
        if let Some(error) = self.commit_failures.pop_front() {
            return Err(error);
        }
        self.commit_page(page)
    }

    fn wait(&mut self, mailbox: &str, ms: u64) -> bool {
        self.waits.borrow_mut().push((mailbox.to_owned(), ms));
        self.wait_answer
    }

    fn now_unix(&self) -> u64 {
        self.now
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.random_counter = self.random_counter.wrapping_add(1);
                self.random_counter
            })
            .collect()
    }
}

/// The in-memory ROOMS store keeps the contract of `wit/rooms.wit`: the
/// engine's tests rely on it.
mod tests {
    use super::*;
    use crate::booking::{BookingWrite, ConflictWinner, NoticeKind};

    const HOME: &str = "room1@contoso.com";

    /// A write of `booking` with `effect` based on `base`.
    fn write(booking: Booking, base: Option<u64>, effect: WriteEffect) -> BookingWrite {
        BookingWrite {
            booking,
            base_revision: base,
            effect,
        }
    }

    /// A booking imported from Exchange item `item` of meeting `uid`.
    fn imported(id: &str, item: &str, uid: &str) -> Booking {
        let mut booking = rooms_booking(id, HOME);
        booking.links = vec![exchange_link(HOME, item, uid)];
        booking
    }

    fn page(writes: Vec<BookingWrite>) -> Page {
        Page {
            bookings: writes,
            ..Page::new(HOME)
        }
    }

    /// A platform holding booking `b1` as Exchange has it (revision 3,
    /// synced), linked to item `item-1` of meeting `uid-1`.
    fn synced() -> TestPlatform {
        let mut platform = TestPlatform::new();
        let mut booking = imported("b1", "item-1", "uid-1");
        booking.revision = 3;
        booking.synced_revision = 3;
        platform.bookings.push(booking);
        platform
    }

    #[test]
    fn sync_state_is_none_first_then_the_committed_one_and_kept_when_absent() {
        let mut platform = TestPlatform::new();
        assert_eq!(platform.sync_state(HOME), None);
        let mut first = Page::new(HOME);
        first.sync_state = Some("H4sI-state-1".into());
        platform.commit(&first).unwrap();
        assert_eq!(
            platform.sync_state("Room1@Contoso.com").as_deref(),
            Some("H4sI-state-1")
        );
        platform.commit(&Page::new(HOME)).unwrap();
        assert_eq!(platform.sync_state(HOME).as_deref(), Some("H4sI-state-1"));
        let mut second = Page::new("ROOM1@contoso.com");
        second.sync_state = Some("H4sI-state-2".into());
        platform.commit(&second).unwrap();
        assert_eq!(platform.sync_state(HOME).as_deref(), Some("H4sI-state-2"));
        assert_eq!(platform.sync_states.len(), 1);
        assert_eq!(platform.sync_state("room2@contoso.com"), None);
    }

    #[test]
    fn an_empty_sync_state_is_invalid_and_nothing_of_the_page_is_stored() {
        let mut platform = TestPlatform::new();
        let mut page = page(vec![write(
            imported("b1", "item-1", "uid-1"),
            None,
            WriteEffect::FromExchange,
        )]);
        page.sync_state = Some(String::new());
        page.notices.push(Notice {
            booking: Some("b1".into()),
            recipient: HOME.into(),
            kind: NoticeKind::RoomDeclined,
            message: "Declined.".into(),
            at: 1,
        });
        assert!(matches!(
            platform.commit(&page),
            Err(CommitError::Invalid(what)) if what.contains("sync state")
        ));
        assert!(platform.bookings.is_empty());
        assert!(platform.notices.is_empty());
        assert_eq!(platform.sync_state(HOME), None);
        assert_eq!(platform.pages, vec![page], "the refused page is recorded");
    }

    #[test]
    fn a_booking_from_exchange_is_created_at_revision_1_synced_and_found_by_every_key() {
        let mut platform = TestPlatform::new();
        let mut booking = imported("b1", "item-1", "uid-1");
        booking.revision = 77;
        booking.synced_revision = 0;
        platform
            .commit(&page(vec![write(booking, None, WriteEffect::FromExchange)]))
            .unwrap();
        let stored = platform.stored("b1").unwrap().clone();
        assert_eq!((stored.revision, stored.synced_revision), (1, 1));
        assert!(!stored.is_pending());
        assert!(platform.pending_changes(HOME, 10).is_empty());

        let found = platform.find_bookings(&[
            BookingKey::Id("b1".into()),
            BookingKey::Uid("uid-1".into()),
            BookingKey::Item(ItemRef {
                mailbox: "ROOM1@contoso.com".into(),
                item_id: "item-1".into(),
            }),
            BookingKey::Id("b2".into()),
            BookingKey::Uid("uid-2".into()),
            BookingKey::Item(ItemRef {
                mailbox: "room2@contoso.com".into(),
                item_id: "item-1".into(),
            }),
        ]);
        assert_eq!(
            found,
            vec![
                Some(stored.clone()),
                Some(stored.clone()),
                Some(stored),
                None,
                None,
                None
            ]
        );
        assert_eq!(
            platform.linked_items(HOME),
            vec![ItemRef {
                mailbox: HOME.into(),
                item_id: "item-1".into()
            }]
        );
        assert!(platform.linked_items("room2@contoso.com").is_empty());
    }

    #[test]
    fn a_booking_from_exchange_on_its_base_revision_is_stored_whole_and_bumped() {
        let mut platform = synced();
        let mut changed = imported("b1", "item-1", "uid-1");
        changed.fields.subject = "Moved in Outlook".into();
        changed.links[0].change_key = "ck-2".into();
        changed.state = BookingState::Cancelled;
        platform
            .commit(&page(vec![write(
                changed.clone(),
                Some(3),
                WriteEffect::FromExchange,
            )]))
            .unwrap();
        let stored = platform.stored("b1").unwrap();
        assert_eq!((stored.revision, stored.synced_revision), (4, 4));
        assert_eq!(stored.fields.subject, "Moved in Outlook");
        assert_eq!(stored.links[0].change_key, "ck-2");
        assert_eq!(stored.state, BookingState::Cancelled);
    }

    #[test]
    fn a_change_in_rooms_meanwhile_makes_the_page_stale_and_nothing_is_stored() {
        let mut platform = synced();
        platform.bookings.push(imported("b2", "item-2", "uid-2"));
        platform.change_in_rooms("b1", |b| b.fields.subject = "Renamed in ROOMS".into());
        let before = platform.bookings.clone();

        let mut exchange = imported("b1", "item-1", "uid-1");
        exchange.fields.subject = "Renamed in Outlook".into();
        let mut page = page(vec![
            write(
                imported("b3", "item-3", "uid-3"),
                None,
                WriteEffect::FromExchange,
            ),
            write(exchange, Some(3), WriteEffect::FromExchange),
            // Created meanwhile: the id is taken.
            write(
                imported("b2", "item-2", "uid-2"),
                None,
                WriteEffect::FromExchange,
            ),
        ]);
        page.sync_state = Some("state-after".into());
        page.unlinked.push(ItemRef {
            mailbox: HOME.into(),
            item_id: "item-2".into(),
        });
        assert_eq!(
            platform.commit(&page),
            Err(CommitError::Stale(vec!["b1".into(), "b2".into()]))
        );
        assert_eq!(platform.bookings, before);
        assert_eq!(platform.sync_state(HOME), None);

        // Read again and rebuilt on revision 4, the page goes in.
        let mut exchange = imported("b1", "item-1", "uid-1");
        exchange.fields.subject = "Renamed in Outlook".into();
        platform
            .commit(&self::page(vec![write(
                exchange,
                Some(4),
                WriteEffect::FromExchange,
            )]))
            .unwrap();
        let stored = platform.stored("b1").unwrap();
        assert_eq!((stored.revision, stored.synced_revision), (5, 5));
        assert_eq!(stored.fields.subject, "Renamed in Outlook");
    }

    #[test]
    fn written_sets_the_synced_revision_and_keeps_fields_and_a_later_change_pending() {
        let mut platform = TestPlatform::new();
        platform.bookings.push(rooms_booking("b1", HOME));
        let read = platform.pending_changes(HOME, 10).remove(0);
        assert_eq!((read.revision, read.synced_revision), (1, 0));
        // ROOMS changes it again while the component writes revision 1.
        platform.change_in_rooms("b1", |b| b.fields.subject = "Second edit".into());

        let mut result = read.clone();
        result.fields.subject = "ignored: written keeps the stored fields".into();
        result.links = vec![exchange_link(HOME, "item-1", "uid-1")];
        result.attempts = 0;
        result.last_error = None;
        platform
            .commit(&page(vec![write(result, Some(1), WriteEffect::Written)]))
            .unwrap();
        let stored = platform.stored("b1").unwrap();
        assert_eq!((stored.revision, stored.synced_revision), (2, 1));
        assert_eq!(stored.fields.subject, "Second edit");
        assert_eq!(stored.links, vec![exchange_link(HOME, "item-1", "uid-1")]);
        assert_eq!(stored.state, BookingState::Active);
        assert_eq!(platform.pending_changes(HOME, 10).len(), 1);

        // Revision 2 written: nothing pending any more.
        let read = platform.pending_changes(HOME, 10).remove(0);
        platform
            .commit(&page(vec![write(read, Some(2), WriteEffect::Written)]))
            .unwrap();
        let stored = platform.stored("b1").unwrap();
        assert_eq!((stored.revision, stored.synced_revision), (2, 2));
        assert!(platform.pending_changes(HOME, 10).is_empty());
    }

    #[test]
    fn written_applies_a_cancellation_but_an_active_state_does_not_undo_one() {
        let mut platform = TestPlatform::new();
        platform.bookings.push(rooms_booking("b1", HOME));
        platform.bookings.push(rooms_booking("b2", HOME));
        platform.change_in_rooms("b2", |b| b.state = BookingState::Cancelled);

        let mut cancelled = rooms_booking("b1", HOME);
        cancelled.state = BookingState::Cancelled;
        let active = rooms_booking("b2", HOME);
        platform
            .commit(&page(vec![
                write(cancelled, Some(1), WriteEffect::Written),
                write(active, Some(1), WriteEffect::Written),
            ]))
            .unwrap();
        assert_eq!(
            platform.stored("b1").unwrap().state,
            BookingState::Cancelled
        );
        let b2 = platform.stored("b2").unwrap();
        assert_eq!(b2.state, BookingState::Cancelled);
        assert_eq!((b2.revision, b2.synced_revision), (2, 1));
    }

    #[test]
    fn bookkeeping_changes_links_attempts_error_and_state_but_no_counter() {
        let mut platform = synced();
        platform.change_in_rooms("b1", |b| b.fields.subject = "Pending edit".into());
        let mut update = imported("b1", "item-9", "uid-1");
        update.fields.subject = "ignored".into();
        update.attempts = 3;
        update.last_error = Some("conflict three times".into());
        update.state = BookingState::SyncDisabled;
        update.revision = 99;
        update.synced_revision = 99;
        platform
            .commit(&page(vec![write(update, None, WriteEffect::Bookkeeping)]))
            .unwrap();
        let stored = platform.stored("b1").unwrap();
        assert_eq!((stored.revision, stored.synced_revision), (4, 3));
        assert_eq!(stored.fields.subject, "Pending edit");
        assert_eq!(stored.links[0].item_id, "item-9");
        assert_eq!(stored.attempts, 3);
        assert_eq!(stored.last_error.as_deref(), Some("conflict three times"));
        assert_eq!(stored.state, BookingState::SyncDisabled);
        // Sync-disabled bookings are not pending changes, though changed.
        assert!(stored.is_pending());
        assert!(platform.pending_changes(HOME, 10).is_empty());
    }

    #[test]
    fn inconsistent_pages_are_invalid_and_store_nothing() {
        let cases: Vec<(&str, Vec<BookingWrite>)> = vec![
            (
                "unknown booking b9 with base revision 1",
                vec![write(
                    rooms_booking("b9", HOME),
                    Some(1),
                    WriteEffect::FromExchange,
                )],
            ),
            (
                "unknown booking b9 with base revision 1",
                vec![write(
                    rooms_booking("b9", HOME),
                    Some(1),
                    WriteEffect::Written,
                )],
            ),
            (
                "without its base revision",
                vec![write(rooms_booking("b1", HOME), None, WriteEffect::Written)],
            ),
            (
                "above its stored revision",
                vec![write(
                    rooms_booking("b1", HOME),
                    Some(4),
                    WriteEffect::Written,
                )],
            ),
            (
                "bookkeeping of unknown booking b9",
                vec![write(
                    rooms_booking("b9", HOME),
                    None,
                    WriteEffect::Bookkeeping,
                )],
            ),
            (
                "written twice",
                vec![
                    write(rooms_booking("b1", HOME), Some(3), WriteEffect::Written),
                    write(rooms_booking("b1", HOME), None, WriteEffect::Bookkeeping),
                ],
            ),
            // Invalid wins over stale: the page is wrong, not only late.
            (
                "unknown booking b9",
                vec![
                    write(
                        rooms_booking("b1", HOME),
                        Some(2),
                        WriteEffect::FromExchange,
                    ),
                    write(rooms_booking("b9", HOME), Some(1), WriteEffect::Written),
                ],
            ),
        ];
        for (expected, writes) in cases {
            let mut platform = synced();
            let before = platform.bookings.clone();
            let mut page = page(writes);
            page.conflicts.push(Conflict {
                booking: "b1".into(),
                mailbox: HOME.into(),
                differences: Vec::new(),
                winner: ConflictWinner::Rooms,
                attempt: 1,
                at: 1,
            });
            match platform.commit(&page) {
                Err(CommitError::Invalid(what)) => assert!(what.contains(expected), "{what}"),
                other => panic!("{expected}: {other:?}"),
            }
            assert_eq!(platform.bookings, before, "{expected}");
            assert!(platform.conflicts.is_empty(), "{expected}");
        }
    }

    #[test]
    fn a_failing_store_stores_nothing_and_the_next_commit_works() {
        let mut platform = TestPlatform::new();
        platform
            .commit_failures
            .push_back(CommitError::Store("database is locked".into()));
        let page = page(vec![write(
            imported("b1", "item-1", "uid-1"),
            None,
            WriteEffect::FromExchange,
        )]);
        assert_eq!(
            platform.commit(&page),
            Err(CommitError::Store("database is locked".into()))
        );
        assert!(platform.bookings.is_empty());
        platform.commit(&page).unwrap();
        assert_eq!(platform.bookings.len(), 1);
        assert_eq!(platform.pages.len(), 2);
    }

    #[test]
    fn pending_changes_lists_the_mailbox_s_changed_bookings_oldest_change_first() {
        let mut platform = TestPlatform::new();
        for id in ["b1", "b2", "b3", "b4"] {
            platform.bookings.push(rooms_booking(id, HOME));
        }
        platform
            .bookings
            .push(rooms_booking("other", "room2@contoso.com"));
        let mut synced = rooms_booking("synced", HOME);
        synced.synced_revision = 1;
        platform.bookings.push(synced);
        platform.change_in_rooms("b1", |b| b.fields.subject = "Newest".into());
        platform.change_in_rooms("b3", |b| b.state = BookingState::Cancelled);
        platform.change_in_rooms("b4", |b| {
            b.state = BookingState::SyncDisabled;
        });

        let ids = |list: Vec<Booking>| list.into_iter().map(|b| b.id).collect::<Vec<_>>();
        assert_eq!(
            ids(platform.pending_changes("ROOM1@contoso.com", 10)),
            ["b2", "b1", "b3"]
        );
        assert_eq!(ids(platform.pending_changes(HOME, 2)), ["b2", "b1"]);
        assert!(platform.pending_changes(HOME, 0).is_empty());
        assert_eq!(
            ids(platform.pending_changes("room2@contoso.com", 10)),
            ["other"]
        );
    }

    #[test]
    fn cancelled_bookings_are_found() {
        let mut platform = synced();
        platform.change_in_rooms("b1", |b| b.state = BookingState::Cancelled);
        let found = platform.find_bookings(&[BookingKey::Uid("uid-1".into())]);
        assert_eq!(found[0].as_ref().unwrap().state, BookingState::Cancelled);
    }

    #[test]
    fn unlinked_items_lose_their_links_wherever_they_are() {
        let mut platform = synced();
        let mut two = imported("b2", "item-2", "uid-2");
        two.links
            .push(exchange_link("jane@contoso.com", "item-j", "uid-2"));
        platform.bookings.push(two);
        let mut page = Page::new(HOME);
        page.unlinked = vec![
            ItemRef {
                mailbox: "Room1@Contoso.com".into(),
                item_id: "item-1".into(),
            },
            ItemRef {
                mailbox: HOME.into(),
                item_id: "item-gone".into(),
            },
            ItemRef {
                mailbox: "jane@contoso.com".into(),
                item_id: "item-j".into(),
            },
        ];
        platform.commit(&page).unwrap();
        assert!(platform.stored("b1").unwrap().links.is_empty());
        assert_eq!(platform.stored("b2").unwrap().links.len(), 1);
        assert_eq!(
            platform.find_bookings(&[BookingKey::Item(ItemRef {
                mailbox: HOME.into(),
                item_id: "item-1".into(),
            })]),
            vec![None]
        );
        assert_eq!(
            platform.linked_items(HOME),
            vec![ItemRef {
                mailbox: HOME.into(),
                item_id: "item-2".into()
            }]
        );
        // The revision counters stay.
        assert_eq!(platform.stored("b1").unwrap().revision, 3);
    }

    #[test]
    fn conflicts_and_notices_are_appended_and_quarantine_follows_the_pages() {
        let mut platform = synced();
        let item = |id: &str| ItemRef {
            mailbox: HOME.into(),
            item_id: id.into(),
        };
        let conflict = Conflict {
            booking: "b1".into(),
            mailbox: HOME.into(),
            differences: vec![crate::booking::FieldDifference {
                field: "subject".into(),
                rooms: "A".into(),
                exchange: "B".into(),
            }],
            winner: ConflictWinner::Rooms,
            attempt: 1,
            at: 1_767_225_600,
        };
        let notice = Notice {
            booking: Some("b1".into()),
            recipient: "jane@contoso.com".into(),
            kind: NoticeKind::ConflictRolledBack,
            message: "Your change in Outlook was reset.".into(),
            at: 1_767_225_600,
        };
        let quarantined = |id: &str, reason: &str| Quarantined {
            item: item(id),
            subject: "Odd".into(),
            reason: reason.into(),
        };
        let mut first = Page::new(HOME);
        first.conflicts.push(conflict.clone());
        first.notices.push(notice.clone());
        first.quarantined = vec![quarantined("q1", "no start"), quarantined("q2", "no end")];
        platform.commit(&first).unwrap();

        let mut second = Page::new(HOME);
        second.conflicts.push(conflict.clone());
        second.released = vec![item("q1")];
        second.quarantined = vec![quarantined("q2", "still no end")];
        platform.commit(&second).unwrap();

        assert_eq!(platform.conflicts, vec![conflict.clone(), conflict]);
        assert_eq!(platform.notices, vec![notice]);
        assert_eq!(platform.quarantine, vec![quarantined("q2", "still no end")]);
    }

    #[test]
    fn wait_is_recorded_and_answers_as_told() {
        let mut platform = TestPlatform::new();
        assert!(platform.wait(HOME, 30_000));
        platform.wait_answer = false;
        assert!(!platform.wait("room2@contoso.com", 5));
        assert_eq!(
            *platform.waits.borrow(),
            vec![
                (HOME.to_owned(), 30_000),
                ("room2@contoso.com".to_owned(), 5)
            ]
        );
    }
}
