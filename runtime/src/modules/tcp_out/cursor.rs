//! Where a vectored write of a batch stands.
//!
//! A batch is already in wire format (complete lines, each with its `\n`, in
//! a few shared pieces; see [`crate::queue::Batch`]), so tcp.out hands the
//! pieces to `writev` as they are: no copy, no per-line work. A socket takes
//! any number of bytes per call, so the cursor records how far the batch
//! got, in bytes; the events before it are the whole lines in those bytes.
//! When the connection fails, exactly the events not wholly written are
//! "not known to be written" and go to the `failed` queue or are kept for
//! retry.

use std::io::IoSlice;

use crate::queue::Batch;

/// Slices per `writev`. A batch usually has one piece per read of its
/// producer (or per deal of a roundrobin), so a handful; more pieces take
/// more calls. Small on purpose: the slice array is set up on every call,
/// and Linux's `IOV_MAX` of 1024 made that 16 KiB of stores per `writev`,
/// which showed in profiles at high event rates.
pub const MAX_SLICES: usize = 64;

/// Progress of writing one batch: `offset` bytes of piece `piece` are
/// written, and every piece before it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteCursor {
    pub piece: usize,
    pub offset: usize,
    /// Bytes of the batch written.
    pub written: usize,
}

impl WriteCursor {
    pub fn is_done(&self, batch: &Batch) -> bool {
        self.piece >= batch.pieces().len()
    }

    /// Events wholly written (with their newline).
    pub fn events(&self, batch: &Batch) -> usize {
        if self.is_done(batch) {
            batch.len()
        } else {
            batch.events_within(self.written)
        }
    }

    /// Whether an event has been started but not finished (a fragment of it
    /// is in the socket).
    pub fn mid_event(&self, batch: &Batch) -> bool {
        self.offset > 0
            && batch
                .pieces()
                .get(self.piece)
                .is_some_and(|p| p.as_bytes()[self.offset - 1] != b'\n')
    }

    /// The unwritten bytes, one slice per piece; returns how many slices.
    pub fn slices<'a>(&self, batch: &'a Batch, iov: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, piece) in batch.pieces().iter().enumerate().skip(self.piece) {
            if n == iov.len() {
                break;
            }
            let from = if i == self.piece { self.offset } else { 0 };
            iov[n] = IoSlice::new(&piece.as_bytes()[from..]);
            n += 1;
        }
        n
    }

    /// The rest of the event at the cursor, its newline included, and
    /// nothing more: used to complete a started event.
    pub fn rest_of_event<'a>(&self, batch: &'a Batch) -> &'a [u8] {
        let Some(piece) = batch.pieces().get(self.piece) else {
            return &[];
        };
        let rest = &piece.as_bytes()[self.offset..];
        match memchr::memchr(b'\n', rest) {
            Some(end) => &rest[..=end],
            None => rest,
        }
    }

    /// Records that the socket accepted `written` more bytes.
    pub fn advance(&mut self, batch: &Batch, mut written: usize) {
        self.written += written;
        while written > 0 {
            let Some(piece) = batch.pieces().get(self.piece) else {
                break;
            };
            let left = piece.byte_len() - self.offset;
            if written >= left {
                written -= left;
                self.piece += 1;
                self.offset = 0;
            } else {
                self.offset += written;
                written = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pieces: &[&[&str]]) -> Batch {
        let mut b = Batch::new();
        for p in pieces {
            b.append(&mut p.iter().collect());
        }
        b
    }

    fn rest(c: &WriteCursor, b: &Batch) -> Vec<u8> {
        let mut iov = [IoSlice::new(&[]); MAX_SLICES];
        let n = c.slices(b, &mut iov);
        iov[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn whole_batch_is_its_pieces_as_they_are() {
        let b = batch(&[&["ab", ""], &["c"]]);
        assert_eq!(rest(&WriteCursor::default(), &b), b"ab\n\nc\n");
    }

    #[test]
    fn partial_write_resumes_mid_event() {
        let b = batch(&[&["abc"], &["de"]]);
        let mut c = WriteCursor::default();
        c.advance(&b, 2);
        assert!(c.mid_event(&b));
        assert_eq!(c.events(&b), 0);
        assert_eq!(rest(&c, &b), b"c\nde\n");
        assert_eq!(c.rest_of_event(&b), b"c\n");
        c.advance(&b, 1);
        assert!(c.mid_event(&b), "newline of the first event still missing");
        c.advance(&b, 1);
        assert!(!c.mid_event(&b));
        assert_eq!((c.piece, c.offset, c.events(&b)), (1, 0, 1));
        c.advance(&b, 3);
        assert!(c.is_done(&b));
        assert_eq!((c.written, c.events(&b)), (7, 2));
    }

    #[test]
    fn any_split_of_writes_gives_the_exact_wire_bytes() {
        let b = batch(&[&["one", "", "three"], &["4"], &["", "", "seven"]]);
        let wire: Vec<u8> = b
            .pieces()
            .iter()
            .flat_map(|p| p.as_bytes().to_vec())
            .collect();
        for step in 1..=wire.len() {
            let mut c = WriteCursor::default();
            let mut out = Vec::new();
            for _ in 0..=wire.len() {
                if c.is_done(&b) {
                    break;
                }
                let next = rest(&c, &b);
                let take = step.min(next.len());
                out.extend_from_slice(&next[..take]);
                c.advance(&b, take);
                assert_eq!(c.events(&b), b.events_within(c.written));
            }
            assert_eq!(out, wire, "step {step}");
        }
    }
}
