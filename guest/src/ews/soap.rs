//! Writing SOAP 1.1 requests for EWS: the envelope, its header
//! (`RequestServerVersion`, `ExchangeImpersonation`) and the mailbox
//! addressing of folder ids.
//!
//! App-only tokens must impersonate: the header
//! `ExchangeImpersonation/ConnectingSID/PrimarySmtpAddress` names the mailbox
//! and folder ids carry no `Mailbox`. A delegated service user never sends the
//! header; it reaches another mailbox's folder through
//! `DistinguishedFolderId/Mailbox/EmailAddress`.

use super::xml::{MESSAGES_NS, SOAP_NS, TYPES_NS, escape};

/// The `RequestServerVersion` sent with every request: documented, covers
/// every calendar feature needed, and accepted by Exchange Online.
pub const SERVER_VERSION: &str = "Exchange2013_SP1";

/// How a request reaches the target mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// App-only: the `ExchangeImpersonation` header names the mailbox.
    Impersonation,
    /// Delegated: folder ids name the mailbox.
    Delegated,
}

impl Addressing {
    /// A `t:DistinguishedFolderId` for folder `id` (`calendar`) of `mailbox`.
    pub fn distinguished_folder_id(self, id: &str, mailbox: &str) -> String {
        match self {
            Self::Impersonation => {
                format!(r#"<t:DistinguishedFolderId Id="{}"/>"#, escape(id))
            }
            Self::Delegated => format!(
                r#"<t:DistinguishedFolderId Id="{}"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#,
                escape(id),
                escape(mailbox)
            ),
        }
    }
}

/// A complete SOAP envelope around `body` (the operation element) for
/// `mailbox`.
pub fn envelope(addressing: Addressing, mailbox: &str, body: &str) -> String {
    let impersonation = match addressing {
        Addressing::Impersonation => format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
            escape(mailbox)
        ),
        Addressing::Delegated => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:m="{MESSAGES_NS}" xmlns:t="{TYPES_NS}"><soap:Header><t:RequestServerVersion Version="{SERVER_VERSION}"/>{impersonation}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::xml::{Ns, parse};

    #[test]
    fn impersonation_envelope_has_version_and_impersonation_headers() {
        let xml = envelope(
            Addressing::Impersonation,
            "room1@contoso.com",
            "<m:GetFolder/>",
        );
        let root = parse(xml.as_bytes()).unwrap();
        assert!(root.is(&Ns::Soap, "Envelope"));
        let header = root.child(&Ns::Soap, "Header").unwrap();
        let version = header.child(&Ns::Types, "RequestServerVersion").unwrap();
        assert_eq!(version.attr("Version"), Some("Exchange2013_SP1"));
        let address = header
            .child(&Ns::Types, "ExchangeImpersonation")
            .and_then(|e| e.child(&Ns::Types, "ConnectingSID"))
            .and_then(|e| e.child(&Ns::Types, "PrimarySmtpAddress"))
            .unwrap();
        assert_eq!(address.text, "room1@contoso.com");
        let body = root.child(&Ns::Soap, "Body").unwrap();
        assert!(body.child(&Ns::Messages, "GetFolder").is_some());
    }

    #[test]
    fn delegated_envelope_has_no_impersonation_header() {
        let xml = envelope(Addressing::Delegated, "room1@contoso.com", "<m:GetFolder/>");
        let root = parse(xml.as_bytes()).unwrap();
        let header = root.child(&Ns::Soap, "Header").unwrap();
        assert_eq!(header.children.len(), 1);
        assert!(header.child(&Ns::Types, "RequestServerVersion").is_some());
    }

    #[test]
    fn addresses_are_escaped_everywhere() {
        let hostile = r#"o'brien&<co>"x"@contoso.com"#;
        let body = format!(
            "<m:FolderIds>{}</m:FolderIds>",
            Addressing::Delegated.distinguished_folder_id("calendar", hostile)
        );
        let xml = envelope(Addressing::Impersonation, hostile, &body);
        let root = parse(xml.as_bytes()).unwrap();
        let header = root.child(&Ns::Soap, "Header").unwrap();
        let smtp = &header.children[1].children[0].children[0];
        assert_eq!(smtp.text, hostile);
        let folder_ids = &root.child(&Ns::Soap, "Body").unwrap().children[0];
        let email = &folder_ids.children[0].children[0].children[0];
        assert!(email.is(&Ns::Types, "EmailAddress"));
        assert_eq!(email.text, hostile);
    }

    #[test]
    fn folder_ids_per_addressing() {
        assert_eq!(
            Addressing::Impersonation.distinguished_folder_id("calendar", "a@b.c"),
            r#"<t:DistinguishedFolderId Id="calendar"/>"#
        );
        assert_eq!(
            Addressing::Delegated.distinguished_folder_id("calendar", "a@b.c"),
            r#"<t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>a@b.c</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#
        );
    }
}
