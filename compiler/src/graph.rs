//! The checked, typed graph: what code generation walks.
//!
//! A `Graph` exists only for a file that checked without errors, so its
//! invariants hold: every module has a catalog kind and every argument of
//! that kind (defaults filled in, values in range); every connection joins
//! an output queue that the source kind has to an input queue that the
//! target kind has; no named queue is connected twice; every output queue
//! that events reach is connected; there is no cycle that does not pass
//! through a `failed` queue.

use std::time::Duration;

use crate::catalog::{ArgSpec, KindSpec};
use crate::span::Span;

/// Index of a module in [`Graph::modules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub usize);

#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Declared modules in declaration order, then generated ones in the
    /// order desugaring created them.
    pub modules: Vec<Module>,
    /// Connections in the order their routes appear.
    pub connections: Vec<Connection>,
}

#[derive(Debug, Clone)]
pub struct Module {
    /// A valid `.wb` identifier, unique in the graph.
    pub name: String,
    pub kind: &'static KindSpec,
    /// One entry per argument of the kind, in catalog order.
    pub args: Vec<ArgValue>,
    /// The declaration, or for a generated module the expression it came from.
    pub span: Span,
    /// True for modules created by desugaring (`roundrobin_1`).
    pub generated: bool,
}

#[derive(Debug, Clone)]
pub struct ArgValue {
    pub spec: &'static ArgSpec,
    pub value: Value,
    /// False when the value is the catalog default.
    pub explicit: bool,
}

/// A checked argument value; its variant always matches `spec.ty`
/// (ports and integers are `Int`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(u64),
    Str(String),
    Bool(bool),
    Duration(Duration),
    ByteSize(u64),
}

/// One end of a connection: a queue of a module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub module: ModuleId,
    pub queue: String,
}

/// Events flow from `from` (an output queue) to `to` (an input queue).
#[derive(Debug, Clone)]
pub struct Connection {
    pub from: Endpoint,
    pub to: Endpoint,
    /// The route (or part of it) that created this connection.
    pub span: Span,
}

impl Graph {
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0]
    }

    pub fn find(&self, name: &str) -> Option<ModuleId> {
        self.modules
            .iter()
            .position(|m| m.name == name)
            .map(ModuleId)
    }

    /// Connections whose source is a queue of `id`, in route order.
    pub fn outputs(&self, id: ModuleId) -> impl Iterator<Item = &Connection> + '_ {
        self.connections.iter().filter(move |c| c.from.module == id)
    }

    /// Connections whose target is a queue of `id`, in route order.
    pub fn inputs(&self, id: ModuleId) -> impl Iterator<Item = &Connection> + '_ {
        self.connections.iter().filter(move |c| c.to.module == id)
    }

    /// The value of argument `name` of module `id` (always present in a checked graph).
    pub fn arg(&self, id: ModuleId, name: &str) -> Option<&Value> {
        self.module(id)
            .args
            .iter()
            .find(|a| a.spec.name == name)
            .map(|a| &a.value)
    }
}
