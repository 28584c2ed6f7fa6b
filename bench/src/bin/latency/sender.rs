//! The paced writer of `latency`.

use crate::{MAX_WAIT_NS, SILENCE};
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use wbc_bench::lines::StampLine;
use wbc_bench::now_ns;

/// A new batch at most this often (ns). Writing each line as it falls due
/// gave the relay a wake-up per line: p99 through wbc-rr at 100,000 lines/s
/// went from 0.2-0.3 ms to 0.6-0.9 ms.
pub const PACE_NS: u64 = 50_000;
/// Lines per write at most: bounds the catch-up write after a stall.
pub const MAX_BATCH: u64 = 4096;

/// The paced writer: makes the lines that are due, stamped at write time,
/// and keeps what the socket did not take for the next turn.
pub struct Sender {
    pub stream: TcpStream,
    line: StampLine,
    rate: u64,
    total: u64,
    pub start: u64,
    /// Lines made so far (written, or waiting in `batch`).
    pub sent: u64,
    batch: Vec<u8>,
    /// How much of `batch` the socket has taken.
    written: usize,
    /// When the last batch was made.
    last_batch: u64,
    /// When the socket last took a byte.
    last_progress: u64,
    size: usize,
}

impl Sender {
    pub fn new(stream: TcpStream, line: StampLine, size: usize, rate: u64, total: u64) -> Sender {
        Sender {
            stream,
            line,
            rate,
            total,
            start: now_ns(),
            sent: 0,
            batch: Vec::with_capacity(MAX_BATCH as usize * size),
            written: 0,
            last_batch: 0,
            size,
            last_progress: now_ns(),
        }
    }

    /// One non-blocking step: the rest of the last batch if the socket did
    /// not take all of it, else a new batch of the lines due at `now`.
    pub fn pump(&mut self, now: u64) -> std::io::Result<()> {
        if self.written == self.batch.len() {
            let elapsed = now.saturating_sub(self.start) as u128;
            let due = ((elapsed * self.rate as u128) / 1_000_000_000) as u64;
            let due = due.min(self.total);
            if due <= self.sent || now < self.last_batch + PACE_NS {
                return Ok(());
            }
            self.last_batch = now;
            let n = (due - self.sent).min(MAX_BATCH);
            self.batch.clear();
            self.written = 0;
            self.line.extend(&mut self.batch, self.sent, n, now);
            self.sent += n;
        }
        match self.stream.write(&self.batch[self.written..]) {
            Ok(n) => {
                self.written += n;
                self.last_progress = now;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// What to wait for on the socket: room, when part of a batch waits.
    pub fn events(&self) -> libc::c_short {
        if self.written < self.batch.len() {
            libc::POLLOUT
        } else {
            0
        }
    }

    /// How long the loop may sleep before the sender has work: until the
    /// next batch is due, or (when part of a batch waits for room, which
    /// `poll` reports) at most [`MAX_WAIT_NS`] so a stall is noticed.
    pub fn idle_ns(&self, now: u64) -> u64 {
        if self.written < self.batch.len() {
            return MAX_WAIT_NS;
        }
        if self.sent >= self.total {
            return 0;
        }
        let line_due =
            self.start + (self.sent as u128 * 1_000_000_000).div_ceil(self.rate as u128) as u64;
        let batch_due = line_due.max(self.last_batch + PACE_NS);
        batch_due.saturating_sub(now).min(MAX_WAIT_NS)
    }

    /// Part of a batch is waiting and the socket has taken nothing for
    /// [`SILENCE`]: the relay stopped reading.
    pub fn stalled(&self, now: u64) -> bool {
        self.written < self.batch.len()
            && now.saturating_sub(self.last_progress) >= SILENCE.as_nanos() as u64
    }

    /// Drops the unwritten rest of the batch; `sent` then counts only the
    /// lines the socket took whole.
    pub fn give_up(&mut self) {
        let unwritten = (self.batch.len() - self.written).div_ceil(self.size);
        self.sent -= unwritten as u64;
        self.batch.clear();
        self.written = 0;
    }

    /// Every line made and handed to the socket.
    pub fn finished(&self) -> bool {
        self.sent >= self.total && self.written == self.batch.len()
    }
}
