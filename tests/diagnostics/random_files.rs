//! Property: on any routing file built from the language's pieces
//! (valid or not), checking never panics, and whenever it yields a
//! graph, `expand` writes a file that re-checks without errors, with
//! the same warnings, to the same graph.

use proptest::prelude::*;

use super::{canonical, check_source};

const NAMES: &[&str] = &["a", "b", "c", "d", "rr", "fo", "fu", "roundrobin_1"];
const KINDS: &[&str] = &[
    "tcp.in",
    "tcp.out",
    "roundrobin",
    "fanout",
    "funnel",
    "stdin",
    "stdout",
    "null",
    "file.out",
    "metrics.graphite",
    "tcp.ot",
    "metrics.prometheus",
];
const ARGS: &[&str] = &[
    "port: 1",
    "port: 2",
    "port: 0",
    "host: \"0.0.0.0\"",
    "failed: true",
    "failed: false",
    "path: \"x.log\"",
    "reconnect: 250ms",
    "interval: 5",
    "port: 1",
];
const QUEUES: &[&str] = &["inbox", "outbox", "failed", "one", "two"];

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(items).prop_map(str::to_string)
}

fn decl() -> impl Strategy<Value = String> {
    (
        pick(NAMES),
        pick(KINDS),
        prop::collection::vec(pick(ARGS), 0..3),
    )
        .prop_map(|(n, k, args)| {
            if args.is_empty() {
                format!("{n} = {k}")
            } else {
                format!("{n} = {k}({})", args.join(", "))
            }
        })
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        pick(NAMES),
        (pick(NAMES), pick(QUEUES)).prop_map(|(n, q)| format!("{n}.{q}")),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        let op = pick(&["roundrobin", "fanout", "funnel"]);
        let fallback = prop_oneof![
            Just(String::new()),
            Just(" fallback funnel".to_string()),
            pick(NAMES).prop_map(|n| format!(" fallback {n}")),
        ];
        (op, prop::collection::vec(inner, 0..4), fallback)
            .prop_map(|(op, members, fallback)| format!("{op}({}){fallback}", members.join(", ")))
    })
}

fn route() -> impl Strategy<Value = String> {
    prop::collection::vec(expr(), 2..4).prop_map(|stages| stages.join(" -> "))
}

fn file() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![decl(), route()], 0..12)
        .prop_map(|lines| lines.join("\n") + "\n")
}

/// Routes whose every leaf is a new module (`@KIND@` placeholders,
/// numbered and declared by [`declare`]), so that most files check clean.
fn target() -> impl Strategy<Value = String> {
    let sink = pick(&[
        "@tcp.out@",
        "@file.out@",
        "@stdout@",
        "@null@",
        "@tcp.out@.inbox",
    ]);
    let failing = || pick(&["@tcp.out@", "@file.out@"]);
    sink.prop_recursive(3, 16, 3, move |inner| {
        let list = |s: BoxedStrategy<String>, min| {
            prop::collection::vec(s, min..4).prop_map(|m| m.join(", "))
        };
        prop_oneof![
            list(inner.clone().boxed(), 1).prop_map(|m| format!("roundrobin({m})")),
            list(inner.clone().boxed(), 1).prop_map(|m| format!("fanout({m})")),
            list(failing().boxed(), 1).prop_map(|m| format!("roundrobin({m}) fallback funnel")),
            list(failing().boxed(), 1).prop_map(|m| format!("fanout({m}) fallback @null@")),
            list(failing().boxed(), 2).prop_map(|m| format!("roundrobin({m}) fallback @file.out@")),
        ]
    })
}

fn source() -> impl Strategy<Value = String> {
    let leaf = pick(&[
        "@tcp.in@",
        "@stdin@",
        "@metrics.graphite@",
        "@tcp.in@.outbox",
    ]);
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 1..4).prop_map(|m| format!("funnel({})", m.join(", ")))
    })
}

fn good_route() -> impl Strategy<Value = String> {
    let middle = pick(&[
        "",
        " -> @funnel@",
        " -> @roundrobin@",
        " -> @fanout@",
        " -> @funnel@ -> @fanout@",
    ]);
    (source(), middle, target()).prop_map(|(s, m, t)| format!("{s}{m} -> {t}"))
}

/// Replaces every `@KIND@` with a new module name and declares it,
/// before or after the routes.
fn declare(routes: &[String], decls_first: bool) -> String {
    let (mut decls, mut body) = (String::new(), String::new());
    let mut n = 0;
    for route in routes {
        let mut rest = route.as_str();
        while let Some(start) = rest.find('@') {
            let Some(len) = rest[start + 1..].find('@') else {
                break;
            };
            let kind = &rest[start + 1..start + 1 + len];
            n += 1;
            let args = match kind {
                "tcp.in" => format!("(port: {})", 1000 + n),
                "tcp.out" => "(port: 9, reconnect: 250ms)".to_string(),
                "file.out" => format!("(path: \"f{n}.log\")"),
                _ => String::new(),
            };
            decls.push_str(&format!("m{n} = {kind}{args}\n"));
            body.push_str(&format!("{}m{n}", &rest[..start]));
            rest = &rest[start + len + 2..];
        }
        body.push_str(rest);
        body.push('\n');
    }
    if decls_first {
        decls + &body
    } else {
        body + &decls
    }
}

fn good_file() -> impl Strategy<Value = String> {
    (prop::collection::vec(good_route(), 1..5), any::<bool>())
        .prop_map(|(r, first)| declare(&r, first))
}

/// Checks `src`; when it gives a graph, its expansion must re-check to
/// the same graph with the same diagnostics. Returns whether it did.
fn round_trip(src: &str) -> Result<bool, TestCaseError> {
    let checked = check_source(src);
    let Some(graph) = checked.graph else {
        return Ok(false);
    };
    let expanded = wbc::expand::expand(&graph, src);
    let again = check_source(&expanded);
    let codes = |d: &[wbc::diagnostic::Diagnostic]| {
        let mut c: Vec<_> = d.iter().map(|d| d.code).collect();
        c.sort();
        c
    };
    prop_assert_eq!(
        codes(&again.diagnostics),
        codes(&checked.diagnostics),
        "{}\n{}",
        src,
        expanded
    );
    let again = again.graph.expect("no errors, so a graph");
    prop_assert_eq!(
        canonical(&again),
        canonical(&graph),
        "{}\n{}",
        src,
        expanded
    );
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn checking_any_file_never_panics(src in file()) {
        round_trip(&src)?;
    }

    #[test]
    fn clean_files_expand_to_the_same_graph(src in good_file()) {
        // The generator only builds valid files: one that does not
        // check clean is a checker (or generator) bug worth seeing.
        let checked = check_source(&src);
        prop_assert!(!checked.has_errors(), "{}\n{}", src,
            wbc::render::human(&checked.diagnostics, "generated.wb", &src, false));
        prop_assert!(round_trip(&src)?);
    }
}
