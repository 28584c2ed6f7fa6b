//! Shutdown in-process: the drain delivers everything read, through a
//! failover cycle too; a stuck output ends at the drain timeout with the
//! undelivered count; a finite source ends the proxy by itself.

mod core_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_support::*;
use wbc_runtime::modules::*;
use wbc_runtime::{Batch, Proxy, ProxyOptions, Sender, SourceKind};

/// A listener-like source: emits batches until told to stop, counting what
/// it emitted.
fn endless_source(tx: Sender) -> Arc<AtomicU64> {
    let emitted = Arc::new(AtomicU64::new(0));
    let count = emitted.clone();
    let token = tx.context().register_source(SourceKind::Listener);
    tokio::spawn(async move {
        let mut i = 0u64;
        while !token.is_stopping() {
            let mut batch: Batch = (0..64).map(|k| format!("ev-{}", i + k)).collect();
            i += 64;
            tx.emit(&mut batch).await.unwrap();
            count.fetch_add(64, Ordering::Relaxed);
        }
        drop(token);
    });
    emitted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_every_event_read_and_leaves_none_in_flight() {
    let mut proxy = proxy_with_capacity(256);
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    proxy
        .spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx]).unwrap());
    let emitted = endless_source(in_tx);
    let (a, _) = collect(a_rx);
    let (b, _) = collect(b_rx);
    let ctx = proxy.context().clone();

    let report = proxy
        .run_until(tokio::time::sleep(Duration::from_millis(300)))
        .await;

    assert!(report.drained, "{report:?}");
    assert_eq!(report.undelivered, 0);
    assert_eq!(ctx.in_flight(), 0);
    let read = emitted.load(Ordering::Relaxed);
    assert!(read > 1_000, "source hardly ran: {read}");
    let input = report.queue_from("input", "outbox").unwrap();
    assert_eq!(input.in_, read);
    assert_eq!(
        (taken(&a).len() + taken(&b).len()) as u64,
        read,
        "every event read is delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_completes_through_a_failover_cycle() {
    // input -> rr -> {up, down}; down.failed -> funnel -> rr.inbox
    let mut proxy = proxy_with_capacity(64);
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "funnel", "input");
    let (f_tx, f_rx) = proxy.queue("funnel", "outbox", "rr", "inbox");
    let (up_tx, up_rx) = proxy.queue("rr", "up", "up", "inbox");
    let (down_tx, down_rx) = proxy.queue("rr", "down", "down", "inbox");
    let (failed_tx, failed_rx) = proxy.queue("down", "failed", "funnel", "failed");
    proxy.spawn(
        Funnel::<2>::new(FunnelConfig { name: "funnel" }, [in_rx, failed_rx], f_tx).unwrap(),
    );
    proxy.spawn(
        RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, f_rx, [up_tx, down_tx]).unwrap(),
    );
    down_output(down_rx, failed_tx);
    let input = lines("e", 20_000);
    produce(in_tx, input.clone(), 100);
    let (up, _) = collect(up_rx);

    let report = run_to_end(proxy).await;

    assert!(report.drained, "{report:?}");
    let mut got = taken(&up);
    got.sort();
    let mut want = input;
    want.sort();
    assert_eq!(
        got, want,
        "every event exactly once at the output that is up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_reports_undelivered_events() {
    let mut proxy = Proxy::new(ProxyOptions {
        queue_capacity: 1_000,
        drain_timeout: Duration::from_millis(300),
        ..ProxyOptions::default()
    });
    let (tx, rx) = proxy.queue("input", "outbox", "stuck", "inbox");
    // 500 events wait in a queue whose receiver never takes them.
    tx.try_emit(&mut batch("e", 500)).unwrap();
    rx.lock();
    let started = Instant::now();

    let report = proxy
        .run_until(tokio::time::sleep(Duration::from_millis(50)))
        .await;

    assert!(!report.drained);
    assert_eq!(report.undelivered, 500);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.queue_to("stuck", "inbox").unwrap().size, 500);
    drop(rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_ends_the_drain_at_once() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, rx) = proxy.queue("input", "outbox", "stuck", "inbox");
    let _source = tx.context().register_source(SourceKind::Listener);
    tx.try_emit(&mut batch("e", 7)).unwrap();
    rx.lock();
    let started = Instant::now();

    let report = proxy
        .run(
            tokio::time::sleep(Duration::from_millis(50)),
            tokio::time::sleep(Duration::from_millis(150)),
        )
        .await;

    assert!(!report.drained);
    assert_eq!(report.undelivered, 7);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a default 10 s drain timeout was waited for"
    );
    drop(rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_keeps_the_proxy_running_after_finite_sources_end() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, rx) = proxy.queue("input", "outbox", "sink", "inbox");
    let (tx2, rx2) = proxy.queue("stdin", "outbox", "sink2", "inbox");
    let listener = tx.context().register_source(SourceKind::Listener);
    produce(tx2, lines("e", 10), 10);
    proxy.spawn(Null::new(NullConfig { name: "sink" }, rx).unwrap());
    proxy.spawn(Null::new(NullConfig { name: "sink2" }, rx2).unwrap());
    let started = Instant::now();
    let stop = tokio::time::sleep(Duration::from_millis(400));
    let release = async move {
        stop.await;
        drop(listener);
    };

    let report = proxy.run_until(release).await;

    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "ended while a listener was still there"
    );
    assert!(report.drained);
    assert_eq!(report.queue_to("sink2", "inbox").unwrap().out, 10);
    drop(tx);
}

/// A module with a bug: panics on its first batch.
struct Crash {
    inbox: wbc_runtime::Receiver,
}

impl wbc_runtime::Module for Crash {
    fn name(&self) -> &'static str {
        "crash"
    }

    async fn run(mut self) {
        let mut batch = Batch::new();
        self.inbox.recv(&mut batch).await;
        panic!("deliberate panic in a test module");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_module_ends_the_proxy_with_failure() {
    let mut proxy = Proxy::new(ProxyOptions {
        drain_timeout: Duration::from_millis(300),
        ..ProxyOptions::default()
    });
    let (tx, rx) = proxy.queue("input", "outbox", "crash", "inbox");
    let source = tx.context().register_source(SourceKind::Listener);
    proxy.spawn(Crash { inbox: rx });
    tx.try_emit(&mut batch("e", 10)).unwrap();
    let started = Instant::now();

    let report = proxy.run_until(std::future::pending::<()>()).await;

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.failed_modules, ["crash"]);
    assert!(!report.success());
    assert_eq!(report.undelivered, 10);
    drop((tx, source));
}

/// A backend that had stopped reading resets the connection while the
/// drained proxy closes it. The drain counted what tcp.out wrote as
/// delivered, but what the backend never acknowledged sat in the proxy's
/// send buffer and never reached it: the report must name those events
/// undelivered (exit code 1) instead of calling the stop clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_reset_during_the_close_is_reported_undelivered() {
    const EVENTS: usize = 2_000;
    // Never reads; its small receive buffer acknowledges little.
    let (port, reset) = silent_backend().await;

    let mut proxy = proxy_with_capacity(256);
    let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
    let ctx = proxy.context().clone();
    let source = ctx.register_source(SourceKind::Listener);
    proxy.spawn(TcpOut::new(tcp_out_config("output", port), rx, None).expect("output starts"));
    let (stop_tx, running) = run_in_background(proxy);

    emit_in_batches(
        &tx,
        &lines("a-forty-byte-event-for-the-send-buffer", EVENTS),
        100,
    )
    .await;
    // Everything written into the kernel counts as delivered.
    assert!(
        eventually(LIMIT, || ctx.in_flight() == 0).await,
        "tcp.out never wrote everything: {} in flight",
        ctx.in_flight()
    );
    drop(source);
    let _ = stop_tx.send(());
    assert!(
        eventually(LIMIT, || ctx.is_finishing()).await,
        "the drain never ended"
    );
    // tcp.out now waits (up to 1 s) for the backend to close its side.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = reset.send(());
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .expect("proxy stops")
        .expect("proxy task");
    eprintln!("reset during the close: {report:?}");
    assert!(report.drained, "the drain itself completed: {report:?}");
    assert!(
        report.undelivered >= EVENTS as u64 / 2 && report.undelivered <= EVENTS as u64,
        "the events the backend never acknowledged are undelivered: {report:?}"
    );
    assert!(
        !report.success(),
        "a lossy stop must not exit 0: {report:?}"
    );
}
