//! Test helpers for hand-wired in-process proxies: a producer that acts as a
//! source, and collectors that act as sinks. Every wait is bounded.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use wbc_runtime::modules::TcpOutConfig;
use wbc_runtime::{
    Batch, Proxy, ProxyOptions, Receiver, Report, SendError, Sender, SourceKind, TryRecv,
};

/// Upper bound for any single test's proxy run.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A proxy whose queues hold `capacity` events.
pub fn proxy_with_capacity(capacity: usize) -> Proxy {
    Proxy::new(ProxyOptions {
        queue_capacity: capacity,
        ..ProxyOptions::default()
    })
}

/// `count` distinct events `prefix-<i>`.
pub fn lines(prefix: &str, count: usize) -> Vec<Bytes> {
    (0..count)
        .map(|i| Bytes::from(format!("{prefix}-{i}")))
        .collect()
}

/// `count` distinct events `prefix-<i>` in one batch.
pub fn batch(prefix: &str, count: usize) -> Batch {
    lines(prefix, count).iter().collect()
}

/// A finite source: emits `events` in batches of `batch`, then ends.
pub fn produce(tx: Sender, events: Vec<Bytes>, batch: usize) -> JoinHandle<()> {
    let token = tx.context().register_source(SourceKind::Finite);
    tokio::spawn(async move {
        for chunk in events.chunks(batch) {
            let mut b: Batch = chunk.iter().collect();
            tx.emit(&mut b).await.expect("queue closed while producing");
        }
        drop(token);
    })
}

/// Emits `events` into `tx` as a source would, `size` events a batch.
pub async fn emit_in_batches(tx: &Sender, events: &[Bytes], size: usize) {
    for chunk in events.chunks(size) {
        let mut b: Batch = chunk.iter().collect();
        tx.emit(&mut b).await.expect("queue closed while emitting");
    }
}

/// Shared view of what a collector received so far.
pub type Seen = Arc<Mutex<Vec<Bytes>>>;

/// A sink: receives until the proxy finishes, recording every event.
pub fn collect(mut rx: Receiver) -> (Seen, JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let out = seen.clone();
    let task = tokio::spawn(async move {
        let mut batch = Batch::new();
        while rx.recv(&mut batch).await {
            // Recorded before it counts as delivered: once the proxy sees
            // nothing in flight, the test may read `seen`.
            let n = batch.len() as u64;
            out.lock().unwrap().extend(batch.to_vec());
            batch.clear();
            rx.delivered(n);
        }
    });
    (seen, task)
}

pub fn taken(seen: &Seen) -> Vec<Bytes> {
    seen.lock().unwrap().clone()
}

/// Waits (bounded) until `cond` holds; returns whether it did.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Runs the proxy until its finite sources end (or `LIMIT`), returning the report.
pub async fn run_to_end(proxy: wbc_runtime::Proxy) -> Report {
    proxy.run_until(tokio::time::sleep(LIMIT)).await
}

/// Starts the proxy in the background; it runs until the returned sender
/// is used (or dropped), then drains and the handle yields its report.
pub fn run_in_background(
    proxy: wbc_runtime::Proxy,
) -> (tokio::sync::oneshot::Sender<()>, JoinHandle<Report>) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(proxy.run_until(async move {
        let _ = stop_rx.await;
    }));
    (stop_tx, running)
}

/// Stops a proxy started with [`run_in_background`] (it drains) and
/// returns its report; panics if that takes longer than [`LIMIT`].
pub async fn stop_and_report(
    stop_tx: tokio::sync::oneshot::Sender<()>,
    running: JoinHandle<Report>,
) -> Report {
    let _ = stop_tx.send(());
    tokio::time::timeout(LIMIT, running)
        .await
        .expect("proxy stops")
        .expect("proxy task")
}

/// A tcp.out to `port` on 127.0.0.1 that retries every 100 ms and writes
/// at once.
pub fn tcp_out_config(name: &'static str, port: u16) -> TcpOutConfig {
    TcpOutConfig {
        name,
        port,
        host: "127.0.0.1",
        failed: false,
        reconnect: Duration::from_millis(100),
        linger: Duration::ZERO,
    }
}

/// Stands in for a tcp.out that is down for good: locks its inbox and moves
/// everything to its failed queue with `try_send`, keeping what does not fit.
pub fn down_output(mut inbox: Receiver, failed: Sender) {
    inbox.lock();
    tokio::spawn(async move {
        let mut held = Batch::new();
        loop {
            if held.is_empty() {
                match inbox.try_recv(&mut held) {
                    TryRecv::Batch => {}
                    TryRecv::Closed => return,
                    TryRecv::Empty => {}
                }
            }
            match failed.try_send(&mut held) {
                Ok(()) | Err(SendError::Full) => {}
                Err(_) => return,
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
}

/// A backend that accepts one connection and never reads from it (a small
/// receive buffer makes it stall soon) until `release` fires or [`LIMIT`]
/// passes, then drops it: with data unread, the proxy sees a reset.
pub async fn silent_backend() -> (u16, tokio::sync::oneshot::Sender<()>) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind backend");
    let listener = socket.listen(16).expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let held = match tokio::time::timeout(LIMIT, listener.accept()).await {
            Ok(Ok((stream, _))) => Some(stream),
            _ => None,
        };
        let _ = tokio::time::timeout(LIMIT, released).await;
        drop(held);
    });
    (port, release)
}
