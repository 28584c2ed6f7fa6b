//! Queues connected twice (E0010), and the fix to offer for each.
//!
//! Every named queue is one connection, so a second route from the same
//! source, or into the same target, is an error whose fix depends on what
//! the user wrote. The help only ever names what the user can write: a
//! module that desugaring generated for `fanout(...)`, `roundrobin(...)` or
//! `funnel(...)` has a name (`fanout_1`) that the file cannot use, so such
//! a module is spoken of by its expression ("the `fanout(...)` of the first
//! route"), never by that name.

use std::collections::HashMap;

use super::modules::Modules;
use crate::desugar::{Core, CoreConnection, CoreEndpoint, QueueOrigin};
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::ModuleId;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Source,
    Target,
}

/// The first connection of each queue seen so far, in one direction.
pub(crate) type FirstUses<'c> = HashMap<(ModuleId, &'c str), &'c CoreConnection>;

/// Records the first use of a queue; a second use is E0010.
pub(crate) fn unique<'c>(
    first: &mut FirstUses<'c>,
    core: &Core,
    modules: &Modules,
    id: ModuleId,
    conn: &'c CoreConnection,
    dir: Dir,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let ep = end(conn, dir);
    let Some(earlier) = first.get(&(id, ep.queue.text.as_str())) else {
        first.insert((id, &ep.queue.text), conn);
        return true;
    };
    let earlier_ep = end(earlier, dir);
    let module = &ep.module.text;
    let (help, first_label) = if earlier_ep.origin == QueueOrigin::Fallback {
        let help = format!(
            "`fallback` already routes the events `{module}` could not deliver; remove this route or the `fallback`"
        );
        (help, "first connected here by `fallback`")
    } else if ep.origin == QueueOrigin::Fallback {
        let help = format!(
            "`fallback` also routes the events `{module}` could not deliver; remove the first route or the `fallback`"
        );
        (help, "first connected here")
    } else {
        (
            help(core, modules, earlier, conn, dir),
            "first connected here",
        )
    };
    let role = match dir {
        Dir::Source => "source",
        Dir::Target => "target",
    };
    diags.push(
        Diagnostic::new(
            Code::E0010,
            ep.queue.span,
            format!(
                "queue `{}` is connected more than once as a {role}",
                ep.explicit()
            ),
        )
        .with_label("connected again here")
        .with_secondary(earlier_ep.queue.span, first_label)
        .with_help(help),
    );
    false
}

/// The end of `conn` that is connected twice.
fn end(conn: &CoreConnection, dir: Dir) -> &CoreEndpoint {
    match dir {
        Dir::Source => &conn.from,
        Dir::Target => &conn.to,
    }
}

/// The other end of `conn`: where the queue connected twice leads.
fn other_end(conn: &CoreConnection, dir: Dir) -> &CoreEndpoint {
    match dir {
        Dir::Source => &conn.to,
        Dir::Target => &conn.from,
    }
}

/// The operator of the expression that made `ep`'s module, if one did.
fn generated_by<'m>(modules: &'m Modules, ep: &CoreEndpoint) -> Option<&'m str> {
    modules.get(&ep.module.text)?.1.generated_by()
}

/// Whether `module` receives what members failed to deliver: it is a
/// `fallback` target, fed by their `failed` queues directly or through the
/// funnel that merges them.
fn fed_by_fallback(core: &Core, module: &str) -> bool {
    let from_failed = |to: &str| {
        core.connections
            .iter()
            .any(|c| c.to.module.text == to && c.from.origin == QueueOrigin::Fallback)
    };
    from_failed(module)
        || core
            .connections
            .iter()
            .any(|c| c.to.module.text == module && from_failed(&c.from.module.text))
}

fn help(
    core: &Core,
    modules: &Modules,
    earlier: &CoreConnection,
    conn: &CoreConnection,
    dir: Dir,
) -> String {
    let ep = end(conn, dir).written();
    let (a_ep, b_ep) = (other_end(earlier, dir), other_end(conn, dir));
    let (a, b) = (a_ep.written(), b_ep.written());
    let (a_flow, b_flow) = (generated_by(modules, a_ep), generated_by(modules, b_ep));
    match dir {
        Dir::Source => match (a_flow, b_flow) {
            (None, None) => format!(
                "to send every event to both, write `{ep} -> fanout({a}, {b})`; to split them, `roundrobin({a}, {b})`"
            ),
            (Some(op), None) => {
                format!("add `{b}` to the `{op}(...)` of the first route, and remove this route")
            }
            (None, Some(op)) => {
                format!("add `{a}` to this `{op}(...)`, and remove the first route")
            }
            (Some(_), Some(_)) => format!(
                "make them one route: `{ep} -> fanout(FIRST, SECOND)` sends every event to both, `roundrobin(FIRST, SECOND)` splits them, where FIRST and SECOND are the two routes' targets as written"
            ),
        },
        Dir::Target => match (a_flow, fallback_loop(core, a_ep, a_flow, b_ep, b_flow)) {
            (Some(op), _) if a_ep.module.text == b_ep.module.text => {
                format!("`{ep}` is named twice in this `{op}(...)`; name each member once")
            }
            (_, Some(members_op)) => loop_help(&ep, members_op),
            _ => merge_help(&ep, &a, &b, a_flow, b_flow),
        },
    }
}

/// When one of two flows feeding a target is the other's `fallback` target,
/// the operator of the flow whose members these are.
fn fallback_loop<'m>(
    core: &Core,
    a_ep: &CoreEndpoint,
    a_flow: Option<&'m str>,
    b_ep: &CoreEndpoint,
    b_flow: Option<&'m str>,
) -> Option<&'m str> {
    let (a_op, b_op) = (a_flow?, b_flow?);
    if fed_by_fallback(core, &b_ep.module.text) {
        Some(a_op)
    } else if fed_by_fallback(core, &a_ep.module.text) {
        Some(b_op)
    } else {
        None
    }
}

fn loop_help(ep: &str, members_op: &str) -> String {
    if members_op == "roundrobin" {
        format!(
            "`{ep}` is a member and also receives the members' failed events; to resend them to the members still up, write `fallback funnel`"
        )
    } else {
        format!(
            "`{ep}` is a member and also receives the members' failed events; a `{members_op}(...)` would send them to every member again, so give its `fallback` a target that is not a member"
        )
    }
}

/// A target fed twice, neither feed being a `fallback` loop: merge them.
fn merge_help(ep: &str, a: &str, b: &str, a_flow: Option<&str>, b_flow: Option<&str>) -> String {
    match (a_flow, b_flow) {
        (None, None) => format!("to merge both into it, write `funnel({a}, {b}) -> {ep}`"),
        (Some("funnel"), None) => {
            format!("add `{b}` to the `funnel(...)` of the first route, and remove this route")
        }
        (None, Some("funnel")) => {
            format!("add `{a}` to this `funnel(...)`, and remove the first route")
        }
        _ => format!(
            "to merge both into it, declare a funnel (`NAME = funnel`), name `NAME` instead of `{ep}` in both places, and add `NAME -> {ep}`"
        ),
    }
}
