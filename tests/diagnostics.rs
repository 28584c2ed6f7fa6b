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
        let checked = check_source(&src);
        assert!(
            checked.diagnostics.is_empty(),
            "{name}: [{}]",
            summary(&checked)
        );
        let graph = checked.graph.expect("a clean file has a graph");
        let expanded = wbc::expand::expand(&graph, &src);
        insta::assert_snapshot!("expand", expanded);
        let again = check_source(&expanded);
        assert!(
            again.diagnostics.is_empty(),
            "{name} expanded: [{}]\n{expanded}",
            summary(&again)
        );
        let again = again.graph.expect("expanded output has a graph");
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
        let e = wbc::explain::explanation(*code);
        assert_eq!(e.code, *code, "{} has no explanation", code.as_str());
        let wrong = check_source(e.wrong);
        assert!(
            wrong.diagnostics.iter().any(|d| d.code == *code),
            "explain {}: wrong example gives [{}]",
            code.as_str(),
            summary(&wrong)
        );
        let fixed = check_source(e.fixed);
        assert!(
            fixed.diagnostics.is_empty() && fixed.graph.is_some(),
            "explain {}: corrected example gives [{}]",
            code.as_str(),
            summary(&fixed)
        );
    }
}

#[test]
fn every_example_draws_as_dot_and_mermaid() {
    insta::glob!("../examples", "*.wb", |path| {
        let graph = check_source(&read(path))
            .graph
            .expect("examples check clean");
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
    let e = wbc::explain::explanation(Code::E0010);
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
    let graph = check_source(&src).graph.expect("clean");
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
