//! Making text safe to show: the one place where text a server controls
//! becomes fit for a terminal, a log line or the JSON of `rooms-sync check`.
//!
//! A SOAP `faultstring`, a folder's `DisplayName`, an Entra
//! `error_description`, a response header: any of them may hold terminal
//! escapes (which set the window title or clear the screen), line breaks
//! (which forge `[ OK ]` lines), bidi overrides (which make text read
//! differently than it is) or megabytes of text. [`clean`] replaces every
//! such character by a space, collapsing a run of them (with the spaces
//! around it) into one space, and caps the length on a character boundary,
//! saying how much was left out: `… (3145228 more characters)`.
//!
//! Two caps are used:
//!
//! - [`quote`] (500 characters) and [`name`] (100) for server text embedded
//!   in a message we write, where it is applied;
//! - [`message`] (4096) as the final pass over everything that leaves the
//!   component (check results, errors, log lines), which also catches any
//!   server text that was not quoted where it was embedded. Our own fixes can
//!   be long; no message we write comes near that cap.
//!
//! Cleaning is idempotent: a cleaned text cleans to itself under the same cap.

use std::borrow::Cow;
use std::fmt::{self, Display, Write};

/// Cap for a server text quoted inside a message (a fault text, a display
/// name, an error description, a header).
pub const QUOTE_MAX_CHARS: usize = 500;

/// Cap for a server-sent identifier quoted inside a message (a response
/// code, an element name, an OAuth error, a trace id).
pub const NAME_MAX_CHARS: usize = 100;

/// Cap for a whole message, fix or log line leaving the component.
pub const MESSAGE_MAX_CHARS: usize = 4096;

/// True for the characters that are never shown as they are: control
/// characters (C0 including ESC, CR, LF and TAB; DEL; C1), the line and
/// paragraph separators, and the bidi embedding, override and isolate
/// characters.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` made safe, at most [`QUOTE_MAX_CHARS`] characters.
pub fn quote(text: &str) -> String {
    clean(text, QUOTE_MAX_CHARS)
}

/// `text` made safe, at most [`NAME_MAX_CHARS`] characters.
pub fn name(text: &str) -> String {
    clean(text, NAME_MAX_CHARS)
}

/// `text` made safe, at most [`MESSAGE_MAX_CHARS`] characters.
pub fn message(text: &str) -> String {
    clean(text, MESSAGE_MAX_CHARS)
}

/// [`message`] without a copy when `text` is already clean and short enough
/// (the log lines the component writes usually are).
pub fn message_cow(text: &str) -> Cow<'_, str> {
    clean_cow(text, MESSAGE_MAX_CHARS)
}

/// `text` with unsafe characters replaced and at most `max_chars` characters
/// (the note on what was left out included).
pub fn clean(text: &str, max_chars: usize) -> String {
    clean_cow(text, max_chars).into_owned()
}

/// [`clean`], borrowing `text` when cleaning would not change it: no unsafe
/// character and at most `max_chars` characters (then the cleaner keeps
/// every character and every space).
pub fn clean_cow(text: &str, max_chars: usize) -> Cow<'_, str> {
    if unchanged(text, max_chars) {
        return Cow::Borrowed(text);
    }
    let mut cleaner = Cleaner::new(max_chars);
    cleaner.push_str(text);
    Cow::Owned(cleaner.finish())
}

/// [`message`] of an owned text, which is handed back as it is when clean.
pub fn message_owned(text: String) -> String {
    if unchanged(&text, MESSAGE_MAX_CHARS) {
        text
    } else {
        message(&text)
    }
}

/// True when every byte is printable ASCII (`0x20..=0x7e`), tested eight
/// bytes at a time: for such a byte `b - 0x20` and `b + 1` both stay below
/// `0x80` without a borrow or carry; any other byte sets a top bit in one of
/// them.
fn is_printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const SPACES: u64 = u64::from_ne_bytes([0x20; 8]);
    const TOPS: u64 = u64::from_ne_bytes([0x80; 8]);
    let words = bytes.chunks_exact(8);
    let rest = words.remainder();
    words
        .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
        .all(|w| (w.wrapping_sub(SPACES) | w.wrapping_add(ONES)) & TOPS == 0)
        && rest.iter().all(|b| matches!(b, 0x20..=0x7e))
}

/// True when cleaning `text` under `max_chars` gives `text` itself.
fn unchanged(text: &str, max_chars: usize) -> bool {
    // Printable ASCII is the common case: a byte test.
    if text.len() <= max_chars && is_printable_ascii(text.as_bytes()) {
        return true;
    }
    let mut chars = 0;
    text.chars().all(|c| {
        chars += 1;
        chars <= max_chars && !is_unsafe(c)
    })
}

/// The `Display` form of `value`, cleaned and capped like [`clean`], without
/// ever holding more than `max_chars` characters of it (an error that quotes
/// a 15 MiB element name stays cheap).
pub fn display(value: &dyn Display, max_chars: usize) -> String {
    let mut cleaner = Cleaner::new(max_chars);
    // `Cleaner` never fails; a `Display` impl that fails leaves what it wrote.
    let _ = write!(cleaner, "{value}");
    cleaner.finish()
}

/// True when `text` has no unsafe character.
pub fn is_clean(text: &str) -> bool {
    !text.chars().any(is_unsafe)
}

/// The streaming cleaner behind [`clean`] and [`display`].
///
/// It keeps at most `max` cleaned characters and only counts the rest.
struct Cleaner {
    max: usize,
    kept: String,
    kept_chars: usize,
    /// Cleaned characters seen in all (kept or not).
    total_chars: usize,
    /// Plain spaces seen since the last shown character, not yet written.
    spaces: usize,
    /// True when an unsafe character was seen since the last shown character.
    gap: bool,
}

impl Cleaner {
    fn new(max: usize) -> Self {
        Self {
            max,
            kept: String::new(),
            kept_chars: 0,
            total_chars: 0,
            spaces: 0,
            gap: false,
        }
    }

    fn push_str(&mut self, text: &str) {
        for c in text.chars() {
            self.push(c);
        }
    }

    fn push(&mut self, c: char) {
        if is_unsafe(c) {
            self.gap = true;
        } else if c == ' ' {
            self.spaces += 1;
        } else {
            // A gap, with the spaces around it, becomes one space; a gap at
            // the very start becomes nothing.
            let spaces = match (self.gap, self.total_chars) {
                (true, 0) => 0,
                (true, _) => 1,
                (false, _) => self.spaces,
            };
            for _ in 0..spaces {
                self.emit(' ');
            }
            self.spaces = 0;
            self.gap = false;
            self.emit(c);
        }
    }

    fn emit(&mut self, c: char) {
        self.total_chars += 1;
        if self.kept_chars < self.max {
            self.kept.push(c);
            self.kept_chars += 1;
        }
    }

    fn finish(mut self) -> String {
        // Trailing plain spaces stay; a trailing gap goes.
        if !self.gap {
            for _ in 0..self.spaces {
                self.emit(' ');
            }
        }
        if self.total_chars <= self.max {
            return self.kept;
        }
        // Keep as much as fits together with the note, so that the result
        // has at most `max` characters and cleans to itself.
        let room = self
            .max
            .saturating_sub(omitted_note(self.total_chars).chars().count());
        let cut = self
            .kept
            .char_indices()
            .nth(room)
            .map_or(self.kept.len(), |(i, _)| i);
        self.kept.truncate(cut);
        let shown = self.kept.trim_end().len();
        self.kept.truncate(shown);
        let omitted = self.total_chars - self.kept.chars().count();
        let note = omitted_note(omitted);
        if self.kept.is_empty() {
            // A cap too small for the note: the bare ellipsis.
            return "…".chars().take(self.max).collect();
        }
        self.kept.push_str(&note);
        self.kept
    }
}

impl Write for Cleaner {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

fn omitted_note(omitted: usize) -> String {
    format!("… ({omitted} more characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACK: &str = "\x1b]0;pwned\x07\x1b[2J\n[ OK ] forged";

    #[test]
    fn escapes_and_line_breaks_become_one_space() {
        assert_eq!(quote(ATTACK), "]0;pwned [2J [ OK ] forged");
        assert_eq!(quote("Calendar\r\n\r\n  Kalender"), "Calendar Kalender");
        assert_eq!(quote("a\tb"), "a b");
        assert_eq!(quote("a \u{7f} b"), "a b");
    }

    #[test]
    fn every_listed_character_is_replaced() {
        let listed = (0u32..=0x1f)
            .chain([0x7f])
            .chain(0x80..=0x9f)
            .chain(0x202a..=0x202e)
            .chain(0x2066..=0x2069)
            .chain([0x2028, 0x2029])
            .filter_map(char::from_u32);
        for c in listed {
            assert!(is_unsafe(c), "{:?}", c);
            assert_eq!(quote(&format!("a{c}b")), "a b", "{:?}", c);
        }
        for fine in ['a', ' ', 'ä', '€', '→', '\u{a0}', '\u{200d}', '日'] {
            assert!(!is_unsafe(fine), "{fine:?}");
        }
    }

    #[test]
    fn a_right_to_left_override_cannot_reorder_text() {
        // "exe.txt" shown as "txt.exe" in a terminal that honours U+202E.
        let cleaned = quote("invoice\u{202e}txt.exe");
        assert_eq!(cleaned, "invoice txt.exe");
        assert!(is_clean(&cleaned));
    }

    #[test]
    fn ordinary_text_and_its_spacing_are_kept() {
        for text in [
            "The server cannot service this request right now. Try again later.",
            "  two leading and trailing spaces  ",
            "Kalender – Entwürfe → 日本語",
            "",
        ] {
            assert_eq!(quote(text), text);
        }
        assert_eq!(
            quote("\n\nleading and trailing breaks\r\n"),
            "leading and trailing breaks"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_with_a_note() {
        let text = "ä".repeat(1000);
        let cut = quote(&text);
        let length = cut.chars().count();
        assert!((490..=QUOTE_MAX_CHARS).contains(&length), "{length}");
        assert!(cut.starts_with(&"ä".repeat(400)));
        let kept = cut.chars().filter(|&c| c == 'ä').count();
        assert!(
            cut.ends_with(&format!("ä… ({} more characters)", 1000 - kept)),
            "the note counts exactly what is left out: {cut}"
        );
    }

    #[test]
    fn three_mebibytes_become_a_short_line() {
        let huge = format!("{ATTACK} {}", "A".repeat(3 << 20));
        let cut = quote(&huge);
        assert!(cut.chars().count() <= QUOTE_MAX_CHARS);
        assert!(is_clean(&cut));
        assert!(cut.starts_with("]0;pwned [2J [ OK ] forged AAAA"), "{cut}");
        assert!(cut.ends_with("more characters)"), "{cut}");
        let (shown, note) = cut.split_once('…').unwrap();
        let omitted: usize = note
            .trim_start_matches(" (")
            .trim_end_matches(" more characters)")
            .parse()
            .unwrap();
        let total = "]0;pwned [2J [ OK ] forged ".len() + (3 << 20);
        assert_eq!(shown.chars().count() + omitted, total);
    }

    #[test]
    fn the_word_test_of_printable_ascii_agrees_with_the_byte_test() {
        for bad in (0u8..=0x1f).chain(0x7f..=0xff) {
            for at in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[at] = bad;
                assert!(!is_printable_ascii(&bytes), "{bad:#x} at {at}");
                bytes[at] = b'~';
                assert!(is_printable_ascii(&bytes));
                bytes[at] = b' ';
                assert!(is_printable_ascii(&bytes));
            }
        }
        assert!(is_printable_ascii(b""));
    }

    #[test]
    fn clean_text_is_borrowed_and_anything_else_cleaned() {
        for text in [
            "plain ASCII, with spaces  ",
            "Kalender – Entwürfe → 日本語",
            "",
        ] {
            assert!(matches!(clean_cow(text, 100), Cow::Borrowed(t) if t == text));
        }
        for (text, max) in [(ATTACK, 100), ("x".repeat(101).as_str(), 100), ("äö", 1)] {
            let cow = clean_cow(text, max);
            assert!(matches!(cow, Cow::Owned(_)), "{text}");
            let mut cleaner = Cleaner::new(max);
            cleaner.push_str(text);
            assert_eq!(cow, cleaner.finish());
        }
        assert_eq!(clean_cow("äö", 2), "äö");
    }

    #[test]
    fn cleaning_is_idempotent() {
        let samples = [
            ATTACK.to_owned(),
            "x".repeat(10_000),
            format!("{}\n{}", "y ".repeat(300), "\u{202e}z".repeat(300)),
            "  a \x1b  b  ".to_owned(),
        ];
        for sample in &samples {
            for max in [0, 1, 5, 40, NAME_MAX_CHARS, QUOTE_MAX_CHARS] {
                let once = clean(sample, max);
                assert!(once.chars().count() <= max, "{max}: {once:?}");
                assert_eq!(clean(&once, max), once, "{max}: {sample:?}");
            }
        }
    }

    #[test]
    fn display_streams_without_building_the_whole_text() {
        struct Huge;
        impl Display for Huge {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for _ in 0..100_000 {
                    f.write_str("line\n")?;
                }
                Ok(())
            }
        }
        let shown = display(&Huge, NAME_MAX_CHARS);
        assert!(shown.starts_with("line line line"), "{shown}");
        assert!(shown.chars().count() <= NAME_MAX_CHARS);
        assert!(is_clean(&shown));
        assert_eq!(display(&"a\nb", 10), "a b");
    }
}
