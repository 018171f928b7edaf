//! ARCHITECTURE.md's layering rule, enforced: the UI-free parts (`plan/`, `engine/`, `journal/`,
//! `drift/`) never use a UI crate. Fails CI on a violation.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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

#[test]
fn ui_free_modules_never_use_ui_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for part in ["plan", "engine", "journal", "drift"] {
        rust_files(&root.join(part), &mut files);
    }
    assert!(
        files.len() >= 10,
        "found only {} files: is the layout still src/{{plan,engine,journal}}?",
        files.len()
    );
    let mut violations = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["ratatui", "crossterm"]
                .iter()
                .any(|c| code.contains(&format!("{c}::")) || code.contains(&format!("use {c}")))
            {
                violations.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "UI crates used outside src/tui:\n{}",
        violations.join("\n")
    );
}
