//! Code generation from routing files: snapshots of the generated `main.rs`
//! for every example, the no-`dyn` rule, and routing files that try to
//! inject code through names and strings.
//!
//! The generated code is inspected as tokens (after parsing it with `syn`),
//! not as text, so a string literal that merely *contains* `dyn` or
//! `exit(1)` is told apart from code that does.

use std::fs;
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};
use wbc::catalog::KINDS;
use wbc::codegen::{generate, SourceInfo};

/// Checks `src` and generates its `main.rs`; `Err` holds the rendered
/// diagnostics when the checker rejects it.
fn compile(name: &str, src: &str) -> Result<String, String> {
    let checked = wbc::check::check_source(src);
    match checked.graph {
        Some(graph) => Ok(generate(&graph, &SourceInfo::new(name, src.as_bytes()))
            .expect("codegen of a checked graph")),
        None => Err(wbc::render::human(&checked.diagnostics, name, src, false)),
    }
}

/// The generated file, re-parsed with syn, as tokens.
fn tokens(code: &str) -> TokenStream {
    let file = syn::parse_file(code)
        .unwrap_or_else(|e| panic!("generated code does not parse: {e}\n{code}"));
    quote::quote!(#file)
}

fn idents(tokens: TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(g) => idents(g.stream(), out),
            TokenTree::Ident(i) => out.push(i.to_string()),
            _ => {}
        }
    }
}

fn string_literals(tokens: TokenStream, out: &mut Vec<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Group(g) => string_literals(g.stream(), out),
            TokenTree::Literal(lit) => {
                if let Ok(syn::Lit::Str(s)) = syn::parse_str::<syn::Lit>(&lit.to_string()) {
                    out.push(s.value());
                }
            }
            _ => {}
        }
    }
}

/// Every identifier codegen may write: fixed words of the runtime
/// contract, catalog names, and numbered queue and module variables.
/// Anything else in the output came from somewhere it should not have.
fn allowed_ident(word: &str) -> bool {
    const FIXED: &[&str] = &[
        "use",
        "std",
        "time",
        "Duration",
        "wbc_runtime",
        "modules",
        "fn",
        "main",
        "process",
        "ExitCode",
        "launch",
        "ProxyInfo",
        "source",
        "sha256",
        "compiler",
        "proxy",
        "mut",
        "Proxy",
        "Result",
        "StartError",
        "let",
        "queue",
        "internal_queue",
        "new",
        "hold_ends",
        "take",
        "start",
        "Ok",
        "Some",
        "None",
        "from_millis",
        "from_nanos",
        "name",
        "true",
        "false",
        "_proxy",
        // `Result<RoundRobin<2>, _>`: a flow module's binding spells its arity.
        "_",
    ];
    let numbered = |prefix: &str, suffix: &str| {
        word.strip_prefix(prefix)
            .and_then(|w| w.strip_suffix(suffix))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    FIXED.contains(&word)
        || KINDS
            .iter()
            .any(|k| word == k.runtime || word.strip_suffix("Config") == Some(k.runtime))
        || KINDS.iter().flat_map(|k| k.args).any(|a| a.name == word)
        || numbered("q", "_tx")
        || numbered("q", "_rx")
        || numbered("m", "")
}

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wb"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn snapshot_of_every_example() {
    let examples = examples();
    assert!(
        examples.len() >= 5,
        "examples/ has the seed scenarios and more"
    );
    for (name, src) in examples {
        let code = compile(&name, &src).unwrap_or_else(|d| panic!("{name} does not check:\n{d}"));
        insta::assert_snapshot!(format!("main_{name}"), code);
    }
}

#[test]
fn no_example_generates_dyn_and_every_identifier_is_known() {
    for (name, src) in examples() {
        let code = compile(&name, &src).unwrap_or_else(|d| panic!("{name} does not check:\n{d}"));
        let mut words = Vec::new();
        idents(tokens(&code), &mut words);
        assert!(
            !words.iter().any(|w| w == "dyn"),
            "{name} generates `dyn`:\n{code}"
        );
        assert!(!code.contains("dyn "), "{name}: `dyn` in text:\n{code}");
        let unknown: Vec<_> = words.iter().filter(|w| !allowed_ident(w)).collect();
        assert!(
            unknown.is_empty(),
            "{name}: unexpected identifiers {unknown:?}"
        );
        // One start per module that has a connection, one queue per connection.
        assert!(code.matches("proxy.start(").count() >= 2, "{name}");
    }
}

/// A routing file that tries to break out of the generated code. Either the
/// checker rejects it (snapshot of the diagnostics), or it compiles and
/// every hostile text is a string literal with exactly its value, and no
/// identifier outside codegen's vocabulary appears (snapshot of the code).
fn injection_case(case: &str, src: &str, hostile: &[&str]) {
    match compile(&format!("{case}.wb"), src) {
        Err(diagnostics) => {
            assert!(
                diagnostics.contains("error"),
                "{case}: rejected without an error:\n{diagnostics}"
            );
            insta::assert_snapshot!(format!("injection_{case}_rejected"), diagnostics);
        }
        Ok(code) => {
            let (mut words, mut literals) = (Vec::new(), Vec::new());
            idents(tokens(&code), &mut words);
            string_literals(tokens(&code), &mut literals);
            let unknown: Vec<_> = words.iter().filter(|w| !allowed_ident(w)).collect();
            assert!(
                unknown.is_empty(),
                "{case}: identifiers {unknown:?} leaked into code:\n{code}"
            );
            for text in hostile {
                assert!(
                    literals.iter().any(|l| l == text),
                    "{case}: {text:?} is not a literal:\n{code}"
                );
            }
            insta::assert_snapshot!(format!("injection_{case}_generated"), code);
        }
    }
}

/// Rust keywords are valid `.wb` names: they become string literals only.
#[test]
fn injection_module_names_that_are_rust_keywords() {
    injection_case(
        "keyword_names",
        "fn = tcp.in(port: 10000)\nself = roundrobin\ntype = tcp.out(port: 20000)\nSelf = tcp.out(port: 20001)\n\
         fn -> self\nself.loop -> type\nself.impl -> Self\n",
        &["fn", "self", "type", "Self", "loop", "impl"],
    );
}

/// A raw identifier is not a `.wb` name: rejected with a syntax error.
#[test]
fn injection_raw_identifier_name_is_rejected() {
    injection_case(
        "raw_identifier",
        "fn = tcp.in(port: 10000)\nr#match = tcp.out(port: 20001)\nfn -> r#match\n",
        &["r#match"],
    );
}

#[test]
fn injection_strings_that_close_the_literal() {
    let exit = r#"127.0.0.1"); std::process::exit(1); //"#;
    injection_case(
        "quote_escape",
        "input = tcp.in(port: 10000)\n\
         output = tcp.out(port: 20000, host: \"127.0.0.1\\\"); std::process::exit(1); //\")\n\
         input -> output\n",
        &[exit],
    );
}

#[test]
fn injection_raw_string_markers_and_backslashes() {
    injection_case(
        "raw_string",
        "input = tcp.in(port: 10000)\n\
         dead = file.out(path: \"r#\\\"x\\\"#\\\\\\n\\t\\\"#\")\n\
         input -> dead\n",
        &["r#\"x\"#\\\n\t\"#"],
    );
}

#[test]
fn injection_unicode_in_strings_and_names() {
    injection_case(
        "unicode",
        "input = tcp.in(port: 10000)\n\
         graphite = metrics.graphite(prefix: \"ünïcødé.\u{202e}evil\u{202c}.🚀\")\n\
         carbon = tcp.out(port: 2003)\n\
         input -> null_sink\nnull_sink = null\ngraphite -> carbon\n",
        &["ünïcødé.\u{202e}evil\u{202c}.🚀"],
    );
    injection_case(
        "unicode_name",
        "ünï = tcp.in(port: 10000)\nout = stdout\nünï -> out\n",
        &["ünï"],
    );
}

/// The routing file's name is embedded too (`--version`): a hostile file
/// name is a literal like any other string.
#[test]
fn injection_through_the_file_name() {
    let src = "input = tcp.in(port: 10000)\noutput = tcp.out(port: 20000)\ninput -> output\n";
    let graph = wbc::check::check_source(src).graph.expect("checks");
    let name = "\"); std::process::exit(1); r#\"ü.wb";
    let code = generate(&graph, &SourceInfo::new(name, src.as_bytes())).unwrap();
    let mut literals = Vec::new();
    string_literals(tokens(&code), &mut literals);
    assert!(literals.iter().any(|l| l == name), "{code}");
    let mut words = Vec::new();
    idents(tokens(&code), &mut words);
    assert!(words.iter().all(|w| allowed_ident(w)), "{words:?}");
}
