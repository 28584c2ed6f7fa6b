//! Splitting a byte stream into line events without copying.
//!
//! A reader appends socket data to one [`BytesMut`] and hands it to
//! [`LineFramer::split`] after every read. Every complete line is cut off the
//! front of the buffer: the complete lines of one read leave it as one frozen
//! piece ([`Lines`]), a view into the same allocation, so a line is never
//! copied between the socket and the output and no line gets a handle of its
//! own (see [`crate::queue::Batch`]). Only the unterminated tail stays in the
//! buffer.
//!
//! A call hands out at most `limit` events (the outbox's capacity, which
//! counts events). Complete lines past the limit stay in the framer as one
//! `Bytes` and are handed out first by the next call; the reader calls
//! again, without reading, while [`LineFramer::has_pending`] says lines are
//! waiting.
//!
//! Rules (they are the event format of the whole proxy):
//! - an event is the bytes between two `\n`, without the `\n`; a `\r` before
//!   the `\n` is part of the event, and bytes are never checked for UTF-8;
//! - an empty line is an empty event;
//! - a line longer than `max_line` bytes is dropped and counted (cut out of
//!   its piece); the framer then discards input up to the next `\n`
//!   (resynchronises), so a client sending an endless line costs at most
//!   `max_line` plus one read of memory;
//! - at end of stream, [`LineFramer::finish`] emits an unterminated last line
//!   (with a `\n` added: on the wire every event ends in one).

use bytes::{Bytes, BytesMut};

use crate::queue::{count_newlines, Batch, Lines};

/// Per-stream state of the line splitter (one per client connection).
#[derive(Debug)]
pub struct LineFramer {
    max_line: usize,
    /// Bytes at the front of the buffer already known to hold no `\n`, so a
    /// long line arriving in many reads is scanned once, not once per read.
    scanned: usize,
    /// Inside an over-long line: everything up to the next `\n` in the
    /// buffer is discarded. (It never applies to `pending`, which comes
    /// before the buffer in the stream and holds only complete lines.)
    discarding: bool,
    /// Complete lines (each ending in `\n`) cut off the buffer but not
    /// handed out yet because the limit was reached; they come first.
    pending: Bytes,
}

impl LineFramer {
    pub fn new(max_line: u64) -> Self {
        LineFramer {
            max_line: usize::try_from(max_line).unwrap_or(usize::MAX),
            scanned: 0,
            discarding: false,
            pending: Bytes::new(),
        }
    }

    /// Whether complete lines already cut off the buffer are waiting: call
    /// [`split`](Self::split) (or [`finish`](Self::finish)) again before
    /// reading more.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Moves complete lines into `out`, at most `limit` of them (at least
    /// one), the waiting ones first, and returns how many over-long lines
    /// were dropped. The unterminated tail stays in `buf` (or is discarded
    /// when it already exceeds `max_line`).
    pub fn split(&mut self, buf: &mut BytesMut, out: &mut Batch, limit: usize) -> u64 {
        let mut room = limit.max(1);
        let mut dropped = 0;
        if self.has_pending() {
            let pending = std::mem::take(&mut self.pending);
            dropped += self.hand_out(pending, 0, false, &mut room, out);
            if self.has_pending() || room == 0 {
                // The buffer is left alone (its lines come after these), so
                // `scanned` and `discarding` still describe it.
                return dropped;
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', &buf[self.scanned..]) {
            // Every complete line leaves the buffer in one piece: one split
            // of the buffer per read.
            // The first line's start was scanned already: no `\n` in it.
            let from = std::mem::take(&mut self.scanned);
            let chunk = buf.split_to(from + last + 1).freeze();
            let discard_first = std::mem::take(&mut self.discarding);
            dropped += self.hand_out(chunk, from, discard_first, &mut room, out);
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

    /// Hands out the lines of `chunk` (complete lines; no `\n` before
    /// `from`) while `room` lasts; what is left becomes `pending`. With
    /// `discard_first` the first line is the end of an over-long one.
    fn hand_out(
        &mut self,
        mut chunk: Bytes,
        from: usize,
        discard_first: bool,
        room: &mut usize,
        out: &mut Batch,
    ) -> u64 {
        // No line of a chunk this short can be over-long: count, don't look
        // at each line (the common case, and the hot loop of the proxy).
        if !discard_first && chunk.len() <= self.max_line {
            let count = count_newlines(&chunk[from..]);
            if count <= *room {
                *room -= count;
                out.push(Lines::counted(chunk, count));
            } else {
                let end = memchr::memchr_iter(b'\n', &chunk[from..])
                    .nth(*room - 1)
                    .map_or(chunk.len(), |i| from + i + 1);
                out.push(Lines::counted(chunk.split_to(end), *room));
                *room = 0;
                self.pending = chunk;
            }
            return 0;
        }
        self.hand_out_checked(chunk, from, discard_first, room, out)
    }

    /// [`hand_out`](Self::hand_out) looking at every line: drops the
    /// over-long ones and hands out the runs of lines between them.
    fn hand_out_checked(
        &mut self,
        chunk: Bytes,
        from: usize,
        mut discard_first: bool,
        room: &mut usize,
        out: &mut Batch,
    ) -> u64 {
        let mut dropped = 0;
        let mut start = 0;
        // The run of kept lines not handed out yet: chunk[run..start].
        let mut run = 0;
        let mut run_count = 0;
        let flush = |run: usize, end: usize, count: &mut usize, out: &mut Batch| {
            if *count > 0 {
                out.push(Lines::counted(chunk.slice(run..end), *count));
                *count = 0;
            }
        };
        for end in memchr::memchr_iter(b'\n', &chunk[from..]) {
            let end = from + end;
            if discard_first || end - start > self.max_line {
                discard_first = false;
                dropped += 1;
                flush(run, start, &mut run_count, out);
                run = end + 1;
            } else {
                run_count += 1;
                *room -= 1;
            }
            start = end + 1;
            if *room == 0 {
                break;
            }
        }
        flush(run, start, &mut run_count, out);
        if start < chunk.len() {
            self.pending = chunk.slice(start..);
        }
        dropped
    }

    /// End of stream: hands out the waiting lines and then the unterminated
    /// last line, if any, at most `limit` events a call; call it again until
    /// [`is_finished`](Self::is_finished). Returns how many over-long lines
    /// were dropped (an over-long last line included).
    pub fn finish(&mut self, buf: &mut BytesMut, out: &mut Batch, limit: usize) -> u64 {
        let before = out.len();
        let dropped = self.split(buf, out, limit);
        if self.has_pending() || out.len() - before >= limit.max(1) {
            // The last line comes after these: next call.
            return dropped;
        }
        self.scanned = 0;
        if std::mem::take(&mut self.discarding) {
            buf.clear();
            return dropped + 1;
        }
        if !buf.is_empty() {
            buf.extend_from_slice(b"\n");
            out.push(Lines::counted(buf.split().freeze(), 1));
        }
        dropped
    }

    /// Whether [`finish`](Self::finish) has handed out (or counted as
    /// dropped) everything: no waiting lines, no last line in `buf`.
    pub fn is_finished(&self, buf: &BytesMut) -> bool {
        !self.has_pending() && !self.discarding && buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one read at a time; returns (events, dropped).
    fn frame(max_line: u64, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
        frame_limited(max_line, usize::MAX, chunks)
    }

    /// Like [`frame`], handing out at most `limit` events a call the way
    /// tcp.in does: after each read, split again while lines are waiting;
    /// at the end, finish until finished. Checks every call's limit.
    fn frame_limited(max_line: u64, limit: usize, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
        let mut framer = LineFramer::new(max_line);
        let mut buf = BytesMut::new();
        let mut events = Vec::new();
        let mut dropped = 0;
        let take = |out: Batch, events: &mut Vec<Vec<u8>>| {
            let most = limit.max(1);
            assert!(
                out.len() <= most,
                "{} events over a limit of {most}",
                out.len()
            );
            events.extend(out.events().map(|b| b.to_vec()));
        };
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            for calls in 0.. {
                assert!(calls <= chunk.len(), "split does not progress");
                let mut out = Batch::new();
                dropped += framer.split(&mut buf, &mut out, limit);
                take(out, &mut events);
                if !framer.has_pending() {
                    break;
                }
            }
        }
        for calls in 0.. {
            assert!(
                calls <= 1 + events.len() + buf.len(),
                "finish does not progress"
            );
            let mut out = Batch::new();
            dropped += framer.finish(&mut buf, &mut out, limit);
            take(out, &mut events);
            if framer.is_finished(&buf) {
                break;
            }
        }
        (events, dropped)
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
        let mut out = Batch::new();
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'x'; 64]);
            assert_eq!(framer.split(&mut buf, &mut out, usize::MAX), 0);
            assert!(buf.is_empty(), "over-long line is not accumulated");
        }
        buf.extend_from_slice(b"tail\nz\n");
        assert_eq!(framer.split(&mut buf, &mut out, usize::MAX), 1);
        assert_eq!(out.to_vec(), vec![Bytes::from_static(b"z")]);
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
        let mut out = Batch::new();
        framer.split(&mut buf, &mut out, usize::MAX);
        assert_eq!(out.pieces().len(), 1, "one piece per read");
        assert_eq!(offsets(&out, start), vec![0, 4], "no copy of the lines");
    }

    /// Where each event of `out` starts, relative to the read buffer's start.
    fn offsets(out: &Batch, start: usize) -> Vec<usize> {
        out.to_vec()
            .iter()
            .map(|b| b.as_ptr() as usize - start)
            .collect()
    }

    #[test]
    fn split_hands_out_at_most_limit_and_keeps_the_rest_in_order() {
        let mut framer = LineFramer::new(100);
        let mut buf = BytesMut::from(&b"a\nb\nc\nd\ne\ntail"[..]);
        let mut calls = Vec::new();
        for _ in 0..10 {
            let mut out = Batch::new();
            framer.split(&mut buf, &mut out, 2);
            calls.push(out.events().map(|b| b.to_vec()).collect::<Vec<_>>());
            if !framer.has_pending() {
                break;
            }
            assert_eq!(&buf[..], b"tail", "the buffer is cut once per read");
        }
        assert_eq!(
            calls,
            vec![lines(&[b"a", b"b"]), lines(&[b"c", b"d"]), lines(&[b"e"])]
        );
        assert_eq!(&buf[..], b"tail");
    }

    #[test]
    fn limit_changes_the_batches_never_the_events() {
        let inputs: [&[u8]; 6] = [
            b"a\nbb\nccc\n",
            b"\n\n\n\n\n\n\n",
            b"ok\nabcdefgh\n\nfine\nx",
            b"abcdefghij\n\n\nzz\n",
            b"\r\n\xff\x00\n\n\nabcdefghijkl",
            b"1\n22\n333\n4444\n55555\n666666\n",
        ];
        for input in inputs {
            let expected = frame(4, &[input]);
            for read in 1..=input.len() {
                let chunks: Vec<&[u8]> = input.chunks(read).collect();
                for limit in [0, 1, 2, 3, 5, usize::MAX] {
                    assert_eq!(
                        frame_limited(4, limit, &chunks),
                        expected,
                        "input {input:?} in reads of {read}, limit {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn waiting_lines_are_not_mistaken_for_an_overlong_tail() {
        // The read ends inside an over-long line while "abcdef" (itself
        // over-long), "x" and "y" still wait: only "abcdef" and the tail's
        // line are dropped, and the tail resyncs at its own newline.
        let (ev, d) = frame_limited(3, 1, &[b"ok\nabcdef\nx\ny\nzzzzzz", b"zz\nw\n"]);
        assert_eq!(ev, lines(&[b"ok", b"x", b"y", b"w"]));
        assert_eq!(d, 2);
    }

    #[test]
    fn finish_hands_out_everything_a_limit_at_a_time() {
        let mut framer = LineFramer::new(100);
        let mut buf = BytesMut::from(&b"\n\n\nlast"[..]);
        let mut out = Batch::new();
        assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
        assert_eq!(out.to_vec(), vec![Bytes::new(), Bytes::new()]);
        assert!(!framer.is_finished(&buf));
        out.clear();
        assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
        assert_eq!(
            out.to_vec(),
            vec![Bytes::new(), Bytes::from_static(b"last")]
        );
        assert!(framer.is_finished(&buf));
    }

    #[test]
    fn finish_counts_an_overlong_last_line_after_a_full_call() {
        // The call that hands out the last lines is full: the over-long last
        // line is counted by the next one, not forgotten.
        let mut framer = LineFramer::new(3);
        let mut buf = BytesMut::from(&b"a\nb\nabcdefgh"[..]);
        let mut out = Batch::new();
        assert_eq!(framer.finish(&mut buf, &mut out, 2), 0);
        assert_eq!(
            out.to_vec(),
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        assert!(!framer.is_finished(&buf));
        assert_eq!(framer.finish(&mut buf, &mut out, 2), 1);
        assert_eq!(out.len(), 2);
        assert!(framer.is_finished(&buf));
    }

    #[test]
    fn waiting_lines_still_share_the_read_buffer() {
        let mut framer = LineFramer::new(100);
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"one\ntwo\nsix\n");
        let start = buf.as_ptr() as usize;
        let mut out = Batch::new();
        framer.split(&mut buf, &mut out, 1);
        framer.split(&mut buf, &mut out, 1);
        framer.split(&mut buf, &mut out, 1);
        assert!(!framer.has_pending());
        assert_eq!(
            offsets(&out, start),
            vec![0, 4, 8],
            "no copy of waiting lines"
        );
    }
}
