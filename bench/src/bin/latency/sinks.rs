//! The sink side of `latency`: accepted connections and what they received.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use wbc_bench::latencies::Latencies;
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
    pub latencies: Latencies,
}

/// Runs reserved up front (16 MiB): a read holds a run or two, and a run
/// of 3 s at 20 M lines/s reads about 100,000 times.
const RUNS: usize = 1 << 21;

impl Tally {
    pub fn new(reader: StampReader, measure_from_ns: u64) -> Tally {
        Tally {
            measure_from_ns,
            reader,
            lines: 0,
            bad: 0,
            latencies: Latencies::with_capacity(RUNS),
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
            self.count(stamp, 1, t);
            carry.clear();
            rest = &rest[end + 1..];
        }
        loop {
            let (n, stamp) = self.reader.same_stamp_lines(rest);
            if n > 0 {
                self.count(stamp, n, t);
                rest = &rest[n * self.reader.size()..];
            }
            let Some(end) = find_newline(rest) else { break };
            let stamp = self.reader.stamp(&rest[..end]);
            self.count(stamp, 1, t);
            rest = &rest[end + 1..];
        }
        carry.extend_from_slice(rest);
    }

    /// `n` lines read at `t`, all with `stamp` (`None`: not this format).
    fn count(&mut self, stamp: Option<u64>, n: usize, t: u64) {
        self.lines += n as u64;
        match stamp {
            Some(stamp) if stamp >= self.measure_from_ns => {
                let ns = t.saturating_sub(stamp).min(u32::MAX as u64) as u32;
                self.latencies.record(ns, n as u32);
            }
            Some(_) => {}
            None => self.bad += n as u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use wbc_bench::lines::StampLine;

    /// Whatever the reads' sizes, every line is counted once, a damaged one
    /// as bad, the warm-up's are not measured, and each measured line's
    /// latency is its read's time minus its stamp.
    #[test]
    fn reads_cut_anywhere_count_every_line_once() {
        let mut line = StampLine::new(64).unwrap();
        let mut stream = Vec::new();
        // Stamps 100 (warm-up), 1_000, 2_000: 3, 5 and 4 lines.
        line.extend(&mut stream, 0, 3, 100);
        line.extend(&mut stream, 3, 5, 1_000);
        line.extend(&mut stream, 8, 4, 2_000);
        stream[64 * 6 + 2] = b'x'; // the 7th line (stamp 1_000) is damaged
        for cut in [1, 7, 63, 64, 65, 200, 10_000] {
            let mut tally = Tally::new(StampReader::new(64), 500);
            let mut carry = Vec::new();
            for (i, chunk) in stream.chunks(cut).enumerate() {
                tally.record(chunk, &mut carry, 10_000 + i as u64);
            }
            assert!(carry.is_empty(), "cut {cut}");
            assert_eq!((tally.lines, tally.bad), (12, 1), "cut {cut}");
            assert_eq!(tally.latencies.lines(), 8, "cut {cut}");
            // Read in one piece: 4 lines took 9_000 ns and 4 took 8_000.
            if cut == 10_000 {
                let ps = tally.latencies.percentiles(&[0.5, 1.0]);
                assert_eq!(ps, vec![Some(8_000), Some(9_000)]);
            }
        }
    }
}
