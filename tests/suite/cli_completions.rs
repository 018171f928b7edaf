//! Shell completions and the man page come from the command line's own definition: bash, loading
//! the completion script, offers every subcommand; the man page names every subcommand.

use crate::common;

use clap::CommandFactory;
use common::Workspace;
use flightdeck::cli::Cli;

/// Every subcommand a person can type (the internal `drive` is hidden).
fn subcommands() -> Vec<String> {
    let cmd = Cli::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect();
    assert!(names.len() > 20, "the CLI lost its subcommands: {names:?}");
    names
}

#[test]
fn bash_completion_offers_every_subcommand() {
    if std::process::Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_err()
    {
        assert!(!common::tmux::ci(), "bash is missing under CI");
        eprintln!("bash is not installed: SKIPPED (not a pass)");
        return;
    }
    let ws = Workspace::new("[plan]\nname = \"c\"\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n");
    let script = ws.expect(["completions", "bash"], 0).stdout;
    std::fs::write(ws.file("flightdeck.bash"), &script).unwrap();
    // What bash offers after `flightdeck <TAB>`, and after `flightdeck st<TAB>`.
    let offer = |words: &str, current: usize| {
        let out = std::process::Command::new("bash")
            .arg("--norc")
            .arg("-c")
            .arg(format!(
                "source flightdeck.bash; COMP_WORDS=({words}); COMP_CWORD={current}; \
                 COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
                 _flightdeck flightdeck \"${{COMP_WORDS[{current}]}}\" \"${{COMP_WORDS[{current}-1]}}\"; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ))
            .current_dir(ws.path())
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let offered = offer("flightdeck ''", 1);
    for name in subcommands() {
        assert!(
            offered.contains(&name),
            "`flightdeck <TAB>` does not offer {name}: {offered:?}"
        );
    }
    let st = offer("flightdeck st", 1);
    assert!(st.contains(&"status".to_string()), "{st:?}");
    assert!(
        !st.contains(&"check".to_string()),
        "only what starts with st: {st:?}"
    );
    // Every shell clap knows gets a script.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = ws.expect(["completions", shell], 0);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("status"),
            "{shell} completions name no subcommand"
        );
    }
    ws.expect(["completions", "tcsh"], 2);
}

#[test]
fn the_man_page_names_every_subcommand() {
    let ws = Workspace::new("[plan]\nname = \"m\"\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n");
    let out = ws.expect(["man"], 0);
    // roff escapes `-` as `\-`.
    let page = String::from_utf8(out.stdout).unwrap().replace("\\-", "-");
    assert!(
        page.starts_with(".ie") || page.contains(".TH flightdeck"),
        "not roff: {page:.200}"
    );
    for name in subcommands() {
        assert!(
            page.contains(&format!("flightdeck-{name}(1)")),
            "the man page does not name `{name}`"
        );
    }
    assert!(
        !page.contains("flightdeck-drive"),
        "the internal `drive` is not for people"
    );
}
