//! Issue 3, point 3: `roundrobin(output_1, output_2) fallback funnel` with
//! backends that are missing, leave, or arrive late.

use std::time::Duration;

use crate::peers::{free_port, numbered, send, Sender, Sink, SinkOpts};
use crate::setup::{figures, increasing, start, tally, wait_total};

const WAIT: Duration = Duration::from_secs(60);

/// (a) One sink never listens: all 100,000 events reach the other one, none
/// twice.
pub fn failover_a_sink_never_listening() {
    let n = 100_000u64;
    let dead = free_port();
    let sink = Sink::start(SinkOpts::default());
    let run = start("failover", &[dead, sink.port], &[], 1);
    send(run.input, &numbered("fa-", n as usize));
    wait_total(&[&sink], n, WAIT);
    let rss = run.proxy.rss_kib();
    let got = sink.stop();
    let t = tally(n, &[&got.seqs]);
    figures("failover_a", t, &format!("rss_peak_kib={}", rss.0));
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert_eq!(got.fragments, 0);
}

/// (b) One sink reads 20,000 lines, then half-closes (shuts down its write
/// side, stops listening) and keeps reading until the proxy closes. The
/// proxy notices, stops sending there, and every event is delivered exactly
/// once across the two sinks. Lines are long (100 bytes) so that the
/// leaving sink's share is far larger than what socket buffers hold.
pub fn failover_b_sink_half_closes_mid_stream() {
    let n = 200_000u64;
    let leaving = Sink::start(SinkOpts {
        half_close_after: Some(20_000),
        ..SinkOpts::default()
    });
    let staying = Sink::start(SinkOpts::default());
    let run = start("failover", &[leaving.port, staying.port], &[], 2);
    let prefix = "x".repeat(91);
    send(run.input, &numbered(&prefix, n as usize));
    wait_total(&[&leaving, &staying], n, WAIT);
    let log = run.proxy.log_text();
    let rss = run.proxy.rss_kib();
    let (l, s) = (leaving.stop(), staying.stop());
    let t = tally(n, &[&l.seqs, &s.seqs]);
    figures(
        "failover_b",
        t,
        &format!(
            "leaving_sink={} staying_sink={} rss_peak_kib={}",
            l.lines, s.lines, rss.0
        ),
    );
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert_eq!(l.fragments + s.fragments, 0, "a partial line was written");
    assert!(
        log.contains("module `output_1` (tcp.out) is down"),
        "close not noticed:\n{log}"
    );
    assert!(
        l.lines >= 20_000 && l.lines < n / 2,
        "leaving sink got {} lines",
        l.lines
    );
    assert!(increasing(&l.seqs), "leaving sink's lines out of order");
}

/// (c) Both sinks down at start; one comes up 2 s later. Everything arrives,
/// and while the proxy waits its memory stays bounded (the producer is held
/// back instead: 50 MB are offered).
pub fn failover_c_both_down_then_one_comes_up() {
    let n = 500_000u64;
    let late_port = free_port();
    let never = free_port();
    let run = start("failover", &[never, late_port], &[], 0);
    let prefix = "y".repeat(91);
    let sender = Sender::spawn_numbered(run.input, prefix, n as usize);
    // The backend comes up 2 s after the proxy is running and being fed.
    let late = Sink::start_on(
        late_port,
        SinkOpts {
            start_after: Duration::from_secs(2),
            ..SinkOpts::default()
        },
    );
    let mut peak_waiting = 0;
    while late.lines() == 0 && late.started.elapsed() < Duration::from_secs(10) {
        peak_waiting = peak_waiting.max(run.proxy.rss_kib().1);
        std::thread::sleep(Duration::from_millis(50));
    }
    let offered_while_down = sender.written.load(std::sync::atomic::Ordering::Relaxed);
    let waited = late.started.elapsed();
    sender.join(WAIT).expect("sender finished");
    wait_total(&[&late], n, WAIT);
    let rss = run.proxy.rss_kib();
    let got = late.stop();
    let t = tally(n, &[&got.seqs]);
    figures(
        "failover_c",
        t,
        &format!(
            "waited_ms={} accepted_while_down_bytes={offered_while_down} rss_while_down_kib={peak_waiting} rss_peak_kib={}",
            waited.as_millis(),
            rss.0
        ),
    );
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert!(
        peak_waiting < 64 * 1024,
        "RSS while down {peak_waiting} KiB"
    );
    assert!(
        offered_while_down < n * 100,
        "the producer was not held back while down"
    );
}
