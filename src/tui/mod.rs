//! The cockpit: a full-screen observer of one release (see ARCHITECTURE.md, "The cockpit's
//! loop"). It reads the journal and the run logs like every other observer.

pub mod action;
pub mod app;
pub mod event_loop;
#[doc(hidden)]
pub mod keymap;
pub mod layout;
pub mod log_tail;
pub mod modal;
pub mod output_pane;
pub mod settings;
pub mod source;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod views;
pub mod widgets;
pub mod workspace;
pub mod ws_source;

use std::io;
use std::sync::Arc;

use crate::journal::{ReleaseDir, Store};
use crate::plan::Plan;

/// How the cockpit was asked to behave.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Quit when the watched release reaches a final state, with `run`'s exit code.
    pub exit_when_done: bool,
    /// On quit, say nothing about an unfinished release going on in its driver (the demo cancels
    /// its release on quit and says so itself).
    pub no_reattach_hint: bool,
    /// The user's settings (keys, colours, bell), already validated.
    pub settings: settings::Settings,
    /// Debug builds' `--debug-panic`: panic there once the first frame is drawn.
    pub debug_panic: Option<PanicAt>,
}

/// Where `--debug-panic` (debug builds only) makes the cockpit panic, for the end-to-end tests
/// of the restoring panic hook: every one must restore the terminal, print the report and exit
/// with 101.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PanicAt {
    /// The cockpit's own loop.
    Loop,
    /// A spawned tokio task.
    Task,
    /// A blocking job (like the source's requests).
    Blocking,
    /// A plain thread.
    Thread,
}

/// The test hook behind `--debug-panic`: compiled into debug builds only.
#[cfg(debug_assertions)]
fn debug_panic(at: PanicAt) {
    const WHAT: &str = "forced panic (--debug-panic)";
    match at {
        PanicAt::Loop => panic!("{WHAT} in the loop"),
        PanicAt::Task => drop(tokio::spawn(async { panic!("{WHAT} in a tokio task") })),
        PanicAt::Blocking => drop(tokio::task::spawn_blocking(|| panic!("{WHAT} in a blocking job"))),
        PanicAt::Thread => drop(std::thread::spawn(|| panic!("{WHAT} in a thread"))),
    }
}

/// Open the cockpit on `rdir` (or on the start screen of `plan` when there is no release yet) in
/// this terminal until the user quits (or, with `exit_when_done`, until the release reaches a
/// final state). Returns the exit code: 0 on quit, `run`'s exit code for a release that finished
/// with `exit_when_done`. The terminal is restored in every case.
pub fn open(
    store: Store,
    plan_name: &str,
    rdir: Option<&ReleaseDir>,
    plan: Option<Arc<Plan>>,
    launcher: Arc<dyn source::Launcher>,
    opts: Options,
) -> io::Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut ui = state::UiState::new(opts.settings.keymap.clone(), opts.settings.theme());
        ui.bell = opts.settings.bell;
        ui.exit_when_done = opts.exit_when_done;
        if rdir.is_none() {
            ui.focus = layout::Focus::Pipeline;
        }
        let mut source = source::ReleaseSource::new(store, plan_name, rdir, plan, launcher);
        let code = run_loop(&mut ui, &mut source, &opts).await?;
        if !opts.no_reattach_hint && ui.release.finished.is_none() && !ui.release.id.is_empty() {
            crate::errln!(
                "flightdeck: release {} goes on in its driver; `flightdeck cockpit {}` reattaches",
                ui.release.id,
                ui.release.id
            );
        }
        Ok(code)
    })
}

/// The terminal taken, the loop run until the user quits, the terminal given back (whatever
/// happens): the exit code.
async fn run_loop(
    ui: &mut state::UiState,
    source: &mut impl event_loop::Source,
    opts: &Options,
) -> io::Result<u8> {
    let (guard, mut term) = terminal::TerminalGuard::enter()?;
    #[cfg(debug_assertions)]
    if let Some(at) = opts.debug_panic {
        term.draw(|f| views::render(f, ui, chrono::Utc::now()))?;
        debug_panic(at);
    }
    #[cfg(not(debug_assertions))]
    let _ = opts;
    let mut input = terminal::TermInput::default();
    let mut stats = event_loop::LoopStats::default();
    let code = event_loop::run(
        &mut term,
        &mut input,
        source,
        &event_loop::SystemClock,
        ui,
        event_loop::LoopConfig::default(),
        &mut stats,
    )
    .await?;
    drop(guard);
    Ok(code)
}

/// Open the cockpit on the workspace board of `workspace` (its `plans`, each with the launcher
/// that acts on its releases), or on `release` (a release of one of them) with the board behind
/// it: Esc in the release view goes back to the board. Returns 0 when the user quits; the
/// terminal is restored in every case.
pub fn open_workspace(
    store: Store,
    workspace: &str,
    plans: Vec<ws_source::WsPlan>,
    release: Option<&ReleaseDir>,
    opts: Options,
) -> io::Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut ui = state::UiState::new(opts.settings.keymap.clone(), opts.settings.theme());
        ui.bell = opts.settings.bell;
        let shape: Vec<(String, Vec<String>)> = plans
            .iter()
            .map(|p| (p.plan.name.clone(), p.plan.environments.keys().cloned().collect()))
            .collect();
        ui.ws = Some(workspace::WsBoard::new(workspace, &shape, release.is_none()));
        let mut source = ws_source::WorkspaceSource::new(store, workspace, plans);
        if let Some(r) = release {
            source.open(&r.plan, &r.id).map_err(io::Error::other)?;
            ui.update(app::Msg::Opened(r.id.clone()));
        }
        let code = run_loop(&mut ui, &mut source, &opts).await?;
        if !ui.ws_shown() && ui.release.finished.is_none() && !ui.release.id.is_empty() {
            crate::errln!(
                "flightdeck: release {} goes on in its driver; `flightdeck cockpit {}` reattaches",
                ui.release.id,
                ui.release.id
            );
        }
        Ok(code)
    })
}
