//! Issue 3, point 5: what tcp.in makes of awkward input.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use crate::peers::{Sink, SinkOpts};
use crate::setup::{figures, start, Tally};

/// One client sends, in this order: a normal line, a line over `max_line`
/// (1,000 bytes here), a normal line, a CRLF line, an empty line, a line of
/// non-UTF-8 bytes (with a NUL), a second over-long line spread over several
/// writes, and finally half a line before disconnecting. A second client
/// disconnects mid-line too. Expected: both over-long lines dropped and
/// counted, one warning naming the client, `\r` kept, the empty line and the
/// binary line delivered byte for byte, and each partial last line delivered
/// as an event.
pub fn input_edge_cases_overlong_binary_crlf_empty_partial() {
    let sink = Sink::start(SinkOpts {
        keep_lines: true,
        ..SinkOpts::default()
    });
    let run = start(
        "one",
        &[sink.port],
        &[("WBC_TEST_MAX_LINE", "1000".to_string())],
        1,
    );

    let mut client = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
    let client_addr = client.local_addr().expect("client address");
    let mut first = Vec::new();
    first.extend_from_slice(b"before\n");
    first.extend_from_slice(&[b'x'; 5000]);
    first.extend_from_slice(b"\nafter\ncrlf\r\n\n\xff\xfe\x00\x80binary\n");
    client.write_all(&first).expect("write");
    for _ in 0..3 {
        client.write_all(&[b'y'; 700]).expect("write");
        std::thread::sleep(Duration::from_millis(20));
    }
    client
        .write_all(b"\nresynced\npartial-no-newline")
        .expect("write");
    client.shutdown(Shutdown::Write).expect("disconnect");

    // The second client only starts after the first one's lines are in, so
    // the order at the sink is known.
    assert_eq!(sink.wait_lines(7, Duration::from_secs(10)), 7);
    let mut second = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
    second.write_all(b"second-client-cut").expect("write");
    drop(second);
    sink.wait_lines(8, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));

    // SIGTERM: the proxy logs its final counters, including `dropped`.
    run.proxy.signal("TERM");
    let mut proxy = run.proxy;
    let status = proxy.wait(Duration::from_secs(15));
    let log = proxy.log_text();
    let got = sink.stop();
    let expected: Vec<&[u8]> = vec![
        b"before",
        b"after",
        b"crlf\r",
        b"",
        b"\xff\xfe\x00\x80binary",
        b"resynced",
        b"partial-no-newline",
        b"second-client-cut",
    ];
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("dropped a line longer than 1000 bytes"))
        .collect();
    let dropped = final_counter(&log, "queue input.outbox -> output.inbox", "dropped");
    let t = Tally {
        sent: expected.len() as u64,
        delivered: got.lines,
        duplicated: 0,
        lost: (expected.len() as u64).saturating_sub(got.lines),
        foreign: 0,
    };
    figures(
        "input_edge_cases",
        t,
        &format!("dropped={dropped:?} warnings={}", warnings.len()),
    );
    assert_eq!(
        got.kept,
        expected.iter().map(|l| l.to_vec()).collect::<Vec<_>>()
    );
    assert_eq!(got.fragments, 0);
    assert_eq!(warnings.len(), 1, "one warning per client:\n{log}");
    assert!(
        warnings[0].contains(&client_addr.to_string()),
        "warning names the client: {}",
        warnings[0]
    );
    assert_eq!(dropped, Some(2), "final counters:\n{log}");
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}:\n{log}"
    );
}

/// The value of `counter` in the final-counters line that starts with
/// `prefix` (`queue A.B -> C.D: in 1 out 1 dropped 0 size 0`).
pub fn final_counter(log: &str, prefix: &str, counter: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains(prefix))?;
    let after = &line[line.find(prefix)? + prefix.len()..];
    let words: Vec<&str> = after.trim_start_matches(':').split_whitespace().collect();
    let at = words.iter().position(|w| *w == counter)?;
    words.get(at + 1)?.parse().ok()
}

/// A client sends 10 MiB without a newline (with the default `max_line` of
/// 1 MiB), then `\nafter\n`; another client meanwhile sends a normal line.
/// The long line is dropped and counted once, the stream resynchronises,
/// the other client is served, and the proxy never holds the 10 MiB.
pub fn input_ten_mib_without_newline_bounded_memory() {
    let sink = Sink::start(SinkOpts {
        keep_lines: true,
        ..SinkOpts::default()
    });
    let run = start("one", &[sink.port], &[], 1);
    let mut hostile = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..10 {
        hostile.write_all(&chunk).expect("write");
    }
    let mut other = TcpStream::connect(("127.0.0.1", run.input)).expect("connect");
    other.write_all(b"other client\n").expect("write");
    assert_eq!(
        sink.wait_lines(1, Duration::from_secs(10)),
        1,
        "other client not served"
    );
    hostile.write_all(b"\nafter\n").expect("write");
    hostile.shutdown(Shutdown::Write).expect("close");
    sink.wait_lines(2, Duration::from_secs(10));
    let (peak, _) = run.proxy.rss_kib();
    run.proxy.signal("TERM");
    let mut proxy = run.proxy;
    let status = proxy.wait(Duration::from_secs(15));
    let log = proxy.log_text();
    let dropped = final_counter(&log, "queue input.outbox -> output.inbox", "dropped");
    let got = sink.stop();
    println!(
        "figures input_ten_mib_line: lines={:?} dropped={dropped:?} rss_peak_kib={peak}",
        got.kept
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
    );
    assert_eq!(got.kept, vec![b"other client".to_vec(), b"after".to_vec()]);
    assert_eq!(dropped, Some(1), "{log}");
    assert!(
        peak < 8 * 1024 + 6 * 1024,
        "peak RSS {peak} KiB: the long line was held"
    );
    assert!(status.is_some_and(|s| s.success()), "{log}");
}
