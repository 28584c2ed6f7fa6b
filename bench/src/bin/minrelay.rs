//! `minrelay LISTEN_PORT SINK_PORT_1 SINK_PORT_2`: the reference line relay
//! of issue 5, "a minimal 60-line tokio relay that splits each read on
//! newlines and round-robins the lines into two output buffers (no queues,
//! no counters, no failover)". One thread, one client at a time. It is the
//! ceiling the wbc rows are compared with (row `ref-rr` of bench/run.sh),
//! not something to deploy: a sink that stops reading stalls it, a sink
//! that dies ends it, and a line longer than its 256 KiB buffer ends the
//! client's connection (the benchmark's lines are 64 bytes and 1 KiB).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wbc_bench::{args::Args, die};

const READ_SIZE: usize = 256 * 1024;

fn main() {
    let args = Args::from_env();
    let listen: u16 = args.pos(0, "LISTEN_PORT");
    let sinks: [u16; 2] = [args.pos(1, "SINK_PORT_1"), args.pos(2, "SINK_PORT_2")];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap_or_else(|e| die(format_args!("tokio: {e}")));
    if let Err(e) = runtime.block_on(serve(listen, sinks)) {
        die(format_args!("minrelay: {e}"));
    }
}

async fn serve(listen: u16, sinks: [u16; 2]) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", listen)).await?;
    loop {
        let (client, _) = listener.accept().await?;
        let mut outs = [
            TcpStream::connect(("127.0.0.1", sinks[0])).await?,
            TcpStream::connect(("127.0.0.1", sinks[1])).await?,
        ];
        relay(client, &mut outs).await?;
    }
}

/// Reads, deals every complete line to the next output buffer, writes both
/// buffers, and keeps an unfinished line for the next read.
async fn relay(mut client: TcpStream, outs: &mut [TcpStream; 2]) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut held = 0;
    let mut next = 0;
    let mut staged: [Vec<u8>; 2] = [Vec::with_capacity(READ_SIZE), Vec::with_capacity(READ_SIZE)];
    loop {
        let n = client.read(&mut buf[held..]).await?;
        if n == 0 {
            break;
        }
        let end = held + n;
        let mut start = 0;
        while let Some(at) = memchr::memchr(b'\n', &buf[start..end]) {
            staged[next].extend_from_slice(&buf[start..start + at + 1]);
            next ^= 1;
            start += at + 1;
        }
        for (out, bytes) in outs.iter_mut().zip(staged.iter_mut()) {
            out.write_all(bytes).await?;
            bytes.clear();
        }
        buf.copy_within(start..end, 0);
        held = end - start;
    }
    for out in outs.iter_mut() {
        out.shutdown().await?;
    }
    Ok(())
}
