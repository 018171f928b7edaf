//! What the read-only commands show: `check`, `status`, `list`, `logs`, `verify`, `notes`, `next`
//! and `drift`, printed (through `outln!`/`errln!`) for the command line, each ending in its exit
//! code.

use color_eyre::eyre::Result;

use super::{Context, exit, grace, load_state, runtime, usage};
use crate::ansi::clean;
use crate::engine::driver;
use crate::engine::history::History;
use crate::engine::state::ReleaseState;
use crate::headless::{status_json, status_text};
use crate::journal::{self, Verified};
use crate::plan;

/// What `drift` compares.
#[derive(Debug, Clone, Default)]
pub struct DriftQuery {
    /// Environments to compare (`env/target` for one target); empty: every environment with a
    /// probe or an expect file. The baseline is always included.
    pub env: Vec<String>,
    /// The environment (or `env/target`) the others are compared with (default: the plan's `[drift] baseline`).
    pub baseline: Option<String>,
    /// Only the keys that drift somewhere.
    pub only_diff: bool,
    pub json: bool,
    /// Instead of the matrix: what changed in each environment since this release started.
    pub since: Option<String>,
}

impl Context {
    pub fn check(&self) -> Result<u8> {
        if self.in_workspace() {
            return self.check_workspace();
        }
        let plan = self.load_plan()?;
        plan.check_secrets_in_env()?;
        let targets: usize = plan.environments.values().map(|e| e.targets.len()).sum();
        crate::outln!(
            "{}: plan `{}` is valid: {} stage(s), {} environment(s) ({} target(s)), {} gate(s)",
            plan.path.display(),
            plan.name,
            plan.stages.len(),
            plan.environments.len(),
            targets,
            plan.gates.len()
        );
        Ok(exit::OK)
    }

    /// `check` on a workspace: its file and every plan, and what crosses plans.
    pub fn check_workspace(&self) -> Result<u8> {
        let (ws, plans) = self.load_workspace()?;
        for plan in &plans {
            plan.check_secrets_in_env()?;
        }
        let stages: usize = plans.iter().map(|p| p.stages.len()).sum();
        let cross: usize = plans.iter().flat_map(|p| &p.stages).map(|s| s.after.len()).sum();
        crate::outln!(
            "{}: workspace `{}` is valid: {} plan(s) ({}), {} stage(s), {} cross-plan need(s), {} train gate(s)",
            ws.path.display(),
            ws.name,
            plans.len(),
            plans
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            stages,
            cross,
            ws.train.gates.len()
        );
        Ok(exit::OK)
    }

    pub fn status(&self, release: Option<&str>, json: bool) -> Result<u8> {
        let rdir = self.find(release)?;
        let st = load_state(&rdir)?;
        let live = rdir.live_driver();
        // On a shared store: the driver of another machine, and how the store is faring.
        let remote = live.filter(|p| *p == 0).and_then(|_| rdir.remote_driver());
        let health = crate::journal::replica::health();
        if json {
            let mut v = status_json(&st, live);
            if let Some(o) = v.as_object_mut() {
                if let Some((host, pid)) = &remote {
                    o.insert("driver".into(), serde_json::json!(pid));
                    o.insert("driver_host".into(), serde_json::json!(host));
                }
                if let Some((name, h)) = &health {
                    let since = h
                        .away
                        .as_ref()
                        .map(|(t, _)| chrono::DateTime::<chrono::Utc>::from(*t));
                    o.insert(
                        "store".into(),
                        serde_json::json!({
                            "url": name,
                            "reachable": h.away.is_none(),
                            "away_since": since,
                            "away_why": h.away.as_ref().map(|(_, why)| why),
                            "notified": h.notify.as_ref().map(Result::is_ok),
                            "polling_why": h.notify.as_ref().and_then(|n| n.as_ref().err()),
                        }),
                    );
                }
            }
            crate::outln!("{v}");
        } else {
            let mut text = status_text(&st, live, chrono::Utc::now());
            if let Some((host, pid)) = &remote {
                text.push_str(&format!(
                    "  driven by pid {pid} on {}: it holds the release's lease on the shared store\n",
                    crate::ansi::clean(host)
                ));
            }
            if let Some(said) = crate::journal::replica::health_said(std::time::SystemTime::now()) {
                text.push_str(&format!("  {}\n", crate::ansi::clean(&said)));
            }
            crate::term::out_text(&text);
        }
        Ok(exit::OK)
    }

    /// Every unfinished release and the newest `limit` finished ones (0: all), newest first.
    /// Finished releases come from the plan's index, so this reads `limit` journals, not all.
    pub fn list(&self, all: bool, limit: usize, json: bool) -> Result<u8> {
        let store = self.store()?;
        let plans = if all {
            store.plans()?
        } else {
            vec![self.load_plan()?.name]
        };
        let mut open = Vec::new();
        let mut finished = Vec::new();
        let mut more = false;
        for plan in &plans {
            let history = History::open(&store, plan)?;
            for o in history.open_releases()? {
                open.push((o.rdir.live_driver(), o.state));
            }
            let mut taken = 0;
            for s in history.finished() {
                if limit != 0 && taken == limit {
                    more = true;
                    break;
                }
                let Ok(rdir) = store.release(plan, &s.id) else {
                    continue;
                };
                let Ok(st) = load_state(&rdir) else { continue };
                finished.push((None, st));
                taken += 1;
            }
        }
        let newest_first = |a: &(Option<u32>, ReleaseState), b: &(Option<u32>, ReleaseState)| {
            b.1.created_at
                .cmp(&a.1.created_at)
                .then_with(|| b.1.id.cmp(&a.1.id))
        };
        finished.sort_by(newest_first);
        if limit != 0 && finished.len() > limit {
            finished.truncate(limit);
            more = true;
        }
        let mut rows = open;
        rows.append(&mut finished);
        rows.sort_by(newest_first);
        if json {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(live, st)| {
                    let mut o = status_json(st, *live);
                    if let Some(m) = o.as_object_mut() {
                        m.remove("gates");
                    }
                    o
                })
                .collect();
            crate::outln!("{}", serde_json::Value::Array(v));
        } else if rows.is_empty() {
            crate::outln!("no releases yet");
        } else {
            for (live, st) in &rows {
                let (done, total) = st.progress();
                let started = st
                    .created_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                crate::outln!(
                    "{:<16} {:<14} {:<8} {:<16} {done}/{total} stages  {started}{}{}",
                    clean(&st.id),
                    clean(&st.plan),
                    st.rtype.as_str(),
                    st.state_word(live.is_some()),
                    live.map(|p| format!("  driver pid {p}")).unwrap_or_default(),
                    st.partial()
                        .map(|p| format!("  {}", clean(&p)))
                        .unwrap_or_default()
                );
            }
            if more {
                crate::outln!("… older finished releases not shown (--limit N, or --limit 0 for all)");
            }
        }
        Ok(exit::OK)
    }

    pub fn logs(
        &self,
        release: &str,
        stage: &str,
        target: Option<&str>,
        attempt: Option<u32>,
        follow: bool,
        rollback: bool,
    ) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let st = load_state(&rdir)?;
        let s = st
            .stage(stage)
            .ok_or_else(|| usage(format!("release {} has no stage `{stage}`", st.id)))?;
        let t = match target {
            Some(t) => s
                .targets
                .iter()
                .find(|x| x.target.as_deref() == Some(t))
                .ok_or_else(|| {
                    usage(format!(
                        "stage `{stage}` has no target `{t}` (targets: {})",
                        s.targets
                            .iter()
                            .filter_map(|x| x.target.as_deref())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
            None if s.targets.len() == 1 => &s.targets[0],
            None => {
                return Err(usage(format!(
                    "stage `{stage}` runs on several targets; pick one with --target ({})",
                    s.targets
                        .iter()
                        .filter_map(|x| x.target.as_deref())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let list = if rollback { &t.rollbacks } else { &t.attempts };
        let a = match attempt {
            Some(n) => list
                .iter()
                .find(|a| a.n == n)
                .ok_or_else(|| usage(format!("no attempt {n} (there are {})", list.len())))?,
            None => list
                .last()
                .ok_or_else(|| usage(format!("`{stage}` has not run yet")))?,
        };
        let path = rdir.file(&a.log).map_err(|e| usage(e.to_string()))?;
        let label = format!(
            "`{stage}`{}{} attempt {}",
            t.target
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default(),
            if rollback { " rollback" } else { "" },
            a.n
        );
        // The run cannot write (more) output once it has finished or once no driver holds the
        // release: a driver killed between `run_started` and the spawn leaves no log at all.
        let over = |a: &crate::engine::state::Attempt| !a.running() || rdir.live_driver().is_none();
        let never_started = || {
            crate::errln!(
                "flightdeck: {label} of release {} never started: its driver stopped before the \
                 run wrote any output (no log {})",
                st.id,
                a.log
            );
            Ok(exit::FAILED)
        };
        if !path.exists() && (!follow || over(a)) {
            if over(a) {
                return never_started();
            }
            crate::errln!("flightdeck: {label} has no output yet (it is starting)");
            return Ok(exit::OK);
        }
        let color = crate::ansi::color_stdout();
        let key = (a.n, rollback);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        crate::headless::print_log(&path, follow, &mut out, color, || {
            let st = load_state(&rdir).ok()?;
            let t = st.target(stage, t.target.as_deref())?;
            let list = if key.1 { &t.rollbacks } else { &t.attempts };
            Some(list.iter().find(|a| a.n == key.0).is_none_or(over))
        })?;
        drop(out);
        match std::fs::metadata(&path) {
            // Followed until the run ended, and its log never appeared.
            Err(_) => never_started(),
            Ok(m) if m.len() == 0 => {
                crate::errln!("flightdeck: {label} has no output");
                Ok(exit::OK)
            }
            Ok(_) => Ok(exit::OK),
        }
    }

    pub fn verify(&self, release: Option<&str>) -> Result<u8> {
        let rdir = self.find(release)?;
        let head = std::fs::read_to_string(rdir.head()).ok();
        let code = match journal::verify(&rdir.journal(), head.as_deref())? {
            Verified::Intact { lines } => {
                // Every signed approval checked again: a chain recomputed by hand cannot forge
                // a signature.
                let st = super::load_state(&rdir)?;
                for (line, why) in &st.bad_signatures {
                    crate::outln!(
                        "{}:{line}: signature does not hold: {}",
                        rdir.journal().display(),
                        clean(why)
                    );
                }
                if st.bad_signatures.is_empty() {
                    crate::outln!(
                        "{}: intact ({lines} lines, hash chain verified)",
                        rdir.journal().display()
                    );
                    Ok(exit::OK)
                } else {
                    Ok(exit::FAILED)
                }
            }
            Verified::Altered { line, reason } => {
                crate::outln!("{}:{line}: altered: {}", rdir.journal().display(), clean(&reason));
                Ok(exit::FAILED)
            }
            Verified::Torn { line, bytes } => {
                println!(
                    "{}:{line}: torn: an unterminated last line of {bytes} byte(s) that is not a record (a crash mid-write, or bytes added by something else); the lines before it chain, and the next append moves it to {}",
                    rdir.journal().display(),
                    journal::torn_path(&rdir.journal()).display()
                );
                Ok(exit::FAILED)
            }
        };
        // Torn writes set aside earlier are no part of the chain, but are never hidden.
        let torn = journal::torn_path(&rdir.journal());
        if let Ok(m) = std::fs::metadata(&torn)
            && m.len() > 0
        {
            println!(
                "{}: {} byte(s) of torn journal writes (a crash mid-append) were set aside here; they are not part of the chain",
                torn.display(),
                m.len()
            );
        }
        code
    }

    /// The plan's repository; without a plan file (and no --plan), the repository of the current
    /// directory with the default tag pattern.
    fn repo(&self) -> Result<crate::git::Repo> {
        use crate::git::Repo;
        let opened = match self.plan_path() {
            Ok(path) => Repo::open(&plan::load(&path)?),
            Err(e)
                if self.plan.is_none() && matches!(e.downcast_ref(), Some(plan::PlanError::NotFound(_))) =>
            {
                Repo::open_path(&std::env::current_dir()?, plan::GitConfig::DEFAULT_TAG_PATTERN)
            }
            Err(e) => return Err(e),
        };
        opened.map_err(git_error)
    }

    pub fn notes(&self, range: Option<&str>, json: bool) -> Result<u8> {
        use std::io::Write;
        let notes = self.repo()?.notes_for(range).map_err(git_error)?;
        let text = if json {
            serde_json::to_string_pretty(&notes)? + "\n"
        } else {
            // Commit messages are other people's text: through the sanitiser like every output.
            crate::ansi::clean_lines(&notes.markdown()).into_owned()
        };
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            // `flightdeck notes | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
            written => Ok(written.map(|()| exit::OK)?),
        }
    }

    pub fn next(&self, json: bool) -> Result<u8> {
        let next = self.repo()?.suggest_next().map_err(git_error)?;
        if json {
            crate::outln!("{}", serde_json::to_string_pretty(&next)?);
        } else {
            crate::outln!("{next}");
        }
        Ok(exit::OK)
    }

    pub fn drift(&self, args: DriftQuery) -> Result<u8> {
        use crate::drift::{self, report, snapshot};
        let plan = self.load_plan()?;
        let since = match &args.since {
            Some(release) => {
                let rdir = self.find(Some(release))?;
                let path = rdir.path.join(snapshot::START_SNAPSHOT);
                if !path.is_file() {
                    return Err(usage(format!(
                        "release {} has no drift snapshot ({}): no environment had a probe when it started",
                        rdir.id,
                        path.display()
                    )));
                }
                Some((
                    rdir.id,
                    snapshot::load_snapshot(&path).map_err(|e| usage(e.to_string()))?,
                ))
            }
            None => None,
        };
        let opts = drift::ProbeOptions {
            grace: grace(),
            masker: std::sync::Arc::new(driver::masker_for(&plan)),
            ..drift::ProbeOptions::default()
        };
        let selection = drift::Selection {
            envs: args.env,
            baseline: args.baseline,
        };
        let taken_at = chrono::Utc::now();
        let matrix = runtime()?
            .block_on(drift::run(&plan, &selection, &opts))
            .map_err(|e| usage(e.to_string()))?;
        let runs = self.store()?.plan_dir(&plan.name)?.join(snapshot::RUNS_DIR);

        let since = since.as_ref().map(|(id, snap)| (id.as_str(), snap));
        let ignore = drift::ignore_of(&plan);
        let versions = drift::version_drift(&plan, &matrix);
        let print = report::PrintOptions {
            json: args.json,
            only_diff: args.only_diff,
            color: crate::ansi::color_stdout(),
            versions: &versions,
        };
        Ok(report::print_run(
            &matrix, &plan.name, taken_at, &runs, since, &ignore, print,
        )?)
    }
}

/// No repository, an unknown revision, a bad range: exit 2 with the message; anything else
/// (a broken repository) is a failure with its report.
fn git_error(e: crate::git::GitError) -> color_eyre::Report {
    if e.is_usage() {
        usage(e.to_string())
    } else {
        e.into()
    }
}
