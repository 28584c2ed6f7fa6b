//! The producing end of a queue; see [`crate::queue`] for the semantics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::Notify;

use super::{Batch, SendError, Shared, State};
use crate::context::Context;
use crate::metrics::QueueStats;

/// The producing end of a queue.
pub struct Sender {
    pub(super) shared: Arc<Shared>,
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.shared.state().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut st = self.shared.state();
        st.senders -= 1;
        if st.senders == 0 {
            st.wakeup.notify_one();
        }
    }
}

impl Sender {
    /// Whether the receiver accepts events (it has not locked the queue).
    pub fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    queue_end_accessors!();

    /// An empty vector from this queue's pool, to fill and send.
    pub fn fresh_batch(&self) -> Batch {
        self.shared.state().fresh()
    }

    /// Counts events that the producer dropped before they entered this
    /// queue (tcp.in: an over-long line), in this queue's `dropped` counter.
    pub fn count_dropped(&self, n: u64) {
        self.shared.stats.add_dropped(n);
    }

    /// Asks to be told (`notify_one`) whenever this queue is unlocked or its
    /// receiver goes away. Roundrobin registers one `Notify` with every member
    /// and sleeps on it when all members are down.
    pub fn watch(&self, notify: Arc<Notify>) {
        self.shared.state().watchers.push(notify);
    }

    /// Moves the batch into the queue if it is up and has room; never waits.
    /// On error the events stay in `batch`.
    pub fn try_send(&self, batch: &mut Batch) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut st = self.shared.state();
        if !st.receiver_alive {
            return Err(SendError::Closed);
        }
        if st.locked {
            return Err(SendError::Down);
        }
        if !st.fits(batch, &self.shared) {
            return Err(SendError::Full);
        }
        self.push(&mut st, batch);
        Ok(())
    }

    /// Moves the batch into the queue, waiting while the queue is full.
    /// Ignores the lock: a down receiver still gets the events (see the
    /// module docs). Only fails with [`SendError::Closed`]. Cancel-safe.
    pub async fn send(&self, batch: &mut Batch) -> Result<(), SendError> {
        self.send_waiting(batch, false).await
    }

    /// Like [`Sender::send`] but returns [`SendError::Down`] as soon as the
    /// queue is down (also while waiting for room). Cancel-safe.
    pub async fn send_unless_down(&self, batch: &mut Batch) -> Result<(), SendError> {
        self.send_waiting(batch, true).await
    }

    /// A source's send: enters the events into the proxy's in-flight count
    /// (the internal one on an internal queue), then sends like
    /// [`Sender::send`]. Use it for events that did not come from another
    /// queue (read from a socket or stdin, made by metrics).
    pub async fn emit(&self, batch: &mut Batch) -> Result<(), SendError> {
        let n = batch.len() as u64;
        self.count_add(n);
        let result = self.send(batch).await;
        if result.is_err() {
            self.count_sub(n);
        }
        result
    }

    fn count_add(&self, n: u64) {
        self.shared.ctx.count_add(self.shared.internal, n);
    }

    fn count_sub(&self, n: u64) {
        self.shared.ctx.count_sub(self.shared.internal, n);
    }

    /// [`Sender::try_send`] for a source (see [`Sender::emit`]).
    pub fn try_emit(&self, batch: &mut Batch) -> Result<(), SendError> {
        let n = batch.len() as u64;
        self.count_add(n);
        let result = self.try_send(batch);
        if result.is_err() {
            self.count_sub(n);
        }
        result
    }

    async fn send_waiting(&self, batch: &mut Batch, fail_when_down: bool) -> Result<(), SendError> {
        if batch.is_empty() {
            return Ok(());
        }
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between the check and
            // the await is not lost.
            notified.as_mut().enable();
            {
                let mut st = self.shared.state();
                if !st.receiver_alive {
                    return Err(SendError::Closed);
                }
                if st.locked && fail_when_down {
                    return Err(SendError::Down);
                }
                if (!st.locked || !fail_when_down) && st.fits(batch, &self.shared) {
                    self.push(&mut st, batch);
                    return Ok(());
                }
                st.senders_waiting = true;
            }
            notified.await;
        }
    }

    fn push(&self, st: &mut State, batch: &mut Batch) {
        let n = batch.len();
        st.bytes += batch.byte_len();
        let replacement = st.fresh();
        let full = std::mem::replace(batch, replacement);
        // Counted under the lock before the receiver can see the batch, so
        // `out` never overtakes `in`.
        self.shared.stats.add_in(n as u64);
        st.len += n;
        st.batches.push_back(full);
        if st.receiver_waiting {
            st.receiver_waiting = false;
            st.wakeup.notify_one();
        }
    }
}
