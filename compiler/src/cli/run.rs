//! `wbc run FILE [--debug] [-- ARGS]`: build (or reuse the cached binary
//! when the file has not changed) and run the proxy in the foreground.
//!
//! On Unix the proxy replaces the `wbc` process (`exec`), so signals such
//! as Ctrl-C reach it directly and its exit code is ours.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use wbc::build::Profile;

use super::build::build_file;
use super::FAILURE;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Routing file to build and run
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Build without optimizations: compiles faster, runs slower
    #[arg(long)]
    pub debug: bool,
    /// Arguments for the proxy (after `--`), e.g. `-- --log-level debug`
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    let profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    let built = match build_file(&args.file, profile, None) {
        Ok(built) => built,
        Err(code) => return code,
    };
    errln!("     Running `{}`", built.binary.display());
    let mut command = Command::new(&built.binary);
    command.args(&args.args);
    let error = exec(command);
    errln!(
        "error: cannot run `{}`: {}",
        built.binary.display(),
        wbc::build::io_reason(&error)
    );
    ExitCode::from(FAILURE)
}

#[cfg(unix)]
fn exec(mut command: Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    command.exec()
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> std::io::Error {
    match command.status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => error,
    }
}
