//! Issue 3, point 4: a slow sink holds the producer back; the proxy's memory
//! stays bounded and nothing is lost.
//!
//! 200 MiB at 1 MiB/s would take 200 s, so the sink reads at 1 MiB/s for a
//! bounded slow phase ([`SLOW_FOR`]) and then at full speed. RSS and the
//! producer's progress are asserted during the slow phase (when a proxy that
//! did not push back would have swallowed most of the 200 MiB), the absence
//! of loss at the end; the peak RSS (VmHWM) covers both phases.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::peers::{Sender, Sink, SinkOpts};
use crate::setup::{figures, increasing, start, tally};

const SLOW_FOR: Duration = Duration::from_secs(8);
const RATE: u64 = 1 << 20;
const LINE: u64 = 1024;
const OFFERED: u64 = 200 << 20;
const RSS_BOUND_KIB: u64 = 64 * 1024;

pub fn backpressure_slow_sink_bounded_rss() {
    let n = OFFERED / LINE;
    let sink = Sink::start(SinkOpts {
        rate: Some(RATE),
        slow_for: SLOW_FOR,
        ..SinkOpts::default()
    });
    let run = start("one", &[sink.port], &[], 1);
    let sender = Sender::spawn_numbered(run.input, "z".repeat(LINE as usize - 9), n as usize);
    let started = Instant::now();
    let mut rss_slow = 0;
    // The sink's slow phase counts from the sink's start; stop sampling just
    // before it ends.
    while sink.started.elapsed() + Duration::from_millis(150) < SLOW_FOR {
        rss_slow = rss_slow.max(run.proxy.rss_kib().1);
        std::thread::sleep(Duration::from_millis(100));
    }
    let offered_slow = sender.written.load(Ordering::Relaxed);
    let delivered_slow = sink.bytes.load(Ordering::Relaxed);
    let slow_observed = started.elapsed().as_secs_f64();
    sender
        .join(Duration::from_secs(60))
        .expect("sender finished");
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.lines() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (peak, _) = run.proxy.rss_kib();
    let total = started.elapsed();
    let got = sink.stop();
    let t = tally(n, &[&got.seqs]);
    figures(
        "backpressure",
        t,
        &format!(
            "slow_phase_s={} slow_phase_observed_s={slow_observed:.1} producer_accepted_mib={:.1} sink_read_mib={:.1} rss_slow_kib={rss_slow} rss_peak_kib={peak} total_s={:.1}",
            SLOW_FOR.as_secs(),
            offered_slow as f64 / (1 << 20) as f64,
            delivered_slow as f64 / (1 << 20) as f64,
            total.as_secs_f64()
        ),
    );
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert!(increasing(&got.seqs), "lines out of order");
    assert_eq!(got.bytes, OFFERED);
    assert!(
        rss_slow < RSS_BOUND_KIB,
        "RSS during the slow phase: {rss_slow} KiB"
    );
    assert!(peak < RSS_BOUND_KIB, "peak RSS: {peak} KiB");
    // Held back: the proxy holds at most its queues and socket buffers
    // beyond what the sink read, far less than the 200 MiB offered.
    assert!(
        offered_slow < delivered_slow + (48 << 20),
        "producer was not slowed: {offered_slow} bytes accepted, {delivered_slow} read"
    );
}
