//! A compact, readable dump of a syntax tree, one node per line, indented
//! by nesting. Snapshot tests compare it; with `spans: false` it compares
//! two parses of differently laid out text (the `wbc fmt` round trip).

use std::fmt::Write;

use crate::ast::{Expr, Fallback, File, Item, LiteralKind};
use crate::span::Span;

pub fn dump(file: &File, spans: bool) -> String {
    let mut d = Dumper {
        out: String::new(),
        spans,
    };
    for item in &file.items {
        match item {
            Item::Decl(decl) => {
                d.line(
                    0,
                    format!("decl {} = {}", decl.name.text, decl.kind.text),
                    decl.span,
                );
                for arg in &decl.args {
                    d.line(
                        1,
                        format!("arg {}: {}", arg.key.text, literal(&arg.value.kind)),
                        arg.span,
                    );
                }
            }
            Item::Route(route) => {
                d.line(0, "route".to_string(), route.span);
                for stage in &route.stages {
                    d.expr(1, stage);
                }
            }
        }
    }
    for comment in &file.comments {
        d.line(0, format!("comment {:?}", comment.text), comment.span);
    }
    d.out
}

struct Dumper {
    out: String,
    spans: bool,
}

impl Dumper {
    fn line(&mut self, depth: usize, text: String, span: Span) {
        let indent = "  ".repeat(depth);
        if self.spans {
            let _ = writeln!(self.out, "{indent}{text} @{}..{}", span.start, span.end);
        } else {
            let _ = writeln!(self.out, "{indent}{text}");
        }
    }

    fn expr(&mut self, depth: usize, expr: &Expr) {
        match expr {
            Expr::Queue(q) => {
                let name = match &q.queue {
                    Some(queue) => format!("{}.{}", q.module.text, queue.text),
                    None => q.module.text.clone(),
                };
                self.line(depth, format!("queue {name}"), q.span);
            }
            Expr::Flow(flow) => {
                self.line(depth, flow.op.kind_name().to_string(), flow.span);
                for member in &flow.members {
                    self.expr(depth + 1, member);
                }
                match &flow.fallback {
                    None => {}
                    Some(Fallback::Funnel(span)) => {
                        self.line(depth + 1, "fallback funnel".to_string(), *span)
                    }
                    Some(Fallback::Target(target)) => {
                        self.line(depth + 1, "fallback".to_string(), target.span());
                        self.expr(depth + 2, target);
                    }
                }
            }
        }
    }
}

fn literal(kind: &LiteralKind) -> String {
    match kind {
        LiteralKind::Int(n) => format!("int {n}"),
        LiteralKind::Str(s) => format!("str {s:?}"),
        LiteralKind::Bool(b) => format!("bool {b}"),
        LiteralKind::Duration(ms) => format!("duration {ms}ms"),
        LiteralKind::ByteSize(b) => format!("bytes {b}B"),
    }
}
