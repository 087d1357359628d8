//! Bodies as the chunks a scrape sends: shared, never copied, with an exact length.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

/// A body as the chunks to send in order, with their total length.
#[derive(Clone, Debug, Default)]
pub struct Chunks {
    chunks: Arc<[Bytes]>,
    len: usize,
}

impl Chunks {
    pub(super) fn new(chunks: Vec<Bytes>) -> Chunks {
        let chunks: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        Chunks {
            len: chunks.iter().map(Bytes::len).sum(),
            chunks: chunks.into(),
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body in one buffer (copies; for tests and small bodies).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in self.chunks.iter() {
            out.extend_from_slice(c);
        }
        out
    }

    /// An HTTP body that sends the chunks without copying them, with an exact length.
    pub fn into_http_body(self) -> ChunkedBody {
        ChunkedBody {
            remaining: self.len as u64,
            chunks: self.chunks,
            next: 0,
        }
    }
}

/// [`http_body::Body`] over a snapshot's chunks.
#[derive(Debug)]
pub struct ChunkedBody {
    chunks: Arc<[Bytes]>,
    next: usize,
    remaining: u64,
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let Some(chunk) = self.chunks.get(self.next).cloned() else {
            return Poll::Ready(None);
        };
        self.next += 1;
        self.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.chunks.len()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// The exposition body in one format, with its gzip form when one was asked for and enabled.
#[derive(Clone, Debug)]
pub struct Body {
    /// The chunks to send.
    pub chunks: Chunks,
    /// Whether `chunks` are gzip-compressed.
    pub gzip: bool,
}
