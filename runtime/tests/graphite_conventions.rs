//! Graphite's conventions, checked on the lines `metrics.graphite` emits in
//! a hand-wired proxy: one sanitised path component per module and queue
//! name, counters as running totals, timestamps in Unix seconds; and the
//! metrics path never holds the event path back when carbon is unreachable
//! (its outbox down or full): graphite drops its own lines and counts them.
//! The same counters are read back from a real carbon in `tests/metrics.rs`.

mod core_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use core_support::{
    collect, emit_in_batches, eventually, lines, run_in_background, stop_and_report, taken, Seen,
    LIMIT,
};
use wbc_runtime::modules::{Graphite, GraphiteConfig};
use wbc_runtime::{Context, Counters, Proxy, ProxyOptions, Sender, SourceKind};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn emit(tx: &Sender, count: usize) {
    emit_in_batches(tx, &lines("e", count), 250).await;
}

/// One emitted line, split: `PATH VALUE SECONDS`.
struct Line {
    path: String,
    value: u64,
    time: u64,
}

fn parse_lines(seen: &Seen) -> Vec<Line> {
    taken(seen)
        .iter()
        .map(|b: &Bytes| {
            let text = std::str::from_utf8(b).expect("graphite lines are UTF-8");
            let fields: Vec<&str> = text.split(' ').collect();
            assert_eq!(fields.len(), 3, "`{text}` is not `PATH VALUE SECONDS`");
            Line {
                path: fields[0].to_string(),
                value: fields[1]
                    .parse()
                    .unwrap_or_else(|_| panic!("value in `{text}`")),
                time: fields[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("time in `{text}`")),
            }
        })
        .collect()
}

fn series(lines: &[Line], path: &str) -> Vec<u64> {
    lines
        .iter()
        .filter(|l| l.path == path)
        .map(|l| l.value)
        .collect()
}

fn stats_of(ctx: &Context, from_module: &str) -> Counters {
    ctx.metrics()
        .queues()
        .iter()
        .find(|q| q.from_module == from_module)
        .map(|q| q.stats.snapshot())
        .expect("queue registered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_are_sanitised_running_totals_stamped_in_seconds() {
    let started = now_secs();
    let mut proxy = Proxy::new(ProxyOptions::default());
    // Names a hand-written wiring (or a future language feature) could give:
    // each must stay one graphite path component.
    let (tx, rx) = proxy.queue("in put", "out.box", "sink v2", "in.box");
    let (gtx, grx) = proxy.queue("graphite", "outbox", "carbon", "inbox");
    let ctx = proxy.context().clone();
    let running_source = ctx.register_source(SourceKind::Listener);
    proxy.spawn(
        Graphite::new(
            GraphiteConfig {
                name: "graphite",
                interval: Duration::from_millis(50),
                prefix: "wbc.test",
            },
            gtx,
        )
        .expect("graphite starts"),
    );
    let (events, _sink) = collect(rx);
    let (metrics, _carbon) = collect(grx);
    let (stop_tx, running) = run_in_background(proxy);

    let total_in = "wbc.test.queue.in_put.out_box.in";
    for round in 1..=2u64 {
        emit(&tx, 1000).await;
        let want = round * 1000;
        assert!(eventually(LIMIT, || taken(&events).len() as u64 == want).await);
        let reported = eventually(LIMIT, || {
            series(&parse_lines(&metrics), total_in).contains(&want)
        })
        .await;
        assert!(reported, "`{total_in}` never reported {want}");
    }
    drop(running_source);
    let _ = stop_tx.send(());
    tokio::time::timeout(LIMIT, running)
        .await
        .expect("stops")
        .expect("proxy task");
    let ended = now_secs();

    let all = parse_lines(&metrics);
    let mut modules = Vec::new();
    let mut queues = Vec::new();
    for l in &all {
        let rest = l
            .path
            .strip_prefix("wbc.test.")
            .expect("prefix first, its dots kept");
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.as_slice() {
            ["queue", module, queue, counter] => {
                assert!(
                    ["in", "out", "dropped", "size"].contains(counter),
                    "{}",
                    l.path
                );
                modules.push(module.to_string());
                queues.push(queue.to_string());
            }
            ["module", module, metric] => {
                assert!(!metric.is_empty(), "{}", l.path);
                modules.push(module.to_string());
            }
            _ => panic!(
                "`{}` is not PREFIX.queue.M.Q.C or PREFIX.module.M.V",
                l.path
            ),
        }
        assert!(
            !l.path.contains(' ') && !l.path.contains(".."),
            "{}",
            l.path
        );
        assert!(
            l.time >= started && l.time <= ended,
            "`{}` stamped {}, outside [{started}, {ended}]: not Unix seconds",
            l.path,
            l.time
        );
    }
    for m in ["in_put", "sink_v2", "graphite", "carbon"] {
        assert!(
            modules.iter().any(|x| x == m),
            "no metrics for module `{m}`: {modules:?}"
        );
    }
    for q in ["out_box", "in_box"] {
        assert!(
            queues.iter().any(|x| x == q),
            "no metrics for queue `{q}`: {queues:?}"
        );
    }
    // Running totals: the series only grows and ends at everything counted,
    // where per-interval deltas would fall back towards 0.
    let totals = series(&all, total_in);
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
    assert_eq!(totals.last(), Some(&2000), "{totals:?}");
    assert_eq!(
        series(&all, "wbc.test.queue.sink_v2.in_box.out").last(),
        Some(&2000)
    );
}

/// `down`: the outbox is locked, as tcp.out locks its inbox while carbon is
/// unreachable. Otherwise the outbox is never read, so it fills up.
async fn events_flow_while_metrics_cannot_leave(down: bool) {
    const EVENTS: usize = 10_000;
    const CAPACITY: usize = 32;
    let options = ProxyOptions {
        queue_capacity: CAPACITY,
        drain_timeout: Duration::from_millis(500),
        ..ProxyOptions::default()
    };
    let mut proxy = Proxy::new(options);
    let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
    // As generated code wires it: graphite's route carries only metric
    // lines, so it is an internal queue.
    let (gtx, grx) = proxy.internal_queue("graphite", "outbox", "carbon", "inbox");
    if down {
        grx.lock();
    }
    let ctx = proxy.context().clone();
    let running_source = ctx.register_source(SourceKind::Listener);
    let graphite = GraphiteConfig {
        name: "graphite",
        interval: Duration::from_millis(5),
        prefix: "wbctest",
    };
    proxy.spawn(Graphite::new(graphite, gtx).expect("graphite starts"));
    let (events, _sink) = collect(rx);
    let (stop_tx, running) = run_in_background(proxy);

    let dropping = eventually(LIMIT, || stats_of(&ctx, "graphite").dropped > 0).await;
    assert!(
        dropping,
        "graphite never dropped a round: {:?}",
        stats_of(&ctx, "graphite")
    );
    let first = stats_of(&ctx, "graphite").dropped;

    // Every event gets through while graphite cannot send anything.
    tokio::time::timeout(LIMIT, emit(&tx, EVENTS))
        .await
        .expect("the event path was blocked");
    assert!(eventually(LIMIT, || taken(&events).len() == EVENTS).await);
    let later = eventually(LIMIT, || stats_of(&ctx, "graphite").dropped > first).await;
    assert!(
        later,
        "graphite stopped trying after its first dropped round"
    );
    let g = stats_of(&ctx, "graphite");
    assert!(
        g.size <= CAPACITY as u64,
        "graphite's outbox grew past its capacity: {g:?}"
    );
    if down {
        assert_eq!(g.in_, 0, "a locked outbox took lines: {g:?}");
    }
    let data = stats_of(&ctx, "input");
    assert_eq!(
        (data.in_, data.out, data.dropped),
        (EVENTS as u64, EVENTS as u64, 0)
    );

    drop(running_source);
    let stopped = std::time::Instant::now();
    let report = stop_and_report(stop_tx, running).await;
    let g = stats_of(&ctx, "graphite");
    eprintln!(
        "outbox {}: graphite dropped {} lines; drained {}, undelivered {}, \
         metric lines dropped at exit {}, stopped in {:?}",
        if down { "down" } else { "full" },
        g.dropped,
        report.drained,
        report.undelivered,
        report.metrics_dropped,
        stopped.elapsed()
    );
    // Metric lines are best effort: every data event was delivered, so the
    // drain completes however many metric lines carbon left behind, and
    // those are reported as dropped, not as undelivered events.
    assert!(report.drained, "{report:?}");
    assert_eq!(report.undelivered, 0, "{report:?}");
    assert_eq!(
        report.metrics_dropped, g.size,
        "every line left in graphite's outbox is counted as dropped at exit"
    );
    if down {
        assert_eq!(report.metrics_dropped, 0, "a locked outbox took lines");
    } else {
        assert_eq!(report.metrics_dropped, CAPACITY as u64, "{g:?}");
    }
    drop(grx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbon_down_graphite_drops_and_counts_and_events_flow() {
    events_flow_while_metrics_cannot_leave(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbon_stalled_graphite_drops_and_counts_and_events_flow() {
    events_flow_while_metrics_cannot_leave(false).await;
}
