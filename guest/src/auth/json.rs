//! The JSON the component reads and writes: the flat objects of the Entra ID
//! token endpoint (a token answer, an error answer) and the JWT header and
//! claims of a client assertion.
//!
//! A small strict reader (RFC 8259) instead of serde_json: the component
//! reads a handful of known members of one top-level object, and serde_json
//! with its error formatting (floating-point printing included) was about a
//! tenth of the component's size. The reader accepts what serde_json accepts
//! for these shapes and refuses what it refuses:
//!
//! - the body is one object, with only whitespace around it, in UTF-8;
//! - strings have valid escapes (a `\u` surrogate must be paired) and no
//!   raw control characters;
//! - a known member that appears twice, or has the wrong type, refuses the
//!   whole body; unknown members are checked and skipped without being kept
//!   (so a 16 MiB answer costs no memory beyond its bytes), nested at most
//!   [`MAX_DEPTH`] deep.
//!
//! Nothing here panics on any input.

use std::borrow::Cow;

/// The deepest nesting of objects and arrays accepted, the top-level object
/// included (as serde_json).
pub const MAX_DEPTH: usize = 127;

/// Why a body is not the JSON expected. The reason is ours, never a quote of
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError(pub &'static str);

/// A reader over one JSON text.
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Reads the members of the object that is the whole of `bytes`, calling
    /// `member` with each key and the reader positioned at its value; the
    /// callback must consume the value (with one of the `read_*` methods or
    /// [`skip`](Self::skip)).
    pub fn object(
        bytes: &'a [u8],
        mut member: impl FnMut(&str, &mut Reader<'a>) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        std::str::from_utf8(bytes).map_err(|_| JsonError("not UTF-8"))?;
        let mut reader = Reader { bytes, at: 0 };
        reader.expect(b'{')?;
        if !reader.eat(b'}') {
            loop {
                reader.whitespace();
                let key = reader.string()?;
                reader.expect(b':')?;
                member(&key, &mut reader)?;
                if reader.eat(b'}') {
                    break;
                }
                reader.expect(b',')?;
            }
        }
        reader.whitespace();
        if reader.at == reader.bytes.len() {
            Ok(())
        } else {
            Err(JsonError("trailing characters"))
        }
    }

    /// A string value.
    pub fn read_string(&mut self) -> Result<String, JsonError> {
        self.whitespace();
        Ok(self.string()?.into_owned())
    }

    /// A string value or `null`.
    pub fn read_optional_string(&mut self) -> Result<Option<String>, JsonError> {
        if self.null()? {
            return Ok(None);
        }
        self.read_string().map(Some)
    }

    /// A number or a string value, or `null`.
    pub fn read_optional_number_or_string(&mut self) -> Result<Option<NumberOrString>, JsonError> {
        if self.null()? {
            return Ok(None);
        }
        if self.peek() == Some(b'"') {
            return self.read_string().map(|s| Some(NumberOrString::String(s)));
        }
        self.number().map(|n| Some(NumberOrString::Number(n)))
    }

    /// An array of integers that fit an `i64`.
    pub fn read_i64_array(&mut self) -> Result<Vec<i64>, JsonError> {
        self.expect(b'[')?;
        let mut values = Vec::new();
        if self.eat(b']') {
            return Ok(values);
        }
        loop {
            let value = match self.number()? {
                Number::Unsigned(n) => i64::try_from(n).map_err(|_| JsonError("out of range"))?,
                Number::Negative(n) => n,
                Number::Other => return Err(JsonError("not an integer")),
            };
            values.push(value);
            if self.eat(b']') {
                return Ok(values);
            }
            self.expect(b',')?;
        }
    }

    /// Checks and skips any value.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        // The top-level object is the first level.
        self.skip_nested(1)
    }

    fn skip_nested(&mut self, depth: usize) -> Result<(), JsonError> {
        self.whitespace();
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') if depth >= MAX_DEPTH => Err(JsonError("nested too deeply")),
            Some(b'{') => {
                self.at += 1;
                if self.eat(b'}') {
                    return Ok(());
                }
                loop {
                    self.whitespace();
                    self.string()?;
                    self.expect(b':')?;
                    self.skip_nested(depth + 1)?;
                    if self.eat(b'}') {
                        return Ok(());
                    }
                    self.expect(b',')?;
                }
            }
            Some(b'[') => {
                self.at += 1;
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip_nested(depth + 1)?;
                    if self.eat(b']') {
                        return Ok(());
                    }
                    self.expect(b',')?;
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skips whitespace and consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(JsonError("syntax error"))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(JsonError("syntax error"))
        }
    }

    /// Consumes `null` if it is next.
    fn null(&mut self) -> Result<bool, JsonError> {
        self.whitespace();
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A number: an integer as such, anything else (fraction, exponent, out
    /// of range) only checked.
    fn number(&mut self) -> Result<Number, JsonError> {
        self.whitespace();
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(JsonError("syntax error")),
        }
        let integer = &self.bytes[start..self.at];
        let mut whole = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.required_digits()?;
            whole = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.required_digits()?;
            whole = false;
        }
        if !whole {
            return Ok(Number::Other);
        }
        let mut value: u64 = 0;
        for &digit in integer {
            value = match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            {
                Some(v) => v,
                None => return Ok(Number::Other),
            };
        }
        Ok(match (negative, value) {
            (false, n) | (true, n @ 0) => Number::Unsigned(n),
            (true, n) => match 0i64.checked_sub_unsigned(n) {
                Some(n) => Number::Negative(n),
                None => Number::Other,
            },
        })
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        let start = self.at;
        self.digits();
        if self.at == start {
            Err(JsonError("syntax error"))
        } else {
            Ok(())
        }
    }

    /// A string at the current position (no whitespace skipped): borrowed
    /// when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(JsonError("syntax error"));
        }
        self.at += 1;
        let start = self.at;
        // The plain run up to the closing quote or the first escape.
        loop {
            match self.peek() {
                None => return Err(JsonError("unterminated string")),
                Some(b'"') => {
                    let text = self.text(start, self.at);
                    self.at += 1;
                    return Ok(Cow::Borrowed(text));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(JsonError("control character in a string")),
                Some(_) => self.at += 1,
            }
        }
        let mut out = String::from(self.text(start, self.at));
        loop {
            let run = self.at;
            while let Some(byte) = self.peek() {
                if matches!(byte, b'"' | b'\\' | 0..=0x1f) {
                    break;
                }
                self.at += 1;
            }
            out.push_str(self.text(run, self.at));
            match self.peek() {
                None => return Err(JsonError("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek().ok_or(JsonError("unterminated string"))?;
                    self.at += 1;
                    out.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(JsonError("invalid escape")),
                    });
                }
                Some(_) => return Err(JsonError("control character in a string")),
            }
        }
    }

    /// The text between two byte positions of the (UTF-8) input; both are
    /// at ASCII characters, so on character boundaries.
    fn text(&self, start: usize, end: usize) -> &'a str {
        std::str::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    /// The character of `\uXXXX` (after the `u`), with its low surrogate.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(JsonError("lone surrogate"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(JsonError("lone surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(JsonError("lone surrogate")),
            code => code,
        };
        char::from_u32(code).ok_or(JsonError("invalid escape"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or(JsonError("invalid escape"))?;
        let mut value = 0;
        for &digit in digits {
            let nibble = (digit as char)
                .to_digit(16)
                .ok_or(JsonError("invalid escape"))?;
            value = value << 4 | nibble;
        }
        self.at += 4;
        Ok(value)
    }
}

/// A number as far as the component cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// A non-negative integer that fits a `u64` (`-0` included).
    Unsigned(u64),
    /// A negative integer that fits an `i64`.
    Negative(i64),
    /// A fraction, an exponent, or an integer out of range.
    Other,
}

/// A member that may be a number or a string (`expires_in`: a number in v2
/// answers, a string in v1 answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberOrString {
    /// A number.
    Number(Number),
    /// A string.
    String(String),
}

/// Fails when a known member was already seen.
pub fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), JsonError> {
    if slot.is_some() {
        return Err(JsonError("duplicate member"));
    }
    *slot = Some(value);
    Ok(())
}

/// Writes a JSON object of string and unsigned members, compact, in order.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// An empty object.
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.push_string(key);
        self.out.push(':');
    }

    /// Adds a string member.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.push_string(value);
        self
    }

    /// Adds a number member.
    pub fn number(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }

    /// A string with the escapes serde_json writes: `"`, `\`, and control
    /// characters (by name where JSON has one).
    fn push_string(&mut self, text: &str) {
        self.out.push('"');
        for c in text.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if c < ' ' => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let byte = c as usize;
                    self.out.push_str("\\u00");
                    self.out.push(HEX[byte >> 4] as char);
                    self.out.push(HEX[byte & 15] as char);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The members of `text` as serde_json's `Value` would show them, or the
    /// error, reading every value as "anything" (skipped) except strings.
    fn strings(text: &str) -> Result<Vec<(String, Option<String>)>, JsonError> {
        let mut members = Vec::new();
        Reader::object(text.as_bytes(), |key, r| {
            r.whitespace();
            let value = if r.peek() == Some(b'"') {
                Some(r.read_string()?)
            } else {
                r.skip()?;
                None
            };
            members.push((key.to_owned(), value));
            Ok(())
        })?;
        Ok(members)
    }

    #[test]
    fn accepts_and_refuses_like_serde_json() {
        let accepted = [
            r#"{}"#,
            r#" { "a" : "b" , "n": -0.5e+3, "x": [1, {"y": [true, false, null]}], "z": {} } "#,
            r#"{"a":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}"#,
            "{\"a\":\"caf\u{e9} \u{1f600}\"}\n",
            r#"{"a":1,"a":2}"#,
        ];
        for text in accepted {
            let ours = strings(text);
            let theirs = serde_json::from_str::<serde_json::Value>(text);
            assert!(
                ours.is_ok() && theirs.is_ok(),
                "{text}: {ours:?} {theirs:?}"
            );
        }
        for not_an_object in ["[]", "\"a\"", "1", "null"] {
            assert!(strings(not_an_object).is_err(), "{not_an_object}");
        }
        let refused = [
            "",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud83d"}"#,
            r#"{"a":"\ude00"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"b"} x"#,
            r#"{"a":"b"}{}"#,
            r#"{'a':1}"#,
            "\u{feff}{}",
        ];
        for text in refused {
            assert!(strings(text).is_err(), "{text}");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_err(),
                "serde_json accepts {text}"
            );
        }
        assert!(strings("{\"a\":\"\u{0}\"}").is_err());
        assert_eq!(
            Reader::object(b"{\"a\":\"\xff\"}", |_, r| r.skip()),
            Err(JsonError("not UTF-8"))
        );
    }

    #[test]
    fn escapes_decode_and_plain_strings_borrow() {
        let members = strings(r#"{"k\u0065y":"a\"b\\c\u00e9\ud83d\ude00", "plain": "x"}"#).unwrap();
        assert_eq!(
            members[0],
            ("key".into(), Some("a\"b\\c\u{e9}\u{1f600}".into()))
        );
        assert_eq!(members[1], ("plain".into(), Some("x".into())));
    }

    #[test]
    fn nesting_is_bounded_without_recursion_trouble() {
        let nested = |n| format!(r#"{{"a":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text);
        assert!(strings(&nested(126)).is_ok() && value(&nested(126)).is_ok());
        assert_eq!(strings(&nested(127)), Err(JsonError("nested too deeply")));
        assert!(value(&nested(127)).is_err());
        let hostile = format!(r#"{{"a":{}"#, "[".repeat(1 << 20));
        assert!(strings(&hostile).is_err());
    }

    #[test]
    fn numbers_are_integers_or_other() {
        let read = |text: &str| {
            let mut got = None;
            Reader::object(format!(r#"{{"n":{text}}}"#).as_bytes(), |_, r| {
                got = r.read_optional_number_or_string()?;
                Ok(())
            })
            .map(|()| got)
        };
        let number = |n| Ok(Some(NumberOrString::Number(n)));
        assert_eq!(read("3599"), number(Number::Unsigned(3599)));
        assert_eq!(read("-0"), number(Number::Unsigned(0)));
        assert_eq!(read("-42"), number(Number::Negative(-42)));
        assert_eq!(
            read("-9223372036854775808"),
            number(Number::Negative(i64::MIN))
        );
        assert_eq!(read("-9223372036854775809"), number(Number::Other));
        assert_eq!(
            read("18446744073709551615"),
            number(Number::Unsigned(u64::MAX))
        );
        assert_eq!(read("18446744073709551616"), number(Number::Other));
        assert_eq!(read("3599.0"), number(Number::Other));
        assert_eq!(read("1e3"), number(Number::Other));
        assert_eq!(
            read(r#""3599""#),
            Ok(Some(NumberOrString::String("3599".into())))
        );
        assert_eq!(read("null"), Ok(None));
        assert!(read("true").is_err());
    }

    #[test]
    fn integer_arrays() {
        let read = |text: &str| {
            let mut got = Vec::new();
            Reader::object(format!(r#"{{"c":{text}}}"#).as_bytes(), |_, r| {
                got = r.read_i64_array()?;
                Ok(())
            })
            .map(|()| got)
        };
        assert_eq!(read("[]"), Ok(vec![]));
        assert_eq!(read("[ 7000215 , -1 ]"), Ok(vec![7000215, -1]));
        assert!(read("[1.5]").is_err());
        assert!(read("[9223372036854775808]").is_err());
        assert!(read(r#"["1"]"#).is_err());
        assert!(read("null").is_err());
        assert!(read("[1,]").is_err());
    }

    #[test]
    fn writer_matches_serde_json() {
        let tricky = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀";
        // json! sorts its keys: written here in that order.
        let ours = Writer::new()
            .string("alg", "RS256")
            .number("exp", u64::MAX)
            .string("x", tricky)
            .finish();
        let theirs = serde_json::json!({"alg": "RS256", "x": tricky, "exp": u64::MAX});
        assert_eq!(ours, serde_json::to_string(&theirs).unwrap());
        assert_eq!(Writer::new().finish(), "{}");
    }
}
