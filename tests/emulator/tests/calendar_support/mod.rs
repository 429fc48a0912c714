//! Support for the calendar tests: an independent HTTP/1.1 client over raw TCP, tokens from the
//! emulator's token endpoint, SOAP request builders and a namespace-resolving XML reader built
//! on quick-xml. Nothing here uses the emulator's (or the guest's) request or XML code.

#![allow(dead_code)]

use std::io;

use exo_emulator::{Emulator, RunningEmulator, Seed};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DOMAIN: &str = "contoso.com";
pub const TENANT_ID: &str = "3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44";
pub const SECRET_APP: &str = "5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70";
pub const SECRET: &str = "demo-only-client-secret~not-for-production";
pub const PUBLIC_APP: &str = "c3d5e7f9-2b4c-4d6e-9f0a-1b2c3d4e5f60";
pub const SVC: &str = "svc-rooms@contoso.com";
pub const SVC_PASSWORD: &str = "demo-only-Passw0rd!";
pub const ALICE: &str = "alice@contoso.com";
pub const BOB: &str = "bob@contoso.com";
pub const ROOM: &str = "room-berlin@contoso.com";
pub const ROOM2: &str = "room-hamburg@contoso.com";

pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

/// Starts an emulator with the demo seed.
pub async fn start() -> RunningEmulator {
    let seed = Seed::load(format!("{}/seeds/demo.toml", env!("CARGO_MANIFEST_DIR")))
        .expect("demo seed loads");
    Emulator::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn xml(&self) -> Node {
        parse_xml(&self.text())
    }
}

/// One request on a fresh connection (`Connection: close`).
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Resp> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no HTTP answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn token(emu: &RunningEmulator, tenant: &str, pairs: &[(&str, &str)]) -> String {
    let r = send(
        "POST",
        &emu.token_endpoint(tenant),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form(pairs).as_bytes(),
    )
    .await
    .expect("token endpoint answers");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// An app-only token (client secret, `full_access_as_app`).
pub async fn app_token(emu: &RunningEmulator) -> String {
    let scope = format!("{}/.default", emu.ews_resource());
    token(
        emu,
        DOMAIN,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", &scope),
        ],
    )
    .await
}

/// A delegated token of the service user (ROPC).
pub async fn svc_token(emu: &RunningEmulator) -> String {
    let scope = format!("{}/EWS.AccessAsUser.All", emu.ews_resource());
    token(
        emu,
        TENANT_ID,
        &[
            ("grant_type", "password"),
            ("client_id", PUBLIC_APP),
            ("username", SVC),
            ("password", SVC_PASSWORD),
            ("scope", &scope),
        ],
    )
    .await
}

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
            app: app_token(emu).await,
            svc: svc_token(emu).await,
        }
    }

    /// POSTs a body element (`m:` operation) with the right headers for `who`.
    pub async fn call(&self, who: &As, body: &str) -> Resp {
        self.try_call(who, body, "").await.expect("EWS answers")
    }

    /// Like `call`, with extra SOAP header XML (e.g. `TimeZoneContext`).
    pub async fn try_call(&self, who: &As, body: &str, extra_header: &str) -> io::Result<Resp> {
        let (token, header, anchor) = match who {
            As::Impersonating(mailbox) => (
                &self.app,
                format!(
                    "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>"
                ),
                mailbox.clone(),
            ),
            As::Delegate => (&self.svc, String::new(), SVC.to_owned()),
        };
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:m="{M}" xmlns:t="{T}"><soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/>{header}{extra_header}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#
        );
        let auth = format!("Bearer {token}");
        send(
            "POST",
            &self.url,
            &[
                ("Content-Type", "text/xml; charset=utf-8"),
                ("Authorization", &auth),
                ("X-AnchorMailbox", &anchor),
            ],
            xml.as_bytes(),
        )
        .await
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

/// Admin API: POST JSON, expecting a status.
pub async fn admin(emu: &RunningEmulator, method: &str, path: &str, body: &Value) -> Resp {
    let text = body.to_string();
    let url = format!("{}/admin/{path}", emu.base_url());
    let body: &[u8] = if method == "GET" || method == "DELETE" {
        b""
    } else {
        text.as_bytes()
    };
    send(method, &url, &[("Content-Type", "application/json")], body)
        .await
        .expect("admin answers")
}

/// Percent-encodes an item id for an admin URL path (ids are base64 with `+`, `/`, `=`).
pub fn enc(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Creates an item through the admin API (as the mailbox's Outlook user); returns its JSON.
pub async fn admin_create(emu: &RunningEmulator, mailbox: &str, item: Value) -> Value {
    let r = admin(emu, "POST", &format!("mailboxes/{mailbox}/items"), &item).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
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

/// One element of a parsed XML tree.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.find_all(name, out);
        }
    }

    pub fn all(&self, name: &str) -> Vec<&Node> {
        let mut out = Vec::new();
        self.find_all(name, &mut out);
        out
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn text_of(&self, name: &str) -> String {
        self.find(name)
            .map(|n| n.text.trim().to_owned())
            .unwrap_or_default()
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `{ns}name` lines, indented: the tree's shape without text, attributes and prefixes.
    pub fn shape(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.shape_into(0, &mut out);
        out
    }

    fn shape_into(&self, depth: usize, out: &mut Vec<String>) {
        out.push(format!(
            "{}{{{}}}{}",
            "  ".repeat(depth),
            self.ns,
            self.name
        ));
        for c in &self.children {
            c.shape_into(depth + 1, out);
        }
    }

    /// `ResponseCode` texts of all response messages, in order.
    pub fn codes(&self) -> Vec<String> {
        self.all("ResponseCode")
            .iter()
            .map(|n| n.text.trim().to_owned())
            .collect()
    }
}

/// Parses XML with quick-xml's namespace reader.
pub fn parse_xml(xml: &str) -> Node {
    let mut reader = NsReader::from_str(xml);
    let mut stack = vec![Node::default()];
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .unwrap_or_else(|e| panic!("bad XML ({e}): {xml}"));
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_string(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = s.local_name().as_ref().to_string();
                let attrs = s
                    .attributes()
                    .filter_map(Result::ok)
                    .filter(|a| !a.key.as_ref().starts_with("xmlns"))
                    .map(|a| {
                        (
                            a.key.local_name().as_ref().to_string(),
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .map(|v| v.into_owned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                let node = Node {
                    ns,
                    name,
                    attrs,
                    ..Node::default()
                };
                if matches!(event, Event::Empty(_)) {
                    stack.last_mut().expect("parent").children.push(node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().expect("open element");
                stack.last_mut().expect("parent").children.push(node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let text = match &*r {
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "amp" => "&".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        _ => r
                            .resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(|c| c.to_string())
                            .unwrap_or_default(),
                    };
                    top.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack
        .pop()
        .expect("document")
        .children
        .into_iter()
        .next()
        .expect("root element")
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
