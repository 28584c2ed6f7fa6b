//! Bounded queues that carry batches of events between modules.
//!
//! One queue is created per connection of the routing file
//! ([`crate::Proxy::queue`]). It has one [`Receiver`] (the module that owns the
//! `inbox`) and one or more [`Sender`]s (the producing module; `Sender` is
//! `Clone` so that e.g. tcp.in can give one to every client task).
//!
//! # Batches, and why vectors are swapped instead of moved
//!
//! Events travel in a [`Batch`] (`Vec<Bytes>`): one lock and one wake-up per
//! batch, never per event. The API takes `&mut Batch`:
//!
//! * a successful send *moves the events out* of the caller's vector and
//!   leaves an empty vector in its place, taken from the queue's pool of
//!   recycled vectors;
//! * a receive swaps the next queued batch into the caller's (empty) vector
//!   and puts the caller's empty vector into that pool.
//!
//! So vectors circulate producer -> consumer -> producer and the steady state
//! allocates nothing. It also makes every operation *cancel-safe* and
//! *lossless*: a send that cannot proceed (queue full, receiver down, or the
//! future dropped inside a `select!`) leaves every event in the caller's
//! vector, so nothing is lost and the caller decides what to do.
//!
//! # Capacity
//!
//! Capacity counts events, not batches. A batch is admitted when the queue is
//! empty or when it fits (`len + batch.len() <= capacity`), so a queue never
//! holds more than `capacity` events, except one oversized batch into an empty
//! queue (which cannot otherwise ever pass). A full queue makes
//! [`Sender::send`] wait: that is backpressure, and it travels upstream until
//! tcp.in stops reading its sockets. Nothing is ever dropped because a queue
//! is full.
//!
//! # Down receivers (failover)
//!
//! A receiver that cannot deliver (tcp.out without a connection) calls
//! [`Receiver::lock`]: the queue is *down*. Senders see it with
//! [`Sender::is_up`]:
//!
//! * [`Sender::send`] waits until the queue is up again and has room (a plain
//!   producer whose only target is down must not lose events);
//! * [`Sender::send_unless_down`] waits for room but returns
//!   [`SendError::Down`] as soon as the queue is down (roundrobin redirects the
//!   batch to another member);
//! * [`Sender::try_send`] never waits: [`SendError::Full`] or
//!   [`SendError::Down`] leave the batch with the caller. A down tcp.out hands
//!   its held events to its `failed` queue this way, so the cycle
//!   `roundrobin -> out.inbox -> out.failed -> funnel -> roundrobin.inbox`
//!   cannot deadlock: what cannot be handed off is kept and retried.
//!
//! The receiver itself can always take events out of a locked queue
//! ([`Receiver::try_recv`]), e.g. to move them to its `failed` queue.
//!
//! Waiting on several queues at once (roundrobin waiting until *any* member is
//! up, funnel waiting until *any* input has data) uses one shared
//! [`tokio::sync::Notify`]: [`Sender::watch`] and [`Receiver::share_wakeup`].
//!
//! # Counters and in-flight accounting
//!
//! Every queue has a [`QueueStats`] (in, out, dropped; size = in - out),
//! updated once per batch under the lock that the batch operation takes
//! anyway, read lock-free by metrics. The proxy-wide in-flight count (see
//! [`crate::shutdown`]) is *not* touched by plain sends and receives: sources
//! enter events with [`Sender::emit`], sinks retire them with
//! [`Receiver::delivered`] or [`Receiver::discard`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::context::Context;
use crate::metrics::QueueStats;

/// A batch of events; each event is one line without its `\n`.
pub type Batch = Vec<Bytes>;

/// Default queue capacity in events (`--queue-capacity` overrides it).
pub const DEFAULT_CAPACITY: usize = 4096;

/// Recycled vectors kept per queue; more than this are freed.
const POOL_LIMIT: usize = 32;
/// Capacity of a vector allocated when the pool is empty.
const FRESH_BATCH_CAPACITY: usize = 256;
/// Vectors that grew beyond this are freed instead of pooled, so one burst of
/// tiny lines does not pin a huge vector forever.
const POOLED_VEC_MAX: usize = 16 * 1024;

/// Why a send did not happen. The events stay in the caller's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue has no room now ([`Sender::try_send`] only).
    Full,
    /// The receiver locked the queue ([`Sender::try_send`],
    /// [`Sender::send_unless_down`]).
    Down,
    /// The receiver is gone; nothing will ever be taken from this queue.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full => "queue is full",
            SendError::Down => "receiver is down",
            SendError::Closed => "receiver is gone",
        })
    }
}

impl std::error::Error for SendError {}

/// Result of [`Receiver::try_recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecv {
    /// A batch was moved into the caller's vector.
    Batch,
    /// Nothing queued now; the receiver's wake-up is armed, so the next send
    /// notifies it.
    Empty,
    /// Nothing queued and nothing ever will be: every sender is gone, or the
    /// proxy has drained and is finishing.
    Closed,
}

struct Shared {
    state: Mutex<State>,
    stats: Arc<QueueStats>,
    capacity: usize,
    /// Mirror of `State::locked` for lock-free [`Sender::is_up`].
    up: AtomicBool,
    /// Senders waiting for room or for an unlock; `notify_waiters` style.
    room: Notify,
    ctx: Arc<Context>,
}

struct State {
    batches: VecDeque<Batch>,
    len: usize,
    pool: Vec<Batch>,
    locked: bool,
    senders: usize,
    receiver_alive: bool,
    /// Set by a receiver about to sleep; a send clears it and wakes `wakeup`.
    receiver_waiting: bool,
    /// Set by a sender about to sleep; a receive clears it and wakes `room`.
    senders_waiting: bool,
    /// The receiver's wake-up (`notify_one`, so a wake-up is never lost).
    /// Shared between several queues by [`Receiver::share_wakeup`].
    wakeup: Arc<Notify>,
    /// Told (`notify_one`) when the queue is unlocked or closed.
    watchers: Vec<Arc<Notify>>,
}

impl State {
    fn fits(&self, n: usize, capacity: usize) -> bool {
        self.len == 0 || self.len + n <= capacity
    }

    fn recycle(&mut self, mut batch: Batch) {
        if batch.capacity() <= POOLED_VEC_MAX && self.pool.len() < POOL_LIMIT {
            batch.clear();
            self.pool.push(batch);
        }
    }

    fn fresh(&mut self) -> Batch {
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(FRESH_BATCH_CAPACITY))
    }
}

/// Creates one queue. Use [`crate::Proxy::queue`], which also registers the
/// counters for metrics; this is the building block underneath.
pub(crate) fn channel(
    ctx: Arc<Context>,
    stats: Arc<QueueStats>,
    capacity: usize,
) -> (Sender, Receiver) {
    let wakeup = Arc::new(Notify::new());
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            batches: VecDeque::new(),
            len: 0,
            pool: Vec::new(),
            locked: false,
            senders: 1,
            receiver_alive: true,
            receiver_waiting: false,
            senders_waiting: false,
            wakeup: wakeup.clone(),
            watchers: Vec::new(),
        }),
        stats,
        capacity: capacity.max(1),
        up: AtomicBool::new(true),
        room: Notify::new(),
        ctx,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, wakeup },
    )
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the state consistent (every
        // critical section is a few field updates), so poisoning is ignored.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The producing end of a queue.
pub struct Sender {
    shared: Arc<Shared>,
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

    /// Events queued now.
    pub fn len(&self) -> usize {
        self.shared.state().len
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity in events.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The queue's counters.
    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.shared.stats
    }

    /// The proxy this queue belongs to (in-flight count, shutdown, metrics).
    pub fn context(&self) -> &Arc<Context> {
        &self.shared.ctx
    }

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
        if !st.fits(batch.len(), self.shared.capacity) {
            return Err(SendError::Full);
        }
        self.push(&mut st, batch);
        Ok(())
    }

    /// Moves the batch into the queue, waiting while the queue is full or
    /// down. Only fails with [`SendError::Closed`]. Cancel-safe.
    pub async fn send(&self, batch: &mut Batch) -> Result<(), SendError> {
        self.send_waiting(batch, false).await
    }

    /// Like [`Sender::send`] but returns [`SendError::Down`] as soon as the
    /// queue is down (also while waiting for room). Cancel-safe.
    pub async fn send_unless_down(&self, batch: &mut Batch) -> Result<(), SendError> {
        self.send_waiting(batch, true).await
    }

    /// A source's send: enters the events into the proxy's in-flight count,
    /// then sends like [`Sender::send`]. Use it for events that did not come
    /// from another queue (read from a socket or stdin, made by metrics).
    pub async fn emit(&self, batch: &mut Batch) -> Result<(), SendError> {
        let n = batch.len() as u64;
        self.shared.ctx.in_flight_add(n);
        let result = self.send(batch).await;
        if result.is_err() {
            self.shared.ctx.in_flight_sub(n);
        }
        result
    }

    /// [`Sender::try_send`] for a source (see [`Sender::emit`]).
    pub fn try_emit(&self, batch: &mut Batch) -> Result<(), SendError> {
        let n = batch.len() as u64;
        self.shared.ctx.in_flight_add(n);
        let result = self.try_send(batch);
        if result.is_err() {
            self.shared.ctx.in_flight_sub(n);
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
                if !st.locked && st.fits(batch.len(), self.shared.capacity) {
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

/// The consuming end of a queue (a module's `inbox`, or one funnel input).
pub struct Receiver {
    shared: Arc<Shared>,
    wakeup: Arc<Notify>,
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

    /// Takes the next batch if there is one; never waits. `Empty` arms the
    /// wake-up, so a caller may then sleep on its [`Notify`] (see
    /// [`Receiver::share_wakeup`]).
    pub fn try_recv(&mut self, batch: &mut Batch) -> TryRecv {
        let freed_room = {
            let mut st = self.shared.state();
            let Some(mut next) = st.batches.pop_front() else {
                if st.senders == 0 || self.shared.ctx.is_finishing() {
                    return TryRecv::Closed;
                }
                st.receiver_waiting = true;
                return TryRecv::Empty;
            };
            st.len -= next.len();
            self.shared.stats.add_out(next.len() as u64);
            if batch.is_empty() {
                std::mem::swap(batch, &mut next);
            } else {
                batch.append(&mut next);
            }
            st.recycle(next);
            std::mem::take(&mut st.senders_waiting)
        };
        if freed_room {
            self.shared.room.notify_waiters();
        }
        TryRecv::Batch
    }

    /// Marks the queue down: senders stop putting events in (see the module
    /// docs for what each kind of send does). Idempotent.
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

    /// Events queued now.
    pub fn len(&self) -> usize {
        self.shared.state().len
    }

    /// Whether nothing is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity in events.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The queue's counters.
    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.shared.stats
    }

    /// The proxy this queue belongs to.
    pub fn context(&self) -> &Arc<Context> {
        &self.shared.ctx
    }

    /// Gives an emptied vector back to the pool (when it was not reused by
    /// another `recv`).
    pub fn recycle(&self, batch: Batch) {
        self.shared.state().recycle(batch);
    }

    /// A sink finished with `n` events (written, or deliberately discarded
    /// like `null` does): they leave the proxy's in-flight count.
    pub fn delivered(&self, n: u64) {
        self.shared.ctx.in_flight_sub(n);
    }

    /// A sink gave up on `n` events (no `failed` queue to take them): counted
    /// in this queue's `dropped` counter and retired from the in-flight count.
    pub fn discard(&self, n: u64) {
        self.shared.stats.add_dropped(n);
        self.shared.ctx.in_flight_sub(n);
    }
}
