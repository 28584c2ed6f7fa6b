//! `stdin`: reads newline-delimited events from standard input. A finite
//! source: at end of input (and when no tcp.in exists) the proxy drains and
//! exits.
//!
//! Lines are cut by tcp.in's [`LineFramer`], so both inputs share one event
//! format: every complete line is a `Bytes` view of the read buffer (no
//! copy); a line longer than [`MAX_LINE`] is dropped (counted in the outbox's
//! `dropped`, warned about once) and reading resumes after its next `\n`; a
//! last line without `\n` is still an event. A batch is one read's lines, or
//! a queue's capacity of them when a read holds more.

use bytes::BytesMut;
use tokio::io::AsyncReadExt;

use super::tcp_in::LineFramer;
use crate::proxy::{Module, StartError};
use crate::queue::Sender;
use crate::shutdown::{SourceKind, SourceToken};

/// Longest line stdin accepts (stdin has no `max_line` argument).
pub const MAX_LINE: usize = 1024 * 1024;
const READ_SIZE: usize = 64 * 1024;

pub struct StdinConfig {
    pub name: &'static str,
}

pub struct Stdin {
    name: &'static str,
    outbox: Sender,
    token: SourceToken,
}

impl Stdin {
    pub fn new(config: StdinConfig, outbox: Sender) -> Result<Stdin, StartError> {
        let token = outbox.context().register_source(SourceKind::Finite);
        Ok(Stdin {
            name: config.name,
            outbox,
            token,
        })
    }
}

impl Module for Stdin {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(self) {
        tracing::info!("module `{}` (stdin) reads standard input", self.name);
        let mut input = tokio::io::stdin();
        let mut buf = BytesMut::new();
        let mut framer = LineFramer::new(MAX_LINE as u64);
        let mut batch = self.outbox.fresh_batch();
        let mut warned = false;
        let limit = self.outbox.capacity();
        'reading: loop {
            if buf.capacity() - buf.len() < READ_SIZE / 4 {
                buf.reserve(READ_SIZE.max(buf.len()));
            }
            let read = tokio::select! {
                read = input.read_buf(&mut buf) => read,
                _ = self.token.stopping() => break,
            };
            let eof = match read {
                Ok(n) => {
                    crate::coalesce::note_bytes(n);
                    n == 0
                }
                Err(e) => {
                    tracing::error!(
                        "module `{}` (stdin) cannot read standard input: {}",
                        self.name,
                        crate::describe_io_error(&e)
                    );
                    true
                }
            };
            // At most a queue's capacity a batch: a read of tiny lines is
            // handed out in several (see `LineFramer`).
            loop {
                let dropped = if eof {
                    framer.finish(&mut buf, &mut batch, limit)
                } else {
                    framer.split(&mut buf, &mut batch, limit)
                };
                if dropped > 0 {
                    self.outbox.count_dropped(dropped);
                    if !warned {
                        warned = true;
                        tracing::warn!(
                            "module `{}` (stdin) dropped a line longer than {MAX_LINE} bytes; \
                             further ones are only counted in `{}.outbox` dropped",
                            self.name,
                            self.name
                        );
                    }
                }
                if self.outbox.emit(&mut batch).await.is_err() {
                    break 'reading;
                }
                let done = if eof {
                    framer.is_finished(&buf)
                } else {
                    !framer.has_pending()
                };
                if done {
                    break;
                }
            }
            if eof {
                tracing::info!("module `{}` (stdin) reached end of input", self.name);
                break;
            }
        }
        drop(self.token);
    }
}
