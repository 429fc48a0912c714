//! Folder ids and distinguished folder names.
//!
//! Every mailbox has the folders of [`FolderName`] (`root`, `msgfolderroot`, `calendar`,
//! `drafts`, `inbox`, `sentitems`, `deleteditems`). Folder ids are opaque base64 (like Exchange's): they encode
//! the mailbox's Exchange GUID and the folder, and are stable across runs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use crate::seed::FolderName;
use crate::util::guid_string;

/// Every value of Exchange Online's `DistinguishedFolderIdNameType`: the EWS reference
/// ("DistinguishedFolderId") list, MS-OXWSCDATA 2.2.5.10 and the later Exchange Online names.
/// A valid name the emulator does not model answers `ErrorFolderNotFound`, not a schema error.
pub const DISTINGUISHED_FOLDER_NAMES: &[&str] = &[
    "calendar",
    "contacts",
    "deleteditems",
    "drafts",
    "inbox",
    "journal",
    "notes",
    "outbox",
    "sentitems",
    "tasks",
    "msgfolderroot",
    "publicfoldersroot",
    "root",
    "junkemail",
    "searchfolders",
    "voicemail",
    "recoverableitemsroot",
    "recoverableitemsdeletions",
    "recoverableitemsversions",
    "recoverableitemspurges",
    "archiveroot",
    "archivemsgfolderroot",
    "archivedeleteditems",
    "archiveinbox",
    "archiverecoverableitemsroot",
    "archiverecoverableitemsdeletions",
    "archiverecoverableitemsversions",
    "archiverecoverableitemspurges",
    "syncissues",
    "conflicts",
    "localfailures",
    "serverfailures",
    "recipientcache",
    "quickcontacts",
    "conversationhistory",
    "adminauditlogs",
    "todosearch",
    "mycontacts",
    "directory",
    "imcontactlist",
    "peopleconnect",
    "favorites",
    // MS-OXWSCDATA 2.2.5.10 (Exchange 2016 and later).
    "recoverableitemsdiscoveryholds",
    "archiverecoverableitemsdiscoveryholds",
    // Exchange Online's Types.xsd (15.20) adds these.
    "mecontact",
    "personmetadata",
    "teamspaceactivity",
    "teamspacemessaging",
    "teamspaceworkitems",
    "scheduled",
    "orionnotes",
    "tagitems",
    "alltaggeditems",
    "allcategorizeditems",
    "externalcontacts",
    "teamchat",
    "teamchathistory",
    "yammerdata",
    "yammerroot",
    "yammerinbound",
    "yammeroutbound",
    "yammerfeeds",
    "kaizaladata",
    "messageingestion",
    "onedriveroot",
    "onedriverecylebin",
    "onedrivesystem",
    "onedrivevolume",
    "important",
    "starred",
    "archive",
    // Names exchangelib's folder classes request from Exchange Online (its test suite runs
    // against a live tenant, so the service accepts them).
    "allcontacts",
    "allitems",
    "allpersonmetadata",
    "companycontacts",
    "dlppolicyevaluation",
    "fromfavoritesenders",
    "inference",
    "onenotepagepreviews",
    "peoplecentricconversationbuddies",
    "qedcdefaultretention",
    "qedclongretention",
    "qedcmediumretention",
    "qedcshortretention",
    "quarantinedemail",
    "quarantinedemaildefaultcategory",
    "recoverableitemssubstrateholds",
    "relevantcontacts",
    "sharepointnotifications",
    "shortnotes",
    "temporarysaves",
    "usercuratedcontacts",
];

/// True when `id` is a valid `DistinguishedFolderIdNameType` value.
pub fn is_distinguished_folder_name(id: &str) -> bool {
    DISTINGUISHED_FOLDER_NAMES.contains(&id)
}

const MAGIC: &[u8; 4] = b"\x00\x03\x24F";

fn guid_bytes(guid: &str) -> Option<[u8; 16]> {
    let hex: String = guid.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The folder id of `folder` in the mailbox with primary address `mailbox`.
pub fn encode_folder_id(mailbox: &str, folder: FolderName) -> String {
    let guid = crate::directory::mailbox_guid(&crate::seed::Mailbox {
        address: mailbox.to_string(),
        ..placeholder()
    });
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&guid_bytes(&guid).unwrap_or_default());
    bytes.push(0);
    bytes.extend_from_slice(folder.id().as_bytes());
    STANDARD.encode(bytes)
}

/// Decodes a folder id into (mailbox GUID, folder); `None` when malformed.
pub fn decode_folder_id(id: &str) -> Option<(String, FolderName)> {
    let bytes = STANDARD.decode(id.trim()).ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 18 || rest[16] != 0 {
        return None;
    }
    let name = std::str::from_utf8(&rest[17..]).ok()?;
    let guid: &[u8; 16] = rest[..16].try_into().ok()?;
    Some((guid_string(guid), FolderName::from_id(name)?))
}

/// A stable change key for a folder.
pub fn folder_change_key(mailbox: &str, folder: FolderName) -> String {
    let d = sha2::Sha256::digest(format!("{}|{}", mailbox.to_ascii_lowercase(), folder.id()));
    let mut bytes = vec![0x01, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00];
    bytes.extend_from_slice(&d[..16]);
    STANDARD.encode(bytes)
}

fn placeholder() -> crate::seed::Mailbox {
    crate::seed::Mailbox {
        address: String::new(),
        aliases: Vec::new(),
        upn: None,
        kind: crate::seed::MailboxKind::User,
        display_name: None,
        password: None,
        mfa_required: false,
        conditional_access_blocked: false,
        password_expired: false,
        ews_enabled: None,
        has_mailbox: true,
        sid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_ids_round_trip_and_reject_garbage() {
        let id = encode_folder_id("Room1@contoso.com", FolderName::Calendar);
        let (guid, folder) = decode_folder_id(&id).unwrap();
        assert_eq!(folder, FolderName::Calendar);
        let m = crate::seed::Mailbox {
            address: "room1@contoso.com".into(),
            ..placeholder()
        };
        assert_eq!(guid, crate::directory::mailbox_guid(&m));
        assert!(decode_folder_id("AAMkAD").is_none());
        assert!(decode_folder_id("not base64!").is_none());
        assert_ne!(
            folder_change_key("a@x.com", FolderName::Inbox),
            folder_change_key("a@x.com", FolderName::Drafts)
        );
    }
}
