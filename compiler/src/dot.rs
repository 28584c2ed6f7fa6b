//! `wbc graph`: the checked graph as a picture source, Graphviz dot or
//! Mermaid.
//!
//! Modules are nodes labelled with name, kind and key arguments (the
//! address of a `tcp.in`/`tcp.out`, the path of a `file.out`); modules that
//! desugaring generated have a dashed border. Connections are edges
//! labelled with their queues; edges out of a `failed` queue are dashed,
//! since events only take them when a module is down.

use std::fmt::Write;

use crate::graph::{Connection, Graph, Module, Value};

/// The text lines of a node's label.
fn label_lines(m: &Module) -> Vec<String> {
    let mut lines = vec![m.name.clone(), m.kind.name.to_string()];
    let arg = |name: &str| {
        m.args
            .iter()
            .find(|a| a.spec.name == name)
            .map(|a| &a.value)
    };
    match (arg("host"), arg("port"), arg("path")) {
        (Some(Value::Str(host)), Some(Value::Int(port)), _) => lines.push(format!("{host}:{port}")),
        (_, _, Some(Value::Str(path))) => lines.push(path.clone()),
        _ => {}
    }
    lines
}

fn edge_label(c: &Connection) -> String {
    format!("{} → {}", c.from.queue, c.to.queue)
}

fn is_failed(c: &Connection) -> bool {
    c.from.queue == "failed"
}

/// A Graphviz dot digraph, left to right.
pub fn dot(graph: &Graph) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from(
        "digraph wb {\n    rankdir=LR;\n    node [shape=box, fontname=\"monospace\"];\n",
    );
    for m in &graph.modules {
        let label = label_lines(m)
            .iter()
            .map(|l| l.replace('\\', "\\\\").replace('"', "\\\""))
            .collect::<Vec<_>>();
        let style = if m.generated { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "    {} [label=\"{}\"{style}];",
            quote(&m.name),
            label.join("\\n")
        );
    }
    for c in &graph.connections {
        let (from, to) = (
            &graph.module(c.from.module).name,
            &graph.module(c.to.module).name,
        );
        let style = if is_failed(c) { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "    {} -> {} [label={}{style}];",
            quote(from),
            quote(to),
            quote(&edge_label(c))
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart, left to right. Node ids are `m0`, `m1`, ... so that
/// module names never clash with Mermaid keywords (`end`).
pub fn mermaid(graph: &Graph) -> String {
    let text = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for (i, m) in graph.modules.iter().enumerate() {
        let label: Vec<String> = label_lines(m).iter().map(|l| text(l)).collect();
        let _ = writeln!(out, "    m{i}[\"{}\"]", label.join("<br/>"));
    }
    for c in &graph.connections {
        let arrow = if is_failed(c) { "-.->" } else { "-->" };
        let _ = writeln!(
            out,
            "    m{} {arrow}|\"{}\"| m{}",
            c.from.module.0,
            text(&edge_label(c)),
            c.to.module.0
        );
    }
    let generated: Vec<String> = graph
        .modules
        .iter()
        .enumerate()
        .filter(|(_, m)| m.generated)
        .map(|(i, _)| format!("m{i}"))
        .collect();
    if !generated.is_empty() {
        out.push_str("    classDef generated stroke-dasharray: 5 5\n");
        let _ = writeln!(out, "    class {} generated", generated.join(","));
    }
    out
}
