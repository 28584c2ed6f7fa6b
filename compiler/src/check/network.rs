//! Addresses: two listeners (`tcp.in`, `metrics.prometheus`) on one
//! host:port (E0012), and a `tcp.out` aimed at an address the same file
//! listens on (W0002).

use std::collections::HashMap;

use super::modules::{Entry, Modules};
use crate::catalog::Queues;
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::Value;

/// Host and port of a module with resolved `host` and `port` arguments.
fn address<'e>(entry: &'e Entry) -> Option<(&'e str, u64)> {
    match (entry.arg("host")?, entry.arg("port")?) {
        (Value::Str(host), Value::Int(port)) => Some((normal_host(host), *port)),
        _ => None,
    }
}

/// `localhost` is the loopback address a listener on 127.0.0.1 gets.
fn normal_host(host: &str) -> &str {
    if host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        host
    }
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "[::]")
}

/// Whether a listener on `listen` takes connections aimed at `other`.
fn overlaps(listen: &str, other: &str) -> bool {
    listen == other || is_wildcard(listen) || is_wildcard(other)
}

pub(crate) fn check_addresses(modules: &Modules, diags: &mut Vec<Diagnostic>) {
    // Kinds with a host and a port listen when they take no events in
    // (tcp.in, metrics.prometheus) and connect out when they do (tcp.out).
    let with_address = |listens: bool| {
        modules
            .entries
            .iter()
            .filter(move |e| {
                e.kind
                    .is_some_and(|k| (k.inputs == Queues::None) == listens)
            })
            .filter_map(|e| Some((e, address(e)?)))
    };
    let mut listeners: HashMap<u64, Vec<(&Entry, &str)>> = HashMap::new();
    for (entry, (host, port)) in with_address(true) {
        let same_port = listeners.entry(port).or_default();
        if let Some((first, first_host)) = same_port.iter().find(|(_, h)| overlaps(h, host)) {
            let message = if *first_host == host {
                format!(
                    "`{}` and `{}` both listen on `{host}:{port}`",
                    first.name(),
                    entry.name()
                )
            } else {
                format!(
                    "`{}` listens on `{first_host}:{port}`, which includes `{host}:{port}` of `{}`",
                    first.name(),
                    entry.name()
                )
            };
            diags.push(
                Diagnostic::new(Code::E0012, entry.arg_span("port"), message)
                    .with_label("second listener here")
                    .with_secondary(first.arg_span("port"), "first listens here")
                    .with_help("give one of them another `port`"),
            );
            continue;
        }
        same_port.push((entry, host));
    }
    for (entry, (host, port)) in with_address(false) {
        let Some(same_port) = listeners.get(&port) else {
            continue;
        };
        let Some((listener, _)) = same_port.iter().find(|(_, h)| overlaps(h, host)) else {
            continue;
        };
        diags.push(
            Diagnostic::new(
                Code::W0002,
                entry.arg_span("port"),
                format!(
                    "`{}` sends to `{host}:{port}`, where `{}` of this file listens",
                    entry.name(),
                    listener.name()
                ),
            )
            .with_label("events sent here come back in")
            .with_secondary(listener.arg_span("port"), "listens here")
            .with_help("check the port; connect the modules with a route instead of a socket"),
        );
    }
}
