//! Metric lines are best effort: a proxy's drain waits for every data event
//! but never for the lines `metrics.graphite` makes, which travel internal
//! queues ([`Proxy::internal_queue`]). Lines still queued or held when the
//! proxy ends are dropped and counted in `Report::metrics_dropped`; lines a
//! funnel merges into a data route before the stop become data and are
//! waited for, later ones stay metric lines.

mod core_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_support::{
    collect, emit_in_batches, eventually, lines, run_in_background, silent_backend,
    stop_and_report, taken, tcp_out_config, LIMIT,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wbc_runtime::modules::{Funnel, FunnelConfig, Graphite, GraphiteConfig, TcpOut};
use wbc_runtime::{Context, Counters, Proxy, ProxyOptions, Sender, SourceKind};

const EVENTS: usize = 10_000;

fn stats_of(ctx: &Context, from_module: &str) -> Counters {
    ctx.metrics()
        .queues()
        .iter()
        .find(|q| q.from_module == from_module)
        .map(|q| q.stats.snapshot())
        .expect("queue registered")
}

fn module_value(ctx: &Context, module: &str, metric: &str) -> u64 {
    ctx.metrics()
        .modules()
        .iter()
        .find(|m| m.module == module && m.metric == metric)
        .map(|m| m.value.load(Ordering::Relaxed))
        .unwrap_or(0)
}

async fn emit_all(tx: &Sender, events: Vec<bytes::Bytes>) {
    emit_in_batches(tx, &events, 250).await;
}

/// A backend that reads everything, counting lines, until the proxy closes.
async fn counting_sink() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
    let port = listener.local_addr().expect("addr").port();
    let lines = Arc::new(AtomicU64::new(0));
    let counted = lines.clone();
    tokio::spawn(async move {
        let Ok(Ok((mut stream, _))) = tokio::time::timeout(LIMIT, listener.accept()).await else {
            return;
        };
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(Ok(n)) = tokio::time::timeout(LIMIT, stream.read(&mut buf)).await {
            if n == 0 {
                return;
            }
            let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count();
            counted.fetch_add(newlines as u64, Ordering::SeqCst);
        }
    });
    (port, lines)
}

/// Long metric paths fill the stalled carbon's buffers within a second.
fn graphite_config() -> GraphiteConfig {
    GraphiteConfig {
        name: "graphite",
        interval: Duration::from_millis(1),
        prefix: "wbc.stalled.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_carbon_never_delays_stop_and_every_event_is_delivered() {
    let (sink_port, sink_lines) = counting_sink().await;
    let (carbon_port, release_carbon) = silent_backend().await;
    let drain_timeout = Duration::from_secs(10);
    let mut proxy = Proxy::new(ProxyOptions {
        queue_capacity: 256,
        drain_timeout,
        ..ProxyOptions::default()
    });
    let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
    let (gtx, grx) = proxy.internal_queue("graphite", "outbox", "carbon", "inbox");
    assert!(grx.is_internal() && !rx.is_internal());
    let ctx = proxy.context().clone();
    let source = ctx.register_source(SourceKind::Listener);
    proxy.spawn(TcpOut::new(tcp_out_config("output", sink_port), rx, None).expect("output starts"));
    proxy.spawn(
        TcpOut::new(tcp_out_config("carbon", carbon_port), grx, None).expect("carbon starts"),
    );
    proxy.spawn(Graphite::new(graphite_config(), gtx).expect("graphite starts"));
    let (stop_tx, running) = run_in_background(proxy);

    // Stalled, not down: once carbon is connected, graphite drops a round
    // only when its outbox is full (before, also because the outbox is
    // locked while the tcp.out connects).
    let up = eventually(LIMIT, || module_value(&ctx, "carbon", "connected") == 1).await;
    assert!(up, "carbon never connected");
    let before = stats_of(&ctx, "graphite").dropped;
    let stalled = eventually(LIMIT, || {
        module_value(&ctx, "carbon", "connected") == 1
            && stats_of(&ctx, "graphite").dropped > before
    })
    .await;
    assert!(
        stalled,
        "carbon never stalled: {:?}",
        stats_of(&ctx, "graphite")
    );

    tokio::time::timeout(LIMIT, emit_all(&tx, lines("e", EVENTS)))
        .await
        .expect("the event path was blocked");
    drop(source);
    let asked = Instant::now();
    let report = stop_and_report(stop_tx, running).await;
    let took = asked.elapsed();
    let g = stats_of(&ctx, "graphite");
    eprintln!(
        "stalled carbon: stop took {took:?}; drained {}, undelivered {}, metric lines dropped \
         at exit {} (graphite outbox: {g:?})",
        report.drained, report.undelivered, report.metrics_dropped
    );
    // `drained` means the drain completed, not that its timeout expired (the
    // time it took is printed above).
    assert!(report.success(), "exit code would be 1: {report:?}");
    assert_eq!(report.undelivered, 0);
    assert!(
        report.metrics_dropped >= g.size && report.metrics_dropped > 0,
        "lines left in graphite's outbox ({}) are counted as dropped: {report:?}",
        g.size
    );
    let delivered = eventually(LIMIT, || sink_lines.load(Ordering::SeqCst) == EVENTS as u64).await;
    assert!(
        delivered,
        "sink got {} of {EVENTS}",
        sink_lines.load(Ordering::SeqCst)
    );
    let _ = release_carbon.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_lines_a_funnel_merges_into_data_are_delivered_or_counted() {
    let mut proxy = Proxy::new(ProxyOptions {
        queue_capacity: 64,
        drain_timeout: Duration::from_secs(10),
        ..ProxyOptions::default()
    });
    let (tx, data_rx) = proxy.queue("input", "outbox", "funnel_1", "in_1");
    let (gtx, metrics_rx) = proxy.internal_queue("graphite", "outbox", "funnel_1", "in_2");
    let (ftx, frx) = proxy.queue("funnel_1", "outbox", "sink", "inbox");
    let ctx = proxy.context().clone();
    let source = ctx.register_source(SourceKind::Listener);
    proxy.spawn(
        Funnel::<2>::new(
            FunnelConfig { name: "funnel_1" },
            [data_rx, metrics_rx],
            ftx,
        )
        .expect("funnel starts"),
    );
    let graphite = GraphiteConfig {
        name: "graphite",
        interval: Duration::from_millis(2),
        prefix: "wbcmix",
    };
    proxy.spawn(Graphite::new(graphite, gtx).expect("graphite starts"));
    let (seen, _sink) = collect(frx);
    let (stop_tx, running) = run_in_background(proxy);

    tokio::time::timeout(LIMIT, emit_all(&tx, lines("e", EVENTS)))
        .await
        .expect("the event path was blocked");
    let mixed = eventually(LIMIT, || {
        taken(&seen).iter().any(|l| l.starts_with(b"wbcmix."))
    })
    .await;
    assert!(mixed, "no metric line came through the funnel");
    drop(source);
    let report = stop_and_report(stop_tx, running).await;
    assert!(report.success(), "{report:?}");
    assert_eq!(report.undelivered, 0);

    let seen = taken(&seen);
    let data = seen.iter().filter(|l| l.starts_with(b"e-")).count();
    let metric = seen.iter().filter(|l| l.starts_with(b"wbcmix.")).count() as u64;
    assert_eq!(data, EVENTS, "every data event is delivered");
    // Every metric line graphite queued either crossed the funnel (then it
    // was data and was delivered) or is counted as dropped at exit.
    let g = stats_of(&ctx, "graphite");
    eprintln!(
        "funnel: {metric} metric lines delivered, {} dropped at exit, graphite queued {}",
        report.metrics_dropped, g.in_
    );
    assert_eq!(metric + report.metrics_dropped, g.in_, "{g:?} {report:?}");
}

/// Metric lines that reach a funnel after the proxy began to stop stay
/// metric lines: the funnel no longer moves them into its data outbox, and
/// they are counted as dropped at exit. A funnel that still moved them could
/// do so after the drain had completed, and the proxy then reported a
/// metric line undelivered and exited 1 (seen in CI, 1 run in 3 of
/// `metric_lines_a_funnel_merges_into_data_are_delivered_or_counted` once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funnel_moves_no_metric_line_into_data_after_the_stop() {
    const METRIC_LINES: usize = 24;
    let mut proxy = Proxy::new(ProxyOptions {
        drain_timeout: Duration::from_secs(10),
        ..ProxyOptions::default()
    });
    let (tx, data_rx) = proxy.queue("input", "outbox", "funnel_1", "in_1");
    let (mtx, metrics_rx) = proxy.internal_queue("metrics", "outbox", "funnel_1", "in_2");
    let (ftx, mut frx) = proxy.queue("funnel_1", "outbox", "sink", "inbox");
    let ctx = proxy.context().clone();
    let source = ctx.register_source(SourceKind::Listener);
    let funnel = Funnel::<2>::new(
        FunnelConfig { name: "funnel_1" },
        [data_rx, metrics_rx],
        ftx,
    );
    proxy.spawn(funnel.expect("funnel starts"));
    let (stop_tx, running) = run_in_background(proxy);

    // One data event waits in the sink's queue, so the drain cannot end yet.
    emit_all(&tx, lines("e", 1)).await;
    drop(source);
    let _ = stop_tx.send(());
    assert!(
        eventually(LIMIT, || ctx.is_stopping()).await,
        "the proxy never began to stop"
    );
    let mut metrics: wbc_runtime::Batch = lines("wbcmix.m", METRIC_LINES).iter().collect();
    mtx.try_emit(&mut metrics)
        .expect("the metrics queue has room");
    // Time for the funnel to move them, if it still did.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut received = Vec::new();
    let mut batch = wbc_runtime::Batch::new();
    let consumed = tokio::time::timeout(LIMIT, async {
        while frx.recv(&mut batch).await {
            let n = batch.len() as u64;
            received.extend(batch.to_vec());
            batch.clear();
            frx.delivered(n);
        }
    })
    .await;
    assert!(consumed.is_ok(), "the sink's queue never closed");
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .expect("proxy stops")
        .expect("proxy task");
    let metric = received
        .iter()
        .filter(|l| l.starts_with(b"wbcmix."))
        .count();
    assert_eq!(metric, 0, "metric lines moved into data after the stop");
    assert_eq!(received.len(), 1, "the data event is delivered");
    assert!(
        report.drained && report.undelivered == 0 && report.success(),
        "{report:?}"
    );
    assert_eq!(report.metrics_dropped, METRIC_LINES as u64, "{report:?}");
}
