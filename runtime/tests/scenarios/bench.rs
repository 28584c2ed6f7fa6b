//! Throughput figures (not assertions of speed): run explicitly, in release,
//! `cargo test --release -p wbc-runtime --test scenarios -- bench_`.
//!
//! Sends 5,000,000 lines of 64 bytes (with their newline) straight into a
//! sink (the limit of this machine's loopback and test peers), then through
//! `input -> output` and `roundrobin(output_1, output_2)`, and prints wall
//! time from the first byte sent to the last line received, lines/s, MiB/s,
//! the proxy's CPU seconds and peak RSS. Correctness still holds: every line
//! must arrive once.

use std::time::{Duration, Instant};

use crate::peers::{Sender, Sink, SinkOpts};
use crate::process::ProxyProcess;
use crate::setup::{start, tally};

const LINES: u64 = 5_000_000;
const PREFIX_LEN: usize = 64 - 9;

pub fn bench_throughput_64_byte_lines() {
    let prefix = "b".repeat(PREFIX_LEN);
    // The limit: sender -> sink, no proxy.
    let sink = Sink::start(SinkOpts::default());
    let started = Instant::now();
    let sender = Sender::spawn_numbered(sink.port, prefix.clone(), LINES as usize);
    let got = sink.wait_lines(LINES, Duration::from_secs(120));
    let limit = started.elapsed();
    let _ = sender.join(Duration::from_secs(10));
    let r = sink.stop();
    assert_eq!(
        tally(LINES, &[&r.seqs]).delivered,
        LINES,
        "limit run lost lines ({got})"
    );
    report("limit", limit, None);

    for (graph, outputs) in [("one", 1), ("roundrobin", 2)] {
        let sinks: Vec<Sink> = (0..outputs)
            .map(|_| Sink::start(SinkOpts::default()))
            .collect();
        let ports: Vec<u16> = sinks.iter().map(|s| s.port).collect();
        let run = start(graph, &ports, &[], outputs);
        let started = Instant::now();
        let sender = Sender::spawn_numbered(run.input, prefix.clone(), LINES as usize);
        let deadline = Instant::now() + Duration::from_secs(300);
        while sinks.iter().map(Sink::lines).sum::<u64>() < LINES && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let wall = started.elapsed();
        let _ = sender.join(Duration::from_secs(10));
        let received: Vec<_> = sinks.into_iter().map(Sink::stop).collect();
        let seqs: Vec<&[u64]> = received.iter().map(|r| r.seqs.as_slice()).collect();
        let t = tally(LINES, &seqs);
        report(graph, wall, Some(&run.proxy));
        assert_eq!(
            (t.delivered, t.duplicated, t.lost),
            (LINES, 0, 0),
            "{graph}"
        );
    }
}

fn report(name: &str, wall: Duration, proxy: Option<&ProxyProcess>) {
    let secs = wall.as_secs_f64();
    let (cpu, rss) = proxy.map_or((0.0, 0), |p| (cpu_seconds(p.pid()), p.rss_kib().0));
    println!(
        "figures bench {name}: lines={LINES} wall_s={secs:.3} lines_per_s={:.0} mib_per_s={:.1} proxy_cpu_s={cpu:.2} proxy_rss_peak_kib={rss}",
        LINES as f64 / secs,
        (LINES * 64) as f64 / secs / (1 << 20) as f64
    );
}

/// utime + stime of a process, from /proc/PID/stat (clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after `)`.
    (ticks(11) + ticks(12)) / 100.0
}
