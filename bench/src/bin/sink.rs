//! `sink [--lines N] [--idle-ms MS] [--start-ms MS] [--drain-ms MS]
//! [--max-ms MS] [--out PREFIX] [--leave PORT:LINES | --abort PORT:LINES]
//! PORT...`: listens on 127.0.0.1:PORT for each
//! port, accepts any number of connections, counts lines (newlines) per port,
//! and optionally writes what each connection receives to `PREFIX.PORT.K`
//! (K counts the port's connections from 0, in the order they were accepted;
//! one file per connection, so concurrent connections do not interleave).
//!
//! It exits by itself and prints one line of `key=value` pairs:
//! - `complete`: N lines seen, then every connection closed or `drain-ms`
//!   without data (relays keep their backend connections open);
//! - `idle`: data came, then none for `idle-ms`, before N lines;
//! - `nodata`: nothing for `start-ms`; `timeout`: `max-ms` overall.
//!
//! `t_done` is CLOCK_MONOTONIC when the N-th line arrived (the reader that
//! crosses N stamps it), or the last byte when incomplete.
//!
//! `--leave PORT:LINES` makes that port a backend that goes away mid-run, to
//! measure a relay's failover: once the port has read LINES lines, it stops
//! listening (new connections are refused) and half-closes the connection
//! whose read crossed the mark (a relay holds one per backend; no more
//! replies, the FIN a leaving peer sends), but keeps reading what
//! the relay still sends until the relay closes. So nothing is lost on the
//! sink's side and the run stays checkable line for line. `t_left` reports
//! when it left (0 if it never did), `left_unix_ns` the same moment on the
//! wall clock (to compare with the relay's log) and `left_lines` how many
//! lines the port had read by then.
//!
//! `--abort PORT:LINES` is a backend that dies instead: once the port has
//! read LINES lines it stops listening and drops that connection with data
//! unread, so the kernel resets it. What it had received and not read is
//! lost, as with a killed process: `abandoned_bytes` is that amount (the
//! socket's unread bytes just before the close, plus a line it had read only
//! in part, which it neither counts nor records).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use wbc_bench::{args::Args, count_newlines, die, now_ns, realtime_ns};

const READ_BUF: usize = 1 << 20;
const MS: u64 = 1_000_000;

#[derive(Clone, Copy, PartialEq)]
enum Going {
    /// Half-closes and reads on (`--leave`).
    Leave,
    /// Drops the connection with data unread (`--abort`).
    Abort,
}

struct Port {
    port: u16,
    lines: AtomicU64,
    bytes: AtomicU64,
    /// `PREFIX.PORT`: connection K writes to `PREFIX.PORT.K`.
    out: Option<String>,
    /// `--leave` or `--abort`: how, and after how many lines, the port
    /// goes away.
    goes_away: Option<(Going, u64)>,
    /// Set by the reader that crosses that mark, so it goes once.
    leaving: AtomicBool,
    /// Set once the listener is shut down: only then may its thread end
    /// (and close the descriptor).
    left: AtomicBool,
    /// The listening socket, shut down when the port leaves.
    listen_fd: i32,
}

#[derive(Default)]
struct Totals {
    expect: u64,
    lines: AtomicU64,
    t_first: AtomicU64,
    t_last: AtomicU64,
    t_done: AtomicU64,
    t_left: AtomicU64,
    left_unix_ns: AtomicU64,
    left_lines: AtomicU64,
    abandoned_bytes: AtomicU64,
    open: AtomicI64,
    conns: AtomicU64,
}

fn main() {
    let args = Args::from_env();
    let totals = Arc::new(Totals {
        expect: args.get("lines", 0),
        ..Totals::default()
    });
    let idle = args.get("idle-ms", 5000u64) * MS;
    let start_wait = args.get("start-ms", 30_000u64) * MS;
    let drain = args.get("drain-ms", 250u64) * MS;
    let max = args.get("max-ms", 900_000u64) * MS;
    let ports = args.ports(0);
    if ports.is_empty() {
        die("give at least one PORT");
    }
    let mark = |key: &str| {
        args.get_str(key).map(|text| {
            text.split_once(':')
                .and_then(|(p, n)| Some((p.parse::<u16>().ok()?, n.parse::<u64>().ok()?)))
                .filter(|&(_, n)| n > 0)
                .unwrap_or_else(|| die(format_args!("`--{key}` wants PORT:LINES, got `{text}`")))
        })
    };
    let goes_away = match (mark("leave"), mark("abort")) {
        (Some(_), Some(_)) => die("give `--leave` or `--abort`, not both"),
        (Some((port, n)), None) => Some((port, Going::Leave, n)),
        (None, Some((port, n))) => Some((port, Going::Abort, n)),
        (None, None) => None,
    };
    let mut all = Vec::new();
    for port in ports {
        let out = args.get_str("out").map(|prefix| format!("{prefix}.{port}"));
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| die(format_args!("listen on 127.0.0.1:{port}: {e}")));
        let state = Arc::new(Port {
            port,
            lines: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            out,
            goes_away: goes_away
                .filter(|&(p, _, _)| p == port)
                .map(|(_, how, n)| (how, n)),
            leaving: AtomicBool::new(false),
            left: AtomicBool::new(false),
            listen_fd: listener.as_raw_fd(),
        });
        let (s, t) = (state.clone(), totals.clone());
        std::thread::spawn(move || accept_loop(listener, s, t));
        all.push(state);
    }

    let started = now_ns();
    let status = loop {
        std::thread::sleep(Duration::from_millis(2));
        let now = now_ns();
        let (first, last) = (totals.t_first.load(Relaxed), totals.t_last.load(Relaxed));
        let done = totals.t_done.load(Relaxed) != 0;
        if done && (totals.open.load(Relaxed) == 0 || now.saturating_sub(last) > drain) {
            break "complete";
        }
        if !done && first == 0 && now - started > start_wait {
            break "nodata";
        }
        if !done && first != 0 && now.saturating_sub(last) > idle {
            break "idle";
        }
        if now - started > max {
            break "timeout";
        }
    };
    let last = totals.t_last.load(Relaxed);
    let t_done = match totals.t_done.load(Relaxed) {
        0 => last,
        t => t,
    };
    let bytes: u64 = all.iter().map(|p| p.bytes.load(Relaxed)).sum();
    let mut report = format!(
        "status={status} lines={} bytes={bytes} conns={} t_first={} t_last={last} t_done={t_done} \
         t_left={} left_unix_ns={} left_lines={} abandoned_bytes={}",
        totals.lines.load(Relaxed),
        totals.conns.load(Relaxed),
        totals.t_first.load(Relaxed),
        totals.t_left.load(Relaxed),
        totals.left_unix_ns.load(Relaxed),
        totals.left_lines.load(Relaxed),
        totals.abandoned_bytes.load(Relaxed),
    );
    for p in &all {
        report += &format!(" p{}={}", p.port, p.lines.load(Relaxed));
    }
    println!("{report}");
    // Reader threads may still be blocked in read(); exiting ends them.
    std::process::exit(0);
}

fn accept_loop(listener: TcpListener, port: Arc<Port>, totals: Arc<Totals>) {
    // Numbered by accepted connection, so the files have no gaps when an accept fails.
    let mut k = 0u64;
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // A listener shut down by `--leave`/`--abort` fails every accept from then on.
            if port.left.load(Relaxed) {
                return;
            }
            continue;
        };
        totals.conns.fetch_add(1, Relaxed);
        totals.open.fetch_add(1, Relaxed);
        // Created before reading, so a file exists for every connection that sent data.
        let out = port.out.as_ref().map(|prefix| {
            let path = format!("{prefix}.{k}");
            File::create(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}")))
        });
        k += 1;
        let (p, t) = (port.clone(), totals.clone());
        std::thread::spawn(move || {
            read_loop(stream, out, &p, &t);
            t.open.fetch_sub(1, Relaxed);
        });
    }
}

fn read_loop(mut stream: TcpStream, mut out: Option<File>, port: &Port, totals: &Totals) {
    let mut buf = vec![0u8; READ_BUF];
    // Bytes after the last newline read (only kept for `--abort`).
    let mut tail = 0usize;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let t = now_ns();
        let _ = totals.t_first.compare_exchange(0, t, Relaxed, Relaxed);
        totals.t_last.fetch_max(t, Relaxed);
        let newlines = count_newlines(&buf[..n]);
        port.lines.fetch_add(newlines, Relaxed);
        port.bytes.fetch_add(n as u64, Relaxed);
        let before = totals.lines.fetch_add(newlines, Relaxed);
        if totals.expect > 0 && before < totals.expect && before + newlines >= totals.expect {
            totals.t_done.store(t, Relaxed);
        }
        let (mut keep, mut aborted) = (n, false);
        if let Some((how, after)) = port.goes_away {
            let port_lines = port.lines.load(Relaxed);
            if how == Going::Abort {
                tail = match buf[..n].iter().rposition(|&b| b == b'\n') {
                    Some(i) => n - i - 1,
                    None => tail + n,
                };
            }
            if port_lines >= after && !port.leaving.swap(true, Relaxed) {
                // The wall clock is read before going: the relay may notice
                // (and log) it before this thread runs again.
                totals.left_unix_ns.store(realtime_ns(), Relaxed);
                stop_listening(port);
                totals.t_left.store(t, Relaxed);
                totals.left_lines.store(port_lines, Relaxed);
                match how {
                    Going::Leave => {
                        stream.shutdown(Shutdown::Write).ok();
                    }
                    Going::Abort => {
                        let unread = reset_on_close(&stream);
                        totals
                            .abandoned_bytes
                            .store((unread + tail) as u64, Relaxed);
                        // The line read in part is lost with the rest.
                        keep = n.saturating_sub(tail);
                        aborted = true;
                    }
                }
            }
        }
        // Unbuffered: what is written is in the file when the sink reports.
        if let Some(file) = &mut out {
            // A partial line longer than this read began in the file already.
            let begun = (tail.saturating_sub(n) * aborted as usize) as u64;
            let written = file.write_all(&buf[..keep]).and_then(|()| match begun {
                0 => Ok(()),
                _ => file
                    .metadata()
                    .and_then(|m| file.set_len(m.len().saturating_sub(begun))),
            });
            if written.is_err() {
                die(format_args!("writing the output of port {}", port.port));
            }
        }
        if aborted {
            // Dropping the stream resets it (linger 0).
            return;
        }
    }
}

/// The port goes away: it stops listening, so the relay's reconnects are
/// refused.
fn stop_listening(port: &Port) {
    // SAFETY: `listen_fd` is the listener's descriptor, open for the whole
    // run (its thread owns it); shutdown on a listening socket makes Linux
    // refuse new connections and fail the pending accept.
    unsafe { libc::shutdown(port.listen_fd, libc::SHUT_RDWR) };
    port.left.store(true, Relaxed);
}

/// Makes the coming close of `stream` a reset that discards what is unread
/// (linger 0), and returns how many bytes that is.
fn reset_on_close(stream: &TcpStream) -> usize {
    let fd = stream.as_raw_fd();
    let mut unread: libc::c_int = 0;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `fd` is this open socket; FIONREAD writes one c_int into
    // `unread`, and SO_LINGER reads one `linger` of the size given.
    unsafe {
        libc::ioctl(fd, libc::FIONREAD, &mut unread);
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    unread.max(0) as usize
}
