//! Delegated sign-in of the service user: the resource owner password
//! credentials grant (ROPC, `grant_type=password`) with `offline_access`, and
//! afterwards the refresh token.
//!
//! Entra rotates refresh tokens, so the newest one is stored with every new
//! access token. When a refresh token is refused (`invalid_grant`: revoked
//! after a password change, AADSTS50173; expired by inactivity, AADSTS700082
//! or 70008), the cache entry is dropped and the password is used once.

use super::endpoint::{self, Answer, Issued};
use super::token::{RefreshToken, Secret};
use super::{AuthContext, reveal_secret};
use crate::config::keys;
use crate::error::Error;
use crate::platform::{Level, Platform};

/// The form of a password grant.
pub fn password_form<'a>(
    ctx: &'a AuthContext,
    user: &'a str,
    password: &'a Secret,
) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "password"),
        ("client_id", &ctx.app_id),
        ("username", user),
        ("password", password.expose()),
        ("scope", &ctx.scope),
    ]
}

/// The form of a refresh-token grant.
pub fn refresh_form<'a>(
    ctx: &'a AuthContext,
    refresh_token: &'a RefreshToken,
) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "refresh_token"),
        ("client_id", &ctx.app_id),
        ("refresh_token", refresh_token.expose()),
        ("scope", &ctx.scope),
    ]
}

/// What to do after the refresh-token grant answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRefresh {
    /// A new token (with the rotated refresh token, or the old one when Entra
    /// sent none).
    Issued(Issued),
    /// The refresh token was refused (`invalid_grant`): sign in with the password.
    UsePassword,
    /// Any other refusal ends the sign-in.
    Fail(Error),
}

/// Decides on the answer to the refresh grant made with `old`.
pub fn after_refresh(answer: Answer, old: RefreshToken, ctx: &AuthContext) -> AfterRefresh {
    match answer {
        Answer::Issued(mut issued) => {
            issued.refresh_token.get_or_insert(old);
            AfterRefresh::Issued(issued)
        }
        Answer::Refused(refusal) if refusal.is_invalid_grant() => AfterRefresh::UsePassword,
        Answer::Refused(refusal) => AfterRefresh::Fail(Error::SignIn(refusal.to_failure(ctx))),
    }
}

/// Gets a token for `user`: with `previous` (the cached refresh token) when
/// there is one, else (or when it is refused) with the password.
pub fn request(
    platform: &mut dyn Platform,
    ctx: &AuthContext,
    user: &str,
    previous: Option<RefreshToken>,
    cache_key: &str,
) -> Result<Issued, Error> {
    if let Some(refresh_token) = previous {
        let answer = endpoint::request(platform, ctx, &refresh_form(ctx, &refresh_token))?;
        match after_refresh(answer, refresh_token, ctx) {
            AfterRefresh::Issued(issued) => return Ok(issued),
            AfterRefresh::Fail(error) => return Err(error),
            AfterRefresh::UsePassword => {
                platform.log(
                    Level::Info,
                    &format!(
                        "the refresh token of {user} was refused; signing in with the password"
                    ),
                );
                platform.cache_remove(cache_key);
            }
        }
    }
    let password = reveal_secret(platform, keys::SERVICE_PASSWORD)?;
    endpoint::issue(platform, ctx, &password_form(ctx, user, &password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::HttpResponse;
    use crate::testing::{TestPlatform, auth_context};

    fn ctx() -> AuthContext {
        auth_context(&[
            (keys::USE_IMPERSONATION, "false"),
            (keys::SERVICE_USER, "svc-rooms@contoso.com"),
        ])
    }

    #[test]
    fn without_a_refresh_token_the_password_grant_is_sent() {
        let mut platform = TestPlatform::new();
        platform
            .secrets
            .insert(keys::SERVICE_PASSWORD.into(), "Pa$$ w0rd&=%".into());
        let _ = request(&mut platform, &ctx(), "svc-rooms@contoso.com", None, "key");
        let form = platform.sent_form(0);
        assert_eq!(form.get("grant_type"), Some("password"));
        assert_eq!(form.get("username"), Some("svc-rooms@contoso.com"));
        assert_eq!(form.get("password"), Some("Pa$$ w0rd&=%"));
        assert_eq!(
            form.get("scope"),
            Some("https://outlook.office365.com/EWS.AccessAsUser.All offline_access")
        );
        assert_eq!(form.get("client_secret"), None);
        assert!(platform.logged().iter().all(|l| !l.contains("w0rd")));
    }

    #[test]
    fn with_a_refresh_token_the_refresh_grant_goes_first() {
        let mut platform = TestPlatform::new();
        platform
            .secrets
            .insert(keys::SERVICE_PASSWORD.into(), "pw".into());
        let error = request(
            &mut platform,
            &ctx(),
            "svc-rooms@contoso.com",
            Some(RefreshToken::new("r-old")),
            "key",
        )
        .unwrap_err();
        // No answer at all (no network in unit tests) is not a refusal: no fallback.
        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert_eq!(platform.requests.len(), 1);
        let form = platform.sent_form(0);
        assert_eq!(form.get("grant_type"), Some("refresh_token"));
        assert_eq!(form.get("refresh_token"), Some("r-old"));
        assert_eq!(
            form.get("scope"),
            Some("https://outlook.office365.com/EWS.AccessAsUser.All offline_access")
        );
    }

    fn answer(status: u16, body: &str) -> Answer {
        let response = HttpResponse {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        };
        endpoint::read_answer(
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            &response,
        )
        .unwrap()
    }

    #[test]
    fn refused_refresh_tokens_fall_back_to_the_password() {
        for code in [50173, 700082, 70008] {
            let refusal = answer(
                400,
                &format!(
                    r#"{{"error":"invalid_grant","error_description":"AADSTS{code}: gone","error_codes":[{code}]}}"#
                ),
            );
            assert_eq!(
                after_refresh(refusal, RefreshToken::new("r-old"), &ctx()),
                AfterRefresh::UsePassword
            );
        }
    }

    #[test]
    fn a_rotated_refresh_token_replaces_the_old_one_and_a_missing_one_keeps_it() {
        for (body, expected) in [
            (
                r#"{"token_type":"Bearer","expires_in":3600,"access_token":"a2","refresh_token":"r-new"}"#,
                "r-new",
            ),
            (
                r#"{"token_type":"Bearer","expires_in":3600,"access_token":"a2"}"#,
                "r-old",
            ),
        ] {
            let AfterRefresh::Issued(issued) =
                after_refresh(answer(200, body), RefreshToken::new("r-old"), &ctx())
            else {
                panic!("{body}")
            };
            assert_eq!(issued.access_token.expose(), "a2");
            assert_eq!(issued.refresh_token.unwrap().expose(), expected);
        }
    }

    #[test]
    fn other_refusals_of_the_refresh_token_are_reported() {
        let refusal = answer(401, r#"{"error":"invalid_client","error_codes":[7000218]}"#);
        let AfterRefresh::Fail(Error::SignIn(failure)) =
            after_refresh(refusal, RefreshToken::new("r"), &ctx())
        else {
            panic!()
        };
        assert_eq!(failure.aadsts, vec![7000218]);
        assert!(failure.fix.contains("Allow public client flows"));
    }
}
