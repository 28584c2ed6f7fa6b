//! A private carbon-cache per test, started and stopped with the scripts in
//! `.ci/carbon/` so that a person can run the very same carbon by hand.
//!
//! Each instance gets its own directory under cargo's per-target temporary
//! directory and its own free plaintext port on 127.0.0.1, so tests run in
//! parallel. Whisper files land at
//! `DIR/storage/whisper/<metric with dots as slashes>.wsp`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::e2e::{free_port, workspace};
use super::whisper::{self, Point};

pub struct Carbon {
    dir: PathBuf,
    pub port: u16,
}

fn installed() -> bool {
    Command::new("sh")
        .args(["-c", "command -v carbon-cache"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Carbon {
    /// Starts carbon for the test `name`. Returns `None` (after printing why)
    /// only when carbon is not installed and `CI` is unset; under CI a
    /// missing carbon is a failure, because `.ci/run` installs it.
    pub fn start(name: &str) -> Option<Carbon> {
        if !installed() {
            if std::env::var_os("CI").is_some() {
                panic!("carbon-cache is not installed but CI is set: .ci/run must install graphite-carbon");
            }
            eprintln!(
                "\n\n!!!! SKIPPING `{name}`: carbon-cache is not installed.\n\
                 !!!! Install it with `.ci/carbon/install.sh` (Debian: graphite-carbon python3-whisper).\n\
                 !!!! Under CI=true this test fails instead of skipping.\n"
            );
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("carbon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let script = workspace().join(".ci/carbon/start.sh");
        let mut last_error = String::new();
        // The port is probed free, then handed to carbon: another process can
        // take it in between, so try a few ports.
        for _ in 0..3 {
            let port = free_port();
            let out = Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .arg(port.to_string())
                .output()
                .expect("run .ci/carbon/start.sh");
            if out.status.success() {
                return Some(Carbon { dir, port });
            }
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        panic!("carbon-cache did not start:\n{last_error}");
    }

    /// Where carbon stores `metric`.
    pub fn whisper_path(&self, metric: &str) -> PathBuf {
        let mut p = self.dir.join("storage/whisper");
        for part in metric.split('.') {
            p.push(part);
        }
        p.set_extension("wsp");
        p
    }

    /// The stored points of `metric`, empty while carbon has not created it.
    pub fn points(&self, metric: &str) -> Vec<Point> {
        let path = self.whisper_path(metric);
        if !path.exists() {
            return Vec::new();
        }
        whisper::read_points(&path).unwrap_or_default()
    }

    /// Polls the whisper file of `metric` until its latest point equals
    /// `want` or `timeout` passes; returns every point seen either way so the
    /// caller asserts on (and prints) the real series.
    pub fn wait_for_latest(&self, metric: &str, want: f64, timeout: Duration) -> Vec<Point> {
        let deadline = Instant::now() + timeout;
        loop {
            let points = self.points(metric);
            if points.last().map(|p| p.value) == Some(want) || Instant::now() >= deadline {
                return points;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every metric carbon has stored, as dotted names (for failure messages).
    pub fn metrics(&self) -> Vec<String> {
        let root = self.dir.join("storage/whisper");
        let mut found = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.with_extension("").strip_prefix(&root) {
                    found.push(rel.to_string_lossy().replace('/', "."));
                }
            }
        }
        found.sort();
        found
    }

    /// The tail of carbon's own log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("carbon.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Carbon {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(workspace().join(".ci/carbon/stop.sh"))
            .arg(&self.dir)
            .status();
        // A failed test keeps carbon's files and log to look at.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
