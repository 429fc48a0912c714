//! Push notifications: the background task that POSTs `SendNotification` messages to the
//! callback URLs of push subscriptions.
//!
//! The task starts with the first push subscription ([`start`]) and ends when the emulator is
//! gone. Every [`TICK`] it asks the store which subscriptions are due (new events, a
//! `StatusFrequency` heartbeat, or a retry whose time has come on the emulator clock — so tests
//! drive retries by advancing the clock), POSTs one notification per subscription, and records
//! the answer:
//! - HTTP 200 with `SendNotificationResult/SubscriptionStatus` `OK`: delivered, the
//!   subscription's watermark moves on;
//! - `Unsubscribe`: the subscription ends;
//! - anything else (refused connection, timeout, other status, unreadable body): the retry
//!   schedule of [`crate::calendar::subscription`] applies (30 s, then doubling, until
//!   `StatusFrequency` is exceeded, when the subscription is dropped).
//!
//! Only `http://` callbacks are reachable; an `https://` URL always fails (no TLS client).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::calendar::notification::write_notification;
use crate::calendar::subscription::{PushDisposition, PushJob, PushOutcome};
use crate::ews::dom::{MESSAGES_NS, SOAP_NS, TYPES_NS, parse};
use crate::ews::writer::XmlWriter;
use crate::state::Shared;

/// How often the task looks for due notifications (real time).
pub const TICK: Duration = Duration::from_millis(50);
/// How long a callback may take to answer (real time).
pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest callback answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// Starts the delivery task (call once; the store's `push_task_running` flag guards it).
pub fn start(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    tokio::spawn(run(weak));
}

async fn run(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(TICK).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        for (job, body) in due(&strong) {
            let shared = Weak::clone(&shared);
            tokio::spawn(async move {
                let outcome = deliver(&job.url, &body).await;
                if let Some(strong) = shared.upgrade() {
                    let now = strong.clock.now();
                    let disposition = strong
                        .lock()
                        .calendar
                        .subscriptions
                        .push_result(&job, outcome, now);
                    if disposition != PushDisposition::Active {
                        strong
                            .lock()
                            .calendar
                            .subscriptions
                            .remove(&job.subscription_id);
                    }
                }
            });
        }
    }
}

/// The due jobs with their SOAP bodies.
fn due(shared: &Shared) -> Vec<(PushJob, String)> {
    let now = shared.clock.now();
    let mut state = shared.lock();
    let store = &mut state.calendar;
    let jobs = store.due_pushes(now);
    jobs.into_iter()
        .filter_map(|job| {
            let mailbox = store.mailbox(&job.mailbox)?;
            let mut w = XmlWriter::new();
            w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            w.start("soap11:Envelope", &[("xmlns:soap11", SOAP_NS)]);
            w.start("soap11:Header", &[]);
            w.empty(
                "t:RequestServerVersion",
                &[("Version", "Exchange2010_SP1"), ("xmlns:t", TYPES_NS)],
            );
            w.end("soap11:Header");
            w.start("soap11:Body", &[]);
            w.start(
                "m:SendNotification",
                &[("xmlns:m", MESSAGES_NS), ("xmlns:t", TYPES_NS)],
            );
            w.start("m:ResponseMessages", &[]);
            w.start(
                "m:SendNotificationResponseMessage",
                &[("ResponseClass", "Success")],
            );
            w.leaf("m:ResponseCode", "NoError");
            write_notification(
                &mut w,
                "m:Notification",
                store,
                mailbox,
                &job.subscription_id,
                job.previous_position,
                &job.events,
                job.position,
                job.more_events,
            );
            w.end("m:SendNotificationResponseMessage");
            w.end("m:ResponseMessages");
            w.end("m:SendNotification");
            w.end("soap11:Body");
            w.end("soap11:Envelope");
            Some((job, w.into_string()))
        })
        .collect()
}

/// POSTs one notification and reads the callback's answer.
pub async fn deliver(url: &str, body: &str) -> PushOutcome {
    match tokio::time::timeout(CALLBACK_TIMEOUT, post(url, body)).await {
        Ok(Ok((200, answer))) => subscription_status(&answer),
        _ => PushOutcome::Failed,
    }
}

/// Reads `SendNotificationResult/SubscriptionStatus` from a callback answer.
pub fn subscription_status(answer: &[u8]) -> PushOutcome {
    let Ok(root) = parse(answer) else {
        return PushOutcome::Failed;
    };
    let Some(result) = root.find(MESSAGES_NS, "SendNotificationResult") else {
        return PushOutcome::Failed;
    };
    match result.m("SubscriptionStatus").map(|s| s.trimmed_text()) {
        Some("OK") => PushOutcome::Ok,
        Some("Unsubscribe") => PushOutcome::Unsubscribe,
        _ => PushOutcome::Failed,
    }
}

async fn post(url: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// callbacks are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(invalid("the callback URL has no host"));
    }
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: ExchangeServicesClient/15.20.8769.35\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || raw.len() > MAX_ANSWER {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("the callback closed the connection without an HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("the callback sent no HTTP status"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = raw[split + 4..].to_vec();
    Ok((status, if chunked { dechunk(&body) } else { body }))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || size > data.len() {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subscription_status_of_an_answer() {
        let ok = format!(
            "<s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><SendNotificationResult xmlns=\"{MESSAGES_NS}\"><SubscriptionStatus>OK</SubscriptionStatus></SendNotificationResult></s:Body></s:Envelope>"
        );
        assert_eq!(subscription_status(ok.as_bytes()), PushOutcome::Ok);
        let unsubscribe = ok.replace(">OK<", ">Unsubscribe<");
        assert_eq!(
            subscription_status(unsubscribe.as_bytes()),
            PushOutcome::Unsubscribe
        );
        assert_eq!(
            subscription_status(b"<html>oops</html>"),
            PushOutcome::Failed
        );
        assert_eq!(subscription_status(b"not xml"), PushOutcome::Failed);
    }

    #[test]
    fn chunked_answers_are_decoded() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            b"hello world"
        );
    }
}
