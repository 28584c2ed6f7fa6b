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
//! Issue 3's acceptance points, case by case:
//!
//! | point | case |
//! |---|---|
//! | 1 scenario I, sha256-identical | `scenario_1_hello_lines_arrive_byte_identical` |
//! | 2 roundrobin shares, order, multiset | `scenario_2_roundrobin_two_sinks_split_evenly`, `scenario_2_roundrobin_three_sinks_uneven_count` |
//! | 3a one sink never listening | `failover_a_sink_never_listening` |
//! | 3b sink half-closes mid-stream | `failover_b_sink_half_closes_mid_stream` |
//! | 3c both down, one up 2 s later | `failover_c_both_down_then_one_comes_up` |
//! | 4 backpressure, bounded RSS | `backpressure_slow_sink_bounded_rss` |
//! | 5 awkward input | `input_edge_cases_overlong_binary_crlf_empty_partial`, `input_ten_mib_without_newline_bounded_memory` |
//! | 6 graphite counters | `metrics_graphite_counts_scenario_1` |
//! | 7 SIGTERM mid-transfer | `shutdown_sigterm_mid_transfer_delivers_everything_read` |
//!
//! Beyond them: concurrent and idle clients, a burst of connections, the
//! `--coalesce` flag, retry without a `failed` queue, the residue of a reset
//! backend, start-up errors, SIGTERM with the backend down, the open-file
//! limit.
//!
//! `cargo test -p wbc-runtime --test scenarios -- failover` runs the
//! failover cases; `WBC_TEST_SHOW_LOG=1` echoes the proxies' logs. Cases
//! named `bench_*` print throughput figures and only run when named
//! (`cargo test --release -p wbc-runtime --test scenarios -- bench_`).

mod backpressure;
mod bench;
mod clients;
mod coalesce;
#[path = "../../../tests/support/common.rs"]
mod common;
mod descriptors;
mod failover;
mod forwarding;
mod graphs;
mod input;
mod peers;
mod process;
mod recovery;
mod setup;
mod shutdown;
mod start_errors;

use std::process::ExitCode;
use std::time::Instant;

type Case = (&'static str, fn());

/// `module::case` -> `("case", module::case)`.
macro_rules! cases {
    ($($module:ident :: $case:ident),* $(,)?) => {
        &[$((stringify!($case), $module::$case as fn())),*]
    };
}

const CASES: &[Case] = cases![
    forwarding::scenario_1_hello_lines_arrive_byte_identical,
    forwarding::scenario_2_roundrobin_two_sinks_split_evenly,
    forwarding::scenario_2_roundrobin_three_sinks_uneven_count,
    failover::failover_a_sink_never_listening,
    failover::failover_b_sink_half_closes_mid_stream,
    failover::failover_c_both_down_then_one_comes_up,
    backpressure::backpressure_slow_sink_bounded_rss,
    input::input_edge_cases_overlong_binary_crlf_empty_partial,
    input::input_ten_mib_without_newline_bounded_memory,
    clients::concurrent_clients_each_in_order,
    clients::idle_clients_cost_little,
    clients::connection_burst_waits_in_the_accept_queue,
    descriptors::descriptors_soft_limit_is_raised_to_the_hard_one,
    descriptors::descriptors_exhausted_warns_once_and_loses_nothing,
    coalesce::coalesce_holds_a_line_that_follows_another_but_not_one_after_a_quiet_spell,
    forwarding::metrics_graphite_counts_scenario_1,
    shutdown::shutdown_sigterm_mid_transfer_delivers_everything_read,
    shutdown::shutdown_with_backend_down_reports_undelivered,
    recovery::retry_without_failed_queue_backend_restarts,
    recovery::retry_without_failed_queue_host_by_name,
    recovery::residue_backend_reset_mid_stream,
    start_errors::start_error_port_in_use,
    start_errors::start_error_unresolvable_host,
    bench::bench_throughput_64_byte_lines,
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
        .filter(|(name, _)| match filters.is_empty() {
            // Benchmarks only run when asked for by name.
            true => !name.starts_with("bench_"),
            false => filters.iter().any(|f| name.contains(f.as_str())),
        })
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
