//! Reading EWS answers: the SOAP envelope, per-item response messages and
//! SOAP faults.
//!
//! An answer is either an operation response (`m:<Op>Response` with one
//! `m:<Op>ResponseMessage` per input item, each with its own `ResponseClass`;
//! batches partly succeed) or a SOAP fault for the whole request. Both carry a
//! response code, a text and an optional `MessageXml` whose
//! `t:Value Name="…"` children hold details such as `BackOffMilliseconds`.
//! Element names are matched by namespace, not prefix; `MessageXml` appears in
//! the messages namespace in response messages and in the types namespace in
//! faults, so both are accepted.
//!
//! Reading takes the parsed tree apart instead of copying from it: a 16 MiB
//! answer is held once as bytes and once as a tree, never twice as a tree.
//! Texts are kept as the server sent them (trimmed); whoever puts one into a
//! message quotes it through [`safe_text`](crate::safe_text).

use super::xml::{self, Element, Ns, XmlError};
use crate::safe_text;

/// `ResponseClass` of a response message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// The item succeeded.
    Success,
    /// The item was not processed (for example after an earlier error).
    Warning,
    /// The item failed.
    Error,
}

/// The `MessageXml` details of an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageXml {
    /// `t:Value Name="…"` children: (name, trimmed text).
    pub values: Vec<(String, String)>,
    /// Other children (`LineNumber`, `Violation`, ...): (local name, trimmed text).
    pub other: Vec<(String, String)>,
}

impl MessageXml {
    fn from_element(element: Option<Element>) -> Self {
        let mut details = Self::default();
        for mut child in element.into_iter().flat_map(|e| e.children) {
            let text = take_trimmed_text(&mut child);
            let value_name = match child.name.as_str() {
                "Value" => child.attr("Name").map(str::to_owned),
                _ => None,
            };
            match value_name {
                Some(name) => details.values.push((name, text)),
                None => details.other.push((child.name, text)),
            }
        }
        details
    }

    /// The `t:Value` named `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The other child named `name` (`Violation`).
    pub fn other(&self, name: &str) -> Option<&str> {
        self.other
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `BackOffMilliseconds`, the wait Exchange asks for when throttling.
    pub fn back_off_ms(&self) -> Option<u64> {
        self.value("BackOffMilliseconds")?.parse().ok()
    }
}

/// One `m:<Op>ResponseMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMessage {
    /// `ResponseClass`.
    pub class: ResponseClass,
    /// `m:ResponseCode` (`NoError` on success).
    pub code: String,
    /// `m:MessageText` (empty on success).
    pub text: String,
    /// `m:MessageXml`.
    pub message_xml: MessageXml,
    /// The element without the children read into the fields above
    /// (`ResponseCode`, `MessageText`, `MessageXml`), for the operation's own
    /// children.
    pub element: Element,
}

impl ResponseMessage {
    fn from_element(mut element: Element) -> Result<Self, String> {
        let class = match element.attr("ResponseClass") {
            Some("Success") => ResponseClass::Success,
            Some("Warning") => ResponseClass::Warning,
            Some("Error") => ResponseClass::Error,
            Some(other) => {
                return Err(format!(
                    "<{}> has the unknown ResponseClass '{}'",
                    safe_text::name(&element.name),
                    safe_text::clean(other, 40)
                ));
            }
            None => {
                return Err(format!(
                    "<{}> has no ResponseClass",
                    safe_text::name(&element.name)
                ));
            }
        };
        let code = match take_child(&mut element, |c| c.is(&Ns::Messages, "ResponseCode")) {
            Some(mut code) => take_trimmed_text(&mut code),
            None if class == ResponseClass::Success => "NoError".to_owned(),
            None => {
                return Err(format!(
                    "<{}> has no ResponseCode",
                    safe_text::name(&element.name)
                ));
            }
        };
        let text = take_child(&mut element, |c| c.is(&Ns::Messages, "MessageText"))
            .map(|mut t| take_trimmed_text(&mut t))
            .unwrap_or_default();
        let message_xml = MessageXml::from_element(take_child(&mut element, |c| {
            c.name == "MessageXml" && matches!(c.ns, Ns::Messages | Ns::Types)
        }));
        Ok(Self {
            class,
            code,
            text,
            message_xml,
            element,
        })
    }

    /// True for `Success` with `NoError`.
    pub fn is_success(&self) -> bool {
        self.class == ResponseClass::Success && self.code == "NoError"
    }
}

/// A SOAP 1.1 fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// The local part of `faultcode` (`ErrorServerBusy` of `a:ErrorServerBusy`).
    pub fault_code: String,
    /// `faultstring`.
    pub fault_string: String,
    /// `detail/e:ResponseCode`.
    pub response_code: Option<String>,
    /// `detail/e:Message`.
    pub message: Option<String>,
    /// `detail/t:MessageXml`.
    pub message_xml: MessageXml,
}

impl SoapFault {
    fn from_element(mut fault: Element) -> Self {
        // The fault's own children are unqualified; match them by local name.
        let named = |parent: &mut Element, name: &str| {
            take_child(parent, |c| c.name == name).map(|mut c| take_trimmed_text(&mut c))
        };
        let mut fault_code = named(&mut fault, "faultcode").unwrap_or_default();
        if let Some(colon) = fault_code.rfind(':') {
            fault_code.drain(..=colon);
        }
        let fault_string = named(&mut fault, "faultstring").unwrap_or_default();
        let mut detail = take_child(&mut fault, |c| c.name == "detail");
        let response_code = detail
            .as_mut()
            .and_then(|d| named(d, "ResponseCode"))
            .filter(|c| !c.is_empty());
        let message = detail.as_mut().and_then(|d| named(d, "Message"));
        let message_xml = MessageXml::from_element(
            detail
                .as_mut()
                .and_then(|d| take_child(d, |c| c.name == "MessageXml")),
        );
        Self {
            fault_code,
            fault_string,
            response_code,
            message,
            message_xml,
        }
    }

    /// The EWS code: `detail/ResponseCode`, else the local part of `faultcode`.
    pub fn code(&self) -> &str {
        self.response_code.as_deref().unwrap_or(&self.fault_code)
    }

    /// The text: `faultstring`, else `detail/Message`.
    pub fn text(&self) -> &str {
        if self.fault_string.is_empty() {
            self.message.as_deref().unwrap_or_default()
        } else {
            &self.fault_string
        }
    }
}

/// What the SOAP body held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The operation response element (`m:<Op>Response`).
    Response(Element),
    /// A SOAP fault.
    Fault(SoapFault),
}

/// A parsed SOAP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `ServerVersionInfo` as `15.20.8769.35 (V2018_01_08)`, for logs.
    pub server_version: Option<String>,
    /// The body.
    pub content: Content,
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not well-formed, or over a limit.
    Xml(XmlError),
    /// Well-formed, but not the expected SOAP/EWS structure.
    Structure(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Xml(e) => write!(f, "{e}"),
            Self::Structure(s) => f.write_str(s),
        }
    }
}

/// Parses a SOAP answer.
pub fn read_envelope(bytes: &[u8]) -> Result<Envelope, ReadError> {
    let mut root = xml::parse(bytes).map_err(ReadError::Xml)?;
    if !root.is(&Ns::Soap, "Envelope") {
        return Err(ReadError::Structure(format!(
            "the root element is <{}>, not a SOAP Envelope",
            safe_text::name(&root.name)
        )));
    }
    let server_version = root
        .child(&Ns::Soap, "Header")
        .and_then(|h| h.child(&Ns::Types, "ServerVersionInfo"))
        .map(describe_version);
    let body = take_child(&mut root, |c| c.is(&Ns::Soap, "Body"))
        .ok_or_else(|| ReadError::Structure("the SOAP Envelope has no Body".into()))?;
    let first = body
        .children
        .into_iter()
        .next()
        .ok_or_else(|| ReadError::Structure("the SOAP Body is empty".into()))?;
    let content = if first.is(&Ns::Soap, "Fault") {
        Content::Fault(SoapFault::from_element(first))
    } else {
        Content::Response(first)
    };
    Ok(Envelope {
        server_version,
        content,
    })
}

/// Removes and returns the first child of `parent` that `matches`.
fn take_child(parent: &mut Element, matches: impl Fn(&Element) -> bool) -> Option<Element> {
    let index = parent.children.iter().position(matches)?;
    Some(parent.children.remove(index))
}

/// Moves the text out of `element`, trimmed in place (no copy).
fn take_trimmed_text(element: &mut Element) -> String {
    let mut text = std::mem::take(&mut element.text);
    text.truncate(text.trim_end().len());
    let leading = text.len() - text.trim_start().len();
    text.drain(..leading);
    text
}

fn describe_version(info: &Element) -> String {
    let part = |name| safe_text::name(info.attr(name).unwrap_or("?"));
    let mut text = format!(
        "{}.{}.{}.{}",
        part("MajorVersion"),
        part("MinorVersion"),
        part("MajorBuildNumber"),
        part("MinorBuildNumber")
    );
    if let Some(version) = info.attr("Version") {
        text.push_str(&format!(" ({})", safe_text::name(version)));
    }
    text
}

/// The response messages of `response`, which must be `m:<operation>Response`.
pub fn response_messages(
    mut response: Element,
    operation: &str,
) -> Result<Vec<ResponseMessage>, ReadError> {
    let expected = format!("{operation}Response");
    // Quoted like any name, wherever the operation name came from.
    let shown = safe_text::name(&expected);
    if !response.is(&Ns::Messages, &expected) {
        return Err(ReadError::Structure(format!(
            "the SOAP Body holds <{}>, not <{shown}>",
            safe_text::name(&response.name)
        )));
    }
    let messages = take_child(&mut response, |c| c.is(&Ns::Messages, "ResponseMessages"))
        .ok_or_else(|| ReadError::Structure(format!("<{shown}> has no ResponseMessages")))?;
    messages
        .children
        .into_iter()
        .filter(|c| c.ns == Ns::Messages)
        .map(|c| ResponseMessage::from_element(c).map_err(ReadError::Structure))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::ews_sample;

    fn fault(bytes: &[u8]) -> SoapFault {
        match read_envelope(bytes).unwrap().content {
            Content::Fault(f) => f,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    fn messages(bytes: &[u8], operation: &str) -> Vec<ResponseMessage> {
        match read_envelope(bytes).unwrap().content {
            Content::Response(r) => response_messages(r, operation).unwrap(),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn server_busy_fault_with_back_off() {
        let f = fault(ews_sample!("serverbusy-soapfault.xml"));
        assert_eq!(f.fault_code, "ErrorServerBusy");
        assert_eq!(f.response_code.as_deref(), Some("ErrorServerBusy"));
        assert_eq!(f.code(), "ErrorServerBusy");
        assert_eq!(
            f.text(),
            "The server cannot service this request right now. Try again later."
        );
        assert_eq!(f.message_xml.back_off_ms(), Some(297_749));
    }

    #[test]
    fn exceeded_connection_count_fault() {
        let f = fault(ews_sample!("exceededconnectioncount-soapfault.xml"));
        assert_eq!(f.code(), "ErrorExceededConnectionCount");
        assert_eq!(f.message_xml.value("Policy"), Some("MaxConcurrency"));
        assert_eq!(f.message_xml.value("MaxConcurrencyLimit"), Some("27"));
        assert_eq!(f.message_xml.back_off_ms(), None);
        assert!(
            f.text()
                .starts_with("You have exceeded the available concurrent connections")
        );
    }

    #[test]
    fn schema_validation_fault_keeps_its_tagged_details() {
        let f = fault(ews_sample!("schemavalidation-soapfault.xml"));
        assert_eq!(f.code(), "ErrorSchemaValidation");
        assert_eq!(
            f.message.as_deref(),
            Some("The request failed schema validation.")
        );
        assert_eq!(f.message_xml.other("LineNumber"), Some("2"));
        assert_eq!(f.message_xml.other("LinePosition"), Some("630"));
        assert!(
            f.message_xml
                .other("Violation")
                .unwrap()
                .starts_with("The 'Id' attribute is invalid")
        );
    }

    #[test]
    fn fault_code_falls_back_to_the_faultcode_local_part() {
        let f = fault(
            br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorImpersonateUserDenied</faultcode><faultstring xml:lang="en-US">The account does not have permission to impersonate the requested user.</faultstring></s:Fault></s:Body></s:Envelope>"#,
        );
        assert_eq!(f.code(), "ErrorImpersonateUserDenied");
        assert_eq!(f.response_code, None);
        assert_eq!(
            f.text(),
            "The account does not have permission to impersonate the requested user."
        );
    }

    #[test]
    fn real_exchange_online_server_busy_in_a_response_message() {
        let envelope =
            read_envelope(ews_sample!("syncfolderitems-error-serverbusy-o365.xml")).unwrap();
        assert_eq!(
            envelope.server_version.as_deref(),
            Some("15.20.8769.35 (V2018_01_08)")
        );
        let Content::Response(response) = envelope.content else {
            panic!()
        };
        let m = &response_messages(response, "SyncFolderItems").unwrap()[0];
        assert_eq!(m.class, ResponseClass::Error);
        assert_eq!(m.code, "ErrorServerBusy");
        assert_eq!(m.message_xml.back_off_ms(), Some(5000));
        assert!(m.text.contains("'ConcurrentSyncCalls', policy value '5'"));
        let sync_state = m.element.child(&Ns::Messages, "SyncState").unwrap();
        assert_eq!(sync_state.text, "", "the empty SyncState of the error");
    }

    #[test]
    fn inner_error_of_internal_server_error() {
        let m = &messages(
            ews_sample!("deleteitem-error-internalservererror-innerquota.xml"),
            "DeleteItem",
        )[0];
        assert_eq!(m.code, "ErrorInternalServerError");
        assert_eq!(
            m.message_xml.value("InnerErrorResponseCode"),
            Some("ErrorQuotaExceededOnDelete")
        );
        assert_eq!(
            m.message_xml.value("InnerErrorMessageText"),
            Some("Cannot delete message because the folder is out of quota.")
        );
    }

    #[test]
    fn response_messages_in_default_and_prefixed_namespaces() {
        let m = &messages(
            ews_sample!("finditem-error-invalididmalformed.xml"),
            "FindItem",
        )[0];
        assert_eq!(
            (m.class, m.code.as_str(), m.text.as_str()),
            (
                ResponseClass::Error,
                "ErrorInvalidIdMalformed",
                "Id is malformed."
            )
        );
        let m = &messages(
            ews_sample!("deleteitem-error-itemnotfound.xml"),
            "DeleteItem",
        )[0];
        assert_eq!(m.code, "ErrorItemNotFound");
        let m = &messages(
            ews_sample!("findfolder-error-toomanyobjectsopened.xml"),
            "FindFolder",
        )[0];
        assert_eq!(
            (m.code.as_str(), m.text.as_str()),
            (
                "ErrorTooManyObjectsOpened",
                "Too many concurrent connections opened."
            )
        );
        let m = &messages(
            ews_sample!("syncfolderitems-error-invalidsyncstatedata.xml"),
            "SyncFolderItems",
        )[0];
        assert_eq!(m.code, "ErrorInvalidSyncStateData");
    }

    #[test]
    fn batches_in_the_wrong_documentation_namespace() {
        let all = messages(
            ews_sample!("deleteitem-batch-response-itemnotfound.xml"),
            "DeleteItem",
        );
        assert_eq!(all.len(), 3);
        assert!(
            all.iter()
                .all(|m| m.class == ResponseClass::Error && m.code == "ErrorItemNotFound")
        );
        let all = messages(ews_sample!("getitem-batch-response.xml"), "GetItem");
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|m| m.is_success()));
        let all = messages(ews_sample!("updateitem-batch-response.xml"), "UpdateItem");
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|m| m.is_success()));
    }

    #[test]
    fn every_success_fixture_reads_as_one_successful_message() {
        for (file, op) in [
            (
                &ews_sample!("createitem-calendaritem-response.xml")[..],
                "CreateItem",
            ),
            (
                &ews_sample!("createitem-impersonation-response.xml")[..],
                "CreateItem",
            ),
            (
                &ews_sample!("deleteitem-appointment-response.xml")[..],
                "DeleteItem",
            ),
            (
                &ews_sample!("finditem-calendarview-response-truncated.xml")[..],
                "FindItem",
            ),
            (
                &ews_sample!("finditem-restriction-response.xml")[..],
                "FindItem",
            ),
            (
                &ews_sample!("getitem-calendaritem-response-allproperties.xml")[..],
                "GetItem",
            ),
            (
                &ews_sample!("syncfolderitems-response-changes.xml")[..],
                "SyncFolderItems",
            ),
            (
                &ews_sample!("syncfolderitems-response-create-meetingrequest.xml")[..],
                "SyncFolderItems",
            ),
            (
                &ews_sample!("updateitem-meeting-response.xml")[..],
                "UpdateItem",
            ),
        ] {
            let all = messages(file, op);
            assert_eq!(all.len(), 1, "{op}");
            assert!(all[0].is_success(), "{op}: {:?}", all[0].code);
            assert_eq!(all[0].text, "", "{op}");
            assert!(all[0].message_xml.values.is_empty(), "{op}");
        }
    }

    #[test]
    fn structural_problems_are_named() {
        let err = read_envelope(b"<html><body>Sign in</body></html>").unwrap_err();
        assert!(
            err.to_string().contains("<html>, not a SOAP Envelope"),
            "{err}"
        );
        let err =
            read_envelope(br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#)
                .unwrap_err();
        assert!(err.to_string().contains("no Body"), "{err}");
        let err = read_envelope(br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#).unwrap_err();
        assert!(err.to_string().contains("Body is empty"), "{err}");
        let Content::Response(r) = read_envelope(ews_sample!("deleteitem-error-itemnotfound.xml"))
            .unwrap()
            .content
        else {
            panic!()
        };
        let err = response_messages(r, "GetFolder").unwrap_err();
        assert!(err.to_string().contains("not <GetFolderResponse>"), "{err}");
        let no_class = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:GetFolderResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:GetFolderResponseMessage/></m:ResponseMessages></m:GetFolderResponse></s:Body></s:Envelope>"#;
        let Content::Response(r) = read_envelope(no_class).unwrap().content else {
            panic!()
        };
        assert!(
            response_messages(r, "GetFolder")
                .unwrap_err()
                .to_string()
                .contains("no ResponseClass")
        );
    }

    #[test]
    fn every_prefix_and_byte_flip_of_a_real_answer_is_handled_without_panic() {
        let full = ews_sample!("syncfolderitems-error-serverbusy-o365.xml");
        let mut refused = 0;
        for cut in 0..full.len() {
            refused += usize::from(read_envelope(&full[..cut]).is_err());
        }
        // Only cuts inside the trailing whitespace after </s:Envelope> can parse.
        assert!(refused >= full.len() - 2, "{refused} of {}", full.len());
        for position in 0..full.len() {
            for byte in [b'<', b'>', b'&', b'"', b'/', b':', 0xff, 0] {
                let mut mutated = full.to_vec();
                mutated[position] = byte;
                if let Ok(Envelope {
                    content: Content::Response(r),
                    ..
                }) = read_envelope(&mutated)
                {
                    let _ = response_messages(r, "SyncFolderItems");
                }
            }
        }
    }

    #[test]
    fn truncated_fixture_is_an_error_not_a_panic() {
        let full = ews_sample!("serverbusy-soapfault.xml");
        for cut in [10, full.len() / 3, full.len() / 2, full.len() - 20] {
            assert!(read_envelope(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Found by the `ews_answer` fuzz target: an operation name taken from
    /// the answer (NUL bytes in an element name) went into the error unquoted.
    #[test]
    fn fuzz_regression_control_characters_in_the_operation_name() {
        let answer = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/ews_answer-control-characters-in-operation.xml"
        ));
        let Content::Response(response) = read_envelope(answer).unwrap().content else {
            panic!()
        };
        let operation = response.name.strip_suffix("Response").unwrap().to_owned();
        assert!(operation.contains('\0'));
        let err = response_messages(response, &operation)
            .unwrap_err()
            .to_string();
        assert!(crate::safe_text::is_clean(&err), "{err:?}");
        assert!(
            err.ends_with("teItemResponse> has no ResponseMessages"),
            "{err}"
        );
    }
}
