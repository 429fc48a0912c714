//! Access tokens: JWT-shaped, signed by a per-process emulator key, checked by the EWS side.
//!
//! The claims follow Exchange Online's v1 access tokens (`aud`, `iss`
//! `https://sts.windows.net/{tid}/`, `appid`, `appidacr`, `idtyp`, `tid`, `oid`, `roles` for
//! app-only, `scp` + `upn` for delegated). Unlike Entra (RS256 with published keys), the
//! emulator signs with HS256 and a random key made at start: nobody outside the process can
//! mint a token it accepts, and a token of another emulator run is rejected.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::util::{b64url, b64url_decode};

/// Claims of an emulator access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    /// Audience (the resource, e.g. `https://outlook.office365.com`).
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Client id.
    pub appid: String,
    /// App display name.
    pub app_displayname: String,
    /// How the client authenticated: `0` public, `1` secret, `2` certificate.
    pub appidacr: String,
    /// `app` or `user`.
    pub idtyp: String,
    /// Tenant id.
    pub tid: String,
    /// Object id of the principal.
    pub oid: String,
    /// Application permissions (app-only tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Delegated permissions, space separated (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// The signed-in user (delegated tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Unique token id.
    pub uti: String,
    /// Token version.
    pub ver: String,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a JWT of this emulator.
    Malformed,
    /// Signature does not verify.
    BadSignature,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
}

/// Signs and verifies access tokens.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
    kid: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for TokenSigner {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenSigner {
    /// A signer with a fresh random key.
    pub fn new() -> Self {
        let key: [u8; 32] = rand::random();
        let kid = b64url(&key[..6]);
        Self { key, kid }
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Encodes and signs claims.
    pub fn issue(&self, claims: &AccessClaims) -> String {
        let header = serde_json::json!({"typ": "JWT", "alg": "HS256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(&serde_json::to_vec(claims).unwrap_or_default())
        );
        let sig = self.mac(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig))
    }

    /// Verifies a token and its validity at `now` (Unix seconds; 5 minutes of skew on `nbf`).
    pub fn verify(&self, token: &str, now: i64) -> Result<AccessClaims, TokenProblem> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Malformed);
        };
        let sig = b64url_decode(s).ok_or(TokenProblem::Malformed)?;
        let expected = self.mac(format!("{h}.{c}").as_bytes());
        if !crate::util::constant_time_eq(&sig, &expected) {
            return Err(TokenProblem::BadSignature);
        }
        let claims: AccessClaims = b64url_decode(c)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenProblem::Malformed)?;
        if now >= claims.exp {
            return Err(TokenProblem::Expired);
        }
        if now + 300 < claims.nbf {
            return Err(TokenProblem::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            aud: "https://outlook.office365.com".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 0,
            nbf: 0,
            exp,
            appid: "a".into(),
            app_displayname: "A".into(),
            appidacr: "1".into(),
            idtyp: "app".into(),
            tid: "t".into(),
            oid: "o".into(),
            roles: Some(vec!["full_access_as_app".into()]),
            scp: None,
            upn: None,
            uti: "u".into(),
            ver: "1.0".into(),
        }
    }

    #[test]
    fn round_trip_expiry_and_tampering() {
        let s = TokenSigner::new();
        let t = s.issue(&claims(100));
        assert_eq!(
            s.verify(&t, 50).unwrap().roles.unwrap(),
            vec!["full_access_as_app"]
        );
        assert_eq!(s.verify(&t, 100), Err(TokenProblem::Expired));
        assert_eq!(
            TokenSigner::new().verify(&t, 50),
            Err(TokenProblem::BadSignature)
        );
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64url(&serde_json::to_vec(&claims(10_000)).unwrap());
        parts[1] = &forged;
        assert_eq!(
            s.verify(&parts.join("."), 50),
            Err(TokenProblem::BadSignature)
        );
        assert_eq!(s.verify("abc", 50), Err(TokenProblem::Malformed));
    }
}
