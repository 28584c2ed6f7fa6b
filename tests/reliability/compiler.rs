//! The compiler under hostile routing files, through the real `wbc` binary.
//!
//! What the library-level tests already cover is not repeated here:
//! tests/codegen.rs snapshots the generated code of injection attempts,
//! tests/language.rs runs the parser on random and mutated files
//! (proptest; long run: `PROPTEST_CASES=200000 cargo test -p wbc --test
//! language --release never_panics`) and on the size limits in-process,
//! tests/diagnostics/random_files.rs does the same for the checker. This
//! file adds what only the binaries can show: an injection attempt that is
//! built AND run (its strings are data in a working proxy, its names Rust
//! keywords), and the limits through `wbc check`'s own process (no stack
//! overflow, no panic, a clear exit status).

use std::fs;
use std::time::{Duration, Instant};

use crate::e2e::sink::Sink;
use crate::e2e::{build, free_port, send, temp_dir, wait_until, wbc, Options, Proxy};

/// `text` as a `.wb` string literal.
fn wb_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A file name and a graphite prefix that try to close the string literal
/// they are generated into, open a raw string, comment out the rest, and
/// carry non-ASCII text.
const FILE_NAME: &str = "q\"uote\"); std::process::exit(1); r#\"ü\\n.log";
const PREFIX: &str = "pre\"fix\"); std::process::exit(1); //ü";

/// Every module named with a Rust keyword (`fn`, `type`, `crate`, `super`,
/// `self`, `async`, `Self`; queues `loop`, `impl`, `dyn`), the file.out path
/// ending in [`FILE_NAME`] and the graphite prefix [`PREFIX`].
fn injection_routing(input: u16, sink: u16, carbon: u16, path: &str) -> String {
    format!(
        "fn    = tcp.in(port: {input})\n\
         type  = fanout\n\
         crate = tcp.out(port: {sink})\n\
         super = file.out(path: {})\n\
         self  = metrics.graphite(interval: 200ms, prefix: {})\n\
         async = tcp.out(port: {carbon})\n\
         Self  = null\n\
         fn -> type\n\
         type.loop -> crate\n\
         type.impl -> super\n\
         type.dyn -> Self\n\
         self -> async\n",
        wb_string(path),
        wb_string(PREFIX)
    )
}

/// The generated `main.rs` of the injection routing file, for review: the
/// hostile texts appear only inside string literals.
#[test]
fn injection_routing_generated_code_snapshot() {
    let path = format!("/var/log/{FILE_NAME}");
    let src = injection_routing(10000, 20000, 2003, &path);
    let checked = wbc::check::check_source(&src);
    let graph = checked.graph.expect("the injection routing file checks");
    let info = wbc::codegen::SourceInfo::new("injection.wb", src.as_bytes());
    let code = wbc::codegen::generate(&graph, &info).expect("code generation");
    // With the other snapshots in tests/snapshots, named after this target.
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("reliability__injection_built_and_run_main_rs", code);
    });
}

/// Module and queue names that are Rust keywords, strings that close the
/// literal, open raw strings, comment out the rest of the line and carry
/// non-ASCII text: the proxy builds, runs, and uses them as data (the file
/// it appends to has exactly that name; graphite lines start with that
/// prefix, made one safe path component).
#[test]
fn injection_attempts_build_into_a_proxy_that_treats_them_as_data() {
    let dir = temp_dir("injection");
    let (input, sink_port, carbon_port) = (free_port(), free_port(), free_port());
    let path = dir.join(FILE_NAME);
    let routing = injection_routing(input, sink_port, carbon_port, &path.display().to_string());
    let binary = build(&dir, &routing);
    let (sink, carbon) = (Sink::listen(sink_port), Sink::listen(carbon_port));
    let proxy = Proxy::start(&binary, input);
    let data: String = (0..100).map(|i| format!("data \"{i}\"); //\n")).collect();
    send(input, data.as_bytes());
    let arrived = wait_until(Duration::from_secs(30), || {
        sink.lines() >= 100
            && fs::read(&path).map(|f| f.len()).unwrap_or(0) >= data.len()
            && carbon.lines() > 0
    });
    assert!(arrived, "events did not arrive\n{}", proxy.log());
    let (status, log) = proxy.terminate();
    assert!(status.success(), "exit {status}\n{log}");
    let (to_sink, metrics) = (sink.finish(), carbon.finish());
    let appended = fs::read(&path).expect("the file with the hostile name");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    // Graphite paths are dot-separated: the module makes the prefix one
    // safe component (anything but ASCII alphanumerics, `_` and `-` becomes
    // `_`), so the text cannot add path levels or fields to a line.
    let prefix: String = PREFIX
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                true => c,
                false => '_',
            },
        )
        .collect();
    let prefixed = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix}.")))
        .count();
    println!(
        "figures injection_built_and_run: sent=100 delivered={} duplicated=0 lost={} \
         file_bytes={} graphite_lines_with_prefix={prefixed}",
        to_sink.iter().filter(|b| **b == b'\n').count(),
        100 - to_sink.iter().filter(|b| **b == b'\n').count(),
        appended.len()
    );
    assert_eq!(to_sink, data.as_bytes());
    assert_eq!(appended, data.as_bytes());
    assert!(
        prefixed > 0,
        "no graphite line starts with the prefix:\n{metrics}"
    );
    assert!(
        metrics.contains(&format!("{prefix}.queue.fn.outbox.in 100 ")),
        "{metrics}"
    );
}

/// Runs `wbc check` on `src` (written to `name`); `(exit code, stderr, seconds)`.
fn check(name: &str, src: &str) -> (Option<i32>, String, f64) {
    let dir = temp_dir("limits");
    let file = dir.join(name);
    fs::write(&file, src).expect("write routing file");
    let started = Instant::now();
    let run = wbc(
        &["check".as_ref(), file.as_os_str()],
        &dir,
        Duration::from_secs(180),
        Options::default(),
    );
    (run.code, run.stderr, started.elapsed().as_secs_f64())
}

fn assert_no_crash(case: &str, stderr: &str) {
    for word in ["panicked", "overflow", "backtrace", "SIGSEGV"] {
        assert!(
            !stderr.contains(word),
            "{case}: `{word}` in stderr:\n{}",
            &stderr[..stderr.len().min(2000)]
        );
    }
}

/// A valid 10 MB routing file: 5,000 file.out modules with 2 KB paths in
/// one fanout. Checked in one run, exit 0.
#[test]
fn ten_megabyte_file_checks() {
    let mut src = String::from("input = tcp.in(port: 10000)\ninput -> fanout(\n");
    let count = 5_000;
    for i in 0..count {
        src.push_str(&format!("    n_{i},\n"));
    }
    src.push_str(")\n");
    let pad = "p".repeat(2_000);
    for i in 0..count {
        src.push_str(&format!(
            "n_{i} = file.out(path: \"/var/log/{pad}/{i}.log\")\n"
        ));
    }
    assert!(src.len() >= 10_000_000);
    let (code, stderr, secs) = check("big.wb", &src);
    println!(
        "figures limit_10_mb_file: bytes={} exit={code:?} seconds={secs:.1}",
        src.len()
    );
    assert_no_crash("10 MB", &stderr);
    assert_eq!(code, Some(0), "{}", &stderr[..stderr.len().min(2000)]);
}

/// 10,000 nested flow expressions: one E0001 naming the limit, exit 1.
#[test]
fn ten_thousand_levels_of_nesting_are_one_error() {
    let src = format!(
        "a = tcp.in(port: 1)\nb = null\na -> {}b{}\n",
        "roundrobin(".repeat(10_000),
        ")".repeat(10_000)
    );
    let (code, stderr, secs) = check("deep.wb", &src);
    let errors = stderr.lines().filter(|l| l.starts_with("error[")).count();
    println!("figures limit_nesting_10000: exit={code:?} errors={errors} seconds={secs:.1}");
    assert_no_crash("nesting", &stderr);
    assert_eq!(code, Some(1));
    assert_eq!(errors, 1, "{stderr}");
    assert!(
        stderr.contains("error[E0001]: parentheses nested more than 256 levels deep"),
        "{stderr}"
    );
}

/// A 100,000-character module name: accepted where it is valid (exit 0), and
/// where it is a syntax error the message stays short.
#[test]
fn hundred_thousand_character_name() {
    let name = "n".repeat(100_000);
    let good = format!("{name} = stdin\nout = stdout\n{name} -> out\n");
    let (code, stderr, secs) = check("long-name.wb", &good);
    println!("figures limit_name_100000: exit={code:?} seconds={secs:.1}");
    assert_no_crash("long name", &stderr);
    assert_eq!(code, Some(0), "{}", &stderr[..stderr.len().min(2000)]);

    let bad = format!("a = stdin {name}\n");
    let (code, stderr, _) = check("long-name-error.wb", &bad);
    assert_no_crash("long name error", &stderr);
    assert_eq!(code, Some(1));
    let message = stderr
        .lines()
        .find(|l| l.starts_with("error["))
        .unwrap_or_default();
    assert!(
        !message.is_empty() && message.len() < 300,
        "message: {}",
        &message[..message.len().min(500)]
    );
}
