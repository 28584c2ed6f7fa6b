//! Running cargo on a generated crate.

use std::env;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use super::Profile;

/// Why cargo did not produce a binary.
#[derive(Debug)]
pub enum CargoError {
    /// cargo could not be started at all.
    Spawn { program: OsString, error: io::Error },
    /// cargo ran and failed; its own messages are already on stderr.
    Failed { status: ExitStatus },
}

/// `cargo build [--release] --manifest-path DIR/Cargo.toml --target-dir TARGET`.
/// Cargo's progress and errors go to our stderr as it runs; its stdout is
/// sent to stderr too, so `wbc run`'s stdout carries only the proxy's output.
pub(super) fn build(
    crate_dir: &Path,
    target_dir: &Path,
    profile: Profile,
) -> Result<(), CargoError> {
    // Under `cargo run`/`cargo test`, CARGO names the cargo that is running us.
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&program);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::from(io::stderr()))
        .stderr(Stdio::inherit());
    if profile == Profile::Release {
        command.arg("--release");
    }
    let status = command
        .status()
        .map_err(|error| CargoError::Spawn { program, error })?;
    if status.success() {
        Ok(())
    } else {
        Err(CargoError::Failed { status })
    }
}

/// Where cargo puts the binary `bin` of a build with `profile`.
pub(super) fn artifact(target_dir: &Path, profile: Profile, bin: &str) -> PathBuf {
    let dir = match profile {
        Profile::Release => "release",
        Profile::Debug => "debug",
    };
    target_dir
        .join(dir)
        .join(format!("{bin}{}", env::consts::EXE_SUFFIX))
}
