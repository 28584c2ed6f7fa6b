//! `wbc graph FILE [--format dot|mermaid]`: the routing graph as a picture
//! source (pipe dot output into `dot -Tsvg`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{source, FAILURE, SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The routing file to draw
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
    let Some(src) = source::read(&args.file) else {
        return ExitCode::from(USAGE);
    };
    let checked = wbc::check::check_source(&src);
    let name = args.file.display().to_string();
    eprint!(
        "{}",
        wbc::render::human(&checked.diagnostics, &name, &src, source::stderr_color())
    );
    let Some(graph) = checked.graph else {
        return ExitCode::from(FAILURE);
    };
    match args.format {
        Format::Dot => print!("{}", wbc::dot::dot(&graph)),
        Format::Mermaid => print!("{}", wbc::dot::mermaid(&graph)),
    }
    ExitCode::from(SUCCESS)
}
