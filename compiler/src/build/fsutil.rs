//! File writes that other processes never see half-done: parallel builds
//! (tests run several) share one cache directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A sibling path no other writer uses: `<path>.tmp-<pid>-<n>`.
pub(super) fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through a temporary file and a rename. Leaves
/// an identical existing file untouched, so its mtime (which cargo uses to
/// decide what to rebuild) does not change.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let temp = temp_sibling(path);
    fs::write(&temp, bytes)?;
    fs::rename(&temp, path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

/// Copies `from` to `to` (permissions included) through a temporary file
/// and a rename, so a running old binary at `to` is replaced, not overwritten.
pub(super) fn copy_atomic(from: &Path, to: &Path) -> io::Result<()> {
    let temp = temp_sibling(to);
    fs::copy(from, &temp)?;
    fs::rename(&temp, to).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}
