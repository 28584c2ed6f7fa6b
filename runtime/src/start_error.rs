//! Why a module could not start, and what to do about it.
//!
//! A proxy that cannot start prints one error naming the module, and, when
//! the cause is one an operator meets often, a `help:` line with the fix,
//! as `wbc check` does:
//!
//! ```text
//! error: module `input` (tcp.in) cannot listen on 127.0.0.1:10000: address already in use
//!   = help: another process holds port 10000 (`ss -ltnp 'sport = :10000'` names it): stop it, or give `input` another `port`
//! ```
//!
//! The help is chosen here, from the io error's kind and what the module
//! was doing, so every module that listens, resolves or opens a file gives
//! the same advice for the same cause.

use std::io::ErrorKind;

/// A module that cannot start: printed by `launch` as an `error:` line and
/// an optional `= help:` line, exit code 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub module: String,
    /// Kind as written in routing files (`tcp.in`).
    pub kind: &'static str,
    /// What failed, lowercase, no trailing period: `cannot listen on
    /// 127.0.0.1:10000: address already in use`.
    pub message: String,
    /// The fix, in the same style, when the cause has a usual one.
    pub help: Option<String>,
}

/// What the module was doing when the io error came: it decides the help.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    /// Listening on `host:port`.
    Listen { host: &'a str, port: u16 },
    /// Resolving `host`, to connect to or listen on it.
    Resolve { host: &'a str },
    /// Opening `path` to append to it.
    Open { path: &'a str },
}

impl StartError {
    pub fn new(module: &str, kind: &'static str, message: impl Into<String>) -> StartError {
        StartError {
            module: module.to_string(),
            kind,
            message: message.into(),
            help: None,
        }
    }

    /// `what` followed by the io error in rustc style (lowercase, no
    /// `(os error N)`), with the usual fix for that error during `attempt`:
    /// `StartError::io("input", "tcp.in", "cannot listen on 127.0.0.1:80",
    /// Attempt::Listen { host, port }, &e)`.
    pub fn io(
        module: &str,
        kind: &'static str,
        what: impl AsRef<str>,
        attempt: Attempt<'_>,
        err: &std::io::Error,
    ) -> StartError {
        StartError {
            help: help(module, attempt, err.kind()),
            ..StartError::new(
                module,
                kind,
                format!("{}: {}", what.as_ref(), describe_io_error(err)),
            )
        }
    }
}

/// The usual fix for `kind` of io error during `attempt` by `module`.
fn help(module: &str, attempt: Attempt<'_>, kind: ErrorKind) -> Option<String> {
    let text = match (attempt, kind) {
        (Attempt::Listen { port, .. }, ErrorKind::AddrInUse) => format!(
            "another process holds port {port} (`ss -ltnp 'sport = :{port}'` names it): \
             stop it, or give `{module}` another `port`"
        ),
        (Attempt::Listen { port, .. }, ErrorKind::PermissionDenied) if port < 1024 => format!(
            "ports below 1024 need root or the `CAP_NET_BIND_SERVICE` capability \
             (`setcap cap_net_bind_service=+ep` on the binary): grant it, or give `{module}` \
             a `port` of 1024 or more"
        ),
        (Attempt::Listen { host, .. }, ErrorKind::AddrNotAvailable) => format!(
            "`{host}` is not an address of this machine: give `{module}` one of its \
             addresses as `host`, or `\"0.0.0.0\"` for all of them"
        ),
        (Attempt::Resolve { host }, _) => format!(
            "`{host}` did not resolve here: correct the `host` of `{module}`, or write an \
             address such as `\"127.0.0.1\"`"
        ),
        (Attempt::Open { path }, ErrorKind::NotFound) => format!(
            "the directory of `{path}` does not exist: create it, or give `{module}` \
             another `path`"
        ),
        (Attempt::Open { path }, ErrorKind::PermissionDenied) => format!(
            "the proxy's user may not write `{path}`: change the file's or its \
             directory's permissions, or give `{module}` another `path`"
        ),
        (Attempt::Open { path }, ErrorKind::IsADirectory) => {
            format!("`{path}` is a directory: give `{module}` a `path` that names a file in it")
        }
        _ => return None,
    };
    Some(text)
}

impl std::fmt::Display for StartError {
    /// The error line only; `launch` prints the help below it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "module `{}` ({}) {}",
            self.module, self.kind, self.message
        )
    }
}

impl std::error::Error for StartError {}

/// An io error as a diagnostic fragment: `address already in use`, not
/// `Address already in use (os error 98)`.
pub fn describe_io_error(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(attempt: Attempt<'_>, kind: ErrorKind) -> StartError {
        StartError::io(
            "input",
            "tcp.in",
            "cannot do it",
            attempt,
            &std::io::Error::from(kind),
        )
    }

    #[test]
    fn a_port_in_use_names_the_port_and_the_fix() {
        let e = error(
            Attempt::Listen {
                host: "127.0.0.1",
                port: 10000,
            },
            ErrorKind::AddrInUse,
        );
        assert_eq!(
            e.to_string(),
            "module `input` (tcp.in) cannot do it: address in use"
        );
        assert_eq!(
            e.help.as_deref(),
            Some(
                "another process holds port 10000 (`ss -ltnp 'sport = :10000'` names it): \
                 stop it, or give `input` another `port`"
            )
        );
    }

    #[test]
    fn a_denied_port_gets_help_only_below_1024() {
        let listen = |port| Attempt::Listen {
            host: "0.0.0.0",
            port,
        };
        let low = error(listen(80), ErrorKind::PermissionDenied);
        assert!(low.help.is_some_and(|h| h.contains("CAP_NET_BIND_SERVICE")));
        // Denied above 1024 is something else (a security module, say):
        // no advice is better than wrong advice.
        let high = error(listen(8080), ErrorKind::PermissionDenied);
        assert_eq!(high.help, None);
    }

    #[test]
    fn each_attempt_gets_the_help_for_its_own_cause() {
        let cases = [
            (
                Attempt::Listen {
                    host: "10.9.9.9",
                    port: 1,
                },
                ErrorKind::AddrNotAvailable,
                "`10.9.9.9` is not an address of this machine",
            ),
            (
                Attempt::Resolve { host: "carbon" },
                ErrorKind::Other,
                "`carbon` did not resolve here",
            ),
            (
                Attempt::Open { path: "/x/y.log" },
                ErrorKind::NotFound,
                "the directory of `/x/y.log` does not exist",
            ),
            (
                Attempt::Open { path: "/y.log" },
                ErrorKind::PermissionDenied,
                "may not write `/y.log`",
            ),
            (
                Attempt::Open { path: "/tmp" },
                ErrorKind::IsADirectory,
                "`/tmp` is a directory",
            ),
        ];
        for (attempt, kind, expected) in cases {
            let help = error(attempt, kind).help.unwrap_or_default();
            assert!(help.contains(expected), "{attempt:?} {kind:?}: {help:?}");
            assert!(help.contains("`input`"), "names the module: {help:?}");
            assert!(!help.ends_with('.'), "{help:?}");
        }
        let other = error(Attempt::Open { path: "/y.log" }, ErrorKind::StorageFull);
        assert_eq!(other.help, None);
    }

    #[test]
    fn io_errors_read_as_diagnostic_fragments() {
        // 98 is EADDRINUSE on Linux.
        let e = std::io::Error::from_raw_os_error(98);
        assert_eq!(describe_io_error(&e), "address already in use");
    }
}
