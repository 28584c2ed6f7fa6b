//! Waiting costs no CPU: a roundrobin whose members are all down, a funnel
//! with idle inputs and a producer blocked on a full queue all sleep on a
//! notification instead of polling. This file holds one test on purpose: it
//! measures its own process's CPU time, which parallel tests would disturb.

mod core_support;

use std::time::Duration;

use core_support::*;
use wbc_runtime::modules::*;

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_modules_use_no_cpu() {
    let mut proxy = proxy_with_capacity(16);
    // roundrobin with every member down, holding events
    let (in_tx, in_rx) = proxy.queue("input", "outbox", "rr", "inbox");
    let (a_tx, a_rx) = proxy.queue("rr", "a", "a", "inbox");
    let (b_tx, b_rx) = proxy.queue("rr", "b", "b", "inbox");
    a_rx.lock();
    b_rx.lock();
    proxy
        .spawn(RoundRobin::<2>::new(RoundRobinConfig { name: "rr" }, in_rx, [a_tx, b_tx]).unwrap());
    // a funnel whose inputs are idle
    let (f1_tx, f1_rx) = proxy.queue("x", "outbox", "funnel", "one");
    let (f2_tx, f2_rx) = proxy.queue("y", "outbox", "funnel", "two");
    let (out_tx, out_rx) = proxy.queue("funnel", "outbox", "sink", "inbox");
    proxy.spawn(Funnel::<2>::new(FunnelConfig { name: "funnel" }, [f1_rx, f2_rx], out_tx).unwrap());
    proxy.spawn(Null::new(NullConfig { name: "sink" }, out_rx).unwrap());
    // more input than fits: the producer ends up blocked on a full inbox
    let producer = produce(in_tx, lines("e", 1_000), 10);
    let ctx = proxy.context().clone();
    let run = tokio::spawn(proxy.run_until(tokio::time::sleep(LIMIT)));

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !producer.is_finished(),
        "the producer should be blocked by backpressure"
    );
    let before = cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_time() - before;
    println!(
        "figures idle_wait: cpu_ms_per_idle_second={}",
        used.as_millis()
    );
    assert!(
        used < Duration::from_millis(150),
        "waiting modules used {used:?} of CPU in 1 s"
    );
    assert!(ctx.in_flight() > 0);

    run.abort();
    drop((a_rx, b_rx, f1_tx, f2_tx));
}
