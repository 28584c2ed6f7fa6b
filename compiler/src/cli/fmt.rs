//! `wbc fmt FILE... [--check]`: rewrite files in the canonical layout
//! (see `wbc::fmt`). Files with syntax errors are never rewritten. `-`
//! formats standard input to standard output, as editors call formatters.

use std::path::PathBuf;
use std::process::ExitCode;

use wbc::build::io_reason;

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Routing files to format in place (`-`: standard input to standard output)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Change nothing; list the files that would change and exit 1 if any
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args) -> ExitCode {
    let color = source::stderr_color();
    let (mut unreadable, mut failed) = (false, false);
    for path in &args.files {
        let Some(src) = source::read(path) else {
            unreadable = true;
            continue;
        };
        let name = source::name(path);
        match wbc::fmt::format(&src) {
            Err(diagnostics) => {
                err!("{}", wbc::render::human(&diagnostics, &name, &src, color));
                errln!("error: `{name}` has syntax errors; not formatted");
                failed = true;
            }
            Ok(formatted) if source::is_stdin(path) && !args.check => out!("{formatted}"),
            Ok(formatted) if formatted == src => {}
            Ok(_) if args.check => {
                outln!("{name}");
                failed = true;
            }
            Ok(formatted) => {
                if let Err(e) = std::fs::write(path, formatted) {
                    errln!("error: cannot write `{name}`: {}", io_reason(&e));
                    unreadable = true;
                }
            }
        }
    }
    if unreadable {
        ExitCode::from(USAGE)
    } else if failed {
        if args.check {
            errln!("error: files above are not formatted; run `wbc fmt` on them");
        }
        ExitCode::from(FAILURE)
    } else {
        ExitCode::from(SUCCESS)
    }
}
