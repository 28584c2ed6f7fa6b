//! `tcp.out`: connects to host:port and writes each event followed by `\n`.
//!
//! The module is a small state machine around one connection:
//!
//! - **up**: it takes a batch from its inbox and writes it with vectored
//!   writes straight from the batch's buffers ([`conn::write_batch`],
//!   [`WriteCursor`]). While
//!   idle it also watches the connection's read side, so a backend that
//!   closes is noticed at once, not at the next write.
//! - **down** (cannot connect, a write failed, or the peer closed): it locks
//!   its inbox, so a roundrobin stops choosing it and plain producers wait.
//!   Every event it holds that is not known to be in the socket goes to the
//!   `failed` queue when there is one, and it keeps draining its inbox there;
//!   without a `failed` queue it keeps the events and writes them first once
//!   connected again. It reconnects with [`Backoff`] and unlocks when
//!   connected.
//!
//! "Known to be in the socket" is exact at the event level: the write cursor
//! counts whole events (with their newline) accepted by the kernel; a
//! partially written event is completed if the peer still reads, else it
//! counts as not written. Written is not yet received: when the connection
//! is reset, the events the backend never acknowledged are handed on too
//! ([`Unacked`], from `TCP_INFO`), so a crashing backend only takes with it
//! what its own receive buffer held. A polite close hands on nothing already
//! written: the backend still reads it. The send buffer is capped at
//! [`SEND_BUFFER`], which bounds the written-but-unacknowledged batches kept.
//!
//! When the drained proxy finishes, it half-closes and waits up to a second
//! for the backend to close its side (it has then read everything). A reset
//! in that second puts what the backend never acknowledged back into the
//! in-flight count: there is nowhere left to send it, so the proxy reports
//! it undelivered instead of a clean stop.
//!
//! Counters: the inbox counts `out` when a batch is taken; the proxy's
//! in-flight count drops when events are written. The module publishes
//! `connected` (0/1) and `reconnects` (successful connections after the
//! first) for metrics.
//!
//! With `linger` (off by default), a write of less than [`LINGER_BYTES`]
//! first waits that long for more events. A backend fed by many clients that
//! each send a line now and then then gets one write per `linger`, not one
//! per line, and each write it is spared is a wake-up: with 4,000 to 10,000
//! such clients the benchmark's backend used 3 to 6 times less CPU with
//! `linger: 1ms`, the relay about a fifth less (PERFORMANCE.md, change 28).
//! The price is latency: up to `linger` plus the timer's millisecond per
//! line. A stopping proxy does not linger.
//!
//! The host is resolved at start (a name that does not resolve is a start-up
//! error) and again before every connection attempt, so a backend that moved
//! (a DNS failover, a rescheduled container) is found at the next reconnect;
//! every address of the name is tried in order. While the name does not
//! resolve, the address that worked last is tried.

mod backoff;
mod conn;
mod cursor;
mod resolve;
mod unacked;

pub use backoff::Backoff;
pub use conn::Down;
pub use cursor::WriteCursor;
use resolve::{describe_target, resolve_and_connect};
pub use unacked::Unacked;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

use crate::context::Context;
use crate::metrics::{CONNECTED, RECONNECTS};
use crate::proxy::Module;
use crate::queue::{Batch, Receiver, Sender};
use crate::start_error::{Attempt, StartError};

const KIND: &str = "tcp.out";

/// Kernel send buffer per connection (Linux doubles the value). Large enough
/// for full-speed writes on loopback and LAN, small enough to bound what is
/// written but unacknowledged (kept for a reset, see [`Unacked`]).
pub const SEND_BUFFER: u32 = 256 * 1024;

/// Batches already queued are added to the one being written up to this
/// many bytes: one `writev` (and one wake-up of the backend) for what piled
/// up, instead of one per batch. About the kernel's send buffer (twice
/// [`SEND_BUFFER`]), which a write can fill at once.
const TAKE_BYTES: usize = 2 * SEND_BUFFER as usize;

/// With `linger`, a batch of fewer bytes than this waits for more events
/// before it is written; a larger one is worth its write already.
pub const LINGER_BYTES: usize = 16 * 1024;

pub struct TcpOutConfig {
    pub name: &'static str,
    pub port: u16,
    pub host: &'static str,
    /// Whether a `failed` queue was asked for; the queue itself is the
    /// `failed` argument of [`TcpOut::new`] (None when not connected).
    pub failed: bool,
    /// First reconnect delay; doubles up to 30 s.
    pub reconnect: Duration,
    /// How long a batch of less than [`LINGER_BYTES`] waits for more events
    /// before it is written; zero writes at once.
    pub linger: Duration,
}

pub struct TcpOut {
    config: TcpOutConfig,
    address: SocketAddr,
    inbox: Receiver,
    failed: Option<Sender>,
    connected: Arc<AtomicU64>,
    reconnects: Arc<AtomicU64>,
}

impl TcpOut {
    /// Resolves the host now, so a name that does not resolve is a start-up
    /// error naming the module. (Each connection attempt resolves it again.)
    pub fn new(
        config: TcpOutConfig,
        inbox: Receiver,
        failed: Option<Sender>,
    ) -> Result<TcpOut, StartError> {
        let what = format!("cannot resolve {}:{}", config.host, config.port);
        let address = (config.host, config.port)
            .to_socket_addrs()
            .map_err(|e| {
                let attempt = Attempt::Resolve { host: config.host };
                StartError::io(config.name, KIND, &what, attempt, &e)
            })?
            .next()
            .ok_or_else(|| StartError::new(config.name, KIND, format!("{what}: no address")))?;
        // Down until connected: a roundrobin does not deal events to an
        // output that has never reached its backend.
        inbox.lock();
        let metrics = inbox.context().metrics();
        let connected = metrics.module_metric(config.name, CONNECTED);
        let reconnects = metrics.module_metric(config.name, RECONNECTS);
        Ok(TcpOut {
            config,
            address,
            inbox,
            failed,
            connected,
            reconnects,
        })
    }
}

impl Module for TcpOut {
    fn name(&self) -> &'static str {
        self.config.name
    }

    fn run(self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.run_loop()
    }
}

impl TcpOut {
    async fn run_loop(mut self) {
        let ctx = self.inbox.context().clone();
        let seed = backoff_seed(self.config.name, self.address);
        let mut backoff = Backoff::new(self.config.reconnect, seed);
        // Events taken from the inbox and not yet written.
        let mut held = Batch::new();
        let mut ever_connected = false;
        let mut unacked = Unacked::default();
        let mut delay = Duration::ZERO;
        loop {
            self.inbox.lock();
            self.connected.store(0, Ordering::Relaxed);
            let Some(mut stream) = self
                .reconnect(&ctx, &mut held, &mut delay, &mut backoff)
                .await
            else {
                return self.give_up(held);
            };
            if ever_connected {
                self.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            ever_connected = true;
            backoff.reset();
            self.connected.store(1, Ordering::Relaxed);
            self.inbox.unlock();
            tracing::info!(
                "module `{}` ({KIND}) connected to {}",
                self.config.name,
                self.address
            );
            unacked.connected(&stream);
            match self.serve(&ctx, &mut stream, &mut held, &mut unacked).await {
                Ok(()) => {
                    // Metric lines are best effort: no waiting for a carbon
                    // that may have stopped reading.
                    if !self.inbox.is_internal() {
                        self.close(&mut stream, &mut unacked).await;
                    }
                    self.connected.store(0, Ordering::Relaxed);
                    return;
                }
                Err(down) => {
                    // A reset peer never received what it did not
                    // acknowledge; a peer that closed politely still reads
                    // what is in flight, so nothing of that is sent again.
                    let recovered = match down {
                        Down::Io(_) => unacked.recover(&stream, &mut held),
                        Down::PeerClosed => {
                            unacked.forget();
                            0
                        }
                    };
                    // They were counted as delivered when written.
                    self.inbox.add_in_flight(recovered as u64);
                    let what = match (&self.failed, held.is_empty()) {
                        (_, true) => "nothing held",
                        (Some(_), false) => "handing them to `failed`",
                        (None, false) => "keeping them for retry",
                    };
                    tracing::warn!(
                        "module `{}` ({KIND}) is down: {} ({down}); {} events not delivered \
                         ({recovered} written but never acknowledged), {what}; reconnecting",
                        self.config.name,
                        self.address,
                        held.len()
                    );
                    drop(stream);
                    delay = backoff.next_delay();
                }
            }
        }
    }

    /// Writes batches until the inbox ends (`Ok`) or the connection is down.
    async fn serve(
        &mut self,
        ctx: &Arc<Context>,
        stream: &mut TcpStream,
        held: &mut Batch,
        unacked: &mut Unacked,
    ) -> Result<(), Down> {
        loop {
            if held.is_empty() {
                // Events first: a chatty peer must not starve the writes
                // (write_batch checks the peer before every write anyway).
                tokio::select! {
                    biased;
                    more = self.inbox.recv(held) => if !more {
                        return Ok(());
                    } else {
                        // What piled up meanwhile goes out in the same writev.
                        self.inbox.take_queued(held, TAKE_BYTES);
                        self.linger(ctx, held).await;
                    },
                    ready = stream.readable() => {
                        ready.map_err(Down::Io)?;
                        conn::check_peer(stream)?;
                        continue;
                    }
                }
            }
            let mut cursor = WriteCursor::default();
            let write = conn::write_batch(stream, held, &mut cursor);
            let result = if self.inbox.is_internal() {
                // Metric lines never hold a finishing proxy: what a stalled
                // carbon did not take is dropped (counted by the proxy).
                tokio::select! {
                    r = write => Some(r),
                    _ = ctx.finishing() => None,
                }
            } else {
                Some(write.await)
            };
            let done = cursor.events(held);
            self.inbox.delivered(done as u64);
            let Some(result) = result else {
                return Ok(());
            };
            match result {
                Ok(()) => unacked.written(stream, held),
                Err(down) => {
                    unacked.written_before_failure(held.split_to(done));
                    return Err(down);
                }
            }
        }
    }

    /// With `linger`, lets a small batch wait for more events (see the
    /// module docs); the wait ends early when the proxy stops.
    async fn linger(&mut self, ctx: &Context, held: &mut Batch) {
        if self.config.linger.is_zero() || held.byte_len() >= LINGER_BYTES {
            return;
        }
        tokio::select! {
            biased;
            _ = ctx.stopping() => {}
            _ = tokio::time::sleep(self.config.linger) => {}
        }
        self.inbox.take_queued(held, TAKE_BYTES);
    }

    /// Down: waits out `delay`, then tries to connect, repeating with
    /// backoff; all the while hands held and queued events to the `failed`
    /// queue. Returns `None` when the proxy is finishing.
    async fn reconnect(
        &mut self,
        ctx: &Arc<Context>,
        held: &mut Batch,
        delay: &mut Duration,
        backoff: &mut Backoff,
    ) -> Option<TcpStream> {
        let mut attempts = 0u64;
        loop {
            self.hand_off_until(ctx, held, tokio::time::sleep(*delay))
                .await?;
            attempts += 1;
            let attempt = resolve_and_connect(self.config.host, self.config.port, self.address);
            match self.hand_off_until(ctx, held, attempt).await? {
                Ok((stream, address)) => {
                    self.address = address;
                    return Some(stream);
                }
                Err((e, tried)) => {
                    *delay = backoff.next_delay();
                    let msg = format!(
                        "module `{}` ({KIND}) cannot connect to {}: {}; retrying in {:.1}s",
                        self.config.name,
                        describe_target(self.config.host, self.config.port, &tried),
                        crate::proxy::describe_io_error(&e),
                        delay.as_secs_f64()
                    );
                    // The first failure of a down period is news; the rest
                    // are the same news.
                    if attempts == 1 {
                        tracing::warn!("{msg}");
                    } else {
                        tracing::debug!("{msg}");
                    }
                }
            }
        }
    }

    /// Runs `until` to completion while moving held events, then the
    /// inbox's events, to the `failed` queue (if any). Returns `None` when
    /// the proxy is finishing first.
    async fn hand_off_until<F: std::future::Future>(
        &mut self,
        ctx: &Arc<Context>,
        held: &mut Batch,
        until: F,
    ) -> Option<F::Output> {
        tokio::pin!(until);
        let mut inbox_open = true;
        loop {
            let hand_off = async {
                match &self.failed {
                    Some(failed) if !held.is_empty() => match failed.send(held).await {
                        Ok(()) => HandOff::Moved,
                        // The events stay in `held`, kept for retry.
                        Err(_) => HandOff::NoTaker,
                    },
                    Some(_) if inbox_open => {
                        if self.inbox.recv(held).await {
                            HandOff::Moved
                        } else {
                            HandOff::InboxEnded
                        }
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = ctx.finishing() => return None,
                out = &mut until => return Some(out),
                outcome = hand_off => match outcome {
                    HandOff::Moved => {}
                    HandOff::InboxEnded => inbox_open = false,
                    HandOff::NoTaker => self.failed = None,
                },
            }
        }
    }

    /// Closes the connection once the proxy has drained. The drain counted
    /// what was written as delivered; a backend that resets the connection
    /// now never received what it had not acknowledged, so those events go
    /// back into the in-flight count, which the proxy reports as undelivered
    /// (exit code 1) instead of losing them silently.
    async fn close(&self, stream: &mut TcpStream, unacked: &mut Unacked) {
        match conn::close(stream).await {
            conn::Closed::Read => {}
            conn::Closed::Failed => {
                let n = unacked.unacknowledged(stream);
                self.inbox.add_in_flight(n as u64);
                if n > 0 {
                    tracing::error!(
                        "module `{}` ({KIND}): {} failed while the proxy closed the connection; \
                         {n} events written but never acknowledged are not delivered",
                        self.config.name,
                        self.address
                    );
                }
            }
            conn::Closed::TimedOut => {
                // Not counted: the kernel keeps sending after the exit, and a
                // backend that reads them still gets them.
                let n = unacked.unacknowledged(stream);
                if n > 0 {
                    tracing::warn!(
                        "module `{}` ({KIND}): {} had not acknowledged {n} events a second \
                         after the close; the kernel keeps sending them after the proxy exits",
                        self.config.name,
                        self.address
                    );
                }
            }
        }
    }

    /// The proxy is finishing while this output is down: what it holds is
    /// reported as undelivered by the proxy (it stays in the in-flight count;
    /// metric lines, in the internal count, are reported as dropped).
    fn give_up(&self, held: Batch) {
        self.connected.store(0, Ordering::Relaxed);
        // Metric lines are best effort; the proxy counts those it drops in
        // one line of its own.
        if !held.is_empty() && !self.inbox.is_internal() {
            tracing::error!(
                "module `{}` ({KIND}) ends while down: {} events held for {} are not delivered",
                self.config.name,
                held.len(),
                self.address
            );
        }
    }
}

enum HandOff {
    Moved,
    InboxEnded,
    NoTaker,
}

fn backoff_seed(name: &str, address: SocketAddr) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    name.bytes()
        .chain(address.to_string().bytes())
        .fold(nanos, |h, b| {
            h.rotate_left(5) ^ u64::from(b).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })
}
