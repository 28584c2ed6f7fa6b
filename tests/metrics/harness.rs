//! Building a routing file with `wbc build`, running the proxy binary, and
//! the TCP ends around it (line-counting sinks, a sender), for the metrics
//! end-to-end tests. Everything is on 127.0.0.1, on ports probed free, and
//! every wait is bounded by a deadline.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A directory of this test's own under cargo's per-target temporary dir.
pub fn work_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("metrics-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// The generated crates and their shared cargo target directory: the same
/// `target/wbc-test-cache` as the other end-to-end tests, so tokio, hyper and
/// the runtime compile once per checkout.
fn cache_dir() -> PathBuf {
    // target/<profile>/wbc -> target/
    Path::new(env!("CARGO_BIN_EXE_wbc"))
        .parent()
        .and_then(Path::parent)
        .expect("wbc lives in target/<profile>/")
        .join("wbc-test-cache")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `wbc build FILE -o OUT`, bounded; panics with the build log on failure.
pub fn wbc_build(wb: &Path, out: &Path) {
    let log_path = out.with_extension("build.log");
    let log = File::create(&log_path).expect("create build log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wbc"))
        .arg("build")
        .arg(wb)
        .arg("-o")
        .arg(out)
        .env("WBC_CACHE_DIR", cache_dir())
        // The lock file copied into the generated crate makes the network
        // unnecessary; a build that needs it is a bug.
        .env("CARGO_NET_OFFLINE", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone log"))
        .stderr(log)
        .spawn()
        .expect("run wbc build");
    // The first build of a checkout compiles tokio, hyper and the runtime in
    // release mode on a 2-core machine.
    let status = wait_child(&mut child, Duration::from_secs(20 * 60));
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("`wbc build {}` failed ({s}):\n{log}", wb.display()),
        None => {
            let _ = child.kill();
            panic!(
                "`wbc build {}` did not finish in 20 minutes:\n{log}",
                wb.display()
            )
        }
    }
}

fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running proxy binary; killed when dropped.
pub struct Proxy {
    child: Child,
    log: PathBuf,
}

impl Proxy {
    /// Starts `bin` with `args`, logging to `BIN.log`, and waits until
    /// `ready_port` (its tcp.in) accepts connections.
    pub fn start(bin: &Path, args: &[&str], ready_port: u16) -> Proxy {
        let log = bin.with_extension("log");
        let file = File::create(&log).expect("create proxy log");
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone log"))
            .stderr(file)
            .spawn()
            .expect("start proxy");
        let mut proxy = Proxy { child, log };
        let up = wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", ready_port)).is_ok() || proxy.exited()
        });
        assert!(
            up && !proxy.exited(),
            "proxy did not start listening on {ready_port}:\n{}",
            proxy.log()
        );
        proxy
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn is_running(&mut self) -> bool {
        !self.exited()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        wait_child(&mut self.child, timeout)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A TCP server that counts the newline-terminated lines it receives, over
/// every connection, until dropped.
pub struct Sink {
    pub port: u16,
    lines: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
        listener.set_nonblocking(true).expect("nonblocking sink");
        let port = listener.local_addr().expect("sink addr").port();
        let lines = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, l, s));
        Sink {
            port,
            lines,
            stop,
            thread: Some(thread),
        }
    }

    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::SeqCst)
    }
}

fn accept_loop(listener: TcpListener, lines: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut readers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (l, s) = (lines.clone(), stop.clone());
                readers.push(std::thread::spawn(move || count_lines(stream, l, s)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for r in readers {
        let _ = r.join();
    }
}

fn count_lines(mut stream: TcpStream, lines: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                let count = buf[..n].iter().filter(|&&b| b == b'\n').count();
                lines.fetch_add(count as u64, Ordering::SeqCst);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `count` lines of `hello` to 127.0.0.1:port and closes.
pub fn send_lines(port: u16, count: usize) {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy's tcp.in");
    stream
        .set_write_timeout(Some(Duration::from_secs(30)))
        .expect("write timeout");
    let data = "hello\n".repeat(count);
    stream.write_all(data.as_bytes()).expect("send lines");
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A port nobody listens on (probed free, then released).
pub fn dead_port() -> u16 {
    super::carbon::free_port()
}

/// A backend that goes away mid-stream: it accepts one connection and stops
/// listening, reads nothing until [`StallSink::leave`], then half-closes (the
/// polite way a backend shuts down) and reads everything still in flight
/// until the proxy closes the connection, counting the lines.
pub struct StallSink {
    pub port: u16,
    lines: Arc<AtomicU64>,
    leave: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StallSink {
    pub fn start() -> StallSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stall sink");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let lines = Arc::new(AtomicU64::new(0));
        let leave = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, go, st) = (lines.clone(), leave.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if !st.load(Ordering::SeqCst) => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            };
            // Down for good: reconnects are refused from now on.
            drop(listener);
            while !go.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = stream.shutdown(std::net::Shutdown::Write);
            count_lines(stream, l, st);
        });
        StallSink {
            port,
            lines,
            leave,
            stop,
            thread: Some(thread),
        }
    }

    pub fn leave(&self) {
        self.leave.store(true, Ordering::SeqCst);
    }

    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::SeqCst)
    }
}

impl Drop for StallSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.leave.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `count` lines of `width` bytes (newline included) from a thread,
/// so the test can go on while the proxy pushes back.
pub fn send_lines_in_background(port: u16, count: usize, width: usize) -> JoinHandle<()> {
    let mut line = "x".repeat(width - 1);
    line.push('\n');
    let data = line.repeat(count);
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy's tcp.in");
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .expect("write timeout");
    std::thread::spawn(move || {
        stream.write_all(data.as_bytes()).expect("send lines");
        let _ = stream.shutdown(std::net::Shutdown::Write);
    })
}

/// Waits until `value` has not changed for `quiet`, or `timeout` passes;
/// returns the last value.
pub fn wait_stable(quiet: Duration, timeout: Duration, value: impl Fn() -> u64) -> u64 {
    let deadline = Instant::now() + timeout;
    let mut last = value();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = value();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}
