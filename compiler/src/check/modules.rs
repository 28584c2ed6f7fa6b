//! Module declarations: names (E0003), kinds (E0002) and arguments
//! (E0004, E0005, E0006, E0014).

use std::collections::HashMap;

use super::suggest::{did_you_mean, nearest};
use super::values::{check_value, default_value};
use crate::catalog::{self, KindSpec, KINDS};
use crate::desugar::{Core, CoreModule};
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{ArgValue, ModuleId};
use crate::span::Span;

/// One declared module, as far as it could be checked.
pub(crate) struct Entry<'c> {
    pub decl: &'c CoreModule,
    /// `None` when the kind is unknown (already reported); such modules are
    /// left out of every later check so that one typo gives one error.
    pub kind: Option<&'static KindSpec>,
    /// Every argument in catalog order, or `None` when one was wrong or missing.
    pub args: Option<Vec<ArgValue>>,
    /// Where each argument was written, in catalog order (`None`: default).
    pub arg_spans: Vec<Option<Span>>,
}

impl Entry<'_> {
    pub fn name(&self) -> &str {
        &self.decl.name.text
    }

    /// The operator (`fanout`) of the flow expression or `fallback` that
    /// made this module, or `None` for a module the file declares.
    pub fn generated_by(&self) -> Option<&str> {
        self.decl.generated.then_some(self.decl.kind.text.as_str())
    }

    /// How the module's `queue` is shown in a message: `name.queue`, or
    /// `fanout(...)` for a module that desugaring made, whose name
    /// (`fanout_1`) the file cannot use.
    pub fn shown(&self, queue: &str) -> String {
        match self.generated_by() {
            Some(op) => format!("{op}(...)"),
            None => format!("{}.{queue}", self.name()),
        }
    }

    /// The resolved value of argument `name`.
    pub fn arg(&self, name: &str) -> Option<&crate::graph::Value> {
        self.args
            .as_ref()?
            .iter()
            .find(|a| a.spec.name == name)
            .map(|a| &a.value)
    }

    /// Where argument `name` was written, else the declaration.
    pub fn arg_span(&self, name: &str) -> Span {
        let kind = self.kind.map(|k| k.args).unwrap_or_default();
        kind.iter()
            .position(|a| a.name == name)
            .and_then(|i| self.arg_spans.get(i).copied().flatten())
            .unwrap_or(self.decl.span)
    }
}

/// The modules of a file by name; ids are positions in `entries`.
pub(crate) struct Modules<'c> {
    pub entries: Vec<Entry<'c>>,
    pub by_name: HashMap<&'c str, ModuleId>,
}

impl<'c> Modules<'c> {
    /// Every name the file declares, in declaration order: the candidates
    /// for "did you mean". Generated modules (`fanout_1`) are left out, as
    /// the file cannot name them.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries
            .iter()
            .filter(|e| !e.decl.generated)
            .map(|e| e.name())
    }

    pub fn get(&self, name: &str) -> Option<(ModuleId, &Entry<'c>)> {
        self.by_name.get(name).map(|id| (*id, &self.entries[id.0]))
    }
}

pub(crate) fn check_modules<'c>(core: &'c Core, diags: &mut Vec<Diagnostic>) -> Modules<'c> {
    let mut modules = Modules {
        entries: Vec::with_capacity(core.modules.len()),
        by_name: HashMap::new(),
    };
    for decl in &core.modules {
        if let Some((_, first)) = modules.get(&decl.name.text) {
            diags.push(
                Diagnostic::new(
                    Code::E0003,
                    decl.name.span,
                    format!("module `{}` is declared twice", decl.name.text),
                )
                .with_label("declared again here")
                .with_secondary(first.decl.name.span, "first declared here")
                .with_help("rename one of them"),
            );
            continue;
        }
        let kind = catalog::kind(&decl.kind.text);
        if kind.is_none() {
            let d = Diagnostic::new(
                Code::E0002,
                decl.kind.span,
                format!("unknown module kind `{}`", decl.kind.text),
            )
            .with_label("not a module kind");
            let help = did_you_mean(&decl.kind.text, KINDS.iter().map(|k| k.name))
                .unwrap_or_else(|| "`wbc list` shows every module kind".to_string());
            diags.push(d.with_help(help));
        }
        let (args, arg_spans) = match kind {
            Some(kind) => check_args(decl, kind, diags),
            None => (None, Vec::new()),
        };
        modules
            .by_name
            .insert(&decl.name.text, ModuleId(modules.entries.len()));
        modules.entries.push(Entry {
            decl,
            kind,
            args,
            arg_spans,
        });
    }
    modules
}

/// Checks the written arguments of `decl` and fills in defaults.
fn check_args(
    decl: &CoreModule,
    kind: &'static KindSpec,
    diags: &mut Vec<Diagnostic>,
) -> (Option<Vec<ArgValue>>, Vec<Option<Span>>) {
    let mut written: Vec<Option<&crate::ast::Arg>> = vec![None; kind.args.len()];
    let mut ok = true;
    // Arguments a misspelled one was taken for: not also reported missing.
    let mut meant: Vec<&str> = Vec::new();
    for arg in &decl.args {
        let Some(i) = kind.args.iter().position(|a| a.name == arg.key.text) else {
            ok = false;
            let d = Diagnostic::new(
                Code::E0004,
                arg.key.span,
                format!("unknown argument `{}` for `{}`", arg.key.text, kind.name),
            )
            .with_label(format!("`{}` has no such argument", kind.name));
            let help = if kind.args.is_empty() {
                format!("`{}` takes no arguments; remove it", kind.name)
            } else {
                let near = nearest(&arg.key.text, kind.args.iter().map(|a| a.name));
                meant.extend(near);
                near.map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| {
                        let names: Vec<String> =
                            kind.args.iter().map(|a| format!("`{}`", a.name)).collect();
                        format!("`{}` takes {}", kind.name, names.join(", "))
                    })
            };
            diags.push(d.with_help(help));
            continue;
        };
        if let Some(first) = written[i] {
            ok = false;
            diags.push(
                Diagnostic::new(
                    Code::E0014,
                    arg.key.span,
                    format!("argument `{}` is given twice", arg.key.text),
                )
                .with_label("given again here")
                .with_secondary(first.span, "first given here")
                .with_help("remove one of them"),
            );
            continue;
        }
        written[i] = Some(arg);
    }
    let mut values = Vec::with_capacity(kind.args.len());
    for (spec, arg) in kind.args.iter().zip(&written) {
        let value = match arg {
            Some(arg) => check_value(spec, &arg.value, diags),
            None => {
                let default = default_value(spec);
                if default.is_none() && !meant.contains(&spec.name) {
                    diags.push(missing(decl, kind, spec));
                }
                default
            }
        };
        match value {
            Some(value) => values.push(ArgValue {
                spec,
                value,
                explicit: arg.is_some(),
            }),
            None => ok = false,
        }
    }
    let spans = written.iter().map(|a| a.map(|a| a.span)).collect();
    (ok.then_some(values), spans)
}

fn missing(decl: &CoreModule, kind: &KindSpec, spec: &catalog::ArgSpec) -> Diagnostic {
    let example = match spec.ty {
        catalog::ArgType::Port => "10000",
        catalog::ArgType::Str => "\"...\"",
        _ => "...",
    };
    Diagnostic::new(
        Code::E0005,
        Span {
            start: decl.kind.span.start,
            end: decl.span.end.max(decl.kind.span.end),
        },
        format!("missing argument `{}` for `{}`", spec.name, kind.name),
    )
    .with_label(format!(
        "`{}` needs `{}` ({})",
        kind.name, spec.name, spec.doc
    ))
    .with_help(format!("add `{}: {example}`", spec.name))
}
