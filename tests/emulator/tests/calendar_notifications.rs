//! Notification subscriptions over loopback HTTP: pull subscriptions with GetEvents and
//! Unsubscribe (watermarks, expiry on the emulator clock, errors), and push subscriptions
//! delivered to a small callback server on 127.0.0.1 (events, heartbeats, Unsubscribe,
//! retries with back-off and the drop).

mod calendar_support;

use std::sync::{Arc, Mutex};

use calendar_support::*;
use jiff::SignedDuration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn subscribe_pull(folder_xml: &str, timeout: i64, watermark: Option<&str>) -> String {
    let watermark = watermark
        .map(|w| format!("<t:Watermark>{w}</t:Watermark>"))
        .unwrap_or_default();
    format!(
        r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{folder_xml}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes>{watermark}<t:Timeout>{timeout}</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
    )
}

fn subscribe_push(folder_xml: &str, frequency: i64, url: &str) -> String {
    format!(
        r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds>{folder_xml}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes><t:StatusFrequency>{frequency}</t:StatusFrequency><t:URL>{url}</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#
    )
}

fn get_events(id: &str, watermark: &str) -> String {
    format!(
        r#"<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"#
    )
}

fn event_names(doc: &Node) -> Vec<String> {
    doc.find("Notification")
        .map(|n| {
            n.children
                .iter()
                .filter(|c| c.name.ends_with("Event"))
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn last_watermark(doc: &Node) -> String {
    doc.all("Watermark")
        .last()
        .map(|w| w.text.trim().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn pull_subscriptions_report_events_after_the_watermark() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let r = ews.call(&room, &subscribe_pull(&cal, 10, None)).await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    assert!(
        r.header("Set-Cookie")
            .is_some_and(|c| c.starts_with("X-BackEndOverrideCookie=")),
        "{:?}",
        r.headers
    );
    let id = doc.text_of("SubscriptionId");
    let mut watermark = doc.text_of("Watermark");

    // Nothing happened: a StatusEvent.
    let doc = ews.call(&room, &get_events(&id, &watermark)).await.xml();
    assert_eq!(event_names(&doc), ["StatusEvent"]);
    assert_eq!(doc.text_of("MoreEvents"), "false");
    assert_eq!(doc.text_of("PreviousWatermark"), watermark);

    let (item, _) = ews_create(&ews, &room, &cal, "<t:Subject>E</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let r = ews.call(&room, &get_events(&id, &watermark)).await;
    let doc = r.xml();
    assert_eq!(
        event_names(&doc),
        ["CreatedEvent", "ModifiedEvent"],
        "{}",
        r.text()
    );
    let created = doc.find("CreatedEvent").unwrap();
    assert_eq!(
        created.find("ItemId").unwrap().attr("Id"),
        Some(item.as_str())
    );
    assert!(created.find("ParentFolderId").is_some());
    assert!(
        doc.find("ModifiedEvent")
            .unwrap()
            .find("FolderId")
            .is_some()
    );
    watermark = last_watermark(&doc);

    let delete = format!(
        r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{item}"/></m:ItemIds></m:DeleteItem>"#
    );
    ews.call(&room, &delete).await;
    let doc = ews.call(&room, &get_events(&id, &watermark)).await.xml();
    assert_eq!(event_names(&doc), ["DeletedEvent", "ModifiedEvent"]);
    watermark = last_watermark(&doc);
    let doc = ews.call(&room, &get_events(&id, &watermark)).await.xml();
    assert_eq!(event_names(&doc), ["StatusEvent"]);

    // Many changes come in pages of 50 with MoreEvents.
    for i in 0..30 {
        ews_create(&ews, &room, &cal, &format!("<t:Subject>N{i}</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>")).await;
    }
    let doc = ews.call(&room, &get_events(&id, &watermark)).await.xml();
    assert_eq!(event_names(&doc).len(), 50);
    assert_eq!(doc.text_of("MoreEvents"), "true");
    let doc = ews
        .call(&room, &get_events(&id, &last_watermark(&doc)))
        .await
        .xml();
    assert_eq!(event_names(&doc).len(), 10);
    assert_eq!(doc.text_of("MoreEvents"), "false");
}

#[tokio::test]
async fn pull_subscription_errors_and_expiry() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let doc = ews.call(&room, &subscribe_pull(&cal, 1, None)).await.xml();
    let id = doc.text_of("SubscriptionId");
    let watermark = doc.text_of("Watermark");
    let code = async |who: &As, body: &str| ews.call(who, body).await.xml().codes().remove(0);

    assert_eq!(
        code(&room, &get_events("not-a-subscription", &watermark)).await,
        "ErrorInvalidSubscription"
    );
    assert_eq!(
        code(&room, &get_events(&id, "AQAAAAAAAAAAAAAAAAAAAAAAAAAA")).await,
        "ErrorInvalidWatermark"
    );
    assert_eq!(
        code(&As::Delegate, &get_events(&id, &watermark)).await,
        "ErrorSubscriptionAccessDenied"
    );
    // Polling within the timeout keeps it alive.
    emu.advance_clock(SignedDuration::from_secs(50));
    assert_eq!(code(&room, &get_events(&id, &watermark)).await, "NoError");
    emu.advance_clock(SignedDuration::from_secs(50));
    assert_eq!(code(&room, &get_events(&id, &watermark)).await, "NoError");
    // Then it times out: expired once, then gone.
    emu.advance_clock(SignedDuration::from_secs(61));
    assert_eq!(
        code(&room, &get_events(&id, &watermark)).await,
        "ErrorExpiredSubscription"
    );
    assert_eq!(
        code(&room, &get_events(&id, &watermark)).await,
        "ErrorSubscriptionNotFound"
    );

    // Unsubscribe ends a subscription.
    let doc = ews.call(&room, &subscribe_pull(&cal, 10, None)).await.xml();
    let id = doc.text_of("SubscriptionId");
    let unsubscribe =
        format!("<m:Unsubscribe><m:SubscriptionId>{id}</m:SubscriptionId></m:Unsubscribe>");
    assert_eq!(code(&room, &unsubscribe).await, "NoError");
    assert_eq!(code(&room, &unsubscribe).await, "ErrorSubscriptionNotFound");

    // A resumed subscription starts at the watermark given.
    let doc = ews.call(&room, &subscribe_pull(&cal, 10, None)).await.xml();
    let resume_at = doc.text_of("Watermark");
    ews_create(&ews, &room, &cal, "<t:Subject>R</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let doc = ews
        .call(&room, &subscribe_pull(&cal, 10, Some(&resume_at)))
        .await
        .xml();
    let resumed = doc.text_of("SubscriptionId");
    let doc = ews
        .call(&room, &get_events(&resumed, &resume_at))
        .await
        .xml();
    assert_eq!(event_names(&doc), ["CreatedEvent", "ModifiedEvent"]);

    // Timeout outside 1..1440 is a schema error.
    let r = ews.call(&room, &subscribe_pull(&cal, 0, None)).await;
    assert_eq!(r.status, 500);
    assert!(r.text().contains("ErrorSchemaValidation"));
    // A watermark of another mailbox is refused.
    let r = ews
        .call(&imp(ROOM2), &subscribe_pull(&cal, 10, Some(&resume_at)))
        .await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidWatermark"]);
}

/// What the callback server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    Unsubscribe,
    Fail,
}

/// A minimal HTTP callback server recording the bodies it receives.
#[derive(Clone)]
struct Callback {
    url: String,
    received: Arc<Mutex<Vec<String>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Callback {
    async fn start(answer: Answer) -> Callback {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/api/webhooks/exchange",
            listener.local_addr().unwrap()
        );
        let callback = Callback {
            url,
            received: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        };
        let server = callback.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        raw.extend_from_slice(&buf[..n]);
                        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            if raw.len() >= split + 4 + length {
                                break;
                            }
                        }
                    }
                    let split = raw
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .unwrap_or(raw.len());
                    let body =
                        String::from_utf8_lossy(raw.get(split + 4..).unwrap_or(&[])).into_owned();
                    server.received.lock().unwrap().push(body);
                    let answer = *server.answer.lock().unwrap();
                    let (status, body) = match answer {
                        Answer::Fail => (
                            "500 Internal Server Error",
                            "<html>broken</html>".to_owned(),
                        ),
                        Answer::Ok | Answer::Unsubscribe => (
                            "200 OK",
                            format!(
                                r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}"><soap:Body><SendNotificationResult xmlns="{M}"><SubscriptionStatus>{}</SubscriptionStatus></SendNotificationResult></soap:Body></soap:Envelope>"#,
                                if answer == Answer::Ok {
                                    "OK"
                                } else {
                                    "Unsubscribe"
                                }
                            ),
                        ),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        callback
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn bodies(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }
}

fn subscription_exists(emu: &exo_emulator::RunningEmulator, id: &str) -> bool {
    emu.with_state(|s| s.calendar.subscriptions.get(id).is_some())
}

/// True when no push delivery of the subscription is in flight: after the
/// callback has seen a request, the emulator has recorded its answer.
fn delivery_settled(emu: &exo_emulator::RunningEmulator, id: &str) -> bool {
    use exo_emulator::calendar::subscription::SubscriptionKind;
    emu.with_state(|s| {
        matches!(
            s.calendar.subscriptions.get(id).map(|sub| &sub.kind),
            Some(SubscriptionKind::Push {
                in_flight: false,
                ..
            })
        )
    })
}

/// True once the emulator has recorded the outcome of the last push attempt
/// as a failure, the `failures`-th in a row (the store counts every failed
/// attempt, the first included). The callback counts a request
/// when it arrives, before the emulator has its answer: advancing the clock
/// before then would move the failure time itself, and no retry would come.
fn failure_recorded(emu: &exo_emulator::RunningEmulator, id: &str, failures: u32) -> bool {
    use exo_emulator::calendar::subscription::SubscriptionKind;
    emu.with_state(
        |s| match s.calendar.subscriptions.get(id).map(|sub| &sub.kind) {
            Some(SubscriptionKind::Push {
                failing_since: Some(_),
                in_flight: false,
                retries: made,
                ..
            }) => *made == failures,
            _ => false,
        },
    )
}

#[tokio::test]
async fn push_delivers_events_and_heartbeats_and_honours_unsubscribe() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let callback = Callback::start(Answer::Ok).await;
    let doc = ews
        .call(&room, &subscribe_push(&cal, 1, &callback.url))
        .await
        .xml();
    assert_eq!(doc.codes(), ["NoError"]);
    let id = doc.text_of("SubscriptionId");
    let (item, _) = ews_create(&ews, &room, &cal, "<t:Subject>P</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    assert!(
        eventually(20, async || callback.count() >= 1).await,
        "no notification arrived"
    );
    let first = parse_xml(&callback.bodies()[0]);
    assert_eq!(first.ns, SOAP);
    assert_eq!(first.text_of("SubscriptionId"), id);
    assert_eq!(
        first
            .find("SendNotificationResponseMessage")
            .unwrap()
            .attr("ResponseClass"),
        Some("Success")
    );
    assert_eq!(
        first
            .find("CreatedEvent")
            .unwrap()
            .find("ItemId")
            .unwrap()
            .attr("Id"),
        Some(item.as_str())
    );

    // A minute of silence on the emulator clock: a StatusEvent heartbeat.
    // (Once the delivery is recorded: the callback counts a request when it
    // arrives, and an earlier clock move would date the delivery itself.)
    assert!(
        eventually(20, async || delivery_settled(&emu, &id)).await,
        "the delivery was not recorded"
    );
    emu.advance_clock(SignedDuration::from_secs(61));
    assert!(
        eventually(20, async || callback.count() >= 2).await,
        "no heartbeat arrived"
    );
    let heartbeat = parse_xml(&callback.bodies()[1]);
    assert!(
        heartbeat.find("StatusEvent").is_some(),
        "{:?}",
        callback.bodies()[1]
    );

    // The callback answers Unsubscribe: the subscription ends.
    callback.set(Answer::Unsubscribe);
    ews_create(&ews, &room, &cal, "<t:Subject>Q</t:Subject><t:Start>2026-05-05T08:00:00Z</t:Start><t:End>2026-05-05T09:00:00Z</t:End>").await;
    assert!(
        eventually(20, async || !subscription_exists(&emu, &id)).await,
        "the subscription survived Unsubscribe"
    );
    // GetEvents on a push subscription is refused while it exists; afterwards it is unknown.
    let r = ews
        .call(&room, &get_events(&id, &doc.text_of("Watermark")))
        .await;
    assert_eq!(r.xml().codes(), ["ErrorSubscriptionNotFound"]);
}

#[tokio::test]
async fn failing_callbacks_are_retried_with_back_off_then_dropped() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let callback = Callback::start(Answer::Fail).await;
    let doc = ews
        .call(&room, &subscribe_push(&cal, 1, &callback.url))
        .await
        .xml();
    let id = doc.text_of("SubscriptionId");
    // GetEvents is not for push subscriptions.
    let r = ews
        .call(&room, &get_events(&id, &doc.text_of("Watermark")))
        .await;
    assert_eq!(r.xml().codes(), ["ErrorInvalidPullSubscriptionId"]);
    ews_create(&ews, &room, &cal, "<t:Subject>P</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    assert!(
        eventually(20, async || callback.count() >= 1).await,
        "no first attempt"
    );
    // Retries come 30 s and 60 s after the first failure (emulator clock) ...
    assert!(
        eventually(20, async || failure_recorded(&emu, &id, 1)).await,
        "the first failure was not recorded"
    );
    emu.advance_clock(SignedDuration::from_secs(30));
    assert!(
        eventually(20, async || callback.count() >= 2).await,
        "no retry after 30 s"
    );
    assert!(
        eventually(20, async || failure_recorded(&emu, &id, 2)).await,
        "the first retry's failure was not recorded"
    );
    emu.advance_clock(SignedDuration::from_secs(30));
    assert!(
        eventually(20, async || callback.count() >= 3).await,
        "no retry after 60 s"
    );
    // ... the next would come at 120 s, beyond StatusFrequency (1 minute): dropped.
    assert!(
        eventually(20, async || !subscription_exists(&emu, &id)).await,
        "the subscription was not dropped"
    );
    assert_eq!(callback.count(), 3);
    let bodies = callback.bodies();
    assert!(
        bodies
            .iter()
            .all(|b| parse_xml(b).find("CreatedEvent").is_some()),
        "every attempt carries the event"
    );
}

#[tokio::test]
async fn push_subscription_urls_are_checked() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    for url in ["ftp://example.com/hook", "not a url", "http:///nohost"] {
        let r = ews
            .call(
                &imp(ROOM),
                &subscribe_push(&folder("calendar", None), 1, url),
            )
            .await;
        assert_eq!(
            r.xml().codes(),
            ["ErrorInvalidPushSubscriptionUrl"],
            "{url}"
        );
    }
}

/// The admin API's view of the subscription `id`, if it lists it.
async fn listed(emu: &exo_emulator::RunningEmulator, id: &str) -> Option<serde_json::Value> {
    let r = admin(emu, "GET", "subscriptions", &serde_json::Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["subscriptions"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
}

#[tokio::test]
async fn subscriptions_lost_through_the_admin_api_are_not_found_and_stop_delivering() {
    let emu = start().await;
    let ews = Ews::new(&emu).await;
    let room = imp(ROOM);
    let cal = folder("calendar", None);
    let doc = ews.call(&room, &subscribe_pull(&cal, 10, None)).await.xml();
    let pull = doc.text_of("SubscriptionId");
    let pull_watermark = doc.text_of("Watermark");
    let callback = Callback::start(Answer::Ok).await;
    let doc = ews
        .call(&room, &subscribe_push(&cal, 30, &callback.url))
        .await
        .xml();
    let push = doc.text_of("SubscriptionId");

    // Listed with their kind and state.
    let p = listed(&emu, &pull)
        .await
        .expect("the pull subscription is listed");
    assert_eq!(p["kind"], "pull");
    assert!(
        p["mailbox"].as_str().unwrap().eq_ignore_ascii_case(ROOM),
        "{p}"
    );
    assert_eq!(p["watermark"], pull_watermark.as_str());
    assert_eq!(p["timeout_minutes"], 10);
    assert!(
        p["last_poll"].as_str().is_some() && p.get("url").is_none(),
        "{p}"
    );
    let s = listed(&emu, &push)
        .await
        .expect("the push subscription is listed");
    assert_eq!(s["kind"], "push");
    assert_eq!(s["url"], callback.url.as_str());
    assert_eq!(s["status_frequency_minutes"], 30);
    assert!(s["failing_since"].is_null() && s["retries"] == 0, "{s}");

    // Both work before they are lost.
    ews_create(&ews, &room, &cal, "<t:Subject>Before</t:Subject><t:Start>2026-05-04T08:00:00Z</t:Start><t:End>2026-05-04T09:00:00Z</t:End>").await;
    let doc = ews
        .call(&room, &get_events(&pull, &pull_watermark))
        .await
        .xml();
    assert_eq!(doc.codes(), ["NoError"]);
    assert!(event_names(&doc).contains(&"CreatedEvent".to_string()));
    assert!(
        eventually(20, async || callback.count() >= 1).await,
        "no notification before the loss"
    );
    assert!(
        eventually(20, async || delivery_settled(&emu, &push)).await,
        "the delivery was not recorded"
    );
    let delivered = callback.count();

    // Lost: GetEvents and Unsubscribe no longer find the pull subscription.
    for id in [&pull, &push] {
        let r = admin(
            &emu,
            "DELETE",
            &format!("subscriptions/{}", percent_encode(id)),
            &serde_json::Value::Null,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(listed(&emu, id).await.is_none());
    }
    let doc = ews
        .call(&room, &get_events(&pull, &last_watermark(&doc)))
        .await
        .xml();
    assert_eq!(doc.codes(), ["ErrorSubscriptionNotFound"]);
    let unsubscribe =
        format!("<m:Unsubscribe><m:SubscriptionId>{pull}</m:SubscriptionId></m:Unsubscribe>");
    assert_eq!(
        ews.call(&room, &unsubscribe).await.xml().codes(),
        ["ErrorSubscriptionNotFound"]
    );

    // The push subscription stops delivering: a new one on the same callback
    // gets the next change, the lost one nothing (it would have been due at
    // the same tick or earlier).
    ews_create(&ews, &room, &cal, "<t:Subject>After</t:Subject><t:Start>2026-05-05T08:00:00Z</t:Start><t:End>2026-05-05T09:00:00Z</t:End>").await;
    let control = ews
        .call(&room, &subscribe_push(&cal, 30, &callback.url))
        .await
        .xml()
        .text_of("SubscriptionId");
    ews_create(&ews, &room, &cal, "<t:Subject>Control</t:Subject><t:Start>2026-05-06T08:00:00Z</t:Start><t:End>2026-05-06T09:00:00Z</t:End>").await;
    assert!(
        eventually(20, async || {
            callback.bodies()[delivered..]
                .iter()
                .any(|b| parse_xml(b).text_of("SubscriptionId") == control)
        })
        .await,
        "the control subscription delivered nothing"
    );
    let after: Vec<String> = callback.bodies()[delivered..]
        .iter()
        .map(|b| parse_xml(b).text_of("SubscriptionId"))
        .collect();
    assert!(after.iter().all(|id| *id == control), "{after:?}");

    // Unknown ids are 404 with a pointer to the list.
    let r = admin(
        &emu,
        "DELETE",
        &format!("subscriptions/{}", percent_encode(&pull)),
        &serde_json::Value::Null,
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("GET /admin/subscriptions"),
        "{}",
        r.text()
    );
}
