//! `metrics.prometheus` on a hand-wired proxy: a real HTTP client (a std
//! `TcpStream` speaking HTTP/1.1) scrapes it on 127.0.0.1 and the body is
//! checked against the Prometheus text-format rules by `textformat`, whose
//! own rejections are tested at the bottom of this file.

mod core_support;
#[path = "prometheus/http.rs"]
mod http;
#[path = "prometheus/textformat.rs"]
mod textformat;

use std::sync::atomic::Ordering;
use std::time::Duration;

use core_support::{
    collect, emit_in_batches, eventually, lines, run_in_background, stop_and_report, taken, LIMIT,
};
use wbc_runtime::modules::{Prometheus, PrometheusConfig};
use wbc_runtime::{Proxy, ProxyOptions, SourceKind};

const EVENTS: usize = 10_000;

/// Scrapes from a blocking thread so the proxy's runtime keeps running.
async fn scrape(port: u16, path: &'static str) -> http::Response {
    tokio::task::spawn_blocking(move || http::get(port, path))
        .await
        .expect("scrape thread")
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn parse(body: &str) -> textformat::Exposition {
    textformat::parse(body).unwrap_or_else(|e| panic!("not valid text format: {e}\n{body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_every_counter_in_the_text_format() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
    let ctx = proxy.context().clone();
    // Stands in for tcp.out's per-module values.
    ctx.metrics()
        .module_metric("output", "connected")
        .store(1, Ordering::Relaxed);
    ctx.metrics()
        .module_metric("output", "reconnects")
        .store(3, Ordering::Relaxed);
    // Keeps the proxy running (like a tcp.in) until the test stops it.
    let listener = ctx.register_source(SourceKind::Listener);

    let prom = Prometheus::new(PrometheusConfig {
        name: "prom",
        port: 0,
        host: "127.0.0.1",
    })
    .expect("bind 127.0.0.1:0");
    let port = prom.local_addr().expect("bound address").port();
    proxy.spawn(prom);
    let (seen, _sink) = collect(rx);
    let (stop_tx, running) = run_in_background(proxy);

    let before = parse(&scrape(port, "/metrics").await.body);
    let v = before.value(
        "wbc_queue_events_total",
        &[
            ("module", "input"),
            ("queue", "outbox"),
            ("direction", "in"),
        ],
    );
    assert_eq!(v, Some(0.0));

    emit_in_batches(&tx, &lines("e", EVENTS), 500).await;
    assert!(
        eventually(LIMIT, || taken(&seen).len() == EVENTS).await,
        "sink got {}",
        taken(&seen).len()
    );

    let response = scrape(port, "/metrics").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &response.body;
    // The exact sample line the issue asks for.
    assert!(
        body.lines().any(|l| l
            == r#"wbc_queue_events_total{module="input",queue="outbox",direction="in"} 10000"#),
        "{body}"
    );
    let after = parse(body);
    for family in &after.families {
        assert!(family.help.is_some(), "`{}` has no # HELP", family.name);
    }
    let kind = |name: &str| after.family(name).and_then(|f| f.kind.clone());
    assert_eq!(kind("wbc_queue_events_total").as_deref(), Some("counter"));
    assert_eq!(kind("wbc_queue_dropped_total").as_deref(), Some("counter"));
    assert_eq!(kind("wbc_queue_size").as_deref(), Some("gauge"));
    assert_eq!(kind("wbc_module_connected").as_deref(), Some("gauge"));
    assert_eq!(
        kind("wbc_module_reconnects_total").as_deref(),
        Some("counter")
    );
    for (module, queue) in [("input", "outbox"), ("output", "inbox")] {
        for direction in ["in", "out"] {
            let labels = [
                ("module", module),
                ("queue", queue),
                ("direction", direction),
            ];
            assert_eq!(
                after.value("wbc_queue_events_total", &labels),
                Some(EVENTS as f64),
                "{labels:?}"
            );
        }
        let labels = [("module", module), ("queue", queue)];
        assert_eq!(after.value("wbc_queue_dropped_total", &labels), Some(0.0));
        assert_eq!(after.value("wbc_queue_size", &labels), Some(0.0));
    }
    assert_eq!(
        after.value("wbc_module_connected", &[("module", "output")]),
        Some(1.0)
    );
    assert_eq!(
        after.value("wbc_module_reconnects_total", &[("module", "output")]),
        Some(3.0)
    );

    let missing = scrape(port, "/other").await;
    assert_eq!(missing.status, 404);
    let post = tokio::task::spawn_blocking(move || http::request(port, "POST", "/metrics"))
        .await
        .expect("post thread")
        .expect("POST answered");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    drop(listener);
    let report = stop_and_report(stop_tx, running).await;
    assert!(report.drained);
    // Finished proxies stop serving.
    let closed = eventually(Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    })
    .await;
    assert!(
        closed,
        "the endpoint still accepts connections after the proxy finished"
    );
}

/// Names reach the exposition as label values, escaped by the encoder and
/// read back intact, whatever a hand-written wiring calls its modules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_are_escaped_label_values() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (_tx, _rx) = proxy.queue("in \"put\"", "out\\box", "sink\nv2", "in.box");
    let prom = Prometheus::new(PrometheusConfig {
        name: "prom",
        port: 0,
        host: "127.0.0.1",
    })
    .expect("bind 127.0.0.1:0");
    let port = prom.local_addr().expect("bound address").port();
    proxy.spawn(prom);
    let listener = proxy.context().register_source(SourceKind::Listener);
    let (stop_tx, running) = run_in_background(proxy);

    let body = scrape(port, "/metrics").await.body;
    let e = parse(&body);
    let from = [
        ("module", "in \"put\""),
        ("queue", "out\\box"),
        ("direction", "in"),
    ];
    assert_eq!(
        e.value("wbc_queue_events_total", &from),
        Some(0.0),
        "{body}"
    );
    let to = [("module", "sink\nv2"), ("queue", "in.box")];
    assert_eq!(e.value("wbc_queue_size", &to), Some(0.0), "{body}");

    drop(listener);
    let _ = stop_tx.send(());
    tokio::time::timeout(LIMIT, running)
        .await
        .expect("proxy stops")
        .expect("proxy task");
}

#[tokio::test]
async fn a_port_in_use_is_a_start_error_naming_module_and_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let err = match Prometheus::new(PrometheusConfig {
        name: "prom",
        port,
        host: "127.0.0.1",
    }) {
        Ok(_) => panic!("binding a port in use succeeded"),
        Err(e) => e,
    };
    assert_eq!(err.to_string(), format!("module `prom` (metrics.prometheus) cannot listen on 127.0.0.1:{port}: address already in use"));
}

#[tokio::test]
async fn an_unresolvable_host_is_a_start_error() {
    let result = Prometheus::new(PrometheusConfig {
        name: "prom",
        port: 9100,
        host: "no such host.invalid",
    });
    let err = result.err().expect("an unresolvable host must not bind");
    assert!(
        err.to_string().starts_with(
            "module `prom` (metrics.prometheus) cannot resolve no such host.invalid:9100"
        ),
        "{err}"
    );
}

// The validator must reject what a Prometheus server rejects, or the checks
// above prove nothing.

const GOOD: &str = "# HELP http_requests_total The total number of HTTP requests.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
# A comment\n\
msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
metric_without_timestamp_and_labels 12.47\n\
something_weird{problem=\"division by zero\"} +Inf -3982045\n\
# TYPE rpc_duration_seconds summary\n\
rpc_duration_seconds{quantile=\"0.5\"} 4773\n\
rpc_duration_seconds_sum 1.7560473e+07\n\
rpc_duration_seconds_count 2693\n";

#[test]
fn validator_accepts_the_reference_example() {
    let e = textformat::parse(GOOD).expect("the format's own example parses");
    assert_eq!(
        e.value(
            "msdos_file_access_time_seconds",
            &[("error", "Cannot find file:\n\"FILE.TXT\"")]
        ),
        Some(1.458255915e9)
    );
    assert_eq!(e.value("rpc_duration_seconds_count", &[]), Some(2693.0));
}

#[test]
fn validator_rejects_what_prometheus_rejects() {
    let bad = [
        ("1abc 1\n", "bad metric name"),
        ("a-b 1\n", "bad metric name"),
        ("a{1x=\"v\"} 1\n", "bad label name"),
        ("a{__x=\"v\"} 1\n", "bad label name"),
        ("a{x=v} 1\n", "double-quoted"),
        ("a{x=\"v\\t\"} 1\n", "bad escape"),
        ("a{x=\"v\",x=\"w\"} 1\n", "given twice"),
        ("a one\n", "not a number"),
        ("a 1 1.5\n", "bad timestamp"),
        ("a 1", "does not end with a newline"),
        (
            "# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
            "second # TYPE",
        ),
        ("a 1\n# TYPE a gauge\n", "after samples"),
        (
            "# TYPE requests counter\nrequests 1\n",
            "does not end in `_total`",
        ),
        ("# TYPE a gauge\na 1\nb 1\na{x=\"1\"} 2\n", "not contiguous"),
        ("a{x=\"1\"} 1\na{x=\"1\"} 2\n", "same label set"),
        ("# TYPE a histogramm\n", "unknown type"),
    ];
    for (body, why) in bad {
        match textformat::parse(body) {
            Ok(_) => panic!("accepted {body:?} (should fail: {why})"),
            Err(e) => assert!(
                e.contains(why),
                "{body:?}: error `{e}` should mention `{why}`"
            ),
        }
    }
}
