//! CreateItem: calendar items (and plain messages) in a mailbox folder, one response message
//! per item, holding only the new `ItemId` and `ChangeKey`.
//!
//! - `SavedItemFolderId` (a `FolderId`, or a `DistinguishedFolderId` with `t:Mailbox` for a
//!   delegate) names the folder; without it calendar items go to the acting mailbox's calendar
//!   and messages to its Drafts. A calendar item elsewhere than a calendar folder is
//!   `ErrorCannotCreateCalendarItemInNonCalendarFolder`. The caller needs `CreateItems`.
//! - `SendMeetingInvitations` is required for calendar items
//!   (`ErrorSendMeetingInvitationsRequired`); `MessageDisposition` for messages
//!   (`ErrorMessageDispositionRequired`).
//! - Values are validated as in [`crate::calendar::parse`] and [`crate::calendar::service`];
//!   times without offset use `StartTimeZone`/`EndTimeZone`, else `TimeZoneContext`, else UTC.
//! - With `SendOnlyToAll`/`SendToAllAndSaveCopy` and attendees, invitations are delivered as
//!   described in [`crate::calendar::meetings`] (room auto-accept included). The answer
//!   carries the change key of the saved item; the acceptance of a room arrives as a later
//!   change of the organizer's item, as in Exchange.
//! - The response objects `AcceptItem`, `TentativelyAcceptItem` and `DeclineItem`
//!   (`ReferenceItemId` to the attendee's meeting request or calendar item, `MessageDisposition`
//!   required) answer a meeting: see [`crate::calendar::meetings::respond`]; the answer holds an
//!   empty `m:Items` (`SaveOnly`: the draft `MeetingResponse`). Other response objects answer
//!   `ErrorInvalidOperation`.

use super::context::{Need, OpContext, OpError};
use super::dom::{Element, MESSAGES_NS, TYPES_NS};
use super::fault::{EwsFault, ResponseError};
use super::writer::{OpResponse, ResponseBuilder, XmlWriter, write_items, write_no_items};
use crate::calendar::Store;
use crate::calendar::ids::ItemRef;
use crate::calendar::item::{
    EmailAddress, FolderKind, Item, ItemKind, MeetingMessageKind, ResponseType,
};
use crate::calendar::meetings::{
    MeetingChange, deliver, new_uid, prepare_new_calendar_item, respond, save_response_draft,
};
use crate::calendar::parse::{ItemElement, TimeContext, parse_item};
use crate::calendar::render::folder_kind;
use crate::calendar::service::{build_item, finalize_calendar, item_not_found, locate_for_change};
use crate::seed::FolderName;

/// `SendMeetingInvitations` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendInvitations {
    /// `SendToNone`.
    None,
    /// `SendOnlyToAll`.
    OnlyToAll,
    /// `SendToAllAndSaveCopy`.
    AllAndSaveCopy,
}

impl SendInvitations {
    /// Parses the attribute value.
    pub fn parse(value: &str) -> Option<SendInvitations> {
        Some(match value {
            "SendToNone" => SendInvitations::None,
            "SendOnlyToAll" => SendInvitations::OnlyToAll,
            "SendToAllAndSaveCopy" => SendInvitations::AllAndSaveCopy,
            _ => return None,
        })
    }
}

/// Handles `m:CreateItem`.
pub fn handle(cx: &mut OpContext<'_>, op: &Element) -> Result<OpResponse, EwsFault> {
    let invitations = match op.attr("SendMeetingInvitations") {
        None => None,
        Some(v) => Some(SendInvitations::parse(v).ok_or_else(|| {
            EwsFault::invalid_enum(
                op,
                "SendMeetingInvitations",
                v,
                "CalendarItemCreateOrDeleteOperationType",
            )
        })?),
    };
    let disposition = match op.attr("MessageDisposition") {
        None => None,
        Some(v @ ("SaveOnly" | "SendOnly" | "SendAndSaveCopy")) => Some(v),
        Some(v) => {
            return Err(EwsFault::invalid_enum(
                op,
                "MessageDisposition",
                v,
                "MessageDispositionType",
            ));
        }
    };
    let mut folder_el = None;
    let mut items_el = None;
    for child in &op.children {
        match (child.namespace.as_str(), child.name.as_str()) {
            (MESSAGES_NS, "SavedItemFolderId") if folder_el.is_none() && items_el.is_none() => {
                folder_el = Some(child)
            }
            (MESSAGES_NS, "Items") if items_el.is_none() => items_el = Some(child),
            _ => return Err(EwsFault::unexpected_child(op, child)),
        }
    }
    let items_el = items_el.ok_or_else(|| EwsFault::missing_child(op, MESSAGES_NS, "Items"))?;
    let folder_id = match folder_el {
        Some(f) => match f.children.as_slice() {
            [one] => Some(one),
            _ => {
                return Err(EwsFault::schema(
                    f,
                    "SavedItemFolderId must contain exactly one FolderId or DistinguishedFolderId.",
                ));
            }
        },
        None => None,
    };
    let time = TimeContext::from_header(cx.header);
    let mut response = ResponseBuilder::new("CreateItem");
    for item_el in &items_el.children {
        if item_el.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(items_el, item_el));
        }
        let result = time
            .clone()
            .map_err(OpError::Item)
            .and_then(|time| create_one(cx, item_el, folder_id, invitations, disposition, &time));
        response.outcome(result, |w, xml| write_items(w, &xml), write_no_items)?;
    }
    Ok(response.finish())
}

/// Sends a message: a copy in each recipient's Inbox (recipients with a mailbox in the
/// directory), and one in the sender's Sent Items for `SendAndSaveCopy`. Like Exchange, the
/// answer then holds no item id.
fn send_message(
    cx: &mut OpContext<'_>,
    sender: &str,
    mut item: crate::calendar::Item,
    save_copy: bool,
) -> Result<String, OpError> {
    let now = cx.now;
    let ItemKind::Message(message) = &mut item.kind else {
        return Ok(String::new());
    };
    if message.to.is_empty() {
        return Err(ResponseError::new(
            "ErrorInvalidRecipients",
            "At least one recipient is required, but none were found.",
        )
        .into());
    }
    message.is_draft = false;
    let recipients: Vec<String> = message
        .to
        .iter()
        .filter_map(|to| {
            cx.state
                .directory
                .by_any_address(&to.email)
                .filter(|m| m.has_mailbox)
        })
        .map(|m| m.address.clone())
        .collect();
    for recipient in recipients {
        let mut copy = item.clone();
        if let ItemKind::Message(m) = &mut copy.kind {
            m.is_read = false;
        }
        cx.state
            .calendar
            .mailbox_mut(&recipient)
            .insert(FolderKind::Inbox, copy, now);
    }
    if save_copy {
        cx.state
            .calendar
            .mailbox_mut(sender)
            .insert(FolderKind::SentItems, item, now);
    }
    Ok(String::new())
}

fn create_one(
    cx: &mut OpContext<'_>,
    item_el: &Element,
    folder_id: Option<&Element>,
    invitations: Option<SendInvitations>,
    disposition: Option<&str>,
    time: &TimeContext,
) -> Result<String, OpError> {
    let response = match item_el.name.as_str() {
        "AcceptItem" => Some(ResponseType::Accept),
        "TentativelyAcceptItem" => Some(ResponseType::Tentative),
        "DeclineItem" => Some(ResponseType::Decline),
        _ => None,
    };
    if let Some(response) = response {
        return respond_one(cx, item_el, disposition, response);
    }
    let element = match item_el.name.as_str() {
        "CalendarItem" => ItemElement::Calendar,
        "Message" => ItemElement::Message,
        "Item"
        | "Contact"
        | "Task"
        | "DistributionList"
        | "PostItem"
        | "MeetingMessage"
        | "MeetingRequest"
        | "MeetingResponse"
        | "MeetingCancellation"
        | "ReplyToItem"
        | "ForwardItem"
        | "ReplyAllToItem"
        | "CancelCalendarItem"
        | "RemoveItem"
        | "SuppressReadReceipt"
        | "PostReplyItem"
        | "AcceptSharingInvitation" => {
            return Err(ResponseError::new(
                "ErrorInvalidOperation",
                &format!(
                    "The emulator stores CalendarItem and Message items only; {} is not supported.",
                    item_el.name
                ),
            )
            .into());
        }
        _ => return Err(EwsFault::unexpected_child(item_el, item_el).into()),
    };
    let folder = match folder_id {
        Some(el) => cx.resolve_folder(el)?,
        None => super::context::FolderRef {
            mailbox: cx.caller.acting_mailbox().to_owned(),
            folder: match element {
                ItemElement::Calendar => FolderName::Calendar,
                ItemElement::Message => FolderName::Drafts,
            },
        },
    };
    let kind = folder_kind(folder.folder);
    if element == ItemElement::Calendar {
        if invitations.is_none() {
            return Err(ResponseError::new(
                "ErrorSendMeetingInvitationsRequired",
                "The SendMeetingInvitations attribute is required for calendar items.",
            )
            .into());
        }
        if kind != FolderKind::Calendar {
            return Err(ResponseError::new(
                "ErrorCannotCreateCalendarItemInNonCalendarFolder",
                "Calendar items can only be created in a calendar folder.",
            )
            .into());
        }
    } else if disposition.is_none() {
        return Err(ResponseError::new(
            "ErrorMessageDispositionRequired",
            "The MessageDisposition attribute is required for messages.",
        )
        .into());
    }
    if kind == FolderKind::Root {
        return Err(ResponseError::new(
            "ErrorInvalidOperation",
            "Items cannot be created in the root folder of the mailbox.",
        )
        .into());
    }
    cx.require(&folder, Need::CreateItems)?;
    let props = parse_item(item_el, element, time)?;
    let now = cx.now;
    let mut item = build_item(element, &props, now)?;
    item.creator = Some(cx.caller.acting_mailbox().to_owned());
    let owner_name = cx
        .state
        .directory
        .by_primary(&folder.mailbox)
        .and_then(|m| m.display_name.clone());
    let owner = EmailAddress::smtp(folder.mailbox.clone(), owner_name);
    item.last_modified_name = owner.name.clone();
    if item.calendar().is_some() {
        prepare_new_calendar_item(&mut item, &owner, new_uid());
        finalize_calendar(&mut item, None)?;
    }
    if let ItemKind::Message(message) = &mut item.kind {
        message.from.get_or_insert(owner.clone());
        if matches!(disposition, Some("SendOnly" | "SendAndSaveCopy")) {
            return send_message(
                cx,
                &folder.mailbox,
                item,
                disposition == Some("SendAndSaveCopy"),
            );
        }
    }
    let store = &mut cx.state.calendar;
    let key = store.mailbox_mut(&folder.mailbox).insert(kind, item, now);
    let mailbox = store
        .mailbox(&folder.mailbox)
        .ok_or_else(crate::calendar::service::item_not_found)?;
    let saved = mailbox
        .get(key)
        .ok_or_else(crate::calendar::service::item_not_found)?;
    let mut w = XmlWriter::new();
    let element_name = if element == ItemElement::Calendar {
        "t:CalendarItem"
    } else {
        "t:Message"
    };
    w.start(element_name, &[]);
    let id = store.item_id(&mailbox.item_ref(key));
    let ck = Store::change_key(saved);
    w.empty("t:ItemId", &[("Id", &id), ("ChangeKey", &ck)]);
    w.end(element_name);
    let has_attendees = saved
        .calendar()
        .is_some_and(|c| c.all_attendees().next().is_some());
    if let Some(send) = invitations.filter(|s| *s != SendInvitations::None)
        && has_attendees
    {
        let directory = &cx.state.directory;
        deliver(
            &mut cx.state.calendar,
            directory,
            &folder.mailbox,
            key,
            MeetingChange::New,
            send == SendInvitations::AllAndSaveCopy,
            now,
        );
    }
    Ok(w.into_string())
}

/// `AcceptItem`, `TentativelyAcceptItem`, `DeclineItem`: the acting attendee answers the meeting
/// that `ReferenceItemId` names (its meeting request or its calendar item). See
/// [`crate::calendar::meetings::respond`] for what it changes.
fn respond_one(
    cx: &mut OpContext<'_>,
    item_el: &Element,
    disposition: Option<&str>,
    response: ResponseType,
) -> Result<String, OpError> {
    let Some(disposition) = disposition else {
        return Err(ResponseError::new(
            "ErrorMessageDispositionRequired",
            "The MessageDisposition attribute is required for messages.",
        )
        .into());
    };
    let mut reference = None;
    for child in &item_el.children {
        if child.namespace != TYPES_NS {
            return Err(EwsFault::unexpected_child(item_el, child).into());
        }
        if child.name == "ReferenceItemId" {
            reference = Some(child);
        }
    }
    let Some(reference) = reference else {
        return Err(ResponseError::new(
            "ErrorMissingInformationReferenceItemId",
            "The ReferenceItemId is missing.",
        )
        .into());
    };
    let mut id_el = reference.clone();
    id_el.name = "ItemId".into();
    let (located, entry) = locate_for_change(cx, &id_el, |own| Need::EditItems { own })?;
    if matches!(located.item, ItemRef::Occurrence { .. }) {
        return Err(ResponseError::new(
            "ErrorInvalidOperation",
            "The emulator answers whole meetings only; responding to one occurrence is not supported.",
        )
        .into());
    }
    let not_a_meeting = || {
        ResponseError::new(
            "ErrorInvalidOperation",
            "A response can only be made to a meeting request or to a meeting in the calendar of an attendee.",
        )
    };
    // The attendee's calendar item: the item itself, or the request's associated item.
    let calendar_key = match &entry.item.kind {
        ItemKind::Calendar(cal) => {
            if cal
                .organizer
                .as_ref()
                .is_none_or(|o| o.same_address(&located.mailbox))
                || !cal.is_meeting
            {
                return Err(ResponseError::new(
                    "ErrorInvalidOperation",
                    "The organizer of a meeting cannot respond to it.",
                )
                .into());
            }
            entry.item.key
        }
        ItemKind::MeetingMessage(m) if m.kind == MeetingMessageKind::Request => m
            .associated_calendar_item
            .filter(|k| {
                cx.state
                    .calendar
                    .mailbox(&located.mailbox)
                    .and_then(|mb| mb.get(*k))
                    .is_some_and(|i| i.folder == FolderKind::Calendar)
            })
            .ok_or_else(item_not_found)?,
        _ => return Err(not_a_meeting().into()),
    };
    let now = cx.now;
    let directory = &cx.state.directory;
    let store = &mut cx.state.calendar;
    if disposition == "SaveOnly" {
        let meeting: Item = store
            .mailbox(&located.mailbox)
            .and_then(|m| m.get(calendar_key))
            .cloned()
            .ok_or_else(item_not_found)?;
        let key = save_response_draft(store, directory, &located.mailbox, &meeting, response, now)
            .ok_or_else(not_a_meeting)?;
        let mailbox = store.mailbox(&located.mailbox).ok_or_else(item_not_found)?;
        let saved = mailbox.get(key).ok_or_else(item_not_found)?;
        let mut w = XmlWriter::new();
        w.start("t:MeetingResponse", &[]);
        let id = store.item_id(&mailbox.item_ref(key));
        let ck = Store::change_key(saved);
        w.empty("t:ItemId", &[("Id", &id), ("ChangeKey", &ck)]);
        w.end("t:MeetingResponse");
        return Ok(w.into_string());
    }
    respond(
        store,
        directory,
        &located.mailbox,
        calendar_key,
        response,
        disposition == "SendAndSaveCopy",
        now,
    );
    // As in the documented answer: an empty `m:Items`.
    Ok(String::new())
}
