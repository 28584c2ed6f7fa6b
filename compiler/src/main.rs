//! The `wbc` command line. All the work is in the `wbc` library; the
//! commands themselves live in `cli/`, one file per command.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
