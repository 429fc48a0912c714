//! Support for the platform tests: the shared emulator test support (`../support`: demo
//! seed, independent HTTP client, tokens, SOAP envelopes, admin API, XML reader) plus client
//! assertions signed with the demo key and GetFolder requests to EWS.

#![allow(dead_code)]

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use exo_emulator::RunningEmulator;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[path = "../support/mod.rs"]
mod shared;
pub use shared::*;

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

/// The demo certificate's private key.
pub fn demo_key() -> rsa::RsaPrivateKey {
    let key_pem = std::fs::read_to_string(format!(
        "{}/../certs/demo-app.key",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem).expect("demo key")
}

/// Builds and signs (RS256, demo key) a client assertion from a header and claims.
pub fn sign_assertion(header: &Value, claims: &Value) -> String {
    let key = demo_key();
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
pub async fn assertion_request(emu: &RunningEmulator, tenant: &str, assertion: &str) -> Response {
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
pub async fn ews(emu: &RunningEmulator, token: &str, xml: &str) -> Response {
    try_ews(emu, token, xml).await.expect("EWS answers")
}

/// Like [`ews`], but returns transport errors.
pub async fn try_ews(emu: &RunningEmulator, token: &str, xml: &str) -> io::Result<Response> {
    post_soap(&emu.ews_url(), token, Some(ROOM), xml).await
}
