//! Laying out the bytes of one `writev`: short events copied into a reused
//! staging buffer, long ones referenced where they are.
//!
//! The wire format is `event, "\n", event, "\n", ...`. Giving the kernel one
//! slice per event and one per newline costs it a per-segment step for every
//! 64-byte line: profiled on loopback, that copy loop took over a third of
//! the proxy's CPU, ten times the cost of reading the same bytes. Copying a
//! short event next to its newline in user space is a few nanoseconds, so
//! runs of short events become one large slice of the staging buffer; an
//! event longer than [`COPY_MAX`] is still written from its own buffer (its
//! copy would cost more than the segment).
//!
//! A [`Frame`] covers the unwritten part of a batch from a [`WriteCursor`]
//! position, up to [`FRAME_BYTES`] of staged bytes. The bytes it yields are
//! exactly those [`WriteCursor`] accounts for, so event-exact progress (what
//! is known to be in the socket when a connection fails) is unchanged.

use bytes::Bytes;
use std::io::IoSlice;

use super::cursor::{WriteCursor, MAX_SLICES};

/// Events up to this length are copied into the staging buffer.
pub const COPY_MAX: usize = 4096;

/// A frame stops taking events once this many bytes are staged: about one
/// kernel send buffer ([`super::SEND_BUFFER`]), so a fast peer takes a whole
/// frame per system call (measured: 6-15% less CPU than 64 KiB frames).
pub const FRAME_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy)]
enum Piece {
    /// `staged[start..end]`.
    Staged { start: usize, end: usize },
    /// `events[index][from..]`, written from the event's own buffer.
    Event { index: usize, from: usize },
}

/// The next bytes to write, and how many of them are written.
#[derive(Debug, Default)]
pub struct Frame {
    staged: Vec<u8>,
    pieces: Vec<Piece>,
    /// Bytes the frame covers.
    len: usize,
    /// Bytes of it the socket accepted.
    written: usize,
}

impl Frame {
    /// Whether every byte of the frame is written (or it was never filled).
    pub fn is_written(&self) -> bool {
        self.written >= self.len
    }

    /// Empties the frame (it then counts as written).
    pub fn clear(&mut self) {
        self.staged.clear();
        self.pieces.clear();
        self.len = 0;
        self.written = 0;
    }

    /// Lays out the unwritten rest of `events` from `cursor`, as much as fits
    /// into one frame.
    pub fn fill(&mut self, events: &[Bytes], cursor: &WriteCursor) {
        self.clear();
        let mut offset = cursor.offset;
        // Start of the staged run not yet recorded as a piece.
        let mut run = 0;
        for (index, event) in events.iter().enumerate().skip(cursor.event) {
            // A long event closes a run and opens the next: up to 3 pieces.
            if self.staged.len() >= FRAME_BYTES || self.pieces.len() + 3 > MAX_SLICES {
                break;
            }
            let rest = &event[offset.min(event.len())..];
            if rest.len() <= COPY_MAX {
                self.staged.extend_from_slice(rest);
            } else {
                self.close_run(run);
                self.pieces.push(Piece::Event {
                    index,
                    from: offset.min(event.len()),
                });
                run = self.staged.len();
            }
            self.staged.push(b'\n');
            self.len += rest.len() + 1;
            offset = 0;
        }
        self.close_run(run);
    }

    fn close_run(&mut self, start: usize) {
        if self.staged.len() > start {
            self.pieces.push(Piece::Staged {
                start,
                end: self.staged.len(),
            });
        }
    }

    /// Fills `iov` with the frame's unwritten bytes; returns how many slices.
    pub fn slices<'a>(&'a self, events: &'a [Bytes], iov: &mut [IoSlice<'a>]) -> usize {
        let mut skip = self.written;
        let mut n = 0;
        for piece in &self.pieces {
            if n == iov.len() {
                break;
            }
            let bytes: &[u8] = match *piece {
                Piece::Staged { start, end } => &self.staged[start..end],
                Piece::Event { index, from } => &events[index][from..],
            };
            if skip >= bytes.len() {
                skip -= bytes.len();
                continue;
            }
            iov[n] = IoSlice::new(&bytes[skip..]);
            skip = 0;
            n += 1;
        }
        n
    }

    /// Records that the socket accepted `written` more bytes of the frame.
    pub fn advance(&mut self, written: usize) {
        self.written += written;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(events: &[Bytes]) -> Vec<u8> {
        events
            .iter()
            .flat_map(|e| e.iter().copied().chain([b'\n']))
            .collect()
    }

    /// Writes `events` through frames, accepting at most `step` bytes per
    /// "write"; returns the bytes written and the slices used per write.
    fn write_all(events: &[Bytes], step: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut cursor = WriteCursor::default();
        let mut frame = Frame::default();
        let mut max_slices = 0;
        // Every write moves at least one byte.
        for _ in 0..=wire(events).len() {
            if cursor.is_done(events) {
                break;
            }
            if frame.is_written() {
                frame.fill(events, &cursor);
            }
            let mut iov = [IoSlice::new(&[]); MAX_SLICES];
            let n = frame.slices(events, &mut iov);
            max_slices = max_slices.max(n);
            let mut written = 0;
            for s in &iov[..n] {
                let take = s.len().min(step - written);
                out.extend_from_slice(&s[..take]);
                written += take;
                if written == step {
                    break;
                }
            }
            cursor.advance(events, written);
            frame.advance(written);
        }
        assert!(cursor.is_done(events), "every event written");
        (out, max_slices)
    }

    fn mixed(count: usize) -> Vec<Bytes> {
        (0..count)
            .map(|i| match i % 7 {
                0 => Bytes::from(vec![b'L'; COPY_MAX + 1 + i % 50]),
                1 => Bytes::new(),
                _ => Bytes::from(format!("short event {i}")),
            })
            .collect()
    }

    #[test]
    fn short_events_share_one_slice() {
        let events: Vec<Bytes> = (0..500).map(|i| Bytes::from(format!("e{i}"))).collect();
        let (out, slices) = write_all(&events, usize::MAX);
        assert_eq!(out, wire(&events));
        assert_eq!(slices, 1, "500 short events in one staged slice");
    }

    #[test]
    fn long_events_are_referenced_not_copied() {
        let long = Bytes::from(vec![b'x'; COPY_MAX + 1]);
        let events = vec![
            Bytes::from_static(b"a"),
            long.clone(),
            Bytes::from_static(b"b"),
        ];
        let mut frame = Frame::default();
        frame.fill(&events, &WriteCursor::default());
        let mut iov = [IoSlice::new(&[]); MAX_SLICES];
        let n = frame.slices(&events, &mut iov);
        assert_eq!(n, 3, "\"a\\n\", the long event, \"\\nb\\n\"");
        assert_eq!(
            iov[1].as_ptr(),
            long.as_ptr(),
            "written from its own buffer"
        );
        assert_eq!(&iov[2][..], b"\nb\n");
    }

    #[test]
    fn any_split_of_writes_gives_the_exact_wire_bytes() {
        for step in [1, 2, 3, 7, 64, 1000, 4097, 65_536, usize::MAX] {
            // Fewer events for tiny steps: each step is one simulated write.
            let events = mixed(if step < 64 { 40 } else { 3000 });
            let (out, slices) = write_all(&events, step);
            assert_eq!(out, wire(&events), "step {step}");
            assert!(slices <= MAX_SLICES);
        }
    }

    #[test]
    fn many_long_events_stay_within_iov_max() {
        let events: Vec<Bytes> = (0..1500)
            .map(|_| Bytes::from(vec![b'y'; COPY_MAX + 1]))
            .collect();
        let (out, slices) = write_all(&events, usize::MAX);
        assert_eq!(out, wire(&events));
        assert!(slices <= MAX_SLICES, "{slices} slices");
    }

    #[test]
    fn a_frame_resumes_mid_event_from_the_cursor() {
        let events = vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")];
        let mut cursor = WriteCursor::default();
        cursor.advance(&events, 2);
        let mut frame = Frame::default();
        frame.fill(&events, &cursor);
        let mut iov = [IoSlice::new(&[]); MAX_SLICES];
        let n = frame.slices(&events, &mut iov);
        let bytes: Vec<u8> = iov[..n].iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(bytes, b"c\nde\n");
    }
}
