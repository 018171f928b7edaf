//! The command line's edges against hostile or mistaken input (issue 9, §4 and §6): names that
//! would escape the data directory, identities (normalised, compared case-insensitively, never
//! printed raw), errors that must be one line and never a backtrace, a closed stdout, endless
//! input files, and two `run` of the same version at once.

use crate::common;

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;

use common::{DEADLINE, Workspace, stderr_of, stdout_of};

/// A gated plan: the release waits at `signoff` (two approvals) before `ship`.
const GATED: &str = r#"
[plan]
name = "gated"

[gates.signoff]
approvals = 2
checklist = [{ item = "Release notes reviewed" }]

[[stage]]
id = "build"
run = "echo built {version}"

[[stage]]
id = "ship"
needs = ["build"]
gate = "signoff"
run = "echo shipped {version}"
"#;

/// No raw control characters other than newlines (ESC, BEL, CR...) in `text`.
#[track_caller]
fn assert_no_controls(what: &str, text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what} holds raw control characters: {text:?}"
    );
}

/// One line on stderr, no backtrace or eyre report, nothing on stdout.
#[track_caller]
fn assert_one_line_error(out: &std::process::Output) -> String {
    let err = stderr_of(out);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    for word in ["Backtrace", "Location", "backtrace", "Error:", "panicked"] {
        assert!(!err.contains(word), "no report or backtrace: {err}");
    }
    assert_no_controls("stderr", &err);
    err
}

/// Every file and folder under `dir`.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// §4: names that become path components
// ---------------------------------------------------------------------------------------------

#[test]
fn a_plan_name_that_leaves_the_data_dir_is_refused_at_check_with_its_position() {
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("abs-plan");
    for (name, col) in [
        ("../../escaped".to_string(), 8),
        (abs.display().to_string(), 8),
        ("a/b".to_string(), 8),
        ("..".to_string(), 8),
    ] {
        let ws = Workspace::new(&format!(
            "[plan]\nname = \"{name}\"\n\n[[stage]]\nid = \"a\"\nrun = \"true\"\n"
        ));
        let out = ws.expect(["check"], 2);
        let err = stderr_of(&out);
        assert!(
            err.starts_with(&format!(
                "{}:2:{col}: plan name",
                ws.file("flightdeck.toml").display()
            )),
            "{name}: {err}"
        );
        // Every command that loads the plan refuses it the same way; nothing is written.
        // (`data/plans/../../escaped` would be the workspace's `escaped`.)
        let before = tree(ws.path());
        let out = ws.expect(["run", "1.0"], 2);
        assert!(stderr_of(&out).contains(":2:8: plan name"), "{}", stderr_of(&out));
        assert_eq!(tree(ws.path()), before, "{name}: nothing written");
        assert!(!abs.exists());
        assert!(!ws.data_dir().exists(), "{name}: no data dir");
    }
}

#[test]
fn the_data_dir_refuses_names_that_are_not_one_plain_component() {
    use flightdeck::journal::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = Store {
        root: dir.path().join("data"),
    };
    for bad in ["", ".", "..", "../x", "a/b", "/abs", "a\0b"] {
        let e = store
            .create_release(bad, "1.0")
            .expect_err(&format!("plan `{bad:?}` refused"));
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
        assert!(store.plan_dir(bad).is_err(), "{bad:?}");
        assert!(store.releases(Some(bad)).is_err(), "{bad:?}");
    }
    for bad in ["", ".", "..", "../../x", "/abs"] {
        // A release id is a version made safe: never a path outside the plan's folder.
        if let Ok(r) = store.create_release("p", bad) {
            assert_eq!(
                r.path.parent().unwrap(),
                dir.path().join("data/plans/p"),
                "{bad:?}"
            );
        }
    }
    // A file the journal names (a run's log) stays inside the release's folder.
    let r = flightdeck::journal::ReleaseDir::from_path(&dir.path().join("data/plans/p/1.0"));
    assert_eq!(r.file("logs/a.1.log").unwrap(), r.path.join("logs/a.1.log"));
    for bad in ["", "../x", "/etc/passwd", "logs/../../x", "./logs/a"] {
        assert!(r.file(bad).is_err(), "{bad:?}");
    }
    let plans = dir.path().join("data/plans");
    for p in tree(dir.path()) {
        let p = Path::new(&p);
        assert!(
            p == dir.path().join("data") || p == plans || p.parent().unwrap().starts_with(&plans),
            "{} is outside the plan's folder",
            p.display()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

#[test]
fn names_are_trimmed_and_compared_without_case() {
    let ws = Workspace::new(GATED);
    ws.run_to_gate("1.0");
    ws.expect(["approve", "1.0", "signoff", "--as", "bob"], 0);
    for same in ["BOB", "bob ", " Bob"] {
        let out = ws.expect(["approve", "1.0", "signoff", "--as", same], 1);
        assert!(
            stderr_of(&out).contains("already approved"),
            "{}",
            stderr_of(&out)
        );
    }
    let out = ws
        .flightdeck(["approve", "1.0", "signoff"])
        .env("FLIGHTDECK_USER", "  BoB  ")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let st = ws.status("1.0");
    let gate = &st["gates"][0];
    assert_eq!(gate["approvals"].as_array().unwrap().len(), 1, "{st}");
    assert_eq!(gate["approvals"][0]["by"], "bob");
}

#[test]
fn empty_names_and_names_with_control_characters_are_usage_errors() {
    let ws = Workspace::new(GATED);
    ws.run_to_gate("1.0");
    for bad in ["", "   ", "evil\x1b]0;pwned\x07", "two\nlines", "tab\there"] {
        let out = ws.expect(["approve", "1.0", "signoff", "--as", bad], 2);
        let err = assert_one_line_error(&out);
        assert!(err.contains("name"), "{err}");
        assert_eq!(stdout_of(&out), "");
        let out = ws
            .flightdeck(["approve", "1.0", "signoff"])
            .env("FLIGHTDECK_USER", if bad.is_empty() { " " } else { bad })
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr_of(&out));
        assert_one_line_error(&out);
    }
    assert_eq!(ws.events("1.0", "approved").len(), 0);
    // Errors quoting what was typed are sanitised too.
    let out = ws.expect(["status", "rel\x1b]0;pwned\x07\nfake line"], 2);
    assert!(stderr_of(&out).contains("rel"), "{}", stderr_of(&out));
    assert_one_line_error(&out);
    // Nothing the journal was given by hand reaches the terminal raw either (status, list).
    let status = ws.expect(["status", "1.0"], 0);
    assert_no_controls("status", &stdout_of(&status));
}

#[test]
fn journaled_names_notes_and_reasons_are_printed_sanitised_and_counted_once() {
    use flightdeck::event::Event;
    let ws = Workspace::new(GATED);
    ws.run_to_gate("1.0");
    // What an older version (or another tool) may have journaled: raw names, folded by case.
    let mut j = flightdeck::journal::Journal::open(
        &ws.journal_path("1.0"),
        std::sync::Arc::new(flightdeck::runlog::Masker::default()),
    )
    .unwrap();
    let evil = "mallory\x1b]0;pwned\x07\n12:00:00 gate signoff: approved by admin";
    j.append(
        "Eve ",
        vec![Event::Approved {
            gate: "signoff".into(),
            note: "n\x1b[2J".into(),
            signed: None,
        }],
    )
    .unwrap();
    j.append(
        "eve",
        vec![Event::Approved {
            gate: "signoff".into(),
            note: String::new(),
            signed: None,
        }],
    )
    .unwrap();
    let st = ws.status("1.0");
    assert_eq!(
        st["gates"][0]["approvals"].as_array().unwrap().len(),
        1,
        "`Eve ` and `eve` are one person: {st}"
    );
    j.append(
        evil,
        vec![Event::Approved {
            gate: "signoff".into(),
            note: String::new(),
            signed: None,
        }],
    )
    .unwrap();
    drop(j);
    let out = ws.expect(["status", "1.0"], 0);
    let text = stdout_of(&out);
    assert_no_controls("status", &text);
    assert!(!text.contains("\n12:00:00"), "no injected line: {text}");
    assert!(text.contains("mallory"), "{text}");
    let out = ws.expect(["list"], 0);
    assert_no_controls("list", &stdout_of(&out));
    // The skip reason and the request answers are printed sanitised too.
    ws.expect(
        [
            "skip",
            "1.0",
            "ship",
            "--reason",
            "because\x1b]8;;http://x\x07 link\nfake line",
        ],
        0,
    );
    let out = ws.expect(["status", "1.0"], 0);
    assert_no_controls("status", &stdout_of(&out));
}

// ---------------------------------------------------------------------------------------------
// Errors that must be one line, never a backtrace
// ---------------------------------------------------------------------------------------------

const SIMPLE: &str = "[plan]\nname = \"simple\"\n\n[[stage]]\nid = \"a\"\nrun = \"echo a\"\n";

#[test]
fn an_overlong_or_unprintable_version_is_a_one_line_usage_error() {
    let ws = Workspace::new(SIMPLE)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1");
    let long = "9".repeat(300);
    let out = ws.expect(["run", &long], 2);
    let err = assert_one_line_error(&out);
    assert!(err.contains("128"), "says the limit: {err}");
    let out = ws.expect(["run", "1.0\x1b[31m"], 2);
    let err = assert_one_line_error(&out);
    assert!(err.contains("control"), "{err}");
    let out = ws.expect(["run", "1.0", "--detach", "--as", "x\x07"], 2);
    assert_one_line_error(&out);
    assert!(!ws.data_dir().join("plans/simple").exists() || tree(&ws.data_dir()).len() <= 2);
}

#[test]
fn an_unwritable_data_dir_is_a_one_line_failure_naming_the_path() {
    let ws = Workspace::new(SIMPLE)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1");
    // A data dir below a regular file cannot be created, even by root (ENOTDIR).
    ws.touch("a-file");
    let data = ws.file("a-file").join("sub");
    let out = ws
        .flightdeck(["run", "1.0"])
        .env("FLIGHTDECK_DATA_DIR", &data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = assert_one_line_error(&out);
    assert!(err.contains(&ws.file("a-file").display().to_string()), "{err}");
    assert!(err.to_lowercase().contains("not a directory"), "{err}");
    for args in [vec!["status"], vec!["list"], vec!["verify", "1.0"]] {
        let out = ws
            .flightdeck(&args)
            .env("FLIGHTDECK_DATA_DIR", &data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr_of(&out));
        let err = assert_one_line_error(&out);
        assert!(err.contains("a-file"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Broken pipe
// ---------------------------------------------------------------------------------------------

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let ws = Workspace::new(
        r#"
[plan]
name = "loud"

[environments.prod]
probe = "seq 1 3000 | sed 's/.*/k&=v&/'"

[[stage]]
id = "a"
run = "seq 1 50000"
"#,
    );
    ws.expect(["run", "1.0"], 0);
    for args in [
        vec!["status", "1.0"],
        vec!["status", "1.0", "--json"],
        vec!["list"],
        vec!["list", "--json"],
        vec!["logs", "1.0", "a"],
        vec!["verify", "1.0"],
        vec!["drift", "--json"],
        vec!["drift"],
        vec!["check"],
        vec!["run", "2.0", "--detach"],
        vec!["run", "3.0"],
    ] {
        // A pipe whose reading end is closed before the command writes anything.
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.current_dir(ws.path())
            .env("FLIGHTDECK_DATA_DIR", ws.data_dir())
            .env("FLIGHTDECK_USER", "tester")
            .env("FLIGHTDECK_GRACE", "1s")
            .env("RUST_BACKTRACE", "1")
            .env_remove("FLIGHTDECK_PLAN")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write.as_fd().try_clone_to_owned().unwrap()))
            .stderr(Stdio::piped());
        drop(write);
        let child = cmd.spawn().unwrap();
        let out = child.wait_with_output().unwrap();
        assert_ne!(
            out.status.code(),
            Some(101),
            "{args:?} panicked: {}",
            stderr_of(&out)
        );
        assert_eq!(stderr_of(&out), "", "{args:?}: quiet on stderr");
    }
    // The observed release still ran to its end: a closed pipe only ends the printing.
    ws.wait_for_state("3.0", "succeeded");
    ws.wait_for_state("2.0", "succeeded");
}

// ---------------------------------------------------------------------------------------------
// Endless or huge input files
// ---------------------------------------------------------------------------------------------

#[test]
fn a_plan_that_is_not_a_regular_file_or_is_huge_is_refused() {
    let ws = Workspace::new(SIMPLE);
    let started = std::time::Instant::now();
    for args in [
        vec!["check", "--plan", "/dev/zero"],
        vec!["run", "1.0", "--plan", "/dev/zero"],
        vec!["check", "--plan", "/dev/null"],
    ] {
        let out = ws.expect(&args, 2);
        let err = assert_one_line_error(&out);
        assert!(err.contains(args[args.len() - 1]), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }
    let fifo = ws.file("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let out = ws.expect(["check", "--plan", fifo.to_str().unwrap()], 2);
    assert!(
        stderr_of(&out).contains("not a regular file"),
        "{}",
        stderr_of(&out)
    );
    let big = ws.file("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(11 * 1024 * 1024).unwrap();
    let out = ws.expect(["check", "--plan", big.to_str().unwrap()], 2);
    let err = assert_one_line_error(&out);
    assert!(err.contains("10 MiB") && err.contains("big.toml"), "{err}");
    assert!(started.elapsed() < DEADLINE);
}

#[test]
fn settings_and_expect_files_are_read_with_the_same_bounds() {
    let ws = Workspace::new(
        r#"
[plan]
name = "exp"

[environments.prod]
probe = "echo a=1"

[environments.staging]
expect = "big.kv"
format = "kv"

[[stage]]
id = "a"
run = "true"
"#,
    );
    let out = ws
        .flightdeck(["cockpit"])
        .env("FLIGHTDECK_SETTINGS", "/dev/zero")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = assert_one_line_error(&out);
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
    // An expected state that grew huge is refused when read.
    let f = std::fs::File::create(ws.file("big.kv")).unwrap();
    f.set_len(11 * 1024 * 1024).unwrap();
    let out = ws.flightdeck(["drift"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let text = stdout_of(&out) + &stderr_of(&out);
    assert!(text.contains("big.kv: larger than 10 MiB"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Two runs of one version
// ---------------------------------------------------------------------------------------------

#[test]
fn concurrent_runs_of_one_version_create_one_release() {
    let mut ws = Workspace::new(GATED);
    let mut runs: Vec<_> = (0..4).map(|_| ws.spawn(["run", "5.0", "--detach"])).collect();
    let codes: Vec<i32> = runs.iter_mut().map(|r| r.wait()).collect();
    let outputs: Vec<String> = runs.iter().map(|r| r.output()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 0).count(),
        1,
        "{codes:?}\n{outputs:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == 4).count(),
        3,
        "{codes:?}\n{outputs:?}"
    );
    for (r, c) in runs.iter().zip(&codes) {
        if *c == 4 {
            let err = r.stderr();
            assert!(
                err.contains("release 5.0 of plan gated is still running")
                    && err.contains("--allow-duplicate"),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    let dirs = tree(&ws.data_dir().join("plans/gated"));
    let releases: Vec<&String> = dirs
        .iter()
        .filter(|p| Path::new(p).parent() == Some(&ws.data_dir().join("plans/gated")))
        .filter(|p| Path::new(p).is_dir())
        // `.open/` holds the plan's open markers, not a release.
        .filter(|p| {
            !Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with('.')
        })
        .collect();
    assert_eq!(releases.len(), 1, "{releases:?}");
    // A second one on purpose.
    ws.expect(["run", "5.0", "--detach", "--allow-duplicate"], 0);
    ws.wait_for_event("5.0-2", "gate_reached", |_| true);
    // Another version is no duplicate; a finished release is none either.
    ws.expect(["run", "5.1", "--detach"], 0);
    for id in ["5.0", "5.0-2", "5.1"] {
        ws.expect(["cancel", id], 0);
        ws.wait_for_state(id, "cancelled");
    }
    ws.expect(["run", "5.0", "--detach"], 0);
    ws.wait_for_event("5.0-3", "gate_reached", |_| true);
    ws.expect(["cancel", "5.0-3"], 0);
}

#[test]
fn the_run_observer_prints_reasons_and_names_sanitised() {
    let mut ws = Workspace::new(GATED);
    let mut run = ws.spawn(["run", "1.0"]);
    ws.wait_for_event("1.0", "gate_reached", |_| true);
    ws.expect(
        [
            "skip",
            "1.0",
            "ship",
            "--reason",
            "because\x1b]0;pwned\x07\nfake line\r\x1b[2J",
        ],
        0,
    );
    assert_eq!(run.wait(), 0, "{}", run.output());
    let out = run.stdout();
    assert_no_controls("run's output", &out);
    assert!(out.contains("because fake line"), "{out}");
    assert!(!out.lines().any(|l| l.starts_with("fake line")), "{out}");
}

#[test]
fn cockpit_start_refuses_a_duplicate_unless_allowed() {
    use common::tmux::{self, Tmux};
    if tmux::missing() {
        return;
    }
    let ws = Workspace::new(GATED);
    ws.run_to_gate("5.0");
    let t = Tmux::new("duplicate");
    t.start(&ws, "cockpit --start 5.0", "", (160, 40));
    let screen = t.wait_for("=DONE=");
    assert!(screen.contains("EXIT=4"), "{screen}");
    assert!(
        screen.contains("release 5.0 of plan gated is still running"),
        "{screen}"
    );
    drop(t);
    let t = Tmux::new("duplicate-allowed");
    t.start(&ws, "cockpit --start 5.0 --allow-duplicate", "", (160, 40));
    ws.wait_for_event("5.0-2", "gate_reached", |_| true);
    drop(t);
    for id in ["5.0", "5.0-2"] {
        ws.expect(["cancel", id], 0);
    }
}
