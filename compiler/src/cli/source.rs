//! Reading routing files and choosing output styles, shared by commands.

use std::io::IsTerminal;
use std::path::Path;

use wbc::build::io_reason;

/// Reads a routing file, or prints one line saying why it cannot be read.
pub fn read(path: &Path) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(e) => {
                errln!(
                    "error: cannot read `{}`: not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                );
                None
            }
        },
        Err(e) => {
            errln!("error: cannot read `{}`: {}", path.display(), io_reason(&e));
            None
        }
    }
}

/// Whether to color diagnostics written to stderr: only on a terminal, and
/// never when `NO_COLOR` is set (https://no-color.org).
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal()
        && !matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty())
}
