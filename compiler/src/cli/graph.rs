//! `wbc graph FILE [--format dot|mermaid]`: the routing graph as a picture
//! source (pipe dot output into `dot -Tsvg`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::SUCCESS;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The routing file to draw (`-` reads standard input)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// `dot` (Graphviz) or `mermaid`
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

pub fn run(args: Args) -> ExitCode {
    let graph = match super::expand::checked_graph(&args.file) {
        Ok((graph, _)) => graph,
        Err(code) => return code,
    };
    match args.format {
        Format::Dot => out!("{}", wbc::dot::dot(&graph)),
        Format::Mermaid => out!("{}", wbc::dot::mermaid(&graph)),
    }
    ExitCode::from(SUCCESS)
}
