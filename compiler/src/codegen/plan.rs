//! The wiring plan: which queue variable goes into which constructor
//! parameter of which module. Pure data, no tokens; `emit` prints it.
//!
//! Queue variables are numbered by connection (`q0_tx`, `q0_rx` for the
//! graph's first connection), so no name from the routing file ever becomes
//! an identifier.

use crate::catalog::{Queues, Role};
use crate::graph::{Connection, Endpoint, Graph, ModuleId};

use super::internal::internal_connections;
use super::CodegenError;

/// The one output queue that may stay unconnected: the constructor takes an
/// `Option<Sender>` for it (see `KindSpec::has_failed_queue`).
const OPTIONAL_OUTPUT: &str = "failed";

/// One constructor parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Param {
    /// A fixed queue: the queue end of connection `usize`.
    One(usize),
    /// The optional `failed` output: `Some(end)` or `None`.
    Optional(Option<usize>),
    /// A user-named side: an array of queue ends in connection order; its
    /// length is the kind's const generic arity.
    Array(Vec<usize>),
}

/// How one module is instantiated.
#[derive(Debug, Clone)]
pub(super) struct ModulePlan {
    pub id: ModuleId,
    /// Receivers, in the order of the kind's input queues.
    pub inputs: Vec<Param>,
    /// Senders, in the order of the kind's output queues.
    pub outputs: Vec<Param>,
}

impl ModulePlan {
    /// Const generic arguments (`RoundRobin::<3>`): one per user-named side.
    pub fn arities(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs
            .iter()
            .chain(&self.outputs)
            .filter_map(|p| match p {
                Param::Array(ends) => Some(ends.len()),
                _ => None,
            })
    }
}

#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// Modules to spawn, in graph order. A module with no connection at all
    /// (the checker warns about it as unused) is left out: nothing could
    /// reach it and it could reach nothing. Services are the exception.
    pub modules: Vec<ModulePlan>,
    /// Per connection: whether it carries only metric lines
    /// ([`internal_connections`]), so it becomes an internal queue.
    pub internal: Vec<bool>,
}

impl Plan {
    pub fn new(graph: &Graph) -> Result<Plan, CodegenError> {
        let mut modules = Vec::new();
        for (index, module) in graph.modules.iter().enumerate() {
            let id = ModuleId(index);
            let incoming = numbered(graph, |c| &c.to, id);
            let outgoing = numbered(graph, |c| &c.from, id);
            // A service (metrics.prometheus) has no queues and runs anyway.
            if incoming.is_empty() && outgoing.is_empty() && module.kind.role != Role::Service {
                continue;
            }
            let inputs = side(&module.name, module.kind.inputs, &incoming, false)?;
            let outputs = side(&module.name, module.kind.outputs, &outgoing, true)?;
            modules.push(ModulePlan {
                id,
                inputs,
                outputs,
            });
        }
        Ok(Plan {
            modules,
            internal: internal_connections(graph),
        })
    }
}

/// The connections that touch module `id` at the chosen end, as
/// (connection index, queue name), in route order.
fn numbered(
    graph: &Graph,
    end: impl Fn(&Connection) -> &Endpoint,
    id: ModuleId,
) -> Vec<(usize, &str)> {
    graph
        .connections
        .iter()
        .enumerate()
        .filter(|(_, c)| end(c).module == id)
        .map(|(i, c)| (i, end(c).queue.as_str()))
        .collect()
}

/// The parameters for one side (inputs or outputs) of a module.
fn side(
    module: &str,
    queues: Queues,
    connected: &[(usize, &str)],
    is_output: bool,
) -> Result<Vec<Param>, CodegenError> {
    let error = |queue: &str, make: fn(String, String) -> CodegenError| {
        make(module.to_string(), queue.to_string())
    };
    match queues {
        Queues::None => match connected.first() {
            Some((_, queue)) => Err(error(queue, unknown_queue)),
            None => Ok(Vec::new()),
        },
        Queues::UserNamed => Ok(vec![Param::Array(
            connected.iter().map(|(i, _)| *i).collect(),
        )]),
        Queues::Fixed(names) => {
            if let Some((_, stray)) = connected.iter().find(|(_, q)| !names.contains(q)) {
                return Err(error(stray, unknown_queue));
            }
            names
                .iter()
                .map(|name| {
                    let ends: Vec<usize> = connected
                        .iter()
                        .filter(|(_, q)| q == name)
                        .map(|(i, _)| *i)
                        .collect();
                    let optional = is_output && *name == OPTIONAL_OUTPUT;
                    match (ends.as_slice(), optional) {
                        ([], true) => Ok(Param::Optional(None)),
                        ([], false) => Err(error(name, unconnected)),
                        ([end], true) => Ok(Param::Optional(Some(*end))),
                        ([end], false) => Ok(Param::One(*end)),
                        _ => Err(error(name, connected_twice)),
                    }
                })
                .collect()
        }
    }
}

fn unknown_queue(module: String, queue: String) -> CodegenError {
    CodegenError::UnknownQueue { module, queue }
}

fn unconnected(module: String, queue: String) -> CodegenError {
    CodegenError::Unconnected { module, queue }
}

fn connected_twice(module: String, queue: String) -> CodegenError {
    CodegenError::ConnectedTwice { module, queue }
}
