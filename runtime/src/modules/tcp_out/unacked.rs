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
//!
//! Whole batches are kept (the written `Vec` is moved here, not its events
//! cloned), so keeping costs no copy. The send buffer bounds the bytes kept,
//! but not the events: each costs a 32-byte handle whatever its length, and
//! a send buffer full of empty lines is half a million of them (16 MiB). So
//! at most [`EVENT_LIMIT`] events are kept: past it the oldest batches are
//! forgotten, as if acknowledged. A polite close (the peer shut down its side
//! and keeps reading) recovers nothing: the peer still reads what is in
//! flight.

use bytes::Bytes;
use std::collections::VecDeque;
use tokio::net::TcpStream;

use crate::queue::Batch;

/// Emptied vectors kept for reuse.
const SPARE_LIMIT: usize = 8;

/// Most events kept for recovery: as many 31-byte lines (32 bytes with the
/// newline) as the kernel's send buffer holds (it doubles [`SEND_BUFFER`]),
/// so the handles never cost more memory than the bytes they stand for.
///
/// A cap in events, rather than counting each event as `len + 1 + 32` bytes
/// of a byte budget, is the simpler bound and keeps recovery exact for what
/// matters: every event of 31 bytes or more that the send buffer can hold
/// is still kept. The trade-off is for shorter events only: when a backend
/// dies with more than this many of them written and unacknowledged (it had
/// stopped reading), the oldest are no longer sent again, and are lost with
/// the backend like the residue of its own receive buffer.
///
/// [`SEND_BUFFER`]: super::SEND_BUFFER
pub const EVENT_LIMIT: usize = 2 * super::SEND_BUFFER as usize / 32;

/// Batches written into one connection and not yet fully acknowledged.
#[derive(Debug, Default)]
pub struct Unacked {
    /// Each batch with the stream position (bytes written on this connection)
    /// just after its last newline.
    batches: VecDeque<(Batch, u64)>,
    /// Events in `batches`.
    events: usize,
    /// Bytes written on this connection.
    written: u64,
    /// `tcpi_bytes_acked` right after connecting (the handshake may count).
    base: Option<u64>,
    spare: Vec<Batch>,
}

impl Unacked {
    /// Starts tracking a new connection. Without `TCP_INFO` (not Linux, or
    /// a kernel older than 4.1) nothing is tracked and nothing recovered.
    pub fn connected(&mut self, stream: &TcpStream) {
        self.forget();
        self.written = 0;
        self.base = bytes_acked(stream);
    }

    /// Takes a fully written batch (leaving an empty vector in its place)
    /// and drops the batches the peer has acknowledged since.
    /// `bytes` is the batch's size on the wire (events and newlines).
    pub fn written(&mut self, stream: &TcpStream, batch: &mut Batch, bytes: u64) {
        if self.base.is_none() {
            batch.clear();
            return;
        }
        let spare = self.spare.pop().unwrap_or_default();
        self.push(std::mem::replace(batch, spare), bytes);
        let acked = self.acked(stream);
        while self.batches.front().is_some_and(|(_, end)| *end <= acked) {
            self.drop_oldest();
        }
        self.cap_events();
    }

    /// Forgets the oldest batches while more than [`EVENT_LIMIT`] events are
    /// kept (the trade-off is described there).
    fn cap_events(&mut self) {
        while self.events > EVENT_LIMIT {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((mut done, _)) = self.batches.pop_front() {
            self.events -= done.len();
            done.clear();
            if self.spare.len() < SPARE_LIMIT {
                self.spare.push(done);
            }
        }
    }

    /// Takes events written completely (`bytes` on the wire) by a write that
    /// then failed.
    pub fn written_before_failure(&mut self, events: Batch, bytes: u64) {
        if self.base.is_some() && !events.is_empty() {
            self.push(events, bytes);
            self.cap_events();
        }
    }

    fn push(&mut self, batch: Batch, bytes: u64) {
        self.written += bytes;
        self.events += batch.len();
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

    /// [`recover`](Self::recover) given the acknowledged byte count.
    fn recover_after(&mut self, acked: u64, held: &mut Batch) -> usize {
        let mut lost: Vec<Bytes> = Vec::new();
        self.events = 0;
        for (batch, end) in self.batches.drain(..) {
            if end <= acked {
                continue;
            }
            let mut position = end - batch.iter().map(|e| e.len() as u64 + 1).sum::<u64>();
            for event in batch {
                position += event.len() as u64 + 1;
                if position > acked {
                    lost.push(event);
                }
            }
        }
        let n = lost.len();
        lost.append(held);
        *held = lost;
        n
    }

    /// Drops everything tracked (the peer closed politely and reads what is
    /// in flight, or the connection ended cleanly).
    pub fn forget(&mut self) {
        self.events = 0;
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

    fn batch(ls: &[&'static [u8]]) -> Batch {
        ls.iter().map(|l| Bytes::from_static(l)).collect()
    }

    /// Tracking as if connected with `TCP_INFO` available.
    fn tracking(batches: &[&[&'static [u8]]]) -> Unacked {
        let mut u = Unacked {
            base: Some(0),
            ..Unacked::default()
        };
        for b in batches {
            let bytes = b.iter().map(|e| e.len() as u64 + 1).sum();
            u.push(batch(b), bytes);
        }
        u
    }

    #[test]
    fn nothing_acknowledged_recovers_everything_in_order_before_held() {
        // "ab\n" "c\n" | "def\n": 3 + 2 + 4 bytes.
        let mut u = tracking(&[&[b"ab", b"c"], &[b"def"]]);
        let mut held = batch(&[b"unwritten"]);
        assert_eq!(u.recover_after(0, &mut held), 3);
        assert_eq!(held, batch(&[b"ab", b"c", b"def", b"unwritten"]));
    }

    #[test]
    fn an_event_counts_as_received_only_with_its_newline() {
        let mut u = tracking(&[&[b"ab", b"c"], &[b"def"]]);
        let mut held = Vec::new();
        // "ab\n" acknowledged, "c" but not its newline.
        assert_eq!(u.recover_after(4, &mut held), 2);
        assert_eq!(held, batch(&[b"c", b"def"]));
    }

    #[test]
    fn fully_acknowledged_batches_are_not_sent_again() {
        let mut u = tracking(&[&[b"ab", b"c"], &[b"def"]]);
        let mut held = Vec::new();
        assert_eq!(u.recover_after(5, &mut held), 1);
        assert_eq!(held, batch(&[b"def"]));
        let mut u = tracking(&[&[b"ab", b"c"], &[b"def"]]);
        let mut held = Vec::new();
        assert_eq!(u.recover_after(9, &mut held), 0);
        assert!(held.is_empty());
    }

    #[test]
    fn without_tcp_info_nothing_is_kept() {
        let mut u = Unacked::default();
        u.written_before_failure(batch(&[b"x"]), 2);
        let mut held = Vec::new();
        assert_eq!(u.recover_after(0, &mut held), 0);
    }

    #[test]
    fn past_the_event_limit_the_oldest_batches_are_forgotten() {
        let empties = |n: usize| -> Batch { vec![Bytes::new(); n] };
        let mut u = tracking(&[]);
        let third = EVENT_LIMIT / 3 + 1;
        for _ in 0..3 {
            u.written_before_failure(empties(third), third as u64);
            assert!(u.events <= EVENT_LIMIT);
        }
        // Three thirds are over the limit: the first batch is forgotten.
        assert_eq!(u.events, 2 * third);
        u.written_before_failure(batch(&[b"last"]), 5);
        let mut held = Vec::new();
        assert_eq!(u.recover_after(0, &mut held), 2 * third + 1);
        assert_eq!(held.last(), Some(&Bytes::from_static(b"last")));
        assert_eq!(u.events, 0);
    }

    #[test]
    fn the_send_buffer_full_of_31_byte_lines_is_kept_whole() {
        // What the kernel's send buffer (twice SEND_BUFFER) can hold of
        // 31-byte lines fits the limit: for them recovery is exact.
        let bytes = 2 * u64::from(crate::modules::tcp_out::SEND_BUFFER);
        let line: &'static [u8] = &[b'x'; 31];
        let n = (bytes / 32) as usize;
        let mut u = tracking(&[]);
        u.written_before_failure(vec![Bytes::from_static(line); n], bytes);
        let mut held = Vec::new();
        assert_eq!(u.recover_after(0, &mut held), n);
    }
}
