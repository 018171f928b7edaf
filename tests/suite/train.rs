//! Release trains end to end: three (or four) small plans in a temp workspace, the real binary,
//! real `sh`. Every command of every member appends to one ledger file, so orders (a dependant
//! after what it needs, rollbacks the last completed first) are read from what the commands did.

use crate::common;

use std::path::Path;

use common::{DEADLINE, Workspace, stderr_of, stdout_of, wait_until};
use serde_json::Value;

/// A plan `name` whose stages are `stages` (TOML of `[[stage]]` tables); `@LEDGER@` stands for
/// the ledger file and `@IO@` for the workspace's `.io` folder.
fn plan(name: &str, stages: &str) -> String {
    format!("[plan]\nname = \"{name}\"\n\n[environments.staging]\n[environments.prod]\n\n{stages}")
}

/// A workspace whose root plan is a bystander and whose `services/<name>/flightdeck.toml` are
/// the workspace's plans, listed by a glob.
fn workspace(plans: &[(&str, String)], train: &str) -> Workspace {
    let ws = Workspace::new(&plan("bystander", "[[stage]]\nid = \"x\"\nrun = \"true\"\n"));
    let ledger = ws.file("ledger");
    let io = ws.file(".io");
    for (name, text) in plans {
        let dir = ws.path().join("services").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let text = text
            .replace("@LEDGER@", &ledger.display().to_string())
            .replace("@IO@", &io.display().to_string());
        std::fs::write(dir.join("flightdeck.toml"), text).unwrap();
    }
    std::fs::write(
        ws.file("flightdeck-workspace.toml"),
        format!("[workspace]\nname = \"commerce\"\nplans = [\"services/*/flightdeck.toml\"]\n{train}"),
    )
    .unwrap();
    ws
}

fn ledger(ws: &Workspace) -> Vec<String> {
    ws.read("ledger").lines().map(str::to_string).collect()
}

fn train_status(ws: &Workspace, name: &str) -> Value {
    let out = ws
        .flightdeck(["train", "status", name, "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("train status --json: {e}\n{}{}", stdout_of(&out), stderr_of(&out)))
}

fn wait_for_train(ws: &Workspace, name: &str, state: &str) -> Value {
    let mut last = Value::Null;
    wait_until(
        DEADLINE,
        format!("train {name} is {state} (last: {last:?})"),
        || {
            last = train_status(ws, name);
            last["state"] == state
        },
    );
    last
}

fn member_journal(ws: &Workspace, plan: &str, id: &str) -> Vec<Value> {
    let path = ws
        .data_dir()
        .join("plans")
        .join(plan)
        .join(id)
        .join("journal.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn position(lines: &[String], what: &str) -> usize {
    lines
        .iter()
        .position(|l| l == what)
        .unwrap_or_else(|| panic!("`{what}` not in the ledger: {lines:?}"))
}

/// A deploy stage that writes the ledger; `extra` adds keys (needs, run override...).
fn deploy(plan: &str, id: &str, env: &str, extra: &str) -> String {
    format!(
        "[[stage]]\nid = \"{id}\"\nenvironment = \"{env}\"\nrun = \"echo {plan} {id} >> @LEDGER@\"\nrollback = \"echo {plan} rollback {id} >> @LEDGER@\"\n{extra}\n"
    )
}

#[test]
fn a_train_waits_across_plans_and_one_train_gate_approved_once_lets_every_member_through() {
    // billing's prod deploy holds until the test lets it go, so storefront is seen waiting on it.
    let billing = plan(
        "billing",
        &format!(
            "{}[[stage]]\nid = \"deploy-prod\"\nneeds = [\"deploy-staging\"]\nenvironment = \"prod\"\nrun = \"while [ ! -e @IO@/go ]; do sleep 0.05; done; echo billing deploy-prod >> @LEDGER@\"\n",
            deploy("billing", "deploy-staging", "staging", "")
        ),
    );
    let storefront = plan(
        "storefront",
        &format!(
            "{}{}",
            deploy("storefront", "deploy-staging", "staging", ""),
            deploy(
                "storefront",
                "deploy-prod",
                "prod",
                "needs = [\"deploy-staging\", \"billing:deploy-prod\"]"
            )
        ),
    );
    let search = plan(
        "search",
        &format!(
            "{}{}",
            deploy("search", "deploy-staging", "staging", ""),
            deploy("search", "deploy-prod", "prod", "needs = [\"deploy-staging\"]")
        ),
    );
    let ws = workspace(
        &[
            ("billing", billing),
            ("storefront", storefront),
            ("search", search),
        ],
        "[train.gates.release-board]\nenvironment = \"prod\"\nchecklist = [\"change ticket filed\"]\n",
    );
    let out = ws.expect(["check"], 0);
    assert!(
        stdout_of(&out).contains("3 plan(s) (billing, search, storefront)"),
        "{}",
        stdout_of(&out)
    );
    ws.expect(
        [
            "train",
            "start",
            "w49",
            "--version",
            "2.0.0",
            "--set",
            "billing=2.4.0",
        ],
        0,
    );

    // Staging everywhere; prod waits for the train gate, storefront's also for billing's.
    let st = {
        let mut st = Value::Null;
        wait_until(DEADLINE, "every prod stage waits for the train gate", || {
            st = train_status(&ws, "w49");
            st["blocking"]
                .as_array()
                .is_some_and(|b| b.iter().filter(|a| a["to"] == "gate:release-board").count() == 3)
        });
        st
    };
    let blocking: Vec<(String, String)> = st["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["from"].as_str().unwrap().to_string(),
                a["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        blocking.contains(&("storefront:deploy-prod".into(), "billing:deploy-prod".into())),
        "{blocking:?}"
    );
    let versions: Vec<(&str, &str)> = st["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["plan"].as_str().unwrap(), m["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [("billing", "2.4.0"), ("search", "2.0.0"), ("storefront", "2.0.0")]
    );
    let text = stdout_of(&ws.expect(["train", "status", "w49"], 3));
    assert!(
        text.contains("storefront:deploy-prod waits for billing:deploy-prod, pending"),
        "{text}"
    );
    assert!(!ledger(&ws).iter().any(|l| l.ends_with("deploy-prod")));

    // One approval and one tick open the gate for every member.
    ws.expect(["train", "tick", "w49", "release-board", "change"], 0);
    let out = ws.expect(["approve", "w49", "release-board", "--note", "board met"], 0);
    assert!(
        stdout_of(&out).contains("open, every member's stages behind it go on"),
        "{}",
        stdout_of(&out)
    );
    // Each person counts once.
    let again = ws.expect(["approve", "w49", "release-board"], 1);
    assert!(
        stderr_of(&again).contains("already approved"),
        "{}",
        stderr_of(&again)
    );

    // search goes (and finishes: the completion order below is search, billing, storefront);
    // storefront still waits for billing, which holds until released.
    wait_until(DEADLINE, "search's release succeeds", || {
        train_status(&ws, "w49")["members"].as_array().is_some_and(|m| {
            m.iter()
                .any(|m| m["plan"] == "search" && m["state"] == "succeeded")
        })
    });
    assert!(ledger(&ws).contains(&"search deploy-prod".to_string()));
    wait_until(DEADLINE, "storefront says it waits for billing (running)", || {
        let st = train_status(&ws, "w49");
        st["blocking"].as_array().is_some_and(|b| {
            b.iter()
                .any(|a| a["to"] == "billing:deploy-prod" && a["what"] == "running" && a["since"].is_string())
        })
    });
    assert!(!ledger(&ws).contains(&"storefront deploy-prod".to_string()));
    ws.touch(".io/go");
    let st = wait_for_train(&ws, "w49", "succeeded");
    assert_eq!(st["gates"][0]["approved_by"], serde_json::json!(["tester"]));
    let lines = ledger(&ws);
    assert!(position(&lines, "billing deploy-prod") < position(&lines, "storefront deploy-prod"));
    // The member journals say what they waited for.
    let journal = member_journal(&ws, "storefront", "2.0.0");
    let over: Vec<&str> = journal
        .iter()
        .filter(|r| r["kind"] == "train_wait_over")
        .map(|r| r["need"].as_str().unwrap())
        .collect();
    assert_eq!(over.len(), 2, "{over:?}");
    assert!(over.contains(&"billing:deploy-prod") && over.contains(&"gate:release-board"));
    assert!(
        journal
            .iter()
            .any(|r| r["kind"] == "train_joined" && r["train"] == "w49")
    );
    // Waiting is said when it changes, not over and over.
    let waits = journal.iter().filter(|r| r["kind"] == "stage_waiting").count();
    assert!((1..=4).contains(&waits), "{waits} stage_waiting records");
    ws.expect(["train", "status", "w49"], 0);
    let list = stdout_of(&ws.expect(["train", "list"], 0));
    assert!(list.contains("w49") && list.contains("succeeded"), "{list}");
    // Outside the train, the same plan's cross-plan need is no wait at all.
    ws.expect(
        [
            "--plan",
            "services/storefront/flightdeck.toml",
            "run",
            "2.0.1",
            "--only",
            "deploy-prod",
        ],
        0,
    );
    let solo = member_journal(&ws, "storefront", "2.0.1");
    assert!(
        !solo
            .iter()
            .any(|r| r["kind"] == "train_wait_over" || r["kind"] == "stage_waiting")
    );
    assert_eq!(
        ledger(&ws)
            .iter()
            .filter(|l| *l == "storefront deploy-prod")
            .count(),
        2
    );

    // Rolling the train back would roll storefront back over 2.0.1, live on prod since: refused
    // as `rollback` refuses, naming it, before anything is rolled back.
    let before = ledger(&ws).len();
    let out = ws.expect(["rollback", "w49"], 1);
    assert!(
        stderr_of(&out).contains("storefront/2.0.0: 2.0.1 is live on prod")
            && stderr_of(&out).contains("`flightdeck rollback w49 --force`"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(ledger(&ws).len(), before);
    // Forced: every member, the last completed first (search, billing, storefront completed
    // in that order), each its runs newest first; billing's prod deploy has no rollback.
    let out = ws.expect(["rollback", "w49", "--force"], 0);
    assert!(
        stdout_of(&out)
            .contains("the last completed first: storefront/2.0.0, then billing/2.4.0, then search/2.0.0"),
        "{}",
        stdout_of(&out)
    );
    wait_for_train(&ws, "w49", "rolled_back");
    assert_eq!(
        ledger(&ws)[before..],
        [
            "storefront rollback deploy-prod",
            "storefront rollback deploy-staging",
            "billing rollback deploy-staging",
            "search rollback deploy-prod",
            "search rollback deploy-staging",
        ]
    );
}

#[test]
fn a_failing_member_stops_its_dependants_and_the_completed_members_roll_back_last_completed_first() {
    // billing completes first, search (which waits for billing) second; payments then fails,
    // and storefront (which needs payments) never starts.
    let billing = plan("billing", &deploy("billing", "deploy", "prod", ""));
    let search = plan(
        "search",
        &deploy(
            "search",
            "deploy",
            "prod",
            "needs = [\"billing:deploy\"]\nrun = \"sleep 0.5; echo search deploy >> @LEDGER@\"",
        )
        .replace("run = \"echo search deploy >> @LEDGER@\"\n", ""),
    );
    let payments = plan(
        "payments",
        "[[stage]]\nid = \"deploy\"\nenvironment = \"prod\"\nneeds = [\"search:deploy\"]\nrun = \"echo payments deploy failed >> @LEDGER@; exit 3\"\n",
    );
    let storefront = plan(
        "storefront",
        &deploy("storefront", "deploy", "prod", "needs = [\"payments:deploy\"]"),
    );
    let ws = workspace(
        &[
            ("billing", billing),
            ("search", search),
            ("payments", payments),
            ("storefront", storefront),
        ],
        "[train]\non_failure = \"rollback\"\n",
    );
    ws.expect(["check"], 0);
    ws.expect(["train", "start", "w50", "--version", "1.0.0"], 0);
    let st = wait_for_train(&ws, "w50", "rolled_back");
    assert_eq!(
        st["rollback_order"],
        serde_json::json!(["search/1.0.0", "billing/1.0.0"]),
        "{st:#}"
    );
    assert_eq!(
        ledger(&ws),
        [
            "billing deploy",
            "search deploy",
            "payments deploy failed",
            "search rollback deploy",
            "billing rollback deploy"
        ]
    );
    // storefront never started: its stage failed without running, saying why.
    let sf = ws
        .flightdeck([
            "--plan",
            "services/storefront/flightdeck.toml",
            "status",
            "1.0.0",
            "--json",
        ])
        .output()
        .unwrap();
    let sf: Value = serde_json::from_slice(&sf.stdout).unwrap();
    assert_eq!(sf["state"], "failed", "{sf:#}");
    let stage = &sf["stages"][0];
    assert!(
        stage["targets"][0]["attempts"].as_array().unwrap().is_empty(),
        "{stage:#}"
    );
    assert!(
        stage["reason"]
            .as_str()
            .unwrap()
            .contains("needs payments:deploy, which did not succeed"),
        "{stage:#}"
    );
    // The train's journal chains and records each member's rollback.
    let trains = ws.data_dir().join("plans/@commerce/.trains/trains.jsonl");
    let text = std::fs::read_to_string(&trains).unwrap();
    let kinds: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "train_member_rolled_back").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.last().map(String::as_str), Some("train_finished"));
    // A train rolled back is not rolled back twice.
    let again = ws.expect(["rollback", "w50"], 1);
    assert!(
        stderr_of(&again).contains("nothing to roll back") || stderr_of(&again).contains("rolled"),
        "{}",
        stderr_of(&again)
    );
}

#[test]
fn check_refuses_a_cycle_across_plans_as_a_path_and_bad_references_at_their_lines() {
    let billing = plan(
        "billing",
        "[[stage]]\nid = \"migrate\"\nneeds = [\"storefront:deploy-prod\"]\nrun = \"true\"\n",
    );
    let storefront = plan(
        "storefront",
        "[[stage]]\nid = \"deploy-prod\"\nneeds = [\"billing:migrate\"]\nrun = \"true\"\n\n[[stage]]\nid = \"smoke\"\nneeds = [\"biling:migrate\", \"billing:migrat\"]\nrun = \"true\"\n",
    );
    let ws = workspace(&[("billing", billing), ("storefront", storefront)], "");
    let out = ws.expect(["check"], 2);
    let err = stderr_of(&out);
    let root = ws.path().canonicalize().unwrap();
    let file = |p: &str| {
        root.join("services")
            .join(p)
            .join("flightdeck.toml")
            .display()
            .to_string()
    };
    assert!(
        err.contains(&format!(
            "{}:9:10: stages form a cycle across plans: billing:migrate -> storefront:deploy-prod -> billing:migrate",
            file("billing")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:14:10: stage `smoke` needs `biling:migrate`, but the workspace commerce has no plan `biling`; did you mean `billing`?",
            file("storefront")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:14:28: stage `smoke` needs `billing:migrat`, but plan `billing` has no stage `migrat`; did you mean `migrate`?",
            file("storefront")
        )),
        "{err}"
    );
    // A train never starts on a workspace that does not check.
    ws.expect(["train", "start", "bad", "--version", "1.0.0"], 2);

    // The workspace file's own problems, at their lines.
    std::fs::write(
        ws.file("flightdeck-workspace.toml"),
        "[workspace]\nname = \"commerce\"\nplans = [\"services/*/flightdeck.toml\", \"nowhere/*.toml\"]\nplan = 1\n\n[train]\non_failure = \"rollbak\"\n",
    )
    .unwrap();
    let err = stderr_of(&ws.expect(["check"], 2));
    let wsf = root.join("flightdeck-workspace.toml").display().to_string();
    assert!(
        err.contains(&format!("{wsf}:3:40: plan glob `nowhere/*.toml` matches no file")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{wsf}:4:1: unknown key `plan` in [workspace]; did you mean `plans`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{wsf}:7:14: on_failure of [train] is `rollbak`; expected `halt` or `rollback`"
        )),
        "{err}"
    );
    // `--plan` still checks one plan alone (its cross-plan needs are the workspace's business).
    ws.expect(["--plan", "services/storefront/flightdeck.toml", "check"], 0);
}

#[test]
fn killed_drivers_lose_nothing_train_resume_brings_every_member_back_and_cancel_ends_the_train() {
    let a = plan("alpha", &deploy("alpha", "deploy", "prod", ""));
    let b = plan(
        "beta",
        &deploy("beta", "deploy", "prod", "needs = [\"alpha:deploy\"]"),
    );
    let c = plan("gamma", &deploy("gamma", "deploy", "prod", ""));
    let ws = workspace(
        &[("alpha", a), ("beta", b), ("gamma", c)],
        "[train.gates.go]\napprovals = 1\n",
    );
    ws.expect(["train", "start", "t1", "--version", "1.0.0"], 0);
    wait_until(DEADLINE, "every member waits at the train gate", || {
        train_status(&ws, "t1")["blocking"]
            .as_array()
            .is_some_and(|b| b.iter().filter(|a| a["to"] == "gate:go").count() == 3)
    });
    // Kill every driver: the members' and the train's.
    let pids = driver_pids(&ws);
    assert_eq!(pids.len(), 4, "three member drivers and the train's: {pids:?}");
    for pid in &pids {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_until(DEADLINE, "the drivers are gone", || {
        pids.iter().all(|p| common::process_gone(*p))
    });
    wait_until(DEADLINE, "every member says it is interrupted", || {
        train_status(&ws, "t1")["members"]
            .as_array()
            .is_some_and(|m| m.iter().all(|m| m["state"] == "interrupted"))
    });
    // Approving needs no driver: the gate is the train's journal.
    ws.expect(["approve", "t1", "go"], 0);
    let out = ws.expect(["train", "resume", "t1"], 0);
    let text = stdout_of(&out);
    for p in ["alpha", "beta", "gamma"] {
        assert!(
            text.contains(&format!("{p}: release 1.0.0 resumed")),
            "{text}{}\n{:#}",
            stderr_of(&out),
            train_status(&ws, "t1")
        );
    }
    assert!(text.contains("its driver started again"), "{text}");
    wait_for_train(&ws, "t1", "succeeded");
    let lines = ledger(&ws);
    assert!(position(&lines, "alpha deploy") < position(&lines, "beta deploy"));
    let out = ws.expect(["train", "resume", "t1"], 0);
    assert!(
        stdout_of(&out).contains("nothing to resume"),
        "{}",
        stdout_of(&out)
    );

    // Cancel: a second train held at its gate ends cancelled, every member with it.
    ws.expect(["train", "start", "t2", "--version", "1.1.0"], 0);
    wait_until(DEADLINE, "t2 waits at its gate", || {
        train_status(&ws, "t2")["blocking"]
            .as_array()
            .is_some_and(|b| b.iter().filter(|a| a["to"] == "gate:go").count() == 3)
    });
    ws.expect(["cancel", "t2"], 0);
    let st = wait_for_train(&ws, "t2", "cancelled");
    for m in st["members"].as_array().unwrap() {
        assert_eq!(m["state"], "cancelled", "{st:#}");
    }
    let refused = ws.expect(["approve", "t2", "go"], 1);
    assert!(
        stderr_of(&refused).contains("cancelled"),
        "{}",
        stderr_of(&refused)
    );
}

/// The pids of every driver of the workspace's data directory (members' and trains').
fn driver_pids(ws: &Workspace) -> Vec<i32> {
    let data = ws.data_dir().display().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_driver =
            args.iter().any(|a| a == "drive") && args.iter().any(|a| Path::new(a).starts_with(&data));
        let is_train = args.windows(2).any(|w| w[0] == "train" && w[1] == "drive");
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&env).contains(&data);
        if (is_driver || is_train) && ours {
            out.push(pid);
        }
    }
    out
}

#[test]
fn a_train_start_cut_short_is_completed_by_train_resume() {
    let a = plan("alpha", &deploy("alpha", "deploy", "prod", ""));
    let m = plan(
        "mike",
        &deploy("mike", "deploy", "prod", "needs = [\"alpha:deploy\"]"),
    );
    let z = plan(
        "zulu",
        &deploy("zulu", "deploy", "prod", "needs = [\"mike:deploy\"]"),
    );
    let ws = workspace(&[("alpha", a), ("mike", m), ("zulu", z)], "");
    // mike's release cannot be created (a folder where its plan's lock file goes): the start
    // stops short of starting anything, as if it had been killed there. The releases made
    // (alpha's and zulu's, made side by side with mike's) are the train's all the same.
    let obstacle = ws.data_dir().join("plans/mike/releases.lock");
    std::fs::create_dir_all(&obstacle).unwrap();
    let out = ws.expect(["train", "start", "t9", "--version", "4.0"], 1);
    let err = stderr_of(&out);
    assert!(
        err.contains("train t9 started, but the release of mike could not be created")
            && err.contains("flightdeck train resume t9"),
        "{err}"
    );
    let st = train_status(&ws, "t9");
    let states: Vec<&str> = st["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["interrupted", "not_created", "interrupted"], "{st:#}");
    // Nothing ran: no driver was started for a train cut short.
    assert!(ledger(&ws).is_empty());
    std::fs::remove_dir(&obstacle).unwrap();
    let text = stdout_of(&ws.expect(["train", "resume", "t9"], 0));
    assert!(text.contains("mike: release 4.0 created"), "{text}");
    for p in ["alpha", "mike", "zulu"] {
        assert!(text.contains(&format!("{p}: release 4.0 resumed")), "{text}");
    }
    wait_for_train(&ws, "t9", "succeeded");
    assert_eq!(ledger(&ws), ["alpha deploy", "mike deploy", "zulu deploy"]);
}

/// The board's train rollback, in a real terminal: over a newer release it first shows what it
/// would go over (asked of the store, as `rollback` refuses it), and once the train's name is
/// typed goes over it as `rollback --force` does.
#[test]
fn the_board_rolls_a_train_back_over_a_newer_release_after_listing_it() {
    if common::tmux::missing() {
        return;
    }
    let billing = plan("billing", &deploy("billing", "deploy-prod", "prod", ""));
    let storefront = plan(
        "storefront",
        &deploy(
            "storefront",
            "deploy-prod",
            "prod",
            "needs = [\"billing:deploy-prod\"]",
        ),
    );
    let ws = workspace(&[("billing", billing), ("storefront", storefront)], "");
    ws.expect(["train", "start", "t7", "--version", "3.0.0"], 0);
    wait_for_train(&ws, "t7", "succeeded");
    // A newer storefront goes live on prod outside the train.
    ws.expect(
        ["--plan", "services/storefront/flightdeck.toml", "run", "3.0.1"],
        0,
    );
    let before = ledger(&ws).len();

    let tmux = common::tmux::Tmux::new("train-over");
    tmux.start(&ws, "", "", (160, 45));
    tmux.wait_for("Trains (1)");
    tmux.keys(&["3"]);
    tmux.keys(&["R"]);
    let s = tmux.wait_for("rolls back over them");
    assert!(
        s.contains("storefront/3.0.0: 3.0.1 is live on prod") && s.contains("Roll back train t7?"),
        "{s}"
    );
    tmux.type_text("t7");
    tmux.keys(&["Enter"]);
    wait_for_train(&ws, "t7", "rolled_back");
    assert_eq!(
        ledger(&ws)[before..],
        ["storefront rollback deploy-prod", "billing rollback deploy-prod"]
    );
    tmux.keys(&["q"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
}

/// Bad arguments to `train start` are refused with one line each (exit 2), before anything is
/// written.
#[test]
fn train_start_refuses_bad_arguments_before_writing_anything() {
    let a = plan("alpha", &deploy("alpha", "deploy", "prod", ""));
    let b = plan("beta", &deploy("beta", "deploy", "prod", ""));
    let ws = workspace(&[("alpha", a), ("beta", b)], "");
    for (args, says) in [
        (vec!["t/1", "--version", "1.0"], "train name `t/1` may hold only"),
        (
            vec!["\u{1b}[31mred", "--version", "1.0"],
            "train name `\\u{1b}[31mred`",
        ),
        (
            vec!["t1", "--version", "1.0", "--set", "gamma=2"],
            "`gamma` is not a plan of this train (it has: alpha, beta)",
        ),
        (
            vec!["t1", "--version", "1.0", "--set", "alpha"],
            "--set `alpha`: write PLAN=VERSION",
        ),
        (
            vec!["t1", "--version", "1.0", "--set", "alpha=2", "--set", "alpha=3"],
            "plan alpha is given twice (2 and 3)",
        ),
        (vec!["t1", "--version", "1.0\u{7}"], "holds control characters"),
        (
            vec!["t1", "--version", "1.0", "--plans", "alpha,zeta"],
            "has no plan `zeta` (it has: alpha, beta)",
        ),
    ] {
        let mut all = vec!["train", "start"];
        all.extend(args.iter().copied());
        let out = ws.expect(all, 2);
        let err = stderr_of(&out);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains('\u{1b}'), "{args:?}: {err:?}");
    }
    let trains = ws.data_dir().join("plans/@commerce/.trains/trains.jsonl");
    assert!(!trains.exists(), "nothing is written for a refused start");
    // Where a start that is not refused writes.
    ws.expect(
        ["train", "start", "t1", "--version", "1.0", "--set", "alpha=2"],
        0,
    );
    assert!(trains.exists());
    wait_for_train(&ws, "t1", "succeeded");
}

/// A member with nothing to undo (no rollback command) does not stop a train's rollback, and is
/// never asked again and again: its driver would refuse it every time.
#[test]
fn a_member_with_nothing_to_roll_back_is_passed_over_once() {
    let a = plan(
        "alpha",
        "[[stage]]\nid = \"deploy\"\nenvironment = \"prod\"\nrun = \"echo alpha deploy >> @LEDGER@\"\n",
    );
    let b = plan(
        "beta",
        &deploy("beta", "deploy", "prod", "needs = [\"alpha:deploy\"]"),
    );
    let ws = workspace(&[("alpha", a), ("beta", b)], "");
    ws.expect(["train", "start", "t3", "--version", "1.0"], 0);
    wait_for_train(&ws, "t3", "succeeded");
    let out = ws.expect(["rollback", "t3"], 0);
    assert!(
        stdout_of(&out).contains("the last completed first: beta/1.0, then alpha/1.0"),
        "{}",
        stdout_of(&out)
    );
    let st = wait_for_train(&ws, "t3", "rolled_back");
    assert_eq!(
        ledger(&ws),
        ["alpha deploy", "beta deploy", "beta rollback deploy"],
        "{st:#}"
    );
    let asked = |p: &str| {
        member_journal(&ws, p, "1.0")
            .iter()
            .filter(|r| r["kind"] == "rollback_requested")
            .count()
    };
    assert_eq!((asked("alpha"), asked("beta")), (0, 1));
    // What the train says of alpha.
    let trains = std::fs::read_to_string(ws.data_dir().join("plans/@commerce/.trains/trains.jsonl")).unwrap();
    let alpha: Vec<Value> = trains
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "train_member_rolled_back" && r["member"] == "alpha/1.0")
        .collect();
    assert_eq!(alpha.len(), 1, "{trains}");
    assert_eq!(alpha[0]["ok"], true);
    assert!(
        alpha[0]["why"].as_str().unwrap().contains("nothing to roll back"),
        "{:?}",
        alpha[0]
    );
}
