//! The sink side of `latency`: accepted connections and what they received.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use wbc_bench::lines::StampReader;
use wbc_bench::now_ns;

/// One accepted sink connection and the start of a line cut by a read.
pub struct Sink {
    pub stream: TcpStream,
    carry: Vec<u8>,
}

/// What the sinks received, over all connections.
pub struct Tally {
    /// Lines stamped before this time (the warm-up) are counted, not measured.
    measure_from_ns: u64,
    reader: StampReader,
    pub lines: u64,
    pub bad: u64,
    pub latencies_ns: Vec<u32>,
}

impl Tally {
    pub fn new(reader: StampReader, measure_from_ns: u64, expected: u64) -> Tally {
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
pub fn read_ready(
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
pub fn accept_all(listener: &TcpListener, sinks: &mut Vec<Sink>) {
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
