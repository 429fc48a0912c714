//! Text that reaches an operator's terminal, a log or the JSON output.
//!
//! The component makes server text safe before it hands it over; the host
//! does not rely on that, because the component is the sandboxed party. Every
//! string the host passes on from the component (check messages and fixes,
//! error texts, log lines) goes through [`operator_text`]: control characters
//! (C0 with escape, CR, LF and tab; DEL; C1) and the bidirectional override
//! and isolate characters become spaces, and the length is capped on a
//! character boundary.

/// `text` with control and bidi-override characters replaced by a space (a
/// run of them by one space) and at most `max_chars` characters; a cut text
/// ends with `… (N more characters)`.
pub fn operator_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4 + 32));
    let mut kept = 0usize;
    let mut chars = text.chars();
    let mut pending_space = false;
    for c in chars.by_ref() {
        if is_unsafe(c) {
            pending_space = !out.is_empty();
            continue;
        }
        if kept >= max_chars {
            let rest = 1 + chars.filter(|c| !is_unsafe(*c)).count();
            out.push_str(&format!("… ({rest} more characters)"));
            return out;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
            kept += 1;
        }
        out.push(c);
        kept += 1;
    }
    out
}

/// Characters that can move the cursor, recolour or retitle a terminal, or
/// reorder what a reader sees.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_line_breaks_cannot_forge_lines() {
        let hostile = "Access denied\x1b]0;pwned\x07\x1b[2J\r\n  [ OK ] calendar-access\u{202E}txt";
        let shown = operator_text(hostile, 500);
        assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
        assert!(!shown.contains('\u{202E}'));
        // Each run of unsafe characters is one space; spaces stay spaces.
        assert_eq!(
            shown,
            "Access denied ]0;pwned [2J   [ OK ] calendar-access txt"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(3 << 20);
        let shown = operator_text(&long, 100);
        assert!(shown.starts_with(&"é".repeat(100)));
        assert!(shown.ends_with(&format!("… ({} more characters)", (3 << 20) - 100)));
        assert_eq!(operator_text("short", 100), "short");
        assert_eq!(operator_text("", 100), "");
    }
}
