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

/// A quiet client holds no read buffer. tokio reports a freshly accepted
/// socket readable once, data or not; the buffer reserved for that read
/// goes back (10,000 idle clients held 4 KiB each before). A client that
/// sends a line now and then gets it in a buffer of the line's size (its
/// event pinned a 4 KiB read buffer before), and holds nothing once quiet
/// (it kept 4 KiB before: 5.47 KiB per such client in the `idle` extra).
#[tokio::test]
async fn a_quiet_client_holds_no_read_buffer() {
    let mut a = accepted().await;
    let read = tokio::time::timeout(Duration::from_millis(200), a.read()).await;
    assert!(matches!(read, Ok(Read::Idle) | Err(_)), "nothing was sent");
    a.idle();
    assert_eq!(a.buf.capacity(), 0, "an idle client holds no buffer");

    a.peer_end.write_all(b"a\n").expect("writes");
    let read = tokio::time::timeout(LIMIT, a.read()).await;
    assert!(
        matches!(read, Ok(Read::Drained)),
        "the line is read, and the socket is empty"
    );
    assert_eq!(
        (a.buf.len(), a.buf.capacity()),
        (2, 2),
        "a small read is kept in a buffer of its size"
    );
    let _line = a.buf.split();
    a.idle();
    assert_eq!(a.buf.capacity(), 0, "a quiet client holds no buffer");
}

/// A read that empties the socket is not followed by a read that finds
/// nothing: the client waits for more data (one `recvfrom` per line saved).
#[tokio::test]
async fn a_drained_socket_is_read_again_only_when_more_arrives() {
    let mut a = accepted().await;
    a.peer_end.write_all(b"first\n").expect("writes");
    // The first readiness may come before the line: bounded retries.
    let mut read = Read::Idle;
    for _ in 0..100 {
        read = tokio::time::timeout(LIMIT, a.read())
            .await
            .expect("a read ends once data is there");
        if !matches!(read, Read::Idle) {
            break;
        }
    }
    assert!(matches!(read, Read::Drained), "the line empties the socket");
    let again = tokio::time::timeout(Duration::from_millis(200), a.read()).await;
    assert!(again.is_err(), "no read until more data arrives");
    a.peer_end.write_all(b"second\n").expect("writes");
    let more = tokio::time::timeout(LIMIT, a.read()).await;
    assert!(matches!(more, Ok(Read::Drained)), "the next line is read");
    assert_eq!(&a.buf[..], b"first\nsecond\n");
}

/// A client that sends its last line and closes at once: the read that
/// empties the socket clears its readiness, but not the end of stream,
/// which tokio keeps, so the next read sees the end instead of waiting.
#[tokio::test]
async fn a_client_that_closes_after_its_last_line_is_seen_to_end() {
    let mut a = accepted().await;
    a.peer_end.write_all(b"last\n").expect("writes");
    a.peer_end
        .shutdown(std::net::Shutdown::Write)
        .expect("half-closes");
    // Let the line and the end of stream both arrive before the first read.
    std::thread::sleep(Duration::from_millis(50));
    let mut reads = Vec::new();
    for _ in 0..100 {
        let read = tokio::time::timeout(LIMIT, a.read())
            .await
            .expect("no read waits for data that will not come");
        let ended = matches!(read, Read::Ended);
        reads.push(read);
        if ended {
            break;
        }
    }
    assert!(
        matches!(reads.last(), Some(Read::Ended)),
        "the end of stream is seen"
    );
    assert_eq!(&a.buf[..], b"last\n");
}

/// The room left at the end of a large read buffer is released when the
/// client falls quiet: kept, it would keep the whole buffer alive after
/// every event cut from it is written.
#[tokio::test]
async fn a_quiet_client_lets_go_of_the_end_of_a_large_buffer() {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, _rx) = proxy.queue("input", "outbox", "sink", "inbox");
    let client = client_of(tx, "127.0.0.1:9".parse().expect("an address"));
    let mut read_size = ReadSize::new(Share::new(client.budget.clone()));
    let mut buf = BytesMut::with_capacity(MAX_READ_SIZE);
    buf.resize(MAX_READ_SIZE - 2048, b'x');
    let events = buf.split();
    assert_eq!(buf.capacity(), 2048, "the end of the read buffer");
    client.idle(&mut buf, &mut Batch::new(), &mut read_size);
    assert_eq!(buf.capacity(), 0, "released");
    drop(events);
}

/// A tcp.in client task's state for a real connection on 127.0.0.1, with
/// the connection's other end.
struct Accepted {
    client: Client,
    stream: TcpStream,
    buf: BytesMut,
    read_size: ReadSize,
    peer_end: StdStream,
    /// The client's outbox needs its queue's other end and proxy alive.
    _queue: (Proxy, crate::queue::Receiver),
}

impl Accepted {
    async fn read(&mut self) -> Read {
        let Accepted {
            client,
            stream,
            buf,
            read_size,
            ..
        } = self;
        client.read(stream, buf, read_size).await
    }

    fn idle(&mut self) {
        self.client
            .idle(&mut self.buf, &mut Batch::new(), &mut self.read_size);
    }
}

async fn accepted() -> Accepted {
    let mut proxy = Proxy::new(ProxyOptions::default());
    let (tx, rx) = proxy.queue("input", "outbox", "sink", "inbox");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let peer_end = StdStream::connect(listener.local_addr().expect("bound")).expect("connects");
    let (stream, peer) = listener.accept().await.expect("accepts");
    let client = client_of(tx, peer);
    Accepted {
        read_size: ReadSize::new(Share::new(client.budget.clone())),
        client,
        stream,
        buf: BytesMut::new(),
        peer_end,
        _queue: (proxy, rx),
    }
}

fn client_of(outbox: Sender, peer: SocketAddr) -> Client {
    Client {
        module: "input",
        peer,
        max_line: 1024,
        ctx: outbox.context().clone(),
        outbox,
        budget: Arc::default(),
    }
}
