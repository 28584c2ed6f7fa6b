//! `wbc fmt`: the canonical layout of a routing file.
//!
//! - one space around `=` and `->`, `key: value` arguments separated by
//!   `, `, no space inside parentheses;
//! - a declaration or flow expression written on one line stays on one line
//!   (without a trailing comma); one written over several lines is laid out
//!   one argument or member per line, indented by four spaces, each followed
//!   by a comma, with `)` on a line of its own (see [`statement`]);
//! - the `=` of consecutive declarations aligned (a route or a blank line
//!   ends the run; comment lines do not);
//! - comments kept where they were: own-line comments stay on their own
//!   line, a comment after a statement, argument or member stays after it
//!   (one space before `#`);
//! - blank lines between statements kept, several collapsed into one, none at
//!   the start or end of the file; `\r\n` becomes `\n`.
//!
//! The output parses to the same tree as the input and formatting it again
//! changes nothing (both are tested for every example, fixture and for
//! random input). Literals are printed as written (`1000ms` stays `1000ms`).

mod statement;

use crate::ast::{Comment, File, Item};
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

/// One line (or one multi-line statement) of output before alignment:
/// declarations keep their name apart so runs of them can be aligned.
enum Line {
    Blank,
    Comment(String),
    Decl { name: String, rest: String },
    Other(String),
}

fn format_file(file: &File, src: &str) -> String {
    let mut lines: Vec<Line> = Vec::new();
    let comments = &file.comments;
    let mut next = 0; // first comment not yet printed
    let mut previous_end: Option<usize> = None;
    let gap = |lines: &mut Vec<Line>, previous_end: Option<usize>, start: usize| {
        if previous_end.is_some_and(|end| src[end..start].matches('\n').count() > 1) {
            lines.push(Line::Blank);
        }
    };
    for item in &file.items {
        let span = item.span();
        // Own-line comments before this statement.
        while let Some(comment) = comments.get(next).filter(|c| c.span.start < span.start) {
            gap(&mut lines, previous_end, comment.span.start as usize);
            lines.push(Line::Comment(comment.text.clone()));
            previous_end = Some(comment.span.end as usize);
            next += 1;
        }
        gap(&mut lines, previous_end, span.start as usize);
        let inside = comments[next..]
            .iter()
            .take_while(|c| c.span.start < span.end)
            .count();
        let mut line = statement_line(item, src, &comments[next..next + inside]);
        next += inside;
        let mut end = span.end as usize;
        // A comment on the same line, after the statement.
        if let Some(comment) = comments
            .get(next)
            .filter(|c| !src[end..c.span.start as usize].contains('\n'))
        {
            append_comment(&mut line, comment);
            end = comment.span.end as usize;
            next += 1;
        }
        lines.push(line);
        previous_end = Some(end);
    }
    for comment in &comments[next..] {
        gap(&mut lines, previous_end, comment.span.start as usize);
        lines.push(Line::Comment(comment.text.clone()));
        previous_end = Some(comment.span.end as usize);
    }
    render(&lines)
}

fn statement_line(item: &Item, src: &str, inside: &[Comment]) -> Line {
    match item {
        Item::Decl(decl) => match statement::decl_rest(decl, src, inside) {
            Some(rest) => Line::Decl {
                name: decl.name.text.clone(),
                rest,
            },
            None => Line::Other(statement::as_written(item.span(), src)),
        },
        Item::Route(route) => Line::Other(
            statement::route(route, src, inside)
                .unwrap_or_else(|| statement::as_written(item.span(), src)),
        ),
    }
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
