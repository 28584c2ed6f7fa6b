//! `send PORT FILE [--chunk BYTES] [--connect-ms MS]`: loads FILE into
//! memory, connects to 127.0.0.1:PORT, writes it as fast as the peer takes
//! it, half-closes, and prints `t0=NS t1=NS sent_bytes=B` (CLOCK_MONOTONIC;
//! t0 is taken just before the first byte is written).
//!
//! `--iovec-lines 1` writes the same bytes the way a line relay that keeps
//! each event in its own buffer does: `writev` with two slices per line (the
//! line, then `\n`), 512 slices per call. Comparing it with the default
//! (contiguous `write`s of `--chunk` bytes) isolates the cost of that shape.

use std::io::{IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;
use wbc_bench::{args::Args, connect, die, now_ns};

fn main() {
    let args = Args::from_env();
    let port: u16 = args.pos(0, "PORT");
    let path: String = args.pos(1, "FILE");
    let chunk: usize = args.get("chunk", 256 * 1024).max(1);
    let connect_ms: u64 = args.get("connect-ms", 5000);
    let iovec_lines = args.get("iovec-lines", 0u8) == 1;
    let data = std::fs::read(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}")));
    let mut stream = connect(port, Duration::from_millis(connect_ms));
    let lines: Vec<&[u8]> = if iovec_lines {
        data.split_inclusive(|&b| b == b'\n').collect()
    } else {
        Vec::new()
    };
    let t0 = now_ns();
    let written = if iovec_lines {
        write_lines(&mut stream, &lines)
    } else {
        data.chunks(chunk)
            .try_for_each(|piece| stream.write_all(piece))
    };
    if let Err(e) = written {
        die(format_args!("write to 127.0.0.1:{port}: {e}"));
    }
    let t1 = now_ns();
    let _ = stream.shutdown(Shutdown::Write);
    println!("t0={t0} t1={t1} sent_bytes={}", data.len());
}

/// Two slices per line (the line without its `\n`, then `\n`), 512 per
/// `writev`, resuming after partial writes.
fn write_lines(stream: &mut TcpStream, lines: &[&[u8]]) -> std::io::Result<()> {
    const PER_CALL: usize = 256;
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
