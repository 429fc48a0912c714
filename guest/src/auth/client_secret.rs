//! App-only sign-in with a client secret (OAuth 2.0 client credentials,
//! RFC 6749 §4.4): `ExchangeClientSecret` is revealed by the host for the
//! one request that needs it.

use super::endpoint::{self, Issued};
use super::token::Secret;
use super::{AuthContext, reveal_secret};
use crate::config::keys;
use crate::error::Error;
use crate::platform::Platform;

/// The form of a client-credentials request with a secret.
pub fn form<'a>(ctx: &'a AuthContext, secret: &'a Secret) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", &ctx.app_id),
        ("client_secret", secret.expose()),
        ("scope", &ctx.scope),
    ]
}

/// Reveals the client secret and requests a token with it.
pub fn request(platform: &mut dyn Platform, ctx: &AuthContext) -> Result<Issued, Error> {
    let secret = reveal_secret(platform, keys::CLIENT_SECRET)?;
    endpoint::issue(platform, ctx, &form(ctx, &secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{APP_ID, TestPlatform, auth_context};

    fn ctx() -> AuthContext {
        auth_context(&[])
    }

    #[test]
    fn the_request_is_a_client_credentials_grant_for_the_default_scope() {
        let mut platform = TestPlatform::new();
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "Qx8Q~a+b/c=d&e".into());
        let _ = request(&mut platform, &ctx());
        let sent = &platform.requests[0];
        assert_eq!(
            sent.url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(
            sent.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(sent.header("accept"), Some("application/json"));
        let form = platform.sent_form(0);
        assert_eq!(form.get("grant_type"), Some("client_credentials"));
        assert_eq!(form.get("client_id"), Some(APP_ID));
        assert_eq!(form.get("client_secret"), Some("Qx8Q~a+b/c=d&e"));
        assert_eq!(
            form.get("scope"),
            Some("https://outlook.office365.com/.default")
        );
        assert!(platform.logged().iter().all(|line| !line.contains("Qx8Q")));
    }

    #[test]
    fn a_missing_secret_names_both_ways_to_sign_in() {
        let mut platform = TestPlatform::new();
        let error = request(&mut platform, &ctx()).unwrap_err();
        let Error::Configuration(problem) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(problem.key, "ExchangeClientSecret");
        assert!(problem.fix.contains("ExchangeClientSecret"));
        assert!(problem.fix.contains("ExchangeCertThumbprint"));
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn unreadable_and_blank_secrets() {
        let mut platform = TestPlatform::new();
        platform.unreadable_secrets.insert(
            keys::CLIENT_SECRET.into(),
            "environment variable ROOMS_SECRET is not set".into(),
        );
        let error = reveal_secret(&platform, keys::CLIENT_SECRET).unwrap_err();
        assert!(error.message().contains("ROOMS_SECRET"), "{error}");
        platform.unreadable_secrets.clear();
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "   ".into());
        let error = reveal_secret(&platform, keys::CLIENT_SECRET).unwrap_err();
        assert_eq!(error.message(), "ExchangeClientSecret is empty.");
    }
}
