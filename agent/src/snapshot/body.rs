//! Bodies as the chunks a scrape sends: shared, never copied into the snapshot, with an exact
//! length.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::Samples;

/// One part of a body: a buffer of its own (a header, a deflated run), or samples read in place
/// from the rows the store keeps.
#[derive(Clone, Debug)]
pub(super) enum Chunk {
    Bytes(Bytes),
    Samples(Samples),
}

impl Chunk {
    pub(super) fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Samples(s) => s.len,
        }
    }

    /// Appends the chunk's bytes from byte `skip` on.
    pub(super) fn write_from(&self, skip: usize, out: &mut Vec<u8>) {
        match self {
            Chunk::Bytes(b) => out.extend_from_slice(&b[skip.min(b.len())..]),
            Chunk::Samples(s) => s.write_from(skip, out),
        }
    }
}

/// Samples are copied out of the rows into buffers of about this size as a scrape sends them:
/// large enough that a body goes out in few writes, small enough that a scrape in flight holds
/// little beyond the snapshot.
pub(super) const GATHER_BYTES: usize = 64 * 1024;

/// A body as the chunks to send in order, with their total length.
#[derive(Clone, Debug, Default)]
pub struct Chunks {
    chunks: Arc<[Chunk]>,
    len: usize,
}

impl Chunks {
    pub(super) fn new(chunks: Vec<Chunk>) -> Chunks {
        let chunks: Vec<Chunk> = chunks.into_iter().filter(|c| c.len() > 0).collect();
        Chunks {
            len: chunks.iter().map(Chunk::len).sum(),
            chunks: chunks.into(),
        }
    }

    pub(super) fn from_bytes(chunks: Vec<Bytes>) -> Chunks {
        Chunks::new(chunks.into_iter().map(Chunk::Bytes).collect())
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
            c.write_from(0, &mut out);
        }
        out
    }

    /// An HTTP body that sends the chunks with an exact length: buffers as they are, samples
    /// gathered from the rows a few tens of KiB at a time.
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
    chunks: Arc<[Chunk]>,
    next: usize,
    remaining: u64,
}

impl ChunkedBody {
    /// The next frame: one buffer, or the samples of as many chunks in a row as fit in about
    /// [`GATHER_BYTES`] (at least one), copied into a new buffer.
    fn next_frame(&mut self) -> Option<Bytes> {
        let first = self.chunks.get(self.next)?;
        if let Chunk::Bytes(b) = first {
            self.next += 1;
            return Some(b.clone());
        }
        let mut end = self.next;
        let mut len = 0;
        while let Some(Chunk::Samples(s)) = self.chunks.get(end) {
            if len > 0 && len + s.len > GATHER_BYTES {
                break;
            }
            len += s.len;
            end += 1;
        }
        let mut out = Vec::with_capacity(len);
        for c in &self.chunks[self.next..end] {
            c.write_from(0, &mut out);
        }
        self.next = end;
        Some(Bytes::from(out))
    }
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let Some(chunk) = self.next_frame() else {
            return Poll::Ready(None);
        };
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
