//! Desugaring: from what the user wrote to the explicit routing table.
//!
//! The surface language has shorthands; the [`Core`] table has none:
//!
//! - a plain `NAME` as a source means `NAME.outbox`, as a target `NAME.inbox`;
//! - a bare roundrobin or fanout name used as a source, and a bare funnel
//!   name used as a target, get a fresh queue (`out_1`, `in_1`, ...) each
//!   time, because every user-named queue of a flow module is one connection;
//! - inline `roundrobin(...)` / `fanout(...)` (targets) and `funnel(...)`
//!   (sources) become modules named `roundrobin_1`, `fanout_1`, `funnel_1`
//!   (numbered per kind in source order, skipping names the file uses);
//! - `fallback funnel` routes every member's `failed` queue through a new
//!   funnel back into the same roundrobin; `fallback TARGET` routes them to
//!   TARGET (through a new funnel when there are several members);
//! - a chain `a -> b -> c` is `a -> b` plus `b -> c`.
//!
//! Nothing is validated here beyond where a flow expression may stand: kinds,
//! arguments, queues and duplicates are `check`'s job, so that desugaring
//! stays a pure rewrite and `check` sees every problem in one table.

mod fallback;
mod names;

use crate::ast::{self, Expr, Fallback, Flow, FlowOp, Ident, Item, QueueRef};
use crate::catalog::Role;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

use names::Names;

/// The desugared routing table: every module declared, every connection
/// explicit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Core {
    /// Declared modules in source order (duplicates included; `check`
    /// reports them), then generated modules in creation order.
    pub modules: Vec<CoreModule>,
    /// Connections in the order their routes appear.
    pub connections: Vec<CoreConnection>,
    /// Modules named in route parts that were dropped because of an error
    /// reported by desugaring: `check` reports them when undeclared and
    /// does not call them unused.
    pub mentioned: Vec<Ident>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoreModule {
    pub name: Ident,
    /// The kind as written (`tcp.in`), or the flow operator for generated modules.
    pub kind: Ident,
    pub args: Vec<ast::Arg>,
    /// The declaration, or the flow expression a generated module came from.
    pub span: Span,
    /// True for modules created by desugaring.
    pub generated: bool,
}

/// How an endpoint's queue name came about; `check` words its errors by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOrigin {
    /// `NAME.QUEUE` as written.
    Written,
    /// A plain `NAME`: `outbox` as source, `inbox` as target.
    Implied,
    /// A fresh queue of a flow module (`out_1`, `in_1`).
    Fresh,
    /// A member's `failed` queue, enabled by `fallback`.
    Fallback,
}

/// One end of a connection. `module.span` is where the module was named
/// (the operator for a generated module); `queue.span` is the written queue
/// name, or the whole reference when the queue was implied.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreEndpoint {
    pub module: Ident,
    pub queue: Ident,
    pub origin: QueueOrigin,
}

impl CoreEndpoint {
    /// How to show this endpoint in a message: as the user would write it.
    pub fn written(&self) -> String {
        match self.origin {
            QueueOrigin::Implied => self.module.text.clone(),
            _ => format!("{}.{}", self.module.text, self.queue.text),
        }
    }

    /// `module.queue`, always explicit.
    pub fn explicit(&self) -> String {
        format!("{}.{}", self.module.text, self.queue.text)
    }
}

/// `from.module.from.queue -> to.module.to.queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConnection {
    pub from: CoreEndpoint,
    pub to: CoreEndpoint,
    /// The part of a route this connection came from.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Source,
    Target,
}

/// Rewrites `file` into the explicit routing table. Diagnostics are only
/// about misplaced flow expressions and `fallback`s; everything else is
/// left for `check`.
pub fn desugar(file: &ast::File) -> (Core, Vec<Diagnostic>) {
    let mut d = Desugarer {
        names: Names::collect(file),
        core: Core::default(),
        diags: Vec::new(),
    };
    for item in &file.items {
        if let Item::Decl(decl) = item {
            d.core.modules.push(CoreModule {
                name: decl.name.clone(),
                kind: decl.kind.clone(),
                args: decl.args.clone(),
                span: decl.span,
                generated: false,
            });
        }
    }
    for item in &file.items {
        if let Item::Route(route) = item {
            d.route(route);
        }
    }
    (d.core, d.diags)
}

struct Desugarer {
    names: Names,
    core: Core,
    diags: Vec<Diagnostic>,
}

impl Desugarer {
    fn route(&mut self, route: &ast::Route) {
        let Some((first, rest)) = route.stages.split_first() else {
            return;
        };
        if rest.is_empty() {
            // The grammar requires two stages; a lone stage connects nothing.
            return;
        }
        let mut from = self.source(first);
        let mut from_span = first.span();
        for (i, stage) in rest.iter().enumerate() {
            let last = i + 1 == rest.len();
            let span = from_span.to(stage.span());
            let module = self.lower_target(from.take(), span, stage, !last);
            if !last {
                from = module.map(|m| self.endpoint_of(m, None, stage.span(), Dir::Source));
            }
            from_span = stage.span();
        }
    }

    /// The endpoint events leave `expr` by, when `expr` starts a route or is
    /// a funnel member.
    fn source(&mut self, expr: &Expr) -> Option<CoreEndpoint> {
        match expr {
            Expr::Queue(q) => Some(self.queue_ref(q, Dir::Source)),
            Expr::Flow(flow) => {
                if flow.op != FlowOp::Funnel {
                    self.diags.push(
                        Diagnostic::new(
                            Code::E0009,
                            flow.op_span,
                            format!("`{}(...)` cannot be a source", flow.op.kind_name()),
                        )
                        .with_label("events only go into it")
                        .with_help(format!(
                            "put `{}(...)` after `->`; use `funnel(...)` to merge several sources",
                            flow.op.kind_name()
                        )),
                    );
                }
                if flow.op != FlowOp::Funnel {
                    self.mention(expr);
                    return None;
                }
                let module = self.flow(flow);
                Some(self.endpoint_of(module, None, flow.span, Dir::Source))
            }
        }
    }

    /// Connects `from` (when known) to `target` and lowers the target.
    /// Returns the target's module when events can be passed on from it
    /// (`keep_going`: it is in the middle of a chain).
    fn lower_target(
        &mut self,
        from: Option<CoreEndpoint>,
        span: Span,
        target: &Expr,
        keep_going: bool,
    ) -> Option<Ident> {
        match target {
            Expr::Queue(q) => {
                let to = self.queue_ref(q, Dir::Target);
                self.connect(from, to, span);
                Some(q.module.clone())
            }
            Expr::Flow(flow) => {
                if flow.op == FlowOp::Funnel && !keep_going {
                    self.diags.push(
                        Diagnostic::new(Code::E0009, flow.op_span, "`funnel(...)` cannot be a route's last target")
                            .with_label("its merged events would go nowhere")
                            .with_help("put `funnel(...)` before `->`; use `roundrobin(...)` or `fanout(...)` to send to several targets"),
                    );
                    self.mention(target);
                    self.core.mentioned.extend(from.map(|f| f.module));
                    return None;
                }
                let module = self.flow_header(flow);
                // With `fallback funnel` the roundrobin's one inbox is fed by a
                // funnel that merges what comes in with what failed (as in the
                // seed: input -> funnel -> roundrobin, failed -> funnel).
                let entry = self.fallback_funnel(flow);
                let to = self.endpoint_of(
                    entry.clone().unwrap_or_else(|| module.clone()),
                    None,
                    flow.span,
                    Dir::Target,
                );
                self.connect(from, to, span);
                self.flow_body(flow, &module, entry);
                Some(module)
            }
        }
    }

    /// Adds `from -> to`; without `from` (its stage was dropped after an
    /// error) `to` is only noted as mentioned.
    fn connect(&mut self, from: Option<CoreEndpoint>, to: CoreEndpoint, span: Span) {
        match from {
            Some(from) => self
                .core
                .connections
                .push(CoreConnection { from, to, span }),
            None => self.core.mentioned.push(to.module),
        }
    }

    /// Notes every module named in a dropped expression.
    fn mention(&mut self, expr: &Expr) {
        match expr {
            Expr::Queue(q) => self.core.mentioned.push(q.module.clone()),
            Expr::Flow(flow) => {
                flow.members.iter().for_each(|m| self.mention(m));
                if let Some(Fallback::Target(target)) = &flow.fallback {
                    self.mention(target);
                }
            }
        }
    }

    /// A flow expression used as a source: the module, its members lowered.
    fn flow(&mut self, flow: &Flow) -> Ident {
        let module = self.flow_header(flow);
        self.flow_body(flow, &module, None);
        module
    }

    /// Declares the generated module for `flow`.
    fn flow_header(&mut self, flow: &Flow) -> Ident {
        let role = match flow.op {
            FlowOp::RoundRobin => Role::RoundRobin,
            FlowOp::Fanout => Role::Fanout,
            FlowOp::Funnel => Role::Funnel,
        };
        self.generate(flow.op.kind_name(), role, flow.op_span, flow.span)
    }

    fn generate(&mut self, kind: &str, role: Role, op_span: Span, span: Span) -> Ident {
        let name = Ident {
            text: self.names.new_module(kind, role),
            span: op_span,
        };
        self.core.modules.push(CoreModule {
            name: name.clone(),
            kind: Ident {
                text: kind.to_string(),
                span: op_span,
            },
            args: Vec::new(),
            span,
            generated: true,
        });
        name
    }

    /// Connects `flow`'s members to its module, then its fallback (through
    /// `entry`, the funnel in front of it, when there is one).
    fn flow_body(&mut self, flow: &Flow, module: &Ident, entry: Option<Ident>) {
        for member in &flow.members {
            match flow.op {
                FlowOp::RoundRobin | FlowOp::Fanout => {
                    let from = self.endpoint_of(module.clone(), None, member.span(), Dir::Source);
                    self.lower_target(Some(from), member.span(), member, false);
                }
                FlowOp::Funnel => {
                    let from = self.source(member);
                    let to = self.endpoint_of(module.clone(), None, member.span(), Dir::Target);
                    self.connect(from, to, member.span());
                }
            }
        }
        if let Some(fallback) = &flow.fallback {
            self.fallback(flow, module, fallback, entry);
        }
    }

    fn queue_ref(&mut self, q: &QueueRef, dir: Dir) -> CoreEndpoint {
        self.endpoint_of(q.module.clone(), q.queue.clone(), q.span, dir)
    }

    /// The endpoint of `module` in direction `dir`: the written queue, or
    /// the implied one, or a fresh one for bare flow-module names.
    fn endpoint_of(
        &mut self,
        module: Ident,
        queue: Option<Ident>,
        span: Span,
        dir: Dir,
    ) -> CoreEndpoint {
        if let Some(queue) = queue {
            return CoreEndpoint {
                module,
                queue,
                origin: QueueOrigin::Written,
            };
        }
        let role = self.names.role(&module.text);
        let (text, origin) = match (role, dir) {
            (Some(Role::RoundRobin | Role::Fanout), Dir::Source) => (
                self.names.fresh_queue(&module.text, "out"),
                QueueOrigin::Fresh,
            ),
            (Some(Role::Funnel), Dir::Target) => (
                self.names.fresh_queue(&module.text, "in"),
                QueueOrigin::Fresh,
            ),
            (_, Dir::Source) => ("outbox".to_string(), QueueOrigin::Implied),
            (_, Dir::Target) => ("inbox".to_string(), QueueOrigin::Implied),
        };
        CoreEndpoint {
            module,
            queue: Ident { text, span },
            origin,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
