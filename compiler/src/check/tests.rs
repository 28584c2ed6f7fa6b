//! Checking hand-built syntax trees; the end-to-end snapshots over source
//! files live in tests/diagnostics.rs.

use super::*;
use crate::ast::{FlowOp, LiteralKind};
use crate::desugar::desugar;
use crate::desugar::tests::{decl, file, flow, q, qq, route};
use crate::diagnostic::Code;
use crate::graph::Value;

/// The codes reported, sorted (the hand-built spans are not realistic).
fn codes(items: Vec<crate::ast::Item>) -> Vec<Code> {
    let (core, _) = desugar(&file(items));
    let mut codes: Vec<Code> = check(&core).1.iter().map(|d| d.code).collect();
    codes.sort();
    codes
}

fn port(n: i64) -> Vec<(&'static str, LiteralKind)> {
    vec![("port", LiteralKind::Int(n))]
}

#[test]
fn a_clean_file_gives_a_graph_with_defaults_in_catalog_order() {
    let (core, _) = desugar(&file(vec![
        decl("input", "tcp.in", port(10000), 0),
        decl("output", "tcp.out", port(20000), 50),
        route(vec![q("input", 100), q("output", 110)]),
    ]));
    let (graph, diags) = check(&core);
    assert!(diags.is_empty(), "{diags:?}");
    let graph = graph.expect("graph");
    let out = graph.find("output").expect("output");
    let names: Vec<_> = graph.module(out).args.iter().map(|a| a.spec.name).collect();
    assert_eq!(names, ["port", "host", "failed", "reconnect", "linger"]);
    assert_eq!(
        graph.arg(out, "host"),
        Some(&Value::Str("127.0.0.1".into()))
    );
    assert_eq!(graph.connections.len(), 1);
}

/// A misspelled required argument (`prot`) is one E0004, not also an
/// E0005; the E0005 here is `d`'s missing `path`.
#[test]
fn declaration_errors_are_all_reported() {
    let got = codes(vec![
        decl("a", "tcp.inn", vec![], 0),
        decl("a", "stdin", vec![], 20),
        decl("b", "tcp.out", vec![("prot", LiteralKind::Int(1))], 40),
        decl(
            "c",
            "tcp.out",
            vec![("port", LiteralKind::Int(0)), ("port", LiteralKind::Int(1))],
            60,
        ),
        decl("d", "file.out", vec![], 80),
        route(vec![q("a", 100), q("b", 110)]),
        route(vec![q("a", 120), q("c", 130)]),
        route(vec![q("a", 140), q("d", 150)]),
    ]);
    assert_eq!(
        got,
        [
            Code::E0002,
            Code::E0003,
            Code::E0004,
            Code::E0005,
            Code::E0006,
            Code::E0014
        ]
    );
}

#[test]
fn route_errors_name_the_queue() {
    let got = codes(vec![
        decl("i", "tcp.in", port(1), 0),
        decl("o", "tcp.out", port(2), 20),
        decl("p", "tcp.out", port(3), 40),
        decl("s", "stdout", vec![], 60),
        route(vec![qq("i", "inbox", 100), q("o", 110)]),
        route(vec![q("i", 120), qq("s", "outbox", 130)]),
        route(vec![qq("o", "inbox", 140), q("x", 150)]),
        route(vec![qq("o", "failed", 170), q("p", 180)]),
        route(vec![qq("o", "failed", 190), qq("p", "failed", 200)]),
    ]);
    assert_eq!(
        got,
        [
            Code::E0007,
            Code::E0008,
            Code::E0008,
            Code::E0009,
            Code::E0009,
            Code::E0010
        ]
    );
}

#[test]
fn failover_loop_is_fine_but_a_plain_cycle_is_not() {
    let ok = codes(vec![
        decl("i", "tcp.in", port(1), 0),
        decl("a", "tcp.out", port(2), 20),
        decl("b", "tcp.out", port(3), 40),
        route(vec![
            q("i", 100),
            flow(
                FlowOp::RoundRobin,
                110,
                vec![q("a", 121), q("b", 125)],
                Some(crate::ast::Fallback::Funnel(crate::span::Span::new(
                    140, 155,
                ))),
            ),
        ]),
    ]);
    assert_eq!(ok, []);
    let looped = codes(vec![
        decl("i", "tcp.in", port(1), 0),
        decl("f", "funnel", vec![], 20),
        decl("r", "roundrobin", vec![], 40),
        decl("o", "stdout", vec![], 60),
        route(vec![q("i", 100), q("f", 110), q("r", 120)]),
        route(vec![q("r", 130), q("f", 140)]),
        route(vec![q("r", 150), q("o", 160)]),
    ]);
    assert_eq!(looped, [Code::E0013]);
}

#[test]
fn dead_ends_unused_modules_and_addresses() {
    let got = codes(vec![
        decl("i", "tcp.in", port(1), 0),
        decl("j", "tcp.in", port(1), 20),
        decl("o", "tcp.out", port(1), 40),
        decl("s", "stdout", vec![], 60),
        route(vec![q("i", 100), q("o", 110)]),
    ]);
    assert_eq!(got, [Code::E0011, Code::E0012, Code::W0001, Code::W0002]);
}
