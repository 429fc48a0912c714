//! Collecting an HTTP response body under a size cap, with a peak of memory
//! that stays bounded whatever the server does.
//!
//! The host hands the body over in pieces of any size (down to single
//! bytes). Growing one vector by doubling would, at the last doubling, hold
//! the old and the new block at once (up to three times the body) and leave
//! up to half of the final block unused. [`BodyBuffer`] instead:
//!
//! - with a `Content-Length` within the cap, reserves exactly that once and
//!   fills it (peak: the body);
//! - otherwise (no length, or a length the body then overruns) collects the
//!   pieces in blocks of [`BLOCK_BYTES`] and joins them once at the end (peak:
//!   twice the body, at the moment of joining).
//!
//! It is plain Rust so that its peak can be measured natively
//! (`guest/tests/memory.rs`); `wasi_platform` feeds it from `wasi:http`.

/// The largest response body the component reads (the host may cap lower).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// The size of the blocks a body of unknown length is collected in.
pub const BLOCK_BYTES: usize = 256 << 10;

/// A body that went over the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The cap, in bytes.
    pub max: usize,
}

/// A response body being collected; see the module documentation.
#[derive(Debug)]
pub struct BodyBuffer {
    max: usize,
    /// Full blocks, in order.
    blocks: Vec<Vec<u8>>,
    /// The block being filled (the whole body when the length was known).
    current: Vec<u8>,
    /// Bytes collected so far.
    len: usize,
    /// The `Content-Length`, when it is within the cap.
    announced: Option<usize>,
}

impl BodyBuffer {
    /// A buffer for a body of at most `max` bytes whose `Content-Length`
    /// header (if any) is `content_length`.
    pub fn new(max: usize, content_length: Option<&str>) -> Self {
        let announced = content_length
            .and_then(|value| value.trim().parse::<usize>().ok())
            .filter(|&length| length <= max);
        Self {
            max,
            blocks: Vec::new(),
            // Reserved with the first piece, unless that piece is the whole
            // body (see `push_owned`).
            current: Vec::new(),
            len: 0,
            announced,
        }
    }

    /// Adds the next piece of the body, taking the vector itself when it is
    /// the whole announced body (no copy); else as [`push`](Self::push).
    pub fn push_owned(&mut self, piece: Vec<u8>) -> Result<(), TooLarge> {
        if self.len == 0 && self.current.capacity() == 0 && self.announced == Some(piece.len()) {
            self.len = piece.len();
            self.current = piece;
            return Ok(());
        }
        self.push(&piece)
    }

    /// True when the body has reached its announced `Content-Length`.
    pub fn is_complete(&self) -> bool {
        self.announced == Some(self.len)
    }

    /// Adds the next piece of the body; refuses it when the body would go
    /// over the cap (nothing of the piece is kept then).
    pub fn push(&mut self, mut piece: &[u8]) -> Result<(), TooLarge> {
        if piece.len() > self.max - self.len {
            return Err(TooLarge { max: self.max });
        }
        if self.len == 0
            && self.current.capacity() == 0
            && let Some(announced) = self.announced
        {
            self.current = Vec::with_capacity(announced);
        }
        while !piece.is_empty() {
            let room = self.current.capacity() - self.current.len();
            if room == 0 {
                let full = std::mem::take(&mut self.current);
                if !full.is_empty() {
                    self.blocks.push(full);
                }
                // Never more than the cap still allows.
                self.current = Vec::with_capacity(BLOCK_BYTES.min(self.max - self.len));
                continue;
            }
            let (now, later) = piece.split_at(room.min(piece.len()));
            self.current.extend_from_slice(now);
            self.len += now.len();
            piece = later;
        }
        Ok(())
    }

    /// Bytes collected so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole body, in one vector of exactly its length.
    pub fn finish(mut self) -> Vec<u8> {
        if self.blocks.is_empty() {
            // A Content-Length larger than the body left room unused.
            self.current.shrink_to_fit();
            return self.current;
        }
        let mut body = Vec::with_capacity(self.len);
        for block in self.blocks {
            body.extend_from_slice(&block);
        }
        body.extend_from_slice(&self.current);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn collect(data: &[u8], piece: usize, content_length: Option<&str>) -> BodyBuffer {
        let mut buffer = BodyBuffer::new(1 << 20, content_length);
        for chunk in data.chunks(piece) {
            buffer.push(chunk).unwrap();
        }
        buffer
    }

    #[test]
    fn pieces_of_any_size_give_back_the_same_bytes() {
        let data = sample(700_000);
        for piece in [1, 7, 4096, 65_536, BLOCK_BYTES, BLOCK_BYTES + 1, 700_000] {
            for length in [None, Some("700000"), Some("10"), Some("900000"), Some("x")] {
                let buffer = collect(&data, piece, length);
                assert_eq!(buffer.len(), data.len());
                let body = buffer.finish();
                assert_eq!(body, data, "{piece} {length:?}");
                assert_eq!(body.capacity(), body.len(), "{piece} {length:?}");
            }
        }
        assert!(BodyBuffer::new(10, None).finish().is_empty());
    }

    #[test]
    fn a_known_length_is_reserved_once_and_filled() {
        let data = sample(300_000);
        let buffer = collect(&data, 4096, Some(" 300000 "));
        assert!(buffer.blocks.is_empty());
        assert_eq!(buffer.current.capacity(), 300_000);
        // Without a length, single bytes are gathered into blocks, not kept
        // one allocation each.
        let buffer = collect(&data, 1, None);
        assert_eq!(buffer.blocks.len(), 300_000 / BLOCK_BYTES);
        assert!(buffer.blocks.iter().all(|b| b.len() == BLOCK_BYTES));
    }

    #[test]
    fn a_piece_that_is_the_whole_announced_body_is_taken_as_it_is() {
        let data = sample(5000);
        let mut buffer = BodyBuffer::new(1 << 20, Some("5000"));
        assert!(!buffer.is_complete());
        let piece = data.clone();
        let address = piece.as_ptr();
        buffer.push_owned(piece).unwrap();
        assert!(buffer.is_complete());
        let body = buffer.finish();
        assert_eq!(body, data);
        assert_eq!(body.as_ptr(), address, "not copied");
        // Anything else is copied as by `push`.
        let mut buffer = BodyBuffer::new(1 << 20, Some("5000"));
        buffer.push_owned(data[..100].to_vec()).unwrap();
        buffer.push_owned(data[100..].to_vec()).unwrap();
        assert!(buffer.is_complete());
        assert_eq!(buffer.current.capacity(), 5000);
        assert_eq!(buffer.finish(), data);
        let mut unknown = BodyBuffer::new(1 << 20, None);
        unknown.push_owned(data.clone()).unwrap();
        assert!(!unknown.is_complete());
        assert_eq!(unknown.finish(), data);
        assert_eq!(
            BodyBuffer::new(10, Some("11")).push_owned(vec![0; 11]),
            Err(TooLarge { max: 10 })
        );
    }

    #[test]
    fn the_cap_is_exact_and_a_length_over_it_is_not_reserved() {
        let mut buffer = BodyBuffer::new(1000, Some("5000000000"));
        assert_eq!(
            buffer.current.capacity(),
            0,
            "an announced length over the cap"
        );
        buffer.push(&sample(600)).unwrap();
        assert_eq!(buffer.push(&sample(401)), Err(TooLarge { max: 1000 }));
        assert_eq!(buffer.len(), 600, "a refused piece is not kept");
        buffer.push(&sample(400)).unwrap();
        assert_eq!(buffer.push(&[0]), Err(TooLarge { max: 1000 }));
        let body = buffer.finish();
        assert_eq!(body.len(), 1000);
        assert!(body.capacity() <= 1000);
    }
}

/// What a failed read of the body was, from the host's text of a stream
/// error that carries no `wasi:http` error code.
///
/// wasmtime-wasi-http hands body errors (its own size cap, a timeout between
/// chunks, a reset) to the component as a plain stream error whose only
/// content is a debug text, sometimes followed by a host backtrace. Only the
/// first line says what happened; the rest is never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamFailure {
    /// The body went over the host's response-size cap.
    TooLarge,
    /// The host gave up waiting for the next chunk.
    TimedOut,
    /// Anything else (a reset, an incomplete body), with its first line.
    Broken(String),
}

impl StreamFailure {
    /// Classifies the debug text of a stream error.
    pub fn from_host_text(text: &str) -> StreamFailure {
        let first = text
            .split("Stack backtrace")
            .next()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .trim();
        let lower = first.to_ascii_lowercase();
        if lower.contains("body size") && lower.contains("exceed") {
            StreamFailure::TooLarge
        } else if lower.contains("timed out") || lower.contains("timeout") {
            StreamFailure::TimedOut
        } else {
            StreamFailure::Broken(first.to_owned())
        }
    }
}

#[cfg(test)]
mod stream_failure_tests {
    use super::StreamFailure;

    #[test]
    fn the_host_text_is_classified_by_its_first_line_and_the_backtrace_dropped() {
        let capped = "HTTP response body size exceeds limit: 16840406 bytes\n\nStack backtrace:\n   0: wasmtime_internal_core::error::backtrace::capture";
        assert_eq!(
            StreamFailure::from_host_text(capped),
            StreamFailure::TooLarge
        );
        let flat = "HTTP response body size exceeds limit: 17 bytes Stack backtrace: 0: capture";
        assert_eq!(StreamFailure::from_host_text(flat), StreamFailure::TooLarge);
        assert_eq!(
            StreamFailure::from_host_text("connection read timed out\nStack backtrace:\n 0: x"),
            StreamFailure::TimedOut
        );
        assert_eq!(
            StreamFailure::from_host_text("connection reset by peer\nStack backtrace:\n 0: frame"),
            StreamFailure::Broken("connection reset by peer".into())
        );
    }
}
