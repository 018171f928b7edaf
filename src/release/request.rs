//! Requests to a release's driver (approve, tick, recheck, cancel, retry, skip, rollback, unlock):
//! checked and appended under the journal lock ([`Context::submit`]); [`Context::request`] also
//! starts a background driver when none is alive and waits for its answer.

use std::time::{Duration, Instant};

use color_eyre::eyre::Result;

use super::{Context, load_state, refused, usage};
use crate::engine::driver;
use crate::engine::request::{self, Op, OpError, SubmitError};
use crate::engine::state::ReleaseState;
use crate::journal::{self, ReleaseDir, SyncWaker};

/// How long [`Context::request`] waits for the driver's answer.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// What the driver made of a request ([`Context::request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The release's id.
    pub release: String,
    /// The request's sequence number in the journal.
    pub seq: u64,
    /// What was asked (`cancel`, `retry`...).
    pub kind: &'static str,
    /// This call started a background driver for it.
    pub started_driver: bool,
    /// `None`: no answer yet (the driver is busy or slow); else accepted or not, and why.
    pub handled: Option<(bool, String)>,
    /// The incidents a rollback request linked itself to, or why linking failed.
    pub linked: std::result::Result<Vec<u64>, String>,
}

impl Context {
    /// Check `op` under the journal lock against the state as of that moment, and append it.
    /// An approval of a gate that takes signed approvals only is signed here first (the
    /// command line and the cockpit alike), when a key is found.
    pub fn submit(&self, rdir: &ReleaseDir, actor: &str, op: &Op) -> Result<request::Submitted> {
        let plan = self.plan_for(rdir)?;
        let masker = std::sync::Arc::new(driver::masker_for(&plan));
        let mut no_key = None;
        let signed_op;
        let op = match op {
            Op::Approve {
                gate,
                note,
                signed: None,
            } => {
                let st = load_state(rdir)?;
                match st.gate(gate).filter(|g| g.decl.signers.is_some()) {
                    None => op,
                    Some(_) => match self.signing_key(&plan)? {
                        None => {
                            no_key = Some(());
                            op
                        }
                        Some(key) => {
                            signed_op = Op::Approve {
                                gate: gate.clone(),
                                note: note.clone(),
                                signed: Some(sign_approval(rdir, &st, gate, &key)?),
                            };
                            &signed_op
                        }
                    },
                }
            }
            _ => op,
        };
        request::submit(rdir, masker, actor, op).map_err(|e| match e {
            SubmitError::Op(OpError::Usage(m)) => usage(m),
            SubmitError::Op(OpError::Refused(m)) if no_key.is_some() && m.starts_with("unsigned") => refused(format!(
                "no signing key found: set FLIGHTDECK_SIGNING_KEY, or git's user.signingkey with gpg.format = ssh, or give `approve --key FILE` ({m})"
            )),
            SubmitError::Op(OpError::Refused(m)) => refused(m),
            SubmitError::Journal(j @ journal::JournalError::Broken { .. }) => refused(j.to_string()),
            SubmitError::Journal(j) => j.into(),
        })
    }

    /// Append a request for the driver; start a background driver when none is alive; wait (up
    /// to [`ANSWER_WITHIN`]) for the driver's answer.
    pub fn request(&self, release: Option<&str>, op: Op) -> Result<Answer> {
        let rdir = self.find(release)?;
        let actor = self.actor();
        let sub = self.submit(&rdir, &actor, &op)?;
        let mut answer = Answer {
            release: rdir.id.clone(),
            seq: sub.seq,
            kind: sub.kind,
            started_driver: false,
            handled: None,
            linked: sub.linked.clone(),
        };
        if rdir.live_driver().is_none() {
            // Another process may become the driver in between (exit 4): that is fine too.
            self.spawn_driver_detached(&rdir, false)?.ok();
            answer.started_driver = true;
        }
        let waker = SyncWaker::watch(&rdir.path);
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            let st = load_state(&rdir)?;
            if let Some(r) = st.requests.get(&answer.seq)
                && let Some(handled) = &r.handled
            {
                answer.handled = Some(handled.clone());
                return Ok(answer);
            }
            if Instant::now() > deadline {
                return Ok(answer);
            }
            waker.wait(Duration::from_millis(200));
        }
    }

    /// A checklist item given as its text, a unique prefix, or its number.
    pub fn item_index(&self, rdir: &ReleaseDir, gate: &str, spec: &str) -> Result<usize> {
        let st = load_state(rdir)?;
        let g = st.gate(gate).ok_or_else(|| unknown_gate(&st, gate))?;
        find_item(&g.decl.checklist, gate, spec).map_err(usage)
    }
}

impl Context {
    /// The SSH key approvals are signed with: `--key FILE`, else FLIGHTDECK_SIGNING_KEY, else
    /// git's `user.signingkey` when `gpg.format = ssh` (the plan's repository's configuration,
    /// then the user's), as git signs commits. `None`: there is none.
    pub fn signing_key(&self, plan: &crate::plan::Plan) -> Result<Option<std::path::PathBuf>> {
        if let Some(k) = &self.signing_key {
            return Ok(Some(k.clone()));
        }
        if let Some(k) = std::env::var_os("FLIGHTDECK_SIGNING_KEY").filter(|k| !k.is_empty()) {
            return Ok(Some(k.into()));
        }
        let config = git2::Repository::discover(&plan.dir)
            .and_then(|r| r.config())
            .or_else(|_| git2::Config::open_default());
        let Ok(config) = config else { return Ok(None) };
        if config.get_string("gpg.format").ok().as_deref() != Some("ssh") {
            return Ok(None);
        }
        let Ok(key) = config.get_string("user.signingkey") else {
            return Ok(None);
        };
        // A literal key (`key::ssh-ed25519 AAAA…`): its private half is in ssh-agent.
        if let Some(literal) = key.strip_prefix("key::") {
            let file = std::env::temp_dir().join(format!("flightdeck-signing-{}.pub", std::process::id()));
            std::fs::write(&file, format!("{literal}\n"))?;
            return Ok(Some(file));
        }
        let path = match key.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(rest)),
            None => Some(key.into()),
        };
        Ok(path)
    }
}

/// Sign an approval of `gate`: the statement names the plan, the release, the gate, the last
/// line written (from the journal's head) and now.
fn sign_approval(
    rdir: &ReleaseDir,
    st: &ReleaseState,
    gate: &str,
    key: &std::path::Path,
) -> Result<crate::event::Signed> {
    let head = std::fs::read_to_string(rdir.head()).unwrap_or_default();
    let seen = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let statement = crate::sign::Statement {
        plan: st.plan.clone(),
        release: st.id.clone(),
        version: st.version.clone(),
        gate: gate.to_string(),
        seen,
        at: chrono::Utc::now(),
    }
    .text();
    let signature = crate::sign::sign(key, statement.as_bytes()).map_err(|e| color_eyre::eyre::eyre!(e))?;
    Ok(crate::event::Signed { statement, signature })
}

fn unknown_gate(st: &ReleaseState, gate: &str) -> color_eyre::Report {
    let names: Vec<&str> = st.gates.iter().map(|g| g.decl.name.as_str()).collect();
    usage(format!(
        "release {} has no gate `{gate}` (gates: {})",
        st.id,
        names.join(", ")
    ))
}

fn find_item(items: &[(String, bool)], gate: &str, spec: &str) -> Result<usize, String> {
    let g = crate::plan::Gate {
        name: gate.to_string(),
        checklist: items
            .iter()
            .map(|(t, _)| crate::plan::ChecklistItem::manual(t.clone()))
            .collect(),
        ..Default::default()
    };
    g.find_item(spec)
}
