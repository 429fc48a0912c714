//! Namespace-aware reading of SOAP answers into a small element tree, and
//! escaping for writing requests.
//!
//! The reader (quick-xml's `NsReader`) resolves every element to a namespace
//! URI, so prefixes and default namespaces do not matter: `<m:Folders>`,
//! `<Folders xmlns="…/messages">` and `<x:Folders xmlns:x="…/messages">` are the
//! same element. The documentation samples' wrong SOAP namespace
//! (`https://schemas.xmlsoap.org/soap/envelope/`) resolves to [`Ns::Soap`] too.
//!
//! Answers come from the network, so the reader is defensive: the input must
//! be UTF-8, document type declarations (and with them entity expansion) are
//! refused, and [`Limits`] caps the size, the nesting depth, the number of
//! elements and the length of attribute values and texts. The tree is built
//! with an explicit stack (no recursion while parsing), and the depth cap keeps
//! the recursive drop of the tree shallow. Every problem is an [`XmlError`];
//! nothing panics.

use std::fmt;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// SOAP 1.1 envelope namespace.
pub const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The wrong SOAP namespace of several Microsoft documentation samples.
pub const SOAP_NS_DOC_TYPO: &str = "https://schemas.xmlsoap.org/soap/envelope/";
/// EWS messages namespace (`m:`).
pub const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
/// EWS types namespace (`t:`).
pub const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// EWS errors namespace (`e:`, in SOAP fault details).
pub const ERRORS_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

/// The namespace of an element, with the ones EWS uses named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    /// No namespace (SOAP fault children such as `faultcode`).
    None,
    /// The SOAP 1.1 envelope (also under its documentation typo).
    Soap,
    /// EWS messages.
    Messages,
    /// EWS types.
    Types,
    /// EWS errors.
    Errors,
    /// Any other namespace URI.
    Other(String),
}

impl Ns {
    fn from_uri(uri: &str) -> Self {
        match uri {
            SOAP_NS | SOAP_NS_DOC_TYPO => Self::Soap,
            MESSAGES_NS => Self::Messages,
            TYPES_NS => Self::Types,
            ERRORS_NS => Self::Errors,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// An element of a parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The resolved namespace.
    pub ns: Ns,
    /// The local name (without prefix).
    pub name: String,
    /// Attributes by local name (namespace declarations left out), unescaped.
    pub attributes: Vec<(String, String)>,
    /// Child elements, in document order.
    pub children: Vec<Element>,
    /// The element's own text (text, CDATA and references directly inside
    /// it, concatenated), unescaped.
    pub text: String,
}

impl Element {
    /// True when the element is `ns:name`.
    pub fn is(&self, ns: &Ns, name: &str) -> bool {
        self.ns == *ns && self.name == name
    }

    /// The value of the attribute with local name `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first child `ns:name`.
    pub fn child(&self, ns: &Ns, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// All children `ns:name`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a Ns,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first child with local name `name` in any of `namespaces`.
    pub fn child_in(&self, namespaces: &[Ns], name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name == name && namespaces.contains(&c.ns))
    }

    /// The text without leading and trailing whitespace.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Caps for parsing untrusted documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Longest attribute value, in bytes.
    pub max_attribute_len: usize,
    /// Longest text of one element, in bytes.
    pub max_text_len: usize,
}

impl Default for Limits {
    /// Generous for any EWS answer (a page of 512 changes, item bodies) and
    /// small enough that hostile input cannot exhaust the component's memory.
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
            max_depth: 64,
            max_elements: 500_000,
            max_attribute_len: 64 << 10,
            max_text_len: 4 << 20,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `bytes` with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    parse_with(bytes, Limits::default())
}

/// Parses `bytes` into its root element.
pub fn parse_with(bytes: &[u8], limits: Limits) -> Result<Element, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError(format!(
            "the document has {} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        XmlError(format!(
            "the document is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError(format!("malformed XML near byte {position}: {e}")))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError(
                    "the document has more than one root element".into(),
                ));
            }
            Event::Start(start) => {
                let element = open(&resolved, &start, &limits, &mut elements)?;
                if stack.len() >= limits.max_depth {
                    return Err(XmlError(format!(
                        "elements are nested deeper than {} levels",
                        limits.max_depth
                    )));
                }
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&resolved, &start, &limits, &mut elements)?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError("an end tag has no start tag".into()))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                append_text(&mut stack, &t.xml_content(XmlVersion::Implicit1_0), &limits)?
            }
            Event::CData(c) => {
                append_text(&mut stack, &c.xml_content(XmlVersion::Implicit1_0), &limits)?
            }
            Event::GeneralRef(reference) => {
                let resolved_text = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&reference)
                        .ok_or_else(|| {
                            XmlError(format!(
                                "the entity &{}; is not defined",
                                reference.chars().take(40).collect::<String>()
                            ))
                        })?
                        .to_owned(),
                    Err(e) => return Err(XmlError(format!("bad character reference: {e}"))),
                };
                append_text(&mut stack, &resolved_text, &limits)?;
            }
            Event::DocType(_) => {
                return Err(XmlError(
                    "document type declarations are not allowed in SOAP".into(),
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError(format!(
            "the document is truncated: <{}> is not closed",
            open.name
        )));
    }
    root.ok_or_else(|| XmlError("the document has no root element".into()))
}

fn open(
    resolved: &ResolveResult<'_>,
    start: &BytesStart<'_>,
    limits: &Limits,
    elements: &mut usize,
) -> Result<Element, XmlError> {
    *elements += 1;
    if *elements > limits.max_elements {
        return Err(XmlError(format!(
            "the document has more than {} elements",
            limits.max_elements
        )));
    }
    let ns = match resolved {
        ResolveResult::Bound(ns) => Ns::from_uri(ns.into_inner()),
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(prefix) => {
            return Err(XmlError(format!(
                "the namespace prefix '{}' is not declared",
                prefix.chars().take(40).collect::<String>()
            )));
        }
    };
    let name = start.local_name().into_inner().to_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute =
            attribute.map_err(|e| XmlError(format!("malformed attribute in <{name}>: {e}")))?;
        let key = attribute.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        if attribute.value.len() > limits.max_attribute_len {
            return Err(XmlError(format!(
                "attribute {} of <{name}> is longer than {} bytes",
                key.local_name().into_inner(),
                limits.max_attribute_len
            )));
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| XmlError(format!("bad attribute value in <{name}>: {e}")))?;
        attributes.push((key.local_name().into_inner().to_owned(), value.into_owned()));
    }
    Ok(Element {
        ns,
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn append_text(stack: &mut [Element], text: &str, limits: &Limits) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            if element.text.len() + text.len() > limits.max_text_len {
                return Err(XmlError(format!(
                    "the text of <{}> is longer than {} bytes",
                    element.name, limits.max_text_len
                )));
            }
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError(
            "the document has text outside its root element".into(),
        )),
    }
}

/// Escapes `text` for an XML attribute value or text node.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_default_namespaces_resolve_alike() {
        for doc in [
            r#"<m:Folders xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><t:Folder xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"/></m:Folders>"#,
            r#"<Folders xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><x:Folder xmlns:x="http://schemas.microsoft.com/exchange/services/2006/types"/></Folders>"#,
        ] {
            let root = parse(doc.as_bytes()).unwrap();
            assert!(root.is(&Ns::Messages, "Folders"), "{doc}");
            assert!(root.child(&Ns::Types, "Folder").is_some(), "{doc}");
        }
    }

    #[test]
    fn the_documentation_soap_namespace_is_accepted() {
        let root = parse(br#"<s:Envelope xmlns:s="https://schemas.xmlsoap.org/soap/envelope/"/>"#)
            .unwrap();
        assert!(root.is(&Ns::Soap, "Envelope"));
    }

    #[test]
    fn text_entities_cdata_and_attributes_are_unescaped() {
        let root = parse(
            br#"<?xml version="1.0"?><!-- c --><a b="x &amp; &quot;y&quot; &#x41;">1 &lt; 2 &#65;<![CDATA[<raw>]]></a>"#,
        )
        .unwrap();
        assert_eq!(root.attr("b"), Some(r#"x & "y" A"#));
        assert_eq!(root.text, "1 < 2 A<raw>");
    }

    #[test]
    fn escape_round_trips_through_the_parser() {
        let hostile = r#"o'brien&"co"<x>@contoso.com"#;
        let doc = format!(r#"<a v="{}">{}</a>"#, escape(hostile), escape(hostile));
        let root = parse(doc.as_bytes()).unwrap();
        assert_eq!(root.attr("v"), Some(hostile));
        assert_eq!(root.text, hostile);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let depth = 100_000;
        let doc = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let err = parse(doc.as_bytes()).unwrap_err();
        assert!(err.0.contains("nested deeper than 64"), "{err}");
        let ok = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn huge_attributes_texts_and_documents_are_refused() {
        let huge = "x".repeat(70 << 10);
        let err = parse(format!(r#"<a Id="{huge}"/>"#).as_bytes()).unwrap_err();
        assert!(err.0.contains("attribute Id of <a> is longer"), "{err}");
        let small = Limits {
            max_text_len: 10,
            ..Limits::default()
        };
        let err = parse_with(b"<a>0123456789ab</a>", small).unwrap_err();
        assert!(err.0.contains("text of <a>"), "{err}");
        let tiny = Limits {
            max_bytes: 5,
            ..Limits::default()
        };
        assert!(
            parse_with(b"<a></a>", tiny)
                .unwrap_err()
                .0
                .contains("7 bytes")
        );
        let few = Limits {
            max_elements: 2,
            ..Limits::default()
        };
        assert!(
            parse_with(b"<a><b/><c/></a>", few)
                .unwrap_err()
                .0
                .contains("more than 2 elements")
        );
    }

    #[test]
    fn malformed_documents_are_errors() {
        let cases: [(&[u8], &str); 10] = [
            (b"<a><b></a>", "malformed"),
            (b"<a><b>", "truncated: <b>"),
            (
                b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Bo",
                "malformed",
            ),
            (b"", "no root"),
            (b"   ", "no root"),
            (b"\xff\xfe<\x00a\x00/\x00>\x00", "not UTF-8"),
            (b"<a>caf\xe9</a>", "not UTF-8"),
            (
                b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                "document type",
            ),
            (b"<a>&undefined;</a>", "not defined"),
            (b"<x:a/>", "prefix 'x'"),
        ];
        for (doc, needle) in cases {
            let err = parse(doc).unwrap_err();
            assert!(
                err.0.contains(needle),
                "{:?}: {err}",
                String::from_utf8_lossy(doc)
            );
        }
        assert!(
            parse(b"<a/><b/>")
                .unwrap_err()
                .0
                .contains("more than one root")
        );
        assert!(parse(b"<a/>junk").unwrap_err().0.contains("outside"));
        assert!(parse(b"<a b='1' b='2'/>").is_err(), "duplicate attribute");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert!(parse(b"\xef\xbb\xbf<a/>").is_ok());
    }
}
