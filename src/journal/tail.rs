//! Following a journal (or any append-only file) from another process: read only what was
//! appended, in complete lines, woken by inotify (the `notify` crate) rather than a polling loop.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::read::Chain;
use super::{JournalError, Record, io_err};

/// Reads the records appended to a journal since the last call, checking the hash chain as it
/// goes: at the first line that does not chain it stops for good (see [`Tail::broken`]).
pub struct Tail {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
    chain: Chain,
    /// The first line that did not chain, and why: nothing from it on is read.
    broken: Option<(usize, String)>,
}

impl Tail {
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            file: None,
            offset: 0,
            partial: Vec::new(),
            chain: Chain::default(),
            broken: None,
        }
    }

    /// The first line that did not chain (or was no record), as the error readers report.
    pub fn broken(&self) -> Option<JournalError> {
        self.broken.as_ref().map(|(line, reason)| JournalError::Broken {
            path: self.path.clone(),
            line: *line,
            reason: reason.clone(),
        })
    }

    /// New complete records since the last call (none if the file does not exist yet), each
    /// checked against the chain. A line still being written stays buffered until its newline
    /// arrives. At a line that does not chain, the records before it are returned and reading
    /// stops: [`Tail::broken`] says where, and every later call returns that error.
    pub fn poll(&mut self) -> Result<Vec<Record>, JournalError> {
        if let Some(e) = self.broken() {
            return Err(e);
        }
        let mut out = Vec::new();
        let chain = &mut self.chain;
        let broken = &mut self.broken;
        let mut f = |line: &[u8]| {
            if broken.is_some() {
                return;
            }
            let at = chain.line();
            match chain.link(line) {
                Ok(rec) => out.push(rec),
                Err(reason) => *broken = Some((at, reason)),
            }
        };
        Self::poll_lines(
            &self.path,
            &mut self.file,
            &mut self.offset,
            &mut self.partial,
            &mut f,
        )?;
        match self.broken() {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    fn poll_lines(
        path: &Path,
        file: &mut Option<File>,
        offset: &mut u64,
        partial: &mut Vec<u8>,
        f: &mut impl FnMut(&[u8]),
    ) -> Result<(), JournalError> {
        if file.is_none() {
            match File::open(path) {
                Ok(f) => *file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => {
                    return Err(JournalError::Io {
                        path: path.to_path_buf(),
                        source: e,
                    });
                }
            }
        }
        let file = file.as_mut().expect("opened above");
        let len = file.metadata().map_err(io_err(path))?.len();
        if len < *offset {
            // Truncated (a torn tail set aside by the next appender): re-read from the start of
            // the last incomplete line.
            *offset = len;
            partial.clear();
        }
        if len == *offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(*offset)).map_err(io_err(path))?;
        let mut buf = Vec::with_capacity((len - *offset) as usize);
        file.take(len - *offset)
            .read_to_end(&mut buf)
            .map_err(io_err(path))?;
        *offset += buf.len() as u64;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf) {
            if partial.is_empty() {
                f(&buf[start..end]);
            } else {
                partial.extend_from_slice(&buf[start..end]);
                let line = std::mem::take(partial);
                f(&line);
            }
            start = end + 1;
        }
        partial.extend_from_slice(&buf[start..]);
        Ok(())
    }
}

/// Call `on_change` whenever something under `path` (a folder, recursively, or a file) changes,
/// through inotify (the `notify` crate). Opening or reading a file is not a change: observers open
/// files all the time and would otherwise wake themselves. Closing a file that was open for
/// writing is: that is how a dead driver shows (its lock file closes). An error of the watch
/// itself (the kernel's queue overflowed) counts as a change too: something may have been missed.
/// `None` when the watch cannot be set up (callers keep a periodic fallback, so that only delays
/// them).
pub fn watch_changes(
    path: &Path,
    on_change: impl Fn() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    watch_paths(&[(path, RecursiveMode::Recursive)], on_change)
}

/// [`watch_changes`] over several paths, each recursively or not; `None` unless every watch is
/// set up.
pub fn watch_paths(
    paths: &[(&Path, RecursiveMode)],
    on_change: impl Fn() + Send + 'static,
) -> Option<notify::RecommendedWatcher> {
    notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        use notify::event::{AccessKind, AccessMode, EventKind};
        // A file opened for writing being closed is a change: the one sign of a driver that
        // died (its lock file's descriptor closes; a released lock makes no event of its own).
        let change = |k: &EventKind| match k {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        if res.map_or(true, |e| change(&e.kind)) {
            on_change();
        }
    })
    .ok()
    .and_then(|mut w| {
        paths
            .iter()
            .all(|(p, mode)| w.watch(p, *mode).is_ok())
            .then_some(w)
    })
}

/// Wakes a waiting task when anything under a watched path changes. Where the watch could not be
/// set up (no inotify, or no watches left), it falls back to a periodic wake (`fallback`), so that
/// only delays, never stalls, its owner. With the watch in place it wakes for nothing else: an idle
/// driver (a scheduled release waiting for its time) makes no wake-ups at all.
pub struct Waker {
    _watcher: Option<notify::RecommendedWatcher>,
    rx: tokio::sync::mpsc::Receiver<()>,
    fallback: Duration,
}

impl Waker {
    pub fn watch(paths: &[(&Path, RecursiveMode)], fallback: Duration) -> Waker {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        // A full channel already holds a wake-up: coalesce.
        let watcher = watch_paths(paths, move || {
            let _ = tx.try_send(());
        });
        Waker {
            _watcher: watcher,
            rx,
            fallback,
        }
    }

    /// Wait until something changed or `max` passed (or, without a watch, the fallback period).
    pub async fn wait_at_most(&mut self, max: Duration) {
        let max = if self._watcher.is_some() {
            max
        } else {
            max.min(self.fallback)
        };
        let _ = tokio::time::timeout(max, self.rx.recv()).await;
    }
}

/// [`Waker`] for a blocking thread (the headless printer, the CLI waiting for a driver).
pub struct SyncWaker {
    _watcher: Option<notify::RecommendedWatcher>,
    rx: std::sync::mpsc::Receiver<()>,
    tx: std::sync::mpsc::SyncSender<()>,
}

impl SyncWaker {
    pub fn watch(path: &Path) -> SyncWaker {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let wake = tx.clone();
        let watcher = watch_changes(path, move || {
            let _ = wake.try_send(());
        });
        SyncWaker {
            _watcher: watcher,
            rx,
            tx,
        }
    }

    /// [`SyncWaker::watch`] of several folders, none recursively (a train's driver: the trains
    /// journal's folder and each member's release folder).
    pub fn watch_all(paths: &[std::path::PathBuf]) -> SyncWaker {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let wake = tx.clone();
        let list: Vec<(&Path, RecursiveMode)> = paths
            .iter()
            .map(|p| (p.as_path(), RecursiveMode::NonRecursive))
            .collect();
        let watcher = watch_paths(&list, move || {
            let _ = wake.try_send(());
        });
        SyncWaker {
            _watcher: watcher,
            rx,
            tx,
        }
    }

    /// Something another thread can use to wake the waiter at once.
    pub fn handle(&self) -> std::sync::mpsc::SyncSender<()> {
        self.tx.clone()
    }

    /// Wait until something changed or `max` passed.
    pub fn wait(&self, max: Duration) {
        let _ = self.rx.recv_timeout(max);
    }
}
