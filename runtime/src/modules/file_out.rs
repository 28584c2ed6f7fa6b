//! `file.out`: appends each event followed by `\n` to a file (created when
//! missing). The file is opened in `new`, so a bad path is a start error.
//!
//! When a write fails, the events of the batch that did not make it go to
//! `failed` when that queue is connected (waiting for room there), and are
//! otherwise dropped and counted in the inbox's `dropped`. The module keeps
//! trying later batches; the error is logged once per failing streak.

use std::fs::OpenOptions;

use super::line_writer::LineWriter;
use crate::proxy::Module;
use crate::queue::{Batch, Receiver, Sender};
use crate::start_error::{Attempt, StartError};

pub struct FileOutConfig {
    pub name: &'static str,
    pub path: &'static str,
}

pub struct FileOut {
    name: &'static str,
    path: &'static str,
    inbox: Receiver,
    failed: Option<Sender>,
    file: std::fs::File,
}

impl FileOut {
    pub fn new(
        config: FileOutConfig,
        inbox: Receiver,
        failed: Option<Sender>,
    ) -> Result<FileOut, StartError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.path)
            .map_err(|e| {
                let what = format!("cannot open `{}`", config.path);
                let attempt = Attempt::Open { path: config.path };
                StartError::io(config.name, "file.out", what, attempt, &e)
            })?;
        tracing::info!(
            "module `{}` (file.out) appends to {}",
            config.name,
            config.path
        );
        Ok(FileOut {
            name: config.name,
            path: config.path,
            inbox,
            failed,
            file,
        })
    }
}

impl Module for FileOut {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let mut out = LineWriter::new(self.file);
        let mut batch = Batch::new();
        let mut failing = false;
        while self.inbox.recv(&mut batch).await {
            let failure = match out.write(&batch).await {
                Ok(()) => {
                    failing = false;
                    self.inbox.delivered(batch.len() as u64);
                    batch.clear();
                    continue;
                }
                Err(f) => f,
            };
            self.inbox.delivered(failure.written as u64);
            batch.split_to(failure.written);
            let unwritten = batch.len();
            if !failing {
                let fate = if self.failed.is_some() {
                    "sending events to `failed`"
                } else {
                    "dropping events"
                };
                tracing::error!(
                    "module `{}` (file.out) cannot write to `{}`: {}; {fate}",
                    self.name,
                    self.path,
                    crate::describe_io_error(&failure.error)
                );
            }
            failing = true;
            let handed_off = match &self.failed {
                Some(failed) => failed.send(&mut batch).await.is_ok(),
                None => false,
            };
            if !handed_off {
                self.inbox.discard(unwritten as u64);
            }
            batch.clear();
        }
    }
}
