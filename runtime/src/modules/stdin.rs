//! `stdin`: reads newline-delimited events from standard input. A finite
//! source: at end of input (and when no tcp.in exists) the proxy drains and
//! exits.
//!
//! Each read lands in one buffer; every complete line is a `Bytes` slice of
//! that buffer (no copy). Only an unterminated tail moves to the next buffer.
//! A line longer than [`MAX_LINE`] is dropped (counted in the outbox's
//! `dropped`) and reading resumes after its next `\n`. A last line without
//! `\n` is still an event. One read is one batch.

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Sender};
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

/// Cuts complete lines off the front of `buf` into `out`; returns how many
/// over-long lines were dropped. `discarding` carries "inside an over-long
/// line" across reads.
fn split_lines(buf: &mut BytesMut, out: &mut Batch, discarding: &mut bool) -> u64 {
    let mut dropped = 0;
    if let Some(last) = buf.iter().rposition(|b| *b == b'\n') {
        let chunk = buf.split_to(last + 1).freeze();
        let mut start = 0;
        for (i, byte) in chunk.iter().enumerate() {
            if *byte != b'\n' {
                continue;
            }
            if *discarding || i - start > MAX_LINE {
                *discarding = false;
                dropped += 1;
            } else {
                out.push(chunk.slice(start..i));
            }
            start = i + 1;
        }
    }
    if buf.len() > MAX_LINE {
        *discarding = true;
    }
    if *discarding {
        buf.advance(buf.len());
    }
    dropped
}

impl Module for Stdin {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(self) {
        tracing::info!("module `{}` (stdin) reads standard input", self.name);
        let mut input = tokio::io::stdin();
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let mut batch = self.outbox.fresh_batch();
        let mut discarding = false;
        loop {
            buf.reserve(READ_SIZE);
            let read = tokio::select! {
                read = input.read_buf(&mut buf) => read,
                _ = self.token.stopping() => break,
            };
            let eof = match read {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::error!(
                        "module `{}` (stdin) cannot read standard input: {}",
                        self.name,
                        crate::describe_io_error(&e)
                    );
                    true
                }
            };
            let dropped = split_lines(&mut buf, &mut batch, &mut discarding);
            if eof && !buf.is_empty() {
                batch.push(buf.split().freeze());
            } else if eof && discarding {
                self.outbox.count_dropped(1);
            }
            if dropped > 0 {
                tracing::warn!(
                    "module `{}` (stdin) dropped {dropped} lines longer than {MAX_LINE} bytes",
                    self.name
                );
                self.outbox.count_dropped(dropped);
            }
            if self.outbox.emit(&mut batch).await.is_err() {
                break;
            }
            if eof {
                tracing::info!("module `{}` (stdin) reached end of input", self.name);
                break;
            }
        }
        drop(self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_the_tail() {
        let mut buf = BytesMut::from(&b"a\n\nbc\r\nde"[..]);
        let mut out = Vec::new();
        let mut discarding = false;
        assert_eq!(split_lines(&mut buf, &mut out, &mut discarding), 0);
        assert_eq!(out, vec![&b"a"[..], &b""[..], &b"bc\r"[..]]);
        assert_eq!(&buf[..], b"de");
    }

    #[test]
    fn drops_an_over_long_line_and_resynchronises() {
        let mut buf = BytesMut::from(vec![b'x'; MAX_LINE + 10].as_slice());
        let mut out = Vec::new();
        let mut discarding = false;
        assert_eq!(split_lines(&mut buf, &mut out, &mut discarding), 0);
        assert!(discarding && buf.is_empty());
        buf.extend_from_slice(b"tail of it\nnext\n");
        assert_eq!(split_lines(&mut buf, &mut out, &mut discarding), 1);
        assert_eq!(out, vec![&b"next"[..]]);
    }
}
