//! `wbc build` and `wbc run` as a user meets them: the real binary, a
//! shared cache (`target/wbc-test-cache`, offline), real proxies.
//!
//! The seed scenarios themselves are in `scenarios.rs`; this file covers
//! the command: checking first, reuse of unchanged builds, `--emit-crate`,
//! `--version`, `run` with arguments and exit codes, and cargo failures.

#[path = "e2e/mod.rs"]
mod e2e;

use std::ffi::OsStr;
use std::fs;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use e2e::{cache_dir, free_port, sha256_hex, temp_dir, wbc, Options, Run, BUILD_TIMEOUT};

fn one_to_one(input: u16, output: u16) -> String {
    format!("input = tcp.in(port: {input})\noutput = tcp.out(port: {output})\ninput -> output\n")
}

fn args<'a>(list: &'a [&'a str]) -> Vec<&'a OsStr> {
    list.iter().map(OsStr::new).collect()
}

/// Errors stop the build before any code is generated: exit 1, the same
/// diagnostics as `wbc check`, no binary, no cargo.
#[test]
fn file_with_errors_is_not_built() {
    let dir = temp_dir("build-errors");
    fs::write(
        dir.join("bad.wb"),
        "input = tcp.in()\noutput = tcp.out(port: 20000)\ninput -> ouptut\n",
    )
    .unwrap();
    let build = wbc(
        &args(&["build", "bad.wb"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    let check = wbc(
        &args(&["check", "bad.wb"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(build.code, Some(1), "{}", build.stderr);
    assert!(
        build.stderr.contains("E0005") && build.stderr.contains("E0007"),
        "{}",
        build.stderr
    );
    // Every diagnostic block of `wbc check` appears verbatim.
    let diagnostics = check
        .stderr
        .rsplit_once("\nerror: ")
        .map_or(check.stderr.as_str(), |(d, _)| d);
    assert!(
        build.stderr.contains(diagnostics),
        "check:\n{}\nbuild:\n{}",
        check.stderr,
        build.stderr
    );
    assert!(
        build
            .stderr
            .contains("could not build `bad.wb` due to 2 errors"),
        "{}",
        build.stderr
    );
    assert!(
        !build.stderr.contains("Compiling"),
        "cargo must not run:\n{}",
        build.stderr
    );
    assert!(!dir.join("bad").exists(), "no binary is written");
}

/// Warnings are printed like errors but do not stop the build; an unused
/// module is simply not instantiated.
#[test]
fn warnings_are_shown_and_do_not_stop_the_build() {
    let dir = temp_dir("build-warnings");
    let routing = format!("{}spare = null\n", one_to_one(free_port(), free_port()));
    fs::write(dir.join("warn.wb"), routing).unwrap();
    let build = wbc(
        &args(&["build", "warn.wb", "--emit-crate", "crate"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(build.code, Some(0), "{}", build.stderr);
    says(&build, "warning[W0001]: module `spare` is never used");
    assert!(dir.join("warn").is_file());
    let main_rs = fs::read_to_string(dir.join("crate/src/main.rs")).unwrap();
    assert!(
        !main_rs.contains("\"spare\"") && !main_rs.contains("Null"),
        "{main_rs}"
    );
}

/// The default output is the file's stem in the current directory (or in
/// the directory `-o` names); a second build of the unchanged file reuses
/// the cached binary; the binary
/// names its routing file and that file's sha256 in `--version`.
#[test]
fn unchanged_file_is_reused_and_version_names_the_file() {
    let dir = temp_dir("build-reuse");
    let routing = one_to_one(free_port(), free_port());
    fs::write(dir.join("relay.wb"), &routing).unwrap();
    let first = wbc(
        &args(&["build", "relay.wb"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(dir.join("relay").is_file(), "binary at ./relay");

    // Into an existing directory this time.
    fs::remove_file(dir.join("relay")).unwrap();
    fs::create_dir(dir.join("bin")).unwrap();
    let second = wbc(
        &args(&["build", "relay.wb", "-o", "bin"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(second.stderr.contains("Up to date"), "{}", second.stderr);
    assert!(!second.stderr.contains("Compiling"), "{}", second.stderr);

    let version = Command::new(dir.join("bin/relay"))
        .arg("--version")
        .output()
        .expect("run --version");
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success());
    assert!(
        text.contains("relay.wb") && text.contains(&sha256_hex(routing.as_bytes())),
        "{text}"
    );
}

/// The cache does not grow without end: a build removes crates no build
/// has used for 30 days, with their artifacts in the shared target
/// directory, and compiled runtimes whose runtime copy is gone; a build
/// that reuses a binary marks it used.
#[test]
fn cache_drops_builds_unused_for_thirty_days() {
    let dir = temp_dir("build-prune");
    let cache = cache_dir();
    let days_ago = |days: u64| SystemTime::now() - Duration::from_secs(days * 86_400);
    let set_time = |path: &std::path::Path, when: SystemTime| {
        fs::File::open(path).unwrap().set_modified(when).unwrap();
    };
    // What an earlier build left: a crate last used 40 days ago, and one of
    // cargo's artifacts for it.
    let stale = format!("wb-stale{}-{:016x}", std::process::id(), 0xdead_u64);
    let stale_dir = cache.join("proxies").join(&stale);
    fs::create_dir_all(stale_dir.join("src")).unwrap();
    fs::write(stale_dir.join("Cargo.toml"), "[package]\n").unwrap();
    fs::write(stale_dir.join(&stale), b"old binary").unwrap();
    set_time(&stale_dir.join(&stale), days_ago(40));
    let artifact = cache
        .join("target/release/deps")
        .join(format!("{}-0123abcd", stale.replace('-', "_")));
    fs::create_dir_all(artifact.parent().unwrap()).unwrap();
    fs::write(&artifact, b"old artifact").unwrap();
    // And a compiled runtime whose copy an earlier wbc's pass removed.
    let deps = cache.join("target/release/deps");
    let gone_runtime = cache.join(format!("runtime-gone{}", std::process::id()));
    let old_hash = format!("0ld{}", std::process::id());
    let old_lib = deps.join(format!("libwbc_runtime-{old_hash}.rlib"));
    let old_dep_info = deps.join(format!("wbc_runtime-{old_hash}.d"));
    fs::write(&old_lib, b"old runtime").unwrap();
    fs::write(
        &old_dep_info,
        format!(
            "{}: {}\n",
            old_lib.display(),
            gone_runtime.join("src/lib.rs").display()
        ),
    )
    .unwrap();

    let name = format!("prune{}", std::process::id());
    fs::write(
        dir.join(format!("{name}.wb")),
        one_to_one(free_port(), free_port()),
    )
    .unwrap();
    let build = || {
        let run = wbc(
            &args(&["build", &format!("{name}.wb")]),
            &dir,
            BUILD_TIMEOUT,
            Options::default(),
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        run
    };
    // Tests share the cache and build at the same time, so another test's
    // build may be the one that prunes: what is checked is that it is gone.
    build();
    assert!(!stale_dir.exists(), "the stale crate is removed");
    assert!(!artifact.exists(), "its artifact is removed");
    assert!(
        !old_lib.exists() && !old_dep_info.exists(),
        "the compiled runtime of a removed copy is removed"
    );

    // Our own crate, reused 10 days after it was last used, is used now.
    let ours = fs::read_dir(cache.join("proxies"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("wb-{name}-")))
        })
        .expect("the build's crate is in the cache");
    let binary = ours.join(ours.file_name().unwrap());
    set_time(&binary, days_ago(10));
    let second = build();
    assert!(second.stderr.contains("Up to date"), "{}", second.stderr);
    let age = fs::metadata(&binary)
        .unwrap()
        .modified()
        .unwrap()
        .elapsed()
        .unwrap_or_default();
    assert!(
        age < Duration::from_secs(600),
        "touched on reuse: {age:?} old"
    );
}

/// `--emit-crate DIR` writes a crate that builds with plain cargo: the
/// generated `main.rs` plus its own copy of the runtime.
#[test]
fn emitted_crate_builds_with_plain_cargo() {
    let dir = temp_dir("build-emit");
    let routing = one_to_one(free_port(), free_port());
    fs::write(dir.join("emit.wb"), &routing).unwrap();
    let run = wbc(
        &args(&["build", "emit.wb", "--emit-crate", "crate", "-o", "bin"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let krate = dir.join("crate");
    let graph = wbc::check::check_source(&routing).graph.expect("checks");
    let expected = wbc::codegen::generate(
        &graph,
        &wbc::codegen::SourceInfo::new("emit.wb", routing.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        fs::read_to_string(krate.join("src/main.rs")).unwrap(),
        expected
    );
    assert!(krate.join("wbc-runtime/src/lib.rs").is_file() && krate.join("Cargo.lock").is_file());

    // Same target directory as the cache: tokio is not compiled again.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--release", "--offline", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(cache_dir().join("target"))
        .env_remove("CARGO_TARGET_DIR")
        .spawn()
        .expect("run cargo");
    let status = e2e::wait_exit(&mut child, BUILD_TIMEOUT).expect("cargo finished");
    assert!(status.success(), "cargo build of the emitted crate failed");
}

/// `wbc run` builds and runs in the foreground: stdin/stdout pass through,
/// `-- ARGS` reach the proxy, and the proxy's exit code is wbc's.
#[test]
fn run_passes_io_args_and_exit_code() {
    let dir = temp_dir("run");
    let example = e2e::workspace().join("examples/stdin_to_stdout.wb");
    let example = example.to_str().unwrap();
    let input = b"first\nsecond\n\xffbinary\n";
    let piped = wbc(
        &args(&["run", example]),
        &dir,
        BUILD_TIMEOUT,
        Options {
            stdin: Some(input),
            ..Options::default()
        },
    );
    assert_eq!(piped.code, Some(0), "{}", piped.stderr);
    assert_eq!(piped.stdout, input, "bytes pass through untouched");

    let version = wbc(
        &args(&["run", example, "--", "--version"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(version.code, Some(0), "{}", version.stderr);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(text.contains("stdin_to_stdout.wb"), "{text}");
    assert!(
        version.stderr.contains("Up to date"),
        "unchanged file, no rebuild:\n{}",
        version.stderr
    );

    // A port already in use: the proxy exits 1 naming module and address.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    fs::write(
        dir.join("busy.wb"),
        format!("input = tcp.in(port: {port})\nsink = stdout\ninput -> sink\n"),
    )
    .unwrap();
    let busy = wbc(
        &args(&["run", "busy.wb"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(busy.code, Some(1), "{}", busy.stderr);
    assert!(
        busy.stderr.contains("input") && busy.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        busy.stderr
    );
    assert!(!busy.stderr.contains("panicked"), "{}", busy.stderr);
}

/// `--debug` builds with cargo's dev profile; the proxy works the same.
#[test]
fn debug_build_works() {
    let dir = temp_dir("debug");
    let example = e2e::workspace().join("examples/stdin_to_stdout.wb");
    let example = example.to_str().unwrap();
    let build = wbc(
        &args(&["build", "--debug", example, "-o", "dbg"]),
        &dir,
        BUILD_TIMEOUT,
        Options::default(),
    );
    assert_eq!(build.code, Some(0), "{}", build.stderr);
    assert!(
        !build.stderr.contains("`release` profile"),
        "{}",
        build.stderr
    );
    let mut child = Command::new(dir.join("dbg"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start debug proxy");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"debug\n").unwrap();
    let status = e2e::wait_exit(&mut child, std::time::Duration::from_secs(30))
        .expect("exits at end of input");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success());
    assert_eq!(out, b"debug\n");
}

/// A string that tries to close the generated literal is compiled into a
/// proxy that treats it as data: file.out creates a file with exactly that
/// name and writes the events into it.
#[test]
fn hostile_string_is_data_in_the_built_proxy() {
    let dir = temp_dir("hostile");
    // No `/`: the text is a file name, and `//` would make it a path.
    let name = "out\"); std::process::exit(1); r#\"ü\\.log";
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    let routing = format!("source = stdin\ndead = file.out(path: \"{escaped}\")\nsource -> dead\n");
    fs::write(dir.join("hostile.wb"), routing).unwrap();
    let options = Options {
        stdin: Some(b"one\ntwo\n"),
        ..Options::default()
    };
    let run = wbc(&args(&["run", "hostile.wb"]), &dir, BUILD_TIMEOUT, options);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let written =
        fs::read(dir.join(name)).unwrap_or_else(|e| panic!("file {name:?}: {e}\n{}", run.stderr));
    assert_eq!(written, b"one\ntwo\n");
}

/// cargo missing or failing is one clear error with a `help:`, exit 1.
#[test]
fn cargo_failure_is_a_clear_error() {
    let dir = temp_dir("cargo-fails");
    // A routing file no other test builds, so nothing is reused.
    fs::write(dir.join("never.wb"), one_to_one(free_port(), free_port())).unwrap();
    let build_with = |cargo: &str| {
        let env = [("CARGO", cargo)];
        let options = Options {
            env: &env,
            ..Options::default()
        };
        wbc(&args(&["build", "never.wb"]), &dir, BUILD_TIMEOUT, options)
    };
    let missing = build_with("/nonexistent/cargo");
    assert_eq!(missing.code, Some(1), "{}", missing.stderr);
    says(&missing, "error: cannot run `/nonexistent/cargo`");
    says(&missing, "help: install Rust");

    let failing = build_with("false");
    assert_eq!(failing.code, Some(1), "{}", failing.stderr);
    says(&failing, "error: cargo failed to build the generated proxy");
    says(&failing, "help: the generated crate is kept in");
    assert!(!dir.join("never").exists());
}

fn says(run: &Run, text: &str) {
    assert!(
        run.stderr.contains(text),
        "expected {text:?} in:\n{}",
        run.stderr
    );
}

/// Benchmark, not a test: the time of a warm `wbc build` of a changed
/// routing file (target: under 10 s on a 2-core machine).
/// `cargo test -p wbc --test build -- --ignored --nocapture warm_build`
#[test]
#[ignore]
fn warm_build_of_a_changed_file() {
    let dir = temp_dir("warm-build");
    let build = |routing: &str| {
        fs::write(dir.join("warm.wb"), routing).unwrap();
        let started = Instant::now();
        let run = wbc(
            &args(&["build", "warm.wb"]),
            &dir,
            BUILD_TIMEOUT,
            Options::default(),
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        started.elapsed()
    };
    // Seed scenario III (the largest example), with new ports each time.
    let scenario3 = || {
        let ports = [(10000, free_port()), (20000, free_port())];
        e2e::example_with_ports("scenario3_failover_metrics.wb", &ports)
    };
    build(&scenario3()); // warms the cache
    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(build(&scenario3()));
    }
    times.sort();
    let shown: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}s", t.as_secs_f64()))
        .collect();
    println!(
        "warm build of a changed routing file: median {:.2}s (runs: {})",
        times[1].as_secs_f64(),
        shown.join(", ")
    );
}
