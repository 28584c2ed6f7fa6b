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
mod tests;
