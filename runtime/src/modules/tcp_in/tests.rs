//! `tcp.in` with real clients on 127.0.0.1: what its clients share.
//!
//! `read_budget` and `read_size` test the arithmetic on their own; these
//! tests show that a running module hands every client a share of one
//! budget, and that clients that end give their share back.

use std::io::Write;
use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::read_size::MAX_READ_SIZE;
use super::*;
use crate::proxy::{Proxy, ProxyOptions};

/// More than the 16 clients that may all read 256 KiB, so a running
/// module's budget has to shrink their reads.
const CLIENTS: usize = 40;
const LINE: &[u8] = b"budget.test.line 1 1700000000 padding-to-sixty-four-bytes-----\n";
/// Upper bound of every wait below.
const LIMIT: Duration = Duration::from_secs(20);

/// A client that writes whole lines as fast as the proxy takes them until
/// `stop` is set (or [`LIMIT`] has passed); yields how many it wrote.
fn busy_client(address: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut stream = StdStream::connect(address).expect("connects to tcp.in");
        let chunk = LINE.repeat(1024);
        let started = Instant::now();
        let mut lines = 0;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < LIMIT {
            stream.write_all(&chunk).expect("tcp.in reads");
            lines += 1024;
        }
        lines
    })
}

/// Polls `cond` every millisecond for at most [`LIMIT`].
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_clients_of_one_module_share_its_read_budget() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, mut rx) = proxy.queue("input", "outbox", "sink", "inbox");
    let config = TcpInConfig {
        name: "input",
        port: 0,
        host: "127.0.0.1",
        max_line: 1024,
    };
    let input = TcpIn::new(config, tx).expect("tcp.in listens on 127.0.0.1:0");
    let address = input.local_addr();
    let budget = input.budget.clone();
    proxy.spawn(input);
    let received = Arc::new(AtomicU64::new(0));
    let sink = tokio::spawn({
        let received = received.clone();
        async move {
            let mut batch = Batch::new();
            while rx.recv(&mut batch).await {
                let n = batch.len() as u64;
                received.fetch_add(n, Ordering::Relaxed);
                batch.clear();
                rx.delivered(n);
            }
        }
    });
    let (stop_proxy, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(proxy.run_until(async move {
        let _ = stopped.await;
    }));

    let checks = tokio::task::spawn_blocking(move || {
        let stop_clients = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| busy_client(address, stop_clients.clone()))
            .collect();
        // More than 16 clients counted: each may read less than one alone.
        let shared = eventually(|| budget.largest() < MAX_READ_SIZE);
        stop_clients.store(true, Ordering::Relaxed);
        let sent: u64 = clients
            .into_iter()
            .map(|c| c.join().expect("a client thread ends"))
            .sum();
        let all_read = eventually(|| received.load(Ordering::Relaxed) == sent);
        let returned = eventually(|| budget.large_readers() == 0);
        (shared, sent, all_read, returned, received)
    });
    let (shared, sent, all_read, returned, received) = checks.await.expect("the checks end");
    assert!(
        shared,
        "{CLIENTS} busy clients never shrank the reads of the module's budget"
    );
    assert!(
        all_read,
        "{} of {sent} lines written reached the sink",
        received.load(Ordering::Relaxed)
    );
    assert!(
        returned,
        "clients that ended kept their share of the budget"
    );

    let _ = stop_proxy.send(());
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .expect("the proxy drains in time")
        .expect("the proxy task ends");
    assert!(report.success());
    sink.await.expect("the sink ends");
}

/// An idle client holds no read buffer. tokio reports a freshly accepted
/// socket readable once, data or not; the read that finds nothing gives
/// back the buffer it took (10,000 idle clients held 4 KiB each before).
/// A client that has sent something keeps its small buffer for the next
/// lines, so a trickle of lines shares one buffer.
#[tokio::test]
async fn a_client_that_sends_nothing_holds_no_read_buffer() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, _rx) = proxy.queue("input", "outbox", "sink", "inbox");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let mut peer_end = StdStream::connect(listener.local_addr().expect("bound")).expect("connects");
    let (stream, peer) = listener.accept().await.expect("accepts");
    let client = Client {
        module: "input",
        peer,
        max_line: 1024,
        ctx: tx.context().clone(),
        outbox: tx,
        budget: Arc::default(),
    };
    let mut read_size = ReadSize::new(Share::new(client.budget.clone()));
    let mut buf = BytesMut::new();
    let read = tokio::time::timeout(
        Duration::from_millis(200),
        client.read(&stream, &mut buf, &mut read_size),
    )
    .await;
    assert!(matches!(read, Ok(Read::Idle) | Err(_)), "nothing was sent");
    assert_eq!(buf.capacity(), 0, "an idle client holds no buffer");

    peer_end.write_all(b"a\n").expect("writes");
    let read = tokio::time::timeout(LIMIT, client.read(&stream, &mut buf, &mut read_size)).await;
    assert!(matches!(read, Ok(Read::Data)), "the line is read");
    let _line = buf.split();
    let read = tokio::time::timeout(LIMIT, client.read(&stream, &mut buf, &mut read_size)).await;
    assert!(matches!(read, Ok(Read::Idle)), "nothing more was sent");
    assert!(
        buf.capacity() > 0,
        "a client that sent lines keeps its buffer"
    );
}
