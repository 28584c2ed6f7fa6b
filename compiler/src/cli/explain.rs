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
    match Code::parse(args.code.trim()).and_then(wbc::explain::explanation) {
        Some(explanation) => {
            out!("{}", wbc::explain::render(explanation));
            ExitCode::from(SUCCESS)
        }
        None => {
            errln!("error: `{}` is not a wbc diagnostic code", args.code);
            let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            errln!("note: the codes are {}", codes.join(", "));
            ExitCode::from(USAGE)
        }
    }
}
