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
#[path = "metrics/carbon_e2e.rs"]
mod carbon_e2e;
mod e2e;
#[path = "metrics/harness.rs"]
mod harness;
#[path = "../runtime/tests/prometheus/http.rs"]
mod http;
#[path = "metrics/prometheus_e2e.rs"]
mod prometheus_e2e;
#[path = "../runtime/tests/prometheus/textformat.rs"]
mod textformat;
#[path = "metrics/whisper.rs"]
mod whisper;

use std::time::{SystemTime, UNIX_EPOCH};

use e2e::Proxy;

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

fn stop(proxy: Proxy) {
    let (status, log) = proxy.terminate();
    assert!(
        status.success(),
        "proxy did not exit 0 on SIGTERM ({status}):\n{log}"
    );
}
