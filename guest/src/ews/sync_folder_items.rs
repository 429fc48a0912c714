//! The EWS `SyncFolderItems` operation on a mailbox's calendar: the items
//! created, changed and deleted since a sync state, one page at a time.
//!
//! The request asks for `IdOnly` (the `ItemId` with its `ChangeKey`); the
//! properties come from a later `GetItem` ([`super::get_item`]). Without a
//! state the first page of a full sync is returned. A page ends after
//! `MaxChangesReturned` changes (1 to 512) with `IncludesLastItemInRange`
//! false: call again with the new state until it is true. The state of every
//! page is opaque and is never empty on success; an empty one is refused here,
//! so that it can never be stored.
//!
//! Exchange reports recurring masters, not occurrences (a modified or deleted
//! occurrence is an `Update` of its master). `ReadFlagChange` does not apply
//! to calendars and is ignored.
//!
//! Errors: every failure is classified as in [`super::classify`]. A state
//! Exchange no longer accepts (`ErrorInvalidSyncStateData`) is an
//! [`Error::Protocol`] that [`is_invalid_sync_state`] recognises: the caller
//! starts a full resync without a state.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/syncfolderitems-operation

use super::EwsClient;
use super::calendar_item::{item_id, messages, unusable_answer};
use super::check_message;
use super::response::ResponseMessage;
use super::soap::Addressing;
use super::xml::{Element, Ns, escape};
use crate::error::Error;
use crate::platform::Platform;

/// The operation name.
pub const NAME: &str = "SyncFolderItems";

/// The largest `MaxChangesReturned` Exchange accepts.
pub const MAX_CHANGES: u32 = 512;

/// The response code of a sync state Exchange no longer accepts.
pub const INVALID_SYNC_STATE: &str = "ErrorInvalidSyncStateData";

/// One change of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new item (or one the state has not seen).
    Create {
        /// `ItemId/@Id`.
        item_id: String,
        /// `ItemId/@ChangeKey` (empty if Exchange sent none).
        change_key: String,
    },
    /// A changed item.
    Update {
        /// `ItemId/@Id`.
        item_id: String,
        /// `ItemId/@ChangeKey` (empty if Exchange sent none).
        change_key: String,
    },
    /// A deleted item (or one the caller can no longer see).
    Delete {
        /// `ItemId/@Id`.
        item_id: String,
    },
}

/// One page of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPage {
    /// The state after this page (never empty).
    pub state: String,
    /// True when no more changes wait.
    pub includes_last_item_in_range: bool,
    /// The changes, in the server's order.
    pub changes: Vec<Change>,
}

/// The `m:SyncFolderItems` element for the calendar of `mailbox`.
/// `max_changes` is kept within 1 to [`MAX_CHANGES`]; an empty state is sent
/// as none.
pub fn request_body(
    addressing: Addressing,
    mailbox: &str,
    state: Option<&str>,
    max_changes: u32,
) -> String {
    let state = match state.map(str::trim).filter(|s| !s.is_empty()) {
        Some(state) => format!("<m:SyncState>{}</m:SyncState>", escape(state)),
        None => String::new(),
    };
    format!(
        "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>\
         <m:SyncFolderId>{}</m:SyncFolderId>{state}<m:MaxChangesReturned>{}</m:MaxChangesReturned>\
         </m:SyncFolderItems>",
        addressing.distinguished_folder_id("calendar", mailbox),
        max_changes.clamp(1, MAX_CHANGES)
    )
}

fn changed_item(change: &Element) -> Result<(String, String), String> {
    // Create and Update hold the item (`t:CalendarItem`, or another item
    // type); its `ItemId` names it.
    let item = change
        .children
        .iter()
        .find(|c| c.ns == Ns::Types)
        .ok_or_else(|| format!("a {} names no item", change.name))?;
    let (id, change_key) = item_id(item).map_err(|e| format!("a {} item: {e}", change.name))?;
    Ok((id, change_key.unwrap_or_default()))
}

/// Reads a successful response message into a page.
pub fn parse_page(message: &ResponseMessage) -> Result<SyncPage, String> {
    let state = message
        .element
        .child(&Ns::Messages, "SyncState")
        .map(|s| s.trimmed_text())
        .filter(|s| !s.is_empty())
        .ok_or("it has no SyncState")?
        .to_owned();
    let includes_last_item_in_range = match message
        .element
        .child(&Ns::Messages, "IncludesLastItemInRange")
        .map(|e| e.trimmed_text())
    {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        _ => return Err("it has no valid IncludesLastItemInRange".into()),
    };
    let mut changes = Vec::new();
    for change in message
        .element
        .child(&Ns::Messages, "Changes")
        .into_iter()
        .flat_map(|c| c.children.iter())
        .filter(|c| c.ns == Ns::Types)
    {
        match change.name.as_str() {
            "Create" => {
                let (item_id, change_key) = changed_item(change)?;
                changes.push(Change::Create {
                    item_id,
                    change_key,
                });
            }
            "Update" => {
                let (item_id, change_key) = changed_item(change)?;
                changes.push(Change::Update {
                    item_id,
                    change_key,
                });
            }
            "Delete" => {
                let (item_id, _) = item_id(change).map_err(|e| format!("a Delete: {e}"))?;
                changes.push(Change::Delete { item_id });
            }
            // ReadFlagChange (messages only) and anything newer.
            _ => {}
        }
    }
    Ok(SyncPage {
        state,
        includes_last_item_in_range,
        changes,
    })
}

/// The error for a sync state Exchange refused.
fn invalid_state(mailbox: &str) -> Error {
    Error::protocol(
        format!(
            "Exchange answered {INVALID_SYNC_STATE} for {mailbox}: the stored sync state of the \
             calendar is no longer valid."
        ),
        "None needed: rooms-sync reads the whole calendar again and reconciles it by item id \
         and booking tag.",
    )
}

/// True when `error` says Exchange refused the sync state
/// (`ErrorInvalidSyncStateData`, as a response message or a SOAP fault).
pub fn is_invalid_sync_state(error: &Error) -> bool {
    match error {
        Error::Protocol { message, .. } => message
            .strip_prefix("Exchange answered ")
            .and_then(|rest| rest.strip_prefix(INVALID_SYNC_STATE))
            .is_some_and(|rest| rest.starts_with(' ')),
        _ => false,
    }
}

/// One page of changes of `mailbox`'s calendar after `state` (`None`: from
/// the beginning), with at most `max_changes` changes.
pub fn sync(
    client: &EwsClient<'_>,
    platform: &mut dyn Platform,
    mailbox: &str,
    state: Option<&str>,
    max_changes: u32,
) -> Result<SyncPage, Error> {
    let addressing = client.access().addressing();
    let body = request_body(addressing, mailbox, state, max_changes);
    let response = client.call(platform, mailbox, &body)?;
    let message = messages(response, NAME, mailbox, 1)?.remove(0);
    if message.code == INVALID_SYNC_STATE {
        return Err(invalid_state(mailbox));
    }
    check_message(&message, mailbox, client.access())?;
    parse_page(&message).map_err(|e| unusable_answer(NAME, mailbox, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{sent_operation, signed_in, soap, url};
    use crate::ews::response::{Content, read_envelope, response_messages};
    use crate::ews::soap::envelope;
    use crate::ews::xml::parse;
    use crate::testing::{app_only, ews_sample};

    fn message(bytes: &[u8]) -> ResponseMessage {
        let Content::Response(response) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        response_messages(response, NAME).unwrap().remove(0)
    }

    fn operation(xml: &str) -> Element {
        let root = parse(xml.as_bytes()).unwrap();
        root.child(&Ns::Soap, "Body")
            .and_then(|b| b.child(&Ns::Messages, NAME))
            .unwrap()
            .clone()
    }

    #[test]
    fn the_first_request_has_no_state_and_asks_for_ids_only() {
        let body = request_body(Addressing::Impersonation, "room1@contoso.com", None, 100);
        assert_eq!(
            body,
            "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>\
             <m:SyncFolderId><t:DistinguishedFolderId Id=\"calendar\"/></m:SyncFolderId>\
             <m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>"
        );
        assert_eq!(
            request_body(Addressing::Impersonation, "r@c.com", Some("  "), 100),
            body
        );
    }

    #[test]
    fn a_later_request_carries_the_state_in_schema_order() {
        let xml = envelope(
            Addressing::Delegated,
            "room1@contoso.com",
            &request_body(
                Addressing::Delegated,
                "room1@contoso.com",
                Some("H4sI<&>=="),
                9999,
            ),
        );
        let op = operation(&xml);
        let names: Vec<&str> = op.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ItemShape",
                "SyncFolderId",
                "SyncState",
                "MaxChangesReturned"
            ]
        );
        assert!(op.children.iter().all(|c| c.ns == Ns::Messages));
        assert_eq!(op.children[2].text, "H4sI<&>==");
        assert_eq!(op.children[3].text, "512");
        let folder = &op.children[1].children[0];
        assert_eq!(folder.attr("Id"), Some("calendar"));
        assert_eq!(folder.children[0].children[0].text, "room1@contoso.com");
        let zero = request_body(Addressing::Impersonation, "r@c.com", None, 0);
        assert!(zero.contains("<m:MaxChangesReturned>1</m:MaxChangesReturned>"));
    }

    #[test]
    fn the_documented_page_with_every_kind_of_change() {
        let page = parse_page(&message(ews_sample!(
            "syncfolderitems-response-changes.xml"
        )))
        .unwrap();
        assert_eq!(page.state, "H4sIAAAAAAAEAO29B2AcSZY==");
        assert!(page.includes_last_item_in_range);
        assert_eq!(
            page.changes,
            vec![
                Change::Update {
                    item_id: "q04QAAAA==".into(),
                    change_key: "CQAAABYAAADZGACZQpSgSpyNkexYe2b7AAAAird/".into()
                },
                Change::Create {
                    item_id: "AQMkAD+".into(),
                    change_key: String::new()
                },
                Change::Create {
                    item_id: "Q04AAAAA==".into(),
                    change_key: "AAAirbnd".into()
                },
                Change::Delete {
                    item_id: "q1AwAAAA==".into()
                },
            ]
        );
    }

    #[test]
    fn the_documented_create_of_a_meeting_request() {
        let page = parse_page(&message(ews_sample!(
            "syncfolderitems-response-create-meetingrequest.xml"
        )))
        .unwrap();
        assert!(page.includes_last_item_in_range);
        assert_eq!(page.changes.len(), 1);
        assert!(matches!(&page.changes[0], Change::Create { item_id, .. } if !item_id.is_empty()));
    }

    #[test]
    fn an_empty_state_or_a_change_without_id_is_unusable() {
        let answer = |inner: &str| {
            format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:SyncFolderItemsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>{inner}</m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse></s:Body></s:Envelope>"#
            )
        };
        let parsed = |inner: &str| parse_page(&message(answer(inner).as_bytes()));
        assert!(
            parsed("<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>")
                .unwrap_err()
                .contains("no SyncState")
        );
        assert!(
            parsed("<m:SyncState>s</m:SyncState>")
                .unwrap_err()
                .contains("IncludesLastItemInRange")
        );
        assert!(parsed(
            "<m:SyncState>s</m:SyncState><m:IncludesLastItemInRange>false</m:IncludesLastItemInRange><m:Changes><t:Create><t:CalendarItem/></t:Create></m:Changes>"
        )
        .unwrap_err()
        .contains("a Create item: it has no ItemId"));
        let empty = parsed(
            "<m:SyncState>s</m:SyncState><m:IncludesLastItemInRange>false</m:IncludesLastItemInRange>",
        )
        .unwrap();
        assert!(!empty.includes_last_item_in_range && empty.changes.is_empty());
    }

    #[test]
    fn an_invalid_state_is_recognised_however_it_arrives() {
        let m = message(ews_sample!(
            "syncfolderitems-error-invalidsyncstatedata.xml"
        ));
        assert_eq!(m.code, INVALID_SYNC_STATE);
        let ours = invalid_state("room1@contoso.com");
        assert!(is_invalid_sync_state(&ours));
        // As check_message or a SOAP fault would classify it.
        let classified = check_message(&m, "room1@contoso.com", &app_only()).unwrap_err();
        assert!(is_invalid_sync_state(&classified), "{classified:?}");
        let busy = message(ews_sample!("syncfolderitems-error-serverbusy-o365.xml"));
        let throttled = check_message(&busy, "room1@contoso.com", &app_only()).unwrap_err();
        assert!(!is_invalid_sync_state(&throttled));
        assert!(!is_invalid_sync_state(&Error::protocol(
            "Exchange answered ErrorInvalidSyncStateDataX for a@b.c.",
            "x"
        )));
    }

    #[test]
    fn one_page_through_the_client() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_sample!("syncfolderitems-response-changes.xml")[..],
        ));
        let page = sync(&client, &mut platform, "room1@contoso.com", Some("S0"), 100).unwrap();
        assert_eq!(page.changes.len(), 4);
        let op = sent_operation(&platform, 0);
        assert_eq!(op.child(&Ns::Messages, "SyncState").unwrap().text, "S0");
        let request = &platform.requests[0];
        assert_eq!(request.header("x-anchormailbox"), Some("room1@contoso.com"));
    }

    #[test]
    fn refusals_through_the_client() {
        let (mut platform, tokens) = signed_in();
        let client = EwsClient::new(url(), &tokens, app_only());
        platform.answers.push_back(soap(
            &ews_sample!("syncfolderitems-error-invalidsyncstatedata.xml")[..],
        ));
        let error = sync(
            &client,
            &mut platform,
            "room1@contoso.com",
            Some("old"),
            100,
        )
        .unwrap_err();
        assert!(is_invalid_sync_state(&error), "{error:?}");
        assert!(
            error.fix().contains("reads the whole calendar again"),
            "{error:?}"
        );
        platform.answers.push_back(soap(
            &ews_sample!("syncfolderitems-error-serverbusy-o365.xml")[..],
        ));
        assert_eq!(
            sync(&client, &mut platform, "room1@contoso.com", None, 100).unwrap_err(),
            Error::Throttled {
                response_code: "ErrorServerBusy".into(),
                retry_after_ms: 5000
            }
        );
        platform
            .answers
            .push_back(soap(&ews_sample!("getitem-batch-response.xml")[..]));
        let wrong = sync(&client, &mut platform, "room1@contoso.com", None, 100).unwrap_err();
        assert!(
            wrong.message().contains(
                "The SyncFolderItems answer of Exchange for room1@contoso.com cannot be used"
            ),
            "{wrong:?}"
        );
    }
}
