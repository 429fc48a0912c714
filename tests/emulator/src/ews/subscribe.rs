//! Subscribe: pull and push notification subscriptions on folders of one mailbox.
//!
//! - `PullSubscriptionRequest`: `FolderIds` (or `SubscribeToAllFolders="true"`), `EventTypes`,
//!   optional `Watermark` (resume after it), `Timeout` in minutes (1..=1440; the subscription
//!   expires when no `GetEvents` comes within it).
//! - `PushSubscriptionRequest`: the same plus `StatusFrequency` (1..=1440 minutes) and `URL`
//!   (http or https, shorter than 2083 characters, else `ErrorInvalidPushSubscriptionUrl`).
//!   Notifications are POSTed by [`crate::push`], started by the first push subscription.
//!   Only `http://` callbacks can be reached (the emulator has no TLS client).
//! - Folders of several mailboxes in one request: `ErrorInvalidSubscriptionRequest`. The caller
//!   needs `ReadItems` on each folder. A mailbox holds at most 20 subscriptions
//!   (`EWSMaxSubscriptions`; beyond: `ErrorExceededSubscriptionCount`). A watermark not
//!   issued for this mailbox is `ErrorInvalidWatermark`.
//! - The answer holds `SubscriptionId` and `Watermark`, and the HTTP answer sets the
//!   `X-BackEndOverrideCookie` cookie that clients send back to keep affinity.
//! - `StreamingSubscriptionRequest` is not emulated (`ErrorInvalidOperation`).

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, ResponseClass};
use crate::calendar::ids::mailbox_token;
use crate::calendar::mailbox::EventKind;
use crate::calendar::render::folder_kind;
use crate::calendar::subscription::{
    MAX_SUBSCRIPTIONS_PER_MAILBOX, Subscription, SubscriptionKind, new_subscription_id,
};
use crate::seed::FolderName;

/// The identity that owns subscriptions created by this caller.
pub fn subscription_owner(cx: &OpContext<'_>) -> String {
    format!(
        "{}|{}",
        cx.caller.app_id().to_ascii_lowercase(),
        cx.caller.acting_mailbox().to_ascii_lowercase()
    )
}

fn minutes(el: &Element, type_name: &str) -> Result<i64, EwsFault> {
    let text = el.trimmed_text();
    let value: i64 = text.parse().map_err(|_| {
        EwsFault::schema(el, &format!("The '{}' element is invalid - The value '{text}' is invalid according to its datatype '{TYPES_NS}:{type_name}'.", el.name))
    })?;
    if !(1..=1440).contains(&value) {
        let facet = if value < 1 {
            "MinInclusive"
        } else {
            "MaxInclusive"
        };
        return Err(EwsFault::schema(
            el,
            &format!(
                "The '{TYPES_NS}:{}' element is invalid - The value '{value}' is invalid according to its datatype '{TYPES_NS}:{type_name}' - The {facet} constraint failed.",
                el.name
            ),
        ));
    }
    Ok(value)
}

/// Handles `m:Subscribe`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let [request] = op.children.as_slice() else {
        return Err(EwsFault::schema(
            op,
            "Subscribe must contain exactly one subscription request.",
        ));
    };
    if request.namespace != MESSAGES_NS
        || !matches!(
            request.name.as_str(),
            "PullSubscriptionRequest" | "PushSubscriptionRequest" | "StreamingSubscriptionRequest"
        )
    {
        return Err(EwsFault::unexpected_child(op, request));
    }
    let mut response = ResponseBuilder::new("Subscribe");
    match subscribe(cx, request) {
        Ok((id, watermark)) => {
            response.success(|w| {
                w.leaf("m:SubscriptionId", &id);
                w.leaf("m:Watermark", &watermark);
            });
            // The mailbox server of the anchor mailbox, as Exchange Online names it.
            let token = mailbox_token(cx.caller.acting_mailbox());
            let cookie = format!(
                "X-BackEndOverrideCookie=EMU{:04X}MB{:04}.emulator.prod.outlook.com~{}; path=/; HttpOnly",
                token & 0xffff,
                token % 10_000,
                token % 1_000_000_000
            );
            response.header("Set-Cookie", &cookie);
        }
        Err(OpError::Fault(f)) => return Err(f),
        Err(OpError::Item(e)) => {
            response.failure(ResponseClass::Error, &e, |_| {});
        }
    }
    Ok(response.finish())
}

fn subscribe(cx: &mut OpContext<'_>, request: &Element) -> Result<(String, String), OpError> {
    if request.name == "StreamingSubscriptionRequest" {
        return Err(ResponseError::new(
            "ErrorInvalidOperation",
            "The emulator supports pull and push subscriptions only; streaming subscriptions are not emulated.",
        )
        .into());
    }
    let push = request.name == "PushSubscriptionRequest";
    let all_folders = match request.attr("SubscribeToAllFolders") {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => return Err(EwsFault::schema(request, &format!("The 'SubscribeToAllFolders' attribute is invalid - The value '{other}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:boolean'.")).into()),
    };
    let mut folder_ids = None;
    let mut event_types = None;
    let mut watermark = None;
    let mut timeout = None;
    let mut frequency = None;
    let mut url = None;
    for child in &request.children {
        if child.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(request, child).into());
        }
        match child.name.as_str() {
            "FolderIds" => folder_ids = Some(child),
            "EventTypes" => event_types = Some(child),
            "Watermark" => watermark = Some(child.trimmed_text().to_owned()),
            "Timeout" if !push => timeout = Some(minutes(child, "SubscriptionTimeoutType")?),
            "StatusFrequency" if push => {
                frequency = Some(minutes(child, "SubscriptionStatusFrequencyType")?)
            }
            "URL" if push => url = Some(child.trimmed_text().to_owned()),
            "CallerData" if push => {}
            _ => return Err(EwsFault::unexpected_child(request, child).into()),
        }
    }
    let event_types_el =
        event_types.ok_or_else(|| EwsFault::missing_child(request, TYPES_NS, "EventTypes"))?;
    let mut kinds = Vec::new();
    for event_type in &event_types_el.children {
        if !event_type.is(TYPES_NS, "EventType") {
            return Err(EwsFault::unexpected_child(event_types_el, event_type).into());
        }
        let text = event_type.trimmed_text();
        match EventKind::parse(text) {
            Some(kind) => kinds.push(kind),
            None if text == "FreeBusyChangedEvent" => {}
            None => {
                return Err(EwsFault::schema(
                    event_type,
                    &format!("The element 'EventType' has an invalid value '{text}' according to its data type '{TYPES_NS}:NotificationEventTypeType' - The Enumeration constraint failed."),
                )
                .into());
            }
        }
    }
    if event_types_el.children.is_empty() {
        return Err(EwsFault::missing_child(event_types_el, TYPES_NS, "EventType").into());
    }
    let (mailbox, folders) = if all_folders {
        (cx.caller.acting_mailbox().to_owned(), None)
    } else {
        let folder_ids =
            folder_ids.ok_or_else(|| EwsFault::missing_child(request, TYPES_NS, "FolderIds"))?;
        let mut mailbox: Option<String> = None;
        let mut folders = Vec::new();
        for id in &folder_ids.children {
            let folder = cx.resolve_folder(id)?;
            if mailbox
                .as_ref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(&folder.mailbox))
            {
                return Err(ResponseError::new(
                    "ErrorInvalidSubscriptionRequest",
                    "A subscription can include folders of one mailbox only.",
                )
                .into());
            }
            cx.require(&folder, Need::ReadItems)?;
            mailbox = Some(folder.mailbox.clone());
            folders.push(folder_kind(folder.folder));
        }
        let mailbox =
            mailbox.ok_or_else(|| EwsFault::missing_child(folder_ids, TYPES_NS, "FolderId"))?;
        (mailbox, Some(folders))
    };
    if all_folders {
        let root = super::context::FolderRef {
            mailbox: mailbox.clone(),
            folder: FolderName::Msgfolderroot,
        };
        cx.require(&root, Need::Visible)?;
    }
    let now = cx.now;
    let kind = if push {
        let url = url.ok_or_else(|| EwsFault::missing_child(request, TYPES_NS, "URL"))?;
        let valid = url.len() < 2083
            && (url.starts_with("http://") || url.starts_with("https://"))
            && url
                .split_once("://")
                .is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
        if !valid {
            return Err(ResponseError::new(
                "ErrorInvalidPushSubscriptionUrl",
                "The URL for the push subscription is invalid; it must be an absolute http or https URL shorter than 2083 characters.",
            )
            .into());
        }
        let frequency = frequency.unwrap_or(30);
        SubscriptionKind::Push {
            url,
            status_frequency: jiff::SignedDuration::from_mins(frequency),
            last_delivery: now,
            failing_since: None,
            next_attempt: now,
            retries: 0,
            in_flight: false,
        }
    } else {
        let timeout =
            timeout.ok_or_else(|| EwsFault::missing_child(request, TYPES_NS, "Timeout"))?;
        SubscriptionKind::Pull {
            timeout: jiff::SignedDuration::from_mins(timeout),
            last_poll: now,
        }
    };
    let owner = subscription_owner(cx);
    let store = &mut cx.state.calendar;
    store.subscriptions.purge_expired(now);
    if store.subscriptions.count_for_mailbox(&mailbox) >= MAX_SUBSCRIPTIONS_PER_MAILBOX {
        return Err(ResponseError::new(
            "ErrorExceededSubscriptionCount",
            "You have exceeded the maximum number of subscriptions for this mailbox (EWSMaxSubscriptions: 20).",
        )
        .into());
    }
    store.mailbox_mut(&mailbox);
    let mb = store
        .mailbox(&mailbox)
        .ok_or_else(crate::calendar::service::item_not_found)?;
    let position = match &watermark {
        None => mb.event_position(),
        Some(text) => store.check_watermark(text, mb).ok_or_else(|| {
            ResponseError::new(
                "ErrorInvalidWatermark",
                "The watermark is invalid for this mailbox.",
            )
        })?,
    };
    let watermark_text = store.watermark(mb, position);
    let id = new_subscription_id();
    store.subscriptions.insert(Subscription {
        id: id.clone(),
        mailbox: mb.address().to_owned(),
        owner,
        folders,
        event_types: kinds,
        position,
        kind,
    });
    if push && !store.push_task_running {
        store.push_task_running = true;
        crate::push::start(cx.shared);
    }
    Ok((id, watermark_text))
}
