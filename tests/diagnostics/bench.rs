//! The checker's speed on a large file (ignored: run it in release mode).

use wbc::check::check_source;

use super::summary;

/// A clean routing file with `groups * 5` modules and `groups * 10` routes:
/// per group a listener, a funnel, a roundrobin with seven outputs into a
/// second funnel, and an output.
fn large_file(groups: usize) -> String {
    let mut src = String::new();
    for i in 0..groups {
        src.push_str(&format!(
            "in_{i} = tcp.in(port: {})\nf_{i} = funnel\nrr_{i} = roundrobin\ng_{i} = funnel\n\
             out_{i} = tcp.out(host: \"10.0.0.2\", port: 9000)\n",
            1024 + i
        ));
    }
    for i in 0..groups {
        src.push_str(&format!("in_{i} -> f_{i}\nf_{i} -> rr_{i}\n"));
        for k in 0..7 {
            src.push_str(&format!("rr_{i}.q{k} -> g_{i}\n"));
        }
        src.push_str(&format!("g_{i} -> out_{i}\n"));
    }
    src
}

/// `cargo test --release -p wbc --test diagnostics -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: prints how long checking a 10,000-module file takes"]
fn bench_check_10k_modules_20k_routes() {
    let src = large_file(2000);
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let checked = check_source(&src);
        best = best.min(start.elapsed());
        assert!(checked.diagnostics.is_empty(), "[{}]", summary(&checked));
        let graph = checked.graph.expect("clean");
        assert_eq!(
            (graph.modules.len(), graph.connections.len()),
            (10_000, 20_000)
        );
    }
    println!(
        "check_source: 10,000 modules, 20,000 routes, {} bytes: best of 5 {:?}",
        src.len(),
        best
    );
    let start = std::time::Instant::now();
    let (file, _) = wbc::parse::parse(&src);
    let parsed = start.elapsed();
    let (core, _) = wbc::desugar::desugar(&file);
    let desugared = start.elapsed();
    let _ = wbc::check::check(&core);
    let checked = start.elapsed();
    println!(
        "  of which parse {parsed:?}, desugar {:?}, check {:?}",
        desugared - parsed,
        checked - desugared
    );
}
