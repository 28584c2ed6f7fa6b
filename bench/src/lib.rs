//! Shared pieces of the benchmark programs (`gen`, `send`, `sink`,
//! `latency`, `idle`, `minrelay`, `stalls`) that `bench/run.sh` drives.
//!
//! The programs are deliberately plain: blocking std sockets on 127.0.0.1,
//! one thread per connection, large reused buffers. They must never be the
//! bottleneck: the benchmark's `limit` row (sender straight into the sink)
//! has to be far faster than every relay it is compared with.
//!
//! Times that cross process boundaries (the sender's `t0`, the sink's
//! `t_done`) come from [`now_ns`], CLOCK_MONOTONIC, so they can be subtracted.

pub mod args;
pub mod latencies;
pub mod lines;

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of a run.
pub fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch: the clock of log
/// timestamps and of the kernel's socket receive timestamps.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks used here always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Counts `\n` bytes. Summing into a `u8` per 255-byte block lets the
/// compiler vectorise the comparison, which keeps the sink at memory speed.
pub fn count_newlines(buf: &[u8]) -> u64 {
    buf.chunks(255)
        .map(|block| {
            block
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add((b == b'\n') as u8)) as u64
        })
        .sum()
}

/// Prints `error: MESSAGE` and exits with status 2 (bad usage or I/O error).
pub fn die(message: impl std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(2)
}

/// Connects to 127.0.0.1:`port`, retrying for up to `patience` (the relay
/// may still be starting); exits with a message when it never answers.
pub fn connect(port: u16, patience: std::time::Duration) -> std::net::TcpStream {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(e) if std::time::Instant::now() >= deadline => {
                die(format_args!("connect to 127.0.0.1:{port}: {e}"))
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_newlines_across_blocks() {
        let mut buf = vec![b'x'; 1000];
        for i in (0..1000).step_by(7) {
            buf[i] = b'\n';
        }
        let expected = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(count_newlines(&buf), expected);
        assert_eq!(count_newlines(&[b'\n'; 600]), 600);
        assert_eq!(count_newlines(b""), 0);
    }

    #[test]
    fn clock_moves_forward() {
        let a = now_ns();
        let b = now_ns();
        assert!(a > 0 && b >= a);
    }
}
