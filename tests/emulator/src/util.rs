//! Small helpers shared by the emulator: GUIDs, base64url, form decoding, constant-time compare.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A random GUID (version 4) in the 8-4-4-4-12 form.
pub fn new_guid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    guid_string(&b)
}

/// Sixteen bytes as a GUID in the 8-4-4-4-12 form (lower-case hex, bytes in order).
pub fn guid_string(bytes: &[u8; 16]) -> String {
    let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without padding.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// Decodes an `application/x-www-form-urlencoded` body into pairs (`+` is a space).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = percent_decode(it.next().unwrap_or_default());
            let v = percent_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

/// Percent-decodes bytes (`+` becomes a space); invalid escapes are kept literally.
pub fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query or form component.
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Query-string pairs of a URI (`?a=1&b=2`).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map(|q| parse_form(q.as_bytes())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_has_the_v4_shape() {
        let g = new_guid();
        assert!(crate::seed::is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert_ne!(new_guid(), g);
    }

    #[test]
    fn form_decoding() {
        let pairs = parse_form(b"a=1+2&scope=https%3A%2F%2Fx%2F.default&bad=%zz&trail=%4");
        assert_eq!(pairs[0], ("a".into(), "1 2".into()));
        assert_eq!(pairs[1].1, "https://x/.default");
        assert_eq!(pairs[2].1, "%zz");
        assert_eq!(pairs[3].1, "%4");
        assert_eq!(percent_decode(percent_encode("a b/é").as_bytes()), "a b/é");
    }

    #[test]
    fn base64url_round_trip() {
        assert_eq!(
            b64url_decode(&b64url(b"\xff\xfe hello")).unwrap(),
            b"\xff\xfe hello"
        );
        assert!(b64url_decode("***").is_none());
    }
}
