//! Reconnect delays: start at the configured `reconnect`, double after every
//! failed attempt up to [`MAX_DELAY`], reset once connected.
//!
//! Jitter spreads reconnects of many proxies to one restarted backend. It only
//! ever shortens a delay (down to 3/4 of it), so the nominal schedule is an
//! upper bound a test or an operator can rely on.

use std::time::Duration;

pub const MAX_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    /// xorshift state; quality does not matter, only spread.
    rng: u64,
}

impl Backoff {
    pub fn new(first: Duration, seed: u64) -> Self {
        let first = first.min(MAX_DELAY);
        Backoff {
            first,
            next: first,
            rng: seed | 1,
        }
    }

    /// The delay before the next attempt; doubles the one after it.
    pub fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        // Fraction in [0, 1/4) of the nominal delay is taken off.
        let cut = nominal.mul_f64((self.rng >> 11) as f64 / (1u64 << 53) as f64 / 4.0);
        nominal - cut
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_below_nominal() {
        let mut b = Backoff::new(Duration::from_millis(1000), 42);
        let mut nominal = Duration::from_millis(1000);
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(
                d <= nominal && d >= nominal.mul_f64(0.75),
                "{d:?} vs {nominal:?}"
            );
            nominal = (nominal * 2).min(MAX_DELAY);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1000));
    }
}
