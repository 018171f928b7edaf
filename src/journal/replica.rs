//! A shared store the local data directory mirrors (PostgreSQL, through `pgstore`).
//!
//! With a replica installed, the data directory is a verified local copy of the store, and every
//! command, the driver and the cockpit work on it exactly as on a data directory of their own:
//!
//! - **Appends go to the store first.** [`super::Journal::begin`] takes the journal's lock on the
//!   store as well as the local file lock, and brings down what the store holds beyond the local
//!   file (checking the chain line by line) before anything is decided; [`super::Txn::commit`]
//!   appends to the store (where the database checks the chain again, and a driver's fencing
//!   epoch) and writes the local file only once the store took the lines. A local file is thus
//!   always a prefix of the store's journal.
//! - **Reads catch up first.** [`pull`] brings a journal's new lines (and the release's files)
//!   down without taking the store's lock; observers call it when notified, and commands before
//!   they read.
//!
//! The journal layer defines the interface; `pgstore` implements it, and `release` installs it
//! for the process ([`install`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::JournalError;

/// A journal on the store: its plan and its name (a release id, or `.incidents` / `.freezes` for
/// the plan-level journals).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JournalKey {
    pub plan: String,
    pub journal: String,
}

/// A driver's lease as its renewals find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Renewed in time.
    Held,
    /// Not renewed before it expired (the store is out of reach): another driver may take the
    /// release over, so no new work starts; renewed again (nobody took it), it is `Held`.
    Lapsed,
    /// Another driver took it over: this one must stop.
    Lost,
}

/// An append begun on the store ([`Replica::begin`]).
pub struct Begun {
    /// Holds the journal's lock on the store until committed or dropped.
    pub txn: Box<dyn ReplicaTxn>,
    /// The store's lines after the local file's last.
    pub lines: Vec<String>,
    /// The store's last sequence number (behind the local file's when lines written while the
    /// store was out of reach are still to be sent).
    pub last: u64,
}

/// The store behind the local data directory.
pub trait Replica: Send + Sync {
    /// Lock journal `key` on the store for an append (until the returned transaction is committed
    /// or dropped), and return its lines after sequence number `after`, in order.
    fn begin(&self, key: &JournalKey, after: u64) -> Result<Begun, JournalError>;
    /// Whether this process may write `key`'s lines locally while the store is out of reach (to
    /// send them, in order, once it is back): only the driver holding the release's lease.
    fn may_buffer(&self, key: &JournalKey) -> bool;
    /// The lines of journal `key` after `after`, in order, without locking.
    fn read_after(&self, key: &JournalKey, after: u64) -> Result<Vec<String>, JournalError>;
    /// Every journal the store holds and its last sequence number.
    fn journals(&self) -> Result<Vec<(JournalKey, u64)>, JournalError>;
    /// Copy the release's files (not its journal, lock or logs) up when they changed.
    fn put_files(&self, key: &JournalKey, dir: &Path) -> Result<(), JournalError>;
    /// Copy the release's files down when they changed.
    fn get_files(&self, key: &JournalKey, dir: &Path) -> Result<(), JournalError>;
    /// Who drives the release, by its lease on the store: `(host, pid)` while the lease holds.
    fn driver(&self, key: &JournalKey) -> Option<(String, u32)>;
    /// Take the release's lease for this process (its appends then carry the lease's epoch, and
    /// the store refuses them once another driver took it over); `on_change` is told when it
    /// lapses, is renewed again, or is lost. `Err(why)`: someone holds it.
    fn take_lease(
        &self,
        key: &JournalKey,
        on_change: Box<dyn Fn(LeaseState) + Send + Sync>,
    ) -> Result<Result<(), String>, JournalError>;
    /// Give the lease up (the driver ends).
    fn drop_lease(&self, key: &JournalKey);
    /// Whether this process still holds the lease: `Some(false)` once it was lost (taken over,
    /// or not renewed in time); `None` when it never took one.
    fn lease_held(&self, key: &JournalKey) -> Option<bool>;
}

/// An append in progress on the store: holds the journal's lock there until committed or
/// dropped.
pub trait ReplicaTxn: Send {
    /// Append `lines` (whole records, without newlines, numbered on from the store's last line).
    fn commit(self: Box<Self>, lines: &[String]) -> Result<(), JournalError>;
}

struct Installed {
    root: PathBuf,
    replica: Arc<dyn Replica>,
    /// What `<root>/.store` says (the store's URL without its password), written with the first
    /// thing the mirror holds.
    marker: String,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The file naming the store a data directory mirrors.
pub const MARKER: &str = ".store";

/// Make the data directory at `root` a mirror of `replica` for the rest of the process (once);
/// `marker` is what its `.store` file says (written with the first thing written there, so that
/// a command refused before it writes leaves nothing behind).
pub fn install(root: &Path, replica: Arc<dyn Replica>, marker: &str) {
    let _ = INSTALLED.set(Installed {
        root: root.to_path_buf(),
        replica,
        marker: marker.to_string(),
    });
}

/// Before the first write into the mirror: its folder and its `.store` file.
pub fn claim() -> Result<(), JournalError> {
    let Some(i) = INSTALLED.get() else {
        return Ok(());
    };
    let marker = i.root.join(MARKER);
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&i.root).map_err(super::io_err(&i.root))?;
    std::fs::write(&marker, format!("{}\n", i.marker)).map_err(super::io_err(&marker))
}

/// What the installed store is called where it is shown: its URL without the password.
pub fn store_name() -> Option<&'static str> {
    INSTALLED.get().map(|i| i.marker.as_str())
}

/// How this process's shared store is faring, as last seen: a state that `status` and the
/// cockpit show (never a crash).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Out of reach since when, and why; `None` while the store answers.
    pub away: Option<(std::time::SystemTime, String)>,
    /// Whether appends are notified here (`Ok`), or why this process polls instead (behind a
    /// pooler in transaction mode LISTEN does not work); `None`: not known yet (this process
    /// does not follow the store, or has not found out).
    pub notify: Option<Result<(), String>>,
}

/// Told of each change; kept while it returns `true` (its listener still listens).
type HealthWatcher = Box<dyn Fn() -> bool + Send + Sync>;

static HEALTH: std::sync::Mutex<(Health, Vec<HealthWatcher>)> = std::sync::Mutex::new((
    Health {
        away: None,
        notify: None,
    },
    Vec::new(),
));

fn update_health(change: impl FnOnce(&mut Health)) {
    let mut h = HEALTH.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = h.0.clone();
    change(&mut h.0);
    if h.0 != before {
        h.1.retain(|w| w());
    }
}

/// The store answered (`Ok`), or is out of reach (`Err`, why). Only a change is kept: an outage
/// keeps the time it began.
pub fn report_reachable(outcome: Result<(), String>) {
    update_health(|h| match outcome {
        Ok(()) => h.away = None,
        Err(why) => {
            if h.away.is_none() {
                h.away = Some((std::time::SystemTime::now(), why));
            }
        }
    });
}

/// Notifications arrive (`Ok`), or this process polls, and why.
pub fn report_notify(outcome: Result<(), String>) {
    update_health(|h| h.notify = Some(outcome));
}

/// The store's health as last seen, with its name; `None` without a shared store.
pub fn health() -> Option<(&'static str, Health)> {
    let name = store_name()?;
    let h = HEALTH.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Some((name, h.0.clone()))
}

/// Call `f` (from whichever thread noticed) whenever the store's health changes, until it
/// returns `false` (whoever it tells has gone: a cockpit's release view closed).
pub fn on_health_change(f: impl Fn() -> bool + Send + Sync + 'static) {
    let mut h = HEALTH.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    h.1.push(Box::new(f));
}

/// The store's health as one line for a person, when there is something to say: out of reach
/// (since when, why), or polling.
pub fn health_said(now: std::time::SystemTime) -> Option<String> {
    let (name, h) = health()?;
    if let Some((since, why)) = &h.away {
        // Said with its time when the outage began before this process looked.
        let ago = now.duration_since(*since).unwrap_or_default().as_secs();
        let since = if ago >= 1 {
            format!(
                " since {}",
                chrono::DateTime::<chrono::Local>::from(*since).format("%H:%M:%S")
            )
        } else {
            String::new()
        };
        return Some(format!(
            "the shared store {name} is out of reach{since}: showing this machine's copy as last read; nothing can be changed until it is back ({why})"
        ));
    }
    match &h.notify {
        Some(Err(why)) => Some(format!(
            "the shared store {name} cannot notify this machine: it polls ({why})"
        )),
        _ => None,
    }
}

/// The replica, if one is installed.
pub fn installed() -> Option<&'static Arc<dyn Replica>> {
    INSTALLED.get().map(|i| &i.replica)
}

/// The replica and the journal key of the journal file at `path`, when the path is inside the
/// mirrored data directory: `<root>/plans/<plan>/<journal>/<file>`.
pub fn for_path(path: &Path) -> Option<(&'static Arc<dyn Replica>, JournalKey)> {
    let i = INSTALLED.get()?;
    let rel = path.strip_prefix(&i.root).ok()?;
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    match parts.as_slice() {
        ["plans", plan, journal, _file] => Some((
            &i.replica,
            JournalKey {
                plan: plan.to_string(),
                journal: journal.to_string(),
            },
        )),
        _ => None,
    }
}

/// The plan-level journals: their folder under the plan's (also their name on the store), and
/// their file.
pub const PLAN_JOURNALS: [(&str, &str); 4] = [
    (".incidents", "incidents.jsonl"),
    (".freezes", "freezes.jsonl"),
    (".reviews", "reviews.jsonl"),
    // A workspace's (its folder is `@NAME`, beside the plans'), see `engine::train`.
    (".trains", "trains.jsonl"),
];

/// A release's journal file in its folder.
pub const RELEASE_JOURNAL: &str = "journal.jsonl";

/// The file a journal key is mirrored to under `root`.
pub fn path_of(root: &Path, key: &JournalKey) -> PathBuf {
    let dir = root.join("plans").join(&key.plan).join(&key.journal);
    let file = PLAN_JOURNALS
        .iter()
        .find(|(d, _)| *d == key.journal)
        .map_or(RELEASE_JOURNAL, |(_, f)| f);
    dir.join(file)
}

/// The mirrored data directory's root, if a replica is installed.
pub fn root() -> Option<&'static Path> {
    INSTALLED.get().map(|i| i.root.as_path())
}

/// Whether `key` names a release's journal (not a plan-level one).
pub fn is_release(key: &JournalKey) -> bool {
    !key.journal.starts_with('.')
}

/// The error for a store that failed under an append or a read.
pub fn store_error(path: &Path, why: impl std::fmt::Display) -> JournalError {
    JournalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("the shared store: {why}")),
    }
}

/// This machine's name, as drivers journal it and leases show it: FLIGHTDECK_HOSTNAME, else the
/// host name (containers often have a random one).
pub fn hostname() -> String {
    std::env::var("FLIGHTDECK_HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()))
        .unwrap_or_default()
}

/// Shared for callers that only hold an `Arc`.
pub type Shared = Arc<dyn Replica>;

/// A driver's lease on a release, given up when dropped (with its driver lock).
pub struct LeaseGuard {
    replica: &'static Shared,
    key: JournalKey,
}

impl LeaseGuard {
    pub fn new(replica: &'static Shared, key: JournalKey) -> LeaseGuard {
        LeaseGuard { replica, key }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.replica.drop_lease(&self.key);
    }
}

impl std::fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LeaseGuard({}/{})", self.key.plan, self.key.journal)
    }
}

/// Who drives the release whose journal is at `path`, by its lease on the store, when the
/// data directory is a replica's and no local driver holds it: `(host, pid)`.
pub fn remote_driver(path: &Path) -> Option<(String, u32)> {
    let (replica, key) = for_path(path)?;
    if !is_release(&key) {
        return None;
    }
    replica.driver(&key).filter(|(host, pid)| !dead_here(host, *pid))
}

/// Whether a lease's holder is a process of this machine that is gone: its lease is stale (a
/// driver here dies with its lease still running; nobody need wait for it to expire).
pub fn dead_here(host: &str, pid: u32) -> bool {
    if host != hostname() || pid == 0 {
        return false;
    }
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    !crate::procgroup::process_alive(pid)
}

/// The sequence number of the last line of the local journal at `path`, from its head (0: none).
fn local_last(path: &Path) -> u64 {
    std::fs::read_to_string(path.with_file_name("head"))
        .ok()
        .and_then(|h| h.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Bring the mirror up to date with the store: every journal the store holds beyond its local
/// copy (a new release's folder made, its files brought down). How many journals changed; none
/// without a replica.
pub fn pull_all() -> Result<usize, JournalError> {
    let (Some(replica), Some(root)) = (installed(), root()) else {
        return Ok(0);
    };
    let mut changed = 0;
    for (key, last) in replica.journals()? {
        let path = path_of(root, &key);
        // A release still open may have new output (or files) with no new line.
        let open = is_release(&key)
            && path
                .parent()
                .is_some_and(|dir| super::ReleaseDir::from_path(dir).is_marked_open());
        if local_last(&path) >= last && !open {
            continue;
        }
        pull(&key)?;
        changed += 1;
    }
    Ok(changed)
}

/// Bring one journal (and, for a release, its files) down from the store; its new records.
pub fn pull(key: &JournalKey) -> Result<Vec<crate::event::Record>, JournalError> {
    let (Some(replica), Some(root)) = (installed(), root()) else {
        return Ok(Vec::new());
    };
    super::store::check_component("plan name", &key.plan)?;
    super::store::check_component("journal", &key.journal)?;
    let path = path_of(root, key);
    let dir = path.parent().expect("a journal lives in a folder");
    claim()?;
    let new = !dir.exists();
    std::fs::create_dir_all(dir).map_err(super::io_err(dir))?;
    let masker = Arc::new(crate::mask::Masker::new(Vec::<String>::new()));
    let mut journal = super::Journal::open(&path, masker)?;
    if is_release(key) {
        let rdir = super::ReleaseDir::from_path(dir);
        let logs = rdir.logs();
        std::fs::create_dir_all(&logs).map_err(super::io_err(&logs))?;
        // Its files first: what the journal's lines name is there when they are read.
        replica.get_files(key, dir)?;
        journal = journal.marking_open(rdir.open_marker());
        if new && let Some(plan_dir) = dir.parent() {
            super::store::write_latest(plan_dir, &key.journal)?;
        }
    }
    journal.pull()
}
