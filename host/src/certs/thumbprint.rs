//! SHA-1 certificate thumbprints: normalizing what an operator pastes, and computing one from a
//! certificate. A leaf module: settings validation uses it without depending on the certificate
//! store.

use sha1::{Digest, Sha1};

/// Why a text is not a SHA-1 thumbprint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThumbprintError {
    /// Nothing but spaces.
    #[error("the thumbprint is empty")]
    Empty,
    /// A character other than a hexadecimal digit, a space or a colon. The character itself is
    /// not named: the text may be a secret pasted into the wrong key.
    #[error(
        "character {position} of the thumbprint is not a hexadecimal digit (0-9, A-F); only \
         digits, spaces and colons belong in it"
    )]
    NotHex {
        /// The position (from 1, counting characters after spaces, colons and direction marks
        /// are dropped) of the first offending character.
        position: usize,
    },
    /// 64 digits: a SHA-256 thumbprint.
    #[error(
        "the thumbprint has 64 hexadecimal digits, which is a SHA-256 thumbprint; the SHA-1 \
         thumbprint with 40 digits is needed"
    )]
    Sha256,
    /// Another number of digits.
    #[error("the thumbprint has {digits} hexadecimal digits; a SHA-1 thumbprint has 40")]
    WrongLength {
        /// How many digits there are.
        digits: usize,
    },
}

/// Normalizes a thumbprint as an operator may paste it: drops whitespace, colons and invisible
/// direction marks (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069, U+FEFF, U+200B), and returns
/// 40 upper-case hexadecimal digits.
pub fn normalize_thumbprint(text: &str) -> Result<String, ThumbprintError> {
    let invisible = |c: char| {
        matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{FEFF}')
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && !invisible(*c))
        .collect();
    if digits.is_empty() {
        return Err(ThumbprintError::Empty);
    }
    if let Some(index) = digits.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(ThumbprintError::NotHex {
            position: index + 1,
        });
    }
    match digits.len() {
        40 => Ok(digits.to_ascii_uppercase()),
        64 => Err(ThumbprintError::Sha256),
        count => Err(ThumbprintError::WrongLength { digits: count }),
    }
}

/// The SHA-1 thumbprint of a DER certificate: 40 upper-case hexadecimal digits.
pub fn thumbprint_of(certificate_der: &[u8]) -> String {
    Sha1::digest(certificate_der)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}
