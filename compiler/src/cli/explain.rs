//! `wbc explain CODE`: what a diagnostic code means, with a wrong and a
//! corrected example.

use std::process::ExitCode;

use wbc::diagnostic::Code;

use super::{SUCCESS, USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A diagnostic code such as `E0010` or `W0001`
    pub code: String,
}

pub fn run(args: Args) -> ExitCode {
    match Code::parse(args.code.trim()) {
        Some(code) => {
            print!("{}", wbc::explain::render(wbc::explain::explanation(code)));
            ExitCode::from(SUCCESS)
        }
        None => {
            eprintln!("error: `{}` is not a wbc diagnostic code", args.code);
            let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            eprintln!("note: the codes are {}", codes.join(", "));
            ExitCode::from(USAGE)
        }
    }
}
