//! `idle --to PORT [--count N] [--hold-ms MS] [--lines K]`: opens N
//! connections to 127.0.0.1:PORT that send K lines each (0 by default:
//! nothing) and then nothing more, prints `opened=K elapsed_ms=T` as soon as
//! they are open (the script then samples the relay's RSS), holds them for
//! `hold-ms`, and exits (closing them all). With `--lines 1` they are agents
//! that reported once and went quiet.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wbc_bench::{args::Args, die};

fn main() {
    let args = Args::from_env();
    let to: u16 = args.get("to", 0);
    let count: usize = args.get("count", 10_000);
    let hold = Duration::from_millis(args.get("hold-ms", 5000));
    let lines: usize = args.get("lines", 0);
    let report = "idle.agent.metric 1 1700000000\n".repeat(lines);
    if to == 0 {
        die("give `--to PORT`");
    }
    raise_fd_limit();
    let started = Instant::now();
    let mut open = Vec::with_capacity(count);
    let mut error = None;
    while open.len() < count && started.elapsed() < Duration::from_secs(60) {
        match TcpStream::connect(("127.0.0.1", to)).and_then(|mut s| {
            s.write_all(report.as_bytes())?;
            Ok(s)
        }) {
            Ok(s) => open.push(s),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let mut line = format!(
        "opened={} elapsed_ms={}",
        open.len(),
        started.elapsed().as_millis()
    );
    if let Some(e) = error {
        line += &format!(" error=\"{e}\"");
    }
    println!("{line}");
    let _ = std::io::stdout().flush();
    std::thread::sleep(hold);
}

/// 10,000 sockets need more than the usual 1024 descriptors: raise the soft
/// limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
