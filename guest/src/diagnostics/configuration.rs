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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenProvider;
    use crate::auth::token::AccessToken;
    use crate::config::RawSettings;
    use crate::platform::{CachedToken, HttpResponse};
    use crate::testing::{TestPlatform, answer};

    fn person(email: &str) -> Person {
        Person {
            email: email.into(),
            sync_mode: SyncMode::O365,
            sync_url: "https://ews.example.com/EWS/Exchange.asmx".into(),
            conflict_behaviour: ConflictBehaviour::Cancel,
            sync_disabled: false,
            room: true,
            sync_master: true,
        }
    }

    fn setup(delegated: bool, person: &Person) -> (TestPlatform, Target) {
        let mut platform = crate::testing::configured(delegated);
        let target = Target::prepare(&RawSettings::read(&platform).unwrap(), person).unwrap();
        let tokens = TokenProvider::new(&target.settings, &target.url.resource());
        platform.cache.insert(
            tokens.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached"),
                expires_at: platform.now + 3000,
                refresh_token: None,
            },
        );
        (platform, target)
    }

    fn resolutions(entries: &[(&str, &str, &str)]) -> HttpResponse {
        let class = if entries.len() > 1 {
            r#"Warning"><m:MessageText>Multiple results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode>"#
        } else {
            r#"Success"><m:ResponseCode>NoError</m:ResponseCode>"#
        };
        let set: String = entries
            .iter()
            .map(|(name, address, kind)| {
                format!(
                    "<t:Resolution><t:Mailbox><t:Name>{name}</t:Name><t:EmailAddress>{address}\
                     </t:EmailAddress><t:MailboxType>{kind}</t:MailboxType></t:Mailbox>\
                     </t:Resolution>"
                )
            })
            .collect();
        answer(
            200,
            "text/xml",
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="{class}<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true">{set}</m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#
            ),
        )
    }

    fn run(delegated: bool, email: &str, answers: Vec<HttpResponse>) -> Check {
        let person = person(email);
        let (mut platform, target) = setup(delegated, &person);
        platform.answers.extend(answers);
        check(&mut platform, &target, &person)
    }

    #[test]
    fn the_primary_address_is_green_and_describes_the_settings() {
        let check = run(
            false,
            "room-berlin@contoso.com",
            vec![resolutions(&[(
                "Room Berlin",
                "Room-Berlin@contoso.com",
                "Mailbox",
            )])],
        );
        assert!(check.ok, "{check:?}");
        assert_eq!(
            check.message,
            "The settings are valid (app-only access of app 00001111-aaaa-2222-bbbb-3333cccc4444 \
             with a client secret); room-berlin@contoso.com has SyncMode O365 (push \
             notifications) and Sync-URL https://ews.example.com/EWS/Exchange.asmx, as a room. \
             room-berlin@contoso.com is the primary SMTP address of the mailbox 'Room Berlin'."
        );
    }

    #[test]
    fn an_alias_names_the_primary_address_and_the_commands() {
        let check = run(
            false,
            "berlin@contoso.com",
            vec![resolutions(&[(
                "Room Berlin",
                "room-berlin@contoso.com",
                "Mailbox",
            )])],
        );
        assert!(!check.ok);
        assert_eq!(
            check.message,
            "email berlin@contoso.com is an alias of the mailbox 'Room Berlin', whose primary \
             SMTP address is room-berlin@contoso.com (EWS addresses a mailbox by its primary SMTP \
             address)."
        );
        assert_eq!(
            check.fix.as_deref(),
            Some(
                "Change the person's address in ROOMS to room-berlin@contoso.com (with the \
                 rooms-sync command line: `person remove berlin@contoso.com`, then `person add \
                 room-berlin@contoso.com --mode O365 --sync-url \
                 https://ews.example.com/EWS/Exchange.asmx --conflict Cancel --room \
                 --sync-master`). The change applies at the next check."
            )
        );
    }

    #[test]
    fn no_mailbox_a_group_and_several_candidates_are_red() {
        let none = answer(
            200,
            "text/xml",
            &crate::testing::ews_sample!("resolvenames-error-noresults.xml")[..],
        );
        let check = run(true, "nobody@contoso.com", vec![none]);
        assert!(
            matches!(check.cause, Some(Error::MailboxNotFound(_))),
            "{check:?}"
        );
        assert!(
            check.message.contains("nobody@contoso.com"),
            "{}",
            check.message
        );
        let check = run(
            false,
            "all@contoso.com",
            vec![resolutions(&[("All staff", "all@contoso.com", "PublicDL")])],
        );
        assert!(!check.ok);
        assert!(
            check
                .message
                .contains("which is not a mailbox (Exchange calls it PublicDL)")
        );
        let check = run(
            false,
            "b@contoso.com",
            vec![resolutions(&[
                ("B one", "b1@contoso.com", "Mailbox"),
                ("B two", "b2@contoso.com", "Mailbox"),
            ])],
        );
        assert!(!check.ok);
        assert!(
            check
                .message
                .contains("matches several mailboxes (b1@contoso.com, b2@contoso.com)"),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_service_user_without_a_mailbox_is_told_to_license_it() {
        let refused = || {
            let mut a = answer(401, "text/html", "");
            a.headers.push((
                "x-ms-diagnostics".into(),
                "2000001;reason=\"The user specified by the user-context in the token does not \
                 exist.\";error_category=\"invalid_user\""
                    .into(),
            ));
            a
        };
        let token = answer(
            200,
            "application/json",
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#,
        );
        let check = run(true, "alice@contoso.com", vec![refused(), token, refused()]);
        assert!(!check.ok);
        assert!(
            check.message.starts_with(
                "Exchange refused the token of the service user svc-rooms@contoso.com: it has no \
                 Exchange Online mailbox"
            ),
            "{}",
            check.message
        );
        let fix = check.fix.unwrap();
        assert!(
            fix.starts_with("Give svc-rooms@contoso.com an Exchange Online mailbox"),
            "{fix}"
        );
        // Other failures are not configuration problems: noted, green.
        let check = run(
            false,
            "alice@contoso.com",
            vec![answer(403, "text/html", "")],
        );
        assert!(check.ok);
        assert!(
            check.message.ends_with(
                "could not be checked: EWS access blocked by tenant policy: \
                 https://ews.example.com/EWS/Exchange.asmx answered HTTP 403 with an empty body \
                 for alice@contoso.com (the calendar-access check reports the cause)."
            ),
            "{}",
            check.message
        );
    }
}
