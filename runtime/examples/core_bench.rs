//! In-process throughput of the core (queues, flow modules, counters,
//! in-flight accounting) without sockets: a source task emits N 64-byte
//! events (one piece of one buffer per batch of 1024, like one 64 KiB read) into a
//! graph that ends in `null` sinks. Prints events/s per graph; not a test.
//!
//! `cargo run --release -p wbc-runtime --example core_bench [events]`

use std::time::{Duration, Instant};

use bytes::Bytes;
use wbc_runtime::modules::*;
use wbc_runtime::{Lines, Proxy, ProxyOptions, Sender, SourceKind};

const BATCH: usize = 1024;

/// A finite source emitting `events` 63-byte lines.
fn source(tx: Sender, events: usize) {
    let token = tx.context().register_source(SourceKind::Finite);
    let mut buf = Vec::with_capacity(BATCH * 64);
    for _ in 0..BATCH {
        buf.extend_from_slice(&[b'x'; 63]);
        buf.push(b'\n');
    }
    let chunk = Bytes::from(buf);
    tokio::spawn(async move {
        let mut batch = tx.fresh_batch();
        let mut left = events;
        while left > 0 {
            let n = left.min(BATCH);
            // One piece of n complete lines, as tcp.in hands out a read.
            batch.push(Lines::new(chunk.slice(..n * 64)).expect("complete lines"));
            if tx.emit(&mut batch).await.is_err() {
                break;
            }
            left -= n;
        }
        drop(token);
    });
}

async fn run(
    name: &str,
    events: usize,
    sources: usize,
    wire: impl FnOnce(&mut Proxy) -> Vec<Sender>,
) {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let inputs = wire(&mut proxy);
    let started = Instant::now();
    for tx in inputs {
        source(tx, events / sources);
    }
    let report = proxy
        .run_until(tokio::time::sleep(Duration::from_secs(300)))
        .await;
    let secs = started.elapsed().as_secs_f64();
    let out: u64 = report
        .queues
        .iter()
        .filter(|q| q.to_module.starts_with("null"))
        .map(|q| q.counters.out)
        .sum();
    println!(
        "{name:<30} {:>6.2} M events/s  ({events} events in {secs:.3} s, {out} at sinks, drained={})",
        events as f64 / secs / 1e6,
        report.drained
    );
}

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        run("input -> null", events, 1, |p| {
            let (tx, rx) = p.queue("input", "outbox", "null", "inbox");
            p.spawn(Null::new(NullConfig { name: "null" }, rx).unwrap());
            vec![tx]
        })
        .await;
        run("input -> roundrobin(2) -> null", events, 1, |p| {
            let (tx, rx) = p.queue("input", "outbox", "rr", "inbox");
            let (a, ar) = p.queue("rr", "a", "null_a", "inbox");
            let (b, br) = p.queue("rr", "b", "null_b", "inbox");
            p.spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, rx, [a, b]).unwrap());
            p.spawn(Null::new(NullConfig { name: "null_a" }, ar).unwrap());
            p.spawn(Null::new(NullConfig { name: "null_b" }, br).unwrap());
            vec![tx]
        })
        .await;
        run("input -> fanout(2) -> null", events, 1, |p| {
            let (tx, rx) = p.queue("input", "outbox", "fan", "inbox");
            let (a, ar) = p.queue("fan", "a", "null_a", "inbox");
            let (b, br) = p.queue("fan", "b", "null_b", "inbox");
            p.spawn(Fanout::<2>::new(FanoutConfig { name: "fan" }, rx, [a, b]).unwrap());
            p.spawn(Null::new(NullConfig { name: "null_a" }, ar).unwrap());
            p.spawn(Null::new(NullConfig { name: "null_b" }, br).unwrap());
            vec![tx]
        })
        .await;
        run("2 inputs -> funnel(2) -> null", events, 2, |p| {
            let (a, ar) = p.queue("in_a", "outbox", "funnel", "a");
            let (b, br) = p.queue("in_b", "outbox", "funnel", "b");
            let (tx, rx) = p.queue("funnel", "outbox", "null", "inbox");
            p.spawn(Funnel::<2>::new(FunnelConfig { name: "funnel" }, [ar, br], tx).unwrap());
            p.spawn(Null::new(NullConfig { name: "null" }, rx).unwrap());
            vec![a, b]
        })
        .await;
    });
}
