//! How a proxy stops without losing events.
//!
//! # Phases
//!
//! 1. **Running.** Ends on the stop trigger (SIGINT/SIGTERM in
//!    [`crate::launch`], any future in [`crate::Proxy::run_until`]) or when
//!    every [`SourceKind::Finite`] source has ended and there is no
//!    [`SourceKind::Listener`] (e.g. `stdin -> stdout` at end of input).
//! 2. **Stopping** ([`crate::Context::stopping`]). Sources stop accepting and
//!    reading, send what they already hold, and drop their [`SourceToken`].
//!    Every other module keeps working, so queues drain into the outputs that
//!    are up (including round trips through `failed` queues and funnels).
//! 3. **Drained** when no source token is left *and* the in-flight count is
//!    zero. Then **finishing** ([`crate::Context::finishing`]): every
//!    [`crate::Receiver::recv`] returns `false` once its queue is empty, so
//!    modules flush, close and return; the proxy waits briefly for them and
//!    reports the final counters. The undelivered count is taken then: a
//!    tcp.out whose backend resets the connection while it closes it adds
//!    back what the backend never acknowledged (the drain had counted it
//!    delivered when written), and the stop is reported as lossy.
//!
//! A second trigger (second signal), a stop trigger while draining because
//! input ended, or the drain timeout skips to finishing at once; the report
//! then names how many events were left undelivered and which outputs were
//! down at that moment (where they were waiting to go), and `launch` exits 1.
//! A module whose task panics also starts the drain (and makes the exit 1).
//!
//! A sink must count an event as delivered only once it is really out of
//! the proxy (written and flushed, or recorded): when the count reaches zero
//! the proxy may end at once.
//!
//! Known limit: events held by an output that is down and has no `failed`
//! queue can only be delivered by a reconnect; if none comes before the
//! drain timeout they are reported undelivered.
//!
//! # Metric lines are best effort
//!
//! Lines made by `metrics.graphite` travel *internal* queues
//! ([`crate::Proxy::internal_queue`]; code generation picks them: every
//! source upstream is a metrics module). They have a count of their own
//! ([`crate::Context::internal_in_flight`]) that the drain does not wait
//! for, so a carbon that is down or has stopped reading never delays
//! shutdown nor makes the exit code 1. When the proxy ends, the lines still
//! queued or held by a tcp.out (which abandons a write to a stalled carbon
//! once the proxy is finishing) are dropped and logged as one count
//! ([`crate::Report::metrics_dropped`]). A funnel merging metric lines into
//! a data route moves them into the data count ([`crate::Receiver::pass_to`]):
//! from there on they are waited for like any event. It does so only until
//! the stop, holding a source token meanwhile, so that no metric line can
//! become data after the drain completed (see [`crate::modules::Funnel`]).
//!
//! # Why an in-flight count and not channel closing
//!
//! "Close a queue when all its senders are gone" cannot work with failover
//! cycles (`roundrobin -> out.failed -> funnel -> roundrobin`): every queue in
//! the cycle has a live sender forever. Instead the proxy counts events:
//!
//! * a source adds each event it emits ([`crate::Sender::emit`]) *before* the
//!   event becomes visible, so the count never under-reports;
//! * fanout adds `N - 1` per event (the copies), and a tcp.out whose backend
//!   reset adds back what it wrote but was never acknowledged
//!   ([`crate::Receiver::add_in_flight`]);
//! * a sink subtracts each event once it is written (and flushed), discarded
//!   on purpose (null), or dropped ([`crate::Receiver::delivered`],
//!   [`crate::Receiver::discard`]).
//!
//! Events sitting in queues, in a down tcp.out, or travelling a failover cycle
//! are all still counted, so "sources gone and count is zero" means every
//! event read has reached its end.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::context::Context;

/// What kind of source a module is; decides when a proxy ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Serves clients until told to stop (tcp.in): keeps the proxy running.
    Listener,
    /// Ends by itself (stdin at end of input): when every finite source has
    /// ended and there is no listener, the proxy drains and exits.
    Finite,
    /// Reports on the proxy (metrics): stops when the proxy stops, never
    /// keeps it running.
    Internal,
}

/// Held by a source while it may still emit events; dropping it tells the
/// proxy this source is done. Obtain with [`Context::register_source`].
#[derive(Debug)]
pub struct SourceToken {
    ctx: Arc<Context>,
    kind: SourceKind,
}

impl SourceToken {
    pub(crate) fn new(ctx: Arc<Context>, kind: SourceKind) -> SourceToken {
        SourceToken { ctx, kind }
    }

    /// Whether the source must stop reading and accepting.
    pub fn is_stopping(&self) -> bool {
        self.ctx.is_stopping()
    }

    /// Completes once the source must stop reading and accepting.
    pub async fn stopping(&self) {
        self.ctx.stopping().await
    }
}

impl Drop for SourceToken {
    fn drop(&mut self) {
        let ctx = &self.ctx;
        if self.kind == SourceKind::Finite {
            ctx.finite_active.fetch_sub(1, Ordering::AcqRel);
        }
        ctx.sources_active.fetch_sub(1, Ordering::AcqRel);
        ctx.changed.notify_waiters();
    }
}

/// Whether the proxy should end by itself: finite sources existed, all have
/// ended, and nothing listens for more.
fn finite_sources_done(ctx: &Context) -> bool {
    ctx.finite_total.load(Ordering::Acquire) > 0
        && ctx.finite_active.load(Ordering::Acquire) == 0
        && ctx.listeners.load(Ordering::Acquire) == 0
}

fn drained(ctx: &Context) -> bool {
    ctx.sources_active.load(Ordering::Acquire) == 0 && ctx.in_flight() == 0
}

/// Waits until `done` holds, re-checking whenever the context reports a
/// change (no polling).
async fn wait_for(ctx: &Context, done: fn(&Context) -> bool) {
    loop {
        let notified = ctx.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if done(ctx) {
            return;
        }
        notified.await;
    }
}

/// Completes when every finite source has ended and no listener exists;
/// never completes for a proxy with a listener or without finite sources.
pub(crate) async fn finite_sources_ended(ctx: &Context) {
    wait_for(ctx, finite_sources_done).await
}

/// Completes when every source has ended and no event is in flight.
pub(crate) async fn drain_complete(ctx: &Context) {
    wait_for(ctx, drained).await
}
