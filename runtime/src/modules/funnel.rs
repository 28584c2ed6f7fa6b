//! `funnel`: merges its inputs into its outbox, fairly: inputs are visited in
//! rotation, one batch each per turn, so a busy input cannot starve another.
//! One shared `Notify` wakes the module when any input gets data.
//!
//! A funnel is the one place where metric lines (internal queues, see
//! [`crate::Proxy::internal_queue`]) can join a data route: events moved
//! from an internal input into a data outbox enter the drain's in-flight
//! count there ([`Receiver::pass_to`]).
//!
//! Such a funnel moves metric lines only until the proxy stops. The drain
//! ends when no source is left and nothing is in flight; a funnel that
//! could still move a metric line into data after that would add an event
//! the drain had already stopped waiting for (reported undelivered, and the
//! proxy would exit 1 over a metric line). So it holds a source token of
//! its own while it may move them, and gives it up at the stop: the metric
//! lines it moved before are waited for like any event, those still in its
//! internal inputs stay best effort (dropped and counted at exit, as in any
//! internal queue).

use std::sync::Arc;

use tokio::sync::Notify;

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver, Sender, TryRecv};
use crate::shutdown::{SourceKind, SourceToken};

pub struct FunnelConfig {
    pub name: &'static str,
}

pub struct Funnel<const N: usize> {
    name: &'static str,
    inputs: [Receiver; N],
    outbox: Sender,
    wakeup: Arc<Notify>,
    /// Held while metric lines may still move into the data outbox: only
    /// when some input is internal and the outbox is not, and until the
    /// proxy stops.
    crossing: Option<SourceToken>,
}

impl<const N: usize> Funnel<N> {
    pub fn new(
        config: FunnelConfig,
        mut inputs: [Receiver; N],
        outbox: Sender,
    ) -> Result<Self, StartError> {
        let wakeup = Arc::new(Notify::new());
        for input in &mut inputs {
            input.share_wakeup(wakeup.clone());
        }
        let crosses = !outbox.is_internal() && inputs.iter().any(Receiver::is_internal);
        let crossing = crosses.then(|| outbox.context().register_source(SourceKind::Internal));
        Ok(Funnel {
            name: config.name,
            inputs,
            outbox,
            wakeup,
            crossing,
        })
    }

    /// Whether input `i` is a metrics input this funnel no longer takes
    /// from (the proxy is stopping).
    fn closed_to_metrics(&self, i: usize) -> bool {
        self.crossing.is_none() && self.inputs[i].is_internal() && !self.outbox.is_internal()
    }
}

impl<const N: usize> Module for Funnel<N> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let ctx = self.outbox.context().clone();
        let mut batch = Batch::new();
        let mut first = 0;
        loop {
            if self.crossing.as_ref().is_some_and(SourceToken::is_stopping) {
                // Every line moved so far is in the data count already.
                self.crossing = None;
            }
            let mut moved = false;
            let mut open = 0;
            for k in 0..N {
                let i = (first + k) % N;
                if self.closed_to_metrics(i) {
                    continue;
                }
                match self.inputs[i].try_recv(&mut batch) {
                    TryRecv::Batch => {
                        open += 1;
                        moved = true;
                        self.inputs[i].pass_to(&self.outbox, batch.len() as u64);
                        if self.outbox.send(&mut batch).await.is_err() {
                            // Outbox gone: only while finishing.
                            return;
                        }
                    }
                    TryRecv::Empty => open += 1,
                    TryRecv::Closed => {}
                }
            }
            if open == 0 {
                return;
            }
            first = (first + 1) % N;
            if !moved {
                // Every `Empty` above armed the shared wake-up.
                tokio::select! {
                    _ = self.wakeup.notified() => {}
                    _ = ctx.finishing() => {}
                    _ = stopping(&self.crossing) => {}
                }
            }
        }
    }
}

/// Completes when the proxy stops while `crossing` is held; never otherwise.
async fn stopping(crossing: &Option<SourceToken>) {
    match crossing {
        Some(token) => token.stopping().await,
        None => std::future::pending().await,
    }
}
