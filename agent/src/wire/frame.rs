//! Length-delimited framing of a protobuf watch stream: each frame is a 4-byte big-endian
//! length, then that many bytes (one `WatchEvent`).
//!
//! The network cuts the stream anywhere: a read may end inside the length, inside a frame, or
//! hold several frames. [`FrameReader`] buffers what it is given and hands out whole frames;
//! it never waits and never reads by itself. See [`FrameReader`].
//!
//! Upstream: `k8s.io/apimachinery/pkg/runtime/serializer/protobuf.LengthDelimitedFramer`.

use bytes::{Buf, Bytes, BytesMut};

use super::{Error, Result};

/// The largest frame accepted. etcd stores objects up to 1.5 MiB by default and the API server
/// refuses larger requests than 3 MiB; 64 MiB leaves room for any configured limit while
/// bounding what a corrupted length can make us buffer.
pub const MAX_FRAME: usize = 64 << 20;

/// The length prefix.
const PREFIX: usize = 4;

/// An incremental parser of length-delimited frames.
///
/// # Invariants
/// `buf` holds the bytes pushed and not yet handed out, starting at a frame boundary. A frame
/// is handed out exactly once, whole, in stream order.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: BytesMut,
}

impl FrameReader {
    /// An empty reader at a frame boundary.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Appends one read's bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, or `None` until more bytes are pushed.
    ///
    /// # Errors
    /// [`Error::EmptyFrame`] or [`Error::FrameTooLarge`] when the length is impossible; the
    /// stream has then lost its framing and MUST be dropped (the reader stays in error).
    pub fn next_frame(&mut self) -> Result<Option<Bytes>> {
        let Some(prefix) = self.buf.get(..PREFIX) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(prefix.try_into().expect("4 bytes")) as usize;
        if len == 0 {
            return Err(Error::EmptyFrame);
        }
        if len > MAX_FRAME {
            return Err(Error::FrameTooLarge {
                len,
                max: MAX_FRAME,
            });
        }
        if self.buf.len() < PREFIX + len {
            // Make room once for the whole frame rather than growing read by read.
            self.buf.reserve(PREFIX + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(PREFIX);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Bytes buffered that do not yet form a whole frame; non-zero at the end of a stream
    /// means the stream was cut inside a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(payload);
        out
    }

    fn drain(reader: &mut FrameReader) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = reader.next_frame().unwrap() {
            out.push(f.to_vec());
        }
        out
    }

    #[test]
    fn frames_split_at_every_byte_boundary_come_out_whole_and_in_order() {
        let stream: Vec<u8> = [frame(b"first"), frame(b"second!"), frame(b"3")].concat();
        for cut in 0..=stream.len() {
            for cut2 in cut..=stream.len() {
                let mut reader = FrameReader::new();
                let mut got = Vec::new();
                for part in [&stream[..cut], &stream[cut..cut2], &stream[cut2..]] {
                    reader.push(part);
                    got.extend(drain(&mut reader));
                }
                assert_eq!(
                    got,
                    [b"first".to_vec(), b"second!".to_vec(), b"3".to_vec()],
                    "cut at {cut}, {cut2}"
                );
                assert_eq!(reader.pending(), 0);
            }
        }
    }

    #[test]
    fn a_frame_larger_than_one_read_is_assembled_across_reads() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let stream = [frame(&payload), frame(b"next")].concat();
        let mut reader = FrameReader::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(8192) {
            reader.push(chunk);
            got.extend(drain(&mut reader));
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], payload);
        assert_eq!(got[1], b"next");
    }

    #[test]
    fn a_stream_cut_inside_a_frame_leaves_its_bytes_pending() {
        let mut reader = FrameReader::new();
        reader.push(&frame(b"whole"));
        reader.push(&frame(b"cut short")[..6]);
        assert_eq!(drain(&mut reader), [b"whole".to_vec()]);
        assert_eq!(reader.pending(), 6);
    }

    #[test]
    fn a_zero_length_is_a_clear_error() {
        let mut reader = FrameReader::new();
        reader.push(&[0, 0, 0, 0, 1, 2]);
        let err = reader.next_frame().unwrap_err();
        assert!(matches!(err, Error::EmptyFrame), "{err}");
        assert!(err.to_string().contains("not a protobuf watch"), "{err}");
    }

    #[test]
    fn an_oversized_length_is_a_clear_error_before_anything_is_buffered() {
        let mut reader = FrameReader::new();
        // `{"ty` read as a length: what a JSON watch stream looks like to this reader.
        reader.push(b"{\"type\":\"ADDED\"}");
        let err = reader.next_frame().unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { len, max: MAX_FRAME } if len == 0x7b22_7479),
            "{err}"
        );
        assert!(err.to_string().contains("limit"), "{err}");
    }
}
