//! Producers that are many, or hostile (issue 6, cases 5 and 6), against the
//! compiled failover proxy with both backends up.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use crate::backend::{self, Pace};
use crate::e2e::{temp_dir, wait_until, Proxy};
use crate::harness::{
    append_line, failover, figures, tally, two_backends, wait_connected, wait_settled, Producer,
    RSS_BOUND_KIB,
};

const WAIT: Duration = Duration::from_secs(120);

fn stop(proxy: Proxy) -> String {
    let (status, log) = proxy.terminate();
    assert!(status.success(), "exit {status} after SIGTERM\n{log}");
    log
}

/// Newlines both backends hold.
fn newlines(dir: &std::path::Path) -> u64 {
    ["a", "b"]
        .iter()
        .flat_map(|n| backend::data_files(dir, n))
        .map(|p| {
            std::fs::read(p)
                .unwrap_or_default()
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
        })
        .sum()
}

/// Case 5: 1,000 producer connections open at once, each sending 1,000
/// lines in 10 writes interleaved with the others'. Every line arrives
/// exactly once, and within each backend each producer's lines keep their
/// order.
#[test]
fn thousand_concurrent_producers_every_line_once_in_order() {
    const PRODUCERS: u32 = 1_000;
    const LINES: u64 = 1_000;
    const WIDTH: usize = 16;
    const THREADS: u32 = 20;
    let (_turn, fo) = failover();
    let dir = temp_dir("producers");
    let backends = two_backends(&dir, fo, [Pace::default(); 2]);
    let proxy = Proxy::start(&fo.binary, fo.input);
    wait_connected(&dir, || proxy.log());
    let input = fo.input;
    let workers: Vec<_> = (0..THREADS)
        .map(|w| {
            thread::spawn(move || -> std::io::Result<()> {
                let mine: Vec<u32> = (0..PRODUCERS).filter(|p| p % THREADS == w).collect();
                let mut conns = Vec::new();
                for _ in &mine {
                    let c = TcpStream::connect(("127.0.0.1", input))?;
                    c.set_write_timeout(Some(Duration::from_secs(60)))?;
                    conns.push(c);
                }
                let mut block = Vec::new();
                for round in 0..10 {
                    for (conn, p) in conns.iter_mut().zip(&mine) {
                        block.clear();
                        for seq in round * LINES / 10..(round + 1) * LINES / 10 {
                            append_line(&mut block, *p, seq, WIDTH);
                        }
                        conn.write_all(&block)?;
                    }
                }
                for c in &conns {
                    c.shutdown(Shutdown::Write)?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("producer thread").expect("producers wrote");
    }
    let total = u64::from(PRODUCERS) * LINES;
    wait_settled(total, Duration::from_secs(3), WAIT, || newlines(&dir));
    let peak = proxy.peak_rss_kib();
    let log = stop(proxy);
    drop(backends);
    let (got_a, got_b) = (backend::received(&dir, "a"), backend::received(&dir, "b"));
    let t = tally(&vec![LINES; PRODUCERS as usize], &[&got_a, &got_b]);
    figures(
        "thousand_producers",
        &t,
        peak,
        &format!(
            "producers={PRODUCERS} a_lines={} b_lines={}",
            got_a.len() / (WIDTH + 1),
            got_b.len() / (WIDTH + 1)
        ),
    );
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign, t.out_of_order),
        (total, 0, 0, 0, 0),
        "{log}"
    );
    assert!(peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");
}

/// 64 KiB of pseudo-random bytes (xorshift), every value but `\n`.
fn random_binary() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match (state >> 24) as u8 {
                b'\n' => 0,
                b => b,
            }
        })
        .collect()
}

/// Case 6: while a normal producer sends 100,000 lines, hostile clients
/// connect: 10 MiB without a newline (over `max_line`, 1 MiB by default),
/// a 64 KiB line of random binary bytes, one that connects and sends
/// nothing, one that sends 1,000 lines and half-closes (and stays
/// connected), and a flood of 1,000,000 empty lines. Others are still
/// served (every numbered line once, in order per backend), the binary line
/// arrives byte for byte, the empty lines arrive as empty events, the long
/// line is dropped and logged once, the log does not grow per event, and
/// memory stays bounded.
#[test]
fn hostile_clients_do_not_stop_others_and_are_logged_once() {
    const N: u64 = 100_000;
    const WIDTH: usize = 16;
    const EMPTY: u64 = 1_000_000;
    let (_turn, fo) = failover();
    let dir = temp_dir("hostile");
    let backends = two_backends(&dir, fo, [Pace::default(); 2]);
    let proxy = Proxy::start(&fo.binary, fo.input);
    wait_connected(&dir, || proxy.log());
    let port = fo.input;
    let connect = || {
        let c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_write_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        c
    };
    let idle = connect();
    let producer = Producer::spawn(port, 0, N, WIDTH);
    let mut long = connect();
    let long_client = long.local_addr().expect("address");
    let writer = thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            long.write_all(&chunk)?;
        }
        long.write_all(b"\n")
    });
    let binary = random_binary();
    let mut bin = connect();
    bin.write_all(&binary).expect("write binary");
    bin.write_all(b"\n").expect("write binary");
    drop(bin);
    let mut half = connect();
    let mut lines = Vec::new();
    for seq in 0..1_000 {
        append_line(&mut lines, 1, seq, WIDTH);
    }
    half.write_all(&lines).expect("write");
    half.shutdown(Shutdown::Write).expect("half-close");
    let mut empty = connect();
    empty
        .write_all(&vec![b'\n'; EMPTY as usize])
        .expect("write empty lines");
    drop(empty);
    writer
        .join()
        .expect("long-line thread")
        .expect("long line written");
    producer.join(WAIT).expect("producer finished");
    let expected = N + 1_000 + 1 + EMPTY;
    let settled = wait_settled(expected, Duration::from_secs(3), WAIT, || newlines(&dir));
    // The half-closed and the idle client are still connected; a new client
    // is served after all this.
    let mut after = connect();
    after.write_all(b"served-after\n").expect("write");
    drop(after);
    let served_after = wait_until(Duration::from_secs(10), || newlines(&dir) > settled);
    let peak = proxy.peak_rss_kib();
    let log = stop(proxy);
    drop((backends, idle, half));
    let (got_a, got_b) = (backend::received(&dir, "a"), backend::received(&dir, "b"));
    let t = tally(&[N, 1_000], &[&got_a, &got_b]);
    let all_lines = || {
        got_a
            .split(|b| *b == b'\n')
            .chain(got_b.split(|b| *b == b'\n'))
    };
    // Each backend's bytes end with `\n`, so split yields one extra "".
    let empty_lines = all_lines().filter(|l| l.is_empty()).count() as u64 - 2;
    let binary_copies = all_lines().filter(|l| *l == binary.as_slice()).count();
    let longest = all_lines().map(<[u8]>::len).max().unwrap_or(0);
    let long_warnings = log
        .lines()
        .filter(|l| l.contains("longer than") && l.contains(&long_client.to_string()))
        .count();
    figures(
        "hostile_input",
        &t,
        peak,
        &format!(
            "empty_lines={empty_lines} binary_copies={binary_copies} longest_line={longest} \
             long_line_warnings={long_warnings} log_lines={} served_after={served_after}",
            log.lines().count()
        ),
    );
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.out_of_order),
        (N + 1_000, 0, 0, 0),
        "{log}"
    );
    // Foreign lines: the binary line and `served-after`.
    assert_eq!(t.foreign, 2);
    assert_eq!(empty_lines, EMPTY);
    assert_eq!(binary_copies, 1, "the binary line arrives byte for byte");
    assert!(longest < 1 << 20, "a line over max_line was delivered");
    assert_eq!(long_warnings, 1, "the long line is logged once:\n{log}");
    assert!(
        log.lines().count() < 100,
        "the log grows with the events:\n{log}"
    );
    assert!(served_after, "a new client was not served");
    assert!(peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");
}

/// A flood of 10,000,000 empty lines (10 MB) from one client. Every empty
/// event arrives, and the proxy's memory stays that of ordinary lines (~10
/// MiB peak). It once cost 60-159 MiB, when each event had a 32-byte handle
/// of its own (RELIABILITY.md, "Finding: memory for floods of tiny lines");
/// events now travel as shared pieces of complete lines, and tcp.in still
/// hands a read out in batches of at most the outbox's capacity.
#[test]
fn empty_line_flood_memory_follows_queue_capacity() {
    const EMPTY: u64 = 10_000_000;
    const BOUND_KIB: u64 = 32 * 1024;
    let (_turn, fo) = failover();
    let dir = temp_dir("empty-flood");
    let backends = two_backends(&dir, fo, [Pace::default(); 2]);
    let proxy = Proxy::start(&fo.binary, fo.input);
    wait_connected(&dir, || proxy.log());
    crate::e2e::send(fo.input, &vec![b'\n'; EMPTY as usize]);
    let got = wait_settled(EMPTY, Duration::from_secs(3), WAIT, || newlines(&dir));
    let peak = proxy.peak_rss_kib();
    let log = stop(proxy);
    drop(backends);
    println!(
        "figures empty_line_flood: sent={EMPTY} delivered={got} duplicated=0 lost={} peak_rss_kib={peak}",
        EMPTY.saturating_sub(got)
    );
    assert_eq!(got, EMPTY, "{log}");
    assert!(peak < BOUND_KIB, "peak RSS {peak} KiB for tiny events");
}
