//! The `configuration` check: the settings are valid, the person's SyncMode
//! and Sync-URL are usable (both checked by [`Target::prepare`] before
//! anything goes over the network; a failure there is reported by the
//! caller as this check, red), and the person's address is the primary SMTP
//! address of a mailbox.
//!
//! The address is resolved with `ResolveNames` ([`resolve_names`]), after
//! the sign-in, because it needs a token:
//!
//! - the address is a mailbox's primary SMTP address: green;
//! - it is an alias (a further proxy address): red, naming the primary
//!   address, with the change of the person's address in ROOMS (and the
//!   `person remove`/`person add` lines of the rooms-sync command line);
//! - no recipient has it (or, with app-only access, it cannot be
//!   impersonated: `ErrorNonExistentMailbox`): red, naming the address;
//! - it belongs to a group or a contact: red;
//! - any other failure (a tenant policy, throttling, the network) is no
//!   configuration problem: green with a note, and `calendar-access`, which
//!   meets the same failure, reports it;
//! - a delegated service user without a mailbox of its own: Exchange refuses
//!   its token with HTTP 401 and `x-ms-diagnostics` error category
//!   `invalid_user` ("The user specified by the user-context in the token
//!   does not exist."): red, with the licence step for the service user.

use super::{CONFIGURATION, Check};
use crate::config::Credential;
use crate::error::{Error, apply_time};
use crate::ews::resolve_names::{self, Resolution};
use crate::ews::{Access, DEFAULT_EWS_URL};
use crate::platform::{ConflictBehaviour, Person, Platform, SyncMode};
use crate::safe_text;
use crate::session::Target;

/// What the settings and the person say, for the green message.
fn describe(target: &Target, person: &Person) -> String {
    let settings = &target.settings;
    let access = match &settings.credential {
        Credential::ClientSecret => format!(
            "app-only access of app {} with a client secret",
            settings.app_id
        ),
        Credential::Certificate(thumbprint) => format!(
            "app-only access of app {} with the certificate {thumbprint:?}",
            settings.app_id
        ),
        Credential::Password { user } => format!(
            "delegated access of app {} as the service user {user}",
            settings.app_id
        ),
    };
    format!(
        "The settings are valid ({access}); {} has SyncMode {} and Sync-URL {}{}.",
        person.email,
        mode_name(person.sync_mode),
        target.url.without_query(),
        if person.room { ", as a room" } else { "" }
    )
}

fn mode_name(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::O365 => "O365 (push notifications)",
        SyncMode::O365Pull => "O365Pull (pull subscriptions)",
    }
}

/// The green check when the sign-in failed, so the address could not be
/// resolved yet.
pub fn unresolved(target: &Target, person: &Person) -> Check {
    Check::green(
        CONFIGURATION,
        format!(
            "{} Whether {} is the primary SMTP address of its mailbox is checked once the \
             sign-in works.",
            describe(target, person),
            person.email
        ),
    )
}

/// Resolves the person's address (after a green sign-in).
pub fn check(platform: &mut dyn Platform, target: &Target, person: &Person) -> Check {
    let access = target.access();
    let email = &person.email;
    let found = match resolve_names::resolve(platform, &target.url, &target.tokens, &access, email)
    {
        Ok(found) => found,
        Err(error) => return refused(error, &access, target, person),
    };
    let own = found.iter().find(|r| r.address.eq_ignore_ascii_case(email));
    let mailboxes: Vec<&Resolution> = found.iter().filter(|r| r.is_mailbox()).collect();
    match (own, mailboxes.as_slice()) {
        (Some(own), _) if own.is_mailbox() => Check::green(
            CONFIGURATION,
            format!(
                "{} {email} is the primary SMTP address of the mailbox '{}'.",
                describe(target, person),
                safe_text::quote(&own.name)
            ),
        ),
        (Some(own), _) => Check::red(
            CONFIGURATION,
            Error::configuration(
                "email",
                format!(
                    "{email} belongs to '{}', which is not a mailbox (Exchange calls it {})",
                    safe_text::quote(&own.name),
                    safe_text::name(&own.mailbox_type)
                ),
                "Enter the primary SMTP address of the person's or room's own mailbox in ROOMS; \
                 a group or a contact has no calendar to sync.",
            ),
        ),
        (None, [primary]) => Check::red(
            CONFIGURATION,
            Error::configuration(
                "email",
                format!(
                    "{email} is an alias of the mailbox '{}', whose primary SMTP address is {} \
                     (EWS addresses a mailbox by its primary SMTP address)",
                    safe_text::quote(&primary.name),
                    safe_text::name(&primary.address)
                ),
                change_address_fix(person, &safe_text::name(&primary.address)),
            ),
        ),
        (None, []) => Check::red(
            CONFIGURATION,
            Error::MailboxNotFound(crate::error::EwsFailure {
                response_code: "ErrorNameResolutionNoResults".into(),
                message: "No mailbox has this address.".into(),
                mailbox: email.clone(),
            }),
        ),
        (None, several) => Check::red(
            CONFIGURATION,
            Error::configuration(
                "email",
                format!(
                    "{email} matches several mailboxes ({}), none of which has it as its \
                     primary SMTP address",
                    several
                        .iter()
                        .map(|r| safe_text::name(&r.address))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "Look up the mailbox's primary SMTP address in Exchange Online PowerShell \
                 (`Get-Recipient <address> | fl PrimarySmtpAddress`) and enter it for the \
                 person in ROOMS.",
            ),
        ),
    }
}

/// The fix for an alias: the person's address in ROOMS becomes `primary`.
pub fn change_address_fix(person: &Person, primary: &str) -> String {
    let mut add = format!(
        "person add {primary} --mode {}",
        match person.sync_mode {
            SyncMode::O365 => "O365",
            SyncMode::O365Pull => "O365Pull",
        }
    );
    let url = person.sync_url.trim();
    if !url.is_empty() && url != DEFAULT_EWS_URL {
        add.push_str(&format!(" --sync-url {url}"));
    }
    if person.conflict_behaviour == ConflictBehaviour::Cancel {
        add.push_str(" --conflict Cancel");
    }
    if person.room {
        add.push_str(" --room");
        if person.sync_master {
            add.push_str(" --sync-master");
        }
    }
    format!(
        "Change the person's address in ROOMS to {primary} (with the rooms-sync command line: \
         `person remove {}`, then `{add}`). {}",
        person.email,
        apply_time::ROOMS
    )
}

/// The check for a failed `ResolveNames`: red when the failure is about the
/// address or the service user; any other failure (a tenant policy,
/// throttling, the network) is not a configuration problem, and the
/// `calendar-access` check, which meets it again, reports it.
fn refused(error: Error, access: &Access, target: &Target, person: &Person) -> Check {
    if let (Access::Delegated { user, .. }, Error::AccessDenied { failure, .. }) = (access, &error)
        && failure.response_code == "HTTP 401"
        && failure.message.contains("invalid_user")
    {
        let message = format!(
            "Exchange refused the token of the service user {user}: it has no Exchange Online \
             mailbox (Exchange says the user in the token does not exist), and delegated access \
             works only for a user with a mailbox."
        );
        let cause = Error::configuration(
            "ExchangeServiceUser",
            format!("{user} has no Exchange Online mailbox"),
            format!(
                "Give {user} an Exchange Online mailbox: in the Microsoft 365 admin center → \
                 Users → Active users → {user} → Licenses and apps, assign a licence that \
                 includes Exchange Online (or set ExchangeServiceUser to a user that has a \
                 mailbox). A new mailbox is usually ready within minutes and can take a few \
                 hours; check with `Get-Mailbox {user}` in Exchange Online PowerShell."
            ),
        );
        return Check::red_saying(CONFIGURATION, message, cause);
    }
    if matches!(error, Error::MailboxNotFound(_)) {
        return Check::red(CONFIGURATION, error);
    }
    Check::green(
        CONFIGURATION,
        format!(
            "{} Whether {} is the primary SMTP address of its mailbox could not be checked: {} \
             (the calendar-access check reports the cause).",
            describe(target, person),
            person.email,
            error.message().trim_end_matches('.')
        ),
    )
}
