//! `/admin/subscriptions`: the notification subscriptions the emulator holds,
//! and losing one on purpose.
//!
//! | method and path | effect |
//! |---|---|
//! | `GET /admin/subscriptions` | `{"subscriptions": [..]}`, by mailbox then id: `id`, `mailbox`, `owner`, `kind` (`pull`/`push`), `position` and `watermark` (the last acknowledged event), pull: `timeout_minutes`, `last_poll`; push: `url`, `status_frequency_minutes`, `last_delivery`, `failing_since`, `retries` |
//! | `DELETE /admin/subscriptions/{id}` | drops it without telling the client; 404 for an unknown id (percent-encode `/` in the id as `%2F`) |
//!
//! Exchange loses subscriptions without notice: they live in the memory of
//! the mailbox server's EWS process, so a restart of that process (a server
//! failover) or a mailbox move to another server ends them. The next
//! `GetEvents` answers `ErrorSubscriptionNotFound` ("the subscription may have
//! expired, the EWS process may have been restarted"), a push subscription
//! just stops sending notifications, and the client has to subscribe again,
//! without the old watermark (Microsoft's "Handling notification-related
//! errors in EWS in Exchange", *Recovering from lost subscriptions*:
//! <https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/handling-notification-related-errors-in-ews-in-exchange>).
//! A dropped subscription behaves exactly so here: it is removed from the
//! table, so `GetEvents` and `Unsubscribe` find no such id, and the push task
//! never picks it again (a delivery already in flight is discarded when its
//! answer comes).

use std::sync::Arc;

use serde_json::{Value, json};

use super::AdminError;
use crate::calendar::subscription::{Subscription, SubscriptionKind};
use crate::reply::Reply;
use crate::state::{Shared, State};

/// `GET /admin/subscriptions`.
pub fn list(shared: &Arc<Shared>) -> Reply {
    let state = shared.lock();
    let mut subscriptions: Vec<&Subscription> = state.calendar.subscriptions.iter().collect();
    subscriptions.sort_by(|a, b| {
        a.mailbox
            .to_ascii_lowercase()
            .cmp(&b.mailbox.to_ascii_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    });
    let list: Vec<Value> = subscriptions
        .into_iter()
        .map(|s| subscription_json(&state, s))
        .collect();
    Reply::json(200, &json!({ "subscriptions": list }))
}

/// `DELETE /admin/subscriptions/{id}`.
pub fn drop_subscription(shared: &Arc<Shared>, id: &str) -> Result<Reply, AdminError> {
    match shared.lock().calendar.subscriptions.remove(id) {
        Some(_) => Ok(Reply::json(200, &json!({"ok": true}))),
        None => Err(AdminError::not_found(format!(
            "no subscription '{id}'; see GET /admin/subscriptions for the ids"
        ))),
    }
}

fn subscription_json(state: &State, s: &Subscription) -> Value {
    let watermark = state
        .calendar
        .mailbox(&s.mailbox)
        .map(|m| state.calendar.watermark(m, s.position));
    let mut v = json!({
        "id": s.id,
        "mailbox": s.mailbox,
        "owner": s.owner,
        "position": s.position,
        "watermark": watermark,
    });
    match &s.kind {
        SubscriptionKind::Pull { timeout, last_poll } => {
            v["kind"] = json!("pull");
            v["timeout_minutes"] = json!(timeout.as_mins());
            v["last_poll"] = json!(last_poll.to_string());
        }
        SubscriptionKind::Push {
            url,
            status_frequency,
            last_delivery,
            failing_since,
            retries,
            ..
        } => {
            v["kind"] = json!("push");
            v["url"] = json!(url);
            v["status_frequency_minutes"] = json!(status_frequency.as_mins());
            v["last_delivery"] = json!(last_delivery.to_string());
            v["failing_since"] = json!(failing_since.map(|t| t.to_string()));
            v["retries"] = json!(retries);
        }
    }
    v
}
