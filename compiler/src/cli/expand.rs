//! `wbc expand FILE`: the desugared routing table as `.wb` text.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The routing file to expand
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    let Some(src) = source::read(&args.file) else {
        return ExitCode::from(USAGE);
    };
    let checked = wbc::check::check_source(&src);
    let name = args.file.display().to_string();
    eprint!(
        "{}",
        wbc::render::human(&checked.diagnostics, &name, &src, source::stderr_color())
    );
    match checked.graph {
        Some(graph) => {
            print!("{}", wbc::expand::expand(&graph, &src));
            ExitCode::from(SUCCESS)
        }
        None => ExitCode::from(FAILURE),
    }
}
