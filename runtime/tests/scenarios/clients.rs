//! tcp.in with many clients: concurrent producers keep their own order,
//! idle connections cost little memory, and a burst of connections while
//! the proxy is busy waits in the kernel instead of being turned away.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::peers::{numbered, Sink, SinkOpts};
use crate::setup::{figures, start, tally};

/// 50 producers at once, 2,000 lines each (producer `c` sends the numbers
/// `c * 2000 ..`): every line arrives once, and each producer's lines arrive
/// in the order it sent them.
pub fn concurrent_clients_each_in_order() {
    const CLIENTS: u64 = 50;
    const PER: u64 = 2_000;
    let sink = Sink::start(SinkOpts::default());
    let run = start("one", &[sink.port], &[], 1);
    let port = run.input;
    let producers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || -> std::io::Result<()> {
                let all = numbered("c-", ((c + 1) * PER) as usize);
                let start = (c * PER) as usize * 11;
                let mut s = TcpStream::connect(("127.0.0.1", port))?;
                // Several writes, so clients interleave inside the proxy.
                for chunk in all[start..].chunks(11 * 100) {
                    s.write_all(chunk)?;
                }
                Ok(())
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer thread").expect("producer wrote");
    }
    let got = sink.wait_lines(CLIENTS * PER, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(200));
    let r = sink.stop();
    let t = tally(CLIENTS * PER, &[&r.seqs]);
    let out_of_order = (0..CLIENTS)
        .filter(|c| {
            let mine: Vec<u64> = r.seqs.iter().copied().filter(|s| s / PER == *c).collect();
            !mine.windows(2).all(|w| w[0] < w[1])
        })
        .count();
    figures(
        "concurrent_clients",
        t,
        &format!("clients={CLIENTS} received={got} clients_out_of_order={out_of_order}"),
    );
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign),
        (CLIENTS * PER, 0, 0, 0)
    );
    assert_eq!(out_of_order, 0);
}

/// 2,000 connections that each send one line and then stay open and quiet.
/// The proxy's RSS growth per connection is printed and bounded: a client
/// that is not sending holds no 64 KiB read buffer.
pub fn idle_clients_cost_little() {
    const CLIENTS: usize = 2_000;
    let sink = Sink::start(SinkOpts::default());
    let run = start("one", &[sink.port], &[], 1);
    // Warm up allocator and runtime with one client first.
    let mut conns = vec![TcpStream::connect(("127.0.0.1", run.input)).expect("connect")];
    conns[0].write_all(b"warm-up 00000000\n").expect("write");
    sink.wait_lines(1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let (_, before) = run.proxy.rss_kib();
    for i in 1..=CLIENTS {
        let mut c = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
        c.write_all(format!("idle {i:08}\n").as_bytes())
            .expect("write");
        conns.push(c);
    }
    let got = sink.wait_lines(CLIENTS as u64 + 1, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (peak, after) = run.proxy.rss_kib();
    let per_client = after.saturating_sub(before) as f64 / CLIENTS as f64;
    println!(
        "figures idle_clients: clients={CLIENTS} lines={got} rss_before_kib={before} rss_after_kib={after} rss_peak_kib={peak} kib_per_idle_client={per_client:.1}"
    );
    assert_eq!(got, CLIENTS as u64 + 1);
    assert!(per_client < 16.0, "{per_client:.1} KiB per idle client");
    drop(conns);
}

/// A reconnect storm: 1,000 clients connect while the proxy cannot accept
/// (stopped with SIGSTOP, as a proxy busy or kept off a core would be).
/// The kernel completes their handshakes only while the listening socket's
/// accept queue has room; past it, a client's SYN is dropped and it waits
/// for its retransmission, 1 s, 3 s, 7 s later. With the queue at
/// `listen(2)`'s common default of 128, only ~129 connect here. tcp.in
/// asks for 4,096 (the kernel caps it at `net.core.somaxconn`), so every
/// client connects at once, and once the proxy runs again each one's line
/// arrives.
pub fn connection_burst_waits_in_the_accept_queue() {
    const CLIENTS: usize = 1_000;
    let sink = Sink::start(SinkOpts::default());
    let run = start("one", &[sink.port], &[], 1);
    let to = SocketAddr::from(([127, 0, 0, 1], run.input));
    run.proxy.signal("STOP");
    let mut conns = Vec::with_capacity(CLIENTS);
    let started = Instant::now();
    for _ in 0..CLIENTS {
        // A SYN dropped for a full queue is retried after 1 s: 300 ms
        // without a handshake means the queue turned this client away.
        match TcpStream::connect_timeout(&to, Duration::from_millis(300)) {
            Ok(c) => conns.push(c),
            Err(_) => break,
        }
    }
    let connected = conns.len();
    let connect_ms = started.elapsed().as_millis();
    run.proxy.signal("CONT");
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("burst {i:08}\n").as_bytes())
            .expect("write");
    }
    let got = sink.wait_lines(connected as u64, Duration::from_secs(30));
    // The kernel caps the queue at net.core.somaxconn (4,096 since Linux
    // 5.4); on a machine set lower, that cap is all tcp.in can get.
    let cap = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(4096);
    let expected = CLIENTS.min(cap + 1);
    println!(
        "figures connection_burst: clients={CLIENTS} connected_while_stopped={connected} connect_ms={connect_ms} lines={got} somaxconn={cap}"
    );
    assert!(
        connected >= expected,
        "{connected} of {CLIENTS} clients connected; the rest were turned away by a full accept queue"
    );
    assert_eq!(got, connected as u64);
    drop(conns);
}
