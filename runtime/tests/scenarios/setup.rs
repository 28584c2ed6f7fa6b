//! Starting a proxy graph and checking what reached the sinks.

use std::time::{Duration, Instant};

use crate::peers::{free_port, wait_listening, Sink};
use crate::process::ProxyProcess;

/// A proxy child that listens and whose expected outputs are connected.
pub struct Running {
    pub proxy: ProxyProcess,
    pub input: u16,
}

/// Starts `graph` with tcp.out ports `outputs` and waits (bounded) until its
/// input listens and `connected` outputs have logged their connection.
pub fn start(graph: &str, outputs: &[u16], vars: &[(&str, String)], connected: usize) -> Running {
    start_with_args(graph, outputs, vars, connected, &[])
}

pub fn start_with_args(
    graph: &str,
    outputs: &[u16],
    vars: &[(&str, String)],
    connected: usize,
    args: &[&str],
) -> Running {
    let input = free_port();
    let out: Vec<String> = outputs.iter().map(|p| p.to_string()).collect();
    let mut all = vec![
        ("WBC_TEST_IN", input.to_string()),
        ("WBC_TEST_OUT", out.join(",")),
    ];
    all.extend(vars.iter().cloned());
    let proxy = ProxyProcess::start(graph, &all, args);
    assert!(
        wait_listening(input, Duration::from_secs(15)),
        "proxy input never listened; log:\n{}",
        proxy.log_text()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_connected(&proxy) < connected {
        assert!(
            Instant::now() < deadline,
            "outputs did not connect; log:\n{}",
            proxy.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Running { proxy, input }
}

fn count_connected(p: &ProxyProcess) -> usize {
    p.log
        .lock()
        .expect("log")
        .iter()
        .filter(|l| l.contains("(tcp.out) connected to"))
        .count()
}

/// Delivery figures of numbered events `0..sent` over all sinks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    /// Numbers outside `0..sent` (corrupt lines).
    pub foreign: u64,
}

pub fn tally(sent: u64, sinks: &[&[u64]]) -> Tally {
    let mut seen = vec![0u32; sent as usize];
    let mut t = Tally {
        sent,
        ..Tally::default()
    };
    for seqs in sinks {
        for &s in *seqs {
            match seen.get_mut(s as usize) {
                Some(count) => {
                    *count += 1;
                    if *count == 1 {
                        t.delivered += 1;
                    } else {
                        t.duplicated += 1;
                    }
                }
                None => t.foreign += 1,
            }
        }
    }
    t.lost = sent - t.delivered;
    t
}

/// How many of the last events `dead` received also reached one of `others`,
/// counted back from its last event to the first that did not. When a
/// backend dies, tcp.out sends again what its kernel had not acknowledged,
/// and a backend may have read some of that before its acknowledgement went
/// out (a receiver delays it, the longer when it leaves data unread). Those
/// events arrive twice; any other duplicate is a bug.
pub fn resent_tail(dead: &[u64], others: &[&[u64]]) -> u64 {
    let elsewhere: std::collections::HashSet<u64> = others
        .iter()
        .flat_map(|seqs| seqs.iter().copied())
        .collect();
    dead.iter()
        .rev()
        .take_while(|s| elsewhere.contains(s))
        .count() as u64
}

/// Whether each number is greater than the one before (a sink's share
/// arrived in input order).
pub fn increasing(seqs: &[u64]) -> bool {
    seqs.windows(2).all(|w| w[0] < w[1])
}

/// The one line of figures every case prints.
pub fn figures(case: &str, t: Tally, extra: &str) {
    println!(
        "figures {case}: sent={} delivered={} duplicated={} lost={} foreign={} {extra}",
        t.sent, t.delivered, t.duplicated, t.lost, t.foreign
    );
}

/// Waits (bounded) until the sinks together hold `n` lines, then a little
/// longer so that duplicates arriving late are seen too.
pub fn wait_total(sinks: &[&Sink], n: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while sinks.iter().map(|s| s.lines()).sum::<u64>() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}
