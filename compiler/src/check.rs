//! Checking: from the desugared routing table to the typed graph.
//!
//! Every check runs on every file, so one run reports all errors:
//!
//! 1. [`modules`]: names, kinds and arguments of declarations
//!    (E0002-E0006, E0014); defaults are filled in from the catalog;
//! 2. [`routes`]: each connection's modules and queues (E0007-E0009), and
//!    [`twice`]: queues connected more than once (E0010);
//! 3. [`network`]: listen addresses (E0012, W0002);
//! 4. [`flow`]: an empty file, dead ends, unused modules and cycles (W0003,
//!    E0011, W0001, E0013).
//!
//! Parsing reports E0001 (and numeric overflow as E0006), desugaring E0009
//! for a misplaced flow expression and E0015 for a misplaced `fallback`;
//! [`check_source`] runs all three stages and merges their diagnostics.
//!
//! Later checks skip what an earlier one already reported (a module of
//! unknown kind has no queues to check), so one mistake gives one error.
//! Everything is keyed by `HashMap`s: checking is linear in the file size.

mod flow;
mod modules;
mod network;
mod routes;
pub mod suggest;
mod twice;
pub mod values;

use crate::ast;
use crate::desugar::{desugar, Core};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::graph::{Graph, Module};

/// Everything the front end knows about one routing file.
#[derive(Debug, Clone)]
pub struct Checked {
    pub file: ast::File,
    pub core: Core,
    /// `Some` only when no stage reported an error.
    pub graph: Option<Graph>,
    /// Parse, desugar and check diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity() == Severity::Error)
    }
}

/// Parses, desugars and checks `src`: what `wbc check`, `build`, `expand`
/// and `graph` run.
///
/// Statements with syntax errors are missing from the tree, so when there
/// are any, the checks that depend on seeing the whole file (undeclared
/// modules, unused modules, queues connected nowhere) are left out rather
/// than reported about statements the user did write.
pub fn check_source(src: &str) -> Checked {
    let (file, mut diagnostics) = crate::parse::parse(src);
    let (core, desugar_diags) = desugar(&file);
    let (graph, check_diags) = check(&core);
    let incomplete = diagnostics.iter().any(|d| d.code == Code::E0001);
    let already = |d: &Diagnostic, seen: &[Diagnostic]| {
        seen.iter()
            .any(|p| p.code == d.code && p.primary.span == d.primary.span)
    };
    let parse_diags = diagnostics.clone();
    diagnostics.extend(desugar_diags);
    diagnostics.extend(check_diags.into_iter().filter(|d| {
        let needs_whole_file = matches!(
            d.code,
            Code::E0007 | Code::E0011 | Code::W0001 | Code::W0003
        );
        let hidden = incomplete && needs_whole_file;
        !hidden && !already(d, &parse_diags)
    }));
    sort_and_dedup(&mut diagnostics);
    let graph = graph.filter(|_| !diagnostics.iter().any(|d| d.severity() == Severity::Error));
    Checked {
        file,
        core,
        graph,
        diagnostics,
    }
}

/// Checks `core`. The graph is `Some` only when there are no errors
/// (warnings allowed). Diagnostics are sorted by position.
pub fn check(core: &Core) -> (Option<Graph>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let modules = modules::check_modules(core, &mut diags);
    let wiring = routes::check_connections(core, &modules, &mut diags);
    network::check_addresses(&modules, &mut diags);
    flow::check_not_empty(&modules, &mut diags);
    flow::check_dead_ends(&modules, &wiring, &mut diags);
    flow::check_cycles(&modules, &wiring.connections, &mut diags);
    sort_and_dedup(&mut diags);
    if diags.iter().any(|d| d.severity() == Severity::Error) {
        return (None, diags);
    }
    let mut graph_modules = Vec::with_capacity(modules.entries.len());
    for entry in modules.entries {
        // Without errors every module has a kind and all its arguments.
        let (Some(kind), Some(args)) = (entry.kind, entry.args) else {
            return (None, diags);
        };
        graph_modules.push(Module {
            name: entry.decl.name.text.clone(),
            kind,
            args,
            span: entry.decl.span,
            generated: entry.decl.generated,
        });
    }
    (
        Some(Graph {
            modules: graph_modules,
            connections: wiring.connections,
        }),
        diags,
    )
}

/// Orders diagnostics as a reader meets them (by position, then code) and
/// drops repeats: desugaring can name one module in several connections
/// (a fallback member's inbox and its `failed` queue), and a typo there is
/// one mistake, so it is reported once.
pub fn sort_and_dedup(diags: &mut Vec<Diagnostic>) {
    let key = |d: &Diagnostic| (d.primary.span.start, d.primary.span.end, d.code);
    diags.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message)));
    diags.dedup_by(|a, b| key(a) == key(b) && a.message == b.message);
}

#[cfg(test)]
mod tests;
