//! Running a hand-wired proxy as its own process, so its memory can be
//! measured and it can be sent signals like a built proxy.
//!
//! This test binary has no libtest harness (`harness = false`): when the
//! environment variable [`GRAPH_VAR`] is set, `main` wires that graph and runs
//! `wbc_runtime::launch` exactly as a generated proxy does; otherwise it runs
//! the tests, which start copies of this same executable with the variable
//! set. Ports and module arguments travel in further `WBC_TEST_*` variables.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const GRAPH_VAR: &str = "WBC_TEST_GRAPH";

/// A proxy child process; killed when dropped.
pub struct ProxyProcess {
    child: Child,
    /// Everything it wrote to stderr (its log), line by line.
    pub log: Arc<Mutex<Vec<String>>>,
    log_thread: Option<thread::JoinHandle<()>>,
}

impl ProxyProcess {
    /// Starts graph `graph` with `vars` (name, value) and proxy flags `args`.
    pub fn start(graph: &str, vars: &[(&str, String)], args: &[&str]) -> ProxyProcess {
        Self::start_with_nofile(graph, vars, args, None)
    }

    /// [`ProxyProcess::start`] with the open-file limit set to `(soft,
    /// hard)` in the child before it runs, as a shell's `ulimit` would.
    pub fn start_with_nofile(
        graph: &str,
        vars: &[(&str, String)],
        args: &[&str],
        nofile: Option<(u64, u64)>,
    ) -> ProxyProcess {
        let exe = std::env::current_exe().expect("own executable");
        let mut cmd = Command::new(exe);
        if let Some((soft, hard)) = nofile {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            // SAFETY: setrlimit is async-signal-safe and reads `limit`, a
            // copy owned by the closure.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        cmd.env(GRAPH_VAR, graph)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start proxy process");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        let log_thread = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("WBC_TEST_SHOW_LOG").is_some() {
                    eprintln!("  proxy| {line}");
                }
                sink.lock().expect("log").push(line);
            }
        });
        ProxyProcess {
            child,
            log,
            log_thread: Some(log_thread),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak and current resident set size in KiB (VmHWM, VmRSS).
    pub fn rss_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{name} {}", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Some(t) = self.log_thread.take() {
                    let _ = t.join();
                }
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `WBC_TEST_*` variable in the proxy process.
pub fn var(name: &str) -> Option<String> {
    std::env::var(format!("WBC_TEST_{name}")).ok()
}

/// A port variable; the graph cannot run without it.
pub fn port_var(name: &str) -> u16 {
    var(name).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        eprintln!("test graph needs WBC_TEST_{name}=<port>");
        std::process::exit(2)
    })
}
