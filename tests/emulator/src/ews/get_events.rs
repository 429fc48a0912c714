//! GetEvents: the events of a pull subscription since a watermark.
//!
//! The client sends the subscription id and the last watermark it received; the answer holds
//! the events after it (at most 50, with `MoreEvents` `true` when more wait), each with its own
//! watermark, or a single `StatusEvent` when nothing happened. Every call restarts the
//! subscription's `Timeout`. Errors: an id that cannot be a subscription id →
//! `ErrorInvalidSubscription`; an unknown one → `ErrorSubscriptionNotFound`; a subscription
//! whose timeout passed (emulator clock) → `ErrorExpiredSubscription`, after which it is gone;
//! someone else's → `ErrorSubscriptionAccessDenied`; a push subscription →
//! `ErrorInvalidPullSubscriptionId`; a watermark of another mailbox or not issued by this
//! server → `ErrorInvalidWatermark`.

use super::context::OpContext;
use super::dom::{Element, MESSAGES_NS};
use super::fault::{EwsFault, ResponseError};
use super::subscribe::subscription_owner;
use super::writer::{OpResponse, ResponseBuilder, ResponseClass, XmlWriter};
use crate::calendar::notification::write_notification;
use crate::calendar::subscription::{MAX_EVENTS_PER_NOTIFICATION, SubscriptionKind};

/// Handles `m:GetEvents`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let mut id = None;
    let mut watermark = None;
    for child in &op.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (MESSAGES_NS, "SubscriptionId") if id.is_none() && watermark.is_none() => {
                id = Some(child.trimmed_text())
            }
            (MESSAGES_NS, "Watermark") if watermark.is_none() => {
                watermark = Some(child.trimmed_text())
            }
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    let id = id.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "SubscriptionId"))?;
    let watermark =
        watermark.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "Watermark"))?;
    let mut response = ResponseBuilder::new("GetEvents");
    match get_events(cx, id, watermark) {
        Ok(xml) => {
            response.success(|w| {
                w.raw(&xml);
            });
        }
        Err(e) => {
            response.failure(ResponseClass::Error, &e, |_| {});
        }
    }
    Ok(response.finish())
}

fn get_events(cx: &mut OpContext<'_>, id: &str, watermark: &str) -> Result<String, ResponseError> {
    let owner = subscription_owner(cx);
    let now = cx.now;
    let store = &mut cx.state.calendar;
    let subscription = store.subscriptions.pull_mut(id, &owner, now).map_err(|e| {
        let (code, text) = e.code_and_text();
        ResponseError::new(code, text)
    })?;
    if let SubscriptionKind::Pull { last_poll, .. } = &mut subscription.kind {
        *last_poll = now;
    }
    let subscription = subscription.clone();
    let Some(mailbox) = store.mailbox(&subscription.mailbox) else {
        return Err(ResponseError::new(
            "ErrorSubscriptionNotFound",
            "The specified subscription was not found.",
        ));
    };
    let previous = store.check_watermark(watermark, mailbox).ok_or_else(|| {
        ResponseError::new(
            "ErrorInvalidWatermark",
            "The watermark is invalid for this subscription.",
        )
    })?;
    let mut events = Vec::new();
    let mut position = previous;
    let mut more = false;
    for (offset, event) in mailbox.events_since(previous).iter().enumerate() {
        if events.len() == MAX_EVENTS_PER_NOTIFICATION {
            more = true;
            break;
        }
        position = previous + offset as u64 + 1;
        if subscription.wants(event) {
            events.push((position, *event));
        }
    }
    let mut w = XmlWriter::new();
    write_notification(
        &mut w,
        "m:Notification",
        store,
        mailbox,
        &subscription.id,
        previous,
        &events,
        position,
        more,
    );
    if let Ok(live) = store.subscriptions.pull_mut(id, &owner, now) {
        live.position = position;
    }
    Ok(w.into_string())
}
