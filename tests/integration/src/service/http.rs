//! A tiny HTTP/1.1 client for talking to the service: one connection per
//! request (`Connection: close`), the body written by its own task while
//! the answer is read, so an answer sent before the whole body was read (a
//! 413) is still seen. It decodes `Content-Length` and chunked bodies.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header fields as received.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`). The
/// body is written by a separate task while the answer is read, so an
/// answer sent before the whole body was read (413) is still seen; write
/// errors after that are ignored.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    http_from(None, addr, method, path, headers, body).await
}

/// [`http`] from the local address `source` (any of 127.0.0.0/8 on
/// loopback), so a test can be many peers at once.
pub async fn http_from(
    source: Option<std::net::IpAddr>,
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    let stream = match source {
        None => tokio::net::TcpStream::connect(addr).await?,
        Some(ip) => {
            let target: std::net::SocketAddr = addr
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(std::net::SocketAddr::new(ip, 0))?;
            socket.connect(target).await?
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let body = body.to_vec();
    // The task hands the write half back, so the connection is not
    // half-closed while the answer is on its way.
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(64 * 1024) {
            writer.write_all(chunk).await?;
        }
        writer.flush().await?;
        Ok::<_, io::Error>(writer)
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let outcome = loop {
        match reader.read(&mut buf).await {
            Ok(0) => break parse_answer(&raw, true),
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if let Some(answer) = parse_answer(&raw, false) {
                    break Some(answer);
                }
            }
            Err(e) if raw.is_empty() => {
                sending.abort();
                return Err(e);
            }
            Err(_) => break parse_answer(&raw, true),
        }
    };
    sending.abort();
    outcome.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "incomplete answer: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(300)])
            ),
        )
    })
}

/// The answer in `raw` when it is complete (`eof`: the connection ended).
fn parse_answer(raw: &[u8], eof: bool) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let rest = &raw[split + 4..];
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// The body of a complete chunked encoding; `None` until the last chunk.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_answers_with_length_chunks_or_eof() {
        let a = parse_answer(
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig",
            false,
        )
        .unwrap();
        assert_eq!((a.status, a.text().as_str()), (413, "big"));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nbig", false).is_none());
        let c = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_answer(c, false).unwrap().text(), "abcde");
        assert!(parse_answer(&c[..c.len() - 7], false).is_none());
        assert_eq!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\n\r\nno", true)
                .unwrap()
                .text(),
            "no"
        );
    }
}
