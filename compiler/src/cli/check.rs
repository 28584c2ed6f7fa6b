//! `wbc check FILE... [--format human|json] [--deny-warnings]`.

use std::path::PathBuf;
use std::process::ExitCode;

use wbc::diagnostic::{Diagnostic, Severity};

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Routing files to check (`-` reads standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// `human` (rustc-style, on stderr) or `json` (one object per line, on stdout)
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail (exit 1) on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Every diagnostic for one file's text: the whole front end.
pub fn diagnose(src: &str) -> Vec<Diagnostic> {
    wbc::check::check_source(src).diagnostics
}

pub fn run(args: Args) -> ExitCode {
    let color = source::stderr_color();
    let (mut errors, mut warnings, mut unreadable) = (0usize, 0usize, false);
    for path in &args.files {
        let Some(src) = source::read(path) else {
            unreadable = true;
            continue;
        };
        let name = source::name(path);
        let diagnostics = diagnose(&src);
        errors += diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .count();
        warnings += diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Warning)
            .count();
        match args.format {
            Format::Human => err!("{}", wbc::render::human(&diagnostics, &name, &src, color)),
            Format::Json => out!("{}", wbc::render::json_lines(&diagnostics, &name, &src)),
        }
    }
    if args.format == Format::Human && (errors > 0 || warnings > 0) {
        errln!("{}", summary(errors, warnings, args.deny_warnings));
    }
    if unreadable {
        ExitCode::from(USAGE)
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::from(SUCCESS)
    }
}

/// The closing line, like rustc's "aborting due to 2 previous errors".
fn summary(errors: usize, warnings: usize, deny_warnings: bool) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) if deny_warnings => format!(
            "error: {} denied by `--deny-warnings`",
            plural(w, "warning")
        ),
        (0, w) => format!("warning: {} emitted", plural(w, "warning")),
        (e, 0) => format!("error: {} found", plural(e, "error")),
        (e, w) => format!(
            "error: {} and {} found",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}
