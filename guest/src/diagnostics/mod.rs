//! The sync test of one person ("Synchronisationstest" in ROOMS): an ordered
//! list of checks, each green or red with a message and, when red, the fix
//! with the tenant's real names and how long the change takes to apply.
//!
//! The checks, in the order they are reported:
//!
//! 1. `configuration` ([`configuration`]): the settings are valid, the
//!    person's SyncMode and Sync-URL are usable, and the person's address is
//!    the primary SMTP address of a mailbox (`ResolveNames`).
//! 2. `sign-in` ([`sign_in`]): Entra ID issues (or the cache holds) a token
//!    for the person's EWS endpoint.
//! 3. `calendar-access` ([`calendar_access`]): `GetFolder` of the person's
//!    calendar succeeds with the rights two-way sync needs; for a delegate
//!    also the `Drafts` folder is visible.
//! 4. `write` ([`write`]): a tagged test item is created, updated and
//!    deleted (for a delegate also a private one, read back), leaving
//!    nothing behind.
//! 5. `subscription` ([`subscription`]): a subscription in the person's mode
//!    receives one event (pull: `GetEvents`; push: a notification delivered
//!    to the running service's webhook, skipped without a callback URL).
//!    The host asks for it separately (the component's `check-subscription`
//!    export, [`check_subscription`]) after the four checks of [`check`]
//!    are green, because it needs the host's callback URL and wait; the
//!    host reports it "not run" after a red check.
//!
//! Resolving the address needs a token, so the checks run in this order:
//! the settings and the person (no network), then the sign-in, then the
//! address; the address's result is reported under `configuration`, which
//! stays first. A red settings check stops everything; a red sign-in leaves
//! `configuration` green with the note that the address was not checked
//! yet; a red address leaves `sign-in` green (it ran) and the later checks
//! not run. A check after a red one is red with "not run: <which check>
//! failed". [`check_person`] fails as a whole only when no check can start:
//! an unknown person, or a settings store that cannot be read.

pub mod calendar_access;
pub mod configuration;
pub mod sign_in;
pub mod subscription;
pub mod write;

pub use calendar_access::{APP_ONLY_RIGHTS, DELEGATED_RIGHTS, evaluate_calendar};

use crate::config::RawSettings;
use crate::error::Error;
use crate::platform::{Level, Person, Platform};
use crate::safe_text;
use crate::session::Target;

/// Name of the configuration check.
pub const CONFIGURATION: &str = "configuration";
/// Name of the sign-in check.
pub const SIGN_IN: &str = "sign-in";
/// Name of the calendar check.
pub const CALENDAR_ACCESS: &str = "calendar-access";
/// Name of the write check.
pub const WRITE: &str = "write";
/// Name of the subscription check.
pub const SUBSCRIPTION: &str = "subscription";

/// One step of the sync test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// [`CONFIGURATION`], [`SIGN_IN`], [`CALENDAR_ACCESS`], [`WRITE`] or
    /// [`SUBSCRIPTION`].
    pub name: &'static str,
    /// Green (true) or red (false).
    pub ok: bool,
    /// What was found, one sentence (or a few).
    pub message: String,
    /// What to change; `None` when green.
    pub fix: Option<String>,
    /// The typed cause; `None` when green or not run.
    pub cause: Option<Error>,
}

impl Check {
    /// A green check.
    pub fn green(name: &'static str, message: String) -> Self {
        Self {
            name,
            ok: true,
            message,
            fix: None,
            cause: None,
        }
    }

    /// A red check whose message and fix are the error's.
    pub fn red(name: &'static str, error: Error) -> Self {
        Self {
            name,
            ok: false,
            message: error.message(),
            fix: Some(error.fix()),
            cause: Some(error),
        }
    }

    /// A red check with its own message (the error's fix stays): for a
    /// cause the error's message would describe too generally.
    pub fn red_saying(name: &'static str, message: String, error: Error) -> Self {
        Self {
            message,
            ..Self::red(name, error)
        }
    }

    /// The same check with its message, fix and cause made safe to show
    /// ([`safe_text::message`], [`Error::sanitized`]): the final pass the
    /// component edge applies before a check leaves the component.
    pub fn sanitized(self) -> Self {
        Self {
            name: self.name,
            ok: self.ok,
            message: safe_text::message_owned(self.message),
            fix: self.fix.map(safe_text::message_owned),
            cause: self.cause.as_ref().map(Error::sanitized),
        }
    }

    /// A check that did not run because `failed` (a check's name) is red.
    pub fn not_run(name: &'static str, failed: &str) -> Self {
        Self {
            name,
            ok: false,
            message: format!("not run: {failed} failed"),
            fix: None,
            cause: None,
        }
    }
}

/// Runs the sync test of the person with address `email`.
pub fn check_person(platform: &mut dyn Platform, email: &str) -> Result<Vec<Check>, Error> {
    let person = platform
        .person(email)
        .ok_or_else(|| Error::UnknownPerson(email.to_owned()))?;
    check(platform, &person)
}

/// The sync test of `person` as the host hands it over (the component's
/// `check-person` export): the same checks as [`check_person`], without
/// looking the person up again.
pub fn check(platform: &mut dyn Platform, person: &Person) -> Result<Vec<Check>, Error> {
    platform.log(Level::Info, &format!("sync test of {}", person.email));
    let raw = RawSettings::read(platform)?;
    let checks = run(platform, &raw, person);
    // The results go back to the host, which shows them; the log only
    // records them, so a red check is not also a warning on stderr.
    for check in &checks {
        platform.log(Level::Info, &format!("{}: {}", check.name, check.message));
    }
    Ok(checks)
}

/// The `subscription` check of `person` (the component's
/// `check-subscription` export): `callback_url` is the push callback the
/// service would use, `wait_secs` the longest wait for a push notification.
pub fn check_subscription(
    platform: &mut dyn Platform,
    person: &Person,
    callback_url: Option<&str>,
    wait_secs: u32,
) -> Check {
    subscription::check(platform, person, callback_url, wait_secs)
}

fn run(platform: &mut dyn Platform, raw: &RawSettings, person: &Person) -> Vec<Check> {
    let target = match Target::prepare(raw, person) {
        Ok(target) => target,
        Err(error) => {
            return vec![
                Check::red(CONFIGURATION, error),
                Check::not_run(SIGN_IN, CONFIGURATION),
                Check::not_run(CALENDAR_ACCESS, CONFIGURATION),
                Check::not_run(WRITE, CONFIGURATION),
            ];
        }
    };
    let sign_in = sign_in::check(platform, &target);
    if !sign_in.ok {
        return vec![
            configuration::unresolved(&target, person),
            sign_in,
            Check::not_run(CALENDAR_ACCESS, SIGN_IN),
            Check::not_run(WRITE, SIGN_IN),
        ];
    }
    let configuration = configuration::check(platform, &target, person);
    if !configuration.ok {
        return vec![
            configuration,
            sign_in,
            Check::not_run(CALENDAR_ACCESS, CONFIGURATION),
            Check::not_run(WRITE, CONFIGURATION),
        ];
    }
    let calendar = calendar_access::check(platform, &target, &person.email);
    if !calendar.ok {
        return vec![
            configuration,
            sign_in,
            calendar,
            Check::not_run(WRITE, CALENDAR_ACCESS),
        ];
    }
    let write = write::check(platform, &target, &person.email);
    vec![configuration, sign_in, calendar, write]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenProvider;
    use crate::auth::token::AccessToken;
    use crate::config::keys;
    use crate::ews::get_folder::{self, Folder};
    use crate::platform::{
        CachedToken, ConfigReadError, ConflictBehaviour, HttpResponse, SyncMode,
    };
    use crate::session::validate_address;
    use crate::testing::{TestPlatform, answer, app_only, delegated};

    fn person(email: &str, sync_url: &str) -> Person {
        Person {
            email: email.into(),
            sync_mode: SyncMode::O365Pull,
            sync_url: sync_url.into(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: false,
            sync_master: false,
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
    fn a_bad_setting_makes_configuration_red_and_skips_the_rest() {
        let mut platform = platform();
        platform.config.remove(keys::APP_ID);
        let checks = check_person(&mut platform, "room1@contoso.com").unwrap();
        let names: Vec<&str> = checks.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["configuration", "sign-in", "calendar-access", "write"]
        );
        assert!(!checks[0].ok);
        assert_eq!(checks[0].message, "ExchangeAppId is not set.");
        let fix = checks[0].fix.as_deref().unwrap();
        assert!(fix.contains("Application (client) ID"), "{fix}");
        assert!(
            fix.ends_with("The change applies at the next check."),
            "{fix}"
        );
        assert!(matches!(checks[0].cause, Some(Error::Configuration(_))));
        for later in &checks[1..] {
            assert!(!later.ok);
            assert_eq!(later.message, "not run: configuration failed");
            assert_eq!((&later.fix, &later.cause), (&None, &None));
        }
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
        // The settings are valid; the address waits for a sign-in.
        assert!(checks[0].ok, "{:?}", checks[0]);
        assert!(
            checks[0].message.ends_with(
                "Whether room1@contoso.com is the primary SMTP address of its mailbox is checked \
                 once the sign-in works."
            ),
            "{}",
            checks[0].message
        );
        assert!(!checks[1].ok);
        assert!(matches!(checks[1].cause, Some(Error::Transport(_))));
        assert_eq!(checks[2].message, "not run: sign-in failed");
        assert_eq!(checks[3].message, "not run: sign-in failed");
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
        platform
            .answers
            .push_back(resolved("room1@contoso.com", "Room 1", "Mailbox"));
        let checks = check_person(&mut platform, "ROOM1@contoso.com").unwrap();
        assert!(checks[1].ok, "{:?}", checks[1]);
        assert!(
            checks[1]
                .message
                .contains("valid for another 50 minutes (from the token cache)")
        );
        assert_eq!(checks[1].fix, None);
        assert!(checks[0].ok, "{:?}", checks[0]);
        assert!(
            checks[0].message.ends_with(
                "room1@contoso.com is the primary SMTP address of the mailbox 'Room 1'."
            ),
            "{}",
            checks[0].message
        );
        // ResolveNames impersonates by any proxy address.
        let resolve = String::from_utf8(platform.requests[0].body.clone()).unwrap();
        assert!(
            resolve.contains("<t:SmtpAddress>room1@contoso.com</t:SmtpAddress>"),
            "{resolve}"
        );
        // The GetFolder request went out for the person's stored address.
        let request = &platform.requests[1];
        assert_eq!(
            request.url,
            "https://outlook.office365.com/EWS/Exchange.asmx"
        );
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));
        let body = String::from_utf8(request.body.clone()).unwrap();
        assert!(body.contains("<t:PrimarySmtpAddress>room1@contoso.com</t:PrimarySmtpAddress>"));
        assert!(!checks[2].ok);
        assert!(matches!(checks[2].cause, Some(Error::Transport(_))));
        assert_eq!(checks[3].message, "not run: calendar-access failed");
        assert!(
            platform
                .logged()
                .iter()
                .all(|l| !l.contains("cached\"") && !l.contains("Bearer"))
        );
    }

    /// A `ResolveNames` answer with one resolution.
    fn resolved(address: &str, name: &str, kind: &str) -> HttpResponse {
        answer(
            200,
            "text/xml; charset=utf-8",
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>{name}</t:Name><t:EmailAddress>{address}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>{kind}</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#
            ),
        )
    }

    fn folder(file: &[u8]) -> Folder {
        use crate::ews::response::{Content, read_envelope};
        let Content::Response(r) = read_envelope(file).unwrap().content else {
            panic!()
        };
        get_folder::parse_folder(&get_folder::single_message(r).unwrap()).unwrap()
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

    /// What a hostile server puts into a text: a new terminal title, a
    /// cleared screen and a forged line.
    const ATTACK: &str = "\x1b]0;pwned\x07\x1b[2J\n[ OK ] forged";

    /// [`platform`] with a valid token for Exchange Online in the cache, so
    /// the first request is the `ResolveNames` of the address (see
    /// [`resolving`]).
    fn signed_in() -> TestPlatform {
        let mut platform = platform();
        let settings = RawSettings::read(&platform).unwrap().validate().unwrap();
        let tokens = TokenProvider::new(&settings, "https://outlook.office365.com");
        platform.cache.insert(
            tokens.cache_key(),
            CachedToken {
                access_token: AccessToken::new("cached"),
                expires_at: platform.now + 3000,
                refresh_token: None,
            },
        );
        platform
    }

    /// [`signed_in`] with the address resolved, so the next request is the
    /// calendar's.
    fn resolving() -> TestPlatform {
        let mut platform = signed_in();
        platform
            .answers
            .push_back(resolved("room1@contoso.com", "Room 1", "Mailbox"));
        platform
    }

    fn soap_fault(code: &str, text: &str) -> Vec<u8> {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:{code}</faultcode><faultstring xml:lang="en-US">{text}</faultstring></s:Fault></s:Body></s:Envelope>"#
        )
        .into_bytes()
    }

    /// Runs the sync test and returns its checks as the component edge hands
    /// them out (after `Check::sanitized`).
    fn shown_checks(platform: &mut TestPlatform) -> Vec<Check> {
        let checks = check_person(platform, "room1@contoso.com").unwrap();
        checks.into_iter().map(Check::sanitized).collect()
    }

    /// Asserts that no text of `check` (message, fix, cause) can drive a
    /// terminal or forge a line, and that each is at most `cap` characters.
    fn assert_shown_safely(check: &Check, cap: usize) {
        let mut texts = vec![check.message.clone()];
        texts.extend(check.fix.clone());
        match &check.cause {
            Some(Error::AccessDenied { failure, .. } | Error::MailboxNotFound(failure)) => {
                texts.extend([failure.response_code.clone(), failure.message.clone()]);
            }
            Some(Error::InsufficientRights { folder, .. }) => texts.push(folder.clone()),
            Some(Error::SignIn(failure)) => {
                texts.extend([failure.error.clone(), failure.message.clone()]);
            }
            Some(Error::Protocol { message, .. }) => texts.push(message.clone()),
            _ => {}
        }
        for text in texts {
            assert!(safe_text::is_clean(&text), "{text:?}");
            assert!(!text.contains("\n[ OK ]"), "{text:?}");
            assert!(
                text.chars().count() <= cap,
                "{} characters",
                text.chars().count()
            );
        }
    }

    fn assert_logged_safely(platform: &TestPlatform) {
        for line in platform.logged() {
            assert!(safe_text::is_clean(&line), "{line:?}");
            assert!(line.chars().count() <= 2000, "{} characters", line.len());
        }
    }

    #[test]
    fn escapes_in_a_soap_fault_never_reach_the_operator() {
        let mut platform = resolving();
        platform.answers.push_back(answer(
            500,
            "text/xml; charset=utf-8",
            soap_fault("ErrorImpersonateUserDenied", ATTACK),
        ));
        let checks = shown_checks(&mut platform);
        let calendar = &checks[2];
        assert!(!calendar.ok);
        assert_eq!(
            calendar.message,
            "Exchange refused access to the calendar of room1@contoso.com: \
             ErrorImpersonateUserDenied (]0;pwned [2J [ OK ] forged)."
        );
        let Some(Error::AccessDenied { failure, .. }) = &calendar.cause else {
            panic!("{:?}", calendar.cause)
        };
        assert_eq!(failure.message, "]0;pwned [2J [ OK ] forged");
        assert_shown_safely(calendar, safe_text::QUOTE_MAX_CHARS + 200);
        assert_logged_safely(&platform);
    }

    #[test]
    fn a_three_mebibyte_fault_text_becomes_one_capped_line() {
        let mut platform = resolving();
        let huge = format!("{ATTACK} {}", "A".repeat(3 << 20));
        platform.answers.push_back(answer(
            500,
            "text/xml",
            soap_fault("ErrorSomethingNew", &huge),
        ));
        let checks = shown_checks(&mut platform);
        let calendar = &checks[2];
        assert!(matches!(calendar.cause, Some(Error::Protocol { .. })));
        assert!(
            calendar.message.starts_with(
                "Exchange answered ErrorSomethingNew for room1@contoso.com: ]0;pwned [2J [ OK ] \
                 forged AAA"
            ),
            "{}",
            &calendar.message[..120]
        );
        assert!(calendar.message.contains("more characters)"));
        // The quoted server text is capped, not only the whole message.
        assert_shown_safely(calendar, safe_text::QUOTE_MAX_CHARS + 100);
        assert_logged_safely(&platform);
    }

    #[test]
    fn a_hostile_code_and_message_text_are_quoted_too() {
        let mut platform = resolving();
        let body = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Error"><m:MessageText>{ATTACK}</m:MessageText><m:ResponseCode>ErrorNonExistentMailbox&#x1b;[2J&#x202e;</m:ResponseCode></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#
        );
        platform.answers.push_back(answer(200, "text/xml", body));
        let checks = shown_checks(&mut platform);
        let calendar = &checks[2];
        // The code is not one Exchange knows, so it is not mistaken for one.
        assert!(
            matches!(calendar.cause, Some(Error::Protocol { .. })),
            "{calendar:?}"
        );
        assert!(
            calendar.message.contains("ErrorNonExistentMailbox [2J"),
            "{}",
            calendar.message
        );
        assert_shown_safely(calendar, safe_text::QUOTE_MAX_CHARS + 300);
        assert_logged_safely(&platform);
    }

    #[test]
    fn escapes_in_a_folder_display_name_are_replaced() {
        for (file, green) in [(FULL, true), (DELEGATE, false)] {
            let mut platform = signed_in();
            if !green {
                platform
                    .config
                    .insert(keys::USE_IMPERSONATION.into(), "false".into());
                platform
                    .config
                    .insert(keys::SERVICE_USER.into(), "svc-rooms@contoso.com".into());
                platform
                    .secrets
                    .insert(keys::SERVICE_PASSWORD.into(), "pw".into());
                // The delegated token is another cache entry: it is asked for.
                platform.answers.push_back(answer(
                    200,
                    "application/json",
                    r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t"}"#,
                ));
            }
            platform
                .answers
                .push_back(resolved("room1@contoso.com", "Room 1", "Mailbox"));
            let body = String::from_utf8(file.to_vec())
                .unwrap()
                .replace(
                    "<t:DisplayName>Calendar</t:DisplayName>",
                    &format!("<t:DisplayName>{ATTACK}\u{202e}lanoisivorp</t:DisplayName>"),
                )
                .replace(
                    "<t:DisplayName>Kalender</t:DisplayName>",
                    &format!("<t:DisplayName>{ATTACK}</t:DisplayName>"),
                );
            platform.answers.push_back(answer(200, "text/xml", body));
            let checks = shown_checks(&mut platform);
            let calendar = &checks[2];
            assert_eq!(calendar.ok, green, "{calendar:?}");
            assert!(
                calendar.message.contains("'") && calendar.message.contains("]0;pwned [2J [ OK ]"),
                "{}",
                calendar.message
            );
            if let Some(Error::InsufficientRights { folder, .. }) = &calendar.cause {
                assert_eq!(folder, "]0;pwned [2J [ OK ] forged");
            } else {
                assert!(green, "{:?}", calendar.cause);
                assert!(
                    calendar.message.contains("forged lanoisivorp"),
                    "{}",
                    calendar.message
                );
            }
            assert_shown_safely(calendar, safe_text::QUOTE_MAX_CHARS + 300);
            assert_logged_safely(&platform);
        }
    }

    #[test]
    fn escapes_in_an_entra_error_description_are_replaced() {
        let mut platform = platform();
        let body = serde_json::json!({
            "error": "invalid_request\u{1b}[2J",
            "error_description": format!(
                "AADSTS9002313: {}\u{85}[ OK ] forged\u{202e}\r\nTrace ID: 0000aaaa\r\n",
                ATTACK.replace('\n', " ")
            ),
            "error_codes": [9002313],
            "correlation_id": "aaaa0000\u{7}\u{1b}[1A",
        });
        platform
            .answers
            .push_back(answer(400, "application/json", body.to_string()));
        let checks = shown_checks(&mut platform);
        let sign_in = &checks[1];
        assert!(!sign_in.ok);
        assert_eq!(
            sign_in.message,
            "Entra ID refused the sign-in: invalid_request [2J (AADSTS9002313: ]0;pwned [2J [ \
             OK ] forged [ OK ] forged)."
        );
        assert!(
            sign_in
                .fix
                .as_deref()
                .unwrap()
                .contains("correlation ID aaaa0000 [1A."),
            "{:?}",
            sign_in.fix
        );
        assert_shown_safely(sign_in, safe_text::QUOTE_MAX_CHARS + 300);
        assert_logged_safely(&platform);
    }

    #[test]
    fn a_twelve_mebibyte_access_token_is_a_clear_sign_in_error() {
        let mut platform = platform();
        let token = "e".repeat(12 << 20);
        let body =
            format!(r#"{{"token_type":"Bearer","expires_in":3599,"access_token":"{token}"}}"#);
        let expected = format!("with an application/json body of {} bytes", body.len());
        platform
            .answers
            .push_back(answer(200, "application/json", body));
        let checks = shown_checks(&mut platform);
        let sign_in = &checks[1];
        assert!(!sign_in.ok);
        assert!(matches!(sign_in.cause, Some(Error::Protocol { .. })));
        assert!(
            sign_in.message.contains(&expected) && sign_in.message.contains("at most 1024 KiB"),
            "{}",
            sign_in.message
        );
        assert!(
            sign_in
                .fix
                .as_deref()
                .unwrap()
                .contains("ExchangeAuthorityUrl"),
            "{:?}",
            sign_in.fix
        );
        assert!(!sign_in.message.contains("eee"));
        assert!(platform.cache.is_empty(), "nothing was cached");
        assert_eq!(checks[2].message, "not run: sign-in failed");
    }
}
