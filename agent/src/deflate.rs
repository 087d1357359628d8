//! Compressing pieces of a body independently so that they join into one gzip stream, the way
//! pigz compresses blocks in parallel.
//!
//! Each piece is raw deflate ended by a sync flush, which leaves the stream byte-aligned with no
//! final block: any sequence of such pieces is a valid deflate stream once an empty final block
//! follows. A gzip body is then a fixed header, the pieces, that final block, and a trailer with
//! the CRC-32 and length of the uncompressed bytes (RFC 1952). So when one piece of a snapshot
//! changes, only that piece is compressed again; the others are reused as they are.
//!
//! A piece made by [`piece`] compresses without the history of the pieces before it. One made by
//! [`run`] may refer back into the plain bytes that precede it in the body (its *dictionary*, at
//! most [`WINDOW`] bytes), as pigz does: it then compresses nearly as well as one stream, and is
//! valid only where exactly those bytes precede it.

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

/// The gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// One piece, compressed, with what the gzip trailer needs to know of its plain bytes.
#[derive(Clone, Debug, Default)]
pub struct Deflated {
    /// Raw deflate ending in a sync flush; empty for an empty piece.
    pub bytes: Bytes,
    /// CRC-32 of the plain bytes, so joining pieces never re-reads them.
    crc: crc32fast::Hasher,
    /// Length of the plain bytes.
    len: u64,
}

/// How hard a piece is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// zlib level 2, and pieces under 1 KiB stored: for pieces compressed on the rebuild path,
    /// where a change must reach the snapshot in milliseconds. (zlib-rs' level 1, like
    /// zlib-ng's, uses fixed Huffman codes only, which loses a third on exposition text.)
    Fast,
    /// zlib level 6 (`gzip`'s default), every piece: for pieces that stayed the same for a
    /// while, recompressed when the builder has time to spare (about 4 × the CPU of `Fast`,
    /// 15–25 % fewer bytes on exposition text).
    Thorough,
}

/// Compresses `plain` into a piece that can be followed by any other piece, at
/// [`Effort::Fast`].
pub fn piece(plain: &[u8]) -> Deflated {
    piece_with(plain, Effort::Fast)
}

/// Compresses `plain` into a piece that can be followed by any other piece.
pub fn piece_with(plain: &[u8], effort: Effort) -> Deflated {
    let mut crc = crc32fast::Hasher::new();
    crc.update(plain);
    Deflated {
        bytes: deflate(plain, effort),
        crc,
        len: plain.len() as u64,
    }
}

impl Deflated {
    /// Plain bytes it decompresses to.
    pub fn plain_len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }
}

/// How far back deflate refers: a run's dictionary is at most this many bytes of the plain body
/// just before it (RFC 1951's window).
pub const WINDOW: usize = 32 * 1024;

/// Compresses the concatenation of `parts` into a piece that may refer back into `dictionary`,
/// the plain bytes that precede it in the body (only the last [`WINDOW`] bytes matter).
///
/// The piece decodes correctly only where the body's plain bytes before it end with
/// `dictionary`; with an empty one it can follow anything, like a [`piece`]. Never stored raw:
/// runs are kilobytes, where compressing always pays.
pub fn run(parts: &[&[u8]], dictionary: &[u8], effort: Effort) -> Deflated {
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0;
    for p in parts {
        crc.update(p);
        len += p.len();
    }
    if len == 0 {
        return Deflated::default();
    }
    let dictionary = &dictionary[dictionary.len().saturating_sub(WINDOW)..];
    let bytes = with_encoder(effort, |enc| {
        if !dictionary.is_empty() {
            enc.set_dictionary(dictionary)
                .expect("a fresh raw deflate stream takes a dictionary");
        }
        deflate_parts(enc, parts, len)
    });
    Deflated {
        bytes,
        crc,
        len: len as u64,
    }
}

/// Below this size a piece is stored at [`Effort::Fast`], not compressed: family headers and the
/// samples of a family few objects have are short, and resetting a compressor costs more than
/// their bytes.
const STORE_BELOW: usize = 1024;

fn deflate(plain: &[u8], effort: Effort) -> Bytes {
    if plain.is_empty() {
        return Bytes::new();
    }
    if plain.len() < STORE_BELOW && effort == Effort::Fast {
        return stored(plain);
    }
    with_encoder(effort, |enc| deflate_parts(enc, &[plain], plain.len()))
}

/// Runs `f` with this thread's compressor for `effort`, reset to a fresh raw deflate stream.
fn with_encoder<T>(effort: Effort, f: impl FnOnce(&mut Compress) -> T) -> T {
    thread_local! {
        /// One compressor per thread and effort, reset between pieces: setting one up costs
        /// more than compressing a small piece.
        static FAST: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::new(2), false));
        static THOROUGH: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::new(6), false));
    }
    let encoder = match effort {
        Effort::Fast => &FAST,
        Effort::Thorough => &THOROUGH,
    };
    encoder.with_borrow_mut(|enc| {
        enc.reset();
        f(enc)
    })
}

/// Compresses `parts` (`len` bytes in all) as one stream ended by a sync flush.
fn deflate_parts(enc: &mut Compress, parts: &[&[u8]], len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len / 4 + 64);
    let start = enc.total_in();
    let mut taken = 0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let flush = if last {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        taken += part.len();
        loop {
            let consumed = (enc.total_in() - start) as usize - (taken - part.len());
            enc.compress_vec(&part[consumed..], &mut out, flush)
                .expect("deflate into a Vec with spare room cannot fail");
            let all_in = (enc.total_in() - start) as usize == taken;
            // Without a flush, taking all input is enough; the flush must also have had room
            // to finish.
            if all_in && (!last || out.len() < out.capacity()) {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
    }
    // `Bytes::from(Vec)` keeps the whole allocation, and the first guess above is about 3–8 ×
    // what exposition text compresses to: give the rest back, since pieces live for many
    // snapshots.
    out.shrink_to_fit();
    Bytes::from(out)
}

/// `plain` as one stored (uncompressed) deflate block, not final (RFC 1951 3.2.4): a header
/// byte (BFINAL=0, BTYPE=00, padded to the byte boundary), LEN and its one's complement, then
/// the bytes. Like a sync-flushed piece, it starts and ends on a byte boundary.
fn stored(plain: &[u8]) -> Bytes {
    let len = u16::try_from(plain.len()).expect("stored pieces are short");
    let mut out = Vec::with_capacity(plain.len() + 5);
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(plain);
    Bytes::from(out)
}

/// Assembles a gzip body from pieces made by [`piece`].
#[derive(Debug)]
pub struct GzipStream {
    crc: crc32fast::Hasher,
    len: u64,
    chunks: Vec<Bytes>,
}

impl Default for GzipStream {
    fn default() -> Self {
        GzipStream {
            crc: crc32fast::Hasher::new(),
            len: 0,
            chunks: vec![Bytes::from_static(&GZIP_HEADER)],
        }
    }
}

impl GzipStream {
    /// Appends one piece. The checksum is combined from the piece's own, in time logarithmic
    /// in its length, so assembling a body costs the same whatever its size.
    pub fn push(&mut self, piece: &Deflated) {
        if piece.len == 0 {
            return;
        }
        self.crc.combine(&piece.crc);
        self.len += piece.len;
        self.chunks.push(piece.bytes.clone());
    }

    /// The body as chunks to send in order.
    pub fn finish(mut self) -> Vec<Bytes> {
        let mut tail = Vec::with_capacity(10);
        tail.extend_from_slice(&FINAL_BLOCK);
        tail.extend_from_slice(&self.crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        tail.extend_from_slice(&(self.len as u32).to_le_bytes());
        self.chunks.push(Bytes::from(tail));
        self.chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn gunzip(chunks: &[Bytes]) -> Vec<u8> {
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let mut out = Vec::new();
        // A single-member decoder: the pieces must form one member, not several.
        flate2::read::GzDecoder::new(&joined[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn independently_compressed_pieces_join_into_one_gzip_member() {
        let pieces: Vec<Vec<u8>> = vec![
            b"# HELP a A.\n# TYPE a gauge\n".to_vec(),
            (0..2000)
                .flat_map(|i| format!("a{{pod=\"p{i}\"}} 1\n").into_bytes())
                .collect(),
            Vec::new(),
            b"b 2\n".to_vec(),
            vec![b'x'; STORE_BELOW - 1],
            vec![b'y'; STORE_BELOW],
        ];
        let mut gz = GzipStream::default();
        for p in &pieces {
            gz.push(&piece(p));
        }
        let chunks = gz.finish();
        assert_eq!(gunzip(&chunks), pieces.concat());
        // And a single-member reader stops at the end of the member, with nothing left over.
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        let mut dec = flate2::bufread::GzDecoder::new(&joined[..]);
        std::io::copy(&mut dec, &mut std::io::sink()).unwrap();
        assert!(dec.into_inner().is_empty());
    }

    #[test]
    fn thorough_pieces_join_fast_ones_and_are_smaller() {
        let text: Vec<u8> = (0..3000)
            .flat_map(|i| {
                format!(
                    "kube_pod_info{{namespace=\"ns-{}\",pod=\"p{i}\"}} 1\n",
                    i % 7
                )
                .into_bytes()
            })
            .collect();
        let (fast, thorough) = (
            piece_with(&text, Effort::Fast),
            piece_with(&text, Effort::Thorough),
        );
        assert!(thorough.bytes.len() < fast.bytes.len());
        let small = b"# HELP a A.\n";
        let mut gz = GzipStream::default();
        gz.push(&piece_with(small, Effort::Thorough));
        gz.push(&fast);
        gz.push(&thorough);
        gz.push(&piece(small));
        let chunks = gz.finish();
        assert_eq!(gunzip(&chunks), [&small[..], &text, &text, small].concat());
    }

    /// A seeded xorshift: the same cases on every run, many shapes of them.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Exposition-like text of about `len` bytes: repeated label sets, varying values.
    fn sample_text(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 80);
        while out.len() < len {
            let line = format!(
                "kube_thing_{}{{namespace=\"ns-{}\",name=\"t{}\"}} {}\n",
                rng.below(5),
                rng.below(9),
                rng.below(500),
                rng.next() % 1000
            );
            out.extend_from_slice(line.as_bytes());
        }
        out.truncate(len);
        out
    }

    /// Joins `pieces` into a body the way the full body is built: consecutive pieces grouped
    /// into runs (each compressed after the plain text before it), single pieces (after
    /// nothing), or stored ones, as `rng` decides.
    fn join_randomly(rng: &mut Rng, pieces: &[Vec<u8>]) -> Vec<Bytes> {
        let mut gz = GzipStream::default();
        let mut before: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < pieces.len() {
            let n = 1 + rng.below(4).min(pieces.len() - i - 1);
            let group: Vec<&[u8]> = pieces[i..i + n].iter().map(|p| &p[..]).collect();
            let effort = if rng.below(2) == 0 {
                Effort::Fast
            } else {
                Effort::Thorough
            };
            match rng.below(4) {
                0 => {
                    for p in &group {
                        gz.push(&piece_with(p, effort));
                    }
                }
                _ => gz.push(&run(&group, &before, effort)),
            }
            for p in &group {
                before.extend_from_slice(p);
            }
            i += n;
        }
        gz.finish()
    }

    #[test]
    fn runs_after_their_dictionaries_join_into_the_plain_body_for_random_piece_sequences() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for case in 0..60 {
            let count = rng.below(12);
            let mut pieces: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = match rng.below(6) {
                        0 => 0,
                        1 => WINDOW + 1 + rng.below(3 * WINDOW),
                        2 => 1 + rng.below(64),
                        _ => 1 + rng.below(WINDOW),
                    };
                    sample_text(&mut rng, len)
                })
                .collect();
            let plain = pieces.concat();
            assert_eq!(gunzip(&join_randomly(&mut rng, &pieces)), plain, "{case}");
            if pieces.is_empty() {
                continue;
            }
            // A change at the start, in the middle or at the end of the body: the body is
            // joined again with runs after the new text.
            let at = match rng.below(3) {
                0 => 0,
                1 => pieces.len() / 2,
                _ => pieces.len() - 1,
            };
            let len = rng.below(2 * WINDOW);
            pieces[at] = sample_text(&mut rng, len);
            assert_eq!(
                gunzip(&join_randomly(&mut rng, &pieces)),
                pieces.concat(),
                "{case}, changed at {at}"
            );
        }
    }

    #[test]
    fn a_run_refers_into_its_dictionary_and_is_smaller_for_it() {
        let mut rng = Rng(7);
        let before = sample_text(&mut rng, WINDOW);
        let text = sample_text(&mut rng, 4 * 1024);
        let alone = run(&[&text], &[], Effort::Thorough);
        let after = run(&[&text], &before, Effort::Thorough);
        assert!(after.bytes.len() < alone.bytes.len());
        let mut gz = GzipStream::default();
        gz.push(&piece_with(&before, Effort::Fast));
        gz.push(&after);
        assert_eq!(gunzip(&gz.finish()), [&before[..], &text].concat());
        // Only the last WINDOW bytes matter: a longer dictionary ending the same compresses
        // to the same bytes.
        let longer = [&sample_text(&mut rng, 5000)[..], &before].concat();
        assert_eq!(run(&[&text], &longer, Effort::Thorough).bytes, after.bytes);
        // Split into parts (an empty one too), the same text after the same dictionary.
        let (a, b) = text.split_at(1000);
        let split = run(&[a, &[], b], &before, Effort::Fast);
        assert_eq!(split.plain_len(), text.len());
        let mut gz = GzipStream::default();
        gz.push(&piece(&before));
        gz.push(&split);
        assert_eq!(gunzip(&gz.finish()), [&before[..], &text].concat());
        assert_eq!(run(&[&[], &[]], &before, Effort::Fast).plain_len(), 0);
    }

    #[test]
    fn a_body_with_no_pieces_is_an_empty_gzip_member() {
        assert!(gunzip(&GzipStream::default().finish()).is_empty());
    }

    #[test]
    fn incompressible_input_larger_than_the_first_guess_still_round_trips() {
        // Pseudo-random bytes do not shrink, so the output outgrows its first allocation.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let plain: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut gz = GzipStream::default();
        gz.push(&piece(&plain));
        assert_eq!(gunzip(&gz.finish()), plain);
    }
}
