//! The queue itself: capacity in events, lock semantics per kind of send,
//! closing, exact counters, recycled batches and cancel safety.

mod core_support;

use std::time::Duration;

use core_support::*;
use wbc_runtime::{Batch, Counters, Proxy, ProxyOptions, SendError, TryRecv};

#[tokio::test]
async fn capacity_counts_events_and_admits_one_oversized_batch_when_empty() {
    let mut p = proxy_with_capacity(10);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    tx.try_send(&mut batch("x", 6)).unwrap();
    let mut five = batch("y", 5);
    assert_eq!(tx.try_send(&mut five), Err(SendError::Full));
    assert_eq!(five.len(), 5, "a refused batch stays with the caller");
    tx.try_send(&mut batch("z", 4)).unwrap();
    assert_eq!(rx.len(), 10);

    let mut got = Batch::new();
    while rx.try_recv(&mut got) == TryRecv::Batch {}
    assert_eq!(got.len(), 10);
    // Larger than the capacity: only an empty queue takes it, or it could never pass.
    tx.try_send(&mut batch("big", 25)).unwrap();
    assert_eq!(tx.try_send(&mut batch("more", 1)), Err(SendError::Full));
}

#[tokio::test]
async fn capacity_also_counts_bytes() {
    // Room for 100 events but only 64 bytes: four 15-byte lines (16 with
    // their newlines) fill it.
    let mut p = Proxy::new(ProxyOptions {
        queue_capacity: 100,
        queue_bytes: 64,
        ..ProxyOptions::default()
    });
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    let line = |c: char| -> Batch { [c.to_string().repeat(15)].iter().collect() };
    for c in ['a', 'b', 'c', 'd'] {
        tx.try_send(&mut line(c)).unwrap();
    }
    assert_eq!(tx.try_send(&mut line('e')), Err(SendError::Full));
    let mut got = Batch::new();
    assert_eq!(rx.try_recv(&mut got), TryRecv::Batch);
    tx.try_send(&mut line('e')).unwrap();
    // Larger than the byte capacity: only an empty queue takes it.
    while rx.try_recv(&mut got) == TryRecv::Batch {}
    let mut big: Batch = ["x".repeat(1000)].iter().collect();
    tx.try_send(&mut big).unwrap();
    assert_eq!(rx.len(), 1);
}

#[tokio::test]
async fn take_queued_appends_what_piled_up_up_to_a_byte_budget_and_frees_room() {
    let mut p = proxy_with_capacity(6);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    for prefix in ["a", "b", "c"] {
        tx.try_send(&mut batch(prefix, 2)).unwrap();
    }
    // Full: a fourth batch waits for room.
    let waiting = tokio::spawn(async move { tx.send(&mut batch("d", 2)).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished());

    let mut got = Batch::new();
    assert!(rx.recv(&mut got).await);
    // Batches are taken while the budget is not reached (the last one may
    // pass it): one byte of budget left takes one more batch, not two.
    let budget = got.byte_len() + 1;
    rx.take_queued(&mut got, budget);
    assert_eq!(got, {
        let mut both = batch("a", 2);
        both.append(&mut batch("b", 2));
        both
    });
    rx.take_queued(&mut got, usize::MAX);
    assert_eq!(got.len(), 6);
    tokio::time::timeout(LIMIT, waiting)
        .await
        .expect("the waiting sender was woken")
        .unwrap()
        .unwrap();
    rx.take_queued(&mut got, usize::MAX);
    assert_eq!(got.len(), 8);
    assert_eq!(rx.stats().snapshot().out, 8);
}

#[tokio::test]
async fn lock_semantics_per_kind_of_send() {
    let mut p = proxy_with_capacity(4);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    rx.lock();
    assert!(!tx.is_up());
    assert_eq!(tx.try_send(&mut batch("x", 1)), Err(SendError::Down));
    assert_eq!(
        tx.send_unless_down(&mut batch("x", 1)).await,
        Err(SendError::Down)
    );
    // A plain send still fills a down queue up to its capacity.
    tx.send(&mut batch("x", 4)).await.unwrap();
    assert_eq!(rx.len(), 4);
    // The receiver can always take from its own locked queue.
    let mut got = Batch::new();
    assert_eq!(rx.try_recv(&mut got), TryRecv::Batch);
    rx.unlock();
    assert!(tx.is_up());
    tx.try_send(&mut batch("y", 1)).unwrap();
}

#[tokio::test]
async fn send_unless_down_stops_waiting_for_room_when_the_queue_goes_down() {
    let mut p = proxy_with_capacity(2);
    let (tx, rx) = p.queue("a", "outbox", "b", "inbox");
    tx.try_send(&mut batch("x", 2)).unwrap();
    let waiting = tokio::spawn(async move {
        let mut events = batch("y", 1);
        let result = tx.send_unless_down(&mut events).await;
        (result, events.len())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "a full queue must make it wait");
    rx.lock();
    let (result, kept) = tokio::time::timeout(LIMIT, waiting).await.unwrap().unwrap();
    assert_eq!(result, Err(SendError::Down));
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn send_waits_for_room_and_is_woken_by_a_receive() {
    let mut p = proxy_with_capacity(2);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    tx.try_send(&mut batch("x", 2)).unwrap();
    let waiting = tokio::spawn(async move { tx.send(&mut batch("y", 2)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    let mut got = Batch::new();
    assert!(rx.recv(&mut got).await);
    tokio::time::timeout(LIMIT, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(rx.len(), 2);
}

#[tokio::test]
async fn a_cancelled_send_loses_nothing() {
    let mut p = proxy_with_capacity(1);
    let (tx, _rx) = p.queue("a", "outbox", "b", "inbox");
    tx.try_send(&mut batch("x", 1)).unwrap();
    let mut events = batch("y", 3);
    let timed_out = tokio::time::timeout(Duration::from_millis(20), tx.send(&mut events)).await;
    assert!(timed_out.is_err());
    assert_eq!(events, batch("y", 3));
}

#[tokio::test]
async fn closing_either_end() {
    let mut p = proxy_with_capacity(8);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    let tx2 = tx.clone();
    tx.try_send(&mut batch("x", 2)).unwrap();
    drop(tx);
    drop(tx2);
    let mut got = Batch::new();
    assert!(
        rx.recv(&mut got).await,
        "queued events are still delivered after senders leave"
    );
    assert!(!tokio::time::timeout(LIMIT, rx.recv(&mut got))
        .await
        .unwrap());

    let (tx, rx) = p.queue("c", "outbox", "d", "inbox");
    drop(rx);
    let mut events = batch("y", 1);
    assert_eq!(tx.send(&mut events).await, Err(SendError::Closed));
    assert_eq!(events.len(), 1);
    assert!(!tx.is_up());
}

#[tokio::test]
async fn counters_are_exact() {
    let mut p = proxy_with_capacity(100);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    for _ in 0..7 {
        tx.try_send(&mut batch("x", 9)).unwrap();
    }
    tx.count_dropped(2);
    let mut got = Batch::new();
    for _ in 0..3 {
        assert_eq!(rx.try_recv(&mut got), TryRecv::Batch);
    }
    assert_eq!(
        rx.stats().snapshot(),
        Counters {
            in_: 63,
            out: 27,
            dropped: 2,
            size: 36
        }
    );
    rx.discard(1);
    assert_eq!(tx.stats().snapshot().dropped, 3);
}

#[tokio::test]
async fn vectors_circulate_instead_of_being_allocated() {
    let mut p = proxy_with_capacity(100);
    let (tx, mut rx) = p.queue("a", "outbox", "b", "inbox");
    let mut sent = batch("x", 3);
    let sent_ptr = sent.pieces().as_ptr();
    tx.try_send(&mut sent).unwrap();
    let mut inbox = Batch::with_capacity(8);
    let spare_ptr = inbox.pieces().as_ptr();
    assert_eq!(rx.try_recv(&mut inbox), TryRecv::Batch);
    assert_eq!(
        inbox.pieces().as_ptr(),
        sent_ptr,
        "the batch's vector moved, not its events"
    );
    // The receiver's empty vector went to the pool and comes back to the sender.
    sent.push_line(b"again");
    tx.try_send(&mut sent).unwrap();
    assert!(sent.is_empty());
    assert_eq!(sent.pieces().as_ptr(), spare_ptr);
}
