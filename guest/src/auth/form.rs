//! `application/x-www-form-urlencoded` bodies for the token endpoint.

/// Encodes `pairs` as a form body: unreserved characters (`A-Z a-z 0-9 - . _ *`)
/// stay, a space becomes `+`, every other byte of the UTF-8 text becomes `%XX`.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(name, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

fn encode_component(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(byte >> 4)] as char);
                out.push(HEX[usize::from(byte & 0xf)] as char);
            }
        }
    }
}

/// Decodes a form body back into pairs (used to check what was sent).
/// Returns `None` for a malformed `%` escape or non-UTF-8 text.
pub fn decode(body: &str) -> Option<Vec<(String, String)>> {
    body.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            Some((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

fn decode_component(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = char::from(input.next()?).to_digit(16)?;
                let lo = char::from(input.next()?).to_digit(16)?;
                bytes.push((hi * 16 + lo) as u8);
            }
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_in_passwords_are_escaped() {
        let body = encode(&[
            ("username", "svc@contoso.com"),
            ("password", "p@ss w&rd=+%ä€/?#"),
        ]);
        assert_eq!(
            body,
            "username=svc%40contoso.com&password=p%40ss+w%26rd%3D%2B%25%C3%A4%E2%82%AC%2F%3F%23"
        );
        assert_eq!(
            decode(&body).unwrap(),
            vec![
                ("username".to_owned(), "svc@contoso.com".to_owned()),
                ("password".to_owned(), "p@ss w&rd=+%ä€/?#".to_owned()),
            ]
        );
    }

    #[test]
    fn scope_and_assertion_type_round_trip() {
        let pairs = [
            (
                "scope",
                "https://outlook.office365.com/EWS.AccessAsUser.All offline_access",
            ),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
        ];
        let body = encode(&pairs);
        assert_eq!(
            body,
            "scope=https%3A%2F%2Foutlook.office365.com%2FEWS.AccessAsUser.All+offline_access&\
             client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        );
        let decoded = decode(&body).unwrap();
        assert_eq!(decoded[0].1, pairs[0].1);
        assert_eq!(decoded[1].1, pairs[1].1);
    }

    #[test]
    fn malformed_escapes_do_not_decode() {
        assert_eq!(decode("a=%4"), None);
        assert_eq!(decode("a=%zz"), None);
        assert_eq!(decode("a=%ff"), None);
    }
}
