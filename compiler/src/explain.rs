//! `wbc explain CODE`: the long form of every diagnostic code, in the
//! manner of `rustc --explain`: what the problem is, a routing file that
//! has it and the same file corrected.
//!
//! The examples are real routing files: a test in tests/diagnostics.rs
//! checks that every `wrong` example reports its code and every `fixed`
//! example checks clean, so the text cannot drift from the checker.

use crate::diagnostic::Code;

pub struct Explanation {
    pub code: Code,
    /// What the code means, as a paragraph.
    pub text: &'static str,
    /// A routing file that reports `code`.
    pub wrong: &'static str,
    /// The same file, corrected: it checks clean.
    pub fixed: &'static str,
}

/// The explanation of `code` (a test makes sure every code has one).
pub fn explanation(code: Code) -> Option<&'static Explanation> {
    EXPLANATIONS.iter().find(|e| e.code == code)
}

/// The text `wbc explain` prints.
pub fn render(e: &Explanation) -> String {
    let indent = |src: &str| {
        src.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "{}\n\nErroneous example:\n\n{}\nCorrected:\n\n{}",
        wrap(&format!("{}: {}", e.code.as_str(), e.text), 79),
        indent(e.wrong),
        indent(e.fixed)
    )
}

/// Breaks `text` into lines of at most `width` columns, between words.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

pub static EXPLANATIONS: &[Explanation] = &[
    Explanation {
        code: Code::E0001,
        text: "The file does not follow the grammar. The message says what was expected at \
               that point. A statement is one line: a declaration `NAME = KIND(key: value)` or \
               a route `SOURCE -> TARGET`; it continues on the next line only after `->`, `,` \
               or `(`.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput => output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0002,
        text: "A declaration names a module kind that does not exist. `wbc list` prints every \
               kind; `wbc show KIND` describes one.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.ot(port: 20000)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0003,
        text: "Two declarations use the same module name. Every module needs its own name, \
               because routes refer to modules by name.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\n\
                output = tcp.out(port: 20001)\ninput -> output\n",
        fixed: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\n\
                output_2 = tcp.out(port: 20001)\ninput -> fanout(output_1, output_2)\n",
    },
    Explanation {
        code: Code::E0004,
        text: "A declaration gives an argument that its kind does not take, often a typo. \
               `wbc show KIND` lists the arguments a kind takes.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, retry: 1s)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, reconnect: 1s)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0005,
        text: "A declaration leaves out an argument that has no default, such as the `port` of \
               a `tcp.in` or `tcp.out`, or the `path` of a `file.out`.",
        wrong: "input  = tcp.in(host: \"0.0.0.0\")\noutput = tcp.out(port: 20000)\ninput -> output\n",
        fixed: "input  = tcp.in(host: \"0.0.0.0\", port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0006,
        text: "An argument value has the wrong type or is out of range. Ports are integers from \
               1 to 65535; durations need a unit (`250ms`, `1s`, `5m`) and must be greater than \
               zero (but for `tcp.out`'s `linger`, where `0ms` means no wait); byte sizes need a unit (`512B`, `64KiB`, `1MiB`); strings are quoted; \
               booleans are `true` or `false`.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, reconnect: 500)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, reconnect: 500ms)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0007,
        text: "A route names a module that no declaration declares. Declarations may come \
               before or after the routes that use them, but they must exist.",
        wrong: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\ninput -> outptu_1\n",
        fixed: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\ninput -> output_1\n",
    },
    Explanation {
        code: Code::E0008,
        text: "A route names a queue that the module's kind does not have. A `tcp.in` only has \
               an `outbox`; a `tcp.out` has an `inbox` and a `failed` queue; a `stdout` only an \
               `inbox`. A plain name means the `outbox` as a source and the `inbox` as a \
               target, so a module in the middle of a chain `a -> b -> c` must have both. A \
               `metrics.prometheus` has no queues at all: declare it on its own, in no route.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput.inbox -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput.outbox -> output\n",
    },
    Explanation {
        code: Code::E0009,
        text: "A queue is used in the wrong direction: an input queue (an `inbox`) as the \
               source of a route, or an output queue (an `outbox` or `failed`) as a target. \
               Likewise `roundrobin(...)` and `fanout(...)` only take events in (they are \
               targets) and `funnel(...)` only sends them on (it is a source).",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output.failed\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output.inbox\n",
    },
    Explanation {
        code: Code::E0010,
        text: "A named queue is connected more than once. Each queue is one connection, so \
               that what happens to its events is explicit: to send every event of a queue to \
               several targets use `fanout(...)`, to spread them use `roundrobin(...)`, and to \
               merge several sources into one queue use `funnel(...)`.",
        wrong: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\n\
                output_2 = tcp.out(port: 20001)\ninput -> output_1\ninput -> output_2\n",
        fixed: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\n\
                output_2 = tcp.out(port: 20001)\ninput -> fanout(output_1, output_2)\n",
    },
    Explanation {
        code: Code::E0011,
        text: "An output queue that events reach is connected nowhere, so its events would \
               pile up: the `outbox` of a `tcp.in`, a `failed` queue enabled with \
               `failed: true`, or a roundrobin, fanout or funnel without outputs. Connect it, \
               or remove what feeds it.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, failed: true)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, failed: true)\n\
                dead   = file.out(path: \"dead-letter.log\")\ninput -> output\noutput.failed -> dead\n",
    },
    Explanation {
        code: Code::E0012,
        text: "Two modules that listen (`tcp.in`, `metrics.prometheus`) ask for the same \
               host and port; the second could not start. A listener on `0.0.0.0` also takes \
               every other address of the machine.",
        wrong: "web    = tcp.in(port: 10000)\napi    = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\n\
                funnel(web, api) -> output\n",
        fixed: "web    = tcp.in(port: 10000)\napi    = tcp.in(port: 10001)\noutput = tcp.out(port: 20000)\n\
                funnel(web, api) -> output\n",
    },
    Explanation {
        code: Code::E0013,
        text: "Connections form a cycle, so events would go round forever. The only loop \
               allowed is one that passes through a `failed` queue, as `roundrobin(...) \
               fallback funnel` builds: failed events go back to the roundrobin, which sends \
               them to a member that is up.",
        wrong: "input  = tcp.in(port: 10000)\nmerge  = funnel\nrr     = roundrobin\n\
                output = tcp.out(port: 20000)\ninput -> merge -> rr\nrr.one -> output\nrr.two -> merge\n",
        fixed: "input  = tcp.in(port: 10000)\nmerge  = funnel\nrr     = roundrobin\n\
                output = tcp.out(port: 20000)\ninput -> merge -> rr\nrr.one -> output\noutput.failed -> merge\n",
    },
    Explanation {
        code: Code::E0014,
        text: "A declaration gives the same argument twice; only one value can apply.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000, port: 20001)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20001)\ninput -> output\n",
    },
    Explanation {
        code: Code::E0015,
        text: "A `fallback` is attached where it cannot work. Only the members of a \
               `roundrobin(...)` or `fanout(...)` can fail to deliver, and each member must be \
               a module with a `failed` queue. `fallback funnel` is for roundrobins: on a \
               fanout it would send failed events to every member again; give a fanout a \
               `fallback TARGET` instead.",
        wrong: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\n\
                output_2 = tcp.out(port: 20001)\ninput -> fanout(output_1, output_2) fallback funnel\n",
        fixed: "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\n\
                output_2 = tcp.out(port: 20001)\ndead     = file.out(path: \"dead-letter.log\")\n\
                input -> fanout(output_1, output_2) fallback dead\n",
    },
    Explanation {
        code: Code::W0001,
        text: "A module is declared but no route sends events to it (or it is not used at \
               all), so it does nothing. Connect it or remove the declaration.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\nspare  = tcp.out(port: 20001)\n\
                input -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
    Explanation {
        code: Code::W0002,
        text: "A `tcp.out` sends to an address where a `tcp.in` of the same file listens, so \
               the proxy would send events to itself. This is usually a wrong port; to pass \
               events from one module to another, write a route.",
        wrong: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 10000)\ninput -> output\n",
        fixed: "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
    Explanation {
        code: Code::W0003,
        text: "The file declares no module (it is empty, or holds only comments), so the \
               proxy built from it would listen nowhere and send nothing. This is usually the \
               wrong file, or one truncated by mistake.",
        wrong: "# relay for the web tier\n",
        fixed: "# relay for the web tier\ninput  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n",
    },
];
