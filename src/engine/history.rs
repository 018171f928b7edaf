//! A plan's finished-release index: `<data>/plans/<plan>/.index.jsonl`, one [`Summary`] line per
//! finished release, appended when the release is closed (its finished state folded from the
//! journal). The journals stay the only source of truth: the index is derived from them, checked
//! against them and rebuilt from them when it is missing or of another format.
//!
//! How it stays true without opening every journal:
//! - a release is marked open (`.open/<id>`) when it is created and before every append to its
//!   journal (`ReleaseDir::journal_writer`); the releases that can change are the marked ones;
//! - closing happens under the journal's append lock: fold what the journal holds, and only if
//!   the release is finished, append its summary and remove the marker;
//! - every summary records the journal's length when it was closed; a reader that finds the
//!   journal longer (an append by an older binary, a hand edit) folds it again;
//! - readers close marked releases they find finished (a driver killed between its last append
//!   and its close), so a crash never leaves the index behind for long.
//!
//! Readers walk the index newest first, from the end of the file, and stop when they have what
//! they need: `list`, `status`, `run`, the board and `envs` do not grow with the number of
//! finished releases.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::ReleaseState;
use crate::event::{FinalState, Outcome, ReleaseType};
use crate::journal::{Journal, JournalError, ReleaseDir, Store, io_error};
use crate::mask::Masker;

/// The index file in a plan's folder.
pub const INDEX: &str = ".index.jsonl";
/// Held while the index is appended to or rebuilt.
const LOCK: &str = ".index.lock";
/// The index format; an index of another format is rebuilt.
pub const FORMAT: u32 = 1;
/// The fields its lines carry, within [`FORMAT`]: an index written before revision 1 (no
/// `shipped` or per-environment `deploy`, which `metrics` needs) is rebuilt once from the
/// journals, which fills them. Older binaries ignore the revision and keep reading and appending
/// to the index (their lines load here too, without those fields: see [`History::complete`]).
pub const REVISION: u32 = 1;

/// What a release did to one environment (or one target of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvOutcome {
    /// Every run of it there succeeded and none was rolled back.
    Deployed,
    /// A run there failed (or was cancelled, or its rollback failed).
    Failed,
    /// Its runs there were rolled back.
    RolledBack,
}

impl EnvOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvOutcome::Deployed => "deployed",
            EnvOutcome::Failed => "failed",
            EnvOutcome::RolledBack => "rolled_back",
        }
    }
}

/// A finished release's effect on one environment, or one target of a fanned-out one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvResult {
    pub env: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: EnvOutcome,
    /// When its last run there (deploy or rollback) finished.
    pub at: DateTime<Utc>,
    /// Its deploy runs there, rollbacks aside: when the last one finished and whether every
    /// stage's last attempt there succeeded (a release rolled back later still deployed). `None`
    /// in index lines written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployRun>,
}

/// How a release's deploy runs on one environment (or target) ended, before any rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRun {
    /// When the last of them finished.
    pub at: DateTime<Utc>,
    /// Every stage's last attempt there succeeded.
    pub ok: bool,
}

/// One commit a release shipped, as the index keeps it for lead time: the first 16 hex digits
/// of its id (enough to tell a plan's commits apart: 64 bits) and its time (seconds since the
/// epoch). Written as a two-element array, `["0123456789abcdef", 1700000000]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedCommit(pub String, pub i64);

impl ShippedCommit {
    /// Digits of the commit id kept.
    pub const ID_LEN: usize = 16;

    pub fn of(c: &crate::event::CommitRef) -> ShippedCommit {
        let id = c.sha.get(..Self::ID_LEN).unwrap_or(&c.sha).to_ascii_lowercase();
        ShippedCommit(id, c.time.timestamp())
    }

    /// The id prefix as a number (the key commits are told apart by); `None` when it is not hex.
    pub fn key(&self) -> Option<u64> {
        u64::from_str_radix(&self.0, 16).ok()
    }
}

/// One finished release, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub version: String,
    #[serde(rename = "type")]
    pub rtype: ReleaseType,
    pub state: FinalState,
    pub reason: String,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: DateTime<Utc>,
    /// Who created the release.
    pub started_by: String,
    /// Everyone who approved one of its gates, in order, once each.
    pub approvers: Vec<String>,
    /// Stages finished, of all.
    pub progress: (usize, usize),
    /// The commit it shipped, when the plan lives in git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub envs: Vec<EnvResult>,
    /// A partial release (`run --only`, `redeploy`): the stages it chose; empty for a whole one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Stage id -> milliseconds from its start to its success (for typical durations).
    pub stage_ms: BTreeMap<String, u64>,
    /// The journal's length (bytes) when the summary was made.
    pub journal_len: u64,
    /// The commits it shipped: its journaled commit range (`release_commits`, newest first, as
    /// many as the journal lists), for lead time. Empty without git or for a redeploy; `None`
    /// in index lines written before it was recorded ([`History::complete`] folds their
    /// journal again). A release of a plan that never tags lists every commit since the first
    /// (capped at the journal's 10,000), so its line grows with them, as its journal does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped: Option<Vec<ShippedCommit>>,
}

impl Summary {
    /// The summary of a finished release; `None` while it is not finished.
    pub fn of(st: &ReleaseState, journal_len: u64) -> Option<Summary> {
        let fin = st.finished.as_ref()?;
        let mut approvers: Vec<String> = Vec::new();
        for g in &st.gates {
            for a in &g.approvals {
                if !approvers.contains(&a.actor) {
                    approvers.push(a.actor.clone());
                }
            }
        }
        Some(Summary {
            id: st.id.clone(),
            version: st.version.clone(),
            rtype: st.rtype,
            state: fin.state,
            reason: fin.reason.clone(),
            created_at: st.created_at,
            finished_at: fin.at,
            started_by: st.created_by.clone(),
            approvers,
            progress: st.progress(),
            commit: st.commits.as_ref().map(|c| c.head.clone()),
            envs: env_results(st),
            only: st.only.clone(),
            stage_ms: stage_ms(st),
            journal_len,
            shipped: Some(
                st.commits
                    .as_ref()
                    .map(|c| c.commits.iter().map(ShippedCommit::of).collect())
                    .unwrap_or_default(),
            ),
        })
    }

    /// What it did on `env`: the results for the environment and each of its targets.
    pub fn on_env<'a>(&'a self, env: &'a str) -> impl Iterator<Item = &'a EnvResult> + 'a {
        self.envs.iter().filter(move |e| e.env == env)
    }

    /// Milliseconds from creation to finish.
    pub fn duration_ms(&self) -> Option<i64> {
        self.created_at
            .map(|c| (self.finished_at - c).num_milliseconds().max(0))
    }
}

/// Per environment (and target), what the release did there: rolled back wins over failed,
/// which wins over deployed; stages that never ran there leave nothing.
fn env_results(st: &ReleaseState) -> Vec<EnvResult> {
    // (env, target) -> (outcome, when, the deploy runs).
    type Place = (String, Option<String>);
    let mut out: BTreeMap<Place, (EnvOutcome, DateTime<Utc>, Option<DeployRun>)> = BTreeMap::new();
    for s in &st.stages {
        let Some(env) = &s.decl.environment else { continue };
        for t in &s.targets {
            let rollback = t.rollbacks.last().filter(|a| a.outcome.is_some());
            let outcome = match (rollback, t.attempts.last()) {
                (Some(r), _) if r.outcome == Some(Outcome::Succeeded) => {
                    Some((EnvOutcome::RolledBack, r.finished_at))
                }
                (Some(r), _) => Some((EnvOutcome::Failed, r.finished_at)),
                (None, Some(a)) => match &a.outcome {
                    Some(Outcome::Succeeded) => Some((EnvOutcome::Deployed, a.finished_at)),
                    Some(_) => Some((EnvOutcome::Failed, a.finished_at)),
                    None => None,
                },
                (None, None) => None,
            };
            let Some((outcome, at)) = outcome else { continue };
            let fallback = || st.finished.as_ref().map(|f| f.at).unwrap_or_default();
            let at = at.unwrap_or_else(fallback);
            // Its deploy run there, whatever became of it later.
            let deploy = t
                .attempts
                .last()
                .filter(|a| a.outcome.is_some())
                .map(|a| DeployRun {
                    at: a.finished_at.unwrap_or_else(fallback),
                    ok: a.outcome == Some(Outcome::Succeeded),
                });
            let rank = |o: EnvOutcome| match o {
                EnvOutcome::Deployed => 0,
                EnvOutcome::Failed => 1,
                EnvOutcome::RolledBack => 2,
            };
            out.entry((env.clone(), t.target.clone()))
                .and_modify(|(o, when, d)| {
                    if rank(outcome) > rank(*o) {
                        *o = outcome;
                    }
                    *when = (*when).max(at);
                    *d = match (*d, deploy) {
                        (Some(a), Some(b)) => Some(DeployRun {
                            at: a.at.max(b.at),
                            ok: a.ok && b.ok,
                        }),
                        (a, b) => a.or(b),
                    };
                })
                .or_insert((outcome, at, deploy));
        }
    }
    out.into_iter()
        .map(|((env, target), (outcome, at, deploy))| EnvResult {
            env,
            target,
            outcome,
            at,
            deploy,
        })
        .collect()
}

/// Stage id -> milliseconds from start to success, for each stage of `st` that succeeded.
pub fn stage_ms(st: &ReleaseState) -> BTreeMap<String, u64> {
    st.stages
        .iter()
        .filter(|s| s.status == super::state::StageStatus::Succeeded)
        .filter_map(|s| {
            let ms = (s.finished_at? - s.started_at?).num_milliseconds();
            Some((s.decl.id.clone(), u64::try_from(ms).ok()?))
        })
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Header {
    flightdeck_index: u32,
    plan: String,
    /// [`REVISION`]; absent (0) in indexes written before it.
    #[serde(default)]
    revision: u32,
}

/// A plan's history: its open releases and its finished-release index.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
    plan: String,
    dir: PathBuf,
}

/// A release that may still change, folded from its journal.
#[derive(Debug, Clone)]
pub struct OpenRelease {
    pub rdir: ReleaseDir,
    pub state: ReleaseState,
}

impl History {
    /// The history of `plan`. The index is rebuilt from the journals first when it is missing
    /// (a data dir from before it existed) or of another format.
    pub fn open(store: &Store, plan: &str) -> Result<History, JournalError> {
        let dir = store.plan_dir(plan)?;
        let h = History {
            store: store.clone(),
            plan: plan.to_string(),
            dir,
        };
        if h.dir.is_dir() && !h.current() {
            h.rebuild()?;
        }
        Ok(h)
    }

    pub fn plan(&self) -> &str {
        &self.plan
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX)
    }

    /// The index exists, is of this binary's format and carries the fields of its revision.
    fn current(&self) -> bool {
        let Ok(f) = File::open(self.index_path()) else {
            return false;
        };
        let mut head = Vec::new();
        if f.take(4096).read_to_end(&mut head).is_err() {
            return false;
        }
        let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
        serde_json::from_slice::<Header>(first)
            .is_ok_and(|h| h.flightdeck_index == FORMAT && h.revision >= REVISION)
    }

    fn lock(&self) -> Result<File, JournalError> {
        let path = self.dir.join(LOCK);
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        f.lock().map_err(io_error(&path))?;
        Ok(f)
    }

    /// Rebuild the index from every journal of the plan: finished releases are indexed (oldest
    /// finish first), the others marked open. Returns how many were indexed.
    ///
    /// Only the index lock is held (never a journal's: closing takes the journal's lock, then
    /// the index's, so taking them the other way round could deadlock). Nothing is unmarked
    /// here: a marker left on a finished release costs a reader one fold, which closes it.
    pub fn rebuild(&self) -> Result<usize, JournalError> {
        let _lock = self.lock()?;
        if self.current() {
            // Someone else rebuilt it while we waited for the lock.
            return Ok(0);
        }
        let mut summaries = Vec::new();
        for rdir in self.store.releases(Some(&self.plan))? {
            let path = rdir.journal();
            let st = match crate::journal::read_journal(&path) {
                Ok((recs, warnings)) if warnings.iter().all(|w| w.broken().is_none()) => {
                    ReleaseState::from_records(&recs)
                }
                // A journal that does not chain stays open: its readers say why.
                _ => ReleaseState::default(),
            };
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            match Summary::of(&st, len) {
                Some(s) => summaries.push(s),
                None => rdir.mark_open()?,
            }
        }
        summaries.sort_by(|a, b| a.finished_at.cmp(&b.finished_at).then_with(|| a.id.cmp(&b.id)));
        let mut text = serde_json::to_string(&Header {
            flightdeck_index: FORMAT,
            plan: self.plan.clone(),
            revision: REVISION,
        })
        .expect("a header serializes");
        text.push('\n');
        for s in &summaries {
            text.push_str(&serde_json::to_string(s).expect("a summary serializes"));
            text.push('\n');
        }
        let tmp = self.dir.join(format!(".{INDEX}.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_data()
        };
        write().map_err(io_error(&tmp))?;
        let dest = self.index_path();
        std::fs::rename(&tmp, &dest).map_err(io_error(&dest))?;
        Ok(summaries.len())
    }

    /// Append one summary line (under the index lock).
    fn append(&self, s: &Summary) -> Result<(), JournalError> {
        let _lock = self.lock()?;
        if !self.current() {
            drop(_lock);
            // Rebuilt from the journals, which include this release.
            return self.rebuild().map(drop);
        }
        // (The rebuild above runs without this lock: it takes it itself.)
        let path = self.index_path();
        let mut line = serde_json::to_string(s).expect("a summary serializes");
        line.push('\n');
        let mut f = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        f.write_all(line.as_bytes()).map_err(io_error(&path))
    }

    /// The releases that may still change, folded (a journal that does not chain is folded up to
    /// the break, with `attention` set). Marked releases found finished are closed on the way and
    /// left out.
    pub fn open_releases(&self) -> Result<Vec<OpenRelease>, JournalError> {
        let mut out = Vec::new();
        for rdir in self.store.open_releases(&self.plan)? {
            let (state, _) = match ReleaseState::load(&rdir.journal()) {
                Ok(x) => x,
                Err(_) => continue,
            };
            if state.finished.is_some() && state.attention.is_none() && self.close_found(&rdir)? {
                continue;
            }
            out.push(OpenRelease { rdir, state });
        }
        Ok(out)
    }

    /// Close a marked release a reader found finished: under the journal's lock, fold all of it
    /// again; index and unmark it only if it is still finished. Whether it was closed.
    fn close_found(&self, rdir: &ReleaseDir) -> Result<bool, JournalError> {
        let mut j = Journal::open(&rdir.journal(), Arc::new(Masker::new(Vec::new())))?;
        let (txn, seen) = j.begin()?;
        let st = ReleaseState::from_records(&seen);
        let Some(s) = Summary::of(&st, txn.journal_len()) else {
            return Ok(false);
        };
        self.append(&s)?;
        rdir.unmark_open()?;
        drop(txn);
        Ok(true)
    }

    /// Finished releases, newest finish first, each once (its latest summary), checked against
    /// its journal's length; releases marked open are left out.
    pub fn finished(&self) -> Finished<'_> {
        Finished {
            history: self,
            lines: File::open(self.index_path()).ok().map(RevLines::new),
            seen: HashSet::new(),
            open: self
                .store
                .open_releases(&self.plan)
                .map(|v| v.into_iter().map(|r| r.id).collect())
                .unwrap_or_default(),
        }
    }

    /// `s` with the fields an older binary's index line lacks ([`Summary::shipped`], each
    /// environment's [`EnvResult::deploy`]): its journal folded again, read only (the index is
    /// left as it is). A summary that has them, or whose journal cannot be read, comes back as
    /// it is.
    pub fn complete(&self, s: Summary) -> Summary {
        if s.shipped.is_some() {
            return s;
        }
        let Ok(rdir) = self.store.release(&self.plan, &s.id) else {
            return s;
        };
        match crate::journal::read_journal(&rdir.journal()) {
            Ok((recs, warnings)) if warnings.iter().all(|w| w.broken().is_none()) => {
                let st = ReleaseState::from_records(&recs);
                Summary::of(&st, s.journal_len).unwrap_or(s)
            }
            _ => s,
        }
    }

    /// A summary whose journal changed since: fold it again. `None` when its folder is gone or it
    /// is not finished any more (then it is marked open, so readers fold it).
    fn refresh(&self, s: Summary) -> Option<Summary> {
        let rdir = self.store.release(&self.plan, &s.id).ok()?;
        let len = std::fs::metadata(rdir.journal()).ok()?.len();
        if len == s.journal_len {
            return Some(s);
        }
        let mut j = Journal::open(&rdir.journal(), Arc::new(Masker::new(Vec::new()))).ok()?;
        let (txn, seen) = j.begin().ok()?;
        let st = ReleaseState::from_records(&seen);
        match Summary::of(&st, txn.journal_len()) {
            Some(fresh) => {
                let _ = self.append(&fresh);
                Some(fresh)
            }
            None => {
                let _ = rdir.mark_open();
                None
            }
        }
    }
}

/// Iterator over a plan's finished releases, newest finish first (see [`History::finished`]).
pub struct Finished<'a> {
    history: &'a History,
    lines: Option<RevLines>,
    seen: HashSet<String>,
    open: HashSet<String>,
}

impl Iterator for Finished<'_> {
    type Item = Summary;
    fn next(&mut self) -> Option<Summary> {
        loop {
            let line = self.lines.as_mut()?.next()?;
            let Ok(s) = serde_json::from_slice::<Summary>(&line) else {
                continue; // the header, or a line this binary cannot read
            };
            if self.open.contains(&s.id) || !self.seen.insert(s.id.clone()) {
                continue;
            }
            if let Some(s) = self.history.refresh(s) {
                return Some(s);
            }
        }
    }
}

/// Index a finished release and remove its open marker. The caller holds the journal's append
/// lock and made `summary` from everything the journal holds.
pub fn close_locked(store: &Store, rdir: &ReleaseDir, summary: &Summary) -> Result<(), JournalError> {
    History::open(store, &rdir.plan)?.append(summary)?;
    rdir.unmark_open()
}

/// The lines of a file from its end, read in blocks (a torn last line without its newline is
/// returned too; callers skip what does not parse).
struct RevLines {
    file: File,
    /// Bytes of the file not yet read (everything before `pos`).
    pos: u64,
    /// Read but not yet returned, a partial line first.
    buf: Vec<u8>,
}

impl RevLines {
    const BLOCK: u64 = 64 * 1024;

    fn new(file: File) -> RevLines {
        let pos = file.metadata().map(|m| m.len()).unwrap_or(0);
        RevLines {
            file,
            pos,
            buf: Vec::new(),
        }
    }
}

impl Iterator for RevLines {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            // A whole line is in the buffer once a newline precedes its last line.
            while self.buf.last() == Some(&b'\n') {
                self.buf.pop();
            }
            if let Some(i) = memchr::memrchr(b'\n', &self.buf) {
                let line = self.buf.split_off(i + 1);
                self.buf.truncate(i);
                if line.is_empty() {
                    continue;
                }
                return Some(line);
            }
            if self.pos == 0 {
                return (!self.buf.is_empty()).then(|| std::mem::take(&mut self.buf));
            }
            let n = Self::BLOCK.min(self.pos);
            self.pos -= n;
            let mut block = vec![0u8; n as usize];
            if self.file.seek(SeekFrom::Start(self.pos)).is_err() || self.file.read_exact(&mut block).is_err()
            {
                return None;
            }
            block.extend_from_slice(&self.buf);
            self.buf = block;
        }
    }
}

/// The index file of `plan_dir`, for tools and tests.
pub fn index_path(plan_dir: &Path) -> PathBuf {
    plan_dir.join(INDEX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_newest_first_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let lines: Vec<String> = (0..20_000)
            .map(|i| format!("line {i} {}", "x".repeat(i % 50)))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let got: Vec<String> = RevLines::new(File::open(&path).unwrap())
            .map(|l| String::from_utf8(l).unwrap())
            .collect();
        let want: Vec<String> = lines.iter().rev().cloned().collect();
        assert_eq!(got, want);
        // Without a final newline, and empty.
        std::fs::write(&path, "a\nb").unwrap();
        let got: Vec<Vec<u8>> = RevLines::new(File::open(&path).unwrap()).collect();
        assert_eq!(got, [b"b".to_vec(), b"a".to_vec()]);
        std::fs::write(&path, "").unwrap();
        assert_eq!(RevLines::new(File::open(&path).unwrap()).count(), 0);
    }
}
