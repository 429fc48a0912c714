//! Writes `t:Notification` elements (for `GetEvents` and push `SendNotification`) from the
//! mailbox event log.
//!
//! Each event carries its own watermark (its position in the mailbox's event log), its
//! `TimeStamp`, the item (`ItemId`, with the current change key when the item still exists)
//! or folder (`FolderId`) and the `ParentFolderId`; moves carry `OldItemId` and
//! `OldParentFolderId`. A notification without events holds one `StatusEvent` with the current
//! watermark, as Exchange sends when nothing happened.

use super::Store;
use super::datetime::format_xs_datetime;
use super::ids::encode_change_key;
use super::item::FolderKind;
use super::mailbox::{Event, EventKind, EventTarget, Mailbox};
use super::render::{folder_name, write_folder_id};
use crate::ews::writer::XmlWriter;

/// Whether an event can be shown over EWS (its folder is addressable).
pub fn is_reportable(event: &Event) -> bool {
    folder_name(event.folder).is_some() && event.old.is_none_or(|(_, f)| folder_name(f).is_some())
}

fn write_item_ref(
    w: &mut XmlWriter,
    element: &str,
    store: &Store,
    mailbox: &Mailbox,
    key: u64,
    seq: u64,
) {
    let id = store.item_id(&mailbox.item_ref(key));
    let ck = mailbox
        .get(key)
        .map(Store::change_key)
        .unwrap_or_else(|| encode_change_key(seq, key));
    w.empty(element, &[("Id", &id), ("ChangeKey", &ck)]);
}

/// Writes one event element.
pub fn write_event(
    w: &mut XmlWriter,
    store: &Store,
    mailbox: &Mailbox,
    watermark: u64,
    event: &Event,
) {
    let element = format!("t:{}", event.kind.element());
    w.start(&element, &[]);
    w.leaf("t:Watermark", &store.watermark(mailbox, watermark));
    w.leaf("t:TimeStamp", &format_xs_datetime(event.time));
    match event.target {
        EventTarget::Item(key) => {
            write_item_ref(w, "t:ItemId", store, mailbox, key, event.seq);
            write_folder_id(w, "t:ParentFolderId", mailbox.address(), event.folder);
            if let Some((old_key, old_folder)) = event.old {
                write_item_ref(w, "t:OldItemId", store, mailbox, old_key, event.seq);
                write_folder_id(w, "t:OldParentFolderId", mailbox.address(), old_folder);
            }
        }
        EventTarget::Folder => {
            write_folder_id(w, "t:FolderId", mailbox.address(), event.folder);
            write_folder_id(w, "t:ParentFolderId", mailbox.address(), FolderKind::Root);
            if event.kind == EventKind::Modified {
                w.leaf("t:UnreadCount", "0");
            }
        }
    }
    w.end(&element);
}

/// Writes a `m:Notification` (or another element name) for `events` (with their watermark
/// positions), or a `StatusEvent` at `position` when there are none.
#[allow(clippy::too_many_arguments)]
pub fn write_notification(
    w: &mut XmlWriter,
    element: &str,
    store: &Store,
    mailbox: &Mailbox,
    subscription_id: &str,
    previous: u64,
    events: &[(u64, Event)],
    position: u64,
    more: bool,
) {
    w.start(element, &[]);
    w.leaf("t:SubscriptionId", subscription_id);
    w.leaf("t:PreviousWatermark", &store.watermark(mailbox, previous));
    w.leaf("t:MoreEvents", if more { "true" } else { "false" });
    if events.is_empty() {
        w.start("t:StatusEvent", &[]);
        w.leaf("t:Watermark", &store.watermark(mailbox, position));
        w.end("t:StatusEvent");
    }
    for (watermark, event) in events {
        write_event(w, store, mailbox, *watermark, event);
    }
    w.end(element);
}
