//! The calendar store of the emulator: items, recurrence, time zones, change journal,
//! notification subscriptions.
//!
//! # Layout
//! - [`item`]: the item model (calendar items, messages, meeting messages, extended properties).
//! - [`timezone`]: Windows time-zone ids mapped to IANA rules.
//! - [`recurrence`]: recurrence patterns and ranges, expansion in the series' time zone.
//! - [`datetime`]: `xs:dateTime`/`xs:date` parsing and formatting as EWS does it.
//! - [`ids`]: opaque, tamper-evident item ids, change keys, sync states and watermarks.
//! - [`mailbox`]: one mailbox: items, per-folder journals, calendar indexes, event log.
//! - [`subscription`]: pull and push subscriptions and their delivery state.
//! - [`shape`], [`parse`], [`render`]: property paths and response shapes, reading items from
//!   requests, writing items into responses (on top of the EWS DOM and writer).
//! - [`restriction`]: `FindItem` search restrictions.
//! - [`service`]: id resolution with access checks, property application, save validation.
//! - [`notification`]: `t:Notification` elements for `GetEvents` and push notifications.
//! - [`meetings`]: meeting requests, attendee copies and room auto-accept.
//!
//! # Model
//! The [`Store`] holds one [`Mailbox`] per primary SMTP address, created on first use, so it
//! needs no seeding: any mailbox the directory (E1's `directory` module) knows can hold items.
//! Ids carry a hash of the mailbox address, so an item id resolves to its mailbox without a
//! global index. The store is plain data; the server keeps it behind its state lock.
//!
//! Sync states are signed and expire after [`StoreSettings::sync_state_lifetime`] (emulator
//! clock). Real Exchange sync states do not carry a documented lifetime; the emulator expires
//! them so that clients are tested against `ErrorInvalidSyncStateData` recovery.

pub mod datetime;
pub mod ids;
pub mod item;
pub mod mailbox;
pub mod meetings;
pub mod notification;
pub mod parse;
pub mod recurrence;
pub mod render;
pub mod restriction;
pub mod service;
pub mod shape;
pub mod subscription;
pub mod timezone;

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

pub use datetime::{format_xs_date, format_xs_datetime, parse_xs_date, parse_xs_datetime};
pub use ids::{ItemRef, TokenKey};
pub use item::{FolderKind, Item, ItemKey};
pub use mailbox::Mailbox;
pub use subscription::SubscriptionTable;

use ids::{SyncStateData, WatermarkData};

/// Tunables of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// How long a sync state stays valid after it was issued.
    pub sync_state_lifetime: SignedDuration,
    /// Concurrent `SyncFolderItems` calls per account (`ConcurrentSyncCalls`, 5 in Exchange Online).
    pub max_concurrent_sync_calls: u32,
    /// `BackOffMilliseconds` of the `ConcurrentSyncCalls` `ErrorServerBusy` (5000 in the real sample).
    pub sync_busy_back_off_ms: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            sync_state_lifetime: SignedDuration::from_hours(24 * 30),
            max_concurrent_sync_calls: 5,
            sync_busy_back_off_ms: 5000,
        }
    }
}

/// Why an item id does not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Not an id this server issued (`ErrorInvalidIdMalformed`).
    Malformed,
    /// A valid id whose mailbox or item does not exist (`ErrorItemNotFound`).
    NotFound,
}

/// Why a sync state is refused (all map to `ErrorInvalidSyncStateData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStateError {
    /// Not issued by this server, edited or truncated.
    Corrupt,
    /// Issued for another mailbox or folder.
    Foreign,
    /// Older than the sync-state lifetime.
    Expired,
    /// Points past the folder's journal (cannot happen for a state this server issued).
    Future,
}

/// The calendar store: all mailboxes' items and all subscriptions.
#[derive(Debug, Clone)]
pub struct Store {
    keys: TokenKey,
    mailboxes: HashMap<String, Mailbox>,
    by_token: HashMap<u64, String>,
    /// Tunables.
    pub settings: StoreSettings,
    /// Notification subscriptions.
    pub subscriptions: SubscriptionTable,
    /// Whether the push delivery task runs (started by the first push subscription).
    pub push_task_running: bool,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(TokenKey::random())
    }
}

impl Store {
    /// An empty store whose ids and tokens are signed with `keys`.
    pub fn new(keys: TokenKey) -> Store {
        Store {
            keys,
            mailboxes: HashMap::new(),
            by_token: HashMap::new(),
            settings: StoreSettings::default(),
            subscriptions: SubscriptionTable::default(),
            push_task_running: false,
        }
    }

    /// The signing key of ids and tokens.
    pub fn keys(&self) -> &TokenKey {
        &self.keys
    }

    /// A mailbox by primary SMTP address (case-insensitive), if it has ever been used.
    pub fn mailbox(&self, address: &str) -> Option<&Mailbox> {
        self.mailboxes.get(&address.to_ascii_lowercase())
    }

    /// A mailbox by primary SMTP address, created empty on first use.
    pub fn mailbox_mut(&mut self, address: &str) -> &mut Mailbox {
        let lower = address.to_ascii_lowercase();
        let mailbox = self
            .mailboxes
            .entry(lower.clone())
            .or_insert_with(|| Mailbox::new(address));
        self.by_token.entry(mailbox.token()).or_insert(lower);
        mailbox
    }

    /// A mailbox by the token its ids carry.
    pub fn mailbox_by_token(&self, token: u64) -> Option<&Mailbox> {
        self.by_token
            .get(&token)
            .and_then(|a| self.mailboxes.get(a))
    }

    /// All mailboxes that hold or held items.
    pub fn mailboxes(&self) -> impl Iterator<Item = &Mailbox> {
        self.mailboxes.values()
    }

    /// Decodes an item id and finds its mailbox. The item itself may still be gone; callers
    /// look it up in the mailbox.
    pub fn resolve_id(&self, text: &str) -> Result<(&Mailbox, ItemRef), IdError> {
        let item = self.keys.decode_item_id(text).ok_or(IdError::Malformed)?;
        let mailbox = self
            .mailbox_by_token(item.mailbox())
            .ok_or(IdError::NotFound)?;
        Ok((mailbox, item))
    }

    /// Encodes an item id.
    pub fn item_id(&self, item: &ItemRef) -> String {
        self.keys.encode_item_id(item)
    }

    /// The change key of an item version.
    pub fn change_key(item: &Item) -> String {
        ids::encode_change_key(item.version, item.key)
    }

    /// Issues a sync state for `folder` of `mailbox` at journal `position`.
    pub fn issue_sync_state(
        &self,
        mailbox: &Mailbox,
        folder: FolderKind,
        position: u64,
        now: Timestamp,
    ) -> String {
        self.keys.encode_sync_state(&SyncStateData {
            mailbox: mailbox.token(),
            folder,
            position,
            issued_at: now.as_second(),
        })
    }

    /// Checks a sync state sent by a client; returns the journal position it names.
    pub fn check_sync_state(
        &self,
        text: &str,
        mailbox: &Mailbox,
        folder: FolderKind,
        now: Timestamp,
    ) -> Result<u64, SyncStateError> {
        let state = self
            .keys
            .decode_sync_state(text)
            .ok_or(SyncStateError::Corrupt)?;
        if state.mailbox != mailbox.token() || state.folder != folder {
            return Err(SyncStateError::Foreign);
        }
        let age = SignedDuration::from_secs(now.as_second().saturating_sub(state.issued_at));
        if age > self.settings.sync_state_lifetime {
            return Err(SyncStateError::Expired);
        }
        if state.position > mailbox.current_change() {
            return Err(SyncStateError::Future);
        }
        Ok(state.position)
    }

    /// Push notifications due at `now` (marks them in flight); see
    /// [`SubscriptionTable::due_pushes`].
    pub fn due_pushes(&mut self, now: Timestamp) -> Vec<subscription::PushJob> {
        let mailboxes = &self.mailboxes;
        self.subscriptions.due_pushes(now, |address| {
            mailboxes
                .get(&address.to_ascii_lowercase())
                .map(|m| (m.events(), m.event_position()))
        })
    }

    /// Encodes a watermark for an event-log position of a mailbox.
    pub fn watermark(&self, mailbox: &Mailbox, position: u64) -> String {
        self.keys.encode_watermark(&WatermarkData {
            mailbox: mailbox.token(),
            position,
        })
    }

    /// Decodes a watermark sent by a client for `mailbox`; `None` if invalid or foreign.
    pub fn check_watermark(&self, text: &str, mailbox: &Mailbox) -> Option<u64> {
        let mark = self.keys.decode_watermark(text)?;
        (mark.mailbox == mailbox.token() && mark.position <= mailbox.event_position())
            .then_some(mark.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::item::{CalendarItem, ItemKind};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn ids_resolve_to_their_mailbox() {
        let mut store = Store::new(TokenKey::from_bytes([1; 32]));
        let item = Item::new(ItemKind::Calendar(CalendarItem::new(
            ts("2026-01-01T09:00:00Z"),
            ts("2026-01-01T10:00:00Z"),
        )));
        let key = store.mailbox_mut("Room1@Contoso.com").insert(
            FolderKind::Calendar,
            item,
            ts("2026-01-01T00:00:00Z"),
        );
        let mailbox = store.mailbox("room1@contoso.com").unwrap();
        let id = store.item_id(&mailbox.item_ref(key));
        let (found, item_ref) = store.resolve_id(&id).unwrap();
        assert_eq!(found.address(), "Room1@Contoso.com");
        assert_eq!(item_ref.key(), key);
        assert_eq!(
            store.resolve_id("AAMkAGI2").unwrap_err(),
            IdError::Malformed
        );
        let other = Store::new(TokenKey::from_bytes([1; 32]));
        assert_eq!(other.resolve_id(&id).unwrap_err(), IdError::NotFound);
    }

    #[test]
    fn sync_states_are_checked_for_mailbox_folder_and_age() {
        let mut store = Store::new(TokenKey::from_bytes([2; 32]));
        store.mailbox_mut("a@contoso.com");
        store.mailbox_mut("b@contoso.com");
        let now = ts("2026-01-01T00:00:00Z");
        let a = store.mailbox("a@contoso.com").unwrap();
        let b = store.mailbox("b@contoso.com").unwrap();
        let state = store.issue_sync_state(a, FolderKind::Calendar, 0, now);
        assert_eq!(
            store.check_sync_state(&state, a, FolderKind::Calendar, now),
            Ok(0)
        );
        assert_eq!(
            store.check_sync_state(&state, b, FolderKind::Calendar, now),
            Err(SyncStateError::Foreign)
        );
        assert_eq!(
            store.check_sync_state(&state, a, FolderKind::Inbox, now),
            Err(SyncStateError::Foreign)
        );
        let late = ts("2026-03-01T00:00:00Z");
        assert_eq!(
            store.check_sync_state(&state, a, FolderKind::Calendar, late),
            Err(SyncStateError::Expired)
        );
        assert_eq!(
            store.check_sync_state("H4sIAAAA", a, FolderKind::Calendar, now),
            Err(SyncStateError::Corrupt)
        );
    }
}
