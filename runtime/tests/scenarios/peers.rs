//! The proxy's peers in scenario tests: senders that write lines into its
//! tcp.in, and sinks that accept its tcp.out connections and record what
//! arrives. Plain std threads and blocking sockets on 127.0.0.1, so the test
//! side shares nothing with the runtime under test.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use crate::common::{free_port, hex, sha256_hex};
use sha2::{Digest, Sha256};

/// Waits (bounded) until something accepts connections on `port`.
pub fn wait_listening(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Lines `"{prefix}{i:08}"` for i in 0..n, each followed by `\n`.
pub fn numbered(prefix: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * (prefix.len() + 9));
    append_numbered(prefix.as_bytes(), 0..n, &mut out);
    out
}

/// Appends lines `prefix` + 8-digit number + `\n` for `range` (fast: the
/// sender must not be the bottleneck of the benchmark).
fn append_numbered(prefix: &[u8], range: std::ops::Range<usize>, out: &mut Vec<u8>) {
    for i in range {
        out.extend_from_slice(prefix);
        let mut digits = [b'0'; 8];
        let mut v = i;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&digits);
        out.push(b'\n');
    }
}

/// Parses the trailing 8-digit number of a line made by [`numbered`].
pub fn seq_of(line: &[u8]) -> Option<u64> {
    let digits = line.get(line.len().checked_sub(8)?..)?;
    digits.iter().try_fold(0u64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}

/// Connects to `port` and writes `data`, then closes. Returns the time the
/// writes took (they block while the proxy applies backpressure).
pub fn send(port: u16, data: &[u8]) -> Duration {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to proxy input");
    s.write_all(data).expect("write to proxy input");
    s.shutdown(Shutdown::Write).ok();
    start.elapsed()
}

/// A sender on its own thread that counts what it managed to write, so a
/// test can watch it being slowed down.
pub struct Sender {
    pub written: Arc<AtomicU64>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl Sender {
    /// Writes the lines of [`numbered`]`(prefix, n)`, generated a block at a
    /// time so that hundreds of MiB need not sit in the test's memory.
    pub fn spawn_numbered(port: u16, prefix: String, n: usize) -> Sender {
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        let handle = thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            let mut block = Vec::new();
            for start in (0..n).step_by(1000) {
                block.clear();
                append_numbered(prefix.as_bytes(), start..(start + 1000).min(n), &mut block);
                s.write_all(&block)?;
                w.fetch_add(block.len() as u64, Ordering::Relaxed);
            }
            s.shutdown(Shutdown::Write)
        });
        Sender {
            written,
            handle: Some(handle),
        }
    }

    pub fn join(mut self, timeout: Duration) -> std::io::Result<()> {
        let handle = self.handle.take().expect("joined once");
        let deadline = Instant::now() + timeout;
        while !handle.is_finished() {
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    ErrorKind::TimedOut,
                    "sender did not finish",
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        handle
            .join()
            .map_err(|_| std::io::Error::other("sender panicked"))?
    }
}

/// How a sink behaves.
#[derive(Clone, Default)]
pub struct SinkOpts {
    /// Keep every line (else only count and sequence-check them).
    pub keep_lines: bool,
    /// Hash every byte received (sha256; slow in a debug build).
    pub hash: bool,
    /// Read at most this many bytes per second while `slow_for` lasts.
    pub rate: Option<u64>,
    pub slow_for: Duration,
    /// After this many lines: stop listening, shut down the write side of the
    /// connection and keep reading until the proxy closes it.
    pub half_close_after: Option<u64>,
    /// After this many lines: close at once without reading the rest (the
    /// unread data makes the kernel reset the connection, as when a backend
    /// is killed) and stop listening.
    pub abort_after: Option<u64>,
    /// After a half-close or an abort, listen again after this delay (a
    /// backend restart); else stay away.
    pub reopen_after: Option<Duration>,
    /// Start listening only after this delay (the port is reserved by number).
    pub start_after: Duration,
}

/// What a sink has received so far.
#[derive(Default)]
pub struct Received {
    pub lines: u64,
    pub bytes: u64,
    pub kept: Vec<Vec<u8>>,
    /// Sequence numbers (see [`numbered`]) in arrival order.
    pub seqs: Vec<u64>,
    /// Bytes left without a newline when a connection ended.
    pub fragments: u64,
    pub connections: u64,
    /// Bytes left unread in the kernel's receive buffer when the sink
    /// aborted a connection (see [`SinkOpts::abort_after`]).
    pub abandoned: u64,
    hasher: Sha256,
}

impl Received {
    pub fn sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

/// A TCP sink on 127.0.0.1: accepts connections one after the other (tcp.out
/// reconnects) and records every line.
pub struct Sink {
    pub port: u16,
    pub state: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    /// Sink thread's own byte counter, readable without the lock.
    pub bytes: Arc<AtomicU64>,
    /// When the sink started (its slow phase and start delay count from here).
    pub started: Instant,
    handle: Option<JoinHandle<()>>,
}

impl Sink {
    pub fn start(opts: SinkOpts) -> Sink {
        Self::start_on(free_port(), opts)
    }

    pub fn start_on(port: u16, opts: SinkOpts) -> Sink {
        let state = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        let listener = if opts.start_after.is_zero() {
            Some(bind(port))
        } else {
            None
        };
        let (st, sp, by) = (state.clone(), stop.clone(), bytes.clone());
        let started = Instant::now();
        let handle = thread::spawn(move || run_sink(port, listener, opts, started, st, sp, by));
        Sink {
            port,
            state,
            stop,
            bytes,
            started,
            handle: Some(handle),
        }
    }

    pub fn lines(&self) -> u64 {
        self.state.lock().expect("sink state").lines
    }

    /// Waits (bounded) until the sink holds `n` lines; returns what it holds.
    pub fn wait_lines(&self, n: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.lines();
            if got >= n || Instant::now() > deadline {
                return got;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(mut self) -> Received {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        std::mem::take(&mut *self.state.lock().expect("sink state"))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn bind(port: u16) -> TcpListener {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind sink port");
    l.set_nonblocking(true).expect("nonblocking listener");
    l
}

fn run_sink(
    port: u16,
    mut listener: Option<TcpListener>,
    opts: SinkOpts,
    started: Instant,
    state: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
) {
    // Half-close and abort happen once in a sink's life.
    let mut left_once = false;
    let mut reopen_at: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let due = match reopen_at {
            Some(at) => Instant::now() >= at,
            None => !left_once && started.elapsed() >= opts.start_after,
        };
        if listener.is_none() && due {
            listener = Some(bind(port));
        }
        let Some(l) = &listener else {
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        match l.accept() {
            Ok((conn, _)) => {
                state.lock().expect("sink state").connections += 1;
                let may_leave = !left_once;
                let ending = read_connection(
                    conn,
                    &opts,
                    may_leave,
                    started,
                    &state,
                    &stop,
                    &bytes,
                    &mut listener,
                );
                if ending != Ending::Closed {
                    left_once = true;
                    reopen_at = opts.reopen_after.map(|d| Instant::now() + d);
                }
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The proxy closed the connection (or the sink was stopped).
    Closed,
    /// The sink half-closed, then read until the proxy closed.
    HalfClosed,
    /// The sink dropped the connection with data unread.
    Aborted,
}

/// Bytes waiting in the socket's receive buffer (FIONREAD).
fn unread_bytes(conn: &TcpStream) -> u64 {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which is valid.
    let rc = unsafe { libc::ioctl(conn.as_raw_fd(), libc::FIONREAD, &mut n) };
    if rc == 0 {
        n.max(0) as u64
    } else {
        0
    }
}

/// Reads one connection to its end.
#[allow(clippy::too_many_arguments)]
fn read_connection(
    mut conn: TcpStream,
    opts: &SinkOpts,
    may_leave: bool,
    started: Instant,
    state: &Mutex<Received>,
    stop: &AtomicBool,
    bytes: &AtomicU64,
    listener: &mut Option<TcpListener>,
) -> Ending {
    conn.set_nonblocking(false).ok();
    conn.set_read_timeout(Some(Duration::from_millis(100))).ok();
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut ending = Ending::Closed;
    let mut slow_bytes = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let slow = opts.rate.filter(|_| started.elapsed() < opts.slow_for);
        let want = match slow {
            Some(rate) => {
                // Pace: never ahead of `rate` since the sink started.
                let allowed = rate as f64 * started.elapsed().as_secs_f64();
                if slow_bytes as f64 >= allowed {
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                buf.len().min(16 * 1024)
            }
            None => buf.len(),
        };
        let n = match conn.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if slow.is_some() {
            slow_bytes += n as u64;
        }
        bytes.fetch_add(n as u64, Ordering::Relaxed);
        let mut st = state.lock().expect("sink state");
        st.bytes += n as u64;
        if opts.hash {
            st.hasher.update(&buf[..n]);
        }
        let mut rest = &buf[..n];
        while let Some(i) = memchr::memchr(b'\n', rest) {
            partial.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            st.lines += 1;
            if let Some(s) = seq_of(&partial) {
                st.seqs.push(s);
            }
            if opts.keep_lines {
                st.kept.push(std::mem::take(&mut partial));
            } else {
                partial.clear();
            }
        }
        partial.extend_from_slice(rest);
        let lines = st.lines;
        drop(st);
        if may_leave && ending == Ending::Closed {
            if opts.abort_after.is_some_and(|after| lines >= after) {
                *listener = None;
                // What was read of an unfinished line is lost with the rest.
                partial.clear();
                state.lock().expect("sink state").abandoned += unread_bytes(&conn);
                ending = Ending::Aborted;
                break;
            }
            if opts.half_close_after.is_some_and(|after| lines >= after) {
                // A backend going away: no new connections, no more replies.
                *listener = None;
                conn.shutdown(Shutdown::Write).ok();
                ending = Ending::HalfClosed;
            }
        }
    }
    state.lock().expect("sink state").fragments += partial.len() as u64;
    ending
}
