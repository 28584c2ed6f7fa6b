//! `stdout`: writes each event followed by `\n` to standard output, one
//! write per batch. A write error (closed pipe) drops the events, counted in
//! the inbox's `dropped`, and is logged once.

use super::line_writer::LineWriter;
use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver};

pub struct StdoutConfig {
    pub name: &'static str,
}

pub struct Stdout {
    name: &'static str,
    inbox: Receiver,
}

impl Stdout {
    pub fn new(config: StdoutConfig, inbox: Receiver) -> Result<Stdout, StartError> {
        Ok(Stdout {
            name: config.name,
            inbox,
        })
    }
}

impl Module for Stdout {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        tracing::info!("module `{}` (stdout) writes to standard output", self.name);
        let mut out = LineWriter::new(std::io::stdout());
        let mut batch = Batch::new();
        let mut failing = false;
        while self.inbox.recv(&mut batch).await {
            match out.write(&batch).await {
                Ok(()) => {
                    failing = false;
                    self.inbox.delivered(batch.len() as u64);
                }
                Err(f) => {
                    if !failing {
                        tracing::error!(
                            "module `{}` (stdout) cannot write to standard output: {}; dropping events",
                            self.name,
                            crate::describe_io_error(&f.error)
                        );
                    }
                    failing = true;
                    self.inbox.delivered(f.written as u64);
                    self.inbox.discard((batch.len() - f.written) as u64);
                }
            }
            batch.clear();
        }
    }
}
