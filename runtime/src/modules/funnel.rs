//! `funnel`: merges its inputs into its outbox, fairly: inputs are visited in
//! rotation, one batch each per turn, so a busy input cannot starve another.
//! One shared `Notify` wakes the module when any input gets data.
//!
//! A funnel is the one place where metric lines (internal queues, see
//! [`crate::Proxy::internal_queue`]) can join a data route: events moved
//! from an internal input into a data outbox enter the drain's in-flight
//! count there ([`Receiver::pass_to`]).

use std::sync::Arc;

use tokio::sync::Notify;

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver, Sender, TryRecv};

pub struct FunnelConfig {
    pub name: &'static str,
}

pub struct Funnel<const N: usize> {
    name: &'static str,
    inputs: [Receiver; N],
    outbox: Sender,
    wakeup: Arc<Notify>,
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
        Ok(Funnel {
            name: config.name,
            inputs,
            outbox,
            wakeup,
        })
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
            let mut moved = false;
            let mut open = 0;
            for k in 0..N {
                let i = (first + k) % N;
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
                }
            }
        }
    }
}
