//! The `calendar-access` check: `GetFolder` of the person's calendar
//! succeeds and the effective rights on it suffice for two-way sync (see
//! [`APP_ONLY_RIGHTS`] and [`DELEGATED_RIGHTS`]). A delegated service user
//! also needs the person's `Drafts` folder visible (`FolderVisible`), as the
//! original setup guide has it; that is a second `GetFolder`.

use super::{CALENDAR_ACCESS, Check};
use crate::error::{Error, apply_time, private_items_fix};
use crate::ews::get_folder::{self, Folder, Right};
use crate::ews::{self, Access};
use crate::platform::Platform;
use crate::safe_text;
use crate::session::Target;

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
/// (`EditAllItems`, `DeleteAllItems`) does not show in folder rights (the
/// `write` check proves them). So the check asks for what does show:
/// reading, creating items, private items.
pub const DELEGATED_RIGHTS: [Right; 3] =
    [Right::Read, Right::CreateContents, Right::ViewPrivateItems];

/// Runs the check for `mailbox` (the person's address).
pub fn check(platform: &mut dyn Platform, target: &Target, mailbox: &str) -> Check {
    let access = target.access();
    let calendar = match get_folder(platform, target, "calendar", mailbox) {
        Ok(folder) => evaluate_calendar(&folder, &access, mailbox),
        Err(error) => return Check::red(CALENDAR_ACCESS, error),
    };
    let Access::Delegated { user, .. } = &access else {
        return calendar;
    };
    if !calendar.ok {
        return calendar;
    }
    match drafts_hidden(platform, target, mailbox, user) {
        None => Check::green(
            CALENDAR_ACCESS,
            format!(
                "{} The Drafts folder of {mailbox} is visible to {user}.",
                calendar.message
            ),
        ),
        Some(check) => check,
    }
}

fn get_folder(
    platform: &mut dyn Platform,
    target: &Target,
    folder: &str,
    mailbox: &str,
) -> Result<Folder, Error> {
    let client = target.client();
    let access = client.access().clone();
    let body = get_folder::request_body(access.addressing(), folder, mailbox);
    let response = client.call(platform, mailbox, &body)?;
    let message = get_folder::single_message(response).map_err(|e| unreadable(&e))?;
    ews::check_message(&message, mailbox, &access)?;
    get_folder::parse_folder(&message).map_err(|e| unreadable(&e))
}

/// The admin step that makes `mailbox`'s Drafts folder visible to `user`.
pub fn drafts_fix(mailbox: &str, user: &str) -> String {
    format!(
        "Make the Drafts folder visible to the service user in Exchange Online PowerShell: \
         `Add-MailboxFolderPermission -Identity \"{mailbox}:\\Drafts\" -User {user} -AccessRights \
         FolderVisible` (Set-MailboxFolderPermission when {user} already has an entry on it; a \
         mailbox in another language uses its folder name, e.g. :\\Entwürfe). {}",
        apply_time::FOLDER_PERMISSIONS
    )
}

/// The red check when `mailbox`'s Drafts folder is not visible to `user`.
fn drafts_hidden(
    platform: &mut dyn Platform,
    target: &Target,
    mailbox: &str,
    user: &str,
) -> Option<Check> {
    let red = |why: String, cause: Error| {
        Check::red_saying(
            CALENDAR_ACCESS,
            format!(
                "The calendar of {mailbox} is reachable, but its Drafts folder is not visible to \
                 {user} ({why}); delegated access needs it visible (FolderVisible), as the setup \
                 guide says."
            ),
            cause,
        )
    };
    let denied = |failure: crate::error::EwsFailure| Error::AccessDenied {
        failure,
        fix: drafts_fix(mailbox, user),
    };
    match get_folder(platform, target, "drafts", mailbox) {
        Ok(folder) if folder.rights.is_none_or(|r| r.has(Right::Read)) => None,
        Ok(_) => Some(red(
            "it has no FolderVisible right on it".into(),
            denied(crate::error::EwsFailure {
                response_code: "FolderVisible".into(),
                message: "the Drafts folder's effective rights lack Read".into(),
                mailbox: mailbox.to_owned(),
            }),
        )),
        Err(Error::AccessDenied { failure, .. }) => {
            let why = format!("Exchange answered {}", failure.response_code);
            Some(red(why, denied(failure)))
        }
        Err(error) => Some(Check::red(CALENDAR_ACCESS, error)),
    }
}

/// The calendar check for a folder `GetFolder` returned: green when the
/// effective rights suffice for two-way sync with this access.
pub fn evaluate_calendar(folder: &Folder, access: &Access, mailbox: &str) -> Check {
    // The display name comes from the server: quoted wherever it is shown.
    let display_name = safe_text::quote(&folder.display_name);
    let Some(rights) = folder.rights else {
        return Check::red(
            CALENDAR_ACCESS,
            Error::protocol(
                format!(
                    "Exchange returned the calendar '{display_name}' of {mailbox} without its \
                     effective rights."
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
                "The calendar '{display_name}' of {mailbox} is reachable with the rights two-way \
                 sync needs ({}).",
                names(needed)
            ),
        );
    }
    let names_of =
        |rights: &[Right]| -> Vec<String> { rights.iter().map(|r| r.name().to_owned()).collect() };
    let has: Vec<Right> = needed.iter().copied().filter(|r| rights.has(*r)).collect();
    // Only the private items missing: the service user has an entry on the
    // calendar already, which needs the flag added (the sync engine's
    // `private-items-hidden` advice).
    let fix = match access {
        Access::Delegated { user, .. } if missing == [Right::ViewPrivateItems] => {
            private_items_fix(mailbox, user)
        }
        _ => access.grant_fix(mailbox),
    };
    Check::red(
        CALENDAR_ACCESS,
        Error::InsufficientRights {
            mailbox: mailbox.to_owned(),
            folder: display_name,
            missing: names_of(&missing),
            has: names_of(&has),
            fix,
        },
    )
}

fn unreadable(problem: &str) -> Error {
    Error::protocol(
        format!(
            "Exchange's GetFolder answer cannot be used: {}.",
            safe_text::quote(problem)
        ),
        "Check that the person's sync-url is the EWS endpoint (normally \
         https://outlook.office365.com/EWS/Exchange.asmx); try again later.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drafts_fix_is_the_setup_guide_line_with_the_time() {
        let fix = drafts_fix("alice@contoso.com", "svc-rooms@contoso.com");
        assert!(
            fix.contains(
                "`Add-MailboxFolderPermission -Identity \"alice@contoso.com:\\Drafts\" -User \
                 svc-rooms@contoso.com -AccessRights FolderVisible`"
            ),
            "{fix}"
        );
        assert!(fix.ends_with(apply_time::FOLDER_PERMISSIONS), "{fix}");
        // The fix travels as the cause's and is not repeated.
        let error = Error::AccessDenied {
            failure: crate::error::EwsFailure {
                response_code: "ErrorAccessDenied".into(),
                message: "Access is denied".into(),
                mailbox: "alice@contoso.com".into(),
            },
            fix,
        };
        assert_eq!(error.fix().matches("sometimes take a few hours").count(), 1);
    }
}
