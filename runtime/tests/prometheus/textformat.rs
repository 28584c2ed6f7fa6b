//! A strict reader for the Prometheus text exposition format (version 0.0.4),
//! used by the tests to check what `metrics.prometheus` serves.
//!
//! It enforces the rules a Prometheus server applies when it scrapes:
//! metric and label names match `[a-zA-Z_:][a-zA-Z0-9_:]*` and
//! `[a-zA-Z_][a-zA-Z0-9_]*` (no reserved `__` labels), label values are
//! double-quoted with only `\\`, `\"` and `\n` escapes, every value is a Go
//! float (`NaN`, `+Inf`, `-Inf` included), at most one `# HELP` and one
//! `# TYPE` per family and both before its first sample, a family's lines
//! are contiguous, no label set repeats within a family, and the body ends
//! with a newline. On top of that it applies the naming conventions: a
//! counter family's name ends in `_total`.

#![allow(dead_code)] // each test target uses a different part of it

use std::collections::{HashMap, HashSet};

type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    pub kind: Option<String>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Default)]
pub struct Exposition {
    pub families: Vec<Family>,
}

impl Exposition {
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of the sample `name` whose labels include all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .find(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.value)
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("__")
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => {
            let ok_chars = s
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
            match s.parse::<f64>() {
                Ok(v) if ok_chars && !s.is_empty() => Ok(v),
                _ => Err(format!("`{s}` is not a number")),
            }
        }
    }
}

/// Splits `{a="x",b="y"}` (starting at the `{`) into pairs; returns the pairs
/// and the rest of the line after the `}`.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = &s[1..];
    let mut labels: Labels = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let name = rest[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("bad label name `{name}`"));
        }
        rest = rest[eq + 1..].trim_start();
        rest = rest
            .strip_prefix('"')
            .ok_or("label value must be double-quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => {
                        return Err(format!(
                            "bad escape `\\{:?}` in label value",
                            other.map(|c| c.1)
                        ))
                    }
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label `{name}` given twice"));
        }
        labels.push((name.to_string(), value));
        rest = rest[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

/// The family a sample belongs to: histogram and summary samples carry
/// suffixes, every other sample is named exactly like its family.
fn family_of<'a>(sample: &'a str, families: &HashMap<String, usize>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if families.contains_key(base) {
                return base;
            }
        }
    }
    sample
}

/// Parses and validates a whole exposition body.
pub fn parse(body: &str) -> Result<Exposition, String> {
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("body does not end with a newline".into());
    }
    let mut out = Exposition::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut seen_labels: HashSet<(String, Labels)> = HashSet::new();

    // Switching to another family closes the previous one for good.
    let mut enter = |name: &str,
                     out: &mut Exposition,
                     index: &mut HashMap<String, usize>,
                     current: &mut Option<String>|
     -> Result<usize, String> {
        if current.as_deref() != Some(name) {
            if closed.contains(name) {
                return Err(format!("lines of `{name}` are not contiguous"));
            }
            if let Some(prev) = current.take() {
                closed.insert(prev);
            }
            *current = Some(name.to_string());
        }
        Ok(*index.entry(name.to_string()).or_insert_with(|| {
            out.families.push(Family {
                name: name.to_string(),
                help: None,
                kind: None,
                samples: Vec::new(),
            });
            out.families.len() - 1
        }))
    };

    for (n, line) in body.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: `{line}`", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let keyword = words.next().unwrap_or("");
            if keyword != "HELP" && keyword != "TYPE" {
                continue; // a plain comment
            }
            let name = words.next().unwrap_or("");
            if !is_metric_name(name) {
                return Err(at(format!("bad metric name `{name}`")));
            }
            let text = words.next().unwrap_or("").to_string();
            let i = enter(name, &mut out, &mut index, &mut current).map_err(at)?;
            let fam = &mut out.families[i];
            if !fam.samples.is_empty() {
                return Err(at(format!("# {keyword} after samples of `{name}`")));
            }
            if keyword == "HELP" {
                if fam.help.replace(text).is_some() {
                    return Err(at("second # HELP".into()));
                }
            } else {
                if !matches!(
                    text.as_str(),
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                ) {
                    return Err(at(format!("unknown type `{text}`")));
                }
                if text == "counter" && !name.ends_with("_total") {
                    return Err(at(format!("counter `{name}` does not end in `_total`")));
                }
                if fam.kind.replace(text).is_some() {
                    return Err(at("second # TYPE".into()));
                }
            }
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| at("sample without a value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at(format!("bad metric name `{name}`")));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(
            fields
                .next()
                .ok_or_else(|| at("sample without a value".into()))?,
        )
        .map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| at(format!("bad timestamp `{ts}`")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing text after the timestamp".into()));
        }
        let family = family_of(name, &index).to_string();
        let i = enter(&family, &mut out, &mut index, &mut current).map_err(at)?;
        let mut key_labels = labels.clone();
        key_labels.sort();
        if !seen_labels.insert((name.to_string(), key_labels)) {
            return Err(at("the same label set twice".into()));
        }
        out.families[i].samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(out)
}
