//! Turning pest's pairs for one statement into AST nodes.
//!
//! Pest gives spans relative to the statement's text; `offset` makes them
//! absolute. The grammar already guarantees the shape of every pair, so a
//! shape this code does not expect means grammar and builder disagree: it
//! is skipped (no panic) rather than trusted. Number literals are decoded
//! here; one that does not fit in 64 bits is E0006.

use pest::iterators::{Pair, Pairs};

use crate::ast::{
    Arg, Decl, Expr, Fallback, Flow, FlowOp, Ident, Item, Literal, LiteralKind, QueueRef, Route,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

use super::Rule;

pub struct Builder<'d> {
    pub offset: usize,
    pub diagnostics: &'d mut Vec<Diagnostic>,
}

impl Builder<'_> {
    /// `pairs` is the result of parsing `statement_only`.
    pub fn statement(&mut self, pairs: Pairs<'_, Rule>) -> Option<Item> {
        let mut pairs = pairs;
        let statement = pairs
            .next()?
            .into_inner()
            .find(|p| p.as_rule() == Rule::statement)?;
        let inner = statement.into_inner().next()?;
        match inner.as_rule() {
            Rule::decl => self.decl(inner).map(Item::Decl),
            Rule::route => self.route(inner).map(Item::Route),
            _ => None,
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(s.start() + self.offset, s.end() + self.offset)
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            text: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Option<Decl> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(&inner.next()?);
        let kind = self.ident(&inner.find(|p| p.as_rule() == Rule::kind)?);
        let mut args = Vec::new();
        if let Some(list) = inner.find(|p| p.as_rule() == Rule::args) {
            for arg in list.into_inner().filter(|p| p.as_rule() == Rule::arg) {
                args.extend(self.arg(arg));
            }
        }
        Some(Decl {
            name,
            kind,
            args,
            span,
        })
    }

    fn arg(&mut self, pair: Pair<'_, Rule>) -> Option<Arg> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let key = self.ident(&inner.next()?);
        let literal = inner
            .find(|p| p.as_rule() == Rule::literal)?
            .into_inner()
            .next()?;
        let value = self.literal(literal)?;
        Some(Arg { key, value, span })
    }

    fn literal(&mut self, pair: Pair<'_, Rule>) -> Option<Literal> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::int => LiteralKind::Int(self.number(pair.as_str(), 1, span, "integer")),
            Rule::bool => LiteralKind::Bool(pair.as_str() == "true"),
            Rule::string => LiteralKind::Str(unescape(pair.as_str())),
            Rule::duration => {
                let (number, unit) = number_and_unit(pair)?;
                let scale = match unit {
                    "ms" => 1,
                    "s" => 1_000,
                    "m" => 60_000,
                    _ => 3_600_000,
                };
                LiteralKind::Duration(self.number(number, scale, span, "duration"))
            }
            Rule::byte_size => {
                let (number, unit) = number_and_unit(pair)?;
                let scale = match unit {
                    "B" => 1,
                    "KiB" => 1 << 10,
                    "MiB" => 1 << 20,
                    _ => 1 << 30,
                };
                LiteralKind::ByteSize(self.number(number, scale, span, "byte size"))
            }
            _ => return None,
        };
        Some(Literal { kind, span })
    }

    /// `digits * scale`, or E0006 and the nearest representable value.
    fn number(&mut self, digits: &str, scale: i64, span: Span, what: &str) -> i64 {
        let negative = digits.starts_with('-');
        match digits
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
        {
            Some(n) => n,
            None => {
                let mut diagnostic =
                    Diagnostic::new(Code::E0006, span, format!("{what} literal is out of range"))
                        .with_label(format!("does not fit in a signed 64-bit {what}"));
                if scale > 1 {
                    let unit = if what == "duration" {
                        "milliseconds"
                    } else {
                        "bytes"
                    };
                    diagnostic = diagnostic.with_note(format!(
                        "{what}s are counted in {unit}, at most {}",
                        i64::MAX
                    ));
                }
                self.diagnostics.push(diagnostic);
                if negative {
                    i64::MIN
                } else {
                    i64::MAX
                }
            }
        }
    }

    fn route(&mut self, pair: Pair<'_, Rule>) -> Option<Route> {
        let span = self.span(&pair);
        let stages: Vec<Expr> = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::expr)
            .filter_map(|p| self.expr(p))
            .collect();
        (stages.len() >= 2).then_some(Route { stages, span })
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Option<Expr> {
        let inner = pair.into_inner().next()?;
        match inner.as_rule() {
            Rule::queue_ref => Some(Expr::Queue(self.queue_ref(&inner))),
            Rule::flow => self.flow(inner).map(Expr::Flow),
            _ => None,
        }
    }

    fn queue_ref(&self, pair: &Pair<'_, Rule>) -> QueueRef {
        let span = self.span(pair);
        let text = pair.as_str();
        let start = span.start as usize;
        match text.split_once('.') {
            Some((module, queue)) => QueueRef {
                module: Ident {
                    text: module.to_string(),
                    span: Span::new(start, start + module.len()),
                },
                queue: Some(Ident {
                    text: queue.to_string(),
                    span: Span::new(span.end as usize - queue.len(), span.end as usize),
                }),
                span,
            },
            None => QueueRef {
                module: Ident {
                    text: text.to_string(),
                    span,
                },
                queue: None,
                span,
            },
        }
    }

    fn flow(&mut self, pair: Pair<'_, Rule>) -> Option<Flow> {
        let span = self.span(&pair);
        let mut op = None;
        let mut members = Vec::new();
        let mut fallback = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::flow_op => {
                    let kind = match p.as_str() {
                        "roundrobin" => FlowOp::RoundRobin,
                        "fanout" => FlowOp::Fanout,
                        _ => FlowOp::Funnel,
                    };
                    op = Some((kind, self.span(&p)));
                }
                Rule::expr => members.extend(self.expr(p)),
                Rule::fallback => fallback = self.fallback(p),
                _ => {}
            }
        }
        let (op, op_span) = op?;
        Some(Flow {
            op,
            op_span,
            members,
            fallback,
            span,
        })
    }

    fn fallback(&mut self, pair: Pair<'_, Rule>) -> Option<Fallback> {
        let target = pair
            .into_inner()
            .find(|p| p.as_rule() != Rule::fallback_kw)?;
        match target.as_rule() {
            Rule::fallback_funnel => Some(Fallback::Funnel(self.span(&target))),
            _ => self.expr(target).map(|e| Fallback::Target(Box::new(e))),
        }
    }
}

/// Splits `-250ms` into `-250` and `ms`. The rules are atomic so that pest
/// does not report their inner parts ("expected a unit") in syntax errors.
fn number_and_unit<'i>(pair: Pair<'i, Rule>) -> Option<(&'i str, &'i str)> {
    let text = pair.as_str();
    let unit_start = text.find(|c: char| c.is_ascii_alphabetic())?;
    Some(text.split_at(unit_start))
}

/// Decodes a string literal including its quotes; the grammar only admits
/// the escapes `\" \\ \n \t`.
fn unescape(quoted: &str) -> String {
    let body = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
