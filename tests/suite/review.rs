//! `flightdeck review`: a post-release review journaled in the plan's reviews journal (went
//! well, went wrong, action items numbered per release with owner and due date), closing items,
//! the `--editor` template, and one-line errors for bad input. The real binary on a real plan.

use crate::common;

use common::{Workspace, stderr_of, stdout_of};
use serde_json::Value;

const PLAN: &str = r#"
[plan]
name = "reviewed"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deployed {version}"
"#;

fn review_json(ws: &Workspace, release: &str) -> Value {
    serde_json::from_str(&stdout_of(&ws.expect(["review", release, "--json"], 0))).unwrap()
}

#[test]
fn a_review_is_recorded_shown_and_its_action_items_closed() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    // Nothing yet.
    let shown = stdout_of(&ws.expect(["review", "1.0"], 0));
    assert!(shown.contains("nobody reviewed it yet"), "{shown}");
    let out = ws.expect(
        [
            "review",
            "1.0",
            "--went-well",
            "the canary caught it",
            "--went-wrong",
            "alerts were noisy",
            "--went-wrong",
            "rollback took 9 minutes",
            "--action",
            "tune the alerts",
            "--owner",
            "bob",
            "--due",
            "2020-01-31",
            "--action",
            "script the rollback",
            "--owner",
            "carol",
            "--due",
            "2999-12-31",
        ],
        0,
    );
    let said = stdout_of(&out);
    assert!(
        said.contains("review of 1.0 recorded by tester: 1 went well, 2 went wrong, action item(s) #1 #2"),
        "{said}"
    );
    // A second review adds to it, numbering on.
    ws.expect(
        [
            "review",
            "1.0",
            "--action",
            "write it down",
            "--owner",
            "dan",
            "--due",
            "2999-01-01",
        ],
        0,
    );
    let r = review_json(&ws, "1.0");
    assert_eq!(r["went_well"][0]["text"], "the canary caught it");
    assert_eq!(r["went_well"][0]["by"], "tester");
    assert_eq!(r["went_wrong"].as_array().unwrap().len(), 2);
    let actions = r["actions"].as_array().unwrap();
    let numbers: Vec<u64> = actions.iter().map(|a| a["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(actions[0]["owner"], "bob");
    assert_eq!(actions[0]["due"], "2020-01-31");
    assert_eq!(actions[0]["overdue"], true);
    assert_eq!(actions[1]["overdue"], false);
    let text = stdout_of(&ws.expect(["review", "1.0"], 0));
    assert!(
        text.contains("#1 tune the alerts  owner bob  due 2020-01-31  OVERDUE"),
        "{text}"
    );
    assert!(
        text.contains("#2 script the rollback  owner carol  due 2999-12-31  open"),
        "{text}"
    );
    // Closing one; closing it again is refused with who closed it; an unknown number is a usage
    // error naming the range.
    let closed = stdout_of(&ws.expect(
        ["review", "1.0", "--close", "1", "--note", "thresholds raised"],
        0,
    ));
    assert!(
        closed.contains("action item #1 of 1.0 closed by tester: tune the alerts"),
        "{closed}"
    );
    let again = ws.expect(["review", "1.0", "--close", "1"], 1);
    assert!(
        stderr_of(&again).contains("action item #1 of 1.0 was already closed by tester"),
        "{}",
        stderr_of(&again)
    );
    let unknown = ws.expect(["review", "1.0", "--close", "7"], 2);
    assert!(
        stderr_of(&unknown).contains("no action item #7 (its action items are numbered 1 to 3)"),
        "{}",
        stderr_of(&unknown)
    );
    let r = review_json(&ws, "1.0");
    assert_eq!(r["actions"][0]["open"], false);
    assert_eq!(r["actions"][0]["closed"]["text"], "thresholds raised");
    // It is a journal like the others: chained, and where the plan's journals are.
    let journal = ws.data_dir().join("plans/reviewed/.reviews/reviews.jsonl");
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), 5, "{lines}");
    // The release's own journal was not touched.
    assert!(ws.events("1.0", "review_noted").is_empty());
}

#[test]
fn bad_review_input_is_one_line_and_records_nothing() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    let cases: [(&[&str], &str); 4] = [
        (
            &["review", "1.0", "--action", "a", "--owner", "bob"],
            "each --action needs its own --owner and --due, in the same order (1 --action, 1 --owner, 0 --due)",
        ),
        (
            &[
                "review",
                "1.0",
                "--action",
                "a",
                "--owner",
                "bob",
                "--due",
                "2026-02-30",
            ],
            "--due: due date `2026-02-30` is not a date YYYY-MM-DD",
        ),
        (
            &["review", "9.9", "--went-well", "x"],
            "release `9.9` not found for plan `reviewed`",
        ),
        (
            &["review", "1.0", "--went-well", "two\nlines"],
            "--went-well holds control characters",
        ),
    ];
    for (args, want) in cases {
        let out = ws.expect(args.iter().copied(), 2);
        let err = stderr_of(&out);
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(
        !ws.data_dir()
            .join("plans/reviewed/.reviews/reviews.jsonl")
            .exists()
    );
}

#[test]
fn the_editor_fills_in_the_template_and_a_bad_line_is_named() {
    let ws = Workspace::new(PLAN);
    ws.expect(["run", "1.0"], 0);
    // An "editor" that fills the template in as a person would.
    let good = ws.file("good-editor.sh");
    std::fs::write(
        &good,
        "#!/bin/sh\ngrep -q '^## Went well' \"$1\" || exit 3\ncat > \"$1\" <<'EOF'\n# ignored\n## Went well\n- smooth\n## Went wrong\n- slow\n-\n## Actions\n- add a dashboard | erin | 2999-03-01\nEOF\n",
    )
    .unwrap();
    let bad = ws.file("bad-editor.sh");
    std::fs::write(
        &bad,
        "#!/bin/sh\nprintf '## Actions\\n- no owner here\\n' > \"$1\"\n",
    )
    .unwrap();
    for f in [&good, &bad] {
        std::process::Command::new("chmod")
            .arg("+x")
            .arg(f)
            .status()
            .unwrap();
    }
    let refused = ws
        .flightdeck(["review", "1.0", "--editor"])
        .env("EDITOR", &bad)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains(
            "review-reviewed-1.0.md:2: an action item is `- what | owner | YYYY-MM-DD` (nothing recorded)"
        ),
        "{err}"
    );
    let ok = ws
        .flightdeck(["review", "1.0", "--editor"])
        .env("EDITOR", &good)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let r = review_json(&ws, "1.0");
    assert_eq!(r["went_well"][0]["text"], "smooth");
    assert_eq!(r["went_wrong"][0]["text"], "slow");
    assert_eq!(r["actions"][0]["owner"], "erin");
    assert_eq!(r["actions"][0]["due"], "2999-03-01");
}
