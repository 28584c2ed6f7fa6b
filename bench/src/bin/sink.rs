//! `sink [--lines N] [--idle-ms MS] [--start-ms MS] [--drain-ms MS]
//! [--max-ms MS] [--out PREFIX] PORT...`: listens on 127.0.0.1:PORT for each
//! port, accepts any number of connections, counts lines (newlines) per port,
//! and optionally appends what each port receives to `PREFIX.PORT`.
//!
//! It exits by itself and prints one line of `key=value` pairs:
//! - `complete`: N lines seen, then every connection closed or `drain-ms`
//!   without data (relays keep their backend connections open);
//! - `idle`: data came, then none for `idle-ms`, before N lines;
//! - `nodata`: nothing for `start-ms`; `timeout`: `max-ms` overall.
//!
//! `t_done` is CLOCK_MONOTONIC when the N-th line arrived (the reader that
//! crosses N stamps it), or the last byte when incomplete.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wbc_bench::{args::Args, count_newlines, die, now_ns};

const READ_BUF: usize = 1 << 20;
const MS: u64 = 1_000_000;

struct Port {
    port: u16,
    lines: AtomicU64,
    bytes: AtomicU64,
    out: Option<Mutex<File>>,
}

#[derive(Default)]
struct Totals {
    expect: u64,
    lines: AtomicU64,
    t_first: AtomicU64,
    t_last: AtomicU64,
    t_done: AtomicU64,
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
    let mut all = Vec::new();
    for port in ports {
        let out = args.get_str("out").map(|prefix| {
            let path = format!("{prefix}.{port}");
            Mutex::new(File::create(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}"))))
        });
        let state = Arc::new(Port {
            port,
            lines: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            out,
        });
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| die(format_args!("listen on 127.0.0.1:{port}: {e}")));
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
        "status={status} lines={} bytes={bytes} conns={} t_first={} t_last={last} t_done={t_done}",
        totals.lines.load(Relaxed),
        totals.conns.load(Relaxed),
        totals.t_first.load(Relaxed),
    );
    for p in &all {
        report += &format!(" p{}={}", p.port, p.lines.load(Relaxed));
        if let Some(out) = &p.out {
            let flushed = out
                .lock()
                .map(|mut f| f.flush().and_then(|_| f.sync_data()));
            if !matches!(flushed, Ok(Ok(()))) {
                report += " out_error=1";
            }
        }
    }
    println!("{report}");
    // Reader threads may still be blocked in read(); exiting ends them.
    std::process::exit(0);
}

fn accept_loop(listener: TcpListener, port: Arc<Port>, totals: Arc<Totals>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        totals.conns.fetch_add(1, Relaxed);
        totals.open.fetch_add(1, Relaxed);
        let (p, t) = (port.clone(), totals.clone());
        std::thread::spawn(move || {
            read_loop(stream, &p, &t);
            t.open.fetch_sub(1, Relaxed);
        });
    }
}

fn read_loop(mut stream: TcpStream, port: &Port, totals: &Totals) {
    let mut buf = vec![0u8; READ_BUF];
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
        if let Some(out) = &port.out {
            let written = out.lock().map(|mut f| f.write_all(&buf[..n]));
            if !matches!(written, Ok(Ok(()))) {
                die(format_args!("writing the output of port {}", port.port));
            }
        }
    }
}
