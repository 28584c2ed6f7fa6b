//! Name bookkeeping for desugaring: which module names and queue names the
//! file already uses, so that generated ones never collide with them, and
//! which declared modules are flow modules (they get fresh queues).

use std::collections::{HashMap, HashSet};

use crate::ast::{self, Expr, Fallback, Item};
use crate::catalog::{self, Role};

pub(super) struct Names {
    /// Every module name the file declares or mentions.
    taken: HashSet<String>,
    /// Flow role of declared modules (first declaration wins, as in `check`)
    /// and of generated ones.
    roles: HashMap<String, Role>,
    /// Per module, the queue names written explicitly somewhere in the file.
    written_queues: HashMap<String, HashSet<String>>,
    /// Last number handed out: per kind for generated modules (key `kind`),
    /// per module for fresh queues (key `.module`).
    counters: HashMap<String, u32>,
}

impl Names {
    pub(super) fn collect(file: &ast::File) -> Names {
        let mut names = Names {
            taken: HashSet::new(),
            roles: HashMap::new(),
            written_queues: HashMap::new(),
            counters: HashMap::new(),
        };
        for item in &file.items {
            match item {
                Item::Decl(decl) => {
                    names.taken.insert(decl.name.text.clone());
                    if let Some(kind) = catalog::kind(&decl.kind.text) {
                        names
                            .roles
                            .entry(decl.name.text.clone())
                            .or_insert(kind.role);
                    }
                }
                Item::Route(route) => route.stages.iter().for_each(|e| names.note_expr(e)),
            }
        }
        names
    }

    fn note_expr(&mut self, expr: &Expr) {
        match expr {
            Expr::Queue(q) => {
                self.taken.insert(q.module.text.clone());
                if let Some(queue) = &q.queue {
                    let written = self
                        .written_queues
                        .entry(q.module.text.clone())
                        .or_default();
                    written.insert(queue.text.clone());
                }
            }
            Expr::Flow(flow) => {
                flow.members.iter().for_each(|m| self.note_expr(m));
                if let Some(Fallback::Target(target)) = &flow.fallback {
                    self.note_expr(target);
                }
            }
        }
    }

    /// The flow role of `module`, when it is a flow module.
    pub(super) fn role(&self, module: &str) -> Option<Role> {
        self.roles
            .get(module)
            .copied()
            .filter(|r| matches!(r, Role::RoundRobin | Role::Fanout | Role::Funnel))
    }

    /// A new module name `KIND_N` that the file does not use.
    pub(super) fn new_module(&mut self, kind: &str, role: Role) -> String {
        let name = self.next_free(kind.to_string(), kind, |names, candidate| {
            names.taken.contains(candidate)
        });
        self.taken.insert(name.clone());
        self.roles.insert(name.clone(), role);
        name
    }

    /// A new queue name `PREFIX_N` of `module` that the file does not write.
    pub(super) fn fresh_queue(&mut self, module: &str, prefix: &str) -> String {
        // A flow module has fresh queues on one side only: one counter per
        // module, keyed `.module` (kind counters are keyed by the kind name).
        let key = format!(".{module}");
        self.next_free(key, prefix, |names, candidate| {
            names
                .written_queues
                .get(module)
                .is_some_and(|q| q.contains(candidate))
        })
    }

    fn next_free(
        &mut self,
        counter: String,
        prefix: &str,
        used: impl Fn(&Names, &str) -> bool,
    ) -> String {
        let mut n = self.counters.get(&counter).copied().unwrap_or(0);
        loop {
            n += 1;
            let candidate = format!("{prefix}_{n}");
            if !used(self, &candidate) {
                self.counters.insert(counter, n);
                return candidate;
            }
        }
    }
}
