//! The sink side of `latency`: accepted connections and what they received.
//!
//! Each line is measured twice: against the time the tool read it (what a
//! backend process sees, the tool's own lag as a reader included) and
//! against when it arrived in the sink's socket (the kernel's receive
//! timestamp, `SO_TIMESTAMPNS`: when the relay's write delivered it over
//! loopback). For TCP the kernel reports one timestamp per read, that of the
//! newest segment the read took, so every line of a read is given the
//! latest arrival among them: the arrival figure can only overstate.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use wbc_bench::latencies::Latencies;
use wbc_bench::lines::StampReader;
use wbc_bench::{now_ns, realtime_ns};

/// `SO_TIMESTAMPNS` (`SO_TIMESTAMPNS_OLD` of asm-generic/socket.h, which
/// x86_64 and aarch64 use); its control message, `SCM_TIMESTAMPNS`, has the
/// same number. Not exported by the `libc` crate for Linux.
const SO_TIMESTAMPNS: libc::c_int = 35;

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
    /// Read time minus stamp.
    pub latencies: Latencies,
    /// Arrival in the sink's socket minus stamp.
    pub arrivals: Latencies,
    /// Reads that came without a kernel timestamp; their lines' arrival is
    /// taken as the read time.
    pub unstamped_reads: u64,
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
            arrivals: Latencies::with_capacity(RUNS),
            unstamped_reads: 0,
        }
    }

    /// Splits `chunk` into lines (completing `carry`, the partial line of
    /// the connection's previous read) and records each line's latency
    /// against `t.read`, the time of the read that completed it, and
    /// against `t.arrived`, when that read's newest data reached the socket.
    fn record(&mut self, chunk: &[u8], carry: &mut Vec<u8>, t: Instants) {
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
    fn count(&mut self, stamp: Option<u64>, n: usize, t: Instants) {
        self.lines += n as u64;
        let since = |at: u64, stamp: u64| at.saturating_sub(stamp).min(u32::MAX as u64) as u32;
        match stamp {
            Some(stamp) if stamp >= self.measure_from_ns => {
                self.latencies.record(since(t.read, stamp), n as u32);
                self.arrivals.record(since(t.arrived, stamp), n as u32);
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
        match read_stamped(&sinks[i].stream, buf) {
            Ok((0, _)) => {
                sinks.swap_remove(i);
            }
            Ok((n, arrived)) => {
                let read = now_ns();
                if arrived.is_none() {
                    tally.unstamped_reads += 1;
                }
                let arrived = arrived.map_or(read, |a| a.min(read));
                tally.record(&buf[..n], &mut sinks[i].carry, Instants { read, arrived });
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
                // Without timestamps every read counts as unstamped.
                let _ = enable_arrival_stamps(&stream);
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

/// When a read's lines were read, and when its newest data arrived (both
/// CLOCK_MONOTONIC ns).
#[derive(Clone, Copy)]
struct Instants {
    read: u64,
    arrived: u64,
}

fn enable_arrival_stamps(stream: &TcpStream) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: the option value is a valid c_int for the length given.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// One `recvmsg` into `buf`: the bytes read and, when the kernel attached
/// one, the receive time of the newest segment read, as CLOCK_MONOTONIC ns
/// (the kernel stamps with CLOCK_REALTIME; the offset between the two
/// clocks is read right after, so a step of the wall clock costs one read).
fn read_stamped(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<u64>)> {
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (describing `buf`) and `control`, all
    // valid and writable for the lengths given, and outliving the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut arrived = None;
    // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of
    // `control`, as the kernel filled it in; the timespec is read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                arrived = Some(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let arrived = arrived.map(|real| {
        let offset = realtime_ns() as i128 - now_ns() as i128;
        (real - offset).max(0) as u64
    });
    Ok((n as usize, arrived))
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

    /// Over a real loopback connection, a read 30 ms after the write gets
    /// the kernel's receive time: after the write, and well before the
    /// read (the lag of the reader is what the arrival figure leaves out).
    #[test]
    fn a_late_read_reports_when_the_data_arrived() {
        use std::io::Write;
        use std::time::{Duration, Instant};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        enable_arrival_stamps(&reader).unwrap();
        let mut buf = [0u8; 64];
        // The kernel may turn timestamping on a moment after the first
        // socket asks for it: try a few writes, each read 30 ms late.
        let begun = Instant::now();
        let mut stamped = None;
        for _ in 0..20 {
            let written = now_ns();
            writer.write_all(b"x\n").unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let read = now_ns();
            let (n, arrived) = read_stamped(&reader, &mut buf).unwrap();
            assert_eq!(n, 2);
            if let Some(arrived) = arrived {
                stamped = Some((written, arrived, read));
                break;
            }
            assert!(begun.elapsed() < Duration::from_secs(5));
        }
        let (written, arrived, read) = stamped.expect("a read with a receive timestamp");
        // 1 ms of slack each way for the offset between the two clocks,
        // which is read after the call.
        assert!(
            arrived + 1_000_000 >= written,
            "arrived before it was written"
        );
        assert!(
            read.saturating_sub(arrived) >= 20_000_000,
            "arrival {} ns before the read, expected about 30 ms",
            read.saturating_sub(arrived)
        );
    }

    /// Whatever the reads' sizes, every line is counted once, a damaged one
    /// as bad, the warm-up's are not measured, and each measured line's
    /// latency is its read's time minus its stamp, its arrival latency the
    /// read's arrival time minus its stamp.
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
                let read = 10_000 + i as u64;
                let t = Instants {
                    read,
                    arrived: read - 3_000,
                };
                tally.record(chunk, &mut carry, t);
            }
            assert!(carry.is_empty(), "cut {cut}");
            assert_eq!((tally.lines, tally.bad), (12, 1), "cut {cut}");
            assert_eq!(tally.latencies.lines(), 8, "cut {cut}");
            // Read in one piece: 4 lines took 9_000 ns and 4 took 8_000.
            if cut == 10_000 {
                let ps = tally.latencies.percentiles(&[0.5, 1.0]);
                assert_eq!(ps, vec![Some(8_000), Some(9_000)]);
                let ps = tally.arrivals.percentiles(&[0.5, 1.0]);
                assert_eq!(ps, vec![Some(5_000), Some(6_000)]);
            }
        }
    }
}
