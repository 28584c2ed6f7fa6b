//! `metrics.prometheus` in a built proxy, scraped over HTTP; a proxy whose
//! carbon is down (observed through that endpoint); and the metrics kinds in
//! `wbc show` and `wbc check`.

use std::path::Path;
use std::time::Duration;

use super::e2e::sink::Sink;
use super::e2e::{self, free_port, temp_dir, wait_until, Proxy};
use super::harness::StallSink;
use super::{graphite_block, http, scenario1, send_hello, stop, textformat, LINES};

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
    let proxy = Proxy::start_listening(&bin, &[in_port, prom_port]);

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
    let proxy = Proxy::start_listening(&bin, &[in_port, prom_port]);

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
    // The two rounds can take less than one graphite interval: wait (bounded)
    // for graphite's next round instead of expecting it to have happened.
    let mut after = scrape(prom_port);
    let kept_emitting = wait_until(Duration::from_secs(10), || {
        after = scrape(prom_port);
        dropped(&after) > first_drop
    });
    assert!(
        kept_emitting,
        "graphite stopped emitting (dropped stayed at {first_drop})"
    );
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
    assert_eq!(
        after.value("wbc_module_connected", &[("module", "carbon")]),
        Some(0.0)
    );

    // Metric lines are best effort: whatever the carbon tcp.out still holds
    // does not delay the drain, so SIGTERM ends the proxy with exit 0.
    let (status, log) = proxy.terminate();
    eprintln!(
        "carbon down: graphite dropped {} lines; exit {status:?}",
        dropped(&after)
    );
    assert!(status.success(), "proxy did not exit 0 on SIGTERM:\n{log}");
    assert!(!log.contains("left undelivered"), "{log}");
}

/// carbon accepts the connection and never reads: graphite's lines pile up
/// in the socket buffers and in graphite's outbox. On SIGTERM the proxy
/// delivers every data event and exits 0 at once, counting the metric lines
/// it drops in one log line, instead of waiting out the drain timeout and
/// reporting metric lines as undelivered events (exit 1).
#[test]
fn carbon_stalled_sigterm_exits_0_with_every_event_delivered() {
    let dir = temp_dir("carbon-stalled");
    let sink = Sink::listen(free_port());
    let carbon = StallSink::start();
    let in_port = free_port();
    let prom_port = free_port();
    let mut src = scenario1(in_port, sink.port);
    // Long metric paths and a short interval fill carbon's socket buffers
    // within a second or two.
    let prefix = format!("wbcstall.{}", "x".repeat(200));
    src.push_str(&graphite_block(&prefix, carbon.port, "1ms"));
    src.push_str(&format!("prom = metrics.prometheus(port: {prom_port})\n"));
    let bin = e2e::build(&dir, &src);
    let proxy = Proxy::start_listening(&bin, &[in_port, prom_port]);

    // Stalled, not down: once carbon is connected, graphite drops a round
    // only when its outbox is full (before that, rounds also drop because
    // the outbox is locked while the tcp.out connects).
    let dropped = |e: &textformat::Exposition| {
        queue_value(e, "wbc_queue_dropped_total", "graphite", "outbox", None)
    };
    let connected =
        |e: &textformat::Exposition| e.value("wbc_module_connected", &[("module", "carbon")]);
    let mut before = 0.0;
    let up = wait_until(Duration::from_secs(30), || {
        let e = scrape(prom_port);
        before = dropped(&e);
        connected(&e) == Some(1.0)
    });
    assert!(up, "carbon never connected:\n{}", proxy.log());
    let stalled = wait_until(Duration::from_secs(30), || {
        let e = scrape(prom_port);
        connected(&e) == Some(1.0) && dropped(&e) > before
    });
    assert!(
        stalled,
        "carbon's connection never stalled:\n{}",
        proxy.log()
    );

    send_hello(in_port, LINES);
    let arrived = wait_until(Duration::from_secs(30), || sink.lines() == LINES);
    assert!(
        arrived,
        "sink got {} of {LINES}:\n{}",
        sink.lines(),
        proxy.log()
    );

    let asked = std::time::Instant::now();
    let (status, log) = proxy.terminate();
    let took = asked.elapsed();
    let dropped_line = log
        .lines()
        .find(|l| l.contains("metric lines dropped at exit"))
        .unwrap_or("(none)");
    eprintln!("carbon stalled: SIGTERM to exit {took:?}, {status:?}; {dropped_line}");
    assert!(status.success(), "proxy did not exit 0 on SIGTERM:\n{log}");
    assert!(!log.contains("left undelivered"), "{log}");
    assert!(
        log.contains("metric lines dropped at exit"),
        "the metric lines carbon never read are not reported:\n{log}"
    );
    assert_eq!(sink.lines(), LINES, "data events lost:\n{log}");
    drop(carbon);
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
        text.contains("error[E0008]") && text.contains("takes no routes"),
        "{text}"
    );
    assert!(
        !text.contains("start a route with"),
        "a service cannot start a route either: {text}"
    );
}
