//! `gen N SIZE FILE`: writes N graphite-valid lines of exactly SIZE bytes
//! (newline included), sorted by their zero-padded sequence number.

use std::io::{BufWriter, Write};
use wbc_bench::{args::Args, die, lines::DataLine};

fn main() {
    let args = Args::from_env();
    let n: u64 = args.pos(0, "line count N");
    let size: usize = args.pos(1, "line SIZE in bytes");
    let path: String = args.pos(2, "output FILE");
    let mut line = DataLine::new(size).unwrap_or_else(|| {
        die(format_args!(
            "a line needs at least {} bytes",
            DataLine::MIN_SIZE
        ))
    });
    let file = std::fs::File::create(&path).unwrap_or_else(|e| die(format_args!("{path}: {e}")));
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for seq in 0..n {
        if let Err(e) = out.write_all(line.line(seq)) {
            die(format_args!("{path}: {e}"));
        }
    }
    if let Err(e) = out
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
    {
        die(format_args!("{path}: {e}"));
    }
}
