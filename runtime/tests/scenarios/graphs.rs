//! The hand-wired graphs a proxy child process can run, written exactly as
//! code generation will write them (see the compiler/runtime contract in ARCHITECTURE.md).
//!
//! Variables: `WBC_TEST_IN` (tcp.in port), `WBC_TEST_OUT` (comma-separated
//! tcp.out ports), `WBC_TEST_METRICS` (optional: a metrics.graphite module
//! sends its lines to a tcp.out on this port), `WBC_TEST_MAX_LINE`,
//! `WBC_TEST_RECONNECT_MS`, `WBC_TEST_OUT_HOST`.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use wbc_runtime::modules::*;
use wbc_runtime::{Proxy, ProxyInfo, StartError};

use crate::process::{port_var, var};

const HOST: &str = "127.0.0.1";

struct Ports {
    input: u16,
    outputs: Vec<u16>,
    metrics: Option<u16>,
    max_line: u64,
    reconnect: Duration,
    /// Host of the tcp.out modules (`WBC_TEST_OUT_HOST`, default 127.0.0.1).
    out_host: &'static str,
}

/// Runs graph `name` with proxy flags `args`; the process's exit code.
pub fn run(name: &str, args: Vec<OsString>) -> ExitCode {
    let info = ProxyInfo {
        source: "hand-wired test graph",
        sha256: "-",
        compiler: "none",
    };
    let ports = Ports {
        input: port_var("IN"),
        outputs: var("OUT")
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect(),
        metrics: var("METRICS").and_then(|p| p.parse().ok()),
        max_line: var("MAX_LINE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 20),
        out_host: var("OUT_HOST").map_or(HOST, |h| &*Box::leak(h.into_boxed_str())),
        reconnect: Duration::from_millis(
            var("RECONNECT_MS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100),
        ),
    };
    let wire = move |p: &mut Proxy| -> Result<(), StartError> {
        match (name, ports.outputs.len()) {
            ("one", 1) => one(p, &ports),
            ("roundrobin", 2) => roundrobin::<2>(p, &ports),
            ("roundrobin", 3) => roundrobin::<3>(p, &ports),
            ("failover", 2) => failover(p, &ports),
            (other, n) => Err(StartError::new(
                "test",
                "graph",
                format!("no graph `{other}` with {n} outputs"),
            )),
        }?;
        if let Some(port) = ports.metrics {
            metrics(p, port)?;
        }
        Ok(())
    };
    wbc_runtime::launch_with_args(info, args, wire)
}

fn input(p: &mut Proxy, ports: &Ports, outbox: wbc_runtime::Sender) -> Result<(), StartError> {
    p.spawn(TcpIn::new(
        TcpInConfig {
            name: "input",
            port: ports.input,
            host: HOST,
            max_line: ports.max_line,
        },
        outbox,
    )?);
    Ok(())
}

fn output(
    p: &mut Proxy,
    ports: &Ports,
    name: &'static str,
    i: usize,
    inbox: wbc_runtime::Receiver,
    failed: Option<wbc_runtime::Sender>,
) -> Result<(), StartError> {
    p.spawn(TcpOut::new(
        TcpOutConfig {
            name,
            port: ports.outputs[i],
            host: ports.out_host,
            failed: failed.is_some(),
            reconnect: ports.reconnect,
            linger: Duration::ZERO,
        },
        inbox,
        failed,
    )?);
    Ok(())
}

const OUTPUT_NAMES: [&str; 3] = ["output_1", "output_2", "output_3"];

/// `input -> output` (seed scenario I).
fn one(p: &mut Proxy, ports: &Ports) -> Result<(), StartError> {
    let (q0_tx, q0_rx) = p.queue("input", "outbox", "output", "inbox");
    input(p, ports, q0_tx)?;
    output(p, ports, "output", 0, q0_rx, None)
}

/// `input -> roundrobin(output_1, ..., output_N)` (seed scenario II).
fn roundrobin<const N: usize>(p: &mut Proxy, ports: &Ports) -> Result<(), StartError> {
    let (in_tx, in_rx) = p.queue("input", "outbox", "roundrobin_1", "inbox");
    let mut members = Vec::new();
    let mut inboxes = Vec::new();
    for name in &OUTPUT_NAMES[..N] {
        let (tx, rx) = p.queue("roundrobin_1", name, name, "inbox");
        members.push(tx);
        inboxes.push(rx);
    }
    let members: [wbc_runtime::Sender; N] = members.try_into().unwrap_or_else(|_| unreachable!());
    input(p, ports, in_tx)?;
    p.spawn(RoundRobin::<N>::new(
        RoundRobinConfig {
            name: "roundrobin_1",
        },
        in_rx,
        members,
    )?);
    for (i, inbox) in inboxes.into_iter().enumerate() {
        output(p, ports, OUTPUT_NAMES[i], i, inbox, None)?;
    }
    Ok(())
}

/// `input.outbox -> roundrobin(output_1, output_2) fallback funnel` (seed
/// scenario III): both outputs' `failed` queues and the input go through one
/// funnel into the roundrobin.
fn failover(p: &mut Proxy, ports: &Ports) -> Result<(), StartError> {
    let (in_tx, in_rx) = p.queue("input", "outbox", "funnel_1", "input");
    let (f1_tx, f1_rx) = p.queue("output_1", "failed", "funnel_1", "output_1");
    let (f2_tx, f2_rx) = p.queue("output_2", "failed", "funnel_1", "output_2");
    let (rr_tx, rr_rx) = p.queue("funnel_1", "outbox", "roundrobin_1", "inbox");
    let (o1_tx, o1_rx) = p.queue("roundrobin_1", "output_1", "output_1", "inbox");
    let (o2_tx, o2_rx) = p.queue("roundrobin_1", "output_2", "output_2", "inbox");
    input(p, ports, in_tx)?;
    p.spawn(Funnel::<3>::new(
        FunnelConfig { name: "funnel_1" },
        [in_rx, f1_rx, f2_rx],
        rr_tx,
    )?);
    p.spawn(RoundRobin::<2>::new(
        RoundRobinConfig {
            name: "roundrobin_1",
        },
        rr_rx,
        [o1_tx, o2_tx],
    )?);
    output(p, ports, "output_1", 0, o1_rx, Some(f1_tx))?;
    output(p, ports, "output_2", 1, o2_rx, Some(f2_tx))
}

/// `graphite -> carbon`, a tcp.out to the test's metrics sink.
fn metrics(p: &mut Proxy, port: u16) -> Result<(), StartError> {
    let (tx, rx) = p.queue("graphite", "outbox", "carbon", "inbox");
    p.spawn(Graphite::new(
        GraphiteConfig {
            name: "graphite",
            interval: Duration::from_millis(200),
            prefix: "wbc",
        },
        tx,
    )?);
    p.spawn(TcpOut::new(
        TcpOutConfig {
            name: "carbon",
            port,
            host: HOST,
            failed: false,
            reconnect: Duration::from_millis(100),
            linger: Duration::ZERO,
        },
        rx,
        None,
    )?);
    Ok(())
}
