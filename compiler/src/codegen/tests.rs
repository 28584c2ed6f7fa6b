//! Unit tests on hand-built graphs (the checker is not needed to test the
//! shape of the output, and a hand-built graph can hold names the language
//! would reject, which is the harder case for injection).

use std::time::Duration;

use crate::catalog::{kind, KindSpec};
use crate::graph::{ArgValue, Connection, Endpoint, Graph, Module, Value};
use crate::span::Span;

use super::*;

fn module(name: &str, kind_name: &str, values: Vec<Value>) -> Module {
    let kind: &'static KindSpec = kind(kind_name).expect("kind in catalog");
    assert_eq!(
        kind.args.len(),
        values.len(),
        "give every argument of {kind_name}"
    );
    let args = kind
        .args
        .iter()
        .zip(values)
        .map(|(spec, value)| ArgValue {
            spec,
            value,
            explicit: true,
        })
        .collect();
    Module {
        name: name.into(),
        kind,
        args,
        span: Span::default(),
        generated: false,
    }
}

fn tcp_in(name: &str, port: u64) -> Module {
    module(
        name,
        "tcp.in",
        vec![
            Value::Int(port),
            Value::Str("127.0.0.1".into()),
            Value::ByteSize(1 << 20),
        ],
    )
}

fn tcp_out(name: &str, port: u64, host: &str) -> Module {
    module(
        name,
        "tcp.out",
        vec![
            Value::Int(port),
            Value::Str(host.into()),
            Value::Bool(false),
            Value::Duration(Duration::from_secs(1)),
            Value::Duration(Duration::ZERO),
        ],
    )
}

fn connect(graph: &mut Graph, from: (&str, &str), to: (&str, &str)) {
    let id = |name: &str| graph.find(name).expect("module declared");
    let from = Endpoint {
        module: id(from.0),
        queue: from.1.into(),
    };
    let to = Endpoint {
        module: id(to.0),
        queue: to.1.into(),
    };
    graph.connections.push(Connection {
        from,
        to,
        span: Span::default(),
    });
}

fn source() -> SourceInfo {
    SourceInfo::new("test.wb", b"input -> output\n")
}

/// Scenario III by hand: roundrobin with failover through a funnel.
fn failover_graph() -> Graph {
    let mut g = Graph::default();
    g.modules.push(tcp_in("input", 10000));
    g.modules.push(tcp_out("output_1", 20000, "127.0.0.1"));
    g.modules.push(tcp_out("output_2", 20001, "127.0.0.1"));
    g.modules.push(module("roundrobin_1", "roundrobin", vec![]));
    g.modules.push(module("funnel_1", "funnel", vec![]));
    connect(&mut g, ("input", "outbox"), ("funnel_1", "in_1"));
    connect(&mut g, ("funnel_1", "outbox"), ("roundrobin_1", "inbox"));
    connect(&mut g, ("roundrobin_1", "out_1"), ("output_1", "inbox"));
    connect(&mut g, ("roundrobin_1", "out_2"), ("output_2", "inbox"));
    connect(&mut g, ("output_1", "failed"), ("funnel_1", "in_2"));
    connect(&mut g, ("output_2", "failed"), ("funnel_1", "in_3"));
    g
}

#[test]
fn failover_graph_has_const_arities_and_optional_failed_queues() {
    let code = generate(&failover_graph(), &source()).unwrap();
    assert!(
        code.contains("let m3: Result<RoundRobin<2>, _> = RoundRobin::new("),
        "{code}"
    );
    assert!(
        code.contains("let m4: Result<Funnel<3>, _> = Funnel::new("),
        "{code}"
    );
    assert!(code.contains("[q2_tx.take(), q3_tx.take()]"), "{code}");
    assert!(
        code.contains("[q0_rx.take(), q4_rx.take(), q5_rx.take()]"),
        "{code}"
    );
    assert!(code.contains("Some(q4_tx.take())"), "{code}");
    assert!(
        code.contains("reconnect: Duration::from_millis(1000)"),
        "{code}"
    );
    assert!(!code.contains("dyn"), "{code}");
}

#[test]
fn unconnected_failed_queue_is_none() {
    let mut g = Graph::default();
    g.modules.push(tcp_in("input", 10000));
    g.modules.push(tcp_out("output", 20000, "127.0.0.1"));
    connect(&mut g, ("input", "outbox"), ("output", "inbox"));
    let code = generate(&g, &source()).unwrap();
    assert!(
        code.contains("q0_rx.take(),\n") && code.contains("None,"),
        "{code}"
    );
    assert!(code.contains("max_line: 1048576"), "{code}");
    assert!(
        code.contains(&format!("sha256: \"{}\"", sha256_hex(b"input -> output\n"))),
        "{code}"
    );
}

#[test]
fn module_without_connections_is_not_spawned() {
    let mut g = Graph::default();
    g.modules.push(module("src", "stdin", vec![]));
    g.modules.push(module("sink", "stdout", vec![]));
    g.modules.push(module("spare", "null", vec![]));
    connect(&mut g, ("src", "outbox"), ("sink", "inbox"));
    let code = generate(&g, &source()).unwrap();
    assert!(!code.contains("spare") && !code.contains("Null"), "{code}");
    assert!(
        !code.contains("Duration"),
        "no duration argument, no import: {code}"
    );
}

#[test]
fn missing_required_queue_is_an_error_not_a_panic() {
    let mut g = Graph::default();
    g.modules.push(module("f", "funnel", vec![]));
    g.modules.push(module("sink", "stdout", vec![]));
    connect(&mut g, ("f", "outbox"), ("sink", "inbox"));
    // The funnel has no inputs (fine: arity 0); stdout gets f's outbox.
    assert!(generate(&g, &source())
        .unwrap()
        .contains("let m0: Result<Funnel<0>, _> = Funnel::new("));
    g.modules.push(tcp_out("lonely", 1, "h"));
    connect(&mut g, ("lonely", "failed"), ("f", "in"));
    let err = generate(&g, &source()).unwrap_err();
    assert_eq!(
        err,
        CodegenError::Unconnected {
            module: "lonely".into(),
            queue: "inbox".into()
        }
    );
}

#[test]
fn queue_the_kind_lacks_and_doubled_fixed_queue_are_errors() {
    let mut g = Graph::default();
    g.modules.push(tcp_in("a", 1));
    g.modules.push(module("s", "stdout", vec![]));
    g.modules.push(module("n", "null", vec![]));
    connect(&mut g, ("a", "outbox"), ("s", "inbox"));
    connect(&mut g, ("a", "outbox"), ("n", "inbox"));
    let err = generate(&g, &source()).unwrap_err();
    assert_eq!(
        err,
        CodegenError::ConnectedTwice {
            module: "a".into(),
            queue: "outbox".into()
        }
    );
    g.connections.pop();
    connect(&mut g, ("s", "outbox"), ("n", "inbox"));
    let err = generate(&g, &source()).unwrap_err();
    assert_eq!(
        err,
        CodegenError::UnknownQueue {
            module: "s".into(),
            queue: "outbox".into()
        }
    );
}

#[test]
fn value_of_the_wrong_variant_or_range_is_an_error() {
    let mut g = Graph::default();
    g.modules.push(tcp_in("a", 70000));
    g.modules.push(module("s", "stdout", vec![]));
    connect(&mut g, ("a", "outbox"), ("s", "inbox"));
    let err = generate(&g, &source()).unwrap_err();
    assert_eq!(
        err,
        CodegenError::BadValue {
            module: "a".into(),
            arg: "port".into()
        }
    );
    g.modules[0].args[0].value = Value::Str("1".into());
    assert!(matches!(
        generate(&g, &source()),
        Err(CodegenError::BadValue { .. })
    ));
}

/// Names the language would never accept still end up as string literals.
#[test]
fn hostile_names_and_strings_stay_literals() {
    let hostile = [
        "fn",
        "self",
        "\"); std::process::exit(1); //",
        "r#\"raw\"#",
        "\"#); panic!(); (r#\"",
        "ünïcødé \u{202e} \u{0} \\",
    ];
    for text in hostile {
        let mut g = Graph::default();
        g.modules.push(tcp_in(text, 10000));
        g.modules.push(tcp_out("out", 20000, text));
        connect(&mut g, (text, text), ("out", "inbox"));
        let mut bad_source = source();
        bad_source.name = text.into();
        // The source kind has no queue named `text`.
        let err = generate(&g, &bad_source).unwrap_err();
        assert!(matches!(err, CodegenError::UnknownQueue { .. }), "{text}");
        g.connections[0].from.queue = "outbox".into();
        let code = generate(&g, &bad_source).unwrap();
        let tokens = syn::parse_file(&code).unwrap();
        let tokens = quote::quote!(#tokens);
        // module name (config and queue), host and file name: all literals.
        let literals = string_literals(tokens.clone());
        assert_eq!(
            literals.iter().filter(|l| l.as_str() == text).count(),
            4,
            "{text}: {code}"
        );
        let idents = idents(tokens);
        for word in ["exit", "panic", "raw"] {
            assert!(
                !idents.contains(&word.to_string()),
                "{text} produced ident {word}: {code}"
            );
        }
    }
}

fn idents(tokens: proc_macro2::TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Group(g) => out.extend(idents(g.stream())),
            proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
            _ => {}
        }
    }
    out
}

fn string_literals(tokens: proc_macro2::TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    for tree in tokens {
        match tree {
            proc_macro2::TokenTree::Group(g) => out.extend(string_literals(g.stream())),
            proc_macro2::TokenTree::Literal(lit) => {
                if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&lit.to_string()) {
                    out.push(s.value());
                }
            }
            _ => {}
        }
    }
    out
}

fn graphite(name: &str) -> Module {
    module(
        name,
        "metrics.graphite",
        vec![
            Value::Duration(Duration::from_secs(1)),
            Value::Str("wishbone".into()),
        ],
    )
}

fn internal_flags(g: &Graph) -> Vec<bool> {
    plan::Plan::new(g).expect("plan").internal
}

#[test]
fn graphite_to_carbon_is_an_internal_queue() {
    let mut g = Graph::default();
    g.modules.push(tcp_in("input", 10000));
    g.modules.push(tcp_out("output", 20000, "127.0.0.1"));
    g.modules.push(graphite("graphite"));
    g.modules.push(tcp_out("carbon", 2003, "127.0.0.1"));
    connect(&mut g, ("input", "outbox"), ("output", "inbox"));
    connect(&mut g, ("graphite", "outbox"), ("carbon", "inbox"));
    assert_eq!(internal_flags(&g), [false, true]);
    let code = generate(&g, &source()).unwrap();
    // prettyplease may break a long call over lines.
    let flat: String = code.split_whitespace().collect();
    assert!(
        flat.contains(r#"proxy.queue("input","outbox","output","inbox")"#),
        "{code}"
    );
    assert!(
        flat.contains(r#"proxy.internal_queue("graphite","outbox","carbon","inbox")"#),
        "{code}"
    );
}

#[test]
fn metrics_merged_with_data_by_a_funnel_are_data_from_there_on() {
    let mut g = Graph::default();
    g.modules.push(tcp_in("input", 10000));
    g.modules.push(graphite("graphite"));
    g.modules.push(module("funnel_1", "funnel", vec![]));
    g.modules.push(tcp_out("output", 20000, "127.0.0.1"));
    connect(&mut g, ("input", "outbox"), ("funnel_1", "in_1"));
    connect(&mut g, ("graphite", "outbox"), ("funnel_1", "in_2"));
    connect(&mut g, ("funnel_1", "outbox"), ("output", "inbox"));
    // graphite's own queue is internal; the funnel's outbox carries data.
    assert_eq!(internal_flags(&g), [false, true, false]);
}

#[test]
fn metrics_failover_cycle_stays_internal_and_data_cycle_does_not() {
    // Scenario III's failover cycle carries data; a second cycle of the
    // same shape fed only by graphite carries only metric lines.
    let mut g = failover_graph();
    let data_connections = g.connections.len();
    g.modules.push(graphite("graphite"));
    g.modules.push(module("funnel_m", "funnel", vec![]));
    g.modules.push(module("roundrobin_m", "roundrobin", vec![]));
    g.modules.push(tcp_out("carbon_1", 2003, "127.0.0.1"));
    g.modules.push(tcp_out("carbon_2", 2004, "127.0.0.1"));
    connect(&mut g, ("graphite", "outbox"), ("funnel_m", "in_1"));
    connect(&mut g, ("funnel_m", "outbox"), ("roundrobin_m", "inbox"));
    connect(&mut g, ("roundrobin_m", "out_1"), ("carbon_1", "inbox"));
    connect(&mut g, ("roundrobin_m", "out_2"), ("carbon_2", "inbox"));
    connect(&mut g, ("carbon_1", "failed"), ("funnel_m", "in_2"));
    connect(&mut g, ("carbon_2", "failed"), ("funnel_m", "in_3"));
    let flags = internal_flags(&g);
    assert!(flags[..data_connections].iter().all(|i| !i), "{flags:?}");
    assert!(flags[data_connections..].iter().all(|i| *i), "{flags:?}");
}

#[test]
fn stdin_is_data_like_any_source_that_is_not_metrics() {
    let mut g = Graph::default();
    g.modules.push(module("src", "stdin", vec![]));
    g.modules.push(module("sink", "stdout", vec![]));
    connect(&mut g, ("src", "outbox"), ("sink", "inbox"));
    assert_eq!(internal_flags(&g), [false]);
}

#[test]
fn empty_graph_generates_a_program_without_unused_bindings() {
    let code = generate(&Graph::default(), &source()).unwrap();
    assert!(code.contains("|_proxy: &mut wbc_runtime::Proxy|"), "{code}");
    assert!(!code.contains("use wbc_runtime::modules"), "{code}");
    let code = generate(&failover_graph(), &source()).unwrap();
    assert!(code.contains("|proxy: &mut wbc_runtime::Proxy|"), "{code}");
}

/// The shape that keeps a large file's wiring fast to compile (the
/// runtime's `wiring` module): every queue's ends are held as `QueueEnd`s,
/// every module goes to `proxy.start`, and nothing returns early, so the
/// wiring function has no path that drops the ends it still holds.
#[test]
fn wiring_holds_wrapped_ends_and_never_returns_early() {
    let graph = failover_graph();
    let code = generate(&graph, &source()).unwrap();
    assert_eq!(
        code.matches("wbc_runtime::hold_ends(").count(),
        graph.connections.len(),
        "{code}"
    );
    assert_eq!(
        code.matches("proxy.start(m").count(),
        graph.modules.len(),
        "{code}"
    );
    assert!(!code.contains('?'), "{code}");
    assert!(!code.contains("proxy.spawn"), "{code}");
    for i in 0..graph.connections.len() {
        for end in ["tx", "rx"] {
            let uses = code.matches(&format!("q{i}_{end}.take()")).count();
            assert_eq!(uses, 1, "q{i}_{end} goes to one module: {code}");
        }
    }
}
