//! Client assertions (certificate credentials): RS256/PS256 JWTs signed with a registered
//! certificate's key.
//!
//! Checks, in Entra's order: JWT shape, the signing certificate named by `x5t` (base64url
//! SHA-1 of the DER certificate), `x5t#S256` or a hex thumbprint in `kid`; the signature;
//! `iss` = `sub` = client id; `aud` = the token endpoint URL that was called; `nbf`/`exp` against
//! the emulator clock with skew, and a validity of at most the configured lifetime; a `jti`
//! used before by the same client is refused.

use std::collections::HashMap;

use jiff::Timestamp;
use rsa::{Pkcs1v15Sign, Pss};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::EntraError;
use crate::directory::{LoadedCertificate, hex_upper};
use crate::seed::Settings;
use crate::util::b64url_decode;

/// The `client_assertion_type` for JWT bearer assertions.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Everything needed to check one assertion.
pub struct AssertionCheck<'a> {
    /// The client id sent as `client_id`.
    pub client_id: &'a str,
    /// The app's registered certificates.
    pub certificates: &'a [LoadedCertificate],
    /// The token endpoint URL that was called.
    pub endpoint_url: &'a str,
    /// Emulator time.
    pub now: Timestamp,
    /// Skew and lifetime limits.
    pub settings: &'a Settings,
}

fn claim_time(v: &Value, name: &str) -> Option<Timestamp> {
    v.get(name)
        .and_then(Value::as_i64)
        .and_then(|s| Timestamp::from_second(s).ok())
}

impl AssertionCheck<'_> {
    /// Verifies the assertion and records its `jti` in `used` (keyed by client).
    pub fn verify(
        &self,
        assertion: &str,
        used: &mut HashMap<(String, String), Timestamp>,
    ) -> Result<(), EntraError> {
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return Err(EntraError::assertion_malformed(
                "The assertion must have three base64url parts separated by '.'.",
            ));
        }
        let json = |s: &str| -> Option<Value> { serde_json::from_slice(&b64url_decode(s)?).ok() };
        let header = json(parts[0])
            .ok_or_else(|| EntraError::assertion_malformed("The header is not base64url JSON."))?;
        let claims = json(parts[1])
            .ok_or_else(|| EntraError::assertion_malformed("The payload is not base64url JSON."))?;
        let signature = b64url_decode(parts[2])
            .ok_or_else(|| EntraError::assertion_malformed("The signature is not base64url."))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg != "RS256" && alg != "PS256" {
            return Err(EntraError::assertion_malformed(&format!(
                "The signing algorithm '{alg}' is not supported; use RS256 or PS256."
            )));
        }

        let str_of = |k: &str| header.get(k).and_then(Value::as_str);
        let sha1 = str_of("x5t").and_then(b64url_decode);
        let sha256 = str_of("x5t#S256").and_then(b64url_decode);
        let kid_hex = str_of("kid").map(|k| k.to_ascii_uppercase());
        let shown = sha1
            .as_deref()
            .map(hex_upper)
            .or_else(|| sha256.as_deref().map(hex_upper))
            .or_else(|| kid_hex.clone())
            .unwrap_or_default();
        let cert = self
            .certificates
            .iter()
            .find(|c| {
                sha1.as_deref() == Some(&c.sha1[..])
                    || sha256.as_deref() == Some(&c.sha256[..])
                    || (sha1.is_none()
                        && sha256.is_none()
                        && kid_hex.as_deref() == Some(c.thumbprint_hex().as_str()))
            })
            .ok_or_else(|| EntraError::assertion_key_not_found(&shown, self.client_id))?;

        let digest = Sha256::digest(format!("{}.{}", parts[0], parts[1]).as_bytes());
        let ok = if alg == "RS256" {
            cert.key
                .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
                .is_ok()
        } else {
            cert.key
                .verify(Pss::new::<Sha256>(), &digest, &signature)
                .is_ok()
        };
        if !ok {
            return Err(EntraError::assertion_signature());
        }

        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
        if !iss.eq_ignore_ascii_case(self.client_id) || !sub.eq_ignore_ascii_case(self.client_id) {
            return Err(EntraError::assertion_issuer());
        }

        let aud = match claims.get("aud") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().unwrap_or("").to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        if !aud
            .trim_end_matches('/')
            .eq_ignore_ascii_case(self.endpoint_url)
        {
            return Err(EntraError::assertion_audience(&aud, self.endpoint_url));
        }

        let skew = i64::try_from(self.settings.assertion_clock_skew_seconds).unwrap_or(300);
        let nbf = claim_time(&claims, "nbf");
        let exp = claim_time(&claims, "exp");
        let Some(exp_t) = exp else {
            return Err(EntraError::assertion_time(self.now, nbf, None));
        };
        let now_s = self.now.as_second();
        if now_s > exp_t.as_second() + skew || nbf.is_some_and(|n| now_s + skew < n.as_second()) {
            return Err(EntraError::assertion_time(self.now, nbf, exp));
        }
        let start = nbf
            .or_else(|| claim_time(&claims, "iat"))
            .unwrap_or(self.now);
        let max = self.settings.assertion_max_lifetime_seconds;
        if exp_t.as_second() - start.as_second() > i64::try_from(max).unwrap_or(600) {
            return Err(EntraError::assertion_too_long(max));
        }

        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty())
            .ok_or_else(|| {
                EntraError::assertion_malformed(
                    "The assertion has no 'jti' claim; give every assertion a unique 'jti'.",
                )
            })?;
        used.retain(|_, expiry| expiry.as_second() + skew >= now_s);
        let key = (self.client_id.to_ascii_lowercase(), jti.to_string());
        if used.contains_key(&key) {
            return Err(EntraError::assertion_replayed());
        }
        used.insert(key, exp_t);
        Ok(())
    }
}
