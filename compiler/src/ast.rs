//! The syntax tree: exactly what the user wrote, with a span on every node.
//!
//! Nothing here is validated beyond the grammar: names may be undeclared,
//! kinds unknown, arguments wrong. `desugar` turns this into the core
//! routing table and `check` turns that into a [`crate::graph::Graph`].

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// A whole routing file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    /// Statements in source order.
    pub items: Vec<Item>,
    /// Every `#` comment, in source order (kept for `wbc fmt`).
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment including its `#`, without the line break.
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Decl(Decl),
    Route(Route),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Decl(d) => d.span,
            Item::Route(r) => r.span,
        }
    }
}

/// `NAME = KIND` or `NAME = KIND(key: value, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub name: Ident,
    /// Dotted kind name (`tcp.in`) as one identifier.
    pub kind: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

/// `key: value` inside a declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub key: Ident,
    pub value: Literal,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

/// Literal values. Numbers are signed so that `-5s` parses and the checker
/// can say it is out of range (E0006) instead of a syntax error.
#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    Int(i64),
    /// The decoded string (escapes resolved).
    Str(String),
    Bool(bool),
    /// In milliseconds.
    Duration(i64),
    /// In bytes.
    ByteSize(i64),
}

/// `SOURCE -> TARGET [-> TARGET ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// At least two stages.
    pub stages: Vec<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `NAME` or `NAME.QUEUE`.
    Queue(QueueRef),
    /// `roundrobin(...)`, `fanout(...)` or `funnel(...)`, optionally
    /// followed by `fallback funnel` or `fallback TARGET`.
    Flow(Flow),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Queue(q) => q.span,
            Expr::Flow(f) => f.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueRef {
    pub module: Ident,
    pub queue: Option<Ident>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOp {
    RoundRobin,
    Fanout,
    Funnel,
}

impl FlowOp {
    /// The catalog kind this operator creates.
    pub fn kind_name(self) -> &'static str {
        match self {
            FlowOp::RoundRobin => "roundrobin",
            FlowOp::Fanout => "fanout",
            FlowOp::Funnel => "funnel",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub op: FlowOp,
    pub op_span: Span,
    pub members: Vec<Expr>,
    pub fallback: Option<Fallback>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    /// `fallback funnel`: members' failed queues feed back into the flow.
    Funnel(Span),
    /// `fallback TARGET`: members' failed queues go to TARGET.
    Target(Box<Expr>),
}
