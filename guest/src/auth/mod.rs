//! Signing in to Entra ID and keeping the token.
//!
//! [`TokenProvider`] hands out a bearer token for one EWS resource. It reuses
//! the token in the host's token cache until `OAuthTokenMinutesBeforeRenew`
//! minutes before it expires, then asks the token endpoint again with the
//! configured flow:
//!
//! - [`client_secret`]: app-only, `client_credentials` with `ExchangeClientSecret`;
//! - [`certificate`]: app-only, `client_credentials` with a JWT client assertion
//!   ([`jwt`]) signed by the host;
//! - [`password`]: delegated, ROPC for `ExchangeServiceUser`, then the rotated
//!   refresh token, falling back to the password once when the refresh token
//!   is refused.
//!
//! After an EWS 401 the caller calls [`TokenProvider::invalidate`] and asks
//! again, which forces a new sign-in. Errors of the token endpoint become
//! advice through [`entra`].

pub mod certificate;
pub mod client_secret;
pub mod endpoint;
pub mod entra;
pub mod form;
pub mod json;
pub mod jwt;
pub mod password;
pub mod token;

use std::cell::RefCell;
use std::rc::Rc;

use crate::config::{Credential, Settings, keys};
use crate::error::Error;
use crate::platform::{CachedToken, Level, Platform, SecretError};
use token::{AccessToken, Secret};

/// What every token request needs to know, fixed for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// `ExchangeTenantId`.
    pub tenant_id: String,
    /// `ExchangeAppId`.
    pub app_id: String,
    /// The authority without a trailing `/`.
    pub authority: String,
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub token_endpoint: String,
    /// The EWS resource, `https://host[:port]`.
    pub resource: String,
    /// The requested scope (space-separated).
    pub scope: String,
    /// The flow and its non-secret parameters.
    pub credential: Credential,
}

impl AuthContext {
    /// The context for tokens to `resource` (`https://outlook.office365.com`).
    pub fn new(settings: &Settings, resource: &str) -> Self {
        let scope = match settings.credential {
            Credential::Password { .. } => {
                format!("{resource}/EWS.AccessAsUser.All offline_access")
            }
            _ => format!("{resource}/.default"),
        };
        Self {
            tenant_id: settings.tenant_id.clone(),
            app_id: settings.app_id.clone(),
            authority: settings.authority.clone(),
            token_endpoint: settings.token_endpoint(),
            resource: resource.to_owned(),
            scope,
            credential: settings.credential.clone(),
        }
    }

    /// The flow's name in logs and cache keys.
    pub fn flow_name(&self) -> &'static str {
        match self.credential {
            Credential::ClientSecret => "client-secret",
            Credential::Certificate(_) => "certificate",
            Credential::Password { .. } => "password",
        }
    }

    /// The service user of the delegated flow.
    pub fn user(&self) -> Option<&str> {
        match &self.credential {
            Credential::Password { user } => Some(user),
            _ => None,
        }
    }

    /// How the sign-in is described to the operator.
    pub fn describe(&self) -> String {
        match &self.credential {
            Credential::ClientSecret => format!("app {} with its client secret", self.app_id),
            Credential::Certificate(t) => {
                format!("app {} with certificate {}", self.app_id, t.hex())
            }
            Credential::Password { user } => {
                format!("{user} (delegated) through app {}", self.app_id)
            }
        }
    }
}

/// Reveals a secret by name; a missing, unreadable or blank secret is a
/// configuration error naming the key (never the value).
pub fn reveal_secret(platform: &dyn Platform, name: &str) -> Result<Secret, Error> {
    let fix = match name {
        keys::CLIENT_SECRET => {
            "Set ExchangeClientSecret to the Value of a client secret (Entra admin center → App \
             registrations → <app> → Certificates & secrets), or set ExchangeCertThumbprint to \
             sign in with a certificate."
        }
        keys::SERVICE_PASSWORD => {
            "Set ExchangeServicePassword to the password of ExchangeServiceUser, or set \
             ExchangeUseImpersonation to true for app-only access."
        }
        _ => "Set the secret in the tenant's settings.",
    };
    match platform.reveal(name) {
        Ok(secret) if secret.is_blank() => Err(Error::configuration(name, "is empty", fix)),
        Ok(secret) => Ok(secret),
        Err(SecretError::NotFound) => Err(Error::configuration(name, "is not set", fix)),
        Err(SecretError::Unreadable(reason)) => Err(Error::configuration(
            name,
            format!("could not be read ({reason})"),
            "Make the secret's source readable by the rooms-sync host (the environment variable \
             or file its setting names), then try again.",
        )),
    }
}

/// A bearer token ready for use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub access_token: AccessToken,
    /// When it expires (seconds since the Unix epoch).
    pub expires_at: u64,
    /// True when it came from the cache without a token request.
    pub reused: bool,
}

/// True when a token expiring at `expires_at` must be renewed at `now`, given
/// the renewal window `renew_before_secs` (`OAuthTokenMinutesBeforeRenew`).
pub fn needs_renewal(expires_at: u64, now: u64, renew_before_secs: u64) -> bool {
    now.saturating_add(renew_before_secs) >= expires_at
}

/// Hands out tokens for one resource, through the host's token cache.
///
/// Within one component call the provider keeps the token it handed out, so
/// the checks after `sign-in` use the same token without another cache
/// lookup (and without a second renewal when the renewal window is longer
/// than the token's lifetime).
#[derive(Debug, Clone)]
pub struct TokenProvider {
    ctx: AuthContext,
    renew_before_secs: u64,
    current: RefCell<Option<Rc<Token>>>,
}

impl TokenProvider {
    /// A provider for tokens to `resource`.
    pub fn new(settings: &Settings, resource: &str) -> Self {
        Self {
            ctx: AuthContext::new(settings, resource),
            renew_before_secs: settings.renew_before_secs,
            current: RefCell::new(None),
        }
    }

    /// The fixed parameters of the token requests.
    pub fn context(&self) -> &AuthContext {
        &self.ctx
    }

    /// The token-cache key: flow, authority, tenant, app, user and scope.
    /// Identifiers are compared case-insensitively, so the key is lower-case.
    pub fn cache_key(&self) -> String {
        let c = &self.ctx;
        let parts = [
            "v1|",
            c.flow_name(),
            "|",
            &c.authority,
            "|",
            &c.tenant_id,
            "|",
            &c.app_id,
            "|",
            c.user().unwrap_or(""),
            "|",
            &c.scope,
        ];
        let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|part| key.push_str(part));
        if key.is_ascii() {
            // The same as `to_lowercase` for ASCII, without a second string.
            key.make_ascii_lowercase();
            key
        } else {
            key.to_lowercase()
        }
    }

    /// A token that is valid for more than the renewal window: the cached one,
    /// or a new one from the token endpoint (which is then cached).
    ///
    /// The token is shared, not copied, between the checks of a call.
    pub fn token(&self, platform: &mut dyn Platform) -> Result<Rc<Token>, Error> {
        if let Some(token) = self.current.borrow().as_ref() {
            return Ok(Rc::clone(token));
        }
        let token = Rc::new(self.fetch(platform)?);
        *self.current.borrow_mut() = Some(Rc::clone(&token));
        Ok(token)
    }

    fn fetch(&self, platform: &mut dyn Platform) -> Result<Token, Error> {
        let key = self.cache_key();
        let now = platform.now_unix();
        let cached = match platform.cache_get(&key) {
            Some(c) if !needs_renewal(c.expires_at, now, self.renew_before_secs) => {
                platform.log(
                    Level::Debug,
                    &format!(
                        "reusing the cached {} token (expires in {} s)",
                        self.ctx.flow_name(),
                        c.expires_at.saturating_sub(now)
                    ),
                );
                return Ok(Token {
                    access_token: c.access_token,
                    expires_at: c.expires_at,
                    reused: true,
                });
            }
            cached => cached,
        };
        platform.log(
            Level::Info,
            &format!(
                "signing in to Entra ID tenant {} as {} for {}",
                self.ctx.tenant_id,
                self.ctx.describe(),
                self.ctx.resource
            ),
        );
        let issued = match &self.ctx.credential {
            Credential::ClientSecret => client_secret::request(platform, &self.ctx)?,
            Credential::Certificate(thumbprint) => {
                certificate::request(platform, &self.ctx, thumbprint)?
            }
            Credential::Password { user } => {
                let previous = cached.and_then(|c| c.refresh_token);
                password::request(platform, &self.ctx, user, previous, &key)?
            }
        };
        let now = platform.now_unix();
        let expires_at = now.saturating_add(issued.expires_in);
        platform.cache_put(
            &key,
            &CachedToken {
                access_token: issued.access_token.clone(),
                expires_at,
                refresh_token: issued.refresh_token,
            },
        );
        platform.log(
            Level::Info,
            &format!("got a new token, valid for {} s", issued.expires_in),
        );
        Ok(Token {
            access_token: issued.access_token,
            expires_at,
            reused: false,
        })
    }

    /// Forgets the cached token (EWS refused it), so that the next
    /// [`token`](Self::token) signs in afresh.
    pub fn invalidate(&self, platform: &mut dyn Platform) {
        platform.log(
            Level::Info,
            "Exchange refused the token; dropping it from the token cache",
        );
        self.current.borrow_mut().take();
        platform.cache_remove(&self.cache_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawSettings, keys};
    use crate::testing::TestPlatform;

    const TENANT: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
    const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";

    fn provider(extra: &[(&'static str, &str)]) -> TokenProvider {
        let mut pairs = vec![(keys::TENANT_ID, TENANT), (keys::APP_ID, APP)];
        pairs.extend_from_slice(extra);
        let settings = RawSettings::from_pairs(&pairs).validate().unwrap();
        TokenProvider::new(&settings, "https://outlook.office365.com")
    }

    #[test]
    fn renewal_window_arithmetic() {
        let window = 20 * 60;
        let expires = 10_000;
        assert!(!needs_renewal(expires, expires - window - 1, window));
        assert!(needs_renewal(expires, expires - window, window));
        assert!(needs_renewal(expires, expires + 5, window));
        assert!(!needs_renewal(expires, expires - 1, 0));
        assert!(needs_renewal(expires, expires, 0));
        assert!(needs_renewal(10, u64::MAX, u64::MAX), "no overflow");
    }

    #[test]
    fn cache_key_names_flow_authority_tenant_app_user_and_scope() {
        let secret = provider(&[]);
        assert_eq!(
            secret.cache_key(),
            format!(
                "v1|client-secret|https://login.microsoftonline.com|{TENANT}|{APP}||https://outlook.office365.com/.default"
            )
        );
        let delegated = provider(&[
            (keys::USE_IMPERSONATION, "false"),
            (keys::SERVICE_USER, "Svc-Rooms@Contoso.com"),
        ]);
        assert_eq!(
            delegated.cache_key(),
            format!(
                "v1|password|https://login.microsoftonline.com|{TENANT}|{APP}|svc-rooms@contoso.com|https://outlook.office365.com/ews.accessasuser.all offline_access"
            )
        );
        let certificate = provider(&[(
            keys::CERT_THUMBPRINT,
            "332459433B54FC0C2185F75A618FD3C83C7B9584",
        )]);
        let other_authority =
            provider(&[(keys::AUTHORITY_URL, "https://login.microsoftonline.us")]);
        let keys = [
            secret.cache_key(),
            delegated.cache_key(),
            certificate.cache_key(),
            other_authority.cache_key(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn scopes_per_flow() {
        assert_eq!(
            provider(&[]).context().scope,
            "https://outlook.office365.com/.default"
        );
        let delegated = provider(&[
            (keys::USE_IMPERSONATION, "false"),
            (keys::SERVICE_USER, "svc@contoso.com"),
        ]);
        assert_eq!(
            delegated.context().scope,
            "https://outlook.office365.com/EWS.AccessAsUser.All offline_access"
        );
    }

    #[test]
    fn a_fresh_cached_token_is_reused_without_a_request() {
        let provider = provider(&[]);
        let mut platform = TestPlatform::new();
        platform.now = 1_000_000;
        platform.cache.insert(
            provider.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached-token"),
                expires_at: 1_000_000 + 21 * 60,
                refresh_token: None,
            },
        );
        let token = provider.token(&mut platform).unwrap();
        assert!(token.reused);
        assert_eq!(token.access_token.expose(), "cached-token");
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn a_token_inside_the_renewal_window_is_renewed() {
        let provider = provider(&[]);
        let mut platform = TestPlatform::new();
        platform.now = 1_000_000;
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "s3cr&t".into());
        platform.cache.insert(
            provider.cache_key(),
            CachedToken {
                access_token: AccessToken::new("old-token"),
                expires_at: 1_000_000 + 19 * 60,
                refresh_token: None,
            },
        );
        // The test platform has no network: the renewal attempt is what we observe.
        let error = provider.token(&mut platform).unwrap_err();
        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert_eq!(platform.requests.len(), 1);
        assert_eq!(
            platform.requests[0].url,
            format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
        );
    }

    #[test]
    fn the_token_of_this_call_is_kept_until_invalidated() {
        let provider = provider(&[]);
        let mut platform = TestPlatform::new();
        platform.cache.insert(
            provider.cache_key(),
            CachedToken {
                access_token: AccessToken::new("first"),
                expires_at: platform.now + 3000,
                refresh_token: None,
            },
        );
        assert_eq!(
            provider.token(&mut platform).unwrap().access_token.expose(),
            "first"
        );
        // The cache changes behind the provider's back: the call keeps its token.
        platform.cache.clear();
        assert_eq!(
            provider.token(&mut platform).unwrap().access_token.expose(),
            "first"
        );
        assert!(platform.requests.is_empty());
        // After invalidate the provider asks again (and, without network, fails).
        provider.invalidate(&mut platform);
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "s".into());
        assert!(provider.token(&mut platform).is_err());
        assert_eq!(platform.requests.len(), 1);
    }

    #[test]
    fn invalidate_removes_the_cache_entry() {
        let provider = provider(&[]);
        let mut platform = TestPlatform::new();
        platform.cache.insert(
            provider.cache_key(),
            CachedToken {
                access_token: AccessToken::new("t"),
                expires_at: u64::MAX,
                refresh_token: None,
            },
        );
        provider.invalidate(&mut platform);
        assert!(platform.cache.is_empty());
    }
}
