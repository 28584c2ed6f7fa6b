//! tcp.out's `linger`: small writes wait for more events, so lines that
//! trickle in reach the backend together; a large batch and a stopping
//! proxy do not wait. Real sockets on 127.0.0.1.

mod core_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use core_support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use wbc_runtime::modules::{TcpOut, TcpOutConfig, LINGER_BYTES};
use wbc_runtime::{Batch, Report, Sender, SourceKind, SourceToken};

/// What the backend read: each read's time and bytes.
type Reads = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// A backend that accepts one connection and records every read until the
/// proxy closes it (or [`LIMIT`] passes).
async fn recording_backend() -> (u16, Reads) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let reads = Reads::default();
    let record = reads.clone();
    tokio::spawn(async move {
        let Ok(Ok((mut stream, _))) = tokio::time::timeout(LIMIT, listener.accept()).await else {
            return;
        };
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(Ok(n)) = tokio::time::timeout(LIMIT, stream.read(&mut buf)).await {
            if n == 0 {
                return;
            }
            record
                .lock()
                .expect("reads")
                .push((Instant::now(), buf[..n].to_vec()));
        }
    });
    (port, reads)
}

fn all_bytes(reads: &Reads) -> Vec<u8> {
    let reads = reads.lock().expect("reads");
    reads.iter().flat_map(|(_, bytes)| bytes.clone()).collect()
}

/// A running proxy whose only module is a tcp.out with `linger`, connected
/// to a recording backend and fed by a listener-like source.
struct Running {
    tx: Sender,
    reads: Reads,
    source: SourceToken,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<Report>,
}

async fn start(linger: Duration) -> Running {
    let (port, reads) = recording_backend().await;
    let mut proxy = proxy_with_capacity(4096);
    let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
    let config = TcpOutConfig {
        linger,
        ..tcp_out_config("output", port)
    };
    proxy.spawn(TcpOut::new(config, rx, None).expect("output starts"));
    let source = tx.context().register_source(SourceKind::Listener);
    let (stop_tx, running) = run_in_background(proxy);
    assert!(
        eventually(LIMIT, || tx.is_up()).await,
        "tcp.out never connected"
    );
    Running {
        tx,
        reads,
        source,
        stop_tx,
        running,
    }
}

impl Running {
    fn received(&self) -> Vec<u8> {
        all_bytes(&self.reads)
    }

    /// Stops the proxy, which must end within the test's limit, cleanly;
    /// returns what the backend received (its close waits for the backend's).
    async fn stop(self) -> Vec<u8> {
        let Running {
            reads,
            source,
            stop_tx,
            running,
            ..
        } = self;
        drop(source);
        let report = stop_and_report(stop_tx, running).await;
        assert!(report.success(), "{report:?}");
        all_bytes(&reads)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_that_trickle_in_within_the_linger_reach_the_backend_in_one_write() {
    const LINGER: Duration = Duration::from_secs(1);
    let proxy = start(LINGER).await;

    let first = Instant::now();
    for i in 0..5 {
        let mut line: Batch = [format!("line-{i}")].iter().collect();
        proxy.tx.emit(&mut line).await.expect("emit");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let want = b"line-0\nline-1\nline-2\nline-3\nline-4\n";
    assert!(
        eventually(LIMIT, || proxy.received().len() >= want.len()).await,
        "the backend never got the lines"
    );
    {
        let reads = proxy.reads.lock().expect("reads");
        let (at, bytes) = &reads[0];
        // One write: the backend's first read holds all five lines.
        assert_eq!(bytes.as_slice(), want, "first read");
        let waited = at.duration_since(first);
        assert!(
            waited >= LINGER - Duration::from_millis(100),
            "written after {waited:?}, before the linger of {LINGER:?} was up"
        );
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_worth_a_write_does_not_linger() {
    // A linger far beyond the test's limit: only a write at once passes.
    let proxy = start(Duration::from_secs(600)).await;

    let events = lines("a-line-of-some-forty-bytes-for-the-batch", 1000);
    let bytes: usize = events.iter().map(|e| e.len() + 1).sum();
    assert!(bytes >= LINGER_BYTES, "the batch must be worth a write");
    emit_in_batches(&proxy.tx, &events, events.len()).await;
    assert!(
        eventually(LIMIT, || proxy.received().len() == bytes).await,
        "a large batch waited: {} of {bytes} bytes arrived",
        proxy.received().len()
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_proxy_does_not_linger() {
    let proxy = start(Duration::from_secs(600)).await;

    let mut line: Batch = ["the-only-line"].iter().collect();
    proxy.tx.emit(&mut line).await.expect("emit");
    // The line lingers; stopping the proxy must write it and end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(proxy.received().is_empty(), "written without lingering");
    assert_eq!(proxy.stop().await, b"the-only-line\n");
}
