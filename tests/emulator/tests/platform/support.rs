//! Test support: an independent HTTP/1.1 client over raw TCP, SOAP request builders, token
//! helpers (secret, certificate assertion signed with the demo key, ROPC) and XML shape
//! comparison. Nothing here uses the emulator's own request code.

#![allow(dead_code)]

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use exo_emulator::{Emulator, RunningEmulator, Seed};
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

    /// The AADSTS code of a token error.
    pub fn aadsts(&self) -> u64 {
        self.json()["error_codes"][0]
            .as_u64()
            .unwrap_or_else(|| panic!("no error code: {}", self.text()))
    }
}

/// Sends one request on a fresh connection (`Connection: close`). A dropped connection or a
/// body shorter than its `Content-Length` is an error.
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
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed without an answer",
            )
        })?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let resp = Resp {
        status,
        headers,
        body,
    };
    if let Some(cl) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        && resp.body.len() < cl
    {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body truncated: {} of {cl} bytes", resp.body.len()),
        ));
    }
    Ok(resp)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// POSTs a form to a URL.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> Resp {
    send(
        "POST",
        url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form_encode(pairs).as_bytes(),
    )
    .await
    .expect("token endpoint answers")
}

/// `https://127.0.0.1:PORT/.default` style scope for the emulator's EWS host.
pub fn app_scope(emu: &RunningEmulator) -> String {
    format!("{}/.default", emu.ews_resource())
}

/// An app-only token with the demo secret.
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
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
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
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// The demo certificate's DER bytes.
pub fn demo_cert_der() -> Vec<u8> {
    let pem_text = std::fs::read_to_string(format!(
        "{}/../certs/demo-app.crt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let b64: String = pem_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// Builds and signs (RS256, demo key) a client assertion from a header and claims.
pub fn sign_assertion(header: &Value, claims: &Value) -> String {
    let key_pem = std::fs::read_to_string(format!(
        "{}/../certs/demo-app.key",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem).expect("demo key");
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let digest = Sha256::digest(input.as_bytes());
    let sig = key
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The standard header (x5t = SHA-1 of the demo certificate).
pub fn assertion_header() -> Value {
    let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(demo_cert_der()));
    serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t})
}

/// Valid claims for the certificate app at the emulator time `now`.
pub fn assertion_claims(aud: &str, now: i64, jti: &str) -> Value {
    serde_json::json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "jti": jti, "nbf": now, "exp": now + 300})
}

/// POSTs a client-credentials request with an assertion.
pub async fn assertion_request(emu: &RunningEmulator, tenant: &str, assertion: &str) -> Resp {
    post_form(
        &emu.token_endpoint(tenant),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CERT_APP),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", &app_scope(emu)),
        ],
    )
    .await
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

/// A GetFolder body for a distinguished folder (optionally of another mailbox).
pub fn get_folder(folder: &str, mailbox: Option<&str>) -> String {
    let mbx = mailbox
        .map(|m| format!("<t:Mailbox><t:EmailAddress>{m}</t:EmailAddress></t:Mailbox>"))
        .unwrap_or_default();
    format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="folder:EffectiveRights"/></t:AdditionalProperties></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{folder}">{mbx}</t:DistinguishedFolderId></m:FolderIds></m:GetFolder>"#
    )
}

/// POSTs a SOAP request to EWS with a bearer token (and X-AnchorMailbox).
pub async fn ews(emu: &RunningEmulator, token: &str, xml: &str) -> Resp {
    try_ews(emu, token, xml).await.expect("EWS answers")
}

/// Like [`ews`], but returns transport errors.
pub async fn try_ews(emu: &RunningEmulator, token: &str, xml: &str) -> io::Result<Resp> {
    let auth = format!("Bearer {token}");
    send(
        "POST",
        &emu.ews_url(),
        &[
            ("Content-Type", "text/xml; charset=utf-8"),
            ("Authorization", &auth),
            ("X-AnchorMailbox", ROOM),
        ],
        xml.as_bytes(),
    )
    .await
}

/// One element of a parsed XML tree: namespace, local name, attributes, text and children.
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

    /// Text of the first descendant with this local name.
    pub fn text_of(&self, name: &str) -> String {
        self.find(name)
            .map(|n| n.text.trim().to_string())
            .unwrap_or_default()
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `{ns}name` lines with indentation: the shape of the tree without text and prefixes.
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
}

/// Parses XML with quick-xml's namespace reader (independent of the emulator's DOM).
pub fn parse_xml(xml: &str) -> Node {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let (ns, ev) = reader
            .read_resolved_event()
            .unwrap_or_else(|e| panic!("bad XML ({e}): {xml}"));
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_string(),
            _ => String::new(),
        };
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let attrs = s
                    .attributes()
                    .filter_map(Result::ok)
                    .map(|a| {
                        (
                            a.key.local_name().as_ref().to_string(),
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap_or_default()
                                .into_owned(),
                        )
                    })
                    .collect();
                let node = Node {
                    ns,
                    name: s.local_name().as_ref().to_string(),
                    attrs,
                    ..Node::default()
                };
                if matches!(ev, Event::Empty(_)) {
                    stack.last_mut().unwrap().children.push(node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let s = match &*r {
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "amp" => "&".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    _ => r
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                        .unwrap_or_default(),
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack
        .pop()
        .unwrap()
        .children
        .into_iter()
        .next()
        .expect("a root element")
}
