//! Proxies as real processes: `launch` flags, stdin/stdout/file.out/null,
//! start errors, and SIGTERM with an open input.
//!
//! This test target has no libtest harness (see runtime/Cargo.toml): with
//! `WBC_RT_CHILD=<graph>` set, `main` *is* a proxy binary wired by hand
//! (what generated code would be); without it, `main` runs the tests below,
//! each of which re-executes this binary as a child. Every wait is bounded.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wbc_runtime::modules::*;
use wbc_runtime::{launch_with_args, Proxy, ProxyInfo, StartError};

const CHILD: &str = "WBC_RT_CHILD";
const CHILD_ARGS: &str = "WBC_RT_CHILD_ARGS";
const CHILD_PATH: &str = "WBC_RT_CHILD_PATH";
const CHILD_FAILED_PATH: &str = "WBC_RT_CHILD_FAILED_PATH";
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
        file_out_appends_one_event_per_line,
        file_out_write_error_sends_events_to_failed,
        null_counts_everything,
        start_error_is_one_line_and_exit_1,
        flags_version_help_and_bad_flag,
        sigterm_with_open_stdin_drains_and_exits_0,
        second_signal_exits_at_once_naming_undelivered,
        drain_timeout_exits_naming_undelivered,
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

/// The hand-wired proxy a child runs.
fn child(graph: &str) -> ExitCode {
    let args: Vec<OsString> = std::env::var(CHILD_ARGS)
        .unwrap_or_default()
        .split_whitespace()
        .map(OsString::from)
        .collect();
    let info = ProxyInfo {
        source: "hand_wired.wb",
        sha256: "5e1f00d",
        compiler: "wbc test",
    };
    let path = || -> &'static str {
        Box::leak(
            std::env::var(CHILD_PATH)
                .unwrap_or_default()
                .into_boxed_str(),
        )
    };
    let graph = graph.to_string();
    launch_with_args(
        info,
        args,
        move |proxy: &mut Proxy| -> Result<(), StartError> {
            let (tx, rx) = proxy.queue("input", "outbox", "output", "inbox");
            if graph == "stuck" {
                // Down before stdin starts: its events wait in stdin's hands.
                rx.lock();
            }
            proxy.spawn(Stdin::new(StdinConfig { name: "input" }, tx)?);
            match graph.as_str() {
                "stdout" => proxy.spawn(Stdout::new(StdoutConfig { name: "output" }, rx)?),
                "null" => proxy.spawn(Null::new(NullConfig { name: "output" }, rx)?),
                "file" => proxy.spawn(FileOut::new(
                    FileOutConfig {
                        name: "output",
                        path: path(),
                    },
                    rx,
                    None,
                )?),
                "file_failed" => {
                    let (f_tx, f_rx) = proxy.queue("output", "failed", "spare", "inbox");
                    let spare: &'static str = Box::leak(
                        std::env::var(CHILD_FAILED_PATH)
                            .unwrap_or_default()
                            .into_boxed_str(),
                    );
                    proxy.spawn(FileOut::new(
                        FileOutConfig {
                            name: "output",
                            path: path(),
                        },
                        rx,
                        Some(f_tx),
                    )?);
                    proxy.spawn(FileOut::new(
                        FileOutConfig {
                            name: "spare",
                            path: spare,
                        },
                        f_rx,
                        None,
                    )?);
                }
                "stuck" => proxy.spawn(Stuck { inbox: rx }),
                other => {
                    return Err(StartError::new(
                        "test",
                        "test",
                        format!("unknown child graph `{other}`"),
                    ))
                }
            }
            Ok(())
        },
    )
}

/// An output that is down for good: holds its locked inbox until the proxy
/// finishes, so every event sent to it stays undelivered.
struct Stuck {
    inbox: wbc_runtime::Receiver,
}

impl wbc_runtime::Module for Stuck {
    fn name(&self) -> &'static str {
        "output"
    }

    async fn run(self) {
        self.inbox.context().finishing().await;
    }
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

/// Reads a pipe on a thread into a shared buffer, so waits stay bounded.
fn drain_pipe(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 65536];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
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
    let stdout = drain_pipe(child.stdout.take().unwrap());
    let stderr = drain_pipe(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let status = wait_bounded(&mut child);
    let _ = writer.join();
    // The pipes close with the process; give the reader threads a moment.
    std::thread::sleep(Duration::from_millis(50));
    let stdout = stdout.lock().unwrap().clone();
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
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
    let stdout = drain_pipe(child.stdout.take().unwrap());
    let stderr = drain_pipe(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let lines = 100_000;
    let mut input = Vec::new();
    for i in 0..lines {
        input.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    stdin.write_all(&input).unwrap();
    stdin.flush().unwrap();
    // stdin stays open: only the signal can end this proxy.
    let deadline = Instant::now() + LIMIT;
    while stdout.lock().unwrap().len() < input.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        stdout.lock().unwrap().len(),
        input.len(),
        "not everything arrived before the signal"
    );
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_bounded(&mut child);
    drop(stdin);
    std::thread::sleep(Duration::from_millis(50));
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(stderr.contains("received SIGTERM"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "queue input.outbox -> output.inbox: in {lines} out {lines} dropped 0 size 0"
        )),
        "{stderr}"
    );
    assert!(*stdout.lock().unwrap() == input);
}

/// Starts the `stuck` graph, feeds it 500 lines (stdin stays open) and waits
/// until they sit in the locked queue.
fn stuck_child(args: &str) -> (Child, Arc<Mutex<Vec<u8>>>, std::process::ChildStdin) {
    let mut child = spawn_child("stuck", args, &[]);
    let _ = drain_pipe(child.stdout.take().unwrap());
    let stderr = drain_pipe(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..500 {
        writeln!(stdin, "line {i}").unwrap();
    }
    stdin.flush().unwrap();
    // Let stdin read them (there is no observable queue from outside).
    std::thread::sleep(Duration::from_millis(300));
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

fn second_signal_exits_at_once_naming_undelivered() {
    let (mut child, stderr, stdin) = stuck_child("--drain-timeout 60s");
    signal(&child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the drain could finish or be forced"
    );
    let forced = Instant::now();
    signal(&child);
    let status = wait_bounded(&mut child);
    assert!(
        forced.elapsed() < Duration::from_secs(5),
        "second signal took {:?}",
        forced.elapsed()
    );
    drop(stdin);
    std::thread::sleep(Duration::from_millis(50));
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("second stop request"), "{stderr}");
    assert!(stderr.contains("500 events left undelivered"), "{stderr}");
    assert!(
        stderr.contains("queue input.outbox -> output.inbox: in 0 out 0 dropped 0 size 0"),
        "{stderr}"
    );
}

fn drain_timeout_exits_naming_undelivered() {
    let (mut child, stderr, stdin) = stuck_child("--drain-timeout 400ms");
    let signalled = Instant::now();
    signal(&child);
    let status = wait_bounded(&mut child);
    let took = signalled.elapsed();
    drop(stdin);
    std::thread::sleep(Duration::from_millis(50));
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "exit after {took:?}"
    );
    assert!(
        stderr.contains("drain timeout of 400ms reached"),
        "{stderr}"
    );
    assert!(stderr.contains("500 events left undelivered"), "{stderr}");
}
