//! The `write` check: proves that two-way sync can write to the person's
//! calendar by creating, updating and deleting a test item there, and, for a
//! delegated service user, that it can see private items
//! (`CanViewPrivateItems`, which folder rights alone cannot prove) by
//! creating a private test item and finding it again.
//!
//! The test items are short (15 minutes), at least a day in the future,
//! free, without reminder and without attendees, written with
//! `SendToNone` (nobody is invited or told), subject [`SUBJECT`], and tagged
//! with the extended property `RoomsSyncTest` ([`TAG_URI`]) = [`TAG_VALUE`],
//! which the sync never takes for a booking's `RoomsBookingId`. They are
//! deleted with `HardDelete` (not kept in Deleted Items).
//!
//! Nothing is left behind: the check first removes test items an earlier,
//! interrupted test left (found by their tag), and after any failed step it
//! looks for its tag again and deletes what it finds. A delete that fails
//! once but succeeds in that cleanup is no failure (it is mentioned). The
//! one item it cannot remove is a private test item its delegate cannot see;
//! the message then says so.

use super::{Check, WRITE};
use crate::booking::{BookingFields, FreeBusy, Instant};
use crate::error::{Error, private_items_fix};
use crate::ews::update_item::{self, UpdateError};
use crate::ews::{Access, EwsClient, create_item, delete_item, find_item};
use crate::platform::{Level, Platform};
use crate::session::Target;

/// The `t:ExtendedFieldURI` of the test items' tag.
pub const TAG_URI: &str = r#"<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="RoomsSyncTest" PropertyType="String"/>"#;

/// The value of the test items' tag.
pub const TAG_VALUE: &str = "rooms-sync-test";

/// The subject of a test item.
pub const SUBJECT: &str = "ROOMS sync test – safe to delete";

/// The subject a test item is updated to.
pub const UPDATED_SUBJECT: &str = "ROOMS sync test (updated) – safe to delete";

/// How long a test item lasts.
pub const DURATION_S: Instant = 15 * 60;

/// A failed step: what was being done, and why it failed.
struct Failed {
    step: &'static str,
    error: Box<Error>,
}

fn failed(step: &'static str) -> impl FnOnce(Error) -> Failed {
    move |error| Failed {
        step,
        error: Box::new(error),
    }
}

/// The test item's fields: a full hour at least a day after `now`.
pub fn test_fields(mailbox: &str, now: u64, private: bool) -> BookingFields {
    let now = Instant::try_from(now).unwrap_or(0);
    let start = (now / 3600 + 25) * 3600;
    BookingFields {
        organiser: mailbox.to_ascii_lowercase(),
        rooms: Vec::new(),
        subject: SUBJECT.into(),
        start,
        end: start + DURATION_S,
        time_zone: String::new(),
        all_day: false,
        reminder_minutes: None,
        private,
        free_busy: FreeBusy::Free,
        attendees: Vec::new(),
        recurrence: None,
    }
}

/// Runs the check for `mailbox` (the person's address).
pub fn check(platform: &mut dyn Platform, target: &Target, mailbox: &str) -> Check {
    let client = target.client();
    let mut notes = Vec::new();
    match clean_up(&client, platform, mailbox) {
        Ok(0) => {}
        Ok(n) => notes.push(format!(
            "{n} test item(s) left by an earlier, interrupted sync test were removed first."
        )),
        Err(error) => {
            return red(
                mailbox,
                failed("looking for test items of an earlier sync test")(error),
                "",
            );
        }
    }
    let outcome = steps(&client, platform, mailbox, &mut notes);
    // Whatever happened, the tag finds what is left, and it is deleted; a
    // cleanup that fails may leave something.
    let left = match clean_up(&client, platform, mailbox) {
        Ok(_) => 0,
        Err(error) => {
            platform.log(
                Level::Warn,
                &format!(
                    "the sync test could not remove its test items from the calendar of \
                     {mailbox}: {}",
                    error.message()
                ),
            );
            1
        }
    };
    let leftover = if left == 0 {
        String::new()
    } else {
        format!(
            " A test item '{SUBJECT}' may be left in the calendar of {mailbox}; the next sync \
             test removes it, or delete it in Outlook."
        )
    };
    match outcome {
        Ok(private) => {
            if left > 0 {
                return red(
                    mailbox,
                    failed("removing the test items")(Error::protocol(
                        "the last look for test items failed".to_owned(),
                        "Try again later; if it persists, report it with the rooms-sync host's \
                         log.",
                    )),
                    &leftover,
                );
            }
            let mut message = format!(
                "A test item was created, updated and deleted in the calendar of {mailbox}{}; \
                 nothing was left behind.",
                if private {
                    ", and a private test item was found again (CanViewPrivateItems works)"
                } else {
                    ""
                }
            );
            for note in notes {
                message.push(' ');
                message.push_str(&note);
            }
            Check::green(WRITE, message)
        }
        Err(Outcome::Failed(failure)) => red(mailbox, failure, &leftover),
        Err(Outcome::PrivateHidden { user }) => Check::red_saying(
            WRITE,
            format!(
                "A private test item created in the calendar of {mailbox} is not visible to the \
                 service user {user}: it lacks CanViewPrivateItems, so two-way sync would miss \
                 every private appointment. The private test item '{SUBJECT}' stays until \
                 CanViewPrivateItems is set (the next sync test removes it then) or the mailbox \
                 owner deletes it in Outlook."
            ),
            Error::InsufficientRights {
                mailbox: mailbox.to_owned(),
                folder: "Calendar".into(),
                missing: vec!["ViewPrivateItems".into()],
                has: Vec::new(),
                fix: private_items_fix(mailbox, &user),
            },
        ),
    }
}

fn red(mailbox: &str, failure: Failed, leftover: &str) -> Check {
    let message = format!(
        "Writing to the calendar of {mailbox} failed while {}: {}{leftover}",
        failure.step,
        failure.error.message()
    );
    Check::red_saying(WRITE, message, *failure.error)
}

enum Outcome {
    Failed(Failed),
    PrivateHidden { user: String },
}

impl From<Failed> for Outcome {
    fn from(failed: Failed) -> Self {
        Self::Failed(failed)
    }
}

/// Create, update, (private create and find,) delete. True when the private
/// item was tested.
fn steps(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    notes: &mut Vec<String>,
) -> Result<bool, Outcome> {
    let fields = test_fields(mailbox, platform.now_unix(), false);
    let (id, change_key) = create_item::create_tagged(
        client,
        platform,
        mailbox,
        &fields,
        (TAG_URI, TAG_VALUE),
        "SendToNone",
    )
    .map_err(failed("creating the test item"))?;
    let updated = BookingFields {
        subject: UPDATED_SUBJECT.into(),
        ..fields.clone()
    };
    update_item::update_changed(
        client,
        platform,
        mailbox,
        &id,
        &change_key,
        &updated,
        &fields,
        "SendToNone",
    )
    .map_err(|e| match e {
        UpdateError::Other(error) => error,
        UpdateError::Conflict | UpdateError::NotFound => Error::protocol(
            "the test item changed or disappeared while it was being updated".to_owned(),
            "Try again; if it persists, report it with the rooms-sync host's log.",
        ),
    })
    .map_err(failed("updating the test item"))?;
    delete(client, platform, mailbox, &id, notes)?;

    let Access::Delegated { user, .. } = client.access() else {
        return Ok(false);
    };
    let private = test_fields(mailbox, platform.now_unix(), true);
    let (private_id, _) = create_item::create_tagged(
        client,
        platform,
        mailbox,
        &private,
        (TAG_URI, TAG_VALUE),
        "SendToNone",
    )
    .map_err(failed("creating the private test item"))?;
    let found = find_item::find_all_tagged(client, platform, mailbox, TAG_URI, TAG_VALUE)
        .map_err(failed("looking for the private test item"))?;
    if !found.iter().any(|(found_id, _)| *found_id == private_id) {
        return Err(Outcome::PrivateHidden { user: user.clone() });
    }
    delete(client, platform, mailbox, &private_id, notes)?;
    Ok(true)
}

/// Deletes a test item; a failure is repeated once through the cleanup (the
/// tag finds the item, if it is still there).
fn delete(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    id: &str,
    notes: &mut Vec<String>,
) -> Result<(), Failed> {
    let Err(error) = delete_item::hard_delete(client, platform, mailbox, id) else {
        return Ok(());
    };
    platform.log(
        Level::Info,
        &format!(
            "deleting the sync test's item failed ({}); looking for it by its tag",
            error.message()
        ),
    );
    match clean_up(client, platform, mailbox) {
        Ok(_) => {
            notes.push(format!(
                "Deleting a test item failed once ({}) and succeeded when repeated.",
                error.message().trim_end_matches('.')
            ));
            Ok(())
        }
        Err(_) => Err(failed("deleting the test item")(error)),
    }
}

/// Deletes every test item the caller can see in `mailbox`'s calendar;
/// returns how many.
fn clean_up(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
) -> Result<usize, Error> {
    let items = find_item::find_all_tagged(client, platform, mailbox, TAG_URI, TAG_VALUE)?;
    for (id, _) in &items {
        delete_item::hard_delete(client, platform, mailbox, id)?;
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenProvider;
    use crate::auth::token::AccessToken;
    use crate::config::RawSettings;
    use crate::ews::calendar_item::test_support::{names, sent_operation, soap};
    use crate::platform::{CachedToken, ConflictBehaviour, HttpResponse, Person, SyncMode};
    use crate::testing::{TestPlatform, ews_derived, ews_sample};

    const MAILBOX: &str = "room1@contoso.com";

    fn empty_find() -> HttpResponse {
        soap(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:FindItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:RootFolder IndexedPagingOffset="0" TotalItemsInView="0" IncludesLastItemInRange="true"><t:Items/></m:RootFolder></m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse></s:Body></s:Envelope>"#,
        )
    }

    fn one_found() -> HttpResponse {
        soap(&ews_derived!("finditem-booking-tag-response.xml")[..])
    }

    fn created() -> HttpResponse {
        soap(&ews_sample!("createitem-calendaritem-response.xml")[..])
    }

    fn updated() -> HttpResponse {
        soap(&ews_sample!("updateitem-meeting-response.xml")[..])
    }

    fn deleted() -> HttpResponse {
        soap(&ews_sample!("deleteitem-appointment-response.xml")[..])
    }

    fn error(operation: &str, code: &str) -> HttpResponse {
        soap(format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:{operation}Response xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{code} text.</m:MessageText><m:ResponseCode>{code}</m:ResponseCode></m:{operation}ResponseMessage></m:ResponseMessages></m:{operation}Response></s:Body></s:Envelope>"#
        ))
    }

    /// A platform signed in (token cached) with app-only or delegated
    /// settings, and the person's target.
    fn setup(delegated: bool) -> (TestPlatform, Target) {
        let mut platform = crate::testing::configured(delegated);
        let person = Person {
            email: MAILBOX.into(),
            sync_mode: SyncMode::O365Pull,
            sync_url: String::new(),
            conflict_behaviour: ConflictBehaviour::Rollback,
            sync_disabled: false,
            room: true,
            sync_master: false,
        };
        let target = Target::prepare(&RawSettings::read(&platform).unwrap(), &person).unwrap();
        let tokens = TokenProvider::new(&target.settings, "https://outlook.office365.com");
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

    fn operations(platform: &TestPlatform) -> Vec<String> {
        (0..platform.requests.len())
            .map(|i| sent_operation(platform, i).name)
            .collect()
    }

    #[test]
    fn a_tagged_item_is_created_updated_and_hard_deleted_without_invitations() {
        let (mut platform, target) = setup(false);
        for answer in [empty_find(), created(), updated(), deleted(), empty_find()] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &target, MAILBOX);
        assert!(check.ok, "{check:?}");
        assert_eq!(
            check.message,
            "A test item was created, updated and deleted in the calendar of room1@contoso.com; \
             nothing was left behind."
        );
        assert_eq!(
            operations(&platform),
            [
                "FindItem",
                "CreateItem",
                "UpdateItem",
                "DeleteItem",
                "FindItem"
            ]
        );
        let find = sent_operation(&platform, 0);
        let equal = &find.children[2].children[0];
        assert_eq!(
            equal.children[0].attr("PropertyName"),
            Some("RoomsSyncTest")
        );
        assert_eq!(
            equal.children[1].children[0].attr("Value"),
            Some("rooms-sync-test")
        );
        let create = sent_operation(&platform, 1);
        assert_eq!(create.attr("SendMeetingInvitations"), Some("SendToNone"));
        let item = &create.children[1].children[0];
        let fields = names(item);
        assert!(!fields.contains(&"RequiredAttendees"), "{fields:?}");
        assert!(!fields.contains(&"Resources"), "{fields:?}");
        let xml = String::from_utf8(platform.requests[1].body.clone()).unwrap();
        assert!(xml.contains("PropertyName=\"RoomsSyncTest\""), "{xml}");
        assert!(!xml.contains("RoomsBookingId"), "{xml}");
        assert!(xml.contains("<t:Subject>ROOMS sync test – safe to delete</t:Subject>"));
        assert!(xml.contains("<t:LegacyFreeBusyStatus>Free</t:LegacyFreeBusyStatus>"));
        // At least a day ahead, a full hour, 15 minutes.
        let fields = test_fields(MAILBOX, platform.now, false);
        assert!(fields.start >= platform.now as i64 + 86_400);
        assert_eq!(fields.start % 3600, 0);
        assert_eq!(fields.end - fields.start, 900);
        let update = sent_operation(&platform, 2);
        assert_eq!(
            update.attr("SendMeetingInvitationsOrCancellations"),
            Some("SendToNone")
        );
        let delete = sent_operation(&platform, 3);
        assert_eq!(delete.attr("DeleteType"), Some("HardDelete"));
        assert_eq!(delete.attr("SendMeetingCancellations"), Some("SendToNone"));
        assert_eq!(delete.children[0].children[0].attr("Id"), Some("AAAlAFV"));
    }

    #[test]
    fn a_delete_that_fails_once_is_repeated_through_the_tag() {
        let (mut platform, target) = setup(false);
        for answer in [
            one_found(),
            deleted(),
            created(),
            updated(),
            error("DeleteItem", "ErrorInternalServerTransientError"),
            one_found(),
            deleted(),
            empty_find(),
        ] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &target, MAILBOX);
        assert!(check.ok, "{check:?}");
        assert!(
            check.message.ends_with(
                "1 test item(s) left by an earlier, interrupted sync test were removed first. \
                 Deleting a test item failed once (Exchange answered \
                 ErrorInternalServerTransientError for room1@contoso.com: \
                 ErrorInternalServerTransientError text) and succeeded when repeated."
            ),
            "{}",
            check.message
        );
        assert_eq!(platform.requests.len(), 8);
        assert!(platform.answers.is_empty());
    }

    #[test]
    fn a_failed_step_is_red_and_cleaned_up() {
        let (mut platform, target) = setup(false);
        for answer in [
            empty_find(),
            created(),
            error("UpdateItem", "ErrorAccessDenied"),
            one_found(),
            deleted(),
        ] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &target, MAILBOX);
        assert!(!check.ok);
        assert!(
            check.message.starts_with(
                "Writing to the calendar of room1@contoso.com failed while updating the test \
                 item: Exchange refused access"
            ),
            "{}",
            check.message
        );
        assert!(matches!(check.cause, Some(Error::AccessDenied { .. })));
        let fix = check.fix.unwrap();
        assert!(fix.contains("full_access_as_app"), "{fix}");
        assert!(fix.contains("up to an hour"), "{fix}");
        // The cleanup found the item by its tag and deleted it.
        assert_eq!(
            operations(&platform),
            [
                "FindItem",
                "CreateItem",
                "UpdateItem",
                "FindItem",
                "DeleteItem"
            ]
        );
    }

    #[test]
    fn a_cleanup_that_fails_says_an_item_may_be_left() {
        let (mut platform, target) = setup(false);
        for answer in [empty_find(), error("CreateItem", "ErrorQuotaExceeded")] {
            platform.answers.push_back(answer);
        }
        // No answer for the cleanup's FindItem: a transport error.
        let check = check(&mut platform, &target, MAILBOX);
        assert!(!check.ok);
        assert!(
            check
                .message
                .contains("failed while creating the test item")
                && check.message.ends_with(
                    "A test item 'ROOMS sync test – safe to delete' may be left in the calendar \
                     of room1@contoso.com; the next sync test removes it, or delete it in \
                     Outlook."
                ),
            "{}",
            check.message
        );
    }

    #[test]
    fn a_private_item_the_delegate_cannot_see_is_red_with_can_view_private_items() {
        let (mut platform, target) = setup(true);
        for answer in [
            empty_find(),
            created(),
            updated(),
            deleted(),
            created(),
            empty_find(),
            empty_find(),
        ] {
            platform.answers.push_back(answer);
        }
        let check = check(&mut platform, &target, MAILBOX);
        assert!(!check.ok);
        assert!(
            check.message.starts_with(
                "A private test item created in the calendar of room1@contoso.com is not \
                 visible to the service user svc-rooms@contoso.com: it lacks CanViewPrivateItems"
            ),
            "{}",
            check.message
        );
        assert_eq!(
            check.fix.as_deref(),
            Some(private_items_fix(MAILBOX, "svc-rooms@contoso.com").as_str())
        );
        let private = String::from_utf8(platform.requests[4].body.clone()).unwrap();
        assert!(
            private.contains("<t:Sensitivity>Private</t:Sensitivity>"),
            "{private}"
        );
        assert!(private.contains("<t:EmailAddress>room1@contoso.com</t:EmailAddress>"));
    }
}
