//! The real [`Source`]: one release's folder watched with inotify (through `notify`), its journal
//! tailed, the output panes' logs read into their rings, the driver's liveness probed, drift and
//! typical durations loaded, and the cockpit's actions performed on blocking threads.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::app::{Effect, Msg};
use super::event_loop::Source;
use super::log_tail::{self, LogTail};
use super::output_pane::PaneId;
use super::state::{BoardRow, UiState};
use crate::engine::envs::{Place, live_on, places};
use crate::engine::history::History;
use crate::journal::{ReleaseDir, Store, Tail};
use crate::plan::{Plan, ReleaseType};

/// Bytes of log read per poll, shared by the panes' tails: a flood is taken in slices so keys
/// and frames get their turn, and one flooding log cannot starve the others.
const READ_BUDGET: usize = 1024 * 1024;

pub use crate::release::Launcher;

/// A launcher that starts nothing (tests, and anywhere the cockpit only watches).
#[derive(Debug, Clone)]
pub struct NoLauncher {
    pub actor: String,
}

impl Launcher for NoLauncher {
    fn actor(&self) -> String {
        self.actor.clone()
    }
    fn start_release(
        &self,
        _: &str,
        _: ReleaseType,
        _: &crate::release::Scope,
    ) -> Result<ReleaseDir, String> {
        Err("this cockpit cannot start releases".into())
    }
    fn start_driver(&self, rdir: &ReleaseDir) -> Result<(), String> {
        Err(format!("this cockpit cannot start a driver for {}", rdir.id))
    }
    fn suggest(&self) -> Result<(String, ReleaseType), String> {
        Err("no suggestion here".into())
    }
    fn redeploy_plan(&self, _: Option<&str>, _: &str) -> Result<crate::release::Redeploy, String> {
        Err("this cockpit cannot start releases".into())
    }
}

/// The release being watched.
struct Watched {
    rdir: ReleaseDir,
    tail: Tail,
    probe: crate::journal::DriverProbe,
    plan: Option<Arc<Plan>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

/// The real source: one release's folder, watched with inotify (through `notify`), its journal
/// tailed with [`Tail`], the selected run's log parsed with [`LogParser`] into the ring; SIGTERM,
/// SIGHUP and SIGINT become [`Msg::Shutdown`]. Actions run on blocking threads; their answers come back
/// through a channel.
pub struct ReleaseSource {
    store: Store,
    plan_name: String,
    watched: Option<Watched>,
    launcher: Arc<dyn Launcher>,
    /// One tail per output pane with a log.
    tails: Vec<LogTail>,
    /// Which tail reads first next time (turns rotate).
    turn: usize,
    /// Each pane's running search can be told to stop.
    searches: HashMap<PaneId, Arc<AtomicBool>>,
    tx: tokio::sync::mpsc::Sender<()>,
    rx: tokio::sync::mpsc::Receiver<()>,
    answers_tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    answers: tokio::sync::mpsc::UnboundedReceiver<Msg>,
    /// The plan folder's own watch: new releases appear on the board, finished ones change it.
    _plan_watcher: Option<notify::RecommendedWatcher>,
    /// The plan's open markers' watch: releases opened, reopened and closed.
    _open_watcher: Option<notify::RecommendedWatcher>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    /// `kill -INT` (Ctrl-C itself is a key in raw mode).
    int: Option<tokio::signal::unix::Signal>,
    driver: Option<Option<u32>>,
    /// The last poll stopped at its read budget: more output is waiting.
    more: bool,
    /// The journal problem last reported.
    problem: Option<String>,
    board_loaded: Option<std::time::Instant>,
    board_dirty: bool,
    buf: Vec<u8>,
    /// The environments pane's drift summary and the pipeline's typical durations.
    views: ViewData,
    /// The plan's incidents journal, and its following.
    incidents: crate::engine::incidents::Incidents,
    incidents_file: Followed,
    /// The plan's ad-hoc freezes journal, and its following.
    freezes: crate::engine::freezes::Freezes,
    freezes_file: Followed,
    /// The plan's reviews journal, and its following.
    reviews: crate::engine::reviews::Reviews,
    reviews_file: Followed,
    /// The shared store's health as last sent (`None`: not sent yet).
    store_health: Option<Option<crate::journal::replica::Health>>,
}

/// A small plan-level journal the cockpit follows (incidents, ad-hoc freezes): its folder
/// watched (made here, so it is watched before its first record), and the file re-read
/// whenever its time or size changed.
struct Followed {
    path: std::path::PathBuf,
    _watcher: Option<notify::RecommendedWatcher>,
    /// What it looked like when last read (`None`: not read yet).
    seen: Option<Option<(Option<std::time::SystemTime>, u64)>>,
}

impl Followed {
    fn new(path: &std::path::Path, tx: &tokio::sync::mpsc::Sender<()>) -> Followed {
        let tx = tx.clone();
        let watcher = path.parent().and_then(|dir| {
            let _ = std::fs::create_dir_all(dir);
            crate::journal::watch_changes(dir, move || {
                let _ = tx.try_send(());
            })
        });
        Followed {
            path: path.to_path_buf(),
            _watcher: watcher,
            seen: None,
        }
    }

    /// Whether it changed since the last call (true the first time).
    fn changed(&mut self) -> bool {
        let seen = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        if self.seen.as_ref() == Some(&seen) {
            return false;
        }
        self.seen = Some(seen);
        true
    }
}

/// The board is reloaded at most this often (it reads every listed release's journal).
const BOARD_EVERY: Duration = Duration::from_secs(2);

impl ReleaseSource {
    /// Watch `rdir` (or nothing yet: the start screen shows `plan`). Must be called inside a
    /// tokio runtime (signals).
    pub fn new(
        store: Store,
        plan_name: &str,
        rdir: Option<&ReleaseDir>,
        plan: Option<Arc<Plan>>,
        launcher: Arc<dyn Launcher>,
    ) -> ReleaseSource {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (answers_tx, answers) = tokio::sync::mpsc::unbounded_channel();
        use tokio::signal::unix::{SignalKind, signal};
        // A plan name that is no folder name has no folder to watch (its plan does not load).
        let plan_dir = store
            .plan_dir(plan_name)
            .unwrap_or_else(|_| store.root.join("plans"));
        let _ = std::fs::create_dir_all(&plan_dir);
        let ptx = tx.clone();
        let plan_watcher = watch_folder(&plan_dir, move || {
            let _ = ptx.try_send(());
        });
        // Releases marked open and unmarked (started, reopened by a request, finished).
        let open_dir = plan_dir.join(crate::journal::store::OPEN_DIR);
        let _ = std::fs::create_dir_all(&open_dir);
        let otx = tx.clone();
        let open_watcher = watch_folder(&open_dir, move || {
            let _ = otx.try_send(());
        });
        let incidents = crate::engine::incidents::Incidents::at(&plan_dir);
        let incidents_file = Followed::new(incidents.path(), &tx);
        let freezes = crate::engine::freezes::Freezes::at(&plan_dir);
        let freezes_file = Followed::new(freezes.path(), &tx);
        let reviews = crate::engine::reviews::Reviews::at(&plan_dir);
        let reviews_file = Followed::new(reviews.path(), &tx);
        // The shared store coming and going wakes the loop (from the thread that noticed).
        let htx = tx.clone();
        crate::journal::replica::on_health_change(move || {
            !matches!(
                htx.try_send(()),
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_))
            )
        });
        let mut src = ReleaseSource {
            store,
            plan_name: plan_name.to_string(),
            watched: None,
            launcher,
            tails: Vec::new(),
            turn: 0,
            searches: HashMap::new(),
            tx,
            rx,
            answers_tx,
            answers,
            _plan_watcher: plan_watcher,
            _open_watcher: open_watcher,
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            driver: None,
            more: false,
            problem: None,
            board_loaded: None,
            board_dirty: true,
            buf: vec![0; 64 * 1024],
            views: ViewData::default(),
            incidents,
            incidents_file,
            freezes,
            freezes_file,
            reviews,
            reviews_file,
            store_health: None,
        };
        match rdir {
            Some(r) => src.watch(r, None),
            None => {
                src.views_watch(None, plan.clone());
                let _ = src.answers_tx.send(Msg::Plan(plan));
            }
        }
        src
    }

    /// Start watching `rdir` (from its first record); its plan comes as a message.
    fn watch(&mut self, rdir: &ReleaseDir, plan: Option<Arc<Plan>>) {
        let tx = self.tx.clone();
        // Our own reads (opening a log, probing the driver lock) are not changes.
        let watcher = crate::journal::watch_changes(&rdir.path, move || {
            let _ = tx.try_send(());
        });
        let plan = plan.or_else(|| {
            let (recs, _) = crate::journal::read_journal(&rdir.journal()).ok()?;
            let st = crate::engine::state::ReleaseState::from_records(&recs);
            crate::engine::driver::plan_for_release(rdir, &st)
                .ok()
                .map(Arc::new)
        });
        self.watched = Some(Watched {
            rdir: rdir.clone(),
            tail: Tail::new(&rdir.journal()),
            probe: crate::journal::DriverProbe::new(rdir),
            plan: plan.clone(),
            _watcher: watcher,
        });
        let _ = self.answers_tx.send(Msg::Plan(plan));
        self.tails.clear();
        self.stop_searches();
        self.driver = None;
        self.more = false;
        self.board_dirty = true;
        let plan = self.watched.as_ref().and_then(|w| w.plan.clone());
        self.views_watch(Some(rdir), plan);
    }

    /// Run `job` on a blocking thread; its message comes back through [`Source::wait`].
    fn spawn(&self, job: impl FnOnce() -> Msg + Send + 'static) {
        let tx = self.answers_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(job());
        });
    }

    fn stop_searches(&mut self) {
        for (_, stop) in self.searches.drain() {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Read every tail (rotating who goes first, each within its share of the budget) into its
    /// pane's ring.
    fn read_logs(&mut self, ui: &mut UiState) -> Vec<Msg> {
        self.more = false;
        let n = self.tails.len();
        let mut out = Vec::new();
        if n == 0 {
            return out;
        }
        let share = (READ_BUDGET / n).max(64 * 1024);
        self.turn = (self.turn + 1) % n;
        for k in 0..n {
            let tail = &mut self.tails[(self.turn + k) % n];
            // A finished run's unterminated last line is shown too.
            let finished = ui.release.stages.iter().flat_map(|s| &s.targets).any(|t| {
                t.attempts
                    .iter()
                    .chain(&t.rollbacks)
                    .any(|a| a.log == tail.rel && a.outcome.is_some())
            });
            let Some(pane) = ui.pane_mut(tail.pane) else {
                continue;
            };
            if pane.log.as_deref() != Some(tail.rel.as_str()) {
                continue;
            }
            match tail.read(&mut self.buf, share, finished, pane) {
                Ok((lines, more)) => {
                    self.more |= more;
                    pane.catching_up = tail.catching_up();
                    if lines > 0 {
                        out.push(Msg::OutputGrew {
                            pane: tail.pane,
                            log: tail.rel.clone(),
                            lines,
                        });
                    }
                }
                Err(e) => {
                    let text = format!("log: {e}");
                    if ui.problem.as_deref() != Some(text.as_str()) {
                        out.push(Msg::Problem(Some(text)));
                    }
                }
            }
        }
        out
    }

    /// The log file `rel` of the watched release.
    fn log_path(&self, rel: &str) -> Option<std::path::PathBuf> {
        self.watched.as_ref().map(|w| w.rdir.path.join(rel))
    }
}

impl Source for ReleaseSource {
    async fn wait(&mut self) -> Vec<Msg> {
        if self.more {
            tokio::task::yield_now().await;
            return Vec::new();
        }
        async fn sig(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        // A board reload held back by its rate limit still happens once the limit allows, even
        // if nothing else wakes the cockpit (a finished release's rollback ending, say).
        let due = self
            .board_loaded
            .filter(|_| self.board_dirty)
            .map(|t| tokio::time::Instant::from_std(t + BOARD_EVERY));
        async fn until(due: Option<tokio::time::Instant>) {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = self.rx.recv() => {
                self.board_dirty = true;
                Vec::new()
            }
            _ = until(due) => Vec::new(),
            Some(m) = self.answers.recv() => {
                let mut out = vec![m];
                while let Ok(m) = self.answers.try_recv() {
                    out.push(m);
                }
                out
            }
            _ = sig(&mut self.term) => vec![Msg::Shutdown],
            _ = sig(&mut self.hup) => vec![Msg::Shutdown],
            _ = sig(&mut self.int) => vec![Msg::Shutdown],
        }
    }

    fn poll(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Ok(m) = self.answers.try_recv() {
            out.push(m);
        }
        if self.board_dirty && self.board_loaded.is_none_or(|t| t.elapsed() >= BOARD_EVERY) {
            self.board_dirty = false;
            self.board_loaded = Some(std::time::Instant::now());
            let shape = self.views.plan.clone();
            let (rows, places) = load_board_and_places(&self.store, &self.plan_name, 50, shape.as_deref());
            self.views_board_loaded(&rows);
            out.push(Msg::Board(rows));
            out.push(Msg::Places(Arc::new(places)));
        }
        self.views_poll();
        // The incidents or freezes journal changed (or was never read): read it again (they are
        // small).
        if self.incidents_file.changed() {
            out.push(Msg::Incidents(self.incidents.load().map_err(|e| e.to_string())));
        }
        if self.freezes_file.changed() {
            out.push(Msg::Freezes(self.freezes.load().map_err(|e| e.to_string())));
        }
        if self.reviews_file.changed() {
            out.push(Msg::Reviews(self.reviews.load().map_err(|e| e.to_string())));
        }
        let health = crate::journal::replica::health().map(|(_, h)| h);
        if self.store_health.as_ref() != Some(&health) {
            self.store_health = Some(health.clone());
            out.push(Msg::StoreHealth(health));
        }
        let Some(w) = self.watched.as_mut() else {
            return out;
        };
        // A release folder removed under us (its driver then exits): looked at once per poll.
        let gone = !w.rdir.journal().exists();
        // Whether the driver lives is looked at before the journal is read, and said after the
        // records: a driver seen gone wrote everything it ever will before this read, so its
        // death never reaches the state ahead of its last records (a finished release is never
        // offered to be resumed).
        let driver = w.probe.check();
        match w.tail.poll() {
            // The records before a line that does not chain, then the release needs attention.
            Ok(recs) if w.tail.broken().is_some() => {
                if !recs.is_empty() {
                    out.push(Msg::Records(recs));
                }
                let e = w.tail.broken().expect("checked");
                out.extend(broken(&mut self.problem, &e));
            }
            Err(e @ crate::journal::JournalError::Broken { .. }) => {
                out.extend(broken(&mut self.problem, &e));
            }
            Ok(recs) => {
                if !gone && self.problem.take().is_some() {
                    out.push(Msg::Problem(None));
                }
                if !recs.is_empty() {
                    out.push(Msg::Records(recs));
                }
            }
            // Shown, not fatal: the next poll tries again; the journal stays the truth.
            Err(e) => {
                let text = format!("journal: {e}");
                if self.problem.as_deref() != Some(text.as_str()) {
                    self.problem = Some(text.clone());
                    out.push(Msg::Problem(Some(text)));
                }
            }
        }
        // Say so, rather than offer to resume what no longer exists.
        if gone {
            let text = format!("the release folder {} was removed", w.rdir.path.display());
            if self.problem.as_deref() != Some(text.as_str()) {
                self.problem = Some(text.clone());
                out.push(Msg::Problem(Some(text)));
            }
        }
        if self.driver != Some(driver) {
            self.driver = Some(driver);
            out.push(Msg::Driver(driver));
        }
        out
    }

    fn read_output(&mut self, ui: &mut UiState) -> Vec<Msg> {
        self.read_logs(ui)
    }

    fn follow(&mut self, pane: PaneId, log: Option<&str>) {
        self.tails.retain(|t| t.pane != pane);
        if let Some(stop) = self.searches.remove(&pane) {
            stop.store(true, Ordering::Relaxed);
        }
        if let (Some(rel), Some(path)) = (log, log.and_then(|l| self.log_path(l))) {
            self.tails.push(LogTail::new(pane, rel, path));
        }
        self.more = false;
    }

    fn perform(&mut self, effect: Effect) {
        let launcher = self.launcher.clone();
        match effect {
            Effect::Submit(op) => {
                let Some(w) = self.watched.as_ref() else { return };
                let (rdir, plan) = (w.rdir.clone(), w.plan.clone());
                self.spawn(move || {
                    let masker = Arc::new(
                        plan.as_deref()
                            .map(crate::engine::driver::masker_for)
                            .unwrap_or_else(|| crate::runlog::Masker::new(Vec::<String>::new())),
                    );
                    // As the CLI does: signed where the gate wants it.
                    let result = launcher.submit(&rdir, masker, &op).and_then(|seq| {
                        // Like the CLI: a request for the driver starts one when none is alive.
                        if op.for_driver() && rdir.live_driver().is_none() {
                            launcher.start_driver(&rdir)?;
                        }
                        Ok(seq)
                    });
                    Msg::Submitted { op, result }
                });
            }
            Effect::Suggest => self.spawn(move || Msg::Suggested(launcher.suggest())),
            Effect::OpenIncident { env, summary } => {
                let (store, incidents, plan) = (
                    self.store.clone(),
                    self.incidents.clone(),
                    self.views.plan.clone(),
                );
                self.spawn(move || {
                    let result = (|| {
                        let plan = plan.ok_or("the plan is not loaded")?;
                        let release = crate::engine::incidents::live_release(&store, &plan, &env)
                            .map_err(|e| e.to_string())?;
                        let masker = Arc::new(crate::engine::driver::masker_for(&plan));
                        incidents
                            .open(masker, &launcher.actor(), &env, release.as_deref(), &summary)
                            .map(|i| i.number)
                            .map_err(|e| e.to_string())
                    })();
                    Msg::IncidentOpened { env, result }
                });
            }
            Effect::StartRelease {
                version,
                rtype,
                scope,
            } => self
                .spawn(move || Msg::Started(launcher.start_release(&version, rtype, &scope).map(|r| r.id))),
            Effect::PlanRedeploy { env, version } => {
                self.spawn(move || Msg::RedeployPlan(launcher.redeploy_plan(version.as_deref(), &env)))
            }
            Effect::Resume => {
                let Some(w) = self.watched.as_ref() else { return };
                let rdir = w.rdir.clone();
                self.spawn(move || Msg::Started(launcher.start_driver(&rdir).map(|()| rdir.id.clone())));
            }
            Effect::Open(id) => match self.store.find(Some(&self.plan_name), Some(&id)) {
                Ok(rdir) => {
                    // Opened first: it resets the state the plan then goes into.
                    let _ = self.answers_tx.send(Msg::Opened(id));
                    self.watch(&rdir, None);
                }
                Err(e) => {
                    let _ = self
                        .answers_tx
                        .send(Msg::Problem(Some(format!("open {id}: {e}"))));
                }
            },
            Effect::Bell => {
                use std::io::Write;
                let mut out = io::stdout();
                let _ = out.write_all(b"\x07").and_then(|()| out.flush());
            }
            Effect::ReadLines {
                pane,
                log,
                first,
                count,
            } => {
                let Some(path) = self.log_path(&log) else { return };
                // Seek to the tail's nearest resume point before `first` (the start if none).
                let cp = self
                    .tails
                    .iter()
                    .find(|t| t.pane == pane && t.rel == log)
                    .map(|t| t.index.before(first))
                    .unwrap_or_default();
                self.spawn(move || Msg::LinesRead {
                    pane,
                    first,
                    lines: log_tail::read_lines(&path, cp, first, count).map_err(|e| e.to_string()),
                    log,
                });
            }
            Effect::Search {
                pane,
                log,
                term,
                generation,
                upto,
            } => {
                let Some(path) = self.log_path(&log) else { return };
                let stop = Arc::new(AtomicBool::new(false));
                if let Some(old) = self.searches.insert(pane, stop.clone()) {
                    old.store(true, Ordering::Relaxed);
                }
                let tx = self.answers_tx.clone();
                self.spawn(move || {
                    let progress = |matches, searched| {
                        let _ = tx.send(Msg::SearchFound {
                            pane,
                            generation,
                            matches,
                            searched,
                        });
                    };
                    Msg::SearchDone {
                        pane,
                        generation,
                        result: log_tail::search_log(&path, &term, upto, &stop, progress)
                            .map_err(|e| e.to_string()),
                    }
                });
            }
            Effect::StopSearch(pane) => {
                if let Some(stop) = self.searches.remove(&pane) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Effect::Copy(text) => {
                use base64::Engine;
                use std::io::Write;
                let mut text = text;
                if text.len() > super::output_pane::COPY_CAP {
                    let mut end = super::output_pane::COPY_CAP;
                    while !text.is_char_boundary(end) {
                        end -= 1;
                    }
                    text.truncate(end);
                }
                let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
                let mut out = io::stdout();
                let _ = write!(out, "\x1b]52;c;{b64}\x07").and_then(|()| out.flush());
            }
            Effect::Pager(log) => {
                let Some(path) = self.log_path(&log) else { return };
                let said = match log_tail::plain_temp_file(&path) {
                    Ok(file) => match super::terminal::lend(|| log_tail::run_pager(file)) {
                        Ok(Ok(st)) if st.success() => None,
                        Ok(Ok(st)) => Some(format!("the pager ended with {st}")),
                        Ok(Err(e)) => Some(format!("could not run the pager: {e}")),
                        Err(e) => Some(format!("the terminal: {e}")),
                    },
                    Err(e) => Some(format!("could not prepare {log} for the pager: {e}")),
                };
                if let Some(text) = said {
                    let _ = self.answers_tx.send(Msg::Said { text, error: true });
                }
            }
            Effect::MouseCapture(on) => {
                let _ = super::terminal::set_mouse_capture(on);
            }
            Effect::ProbeDrift => self.probe_drift(),
            Effect::Metrics(env) => {
                let (store, plan) = (self.store.clone(), self.plan_name.clone());
                let answers = self.answers_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let to = chrono::Utc::now();
                    let q = crate::engine::metrics::Query {
                        env: env.clone(),
                        from: to - chrono::Duration::days(90),
                        to,
                        by: crate::engine::metrics::By::Week,
                        rework_window: chrono::Duration::hours(24),
                    };
                    let metrics = crate::engine::metrics::measure(&store, &plan, &q)
                        .map(|(m, _)| m)
                        .map_err(|e| e.to_string());
                    let _ = answers.send(Msg::Metrics { env, metrics });
                });
            }
            Effect::EnvHistory(env) => {
                let (store, plan) = (self.store.clone(), self.plan_name.clone());
                let answers = self.answers_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let rows = History::open(&store, &plan)
                        .map(|h| crate::engine::envs::env_history(&h, &env, 200))
                        .map_err(|e| e.to_string());
                    let _ = answers.send(Msg::EnvHistory { env, rows });
                });
            }
            Effect::Train { name, act } => self.spawn(move || Msg::TrainActed(launcher.train(&name, &act))),
            Effect::TrainPreview { name } => self.spawn(move || {
                let over = launcher.train_rollback_over(&name);
                Msg::TrainPreview { name, over }
            }),
            Effect::FollowLog { .. }
            | Effect::Quit(_)
            | Effect::Suspend
            | Effect::OpenFromBoard { .. }
            | Effect::BackToBoard => {}
        }
    }
}

/// Like [`crate::journal::watch_changes`] for one folder, not its subfolders: a new release
/// folder appearing in the plan's folder.
fn watch_folder(
    path: &std::path::Path,
    on_change: impl Fn() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Files appearing or going, and the finished-release index growing (a release of the
        // plan finished, or was indexed again after a rollback).
        let index = std::ffi::OsStr::new(crate::engine::history::INDEX);
        if res.is_ok_and(|e| match e.kind {
            notify::EventKind::Create(_) | notify::EventKind::Remove(_) => true,
            notify::EventKind::Modify(_) => e.paths.iter().any(|p| p.file_name() == Some(index)),
            _ => false,
        }) {
            on_change();
        }
    })
    .and_then(|mut w| w.watch(path, notify::RecursiveMode::NonRecursive).map(|()| w))
    .ok()
}

/// The messages for a journal that stopped chaining (once: `problem` remembers what was said).
fn broken(problem: &mut Option<String>, e: &crate::journal::JournalError) -> Vec<Msg> {
    let text = format!("journal: {e}");
    if problem.as_deref() == Some(text.as_str()) {
        return Vec::new();
    }
    *problem = Some(text.clone());
    let why = match e {
        crate::journal::JournalError::Broken { path, line, reason } => {
            format!(
                "{}:{line}: the journal's hash chain is broken ({reason})",
                path.display()
            )
        }
        other => other.to_string(),
    };
    vec![Msg::Problem(Some(text)), Msg::Broken(why)]
}

/// The board rows of `plan`'s releases (newest first, at most `max`): the open ones folded from
/// their journals, the finished ones from the plan's index (never every journal).
pub fn load_board(store: &crate::journal::Store, plan: &str, max: usize) -> Vec<BoardRow> {
    load_board_and_places(store, plan, max, None).0
}

/// The board rows (see [`load_board`]) and, given the plan, what runs where (each environment and
/// target's live release and what deploys there now); each row marks where its release is live.
pub fn load_board_and_places(
    store: &crate::journal::Store,
    plan: &str,
    max: usize,
    shape: Option<&Plan>,
) -> (Vec<BoardRow>, Vec<Place>) {
    let Ok(history) = History::open(store, plan) else {
        return (Vec::new(), Vec::new());
    };
    let open = history.open_releases().unwrap_or_default();
    let mut rows: Vec<BoardRow> = open
        .iter()
        .map(|o| BoardRow::of(&o.state, o.rdir.live_driver()))
        .collect();
    rows.extend(history.finished().take(max).map(|s| BoardRow::of_summary(&s)));
    rows.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    rows.truncate(max);
    let places = shape.map(|p| places(p, &history, &open)).unwrap_or_default();
    for r in &mut rows {
        r.live_on = live_on(&places, &r.id);
    }
    (rows, places)
}

// ---------------------------------------------------------------------------------------------
// The environments pane's drift and the pipeline's typical durations: loaded on blocking
// threads, answered as messages, summarized here so the UI state never holds a whole snapshot.

/// What identifies a snapshot file's content: its path, modification time and length.
type FileKey = (PathBuf, Option<std::time::SystemTime>, u64);

/// The source's part for [`Msg::Drift`] and [`Msg::Typical`].
#[derive(Default)]
struct ViewData {
    /// The watched release's folder (none: the start screen).
    release: Option<ReleaseDir>,
    plan: Option<Arc<Plan>>,
    /// A drift file may have changed: set by the watchers, taken by [`Source::poll`].
    drift_changed: Arc<std::sync::atomic::AtomicBool>,
    /// A load runs on a blocking thread.
    drift_busy: Arc<std::sync::atomic::AtomicBool>,
    /// The snapshot last sent (outer `None`: nothing sent yet).
    drift_sent: Arc<std::sync::Mutex<Option<Option<FileKey>>>>,
    /// The release folder's and the plan's saved-runs folder's watchers.
    drift_watchers: Vec<notify::RecommendedWatcher>,
    runs_watched: bool,
    /// Finished releases on the board when typical durations were last computed.
    typical_for: Option<usize>,
}

impl ReleaseSource {
    fn runs_dir(&self) -> PathBuf {
        self.store
            .plan_dir(&self.plan_name)
            .map(|d| d.join(crate::drift::snapshot::RUNS_DIR))
            .unwrap_or_default()
    }

    /// Start over for `rdir` (or the start screen): load its drift now, again on change.
    fn views_watch(&mut self, rdir: Option<&ReleaseDir>, plan: Option<Arc<Plan>>) {
        use std::sync::atomic::Ordering;
        // Answers of a load still running for the previous release are dropped by the state.
        self.views = ViewData {
            release: rdir.cloned(),
            plan,
            ..ViewData::default()
        };
        self.views.drift_changed.store(true, Ordering::SeqCst);
        if let Some(r) = rdir
            && let Some(w) = self.drift_watcher(&r.path, true)
        {
            self.views.drift_watchers.push(w);
        }
        self.watch_runs();
    }

    /// Watch the plan's saved drift runs once their folder exists.
    fn watch_runs(&mut self) {
        if self.views.runs_watched {
            return;
        }
        let runs = self.runs_dir();
        if runs.is_dir()
            && let Some(w) = self.drift_watcher(&runs, false)
        {
            self.views.drift_watchers.push(w);
            self.views.runs_watched = true;
        }
    }

    /// A watcher on `dir` (not its subfolders) flagging a change of a drift snapshot: in a release
    /// folder `drift-start.json` / `drift-end.json` (written to a temporary file renamed into
    /// place), in the saved-runs folder any `.json`.
    fn drift_watcher(&self, dir: &std::path::Path, release: bool) -> Option<notify::RecommendedWatcher> {
        use crate::drift::snapshot::{END_SNAPSHOT, START_SNAPSHOT};
        use notify::Watcher;
        let (flag, tx) = (self.views.drift_changed.clone(), self.tx.clone());
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            let Ok(e) = res else { return };
            if matches!(e.kind, notify::EventKind::Access(_)) {
                return;
            }
            let hit = e.paths.iter().any(|p| {
                let name = p.file_name().unwrap_or_default();
                if release {
                    name == START_SNAPSHOT || name == END_SNAPSHOT
                } else {
                    p.extension().is_some_and(|x| x == "json")
                }
            });
            if hit {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.try_send(());
            }
        })
        .and_then(|mut w| w.watch(dir, notify::RecursiveMode::NonRecursive).map(|()| w))
        .ok()
    }

    /// Load the newest drift snapshot when a watcher saw a change (one load at a time; a change
    /// during a load loads again after it).
    fn views_poll(&mut self) {
        use std::sync::atomic::Ordering;
        let v = &self.views;
        if v.drift_busy.load(Ordering::SeqCst) || !v.drift_changed.swap(false, Ordering::SeqCst) {
            return;
        }
        v.drift_busy.store(true, Ordering::SeqCst);
        let (busy, changed, sent) = (
            v.drift_busy.clone(),
            v.drift_changed.clone(),
            v.drift_sent.clone(),
        );
        let (rdir, plan, runs) = (v.release.clone(), v.plan.clone(), self.runs_dir());
        let (answers, wake) = (self.answers_tx.clone(), self.tx.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(m) = load_drift(rdir.as_ref(), plan.as_deref(), &runs, &sent) {
                let _ = answers.send(m);
            }
            busy.store(false, Ordering::SeqCst);
            // A change seen while this load ran: have the next poll load again.
            if changed.load(Ordering::SeqCst) {
                let _ = wake.try_send(());
            }
        });
    }

    /// The board was read again: watch the saved drift runs if their folder appeared; when the
    /// number of other finished releases changed, compute the typical stage durations again.
    fn views_board_loaded(&mut self, rows: &[BoardRow]) {
        // The plan folder changed (or this is the first look): the saved-runs folder may be new.
        self.watch_runs();
        let id = self.views.release.as_ref().map(|r| r.id.clone());
        let Some(id) = id else { return };
        let finished = rows
            .iter()
            .filter(|r| r.id != id && r.finished_at.is_some())
            .count();
        if self.views.typical_for == Some(finished) {
            return;
        }
        self.views.typical_for = Some(finished);
        let (store, plan) = (self.store.clone(), self.plan_name.clone());
        let answers = self.answers_tx.clone();
        tokio::task::spawn_blocking(move || {
            let typical = typical_durations(&store, &plan, &id);
            let _ = answers.send(Msg::Typical { release: id, typical });
        });
    }

    /// `D`: run every probe of the plan afresh (like `flightdeck drift`, the run saved under the
    /// plan's `drift/` folder), summarized on a blocking thread.
    fn probe_drift(&mut self) {
        let release = self
            .views
            .release
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default();
        let answers = self.answers_tx.clone();
        let Some(plan) = self.views.plan.clone() else {
            let _ = answers.send(Msg::Drift {
                release,
                probed: true,
                result: Err("the plan is not loaded, so there is nothing to probe".into()),
            });
            return;
        };
        let runs = self.runs_dir();
        let version = self.views.release.as_ref().and_then(release_version);
        tokio::spawn(async move {
            let opts = crate::drift::ProbeOptions {
                masker: Arc::new(crate::engine::driver::masker_for(&plan)),
                ..crate::drift::ProbeOptions::default()
            };
            let taken_at = Utc::now();
            let run = crate::drift::run(&plan, &crate::drift::Selection::default(), &opts).await;
            let summarized = tokio::task::spawn_blocking(move || {
                let matrix = run.map_err(|e| e.to_string())?;
                let path = crate::drift::snapshot::run_path(&runs, taken_at);
                let saved =
                    crate::drift::snapshot::write_snapshot(&path, &plan.name, taken_at, matrix.columns());
                // Like `flightdeck drift`: only the newest runs are kept.
                crate::drift::snapshot::prune_runs(&runs, crate::drift::snapshot::KEEP_RUNS);
                let source = match saved {
                    Ok(()) => "probed now".to_string(),
                    Err(e) => format!("probed now (not saved: {e})"),
                };
                let o = crate::drift::overview::summarize(
                    Some(&plan),
                    &matrix,
                    version.as_deref(),
                    source,
                    taken_at,
                );
                Ok(Some(Arc::new(o)))
            })
            .await
            .unwrap_or_else(|e| Err(format!("the drift summary failed: {e}")));
            let _ = answers.send(Msg::Drift {
                release,
                probed: true,
                result: summarized,
            });
        });
    }
}

/// The watched release's version and creation time, from its journal's first record.
fn release_created(rdir: &ReleaseDir) -> Option<(String, Option<DateTime<Utc>>)> {
    use std::io::BufRead;
    let file = File::open(rdir.journal()).ok()?;
    let mut line = String::new();
    io::BufReader::new(file).read_line(&mut line).ok()?;
    let rec: crate::event::Record = serde_json::from_str(&line).ok()?;
    match rec.event {
        crate::event::Event::ReleaseCreated { version, .. } => Some((version, Some(rec.ts))),
        _ => None,
    }
}

fn release_version(rdir: &ReleaseDir) -> Option<String> {
    release_created(rdir).map(|(v, _)| v)
}

/// The newest drift snapshot for `rdir` (else the plan's newest saved run) summarized, unless it
/// is the one sent last (`sent`); `Ok(None)` in the message: there is none.
fn load_drift(
    rdir: Option<&ReleaseDir>,
    plan: Option<&Plan>,
    runs: &std::path::Path,
    sent: &std::sync::Mutex<Option<Option<FileKey>>>,
) -> Option<Msg> {
    use crate::drift::{overview, snapshot};
    let path = overview::newest_snapshot(rdir.map(|r| r.path.as_path()), runs);
    let key = path.as_ref().map(|p| {
        let meta = std::fs::metadata(p).ok();
        (
            p.clone(),
            meta.as_ref().and_then(|m| m.modified().ok()),
            meta.map_or(0, |m| m.len()),
        )
    });
    {
        let mut last = sent.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref() == Some(&key) {
            return None;
        }
        *last = Some(key);
    }
    let release = rdir.map(|r| r.id.clone()).unwrap_or_default();
    let result = match path {
        None => Ok(None),
        Some(p) => snapshot::load_snapshot(&p)
            .map_err(|e| e.to_string())
            .map(|snap| {
                let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
                let source = match name.as_str() {
                    snapshot::END_SNAPSHOT => format!("end of release {release}"),
                    snapshot::START_SNAPSHOT => format!("start of release {release}"),
                    _ => format!("saved run {}", name.trim_end_matches(".json")),
                };
                let version = rdir.and_then(release_version);
                Some(Arc::new(overview::of_snapshot(
                    plan,
                    &snap,
                    version.as_deref(),
                    source,
                )))
            }),
    };
    Some(Msg::Drift {
        release,
        probed: false,
        result,
    })
}

/// Typical stage durations for release `id` of `plan`: per stage, the median duration of its
/// successful runs in the plan's other releases created before it (the open ones, and the newest
/// 50 finished ones from the plan's index).
pub fn typical_durations(store: &Store, plan: &str, id: &str) -> super::state::Typical {
    let mut samples: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    let Ok(history) = History::open(store, plan) else {
        return super::state::Typical::default();
    };
    let created = store
        .release(plan, id)
        .ok()
        .as_ref()
        .and_then(release_created)
        .and_then(|(_, at)| at);
    let open = history.open_releases().unwrap_or_default();
    let open = open.iter().map(|o| {
        (
            o.state.id.clone(),
            o.state.created_at,
            crate::engine::history::stage_ms(&o.state),
        )
    });
    let finished = history
        .finished()
        .take(50)
        .map(|s| (s.id, s.created_at, s.stage_ms));
    for (other, at, stage_ms) in open.chain(finished) {
        if other == id {
            continue;
        }
        if let (Some(mine), Some(theirs)) = (created, at)
            && theirs >= mine
        {
            continue;
        }
        for (stage, ms) in &stage_ms {
            samples
                .entry(stage.clone())
                .or_default()
                .push(i64::try_from(*ms).unwrap_or(i64::MAX));
        }
    }
    super::state::Typical::from_samples(samples)
}
