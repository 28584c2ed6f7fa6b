//! The paced writer of `latency`.

use crate::{MAX_WAIT_NS, SILENCE};
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use wbc_bench::latencies::Latencies;
use wbc_bench::lines::StampLine;
use wbc_bench::now_ns;

/// A new batch at most this often (ns). Writing each line as it falls due
/// gave the relay a wake-up per line: p99 through wbc-rr at 100,000 lines/s
/// went from 0.2-0.3 ms to 0.6-0.9 ms.
pub const PACE_NS: u64 = 50_000;
/// Lines per write at most: bounds the catch-up write after a stall.
pub const MAX_BATCH: u64 = 4096;
/// Batches whose lateness is kept, reserved up front: 3 s at one batch per
/// [`PACE_NS`] is 60,000.
const LATE_RUNS: usize = 1 << 17;

/// The paced writer: makes the lines that are due, stamped at write time
/// (or, for lines that fell due while the socket held the sender back, when
/// they fell due plus one pacing interval), and keeps what the socket did
/// not take for the next turn.
pub struct Sender {
    pub stream: TcpStream,
    line: StampLine,
    rate: u64,
    total: u64,
    pub start: u64,
    /// Lines due before this time (the warm-up) are not measured.
    pub measure_from_ns: u64,
    /// How late the tool itself made the measured lines: per batch made on
    /// schedule, how long after its first line fell due plus [`PACE_NS`]
    /// (the thread woke late), with the batch's line count. That wait is
    /// not in the latencies (each such line is stamped when it is written);
    /// it is reported beside them so a run where the tool lagged shows.
    /// Lines the relay held back carry their due time, so their wait is
    /// counted already and they add 0 here.
    pub made_late: Latencies,
    /// Lines made so far (written, or waiting in `batch`).
    pub sent: u64,
    batch: Vec<u8>,
    /// How much of `batch` the socket has taken.
    written: usize,
    /// When the last batch was made.
    last_batch: u64,
    /// When the socket last took a byte.
    last_progress: u64,
    /// The socket refused part of the current batch.
    held_back: bool,
    /// When the socket last took the end of a batch it had held back: the
    /// lines due before then waited for the relay, not for the sender.
    released: u64,
    size: usize,
}

impl Sender {
    pub fn new(
        stream: TcpStream,
        line: StampLine,
        size: usize,
        rate: u64,
        total: u64,
        warmup_ns: u64,
    ) -> Sender {
        let start = now_ns();
        Sender {
            stream,
            line,
            rate,
            total,
            start,
            measure_from_ns: start + warmup_ns,
            made_late: Latencies::with_capacity(LATE_RUNS),
            sent: 0,
            batch: Vec::with_capacity(MAX_BATCH as usize * size),
            written: 0,
            last_batch: 0,
            held_back: false,
            released: 0,
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
            let first_due = self.due_ns(self.sent);
            let (stamp, late) = if first_due <= self.released {
                (now.min(first_due + PACE_NS), 0)
            } else {
                (now, now.saturating_sub(first_due + PACE_NS))
            };
            if first_due >= self.measure_from_ns {
                let late = u32::try_from(late).unwrap_or(u32::MAX);
                self.made_late.record(late, n as u32);
            }
            self.line.extend(&mut self.batch, self.sent, n, stamp);
            self.sent += n;
        }
        match self.stream.write(&self.batch[self.written..]) {
            Ok(n) => {
                self.written += n;
                self.last_progress = now;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => self.held_back = true,
            Err(e) => return Err(e),
        }
        if self.written < self.batch.len() {
            self.held_back = true;
        } else if self.held_back {
            self.held_back = false;
            self.released = now;
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
        let batch_due = self.due_ns(self.sent).max(self.last_batch + PACE_NS);
        batch_due.saturating_sub(now).min(MAX_WAIT_NS)
    }

    /// When line `seq` falls due: the schedule, whatever happened since.
    fn due_ns(&self, seq: u64) -> u64 {
        self.start + (seq as u128 * 1_000_000_000).div_ceil(self.rate as u128) as u64
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};
    use wbc_bench::lines::StampReader;

    /// A batch made 2 ms after its first line fell due counts as 1.95 ms
    /// late (the 50 µs pacing is the tool's design, not lateness), once per
    /// line of the batch; a batch made on time counts as 0; lines due in
    /// the warm-up are left out. The clock is passed in, so this is exact.
    #[test]
    fn lines_made_late_by_the_tool_are_reported_not_hidden() {
        const RATE: u64 = 100_000; // a line every 10 µs
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _peer = listener.accept().unwrap();
        let warmup = 1_000_000;
        let mut sender = Sender::new(stream, StampLine::new(64).unwrap(), 64, RATE, RATE, warmup);
        let t0 = sender.start;
        // Due 0..100 (the warm-up), made 1 ms late: not measured.
        sender.pump(t0 + 1_000_000).unwrap();
        assert_eq!((sender.sent, sender.made_late.lines()), (100, 0));
        // Due 100..300, made at 3 ms: the first fell due at 1 ms.
        sender.pump(t0 + 3_000_000).unwrap();
        // Due 300..305, made 50 µs after the last batch: on time.
        sender.pump(t0 + 3_050_000).unwrap();
        assert_eq!(sender.sent, 305);
        let late = &sender.made_late;
        assert_eq!(late.lines(), 205);
        let [p50, p99] = late.percentiles(&[0.5, 0.99])[..] else {
            unreachable!()
        };
        assert_eq!(p50, Some(1_950_000));
        assert_eq!(p99, Some(1_950_000));
        assert_eq!(
            late.percentiles(&[0.02])[0],
            Some(0),
            "the 5 lines made on time"
        );
    }

    /// A relay that stops reading for 300 ms: the lines that fall due
    /// meanwhile are stamped with when they fell due (plus a pacing
    /// interval). Stamped when made, the first of them would be about 300 ms
    /// late; the bound checked, half of that, leaves room for a test thread
    /// that a busy machine keeps waiting.
    #[test]
    fn lines_held_back_by_the_relay_carry_their_due_time() {
        const RATE: u64 = 1_000_000;
        const HOLD: Duration = Duration::from_millis(300);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        stream.set_nonblocking(true).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(HOLD);
            let mut got = Vec::new();
            let _ = peer.read_to_end(&mut got);
            got
        });

        let total = RATE * 6 / 10;
        let mut sender = Sender::new(stream, StampLine::new(64).unwrap(), 64, RATE, total, 0);
        let begun = Instant::now();
        while !sender.finished() && begun.elapsed() < Duration::from_secs(10) {
            sender.pump(now_ns()).unwrap();
            std::thread::sleep(Duration::from_micros(20));
        }
        assert!(sender.finished(), "sent {} of {total}", sender.sent);
        assert!(
            sender.released >= sender.start + HOLD.as_nanos() as u64 * 8 / 10,
            "the socket held the sender back until the relay read"
        );
        let (start, due) = (sender.start, |seq: u64| sender.due_ns(seq));
        let _ = sender.stream.shutdown(std::net::Shutdown::Write);
        let got = reader.join().unwrap();

        let mut stamps = StampReader::new(64);
        let mut latest = 0u64;
        let mut lines = 0u64;
        for (seq, line) in got.chunks(64).enumerate() {
            let stamp = stamps.stamp(&line[..63]).expect("a line the sender made");
            assert!(stamp >= start);
            latest = latest.max(stamp.saturating_sub(due(seq as u64)));
            lines += 1;
        }
        assert_eq!(lines, total);
        assert!(
            latest < HOLD.as_nanos() as u64 / 2,
            "a line was stamped {latest} ns after it fell due"
        );
    }
}
