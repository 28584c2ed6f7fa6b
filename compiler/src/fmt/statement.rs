//! Laying out one statement, with the comments written inside it.
//!
//! A list (declaration arguments, flow members) is vertical exactly when
//! the user broke its line: its source text contains a line break. Vertical
//! lists put each element on its own line with a trailing comma; comments
//! between elements keep their own lines and a comment after an element
//! stays after it. This makes the layout stable: vertical output contains
//! line breaks, so it stays vertical, and one-line output stays one line.
//!
//! A comment in a place no list accounts for (`a -> # why` before a
//! continuation line) makes the statement be kept as written instead, so a
//! comment never moves away from what it explains.

use crate::ast::{Arg, Comment, Decl, Expr, Fallback, Flow, Route};
use crate::span::Span;

const INDENT: usize = 4;

/// A statement's text as written, minus trailing blanks on each line.
pub fn as_written(span: Span, src: &str) -> String {
    src[span.range()]
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything right of `NAME = `, or `None` when a comment could not be placed.
pub fn decl_rest(decl: &Decl, src: &str, comments: &[Comment]) -> Option<String> {
    let mut p = Printer {
        src,
        comments,
        next: 0,
    };
    let text = if decl.args.is_empty() {
        decl.kind.text.clone()
    } else {
        let vertical = src[decl.span.range()].contains('\n');
        let open = decl.kind.span.end as usize;
        p.list(
            &decl.kind.text,
            open,
            &decl.args,
            decl.span.end as usize,
            vertical,
            0,
        )
    };
    p.all_placed().then_some(text)
}

/// The route's text, or `None` when a comment could not be placed.
pub fn route(route: &Route, src: &str, comments: &[Comment]) -> Option<String> {
    let mut p = Printer {
        src,
        comments,
        next: 0,
    };
    let stages: Vec<String> = route.stages.iter().map(|stage| p.expr(stage, 0)).collect();
    p.all_placed().then(|| stages.join(" -> "))
}

/// An element of a list: an argument or a flow member.
trait Element {
    fn span(&self) -> Span;
    fn print(&self, p: &mut Printer<'_>, indent: usize) -> String;
}

impl Element for Arg {
    fn span(&self) -> Span {
        self.span
    }

    fn print(&self, p: &mut Printer<'_>, _indent: usize) -> String {
        format!("{}: {}", self.key.text, &p.src[self.value.span.range()])
    }
}

impl Element for Expr {
    fn span(&self) -> Span {
        Expr::span(self)
    }

    fn print(&self, p: &mut Printer<'_>, indent: usize) -> String {
        p.expr(self, indent)
    }
}

struct Printer<'a> {
    src: &'a str,
    /// The comments inside the statement, in order.
    comments: &'a [Comment],
    /// The first comment not printed yet.
    next: usize,
}

impl Printer<'_> {
    fn all_placed(&self) -> bool {
        self.next == self.comments.len()
    }

    fn expr(&mut self, expr: &Expr, indent: usize) -> String {
        match expr {
            Expr::Queue(queue) => self.src[queue.span.range()].to_string(),
            Expr::Flow(flow) => self.flow(flow, indent),
        }
    }

    fn flow(&mut self, flow: &Flow, indent: usize) -> String {
        // The list ends before `fallback`; the flow's span includes it.
        let close = match &flow.fallback {
            None => flow.span.end,
            Some(Fallback::Funnel(span)) => span.start,
            Some(Fallback::Target(target)) => target.span().start,
        } as usize;
        let vertical = self.src[flow.span.start as usize..close].contains('\n');
        let mut text = self.list(
            flow.op.kind_name(),
            flow.op_span.end as usize,
            &flow.members,
            close,
            vertical,
            indent,
        );
        match &flow.fallback {
            None => {}
            Some(Fallback::Funnel(_)) => text.push_str(" fallback funnel"),
            Some(Fallback::Target(target)) => {
                text.push_str(" fallback ");
                text.push_str(&self.expr(target, indent));
            }
        }
        text
    }

    /// `head(a, b)` or, vertical, `head(` / one element per line / `)`.
    /// `open..close` bounds the comments that belong inside the parentheses.
    fn list<E: Element>(
        &mut self,
        head: &str,
        open: usize,
        elements: &[E],
        close: usize,
        vertical: bool,
        indent: usize,
    ) -> String {
        if !vertical {
            let printed: Vec<String> = elements.iter().map(|e| e.print(self, indent)).collect();
            return format!("{head}({})", printed.join(", "));
        }
        let inner = " ".repeat(indent + INDENT);
        let mut text = format!("{head}(");
        let first = elements.first().map_or(close, |e| e.span().start as usize);
        self.trailing_comment(open, first, &mut text);
        for (i, element) in elements.iter().enumerate() {
            let span = element.span();
            self.own_line_comments(span.start as usize, &inner, &mut text);
            text.push('\n');
            text.push_str(&inner);
            text.push_str(&element.print(self, indent + INDENT));
            text.push(',');
            let limit = elements
                .get(i + 1)
                .map_or(close, |e| e.span().start as usize);
            self.trailing_comment(span.end as usize, limit, &mut text);
        }
        self.own_line_comments(close, &inner, &mut text);
        text.push('\n');
        text.push_str(&" ".repeat(indent));
        text.push(')');
        text
    }

    /// Comments before `before`, each on its own line.
    fn own_line_comments(&mut self, before: usize, indent: &str, text: &mut String) {
        while let Some(comment) = self
            .comments
            .get(self.next)
            .filter(|c| (c.span.start as usize) < before)
        {
            text.push('\n');
            text.push_str(indent);
            text.push_str(&comment.text);
            self.next += 1;
        }
    }

    /// A comment on the same line after position `after` (and before `limit`).
    fn trailing_comment(&mut self, after: usize, limit: usize, text: &mut String) {
        let Some(comment) = self.comments.get(self.next) else {
            return;
        };
        let start = comment.span.start as usize;
        if start >= after && start < limit && !self.src[after..start].contains('\n') {
            text.push(' ');
            text.push_str(&comment.text);
            self.next += 1;
        }
    }
}
