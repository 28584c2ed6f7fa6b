//! `wbc fmt`: the canonical layout of a routing file.
//!
//! - one statement per line, one space around `->` and `=`, `key: value`
//!   arguments separated by `, `, no trailing commas, flow expressions on one
//!   line;
//! - the `=` of consecutive declarations aligned (a route or a blank line
//!   ends the run; comment lines do not);
//! - comments kept where they were: own-line comments stay on their own
//!   line, a comment after a statement stays after it (one space before `#`);
//! - blank lines between statements kept, several collapsed into one, none at
//!   the start or end of the file.
//!
//! A statement with a comment inside it (between `fanout(` and `)`, say) is
//! kept as written apart from trailing blanks, so no comment ever moves away
//! from the line it explains. The output parses to the same tree as the
//! input and formatting it again changes nothing (both are tested for every
//! example). Literals are printed as written (`1000ms` stays `1000ms`).

use crate::ast::{Comment, Decl, Expr, Fallback, File, Flow, Item, Route};
use crate::diagnostic::{Code, Diagnostic};
use crate::parse::parse;

/// The formatted text, or the syntax errors that make formatting unsafe.
pub fn format(src: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse(src);
    if diagnostics.iter().any(|d| d.code == Code::E0001) {
        return Err(diagnostics);
    }
    Ok(format_file(&file, src))
}

/// One line of output before alignment: statements keep their decl name so
/// runs of declarations can be aligned afterwards.
enum Line {
    Blank,
    Comment(String),
    Decl { name: String, rest: String },
    Other(String),
}

fn format_file(file: &File, src: &str) -> String {
    let mut lines: Vec<Line> = Vec::new();
    let mut comments = file.comments.iter().peekable();
    let mut previous_end: Option<usize> = None;
    let emit_gap = |lines: &mut Vec<Line>, previous_end: Option<usize>, start: usize| {
        if let Some(end) = previous_end {
            if src[end..start].matches('\n').count() > 1 {
                lines.push(Line::Blank);
            }
        }
    };
    for item in &file.items {
        let span = item.span();
        // Own-line comments before this statement.
        while let Some(comment) =
            comments.next_if(|c| (c.span.start as usize) < span.start as usize)
        {
            emit_gap(&mut lines, previous_end, comment.span.start as usize);
            lines.push(Line::Comment(comment.text.clone()));
            previous_end = Some(comment.span.end as usize);
        }
        emit_gap(&mut lines, previous_end, span.start as usize);
        let interior = comments.peek().is_some_and(|c| c.span.start < span.end);
        let mut line = if interior {
            // Keep the statement as written, with its interior comments.
            while comments.next_if(|c| c.span.start < span.end).is_some() {}
            Line::Other(
                src[span.range()]
                    .lines()
                    .map(str::trim_end)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        } else {
            match item {
                Item::Decl(decl) => Line::Decl {
                    name: decl.name.text.clone(),
                    rest: decl_rest(decl, src),
                },
                Item::Route(route) => Line::Other(route_text(route, src)),
            }
        };
        let mut end = span.end as usize;
        // A comment on the same line, after the statement.
        if let Some(comment) = comments.next_if(|c| !src[end..c.span.start as usize].contains('\n'))
        {
            append_comment(&mut line, comment);
            end = comment.span.end as usize;
        }
        lines.push(line);
        previous_end = Some(end);
    }
    for comment in comments {
        emit_gap(&mut lines, previous_end, comment.span.start as usize);
        lines.push(Line::Comment(comment.text.clone()));
        previous_end = Some(comment.span.end as usize);
    }
    render(&lines)
}

fn append_comment(line: &mut Line, comment: &Comment) {
    match line {
        Line::Decl { rest: text, .. } | Line::Other(text) | Line::Comment(text) => {
            text.push(' ');
            text.push_str(&comment.text);
        }
        Line::Blank => {}
    }
}

/// Joins lines, padding the names of each run of declarations to one width.
fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        // The run of declarations (and comment lines) starting here.
        let run_end = (i..lines.len())
            .find(|&j| matches!(lines[j], Line::Blank | Line::Other(_)))
            .unwrap_or(lines.len())
            .max(i + 1);
        let width = lines[i..run_end]
            .iter()
            .filter_map(|l| match l {
                Line::Decl { name, .. } => Some(name.chars().count()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for line in &lines[i..run_end] {
            match line {
                Line::Blank => {}
                Line::Comment(text) | Line::Other(text) => out.push_str(text),
                Line::Decl { name, rest } => {
                    out.push_str(name);
                    out.push_str(&" ".repeat(width - name.chars().count()));
                    out.push_str(" = ");
                    out.push_str(rest);
                }
            }
            out.push('\n');
        }
        i = run_end;
    }
    out
}

/// Everything right of `NAME = `.
fn decl_rest(decl: &Decl, src: &str) -> String {
    if decl.args.is_empty() {
        return decl.kind.text.clone();
    }
    let args: Vec<String> = decl
        .args
        .iter()
        .map(|a| format!("{}: {}", a.key.text, &src[a.value.span.range()]))
        .collect();
    format!("{}({})", decl.kind.text, args.join(", "))
}

fn route_text(route: &Route, src: &str) -> String {
    route
        .stages
        .iter()
        .map(|stage| expr_text(stage, src))
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn expr_text(expr: &Expr, src: &str) -> String {
    match expr {
        Expr::Queue(queue) => src[queue.span.range()].to_string(),
        Expr::Flow(flow) => flow_text(flow, src),
    }
}

fn flow_text(flow: &Flow, src: &str) -> String {
    let members: Vec<String> = flow.members.iter().map(|m| expr_text(m, src)).collect();
    let mut text = format!("{}({})", flow.op.kind_name(), members.join(", "));
    match &flow.fallback {
        None => {}
        Some(Fallback::Funnel(_)) => text.push_str(" fallback funnel"),
        Some(Fallback::Target(target)) => {
            text.push_str(" fallback ");
            text.push_str(&expr_text(target, src));
        }
    }
    text
}
