//! Where releases live: `<data>/plans/<plan>/<release-id>/` holding `journal.jsonl`, `head`,
//! `plan.toml` (the plan as it was at the start), `driver.lock`, `driver.log` and `logs/`.
//!
//! Beside the release folders, each plan's folder holds `.latest` (the id of the newest release
//! created), `.open/<release-id>` markers and the finished-release index (see
//! `engine::history`). A release is marked open when it is created and before every append to
//! its journal; it is unmarked only once its finished state is in the index. So the releases
//! that can change are the marked ones, and readers never need to open every journal.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Journal, JournalError, io_err};
use crate::mask::Masker;

/// The folder of open markers in a plan's folder.
pub const OPEN_DIR: &str = ".open";
/// The file naming the newest release created, in a plan's folder.
const LATEST: &str = ".latest";

/// The data directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// One release's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseDir {
    pub plan: String,
    pub id: String,
    pub path: PathBuf,
}

impl Store {
    /// `explicit` (from `--data-dir` / `FLIGHTDECK_DATA_DIR`), else the platform's data dir.
    pub fn locate(explicit: Option<PathBuf>) -> Result<Store, JournalError> {
        let root = match explicit {
            Some(p) => p,
            None => directories::ProjectDirs::from("", "", "flightdeck")
                .map(|d| d.data_dir().to_path_buf())
                .ok_or_else(|| {
                    JournalError::NotFound(
                        "data directory".into(),
                        ": no home directory; use --data-dir".into(),
                    )
                })?,
        };
        Ok(Store { root })
    }

    /// `<data>/plans/<plan>`; refused unless `plan` is one plain folder name (the plan file's
    /// check refuses such names first: this is the second line of defence).
    pub fn plan_dir(&self, plan: &str) -> Result<PathBuf, JournalError> {
        check_component("plan name", plan)?;
        Ok(self.root.join("plans").join(plan))
    }

    /// Make a new release folder: id = version, or `version-2`, `-3`... if that version ran before.
    pub fn create_release(&self, plan: &str, version: &str) -> Result<ReleaseDir, JournalError> {
        let base = self.plan_dir(plan)?;
        std::fs::create_dir_all(&base).map_err(io_err(&base))?;
        let stem = sanitize_id(version);
        check_component("release id", &stem)?;
        for n in 1.. {
            let id = if n == 1 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            };
            let path = base.join(&id);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let logs = path.join("logs");
                    std::fs::create_dir(&logs).map_err(io_err(&logs))?;
                    let rdir = ReleaseDir {
                        plan: plan.to_string(),
                        id,
                        path,
                    };
                    rdir.mark_open()?;
                    write_latest(&base, &rdir.id)?;
                    return Ok(rdir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(JournalError::Io { path, source: e }),
            }
        }
        unreachable!("the loop only ends by returning")
    }

    /// The plans with a folder in the data dir, sorted.
    pub fn plans(&self) -> Result<Vec<String>, JournalError> {
        // `@NAME`: a workspace's journals (trains), not a plan's releases.
        self.folders(|name| !name.starts_with('@'))
    }

    /// The folders under `plans/` that are plain folder names and pass `keep`, sorted.
    fn folders(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, JournalError> {
        let dir = self.root.join("plans");
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(JournalError::Io { path: dir, source: e }),
        };
        let mut out: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|p| check_component("plan name", p).is_ok() && keep(p))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The workspaces' folders beside the plans' (`@NAME`: their trains journal), sorted.
    pub fn workspace_folders(&self) -> Result<Vec<String>, JournalError> {
        self.folders(|name| name.starts_with('@'))
    }

    /// Releases of `plan` (or of every plan when `None`), newest first (by creation time).
    pub fn releases(&self, plan: Option<&str>) -> Result<Vec<ReleaseDir>, JournalError> {
        let scope_all = plan.is_none();
        let plans: Vec<String> = match plan {
            Some(p) => vec![p.to_string()],
            None => {
                let dir = self.root.join("plans");
                match std::fs::read_dir(&dir) {
                    Ok(rd) => rd
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|p| !p.starts_with('@'))
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(JournalError::Io { path: dir, source: e }),
                }
            }
        };
        let mut out = Vec::new();
        for plan in plans {
            let dir = match self.plan_dir(&plan) {
                Ok(d) => d,
                // A stray folder of another name under `plans/` is no plan's.
                Err(e) if scope_all => {
                    let _ = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(JournalError::Io { path: dir, source: e }),
            };
            for entry in rd.filter_map(|e| e.ok()) {
                let path = entry.path();
                if !path.join("journal.jsonl").is_file() {
                    continue;
                }
                let Ok(id) = entry.file_name().into_string() else {
                    continue;
                };
                let created = std::fs::metadata(path.join("journal.jsonl"))
                    .and_then(|m| m.created().or_else(|_| m.modified()))
                    .ok();
                out.push((
                    created,
                    ReleaseDir {
                        plan: plan.clone(),
                        id,
                        path,
                    },
                ));
            }
        }
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.id.cmp(&a.1.id)));
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }

    /// The folder of release `id` of `plan` (whether or not it exists).
    pub fn release(&self, plan: &str, id: &str) -> Result<ReleaseDir, JournalError> {
        check_component("release id", id)?;
        let path = self.plan_dir(plan)?.join(id);
        Ok(ReleaseDir {
            plan: plan.to_string(),
            id: id.to_string(),
            path,
        })
    }

    /// The releases of `plan` marked open (created, or appended to since they were last
    /// indexed as finished), whose folders hold a journal; sorted by id.
    pub fn open_releases(&self, plan: &str) -> Result<Vec<ReleaseDir>, JournalError> {
        let dir = self.plan_dir(plan)?.join(OPEN_DIR);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(JournalError::Io { path: dir, source: e }),
        };
        let mut out: Vec<ReleaseDir> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|id| self.release(plan, &id).ok())
            .filter(|r| r.journal().is_file())
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The newest release created for `plan` (from its `latest` file), if it still exists.
    pub fn latest(&self, plan: &str) -> Option<ReleaseDir> {
        let text = std::fs::read_to_string(self.plan_dir(plan).ok()?.join(LATEST)).ok()?;
        let r = self.release(plan, text.trim()).ok()?;
        r.journal().is_file().then_some(r)
    }

    /// Find a release by id (`latest` or `None`: the newest) among `plan`'s releases, or among all
    /// plans when `plan` is `None` (ambiguous ids across plans are an error).
    pub fn find(&self, plan: Option<&str>, id: Option<&str>) -> Result<ReleaseDir, JournalError> {
        // Within one plan: straight to the folder (or `latest`), without listing the others.
        if let Some(p) = plan {
            match id {
                None | Some("latest") => {
                    if let Some(r) = self.latest(p) {
                        return Ok(r);
                    }
                }
                Some(id) => {
                    return match self.release(p, id) {
                        Ok(r) if r.journal().is_file() => Ok(r),
                        _ => Err(JournalError::NotFound(id.to_string(), format!(" for plan `{p}`"))),
                    };
                }
            }
        }
        let all = self.releases(plan)?;
        let scope = plan.map(|p| format!(" for plan `{p}`")).unwrap_or_default();
        match id {
            None | Some("latest") => {
                if plan.is_none() {
                    let plans: std::collections::BTreeSet<&str> =
                        all.iter().map(|r| r.plan.as_str()).collect();
                    if plans.len() > 1 {
                        return Err(JournalError::Ambiguous(format!(
                            "`latest` is ambiguous: releases of several plans ({}); name the release or run inside a plan's folder",
                            plans.into_iter().collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
                all.into_iter().next().ok_or_else(|| {
                    JournalError::NotFound("latest".into(), format!("{scope}: no releases yet"))
                })
            }
            Some(id) => {
                let hits: Vec<ReleaseDir> = all.into_iter().filter(|r| r.id == id).collect();
                match hits.len() {
                    0 => Err(JournalError::NotFound(id.to_string(), scope)),
                    1 => Ok(hits.into_iter().next().expect("one hit")),
                    _ => Err(JournalError::Ambiguous(format!(
                        "release `{id}` exists for several plans ({}); run inside the plan's folder or pass --plan",
                        hits.iter()
                            .map(|r| r.plan.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))),
                }
            }
        }
    }
}

/// The longest name the data directory takes as one folder name (a file system takes 255 bytes;
/// log and lock file names add to stage and target names).
pub const MAX_COMPONENT: usize = 200;

/// Refuse anything that is not one plain folder name: empty, `.`, `..`, a `/`, an absolute path,
/// a NUL or other control character, or longer than [`MAX_COMPONENT`] bytes.
pub fn check_component(what: &str, name: &str) -> Result<(), JournalError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "." || name == ".." {
        "it names a folder itself"
    } else if name.contains('/') {
        "it holds a `/`"
    } else if name.chars().any(char::is_control) {
        "it holds a control character"
    } else if name.len() > MAX_COMPONENT {
        "it is too long"
    } else {
        return Ok(());
    };
    Err(JournalError::BadName {
        what: what.to_string(),
        name: name.escape_debug().to_string(),
        reason: reason.to_string(),
    })
}

/// Ids become folder names: keep `[A-Za-z0-9._+-]`, replace anything else with `_`.
pub fn sanitize_id(version: &str) -> String {
    let s: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("v{s}")
    } else {
        s
    }
}

/// Point `<plan>/latest` at `id` (written aside, then renamed: never half a name).
pub(crate) fn write_latest(plan_dir: &Path, id: &str) -> Result<(), JournalError> {
    let tmp = plan_dir.join(format!(".{LATEST}.{}", std::process::id()));
    std::fs::write(&tmp, id).map_err(io_err(&tmp))?;
    let dest = plan_dir.join(LATEST);
    std::fs::rename(&tmp, &dest).map_err(io_err(&dest))
}

impl ReleaseDir {
    /// Its marker in `<plan>/.open/`: present while the release may still change.
    pub fn open_marker(&self) -> PathBuf {
        let plan_dir = self.path.parent().unwrap_or(Path::new("."));
        plan_dir.join(OPEN_DIR).join(&self.id)
    }

    /// Mark the release open (idempotent).
    pub fn mark_open(&self) -> Result<(), JournalError> {
        let m = self.open_marker();
        if let Some(dir) = m.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&m)
            .map(drop)
            .map_err(io_err(&m))
    }

    /// Remove the open marker (only once the release's finished state is indexed, under the
    /// journal's append lock).
    pub fn unmark_open(&self) -> Result<(), JournalError> {
        let m = self.open_marker();
        match std::fs::remove_file(&m) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(JournalError::Io { path: m, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Whether the release is marked open.
    pub fn is_marked_open(&self) -> bool {
        self.open_marker().exists()
    }

    /// The journal, ready to append; every write marks the release open first.
    pub fn journal_writer(&self, masker: std::sync::Arc<Masker>) -> Result<Journal, JournalError> {
        Ok(Journal::open(&self.journal(), masker)?.marking_open(self.open_marker()))
    }

    pub fn from_path(path: &Path) -> ReleaseDir {
        let id = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let plan = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ReleaseDir {
            plan,
            id,
            path: path.to_path_buf(),
        }
    }
    /// A file of this release named by the journal (a run's log): only a relative path of plain
    /// folder names, so a journal cannot point outside the release's folder.
    pub fn file(&self, rel: &str) -> Result<PathBuf, JournalError> {
        let p = Path::new(rel);
        let plain = !rel.is_empty()
            && p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
            && !rel.chars().any(char::is_control);
        if !plain {
            return Err(JournalError::BadName {
                what: "journaled file".into(),
                name: rel.escape_debug().to_string(),
                reason: "it is not a path inside the release's folder".into(),
            });
        }
        Ok(self.path.join(p))
    }

    pub fn journal(&self) -> PathBuf {
        self.path.join(super::replica::RELEASE_JOURNAL)
    }
    pub fn head(&self) -> PathBuf {
        self.path.join("head")
    }
    pub fn plan_copy(&self) -> PathBuf {
        self.path.join("plan.toml")
    }
    pub fn driver_log(&self) -> PathBuf {
        self.path.join("driver.log")
    }
    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }
    pub fn driver_lock_path(&self) -> PathBuf {
        self.path.join("driver.lock")
    }

    /// Take the driver lock, or say which pid holds it.
    pub fn lock_driver(&self) -> Result<Result<DriverLock, Option<u32>>, JournalError> {
        let path = self.driver_lock_path();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err(&path))?;
        // Observers probe liveness with a brief shared lock; retry a little before concluding that
        // another driver holds it.
        let mut tries = 0;
        let locked = loop {
            match file.try_lock() {
                Err(std::fs::TryLockError::WouldBlock) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other,
            }
        };
        match locked {
            Ok(()) => {
                // Written in place at a fixed width, never truncated first: a probe reading it
                // meanwhile sees the old pid or the new one, never an empty file (pid "0").
                use std::os::unix::fs::FileExt;
                let pid = format!("{:>10}", std::process::id());
                file.write_all_at(pid.as_bytes(), 0).map_err(io_err(&path))?;
                file.set_len(pid.len() as u64).map_err(io_err(&path))?;
                Ok(Ok(DriverLock {
                    _file: file,
                    lease: None,
                }))
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Err(read_pid(&mut file))),
            Err(std::fs::TryLockError::Error(e)) => Err(JournalError::Io { path, source: e }),
        }
    }

    /// The pid of the live driver, if one holds the lock; on a shared store, 0 for a driver on
    /// another machine (it holds the release's lease).
    pub fn live_driver(&self) -> Option<u32> {
        match self.local_driver() {
            Some(pid) => Some(pid.unwrap_or(0)),
            None => self.remote_driver().map(|_| 0),
        }
    }

    /// A driver of this machine holding the lock: its pid, when the lock file says it.
    fn local_driver(&self) -> Option<Option<u32>> {
        let mut file = File::open(self.driver_lock_path()).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(read_pid(&mut file)),
        }
    }

    /// Who drives the release, as said to a person: `pid 4242`, or on a shared store `pid 4242 on
    /// ci-runner-3 (it holds the release's lease until it stops renewing it)`.
    pub fn driver_said(&self) -> Option<String> {
        let local = self
            .local_driver()
            .map(|pid| pid.map_or("pid unknown".to_string(), |p| format!("pid {p}")));
        local.or_else(|| {
            self.remote_driver().map(|(host, pid)| {
                format!("pid {pid} on {host}: it holds the release's lease on the shared store until it stops renewing it")
            })
        })
    }

    /// On a shared store, the driver holding the release's lease: `(host, pid)`.
    pub fn remote_driver(&self) -> Option<(String, u32)> {
        super::replica::remote_driver(&self.journal())
    }
}

/// Asks, as often as wanted, whether a driver holds a release's lock, without opening the lock
/// file each time: an open is a file event for every inotify watcher of the folder (the cockpit's
/// own included), and an observer that checks once a second must not wake itself.
#[derive(Debug)]
pub struct DriverProbe {
    path: PathBuf,
    file: Option<File>,
    /// The pid read when the lock was last seen held, and the lock file's modification time
    /// then (a new driver rewrites it; `fstat` is no file event, a read would be).
    held_by: Option<(u32, Option<std::time::SystemTime>)>,
    /// The release's journal (its lease, on a shared store).
    journal: PathBuf,
}

impl DriverProbe {
    pub fn new(rdir: &ReleaseDir) -> DriverProbe {
        DriverProbe {
            path: rdir.driver_lock_path(),
            file: None,
            held_by: None,
            journal: rdir.journal(),
        }
    }

    /// The pid of the live driver (0 when its pid cannot be read, or when it runs on another
    /// machine: on a shared store, it holds the release's lease), if there is one.
    pub fn check(&mut self) -> Option<u32> {
        self.check_local()
            .or_else(|| super::replica::remote_driver(&self.journal).map(|_| 0))
    }

    fn check_local(&mut self) -> Option<u32> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let file = self.file.as_mut()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                self.held_by = None;
                None
            }
            Err(_) => {
                let mtime = file.metadata().and_then(|m| m.modified()).ok();
                match self.held_by {
                    Some((pid, seen)) if seen == mtime => Some(pid),
                    _ => {
                        use std::io::Seek;
                        let _ = file.seek(std::io::SeekFrom::Start(0));
                        let pid = read_pid(file).unwrap_or(0);
                        self.held_by = Some((pid, mtime));
                        Some(pid)
                    }
                }
            }
        }
    }
}

/// The pid of the driver holding the lock on `file`: the kernel's word for it (`/proc/locks`),
/// else what the file says. A new driver writes its pid just after it takes the lock, so for a
/// moment the file still names the previous driver, whose pid may be anyone's by then.
fn read_pid(file: &mut File) -> Option<u32> {
    if let Some(pid) = flock_holder(file) {
        return Some(pid);
    }
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// The process holding an exclusive `flock` on `file`, from `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 4242 fe:00:5366188 0 EOF`: the pid, then the device as
/// major:minor in hex and the inode). None when it is not listed there, or lists pid 0 (a holder
/// outside this pid namespace).
fn flock_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    // glibc's encoding of a device number.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A blocked waiter's line reads `1: -> FLOCK ...`, so its fields do not match here.
        if f.get(1) != Some(&"FLOCK") || f.get(3) != Some(&"WRITE") || f.get(5) != Some(&want.as_str()) {
            return None;
        }
        f.get(4)?.parse::<u32>().ok().filter(|p| *p > 0)
    })
}

/// Held while a process drives a release; released when dropped or when the process dies. On a
/// shared store it holds the release's lease as well.
#[derive(Debug)]
pub struct DriverLock {
    _file: File,
    lease: Option<super::replica::LeaseGuard>,
}

impl DriverLock {
    /// Keep the release's lease on the shared store for as long as the lock.
    pub fn hold_lease(&mut self, lease: super::replica::LeaseGuard) {
        self.lease = Some(lease);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_holder_is_the_kernels_word_not_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("driver.lock");
        // What a previous driver wrote: a new one holds the lock but has not rewritten it yet.
        std::fs::write(&path, "         1").unwrap();
        let held = File::options().read(true).write(true).open(&path).unwrap();
        held.lock().unwrap();
        let mut probe = File::open(&path).unwrap();
        assert_eq!(read_pid(&mut probe), Some(std::process::id()));
        drop(held);
        // Nobody holds it: only the file says anything.
        let mut probe = File::open(&path).unwrap();
        assert_eq!(flock_holder(&probe), None);
        assert_eq!(read_pid(&mut probe), Some(1));
    }
}
