//! Support shared by the emulator's test binaries (`platform` and `calendar_*`): the demo seed
//! and its names, the independent HTTP client ([`exo_emulator::client`]) with test
//! conveniences, tokens from the emulator's token endpoint, SOAP envelopes, the admin API, and
//! a namespace-resolving XML reader built on quick-xml. Nothing here uses the emulator's (or
//! the guest's) request handling or XML code.
//!
//! Included with `#[path]` by `platform/support.rs` and `calendar_support/mod.rs`, which add
//! the helpers only their own tests need.

// Each test binary uses a part of this module.
#![allow(dead_code, unused_imports)]

use std::io;

use exo_emulator::{Emulator, RunningEmulator, Seed};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use serde_json::Value;

pub use exo_emulator::client::{Response, form, send};
pub use exo_emulator::util::percent_encode;

pub const TENANT_ID: &str = "3f9c2a71-8d4e-4b1a-9c6f-2e7d5a1b0c44";
pub const DOMAIN: &str = "contoso.com";
pub const SECRET_APP: &str = "5a7e3c12-4b6d-4e8f-9a1b-2c3d4e5f6a70";
pub const SECRET: &str = "demo-only-client-secret~not-for-production";
pub const CERT_APP: &str = "b2c4d6e8-1a3b-4c5d-8e9f-0a1b2c3d4e5f";
pub const PUBLIC_APP: &str = "c3d5e7f9-2b4c-4d6e-9f0a-1b2c3d4e5f60";
pub const SVC: &str = "svc-rooms@contoso.com";
pub const SVC_PASSWORD: &str = "demo-only-Passw0rd!";
pub const ALICE: &str = "alice@contoso.com";
pub const ALICE_ALIAS: &str = "alice.smith@contoso.com";
pub const BOB: &str = "bob@contoso.com";
pub const ROOM: &str = "room-berlin@contoso.com";
pub const ROOM_ALIAS: &str = "berlin@contoso.com";
pub const ROOM2: &str = "room-hamburg@contoso.com";
pub const EWS_DELEGATED: &str = "EWS.AccessAsUser.All";

pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

/// The demo seed file.
pub fn demo_seed_path() -> String {
    format!("{}/seeds/demo.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Starts an emulator with the demo seed.
pub async fn start() -> RunningEmulator {
    let seed = Seed::load(demo_seed_path()).expect("demo seed loads");
    Emulator::start(seed, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// Test conveniences on an HTTP answer: each panics with the body when it is not what a test
/// expects.
pub trait ResponseExt {
    /// The body as JSON.
    fn json(&self) -> Value;
    /// The body as an XML tree.
    fn xml(&self) -> Node;
    /// The AADSTS code of a token error.
    fn aadsts(&self) -> u64;
}

impl ResponseExt for Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn xml(&self) -> Node {
        parse_xml(&self.text())
    }

    fn aadsts(&self) -> u64 {
        self.json()["error_codes"][0]
            .as_u64()
            .unwrap_or_else(|| panic!("no error code: {}", self.text()))
    }
}

/// POSTs a form to a URL.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> Response {
    send(
        "POST",
        url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form(pairs).as_bytes(),
    )
    .await
    .expect("token endpoint answers")
}

/// `https://127.0.0.1:PORT/.default` style scope for the emulator's EWS host.
pub fn app_scope(emu: &RunningEmulator) -> String {
    format!("{}/.default", emu.ews_resource())
}

/// The access token of a successful token answer.
fn access_token(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// An app-only token with the demo secret (`full_access_as_app`).
pub async fn secret_token(emu: &RunningEmulator) -> String {
    let r = post_form(
        &emu.token_endpoint(DOMAIN),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SECRET_APP),
            ("client_secret", SECRET),
            ("scope", &app_scope(emu)),
        ],
    )
    .await;
    access_token(&r)
}

/// A delegated token of a user (ROPC with the public client).
pub async fn user_token(emu: &RunningEmulator, user: &str, password: &str) -> String {
    let scope = format!("{}/{EWS_DELEGATED}", emu.ews_resource());
    let r = post_form(
        &emu.token_endpoint(TENANT_ID),
        &[
            ("grant_type", "password"),
            ("client_id", PUBLIC_APP),
            ("username", user),
            ("password", password),
            ("scope", &scope),
        ],
    )
    .await;
    access_token(&r)
}

/// A SOAP request with the given header children and body element.
pub fn soap(header: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="{SOAP}" xmlns:t="{T}" xmlns:m="{M}">
  <soap:Header>{header}</soap:Header>
  <soap:Body>{body}</soap:Body>
</soap:Envelope>"#
    )
}

/// `RequestServerVersion Exchange2013_SP1`.
pub const V2013: &str = r#"<t:RequestServerVersion Version="Exchange2013_SP1"/>"#;

/// An impersonation header with one `ConnectingSID` child.
pub fn impersonate(kind: &str, value: &str) -> String {
    format!(
        "<t:ExchangeImpersonation><t:ConnectingSID><t:{kind}>{value}</t:{kind}></t:ConnectingSID></t:ExchangeImpersonation>"
    )
}

/// POSTs a SOAP request to an EWS URL with a bearer token and, when given, `X-AnchorMailbox`.
pub async fn post_soap(
    url: &str,
    token: &str,
    anchor: Option<&str>,
    xml: &str,
) -> io::Result<Response> {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("Content-Type", "text/xml; charset=utf-8"),
        ("Authorization", auth.as_str()),
    ];
    headers.extend(anchor.map(|a| ("X-AnchorMailbox", a)));
    send("POST", url, &headers, xml.as_bytes()).await
}

/// Admin API: a JSON request (`Value::Null` sends no body).
pub async fn admin(emu: &RunningEmulator, method: &str, path: &str, body: &Value) -> Response {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(
        method,
        &format!("{}/admin/{path}", emu.base_url()),
        &[("Content-Type", "application/json")],
        text.as_bytes(),
    )
    .await
    .expect("admin answers")
}

/// One element of a parsed XML tree: namespace, local name, attributes (without namespace
/// declarations), text and children.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    /// First descendant-or-self with this local name.
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// All descendants-or-self with this local name, in document order.
    pub fn all(&self, name: &str) -> Vec<&Node> {
        let mut out = Vec::new();
        self.find_all(name, &mut out);
        out
    }

    fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.find_all(name, out);
        }
    }

    /// First child with this local name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Trimmed text of the first descendant-or-self with this local name (empty if none).
    pub fn text_of(&self, name: &str) -> String {
        self.find(name)
            .map(|n| n.text.trim().to_owned())
            .unwrap_or_default()
    }

    /// An attribute's value by local name.
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

/// Parses XML with quick-xml's namespace reader (independent of the emulator's DOM); panics
/// with the text when it is not well-formed.
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
                    name: s.local_name().as_ref().to_string(),
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
                        .map(String::from)
                        .unwrap_or_default(),
                };
                if let Some(top) = stack.last_mut() {
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
