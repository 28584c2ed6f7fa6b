//! The runtime sources and `Cargo.lock` embedded by `compiler/build.rs`,
//! and how they are written out.

use std::io;
use std::path::Path;

use super::fsutil;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The workspace lock file: the dependency versions the runtime is tested with.
pub(super) fn cargo_lock() -> &'static [u8] {
    CARGO_LOCK
}

/// A short hash of every embedded runtime file (names and contents) and of
/// the lock file, so a different runtime or different dependency versions
/// get a different cache directory (and so different generated crates).
pub(super) fn runtime_hash() -> String {
    let mut all = CARGO_LOCK.to_vec();
    for (path, bytes) in RUNTIME_FILES {
        all.extend_from_slice(path.as_bytes());
        all.push(0);
        all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        all.extend_from_slice(bytes);
    }
    crate::codegen::sha256_hex(&all)[..16].to_string()
}

/// How the written `Cargo.toml` relates to workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Workspace {
    /// The runtime is its own workspace root (an empty `[workspace]` table is
    /// appended), so cargo never attaches it to a workspace that happens to
    /// contain the cache directory.
    OwnRoot,
    /// The runtime sits inside the generated crate (`--emit-crate`), which
    /// is the workspace root.
    Member,
}

/// Writes the runtime crate into `dir` (created if missing).
pub(super) fn write_runtime(dir: &Path, workspace: Workspace) -> io::Result<()> {
    for (relative, bytes) in RUNTIME_FILES {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if *relative == "Cargo.toml" {
            let text = String::from_utf8_lossy(bytes);
            let mut manifest = without_extra_targets(&text);
            if workspace == Workspace::OwnRoot {
                manifest
                    .push_str("\n# Added by wbc: this copy is its own workspace.\n[workspace]\n");
            }
            fsutil::write_atomic(&path, manifest.as_bytes())?;
        } else {
            fsutil::write_atomic(&path, bytes)?;
        }
    }
    Ok(())
}

/// The runtime's manifest without its `[[test]]`, `[[bench]]` and
/// `[[example]]` tables: only `src/` is embedded, and cargo rejects a
/// manifest naming target files that do not exist.
fn without_extra_targets(manifest: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        let header = line.trim_start();
        if header.starts_with('[') {
            skipping = ["[[test]]", "[[bench]]", "[[example]]"]
                .iter()
                .any(|t| header.starts_with(t));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_targets_are_dropped_from_the_manifest() {
        let manifest = "[package]\nname = \"x\"\n\n[[test]]\nname = \"s\"\npath = \"tests/s.rs\"\n\n[dependencies]\nbytes = \"1\"\n[[bench]]\nname = \"b\"\n";
        assert_eq!(
            without_extra_targets(manifest),
            "[package]\nname = \"x\"\n\n[dependencies]\nbytes = \"1\"\n"
        );
    }

    #[test]
    fn runtime_manifest_and_lib_are_embedded() {
        let names: Vec<&str> = RUNTIME_FILES.iter().map(|(p, _)| *p).collect();
        assert!(names.contains(&"Cargo.toml"), "{names:?}");
        assert!(names.contains(&"src/lib.rs"), "{names:?}");
        assert!(std::str::from_utf8(cargo_lock())
            .unwrap()
            .contains("name = \"wbc-runtime\""));
        assert_eq!(runtime_hash().len(), 16);
    }
}
