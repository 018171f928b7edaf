//! The driver: the one process that runs a release. It folds the journal, asks the scheduler what
//! to do, journals each decision before acting on it, runs the jobs and answers requests that
//! other processes append.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::event::{CommitRef, Event, FinalState, GateDecl, Outcome, RunKey, RunKind, StageDecl};
use super::output::Masker;
use super::runner::{self, Job, JobMsg, JobSpec, Stopper};
use super::scheduler::{Decision, decide, handle_request};
use super::state::ReleaseState;
use crate::journal::{Journal, JournalError, ReleaseDir, Store, Txn, Waker};
use crate::plan::{Plan, ReleaseType};

/// Actor name for the driver's own events.
pub const DRIVER: &str = "driver";

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("release {id} is driven by another process (pid {pid})")]
    Locked { id: String, pid: String },
    #[error("{0}")]
    Plan(String),
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
    pub fn exit_code(self) -> i32 {
        match self {
            DriveEnd::Finished(FinalState::Succeeded) => 0,
            DriveEnd::Finished(FinalState::Cancelled) => 130,
            DriveEnd::Finished(_) => 1,
            DriveEnd::Paused => 3,
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
    let stages = plan
        .stages
        .iter()
        .map(|s| StageDecl {
            id: s.id.clone(),
            needs: s.needs.clone(),
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
    }
}

/// Most commits a release lists in its journal (a first release of a long history would list
/// them all); the rest are counted.
const MAX_COMMITS: usize = 10_000;

/// The `release_commits` event for the notes of a release (`notes_file` relative to its folder).
pub fn release_commits(notes: &crate::drift::git::Notes, notes_file: &str) -> Event {
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
    Masker::new(plan.secrets.iter().filter_map(|name| std::env::var(name).ok()))
}

pub struct Driver {
    journal: Journal,
    core: Core,
    jobs: HashMap<Job, Stopper>,
    /// Job reports not yet journaled.
    inbox: Vec<JobMsg>,
    terminating: bool,
    tx: mpsc::UnboundedSender<JobMsg>,
    rx: mpsc::UnboundedReceiver<JobMsg>,
    _lock: crate::journal::DriverLock,
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
}

/// What another release holds: its id and environments (none once it has finished).
#[derive(Clone)]
struct Holds {
    id: String,
    envs: std::collections::BTreeSet<String>,
}

/// One driver cycle's work, performed after its events are durable.
#[derive(Default)]
struct Effects {
    spawn: Vec<JobSpec>,
    terminate: bool,
    /// The plan's environment lock, held from the moment another release's holds are checked
    /// until our `env_acquired` is durable (so two releases cannot both take `prod`).
    env_lock: Option<std::fs::File>,
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
        let lock = match rdir.lock_driver()? {
            Ok(l) => l,
            Err(pid) => {
                return Err(DriveError::Locked {
                    id: rdir.id.clone(),
                    pid: pid.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()),
                });
            }
        };
        let masker = Arc::new(masker_for(&plan));
        let journal = Journal::open(&rdir.journal(), masker.clone())?;
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
            },
            jobs: HashMap::new(),
            inbox: Vec::new(),
            terminating: false,
            tx,
            rx,
            _lock: lock,
        };
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
        let stale: Vec<(RunKey, RunKind, Vec<i32>)> = core
            .state
            .running_runs()
            .into_iter()
            .map(|(k, kind, a)| (k, kind, a.pgids.clone()))
            .collect();
        let mut events = Vec::new();
        let mut ended = Vec::new();
        for (_, _, pgids) in &stale {
            for pgid in pgids {
                if runner::group_alive(*pgid) {
                    runner::terminate_group_blocking(*pgid, grace);
                    ended.push(*pgid);
                }
            }
        }
        if !ended.is_empty() {
            events.push(Event::Note {
                message: format!("ended process group(s) {ended:?} that the previous driver had running"),
            });
        }
        let strays = runner::marked_groups(&core.rdir.path);
        for pgid in &strays {
            runner::terminate_group_blocking(*pgid, grace);
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
        Ok(())
    }

    /// Drive until the release finishes (or pauses at a gate with `no_wait`). `interrupt` resolves
    /// on Ctrl-C: the release is then cancelled gracefully.
    ///
    /// A journal line that does not chain, found at any point, stops it: nothing more is
    /// scheduled or journaled, its running jobs are ended (TERM, grace, KILL of their groups),
    /// and the error (naming the line) is returned.
    pub async fn run(
        mut self,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> Result<DriveEnd, DriveError> {
        let result = self.drive(interrupt).await;
        if let Err(DriveError::Journal(JournalError::Broken { .. })) = &result {
            self.end_jobs().await;
        }
        result
    }

    /// End every running job and wait (a bounded time) until each has ended its processes.
    /// Their ends are not journaled: the journal is not to be trusted.
    async fn end_jobs(&mut self) {
        for stopper in self.jobs.values() {
            stopper.stop(Outcome::Cancelled);
        }
        let deadline = tokio::time::Instant::now() + self.core.opts.grace + Duration::from_secs(10);
        while !self.jobs.is_empty() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(JobMsg::Finished { job, .. })) => {
                    self.jobs.remove(&job);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    async fn drive(
        &mut self,
        interrupt: impl std::future::Future<Output = ()>,
    ) -> Result<DriveEnd, DriveError> {
        // Requests from other processes arrive through the journal: watch that file only (run
        // logs change constantly and are none of the driver's business).
        let mut waker = Waker::watch(&self.core.rdir.journal(), Duration::from_millis(500));
        tokio::pin!(interrupt);
        let mut interrupted = false;
        if self.core.state.finished.is_none() {
            self.drift_snapshot(crate::drift::snapshot::START_SNAPSHOT, "start")
                .await?;
        }
        let mut dirty = true;
        loop {
            if dirty {
                self.cycle()?;
            }
            if let Some(f) = &self.core.state.finished
                && self.jobs.is_empty()
            {
                let state = f.state;
                if state == FinalState::Succeeded {
                    self.tag_release()?;
                }
                self.drift_snapshot(crate::drift::snapshot::END_SNAPSHOT, "end")
                    .await?;
                return Ok(DriveEnd::Finished(state));
            }
            if self.core.opts.no_wait && self.jobs.is_empty() && self.core.state.state_word(true) == "paused"
            {
                let pid = std::process::id();
                let reason = "paused at a gate (--no-wait)".to_string();
                self.journal
                    .append(DRIVER, vec![Event::DriverStopped { pid, reason }])?;
                return Ok(DriveEnd::Paused);
            }
            let waiting_env = self.core.state.stages.iter().any(|s| s.waiting.is_some());
            let wait = if waiting_env {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(3600)
            };
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
                msg = self.rx.recv() => {
                    self.inbox.push(msg.expect("the driver holds a sender"));
                    while let Ok(m) = self.rx.try_recv() {
                        self.inbox.push(m);
                    }
                    true
                }
                // Our own appends wake the watcher too: only another process's append (or the
                // periodic re-check of a held environment) needs a cycle.
                _ = waker.wait_at_most(wait) => waiting_env || self.journal.has_news(),
            };
        }
    }

    /// Save the environments' probed state into the release folder once (when the plan has
    /// probes), and journal it. A failing probe is recorded, never fatal.
    async fn drift_snapshot(&mut self, file: &str, at: &str) -> Result<(), DriveError> {
        let path = self.core.rdir.path.join(file);
        if path.exists() {
            return Ok(());
        }
        let opts = crate::drift::ProbeOptions {
            grace: self.core.opts.grace,
            masker: self.core.masker.clone(),
            ..Default::default()
        };
        let event = match crate::drift::snapshot_to(&self.core.plan, &path, &opts).await {
            Ok(None) => return Ok(()),
            Ok(Some(info)) => Event::DriftSnapshot {
                at: at.to_string(),
                file: file.to_string(),
                columns: info.columns,
                errors: info.errors.iter().map(|e| e.to_string()).collect(),
            },
            Err(e) => Event::Note {
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
        if !core.plan.git.tag_on_success {
            return Ok(());
        }
        let event = match crate::drift::git::Repo::open(&core.plan).and_then(|repo| {
            let oid = git2::Oid::from_str(&commits.head).map_err(crate::drift::git::GitError::from)?;
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
        durable |= core.handle_requests(&mut txn, &mut effects);
        for _ in 0..10_000 {
            if !core.step(&mut txn, &mut effects)? {
                break;
            }
            durable = true;
        }
        txn.commit(durable)?;
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
        let rec = txn.push(DRIVER, e);
        self.state.apply(&rec);
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
    fn step(&mut self, txn: &mut Txn<'_>, fx: &mut Effects) -> Result<bool, DriveError> {
        let decisions = decide(&self.plan, &self.state);
        let mut progressed = false;
        let mut events = Vec::new();
        for d in decisions {
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

    /// Hold `env` for this release unless another unfinished release holds it.
    fn acquire(&mut self, stage: &str, env: &str, fx: &mut Effects) -> Result<Vec<Event>, DriveError> {
        if fx.env_lock.is_none() {
            let path = self.store.plan_dir(&self.rdir.plan).join("environments.lock");
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
        if let Some(holder) = self.env_holder(env)? {
            let reason = format!("waiting: {env} is held by {holder}");
            let same = self.state.stage(stage).and_then(|s| s.waiting.as_deref()) == Some(reason.as_str());
            return Ok(if same {
                vec![]
            } else {
                vec![Event::StageWaiting {
                    stage: stage.into(),
                    reason,
                }]
            });
        }
        Ok(vec![Event::EnvAcquired { env: env.to_string() }])
    }

    /// Another unfinished release of this plan that holds `env`.
    fn env_holder(&mut self, env: &str) -> Result<Option<String>, DriveError> {
        for r in self.store.releases(Some(&self.rdir.plan))? {
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
                    let envs = if st.finished.is_none() {
                        st.env_holds
                    } else {
                        Default::default()
                    };
                    let holds = Holds { id: st.id, envs };
                    self.holds.insert(journal, (len, holds.clone()));
                    holds
                }
            };
            if holds.envs.contains(env) {
                return Ok(Some(holds.id));
            }
        }
        Ok(None)
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
        vars.insert(runner::MARKER_VAR.into(), self.rdir.path.display().to_string());
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
            timeout: Some(Duration::from_secs(300)),
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

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default()
}

/// Where a release's plan copy says its commands run.
pub fn plan_for_release(rdir: &ReleaseDir, state: &ReleaseState) -> Result<Plan, DriveError> {
    let text = std::fs::read_to_string(rdir.plan_copy())
        .map_err(|e| DriveError::Plan(format!("{}: {e}", rdir.plan_copy().display())))?;
    let path = PathBuf::from(&state.plan_path);
    crate::plan::load_str(&text, &path).map_err(|e| DriveError::Plan(e.to_string()))
}
