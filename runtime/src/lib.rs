//! `wbc-runtime`: the library every proxy built by `wbc` links.
//!
//! A routing file becomes a `main` that calls [`launch`] with a wiring
//! closure: one [`Proxy::queue`] per connection, one [`Proxy::spawn`] per
//! module. Everything is statically typed: a module is a plain struct generic
//! over its arity (`RoundRobin::<3>`), queue ends are concrete
//! [`Sender`]/[`Receiver`] types, and no trait object sits on the event path.
//!
//! Start reading at [`queue`] (how events move), then [`shutdown`] (how a
//! proxy stops without losing any), then [`modules`].

mod allocator;
mod coalesce;
pub mod context;
mod fd_limit;
mod launch;
pub mod metrics;
pub mod modules;
pub mod proxy;
pub mod queue;
pub mod shutdown;
pub mod start_error;
mod wiring;

pub use context::Context;
pub use launch::{launch, launch_with_args};
pub use metrics::{Counters, QueueStats, Registry};
pub use proxy::{describe_io_error, Module, Proxy, ProxyInfo, ProxyOptions, Report, StartError};
pub use queue::{Batch, Lines, Receiver, SendError, Sender, TryRecv};
pub use shutdown::{SourceKind, SourceToken};
pub use wiring::{hold_ends, QueueEnd};
