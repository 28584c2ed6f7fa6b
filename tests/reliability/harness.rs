//! What the fault cases share: numbered lines and the producers that send
//! them, the tally of what the backends received, the one line of figures
//! every case prints, and the failover proxy most cases drive.
//!
//! Lines are `{producer:04}-{padding}{seq:08}`: fixed width, so a tally can
//! tell each producer's events apart and see duplicates, losses and order.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::backend;
use crate::e2e::{build, free_port, temp_dir, wait_until, TempDir};

/// Appends line `seq` of `producer`, `width` bytes plus `\n`.
pub fn append_line(out: &mut Vec<u8>, producer: u32, seq: u64, width: usize) {
    let start = out.len();
    out.extend_from_slice(format!("{producer:04}-").as_bytes());
    out.resize(start + width.max(13) - 8, b'x');
    out.extend_from_slice(format!("{seq:08}\n").as_bytes());
}

/// `(producer, seq)` of a line made by [`append_line`].
pub fn parse_line(line: &[u8]) -> Option<(u32, u64)> {
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u64, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
        })
    };
    if line.len() < 13 || line[4] != b'-' {
        return None;
    }
    let producer = number(&line[..4])? as u32;
    let seq = number(&line[line.len() - 8..])?;
    Some((producer, seq))
}

/// A producer connection on its own thread: sends `count` lines, optionally
/// paced, and counts the bytes the kernel took (writes block while the
/// proxy pushes back).
pub struct Producer {
    written: Arc<AtomicU64>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl Producer {
    pub fn spawn(port: u16, producer: u32, count: u64, width: usize) -> Producer {
        Self::spawn_paced(port, producer, count, width, None)
    }

    /// `per_second`: lines per second at most (sent 1,000 at a time).
    pub fn spawn_paced(
        port: u16,
        producer: u32,
        count: u64,
        width: usize,
        per_second: Option<u64>,
    ) -> Producer {
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let handle = thread::spawn(move || {
            let mut stream = TcpStream::connect(("127.0.0.1", port))?;
            // Bounded: a proxy that never reads again fails the write.
            stream.set_write_timeout(Some(Duration::from_secs(120)))?;
            let started = Instant::now();
            let mut block = Vec::new();
            let mut seq = 0;
            while seq < count {
                if let Some(rate) = per_second {
                    let due = Duration::from_secs_f64(seq as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        thread::sleep(wait);
                    }
                }
                block.clear();
                let end = (seq + 1000).min(count);
                for s in seq..end {
                    append_line(&mut block, producer, s, width);
                }
                stream.write_all(&block)?;
                counter.fetch_add(block.len() as u64, Ordering::Relaxed);
                seq = end;
            }
            stream.shutdown(Shutdown::Write)
        });
        Producer {
            written,
            handle: Some(handle),
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Waits (bounded) for the producer to finish; its result.
    pub fn join(mut self, timeout: Duration) -> std::io::Result<()> {
        let handle = self.handle.take().expect("joined once");
        if !wait_until(timeout, || handle.is_finished()) {
            return Err(std::io::Error::other("producer did not finish in time"));
        }
        handle
            .join()
            .map_err(|_| std::io::Error::other("producer panicked"))?
    }
}

/// What the backends received of the numbered events.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    /// Lines that are not numbered events of a known producer.
    pub foreign: u64,
    /// Times a backend received a producer's event after a later one of
    /// the same producer.
    pub out_of_order: u64,
}

/// `sent[p]`: how many events producer `p` sent (numbered `0..sent[p]`).
/// `backends`: each backend's bytes.
pub fn tally(sent: &[u64], backends: &[&[u8]]) -> Tally {
    let mut seen: Vec<Vec<u8>> = sent.iter().map(|n| vec![0u8; *n as usize]).collect();
    let mut t = Tally {
        sent: sent.iter().sum(),
        ..Tally::default()
    };
    for bytes in backends {
        let mut last: Vec<Option<u64>> = vec![None; sent.len()];
        for line in bytes.split(|b| *b == b'\n') {
            let Some((p, seq)) = parse_line(line) else {
                t.foreign += u64::from(!line.is_empty());
                continue;
            };
            let Some(count) = seen
                .get_mut(p as usize)
                .and_then(|s| s.get_mut(seq as usize))
            else {
                t.foreign += 1;
                continue;
            };
            *count = count.saturating_add(1);
            match *count {
                1 => t.delivered += 1,
                _ => t.duplicated += 1,
            }
            if last[p as usize].is_some_and(|l| seq < l) {
                t.out_of_order += 1;
            }
            last[p as usize] = Some(seq);
        }
    }
    t.lost = t.sent - t.delivered;
    t
}

/// How many of the last events `dead` received also reached one of `others`,
/// counted back from its last event to the first that did not. When a
/// backend dies, tcp.out sends again what its kernel had not acknowledged,
/// and a backend may have read some of that before its acknowledgement went
/// out (a receiver delays it, the longer when it leaves data unread). Those
/// events arrive twice; any other duplicate is a bug.
pub fn resent_tail(dead: &[u8], others: &[&[u8]]) -> u64 {
    let events = |bytes: &[u8]| -> Vec<(u32, u64)> {
        bytes
            .split(|b| *b == b'\n')
            .filter_map(parse_line)
            .collect()
    };
    let elsewhere: std::collections::HashSet<(u32, u64)> =
        others.iter().flat_map(|b| events(b)).collect();
    events(dead)
        .iter()
        .rev()
        .take_while(|e| elsewhere.contains(e))
        .count() as u64
}

/// The one line of figures every case prints.
pub fn figures(case: &str, t: &Tally, peak_rss_kib: u64, extra: &str) {
    println!(
        "figures {case}: sent={} delivered={} duplicated={} lost={} peak_rss_kib={peak_rss_kib} \
         foreign={} out_of_order={} {extra}",
        t.sent, t.delivered, t.duplicated, t.lost, t.foreign, t.out_of_order
    );
}

/// Waits until `count()` reaches `target`, or has not grown for `quiet`
/// (what is lost never arrives), at most `timeout`; returns the last value.
pub fn wait_settled(
    target: u64,
    quiet: Duration,
    timeout: Duration,
    mut count: impl FnMut() -> u64,
) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut last = count();
    let mut since = Instant::now();
    while last < target && Instant::now() < deadline && since.elapsed() < quiet {
        thread::sleep(Duration::from_millis(50));
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    last
}

/// Bytes waiting in the receive queues of established sockets whose local
/// port is `port` (/proc/net/tcp `rx_queue`): what a backend holds unread.
pub fn rx_queue(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let state = *f.get(3)?;
            let rx = f.get(4)?.split(':').nth(1)?;
            (u16::from_str_radix(local_port, 16).ok()? == port && state == "01")
                .then(|| u64::from_str_radix(rx, 16).ok())
                .flatten()
        })
        .sum()
}

/// Memory bound every case asserts on the proxy's peak RSS.
pub const RSS_BOUND_KIB: u64 = 64 * 1024;

/// `input -> roundrobin(b1, b2) fallback funnel`, built once per test run.
/// Its ports are fixed at build time, so the cases that use it take turns
/// ([`failover`] hands out a lock).
pub struct Failover {
    pub binary: PathBuf,
    pub input: u16,
    pub backends: [u16; 2],
    _dir: TempDir,
}

pub fn failover() -> (MutexGuard<'static, ()>, &'static Failover) {
    static TURN: Mutex<()> = Mutex::new(());
    static PROXY: OnceLock<Failover> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let proxy = PROXY.get_or_init(|| {
        let dir = temp_dir("failover-proxy");
        let (input, b1, b2) = (free_port(), free_port(), free_port());
        let routing = format!(
            "input = tcp.in(port: {input})\n\
             b1    = tcp.out(port: {b1}, reconnect: 100ms)\n\
             b2    = tcp.out(port: {b2}, reconnect: 100ms)\n\
             input -> roundrobin(b1, b2) fallback funnel\n"
        );
        Failover {
            binary: build(&dir, &routing),
            input,
            backends: [b1, b2],
            _dir: dir,
        }
    });
    (turn, proxy)
}

/// Backends `a` and `b` on the failover proxy's ports.
pub fn two_backends(
    dir: &Path,
    proxy: &Failover,
    paces: [backend::Pace; 2],
) -> [backend::Backend; 2] {
    [
        backend::Backend::start(dir, "a", 0, proxy.backends[0], paces[0]),
        backend::Backend::start(dir, "b", 0, proxy.backends[1], paces[1]),
    ]
}

/// Waits (bounded) until both backends accepted the proxy's connection.
pub fn wait_connected(dir: &Path, log: impl Fn() -> String) {
    let up = wait_until(Duration::from_secs(20), || {
        backend::accepted(dir, "a") > 0 && backend::accepted(dir, "b") > 0
    });
    assert!(up, "the proxy did not connect to both backends\n{}", log());
}

/// Lines both backends hold, given fixed-width events of `width` bytes.
pub fn lines_at(dir: &Path, width: usize) -> u64 {
    (backend::received_bytes(dir, "a") + backend::received_bytes(dir, "b")) / (width as u64 + 1)
}
