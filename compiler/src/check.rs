//! Checking: from the desugared routing table to the typed graph.
//!
//! Every check runs on every file, so one run reports all errors:
//!
//! 1. [`modules`]: names, kinds and arguments of declarations
//!    (E0002-E0006, E0014); defaults are filled in from the catalog;
//! 2. [`routes`]: each connection's modules and queues (E0007-E0010);
//! 3. [`network`]: listen addresses (E0012, W0002);
//! 4. [`flow`]: dead ends, unused modules and cycles (E0011, W0001, E0013).
//!
//! Later checks skip what an earlier one already reported (a module of
//! unknown kind has no queues to check), so one mistake gives one error.
//! Everything is keyed by `HashMap`s: checking is linear in the file size.

mod flow;
mod modules;
mod network;
mod routes;
mod suggest;
pub mod values;

use crate::desugar::Core;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::{Graph, Module};

/// Checks `core`. The graph is `Some` only when there are no errors
/// (warnings allowed). Diagnostics are sorted by position.
pub fn check(core: &Core) -> (Option<Graph>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let modules = modules::check_modules(core, &mut diags);
    let wiring = routes::check_connections(core, &modules, &mut diags);
    network::check_addresses(&modules, &mut diags);
    flow::check_dead_ends(&modules, &wiring, &mut diags);
    flow::check_cycles(&modules, &wiring.connections, &mut diags);
    sort(&mut diags);
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

/// Orders diagnostics as a reader meets them: by position, then code.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| (d.primary.span.start, d.primary.span.end, d.code));
}

#[cfg(test)]
mod tests;
