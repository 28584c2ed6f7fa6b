//! The latencies `latency` measured, kept as runs: the lines of one read
//! that carry one stamp arrived together and were written together, so
//! they have one latency, recorded once with their count.
//!
//! At 20 M lines/s a vector of one entry per line is 80 MB a second to
//! write and, at the end, 60 M entries to sort; a read holds one or two
//! runs of about a thousand lines, so runs are a few hundred thousand
//! entries for a whole run. Percentiles and the slow-window count come out
//! exactly as they would from the per-line list (see the tests).

/// Lines that arrived in one read with one stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub ns: u32,
    pub lines: u32,
}

pub struct Latencies {
    runs: Vec<Run>,
    lines: u64,
}

impl Latencies {
    /// Room for `runs` runs, reserved and touched now: growing or first
    /// touching a large vector in the thread that also reads is a pause of
    /// milliseconds (page faults were 3 % of its time when it held one entry
    /// per line).
    pub fn with_capacity(runs: usize) -> Latencies {
        let mut v = Vec::with_capacity(runs);
        for slot in v.spare_capacity_mut().iter_mut().step_by(512) {
            slot.write(Run { ns: 0, lines: 0 });
        }
        Latencies { runs: v, lines: 0 }
    }

    /// `lines` lines that each took `ns`, after the ones recorded before.
    /// Joined to the last run when that took the same time (a batch's first
    /// line is read apart from the rest), which changes no figure.
    #[inline]
    pub fn record(&mut self, ns: u32, lines: u32) {
        self.lines += lines as u64;
        if let Some(last) = self.runs.last_mut() {
            if last.ns == ns {
                if let Some(sum) = last.lines.checked_add(lines) {
                    last.lines = sum;
                    return;
                }
            }
        }
        self.runs.push(Run { ns, lines });
    }

    /// How many lines were measured.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The latency (ns) that a fraction `p` (0 < p <= 1) of the lines did
    /// not exceed: the ceil(lines * p)-th smallest, as in a sorted per-line
    /// list. `None` when nothing was measured.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<Option<u32>> {
        let mut sorted = self.runs.clone();
        sorted.sort_unstable_by_key(|run| run.ns);
        ps.iter()
            .map(|&p| {
                if self.lines == 0 {
                    return None;
                }
                let rank = ((self.lines as f64 * p).ceil() as u64).clamp(1, self.lines);
                let mut seen = 0u64;
                sorted.iter().find_map(|run| {
                    seen += run.lines as u64;
                    (seen >= rank).then_some(run.ns)
                })
            })
            .collect()
    }

    /// How the tail is spread in time: the lines, in arrival order, cut
    /// into windows of `window` lines, and how many of those windows hold a
    /// line slower than `slow_ns`. Returns (slow windows, all windows).
    pub fn slow_windows(&self, window: u64, slow_ns: u32) -> (usize, usize) {
        let window = window.max(1);
        let (mut slow, mut all) = (0, 0);
        // Lines already in the current window, and whether it is slow.
        let (mut filled, mut counted) = (0u64, false);
        for run in &self.runs {
            let mut left = run.lines as u64;
            while left > 0 {
                if filled == 0 {
                    all += 1;
                    counted = false;
                }
                if run.ns > slow_ns && !counted {
                    slow += 1;
                    counted = true;
                }
                let take = left.min(window - filled);
                left -= take;
                filled = (filled + take) % window;
            }
        }
        (slow, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-line computation the runs replace.
    fn per_line(runs: &[Run]) -> Vec<u32> {
        runs.iter()
            .flat_map(|r| std::iter::repeat_n(r.ns, r.lines as usize))
            .collect()
    }

    fn runs(seed: u64, n: usize) -> Vec<Run> {
        // A small xorshift: repeatable data without a dependency.
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| Run {
                ns: (next() % 3_000_000) as u32,
                lines: (next() % 40 + 1) as u32,
            })
            .collect()
    }

    fn latencies(runs: &[Run]) -> Latencies {
        let mut l = Latencies::with_capacity(4);
        for r in runs {
            l.record(r.ns, r.lines);
        }
        l
    }

    #[test]
    fn percentiles_equal_the_sorted_per_line_list() {
        for (seed, n) in [(1, 1), (7, 3), (42, 500), (99, 2_000)] {
            let runs = runs(seed, n);
            let mut lines = per_line(&runs);
            lines.sort_unstable();
            let ps = [0.0001, 0.5, 0.99, 0.999, 1.0];
            let expected: Vec<Option<u32>> = ps
                .iter()
                .map(|&p| {
                    let i = ((lines.len() as f64 * p).ceil() as usize).clamp(1, lines.len()) - 1;
                    Some(lines[i])
                })
                .collect();
            let l = latencies(&runs);
            assert_eq!(l.lines(), lines.len() as u64);
            assert_eq!(l.percentiles(&ps), expected, "seed {seed}");
        }
        assert_eq!(Latencies::with_capacity(0).percentiles(&[0.5]), vec![None]);
    }

    #[test]
    fn slow_windows_equal_the_per_line_count() {
        for (seed, n, window) in [(3, 200, 7), (5, 1_000, 64), (8, 50, 1), (13, 300, 10_000)] {
            let runs = runs(seed, n);
            let lines = per_line(&runs);
            let chunks = lines.chunks(window as usize);
            let all = chunks.len();
            let slow = chunks
                .filter(|w| w.iter().any(|&ns| ns > 1_000_000))
                .count();
            assert!(
                slow > 0 && slow < all || window >= 10_000,
                "seed {seed}: a test that can tell"
            );
            assert_eq!(
                latencies(&runs).slow_windows(window, 1_000_000),
                (slow, all),
                "seed {seed}, window {window}"
            );
        }
    }
}
