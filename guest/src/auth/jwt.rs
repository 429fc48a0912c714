//! The JWT client assertion of the certificate sign-in (Microsoft identity
//! platform "certificate credentials").
//!
//! Header `{"alg":"RS256","typ":"JWT","x5t":…}`, where `x5t` is the base64url
//! SHA-1 of the certificate's DER, which is exactly the configured thumbprint.
//! Claims: `aud` = the token endpoint URL, `iss` = `sub` = the app id, `jti` = a
//! random UUID v4, `nbf` = `iat` = now, `exp` = now + 5 minutes. This module
//! only builds the text to sign (`b64url(header).b64url(claims)`) and joins
//! the signature; the host signs.

use super::json::Writer;
use crate::config::Thumbprint;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long an assertion is valid: Entra accepts at most 10 minutes.
pub const LIFETIME_SECS: u64 = 5 * 60;

/// The JOSE header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Always `RS256`.
    pub alg: &'static str,
    /// Always `JWT`.
    pub typ: &'static str,
    /// base64url of the certificate's SHA-1.
    pub x5t: String,
}

impl Header {
    /// The header for the certificate with `thumbprint`.
    pub fn new(thumbprint: &Thumbprint) -> Self {
        Self {
            alg: "RS256",
            typ: "JWT",
            x5t: x5t(thumbprint),
        }
    }
}

/// The claims of a client assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The token endpoint URL.
    pub aud: String,
    /// The app id.
    pub iss: String,
    /// The app id.
    pub sub: String,
    /// A unique id (UUID v4) so that Entra can refuse a replay.
    pub jti: String,
    /// Not before: now.
    pub nbf: u64,
    /// Issued at: now.
    pub iat: u64,
    /// Expiry: now + [`LIFETIME_SECS`].
    pub exp: u64,
}

impl Claims {
    /// Claims for `app_id` at `token_endpoint`, issued at `now`.
    pub fn new(token_endpoint: &str, app_id: &str, now: u64, jti: String) -> Self {
        Self {
            aud: token_endpoint.to_owned(),
            iss: app_id.to_owned(),
            sub: app_id.to_owned(),
            jti,
            nbf: now,
            iat: now,
            exp: now.saturating_add(LIFETIME_SECS),
        }
    }
}

/// `x5t`: base64url (no padding) of the 20 thumbprint bytes.
pub fn x5t(thumbprint: &Thumbprint) -> String {
    URL_SAFE_NO_PAD.encode(thumbprint.bytes())
}

/// `base64url(header) "." base64url(claims)`: the bytes the host signs.
pub fn signing_input(header: &Header, claims: &Claims) -> String {
    let header = Writer::new()
        .string("alg", header.alg)
        .string("typ", header.typ)
        .string("x5t", &header.x5t)
        .finish();
    let claims = Writer::new()
        .string("aud", &claims.aud)
        .string("iss", &claims.iss)
        .string("sub", &claims.sub)
        .string("jti", &claims.jti)
        .number("nbf", claims.nbf)
        .number("iat", claims.iat)
        .number("exp", claims.exp)
        .finish();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    )
}

/// The compact JWS: the signing input, a dot, and the base64url signature.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A random (version 4) UUID in its lower-case text form, from 16 random bytes.
pub fn uuid_v4(random: [u8; 16]) -> String {
    let mut b = random;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    /// The DER of `tests/certs/demo-app.crt` (the repository's test-only
    /// demo certificate), decoded from its PEM.
    fn demo_certificate_der() -> Vec<u8> {
        let pem = include_str!("../../../tests/certs/demo-app.crt");
        let b64: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    #[test]
    fn x5t_of_the_thumbprint_equals_x5t_of_the_certificate() {
        // `openssl x509 -in tests/certs/demo-app.crt -noout -fingerprint -sha1`
        let thumbprint =
            Thumbprint::parse("33:24:59:43:3B:54:FC:0C:21:85:F7:5A:61:8F:D3:C8:3C:7B:95:84")
                .unwrap();
        let der_sha1 = Sha1::digest(demo_certificate_der());
        assert_eq!(der_sha1.as_slice(), thumbprint.bytes());
        assert_eq!(x5t(&thumbprint), "MyRZQztU_AwhhfdaYY_TyDx7lYQ");
        assert_eq!(x5t(&thumbprint), URL_SAFE_NO_PAD.encode(der_sha1));
    }

    #[test]
    fn header_and_claims_decode_to_the_expected_json() {
        let thumbprint = Thumbprint::parse("332459433B54FC0C2185F75A618FD3C83C7B9584").unwrap();
        let claims = Claims::new(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "00001111-aaaa-2222-bbbb-3333cccc4444",
            1_767_225_600,
            uuid_v4([7; 16]),
        );
        let input = signing_input(&Header::new(&thumbprint), &claims);
        assert!(!input.contains('='), "base64url without padding: {input}");
        assert!(!input.contains('+') && !input.contains('/'), "{input}");
        let (header, body) = input.split_once('.').unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": "MyRZQztU_AwhhfdaYY_TyDx7lYQ"})
        );
        let body: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "aud": "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
                "iss": "00001111-aaaa-2222-bbbb-3333cccc4444",
                "sub": "00001111-aaaa-2222-bbbb-3333cccc4444",
                "jti": "07070707-0707-4707-8707-070707070707",
                "nbf": 1_767_225_600u64,
                "iat": 1_767_225_600u64,
                "exp": 1_767_225_900u64,
            })
        );
    }

    #[test]
    fn compact_appends_the_base64url_signature() {
        assert_eq!(compact("a.b", &[0xfb, 0xff, 0xfe]), "a.b.-__-");
    }

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4(*b"0123456789abcdef");
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
    }
}
