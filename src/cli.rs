//! The command line (clap): argument parsing, the mapping of errors to exit codes (`report`),
//! and a few lines per subcommand over the release operations in [`crate::release`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use color_eyre::eyre::Result;

use crate::ansi::clean;
use crate::engine::driver::DriveError;
use crate::engine::request::Op;
use crate::plan::{self, ReleaseType};
use crate::release::{Answer, Context, DriftQuery, DriveMode, Duplicate, Refused, UsageError, exit, usage};

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
    /// The shared store, `postgres://host/db` (default: FLIGHTDECK_STORE, then `[plan] store`,
    /// then the local data directory). Credentials come from PGPASSWORD, PGPASSFILE or
    /// ~/.pgpass; TLS from `sslmode=require|verify-ca|verify-full` and `sslrootcert`.
    #[arg(long, global = true, value_name = "URL")]
    store: Option<String>,
    /// The workspace file (default: flightdeck-workspace.toml in this directory or the nearest
    /// parent). In a workspace, `flightdeck` opens the workspace board and `check` checks every
    /// plan of it.
    #[arg(long, global = true, env = "FLIGHTDECK_WORKSPACE", value_name = "FILE")]
    workspace: Option<PathBuf>,
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
        /// The started release runs only these stages (comma-separated), as `run --only`.
        #[arg(long, value_delimiter = ',', value_name = "STAGE", requires = "start")]
        only: Vec<String>,
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
        /// Run only these stages (comma-separated), in the plan's order; their other needs
        /// count as met. Their gates still apply.
        #[arg(long, value_delimiter = ',', value_name = "STAGE")]
        only: Vec<String>,
        #[command(flatten)]
        drive: DriveFlags,
        /// Start it even while another release of this version of the plan is unfinished.
        #[arg(long)]
        allow_duplicate: bool,
        /// Schedule it: it waits (`scheduled`, in a background driver) until TIME, an RFC 3339
        /// time or `HH:MM` (the next one, local time), then starts like any release.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Deploy an earlier version to one environment again: a release of type `rollback` that
    /// runs only the stages on ENV (default VERSION: the previous live release there).
    Redeploy {
        /// The version to deploy again (default: the previous live release on ENV).
        version: Option<String>,
        /// The environment.
        #[arg(long, value_name = "ENV")]
        env: String,
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
        /// Where the gate takes signed approvals: the SSH key to sign with (a private key, or a
        /// public one whose private half is in ssh-agent). Default: FLIGHTDECK_SIGNING_KEY, then
        /// git's user.signingkey when gpg.format = ssh.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Let a release through the freeze windows in force now: one person's override, journaled.
    /// `freeze_override_approvals` distinct people (default 1; not whoever started the release)
    /// are needed before its stages proceed.
    OverrideFreeze {
        release: String,
        /// Why (journaled; required).
        #[arg(long, value_name = "T")]
        reason: String,
    },
    /// Say no at a gate: the release ends `rejected` (exit 1), its running commands stopped,
    /// nothing rolled back (`rollback` is a separate decision). Only someone who may approve the
    /// gate may reject it.
    Reject {
        release: String,
        gate: String,
        /// Why (journaled; required).
        #[arg(long, value_name = "T")]
        reason: String,
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
    /// Roll back the release (or one stage and everything after it, or only some targets),
    /// newest first.
    Rollback {
        release: Option<String>,
        /// From this stage on (it and every stage that needs it).
        #[arg(long)]
        stage: Option<String>,
        /// Only the runs on this target (`eu`, or `prod/eu`); repeat for more. Stages without
        /// targets are left alone.
        #[arg(long = "target", value_name = "TARGET")]
        targets: Vec<String>,
        /// Roll back even where a newer release is live now.
        #[arg(long)]
        force: bool,
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
    /// What runs where: per environment and target, the live release, the previous one, what
    /// is deploying now and the newest drift; or one environment's history.
    Envs {
        /// Only this environment.
        env: Option<String>,
        /// The releases that reached ENV, newest first.
        #[arg(long, requires = "env")]
        history: bool,
        /// With --history: releases shown at most (0: all).
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// List releases, newest first: every unfinished one and the newest finished ones.
    List {
        /// Every plan's releases, not just this plan's.
        #[arg(long)]
        all: bool,
        /// Finished releases shown at most (0: all of them).
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
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
    Verify {
        release: Option<String>,
        /// Check the plan's incidents journal instead of a release's.
        #[arg(long, conflicts_with = "release")]
        incidents: bool,
    },
    /// Incidents on the plan's environments: open, resolve, list.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// The workspace (flightdeck-workspace.toml): every plan's releases, what runs where.
    #[command(subcommand)]
    Ws(WsCommand),
    /// Release trains: one release per plan of the workspace, started together, with
    /// cross-plan needs, train gates, and rollback across plans.
    #[command(subcommand)]
    Train(TrainCommand),
    /// A post-release review: what went well, what did not, action items with an owner and a
    /// due date (each flag repeatable); `--close N` closes an action item; with none of them,
    /// the review is shown.
    Review {
        release: String,
        #[arg(long = "went-well", value_name = "T")]
        went_well: Vec<String>,
        #[arg(long = "went-wrong", value_name = "T")]
        went_wrong: Vec<String>,
        /// An action item; each needs its own --owner and --due, in the same order.
        #[arg(long, value_name = "T")]
        action: Vec<String>,
        #[arg(long, value_name = "NAME")]
        owner: Vec<String>,
        /// Its due date, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        due: Vec<String>,
        /// Write the review in $EDITOR, from a template.
        #[arg(long)]
        editor: bool,
        /// Close action item N.
        #[arg(long, value_name = "N", conflicts_with_all = ["went_well", "went_wrong", "action", "owner", "due", "editor"])]
        close: Option<u64>,
        /// Why it is closed (with --close).
        #[arg(long, default_value = "", value_name = "T", requires = "close")]
        note: String,
        #[arg(long)]
        json: bool,
    },
    /// A release report from its journal: summary, timeline (an SVG Gantt chart in HTML), gates
    /// with their evidence and signatures, failed runs with their output, drift before and
    /// after, release notes, incidents, rollbacks, the review and the change in delivery metrics.
    Report {
        release: String,
        /// md (Markdown, also for a terminal), html (one self-contained file), json, or junit
        /// (JUnit XML: a test case per run).
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Write it to FILE instead of printing it.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The shared store on PostgreSQL: its schema, its figures, copying data in and out.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Freeze windows (`[[freeze]]` in the plan): when stages on an environment do not start.
    #[command(subcommand)]
    Freeze(FreezeCommand),
    /// The plan's scheduled releases (`run --at`) and freeze windows of the next 30 days.
    Schedule {
        #[arg(long, conflicts_with = "ics")]
        json: bool,
        /// Print it as an iCalendar (RFC 5545) file instead, for calendars:
        /// `flightdeck schedule --ics > releases.ics`.
        #[arg(long)]
        ics: bool,
    },
    /// DORA delivery metrics on one environment (default: the plan's last in DAG order):
    /// deployment frequency, lead time for changes, change failure rate, failed deployment
    /// recovery time and rework rate, each with its counts, DORA band, trend against the window
    /// before and a sparkline per bucket.
    Metrics {
        /// The environment (default: the plan's last in DAG order, usually prod).
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// The window: this long before now (`90d`, `12w`, `36h`; default 90d).
        #[arg(long, value_name = "DURATION", conflicts_with_all = ["from", "to"])]
        since: Option<String>,
        /// The window's start: YYYY-MM-DD (UTC) or an RFC 3339 time.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// The window's end (default: now): YYYY-MM-DD (that whole day included) or an RFC 3339
        /// time.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// The buckets of the series.
        #[arg(long, value_enum, default_value_t = MetricsBy::Week)]
        by: MetricsBy,
        /// A hotfix or redeploy this soon after a deployment makes it a change failure.
        #[arg(long, value_name = "DURATION")]
        rework_window: Option<String>,
        #[arg(long)]
        json: bool,
        /// Every plan in the store (each on its own last environment, or ENV).
        #[arg(long)]
        all: bool,
    },
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
    /// (internal) deliver a release folder's notifications in the background.
    #[command(hide = true)]
    NotifySend {
        /// The release folder.
        dir: Option<PathBuf>,
        /// A plan's incidents journal instead (its `[[notify]]`s from --plan).
        #[arg(long, value_name = "FILE")]
        incidents: Option<PathBuf>,
    },
    /// (internal) drive a release folder in the background.
    #[command(hide = true)]
    Drive {
        dir: PathBuf,
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Subcommand, Debug)]
enum WsCommand {
    /// Every plan's releases, newest first: state, progress, what each waits for; the trains.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// What version runs on each environment of each plan (services x environments).
    Envs {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Start a train: one release per plan (each with its own driver) and the train's journal.
    Start {
        name: String,
        /// The version every member releases (default: each plan's `next`).
        #[arg(long, value_name = "V")]
        version: Option<String>,
        /// Only these plans of the workspace (comma-separated; default: all).
        #[arg(long, value_delimiter = ',', value_name = "PLAN")]
        plans: Vec<String>,
        /// One plan's version: `billing=2.4.0` (repeatable).
        #[arg(long = "set", value_name = "PLAN=V")]
        set: Vec<String>,
        /// Start it even while another release of a member's version is unfinished.
        #[arg(long)]
        allow_duplicate: bool,
    },
    /// A train's members, its gates, what is blocked on what.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// The workspace's trains, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Resume every member release that needs it (its driver gone), and the train's own driver.
    Resume { name: String },
    /// Tick a manual item of a train gate (its text, a unique prefix, or its number).
    Tick {
        name: String,
        gate: String,
        item: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The train's own driver (started by `train start`/`resume`): watches the members, ends the
    /// train, rolls back across plans.
    #[command(hide = true)]
    Drive { name: String },
}

#[derive(Subcommand, Debug)]
enum IncidentCommand {
    /// Open an incident on an environment; prints its number.
    Open {
        /// The environment it is on.
        #[arg(long, value_name = "ENV")]
        env: String,
        /// The release it is about (default: the one live on ENV).
        #[arg(long, value_name = "R")]
        release: Option<String>,
        /// What is wrong, in one line.
        summary: String,
    },
    /// Resolve incident N; says how long recovery took.
    Resolve {
        number: u64,
        #[arg(long, default_value = "", value_name = "T")]
        note: String,
    },
    /// List incidents, oldest first, with recovery times and linked rollbacks/redeploys.
    List {
        /// Only the open ones.
        #[arg(long)]
        open: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum FreezeCommand {
    /// The windows in force now and those beginning in the next 30 days (the plan's and the
    /// ad-hoc ones).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Freeze environments outside the plan (in the middle of an incident), journaled at plan
    /// level: every release's deploys there wait until TIME or `freeze remove`.
    Add {
        /// An environment (repeatable).
        #[arg(long = "env", value_name = "ENV", required = true)]
        envs: Vec<String>,
        /// An RFC 3339 time, or a duration from now (`2h`).
        #[arg(long, value_name = "TIME")]
        until: String,
        /// Why (shown to whoever it stops; required).
        #[arg(long, value_name = "T")]
        reason: String,
    },
    /// End ad-hoc freeze N now.
    Remove { number: u64 },
}

#[derive(Subcommand, Debug)]
enum StoreCommand {
    /// Bring the store's schema up to date (every command also does on first use); a schema
    /// newer than this flightdeck is refused and left as it is.
    Migrate,
    /// The store's URL (no password), schema version, what it holds, the round trip, and
    /// whether observers hear of appends at once (LISTEN/NOTIFY) or poll.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Copy a local data directory into the store, hash chains intact (again: only what is new).
    Import {
        /// The data directory (the one `--data-dir` names).
        dir: PathBuf,
    },
    /// Copy the store into a new local data directory, which `verify` accepts.
    Export {
        /// A new or empty folder.
        dir: PathBuf,
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
    /// Commands that start a release's driver and watch it until it ends.
    fn watches(&self) -> bool {
        match self {
            Command::Run { drive, at, .. } => !drive.detach && at.is_none(),
            Command::Resume { drive, .. } | Command::Redeploy { drive, .. } => !drive.detach,
            _ => false,
        }
    }

    /// Commands that only read and print: a closed pipe ends them at once, silently.
    fn only_prints(&self) -> bool {
        matches!(
            self,
            Command::Check
                | Command::Status { .. }
                | Command::List { .. }
                | Command::Envs { .. }
                | Command::Logs { .. }
                | Command::Verify { .. }
                | Command::Notes { .. }
                | Command::Next { .. }
                | Command::Metrics { .. }
                | Command::Completions { .. }
                | Command::Man
                | Command::Incident(_)
                | Command::Ws(_)
                | Command::Train(TrainCommand::Status { .. } | TrainCommand::List { .. })
                | Command::Review { .. }
                | Command::Report { .. }
                | Command::Store(StoreCommand::Status { .. })
                | Command::Freeze(FreezeCommand::List { .. })
                | Command::Schedule { .. }
                | Command::Approve { .. }
                | Command::Reject { .. }
                | Command::OverrideFreeze { .. }
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
                | Command::Envs { .. }
                | Command::Logs { .. }
                | Command::Verify { .. }
                | Command::Notes { .. }
                | Command::Next { .. }
                | Command::Metrics { .. }
                | Command::Report { .. }
                | Command::Drift(_)
                | Command::Completions { .. }
                | Command::Man
                | Command::Incident(IncidentCommand::List { .. })
                | Command::Ws(_)
                | Command::Train(TrainCommand::Status { .. } | TrainCommand::List { .. })
                | Command::Store(_)
                | Command::Freeze(FreezeCommand::List { .. })
                | Command::Schedule { .. }
        )
    }

    /// Commands that read or write releases (on a shared store, through its local mirror).
    fn uses_releases(&self) -> Option<&'static str> {
        Some(match self {
            Command::Cockpit { .. } => "cockpit",
            Command::Run { .. } => "run",
            Command::Redeploy { .. } => "redeploy",
            Command::Resume { .. } => "resume",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::OverrideFreeze { .. } => "override-freeze",
            Command::Tick { .. } => "tick",
            Command::Recheck { .. } => "recheck",
            Command::Cancel { .. } => "cancel",
            Command::Retry { .. } => "retry",
            Command::Skip { .. } => "skip",
            Command::Rollback { .. } => "rollback",
            Command::UnlockEnv { .. } => "unlock-env",
            Command::Status { .. } => "status",
            Command::List { .. } => "list",
            Command::Metrics { .. } => "metrics",
            Command::Envs { .. } => "envs",
            Command::Logs { .. } => "logs",
            Command::Verify { .. } => "verify",
            Command::Incident(_) => "incident",
            Command::Ws(_) => "ws",
            Command::Train(_) => "train",
            Command::Review { .. } => "review",
            Command::Report { .. } => "report",
            Command::Schedule { .. } => "schedule",
            Command::Freeze(_) => "freeze",
            Command::Drive { .. } => "drive",
            Command::NotifySend { .. } => "notify-send",
            _ => return None,
        })
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
        only: Vec::new(),
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
        store_url: cli.global.store,
        signing_key: None,
        workspace: cli.global.workspace,
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
    if let Some(DriveError::Locked { .. } | DriveError::Leased { .. }) = e.downcast_ref::<DriveError>() {
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
    // A watching `run`/`resume`/`redeploy` turns Ctrl-C and SIGTERM into a cancel: from the very
    // start they are held pending, in every thread (threads inherit the mask, and a signal
    // goes to any thread not holding it), until the watcher takes them.
    if command.watches() {
        crate::release::hold_ending_signals();
    }
    if command.uses_releases().is_some() {
        ctx.attach_shared_store()?;
    }
    match command {
        Command::Cockpit {
            release,
            exit_when_done,
            start,
            rtype,
            only,
            debug_panic,
            allow_duplicate,
        } => {
            let opts = crate::tui::Options {
                exit_when_done,
                debug_panic,
                ..Default::default()
            };
            ctx.allow_duplicate = allow_duplicate;
            cockpit(ctx, release.as_deref(), opts, start.map(|v| (v, rtype, only)))
        }
        Command::Check => ctx.check(),
        Command::Run {
            version,
            rtype,
            only,
            drive,
            allow_duplicate,
            at: None,
        } => {
            ctx.allow_duplicate = allow_duplicate;
            ctx.run(version.as_deref(), rtype, &only, drive.mode())
        }
        Command::Run {
            version,
            rtype,
            only,
            allow_duplicate,
            at: Some(at),
            ..
        } => {
            ctx.allow_duplicate = allow_duplicate;
            ctx.run_at(version.as_deref(), rtype, &only, &at)
        }
        Command::Redeploy {
            version,
            env,
            drive,
            allow_duplicate,
        } => {
            ctx.allow_duplicate = allow_duplicate;
            ctx.redeploy(version.as_deref(), &env, drive.mode())
        }
        Command::Resume { release, drive } => ctx.resume(release.as_deref(), drive.mode()),
        Command::Approve {
            release,
            gate,
            note,
            key,
        } => {
            ctx.signing_key = key;
            approve(ctx, &release, &gate, note)
        }
        Command::Tick {
            release,
            gate,
            item,
            note,
        } => tick(ctx, &release, &gate, &item, note),
        Command::Recheck { release, gate, item } => recheck(ctx, &release, &gate, &item),
        Command::Cancel { release } => match train_instead(ctx, release.as_deref()) {
            Some((ws, t)) => ctx.train_cancel(&ws, &t),
            None => request(ctx, release.as_deref(), Op::Cancel),
        },
        Command::Reject {
            release,
            gate,
            reason,
        } => request(ctx, Some(&release), Op::Reject { gate, reason }),
        Command::OverrideFreeze { release, reason } => override_freeze(ctx, &release, reason),
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
        Command::Rollback {
            release,
            stage,
            targets,
            force,
        } => match train_instead(ctx, release.as_deref()) {
            Some((ws, t)) if stage.is_none() && targets.is_empty() => ctx.train_rollback(&ws, &t, force),
            Some((_, t)) => Err(crate::release::usage(format!(
                "{} is a train: it rolls back whole (no --stage or --target)",
                clean(&t.name)
            ))),
            None => answered(ctx.rollback(release.as_deref(), stage, targets, force)?),
        },
        Command::UnlockEnv { release, env, reason } => unlock_env(ctx, &release, &env, &reason),
        Command::Status { release, json } => ctx.status(release.as_deref(), json),
        Command::List { all, limit, json } => ctx.list(all, limit, json),
        Command::Metrics {
            env,
            since,
            from,
            to,
            by,
            rework_window,
            json,
            all,
        } => ctx.metrics(&crate::release::metrics::MetricsArgs {
            env,
            since,
            from,
            to,
            by: by.into(),
            rework_window,
            json,
            all,
        }),
        Command::Envs {
            env,
            history,
            limit,
            json,
        } => ctx.envs(env.as_deref(), history, limit, json),
        Command::Logs {
            release,
            stage,
            target,
            attempt,
            follow,
            rollback,
        } => ctx.logs(&release, &stage, target.as_deref(), attempt, follow, rollback),
        Command::Verify { incidents: true, .. } => ctx.verify_incidents(),
        Command::Verify { release, .. } => ctx.verify(release.as_deref()),
        Command::Incident(IncidentCommand::Open {
            env,
            release,
            summary,
        }) => ctx.incident_open(&env, release.as_deref(), &summary),
        Command::Incident(IncidentCommand::Resolve { number, note }) => ctx.incident_resolve(number, &note),
        Command::Incident(IncidentCommand::List { open, json }) => ctx.incident_list(open, json),
        Command::Ws(WsCommand::Status { json }) => ctx.ws_status(json),
        Command::Ws(WsCommand::Envs { json }) => ctx.ws_envs(json),
        Command::Train(TrainCommand::Start {
            name,
            version,
            plans,
            set,
            allow_duplicate,
        }) => {
            ctx.allow_duplicate = allow_duplicate;
            ctx.train_start(&name, version.as_deref(), &plans, &set)
        }
        Command::Train(TrainCommand::Status { name, json }) => ctx.train_status(&name, json),
        Command::Train(TrainCommand::List { json }) => ctx.train_list(json),
        Command::Train(TrainCommand::Resume { name }) => ctx.train_resume(&name),
        Command::Train(TrainCommand::Tick {
            name,
            gate,
            item,
            note,
        }) => ctx.train_tick(&name, &gate, &item, note),
        Command::Train(TrainCommand::Drive { name }) => ctx.train_drive(&name),
        Command::Review {
            release,
            went_well,
            went_wrong,
            action,
            owner,
            due,
            editor,
            close,
            note,
            json,
        } => ctx.review(
            &release,
            crate::release::review::ReviewArgs {
                went_well,
                went_wrong,
                actions: action,
                owners: owner,
                dues: due,
                editor,
                close,
                note,
                json,
            },
        ),
        Command::Report {
            release,
            format,
            output,
        } => ctx.report(&release, format.into(), output.as_deref()),
        Command::Freeze(FreezeCommand::List { json }) => ctx.freeze_list(json),
        Command::Schedule { json, ics } => ctx.schedule(json, ics),
        Command::Freeze(FreezeCommand::Add { envs, until, reason }) => ctx.freeze_add(&envs, &until, &reason),
        Command::Freeze(FreezeCommand::Remove { number }) => ctx.freeze_remove(number),
        Command::Store(StoreCommand::Migrate) => ctx.store_migrate(),
        Command::Store(StoreCommand::Status { json }) => ctx.store_status(json),
        Command::Store(StoreCommand::Import { dir }) => ctx.store_import(&dir),
        Command::Store(StoreCommand::Export { dir }) => ctx.store_export(&dir),
        Command::Notes { range, format } => ctx.notes(range.as_deref(), format == NotesFormat::Json),
        Command::Next { json } => ctx.next(json),
        Command::Drift(args) => ctx.drift(args.query()),
        Command::Demo { dir, debug_panic } => {
            // The demo is a sandbox on local files, whatever store is selected around it; the
            // drivers it starts must not find one either.
            // SAFETY: before any thread of ours is started.
            unsafe { std::env::remove_var("FLIGHTDECK_STORE") };
            crate::demo::run(ctx, dir.as_deref(), debug_panic)
        }
        Command::Completions { shell } => generated(|out| {
            clap_complete::generate(shell, &mut Cli::command(), "flightdeck", out);
            Ok(())
        }),
        Command::Man => generated(|out| clap_mangen::Man::new(Cli::command()).render(out)),
        Command::Drive { dir, no_wait } => ctx.drive_here(&dir, no_wait),
        Command::NotifySend { dir, incidents } => ctx.notify_send(dir.as_deref(), incidents.as_deref()),
    }
}

fn cockpit(
    ctx: &Context,
    release: Option<&str>,
    mut opts: crate::tui::Options,
    start: Option<(String, Option<ReleaseType>, Vec<String>)>,
) -> Result<u8> {
    // An invalid settings file stops the cockpit before anything starts (exit 2).
    opts.settings = crate::tui::settings::load()?;
    if !std::io::stdout().is_terminal() {
        return Err(usage(
            "the cockpit needs a terminal; use `flightdeck status` or `flightdeck logs --follow`",
        ));
    }
    let store = ctx.store()?;
    // In a workspace: its board, or the release named with the board behind it (`Esc`).
    if start.is_none() && !opts.exit_when_done && ctx.in_workspace() {
        let (ws, plans) = ctx.load_workspace()?;
        let rdir = release.map(|r| ctx.find(Some(r))).transpose()?;
        if rdir
            .as_ref()
            .is_none_or(|r| plans.iter().any(|p| p.name == r.plan))
        {
            let plans = plans
                .into_iter()
                .map(|p| crate::tui::ws_source::WsPlan {
                    launcher: std::sync::Arc::new(Context {
                        plan: Some(p.path.clone()),
                        ..ctx.clone()
                    }),
                    plan: std::sync::Arc::new(p),
                })
                .collect();
            return Ok(crate::tui::open_workspace(
                store,
                &ws.name,
                plans,
                rdir.as_ref(),
                opts,
            )?);
        }
    }
    let rdir = match ctx.cockpit_release(&store, release, start)? {
        Ok(rdir) => rdir,
        Err(code) => return Ok(code),
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

fn override_freeze(ctx: &Context, release: &str, reason: String) -> Result<u8> {
    let rdir = ctx.find(Some(release))?;
    let actor = ctx.actor();
    let st = ctx.submit(&rdir, &actor, &Op::OverrideFreeze { reason })?.state;
    let plan = ctx.plan_for(&rdir)?;
    let now = chrono::Utc::now();
    // The windows in force now on the release's environments, and how far their override got.
    let mut said = false;
    let mut envs: Vec<&str> = st
        .stages
        .iter()
        .filter_map(|s| s.decl.environment.as_deref())
        .collect();
    envs.sort_unstable();
    envs.dedup();
    for env in envs {
        if let Some((span, why)) = crate::plan::freeze::frozen(&plan.freezes, env, now) {
            let by = st.overrides_of(span);
            crate::outln!(
                "{}: overridden by {} ({}/{} needed)",
                clean(&why),
                clean(&by.join(", ")),
                by.len(),
                plan.freeze_override_approvals
            );
            said = true;
        }
    }
    if !said {
        crate::outln!(
            "{actor} overrode the freeze for {} (no window is in force now)",
            clean(&st.id)
        );
    }
    Ok(exit::OK)
}

fn approve(ctx: &Context, release: &str, gate: &str, note: String) -> Result<u8> {
    let rdir = match ctx.find(Some(release)) {
        Ok(r) => r,
        // A train's name: its gate.
        Err(e) => match ctx.find_train(release) {
            Some((ws, t)) => return ctx.train_approve(&ws, &t, Some(gate), note),
            None => return Err(e),
        },
    };
    let actor = ctx.actor();
    let op = Op::Approve {
        gate: gate.to_string(),
        note,
        signed: None,
    };
    let st = ctx.submit(&rdir, &actor, &op)?.state;
    let g = st.gate(gate).expect("checked");
    crate::outln!(
        "{actor} approved gate {gate} of {} ({}/{} approvals)",
        clean(&st.id),
        g.counted(),
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
/// A train of the workspace named where a release was expected (and no release has that name).
fn train_instead(
    ctx: &Context,
    name: Option<&str>,
) -> Option<(crate::plan::workspace::Workspace, crate::engine::train::Train)> {
    let name = name?;
    if ctx.find(Some(name)).is_ok() {
        return None;
    }
    ctx.find_train(name)
}

fn request(ctx: &Context, release: Option<&str>, op: Op) -> Result<u8> {
    answered(ctx.request(release, op)?)
}

/// Print the driver's answer to a request; its exit code.
fn answered(answer: Answer) -> Result<u8> {
    let Answer {
        release,
        seq,
        kind,
        started_driver,
        handled,
        linked,
    } = answer;
    match linked {
        Ok(numbers) => {
            for n in numbers {
                crate::outln!("linked to incident #{n}, open on an environment this rolls back");
            }
        }
        Err(e) => crate::errln!(
            "flightdeck: warning: not linked to the open incidents: {}",
            clean(&e)
        ),
    }
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

/// Text generated from the command line's own definition (completions, the man page), written to
/// stdout: always in step with the real arguments.
fn generated(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<u8> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write(&mut out).and_then(|()| std::io::Write::flush(&mut out))?;
    Ok(exit::OK)
}

/// The buckets of `flightdeck metrics`' series.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum MetricsBy {
    Day,
    Week,
    Month,
}

impl From<MetricsBy> for crate::engine::metrics::By {
    fn from(b: MetricsBy) -> Self {
        match b {
            MetricsBy::Day => Self::Day,
            MetricsBy::Week => Self::Week,
            MetricsBy::Month => Self::Month,
        }
    }
}

/// How `flightdeck report` writes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Md,
    Html,
    Json,
    Junit,
}

impl From<ReportFormat> for crate::release::report::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Md => Self::Md,
            ReportFormat::Html => Self::Html,
            ReportFormat::Json => Self::Json,
            ReportFormat::Junit => Self::Junit,
        }
    }
}

/// How `flightdeck notes` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum NotesFormat {
    Md,
    Json,
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

impl DriftArgs {
    fn query(self) -> DriftQuery {
        DriftQuery {
            env: self.env,
            baseline: self.baseline,
            only_diff: self.only_diff,
            json: self.json,
            since: self.since,
        }
    }
}
