//! Where tcp.out connects: the routing file's host is resolved again before
//! every attempt, so a backend that moved is found at the next reconnect.

use std::net::SocketAddr;
use tokio::net::TcpStream;

use super::{conn, KIND, SEND_BUFFER};

/// One connection attempt: the host's current addresses, each in turn;
/// `known` (the address that worked last) when the name does not resolve
/// now, so a resolver outage does not cut off a backend that is up. A
/// failure comes with the addresses tried, for the warning.
pub(super) async fn resolve_and_connect(
    host: &'static str,
    port: u16,
    known: SocketAddr,
) -> Result<(TcpStream, SocketAddr), (std::io::Error, Vec<SocketAddr>)> {
    let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.collect(),
        Err(e) => {
            tracing::debug!("{KIND}: cannot resolve {host}:{port} now ({e}); trying {known}");
            Vec::new()
        }
    };
    let addrs = if addrs.is_empty() { vec![known] } else { addrs };
    conn::connect_any(&addrs, Some(SEND_BUFFER))
        .await
        .map_err(|e| (e, addrs))
}

/// The backend as the routing file names it, and, when that is a name,
/// the addresses it resolved to this time: `localhost:9000 (tried
/// [::1]:9000, 127.0.0.1:9000)`, or `127.0.0.1:9000`.
pub(super) fn describe_target(host: &str, port: u16, tried: &[SocketAddr]) -> String {
    let literal = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>();
    match literal {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => {
            let tried: Vec<String> = tried.iter().map(SocketAddr::to_string).collect();
            format!("{host}:{port} (tried {})", tried.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::describe_target;

    #[test]
    fn a_named_backend_is_described_with_the_addresses_tried() {
        let tried = [
            "[::1]:9000".parse().unwrap(),
            "127.0.0.1:9000".parse().unwrap(),
        ];
        assert_eq!(
            describe_target("localhost", 9000, &tried),
            "localhost:9000 (tried [::1]:9000, 127.0.0.1:9000)"
        );
        assert_eq!(
            describe_target("127.0.0.1", 9000, &tried[1..]),
            "127.0.0.1:9000"
        );
        assert_eq!(describe_target("::1", 9000, &tried[..1]), "[::1]:9000");
    }
}
