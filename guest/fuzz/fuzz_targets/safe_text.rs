//! Fuzz target: the cleaning of server text.
//!
//! The first byte picks the cap, the rest (decoded lossily) is the text.
//! The result has no unsafe character, is within the cap, cleans to itself,
//! and streaming it through `display` gives the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rooms_sync_guest::safe_text;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, rest)) = data.split_first() else {
        return;
    };
    let max = usize::from(cap) * 3;
    let text = String::from_utf8_lossy(rest);
    let cleaned = safe_text::clean(&text, max);
    assert!(safe_text::is_clean(&cleaned), "{cleaned:?}");
    assert!(cleaned.chars().count() <= max, "{cleaned:?}");
    assert_eq!(safe_text::clean(&cleaned, max), cleaned);
    assert_eq!(safe_text::display(&text, max), cleaned);
    if text.chars().count() <= max && safe_text::is_clean(&text) {
        assert_eq!(cleaned, text, "clean text within the cap is kept as it is");
    }
});
