//! `idle --to PORT [--count N] [--hold-ms MS] [--lines K] [--every-ms P]`:
//! opens N connections to 127.0.0.1:PORT that send K lines each (0 by
//! default: nothing) and then nothing more, prints `opened=K elapsed_ms=T`
//! as soon as they are open (the script then samples the relay's RSS), holds
//! them for `hold-ms`, and exits (closing them all). With `--lines 1` they
//! are agents that reported once and went quiet.
//!
//! With `--every-ms P` (and K of at least 1) they are agents that report
//! every P ms while held: `hold-ms / P` more rounds, in which every
//! connection sends its K lines again, spread evenly over the round. At the
//! end it prints `sent=LINES late_ms=L closed=C` (LINES: all it sent, the
//! first lines too; L: the most it fell behind its schedule, 0 when it kept
//! up; C: connections the relay closed, which then send no more).

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
    let every = Duration::from_millis(args.get("every-ms", 0));
    if every.is_zero() || lines == 0 {
        std::thread::sleep(hold);
        return;
    }
    let rounds = hold.as_millis() / every.as_millis();
    let agents = report_every(open, report.as_bytes(), every, rounds as u32);
    println!(
        "sent={} late_ms={} closed={}",
        agents.sent + count_lines(&report) * agents.connections,
        agents.late.as_millis(),
        agents.closed
    );
}

/// What the agents did in their rounds.
struct Agents {
    /// Connections opened (each sent the first lines).
    connections: usize,
    /// Lines sent in the rounds.
    sent: usize,
    /// The most a send was behind its moment.
    late: Duration,
    /// Connections that failed (the relay closed them): left out of later rounds.
    closed: usize,
}

/// `rounds` rounds of `every`, each connection sending `report` once per
/// round at its own moment.
fn report_every(open: Vec<TcpStream>, report: &[u8], every: Duration, rounds: u32) -> Agents {
    let connections = open.len();
    let mut open: Vec<Option<TcpStream>> = open.into_iter().map(Some).collect();
    let slot = every / connections.max(1) as u32;
    let start = Instant::now();
    let mut agents = Agents {
        connections,
        sent: 0,
        late: Duration::ZERO,
        closed: 0,
    };
    for round in 1..=rounds {
        for (i, agent) in open.iter_mut().enumerate() {
            let Some(stream) = agent else { continue };
            let due = start + every * round + slot * i as u32;
            let now = Instant::now();
            match due.checked_duration_since(now) {
                Some(wait) => std::thread::sleep(wait),
                None => agents.late = agents.late.max(now - due),
            }
            match stream.write_all(report) {
                Ok(()) => agents.sent += count_lines(report),
                Err(_) => {
                    *agent = None;
                    agents.closed += 1;
                }
            }
        }
    }
    agents
}

fn count_lines(text: impl AsRef<[u8]>) -> usize {
    text.as_ref().iter().filter(|&&b| b == b'\n').count()
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
