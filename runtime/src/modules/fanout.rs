//! `fanout`: every output gets every event. The copies share the batch's
//! buffers (a reference count increment per piece, see
//! [`crate::queue::Batch`]), never copies of the data. Each extra copy
//! enters the in-flight count (of the inbox's class, see
//! [`crate::Receiver::add_in_flight`]), since each is delivered separately.
//!
//! An output that is down or full is waited for (every output must get every
//! event), so the slowest output sets the pace.

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver, Sender};

pub struct FanoutConfig {
    pub name: &'static str,
}

pub struct Fanout<const N: usize> {
    name: &'static str,
    inbox: Receiver,
    outputs: [Sender; N],
    /// One reusable vector per output for the copies.
    copies: [Batch; N],
}

impl<const N: usize> Fanout<N> {
    pub fn new(
        config: FanoutConfig,
        inbox: Receiver,
        outputs: [Sender; N],
    ) -> Result<Self, StartError> {
        if N == 0 {
            return Err(StartError::new(
                config.name,
                "fanout",
                "needs at least one output",
            ));
        }
        Ok(Fanout {
            name: config.name,
            inbox,
            outputs,
            copies: std::array::from_fn(|_| Batch::new()),
        })
    }
}

impl<const N: usize> Module for Fanout<N> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let mut batch = Batch::new();
        while self.inbox.recv(&mut batch).await {
            let n = batch.len() as u64;
            self.inbox.add_in_flight(n * (N as u64 - 1));
            for i in 0..N - 1 {
                let copy = &mut self.copies[i];
                copy.extend_from(&batch);
                if self.outputs[i].send(copy).await.is_err() {
                    // The output is gone (only while finishing): these copies
                    // will never be delivered.
                    self.inbox.sub_in_flight(copy.len() as u64);
                    copy.clear();
                }
            }
            if self.outputs[N - 1].send(&mut batch).await.is_err() {
                self.inbox.sub_in_flight(batch.len() as u64);
                batch.clear();
            }
        }
    }
}
