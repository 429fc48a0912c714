//! The sync test of one person ("Sync testen" in ROOMS): an ordered list of
//! checks, each green or red with a message and, when red, the fix.
//!
//! 1. `sign-in`: the settings are valid and Entra ID issues (or the cache
//!    holds) a token for the person's EWS endpoint.
//! 2. `calendar-access`: `GetFolder` of the person's calendar succeeds and the
//!    effective rights on it suffice for two-way sync (see [`APP_ONLY_RIGHTS`]
//!    and [`DELEGATED_RIGHTS`]).
//!
//! A check after a red one is red with "not run". [`check_person`] fails as a
//! whole only when no check can start: an unknown person, or a settings store
//! that cannot be read.

use crate::auth::TokenProvider;
use crate::config::{RawSettings, Settings};
use crate::error::Error;
use crate::ews::get_folder::{self, Folder, Right};
use crate::ews::{self, Access, EwsClient};
use crate::platform::{Level, Person, Platform};
use crate::url::HttpUrl;

/// Name of the sign-in check.
pub const SIGN_IN: &str = "sign-in";
/// Name of the calendar check.
pub const CALENDAR_ACCESS: &str = "calendar-access";

/// One step of the sync test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// [`SIGN_IN`] or [`CALENDAR_ACCESS`].
    pub name: &'static str,
    /// Green (true) or red (false).
    pub ok: bool,
    /// What was found, one sentence.
    pub message: String,
    /// What to change; `None` when green.
    pub fix: Option<String>,
    /// The typed cause; `None` when green or not run.
    pub cause: Option<Error>,
}

impl Check {
    fn green(name: &'static str, message: String) -> Self {
        Self {
            name,
            ok: true,
            message,
            fix: None,
            cause: None,
        }
    }

    fn red(name: &'static str, error: Error) -> Self {
        Self {
            name,
            ok: false,
            message: error.message(),
            fix: Some(error.fix()),
            cause: Some(error),
        }
    }

    fn not_run(name: &'static str, reason: &str) -> Self {
        Self {
            name,
            ok: false,
            message: format!("not run: {reason}"),
            fix: None,
            cause: None,
        }
    }
}

/// The folder rights two-way sync needs with app-only access: impersonation
/// acts as the mailbox owner, who holds all of them.
pub const APP_ONLY_RIGHTS: [Right; 4] = [
    Right::Read,
    Right::CreateContents,
    Right::Modify,
    Right::Delete,
];

/// The folder rights two-way sync needs with delegated access.
///
/// A folder's `Modify` and `Delete` are rights on the folder itself (folder
/// owner), which the documented delegate setup (`Editor` with
/// `Delegate,CanViewPrivateItems`) does not grant; editing and deleting items
/// (`EditAllItems`, `DeleteAllItems`) does not show in folder rights. So the
/// check asks for what does show: reading, creating items, private items.
pub const DELEGATED_RIGHTS: [Right; 3] =
    [Right::Read, Right::CreateContents, Right::ViewPrivateItems];

/// Runs the sync test of the person with address `email`.
pub fn check_person(platform: &mut dyn Platform, email: &str) -> Result<Vec<Check>, Error> {
    platform.log(Level::Info, &format!("sync test of {email}"));
    let person = platform
        .person(email)
        .ok_or_else(|| Error::UnknownPerson(email.to_owned()))?;
    let raw = RawSettings::read(platform)?;

    let prepared = prepare(&raw, &person);
    let sign_in = match &prepared {
        Err(error) => Check::red(SIGN_IN, error.clone()),
        Ok(target) => match target.tokens.token(platform) {
            Ok(token) => {
                let minutes = token.expires_at.saturating_sub(platform.now_unix()) / 60;
                Check::green(
                    SIGN_IN,
                    format!(
                        "Signed in to Entra ID tenant {} as {} for {}; the token is valid for \
                         another {minutes} minutes{}.",
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
        },
    };
    let calendar = match (&prepared, sign_in.ok) {
        (Ok(target), true) => calendar_access(platform, target, &person.email),
        _ => Check::not_run(CALENDAR_ACCESS, "sign-in failed"),
    };
    // The results go back to the host, which shows them; the log only
    // records them, so a red check is not also a warning on stderr.
    for check in [&sign_in, &calendar] {
        platform.log(Level::Info, &format!("{}: {}", check.name, check.message));
    }
    Ok(vec![sign_in, calendar])
}

/// Everything the checks need, once the settings and the person are valid.
struct Target {
    settings: Settings,
    url: HttpUrl,
    tokens: TokenProvider,
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
fn validate_address(email: &str) -> Result<(), Error> {
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

fn calendar_access(platform: &mut dyn Platform, target: &Target, mailbox: &str) -> Check {
    let access = Access::from_settings(&target.settings);
    let client = EwsClient::new(target.url.clone(), &target.tokens, access.clone());
    let body = get_folder::request_body(access.addressing(), "calendar", mailbox);
    let result = client.call(platform, mailbox, &body).and_then(|response| {
        let message = get_folder::single_message(&response).map_err(|e| unreadable(&e))?;
        ews::check_message(&message, mailbox, &access)?;
        get_folder::parse_folder(&message).map_err(|e| unreadable(&e))
    });
    match result {
        Ok(folder) => evaluate_calendar(&folder, &access, mailbox),
        Err(error) => Check::red(CALENDAR_ACCESS, error),
    }
}

/// The calendar check for a folder `GetFolder` returned: green when the
/// effective rights suffice for two-way sync with this access.
pub fn evaluate_calendar(folder: &Folder, access: &Access, mailbox: &str) -> Check {
    let Some(rights) = folder.rights else {
        return Check::red(
            CALENDAR_ACCESS,
            Error::protocol(
                format!(
                    "Exchange returned the calendar '{}' of {mailbox} without its effective rights.",
                    folder.display_name
                ),
                "Check that the person's sync-url points to Exchange Online; try again later.",
            ),
        );
    };
    let needed: &[Right] = match access {
        Access::AppOnly { .. } => &APP_ONLY_RIGHTS,
        Access::Delegated { .. } => &DELEGATED_RIGHTS,
    };
    let names = |rights: &[Right]| {
        rights
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing = rights.missing(needed);
    if missing.is_empty() {
        return Check::green(
            CALENDAR_ACCESS,
            format!(
                "The calendar '{}' of {mailbox} is reachable with the rights two-way sync needs \
                 ({}).",
                folder.display_name,
                names(needed)
            ),
        );
    }
    let names_of =
        |rights: &[Right]| -> Vec<String> { rights.iter().map(|r| r.name().to_owned()).collect() };
    let has: Vec<Right> = needed.iter().copied().filter(|r| rights.has(*r)).collect();
    Check::red(
        CALENDAR_ACCESS,
        Error::InsufficientRights {
            mailbox: mailbox.to_owned(),
            folder: folder.display_name.clone(),
            missing: names_of(&missing),
            has: names_of(&has),
            fix: access.grant_fix(mailbox),
        },
    )
}

fn unreadable(problem: &str) -> Error {
    Error::protocol(
        format!("Exchange's GetFolder answer cannot be used: {problem}."),
        "Check that the person's sync-url is the EWS endpoint (normally \
         https://outlook.office365.com/EWS/Exchange.asmx); try again later.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::AccessToken;
    use crate::config::keys;
    use crate::platform::{CachedToken, ConfigReadError, ConflictBehaviour, SyncMode};
    use crate::testing::{TestPlatform, app_only, delegated};

    fn person(email: &str, sync_url: &str) -> Person {
        Person {
            email: email.into(),
            sync_mode: SyncMode::O365Pull,
            sync_url: sync_url.into(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
        }
    }

    fn platform() -> TestPlatform {
        let mut platform = TestPlatform::new();
        platform.persons.push(person("room1@contoso.com", ""));
        platform
            .config
            .insert(keys::TENANT_ID.into(), "contoso.onmicrosoft.com".into());
        platform.config.insert(
            keys::APP_ID.into(),
            "00001111-aaaa-2222-bbbb-3333cccc4444".into(),
        );
        platform
            .secrets
            .insert(keys::CLIENT_SECRET.into(), "secret".into());
        platform
    }

    #[test]
    fn an_unknown_person_is_the_only_per_person_error() {
        let mut platform = platform();
        assert_eq!(
            check_person(&mut platform, "nobody@contoso.com").unwrap_err(),
            Error::UnknownPerson("nobody@contoso.com".into())
        );
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn an_unreadable_settings_store_fails_the_whole_test() {
        let mut platform = platform();
        platform.config_error = Some(ConfigReadError("settings file is locked".into()));
        let error = check_person(&mut platform, "room1@contoso.com").unwrap_err();
        let Error::Configuration(problem) = error else {
            panic!()
        };
        assert!(problem.problem.contains("settings file is locked"));
    }

    #[test]
    fn a_bad_setting_makes_sign_in_red_and_skips_calendar_access() {
        let mut platform = platform();
        platform.config.remove(keys::APP_ID);
        let checks = check_person(&mut platform, "room1@contoso.com").unwrap();
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "sign-in");
        assert!(!checks[0].ok);
        assert_eq!(checks[0].message, "ExchangeAppId is not set.");
        assert!(
            checks[0]
                .fix
                .as_deref()
                .unwrap()
                .contains("Application (client) ID")
        );
        assert!(matches!(checks[0].cause, Some(Error::Configuration(_))));
        assert_eq!(checks[1].name, "calendar-access");
        assert!(!checks[1].ok);
        assert_eq!(checks[1].message, "not run: sign-in failed");
        assert_eq!(checks[1].cause, None);
        assert!(platform.requests.is_empty());
    }

    #[test]
    fn a_bad_sync_url_names_the_person_field() {
        let mut platform = platform();
        platform.persons = vec![person("room1@contoso.com", "outlook.office365.com/EWS")];
        let checks = check_person(&mut platform, "room1@contoso.com").unwrap();
        let Some(Error::Configuration(problem)) = &checks[0].cause else {
            panic!()
        };
        assert_eq!(problem.key, "sync-url");
        assert!(problem.problem.contains("room1@contoso.com"));
    }

    #[test]
    fn the_token_comes_from_the_sync_url_resource_and_failures_stop_the_test() {
        let mut platform = platform();
        platform.persons = vec![person(
            "room1@contoso.com",
            "http://127.0.0.1:8765/EWS/Exchange.asmx",
        )];
        let checks = check_person(&mut platform, "room1@contoso.com").unwrap();
        // No network in unit tests: the token request is the one request made.
        assert_eq!(platform.requests.len(), 1);
        let body = String::from_utf8(platform.requests[0].body.clone()).unwrap();
        assert!(
            body.contains("scope=https%3A%2F%2F127.0.0.1%3A8765%2F.default"),
            "{body}"
        );
        assert!(!checks[0].ok);
        assert!(matches!(checks[0].cause, Some(Error::Transport(_))));
        assert_eq!(checks[1].message, "not run: sign-in failed");
    }

    #[test]
    fn a_cached_token_signs_in_and_the_calendar_request_follows() {
        let mut platform = platform();
        platform.now = 1_000_000;
        let settings = RawSettings::read(&platform).unwrap().validate().unwrap();
        let tokens = TokenProvider::new(&settings, "https://outlook.office365.com");
        platform.cache.insert(
            tokens.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached"),
                expires_at: 1_000_000 + 3000,
                refresh_token: None,
            },
        );
        let checks = check_person(&mut platform, "ROOM1@contoso.com").unwrap();
        assert!(checks[0].ok, "{:?}", checks[0]);
        assert!(
            checks[0]
                .message
                .contains("valid for another 50 minutes (from the token cache)")
        );
        assert_eq!(checks[0].fix, None);
        // The GetFolder request went out for the person's stored address.
        let request = &platform.requests[0];
        assert_eq!(
            request.url,
            "https://outlook.office365.com/EWS/Exchange.asmx"
        );
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));
        let body = String::from_utf8(request.body.clone()).unwrap();
        assert!(body.contains("<t:PrimarySmtpAddress>room1@contoso.com</t:PrimarySmtpAddress>"));
        assert!(!checks[1].ok);
        assert!(matches!(checks[1].cause, Some(Error::Transport(_))));
        assert!(
            platform
                .logged()
                .iter()
                .all(|l| !l.contains("cached\"") && !l.contains("Bearer"))
        );
    }

    fn folder(file: &[u8]) -> Folder {
        use crate::ews::response::{Content, read_envelope};
        let Content::Response(r) = read_envelope(file).unwrap().content else {
            panic!()
        };
        get_folder::parse_folder(&get_folder::single_message(&r).unwrap()).unwrap()
    }

    const FULL: &[u8] =
        crate::testing::ews_derived!("getfolder-calendar-impersonation-response.xml");
    const DELEGATE: &[u8] =
        crate::testing::ews_derived!("getfolder-calendar-delegate-response.xml");

    #[test]
    fn full_rights_are_green_and_name_mailbox_and_folder() {
        let check = evaluate_calendar(&folder(FULL), &app_only(), "room1@contoso.com");
        assert!(check.ok, "{check:?}");
        assert_eq!(
            check.message,
            "The calendar 'Calendar' of room1@contoso.com is reachable with the rights two-way \
             sync needs (Read, CreateContents, Modify, Delete)."
        );
        assert_eq!((check.fix, check.cause), (None, None));
        let check = evaluate_calendar(&folder(FULL), &delegated(), "room1@contoso.com");
        assert!(check.ok);
        assert!(
            check
                .message
                .ends_with("(Read, CreateContents, ViewPrivateItems)."),
            "{}",
            check.message
        );
    }

    #[test]
    fn delegated_access_needs_private_items_too() {
        let check = evaluate_calendar(&folder(DELEGATE), &delegated(), "room1@contoso.com");
        assert!(!check.ok);
        assert!(
            check.message.contains("'Kalender' of room1@contoso.com"),
            "{}",
            check.message
        );
        assert!(
            check.message.contains("also needs ViewPrivateItems"),
            "{}",
            check.message
        );
        let fix = check.fix.unwrap();
        assert!(
            fix.contains("-SharingPermissionFlags Delegate,CanViewPrivateItems"),
            "{fix}"
        );
        let Some(Error::InsufficientRights {
            mailbox,
            missing,
            has,
            ..
        }) = check.cause
        else {
            panic!("{:?}", check.cause)
        };
        assert_eq!(mailbox, "room1@contoso.com");
        assert_eq!(missing, ["ViewPrivateItems"]);
        assert_eq!(has, ["Read", "CreateContents"]);
        // The Editor delegate has no folder-owner rights (Modify, Delete), and
        // delegated access does not ask for them.
        assert!(!check.message.contains("Modify"), "{}", check.message);
    }

    #[test]
    fn the_documented_delegate_setup_is_green() {
        let mut editor = folder(DELEGATE);
        if let Some(rights) = editor.rights.as_mut() {
            rights.view_private_items = true;
        }
        let check = evaluate_calendar(&editor, &delegated(), "room1@contoso.com");
        assert!(check.ok, "{check:?}");
        // The same rights are not enough for app-only access, which acts as the owner.
        let check = evaluate_calendar(&editor, &app_only(), "room1@contoso.com");
        assert!(!check.ok);
        assert!(
            check.message.contains("also needs Modify, Delete"),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_reviewer_cannot_create_items() {
        let mut reviewer = folder(DELEGATE);
        if let Some(rights) = reviewer.rights.as_mut() {
            rights.create_contents = false;
            rights.view_private_items = true;
        }
        let check = evaluate_calendar(&reviewer, &delegated(), "room1@contoso.com");
        assert!(!check.ok);
        assert!(
            check
                .message
                .contains("also needs CreateContents (it has Read, ViewPrivateItems)"),
            "{}",
            check.message
        );
        assert!(check.fix.unwrap().contains("-AccessRights Editor"));
        let mut no_rights = folder(FULL);
        no_rights.rights = None;
        let check = evaluate_calendar(&no_rights, &app_only(), "room1@contoso.com");
        assert!(matches!(check.cause, Some(Error::Protocol { .. })));
    }

    #[test]
    fn addresses_are_validated() {
        assert!(validate_address("room1@contoso.com").is_ok());
        assert!(validate_address("o'brien+x@contoso.com").is_ok());
        for bad in [
            "",
            "room1",
            "@contoso.com",
            "room1@",
            "a@b@c",
            "room 1@contoso.com",
            "r\n@c.com",
        ] {
            assert!(validate_address(bad).is_err(), "{bad:?}");
        }
    }
}
