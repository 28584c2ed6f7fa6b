//! The TCP ends the metrics tests need beyond `tests/e2e`: a backend that
//! stalls and then leaves mid-stream, a sender that runs in the background
//! while the proxy pushes back, and a wait for a value to settle. Every wait
//! is bounded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

    pub fn lines(&self) -> usize {
        self.lines.load(Ordering::SeqCst) as usize
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
pub fn wait_stable(quiet: Duration, timeout: Duration, value: impl Fn() -> usize) -> usize {
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
