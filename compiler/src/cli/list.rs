//! `wbc list`: every module kind in the catalog, one line each.

use std::process::ExitCode;

use wbc::catalog::{Queues, KINDS};

use super::SUCCESS;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    out!("{}", table());
    ExitCode::from(SUCCESS)
}

/// How a side's queues are listed in `wbc list` and `wbc show`.
pub fn queues(q: Queues) -> String {
    match q {
        Queues::None => "-".to_string(),
        Queues::Fixed(names) => names.join(", "),
        Queues::UserNamed => "user-named".to_string(),
    }
}

fn table() -> String {
    let rows: Vec<[String; 4]> = KINDS
        .iter()
        .map(|k| {
            [
                k.name.to_string(),
                queues(k.inputs),
                queues(k.outputs),
                k.summary.to_string(),
            ]
        })
        .collect();
    let header = ["KIND", "INPUTS", "OUTPUTS", "WHAT IT DOES"].map(String::from);
    let widths: Vec<usize> = (0..3)
        .map(|c| {
            rows.iter()
                .chain([&header])
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (cell, width) in row.iter().zip(&widths) {
            out.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(&row[3]);
        out.push('\n');
    }
    out
}
