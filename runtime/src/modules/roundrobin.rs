//! `roundrobin`: each event to the next member that is up, in strict
//! rotation.
//!
//! The rotation is per event even though events arrive in batches: a batch
//! is dealt out like cards into one pending batch per member, then each
//! pending batch is sent with one queue operation. The rotation position
//! survives across batches, so with every member up N events always split
//! into shares that differ by at most one, each share in input order.
//!
//! Members that are down ([`crate::Sender::is_up`] is false: a tcp.out
//! without a connection locks its inbox) are skipped when dealing. If a
//! member goes down while its pending batch waits for room, the send returns
//! [`crate::SendError::Down`] and those events are dealt again among the
//! members still up. When every member is down the module sleeps on one
//! `Notify` that every member's unlock wakes (no spinning); meanwhile its
//! inbox fills and pushes back upstream.
//!
//! A member that is up but full is waited for: strict rotation means a slow
//! member slows the whole roundrobin down to its pace, bounded by the queues.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver, SendError, Sender};

pub struct RoundRobinConfig {
    pub name: &'static str,
}

pub struct RoundRobin<const N: usize> {
    name: &'static str,
    inbox: Receiver,
    members: [Sender; N],
    /// Woken whenever any member is unlocked.
    member_up: Arc<Notify>,
    /// The member the next event goes to (if it is up).
    next: usize,
    pending: [Batch; N],
}

impl<const N: usize> RoundRobin<N> {
    pub fn new(
        config: RoundRobinConfig,
        inbox: Receiver,
        members: [Sender; N],
    ) -> Result<Self, StartError> {
        if N == 0 {
            return Err(StartError::new(
                config.name,
                "roundrobin",
                "needs at least one output",
            ));
        }
        let member_up = Arc::new(Notify::new());
        for m in &members {
            m.watch(member_up.clone());
        }
        Ok(RoundRobin {
            name: config.name,
            inbox,
            members,
            member_up,
            next: 0,
            pending: std::array::from_fn(|_| Vec::new()),
        })
    }

    /// Sends every event of `events` to some member; returns with `events`
    /// empty, or early when the proxy is finishing (events then stay counted
    /// as undelivered).
    async fn deal(&mut self, events: &mut Batch) {
        while !events.is_empty() {
            let Some(up) = self.wait_for_member().await else {
                return;
            };
            for event in events.drain(..) {
                let mut i = self.next;
                while !up[i] {
                    i = (i + 1) % N;
                }
                self.pending[i].push(event);
                self.next = (i + 1) % N;
            }
            for i in 0..N {
                if self.pending[i].is_empty() {
                    continue;
                }
                match self.members[i].send_unless_down(&mut self.pending[i]).await {
                    Ok(()) => {}
                    // Deal these again among the members still up.
                    Err(SendError::Down | SendError::Closed | SendError::Full) => {
                        events.append(&mut self.pending[i])
                    }
                }
            }
        }
    }

    /// Which members are up; waits until at least one is. `None` when the
    /// proxy is finishing.
    async fn wait_for_member(&self) -> Option<[bool; N]> {
        let ctx = self.inbox.context().clone();
        loop {
            let up: [bool; N] = std::array::from_fn(|i| self.members[i].is_up());
            if up.iter().any(|u| *u) {
                return Some(up);
            }
            if ctx.is_finishing() {
                return None;
            }
            tracing::debug!("roundrobin `{}`: every member is down, waiting", self.name);
            // notify_one keeps a permit, so an unlock between the check above
            // and this await is not lost.
            tokio::select! {
                _ = self.member_up.notified() => {}
                _ = ctx.finishing() => {}
            }
        }
    }
}

impl<const N: usize> Module for RoundRobin<N> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let mut batch = Vec::new();
        while self.inbox.recv(&mut batch).await {
            self.deal(&mut batch).await;
        }
    }
}
