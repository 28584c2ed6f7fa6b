//! Reliability (issue 6): fault injection against proxies built with the
//! real `wbc build`, driven over real sockets on 127.0.0.1, and the
//! compiler fed hostile routing files through the real `wbc` binary.
//!
//! Backends are separate processes ([`backend`]: this binary started again)
//! so that SIGKILL is real; every wait is bounded in time and count. Each
//! case prints one line `figures CASE: sent=.. delivered=.. duplicated=..
//! lost=.. peak_rss_kib=..` (run with `--nocapture` to see them);
//! RELIABILITY.md collects them.
//!
//! Most cases share one built proxy (`input -> roundrobin(b1, b2) fallback
//! funnel`, see [`harness::failover`]) whose ports are fixed when it is
//! built, so they take turns; the whole suite runs in about two minutes:
//! `cargo test -p wbc --test reliability -- --nocapture`.

#[path = "reliability/backend.rs"]
mod backend;
#[path = "reliability/backends.rs"]
mod backends;
#[path = "reliability/clients.rs"]
mod clients;
#[path = "reliability/compiler.rs"]
mod compiler;
mod e2e;
#[path = "reliability/harness.rs"]
mod harness;
#[path = "reliability/lifecycle.rs"]
mod lifecycle;
