//! Bounded queues that carry batches of events between modules.
//!
//! One queue is created per connection of the routing file
//! ([`crate::Proxy::queue`]). It has one [`Receiver`] (the module that owns the
//! `inbox`) and one or more [`Sender`]s (the producing module; `Sender` is
//! `Clone` so that e.g. tcp.in can give one to every client task).
//!
//! # Batches, and why vectors are swapped instead of moved
//!
//! Events travel in a [`Batch`] (complete lines in a few shared buffers, see
//! `queue/batch.rs`): one lock and one wake-up per batch, never per event. The API
//! takes `&mut Batch`:
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
//! Capacity counts events and bytes, not batches. A batch is admitted when
//! the queue is empty or when it fits both bounds (`len + batch.len() <=
//! capacity` and `bytes + batch.byte_len() <= byte_capacity`), so a queue
//! never holds more than `capacity` events nor more than `byte_capacity`
//! bytes, except one oversized batch into an empty queue (which cannot
//! otherwise ever pass). The event bound keeps counters meaningful for short
//! lines, the byte bound keeps memory bounded for long ones (4,096 lines of
//! 1 MiB would otherwise be 4 GiB). A full queue makes
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
//! * [`Sender::send`] waits only for room. A down queue still takes events
//!   (it stays bounded) and its receiver decides their fate: a tcp.out with a
//!   `failed` queue moves them there, so `fanout(a, b)` or a plain
//!   `tcp.in -> tcp.out` keeps flowing into a dead-letter route while the
//!   backend is away; one without `failed` keeps them, the queue fills, and
//!   the producer waits (backpressure, nothing lost);
//! * [`Sender::send_unless_down`] waits for room but returns
//!   [`SendError::Down`] as soon as the queue is down (roundrobin redirects the
//!   batch to another member);
//! * [`Sender::try_send`] never waits: [`SendError::Full`] or
//!   [`SendError::Down`] leave the batch with the caller.
//!
//! A down tcp.out hands what it holds to its `failed` queue with `try_send`,
//! or with `send` raced against its reconnect timer in a `select!` (sends are
//! cancel-safe), never with a wait it cannot leave. So the failover cycle
//! `roundrobin -> out.inbox -> out.failed -> funnel -> roundrobin.inbox`
//! cannot deadlock: what cannot be handed off is kept and retried while the
//! output reconnects, and roundrobin, which only waits for members that are
//! up, keeps the rest moving.
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
//! [`Receiver::delivered`] or [`Receiver::discard`]. Those calls count in the
//! class of their queue: an internal queue's events (metric lines) have a
//! count of their own that the drain does not wait for.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::context::Context;
use crate::metrics::QueueStats;

/// Default queue capacity in events (`--queue-capacity` overrides it).
pub const DEFAULT_CAPACITY: usize = 4096;

/// Default queue capacity in bytes (`--queue-bytes` overrides it): four of
/// tcp.in's largest reads.
pub const DEFAULT_BYTE_CAPACITY: usize = 1024 * 1024;

/// Recycled batches kept per queue; more than this are freed. A queue at
/// capacity holds a handful of batches, so a few spares keep the steady state
/// allocation-free while bounding what idle pools pin.
const POOL_LIMIT: usize = 8;
/// Pieces a batch allocated when the pool is empty has room for.
const FRESH_BATCH_CAPACITY: usize = 16;
/// Batches that grew beyond this many pieces are freed instead of pooled, so
/// one burst (many small batches merged) does not pin a large vector.
const POOLED_VEC_MAX: usize = 1024;

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
    byte_capacity: usize,
    /// Mirror of `State::locked` for lock-free [`Sender::is_up`].
    up: AtomicBool,
    /// Senders waiting for room or for an unlock; `notify_waiters` style.
    room: Notify,
    ctx: Arc<Context>,
    /// Carries only the proxy's own metric lines: outside the drain's
    /// in-flight count (see [`crate::Proxy::internal_queue`]).
    internal: bool,
}

struct State {
    batches: VecDeque<Batch>,
    len: usize,
    /// Bytes queued (events with their newlines).
    bytes: usize,
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
    fn fits(&self, batch: &Batch, shared: &Shared) -> bool {
        self.len == 0
            || (self.len + batch.len() <= shared.capacity
                && self.bytes + batch.byte_len() <= shared.byte_capacity)
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
            .unwrap_or_else(|| Batch::with_capacity(FRESH_BATCH_CAPACITY))
    }
}

/// How much a queue holds before it pushes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub events: usize,
    pub bytes: usize,
}

/// Creates one queue. Use [`crate::Proxy::queue`], which also registers the
/// counters for metrics; this is the building block underneath.
pub(crate) fn channel(
    ctx: Arc<Context>,
    stats: Arc<QueueStats>,
    capacity: Capacity,
    internal: bool,
) -> (Sender, Receiver) {
    let wakeup = Arc::new(Notify::new());
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            batches: VecDeque::new(),
            len: 0,
            bytes: 0,
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
        capacity: capacity.events.max(1),
        byte_capacity: capacity.bytes.max(1),
        up: AtomicBool::new(true),
        room: Notify::new(),
        ctx,
        internal,
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

/// What both ends of a queue can tell about it.
macro_rules! queue_end_accessors {
    () => {
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

        /// Whether this queue carries only the proxy's own metric lines
        /// ([`crate::Proxy::internal_queue`]): its events never hold up the
        /// drain.
        pub fn is_internal(&self) -> bool {
            self.shared.internal
        }

        /// The proxy this queue belongs to (in-flight count, shutdown, metrics).
        pub fn context(&self) -> &Arc<Context> {
            &self.shared.ctx
        }
    };
}

mod batch;
mod newlines;
mod receiver;
mod sender;

pub(crate) use batch::count_newlines;
pub use batch::{Batch, Lines};
pub(crate) use newlines::Newlines;
pub use receiver::Receiver;
pub use sender::Sender;
