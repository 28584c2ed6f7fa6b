//! The module kinds a routing file can use, one file each. Every kind `K`
//! has a `KConfig { name, <one field per catalog argument> }` and
//! `K::new(config, <inputs>, <outputs>) -> Result<K, StartError>`, and
//! implements [`crate::Module`].
//!
//! Roles, and what each does with the in-flight count ([`crate::shutdown`]):
//! sources ([`Stdin`], [`Graphite`], tcp.in) emit; flow modules
//! ([`RoundRobin`], [`Fanout`], [`Funnel`]) forward (fanout adds its copies);
//! sinks ([`Stdout`], [`FileOut`], [`Null`], tcp.out) retire events once
//! written or dropped.

mod fanout;
mod file_out;
mod funnel;
mod graphite;
mod line_writer;
mod listen;
mod null;
mod prometheus;
mod roundrobin;
mod stdin;
mod stdout;
mod tcp_in;
mod tcp_out;

pub use fanout::{Fanout, FanoutConfig};
pub use file_out::{FileOut, FileOutConfig};
pub use funnel::{Funnel, FunnelConfig};
pub use graphite::{Graphite, GraphiteConfig};
pub use null::{Null, NullConfig};
pub use prometheus::{Prometheus, PrometheusConfig};
pub use roundrobin::{RoundRobin, RoundRobinConfig};
pub use stdin::{Stdin, StdinConfig};
pub use stdout::{Stdout, StdoutConfig};
pub use tcp_in::{LineFramer, TcpIn, TcpInConfig};
pub use tcp_out::{TcpOut, TcpOutConfig, LINGER_BYTES};
