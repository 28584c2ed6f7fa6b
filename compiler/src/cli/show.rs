//! `wbc show KIND`: one module kind's arguments, queues and description.

use std::process::ExitCode;

use wbc::catalog::{kind, KindSpec, Queues, KINDS};

use super::list::queues;
use super::{SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A module kind, as listed by `wbc list` (e.g. `tcp.out`)
    pub kind: String,
}

pub fn run(args: Args) -> ExitCode {
    match kind(&args.kind) {
        Some(spec) => {
            out!("{}", describe(spec));
            ExitCode::from(SUCCESS)
        }
        None => {
            errln!("error: unknown module kind `{}`", args.kind);
            if let Some(near) =
                wbc::check::suggest::nearest(&args.kind, KINDS.iter().map(|k| k.name))
            {
                errln!("help: did you mean `{near}`?");
            }
            errln!("note: `wbc list` prints every kind");
            ExitCode::from(USAGE)
        }
    }
}

fn describe(spec: &KindSpec) -> String {
    let mut out = format!("{}: {}\n\narguments:\n", spec.name, spec.summary);
    if spec.args.is_empty() {
        out.push_str("  (none)\n");
    }
    let name_width = spec.args.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let type_width = spec
        .args
        .iter()
        .map(|a| a.ty.describe().len())
        .max()
        .unwrap_or(0);
    let defaults: Vec<String> = spec
        .args
        .iter()
        .map(|a| {
            a.default
                .map_or("required".to_string(), |d| format!("default {d}"))
        })
        .collect();
    let default_width = defaults.iter().map(String::len).max().unwrap_or(0);
    for (arg, default) in spec.args.iter().zip(&defaults) {
        out.push_str(&format!(
            "  {:<name_width$}  {:<type_width$}  {:<default_width$}  {}\n",
            arg.name,
            arg.ty.describe(),
            default,
            arg.doc
        ));
    }
    let side = |q: Queues| match q {
        Queues::UserNamed => format!(
            "{} (each queue name you write, such as `NAME.one`, is one connection)",
            queues(q)
        ),
        _ => queues(q),
    };
    out.push_str(&format!(
        "\nqueues:\n  inputs:  {}\n  outputs: {}\n\n",
        side(spec.inputs),
        side(spec.outputs)
    ));
    out.push_str(&wrap(spec.doc, 78));
    out
}

/// Word-wraps a paragraph to `width` columns.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
