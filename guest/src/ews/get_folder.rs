//! The EWS `GetFolder` operation for one distinguished folder of a mailbox,
//! asking for its display name and the caller's effective rights.
//!
//! Reference: learn.microsoft.com/exchange/client-developer/web-service-reference/getfolder-operation
//! and …/effectiverights.

use super::response::{self, ResponseMessage};
use super::soap::Addressing;
use super::xml::{Element, Ns};

/// The operation name (`m:GetFolder`, answered by `m:GetFolderResponse`).
pub const NAME: &str = "GetFolder";

/// The `m:GetFolder` element for distinguished folder `folder` (`calendar`)
/// of `mailbox`, with `IdOnly` plus `folder:DisplayName` and
/// `folder:EffectiveRights`.
pub fn request_body(addressing: Addressing, folder: &str, mailbox: &str) -> String {
    format!(
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
         <t:FieldURI FieldURI=\"folder:DisplayName\"/><t:FieldURI FieldURI=\"folder:EffectiveRights\"/>\
         </t:AdditionalProperties></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>",
        addressing.distinguished_folder_id(folder, mailbox)
    )
}

/// The caller's rights on a folder (`t:EffectiveRights`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EffectiveRights {
    /// `CreateAssociated`.
    pub create_associated: bool,
    /// `CreateContents`: create items.
    pub create_contents: bool,
    /// `CreateHierarchy`.
    pub create_hierarchy: bool,
    /// `Delete`: delete items.
    pub delete: bool,
    /// `Modify`: change items.
    pub modify: bool,
    /// `Read`: read items.
    pub read: bool,
    /// `ViewPrivateItems`: see private items in full.
    pub view_private_items: bool,
}

impl EffectiveRights {
    fn from_element(element: &Element) -> Self {
        let flag = |name: &str| {
            element
                .child(&Ns::Types, name)
                .is_some_and(|e| matches!(e.trimmed_text(), "true" | "1"))
        };
        Self {
            create_associated: flag("CreateAssociated"),
            create_contents: flag("CreateContents"),
            create_hierarchy: flag("CreateHierarchy"),
            delete: flag("Delete"),
            modify: flag("Modify"),
            read: flag("Read"),
            view_private_items: flag("ViewPrivateItems"),
        }
    }

    /// The names of the rights in `needed` that are missing, in schema order.
    pub fn missing(&self, needed: &[Right]) -> Vec<Right> {
        needed.iter().copied().filter(|r| !self.has(*r)).collect()
    }

    /// True when the right is granted.
    pub fn has(&self, right: Right) -> bool {
        match right {
            Right::Read => self.read,
            Right::CreateContents => self.create_contents,
            Right::Modify => self.modify,
            Right::Delete => self.delete,
            Right::ViewPrivateItems => self.view_private_items,
        }
    }
}

/// The rights two-way sync cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// Read items.
    Read,
    /// Create items.
    CreateContents,
    /// Change items.
    Modify,
    /// Delete items.
    Delete,
    /// See private items.
    ViewPrivateItems,
}

impl Right {
    /// The EWS element name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::CreateContents => "CreateContents",
            Self::Modify => "Modify",
            Self::Delete => "Delete",
            Self::ViewPrivateItems => "ViewPrivateItems",
        }
    }
}

/// A folder as `GetFolder` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The element name (`CalendarFolder`, `Folder`, ...).
    pub kind: String,
    /// `FolderId/@Id`.
    pub id: String,
    /// `FolderId/@ChangeKey`.
    pub change_key: Option<String>,
    /// `DisplayName` (localised: `Calendar`, `Kalender`, ...).
    pub display_name: String,
    /// `EffectiveRights`, when the server sent them.
    pub rights: Option<EffectiveRights>,
}

/// Reads the folder from a successful response message.
pub fn parse_folder(message: &ResponseMessage) -> Result<Folder, String> {
    let folder = message
        .element
        .child(&Ns::Messages, "Folders")
        .and_then(|folders| folders.children.iter().find(|c| c.ns == Ns::Types))
        .ok_or("the GetFolder answer has no folder")?;
    let id = folder
        .child(&Ns::Types, "FolderId")
        .ok_or("the GetFolder answer has no FolderId")?;
    Ok(Folder {
        kind: folder.name.clone(),
        id: id
            .attr("Id")
            .filter(|v| !v.is_empty())
            .ok_or("the FolderId has no Id")?
            .to_owned(),
        change_key: id.attr("ChangeKey").map(str::to_owned),
        display_name: folder
            .child(&Ns::Types, "DisplayName")
            .map(|d| d.text.clone())
            .unwrap_or_default(),
        rights: folder
            .child(&Ns::Types, "EffectiveRights")
            .map(EffectiveRights::from_element),
    })
}

/// The single response message of a `GetFolder` answer for one folder.
pub fn single_message(response: Element) -> Result<ResponseMessage, String> {
    let mut messages = response::response_messages(response, NAME).map_err(|e| e.to_string())?;
    match messages.len() {
        1 => Ok(messages.remove(0)),
        n => Err(format!(
            "the GetFolder answer has {n} response messages, not 1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::response::{Content, ResponseClass, read_envelope};
    use crate::ews::soap::envelope;
    use crate::ews::xml::parse;

    use crate::testing::ews_derived;

    fn message(bytes: &[u8]) -> ResponseMessage {
        let Content::Response(response) = read_envelope(bytes).unwrap().content else {
            panic!()
        };
        single_message(response).unwrap()
    }

    #[test]
    fn the_request_body_is_exactly_the_operation_element() {
        assert_eq!(
            request_body(Addressing::Impersonation, "calendar", "a&b@contoso.com"),
            "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>\
             <t:AdditionalProperties><t:FieldURI FieldURI=\"folder:DisplayName\"/>\
             <t:FieldURI FieldURI=\"folder:EffectiveRights\"/></t:AdditionalProperties>\
             </m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/>\
             </m:FolderIds></m:GetFolder>"
        );
        assert!(
            request_body(Addressing::Delegated, "calendar", "a&b@contoso.com").contains(
                "<t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>\
                 a&amp;b@contoso.com</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
            )
        );
    }

    #[test]
    fn impersonation_request_asks_for_the_calendar_without_a_mailbox() {
        let xml = envelope(
            Addressing::Impersonation,
            "room1@contoso.com",
            &request_body(Addressing::Impersonation, "calendar", "room1@contoso.com"),
        );
        let root = parse(xml.as_bytes()).unwrap();
        let get_folder = root
            .child(&Ns::Soap, "Body")
            .and_then(|b| b.child(&Ns::Messages, "GetFolder"))
            .unwrap();
        let shape = get_folder.child(&Ns::Messages, "FolderShape").unwrap();
        assert_eq!(shape.child(&Ns::Types, "BaseShape").unwrap().text, "IdOnly");
        let uris: Vec<&str> = shape
            .child(&Ns::Types, "AdditionalProperties")
            .unwrap()
            .children_named(&Ns::Types, "FieldURI")
            .filter_map(|f| f.attr("FieldURI"))
            .collect();
        assert_eq!(uris, ["folder:DisplayName", "folder:EffectiveRights"]);
        let id = get_folder
            .child(&Ns::Messages, "FolderIds")
            .and_then(|f| f.child(&Ns::Types, "DistinguishedFolderId"))
            .unwrap();
        assert_eq!(id.attr("Id"), Some("calendar"));
        assert!(id.children.is_empty(), "no Mailbox with impersonation");
    }

    #[test]
    fn delegated_request_names_the_mailbox() {
        let xml = envelope(
            Addressing::Delegated,
            "room1@contoso.com",
            &request_body(Addressing::Delegated, "calendar", "room1@contoso.com"),
        );
        let root = parse(xml.as_bytes()).unwrap();
        let id = root
            .child(&Ns::Soap, "Body")
            .and_then(|b| b.child(&Ns::Messages, "GetFolder"))
            .and_then(|g| g.child(&Ns::Messages, "FolderIds"))
            .and_then(|f| f.child(&Ns::Types, "DistinguishedFolderId"))
            .unwrap();
        assert_eq!(id.attr("Id"), Some("calendar"));
        let email = id
            .child(&Ns::Types, "Mailbox")
            .and_then(|m| m.child(&Ns::Types, "EmailAddress"))
            .unwrap();
        assert_eq!(email.text, "room1@contoso.com");
        let header = root.child(&Ns::Soap, "Header").unwrap();
        assert!(header.child(&Ns::Types, "ExchangeImpersonation").is_none());
    }

    #[test]
    fn calendar_folder_with_full_rights() {
        let m = message(ews_derived!(
            "getfolder-calendar-impersonation-response.xml"
        ));
        assert!(m.is_success());
        let folder = parse_folder(&m).unwrap();
        assert_eq!(folder.kind, "CalendarFolder");
        assert_eq!(folder.display_name, "Calendar");
        assert!(folder.id.starts_with("AAMkADk3"));
        assert_eq!(
            folder.change_key.as_deref(),
            Some("AgAAABQAAAD2mBaNYgXfQI9ccz0bNKS3AAAAAAAI")
        );
        let rights = folder.rights.unwrap();
        assert!(rights.read && rights.create_contents && rights.modify && rights.delete);
        assert!(rights.view_private_items && rights.create_associated && rights.create_hierarchy);
        assert!(
            rights
                .missing(&[Right::Read, Right::ViewPrivateItems])
                .is_empty()
        );
    }

    #[test]
    fn delegate_rights_without_private_items() {
        let folder = parse_folder(&message(ews_derived!(
            "getfolder-calendar-delegate-response.xml"
        )))
        .unwrap();
        assert_eq!(folder.display_name, "Kalender");
        let rights = folder.rights.unwrap();
        assert_eq!(
            rights.missing(&[
                Right::Read,
                Right::CreateContents,
                Right::Modify,
                Right::Delete,
                Right::ViewPrivateItems
            ]),
            vec![Right::Modify, Right::Delete, Right::ViewPrivateItems]
        );
        assert!(rights.read && rights.create_contents);
        assert!(!rights.create_hierarchy && !rights.create_associated);
    }

    #[test]
    fn error_message_for_a_missing_mailbox() {
        let m = message(ews_derived!("getfolder-error-nonexistentmailbox.xml"));
        assert_eq!(m.class, ResponseClass::Error);
        assert_eq!(m.code, "ErrorNonExistentMailbox");
        assert_eq!(
            m.message_xml.value("SmtpAddress"),
            Some("room-alias@contoso.com")
        );
        assert!(parse_folder(&m).is_err());
    }

    #[test]
    fn missing_rights_and_folders_are_handled() {
        let without_rights = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:CalendarFolder><t:FolderId Id="x"/><t:DisplayName>Calendar</t:DisplayName></t:CalendarFolder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#;
        let folder = parse_folder(&message(without_rights)).unwrap();
        assert_eq!(folder.rights, None);
        let empty = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders/></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#;
        assert!(
            parse_folder(&message(empty))
                .unwrap_err()
                .contains("no folder")
        );
        let two = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"/><m:GetFolderResponseMessage ResponseClass="Success"/></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#;
        let Content::Response(r) = read_envelope(two).unwrap().content else {
            panic!()
        };
        assert!(
            single_message(r)
                .unwrap_err()
                .contains("2 response messages")
        );
    }
}
