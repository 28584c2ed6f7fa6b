//! Tokens for a [`Plan`]: the `main.rs` of the runtime contract.
//!
//! Routing-file strings only ever reach the output through
//! [`Literal::string`]; identifiers are fixed words, catalog names checked
//! by [`ident`], or numbered queue variables from [`queue_end`].

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::catalog::ArgType;
use crate::graph::{ArgValue, Graph, Module, Value};

use super::plan::{ModulePlan, Param, Plan};
use super::{CodegenError, SourceInfo, COMPILER};

pub(super) fn program(
    graph: &Graph,
    plan: &Plan,
    source: &SourceInfo,
) -> Result<TokenStream, CodegenError> {
    let queues = graph.connections.iter().enumerate().map(|(i, c)| {
        let (tx, rx) = (queue_end(i, End::Sender), queue_end(i, End::Receiver));
        let from_module = Literal::string(&graph.module(c.from.module).name);
        let from_queue = Literal::string(&c.from.queue);
        let to_module = Literal::string(&graph.module(c.to.module).name);
        let to_queue = Literal::string(&c.to.queue);
        // Metric-only routes never hold up the drain (see `internal`).
        let make = if plan.internal[i] {
            quote!(internal_queue)
        } else {
            quote!(queue)
        };
        // Wrapped: see the runtime's `wiring` module for why.
        quote! {
            let (#tx, #rx) = wbc_runtime::hold_ends(
                proxy.#make(#from_module, #from_queue, #to_module, #to_queue),
            );
        }
    });
    let spawns = plan
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| spawn(i, graph.module(m.id), m))
        .collect::<Result<Vec<_>, _>>()?;
    let imports = imports(graph, plan)?;
    let (file_name, sha256) = (
        Literal::string(&source.name),
        Literal::string(&source.sha256),
    );
    let compiler = Literal::string(COMPILER);
    // A file with nothing to run still builds, without an unused-variable warning.
    let proxy = if graph.connections.is_empty() && plan.modules.is_empty() {
        format_ident!("_proxy")
    } else {
        format_ident!("proxy")
    };
    Ok(quote! {
        #imports
        fn main() -> std::process::ExitCode {
            wbc_runtime::launch(
                wbc_runtime::ProxyInfo {
                    source: #file_name,
                    sha256: #sha256,
                    compiler: #compiler,
                },
                |#proxy: &mut wbc_runtime::Proxy| -> Result<(), wbc_runtime::StartError> {
                    #(#queues)*
                    #(#spawns)*
                    Ok(())
                },
            )
        }
    })
}

/// `use` lines for the module types this graph spawns (in order of first
/// use) and for `Duration` when an argument needs it.
fn imports(graph: &Graph, plan: &Plan) -> Result<TokenStream, CodegenError> {
    let mut names: Vec<&str> = Vec::new();
    let mut duration = false;
    for m in &plan.modules {
        let module = graph.module(m.id);
        if !names.contains(&module.kind.runtime) {
            names.push(module.kind.runtime);
        }
        duration |= module
            .args
            .iter()
            .any(|a| matches!(a.spec.ty, ArgType::Duration | ArgType::DurationOrZero));
    }
    let mut types = Vec::new();
    for name in names {
        types.push(ident(name)?);
        types.push(ident(&format!("{name}Config"))?);
    }
    let duration = duration.then(|| quote! { use std::time::Duration; });
    let modules = (!types.is_empty()).then(|| quote! { use wbc_runtime::modules::{#(#types),*}; });
    Ok(quote! { #duration #modules })
}

/// `let mI: Result<Kind<N>, _> = Kind::new(KindConfig { .. }, inputs..,
/// outputs..);
/// proxy.start(mI);` (a binding keeps the formatted code flat). No `?`:
/// `start` keeps a module's start error and the wiring goes on, so every
/// module that cannot start is reported, and the wiring function has no
/// early return that would drop the queue ends still held.
fn spawn(index: usize, module: &Module, plan: &ModulePlan) -> Result<TokenStream, CodegenError> {
    let runtime = module.kind.runtime;
    let kind = ident(runtime)?;
    let config = ident(&format!("{runtime}Config"))?;
    let name = Literal::string(&module.name);
    let fields = module
        .args
        .iter()
        .map(|arg| {
            let field = ident(arg.spec.name)?;
            let value = value(module, arg)?;
            Ok(quote! { #field: #value })
        })
        .collect::<Result<Vec<_>, CodegenError>>()?;
    let arities: Vec<Literal> = plan.arities().map(Literal::usize_unsuffixed).collect();
    // The arity is spelled in the binding's type (`RoundRobin<2>`), which
    // formats better than a turbofish and is checked against the array.
    let annotation = (!arities.is_empty()).then(|| quote! { : Result<#kind<#(#arities),*>, _> });
    let inputs = plan.inputs.iter().map(|p| param(p, End::Receiver));
    let outputs = plan.outputs.iter().map(|p| param(p, End::Sender));
    let var = format_ident!("m{}", index);
    Ok(quote! {
        let #var #annotation = #kind::new(
            #config { name: #name, #(#fields,)* },
            #(#inputs,)*
            #(#outputs,)*
        );
        proxy.start(#var);
    })
}

#[derive(Clone, Copy)]
enum End {
    Sender,
    Receiver,
}

/// The variable holding one end of connection `index`: `q3_tx` / `q3_rx`,
/// a `QueueEnd` that its module's constructor gets with `.take()`.
fn queue_end(index: usize, end: End) -> Ident {
    match end {
        End::Sender => format_ident!("q{}_tx", index),
        End::Receiver => format_ident!("q{}_rx", index),
    }
}

fn param(param: &Param, end: End) -> TokenStream {
    match param {
        Param::One(i) => {
            let var = queue_end(*i, end);
            quote! { #var.take() }
        }
        Param::Optional(Some(i)) => {
            let var = queue_end(*i, end);
            quote! { Some(#var.take()) }
        }
        Param::Optional(None) => quote! { None },
        Param::Array(ends) => {
            let vars = ends.iter().map(|i| queue_end(*i, end));
            quote! { [#(#vars.take()),*] }
        }
    }
}

/// An argument value as a Rust expression of the config field's type:
/// Port -> u16, Int and ByteSize -> u64, Str -> &'static str, Bool -> bool,
/// Duration -> `Duration`.
fn value(module: &Module, arg: &ArgValue) -> Result<TokenStream, CodegenError> {
    let bad = || CodegenError::BadValue {
        module: module.name.clone(),
        arg: arg.spec.name.into(),
    };
    Ok(match (arg.spec.ty, &arg.value) {
        (ArgType::Port, Value::Int(n)) => {
            let port = u16::try_from(*n).map_err(|_| bad())?;
            let port = Literal::u16_unsuffixed(port);
            quote! { #port }
        }
        (ArgType::Int, Value::Int(n)) | (ArgType::ByteSize, Value::ByteSize(n)) => {
            let n = Literal::u64_unsuffixed(*n);
            quote! { #n }
        }
        (ArgType::Str, Value::Str(s)) => {
            let s = Literal::string(s);
            quote! { #s }
        }
        (ArgType::Bool, Value::Bool(b)) => quote! { #b },
        (ArgType::Duration | ArgType::DurationOrZero, Value::Duration(d)) => {
            if d.subsec_nanos() % 1_000_000 == 0 {
                let ms = u64::try_from(d.as_millis()).map_err(|_| bad())?;
                let ms = Literal::u64_unsuffixed(ms);
                quote! { Duration::from_millis(#ms) }
            } else {
                let ns = u64::try_from(d.as_nanos()).map_err(|_| bad())?;
                let ns = Literal::u64_unsuffixed(ns);
                quote! { Duration::from_nanos(#ns) }
            }
        }
        _ => return Err(bad()),
    })
}

/// A catalog name as an identifier; `syn` rejects keywords and anything
/// that is not an identifier, so a bad catalog entry cannot produce code.
fn ident(name: &str) -> Result<Ident, CodegenError> {
    let bad = || CodegenError::BadCatalogName {
        name: name.to_string(),
    };
    let parsed = syn::parse_str::<syn::Ident>(name).map_err(|_| bad())?;
    // `parse_str` accepts raw identifiers (`r#fn`); catalog names must be plain.
    if parsed != name {
        return Err(bad());
    }
    Ok(Ident::new(name, Span::call_site()))
}
