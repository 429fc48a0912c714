//! HTTP answers of the emulator, including the deliberately broken ones of fault injection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// How the body is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The whole body.
    Normal,
    /// Half of the body, then the connection is dropped (the `Content-Length` announces it all).
    Truncated,
    /// No answer at all: the connection is dropped.
    Reset,
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// How the body is delivered.
    pub delivery: Delivery,
}

impl Reply {
    /// A reply with a body and content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delivery: Delivery::Normal,
        }
    }

    /// An XML (SOAP) reply.
    pub fn xml(status: u16, body: String) -> Self {
        Self::new(status, "text/xml; charset=utf-8", body)
    }

    /// A JSON reply.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json; charset=utf-8", value.to_string())
    }

    /// A reply with an empty body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delivery: Delivery::Normal,
        }
    }

    /// A dropped connection.
    pub fn reset() -> Self {
        Self {
            delivery: Delivery::Reset,
            ..Self::empty(0)
        }
    }

    /// The answer of an injected `http_status` fault: the status with an optional HTML body
    /// and an optional `Retry-After` (seconds).
    pub fn injected_status(status: u16, retry_after: Option<u64>, body: Option<String>) -> Self {
        let reply = match body {
            Some(b) => Self::new(status, "text/html; charset=utf-8", b),
            None => Self::empty(status),
        };
        match retry_after {
            Some(seconds) => reply.header("Retry-After", seconds.to_string()),
            None => reply,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// The response body type of the server: a full body, or half a body followed by an error
/// (which makes hyper drop the connection).
pub struct EmuBody {
    data: Option<Bytes>,
    full_len: u64,
    fail: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl EmuBody {
    /// The whole body.
    pub fn full(data: Bytes) -> Self {
        Self {
            full_len: data.len() as u64,
            data: Some(data),
            fail: None,
        }
    }

    /// Half of `data`, then a failure; the size hint still announces all of it.
    pub fn truncated(data: Bytes) -> Self {
        let full_len = data.len() as u64;
        let half = data.slice(..data.len() / 2);
        Self {
            data: Some(half),
            full_len,
            fail: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
        }
    }
}

impl Body for EmuBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(d) = this.data.take()
            && !d.is_empty()
        {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(sleep) = this.fail.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.fail = None;
            return Poll::Ready(Some(Err(std::io::Error::other("injected truncated body"))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.fail.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.full_len)
    }
}
