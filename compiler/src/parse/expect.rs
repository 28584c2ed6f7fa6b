//! Wording syntax errors: pest's "positives" (the rules it tried at the
//! furthest point it reached) become "expected `->` or end of line, found
//! `=`", with a few special cases that deserve a better sentence
//! (unterminated strings, unknown escapes, unknown units).

use pest::error::{ErrorVariant, InputLocation};

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

use super::{Rule, MAX_NESTING};

/// The E0001 for one statement that pest rejected. `start..end` is the
/// statement's range in `src`.
pub fn syntax_error(
    error: &pest::error::Error<Rule>,
    src: &str,
    start: usize,
    end: usize,
) -> Diagnostic {
    let at = start
        + match error.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((p, _)) => p,
        };
    let at = number_start(src, start, at.min(end));
    if let Some(special) = string_problem(src, at) {
        return special;
    }
    let expected = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => describe_all(positives),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let (found, span) = found(src, at, end);
    let mut diagnostic = Diagnostic::new(
        Code::E0001,
        span,
        format!("expected {expected}, found {found}"),
    )
    .with_label(format!("expected {expected}"));
    if expected.contains("a value")
        && src[at..end].starts_with(|c: char| c.is_ascii_digit() || c == '-')
    {
        diagnostic = diagnostic.with_help(
            "numbers are written `10000`, durations `250ms`, `1s`, `5m`, `2h`, byte sizes `512B`, `64KiB`, `1MiB`, `1GiB`",
        );
    } else if expected.contains("`=`") && found == "`:`" {
        diagnostic = diagnostic.with_help("declarations are written `NAME = KIND(key: value)`");
    } else if expected.starts_with("`:`") && found == "`=`" {
        diagnostic = diagnostic.with_help("arguments are written `key: value`");
    } else if let Some((word, op)) = misspelt_flow(src, at).filter(|_| found == "`(`") {
        let word_span = Span::new(at - word.len(), at);
        diagnostic = Diagnostic::new(
            Code::E0001,
            word_span,
            format!("unknown flow operator `{word}`"),
        )
        .with_label("not `roundrobin`, `fanout` or `funnel`")
        .with_help(format!("did you mean `{op}(...)`?"));
    } else if found == "`fallback`" && src[start..at].contains("->") {
        // `input -> output fallback spare`: fallback belongs to a flow.
        let before = src[..at].trim_end();
        let name = &before[before
            .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '.')
            .len()..];
        let module = name.split('.').next().unwrap_or(name);
        diagnostic = diagnostic.with_help(format!(
            "`fallback` follows a `roundrobin(...)` or `fanout(...)`; to route the events `{module}` could not deliver, write `{module}.failed -> TARGET` on a line of its own"
        ));
    } else if found == "`>`" && src[..at].ends_with('=') {
        diagnostic = diagnostic.with_help("routes are written `SOURCE -> TARGET`");
    } else if expected.contains("`->`") && found == "`(`" {
        // `input -> tcp.out(port: 1)`: a declaration written inside a route.
        diagnostic = diagnostic.with_help(
            "only `roundrobin(...)`, `fanout(...)` and `funnel(...)` can be written inside a route; \
             declare other modules on their own line (`NAME = KIND(...)`) and name them here",
        );
    }
    diagnostic
}

/// The name just before `at` and the flow operator it is a typo of.
fn misspelt_flow(src: &str, at: usize) -> Option<(&str, &'static str)> {
    let before = &src[..at];
    let word = &before[before
        .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
        .len()..];
    ["roundrobin", "fanout", "funnel"]
        .into_iter()
        .map(|op| (strsim::jaro_winkler(&word.to_lowercase(), op), op))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, op)| (word, op))
}

/// The E0001 for a statement nested deeper than [`MAX_NESTING`].
pub fn too_deep(paren: Span) -> Diagnostic {
    Diagnostic::new(
        Code::E0001,
        paren,
        format!("parentheses nested more than {MAX_NESTING} levels deep"),
    )
    .with_label("this `(` is too deep")
    .with_help(
        "declare flow modules by name (`rr = roundrobin`) and connect them instead of nesting",
    )
}

/// Pest stops inside a number with a bad unit (`10min` fails at `min`);
/// the whole token is what the user needs to see.
fn number_start(src: &str, start: usize, at: usize) -> usize {
    let glued_to_digits = src[..at].ends_with(|c: char| c.is_ascii_digit())
        && src[at..].starts_with(|c: char| c.is_alphabetic() || c == '_');
    if !glued_to_digits {
        return at;
    }
    let digits = src[start..at].trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = digits.strip_suffix('-').unwrap_or(digits);
    start + digits.len()
}

/// Joins rule descriptions as "a, b or c", without repeats.
fn describe_all(rules: &[Rule]) -> String {
    let mut words: Vec<&str> = Vec::new();
    // Keywords read best first and "end of line" last:
    // "expected `funnel` or a module name", "expected `->` or end of line".
    let mut rules = rules.to_vec();
    rules.sort_by_key(|r| match r {
        Rule::fallback_funnel => 0,
        Rule::EOI => 2,
        _ => 1,
    });
    for rule in &rules {
        let word = describe(*rule);
        if !words.contains(&word) {
            words.push(word);
        }
    }
    match words.split_last() {
        None => "something else".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What a grammar rule is called in an error message.
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of line",
        Rule::statement | Rule::statement_only | Rule::file => "a declaration or a route",
        Rule::decl => "a declaration",
        Rule::route => "a route",
        Rule::ident => "a name",
        Rule::kind => "a module kind (such as `tcp.in`)",
        Rule::args => "`(`",
        Rule::arg => "an argument (`key: value`)",
        Rule::eq => "`=`",
        Rule::colon => "`:`",
        Rule::comma => "`,`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::arrow => "`->`",
        Rule::literal
        | Rule::number
        | Rule::int
        | Rule::duration
        | Rule::byte_size
        | Rule::bool
        | Rule::string
        | Rule::str_inner
        | Rule::escape
        | Rule::time_unit
        | Rule::size_unit => "a value",
        Rule::expr | Rule::flow | Rule::flow_op | Rule::queue_ref => {
            "a module name or a flow (`roundrobin(...)`, `fanout(...)`, `funnel(...)`)"
        }
        Rule::fallback | Rule::fallback_kw => "`fallback`",
        Rule::fallback_funnel => "`funnel`",
        Rule::ident_char => "a name",
        Rule::gap | Rule::nl | Rule::WHITESPACE | Rule::COMMENT => "a line break",
    }
}

/// Names the token at `at` and its span. Long tokens are shortened in the
/// message (the span still covers all of it).
fn found(src: &str, at: usize, end: usize) -> (String, Span) {
    let rest = &src[at..end];
    let Some(first) = rest.chars().next() else {
        let trailing = src[end..].trim_start_matches(|c: char| c.is_whitespace());
        let what = if trailing.is_empty() || trailing.starts_with('#') && !trailing.contains('\n') {
            "end of file"
        } else {
            "end of line"
        };
        return (what.to_string(), Span::new(end, end));
    };
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '-';
    let len = if rest.starts_with("->") {
        2
    } else if is_word(first) {
        rest.find(|c: char| !is_word(c)).unwrap_or(rest.len())
    } else {
        first.len_utf8()
    };
    let token = &rest[..len];
    let shown = if token.chars().count() > 40 {
        format!("{}...", token.chars().take(40).collect::<String>())
    } else {
        token.to_string()
    };
    let shown = if first.is_control() {
        format!("{:?}", first)
    } else {
        format!("`{shown}`")
    };
    (shown, Span::new(at, at + len))
}

/// When the error sits on a string literal, the real problem is inside it:
/// it is unterminated, or it holds an escape the language does not have.
fn string_problem(src: &str, at: usize) -> Option<Diagnostic> {
    let rest = src[at..].strip_prefix('"')?;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return None,
            '\n' | '\r' => break,
            '\\' => match chars.next() {
                Some((_, '"' | '\\' | 'n' | 't')) => {}
                Some((j, e)) if e != '\n' && e != '\r' => {
                    let escape_start = at + 1 + i;
                    let escape_end = at + 1 + j + e.len_utf8();
                    return Some(
                        Diagnostic::new(
                            Code::E0001,
                            Span::new(escape_start, escape_end),
                            format!("unknown escape `\\{e}` in string"),
                        )
                        .with_label("unknown escape")
                        .with_help(r#"the escapes are `\"`, `\\`, `\n` and `\t`; write `\\` for a backslash"#),
                    );
                }
                _ => break,
            },
            _ => {}
        }
    }
    let line_end = src[at..].find(['\n', '\r']).map_or(src.len(), |p| at + p);
    Some(
        Diagnostic::new(Code::E0001, Span::new(at, line_end), "unterminated string")
            .with_label("this string has no closing `\"`")
            .with_help("close the string with `\"` on the same line; write `\\n` for a line break inside it"),
    )
}
