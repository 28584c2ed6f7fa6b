//! The consuming end of a queue; see [`crate::queue`] for the semantics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::Notify;

use super::{Batch, Sender, Shared, State, TryRecv};
use crate::context::Context;
use crate::metrics::QueueStats;

/// The consuming end of a queue (a module's `inbox`, or one funnel input).
pub struct Receiver {
    pub(super) shared: Arc<Shared>,
    pub(super) wakeup: Arc<Notify>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let watchers = {
            let mut st = self.shared.state();
            st.receiver_alive = false;
            st.watchers.clone()
        };
        self.shared.up.store(false, Ordering::Release);
        self.shared.room.notify_waiters();
        for w in watchers {
            w.notify_one();
        }
    }
}

impl Receiver {
    /// Waits for the next batch and moves it into `batch` (appends if `batch`
    /// is not empty). Returns `false` when nothing will come any more: every
    /// sender is gone, or the proxy has drained and is finishing (see
    /// [`crate::shutdown`]). Works whether or not the queue is locked.
    /// Cancel-safe.
    pub async fn recv(&mut self, batch: &mut Batch) -> bool {
        loop {
            match self.try_recv(batch) {
                TryRecv::Batch => return true,
                TryRecv::Closed => return false,
                TryRecv::Empty => {}
            }
            let ctx = self.shared.ctx.clone();
            tokio::select! {
                _ = self.wakeup.notified() => {}
                _ = ctx.finishing() => {}
            }
        }
    }

    /// Appends the batches already queued to `batch` while it holds fewer
    /// than `max_bytes`; never waits, never arms the wake-up. A writer calls
    /// it after [`Receiver::recv`] so that what piled up goes out in one
    /// system call instead of one per batch.
    pub fn take_queued(&mut self, batch: &mut Batch, max_bytes: usize) {
        let freed_room = {
            let mut st = self.shared.state();
            let mut took = false;
            while batch.byte_len() < max_bytes && self.pop_into(&mut st, batch) {
                took = true;
            }
            took && std::mem::take(&mut st.senders_waiting)
        };
        if freed_room {
            self.shared.room.notify_waiters();
        }
    }

    /// Takes the next batch if there is one; never waits. `Empty` arms the
    /// wake-up, so a caller may then sleep on its [`Notify`] (see
    /// [`Receiver::share_wakeup`]).
    pub fn try_recv(&mut self, batch: &mut Batch) -> TryRecv {
        let freed_room = {
            let mut st = self.shared.state();
            if !self.pop_into(&mut st, batch) {
                if st.senders == 0 || self.shared.ctx.is_finishing() {
                    return TryRecv::Closed;
                }
                st.receiver_waiting = true;
                return TryRecv::Empty;
            }
            std::mem::take(&mut st.senders_waiting)
        };
        if freed_room {
            self.shared.room.notify_waiters();
        }
        TryRecv::Batch
    }

    /// Under the lock: moves the next queued batch into `batch` (appended
    /// when `batch` is not empty). False when nothing is queued.
    fn pop_into(&self, st: &mut State, batch: &mut Batch) -> bool {
        let Some(mut next) = st.batches.pop_front() else {
            return false;
        };
        st.len -= next.len();
        st.bytes -= next.byte_len();
        self.shared.stats.add_out(next.len() as u64);
        if batch.is_empty() {
            std::mem::swap(batch, &mut next);
        } else {
            batch.append(&mut next);
        }
        st.recycle(next);
        true
    }

    /// Marks the queue down: roundrobin stops choosing it, `try_send` and
    /// `send_unless_down` refuse it, plain `send` still fills it up to its
    /// capacity (see the module docs). Idempotent.
    pub fn lock(&self) {
        self.shared.state().locked = true;
        self.shared.up.store(false, Ordering::Release);
        // Senders blocked on a full queue in `send_unless_down` must learn
        // that it is down now.
        self.shared.room.notify_waiters();
    }

    /// Marks the queue up again and wakes every waiting sender and watcher.
    pub fn unlock(&self) {
        let watchers = {
            let mut st = self.shared.state();
            st.locked = false;
            st.senders_waiting = false;
            st.watchers.clone()
        };
        self.shared.up.store(true, Ordering::Release);
        self.shared.room.notify_waiters();
        for w in watchers {
            w.notify_one();
        }
    }

    /// Whether [`Receiver::lock`] is in effect.
    pub fn is_locked(&self) -> bool {
        !self.shared.up.load(Ordering::Acquire)
    }

    /// Replaces this receiver's wake-up with a shared one, so one task can
    /// sleep until any of several queues has data (funnel). Any send into
    /// this queue after a [`Receiver::try_recv`] that returned `Empty` will
    /// `notify_one` it.
    pub fn share_wakeup(&mut self, notify: Arc<Notify>) {
        self.shared.state().wakeup = notify.clone();
        self.wakeup = notify;
    }

    queue_end_accessors!();

    /// Gives an emptied vector back to the pool (when it was not reused by
    /// another `recv`).
    pub fn recycle(&self, batch: Batch) {
        self.shared.state().recycle(batch);
    }

    /// A sink finished with `n` events (written, or deliberately discarded
    /// like `null` does): they leave the proxy's in-flight count (the
    /// internal one when this queue [`is_internal`](Receiver::is_internal)).
    pub fn delivered(&self, n: u64) {
        self.sub_in_flight(n);
    }

    /// A sink gave up on `n` events (no `failed` queue to take them): counted
    /// in this queue's `dropped` counter and retired from the in-flight count.
    pub fn discard(&self, n: u64) {
        self.shared.stats.add_dropped(n);
        self.sub_in_flight(n);
    }

    /// `n` events taken from this queue exist again or once more: fanout's
    /// extra copies, tcp.out's events that were written (counted delivered)
    /// but never acknowledged by a backend that reset. Counted in this
    /// queue's class.
    pub fn add_in_flight(&self, n: u64) {
        self.shared.ctx.count_add(self.shared.internal, n);
    }

    /// `n` events taken from this queue will never be delivered and are
    /// not counted as dropped anywhere (fanout's copies for an output that
    /// is gone while finishing).
    pub fn sub_in_flight(&self, n: u64) {
        self.shared.ctx.count_sub(self.shared.internal, n);
    }

    /// `n` events taken from this queue are being sent into `to`: when the
    /// two queues are of different classes (a funnel merging metric lines
    /// into a data route) the events move to `to`'s count, so from there on
    /// the drain waits for them. Call before sending, so the count never
    /// under-reports.
    pub fn pass_to(&self, to: &Sender, n: u64) {
        if self.shared.internal != to.is_internal() {
            self.shared.ctx.count_add(to.is_internal(), n);
            self.shared.ctx.count_sub(self.shared.internal, n);
        }
    }
}
