//! Diagnostics: what every stage reports instead of failing.
//!
//! Parsing, desugaring and checking never stop at the first problem: each
//! returns its result plus a list of `Diagnostic`s. Rendering (human text
//! or JSON lines) lives in `render`; the long explanations in `explain`.

use crate::span::Span;

/// Stable diagnostic codes. They are a contract with users' CI scripts:
/// never renumber, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    E0001,
    E0002,
    E0003,
    E0004,
    E0005,
    E0006,
    E0007,
    E0008,
    E0009,
    E0010,
    E0011,
    E0012,
    E0013,
    /// An argument given twice in one declaration.
    E0014,
    /// A `fallback` where it cannot work.
    E0015,
    W0001,
    W0002,
    W0003,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::E0001,
        Code::E0002,
        Code::E0003,
        Code::E0004,
        Code::E0005,
        Code::E0006,
        Code::E0007,
        Code::E0008,
        Code::E0009,
        Code::E0010,
        Code::E0011,
        Code::E0012,
        Code::E0013,
        Code::E0014,
        Code::E0015,
        Code::W0001,
        Code::W0002,
        Code::W0003,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::E0001 => "E0001",
            Code::E0002 => "E0002",
            Code::E0003 => "E0003",
            Code::E0004 => "E0004",
            Code::E0005 => "E0005",
            Code::E0006 => "E0006",
            Code::E0007 => "E0007",
            Code::E0008 => "E0008",
            Code::E0009 => "E0009",
            Code::E0010 => "E0010",
            Code::E0011 => "E0011",
            Code::E0012 => "E0012",
            Code::E0013 => "E0013",
            Code::E0014 => "E0014",
            Code::E0015 => "E0015",
            Code::W0001 => "W0001",
            Code::W0002 => "W0002",
            Code::W0003 => "W0003",
        }
    }

    /// Parses `E0003` (also `e0003`, `3`-style shorthands are not accepted).
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::W0001 | Code::W0002 | Code::W0003 => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with a short message attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    /// One line, lowercase, no trailing period, names in backticks.
    pub message: String,
    /// Where the problem is; its message may be empty.
    pub primary: Label,
    /// Other places involved ("first declared here").
    pub secondary: Vec<Label>,
    /// The fix, when there is one ("did you mean `output_1`?").
    pub help: Option<String>,
    /// Extra lines of context (a cycle's chain of queues).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
}
