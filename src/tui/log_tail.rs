//! The cockpit's reading of run logs (I/O; used by the loop's [`ReleaseSource`]): tailing a log
//! into an output pane's ring while keeping a sparse index of resume points, reading older
//! lines back through that index, searching a whole log, and rendering it plainly for `$PAGER`.
//!
//! [`ReleaseSource`]: super::source::ReleaseSource

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use memchr::memrchr;

use super::output_pane::{MAX_MATCHES, Needle, OutputPane, PaneId, RingLine, SCREEN_LINE_CAP, visible_text};
use crate::runlog::{LineKind, LogParser};

/// A point where parsing may resume: byte `offset` of the file starts line `line`, the time
/// marker in force there being `t_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub offset: u64,
    pub line: u64,
    pub t_ms: u64,
}

/// Resume points every [`SparseIndex::every`] lines or so (and at least every
/// [`INDEX_BYTES`] bytes), at most [`INDEX_POINTS`] of them: when full, every other one is
/// dropped and the spacing doubles, so memory stays bounded whatever the log's size.
#[derive(Debug, Clone)]
pub struct SparseIndex {
    points: Vec<Checkpoint>,
    every: u64,
}

/// Lines between resume points, to start with.
pub const INDEX_LINES: u64 = 1024;
/// Bytes between resume points at most (a log of huge lines still seeks close).
pub const INDEX_BYTES: u64 = 1024 * 1024;
/// Bytes still to read beyond which a pane says it is reading the log, not following it.
pub const CATCH_UP_BYTES: u64 = 4 * 1024 * 1024;
/// Resume points kept at most per log.
pub const INDEX_POINTS: usize = 4096;

impl Default for SparseIndex {
    fn default() -> Self {
        SparseIndex {
            points: vec![Checkpoint::default()],
            every: INDEX_LINES,
        }
    }
}

impl SparseIndex {
    /// Offer a resume point (kept when far enough from the last one).
    pub fn offer(&mut self, cp: Checkpoint) {
        let last = *self.points.last().expect("never empty");
        if cp.line < last.line + self.every && cp.offset < last.offset + INDEX_BYTES {
            return;
        }
        self.points.push(cp);
        if self.points.len() > INDEX_POINTS {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.every *= 2;
        }
    }

    /// The last resume point at or before line `line`.
    pub fn before(&self, line: u64) -> Checkpoint {
        let i = self.points.partition_point(|c| c.line <= line);
        self.points[i.saturating_sub(1)]
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// One log tailed into one output pane.
#[derive(Debug)]
pub struct LogTail {
    pub pane: PaneId,
    /// Relative to the release folder (as the journal names it).
    pub rel: String,
    pub path: PathBuf,
    file: Option<File>,
    offset: u64,
    parser: LogParser,
    flushed: bool,
    /// Lines taken in so far.
    pub lines: u64,
    pub index: SparseIndex,
    /// The file's length at the last read.
    len: u64,
}

impl LogTail {
    pub fn new(pane: PaneId, rel: &str, path: PathBuf) -> LogTail {
        LogTail {
            pane,
            rel: rel.to_string(),
            path,
            file: None,
            offset: 0,
            parser: LogParser::new(SCREEN_LINE_CAP),
            flushed: false,
            lines: 0,
            index: SparseIndex::default(),
            len: 0,
        }
    }

    /// How far a first read of a big log has got (percent), while it is still far from the end:
    /// the pane then says so instead of claiming to follow the end.
    pub fn catching_up(&self) -> Option<u8> {
        (self.len > self.offset + CATCH_UP_BYTES).then(|| (self.offset * 100 / self.len.max(1)) as u8)
    }

    /// Read at most about `budget` new bytes into `pane`; `finished`: the run has ended (its
    /// unterminated last line is shown). Returns the lines taken and whether more is waiting.
    pub fn read(
        &mut self,
        buf: &mut [u8],
        budget: usize,
        finished: bool,
        pane: &mut OutputPane,
    ) -> io::Result<(u64, bool)> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, false)),
                Err(e) => return Err(e),
            }
        }
        let file = self.file.as_mut().expect("opened above");
        self.len = file.metadata()?.len();
        file.seek(SeekFrom::Start(self.offset))?;
        let before = self.lines;
        let mut read = 0;
        let mut more = false;
        let lines = &mut self.lines;
        loop {
            let n = file.read(buf)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            // Up to the chunk's last record end, then a resume point if the parser is clean.
            let (head, tail) = match memrchr(b'\n', chunk) {
                Some(i) => chunk.split_at(i + 1),
                None => (&chunk[..0], chunk),
            };
            self.parser.feed_with(head, |l| {
                pane.push(l);
                *lines += 1;
            });
            if !head.is_empty()
                && let Some(t_ms) = self.parser.resume_point()
            {
                self.index.offer(Checkpoint {
                    offset: self.offset + head.len() as u64,
                    line: *lines,
                    t_ms,
                });
            }
            self.parser.feed_with(tail, |l| {
                pane.push(l);
                *lines += 1;
            });
            self.offset += n as u64;
            read += n;
            if read >= budget {
                more = true;
                break;
            }
        }
        if finished && !more && !self.flushed {
            self.flushed = true;
            self.parser.finish_with(|l| {
                pane.push(l);
                *lines += 1;
            });
        }
        Ok((self.lines - before, more))
    }
}

/// Parse `path` from resume point `cp`, calling `f(line number, line)` until `f` says stop or
/// the file ends (an unterminated last line is left out unless `finish`).
fn visit_from(
    path: &Path,
    cp: Checkpoint,
    finish: bool,
    cancel: Option<&AtomicBool>,
    mut f: impl FnMut(u64, crate::runlog::LogLineRef<'_>) -> bool,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(cp.offset))?;
    let mut parser = LogParser::new(SCREEN_LINE_CAP);
    parser.feed_with(format!("@{}\n", cp.t_ms).as_bytes(), |_| {});
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_line = cp.line;
    let mut go = true;
    while go {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        parser.feed_with(&buf[..n], |l| {
            if go {
                go = f(n_line, l);
                n_line += 1;
            }
        });
    }
    if go && finish {
        parser.finish_with(|l| {
            if go {
                go = f(n_line, l);
                n_line += 1;
            }
        });
    }
    Ok(())
}

/// Lines `first..first + count` of the log (fewer at its end), parsed from resume point `cp`.
pub fn read_lines(path: &Path, cp: Checkpoint, first: u64, count: u64) -> io::Result<Vec<RingLine>> {
    let end = first + count;
    let mut out = Vec::with_capacity(count.min(4096) as usize);
    visit_from(path, cp, false, None, |n, l| {
        if n >= first {
            out.push(RingLine::of(l));
        }
        n + 1 < end
    })?;
    Ok(out)
}

/// Lines searched between two reports of progress.
pub const SEARCH_BATCH: u64 = 250_000;

/// The numbers of the lines among the log's first `upto` whose visible text (escapes applied,
/// binary lines left out) contains `term`, reported as it goes: `progress(matches, searched)`
/// every [`SEARCH_BATCH`] lines with the matches since the last report. Returns the last
/// matches and whether more than [`MAX_MATCHES`] matched in all (the rest are not kept).
pub fn search_log(
    path: &Path,
    term: &str,
    upto: u64,
    cancel: &AtomicBool,
    mut progress: impl FnMut(Vec<u64>, u64),
) -> io::Result<(Vec<u64>, bool)> {
    let needle = Needle::new(term);
    let finder = needle.finder();
    let mut scratch = Vec::new();
    let mut found = Vec::new();
    let mut total = 0;
    let mut capped = false;
    if upto == 0 {
        return Ok((found, capped));
    }
    visit_from(path, Checkpoint::default(), true, Some(cancel), |n, l| {
        if let Some(text) = visible_text(l.text)
            && needle.is_match(&finder, &text, &mut scratch)
        {
            if total >= MAX_MATCHES {
                capped = true;
                return false;
            }
            found.push(n);
            total += 1;
        }
        if (n + 1) % SEARCH_BATCH == 0 && n + 1 < upto {
            progress(std::mem::take(&mut found), n + 1);
        }
        n + 1 < upto
    })?;
    Ok((found, capped))
}

/// The whole log as a person reads it in a pager: each line's text with its colours (every
/// other escape dropped by [`crate::ansi`]), stderr lines marked `▌`, flightdeck's annotations
/// dim, binary lines as a notice, cut lines marked.
pub fn write_plain(path: &Path, out: &mut impl Write) -> io::Result<()> {
    let mut err = None;
    let mut line = Vec::new();
    crate::runlog::visit_log(path, crate::runlog::LOG_LINE_CAP, |l| {
        if err.is_some() {
            return;
        }
        line.clear();
        match l.kind {
            LineKind::Stderr => line.extend_from_slice("▌".as_bytes()),
            LineKind::Note => line.extend_from_slice(b"\x1b[2m"),
            LineKind::Stdout => {}
        }
        if crate::ansi::is_probably_binary(l.text) {
            line.extend_from_slice(format!("(binary output, {} bytes, not shown)", l.text.len()).as_bytes());
        } else {
            crate::ansi::sanitize_line(l.text, l.kind != LineKind::Note, &mut line);
        }
        if l.kind == LineKind::Note {
            line.extend_from_slice(b"\x1b[0m");
        }
        if l.truncated {
            line.extend_from_slice(b" [cut]");
        }
        line.push(b'\n');
        if let Err(e) = out.write_all(&line) {
            err = Some(e);
        }
    })?;
    err.map_or(Ok(()), Err)
}

/// Render `path` plainly into an unlinked temporary file, ready to be a pager's standard input.
pub fn plain_temp_file(path: &Path) -> io::Result<File> {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    let name = std::env::temp_dir().join(format!(
        "flightdeck-pager-{}-{}.txt",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&name)?;
    // Gone from the folder at once: nothing is left behind whatever happens next.
    let _ = std::fs::remove_file(&name);
    let mut w = io::BufWriter::new(file);
    write_plain(path, &mut w)?;
    let mut file = w.into_inner().map_err(|e| e.into_error())?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Run `$PAGER` (default `less -R`) through `sh -c` on standard input `input`, waiting for it.
pub fn run_pager(input: File) -> io::Result<std::process::ExitStatus> {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -R".to_string());
    std::process::Command::new("sh")
        .arg("-c")
        .arg(&pager)
        .stdin(input)
        .status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_stays_sparse_and_bounded() {
        let mut ix = SparseIndex::default();
        for line in (0..10_000_000u64).step_by(100) {
            ix.offer(Checkpoint {
                offset: line * 10,
                line,
                t_ms: 0,
            });
        }
        assert!(ix.len() <= INDEX_POINTS, "{}", ix.len());
        assert!(ix.len() > INDEX_POINTS / 4, "{}", ix.len());
        let cp = ix.before(5_000_000);
        assert!(cp.line <= 5_000_000 && 5_000_000 - cp.line < 10_000, "{cp:?}");
        assert_eq!(ix.before(0), Checkpoint::default());
    }

    #[test]
    fn resume_points_give_the_same_lines_as_a_parse_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut bytes = Vec::new();
        for i in 0..40_000u64 {
            if i % 37 == 0 {
                bytes.extend_from_slice(format!("@{i}\n").as_bytes());
            }
            match i % 11 {
                // A line in fragments, interleaved with the other stream.
                3 => bytes.extend_from_slice(format!("O frag\ne err {i}\no ment {i}\n").as_bytes()),
                _ => bytes
                    .extend_from_slice(format!("o line {i} {}\n", "x".repeat((i % 50) as usize)).as_bytes()),
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut all = Vec::new();
        crate::runlog::visit_log(&path, SCREEN_LINE_CAP, |l| all.push(RingLine::of(l))).unwrap();
        let mut tail = LogTail::new(0, "x.log", path.clone());
        let mut pane = OutputPane::default();
        let mut buf = vec![0u8; 64 * 1024];
        while tail.read(&mut buf, 100_000, false, &mut pane).unwrap().1 {}
        assert_eq!(pane.total, all.len() as u64);
        assert!(tail.index.len() > 5, "{} resume points", tail.index.len());
        for first in [0, 1, 999, 12_345, 30_000, all.len() as u64 - 10] {
            let cp = tail.index.before(first);
            assert!(first - cp.line < 10_000, "{cp:?} for {first}");
            let got = read_lines(&path, cp, first, 20).unwrap();
            let end = (first as usize + 20).min(all.len());
            assert_eq!(got, all[first as usize..end], "from line {first} via {cp:?}");
        }
    }
}
