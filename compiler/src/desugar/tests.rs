//! Desugaring of hand-built syntax trees (the parser has its own tests).

use super::*;
use crate::ast::{Arg, Decl, File, Literal, LiteralKind, Route};

pub(crate) fn id(text: &str, at: u32) -> Ident {
    Ident {
        text: text.to_string(),
        span: Span {
            start: at,
            end: at + text.len() as u32,
        },
    }
}

pub(crate) fn q(module: &str, at: u32) -> Expr {
    let module = id(module, at);
    Expr::Queue(QueueRef {
        span: module.span,
        module,
        queue: None,
    })
}

pub(crate) fn qq(module: &str, queue: &str, at: u32) -> Expr {
    let module = id(module, at);
    let queue = id(queue, at + module.text.len() as u32 + 1);
    Expr::Queue(QueueRef {
        span: module.span.to(queue.span),
        module,
        queue: Some(queue),
    })
}

pub(crate) fn flow(op: FlowOp, at: u32, members: Vec<Expr>, fallback: Option<Fallback>) -> Expr {
    let op_span = Span {
        start: at,
        end: at + op.kind_name().len() as u32,
    };
    let end = members
        .iter()
        .map(|m| m.span().end)
        .max()
        .unwrap_or(op_span.end)
        + 1;
    Expr::Flow(Flow {
        op,
        op_span,
        members,
        fallback,
        span: Span { start: at, end },
    })
}

pub(crate) fn decl(name: &str, kind: &str, args: Vec<(&str, LiteralKind)>, at: u32) -> Item {
    let args = args
        .into_iter()
        .map(|(k, v)| {
            let key = id(k, at + 1);
            Arg {
                span: key.span,
                key,
                value: Literal {
                    kind: v,
                    span: Span {
                        start: at + 2,
                        end: at + 3,
                    },
                },
            }
        })
        .collect();
    let span = Span {
        start: at,
        end: at + 10,
    };
    Item::Decl(Decl {
        name: id(name, at),
        kind: id(kind, at + 5),
        args,
        span,
    })
}

pub(crate) fn route(stages: Vec<Expr>) -> Item {
    let span = stages[0].span().to(stages[stages.len() - 1].span());
    Item::Route(Route { stages, span })
}

pub(crate) fn file(items: Vec<Item>) -> File {
    File {
        items,
        comments: Vec::new(),
    }
}

/// `a.q -> b.q` lines of a core table.
pub(crate) fn table(core: &Core) -> Vec<String> {
    core.connections
        .iter()
        .map(|c| format!("{} -> {}", c.from.explicit(), c.to.explicit()))
        .collect()
}

fn port(n: i64) -> Vec<(&'static str, LiteralKind)> {
    vec![("port", LiteralKind::Int(n))]
}

#[test]
fn plain_names_mean_outbox_and_inbox_and_chains_pass_through() {
    let f = file(vec![
        route(vec![q("a", 0), q("f", 10), q("b", 20)]),
        decl("a", "tcp.in", port(1), 100),
        decl("f", "stdout", vec![], 200),
        decl("b", "tcp.out", port(2), 300),
    ]);
    let (core, diags) = desugar(&f);
    assert!(diags.is_empty());
    assert_eq!(table(&core), ["a.outbox -> f.inbox", "f.outbox -> b.inbox"]);
    assert_eq!(core.connections[0].span, Span { start: 0, end: 11 });
    assert_eq!(core.modules.len(), 3);
}

#[test]
fn inline_roundrobin_with_fallback_funnel_becomes_named_modules() {
    let f = file(vec![
        decl("input", "tcp.in", port(1), 0),
        decl("roundrobin_1", "stdout", vec![], 20),
        route(vec![
            q("input", 100),
            flow(
                FlowOp::RoundRobin,
                110,
                vec![q("o1", 121), q("o2", 125)],
                Some(Fallback::Funnel(Span::new(140, 155))),
            ),
        ]),
    ]);
    let (core, diags) = desugar(&f);
    assert!(diags.is_empty());
    assert_eq!(
        table(&core),
        [
            "input.outbox -> funnel_1.in_1",
            "roundrobin_2.out_1 -> o1.inbox",
            "roundrobin_2.out_2 -> o2.inbox",
            "o1.failed -> funnel_1.in_2",
            "o2.failed -> funnel_1.in_3",
            "funnel_1.outbox -> roundrobin_2.inbox",
        ]
    );
    let generated: Vec<_> = core
        .modules
        .iter()
        .filter(|m| m.generated)
        .map(|m| m.name.text.as_str())
        .collect();
    assert_eq!(generated, ["roundrobin_2", "funnel_1"]);
}

#[test]
fn bare_flow_names_get_fresh_queues_that_skip_written_ones() {
    let f = file(vec![
        decl("rr", "roundrobin", vec![], 0),
        decl("f", "funnel", vec![], 10),
        route(vec![qq("rr", "out_1", 100), q("x", 110)]),
        route(vec![q("rr", 200), q("y", 210)]),
        route(vec![q("rr", 300), q("f", 310)]),
        route(vec![qq("y", "failed", 400), q("f", 410)]),
    ]);
    let (core, _) = desugar(&f);
    assert_eq!(
        table(&core),
        [
            "rr.out_1 -> x.inbox",
            "rr.out_2 -> y.inbox",
            "rr.out_3 -> f.in_1",
            "y.failed -> f.in_2"
        ]
    );
}

#[test]
fn fallback_target_goes_through_a_funnel_only_for_several_members() {
    let one = file(vec![route(vec![
        q("i", 0),
        flow(
            FlowOp::Fanout,
            5,
            vec![q("a", 12)],
            Some(Fallback::Target(Box::new(q("dead", 30)))),
        ),
    ])]);
    assert_eq!(
        table(&desugar(&one).0),
        [
            "i.outbox -> fanout_1.inbox",
            "fanout_1.out_1 -> a.inbox",
            "a.failed -> dead.inbox"
        ]
    );
    let two = file(vec![route(vec![
        q("i", 0),
        flow(
            FlowOp::RoundRobin,
            5,
            vec![q("a", 16), q("b", 19)],
            Some(Fallback::Target(Box::new(q("dead", 30)))),
        ),
    ])]);
    assert_eq!(
        table(&desugar(&two).0),
        [
            "i.outbox -> roundrobin_1.inbox",
            "roundrobin_1.out_1 -> a.inbox",
            "roundrobin_1.out_2 -> b.inbox",
            "a.failed -> funnel_1.in_1",
            "b.failed -> funnel_1.in_2",
            "funnel_1.outbox -> dead.inbox",
        ]
    );
}

#[test]
fn misplaced_flows_and_fallbacks_are_reported() {
    let f = file(vec![
        route(vec![
            flow(FlowOp::RoundRobin, 0, vec![q("a", 11)], None),
            q("b", 20),
        ]),
        route(vec![
            q("c", 30),
            flow(FlowOp::Funnel, 35, vec![q("d", 42)], None),
        ]),
        route(vec![
            q("e", 50),
            flow(
                FlowOp::Fanout,
                55,
                vec![q("g", 62)],
                Some(Fallback::Funnel(Span::new(70, 80))),
            ),
        ]),
    ]);
    let codes: Vec<Code> = desugar(&f).1.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::E0009, Code::E0009, Code::E0015]);
}
