//! End-to-end tests of the front end's checks, over source files:
//!
//! - every file in `tests/fixtures/bad/` (named `eNNNN_<what>.wb` after the
//!   code it must produce) reports that code, and its rendered human and
//!   JSON diagnostics are snapshots (reviewed: right code, right span);
//! - every file in `examples/` checks clean, its desugared table (`wbc
//!   expand` output) is a snapshot, and that output re-checks to the same
//!   graph;
//! - every `wbc explain` example behaves as it claims;
//! - an ignored benchmark times `check_source` on a 10,000-module file.

use std::collections::BTreeSet;
use std::path::Path;

use wbc::check::{check_source, Checked};
use wbc::diagnostic::{Code, Severity};
use wbc::graph::Graph;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The code a bad fixture is named after: `e0010_x.wb` -> E0010.
fn expected_code(name: &str) -> Code {
    name.get(..5)
        .and_then(Code::parse)
        .unwrap_or_else(|| panic!("{name}: name must start with a code"))
}

fn summary(checked: &Checked) -> String {
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    codes.join(", ")
}

#[test]
fn every_bad_file_reports_its_code_and_matches_its_snapshots() {
    insta::glob!("fixtures/bad", "*.wb", |path| {
        let name = file_name(path);
        let src = read(path);
        let checked = check_source(&src);
        let code = expected_code(&name);
        assert!(
            checked.diagnostics.iter().any(|d| d.code == code),
            "{name}: expected {} among [{}]",
            code.as_str(),
            summary(&checked)
        );
        if code.severity() == Severity::Error {
            assert!(
                checked.graph.is_none(),
                "{name}: an error must not give a graph"
            );
        }
        let shown = format!("tests/fixtures/bad/{name}");
        insta::assert_snapshot!(
            "human",
            wbc::render::human(&checked.diagnostics, &shown, &src, false)
        );
        insta::assert_snapshot!(
            "json",
            wbc::render::json_lines(&checked.diagnostics, &shown, &src)
        );
    });
}

#[test]
fn every_code_has_a_bad_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bad");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures/bad")
        .filter_map(|e| e.ok().map(|e| file_name(&e.path())))
        .collect();
    for code in Code::ALL {
        let prefix = code.as_str().to_lowercase();
        assert!(
            names.iter().any(|n| n.starts_with(&prefix)),
            "no tests/fixtures/bad/{prefix}_*.wb"
        );
    }
    for code in [Code::E0010, Code::E0011] {
        let prefix = code.as_str().to_lowercase();
        assert!(
            names.iter().filter(|n| n.starts_with(&prefix)).count() >= 3,
            "want several {prefix} files"
        );
    }
}

/// The graph of `src`, which must check without any diagnostic.
fn clean_graph(src: &str, what: &str) -> Graph {
    let checked = check_source(src);
    assert!(
        checked.diagnostics.is_empty(),
        "{what}: [{}]",
        summary(&checked)
    );
    checked
        .graph
        .expect("a file without diagnostics has a graph")
}

/// A graph described without spans or the `generated` flag: what two
/// routing files must share to mean the same proxy.
fn canonical(graph: &Graph) -> (Vec<String>, BTreeSet<String>) {
    let modules = graph
        .modules
        .iter()
        .map(|m| format!("{} = {}", m.name, wbc::expand::kind_and_args(m)))
        .collect();
    let connections = graph
        .connections
        .iter()
        .map(|c| {
            let (from, to) = (graph.module(c.from.module), graph.module(c.to.module));
            format!(
                "{}.{} -> {}.{}",
                from.name, c.from.queue, to.name, c.to.queue
            )
        })
        .collect();
    (modules, connections)
}

#[test]
fn every_example_checks_clean_and_expands_to_the_same_graph() {
    insta::glob!("../examples", "*.wb", |path| {
        let name = file_name(path);
        let src = read(path);
        let graph = clean_graph(&src, &name);
        let expanded = wbc::expand::expand(&graph, &src);
        insta::assert_snapshot!("expand", expanded);
        let again = clean_graph(&expanded, &format!("{name} expanded:\n{expanded}"));
        assert_eq!(
            canonical(&again),
            canonical(&graph),
            "{name}: expand changed the graph"
        );
    });
}

#[test]
fn every_explain_example_behaves_as_claimed() {
    for code in Code::ALL {
        let e = wbc::explain::explanation(*code)
            .unwrap_or_else(|| panic!("{} has no explanation", code.as_str()));
        let wrong = check_source(e.wrong);
        assert!(
            wrong.diagnostics.iter().any(|d| d.code == *code),
            "explain {}: wrong example gives [{}]",
            code.as_str(),
            summary(&wrong)
        );
        clean_graph(
            e.fixed,
            &format!("explain {}: corrected example", code.as_str()),
        );
    }
}

#[test]
fn every_example_draws_as_dot_and_mermaid() {
    insta::glob!("../examples", "*.wb", |path| {
        let graph = clean_graph(&read(path), &file_name(path));
        insta::assert_snapshot!("dot", wbc::dot::dot(&graph));
        insta::assert_snapshot!("mermaid", wbc::dot::mermaid(&graph));
    });
}

/// Runs the `wbc` binary; returns (exit code, stdout, stderr).
fn wbc(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wbc"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("run wbc");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn cli_explain_prints_the_examples_and_rejects_unknown_codes() {
    let (code, out, _) = wbc(&["explain", "e0010"]);
    assert_eq!(code, 0);
    let e = wbc::explain::explanation(Code::E0010).expect("E0010 is explained");
    assert!(out.starts_with("E0010: "), "{out}");
    for line in e.wrong.lines().chain(e.fixed.lines()) {
        assert!(
            out.contains(&format!("    {line}\n")),
            "missing `{line}` in\n{out}"
        );
    }
    let (code, out, err) = wbc(&["explain", "E9999"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("`E9999` is not a wbc diagnostic code"),
        "{err}"
    );
}

#[test]
fn cli_expand_and_graph_print_the_checked_graph_or_the_errors() {
    let example = "examples/scenario3_failover_metrics.wb";
    let src = read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(example),
    );
    let graph = clean_graph(&src, example);
    assert_eq!(
        wbc(&["expand", example]),
        (0, wbc::expand::expand(&graph, &src), String::new())
    );
    assert_eq!(
        wbc(&["graph", example]),
        (0, wbc::dot::dot(&graph), String::new())
    );
    assert_eq!(
        wbc(&["graph", "--format", "mermaid", example]),
        (0, wbc::dot::mermaid(&graph), String::new())
    );
    let bad = "tests/fixtures/bad/e0010_source_connected_twice.wb";
    for command in ["expand", "graph"] {
        let (code, out, err) = wbc(&[command, bad]);
        assert_eq!((code, out.as_str()), (1, ""), "{command}");
        assert!(err.contains("error[E0010]"), "{command}: {err}");
    }
    assert_eq!(wbc(&["expand", "no/such/file.wb"]).0, 2);
}

/// A clean routing file with `groups * 5` modules and `groups * 10` routes:
/// per group a listener, a funnel, a roundrobin with seven outputs into a
/// second funnel, and an output.
fn large_file(groups: usize) -> String {
    let mut src = String::new();
    for i in 0..groups {
        src.push_str(&format!(
            "in_{i} = tcp.in(port: {})\nf_{i} = funnel\nrr_{i} = roundrobin\ng_{i} = funnel\n\
             out_{i} = tcp.out(host: \"10.0.0.2\", port: 9000)\n",
            1024 + i
        ));
    }
    for i in 0..groups {
        src.push_str(&format!("in_{i} -> f_{i}\nf_{i} -> rr_{i}\n"));
        for k in 0..7 {
            src.push_str(&format!("rr_{i}.q{k} -> g_{i}\n"));
        }
        src.push_str(&format!("g_{i} -> out_{i}\n"));
    }
    src
}

/// `cargo test --release -p wbc --test diagnostics -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: prints how long checking a 10,000-module file takes"]
fn bench_check_10k_modules_20k_routes() {
    let src = large_file(2000);
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let checked = check_source(&src);
        best = best.min(start.elapsed());
        assert!(checked.diagnostics.is_empty(), "[{}]", summary(&checked));
        let graph = checked.graph.expect("clean");
        assert_eq!(
            (graph.modules.len(), graph.connections.len()),
            (10_000, 20_000)
        );
    }
    println!(
        "check_source: 10,000 modules, 20,000 routes, {} bytes: best of 5 {:?}",
        src.len(),
        best
    );
    let start = std::time::Instant::now();
    let (file, _) = wbc::parse::parse(&src);
    let parsed = start.elapsed();
    let (core, _) = wbc::desugar::desugar(&file);
    let desugared = start.elapsed();
    let _ = wbc::check::check(&core);
    let checked = start.elapsed();
    println!(
        "  of which parse {parsed:?}, desugar {:?}, check {:?}",
        desugared - parsed,
        checked - desugared
    );
}

/// The core table of `src` as `a.q -> b.q` lines.
fn table(src: &str) -> Vec<String> {
    clean_graph(src, src);
    check_source(src)
        .core
        .connections
        .iter()
        .map(|c| format!("{} -> {}", c.from.explicit(), c.to.explicit()))
        .collect()
}

#[test]
fn desugaring_on_source_text() {
    // Routes before declarations; a chain through declared flow modules;
    // bare flow names get a fresh queue each time.
    let chain = "input -> merge -> rr -> a\nrr -> b\nb.failed -> merge\n\
                 input = tcp.in(port: 1)\nmerge = funnel\nrr = roundrobin\na = tcp.out(port: 2)\nb = tcp.out(port: 3)\n";
    assert_eq!(
        table(chain),
        [
            "input.outbox -> merge.in_1",
            "merge.outbox -> rr.inbox",
            "rr.out_1 -> a.inbox",
            "rr.out_2 -> b.inbox",
            "b.failed -> merge.in_2"
        ]
    );
    // Nested inline flows are numbered per kind in source order, skipping
    // names the file uses; a fanout in the middle of a chain sends on
    // through one more fresh queue.
    let nested = "i = tcp.in(port: 1)\nfanout_1 = stdout\na = tcp.out(port: 2)\nb = tcp.out(port: 3)\nc = null\n\
                  i -> fanout(roundrobin(a, b), fanout_1) -> c\n";
    assert_eq!(
        table(nested),
        [
            "i.outbox -> fanout_2.inbox",
            "fanout_2.out_1 -> roundrobin_1.inbox",
            "roundrobin_1.out_1 -> a.inbox",
            "roundrobin_1.out_2 -> b.inbox",
            "fanout_2.out_2 -> fanout_1.inbox",
            "fanout_2.out_3 -> c.inbox",
        ]
    );
}

mod random_files {
    //! Property: on any routing file built from the language's pieces
    //! (valid or not), checking never panics, and whenever it yields a
    //! graph, `expand` writes a file that re-checks without errors, with
    //! the same warnings, to the same graph.

    use proptest::prelude::*;

    use super::{canonical, check_source};

    const NAMES: &[&str] = &["a", "b", "c", "d", "rr", "fo", "fu", "roundrobin_1"];
    const KINDS: &[&str] = &[
        "tcp.in",
        "tcp.out",
        "roundrobin",
        "fanout",
        "funnel",
        "stdin",
        "stdout",
        "null",
        "file.out",
        "metrics.graphite",
        "tcp.ot",
        "metrics.prometheus",
    ];
    const ARGS: &[&str] = &[
        "port: 1",
        "port: 2",
        "port: 0",
        "host: \"0.0.0.0\"",
        "failed: true",
        "failed: false",
        "path: \"x.log\"",
        "reconnect: 250ms",
        "interval: 5",
        "port: 1",
    ];
    const QUEUES: &[&str] = &["inbox", "outbox", "failed", "one", "two"];

    fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(items).prop_map(str::to_string)
    }

    fn decl() -> impl Strategy<Value = String> {
        (
            pick(NAMES),
            pick(KINDS),
            prop::collection::vec(pick(ARGS), 0..3),
        )
            .prop_map(|(n, k, args)| {
                if args.is_empty() {
                    format!("{n} = {k}")
                } else {
                    format!("{n} = {k}({})", args.join(", "))
                }
            })
    }

    fn expr() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            pick(NAMES),
            (pick(NAMES), pick(QUEUES)).prop_map(|(n, q)| format!("{n}.{q}")),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            let op = pick(&["roundrobin", "fanout", "funnel"]);
            let fallback = prop_oneof![
                Just(String::new()),
                Just(" fallback funnel".to_string()),
                pick(NAMES).prop_map(|n| format!(" fallback {n}")),
            ];
            (op, prop::collection::vec(inner, 0..4), fallback).prop_map(
                |(op, members, fallback)| format!("{op}({}){fallback}", members.join(", ")),
            )
        })
    }

    fn route() -> impl Strategy<Value = String> {
        prop::collection::vec(expr(), 2..4).prop_map(|stages| stages.join(" -> "))
    }

    fn file() -> impl Strategy<Value = String> {
        prop::collection::vec(prop_oneof![decl(), route()], 0..12)
            .prop_map(|lines| lines.join("\n") + "\n")
    }

    /// Routes whose every leaf is a new module (`@KIND@` placeholders,
    /// numbered and declared by [`declare`]), so that most files check clean.
    fn target() -> impl Strategy<Value = String> {
        let sink = pick(&[
            "@tcp.out@",
            "@file.out@",
            "@stdout@",
            "@null@",
            "@tcp.out@.inbox",
        ]);
        let failing = || pick(&["@tcp.out@", "@file.out@"]);
        sink.prop_recursive(3, 16, 3, move |inner| {
            let list = |s: BoxedStrategy<String>, min| {
                prop::collection::vec(s, min..4).prop_map(|m| m.join(", "))
            };
            prop_oneof![
                list(inner.clone().boxed(), 1).prop_map(|m| format!("roundrobin({m})")),
                list(inner.clone().boxed(), 1).prop_map(|m| format!("fanout({m})")),
                list(failing().boxed(), 1).prop_map(|m| format!("roundrobin({m}) fallback funnel")),
                list(failing().boxed(), 1).prop_map(|m| format!("fanout({m}) fallback @null@")),
                list(failing().boxed(), 2)
                    .prop_map(|m| format!("roundrobin({m}) fallback @file.out@")),
            ]
        })
    }

    fn source() -> impl Strategy<Value = String> {
        let leaf = pick(&[
            "@tcp.in@",
            "@stdin@",
            "@metrics.graphite@",
            "@tcp.in@.outbox",
        ]);
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop::collection::vec(inner, 1..4).prop_map(|m| format!("funnel({})", m.join(", ")))
        })
    }

    fn good_route() -> impl Strategy<Value = String> {
        let middle = pick(&[
            "",
            " -> @funnel@",
            " -> @roundrobin@",
            " -> @fanout@",
            " -> @funnel@ -> @fanout@",
        ]);
        (source(), middle, target()).prop_map(|(s, m, t)| format!("{s}{m} -> {t}"))
    }

    /// Replaces every `@KIND@` with a new module name and declares it,
    /// before or after the routes.
    fn declare(routes: &[String], decls_first: bool) -> String {
        let (mut decls, mut body) = (String::new(), String::new());
        let mut n = 0;
        for route in routes {
            let mut rest = route.as_str();
            while let Some(start) = rest.find('@') {
                let Some(len) = rest[start + 1..].find('@') else {
                    break;
                };
                let kind = &rest[start + 1..start + 1 + len];
                n += 1;
                let args = match kind {
                    "tcp.in" => format!("(port: {})", 1000 + n),
                    "tcp.out" => "(port: 9, reconnect: 250ms)".to_string(),
                    "file.out" => format!("(path: \"f{n}.log\")"),
                    _ => String::new(),
                };
                decls.push_str(&format!("m{n} = {kind}{args}\n"));
                body.push_str(&format!("{}m{n}", &rest[..start]));
                rest = &rest[start + len + 2..];
            }
            body.push_str(rest);
            body.push('\n');
        }
        if decls_first {
            decls + &body
        } else {
            body + &decls
        }
    }

    fn good_file() -> impl Strategy<Value = String> {
        (prop::collection::vec(good_route(), 1..5), any::<bool>())
            .prop_map(|(r, first)| declare(&r, first))
    }

    /// Checks `src`; when it gives a graph, its expansion must re-check to
    /// the same graph with the same diagnostics. Returns whether it did.
    fn round_trip(src: &str) -> Result<bool, TestCaseError> {
        let checked = check_source(src);
        let Some(graph) = checked.graph else {
            return Ok(false);
        };
        let expanded = wbc::expand::expand(&graph, src);
        let again = check_source(&expanded);
        let codes = |d: &[wbc::diagnostic::Diagnostic]| {
            let mut c: Vec<_> = d.iter().map(|d| d.code).collect();
            c.sort();
            c
        };
        prop_assert_eq!(
            codes(&again.diagnostics),
            codes(&checked.diagnostics),
            "{}\n{}",
            src,
            expanded
        );
        let again = again.graph.expect("no errors, so a graph");
        prop_assert_eq!(
            canonical(&again),
            canonical(&graph),
            "{}\n{}",
            src,
            expanded
        );
        Ok(true)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn checking_any_file_never_panics(src in file()) {
            round_trip(&src)?;
        }

        #[test]
        fn clean_files_expand_to_the_same_graph(src in good_file()) {
            // The generator only builds valid files: one that does not
            // check clean is a checker (or generator) bug worth seeing.
            let checked = check_source(&src);
            prop_assert!(!checked.has_errors(), "{}\n{}", src,
                wbc::render::human(&checked.diagnostics, "generated.wb", &src, false));
            prop_assert!(round_trip(&src)?);
        }
    }
}

#[test]
fn graph_labels_escape_quotes_and_mark_failed_edges() {
    let src = "i = stdin\nw = file.out(path: \"a \\\"b\\\" \\\\c\")\ndead = null\ni -> w\nw.failed -> dead\n";
    let graph = clean_graph(src, "labels");
    let dot = wbc::dot::dot(&graph);
    assert!(
        dot.contains(r#""w" [label="w\nfile.out\na \"b\" \\c"];"#),
        "{dot}"
    );
    assert!(
        dot.contains(r#""w" -> "dead" [label="failed → inbox", style=dashed];"#),
        "{dot}"
    );
    assert!(
        dot.contains(r#""i" -> "w" [label="outbox → inbox"];"#),
        "{dot}"
    );
    let mermaid = wbc::dot::mermaid(&graph);
    assert!(
        mermaid.contains(r#"m1["w<br/>file.out<br/>a #quot;b#quot; \c"]"#),
        "{mermaid}"
    );
    assert!(
        mermaid.contains(r#"m1 -.->|"failed → inbox"| m2"#),
        "{mermaid}"
    );
}

#[test]
fn all_errors_of_a_file_are_reported_in_one_run() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/bad/e0007_among_other_errors.wb");
    let checked = check_source(&read(&path));
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E0002", "E0004", "E0006", "E0007", "E0009"]);
}
