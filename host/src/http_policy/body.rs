//! The response body the component reads: bounded in time and size, and the
//! way a connection gets back into the pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error as HttpError;

use super::error;
use super::pool::{Connection, ConnectionPool};
use crate::log::{Level, LogSink};

/// How long the end of a body waits for hyper to make its connection ready
/// for the next request; normally a moment. A connection not ready by then
/// is closed instead of pooled.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

enum State {
    Streaming,
    /// The body ended (with this last frame, or none); the connection goes
    /// back to the pool before the end is reported, so that the next
    /// request of the component finds it there.
    Releasing(Option<Frame<Bytes>>),
    Done,
}

/// A response body that fails with
/// - `HTTP-response-body-size` once more than `cap` bytes arrived,
/// - `connection-read-timeout` after a pause longer than the between-bytes
///   timeout,
/// - `HTTP-response-timeout` at the request's overall deadline,
///
/// and returns its connection to the pool when read to the end.
pub(crate) struct ResponseBody {
    incoming: Incoming,
    conn: Option<Connection>,
    pool: Arc<ConnectionPool>,
    between_bytes: Duration,
    stall: Pin<Box<Sleep>>,
    overall: Pin<Box<Sleep>>,
    release: Option<Pin<Box<Sleep>>>,
    cap: u64,
    received: u64,
    state: State,
    log: LogSink,
}

impl ResponseBody {
    pub(crate) fn new(
        incoming: Incoming,
        conn: Connection,
        pool: Arc<ConnectionPool>,
        between_bytes: Duration,
        deadline: Instant,
        cap: u64,
        log: LogSink,
    ) -> ResponseBody {
        ResponseBody {
            incoming,
            conn: Some(conn),
            pool,
            between_bytes,
            stall: Box::pin(tokio::time::sleep(between_bytes)),
            overall: Box::pin(tokio::time::sleep_until(deadline)),
            release: None,
            cap,
            received: 0,
            state: State::Streaming,
            log,
        }
    }

    fn fail(&mut self, code: HttpError) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        // Dropping the connection closes it: a broken body never goes back.
        if let Some(conn) = self.conn.take() {
            let (level, hint) = match code {
                HttpError::HttpResponseBodySize(_) => (
                    Level::Warn,
                    format!(" (the cap is {} bytes, --max-response-mib)", self.cap),
                ),
                _ => (Level::Info, String::new()),
            };
            self.log.write(
                level,
                &format!(
                    "response body from {} at {} failed after {} bytes: {code}{hint}",
                    conn.origin, conn.addr, self.received
                ),
            );
        }
        self.state = State::Done;
        Poll::Ready(Some(Err(code)))
    }

    /// Hands the connection back to the pool once hyper has it ready.
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(conn) = self.conn.as_mut() else {
            return Poll::Ready(());
        };
        match conn.sender.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                if let Some(conn) = self.conn.take() {
                    self.pool.checkin(conn);
                }
                Poll::Ready(())
            }
            Poll::Ready(Err(_)) => {
                self.conn = None;
                Poll::Ready(())
            }
            Poll::Pending => {
                let wait = self
                    .release
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(RELEASE_WAIT)));
                if wait.as_mut().poll(cx).is_ready() {
                    self.conn = None;
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Done => return Poll::Ready(None),
                State::Releasing(_) => {
                    ready!(this.poll_release(cx));
                    let State::Releasing(last) = std::mem::replace(&mut this.state, State::Done)
                    else {
                        unreachable!("checked above");
                    };
                    return Poll::Ready(last.map(Ok));
                }
                State::Streaming => {}
            }
            if this.overall.as_mut().poll(cx).is_ready() {
                return this.fail(HttpError::HttpResponseTimeout);
            }
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        this.received += data.len() as u64;
                        if this.received > this.cap {
                            return this.fail(HttpError::HttpResponseBodySize(Some(this.received)));
                        }
                    }
                    let next = Instant::now() + this.between_bytes;
                    this.stall.as_mut().reset(next);
                    if this.incoming.is_end_stream() {
                        this.state = State::Releasing(Some(frame));
                        continue;
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Poll::Ready(None) => {
                    this.state = State::Releasing(None);
                }
                Poll::Ready(Some(Err(e))) => return this.fail(error::hyper(e).code),
                Poll::Pending => {
                    if this.stall.as_mut().poll(cx).is_ready() {
                        return this.fail(HttpError::ConnectionReadTimeout);
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Streaming => self.incoming.size_hint(),
            _ => SizeHint::default(),
        }
    }
}
