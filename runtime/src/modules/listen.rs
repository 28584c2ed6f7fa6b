//! The listening socket of a module that accepts connections (tcp.in,
//! metrics.prometheus): bound when the module is made, so that a port in
//! use or an address this machine does not have is a start-up error naming
//! the module, with the usual fix ([`crate::start_error`]).

use std::net::{SocketAddr, ToSocketAddrs};

use tokio::net::TcpListener;

use crate::start_error::{Attempt, StartError};

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
