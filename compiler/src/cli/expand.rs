//! `wbc expand FILE`: the desugared routing table as `.wb` text.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wbc::graph::Graph;

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The routing file to expand (`-` reads standard input)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub fn run(args: Args) -> ExitCode {
    match checked_graph(&args.file) {
        Ok((graph, src)) => {
            out!("{}", wbc::expand::expand(&graph, &src));
            ExitCode::from(SUCCESS)
        }
        Err(code) => code,
    }
}

/// Reads and checks `path`, printing its diagnostics to stderr; the graph
/// and source text when it has no errors, else the exit code to return.
/// Shared by the commands that print a checked graph (`expand`, `graph`).
pub fn checked_graph(path: &Path) -> Result<(Graph, String), ExitCode> {
    let Some(src) = source::read(path) else {
        return Err(ExitCode::from(USAGE));
    };
    let checked = wbc::check::check_source(&src);
    let name = source::name(path);
    err!(
        "{}",
        wbc::render::human(&checked.diagnostics, &name, &src, source::stderr_color())
    );
    match checked.graph {
        Some(graph) => Ok((graph, src)),
        None => Err(ExitCode::from(FAILURE)),
    }
}
