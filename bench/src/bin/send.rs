//! `send PORT FILE [--chunk BYTES] [--connect-ms MS] [--clients N]`: loads
//! FILE into memory, connects to 127.0.0.1:PORT, writes it as fast as the
//! peer takes it, half-closes, and prints `t0=NS t1=NS sent_bytes=B`
//! (CLOCK_MONOTONIC; t0 is taken just before the first byte is written).
//!
//! `--clients N` splits the file into N line-aligned parts of about the same
//! size and sends each over its own connection from its own thread: a relay
//! fed by many agents at once. Every client connects first; then all start
//! together, t0 is the earliest first write and t1 the latest last one.
//!
//! `--iovec-lines 1` writes the same bytes the way a line relay that keeps
//! each event in its own buffer does: `writev` with two slices per line (the
//! line, then `\n`), 512 slices per call. Comparing it with the default
//! (contiguous `write`s of `--chunk` bytes) isolates the cost of that shape.

use std::io::{IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Barrier;
use std::time::Duration;
use wbc_bench::{args::Args, connect, die, now_ns};

fn main() {
    let args = Args::from_env();
    let port: u16 = args.pos(0, "PORT");
    let path: String = args.pos(1, "FILE");
    let chunk: usize = args.get("chunk", 256 * 1024).max(1);
    let connect_ms: u64 = args.get("connect-ms", 5000);
    let clients: usize = args.get("clients", 1usize).max(1);
    let iovec_lines = args.get("iovec-lines", 0u8) == 1;
    let data = std::fs::read(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}")));
    let parts = split_lines(&data, clients);
    let streams: Vec<TcpStream> = parts
        .iter()
        .map(|_| connect(port, Duration::from_millis(connect_ms)))
        .collect();
    let start = Barrier::new(parts.len());
    let times: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let senders: Vec<_> = parts
            .iter()
            .zip(streams)
            .map(|(&part, mut stream)| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let t0 = now_ns();
                    let written = if iovec_lines {
                        write_lines(&mut stream, part)
                    } else {
                        part.chunks(chunk)
                            .try_for_each(|piece| stream.write_all(piece))
                    };
                    if let Err(e) = written {
                        die(format_args!("write to 127.0.0.1:{port}: {e}"));
                    }
                    let t1 = now_ns();
                    let _ = stream.shutdown(Shutdown::Write);
                    (t0, t1)
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|sender| {
                sender
                    .join()
                    .unwrap_or_else(|_| die("a sending thread failed"))
            })
            .collect()
    });
    let t0 = times.iter().map(|t| t.0).min().unwrap_or(0);
    let t1 = times.iter().map(|t| t.1).max().unwrap_or(0);
    println!(
        "t0={t0} t1={t1} sent_bytes={} clients={}",
        data.len(),
        times.len()
    );
}

/// `data` cut into `n` parts of about equal size, each ending at a newline
/// (the last takes what remains). Fewer parts when there are fewer lines.
fn split_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = data;
    for left in (1..=n).rev() {
        if rest.is_empty() {
            break;
        }
        let target = rest.len() / left;
        let end = if left == 1 {
            rest.len()
        } else {
            // From the byte before `target`: a part that ends exactly there keeps its size.
            let from = target.saturating_sub(1);
            match rest[from..].iter().position(|&b| b == b'\n') {
                Some(i) => from + i + 1,
                None => rest.len(),
            }
        };
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
    }
    parts
}

/// Two slices per line (the line without its `\n`, then `\n`), 512 per
/// `writev`, resuming after partial writes.
fn write_lines(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    const PER_CALL: usize = 256;
    let lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
    let mut iov: Vec<IoSlice> = Vec::with_capacity(2 * PER_CALL);
    for group in lines.chunks(PER_CALL) {
        iov.clear();
        for line in group {
            let (body, newline) = line.split_at(line.len() - usize::from(line.ends_with(b"\n")));
            iov.push(IoSlice::new(body));
            if !newline.is_empty() {
                iov.push(IoSlice::new(newline));
            }
        }
        let mut slices = &mut iov[..];
        while !slices.is_empty() {
            let n = stream.write_vectored(slices)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn parts_end_at_newlines_and_cover_the_data_once() {
        let data: Vec<u8> = (0..1000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        for n in [1, 2, 3, 7, 100, 1000, 5000] {
            let parts = split_lines(&data, n);
            assert!(!parts.is_empty() && parts.len() <= n, "{n} parts");
            assert!(parts.iter().all(|p| p.ends_with(b"\n")), "{n} parts");
            assert_eq!(parts.concat(), data, "{n} parts");
        }
        assert!(split_lines(b"", 4).is_empty());
    }

    #[test]
    fn lines_of_one_size_are_shared_out_evenly() {
        let data: Vec<u8> = (0..1000)
            .flat_map(|i| format!("line {i:04}\n").into_bytes())
            .collect();
        for n in [1, 3, 7, 100, 1000] {
            let parts = split_lines(&data, n);
            assert_eq!(parts.len(), n, "{n} parts");
            let lines: Vec<usize> = parts.iter().map(|p| p.len() / 10).collect();
            let (least, most) = (lines.iter().min(), lines.iter().max());
            assert!(
                most.zip(least).is_some_and(|(m, l)| m - l <= 1),
                "{n} parts: {lines:?}"
            );
        }
    }
}
