//! The seed's three scenarios, end to end: each test builds an example
//! routing file (ports rewritten to free ones) with the real `wbc build`,
//! runs the proxy, drives it over 127.0.0.1 with real sockets, stops it with
//! SIGTERM and checks that it exits 0 and what the sinks received.
//!
//! All tests share one wbc cache (`target/wbc-test-cache`), so tokio and the
//! runtime are compiled by the first build only.

#[path = "e2e/mod.rs"]
mod e2e;

use std::time::Duration;

use e2e::sink::Sink;
use e2e::{
    build, distinct_lines, free_port, hello_lines, send, sha256_hex, sorted_lines, temp_dir,
    wait_until, Proxy,
};

const DELIVERY: Duration = Duration::from_secs(60);

/// Stops the proxy with SIGTERM and asserts a clean exit.
fn stop(proxy: Proxy) {
    let (status, log) = proxy.terminate();
    assert!(
        status.success(),
        "proxy exited with {status} after SIGTERM\n{log}"
    );
}

/// Waits until `sinks` together hold `expected` lines; panics with the proxy log.
fn wait_for_lines(proxy: &Proxy, sinks: &[&Sink], expected: usize) {
    let total = || sinks.iter().map(|s| s.lines()).sum::<usize>();
    let arrived = wait_until(DELIVERY, || total() >= expected);
    assert!(
        arrived,
        "{} of {expected} lines arrived\n{}",
        total(),
        proxy.log()
    );
}

/// Seed scenario I: 10,000 `hello` lines through `input -> output`; the
/// sink's bytes are sha256-identical to the input.
#[test]
fn scenario_1_one_to_one_is_byte_identical() {
    let dir = temp_dir("scenario1");
    let (input, out) = (free_port(), free_port());
    let routing =
        e2e::example_with_ports("scenario1_one_to_one.wb", &[(10000, input), (20000, out)]);
    let binary = build(&dir, &routing);

    let sink = Sink::listen(out);
    let proxy = Proxy::start(&binary, input);
    let data = hello_lines(10_000);
    send(input, &data);
    wait_for_lines(&proxy, &[&sink], 10_000);
    // The proxy says where it listens and where it sends.
    let log = proxy.log();
    for address in [format!("127.0.0.1:{input}"), format!("127.0.0.1:{out}")] {
        assert!(
            log.contains(&address),
            "log does not mention {address}:\n{log}"
        );
    }
    stop(proxy);
    let received = sink.finish();
    assert_eq!(received.len(), data.len());
    assert_eq!(sha256_hex(&received), sha256_hex(&data));
}

/// Runs scenario II's routing file on `data` (10,000 lines); returns what
/// each sink received.
fn roundrobin_run(test: &str, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let dir = temp_dir(test);
    let (input, out1, out2) = (free_port(), free_port(), free_port());
    let ports = [(10000, input), (20000, out1), (20001, out2)];
    let binary = build(
        &dir,
        &e2e::example_with_ports("scenario2_roundrobin.wb", &ports),
    );

    let (sink1, sink2) = (Sink::listen(out1), Sink::listen(out2));
    let proxy = Proxy::start(&binary, input);
    // Both members must be up for an even split: wait until both connected.
    let both_up = wait_until(Duration::from_secs(20), || {
        sink1.connections() > 0 && sink2.connections() > 0
    });
    assert!(both_up, "outputs did not connect\n{}", proxy.log());
    // The accept completes a moment before tcp.out marks itself up.
    std::thread::sleep(Duration::from_millis(200));
    send(input, data);
    wait_for_lines(&proxy, &[&sink1, &sink2], 10_000);
    stop(proxy);
    (sink1.finish(), sink2.finish())
}

/// Seed scenario II with the seed's data: 10,000 `hello` lines split
/// 5,000/5,000, and the two sinks concatenated hash like the input.
#[test]
fn scenario_2_roundrobin_splits_hello_lines_evenly() {
    let data = hello_lines(10_000);
    let (one, two) = roundrobin_run("scenario2-hello", &data);
    let lines = |b: &[u8]| b.iter().filter(|c| **c == b'\n').count();
    assert_eq!((lines(&one), lines(&two)), (5_000, 5_000));
    let concatenated = [one, two].concat();
    assert_eq!(sha256_hex(&concatenated), sha256_hex(&data));
}

/// Scenario II with distinct lines: the multiset of lines received equals
/// the input, 5,000 each, and each sink keeps input order.
#[test]
fn scenario_2_roundrobin_delivers_distinct_lines_exactly_once() {
    let data = distinct_lines("rr", 10_000);
    let (one, two) = roundrobin_run("scenario2-distinct", &data);
    let (lines1, lines2) = (sorted_lines(&one), sorted_lines(&two));
    assert_eq!((lines1.len(), lines2.len()), (5_000, 5_000));
    // Zero-padded numbers: sorted order is input order.
    let in_order = |b: &[u8]| {
        b.split(|c| *c == b'\n')
            .filter(|l| !l.is_empty())
            .eq(sorted_lines(b))
    };
    assert!(
        in_order(&one) && in_order(&two),
        "each sink receives its share in input order"
    );
    let mut all = [lines1, lines2].concat();
    all.sort();
    assert_eq!(all, sorted_lines(&data));
}

/// Seed scenario III: `roundrobin(output_1, output_2) fallback funnel`
/// (plus graphite metrics to a carbon sink). output_2's sink is not
/// listening: every line reaches output_1, none lost or duplicated. Then it
/// starts listening, and later lines are split between both again.
#[test]
fn scenario_3_failover_loses_nothing_and_rebalances() {
    let dir = temp_dir("scenario3");
    let (input, out1, out2, carbon) = (free_port(), free_port(), free_port(), free_port());
    let ports = [(10000, input), (20000, out1), (20001, out2), (2003, carbon)];
    let binary = build(
        &dir,
        &e2e::example_with_ports("scenario3_failover_metrics.wb", &ports),
    );

    let (sink1, carbon_sink) = (Sink::listen(out1), Sink::listen(carbon));
    let proxy = Proxy::start(&binary, input);
    let first = distinct_lines("down", 10_000);
    send(input, &first);
    wait_for_lines(&proxy, &[&sink1], 10_000);

    // output_2's backend comes up; tcp.out reconnects within its backoff.
    let sink2 = Sink::listen(out2);
    let reconnected = wait_until(Duration::from_secs(45), || sink2.connections() > 0);
    assert!(reconnected, "output_2 did not reconnect\n{}", proxy.log());
    std::thread::sleep(Duration::from_millis(300));
    let second = distinct_lines("up", 10_000);
    send(input, &second);
    wait_for_lines(&proxy, &[&sink1, &sink2], 20_000);
    stop(proxy);
    let (one, two) = (sink1.finish(), sink2.finish());
    let _ = carbon_sink.finish();

    // Nothing lost, nothing duplicated, over both phases.
    let mut all = [sorted_lines(&one), sorted_lines(&two)].concat();
    all.sort();
    assert_eq!(all, sorted_lines(&[first.clone(), second].concat()));
    // Phase 1 went entirely to output_1.
    let phase1_on_two = sorted_lines(&two)
        .iter()
        .filter(|l| l.starts_with(b"down-"))
        .count();
    assert_eq!(phase1_on_two, 0, "output_2 was down during phase 1");
    // Phase 2 is split between both again.
    let phase2 = |b: &[u8]| {
        sorted_lines(b)
            .iter()
            .filter(|l| l.starts_with(b"up-"))
            .count()
    };
    let (p2_one, p2_two) = (phase2(&one), phase2(&two));
    eprintln!("phase 2 split: output_1 {p2_one}, output_2 {p2_two}");
    assert!(
        p2_one >= 2_500 && p2_two >= 2_500,
        "phase 2 split {p2_one}/{p2_two}, expected both to share"
    );
}
