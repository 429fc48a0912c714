//! The `sign-in` check: Entra ID issues a token for the person's EWS
//! endpoint (or the token cache holds a valid one). A refusal is red with the
//! AADSTS advice the auth layer worked out, a certificate problem with the
//! certificate store step.

use super::{Check, SIGN_IN};
use crate::platform::Platform;
use crate::session::Target;

/// Signs in for `target` and says as whom, for which resource and for how
/// long the token is valid.
pub fn check(platform: &mut dyn Platform, target: &Target) -> Check {
    match target.tokens.token(platform) {
        Ok(token) => {
            let minutes = token.expires_at.saturating_sub(platform.now_unix()) / 60;
            Check::green(
                SIGN_IN,
                format!(
                    "Signed in to Entra ID tenant {} as {} for {}; the token is valid for another \
                     {minutes} minutes{}.",
                    target.settings.tenant_id,
                    target.tokens.context().describe(),
                    target.tokens.context().resource,
                    if token.reused {
                        " (from the token cache)"
                    } else {
                        ""
                    }
                ),
            )
        }
        Err(error) => Check::red(SIGN_IN, error),
    }
}
