//! Start-up that cannot succeed, and shutdown under load (issue 6, cases 7
//! and 8).

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::backend::{self, Pace};
use crate::e2e::{build, free_port, temp_dir, wait_exit, wait_until, Proxy};
use crate::harness::{
    failover, figures, lines_at, tally, two_backends, wait_connected, wait_settled, Producer,
    RSS_BOUND_KIB,
};

/// Runs `binary` until it exits (bounded); `(exit code, stderr)`.
fn run_to_exit(binary: &Path) -> (Option<i32>, String) {
    let log = binary.with_extension("start.stderr");
    let mut child = Command::new(binary)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("create log"))
        .spawn()
        .expect("start proxy");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let stderr = fs::read_to_string(&log).unwrap_or_default();
    (status.and_then(|s| s.code()), stderr)
}

/// Exit 1, exactly one `error` line naming `module` and `address`, no
/// panic, no backtrace (even with RUST_BACKTRACE=1).
fn assert_one_clear_error(
    case: &str,
    code: Option<i32>,
    stderr: &str,
    module: &str,
    address: &str,
) {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    println!(
        "figures start_error_{case}: sent=0 delivered=0 duplicated=0 lost=0 exit={code:?} error={:?}",
        errors.first().copied().unwrap_or("")
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    assert!(
        errors[0].contains(&format!("`{module}`")) && errors[0].contains(address),
        "the error names `{module}` and {address}: {}",
        errors[0]
    );
    for word in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(word), "{word} in:\n{stderr}");
    }
}

/// The line after the error is one `= help:` line containing `fix`: the
/// operator is told what to do, not only what failed.
fn assert_help_follows(stderr: &str, fix: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("error: "));
    let help = at.and_then(|i| lines.get(i + 1)).copied().unwrap_or("");
    assert!(
        help.starts_with("  = help: ") && help.contains(fix),
        "a help line with {fix:?} after the error:\n{stderr}"
    );
    assert_eq!(stderr.matches("= help:").count(), 1, "{stderr}");
}

/// Case 7a: the input port is taken by another process's listener.
#[test]
fn start_error_port_in_use_is_one_clear_line() {
    let (_turn, fo) = failover();
    let taken = TcpListener::bind(("127.0.0.1", fo.input)).expect("take the input port");
    let (code, stderr) = run_to_exit(&fo.binary);
    drop(taken);
    let address = format!("127.0.0.1:{}", fo.input);
    assert_one_clear_error("port_in_use", code, &stderr, "input", &address);
    assert!(stderr.contains("address already in use"), "{stderr}");
    let port = fo.input;
    assert_help_follows(
        &stderr,
        &format!("another process holds port {port} (`ss -ltnp 'sport = :{port}'` names it): stop it, or give `input` another `port`"),
    );
}

/// Case 7b: a tcp.out whose host does not resolve.
#[test]
fn start_error_unresolvable_host_is_one_clear_line() {
    let dir = temp_dir("bad-host");
    let routing = format!(
        "input = tcp.in(port: {})\nout = tcp.out(host: \"no-such-host.invalid\", port: 2003)\ninput -> out\n",
        free_port()
    );
    let binary = build(&dir, &routing);
    let (code, stderr) = run_to_exit(&binary);
    assert_one_clear_error(
        "unresolvable_host",
        code,
        &stderr,
        "out",
        "no-such-host.invalid",
    );
    assert_help_follows(
        &stderr,
        "`no-such-host.invalid` did not resolve here: correct the `host` of `out`",
    );
}

/// A path the test's user may not append to (permission denied): a
/// read-only file, or, for root (whom file modes do not stop), a kernel
/// file nobody may write.
fn unwritable_path(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("read-only.log");
    fs::write(&file, b"").expect("create file");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o400)).expect("chmod");
    let candidates = [
        file.display().to_string(),
        "/sys/kernel/notes".to_string(),
        "/proc/1/environ".to_string(),
    ];
    let denied = |path: &&String| {
        fs::OpenOptions::new()
            .append(true)
            .open(path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    };
    candidates
        .iter()
        .find(denied)
        .cloned()
        .unwrap_or_else(|| panic!("no path here denies appending: {candidates:?}"))
}

/// Case 7c: file.out on a path the proxy may not write.
#[test]
fn start_error_file_permission_denied_is_one_clear_line() {
    let dir = temp_dir("file-denied");
    let path = unwritable_path(&dir);
    let routing = format!(
        "input = tcp.in(port: {})\ndead = file.out(path: \"{path}\")\ninput -> dead\n",
        free_port()
    );
    let binary = build(&dir, &routing);
    let (code, stderr) = run_to_exit(&binary);
    assert_one_clear_error("file_permission_denied", code, &stderr, "dead", &path);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_help_follows(&stderr, &format!("the proxy's user may not write `{path}`"));
}

/// Case 7d: two inputs whose ports are both taken. One start reports both,
/// each with its help, in the file's order, so a fix-and-retry loop is not
/// needed to find the second.
#[test]
fn start_errors_of_two_modules_are_both_reported() {
    let dir = temp_dir("two-taken");
    let taken = [
        TcpListener::bind("127.0.0.1:0").expect("take a port"),
        TcpListener::bind("127.0.0.1:0").expect("take a port"),
    ];
    let [p1, p2] = taken
        .each_ref()
        .map(|l| l.local_addr().expect("addr").port());
    let routing = format!(
        "a = tcp.in(port: {p1})\nb = tcp.in(port: {p2})\nout = null\nfunnel(a, b) -> out\n"
    );
    let binary = build(&dir, &routing);
    let (code, stderr) = run_to_exit(&binary);
    drop(taken);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    println!(
        "figures start_errors_two_modules: exit={code:?} errors={}",
        errors.len()
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        errors,
        [
            format!("error: module `a` (tcp.in) cannot listen on 127.0.0.1:{p1}: address already in use"),
            format!("error: module `b` (tcp.in) cannot listen on 127.0.0.1:{p2}: address already in use"),
        ],
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("= help: another process holds port").count(),
        2,
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The last value of `counter` in the final counters the proxy logs for
/// the queue whose line contains `queue`.
fn final_counter(log: &str, queue: &str, counter: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains(queue))?;
    let words: Vec<&str> = line[line.find(queue)?..].split_whitespace().collect();
    let at = words.iter().position(|w| *w == counter)?;
    words.get(at + 1)?.parse().ok()
}

/// Case 8: SIGTERM while 1,000,000 events stream through the failover
/// proxy. It stops reading, drains, exits 0; the backends hold exactly the
/// events `input` read (its outbox's final `in` counter): the first ones
/// the producer sent, each once.
#[test]
fn sigterm_under_load_exits_0_and_delivers_everything_read() {
    const N: u64 = 1_000_000;
    const WIDTH: usize = 16;
    let (_turn, fo) = failover();
    let dir = temp_dir("sigterm");
    let backends = two_backends(&dir, fo, [Pace::default(); 2]);
    let proxy = Proxy::start(&fo.binary, fo.input);
    wait_connected(&dir, || proxy.log());
    let producer = Producer::spawn(fo.input, 0, N, WIDTH);
    let loaded = wait_until(Duration::from_secs(60), || lines_at(&dir, WIDTH) >= 200_000);
    assert!(loaded, "the stream never reached 200,000\n{}", proxy.log());
    let peak = proxy.peak_rss_kib();
    let (status, log) = proxy.terminate();
    // The producer sees its connection closed; bounded either way.
    let _ = producer.join(Duration::from_secs(30));
    let read = final_counter(&log, "queue input.outbox", "in");
    wait_settled(
        read.unwrap_or(N),
        Duration::from_secs(2),
        Duration::from_secs(30),
        || lines_at(&dir, WIDTH),
    );
    drop(backends);
    let (got_a, got_b) = (backend::received(&dir, "a"), backend::received(&dir, "b"));
    let read = read.unwrap_or_else(|| panic!("no final counters in the log:\n{log}"));
    let t = tally(&[read], &[&got_a, &got_b]);
    figures(
        "sigterm_under_load",
        &t,
        peak,
        &format!("offered={N} read_by_proxy={read} exit={:?}", status.code()),
    );
    assert!(status.success(), "exit {status}\n{log}");
    assert!(read < N, "SIGTERM came after the whole stream was read");
    assert_eq!(
        (t.delivered, t.duplicated, t.lost, t.foreign, t.out_of_order),
        (read, 0, 0, 0, 0),
        "{log}"
    );
    assert!(peak < RSS_BOUND_KIB, "peak RSS {peak} KiB");
}
