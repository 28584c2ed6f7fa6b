//! `stalls [--threads N] [--seconds S]`: how often this machine takes a
//! core away from a running program, and for how long.
//!
//! Each of N threads (default: one per core) spins on CLOCK_MONOTONIC for
//! S seconds and records every gap between two consecutive readings longer
//! than 0.5 ms: time the thread was runnable but not running (preempted by
//! the kernel's other work, or its virtual CPU descheduled by the host).
//! Prints one line per thread: `gaps_over_1ms= stalled_ms= max_ms=`.
//!
//! bench/run.sh runs it beside the latency measurements. A relay's p99
//! cannot be lower than what such stalls allow: a stall of D ms of the
//! relay or of the latency tool delays every line in flight by up to D,
//! and the backlog then takes about as long again to drain at half load.
//! When the stalled time is near 1 % of the run, p99 under 1 ms is out of
//! reach for any relay on the machine. (The same idea as `cyclictest` and
//! `hwlatdetect`, without their setup.)

use wbc_bench::{args::Args, now_ns};

/// Gaps shorter than this are the cost of reading the clock and of
/// ordinary interrupts, not stalls.
const GAP_NS: u64 = 500_000;

fn main() {
    let args = Args::from_env();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: usize = args.get("threads", cores).max(1);
    let seconds: f64 = args.get("seconds", 3.0);
    let span = (seconds * 1e9) as u64;
    let spinners: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || spin(span)))
        .collect();
    for (i, spinner) in spinners.into_iter().enumerate() {
        let gaps = spinner.join().unwrap_or_default();
        let over_1ms = gaps.iter().filter(|&&g| g > 1_000_000).count();
        let stalled: u64 = gaps.iter().sum();
        let max = gaps.iter().max().copied().unwrap_or(0);
        println!(
            "thread={i} seconds={seconds} gaps_over_0.5ms={} gaps_over_1ms={over_1ms} \
             stalled_ms={:.1} max_ms={:.2}",
            gaps.len(),
            stalled as f64 / 1e6,
            max as f64 / 1e6
        );
    }
}

/// Spins for `span` ns; returns the gaps over [`GAP_NS`] between readings.
fn spin(span: u64) -> Vec<u64> {
    let start = now_ns();
    let mut last = start;
    let mut gaps = Vec::new();
    while last - start < span {
        let now = now_ns();
        if now - last > GAP_NS {
            gaps.push(now - last);
        }
        last = now;
    }
    gaps
}
