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
//! The compiled tokio and runtime libraries in `target/` stay: every build
//! shares them, and which runtime version an old library belongs to is
//! cargo's business. Deleting the cache directory frees everything; the
//! next build then compiles tokio again.

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
        let bytes = size_of(&crate_dir);
        if fs::remove_dir_all(&crate_dir).is_ok() {
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
        let bytes = size_of(&runtime);
        if fs::remove_dir_all(&runtime).is_ok() {
            pruned.runtimes += 1;
            pruned.bytes += bytes;
        }
    }
    pruned
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
                    let bytes = size_of(&entry);
                    let removed = if entry.is_dir() {
                        fs::remove_dir_all(&entry)
                    } else {
                        fs::remove_file(&entry)
                    };
                    if removed.is_ok() {
                        freed += bytes;
                    }
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
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    struct Cache(PathBuf);

    impl Drop for Cache {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn cache(test: &str) -> Cache {
        let dir = std::env::temp_dir().join(format!("wbc-prune-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Cache(dir)
    }

    /// A cache holding only the current runtime's copy.
    fn cache_with_runtime(test: &str) -> (Cache, PathBuf) {
        let c = cache(test);
        let runtime = c.0.join("runtime-new");
        file(&runtime.join("Cargo.toml"), 10);
        (c, runtime)
    }

    fn file(path: &Path, bytes: usize) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, vec![b'x'; bytes]).unwrap();
    }

    fn age(path: &Path, days: u32) {
        let when = SystemTime::now() - DAY * days;
        fs::File::open(path).unwrap().set_modified(when).unwrap();
    }

    /// A generated crate built `days` ago against `runtime`, with the
    /// artifacts cargo leaves for it.
    fn built(root: &Path, package: &str, runtime: &Path, days: u32) {
        let dir = root.join("proxies").join(package);
        let toml = format!(
            "[dependencies]\nwbc-runtime = {{ path = \"{}\" }}\n",
            runtime.display()
        );
        file(&dir.join("Cargo.toml"), 0);
        fs::write(dir.join("Cargo.toml"), toml).unwrap();
        file(&dir.join("src/main.rs"), 100);
        let binary = dir.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
        file(&binary, 1000);
        age(&binary, days);
        let crate_name = package.replace('-', "_");
        let release = root.join("target/release");
        file(&release.join(package), 1000);
        file(&release.join(format!("{package}.d")), 10);
        file(&release.join(format!("deps/{crate_name}-0123abcd")), 1000);
        file(&release.join(format!("deps/{crate_name}-0123abcd.d")), 10);
        file(
            &release.join(format!(".fingerprint/{package}-0123abcd/bin-{package}")),
            10,
        );
    }

    fn exists(root: &Path, relative: &str) -> bool {
        root.join(relative).exists()
    }

    #[test]
    fn crates_unused_for_long_go_with_their_artifacts_and_recent_ones_stay() {
        let (c, runtime) = cache_with_runtime("age");
        let root = &c.0;
        built(root, "wb-old-00000000000000aa", &runtime, 40);
        built(root, "wb-recent-00000000000000bb", &runtime, 3);
        // Shared libraries and other people's files are not ours to remove.
        file(&root.join("target/release/deps/libtokio-99.rlib"), 500);
        file(&root.join("proxies/notes/readme"), 5);
        age(&root.join("proxies/notes"), 400);

        let toml = fs::metadata(root.join("proxies/wb-old-00000000000000aa/Cargo.toml")).unwrap();
        let planted = toml.len() + 100 + 1000 + (1000 + 10) + (1000 + 10) + 10;

        let pruned = prune(root, &runtime, SystemTime::now(), MAX_UNUSED);

        assert_eq!(pruned.crates, 1);
        assert_eq!(pruned.runtimes, 0);
        assert_eq!(pruned.bytes, planted);
        for gone in [
            "proxies/wb-old-00000000000000aa",
            "target/release/wb-old-00000000000000aa",
            "target/release/wb-old-00000000000000aa.d",
            "target/release/deps/wb_old_00000000000000aa-0123abcd",
            "target/release/deps/wb_old_00000000000000aa-0123abcd.d",
            "target/release/.fingerprint/wb-old-00000000000000aa-0123abcd",
        ] {
            assert!(!exists(root, gone), "{gone} should be removed");
        }
        for kept in [
            "proxies/wb-recent-00000000000000bb/wb-recent-00000000000000bb",
            "target/release/wb-recent-00000000000000bb",
            "target/release/deps/wb_recent_00000000000000bb-0123abcd",
            "target/release/deps/libtokio-99.rlib",
            "proxies/notes/readme",
            "runtime-new/Cargo.toml",
        ] {
            assert!(exists(root, kept), "{kept} should be kept");
        }
    }

    #[test]
    fn a_touched_binary_is_in_use_again() {
        let (c, runtime) = cache_with_runtime("touch");
        let root = &c.0;
        built(root, "wb-reused-00000000000000cc", &runtime, 90);
        let binary = root.join(format!(
            "proxies/wb-reused-00000000000000cc/wb-reused-00000000000000cc{}",
            std::env::consts::EXE_SUFFIX
        ));
        touch(&binary).unwrap();
        assert_eq!(
            prune(root, &runtime, SystemTime::now(), MAX_UNUSED),
            Pruned::default()
        );
        assert!(binary.exists());
    }

    #[test]
    fn a_crate_without_binary_counts_from_its_directory() {
        let (c, runtime) = cache_with_runtime("no-binary");
        let root = &c.0;
        let failed = root.join("proxies/wb-failed-00000000000000ff");
        let building = root.join("proxies/wb-building-0000000000000011");
        for dir in [&failed, &building] {
            file(&dir.join("src/main.rs"), 10);
            age(dir, 60);
        }
        // A build of it starts now.
        touch(&building).unwrap();

        let pruned = prune(root, &runtime, SystemTime::now(), MAX_UNUSED);

        assert_eq!(pruned.crates, 1);
        assert!(!failed.exists() && building.exists());
    }

    #[test]
    fn old_runtimes_go_once_no_crate_needs_them() {
        let c = cache("runtimes");
        let root = &c.0;
        let (current, needed, orphan) = (
            root.join("runtime-current"),
            root.join("runtime-needed"),
            root.join("runtime-orphan"),
        );
        for r in [&current, &needed, &orphan] {
            file(&r.join("Cargo.toml"), 10);
            age(r, 100);
        }
        built(root, "wb-kept-00000000000000dd", &needed, 1);

        let pruned = prune(root, &current, SystemTime::now(), MAX_UNUSED);

        assert_eq!((pruned.crates, pruned.runtimes), (0, 1));
        assert!(current.exists() && needed.exists() && !orphan.exists());
    }

    #[test]
    fn artifact_names_match_only_the_package() {
        let p = "wb-a-00000000000000ee";
        assert!(names_artifact(p, p));
        assert!(names_artifact(&format!("{p}.d"), p));
        assert!(names_artifact(&format!("{p}-1f2e3d"), p));
        assert!(!names_artifact(&format!("{p}x"), p));
        assert!(!names_artifact("wb-a-00000000000000e", p));
    }
}
