//! `flightdeck demo`: the demo shipped in the binary (`assets/demo/`: a plan, its POSIX sh scripts,
//! probe outputs) written into a folder, made a small git repository with git2 (conventional
//! commits, tags `v1.3.0` and `v1.4.0`, commits since), released by a detached driver with a data
//! directory inside that folder, and watched in the cockpit.
//!
//! In a terminal, quitting the cockpit cancels the demo's unfinished releases (the one it started
//! and any started from the cockpit), waits (with a deadline) for their drivers to end, and
//! removes the folder unless it was given with `--dir`.
//! Without a terminal (stdout not a tty) the release is started all the same and left running in
//! its driver; `demo` prints where it is and the commands to watch and drive it, and keeps the
//! folder.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};

use crate::engine::request::Op;
use crate::journal::ReleaseDir;
use crate::release::{Context, UsageError, exit, grace, load_state};

/// The demo plan's `[plan] name`.
pub const PLAN_NAME: &str = "storefront-demo";
/// The plan file, in the demo folder.
pub const PLAN_FILE: &str = "flightdeck.toml";
/// The demo's data directory (its releases), in the demo folder.
pub const DATA_DIR: &str = "data";
/// The demo's gate, which waits for a person.
pub const GATE: &str = "prod-signoff";

/// One file of the demo: where it goes in the demo folder, its bytes, whether it is executable.
pub struct DemoFile {
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub executable: bool,
}

macro_rules! demo_file {
    ($path:literal, $source:literal, $executable:expr) => {
        DemoFile {
            path: $path,
            bytes: include_bytes!(concat!("../assets/demo/", $source)),
            executable: $executable,
        }
    };
}

/// Every file of the demo.
pub const FILES: &[DemoFile] = &[
    demo_file!("flightdeck.toml", "flightdeck.toml", false),
    demo_file!("README.md", "README.md", false),
    demo_file!(".gitignore", "gitignore", false),
    demo_file!("ops/colors.sh", "ops/colors.sh", false),
    demo_file!("ops/build.sh", "ops/build.sh", true),
    demo_file!("ops/unit-tests.sh", "ops/unit-tests.sh", true),
    demo_file!("ops/package.sh", "ops/package.sh", true),
    demo_file!("ops/deploy.sh", "ops/deploy.sh", true),
    demo_file!("ops/smoke.sh", "ops/smoke.sh", true),
    demo_file!("ops/bake.sh", "ops/bake.sh", true),
    demo_file!("ops/announce.sh", "ops/announce.sh", true),
    demo_file!("ops/probe.sh", "ops/probe.sh", true),
    demo_file!("probes/staging.json", "probes/staging.json", false),
    demo_file!("probes/canary.json", "probes/canary.json", false),
    demo_file!("probes/prod.json", "probes/prod.json", false),
];

/// The embedded plan's text.
pub fn plan_text() -> &'static [u8] {
    FILES[0].bytes
}

/// A commit of the demo's history: its message, the file it adds a line to, and the release tag
/// put on it (if any).
struct Commit {
    message: &'static str,
    change: Option<(&'static str, &'static str)>,
    tag: Option<&'static str>,
}

/// The demo repository's history, oldest first. The first commit adds the demo's files.
const HISTORY: &[Commit] = &[
    Commit {
        message: "chore: import the storefront and its release plan",
        change: None,
        tag: None,
    },
    Commit {
        message: "feat(cart): remember the cart across sessions",
        change: Some(("app/cart.txt", "carts survive a restart")),
        tag: None,
    },
    Commit {
        message: "fix(checkout): round totals to the cent",
        change: Some(("app/checkout.txt", "totals are rounded half-even")),
        tag: Some("v1.3.0"),
    },
    Commit {
        message: "feat(search): suggest products as you type",
        change: Some(("app/search.txt", "suggestions after two letters")),
        tag: None,
    },
    Commit {
        message: "perf(images): serve thumbnails as WebP",
        change: Some(("app/images.txt", "thumbnails are WebP, 40% smaller")),
        tag: None,
    },
    Commit {
        message: "fix(auth): keep people signed in after a password change",
        change: Some(("app/auth.txt", "sessions outlive a password change")),
        tag: Some("v1.4.0"),
    },
    Commit {
        message: "feat(checkout): pay with a saved card",
        change: Some(("app/checkout.txt", "saved cards at checkout")),
        tag: None,
    },
    Commit {
        message: "fix(cart): show prices in the shopper's currency",
        change: Some(("app/cart.txt", "prices in the local currency")),
        tag: None,
    },
    Commit {
        message: "docs: how a storefront release runs",
        change: Some((
            "docs/releasing.md",
            "See flightdeck.toml: build, test, package, gate, deploy, bake.",
        )),
        tag: None,
    },
];

/// The people of the demo's history (author and tagger), taking turns.
const PEOPLE: &[(&str, &str)] = &[
    ("Ada Park", "ada@storefront.example"),
    ("Tomás Reyes", "tomas@storefront.example"),
    ("Mei Lin", "mei@storefront.example"),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("making the demo's git repository in {}: {source}", path.display())]
    Git { path: PathBuf, source: git2::Error },
    #[error(
        "{} is not empty and holds no flightdeck demo; give `--dir` a new or empty folder",
        .0.display()
    )]
    NotEmpty(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Wrote the files and made the git repository.
    Fresh,
    /// The folder already held the demo (an earlier `demo --dir` on it): left as it is.
    Reused,
}

/// Write the demo into `dir` (created if missing) and make it a git repository. `dir` must be
/// empty, or hold an earlier demo (same plan and a repository), which is reused as it is.
/// `now`: seconds since the epoch; the history's commits are dated in the weeks before it.
pub fn write(dir: &Path, now: i64) -> Result<Written, DemoError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
    if entries.next().is_some() {
        let plan = std::fs::read(dir.join(PLAN_FILE)).unwrap_or_default();
        if plan == plan_text() && dir.join(".git").is_dir() {
            return Ok(Written::Reused);
        }
        return Err(DemoError::NotEmpty(dir.to_path_buf()));
    }
    for f in FILES {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, f.bytes).map_err(io_err(&path))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io_err(&path))?;
        }
    }
    make_repository(dir, now).map_err(|e| match e {
        RepoError::Io(e) => e,
        RepoError::Git(source) => DemoError::Git {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    Ok(Written::Fresh)
}

enum RepoError {
    Io(DemoError),
    Git(git2::Error),
}

impl From<git2::Error> for RepoError {
    fn from(e: git2::Error) -> Self {
        RepoError::Git(e)
    }
}

impl From<DemoError> for RepoError {
    fn from(e: DemoError) -> Self {
        RepoError::Io(e)
    }
}

/// `git init` in `dir`, then [`HISTORY`]: one commit every couple of days up to a few hours before
/// `now`, annotated tags where the history has them.
fn make_repository(dir: &Path, now: i64) -> Result<(), RepoError> {
    use git2::{IndexAddOption, Repository, RepositoryInitOptions, Signature, Time};
    let mut opts = RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = Repository::init_opts(dir, &opts)?;
    let mut index = repo.index()?;
    let mut parent: Option<git2::Oid> = None;
    let count = HISTORY.len() as i64;
    for (i, c) in HISTORY.iter().enumerate() {
        match c.change {
            None => index.add_all(["*"], IndexAddOption::DEFAULT, None)?,
            Some((file, line)) => {
                let path = dir.join(file);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(io_err(p))?;
                }
                let mut text = std::fs::read_to_string(&path).unwrap_or_default();
                text.push_str(line);
                text.push('\n');
                std::fs::write(&path, text).map_err(io_err(&path))?;
                index.add_path(Path::new(file))?;
            }
        }
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        // Two days apart, the newest three hours ago.
        let when = now - (count - 1 - i as i64) * 2 * 86_400 - 3 * 3_600;
        let (name, email) = PEOPLE[i % PEOPLE.len()];
        let sig = Signature::new(name, email, &Time::new(when, 0))?;
        let parents: Vec<git2::Commit> = parent
            .map(|p| repo.find_commit(p))
            .transpose()?
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let oid = repo.commit(Some("HEAD"), &sig, &sig, c.message, &tree, &parent_refs)?;
        if let Some(tag) = c.tag {
            let (name, email) = PEOPLE[(i + 1) % PEOPLE.len()];
            let tagger = Signature::new(name, email, &Time::new(when + 3_600, 0))?;
            let version = tag.trim_start_matches('v');
            repo.tag(
                tag,
                &repo.find_object(oid, None)?,
                &tagger,
                &format!("storefront {version}"),
                false,
            )?;
        }
        parent = Some(oid);
    }
    Ok(())
}

/// A line on stderr. After the cockpit the terminal may be gone (SIGHUP): then the line is lost,
/// but the clean-up goes on (`eprintln!` would panic half-way).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{}", $crate::ansi::clean_lines(&format!($($arg)*)));
    }};
}

/// Set by SIGHUP, SIGTERM or SIGINT before the cockpit takes those signals over.
static EARLY_SIGNAL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_early_signal(_: libc::c_int) {
    EARLY_SIGNAL.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// From here on SIGHUP, SIGTERM and SIGINT no longer kill the demo outright: until the cockpit
/// runs they are noted (and the demo ends its release instead of opening the cockpit); then the
/// cockpit turns them into a quit. Either way the clean-up runs.
fn catch_ending_signals() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(note_early_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// `flightdeck demo [--dir DIR]`.
pub(crate) fn run(ctx: &Context, dir: Option<&Path>, debug_panic: Option<crate::tui::PanicAt>) -> Result<u8> {
    let tty = std::io::stdout().is_terminal();
    if tty {
        catch_ending_signals();
    }
    // The user's cockpit settings, checked before anything is written or started (exit 2).
    let settings = if tty {
        crate::tui::settings::load()?
    } else {
        Default::default()
    };
    let (root, temp) = match dir {
        Some(d) => (std::path::absolute(d)?, false),
        None => {
            let t = tempfile::Builder::new()
                .prefix("flightdeck-demo-")
                .tempdir()
                .wrap_err("creating a temp folder for the demo")?;
            (t.keep(), true)
        }
    };
    // What did not start leaves no temp folder behind.
    let discard = || {
        if temp {
            let _ = std::fs::remove_dir_all(&root);
        }
    };
    let now = chrono::Utc::now().timestamp();
    let written = match write(&root, now) {
        Ok(w) => w,
        Err(e) => {
            discard();
            return Err(match e {
                DemoError::NotEmpty(_) => UsageError(e.to_string()).into(),
                e => e.into(),
            });
        }
    };
    let demo = ctx.with_plan(root.join(PLAN_FILE), root.join(DATA_DIR));
    if written == Written::Reused {
        // An earlier demo release still driven here would hold the environments this one needs.
        for rdir in demo.store()?.releases(Some(PLAN_NAME))? {
            if let Some(pid) = rdir.live_driver() {
                return Err(UsageError(format!(
                    "the demo in {} still runs release {} (driver pid {pid}); \
                     `flightdeck --data-dir {} cancel {}` ends it",
                    root.display(),
                    rdir.id,
                    quote(&root.join(DATA_DIR)),
                    rdir.id
                ))
                .into());
            }
        }
    }
    let started = demo
        .create_release(None, None)
        .and_then(|rdir| Ok((demo.spawn_driver(&rdir, false)?, rdir)));
    let (driver, rdir) = match started {
        Ok((Ok(driver), rdir)) => (driver, rdir),
        Ok((Err(code), _)) => {
            discard();
            return Ok(code);
        }
        Err(e) => {
            discard();
            return Err(e);
        }
    };
    if !tty {
        print_how_to_watch(&root, &rdir, driver.id(), written)?;
        return Ok(exit::OK);
    }
    let opts = crate::tui::Options {
        no_reattach_hint: true,
        settings,
        debug_panic,
        ..Default::default()
    };
    let launcher = std::sync::Arc::new(demo.clone());
    // Whatever ends the cockpit (q, SIGHUP, SIGTERM, SIGINT, an error, a panic) ends the demo's
    // releases and removes its temp folder: a panic in the cockpit ends the process from the
    // panic hook, which runs this first.
    let driver_pid = driver.id();
    let clean_up = {
        let (demo, root) = (demo.clone(), root.clone());
        move |driver: Option<std::process::Child>| clean_up(&demo, &root, temp, driver, driver_pid)
    };
    {
        let clean_up = clean_up.clone();
        crate::tui::terminal::on_fatal_exit(Some(Box::new(move || {
            let _ = clean_up(None);
        })));
    }
    let outcome = if EARLY_SIGNAL.load(std::sync::atomic::Ordering::SeqCst) {
        Ok(Ok(exit::CANCELLED))
    } else {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::tui::open(demo.store()?, PLAN_NAME, Some(&rdir), None, launcher, opts)
                .map_err(color_eyre::Report::from)
        }))
    };
    crate::tui::terminal::on_fatal_exit(None);
    // The terminal may be gone (SIGHUP): nothing printed from here on may fail the clean-up.
    if !std::io::stderr().is_terminal() && !std::io::stdout().is_terminal() {
        crate::tui::terminal::let_go_of_the_terminal();
    }
    let cleaned = clean_up(Some(driver));
    let shown = match outcome {
        Ok(shown) => shown,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    match cleaned {
        Ok(()) => shown,
        // Something of the demo may still run: say so in the exit code too.
        Err(()) => shown.map(|_| exit::FAILED),
    }
}

/// End the demo's releases ([`end_releases`]) and remove its folder when it is a temp folder;
/// says what it did on stderr. `Err(())`: something of the demo may still run (said).
fn clean_up(
    demo: &Context,
    root: &Path,
    temp: bool,
    driver: Option<std::process::Child>,
    driver_pid: u32,
) -> std::result::Result<(), ()> {
    match end_releases(demo, root, driver, driver_pid) {
        Ok(()) if temp => {
            match std::fs::remove_dir_all(root) {
                Ok(()) => say!("flightdeck demo: removed {}", root.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    say!("flightdeck demo: {} was already removed", root.display())
                }
                Err(e) => say!("flightdeck demo: could not remove {}: {e}", root.display()),
            }
            Ok(())
        }
        Ok(()) => {
            say!(
                "flightdeck demo: the demo stays in {}; `flightdeck demo --dir {}` starts another release",
                root.display(),
                quote(root)
            );
            Ok(())
        }
        Err(e) => {
            say!("flightdeck demo: {e:#}; the demo stays in {}", root.display());
            Err(())
        }
    }
}

/// After the cockpit: cancel every unfinished release of the demo that has a live driver (the one
/// `demo` started, and any the user started from the cockpit) and wait, with a deadline, until
/// no driver of the demo is left, so nothing of it goes on running. A driver that cannot be asked
/// through its journal (the demo's folder was deleted) gets SIGTERM, which it takes as a cancel;
/// one still there at the deadline, SIGKILL, and so do the processes its releases started.
fn end_releases(
    demo: &Context,
    root: &Path,
    mut driver: Option<std::process::Child>,
    driver_pid: u32,
) -> Result<()> {
    let actor = demo.actor();
    let live = || -> Vec<(ReleaseDir, u32)> {
        if !root.join(DATA_DIR).is_dir() {
            return Vec::new();
        }
        demo.store()
            .and_then(|store| Ok(store.releases(Some(PLAN_NAME))?))
            .map(|rs| {
                rs.into_iter()
                    .filter_map(|r| r.live_driver().map(|pid| (r, pid)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut asked: Vec<u32> = Vec::new();
    for (rdir, pid) in live() {
        let finished = load_state(&rdir).map(|s| s.finished.is_some()).unwrap_or(false);
        if finished {
            asked.push(pid);
            continue;
        }
        say!("flightdeck demo: cancelling release {}", rdir.id);
        // A release that finishes meanwhile refuses the cancel: its driver ends all the same.
        match demo.submit(&rdir, &actor, &Op::Cancel) {
            Ok(_) => asked.push(pid),
            Err(e) => say!("flightdeck demo: release {}: {e}", rdir.id),
        }
    }
    // Drivers of the demo not reached through a journal: SIGTERM (a cancel, for a driver).
    for pid in drivers_of(root) {
        if !asked.contains(&pid) {
            say!("flightdeck demo: stopping driver {pid}");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
    // Each driver stops its running commands (SIGTERM, then SIGKILL after the grace period) and
    // exits, releasing its lock. A short poll over the few demo drivers.
    let limit = grace() + Duration::from_secs(10);
    let deadline = Instant::now() + limit;
    loop {
        let mut left: Vec<u32> = drivers_of(root);
        for (_, pid) in live() {
            if !left.contains(&pid) {
                left.push(pid);
            }
        }
        let ours_alive = match driver.as_mut() {
            Some(child) => child.try_wait().ok().flatten().is_none(),
            None => pid_alive(driver_pid),
        };
        if ours_alive && !left.contains(&driver_pid) {
            left.push(driver_pid);
        }
        if left.is_empty() {
            end_stray_groups(root);
            return Ok(());
        }
        if Instant::now() > deadline {
            for pid in &left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(*pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            end_stray_groups(root);
            let pids: Vec<String> = left.iter().map(u32::to_string).collect();
            color_eyre::eyre::bail!(
                "the demo's driver(s) {} did not end within {}s of the cancel request, and were killed",
                pids.join(" "),
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether process `pid` runs (a zombie does not).
fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next()),
            Some("Z" | "X")
        )
    })
}

/// Live `flightdeck drive DIR` processes of this user whose release folder is under `root`.
fn drivers_of(root: &Path) -> Vec<u32> {
    let me = std::process::id();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let prefix = root.as_os_str().as_encoded_bytes();
    rd.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid_alive(pid))
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.len() >= 3 && args[1] == b"drive" && args[2].starts_with(prefix)
        })
        .collect()
}

/// Processes the demo's releases started (they carry the release folder, under `root`, in
/// [`crate::procgroup::MARKER_VAR`]) and that outlived their drivers: their groups end.
fn end_stray_groups(root: &Path) {
    let needle = format!("{}={}/", crate::procgroup::MARKER_VAR, root.display());
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    let mut groups = std::collections::BTreeSet::new();
    for pid in rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
    {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ
            .split(|b| *b == 0)
            .any(|kv| kv.starts_with(needle.as_bytes()))
            && let Ok(pgid) = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)))
            && pgid != nix::unistd::getpgrp()
        {
            groups.insert(pgid.as_raw());
        }
    }
    for pgid in groups {
        crate::procgroup::terminate_group_blocking(pgid, grace());
    }
}

/// No terminal: say where the demo is and how to watch and drive it.
fn print_how_to_watch(root: &Path, rdir: &ReleaseDir, pid: u32, written: Written) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let id = &rdir.id;
    let what = match written {
        Written::Fresh => "wrote the demo into",
        Written::Reused => "reused the demo in",
    };
    let contents = match written {
        Written::Fresh => " (a plan, its scripts, a git repository tagged v1.3.0 and v1.4.0)",
        Written::Reused => "",
    };
    let fd = format!("flightdeck --data-dir {DATA_DIR}");
    let mut text = format!(
        "flightdeck demo: {what} {}{contents}\n\
         Release {id} runs in the background (driver pid {pid}), its data in {}.\n\
         It stops at the gate {GATE} until two items are ticked and one person approves.\n\
         No terminal here, so no cockpit; the folder is kept. Watch and drive the release with:\n\n",
        root.display(),
        root.join(DATA_DIR).display()
    );
    let _ = writeln!(text, "  cd {}", quote(root));
    if let Some(exe) = program() {
        let _ = writeln!(text, "  alias flightdeck={exe}");
    }
    let _ = write!(
        text,
        "  {fd} status {id}\n\
         \x20 {fd} logs {id} package --target linux-x86_64 --follow\n\
         \x20 flightdeck drift\n\
         \x20 flightdeck notes\n\
         \x20 {fd} tick {id} {GATE} 2 && {fd} tick {id} {GATE} 3\n\
         \x20 {fd} approve {id} {GATE}\n\
         \x20 {fd} cockpit {id}          # in a terminal\n\
         \x20 {fd} cancel {id}           # ends the release; then remove the folder\n"
    );
    let text = crate::ansi::clean_lines(&text);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `flightdeck demo | head`: the reader has what it wanted; the release runs on.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

/// This program's absolute path when it was started by a path (e.g. `cargo run`'s
/// `target/release/flightdeck`), for an alias in the printed commands; `None` when it was found on
/// the PATH as `flightdeck`.
fn program() -> Option<String> {
    let by_path = std::env::args_os()
        .next()
        .is_some_and(|a| a.to_string_lossy().contains('/'));
    let exe = std::env::current_exe().ok().filter(|_| by_path)?;
    Some(quote(&exe))
}

fn quote(path: &Path) -> String {
    crate::plan::template::shell_quote(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_embedded_and_scripts_are_executable() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let mut on_disk = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    on_disk.push(p.strip_prefix(&dir).unwrap().display().to_string());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES
            .iter()
            .map(|f| f.path.trim_start_matches('.').to_string())
            .collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "assets/demo and demo::FILES differ");
        for f in FILES {
            assert_eq!(f.executable, f.path.ends_with(".sh") && f.path != "ops/colors.sh");
        }
    }

    #[test]
    fn writes_into_an_empty_folder_reuses_a_demo_and_refuses_anything_else() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("demo");
        assert_eq!(write(&d, 1_700_000_000).unwrap(), Written::Fresh);
        let repo = git2::Repository::open(&d).unwrap();
        let tags = repo.tag_names(None).unwrap();
        let mut tags: Vec<&str> = tags.iter().flatten().flatten().collect();
        tags.sort();
        assert_eq!(tags, ["v1.3.0", "v1.4.0"]);
        assert!(repo.statuses(None).unwrap().is_empty(), "the work tree is clean");
        assert_eq!(write(&d, 1_700_000_000).unwrap(), Written::Reused);
        let other = t.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        assert!(matches!(write(&other, 0), Err(DemoError::NotEmpty(_))));
    }
}
