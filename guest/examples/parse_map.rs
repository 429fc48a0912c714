//! The guest's parse-and-map hot path as a plain program, for `make bench`
//! ("guest code, wasm vs native"): the same source runs natively and as a
//! WASI command component (`--target wasm32-wasip2 --profile release-wasm`).
//!
//! It builds two answers in memory, once, outside the timing: a
//! `SyncFolderItems` page of 512 changes (`IdOnly`, a Create/Update/Delete
//! mix) and a `GetItem` answer of 100 calendar items (the series item of
//! `tests/fixtures/ews-derived/getitem-calendar-series-partial-response.xml`
//! with distinct ids). One iteration reads the first envelope into its page
//! and the second into `CalendarItem`s, each mapped to booking fields
//! (`remote_item` + `map_item`, with a fresh `Directory`).
//!
//! Usage: `parse_map [WARMUP] [N]` (default 20 and 200). Prints one line
//! `parse_map_ns <n>` per timed iteration and a final `checksum <n>` line, so
//! that the work cannot be optimised away.

use std::hint::black_box;
use std::time::Instant;

use rooms_sync_guest::auth::token::Secret;
use rooms_sync_guest::booking::{Booking, BookingKey, CommitError, ItemRef, Page};
use rooms_sync_guest::ews::Access;
use rooms_sync_guest::ews::get_item;
use rooms_sync_guest::ews::response::{Content, read_envelope, response_messages};
use rooms_sync_guest::ews::sync_folder_items::{self, Change};
use rooms_sync_guest::platform::{
    CachedToken, CertificateError, ConfigReadError, ConflictBehaviour, HttpRequest, HttpResponse,
    Level, Person, Platform, SecretError, Signature, SyncMode, TransportError, TransportKind,
};
use rooms_sync_guest::sync::ews_transport::remote_item;
use rooms_sync_guest::sync::mapping::{Directory, map_item};

const MAILBOX: &str = "alice@contoso.com";
const CHANGES: usize = 512;
const ITEMS: usize = 100;

const NS: &str = "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" \
                  xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"";

fn envelope(body: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <s:Header>\n    \
         <h:ServerVersionInfo xmlns:h=\"http://schemas.microsoft.com/exchange/services/2006/types\" \
         xmlns=\"http://schemas.microsoft.com/exchange/services/2006/types\" MajorVersion=\"15\" \
         MinorVersion=\"20\" MajorBuildNumber=\"8769\" MinorBuildNumber=\"35\" Version=\"V2018_01_08\"/>\n  \
         </s:Header>\n  <s:Body xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n{body}  </s:Body>\n</s:Envelope>\n"
    )
    .into_bytes()
}

/// A `SyncFolderItems` answer with [`CHANGES`] changes: 3 in 5 Create, 1 in 5
/// Update, 1 in 5 Delete, as Exchange answers an `IdOnly` request.
fn sync_answer() -> Vec<u8> {
    let mut changes = String::new();
    for i in 0..CHANGES {
        let id = format!("AAMkAGI2TG93AAA{i:05}AAAAAAENAAB1YXBCMjQ1NzgAAA==");
        let key = format!("DwAAABYAAAAAAAAAAAAAGw{i:05}AAI=");
        let change = match i % 5 {
            0..=2 => "Create",
            3 => "Update",
            _ => "",
        };
        if change.is_empty() {
            changes.push_str(&format!(
                "            <t:Delete>\n              <t:ItemId Id=\"{id}\" ChangeKey=\"{key}\"/>\n            </t:Delete>\n"
            ));
        } else {
            changes.push_str(&format!(
                "            <t:{change}>\n              <t:CalendarItem>\n                \
                 <t:ItemId Id=\"{id}\" ChangeKey=\"{key}\"/>\n              </t:CalendarItem>\n            \
                 </t:{change}>\n"
            ));
        }
    }
    envelope(&format!(
        "    <m:SyncFolderItemsResponse {NS}>\n      <m:ResponseMessages>\n        \
         <m:SyncFolderItemsResponseMessage ResponseClass=\"Success\">\n          \
         <m:ResponseCode>NoError</m:ResponseCode>\n          \
         <m:SyncState>H4sIAAAAAAAEAO29B2AcSZYlJi9tynt/SvVK1+B0oNQEAAAAAAAAA==</m:SyncState>\n          \
         <m:IncludesLastItemInRange>false</m:IncludesLastItemInRange>\n          <m:Changes>\n\
         {changes}          </m:Changes>\n        </m:SyncFolderItemsResponseMessage>\n      \
         </m:ResponseMessages>\n    </m:SyncFolderItemsResponse>\n"
    ))
}

/// One `GetItem` response message holding the series item of the
/// `getitem-calendar-series-partial-response.xml` fixture, with ids made
/// distinct by `i`.
fn get_item_message(i: usize) -> String {
    format!(
        r#"        <m:GetItemResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Items>
            <t:CalendarItem>
              <t:ItemId Id="AAMkAAF8M7Lm65gTSAAAAAAAAAACXlp{i:05}HAUxhRQQ==" ChangeKey="DwAAABYAAAAAAAAAAAAAGwAAAAI="/>
              <t:Subject>Plan &lt;Q1&gt; &amp; &quot;budget&quot; 'now' #{i}</t:Subject>
              <t:Sensitivity>Private</t:Sensitivity>
              <t:ReminderIsSet>true</t:ReminderIsSet>
              <t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart>
              <t:ExtendedProperty>
                <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/>
                <t:Value>B-weekly-{i}</t:Value>
              </t:ExtendedProperty>
              <t:UID>040000008200E00074C5B7101A82E00800000000F45999403D4BAF42D74DD8318DA{i:05}</t:UID>
              <t:Start>2026-01-05T08:00:00Z</t:Start>
              <t:End>2026-01-05T09:00:00Z</t:End>
              <t:IsAllDayEvent>false</t:IsAllDayEvent>
              <t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>
              <t:IsCancelled>false</t:IsCancelled>
              <t:CalendarItemType>RecurringMaster</t:CalendarItemType>
              <t:MyResponseType>Organizer</t:MyResponseType>
              <t:Organizer>
                <t:Mailbox>
                  <t:Name>Alice Smith</t:Name>
                  <t:EmailAddress>alice@contoso.com</t:EmailAddress>
                  <t:RoutingType>SMTP</t:RoutingType>
                </t:Mailbox>
              </t:Organizer>
              <t:RequiredAttendees>
                <t:Attendee>
                  <t:Mailbox>
                    <t:Name>bob@contoso.com</t:Name>
                    <t:EmailAddress>bob@contoso.com</t:EmailAddress>
                    <t:RoutingType>SMTP</t:RoutingType>
                  </t:Mailbox>
                  <t:ResponseType>Unknown</t:ResponseType>
                </t:Attendee>
              </t:RequiredAttendees>
              <t:OptionalAttendees>
                <t:Attendee>
                  <t:Mailbox>
                    <t:Name>carol@contoso.com</t:Name>
                    <t:EmailAddress>carol@contoso.com</t:EmailAddress>
                    <t:RoutingType>SMTP</t:RoutingType>
                  </t:Mailbox>
                  <t:ResponseType>Unknown</t:ResponseType>
                </t:Attendee>
              </t:OptionalAttendees>
              <t:Resources>
                <t:Attendee>
                  <t:Mailbox>
                    <t:Name>room-berlin@contoso.com</t:Name>
                    <t:EmailAddress>room-berlin@contoso.com</t:EmailAddress>
                    <t:RoutingType>SMTP</t:RoutingType>
                  </t:Mailbox>
                  <t:ResponseType>Accept</t:ResponseType>
                  <t:LastResponseTime>2026-01-02T10:15:00Z</t:LastResponseTime>
                </t:Attendee>
              </t:Resources>
              <t:Recurrence>
                <t:WeeklyRecurrence>
                  <t:Interval>1</t:Interval>
                  <t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>
                  <t:FirstDayOfWeek>Monday</t:FirstDayOfWeek>
                </t:WeeklyRecurrence>
                <t:NumberedRecurrence>
                  <t:StartDate>2026-01-05+01:00</t:StartDate>
                  <t:NumberOfOccurrences>10</t:NumberOfOccurrences>
                </t:NumberedRecurrence>
              </t:Recurrence>
              <t:ModifiedOccurrences>
                <t:Occurrence>
                  <t:ItemId Id="AAMkAAJ8M7Lm65gTSAAAAAAAAAACAAAAAGleEoBb12/GGtC{i:05}" ChangeKey="DwAAABYAAAAAAAAAAAAAGwAAAAI="/>
                  <t:Start>2026-01-07T08:30:00Z</t:Start>
                  <t:End>2026-01-07T09:30:00Z</t:End>
                  <t:OriginalStart>2026-01-07T08:00:00Z</t:OriginalStart>
                </t:Occurrence>
              </t:ModifiedOccurrences>
              <t:DeletedOccurrences>
                <t:DeletedOccurrence>
                  <t:Start>2026-01-12T08:00:00Z</t:Start>
                </t:DeletedOccurrence>
              </t:DeletedOccurrences>
              <t:StartTimeZone Id="W. Europe Standard Time"/>
            </t:CalendarItem>
          </m:Items>
        </m:GetItemResponseMessage>
"#
    )
}

fn get_item_answer() -> Vec<u8> {
    let messages: String = (0..ITEMS).map(get_item_message).collect();
    envelope(&format!(
        "    <m:GetItemResponse {NS}>\n      <m:ResponseMessages>\n{messages}      \
         </m:ResponseMessages>\n    </m:GetItemResponse>\n"
    ))
}

/// The host as the mapping sees it. Only [`Platform::person`] is used (by
/// `Directory`, from `map_item`); every other method is unreachable here and
/// answers an error or nothing.
struct Host {
    persons: Vec<Person>,
}

impl Host {
    fn new() -> Host {
        let person = |email: &str, room: bool| Person {
            email: email.to_owned(),
            sync_mode: SyncMode::O365Pull,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room,
            sync_master: room,
        };
        Host {
            persons: vec![
                person("alice@contoso.com", false),
                person("room-berlin@contoso.com", true),
            ],
        }
    }
}

impl Platform for Host {
    fn http(&mut self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError {
            kind: TransportKind::Denied,
            detail: "no HTTP in the parse_map example".into(),
        })
    }
    fn config(&self, _: &str) -> Result<Option<String>, ConfigReadError> {
        Ok(None)
    }
    fn reveal(&self, _: &str) -> Result<Secret, SecretError> {
        Err(SecretError::NotFound)
    }
    fn sign_rs256(&self, thumbprint: &str, _: &[u8]) -> Result<Signature, CertificateError> {
        Err(CertificateError::NotFound(thumbprint.to_owned()))
    }
    fn cache_get(&self, _: &str) -> Option<CachedToken> {
        None
    }
    fn cache_put(&mut self, _: &str, _: &CachedToken) {}
    fn cache_remove(&mut self, _: &str) {}
    fn log(&self, _: Level, _: &str) {}
    fn person(&self, email: &str) -> Option<Person> {
        self.persons
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(email))
            .cloned()
    }
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
        false
    }
    fn now_unix(&self) -> u64 {
        0
    }
    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        vec![0; n]
    }
}

/// The single response message of `op` in `bytes`.
fn messages(bytes: &[u8], op: &str) -> Vec<rooms_sync_guest::ews::response::ResponseMessage> {
    let envelope = read_envelope(bytes).expect("the answer is a SOAP envelope");
    let Content::Response(response) = envelope.content else {
        panic!("the answer is a fault");
    };
    response_messages(response, op).expect("the answer holds response messages")
}

/// One iteration: both answers read and mapped; returns a checksum.
fn iteration(host: &Host, access: &Access, sync: &[u8], get: &[u8]) -> u64 {
    let mut sum = 0u64;
    let sync_messages = messages(sync, sync_folder_items::NAME);
    let page = sync_folder_items::parse_page(&sync_messages[0]).expect("the page parses");
    for change in &page.changes {
        sum += match change {
            Change::Create { item_id, .. } => item_id.len() as u64,
            Change::Update { change_key, .. } => 2 * change_key.len() as u64,
            Change::Delete { item_id } => 3 * item_id.len() as u64,
        };
    }
    sum += page.state.len() as u64;

    let mut directory = Directory::default();
    for message in messages(get, get_item::NAME) {
        let item = get_item::read_result(&message, MAILBOX, access)
            .expect("no batch failure")
            .expect("the item parses");
        let mapped = map_item(host, &mut directory, &remote_item(item), MAILBOX, None);
        sum += mapped.fields.rooms.len() as u64
            + mapped.fields.attendees.len() as u64
            + mapped.fields.subject.len() as u64
            + mapped.fields.start as u64;
    }
    sum
}

fn main() {
    let mut args = std::env::args().skip(1);
    let warmup: usize = args.next().map_or(20, |a| a.parse().expect("WARMUP"));
    let n: usize = args.next().map_or(200, |a| a.parse().expect("N"));

    let sync = sync_answer();
    let get = get_item_answer();
    let host = Host::new();
    let access = Access::AppOnly {
        app_id: "00000000-0000-0000-0000-000000000000".into(),
    };

    let mut checksum = 0u64;
    let mut out = String::with_capacity(n * 24);
    for i in 0..warmup + n {
        let started = Instant::now();
        let sum = iteration(&host, &access, black_box(&sync), black_box(&get));
        let ns = started.elapsed().as_nanos();
        checksum = checksum.wrapping_add(black_box(sum));
        if i >= warmup {
            out.push_str(&format!("parse_map_ns {ns}\n"));
        }
    }
    out.push_str(&format!(
        "checksum {checksum} sync_bytes {} get_item_bytes {}\n",
        sync.len(),
        get.len()
    ));
    print!("{out}");
}
