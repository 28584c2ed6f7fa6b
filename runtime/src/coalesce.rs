//! Wake-up coalescing: the proxy's `--coalesce TIME` flag.
//!
//! A relay for thousands of agents that each send a line now and then is
//! woken by the kernel once per line: tokio registers every socket with
//! edge-triggered epoll, so each arriving line ends the runtime thread's
//! `epoll_wait`, and the thread reads that one line, hands it on, and goes
//! back to sleep. Falling asleep and being woken, not the line, is most of
//! what such a line costs.
//!
//! With `--coalesce TIME`, a runtime thread that runs out of work while
//! traffic is light sleeps `TIME` before it asks the kernel for more. Lines
//! that arrive meanwhile wait in their sockets, and the next wake-up
//! collects the readiness of all of them at once, as a network card that
//! moderates its interrupts does.
//!
//! Traffic is light while the thread has read and written fewer than
//! [`LIGHT_BYTES`] in the current window of `TIME` and the one before it
//! together (so, steadily, under half of that per `TIME`). Under heavy
//! load the thread never waits: a busy client's socket would fill while it
//! slept (and a backend's drain), and slow the flow down; and after heavy
//! traffic, the thread does not wait again for 100 ms (`HEAVY_HOLD`), so a
//! flow that pauses is not held when it resumes. The rate
//! is taken over windows, not wake-ups, because a thread at full speed also
//! has many wake-ups that move nothing (readiness that another read already
//! used): measured through one client at 25 M lines/s, two of three.
//!
//! The price is latency at light load: up to `TIME` more per line, and
//! timers (tcp.out's `linger`, reconnects, metrics) fire up to `TIME` late.
//! It is off unless asked for, as interrupt moderation is a choice.
//!
//! Modules report the bytes they read from clients and write to backends
//! with [`note_bytes`], on the runtime thread that ran them; each worker
//! thread keeps its own count and windows.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Fewer bytes read and written than this in two windows of the
/// `--coalesce` time is light traffic. With `1ms`, a steady flow is light
/// below about 64,000 lines of 64 bytes a second (each read and written):
/// 10,000 agents that report every second are, one client at full speed
/// (a megabyte a millisecond) is far from it.
pub const LIGHT_BYTES: usize = 16 * 1024;

thread_local! {
    /// Bytes read and written by modules on this thread since it last parked.
    static MOVED: Cell<usize> = const { Cell::new(0) };
    static WINDOWS: Cell<Windows> = const { Cell::new(Windows::NEW) };
}

/// Counts `bytes` read or written by a module toward this thread's traffic.
#[inline]
pub(crate) fn note_bytes(bytes: usize) {
    MOVED.with(|moved| moved.set(moved.get().saturating_add(bytes)));
}

/// The runtime's `on_thread_park` hook for `--coalesce delay`.
pub(crate) fn park_hook(delay: Duration) -> impl Fn() + Send + Sync + 'static {
    move || {
        let moved = MOVED.with(|moved| moved.replace(0));
        let mut windows = WINDOWS.with(Cell::get);
        let light = windows.light(moved, Instant::now(), delay);
        WINDOWS.with(|w| w.set(windows));
        if light {
            std::thread::sleep(delay);
        }
    }
}

/// After heavy traffic, this long passes (or two windows, if longer)
/// before it can be light again: a heavy flow that pauses for a few
/// milliseconds (its sender lost its core) is still heavy when it resumes,
/// and its first small read does not put the thread to sleep.
const HEAVY_HOLD: Duration = Duration::from_millis(100);

/// Bytes moved in the current window of `delay` and in the one before it.
#[derive(Clone, Copy, Debug)]
struct Windows {
    start: Option<Instant>,
    current: usize,
    previous: usize,
    /// Until when traffic counts as heavy, after the last heavy window.
    heavy_until: Option<Instant>,
}

impl Windows {
    const NEW: Windows = Windows {
        start: None,
        current: 0,
        previous: 0,
        heavy_until: None,
    };

    /// Adds `moved` bytes at `now`; whether traffic is light.
    fn light(&mut self, moved: usize, now: Instant, delay: Duration) -> bool {
        let age = self.start.map(|start| now.saturating_duration_since(start));
        if age.is_none_or(|age| age >= delay) {
            // A window that ended more than a window ago says nothing now.
            self.previous = match age {
                Some(age) if age < delay * 2 => self.current,
                _ => 0,
            };
            self.current = 0;
            self.start = Some(now);
        }
        self.current = self.current.saturating_add(moved);
        if self.current.saturating_add(self.previous) >= LIGHT_BYTES {
            self.heavy_until = Some(now + HEAVY_HOLD.max(delay * 2));
        }
        self.heavy_until.is_none_or(|until| now >= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_trickle_is_light() {
        let mut w = Windows::NEW;
        let t0 = Instant::now();
        // 10 lines of 64 bytes in and out per window, for a second.
        assert!((0..1000).all(|i| w.light(1280, t0 + MS * i, MS)));
    }

    #[test]
    fn wake_ups_that_move_nothing_do_not_hide_a_heavy_flow() {
        let mut w = Windows::NEW;
        let t0 = Instant::now();
        assert!(!w.light(1 << 20, t0, MS));
        // In the same window, and in the next, idle wake-ups stay heavy.
        assert!(!w.light(0, t0 + MS / 2, MS));
        assert!(!w.light(0, t0 + MS * 3 / 2, MS));
        // So does a small read after a pause of a few windows.
        assert!(!w.light(100, t0 + MS * 5, MS));
        // HEAVY_HOLD after the last wake-up that saw the burst (1.5 ms),
        // traffic is light again.
        assert!(!w.light(0, t0 + HEAVY_HOLD, MS));
        assert!(w.light(0, t0 + HEAVY_HOLD + MS * 2, MS));
    }

    #[test]
    fn light_ends_when_a_window_fills() {
        let mut w = Windows::NEW;
        let t0 = Instant::now();
        assert!(w.light(LIGHT_BYTES - 1, t0, MS));
        assert!(!w.light(1, t0 + MS / 4, MS));
    }

    #[test]
    fn light_counts_the_window_before_too() {
        let mut w = Windows::NEW;
        let t0 = Instant::now();
        assert!(w.light(LIGHT_BYTES / 2, t0, MS));
        // Half of LIGHT_BYTES in each of two windows in a row is heavy.
        assert!(!w.light(LIGHT_BYTES / 2, t0 + MS * 3 / 2, MS));
    }

    #[test]
    fn the_hook_clears_the_bytes_it_counted() {
        note_bytes(LIGHT_BYTES);
        // Heavy: the hook returns at once instead of sleeping for a minute.
        park_hook(Duration::from_secs(60))();
        assert_eq!(MOVED.with(Cell::get), 0);
    }
}
