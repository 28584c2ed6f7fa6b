//! The open-file limit: the proxy raises its soft limit to the hard one,
//! and when clients take every descriptor anyway, it warns once with the
//! fix and serves the clients that waited once descriptors are free.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::peers::{free_port, numbered, wait_listening, Sink, SinkOpts};
use crate::process::ProxyProcess;
use crate::setup::{figures, tally};

/// The proxy's soft open-file limit, from /proc.
fn soft_nofile(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn start(sink: u16, nofile: (u64, u64)) -> (ProxyProcess, u16) {
    let input = free_port();
    let vars = [
        ("WBC_TEST_IN", input.to_string()),
        ("WBC_TEST_OUT", sink.to_string()),
    ];
    let proxy = ProxyProcess::start_with_nofile("one", &vars, &[], Some(nofile));
    assert!(
        wait_listening(input, Duration::from_secs(15)),
        "proxy input never listened; log:\n{}",
        proxy.log_text()
    );
    (proxy, input)
}

/// Started with a soft limit of 256 under a hard limit of 2,048 (a shell's
/// or systemd's usual 1,024 under 524,288, scaled down), the proxy runs
/// with 2,048.
pub fn descriptors_soft_limit_is_raised_to_the_hard_one() {
    let sink = Sink::start(SinkOpts::default());
    let (proxy, _) = start(sink.port, (256, 2048));
    let soft = soft_nofile(proxy.pid());
    println!("figures descriptors_raised: started_with=256/2048 running_with={soft:?}");
    assert_eq!(soft, Some(2048), "{}", proxy.log_text());
}

/// With 64 descriptors in all, 100 clients connect and each sends a line
/// and stays. The proxy runs out: it warns once (not every 100 ms as it
/// retries), naming the limit and how to raise it, and keeps running. When
/// the clients leave, those still in the accept queue are accepted and
/// their lines delivered: every line once.
pub fn descriptors_exhausted_warns_once_and_loses_nothing() {
    const CLIENTS: usize = 100;
    let sink = Sink::start(SinkOpts::default());
    let (proxy, input) = start(sink.port, (64, 64));
    let data = numbered("fd-", CLIENTS);
    let mut clients = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        let mut c = TcpStream::connect(("127.0.0.1", input)).expect("connect");
        c.write_all(line).expect("write");
        clients.push(c);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.log_text().contains("too many open files") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Long enough for ten retries of the accept loop.
    std::thread::sleep(Duration::from_millis(1000));
    let before_leaving = sink.lines();
    drop(clients);
    let got = sink.wait_lines(CLIENTS as u64, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(200));
    let r = sink.stop();
    let log = proxy.log_text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("cannot accept a client"))
        .collect();
    let t = tally(CLIENTS as u64, &[&r.seqs]);
    figures(
        "descriptors_exhausted",
        t,
        &format!(
            "clients={CLIENTS} delivered_while_full={before_leaving} delivered={got} accept_warnings={}",
            warnings.len()
        ),
    );
    assert!(
        before_leaving < CLIENTS as u64,
        "the limit was never reached ({before_leaving} lines while all clients stayed):\n{log}"
    );
    assert_eq!(warnings.len(), 1, "one warning, not one per retry:\n{log}");
    assert!(
        warnings[0].contains("too many open files (the proxy holds its limit of 64 descriptors")
            && warnings[0].contains("`LimitNOFILE=`"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign),
        (CLIENTS as u64, 0, 0, 0)
    );
}
