//! Connections: undeclared modules (E0007), missing queues (E0008), queues
//! used in the wrong direction (E0009) and, through [`super::twice`], queues
//! connected twice (E0010).

use std::collections::HashSet;

use super::modules::Modules;
use super::suggest::{did_you_mean, nearest};
use super::twice::{unique, Dir, FirstUses};
use crate::ast::Ident;
use crate::catalog::{KindSpec, Queues, Role};
use crate::desugar::{Core, CoreEndpoint, QueueOrigin};
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{Connection, Endpoint, ModuleId};

/// What the connections of a file amount to, for the graph-wide checks.
#[derive(Default)]
pub(crate) struct Wiring {
    /// Connections whose both ends are valid, in route order.
    pub connections: Vec<Connection>,
    /// Per module: named as a source / as a target by some route, valid or
    /// not (so that one bad endpoint does not also make a module "unused").
    pub named_as_source: Vec<bool>,
    pub named_as_target: Vec<bool>,
    /// Valid source endpoints: `(module, queue)`.
    pub used_outputs: HashSet<(ModuleId, String)>,
}

pub(crate) fn check_connections(
    core: &Core,
    modules: &Modules,
    diags: &mut Vec<Diagnostic>,
) -> Wiring {
    let n = modules.entries.len();
    let mut wiring = Wiring {
        named_as_source: vec![false; n],
        named_as_target: vec![false; n],
        ..Wiring::default()
    };
    let mut first_from = FirstUses::new();
    let mut first_to = FirstUses::new();
    for module in &core.mentioned {
        if let Some(id) = declared(modules, module, diags) {
            wiring.named_as_source[id.0] = true;
            wiring.named_as_target[id.0] = true;
        }
    }
    for conn in &core.connections {
        let from = resolve(modules, &conn.from, Dir::Source, diags);
        let to = resolve(modules, &conn.to, Dir::Target, diags);
        if let Some(id) = from.named {
            wiring.named_as_source[id.0] = true;
        }
        if let Some(id) = to.named {
            wiring.named_as_target[id.0] = true;
        }
        let from = from.valid.filter(|id| {
            unique(
                &mut first_from,
                core,
                modules,
                *id,
                conn,
                Dir::Source,
                diags,
            )
        });
        let to = to
            .valid
            .filter(|id| unique(&mut first_to, core, modules, *id, conn, Dir::Target, diags));
        if let Some(id) = from {
            wiring
                .used_outputs
                .insert((id, conn.from.queue.text.clone()));
        }
        if let (Some(from), Some(to)) = (from, to) {
            wiring.connections.push(Connection {
                from: Endpoint {
                    module: from,
                    queue: conn.from.queue.text.clone(),
                },
                to: Endpoint {
                    module: to,
                    queue: conn.to.queue.text.clone(),
                },
                span: conn.span,
            });
        }
    }
    wiring
}

struct Resolved {
    /// The module, when it is declared (kind known or not).
    named: Option<ModuleId>,
    /// The module, when the endpoint is a queue it has in that direction.
    valid: Option<ModuleId>,
}

/// The module `name` refers to; when it is not declared, E0007 with the
/// nearest declared name.
fn declared(modules: &Modules, name: &Ident, diags: &mut Vec<Diagnostic>) -> Option<ModuleId> {
    if let Some((id, _)) = modules.get(&name.text) {
        return Some(id);
    }
    let d = Diagnostic::new(
        Code::E0007,
        name.span,
        format!("module `{}` is not declared", name.text),
    )
    .with_label("not declared in this file");
    let help = did_you_mean(&name.text, modules.names()).unwrap_or_else(|| {
        let name = &name.text;
        match crate::catalog::kind(name) {
            Some(kind) if kind.is_flow() => format!(
                "`{name}` is a module kind: write `{name}(a, b)` with its members, or declare one (`NAME = {name}`) and use `NAME`"
            ),
            Some(_) => format!(
                "`{name}` is a module kind, not a module: declare one (`NAME = {name}`) and use `NAME`"
            ),
            None => format!("declare it: `{name} = KIND(...)`"),
        }
    });
    diags.push(d.with_help(help));
    None
}

fn resolve(
    modules: &Modules,
    ep: &CoreEndpoint,
    dir: Dir,
    diags: &mut Vec<Diagnostic>,
) -> Resolved {
    let Some((id, entry)) = modules.get(&ep.module.text) else {
        declared(modules, &ep.module, diags);
        // The module a typo was meant to name counts as named, so that it
        // is not also reported unused.
        let meant = nearest(&ep.module.text, modules.names());
        let named = meant.and_then(|n| modules.get(n)).map(|(id, _)| id);
        return Resolved { named, valid: None };
    };
    let valid = match entry.kind {
        Some(kind) => match queue_problem(ep, kind, dir) {
            Some(d) => {
                diags.push(d);
                None
            }
            None => Some(id),
        },
        None => None,
    };
    Resolved {
        named: Some(id),
        valid,
    }
}

fn has(side: Queues, queue: &str) -> bool {
    match side {
        Queues::None => false,
        Queues::Fixed(names) => names.contains(&queue),
        Queues::UserNamed => true,
    }
}

fn fixed(side: Queues) -> &'static [&'static str] {
    match side {
        Queues::Fixed(names) => names,
        _ => &[],
    }
}

/// Why `ep` is not a queue of `kind` in direction `dir`, if it is not.
fn queue_problem(ep: &CoreEndpoint, kind: &KindSpec, dir: Dir) -> Option<Diagnostic> {
    let (this, other) = match dir {
        Dir::Source => (kind.outputs, kind.inputs),
        Dir::Target => (kind.inputs, kind.outputs),
    };
    let (module, queue) = (&ep.module.text, &ep.queue.text);
    let wrong_direction = fixed(other).contains(&queue.as_str());
    if !wrong_direction && has(this, queue) {
        return None;
    }
    if kind.role == Role::Service {
        return Some(service_in_route(ep, kind));
    }
    let side = if dir == Dir::Source {
        "output"
    } else {
        "input"
    };
    let is_a = format!("`{module}` is a `{}`", kind.name);
    if wrong_direction {
        let (message, help) = match dir {
            Dir::Source => (
                format!("`{module}.{queue}` is an input queue and cannot be a source"),
                format!("to send events into `{module}`, put it after `->`"),
            ),
            Dir::Target => (
                format!("`{module}.{queue}` is an output queue and cannot be a target"),
                format!("to send the events of `{module}.{queue}` on, put it before `->`"),
            ),
        };
        return Some(
            Diagnostic::new(Code::E0009, ep.queue.span, message)
                .with_label(is_a)
                .with_help(help),
        );
    }
    let d = match ep.origin {
        QueueOrigin::Implied if dir == Dir::Source => {
            let help = if kind.has_failed_queue() {
                format!("to route the events it could not deliver, write `{module}.failed`")
            } else {
                format!("end the route at `{module}`")
            };
            Diagnostic::new(
                Code::E0008,
                ep.queue.span,
                format!("module `{module}` cannot send events"),
            )
            .with_label(format!("{is_a}, which has no `outbox`"))
            .with_help(help)
        }
        QueueOrigin::Implied => Diagnostic::new(
            Code::E0008,
            ep.queue.span,
            format!("module `{module}` cannot receive events"),
        )
        .with_label(format!("{is_a}, which has no `inbox`"))
        .with_help(format!(
            "a `{}` only produces events: start a route with `{module}`",
            kind.name
        )),
        QueueOrigin::Fallback => Diagnostic::new(
            Code::E0008,
            ep.queue.span,
            format!("module `{module}` has no `failed` queue for `fallback`"),
        )
        .with_label(is_a)
        .with_help(
            "only modules that can fail to deliver (`tcp.out`, `file.out`) have a `failed` queue",
        ),
        QueueOrigin::Written | QueueOrigin::Fresh => {
            let names = fixed(this);
            let help = did_you_mean(queue, names.iter().copied()).unwrap_or_else(|| match names {
                [] => format!("a `{}` has no {side} queues", kind.name),
                [only] => format!("the only {side} queue of a `{}` is `{only}`", kind.name),
                _ => {
                    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                    format!(
                        "the {side} queues of a `{}` are {}",
                        kind.name,
                        list.join(", ")
                    )
                }
            });
            Diagnostic::new(
                Code::E0008,
                ep.queue.span,
                format!("module `{module}` has no {side} queue `{queue}`"),
            )
            .with_label(is_a)
            .with_help(help)
        }
    };
    Some(d)
}

/// A module without queues (metrics.prometheus) named in a route, at either
/// end: "start the route here" or "end it there" would be wrong advice.
fn service_in_route(ep: &CoreEndpoint, kind: &KindSpec) -> Diagnostic {
    let module = &ep.module.text;
    Diagnostic::new(
        Code::E0008,
        ep.queue.span,
        format!("module `{module}` takes no routes"),
    )
    .with_label(format!(
        "`{module}` is a `{}`, which has no queues",
        kind.name
    ))
    .with_help(format!(
        "a `{}` {} and takes no routes: declare it on a line of its own, \
         outside any route",
        kind.name, kind.summary
    ))
}
