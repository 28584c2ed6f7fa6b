//! The language front end on real files: parse trees, syntax errors, the
//! formatter, and robustness against hostile input.
//!
//! Inputs are data: every `examples/*.wb` and `tests/fixtures/parse/*.wb`
//! must parse cleanly (their trees are snapshots), and every
//! `tests/fixtures/bad/e0001_*.wb` states where its syntax errors are with
//! `# expect: E0001 at LINE:COLUMN` lines. Adding a case is adding a file.
//!
//! The property tests run 256 cases each by default; run them long with
//! `PROPTEST_CASES=200000 cargo test -p wbc --test language --release never_panics`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use wbc::diagnostic::Code;
use wbc::parse::{dump::dump, parse};

/// Snapshots name the input file in their header instead of repeating the
/// test's expression.
fn snapshot(name: &str, input: &str, value: &str) {
    insta::with_settings!({ omit_expression => true, description => input }, {
        insta::assert_snapshot!(name.to_string(), value);
    });
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `(file stem, text)` of every `*.wb` in a directory of the workspace, sorted.
fn files(dir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wb"))
        .map(|p| {
            let stem = p
                .file_stem()
                .expect("file stem")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (stem, text)
        })
        .collect();
    out.sort();
    out
}

/// Where a file named by `good_files` or `e0001_files` lives.
fn path(name: &str) -> String {
    if let Some(stem) = name.strip_prefix("example_") {
        format!("examples/{stem}.wb")
    } else if let Some(stem) = name.strip_prefix("fixture_") {
        format!("tests/fixtures/parse/{stem}.wb")
    } else {
        format!("tests/fixtures/bad/{name}.wb")
    }
}

/// Every file that must parse without a single diagnostic.
fn good_files() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = files("examples")
        .into_iter()
        .map(|(name, text)| (format!("example_{name}"), text))
        .collect();
    all.extend(
        files("tests/fixtures/parse")
            .into_iter()
            .map(|(name, text)| (format!("fixture_{name}"), text)),
    );
    assert!(all.len() >= 10, "examples and parse fixtures are missing");
    all
}

fn e0001_files() -> Vec<(String, String)> {
    let bad: Vec<_> = files("tests/fixtures/bad")
        .into_iter()
        .filter(|(name, _)| name.starts_with("e0001_"))
        .collect();
    assert!(bad.len() >= 5, "E0001 fixtures are missing");
    bad
}

#[test]
fn parse_trees() {
    for (name, src) in good_files() {
        let (file, diagnostics) = parse(&src);
        assert_eq!(diagnostics, vec![], "{name} should parse cleanly");
        snapshot(&format!("tree_{name}"), &path(&name), &dump(&file, true));
    }
}

#[test]
fn grammar_file_rule_describes_the_same_language() {
    for (name, src) in good_files() {
        assert!(
            wbc::parse::grammar_accepts_file(&src),
            "`file` rule rejects {name}"
        );
    }
    for (name, src) in e0001_files() {
        if name != "e0001_nested_too_deep" {
            assert!(
                !wbc::parse::grammar_accepts_file(&src),
                "`file` rule accepts {name}"
            );
        }
    }
}

/// Where the E0001s are in fixtures that other test files own and snapshot,
/// which cannot take an `# expect:` line without moving their positions.
const EXPECTED_ELSEWHERE: &[(&str, &[(usize, usize)])] =
    &[("e0001_route_without_target", &[(3, 9)])];

/// `(line, column)` pairs from the fixture's `# expect: E0001 at L:C` lines.
fn expected_positions(src: &str) -> Vec<(usize, usize)> {
    src.lines()
        .filter_map(|l| l.strip_prefix("# expect: E0001 at "))
        .map(|at| {
            let (line, column) = at.split_once(':').expect("LINE:COLUMN");
            (
                line.trim().parse().expect("line"),
                column.trim().parse().expect("column"),
            )
        })
        .collect()
}

/// The rendered diagnostics of these files are snapshots of
/// tests/diagnostics.rs (human and JSON); here every E0001 position is checked.
#[test]
fn syntax_errors_are_reported_where_they_are_all_in_one_run() {
    for (name, src) in e0001_files() {
        let mut expected = expected_positions(&src);
        if let Some((_, at)) = EXPECTED_ELSEWHERE.iter().find(|(file, _)| *file == name) {
            expected.extend_from_slice(at);
        }
        assert!(
            !expected.is_empty(),
            "{name}: add `# expect: E0001 at LINE:COLUMN` lines"
        );
        let (_, diagnostics) = parse(&src);
        let index = wbc::render::LineIndex::new(&src);
        let found: Vec<(usize, usize)> = diagnostics
            .iter()
            .map(|d| {
                assert_eq!(d.code, Code::E0001, "{name}: {}", d.message);
                index.position(&src, d.primary.span.start as usize)
            })
            .collect();
        assert_eq!(found, expected, "{name}: {diagnostics:#?}");
    }
}

#[test]
fn statements_after_a_syntax_error_still_parse() {
    let src = "a = stdin\nb = = stdout\nc = null\na -> c\n";
    let (file, diagnostics) = parse(src);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        dump(&file, false),
        "decl a = stdin\ndecl c = null\nroute\n  queue a\n  queue c\n"
    );
}

#[test]
fn numbers_that_do_not_fit_are_e0006() {
    let src = "a = k(n: 9223372036854775808, d: 9999999999999999h, s: -9999999999999GiB, ok: -9223372036854775808)\n";
    let (file, diagnostics) = parse(src);
    let codes: Vec<(Code, &str)> = diagnostics
        .iter()
        .map(|d| (d.code, &src[d.primary.span.range()]))
        .collect();
    assert_eq!(
        codes,
        vec![
            (Code::E0006, "9223372036854775808"),
            (Code::E0006, "9999999999999999h"),
            (Code::E0006, "-9999999999999GiB")
        ]
    );
    assert_eq!(
        file.items.len(),
        1,
        "the declaration is kept so later checks still see it"
    );
}

#[test]
fn fmt_snapshots() {
    for (name, src) in good_files() {
        let formatted = wbc::fmt::format(&src).expect("good files format");
        snapshot(&format!("fmt_{name}"), &path(&name), &formatted);
    }
}

/// Formatting twice changes nothing more, and keeps the tree and comments.
fn assert_fmt_round_trip(name: &str, src: &str) {
    let Ok(once) = wbc::fmt::format(src) else {
        return;
    };
    let twice = wbc::fmt::format(&once)
        .unwrap_or_else(|d| panic!("{name}: formatted text does not parse: {d:?}"));
    assert_eq!(once, twice, "{name}: fmt is not idempotent");
    assert_eq!(
        dump(&parse(&once).0, false),
        dump(&parse(src).0, false),
        "{name}: fmt changed the tree"
    );
}

#[test]
fn fmt_is_idempotent_and_keeps_the_tree() {
    for (name, src) in good_files() {
        assert_fmt_round_trip(&name, &src);
    }
}

#[test]
fn fmt_refuses_files_with_syntax_errors() {
    for (name, src) in e0001_files() {
        assert!(wbc::fmt::format(&src).is_err(), "{name} was formatted");
    }
}

#[test]
fn ten_megabyte_file() {
    let mut src = String::new();
    let mut i = 0;
    while src.len() < 10 << 20 {
        src.push_str(&format!(
            "out_{i} = tcp.out(host: \"10.0.0.{}\", port: {}, reconnect: 250ms)\n",
            i % 250,
            1 + i % 60000
        ));
        src.push_str(&format!(
            "in_{i} -> roundrobin(out_{i}, spare) fallback funnel # route {i}\n"
        ));
        i += 1;
    }
    let started = std::time::Instant::now();
    let (file, diagnostics) = parse(&src);
    eprintln!(
        "parsed {} bytes, {} statements in {:?}",
        src.len(),
        2 * i,
        started.elapsed()
    );
    assert_eq!(diagnostics, vec![]);
    assert_eq!(file.items.len(), 2 * i);
    assert_eq!(file.comments.len(), i);
}

#[test]
fn ten_thousand_levels_of_nesting_are_one_clear_error() {
    let deep = format!(
        "a -> {}b{}\nc -> d\n",
        "roundrobin(".repeat(10_000),
        ")".repeat(10_000)
    );
    let unclosed = format!("a -> {}b\nc -> d\n", "fanout(".repeat(10_000));
    for src in [deep, unclosed] {
        let (file, diagnostics) = parse(&src);
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].code, Code::E0001);
        assert_eq!(
            diagnostics[0].message,
            "parentheses nested more than 256 levels deep"
        );
        assert_eq!(
            dump(&file, false),
            "route\n  queue c\n  queue d\n",
            "the next statement still parses"
        );
        assert!(wbc::fmt::format(&src).is_err());
        assert!(wbc::render::human(&diagnostics, "deep.wb", &src, false).contains("error[E0001]"));
    }
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let n = wbc::parse::MAX_NESTING;
    let src = format!("a -> {}b{}\n", "fanout(".repeat(n), ")".repeat(n));
    let (file, diagnostics) = parse(&src);
    assert_eq!(diagnostics, vec![]);
    assert_eq!(file.items.len(), 1);
    assert_fmt_round_trip("deep", &src);
}

#[test]
fn hundred_thousand_character_name() {
    let name = "n".repeat(100_000);
    let src = format!("{name} = stdin\n{name} -> out\n");
    let (file, diagnostics) = parse(&src);
    assert_eq!(diagnostics, vec![]);
    let wbc::ast::Item::Decl(decl) = &file.items[0] else {
        panic!("expected a declaration")
    };
    assert_eq!(decl.name.text.len(), 100_000);

    // In an error, the name is shortened in the message but fully underlined.
    let src = format!("a = stdin {name}\n");
    let (_, diagnostics) = parse(&src);
    assert_eq!(diagnostics.len(), 1);
    assert!(
        diagnostics[0].message.len() < 200,
        "{}",
        diagnostics[0].message
    );
    assert_eq!(diagnostics[0].primary.span.range().len(), 100_000);
}

/// Everything a user's input can reach in the front end, checked for the
/// invariants that must hold whatever the input.
fn exercise(src: &str) {
    let (_, diagnostics) = parse(src);
    for d in &diagnostics {
        let range = d.primary.span.range();
        assert!(
            range.start <= range.end && range.end <= src.len(),
            "span out of bounds: {d:?}"
        );
        assert!(
            src.is_char_boundary(range.start) && src.is_char_boundary(range.end),
            "span splits a char: {d:?}"
        );
    }
    let _ = wbc::render::human(&diagnostics, "fuzz.wb", src, true);
    for line in wbc::render::json_lines(&diagnostics, "fuzz.wb", src).lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("json line");
    }
    assert_fmt_round_trip("fuzz", src);
}

/// Pieces of the language, so random input often gets deep into the grammar.
const TOKENS: &[&str] = &[
    "a",
    "b.c",
    " ",
    "\n",
    "\r\n",
    "\t",
    "->",
    "=",
    ":",
    ",",
    "(",
    ")",
    "\"",
    "\"s\\\"\"",
    "\\",
    "#",
    "# c\n",
    "roundrobin(",
    "fanout(",
    "funnel(",
    "fallback",
    " funnel",
    "tcp.in",
    "port",
    "1",
    "-5",
    "250ms",
    "1s",
    "64KiB",
    "true",
    "é",
    "\u{0}",
    "9999999999999999999",
    ".",
];

proptest! {
    #[test]
    fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn never_panics_on_random_tokens(tokens in proptest::collection::vec(proptest::sample::select(TOKENS), 0..64)) {
        exercise(&tokens.concat());
    }

    #[test]
    fn never_panics_on_mutated_examples(
        which in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0..3u8, proptest::sample::select(TOKENS)), 1..8),
    ) {
        let examples = good_files();
        let mut src = examples[which.index(examples.len())].1.clone();
        for (at, op, token) in edits {
            let mut i = at.index(src.len() + 1);
            while !src.is_char_boundary(i) {
                i -= 1;
            }
            match op {
                0 => src.insert_str(i, token),
                1 => {
                    let end = src[i..].char_indices().nth(token.len()).map_or(src.len(), |(j, _)| i + j);
                    src.replace_range(i..end, "");
                }
                _ => {
                    let end = src[i..].chars().next().map_or(i, |c| i + c.len_utf8());
                    src.replace_range(i..end, token);
                }
            }
        }
        exercise(&src);
    }
}

#[test]
fn human_rendering_colors_only_when_asked() {
    let src = "a -> b $\n";
    let (_, diagnostics) = parse(src);
    let plain = wbc::render::human(&diagnostics, "x.wb", src, false);
    let colored = wbc::render::human(&diagnostics, "x.wb", src, true);
    assert_eq!(
        plain,
        "error[E0001]: expected `->` or end of line, found `$`\n  ┌─ x.wb:1:8\n  │\n1 │ a -> b $\n  │        ^ expected `->` or end of line\n\n"
    );
    assert!(!plain.contains('\u{1b}'));
    assert!(colored.contains("\u{1b}["), "{colored:?}");
}

/// The examples are what users copy: they are kept in the canonical layout
/// (`wbc fmt examples/*.wb` fixes this test).
#[test]
fn examples_are_formatted() {
    for (name, src) in files("examples") {
        assert_eq!(
            wbc::fmt::format(&src).as_deref(),
            Ok(src.as_str()),
            "examples/{name}.wb is not formatted"
        );
    }
}
