//! The command line (clap): one function per subcommand, each a few lines over the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, CommandFactory, Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr, bail, eyre};

use crate::ansi::clean;
use crate::engine::driver::{self, DriveError, DriveOptions, Driver};
use crate::engine::event::Event;
use crate::engine::request::{self, Op, OpError, SubmitError};
use crate::engine::state::ReleaseState;
use crate::headless::{Printer, status_json, status_text};
use crate::journal::{self, Journal, ReleaseDir, Store, SyncWaker, Verified};
use crate::plan::{self, Plan, ReleaseType};

/// Exit codes.
pub use crate::engine::event::exit;

#[derive(Parser, Debug)]
#[command(
    name = "flightdeck",
    version,
    about = "A terminal release cockpit: plan, run, gate, roll back and audit releases"
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    /// Default: `cockpit`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// The plan file (default: flightdeck.toml in this directory or the nearest parent).
    #[arg(long, global = true, env = "FLIGHTDECK_PLAN", value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Where releases are kept (default: the platform's data directory).
    #[arg(long, global = true, env = "FLIGHTDECK_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Who you are, for the journal (default: FLIGHTDECK_USER, git's user.name, $USER).
    #[arg(long = "as", global = true, value_name = "NAME")]
    actor: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The full-screen cockpit on a release (default: the newest of this plan). The default command.
    Cockpit {
        release: Option<String>,
        /// Quit when the release reaches a final state, with the exit code `run` would give.
        #[arg(long)]
        exit_when_done: bool,
        /// Start a release of this version (in a detached driver, like `run --detach`) and watch it.
        #[arg(long, value_name = "VERSION", conflicts_with = "release")]
        start: Option<String>,
        /// The started release's type: major, minor, patch or hotfix (default: minor).
        #[arg(long = "type", value_name = "T", requires = "start")]
        rtype: Option<ReleaseType>,
        /// Debug builds only (tests of the terminal's restore): panic once the cockpit has drawn.
        /// A release build has no such argument at all.
        #[cfg_attr(debug_assertions, arg(long, hide = true, value_name = "WHERE"))]
        #[cfg_attr(not(debug_assertions), arg(skip))]
        debug_panic: Option<crate::tui::PanicAt>,
        /// Start a release (`--start`, or `n` in the cockpit) even while another release of this
        /// version of the plan is unfinished.
        #[arg(long)]
        allow_duplicate: bool,
    },
    /// Validate the plan: exit 0 with a summary, or 2 with every problem as file:line:col.
    Check,
    /// Start and drive a release headless.
    Run {
        /// The version to release (default: the one `flightdeck next` suggests from git).
        version: Option<String>,
        /// major, minor, patch or hotfix (default: minor, or what `next` suggests).
        #[arg(long = "type")]
        rtype: Option<ReleaseType>,
        #[command(flatten)]
        drive: DriveFlags,
        /// Start it even while another release of this version of the plan is unfinished.
        #[arg(long)]
        allow_duplicate: bool,
    },
    /// Take over a release whose driver is gone (or stopped at a gate) and drive it on.
    Resume {
        release: Option<String>,
        #[command(flatten)]
        drive: DriveFlags,
    },
    /// Approve a gate (each person counts once).
    Approve {
        release: String,
        gate: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Tick a manual checklist item (its text, a unique prefix of it, or its number).
    Tick {
        release: String,
        gate: String,
        item: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Re-run an automatic checklist item.
    Recheck {
        release: String,
        gate: String,
        item: String,
    },
    /// Cancel a release: running commands get SIGTERM, then SIGKILL after the grace period.
    Cancel { release: Option<String> },
    /// Retry a failed stage (by default its failed targets only).
    Retry {
        release: String,
        stage: String,
        #[arg(long)]
        target: Option<String>,
    },
    /// Skip a stage that has not started.
    Skip {
        release: String,
        stage: String,
        #[arg(long)]
        reason: String,
    },
    /// Roll back the release (or one stage and everything after it), newest first.
    Rollback {
        release: Option<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// Give up this release's hold on an environment.
    UnlockEnv {
        release: String,
        env: String,
        #[arg(long)]
        reason: String,
    },
    /// Show a release (default: the newest).
    Status {
        release: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List releases, newest first.
    List {
        /// Every plan's releases, not just this plan's.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print a run's output.
    Logs {
        release: String,
        stage: String,
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        attempt: Option<u32>,
        /// Keep printing until the run ends.
        #[arg(long, short)]
        follow: bool,
        /// Show the rollback run's output.
        #[arg(long)]
        rollback: bool,
    },
    /// Check a journal's hash chain; names the first altered line.
    Verify { release: Option<String> },
    /// Release notes from conventional commits, grouped (default: newest release tag..HEAD).
    Notes {
        /// FROM..TO (or FROM.. / ..TO): tags, versions, commit id prefixes, HEAD.
        range: Option<String>,
        /// Markdown (md) or JSON.
        #[arg(long, value_enum, default_value_t = NotesFormat::Md)]
        format: NotesFormat,
    },
    /// The suggested next version and release type, from the commits since the newest release tag.
    Next {
        /// Print version, type, base tag and counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare environments: run their probes and show a matrix of keys against the baseline.
    /// Exit 0 when nothing drifts, 1 when something does, 2 when a probe fails.
    Drift(DriftArgs),
    /// The shipped demo: write it (a plan, its scripts, a git repository) into a temp folder, start
    /// its release and open the cockpit on it. Quitting cancels the release and removes the folder.
    /// Without a terminal: start the release, print where it is and how to watch it, keep the folder.
    /// The demo has its own plan and data directory (in its folder): --plan and --data-dir do not
    /// apply.
    Demo {
        /// Write the demo here instead (created if missing; empty, or holding an earlier demo); kept.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Debug builds only (tests of the demo's clean-up): panic once the cockpit has drawn.
        /// A release build has no such argument at all.
        #[cfg_attr(debug_assertions, arg(long, hide = true, value_name = "WHERE"))]
        #[cfg_attr(not(debug_assertions), arg(skip))]
        debug_panic: Option<crate::tui::PanicAt>,
    },
    /// Print shell completions: `flightdeck completions bash > /etc/bash_completion.d/flightdeck`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `flightdeck man > ~/.local/share/man/man1/flightdeck.1`.
    Man,
    /// (internal) drive a release folder in the background.
    #[command(hide = true)]
    Drive {
        dir: PathBuf,
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Args, Debug, Clone, Copy)]
struct DriveFlags {
    /// At an unsatisfied gate, exit 3 (paused) instead of waiting.
    #[arg(long)]
    no_wait: bool,
    /// Drive in the background (own session): print the release id and exit 0.
    #[arg(long)]
    detach: bool,
}

impl Command {
    /// Commands that only read and print: a closed pipe ends them at once, silently.
    fn only_prints(&self) -> bool {
        matches!(
            self,
            Command::Check
                | Command::Status { .. }
                | Command::List { .. }
                | Command::Logs { .. }
                | Command::Verify { .. }
                | Command::Notes { .. }
                | Command::Next { .. }
                | Command::Completions { .. }
                | Command::Man
                | Command::Approve { .. }
                | Command::Tick { .. }
                | Command::Recheck { .. }
                | Command::Cancel { .. }
                | Command::Retry { .. }
                | Command::Skip { .. }
                | Command::Rollback { .. }
                | Command::UnlockEnv { .. }
        )
    }

    /// Commands that act as someone (journal an event, start a release or a driver).
    fn acts(&self) -> bool {
        !matches!(
            self,
            Command::Check
                | Command::Status { .. }
                | Command::List { .. }
                | Command::Logs { .. }
                | Command::Verify { .. }
                | Command::Notes { .. }
                | Command::Next { .. }
                | Command::Drift(_)
                | Command::Completions { .. }
                | Command::Man
        )
    }
}

/// Parse arguments, run, and map the outcome to an exit code. Nothing the user typed or the
/// machine did (a bad name, a full disk, a data directory that cannot be written) ends in a
/// report with a backtrace: every error is one message on stderr, through the sanitiser.
pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap quotes what was typed: print it through the sanitiser too.
            crate::term::err_line(e.to_string().trim_end());
            return Ok(ExitCode::from(exit::USAGE));
        }
        Err(e) => {
            // --help, --version.
            crate::term::die_quietly_on_closed_pipe();
            e.exit()
        }
    };
    let command = cli.command.unwrap_or(Command::Cockpit {
        release: None,
        exit_when_done: false,
        start: None,
        rtype: None,
        debug_panic: None,
        allow_duplicate: false,
    });
    if command.only_prints() {
        crate::term::die_quietly_on_closed_pipe();
    }
    let mut ctx = Ctx {
        g: cli.global,
        allow_duplicate: false,
    };
    let code = ctx.identify(command.acts()).and_then(|()| ctx.dispatch(command));
    Ok(ExitCode::from(match code {
        Ok(c) => c,
        Err(e) => report(&e),
    }))
}

/// Print an error as one message (plan problems: one `file:line:col` line each) and choose the
/// exit code: 2 for usage and plan problems, 4 for a release held by another process, 1 for
/// everything else (a refusal, a file that cannot be read or written, a full disk).
fn report(e: &color_eyre::Report) -> u8 {
    use crate::term::err_line;
    if let Some(pe) = e.downcast_ref::<plan::PlanError>() {
        err_line(&pe.to_string());
        return exit::USAGE;
    }
    if let Some(se) = e.downcast_ref::<crate::tui::settings::SettingsError>() {
        err_line(&se.to_string());
        return exit::USAGE;
    }
    // These are one line each, however much of what was typed they quote (a newline in a
    // release name shows as a space).
    if let Some(UsageError(msg)) = e.downcast_ref::<UsageError>() {
        err_line(&format!("flightdeck: {}", clean(msg)));
        return exit::USAGE;
    }
    if let Some(Refused(msg)) = e.downcast_ref::<Refused>() {
        err_line(&format!("flightdeck: refused: {}", clean(msg)));
        return exit::FAILED;
    }
    if let Some(Duplicate(msg)) = e.downcast_ref::<Duplicate>() {
        err_line(&format!("flightdeck: {}", clean(msg)));
        return exit::LOCKED;
    }
    if let Some(DriveError::Locked { .. }) = e.downcast_ref::<DriveError>() {
        err_line(&format!("flightdeck: {e}"));
        return exit::LOCKED;
    }
    // The release's plan copy does not load: a plan problem (file:line:col), exit 2.
    if let Some(DriveError::Plan(msg)) = e.downcast_ref::<DriveError>() {
        err_line(msg);
        return exit::USAGE;
    }
    // The reader of our output has gone: nothing more to say.
    if e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return exit::FAILED;
    }
    // Files, the data directory, the journal: the message names the path and the cause.
    err_line(&format!("flightdeck: {e:#}"));
    exit::FAILED
}

impl Ctx {
    /// Check the name given with `--as` (always) and, for commands that act, find out who acts
    /// (`--as`, FLIGHTDECK_USER, git's user.name, $USER): trimmed, printable, not empty.
    fn identify(&mut self, acts: bool) -> Result<()> {
        use crate::engine::identity::normalize;
        if let Some(a) = &self.g.actor {
            self.g.actor = Some(normalize(a).map_err(|m| usage(format!("--as: {m}")))?);
            return Ok(());
        }
        if !acts {
            return Ok(());
        }
        let (source, raw) = Self::actor_source();
        self.g.actor = Some(normalize(&raw).map_err(|m| usage(format!("{source}: {m}")))?);
        Ok(())
    }

    /// The name this user goes by, and where it came from.
    fn actor_source() -> (&'static str, String) {
        if let Some(u) = std::env::var_os("FLIGHTDECK_USER")
            && !u.is_empty()
        {
            return ("FLIGHTDECK_USER", u.to_string_lossy().into_owned());
        }
        if let Ok(cfg) = git2::Config::open_default()
            && let Ok(name) = cfg.get_string("user.name")
            && !name.is_empty()
        {
            return ("git's user.name", name);
        }
        match std::env::var_os("USER") {
            Some(u) if !u.is_empty() => ("$USER", u.to_string_lossy().into_owned()),
            _ => ("$USER", "unknown".into()),
        }
    }

    fn dispatch(&mut self, command: Command) -> Result<u8> {
        let ctx = &*self;
        match command {
            Command::Cockpit {
                release,
                exit_when_done,
                start,
                rtype,
                debug_panic,
                allow_duplicate,
            } => {
                let opts = crate::tui::Options {
                    exit_when_done,
                    debug_panic,
                    ..Default::default()
                };
                self.allow_duplicate = allow_duplicate;
                self.cockpit(release.as_deref(), opts, start.map(|v| (v, rtype)))
            }
            Command::Check => ctx.check(),
            Command::Run {
                version,
                rtype,
                drive,
                allow_duplicate,
            } => {
                self.allow_duplicate = allow_duplicate;
                self.run(version.as_deref(), rtype, drive)
            }
            Command::Resume { release, drive } => ctx.resume(release.as_deref(), drive),
            Command::Approve { release, gate, note } => ctx.approve(&release, &gate, note),
            Command::Tick {
                release,
                gate,
                item,
                note,
            } => ctx.tick(&release, &gate, &item, note),
            Command::Recheck { release, gate, item } => ctx.recheck(&release, &gate, &item),
            Command::Cancel { release } => ctx.request(release.as_deref(), Op::Cancel),
            Command::Retry {
                release,
                stage,
                target,
            } => ctx.request(Some(&release), Op::Retry { stage, target }),
            Command::Skip {
                release,
                stage,
                reason,
            } => ctx.request(Some(&release), Op::Skip { stage, reason }),
            Command::Rollback { release, stage } => ctx.request(release.as_deref(), Op::Rollback { stage }),
            Command::UnlockEnv { release, env, reason } => ctx.unlock_env(&release, &env, &reason),
            Command::Status { release, json } => ctx.status(release.as_deref(), json),
            Command::List { all, json } => ctx.list(all, json),
            Command::Logs {
                release,
                stage,
                target,
                attempt,
                follow,
                rollback,
            } => ctx.logs(&release, &stage, target.as_deref(), attempt, follow, rollback),
            Command::Verify { release } => ctx.verify(release.as_deref()),
            Command::Notes { range, format } => ctx.notes(range.as_deref(), format),
            Command::Next { json } => ctx.next(json),
            Command::Drift(args) => ctx.drift(args),
            Command::Demo { dir, debug_panic } => crate::demo::run(ctx, dir.as_deref(), debug_panic),
            Command::Completions { shell } => generated(|out| {
                clap_complete::generate(shell, &mut Cli::command(), "flightdeck", out);
                Ok(())
            }),
            Command::Man => generated(|out| clap_mangen::Man::new(Cli::command()).render(out)),
            Command::Drive { dir, no_wait } => ctx.drive_detached(&dir, no_wait),
        }
    }
}

/// How the cockpit acts: as this command line's user, starting drivers the way `run --detach` does.
impl crate::tui::source::Launcher for Ctx {
    fn actor(&self) -> String {
        Ctx::actor(self)
    }

    fn start_release(&self, version: &str, rtype: ReleaseType) -> std::result::Result<ReleaseDir, String> {
        let rdir = self
            .create_release(Some(version), Some(rtype))
            .map_err(|e| format!("{e:#}"))?;
        self.start_driver(&rdir)?;
        Ok(rdir)
    }

    fn start_driver(&self, rdir: &ReleaseDir) -> std::result::Result<(), String> {
        match self.spawn_driver(rdir, false) {
            Ok(Ok(_child)) => Ok(()),
            Ok(Err(_)) => Err(format!("release {} is driven by another process", rdir.id)),
            Err(e) => Err(format!("{e:#}")),
        }
    }

    fn suggest(&self) -> std::result::Result<(String, ReleaseType), String> {
        let plan = self.load_plan().map_err(|e| format!("{e:#}"))?;
        crate::drift::git::suggest_next(&plan)
            .map(|s| (s.version, s.rtype))
            .map_err(|e| e.to_string())
    }
}

/// A mistake in what was asked (unknown release, gate, item...): exit 2 with the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> color_eyre::Report {
    UsageError(msg.into()).into()
}

/// A release of this version of the plan is still unfinished: exit 4.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Duplicate(pub String);

/// The command line's context (global options), also used by `demo`.
#[derive(Clone)]
pub(crate) struct Ctx {
    g: Global,
    /// Start a release even while another of the same version is unfinished.
    allow_duplicate: bool,
}

impl Ctx {
    /// The same person, on another plan and data directory (the demo's).
    pub(crate) fn with_plan(&self, plan: PathBuf, data_dir: PathBuf) -> Ctx {
        Ctx {
            g: Global {
                plan: Some(plan),
                data_dir: Some(data_dir),
                actor: Some(self.actor()),
            },
            // The demo's own sandbox: it refuses to start over a live demo release by itself,
            // and an interrupted earlier one must not stop a new one.
            allow_duplicate: true,
        }
    }

    fn plan_path(&self) -> Result<PathBuf> {
        match &self.g.plan {
            Some(p) => Ok(p.clone()),
            None => Ok(plan::find_plan_file(&std::env::current_dir()?)?),
        }
    }

    fn load_plan(&self) -> Result<Plan> {
        Ok(plan::load(&self.plan_path()?)?)
    }

    pub(crate) fn store(&self) -> Result<Store> {
        Ok(Store::locate(self.g.data_dir.clone())?)
    }

    /// The plan name to scope release lookups to, when a plan is at hand.
    fn plan_scope(&self) -> Option<String> {
        let path = self.plan_path().ok()?;
        plan::load(&path).ok().map(|p| p.name)
    }

    fn find(&self, release: Option<&str>) -> Result<ReleaseDir> {
        let store = self.store()?;
        let scope = self.plan_scope();
        match store.find(scope.as_deref(), release) {
            Ok(r) => Ok(r),
            // Not among this plan's releases: try every plan (an id is usually unique).
            Err(journal::JournalError::NotFound(..))
                if scope.is_some() && release.is_some_and(|r| r != "latest") =>
            {
                store.find(None, release).map_err(find_error)
            }
            Err(e) => Err(find_error(e)),
        }
    }

    /// Who acts (checked and trimmed by [`Ctx::identify`] before any command that acts).
    pub(crate) fn actor(&self) -> String {
        match &self.g.actor {
            Some(a) => a.clone(),
            None => crate::engine::identity::normalize(&Self::actor_source().1)
                .unwrap_or_else(|_| "unknown".into()),
        }
    }

    /// The release's state, folded up to the first line that does not chain (then it needs
    /// attention, see [`ReleaseState::attention`]); what the load found is said on stderr.
    pub(crate) fn load_state(rdir: &ReleaseDir) -> Result<ReleaseState> {
        let (st, warnings) = ReleaseState::load(&rdir.journal())?;
        // A broken chain is part of the state (`attention`, with its reason), not a warning.
        for w in warnings.iter().filter(|w| w.broken().is_none()) {
            crate::errln!("flightdeck: warning: {}: {w}", rdir.journal().display());
        }
        Ok(st)
    }

    /// Refuse to act on a release whose journal does not chain (exit 1, one line).
    fn refuse_broken(st: &ReleaseState) -> Result<()> {
        match &st.attention {
            Some(why) => Err(refused(format!(
                "{why}; nothing from this line on is acted on (`flightdeck verify` checks the journal)"
            ))),
            None => Ok(()),
        }
    }

    fn cockpit(
        &self,
        release: Option<&str>,
        mut opts: crate::tui::Options,
        start: Option<(String, Option<ReleaseType>)>,
    ) -> Result<u8> {
        // An invalid settings file stops the cockpit before anything starts (exit 2).
        opts.settings = crate::tui::settings::load()?;
        if !std::io::stdout().is_terminal() {
            return Err(usage(
                "the cockpit needs a terminal; use `flightdeck status` or `flightdeck logs --follow`",
            ));
        }
        let store = self.store()?;
        let rdir = match (start, release) {
            (Some((version, rtype)), _) => {
                let rdir = self.create_release(Some(&version), rtype)?;
                if let Err(code) = self.spawn_driver(&rdir, false)? {
                    return Ok(code);
                }
                Some(rdir)
            }
            (None, Some(r)) => Some(self.find(Some(r))?),
            // The plan's newest release, else the start screen.
            // The plan's newest release, else its start screen; a plan that does not load says
            // why; with no plan here, the newest release of any plan.
            (None, None) => match self.plan_path() {
                Ok(_) => {
                    let plan = self.load_plan()?;
                    match store.find(Some(&plan.name), None) {
                        Ok(r) => Some(r),
                        Err(journal::JournalError::NotFound(..)) => None,
                        Err(e) => return Err(usage(e.to_string())),
                    }
                }
                Err(_) => match store.find(None, None) {
                    Ok(r) => Some(r),
                    Err(journal::JournalError::NotFound(..)) => {
                        return Err(usage(
                            "no plan here (flightdeck.toml in this directory or a parent, or --plan FILE) \
                             and no releases yet; `flightdeck demo` opens the cockpit on a sample release",
                        ));
                    }
                    Err(e) => return Err(usage(e.to_string())),
                },
            },
        };
        let (plan_name, plan) = match &rdir {
            Some(r) => (r.plan.clone(), None),
            None => {
                let plan = self.load_plan()?;
                (plan.name.clone(), Some(std::sync::Arc::new(plan)))
            }
        };
        let launcher = std::sync::Arc::new(self.clone());
        Ok(crate::tui::open(
            store,
            &plan_name,
            rdir.as_ref(),
            plan,
            launcher,
            opts,
        )?)
    }

    fn check(&self) -> Result<u8> {
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

    fn run(&self, version: Option<&str>, rtype: Option<ReleaseType>, flags: DriveFlags) -> Result<u8> {
        if !flags.detach {
            // A watching run turns Ctrl-C into a cancel of its release, however early it comes:
            // held from before the release exists until `wait_for_driver` listens.
            block_ending_signals(nix::sys::signal::SigmaskHow::SIG_BLOCK);
        }
        let rdir = self.create_release(version, rtype)?;
        self.drive(rdir, flags, false)
    }

    /// Create a release of the plan (its folder, plan copy, notes and first events); no driver yet.
    pub(crate) fn create_release(
        &self,
        version: Option<&str>,
        rtype: Option<ReleaseType>,
    ) -> Result<ReleaseDir> {
        let plan = self.load_plan()?;
        // A secret that cannot be masked safely is refused before anything exists.
        plan.check_secrets_in_env()?;
        // The commits this release ships (when the plan lives in a git repository), and the
        // suggested version when none was given.
        let (version, rtype, notes) = match version {
            Some(v) if v.trim().is_empty() => return Err(usage("VERSION must not be empty")),
            Some(v) => (v.to_string(), rtype.unwrap_or_default(), release_notes(&plan)),
            None => {
                let s = crate::drift::git::suggest_next(&plan)
                    .map_err(|e| usage(format!("no VERSION given and none can be suggested: {e}")))?;
                crate::errln!("flightdeck: releasing {s}");
                (s.version.clone(), rtype.unwrap_or(s.rtype), Some(s.notes))
            }
        };
        check_version(&version)?;
        let version = version.as_str();
        let store = self.store()?;
        let plan_dir = store.plan_dir(&plan.name)?;
        std::fs::create_dir_all(&plan_dir).map_err(journal::io_error(&plan_dir))?;
        // Looking for an unfinished release of this version and creating this one happen under
        // one lock of the plan's folder, so two `run 5.0` at once cannot both start one.
        let lock_path = plan_dir.join("releases.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(journal::io_error(&lock_path))?;
        lock.lock().map_err(journal::io_error(&lock_path))?;
        if !self.allow_duplicate
            && let Some((other, word)) = unfinished_release(&store, &plan.name, version)?
        {
            return Err(Duplicate(format!(
                "release {} of plan {} is still running ({word}); finish or cancel it, or pass --allow-duplicate",
                clean(&other),
                clean(&plan.name),
            ))
            .into());
        }
        let rdir = store.create_release(&plan.name, version)?;
        let text = crate::files::read_bounded(&plan.path, crate::files::MAX_INPUT)
            .map_err(journal::io_error(&plan.path))?;
        let copy = rdir.plan_copy();
        std::fs::write(&copy, text).map_err(journal::io_error(&copy))?;
        let masker = std::sync::Arc::new(driver::masker_for(&plan));
        let mut journal = Journal::open(&rdir.journal(), masker)?;
        let mut events = vec![driver::release_created(&plan, &rdir.id, version, rtype)];
        if let Some(notes) = notes {
            let path = rdir.path.join("notes.md");
            std::fs::write(&path, notes.markdown()).map_err(journal::io_error(&path))?;
            events.push(driver::release_commits(&notes, "notes.md"));
        }
        journal.append(&self.actor(), events)?;
        drop(lock);
        Ok(rdir)
    }

    fn resume(&self, release: Option<&str>, flags: DriveFlags) -> Result<u8> {
        let rdir = self.find(release)?;
        let state = Self::load_state(&rdir)?;
        Self::refuse_broken(&state)?;
        if let Some(pid) = rdir.live_driver() {
            crate::errln!(
                "flightdeck: release {} is driven by another process (pid {pid})",
                rdir.id
            );
            return Ok(exit::LOCKED);
        }
        if state.finished.is_some() && state.pending_requests().next().is_none() {
            crate::errln!(
                "flightdeck: release {} has already finished ({})",
                rdir.id,
                state.state_word(false)
            );
            return Ok(end_code(&state));
        }
        // The plan copy must still load (the driver will load it too), and its secrets be
        // maskable: say so here, plainly.
        driver::plan_for_release(&rdir, &state)?.check_secrets_in_env()?;
        self.drive(rdir, flags, true)
    }

    /// Drive in this process and print as an observer; `resumed`: print only what happens from now.
    /// Drive a release: always in a background driver process of its own session (so closing
    /// this terminal never touches the release, and no child can reach the terminal). Without
    /// `--detach` this process observes it: prints what happens, turns Ctrl-C into a cancel
    /// request, and exits with the release's exit code.
    fn drive(&self, rdir: ReleaseDir, flags: DriveFlags, resumed: bool) -> Result<u8> {
        if flags.detach {
            return match self.spawn_driver(&rdir, flags.no_wait)? {
                Ok(_child) => {
                    crate::outln!("{}", rdir.id);
                    Ok(exit::OK)
                }
                Err(code) => Ok(code),
            };
        }
        // From here on a Ctrl-C or SIGTERM must become a cancel request, also one that arrives
        // before `wait_for_driver` listens for it (the driver may already be running): hold
        // them pending until then. Threads started from here on inherit the mask, so only the
        // waiting thread receives them; the driver's own mask is reset when it is spawned.
        block_ending_signals(nix::sys::signal::SigmaskHow::SIG_BLOCK);
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let out = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout());
        let mut printer = Printer::new(&rdir, out, color);
        if resumed {
            printer.skip_history()?;
        }
        let child = match self.spawn_driver(&rdir, flags.no_wait)? {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };
        // The printer is an observer on its own thread: a slow terminal never slows anything.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = SyncWaker::watch(&rdir.path);
        let wake = waker.handle();
        let printer_done = done.clone();
        let printer = std::thread::spawn(move || -> std::io::Result<()> {
            loop {
                let last = printer_done.load(std::sync::atomic::Ordering::Acquire);
                printer.poll()?;
                if last {
                    return Ok(());
                }
                waker.wait(Duration::from_millis(500));
            }
        });
        let status = self.wait_for_driver(&rdir, child)?;
        done.store(true, std::sync::atomic::Ordering::Release);
        let _ = wake.try_send(());
        let Some(status) = status else {
            // Gave up on the driver: what was printed is flushed, unless the printer is stuck too.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(printer.join());
            });
            let _ = rx.recv_timeout(Duration::from_secs(1));
            return Ok(exit::CANCELLED);
        };
        let printed = printer.join();
        // A journal that stopped chaining stopped the driver (and the printer): say where.
        if let Ok((_, warnings)) = journal::read_journal(&rdir.journal())
            && let Some(why) = journal::attention_reason(&rdir.journal(), &warnings)
        {
            crate::errln!(
                "flightdeck: release {} needs attention: {why}; nothing from this line on is acted on (`flightdeck verify {}`)",
                rdir.id,
                rdir.id
            );
            return Ok(exit::FAILED);
        }
        match printed {
            // A closed pipe or a vanished terminal only ends the printing, never the release.
            Ok(Err(e)) if !matches!(e.raw_os_error(), Some(libc::EPIPE | libc::EIO)) => {
                crate::errln!("flightdeck: output: {e}")
            }
            _ => {}
        }
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => {
                if code == i32::from(exit::PAUSED) {
                    crate::errln!(
                        "flightdeck: release {} is paused at a gate; `flightdeck resume {}` continues it",
                        rdir.id,
                        rdir.id
                    );
                }
                Ok(u8::try_from(code).unwrap_or(exit::FAILED))
            }
            (None, sig) => {
                crate::errln!(
                    "flightdeck: the driver of release {} died (signal {}); `flightdeck resume {}` takes over",
                    rdir.id,
                    sig.unwrap_or(0),
                    rdir.id
                );
                Ok(exit::FAILED)
            }
        }
    }

    /// Wait for the driver process to end. Ctrl-C or SIGTERM here become a cancel request (the
    /// driver then stops the running commands gracefully); SIGHUP is ignored. `Ok(None)`: this
    /// observer gave up watching, the driver still owns the release: a second Ctrl-C or SIGTERM,
    /// or a cancel the driver did not answer (no `request_handled` for it) within the grace period
    /// plus [`CANCEL_ANSWER_SLACK`] (a stuck or stopped driver).
    fn wait_for_driver(
        &self,
        rdir: &ReleaseDir,
        mut child: std::process::Child,
    ) -> Result<Option<std::process::ExitStatus>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let actor = self.actor();
        let journal_path = rdir.journal();
        let plan = self.plan_for(rdir)?;
        let pid = child.id();
        let id = rdir.id.clone();
        let answer_within = grace() + CANCEL_ANSWER_SLACK;
        rt.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let _hup = signal(SignalKind::hangup()).ok();
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            // Listening now: what arrived while they were held is delivered at once.
            block_ending_signals(nix::sys::signal::SigmaskHow::SIG_UNBLOCK);
            let (tx, mut rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait());
            });
            // The cancel request: appended on a thread of its own (a stuck driver may hold the
            // journal's lock); its sequence number once written.
            let (asked_tx, mut asked_rx) = tokio::sync::mpsc::unbounded_channel::<Result<u64>>();
            let mut asked: Option<tokio::time::Instant> = None;
            let mut request: Option<u64> = None;
            let mut answered = false;
            let mut poll = tokio::time::interval(Duration::from_millis(200));
            loop {
                let deadline = asked
                    .filter(|_| !answered)
                    .map(|at| at + answer_within);
                let give_up = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let signalled = tokio::select! {
                    st = &mut rx => return Ok(Some(st.map_err(|_| eyre!("lost the driver process"))??)),
                    _ = int.recv() => true,
                    _ = term.recv() => true,
                    Some(r) = asked_rx.recv() => {
                        request = Some(r?);
                        false
                    }
                    _ = poll.tick(), if request.is_some() && !answered => {
                        let seq = request.unwrap_or_default();
                        answered = journal::read_journal(&journal_path).is_ok_and(|(recs, _)| {
                            recs.iter().any(|r| {
                                matches!(r.event, Event::RequestHandled { request, .. } if request == seq)
                            })
                        });
                        false
                    }
                    () = give_up => {
                        crate::errln!(
                            "flightdeck: the driver (pid {pid}) did not answer the cancel within {}; \
                             stopped watching. Release {id} is still its own: `flightdeck status {id}`",
                            crate::plan::format_duration(answer_within)
                        );
                        return Ok(None);
                    }
                };
                if !signalled {
                    continue;
                }
                if asked.is_some() {
                    crate::errln!(
                        "flightdeck: stopped watching; the driver (pid {pid}) still owns release {id} \
                         (`flightdeck status {id}`)"
                    );
                    return Ok(None);
                }
                asked = Some(tokio::time::Instant::now());
                let masker = std::sync::Arc::new(driver::masker_for(&plan));
                let (journal_path, actor, asked_tx) = (journal_path.clone(), actor.clone(), asked_tx.clone());
                std::thread::spawn(move || {
                    let written = Journal::open(&journal_path, masker)
                        .and_then(|mut j| j.append(&actor, vec![Event::CancelRequested {}]))
                        .map_err(color_eyre::Report::from)
                        .and_then(|recs| recs.first().map(|r| r.seq).ok_or_else(|| eyre!("the cancel request was not written")));
                    let _ = asked_tx.send(written);
                });
                crate::errln!(
                    "flightdeck: cancelling: running commands get SIGTERM, then SIGKILL after the grace period \
                     (Ctrl-C again to stop watching)"
                );
            }
        })
    }

    /// Start `flightdeck drive DIR` in its own session, detached from this terminal, and wait
    /// until it has taken the release over. `Err(code)`: it could not (another driver: 4).
    pub(crate) fn spawn_driver(
        &self,
        rdir: &ReleaseDir,
        no_wait: bool,
    ) -> Result<Result<std::process::Child, u8>> {
        use std::os::unix::process::CommandExt;
        // A journal that does not chain is not driven (the driver would refuse it too).
        Self::refuse_broken(&ReleaseState::load(&rdir.journal())?.0)?;
        let exe = std::env::current_exe()?;
        let log_path = rdir.driver_log();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(journal::io_error(&log_path))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("drive").arg(&rdir.path);
        if no_wait {
            cmd.arg("--no-wait");
        }
        if let Some(d) = &self.g.data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.arg("--as").arg(self.actor());
        cmd.stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: setsid and sigprocmask are async-signal-safe and touch nothing of the parent.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                // A watching `run` holds SIGINT/SIGTERM pending while it starts (see `drive`);
                // the mask survives exec, and the driver must get its signals.
                nix::sys::signal::pthread_sigmask(
                    nix::sys::signal::SigmaskHow::SIG_SETMASK,
                    Some(&nix::sys::signal::SigSet::empty()),
                    None,
                )
                .map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        // Watch before starting it, so its first append cannot slip by unnoticed.
        let waker = SyncWaker::watch(&rdir.path);
        let mut child = cmd.spawn().wrap_err("starting the background driver")?;
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (recs, _) = journal::read_journal(&rdir.journal())?;
            if recs
                .iter()
                .any(|r| matches!(r.event, Event::DriverStarted { pid: p, .. } if p == pid))
            {
                return Ok(Ok(child));
            }
            if let Some(status) = child.try_wait()? {
                if status.code() == Some(i32::from(exit::LOCKED)) {
                    let holder = rdir
                        .live_driver()
                        .map(|p| format!(" (pid {p})"))
                        .unwrap_or_default();
                    crate::errln!(
                        "flightdeck: release {} is driven by another process{holder}",
                        rdir.id
                    );
                    return Ok(Err(exit::LOCKED));
                }
                let log = std::fs::read_to_string(rdir.driver_log()).unwrap_or_default();
                bail!("the background driver exited ({status}) before taking over:\n{log}");
            }
            if Instant::now() > deadline {
                bail!(
                    "the background driver (pid {pid}) did not start within 20s; see {}",
                    rdir.driver_log().display()
                );
            }
            waker.wait(Duration::from_millis(100));
        }
    }

    fn drive_detached(&self, dir: &Path, no_wait: bool) -> Result<u8> {
        let rdir = ReleaseDir::from_path(dir);
        let state = Self::load_state(&rdir)?;
        let plan = driver::plan_for_release(&rdir, &state)?;
        let opts = DriveOptions {
            no_wait,
            grace: grace(),
            actor: self.actor(),
        };
        let rt = runtime()?;
        let driver = Driver::take_over(plan, rdir, self.store()?, opts)?;
        let end = rt.block_on(async {
            // No terminal here (own session): SIGTERM or SIGINT cancel gracefully.
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
            let stop = async move {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            };
            // On a worker, so the jobs it starts are picked up without a cross-thread wake-up.
            tokio::spawn(driver.run(stop))
                .await
                .expect("the driver task panicked")
        })?;
        Ok(end.exit_code())
    }

    fn approve(&self, release: &str, gate: &str, note: String) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let actor = self.actor();
        let op = Op::Approve {
            gate: gate.to_string(),
            note,
        };
        let st = self.submit(&rdir, &actor, &op)?.state;
        let g = st.gate(gate).expect("checked");
        crate::outln!(
            "{actor} approved gate {gate} of {} ({}/{} approvals)",
            clean(&st.id),
            g.approvals.len(),
            g.decl.approvals
        );
        Ok(exit::OK)
    }

    fn tick(&self, release: &str, gate: &str, item: &str, note: String) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let actor = self.actor();
        let i = self.item_index(&rdir, gate, item)?;
        let op = Op::Tick {
            gate: gate.to_string(),
            item: i,
            note,
        };
        let st = self.submit(&rdir, &actor, &op)?.state;
        let g = st.gate(gate).expect("checked");
        crate::outln!(
            "{actor} ticked item {} \"{}\" of gate {gate} ({}/{} done)",
            i + 1,
            clean(&g.decl.checklist[i].0),
            g.items_done(),
            g.decl.checklist.len()
        );
        Ok(exit::OK)
    }

    fn recheck(&self, release: &str, gate: &str, item: &str) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let i = self.item_index(&rdir, gate, item)?;
        self.request(
            Some(&rdir.id),
            Op::Recheck {
                gate: gate.to_string(),
                item: i,
            },
        )
    }

    /// A checklist item given as its text, a unique prefix, or its number.
    fn item_index(&self, rdir: &ReleaseDir, gate: &str, spec: &str) -> Result<usize> {
        let st = Self::load_state(rdir)?;
        let g = st.gate(gate).ok_or_else(|| unknown_gate(&st, gate))?;
        find_item(&g.decl.checklist, gate, spec).map_err(usage)
    }

    fn unlock_env(&self, release: &str, env: &str, reason: &str) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let op = Op::UnlockEnv {
            env: env.to_string(),
            reason: reason.to_string(),
        };
        self.submit(&rdir, &self.actor(), &op)?;
        crate::outln!("release {} no longer holds {env}", rdir.id);
        Ok(exit::OK)
    }

    /// Check `op` under the journal lock against the state as of that moment, and append it.
    pub(crate) fn submit(&self, rdir: &ReleaseDir, actor: &str, op: &Op) -> Result<request::Submitted> {
        let plan = self.plan_for(rdir)?;
        let masker = std::sync::Arc::new(driver::masker_for(&plan));
        request::submit(rdir, masker, actor, op).map_err(|e| match e {
            SubmitError::Op(OpError::Usage(m)) => usage(m),
            SubmitError::Op(OpError::Refused(m)) => refused(m),
            SubmitError::Journal(j @ journal::JournalError::Broken { .. }) => refused(j.to_string()),
            SubmitError::Journal(j) => j.into(),
        })
    }

    fn plan_for(&self, rdir: &ReleaseDir) -> Result<Plan> {
        let (recs, _) = journal::read_journal(&rdir.journal())?;
        let st = ReleaseState::from_records(&recs);
        Ok(driver::plan_for_release(rdir, &st)?)
    }

    /// Append a request for the driver; start a background driver when none is alive; wait for
    /// the driver's answer.
    fn request(&self, release: Option<&str>, op: Op) -> Result<u8> {
        let rdir = self.find(release)?;
        let actor = self.actor();
        let sub = self.submit(&rdir, &actor, &op)?;
        let (seq, req_kind) = (sub.seq, sub.kind);
        let mut started = false;
        if rdir.live_driver().is_none() {
            // Another process may become the driver in between (exit 4): that is fine too.
            self.spawn_driver(&rdir, false)?.ok();
            started = true;
        }
        let waker = SyncWaker::watch(&rdir.path);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st = Self::load_state(&rdir)?;
            if let Some(r) = st.requests.get(&seq)
                && let Some((accepted, msg)) = &r.handled
            {
                let starter = if started {
                    " (started a background driver)"
                } else {
                    ""
                };
                if *accepted {
                    crate::outln!("{req_kind} #{seq} accepted{starter}: {}", clean(msg));
                    return Ok(exit::OK);
                }
                crate::errln!("flightdeck: {req_kind} #{seq} refused: {}", clean(msg));
                return Ok(exit::FAILED);
            }
            if Instant::now() > deadline {
                crate::outln!(
                    "{req_kind} #{seq} is pending: the driver has not answered yet (see `flightdeck status {}`)",
                    rdir.id
                );
                return Ok(exit::OK);
            }
            waker.wait(Duration::from_millis(200));
        }
    }

    fn status(&self, release: Option<&str>, json: bool) -> Result<u8> {
        let rdir = self.find(release)?;
        let st = Self::load_state(&rdir)?;
        let live = rdir.live_driver();
        if json {
            crate::outln!("{}", status_json(&st, live));
        } else {
            crate::term::out_text(&status_text(&st, live, chrono::Utc::now()));
        }
        Ok(exit::OK)
    }

    fn list(&self, all: bool, json: bool) -> Result<u8> {
        let store = self.store()?;
        let scope = if all { None } else { Some(self.load_plan()?.name) };
        let mut rows = Vec::new();
        for rdir in store.releases(scope.as_deref())? {
            let Ok(st) = Self::load_state(&rdir) else { continue };
            rows.push((rdir.live_driver(), st));
        }
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
                    "{:<16} {:<14} {:<7} {:<16} {done}/{total} stages  {started}{}",
                    clean(&st.id),
                    clean(&st.plan),
                    st.rtype.as_str(),
                    st.state_word(live.is_some()),
                    live.map(|p| format!("  driver pid {p}")).unwrap_or_default()
                );
            }
        }
        Ok(exit::OK)
    }

    fn logs(
        &self,
        release: &str,
        stage: &str,
        target: Option<&str>,
        attempt: Option<u32>,
        follow: bool,
        rollback: bool,
    ) -> Result<u8> {
        let rdir = self.find(Some(release))?;
        let st = Self::load_state(&rdir)?;
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
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let key = (a.n, rollback);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        crate::headless::print_log(&path, follow, &mut out, color, || {
            let st = Self::load_state(&rdir).ok()?;
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

    fn verify(&self, release: Option<&str>) -> Result<u8> {
        let rdir = self.find(release)?;
        let head = std::fs::read_to_string(rdir.head()).ok();
        let code = match journal::verify(&rdir.journal(), head.as_deref())? {
            Verified::Intact { lines } => {
                crate::outln!(
                    "{}: intact ({lines} lines, hash chain verified)",
                    rdir.journal().display()
                );
                Ok(exit::OK)
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
}

/// The request was understood but refused (e.g. a second approval by the same person): exit 1.
fn refused(msg: String) -> color_eyre::Report {
    eyre!(Refused(msg))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

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
        approvals: 0,
        required_for: None,
        checklist: items
            .iter()
            .map(|(t, _)| crate::plan::ChecklistItem::manual(t.clone()))
            .collect(),
    };
    g.find_item(spec)
}

/// Text generated from the command line's own definition (completions, the man page), written to
/// stdout: always in step with the real arguments.
fn generated(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<u8> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write(&mut out).and_then(|()| std::io::Write::flush(&mut out))?;
    Ok(exit::OK)
}

/// Hold (`SIG_BLOCK`) or deliver (`SIG_UNBLOCK`) SIGINT, SIGTERM and SIGHUP for this thread.
fn block_ending_signals(how: nix::sys::signal::SigmaskHow) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    let _ = nix::sys::signal::pthread_sigmask(how, Some(&set), None);
}

/// An unknown or ambiguous release is a usage error (exit 2); a data directory that cannot be
/// read is an environment problem (exit 1, naming the path).
fn find_error(e: journal::JournalError) -> color_eyre::Report {
    match e {
        journal::JournalError::Io { .. } | journal::JournalError::Broken { .. } => e.into(),
        e => usage(e.to_string()),
    }
}

/// The longest VERSION accepted (it names the release's folder).
pub const MAX_VERSION: usize = 128;

/// A version must be printable and short enough to be a folder name: exit 2 otherwise.
fn check_version(version: &str) -> Result<()> {
    if version.chars().any(char::is_control) {
        return Err(usage(format!(
            "VERSION \"{}\" holds control characters (escape sequences, newlines, tabs); use a plain version",
            version.escape_debug()
        )));
    }
    let n = version.chars().count();
    if n > MAX_VERSION {
        return Err(usage(format!(
            "VERSION is too long ({n} characters; at most {MAX_VERSION})"
        )));
    }
    Ok(())
}

/// An unfinished release of `version` of `plan` (its id and state word), if there is one.
fn unfinished_release(store: &Store, plan: &str, version: &str) -> Result<Option<(String, String)>> {
    let stem = journal::store::sanitize_id(version);
    let dash = format!("{stem}-");
    for rdir in store.releases(Some(plan))? {
        if rdir.id != stem && !rdir.id.starts_with(&dash) {
            continue;
        }
        let Ok((recs, _)) = journal::read_journal(&rdir.journal()) else {
            continue;
        };
        let st = ReleaseState::from_records(&recs);
        if st.version == version && st.finished.is_none() {
            let word = st.state_word(rdir.live_driver().is_some());
            return Ok(Some((rdir.id, word.to_string())));
        }
    }
    Ok(None)
}

/// The notes from the last release tag to HEAD, when the plan lives in a git repository. A plan
/// outside git releases without them; a broken repository is reported and the release goes on.
fn release_notes(plan: &Plan) -> Option<crate::drift::git::Notes> {
    use crate::drift::git::{GitError, Repo};
    let notes = Repo::open(plan).and_then(|repo| {
        let head = repo.head()?;
        repo.notes_since_tag(head)
    });
    match notes {
        Ok(n) => Some(n),
        Err(GitError::NoRepository(_) | GitError::NoCommits(_)) => None,
        Err(e) => {
            crate::errln!("flightdeck: warning: the release records no commits: {e}");
            None
        }
    }
}

fn end_code(st: &ReleaseState) -> u8 {
    st.finished.as_ref().map_or(exit::PAUSED, |f| f.state.exit_code())
}

/// How long past the grace period a watching `run` waits for the driver to answer its cancel.
const CANCEL_ANSWER_SLACK: Duration = Duration::from_secs(5);

pub(crate) fn grace() -> Duration {
    std::env::var("FLIGHTDECK_GRACE")
        .ok()
        .and_then(|s| plan::parse_duration(&s).ok())
        .unwrap_or(Duration::from_secs(5))
}

/// How `flightdeck notes` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum NotesFormat {
    Md,
    Json,
}

/// Git: `notes` and `next`.
impl Ctx {
    /// The plan's repository; without a plan file (and no --plan), the repository of the current
    /// directory with the default tag pattern.
    fn repo(&self) -> Result<crate::drift::git::Repo> {
        use crate::drift::git::Repo;
        let opened = match self.plan_path() {
            Ok(path) => Repo::open(&plan::load(&path)?),
            Err(e)
                if self.g.plan.is_none()
                    && matches!(e.downcast_ref(), Some(plan::PlanError::NotFound(_))) =>
            {
                Repo::open_path(&std::env::current_dir()?, plan::GitConfig::DEFAULT_TAG_PATTERN)
            }
            Err(e) => return Err(e),
        };
        opened.map_err(git_error)
    }

    fn notes(&self, range: Option<&str>, format: NotesFormat) -> Result<u8> {
        use std::io::Write;
        let notes = self.repo()?.notes_for(range).map_err(git_error)?;
        let text = match format {
            // Commit messages are other people's text: through the sanitiser like every output.
            NotesFormat::Md => crate::ansi::clean_lines(&notes.markdown()).into_owned(),
            NotesFormat::Json => serde_json::to_string_pretty(&notes)? + "\n",
        };
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            // `flightdeck notes | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
            written => Ok(written.map(|()| exit::OK)?),
        }
    }

    fn next(&self, json: bool) -> Result<u8> {
        let next = self.repo()?.suggest_next().map_err(git_error)?;
        if json {
            crate::outln!("{}", serde_json::to_string_pretty(&next)?);
        } else {
            crate::outln!("{next}");
        }
        Ok(exit::OK)
    }
}

/// No repository, an unknown revision, a bad range: exit 2 with the message; anything else
/// (a broken repository) is a failure with its report.
fn git_error(e: crate::drift::git::GitError) -> color_eyre::Report {
    if e.is_usage() {
        usage(e.to_string())
    } else {
        e.into()
    }
}

#[derive(Args, Debug, Clone)]
struct DriftArgs {
    /// Environments to compare, comma-separated (`env/target` for one target); default: every
    /// environment with a probe or an expect file. The baseline is always included.
    #[arg(long, value_delimiter = ',', value_name = "ENV")]
    env: Vec<String>,
    /// The environment (or `env/target`) the others are compared with (default: [drift] baseline).
    #[arg(long, value_name = "ENV")]
    baseline: Option<String>,
    /// Only the keys that drift somewhere.
    #[arg(long)]
    only_diff: bool,
    #[arg(long)]
    json: bool,
    /// Instead of the matrix: what changed in each environment since RELEASE started.
    #[arg(long, value_name = "RELEASE")]
    since: Option<String>,
}

/// Drift: `drift`.
impl Ctx {
    fn drift(&self, args: DriftArgs) -> Result<u8> {
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
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            versions: &versions,
        };
        Ok(report::print_run(
            &matrix, &plan.name, taken_at, &runs, since, &ignore, print,
        )?)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
