//! Flow modules wired by hand: roundrobin rotation and failover skipping,
//! fanout, funnel fairness, and exact queue counters.

mod core_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use core_support::*;
use wbc_runtime::modules::*;
use wbc_runtime::{Counters, Proxy, ProxyOptions};

fn counters(in_: u64, out: u64) -> Counters {
    Counters {
        in_,
        out,
        dropped: 0,
        size: in_ - out,
    }
}

/// Every `k`-th event of `input` starting at `first`: the share a member
/// gets under strict rotation.
fn share(input: &[Bytes], first: usize, k: usize) -> Vec<Bytes> {
    input.iter().skip(first).step_by(k).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_two_members_split_5000_5000_in_input_order() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "out_a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "out_b", "inbox");
    proxy
        .spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx]).unwrap());
    let input = lines("hello", 10_000);
    // Odd batch size, so rotation must carry over between batches.
    produce(in_tx, input.clone(), 333);
    let (a, _) = collect(a_rx);
    let (b, _) = collect(b_rx);

    let report = run_to_end(proxy).await;

    assert!(report.drained, "{report:?}");
    assert_eq!(report.undelivered, 0);
    assert_eq!(taken(&a), share(&input, 0, 2));
    assert_eq!(taken(&b), share(&input, 1, 2));
    assert_eq!(
        report.queue_from("input", "outbox"),
        Some(counters(10_000, 10_000))
    );
    assert_eq!(
        report.queue_to("out_a", "inbox"),
        Some(counters(5_000, 5_000))
    );
    assert_eq!(
        report.queue_to("out_b", "inbox"),
        Some(counters(5_000, 5_000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_three_members_count_not_divisible_by_three() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    let (c_tx, c_rx) = proxy.queue("rr", "c", "c", "inbox");
    proxy.spawn(
        RoundRobin::<3>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx, c_tx]).unwrap(),
    );
    let input = lines("e", 10_001);
    produce(in_tx, input.clone(), 1000);
    let (a, _) = collect(a_rx);
    let (b, _) = collect(b_rx);
    let (c, _) = collect(c_rx);

    let report = run_to_end(proxy).await;

    assert!(report.drained);
    let (a, b, c) = (taken(&a), taken(&b), taken(&c));
    assert_eq!((a.len(), b.len(), c.len()), (3_334, 3_334, 3_333));
    assert_eq!(a, share(&input, 0, 3));
    assert_eq!(b, share(&input, 1, 3));
    assert_eq!(c, share(&input, 2, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_skips_a_locked_member() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    let (c_tx, c_rx) = proxy.queue("rr", "c", "c", "inbox");
    b_rx.lock();
    proxy.spawn(
        RoundRobin::<3>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx, c_tx]).unwrap(),
    );
    let input = lines("e", 1_000);
    produce(in_tx, input.clone(), 100);
    let (a, _) = collect(a_rx);
    let (c, _) = collect(c_rx);
    let ctx = proxy.context().clone();
    let run = tokio::spawn(run_to_end(proxy));

    assert!(eventually(LIMIT, || taken(&a).len() + taken(&c).len() == 1_000).await);
    // b is down: a and c alternate over every event.
    assert_eq!(taken(&a), share(&input, 0, 2));
    assert_eq!(taken(&c), share(&input, 1, 2));
    assert!(b_rx.is_empty());
    assert_eq!(ctx.in_flight(), 0);
    drop(b_rx);
    assert!(run.await.unwrap().drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_waits_while_every_member_is_locked_then_resumes() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    a_rx.lock();
    b_rx.lock();
    proxy
        .spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx]).unwrap());
    let input = lines("e", 100);
    produce(in_tx, input.clone(), 10);
    let ctx = proxy.context().clone();
    let run = tokio::spawn(run_to_end(proxy));

    // Nothing may reach a locked member, and nothing is lost meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(a_rx.is_empty() && b_rx.is_empty());
    assert_eq!(ctx.in_flight(), 100);

    b_rx.unlock();
    let (b, _) = collect(b_rx);
    assert!(
        eventually(LIMIT, || taken(&b).len() == 100).await,
        "got {}",
        taken(&b).len()
    );
    assert_eq!(taken(&b), input);
    assert!(a_rx.is_empty());
    drop(a_rx);
    let report = run.await.unwrap();
    assert!(report.drained);
    assert_eq!(report.queue_to("b", "inbox"), Some(counters(100, 100)));
    assert_eq!(report.queue_to("a", "inbox"), Some(counters(0, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_redirects_when_a_full_member_goes_down() {
    // Small queues: member a is never read, fills up, and roundrobin blocks
    // on it (strict rotation). When a goes down, roundrobin must stop
    // waiting and send everything else to b.
    let mut proxy = proxy_with_capacity(16);
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, mut a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    proxy
        .spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx]).unwrap());
    let input = lines("e", 1_000);
    produce(in_tx, input.clone(), 8);
    let (b, _) = collect(b_rx);
    let run = tokio::spawn(run_to_end(proxy));

    assert!(eventually(LIMIT, || a_rx.len() == 16).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b_before = taken(&b).len();
    assert!(
        b_before < 100,
        "roundrobin should be held back by the full member, b got {b_before}"
    );
    a_rx.lock();
    assert!(
        eventually(LIMIT, || taken(&b).len() == 1_000 - 16).await,
        "b got {}",
        taken(&b).len()
    );

    // Exactly once across both members.
    let mut in_a = wbc_runtime::Batch::new();
    assert_eq!(a_rx.try_recv(&mut in_a), wbc_runtime::TryRecv::Batch);
    while a_rx.try_recv(&mut in_a) == wbc_runtime::TryRecv::Batch {}
    a_rx.delivered(in_a.len() as u64);
    let mut all: Vec<Bytes> = taken(&b).into_iter().chain(in_a.to_vec()).collect();
    all.sort();
    let mut expected = input.clone();
    expected.sort();
    assert_eq!(all, expected);
    drop(a_rx);
    assert!(run.await.unwrap().drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_gives_every_output_every_event_without_copying() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "fan", "inbox");
    let (a_tx, a_rx) = proxy.queue("fan", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("fan", "b", "b", "inbox");
    let (c_tx, c_rx) = proxy.queue("fan", "c", "c", "inbox");
    proxy.spawn(Fanout::<3>::new(FanoutConfig { name: "fan" }, in_rx, [a_tx, b_tx, c_tx]).unwrap());
    let input = lines("e", 10_000);
    produce(in_tx, input.clone(), 500);
    let (a, _) = collect(a_rx);
    let (b, _) = collect(b_rx);
    let (c, _) = collect(c_rx);

    let report = run_to_end(proxy).await;

    // Drained means the fanout's extra copies were accounted for exactly.
    assert!(report.drained && report.undelivered == 0, "{report:?}");
    let (a, b, c) = (taken(&a), taken(&b), taken(&c));
    assert_eq!(a, input);
    assert_eq!(b, input);
    assert_eq!(c, input);
    // The three outputs see the same bytes: one buffer, shared, not copied.
    for i in 0..input.len() {
        assert_eq!(a[i].as_ptr(), b[i].as_ptr(), "event {i} was copied");
        assert_eq!(a[i].as_ptr(), c[i].as_ptr(), "event {i} was copied");
    }
    for q in ["a", "b", "c"] {
        assert_eq!(report.queue_to(q, "inbox"), Some(counters(10_000, 10_000)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_keeps_flowing_into_the_failed_route_of_a_down_output() {
    // fanout(primary, mirror); primary is down and hands everything to its
    // failed queue (a dead-letter sink): mirror must not be held back.
    let mut proxy = proxy_with_capacity(64);
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "fan", "inbox");
    let (p_tx, p_rx) = proxy.queue("fan", "a", "primary", "inbox");
    let (m_tx, m_rx) = proxy.queue("fan", "b", "mirror", "inbox");
    let (f_tx, f_rx) = proxy.queue("primary", "failed", "dead", "inbox");
    proxy.spawn(Fanout::<2>::new(FanoutConfig { name: "fan" }, in_rx, [p_tx, m_tx]).unwrap());
    down_output(p_rx, f_tx);
    let input = lines("e", 5_000);
    produce(in_tx, input.clone(), 50);
    let (mirror, _) = collect(m_rx);
    let (dead, _) = collect(f_rx);

    let report = run_to_end(proxy).await;

    assert!(report.drained, "{report:?}");
    assert_eq!(taken(&mirror), input);
    let dead = taken(&dead);
    assert_eq!(dead.len(), input.len());
    assert_eq!(dead, input);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnel_does_not_let_a_busy_input_starve_another() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (busy_tx, busy_rx) = proxy.queue("busy", "outbox", "funnel", "busy");
    let (quiet_tx, quiet_rx) = proxy.queue("quiet", "outbox", "funnel", "quiet");
    let (out_tx, out_rx) = proxy.queue("funnel", "outbox", "sink", "inbox");
    let _busy_token = busy_tx
        .context()
        .register_source(wbc_runtime::SourceKind::Finite);
    // Both inputs are full before the funnel starts: 40 batches on one, 5 on the other.
    for chunk in lines("busy", 4_000).chunks(100) {
        busy_tx.try_emit(&mut chunk.iter().collect()).unwrap();
    }
    for chunk in lines("quiet", 50).chunks(10) {
        quiet_tx.try_emit(&mut chunk.iter().collect()).unwrap();
    }
    drop((busy_tx, quiet_tx, _busy_token));
    proxy.spawn(
        Funnel::<2>::new(FunnelConfig { name: "funnel" }, [busy_rx, quiet_rx], out_tx).unwrap(),
    );
    let (seen, _) = collect(out_rx);

    let report = run_to_end(proxy).await;

    assert!(report.drained);
    let seen = taken(&seen);
    assert_eq!(seen.len(), 4_050);
    let last_quiet = seen.iter().rposition(|e| e.starts_with(b"quiet")).unwrap();
    // Alternating batches: the 5 quiet batches are out after at most 6 busy ones.
    assert!(
        last_quiet < 6 * 100 + 50,
        "last quiet event at position {last_quiet}"
    );
    // Each input keeps its own order.
    let busy: Vec<_> = seen
        .iter()
        .filter(|e| e.starts_with(b"busy"))
        .cloned()
        .collect();
    assert_eq!(busy, lines("busy", 4_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_counts_and_discards() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, rx) = proxy.queue("input", "outbox", "trash", "inbox");
    proxy.spawn(Null::new(NullConfig { name: "trash" }, rx).unwrap());
    produce(tx, lines("x", 12_345), 1_000);
    let started = Instant::now();
    let report = run_to_end(proxy).await;
    assert!(
        started.elapsed() < LIMIT,
        "the proxy did not end by itself when its input ended"
    );
    assert!(report.drained);
    assert_eq!(
        report.queue_to("trash", "inbox"),
        Some(counters(12_345, 12_345))
    );
}
