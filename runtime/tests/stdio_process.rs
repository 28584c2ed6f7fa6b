//! Proxies as real processes: `launch` flags, stdin/stdout/file.out/null,
//! start errors, and SIGTERM with an open input.
//!
//! This test target has no libtest harness (see runtime/Cargo.toml): with
//! `WBC_RT_CHILD=<graph>` set, `main` *is* a proxy binary wired by hand
//! (what generated code would be); without it, `main` runs the tests below,
//! each of which re-executes this binary as a child. Every wait is bounded.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "stdio_process/child.rs"]
mod child;

use child::{child, CHILD, CHILD_ARGS, CHILD_FAILED_PATH, CHILD_PATH};
const LIMIT: Duration = Duration::from_secs(20);

/// `name` -> `("name", name)`.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        &[$((stringify!($case), $case as fn())),*]
    };
}

fn main() -> ExitCode {
    if let Ok(graph) = std::env::var(CHILD) {
        return child(&graph);
    }
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: &[(&str, fn())] = cases![
        stdin_to_stdout_is_byte_identical,
        stdin_drops_an_over_long_line_and_resynchronises,
        file_out_appends_one_event_per_line,
        file_out_write_error_sends_events_to_failed,
        null_counts_everything,
        start_error_is_one_line_and_exit_1,
        flags_version_help_and_bad_flag,
        sigterm_with_open_stdin_drains_and_exits_0,
        second_signal_exits_at_once_naming_undelivered,
        drain_timeout_exits_naming_undelivered,
        signal_while_draining_after_input_ended_exits_at_once,
    ];
    let mut ran = 0;
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        eprintln!("test {name} ...");
        test();
        eprintln!("test {name} ... ok");
        ran += 1;
    }
    eprintln!("test result: ok. {ran} passed");
    ExitCode::SUCCESS
}

struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

fn spawn_child(graph: &str, args: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD, graph).env(CHILD_ARGS, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A child's output pipe, read on a thread so every wait stays bounded.
struct Pipe {
    seen: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Pipe {
    fn read(mut pipe: impl Read + Send + 'static) -> Pipe {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 65536];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Pipe { seen, reader }
    }

    fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Everything the pipe carried; call after the child exited (the pipe
    /// then reaches its end).
    fn finish(self) -> Vec<u8> {
        let _ = self.reader.join();
        Arc::try_unwrap(self.seen)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_default()
    }

    fn finish_text(self) -> String {
        String::from_utf8_lossy(&self.finish()).into_owned()
    }
}

/// Waits (bounded) until `cond` holds.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child proxy did not exit within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a child proxy with `input` on stdin (then end of input).
fn run(graph: &str, args: &str, env: &[(&str, &str)], input: &[u8]) -> Run {
    let mut child = spawn_child(graph, args, env);
    let stdout = Pipe::read(child.stdout.take().unwrap());
    let stderr = Pipe::read(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let status = wait_bounded(&mut child);
    let _ = writer.join();
    let stdout = stdout.finish();
    let stderr = stderr.finish_text();
    Run {
        status,
        stdout,
        stderr,
    }
}

/// 10,000 lines plus the edge cases: binary bytes, CRLF, an empty line, and
/// a last line without a newline.
fn mixed_input() -> Vec<u8> {
    let mut input = Vec::new();
    for _ in 0..10_000 {
        input.extend_from_slice(b"hello\n");
    }
    input.extend_from_slice(b"\xff\xfe\x00binary\n");
    input.extend_from_slice(b"crlf\r\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"last without newline");
    input
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wbc-rt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    dir
}

fn stdin_to_stdout_is_byte_identical() {
    let input = mixed_input();
    let r = run("stdout", "", &[], &input);
    assert!(r.status.success(), "exit {:?}\n{}", r.status, r.stderr);
    let mut expected = input.clone();
    expected.push(b'\n');
    assert!(
        r.stdout == expected,
        "stdout differs from stdin ({} vs {} bytes)",
        r.stdout.len(),
        expected.len()
    );
    assert!(
        r.stderr
            .contains("queue input.outbox -> output.inbox: in 10004 out 10004 dropped 0 size 0"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("drained"), "{}", r.stderr);
}

fn stdin_drops_an_over_long_line_and_resynchronises() {
    let mut input = b"before\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 10));
    input.extend_from_slice(b"\nafter\n");
    let r = run("stdout", "", &[], &input);
    assert!(r.status.success(), "{}", r.stderr);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "before\nafter\n");
    assert!(
        r.stderr
            .contains("queue input.outbox -> output.inbox: in 2 out 2 dropped 1 size 0"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.matches("dropped a line longer than").count(),
        1,
        "{}",
        r.stderr
    );
}

fn file_out_appends_one_event_per_line() {
    let path = temp_path("append");
    std::fs::write(&path, b"already there\n").unwrap();
    let input = mixed_input();
    let r = run("file", "", &[(CHILD_PATH, path.to_str().unwrap())], &input);
    assert!(r.status.success(), "{}", r.stderr);
    let mut expected = b"already there\n".to_vec();
    expected.extend_from_slice(&input);
    expected.push(b'\n');
    assert!(
        std::fs::read(&path).unwrap() == expected,
        "file content differs"
    );
    let _ = std::fs::remove_file(&path);
}

fn file_out_write_error_sends_events_to_failed() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full on this system");
        return;
    }
    let spare = temp_path("spare");
    let input = mixed_input();
    let r = run(
        "file_failed",
        "",
        &[
            (CHILD_PATH, "/dev/full"),
            (CHILD_FAILED_PATH, spare.to_str().unwrap()),
        ],
        &input,
    );
    assert!(r.status.success(), "{}", r.stderr);
    let mut expected = input.clone();
    expected.push(b'\n');
    assert!(
        std::fs::read(&spare).unwrap() == expected,
        "the failed queue did not get every event"
    );
    assert_eq!(
        r.stderr
            .matches("cannot write to `/dev/full`: no space left on device")
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("queue output.failed -> spare.inbox: in 10004 out 10004"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_file(&spare);
}

fn null_counts_everything() {
    let r = run("null", "--log-level info", &[], &mixed_input());
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("queue input.outbox -> output.inbox: in 10004 out 10004 dropped 0 size 0"),
        "{}",
        r.stderr
    );
}

fn start_error_is_one_line_and_exit_1() {
    let r = run(
        "file",
        "",
        &[(CHILD_PATH, "/nonexistent-wbc-dir/out.log")],
        b"",
    );
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(
        errors,
        ["error: module `output` (file.out) cannot open `/nonexistent-wbc-dir/out.log`: no such file or directory"],
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("\n  = help: the directory of `/nonexistent-wbc-dir/out.log` does not exist: create it, or give `output` another `path`\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
}

fn flags_version_help_and_bad_flag() {
    let r = run("null", "--version", &[], b"");
    assert!(r.status.success());
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(
        out.contains("hand_wired.wb") && out.contains("sha256 5e1f00d"),
        "{out}"
    );
    let r = run("null", "--help", &[], b"");
    assert!(r.status.success());
    let out = String::from_utf8_lossy(&r.stdout);
    for flag in [
        "--log-level",
        "--queue-capacity",
        "--drain-timeout",
        "--version",
    ] {
        assert!(out.contains(flag), "help lacks {flag}: {out}");
    }
    let r = run("null", "--queue-capacity lots", &[], b"");
    assert_eq!(r.status.code(), Some(2));
    assert!(
        r.stderr
            .starts_with("error: `--queue-capacity` needs a positive number of events, not `lots`"),
        "{}",
        r.stderr
    );
}

fn sigterm_with_open_stdin_drains_and_exits_0() {
    let mut child = spawn_child("stdout", "--queue-capacity 64", &[]);
    let stdout = Pipe::read(child.stdout.take().unwrap());
    let stderr = Pipe::read(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let lines = 100_000;
    let mut input = Vec::new();
    for i in 0..lines {
        input.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    stdin.write_all(&input).unwrap();
    stdin.flush().unwrap();
    // stdin stays open: only the signal can end this proxy.
    assert!(
        eventually(|| stdout.len() >= input.len()),
        "not everything arrived before the signal"
    );
    signal(&child);
    let status = wait_bounded(&mut child);
    drop(stdin);
    let stderr = stderr.finish_text();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(stderr.contains("received SIGTERM"), "{stderr}");
    let counters =
        format!("queue input.outbox -> output.inbox: in {lines} out {lines} dropped 0 size 0");
    assert!(stderr.contains(&counters), "{stderr}");
    assert!(stdout.finish() == input);
}

/// Starts the `stuck` graph (its output is down for good) and writes 500
/// lines to its stdin, which stays open.
fn stuck_child(args: &str) -> (Child, Pipe, std::process::ChildStdin) {
    let mut child = spawn_child("stuck", args, &[]);
    let _stdout = Pipe::read(child.stdout.take().unwrap());
    let stderr = Pipe::read(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..500 {
        writeln!(stdin, "line {i}").unwrap();
    }
    stdin.flush().unwrap();
    (child, stderr, stdin)
}

fn signal(child: &Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The number in `N events left undelivered`.
fn undelivered(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains("events left undelivered"))?;
    let before = line.split(" events left undelivered").next()?;
    before.rsplit(' ').next()?.parse().ok()
}

fn second_signal_exits_at_once_naming_undelivered() {
    let (mut child, stderr, stdin) = stuck_child("--drain-timeout 60s");
    // Time for stdin to read some lines (how many does not matter).
    std::thread::sleep(Duration::from_millis(500));
    signal(&child);
    assert!(
        eventually(|| stderr.text().contains("stop requested, draining")),
        "{}",
        stderr.text()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the drain could finish or be forced"
    );
    let forced = Instant::now();
    signal(&child);
    let status = wait_bounded(&mut child);
    let took = forced.elapsed();
    drop(stdin);
    let stderr = stderr.finish_text();
    assert!(took < Duration::from_secs(5), "second signal took {took:?}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("second stop request"), "{stderr}");
    // However much stdin had read by the first signal is exactly what is
    // reported as undelivered, and it all sits in the down output's queue.
    let left = undelivered(&stderr).expect("no undelivered count logged");
    assert!(left > 0 && left <= 500, "{stderr}");
    let counters =
        format!("queue input.outbox -> output.inbox: in {left} out 0 dropped 0 size {left}");
    assert!(stderr.contains(&counters), "{stderr}");
}

fn drain_timeout_exits_naming_undelivered() {
    let (mut child, stderr, stdin) = stuck_child("--drain-timeout 400ms");
    // End of input starts the drain by itself; it cannot finish.
    drop(stdin);
    assert!(
        eventually(|| stderr.text().contains("all input ended, draining")),
        "{}",
        stderr.text()
    );
    let started = Instant::now();
    let status = wait_bounded(&mut child);
    let took = started.elapsed();
    let stderr = stderr.finish_text();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(5), "exit after {took:?}");
    assert!(
        stderr.contains("drain timeout of 400ms reached"),
        "{stderr}"
    );
    assert_eq!(undelivered(&stderr), Some(500), "{stderr}");
}

fn signal_while_draining_after_input_ended_exits_at_once() {
    let (mut child, stderr, stdin) = stuck_child("--drain-timeout 60s");
    drop(stdin);
    assert!(
        eventually(|| stderr.text().contains("all input ended, draining")),
        "{}",
        stderr.text()
    );
    let signalled = Instant::now();
    signal(&child);
    let status = wait_bounded(&mut child);
    let took = signalled.elapsed();
    let stderr = stderr.finish_text();
    assert!(took < Duration::from_secs(5), "exit after {took:?}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stop requested while draining, exiting at once"),
        "{stderr}"
    );
    assert_eq!(undelivered(&stderr), Some(500), "{stderr}");
}
