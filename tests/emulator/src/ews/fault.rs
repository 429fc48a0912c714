//! EWS errors: per-item response errors and whole-request SOAP faults.
//!
//! Exchange reports problems in two places (see `research/ews-protocol.md` §5.1):
//! - [`ResponseError`]: inside a response message (`ResponseClass="Error"`, HTTP 200), one per
//!   item of a batch;
//! - [`EwsFault`]: a SOAP 1.1 `s:Fault` for the whole request (HTTP 500), shaped like the fixtures
//!   `serverbusy-soapfault.xml`, `exceededconnectioncount-soapfault.xml` and
//!   `schemavalidation-soapfault.xml`.

use super::dom::{ERRORS_NS, Element, SOAP_NS, TYPES_NS};
use super::writer::{XmlWriter, write_message_xml};

/// One child of `MessageXml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageXml {
    /// `<t:Value Name="name">value</t:Value>`.
    Value {
        /// The `Name` attribute.
        name: String,
        /// The text.
        value: String,
    },
    /// `<t:FieldURI FieldURI="uri"/>`: the property an error is about, in the attribute form
    /// Exchange writes.
    FieldUri(String),
    /// `<t:name>text</t:name>` (e.g. `LineNumber`, `LinePosition`, `Violation`).
    Element {
        /// Local name in the types namespace.
        name: String,
        /// The text.
        text: String,
    },
}

impl MessageXml {
    /// A `t:FieldURI` entry naming the property an error is about (`item:Subject`).
    pub fn field_uri(uri: impl Into<String>) -> Self {
        Self::FieldUri(uri.into())
    }

    /// A `t:Value Name=..` entry.
    pub fn value(name: &str, value: impl ToString) -> Self {
        Self::Value {
            name: name.to_string(),
            value: value.to_string(),
        }
    }
}

/// An error reported inside a response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError {
    /// The `ResponseCode` (e.g. `ErrorItemNotFound`).
    pub code: String,
    /// The `MessageText`.
    pub message: String,
    /// The `MessageXml` children.
    pub message_xml: Vec<MessageXml>,
}

impl ResponseError {
    /// An error with a code and message text.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_string(),
            message: message.to_string(),
            message_xml: Vec::new(),
        }
    }

    /// Adds a `MessageXml` entry.
    pub fn with(mut self, entry: MessageXml) -> Self {
        self.message_xml.push(entry);
        self
    }

    /// `ErrorAccessDenied` with Exchange's text.
    pub fn access_denied() -> Self {
        Self::new(
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        )
    }

    /// `ErrorFolderNotFound` with Exchange's text.
    pub fn folder_not_found() -> Self {
        Self::new(
            "ErrorFolderNotFound",
            "The specified folder could not be found in the store.",
        )
    }

    /// `ErrorNonExistentMailbox` for an SMTP address.
    pub fn non_existent_mailbox(address: &str) -> Self {
        Self::new(
            "ErrorNonExistentMailbox",
            "The SMTP address has no mailbox associated with it.",
        )
        .with(MessageXml::value("SmtpAddress", address))
    }

    /// `ErrorInvalidIdMalformed` with Exchange's text.
    pub fn id_malformed() -> Self {
        Self::new("ErrorInvalidIdMalformed", "Id is malformed.")
    }

    /// `ErrorServerBusy` with `BackOffMilliseconds`, worded like the real Exchange Online sample.
    pub fn server_busy(policy: &str, policy_value: u64, back_off_ms: u64) -> Self {
        Self::new(
            "ErrorServerBusy",
            &format!(
                "The server cannot service this request right now. Try again later., This operation exceeds the throttling budget for policy part '{policy}', policy value '{policy_value}',  Budget type: 'Ews'.  Suggested backoff time {back_off_ms} ms."
            ),
        )
        .with(MessageXml::value("BackOffMilliseconds", back_off_ms))
    }
}

/// A whole-request failure, answered as an HTTP 500 SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EwsFault {
    /// The response code (also the local part of `faultcode`).
    pub code: String,
    /// The `faultstring`.
    pub fault_string: String,
    /// The `e:Message` in the detail.
    pub message: String,
    /// The `t:MessageXml` children.
    pub message_xml: Vec<MessageXml>,
}

impl EwsFault {
    /// A fault whose faultstring and message are the same text.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.to_string(),
            fault_string: message.to_string(),
            message: message.to_string(),
            message_xml: Vec::new(),
        }
    }

    /// Adds a `MessageXml` entry.
    pub fn with(mut self, entry: MessageXml) -> Self {
        self.message_xml.push(entry);
        self
    }

    /// `ErrorSchemaValidation` at a line and column, like `schemavalidation-soapfault.xml`.
    pub fn schema_at(line: u32, column: u32, violation: &str) -> Self {
        Self {
            code: "ErrorSchemaValidation".into(),
            fault_string: format!("The request failed schema validation: {violation}"),
            message: "The request failed schema validation.".into(),
            message_xml: vec![
                MessageXml::Element {
                    name: "LineNumber".into(),
                    text: line.to_string(),
                },
                MessageXml::Element {
                    name: "LinePosition".into(),
                    text: column.to_string(),
                },
                MessageXml::Element {
                    name: "Violation".into(),
                    text: violation.to_string(),
                },
            ],
        }
    }

    /// `ErrorSchemaValidation` located at an element of the request.
    pub fn schema(at: &Element, violation: &str) -> Self {
        Self::schema_at(at.line, at.column, violation)
    }

    /// Schema error for an element that is not allowed where it appears.
    pub fn unexpected_child(parent: &Element, child: &Element) -> Self {
        Self::schema(
            child,
            &format!(
                "The element '{}' in namespace '{}' has invalid child element '{}' in namespace '{}'.",
                parent.name, parent.namespace, child.name, child.namespace
            ),
        )
    }

    /// Schema error for a missing required child element.
    pub fn missing_child(parent: &Element, namespace: &str, name: &str) -> Self {
        Self::schema(
            parent,
            &format!(
                "The element '{}' in namespace '{}' has incomplete content. List of possible elements expected: '{}' in namespace '{}'.",
                parent.name, parent.namespace, name, namespace
            ),
        )
    }

    /// Schema error for a missing required attribute.
    pub fn missing_attribute(element: &Element, attribute: &str) -> Self {
        Self::schema(
            element,
            &format!("The required attribute '{attribute}' is missing."),
        )
    }

    /// Schema error for an attribute value outside its enumeration.
    pub fn invalid_enum(element: &Element, attribute: &str, value: &str, type_name: &str) -> Self {
        Self::schema(
            element,
            &format!(
                "The '{attribute}' attribute is invalid - The value '{value}' is invalid according to its datatype '{TYPES_NS}:{type_name}' - The Enumeration constraint failed."
            ),
        )
    }

    /// `ErrorInvalidRequest` with Exchange's text.
    pub fn invalid_request() -> Self {
        Self::new("ErrorInvalidRequest", "The request is invalid.")
    }

    /// `ErrorServerBusy` as a SOAP fault, like `serverbusy-soapfault.xml`.
    pub fn server_busy(back_off_ms: u64) -> Self {
        Self::new(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
        )
        .with(MessageXml::value("BackOffMilliseconds", back_off_ms))
    }

    /// `ErrorExceededConnectionCount`, like `exceededconnectioncount-soapfault.xml`.
    pub fn exceeded_connection_count(limit: usize) -> Self {
        Self::new(
            "ErrorExceededConnectionCount",
            "You have exceeded the available concurrent connections for your account.  Try again once your other requests have completed.",
        )
        .with(MessageXml::value("Policy", "MaxConcurrency"))
        .with(MessageXml::value("MaxConcurrencyLimit", limit))
        .with(MessageXml::value(
            "ErrorMessage",
            format!("This operation exceeds the throttling budget for policy part 'MaxConcurrency', policy value '{limit}',  Budget type: 'Ews'.  Suggested backoff time 0 ms."),
        ))
    }

    /// `ErrorNonExistentMailbox` for an address, with `MessageXml` `SmtpAddress`.
    pub fn non_existent_mailbox(address: &str) -> Self {
        Self::new(
            "ErrorNonExistentMailbox",
            "The SMTP address has no mailbox associated with it.",
        )
        .with(MessageXml::value("SmtpAddress", address))
    }

    /// Serializes the fault as a complete SOAP envelope.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        w.start("s:Envelope", &[("xmlns:s", SOAP_NS)]);
        w.start("s:Body", &[]);
        w.start("s:Fault", &[]);
        w.leaf_with(
            "faultcode",
            &[("xmlns:a", TYPES_NS)],
            &format!("a:{}", self.code),
        );
        w.leaf_with("faultstring", &[("xml:lang", "en-US")], &self.fault_string);
        w.start("detail", &[]);
        w.leaf_with("e:ResponseCode", &[("xmlns:e", ERRORS_NS)], &self.code);
        w.leaf_with("e:Message", &[("xmlns:e", ERRORS_NS)], &self.message);
        write_message_xml(&mut w, "t:MessageXml", &self.message_xml);
        w.end("detail");
        w.end("s:Fault");
        w.end("s:Body");
        w.end("s:Envelope");
        w.into_string()
    }
}

impl From<ResponseError> for EwsFault {
    fn from(e: ResponseError) -> Self {
        Self {
            code: e.code,
            fault_string: e.message.clone(),
            message: e.message,
            message_xml: e.message_xml,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::dom::parse;

    #[test]
    fn schema_fault_carries_position_and_violation() {
        let xml = EwsFault::schema_at(2, 630, "bad <thing>").to_xml();
        let root = parse(xml.as_bytes()).unwrap();
        let detail = root.find("", "detail").unwrap();
        assert_eq!(
            detail.child(ERRORS_NS, "ResponseCode").unwrap().text,
            "ErrorSchemaValidation"
        );
        let mx = detail.child(TYPES_NS, "MessageXml").unwrap();
        assert_eq!(mx.t("LineNumber").unwrap().text, "2");
        assert_eq!(mx.t("LinePosition").unwrap().text, "630");
        assert_eq!(mx.t("Violation").unwrap().text, "bad <thing>");
        assert_eq!(
            root.find("", "faultcode").unwrap().text,
            "a:ErrorSchemaValidation"
        );
    }
}
