//! The import graph of `src/` (ARCHITECTURE.md): imports flow one way. A module of the
//! library imports only modules listed before it in [`LAYERS`] — the shared leaves first,
//! then the pipeline's stages in order, spec → plan → render → execute → reconcile →
//! report → publish — and no two files import each other, directly or round a cycle.
//! The CLI (`src/cli`, `src/main.rs`) is the one place that strings stages together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module of the library, each allowed to import only those before it.
const LAYERS: &[&str] = &[
    // Shared leaves that import nothing of ours.
    "number",
    "failpoint",
    "clock",
    "sql",
    "build_info",
    "layout",
    "sample",
    // The first stage: a spec is parsed and validated with nothing but the leaves above.
    "spec",
    // Shared leaves over the warehouse: they know the spec's table names.
    "warehouse",
    "catalog",
    "error",
    "state",
    // The pipeline's stages, in order.
    "plan",
    "render",
    "execute",
    "reconcile",
    "report",
    "publish",
];

/// The stages of the pipeline, in the order DESIGN.md gives.
const STAGES: &[&str] = &["spec", "plan", "render", "execute", "reconcile", "report", "publish"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library's source files (the binary's `cli/` and `main.rs` aside), by path under `src/`.
fn library_files() -> BTreeMap<String, String> {
    walkdir::WalkDir::new(src())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.path().strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/"))
        .filter(|p| !p.starts_with("cli/") && p != "main.rs" && p != "lib.rs")
        .map(|p| {
            let text = std::fs::read_to_string(src().join(&p)).unwrap();
            (p, code_only(&text))
        })
        .collect()
}

/// The text with `//` comments (doc comments included) removed, so that doc links such as
/// [`crate::reconcile`] do not count as imports.
fn code_only(text: &str) -> String {
    text.lines().map(|l| l.split_once("//").map_or(l, |(code, _)| code)).collect::<Vec<_>>().join("\n")
}

/// The paths a file names: every `crate::…`, `super::…` path in code, with `use` groups
/// (`crate::{a, b::c}`) expanded. Returned as `crate::a::b` / `super::x` strings.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().last();
            rest = &rest[at..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') && root == "super::" {
                // `super::super::x` is read from its first `super::`.
                rest = &rest[root.len()..];
                continue;
            }
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            let head = &rest[..end];
            if rest[end..].starts_with('{') {
                let close = matching_brace(&rest[end..]).map_or(rest.len(), |i| end + i);
                for item in split_group(&rest[end + 1..close]) {
                    out.push(format!("{head}{item}"));
                }
                rest = &rest[close.min(rest.len())..];
            } else {
                out.push(head.to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

/// Index of the `}` closing the `{` at the start of `text`.
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The top-level items of a `use` group's inside, split at commas outside nested braces.
fn split_group(inside: &str) -> Vec<String> {
    let (mut items, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inside.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    items.into_iter().map(|i| i.split_whitespace().collect::<String>()).filter(|i| !i.is_empty()).collect()
}

/// The top-level module of a file under `src/`: `execute/run.rs` → `execute`.
fn module_of(file: &str) -> String {
    file.split('/').next().unwrap().trim_end_matches(".rs").to_string()
}

/// The file under `src/` a path resolves to, as far as files go: the longest prefix of
/// the path that names a file. `super::` is resolved from `file`'s own module.
fn resolve(files: &BTreeMap<String, String>, file: &str, path: &str) -> Option<String> {
    let mut parts: Vec<String> = file.trim_end_matches(".rs").split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, rest): (Vec<String>, &[&str]) = match segments.first() {
        Some(&"crate") => (Vec::new(), &segments[1..]),
        Some(&"super") => {
            parts.pop();
            let mut i = 1;
            while segments.get(i) == Some(&"super") {
                parts.pop();
                i += 1;
            }
            (parts, &segments[i..])
        }
        _ => return None,
    };
    let mut found = None;
    for s in rest {
        base.push(s.to_string());
        let joined = base.join("/");
        for candidate in [format!("{joined}.rs"), format!("{joined}/mod.rs")] {
            if files.contains_key(&candidate) {
                found = Some(candidate);
            }
        }
    }
    found.or_else(|| {
        let joined = base.first().cloned()?;
        [format!("{joined}.rs"), format!("{joined}/mod.rs")].into_iter().find(|c| files.contains_key(c))
    })
}

#[test]
fn stages_appear_in_pipeline_order_among_the_layers() {
    let positions: Vec<usize> =
        STAGES.iter().map(|s| LAYERS.iter().position(|l| l == s).expect("every stage is a layer")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "stages out of order in LAYERS");
}

/// Every import of `files` that reaches a module later in [`LAYERS`], as
/// `src/<file>: <from> imports the later <to> (<path>)`.
fn forward_imports(files: &BTreeMap<String, String>) -> Vec<String> {
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for (file, code) in files {
        let from = module_of(file);
        for path in paths(code).iter().filter(|p| p.starts_with("crate::")) {
            let to = path.trim_start_matches("crate::").split("::").next().unwrap().to_string();
            let to = if to == "Error" || to == "ErrorKind" { "error".to_string() } else { to };
            if to != from && rank(&to) > rank(&from) {
                wrong.push(format!("src/{file}: {from} imports the later {to} ({path})"));
            }
        }
    }
    wrong
}

#[test]
fn every_module_imports_only_modules_before_it() {
    let files = library_files();
    let modules: BTreeSet<String> = files.keys().map(|f| module_of(f)).collect();
    let unknown: Vec<&String> = modules.iter().filter(|m| !LAYERS.contains(&m.as_str())).collect();
    assert!(unknown.is_empty(), "modules missing from LAYERS (place each in the import order): {unknown:?}");
    let wrong = forward_imports(&files);
    assert!(wrong.is_empty(), "imports that reach forward:\n{}", wrong.join("\n"));
}

/// A cycle of file imports in `files`, if there is one.
fn file_cycle(files: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, code) in files {
        for path in paths(code) {
            let Some(to) = resolve(files, file, &path) else { continue };
            // A module's root re-exports and declares its own files: that is not an import.
            let root = file.strip_suffix("mod.rs");
            if to == *file || root.is_some_and(|r| to.starts_with(r)) {
                continue;
            }
            edges.entry(file.clone()).or_default().insert(to);
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for file in files.keys() {
        if !state.contains_key(file) {
            if let Some(cycle) = visit(file, &edges, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_two_files_import_each_other_directly_or_round_a_cycle() {
    if let Some(cycle) = file_cycle(&library_files()) {
        panic!("files that import each other: {}", cycle.join(" → "));
    }
}

#[test]
fn the_checker_sees_grouped_and_nested_imports() {
    let code =
        "use crate::{plan::Plan, reconcile::{self, Gate}};\nuse super::engine::Engine;\nlet x = crate::publish::go();";
    let found = paths(code);
    assert!(found.contains(&"crate::plan::Plan".to_string()), "{found:?}");
    assert!(found.contains(&"crate::reconcile::{self,Gate}".to_string()), "{found:?}");
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.contains(&"super::engine::Engine".to_string()), "{found:?}");
    assert!(found.contains(&"crate::publish::go".to_string()), "{found:?}");
}

#[test]
fn the_checker_finds_a_forward_import_and_a_cycle() {
    let files: BTreeMap<String, String> = [
        ("plan/mod.rs", "use crate::{spec::Spec, report::Report};"),
        ("execute/run.rs", "use super::batch::Runner;"),
        ("execute/batch.rs", "use super::run::LEASE;"),
        ("execute/mod.rs", "mod batch;\nmod run;\npub use run::LEASE;"),
    ]
    .into_iter()
    .map(|(f, c)| (f.to_string(), c.to_string()))
    .collect();
    assert_eq!(forward_imports(&files), ["src/plan/mod.rs: plan imports the later report (crate::report::Report)"]);
    let cycle = file_cycle(&files).expect("batch.rs and run.rs import each other");
    assert_eq!(cycle, ["execute/batch.rs", "execute/run.rs", "execute/batch.rs"]);
}
