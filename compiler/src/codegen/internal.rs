//! Which connections carry only the proxy's own metric lines.
//!
//! A proxy's drain waits until every event read has been delivered (see
//! `wbc_runtime::shutdown`). Metric lines are best effort: a carbon that is
//! down or has stopped reading must not delay shutdown, nor turn the exit
//! code into a failure. The runtime cannot tell a metric line from a data
//! event, but the graph can: a connection is *internal* when every source
//! upstream of it is a `metrics.*` module. Code generation creates those
//! with `Proxy::internal_queue`, whose events the drain does not wait for.
//!
//! Events only join at a funnel (every other queue has one producer), so a
//! funnel's outbox is internal only when all its inputs are; the runtime's
//! funnel moves metric lines that join a data route into the drain's count.

use crate::catalog::Role;
use crate::graph::{Graph, Module};

/// A source that reports on the proxy instead of reading from outside.
fn makes_metric_lines(module: &Module) -> bool {
    module.kind.is_metrics()
}

/// One flag per connection of `graph`, in connection order: `true` when
/// nothing but metric lines can travel it.
pub(super) fn internal_connections(graph: &Graph) -> Vec<bool> {
    // Whether data events (anything not made by a metrics module) can reach
    // a module, hence leave it. Grows monotonically to a fixed point, so
    // failover cycles (`roundrobin -> out.failed -> funnel -> roundrobin`)
    // settle in at most one pass per module.
    let mut data: Vec<bool> = graph
        .modules
        .iter()
        .map(|m| m.kind.role == Role::Source && !makes_metric_lines(m))
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for c in &graph.connections {
            if data[c.from.module.0] && !data[c.to.module.0] {
                data[c.to.module.0] = true;
                changed = true;
            }
        }
    }
    graph
        .connections
        .iter()
        .map(|c| !data[c.from.module.0])
        .collect()
}
