//! Parsing: source text -> [`ast::File`] plus syntax diagnostics.
//!
//! The grammar is `grammar/wb.pest`. Parsing happens in two steps:
//!
//! 1. [`split`] cuts the file into statements with the language's line rule
//!    (a statement ends at a line break unless the line ends in `->`, `,`
//!    or `(`, or the next line starts with `)`), collects every `#`
//!    comment, and rejects parentheses nested deeper than [`MAX_NESTING`]
//!    before pest ever sees them (pest parses recursively, so unbounded
//!    nesting would overflow the stack).
//! 2. Each statement is parsed on its own with the `statement_only` rule and
//!    [`build`] turns pest's pairs into AST nodes with absolute spans.
//!
//! Because statements are parsed independently, one syntax error never hides
//! the next: every broken statement yields one E0001 (worded by [`expect`])
//! and parsing resumes at the next statement. [`parse`] never fails and
//! never panics, whatever the input.

mod build;
pub mod dump;
mod expect;
mod split;

use pest::Parser;

use crate::ast;
use crate::diagnostic::Diagnostic;

/// The deepest nesting of parentheses a statement may have. Real routing
/// files use two or three levels; the limit only exists so that hostile
/// input cannot exhaust the stack.
pub const MAX_NESTING: usize = 256;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/wb.pest"]
pub(crate) struct WbParser;

/// Parses a whole routing file. Never fails: statements with syntax errors
/// are left out of the returned file and reported as E0001 diagnostics
/// (numeric overflow as E0006), in source order.
pub fn parse(src: &str) -> (ast::File, Vec<Diagnostic>) {
    if u32::try_from(src.len()).is_err() {
        // Spans are 32-bit; no routing file comes near this.
        let too_big = Diagnostic::new(
            crate::diagnostic::Code::E0001,
            crate::span::Span::default(),
            "file is larger than 4 GiB",
        )
        .with_help("split the routing table into several files");
        return (ast::File::default(), vec![too_big]);
    }
    let split = split::split(src);
    let mut diagnostics = Vec::new();
    let mut items = Vec::new();
    for statement in &split.statements {
        if let Some(too_deep) = statement.too_deep {
            diagnostics.push(expect::too_deep(too_deep));
            continue;
        }
        let text = &src[statement.start..statement.end];
        match WbParser::parse(Rule::statement_only, text) {
            Ok(pairs) => {
                let mut builder = build::Builder {
                    offset: statement.start,
                    diagnostics: &mut diagnostics,
                };
                if let Some(item) = builder.statement(pairs) {
                    items.push(item);
                }
            }
            Err(error) => diagnostics.push(expect::syntax_error(
                &error,
                src,
                statement.start,
                statement.end,
            )),
        }
    }
    (
        ast::File {
            items,
            comments: split.comments,
        },
        diagnostics,
    )
}

/// Checks a whole file against the grammar's `file` rule in one pest call.
/// Only tests use it, to show that the grammar alone describes the same
/// language as the statement-by-statement parser. Input must be shallow
/// (pest recurses).
#[doc(hidden)]
pub fn grammar_accepts_file(src: &str) -> bool {
    WbParser::parse(Rule::file, src).is_ok()
}
