//! Reading a run log: [`LogParser`] (incremental, for observers tailing the file), [`read_log`]
//! and [`visit_log`].

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memchr::{memchr, memchr_iter};

use super::LOG_LINE_CAP;

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// What produced a logical line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
    /// An annotation written by flightdeck (`# ...` record).
    Note,
}

/// One logical line of a run log (fragments joined), owning its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the run started when the line's first bytes were written.
    pub t_ms: u64,
    /// Stream or annotation.
    pub kind: LineKind,
    /// The raw bytes (masked, but otherwise as the child printed them: escapes, `\r`, invalid
    /// UTF-8); no trailing newline.
    pub text: Vec<u8>,
    /// The line was longer than the parser's `max_line` and was cut there.
    pub truncated: bool,
}

/// One logical line borrowed from the parser's input or buffers (see [`LogParser::feed_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLineRef<'a> {
    /// Milliseconds since the run started when the line's first bytes were written.
    pub t_ms: u64,
    /// Stream or annotation.
    pub kind: LineKind,
    /// The raw bytes, no trailing newline.
    pub text: &'a [u8],
    /// The line was longer than the parser's `max_line` and was cut there.
    pub truncated: bool,
}

impl LogLineRef<'_> {
    /// Copies the line.
    pub fn into_owned(self) -> LogLine {
        LogLine {
            t_ms: self.t_ms,
            kind: self.kind,
            text: self.text.to_vec(),
            truncated: self.truncated,
        }
    }
}

/// A line of one stream being assembled from fragments.
#[derive(Default)]
pub(super) struct Joiner {
    active: bool,
    /// Order in which joiners became active (for `finish`).
    order: u64,
    t_ms: u64,
    pub(super) text: Vec<u8>,
    truncated: bool,
}

impl Joiner {
    fn append(&mut self, payload: &[u8], max_line: usize) {
        let room = max_line - self.text.len();
        if payload.len() > room {
            self.text.extend_from_slice(&payload[..room]);
            self.truncated = true;
        } else {
            self.text.extend_from_slice(payload);
        }
    }

    fn reset(&mut self) {
        self.active = false;
        self.truncated = false;
        self.text.clear();
        // Do not keep a huge allocation around after one huge line.
        if self.text.capacity() > 4 * LOG_LINE_CAP {
            self.text = Vec::new();
        }
    }
}

/// Incremental parser of the log format for observers tailing the file.
///
/// Feed it whatever bytes were appended (record boundaries may fall anywhere); it returns
/// complete logical lines: fragments joined per stream, annotations as [`LineKind::Note`]. A
/// logical line longer than `max_line` is cut there and flagged `truncated`, the rest of it
/// skipped, so memory stays bounded (about `3 × max_line`) whatever the file holds. Unknown or
/// malformed records are skipped.
pub struct LogParser {
    max_line: usize,
    t_ms: u64,
    /// An unterminated record carried over from the previous feed (at most `max_line` bytes of
    /// payload are kept).
    pub(super) partial: Vec<u8>,
    partial_cut: bool,
    pub(super) joiners: [Joiner; 2],
    started: u64,
}

impl fmt::Debug for LogParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogParser")
            .field("max_line", &self.max_line)
            .field("t_ms", &self.t_ms)
            .finish()
    }
}

impl LogParser {
    /// A parser that cuts logical lines at `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LogParser {
            max_line,
            t_ms: 0,
            partial: Vec::new(),
            partial_cut: false,
            joiners: [Joiner::default(), Joiner::default()],
            started: 0,
        }
    }

    /// Parses appended bytes, pushing each completed logical line to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<LogLine>) {
        self.feed_with(bytes, |line| out.push(line.into_owned()));
    }

    /// Parses appended bytes, calling `f` for each completed logical line. The line borrows from
    /// `bytes` or the parser's buffers: nothing is allocated per line.
    pub fn feed_with<F: FnMut(LogLineRef<'_>)>(&mut self, bytes: &[u8], mut f: F) {
        let mut rest = bytes;
        if !self.partial.is_empty() {
            let Some(nl) = memchr(b'\n', rest) else {
                self.keep_partial(rest);
                return;
            };
            self.keep_partial(&rest[..nl]);
            let record = std::mem::take(&mut self.partial);
            let cut = std::mem::replace(&mut self.partial_cut, false);
            self.record(&record, cut, &mut f);
            self.partial = record;
            self.partial.clear();
            rest = &rest[nl + 1..];
        }
        let mut start = 0;
        for nl in memchr_iter(b'\n', rest) {
            self.record(&rest[start..nl], false, &mut f);
            start = nl + 1;
        }
        self.keep_partial(&rest[start..]);
    }

    /// At the end of a file whose writer is finished: a final unterminated record is taken as
    /// complete and unfinished fragments are emitted as lines (in the order they started).
    pub fn finish(&mut self, out: &mut Vec<LogLine>) {
        self.finish_with(|line| out.push(line.into_owned()));
    }

    /// [`LogParser::finish`] with a callback, like [`LogParser::feed_with`].
    pub fn finish_with<F: FnMut(LogLineRef<'_>)>(&mut self, mut f: F) {
        if !self.partial.is_empty() {
            let record = std::mem::take(&mut self.partial);
            let cut = std::mem::replace(&mut self.partial_cut, false);
            self.record(&record, cut, &mut f);
        }
        let mut open: Vec<usize> = (0..2).filter(|&i| self.joiners[i].active).collect();
        open.sort_by_key(|&i| self.joiners[i].order);
        for i in open {
            let kind = if i == 0 {
                LineKind::Stdout
            } else {
                LineKind::Stderr
            };
            let j = &mut self.joiners[i];
            f(LogLineRef {
                t_ms: j.t_ms,
                kind,
                text: &j.text,
                truncated: j.truncated,
            });
            j.reset();
        }
    }

    /// `Some(t_ms)` when the parser holds nothing between records (no unterminated record, no
    /// line being joined from fragments): parsing may restart at the current file offset with a
    /// fresh parser first fed `@<t_ms>\n`, and it yields the same lines as this one would. Tails
    /// keep such points as a sparse index, so reading old lines back seeks instead of re-parsing.
    pub fn resume_point(&self) -> Option<u64> {
        (self.partial.is_empty() && self.joiners.iter().all(|j| !j.active)).then_some(self.t_ms)
    }

    fn keep_partial(&mut self, bytes: &[u8]) {
        // Tag, space and up to 20 digits of a marker always fit.
        let limit = self.max_line.saturating_add(24);
        let room = limit.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.partial.extend_from_slice(&bytes[..room]);
            self.partial_cut = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// One record (without its `\n`); `cut`: its payload was cut while buffering.
    #[inline]
    fn record<F: FnMut(LogLineRef<'_>)>(&mut self, record: &[u8], cut: bool, f: &mut F) {
        let Some((&tag, after)) = record.split_first() else {
            return;
        };
        if tag == b'@' {
            if let Some(ms) = parse_decimal(after) {
                self.t_ms = ms;
            }
            return;
        }
        let payload = match after.split_first() {
            None => after,
            Some((b' ', payload)) => payload,
            Some(_) => return,
        };
        match tag {
            b'o' => self.complete(0, LineKind::Stdout, payload, cut, f),
            b'e' => self.complete(1, LineKind::Stderr, payload, cut, f),
            b'O' => self.fragment(0, payload, cut),
            b'E' => self.fragment(1, payload, cut),
            b'#' => {
                let (text, over) = cap(payload, self.max_line);
                f(LogLineRef {
                    t_ms: self.t_ms,
                    kind: LineKind::Note,
                    text,
                    truncated: over || cut,
                });
            }
            _ => {}
        }
    }

    #[inline]
    fn complete<F: FnMut(LogLineRef<'_>)>(
        &mut self,
        i: usize,
        kind: LineKind,
        payload: &[u8],
        cut: bool,
        f: &mut F,
    ) {
        let j = &mut self.joiners[i];
        if j.active {
            j.append(payload, self.max_line);
            j.truncated |= cut;
            f(LogLineRef {
                t_ms: j.t_ms,
                kind,
                text: &j.text,
                truncated: j.truncated,
            });
            j.reset();
        } else {
            let (text, over) = cap(payload, self.max_line);
            f(LogLineRef {
                t_ms: self.t_ms,
                kind,
                text,
                truncated: over || cut,
            });
        }
    }

    fn fragment(&mut self, i: usize, payload: &[u8], cut: bool) {
        let j = &mut self.joiners[i];
        if !j.active {
            j.active = true;
            j.t_ms = self.t_ms;
            self.started += 1;
            j.order = self.started;
        }
        j.append(payload, self.max_line);
        j.truncated |= cut;
    }
}

#[inline]
fn cap(payload: &[u8], max: usize) -> (&[u8], bool) {
    if payload.len() > max {
        (&payload[..max], true)
    } else {
        (payload, false)
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// Streams a whole log file through a parser, calling `f` for each logical line (cut at
/// `max_line`). Reads in 256 KiB chunks; allocates nothing per line.
pub fn visit_log<F: FnMut(LogLineRef<'_>)>(path: &Path, max_line: usize, mut f: F) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut parser = LogParser::new(max_line);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        parser.feed_with(&buf[..n], &mut f);
    }
    parser.finish_with(f);
    Ok(())
}

/// Parses a whole log file into lines, none cut (memory grows with the file: for big or live
/// files use [`LogParser`] or [`visit_log`] with a `max_line`).
pub fn read_log(path: &Path) -> io::Result<Vec<LogLine>> {
    let mut lines = Vec::new();
    visit_log(path, usize::MAX, |line| lines.push(line.into_owned()))?;
    Ok(lines)
}
