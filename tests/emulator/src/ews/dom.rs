//! A small namespace-resolved DOM for parsed SOAP requests.
//!
//! Requests are parsed once with quick-xml's namespace-aware reader into [`Element`] trees.
//! Every element knows its namespace URI (prefixes are resolved and then forgotten), its
//! attributes, its element children, its concatenated text and the line and column where it
//! starts, so operations can report `ErrorSchemaValidation` with `LineNumber`/`LinePosition`
//! like Exchange does.
//!
//! Hostile input is refused without panicking: DTDs are prohibited (as in Exchange), nesting is
//! capped at [`MAX_DEPTH`], undeclared prefixes and unknown entities are errors.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// SOAP 1.1 envelope namespace (the only one Exchange accepts).
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// EWS messages namespace (`m:`).
pub const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS types namespace (`t:`).
pub const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS errors namespace (`e:`), used in SOAP fault details.
pub const ERRORS_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";
/// The XML namespace bound to the reserved `xml:` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted in a request.
pub const MAX_DEPTH: usize = 64;
/// Largest number of elements accepted in one request.
pub const MAX_ELEMENTS: usize = 500_000;

/// One attribute of an element, with its namespace resolved (`""` for unprefixed attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI; unprefixed attributes have no namespace (empty string).
    pub namespace: String,
    /// Local name.
    pub name: String,
    /// Unescaped value.
    pub value: String,
}

/// One element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Namespace URI of the element, empty when it is in no namespace.
    pub namespace: String,
    /// Local name of the element.
    pub name: String,
    /// Attributes other than namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Concatenated character data directly inside this element (CDATA included).
    pub text: String,
    /// 1-based line of the element's start tag.
    pub line: u32,
    /// 1-based column of the element's start tag.
    pub column: u32,
}

/// Why a document could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, position {column})")]
pub struct ParseError {
    /// What is wrong, in words.
    pub message: String,
    /// 1-based line of the problem.
    pub line: u32,
    /// 1-based column of the problem.
    pub column: u32,
}

impl Element {
    /// True when this element has the given namespace and local name.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.namespace == namespace && self.name == name
    }

    /// First child element with the given namespace and local name.
    pub fn child(&self, namespace: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(namespace, name))
    }

    /// All child elements with the given namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, name))
    }

    /// First child in the `t:` namespace with this local name.
    pub fn t(&self, name: &str) -> Option<&Element> {
        self.child(TYPES_NS, name)
    }

    /// First child in the `m:` namespace with this local name.
    pub fn m(&self, name: &str) -> Option<&Element> {
        self.child(MESSAGES_NS, name)
    }

    /// Value of an unqualified attribute (EWS attributes carry no prefix).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_empty() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// Text content with surrounding whitespace removed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }

    /// Namespace-qualified display name, for error messages (`{ns}Local` as .NET prints it).
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("'{}:{}'", self.namespace, self.name)
        }
    }

    /// Depth-first search for the first descendant (or self) matching namespace and name.
    pub fn find(&self, namespace: &str, name: &str) -> Option<&Element> {
        if self.is(namespace, name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(namespace, name))
    }
}

/// Maps byte offsets to 1-based line and column numbers.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { starts }
    }

    fn locate(&self, offset: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let column = offset - self.starts[line] + 1;
        (clamp_u32(line + 1), clamp_u32(column))
    }
}

fn clamp_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Parses a complete XML document into its root element.
///
/// The input must be UTF-8. A byte-order mark is accepted. DTDs are refused.
pub fn parse(input: &[u8]) -> Result<Element, ParseError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        let index = LineIndex::new(std::str::from_utf8(&input[..e.valid_up_to()]).unwrap_or(""));
        let (line, column) = index.locate(e.valid_up_to());
        ParseError {
            message: "The request is not valid UTF-8 text.".into(),
            line,
            column,
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let index = LineIndex::new(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let err_at = |offset: u64, message: String| {
        let (line, column) = index.locate(
            usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(text.len()),
        );
        ParseError {
            message,
            line,
            column,
        }
    };

    loop {
        let before = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                return Err(err_at(
                    reader.error_position(),
                    format!("The XML is not well-formed: {e}."),
                ));
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(err_at(
                    before,
                    "The XML document has more than one root element.".into(),
                ));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(err_at(
                        before,
                        "The request has too many XML elements.".into(),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err_at(
                        before,
                        format!("The XML nesting is deeper than {MAX_DEPTH} levels."),
                    ));
                }
                let (line, column) = index.locate(usize::try_from(before).unwrap_or(0));
                let element =
                    start_element(&reader, start, line, column).map_err(|m| err_at(before, m))?;
                if matches!(event, Event::Empty(_)) {
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| err_at(before, "Unexpected end tag.".into()))?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(err_at(
                            before,
                            "Text is not allowed outside the root element.".into(),
                        ));
                    }
                }
            }
            Event::CData(c) => {
                let content = c.into_inner().into_owned();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => {
                        return Err(err_at(
                            before,
                            "CDATA is not allowed outside the root element.".into(),
                        ));
                    }
                }
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            return Err(err_at(
                                before,
                                format!("Invalid character reference '&{};'.", &*r),
                            ));
                        }
                    }
                } else {
                    match &*r {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => {
                            return Err(err_at(
                                before,
                                format!("Reference to undeclared entity '{other}'."),
                            ));
                        }
                    }
                };
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&resolved),
                    None => {
                        return Err(err_at(
                            before,
                            "Text is not allowed outside the root element.".into(),
                        ));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(err_at(
                    before,
                    "For security reasons DTD is prohibited in this XML document.".into(),
                ));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(err_at(
            text.len() as u64,
            format!(
                "Unexpected end of file while parsing: the element '{}' is not closed.",
                open.name
            ),
        ));
    }
    root.ok_or_else(|| err_at(0, "Root element is missing.".into()))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn start_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    line: u32,
    column: u32,
) -> Result<Element, String> {
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let namespace = resolved_namespace(ns, start.name().as_ref())?;
    let name = local.as_ref().to_string();
    let mut attributes = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("The XML is not well-formed: {e}."))?;
        let key = attr.key;
        let raw_key = key.as_ref().to_string();
        if raw_key == "xmlns" || raw_key.starts_with("xmlns:") {
            continue;
        }
        let (ans, alocal) = reader.resolver().resolve_attribute(key);
        let attr_ns = if raw_key.starts_with("xml:") {
            XML_NS.to_string()
        } else {
            resolved_namespace(ans, &raw_key)?
        };
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("Invalid value of attribute '{raw_key}': {e}."))?
            .into_owned();
        attributes.push(Attribute {
            namespace: attr_ns,
            name: alocal.as_ref().to_string(),
            value,
        });
    }
    Ok(Element {
        namespace,
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
        line,
        column,
    })
}

fn resolved_namespace(ns: ResolveResult<'_>, raw: &str) -> Result<String, String> {
    match ns {
        ResolveResult::Bound(n) => Ok(n.as_ref().to_string()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(format!(
            "'{prefix}' is an undeclared prefix (in the name '{raw}')."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_prefixes_and_default_namespaces() {
        let doc = br#"<?xml version="1.0"?>
<x:Envelope xmlns:x="http://schemas.xmlsoap.org/soap/envelope/">
  <x:Body><GetFolder xmlns="http://schemas.microsoft.com/exchange/services/2006/messages" a="1 &amp; 2">
    <t:FolderShape xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">x&lt;y&#65;</t:FolderShape>
  </GetFolder></x:Body>
</x:Envelope>"#;
        let root = parse(doc).unwrap();
        assert!(root.is(SOAP_NS, "Envelope"));
        let body = root.child(SOAP_NS, "Body").unwrap();
        let op = &body.children[0];
        assert!(op.is(MESSAGES_NS, "GetFolder"));
        assert_eq!(op.attr("a"), Some("1 & 2"));
        let shape = op.t("FolderShape").unwrap();
        assert_eq!(shape.text, "x<yA");
        assert_eq!((shape.line, shape.column), (4, 5));
    }

    #[test]
    fn reports_position_of_malformed_xml() {
        let err = parse(b"<a>\n  <b></c>\n</a>").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("not well-formed"), "{err}");
    }

    #[test]
    fn refuses_dtds_and_unknown_entities() {
        let err = parse(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").unwrap_err();
        assert!(err.message.contains("DTD is prohibited"), "{err}");
        let err = parse(b"<a>&x;</a>").unwrap_err();
        assert!(err.message.contains("undeclared entity"), "{err}");
    }

    #[test]
    fn refuses_undeclared_prefixes_deep_nesting_and_truncation() {
        assert!(
            parse(b"<p:a/>")
                .unwrap_err()
                .message
                .contains("undeclared prefix")
        );
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(
            parse(deep.as_bytes())
                .unwrap_err()
                .message
                .contains("nesting")
        );
        assert!(parse(b"<a><b>").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"<a/><b/>").is_err());
        assert!(parse(&[0x3c, 0x61, 0xff, 0x3e]).is_err());
    }
}
