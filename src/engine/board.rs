//! The workspace board's model, shared by `flightdeck ws status`, `ws envs` and the cockpit's
//! workspace board: every plan's releases side by side (newest first, with state, progress and
//! what each needs: a gate, a person, a dependency...), the services × environments matrix (the
//! live version in each cell, drift marked, deploys in progress), and the workspace's trains.
//!
//! Each plan is read from its history ([`History`]: its open releases folded from their journals,
//! the newest finished ones from its finished-release index, never every journal), so a board of
//! 50 plans × 200 releases opens in a few hundred reads. [`PlanBoard::load`] reads one plan;
//! everything else here is pure over what was read ([`Board::rows`], [`Board::matrix`],
//! [`Filter`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::envs::{InProgress, Place, live_on, places};
use super::history::{History, OpenRelease, Summary};
use super::state::{ReleaseState, StageStatus};
use super::train::TrainView;
use crate::event::FinalState;
use crate::journal::Store;
use crate::plan::Plan;

/// Finished releases each plan shows (its unfinished ones are always all shown).
pub const RECENT: usize = 10;
/// Finished trains shown after the unfinished ones.
pub const RECENT_TRAINS: usize = 3;
/// The state filters offered first (others are accepted too: any state word).
pub const STATE_FILTERS: [&str; 3] = ["running", "paused", "failed"];
/// Every release state word (for the filter).
const STATE_WORDS: [&str; 13] = [
    "running",
    "paused",
    "scheduled",
    "interrupted",
    "attention",
    "succeeded",
    "failed",
    "rolled_back",
    "partially_rolled_back",
    "rollback_failed",
    "cancelled",
    "rejected",
    "cancelling",
];

/// What a release waits for, in kinds a release manager acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedKind {
    /// A gate (the release's own, or a train's) waits for approvals or ticks.
    Gate,
    /// A person's decision: a failed stage (retry, skip, roll back), a failed rollback.
    Person,
    /// Another plan's stage (a train's cross-plan need), or an environment another release holds.
    Dependency,
    /// A freeze window holds it.
    Freeze,
    /// `run --at`: it waits for its time.
    Schedule,
    /// Nobody drives it: `resume`.
    Driver,
    /// Its journal does not chain.
    Attention,
}

impl NeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NeedKind::Gate => "gate",
            NeedKind::Person => "person",
            NeedKind::Dependency => "dependency",
            NeedKind::Freeze => "freeze",
            NeedKind::Schedule => "schedule",
            NeedKind::Driver => "driver",
            NeedKind::Attention => "attention",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    pub kind: NeedKind,
    /// `gate prod-signoff: 0/1 approvals`, `waits for billing:deploy-prod (running)`.
    pub text: String,
}

/// One release on the board.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub plan: String,
    pub id: String,
    pub version: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// The state word (`running`, `paused`, `succeeded`, ...).
    pub state: String,
    pub stages_done: usize,
    pub stages: usize,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When it starts (`run --at`), while it waits for that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// What it needs now, if anything.
    pub needs: Option<Need>,
    /// The stages running now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<String>,
    /// The train it is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train: Option<String>,
    /// Where it is live (`prod`, or `prod/eu` for some targets).
    pub live_on: Vec<String>,
    /// The environments it reached (ran on, or waits at the gate of).
    pub environments: Vec<String>,
    /// `partial: deploy-prod` for a partial release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    /// The pid of its live driver (`Some(0)`: alive, pid unknown).
    #[serde(skip)]
    pub driver: Option<u32>,
}

impl Row {
    /// An unfinished (or just finished, not yet indexed) release, from its fold.
    pub fn of_open(plan: &str, st: &ReleaseState, driver: Option<u32>, now: DateTime<Utc>) -> Row {
        let driver = driver.filter(|_| st.finished.is_none());
        let (done, total) = st.progress();
        let mut environments: Vec<String> = Vec::new();
        for s in &st.stages {
            let reached = s.targets.iter().any(|t| !t.attempts.is_empty())
                || s.status == StageStatus::Gated
                || s.waiting.is_some();
            if let Some(e) = s.decl.environment.as_ref().filter(|_| reached)
                && !environments.contains(e)
            {
                environments.push(e.clone());
            }
        }
        Row {
            plan: plan.to_string(),
            id: st.id.clone(),
            version: st.version.clone(),
            rtype: st.rtype.as_str().to_string(),
            state: st.state_word(driver.is_some()).to_string(),
            stages_done: done,
            stages: total,
            created_at: st.created_at,
            finished_at: st.finished.as_ref().map(|f| f.at),
            scheduled_at: st.scheduled_at.filter(|_| st.waiting_for_schedule(now)),
            needs: need_of(st, driver.is_some(), now),
            running: st
                .stages
                .iter()
                .filter(|s| s.status == StageStatus::Running)
                .map(|s| s.decl.id.clone())
                .collect(),
            train: st.train.as_ref().map(|t| t.name.clone()),
            live_on: Vec::new(),
            environments,
            partial: st.partial(),
            driver,
        }
    }

    /// A finished release, from the plan's index.
    pub fn of_summary(plan: &str, s: &Summary) -> Row {
        let mut environments: Vec<String> = Vec::new();
        for e in &s.envs {
            if !environments.contains(&e.env) {
                environments.push(e.env.clone());
            }
        }
        let needs = match s.state {
            FinalState::Failed | FinalState::RollbackFailed | FinalState::Rejected => Some(Need {
                kind: NeedKind::Person,
                text: format!("{}: {}", s.state.as_str().replace('_', " "), s.reason),
            }),
            _ => None,
        };
        Row {
            plan: plan.to_string(),
            id: s.id.clone(),
            version: s.version.clone(),
            rtype: s.rtype.as_str().to_string(),
            state: s.state.as_str().to_string(),
            stages_done: s.progress.0,
            stages: s.progress.1,
            created_at: s.created_at,
            finished_at: Some(s.finished_at),
            scheduled_at: None,
            needs,
            running: Vec::new(),
            train: None,
            live_on: Vec::new(),
            environments,
            partial: crate::engine::state::partial_text(&s.only),
            driver: None,
        }
    }

    /// What it is doing, in a few words: what it needs, else the stages running, else where it
    /// is live.
    pub fn doing(&self) -> String {
        if let Some(n) = &self.needs {
            return n.text.clone();
        }
        if !self.running.is_empty() {
            return format!("running {}", self.running.join(", "));
        }
        if !self.live_on.is_empty() {
            return format!("live on {}", self.live_on.join(", "));
        }
        String::new()
    }

    /// Unfinished.
    pub fn open(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// What an unfinished release needs now, most pressing first.
pub fn need_of(st: &ReleaseState, driver_alive: bool, now: DateTime<Utc>) -> Option<Need> {
    let need = |kind, text: String| Some(Need { kind, text });
    if let Some(why) = &st.attention {
        return need(NeedKind::Attention, format!("its journal needs attention: {why}"));
    }
    if let Some(f) = &st.finished {
        return match f.state {
            FinalState::Failed | FinalState::RollbackFailed | FinalState::Rejected => need(
                NeedKind::Person,
                format!("{}: {}", f.state.as_str().replace('_', " "), f.reason),
            ),
            _ => None,
        };
    }
    if st.waiting_for_schedule(now) && !st.cancelling {
        let at = st.scheduled_at.unwrap_or(now);
        return need(
            NeedKind::Schedule,
            format!("starts {}", at.format("%Y-%m-%d %H:%M UTC")),
        );
    }
    if !driver_alive && st.driver_stopped.is_none() {
        return need(NeedKind::Driver, "nobody drives it: resume it".into());
    }
    if st.rollback.is_none()
        && let Some(s) = st.stages.iter().find(|s| s.status == StageStatus::Failed)
    {
        return need(
            NeedKind::Person,
            format!("{} failed: retry, skip or roll back", s.decl.id),
        );
    }
    if let Some(g) = st.gates.iter().find(|g| g.reached_by.is_some() && !g.satisfied()) {
        let mut text = format!(
            "gate {}: {}/{} approvals",
            g.decl.name,
            g.counted(),
            g.decl.approvals
        );
        if !g.decl.checklist.is_empty() {
            text.push_str(&format!(", {}/{} items", g.items_done(), g.decl.checklist.len()));
        }
        return need(NeedKind::Gate, text);
    }
    if let Some(waiting) = st
        .stages
        .iter()
        .find(|s| s.status == StageStatus::Pending && s.waiting.is_some())
    {
        let why = waiting.waiting.as_deref().unwrap_or_default();
        let id = &waiting.decl.id;
        if waiting.frozen {
            let what = why.strip_prefix("waiting: ").unwrap_or(why);
            return need(NeedKind::Freeze, format!("{id} frozen: {what}"));
        }
        return match why.strip_prefix("waiting for ") {
            Some(what) if what.starts_with("train gate ") => {
                need(NeedKind::Gate, format!("{id} waits for {what}"))
            }
            Some(what) => need(NeedKind::Dependency, format!("{id} waits for {what}")),
            // An environment another release holds (or is queued for first).
            None => need(
                NeedKind::Dependency,
                format!("{id}: {}", why.strip_prefix("waiting: ").unwrap_or(why)),
            ),
        };
    }
    // Its driver stopped on purpose (`--no-wait` at a gate) and nothing else holds it.
    (!driver_alive).then(|| Need {
        kind: NeedKind::Driver,
        text: "its driver stopped: resume it".into(),
    })
}

/// The newest drift reading of an environment (or target): how it compares with the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub taken_at: DateTime<Utc>,
    /// Keys that differ from the baseline (missing and extra ones included).
    pub differs: usize,
    /// The probe failed.
    pub probe_failed: bool,
    /// It was compared (not the baseline alone, nothing unavailable).
    pub compared: bool,
}

impl Drift {
    /// `in_sync`, `differs`, `probe_failed` or `not_compared`.
    pub fn word(&self) -> &'static str {
        match (self.probe_failed, self.compared, self.differs) {
            (true, ..) => "probe_failed",
            (false, false, _) => "not_compared",
            (false, true, 0) => "in_sync",
            _ => "differs",
        }
    }

    /// Something to look at: keys differ or the probe failed.
    pub fn marked(&self) -> bool {
        self.probe_failed || (self.compared && self.differs > 0)
    }
}

/// One plan of the board, as read from its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanBoard {
    pub plan: String,
    /// Its environments, in the plan's order.
    pub environments: Vec<String>,
    /// Its unfinished releases and newest [`RECENT`] finished ones, newest first.
    pub releases: Vec<Row>,
    /// Older finished releases are left out.
    pub older: bool,
    /// What runs where (environments, then their targets).
    #[serde(skip)]
    pub places: Vec<Place>,
    /// Per environment and target (`prod`, `prod/eu`): the newest drift reading.
    #[serde(skip)]
    pub drift: BTreeMap<String, Drift>,
    /// Per environment: what its unfinished releases do there now.
    #[serde(skip)]
    pub now: BTreeMap<String, EnvNow>,
    /// Why it could not be read (what was read is shown).
    pub error: Option<String>,
}

impl PlanBoard {
    /// Read `plan` from `store`: its open releases, its newest `recent` finished ones, what runs
    /// where, the newest drift reading.
    pub fn load(store: &Store, plan: &Plan, recent: usize, now: DateTime<Utc>) -> PlanBoard {
        let mut pb = PlanBoard {
            plan: plan.name.clone(),
            environments: plan.environments.keys().cloned().collect(),
            releases: Vec::new(),
            older: false,
            places: Vec::new(),
            drift: BTreeMap::new(),
            now: BTreeMap::new(),
            error: None,
        };
        let history = match History::open(store, &plan.name) {
            Ok(h) => h,
            Err(e) => {
                pb.error = Some(e.to_string());
                return pb;
            }
        };
        let open: Vec<OpenRelease> = match history.open_releases() {
            Ok(o) => o,
            Err(e) => {
                pb.error = Some(e.to_string());
                Vec::new()
            }
        };
        pb.releases = open
            .iter()
            .map(|o| Row::of_open(&plan.name, &o.state, o.rdir.live_driver(), now))
            .collect();
        let mut finished = history.finished();
        for s in finished.by_ref().take(recent) {
            let mut r = Row::of_summary(&plan.name, &s);
            r.environments
                .sort_by_key(|e| pb.environments.iter().position(|p| p == e).unwrap_or(usize::MAX));
            pb.releases.push(r);
        }
        pb.older = finished.next().is_some();
        sort_newest_first(&mut pb.releases);
        pb.places = places(plan, &history, &open);
        pb.drift = drift_of(store, plan);
        pb.now = env_now(&pb.environments, &open);
        let live: Vec<Vec<String>> = pb.releases.iter().map(|r| pb.live_on(&r.id)).collect();
        for (r, l) in pb.releases.iter_mut().zip(live) {
            r.live_on = l;
        }
        pb
    }

    /// Where release `id` runs now, as the matrix says: an environment's name when it runs on
    /// the whole of it, else each `env/target` it runs on.
    pub fn live_on(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        for env in &self.environments {
            let Some(c) = self.cell(env) else { continue };
            match &c.live {
                Some(l) if l.id == id => out.push(env.clone()),
                Some(l) if !l.finished => {}
                _ => out.extend(
                    live_on(&self.places, id)
                        .into_iter()
                        .filter(|p| p.strip_prefix(env.as_str()).is_some_and(|r| r.starts_with('/'))),
                ),
            }
        }
        out
    }

    /// The matrix cell of environment `env` (`None`: the plan has no such environment).
    pub fn cell(&self, env: &str) -> Option<Cell> {
        if !self.environments.iter().any(|e| e == env) {
            return None;
        }
        let own = self.places.iter().find(|p| p.env == env && p.target.is_none());
        let targets: Vec<TargetCell> = self
            .places
            .iter()
            .filter(|p| p.env == env && p.target.is_some())
            .map(|p| TargetCell {
                target: p.target.clone().unwrap_or_default(),
                version: p.live.as_ref().map(|l| l.version.clone()),
                drift: self
                    .drift
                    .get(&format!("{env}/{}", p.target.as_deref().unwrap_or_default()))
                    .cloned(),
            })
            .collect();
        // The environment's reading, or its targets' together.
        let drift = self.drift.get(env).cloned().or_else(|| {
            let of_targets: Vec<&Drift> = targets.iter().filter_map(|t| t.drift.as_ref()).collect();
            let first = of_targets.first()?;
            Some(Drift {
                taken_at: first.taken_at,
                differs: of_targets.iter().map(|d| d.differs).sum(),
                probe_failed: of_targets.iter().any(|d| d.probe_failed),
                compared: of_targets.iter().any(|d| d.compared),
            })
        });
        let mut live = own.and_then(|p| p.live.as_ref()).map(|l| Live {
            id: l.id.clone(),
            version: l.version.clone(),
            commit: l.commit.clone(),
            at: l.at,
            started_by: l.started_by.clone(),
            finished: true,
        });
        let mut mixed = own.is_some_and(|p| p.mixed);
        let mut targets = targets;
        let now = self.now.get(env);
        // An unfinished release that got there after the newest finished one runs there now.
        if let Some(a) = now.and_then(|n| n.arrived.as_ref())
            && live.as_ref().is_none_or(|l| a.at > l.at)
        {
            live = Some(a.clone());
            mixed = false;
            for t in &mut targets {
                t.version = Some(a.version.clone());
            }
        }
        Some(Cell {
            live,
            mixed,
            targets,
            deploying: now.and_then(|n| n.deploying.clone()),
            drift,
        })
    }
}

/// What the unfinished releases of a plan do on one environment now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvNow {
    /// The newest release that runs there (or waits at its gate, or for what its stage there
    /// needs): `state` is `running` or `waiting`.
    pub deploying: Option<InProgress>,
    /// The newest one whose every stage there succeeded (nothing rolled back): it runs there,
    /// though it has not finished (it bakes, or goes on to the next environment).
    pub arrived: Option<Live>,
}

/// Per environment, what `open`'s unfinished releases do there (newest release first).
fn env_now(environments: &[String], open: &[OpenRelease]) -> BTreeMap<String, EnvNow> {
    let mut out: BTreeMap<String, EnvNow> = BTreeMap::new();
    let mut open: Vec<&OpenRelease> = open
        .iter()
        .filter(|o| o.state.finished.is_none() && o.state.attention.is_none())
        .collect();
    open.sort_by_key(|o| std::cmp::Reverse(o.state.created_at));
    for env in environments {
        let mut now = EnvNow::default();
        for o in &open {
            let st = &o.state;
            let stages: Vec<_> = st
                .stages
                .iter()
                .filter(|s| s.decl.environment.as_deref() == Some(env.as_str()))
                .collect();
            if stages.is_empty() {
                continue;
            }
            let word = if stages.iter().any(|s| s.status == StageStatus::Running) {
                Some("running")
            } else if stages.iter().any(|s| {
                s.status == StageStatus::Gated || (s.status == StageStatus::Pending && s.waiting.is_some())
            }) {
                Some("waiting")
            } else {
                None
            };
            if let Some(word) = word
                && now.deploying.is_none()
            {
                now.deploying = Some(InProgress {
                    id: st.id.clone(),
                    version: st.version.clone(),
                    state: word.to_string(),
                });
            }
            let done = stages
                .iter()
                .all(|s| s.status == StageStatus::Succeeded && s.targets.iter().all(|t| t.live()));
            if done && now.arrived.is_none() {
                let at = stages.iter().filter_map(|s| s.finished_at).max();
                if let Some(at) = at {
                    now.arrived = Some(Live {
                        id: st.id.clone(),
                        version: st.version.clone(),
                        commit: st.commits.as_ref().map(|c| c.head.clone()),
                        at,
                        started_by: st.created_by.clone(),
                        finished: false,
                    });
                }
            }
        }
        out.insert(env.clone(), now);
    }
    out
}

/// Newest first: by creation, then by id.
fn sort_newest_first(rows: &mut [Row]) {
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
}

/// The newest drift reading of each environment and target of `plan`: its newest saved probe
/// run or its newest release's start/end snapshot, whichever is newer (as `flightdeck envs`).
fn drift_of(store: &Store, plan: &Plan) -> BTreeMap<String, Drift> {
    use crate::drift::{overview, snapshot};
    let mut out = BTreeMap::new();
    let Ok(dir) = store.plan_dir(&plan.name) else {
        return out;
    };
    let runs = dir.join(snapshot::RUNS_DIR);
    let latest = store.latest(&plan.name);
    let newest = [
        overview::newest_snapshot(None, &runs),
        latest.and_then(|r| overview::newest_snapshot(Some(&r.path), std::path::Path::new(""))),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let Some(snap) = newest.and_then(|p| snapshot::load_snapshot(&p).ok()) else {
        return out;
    };
    let o = overview::of_snapshot(Some(plan), &snap, None, String::new());
    for r in &o.rows {
        let key = match &r.target {
            Some(t) => format!("{}/{t}", r.env),
            None => r.env.clone(),
        };
        out.insert(
            key,
            Drift {
                taken_at: o.taken_at,
                differs: r.drifting(),
                probe_failed: r.error.is_some(),
                compared: r.compared,
            },
        );
    }
    out
}

/// The release live on an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub at: DateTime<Utc>,
    pub started_by: String,
    /// Its release has finished (else it runs there while the release goes on).
    pub finished: bool,
}

/// One target of a fanned-out environment in a matrix cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetCell {
    pub target: String,
    /// The version live there.
    pub version: Option<String>,
    pub drift: Option<Drift>,
}

/// One service (plan) on one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The release live there (`None` when nothing is, or its targets differ: `mixed`).
    pub live: Option<Live>,
    /// Its targets run different releases.
    pub mixed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetCell>,
    /// The release deploying there now.
    pub deploying: Option<InProgress>,
    /// The newest drift reading.
    pub drift: Option<Drift>,
}

impl Cell {
    /// The live version in a few characters: `2.3.0`, `mixed`, `—`.
    pub fn version_text(&self) -> String {
        match (&self.live, self.mixed) {
            (_, true) => "mixed".to_string(),
            (Some(l), _) => l.version.clone(),
            (None, _) => "—".to_string(),
        }
    }

    /// The drift mark: `≠3` (keys differ), `!` (the probe failed), nothing otherwise.
    pub fn drift_mark(&self) -> Option<String> {
        let d = self.drift.as_ref()?;
        if d.probe_failed {
            Some("!".into())
        } else if d.marked() {
            Some(format!("≠{}", d.differs))
        } else {
            None
        }
    }

    /// Whether something on it needs looking at: drift, or targets that differ.
    pub fn drifted(&self) -> bool {
        self.mixed || self.drift.as_ref().is_some_and(Drift::marked)
    }

    /// The whole cell as text: `2.3.0 ≠3 → 2.4.0 (running)`.
    pub fn text(&self) -> String {
        let mut s = self.version_text();
        if let Some(m) = self.drift_mark() {
            s.push(' ');
            s.push_str(&m);
        }
        if let Some(d) = &self.deploying {
            s.push_str(&format!(" → {} ({})", d.version, d.state));
        }
        s
    }
}

/// A row of the matrix: one service (plan), a cell per environment of the workspace (`None`:
/// the plan has no such environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixRow {
    pub plan: String,
    pub cells: Vec<Option<Cell>>,
}

/// Services × environments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub environments: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

/// Which releases (and plans, and trains) the board shows: by state, by environment, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A state word (`running`, `paused`, `failed` (which takes in `rollback_failed`), ...).
    pub state: Option<String>,
    /// An environment of the workspace.
    pub env: Option<String>,
    /// Part of a plan's name, a release's id or version, or a train's name (any case).
    pub name: Option<String>,
}

impl Filter {
    /// `running env:prod bill`: a state word, `env:NAME` and the rest a name; empty: no filter.
    /// An unknown environment is an error naming those there are.
    pub fn parse(text: &str, environments: &[String]) -> Result<Filter, String> {
        let mut f = Filter::default();
        let mut name: Vec<&str> = Vec::new();
        for word in text.split_whitespace() {
            let lower = word.to_lowercase();
            if STATE_WORDS.contains(&lower.as_str()) {
                f.state = Some(lower);
            } else if let Some(env) = word.strip_prefix("env:").or_else(|| word.strip_prefix("env=")) {
                if !environments.iter().any(|e| e == env) {
                    return Err(format!(
                        "no environment `{env}` in the workspace (it has: {})",
                        environments.join(", ")
                    ));
                }
                f.env = Some(env.to_string());
            } else {
                name.push(word);
            }
        }
        if !name.is_empty() {
            f.name = Some(name.join(" "));
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// As typed: `running env:prod bill`.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = &self.state {
            parts.push(s.clone());
        }
        if let Some(e) = &self.env {
            parts.push(format!("env:{e}"));
        }
        if let Some(n) = &self.name {
            parts.push(n.clone());
        }
        parts.join(" ")
    }

    /// Whether a release in state `word` passes the state filter.
    pub fn state_matches(&self, word: &str) -> bool {
        match self.state.as_deref() {
            None => true,
            Some("failed") => matches!(word, "failed" | "rollback_failed"),
            Some(s) => s == word,
        }
    }

    fn name_matches(&self, texts: &[&str]) -> bool {
        match &self.name {
            None => true,
            Some(n) => {
                let n = n.to_lowercase();
                texts.iter().any(|t| t.to_lowercase().contains(&n))
            }
        }
    }

    pub fn matches(&self, r: &Row) -> bool {
        self.state_matches(&r.state)
            && self.env.as_ref().is_none_or(|e| {
                r.environments.contains(e)
                    || r.live_on
                        .iter()
                        .any(|l| l == e || l.starts_with(&format!("{e}/")))
            })
            && self.name_matches(&[&r.plan, &r.id, &r.version, r.train.as_deref().unwrap_or_default()])
    }

    /// Whether a train passes: its name or a member plan by name, a member in the state.
    pub fn matches_train(&self, t: &TrainView) -> bool {
        let mut names: Vec<&str> = vec![&t.name];
        names.extend(t.members.iter().map(|m| m.plan.as_str()));
        self.name_matches(&names)
            && (self.state.is_none()
                || self.state_matches(&t.state)
                || t.members.iter().any(|m| self.state_matches(&m.state)))
    }
}

/// How many releases shown are in each state (the board's headline).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub running: usize,
    pub paused: usize,
    pub failed: usize,
    /// Unfinished releases that need a person or a gate now.
    pub waiting_on_people: usize,
}

/// The whole board.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Board {
    pub workspace: String,
    pub plans: Vec<PlanBoard>,
    /// Unfinished trains, then the newest [`RECENT_TRAINS`] finished ones; newest first.
    pub trains: Vec<TrainView>,
    /// Every environment of the workspace: each plan's in its order, the first plan's first.
    pub environments: Vec<String>,
}

impl Board {
    /// A board of `plans` as read (see [`PlanBoard::load`]) and `trains`.
    pub fn new(workspace: &str, plans: Vec<PlanBoard>, trains: Vec<TrainView>) -> Board {
        let mut b = Board {
            workspace: workspace.to_string(),
            plans,
            trains,
            environments: Vec::new(),
        };
        b.environments = environments_of(&b.plans);
        b
    }

    /// Put `pb` in place of the plan of that name (after its files changed).
    pub fn replace(&mut self, pb: PlanBoard) {
        if let Some(slot) = self.plans.iter_mut().find(|p| p.plan == pb.plan) {
            *slot = pb;
        } else {
            self.plans.push(pb);
        }
        self.environments = environments_of(&self.plans);
    }

    /// The releases `f` lets through, plan by plan (in the workspace's order), each plan's
    /// newest first.
    pub fn rows<'a>(&'a self, f: &'a Filter) -> impl Iterator<Item = &'a Row> + 'a {
        self.plans
            .iter()
            .flat_map(|p| p.releases.iter())
            .filter(move |r| f.matches(r))
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.plans.iter().flat_map(|p| &p.releases) {
            match r.state.as_str() {
                "running" => c.running += 1,
                "paused" => c.paused += 1,
                "failed" | "rollback_failed" => c.failed += 1,
                _ => {}
            }
            if r.open()
                && r.needs
                    .as_ref()
                    .is_some_and(|n| matches!(n.kind, NeedKind::Gate | NeedKind::Person))
            {
                c.waiting_on_people += 1;
            }
        }
        c
    }

    /// Services × environments, as `f` narrows them: its environment alone; the plans whose name
    /// (or a release's) matches; with a state, the plans with a release in it.
    pub fn matrix(&self, f: &Filter) -> Matrix {
        let environments: Vec<String> = match &f.env {
            Some(e) => vec![e.clone()],
            None => self.environments.clone(),
        };
        let rows = self
            .plans
            .iter()
            .filter(|p| {
                let named = Filter {
                    name: f.name.clone(),
                    ..Filter::default()
                };
                (f.name.is_none()
                    || named.name_matches(&[&p.plan])
                    || p.releases.iter().any(|r| named.matches(r)))
                    && (f.state.is_none() || p.releases.iter().any(|r| f.state_matches(&r.state)))
            })
            .map(|p| MatrixRow {
                plan: p.plan.clone(),
                cells: environments.iter().map(|e| p.cell(e)).collect(),
            })
            .collect();
        Matrix { environments, rows }
    }

    /// The trains `f` lets through.
    pub fn trains<'a>(&'a self, f: &'a Filter) -> impl Iterator<Item = &'a TrainView> + 'a {
        self.trains.iter().filter(move |t| f.matches_train(t))
    }

    /// The plan named `plan`.
    pub fn plan(&self, plan: &str) -> Option<&PlanBoard> {
        self.plans.iter().find(|p| p.plan == plan)
    }
}

/// Every environment of `plans`, in order of first appearance.
fn environments_of(plans: &[PlanBoard]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in plans {
        for e in &p.environments {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
    }
    out
}

/// The trains of `workspace` the board shows: every unfinished one, then the newest `recent`
/// finished ones; newest first. A trains journal that cannot be read shows none (and says why).
pub fn trains_of(store: &Store, workspace: &str, recent: usize) -> (Vec<TrainView>, Option<String>) {
    let trains = match super::train::load(store, workspace) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), Some(e.to_string())),
    };
    let mut finished = 0;
    let mut out = Vec::new();
    for t in trains.iter().rev() {
        if t.finished.is_some() {
            if finished >= recent {
                continue;
            }
            finished += 1;
        }
        out.push(super::train::view(store, t));
    }
    (out, None)
}

/// The board of a workspace: every plan read from `store`, and its trains.
pub fn load(store: &Store, workspace: &str, plans: &[Plan], now: DateTime<Utc>) -> Board {
    let boards = plans
        .iter()
        .map(|p| PlanBoard::load(store, p, RECENT, now))
        .collect();
    let (trains, _) = trains_of(store, workspace, RECENT_TRAINS);
    Board::new(workspace, boards, trains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(plan: &str, id: &str, state: &str, envs: &[&str]) -> Row {
        Row {
            plan: plan.into(),
            id: id.into(),
            version: id.into(),
            rtype: "minor".into(),
            state: state.into(),
            stages_done: 1,
            stages: 3,
            created_at: None,
            finished_at: None,
            scheduled_at: None,
            needs: None,
            running: Vec::new(),
            train: None,
            live_on: Vec::new(),
            environments: envs.iter().map(|e| e.to_string()).collect(),
            partial: None,
            driver: None,
        }
    }

    #[test]
    fn a_filter_parses_states_environments_and_names() {
        let envs = vec!["staging".to_string(), "prod".to_string()];
        let f = Filter::parse("  Running env:prod  bill ", &envs).unwrap();
        assert_eq!(f.state.as_deref(), Some("running"));
        assert_eq!(f.env.as_deref(), Some("prod"));
        assert_eq!(f.name.as_deref(), Some("bill"));
        assert_eq!(f.text(), "running env:prod bill");
        assert!(Filter::parse("", &envs).unwrap().is_empty());
        let err = Filter::parse("env:qa", &envs).unwrap_err();
        assert!(err.contains("staging, prod"), "{err}");
        let f = Filter::parse("failed", &envs).unwrap();
        assert!(f.matches(&row("a", "1", "rollback_failed", &[])));
        assert!(!f.matches(&row("a", "1", "running", &[])));
        let f = Filter::parse("env:prod BILL", &envs).unwrap();
        assert!(f.matches(&row("billing", "1", "running", &["staging", "prod"])));
        assert!(!f.matches(&row("billing", "1", "running", &["staging"])));
        assert!(!f.matches(&row("search", "1", "running", &["prod"])));
    }
}
