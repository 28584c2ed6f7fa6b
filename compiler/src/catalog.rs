//! The catalog of module kinds: the one place that says which kinds exist,
//! which queues each has, which arguments each takes and what they default to.
//!
//! Everything that needs to know about a kind reads this table: the checker
//! (argument and queue validation), `wbc list` and `wbc show`, `wbc expand`
//! (to print defaults) and code generation (through [`KindSpec::runtime`]).
//! Adding a kind is one entry in [`KINDS`] plus its type in `wbc-runtime`.

/// The type of an argument value, as the checker validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// Any non-negative integer.
    Int,
    /// An integer in 1..=65535.
    Port,
    /// A non-empty string.
    Str,
    /// `true` or `false`.
    Bool,
    /// `250ms`, `1s`, `5m`; must be greater than zero.
    Duration,
    /// A duration that may be zero (`0ms`: no wait at all).
    DurationOrZero,
    /// `512B`, `64KiB`, `1MiB`; must be greater than zero.
    ByteSize,
}

impl ArgType {
    /// How the type is named in diagnostics and in `wbc show`.
    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Int => "integer",
            ArgType::Port => "port (1-65535)",
            ArgType::Str => "string",
            ArgType::Bool => "bool",
            ArgType::Duration => "duration",
            ArgType::DurationOrZero => "duration",
            ArgType::ByteSize => "byte size",
        }
    }
}

/// One argument a kind accepts.
#[derive(Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgType,
    /// The default, written as `.wb` source (`"127.0.0.1"`, `1MiB`);
    /// `None` means the argument is required.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// The queues on one side (input or output) of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queues {
    /// No queues on this side.
    None,
    /// Exactly these names. For tcp.out and file.out the output `failed`
    /// exists when `failed: true` is given or when it is connected.
    Fixed(&'static [&'static str]),
    /// Flow modules: every queue name the user invents is one connection.
    UserNamed,
}

/// Which family a kind belongs to; drives checks such as "an output queue
/// that events reach is connected nowhere" and the fresh-queue rule for
/// bare flow-module names in routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Produces events from outside (tcp.in, stdin) or about the proxy (metrics).
    Source,
    /// Delivers events outside (tcp.out, file.out, stdout, null).
    Sink,
    /// roundrobin: each event to one output.
    RoundRobin,
    /// fanout: each event to every output.
    Fanout,
    /// funnel: all inputs merged into `outbox`.
    Funnel,
    /// Has no queues and serves something outside the event flow
    /// (metrics.prometheus): never a dead end, never unused.
    Service,
}

/// One module kind.
#[derive(Debug)]
pub struct KindSpec {
    /// Dotted name as written in routing files (`tcp.in`).
    pub name: &'static str,
    pub role: Role,
    pub inputs: Queues,
    pub outputs: Queues,
    pub args: &'static [ArgSpec],
    /// The `wbc-runtime` type code generation instantiates
    /// (a path below `wbc_runtime::modules`).
    pub runtime: &'static str,
    /// One line for `wbc list`.
    pub summary: &'static str,
    /// A paragraph for `wbc show`.
    pub doc: &'static str,
}

impl KindSpec {
    pub fn arg(&self, name: &str) -> Option<&'static ArgSpec> {
        self.args.iter().find(|a| a.name == name)
    }

    /// Whether this kind has an optional `failed` output queue.
    pub fn has_failed_queue(&self) -> bool {
        matches!(self.outputs, Queues::Fixed(q) if q.contains(&"failed"))
    }

    /// Kinds that produce events about the proxy itself (counters), not
    /// user data. Their lines are best effort: shutdown never waits for them.
    pub fn is_metrics(&self) -> bool {
        self.name.starts_with("metrics.")
    }

    pub fn is_flow(&self) -> bool {
        matches!(self.role, Role::RoundRobin | Role::Fanout | Role::Funnel)
    }
}

const HOST: ArgSpec = ArgSpec {
    name: "host",
    ty: ArgType::Str,
    default: Some("\"127.0.0.1\""),
    doc: "host name or IP address",
};

/// Every module kind, in the order `wbc list` prints them.
pub static KINDS: &[KindSpec] = &[
    KindSpec {
        name: "tcp.in",
        role: Role::Source,
        inputs: Queues::None,
        outputs: Queues::Fixed(&["outbox"]),
        args: &[
            ArgSpec {
                name: "port",
                ty: ArgType::Port,
                default: None,
                doc: "TCP port to listen on",
            },
            ArgSpec {
                doc: "address to listen on",
                ..HOST
            },
            ArgSpec {
                name: "max_line",
                ty: ArgType::ByteSize,
                default: Some("1MiB"),
                doc: "longest accepted line; longer lines are dropped and counted",
            },
        ],
        runtime: "TcpIn",
        summary: "listens on a TCP port; every newline-delimited line is one event",
        doc: "Accepts any number of concurrent clients and splits each client's stream on `\\n`; \
              each client's events keep their order. A line longer than `max_line` is dropped \
              (counted in `outbox.dropped`, logged once per client) and the stream resynchronises \
              at the next newline. A final line without a newline is still an event. When the \
              outbox is full the module stops reading its sockets, so producers are slowed \
              instead of events being dropped.",
    },
    KindSpec {
        name: "tcp.out",
        role: Role::Sink,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::Fixed(&["failed"]),
        args: &[
            ArgSpec {
                name: "port",
                ty: ArgType::Port,
                default: None,
                doc: "TCP port to connect to",
            },
            ArgSpec {
                doc:
                    "host to connect to; a name is resolved again before every connection attempt, \
                      and each of its addresses is tried in turn",
                ..HOST
            },
            ArgSpec {
                name: "failed",
                ty: ArgType::Bool,
                default: Some("false"),
                doc: "create the `failed` queue (it is also created when a route connects it)",
            },
            ArgSpec {
                name: "reconnect",
                ty: ArgType::Duration,
                default: Some("1s"),
                doc: "first reconnect delay; doubles up to 30s, with jitter",
            },
            ArgSpec {
                name: "linger",
                ty: ArgType::DurationOrZero,
                default: Some("0ms"),
                doc: "how long a write of less than 16KiB waits for more events: fewer, larger \
                      writes to a backend fed by many quiet clients, for up to that much more \
                      latency (plus a millisecond); `0ms` writes at once",
            },
        ],
        runtime: "TcpOut",
        summary: "connects to host:port and writes each event followed by a newline",
        doc: "When it cannot connect, a write fails or the peer closes, the module is down: it \
              locks its inbox, hands every event not known to be written to its `failed` queue \
              (when that queue exists) or keeps it for retry, and reconnects with backoff. \
              A roundrobin skips members that are down.",
    },
    KindSpec {
        name: "roundrobin",
        role: Role::RoundRobin,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::UserNamed,
        args: &[],
        runtime: "RoundRobin",
        summary: "sends each event to the next output that is up, in strict rotation",
        doc: "With every output up, N events split into shares that differ by at most one. \
              Outputs that are down are skipped; when all are down the module waits \
              (backpressure). `roundrobin(a, b) fallback funnel` also routes every member's \
              `failed` queue back into the roundrobin.",
    },
    KindSpec {
        name: "fanout",
        role: Role::Fanout,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::UserNamed,
        args: &[],
        runtime: "Fanout",
        summary: "sends every event to every output",
        doc: "Each output receives every event; the event's bytes are shared, not copied.",
    },
    KindSpec {
        name: "funnel",
        role: Role::Funnel,
        inputs: Queues::UserNamed,
        outputs: Queues::Fixed(&["outbox"]),
        args: &[],
        runtime: "Funnel",
        summary: "merges all its inputs into its outbox",
        doc: "Inputs are served fairly: a busy input cannot starve another.",
    },
    KindSpec {
        name: "metrics.graphite",
        role: Role::Source,
        inputs: Queues::None,
        outputs: Queues::Fixed(&["outbox"]),
        args: &[
            ArgSpec {
                name: "interval",
                ty: ArgType::Duration,
                default: Some("1s"),
                doc: "how often counters are emitted",
            },
            ArgSpec {
                name: "prefix",
                ty: ArgType::Str,
                default: Some("\"wishbone\""),
                doc: "first component of every metric name",
            },
        ],
        runtime: "Graphite",
        summary: "emits every queue's counters as graphite plaintext lines",
        doc: "Every `interval`, one line per counter: \
              `PREFIX.queue.MODULE.QUEUE.COUNTER VALUE UNIX_SECONDS` for the `in`, `out`, \
              `dropped` and `size` counters of every queue, and \
              `PREFIX.module.MODULE.connected` and `.reconnects` for every tcp.out. \
              Connect its outbox to a tcp.out aimed at carbon's plaintext port.",
    },
    KindSpec {
        name: "metrics.prometheus",
        role: Role::Service,
        inputs: Queues::None,
        outputs: Queues::None,
        args: &[
            ArgSpec {
                name: "port",
                ty: ArgType::Port,
                default: None,
                doc: "TCP port of the HTTP endpoint (exporters conventionally use 9100 and up)",
            },
            ArgSpec {
                doc: "address to serve on",
                ..HOST
            },
        ],
        runtime: "Prometheus",
        summary: "serves every queue's counters over HTTP for Prometheus to scrape",
        doc: "Listens on host:port and answers every HTTP GET (conventionally `/metrics`) \
              with the Prometheus text exposition format (version 0.0.4), read from the \
              same counters as metrics.graphite at the moment of the scrape: \
              `wbc_queue_events_total{module,queue,direction=\"in\"|\"out\"}`, \
              `wbc_queue_dropped_total{module,queue}`, the gauge `wbc_queue_size{module,queue}`, \
              and for every tcp.out `wbc_module_connected{module}` (0 or 1) and \
              `wbc_module_reconnects_total{module}`. It has no queues: declare it and it \
              serves; it never touches the event path.",
    },
    KindSpec {
        name: "stdin",
        role: Role::Source,
        inputs: Queues::None,
        outputs: Queues::Fixed(&["outbox"]),
        args: &[],
        runtime: "Stdin",
        summary: "reads newline-delimited events from standard input",
        doc: "At end of input the proxy drains its queues and exits.",
    },
    KindSpec {
        name: "stdout",
        role: Role::Sink,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::None,
        args: &[],
        runtime: "Stdout",
        summary: "writes each event to standard output, followed by a newline",
        doc: "Writes are buffered and flushed whenever the inbox runs empty.",
    },
    KindSpec {
        name: "file.out",
        role: Role::Sink,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::Fixed(&["failed"]),
        args: &[ArgSpec {
            name: "path",
            ty: ArgType::Str,
            default: None,
            doc: "file to append to",
        }],
        runtime: "FileOut",
        summary: "appends each event to a file, followed by a newline",
        doc: "The file is created when missing. A write error sends the events to `failed` \
              when that queue is connected.",
    },
    KindSpec {
        name: "null",
        role: Role::Sink,
        inputs: Queues::Fixed(&["inbox"]),
        outputs: Queues::None,
        args: &[],
        runtime: "Null",
        summary: "counts and discards every event",
        doc: "Useful as a dead-letter sink or in benchmarks.",
    },
];

/// Looks a kind up by its dotted name.
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}
