//! `send PORT FILE [--chunk BYTES] [--connect-ms MS]`: loads FILE into
//! memory, connects to 127.0.0.1:PORT, writes it as fast as the peer takes
//! it, half-closes, and prints `t0=NS t1=NS sent_bytes=B` (CLOCK_MONOTONIC;
//! t0 is taken just before the first byte is written).

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use wbc_bench::{args::Args, die, now_ns};

fn main() {
    let args = Args::from_env();
    let port: u16 = args.pos(0, "PORT");
    let path: String = args.pos(1, "FILE");
    let chunk: usize = args.get("chunk", 256 * 1024).max(1);
    let connect_ms: u64 = args.get("connect-ms", 5000);
    let data = std::fs::read(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}")));
    let mut stream = connect(port, Duration::from_millis(connect_ms));
    let t0 = now_ns();
    for piece in data.chunks(chunk) {
        if let Err(e) = stream.write_all(piece) {
            die(format_args!("write to 127.0.0.1:{port}: {e}"));
        }
    }
    let t1 = now_ns();
    let _ = stream.shutdown(Shutdown::Write);
    println!("t0={t0} t1={t1} sent_bytes={}", data.len());
}

/// Connects, retrying for up to `patience` (the relay may still be starting).
fn connect(port: u16, patience: Duration) -> TcpStream {
    let deadline = Instant::now() + patience;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(e) if Instant::now() >= deadline => {
                die(format_args!("connect to 127.0.0.1:{port}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
