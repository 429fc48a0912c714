//! App-only sign-in with a certificate: client credentials with a JWT client
//! assertion (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`).
//!
//! The component builds the assertion ([`jwt`](super::jwt)) and the host
//! signs it with the private key of the certificate named by
//! `ExchangeCertThumbprint`; the component never sees key bytes. The host also
//! returns the certificate, whose SHA-1 must be the configured thumbprint:
//! otherwise the `x5t` in the header would name a different certificate than
//! the one that signed.

use sha1::{Digest, Sha1};

use super::AuthContext;
use super::endpoint::{self, Issued};
use super::jwt::{self, Claims, Header};
use crate::config::Thumbprint;
use crate::error::Error;
use crate::platform::{Level, Platform};

/// The assertion type of a JWT client assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form of a client-credentials request with an assertion.
pub fn form<'a>(ctx: &'a AuthContext, assertion: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", &ctx.app_id),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
        ("scope", &ctx.scope),
    ]
}

/// Builds and has the host sign a client assertion for `ctx`.
pub fn assertion(
    platform: &mut dyn Platform,
    ctx: &AuthContext,
    thumbprint: &Thumbprint,
) -> Result<String, Error> {
    let random: [u8; 16] = platform.random_bytes(16).try_into().map_err(|_| {
        Error::protocol(
            "The host's random source returned too few bytes for the assertion id.",
            "Check the host's wasi:random implementation.",
        )
    })?;
    let claims = Claims::new(
        &ctx.token_endpoint,
        &ctx.app_id,
        platform.now_unix(),
        jwt::uuid_v4(random),
    );
    let input = jwt::signing_input(&Header::new(thumbprint), &claims);
    platform.log(
        Level::Debug,
        &format!(
            "asking the host to sign a client assertion with certificate {}",
            thumbprint.hex()
        ),
    );
    let signed = platform
        .sign_rs256(&thumbprint.hex(), input.as_bytes())
        .map_err(Error::Certificate)?;
    let actual = Sha1::digest(&signed.certificate_der);
    if actual.as_slice() != thumbprint.bytes() {
        let actual_hex: String = actual.iter().map(|b| format!("{b:02X}")).collect();
        return Err(Error::protocol(
            format!(
                "The host signed with certificate {actual_hex}, but ExchangeCertThumbprint names \
                 {}.",
                thumbprint.hex()
            ),
            "Check the tenant's certificate store on the rooms-sync host: the entry for the \
             thumbprint in ExchangeCertThumbprint must hold that certificate and its key.",
        ));
    }
    if signed.signature.is_empty() {
        return Err(Error::protocol(
            "The host returned an empty signature for the client assertion.",
            "Check the tenant's certificate store on the rooms-sync host and its log.",
        ));
    }
    Ok(jwt::compact(&input, &signed.signature))
}

/// Signs an assertion and requests a token with it.
pub fn request(
    platform: &mut dyn Platform,
    ctx: &AuthContext,
    thumbprint: &Thumbprint,
) -> Result<Issued, Error> {
    let assertion = assertion(platform, ctx, thumbprint)?;
    endpoint::issue(platform, ctx, &form(ctx, &assertion))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    use super::*;
    use crate::config::{Credential, keys};
    use crate::platform::{CertificateError, Signature};
    use crate::testing::{TestPlatform, settings};

    const THUMBPRINT: &str = "332459433B54FC0C2185F75A618FD3C83C7B9584";

    fn ctx() -> (AuthContext, Thumbprint) {
        let settings = settings(&[(keys::CERT_THUMBPRINT, THUMBPRINT)]);
        let Credential::Certificate(thumbprint) = settings.credential.clone() else {
            panic!()
        };
        (
            AuthContext::new(&settings, "https://outlook.office365.com"),
            thumbprint,
        )
    }

    fn demo_der() -> Vec<u8> {
        let pem = include_str!("../../../tests/certs/demo-app.crt");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    fn the_assertion_carries_the_host_signature_and_is_sent_as_a_jwt_bearer() {
        let (ctx, thumbprint) = ctx();
        let mut platform = TestPlatform::new();
        platform.now = 1_767_225_600;
        platform.signature = Ok(Signature {
            signature: vec![1, 2, 3, 250],
            certificate_der: demo_der(),
        });
        let _ = request(&mut platform, &ctx, &thumbprint);

        let (asked_thumbprint, signed_data) = platform.signed.borrow()[0].clone();
        assert_eq!(asked_thumbprint, THUMBPRINT);
        let form = platform.sent_form(0);
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("client_assertion_type"), Some(ASSERTION_TYPE));
        assert_eq!(
            form.get("scope"),
            Some("https://outlook.office365.com/.default")
        );
        assert_eq!(form.get("client_secret"), None);
        let assertion = form.get("client_assertion").unwrap();
        let parts: Vec<&str> = assertion.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signed_data[..]
        );
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            vec![1, 2, 3, 250]
        );
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            claims["aud"],
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap(),
            300
        );
        assert!(platform.logged().iter().all(|l| !l.contains(parts[2])));
    }

    #[test]
    fn a_different_certificate_from_the_host_is_refused() {
        let (ctx, thumbprint) = ctx();
        let mut platform = TestPlatform::new();
        platform.signature = Ok(Signature {
            signature: vec![1],
            certificate_der: b"some other certificate".to_vec(),
        });
        let error = request(&mut platform, &ctx, &thumbprint).unwrap_err();
        let Error::Protocol { message, .. } = &error else {
            panic!("{error:?}")
        };
        assert!(message.contains(THUMBPRINT), "{message}");
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn certificate_errors_pass_through() {
        let (ctx, thumbprint) = ctx();
        let mut platform = TestPlatform::new();
        platform.signature = Err(CertificateError::Expired("2025-01-01T00:00:00Z".into()));
        let error = request(&mut platform, &ctx, &thumbprint).unwrap_err();
        assert_eq!(
            error,
            Error::Certificate(CertificateError::Expired("2025-01-01T00:00:00Z".into()))
        );
        assert!(error.fix().contains("ExchangeCertThumbprint"));
    }
}
