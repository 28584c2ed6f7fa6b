//! `fallback`: where the `failed` queues of a flow's members go.
//!
//! `roundrobin(a, b) fallback funnel` puts a funnel in front of the
//! roundrobin that merges what comes in with what `a` and `b` failed to
//! deliver (the seed's failover wiring: input -> funnel -> roundrobin,
//! failed -> funnel), so the roundrobin keeps one inbox and resends failed
//! events to members that are up. `fallback TARGET` sends the failed
//! queues to TARGET, through a funnel when there are several.

use super::{CoreEndpoint, Desugarer, Dir, QueueOrigin};
use crate::ast::{Expr, Fallback, Flow, FlowOp, Ident};
use crate::catalog::Role;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

impl Desugarer {
    /// The funnel in front of a roundrobin with `fallback funnel`.
    pub(super) fn fallback_funnel(&mut self, flow: &Flow) -> Option<Ident> {
        match flow.fallback {
            Some(Fallback::Funnel(span)) if flow.op == FlowOp::RoundRobin => {
                Some(self.generate("funnel", Role::Funnel, span, span))
            }
            _ => None,
        }
    }

    pub(super) fn fallback(
        &mut self,
        flow: &Flow,
        module: &Ident,
        fallback: &Fallback,
        entry: Option<Ident>,
    ) {
        let fallback_span = match fallback {
            Fallback::Funnel(span) => *span,
            Fallback::Target(target) => target.span(),
        };
        if flow.op == FlowOp::Funnel {
            self.misplaced_fallback(
                fallback_span,
                "a `funnel(...)` has no members that can fail",
                "this `fallback` cannot work",
                "remove the `fallback`",
            );
            if let Fallback::Target(target) = fallback {
                self.mention(target);
            }
            return;
        }
        if flow.op == FlowOp::Fanout && matches!(fallback, Fallback::Funnel(_)) {
            self.misplaced_fallback(
                fallback_span,
                "`fallback funnel` on a `fanout(...)` would send failed events to every member again",
                "this `fallback` cannot work",
                "send them elsewhere with `fallback TARGET`, or use `roundrobin(...)`",
            );
            return;
        }
        let failed: Vec<(CoreEndpoint, Span)> = flow
            .members
            .iter()
            .filter_map(|m| self.failed_queue(m))
            .collect();
        match fallback {
            Fallback::Funnel(span) => {
                let funnel =
                    entry.unwrap_or_else(|| self.generate("funnel", Role::Funnel, *span, *span));
                for (from, member_span) in failed {
                    let to = self.endpoint_of(funnel.clone(), None, member_span, Dir::Target);
                    self.connect(Some(from), to, member_span);
                }
                let from = self.endpoint_of(funnel, None, *span, Dir::Source);
                let to = self.endpoint_of(module.clone(), None, *span, Dir::Target);
                self.connect(Some(from), to, *span);
            }
            Fallback::Target(target) if failed.is_empty() => self.mention(target),
            Fallback::Target(target) if failed.len() == 1 => {
                let from = failed.into_iter().map(|(from, _)| from).next();
                self.lower_target(from, target.span(), target, false);
            }
            Fallback::Target(target) => {
                let span = target.span();
                let funnel = self.generate("funnel", Role::Funnel, span, span);
                for (from, member_span) in failed {
                    let to = self.endpoint_of(funnel.clone(), None, member_span, Dir::Target);
                    self.connect(Some(from), to, member_span);
                }
                let from = self.endpoint_of(funnel, None, span, Dir::Source);
                self.lower_target(Some(from), span, target, false);
            }
        }
    }

    /// The `failed` queue of a fallback member, which must name a module.
    fn failed_queue(&mut self, member: &Expr) -> Option<(CoreEndpoint, Span)> {
        match member {
            Expr::Queue(q) => {
                let queue = Ident {
                    text: "failed".to_string(),
                    span: q.span,
                };
                Some((
                    CoreEndpoint {
                        module: q.module.clone(),
                        queue,
                        origin: QueueOrigin::Fallback,
                    },
                    q.span,
                ))
            }
            Expr::Flow(flow) => {
                self.misplaced_fallback(
                    flow.span,
                    "a member of a flow with `fallback` must be a module with a `failed` queue",
                    "a flow has no `failed` queue",
                    "list only modules that can fail to deliver (`tcp.out`, `file.out`) as members",
                );
                None
            }
        }
    }

    fn misplaced_fallback(&mut self, span: Span, message: &str, label: &str, help: &str) {
        self.diags.push(
            Diagnostic::new(Code::E0015, span, message)
                .with_label(label)
                .with_help(help),
        );
    }
}
