//! End-to-end metrics: proxies built with `wbc build` from the seed's
//! routing files report their queue counters to a real carbon-cache
//! (Debian's graphite-carbon, started per test by `.ci/carbon/start.sh`), and
//! the counters are read back from carbon's whisper files; `metrics.prometheus`
//! is scraped over HTTP and its body checked against the text-format rules.
//!
//! The carbon tests skip, loudly, only when carbon is not installed and `CI`
//! is unset; under `CI=true` a missing carbon fails them (`.ci/run`
//! installs it).

#[path = "metrics/carbon.rs"]
mod carbon;
mod e2e;
#[path = "metrics/harness.rs"]
mod harness;
#[path = "../runtime/tests/prometheus/http.rs"]
mod http;
#[path = "../runtime/tests/prometheus/textformat.rs"]
mod textformat;
#[path = "metrics/whisper.rs"]
mod whisper;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use carbon::Carbon;
use e2e::sink::Sink;
use e2e::{free_port, temp_dir, wait_until, Proxy};

const LINES: usize = 10_000;

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// A seed example with its ports replaced (`(old, new)`, see
/// `e2e::example_with_ports`) and then each text `from` (which must occur
/// exactly once) replaced by `to`.
fn seed(example: &str, ports: &[(u16, u16)], replace: &[(&str, &str)]) -> String {
    let mut src = e2e::example_with_ports(example, ports);
    for (from, to) in replace {
        assert_eq!(
            src.matches(from).count(),
            1,
            "`{from}` should occur once in {example}"
        );
        src = src.replace(from, to);
    }
    src
}

/// Seed scenario I listening on `in_port` and forwarding to `sink_port`.
fn scenario1(in_port: u16, sink_port: u16) -> String {
    seed(
        "scenario1_one_to_one.wb",
        &[(10000, in_port), (20000, sink_port)],
        &[],
    )
}

fn send_hello(port: u16, count: usize) {
    e2e::send(port, &e2e::hello_lines(count));
}

/// Graphite module and the tcp.out to carbon, appended to a seed file that has none.
fn graphite_block(prefix: &str, carbon_port: u16, interval: &str) -> String {
    format!(
        "\ngraphite = metrics.graphite(interval: {interval}, prefix: \"{prefix}\")\n\
         carbon   = tcp.out(host: \"127.0.0.1\", port: {carbon_port})\n\
         graphite -> carbon\n"
    )
}

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

fn stop(proxy: Proxy) {
    let (status, log) = proxy.terminate();
    assert!(
        status.success(),
        "proxy did not exit 0 on SIGTERM ({status}):\n{log}"
    );
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

fn scrape(port: u16) -> textformat::Exposition {
    let response = http::get(port, "/metrics").unwrap_or_else(|e| panic!("scrape failed: {e}"));
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let parsed = textformat::parse(&response.body).unwrap_or_else(|e| {
        panic!(
            "body is not valid Prometheus text format: {e}\n{}",
            response.body
        )
    });
    for family in &parsed.families {
        assert!(
            family.help.is_some() && family.kind.is_some(),
            "`{}` lacks # HELP or # TYPE",
            family.name
        );
    }
    parsed
}

fn queue_value(
    e: &textformat::Exposition,
    name: &str,
    module: &str,
    queue: &str,
    direction: Option<&str>,
) -> f64 {
    let mut labels = vec![("module", module), ("queue", queue)];
    if let Some(d) = direction {
        labels.push(("direction", d));
    }
    e.value(name, &labels)
        .unwrap_or_else(|| panic!("no `{name}` for {labels:?}"))
}

#[test]
fn prometheus_endpoint_serves_scenario1_counters() {
    let dir = temp_dir("prom");
    let sink = Sink::listen(free_port());
    let in_port = free_port();
    let prom_port = free_port();
    let mut src = scenario1(in_port, sink.port);
    src.push_str(&format!(
        "prom = metrics.prometheus(host: \"127.0.0.1\", port: {prom_port})\n"
    ));
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start(&bin, in_port);

    let before = scrape(prom_port);
    assert_eq!(
        queue_value(
            &before,
            "wbc_queue_events_total",
            "input",
            "outbox",
            Some("in")
        ),
        0.0
    );

    send_hello(in_port, LINES);
    assert!(
        wait_until(Duration::from_secs(30), || sink.lines() == LINES),
        "sink got {} of {LINES}",
        sink.lines()
    );
    // The sink has the lines, so tcp.out has taken them out of its inbox.
    let after = scrape(prom_port);
    for (module, queue) in [("input", "outbox"), ("output", "inbox")] {
        for direction in ["in", "out"] {
            let v = queue_value(
                &after,
                "wbc_queue_events_total",
                module,
                queue,
                Some(direction),
            );
            assert_eq!(v, LINES as f64, "{module}.{queue} {direction}");
        }
        assert_eq!(
            queue_value(&after, "wbc_queue_dropped_total", module, queue, None),
            0.0
        );
        assert_eq!(
            queue_value(&after, "wbc_queue_size", module, queue, None),
            0.0
        );
    }
    assert_eq!(
        after.value("wbc_module_connected", &[("module", "output")]),
        Some(1.0)
    );
    assert!(after
        .value("wbc_module_reconnects_total", &[("module", "output")])
        .is_some());
    assert_eq!(
        after
            .family("wbc_queue_size")
            .and_then(|f| f.kind.as_deref()),
        Some("gauge")
    );
    assert_eq!(
        after
            .family("wbc_queue_events_total")
            .and_then(|f| f.kind.as_deref()),
        Some("counter")
    );

    let missing = http::get(prom_port, "/nope").expect("request /nope");
    assert_eq!(missing.status, 404);
    stop(proxy);
}

/// carbon is down for the whole run: graphite's lines cannot leave, yet the
/// events flow, graphite drops (and counts) what does not fit instead of
/// blocking, and the proxy keeps serving and still stops on SIGTERM.
#[test]
fn carbon_down_never_blocks_the_event_path() {
    let dir = temp_dir("carbon-down");
    let sink = Sink::listen(free_port());
    let in_port = free_port();
    let prom_port = free_port();
    let carbon_port = free_port();
    let mut src = scenario1(in_port, sink.port);
    // A short interval fills graphite's outbox quickly.
    src.push_str(&graphite_block("wbctest_down", carbon_port, "10ms"));
    src.push_str(&format!("prom = metrics.prometheus(port: {prom_port})\n"));
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start(&bin, in_port);

    let dropped = |e: &textformat::Exposition| {
        queue_value(e, "wbc_queue_dropped_total", "graphite", "outbox", None)
    };
    let mut first_drop = 0.0;
    let filled = wait_until(Duration::from_secs(30), || {
        first_drop = dropped(&scrape(prom_port));
        first_drop > 0.0
    });
    assert!(
        filled,
        "graphite never dropped a line with carbon down:\n{}",
        proxy.log()
    );

    for round in 1..=2usize {
        send_hello(in_port, LINES);
        let arrived = wait_until(Duration::from_secs(30), || sink.lines() == round * LINES);
        assert!(
            arrived,
            "round {round}: sink got {} of {}:\n{}",
            sink.lines(),
            round * LINES,
            proxy.log()
        );
    }
    let after = scrape(prom_port);
    assert_eq!(
        queue_value(
            &after,
            "wbc_queue_events_total",
            "output",
            "inbox",
            Some("out")
        ),
        (2 * LINES) as f64
    );
    assert!(
        dropped(&after) > first_drop,
        "graphite stopped emitting (dropped stayed at {first_drop})"
    );
    assert_eq!(
        after.value("wbc_module_connected", &[("module", "carbon")]),
        Some(0.0)
    );

    // Stops on SIGTERM (bounded by `terminate`). A round that reached the
    // carbon tcp.out before it first failed to connect stays in flight, so
    // the exit may come at the drain timeout: printed, not asserted.
    let (status, _log) = proxy.terminate();
    eprintln!(
        "carbon down: graphite dropped {} lines; exit {status:?}",
        dropped(&after)
    );
}

fn wbc(args: &[&str], dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wbc"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run wbc")
}

#[test]
fn wbc_show_documents_both_metrics_kinds() {
    let dir = temp_dir("show");
    let prom = wbc(&["show", "metrics.prometheus"], &dir);
    assert!(prom.status.success());
    let text = String::from_utf8_lossy(&prom.stdout);
    for needle in [
        "port  port (1-65535)  required",
        "host  string          default \"127.0.0.1\"",
        "wbc_queue_events_total",
        "wbc_queue_dropped_total",
        "wbc_queue_size",
        "wbc_module_connected",
        "wbc_module_reconnects_total",
        "text exposition format",
    ] {
        assert!(
            text.contains(needle),
            "`wbc show metrics.prometheus` lacks `{needle}`:\n{text}"
        );
    }
    let graphite = wbc(&["show", "metrics.graphite"], &dir);
    // The paragraph is wrapped to the terminal: compare with single spaces.
    let text = String::from_utf8_lossy(&graphite.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(graphite.status.success());
    assert!(
        text.contains("PREFIX.queue.MODULE.QUEUE.COUNTER VALUE UNIX_SECONDS"),
        "{text}"
    );
}

/// metrics.prometheus has no queues: declared alone it is neither unused nor
/// a dead end, and a route cannot use it.
#[test]
fn wbc_check_takes_prometheus_as_a_service_outside_routes() {
    let dir = temp_dir("check");
    std::fs::write(
        dir.join("ok.wb"),
        "input = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\nprom = metrics.prometheus(port: 9100)\ninput -> output\n",
    )
    .expect("write");
    let ok = wbc(&["check", "ok.wb"], &dir);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stderr),
        "",
        "no warning for a service"
    );

    std::fs::write(
        dir.join("bad.wb"),
        "input = tcp.in(port: 10000)\nprom = metrics.prometheus(port: 9100)\ninput -> prom\n",
    )
    .expect("write");
    let bad = wbc(&["check", "bad.wb"], &dir);
    assert!(!bad.status.success());
    let text = String::from_utf8_lossy(&bad.stderr);
    assert!(
        text.contains("error[E0008]") && text.contains("no `inbox`"),
        "{text}"
    );
}
