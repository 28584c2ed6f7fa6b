//! Code generation: a checked [`Graph`] becomes the `main.rs` of a proxy crate.
//!
//! The generated program is the runtime contract of `wbc-runtime` written
//! out for one graph (see ARCHITECTURE.md, "The compiler/runtime contract"): one typed queue per
//! connection (its ends wrapped in `QueueEnd`s, which keeps a large file's
//! wiring fast to compile), then one `proxy.start(Kind::new(KindConfig { ..
//! }, inputs, outputs))` per module, with flow-module arities as const
//! generics. There
//! is no `dyn`, no match on a kind at run time and no lookup by name: every
//! decision is taken here, at compile time.
//!
//! Everything is data-driven from the [`catalog`](crate::catalog): the type
//! name comes from [`KindSpec::runtime`](crate::catalog::KindSpec::runtime),
//! the config fields from its arguments, the shape of `new`'s parameters
//! from its [`Queues`](crate::catalog::Queues).
//!
//! Safety against code injection is structural: the program is built as
//! tokens with `quote!` (never by pasting strings), every string from the
//! routing file (module names, queue names, argument values, the file name)
//! becomes a string *literal* token, and the only identifiers are fixed
//! words, catalog names (validated with `syn`) and counters such as `q3_tx`.
//! Nothing a routing file contains can become an identifier or a token of
//! its own. The tokens are then parsed with `syn` (so a bug here is an error,
//! not a broken crate) and printed with `prettyplease`.

mod emit;
mod internal;
mod plan;

use std::fmt;

use proc_macro2::TokenStream;
use sha2::{Digest, Sha256};

use crate::graph::Graph;

/// Where the graph came from; embedded in the binary's `ProxyInfo` so that
/// `proxy --version` names the routing file and the hash of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The routing file's name as the user gave it (`scenario1_one_to_one.wb`).
    pub name: String,
    /// Lowercase hex sha256 of the routing file's bytes.
    pub sha256: String,
}

impl SourceInfo {
    pub fn new(name: impl Into<String>, bytes: &[u8]) -> SourceInfo {
        SourceInfo {
            name: name.into(),
            sha256: sha256_hex(bytes),
        }
    }
}

/// The compiler identification embedded in every proxy.
pub const COMPILER: &str = concat!("wbc ", env!("CARGO_PKG_VERSION"));

/// A graph that code generation cannot express. A graph from the checker
/// never produces one; they exist so that a checker bug is an error message
/// rather than a panic or a crate that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodegenError {
    /// A queue the kind's constructor needs has no connection.
    Unconnected { module: String, queue: String },
    /// A fixed queue has more than one connection.
    ConnectedTwice { module: String, queue: String },
    /// A connection names a queue the kind does not have on that side.
    UnknownQueue { module: String, queue: String },
    /// An argument value does not fit the type the catalog gives it.
    BadValue { module: String, arg: String },
    /// A catalog name that is not a valid Rust identifier.
    BadCatalogName { name: String },
    /// The generated tokens did not parse as a Rust file.
    Syntax { message: String },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Unconnected { module, queue } => {
                write!(f, "queue `{module}.{queue}` is not connected")
            }
            CodegenError::ConnectedTwice { module, queue } => {
                write!(f, "queue `{module}.{queue}` is connected more than once")
            }
            CodegenError::UnknownQueue { module, queue } => {
                write!(f, "module `{module}` has no queue `{queue}`")
            }
            CodegenError::BadValue { module, arg } => {
                write!(f, "argument `{arg}` of `{module}` does not fit its type")
            }
            CodegenError::BadCatalogName { name } => {
                write!(f, "catalog name `{name}` is not a valid rust identifier")
            }
            CodegenError::Syntax { message } => {
                write!(f, "generated code does not parse: {message}")
            }
        }
    }
}

impl std::error::Error for CodegenError {}

/// The generated program as tokens (not yet parsed or formatted).
pub fn tokens(graph: &Graph, source: &SourceInfo) -> Result<TokenStream, CodegenError> {
    let plan = plan::Plan::new(graph)?;
    emit::program(graph, &plan, source)
}

/// The generated `main.rs`, parsed with `syn` and formatted with `prettyplease`.
pub fn generate(graph: &Graph, source: &SourceInfo) -> Result<String, CodegenError> {
    let tokens = tokens(graph, source)?;
    let file = syn::parse2::<syn::File>(tokens).map_err(|e| CodegenError::Syntax {
        message: e.to_string(),
    })?;
    Ok(prettyplease::unparse(&file))
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
