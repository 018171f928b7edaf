//! The workspace board's [`Source`]: every plan's folder (and its open markers, its open releases'
//! folders, its saved drift runs) and the trains journal watched with inotify; a plan whose files
//! changed is read again on a blocking thread (only that plan: the others are kept), at most
//! every [`RELOAD_EVERY`]; the answers come back as [`Msg::Workspace`]. A release opened from the
//! board is watched by a [`ReleaseSource`] of its plan, which this source hands everything to
//! until Esc brings the board back.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::app::{Effect, Msg, WsUpdate};
use super::event_loop::Source;
use super::source::{Launcher, ReleaseSource};
use super::state::UiState;
use crate::engine::board::{PlanBoard, RECENT, RECENT_TRAINS, trains_of};
use crate::journal::Store;
use crate::plan::Plan;

/// The board is read again at most this often while its files keep changing.
pub const RELOAD_EVERY: Duration = Duration::from_millis(300);

/// One plan of the workspace: the plan (as its file says now) and how the cockpit acts on its
/// releases.
#[derive(Clone)]
pub struct WsPlan {
    pub plan: Arc<Plan>,
    pub launcher: Arc<dyn Launcher>,
}

/// What a read on a blocking thread brings back.
struct Loaded {
    plans: Vec<(usize, PlanBoard, Vec<PathBuf>)>,
    trains: Option<Vec<crate::engine::train::TrainView>>,
    problem: Option<String>,
}

pub struct WorkspaceSource {
    store: Store,
    workspace: String,
    plans: Vec<WsPlan>,
    /// The release opened from the board, while it is.
    inner: Option<ReleaseSource>,
    /// Per plan: its files changed since it was last read.
    dirty: Arc<Vec<AtomicBool>>,
    trains_dirty: Arc<AtomicBool>,
    /// A read runs on a blocking thread.
    busy: bool,
    last_read: Option<Instant>,
    tx: tokio::sync::mpsc::Sender<()>,
    rx: tokio::sync::mpsc::Receiver<()>,
    loads_tx: tokio::sync::mpsc::UnboundedSender<Loaded>,
    loads: tokio::sync::mpsc::UnboundedReceiver<Loaded>,
    _plan_watchers: Vec<Option<notify::RecommendedWatcher>>,
    _trains_watcher: Option<notify::RecommendedWatcher>,
    /// The open releases' folders watched (their journals grow while they run), by plan.
    release_watchers: HashMap<PathBuf, notify::RecommendedWatcher>,
    /// Problems of the last read, by plan index (the trains' under `usize::MAX`).
    problems: HashMap<usize, String>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    /// Messages to hand over at the next poll.
    pending: Vec<Msg>,
    /// Answers of what was done on a blocking thread (a train's approval, cancel, rollback).
    answers_tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    answers: tokio::sync::mpsc::UnboundedReceiver<Msg>,
}

/// A watcher on `dir` (not its subfolders) calling `on_change` for anything but reads; with
/// `closes`, a file open for writing being closed counts too (in a release's folder, the one
/// sign of a driver that died: its lock file closes). A plan's own folder leaves them out: a
/// driver waiting for an environment opens and closes its lock there every second.
fn watch_dir(
    dir: &std::path::Path,
    closes: bool,
    on_change: impl Fn() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    use notify::event::{AccessKind, AccessMode, EventKind};
    notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let change = res.as_ref().map_or(true, |e| match e.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => closes,
            EventKind::Access(_) => false,
            _ => true,
        });
        if change {
            on_change();
        }
    })
    .and_then(|mut w| w.watch(dir, notify::RecursiveMode::NonRecursive).map(|()| w))
    .ok()
}

impl WorkspaceSource {
    /// Watch the workspace `workspace` of these plans. Must be called inside a tokio runtime.
    pub fn new(store: Store, workspace: &str, plans: Vec<WsPlan>) -> WorkspaceSource {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (loads_tx, loads) = tokio::sync::mpsc::unbounded_channel();
        let (answers_tx, answers) = tokio::sync::mpsc::unbounded_channel();
        let dirty: Arc<Vec<AtomicBool>> = Arc::new(plans.iter().map(|_| AtomicBool::new(true)).collect());
        let trains_dirty = Arc::new(AtomicBool::new(true));
        let mut plan_watchers = Vec::new();
        for (i, p) in plans.iter().enumerate() {
            let Ok(dir) = store.plan_dir(&p.plan.name) else {
                plan_watchers.push(None);
                continue;
            };
            let open = dir.join(crate::journal::store::OPEN_DIR);
            let _ = std::fs::create_dir_all(&open);
            let runs = dir.join(crate::drift::snapshot::RUNS_DIR);
            let (d, t, tr) = (dirty.clone(), tx.clone(), trains_dirty.clone());
            let mark = move || {
                d[i].store(true, Ordering::SeqCst);
                // A member's change can change its train.
                tr.store(true, Ordering::SeqCst);
                let _ = t.try_send(());
            };
            use notify::Watcher;
            // The saved drift runs' folder too, made if no drift ran yet: the first run saved
            // while the board is open shows on it.
            let _ = std::fs::create_dir_all(&runs);
            let w = watch_dir(&dir, false, mark.clone()).and_then(|mut w| {
                w.watch(&open, notify::RecursiveMode::NonRecursive).ok()?;
                let _ = w.watch(&runs, notify::RecursiveMode::NonRecursive);
                Some(w)
            });
            plan_watchers.push(w);
        }
        let trains_watcher = crate::engine::train::journal(&store, workspace)
            .ok()
            .and_then(|j| j.path().parent().map(PathBuf::from))
            .and_then(|dir| {
                let _ = std::fs::create_dir_all(&dir);
                let (tr, t) = (trains_dirty.clone(), tx.clone());
                watch_dir(&dir, false, move || {
                    tr.store(true, Ordering::SeqCst);
                    let _ = t.try_send(());
                })
            });
        WorkspaceSource {
            store,
            workspace: workspace.to_string(),
            plans,
            inner: None,
            dirty,
            trains_dirty,
            busy: false,
            last_read: None,
            tx,
            rx,
            loads_tx,
            loads,
            _plan_watchers: plan_watchers,
            _trains_watcher: trains_watcher,
            release_watchers: HashMap::new(),
            problems: HashMap::new(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            pending: Vec::new(),
            answers_tx,
            answers,
        }
    }

    /// Watch release `id` of `plan` (opened from the board, or named on the command line).
    pub fn open(&mut self, plan: &str, id: &str) -> Result<(), String> {
        let p = self
            .plans
            .iter()
            .find(|p| p.plan.name == plan)
            .ok_or_else(|| format!("{plan} is not a plan of workspace {}", self.workspace))?;
        let rdir = self.store.release(plan, id).map_err(|e| e.to_string())?;
        self.inner = Some(ReleaseSource::new(
            self.store.clone(),
            plan,
            Some(&rdir),
            None,
            p.launcher.clone(),
        ));
        Ok(())
    }

    fn due(&self) -> Option<tokio::time::Instant> {
        let dirty =
            self.dirty.iter().any(|d| d.load(Ordering::SeqCst)) || self.trains_dirty.load(Ordering::SeqCst);
        if !dirty || self.busy {
            return None;
        }
        Some(tokio::time::Instant::from_std(
            self.last_read.map_or_else(Instant::now, |t| t + RELOAD_EVERY),
        ))
    }

    /// Read the plans whose files changed (and the trains) on a blocking thread, unless a read
    /// runs or the last one was too recent.
    fn read_changed(&mut self) {
        if self.busy || self.last_read.is_some_and(|t| t.elapsed() < RELOAD_EVERY) {
            return;
        }
        let which: Vec<usize> = (0..self.plans.len())
            .filter(|i| self.dirty[*i].swap(false, Ordering::SeqCst))
            .collect();
        let trains = self.trains_dirty.swap(false, Ordering::SeqCst);
        if which.is_empty() && !trains {
            return;
        }
        self.busy = true;
        self.last_read = Some(Instant::now());
        let store = self.store.clone();
        let workspace = self.workspace.clone();
        let plans: Vec<(usize, Arc<Plan>)> =
            which.iter().map(|i| (*i, self.plans[*i].plan.clone())).collect();
        let (tx, wake) = (self.loads_tx.clone(), self.tx.clone());
        tokio::task::spawn_blocking(move || {
            let now = chrono::Utc::now();
            let mut problem = None;
            let read = plans
                .into_iter()
                .map(|(i, plan)| {
                    let pb = PlanBoard::load(&store, &plan, RECENT, now);
                    let open = store
                        .open_releases(&plan.name)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|r| r.path)
                        .collect();
                    (i, pb, open)
                })
                .collect();
            let trains = trains.then(|| {
                let (t, e) = trains_of(&store, &workspace, RECENT_TRAINS);
                problem = e.map(|e| format!("trains: {e}"));
                t
            });
            let _ = tx.send(Loaded {
                plans: read,
                trains,
                problem,
            });
            let _ = wake.try_send(());
        });
    }

    /// A read arrived: watch the open releases it found, and tell the state.
    fn loaded(&mut self, l: Loaded) -> Msg {
        self.busy = false;
        let mut keep: Vec<PathBuf> = Vec::new();
        for (i, pb, open) in &l.plans {
            match &pb.error {
                Some(e) => self.problems.insert(*i, format!("{}: {e}", pb.plan)),
                None => self.problems.remove(i),
            };
            for path in open {
                keep.push(path.clone());
                if self.release_watchers.contains_key(path) {
                    continue;
                }
                let (d, t, tr, i) = (self.dirty.clone(), self.tx.clone(), self.trains_dirty.clone(), *i);
                if let Some(w) = watch_dir(path, true, move || {
                    d[i].store(true, Ordering::SeqCst);
                    tr.store(true, Ordering::SeqCst);
                    let _ = t.try_send(());
                }) {
                    self.release_watchers.insert(path.clone(), w);
                }
            }
        }
        // Releases of the plans read that are no longer open: not watched any more.
        let read: Vec<String> = l.plans.iter().map(|(_, pb, _)| pb.plan.clone()).collect();
        let store = &self.store;
        self.release_watchers.retain(|path, _| {
            keep.contains(path)
                || !read
                    .iter()
                    .any(|p| store.plan_dir(p).is_ok_and(|d| path.starts_with(&d)))
        });
        if l.trains.is_some() {
            match &l.problem {
                Some(p) => self.problems.insert(usize::MAX, p.clone()),
                None => self.problems.remove(&usize::MAX),
            };
        }
        let mut problems: Vec<&String> = self.problems.values().collect();
        problems.sort();
        let problem = (!problems.is_empty())
            .then(|| problems.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "));
        Msg::Workspace(Box::new(WsUpdate {
            plans: l.plans.into_iter().map(|(_, pb, _)| pb).collect(),
            trains: l.trains,
            problem,
            not_opened: None,
        }))
    }
}

impl Source for WorkspaceSource {
    async fn wait(&mut self) -> Vec<Msg> {
        if let Some(inner) = self.inner.as_mut() {
            return inner.wait().await;
        }
        if !self.pending.is_empty() {
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
        let due = self.due();
        async fn until(due: Option<tokio::time::Instant>) {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = self.rx.recv() => Vec::new(),
            _ = until(due) => Vec::new(),
            Some(l) = self.loads.recv() => vec![self.loaded(l)],
            Some(m) = self.answers.recv() => vec![m],
            _ = sig(&mut self.term) => vec![Msg::Shutdown],
            _ = sig(&mut self.hup) => vec![Msg::Shutdown],
            _ = sig(&mut self.int) => vec![Msg::Shutdown],
        }
    }

    fn poll(&mut self) -> Vec<Msg> {
        if let Some(inner) = self.inner.as_mut() {
            return inner.poll();
        }
        let mut out = std::mem::take(&mut self.pending);
        while let Ok(l) = self.loads.try_recv() {
            out.push(self.loaded(l));
        }
        while let Ok(m) = self.answers.try_recv() {
            out.push(m);
        }
        self.read_changed();
        out
    }

    fn read_output(&mut self, ui: &mut UiState) -> Vec<Msg> {
        match self.inner.as_mut() {
            Some(inner) => inner.read_output(ui),
            None => Vec::new(),
        }
    }

    fn follow(&mut self, pane: super::output_pane::PaneId, log: Option<&str>) {
        if let Some(inner) = self.inner.as_mut() {
            inner.follow(pane, log);
        }
    }

    fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::OpenFromBoard { plan, id } => {
                if let Err(e) = self.open(&plan, &id) {
                    // Nothing to watch: the board again, saying why.
                    self.pending.push(Msg::Workspace(Box::new(WsUpdate {
                        not_opened: Some(format!("could not open {plan}/{id}: {e}")),
                        ..WsUpdate::default()
                    })));
                }
            }
            Effect::Train { name, act } if self.inner.is_none() => {
                let Some(launcher) = self.plans.first().map(|p| p.launcher.clone()) else {
                    return;
                };
                let tx = self.answers_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(Msg::TrainActed(launcher.train(&name, &act)));
                });
            }
            Effect::TrainPreview { name } if self.inner.is_none() => {
                let Some(launcher) = self.plans.first().map(|p| p.launcher.clone()) else {
                    return;
                };
                let tx = self.answers_tx.clone();
                tokio::task::spawn_blocking(move || {
                    let over = launcher.train_rollback_over(&name);
                    let _ = tx.send(Msg::TrainPreview { name, over });
                });
            }
            Effect::BackToBoard => {
                self.inner = None;
                // What changed meanwhile is read now.
                let _ = self.tx.try_send(());
            }
            other => match self.inner.as_mut() {
                Some(inner) => inner.perform(other),
                None => match other {
                    Effect::MouseCapture(on) => {
                        let _ = super::terminal::set_mouse_capture(on);
                    }
                    Effect::Bell => {
                        use std::io::Write;
                        let mut out = std::io::stdout();
                        let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                    }
                    _ => {}
                },
            },
        }
    }
}
