//! Written but not yet acknowledged: recovering what a reset connection
//! never received.
//!
//! A write only puts bytes into the kernel's send buffer. If the backend dies
//! (its kernel answers with a reset), every byte it had not acknowledged is
//! certainly not delivered: the backend never received it. The kernel tells
//! how many bytes the peer acknowledged (`TCP_INFO`, `tcpi_bytes_acked`), so
//! tcp.out keeps each written batch until the peer has acknowledged all of
//! it and, on a reset, hands the unacknowledged events on like unwritten
//! ones. What remains lost is only what the backend's own receive buffer
//! held (received and acknowledged, never read): no sender can know that.
//! The converse also holds: a receiver delays its acknowledgements (the
//! longer when it leaves data unread), so a backend may have read lines it
//! had not acknowledged yet when it died; those are sent again and arrive
//! twice. Recovery is at least once for the unacknowledged tail, and what
//! arrives twice is only that tail's start, never more than was re-sent.
//!
//! Whole batches are kept (the written batch is moved here, its buffers
//! shared, not copied), so keeping costs no copy. The send buffer bounds the
//! bytes kept, but not the pieces: each costs a handle and pins the buffer
//! it is a view of, and a send buffer full of one-line pieces (one per
//! batch from trickling clients) is many thousands of them. So at most
//! [`PIECE_LIMIT`] pieces are kept: past it the oldest batches are
//! forgotten, as if acknowledged. A polite close (the peer shut down its
//! side and keeps reading) recovers nothing: the peer still reads what is
//! in flight.

use std::collections::VecDeque;
use tokio::net::TcpStream;

use crate::queue::Batch;

/// Emptied vectors kept for reuse.
const SPARE_LIMIT: usize = 8;

/// Most pieces kept for recovery. A fast producer's batches are one piece
/// per read (thousands of lines each), so the send buffer (twice
/// [`SEND_BUFFER`]) holds a handful of them and recovery is exact. Only a
/// backend that dies with more than this many separately written pieces
/// unacknowledged (thousands of tiny batches from trickling clients, which
/// it had stopped reading) loses the oldest of them, like the residue of its
/// own receive buffer.
///
/// [`SEND_BUFFER`]: super::SEND_BUFFER
pub const PIECE_LIMIT: usize = 16 * 1024;

/// Kept bytes past which a written batch asks the kernel what the peer
/// acknowledged. Asking after every batch (a `getsockopt` per `writev`)
/// measurably added to each wake-up at high event rates; asking once per
/// send buffer's worth keeps what is kept within about twice the kernel's
/// send buffer, and recovery itself always asks afresh.
const CHECK_BYTES: u64 = 2 * super::SEND_BUFFER as u64;

/// Written batches after which the kernel is asked anyway. A slow client
/// writes small batches: at 100,000 lines/s through a roundrobin, each of
/// its outputs wrote a batch of two or three lines every 50 µs, so a send
/// buffer's worth was over 3,000 batches, and dropping them all at once
/// (each a vector and a shared buffer to free, long out of the cache) kept
/// the task from its next batch for 0.5-0.8 ms, 30 times in 2.5 s. Asking
/// every 64 batches drops a few dozen at a time.
const CHECK_BATCHES: usize = 64;

/// Batches written into one connection and not yet fully acknowledged.
#[derive(Debug, Default)]
pub struct Unacked {
    /// Each batch with the stream position (bytes written on this connection)
    /// just after its last newline.
    batches: VecDeque<(Batch, u64)>,
    /// Pieces in `batches`.
    pieces: usize,
    /// Bytes written on this connection.
    written: u64,
    /// `tcpi_bytes_acked` right after connecting (the handshake may count).
    base: Option<u64>,
    /// Batches kept since the kernel was last asked.
    since_check: usize,
    spare: Vec<Batch>,
}

impl Unacked {
    /// Starts tracking a new connection. Without `TCP_INFO` (not Linux, or
    /// a kernel older than 4.1) nothing is tracked and nothing recovered.
    pub fn connected(&mut self, stream: &TcpStream) {
        self.forget();
        self.written = 0;
        self.since_check = 0;
        self.base = bytes_acked(stream);
    }

    /// Takes a fully written batch (leaving an empty batch in its place)
    /// and, once more than [`CHECK_BYTES`] or [`CHECK_BATCHES`] batches are
    /// kept, drops the batches the peer has acknowledged since.
    pub fn written(&mut self, stream: &TcpStream, batch: &mut Batch) {
        if self.base.is_none() {
            batch.clear();
            return;
        }
        let spare = self.spare.pop().unwrap_or_default();
        if self.keep(std::mem::replace(batch, spare)) {
            let acked = self.acked(stream);
            self.drop_acknowledged(acked);
        }
        self.cap_pieces();
    }

    /// Keeps a written batch; true when it is time to ask the kernel what
    /// the peer acknowledged.
    fn keep(&mut self, batch: Batch) -> bool {
        self.push(batch);
        self.since_check += 1;
        let due = self.since_check >= CHECK_BATCHES || self.kept_bytes() > CHECK_BYTES;
        if due {
            self.since_check = 0;
        }
        due
    }

    /// Drops the batches the peer has whole, given the acknowledged bytes.
    fn drop_acknowledged(&mut self, acked: u64) {
        while self.batches.front().is_some_and(|(_, end)| *end <= acked) {
            self.drop_oldest();
        }
    }

    /// Bytes of the batches kept.
    fn kept_bytes(&self) -> u64 {
        self.batches
            .front()
            .map_or(0, |(b, end)| self.written - (end - b.byte_len() as u64))
    }

    /// Forgets the oldest batches while more than [`PIECE_LIMIT`] pieces are
    /// kept (the trade-off is described there).
    fn cap_pieces(&mut self) {
        while self.pieces > PIECE_LIMIT {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((mut done, _)) = self.batches.pop_front() {
            self.pieces -= done.pieces().len();
            done.clear();
            if self.spare.len() < SPARE_LIMIT {
                self.spare.push(done);
            }
        }
    }

    /// Takes events written completely by a write that then failed.
    pub fn written_before_failure(&mut self, events: Batch) {
        if self.base.is_some() && !events.is_empty() {
            self.push(events);
            self.cap_pieces();
        }
    }

    fn push(&mut self, batch: Batch) {
        self.written += batch.byte_len() as u64;
        self.pieces += batch.pieces().len();
        self.batches.push_back((batch, self.written));
    }

    /// The connection was reset: moves every event the peer did not
    /// acknowledge, in order, to the front of `held`. Returns how many.
    pub fn recover(&mut self, stream: &TcpStream, held: &mut Batch) -> usize {
        if self.batches.is_empty() {
            return 0;
        }
        let acked = self.acked(stream);
        self.recover_after(acked, held)
    }

    /// The connection is ending with nowhere left to send: how many events
    /// the peer did not acknowledge (they are dropped from the tracking).
    pub fn unacknowledged(&mut self, stream: &TcpStream) -> usize {
        self.recover(stream, &mut Batch::new())
    }

    /// [`recover`](Self::recover) given the acknowledged byte count.
    fn recover_after(&mut self, acked: u64, held: &mut Batch) -> usize {
        let mut lost = Batch::new();
        self.pieces = 0;
        for (mut batch, end) in self.batches.drain(..) {
            if end <= acked {
                continue;
            }
            let start = end - batch.byte_len() as u64;
            if acked > start {
                // The events the peer has whole (an event counts as received
                // only with its newline).
                let received = batch.events_within((acked - start) as usize);
                batch.split_to(received);
            }
            lost.append(&mut batch);
        }
        let n = lost.len();
        lost.append(held);
        *held = lost;
        n
    }

    /// Drops everything tracked (the peer closed politely and reads what is
    /// in flight, or the connection ended cleanly).
    pub fn forget(&mut self) {
        self.pieces = 0;
        for (mut batch, _) in self.batches.drain(..) {
            batch.clear();
            if self.spare.len() < SPARE_LIMIT {
                self.spare.push(batch);
            }
        }
    }

    /// Data bytes the peer acknowledged on this connection.
    fn acked(&self, stream: &TcpStream) -> u64 {
        match (self.base, bytes_acked(stream)) {
            (Some(base), Some(now)) => now.saturating_sub(base),
            _ => 0,
        }
    }
}

/// `tcpi_bytes_acked` of the connection, when the kernel reports it.
#[cfg(target_os = "linux")]
fn bytes_acked(stream: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    // SAFETY: tcp_info is plain old data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointers are valid for `len` bytes and the kernel writes at
    // most `len` bytes, reporting how many in `len`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    let end_of_field = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    (rc == 0 && len as usize >= end_of_field).then_some(info.tcpi_bytes_acked)
}

#[cfg(not(target_os = "linux"))]
fn bytes_acked(_stream: &TcpStream) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::any;
    use proptest::sample::Index;

    fn batch(ls: &[&str]) -> Batch {
        ls.iter().collect()
    }

    /// Tracking as if connected with `TCP_INFO` available.
    fn tracking(batches: &[&[&str]]) -> Unacked {
        let mut u = Unacked {
            base: Some(0),
            ..Unacked::default()
        };
        for b in batches {
            u.push(batch(b));
        }
        u
    }

    #[test]
    fn nothing_acknowledged_recovers_everything_in_order_before_held() {
        // "ab\n" "c\n" | "def\n": 3 + 2 + 4 bytes.
        let mut u = tracking(&[&["ab", "c"], &["def"]]);
        let mut held = batch(&["unwritten"]);
        assert_eq!(u.recover_after(0, &mut held), 3);
        assert_eq!(held, {
            let mut all = batch(&["ab", "c"]);
            all.append(&mut batch(&["def"]));
            all.append(&mut batch(&["unwritten"]));
            all
        });
    }

    #[test]
    fn an_event_counts_as_received_only_with_its_newline() {
        let mut u = tracking(&[&["ab", "c"], &["def"]]);
        let mut held = Batch::new();
        // "ab\n" acknowledged, "c" but not its newline.
        assert_eq!(u.recover_after(4, &mut held), 2);
        assert_eq!(held.to_vec(), batch(&["c", "def"]).to_vec());
    }

    #[test]
    fn fully_acknowledged_batches_are_not_sent_again() {
        let mut u = tracking(&[&["ab", "c"], &["def"]]);
        let mut held = Batch::new();
        assert_eq!(u.recover_after(5, &mut held), 1);
        assert_eq!(held.to_vec(), batch(&["def"]).to_vec());
        let mut u = tracking(&[&["ab", "c"], &["def"]]);
        let mut held = Batch::new();
        assert_eq!(u.recover_after(9, &mut held), 0);
        assert!(held.is_empty());
    }

    proptest::proptest! {
        /// Random batches written, each followed by a random share of what
        /// is not yet acknowledged being acknowledged (and, at random, the
        /// acknowledged batches dropped), then a reset: the events recovered
        /// are, in order, exactly those whose newline the peer had not
        /// acknowledged, ahead of the unwritten ones.
        #[test]
        fn after_random_writes_and_acks_exactly_the_unacknowledged_events_come_back(
            writes in vec((vec(0..9usize, 0..6), any::<Index>(), any::<bool>()), 1..12),
        ) {
            let mut u = tracking(&[]);
            // Each event with the stream position just after its newline.
            let mut wire: Vec<(String, u64)> = Vec::new();
            let mut acked = 0;
            for (lengths, ack, drop) in &writes {
                let events: Vec<String> = lengths.iter().map(|n| "x".repeat(*n)).collect();
                for e in &events {
                    let at = wire.last().map_or(0, |(_, end)| *end);
                    wire.push((e.clone(), at + e.len() as u64 + 1));
                }
                u.push(events.iter().collect());
                let written = wire.last().map_or(0, |(_, end)| *end);
                acked += ack.index((written - acked) as usize + 1) as u64;
                if *drop {
                    u.drop_acknowledged(acked);
                }
            }
            let mut held = batch(&["unwritten"]);
            let want: Vec<&str> = wire
                .iter()
                .filter(|(_, end)| *end > acked)
                .map(|(e, _)| e.as_str())
                .chain(["unwritten"])
                .collect();
            proptest::prop_assert_eq!(u.recover_after(acked, &mut held), want.len() - 1);
            proptest::prop_assert_eq!(held, batch(&want), "{} bytes acknowledged", acked);
        }
    }

    #[test]
    fn without_tcp_info_nothing_is_kept() {
        let mut u = Unacked::default();
        u.written_before_failure(batch(&["x"]));
        let mut held = Batch::new();
        assert_eq!(u.recover_after(0, &mut held), 0);
    }

    #[test]
    fn past_the_piece_limit_the_oldest_batches_are_forgotten() {
        let mut u = tracking(&[]);
        for _ in 0..PIECE_LIMIT {
            u.written_before_failure(batch(&[""]));
        }
        assert_eq!(u.pieces, PIECE_LIMIT);
        u.written_before_failure(batch(&["last"]));
        assert_eq!(u.pieces, PIECE_LIMIT, "the oldest piece is forgotten");
        let mut held = Batch::new();
        assert_eq!(u.recover_after(0, &mut held), PIECE_LIMIT);
        assert_eq!(
            held.to_vec().last().map(|e| e.to_vec()),
            Some(b"last".to_vec())
        );
        assert_eq!(u.pieces, 0);
    }

    #[test]
    fn a_send_buffer_of_tiny_lines_in_one_piece_is_kept_whole() {
        // What the kernel's send buffer (twice SEND_BUFFER) can hold of
        // empty lines, written as one batch: one piece, recovered exactly.
        let n = 2 * crate::modules::tcp_out::SEND_BUFFER as usize;
        let mut u = tracking(&[]);
        u.written_before_failure(std::iter::repeat_n("", n).collect());
        let mut held = Batch::new();
        assert_eq!(u.recover_after(0, &mut held), n);
    }

    #[test]
    fn the_kernel_is_asked_every_few_dozen_batches_or_a_send_buffer_of_bytes() {
        let mut u = tracking(&[]);
        let asked: Vec<usize> = (1..=3 * CHECK_BATCHES)
            .filter(|_| u.keep(batch(&["x"])))
            .collect();
        assert_eq!(asked, [CHECK_BATCHES, 2 * CHECK_BATCHES, 3 * CHECK_BATCHES]);
        // 2 bytes per batch: all but the last batch acknowledged.
        u.drop_acknowledged(2 * (3 * CHECK_BATCHES as u64 - 1));
        assert_eq!(u.batches.len(), 1);
        let big = "x".repeat(CHECK_BYTES as usize);
        assert!(
            u.keep(batch(&[big.as_str()])),
            "a send buffer's worth asks at once"
        );
    }
}
