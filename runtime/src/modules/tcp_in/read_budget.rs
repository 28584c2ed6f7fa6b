//! How much read buffer the busy clients of one `tcp.in` hold together.
//!
//! A client's read buffer follows its bursts (see `read_size`), up to
//! 256 KiB, and the events cut from a buffer keep it alive until they are
//! written. One client reading 256 KiB at a time is what makes a single
//! stream fast; a hundred such clients held 21-46 MiB (the benchmark's
//! `CLIENTS=100` run, against 15 MiB for haproxy). So the clients whose
//! reads are above the smallest size share [`BUDGET`]: each may read up to
//! its share, rounded down to a power of two and never below the smallest
//! read. Up to 16 busy clients read as much as one alone; with more, each
//! reads less, and the buffers of all of them stay near the budget.
//!
//! Clients that read little (the smallest size) are not counted: thousands
//! of quiet or trickling clients leave the whole budget to the busy ones.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use super::read_size::{MAX_READ_SIZE, MIN_READ_SIZE};

/// Bytes of large read buffers the clients of one `tcp.in` share.
pub const BUDGET: usize = 4 * 1024 * 1024;

/// The clients of one `tcp.in` that read more than the smallest size.
#[derive(Debug, Default)]
pub struct ReadBudget {
    large: AtomicUsize,
}

impl ReadBudget {
    /// The largest read one client may make now.
    pub fn largest(&self) -> usize {
        let share = BUDGET / self.large.load(Relaxed).max(1);
        round_down_to_power_of_two(share).clamp(MIN_READ_SIZE, MAX_READ_SIZE)
    }

    /// How many clients read more than the smallest size now.
    #[cfg(test)]
    pub fn large_readers(&self) -> usize {
        self.large.load(Relaxed)
    }
}

/// One client's place in its module's [`ReadBudget`]: counted while its
/// reads are large, and no longer once it is dropped.
#[derive(Debug)]
pub struct Share {
    budget: Arc<ReadBudget>,
    counted: bool,
}

impl Share {
    pub fn new(budget: Arc<ReadBudget>) -> Share {
        Share {
            budget,
            counted: false,
        }
    }

    /// Whether this client now reads more than the smallest size.
    pub fn set_large(&mut self, large: bool) {
        if large != self.counted {
            if large {
                self.budget.large.fetch_add(1, Relaxed);
            } else {
                self.budget.large.fetch_sub(1, Relaxed);
            }
            self.counted = large;
        }
    }

    /// The largest read this client may make now.
    pub fn largest(&self) -> usize {
        self.budget.largest()
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.set_large(false);
    }
}

fn round_down_to_power_of_two(n: usize) -> usize {
    match n {
        0 => 0,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn large_clients(budget: &Arc<ReadBudget>, n: usize) -> Vec<Share> {
        (0..n)
            .map(|_| {
                let mut share = Share::new(budget.clone());
                share.set_large(true);
                share
            })
            .collect()
    }

    #[test]
    fn busy_clients_share_the_budget() {
        let budget = Arc::new(ReadBudget::default());
        assert_eq!(budget.largest(), MAX_READ_SIZE, "no busy client yet");
        for (busy, largest) in [
            (1, 256 * 1024),
            (16, 256 * 1024),
            (17, 128 * 1024),
            (100, 32 * 1024),
            (1000, MIN_READ_SIZE),
            (5000, MIN_READ_SIZE),
        ] {
            let shares = large_clients(&budget, busy);
            assert_eq!(shares[0].largest(), largest, "{busy} busy clients");
            assert!(busy * largest <= BUDGET || largest == MIN_READ_SIZE);
        }
    }

    #[test]
    fn a_client_leaves_the_count_when_quiet_or_gone() {
        let budget = Arc::new(ReadBudget::default());
        let mut shares = large_clients(&budget, 32);
        assert_eq!(budget.largest(), 128 * 1024);
        // Counted once however often it says so.
        shares[0].set_large(true);
        assert_eq!(budget.largest(), 128 * 1024);
        shares.truncate(17);
        assert_eq!(budget.largest(), 128 * 1024);
        shares[0].set_large(false);
        assert_eq!(budget.largest(), 256 * 1024, "16 busy clients");
        drop(shares);
        assert_eq!(budget.large.load(Relaxed), 0);
    }

    #[test]
    fn powers_of_two_round_down() {
        assert_eq!(round_down_to_power_of_two(0), 0);
        assert_eq!(round_down_to_power_of_two(1), 1);
        assert_eq!(round_down_to_power_of_two(41_943), 32_768);
        assert_eq!(round_down_to_power_of_two(65_536), 65_536);
    }
}
