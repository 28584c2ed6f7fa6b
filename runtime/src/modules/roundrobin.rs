//! `roundrobin`: each event to the next member that is up, in strict
//! rotation.
//!
//! The rotation is per event even though events arrive in batches: a batch
//! is dealt out like cards into one pending batch per member, then each
//! pending batch is sent with one queue operation. The rotation position
//! survives across batches, so with every member up N events always split
//! into shares that differ by at most one, each share in input order.
//!
//! Dealing copies each line into its member's buffer ([`Dealer`]): a batch
//! keeps its events as complete lines in shared buffers (see
//! [`crate::queue::Batch`]), and a member's share must be contiguous to be
//! written without per-line work. That copy is the only one on the event
//! path (tcp.out writes pieces as they are). With one member up, nothing is
//! copied: the batch goes to it whole.
//!
//! Members that are down ([`crate::Sender::is_up`] is false: a tcp.out
//! without a connection locks its inbox) are skipped when dealing. If a
//! member goes down while its pending batch waits for room, the send returns
//! [`crate::SendError::Down`] and those events are dealt again among the
//! members still up. When every member is down the module sleeps on one
//! `Notify` that every member's unlock wakes (no spinning); meanwhile its
//! inbox fills and pushes back upstream.
//!
//! A member that is up but full is waited for: strict rotation means a slow
//! member slows the whole roundrobin down to its pace, bounded by the queues.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::Notify;

use crate::proxy::{Module, StartError};
use crate::queue::{Batch, Lines, Newlines, Receiver, SendError, Sender};

pub struct RoundRobinConfig {
    pub name: &'static str,
}

pub struct RoundRobin<const N: usize> {
    name: &'static str,
    inbox: Receiver,
    members: [Sender; N],
    /// Woken whenever any member is unlocked.
    member_up: Arc<Notify>,
    dealer: Dealer<N>,
    pending: [Batch; N],
}

impl<const N: usize> RoundRobin<N> {
    pub fn new(
        config: RoundRobinConfig,
        inbox: Receiver,
        members: [Sender; N],
    ) -> Result<Self, StartError> {
        if N == 0 {
            return Err(StartError::new(
                config.name,
                "roundrobin",
                "needs at least one output",
            ));
        }
        let member_up = Arc::new(Notify::new());
        for m in &members {
            m.watch(member_up.clone());
        }
        Ok(RoundRobin {
            name: config.name,
            inbox,
            members,
            member_up,
            dealer: Dealer::new(),
            pending: std::array::from_fn(|_| Batch::new()),
        })
    }

    /// Sends every event of `events` to some member; returns with `events`
    /// empty, or early when the proxy is finishing (events then stay counted
    /// as undelivered).
    async fn deal(&mut self, events: &mut Batch) {
        while !events.is_empty() {
            let Some(up) = self.wait_for_member().await else {
                return;
            };
            self.dealer.deal(events, &up, &mut self.pending);
            for i in 0..N {
                if self.pending[i].is_empty() {
                    continue;
                }
                match self.members[i].send_unless_down(&mut self.pending[i]).await {
                    Ok(()) => {}
                    // Deal these again among the members still up.
                    Err(SendError::Down | SendError::Closed | SendError::Full) => {
                        events.append(&mut self.pending[i])
                    }
                }
            }
        }
    }

    /// Which members are up; waits until at least one is. `None` when the
    /// proxy is finishing.
    async fn wait_for_member(&self) -> Option<[bool; N]> {
        let ctx = self.inbox.context().clone();
        loop {
            let up: [bool; N] = std::array::from_fn(|i| self.members[i].is_up());
            if up.iter().any(|u| *u) {
                return Some(up);
            }
            if ctx.is_finishing() {
                return None;
            }
            tracing::debug!("roundrobin `{}`: every member is down, waiting", self.name);
            // notify_one keeps a permit, so an unlock between the check above
            // and this await is not lost.
            tokio::select! {
                _ = self.member_up.notified() => {}
                _ = ctx.finishing() => {}
            }
        }
    }
}

impl<const N: usize> Module for RoundRobin<N> {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(mut self) {
        let mut batch = Batch::new();
        while self.inbox.recv(&mut batch).await {
            self.deal(&mut batch).await;
        }
    }
}

/// Deals events to members in strict rotation, skipping members that are
/// down; each member's share is copied into one contiguous piece.
pub struct Dealer<const N: usize> {
    /// The member the next event goes to (if it is up).
    next: usize,
    /// One growing buffer per member; each deal splits its share off, and
    /// the buffer's memory is reused once the outputs have written it.
    copies: [BytesMut; N],
}

impl<const N: usize> Default for Dealer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Dealer<N> {
    pub fn new() -> Self {
        Dealer {
            next: 0,
            copies: std::array::from_fn(|_| BytesMut::new()),
        }
    }

    /// Moves every event of `events` into `shares[i]` of the member it is
    /// dealt to. `up[i]` says which members may get events; at least one
    /// must be up.
    pub fn deal(&mut self, events: &mut Batch, up: &[bool; N], shares: &mut [Batch; N]) {
        let ups = up.iter().filter(|u| **u).count();
        if ups == 0 || events.is_empty() {
            return;
        }
        if ups == 1 {
            // The rotation gives every event to the one member up: no copy.
            let i = self.next_up(up);
            self.next = (i + 1) % N;
            shares[i].append(events);
            return;
        }
        let mut counts = [0usize; N];
        for (copy, _) in self.copies.iter_mut().zip(up).filter(|(_, up)| **up) {
            copy.reserve(events.byte_len() / ups + 1024);
        }
        for piece in events.pieces() {
            let bytes = piece.as_bytes();
            let mut start = 0;
            for end in Newlines::new(bytes) {
                let i = self.next_up(up);
                append_line(&mut self.copies[i], bytes, start, end);
                counts[i] += 1;
                self.next = (i + 1) % N;
                start = end + 1;
            }
        }
        events.clear();
        for i in 0..N {
            if counts[i] > 0 {
                let share = self.copies[i].split().freeze();
                shares[i].push(Lines::counted(share, counts[i]));
            }
        }
    }

    /// The first member up from `next` on.
    fn next_up(&self, up: &[bool; N]) -> usize {
        let mut i = self.next;
        while !up[i] {
            i = (i + 1) % N;
        }
        i
    }
}

/// Appends the line `bytes[start..=end]` to `buf`. A line of up to 64
/// bytes is copied as a whole 64-byte block (when `bytes` holds 64 from
/// `start`) and the excess cut off again: a copy of constant size is a few
/// vector moves inline, where a call to `memcpy` with the line's length
/// cost more than the copy itself: dealing took 7.1-9.3 ns per 64-byte
/// line that way, 5.0-6.2 ns this way (`speed` below; medians of two sets
/// of 20 interleaved rounds), though it runs more instructions (97 against
/// 91 per line under callgrind, the call to `memcpy` included).
#[inline]
fn append_line(buf: &mut BytesMut, bytes: &[u8], start: usize, end: usize) {
    let len = end + 1 - start;
    match bytes[start..].first_chunk::<64>() {
        Some(block) if len <= 64 => {
            let at = buf.len();
            buf.extend_from_slice(block);
            buf.truncate(at + len);
        }
        _ => buf.extend_from_slice(&bytes[start..=end]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;

    fn events(events: &[&str]) -> Batch {
        events.iter().collect()
    }

    #[test]
    fn deals_in_strict_rotation_across_batches() {
        let mut dealer = Dealer::<3>::new();
        let mut shares: [Batch; 3] = Default::default();
        let mut first = events(&["a", "b", "c", "d"]);
        dealer.deal(&mut first, &[true; 3], &mut shares);
        assert!(first.is_empty());
        let mut second = events(&["e", "f"]);
        dealer.deal(&mut second, &[true; 3], &mut shares);
        assert_eq!(shares[0], events(&["a", "d"]));
        assert_eq!(shares[1], events(&["b", "e"]));
        assert_eq!(shares[2], events(&["c", "f"]));
    }

    /// Lines of every length up to and past the block copy's 64 bytes, and
    /// the last lines of the piece (where 64 bytes are not left), come out
    /// whole and in rotation.
    #[test]
    fn lines_of_every_length_are_dealt_intact() {
        let lines: Vec<String> = (0..140)
            .map(|len| (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect())
            .collect();
        let mut dealer = Dealer::<3>::new();
        let mut shares: [Batch; 3] = Default::default();
        let mut batch: Batch = lines.iter().collect();
        dealer.deal(&mut batch, &[true; 3], &mut shares);
        for (i, share) in shares.iter().enumerate() {
            let want: Batch = lines.iter().skip(i).step_by(3).collect();
            assert_eq!(*share, want, "member {i}");
        }
    }

    proptest::proptest! {
        /// Random batches of random lines (either side of the 64-byte
        /// block copy), each dealt with a random set of members up (a bit
        /// mask, never empty), give every member what strict rotation over
        /// the members up gives, written the plain way.
        #[test]
        fn random_batches_and_members_up_deal_like_a_plain_rotation(
            batches in vec((vec(vec(b'a'..=b'z', 0..70), 0..40), 1..8usize), 1..6),
        ) {
            let mut dealer = Dealer::<3>::new();
            let mut shares: [Batch; 3] = Default::default();
            let mut want: [Vec<Vec<u8>>; 3] = Default::default();
            let mut next = 0;
            for (lines, mask) in &batches {
                let up: [bool; 3] = std::array::from_fn(|i| mask & (1 << i) != 0);
                for line in lines {
                    while !up[next] {
                        next = (next + 1) % 3;
                    }
                    want[next].push(line.clone());
                    next = (next + 1) % 3;
                }
                let mut batch: Batch = lines.iter().collect();
                dealer.deal(&mut batch, &up, &mut shares);
                proptest::prop_assert!(batch.is_empty(), "events left undealt");
            }
            for i in 0..3 {
                let got: Vec<Vec<u8>> = shares[i].events().map(<[u8]>::to_vec).collect();
                proptest::prop_assert_eq!(&got, &want[i], "member {}", i);
            }
        }
    }

    #[test]
    fn members_down_are_skipped_and_one_up_takes_the_batch_whole() {
        let mut dealer = Dealer::<3>::new();
        let mut shares: [Batch; 3] = Default::default();
        let mut batch = events(&["a", "b", "c"]);
        dealer.deal(&mut batch, &[true, false, true], &mut shares);
        assert_eq!(shares[0], events(&["a", "c"]));
        assert_eq!(shares[2], events(&["b"]));
        let mut batch = events(&["x", "", "y"]);
        dealer.deal(&mut batch, &[false, true, false], &mut shares);
        assert_eq!(shares[1], events(&["x", "", "y"]));
        assert_eq!(shares[1].pieces().len(), 1, "not copied line by line");
    }
}

/// How long dealing takes per 64-byte line, printed, not asserted (a
/// figure for PERFORMANCE.md, not a test): `cargo test --release -p
/// wbc-runtime --lib dealing_speed -- --ignored --nocapture`.
#[cfg(test)]
mod speed {
    use super::*;
    use bytes::Bytes;
    use std::time::Instant;

    #[test]
    #[ignore = "prints a timing; run by hand with --release"]
    fn dealing_speed() {
        const LINES: usize = 4096;
        const BATCHES: usize = 5_000_000 / LINES;
        let line = b"bench.m0000000042.abcdefghijklmnopqrstuvwxyzabcdefghij 1 1700000000\n";
        let line = &line[line.len() - 64..];
        let piece = Bytes::from(line.repeat(LINES));
        for round in 1..=5 {
            let mut dealer = Dealer::<2>::new();
            let begun = Instant::now();
            for _ in 0..BATCHES {
                let mut batch = Batch::new();
                batch.push(Lines::new(piece.clone()).expect("complete lines"));
                let mut shares: [Batch; 2] = Default::default();
                dealer.deal(&mut batch, &[true, true], &mut shares);
            }
            let ns = begun.elapsed().as_nanos() as f64 / (BATCHES * LINES) as f64;
            eprintln!("round {round}: {ns:.2} ns per 64-byte line dealt to 2 members");
        }
    }
}
