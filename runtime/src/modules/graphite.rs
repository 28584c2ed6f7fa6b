//! `metrics.graphite`: every `interval`, one graphite plaintext line per
//! counter into its outbox:
//!
//! ```text
//! PREFIX.queue.MODULE.QUEUE.in VALUE UNIX_SECONDS      (also out, dropped, size)
//! PREFIX.module.MODULE.connected VALUE UNIX_SECONDS    (and reconnects, per tcp.out)
//! ```
//!
//! Every queue is reported under both of its ends (`input.outbox` and
//! `output.inbox` name the same queue). Module and queue names are sanitised
//! into single graphite path components: anything but ASCII letters, digits,
//! `_` and `-` becomes `_`. The prefix may contain dots (it may be a path).
//!
//! Metrics must never hold the proxy back: a round is sent with
//! [`crate::Sender::try_emit`], and when the outbox is full or down the round
//! is dropped (counted in the outbox's `dropped`, logged once per streak)
//! instead of queueing up behind an unreachable carbon. Nor do they hold
//! back shutdown: generated code wires the outbox as an internal queue
//! ([`crate::Proxy::internal_queue`]), so lines carbon did not take when the
//! proxy ends are dropped and counted instead of waited for (see
//! [`crate::shutdown`]).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Sender};
use crate::shutdown::{SourceKind, SourceToken};

pub struct GraphiteConfig {
    pub name: &'static str,
    pub interval: Duration,
    pub prefix: &'static str,
}

pub struct Graphite {
    name: &'static str,
    interval: Duration,
    prefix: String,
    outbox: Sender,
    token: SourceToken,
}

impl Graphite {
    pub fn new(config: GraphiteConfig, outbox: Sender) -> Result<Graphite, StartError> {
        if config.interval.is_zero() {
            return Err(StartError::new(
                config.name,
                "metrics.graphite",
                "needs an interval greater than zero",
            ));
        }
        let token = outbox.context().register_source(SourceKind::Internal);
        let prefix = config
            .prefix
            .split('.')
            .map(sanitize)
            .collect::<Vec<_>>()
            .join(".");
        Ok(Graphite {
            name: config.name,
            interval: config.interval,
            prefix,
            outbox,
            token,
        })
    }

    /// One line per counter, at time `now` (unix seconds).
    fn lines(&self, now: u64, out: &mut Batch) {
        let registry = self.outbox.context().metrics();
        let mut line = String::new();
        for q in registry.queues() {
            let c = q.stats.snapshot();
            for (module, queue) in [(q.from_module, q.from_queue), (q.to_module, q.to_queue)] {
                for (counter, value) in [
                    ("in", c.in_),
                    ("out", c.out),
                    ("dropped", c.dropped),
                    ("size", c.size),
                ] {
                    line.clear();
                    let _ = write!(
                        line,
                        "{}.queue.{}.{}.{counter} {value} {now}",
                        self.prefix,
                        sanitize(module),
                        sanitize(queue)
                    );
                    out.push_line(line.as_bytes());
                }
            }
        }
        for m in registry.modules() {
            let value = m.value.load(std::sync::atomic::Ordering::Relaxed);
            line.clear();
            let _ = write!(
                line,
                "{}.module.{}.{} {value} {now}",
                self.prefix,
                sanitize(m.module),
                sanitize(m.metric)
            );
            out.push_line(line.as_bytes());
        }
    }
}

/// One graphite path component: no dots, spaces or other separators.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Module for Graphite {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(self) {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + self.interval, self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut batch = self.outbox.fresh_batch();
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.token.stopping() => break,
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.lines(now, &mut batch);
            match self.outbox.try_emit(&mut batch) {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            "module `{}` (metrics.graphite) dropped a round of metrics: {e}",
                            self.name
                        );
                    }
                    failing = true;
                    self.outbox.count_dropped(batch.len() as u64);
                    batch.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn sanitizes_components() {
        assert_eq!(sanitize("output_1"), "output_1");
        assert_eq!(sanitize("a.b c/d"), "a_b_c_d");
    }
}
