//! End-to-end tests of the front end's checks, over source files:
//!
//! - every file in `tests/fixtures/bad/` (named `eNNNN_<what>.wb` after the
//!   code it must produce) reports that code, reports nothing twice, never
//!   names a module that desugaring made (the file cannot use `fanout_1`),
//!   and its rendered human and JSON diagnostics are snapshots (reviewed:
//!   right code, right span);
//! - every file in `examples/` checks clean, its desugared table (`wbc
//!   expand` output) is a snapshot, and that output re-checks to the same
//!   graph;
//! - every `wbc explain` example behaves as it claims;
//! - `commands`: `wbc expand`, `graph` and `explain` print what the
//!   library computes, and exit 1 / 2 on bad files and unknown codes;
//! - `random_files`: property tests over generated routing files;
//! - `bench`: an ignored benchmark times `check_source` on a
//!   10,000-module file.

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
        for (i, d) in checked.diagnostics.iter().enumerate() {
            assert!(
                !checked.diagnostics[..i].contains(d),
                "{name}: {} `{}` reported twice",
                d.code.as_str(),
                d.message
            );
        }
        for generated in checked.core.modules.iter().filter(|m| m.generated) {
            let generated = &generated.name.text;
            for d in &checked.diagnostics {
                assert!(
                    !words(d).iter().any(|w| w == generated),
                    "{name}: {} names `{generated}`, which desugaring made and the file cannot use",
                    d.code.as_str()
                );
            }
        }
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

/// The identifier-like words of everything a diagnostic says.
fn words(d: &wbc::diagnostic::Diagnostic) -> Vec<String> {
    let labels = std::iter::once(&d.primary).chain(&d.secondary);
    let texts = labels
        .map(|l| l.message.as_str())
        .chain([d.message.as_str()])
        .chain(d.help.as_deref())
        .chain(d.notes.iter().map(String::as_str));
    texts
        .flat_map(|t| t.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
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

#[test]
fn every_example_draws_as_dot_and_mermaid() {
    insta::glob!("../examples", "*.wb", |path| {
        let graph = clean_graph(&read(path), &file_name(path));
        insta::assert_snapshot!("dot", wbc::dot::dot(&graph));
        insta::assert_snapshot!("mermaid", wbc::dot::mermaid(&graph));
    });
}

#[path = "diagnostics/bench.rs"]
mod bench;
#[path = "diagnostics/commands.rs"]
mod commands;
#[path = "diagnostics/random_files.rs"]
mod random_files;

#[test]
fn a_syntax_error_hides_only_the_checks_that_need_the_whole_file() {
    // `output`'s declaration is broken, so it is missing from the tree:
    // no "undeclared `output`" and no "`input.outbox` connected nowhere",
    // but the other declaration's own error is still reported.
    let src = "input  = tcp.in(port: 10000)\noutput = tcp.out(port 20000)\n\
               other  = tcp.out(port: 0)\ninput -> output\n";
    let checked = check_source(src);
    let codes: Vec<&str> = checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect();
    assert_eq!(codes, ["E0001", "E0006"]);
    assert!(checked.graph.is_none());
}

#[test]
fn the_deepest_nesting_the_parser_accepts_checks_without_overflow() {
    let depth = wbc::parse::MAX_NESTING - 1;
    let src = format!(
        "i = tcp.in(port: 1)\no = stdout\ni -> {}o{}\n",
        "roundrobin(".repeat(depth),
        ")".repeat(depth)
    );
    let graph = clean_graph(&src, "deep nesting");
    assert_eq!(
        (graph.modules.len(), graph.connections.len()),
        (depth + 2, depth + 1)
    );
}
