//! The sink's `--leave PORT:LINES` and `--abort PORT:LINES`, which the
//! benchmark's failover rows rely on: after LINES lines the port refuses new
//! connections and either half-closes the one it reads, yet reads on, so
//! every line is counted, or resets it, reporting what it never read.

#[path = "../../tests/support/common.rs"]
mod common;

use common::free_port;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// Connects once the sink listens (bounded by [`WAIT`]).
fn connect(port: u16) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(e) if start.elapsed() < WAIT => {
                assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("sink not listening on {port} after {WAIT:?}: {e}"),
        }
    }
}

fn lines(n: usize) -> Vec<u8> {
    b"a.b 1 1700000000\n".repeat(n)
}

/// Waits for the sink to exit by itself (bounded), killing it on timeout.
fn output(mut sink: Child) -> String {
    let start = Instant::now();
    while sink.try_wait().expect("wait for sink").is_none() {
        if start.elapsed() > WAIT {
            sink.kill().ok();
            panic!("sink did not exit in {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut text = String::new();
    let mut stdout = sink.stdout.take().expect("piped stdout");
    stdout.read_to_string(&mut text).expect("read sink output");
    text
}

fn value(report: &str, key: &str) -> u64 {
    report
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no `{key}` in {report}"))
        .parse()
        .unwrap_or_else(|_| panic!("`{key}` not a number in {report}"))
}

#[test]
fn a_leaving_port_refuses_new_connections_half_closes_and_reads_on() {
    let (stays, leaves) = (free_port(), free_port());
    let sink = Command::new(env!("CARGO_BIN_EXE_sink"))
        .args(["--lines", "3000", "--idle-ms", "5000", "--drain-ms", "200"])
        .args(["--leave", &format!("{leaves}:1000")])
        .args([stays.to_string(), leaves.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sink");

    let mut conn = connect(leaves);
    conn.write_all(&lines(1500)).expect("first lines");
    // The half-close: the sink's FIN arrives as the end of the stream.
    conn.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut byte = [0u8; 1];
    assert_eq!(conn.read(&mut byte).expect("no FIN from the sink"), 0);
    let refused = TcpStream::connect(("127.0.0.1", leaves)).map(|_| ());
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused),
        "the port still accepts after leaving"
    );
    // It still reads what was sent after it left.
    conn.write_all(&lines(500)).expect("lines after the leave");
    drop(conn);
    connect(stays).write_all(&lines(1000)).expect("other port");

    let report = output(sink);
    assert!(report.starts_with("status=complete "), "{report}");
    assert_eq!(value(&report, "lines"), 3000, "{report}");
    assert_eq!(value(&report, &format!("p{leaves}")), 2000, "{report}");
    assert_eq!(value(&report, &format!("p{stays}")), 1000, "{report}");
    let left_lines = value(&report, "left_lines");
    assert!((1000..=1500).contains(&left_lines), "{report}");
    assert!(value(&report, "t_left") > 0, "{report}");
    assert!(value(&report, "left_unix_ns") > 0, "{report}");
}

#[test]
fn without_leave_a_port_never_leaves() {
    let port = free_port();
    let sink = Command::new(env!("CARGO_BIN_EXE_sink"))
        .args(["--lines", "2000", "--drain-ms", "200", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sink");
    let mut first = connect(port);
    first.write_all(&lines(1500)).expect("first connection");
    drop(first);
    connect(port)
        .write_all(&lines(500))
        .expect("a second connection is accepted");
    let report = output(sink);
    assert!(report.starts_with("status=complete "), "{report}");
    assert_eq!(value(&report, "lines"), 2000, "{report}");
    assert_eq!(value(&report, "t_left"), 0, "{report}");
}

#[test]
fn an_aborting_port_resets_and_reports_what_it_never_read() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("wbc-sink-abort-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let prefix = dir.join("recv");
    let sink = Command::new(env!("CARGO_BIN_EXE_sink"))
        .args(["--lines", "1500", "--drain-ms", "200", "--idle-ms", "5000"])
        .args(["--abort", &format!("{port}:1000")])
        .args(["--out", prefix.to_str().expect("utf-8 temp path")])
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sink");

    let mut conn = connect(port);
    conn.write_all(&lines(999)).expect("first lines");
    // One segment on loopback: the read that crosses 1,000 lines sees all
    // of it, the last line only in part.
    let mut second = lines(501);
    second.extend_from_slice(b"partial");
    conn.write_all(&second).expect("second write");
    conn.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut byte = [0u8; 1];
    let reset = conn.read(&mut byte).map_err(|e| e.kind());
    assert_eq!(
        reset,
        Err(ErrorKind::ConnectionReset),
        "no reset from the sink"
    );
    let refused = TcpStream::connect(("127.0.0.1", port)).map(|_| ());
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused)
    );

    let report = output(sink);
    let got = value(&report, "lines");
    let abandoned = value(&report, "abandoned_bytes");
    let line = lines(1).len() as u64;
    // Every byte sent is either in a counted line or reported abandoned.
    assert_eq!(got * line + abandoned, 1500 * line + 7, "{report}");
    assert!((1000..=1500).contains(&got), "{report}");
    assert!(abandoned >= 7, "the partial line is abandoned: {report}");
    // What it recorded is exactly the lines it counted, no partial line.
    let recorded = std::fs::read(dir.join(format!("recv.{port}.0"))).expect("recorded file");
    assert_eq!(recorded, lines(got as usize));
    std::fs::remove_dir_all(&dir).ok();
}
