//! `latency --to PORT --rate LINES_PER_S [--seconds S] [--size BYTES]
//! [--warmup-s S] [--wait-ms MS] SINKPORT...`: per-event latency through a
//! relay at a fixed offered rate.
//!
//! It listens on every SINKPORT (the relay's backends), connects to the
//! relay on PORT, and writes lines at RATE, each carrying its sequence number
//! and the CLOCK_MONOTONIC time it was written. The sink side stamps every
//! read and records, per line, arrival minus write time. Lines of the first
//! `warmup-s` seconds are left out. Prints `sent= received= bad= measured=
//! offered_rate= achieved_rate= p50_us= p99_us= p999_us= max_us= slow_ms=
//! tool_late_p99_us= tool_late_max_us= arrival_p50_us= arrival_p99_us=
//! arrival_p999_us= arrival_slow_ms= unstamped_reads=` (`slow_ms=K/M`: K of
//! the run's M one-millisecond windows of traffic held a line slower than
//! 1 ms; see
//! [`Latencies::slow_windows`](wbc_bench::latencies::Latencies::slow_windows);
//! `tool_late_*`: how late the tool's own thread made the measured lines,
//! beyond its pacing, which the latencies do not count; see
//! [`Sender::made_late`]; `arrival_*`: the same latencies measured to the
//! line's arrival in the sink's socket instead of to the tool's read, see
//! [`sinks`]; `unstamped_reads`: reads that came without the kernel's
//! timestamp, whose arrival is taken as the read time).
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
//! doubling, the sequence counted up in a register). A batch's first line
//! is found with `memchr` and parsed by [`StampReader`]; the lines after
//! it are taken at the line size while they carry the same stamp field
//! ([`StampReader::same_stamp_lines`]), and the lines of one read with one
//! stamp are recorded once, with their count
//! ([`Latencies`](wbc_bench::latencies::Latencies)), so nothing is sorted
//! per line at the end.
//!
//! What that bought, measured with `/usr/bin/time`:
//! - with no relay (the tool sending into its own sink), 23.7 M lines/s,
//!   3 runs each: 2.8-3.0 s of CPU in a 3.5 s run (1.6 s of it user time,
//!   the final sort included) with a line parsed per `memchr` and one
//!   latency kept per line; now 1.9 s (0.6 s user);
//! - through wbc-one at 18.5 M lines/s, 8 interleaved runs each: the tool's
//!   CPU 2.8-3.0 s -> 2.0-2.5 s, and p99 under 1 ms in 6 runs instead of 3
//!   (median 0.43 ms, was 1.3 ms).
//!
//! Earlier, copying each line with its own call and parsing every stamp
//! whole cost 3.2 s at 18.5 M lines/s (2.6 s after the first round).
//!
//! Pacing: a batch at most every 50 µs ([`sender::PACE_NS`], the pacing of the
//! earlier tool, so a relay sees the same traffic), holding the lines due by
//! now (at most [`sender::MAX_BATCH`]), stamped with the time of the `write`
//! that offers them. A line waits up to 50 µs to be made, plus however late
//! the tool's own thread wakes; that wait is the tool's and is not counted,
//! but the lateness beyond the 50 µs is reported (`tool_late_p99_us`,
//! `tool_late_max_us`), so a run in which the tool itself lagged (a stall of
//! its core) shows as such.
//! When the relay pushes back and the socket takes only part of a batch, the
//! rest is kept and written first on the following turns with the stamps it
//! already carries, and no new line is made meanwhile. The lines that fall
//! due meanwhile are made once the socket has taken the whole batch, and
//! stamped with when they fell due plus 50 µs. So all the time a line waits
//! because a relay does not read counts as that relay's latency, as a client
//! with a schedule would see it. (Stamping those lines with the time they
//! were made hides that wait, "coordinated omission"; the tool did so until
//! 2026-12-06, and the wait showed only as `achieved_rate` below
//! `offered_rate`, not at all when the sender caught up before the end.
//! Stamping every late line with its due time would also count the tool's
//! own wake-ups: at 1 M lines/s with no relay that moved p50 from 10 to
//! 34-47 µs.)
//!
//! The waits are bounded: sending stops when the relay has taken no byte for
//! 3 s (a warning says so, and `sent` counts only the lines it took whole),
//! and the run ends when every line sent has arrived, or after 3 s without
//! a byte.

mod sender;
mod sinks;

use sender::Sender;
use sinks::{accept_all, read_ready, Sink, Tally};
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use wbc_bench::latencies::Latencies;
use wbc_bench::lines::{StampLine, StampReader};
use wbc_bench::{args::Args, connect, die, now_ns};

/// The longest sleep in `ppoll`: bounds how late a stall or the end of
/// the wait for stragglers is noticed.
const MAX_WAIT_NS: u64 = 10_000_000;
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
    let mut sender = Sender::new(stream, line, size, rate, total, (warmup_s * 1e9) as u64);
    let mut tally = Tally::new(StampReader::new(size), sender.measure_from_ns);
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
    let lat = &tally.latencies;
    // Windows of one millisecond of traffic at `rate`; see `slow_ms` above.
    let (slow_ms, all_ms) = lat.slow_windows(rate / 1000, 1_000_000);
    let us = |lat: &Latencies, ps: &[f64]| -> Vec<f64> {
        lat.percentiles(ps)
            .into_iter()
            .map(|ns| ns.map_or(f64::NAN, |ns| ns as f64 / 1000.0))
            .collect()
    };
    let late = us(&sender.made_late, &[0.99, 1.0]);
    let arr = us(&tally.arrivals, &[0.50, 0.99, 0.999]);
    let (arr_slow, _) = tally.arrivals.slow_windows(rate / 1000, 1_000_000);
    let us = us(lat, &[0.50, 0.99, 0.999, 1.0]);
    println!(
        "sent={} received={} bad={} measured={} offered_rate={rate} achieved_rate={:.0} \
         p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} slow_ms={slow_ms}/{all_ms} \
         tool_late_p99_us={:.1} tool_late_max_us={:.1} \
         arrival_p50_us={:.1} arrival_p99_us={:.1} arrival_p999_us={:.1} \
         arrival_slow_ms={arr_slow}/{all_ms} unstamped_reads={}",
        sender.sent,
        tally.lines,
        tally.bad,
        lat.lines(),
        sender.sent as f64 / send_s,
        us[0],
        us[1],
        us[2],
        us[3],
        late[0],
        late[1],
        arr[0],
        arr[1],
        arr[2],
        tally.unstamped_reads,
    );
    std::process::exit(0);
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
