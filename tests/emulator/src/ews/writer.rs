//! An XML writer for EWS responses, and the SOAP envelope and response-message writers.
//!
//! [`XmlWriter`] escapes every text and attribute value it is given, so handlers never build
//! XML by string concatenation. [`ResponseBuilder`] writes the
//! `m:<Op>Response/m:ResponseMessages/m:<Op>ResponseMessage` structure of the real samples, and
//! [`envelope`] wraps a response body in a SOAP 1.1 envelope with the `ServerVersionInfo` header
//! Exchange Online sends.

use std::borrow::Cow;

use super::context::OpError;
use super::dom::{MESSAGES_NS, SOAP_NS, TYPES_NS};
use super::fault::{EwsFault, MessageXml, ResponseError};

/// Escapes character data (`&`, `<`, `>`).
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes an attribute value (quotes and whitespace characters as well).
pub fn escape_attr(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// The reference that stands for `c`, if it must be escaped in text or, with `in_attribute`,
/// in an attribute value.
fn reference(c: char, in_attribute: bool) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ if !in_attribute => None,
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '\n' => Some("&#xA;"),
        '\r' => Some("&#xD;"),
        '\t' => Some("&#x9;"),
        _ => None,
    }
}

fn escape(s: &str, in_attribute: bool) -> Cow<'_, str> {
    if !s.contains(|c| reference(c, in_attribute).is_some()) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match reference(c, in_attribute) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out.into()
}

/// Appends XML to a string. Names are written as given (with their prefix, e.g. `t:Folder`);
/// values are escaped.
#[derive(Debug, Default, Clone)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    fn open_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            self.buf.push_str(&escape_attr(v));
            self.buf.push('"');
        }
    }

    /// Writes a start tag.
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.open_tag(name, attrs);
        self.buf.push('>');
        self
    }

    /// Writes an end tag.
    pub fn end(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Writes an empty element (`<name a="b"/>`).
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.open_tag(name, attrs);
        self.buf.push_str("/>");
        self
    }

    /// Writes `<name>text</name>` with the text escaped.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.start(name, &[]);
        self.text(text);
        self.end(name)
    }

    /// Writes `<name attrs>text</name>` with the text escaped.
    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.start(name, attrs);
        self.text(text);
        self.end(name)
    }

    /// Writes escaped character data.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.buf.push_str(&escape_text(text));
        self
    }

    /// Writes `<name>` … `</name>` around whatever `inner` writes.
    pub fn element(
        &mut self,
        name: &str,
        attrs: &[(&str, &str)],
        inner: impl FnOnce(&mut Self),
    ) -> &mut Self {
        self.start(name, attrs);
        inner(self);
        self.end(name)
    }

    /// Appends already-serialized XML verbatim. Only for output of another `XmlWriter`.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }

    /// The XML written so far.
    pub fn as_str(&self) -> &str {
        &self.buf
    }

    /// Consumes the writer and returns the XML.
    pub fn into_string(self) -> String {
        self.buf
    }
}

/// Writes the `ServerVersionInfo` values of Exchange Online (15.20.8769.35, `V2018_01_08`).
fn server_version_info(w: &mut XmlWriter) {
    w.empty(
        "h:ServerVersionInfo",
        &[
            ("MajorVersion", "15"),
            ("MinorVersion", "20"),
            ("MajorBuildNumber", "8769"),
            ("MinorBuildNumber", "35"),
            ("Version", "V2018_01_08"),
            ("xmlns:h", TYPES_NS),
            ("xmlns", TYPES_NS),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
        ],
    );
}

/// A complete SOAP response: envelope, `ServerVersionInfo` header and the given body element.
pub fn envelope(body_xml: &str) -> String {
    envelope_with_headers(body_xml, "")
}

/// Like [`envelope`], with extra header XML after `ServerVersionInfo`.
pub fn envelope_with_headers(body_xml: &str, extra_headers: &str) -> String {
    let mut w = XmlWriter::new();
    w.raw("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    w.start("s:Envelope", &[("xmlns:s", SOAP_NS)]);
    w.start("s:Header", &[]);
    server_version_info(&mut w);
    w.raw(extra_headers);
    w.end("s:Header");
    w.start(
        "s:Body",
        &[
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
        ],
    );
    w.raw(body_xml);
    w.end("s:Body");
    w.end("s:Envelope");
    w.into_string()
}

/// `ResponseClass` of a response message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseClass {
    /// The item succeeded.
    Success,
    /// The item succeeded partly.
    Warning,
    /// The item failed.
    Error,
}

impl ResponseClass {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::Warning => "Warning",
            Self::Error => "Error",
        }
    }
}

/// What an operation handler returns: the body element (`m:<Op>Response`) and extra HTTP
/// headers (e.g. `X-BackEndOverrideCookie` on Subscribe).
#[derive(Debug, Clone, Default)]
pub struct OpResponse {
    /// The serialized `m:<Op>Response` element (without envelope).
    pub body: String,
    /// Extra HTTP response headers.
    pub headers: Vec<(String, String)>,
    /// The response code of the first message, for the request log.
    pub first_code: Option<String>,
}

/// Builds `m:<Op>Response/m:ResponseMessages/m:<Op>ResponseMessage*`.
///
/// ```
/// use exo_emulator::ews::writer::ResponseBuilder;
/// let mut r = ResponseBuilder::new("GetFolder");
/// r.success(|w| { w.start("m:Folders", &[]).end("m:Folders"); });
/// let resp = r.finish();
/// assert!(resp.body.contains("<m:GetFolderResponseMessage ResponseClass=\"Success\">"));
/// ```
#[derive(Debug)]
pub struct ResponseBuilder {
    op: String,
    message_name: String,
    w: XmlWriter,
    first_code: Option<String>,
    headers: Vec<(String, String)>,
}

impl ResponseBuilder {
    /// Starts the response of operation `op` (e.g. `"GetFolder"`).
    pub fn new(op: &str) -> Self {
        let mut w = XmlWriter::new();
        w.start(
            &format!("m:{op}Response"),
            &[("xmlns:m", MESSAGES_NS), ("xmlns:t", TYPES_NS)],
        );
        w.start("m:ResponseMessages", &[]);
        Self {
            op: op.to_string(),
            message_name: format!("m:{op}ResponseMessage"),
            w,
            first_code: None,
            headers: Vec::new(),
        }
    }

    /// Adds an HTTP header to the response.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A `Success` message: `ResponseCode` `NoError`, then whatever `body` writes.
    pub fn success(&mut self, body: impl FnOnce(&mut XmlWriter)) -> &mut Self {
        self.first_code.get_or_insert_with(|| "NoError".into());
        let name = self.message_name.clone();
        self.w.start(&name, &[("ResponseClass", "Success")]);
        self.w.leaf("m:ResponseCode", "NoError");
        body(&mut self.w);
        self.w.end(&name);
        self
    }

    /// An `Error` (or `Warning`) message: MessageText, ResponseCode, DescriptiveLinkKey,
    /// MessageXml, then whatever `body` writes (e.g. an empty `m:Folders`).
    pub fn failure(
        &mut self,
        class: ResponseClass,
        err: &ResponseError,
        body: impl FnOnce(&mut XmlWriter),
    ) -> &mut Self {
        self.first_code.get_or_insert_with(|| err.code.clone());
        let name = self.message_name.clone();
        self.w.start(&name, &[("ResponseClass", class.as_str())]);
        self.w.leaf("m:MessageText", &err.message);
        self.w.leaf("m:ResponseCode", &err.code);
        self.w.leaf("m:DescriptiveLinkKey", "0");
        write_message_xml(&mut self.w, "m:MessageXml", &err.message_xml);
        body(&mut self.w);
        self.w.end(&name);
        self
    }

    /// Shorthand for an `Error` message with no operation-specific body.
    pub fn error(&mut self, err: &ResponseError) -> &mut Self {
        self.failure(ResponseClass::Error, err, |_| {})
    }

    /// The message of one element of a request from the element's result: a success with what
    /// `success` writes from the value, or an `Error` message with what `on_error` writes
    /// (e.g. an empty `m:Items`). A fault of the whole request is returned instead.
    pub fn outcome<T>(
        &mut self,
        result: Result<T, OpError>,
        success: impl FnOnce(&mut XmlWriter, T),
        on_error: impl FnOnce(&mut XmlWriter),
    ) -> Result<(), EwsFault> {
        match result {
            Ok(value) => self.success(|w| success(w, value)),
            Err(OpError::Item(e)) => self.failure(ResponseClass::Error, &e, on_error),
            Err(OpError::Fault(f)) => return Err(f),
        };
        Ok(())
    }

    /// Closes the response.
    pub fn finish(mut self) -> OpResponse {
        self.w.end("m:ResponseMessages");
        self.w.end(&format!("m:{}Response", self.op));
        OpResponse {
            body: self.w.into_string(),
            headers: self.headers,
            first_code: self.first_code,
        }
    }
}

/// `m:Items` holding one item's XML (the success body of CreateItem, GetItem, UpdateItem).
pub fn write_items(w: &mut XmlWriter, item_xml: &str) {
    w.start("m:Items", &[]);
    w.raw(item_xml);
    w.end("m:Items");
}

/// An empty `m:Items` (their error body).
pub fn write_no_items(w: &mut XmlWriter) {
    w.empty("m:Items", &[]);
}

/// Writes a `MessageXml` element (`m:MessageXml` in messages, `t:MessageXml` in faults) unless
/// it is empty.
pub fn write_message_xml(w: &mut XmlWriter, element: &str, entries: &[MessageXml]) {
    if entries.is_empty() {
        return;
    }
    if element == "t:MessageXml" {
        w.start(element, &[("xmlns:t", TYPES_NS)]);
    } else {
        w.start(element, &[]);
    }
    for entry in entries {
        match entry {
            MessageXml::Value { name, value } => {
                w.leaf_with("t:Value", &[("Name", name)], value);
            }
            MessageXml::FieldUri(uri) => {
                w.empty("t:FieldURI", &[("FieldURI", uri)]);
            }
            MessageXml::Element { name, text } => {
                w.leaf(&format!("t:{name}"), text);
            }
        }
    }
    w.end(element);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let mut w = XmlWriter::new();
        w.leaf_with("t:A", &[("x", "a\"<b>&'\n")], "1 < 2 & 3 > 2");
        assert_eq!(
            w.as_str(),
            "<t:A x=\"a&quot;&lt;b&gt;&amp;&apos;&#xA;\">1 &lt; 2 &amp; 3 &gt; 2</t:A>"
        );
        // Quotes and whitespace stay as they are in text; nothing to escape borrows.
        assert_eq!(escape_text("a\"'\n\r\t<"), "a\"'\n\r\t&lt;");
        assert_eq!(escape_attr("\r\t"), "&#xD;&#x9;");
        assert!(matches!(escape_attr("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn envelope_parses_back_with_correct_namespaces() {
        let mut r = ResponseBuilder::new("GetFolder");
        r.error(&ResponseError::new(
            "ErrorAccessDenied",
            "Access is denied. <x>",
        ));
        let xml = envelope(&r.finish().body);
        let root = crate::ews::dom::parse(xml.as_bytes()).unwrap();
        assert!(root.is(SOAP_NS, "Envelope"));
        let msg = root
            .find(MESSAGES_NS, "GetFolderResponseMessage")
            .expect("message element");
        assert_eq!(msg.attr("ResponseClass"), Some("Error"));
        assert_eq!(msg.m("MessageText").unwrap().text, "Access is denied. <x>");
        assert!(root.find(TYPES_NS, "ServerVersionInfo").is_some());
    }
}
