//! Unsubscribe: ends a pull subscription.
//!
//! Errors as for `GetEvents`: `ErrorInvalidSubscription` (not a subscription id),
//! `ErrorSubscriptionNotFound` (unknown or already ended), `ErrorExpiredSubscription` (timed
//! out), `ErrorSubscriptionAccessDenied` (someone else's), `ErrorInvalidPullSubscriptionId`
//! (a push subscription: those end when the callback answers `Unsubscribe`).

use super::context::OpContext;
use super::dom::{Element, MESSAGES_NS};
use super::fault::{EwsFault, ResponseError};
use super::subscribe::subscription_owner;
use super::writer::{OpResponse, ResponseBuilder, ResponseClass};

/// Handles `m:Unsubscribe`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let [id_el] = op.children.as_slice() else {
        return Err(EwsFault::missing_child(op, MESSAGES_NS, "SubscriptionId"));
    };
    if !id_el.is(MESSAGES_NS, "SubscriptionId") {
        return Err(EwsFault::unexpected_child(op, id_el));
    }
    let id = id_el.trimmed_text();
    let owner = subscription_owner(cx);
    let now = cx.now;
    let subscriptions = &mut cx.state.calendar.subscriptions;
    let mut response = ResponseBuilder::new("Unsubscribe");
    match subscriptions.pull_mut(id, &owner, now) {
        Ok(_) => {
            subscriptions.remove(id);
            response.success(|_| {});
        }
        Err(e) => {
            let (code, text) = e.code_and_text();
            response.failure(
                ResponseClass::Error,
                &ResponseError::new(code, text),
                |_| {},
            );
        }
    }
    Ok(response.finish())
}
