//! A tiny xorshift generator: repeatable spread without a dependency.
//!
//! tcp.out draws its reconnect jitter from it, and the randomized tests
//! their inputs (a fixed seed, so a failure repeats). It is not for anything
//! that must be hard to guess.

#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    /// Any seed works: the state is made odd, since xorshift stays at zero.
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0); the slight bias does not matter here.
    #[cfg(test)]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
