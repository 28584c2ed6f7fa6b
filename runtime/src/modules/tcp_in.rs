//! `tcp.in`: listens on a TCP port; every newline-delimited line is one event.
//!
//! One task accepts clients, one task per client reads it. A client task
//! reads into its own [`BytesMut`], cuts complete lines off with the
//! [`LineFramer`] (zero-copy: events are views into the read buffer) and
//! emits them to the outbox in batches of at most the outbox's capacity (a
//! read of tiny lines is several batches, emitted before the next read).
//! While the outbox is full, `emit` waits and the task does not read: the
//! client's socket buffer fills and TCP flow control slows the producer
//! down. So memory per client is bounded by one read buffer (`max_line` plus
//! one read) and one batch of at most a queue's capacity in events, whatever
//! the client sends; and the reads of busy clients share one budget per
//! module (`read_budget`), so a hundred of them do not each hold 256 KiB.
//!
//! Most clients of a relay are agents that send a few lines now and then.
//! Such a client holds no buffer between its reports: a read that empties
//! the socket and took little is moved to a buffer of its own size
//! ([`SMALL_READ`]), so its events pin only their bytes while they wait in a
//! queue, and a client that falls quiet lets go of its read buffer (unless
//! it stopped inside a line). 10,000 agents that each send a line every
//! second cost 1.4 KiB of RSS per connection, the same as silent ones.
//!
//! Over-long lines are dropped and counted in the outbox's `dropped` counter;
//! the first one of each client is logged with the client's address, later
//! ones only counted, so a misbehaving client cannot flood the log.
//!
//! On shutdown the module stops accepting and reading, emits the complete
//! lines it already holds, then releases its source token so the proxy can
//! drain. A line the client had only begun is discarded (and logged): unlike
//! a client that disconnects, the client did not end it, so its start is not
//! an event, and delivering it would deliver a corrupt line.

mod framer;
mod read_budget;
mod read_size;
#[cfg(test)]
mod tests;

pub use framer::LineFramer;
use read_budget::{ReadBudget, Share};
use read_size::ReadSize;

use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::listen::{listen, AcceptErrors};
use crate::context::Context;
use crate::proxy::Module;
use crate::queue::{Batch, Sender};
use crate::shutdown::{SourceKind, SourceToken};
use crate::start_error::{Attempt, StartError};

const KIND: &str = "tcp.in";

/// Below this much free space a new read buffer is reserved, so reads stay
/// large enough to be worth a system call.
const MIN_READ_SPACE: usize = 1024;

/// A read that leaves at most this much in a buffer it did not fill (a
/// client that sends a line now and then) has its bytes moved to a buffer
/// of their own size. The events cut from it then pin their own bytes while
/// they wait in a queue, not a 4 KiB read buffer each (64 times a 64-byte
/// line), and the client holds nothing once its lines are out. The copy is
/// at most this long, beside a system call.
const SMALL_READ: usize = 1024;

pub struct TcpInConfig {
    pub name: &'static str,
    pub port: u16,
    pub host: &'static str,
    /// Longest accepted line in bytes, without its `\n`.
    pub max_line: u64,
}

pub struct TcpIn {
    config: TcpInConfig,
    listener: TcpListener,
    address: SocketAddr,
    outbox: Sender,
    token: SourceToken,
    /// Shared by this module's clients, and by no other module's.
    budget: Arc<ReadBudget>,
}

impl TcpIn {
    /// Binds the listening socket now, so that a port in use or an address
    /// that does not exist here is a start-up error naming the module.
    pub fn new(config: TcpInConfig, outbox: Sender) -> Result<TcpIn, StartError> {
        let listener = listen(config.name, KIND, config.host, config.port)?;
        let address = listener.local_addr().map_err(|e| {
            let what = format!("cannot listen on {}:{}", config.host, config.port);
            let attempt = Attempt::Listen {
                host: config.host,
                port: config.port,
            };
            StartError::io(config.name, KIND, what, attempt, &e)
        })?;
        let token = outbox.context().register_source(SourceKind::Listener);
        Ok(TcpIn {
            config,
            listener,
            address,
            outbox,
            token,
            budget: Arc::default(),
        })
    }

    /// The address actually bound (the port when `port: 0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }
}

/// Reads once into `buf`'s free space. A read that does not fill it has
/// emptied the socket's receive queue, so it is reported as `WouldBlock`
/// with the bytes read in `drained`: tokio then clears the socket's
/// readiness, and the task waits for the next data instead of spending a
/// `recvfrom` to learn that there is none (one per line, half of all
/// system calls, with many clients that send a line now and then). Data
/// that arrives meanwhile raises readiness again, which a clear from before
/// it does not undo (tokio's own `poll_read` does the same).
fn read_once(
    stream: &TcpStream,
    buf: &mut BytesMut,
    drained: &mut usize,
) -> std::io::Result<usize> {
    let free = buf.capacity() - buf.len();
    stream.try_io(tokio::io::Interest::READABLE, || {
        let n = stream.try_read_buf(buf)?;
        crate::coalesce::note_bytes(n);
        match n {
            n if n > 0 && n < free => {
                *drained = n;
                Err(std::io::ErrorKind::WouldBlock.into())
            }
            n => Ok(n),
        }
    })
}

/// After a read that emptied the socket: see [`SMALL_READ`].
fn keep_small_read(buf: &mut BytesMut) {
    if buf.len() <= SMALL_READ {
        *buf = BytesMut::from(&buf[..]);
    }
}

impl Module for TcpIn {
    fn name(&self) -> &'static str {
        self.config.name
    }

    fn run(self) -> impl std::future::Future<Output = ()> + Send + 'static {
        accept_loop(self)
    }
}

async fn accept_loop(module: TcpIn) {
    let TcpIn {
        config,
        listener,
        address,
        outbox,
        token,
        budget,
    } = module;
    tracing::info!("module `{}` ({KIND}) listening on {address}", config.name);
    let ctx = outbox.context().clone();
    let mut clients = JoinSet::new();
    let mut accept_errors = AcceptErrors::default();
    let shown = address.to_string();
    loop {
        tokio::select! {
            _ = token.stopping() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let client = Client {
                        module: config.name,
                        peer,
                        max_line: config.max_line,
                        outbox: outbox.clone(),
                        ctx: ctx.clone(),
                        budget: budget.clone(),
                    };
                    clients.spawn(client.serve(stream));
                }
                // Out of file descriptors and the like: the listener stays
                // usable; pause briefly instead of spinning on the error.
                Err(e) => {
                    if let Some(warning) = accept_errors.note(config.name, KIND, &shown, &e, std::time::Instant::now()) {
                        tracing::warn!("{warning}");
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    drop(listener);
    // Clients see `stopping` too; they emit what they hold and end.
    while clients.join_next().await.is_some() {}
    drop(token);
}

/// One connected producer.
struct Client {
    module: &'static str,
    peer: SocketAddr,
    max_line: u64,
    outbox: Sender,
    ctx: Arc<Context>,
    budget: Arc<ReadBudget>,
}

/// What one attempt to read a client gave.
enum Read {
    /// Bytes were appended to the buffer; the client may have more.
    Data,
    /// Bytes were appended to the buffer, and the socket is empty now.
    Drained,
    /// Nothing to read now.
    Idle,
    /// End of stream, or the connection failed.
    Ended,
    /// The proxy is stopping.
    Stopping,
}

impl Client {
    async fn serve(self, stream: TcpStream) {
        // A batch never exceeds the outbox's capacity: a read of tiny lines
        // is handed out in several batches (see `LineFramer`).
        let limit = self.outbox.capacity();
        let mut framer = LineFramer::new(self.max_line);
        let mut buf = BytesMut::new();
        let mut batch = Batch::new();
        let mut read_size = ReadSize::new(Share::new(self.budget.clone()));
        let mut warned = false;
        let mut ended = false;
        let mut drained = false;
        loop {
            // Lines the framer still holds go out before the next read (and
            // before a stop: they are complete lines already received).
            if !ended && !framer.has_pending() {
                if std::mem::take(&mut drained) {
                    // All it sent is out; the next read waits for more.
                    self.idle(&mut buf, &mut batch, &mut read_size);
                }
                match self.read(&stream, &mut buf, &mut read_size).await {
                    Read::Data => {}
                    Read::Drained => drained = true,
                    Read::Idle => {
                        self.idle(&mut buf, &mut batch, &mut read_size);
                        continue;
                    }
                    Read::Ended => ended = true,
                    Read::Stopping => {
                        self.discard_unfinished(&buf);
                        return;
                    }
                }
            }
            if batch.capacity() == 0 {
                batch = self.outbox.fresh_batch();
            }
            let dropped = if ended {
                framer.finish(&mut buf, &mut batch, limit)
            } else {
                framer.split(&mut buf, &mut batch, limit)
            };
            if dropped > 0 {
                self.count_dropped(dropped, &mut warned);
            }
            if !batch.is_empty() && self.outbox.emit(&mut batch).await.is_err() {
                // The receiver is gone: the proxy is ending without a drain.
                return;
            }
            if ended && framer.is_finished(&buf) {
                return;
            }
        }
    }

    /// Waits until the client can be read (or the proxy stops) and reads
    /// once into `buf`.
    async fn read(&self, stream: &TcpStream, buf: &mut BytesMut, read_size: &mut ReadSize) -> Read {
        let ready = tokio::select! {
            biased;
            _ = self.ctx.stopping() => return Read::Stopping,
            r = stream.readable() => r,
        };
        if buf.capacity() - buf.len() < MIN_READ_SPACE {
            // Doubling while one line spans many reads keeps copying of
            // a long partial line amortised.
            buf.reserve(read_size.get().max(buf.len()));
        }
        let mut drained = 0;
        let read = ready.and_then(|()| read_once(stream, buf, &mut drained));
        match read {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && drained > 0 => {
                read_size.read(drained, false);
                keep_small_read(buf);
                Read::Drained
            }
            // Readiness is a hint: tokio reports a freshly accepted socket
            // readable once, data or not. The buffer just reserved for it
            // goes back in `idle`.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::Idle,
            Ok(0) => Read::Ended,
            Ok(n) => {
                read_size.read(n, true);
                Read::Data
            }
            Err(e) => {
                tracing::debug!(
                    "module `{}` ({KIND}): client {} failed: {e}",
                    self.module,
                    self.peer
                );
                Read::Ended
            }
        }
    }

    /// Counts over-long lines; the first of this client is logged.
    fn count_dropped(&self, dropped: u64, warned: &mut bool) {
        self.outbox.count_dropped(dropped);
        if !*warned {
            *warned = true;
            tracing::warn!(
                "module `{}` ({KIND}): dropped a line longer than {} bytes from client {}; \
                 further over-long lines from this client are only counted in `{}.outbox` dropped",
                self.module,
                self.max_line,
                self.peer,
                self.module
            );
        }
    }

    /// The client has nothing more to say for now. An empty read buffer is
    /// released, however little room is left in it: that room may be the
    /// end of a 256 KiB buffer, which it would keep alive after every event
    /// cut from it is written. So thousands of quiet clients cost no
    /// buffers. A client quiet in the middle of a line keeps its buffer
    /// until the line ends.
    fn idle(&self, buf: &mut BytesMut, batch: &mut Batch, read_size: &mut ReadSize) {
        read_size.quiet();
        if buf.is_empty() {
            *buf = BytesMut::new();
        }
        if batch.is_empty() {
            *batch = Batch::new();
        }
    }

    /// Shutdown cut this client off inside a line: the line was never
    /// complete, and emitting its start would deliver a corrupt event.
    fn discard_unfinished(&self, buf: &BytesMut) {
        if !buf.is_empty() {
            tracing::info!(
                "module `{}` ({KIND}): stopping; discarded {} bytes of an unfinished line from client {}",
                self.module,
                buf.len(),
                self.peer
            );
        }
    }
}
