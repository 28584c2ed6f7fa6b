//! What generated wiring code holds between making a queue and making the
//! modules at its two ends.
//!
//! A proxy's `main` is one closure (see `compiler/src/codegen/emit.rs`):
//! first every queue of the routing file, then every module, each given its
//! queue ends and handed to [`Proxy::start`](crate::Proxy::start):
//!
//! ```no_run
//! # use wbc_runtime::modules::*;
//! # use wbc_runtime::{hold_ends, Proxy};
//! # fn wire(proxy: &mut Proxy) {
//! let (q0_tx, q0_rx) = hold_ends(proxy.queue("input", "outbox", "sink", "inbox"));
//! let m0 = Stdin::new(StdinConfig { name: "input" }, q0_tx.take());
//! proxy.start(m0);
//! let m1 = Null::new(NullConfig { name: "sink" }, q0_rx.take());
//! proxy.start(m1);
//! # }
//! ```
//!
//! Why the ends are wrapped: the closure holds every end not yet given to
//! its module, hundreds in a large file. Were they plain [`Sender`]s and
//! [`Receiver`]s, every call in it could unwind and would need a path that
//! drops each end still held, so the code the compiler generates and
//! optimizes grows with the square of the file's size: 200 `tcp.in ->
//! tcp.out` pairs took 141 s to compile, a 1,000-member roundrobin more
//! than 10 minutes. A [`QueueEnd`] has nothing to drop, so the closure has
//! no such paths: 3.1 s for the 200 pairs. Each end is still moved into
//! exactly one module, as the compiler of the generated code checks: an
//! end used twice does not compile, and code generation gives every end
//! to a module (an end left behind would only stay open until exit).
//!
//! [`Sender`]: crate::Sender
//! [`Receiver`]: crate::Receiver

use std::mem::ManuallyDrop;

/// One end of a queue on its way to the module that will own it.
pub struct QueueEnd<T>(ManuallyDrop<T>);

/// Both ends of a new queue, as [`Proxy::queue`](crate::Proxy::queue)
/// returns them, held until their modules are made.
pub fn hold_ends<S, R>((sender, receiver): (S, R)) -> (QueueEnd<S>, QueueEnd<R>) {
    (
        QueueEnd(ManuallyDrop::new(sender)),
        QueueEnd(ManuallyDrop::new(receiver)),
    )
}

impl<T> QueueEnd<T> {
    /// The end itself, for its module's constructor.
    #[inline(always)]
    pub fn take(self) -> T {
        ManuallyDrop::into_inner(self.0)
    }
}
