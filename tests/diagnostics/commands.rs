//! `wbc expand`, `wbc graph` and `wbc explain`: the library output and the
//! commands that print it.

use std::path::Path;

use wbc::diagnostic::Code;

use super::{clean_graph, read};

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
