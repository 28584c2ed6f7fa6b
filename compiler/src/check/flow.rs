//! Graph-wide checks on where events go: a file with nothing to run
//! (W0003), output queues that events reach but that lead nowhere (E0011),
//! modules that never receive (W0001), and cycles that events would loop
//! around forever (E0013).

use super::modules::Modules;
use super::routes::Wiring;
use crate::catalog::{Queues, Role};
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{Connection, Endpoint, ModuleId, Value};
use crate::span::Span;

/// A file that declares no module builds a proxy that listens nowhere and
/// sends nothing: almost always the wrong file, or an empty one.
pub(crate) fn check_not_empty(modules: &Modules, diags: &mut Vec<Diagnostic>) {
    if modules.entries.is_empty() {
        diags.push(
            Diagnostic::new(Code::W0003, Span::new(0, 0), "this file declares no module")
                .with_label("the proxy would do nothing")
                .with_help("declare modules and routes, e.g. `input = tcp.in(port: 10000)`, `output = tcp.out(port: 20000)` and `input -> output`"),
        );
    }
}

pub(crate) fn check_dead_ends(modules: &Modules, wiring: &Wiring, diags: &mut Vec<Diagnostic>) {
    for (i, entry) in modules.entries.iter().enumerate() {
        let Some(kind) = entry.kind else { continue };
        let (id, name) = (ModuleId(i), entry.name());
        let (fed, feeds) = (wiring.named_as_target[i], wiring.named_as_source[i]);
        let span = if entry.decl.generated {
            entry.decl.span
        } else {
            entry.decl.name.span
        };
        let connected = |queue: &str| wiring.used_outputs.contains(&(id, queue.to_string()));
        match kind.role {
            Role::Source if !feeds => diags.push(
                Diagnostic::new(
                    Code::E0011,
                    span,
                    format!("output queue `{name}.outbox` is connected nowhere"),
                )
                .with_label(format!("the events of this `{}` would pile up", kind.name))
                .with_help(format!("connect it (`{name} -> ...`) or remove `{name}`")),
            ),
            Role::RoundRobin | Role::Fanout if fed && !feeds => diags.push(
                Diagnostic::new(
                    Code::E0011,
                    span,
                    if entry.decl.generated {
                        format!("this `{}(...)` has no members", kind.name)
                    } else {
                        format!("`{name}` has no outputs")
                    },
                )
                .with_label(format!("events sent to this `{}` would pile up", kind.name))
                .with_help(if entry.decl.generated {
                    format!("give the `{}(...)` at least one member", kind.name)
                } else {
                    format!("connect its outputs: `{name}.one -> ...`")
                }),
            ),
            Role::Funnel if fed && !feeds => diags.push(
                Diagnostic::new(
                    Code::E0011,
                    span,
                    format!("output queue `{name}.outbox` is connected nowhere"),
                )
                .with_label("events merged here would pile up")
                .with_help(format!("connect it: `{name} -> ...`")),
            ),
            _ => {}
        }
        let failed_enabled = entry.arg("failed") == Some(&Value::Bool(true));
        if failed_enabled && fed && !connected("failed") {
            diags.push(
                Diagnostic::new(
                    Code::E0011,
                    entry.arg_span("failed"),
                    format!("output queue `{name}.failed` is connected nowhere"),
                )
                .with_label("events that cannot be delivered would pile up here")
                .with_help(format!(
                    "connect it (`{name}.failed -> ...`) or remove `failed: true`"
                )),
            );
        }
        if entry.decl.generated || kind.inputs == Queues::None || fed {
            continue;
        }
        let message = if feeds {
            format!("module `{name}` never receives events")
        } else {
            format!("module `{name}` is never used")
        };
        diags.push(
            Diagnostic::new(Code::W0001, entry.decl.name.span, message)
                .with_label(format!("no route sends events to this `{}`", kind.name))
                .with_help(format!("connect it (`... -> {name}`) or remove it")),
        );
    }
}

/// Reports every cycle of connections that does not pass through a
/// `failed` queue (a failed queue only carries events when a module is down,
/// so the failover loop `roundrobin -> out -> failed -> funnel -> roundrobin`
/// is fine). Iterative depth-first search: long chains must not overflow
/// the stack.
pub(crate) fn check_cycles(
    modules: &Modules,
    connections: &[Connection],
    diags: &mut Vec<Diagnostic>,
) {
    let n = modules.entries.len();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in connections.iter().enumerate() {
        if c.from.queue != "failed" {
            next[c.from.module.0].push(i);
        }
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Grey,
        Black,
    }
    let mut color = vec![Color::White; n];
    // (module, index of its next outgoing edge to try, edge that reached it)
    let mut stack: Vec<(usize, usize, Option<usize>)> = Vec::new();
    for root in 0..n {
        if color[root] != Color::White {
            continue;
        }
        color[root] = Color::Grey;
        stack.push((root, 0, None));
        while let Some(top) = stack.last_mut() {
            let (node, edge_pos) = (top.0, top.1);
            let Some(&edge) = next[node].get(edge_pos) else {
                color[node] = Color::Black;
                stack.pop();
                continue;
            };
            top.1 += 1;
            let to = connections[edge].to.module.0;
            match color[to] {
                Color::White => {
                    color[to] = Color::Grey;
                    stack.push((to, 0, Some(edge)));
                }
                Color::Grey => {
                    let start = stack.iter().rposition(|f| f.0 == to).unwrap_or(0);
                    let mut cycle: Vec<usize> =
                        stack[start + 1..].iter().filter_map(|f| f.2).collect();
                    cycle.push(edge);
                    diags.push(cycle_diagnostic(modules, connections, &cycle));
                }
                Color::Black => {}
            }
        }
    }
}

fn cycle_diagnostic(modules: &Modules, connections: &[Connection], cycle: &[usize]) -> Diagnostic {
    let shown = |end: &Endpoint| modules.entries[end.module.0].shown(&end.queue);
    let chain: Vec<String> = cycle
        .iter()
        .map(|&i| {
            let c = &connections[i];
            format!("`{} -> {}`", shown(&c.from), shown(&c.to))
        })
        .collect();
    let closing = &connections[*cycle.last().unwrap_or(&0)];
    let mut d = Diagnostic::new(
        Code::E0013,
        closing.span,
        "events would loop forever in a cycle of connections",
    )
    .with_label("this connection closes the cycle");
    for &i in &cycle[..cycle.len() - 1] {
        d = d.with_secondary(connections[i].span, "part of the cycle");
    }
    d.with_note(format!("the cycle runs through {}", chain.join(", then ")))
        .with_help("break the cycle, or route events back only through a `failed` queue")
}
