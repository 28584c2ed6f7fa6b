//! `latency --to PORT --rate LINES_PER_S [--seconds S] [--size BYTES]
//! [--warmup-s S] [--wait-ms MS] SINKPORT...`: per-event latency through a
//! relay at a fixed offered rate.
//!
//! It listens on every SINKPORT (the relay's backends), connects to the
//! relay on PORT, and writes lines at RATE, each carrying its sequence number
//! and the CLOCK_MONOTONIC time it was written. The sink side stamps every
//! read and records, per line, arrival minus write time. Lines of the first
//! `warmup-s` seconds are left out. Prints `sent= received= bad= measured=
//! offered_rate= achieved_rate= p50_us= p99_us= p999_us= max_us= slow_ms=`
//! (`slow_ms=K/M`: K of the run's M one-millisecond windows of traffic held
//! a line slower than 1 ms; see [`slow_milliseconds`]).
//!
//! One thread does everything: the sending socket, the listeners and every
//! accepted sink connection are non-blocking and multiplexed with `ppoll`.
//! The benchmark machine has 2 cores; a sender thread, a reader thread per
//! sink connection and the relay's own thread(s) are more runnable threads
//! than cores, and the scheduler then parks a ready thread for a time slice
//! (milliseconds), which showed up as a 4 ms p99 with no relay at all. With
//! one thread the tool needs at most one core and the relay has the other.
//!
//! Between batches the thread sleeps in `ppoll` until the next batch is
//! due, a sink has data, or the socket has room again. Spinning instead
//! (`poll` with a zero timeout) gives a slightly lower floor (p99 with no
//! relay, medians of 3 runs: 13-24 against 21-40 µs at 100,000 lines/s,
//! 28-75 against 44-106 µs at 7.5 M), but a spinner owns a core that the
//! relay and everything else on a 2-core machine then share, and the relay
//! mostly measured worse: wbc-rr at 7.5 M p99 19 ms against 3.8 ms, haproxy
//! at 100,000 4.5 against 0.8 ms (haproxy at 7.5 M the other way round,
//! 1.1 against 3.3 ms; all on a machine busy with other builds). The floor
//! is far below 1 ms either way, and a tool that disturbs the relay less
//! measures it better.
//!
//! One turn of the loop must cost little: the thread shares a core with
//! the kernel's work for both of its sockets, and when it is near full a
//! stall of the machine takes it many times the stall's length to catch
//! up, which shows as the relay's tail. Lines are made by
//! [`StampLine::extend`] (one stamp per batch, the line copied by
//! doubling, the sequence counted up in place), found with `memchr`, and
//! read back by [`StampReader`] (a stamp equal to the previous line's is
//! not parsed again; the warm-up is left out by stamp, so the sequence
//! number is not read at all). With no relay at 18.5 M lines/s the thread
//! used 2.6 s of CPU in a 3.3 s run (sorting 46 M latencies at the end
//! included), 3.2 s when each line was copied and parsed whole; through
//! wbc-one at that rate, p99 went from 2.8-8.7 ms to 0.25-3.0 ms (3 runs each).
//!
//! Pacing: a batch at most every 50 µs ([`PACE_NS`], the pacing of the
//! earlier tool, so a relay sees the same traffic), holding the lines due by
//! now (at most [`MAX_BATCH`]), all stamped with the time of the `write`
//! that offers them, so a stamp is never older than the write. A line waits
//! up to 50 µs to be made; that wait is not counted. When the relay pushes
//! back and the socket takes only part of a batch, the rest is kept and
//! written first on the following turns with the stamps it already carries,
//! and no new line is made meanwhile. Keeping them (rather than making those
//! lines again with a fresh stamp) counts the time a line waits in front of
//! a relay that does not read as that relay's latency, as a client would see
//! it, and matches what the earlier blocking `write_all` measured. Lines
//! that fall due while the sender is blocked are made when it is free again,
//! stamped then; `achieved_rate` below `offered_rate` shows it.
//!
//! The waits are bounded: sending stops when the relay has taken no byte for
//! 3 s (a warning says so, and `sent` counts only the lines it took whole),
//! and the run ends when every line sent has arrived, or after 3 s without
//! a byte.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use wbc_bench::lines::{StampLine, StampReader};
use wbc_bench::{args::Args, connect, die, now_ns};

/// A new batch at most this often (ns). Writing each line as it falls due
/// gave the relay a wake-up per line: p99 through wbc-rr at 100,000 lines/s
/// went from 0.2-0.3 ms to 0.6-0.9 ms.
const PACE_NS: u64 = 50_000;
/// The longest sleep in `ppoll`: bounds how late a stall or the end of
/// the wait for stragglers is noticed.
const MAX_WAIT_NS: u64 = 10_000_000;
/// Lines per write at most: bounds the catch-up write after a stall.
const MAX_BATCH: u64 = 4096;
const READ_BUF: usize = 1 << 18;
/// The wait for stragglers ends after this long without a byte.
const SILENCE: Duration = Duration::from_secs(3);

fn main() {
    let args = Args::from_env();
    let to: u16 = args.get("to", 0);
    let rate: u64 = args.get("rate", 0);
    let seconds: f64 = args.get("seconds", 3.0);
    let size: usize = args.get("size", 64);
    let warmup_s: f64 = args.get("warmup-s", 0.5);
    let wait_ms: u64 = args.get("wait-ms", 10_000);
    if to == 0 || rate == 0 {
        die("give `--to PORT` and `--rate LINES_PER_S`");
    }
    let line = StampLine::new(size).unwrap_or_else(|| {
        die(format_args!(
            "a line needs at least {} bytes",
            StampLine::MIN_SIZE
        ))
    });
    let total = (rate as f64 * seconds) as u64;
    let warmup = (rate as f64 * warmup_s) as u64;

    let listeners: Vec<TcpListener> = args
        .ports(0)
        .into_iter()
        .map(|port| {
            let listener = TcpListener::bind(("127.0.0.1", port))
                .unwrap_or_else(|e| die(format_args!("listen on 127.0.0.1:{port}: {e}")));
            if let Err(e) = listener.set_nonblocking(true) {
                die(format_args!("listen on 127.0.0.1:{port}: {e}"));
            }
            listener
        })
        .collect();
    // Connections to the sink ports wait in the listeners' backlog until the
    // loop below accepts them.
    let stream = connect(to, Duration::from_millis(wait_ms));
    let _ = stream.set_nodelay(true);
    if let Err(e) = stream.set_nonblocking(true) {
        die(format_args!("connect to 127.0.0.1:{to}: {e}"));
    }
    let mut sender = Sender::new(stream, line, size, rate, total);
    let measure_from_ns = sender.start + (warmup_s * 1e9) as u64;
    let mut tally = Tally::new(
        StampReader::new(size),
        measure_from_ns,
        total.saturating_sub(warmup),
    );
    let mut sinks: Vec<Sink> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut send_end = None;
    let mut last_byte = Instant::now();
    // The default timer slack (50 µs) would stretch a 50 µs pacing sleep to
    // up to 100 µs; 1 µs keeps batches on time.
    // SAFETY: PR_SET_TIMERSLACK takes one integer and affects this thread only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };

    loop {
        if send_end.is_none() {
            if let Err(e) = sender.pump(now_ns()) {
                die(format_args!("write to 127.0.0.1:{to}: {e}"));
            }
            if sender.finished() {
                send_end = Some(now_ns());
            } else if sender.stalled(now_ns()) {
                eprintln!(
                    "warning: 127.0.0.1:{to} took no byte for {} s; stopped sending",
                    SILENCE.as_secs()
                );
                sender.give_up();
                send_end = Some(now_ns());
            }
        } else if tally.lines >= sender.sent || last_byte.elapsed() >= SILENCE {
            break;
        }

        fds.clear();
        let sender_events = if send_end.is_none() {
            sender.events()
        } else {
            0
        };
        fds.push(pollfd(sender.stream.as_raw_fd(), sender_events));
        fds.extend(
            listeners
                .iter()
                .map(|l| pollfd(l.as_raw_fd(), libc::POLLIN)),
        );
        fds.extend(
            sinks
                .iter()
                .map(|s| pollfd(s.stream.as_raw_fd(), libc::POLLIN)),
        );
        let wait_ns = match send_end {
            None => sender.idle_ns(now_ns()),
            Some(_) => MAX_WAIT_NS,
        };
        if let Err(e) = poll_wait(&mut fds, wait_ns) {
            die(format_args!("poll: {e}"));
        }
        let (listener_fds, sink_fds) = fds[1..].split_at(listeners.len());
        for (listener, fd) in listeners.iter().zip(listener_fds) {
            if fd.revents != 0 {
                accept_all(listener, &mut sinks);
            }
        }
        if read_ready(&mut sinks, sink_fds, &mut buf, &mut tally) {
            last_byte = Instant::now();
        }
    }

    let send_s = (send_end.unwrap_or_else(now_ns) - sender.start) as f64 / 1e9;
    let lat = &mut tally.latencies_ns;
    let (slow_ms, all_ms) = slow_milliseconds(lat, rate);
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    println!(
        "sent={} received={} bad={} measured={} offered_rate={rate} achieved_rate={:.0} \
         p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} slow_ms={slow_ms}/{all_ms}",
        sender.sent,
        tally.lines,
        tally.bad,
        lat.len(),
        sender.sent as f64 / send_s,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        pct(1.0),
    );
    std::process::exit(0);
}

/// How the tail is spread in time: the lines, in arrival order, cut into
/// windows of one millisecond of traffic at `rate`, and how many of those
/// windows hold a line that took over 1 ms. A p99 above 1 ms from a few
/// such windows in a row is a stall (the relay or the tool kept off a
/// core); from windows spread all over the run it is the relay's steady
/// pace.
fn slow_milliseconds(latencies_ns: &[u32], rate: u64) -> (usize, usize) {
    let window = (rate / 1000).max(1) as usize;
    let windows = latencies_ns.chunks(window);
    let all = windows.len();
    let slow = windows
        .filter(|w| w.iter().any(|&ns| ns > 1_000_000))
        .count();
    (slow, all)
}

/// The paced writer: makes the lines that are due, stamped at write time,
/// and keeps what the socket did not take for the next turn.
struct Sender {
    stream: TcpStream,
    line: StampLine,
    rate: u64,
    total: u64,
    start: u64,
    /// Lines made so far (written, or waiting in `batch`).
    sent: u64,
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
    fn new(stream: TcpStream, line: StampLine, size: usize, rate: u64, total: u64) -> Sender {
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
    fn pump(&mut self, now: u64) -> std::io::Result<()> {
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
    fn events(&self) -> libc::c_short {
        if self.written < self.batch.len() {
            libc::POLLOUT
        } else {
            0
        }
    }

    /// How long the loop may sleep before the sender has work: until the
    /// next batch is due, or (when part of a batch waits for room, which
    /// `poll` reports) at most [`MAX_WAIT_NS`] so a stall is noticed.
    fn idle_ns(&self, now: u64) -> u64 {
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
    fn stalled(&self, now: u64) -> bool {
        self.written < self.batch.len()
            && now.saturating_sub(self.last_progress) >= SILENCE.as_nanos() as u64
    }

    /// Drops the unwritten rest of the batch; `sent` then counts only the
    /// lines the socket took whole.
    fn give_up(&mut self) {
        let unwritten = (self.batch.len() - self.written).div_ceil(self.size);
        self.sent -= unwritten as u64;
        self.batch.clear();
        self.written = 0;
    }

    /// Every line made and handed to the socket.
    fn finished(&self) -> bool {
        self.sent >= self.total && self.written == self.batch.len()
    }
}

/// One accepted sink connection and the start of a line cut by a read.
struct Sink {
    stream: TcpStream,
    carry: Vec<u8>,
}

/// What the sinks received, over all connections.
struct Tally {
    /// Lines stamped before this time (the warm-up) are counted, not measured.
    measure_from_ns: u64,
    reader: StampReader,
    lines: u64,
    bad: u64,
    latencies_ns: Vec<u32>,
}

impl Tally {
    fn new(reader: StampReader, measure_from_ns: u64, expected: u64) -> Tally {
        // Reserved up front: growing a vector of millions of entries copies
        // it, a pause of milliseconds in the one thread that also reads.
        let mut latencies_ns = Vec::with_capacity(expected.min(1 << 28) as usize);
        // Touched now, one store per page: touched first during the run,
        // the pages were faults in the measuring thread (3 % of its time).
        for slot in latencies_ns.spare_capacity_mut().iter_mut().step_by(1024) {
            slot.write(0);
        }
        Tally {
            measure_from_ns,
            reader,
            lines: 0,
            bad: 0,
            latencies_ns,
        }
    }

    /// Splits `chunk` into lines (completing `carry`, the partial line of
    /// the connection's previous read) and records each line's latency
    /// against `t`, the time of the read that completed it.
    fn record(&mut self, chunk: &[u8], carry: &mut Vec<u8>, t: u64) {
        let mut rest = chunk;
        if !carry.is_empty() {
            let Some(end) = find_newline(rest) else {
                carry.extend_from_slice(rest);
                return;
            };
            carry.extend_from_slice(&rest[..end]);
            let stamp = self.reader.stamp(carry);
            self.count(stamp, t);
            carry.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = find_newline(rest) {
            let stamp = self.reader.stamp(&rest[..end]);
            self.count(stamp, t);
            rest = &rest[end + 1..];
        }
        carry.extend_from_slice(rest);
    }

    fn count(&mut self, stamp: Option<u64>, t: u64) {
        self.lines += 1;
        match stamp {
            Some(stamp) if stamp >= self.measure_from_ns => self
                .latencies_ns
                .push(t.saturating_sub(stamp).min(u32::MAX as u64) as u32),
            Some(_) => {}
            None => self.bad += 1,
        }
    }
}

/// One read from each sink `poll` found ready, recorded in `tally`; a
/// sink that closed or failed is dropped. True when any byte came in.
fn read_ready(
    sinks: &mut Vec<Sink>,
    ready: &[libc::pollfd],
    buf: &mut [u8],
    tally: &mut Tally,
) -> bool {
    let mut got = false;
    // Walk backwards so that removing a sink keeps the indices of the ones
    // not yet visited in step with `ready`.
    for i in (0..ready.len()).rev() {
        if ready[i].revents == 0 {
            continue;
        }
        match sinks[i].stream.read(buf) {
            Ok(0) => {
                sinks.swap_remove(i);
            }
            Ok(n) => {
                let t = now_ns();
                tally.record(&buf[..n], &mut sinks[i].carry, t);
                got = true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => {
                sinks.swap_remove(i);
            }
        }
    }
    got
}

/// Accepts every connection waiting on `listener` (they may come at any
/// time: a relay reconnecting, or connecting to its backends lazily).
fn accept_all(listener: &TcpListener, sinks: &mut Vec<Sink>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_ok() {
                    sinks.push(Sink {
                        stream,
                        carry: Vec::new(),
                    });
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// glibc's vectorised `memchr`: scanning byte by byte took a third of
/// the thread's time at 7.5 M lines/s.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    // SAFETY: the pointer and length describe `bytes`, valid for reads.
    let at = unsafe { libc::memchr(bytes.as_ptr().cast(), b'\n' as i32, bytes.len()) };
    (!at.is_null()).then(|| at as usize - bytes.as_ptr() as usize)
}

fn pollfd(fd: i32, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Waits until one of `fds` is ready or `wait_ns` has passed.
fn poll_wait(fds: &mut [libc::pollfd], wait_ns: u64) -> std::io::Result<()> {
    let timeout = libc::timespec {
        tv_sec: (wait_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (wait_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: `fds` is a valid, writable slice of pollfd for its whole
    // length; `timeout` is a valid timespec; a null signal mask is allowed.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
