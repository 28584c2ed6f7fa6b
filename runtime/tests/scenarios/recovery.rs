//! tcp.out when its backend leaves and comes back: kept-for-retry events
//! without a `failed` queue, and the residue a reset connection takes with it.

use std::time::{Duration, Instant};

use crate::forwarding::latest_values;
use crate::peers::{Sender, Sink, SinkOpts};
use crate::setup::{figures, increasing, resent_tail, start, tally, wait_total};

const WAIT: Duration = Duration::from_secs(60);

/// `input -> output` without a `failed` queue. The backend half-closes after
/// 20,000 lines, reads what is in flight, and listens again 300 ms later.
/// The output keeps what it has not written, reconnects, and the backend
/// ends up with every line exactly once, in input order.
pub fn retry_without_failed_queue_backend_restarts() {
    retry_without_failed_queue("127.0.0.1");
}

/// The same with the output's host given by name: it is resolved again
/// before every connection attempt (through tokio's resolver threads), and
/// the reconnect still finds the backend.
pub fn retry_without_failed_queue_host_by_name() {
    retry_without_failed_queue("localhost");
}

fn retry_without_failed_queue(host: &str) {
    let n = 100_000u64;
    let sink = Sink::start(SinkOpts {
        half_close_after: Some(20_000),
        reopen_after: Some(Duration::from_millis(300)),
        ..SinkOpts::default()
    });
    let carbon = Sink::start(SinkOpts {
        keep_lines: true,
        ..SinkOpts::default()
    });
    let env = [
        ("WBC_TEST_METRICS", carbon.port.to_string()),
        ("WBC_TEST_OUT_HOST", host.to_string()),
    ];
    let backend_port = sink.port;
    let run = start("one", &[backend_port], &env, 2);
    let sender = Sender::spawn_numbered(run.input, "r".repeat(91), n as usize);
    sender.join(WAIT).expect("sender finished");
    wait_total(&[&sink], n, WAIT);
    // A metrics round after the reconnect (every 200 ms).
    std::thread::sleep(Duration::from_millis(500));
    let log = run.proxy.log_text();
    // Metrics first: stopping the sink takes the output down.
    let graphite = latest_values(&carbon.stop().kept);
    let got = sink.stop();
    let reconnects = graphite.get("wbc.module.output.reconnects").copied();
    let connected = graphite.get("wbc.module.output.connected").copied();
    let t = tally(n, &[&got.seqs]);
    figures(
        &format!("retry_without_failed_queue host={host}"),
        t,
        &format!(
            "connections={} graphite_reconnects={reconnects:?} graphite_connected={connected:?}",
            got.connections
        ),
    );
    assert_eq!((t.delivered, t.duplicated, t.lost, t.foreign), (n, 0, 0, 0));
    assert!(increasing(&got.seqs), "order broken across the reconnect");
    assert_eq!(got.fragments, 0);
    assert!(got.connections >= 2, "the output never reconnected:\n{log}");
    assert!(log.contains("module `output` (tcp.out) is down"), "{log}");
    // The first attempt comes at once, while the backend is closed for
    // 300 ms; the warning names the backend as the routing file does.
    let target = match host.parse::<std::net::IpAddr>() {
        Ok(_) => format!("{host}:{backend_port}: "),
        Err(_) => format!("{host}:{backend_port} (tried "),
    };
    let warning = format!("module `output` (tcp.out) cannot connect to {target}");
    assert!(log.contains(&warning), "no `{warning}` in:\n{log}");
    assert_eq!(reconnects, Some(got.connections - 1), "reconnects metric");
    assert_eq!(connected, Some(1), "connected metric");
}

/// `roundrobin(output_1, output_2) fallback funnel`; backend 1 is "killed"
/// after 20,000 lines: it drops the connection with data unread, so the
/// kernel resets it. Events already in the dead connection's buffers (the
/// proxy's send buffer and the backend's receive buffer) are lost: that is
/// the residue this case measures. Events the backend had not acknowledged
/// are sent again (tcp.out tracks `tcpi_bytes_acked`), so the residue is at
/// most what the backend had received and not read. Everything else must
/// reach backend 2. What arrives twice is only what the backend read before
/// its acknowledgement went out: the tail of its stream.
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
    // What arrives twice is what the backend read but had not acknowledged
    // when it reset (sent again to the other): the tail of its stream,
    // within what tcp.out can have written unacknowledged (the kernel's
    // send buffer, at most twice tcp.out's 256 KiB).
    assert_eq!(
        t.duplicated,
        resent_tail(&k.seqs, &[&s.seqs]),
        "an event arrived twice that was not the dead backend's unacknowledged tail"
    );
    assert!(
        t.duplicated * 100 <= 512 << 10,
        "{} events arrived twice",
        t.duplicated
    );
    assert_eq!(t.foreign, 0);
    assert!(s.lines > 0 && k.lines >= 20_000, "both backends took part");
    // The residue is what the backend had received and acknowledged but not
    // read: its receive buffer, measured (FIONREAD) just before it dropped
    // the connection. The proxy sends again whatever was not acknowledged,
    // so its own send buffer adds nothing. Slack: one 64 KiB loopback
    // segment that may land between the measurement and the close, and one
    // line cut in two by the abort.
    let bound_lines = (k.abandoned + (64 << 10)) / 100 + 1;
    assert!(
        t.lost <= bound_lines,
        "residue of {} lines exceeds the {bound_lines} the backend held",
        t.lost
    );
}
