//! An in-memory [`Platform`] for unit tests.
//!
//! It holds settings, secrets, persons, stored change subscriptions, the
//! token cache and a fixed clock, records every request, signature, log
//! line, subscription lookup and wait, and has no network: every HTTP request is recorded and then answered with the next of the
//! `answers` a test queued, or, when there is none, fails as a transport
//! error. Flows that need real answers from Entra ID or Exchange are tested
//! end to end against the emulator; the queued answers serve tests of what
//! the component makes of one hostile or odd answer.
//!
//! It has no ROOMS booking store (reads find nothing, a commit fails): the
//! sync engine's work with the store is tested end to end against the host's
//! `rooms.db`, which is the implementation of `wit/rooms.wit` that counts.
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
use std::collections::{HashMap, VecDeque};

use crate::auth::token::Secret;
use crate::auth::{AuthContext, form};
use crate::booking::{Booking, BookingKey, CommitError, ItemRef, Page};
use crate::config::{RawSettings, Settings, keys};
use crate::ews::Access;
use crate::platform::{
    CachedToken, CertificateError, ConfigReadError, HttpRequest, HttpResponse, Level, Person,
    Platform, SecretError, Signature, Subscription, TransportError, TransportKind,
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
    /// The host's stored change subscriptions (`find_subscription`).
    pub subscriptions: Vec<Subscription>,
    /// Every `find_subscription` lookup, by id.
    pub subscription_lookups: RefCell<Vec<String>>,
    /// The clock.
    pub now: u64,
    /// Every HTTP request sent.
    pub requests: Vec<HttpRequest>,
    /// Answers to the next requests, in order.
    pub answers: VecDeque<HttpResponse>,
    /// Every log line.
    pub logs: RefCell<Vec<(Level, String)>>,
    /// Every `wait`: (mailbox, milliseconds).
    pub waits: RefCell<Vec<(String, u64)>>,
    /// What `wait` answers: true (waited, the default) or false (the wait
    /// would pass the call's deadline).
    pub wait_answer: bool,
    /// Probe subscriptions stored (`record_probe`): (id, mailbox), in order;
    /// a dropped probe stays listed and is also in `dropped_probes`.
    pub probes: Vec<(String, String)>,
    /// Whether `record_probe` succeeds (true by default).
    pub probe_store_works: bool,
    /// After how many `probe_delivered` questions it answers true; none:
    /// never.
    pub probe_delivered_after: Option<u32>,
    /// Every `probe_delivered` question, by id.
    pub probe_questions: RefCell<Vec<String>>,
    /// Every `drop_probe`, by id.
    pub dropped_probes: Vec<String>,
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
            subscriptions: Vec::new(),
            subscription_lookups: RefCell::new(Vec::new()),
            now: 1_767_225_600,
            requests: Vec::new(),
            answers: VecDeque::new(),
            logs: RefCell::new(Vec::new()),
            waits: RefCell::new(Vec::new()),
            wait_answer: true,
            probes: Vec::new(),
            probe_store_works: true,
            probe_delivered_after: None,
            probe_questions: RefCell::new(Vec::new()),
            dropped_probes: Vec::new(),
            random_counter: 0,
        }
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

/// A platform whose settings store holds tenant `contoso.onmicrosoft.com`,
/// [`APP_ID`] and the keys of one sign-in mode: app-only with a client
/// secret, or delegated as the service user `svc-rooms@contoso.com`.
pub fn configured(delegated: bool) -> TestPlatform {
    let mut platform = TestPlatform::new();
    platform
        .config
        .insert(keys::TENANT_ID.into(), "contoso.onmicrosoft.com".into());
    platform.config.insert(keys::APP_ID.into(), APP_ID.into());
    if delegated {
        platform
            .config
            .insert(keys::USE_IMPERSONATION.into(), "false".into());
        platform
            .config
            .insert(keys::SERVICE_USER.into(), "svc-rooms@contoso.com".into());
        platform
            .secrets
            .insert(keys::SERVICE_PASSWORD.into(), "pw".into());
    } else {
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "secret".into());
    }
    platform
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

    // No booking store: the engine's work with the store is tested end to
    // end against the host's rooms.db (tests/integration/tests/sync_*.rs);
    // the unit tests here need persons, waits and the clock only.

    fn sync_state(&self, _mailbox: &str) -> Option<String> {
        None
    }

    fn pending_changes(&self, _mailbox: &str, _limit: u32) -> Vec<Booking> {
        Vec::new()
    }

    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>> {
        vec![None; keys.len()]
    }

    fn linked_items(&self, _mailbox: &str) -> Vec<ItemRef> {
        Vec::new()
    }

    fn commit(&mut self, _page: &Page) -> Result<(), CommitError> {
        Err(CommitError::Store(
            "unit tests have no booking store".into(),
        ))
    }

    fn find_subscription(&self, id: &str) -> Option<Subscription> {
        self.subscription_lookups.borrow_mut().push(id.to_owned());
        self.subscriptions.iter().find(|s| s.id == id).cloned()
    }

    fn record_probe(&mut self, id: &str, mailbox: &str) -> bool {
        if self.probe_store_works {
            self.probes.push((id.to_owned(), mailbox.to_owned()));
        }
        self.probe_store_works
    }

    fn probe_delivered(&self, id: &str) -> bool {
        let mut questions = self.probe_questions.borrow_mut();
        questions.push(id.to_owned());
        self.probe_delivered_after
            .is_some_and(|after| questions.len() as u32 > after)
    }

    fn drop_probe(&mut self, id: &str) {
        self.dropped_probes.push(id.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_recorded_and_answers_as_told() {
        let mut platform = TestPlatform::new();
        assert!(platform.wait("alice@contoso.com", 30_000));
        platform.wait_answer = false;
        assert!(!platform.wait("room2@contoso.com", 5));
        assert_eq!(
            *platform.waits.borrow(),
            vec![
                ("alice@contoso.com".to_owned(), 30_000),
                ("room2@contoso.com".to_owned(), 5)
            ]
        );
    }
}
