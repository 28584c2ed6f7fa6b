//! Seed scenarios I, II and III built with `wbc build`, reporting through
//! `metrics.graphite` to a real carbon-cache; the counters are read back from
//! carbon's whisper files.

use std::time::Duration;

use super::carbon::Carbon;
use super::e2e::sink::Sink;
use super::e2e::{self, free_port, temp_dir, wait_until, Proxy};
use super::{graphite_block, harness, now_secs, scenario1, seed, send_hello, stop, LINES};

/// Waits until carbon stored `want` as the latest point of `metric`, then
/// checks the graphite conventions on the whole series: counters are running
/// totals (never decrease) and timestamps are Unix seconds of this run.
/// Gauges (`size`, `connected`) may go down; everything else is a counter.
fn assert_series(carbon: &Carbon, metric: &str, want: f64, started: u32) {
    let gauge = metric.ends_with(".size") || metric.ends_with(".connected");
    let points = carbon.wait_for_latest(metric, want, Duration::from_secs(30));
    let last = points.last().map(|p| p.value);
    assert_eq!(
        last,
        Some(want),
        "carbon's latest `{metric}` should be {want}; series {points:?}\nmetrics stored: {:?}\ncarbon log:\n{}",
        carbon.metrics(),
        carbon.log_tail()
    );
    for pair in points.windows(2).filter(|_| !gauge) {
        assert!(
            pair[0].value <= pair[1].value,
            "`{metric}` decreased: {points:?} (counters are running totals)"
        );
    }
    let end = now_secs() + 1;
    for p in &points {
        assert!(
            p.time >= started.saturating_sub(1) && p.time <= end,
            "`{metric}` has a point at {} outside this run [{started}, {end}]: timestamps must be Unix seconds",
            p.time
        );
    }
}

#[test]
fn scenario1_counters_land_in_carbon() {
    let Some(carbon) = Carbon::start("s1") else {
        return;
    };
    let started = now_secs();
    let dir = temp_dir("s1");
    let sink = Sink::listen(free_port());
    let in_port = free_port();
    let prefix = format!("wbctest_s1_{}", std::process::id());
    let mut src = scenario1(in_port, sink.port);
    src.push_str(&graphite_block(&prefix, carbon.port, "250ms"));
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start(&bin, in_port);

    send_hello(in_port, LINES);
    assert!(
        wait_until(Duration::from_secs(30), || sink.lines() == LINES),
        "sink got {} of {LINES}",
        sink.lines()
    );

    for metric in [
        "queue.input.outbox.in",
        "queue.input.outbox.out",
        "queue.output.inbox.in",
        "queue.output.inbox.out",
    ] {
        assert_series(
            &carbon,
            &format!("{prefix}.{metric}"),
            LINES as f64,
            started,
        );
    }
    assert_series(
        &carbon,
        &format!("{prefix}.queue.output.inbox.dropped"),
        0.0,
        started,
    );
    assert_series(
        &carbon,
        &format!("{prefix}.queue.output.inbox.size"),
        0.0,
        started,
    );
    assert_series(
        &carbon,
        &format!("{prefix}.module.output.connected"),
        1.0,
        started,
    );
    assert_series(
        &carbon,
        &format!("{prefix}.module.output.reconnects"),
        0.0,
        started,
    );
    stop(proxy);
}

#[test]
fn scenario2_roundrobin_counters_land_in_carbon() {
    let Some(carbon) = Carbon::start("s2") else {
        return;
    };
    let started = now_secs();
    let dir = temp_dir("s2");
    let (sink1, sink2) = (Sink::listen(free_port()), Sink::listen(free_port()));
    let in_port = free_port();
    let prefix = format!("wbctest_s2_{}", std::process::id());
    let mut src = seed(
        "scenario2_roundrobin.wb",
        &[(10000, in_port), (20000, sink1.port), (20001, sink2.port)],
        &[],
    );
    src.push_str(&graphite_block(&prefix, carbon.port, "250ms"));
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start(&bin, in_port);

    send_hello(in_port, LINES);
    let delivered = wait_until(Duration::from_secs(30), || {
        sink1.lines() + sink2.lines() == LINES
    });
    assert!(
        delivered,
        "sinks got {} + {} of {LINES}",
        sink1.lines(),
        sink2.lines()
    );

    let half = (LINES / 2) as f64;
    for (metric, want) in [
        ("queue.input.outbox.in", LINES as f64),
        ("queue.rr.inbox.out", LINES as f64),
        ("queue.rr.one.in", half),
        ("queue.rr.two.in", half),
        ("queue.output_1.inbox.in", half),
        ("queue.output_1.inbox.out", half),
        ("queue.output_2.inbox.in", half),
        ("queue.output_2.inbox.out", half),
    ] {
        assert_series(&carbon, &format!("{prefix}.{metric}"), want, started);
    }
    assert_eq!((sink1.lines(), sink2.lines()), (LINES / 2, LINES / 2));
    stop(proxy);
}

/// Seed scenario III: output_2's backend goes down while output_2 holds
/// events (it stalls, then shuts down and refuses reconnects). What output_2
/// could not write comes back through its `failed` queue and the funnel, and
/// carbon shows it: `output_2.failed` counts the re-routed events, and the
/// counters add up to every line delivered exactly once.
#[test]
fn scenario3_failed_queue_counts_rerouted_events_in_carbon() {
    // Long lines, so output_2's share cannot all hide in socket buffers.
    const WIDTH: usize = 512;
    let Some(carbon) = Carbon::start("s3") else {
        return;
    };
    let started = now_secs();
    let dir = temp_dir("s3");
    let sink1 = Sink::listen(free_port());
    let sink2 = harness::StallSink::start();
    let in_port = free_port();
    let prefix = format!("wbctest_s3_{}", std::process::id());
    let src = seed(
        "scenario3_failover_metrics.wb",
        &[
            (10000, in_port),
            (20000, sink1.port),
            (20001, sink2.port),
            (2003, carbon.port),
        ],
        &[
            ("prefix: \"wishbone\"", &format!("prefix: \"{prefix}\"")),
            ("interval: 1s", "interval: 250ms"),
        ],
    );
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start(&bin, in_port);

    let sender = harness::send_lines_in_background(in_port, LINES, WIDTH);
    // output_2's backend reads nothing. Strict rotation gives output_2 as
    // many events as output_1: once output_1 has 3,000 (1.5 MB for output_2,
    // more than the socket buffers hold) output_2 is sure to hold events it
    // could not write; then wait for the flow to settle.
    let share = wait_until(Duration::from_secs(30), || sink1.lines() >= 3000);
    assert!(
        share,
        "output_1 got only {} lines:\n{}",
        sink1.lines(),
        proxy.log()
    );
    let before = harness::wait_stable(Duration::from_millis(700), Duration::from_secs(30), || {
        sink1.lines()
    });
    assert!(
        before < LINES,
        "output_2 took nothing before its backend left ({before} at output_1)"
    );
    sink2.leave();
    let delivered = wait_until(Duration::from_secs(60), || {
        sink1.lines() + sink2.lines() == LINES
    });
    assert!(
        delivered,
        "delivered {} + {} of {LINES}:\n{}",
        sink1.lines(),
        sink2.lines(),
        proxy.log()
    );
    sender.join().expect("sender thread");

    let p = |m: &str| format!("{prefix}.{m}");
    let (n1, n2) = (sink1.lines() as f64, sink2.lines() as f64);
    assert_series(&carbon, &p("queue.input.outbox.in"), LINES as f64, started);
    assert_series(&carbon, &p("queue.input.outbox.out"), LINES as f64, started);
    assert_series(&carbon, &p("queue.output_1.inbox.out"), n1, started);
    assert_series(&carbon, &p("module.output_2.connected"), 0.0, started);
    assert_series(&carbon, &p("queue.output_2.inbox.size"), 0.0, started);
    let latest = |m: &str| {
        let points = carbon.points(&p(m));
        points
            .last()
            .map(|pt| pt.value)
            .unwrap_or_else(|| panic!("no `{m}` in carbon: {:?}", carbon.metrics()))
    };
    // The re-routed events: everything output_2 took but did not write.
    let rerouted = latest("queue.output_2.failed.in");
    assert!(rerouted > 0.0, "no event came back through output_2.failed");
    assert_series(&carbon, &p("queue.output_2.failed.out"), rerouted, started);
    assert_series(
        &carbon,
        &p("queue.output_2.inbox.out"),
        n2 + rerouted,
        started,
    );
    // The roundrobin handed out every line once, plus each re-routed one again.
    let handed_out = latest("queue.output_1.inbox.in") + latest("queue.output_2.inbox.in");
    assert_eq!(
        handed_out,
        LINES as f64 + rerouted,
        "output_1.inbox.in + output_2.inbox.in"
    );
    eprintln!("scenario III: output_1 {n1}, output_2 {n2} before it left, {rerouted} re-routed through output_2.failed");
    stop(proxy);
}
