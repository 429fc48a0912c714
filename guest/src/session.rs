//! A person's EWS session: the validated settings, the person's endpoint and
//! the token provider for it. Shared by the sync test ([`crate::diagnostics`])
//! and the sync engine ([`crate::sync`]), so both validate a person the same
//! way and name the same fixes.

use crate::auth::TokenProvider;
use crate::config::{RawSettings, Settings};
use crate::error::Error;
use crate::ews::{self, Access, EwsClient};
use crate::platform::Person;
use crate::url::HttpUrl;

/// Everything a person's EWS work needs, once the settings and the person
/// are valid.
#[derive(Debug)]
pub struct Target {
    /// The validated settings.
    pub settings: Settings,
    /// The person's EWS endpoint.
    pub url: HttpUrl,
    /// Tokens for that endpoint's resource.
    pub tokens: TokenProvider,
}

impl Target {
    /// Validates the settings and the person's address and Sync-URL.
    pub fn prepare(raw: &RawSettings, person: &Person) -> Result<Target, Error> {
        prepare(raw, person)
    }

    /// The caller's access (app-only or delegated).
    pub fn access(&self) -> Access {
        Access::from_settings(&self.settings)
    }

    /// An EWS client for the person's endpoint.
    pub fn client(&self) -> EwsClient<'_> {
        EwsClient::new(self.url.clone(), &self.tokens, self.access())
    }
}

fn prepare(raw: &RawSettings, person: &Person) -> Result<Target, Error> {
    let settings = raw.validate()?;
    validate_address(&person.email)?;
    let sync_url = match person.sync_url.trim() {
        "" => ews::DEFAULT_EWS_URL,
        url => url,
    };
    let url = HttpUrl::parse(sync_url).map_err(|problem| {
        Error::configuration(
            "sync-url",
            format!("of {} {problem}", person.email),
            format!(
                "Set the person's Sync-URL in ROOMS to the EWS endpoint, normally {}, or leave \
                 it empty.",
                ews::DEFAULT_EWS_URL
            ),
        )
    })?;
    let tokens = TokenProvider::new(&settings, &url.resource());
    Ok(Target {
        settings,
        url,
        tokens,
    })
}

/// An address must look like `local@domain` before it goes into a SOAP
/// header and the `X-AnchorMailbox` HTTP header.
pub(crate) fn validate_address(email: &str) -> Result<(), Error> {
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(Error::configuration(
            "email",
            format!("'{}' is not an e-mail address", email.escape_debug()),
            "Set the person's address in ROOMS to the primary SMTP address of its mailbox \
             (name@domain).",
        ))
    }
}
