//! The memory rule of the component, measured: any answer under the 16 MiB
//! response cap is read and parsed within the component's default 64 MiB
//! memory, with margin.
//!
//! A counting global allocator records the live heap and its peak (a
//! reallocation counts as old and new block at once, as a copying allocator
//! would hold them). Each shape of hostile or huge answer is served to the
//! whole sync test (`check_person`), through the same body collection the
//! component uses ([`BodyBuffer`], fed in 64 KiB pieces as `wasi:http`
//! delivers them), with and without a `Content-Length`; the peak above the
//! heap before the call must stay under [`BUDGET`]. The answer's own bytes
//! are "on the network" and not counted; everything the component does with
//! them is.
//!
//! Native structures are larger than on wasm32 (8-byte pointers), so these
//! peaks overstate the component's. Run with `--nocapture` to see them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rooms_sync_guest::auth::token::{AccessToken, Secret};
use rooms_sync_guest::body::{BodyBuffer, MAX_RESPONSE_BYTES};
use rooms_sync_guest::booking::{Booking, BookingKey, CommitError, ItemRef, Page};
use rooms_sync_guest::config::keys;
use rooms_sync_guest::diagnostics::{self, Check};
use rooms_sync_guest::platform::{
    CachedToken, CertificateError, ConfigReadError, ConflictBehaviour, HttpRequest, HttpResponse,
    Level, Person, Platform, SecretError, Signature, SyncMode, TransportError, TransportKind,
};
use rooms_sync_guest::safe_text;

/// The most heap one sync test may take above what it started with.
const BUDGET: usize = 40 << 20;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is passed on to `System` unchanged; only counters are
// updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            grew(layout.size());
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Old and new block, as while a copy is made.
        PEAK.fetch_max(LIVE.load(Ordering::SeqCst) + new_size, Ordering::SeqCst);
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time: the counters are global.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result and the peak heap above the start.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    let result = f();
    (result, PEAK.load(Ordering::SeqCst).saturating_sub(start))
}

const MAILBOX: &str = "room1@contoso.com";
const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const GET_FOLDER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/ews-derived/getfolder-calendar-impersonation-response.xml"
));
const ATTACK: &str = "\x1b]0;pwned\x07\x1b[2J\n[ OK ] forged";

/// Just under the response cap, with room for an envelope around a filler.
const SIZE: usize = MAX_RESPONSE_BYTES - 1024;

/// A host that answers every request with the next of its answers, handing
/// the body over in 64 KiB pieces.
struct Host {
    answers: Vec<(u16, &'static str, Vec<u8>)>,
    next: usize,
    content_length: bool,
    token_cached: bool,
}

impl Platform for Host {
    fn http(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let Some((status, media, body)) = self.answers.get(self.next) else {
            return Err(TransportError {
                kind: TransportKind::Connection,
                detail: format!("{}: no answer left", request.url),
            });
        };
        self.next += 1;
        let mut headers = vec![("content-type".to_owned(), (*media).to_owned())];
        if self.content_length {
            headers.push(("content-length".to_owned(), body.len().to_string()));
        }
        let mut buffer = BodyBuffer::new(
            MAX_RESPONSE_BYTES,
            headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.as_str()),
        );
        for piece in body.chunks(64 << 10) {
            // `wasi:http` hands each piece over as a vector of its own.
            let piece = piece.to_vec();
            buffer.push(&piece).map_err(|_| TransportError {
                kind: TransportKind::ResponseTooLarge,
                detail: "too large".into(),
            })?;
        }
        Ok(HttpResponse {
            status: *status,
            headers,
            body: buffer.finish(),
        })
    }

    fn config(&self, key: &str) -> Result<Option<String>, ConfigReadError> {
        Ok(match key {
            keys::TENANT_ID => Some("contoso.onmicrosoft.com".into()),
            keys::APP_ID => Some("00001111-aaaa-2222-bbbb-3333cccc4444".into()),
            _ => None,
        })
    }

    fn reveal(&self, name: &str) -> Result<Secret, SecretError> {
        match name {
            keys::CLIENT_SECRET => Ok(Secret::new("secret")),
            _ => Err(SecretError::NotFound),
        }
    }

    fn sign_rs256(&self, thumbprint: &str, _: &[u8]) -> Result<Signature, CertificateError> {
        Err(CertificateError::NotFound(thumbprint.into()))
    }

    fn cache_get(&self, _: &str) -> Option<CachedToken> {
        self.token_cached.then(|| CachedToken {
            access_token: AccessToken::new("cached"),
            expires_at: self.now_unix() + 3000,
            refresh_token: None,
        })
    }

    fn cache_put(&mut self, _: &str, _: &CachedToken) {}

    fn cache_remove(&mut self, _: &str) {}

    fn log(&self, _: Level, message: &str) {
        // What the component's log import does with a line.
        let _ = safe_text::message(message);
    }

    fn person(&self, email: &str) -> Option<Person> {
        email.eq_ignore_ascii_case(MAILBOX).then(|| Person {
            email: MAILBOX.into(),
            sync_mode: SyncMode::O365Pull,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: true,
            sync_master: false,
        })
    }

    // The sync test never touches the ROOMS store or the pacing.
    fn sync_state(&self, _: &str) -> Option<String> {
        None
    }

    fn pending_changes(&self, _: &str, _: u32) -> Vec<Booking> {
        Vec::new()
    }

    fn find_bookings(&self, keys: &[BookingKey]) -> Vec<Option<Booking>> {
        vec![None; keys.len()]
    }

    fn linked_items(&self, _: &str) -> Vec<ItemRef> {
        Vec::new()
    }

    fn commit(&mut self, _: &Page) -> Result<(), CommitError> {
        Ok(())
    }

    fn find_subscription(&self, _: &str) -> Option<rooms_sync_guest::platform::Subscription> {
        None
    }

    fn wait(&mut self, _: &str, _: u64) -> bool {
        true
    }

    fn now_unix(&self) -> u64 {
        1_767_225_600
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        vec![7; n]
    }
}

/// `text` repeated to `size` bytes (whole repetitions).
fn fill(text: &str, size: usize) -> String {
    text.repeat(size / text.len())
}

/// A GetFolder answer whose calendar folder holds `inside` after its id.
fn get_folder(inside: &str) -> Vec<u8> {
    format!(
        r#"<s:Envelope xmlns:s="{SOAP}"><s:Body><m:GetFolderResponse xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:CalendarFolder><t:FolderId Id="AAMk"/>{inside}</t:CalendarFolder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#
    )
    .into_bytes()
}

fn fault(code: &str, text: &str, padding: &str) -> Vec<u8> {
    format!(
        r#"<s:Envelope xmlns:s="{SOAP}">{padding}<s:Body><s:Fault><faultcode xmlns:a="{TYPES}">a:{code}</faultcode><faultstring xml:lang="en-US">{text}</faultstring></s:Fault></s:Body></s:Envelope>"#
    )
    .into_bytes()
}

/// The fixture with whitespace and comments after every tag, to `size`.
fn padded_get_folder(size: usize) -> Vec<u8> {
    let gaps = GET_FOLDER.matches('>').count();
    let pad = fill(
        " \r\n\t<!-- padding -->\n ",
        (size - GET_FOLDER.len()) / gaps,
    );
    GET_FOLDER.replace('>', &format!(">{pad}")).into_bytes()
}

fn token(access_token_len: usize) -> Vec<u8> {
    format!(
        r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{}"}}"#,
        "e".repeat(access_token_len)
    )
    .into_bytes()
}

/// What the sync test must say about a shape.
enum Expect {
    /// The calendar check is green.
    Green,
    /// `check` is red with a message holding this.
    Red(usize, &'static str),
}

struct Shape {
    name: &'static str,
    answers: Vec<(u16, &'static str, Vec<u8>)>,
    token_cached: bool,
    expect: Expect,
}

/// The `ResolveNames` answer that makes [`MAILBOX`] its mailbox's primary
/// address.
fn resolved() -> Vec<u8> {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>Room 1</t:Name><t:EmailAddress>{MAILBOX}</t:EmailAddress><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#
    )
    .into_bytes()
}

fn shapes() -> Vec<Shape> {
    let xml = "text/xml; charset=utf-8";
    // The sync test resolves the address first (`configuration`), then
    // reads the calendar (`calendar-access`, check 2), which gets the shape.
    let ews = |name, status, body: Vec<u8>, expect| Shape {
        name,
        answers: vec![(200, xml, resolved()), (status, xml, body)],
        token_cached: true,
        expect,
    };
    let wrap = |inside: String| get_folder(&inside);
    let huge_text = SIZE - get_folder("<t:DisplayName></t:DisplayName>").len();
    vec![
        ews(
            "one huge text node",
            200,
            wrap(format!(
                "<t:DisplayName>{}</t:DisplayName>",
                fill("a", huge_text)
            )),
            Expect::Red(2, "text of <DisplayName> is longer than 4194304 bytes"),
        ),
        ews(
            "one huge text node of CRLF lines",
            200,
            wrap(format!(
                "<t:DisplayName>{}</t:DisplayName>",
                fill("Kalender\r\n", huge_text)
            )),
            Expect::Red(2, "text of <DisplayName> is longer than 4194304 bytes"),
        ),
        ews(
            "one huge faultstring",
            500,
            fault(
                "ErrorAccessDenied",
                &format!("{ATTACK}{}", fill("A", SIZE - 400)),
                "",
            ),
            Expect::Red(2, "text of <faultstring> is longer"),
        ),
        ews(
            "a 4 MiB faultstring, padded to 16 MiB",
            500,
            fault(
                "ErrorAccessDenied",
                &format!("{ATTACK}{}", fill("A", (4 << 20) - 100)),
                &fill(" ", SIZE - (4 << 20)),
            ),
            Expect::Red(2, "ErrorAccessDenied (]0;pwned [2J [ OK ] forgedAAAA"),
        ),
        ews(
            "many small elements",
            200,
            wrap(fill("<t:Read>true</t:Read>", SIZE - 1000)),
            Expect::Red(2, "more than 16 MiB of memory as a tree"),
        ),
        ews(
            "many empty elements",
            200,
            wrap(fill("<t:X/>", SIZE - 1000)),
            Expect::Red(2, "more than 16 MiB of memory as a tree"),
        ),
        ews(
            "many elements of unknown namespaces",
            200,
            wrap(fill(
                r#"<u:X xmlns:u="urn:example:a-namespace-nobody-knows-of"/>"#,
                SIZE - 1000,
            )),
            Expect::Red(2, "more than 16 MiB of memory as a tree"),
        ),
        ews(
            "many long attribute values",
            200,
            wrap(fill(
                &format!(r#"<t:X Id="{}"/>"#, fill("v", 60 << 10)),
                SIZE - 1000,
            )),
            Expect::Red(2, "more than 16 MiB of memory as a tree"),
        ),
        ews(
            "one namespace URI of 16 MiB",
            200,
            wrap(format!(
                r#"<u:X xmlns:u="{}"/>"#,
                fill("u", SIZE - get_folder("").len() - 100)
            )),
            Expect::Red(2, "the namespace URI of <X> is longer than 65536 bytes"),
        ),
        ews(
            "40 000 elements (a tree near its cap), padded",
            200,
            wrap(format!(
                "{}{}",
                "<t:DisplayName>Calendar</t:DisplayName>",
                format!("<t:Other>1</t:Other>{}", fill(" ", 380)).repeat(40_000)
            )),
            Expect::Red(2, "without its effective rights"),
        ),
        ews(
            "a valid GetFolder padded with whitespace and comments",
            200,
            padded_get_folder(SIZE),
            Expect::Green,
        ),
        Shape {
            name: "a token answer with a 16 MiB access_token",
            answers: vec![(200, "application/json", token(SIZE - 100))],
            token_cached: false,
            expect: Expect::Red(1, "rooms-sync reads at most 1024 KiB"),
        },
    ]
}

#[test]
fn every_answer_under_the_response_cap_is_read_and_parsed_within_the_budget() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = Vec::new();
    for shape in shapes() {
        // The shape is the last answer; a resolved address may come first.
        if let Some(answer) = shape.answers.last() {
            assert!(answer.2.len() <= MAX_RESPONSE_BYTES, "{}", shape.name);
            assert!(
                answer.2.len() > MAX_RESPONSE_BYTES - (1 << 20),
                "{}",
                shape.name
            );
        }
        for content_length in [true, false] {
            let mut host = Host {
                answers: shape.answers.clone(),
                next: 0,
                content_length,
                token_cached: shape.token_cached,
            };
            let (checks, peak) = peak_of(|| {
                diagnostics::check_person(&mut host, MAILBOX)
                    .unwrap()
                    .into_iter()
                    .map(Check::sanitized)
                    .collect::<Vec<_>>()
            });
            let how = if content_length {
                "with Content-Length"
            } else {
                "without Content-Length"
            };
            report.push(format!(
                "{:>6.1} MiB  {} ({how})",
                peak as f64 / f64::from(1 << 20),
                shape.name
            ));
            match shape.expect {
                Expect::Green => assert!(checks[2].ok, "{}: {:?}", shape.name, checks[2]),
                Expect::Red(index, needle) => {
                    let check = &checks[index];
                    assert!(!check.ok, "{}", shape.name);
                    assert!(
                        check.message.contains(needle),
                        "{}: {}",
                        shape.name,
                        check.message
                    );
                }
            }
            for check in &checks {
                assert!(safe_text::is_clean(&check.message), "{}", shape.name);
                assert!(check.message.chars().count() <= safe_text::MESSAGE_MAX_CHARS);
            }
            assert!(
                peak < BUDGET,
                "{} ({how}): peak {peak} bytes, budget {BUDGET}",
                shape.name
            );
        }
    }
    println!("peak heap of one sync test, above its start:");
    for line in report {
        println!("{line}");
    }
}

#[test]
fn a_body_of_unknown_length_peaks_at_twice_its_size_and_a_known_one_at_its_size() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let body = vec![b'x'; SIZE];
    for (content_length, most) in [(Some(SIZE.to_string()), 1.01), (None, 2.05)] {
        let (collected, peak) = peak_of(|| {
            let mut buffer = BodyBuffer::new(MAX_RESPONSE_BYTES, content_length.as_deref());
            for piece in body.chunks(64 << 10) {
                // As `wasi:http` hands it over: a vector of its own.
                let piece = piece.to_vec();
                buffer.push(&piece).unwrap();
            }
            buffer.finish()
        });
        assert_eq!(collected.len(), SIZE);
        let ratio = peak as f64 / SIZE as f64;
        println!(
            "collecting {SIZE} bytes, Content-Length {content_length:?}: peak {ratio:.3} × the body"
        );
        assert!(ratio <= most, "{ratio} for {content_length:?}");
    }
}
