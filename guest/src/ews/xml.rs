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
//! elements and attributes, the length of names, attribute values and texts,
//! and the memory of the whole tree: every string and vector is counted
//! before it is allocated, so a document of a million tiny elements is
//! refused once its tree reaches the cap, not after it exhausted the
//! component's memory. Texts are checked against their cap before they are
//! copied, and are copied once (line ends are normalized on the way).
//! Whitespace-only text beside child elements (indentation) is not kept, so
//! megabytes of padding between elements cost nothing. The tree is built
//! with an explicit stack (no recursion while parsing), and the depth cap keeps
//! the recursive drop of the tree shallow. Every problem is an [`XmlError`]
//! whose text quotes the document only through [`safe_text`]; nothing panics.

use std::borrow::Cow;
use std::fmt;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use crate::safe_text;

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
        // Every element is resolved, and the URIs are long: compared eight
        // bytes at a time (the five have different lengths, so at most one
        // comparison runs) instead of wasi-libc's byte-wise `memcmp`.
        let named = [
            (SOAP_NS, Self::Soap),
            (SOAP_NS_DOC_TYPO, Self::Soap),
            (MESSAGES_NS, Self::Messages),
            (TYPES_NS, Self::Types),
            (ERRORS_NS, Self::Errors),
        ];
        for (known, ns) in named {
            if same_bytes(uri.as_bytes(), known.as_bytes()) {
                return ns;
            }
        }
        Self::Other(uri.to_owned())
    }
}

/// `a == b`, comparing eight bytes at a time.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let word = |chunk: &[u8]| u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tails_equal = a_words.remainder() == b_words.remainder();
    tails_equal && a_words.zip(b_words).all(|(x, y)| word(x) == word(y))
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
    /// it, concatenated), unescaped, with line ends normalized; whitespace-only
    /// text beside child elements is left out.
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
    /// Most attributes of one element, namespace declarations included.
    pub max_attributes: usize,
    /// Longest element name, in bytes.
    pub max_name_len: usize,
    /// Longest attribute value (or namespace URI), in bytes.
    pub max_attribute_len: usize,
    /// Longest text of one element, in bytes as written.
    pub max_text_len: usize,
    /// Most heap the tree may take, in bytes: every string and vector of it,
    /// with a per-block allocator cost, counted before it is allocated and
    /// including the moment a vector grows (old and new block at once).
    pub max_tree_bytes: usize,
}

impl Default for Limits {
    /// Generous for any EWS answer (a page of 512 changes, item bodies) and
    /// small enough that hostile input cannot exhaust the component's memory:
    /// a 16 MiB answer and its tree together stay far below the 64 MiB the
    /// host gives the component.
    fn default() -> Self {
        Self {
            max_bytes: 16 << 20,
            max_depth: 64,
            max_elements: 500_000,
            max_attributes: 64,
            max_name_len: 256,
            max_attribute_len: 64 << 10,
            max_text_len: 4 << 20,
            max_tree_bytes: 16 << 20,
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
    let mut tree = Tree::new(limits);
    loop {
        let position = reader.buffer_position();
        let (resolved, event) = reader.read_resolved_event().map_err(|e| {
            XmlError(format!(
                "malformed XML near byte {position}: {}",
                safe_text::display(&e, safe_text::QUOTE_MAX_CHARS)
            ))
        })?;
        match event {
            Event::Start(_) | Event::Empty(_) if tree.root.is_some() => {
                return Err(XmlError(
                    "the document has more than one root element".into(),
                ));
            }
            Event::Start(start) => {
                let element = tree.open(&resolved, &start)?;
                if tree.stack.len() >= limits.max_depth {
                    return Err(XmlError(format!(
                        "elements are nested deeper than {} levels",
                        limits.max_depth
                    )));
                }
                tree.stack.push(Open::new(element));
            }
            Event::Empty(start) => {
                let element = tree.open(&resolved, &start)?;
                tree.close(Open::new(element))?;
            }
            Event::End(_) => {
                let open = tree
                    .stack
                    .pop()
                    .ok_or_else(|| XmlError("an end tag has no start tag".into()))?;
                tree.close(open)?;
            }
            Event::Text(t) => tree.text(t.into_inner())?,
            Event::CData(c) => tree.content(&c, Newlines::Normalize)?,
            Event::GeneralRef(reference) => {
                let resolved_char = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => resolve_predefined_entity(&reference)
                        .and_then(|s| s.chars().next())
                        .ok_or_else(|| {
                            XmlError(format!(
                                "the entity &{}; is not defined",
                                safe_text::clean(&reference, 40)
                            ))
                        })?,
                    Err(e) => {
                        return Err(XmlError(format!(
                            "bad character reference: {}",
                            safe_text::display(&e, safe_text::NAME_MAX_CHARS)
                        )));
                    }
                };
                // A character reference is taken as it is: `&#13;` stays `\r`.
                tree.content(resolved_char.encode_utf8(&mut [0; 4]), Newlines::Keep)?;
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
    if let Some(open) = tree.stack.last() {
        return Err(XmlError(format!(
            "the document is truncated: <{}> is not closed",
            safe_text::name(&open.element.name)
        )));
    }
    tree.root
        .ok_or_else(|| XmlError("the document has no root element".into()))
}

/// An element whose end tag has not been read yet.
struct Open<'a> {
    element: Element,
    /// Whitespace-only text seen while the element has neither children nor
    /// other text: indentation if a child follows, the element's text if not.
    /// A single piece without a carriage return stays in the document
    /// (`borrowed`, no copy); more pieces are collected in `whitespace`.
    whitespace: String,
    borrowed: &'a str,
    /// Bytes of such whitespace seen, as written; over the text cap, it is
    /// only counted (then it can only be indentation).
    whitespace_len: usize,
}

impl Open<'_> {
    fn new(element: Element) -> Self {
        Self {
            element,
            whitespace: String::new(),
            borrowed: "",
            whitespace_len: 0,
        }
    }
}

/// The tree being built.
///
/// Open elements are worked on in place on the stack (`last_mut`), never
/// popped and pushed back: an `Open` is large, and text events and closing
/// children are most of the events.
struct Tree<'a> {
    budget: Budget,
    stack: Vec<Open<'a>>,
    root: Option<Element>,
}

/// The limits, and the elements and heap the tree takes so far.
struct Budget {
    limits: Limits,
    elements: usize,
    /// The heap of the tree so far, as [`heap`] counts it.
    heap: usize,
}

/// What a heap block of `bytes` costs: the bytes rounded up to 8, plus 8 for
/// the allocator's own bookkeeping (none for an empty string or vector).
fn heap(bytes: usize) -> usize {
    match bytes {
        0 => 0,
        n => n.next_multiple_of(8) + 8,
    }
}

impl<'a> Tree<'a> {
    fn new(limits: Limits) -> Self {
        Self {
            budget: Budget {
                limits,
                elements: 0,
                heap: 0,
            },
            stack: Vec::new(),
            root: None,
        }
    }

    fn open(
        &mut self,
        resolved: &ResolveResult<'_>,
        start: &BytesStart<'_>,
    ) -> Result<Element, XmlError> {
        self.budget.open(resolved, start)
    }

    /// Ends an element: its pending whitespace becomes its text if it has no
    /// children, and it becomes the last child of its parent (or the root).
    fn close(&mut self, mut open: Open<'a>) -> Result<(), XmlError> {
        let budget = &mut self.budget;
        if open.element.children.is_empty() {
            budget.keep_whitespace(&mut open)?;
        }
        let element = open.element;
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(element);
            return Ok(());
        };
        // The parent has a child now: whitespace before it was indentation.
        budget.release(heap(parent.whitespace.capacity()));
        parent.whitespace = String::new();
        parent.borrowed = "";
        parent.whitespace_len = 0;
        budget.grow(&mut parent.element.children)?;
        parent.element.children.push(element);
        Ok(())
    }

    /// A text event: whitespace beside child elements is left out.
    fn text(&mut self, raw: Cow<'a, str>) -> Result<(), XmlError> {
        let whitespace_only = raw
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        let Some(open) = self.stack.last_mut() else {
            return if whitespace_only {
                Ok(())
            } else {
                Err(XmlError(
                    "the document has text outside its root element".into(),
                ))
            };
        };
        let budget = &mut self.budget;
        match (
            whitespace_only,
            open.element.children.is_empty(),
            open.element.text.is_empty(),
        ) {
            (true, false, _) => Ok(()),
            (true, true, true) => budget.pend_whitespace(open, raw),
            _ => budget
                .keep_whitespace(open)
                .and_then(|()| budget.append(&mut open.element, &raw, Newlines::Normalize)),
        }
    }

    /// Content that is always text (CDATA, a reference).
    fn content(&mut self, text: &str, newlines: Newlines) -> Result<(), XmlError> {
        let Some(open) = self.stack.last_mut() else {
            return Err(XmlError(
                "the document has text outside its root element".into(),
            ));
        };
        let budget = &mut self.budget;
        budget
            .keep_whitespace(open)
            .and_then(|()| budget.append(&mut open.element, text, newlines))
    }
}

impl Budget {
    /// Counts `bytes` more heap, or refuses the document when the tree
    /// would take more than allowed.
    fn charge(&mut self, bytes: usize) -> Result<(), XmlError> {
        self.heap = self.heap.saturating_add(bytes);
        if self.heap > self.limits.max_tree_bytes {
            return Err(XmlError(format!(
                "the document needs more than {} MiB of memory as a tree",
                self.limits.max_tree_bytes >> 20
            )));
        }
        Ok(())
    }

    fn release(&mut self, bytes: usize) {
        self.heap = self.heap.saturating_sub(bytes);
    }

    /// Makes room for one more item in `items`, doubling its capacity; the
    /// new block is charged before it exists, while the old one still counts.
    fn grow<T>(&mut self, items: &mut Vec<T>) -> Result<(), XmlError> {
        if items.len() < items.capacity() {
            return Ok(());
        }
        let old = items.capacity();
        let new = (old * 2).max(4);
        let size = std::mem::size_of::<T>();
        self.charge(heap(new * size))?;
        items.reserve_exact(new - items.len());
        self.release(heap(old * size));
        // `reserve_exact` may give more than asked for.
        self.charge(heap(items.capacity() * size) - heap(new * size))
    }

    /// Makes room for `more` bytes in `text`, growing it by at least half.
    fn grow_text(&mut self, text: &mut String, more: usize) -> Result<(), XmlError> {
        let needed = text.len() + more;
        let old = text.capacity();
        if needed <= old {
            return Ok(());
        }
        let new = needed.max((old + old / 2).min(self.limits.max_text_len));
        self.charge(heap(new))?;
        text.reserve_exact(new - text.len());
        self.release(heap(old));
        self.charge(heap(text.capacity()) - heap(new))
    }

    fn open(
        &mut self,
        resolved: &ResolveResult<'_>,
        start: &BytesStart<'_>,
    ) -> Result<Element, XmlError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError(format!(
                "the document has more than {} elements",
                self.limits.max_elements
            )));
        }
        let local = start.local_name().into_inner();
        if local.len() > self.limits.max_name_len {
            return Err(XmlError(format!(
                "an element name is longer than {} bytes (<{}>)",
                self.limits.max_name_len,
                safe_text::name(local)
            )));
        }
        let ns = match resolved {
            ResolveResult::Bound(ns) if ns.into_inner().len() > self.limits.max_attribute_len => {
                return Err(XmlError(format!(
                    "the namespace URI of <{}> is longer than {} bytes",
                    safe_text::name(local),
                    self.limits.max_attribute_len
                )));
            }
            ResolveResult::Bound(ns) => Ns::from_uri(ns.into_inner()),
            ResolveResult::Unbound => Ns::None,
            ResolveResult::Unknown(prefix) => {
                return Err(XmlError(format!(
                    "the namespace prefix '{}' is not declared",
                    safe_text::clean(prefix, 40)
                )));
            }
        };
        if let Ns::Other(uri) = &ns {
            self.charge(heap(uri.capacity()))?;
        }
        let name = local.to_owned();
        self.charge(heap(name.capacity()))?;
        let shown = || safe_text::name(&name);
        let mut attributes = Vec::new();
        for (count, attribute) in start.attributes().enumerate() {
            if count >= self.limits.max_attributes {
                return Err(XmlError(format!(
                    "<{}> has more than {} attributes",
                    shown(),
                    self.limits.max_attributes
                )));
            }
            let attribute = attribute.map_err(|e| {
                XmlError(format!(
                    "malformed attribute in <{}>: {}",
                    shown(),
                    safe_text::display(&e, safe_text::NAME_MAX_CHARS)
                ))
            })?;
            let key = attribute.key;
            if attribute.value.len() > self.limits.max_attribute_len {
                return Err(XmlError(format!(
                    "attribute {} of <{}> is longer than {} bytes",
                    safe_text::name(key.local_name().into_inner()),
                    shown(),
                    self.limits.max_attribute_len
                )));
            }
            if key.as_namespace_binding().is_some() {
                continue;
            }
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| {
                    XmlError(format!(
                        "bad attribute value in <{}>: {}",
                        shown(),
                        safe_text::display(&e, safe_text::NAME_MAX_CHARS)
                    ))
                })?
                .into_owned();
            let key = key.local_name().into_inner().to_owned();
            self.grow(&mut attributes)?;
            self.charge(heap(key.capacity()) + heap(value.capacity()))?;
            attributes.push((key, value));
        }
        Ok(Element {
            ns,
            name,
            attributes,
            children: Vec::new(),
            text: String::new(),
        })
    }

    /// Makes the pending whitespace of `open` its text.
    fn keep_whitespace(&mut self, open: &mut Open<'_>) -> Result<(), XmlError> {
        if open.whitespace_len > self.limits.max_text_len {
            return Err(XmlError(format!(
                "the text of <{}> starts with more than {} bytes of whitespace",
                safe_text::name(&open.element.name),
                self.limits.max_text_len
            )));
        }
        if !open.borrowed.is_empty() {
            // Pending whitespace only exists while the text is empty.
            self.grow_text(&mut open.element.text, open.borrowed.len())?;
            open.element.text.push_str(open.borrowed);
            open.borrowed = "";
        } else if open.whitespace_len > 0 {
            open.element.text = std::mem::take(&mut open.whitespace);
        }
        open.whitespace_len = 0;
        Ok(())
    }

    fn pend_whitespace<'a>(
        &mut self,
        open: &mut Open<'a>,
        raw: Cow<'a, str>,
    ) -> Result<(), XmlError> {
        let first = open.whitespace_len == 0;
        open.whitespace_len = open.whitespace_len.saturating_add(raw.len());
        if open.whitespace_len > self.limits.max_text_len {
            // Too much to be anything but indentation: counted, not kept.
            self.release(heap(open.whitespace.capacity()));
            open.whitespace = String::new();
            open.borrowed = "";
            return Ok(());
        }
        if let (true, Cow::Borrowed(raw)) = (first, &raw)
            && !raw.contains('\r')
        {
            // Usually indentation: nothing is copied unless it is kept.
            open.borrowed = raw;
            return Ok(());
        }
        let borrowed = std::mem::take(&mut open.borrowed);
        self.grow_text(&mut open.whitespace, borrowed.len() + raw.len())?;
        open.whitespace.push_str(borrowed);
        push_normalized(&mut open.whitespace, &raw);
        Ok(())
    }

    fn append(
        &mut self,
        element: &mut Element,
        raw: &str,
        newlines: Newlines,
    ) -> Result<(), XmlError> {
        if element.text.len() + raw.len() > self.limits.max_text_len {
            return Err(XmlError(format!(
                "the text of <{}> is longer than {} bytes",
                safe_text::name(&element.name),
                self.limits.max_text_len
            )));
        }
        self.grow_text(&mut element.text, raw.len())?;
        match newlines {
            Newlines::Normalize => push_normalized(&mut element.text, raw),
            Newlines::Keep => element.text.push_str(raw),
        }
        Ok(())
    }
}

/// Whether line ends in a piece of text are normalized.
#[derive(Clone, Copy)]
enum Newlines {
    /// Text and CDATA as written.
    Normalize,
    /// The character of a reference.
    Keep,
}

/// Appends `raw` with its line ends normalized (XML 1.0: `\r\n` and `\r`
/// become `\n`), without an intermediate copy.
fn push_normalized(out: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = rest[i + 1..].strip_prefix('\n').unwrap_or(&rest[i + 1..]);
    }
    out.push_str(rest);
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
    fn namespaces_are_told_apart_by_every_byte() {
        for uri in [SOAP_NS, SOAP_NS_DOC_TYPO, MESSAGES_NS, TYPES_NS, ERRORS_NS] {
            assert!(!matches!(Ns::from_uri(uri), Ns::Other(_)), "{uri}");
            for at in 0..uri.len() {
                let mut changed = uri.as_bytes().to_vec();
                changed[at] ^= 1;
                let changed = String::from_utf8(changed).unwrap();
                assert_eq!(Ns::from_uri(&changed), Ns::Other(changed.clone()));
            }
            assert!(matches!(Ns::from_uri(&uri[1..]), Ns::Other(_)));
        }
        assert_eq!(Ns::from_uri(""), Ns::Other(String::new()));
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

    #[test]
    fn whitespace_beside_child_elements_is_left_out_and_leaves_keep_theirs() {
        let root =
            parse(b"<a>\n  <b> </b>\n  <c>\r\n x </c>\n  <d> <!-- c --> </d>\n</a>").unwrap();
        assert_eq!(root.text, "", "indentation is not text");
        let texts: Vec<&str> = root.children.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, [" ", "\n x ", "  "]);
        // Mixed content keeps its text pieces, as before.
        let mixed = parse(b"<a>x <b/> y</a>").unwrap();
        assert_eq!(mixed.text, "x  y");
        let cdata = parse(b"<a> <![CDATA[ ]]> </a>").unwrap();
        assert_eq!(
            cdata.text, "   ",
            "CDATA is text, and so is the space beside it"
        );
        let reference = parse(b"<a> &amp; <b/></a>").unwrap();
        assert_eq!(reference.text, " & ");
    }

    #[test]
    fn line_ends_are_normalized_in_text_and_cdata() {
        let root = parse(b"<a>1\r\n2\r3\n4<![CDATA[\r\n5\r]]>&#13;</a>").unwrap();
        assert_eq!(root.text, "1\n2\n3\n4\n5\n\r");
    }

    #[test]
    fn megabytes_of_indentation_cost_nothing_but_a_leaf_of_too_many_is_refused() {
        let pad = " \n".repeat(1 << 20);
        let doc = format!("<a>{pad}<!-- -->{pad}<b>x</b>{pad}</a>");
        let root = parse(doc.as_bytes()).unwrap();
        assert_eq!(root.text, "");
        assert_eq!(root.children[0].text, "x");
        let leaf = format!("<a><b>{pad}x</b></a>");
        assert_eq!(
            parse(leaf.as_bytes()).unwrap().children[0].text.len(),
            (2 << 20) + 1
        );
        let leaf = format!("<a><b>{pad}{pad}{pad}</b></a>");
        let err = parse(leaf.as_bytes()).unwrap_err();
        assert!(
            err.0
                .contains("text of <b> starts with more than 4194304 bytes of whitespace"),
            "{err}"
        );
        let small = format!("<a>{}</a>", " ".repeat(1000));
        assert_eq!(parse(small.as_bytes()).unwrap().text.len(), 1000);
    }

    #[test]
    fn the_tree_budget_refuses_many_small_elements_early() {
        let doc = format!("<a>{}</a>", "<b/>".repeat(100_000));
        let tight = Limits {
            max_tree_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = parse_with(doc.as_bytes(), tight).unwrap_err();
        assert!(
            err.0.contains("more than 1 MiB of memory as a tree"),
            "{err}"
        );
        let fewer = format!("<a>{}</a>", "<b/>".repeat(40_000));
        assert_eq!(parse(fewer.as_bytes()).unwrap().children.len(), 40_000);
        // Long texts and unknown namespaces count too.
        let text = format!(
            "<a><b>{}</b><c>{}</c></a>",
            "x".repeat(600 << 10),
            "y".repeat(600 << 10)
        );
        assert!(parse_with(text.as_bytes(), tight).is_err());
        let uri = "u".repeat(60 << 10);
        let namespaces = format!(r#"<a xmlns:p="{uri}">{}</a>"#, "<p:b/>".repeat(20));
        assert!(parse_with(namespaces.as_bytes(), tight).is_err());
        assert!(parse(namespaces.as_bytes()).is_ok());
    }

    #[test]
    fn long_names_and_many_attributes_are_refused() {
        let name = "n".repeat(300);
        let err = parse(format!("<{name}/>").as_bytes()).unwrap_err();
        assert!(
            err.0.contains("element name is longer than 256 bytes"),
            "{err}"
        );
        assert!(err.0.chars().count() < 200, "{err}");
        let attributes: String = (0..65).map(|i| format!(" a{i}=\"\"")).collect();
        let err = parse(format!("<a{attributes}/>").as_bytes()).unwrap_err();
        assert!(err.0.contains("<a> has more than 64 attributes"), "{err}");
        let uri = "u".repeat(70 << 10);
        let err = parse(format!(r#"<p:a xmlns:p="{uri}"/>"#).as_bytes()).unwrap_err();
        assert!(
            err.0.contains("namespace URI of <a> is longer than 65536"),
            "{err}"
        );
        let err = parse(format!(r#"<a xmlns:p="{uri}"/>"#).as_bytes()).unwrap_err();
        assert!(
            err.0.contains("attribute p of <a> is longer than 65536"),
            "{err}"
        );
        let declarations: String = (0..65).map(|i| format!(" xmlns:p{i}=\"u\"")).collect();
        assert!(parse(format!("<a{declarations}/>").as_bytes()).is_err());
    }

    #[test]
    fn errors_quote_what_the_document_holds_safely() {
        let name = format!("a\u{202e}{}", "b".repeat(200));
        for doc in [
            format!("<{name}>"),
            format!("<r><{name}></x></r>"),
            format!("<x:{name}/>"),
            format!("<a>&{name};</a>"),
        ] {
            let err = parse(doc.as_bytes()).unwrap_err();
            assert!(crate::safe_text::is_clean(&err.0), "{err}");
            assert!(err.0.chars().count() < 600, "{err}");
        }
    }
}
