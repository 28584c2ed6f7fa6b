//! Printing diagnostics: rustc-style text for people, JSON lines for tools.
//!
//! [`human`] hands each [`Diagnostic`] to codespan-reporting, which draws the
//! `error[E0007]: ...` header, the source snippet, carets under the primary
//! span, secondary labels, then `= note: ...` and `= help: ...` lines.
//! [`json_lines`] writes one JSON object per diagnostic per line with a fixed
//! set of keys (see [`JsonDiagnostic`]); positions are 1-based and columns
//! count characters, not bytes, so editors can jump straight to them.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::Span;

/// Renders `diags` about `src` (named `file_name`) the way rustc does; with
/// `color`, ANSI escapes are included.
pub fn human(diags: &[Diagnostic], file_name: &str, src: &str, color: bool) -> String {
    let file = SimpleFile::new(file_name, src);
    let config = term::Config::default();
    let mut buffer = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    for diagnostic in diags {
        // Writing to an in-memory buffer only fails on a span outside the
        // file, which `to_codespan` rules out by clamping.
        let _ = term::emit(&mut buffer, &config, &file, &to_codespan(diagnostic, src));
    }
    String::from_utf8_lossy(buffer.as_slice()).into_owned()
}

fn to_codespan(diagnostic: &Diagnostic, src: &str) -> cs::Diagnostic<()> {
    let severity = match diagnostic.severity() {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![cs::Label::primary((), clamp(diagnostic.primary.span, src))
        .with_message(&diagnostic.primary.message)];
    labels.extend(
        diagnostic
            .secondary
            .iter()
            .map(|l| cs::Label::secondary((), clamp(l.span, src)).with_message(&l.message)),
    );
    let mut notes: Vec<String> = diagnostic
        .notes
        .iter()
        .map(|n| format!("note: {n}"))
        .collect();
    notes.extend(diagnostic.help.iter().map(|h| format!("help: {h}")));
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// A byte range that is inside `src` and on character boundaries, whatever
/// span a buggy stage may have produced.
fn clamp(span: Span, src: &str) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(src.len());
        while !src.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start as usize);
    start..fix(span.end as usize).max(start)
}

/// One line of `wbc check --format json`. Field order is output order.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: &'static str,
    /// `error` or `warning`.
    pub severity: &'static str,
    pub message: &'a str,
    pub file: &'a str,
    /// 1-based line of the primary span's start.
    pub line: usize,
    /// 1-based column (in characters) of the primary span's start.
    pub column: usize,
    /// 1-based line of the primary span's end.
    pub end_line: usize,
    /// 1-based column (in characters) just past the primary span's end.
    pub end_column: usize,
    pub help: Option<&'a str>,
}

/// One JSON object per diagnostic, each followed by a newline.
pub fn json_lines(diags: &[Diagnostic], file_name: &str, src: &str) -> String {
    let lines = LineIndex::new(src);
    let mut out = String::new();
    for diagnostic in diags {
        let range = clamp(diagnostic.primary.span, src);
        let (line, column) = lines.position(src, range.start);
        let (end_line, end_column) = lines.position(src, range.end);
        let json = JsonDiagnostic {
            code: diagnostic.code.as_str(),
            severity: match diagnostic.severity() {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: &diagnostic.message,
            file: file_name,
            line,
            column,
            end_line,
            end_column,
            help: diagnostic.help.as_deref(),
        };
        // Serialising a struct of strings and integers cannot fail.
        if let Ok(text) = serde_json::to_string(&json) {
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

/// Byte offsets of line starts, for offset -> (line, column) lookups.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// 1-based (line, column in characters) of byte `offset` (a character
    /// boundary inside `src`).
    pub fn position(&self, src: &str, offset: usize) -> (usize, usize) {
        let line = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts[line];
        let column = src.get(start..offset).map_or(0, |s| s.chars().count());
        (line + 1, column + 1)
    }
}
