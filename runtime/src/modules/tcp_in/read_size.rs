//! How much buffer a client's next read gets, learned from its traffic.
//!
//! A read buffer is shared by the events cut from it until they are all
//! written out, so its size is memory that a client's queued lines pin:
//! a client that sends a line now and then should read into a small
//! buffer. A client that sends large bursts should read each burst in one
//! system call. So the size doubles while reads fill the buffer, and when
//! the client falls quiet it becomes the size of the burst just read
//! (rounded up to a power of two): the next burst of the same size is read
//! at once, and a client whose bursts shrink gets smaller buffers again.
//!
//! Starting each burst from the smallest size instead cost a client that
//! writes 60 KB every 50 µs five reads per burst (4, 8, 16, 32, 64 KB):
//! 70,000 reads a second for 1.2 GB/s.
//!
//! Many busy clients at once read less each: the reads above the smallest
//! size share a budget (see `read_budget`).

use super::read_budget::Share;

/// Read buffers are between these sizes.
pub const MIN_READ_SIZE: usize = 4 * 1024;
pub const MAX_READ_SIZE: usize = 256 * 1024;

#[derive(Debug)]
pub struct ReadSize {
    size: usize,
    /// Bytes read since the client was last quiet.
    burst: usize,
    share: Share,
}

impl ReadSize {
    pub fn new(share: Share) -> ReadSize {
        ReadSize {
            size: MIN_READ_SIZE,
            burst: 0,
            share,
        }
    }

    /// The size to reserve for the next read: what the client's bursts
    /// ask for, within its share of the budget.
    pub fn get(&self) -> usize {
        self.size.min(self.share.largest())
    }

    /// A read took `n` bytes; `filled` when it filled the buffer, so the
    /// client had more to give.
    pub fn read(&mut self, n: usize, filled: bool) {
        self.burst = self.burst.saturating_add(n);
        if filled {
            self.size = (self.size * 2).min(MAX_READ_SIZE);
            self.share.set_large(self.size > MIN_READ_SIZE);
        }
    }

    /// The client has nothing more to read for now: the next burst is
    /// expected to be like this one. A wake-up with nothing read changes
    /// nothing.
    pub fn quiet(&mut self) {
        if self.burst > 0 {
            self.size = self
                .burst
                .next_power_of_two()
                .clamp(MIN_READ_SIZE, MAX_READ_SIZE);
            self.burst = 0;
            self.share.set_large(self.size > MIN_READ_SIZE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_budget::ReadBudget;
    use super::*;
    use std::sync::Arc;

    fn alone() -> ReadSize {
        ReadSize::new(Share::new(Arc::new(ReadBudget::default())))
    }

    #[test]
    fn a_burst_sets_the_size_of_the_next_read() {
        let mut size = alone();
        assert_eq!(size.get(), MIN_READ_SIZE);
        // A 60 KB burst read while the size doubled: 4 + 8 + 16 + 32 KB.
        for n in [4, 8, 16, 32] {
            size.read(n * 1024, true);
        }
        assert_eq!(size.get(), 64 * 1024);
        size.read(1024, false);
        size.quiet();
        assert_eq!(size.get(), 64 * 1024, "the next 60 KB burst is one read");
        // A spurious wake-up keeps what was learned.
        size.quiet();
        assert_eq!(size.get(), 64 * 1024);
    }

    #[test]
    fn a_client_that_sends_little_gets_small_buffers_again() {
        let mut size = alone();
        for _ in 0..10 {
            size.read(MAX_READ_SIZE, true);
        }
        assert_eq!(size.get(), MAX_READ_SIZE, "never above the largest size");
        size.quiet();
        assert_eq!(size.get(), MAX_READ_SIZE);
        size.read(100, false);
        size.quiet();
        assert_eq!(size.get(), MIN_READ_SIZE);
        size.read(5_000, false);
        size.quiet();
        assert_eq!(size.get(), 8 * 1024);
    }

    #[test]
    fn many_busy_clients_read_less_each() {
        let budget = Arc::new(ReadBudget::default());
        let mut clients: Vec<ReadSize> = (0..100)
            .map(|_| ReadSize::new(Share::new(budget.clone())))
            .collect();
        for client in &mut clients {
            for _ in 0..6 {
                client.read(MAX_READ_SIZE, true);
            }
        }
        assert_eq!(clients[0].get(), 32 * 1024, "100 busy clients share 4 MiB");
        // Those whose bursts shrink to a line now and then give their share back.
        for client in &mut clients[1..] {
            client.quiet();
            client.read(100, false);
            client.quiet();
        }
        assert_eq!(clients[1].get(), MIN_READ_SIZE);
        assert_eq!(
            clients[0].get(),
            MAX_READ_SIZE,
            "busy alone: as much as it learned"
        );
        // A client that ends gives its share back too.
        clients.truncate(1);
        assert_eq!(budget.largest(), MAX_READ_SIZE);
    }
}
