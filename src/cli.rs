//! The command line (clap): one function per subcommand, each a few lines over the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use color_eyre::eyre::Result;

use crate::ansi::clean;
use crate::engine::driver::{self, DriveError};
use crate::engine::request::Op;
use crate::headless::{status_json, status_text};
use crate::journal::{self, Verified};
use crate::plan::{self, ReleaseType};
use crate::release::{
    Answer, Context, DriveMode, Duplicate, Refused, UsageError, exit, grace, load_state, runtime, usage,
};

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

impl DriveFlags {
    fn mode(self) -> DriveMode {
        DriveMode {
            no_wait: self.no_wait,
            detach: self.detach,
        }
    }
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
    let mut ctx = Context {
        plan: cli.global.plan,
        data_dir: cli.global.data_dir,
        actor: cli.global.actor,
        allow_duplicate: false,
    };
    let code = ctx
        .identify(command.acts())
        .and_then(|()| dispatch(&mut ctx, command));
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

fn dispatch(ctx: &mut Context, command: Command) -> Result<u8> {
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
            ctx.allow_duplicate = allow_duplicate;
            cockpit(ctx, release.as_deref(), opts, start.map(|v| (v, rtype)))
        }
        Command::Check => check(ctx),
        Command::Run {
            version,
            rtype,
            drive,
            allow_duplicate,
        } => {
            ctx.allow_duplicate = allow_duplicate;
            ctx.run(version.as_deref(), rtype, drive.mode())
        }
        Command::Resume { release, drive } => ctx.resume(release.as_deref(), drive.mode()),
        Command::Approve { release, gate, note } => approve(ctx, &release, &gate, note),
        Command::Tick {
            release,
            gate,
            item,
            note,
        } => tick(ctx, &release, &gate, &item, note),
        Command::Recheck { release, gate, item } => recheck(ctx, &release, &gate, &item),
        Command::Cancel { release } => request(ctx, release.as_deref(), Op::Cancel),
        Command::Retry {
            release,
            stage,
            target,
        } => request(ctx, Some(&release), Op::Retry { stage, target }),
        Command::Skip {
            release,
            stage,
            reason,
        } => request(ctx, Some(&release), Op::Skip { stage, reason }),
        Command::Rollback { release, stage } => request(ctx, release.as_deref(), Op::Rollback { stage }),
        Command::UnlockEnv { release, env, reason } => unlock_env(ctx, &release, &env, &reason),
        Command::Status { release, json } => status(ctx, release.as_deref(), json),
        Command::List { all, json } => list(ctx, all, json),
        Command::Logs {
            release,
            stage,
            target,
            attempt,
            follow,
            rollback,
        } => logs(
            ctx,
            &release,
            &stage,
            target.as_deref(),
            attempt,
            follow,
            rollback,
        ),
        Command::Verify { release } => verify(ctx, release.as_deref()),
        Command::Notes { range, format } => notes(ctx, range.as_deref(), format),
        Command::Next { json } => next(ctx, json),
        Command::Drift(args) => drift(ctx, args),
        Command::Demo { dir, debug_panic } => crate::demo::run(ctx, dir.as_deref(), debug_panic),
        Command::Completions { shell } => generated(|out| {
            clap_complete::generate(shell, &mut Cli::command(), "flightdeck", out);
            Ok(())
        }),
        Command::Man => generated(|out| clap_mangen::Man::new(Cli::command()).render(out)),
        Command::Drive { dir, no_wait } => ctx.drive_here(&dir, no_wait),
    }
}

fn cockpit(
    ctx: &Context,
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
    let store = ctx.store()?;
    let rdir = match (start, release) {
        (Some((version, rtype)), _) => {
            let rdir = ctx.create_release(Some(&version), rtype)?;
            if let Err(code) = ctx.spawn_driver(&rdir, false)? {
                return Ok(code);
            }
            Some(rdir)
        }
        (None, Some(r)) => Some(ctx.find(Some(r))?),
        // The plan's newest release, else the start screen.
        // The plan's newest release, else its start screen; a plan that does not load says
        // why; with no plan here, the newest release of any plan.
        (None, None) => match ctx.plan_path() {
            Ok(_) => {
                let plan = ctx.load_plan()?;
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
            let plan = ctx.load_plan()?;
            (plan.name.clone(), Some(std::sync::Arc::new(plan)))
        }
    };
    let launcher = std::sync::Arc::new(ctx.clone());
    Ok(crate::tui::open(
        store,
        &plan_name,
        rdir.as_ref(),
        plan,
        launcher,
        opts,
    )?)
}

fn check(ctx: &Context) -> Result<u8> {
    let plan = ctx.load_plan()?;
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

fn approve(ctx: &Context, release: &str, gate: &str, note: String) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
    let actor = ctx.actor();
    let op = Op::Approve {
        gate: gate.to_string(),
        note,
    };
    let st = ctx.submit(&rdir, &actor, &op)?.state;
    let g = st.gate(gate).expect("checked");
    crate::outln!(
        "{actor} approved gate {gate} of {} ({}/{} approvals)",
        clean(&st.id),
        g.approvals.len(),
        g.decl.approvals
    );
    Ok(exit::OK)
}

fn tick(ctx: &Context, release: &str, gate: &str, item: &str, note: String) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
    let actor = ctx.actor();
    let i = ctx.item_index(&rdir, gate, item)?;
    let op = Op::Tick {
        gate: gate.to_string(),
        item: i,
        note,
    };
    let st = ctx.submit(&rdir, &actor, &op)?.state;
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

fn recheck(ctx: &Context, release: &str, gate: &str, item: &str) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
    let i = ctx.item_index(&rdir, gate, item)?;
    request(
        ctx,
        Some(&rdir.id),
        Op::Recheck {
            gate: gate.to_string(),
            item: i,
        },
    )
}

fn unlock_env(ctx: &Context, release: &str, env: &str, reason: &str) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
    let op = Op::UnlockEnv {
        env: env.to_string(),
        reason: reason.to_string(),
    };
    ctx.submit(&rdir, &ctx.actor(), &op)?;
    crate::outln!("release {} no longer holds {env}", rdir.id);
    Ok(exit::OK)
}

/// Ask the driver (starting one when none is alive), and say what it answered.
fn request(ctx: &Context, release: Option<&str>, op: Op) -> Result<u8> {
    let Answer {
        release,
        seq,
        kind,
        started_driver,
        handled,
    } = ctx.request(release, op)?;
    let starter = if started_driver {
        " (started a background driver)"
    } else {
        ""
    };
    match handled {
        Some((true, msg)) => {
            crate::outln!("{kind} #{seq} accepted{starter}: {}", clean(&msg));
            Ok(exit::OK)
        }
        Some((false, msg)) => {
            crate::errln!("flightdeck: {kind} #{seq} refused: {}", clean(&msg));
            Ok(exit::FAILED)
        }
        None => {
            crate::outln!(
                "{kind} #{seq} is pending: the driver has not answered yet (see `flightdeck status {release}`)"
            );
            Ok(exit::OK)
        }
    }
}

fn status(ctx: &Context, release: Option<&str>, json: bool) -> Result<u8> {
    let rdir = ctx.find(release)?;
    let st = load_state(&rdir)?;
    let live = rdir.live_driver();
    if json {
        crate::outln!("{}", status_json(&st, live));
    } else {
        crate::term::out_text(&status_text(&st, live, chrono::Utc::now()));
    }
    Ok(exit::OK)
}

fn list(ctx: &Context, all: bool, json: bool) -> Result<u8> {
    let store = ctx.store()?;
    let scope = if all { None } else { Some(ctx.load_plan()?.name) };
    let mut rows = Vec::new();
    for rdir in store.releases(scope.as_deref())? {
        let Ok(st) = load_state(&rdir) else { continue };
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
    ctx: &Context,
    release: &str,
    stage: &str,
    target: Option<&str>,
    attempt: Option<u32>,
    follow: bool,
    rollback: bool,
) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
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
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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

fn verify(ctx: &Context, release: Option<&str>) -> Result<u8> {
    let rdir = ctx.find(release)?;
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

/// Text generated from the command line's own definition (completions, the man page), written to
/// stdout: always in step with the real arguments.
fn generated(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<u8> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write(&mut out).and_then(|()| std::io::Write::flush(&mut out))?;
    Ok(exit::OK)
}

/// How `flightdeck notes` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum NotesFormat {
    Md,
    Json,
}

/// Git: `notes` and `next`.
/// The plan's repository; without a plan file (and no --plan), the repository of the current
/// directory with the default tag pattern.
fn repo(ctx: &Context) -> Result<crate::drift::git::Repo> {
    use crate::drift::git::Repo;
    let opened = match ctx.plan_path() {
        Ok(path) => Repo::open(&plan::load(&path)?),
        Err(e) if ctx.plan.is_none() && matches!(e.downcast_ref(), Some(plan::PlanError::NotFound(_))) => {
            Repo::open_path(&std::env::current_dir()?, plan::GitConfig::DEFAULT_TAG_PATTERN)
        }
        Err(e) => return Err(e),
    };
    opened.map_err(git_error)
}

fn notes(ctx: &Context, range: Option<&str>, format: NotesFormat) -> Result<u8> {
    use std::io::Write;
    let notes = repo(ctx)?.notes_for(range).map_err(git_error)?;
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

fn next(ctx: &Context, json: bool) -> Result<u8> {
    let next = repo(ctx)?.suggest_next().map_err(git_error)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&next)?);
    } else {
        crate::outln!("{next}");
    }
    Ok(exit::OK)
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
fn drift(ctx: &Context, args: DriftArgs) -> Result<u8> {
    use crate::drift::{self, report, snapshot};
    let plan = ctx.load_plan()?;
    let since = match &args.since {
        Some(release) => {
            let rdir = ctx.find(Some(release))?;
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
    let runs = ctx.store()?.plan_dir(&plan.name)?.join(snapshot::RUNS_DIR);

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
