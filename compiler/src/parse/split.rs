//! Cutting a file into statements, collecting comments, bounding nesting.
//!
//! This is the one place that knows where statements end, so that each can
//! be parsed (and fail) on its own. The rule mirrors the `gap`s in
//! `grammar/wb.pest`: a line break continues the statement when the last
//! token before it is `->`, `,` or `(`, or when the parentheses are still
//! open and the next token is `)`. Everything here is a single linear pass,
//! so 10 MB files and 100,000-character names cost nothing special.

use crate::ast::Comment;
use crate::span::Span;

use super::MAX_NESTING;

/// A statement's byte range, from its first token to the end of its last
/// token (a trailing comment is not included).
#[derive(Debug)]
pub struct Statement {
    pub start: usize,
    pub end: usize,
    /// The `(` that went past [`MAX_NESTING`], if any.
    pub too_deep: Option<Span>,
}

#[derive(Debug, Default)]
pub struct Split {
    pub statements: Vec<Statement>,
    pub comments: Vec<Comment>,
}

/// The statement being scanned.
struct Open {
    start: usize,
    end: usize,
    depth: usize,
    too_deep: Option<Span>,
    /// The last token was `->`, `,` or `(`: a line break does not end it.
    continues: bool,
}

pub fn split(src: &str) -> Split {
    let bytes = src.as_bytes();
    let mut out = Split::default();
    let mut open: Option<Open> = None;
    // Cache of the last look past a line break: (scanned up to, byte found).
    let mut lookahead: Option<(usize, Option<u8>)> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                let end = line_end(bytes, i);
                // Trailing blanks (and the `\r` of `\r\n`) are not part of it.
                let text_end = i + src[i..end].trim_end().len();
                out.comments.push(Comment {
                    text: src[i..text_end].to_string(),
                    span: Span::new(i, text_end),
                });
                i = end;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' => {
                if let Some(stmt) = &open {
                    let next = match lookahead {
                        Some((pos, found)) if pos > i => found,
                        _ => {
                            let (pos, found) = next_token(bytes, i + 1);
                            lookahead = Some((pos, found));
                            found
                        }
                    };
                    let continues = stmt.continues || (stmt.depth > 0 && next == Some(b')'));
                    if !continues {
                        finish(&mut out, open.take());
                    }
                }
                i += 1;
            }
            b'"' => {
                let stmt = open.get_or_insert_with(|| Open::at(i));
                i = string_end(bytes, i);
                stmt.end = i;
                stmt.continues = false;
            }
            byte => {
                let stmt = open.get_or_insert_with(|| Open::at(i));
                let width = if byte == b'-' && bytes.get(i + 1) == Some(&b'>') {
                    2
                } else {
                    char_width(byte)
                };
                match byte {
                    b'(' => {
                        stmt.depth += 1;
                        if stmt.depth > MAX_NESTING && stmt.too_deep.is_none() {
                            stmt.too_deep = Some(Span::new(i, i + 1));
                        }
                    }
                    b')' => stmt.depth = stmt.depth.saturating_sub(1),
                    _ => {}
                }
                stmt.continues = matches!(byte, b'(' | b',') || width == 2;
                i = (i + width).min(bytes.len());
                stmt.end = i;
            }
        }
    }
    finish(&mut out, open);
    out
}

impl Open {
    fn at(start: usize) -> Open {
        Open {
            start,
            end: start,
            depth: 0,
            too_deep: None,
            continues: false,
        }
    }
}

fn finish(out: &mut Split, open: Option<Open>) {
    if let Some(o) = open {
        out.statements.push(Statement {
            start: o.start,
            end: o.end,
            too_deep: o.too_deep,
        });
    }
}

/// Index of the `\n` ending the line that contains `i` (or the end).
fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p)
}

/// Just past the closing quote of the string starting at `start`, or at the
/// line break / end of input when it is unterminated (the parser reports it).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => return j + 1,
            b'\n' => return j,
            b'\\' if bytes.get(j + 1).is_some_and(|&b| b != b'\n') => j += 2,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// First token byte at or after `from`, skipping blanks, line breaks and
/// comments; also returns where the scan stopped.
fn next_token(bytes: &[u8], mut from: usize) -> (usize, Option<u8>) {
    while from < bytes.len() {
        match bytes[from] {
            b' ' | b'\t' | b'\r' | b'\n' => from += 1,
            b'#' => from = line_end(bytes, from),
            b => return (from, Some(b)),
        }
    }
    (from, None)
}

/// Byte length of the UTF-8 character starting with `lead`, so that
/// statement ends always fall on character boundaries.
fn char_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
