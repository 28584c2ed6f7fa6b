//! The real `wbc` binary: exit codes, output formats, `fmt --check`,
//! `list` and `show`. Every run is bounded by a timeout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Exit code, stdout and stderr of one `wbc` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn wbc(args: &[&str]) -> Run {
    wbc_fed(args, None)
}

/// [`wbc`] with `input` on its standard input (none: `/dev/null`).
fn wbc_fed(args: &[&str], input: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wbc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(input.map_or_else(Stdio::null, |_| Stdio::piped()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wbc");
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        use std::io::Write as _;
        // Small enough for the pipe's buffer; dropping `stdin` ends it.
        stdin.write_all(text.as_bytes()).expect("feed wbc");
    }
    let output = finish(child);
    Run {
        code: output.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits at most 60 s for `child`, then collects its output.
fn finish(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for wbc").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wbc did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("wbc output")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn check_clean_file_exits_0_silently() {
    let run = wbc(&[
        "check",
        "examples/scenario1_one_to_one.wb",
        "examples/scenario3_failover_metrics.wb",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "");
}

#[test]
fn check_syntax_errors_exits_1_with_every_error() {
    let run = wbc(&["check", "tests/fixtures/bad/e0001_two_errors.wb"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.matches("error[E0001]").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("tests/fixtures/bad/e0001_two_errors.wb:5:23"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("error: 2 errors found\n"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no color when not on a terminal"
    );
}

#[test]
fn check_json_lines_have_exactly_the_documented_keys() {
    let run = wbc(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/bad/e0001_two_errors.wb",
        "tests/fixtures/bad/e0001_bad_unit.wb",
    ]);
    assert_eq!(run.code, 1);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    for line in &lines {
        let keys: Vec<&str> = line
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "code",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "help",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }
    assert_eq!(
        lines[0],
        serde_json::json!({
            "code": "E0001", "severity": "error", "message": "expected `:`, found `=`",
            "file": "tests/fixtures/bad/e0001_two_errors.wb", "line": 5, "column": 23,
            "end_line": 5, "end_column": 24, "help": "arguments are written `key: value`",
        })
    );
    assert_eq!(lines[1]["help"], serde_json::Value::Null);
    assert_eq!(lines[2]["file"], "tests/fixtures/bad/e0001_bad_unit.wb");
}

#[test]
fn json_columns_count_characters_not_bytes() {
    let dir = temp_dir("columns");
    let file = dir.join("unicode.wb");
    std::fs::write(&file, "a = k(s: \"ünï\", n: 1 2)\n").expect("write");
    let run = wbc(&[
        "check",
        "--format",
        "json",
        file.to_str().expect("utf-8 path"),
    ]);
    let value: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one json line");
    // `2` is the 22nd character of the line but starts at byte 24.
    assert_eq!(
        (value["column"].as_u64(), value["end_column"].as_u64()),
        (Some(22), Some(23)),
        "{value}"
    );
}

#[test]
fn unreadable_file_exits_2_with_one_line() {
    let run = wbc(&[
        "check",
        "examples/scenario1_one_to_one.wb",
        "does/not/exist.wb",
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: cannot read `does/not/exist.wb`: no such file or directory\n"
    );

    let dir = temp_dir("binary");
    let file = dir.join("binary.wb");
    std::fs::write(&file, b"a = stdin\n\xff\xfe\n").expect("write");
    let run = wbc(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("not UTF-8 text (invalid byte at offset 10)"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check"][..],
        &["check", "--format", "xml", "a.wb"],
        &["frobnicate"],
        &[],
    ] {
        let run = wbc(args);
        assert_eq!(run.code, 2, "wbc {args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty());
    }
    assert_eq!(wbc(&["--help"]).code, 0);
    assert!(wbc(&["--version"]).stdout.starts_with("wbc 0.1.0"));
}

#[test]
fn fmt_check_names_unformatted_files_and_fmt_fixes_them() {
    let dir = temp_dir("fmt");
    let messy = dir.join("messy.wb");
    let tidy = dir.join("tidy.wb");
    let messy_text =
        "input=tcp.in( port:10000, )\noutput_1 = tcp.out(port: 20000)\ninput->output_1   # send\n";
    std::fs::write(&messy, messy_text).expect("write");
    std::fs::write(&tidy, "a = stdin\n").expect("write");
    let (messy_arg, tidy_arg) = (
        messy.to_str().expect("utf-8"),
        tidy.to_str().expect("utf-8"),
    );

    let run = wbc(&["fmt", "--check", messy_arg, tidy_arg]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, format!("{messy_arg}\n"));
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        messy_text,
        "--check changes nothing"
    );

    let run = wbc(&["fmt", messy_arg, tidy_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&messy).expect("read"),
        "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\ninput -> output_1 # send\n"
    );
    assert_eq!(wbc(&["fmt", "--check", messy_arg, tidy_arg]).code, 0);
}

#[test]
fn fmt_leaves_files_with_syntax_errors_alone() {
    let dir = temp_dir("fmt-bad");
    let bad = dir.join("bad.wb");
    let text = "a   =   stdin\na b\n";
    std::fs::write(&bad, text).expect("write");
    let run = wbc(&["fmt", bad.to_str().expect("utf-8")]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("error[E0001]: expected `=` or `->`, found `b`"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&bad).expect("read"), text);
}

#[test]
fn list_prints_every_kind() {
    let run = wbc(&["list"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.lines().count(),
        wbc::catalog::KINDS.len() + 1,
        "a header and one line per kind"
    );
    insta::assert_snapshot!("list", run.stdout);
}

#[test]
fn show_prints_arguments_queues_and_doc() {
    for kind in ["tcp.out", "roundrobin"] {
        let run = wbc(&["show", kind]);
        assert_eq!(run.code, 0);
        insta::assert_snapshot!(format!("show_{kind}"), run.stdout);
    }
}

#[test]
fn show_unknown_kind_suggests_the_nearest() {
    let run = wbc(&["show", "tcp.outt"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: unknown module kind `tcp.outt`\nhelp: did you mean `tcp.out`?\nnote: `wbc list` prints every kind\n"
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let dir = temp_dir("warnings");
    let file = dir.join("unused.wb");
    std::fs::write(
        &file,
        "input  = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\nspare  = tcp.out(port: 20001)\ninput -> output\n",
    )
    .expect("write");
    let path = file.to_str().expect("utf-8");

    let run = wbc(&["check", path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning[W0001]: module `spare` is never used"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("warning: 1 warning emitted\n"),
        "{}",
        run.stderr
    );

    let run = wbc(&["check", "--deny-warnings", path]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .ends_with("error: 1 warning denied by `--deny-warnings`\n"),
        "{}",
        run.stderr
    );

    let run = wbc(&["check", "--format", "json", "--deny-warnings", path]);
    assert_eq!(run.code, 1);
    let value: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("one json line");
    assert_eq!(
        (value["code"].as_str(), value["severity"].as_str()),
        (Some("W0001"), Some("warning"))
    );
    assert_eq!(run.stderr, "", "json mode prints nothing else");
}

#[test]
fn check_reports_checker_errors_of_every_file() {
    let dir = temp_dir("semantic");
    let typo = dir.join("typo.wb");
    std::fs::write(
        &typo,
        "input    = tcp.in(port: 10000)\noutput_1 = tcp.out(port: 20000)\ninput -> outptu_1\n",
    )
    .expect("write");
    let run = wbc(&[
        "check",
        "--format",
        "json",
        "examples/scenario2_roundrobin.wb",
        typo.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 1);
    let codes: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["code"]
                .as_str()
                .expect("code")
                .to_string()
        })
        .collect();
    assert!(codes.contains(&"E0007".to_string()), "{}", run.stdout);
    assert!(
        run.stdout.contains("did you mean `output_1`?"),
        "{}",
        run.stdout
    );
}

#[test]
fn closed_stdout_is_not_a_panic() {
    // Like `wbc list | head -0`: the reader is gone before wbc writes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wbc"))
        .arg("list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wbc");
    drop(child.stdout.take());
    let output = finish(child);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
    assert_eq!(output.status.code(), Some(0));
}

/// `-` is standard input for the commands that read a routing file and
/// print: `check` names it `<stdin>`, `fmt -` writes the formatted text to
/// stdout (as editors call formatters), `expand -` prints the table; `build`
/// and `run`, which name the binary after the file, refuse it with help.
#[test]
fn a_dash_reads_standard_input() {
    let bad = "a = tcp.in(port: 1)\na -> zz\n";
    let r = wbc_fed(&["check", "-"], Some(bad));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("┌─ <stdin>:2:6"), "{}", r.stderr);
    assert!(
        r.stderr.contains("module `zz` is not declared"),
        "{}",
        r.stderr
    );

    let r = wbc_fed(&["check", "--format", "json", "-"], Some(bad));
    assert!(r.stdout.contains("\"file\":\"<stdin>\""), "{}", r.stdout);

    let messy = "a=tcp.in(port:1)\nb = null\na->b\n";
    let r = wbc_fed(&["fmt", "-"], Some(messy));
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(r.stdout, "a = tcp.in(port: 1)\nb = null\na -> b\n");
    let r = wbc_fed(&["fmt", "-"], Some(&r.stdout));
    assert_eq!(
        r.stdout, "a = tcp.in(port: 1)\nb = null\na -> b\n",
        "formatted text is printed unchanged"
    );

    let r = wbc_fed(&["fmt", "--check", "-"], Some(messy));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (1, "<stdin>\n"),
        "{}",
        r.stderr
    );

    let r = wbc_fed(&["expand", "-"], Some(messy));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("a.outbox -> b.inbox"), "{}", r.stdout);

    for command in ["build", "run"] {
        let r = wbc_fed(&[command, "-"], Some(messy));
        assert_eq!(r.code, 2, "{command}: {}", r.stderr);
        assert!(
            r.stderr.contains("error: `wbc build` and `wbc run` build a routing file, not standard input\nhelp: save the routing to a file"),
            "{command}: {}",
            r.stderr
        );
    }
}
