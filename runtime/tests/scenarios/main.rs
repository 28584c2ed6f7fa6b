//! Scenario tests of `wbc-runtime` (issue 3): hand-wired proxies, each in its
//! own process, against real sockets on 127.0.0.1.
//!
//! This binary has no libtest harness. Run as a test it runs every case in
//! [`CASES`] (or those whose name contains one of the arguments) one after
//! the other and exits non-zero if any failed; each case prints one line of
//! figures. Started with `WBC_TEST_GRAPH=<graph>` it is instead a proxy
//! process running that graph ([`graphs`]), which is how the cases get a
//! separate process to measure (RSS) and to signal (SIGTERM).
//!
//! `cargo test -p wbc-runtime --test scenarios -- failover` runs the
//! failover cases; `WBC_TEST_SHOW_LOG=1` echoes the proxies' logs.

mod backpressure;
mod failover;
mod forwarding;
mod graphs;
mod input;
mod peers;
mod process;
mod setup;
mod shutdown;

use std::process::ExitCode;
use std::time::Instant;

type Case = (&'static str, fn());

const CASES: &[Case] = &[
    (
        "scenario_1_hello_lines_arrive_byte_identical",
        forwarding::scenario_1_hello_lines_arrive_byte_identical,
    ),
    (
        "scenario_2_roundrobin_two_sinks_split_evenly",
        forwarding::scenario_2_roundrobin_two_sinks_split_evenly,
    ),
    (
        "scenario_2_roundrobin_three_sinks_uneven_count",
        forwarding::scenario_2_roundrobin_three_sinks_uneven_count,
    ),
    (
        "failover_a_sink_never_listening",
        failover::failover_a_sink_never_listening,
    ),
    (
        "failover_b_sink_half_closes_mid_stream",
        failover::failover_b_sink_half_closes_mid_stream,
    ),
    (
        "failover_c_both_down_then_one_comes_up",
        failover::failover_c_both_down_then_one_comes_up,
    ),
    (
        "backpressure_slow_sink_bounded_rss",
        backpressure::backpressure_slow_sink_bounded_rss,
    ),
    (
        "input_edge_cases_overlong_binary_crlf_empty_partial",
        input::input_edge_cases_overlong_binary_crlf_empty_partial,
    ),
    (
        "metrics_graphite_counts_scenario_1",
        forwarding::metrics_graphite_counts_scenario_1,
    ),
    (
        "shutdown_sigterm_mid_transfer_delivers_everything_read",
        shutdown::shutdown_sigterm_mid_transfer_delivers_everything_read,
    ),
];

fn main() -> ExitCode {
    if let Ok(graph) = std::env::var(process::GRAPH_VAR) {
        return graphs::run(&graph, std::env::args_os().skip(1).collect());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in CASES {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} scenario tests", selected.len());
    let mut failed = Vec::new();
    for (name, case) in &selected {
        let start = Instant::now();
        println!("test {name} ...");
        let ok = std::panic::catch_unwind(case).is_ok();
        println!(
            "test {name} ... {} ({:.1}s)",
            if ok { "ok" } else { "FAILED" },
            start.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len()
    );
    for name in &failed {
        println!("    failed: {name}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
