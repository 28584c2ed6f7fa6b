//! A TCP sink like `nc -kl PORT > file`: accepts any number of connections
//! (tcp.out reconnects) and keeps each connection's bytes separately, in
//! accept order.

use std::io::{ErrorKind, Read};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// One buffer per accepted connection, in accept order.
type Connections = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

pub struct Sink {
    pub port: u16,
    stop: Arc<AtomicBool>,
    conns: Connections,
    acceptor: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

/// Longest any sink thread lives: a bound for tests that forget to stop it.
const LIFETIME: Duration = Duration::from_secs(600);

impl Sink {
    pub fn listen(port: u16) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("sink bind");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Connections = Arc::default();
        let (stop2, conns2) = (stop.clone(), conns.clone());
        let acceptor = thread::spawn(move || {
            let started = Instant::now();
            let mut readers = Vec::new();
            while !stop2.load(Ordering::Relaxed) && started.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
                        conns2.lock().unwrap().push(buffer.clone());
                        let stop = stop2.clone();
                        readers.push(thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
                            let mut chunk = vec![0u8; 64 * 1024];
                            let mut idle_after_stop = 0;
                            while started.elapsed() < LIFETIME {
                                match stream.read(&mut chunk) {
                                    Ok(0) => break,
                                    Ok(n) => buffer.lock().unwrap().extend_from_slice(&chunk[..n]),
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            ErrorKind::WouldBlock | ErrorKind::TimedOut
                                        ) =>
                                    {
                                        // After stop, a quiet connection is done.
                                        if stop.load(Ordering::Relaxed) {
                                            idle_after_stop += 1;
                                            if idle_after_stop >= 4 {
                                                break;
                                            }
                                        }
                                    }
                                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                                    Err(_) => break,
                                }
                            }
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
            readers
        });
        Sink {
            port,
            stop,
            conns,
            acceptor: Some(acceptor),
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Newlines received so far, over every connection.
    pub fn lines(&self) -> usize {
        let conns = self.conns.lock().unwrap();
        conns
            .iter()
            .map(|c| c.lock().unwrap().iter().filter(|b| **b == b'\n').count())
            .sum()
    }

    /// Stops accepting, reads what is still in flight, and returns every
    /// connection's bytes concatenated in accept order.
    pub fn finish(mut self) -> Vec<u8> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            for reader in acceptor.join().expect("acceptor thread") {
                reader.join().expect("reader thread");
            }
        }
        let conns = self.conns.lock().unwrap();
        conns
            .iter()
            .flat_map(|c| c.lock().unwrap().clone())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
