//! One tcp.out connection: connecting, and writing batches into it while
//! watching its read side.
//!
//! A backend that goes away politely shuts down its write side first (we read
//! EOF) and may keep reading what is in flight; one that dies resets the
//! connection. In both cases anything written after the close is lost or
//! refused, so the read side is checked before every write (a cheap check:
//! tokio only makes the `recv` syscall when the reactor saw the socket become
//! readable) and while waiting for the socket to become writable. Events are
//! then never written into a connection known to be closed.

use super::cursor::{WriteCursor, MAX_SLICES};
use crate::queue::Batch;
use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long a connect attempt may take before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait to complete an event that was partly written when the
/// peer closed: a half-closed peer still reads, so the fragment becomes a
/// whole line instead of garbage and the event is not sent twice.
const FINISH_EVENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a finishing proxy waits for the backend to close its side after
/// ours (it has then read everything written).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How the close of a finished connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// The backend closed its side too: it read everything written.
    Read,
    /// The connection failed first (a reset): what the backend had not
    /// acknowledged never reached it.
    Failed,
    /// The backend did not close within [`CLOSE_TIMEOUT`]: what it has not
    /// read yet is left to the kernel, which keeps sending it.
    TimedOut,
}

/// Half-closes, then waits (bounded) for the backend to close its side.
pub async fn close(stream: &mut TcpStream) -> Closed {
    if stream.shutdown().await.is_err() {
        return Closed::Failed;
    }
    let mut scratch = [0u8; 1024];
    let until_closed = async {
        loop {
            match stream.read(&mut scratch).await {
                Ok(0) => return Closed::Read,
                Ok(_) => {}
                Err(_) => return Closed::Failed,
            }
        }
    };
    tokio::time::timeout(CLOSE_TIMEOUT, until_closed)
        .await
        .unwrap_or(Closed::TimedOut)
}

/// Reads the peer may make us discard per check: sinks have nothing to say,
/// and a peer that floods us must not keep the writer spinning here.
const MAX_DISCARD_READS: usize = 16;

/// Why a connection is down.
#[derive(Debug)]
pub enum Down {
    /// The peer shut down its side (read EOF).
    PeerClosed,
    /// Connecting, reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for Down {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Down::PeerClosed => f.write_str("the peer closed the connection"),
            Down::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Connects to `addr`. `send_buffer` caps the kernel send buffer: bytes
/// queued there are "written" for us but lost if the peer dies, so a moderate
/// buffer limits what a crashing backend can take with it.
pub async fn connect(addr: SocketAddr, send_buffer: Option<u32>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    socket.set_nodelay(true)?;
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    Ok(stream)
}

/// Connects to the first of `addrs` that accepts, in their order (a name
/// that resolves to an IPv6 and an IPv4 address, for a backend listening on
/// one of them only, still connects). Returns the stream and the address it
/// reached, or the last address's error.
pub async fn connect_any(
    addrs: &[SocketAddr],
    send_buffer: Option<u32>,
) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for &addr in addrs {
        match connect(addr, send_buffer).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Returns `Err` when the peer has closed or reset the connection. Never
/// blocks; data the peer sent is discarded.
pub fn check_peer(stream: &TcpStream) -> Result<(), Down> {
    let mut scratch = [0u8; 256];
    for _ in 0..MAX_DISCARD_READS {
        match stream.try_read(&mut scratch) {
            Ok(0) => return Err(Down::PeerClosed),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Down::Io(e)),
        }
    }
    Ok(())
}

/// Writes the rest of `batch` from `cursor` with vectored writes, straight
/// from the batch's pieces. On `Err`, `cursor` tells which events are in the
/// socket ([`WriteCursor::events`]); a started event is completed if the
/// peer still reads.
pub async fn write_batch(
    stream: &TcpStream,
    batch: &Batch,
    cursor: &mut WriteCursor,
) -> Result<(), Down> {
    let result = write_until_done(stream, batch, cursor).await;
    if result.is_err() && cursor.mid_event(batch) {
        let _ =
            tokio::time::timeout(FINISH_EVENT_TIMEOUT, finish_event(stream, batch, cursor)).await;
    }
    result
}

async fn write_until_done(
    stream: &TcpStream,
    batch: &Batch,
    cursor: &mut WriteCursor,
) -> Result<(), Down> {
    let mut iov = [IoSlice::new(&[]); MAX_SLICES];
    while !cursor.is_done(batch) {
        check_peer(stream)?;
        let n = cursor.slices(batch, &mut iov);
        match stream.try_write_vectored(&iov[..n]) {
            Ok(0) => return Err(Down::Io(io::ErrorKind::WriteZero.into())),
            Ok(written) => {
                crate::coalesce::note_bytes(written);
                cursor.advance(batch, written)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Wake up for either: room to write, or news from the peer
                // (checked at the top of the loop).
                tokio::select! {
                    r = stream.writable() => r.map_err(Down::Io)?,
                    r = stream.readable() => r.map_err(Down::Io)?,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Down::Io(e)),
        }
    }
    Ok(())
}

/// Writes the rest of the event at the cursor, and nothing more.
async fn finish_event(stream: &TcpStream, batch: &Batch, cursor: &mut WriteCursor) {
    while cursor.mid_event(batch) {
        match stream.try_write(cursor.rest_of_event(batch)) {
            Ok(0) => return,
            Ok(written) => cursor.advance(batch, written),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if stream.writable().await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (out, accepted) = tokio::join!(connect(addr, None), listener.accept());
        (out.unwrap(), accepted.unwrap().0)
    }

    fn events(n: usize) -> Batch {
        (0..n).map(|i| format!("event {i}")).collect()
    }

    #[tokio::test]
    async fn writes_every_event_with_its_newline() {
        let (out, mut peer) = pair().await;
        let batch = events(2000);
        let expected: Vec<u8> = batch.events().flat_map(|e| [e, b"\n"].concat()).collect();
        let reader = tokio::spawn(async move {
            let mut got = vec![0; expected.len()];
            peer.read_exact(&mut got).await.unwrap();
            got == expected
        });
        let mut cursor = WriteCursor::default();
        write_batch(&out, &batch, &mut cursor).await.unwrap();
        assert_eq!(cursor.events(&batch), 2000);
        let ok = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .unwrap()
            .unwrap();
        assert!(ok, "bytes received differ from events + newlines");
    }

    /// An address nothing listens on: a port the kernel just handed out
    /// and that was released again.
    async fn refusing_address() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    #[tokio::test]
    async fn connect_any_takes_the_first_address_that_accepts() {
        let refusing = refusing_address().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listening = listener.local_addr().unwrap();
        let addrs = [refusing, listening];
        let (out, accepted) = tokio::join!(connect_any(&addrs, None), listener.accept());
        let (_stream, reached) = out.unwrap();
        assert_eq!(reached, listening);
        assert!(accepted.is_ok());
    }

    #[tokio::test]
    async fn connect_any_reports_the_error_when_none_accepts() {
        let refusing = refusing_address().await;
        let e = connect_any(&[refusing], None).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        let e = connect_any(&[], None).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn half_closed_peer_is_noticed_before_writing() {
        let (out, mut peer) = pair().await;
        peer.shutdown().await.unwrap();
        // Bounded wait for the FIN to reach the reactor.
        for _ in 0..100 {
            if check_peer(&out).is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let batch = events(10);
        let mut cursor = WriteCursor::default();
        let r = write_batch(&out, &batch, &mut cursor).await;
        assert!(matches!(r, Err(Down::PeerClosed)), "{r:?}");
        assert_eq!(
            cursor,
            WriteCursor::default(),
            "nothing written into a closed peer"
        );
    }

    #[tokio::test]
    async fn closed_peer_fails_the_batch_and_keeps_unwritten_events() {
        let (out, peer) = pair().await;
        drop(peer);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let batch = events(10);
        let mut cursor = WriteCursor::default();
        assert!(write_batch(&out, &batch, &mut cursor).await.is_err());
        assert_eq!(cursor.events(&batch), 0);
    }
}
