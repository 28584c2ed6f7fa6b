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
    /// The first line is copied by doubling (a few large copies, not a call
    /// per line), then each copy gets its sequence number, counted up in a
    /// register (`AsciiCounter`) and stored whole: the sender makes up to
    /// 25 M lines/s on the core it shares with the reader. A copy call per
    /// line was a sixth of its time; counting up digit by digit in memory
    /// and copying the field out, a tenth (each copy waited for the byte
    /// stores before it).
    pub fn extend(&mut self, out: &mut Vec<u8>, first: u64, n: u64, stamp_ns: u64) {
        if n == 0 {
            return;
        }
        let size = self.template.len();
        let start = out.len();
        let total = n as usize * size;
        out.extend_from_slice(self.line(first, stamp_ns));
        while out.len() - start < total {
            let have = out.len() - start;
            out.extend_from_within(start..start + have.min(total - have));
        }
        let at = STAMP_HEAD.len();
        let mut seq = AsciiCounter::new(&self.template[at..][..SEQ_DIGITS]);
        for line in out[start + size..].chunks_exact_mut(size) {
            seq.increment();
            seq.store(&mut line[at..][..SEQ_DIGITS]);
        }
    }
}

/// A field of [`SEQ_DIGITS`] ASCII digits held in one integer, most
/// significant digit first (big-endian), so adding one is an add and a
/// compare unless the last digit was a 9.
struct AsciiCounter(u128);

impl AsciiCounter {
    const SKIP: usize = 16 - SEQ_DIGITS;

    fn new(field: &[u8]) -> AsciiCounter {
        let mut bytes = [0u8; 16];
        bytes[Self::SKIP..].copy_from_slice(field);
        AsciiCounter(u128::from_be_bytes(bytes))
    }

    #[inline]
    fn increment(&mut self) {
        let next = self.0 + 1;
        if next as u8 <= b'9' {
            self.0 = next;
            return;
        }
        let mut bytes = self.0.to_be_bytes();
        increment_digits(&mut bytes[Self::SKIP..]);
        self.0 = u128::from_be_bytes(bytes);
    }

    #[inline]
    fn store(&self, field: &mut [u8]) {
        field.copy_from_slice(&self.0.to_be_bytes()[Self::SKIP..]);
    }
}

/// Reads the stamps back from [`StampLine`]s. The latency sink reads every
/// line at up to 25 M lines/s on the core it shares with the sender. The
/// lines of one batch carry the same stamp: the first is found with a
/// newline search and parsed ([`StampReader::stamp`]); the ones after it
/// are taken whole at the line size while they carry that same stamp field
/// ([`StampReader::same_stamp_lines`]), a few compares per line.
pub struct StampReader {
    size: usize,
    /// Where the stamp field starts in a line.
    field_at: usize,
    last_field: [u8; STAMP_DIGITS],
    last: Option<u64>,
}

impl StampReader {
    /// A reader of lines made by `StampLine::new(size)`.
    pub fn new(size: usize) -> StampReader {
        StampReader {
            size,
            field_at: size.saturating_sub(STAMP_TAIL.len() + STAMP_DIGITS),
            last_field: [0; STAMP_DIGITS],
            last: None,
        }
    }

    /// The size of the lines this reader takes, `\n` included.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The stamp of `line` (without its `\n`); `None` for a line this
    /// format did not make: another length, another head, or a stamp that
    /// is not all digits.
    #[inline]
    pub fn stamp(&mut self, line: &[u8]) -> Option<u64> {
        if line.len() + 1 != self.size || !line.starts_with(STAMP_HEAD) {
            return None;
        }
        let field = self.field(line)?;
        if self.last.is_some() && field == self.last_field {
            return self.last;
        }
        let stamp = read_digits(&field)?;
        self.last_field = field;
        self.last = Some(stamp);
        self.last
    }

    /// How many whole lines at the start of `bytes` carry the stamp that
    /// [`StampReader::stamp`] returned last, and that stamp. A line counts
    /// when it has this format's size, head and final newline and the same
    /// stamp field; the first that does not (or a cut line) ends the count,
    /// and the caller reads it with a newline search.
    #[inline]
    pub fn same_stamp_lines(&self, bytes: &[u8]) -> (usize, Option<u64>) {
        if self.last.is_none() {
            return (0, None);
        }
        let n = bytes
            .chunks_exact(self.size)
            .take_while(|line| {
                line.last() == Some(&b'\n')
                    && line.starts_with(STAMP_HEAD)
                    && self.field(line) == Some(self.last_field)
            })
            .count();
        (n, self.last)
    }

    /// The stamp field of a line of this format's size. A fixed-size
    /// array, so comparing two is a few integer compares, not a call.
    #[inline]
    fn field(&self, line: &[u8]) -> Option<[u8; STAMP_DIGITS]> {
        line.get(self.field_at..self.field_at + STAMP_DIGITS)?
            .try_into()
            .ok()
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
    fn stamps_round_trip() {
        let mut t = StampLine::new(64).unwrap();
        let mut r = StampReader::new(64);
        let line = t.line(42, 1_234_567_890_123).to_vec();
        assert_eq!(line.len(), 64);
        assert_eq!(r.stamp(&line[..63]), Some(1_234_567_890_123));
        // The same stamp again comes from the cache; a new one is parsed.
        assert_eq!(
            r.stamp(&t.line(43, 1_234_567_890_123)[..63]),
            Some(1_234_567_890_123)
        );
        assert_eq!(r.stamp(&t.line(44, 7)[..63]), Some(7));
        assert_eq!(
            r.stamp(&t.line(45, 1_234_567_890_123)[..63]),
            Some(1_234_567_890_123)
        );
    }

    #[test]
    fn stamp_reader_rejects_other_lines() {
        let mut t = StampLine::new(64).unwrap();
        let mut r = StampReader::new(64);
        let line = t.line(42, 99).to_vec();
        assert_eq!(r.stamp(&line[..63]), Some(99));
        assert_eq!(r.stamp(b"bench.m0000000001.x 1 1700000000"), None);
        assert_eq!(r.stamp(&line[..62]), None, "a line cut short");
        let mut head = line.clone();
        head[0] = b'x';
        assert_eq!(r.stamp(&head[..63]), None);
        // A damaged stamp differs from the cached one, so it is parsed.
        let mut stamp = line.clone();
        stamp[63 - 12] = b'x';
        assert_eq!(r.stamp(&stamp[..63]), None);
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

    #[test]
    fn lines_after_a_parsed_one_are_taken_while_they_share_its_stamp() {
        let mut t = StampLine::new(64).unwrap();
        let mut r = StampReader::new(64);
        let mut bytes = Vec::new();
        t.extend(&mut bytes, 0, 4, 500);
        t.extend(&mut bytes, 4, 2, 600);
        assert_eq!(r.same_stamp_lines(&bytes), (0, None), "nothing parsed yet");
        assert_eq!(r.stamp(&bytes[..63]), Some(500));
        assert_eq!(r.same_stamp_lines(&bytes[64..]), (3, Some(500)));
        assert_eq!(
            r.same_stamp_lines(&bytes[64..64 * 3 + 10]),
            (2, Some(500)),
            "a cut line is left"
        );
        let mut damaged = bytes.clone();
        damaged[64 * 2 + 63] = b'x';
        assert_eq!(
            r.same_stamp_lines(&damaged[64..]),
            (1, Some(500)),
            "no newline at its end"
        );
        damaged = bytes.clone();
        damaged[64 * 2] = b'x';
        assert_eq!(
            r.same_stamp_lines(&damaged[64..]),
            (1, Some(500)),
            "another head"
        );
    }
}
