//! Helpers that every test tree uses: the `wbc` package's (`tests/`),
//! `wbc-runtime`'s scenario tests (`runtime/tests/scenarios/`) and the
//! benchmark programs' (`bench/tests/`).
//!
//! Each includes this file with `#[path]` instead of depending on a shared
//! test crate: a dev-dependency of `wbc-runtime` would be written into the
//! runtime manifest that `wbc build` embeds, where its path does not exist.

#![allow(dead_code)] // each test target uses a different part

use sha2::{Digest, Sha256};
use std::net::TcpListener;

/// A port nobody uses right now, for a process the test starts later.
///
/// Ports are taken below Linux's ephemeral range (32768 and up): a port
/// that the kernel handed out with `bind(0)` can be given again as the local
/// end of any outgoing connection before the proxy binds it, which made
/// tests fail with "address already in use" on a busy machine. Each process
/// walks its own sequence (seeded by its pid) and probes every port by
/// binding it, so parallel tests and test binaries do not collide.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..SPAN {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + seed.wrapping_add(step.wrapping_mul(7)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}

/// The sha256 of `bytes` in lowercase hex, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` in lowercase hex (a digest that was computed piece by piece).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
