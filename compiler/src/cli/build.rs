//! `wbc build FILE [-o OUTPUT] [--emit-crate DIR] [--debug]`: check, then
//! generate and compile a proxy binary (see `wbc::build`).
//!
//! The check is the one `wbc check` runs, with the same diagnostics on
//! stderr; a file with errors is never built. `wbc run` shares
//! [`build_file`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use wbc::build::{self, BuildError, Built, Profile, Request};
use wbc::diagnostic::Severity;

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Routing file to build
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where to write the binary [default: the file's stem, in the current directory]
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,
    /// Also write the generated crate, with a copy of the runtime, to DIR
    #[arg(long, value_name = "DIR")]
    pub emit_crate: Option<PathBuf>,
    /// Build without optimizations: compiles faster, runs slower
    #[arg(long)]
    pub debug: bool,
}

pub fn run(args: Args) -> ExitCode {
    let output = match &args.output {
        // `-o bin/` puts the binary into an existing directory.
        Some(dir) if dir.is_dir() => dir.join(stem(&args.file)),
        Some(output) => output.clone(),
        None => PathBuf::from(stem(&args.file)),
    };
    if same_file(&output, &args.file) {
        errln!(
            "error: the binary would overwrite the routing file `{}`",
            args.file.display()
        );
        errln!("help: name the binary with `-o OUTPUT`");
        return ExitCode::from(USAGE);
    }
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let built = match build_file(&args.file, profile, args.emit_crate.as_deref()) {
        Ok(built) => built,
        Err(code) => return code,
    };
    if let Err(error) = build::install(&built, &output) {
        return report(&error);
    }
    errln!("       Wrote `{}`", output.display());
    ExitCode::from(SUCCESS)
}

/// Checks `path` (printing its diagnostics), then builds it. On failure the
/// reason has been printed and the exit code is returned.
pub fn build_file(
    path: &Path,
    profile: Profile,
    emit_crate: Option<&Path>,
) -> Result<Built, ExitCode> {
    if source::is_stdin(path) {
        // The binary is named after the file, and `--version` prints it.
        errln!("error: `wbc build` and `wbc run` build a routing file, not standard input");
        errln!("help: save the routing to a file, then build that");
        return Err(ExitCode::from(USAGE));
    }
    let Some(src) = source::read(path) else {
        return Err(ExitCode::from(USAGE));
    };
    let display = path.display().to_string();
    let checked = wbc::check::check_source(&src);
    let color = source::stderr_color();
    err!(
        "{}",
        wbc::render::human(&checked.diagnostics, &display, &src, color)
    );
    let errors = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .count();
    let graph = match checked.graph {
        Some(graph) if errors == 0 => graph,
        _ => {
            let plural = if errors == 1 { "" } else { "s" };
            errln!("error: could not build `{display}` due to {errors} error{plural}");
            return Err(ExitCode::from(FAILURE));
        }
    };
    let file_name = path
        .file_name()
        .map_or(display.clone(), |n| n.to_string_lossy().into_owned());
    let stem = stem(path);
    let request = Request {
        file_name: &file_name,
        stem: &stem,
        bytes: src.as_bytes(),
        graph: &graph,
        profile,
    };
    if let Some(dir) = emit_crate {
        build::emit_crate(&request, dir).map_err(|e| report(&e))?;
        errln!("     Emitted crate `{}`", dir.display());
    }
    let cache = build::cache::locate()
        .ok_or(BuildError::NoCacheDir)
        .map_err(|e| report(&e))?;
    let started = Instant::now();
    let built = build::build(&request, &cache).map_err(|e| report(&e))?;
    if built.reused {
        errln!("  Up to date `{display}` (unchanged since the last build)");
    } else {
        errln!(
            "       Built `{display}` in {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(line) = removal_line(&built.pruned) {
        errln!("     {line}");
    }
    Ok(built)
}

fn report(error: &BuildError) -> ExitCode {
    errln!("error: {error}");
    if let Some(help) = error.help() {
        errln!("help: {help}");
    }
    ExitCode::from(FAILURE)
}

/// The routing file's name without its extension: the default binary name.
fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "proxy".into(), |s| s.to_string_lossy().into_owned())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What a build's pruning freed, as one line; `None` when it freed nothing.
fn removal_line(pruned: &build::prune::Pruned) -> Option<String> {
    let mut removed = Vec::new();
    if pruned.crates + pruned.runtimes > 0 {
        removed.push(format!(
            "{} cached build{} and {} runtime cop{} unused for {} days",
            pruned.crates,
            if pruned.crates == 1 { "" } else { "s" },
            pruned.runtimes,
            if pruned.runtimes == 1 { "y" } else { "ies" },
            build::prune::MAX_UNUSED.as_secs() / 86_400,
        ));
    }
    if pruned.runtime_builds > 0 {
        removed.push(format!(
            "{} compiled runtime{} whose copy is gone",
            pruned.runtime_builds,
            if pruned.runtime_builds == 1 { "" } else { "s" },
        ));
    }
    (!removed.is_empty()).then(|| {
        format!(
            "Removed {} ({:.1} MiB)",
            removed.join(", "),
            pruned.bytes as f64 / (1024.0 * 1024.0)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::removal_line;
    use wbc::build::prune::Pruned;

    #[test]
    fn the_removal_line_names_only_what_was_removed() {
        assert_eq!(removal_line(&Pruned::default()), None);
        let runtime_only = Pruned {
            runtime_builds: 1,
            bytes: 3 << 20,
            ..Pruned::default()
        };
        assert_eq!(
            removal_line(&runtime_only).as_deref(),
            Some("Removed 1 compiled runtime whose copy is gone (3.0 MiB)")
        );
        let all = Pruned {
            crates: 2,
            runtimes: 1,
            runtime_builds: 2,
            bytes: 5 << 19,
        };
        assert_eq!(
            removal_line(&all).as_deref(),
            Some(
                "Removed 2 cached builds and 1 runtime copy unused for 30 days, \
                 2 compiled runtimes whose copy is gone (2.5 MiB)"
            )
        );
    }
}
