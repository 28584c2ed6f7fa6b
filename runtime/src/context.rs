//! The state one proxy shares between all its modules: the in-flight event
//! count and the shutdown phase (see [`crate::shutdown`] for how they are
//! used), and the metrics [`Registry`].
//!
//! Modules never receive the [`Proxy`](crate::Proxy) itself; they reach the
//! context through any of their queue ends ([`crate::Sender::context`],
//! [`crate::Receiver::context`]), which keeps every `K::new` signature to
//! `(config, inputs, outputs)`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::metrics::Registry;
use crate::shutdown::{SourceKind, SourceToken};

/// Shared by every module of one proxy.
#[derive(Debug, Default)]
pub struct Context {
    in_flight: AtomicI64,
    /// Like `in_flight`, for events on internal queues (metric lines): never
    /// waited for by the drain, only reported (see [`crate::shutdown`]).
    internal_in_flight: AtomicI64,
    stopping: AtomicBool,
    finishing: AtomicBool,
    pub(crate) sources_active: AtomicUsize,
    pub(crate) listeners: AtomicUsize,
    pub(crate) finite_total: AtomicUsize,
    pub(crate) finite_active: AtomicUsize,
    /// Woken (`notify_waiters`) when stopping or finishing starts.
    phase: Notify,
    /// Woken when the in-flight count reaches zero or a source ends: the
    /// proxy re-checks whether the drain is complete.
    pub(crate) changed: Notify,
    metrics: Registry,
}

impl Context {
    pub(crate) fn new() -> Arc<Context> {
        Arc::new(Context::default())
    }

    /// The metrics registry (queues and module values).
    pub fn metrics(&self) -> &Registry {
        &self.metrics
    }

    /// Events that entered the proxy and have not yet been delivered or
    /// dropped. Sources add (via [`crate::Sender::emit`]), fanout adds the
    /// extra copies, sinks subtract.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// `n` more events exist (a source read them, or fanout copied them).
    pub fn in_flight_add(&self, n: u64) {
        self.in_flight.fetch_add(n as i64, Ordering::AcqRel);
    }

    /// `n` events are finished (written, discarded or dropped).
    pub fn in_flight_sub(&self, n: u64) {
        if n == 0 {
            return;
        }
        let before = self.in_flight.fetch_sub(n as i64, Ordering::AcqRel);
        if before == n as i64 {
            self.changed.notify_waiters();
        }
    }

    /// Metric lines (events on internal queues, see
    /// [`crate::Proxy::internal_queue`]) made and not yet delivered or
    /// dropped. The drain does not wait for them.
    pub fn internal_in_flight(&self) -> i64 {
        self.internal_in_flight.load(Ordering::Acquire)
    }

    /// `n` more events exist on a queue of the given class.
    pub(crate) fn count_add(&self, internal: bool, n: u64) {
        if internal {
            self.internal_in_flight
                .fetch_add(n as i64, Ordering::AcqRel);
        } else {
            self.in_flight_add(n);
        }
    }

    /// `n` events of the given class are finished.
    pub(crate) fn count_sub(&self, internal: bool, n: u64) {
        if internal {
            self.internal_in_flight
                .fetch_sub(n as i64, Ordering::AcqRel);
        } else {
            self.in_flight_sub(n);
        }
    }

    /// Registers a source; see [`SourceKind`]. Call it in `new`, so the
    /// proxy knows about the source before anything runs, and keep the token
    /// until the source has sent its last event.
    pub fn register_source(self: &Arc<Self>, kind: SourceKind) -> SourceToken {
        self.sources_active.fetch_add(1, Ordering::AcqRel);
        match kind {
            SourceKind::Listener => {
                self.listeners.fetch_add(1, Ordering::AcqRel);
            }
            SourceKind::Finite => {
                self.finite_total.fetch_add(1, Ordering::AcqRel);
                self.finite_active.fetch_add(1, Ordering::AcqRel);
            }
            SourceKind::Internal => {}
        }
        SourceToken::new(self.clone(), kind)
    }

    /// Whether shutdown has begun: sources must stop reading and accepting.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Completes once shutdown has begun.
    pub async fn stopping(&self) {
        self.wait_phase(&self.stopping).await
    }

    /// Whether the proxy has drained (or gave up draining): receivers return
    /// `false`/`Closed` once their queue is empty, modules flush and end.
    pub fn is_finishing(&self) -> bool {
        self.finishing.load(Ordering::Acquire)
    }

    /// Completes once the proxy is finishing.
    pub async fn finishing(&self) {
        self.wait_phase(&self.finishing).await
    }

    pub(crate) fn begin_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
        self.phase.notify_waiters();
        self.changed.notify_waiters();
    }

    pub(crate) fn begin_finishing(&self) {
        self.stopping.store(true, Ordering::Release);
        self.finishing.store(true, Ordering::Release);
        self.phase.notify_waiters();
    }

    async fn wait_phase(&self, flag: &AtomicBool) {
        loop {
            let notified = self.phase.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if flag.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}
