//! A tiny command-line reader: `--key value` options and positional
//! arguments. The programs are driven by a script, so a wrong argument is a
//! one-line error, not a help screen.

use std::collections::HashMap;
use std::str::FromStr;

pub struct Args {
    options: HashMap<String, String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Reads the process arguments; every `--key` must be followed by a value.
    pub fn from_env() -> Args {
        Args::parse(std::env::args().skip(1))
    }

    pub fn parse(items: impl IntoIterator<Item = String>) -> Args {
        let mut options = HashMap::new();
        let mut positional = Vec::new();
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            match item.strip_prefix("--") {
                Some(key) => match items.next() {
                    Some(value) => {
                        options.insert(key.to_string(), value);
                    }
                    None => crate::die(format_args!("`--{key}` needs a value")),
                },
                None => positional.push(item),
            }
        }
        Args {
            options,
            positional,
        }
    }

    /// The value of `--key`, parsed, or `default` when absent.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.options.get(key) {
            Some(text) => text
                .parse()
                .unwrap_or_else(|_| crate::die(format_args!("bad value `{text}` for `--{key}`"))),
            None => default,
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// Positional argument `index`, parsed; `what` names it in the error.
    pub fn pos<T: FromStr>(&self, index: usize, what: &str) -> T {
        let text = self
            .positional
            .get(index)
            .unwrap_or_else(|| crate::die(format_args!("missing {what}")));
        text.parse()
            .unwrap_or_else(|_| crate::die(format_args!("bad {what} `{text}`")))
    }

    /// Every positional argument from `from` on, parsed as ports.
    pub fn ports(&self, from: usize) -> Vec<u16> {
        (from..self.positional.len())
            .map(|i| self.pos(i, "port"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_options_and_positionals() {
        let args = Args::parse(
            ["--lines", "5", "20000", "20001"]
                .into_iter()
                .map(String::from),
        );
        assert_eq!(args.get("lines", 0u64), 5);
        assert_eq!(args.get("idle-ms", 7u64), 7);
        assert_eq!(args.ports(0), vec![20000, 20001]);
    }
}
