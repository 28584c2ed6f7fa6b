//! Where `wbc build` keeps generated crates, the runtime sources and the
//! shared cargo target directory.
//!
//! `$WBC_CACHE_DIR`, else `$XDG_CACHE_HOME/wbc`, else `~/.cache/wbc`:
//! ```text
//! runtime-<hash>/        the embedded runtime crate, one per runtime version
//! proxies/<package>/     one generated crate per routing file version,
//!                        with the built binary next to its Cargo.toml
//! target/                CARGO_TARGET_DIR shared by every build, so tokio
//!                        and the runtime are compiled once
//! ```

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;

/// The cache root from the environment, or `None` when no variable gives one.
pub fn locate() -> Option<PathBuf> {
    from_vars(
        env::var_os("WBC_CACHE_DIR"),
        env::var_os("XDG_CACHE_HOME"),
        env::var_os("HOME"),
    )
}

fn from_vars(
    wbc: Option<OsString>,
    xdg: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    set(wbc)
        .or_else(|| set(xdg).map(|x| x.join("wbc")))
        .or_else(|| set(home).map(|h| h.join(".cache").join("wbc")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn wbc_cache_dir_wins_then_xdg_then_home() {
        assert_eq!(
            from_vars(os("/w"), os("/x"), os("/h")),
            Some(PathBuf::from("/w"))
        );
        assert_eq!(
            from_vars(None, os("/x"), os("/h")),
            Some(PathBuf::from("/x/wbc"))
        );
        assert_eq!(
            from_vars(os(""), None, os("/h")),
            Some(PathBuf::from("/h/.cache/wbc"))
        );
        assert_eq!(from_vars(None, None, None), None);
    }
}
