//! Signed approvals with real keys made by `ssh-keygen`: a gate with `signers` takes only
//! approvals signed (`ssh-keygen -Y sign`, namespace flightdeck) by a key its allowed_signers
//! file lists for the approver. Unsigned and wrong-key approvals are refused and journaled; a
//! forged approval written into the journal with the hash chain recomputed is caught by the fold
//! (it counts for nothing) and named by `verify`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Workspace, stderr_of, stdout_of};
use serde_json::Value;

const PLAN: &str = r#"
[plan]
name = "signed"

[[stage]]
id = "build"
run = "true"

[[stage]]
id = "deploy"
needs = ["build"]
gates = ["signoff"]
run = "true"

[gates.signoff]
approvals = 1
signers = "allowed_signers"
"#;

/// A new ed25519 key pair in `dir`: the private key's path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (OpenSSH's client) must be installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    key
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// A workspace with keys for carol and dan (listed) and mallory (not listed). No signing key is
/// found by default: HOME is the workspace (no git configuration), FLIGHTDECK_SIGNING_KEY unset.
fn workspace() -> (Workspace, PathBuf, PathBuf, PathBuf) {
    let ws = Workspace::new(PLAN);
    let home = ws.path().to_str().unwrap().to_string();
    let ws = ws.env("HOME", &home).env("FLIGHTDECK_SIGNING_KEY", "");
    let keys = ws.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    let (carol, dan, mallory) = (
        keygen(&keys, "carol"),
        keygen(&keys, "dan"),
        keygen(&keys, "mallory"),
    );
    std::fs::write(
        ws.file("allowed_signers"),
        format!(
            "# who may approve\ncarol {}\ndan {}\n",
            public(&carol),
            public(&dan)
        ),
    )
    .unwrap();
    (ws, carol, dan, mallory)
}

#[test]
fn only_approvals_signed_by_a_listed_key_count() {
    let (ws, carol, _dan, mallory) = workspace();
    ws.run_to_gate("1.0");
    // Unsigned: refused, journaled, and the user told where a key comes from.
    let out = ws.expect(["approve", "1.0", "signoff", "--as", "carol"], 1);
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("unsigned: gate signoff takes only approvals signed with a key in its signers file")
            && err.contains("no signing key found: set FLIGHTDECK_SIGNING_KEY, or git"),
        "{err}"
    );
    // Signed with a key the file does not list for carol.
    let out = ws.expect(
        [
            "approve",
            "1.0",
            "signoff",
            "--as",
            "carol",
            "--key",
            mallory.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        stderr_of(&out).contains("signed with a key the signers file does not list for carol"),
        "{}",
        stderr_of(&out)
    );
    let refused: Vec<String> = ws
        .events("1.0", "approval_refused")
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(ws.status("1.0")["state"], "paused");
    // Carol's own key, from FLIGHTDECK_SIGNING_KEY this time.
    let out = ws
        .flightdeck(["approve", "1.0", "signoff", "--as", "carol"])
        .env("FLIGHTDECK_SIGNING_KEY", &carol)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    ws.wait_for_state("1.0", "succeeded");
    let approved = ws.events("1.0", "approved");
    let signed = &approved[0]["signed"];
    let statement = signed["statement"].as_str().unwrap();
    assert!(
        statement.starts_with(
            "flightdeck approval\nplan: signed\nrelease: 1.0\nversion: 1.0\ngate: signoff\nseen: "
        ),
        "{statement}"
    );
    assert!(
        signed["signature"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN SSH SIGNATURE-----")
    );
    let out = ws.expect(["verify", "1.0"], 0);
    assert!(stdout_of(&out).contains("intact"), "{}", stdout_of(&out));
}

/// Rewrite line `n` (1-based) of a journal with `change`, then recompute the chain from it on and
/// the head file, as a forger with write access would.
fn forge(ws: &Workspace, id: &str, n: usize, change: impl Fn(&mut Value)) {
    use sha2::{Digest, Sha256};
    let path = ws.journal_path(id);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for i in n - 1..lines.len() {
        let mut v: Value = serde_json::from_str(&lines[i]).unwrap();
        if i == n - 1 {
            change(&mut v);
        }
        v["prev"] = Value::String(hex::encode(Sha256::digest(lines[i - 1].as_bytes())));
        lines[i] = serde_json::to_string(&v).unwrap();
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let last = lines.last().unwrap();
    std::fs::write(
        path.with_file_name("head"),
        format!(
            "{:020} {}\n",
            lines.len(),
            hex::encode(Sha256::digest(last.as_bytes()))
        ),
    )
    .unwrap();
}

#[test]
fn a_forged_approval_with_the_chain_recomputed_is_caught() {
    let (ws, carol, _dan, _mallory) = workspace();
    ws.run_to_gate("1.0");
    ws.expect(
        [
            "approve",
            "1.0",
            "signoff",
            "--as",
            "carol",
            "--key",
            carol.to_str().unwrap(),
        ],
        0,
    );
    ws.wait_for_state("1.0", "succeeded");
    let journal = ws.journal("1.0");
    let line = journal.iter().position(|e| e["kind"] == "approved").unwrap() + 1;
    // Carol's approval passed off as dan's: the chain is recomputed, so only the signature tells.
    forge(&ws, "1.0", line, |v| v["actor"] = Value::String("dan".into()));
    let out = ws.expect(["verify", "1.0"], 1);
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!(
            "journal.jsonl:{line}: signature does not hold: approval of gate signoff by dan: signed with a key the signers file does not list for dan"
        )),
        "{text}"
    );
    // Its statement changed instead (another gate, say): caught too.
    let (ws, carol, _dan, _mallory) = workspace();
    ws.run_to_gate("2.0");
    ws.expect(
        [
            "approve",
            "2.0",
            "signoff",
            "--as",
            "carol",
            "--key",
            carol.to_str().unwrap(),
        ],
        0,
    );
    ws.wait_for_state("2.0", "succeeded");
    let line = ws
        .journal("2.0")
        .iter()
        .position(|e| e["kind"] == "approved")
        .unwrap()
        + 1;
    forge(&ws, "2.0", line, |v| {
        let s = v["signed"]["statement"]
            .as_str()
            .unwrap()
            .replace("time: 20", "time: 19");
        v["signed"]["statement"] = Value::String(s);
    });
    let out = ws.expect(["verify", "2.0"], 1);
    assert!(
        stdout_of(&out).contains(&format!("journal.jsonl:{line}: signature does not hold")),
        "{}",
        stdout_of(&out)
    );
    // A signature in an approval written without one: the fold does not count it.
    let st = ws.status("2.0");
    let gate = &st["gates"][0];
    assert_eq!(gate["approvals"].as_array().unwrap().len(), 0, "{st}");
}

#[test]
fn check_reports_a_missing_or_malformed_signers_file_at_its_line() {
    let ws = Workspace::new(PLAN);
    let out = ws.expect(["check"], 2);
    let err = stderr_of(&out);
    assert!(
        err.contains(
            "flightdeck.toml:17:11: signers file `allowed_signers` of gate `signoff` cannot be read"
        ),
        "{err}"
    );
    std::fs::write(ws.file("allowed_signers"), "carol ssh-ed25519\n").unwrap();
    let out = ws.expect(["check"], 2);
    assert!(
        stderr_of(&out).contains("allowed_signers:1: expected `principals [options] keytype key`"),
        "{}",
        stderr_of(&out)
    );
}

/// An ssh-agent of the test's own, killed on drop.
struct Agent {
    sock: PathBuf,
    pid: i32,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: a plain signal to the agent this test started.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }
}

fn agent(dir: &Path) -> Agent {
    let sock = dir.join("agent.sock");
    let out = Command::new("ssh-agent")
        .arg("-a")
        .arg(&sock)
        .arg("-s")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = text
        .split(';')
        .find_map(|p| p.trim().strip_prefix("SSH_AGENT_PID="))
        .and_then(|p| p.parse().ok())
        .expect("the agent's pid");
    Agent { sock, pid }
}

#[test]
fn a_key_in_ssh_agent_signs_and_a_passphrase_key_without_it_is_refused_clearly() {
    let (ws, carol, _dan, _mallory) = workspace();
    ws.run_to_gate("1.0");
    // A key with a passphrase, not in an agent: refused in one line, without asking anything.
    let locked = ws.path().join("keys").join("locked");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
        .arg(&locked)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = ws
        .flightdeck([
            "approve",
            "1.0",
            "signoff",
            "--as",
            "carol",
            "--key",
            locked.to_str().unwrap(),
        ])
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("must be in ssh-agent"), "{err}");
    // Carol's key in ssh-agent; only its public half on disk.
    let a = agent(ws.path());
    let added = Command::new("ssh-add")
        .arg(&carol)
        .env("SSH_AUTH_SOCK", &a.sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    std::fs::remove_file(&carol).unwrap();
    let out = ws
        .flightdeck(["approve", "1.0", "signoff", "--as", "carol"])
        .env("FLIGHTDECK_SIGNING_KEY", carol.with_extension("pub"))
        .env("SSH_AUTH_SOCK", &a.sock)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    ws.wait_for_state("1.0", "succeeded");
}

#[test]
fn git_s_ssh_signing_key_is_used_as_for_commits() {
    let (ws, _carol, dan, _mallory) = workspace();
    ws.run_to_gate("1.0");
    // HOME is the workspace: its .gitconfig is the user's git configuration.
    std::fs::write(
        ws.file(".gitconfig"),
        format!(
            "[gpg]\n\tformat = ssh\n[user]\n\tsigningkey = {}\n",
            dan.display()
        ),
    )
    .unwrap();
    ws.expect(["approve", "1.0", "signoff", "--as", "dan"], 0);
    ws.wait_for_state("1.0", "succeeded");
    // Without gpg.format = ssh, the key is not taken for an SSH key.
    let (ws, _carol, dan, _mallory) = workspace();
    ws.run_to_gate("2.0");
    std::fs::write(
        ws.file(".gitconfig"),
        format!("[user]\n\tsigningkey = {}\n", dan.display()),
    )
    .unwrap();
    let out = ws.expect(["approve", "2.0", "signoff", "--as", "dan"], 1);
    assert!(
        stderr_of(&out).contains("no signing key found"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn the_cockpit_signs_its_approval_and_says_when_it_has_no_key() {
    if common::tmux::missing() {
        return;
    }
    let (ws, _carol, _dan, _mallory) = workspace();
    // The cockpit's user under tmux is `tester`: list a key for them.
    let tester = keygen(&ws.path().join("keys"), "tester");
    let mut signers = std::fs::read_to_string(ws.file("allowed_signers")).unwrap();
    signers.push_str(&format!("tester {}\n", public(&tester)));
    std::fs::write(ws.file("allowed_signers"), signers).unwrap();
    ws.run_to_gate("1.0");
    let home = format!("HOME='{}'", ws.path().display());
    // No key anywhere: the approval is refused, and the cockpit says what to set.
    let tmux = common::tmux::Tmux::new("sign-nokey");
    tmux.start(
        &ws,
        "cockpit 1.0",
        &format!("{home} FLIGHTDECK_SIGNING_KEY="),
        (160, 40),
    );
    tmux.wait_for("needs a person");
    tmux.keys(&["a"]);
    tmux.wait_for("Approve gate signoff?");
    tmux.keys(&["y"]);
    tmux.wait_for("no signing key found: set FLIGHTDECK_SIGNING_KEY");
    assert!(ws.events("1.0", "approved").is_empty());
    drop(tmux);
    // With a key: the cockpit signs as `approve` does, and the approval counts.
    let tmux = common::tmux::Tmux::new("sign-key");
    let key = format!("{home} FLIGHTDECK_SIGNING_KEY='{}'", tester.display());
    tmux.start(&ws, "cockpit 1.0 --exit-when-done", &key, (160, 40));
    tmux.wait_for("needs a person");
    tmux.keys(&["a"]);
    tmux.wait_for("Approve gate signoff?");
    tmux.keys(&["y"]);
    let after = tmux.wait_for("=DONE=");
    assert!(after.contains("EXIT=0"), "{after}");
    let approved = ws.events("1.0", "approved");
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0]["actor"], "tester");
    assert!(
        approved[0]["signed"]["signature"]
            .as_str()
            .is_some_and(|s| s.contains("BEGIN SSH SIGNATURE"))
    );
    ws.expect(["verify", "1.0"], 0);
}
