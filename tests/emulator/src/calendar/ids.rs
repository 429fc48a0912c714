//! Opaque identifiers and tokens: `ItemId`, occurrence ids, `ChangeKey`, `SyncState` and
//! `Watermark`.
//!
//! Exchange's identifiers are base64 blobs clients must not interpret. The emulator's look the
//! same (an item id starts `AAMkA`, a change key `DwAAABYAAAA`, a sync state `H4sIA`, a
//! watermark `AQAAA`, like real ones) and carry what the store needs to resolve them:
//! - an item id holds the mailbox (a hash of its address), the item's serial and, for an
//!   occurrence, the master's serial plus the occurrence's original start (Exchange encodes
//!   the master id plus the instance the same way);
//! - item ids, sync states and watermarks end in an HMAC-SHA256 tag under the store's key, so
//!   a client that edits one gets `ErrorInvalidIdMalformed` / `ErrorInvalidSyncStateData` /
//!   `ErrorInvalidWatermark` instead of someone else's data;
//! - a sync state also records when it was issued, so the store can expire it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::item::{FolderKind, ItemKey};

type HmacSha256 = Hmac<Sha256>;

const ITEM_MAGIC: [u8; 4] = [0x00, 0x03, 0x24, 0x00];
const CHANGE_KEY_MAGIC: [u8; 8] = [0x0f, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00];
const SYNC_STATE_MAGIC: [u8; 4] = [0x1f, 0x8b, 0x08, 0x00];
const WATERMARK_MAGIC: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
const ITEM_TAG_LEN: usize = 10;
const STATE_TAG_LEN: usize = 16;

/// The stable token of a mailbox inside ids (first 8 bytes of SHA-256 of the lower-cased
/// primary address).
pub fn mailbox_token(address: &str) -> u64 {
    let digest = Sha256::digest(address.to_ascii_lowercase().as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// What an item id points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemRef {
    /// A stored item (single, master, message).
    Item {
        /// Mailbox token.
        mailbox: u64,
        /// Item serial.
        key: ItemKey,
    },
    /// An occurrence (or exception) of a series.
    Occurrence {
        /// Mailbox token.
        mailbox: u64,
        /// The master's serial.
        master: ItemKey,
        /// Original start, seconds since the Unix epoch.
        original_start: i64,
    },
}

impl ItemRef {
    /// The mailbox token.
    pub fn mailbox(&self) -> u64 {
        match *self {
            ItemRef::Item { mailbox, .. } | ItemRef::Occurrence { mailbox, .. } => mailbox,
        }
    }

    /// The stored item's serial (the master's for an occurrence).
    pub fn key(&self) -> ItemKey {
        match *self {
            ItemRef::Item { key, .. } => key,
            ItemRef::Occurrence { master, .. } => master,
        }
    }
}

/// A decoded change key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeKey {
    /// Change number of the version it names.
    pub version: u64,
    /// Low 32 bits of the item serial it was issued for.
    pub key_low: u32,
}

/// A decoded sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStateData {
    /// Mailbox token.
    pub mailbox: u64,
    /// The folder synchronised.
    pub folder: FolderKind,
    /// Journal position (change number) the client has seen everything up to.
    pub position: u64,
    /// When the state was issued (seconds since the Unix epoch, emulator clock).
    pub issued_at: i64,
}

/// A decoded watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkData {
    /// Mailbox token.
    pub mailbox: u64,
    /// Change number of the event the watermark points after.
    pub position: u64,
}

/// The key that signs item ids, sync states and watermarks.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl TokenKey {
    /// A fresh random key (ids from one emulator run are not valid in another).
    pub fn random() -> TokenKey {
        TokenKey(rand::random())
    }

    /// A fixed key (tests that need reproducible ids).
    pub fn from_bytes(bytes: [u8; 32]) -> TokenKey {
        TokenKey(bytes)
    }

    fn tag(&self, domain: &[u8], payload: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.0) else {
            unreachable!("HMAC-SHA256 accepts any key length")
        };
        mac.update(domain);
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    fn seal(&self, domain: &[u8], mut payload: Vec<u8>, tag_len: usize) -> String {
        let tag = self.tag(domain, &payload);
        payload.extend_from_slice(&tag[..tag_len]);
        STANDARD.encode(payload)
    }

    fn open(&self, domain: &[u8], text: &str, tag_len: usize) -> Option<Vec<u8>> {
        let mut bytes = STANDARD.decode(text.trim()).ok()?;
        if bytes.len() <= tag_len {
            return None;
        }
        let tag = bytes.split_off(bytes.len() - tag_len);
        let expected = self.tag(domain, &bytes);
        // Constant-time comparison is not needed in an emulator, but costs nothing.
        let diff = tag
            .iter()
            .zip(&expected[..tag_len])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (diff == 0).then_some(bytes)
    }

    /// Encodes an item id.
    pub fn encode_item_id(&self, item: &ItemRef) -> String {
        let mut payload = ITEM_MAGIC.to_vec();
        match *item {
            ItemRef::Item { mailbox, key } => {
                payload.push(1);
                payload.extend_from_slice(&mailbox.to_be_bytes());
                payload.extend_from_slice(&key.to_be_bytes());
            }
            ItemRef::Occurrence {
                mailbox,
                master,
                original_start,
            } => {
                payload.push(2);
                payload.extend_from_slice(&mailbox.to_be_bytes());
                payload.extend_from_slice(&master.to_be_bytes());
                payload.extend_from_slice(&original_start.to_be_bytes());
            }
        }
        self.seal(b"item-id", payload, ITEM_TAG_LEN)
    }

    /// Decodes an item id; `None` means malformed (`ErrorInvalidIdMalformed`).
    pub fn decode_item_id(&self, text: &str) -> Option<ItemRef> {
        let bytes = self.open(b"item-id", text, ITEM_TAG_LEN)?;
        let rest = bytes.strip_prefix(&ITEM_MAGIC[..])?;
        let (&kind, rest) = rest.split_first()?;
        let mailbox = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        let key = u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?);
        match (kind, rest.len()) {
            (1, 16) => Some(ItemRef::Item { mailbox, key }),
            (2, 24) => Some(ItemRef::Occurrence {
                mailbox,
                master: key,
                original_start: i64::from_be_bytes(rest.get(16..24)?.try_into().ok()?),
            }),
            _ => None,
        }
    }

    /// Encodes a sync state.
    pub fn encode_sync_state(&self, state: &SyncStateData) -> String {
        let mut payload = SYNC_STATE_MAGIC.to_vec();
        payload.push(1);
        payload.extend_from_slice(&state.mailbox.to_be_bytes());
        payload.push(u8::try_from(state.folder.index()).unwrap_or(u8::MAX));
        payload.extend_from_slice(&state.position.to_be_bytes());
        payload.extend_from_slice(&state.issued_at.to_be_bytes());
        self.seal(b"sync-state", payload, STATE_TAG_LEN)
    }

    /// Decodes a sync state; `None` means forged, truncated or corrupt.
    pub fn decode_sync_state(&self, text: &str) -> Option<SyncStateData> {
        let bytes = self.open(b"sync-state", text, STATE_TAG_LEN)?;
        let rest = bytes.strip_prefix(&SYNC_STATE_MAGIC[..])?;
        if rest.len() != 1 + 8 + 1 + 8 + 8 || rest[0] != 1 {
            return None;
        }
        Some(SyncStateData {
            mailbox: u64::from_be_bytes(rest[1..9].try_into().ok()?),
            folder: *FolderKind::ALL.get(usize::from(rest[9]))?,
            position: u64::from_be_bytes(rest[10..18].try_into().ok()?),
            issued_at: i64::from_be_bytes(rest[18..26].try_into().ok()?),
        })
    }

    /// Encodes a watermark.
    pub fn encode_watermark(&self, watermark: &WatermarkData) -> String {
        let mut payload = WATERMARK_MAGIC.to_vec();
        payload.extend_from_slice(&watermark.mailbox.to_be_bytes());
        payload.extend_from_slice(&watermark.position.to_be_bytes());
        self.seal(b"watermark", payload, ITEM_TAG_LEN)
    }

    /// Decodes a watermark; `None` means invalid (`ErrorInvalidWatermark`).
    pub fn decode_watermark(&self, text: &str) -> Option<WatermarkData> {
        let bytes = self.open(b"watermark", text, ITEM_TAG_LEN)?;
        let rest = bytes.strip_prefix(&WATERMARK_MAGIC[..])?;
        if rest.len() != 16 {
            return None;
        }
        Some(WatermarkData {
            mailbox: u64::from_be_bytes(rest[..8].try_into().ok()?),
            position: u64::from_be_bytes(rest[8..16].try_into().ok()?),
        })
    }
}

/// Encodes a change key.
pub fn encode_change_key(version: u64, key: ItemKey) -> String {
    let mut bytes = CHANGE_KEY_MAGIC.to_vec();
    bytes.extend_from_slice(&version.to_be_bytes());
    bytes.extend_from_slice(&((key & 0xffff_ffff) as u32).to_be_bytes());
    STANDARD.encode(bytes)
}

/// Decodes a change key; `None` means it cannot be parsed (`ErrorInvalidChangeKey`).
pub fn decode_change_key(text: &str) -> Option<ChangeKey> {
    let bytes = STANDARD.decode(text.trim()).ok()?;
    let rest = bytes.strip_prefix(&CHANGE_KEY_MAGIC[..])?;
    if rest.len() != 12 {
        return None;
    }
    Some(ChangeKey {
        version: u64::from_be_bytes(rest[..8].try_into().ok()?),
        key_low: u32::from_be_bytes(rest[8..12].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_bytes([7; 32])
    }

    #[test]
    fn item_ids_round_trip_and_look_like_exchange_ids() {
        let mailbox = mailbox_token("Room.1@contoso.com");
        assert_eq!(mailbox, mailbox_token("room.1@CONTOSO.com"));
        let item = ItemRef::Item { mailbox, key: 42 };
        let text = key().encode_item_id(&item);
        assert!(text.starts_with("AAMkA"), "{text}");
        assert_eq!(key().decode_item_id(&text), Some(item));
        let occurrence = ItemRef::Occurrence {
            mailbox,
            master: 42,
            original_start: 1_767_254_400,
        };
        let occ_text = key().encode_item_id(&occurrence);
        assert_ne!(occ_text, text);
        assert_eq!(key().decode_item_id(&occ_text), Some(occurrence));
    }

    #[test]
    fn edited_or_foreign_ids_are_malformed() {
        let text = key().encode_item_id(&ItemRef::Item { mailbox: 1, key: 2 });
        let mut bytes = STANDARD.decode(&text).unwrap();
        bytes[12] ^= 1;
        assert_eq!(key().decode_item_id(&STANDARD.encode(&bytes)), None);
        assert_eq!(TokenKey::from_bytes([8; 32]).decode_item_id(&text), None);
        assert_eq!(key().decode_item_id("AAMkA"), None);
        assert_eq!(key().decode_item_id("not base64 at all!"), None);
        assert_eq!(key().decode_item_id(""), None);
    }

    #[test]
    fn change_keys_round_trip_and_reject_garbage() {
        let text = encode_change_key(17, 0x1_0000_0005);
        assert!(text.starts_with("DwAAABYAAAA"), "{text}");
        assert_eq!(
            decode_change_key(&text),
            Some(ChangeKey {
                version: 17,
                key_low: 5
            })
        );
        assert_eq!(decode_change_key("DwAAA"), None);
        assert_eq!(decode_change_key(""), None);
        assert_eq!(decode_change_key("%%%"), None);
    }

    #[test]
    fn sync_states_are_tamper_evident() {
        let state = SyncStateData {
            mailbox: 9,
            folder: FolderKind::Calendar,
            position: 1234,
            issued_at: 1_767_254_400,
        };
        let text = key().encode_sync_state(&state);
        assert!(text.starts_with("H4sIA"), "{text}");
        assert_eq!(key().decode_sync_state(&text), Some(state));
        let truncated = &text[..text.len() - 4];
        assert_eq!(key().decode_sync_state(truncated), None);
        let mut bytes = STANDARD.decode(&text).unwrap();
        bytes[20] ^= 0x40;
        assert_eq!(key().decode_sync_state(&STANDARD.encode(&bytes)), None);
    }

    #[test]
    fn watermarks_round_trip() {
        let mark = WatermarkData {
            mailbox: 3,
            position: 99,
        };
        let text = key().encode_watermark(&mark);
        assert!(text.starts_with("AQAAA"), "{text}");
        assert_eq!(key().decode_watermark(&text), Some(mark));
        assert_eq!(key().decode_watermark(&text.replace('A', "B")), None);
    }
}
