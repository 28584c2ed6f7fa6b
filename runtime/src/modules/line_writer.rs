//! Writing batches of events as lines to a blocking writer (stdout, a file),
//! shared by [`super::Stdout`] and [`super::FileOut`].
//!
//! Each batch is copied into one reused byte buffer (`event\n` per event) and
//! written by one blocking-pool task, so a batch costs one thread hand-off
//! and usually one `write` call. The writer tracks how many bytes made it, so
//! after an error it knows exactly which events were written and which were
//! not (those go to `failed`).

use std::io::{self, Write};

use crate::queue::Batch;

/// A blocking writer moved to the blocking pool for each batch.
pub(crate) struct LineWriter<W> {
    /// `None` only while a write is in progress or after a panic in one.
    inner: Option<(W, Vec<u8>)>,
}

/// A failed batch write: the first `written` events are in the writer.
pub(crate) struct WriteFailure {
    pub written: usize,
    pub error: io::Error,
}

impl<W: Write + Send + 'static> LineWriter<W> {
    pub(crate) fn new(writer: W) -> Self {
        LineWriter {
            inner: Some((writer, Vec::with_capacity(64 * 1024))),
        }
    }

    /// Writes every event of `batch` followed by `\n`, then flushes.
    pub(crate) async fn write(&mut self, batch: &Batch) -> Result<(), WriteFailure> {
        let Some((mut writer, mut buf)) = self.inner.take() else {
            return Err(WriteFailure {
                written: 0,
                error: io::Error::other("writer lost after an earlier failure"),
            });
        };
        buf.clear();
        for piece in batch.pieces() {
            buf.extend_from_slice(piece.as_bytes());
        }
        let joined = tokio::task::spawn_blocking(move || {
            let result = write_counting(&mut writer, &buf);
            (writer, buf, result)
        })
        .await;
        let (writer, buf, result) = match joined {
            Ok(parts) => parts,
            Err(e) => {
                return Err(WriteFailure {
                    written: 0,
                    error: io::Error::other(e.to_string()),
                })
            }
        };
        self.inner = Some((writer, buf));
        match result {
            Ok(()) => Ok(()),
            Err((bytes, error)) => Err(WriteFailure {
                written: batch.events_within(bytes),
                error,
            }),
        }
    }
}

/// `write_all` + `flush` that reports how many bytes were written on error.
fn write_counting<W: Write>(writer: &mut W, buf: &[u8]) -> Result<(), (usize, io::Error)> {
    let mut pos = 0;
    while pos < buf.len() {
        match writer.write(&buf[pos..]) {
            Ok(0) => {
                return Err((
                    pos,
                    io::Error::new(io::ErrorKind::WriteZero, "wrote nothing"),
                ))
            }
            Ok(n) => pos += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((pos, e)),
        }
    }
    writer.flush().map_err(|e| (pos, e))
}
