//! `wbc` subcommands: one file per command, each with an `Args` struct
//! (clap derive) and a `run(Args) -> ExitCode` function.
//!
//! To add a command, add its file and one line to the `commands!` list
//! below; the list declares the enum variant and its dispatch together.
//! Exit codes are shared by every command: [`SUCCESS`] when all is well,
//! [`FAILURE`] when the input has problems (diagnostics were printed),
//! [`USAGE`] for a bad command line or a file that cannot be read.

/// `print!`-style macros that ignore write errors: `wbc list | head -1`
/// closes the pipe early, and that must not turn into a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod build;
mod check;
mod expand;
mod explain;
mod fmt;
mod graph;
mod list;
mod run;
mod show;
mod source;

use std::process::ExitCode;

use clap::Parser;

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;

/// Declares [`Command`] and [`Command::run`] from one list of
/// `doc comment, Variant => module` entries.
macro_rules! commands {
    ($($(#[doc = $doc:expr])* $variant:ident => $module:ident,)*) => {
        #[derive(Debug, clap::Subcommand)]
        pub enum Command {
            $($(#[doc = $doc])* $variant($module::Args),)*
        }

        impl Command {
            pub fn run(self) -> ExitCode {
                match self {
                    $(Command::$variant(args) => $module::run(args),)*
                }
            }
        }
    };
}

commands! {
    /// Check routing files and report every problem in them
    Check => check,
    /// Rewrite routing files in the canonical layout
    Fmt => fmt,
    /// List every module kind with its queues
    List => list,
    /// Show a module kind's arguments, queues and what it does
    Show => show,
    /// Print the desugared routing table: every module and queue explicit
    Expand => expand,
    /// Print the routing graph as Graphviz dot or Mermaid
    Graph => graph,
    /// Explain a diagnostic code, with a wrong and a corrected example
    Explain => explain,
    /// Build a routing file into a proxy binary
    Build => build,
    /// Build a routing file (reusing an unchanged build) and run the proxy
    Run => run,
}

/// Compiles `.wb` routing files into fast TCP event proxies.
#[derive(Debug, Parser)]
#[command(name = "wbc", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => cli.command.run(),
        Err(error) => {
            // --help and --version are "errors" printed to stdout with success.
            let _ = error.print();
            ExitCode::from(if error.use_stderr() { USAGE } else { SUCCESS })
        }
    }
}
