//! metrics.graphite: line format, values after 10,000 events, module values,
//! name sanitising, and dropping rounds instead of queueing behind a dead
//! carbon.

mod core_support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use core_support::*;
use wbc_runtime::modules::*;
use wbc_runtime::{Proxy, ProxyOptions};

/// Parses `name value timestamp` lines; panics on any malformed line.
fn parse(lines: &[bytes::Bytes]) -> Vec<(String, u64, u64)> {
    lines
        .iter()
        .map(|l| {
            let text = std::str::from_utf8(l).expect("graphite line is not UTF-8");
            let fields: Vec<&str> = text.split(' ').collect();
            assert_eq!(fields.len(), 3, "not `name value timestamp`: {text:?}");
            let name = fields[0];
            assert!(
                name.split('.').all(|c| !c.is_empty()
                    && c.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')),
                "bad metric name {name:?}"
            );
            (
                name.to_string(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            )
        })
        .collect()
}

/// The latest value of every metric name seen.
fn latest(seen: &Seen) -> HashMap<String, u64> {
    parse(&taken(seen))
        .into_iter()
        .map(|(n, v, _)| (n, v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphite_reports_10000_in_and_out_on_both_ends_of_a_queue() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "output", "inbox");
    let (m_tx, m_rx) = proxy.queue("graphite", "outbox", "carbon.server 1", "inbox");
    let connected = proxy
        .context()
        .metrics()
        .module_metric("output", "connected");
    let reconnects = proxy
        .context()
        .metrics()
        .module_metric("output", "reconnects");
    connected.store(1, Ordering::Relaxed);
    reconnects.store(3, Ordering::Relaxed);
    proxy.spawn(
        Graphite::new(
            GraphiteConfig {
                name: "graphite",
                interval: Duration::from_millis(50),
                prefix: "wishbone",
            },
            m_tx,
        )
        .unwrap(),
    );
    let (_out, _) = collect(in_rx);
    let (metrics, _) = collect(m_rx);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let source = in_tx
        .context()
        .register_source(wbc_runtime::SourceKind::Listener);
    let run = tokio::spawn(proxy.run_until(stop_rx));
    emit_in_batches(&in_tx, &lines("hello", 10_000), 1_000).await;
    drop((in_tx, source));

    let want = [
        ("wishbone.queue.input.outbox.in", 10_000),
        ("wishbone.queue.input.outbox.out", 10_000),
        ("wishbone.queue.input.outbox.dropped", 0),
        ("wishbone.queue.input.outbox.size", 0),
        ("wishbone.queue.output.inbox.in", 10_000),
        ("wishbone.queue.output.inbox.out", 10_000),
        ("wishbone.queue.output.inbox.size", 0),
        ("wishbone.module.output.connected", 1),
        ("wishbone.module.output.reconnects", 3),
    ];
    let reached = eventually(LIMIT, || {
        let now = latest(&metrics);
        want.iter().all(|(name, v)| now.get(*name) == Some(v))
    })
    .await;
    assert!(
        reached,
        "metrics never showed {want:?}; last: {:?}",
        latest(&metrics)
    );

    let all = parse(&taken(&metrics));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        all.iter().all(|(_, _, ts)| now.abs_diff(*ts) <= 5),
        "timestamps are not unix seconds"
    );
    // Sanitised: the module `carbon.server 1` is one path component.
    assert!(all
        .iter()
        .any(|(n, _, _)| n == "wishbone.queue.carbon_server_1.inbox.in"));
    // One round = 2 queues x 2 ends x 4 counters + 2 module values.
    let first_ts_round = all
        .iter()
        .take_while(|(n, _, _)| n != "wishbone.module.output.reconnects")
        .count()
        + 1;
    assert_eq!(first_ts_round, 18);

    stop_tx.send(()).unwrap();
    let report = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    assert!(report.drained, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphite_drops_rounds_while_its_outbox_is_down() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (m_tx, m_rx) = proxy.queue("metrics", "outbox", "carbon", "inbox");
    proxy.spawn(
        Graphite::new(
            GraphiteConfig {
                name: "metrics",
                interval: Duration::from_millis(20),
                prefix: "p",
            },
            m_tx,
        )
        .unwrap(),
    );
    m_rx.lock();
    let stats = m_rx.stats().clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(proxy.run_until(stop_rx));

    // 8 lines per round: one queue, two ends, 4 counters each.
    assert!(eventually(LIMIT, || stats.snapshot().dropped >= 3 * 8).await);
    let c = stats.snapshot();
    assert_eq!(c.in_, 0, "rounds were queued behind a down outbox");
    assert_eq!(c.dropped % 8, 0, "rounds are dropped whole");
    assert!(m_rx.is_empty());

    stop_tx.send(()).unwrap();
    let report = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    assert!(
        report.drained,
        "dropped rounds must not count as undelivered: {report:?}"
    );
}
