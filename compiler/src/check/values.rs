//! Argument values: checking a written literal against its catalog type
//! (E0006), reading the catalog's defaults, and writing values back as
//! `.wb` source (for `wbc expand` and `wbc graph`).

use std::time::Duration;

use crate::ast::{Literal, LiteralKind};
use crate::catalog::{ArgSpec, ArgType};
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::Value;

/// Checks `lit` against `spec`; on a mismatch pushes a diagnostic that says
/// what was expected and, where it is obvious, how to write it.
pub(crate) fn check_value(
    spec: &ArgSpec,
    lit: &Literal,
    diags: &mut Vec<Diagnostic>,
) -> Option<Value> {
    let wrong = |found: &str| {
        Diagnostic::new(
            Code::E0006,
            lit.span,
            format!(
                "expected {} for `{}`, found {found}",
                spec.ty.describe(),
                spec.name
            ),
        )
        .with_label(format!("expected {}", spec.ty.describe()))
    };
    let out_of_range = |why: String| {
        Diagnostic::new(
            Code::E0006,
            lit.span,
            format!("value of `{}` is out of range", spec.name),
        )
        .with_label(why)
    };
    let checked = match (spec.ty, &lit.kind) {
        (ArgType::Port, LiteralKind::Int(n)) => match u16::try_from(*n) {
            Ok(port) if port > 0 => Ok(Value::Int(u64::from(port))),
            _ => Err(out_of_range(format!("`{n}` is not a port"))
                .with_help("a port is a number from 1 to 65535")),
        },
        (ArgType::Int, LiteralKind::Int(n)) => match u64::try_from(*n) {
            Ok(v) => Ok(Value::Int(v)),
            Err(_) => Err(out_of_range("must not be negative".into())),
        },
        (ArgType::Str, LiteralKind::Str(s)) if s.is_empty() => {
            Err(out_of_range("must not be empty".into()))
        }
        (ArgType::Str, LiteralKind::Str(s)) => Ok(Value::Str(s.clone())),
        (ArgType::Bool, LiteralKind::Bool(b)) => Ok(Value::Bool(*b)),
        (ArgType::Duration, LiteralKind::Duration(ms)) => match u64::try_from(*ms) {
            Ok(ms) if ms > 0 => Ok(Value::Duration(Duration::from_millis(ms))),
            _ => Err(out_of_range("a duration must be greater than zero".into())),
        },
        (ArgType::DurationOrZero, LiteralKind::Duration(ms)) => match u64::try_from(*ms) {
            Ok(ms) => Ok(Value::Duration(Duration::from_millis(ms))),
            Err(_) => Err(out_of_range("must not be negative".into())),
        },
        (ArgType::ByteSize, LiteralKind::ByteSize(b)) => match u64::try_from(*b) {
            Ok(b) if b > 0 => Ok(Value::ByteSize(b)),
            _ => Err(out_of_range("a byte size must be greater than zero".into())),
        },
        (ty, found) => {
            let d = wrong(found_name(found));
            Err(match hint(ty, found) {
                Some(help) => d.with_help(help),
                None => d,
            })
        }
    };
    checked.map_err(|d| diags.push(d)).ok()
}

fn found_name(lit: &LiteralKind) -> &'static str {
    match lit {
        LiteralKind::Int(_) => "integer",
        LiteralKind::Str(_) => "string",
        LiteralKind::Bool(_) => "bool",
        LiteralKind::Duration(_) => "duration",
        LiteralKind::ByteSize(_) => "byte size",
    }
}

/// How to write a value of type `ty`, given what the user wrote.
fn hint(ty: ArgType, found: &LiteralKind) -> Option<String> {
    match (ty, found) {
        (ArgType::Port | ArgType::Int, LiteralKind::Str(s)) if s.parse::<u64>().is_ok() => {
            Some(format!("remove the quotes: `{s}`"))
        }
        (ArgType::Bool, LiteralKind::Str(s)) if s == "true" || s == "false" => {
            Some(format!("remove the quotes: `{s}`"))
        }
        (ArgType::Str, LiteralKind::Int(n)) => Some(format!("quote it: `\"{n}\"`")),
        (ArgType::Duration | ArgType::DurationOrZero, LiteralKind::Int(n)) => {
            Some(format!("add a unit: `{n}ms`, `{n}s` or `{n}m`"))
        }
        (ArgType::ByteSize, LiteralKind::Int(n)) => {
            Some(format!("add a unit: `{n}B`, `{n}KiB` or `{n}MiB`"))
        }
        (ArgType::Bool, _) => Some("write `true` or `false`".into()),
        _ => None,
    }
}

/// The catalog default of `spec` as a value, or `None` when it is required.
/// Catalog defaults are written as `.wb` source; a unit test checks that
/// every one of them reads back as its argument's type.
pub(crate) fn default_value(spec: &ArgSpec) -> Option<Value> {
    let lit = read_literal(spec.default?)?;
    let lit = Literal {
        kind: lit,
        span: Default::default(),
    };
    check_value(spec, &lit, &mut Vec::new())
}

/// Reads the small literal subset used by catalog defaults.
fn read_literal(src: &str) -> Option<LiteralKind> {
    if let Some(inner) = src.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Some(LiteralKind::Str(inner.to_string()));
    }
    match src {
        "true" => return Some(LiteralKind::Bool(true)),
        "false" => return Some(LiteralKind::Bool(false)),
        _ => {}
    }
    let digits = src.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = src.split_at(digits);
    let n: i64 = number.parse().ok()?;
    Some(match unit {
        "" => LiteralKind::Int(n),
        "ms" => LiteralKind::Duration(n),
        "s" => LiteralKind::Duration(n * 1000),
        "m" => LiteralKind::Duration(n * 60_000),
        "h" => LiteralKind::Duration(n * 3_600_000),
        "B" => LiteralKind::ByteSize(n),
        "KiB" => LiteralKind::ByteSize(n << 10),
        "MiB" => LiteralKind::ByteSize(n << 20),
        "GiB" => LiteralKind::ByteSize(n << 30),
        _ => return None,
    })
}

/// `value` written as `.wb` source, in the largest unit that is exact.
pub fn to_wb(value: &Value) -> String {
    match value {
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => quote(s),
        Value::Duration(d) => {
            let ms = d.as_millis();
            match ms {
                0 => "0ms".to_string(),
                _ if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
                _ if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
                _ if ms % 1000 == 0 => format!("{}s", ms / 1000),
                _ => format!("{ms}ms"),
            }
        }
        Value::ByteSize(b) => match b {
            _ if b % (1 << 30) == 0 => format!("{}GiB", b >> 30),
            _ if b % (1 << 20) == 0 => format!("{}MiB", b >> 20),
            _ if b % (1 << 10) == 0 => format!("{}KiB", b >> 10),
            _ => format!("{b}B"),
        },
    }
}

/// A `.wb` string literal with the language's escapes.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::KINDS;

    #[test]
    fn every_catalog_default_reads_as_its_type_and_writes_back_the_same() {
        for kind in KINDS {
            for arg in kind.args {
                let Some(src) = arg.default else { continue };
                let value = default_value(arg)
                    .unwrap_or_else(|| panic!("{}.{}: bad default {src}", kind.name, arg.name));
                assert_eq!(to_wb(&value), src, "{}.{}", kind.name, arg.name);
            }
        }
    }

    #[test]
    fn values_are_checked_against_their_type_and_range() {
        let spec = |ty| ArgSpec {
            name: "x",
            ty,
            default: None,
            doc: "",
        };
        let lit = |kind| Literal {
            kind,
            span: Default::default(),
        };
        let check = |ty, kind| {
            let mut diags = Vec::new();
            (check_value(&spec(ty), &lit(kind), &mut diags), diags)
        };
        assert_eq!(
            check(ArgType::Port, LiteralKind::Int(80)),
            (Some(Value::Int(80)), vec![])
        );
        for bad in [0, 65536, -1] {
            let (value, diags) = check(ArgType::Port, LiteralKind::Int(bad));
            assert_eq!((value, diags[0].code), (None, Code::E0006));
        }
        let (_, diags) = check(ArgType::Duration, LiteralKind::Int(5));
        assert_eq!(
            diags[0].help.as_deref(),
            Some("add a unit: `5ms`, `5s` or `5m`")
        );
        assert_eq!(check(ArgType::Duration, LiteralKind::Duration(-5)).0, None);
        // Zero is a value only where it means "no wait" (tcp.out's linger);
        // a reconnect delay or a metrics interval of zero would spin.
        assert_eq!(check(ArgType::Duration, LiteralKind::Duration(0)).0, None);
        assert_eq!(
            check(ArgType::DurationOrZero, LiteralKind::Duration(0)),
            (Some(Value::Duration(Duration::ZERO)), vec![])
        );
        assert_eq!(
            check(ArgType::DurationOrZero, LiteralKind::Duration(-1)).0,
            None
        );
        let (_, diags) = check(ArgType::DurationOrZero, LiteralKind::Int(0));
        assert_eq!(
            diags[0].help.as_deref(),
            Some("add a unit: `0ms`, `0s` or `0m`")
        );
        assert_eq!(to_wb(&Value::Duration(Duration::ZERO)), "0ms");
        assert_eq!(check(ArgType::Str, LiteralKind::Str(String::new())).0, None);
        assert_eq!(to_wb(&Value::Str("a\"b\\".into())), r#""a\"b\\""#);
        assert_eq!(to_wb(&Value::Duration(Duration::from_millis(250))), "250ms");
        assert_eq!(to_wb(&Value::ByteSize(1536)), "1536B");
    }
}
