//! Push subscriptions (`O365` persons): the callback URL Exchange posts
//! `SendNotification` to, and when a push subscription is renewed.
//!
//! # The callback URL
//!
//! The base is, first found: `ExchangePushNotificationEndpointUrl`
//! (`RoomsAppSettings.config`), `NotificationEndpointUrl` (`appsettings.json`,
//! `CalendarSync:Ews:Common`; both land in the same setting), or
//! `<--public-url>/api/webhooks/exchange`. In every case the tenant's
//! directory name is appended as one more path segment
//! (`https://rooms.example.com/api/webhooks/exchange/contoso`,
//! percent-encoded), so a notification only ever reaches its own tenant's
//! sandbox: the service routes `/api/webhooks/exchange/<tenant>` to that
//! tenant, and a tenant's component only finds its own subscriptions. A
//! query string of the base stays at the end. With no base at all, push
//! persons are not subscribed: the tenant logs an error naming
//! `--public-url` and `ExchangePushNotificationEndpointUrl`, and their
//! calendars sync every `IntervallTaskInSeconds` instead, so nothing is lost.
//!
//! # Renewal
//!
//! A push subscription is made again (with an incremental sync after it)
//! when no notification or heartbeat arrived for twice
//! `StatusFrequencyMinutes` plus one minute (the heartbeats stopped), when it
//! is older than `RenewalThresholdMinutes`, or when the callback URL
//! changed. The EWS push subscription itself has no expiry while Exchange
//! can deliver; the newer ROOMS releases renew after
//! `RenewalThresholdMinutes` (default 40), and so does this service. The old
//! subscription is forgotten: its next
//! notification is answered `Unsubscribe`, which ends it at Exchange.

use std::time::Duration;

use crate::rooms_db::SubscriptionRecord;

/// The webhook path served for push notifications (the tenant's name
/// follows as one more segment).
pub const WEBHOOK_PATH: &str = "/api/webhooks/exchange";

/// The callback URL of `tenant`'s push subscriptions from the setting
/// (`ExchangePushNotificationEndpointUrl`) or the service's public URL;
/// none when neither is given.
pub fn callback_url(
    setting: Option<&str>,
    public_url: Option<&str>,
    tenant: &str,
) -> Option<String> {
    let base = match (setting.map(str::trim).filter(|s| !s.is_empty()), public_url) {
        (Some(setting), _) => setting.to_string(),
        (None, Some(public)) => format!("{}{WEBHOOK_PATH}", public.trim_end_matches('/')),
        (None, None) => return None,
    };
    let (path, rest) = match base.find(['?', '#']) {
        Some(i) => base.split_at(i),
        None => (base.as_str(), ""),
    };
    Some(format!(
        "{}/{}{rest}",
        path.trim_end_matches('/'),
        encode_segment(tenant)
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded path segment; none when it is not valid UTF-8
/// or holds a bad escape.
pub fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a push subscription is made again, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// No notification or heartbeat for 2 × StatusFrequency + 1 minutes.
    HeartbeatsStopped,
    /// Older than `RenewalThresholdMinutes`.
    Age,
    /// Made with another callback URL.
    CallbackChanged,
}

/// Whether the push subscription `sub` must be renewed at `now`.
/// `minute` is the length of a minute (shorter under the test knob).
pub fn renewal_due(
    sub: &SubscriptionRecord,
    callback: &str,
    status_frequency_minutes: u32,
    renewal_threshold_minutes: u32,
    minute: Duration,
    now: jiff::Timestamp,
) -> Option<Renewal> {
    if sub.callback_url.as_deref() != Some(callback) {
        return Some(Renewal::CallbackChanged);
    }
    let silent = elapsed(sub.last_event_at, now);
    if silent >= minute * (2 * status_frequency_minutes + 1) {
        return Some(Renewal::HeartbeatsStopped);
    }
    if elapsed(sub.created_at, now) >= minute * renewal_threshold_minutes {
        return Some(Renewal::Age);
    }
    None
}

/// Wall time from `since` to `now` (zero when the clock went back).
pub fn elapsed(since: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    let span = now.as_millisecond().saturating_sub(since.as_millisecond());
    Duration::from_millis(u64::try_from(span).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms_db::SyncMode;

    #[test]
    fn the_callback_ends_with_the_tenant_segment_in_every_case() {
        assert_eq!(
            callback_url(
                Some("https://rooms.example.com/api/webhooks/exchange"),
                Some("https://ignored"),
                "contoso"
            )
            .as_deref(),
            Some("https://rooms.example.com/api/webhooks/exchange/contoso")
        );
        assert_eq!(
            callback_url(None, Some("https://rooms.example.com/sync/"), "contoso").as_deref(),
            Some("https://rooms.example.com/sync/api/webhooks/exchange/contoso")
        );
        assert_eq!(
            callback_url(Some("https://h/hook/?key=1"), None, "a b").as_deref(),
            Some("https://h/hook/a%20b?key=1")
        );
        assert_eq!(callback_url(None, None, "contoso"), None);
        assert_eq!(callback_url(Some("  "), None, "contoso"), None);
    }

    #[test]
    fn segments_round_trip() {
        for name in ["contoso", "a b", "ümlaut", "x%y/z"] {
            let encoded = encode_segment(name);
            assert!(
                !encoded.contains('/') && !encoded.contains(' '),
                "{encoded}"
            );
            assert_eq!(decode_segment(&encoded).as_deref(), Some(name));
        }
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%ff"), None, "not UTF-8");
    }

    fn sub(created: &str, last: &str) -> SubscriptionRecord {
        SubscriptionRecord {
            mailbox: "a@x.com".into(),
            mode: SyncMode::O365,
            id: "id".into(),
            watermark: "w".into(),
            affinity: None,
            callback_url: Some("https://h/cb".into()),
            created_at: created.parse().unwrap(),
            last_event_at: last.parse().unwrap(),
        }
    }

    #[test]
    fn renewal_when_heartbeats_stop_or_the_subscription_is_old() {
        let minute = Duration::from_secs(60);
        let now: jiff::Timestamp = "2026-05-04T10:00:00Z".parse().unwrap();
        // Made 20 min ago, heartbeat 5 min ago: nothing to do.
        let fresh = sub("2026-05-04T09:40:00Z", "2026-05-04T09:55:00Z");
        assert_eq!(
            renewal_due(&fresh, "https://h/cb", 30, 40, minute, now),
            None
        );
        // No heartbeat for 61 minutes with a frequency of 30: stopped.
        let silent = sub("2026-05-04T09:30:00Z", "2026-05-04T08:59:00Z");
        assert_eq!(
            renewal_due(&silent, "https://h/cb", 30, 400, minute, now),
            Some(Renewal::HeartbeatsStopped)
        );
        // 60 minutes without one is still within 2 × 30 + 1.
        let quiet = sub("2026-05-04T09:30:00Z", "2026-05-04T09:00:00Z");
        assert_eq!(
            renewal_due(&quiet, "https://h/cb", 30, 400, minute, now),
            None
        );
        // Older than the renewal threshold.
        let old = sub("2026-05-04T09:19:00Z", "2026-05-04T09:59:00Z");
        assert_eq!(
            renewal_due(&old, "https://h/cb", 30, 40, minute, now),
            Some(Renewal::Age)
        );
        // Another callback.
        assert_eq!(
            renewal_due(&fresh, "https://h/other", 30, 40, minute, now),
            Some(Renewal::CallbackChanged)
        );
        // The test knob: a minute of 10 ms makes 61 "minutes" 610 ms.
        let ms = Duration::from_millis(10);
        let now2: jiff::Timestamp = "2026-05-04T09:55:01Z".parse().unwrap();
        assert_eq!(
            renewal_due(&fresh, "https://h/cb", 30, 4000, ms, now2),
            Some(Renewal::HeartbeatsStopped)
        );
    }
}
