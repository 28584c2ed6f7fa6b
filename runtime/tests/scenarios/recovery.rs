//! tcp.out when its backend leaves and comes back: kept-for-retry events
//! without a `failed` queue, and the residue a reset connection takes with it.

use std::time::{Duration, Instant};

use crate::peers::{Sender, Sink, SinkOpts};
use crate::setup::{figures, increasing, start, tally};

const WAIT: Duration = Duration::from_secs(60);

fn wait_total(sinks: &[&Sink], n: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while sinks.iter().map(|s| s.lines()).sum::<u64>() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

/// `input -> output` without a `failed` queue. The backend half-closes after
/// 20,000 lines, reads what is in flight, and listens again 300 ms later.
/// The output keeps what it has not written, reconnects, and the backend
/// ends up with every line exactly once, in input order.
pub fn retry_without_failed_queue_backend_restarts() {
    let n = 100_000u64;
    let sink = Sink::start(SinkOpts {
        half_close_after: Some(20_000),
        reopen_after: Some(Duration::from_millis(300)),
        ..SinkOpts::default()
    });
    let run = start("one", &[sink.port], &[], 1);
    let sender = Sender::spawn_numbered(run.input, "r".repeat(91), n as usize);
    sender.join(WAIT).expect("sender finished");
    wait_total(&[&sink], n, WAIT);
    let log = run.proxy.log_text();
    let got = sink.stop();
    let t = tally(n, &[&got.seqs]);
    figures(
        "retry_without_failed_queue",
        t,
        &format!("connections={}", got.connections),
    );
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert!(increasing(&got.seqs), "order broken across the reconnect");
    assert_eq!(got.fragments, 0);
    assert!(got.connections >= 2, "the output never reconnected:\n{log}");
    assert!(log.contains("module `output` (tcp.out) is down"), "{log}");
}

/// `roundrobin(output_1, output_2) fallback funnel`; backend 1 is "killed"
/// after 20,000 lines: it drops the connection with data unread, so the
/// kernel resets it. Events already in the dead connection's buffers (the
/// proxy's send buffer and the backend's receive buffer) are lost: that is
/// the residue this case measures. Everything else must reach backend 2,
/// and nothing may arrive twice.
pub fn residue_backend_reset_mid_stream() {
    let n = 200_000u64;
    let killed = Sink::start(SinkOpts {
        abort_after: Some(20_000),
        ..SinkOpts::default()
    });
    let staying = Sink::start(SinkOpts::default());
    let run = start("failover", &[killed.port, staying.port], &[], 2);
    let sender = Sender::spawn_numbered(run.input, "k".repeat(91), n as usize);
    sender.join(WAIT).expect("sender finished");
    // Lost events never arrive: wait until the total stops growing.
    let deadline = Instant::now() + WAIT;
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = killed.lines() + staying.lines();
        if now == last || now >= n || Instant::now() > deadline {
            break;
        }
        last = now;
    }
    wait_total(&[&killed, &staying], n, Duration::from_millis(500));
    let (k, s) = (killed.stop(), staying.stop());
    let t = tally(n, &[&k.seqs, &s.seqs]);
    figures(
        "residue_backend_reset",
        t,
        &format!(
            "killed_sink={} staying_sink={} residue_events={} residue_bytes={} backend_unread_bytes={}",
            k.lines,
            s.lines,
            t.lost,
            t.lost * 100,
            k.abandoned
        ),
    );
    assert_eq!(t.duplicated, 0, "an event arrived twice");
    assert_eq!(t.foreign, 0);
    assert!(s.lines > 0 && k.lines >= 20_000, "both backends took part");
    // The residue is what the dead connection's buffers held: the bytes the
    // backend left unread (measured at its abort), plus the proxy's send
    // buffer (the kernel doubles SEND_BUFFER = 256 KiB). One line more for a
    // line cut in two by the abort.
    let bound_lines = (k.abandoned + (512 << 10)) / 100 + 1;
    assert!(
        t.lost <= bound_lines,
        "residue of {} lines exceeds the buffers' {bound_lines}",
        t.lost
    );
}
