//! `latency --to PORT --rate LINES_PER_S [--seconds S] [--size BYTES]
//! [--warmup-s S] [--wait-ms MS] SINKPORT...`: per-event latency through a
//! relay at a fixed offered rate.
//!
//! It listens on every SINKPORT (the relay's backends), connects to the
//! relay on PORT, and writes lines at RATE, each carrying its sequence number
//! and the CLOCK_MONOTONIC time it was written. The sink side stamps every
//! read and records, per line, arrival minus write time. Lines of the first
//! `warmup-s` seconds are left out. Prints `sent= received= achieved_rate=
//! p50_us= p99_us= p999_us= max_us=`.
//!
//! Pacing: every ~50 µs the sender writes the lines that are due, stamped
//! with the time of that write, so batches stay small and the stamp is
//! never older than the write.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wbc_bench::{args::Args, connect, die, lines::StampLine, now_ns};

const MAX_BATCH: u64 = 4096;

#[derive(Default)]
struct Received {
    lines: AtomicU64,
    bad: AtomicU64,
    latencies_ns: Mutex<Vec<u32>>,
}

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
    let mut line = StampLine::new(size).unwrap_or_else(|| {
        die(format_args!(
            "a line needs at least {} bytes",
            StampLine::MIN_SIZE
        ))
    });
    let total = (rate as f64 * seconds) as u64;
    let warmup = (rate as f64 * warmup_s) as u64;

    let received = Arc::new(Received::default());
    for port in args.ports(0) {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| die(format_args!("listen on 127.0.0.1:{port}: {e}")));
        let r = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let r = r.clone();
                std::thread::spawn(move || read_loop(stream, warmup, &r));
            }
        });
    }

    let mut stream = connect(to, Duration::from_millis(wait_ms));
    let _ = stream.set_nodelay(true);
    let mut batch = Vec::with_capacity(MAX_BATCH as usize * size);
    let start = now_ns();
    let mut sent = 0u64;
    while sent < total {
        let now = now_ns();
        let due = (((now - start) as u128 * rate as u128) / 1_000_000_000) as u64;
        let due = due.min(total);
        if due <= sent {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        let n = (due - sent).min(MAX_BATCH);
        batch.clear();
        for seq in sent..sent + n {
            batch.extend_from_slice(line.line(seq, now));
        }
        if let Err(e) = stream.write_all(&batch) {
            die(format_args!("write to 127.0.0.1:{to}: {e}"));
        }
        sent += n;
    }
    let send_s = (now_ns() - start) as f64 / 1e9;

    // Wait (bounded) for the stragglers: everything arrived, or 3 s of silence.
    let mut seen = received.lines.load(Relaxed);
    let mut quiet_since = Instant::now();
    while seen < total && quiet_since.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
        let now_seen = received.lines.load(Relaxed);
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        }
    }
    let mut lat = received
        .latencies_ns
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i] as f64 / 1000.0
    };
    println!(
        "sent={sent} received={seen} bad={} measured={} offered_rate={rate} achieved_rate={:.0} \
         p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1}",
        received.bad.load(Relaxed),
        lat.len(),
        sent as f64 / send_s,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        pct(1.0),
    );
    std::process::exit(0);
}

/// Splits the stream into lines (carrying a partial line across reads) and
/// records each line's latency against the time of the read that completed it.
fn read_loop(mut stream: TcpStream, warmup: u64, received: &Received) {
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut local: Vec<u32> = Vec::with_capacity(1 << 16);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let t = now_ns();
        let mut rest = &buf[..n];
        let (mut lines, mut bad) = (0u64, 0u64);
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let parsed = if carry.is_empty() {
                StampLine::parse(&rest[..end])
            } else {
                carry.extend_from_slice(&rest[..end]);
                let p = StampLine::parse(&carry);
                carry.clear();
                p
            };
            rest = &rest[end + 1..];
            lines += 1;
            match parsed {
                Some((seq, stamp)) if seq >= warmup => {
                    local.push(t.saturating_sub(stamp).min(u32::MAX as u64) as u32)
                }
                Some(_) => {}
                None => bad += 1,
            }
        }
        carry.extend_from_slice(rest);
        if let Ok(mut all) = received.latencies_ns.lock() {
            all.append(&mut local);
        }
        received.bad.fetch_add(bad, Relaxed);
        received.lines.fetch_add(lines, Relaxed);
    }
}
