//! Release trains across a workspace's plans: `train start` (one release per plan, each with its
//! own driver, and the train's record in the workspace's trains journal), `train status`/`list`,
//! `train resume`, `train tick`, the train name accepted by `approve`, `cancel` and `rollback`,
//! and the train's own driver (`train drive`, detached): it watches the members, ends the train,
//! and rolls back the members that completed, the last completed first, when one fails and
//! `[train] on_failure = "rollback"` (or when someone rolls the train back).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};

use super::create::Scope;
use super::{Context, exit, refused, usage};
use crate::ansi::clean;
use crate::engine::request::Op;
use crate::engine::state::ReleaseState;
use crate::engine::train::{self, Train, TrainView};
use crate::event::{Event, FinalState, Record, TrainGateDecl, TrainGateWait, TrainPlan};
use crate::journal::{self, SyncWaker};
use crate::mask::Masker;
use crate::plan::Plan;
use crate::plan::workspace::Workspace;

/// How long a train's driver sleeps at most between looks when nothing it watches changes: a
/// safety net only (the members' journals, their drivers' lock files closing when they die, and
/// the train's journal all wake it).
const LOOK_EVERY: Duration = Duration::from_secs(30);

impl Context {
    /// The same person and store, on one member plan of the workspace.
    fn on_plan(&self, file: &Path) -> Context {
        Context {
            plan: Some(file.to_path_buf()),
            ..self.clone()
        }
    }

    /// The workspace file only (what the train's journal is named after).
    fn workspace_file(&self) -> Result<Workspace> {
        Ok(crate::plan::workspace::load_workspace(&self.workspace_path()?)?)
    }

    /// The trains of this workspace.
    fn trains(&self, ws: &Workspace) -> Result<Vec<Train>> {
        Ok(train::load(&self.store()?, &ws.name)?)
    }

    /// The newest train called `name` of this workspace: exit 2 naming the trains there are.
    fn train_named(&self, ws: &Workspace, name: &str) -> Result<Train> {
        let trains = self.trains(ws)?;
        match train::find(&trains, name) {
            Some(t) => Ok(t.clone()),
            None => {
                let mut names: Vec<&str> = trains.iter().map(|t| t.name.as_str()).collect();
                names.dedup();
                let known = if names.is_empty() {
                    "it has none yet".to_string()
                } else {
                    format!("it has: {}", names.join(", "))
                };
                Err(usage(format!(
                    "no train `{}` in workspace {} ({known})",
                    clean(name),
                    ws.name
                )))
            }
        }
    }

    /// A train of this workspace called `name`, when there is a workspace and such a train
    /// (for `approve`, `cancel` and `rollback`, which take a release or a train).
    pub fn find_train(&self, name: &str) -> Option<(Workspace, Train)> {
        let ws = self.workspace_file().ok()?;
        let trains = self.trains(&ws).ok()?;
        let t = train::find(&trains, name)?.clone();
        Some((ws, t))
    }

    fn train_writer(&self, ws: &Workspace) -> Result<journal::Journal> {
        let j = train::journal(&self.store()?, &ws.name)?;
        Ok(j.writer(Arc::new(Masker::new(Vec::new())))?)
    }

    /// `train start NAME [--version V] [--plans a,b] [--set plan=V]...`.
    pub fn train_start(
        &self,
        name: &str,
        version: Option<&str>,
        only: &[String],
        set: &[String],
    ) -> Result<u8> {
        check_train_name(name)?;
        let (ws, plans) = self.load_workspace()?;
        // The members: every plan, or those named.
        for p in only {
            if !plans.iter().any(|q| &q.name == p) {
                return Err(usage(format!(
                    "--plans: workspace {} has no plan `{}` (it has: {})",
                    ws.name,
                    clean(p),
                    plan_names(&plans)
                )));
            }
        }
        let members: Vec<&Plan> = plans
            .iter()
            .filter(|p| only.is_empty() || only.contains(&p.name))
            .collect();
        let mut versions: Vec<(String, String)> = Vec::new();
        for s in set {
            let Some((p, v)) = s.split_once('=') else {
                return Err(usage(format!("--set `{}`: write PLAN=VERSION", clean(s))));
            };
            if !members.iter().any(|m| m.name == p) {
                return Err(usage(format!(
                    "--set: `{}` is not a plan of this train (it has: {})",
                    clean(p),
                    members
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if let Some((_, first)) = versions.iter().find(|(n, _)| n == p) {
                return Err(usage(format!(
                    "--set: plan {} is given twice ({} and {}); give each plan one version",
                    clean(p),
                    clean(first),
                    clean(v)
                )));
            }
            versions.push((p.to_string(), v.to_string()));
        }
        let mut chosen = Vec::new();
        for p in &members {
            let v = match (versions.iter().find(|(n, _)| n == &p.name), version) {
                (Some((_, v)), _) => v.clone(),
                (None, Some(v)) => v.to_string(),
                (None, None) => crate::git::suggest_next(p)
                    .map_err(|e| {
                        usage(format!(
                            "plan {}: no --version given and none can be suggested: {e} (give --version or --set {}=V)",
                            p.name, p.name
                        ))
                    })?
                    .version,
            };
            if v.trim().is_empty() {
                return Err(usage(format!("plan {}: the version must not be empty", p.name)));
            }
            super::create::check_version(&v)?;
            chosen.push((*p, v));
        }
        // Refused before anything is written: a secret that cannot be masked, a member version
        // already unfinished.
        for (p, _) in &chosen {
            p.check_secrets_in_env()?;
        }
        let store = self.store()?;
        if !self.allow_duplicate {
            for (p, v) in &chosen {
                if let Some((other, word)) = super::create::unfinished_release(&store, &p.name, v)? {
                    return Err(super::Duplicate(format!(
                        "release {} of plan {} is still running ({word}); finish or cancel it, or pass --allow-duplicate",
                        clean(&other),
                        p.name
                    ))
                    .into());
                }
            }
        }
        let gates: Vec<TrainGateDecl> = ws
            .train
            .gates
            .iter()
            .map(|g| TrainGateDecl {
                name: g.name.clone(),
                environment: g.environment.clone(),
                approvals: g.approvals,
                checklist: g.checklist.clone(),
                approvers: g.approvers.clone(),
            })
            .collect();
        let started_event = Event::TrainStarted {
            train: name.to_string(),
            members: chosen
                .iter()
                .map(|(p, v)| TrainPlan {
                    plan: p.name.clone(),
                    version: v.clone(),
                    file: p.path.display().to_string(),
                })
                .collect(),
            gates,
            rollback_on_failure: ws.train.rollback_on_failure,
        };
        let actor = self.actor();
        let mut j = self.train_writer(&ws)?;
        let (written, _) = j.append_checked(&actor, |seen| {
            if let Some(t) = train::find(&train::fold(seen), name)
                && t.finished.is_none()
            {
                return Err(refused(format!(
                    "train {} of workspace {} is still running; finish or cancel it first",
                    clean(name),
                    ws.name
                )));
            }
            Ok(vec![started_event])
        })?;
        let started = written[0].seq;
        crate::outln!("train {} started ({} member(s)):", clean(name), chosen.len());
        // The members' releases are created side by side (each in its own plan's folder, under
        // its own lock: most of the time is their git notes and fsyncs), then recorded in the
        // train in the workspace's order. Every release made is recorded, even when another
        // could not be made.
        let created = parallel_map(&chosen, |(p, v)| {
            self.create_member_release(&ws, name, started, p, v)
        });
        let mut made = Vec::new();
        let mut failed = None;
        for ((p, v), rdir) in chosen.iter().zip(created) {
            match rdir {
                Ok(rdir) => {
                    self.record_member(started, p, &rdir, &mut j)?;
                    crate::outln!("  {}: release {} ({})", p.name, clean(&rdir.id), clean(v));
                    made.push((p.path.clone(), rdir));
                }
                Err(e) if failed.is_none() => failed = Some((p.name.clone(), e)),
                Err(_) => {}
            }
        }
        if let Some((plan, e)) = failed {
            return Err(e.wrap_err(format!(
                "train {} started, but the release of {plan} could not be created (`flightdeck train resume {}` creates what is missing and starts the drivers)",
                clean(name),
                clean(name)
            )));
        }
        // Every member exists before any driver starts (a member's waits name the others); the
        // drivers start together.
        let ctxs: Vec<Context> = made.iter().map(|(file, _)| self.on_plan(file)).collect();
        let starts: Vec<(&Context, &journal::ReleaseDir)> =
            ctxs.iter().zip(made.iter().map(|(_, r)| r)).collect();
        if let Err(code) = Context::spawn_drivers(&starts)? {
            return Ok(code);
        }
        self.spawn_train_driver(&ws, name)?;
        crate::outln!(
            "follow it with `flightdeck train status {}` (or the workspace board: `flightdeck`)",
            clean(name)
        );
        Ok(exit::OK)
    }

    /// Create the release of one member plan, joined to the train, and record it in the train.
    fn create_member(
        &self,
        ws: &Workspace,
        name: &str,
        started: u64,
        plan: &Plan,
        version: &str,
        j: &mut journal::Journal,
    ) -> Result<journal::ReleaseDir> {
        let rdir = self.create_member_release(ws, name, started, plan, version)?;
        self.record_member(started, plan, &rdir, j)?;
        Ok(rdir)
    }

    /// Record in the train that `rdir` is its member release of `plan`.
    fn record_member(
        &self,
        started: u64,
        plan: &Plan,
        rdir: &journal::ReleaseDir,
        j: &mut journal::Journal,
    ) -> Result<()> {
        j.append(
            &self.actor(),
            vec![Event::TrainMember {
                started,
                plan: plan.name.clone(),
                release: rdir.id.clone(),
            }],
        )?;
        Ok(())
    }

    /// Create the release of one member plan, joined to the train (not yet recorded in it).
    fn create_member_release(
        &self,
        ws: &Workspace,
        name: &str,
        started: u64,
        plan: &Plan,
        version: &str,
    ) -> Result<journal::ReleaseDir> {
        let waits: Vec<TrainGateWait> = ws
            .train
            .gates
            .iter()
            .filter_map(|g| {
                let env = g.environment_in(plan)?;
                plan.environments.contains_key(&env).then(|| TrainGateWait {
                    gate: g.name.clone(),
                    environment: env,
                })
            })
            .collect();
        let scope = Scope {
            train: Some(super::create::TrainJoin {
                train: name.to_string(),
                workspace: ws.name.clone(),
                started,
                gates: waits,
            }),
            ..Scope::default()
        };
        let mctx = Context {
            allow_duplicate: true,
            ..self.on_plan(&plan.path)
        };
        mctx.create_scoped(Some(version), None, &scope)
    }

    /// `train status NAME [--json]`.
    pub fn train_status(&self, name: &str, json: bool) -> Result<u8> {
        let ws = self.workspace_file()?;
        let t = self.train_named(&ws, name)?;
        let v = train::view(&self.store()?, &t);
        if json {
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            for line in train_lines(&v, chrono::Utc::now()) {
                crate::outln!("{line}");
            }
        }
        Ok(match v.state.as_str() {
            "succeeded" => exit::OK,
            "running" | "cancelling" | "rolling_back" => exit::PAUSED,
            "cancelled" => exit::CANCELLED,
            _ => exit::FAILED,
        })
    }

    /// `train list [--json]`: the workspace's trains, newest first.
    pub fn train_list(&self, json: bool) -> Result<u8> {
        let ws = self.workspace_file()?;
        let store = self.store()?;
        let views: Vec<TrainView> = self
            .trains(&ws)?
            .iter()
            .rev()
            .map(|t| train::view(&store, t))
            .collect();
        if json {
            crate::outln!("{}", serde_json::to_string_pretty(&views)?);
            return Ok(exit::OK);
        }
        if views.is_empty() {
            crate::outln!(
                "workspace {}: no trains yet (`flightdeck train start NAME`)",
                ws.name
            );
        }
        for v in &views {
            crate::outln!(
                "{:<20} {:<13} {} member(s), started {} by {}",
                v.name,
                v.state,
                v.members.len(),
                v.started_at
                    .with_timezone(&chrono::Local)
                    .format("%Y-%m-%d %H:%M"),
                v.started_by
            );
        }
        Ok(exit::OK)
    }

    /// `train resume NAME`: create members that are missing (the train's start was cut short),
    /// start a driver for every unfinished member without one, and the train's own driver.
    pub fn train_resume(&self, name: &str) -> Result<u8> {
        let ws = self.workspace_file()?;
        let t = self.train_named(&ws, name)?;
        let store = self.store()?;
        let mut j = self.train_writer(&ws)?;
        let mut resumed = 0;
        for m in &t.members {
            let file = PathBuf::from(&m.file);
            let mctx = self.on_plan(&file);
            let rdir = match &m.release {
                Some(r) => store.release(&m.plan, r)?,
                None if t.finished.is_none() && !t.cancel_requested => {
                    let plan = crate::plan::load(&file)?;
                    let rdir = self.create_member(&ws, name, t.started, &plan, &m.version, &mut j)?;
                    crate::outln!("{}: release {} created", m.plan, clean(&rdir.id));
                    rdir
                }
                None => continue,
            };
            let st = super::load_state(&rdir)?;
            // Driven by a live process of this machine: nothing to do. Otherwise try: a lease
            // on a shared store of a driver that died here is taken over at once, one of
            // another machine's live driver is refused (said by `spawn_driver`).
            let driven_here = |rdir: &journal::ReleaseDir| {
                rdir.live_driver()
                    .is_some_and(|pid| pid > 0 && crate::procgroup::process_alive(pid as i32))
            };
            if st.finished.is_some() || driven_here(&rdir) {
                continue;
            }
            // A driver killed a moment ago may still hold its lock while its threads exit:
            // asked again for a little while, until it is let go.
            let mut tries = 0;
            loop {
                match mctx.spawn_driver_detached(&rdir, false)? {
                    Ok(_) => {
                        crate::outln!("{}: release {} resumed", m.plan, clean(&rdir.id));
                        resumed += 1;
                    }
                    Err(code) if code == exit::LOCKED && tries < 20 && !driven_here(&rdir) => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    Err(code) if code == exit::LOCKED => {}
                    Err(code) => return Ok(code),
                }
                break;
            }
        }
        let t = self.train_named(&ws, name)?;
        if t.finished.is_none() {
            if self.spawn_train_driver(&ws, name)? {
                crate::outln!("train {}: its driver started again", clean(name));
            }
        } else if resumed == 0 {
            crate::outln!(
                "train {} is {}: nothing to resume",
                clean(name),
                t.finished.as_ref().map_or("", |f| f.state.as_str())
            );
        }
        Ok(exit::OK)
    }

    /// `approve TRAIN [GATE]`: one person's approval of a train gate (the only one, or GATE).
    pub fn train_approve(&self, ws: &Workspace, t: &Train, gate: Option<&str>, note: String) -> Result<u8> {
        crate::outln!("{}", self.approve_train_gate(ws, t, gate, note)?);
        Ok(exit::OK)
    }

    /// [`Context::train_approve`], saying what it did instead of printing it (the cockpit).
    pub fn approve_train_gate(
        &self,
        ws: &Workspace,
        t: &Train,
        gate: Option<&str>,
        note: String,
    ) -> Result<String> {
        let g = pick_gate(t, gate)?;
        let actor = self.actor();
        if !g.decl.approvers.is_empty() && !g.decl.approvers.iter().any(|a| a.eq_ignore_ascii_case(&actor)) {
            return Err(refused(format!(
                "{actor} may not approve train gate {} (approvers: {})",
                g.decl.name,
                g.decl.approvers.join(", ")
            )));
        }
        let gate = g.decl.name.clone();
        let started = t.started;
        let mut j = self.train_writer(ws)?;
        let (written, seen) = j.append_checked(&actor, |seen| {
            let trains = train::fold(seen);
            let now = trains
                .iter()
                .find(|x| x.started == started)
                .expect("the train read before");
            open_for_requests(now)?;
            let g = now.gate(&gate).expect("the gate read before");
            if g.approvals.iter().any(|a| a.actor == actor) {
                return Err(refused(format!(
                    "{actor} already approved train gate {gate} of train {} (each person counts once)",
                    now.name
                )));
            }
            Ok(vec![Event::TrainApproved {
                started,
                gate: gate.clone(),
                note,
            }])
        })?;
        let all: Vec<Record> = seen.into_iter().chain(written).collect();
        let trains = train::fold(&all);
        let now = trains.iter().find(|x| x.started == started).expect("the train");
        let g = now.gate(&gate).expect("the gate");
        Ok(format!(
            "{actor} approved train gate {gate} of train {} ({}){}",
            clean(&now.name),
            g.progress(),
            if g.open() {
                ": open, every member's stages behind it go on"
            } else {
                ""
            }
        ))
    }

    /// `train tick NAME GATE ITEM`.
    pub fn train_tick(&self, name: &str, gate: &str, item: &str, note: String) -> Result<u8> {
        let ws = self.workspace_file()?;
        let t = self.train_named(&ws, name)?;
        let g = pick_gate(&t, Some(gate))?;
        let i = item_index(&g.decl.checklist, item).map_err(usage)?;
        let started = t.started;
        let actor = self.actor();
        let gate = g.decl.name.clone();
        let mut j = self.train_writer(&ws)?;
        j.append_checked(&actor, |seen| {
            let trains = train::fold(seen);
            let now = trains
                .iter()
                .find(|x| x.started == started)
                .expect("the train read before");
            open_for_requests(now)?;
            if let Some(m) = now.gate(&gate).and_then(|g| g.ticked.get(&i)) {
                return Err(refused(format!(
                    "item {} was ticked by {} already",
                    i + 1,
                    m.actor
                )));
            }
            Ok(vec![Event::TrainTicked {
                started,
                gate: gate.clone(),
                item: i,
                note,
            }])
        })?;
        crate::outln!(
            "{actor} ticked item {} \"{}\" of train gate {gate}",
            i + 1,
            clean(&g.decl.checklist[i])
        );
        Ok(exit::OK)
    }

    /// `cancel TRAIN`: every unfinished member is cancelled, and the train ends `cancelled`.
    pub fn train_cancel(&self, ws: &Workspace, t: &Train) -> Result<u8> {
        crate::outln!("{}", self.cancel_train(ws, t)?);
        self.cancel_members(t)?;
        Ok(exit::OK)
    }

    /// Journal the train's cancel and start its driver, which cancels every unfinished member
    /// (`cancel TRAIN` also asks them itself, saying how each answered); what was done.
    pub fn cancel_train(&self, ws: &Workspace, t: &Train) -> Result<String> {
        let started = t.started;
        let mut j = self.train_writer(ws)?;
        j.append_checked(&self.actor(), |seen| {
            let trains = train::fold(seen);
            let now = trains
                .iter()
                .find(|x| x.started == started)
                .expect("the train read before");
            open_for_requests(now)?;
            Ok::<_, color_eyre::Report>(vec![Event::TrainCancelRequested { started }])
        })?;
        self.spawn_train_driver(ws, &t.name)?;
        Ok(format!(
            "train {}: cancelling every unfinished member",
            clean(&t.name)
        ))
    }

    fn cancel_members(&self, t: &Train) -> Result<()> {
        let store = self.store()?;
        for m in &t.members {
            let Some(r) = &m.release else { continue };
            let Ok((rdir, st)) = train::member_state(&store, &m.plan, r) else {
                continue;
            };
            // Asked once: a cancel its driver has yet to answer is not asked again (with no
            // driver to answer it, one is started).
            let asked = st
                .requests
                .values()
                .any(|r| matches!(r.event, Event::CancelRequested {}) && r.handled.is_none());
            if asked && st.finished.is_none() && rdir.live_driver().is_none() {
                let _ = self
                    .on_plan(Path::new(&m.file))
                    .spawn_driver_detached(&rdir, false);
            }
            if st.finished.is_none() && !st.cancelling && !asked {
                let answer = self.on_plan(Path::new(&m.file)).request(Some(r), Op::Cancel);
                match answer {
                    Ok(_) => crate::outln!("  {}: release {} cancelled", m.plan, clean(r)),
                    Err(e) => crate::outln!("  {}: release {}: {e}", m.plan, clean(r)),
                }
            }
        }
        Ok(())
    }

    /// `rollback TRAIN`: the members that completed are rolled back, the last completed first,
    /// one after another (each as `rollback` would).
    pub fn train_rollback(&self, ws: &Workspace, t: &Train, force: bool) -> Result<u8> {
        crate::outln!("{}", self.rollback_train(ws, t, force)?);
        Ok(exit::OK)
    }

    /// The newer releases live or deploying where train `t`'s completed members would be rolled
    /// back, a line per member (`plan/release: what is newer where`): what rolling it back goes
    /// over, which `rollback` refuses without `--force`.
    pub fn train_newer_releases(&self, t: &Train) -> Result<Vec<String>> {
        let store = self.store()?;
        let order = completed_order(&store, t);
        if order.is_empty() {
            return Err(refused(format!(
                "train {}: no member completed, nothing to roll back",
                clean(&t.name)
            )));
        }
        self.rollback_over(&store, t, &order)
    }

    fn rollback_over(&self, store: &journal::Store, t: &Train, order: &[String]) -> Result<Vec<String>> {
        let mut over = Vec::new();
        for m in &t.members {
            let Some(r) = &m.release else { continue };
            if !order.contains(&format!("{}/{r}", m.plan)) {
                continue;
            }
            let (rdir, st) = train::member_state(store, &m.plan, r).map_err(refused)?;
            let newer = self
                .on_plan(Path::new(&m.file))
                .newer_there(&rdir, &st, None, &[])?;
            if !newer.is_empty() {
                over.push(format!(
                    "{}/{r}: {}",
                    m.plan,
                    crate::engine::envs::newer_text(&newer)
                ));
            }
        }
        Ok(over)
    }

    /// [`Context::train_rollback`], saying what it did instead of printing it (the cockpit).
    pub fn rollback_train(&self, ws: &Workspace, t: &Train, force: bool) -> Result<String> {
        let store = self.store()?;
        let order = completed_order(&store, t);
        if order.is_empty() {
            return Err(refused(format!(
                "train {}: no member completed, nothing to roll back",
                clean(&t.name)
            )));
        }
        // As `rollback` would refuse each: over a newer release live or deploying there, all
        // said at once, before anything is rolled back.
        if !force {
            let over = self.rollback_over(&store, t, &order)?;
            if !over.is_empty() {
                return Err(refused(format!(
                    "train {} would roll back over newer releases ({}); `flightdeck rollback {} --force` rolls them back anyway",
                    clean(&t.name),
                    over.join("; "),
                    clean(&t.name)
                )));
            }
        }
        let started = t.started;
        let mut j = self.train_writer(ws)?;
        let reason = format!("rolled back by {}", self.actor());
        let o = order.clone();
        j.append_checked(&self.actor(), |seen| {
            let trains = train::fold(seen);
            let now = trains
                .iter()
                .find(|x| x.started == started)
                .expect("the train read before");
            if now.rollback.as_ref().is_some_and(|_| now.finished.is_none()) {
                return Err(refused(format!("train {} is rolling back already", now.name)));
            }
            if now.finished.is_none() {
                return Err(refused(format!(
                    "train {} is still running: cancel it first (`flightdeck cancel {}`), then roll it back",
                    now.name, now.name
                )));
            }
            Ok(vec![Event::TrainRollbackStarted {
                started,
                order: o,
                reason,
                force,
            }])
        })?;
        self.spawn_train_driver(ws, &t.name)?;
        Ok(format!(
            "train {}: rolling back, the last completed first: {}",
            clean(&t.name),
            order.join(", then ")
        ))
    }

    /// Start `flightdeck train drive NAME` in its own session unless one drives the train;
    /// whether one was started.
    fn spawn_train_driver(&self, ws: &Workspace, name: &str) -> Result<bool> {
        let store = self.store()?;
        let j = train::journal(&store, &ws.name)?;
        let dir = j.path().parent().expect("a journal has a folder").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(journal::io_error(&dir))?;
        let lock_path = dir.join(format!("{name}.lock"));
        if lock_held(&lock_path)? {
            return Ok(false);
        }
        let mut args: Vec<std::ffi::OsString> = vec!["train".into(), "drive".into(), name.into()];
        args.push("--workspace".into());
        args.push(ws.path.clone().into());
        if let Some(s) = &self.store_url {
            args.push("--store".into());
            args.push(s.into());
        }
        let mut cmd = self.detached(&args, &dir.join(format!("{name}.log")))?;
        // In its own session, it outlives a command that started it; a cockpit that started it
        // reaps it when it ends.
        super::driver::reap_when_done(cmd.spawn().wrap_err("starting the train's driver")?);
        Ok(true)
    }

    /// `train drive NAME` (started by `train start`, `resume`, `cancel`, `rollback`): until the
    /// train ends, end it when its members have, and run its rollback across plans.
    pub fn train_drive(&self, name: &str) -> Result<u8> {
        let ws = self.workspace_file()?;
        let store = self.store()?;
        let j = train::journal(&store, &ws.name)?;
        let dir = j.path().parent().expect("a journal has a folder").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(journal::io_error(&dir))?;
        let lock_path = dir.join(format!("{name}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(journal::io_error(&lock_path))?;
        if lock.try_lock().is_err() {
            return Ok(exit::LOCKED);
        }
        let mut writer = self.train_writer(&ws)?;
        loop {
            // Watch the train's journal and every member's folder first, then read and act: a
            // change after the read wakes the wait.
            let t = self.train_named(&ws, name)?;
            let waker = SyncWaker::watch_all(&self.train_paths(&ws, &t)?);
            let t = self.train_named(&ws, name)?;
            if t.finished.is_some() {
                return Ok(exit::OK);
            }
            self.train_step(&t, &mut writer)?;
            waker.wait(LOOK_EVERY);
        }
    }

    /// What a train's driver watches: the trains journal's folder and each member's folder.
    fn train_paths(&self, ws: &Workspace, t: &Train) -> Result<Vec<PathBuf>> {
        let store = self.store()?;
        let j = train::journal(&store, &ws.name)?;
        let mut out: Vec<PathBuf> = j.path().parent().map(PathBuf::from).into_iter().collect();
        for m in &t.members {
            if let Some(r) = &m.release
                && let Ok(rdir) = store.release(&m.plan, r)
            {
                out.push(rdir.path);
            }
        }
        Ok(out)
    }

    /// One look of the train's driver.
    fn train_step(&self, t: &Train, writer: &mut journal::Journal) -> Result<()> {
        let store = self.store()?;
        let mut states: Vec<(&train::Member, Option<ReleaseState>)> = Vec::new();
        for m in &t.members {
            let st = m
                .release
                .as_ref()
                .and_then(|r| train::member_state(&store, &m.plan, r).ok().map(|(_, st)| st));
            states.push((m, st));
        }
        let finish = |writer: &mut journal::Journal, state: &str, reason: String| -> Result<()> {
            writer.append(
                &self.actor(),
                vec![Event::TrainFinished {
                    started: t.started,
                    state: state.to_string(),
                    reason,
                }],
            )?;
            Ok(())
        };
        let all_finished = states.iter().all(|(m, st)| match st {
            Some(st) => st.finished.is_some(),
            // Never created: the train was cut short at its start; it counts once cancelled.
            None => m.release.is_none() && t.cancel_requested,
        });
        if let Some(rb) = &t.rollback {
            let next = rb.order.iter().find(|m| !rb.done.iter().any(|(d, _)| d == *m));
            let Some(member) = next else {
                let ok = rb.done.iter().all(|(_, r)| r.is_ok());
                let failed: Vec<String> = rb
                    .done
                    .iter()
                    .filter_map(|(m, r)| match r {
                        Err(why) if !why.is_empty() => Some(format!("{m} ({why})")),
                        Err(_) => Some(m.clone()),
                        Ok(()) => None,
                    })
                    .collect();
                if ok {
                    finish(writer, "rolled_back", rb.reason.clone())?;
                } else {
                    finish(
                        writer,
                        "rollback_failed",
                        format!("{}: rollback failed of {}", rb.reason, failed.join(", ")),
                    )?;
                }
                return Ok(());
            };
            let record = |writer: &mut journal::Journal, ok: bool, why: String| -> Result<()> {
                let e = Event::TrainMemberRolledBack {
                    started: t.started,
                    member: member.clone(),
                    ok,
                    why,
                };
                writer.append(&self.actor(), vec![e])?;
                Ok(())
            };
            let (plan, release) = member.split_once('/').unwrap_or((member, ""));
            let Some((m, Some(st))) = states
                .iter()
                .find(|(m, _)| m.plan == plan && m.release.as_deref() == Some(release))
            else {
                record(writer, false, "its release cannot be read".into())?;
                return Ok(());
            };
            let rolling = st.rollback.as_ref().is_some_and(|r| r.finished.is_none());
            let rolled = st.finished.as_ref().is_some_and(|f| {
                matches!(
                    f.state,
                    FinalState::RolledBack | FinalState::PartiallyRolledBack | FinalState::RollbackFailed
                )
            });
            if rolled {
                let ok = st
                    .finished
                    .as_ref()
                    .is_some_and(|f| f.state != FinalState::RollbackFailed);
                let why = if ok {
                    String::new()
                } else {
                    "its rollback failed".into()
                };
                record(writer, ok, why)?;
            } else if !rolling && st.finished.is_some() {
                let mctx = self.on_plan(Path::new(&m.file));
                // A request of ours its driver has not answered yet: its answer wakes us. (Asking
                // again would only queue another.) With no driver to answer it (the one started
                // for it died), one is started.
                if st
                    .requests
                    .values()
                    .any(|r| matches!(r.event, Event::RollbackRequested { .. }) && r.handled.is_none())
                {
                    if let Ok(rdir) = store.release(plan, release)
                        && rdir.live_driver().is_none()
                    {
                        let _ = mctx.spawn_driver_detached(&rdir, false);
                    }
                    return Ok(());
                }
                // Nothing of it to undo (no completed stage with a rollback command): it is
                // done, as far as the train's rollback goes; said, not asked of its driver.
                let nothing = store
                    .release(plan, release)
                    .ok()
                    .and_then(|rdir| mctx.plan_for(&rdir).ok())
                    .and_then(|p| {
                        crate::engine::scheduler::rollback_request(
                            &p,
                            st,
                            crate::engine::scheduler::Scope::WHOLE,
                        )
                        .err()
                    });
                if let Some(why) = nothing {
                    record(writer, true, why)?;
                    return Ok(());
                }
                match mctx.rollback(Some(release), None, Vec::new(), rb.force) {
                    Err(e) => {
                        crate::errln!("flightdeck: train {}: rollback of {member} refused: {e}", t.name);
                        record(writer, false, format!("refused: {e}"))?;
                    }
                    // Its driver said no: said in the train, never asked again (asking again
                    // would be answered the same, for ever).
                    Ok(answer) => {
                        if let Some((false, why)) = answer.handled {
                            crate::errln!(
                                "flightdeck: train {}: rollback of {member} refused: {why}",
                                t.name
                            );
                            record(writer, false, format!("refused: {why}"))?;
                        }
                    }
                }
            }
            return Ok(());
        }
        if t.cancel_requested {
            if all_finished {
                finish(writer, "cancelled", String::new())?;
            } else {
                self.cancel_members(t)?;
            }
            return Ok(());
        }
        if !all_finished {
            return Ok(());
        }
        let failed: Vec<String> = states
            .iter()
            .filter(|(_, st)| st.as_ref().is_none_or(|st| !train::succeeded(st)))
            .map(|(m, st)| {
                let word = st
                    .as_ref()
                    .and_then(|s| s.finished.as_ref())
                    .map_or("not created", |f| f.state.as_str());
                format!("{} {word}", m.plan)
            })
            .collect();
        if failed.is_empty() {
            finish(writer, "succeeded", String::new())?;
            return Ok(());
        }
        let reason = format!("member {}", failed.join(", "));
        let order = completed_order(&store, t);
        if t.rollback_on_failure && !order.is_empty() {
            writer.append(
                &self.actor(),
                vec![Event::TrainRollbackStarted {
                    started: t.started,
                    order,
                    reason: format!("{reason} (on_failure = rollback)"),
                    force: false,
                }],
            )?;
        } else {
            finish(writer, "failed", reason)?;
        }
        Ok(())
    }
}

/// `f` over `items` on a few threads at once (at most one per core, and never more than
/// eight), the results in the items' order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(&f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The members that completed (succeeded), the last completed first, as `plan/release`.
fn completed_order(store: &journal::Store, t: &Train) -> Vec<String> {
    let mut done: Vec<(chrono::DateTime<chrono::Utc>, String)> = t
        .members
        .iter()
        .filter_map(|m| {
            let r = m.release.as_ref()?;
            let (_, st) = train::member_state(store, &m.plan, r).ok()?;
            Some((train::completed_at(&st)?, format!("{}/{r}", m.plan)))
        })
        .collect();
    done.sort_by(|a, b| b.cmp(a));
    done.into_iter().map(|(_, m)| m).collect()
}

/// The train gate meant: GATE, or the train's only one.
fn pick_gate<'t>(t: &'t Train, gate: Option<&str>) -> Result<&'t train::GateState> {
    let names = || {
        t.gates
            .iter()
            .map(|g| g.decl.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match gate {
        Some(g) => t.gate(g).ok_or_else(|| {
            usage(format!(
                "train {} has no gate `{}` (it has: {})",
                t.name,
                clean(g),
                if t.gates.is_empty() {
                    "none".into()
                } else {
                    names()
                }
            ))
        }),
        None => match t.gates.as_slice() {
            [one] => Ok(one),
            [] => Err(usage(format!("train {} has no gates to approve", t.name))),
            _ => Err(usage(format!(
                "train {} has several gates: name one ({})",
                t.name,
                names()
            ))),
        },
    }
}

/// A train that takes approvals and ticks: not finished, not cancelled.
fn open_for_requests(t: &Train) -> Result<()> {
    if let Some(end) = &t.finished {
        return Err(refused(format!("train {} is {}", t.name, end.state)));
    }
    if t.cancel_requested {
        return Err(refused(format!("train {} is being cancelled", t.name)));
    }
    Ok(())
}

/// A checklist item given as its text, a unique prefix, or its number.
fn item_index(items: &[String], spec: &str) -> std::result::Result<usize, String> {
    if let Ok(n) = spec.parse::<usize>()
        && (1..=items.len()).contains(&n)
    {
        return Ok(n - 1);
    }
    if let Some(i) = items.iter().position(|t| t == spec) {
        return Ok(i);
    }
    let matches: Vec<usize> = (0..items.len()).filter(|&i| items[i].starts_with(spec)).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!(
            "no single checklist item `{}` (items: {})",
            clean(spec),
            items
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{} {t}", i + 1))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

fn check_train_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "train name `{}` may hold only letters, digits, `.`, `_` and `-` (at most 100)",
            name.escape_debug()
        )))
    }
}

fn plan_names(plans: &[Plan]) -> String {
    plans
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether another process holds the lock file at `path` (a train's driver lives).
fn lock_held(path: &Path) -> Result<bool> {
    let f = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(journal::io_error(path)(e).into()),
    };
    Ok(match f.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => return Err(journal::io_error(path)(e).into()),
    })
}

/// `train status` as lines for a person.
pub fn train_lines(v: &TrainView, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let mut out = Vec::new();
    let reason = if v.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", clean(&v.reason))
    };
    out.push(format!(
        "train {}: {}{reason} (started {} by {})",
        clean(&v.name),
        v.state.replace('_', " "),
        v.started_at
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S"),
        clean(&v.started_by)
    ));
    for m in &v.members {
        out.push(format!(
            "  {:<16} {:<10} {:<20} {}/{} stages{}",
            clean(&m.plan),
            clean(&m.version),
            m.release.as_deref().map(clean).unwrap_or_default(),
            m.stages_done,
            m.stages,
            format!("  {}", m.state.replace('_', " "))
                + &m.problem
                    .as_deref()
                    .map(|p| format!(" ({})", clean(p)))
                    .unwrap_or_default()
        ));
    }
    for g in &v.gates {
        out.push(format!(
            "  gate {}: {} ({}){}",
            clean(&g.name),
            if g.open { "open" } else { "waiting" },
            g.progress,
            if g.approved_by.is_empty() {
                String::new()
            } else {
                format!("; approved by {}", clean(&g.approved_by.join(", ")))
            }
        ));
    }
    for a in &v.blocking {
        out.push(format!("  ⇢ {}", clean(&a.text(now))));
    }
    if !v.rollback_order.is_empty() {
        out.push(format!(
            "  rollback order: {}",
            clean(&v.rollback_order.join(" -> "))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parallel_map;

    #[test]
    fn parallel_map_keeps_the_order_of_its_items() {
        let items: Vec<u64> = (0..100).collect();
        let out = parallel_map(&items, |i| {
            // Uneven work, so that items finish out of order.
            std::thread::sleep(std::time::Duration::from_micros((100 - i) * 10));
            i * 2
        });
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
        assert!(parallel_map(&[] as &[u64], |i| *i).is_empty());
        assert_eq!(parallel_map(&[7u64], |i| i + 1), [8]);
    }
}
