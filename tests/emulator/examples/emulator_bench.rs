//! Scale check of the emulator's calendar store: what one request costs the emulator when a
//! mailbox holds 50,000 calendar items, and how the store copes with 1,000 mailboxes.
//!
//! Run with `cargo run --release -p exo-emulator --example emulator_bench`. It prints figures
//! (and ratios against a 500-item mailbox); it asserts nothing about time.
//!
//! Measured over loopback HTTP (a fresh connection per request, token in hand, so the figures
//! include HTTP, SOAP parsing, the store and XML writing — the emulator's whole cost per
//! request):
//! - a 512-change `SyncFolderItems` page, walking the whole 50,000-item calendar;
//! - a 100-item `GetItem` (`Default` shape);
//! - a one-week `CalendarView`.
//!
//! Measured on the store directly: filling 1,000 mailboxes and resolving ids and sync pages in
//! them.

use std::time::{Duration, Instant};

use exo_emulator::calendar::item::{CalendarItem, FolderKind, Item, ItemKind};
use exo_emulator::client::{form, send};
use exo_emulator::{Emulator, RunningEmulator, Seed};
use jiff::{SignedDuration, Timestamp};

const BIG: &str = "room-berlin@contoso.com";
const SMALL: &str = "room-hamburg@contoso.com";
const SECRET_APP: &str = "5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70";
const SECRET: &str = "demo-only-client-secret~not-for-production";

async fn token(emu: &RunningEmulator) -> String {
    let scope = format!("{}/.default", emu.ews_resource());
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", SECRET_APP),
        ("client_secret", SECRET),
        ("scope", &scope),
    ]);
    let answer = send(
        "POST",
        &emu.token_endpoint("contoso.com"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .await
    .expect("the token endpoint answers");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("token JSON");
    json["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

async fn ews(emu: &RunningEmulator, token: &str, mailbox: &str, body: &str) -> String {
    let xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#
    );
    let auth = format!("Bearer {token}");
    let answer = send(
        "POST",
        &emu.ews_url(),
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Authorization", &auth),
        ],
        xml.as_bytes(),
    )
    .await
    .expect("EWS answers");
    let text = answer.text();
    assert_eq!(answer.status, 200, "{text}");
    text
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

fn ids(text: &str) -> Vec<String> {
    text.split("<t:ItemId Id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Puts `count` hour-long appointments, one per hour, into a mailbox's calendar.
fn populate(emu: &RunningEmulator, mailbox: &str, count: usize) -> Duration {
    let base: Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
    let now = emu.now();
    let started = Instant::now();
    emu.with_state(|state| {
        let mb = state.calendar.mailbox_mut(mailbox);
        for i in 0..count {
            let start = base
                .checked_add(SignedDuration::from_hours(i as i64))
                .expect("in range");
            let end = start
                .checked_add(SignedDuration::from_mins(60))
                .expect("in range");
            let mut item = Item::new(ItemKind::Calendar(CalendarItem::new(start, end)));
            item.subject = format!("Booking {i}");
            mb.insert(FolderKind::Calendar, item, now);
        }
    });
    started.elapsed()
}

fn stats(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len().max(1) as f64;
    (
        mean,
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
    )
}

async fn sync_walk(
    emu: &RunningEmulator,
    token: &str,
    mailbox: &str,
) -> (Vec<Duration>, usize, usize) {
    let mut state: Option<String> = None;
    let mut times = Vec::new();
    let mut changes = 0;
    let mut bytes = 0;
    loop {
        let state_xml = state
            .as_ref()
            .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
            .unwrap_or_default();
        let body = format!(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:End"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId>{state_xml}<m:MaxChangesReturned>512</m:MaxChangesReturned></m:SyncFolderItems>"#
        );
        let started = Instant::now();
        let answer = ews(emu, token, mailbox, &body).await;
        times.push(started.elapsed());
        bytes = bytes.max(answer.len());
        changes += answer.matches("<t:Create>").count();
        state = between(&answer, "<m:SyncState>", "</m:SyncState>").map(str::to_owned);
        if answer.contains("<m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>") {
            break;
        }
    }
    (times, changes, bytes)
}

async fn get_items(
    emu: &RunningEmulator,
    token: &str,
    mailbox: &str,
    ids: &[String],
    rounds: usize,
) -> Vec<Duration> {
    let id_xml: String = ids
        .iter()
        .map(|id| format!(r#"<t:ItemId Id="{id}"/>"#))
        .collect();
    let body = format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds>{id_xml}</m:ItemIds></m:GetItem>"#
    );
    let mut times = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let answer = ews(emu, token, mailbox, &body).await;
        times.push(started.elapsed());
        assert_eq!(
            answer.matches("ResponseClass=\"Success\"").count(),
            ids.len(),
            "GetItem failed: {}",
            &answer[..answer.len().min(2000)]
        );
    }
    times
}

#[tokio::main]
async fn main() {
    let seed =
        Seed::load(format!("{}/seeds/demo.toml", env!("CARGO_MANIFEST_DIR"))).expect("demo seed");
    let emu = Emulator::start(seed, "127.0.0.1:0".parse().expect("address"))
        .await
        .expect("emulator starts");
    let token = token(&emu).await;
    println!("exo-emulator calendar scale check (release build recommended)\n");

    let fill_big = populate(&emu, BIG, 50_000);
    let fill_small = populate(&emu, SMALL, 500);
    println!(
        "populate 50,000 items: {:.1} ms ({:.2} µs/item); 500 items: {:.1} ms",
        fill_big.as_secs_f64() * 1e3,
        fill_big.as_secs_f64() * 1e6 / 50_000.0,
        fill_small.as_secs_f64() * 1e3
    );

    let (mut big_pages, big_changes, big_bytes) = sync_walk(&emu, &token, BIG).await;
    let (mut small_pages, _, _) = sync_walk(&emu, &token, SMALL).await;
    let (big_mean, big_median, big_max) = stats(&mut big_pages);
    let (small_mean, _, _) = stats(&mut small_pages);
    println!(
        "SyncFolderItems, 512-change pages over 50,000 items: {} pages, {} creates, largest answer {} KiB; per page mean {:.2} ms, median {:.2} ms, max {:.2} ms",
        big_pages.len(),
        big_changes,
        big_bytes / 1024,
        big_mean,
        big_median,
        big_max
    );
    println!(
        "  500-item mailbox (one page of 500): mean {small_mean:.2} ms; ratio 50,000-item page / 500-item page = {:.2}",
        big_mean / small_mean.max(1e-9)
    );

    let view = |from: &str, to: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:CalendarView MaxEntriesReturned="1000" StartDate="{from}" EndDate="{to}"/><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#
        )
    };
    let big_ids = ids(&ews(
        &emu,
        &token,
        BIG,
        &view("2027-06-01T00:00:00Z", "2027-06-06T04:00:00Z"),
    )
    .await);
    let small_ids = ids(&ews(
        &emu,
        &token,
        SMALL,
        &view("2026-01-01T00:00:00Z", "2026-01-05T04:00:00Z"),
    )
    .await);
    assert!(
        big_ids.len() >= 100 && small_ids.len() >= 100,
        "{} {}",
        big_ids.len(),
        small_ids.len()
    );
    let (big_get, _, big_get_max) =
        stats(&mut get_items(&emu, &token, BIG, &big_ids[..100], 30).await);
    let (small_get, _, _) = stats(&mut get_items(&emu, &token, SMALL, &small_ids[..100], 30).await);
    println!(
        "GetItem of 100 items (Default shape): 50,000-item mailbox mean {big_get:.2} ms (max {big_get_max:.2} ms); 500-item mailbox {small_get:.2} ms; ratio {:.2}",
        big_get / small_get.max(1e-9)
    );

    let mut week = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        ews(
            &emu,
            &token,
            BIG,
            &view("2027-03-01T00:00:00Z", "2027-03-08T00:00:00Z"),
        )
        .await;
        week.push(started.elapsed());
    }
    let (week_mean, _, _) = stats(&mut week);
    println!(
        "FindItem CalendarView of one week (168 items) in the 50,000-item mailbox: mean {week_mean:.2} ms"
    );

    // A restriction on a String extended property is answered from the property index; other
    // restrictions scan the folder. One tagged item among 50,000.
    emu.with_state(|state| {
        use exo_emulator::calendar::item::{
            ExtendedFieldUri, ExtendedProperty, ExtendedValue, PropertySet,
        };
        let mb = state.calendar.mailbox_mut(BIG);
        let key = mb
            .folder_items(FolderKind::Calendar)
            .nth(25_000)
            .map(|i| i.key)
            .expect("item");
        mb.update(key, Timestamp::now(), &[], |item, _| {
            item.set_extended_property(ExtendedProperty {
                uri: ExtendedFieldUri::Named {
                    set: PropertySet::Distinguished("PublicStrings".into()),
                    name: "RoomsBookingId".into(),
                    property_type: "String".into(),
                },
                value: ExtendedValue::Single("B-25000".into()),
            })
        });
    });
    let find = r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsEqualTo><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/><t:FieldURIOrConstant><t:Constant Value="B-25000"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#;
    let mut restricted = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let answer = ews(&emu, &token, BIG, find).await;
        restricted.push(started.elapsed());
        assert_eq!(ids(&answer).len(), 1, "the tagged item is found");
    }
    let (restricted_mean, _, _) = stats(&mut restricted);
    let scan = find
        .replace(r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsBookingId" PropertyType="String"/>"#, r#"<t:FieldURI FieldURI="item:Subject"/>"#)
        .replace("B-25000", "Booking 25000");
    let mut scanned = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let answer = ews(&emu, &token, BIG, &scan).await;
        scanned.push(started.elapsed());
        assert_eq!(ids(&answer).len(), 1, "the item is found by subject");
    }
    let (scanned_mean, _, _) = stats(&mut scanned);
    println!(
        "FindItem IndexedPageItemView + IsEqualTo among 50,000 items: extended property (indexed) mean {restricted_mean:.2} ms; Subject (folder scan) mean {scanned_mean:.2} ms"
    );

    // 1,000 mailboxes in the store.
    let started = Instant::now();
    for m in 0..1000 {
        populate(&emu, &format!("user{m:04}@scale.test"), 20);
    }
    let fill = started.elapsed();
    let started = Instant::now();
    let resolved = emu.with_state(|state| {
        let store = &state.calendar;
        let mut found = 0;
        for m in 0..1000 {
            let mailbox = store
                .mailbox(&format!("user{m:04}@scale.test"))
                .expect("mailbox");
            let id = store.item_id(&mailbox.item_ref(10));
            if store.resolve_id(&id).is_ok() {
                let page = mailbox.changes_since(
                    FolderKind::Calendar,
                    0,
                    512,
                    &Default::default(),
                    |_| true,
                );
                found += page.changes.len();
            }
        }
        found
    });
    let lookups = started.elapsed();
    println!(
        "1,000 mailboxes x 20 items: filled in {:.1} ms; id resolution + full sync page in every mailbox: {:.2} ms total ({:.1} µs per mailbox, {resolved} changes)",
        fill.as_secs_f64() * 1e3,
        lookups.as_secs_f64() * 1e3,
        lookups.as_secs_f64() * 1e6 / 1000.0
    );
    emu.shutdown().await;
}
