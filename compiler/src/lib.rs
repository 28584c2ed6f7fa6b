//! `wbc`: the compiler for `.wb` routing files.
//!
//! The pipeline reads top to bottom, one module per stage:
//! `parse` (pest grammar -> [`ast`]), `desugar` (inline flow expressions ->
//! core routing table), `check` (core table -> [`graph::Graph`] plus
//! diagnostics), `codegen` (graph -> Rust tokens -> formatted `main.rs`),
//! `build` (crate on disk -> cargo -> binary). See ARCHITECTURE.md.

pub mod ast;
pub mod build;
pub mod catalog;
pub mod check;
pub mod codegen;
pub mod desugar;
pub mod diagnostic;
pub mod dot;
pub mod expand;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod parse;
pub mod render;
pub mod span;
