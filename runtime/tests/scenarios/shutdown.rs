//! Issue 3, point 7: SIGTERM in the middle of a transfer.

use std::time::Duration;

use crate::input::final_counter;
use crate::peers::{Sender, Sink, SinkOpts};
use crate::setup::{figures, start, tally};

/// 1,000,000 lines are being sent through `input -> output` to a live sink;
/// SIGTERM arrives once the sink holds 100,000. The proxy stops reading,
/// drains, exits 0 and logs its final counters; the sink then holds exactly
/// as many events as `input.outbox` counted in, and since there is a single
/// producer they are exactly its first lines, in order, none twice.
pub fn shutdown_sigterm_mid_transfer_delivers_everything_read() {
    let n = 1_000_000u64;
    let sink = Sink::start(SinkOpts::default());
    let run = start("one", &[sink.port], &[], 1);
    let sender = Sender::spawn_numbered(run.input, "sd-".to_string(), n as usize);
    let at_signal = sink.wait_lines(100_000, Duration::from_secs(30));
    let rss = run.proxy.rss_kib();
    run.proxy.signal("TERM");
    let mut proxy = run.proxy;
    let status = proxy.wait(Duration::from_secs(20));
    // The sender sees its connection closed; it must not hang either.
    let _ = sender.join(Duration::from_secs(10));
    let log = proxy.log_text();
    let counted_in = final_counter(&log, "queue input.outbox -> output.inbox", "in");
    std::thread::sleep(Duration::from_millis(200));
    let got = sink.stop();
    let read = counted_in.unwrap_or(0);
    let t = tally(read, &[&got.seqs]);
    figures(
        "shutdown_sigterm",
        t,
        &format!(
            "offered={n} at_signal={at_signal} input_outbox_in={counted_in:?} sink_lines={} rss_peak_kib={}",
            got.lines, rss.0
        ),
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}:\n{log}"
    );
    assert!(counted_in.is_some(), "no final counters in the log:\n{log}");
    assert!(
        at_signal >= 100_000 && read < n,
        "SIGTERM did not land mid-transfer ({read} of {n} read)"
    );
    assert_eq!(got.lines, read, "sink lines vs events read");
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign),
        (read, 0, 0, 0)
    );
    assert!(
        got.seqs.iter().enumerate().all(|(i, &s)| s == i as u64),
        "not the first lines in order"
    );
    assert_eq!(got.fragments, 0, "a partial line was delivered");
}

/// SIGTERM while the only backend is down (it never listens) and the output
/// has no `failed` queue: nothing can be delivered, so the drain times out
/// (`--drain-timeout 1s`), the proxy exits 1 and names how many events it
/// read and could not deliver: all of them.
pub fn shutdown_with_backend_down_reports_undelivered() {
    let n = 1_000u64;
    let down = crate::peers::free_port();
    let run = crate::setup::start_with_args("one", &[down], &[], 0, &["--drain-timeout", "1s"]);
    crate::peers::send(run.input, &crate::peers::numbered("u-", n as usize));
    // The events are read once tcp.in counted them into its outbox; wait
    // for the output's first failed connect instead of sleeping blindly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !run.proxy.log_text().contains("cannot connect") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    run.proxy.signal("TERM");
    let mut proxy = run.proxy;
    let status = proxy.wait(Duration::from_secs(15));
    let log = proxy.log_text();
    let counted_in = final_counter(&log, "queue input.outbox -> output.inbox", "in");
    let report = log
        .lines()
        .find(|l| l.contains("left undelivered"))
        .unwrap_or("");
    println!(
        "figures shutdown_backend_down: sent={n} input_outbox_in={counted_in:?} exit={:?} report={report:?}",
        status.and_then(|s| s.code())
    );
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert_eq!(counted_in, Some(n), "{log}");
    assert!(
        log.lines().any(|l| l.contains(&format!(
            "{n} events left undelivered; down when the drain ended: `output`"
        ))),
        "the log names the output that was down:\n{log}"
    );
}
