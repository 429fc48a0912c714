//! From what went wrong on the wire to the `wasi:http` error code the
//! component sees, keeping the detail for the host log (the codes carry
//! almost no text).

use std::error::Error as _;
use std::fmt;
use std::io;

use wasmtime_wasi_http::Error as HttpError;

/// A failed step of a request: the code for the component and the detail
/// for the host log.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: HttpError,
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(code: HttpError, detail: impl Into<String>) -> Failure {
        Failure {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

/// A failed name resolution (`getaddrinfo` gives no DNS rcode, so the
/// resolver's own words go into the payload).
pub(crate) fn dns(host: &str, err: &io::Error) -> Failure {
    let text = err.to_string();
    let reason = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_string();
    Failure::new(
        HttpError::DnsError {
            rcode: Some(reason.clone()),
            info_code: None,
        },
        format!("{host} could not be resolved: {reason}"),
    )
}

/// A failed TCP connect to one address.
pub(crate) fn tcp(addr: std::net::SocketAddr, err: &io::Error) -> Failure {
    use io::ErrorKind as K;
    let code = match err.kind() {
        K::ConnectionRefused => HttpError::ConnectionRefused,
        K::ConnectionReset | K::ConnectionAborted => HttpError::ConnectionTerminated,
        K::TimedOut => HttpError::ConnectionTimeout,
        K::NetworkUnreachable | K::AddrNotAvailable => HttpError::DestinationIpUnroutable,
        _ => HttpError::DestinationUnavailable,
    };
    Failure::new(code, format!("TCP connect to {addr}: {err}"))
}

/// A failed TLS handshake: certificate problems, alerts and everything else
/// told apart.
pub(crate) fn tls(err: &io::Error) -> Failure {
    let code = match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => HttpError::TlsCertificateError,
        Some(rustls::Error::AlertReceived(alert)) => HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        Some(_) => HttpError::TlsProtocolError,
        None => match err.kind() {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                HttpError::ConnectionTerminated
            }
            // A peer that closes during the handshake does not speak TLS
            // (or a middlebox cut it off): a protocol problem to the operator.
            _ => HttpError::TlsProtocolError,
        },
    };
    Failure::new(code, format!("TLS handshake: {err}"))
}

/// A failure reported by hyper while sending the request or reading the
/// response.
pub(crate) fn hyper(err: hyper::Error) -> Failure {
    let code = if err.is_timeout() {
        HttpError::HttpResponseTimeout
    } else if err.is_parse_too_large() {
        HttpError::HttpResponseHeaderSectionSize(None)
    } else if err.is_parse() || err.is_parse_status() {
        HttpError::HttpProtocolError
    } else if err.is_incomplete_message() {
        HttpError::HttpResponseIncomplete
    } else if let Some(body) = err
        .source()
        .and_then(|cause| cause.downcast_ref::<HttpError>())
    {
        // The request body (the component's own stream) failed.
        match body {
            HttpError::HttpRequestBodySize(size) => HttpError::HttpRequestBodySize(*size),
            other => HttpError::InternalError(Some(format!("request body: {other}"))),
        }
    } else if err.is_canceled() || err.is_closed() || err.is_body_write_aborted() {
        HttpError::ConnectionTerminated
    } else if let Some(io_err) = err
        .source()
        .and_then(|cause| cause.downcast_ref::<io::Error>())
    {
        match io_err.kind() {
            io::ErrorKind::TimedOut => HttpError::ConnectionReadTimeout,
            _ => HttpError::ConnectionTerminated,
        }
    } else {
        HttpError::HttpProtocolError
    };
    Failure::new(code, format!("HTTP/1.1: {err}"))
}
