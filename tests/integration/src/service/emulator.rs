//! The emulator and tenant side of the service tests: persons in a given
//! sync mode, the emulator's subscriptions (`GET`/`DELETE
//! /admin/subscriptions`), its clock, EWS requests per mailbox, the
//! subscriptions a tenant stored in `rooms.db`, Outlook items and ROOMS
//! slots that never overlap, and `SendNotification` bodies as Exchange
//! posts them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::WAIT;
use crate::{SECRET_APP, TenantDir, World};

/// Adds a person in `mode` (`O365` or `O365Pull`) with the emulator's EWS
/// URL.
pub async fn add_person_mode(dir: &TenantDir, world: &World, email: &str, mode: &str) {
    let url = world.ews_url();
    dir.ok(&[
        "person",
        "add",
        email,
        "--mode",
        mode,
        "--sync-url",
        url.as_str(),
    ])
    .await;
}

/// The emulator's subscriptions (`GET /admin/subscriptions`).
pub async fn subscriptions(world: &World) -> Vec<Value> {
    let (status, json) = world.admin("GET", "subscriptions", None).await;
    assert_eq!(status, 200, "GET /admin/subscriptions: {json}");
    match json {
        Value::Array(list) => list,
        Value::Object(ref o) => o
            .get("subscriptions")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_else(|| panic!("no subscriptions list in {json}")),
        other => panic!("GET /admin/subscriptions answered {other}"),
    }
}

/// The emulator's subscriptions of `mailbox` of `kind` (`pull`/`push`).
pub async fn subscriptions_of(world: &World, mailbox: &str, kind: &str) -> Vec<Value> {
    subscriptions(world)
        .await
        .into_iter()
        .filter(|s| {
            s["mailbox"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
                && s["kind"] == kind
        })
        .collect()
}

/// Drops a subscription in the emulator (`DELETE /admin/subscriptions/{id}`).
pub async fn drop_subscription(world: &World, id: &str) {
    let path = format!("subscriptions/{}", exo_emulator::util::percent_encode(id));
    let (status, json) = world.admin("DELETE", &path, None).await;
    assert!(
        status == 200 || status == 204,
        "DELETE /admin/{path}: {status} {json}"
    );
}

/// EWS requests of `operation` for `mailbox` after `mark`.
pub fn ews_for(
    world: &World,
    mark: u64,
    operation: &str,
    mailbox: &str,
) -> Vec<exo_emulator::LogEntry> {
    world
        .ews_requests_since(mark, Some(operation))
        .into_iter()
        .filter(|e| {
            e.mailbox
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mailbox))
        })
        .collect()
}

/// Waits until the emulator has no request of the secret app in flight
/// (those of a killed process included).
pub async fn settle(world: &World) {
    let account = format!("app:{}", SECRET_APP.to_ascii_lowercase());
    let shared = world.emulator.shared();
    let deadline = Instant::now() + WAIT;
    let mut quiet = 0;
    while quiet < 3 {
        if shared.inflight(&account) == 0 {
            quiet += 1;
        } else {
            quiet = 0;
            assert!(
                Instant::now() < deadline,
                "the emulator still works on requests {WAIT:?} later"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rewrites `RoomsAppSettings.config` of `dir` atomically (a temporary
/// file renamed over it), so a rescan never reads half a file.
pub fn replace_settings(dir: &Path, xml: &str) {
    let tmp = dir.join("RoomsAppSettings.config.tmp");
    std::fs::write(&tmp, xml).expect("the settings are written");
    std::fs::rename(&tmp, dir.join("RoomsAppSettings.config")).expect("the settings are replaced");
}

/// One row of a tenant's `subscriptions` table in `rooms.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// The person's mailbox.
    pub mailbox: String,
    /// `O365` or `O365Pull`.
    pub mode: String,
    /// The EWS `SubscriptionId`.
    pub id: String,
    /// The last watermark stored.
    pub watermark: String,
    /// The push callback, if any.
    pub callback_url: Option<String>,
}

/// The subscriptions stored in the `rooms.db` of `dir` (read directly, as
/// an operator's `sqlite3` would).
pub fn stored_subscriptions(dir: &TenantDir) -> Vec<StoredSubscription> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.path.join("rooms.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("rooms.db opens read-only");
    conn.busy_timeout(Duration::from_secs(10))
        .expect("a busy timeout");
    let mut statement = conn
        .prepare(
            "SELECT mailbox, mode, subscription_id, watermark, callback_url FROM subscriptions \
             ORDER BY mailbox",
        )
        .expect("the subscriptions table");
    statement
        .query_map([], |r| {
            Ok(StoredSubscription {
                mailbox: r.get(0)?,
                mode: r.get(1)?,
                id: r.get(2)?,
                watermark: r.get(3)?,
                callback_url: r.get(4)?,
            })
        })
        .expect("the subscriptions are read")
        .collect::<Result<_, _>>()
        .expect("every subscription row reads")
}

/// An Outlook item (no attendees) in hour `slot` of a test week far from
/// every other test's items: `2027-09-06T06:00Z` plus `slot` hours.
pub fn outlook_item(subject: &str, slot: i64) -> Value {
    let first: jiff::Timestamp = "2027-09-06T06:00:00Z".parse().expect("an instant");
    let start = first
        .checked_add(jiff::SignedDuration::from_hours(slot))
        .expect("in range");
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("in range");
    serde_json::json!({ "subject": subject, "start": start.to_string(), "end": end.to_string() })
}

/// `--start`/`--end` of a ROOMS booking in hour `slot` of another test
/// week (`2027-10-04T06:00Z` plus `slot` hours).
pub fn booking_slot(slot: i64) -> (String, String) {
    let first: jiff::Timestamp = "2027-10-04T06:00:00Z".parse().expect("an instant");
    let start = first
        .checked_add(jiff::SignedDuration::from_hours(slot))
        .expect("in range");
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(30))
        .expect("in range");
    (start.to_string(), end.to_string())
}

/// Creates `items` in `mailbox` at once, one concurrent admin request each
/// (a burst, as when an assistant edits many meetings); returns the items.
pub async fn outlook_create_all(world: &World, mailbox: &str, items: Vec<Value>) -> Vec<Value> {
    let url = format!(
        "{}/admin/mailboxes/{mailbox}/items",
        world.emulator.base_url()
    );
    let mut tasks = tokio::task::JoinSet::new();
    for item in items {
        let url = url.clone();
        tasks.spawn(async move {
            let answer = exo_emulator::client::send(
                "POST",
                &url,
                &[("Content-Type", "application/json")],
                item.to_string().as_bytes(),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            assert_eq!(answer.status, 201, "creating {item}: {}", answer.text());
            serde_json::from_slice::<Value>(&answer.body).expect("the item as JSON")
        });
    }
    tasks.join_all().await
}

/// Moves the emulator's clock by `seconds`.
pub async fn advance_clock(world: &World, seconds: i64) {
    let (status, json) = world
        .admin(
            "POST",
            "clock/advance",
            Some(&serde_json::json!({ "seconds": seconds })),
        )
        .await;
    assert_eq!(status, 200, "advancing the clock: {json}");
}

/// A `SendNotification` request as Exchange POSTs it: one notification of
/// `subscription_id` with `events` (`t:CreatedEvent` ... elements; none
/// gives a `StatusEvent`).
pub fn send_notification(subscription_id: &str, watermark: &str, events: &str) -> String {
    let events = if events.is_empty() {
        format!("<t:StatusEvent><t:Watermark>{watermark}</t:Watermark></t:StatusEvent>")
    } else {
        events.to_owned()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<soap11:Envelope xmlns:soap11=\"http://schemas.xmlsoap.org/soap/envelope/\">\
<soap11:Header><t:RequestServerVersion Version=\"Exchange2010_SP1\" \
xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"/></soap11:Header>\
<soap11:Body><m:SendNotification xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\" \
xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\">\
<m:ResponseMessages><m:SendNotificationResponseMessage ResponseClass=\"Success\">\
<m:ResponseCode>NoError</m:ResponseCode><m:Notification>\
<t:SubscriptionId>{subscription_id}</t:SubscriptionId>\
<t:PreviousWatermark>{watermark}</t:PreviousWatermark><t:MoreEvents>false</t:MoreEvents>\
{events}</m:Notification></m:SendNotificationResponseMessage></m:ResponseMessages>\
</m:SendNotification></soap11:Body></soap11:Envelope>"
    )
}

/// A `t:CreatedEvent` of a calendar item (ids as Exchange writes them:
/// opaque base64).
pub fn created_event(watermark: &str, item_id: &str) -> String {
    format!(
        "<t:CreatedEvent><t:Watermark>{watermark}</t:Watermark>\
<t:TimeStamp>2027-09-06T06:00:00Z</t:TimeStamp>\
<t:ItemId Id=\"{item_id}\" ChangeKey=\"DwAAABYAAAA=\"/>\
<t:ParentFolderId Id=\"AAMkAGNhbGVuZGFy\" ChangeKey=\"AQAAAA==\"/></t:CreatedEvent>"
    )
}
