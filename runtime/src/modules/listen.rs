//! The listening socket of a module that accepts connections (tcp.in,
//! metrics.prometheus): bound when the module is made, so that a port in
//! use or an address this machine does not have is a start-up error naming
//! the module, with the usual fix ([`crate::start_error`]); and its accept
//! errors, logged so that running out of descriptors is one warning every
//! few seconds that says what to do, not ten lines a second.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::start_error::{describe_io_error, Attempt, StartError};

/// Clients whose handshake the kernel completes before the proxy accepts
/// them (the kernel caps it at `net.core.somaxconn`, 4,096 by default).
/// When every client of a relay reconnects at once (a restart, a network
/// blip), those beyond the queue have their SYN dropped and retry only 1,
/// 3, 7 s later. The benchmark's 10,000 clients connecting back to back
/// took 0.28 to 30.7 s with `std`'s 128 (3 runs), 0.24 to 0.30 s with
/// this. haproxy sizes it from `maxconn`, nginx asks for 511.
const BACKLOG: u32 = 4096;

/// Listens on the first address of `host:port` that can be bound. Must run
/// inside the tokio runtime (as `launch` does).
pub fn listen(
    module: &str,
    kind: &'static str,
    host: &str,
    port: u16,
) -> Result<TcpListener, StartError> {
    let shown = format!("{host}:{port}");
    let addrs = (host, port).to_socket_addrs().map_err(|e| {
        let what = format!("cannot resolve {shown}");
        StartError::io(module, kind, what, Attempt::Resolve { host }, &e)
    })?;
    let mut last_error = None;
    for addr in addrs {
        match bind(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    let what = format!("cannot listen on {shown}");
    Err(match last_error {
        Some(e) => StartError::io(module, kind, what, Attempt::Listen { host, port }, &e),
        None => StartError::new(module, kind, format!("{what}: no address found")),
    })
}

/// A listening socket on `addr` with [`BACKLOG`]; `SO_REUSEADDR` as
/// `std`'s bind sets it, so a restarted proxy can listen again while its
/// old connections are in TIME_WAIT.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// How often a listener that keeps failing to accept logs it.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A listener's accept errors, logged at most once per [`WARN_EVERY`].
///
/// Out of descriptors, `accept` fails until a client leaves, and the loop
/// retries every 100 ms: a warning each time would write ten lines a
/// second for as long as it lasts. The first is logged at once; those in
/// the next [`WARN_EVERY`] are counted, and the next warning says how many.
#[derive(Debug, Default)]
pub struct AcceptErrors {
    last_warned: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    /// The warning for `err` at `now`, or `None` while the last one is
    /// recent. Out of descriptors, it says what the limit is and how to
    /// raise it.
    pub fn note(
        &mut self,
        module: &str,
        kind: &str,
        address: &str,
        err: &std::io::Error,
        now: Instant,
    ) -> Option<String> {
        if self
            .last_warned
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            self.unlogged += 1;
            return None;
        }
        self.last_warned = Some(now);
        let unlogged = std::mem::take(&mut self.unlogged);
        let mut text = format!(
            "module `{module}` ({kind}) cannot accept a client on {address}: {}",
            describe_io_error(err)
        );
        if err.raw_os_error() == Some(libc::EMFILE) {
            let limit = crate::fd_limit::current().map_or(String::new(), |n| format!(" of {n}"));
            text += &format!(
                " (the proxy holds its limit{limit} descriptors: raise the hard limit, \
                 `LimitNOFILE=` in a systemd unit or `ulimit -Hn` in a shell, and restart)"
            );
        }
        if unlogged > 0 {
            text += &format!("; {unlogged} more failed accepts since the last warning");
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_listener_warns_once_per_interval_and_counts_the_rest() {
        let mut errors = AcceptErrors::default();
        let full = std::io::Error::from_raw_os_error(libc::EMFILE);
        let t0 = Instant::now();
        let first = errors.note("input", "tcp.in", "127.0.0.1:1", &full, t0);
        let first = first.expect("the first failure is logged at once");
        assert!(
            first.starts_with(
                "module `input` (tcp.in) cannot accept a client on 127.0.0.1:1: \
                 too many open files (the proxy holds its limit of "
            ) && first.ends_with("`ulimit -Hn` in a shell, and restart)"),
            "{first}"
        );
        // The accept loop retries every 100 ms: 99 more in the interval.
        for i in 1..100 {
            let now = t0 + Duration::from_millis(100 * i);
            assert_eq!(errors.note("input", "tcp.in", "x", &full, now), None);
        }
        let next = errors.note("input", "tcp.in", "x", &full, t0 + WARN_EVERY);
        let next = next.expect("logged again after the interval");
        assert!(
            next.ends_with("; 99 more failed accepts since the last warning"),
            "{next}"
        );
        // Another error than EMFILE gets no advice about descriptors.
        let other = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        let later = t0 + WARN_EVERY * 3;
        let text = errors
            .note("input", "tcp.in", "x", &other, later)
            .unwrap_or_default();
        assert!(!text.contains("ulimit"), "{text}");
        assert!(!text.contains("more failed"), "{text}");
    }
}
