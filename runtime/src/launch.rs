//! The `main` of every generated proxy: flags, logging, tokio runtime,
//! wiring, signals, drain, exit code.
//!
//! Exit codes: 0 after a clean drain (or `--help`/`--version`); 1 when a
//! module cannot start or events were left undelivered (drain timeout, second
//! signal); 2 for a bad flag.

use std::ffi::OsString;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::proxy::{Proxy, ProxyInfo, ProxyOptions, StartError};

/// Parses the process's flags, then runs the proxy; see [`launch_with_args`].
pub fn launch<W>(info: ProxyInfo, wire: W) -> ExitCode
where
    W: FnOnce(&mut Proxy) -> Result<(), StartError>,
{
    launch_with_args(info, std::env::args_os().skip(1), wire)
}

/// [`launch`] with explicit flags (without the program name), for tests that
/// run a hand-wired proxy as a child process.
pub fn launch_with_args<W, I>(info: ProxyInfo, args: I, wire: W) -> ExitCode
where
    W: FnOnce(&mut Proxy) -> Result<(), StartError>,
    I: IntoIterator<Item = OsString>,
{
    let flags = match parse_flags(args) {
        Ok(Command::Run(flags)) => flags,
        Ok(Command::Help) => {
            print!("{}", help(&info));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!(
                "{} (built from {}, sha256 {}, by {})",
                binary_name(),
                info.source,
                info.sha256,
                info.compiler
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n  = help: run with `--help` to see the flags");
            return ExitCode::from(2);
        }
    };
    init_tracing(&flags.log_level);
    crate::allocator::tune();
    match crate::fd_limit::raise() {
        Ok((before, after)) if after > before => {
            tracing::debug!("open-file limit raised from {before} to {after}, the hard limit")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(
            "cannot raise the open-file limit: {}",
            crate::proxy::describe_io_error(&e)
        ),
    }
    let runtime = match build_runtime(flags.threads, flags.coalesce) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "error: cannot start the runtime: {}",
                crate::proxy::describe_io_error(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let mut proxy = Proxy::new(flags.options);
        let wired = wire(&mut proxy);
        let mut errors = proxy.take_start_errors();
        errors.extend(wired.err());
        if !errors.is_empty() {
            for e in &errors {
                eprintln!("error: {e}");
                if let Some(help) = &e.help {
                    eprintln!("  = help: {help}");
                }
            }
            return ExitCode::FAILURE;
        }
        tracing::info!(
            "{} running (routing file {}, sha256 {})",
            binary_name(),
            info.source,
            info.sha256
        );
        let (first, second) = match signals() {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "error: cannot install signal handlers: {}",
                    crate::proxy::describe_io_error(&e)
                );
                return ExitCode::FAILURE;
            }
        };
        let report = proxy.run(first, second).await;
        if report.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    });
    // Tasks still blocked on stdin or files must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// One thread (tokio's current-thread scheduler) unless `--threads` asks for
/// more. A line proxy moves each event through several modules; on one
/// thread an event's buffer and reference count stay in one core's cache,
/// while on several the modules of one flow run on different cores and
/// every batch bounces cache lines between them. Measured on 2 cores with
/// sender and sink on the same machine: see bench/HISTORY.md (changes 1-7).
///
/// With `--coalesce`, each thread waits before parking while traffic is
/// light: see [`crate::coalesce`].
fn build_runtime(threads: usize, coalesce: Duration) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    if !coalesce.is_zero() {
        builder.on_thread_park(crate::coalesce::park_hook(coalesce));
    }
    builder.enable_all().build()
}

/// SIGINT/SIGTERM as two futures: the first signal, and the one after it.
fn signals() -> std::io::Result<(impl Future<Output = ()>, impl Future<Output = ()>)> {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let (second_tx, second_rx) = tokio::sync::oneshot::channel::<()>();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            for tx in [first_tx, second_tx] {
                tokio::select! {
                    _ = term.recv() => tracing::info!("received SIGTERM"),
                    _ = int.recv() => tracing::info!("received SIGINT"),
                }
                let _ = tx.send(());
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        for tx in [first_tx, second_tx] {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            let _ = tx.send(());
        }
    });
    // A closed channel (the watcher could not run) must not count as a signal.
    let wait = |rx: tokio::sync::oneshot::Receiver<()>| async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await
        }
    };
    Ok((wait(first_rx), wait(second_rx)))
}

/// Worker threads without `--threads`.
const DEFAULT_THREADS: usize = 1;

/// The longest `--coalesce`: a light line may wait this long, and a wait
/// of seconds would make a proxy look stuck.
const MAX_COALESCE: Duration = Duration::from_secs(1);

enum Command {
    Run(Flags),
    Help,
    Version,
}

struct Flags {
    log_level: String,
    /// Worker threads; 1 runs every module on one thread (the default).
    threads: usize,
    /// How long a thread waits before parking while traffic is light; zero
    /// (the default) parks at once.
    coalesce: Duration,
    options: ProxyOptions,
}

fn parse_flags<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, String> {
    let mut flags = Flags {
        log_level: "info".to_string(),
        threads: DEFAULT_THREADS,
        coalesce: Duration::ZERO,
        options: ProxyOptions::default(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("flag `{}` is not valid UTF-8", a.to_string_lossy()))?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .and_then(|v| v.into_string().ok())
                    .ok_or_else(|| format!("flag `{flag}` needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--log-level" => {
                let level = value("--log-level")?;
                if !["error", "warn", "info", "debug", "trace", "off"].contains(&level.as_str()) {
                    return Err(format!(
                        "unknown log level `{level}`, expected one of `error`, `warn`, `info`, `debug`, `trace`, `off`"
                    ));
                }
                flags.log_level = level;
            }
            "--queue-capacity" => {
                let v = value("--queue-capacity")?;
                flags.options.queue_capacity = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "`--queue-capacity` needs a positive number of events, not `{v}`"
                        ))
                    }
                };
            }
            "--queue-bytes" => {
                let v = value("--queue-bytes")?;
                flags.options.queue_bytes = match parse_size(&v) {
                    Some(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "`--queue-bytes` needs a positive size such as `1048576`, `512KiB` or `4MiB`, not `{v}`"
                        ))
                    }
                };
            }
            "--threads" => {
                let v = value("--threads")?;
                flags.threads = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "`--threads` needs a positive number of threads, not `{v}`"
                        ))
                    }
                };
            }
            "--coalesce" => {
                let v = value("--coalesce")?;
                flags.coalesce = match parse_duration(&v) {
                    Some(d) if d <= MAX_COALESCE => d,
                    Some(_) => {
                        return Err(format!(
                            "`--coalesce` is at most {MAX_COALESCE:?}, not `{v}`: a line may wait that long"
                        ))
                    }
                    None => {
                        return Err(format!(
                            "`--coalesce` needs a duration such as `1ms` or `500us`, not `{v}`"
                        ))
                    }
                };
            }
            "--drain-timeout" => {
                let v = value("--drain-timeout")?;
                flags.options.drain_timeout = parse_duration(&v).ok_or_else(|| {
                    format!(
                        "`--drain-timeout` needs a duration such as `10s` or `500ms`, not `{v}`"
                    )
                })?;
            }
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(Command::Run(flags))
}

/// `4096`, `512KiB`, `4MiB`: a number of bytes.
fn parse_size(text: &str) -> Option<usize> {
    let (n, unit) = number_and_unit(text)?;
    let scale = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    usize::try_from(n).ok()?.checked_mul(scale)
}

/// `500us`, `500ms`, `10s`, `2m`, or a plain number of seconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let (n, unit) = number_and_unit(text)?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "us" => Some(Duration::from_micros(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        _ => None,
    }
}

/// `10s` -> (10, "s"): the leading digits and what follows them.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    Some((digits.parse().ok()?, unit))
}

fn binary_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "proxy".to_string())
}

fn help(info: &ProxyInfo) -> String {
    format!(
        "{name}: event proxy built by {compiler} from {source}\n\n\
         Usage: {name} [flags]\n\n\
         Flags:\n\
         \x20 --log-level LEVEL       error, warn, info (default), debug, trace or off\n\
         \x20 --queue-capacity N      events each queue holds before it pushes back (default {cap})\n\
         \x20 --queue-bytes SIZE      bytes each queue holds before it pushes back, e.g. 4MiB (default 1MiB)\n\
         \x20 --threads N             worker threads; 1 (default) runs every module on one thread\n\
         \x20 --drain-timeout TIME    longest drain after SIGINT/SIGTERM, e.g. 10s, 500ms (default 10s)\n\
         \x20 --coalesce TIME         while traffic is light, wait TIME after each wake-up, so the next\n\
         \x20                         reads many clients at once: less CPU with thousands of agents,\n\
         \x20                         up to TIME more latency, e.g. 1ms; at most 1s (default 0ms: off)\n\
         \x20 -V, --version           print the routing file and its sha256\n\
         \x20 -h, --help              print this help\n\n\
         SIGINT or SIGTERM stops reading input, delivers what was read, and exits 0;\n\
         a second signal exits at once. Exit 1: a module could not start, or events\n\
         were left undelivered (the log says how many). Exit 2: a bad flag.\n",
        name = binary_name(),
        compiler = info.compiler,
        source = info.source,
        cap = crate::queue::DEFAULT_CAPACITY,
    )
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::new(level);
    // A test process may launch several proxies; only the first installs.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_flags(args.iter().map(OsString::from))
    }

    #[test]
    fn flags_parse() {
        let Ok(Command::Run(f)) = parse(&[
            "--queue-capacity",
            "100",
            "--drain-timeout=500ms",
            "--log-level",
            "warn",
            "--threads=2",
            "--coalesce",
            "500us",
        ]) else {
            panic!("flags did not parse");
        };
        assert_eq!(f.options.queue_capacity, 100);
        assert_eq!(f.options.drain_timeout, Duration::from_millis(500));
        assert_eq!(f.log_level, "warn");
        assert_eq!(f.threads, 2);
        assert_eq!(f.coalesce, Duration::from_micros(500));
        assert!(parse(&["--coalesce", "1"])
            .is_ok_and(|c| matches!(c, Command::Run(f) if f.coalesce == Duration::from_secs(1))));
        assert!(parse(&["--coalesce", "soon"]).is_err());
        assert_eq!(
            parse(&["--coalesce", "2s"]).err().as_deref(),
            Some("`--coalesce` is at most 1s, not `2s`: a line may wait that long")
        );
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(matches!(parse(&["--version"]), Ok(Command::Version)));
        assert_eq!(
            parse(&["--bogus"]).err().as_deref(),
            Some("unknown flag `--bogus`")
        );
        assert!(parse(&["--queue-capacity", "0"]).is_err());
        let Ok(Command::Run(f)) = parse(&["--queue-bytes", "4MiB"]) else {
            panic!("--queue-bytes did not parse");
        };
        assert_eq!(f.options.queue_bytes, 4 << 20);
        assert!(parse(&["--queue-bytes", "0"]).is_err());
        assert!(parse(&["--queue-bytes", "4MB"]).is_err());
        assert_eq!(parse_size("512KiB"), Some(512 * 1024));
        assert!(parse(&["--drain-timeout", "ten"]).is_err());
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    }
}
