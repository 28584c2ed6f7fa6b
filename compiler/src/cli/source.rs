//! Reading routing files and choosing output styles, shared by commands.

use std::io::{IsTerminal, Read};
use std::path::Path;

use wbc::build::io_reason;

/// The `FILE` that means standard input, as for most Unix tools: an editor
/// or a CI step can check or format text it holds without a file.
const STDIN: &str = "-";

/// Whether `path` is [`STDIN`].
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// How messages name a routing file: its path, or `<stdin>`.
pub fn name(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads a routing file (standard input for `-`), or prints one line
/// saying why it cannot be read.
pub fn read(path: &Path) -> Option<String> {
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    match bytes {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(e) => {
                errln!(
                    "error: cannot read `{}`: not UTF-8 text (invalid byte at offset {})",
                    name(path),
                    e.utf8_error().valid_up_to()
                );
                None
            }
        },
        Err(e) => {
            errln!("error: cannot read `{}`: {}", name(path), io_reason(&e));
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
