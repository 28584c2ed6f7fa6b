//! Splitting a byte stream into line events without copying.
//!
//! A reader appends socket data to one [`BytesMut`] and hands it to
//! [`LineFramer::split`] after every read. Every complete line is cut off the
//! front of the buffer with `split_to(..).freeze()`: the event is a [`Bytes`]
//! view into the same allocation, so the line is never copied between the
//! socket and the output. Only the unterminated tail stays in the buffer.
//!
//! Rules (they are the event format of the whole proxy):
//! - an event is the bytes between two `\n`, without the `\n`; a `\r` before
//!   the `\n` is part of the event, and bytes are never checked for UTF-8;
//! - an empty line is an empty event;
//! - a line longer than `max_line` bytes is dropped and counted; the framer
//!   then discards input up to the next `\n` (resynchronises), so a client
//!   sending an endless line costs at most `max_line` plus one read of memory;
//! - at end of stream, [`LineFramer::finish`] emits an unterminated last line.

use bytes::{Buf, Bytes, BytesMut};

/// Per-stream state of the line splitter (one per client connection).
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Bytes at the front of the buffer already known to hold no `\n`, so a
    /// long line arriving in many reads is scanned once, not once per read.
    scanned: usize,
    /// Inside an over-long line: everything up to the next `\n` is discarded.
    discarding: bool,
}

impl LineFramer {
    pub fn new(max_line: u64) -> Self {
        LineFramer {
            max_line: usize::try_from(max_line).unwrap_or(usize::MAX),
            scanned: 0,
            discarding: false,
        }
    }

    /// Moves every complete line at the front of `buf` into `out` and returns
    /// how many over-long lines were dropped. The unterminated tail stays in
    /// `buf` (or is discarded when it already exceeds `max_line`).
    pub fn split(&mut self, buf: &mut BytesMut, out: &mut Vec<Bytes>) -> u64 {
        let mut dropped = 0;
        while let Some(i) = memchr::memchr(b'\n', &buf[self.scanned..]) {
            let end = self.scanned + i;
            self.scanned = 0;
            if self.discarding || end > self.max_line {
                self.discarding = false;
                buf.advance(end + 1);
                dropped += 1;
            } else {
                // One split with the newline, then a truncate (no atomic, no
                // call into the buffer's bookkeeping) to drop it.
                let mut line = buf.split_to(end + 1).freeze();
                line.truncate(end);
                out.push(line);
            }
        }
        if self.discarding || buf.len() > self.max_line {
            // The line is already too long: keep no more of it than one read.
            self.discarding = true;
            buf.clear();
            self.scanned = 0;
        } else {
            self.scanned = buf.len();
        }
        dropped
    }

    /// End of stream: emits the unterminated last line, if any, into `out`.
    /// Returns 1 when that last line was over-long (and so dropped), else 0.
    pub fn finish(&mut self, buf: &mut BytesMut, out: &mut Vec<Bytes>) -> u64 {
        let dropped = self.split(buf, out);
        let discarding = std::mem::replace(&mut self.discarding, false);
        self.scanned = 0;
        if discarding {
            buf.clear();
            return dropped + 1;
        }
        if !buf.is_empty() {
            out.push(buf.split().freeze());
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one read at a time; returns (events, dropped).
    fn frame(max_line: u64, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
        let mut framer = LineFramer::new(max_line);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut dropped = 0;
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            dropped += framer.split(&mut buf, &mut out);
        }
        dropped += framer.finish(&mut buf, &mut out);
        (out.iter().map(|b| b.to_vec()).collect(), dropped)
    }

    fn lines(ls: &[&[u8]]) -> Vec<Vec<u8>> {
        ls.iter().map(|l| l.to_vec()).collect()
    }

    #[test]
    fn splits_on_newline_without_delimiter() {
        let (ev, d) = frame(100, &[b"a\nbb\nccc\n"]);
        assert_eq!(ev, lines(&[b"a", b"bb", b"ccc"]));
        assert_eq!(d, 0);
    }

    #[test]
    fn line_spread_over_reads_is_joined() {
        let (ev, d) = frame(100, &[b"he", b"ll", b"o\nwor", b"ld\n"]);
        assert_eq!(ev, lines(&[b"hello", b"world"]));
        assert_eq!(d, 0);
    }

    #[test]
    fn partial_last_line_is_emitted_at_end() {
        let (ev, _) = frame(100, &[b"a\nlast"]);
        assert_eq!(ev, lines(&[b"a", b"last"]));
    }

    #[test]
    fn terminated_input_gives_no_trailing_empty_event() {
        let (ev, _) = frame(100, &[b"a\n"]);
        assert_eq!(ev, lines(&[b"a"]));
    }

    #[test]
    fn empty_lines_are_empty_events() {
        let (ev, _) = frame(100, &[b"\n\nx\n\n"]);
        assert_eq!(ev, lines(&[b"", b"", b"x", b""]));
    }

    #[test]
    fn crlf_keeps_the_carriage_return() {
        let (ev, _) = frame(100, &[b"a\r\nb\r\n"]);
        assert_eq!(ev, lines(&[b"a\r", b"b\r"]));
    }

    #[test]
    fn binary_bytes_pass_through() {
        let (ev, _) = frame(100, &[b"\xff\xfe\x00\x80\n\x00\n"]);
        assert_eq!(ev, lines(&[b"\xff\xfe\x00\x80", b"\x00"]));
    }

    #[test]
    fn line_of_exactly_max_line_is_kept() {
        let (ev, d) = frame(4, &[b"abcd\n"]);
        assert_eq!(ev, lines(&[b"abcd"]));
        assert_eq!(d, 0);
    }

    #[test]
    fn overlong_line_in_one_read_is_dropped_and_counted() {
        let (ev, d) = frame(4, &[b"ok\nabcde\nfine\n"]);
        assert_eq!(ev, lines(&[b"ok", b"fine"]));
        assert_eq!(d, 1);
    }

    #[test]
    fn overlong_line_over_many_reads_resyncs_at_next_newline() {
        let (ev, d) = frame(4, &[b"ok\nabc", b"defgh", b"ijklmn", b"op\nnext\n"]);
        assert_eq!(ev, lines(&[b"ok", b"next"]));
        assert_eq!(d, 1);
    }

    #[test]
    fn overlong_discarding_bounds_the_buffer() {
        let mut framer = LineFramer::new(8);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'x'; 64]);
            assert_eq!(framer.split(&mut buf, &mut out), 0);
            assert!(buf.is_empty(), "over-long line is not accumulated");
        }
        buf.extend_from_slice(b"tail\nz\n");
        assert_eq!(framer.split(&mut buf, &mut out), 1);
        assert_eq!(out, vec![Bytes::from_static(b"z")]);
    }

    #[test]
    fn overlong_unterminated_last_line_is_dropped_at_end() {
        let (ev, d) = frame(4, &[b"ok\nabcdefgh"]);
        assert_eq!(ev, lines(&[b"ok"]));
        assert_eq!(d, 1);
    }

    #[test]
    fn events_share_the_read_buffer() {
        let mut framer = LineFramer::new(100);
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"one\ntwo\n");
        let start = buf.as_ptr() as usize;
        let mut out = Vec::new();
        framer.split(&mut buf, &mut out);
        assert_eq!(out[0].as_ptr() as usize, start, "no copy of the first line");
        assert_eq!(
            out[1].as_ptr() as usize,
            start + 4,
            "no copy of the second line"
        );
    }
}
