//! A proxy: queues, the modules wired to them, and the run/drain loop.
//!
//! Generated code calls [`crate::launch`], which builds a [`Proxy`] inside a
//! tokio runtime and hands it to the wiring closure. Tests do the same by
//! hand, in-process, without signals or process exit:
//!
//! ```no_run
//! use std::time::Duration;
//! use wbc_runtime::modules::*;
//! use wbc_runtime::{Proxy, ProxyOptions};
//!
//! # async fn demo() -> Result<(), wbc_runtime::StartError> {
//! let mut proxy = Proxy::new(ProxyOptions::default());
//! let (tx, rx) = proxy.queue("input", "outbox", "sink", "inbox");
//! proxy.spawn(Stdin::new(StdinConfig { name: "input" }, tx)?);
//! proxy.spawn(Null::new(NullConfig { name: "sink" }, rx)?);
//! // Runs until stdin ends (a finite source) or the future completes, then
//! // drains and returns the final counters.
//! let report = proxy.run_until(tokio::time::sleep(Duration::from_secs(5))).await;
//! assert_eq!(report.undelivered, 0);
//! # Ok(()) }
//! ```
//!
//! A test can also act as a module itself: keep a [`crate::Sender`] and call
//! [`crate::Sender::emit`] (register a source token first with
//! [`crate::Context::register_source`] so the drain waits for it), or keep a
//! [`crate::Receiver`] and call [`crate::Receiver::delivered`].
//!
//! # Running a hand-wired proxy as a separate process
//!
//! RSS and SIGTERM tests need a real process. The pattern used by
//! `runtime/tests/stdio_process.rs` and `runtime/tests/scenarios/`: the test
//! target is declared with `harness = false` in `runtime/Cargo.toml`, so its
//! `main` is ours. When an environment variable names a graph, `main` *is* a
//! proxy: it wires that graph by hand inside [`crate::launch_with_args`]
//! (taking the proxy's flags from another variable or its own arguments) and
//! returns the exit code; otherwise `main` runs the tests, which re-execute
//! `std::env::current_exe()` with the variable set. A libtest harness would
//! print its own lines on stdout, which a `stdout` proxy cannot share.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::{Id, JoinSet};

use crate::context::Context;
use crate::metrics::{Counters, QueueEntry, QueueStats};
use crate::queue::{self, Receiver, Sender};
use crate::shutdown;
pub use crate::start_error::{describe_io_error, StartError};

/// Identifies the routing file a binary was built from (`--version`).
#[derive(Debug, Clone, Copy)]
pub struct ProxyInfo {
    /// Routing file name.
    pub source: &'static str,
    /// sha256 of the routing file's bytes, hex.
    pub sha256: &'static str,
    /// The compiler that generated the binary, e.g. `wbc 0.1.0`.
    pub compiler: &'static str,
}

/// A runnable module. Generic all the way down: [`Proxy::spawn`] takes `M`
/// by value and spawns `M::run`, no trait objects.
pub trait Module: Send + 'static {
    /// The module's name from the routing file (for logs).
    fn name(&self) -> &'static str;
    /// Runs until the module's work is done (see [`crate::shutdown`]).
    fn run(self) -> impl Future<Output = ()> + Send + 'static;
    /// Called by [`Proxy::spawn`] just before [`Module::run`] with the
    /// proxy's shared context. Modules with queues reach the context through
    /// their queue ends and ignore this; a module without any queue
    /// (metrics.prometheus) keeps it here.
    fn attach(&mut self, _ctx: &Arc<Context>) {}
}

/// Settings a proxy binary takes from its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Capacity of every queue, in events (`--queue-capacity`).
    pub queue_capacity: usize,
    /// Capacity of every queue, in bytes (`--queue-bytes`).
    pub queue_bytes: usize,
    /// How long draining may take after the stop trigger (`--drain-timeout`).
    pub drain_timeout: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        ProxyOptions {
            queue_capacity: queue::DEFAULT_CAPACITY,
            queue_bytes: queue::DEFAULT_BYTE_CAPACITY,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The final state of one queue.
#[derive(Debug, Clone)]
pub struct QueueReport {
    pub from_module: &'static str,
    pub from_queue: &'static str,
    pub to_module: &'static str,
    pub to_queue: &'static str,
    pub counters: Counters,
}

/// What [`Proxy::run_until`] returns.
#[derive(Debug, Clone)]
pub struct Report {
    /// Whether every source ended and every event was delivered (written)
    /// before the drain timeout.
    pub drained: bool,
    /// Events read but neither delivered nor dropped when the proxy ended:
    /// those the drain left, and those a backend never acknowledged because
    /// it reset the connection while the proxy closed it.
    pub undelivered: u64,
    /// Metric lines (events on internal queues) still queued or held by an
    /// output when the proxy ended: dropped, never waited for.
    pub metrics_dropped: u64,
    /// Every queue's final counters, in creation order.
    pub queues: Vec<QueueReport>,
    /// Modules whose task panicked (a bug); the proxy then drains and ends.
    pub failed_modules: Vec<&'static str>,
    /// Outputs that were down (not connected) when a drain that did not
    /// finish ended: where the undelivered events were waiting to go.
    pub down_outputs: Vec<&'static str>,
}

impl Report {
    /// Whether the process should exit 0: drained, nothing undelivered and
    /// no module failed.
    pub fn success(&self) -> bool {
        self.drained && self.undelivered == 0 && self.failed_modules.is_empty()
    }

    /// The counters of the queue `from_module.from_queue -> ...`.
    pub fn queue_from(&self, from_module: &str, from_queue: &str) -> Option<Counters> {
        self.queues
            .iter()
            .find(|q| q.from_module == from_module && q.from_queue == from_queue)
            .map(|q| q.counters)
    }

    /// The counters of the queue `... -> to_module.to_queue`.
    pub fn queue_to(&self, to_module: &str, to_queue: &str) -> Option<Counters> {
        self.queues
            .iter()
            .find(|q| q.to_module == to_module && q.to_queue == to_queue)
            .map(|q| q.counters)
    }
}

/// How long finishing modules get to flush and close after the drain.
const FINISH_GRACE: Duration = Duration::from_secs(2);

/// One proxy: its queues, modules and shared [`Context`]. Create it inside a
/// tokio runtime (modules create tokio types in `new`).
pub struct Proxy {
    ctx: Arc<Context>,
    options: ProxyOptions,
    tasks: JoinSet<()>,
    names: HashMap<Id, &'static str>,
    failed_modules: Vec<&'static str>,
    start_errors: Vec<StartError>,
}

impl Proxy {
    pub fn new(options: ProxyOptions) -> Proxy {
        Proxy {
            ctx: Context::new(),
            options,
            tasks: JoinSet::new(),
            names: HashMap::new(),
            failed_modules: Vec::new(),
            start_errors: Vec::new(),
        }
    }

    pub fn options(&self) -> ProxyOptions {
        self.options
    }

    /// The shared state modules reach through their queue ends.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// Creates the bounded queue of one connection and registers its counters.
    pub fn queue(
        &mut self,
        from_module: &'static str,
        from_queue: &'static str,
        to_module: &'static str,
        to_queue: &'static str,
    ) -> (Sender, Receiver) {
        self.new_queue([from_module, from_queue, to_module, to_queue], false)
    }

    /// Like [`Proxy::queue`], for a connection that carries only events the
    /// proxy makes itself (every source upstream of it is a metrics module;
    /// code generation knows). Its events are best effort: the drain does
    /// not wait for them, and those still queued or held when the proxy
    /// ends are dropped and counted in [`Report::metrics_dropped`]. A funnel
    /// that merges them into a data route makes them data from there on.
    pub fn internal_queue(
        &mut self,
        from_module: &'static str,
        from_queue: &'static str,
        to_module: &'static str,
        to_queue: &'static str,
    ) -> (Sender, Receiver) {
        self.new_queue([from_module, from_queue, to_module, to_queue], true)
    }

    fn new_queue(&mut self, ends: [&'static str; 4], internal: bool) -> (Sender, Receiver) {
        let [from_module, from_queue, to_module, to_queue] = ends;
        let stats = Arc::new(QueueStats::default());
        self.ctx.metrics().add_queue(QueueEntry {
            from_module,
            from_queue,
            to_module,
            to_queue,
            stats: stats.clone(),
        });
        queue::channel(
            self.ctx.clone(),
            stats,
            queue::Capacity {
                events: self.options.queue_capacity,
                bytes: self.options.queue_bytes,
            },
            internal,
        )
    }

    /// Starts a module that could be made, or keeps the reason it could not
    /// and goes on, so that one start reports every module that cannot
    /// start (two ports in use are two errors, not one per attempt);
    /// `launch` prints them and exits 1 before the proxy runs. Generated
    /// code calls this for every module.
    ///
    /// Never inlined: it runs once per module, and inlined hundreds of
    /// times into the one wiring function it would only make that function
    /// slower to compile (see [`crate::QueueEnd`]).
    #[inline(never)]
    pub fn start<M: Module>(&mut self, module: Result<M, StartError>) {
        match module {
            Ok(module) => self.spawn(module),
            Err(error) => self.start_errors.push(error),
        }
    }

    /// The errors [`Proxy::start`] kept, in the order of the modules.
    pub fn take_start_errors(&mut self) -> Vec<StartError> {
        std::mem::take(&mut self.start_errors)
    }

    /// Starts a module's task.
    pub fn spawn<M: Module>(&mut self, mut module: M) {
        module.attach(&self.ctx);
        let name = module.name();
        let handle = self.tasks.spawn(module.run());
        self.names.insert(handle.id(), name);
    }

    /// Runs until `stop` completes (or every finite source has ended), then
    /// drains for at most the drain timeout and returns the final counters.
    pub async fn run_until<F: Future>(self, stop: F) -> Report {
        self.run(stop, std::future::pending::<()>()).await
    }

    /// Like [`Proxy::run_until`], and `force` (e.g. a second signal) ends the
    /// drain at once. When the drain began because every finite source ended,
    /// `stop` completing also ends it at once.
    pub async fn run<F: Future, G: Future>(mut self, stop: F, force: G) -> Report {
        let ctx = self.ctx.clone();
        tokio::pin!(stop);
        tokio::pin!(force);
        let mut stop_requested = false;
        let forced = tokio::select! {
            _ = &mut stop => { stop_requested = true; tracing::info!("stop requested, draining"); false }
            _ = shutdown::finite_sources_ended(&ctx) => { tracing::info!("all input ended, draining"); false }
            _ = self.module_failure() => { tracing::error!("a module failed, draining"); false }
            _ = &mut force => true,
        };
        ctx.begin_stopping();
        let drained = !forced
            && tokio::select! {
                _ = shutdown::drain_complete(&ctx) => true,
                _ = tokio::time::sleep(self.options.drain_timeout) => {
                    tracing::warn!("drain timeout of {:?} reached", self.options.drain_timeout);
                    false
                }
                _ = &mut force => { tracing::warn!("second stop request, exiting at once"); false }
                // Draining because input ended: a stop request now means "no
                // more waiting".
                _ = &mut stop, if !stop_requested => {
                    tracing::warn!("stop requested while draining, exiting at once");
                    false
                }
            };
        // Before the modules finish, which disconnects the outputs too.
        let down_outputs = if drained {
            Vec::new()
        } else {
            down_outputs(&ctx)
        };
        ctx.begin_finishing();
        self.finish(drained).await;
        // After the modules finished: what they flushed meanwhile is out, and
        // what a backend reset during its close never received is back in.
        let undelivered = ctx.in_flight().max(0) as u64;
        let metrics_dropped = ctx.internal_in_flight().max(0) as u64;
        let report = Report {
            drained,
            undelivered,
            metrics_dropped,
            queues: self.final_counters(),
            failed_modules: std::mem::take(&mut self.failed_modules),
            down_outputs,
        };
        log_report(&report);
        report
    }

    /// Completes when a module's task panics; modules that simply end (stdin
    /// at end of input) are fine. Never completes once no task is left.
    async fn module_failure(&mut self) {
        loop {
            match self.tasks.join_next_with_id().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    if self.record_failure(e) {
                        return;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Logs a task that ended abnormally; true if it panicked.
    fn record_failure(&mut self, e: tokio::task::JoinError) -> bool {
        let name = self.names.get(&e.id()).copied().unwrap_or("?");
        if !e.is_panic() {
            return false;
        }
        tracing::error!("module `{name}` failed: its task panicked");
        self.failed_modules.push(name);
        true
    }

    /// Gives modules a grace period to flush and return (none when the
    /// drain failed), then stops the rest.
    async fn finish(&mut self, drained: bool) {
        let grace = if drained {
            FINISH_GRACE
        } else {
            Duration::ZERO
        };
        let deadline = tokio::time::Instant::now() + grace;
        while let Ok(Some(joined)) =
            tokio::time::timeout_at(deadline, self.tasks.join_next_with_id()).await
        {
            if let Err(e) = joined {
                self.record_failure(e);
            }
        }
        if !self.tasks.is_empty() {
            tracing::debug!(
                "{} modules did not finish in time, stopping them",
                self.tasks.len()
            );
            self.tasks.abort_all();
        }
    }

    fn final_counters(&self) -> Vec<QueueReport> {
        self.ctx
            .metrics()
            .queues()
            .into_iter()
            .map(|q| QueueReport {
                from_module: q.from_module,
                from_queue: q.from_queue,
                to_module: q.to_module,
                to_queue: q.to_queue,
                counters: q.stats.snapshot(),
            })
            .collect()
    }
}

fn log_report(report: &Report) {
    for q in &report.queues {
        let c = q.counters;
        tracing::info!(
            "queue {}.{} -> {}.{}: in {} out {} dropped {} size {}",
            q.from_module,
            q.from_queue,
            q.to_module,
            q.to_queue,
            c.in_,
            c.out,
            c.dropped,
            c.size
        );
    }
    if report.metrics_dropped > 0 {
        tracing::warn!(
            "{} metric lines dropped at exit (their destination did not take them)",
            report.metrics_dropped
        );
    }
    if report.drained && report.undelivered == 0 {
        tracing::info!("drained, every event delivered");
    } else if report.down_outputs.is_empty() {
        tracing::error!("{} events left undelivered", report.undelivered);
    } else {
        let down: Vec<String> = report
            .down_outputs
            .iter()
            .map(|m| format!("`{m}`"))
            .collect();
        tracing::error!(
            "{} events left undelivered; down when the drain ended: {}",
            report.undelivered,
            down.join(", ")
        );
    }
}

/// The outputs whose [`CONNECTED`](crate::metrics::CONNECTED) value is 0.
fn down_outputs(ctx: &Context) -> Vec<&'static str> {
    ctx.metrics()
        .modules()
        .into_iter()
        .filter(|m| {
            m.metric == crate::metrics::CONNECTED
                && m.value.load(std::sync::atomic::Ordering::Relaxed) == 0
        })
        .map(|m| m.module)
        .collect()
}
