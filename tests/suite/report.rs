//! `flightdeck report`: the real binary on a real release (a fan-out over three targets, a gate
//! with a ticked item, an automatic check and an approval with a note, a stage that fails once
//! and passes on its retry, commits from a git repository, an incident and a review), reported
//! as Markdown, JSON, JUnit XML (read back by Python's XML parser) and HTML (rendered by headless
//! Chromium: its DOM and a screenshot); an unknown release is one line, exit 2.

use crate::common;
use crate::git_fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{DEADLINE, Workspace, stderr_of, stdout_of};
use git_fixture::TestRepo;
use serde_json::Value;

const PLAN: &str = r#"
[plan]
name = "reported"

[environments.prod]
targets = ["eu", "us", "ap"]

[[stage]]
id = "build"
run = "echo built {version}"

[[stage]]
id = "flaky"
needs = ["build"]
retries = 1
run = "if [ -e @WS@/flaky.once ]; then echo second try ok; else touch @WS@/flaky.once; echo 'boom <b>&'; printf '\\033[31mred\\033[0m\\n'; exit 3; fi"

[[stage]]
id = "deploy"
needs = ["flaky"]
environment = "prod"
gate = "signoff"
concurrency = 2
run = "echo deploying {target}"

[gates.signoff]
approvals = 1
checklist = [
  { item = "Release notes reviewed" },
  { item = "Smoke test", check = "echo smoke ok for {version}" },
]
"#;

/// The runs of the release, as the report names them.
const RUNS: [&str; 6] = [
    "build attempt 1",
    "flaky attempt 1",
    "flaky attempt 2",
    "deploy/eu attempt 1",
    "deploy/us attempt 1",
    "deploy/ap attempt 1",
];

/// Release 1.1.0 of PLAN, run to its end: started by `releaser`, its checklist item ticked by
/// carol with a note, its automatic check passed, approved by alice with a note; `flaky` fails
/// on its first attempt and passes on its retry. Commits since v1.0.0 come from a git
/// repository in the workspace.
fn released() -> Workspace {
    let ws = Workspace::new(PLAN);
    let mut repo = TestRepo::init(ws.path());
    let c0 = repo.commit("chore: start", "Ada Lovelace");
    repo.tag("v1.0.0", c0);
    repo.commit("feat(cart): save carts", "Ada Lovelace");
    repo.commit("fix: rounding of <totals>", "Grace Hopper");
    ws.flightdeck(["run", "1.1.0", "--detach", "--as", "releaser"])
        .assert()
        .success();
    ws.wait_for_event("1.1.0", "check_finished", |e| e["item"] == 1);
    ws.expect(
        [
            "tick",
            "1.1.0",
            "signoff",
            "1",
            "--as",
            "carol",
            "--note",
            "read twice",
        ],
        0,
    );
    ws.expect(
        [
            "approve",
            "1.1.0",
            "signoff",
            "--as",
            "alice",
            "--note",
            "ship it <now>",
        ],
        0,
    );
    ws.wait_for_state("1.1.0", "succeeded");
    ws
}

#[test]
fn markdown_json_and_junit_carry_every_section() {
    let ws = released();
    ws.expect(
        [
            "incident",
            "open",
            "--env",
            "prod",
            "--release",
            "1.1.0",
            "checkout errors",
        ],
        0,
    );
    ws.expect(
        [
            "review",
            "1.1.0",
            "--went-well",
            "the retry saved us",
            "--action",
            "fix the flaky stage",
            "--owner",
            "bob",
            "--due",
            "2999-01-31",
        ],
        0,
    );

    // ---- Markdown (the default)
    let md = stdout_of(&ws.expect(["report", "1.1.0"], 0));
    for fact in [
        "# Release 1.1.0 of plan reported",
        "| started by | releaser |",
        "| outcome | succeeded |",
        "| duration |",
        "## Timeline",
        "| flaky | deploy | 1 |",
        "failed (exit 3)",
        "| deploy/ap | deploy | 1 |",
        "### Gate signoff: satisfied",
        "- [x] 1. Release notes reviewed: ticked by carol at",
        "(note: read twice)",
        "- [x] 2. Smoke test (automatic check)",
        "smoke ok for 1.1.0",
        "- approved by alice at",
        // Journal text is never HTML where the Markdown is rendered (inside fences it is raw).
        "(note: ship it &lt;now&gt;); unsigned",
        "## Failed runs",
        "### flaky attempt 1: failed (exit 3)",
        "boom <b>&",
        "## Drift",
        "no drift snapshot",
        "## Release notes",
        "since v1.0.0",
        "cart: save carts",
        "fix: rounding of &lt;totals&gt;",
        "- #1 on prod: checkout errors (about this release)",
        "Never rolled back.",
        "- the retry saved us (tester,",
        "| 1 | fix the flaky stage | bob | 2999-01-31 | open |",
        "On prod,",
        "| deployments | 0 | 1 | +1 |",
    ] {
        assert!(md.contains(fact), "the Markdown report lacks {fact:?}:\n{md}");
    }
    assert!(!md.contains('\x1b'), "escape sequences reach the terminal:\n{md}");
    assert!(
        !md.contains("<now>") && !md.contains("<totals>"),
        "raw HTML in the Markdown:\n{md}"
    );
    assert!(md.contains("\nred\n"), "the child's red line, sanitised:\n{md}");

    // ---- JSON
    let out = ws.expect(["report", "1.1.0", "--format", "json"], 0);
    let j: Value = serde_json::from_slice(&out.stdout).expect("report --format json prints JSON");
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "generated_at",
        "summary",
        "timeline",
        "gates",
        "failures",
        "drift",
        "notes",
        "incidents",
        "rollbacks",
        "review",
        "metrics",
        "warnings",
    ] {
        assert!(keys.contains(&k), "no `{k}` in {keys:?}");
    }
    let s = &j["summary"];
    assert_eq!(
        (
            &s["id"],
            &s["plan"],
            &s["version"],
            &s["type"],
            &s["started_by"],
            &s["state"]
        ),
        (
            &Value::from("1.1.0"),
            &Value::from("reported"),
            &Value::from("1.1.0"),
            &Value::from("minor"),
            &Value::from("releaser"),
            &Value::from("succeeded")
        ),
        "{s}"
    );
    assert!(s["duration_ms"].as_i64().unwrap() > 0, "{s}");
    assert!(s["started_at"].is_string() && s["finished_at"].is_string(), "{s}");
    let stages: Vec<&str> = j["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["build", "flaky", "deploy"]);
    let flaky = &j["timeline"][1]["targets"][0]["attempts"];
    assert_eq!(flaky[0]["outcome"], "failed", "{flaky}");
    assert_eq!(flaky[0]["outcome_text"], "failed (exit 3)", "{flaky}");
    assert_eq!(flaky[1]["outcome"], "succeeded", "{flaky}");
    assert!(flaky[1]["duration_ms"].is_u64(), "{flaky}");
    let targets: Vec<&str> = j["timeline"][2]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["eu", "us", "ap"]);
    let gate = &j["gates"][0];
    assert_eq!(gate["name"], "signoff");
    assert_eq!(gate["satisfied"], true);
    assert_eq!(gate["reached_by"], "deploy");
    assert_eq!(gate["checklist"][0]["ticked_by"], "carol", "{gate}");
    assert_eq!(gate["checklist"][0]["note"], "read twice", "{gate}");
    let check = &gate["checklist"][1]["check"];
    assert_eq!(check["outcome"], "succeeded", "{gate}");
    assert!(
        check["tail"]["lines"]
            .as_array()
            .unwrap()
            .contains(&Value::from("smoke ok for 1.1.0")),
        "{check}"
    );
    assert_eq!(gate["approvals"][0]["by"], "alice", "{gate}");
    assert_eq!(gate["approvals"][0]["note"], "ship it <now>", "{gate}");
    assert_eq!(gate["approvals"][0]["signature"], Value::Null, "{gate}");
    let failures = j["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        (&failures[0]["stage"], &failures[0]["attempt"]),
        (&Value::from("flaky"), &Value::from(1))
    );
    let tail: Vec<&str> = failures[0]["tail"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(tail.contains(&"boom <b>&") && tail.contains(&"red"), "{tail:?}");
    assert!(tail.last().unwrap().starts_with("# exit 3"), "{tail:?}");
    assert_eq!(j["drift"]["before"], Value::Null);
    assert_eq!(j["drift"]["after"], Value::Null);
    let notes = &j["notes"];
    assert_eq!(notes["base_tag"], "v1.0.0", "{notes}");
    assert_eq!(notes["source"], "git", "{notes}");
    let subjects: Vec<&str> = notes["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["rounding of <totals>", "save carts"], "{notes}");
    assert_eq!(notes["commits"][1]["type"], "feat");
    assert!(
        notes["markdown"].as_str().unwrap().contains("## Features"),
        "{notes}"
    );
    assert_eq!(j["incidents"][0]["number"], 1);
    assert_eq!(j["incidents"][0]["relation"], "about this release");
    assert_eq!(j["rollbacks"]["requests"], Value::Array(vec![]));
    assert_eq!(j["review"]["went_well"][0]["text"], "the retry saved us");
    assert_eq!(j["review"]["actions"][0]["owner"], "bob");
    assert_eq!(j["review"]["actions"][0]["open"], true);
    let m = &j["metrics"];
    assert_eq!(m["env"], "prod", "{m}");
    let deployments = m["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "deployments")
        .unwrap();
    assert_eq!(
        (
            &deployments["before"],
            &deployments["after"],
            &deployments["delta"]
        ),
        (&Value::from(0.0), &Value::from(1.0), &Value::from(1.0)),
        "{m}"
    );
    assert!(
        m["method"].as_str().unwrap().contains("without this release"),
        "{m}"
    );

    // ---- JUnit XML, written to a file
    let path = ws.file("junit.xml");
    let out = ws.expect(
        [
            "report",
            "1.1.0",
            "--format",
            "junit",
            "-o",
            path.to_str().unwrap(),
        ],
        0,
    );
    assert!(
        stdout_of(&out).contains(&format!("written to {}", path.display())),
        "{}",
        stdout_of(&out)
    );
    let xml = std::fs::read_to_string(&path).unwrap();
    junit_structure(&xml);
    junit_parsed(&path);
}

/// The JUnit document checked as text: one suite, one test case per run, one failure.
fn junit_structure(xml: &str) {
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{xml}"
    );
    assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), RUNS.len(), "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert_eq!(xml.matches("</failure>").count(), 1, "{xml}");
    assert!(
        xml.contains("<testsuite name=\"reported 1.1.0\" tests=\"6\" failures=\"1\""),
        "{xml}"
    );
    for name in RUNS {
        assert!(
            xml.contains(&format!("name=\"{name}\"")),
            "no test case {name}: {xml}"
        );
    }
    let failed = xml
        .split("<testcase ")
        .find(|c| c.contains("name=\"flaky attempt 1\""))
        .unwrap();
    assert!(failed.contains("classname=\"reported.flaky\""), "{failed}");
    assert!(
        failed.contains("<failure message=\"failed (exit 3)\" type=\"failed\">"),
        "{failed}"
    );
    // The child's text escaped, its escape sequences gone.
    assert!(failed.contains("boom &lt;b&gt;&amp;\nred\n# exit 3"), "{failed}");
    assert!(!xml.contains('\x1b'), "{xml}");
    // Every element closed: the case count equals the closings of failing and self-closed cases.
    assert_eq!(
        xml.matches("</testcase>").count() + xml.matches("\"/>\n").count()
            - xml.matches("<property ").count(),
        RUNS.len(),
        "{xml}"
    );
}

/// Under `CI=true` a missing tool fails the test; elsewhere it is skipped, loudly.
fn missing(tool: &str, install: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} is not installed: under CI=true this fails; .ci/run installs it ({install})");
    }
    eprintln!("\n*** SKIPPED: {tool} is not installed ({install}) ***\n");
}

/// The JUnit file read back by an independent XML parser (Python's ElementTree).
fn junit_parsed(path: &Path) {
    let script = r#"
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = root.findall("testsuite") if root.tag == "testsuites" else [root]
cases = []
for c in suites[0].iter("testcase"):
    f = c.find("failure")
    cases.append({"classname": c.get("classname"), "name": c.get("name"), "time": float(c.get("time")),
                  "failure": None if f is None else {"message": f.get("message"), "text": f.text}})
print(json.dumps({"root": root.tag, "suites": len(suites), "tests": suites[0].get("tests"), "cases": cases}))
"#;
    let out = match Command::new("python3").args(["-c", script]).arg(path).output() {
        Ok(out) => out,
        Err(_) => return missing("python3", "apt-get install -y python3"),
    };
    assert!(
        out.status.success(),
        "the JUnit file does not parse as XML: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap()
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&v["root"], &v["suites"], &v["tests"]),
        (&Value::from("testsuites"), &Value::from(1), &Value::from("6")),
        "{v}"
    );
    let cases = v["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, RUNS, "one test case per run, in order: {v}");
    let failed: Vec<&Value> = cases.iter().filter(|c| !c["failure"].is_null()).collect();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["name"], "flaky attempt 1");
    assert_eq!(failed[0]["classname"], "reported.flaky");
    assert_eq!(failed[0]["failure"]["message"], "failed (exit 3)");
    assert!(
        failed[0]["failure"]["text"]
            .as_str()
            .unwrap()
            .contains("boom <b>&\nred"),
        "{v}"
    );
    assert!(cases.iter().all(|c| c["time"].as_f64().unwrap() >= 0.0), "{v}");
}

#[test]
fn an_unknown_release_is_one_line_and_exit_2() {
    let ws = Workspace::new(PLAN);
    for args in [
        vec!["report", "9.9.9"],
        vec!["report", "9.9.9", "--format", "html", "-o", "r.html"],
    ] {
        let out = ws.expect(&args, 2);
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("9.9.9"), "{err}");
        assert!(stdout_of(&out).is_empty());
    }
    assert!(!ws.exists("r.html"));
    // A format it does not know: clap says so.
    let out = ws.expect(["report", "9.9.9", "--format", "pdf"], 2);
    assert!(
        stderr_of(&out).contains("invalid value 'pdf'"),
        "{}",
        stderr_of(&out)
    );
}

/// A plan whose one environment has a probe (drift snapshots at the start and the end), a gate
/// taking signed approvals only, and a rollback command.
const SIGNED_PLAN: &str = r#"
[plan]
name = "signed"

[environments.prod]
probe = "cat @WS@/prod.state"

[[stage]]
id = "deploy"
environment = "prod"
gate = "signoff"
run = "echo version=2.0 > @WS@/prod.state"
rollback = "echo version=1.0 > @WS@/prod.state"

[gates.signoff]
approvals = 1
signers = "allowed_signers"
"#;

#[test]
fn a_signed_approval_drift_and_a_rollback_are_reported() {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        return missing("ssh-keygen", "apt-get install -y openssh-client");
    }
    let ws = Workspace::new(SIGNED_PLAN);
    let home = ws.path().to_str().unwrap().to_string();
    let ws = ws.env("HOME", &home).env("FLIGHTDECK_SIGNING_KEY", "");
    std::fs::write(ws.file("prod.state"), "version=1.0\n").unwrap();
    let key = ws.file("carol");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "carol", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(ws.file("allowed_signers"), format!("carol {}", public.trim())).unwrap();
    // The fingerprint as OpenSSH prints it: `256 SHA256:... carol (ED25519)`.
    let listed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();

    ws.run_to_gate("2.0");
    ws.expect(
        [
            "approve",
            "2.0",
            "signoff",
            "--as",
            "carol",
            "--key",
            key.to_str().unwrap(),
            "--note",
            "signed off",
        ],
        0,
    );
    ws.wait_for_state("2.0", "succeeded");
    ws.expect(["rollback", "2.0"], 0);
    ws.wait_for_state("2.0", "rolled_back");

    let out = ws.expect(["report", "2.0", "--format", "json"], 0);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["summary"]["state"], "rolled_back", "{}", j["summary"]);
    let a = &j["gates"][0]["approvals"][0];
    assert_eq!(
        (&a["by"], &a["note"]),
        (&Value::from("carol"), &Value::from("signed off")),
        "{a}"
    );
    assert_eq!(a["signature"]["key"], fingerprint.as_str(), "{a}");
    assert_eq!(a["signature"]["verified"], true, "{a}");
    assert_eq!(j["gates"][0]["signed"], true);
    // Drift: the probe read version 1.0 at the start and 2.0 at the end.
    let before = &j["drift"]["before"];
    let after = &j["drift"]["after"];
    assert_eq!(before["columns"][0]["name"], "prod", "{before}");
    assert_eq!(before["columns"][0]["version"], "1.0", "{before}");
    assert_eq!(after["columns"][0]["version"], "2.0", "{after}");
    let changed = &j["drift"]["changed"][0];
    assert_eq!(changed["column"], "prod", "{changed}");
    assert_eq!(
        (
            &changed["changes"][0]["key"],
            &changed["changes"][0]["old"],
            &changed["changes"][0]["new"]
        ),
        (&Value::from("version"), &Value::from("1.0"), &Value::from("2.0")),
        "{changed}"
    );
    // The rollback: asked by tester, accepted, its run in the timeline.
    let req = &j["rollbacks"]["requests"][0];
    assert_eq!(
        (&req["by"], &req["accepted"]),
        (&Value::from("tester"), &Value::from(true)),
        "{req}"
    );
    assert_eq!(j["rollbacks"]["round"]["ok"], true);
    let rollbacks = &j["timeline"][0]["targets"][0]["rollbacks"];
    assert_eq!(rollbacks[0]["outcome"], "succeeded", "{rollbacks}");

    let md = stdout_of(&ws.expect(["report", "2.0"], 0));
    let signed = format!("; signed, key {fingerprint}, verified");
    for fact in [
        "| outcome | rolled_back: rolled back: rollback of the whole release requested |",
        "- approved by carol at",
        signed.as_str(),
        "### Before (at the start)",
        "| prod (baseline) | 1.0 | baseline |",
        "| prod (baseline) | 2.0 | baseline |",
        "  - `version`: 1.0 → 2.0",
        "- asked by tester at",
        "; accepted",
        "| deploy | rollback | 1 |",
    ] {
        assert!(md.contains(fact), "the Markdown report lacks {fact:?}:\n{md}");
    }
    let junit = stdout_of(&ws.expect(["report", "2.0", "--format", "junit"], 0));
    assert!(junit.contains("name=\"deploy rollback attempt 1\""), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 2, "{junit}");
}

// ---------------------------------------------------------------------------------------------
// HTML in a real browser

/// Headless Chromium (Debian's `chromium`), if installed.
fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            let ok = Command::new("chromium")
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| PathBuf::from("chromium"))
        })
}

/// Run headless Chromium with `args` on `url` (its own profile in `dir`), to its end within the
/// deadline; its stdout.
fn run_chromium(bin: &Path, dir: &Path, args: &[&str], url: &str) -> String {
    let out_path = dir.join("chromium.out");
    let err_path = dir.join("chromium.err");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    let deadline = DEADLINE * 2;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {args:?} did not finish within {deadline:?}: {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium {args:?} failed: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    std::fs::read_to_string(&out_path).unwrap()
}

#[test]
fn the_html_report_renders_in_chromium_with_a_bar_per_run() {
    let Some(bin) = chromium() else {
        return missing("chromium", "apt-get install -y chromium");
    };
    let ws = released();
    let html_path = ws.file("report.html");
    ws.expect(
        [
            "report",
            "1.1.0",
            "--format",
            "html",
            "-o",
            html_path.to_str().unwrap(),
        ],
        0,
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    // One self-contained file: no script, no external asset.
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for banned in ["<script", "<link", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(banned), "the report holds `{banned}`");
    }
    assert!(html.contains("@media print"), "no print rules");
    assert!(
        html.contains("ship it &lt;now&gt;"),
        "the approval's note, escaped"
    );
    assert!(!html.contains("ship it <now>"), "an unescaped note");

    // The DOM as Chromium built it: the chart's bars and labels.
    let url = format!("file://{}", html_path.display());
    let dom = run_chromium(&bin, ws.path(), &["--dump-dom"], &url);
    let svg_start = dom.find("<svg").expect("an inline SVG in the rendered DOM");
    let svg = &dom[svg_start..svg_start + dom[svg_start..].find("</svg>").expect("the SVG ends")];
    assert_eq!(
        svg.matches("<rect").count(),
        RUNS.len(),
        "one bar per run:\n{svg}"
    );
    assert_eq!(dom.matches("<rect").count(), RUNS.len(), "bars only in the chart");
    for name in RUNS {
        assert!(
            svg.contains(&format!(">{name}</text>")),
            "no label {name}:\n{svg}"
        );
    }
    assert_eq!(
        svg.matches("fill=\"#c62828\"").count(),
        1,
        "one failed bar:\n{svg}"
    );
    assert!(
        svg.matches("class=\"tick-label\"").count() >= 2,
        "a time axis:\n{svg}"
    );
    assert!(svg.contains(">0s</text>"), "the axis starts at 0s:\n{svg}");
    for section in [
        "Summary",
        "Timeline",
        "Gates",
        "Failed runs",
        "Drift",
        "Release notes",
    ] {
        assert!(dom.contains(&format!(">{section}</h2>")), "no section {section}");
    }

    // A screenshot: a real image of the window's size, not blank.
    let shot = ws.file("shot.png");
    run_chromium(
        &bin,
        ws.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    let _ = std::fs::copy(&shot, "/tmp/report-shot.png");
    let image = decode_png(&png);
    assert_eq!((image.width, image.height), (1200, 1600));
    let colours = image.colours();
    assert!(colours.len() > 2, "a blank screenshot: colours {colours:?}");
    // The outcome badges' green is there, exactly (not blended).
    assert!(
        colours.contains(&[0x2e, 0x7d, 0x32]),
        "no badge green among {} colours",
        colours.len()
    );
}

/// An 8-bit RGB or RGBA PNG's size and pixels (RGB).
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn colours(&self) -> std::collections::HashSet<[u8; 3]> {
        self.rgb.iter().copied().collect()
    }
}

fn decode_png(png: &[u8]) -> Image {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let mut at = 8;
    let (mut width, mut height, mut channels) = (0u32, 0u32, 0usize);
    let mut idat = Vec::new();
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(data[0..4].try_into().unwrap());
                height = u32::from_be_bytes(data[4..8].try_into().unwrap());
                assert_eq!(data[8], 8, "bit depth");
                assert_eq!(data[12], 0, "not interlaced");
                channels = match data[9] {
                    2 => 3,
                    6 => 4,
                    other => panic!("PNG colour type {other}"),
                };
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).expect("PNG data inflates");
    let stride = width as usize * channels;
    assert_eq!(raw.len(), (stride + 1) * height as usize, "PNG data size");
    let mut prev = vec![0u8; stride];
    let mut row = vec![0u8; stride];
    let mut rgb = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height as usize {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = line[0];
        for i in 0..stride {
            let x = line[1 + i];
            let a = if i >= channels { row[i - channels] } else { 0 };
            let b = prev[i];
            let c = if i >= channels { prev[i - channels] } else { 0 };
            row[i] = match filter {
                0 => x,
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add(((a as u16 + b as u16) / 2) as u8),
                4 => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = ((p - a as i16).abs(), (p - b as i16).abs(), (p - c as i16).abs());
                    let pred = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    x.wrapping_add(pred)
                }
                f => panic!("PNG filter {f}"),
            };
        }
        rgb.extend(row.chunks(channels).map(|p| [p[0], p[1], p[2]]));
        std::mem::swap(&mut prev, &mut row);
    }
    Image { width, height, rgb }
}
