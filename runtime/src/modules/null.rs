//! `null`: counts and discards every event. Its inbox's `out` counter is the
//! count; the events leave the in-flight count as delivered.

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Receiver};

pub struct NullConfig {
    pub name: &'static str,
}

pub struct Null {
    name: &'static str,
    inbox: Receiver,
}

impl Null {
    pub fn new(config: NullConfig, inbox: Receiver) -> Result<Null, StartError> {
        Ok(Null {
            name: config.name,
            inbox,
        })
    }
}

impl Module for Null {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let mut batch = Batch::new();
        while self.inbox.recv(&mut batch).await {
            self.inbox.delivered(batch.len() as u64);
            batch.clear();
        }
    }
}
