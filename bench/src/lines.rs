//! The benchmark's line formats. Every line is a valid graphite plaintext
//! line (`name value timestamp`) so that carbon-c-relay, which parses what it
//! routes, takes the same file as the byte-splicing relays.
//!
//! Lines are built from a fixed template with the numbers written in place,
//! so making one costs a few stores and the length is exact.

/// `bench.m0000000042.aaaa… 1 1700000000\n`: zero-padded sequence numbers
/// make the file sorted (byte order), which lets the verifier merge the
/// shares of a split run with `sort -m`.
pub struct DataLine {
    template: Vec<u8>,
}

const DATA_HEAD: &[u8] = b"bench.m";
const DATA_TAIL: &[u8] = b" 1 1700000000\n";
const SEQ_DIGITS: usize = 10;

impl DataLine {
    /// The shortest data line: head, sequence, `.`, tail.
    pub const MIN_SIZE: usize = DATA_HEAD.len() + SEQ_DIGITS + 1 + DATA_TAIL.len();

    /// A template for lines of exactly `size` bytes (newline included).
    pub fn new(size: usize) -> Option<DataLine> {
        let pad = size.checked_sub(Self::MIN_SIZE)?;
        let mut template = Vec::with_capacity(size);
        template.extend_from_slice(DATA_HEAD);
        template.extend_from_slice(&[b'0'; SEQ_DIGITS]);
        template.push(b'.');
        template.extend((0..pad).map(|i| b'a' + (i % 26) as u8));
        template.extend_from_slice(DATA_TAIL);
        Some(DataLine { template })
    }

    /// The line with sequence number `seq` (mod 10^10).
    pub fn line(&mut self, seq: u64) -> &[u8] {
        write_digits(&mut self.template[DATA_HEAD.len()..][..SEQ_DIGITS], seq);
        &self.template
    }
}

/// `lat.m0000000042.aaa 00000001234567890123 1700000000\n`: the value is the
/// sender's CLOCK_MONOTONIC at write time, read back by the latency sink.
pub struct StampLine {
    template: Vec<u8>,
}

const STAMP_HEAD: &[u8] = b"lat.m";
const STAMP_TAIL: &[u8] = b" 1700000000\n";
const STAMP_DIGITS: usize = 20;

impl StampLine {
    pub const MIN_SIZE: usize = STAMP_HEAD.len() + SEQ_DIGITS + 2 + STAMP_DIGITS + STAMP_TAIL.len();

    pub fn new(size: usize) -> Option<StampLine> {
        let pad = size.checked_sub(Self::MIN_SIZE)?;
        let mut template = Vec::with_capacity(size);
        template.extend_from_slice(STAMP_HEAD);
        template.extend_from_slice(&[b'0'; SEQ_DIGITS]);
        template.push(b'.');
        template.extend((0..pad).map(|i| b'a' + (i % 26) as u8));
        template.push(b' ');
        template.extend_from_slice(&[b'0'; STAMP_DIGITS]);
        template.extend_from_slice(STAMP_TAIL);
        Some(StampLine { template })
    }

    pub fn line(&mut self, seq: u64, stamp_ns: u64) -> &[u8] {
        let n = self.template.len();
        write_digits(&mut self.template[STAMP_HEAD.len()..][..SEQ_DIGITS], seq);
        let at = n - STAMP_TAIL.len() - STAMP_DIGITS;
        write_digits(&mut self.template[at..][..STAMP_DIGITS], stamp_ns);
        &self.template
    }

    /// Appends lines `first..first + n` to `out`, all stamped `stamp_ns`.
    /// The stamp is written once and the sequence number counted up in
    /// place, so a line costs a copy instead of 30 divisions.
    pub fn extend(&mut self, out: &mut Vec<u8>, first: u64, n: u64, stamp_ns: u64) {
        self.line(first, stamp_ns);
        for i in 0..n {
            if i > 0 {
                increment_digits(&mut self.template[STAMP_HEAD.len()..][..SEQ_DIGITS]);
            }
            out.extend_from_slice(&self.template);
        }
    }

    /// Reads `(seq, stamp_ns)` back from a line without its `\n`; `None`
    /// for a line this format did not make.
    pub fn parse(line: &[u8]) -> Option<(u64, u64)> {
        let tail = STAMP_TAIL.len() - 1; // the line comes without its newline
        let stamp_at = line.len().checked_sub(tail + STAMP_DIGITS)?;
        if !line.starts_with(STAMP_HEAD) || stamp_at < STAMP_HEAD.len() + SEQ_DIGITS {
            return None;
        }
        let seq = read_digits(&line[STAMP_HEAD.len()..][..SEQ_DIGITS])?;
        let stamp = read_digits(&line[stamp_at..][..STAMP_DIGITS])?;
        Some((seq, stamp))
    }
}

fn write_digits(field: &mut [u8], mut value: u64) {
    for slot in field.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Adds one to a decimal field, wrapping to all zeros past all nines (the
/// same modulo as [`write_digits`]).
fn increment_digits(field: &mut [u8]) {
    for slot in field.iter_mut().rev() {
        if *slot == b'9' {
            *slot = b'0';
        } else {
            *slot += 1;
            return;
        }
    }
}

/// Branch-free per digit: the latency sink parses every line it receives.
fn read_digits(field: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    let mut all_digits = true;
    for &b in field {
        let d = b.wrapping_sub(b'0');
        all_digits &= d < 10;
        n = n.wrapping_mul(10).wrapping_add(d as u64);
    }
    all_digits.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_lines_have_the_exact_size_and_sort_by_sequence() {
        for size in [DataLine::MIN_SIZE, 64, 1024] {
            let mut t = DataLine::new(size).unwrap();
            let a = t.line(9).to_vec();
            let b = t.line(10).to_vec();
            assert_eq!(a.len(), size);
            assert!(a < b);
            assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 1);
            assert_eq!(
                a.split(|&c| c == b' ').count(),
                3,
                "graphite: name value timestamp"
            );
        }
        assert_eq!(
            DataLine::new(64).unwrap().line(1),
            b"bench.m0000000001.abcdefghijklmnopqrstuvwxyzabcdef 1 1700000000\n"
        );
        assert!(DataLine::new(DataLine::MIN_SIZE - 1).is_none());
    }

    #[test]
    fn stamp_lines_round_trip() {
        let mut t = StampLine::new(64).unwrap();
        let line = t.line(42, 1_234_567_890_123).to_vec();
        assert_eq!(line.len(), 64);
        assert_eq!(StampLine::parse(&line[..63]), Some((42, 1_234_567_890_123)));
        assert_eq!(StampLine::parse(b"bench.m0000000001.x 1 1700000000"), None);
        let mut bad = line.clone();
        bad[10] = b'x';
        assert_eq!(StampLine::parse(&bad[..63]), None);
    }

    #[test]
    fn a_batch_equals_the_lines_made_one_by_one() {
        let mut t = StampLine::new(64).unwrap();
        for first in [0, 8, 99, 9_999_999_998] {
            let mut batch = Vec::new();
            t.extend(&mut batch, first, 5, 777);
            let one_by_one: Vec<u8> = (first..first + 5)
                .flat_map(|seq| t.line(seq, 777).to_vec())
                .collect();
            assert_eq!(batch, one_by_one, "batch from {first}");
        }
        let mut empty = Vec::new();
        t.extend(&mut empty, 3, 0, 777);
        assert!(empty.is_empty());
    }
}
