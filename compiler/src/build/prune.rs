//! Keeping the build cache from growing without end.
//!
//! Every version of every routing file gets its own generated crate and
//! binary (`proxies/<package>/`) and its own artifacts in the shared cargo
//! `target/` (a few megabytes each). A CI pipeline that builds each commit
//! would fill its disk, so after each build, generated crates that have not
//! been built or reused for [`MAX_UNUSED`] are removed with their
//! artifacts, and so are copies of older runtime versions that no remaining
//! crate depends on. Thirty days is the age after which cargo's own cache
//! cleaning drops downloaded crates.
//!
//! "Used" is the modification time of the crate's binary: a build writes it
//! and a build that reuses it touches it ([`touch`]). A crate without a
//! binary (its build failed, or is running now) counts from its directory's
//! time. Pruning is best effort: it runs after the binary is safe, and a
//! file it cannot remove is left for the next build, never an error.
//!
//! A runtime copy's compiled library goes with the copy: cargo's dep-info
//! file for it (`deps/wbc_runtime-<hash>.d`) lists the sources it was built
//! from, and a build whose sources are in no `runtime-*` directory any more
//! can never be used again. The compiled tokio and other libraries in
//! `target/` stay: every build shares them. Deleting the cache directory
//! frees everything; the next build then compiles tokio again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a generated crate may go unused before it is removed.
pub const MAX_UNUSED: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What one pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Generated crates removed, with their binaries and artifacts.
    pub crates: usize,
    /// Runtime copies removed.
    pub runtimes: usize,
    /// Compiled runtime libraries removed because their copy is gone.
    pub runtime_builds: usize,
    /// Bytes those files held.
    pub bytes: u64,
}

/// Marks a crate's binary (or, while it has none, its directory) as used
/// now. Opens it read-only: a running proxy's binary cannot be opened for
/// writing, and setting the time needs only ownership.
pub fn touch(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.set_modified(SystemTime::now())
}

/// Removes what under `cache_root` was last used more than `max_unused`
/// before `now`. `current_runtime` (the runtime this `wbc` writes) is kept
/// whatever its age.
pub fn prune(
    cache_root: &Path,
    current_runtime: &Path,
    now: SystemTime,
    max_unused: Duration,
) -> Pruned {
    let mut pruned = Pruned::default();
    let target = cache_root.join("target");
    for crate_dir in subdirectories(&cache_root.join("proxies")) {
        let Some(package) = crate_dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !is_generated(package) || !unused_since(&last_use(&crate_dir, package), now, max_unused)
        {
            continue;
        }
        let bytes = remove(&crate_dir);
        if !crate_dir.exists() {
            pruned.crates += 1;
            pruned.bytes += bytes + remove_artifacts(&target, package);
        }
    }
    let in_use = runtimes_in_use(&cache_root.join("proxies"));
    for runtime in subdirectories(cache_root) {
        let is_runtime = runtime
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("runtime-"));
        if !is_runtime || runtime == current_runtime || in_use.contains(&runtime) {
            continue;
        }
        if !unused_since(&runtime, now, max_unused) {
            continue;
        }
        let bytes = remove(&runtime);
        if !runtime.exists() {
            pruned.runtimes += 1;
            pruned.bytes += bytes;
        }
    }
    let (builds, bytes) = remove_orphaned_runtime_builds(cache_root, &target);
    pruned.runtime_builds = builds;
    pruned.bytes += bytes;
    pruned
}

/// Removes cargo's builds of the runtime library whose sources no
/// `runtime-*` directory of `cache_root` holds any more; returns how many
/// and the bytes freed. A build is kept when its dep-info names a runtime
/// directory that exists, so a dep-info this code cannot read keeps its
/// build.
fn remove_orphaned_runtime_builds(cache_root: &Path, target: &Path) -> (usize, u64) {
    let live: Vec<String> = subdirectories(cache_root)
        .filter_map(|dir| Some(dir.file_name()?.to_str()?.to_owned()))
        .filter(|name| name.starts_with("runtime-"))
        .map(|name| format!("{sep}{name}{sep}", sep = std::path::MAIN_SEPARATOR))
        .collect();
    let (mut builds, mut freed) = (0, 0);
    for profile in subdirectories(target) {
        let deps = profile.join("deps");
        for dep_info in entries(&deps) {
            let Some(hash) = dep_info
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("wbc_runtime-")?.strip_suffix(".d"))
            else {
                continue;
            };
            let Ok(sources) = fs::read_to_string(&dep_info) else {
                continue;
            };
            if !sources.contains("runtime-") || live.iter().any(|dir| sources.contains(dir)) {
                continue;
            }
            builds += 1;
            freed += remove(&deps.join(format!("libwbc_runtime-{hash}.rlib")))
                + remove(&deps.join(format!("libwbc_runtime-{hash}.rmeta")))
                + remove(
                    &profile
                        .join(".fingerprint")
                        .join(format!("wbc-runtime-{hash}")),
                )
                + remove(&dep_info);
        }
    }
    (builds, freed)
}

/// Removes a file or a directory tree; returns the bytes it held (0 when
/// it could not be removed, or was not there).
fn remove(path: &Path) -> u64 {
    let bytes = size_of(path);
    let removed = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    if removed.is_ok() {
        bytes
    } else {
        0
    }
}

/// Generated packages are named `wb-<stem>-<key>` (see `project::CrateName`);
/// anything else in `proxies/` was not put there by us and is left alone.
fn is_generated(package: &str) -> bool {
    package.starts_with("wb-") && package.is_ascii()
}

/// The file whose time says when the crate was last used.
fn last_use(crate_dir: &Path, package: &str) -> PathBuf {
    let binary = crate_dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
    if binary.is_file() {
        binary
    } else {
        crate_dir.to_path_buf()
    }
}

/// True when `path` was last modified more than `max_unused` before `now`.
/// A time that cannot be read, or lies in the future, means "in use".
fn unused_since(path: &Path, now: SystemTime, max_unused: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age > max_unused)
}

/// Removes cargo's outputs for `package` from every profile directory of
/// `target`; returns the bytes freed. Cargo names them after the package
/// (`<package>`, `<package>.d`, `.fingerprint/<package>-<hash>`) or after
/// its crate name, with `_` for `-` (`deps/<crate>-<hash>`,
/// `incremental/<crate>-<hash>`).
fn remove_artifacts(target: &Path, package: &str) -> u64 {
    let crate_name = package.replace('-', "_");
    let mut freed = 0;
    for profile in subdirectories(target) {
        for dir in [
            profile.clone(),
            profile.join("deps"),
            profile.join(".fingerprint"),
            profile.join("incremental"),
        ] {
            for entry in entries(&dir) {
                let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if names_artifact(name, package) || names_artifact(name, &crate_name) {
                    freed += remove(&entry);
                }
            }
        }
    }
    freed
}

/// `name` is `stem` itself or `stem` followed by `-` or `.` (a hash or an
/// extension). Keys are fixed-length, so no other package's name extends
/// this one's that way.
fn names_artifact(name: &str, stem: &str) -> bool {
    match name.strip_prefix(stem) {
        Some(rest) => rest.is_empty() || rest.starts_with('-') || rest.starts_with('.'),
        None => false,
    }
}

/// The runtime directories the remaining crates' `Cargo.toml` files name.
fn runtimes_in_use(proxies: &Path) -> Vec<PathBuf> {
    subdirectories(proxies)
        .filter_map(|dir| fs::read_to_string(dir.join("Cargo.toml")).ok())
        .filter_map(|toml| {
            let line = toml.lines().find(|l| l.starts_with("wbc-runtime"))?;
            let start = line.find("path = \"")? + "path = \"".len();
            let end = start + line[start..].find('"')?;
            Some(PathBuf::from(&line[start..end]))
        })
        .collect()
}

fn entries(dir: &Path) -> impl Iterator<Item = PathBuf> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
}

fn subdirectories(dir: &Path) -> impl Iterator<Item = PathBuf> {
    entries(dir).filter(|p| p.is_dir())
}

/// Bytes under `path` (files only; symbolic links are not followed).
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        entries(path).map(|p| size_of(&p)).sum()
    } else {
        meta.len()
    }
}

#[cfg(test)]
mod tests;
