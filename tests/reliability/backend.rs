//! Backends that can really die: each one is a separate process (this test
//! binary started again with [`VAR`] set, running [`backend_child`]), so
//! SIGKILL takes its socket buffers with it exactly as it would for carbon
//! or a log server.
//!
//! A backend listens on a given port and appends what each connection sends
//! to its own file, `{name}-{generation}-{connection}.data`, with one write
//! per read: whatever the process read is in the page cache and survives a
//! SIGKILL, so the files say exactly what the backend received. It also
//! logs `listen`, `accept` and `eof` with Unix milliseconds to
//! `{name}.events`, which is how the tests time reconnections.
//!
//! A backend can be slowed to a byte rate for a while, stopped politely (a
//! `{name}-{generation}.stop` file appears: it stops listening, half-closes
//! its connections and reads them to the end, as a server going down for a
//! restart does) or killed with SIGKILL.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::e2e::{wait_exit, wait_until};

/// Set in a backend process: `port,dir,name,generation,rate,slow_ms`.
pub const VAR: &str = "WBC_RELIABILITY_BACKEND";

/// A backend never outlives this, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(300);

/// How long a politely stopping backend reads before giving up.
const DRAIN: Duration = Duration::from_secs(15);

/// How fast a backend reads.
#[derive(Clone, Copy, Default)]
pub struct Pace {
    /// Bytes per second while `slow_for` lasts; 0 = as fast as it can.
    pub rate: u64,
    pub slow_for: Duration,
}

/// A backend process, killed when dropped.
pub struct Backend {
    pub port: u16,
    dir: PathBuf,
    name: String,
    generation: u32,
    child: Child,
}

impl Backend {
    /// Starts generation `generation` of backend `name` on `port` and waits
    /// (bounded) until it listens.
    pub fn start(dir: &Path, name: &str, generation: u32, port: u16, pace: Pace) -> Backend {
        let spec = format!(
            "{port},{},{name},{generation},{},{}",
            dir.display(),
            pace.rate,
            pace.slow_for.as_millis()
        );
        let child = Command::new(std::env::current_exe().expect("own executable"))
            .args([
                "backend::backend_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(VAR, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start backend process");
        let backend = Backend {
            port,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            generation,
            child,
        };
        let up = wait_until(Duration::from_secs(15), || listening(dir, name, generation));
        assert!(up, "backend {name} did not listen on {port}");
        backend
    }

    /// SIGKILL (the kernel resets its connections), and waits for the exit.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = wait_exit(&mut self.child, Duration::from_secs(10));
    }

    /// Polite stop: no more connections, half-close, read to the end, exit.
    pub fn stop(mut self) {
        let stop = self
            .dir
            .join(format!("{}-{}.stop", self.name, self.generation));
        File::create(stop).expect("create stop file");
        let exited = wait_exit(&mut self.child, DRAIN + Duration::from_secs(5));
        assert!(exited.is_some(), "backend {} did not stop", self.name);
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn events_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.events"))
}

/// `(what, unix_ms)` of every event backend `name` logged, in order.
pub fn events(dir: &Path, name: &str) -> Vec<(String, u64)> {
    fs::read_to_string(events_file(dir, name))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (what, ms) = l.split_once(' ')?;
            Some((what.to_string(), ms.parse().ok()?))
        })
        .collect()
}

fn listening(dir: &Path, name: &str, generation: u32) -> bool {
    events(dir, name)
        .iter()
        .any(|e| e.0 == format!("listen-{generation}"))
}

/// Connections backend `name` accepted so far, over all its generations.
pub fn accepted(dir: &Path, name: &str) -> usize {
    events(dir, name).iter().filter(|e| e.0 == "accept").count()
}

/// Bytes backend `name` received so far (cheap: file sizes only).
pub fn received_bytes(dir: &Path, name: &str) -> u64 {
    data_files(dir, name)
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Every connection's data file of backend `name`, in generation and
/// connection order.
pub fn data_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}-");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    file.starts_with(&prefix) && file.ends_with(".data")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Everything backend `name` received, connections concatenated in order.
pub fn received(dir: &Path, name: &str) -> Vec<u8> {
    data_files(dir, name)
        .iter()
        .flat_map(|p| fs::read(p).unwrap_or_default())
        .collect()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn log_event(dir: &Path, name: &str, what: &str) {
    if let Ok(mut f) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(events_file(dir, name))
    {
        let _ = writeln!(f, "{what} {}", unix_ms());
    }
}

/// The backend process itself. Run as a plain test (without [`VAR`]) it
/// checks the fixture: a backend receives what is sent, stops politely with
/// nothing lost, and a killed one is really gone.
#[test]
fn backend_child() {
    if let Ok(spec) = std::env::var(VAR) {
        run_backend(&spec);
        std::process::exit(0);
    }
    let dir = crate::e2e::temp_dir("backend-fixture");
    let port = crate::e2e::free_port();
    let backend = Backend::start(&dir, "b", 0, port, Pace::default());
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client.write_all(b"one\ntwo\n").expect("write");
    assert!(wait_until(Duration::from_secs(10), || received_bytes(
        &dir, "b"
    ) == 8));
    backend.stop();
    // The backend half-closed: the client sees EOF.
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    assert_eq!(client.read(&mut [0u8; 16]).ok(), Some(0));
    drop(client);
    assert_eq!(received(&dir, "b"), b"one\ntwo\n");
    let again = Backend::start(&dir, "b", 1, port, Pace::default());
    again.kill();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "killed");
}

fn run_backend(spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let [port, dir, name, generation, rate, slow_ms] = parts[..] else {
        eprintln!("bad {VAR}: {spec}");
        std::process::exit(2);
    };
    let number = |s: &str| s.parse::<u64>().unwrap_or(0);
    let dir = PathBuf::from(dir);
    let pace = Pace {
        rate: number(rate),
        slow_for: Duration::from_millis(number(slow_ms)),
    };
    let listener = TcpListener::bind(("127.0.0.1", number(port) as u16)).unwrap_or_else(|e| {
        eprintln!("backend bind: {e}");
        std::process::exit(2)
    });
    listener.set_nonblocking(true).expect("nonblocking");
    log_event(&dir, name, "listen");
    log_event(&dir, name, &format!("listen-{generation}"));
    let started = Instant::now();
    let stopping = Arc::new(AtomicBool::new(false));
    let stop_file = dir.join(format!("{name}-{generation}.stop"));
    let mut readers = Vec::new();
    while started.elapsed() < LIFETIME && !stop_file.exists() {
        match listener.accept() {
            Ok((conn, _)) => {
                log_event(&dir, name, "accept");
                let file = dir.join(format!("{name}-{generation:02}-{:04}.data", readers.len()));
                let out = File::create(file).expect("create data file");
                let (stopping, dir, name) = (stopping.clone(), dir.clone(), name.to_string());
                readers.push(thread::spawn(move || {
                    read_connection(conn, out, pace, started, &stopping);
                    log_event(&dir, &name, "eof");
                }));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
    drop(listener);
    stopping.store(true, Ordering::Relaxed);
    for reader in readers {
        let _ = reader.join();
    }
}

/// Appends what `conn` sends to `out` until EOF; once `stopping`, shuts its
/// write side and keeps reading (at most [`DRAIN`]).
fn read_connection(
    mut conn: TcpStream,
    mut out: File,
    pace: Pace,
    started: Instant,
    stopping: &AtomicBool,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    let mut chunk = vec![0u8; 64 * 1024];
    let mut slow_bytes = 0u64;
    let mut drain_until: Option<Instant> = None;
    while started.elapsed() < LIFETIME {
        if drain_until.is_none() && stopping.load(Ordering::Relaxed) {
            let _ = conn.shutdown(Shutdown::Write);
            drain_until = Some(Instant::now() + DRAIN);
        }
        if drain_until.is_some_and(|t| Instant::now() > t) {
            break;
        }
        let slow = pace.rate > 0 && started.elapsed() < pace.slow_for;
        let want = if slow {
            // Never ahead of `rate` since the backend started.
            let allowed = (pace.rate as f64 * started.elapsed().as_secs_f64()) as u64;
            if slow_bytes >= allowed {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            chunk.len().min((allowed - slow_bytes) as usize).max(1)
        } else {
            chunk.len()
        };
        match conn.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => {
                if slow {
                    slow_bytes += n as u64;
                }
                if out.write_all(&chunk[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}
