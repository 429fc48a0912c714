//! The transport seam over EWS: each [`Transport`] method is one or two of
//! the operations in [`crate::ews`], and EWS calendar items become
//! [`RemoteItem`]s here.
//!
//! Requests are counted for the run's report. `GetItem` of a series master
//! is followed by one `GetItem` of its modified occurrences, whose subjects
//! the master does not carry.

use crate::booking::{BookingFields, Instant};
use crate::error::Error;
use crate::ews::calendar_item::{CalendarItem, CalendarItemType};
use crate::ews::{Access, EwsClient, check_message, get_folder};
use crate::ews::{create_item, delete_item, find_item, get_item, sync_folder_items, update_item};
use crate::platform::Platform;

use super::options::Options;
use super::transport::{
    Change, ChangePage, Fetched, Invitations, ItemVersion, RemoteAttendee, RemoteItem, Response,
    Transport, WriteError,
};

/// `MaxChangesReturned` of every `SyncFolderItems`: 500 rather than the
/// EWS maximum of 512, so a page is five full `GetItem` batches of 100 (512
/// would cost a sixth request for 12 items).
pub const MAX_CHANGES: u32 = 500;

/// [`Transport`] over an [`EwsClient`].
#[derive(Debug)]
pub struct EwsTransport<'a> {
    client: &'a EwsClient<'a>,
    send_invitations: String,
    requests: u32,
}

impl<'a> EwsTransport<'a> {
    /// A transport over `client` with the sync's settings.
    pub fn new(client: &'a EwsClient<'a>, options: &Options) -> Self {
        EwsTransport {
            client,
            send_invitations: options.send_invitations.clone(),
            requests: 0,
        }
    }

    /// `SendMeetingInvitations` (and, with the same three values, the
    /// `…OrCancellations` and `SendMeetingCancellations` of updates and
    /// deletes).
    fn invitations(&self, i: Invitations) -> &str {
        match i {
            Invitations::Send => &self.send_invitations,
            Invitations::None => "SendToNone",
        }
    }
}

/// A parsed EWS item as a [`RemoteItem`].
pub fn remote_item(item: CalendarItem) -> RemoteItem {
    let private = item.is_private();
    RemoteItem {
        item_id: item.item_id,
        change_key: item.change_key,
        uid: item.uid,
        tag: item.rooms_booking_id,
        organizer: item.organizer,
        subject: item.subject,
        start: item.start,
        end: item.end,
        time_zone: item.time_zone,
        all_day: item.all_day,
        reminder_minutes: item.reminder,
        private,
        free_busy: item.free_busy,
        location: item.location,
        attendees: item
            .attendees
            .into_iter()
            .map(|a| RemoteAttendee {
                email: a.email,
                kind: a.kind,
                response: match a.response_type.as_str() {
                    "Accept" => Response::Accept,
                    "Tentative" => Response::Tentative,
                    "Decline" => Response::Decline,
                    _ => Response::Unknown,
                },
            })
            .collect(),
        cancelled: item.is_cancelled,
        recurrence: item.recurrence,
        occurrence_ids: item.modified_ids,
        sync_test: item.sync_test,
    }
}

impl Transport for EwsTransport<'_> {
    fn changes(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        state: Option<&str>,
    ) -> Result<ChangePage, Error> {
        self.requests += 1;
        let page = sync_folder_items::sync(self.client, platform, mailbox, state, MAX_CHANGES)?;
        Ok(ChangePage {
            state: page.state,
            last: page.includes_last_item_in_range,
            changes: page
                .changes
                .into_iter()
                .map(|c| match c {
                    sync_folder_items::Change::Create {
                        item_id,
                        change_key,
                    }
                    | sync_folder_items::Change::Update {
                        item_id,
                        change_key,
                    } => Change::Upsert {
                        item_id,
                        change_key,
                    },
                    sync_folder_items::Change::Delete { item_id } => Change::Delete { item_id },
                })
                .collect(),
        })
    }

    fn is_invalid_state(&self, error: &Error) -> bool {
        sync_folder_items::is_invalid_sync_state(error)
    }

    fn fetch(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        ids: &[String],
    ) -> Result<Vec<Fetched>, Error> {
        self.requests += 1;
        let results = get_item::get_calendar_items(self.client, platform, mailbox, ids)?;
        let mut items: Vec<Fetched> = results
            .into_iter()
            .map(|r| match r {
                Ok(item) => Ok(item),
                Err(f) => Err(format!("{}: {}", f.code, f.text)),
            })
            .map(|r| r.map(remote_item))
            .collect();
        // The subjects of exceptions: one more GetItem for all of them.
        let wanted: Vec<String> = items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .flat_map(|i| i.occurrence_ids.iter().map(|(_, id)| id.clone()))
            .collect();
        if wanted.is_empty() {
            return Ok(items);
        }
        self.requests += 1;
        let occurrences = get_item::get_calendar_items(self.client, platform, mailbox, &wanted)?;
        let mut subjects: Vec<(String, String)> = Vec::new();
        for (id, o) in wanted.iter().zip(occurrences) {
            if let Ok(o) = o
                && o.item_type != CalendarItemType::RecurringMaster
            {
                subjects.push((id.clone(), o.subject));
            }
        }
        for item in items.iter_mut().flatten() {
            let ids = item.occurrence_ids.clone();
            if let Some(r) = &mut item.recurrence {
                for m in &mut r.modified {
                    let subject = ids
                        .iter()
                        .find(|(s, _)| *s == m.original_start)
                        .and_then(|(_, id)| subjects.iter().find(|(i, _)| i == id))
                        .map(|(_, s)| s.clone());
                    m.subject = subject.unwrap_or_else(|| item.subject.clone());
                }
            }
        }
        Ok(items)
    }

    fn find_tagged(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        booking_id: &str,
    ) -> Result<Option<ItemVersion>, Error> {
        self.requests += 1;
        Ok(
            find_item::find_by_booking_id(self.client, platform, mailbox, booking_id)?.map(
                |(item_id, change_key)| ItemVersion {
                    item_id,
                    change_key,
                },
            ),
        )
    }

    fn create(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        fields: &BookingFields,
        booking_id: &str,
        uid: &str,
        invitations: Invitations,
    ) -> Result<ItemVersion, Error> {
        self.requests += 1;
        let send = self.invitations(invitations).to_owned();
        let (item_id, change_key) = create_item::create(
            self.client,
            platform,
            mailbox,
            fields,
            booking_id,
            uid,
            &send,
        )?;
        Ok(ItemVersion {
            item_id,
            change_key,
        })
    }

    fn update(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        version: &ItemVersion,
        fields: &BookingFields,
        invitations: Invitations,
    ) -> Result<ItemVersion, WriteError> {
        self.requests += 1;
        let send = self.invitations(invitations).to_owned();
        match update_item::update(
            self.client,
            platform,
            mailbox,
            &version.item_id,
            &version.change_key,
            fields,
            &send,
        ) {
            Ok((item_id, change_key)) => Ok(ItemVersion {
                item_id,
                change_key,
            }),
            Err(update_item::UpdateError::Conflict) => Err(WriteError::Conflict),
            Err(update_item::UpdateError::NotFound) => Err(WriteError::NotFound),
            Err(update_item::UpdateError::Other(e)) => Err(WriteError::Failed(e)),
        }
    }

    fn delete(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        item_id: &str,
        invitations: Invitations,
    ) -> Result<(), Error> {
        self.requests += 1;
        let send = self.invitations(invitations);
        delete_item::delete(self.client, platform, mailbox, item_id, send)
    }

    fn occurrence(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        uid: &str,
        original_start: Instant,
        duration_s: i64,
    ) -> Result<Option<ItemVersion>, Error> {
        self.requests += 1;
        Ok(find_item::occurrence_at(
            self.client,
            platform,
            mailbox,
            uid,
            original_start,
            duration_s,
        )?
        .map(|(item_id, change_key)| ItemVersion {
            item_id,
            change_key,
        }))
    }

    fn update_occurrence(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
        occurrence: &ItemVersion,
        start: Instant,
        end: Instant,
        subject: &str,
        time_zone: &str,
        invitations: Invitations,
    ) -> Result<(), Error> {
        self.requests += 1;
        let send = self.invitations(invitations).to_owned();
        update_item::update_occurrence(
            self.client,
            platform,
            mailbox,
            &occurrence.item_id,
            Some(occurrence.change_key.as_str()).filter(|k| !k.is_empty()),
            start,
            end,
            subject,
            time_zone,
            &send,
        )
        .map(|_| ())
        .map_err(|e| match e {
            update_item::UpdateError::Other(e) => e,
            update_item::UpdateError::Conflict | update_item::UpdateError::NotFound => {
                Error::protocol(
                    format!(
                        "the occurrence of {mailbox} changed or disappeared while it was moved"
                    ),
                    "It is tried again on the next run.",
                )
            }
        })
    }

    fn private_items_hidden(
        &mut self,
        platform: &mut dyn Platform,
        mailbox: &str,
    ) -> Result<Option<String>, Error> {
        let access = self.client.access().clone();
        let Access::Delegated { user, .. } = &access else {
            return Ok(None);
        };
        self.requests += 1;
        let body = get_folder::request_body(access.addressing(), "calendar", mailbox);
        let response = self.client.call(platform, mailbox, &body)?;
        let unusable = |e: String| {
            Error::protocol(
                format!("Exchange's GetFolder answer for {mailbox} cannot be used: {e}."),
                "Try again later; if it persists, report it with the rooms-sync host's log.",
            )
        };
        let message = get_folder::single_message(response).map_err(unusable)?;
        check_message(&message, mailbox, &access)?;
        let folder = get_folder::parse_folder(&message).map_err(unusable)?;
        if folder
            .rights
            .is_some_and(|r| r.has(get_folder::Right::ViewPrivateItems))
        {
            return Ok(None);
        }
        Ok(Some(crate::error::private_items_fix(mailbox, user)))
    }

    fn requests(&self) -> u32 {
        self.requests
    }
}
