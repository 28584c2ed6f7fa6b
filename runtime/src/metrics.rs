//! Counters: per queue (in, out, dropped, size) and per module (named values
//! such as tcp.out's `connected` and `reconnects`), and the registry that the
//! graphite module and the exit report read them from.
//!
//! Everything here is an atomic updated once per batch by the module that
//! moves the batch; readers take no lock the event path could contend on (the
//! registry's lock only guards its list of entries, which changes at start-up).
//!
//! * `in`: events put into the queue.
//! * `out`: events taken out of the queue by its receiver.
//! * `dropped`: events given up on at this queue (tcp.in's over-long lines on
//!   its `outbox`; a sink with no `failed` queue that cannot deliver).
//! * `size`: events in the queue now, `in - out`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The counters of one queue; shared by both ends and the registry.
#[derive(Debug, Default)]
pub struct QueueStats {
    in_: AtomicU64,
    out: AtomicU64,
    dropped: AtomicU64,
}

/// A consistent-enough copy of one queue's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub in_: u64,
    pub out: u64,
    pub dropped: u64,
    pub size: u64,
}

impl QueueStats {
    pub(crate) fn add_in(&self, n: u64) {
        self.in_.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_out(&self, n: u64) {
        self.out.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads the counters. `out` is read before `in`, and `in` is always
    /// counted before a batch becomes visible to the receiver, so `size`
    /// does not go negative (it saturates at 0 just in case).
    pub fn snapshot(&self) -> Counters {
        let out = self.out.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let in_ = self.in_.load(Ordering::Acquire);
        Counters {
            in_,
            out,
            dropped,
            size: in_.saturating_sub(out),
        }
    }
}

/// One queue as the routing file names it: `from_module.from_queue ->
/// to_module.to_queue`. Metrics report it under both endpoint names.
#[derive(Debug, Clone)]
pub struct QueueEntry {
    pub from_module: &'static str,
    pub from_queue: &'static str,
    pub to_module: &'static str,
    pub to_queue: &'static str,
    pub stats: Arc<QueueStats>,
}

/// The per-module value of an output: 1 while connected, 0 while down
/// (read by the metrics modules, and by the final report, which names the
/// outputs that were down).
pub const CONNECTED: &str = "connected";
/// The per-module count of an output's reconnections.
pub const RECONNECTS: &str = "reconnects";

/// One named per-module value (`connected`, `reconnects`, ...).
#[derive(Debug, Clone)]
pub struct ModuleMetric {
    pub module: &'static str,
    pub metric: &'static str,
    pub value: Arc<AtomicU64>,
}

/// Every counter of one proxy, in registration order.
#[derive(Debug, Default)]
pub struct Registry {
    queues: Mutex<Vec<QueueEntry>>,
    modules: Mutex<Vec<ModuleMetric>>,
}

impl Registry {
    pub(crate) fn add_queue(&self, entry: QueueEntry) {
        lock(&self.queues).push(entry);
    }

    /// Registers (or finds) the value `metric` of `module`, to be published
    /// by metrics as `PREFIX.module.MODULE.METRIC`. tcp.out calls this in
    /// `new` for `connected` (0/1) and `reconnects`, then stores into the
    /// returned atomic.
    pub fn module_metric(&self, module: &'static str, metric: &'static str) -> Arc<AtomicU64> {
        let mut modules = lock(&self.modules);
        if let Some(m) = modules
            .iter()
            .find(|m| m.module == module && m.metric == metric)
        {
            return m.value.clone();
        }
        let value = Arc::new(AtomicU64::new(0));
        modules.push(ModuleMetric {
            module,
            metric,
            value: value.clone(),
        });
        value
    }

    /// All queues registered so far.
    pub fn queues(&self) -> Vec<QueueEntry> {
        lock(&self.queues).clone()
    }

    /// All module values registered so far.
    pub fn modules(&self) -> Vec<ModuleMetric> {
        lock(&self.modules).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
