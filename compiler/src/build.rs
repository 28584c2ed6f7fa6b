//! `wbc build`: a checked graph becomes a native proxy binary.
//!
//! 1. [`codegen`](crate::codegen) turns the graph into `main.rs`.
//! 2. The runtime crate, embedded in `wbc` by `compiler/build.rs`, is
//!    written once per runtime version to `CACHE/runtime-<hash>/`.
//! 3. The generated crate goes to `CACHE/proxies/wb-<stem>-<key>/` with a
//!    `Cargo.toml` depending on that runtime by path and a copy of the
//!    workspace `Cargo.lock`, so the tested dependency versions are used and
//!    no registry access is needed once they are downloaded.
//! 4. cargo builds it into the shared `CACHE/target/`: only the first build
//!    compiles tokio and the runtime; later ones compile one small `main.rs`.
//! 5. The binary is kept next to the crate; `key` hashes everything that
//!    goes into it, so an unchanged routing file reuses it without cargo.
//! 6. Crates not built or reused for 30 days are removed with their
//!    artifacts ([`prune`]), so the cache does not grow without end.
//!
//! The cache root is described in [`cache`]. Checking and printing
//! diagnostics is the caller's job (`cli/build.rs`), so this module never
//! sees a graph with errors.

pub mod cache;
mod cargo;
mod embedded;
mod fsutil;
mod project;
pub mod prune;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::codegen::{self, CodegenError, SourceInfo};
use crate::graph::Graph;

pub use cargo::CargoError;

/// Which cargo profile builds the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

/// One build: a checked graph and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The routing file's name as embedded in the binary (`--version`).
    pub file_name: &'a str,
    /// Names the generated crate, for people looking into the cache.
    pub stem: &'a str,
    /// The routing file's bytes (hashed into the binary).
    pub bytes: &'a [u8],
    pub graph: &'a Graph,
    pub profile: Profile,
}

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// The binary inside the cache; copy it with [`install`].
    pub binary: PathBuf,
    /// The generated crate inside the cache.
    pub crate_dir: PathBuf,
    /// True when the binary was already built and cargo did not run.
    pub reused: bool,
    /// What the cache pass after the build removed (see [`prune`]).
    pub pruned: prune::Pruned,
}

#[derive(Debug)]
pub enum BuildError {
    /// No cache directory: neither WBC_CACHE_DIR, XDG_CACHE_HOME nor HOME is set.
    NoCacheDir,
    Codegen(CodegenError),
    Io {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    Cargo {
        crate_dir: PathBuf,
        error: CargoError,
    },
}

impl BuildError {
    /// The `help:` line that goes with the error, if any.
    pub fn help(&self) -> Option<String> {
        match self {
            BuildError::NoCacheDir => Some("set `WBC_CACHE_DIR` to a writable directory".into()),
            BuildError::Codegen(_) => Some("this is a bug in wbc: please report it with the routing file".into()),
            BuildError::Io { .. } => None,
            BuildError::Cargo { error: CargoError::Spawn { .. }, .. } => {
                Some("install Rust (https://rustup.rs) or set `CARGO` to cargo's path".into())
            }
            BuildError::Cargo { crate_dir, error: CargoError::Failed { .. } } => Some(format!(
                "the generated crate is kept in `{}`; `cargo build --manifest-path {}` shows the same error",
                crate_dir.display(),
                crate_dir.join("Cargo.toml").display()
            )),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoCacheDir => write!(f, "no cache directory for generated crates"),
            BuildError::Codegen(e) => write!(f, "code generation failed: {e}"),
            BuildError::Io {
                action,
                path,
                error,
            } => {
                write!(
                    f,
                    "cannot {action} `{}`: {}",
                    path.display(),
                    io_reason(error)
                )
            }
            BuildError::Cargo {
                error: CargoError::Spawn { program, error },
                ..
            } => {
                let reason = io_reason(error);
                write!(f, "cannot run `{}`: {reason}", program.to_string_lossy())
            }
            BuildError::Cargo {
                error: CargoError::Failed { status },
                ..
            } => {
                write!(f, "cargo failed to build the generated proxy ({status})")
            }
        }
    }
}

impl std::error::Error for BuildError {}

/// An OS error as one lowercase phrase ("no such file or directory"),
/// without Rust's "(os error 2)" suffix, for messages in rustc's style.
pub fn io_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_lowercase(),
        None => text.to_lowercase(),
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BuildError {
    let path = path.to_path_buf();
    move |error| BuildError::Io {
        action,
        path,
        error,
    }
}

/// Generates, writes and compiles the proxy for `request` under `cache_root`.
pub fn build(request: &Request<'_>, cache_root: &Path) -> Result<Built, BuildError> {
    let source = SourceInfo::new(request.file_name, request.bytes);
    let main_rs = codegen::generate(request.graph, &source).map_err(BuildError::Codegen)?;

    let runtime_dir = cache_root.join(format!("runtime-{}", embedded::runtime_hash()));
    ensure_runtime(&runtime_dir)?;

    let runtime_path = runtime_dir.to_string_lossy();
    let key = build_key(&main_rs, &runtime_path, request.profile);
    let name = project::CrateName::new(request.stem, &key);
    let crate_dir = cache_root.join("proxies").join(&name.package);
    let cached_binary = crate_dir.join(format!("{}{}", name.package, std::env::consts::EXE_SUFFIX));
    if cached_binary.is_file() {
        // A reuse is a use: a routing file that is built often but never
        // changed must not age out of the cache.
        let _ = prune::touch(&cached_binary);
        return Ok(Built {
            binary: cached_binary,
            crate_dir,
            reused: true,
            pruned: prune_cache(cache_root, &runtime_dir),
        });
    }

    let cargo_toml = project::cargo_toml(&name, &runtime_path);
    project::write_crate(&crate_dir, &cargo_toml, &main_rs)
        .map_err(io_error("write the generated crate", &crate_dir))?;
    // An unchanged crate whose earlier build failed keeps its old time;
    // touched, a concurrent build's prune leaves it alone while cargo runs.
    let _ = prune::touch(&crate_dir);
    let target_dir = cache_root.join("target");
    cargo::build(&crate_dir, &target_dir, request.profile).map_err(|error| BuildError::Cargo {
        crate_dir: crate_dir.clone(),
        error,
    })?;
    let artifact = cargo::artifact(&target_dir, request.profile, &name.package);
    fsutil::copy_atomic(&artifact, &cached_binary)
        .map_err(io_error("copy the built binary", &artifact))?;
    Ok(Built {
        binary: cached_binary,
        crate_dir,
        reused: false,
        pruned: prune_cache(cache_root, &runtime_dir),
    })
}

/// Removes builds unused for [`prune::MAX_UNUSED`]; runs once the new
/// binary is in place, so a failure to prune never costs a build.
fn prune_cache(cache_root: &Path, runtime_dir: &Path) -> prune::Pruned {
    prune::prune(
        cache_root,
        runtime_dir,
        std::time::SystemTime::now(),
        prune::MAX_UNUSED,
    )
}

/// Writes the crate of `request` to `dir` with its own copy of the runtime
/// (`--emit-crate`): a crate a person can read and build with plain cargo.
pub fn emit_crate(request: &Request<'_>, dir: &Path) -> Result<(), BuildError> {
    let source = SourceInfo::new(request.file_name, request.bytes);
    let main_rs = codegen::generate(request.graph, &source).map_err(BuildError::Codegen)?;
    let key = build_key(&main_rs, "wbc-runtime", request.profile);
    let name = project::CrateName::new(request.stem, &key);
    project::emit_crate(dir, &name, &main_rs).map_err(io_error("write the crate to", dir))
}

/// Copies a built binary to `output`.
pub fn install(built: &Built, output: &Path) -> Result<(), BuildError> {
    fsutil::copy_atomic(&built.binary, output).map_err(io_error("write the binary to", output))
}

/// A hash of everything that decides the binary's content.
fn build_key(main_rs: &str, runtime_path: &str, profile: Profile) -> String {
    let text = format!(
        "{}\0{runtime_path}\0{profile:?}\0{main_rs}",
        codegen::COMPILER
    );
    codegen::sha256_hex(text.as_bytes())[..16].to_string()
}

/// Writes the runtime once per version: into a temporary directory renamed
/// into place, so concurrent builds never see half of it.
fn ensure_runtime(dir: &Path) -> Result<(), BuildError> {
    if dir.join("Cargo.toml").is_file() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_error("create the cache directory", parent))?;
    let temp = fsutil::temp_sibling(dir);
    embedded::write_runtime(&temp, embedded::Workspace::OwnRoot)
        .map_err(io_error("write the runtime sources to", &temp))?;
    if let Err(error) = std::fs::rename(&temp, dir) {
        let _ = std::fs::remove_dir_all(&temp);
        // Another build may have won the race; its copy is identical.
        if !dir.join("Cargo.toml").is_file() {
            return Err(io_error("write the runtime sources to", dir)(error));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_one_lowercase_phrase() {
        let missing = Path::new("/nonexistent-wbc-dir/proxy");
        let Err(error) = std::fs::File::create(missing) else {
            panic!("{} exists", missing.display());
        };
        let shown = io_error("write the binary to", missing)(error).to_string();
        assert_eq!(
            shown,
            "cannot write the binary to `/nonexistent-wbc-dir/proxy`: no such file or directory"
        );
    }
}
