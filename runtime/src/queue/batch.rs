//! [`Batch`]: the unit that travels through queues, and [`Lines`], its
//! pieces.
//!
//! # Why events are not handled one by one
//!
//! An event is a line. The obvious representation, one [`Bytes`] handle per
//! line, costs per event what a relay can least afford: an atomic reference
//! count increment when the line is cut out of the read buffer, another
//! decrement when it is written, a 32-byte handle to move through every
//! queue, and at the output a copy of the line next to its newline so the
//! kernel gets large slices. Profiled on 64-byte lines, that bookkeeping
//! cost more CPU than the system calls that move the bytes.
//!
//! So a batch holds its events *in their wire format*: a few [`Lines`]
//! pieces, each a `Bytes` view of complete lines, every line ending in its
//! `\n`, plus the number of lines in it. tcp.in cuts all complete lines of a
//! read off its buffer as one piece (no per-line handle), tcp.out hands the
//! pieces to `writev` as they are (no copy), and counters, capacities and
//! the in-flight count still count events, because each piece knows how many
//! it holds. Only modules that must look at single lines do so:
//! `roundrobin` copies each line into its member's piece (the one copy of
//! the event path), over-long lines are cut out at tcp.in, and recovery
//! after a failure splits pieces at line boundaries.
//!
//! # Invariants
//!
//! - every piece is non-empty, ends with `\n`, and `count` is exactly the
//!   number of `\n` in it (an empty event is a lone `\n`);
//! - a batch's `len()` is the sum of its pieces' counts.

use bytes::{Bytes, BytesMut};
use std::fmt;

/// Complete lines in one shared buffer: `count` events, each ending in `\n`.
#[derive(Clone, PartialEq, Eq)]
pub struct Lines {
    bytes: Bytes,
    count: usize,
}

impl Lines {
    /// Complete lines: `None` unless `bytes` is non-empty and ends with `\n`.
    /// Counts the lines.
    pub fn new(bytes: Bytes) -> Option<Lines> {
        if bytes.last() != Some(&b'\n') {
            return None;
        }
        let count = count_newlines(&bytes);
        Some(Lines { bytes, count })
    }

    /// Lines whose count the caller already knows (it found the `\n`s).
    pub(crate) fn counted(bytes: Bytes, count: usize) -> Lines {
        debug_assert!(bytes.last() == Some(&b'\n'));
        debug_assert_eq!(count, count_newlines(&bytes));
        Lines { bytes, count }
    }

    /// The lines with their newlines: exactly what goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Events in this piece.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes on the wire.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Splits after the first `n` lines (`0 < n < count`); `self` keeps the
    /// rest. Both halves share the buffer.
    fn split_to(&mut self, n: usize) -> Lines {
        let end = nth_newline(&self.bytes, n - 1).map_or(self.bytes.len(), |i| i + 1);
        let front = self.bytes.split_to(end);
        self.count -= n;
        Lines {
            bytes: front,
            count: n,
        }
    }
}

/// A batch of events: complete lines, in order, in a few shared pieces.
/// Two batches are equal when they hold the same events in the same order,
/// however the events are split into pieces.
#[derive(Clone, Default)]
pub struct Batch {
    pieces: Vec<Lines>,
    events: usize,
    bytes: usize,
}

impl Batch {
    /// An empty batch (allocates nothing).
    pub const fn new() -> Batch {
        Batch {
            pieces: Vec::new(),
            events: 0,
            bytes: 0,
        }
    }

    /// An empty batch with room for `pieces` pieces.
    pub fn with_capacity(pieces: usize) -> Batch {
        Batch {
            pieces: Vec::with_capacity(pieces),
            events: 0,
            bytes: 0,
        }
    }

    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.events
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    /// Bytes on the wire (every event with its newline).
    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    /// The pieces, in order.
    pub fn pieces(&self) -> &[Lines] {
        &self.pieces
    }

    /// Pieces the vector can hold without growing (for pooling).
    pub(crate) fn capacity(&self) -> usize {
        self.pieces.capacity()
    }

    /// Appends a piece.
    pub fn push(&mut self, lines: Lines) {
        self.events += lines.count;
        self.bytes += lines.bytes.len();
        self.pieces.push(lines);
    }

    /// Appends one event (a copy of `line`, which must not contain `\n`:
    /// the part after a `\n` would become an event of its own). For events
    /// made one at a time (metric lines, tests); readers use [`Lines`].
    pub fn push_line(&mut self, line: &[u8]) {
        let mut buf = BytesMut::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.extend_from_slice(b"\n");
        let count = count_newlines(&buf);
        self.push(Lines::counted(buf.freeze(), count));
    }

    /// Moves every event of `other` to the end of this batch.
    pub fn append(&mut self, other: &mut Batch) {
        self.events += std::mem::take(&mut other.events);
        self.bytes += std::mem::take(&mut other.bytes);
        self.pieces.append(&mut other.pieces);
    }

    /// Adds every event of `other` to the end of this batch, sharing the
    /// buffers (a reference count per piece, not per event).
    pub fn extend_from(&mut self, other: &Batch) {
        self.events += other.events;
        self.bytes += other.bytes;
        self.pieces.extend(other.pieces.iter().cloned());
    }

    /// Drops every event, keeping the vector's capacity.
    pub fn clear(&mut self) {
        self.pieces.clear();
        self.events = 0;
        self.bytes = 0;
    }

    /// Moves the first `n` events (all when `n >= len()`) into a new batch;
    /// `self` keeps the rest. Splits at most one piece.
    pub fn split_to(&mut self, n: usize) -> Batch {
        if n >= self.events {
            return std::mem::take(self);
        }
        let mut front = Batch::new();
        let mut whole = 0;
        let mut taken = 0;
        for piece in &self.pieces {
            if taken + piece.count > n {
                break;
            }
            taken += piece.count;
            whole += 1;
        }
        for piece in self.pieces.drain(..whole) {
            front.push(piece);
        }
        if taken < n {
            front.push(self.pieces[0].split_to(n - taken));
        }
        self.events -= front.events;
        self.bytes -= front.bytes;
        front
    }

    /// How many whole events the first `bytes` wire bytes hold.
    pub fn events_within(&self, mut bytes: usize) -> usize {
        let mut events = 0;
        for piece in &self.pieces {
            if bytes >= piece.bytes.len() {
                bytes -= piece.bytes.len();
                events += piece.count;
            } else {
                return events + count_newlines(&piece.bytes[..bytes]);
            }
        }
        events
    }

    /// Every event, without its newline, in order.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.pieces
            .iter()
            .flat_map(|piece| piece_lines(&piece.bytes))
    }

    /// Every event as its own `Bytes` (a view, no copy); for tests and
    /// diagnostics, not for the event path.
    pub fn to_vec(&self) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.events);
        for piece in &self.pieces {
            let mut start = 0;
            for end in super::Newlines::new(&piece.bytes) {
                out.push(piece.bytes.slice(start..end));
                start = end + 1;
            }
        }
        out
    }
}

/// The lines of a piece, without their newlines.
fn piece_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    super::Newlines::new(bytes).map(move |end| {
        let line = &bytes[start..end];
        start = end + 1;
        line
    })
}

/// Builds a batch of copies of `lines` (each without its newline), in one
/// piece.
impl<T: AsRef<[u8]>> FromIterator<T> for Batch {
    fn from_iter<I: IntoIterator<Item = T>>(lines: I) -> Batch {
        let mut buf = BytesMut::new();
        let mut count = 0;
        for line in lines {
            buf.extend_from_slice(line.as_ref());
            buf.extend_from_slice(b"\n");
            count += 1;
        }
        let mut batch = Batch::new();
        if count > 0 {
            // A line containing `\n` is more than one event.
            let count = count_newlines(&buf);
            batch.push(Lines::counted(buf.freeze(), count));
        }
        batch
    }
}

impl PartialEq for Batch {
    fn eq(&self, other: &Batch) -> bool {
        self.events == other.events && self.events().eq(other.events())
    }
}

impl Eq for Batch {}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.events()
                    .map(|e| String::from_utf8_lossy(e).into_owned()),
            )
            .finish()
    }
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Lines({} events, {} bytes)",
            self.count,
            self.bytes.len()
        )
    }
}

/// Number of `\n` in `bytes`: the hot loop of tcp.in. `bytecount` picks
/// AVX2 or SSE at run time; the obvious `filter().count()` measured several
/// times slower (it widens every byte to a 64-bit sum).
pub(crate) fn count_newlines(bytes: &[u8]) -> usize {
    bytecount::count(bytes, b'\n')
}

/// Position of the `n`-th (0-based) `\n` in `bytes`.
fn nth_newline(bytes: &[u8], n: usize) -> Option<usize> {
    memchr::memchr_iter(b'\n', bytes).nth(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(lines: &[&str]) -> Batch {
        lines.iter().collect()
    }

    fn strings(b: &Batch) -> Vec<String> {
        b.events()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn lines_must_end_with_a_newline() {
        assert!(Lines::new(Bytes::from_static(b"a\nb")).is_none());
        assert!(Lines::new(Bytes::new()).is_none());
        let l = Lines::new(Bytes::from_static(b"a\n\nb\n")).unwrap();
        assert_eq!(l.count(), 3);
    }

    #[test]
    fn counts_events_and_bytes_across_pieces() {
        let mut b = batch(&["ab", "", "c"]);
        b.append(&mut batch(&["def"]));
        assert_eq!((b.len(), b.byte_len(), b.pieces().len()), (4, 10, 2));
        assert_eq!(strings(&b), ["ab", "", "c", "def"]);
    }

    #[test]
    fn split_to_cuts_inside_a_piece_and_keeps_order() {
        let mut b = batch(&["a", "b", "c"]);
        b.append(&mut batch(&["d", "e"]));
        for n in 0..=6 {
            let mut rest = b.clone();
            let front = rest.split_to(n);
            let all: Vec<String> = strings(&front).into_iter().chain(strings(&rest)).collect();
            assert_eq!(all, ["a", "b", "c", "d", "e"], "n = {n}");
            assert_eq!(front.len(), n.min(5));
            assert_eq!(front.byte_len() + rest.byte_len(), 10);
        }
    }

    #[test]
    fn events_within_counts_whole_lines_only() {
        let mut b = batch(&["ab", ""]);
        b.append(&mut batch(&["cde"]));
        let want = [0, 0, 0, 1, 2, 2, 2, 2, 3, 3];
        for (bytes, &events) in want.iter().enumerate() {
            assert_eq!(b.events_within(bytes), events, "{bytes} bytes");
        }
    }

    #[test]
    fn a_line_with_a_newline_is_two_events() {
        let b = batch(&["a\nb"]);
        assert_eq!(b.len(), 2);
        let mut p = Batch::new();
        p.push_line(b"x\ny");
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn counts_newlines_across_blocks_and_remainders() {
        for len in [0, 1, 15, 16, 4079, 4080, 4081, 10_000] {
            for every in [1, 2, 7, 64] {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| if i % every == 0 { b'\n' } else { b'x' })
                    .collect();
                let want = bytes.iter().filter(|&&b| b == b'\n').count();
                assert_eq!(count_newlines(&bytes), want, "len {len}, every {every}");
            }
        }
    }

    #[test]
    fn equal_means_the_same_events_whatever_the_pieces() {
        let mut two = batch(&["a", "b"]);
        two.append(&mut batch(&["c"]));
        assert_eq!(two, batch(&["a", "b", "c"]));
        assert_ne!(two, batch(&["a", "b", "d"]));
        assert_ne!(two, batch(&["a", "b"]));
    }

    #[test]
    fn to_vec_gives_views_of_every_event() {
        let b = batch(&["x", "", "yz"]);
        assert_eq!(
            b.to_vec(),
            [
                Bytes::from_static(b"x"),
                Bytes::new(),
                Bytes::from_static(b"yz")
            ]
        );
    }
}
