//! Support for end-to-end tests: build a routing file with the real `wbc`
//! binary, run the proxy, drive it over 127.0.0.1, stop it with SIGTERM.
//!
//! Every wait is bounded by a deadline; every process is killed on drop.

#![allow(dead_code)] // each test target uses a different part

pub mod sink;

#[path = "../support/common.rs"]
mod common;
#[allow(unused_imports)] // each test target uses a different part
pub use common::{free_port, sha256_hex};

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The workspace root (tests live in `tests/`, the package in `compiler/`).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

/// `<target>/<name>`, next to the `wbc` binary under test.
fn target_path(name: &str) -> PathBuf {
    let wbc = Path::new(env!("CARGO_BIN_EXE_wbc"));
    // target/<profile>/wbc -> target/
    wbc.parent()
        .and_then(Path::parent)
        .expect("wbc lives in target/<profile>/")
        .join(name)
}

/// One cache for every test run, so tokio and the runtime compile once.
pub fn cache_dir() -> PathBuf {
    target_path("wbc-test-cache")
}

/// A fresh directory for one test, removed when the test passes and kept
/// (for its logs) when it fails.
pub fn temp_dir(test: &str) -> TempDir {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = target_path("wbc-test-tmp").join(format!("{test}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create test dir");
    TempDir(dir)
}

pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Polls `done` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// An example routing file with its ports replaced: each `(old, new)` must
/// occur exactly once as `port: old`.
pub fn example_with_ports(example: &str, ports: &[(u16, u16)]) -> String {
    let path = workspace().join("examples").join(example);
    let mut text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (old, new) in ports {
        let pattern = format!("port: {old})");
        assert_eq!(
            text.matches(&pattern).count(),
            1,
            "`{pattern}` once in {example}"
        );
        text = text.replace(&pattern, &format!("port: {new})"));
    }
    text
}

/// What a finished `wbc` run printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// How to run `wbc`: extra environment and standard input.
#[derive(Default)]
pub struct Options<'a> {
    pub env: &'a [(&'a str, &'a str)],
    pub stdin: Option<&'a [u8]>,
}

/// Runs `wbc` in `cwd` with the shared test cache (offline: the lock file
/// copied into every generated crate must make the network unnecessary).
/// Panics when it runs longer than `timeout`.
pub fn wbc(args: &[&std::ffi::OsStr], cwd: &Path, timeout: Duration, options: Options<'_>) -> Run {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (out_log, err_log) = (
        cwd.join(format!("wbc-{n}.stdout")),
        cwd.join(format!("wbc-{n}.stderr")),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_wbc"));
    command
        .args(args)
        .current_dir(cwd)
        .env("WBC_CACHE_DIR", cache_dir())
        .env("CARGO_NET_OFFLINE", "true")
        .stdin(if options.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(fs::File::create(&out_log).expect("create stdout log"))
        .stderr(fs::File::create(&err_log).expect("create stderr log"));
    for (key, value) in options.env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start wbc");
    if let (Some(input), Some(mut pipe)) = (options.stdin, child.stdin.take()) {
        pipe.write_all(input).expect("write wbc stdin");
    }
    let status = wait_exit(&mut child, timeout);
    let stderr = String::from_utf8_lossy(&fs::read(&err_log).unwrap_or_default()).into_owned();
    let stdout = fs::read(&out_log).unwrap_or_default();
    match status {
        Some(status) => Run {
            code: status.code(),
            stdout,
            stderr,
        },
        None => panic!("wbc {args:?} did not finish within {timeout:?}\n{stderr}"),
    }
}

/// Generous: the first build of a test run compiles tokio and the runtime.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);

/// Writes `route.wb` into `dir` and builds it to `dir/proxy`; panics with
/// wbc's output when the build fails. The first build compiles tokio, so
/// the bound is generous.
pub fn build(dir: &Path, routing: &str) -> PathBuf {
    let file = dir.join("route.wb");
    fs::write(&file, routing).expect("write route.wb");
    let output = dir.join("proxy");
    let args = [
        "build".as_ref(),
        file.as_os_str(),
        "-o".as_ref(),
        output.as_os_str(),
    ];
    let run = wbc(&args, dir, BUILD_TIMEOUT, Options::default());
    assert_eq!(run.code, Some(0), "wbc build failed:\n{}", run.stderr);
    output
}

/// Waits for `child` to exit, at most `timeout`; kills it when it does not.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// A running proxy; killed when dropped.
pub struct Proxy {
    child: Child,
    log: PathBuf,
}

impl Proxy {
    /// Starts `binary` and waits until `input_port` accepts connections.
    pub fn start(binary: &Path, input_port: u16) -> Proxy {
        Proxy::start_listening(binary, &[input_port])
    }

    /// Starts `binary` and waits until every one of `ports` accepts: the
    /// modules bind one after another at start-up, so a proxy whose input
    /// accepts may not serve its Prometheus endpoint yet.
    pub fn start_listening(binary: &Path, ports: &[u16]) -> Proxy {
        let log = binary.with_extension("stderr");
        let stderr = fs::File::create(&log).expect("create proxy log");
        let child = Command::new(binary)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start proxy");
        let mut proxy = Proxy { child, log };
        let listening = wait_until(Duration::from_secs(20), || {
            let accepts = |port: &u16| TcpStream::connect(("127.0.0.1", *port)).is_ok();
            ports.iter().all(accepts) || proxy.child.try_wait().ok().flatten().is_some()
        });
        let exited = proxy.child.try_wait().ok().flatten();
        assert!(
            listening && exited.is_none(),
            "proxy not listening on {ports:?}\n{}",
            proxy.log()
        );
        proxy
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far in KiB (`VmHWM` of /proc/PID/status);
    /// 0 once the process is gone.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then the exit status (bounded wait; killed on timeout).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let status = wait_exit(&mut self.child, Duration::from_secs(30));
        let log = self.log();
        (
            status.unwrap_or_else(|| panic!("proxy ignored SIGTERM for 30s\n{log}")),
            log,
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `data` to `port` on one connection and closes it.
pub fn send(port: u16, data: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to proxy input");
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .expect("write timeout");
    stream.write_all(data).expect("send to proxy");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
}

/// `count` lines of `hello`.
pub fn hello_lines(count: usize) -> Vec<u8> {
    "hello\n".repeat(count).into_bytes()
}

/// `count` distinct lines: `<tag>-00000` ...
pub fn distinct_lines(tag: &str, count: usize) -> Vec<u8> {
    (0..count)
        .map(|i| format!("{tag}-{i:05}\n"))
        .collect::<String>()
        .into_bytes()
}

/// The lines of `bytes`, sorted: a multiset to compare.
pub fn sorted_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}
