//! Issue 3, points 1, 2 and 6: plain forwarding, roundrobin shares, and the
//! graphite counters of scenario I.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::peers::{numbered, send, sha256_hex, Sink, SinkOpts};
use crate::setup::{figures, increasing, start, tally, wait_total, Tally};

const WAIT: Duration = Duration::from_secs(30);

/// Point 1: 10,000 lines of `hello` through `input -> output`; the sink's
/// bytes are sha256-identical to the input.
pub fn scenario_1_hello_lines_arrive_byte_identical() {
    let sink = Sink::start(SinkOpts {
        hash: true,
        ..SinkOpts::default()
    });
    let run = start("one", &[sink.port], &[], 1);
    let data = b"hello\n".repeat(10_000);
    send(run.input, &data);
    let got = sink.wait_lines(10_000, WAIT);
    // Anything extra (a duplicate) would arrive right behind.
    std::thread::sleep(Duration::from_millis(200));
    let rss = run.proxy.rss_kib();
    let received = sink.stop();
    let t = Tally {
        sent: 10_000,
        delivered: got.min(10_000),
        duplicated: received.lines.saturating_sub(10_000),
        lost: 10_000u64.saturating_sub(received.lines),
        foreign: 0,
    };
    figures(
        "scenario_1",
        t,
        &format!("bytes={} rss_peak_kib={}", received.bytes, rss.0),
    );
    assert_eq!(received.lines, 10_000);
    assert_eq!(received.bytes, data.len() as u64);
    assert_eq!(
        received.sha256(),
        sha256_hex(&data),
        "sink bytes differ from the input"
    );
}

/// Point 2: roundrobin over two sinks; 10,000 numbered lines split exactly
/// 5,000 / 5,000, together exactly the input, each share in input order.
pub fn scenario_2_roundrobin_two_sinks_split_evenly() {
    roundrobin_shares(2, 10_000);
}

/// Point 2, second half: three members and a count not divisible by three.
pub fn scenario_2_roundrobin_three_sinks_uneven_count() {
    roundrobin_shares(3, 10_001);
}

fn roundrobin_shares(members: usize, n: u64) {
    let sinks: Vec<Sink> = (0..members)
        .map(|_| Sink::start(SinkOpts::default()))
        .collect();
    let ports: Vec<u16> = sinks.iter().map(|s| s.port).collect();
    // All members connected before the first line, so none is skipped.
    let run = start("roundrobin", &ports, &[], members);
    send(run.input, &numbered("rr-", n as usize));
    wait_total(&sinks.iter().collect::<Vec<_>>(), n, WAIT);
    let received: Vec<_> = sinks.into_iter().map(Sink::stop).collect();
    let seqs: Vec<&[u64]> = received.iter().map(|r| r.seqs.as_slice()).collect();
    let t = tally(n, &seqs);
    let shares: Vec<u64> = received.iter().map(|r| r.lines).collect();
    figures(
        &format!("scenario_2_{members}_members"),
        t,
        &format!("shares={shares:?}"),
    );
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign),
        (n, 0, 0, 0),
        "multiset differs"
    );
    let (min, max) = (shares.iter().min().copied(), shares.iter().max().copied());
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min <= 1),
        "shares {shares:?}"
    );
    assert_eq!(shares.iter().sum::<u64>(), n);
    for (i, r) in received.iter().enumerate() {
        assert!(increasing(&r.seqs), "sink {i} got its share out of order");
    }
}

/// Point 6: metrics.graphite after scenario I reports 10,000 in and out for
/// the queue `input.outbox -> output.inbox`, under both of its names.
pub fn metrics_graphite_counts_scenario_1() {
    let sink = Sink::start(SinkOpts::default());
    let carbon = Sink::start(SinkOpts {
        keep_lines: true,
        ..SinkOpts::default()
    });
    let run = start(
        "one",
        &[sink.port],
        &[("WBC_TEST_METRICS", carbon.port.to_string())],
        2,
    );
    send(run.input, &b"hello\n".repeat(10_000));
    assert_eq!(sink.wait_lines(10_000, WAIT), 10_000);
    let wanted = [
        ("wbc.queue.input.outbox.in", 10_000),
        ("wbc.queue.input.outbox.out", 10_000),
        ("wbc.queue.output.inbox.in", 10_000),
        ("wbc.queue.output.inbox.out", 10_000),
        ("wbc.queue.input.outbox.dropped", 0),
        ("wbc.queue.output.inbox.size", 0),
    ];
    // Metrics are emitted every 200 ms: wait (bounded) for a round taken
    // after the transfer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let latest = loop {
        let latest = latest_values(&carbon.state.lock().expect("carbon").kept);
        let done = wanted
            .iter()
            .all(|(k, v)| latest.get(*k) == Some(&(*v as u64)));
        if done || Instant::now() > deadline {
            break latest;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let connected = latest.get("wbc.module.output.connected").copied();
    let reconnects = latest.get("wbc.module.output.reconnects").copied();
    println!(
        "figures metrics_graphite: input.outbox.in={:?} output.inbox.out={:?} output.connected={connected:?} output.reconnects={reconnects:?} lines={}",
        latest.get("wbc.queue.input.outbox.in"),
        latest.get("wbc.queue.output.inbox.out"),
        carbon.lines()
    );
    for (key, value) in wanted {
        assert_eq!(latest.get(key).copied(), Some(value as u64), "{key}");
    }
    assert_eq!(connected, Some(1));
    assert_eq!(reconnects, Some(0));
}

/// The last value of every metric path in graphite plaintext lines, checking
/// the `path value timestamp` shape of each.
pub fn latest_values(lines: &[Vec<u8>]) -> HashMap<String, u64> {
    let mut latest = HashMap::new();
    for line in lines {
        let text = String::from_utf8_lossy(line);
        let parts: Vec<&str> = text.split(' ').collect();
        assert_eq!(parts.len(), 3, "not a graphite line: {text:?}");
        let value: u64 = parts[1]
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {text:?}"));
        let ts: u64 = parts[2]
            .parse()
            .unwrap_or_else(|_| panic!("bad timestamp in {text:?}"));
        assert!(
            ts > 1_600_000_000,
            "timestamp is not unix seconds: {text:?}"
        );
        latest.insert(parts[0].to_string(), value);
    }
    latest
}
