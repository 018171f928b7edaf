//! The driver: the one process that runs a release. It folds the journal, asks the scheduler what
//! to do, journals each decision before acting on it, runs the jobs and answers requests that
//! other processes append.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::runner::{self, Job, JobMsg, JobSpec, Stopper};
use super::scheduler::{Decision, decide, handle_request};
use super::state::ReleaseState;
use crate::event::{CommitRef, Event, FinalState, GateDecl, Outcome, RunKey, RunKind, StageDecl};
use crate::journal::{Journal, JournalError, RecursiveMode, ReleaseDir, Store, Txn, Waker};
use crate::plan::{Plan, ReleaseType};
use crate::procgroup;
use crate::runlog::Masker;

/// Actor name for the driver's own events.
pub const DRIVER: &str = "driver";

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("release {id} is driven by another process (pid {pid})")]
    Locked { id: String, pid: String },
    /// On a shared store: another machine's driver holds the release's lease.
    #[error("release {id} is {why}")]
    Leased { id: String, why: String },
    #[error("{0}")]
    Plan(String),
    /// The release folder was removed under the driver: nothing can be recorded any more.
    #[error("the release folder {} was removed: ended its jobs and stopped driving it", .0.display())]
    Gone(PathBuf),
}

/// How a driver's work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveEnd {
    Finished(FinalState),
    /// Stopped at a gate (`--no-wait`).
    Paused,
}

impl DriveEnd {
    /// The process exit code for `run`/`resume`.
    pub fn exit_code(self) -> u8 {
        match self {
            DriveEnd::Finished(state) => state.exit_code(),
            DriveEnd::Paused => crate::event::exit::PAUSED,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Stop (exit 3) instead of waiting at an unsatisfied gate.
    pub no_wait: bool,
    /// Grace between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// The person who started this driver (for a Ctrl-C cancel).
    pub actor: String,
}

/// The events that open a release: its declaration, from the plan.
pub fn release_created(plan: &Plan, id: &str, version: &str, rtype: ReleaseType) -> Event {
    release_created_only(plan, id, version, rtype, &[])
}

/// The declaration of a release of only the stages `only` (every stage when empty; names the
/// plan has, checked by the caller): just those stages are declared, each needing the chosen
/// stages it depends on (directly or through stages left out), so they run in the plan's order
/// and every other need counts as met.
pub fn release_created_only(
    plan: &Plan,
    id: &str,
    version: &str,
    rtype: ReleaseType,
    only: &[String],
) -> Event {
    let chosen = |id: &str| only.is_empty() || only.iter().any(|o| o == id);
    let stages = plan
        .stages
        .iter()
        .filter(|s| chosen(&s.id))
        .map(|s| StageDecl {
            id: s.id.clone(),
            needs: if only.is_empty() {
                s.needs.clone()
            } else {
                chosen_needs(plan, s, only)
            },
            environment: s.environment.clone(),
            targets: plan.targets_of(s).into_iter().flatten().collect(),
            gates: plan.gates_for(s, rtype).map(|g| g.name.clone()).collect(),
            has_rollback: !s.rollback.is_empty(),
            retries: s.retries,
        })
        .collect();
    let gates = plan
        .gates
        .values()
        .map(|g| GateDecl {
            name: g.name.clone(),
            approvals: g.approvals,
            approvers: g.approvers.clone(),
            eligible: g.eligible.clone(),
            allow_self_approval: g.allow_self_approval,
            expires_secs: g.expires.map(|d| d.as_secs()),
            signers: g.signers.as_ref().map(|(_, text)| text.clone()),
            checklist: g
                .checklist
                .iter()
                .map(|c| (c.item.clone(), c.is_automatic()))
                .collect(),
        })
        .collect();
    Event::ReleaseCreated {
        id: id.to_string(),
        version: version.to_string(),
        rtype,
        plan: plan.name.clone(),
        plan_path: plan.path.display().to_string(),
        stages,
        gates,
        only: plan
            .stages
            .iter()
            .filter(|s| !only.is_empty() && chosen(&s.id))
            .map(|s| s.id.clone())
            .collect(),
    }
}

/// The stages of `only` that `stage` depends on: its needs that are chosen, and through each
/// need left out, that stage's chosen needs in turn.
fn chosen_needs(plan: &Plan, stage: &crate::plan::Stage, only: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut todo: Vec<&str> = stage.needs.iter().map(String::as_str).collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n) {
            continue;
        }
        if only.iter().any(|o| o == n) {
            out.push(n.to_string());
        } else if let Some(s) = plan.stage(n) {
            todo.extend(s.needs.iter().map(String::as_str));
        }
    }
    // In the plan's order, as declared needs are.
    out.sort_by_key(|n| plan.stages.iter().position(|s| &s.id == n));
    out
}

/// Most commits a release lists in its journal (a first release of a long history would list
/// them all); the rest are counted.
const MAX_COMMITS: usize = 10_000;

/// The `release_commits` event for the notes of a release (`notes_file` relative to its folder).
pub fn release_commits(notes: &crate::git::Notes, notes_file: &str) -> Event {
    let mut commits: Vec<CommitRef> = notes
        .entries()
        .map(|e| CommitRef {
            sha: e.commit.to_string(),
            time: e.time,
        })
        .collect();
    commits.sort_by_key(|c| std::cmp::Reverse(c.time));
    let omitted = commits.len().saturating_sub(MAX_COMMITS);
    commits.truncate(MAX_COMMITS);
    Event::ReleaseCommits {
        base: notes.base.as_ref().map(|b| b.commit.to_string()),
        base_tag: notes.base.as_ref().and_then(|b| b.tag.clone()),
        head: notes.head.commit.to_string(),
        commits,
        omitted,
        notes: notes_file.to_string(),
    }
}

/// The secret values of a plan, from this process's environment.
pub fn masker_for(plan: &Plan) -> Masker {
    // Webhook URLs may hold a token: masked like any secret.
    let hooks = plan.notify.iter().filter_map(|n| match &n.sink {
        crate::plan::NotifySink::Webhook(url) => Some(url.clone()),
        crate::plan::NotifySink::Run(_) => None,
    });
    Masker::new(
        plan.secrets
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .chain(hooks),
    )
}

pub struct Driver {
    journal: Journal,
    core: Core,
    jobs: HashMap<Job, Stopper>,
    /// Job reports not yet journaled.
    inbox: Vec<JobMsg>,
    terminating: bool,
    /// The release is about to finish with this state: its end is recorded first (tag, end
    /// snapshot), then the scheduler's finishing events are journaled.
    finishing: Option<FinalState>,
    /// The journal file's (device, inode) when the driver took over: the folder is gone when the
    /// path no longer names that file.
    journal_id: Option<(u64, u64)>,
    tx: mpsc::UnboundedSender<JobMsg>,
    rx: mpsc::UnboundedReceiver<JobMsg>,
    /// Released (under the journal's lock) just before the driver exits.
    lock: Option<crate::journal::DriverLock>,
    /// On a shared store, the release's lease as its renewals find it.
    lease: Option<tokio::sync::watch::Receiver<crate::journal::replica::LeaseState>>,
}

/// What the driver knows, apart from the journal handle (so a transaction can borrow the journal
/// while the rest is read and folded).
struct Core {
    plan: Plan,
    rdir: ReleaseDir,
    store: Store,
    state: ReleaseState,
    masker: Arc<Masker>,
    opts: DriveOptions,
    /// Other releases' environment holds, by journal, with the journal length they were folded
    /// at: a stage waiting for an environment re-checks every second, and only journals that grew
    /// are folded again.
    holds: HashMap<PathBuf, (u64, Holds)>,
    /// Liveness of the other releases' drivers, by release folder (kept open: opening a lock file
    /// every second would wake every observer of that folder).
    probes: HashMap<PathBuf, crate::journal::DriverProbe>,
    /// The release's end has been recorded (tag, end snapshot): its finishing events may be
    /// journaled now. Reset once they are.
    end_done: bool,
    /// Why nothing new starts (the shared store out of reach past the lease), while it holds.
    store_held: Option<String>,
    /// A record pushed in this cycle calls for a `[[notify]]` message: a sender is started once
    /// it is committed.
    notify_due: bool,
}

/// What another release holds: its id and environments (none once it has finished), and the
/// environments its stages wait for, since when (none once it has finished or is cancelling).
#[derive(Clone)]
struct Holds {
    id: String,
    envs: std::collections::BTreeSet<String>,
    waiting: Vec<(String, chrono::DateTime<chrono::Utc>)>,
}

/// Who else wants an environment: the release holding it, and the live releases waiting for it
/// (since when, and their ids).
struct EnvQueue {
    holder: Option<String>,
    waiting: Vec<(chrono::DateTime<chrono::Utc>, String)>,
}

/// `1st`, `2nd`, `3rd`, `4th`, ... `11th`, `12th`, `13th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// One driver cycle's work, performed after its events are durable.
#[derive(Default)]
struct Effects {
    spawn: Vec<JobSpec>,
    terminate: bool,
    /// The plan's environment lock, held from the moment another release's holds are checked
    /// until our `env_acquired` is durable (so two releases cannot both take `prod`).
    env_lock: Option<std::fs::File>,
    /// The scheduler wants to finish the release with this state, and its end is not recorded
    /// yet: nothing was journaled of the finishing decisions.
    finishing: Option<FinalState>,
}

impl Driver {
    /// Take the driver lock of `rdir` (or fail with [`DriveError::Locked`]), fold its journal and
    /// end whatever a previous driver left running.
    pub fn take_over(
        plan: Plan,
        rdir: ReleaseDir,
        store: Store,
        opts: DriveOptions,
    ) -> Result<Driver, DriveError> {
        // A secret too short to mask would hide ordinary text in every log and journal field.
        plan.check_secrets_in_env()
            .map_err(|e| DriveError::Plan(e.to_string()))?;
        let mut lock = match rdir.lock_driver()? {
            Ok(l) => l,
            Err(pid) => {
                return Err(DriveError::Locked {
                    id: rdir.id.clone(),
                    pid: pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()),
                });
            }
        };
        // On a shared store, the release's lease too: its epoch fences every append of ours.
        let mut lease = None;
        if let Some((replica, key)) = crate::journal::replica::for_path(&rdir.journal()) {
            let (tell, told) = tokio::sync::watch::channel(crate::journal::replica::LeaseState::Held);
            lease = Some(told);
            if let Err(why) = replica.take_lease(
                &key,
                Box::new(move |s| {
                    let _ = tell.send(s);
                }),
            )? {
                return Err(DriveError::Leased {
                    id: rdir.id.clone(),
                    why,
                });
            }
            lock.hold_lease(crate::journal::replica::LeaseGuard::new(replica, key));
        }
        // The plan's index (rebuilt if this data dir predates it), so every unfinished release
        // is marked open: those are the ones that can hold an environment.
        super::history::History::open(&store, &rdir.plan)?;
        let masker = Arc::new(masker_for(&plan));
        let journal = rdir.journal_writer(masker.clone())?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut d = Driver {
            journal,
            core: Core {
                plan,
                rdir,
                store,
                state: ReleaseState::default(),
                masker,
                opts,
                holds: HashMap::new(),
                probes: HashMap::new(),
                end_done: false,
                store_held: None,
                notify_due: false,
            },
            jobs: HashMap::new(),
            inbox: Vec::new(),
            terminating: false,
            finishing: None,
            journal_id: None,
            tx,
            rx,
            lock: Some(lock),
            lease,
        };
        d.journal_id = file_id(&d.core.rdir.journal());
        d.recover()?;
        Ok(d)
    }

    /// A previous driver died: end what it left running and journal those runs as interrupted.
    fn recover(&mut self) -> Result<(), DriveError> {
        let (mut txn, seen) = self.journal.begin()?;
        let core = &mut self.core;
        for r in &seen {
            core.state.apply(r);
        }
        let grace = core.opts.grace;
        let stale: Vec<(RunKey, RunKind, Vec<_>)> = core
            .state
            .running_runs()
            .into_iter()
            .map(|(k, kind, a)| (k, kind, a.pgids.clone()))
            .collect();
        let mut events = Vec::new();
        let mut ended = Vec::new();
        // Process groups are this machine's: those of a driver that ran on another (a shared
        // store's takeover) are not ours to end, and their numbers may be anyone's here.
        let here = hostname();
        let elsewhere = core
            .state
            .driver_host
            .clone()
            .filter(|h| !h.is_empty() && *h != here);
        // A journaled group is ended only while it is still the one spawned: its number may
        // have been handed to another program since (see `procgroup::still_ours`).
        let mut reused = Vec::new();
        if elsewhere.is_none() {
            let marked = procgroup::marked_groups(&core.rdir.path);
            for (pgid, spawned) in stale.iter().flat_map(|(_, _, g)| g.iter()) {
                if !procgroup::group_alive(*pgid) || ended.contains(pgid) || reused.contains(pgid) {
                    continue;
                }
                if procgroup::still_ours(*pgid, (*spawned).into(), &marked) {
                    procgroup::terminate_group_blocking(*pgid, grace);
                    ended.push(*pgid);
                } else {
                    reused.push(*pgid);
                }
            }
        }
        if !ended.is_empty() {
            events.push(Event::Note {
                message: format!("ended process group(s) {ended:?} that the previous driver had running"),
            });
        }
        if !reused.is_empty() {
            events.push(Event::Note {
                message: format!(
                    "process group(s) {reused:?} of the previous driver's runs were left alone: they ended, and their numbers now belong to other programs"
                ),
            });
        }
        let left: Vec<i32> = stale
            .iter()
            .flat_map(|(_, _, g)| g.iter().map(|(p, _)| *p))
            .collect();
        if let Some(host) = &elsewhere
            && !left.is_empty()
        {
            events.push(Event::Note {
                message: format!(
                    "the previous driver ran on {host}: its process group(s) {left:?} there were not ended from {here}; their runs count as interrupted"
                ),
            });
        }
        let strays = procgroup::marked_groups(&core.rdir.path);
        for pgid in &strays {
            procgroup::terminate_group_blocking(*pgid, grace);
        }
        if !strays.is_empty() {
            events.push(Event::Note {
                message: format!(
                    "ended {} process group(s) left by the previous driver: {strays:?}",
                    strays.len()
                ),
            });
        }
        for (run, run_kind, _) in stale {
            events.push(Event::RunFinished {
                run,
                run_kind,
                outcome: Outcome::Interrupted,
                duration_ms: 0,
            });
        }
        for g in &core.state.gates {
            for (item, c) in g.checks.iter().enumerate() {
                if c.as_ref().is_some_and(|c| c.outcome.is_none()) {
                    events.push(Event::CheckFinished {
                        gate: g.decl.name.clone(),
                        item,
                        outcome: Outcome::Interrupted,
                    });
                }
            }
        }
        events.push(Event::DriverStarted {
            pid: std::process::id(),
            host: hostname(),
        });
        for e in events {
            core.push(&mut txn, e);
        }
        txn.commit(true)?;
        // Messages a driver before this one left undelivered (it, or its sender, died).
        if !core.plan.notify.is_empty()
            && let Ok((records, _)) = crate::journal::read_journal(&core.rdir.journal())
            && super::notify::pending(&core.plan, &records)
        {
            core.notify_due = true;
        }
        core.start_sender_if_due();
        Ok(())
    }

    /// Drive until the release finishes (or pauses at a gate with `no_wait`). `interrupt` resolves
    /// on Ctrl-C: the release is then cancelled gracefully.
    ///
    /// Nothing of the release is journaled after its `release_finished`: its end (the tag, the
    /// end drift snapshot) is recorded before. Before exiting, the driver answers every request
    /// appended so far. A driver whose release folder was removed ends its jobs and returns
    /// [`DriveError::Gone`].
    /// A journal line that does not chain, found at any point, stops it: nothing more is
    /// scheduled or journaled, its running jobs are ended (TERM, grace, KILL of their groups),
    /// and the error (naming the line) is returned.
    pub async fn run(
        mut self,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> Result<DriveEnd, DriveError> {
        match self.drive(interrupt).await {
            Ok(end) => Ok(end),
            // Whatever ends the driver early ends its jobs too: no process outlives it.
            Err(e) => {
                let gone = self.release_gone();
                if gone {
                    eprintln!(
                        "flightdeck: the release folder {} was removed: ending {} job(s) and exiting",
                        self.core.rdir.path.display(),
                        self.jobs.len()
                    );
                } else if !self.jobs.is_empty() {
                    eprintln!("flightdeck: {e}: ending {} job(s) and exiting", self.jobs.len());
                }
                self.end_jobs().await;
                Err(if gone {
                    DriveError::Gone(self.core.rdir.path.clone())
                } else {
                    e
                })
            }
        }
    }

    async fn drive(
        &mut self,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> Result<DriveEnd, DriveError> {
        // Requests from other processes arrive through the journal: watch that file (run logs
        // change constantly and are none of the driver's business), and the plan's folder, not
        // recursively, for the release folder being removed or moved away.
        let journal = self.core.rdir.journal();
        let mut paths = vec![(journal.as_path(), RecursiveMode::NonRecursive)];
        if let Some(plan_dir) = self.core.rdir.path.parent() {
            paths.push((plan_dir, RecursiveMode::NonRecursive));
        }
        // A train's member also wakes when the train's journal or another member's changes
        // (what its stages wait for).
        let train_paths = match &self.core.state.train {
            Some(link) => {
                let mut needed: Vec<&str> = (self.core.plan.stages.iter())
                    .flat_map(|s| s.after.iter().map(|n| n.plan.as_str()))
                    .collect();
                needed.sort_unstable();
                needed.dedup();
                crate::engine::train::watch_paths(&self.core.store, link, &needed)
            }
            None => Vec::new(),
        };
        paths.extend(
            train_paths
                .iter()
                .map(|p| (p.as_path(), RecursiveMode::NonRecursive)),
        );
        let mut waker = Waker::watch(&paths, Duration::from_millis(500));
        tokio::pin!(interrupt);
        let mut interrupted = false;
        if self.core.state.finished.is_none() {
            self.drift_snapshot(
                crate::drift::snapshot::START_SNAPSHOT,
                "start",
                &mut waker,
                interrupt.as_mut(),
                &mut interrupted,
            )
            .await?;
        }
        let mut dirty = true;
        loop {
            if self.release_gone() {
                return Err(DriveError::Gone(self.core.rdir.path.clone()));
            }
            if dirty {
                self.cycle()?;
            }
            if let Some(state) = self.finishing
                && self.jobs.is_empty()
            {
                // The release ends: record its end first, then let the scheduler finish it.
                self.finishing = None;
                if state == FinalState::Succeeded {
                    self.tag_release()?;
                }
                if state != FinalState::Cancelled {
                    self.drift_snapshot(
                        crate::drift::snapshot::END_SNAPSHOT,
                        "end",
                        &mut waker,
                        interrupt.as_mut(),
                        &mut interrupted,
                    )
                    .await?;
                }
                self.core.end_done = true;
                dirty = true;
                continue;
            }
            if let Some(f) = &self.core.state.finished
                && self.jobs.is_empty()
            {
                let state = f.state;
                // Answer what was asked before going. Under the journal's lock: whoever appends
                // after this finds no live driver and starts one.
                let (txn, seen) = self.journal.begin()?;
                if seen.is_empty() {
                    // Into the plan's finished-release index, still under the lock. A failure
                    // only leaves the release marked open: the next reader closes it.
                    if let Some(s) = super::history::Summary::of(&self.core.state, txn.journal_len())
                        && let Err(e) = super::history::close_locked(&self.core.store, &self.core.rdir, &s)
                    {
                        eprintln!("flightdeck driver: could not index the finished release: {e}");
                    }
                    self.lock.take();
                    drop(txn);
                    return Ok(DriveEnd::Finished(state));
                }
                for r in &seen {
                    self.core.state.apply(r);
                }
                drop(txn);
                dirty = true;
                continue;
            }
            if self.core.opts.no_wait && self.jobs.is_empty() && self.core.state.state_word(true) == "paused"
            {
                // As at the end: answer what was asked before stopping.
                let (mut txn, seen) = self.journal.begin()?;
                if seen.is_empty() {
                    let pid = std::process::id();
                    let reason = "paused at a gate (--no-wait)".to_string();
                    txn.push(DRIVER, Event::DriverStopped { pid, reason });
                    self.lock.take();
                    txn.commit(true)?;
                    return Ok(DriveEnd::Paused);
                }
                for r in &seen {
                    self.core.state.apply(r);
                }
                drop(txn);
                dirty = true;
                continue;
            }
            let waiting_env = self.core.state.stages.iter().any(|s| s.waiting.is_some());
            let now = chrono::Utc::now();
            // Scheduled: the wait lasts until the time comes (other wake-ups, the journal's news
            // and the waker's check of the folder, make no scheduling pass before it); then a
            // cycle starts it.
            let scheduled = self.core.state.waiting_for_schedule(now);
            let until_start = self
                .core
                .state
                .scheduled_at
                .filter(|_| scheduled)
                .and_then(|at| (at - now).to_std().ok());
            let wait = if waiting_env {
                Duration::from_secs(1)
            } else if let Some(d) = until_start {
                d.min(Duration::from_secs(3600))
            } else {
                Duration::from_secs(3600)
            };
            let due = scheduled;
            dirty = tokio::select! {
                biased;
                _ = &mut interrupt, if !interrupted => {
                    interrupted = true;
                    let actor = self.core.opts.actor.clone();
                    // The next cycle catches up only on what other processes append later: fold
                    // our own request now, or it is never handled.
                    let cancel = vec![Event::CancelRequested {}];
                    append_folding(&mut self.journal, &mut self.core.state, &actor, cancel)?;
                    true
                }
                // Another driver may own the release now: this one must not act any more (the
                // store refuses its appends anyway). Its jobs are ended as it goes.
                                changed = async {
                    match self.lease.as_mut() {
                        Some(rx) => rx.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    use crate::journal::replica::LeaseState;
                    let state = match (changed, self.lease.as_ref()) {
                        (Ok(()), Some(rx)) => *rx.borrow(),
                        _ => {
                            self.lease = None;
                            LeaseState::Held
                        }
                    };
                    match state {
                        LeaseState::Lost => {
                            return Err(DriveError::Leased {
                                id: self.core.rdir.id.clone(),
                                why: "no longer driven by this process: its lease on the shared store was lost (another driver took it over)".into(),
                            });
                        }
                        // Out of reach past the lease's expiry: another driver may take over, so
                        // nothing new starts (what runs goes on) until the lease is renewed.
                        LeaseState::Lapsed => {
                            self.core.store_held = Some(
                                "the shared store has been out of reach for longer than the driver's lease: nothing new starts until it is back".into(),
                            );
                        }
                        LeaseState::Held => self.core.store_held = None,
                    }
                    true
                }
                msg = self.rx.recv() => {
                    self.inbox.push(msg.expect("the driver holds a sender"));
                    while let Ok(m) = self.rx.try_recv() {
                        self.inbox.push(m);
                    }
                    true
                }
                // Our own appends wake the watcher too: only another process's append (or the
                // periodic re-check of a held environment) needs a cycle. A change in the plan's
                // folder brings the loop back to check that the release folder still exists.
                _ = waker.wait_at_most(wait) => {
                    waiting_env || self.journal.has_news()
                        || (due && !self.core.state.waiting_for_schedule(chrono::Utc::now()))
                }
            };
        }
    }

    /// Whether the release folder (its journal) was removed or replaced under the driver.
    fn release_gone(&self) -> bool {
        match std::fs::metadata(self.core.rdir.journal()) {
            Ok(m) => {
                use std::os::unix::fs::MetadataExt;
                self.journal_id.is_some_and(|id| id != (m.dev(), m.ino()))
            }
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    }

    /// End every job (runs of any kind, checks) like a cancel, and wait for them (up to the
    /// grace period and some): the driver is going away without journaling.
    async fn end_jobs(&mut self) {
        for stopper in self.jobs.values() {
            stopper.stop(Outcome::Cancelled);
        }
        let patience = self.core.opts.grace + Duration::from_secs(10);
        while !self.jobs.is_empty() {
            match tokio::time::timeout(patience, self.rx.recv()).await {
                Ok(Some(JobMsg::Finished { job, .. })) => {
                    self.jobs.remove(&job);
                }
                Ok(Some(JobMsg::Spawned { .. } | JobMsg::Note { .. })) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Save the environments' probed state into the release folder once (when the plan has
    /// probes), and journal it. A failing probe is recorded, never fatal. A cancel (requested, or
    /// Ctrl-C) or the removal of the release folder stops it: its probes are ended like stage
    /// commands, and only a note says so.
    async fn drift_snapshot<I: std::future::Future<Output = ()>>(
        &mut self,
        file: &str,
        at: &str,
        waker: &mut Waker,
        mut interrupt: std::pin::Pin<&mut I>,
        interrupted: &mut bool,
    ) -> Result<(), DriveError> {
        let path = self.core.rdir.path.join(file);
        if path.exists() {
            return Ok(());
        }
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let opts = crate::drift::ProbeOptions {
            grace: self.core.opts.grace,
            masker: self.core.masker.clone(),
            stop: Some(stop_rx),
            ..Default::default()
        };
        let plan = self.core.plan.clone();
        let snapshot = crate::drift::snapshot_to(&plan, &path, &opts);
        tokio::pin!(snapshot);
        let mut stopped_by: Option<&str> = None;
        let result =
            loop {
                tokio::select! {
                    r = &mut snapshot => break r,
                    _ = &mut interrupt, if !*interrupted => {
                        *interrupted = true;
                        let actor = self.core.opts.actor.clone();
                        let cancel = vec![Event::CancelRequested {}];
                        append_folding(&mut self.journal, &mut self.core.state, &actor, cancel)?;
                    }
                    _ = waker.wait_at_most(Duration::from_millis(500)) => {
                        if self.journal.has_news() && !self.release_gone() {
                            let (txn, seen) = self.journal.begin()?;
                            for r in &seen {
                                self.core.state.apply(r);
                            }
                            drop(txn);
                        }
                    }
                }
                if stopped_by.is_none() {
                    if self.release_gone() {
                        stopped_by = Some("the removal of the release folder");
                    } else if self.core.state.cancelling
                        || self.core.state.pending_requests().any(|r| {
                            matches!(r.event, Event::CancelRequested {} | Event::RejectRequested { .. })
                        })
                    {
                        stopped_by = Some(if self.core.state.rejected.is_some() {
                            "a rejection"
                        } else {
                            "a cancel"
                        });
                    }
                    if stopped_by.is_some() {
                        let _ = stop.send(true);
                    }
                }
            };
        let event = match (stopped_by, result) {
            (Some(why), _) => {
                let _ = std::fs::remove_file(&path);
                if self.release_gone() {
                    return Ok(());
                }
                Event::Note {
                    message: format!("no drift snapshot at the release's {at}: stopped by {why}"),
                }
            }
            (None, Ok(None)) => return Ok(()),
            (None, Ok(Some(info))) => Event::DriftSnapshot {
                at: at.to_string(),
                file: file.to_string(),
                columns: info.columns,
                errors: info.errors.iter().map(|e| e.to_string()).collect(),
            },
            (None, Err(e)) => Event::Note {
                message: format!("no drift snapshot at the release's {at}: {e}"),
            },
        };
        append_folding(&mut self.journal, &mut self.core.state, DRIVER, vec![event])
    }

    /// `tag_on_success`: tag the version at the release's head commit (never pushed), once.
    fn tag_release(&mut self) -> Result<(), DriveError> {
        let core = &self.core;
        let (Some(commits), None) = (&core.state.commits, &core.state.tag) else {
            return Ok(());
        };
        // A redeploy ships an earlier version, which has its tag already.
        if !core.plan.git.tag_on_success || core.state.rtype == ReleaseType::Rollback {
            return Ok(());
        }
        let event = match crate::git::Repo::open(&core.plan).and_then(|repo| {
            let oid = git2::Oid::from_str(&commits.head).map_err(crate::git::GitError::from)?;
            repo.create_tag(
                &core.state.version,
                oid,
                &format!("Release {} (flightdeck)", core.state.id),
            )
        }) {
            Ok(tag) => Event::TagCreated {
                tag,
                commit: commits.head.clone(),
            },
            Err(e) => Event::Note {
                message: format!("could not tag the release: {e}"),
            },
        };
        append_folding(&mut self.journal, &mut self.core.state, DRIVER, vec![event])
    }

    /// One cycle: under one journal transaction, take in what others appended and what jobs
    /// reported, answer requests, and decide until nothing changes; commit (one fsync); then start
    /// and stop processes.
    fn cycle(&mut self) -> Result<(), DriveError> {
        let (mut txn, seen) = self.journal.begin()?;
        let core = &mut self.core;
        for r in &seen {
            core.state.apply(r);
        }
        let mut durable = false;
        let mut effects = Effects::default();
        for m in self.inbox.drain(..) {
            match m {
                JobMsg::Spawned {
                    job: Job::Run(run, run_kind),
                    pgid,
                    command,
                } => {
                    // Not fsynced on its own: a driver crash keeps it (page cache), and an OS
                    // crash takes the processes with it.
                    core.push(
                        &mut txn,
                        Event::RunSpawned {
                            run,
                            run_kind,
                            pgid,
                            command,
                        },
                    );
                }
                JobMsg::Spawned {
                    job: Job::Check { .. },
                    ..
                } => {}
                JobMsg::Note { message, .. } => {
                    durable = true;
                    core.push(&mut txn, Event::Note { message });
                }
                JobMsg::Finished {
                    job,
                    outcome,
                    duration,
                } => {
                    self.jobs.remove(&job);
                    durable = true;
                    let e = match job {
                        Job::Run(run, run_kind) => Event::RunFinished {
                            run,
                            run_kind,
                            outcome,
                            duration_ms: duration.as_millis() as u64,
                        },
                        Job::Check { gate, item } => Event::CheckFinished { gate, item, outcome },
                    };
                    core.push(&mut txn, e);
                }
            }
        }
        if self.jobs.is_empty() {
            self.terminating = false;
        }
        // With the release's end recorded, the scheduler finishes it first: requests that came
        // meanwhile are answered as to a finished release (a cancel does not undo a success).
        let finish_first = core.end_done;
        if !finish_first {
            durable |= core.handle_requests(&mut txn, &mut effects);
        }
        durable |= core.steps(&mut txn, &mut effects)?;
        if finish_first {
            durable |= core.handle_requests(&mut txn, &mut effects);
            durable |= core.steps(&mut txn, &mut effects)?;
        }
        txn.commit(durable)?;
        self.core.start_sender_if_due();
        self.finishing = effects.finishing;
        for spec in effects.spawn {
            let job = spec.job.clone();
            let stopper = runner::start(spec, self.core.masker.clone(), self.tx.clone());
            self.jobs.insert(job, stopper);
        }
        if effects.terminate && !self.terminating {
            self.terminating = true;
            for (job, stopper) in &self.jobs {
                if matches!(job, Job::Run(_, RunKind::Deploy) | Job::Check { .. }) {
                    stopper.stop(Outcome::Cancelled);
                }
            }
        }
        Ok(())
    }
}

/// Append the driver's own events outside a cycle and fold them, together with whatever other
/// processes appended before them: the append catches the journal up, so a request that arrived
/// meanwhile (a cancel during the start's drift snapshot) would otherwise never be folded, nor
/// handled.
fn append_folding(
    journal: &mut Journal,
    state: &mut ReleaseState,
    actor: &str,
    events: Vec<Event>,
) -> Result<(), DriveError> {
    let (written, seen) = journal.append_checked(actor, |_| Ok::<_, JournalError>(events))?;
    for r in seen.iter().chain(&written) {
        state.apply(r);
    }
    Ok(())
}

impl Core {
    fn push(&mut self, txn: &mut Txn<'_>, e: Event) {
        if matches!(e, Event::ReleaseFinished { .. }) {
            self.end_done = false;
        }
        let rec = txn.push(DRIVER, e);
        self.state.apply(&rec);
        if !self.plan.notify.is_empty() && !super::notify::messages(&self.plan, &self.state, &rec).is_empty()
        {
            self.notify_due = true;
        }
    }

    /// Start the release's notification sender if a committed record called for a message (it
    /// delivers in a process of its own: an endpoint never slows the driver).
    fn start_sender_if_due(&mut self) {
        if std::mem::take(&mut self.notify_due)
            && let Err(e) = super::notify::spawn_sender(&self.rdir)
        {
            eprintln!("flightdeck: cannot start the notification sender: {e}");
        }
    }

    /// Scheduling passes until nothing changes. Returns whether anything was journaled.
    fn steps(&mut self, txn: &mut Txn<'_>, fx: &mut Effects) -> Result<bool, DriveError> {
        let mut any = false;
        for _ in 0..10_000 {
            if !self.step(txn, fx)? {
                break;
            }
            any = true;
        }
        Ok(any)
    }

    /// Answer every pending request. Returns whether anything was journaled.
    fn handle_requests(&mut self, txn: &mut Txn<'_>, fx: &mut Effects) -> bool {
        let pending: Vec<(u64, Event)> = self
            .state
            .pending_requests()
            .map(|r| (r.seq, r.event.clone()))
            .collect();
        let any = !pending.is_empty();
        for (seq, ev) in pending {
            let events = handle_request(&self.plan, &self.state, seq, &ev);
            let accepted = matches!(events.last(), Some(Event::RequestHandled { accepted: true, .. }));
            for e in events {
                self.push(txn, e);
            }
            if let (Event::RecheckRequested { gate, item }, true) = (&ev, accepted) {
                self.start_check(txn, fx, gate, *item);
            }
        }
        any
    }

    /// One scheduling pass. Returns whether anything was journaled.
    /// A stage that may not start this pass (`held`: those said so far): said once, as a
    /// `stage_waiting` with `why`, unless it already waits for that.
    fn held_back(
        &self,
        events: &mut Vec<Event>,
        held: &mut Vec<String>,
        stage: String,
        why: &str,
        frozen: bool,
    ) {
        if held.contains(&stage) {
            return;
        }
        let reason = format!("waiting: {why}");
        if self.state.stage(&stage).and_then(|s| s.waiting.as_deref()) != Some(reason.as_str()) {
            events.push(Event::StageWaiting {
                stage: stage.clone(),
                reason,
                frozen,
            });
        }
        held.push(stage);
    }

    fn step(&mut self, txn: &mut Txn<'_>, fx: &mut Effects) -> Result<bool, DriveError> {
        let decisions = decide(&self.plan, &self.state);
        if !self.end_done
            && let Some(state) = decisions.iter().find_map(|d| match d {
                Decision::Emit(Event::ReleaseFinished { state, .. }) => Some(*state),
                _ => None,
            })
        {
            // Hold the finishing decisions back until the release's end is recorded.
            fx.finishing = Some(state);
            return Ok(false);
        }
        // Scheduled for later (`run --at`): nothing starts before then; a cancel still ends it.
        if self.state.waiting_for_schedule(chrono::Utc::now()) && !self.state.cancelling {
            return Ok(false);
        }
        let mut progressed = false;
        let mut events = Vec::new();
        // Stages held back by a freeze window this pass (said once each).
        let mut frozen: Vec<String> = Vec::new();
        let now = chrono::Utc::now();
        // The plan's windows and the ad-hoc freezes of its freezes journal (read once a pass,
        // when a deploy is about to start). A journal that does not chain holds every deploy:
        // a freeze must never be lost to a broken file.
        let mut windows: Option<Result<Vec<crate::plan::freeze::Freeze>, String>> = None;
        for d in decisions {
            // The shared store out of reach past the lease: nothing new starts (another driver
            // may have taken over); each stage that would start says why.
            let held = match (&self.store_held, &d) {
                (Some(why), Decision::Start { key, .. }) => Some((why, Some(key.stage.clone()))),
                (Some(why), Decision::Acquire { stage, .. }) => Some((why, Some(stage.clone()))),
                (Some(why), Decision::RunCheck { .. }) => Some((why, None)),
                _ => None,
            };
            if let Some((why, stage)) = held {
                if let Some(stage) = stage {
                    self.held_back(&mut events, &mut frozen, stage, why, false);
                }
                continue;
            }
            // A deploy on a frozen environment does not start (nor takes the environment): the
            // stage waits, and goes on by itself once the window ends (waiting stages are looked
            // at every second). What runs already finishes; rollbacks are not held back.
            let frozen_env = match &d {
                Decision::Start {
                    key,
                    kind: RunKind::Deploy,
                } => self
                    .state
                    .stage(&key.stage)
                    .and_then(|s| s.decl.environment.clone())
                    .map(|e| (key.stage.clone(), e)),
                Decision::Acquire { stage, env } => Some((stage.clone(), env.clone())),
                _ => None,
            }
            .and_then(|(stage, env)| {
                let all = windows.get_or_insert_with(|| {
                    let dir = self.store.plan_dir(&self.rdir.plan).map_err(|e| e.to_string())?;
                    let adhoc = crate::engine::freezes::Freezes::at(&dir)
                        .load()
                        .map_err(|e| e.to_string())?;
                    let mut all = self.plan.freezes.clone();
                    all.extend(adhoc.iter().map(crate::engine::freezes::AdHoc::as_freeze));
                    Ok(all)
                });
                let all = match all {
                    Ok(all) => all,
                    Err(e) => return Some((stage, format!("{env}: deploys are held: {e}"))),
                };
                let (span, why) = crate::plan::freeze::frozen(all, &env, now)?;
                // Enough distinct people overrode this window for this release: it goes on.
                let by = self.state.overrides_of(span);
                if by.len() as u32 >= self.plan.freeze_override_approvals {
                    return None;
                }
                let need = self.plan.freeze_override_approvals;
                let have = if by.is_empty() {
                    String::new()
                } else {
                    format!("; overridden by {} ({}/{need})", by.join(", "), by.len())
                };
                Some((stage, format!("{why}{have}")))
            });
            if let Some((stage, why)) = frozen_env {
                self.held_back(&mut events, &mut frozen, stage, &why, true);
                continue;
            }
            match d {
                Decision::Emit(e) => events.push(e),
                Decision::Start { key, kind } => {
                    let log = log_name(&key, kind);
                    fx.spawn.push(self.job_spec(&key, kind, &log));
                    events.push(Event::RunStarted {
                        run: key,
                        run_kind: kind,
                        log,
                    });
                }
                Decision::RunCheck { gate, item } => {
                    progressed = true;
                    self.start_check(txn, fx, &gate, item);
                }
                Decision::Acquire { stage, env } => events.extend(self.acquire(&stage, &env, fx)?),
                Decision::AwaitTrain { stage, need } => {
                    if let Some(e) = self.await_train(&stage, &need) {
                        events.push(e);
                    }
                }
                Decision::TerminateAll => fx.terminate = true,
            }
        }
        progressed |= !events.is_empty();
        for e in events {
            self.push(txn, e);
        }
        Ok(progressed)
    }

    fn start_check(&mut self, txn: &mut Txn<'_>, fx: &mut Effects, gate: &str, item: usize) {
        let log = format!(
            "logs/check.{}.{}.{}.log",
            file_safe(gate),
            item + 1,
            self.state.last_seq + 1
        );
        fx.spawn.push(self.check_spec(gate, item, &log));
        self.push(
            txn,
            Event::CheckStarted {
                gate: gate.to_string(),
                item,
                log,
            },
        );
    }

    /// A wait of the train's (another plan's stage, a train gate): over (met or never), or the
    /// stage waits, saying for what (journaled only when that changes).
    fn await_train(&self, stage: &str, need: &str) -> Option<Event> {
        use crate::engine::train::{Wait, wait_status};
        let link = self.state.train.as_ref()?;
        match wait_status(&self.store, link, need) {
            Wait::Met(_) => Some(Event::TrainWaitOver {
                stage: stage.into(),
                need: need.into(),
                ok: true,
                reason: String::new(),
            }),
            Wait::Never(reason) => Some(Event::TrainWaitOver {
                stage: stage.into(),
                need: need.into(),
                ok: false,
                reason,
            }),
            Wait::Waiting(why) => {
                let reason = format!("waiting for {why}");
                (self.state.stage(stage).and_then(|s| s.waiting.as_deref()) != Some(reason.as_str())).then(
                    || Event::StageWaiting {
                        stage: stage.into(),
                        reason,
                        frozen: false,
                    },
                )
            }
        }
    }

    /// Hold `env` for this release unless another unfinished release holds it.
    fn acquire(&mut self, stage: &str, env: &str, fx: &mut Effects) -> Result<Vec<Event>, DriveError> {
        if fx.env_lock.is_none() {
            let path = self.store.plan_dir(&self.rdir.plan)?.join("environments.lock");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| JournalError::Io {
                    path: path.clone(),
                    source,
                })?;
            file.lock().map_err(|source| JournalError::Io { path, source })?;
            fx.env_lock = Some(file);
        }
        // First come, first served: the releases that started waiting for `env` before this
        // stage did go first, whoever re-checks first once it is free.
        let queue = self.env_queue(env)?;
        let me = (
            self.state.stage(stage).and_then(|s| s.waiting_since),
            self.state.id.clone(),
        );
        let ahead: Vec<&(chrono::DateTime<chrono::Utc>, String)> = queue
            .waiting
            .iter()
            .filter(|(since, id)| match me.0 {
                None => true,
                Some(mine) => (*since, id) < (mine, &me.1),
            })
            .collect();
        if queue.holder.is_none() && ahead.is_empty() {
            return Ok(vec![Event::EnvAcquired { env: env.to_string() }]);
        }
        let place = if queue.waiting.is_empty() {
            String::new()
        } else {
            format!(" ({} in queue)", ordinal(ahead.len() + 1))
        };
        let reason = match (&queue.holder, ahead.first()) {
            (Some(holder), _) => format!("waiting: {env} is held by {holder}{place}"),
            (None, Some((_, first))) => format!("waiting: {env} goes to {first} first{place}"),
            (None, None) => unreachable!("acquired above"),
        };
        let same = self.state.stage(stage).and_then(|s| s.waiting.as_deref()) == Some(reason.as_str());
        Ok(if same {
            vec![]
        } else {
            vec![Event::StageWaiting {
                stage: stage.into(),
                reason,
                frozen: false,
            }]
        })
    }

    /// The other releases of this plan that hold `env` or wait for it. A waiting release counts
    /// only while its driver is alive (a dead one would block the queue for good).
    fn env_queue(&mut self, env: &str) -> Result<EnvQueue, DriveError> {
        let mut queue = EnvQueue {
            holder: None,
            waiting: Vec::new(),
        };
        // Only open releases can hold or wait for an environment.
        for r in self.store.open_releases(&self.rdir.plan)? {
            if r.path == self.rdir.path {
                continue;
            }
            let journal = r.journal();
            let Ok(len) = std::fs::metadata(&journal).map(|m| m.len()) else {
                continue;
            };
            let holds = match self.holds.get(&journal) {
                Some((seen, holds)) if *seen == len => holds.clone(),
                _ => {
                    let Ok((recs, _)) = crate::journal::read_journal(&journal) else {
                        continue;
                    };
                    let st = ReleaseState::from_records(&recs);
                    let live = st.finished.is_none();
                    let envs = if live {
                        st.env_holds.clone()
                    } else {
                        Default::default()
                    };
                    // A halted, cancelling or rolling back release takes no environment any more.
                    let waiting = if live && !st.cancelling && !st.halted && st.rollback.is_none() {
                        st.stages
                            .iter()
                            .filter_map(|s| Some((s.decl.environment.clone()?, s.waiting_since?)))
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let holds = Holds {
                        id: st.id,
                        envs,
                        waiting,
                    };
                    self.holds.insert(journal, (len, holds.clone()));
                    holds
                }
            };
            if holds.envs.contains(env) {
                queue.holder.get_or_insert_with(|| holds.id.clone());
            }
            if let Some(since) = holds
                .waiting
                .iter()
                .filter(|(e, _)| e == env)
                .map(|(_, t)| *t)
                .min()
                && self
                    .probes
                    .entry(r.path.clone())
                    .or_insert_with(|| crate::journal::DriverProbe::new(&r))
                    .check()
                    .is_some()
            {
                queue.waiting.push((since, holds.id.clone()));
            }
        }
        queue.waiting.sort();
        Ok(queue)
    }

    fn base_env(
        &self,
        stage: Option<&str>,
        env: Option<&str>,
        target: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        if let Some(e) = env.and_then(|e| self.plan.environments.get(e)) {
            vars.extend(e.vars.clone());
        }
        let st = &self.state;
        vars.insert("FLIGHTDECK_RELEASE".into(), st.id.clone());
        vars.insert("FLIGHTDECK_VERSION".into(), st.version.clone());
        vars.insert("FLIGHTDECK_TYPE".into(), st.rtype.to_string());
        vars.insert("FLIGHTDECK_STAGE".into(), stage.unwrap_or_default().to_string());
        vars.insert("FLIGHTDECK_ENV".into(), env.unwrap_or_default().to_string());
        vars.insert("FLIGHTDECK_TARGET".into(), target.unwrap_or_default().to_string());
        if let Some(c) = &st.commits {
            vars.insert("FLIGHTDECK_COMMIT".into(), c.head.clone());
            vars.insert(
                "FLIGHTDECK_NOTES_FILE".into(),
                self.rdir.path.join(&c.notes_file).display().to_string(),
            );
        }
        vars.insert(procgroup::MARKER_VAR.into(), self.rdir.path.display().to_string());
        vars.into_iter().collect()
    }

    fn lookup(
        &self,
        stage: Option<&str>,
        env: Option<&str>,
        target: Option<&str>,
    ) -> impl Fn(&str) -> Option<String> {
        let st = &self.state;
        let (version, rtype, release) = (st.version.clone(), st.rtype.to_string(), st.id.clone());
        let (stage, env, target) = (
            stage.map(String::from),
            env.map(String::from),
            target.map(String::from),
        );
        // Without a git repository there is no commit and no notes file: they render as ''.
        let commit = st.commits.as_ref().map(|c| c.head.clone());
        let notes = st
            .commits
            .as_ref()
            .map(|c| self.rdir.path.join(&c.notes_file).display().to_string());
        move |name: &str| match name {
            "version" => Some(version.clone()),
            "type" => Some(rtype.clone()),
            "release" => Some(release.clone()),
            "stage" => stage.clone(),
            "env" => env.clone(),
            "target" => target.clone(),
            "commit" => commit.clone(),
            "notes_file" => notes.clone(),
            _ => None,
        }
    }

    fn job_spec(&self, key: &RunKey, kind: RunKind, log: &str) -> JobSpec {
        let stage = self
            .plan
            .stage(&key.stage)
            .expect("scheduled stages exist in the plan");
        let env = stage.environment.as_deref();
        let target = key.target.as_deref();
        let lookup = self.lookup(Some(&stage.id), env, target);
        let templates = match kind {
            RunKind::Deploy => &stage.run,
            RunKind::Rollback => &stage.rollback,
        };
        JobSpec {
            job: Job::Run(key.clone(), kind),
            commands: templates.iter().map(|t| t.render(&lookup)).collect(),
            env: self.base_env(Some(&stage.id), env, target),
            cwd: self.plan.dir.clone(),
            log_path: self.rdir.path.join(log),
            timeout: stage.timeout,
            watch: if kind == RunKind::Deploy {
                stage.watch
            } else {
                None
            },
            grace: self.opts.grace,
            drift: None,
        }
    }

    fn check_spec(&self, gate: &str, item: usize, log: &str) -> JobSpec {
        let g = &self.plan.gates[gate];
        let drift = g.checklist[item]
            .drift
            .clone()
            .map(|d| (Arc::new(self.plan.clone()), d));
        let lookup = self.lookup(None, None, None);
        let cmd = g.checklist[item]
            .check
            .as_ref()
            .map(|t| t.render(&lookup))
            .unwrap_or_else(|| "true".into());
        JobSpec {
            job: Job::Check {
                gate: gate.to_string(),
                item,
            },
            commands: vec![cmd],
            env: self.base_env(None, None, None),
            cwd: self.plan.dir.clone(),
            log_path: self.rdir.path.join(log),
            timeout: Some(self.plan.check_timeout),
            watch: None,
            grace: self.opts.grace,
            drift,
        }
    }
}

/// `logs/<stage>[.<target>].<attempt>.log`, rollbacks `logs/<stage>[.<target>].rollback.<n>.log`.
pub fn log_name(key: &RunKey, kind: RunKind) -> String {
    let target = key
        .target
        .as_deref()
        .map(|t| format!(".{}", file_safe(t)))
        .unwrap_or_default();
    let kind = match kind {
        RunKind::Deploy => "",
        RunKind::Rollback => ".rollback",
    };
    format!("logs/{}{target}{kind}.{}.log", file_safe(&key.stage), key.attempt)
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A file's (device, inode).
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub use crate::journal::replica::hostname;

/// Where a release's plan copy says its commands run.
pub fn plan_for_release(rdir: &ReleaseDir, state: &ReleaseState) -> Result<Plan, DriveError> {
    let text = crate::files::read_text_bounded(&rdir.plan_copy(), crate::files::MAX_INPUT)
        .map_err(|e| DriveError::Plan(format!("{}: {e}", rdir.plan_copy().display())))?;
    let path = PathBuf::from(&state.plan_path);
    crate::plan::load_str(&text, &path).map_err(|e| DriveError::Plan(e.to_string()))
}
