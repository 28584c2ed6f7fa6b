//! Embeds the runtime crate's sources and the workspace `Cargo.lock` into
//! the `wbc` binary.
//!
//! `wbc build` writes these files into its cache (`runtime-<hash>/` and a
//! `Cargo.lock` next to each generated crate), so a `wbc` installed with
//! `cargo install --path compiler` builds proxies from any directory, with
//! the exact dependency versions this repository tests, offline once they
//! are in the local cargo registry. The table is `$OUT_DIR/embedded.rs`:
//! `RUNTIME_FILES` (path relative to `runtime/`, bytes) and `CARGO_LOCK`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("compiler/ lives in the workspace");
    let runtime = root.join("runtime");
    let lock = root.join("Cargo.lock");

    let mut files = vec![runtime.join("Cargo.toml")];
    collect(&runtime.join("src"), &mut files);
    files.sort();

    let mut out = String::from("pub(super) static RUNTIME_FILES: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let relative = file.strip_prefix(&runtime).expect("under runtime/");
        let relative = relative
            .to_str()
            .expect("runtime paths are UTF-8")
            .replace('\\', "/");
        let absolute = file.to_str().expect("runtime paths are UTF-8");
        writeln!(out, "    ({relative:?}, include_bytes!({absolute:?})),").unwrap();
        println!("cargo:rerun-if-changed={absolute}");
    }
    out.push_str("];\n");
    let lock_path = lock.to_str().expect("workspace path is UTF-8");
    writeln!(
        out,
        "pub(super) static CARGO_LOCK: &[u8] = include_bytes!({lock_path:?});"
    )
    .unwrap();

    println!(
        "cargo:rerun-if-changed={}",
        runtime.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", runtime.join("src").display());
    println!("cargo:rerun-if-changed={lock_path}");

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    fs::write(out_dir.join("embedded.rs"), out).expect("write embedded.rs");
}

/// Every file below `dir`, recursively.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.is_file() {
            files.push(path);
        }
    }
}
