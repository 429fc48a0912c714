//! A minimal independent HTTP/1.1 client for tests, benchmarks and the demo: one request per
//! fresh TCP connection (`Connection: close`) to a plain `http://` URL, the answer read to the
//! end of the connection.
//!
//! It writes the request and reads the answer by hand over a `tokio` socket and shares no code
//! with the emulator's server (hyper) or with the rooms-sync guest, so what it sees is what
//! went over the wire. It does not decode `Transfer-Encoding: chunked` (the emulator always
//! sends a `Content-Length`).
//!
//! ```no_run
//! # async fn demo(emu: &exo_emulator::RunningEmulator) -> std::io::Result<()> {
//! use exo_emulator::client::{form, send};
//! let body = form(&[("grant_type", "client_credentials"), ("client_id", "my-app")]);
//! let answer = send(
//!     "POST",
//!     &emu.token_endpoint("contoso.com"),
//!     &[("Content-Type", "application/x-www-form-urlencoded")],
//!     body.as_bytes(),
//! )
//! .await?;
//! println!("{} {}", answer.status, answer.text());
//! # Ok(()) }
//! ```

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::percent_encode;

/// An HTTP answer: status, headers in the order received, and the raw body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code (`200`, `401`, ...).
    pub status: u16,
    /// Header names and values, trimmed, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of this name (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
///
/// `url` must be `http://host:port/path`; `headers` are sent as given, after `Host`,
/// `Connection: close` and `Content-Length`. A URL that is not `http://`, a refused or
/// dropped connection, an answer without a status line, or a body shorter than its
/// `Content-Length` is an error.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{url} is not an http:// URL (this client speaks plain HTTP only)"),
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_answer(raw)
}

/// Splits a raw answer into status, headers and body.
fn parse_answer(mut raw: Vec<u8>) -> io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed without an answer",
            )
        })?;
    let body = raw.split_off(split + 4);
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let answer = Response {
        status,
        headers,
        body,
    };
    if let Some(length) = answer
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        && answer.body.len() < length
    {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body truncated: {} of {length} bytes", answer.body.len()),
        ));
    }
    Ok(answer)
}

/// An `application/x-www-form-urlencoded` body of name/value pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_status_headers_and_body() {
        let raw =
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nWWW-Authenticate: Bearer\r\n\r\nno";
        let answer = parse_answer(raw.to_vec()).unwrap();
        assert_eq!(answer.status, 401);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
        assert_eq!(answer.text(), "no");
    }

    #[test]
    fn a_short_body_or_no_answer_is_an_error() {
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        let err = parse_answer(short.to_vec()).unwrap_err();
        assert!(err.to_string().contains("3 of 10"), "{err}");
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\n".to_vec()).is_err());
        assert!(parse_answer(b"garbage\r\n\r\n".to_vec()).is_err());
    }

    #[test]
    fn form_encodes_reserved_characters() {
        assert_eq!(
            form(&[("scope", "https://h:1/.default"), ("s", "a~b c")]),
            "scope=https%3A%2F%2Fh%3A1%2F.default&s=a~b%20c"
        );
    }

    #[tokio::test]
    async fn a_non_http_url_is_refused_with_the_reason() {
        let err = send("GET", "https://example.test/", &[], b"")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("http://"), "{err}");
    }
}
