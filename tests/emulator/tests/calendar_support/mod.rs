//! Support for the calendar tests: the shared emulator test support (`../support`: demo seed,
//! independent HTTP client, tokens, admin API, XML reader) plus an EWS client that acts as a
//! mailbox or as the delegated service user, and builders of the calendar operations'
//! requests. Nothing here uses the emulator's (or the guest's) request or XML code.

#![allow(dead_code)]

use std::io;

use exo_emulator::RunningEmulator;
use serde_json::Value;

#[path = "../support/mod.rs"]
mod shared;
pub use shared::*;

/// Who a request acts as.
#[derive(Debug, Clone)]
pub enum As {
    /// App-only impersonation of a mailbox.
    Impersonating(String),
    /// The delegated service user.
    Delegate,
}

/// A client of the emulator's EWS endpoint.
#[derive(Debug, Clone)]
pub struct Ews {
    pub url: String,
    pub app: String,
    pub svc: String,
}

impl Ews {
    pub async fn new(emu: &RunningEmulator) -> Ews {
        Ews {
            url: emu.ews_url(),
            app: secret_token(emu).await,
            svc: user_token(emu, SVC, SVC_PASSWORD).await,
        }
    }

    /// POSTs a body element (`m:` operation) with the right headers for `who`.
    pub async fn call(&self, who: &As, body: &str) -> Response {
        self.try_call(who, body, "").await.expect("EWS answers")
    }

    /// Like `call`, with extra SOAP header XML (e.g. `TimeZoneContext`).
    pub async fn try_call(&self, who: &As, body: &str, extra_header: &str) -> io::Result<Response> {
        let (token, header, anchor) = match who {
            As::Impersonating(mailbox) => (
                &self.app,
                impersonate("PrimarySmtpAddress", mailbox),
                mailbox.as_str(),
            ),
            As::Delegate => (&self.svc, String::new(), SVC),
        };
        let xml = soap(&format!("{V2013}{header}{extra_header}"), body);
        post_soap(&self.url, token, Some(anchor), &xml).await
    }
}

/// Acts as the mailbox itself (app-only impersonation).
pub fn imp(mailbox: &str) -> As {
    As::Impersonating(mailbox.to_owned())
}

/// `DistinguishedFolderId`, optionally of another mailbox.
pub fn folder(id: &str, mailbox: Option<&str>) -> String {
    match mailbox {
        Some(m) => format!(
            r#"<t:DistinguishedFolderId Id="{id}"><t:Mailbox><t:EmailAddress>{m}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#
        ),
        None => format!(r#"<t:DistinguishedFolderId Id="{id}"/>"#),
    }
}

/// Creates an item through the admin API (as the mailbox's Outlook user); returns its JSON.
pub async fn admin_create(emu: &RunningEmulator, mailbox: &str, item: Value) -> Value {
    let r = admin(emu, "POST", &format!("mailboxes/{mailbox}/items"), &item).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// Changes an item through the admin API (as the mailbox's Outlook user).
pub async fn admin_patch(emu: &RunningEmulator, mailbox: &str, id: &str, body: &Value) -> Response {
    admin(
        emu,
        "PATCH",
        &format!("mailboxes/{mailbox}/items/{}", percent_encode(id)),
        body,
    )
    .await
}

/// Lists a mailbox folder's items through the admin API.
pub async fn admin_items(emu: &RunningEmulator, mailbox: &str, folder: &str) -> Vec<Value> {
    let r = admin(
        emu,
        "GET",
        &format!("mailboxes/{mailbox}/items?folder={folder}"),
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

/// `ItemId` (`Id`, `ChangeKey`) of the first item in a response.
pub fn first_item_id(node: &Node) -> (String, String) {
    let id = node
        .find("ItemId")
        .unwrap_or_else(|| panic!("no ItemId in {node:?}"));
    (
        id.attr("Id").unwrap_or("").to_owned(),
        id.attr("ChangeKey").unwrap_or("").to_owned(),
    )
}

/// A `CreateItem` of one calendar item (the inner XML of `t:CalendarItem`).
pub fn create_item(send: &str, folder_xml: &str, item_xml: &str) -> String {
    format!(
        r#"<m:CreateItem SendMeetingInvitations="{send}"><m:SavedItemFolderId>{folder_xml}</m:SavedItemFolderId><m:Items><t:CalendarItem>{item_xml}</t:CalendarItem></m:Items></m:CreateItem>"#
    )
}

/// Creates one calendar item by EWS; returns (id, change key).
pub async fn ews_create(ews: &Ews, who: &As, folder_xml: &str, item_xml: &str) -> (String, String) {
    let r = ews
        .call(who, &create_item("SendToNone", folder_xml, item_xml))
        .await;
    let doc = r.xml();
    assert_eq!(doc.codes(), ["NoError"], "{}", r.text());
    first_item_id(&doc)
}

/// A `GetItem` of ids with a base shape and additional `FieldURI`s.
pub fn get_item(ids: &[&str], base: &str, fields: &[&str]) -> String {
    let extra: String = fields
        .iter()
        .map(|f| {
            if f.starts_with('<') {
                (*f).to_owned()
            } else {
                format!(r#"<t:FieldURI FieldURI="{f}"/>"#)
            }
        })
        .collect();
    let ids: String = ids
        .iter()
        .map(|id| format!(r#"<t:ItemId Id="{id}"/>"#))
        .collect();
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>{base}</t:BaseShape><t:AdditionalProperties>{extra}</t:AdditionalProperties></m:ItemShape><m:ItemIds>{ids}</m:ItemIds></m:GetItem>"#
    )
}

/// A `CalendarView` `FindItem` on a folder.
pub fn calendar_view(folder_xml: &str, start: &str, end: &str, max: Option<usize>) -> String {
    let max = max
        .map(|m| format!(r#" MaxEntriesReturned="{m}""#))
        .unwrap_or_default();
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:End"/><t:FieldURI FieldURI="calendar:CalendarItemType"/></t:AdditionalProperties></m:ItemShape><m:CalendarView{max} StartDate="{start}" EndDate="{end}"/><m:ParentFolderIds>{folder_xml}</m:ParentFolderIds></m:FindItem>"#
    )
}

/// A `SyncFolderItems` request.
pub fn sync_items(folder_xml: &str, state: Option<&str>, max: usize, extra: &str) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId>{folder_xml}</m:SyncFolderId>{state}{extra}<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"#
    )
}

/// Waits (polling, real time) until `check` holds or `seconds` pass; returns whether it held.
pub async fn eventually(seconds: u64, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
