//! docs/ARCHITECTURE.md's layering, enforced from the code's own paths: every `crate::<module>`
//! (and `$crate::` macro) a file of `src/` names must be allowed by the table below for the
//! file's top-level module, so lower layers never import higher ones and the top-level modules
//! form no cycle; and only the cockpit (`src/tui`) uses a UI crate. A violation fails CI with the
//! file, the line and the rule it breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level modules each top-level module may use (besides itself). Keep in step with
/// docs/ARCHITECTURE.md.
const ALLOWED: &[(&str, &[&str])] = &[
    // Leaves: nothing else in the crate.
    ("event", &[]),
    ("mask", &[]),
    ("procgroup", &[]),
    ("files", &[]),
    ("ansi", &[]),
    ("sign", &[]),
    // The run-log format (writer and reader), over the masker.
    ("runlog", &["mask"]),
    // Printing through the sanitiser.
    ("term", &["ansi"]),
    // The plan, storage, drift: the foundations.
    ("plan", &["event", "files", "sign"]),
    ("journal", &["event", "mask", "files", "procgroup"]),
    // The shared store on PostgreSQL: the same journals and files, through the journal's format.
    ("pgstore", &["journal", "event", "files"]),
    // Git: versions, tags, release notes, commit walks.
    ("git", &["plan", "event"]),
    ("drift", &["plan", "git", "event", "mask", "procgroup", "files"]),
    // The engine drives releases over them.
    (
        "engine",
        &[
            "runlog",
            "plan",
            "journal",
            "drift",
            "git",
            "event",
            "mask",
            "procgroup",
            "files",
            "sign",
        ],
    ),
    // Observers and front ends.
    (
        "headless",
        &[
            "runlog", "engine", "journal", "plan", "drift", "git", "event", "mask", "files", "sign", "ansi",
            "term",
        ],
    ),
    (
        "release",
        &[
            "runlog",
            "engine",
            "journal",
            "pgstore",
            "plan",
            "drift",
            "git",
            "headless",
            "event",
            "mask",
            "procgroup",
            "files",
            "sign",
            "ansi",
            "term",
        ],
    ),
    // The cockpit acts through release operations (the `Launcher` it is handed).
    (
        "tui",
        &[
            "runlog",
            "release",
            "engine",
            "journal",
            "plan",
            "drift",
            "git",
            "event",
            "mask",
            "procgroup",
            "files",
            "sign",
            "ansi",
            "term",
        ],
    ),
    (
        "demo",
        &[
            "runlog",
            "release",
            "tui",
            "engine",
            "journal",
            "plan",
            "drift",
            "git",
            "event",
            "mask",
            "procgroup",
            "files",
            "sign",
            "ansi",
            "term",
        ],
    ),
    (
        "cli",
        &[
            "runlog",
            "pgstore",
            "release",
            "demo",
            "tui",
            "headless",
            "engine",
            "journal",
            "plan",
            "drift",
            "git",
            "event",
            "mask",
            "procgroup",
            "files",
            "sign",
            "ansi",
            "term",
        ],
    ),
];

/// Macros exported at the crate root (`$crate::outln!`), by the module that defines them.
const MACROS: &[(&str, &str)] = &[("outln", "term"), ("errln", "term")];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file of `src/` belongs to (`engine` for `src/engine/state.rs`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("a file under src/");
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a line, without a `//` comment (good enough: no module path hides in a string).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every `crate::<name>` (and `$crate::<name>`) on a line.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = &rest[..i];
        let is_path = before
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if is_path && !name.is_empty() {
            out.push(name);
        }
        rest = after;
    }
    out
}

#[test]
fn every_import_follows_the_layer_table() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let macros: BTreeMap<&str, &str> = MACROS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() >= 60, "found only {} files under src/", files.len());
    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    for f in &files {
        let module = module_of(f);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            unknown.insert(module.clone());
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            for name in crate_paths(code(line)) {
                let target = macros.get(name.as_str()).copied().unwrap_or(name.as_str());
                if target == module || may.contains(target) {
                    continue;
                }
                let rule = if allowed.get(target).is_some_and(|d| d.contains(module.as_str())) {
                    format!("`{target}` is built on `{module}`, so `{module}` may not use it (a cycle)")
                } else if allowed.contains_key(target) {
                    format!(
                        "`{module}` may use only: {}",
                        may.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("`{target}` is not in the layer table")
                };
                violations.push(format!(
                    "{}:{}: `{module}` uses `crate::{name}`: {rule}\n    {}",
                    f.strip_prefix(src().parent().unwrap()).unwrap().display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "top-level modules missing from the layer table in tests/suite/architecture.rs (and docs/ARCHITECTURE.md): {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "imports that break docs/ARCHITECTURE.md's layers:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_layer_table_has_no_cycle() {
    let graph: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        graph: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n);
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for d in graph.get(n).copied().unwrap_or_default() {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(cycle) = visit(n, &graph, &mut Vec::new(), &mut done) {
            panic!("the layer table has a cycle: {}", cycle.join(" -> "));
        }
    }
}

/// Where `crates` are used outside `module`: `file:line: text` each.
fn crates_used_outside(module: &str, crates: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut violations = Vec::new();
    for f in &files {
        if module_of(f) == module {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = code(line);
            if crates
                .iter()
                .any(|c| code.contains(&format!("{c}::")) || code.contains(&format!("use {c}")))
            {
                violations.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    violations
}

#[test]
fn only_the_cockpit_uses_ui_crates() {
    let violations = crates_used_outside("tui", &["ratatui", "crossterm"]);
    assert!(
        violations.is_empty(),
        "UI crates used outside src/tui:\n{}",
        violations.join("\n")
    );
}

#[test]
fn only_the_shared_store_speaks_to_postgresql() {
    let violations = crates_used_outside("pgstore", &["sqlx"]);
    assert!(
        violations.is_empty(),
        "sqlx used outside src/pgstore:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_paths() {
    assert_eq!(crate_paths("use crate::engine::state::ReleaseState;"), ["engine"]);
    assert_eq!(crate_paths("$crate::term::out_line(x)"), ["term"]);
    assert_eq!(crate_paths("my_crate::x and crate::plan::Plan"), ["plan"]);
    assert_eq!(code("let a = 1; // crate::tui"), "let a = 1; ");
}

/// Inside the cockpit: what each part may not name (docs/ARCHITECTURE.md, "The cockpit"). The
/// reducer (`app`) uses the state, the layout and the views' hit tests; the views read the state
/// and the layout and never the reducer or the loop, so app → views stays one-way; the layout is
/// pure geometry.
const TUI_DENIED: &[(&str, &[&str])] = &[
    ("views", &["app", "event_loop", "source", "terminal", "log_tail"]),
    (
        "widgets",
        &["app", "views", "state", "layout", "event_loop", "source"],
    ),
    ("state", &["app", "views", "event_loop", "source"]),
    (
        "layout",
        &["app", "views", "state", "output_pane", "event_loop", "source"],
    ),
    (
        "output_pane",
        &["app", "views", "state", "layout", "event_loop", "source"],
    ),
];

/// The module path of a file under `src/` (`["tui", "views"]` for `src/tui/views/mod.rs`).
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The cockpit parts (`views`, `app`...) a line of `file` names, by `crate::tui::X` or by
/// `super::`/`self::` relative to the file (`use super::{a, b}` names each of a and b).
fn tui_parts(file_path: &[String], line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        let boundary =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        if boundary
            && (rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::"))
        {
            // Resolve the leading segments to an absolute module path.
            let mut path: Vec<String> = Vec::new();
            let mut r = rest;
            if let Some(t) = r.strip_prefix("crate::") {
                r = t;
            } else {
                path = file_path.to_vec();
                if let Some(t) = r.strip_prefix("self::") {
                    r = t;
                }
                while let Some(t) = r.strip_prefix("super::") {
                    path.pop();
                    r = t;
                }
            }
            let consumed = rest.len() - r.len();
            // The next segment (or each name of a `{...}` group).
            let names: Vec<String> = if let Some(group) = r.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').map(|n| ident(n.trim())).collect()
            } else {
                let first = ident(r);
                let after = &r[first.len()..];
                match after.strip_prefix("::") {
                    Some(a) if path.is_empty() && first == "tui" => {
                        if let Some(g) = a.strip_prefix('{') {
                            let end = g.find('}').unwrap_or(g.len());
                            g[..end]
                                .split(',')
                                .map(|n| ident(n.trim()))
                                .map(|n| format!("tui/{n}"))
                                .collect()
                        } else {
                            vec![format!("tui/{}", ident(a))]
                        }
                    }
                    _ => vec![first],
                }
            };
            for n in names {
                let full: Vec<String> = match n.strip_prefix("tui/") {
                    Some(part) => vec!["tui".to_string(), part.to_string()],
                    None => path.iter().cloned().chain([n]).collect(),
                };
                if full.len() >= 2 && full[0] == "tui" && !full[1].is_empty() {
                    out.push(full[1].clone());
                }
            }
            i += consumed.max(1);
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

#[test]
fn the_cockpit_views_never_import_its_reducer() {
    let denied: BTreeMap<&str, &[&str]> = TUI_DENIED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src().join("tui"), &mut files);
    assert!(
        files.len() >= 20,
        "found only {} files under src/tui",
        files.len()
    );
    let mut violations = Vec::new();
    for f in &files {
        let path = module_path(f);
        let Some(part) = path.get(1) else { continue };
        let Some(deny) = denied.get(part.as_str()) else {
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            for used in tui_parts(&path, code(line)) {
                if used != *part && deny.contains(&used.as_str()) {
                    violations.push(format!(
                        "{}:{}: `tui::{part}` may not use `tui::{used}` (it may not use: {})\n    {}",
                        f.strip_prefix(src().parent().unwrap()).unwrap().display(),
                        i + 1,
                        deny.join(", "),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that break the cockpit's layering (docs/ARCHITECTURE.md):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_cockpit_checker_resolves_relative_paths() {
    let views_board: Vec<String> = ["tui", "views", "board"].map(String::from).to_vec();
    let views_mod: Vec<String> = ["tui", "views"].map(String::from).to_vec();
    let app: Vec<String> = ["tui", "app"].map(String::from).to_vec();
    assert_eq!(tui_parts(&views_board, "use crate::tui::app::UiState;"), ["app"]);
    assert_eq!(
        tui_parts(&views_board, "use super::{block, fit};"),
        ["views", "views"]
    );
    assert_eq!(tui_parts(&views_board, "use super::super::app::Msg;"), ["app"]);
    assert_eq!(
        tui_parts(&views_mod, "use super::app::{Focus, UiState};"),
        ["app"]
    );
    assert_eq!(
        tui_parts(&app, "use super::{state::UiState, views};"),
        ["state", "views"]
    );
    assert_eq!(
        tui_parts(&app, "use crate::tui::{layout, views::render};"),
        ["layout", "views"]
    );
    assert_eq!(
        tui_parts(&app, "use crate::engine::state::X; // ok"),
        Vec::<String>::new()
    );
}
