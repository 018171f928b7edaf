//! Child output → run log file, with secret masking and bounded line splitting.
//!
//! Child output is hostile: it can be endless, binary, one gigantic line, a progress bar that
//! never prints a newline, or a secret the release needs. This module reads each child stream in
//! fixed 64 KiB chunks, splits lines itself (with a length cap), masks secret values and writes
//! one log file per run holding stdout and stderr interleaved as received.
//!
//! # Log format
//!
//! A sequence of records, each terminated by `\n`:
//!
//! | record       | meaning                                                                       |
//! |--------------|-------------------------------------------------------------------------------|
//! | `@<ms>`      | time marker: milliseconds since the run started, written before a record whenever the value differs from the last marker written (a burst of lines shares one marker) |
//! | `o <bytes>`  | one complete stdout line (any bytes except `\n`: `\r`, escapes, invalid UTF-8) |
//! | `e <bytes>`  | one complete stderr line                                                      |
//! | `O <bytes>`  | a fragment of a stdout line that is not finished yet; the line continues with the next `O`/`o` record |
//! | `E <bytes>`  | the same for stderr                                                           |
//! | `# <text>`   | an annotation written by flightdeck itself (`# $ ./deploy.sh`, `# exit 1 after 2.1s`) |
//!
//! Fragments are written when a partial line has waited [`IDLE_FLUSH`] without its newline (so a
//! prompt or a progress bar is on disk quickly) or when it reaches [`LOG_LINE_CAP`] (memory per
//! stream stays bounded and nothing is dropped). A stream that ends without a final newline gets
//! its remainder written as a complete record.
//!
//! Writing: [`pump`] (one per stream) into a shared [`LogWriter`]. Reading: [`LogParser`]
//! (incremental, for observers tailing the file) and [`read_log`] / [`visit_log`].

use std::borrow::Cow;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

pub use crate::mask::Masker;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use memchr::{memchr, memchr_iter, memrchr};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest payload of one run-log record on disk (the screen has its own, smaller
/// `tui::output_pane::SCREEN_LINE_CAP`). A line longer than this is written as fragments of at most
/// this many bytes followed by a complete record; a partial line reaching it is flushed.
pub const LOG_LINE_CAP: usize = 64 * 1024;

/// How long a partial line (no newline yet) may wait in memory before it is written as a fragment.
pub const IDLE_FLUSH: Duration = Duration::from_millis(50);

/// Size of one read from a child stream.
const CHUNK: usize = 64 * 1024;

/// Which output stream of a child process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// Record tags: (complete line, fragment).
    fn tags(self) -> (u8, u8) {
        match self {
            Stream::Stdout => (b'o', b'O'),
            Stream::Stderr => (b'e', b'E'),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Where the writer's milliseconds come from.
enum Clock {
    /// Real time since the run started.
    Since(Instant),
    /// A value set by the test.
    #[cfg(test)]
    Manual(Arc<std::sync::atomic::AtomicU64>),
}

/// The log file of one run.
///
/// Shared by the two stream pumps of the run (wrap it in `Arc<std::sync::Mutex<_>>`; a lock is
/// held only while a batch is written, never across an `.await`). Each batch, the records of one
/// read, goes to the file with a single `write_all`, preceded by a time marker when the
/// millisecond value changed. The file is opened for appending and not synced: observers read it
/// from the page cache.
pub struct LogWriter {
    file: File,
    clock: Clock,
    last_ms: Option<u64>,
    /// The previous write failed part way (or the file ended mid-record): start with `\n` so the
    /// torn record cannot swallow the next one.
    torn: bool,
    buf: Vec<u8>,
    masker: Option<Arc<Masker>>,
    /// Where the log is (for [`LogWriter::failure`]).
    path: std::path::PathBuf,
    /// The first write that failed: `no space left on device` (no `(os error 28)`).
    failure: Option<String>,
    /// [`LogWriter::take_failure`] has given it.
    failure_told: bool,
}

/// An I/O error in words, without the `(os error N)` suffix: `no space left on device`.
pub fn io_error_text(e: &io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !text.starts_with("I/O") => first.to_lowercase().chain(chars).collect(),
        _ => text,
    }
}

impl fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogWriter")
            .field("file", &self.file)
            .field("last_ms", &self.last_ms)
            .finish()
    }
}

impl LogWriter {
    /// Opens (creating it if needed) the log file at `path` for appending; time markers count
    /// milliseconds since `start`. If the file exists and ends in the middle of a record, the
    /// next write first terminates that record.
    pub fn create(path: &Path, start: Instant) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        let len = file.metadata()?.len();
        let torn = if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            last[0] != b'\n'
        } else {
            false
        };
        Ok(LogWriter {
            file,
            clock: Clock::Since(start),
            last_ms: None,
            torn,
            buf: Vec::new(),
            masker: None,
            path: path.to_path_buf(),
            failure: None,
            failure_told: false,
        })
    }

    /// Masks annotations with `masker` from now on (a command line can contain an interpolated
    /// secret). Child output is masked by [`pump`] itself.
    #[must_use]
    pub fn with_masker(mut self, masker: Arc<Masker>) -> Self {
        self.masker = Some(masker);
        self
    }

    /// The first write error, as `no space left on device writing LOG`: the log is missing
    /// output from there on.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .as_ref()
            .map(|e| format!("{e} writing {}", self.path.display()))
    }

    /// [`LogWriter::failure`], once: later calls answer `None` (one note per log).
    pub fn take_failure(&mut self) -> Option<String> {
        if self.failure_told {
            return None;
        }
        let failure = self.failure();
        self.failure_told = failure.is_some();
        failure
    }

    /// Milliseconds since the run started.
    pub fn elapsed_ms(&self) -> u64 {
        match &self.clock {
            Clock::Since(start) => {
                u64::try_from(Instant::now().saturating_duration_since(*start).as_millis())
                    .unwrap_or(u64::MAX)
            }
            #[cfg(test)]
            Clock::Manual(ms) => ms.load(std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Writes an annotation record `# <text>` (one record per line of `text`), masked if the
    /// writer has a masker.
    pub fn annotate(&mut self, text: &str) -> io::Result<()> {
        let text = match &self.masker {
            Some(m) => m.mask_str(text),
            None => Cow::Borrowed(text),
        };
        let mut records = Vec::with_capacity(text.len() + 3);
        for line in text.split('\n') {
            records.extend_from_slice(b"# ");
            records.extend_from_slice(line.as_bytes());
            records.push(b'\n');
        }
        self.write_records(&records)
    }

    /// Writes already framed records (complete, `\n`-terminated) as one batch.
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        let ms = self.elapsed_ms();
        self.write_records_at(ms, records)
    }

    fn write_records_at(&mut self, ms: u64, records: &[u8]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        if self.torn {
            self.buf.push(b'\n');
        }
        if self.last_ms != Some(ms) {
            self.buf.push(b'@');
            push_decimal(&mut self.buf, ms);
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(records);
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.torn = false;
                self.last_ms = Some(ms);
                Ok(())
            }
            Err(e) => {
                // How much reached the file is unknown: terminate whatever is there next time
                // and repeat the marker.
                self.torn = true;
                self.last_ms = None;
                if self.failure.is_none() {
                    self.failure = Some(io_error_text(&e));
                }
                Err(e)
            }
        }
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends one record `<tag> <payload>\n`.
#[inline]
fn push_record(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.extend_from_slice(&[tag, b' ']);
    out.extend_from_slice(payload);
    out.push(b'\n');
}

/// Turns the bytes of one stream into records (no I/O, no clock: [`pump`] drives it).
struct Framer<'m> {
    line_tag: u8,
    fragment_tag: u8,
    masker: &'m Masker,
    /// The unfinished line (raw, unmasked), shorter than [`LOG_LINE_CAP`] plus a held-back secret
    /// prefix.
    pending: Vec<u8>,
    /// A fragment of the current line has been written, so the line must be completed by a
    /// complete record even if nothing else arrives.
    fragment_open: bool,
    /// Records of the current batch.
    records: Vec<u8>,
    scratch: Vec<u8>,
}

impl<'m> Framer<'m> {
    fn new(stream: Stream, masker: &'m Masker) -> Self {
        let (line_tag, fragment_tag) = stream.tags();
        Framer {
            line_tag,
            fragment_tag,
            masker,
            pending: Vec::new(),
            fragment_open: false,
            records: Vec::with_capacity(CHUNK * 3 / 2),
            scratch: Vec::new(),
        }
    }

    /// Frames the bytes of one read. Returns true when the unfinished line (if any) started in
    /// this read, i.e. its idle time starts now.
    fn push(&mut self, data: &[u8]) -> bool {
        let Some(last_nl) = memrchr(b'\n', data) else {
            self.pending.extend_from_slice(data);
            if self.pending.len() >= LOG_LINE_CAP {
                self.flush_partial();
            }
            return false;
        };
        let mut from = 0;
        if !self.pending.is_empty() {
            // The first line started in an earlier read.
            let first_nl = memchr(b'\n', data).unwrap_or(last_nl);
            self.pending.extend_from_slice(&data[..first_nl]);
            let line = std::mem::take(&mut self.pending);
            self.complete_line(&line);
            self.pending = line;
            self.pending.clear();
            from = first_nl + 1;
        }
        if from <= last_nl {
            let region = &data[from..=last_nl];
            match self.masker.mask(region) {
                Cow::Borrowed(r) => self.frame_lines(r),
                Cow::Owned(r) => self.frame_lines(&r),
            }
        }
        self.pending.extend_from_slice(&data[last_nl + 1..]);
        if self.pending.len() >= LOG_LINE_CAP {
            self.flush_partial();
        }
        true
    }

    /// Frames every `\n`-terminated line of `region` (already masked) as a complete record.
    fn frame_lines(&mut self, region: &[u8]) {
        self.records.reserve(region.len() * 3);
        let mut start = 0;
        for nl in memchr_iter(b'\n', region) {
            let line = &region[start..nl];
            if line.len() <= LOG_LINE_CAP {
                push_record(&mut self.records, self.line_tag, line);
            } else {
                self.frame_long_line(line);
            }
            start = nl + 1;
        }
        self.fragment_open = false;
    }

    /// A complete line given raw: masked, then framed.
    fn complete_line(&mut self, raw: &[u8]) {
        let masked = self.masker.mask(raw);
        self.frame_long_line(&masked);
    }

    /// A complete (masked) line of any length: fragments of [`LOG_LINE_CAP`], then the final record.
    fn frame_long_line(&mut self, line: &[u8]) {
        let mut rest = line;
        while rest.len() > LOG_LINE_CAP {
            push_record(&mut self.records, self.fragment_tag, &rest[..LOG_LINE_CAP]);
            rest = &rest[LOG_LINE_CAP..];
        }
        push_record(&mut self.records, self.line_tag, rest);
        self.fragment_open = false;
    }

    /// Writes what is safe of the unfinished line as fragment records (idle or line cap).
    fn flush_partial(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let cut = if self.masker.is_empty() {
            for piece in self.pending.chunks(LOG_LINE_CAP) {
                push_record(&mut self.records, self.fragment_tag, piece);
            }
            self.pending.len()
        } else {
            self.scratch.clear();
            let cut = self.masker.mask_partial(&self.pending, &mut self.scratch);
            if cut == 0 {
                return;
            }
            for piece in self.scratch.chunks(LOG_LINE_CAP) {
                push_record(&mut self.records, self.fragment_tag, piece);
            }
            cut
        };
        self.pending.drain(..cut);
        self.fragment_open = true;
    }

    /// End of the stream: the remainder becomes a complete record.
    fn finish(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.complete_line(&line);
        } else if self.fragment_open {
            push_record(&mut self.records, self.line_tag, b"");
            self.fragment_open = false;
        }
    }
}

fn write_batch(log: &Mutex<LogWriter>, records: &mut Vec<u8>) -> io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let result = log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .write_records(records);
    records.clear();
    result
}

/// Reads one child stream to its end and writes it to the run log. Returns the bytes read.
///
/// Reads in chunks of 64 KiB (never a syscall per line, never an unbounded buffer), splits lines
/// with `memchr`, masks, frames records and writes each read's records as one batch. An
/// unfinished line is written as a fragment after [`IDLE_FLUSH`] without progress or on reaching
/// [`LOG_LINE_CAP`]. Needs a Tokio runtime with the time driver enabled.
///
/// On a read error what was received is written (the partial line as a complete record) and the
/// error is returned. On a write error (a full disk, EIO, a quota) the rest of the stream is still
/// read, and discarded, so that the child is not killed by SIGPIPE and its exit status keeps its
/// meaning; the first write error is returned at the end (and kept by [`LogWriter::failure`]).
pub async fn pump<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: Stream,
    log: Arc<Mutex<LogWriter>>,
    masker: Arc<Masker>,
) -> io::Result<u64> {
    let mut framer = Framer::new(stream, &masker);
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    // Since when the unfinished line (if any) has been waiting for its newline.
    let mut waiting_since: Option<tokio::time::Instant> = None;
    // One timer for the whole stream, re-armed lazily: while output flows, a read only notes the
    // time; the timer wakes at most once per IDLE_FLUSH to check whether the line really idled.
    let mut idle = std::pin::pin!(tokio::time::sleep(IDLE_FLUSH));
    let mut idle_armed = false;
    loop {
        let read = tokio::select! {
            biased;
            read = reader.read(&mut buf) => read,
            () = &mut idle, if idle_armed => {
                // `read` is cancel safe: nothing was consumed.
                idle_armed = false;
                if let Some(since) = waiting_since {
                    let due = since + IDLE_FLUSH;
                    if tokio::time::Instant::now() >= due {
                        waiting_since = None;
                        framer.flush_partial();
                        if let Err(e) = write_batch(&log, &mut framer.records) {
                            return drain(reader, buf, e).await;
                        }
                    } else {
                        idle.as_mut().reset(due);
                        idle_armed = true;
                    }
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                framer.finish();
                // The read error is the one to report.
                let _ = write_batch(&log, &mut framer.records);
                return Err(e);
            }
        };
        total += n as u64;
        let restarted = framer.push(&buf[..n]);
        if let Err(e) = write_batch(&log, &mut framer.records) {
            return drain(reader, buf, e).await;
        }
        if framer.pending.is_empty() {
            waiting_since = None;
        } else if restarted || waiting_since.is_none() {
            let now = tokio::time::Instant::now();
            waiting_since = Some(now);
            if !idle_armed {
                idle.as_mut().reset(now + IDLE_FLUSH);
                idle_armed = true;
            }
        }
    }
    framer.finish();
    write_batch(&log, &mut framer.records)?;
    Ok(total)
}

/// After a write error: read the rest of the stream and discard it (the writer keeps running
/// and exits as it would have), then report the write error.
async fn drain<R: AsyncRead + Unpin>(mut reader: R, mut buf: Vec<u8>, error: io::Error) -> io::Result<u64> {
    loop {
        match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    Err(error)
}

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
struct Joiner {
    active: bool,
    /// Order in which joiners became active (for `finish`).
    order: u64,
    t_ms: u64,
    text: Vec<u8>,
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
    partial: Vec<u8>,
    partial_cut: bool,
    joiners: [Joiner; 2],
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::task::{Context, Poll};

    use tokio::io::{AsyncWriteExt, ReadBuf};

    use super::*;

    /// An `AsyncRead` that returns the given chunks, one per read.
    struct ChunkReader(VecDeque<Vec<u8>>);

    impl ChunkReader {
        fn new<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(chunks: I) -> Self {
            ChunkReader(chunks.into_iter().map(|c| c.as_ref().to_vec()).collect())
        }
    }

    impl AsyncRead for ChunkReader {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some(mut chunk) = self.0.pop_front() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(chunk.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// A writer whose clock reads 0 ms for the whole test.
    fn frozen(path: &Path) -> Arc<Mutex<LogWriter>> {
        let start = Instant::now() + Duration::from_secs(3600);
        Arc::new(Mutex::new(LogWriter::create(path, start).unwrap()))
    }

    fn manual(path: &Path) -> (Arc<Mutex<LogWriter>>, Arc<AtomicU64>) {
        let ms = Arc::new(AtomicU64::new(0));
        let mut w = LogWriter::create(path, Instant::now()).unwrap();
        w.clock = Clock::Manual(ms.clone());
        (Arc::new(Mutex::new(w)), ms)
    }

    fn secrets(values: &[&str]) -> Arc<Masker> {
        Arc::new(Masker::new(values.iter().map(|s| s.to_string())))
    }

    fn no_secrets() -> Arc<Masker> {
        Arc::new(Masker::default())
    }

    /// Pumps `chunks` as stdout into a fresh frozen-clock log and returns the file's bytes.
    async fn pumped<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(chunks: I, masker: Arc<Masker>) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        pump(ChunkReader::new(chunks), Stream::Stdout, log, masker)
            .await
            .unwrap();
        std::fs::read(&path).unwrap()
    }

    /// Waits (polling, bounded by a generous deadline) until the file satisfies `ok`.
    async fn wait_for(path: &Path, ok: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let content = std::fs::read(path).unwrap_or_default();
            if ok(&content) {
                return content;
            }
            assert!(
                Instant::now() < deadline,
                "timed out; file holds {:?}",
                String::from_utf8_lossy(&content)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn line(t_ms: u64, kind: LineKind, text: &[u8]) -> LogLine {
        LogLine {
            t_ms,
            kind,
            text: text.to_vec(),
            truncated: false,
        }
    }

    fn parse_all(bytes: &[u8], max_line: usize) -> Vec<LogLine> {
        let mut p = LogParser::new(max_line);
        let mut out = Vec::new();
        p.feed(bytes, &mut out);
        p.finish(&mut out);
        out
    }

    fn x(n: usize, b: u8) -> Vec<u8> {
        vec![b; n]
    }

    // --- framing ------------------------------------------------------------------------------

    #[tokio::test]
    async fn frames_mixed_streams_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        log.lock()
            .unwrap()
            .annotate("$ ./ops/deploy.sh eu-west 1.2.0")
            .unwrap();
        let m = no_secrets();
        pump(
            ChunkReader::new(["a\nb\n"]),
            Stream::Stdout,
            log.clone(),
            m.clone(),
        )
        .await
        .unwrap();
        pump(ChunkReader::new(["x\ny"]), Stream::Stderr, log.clone(), m.clone())
            .await
            .unwrap();
        let n = pump(ChunkReader::new(["c\n", "\n"]), Stream::Stdout, log.clone(), m)
            .await
            .unwrap();
        assert_eq!(n, 3);
        log.lock().unwrap().annotate("exit 1 after 2.1s").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"@0\n# $ ./ops/deploy.sh eu-west 1.2.0\no a\no b\ne x\ne y\no c\no \n# exit 1 after 2.1s\n"
        );
    }

    #[tokio::test]
    async fn concurrent_pumps_keep_records_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        let out: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("out {i}\n").into_bytes())
            .collect();
        let err: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("err {i}\n").into_bytes())
            .collect();
        let a = tokio::spawn(pump(
            ChunkReader::new(out.chunks(777)),
            Stream::Stdout,
            log.clone(),
            no_secrets(),
        ));
        let b = tokio::spawn(pump(
            ChunkReader::new(err.chunks(1000)),
            Stream::Stderr,
            log.clone(),
            no_secrets(),
        ));
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        let lines = read_log(&path).unwrap();
        let outs: Vec<_> = lines
            .iter()
            .filter(|l| l.kind == LineKind::Stdout)
            .map(|l| l.text.clone())
            .collect();
        let errs: Vec<_> = lines
            .iter()
            .filter(|l| l.kind == LineKind::Stderr)
            .map(|l| l.text.clone())
            .collect();
        assert_eq!(
            outs,
            (0..20_000)
                .map(|i| format!("out {i}").into_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            errs,
            (0..20_000)
                .map(|i| format!("err {i}").into_bytes())
                .collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn time_markers_only_when_the_millisecond_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let (log, ms) = manual(&path);
        let m = no_secrets();
        log.lock().unwrap().annotate("start").unwrap();
        pump(
            ChunkReader::new(["a\nb\n"]),
            Stream::Stdout,
            log.clone(),
            m.clone(),
        )
        .await
        .unwrap();
        ms.store(12, Ordering::SeqCst);
        pump(ChunkReader::new(["c\n"]), Stream::Stdout, log.clone(), m.clone())
            .await
            .unwrap();
        pump(ChunkReader::new(["d\n"]), Stream::Stderr, log.clone(), m.clone())
            .await
            .unwrap();
        ms.store(15, Ordering::SeqCst);
        log.lock().unwrap().annotate("done").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"@0\n# start\no a\no b\n@12\no c\ne d\n@15\n# done\n"
        );
    }

    #[tokio::test]
    async fn a_burst_in_one_read_shares_one_marker_with_the_real_clock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = Arc::new(Mutex::new(LogWriter::create(&path, Instant::now()).unwrap()));
        let burst: Vec<u8> = (0..5000).flat_map(|i| format!("{i}\n").into_bytes()).collect();
        pump(ChunkReader::new([&burst]), Stream::Stdout, log, no_secrets())
            .await
            .unwrap();
        let content = std::fs::read(&path).unwrap();
        let markers = content
            .split(|&b| b == b'\n')
            .filter(|r| r.first() == Some(&b'@'))
            .count();
        assert_eq!(markers, 1);
        assert_eq!(content.iter().filter(|&&b| b == b'\n').count(), 5001);
    }

    #[tokio::test]
    async fn partial_line_is_flushed_after_idle() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        let (mut child, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(pump(ours, Stream::Stdout, log, no_secrets()));
        child.write_all(b"done\nprogress 10%").await.unwrap();
        let written = Instant::now();
        let content = wait_for(&path, |c| c.ends_with(b"O progress 10%\n")).await;
        assert!(written.elapsed() >= IDLE_FLUSH, "flushed before the idle time");
        assert_eq!(content, b"@0\no done\nO progress 10%\n");
        child.write_all(b" 55%\n").await.unwrap();
        drop(child);
        task.await.unwrap().unwrap();
        let content = std::fs::read(&path).unwrap();
        assert_eq!(content, b"@0\no done\nO progress 10%\no  55%\n");
        let lines = parse_all(&content, LOG_LINE_CAP);
        assert_eq!(
            lines,
            [
                line(0, LineKind::Stdout, b"done"),
                line(0, LineKind::Stdout, b"progress 10% 55%")
            ]
        );
    }

    #[tokio::test]
    async fn stream_ending_after_a_fragment_completes_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        let (mut child, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(pump(ours, Stream::Stderr, log, no_secrets()));
        child.write_all(b"Password: ").await.unwrap();
        wait_for(&path, |c| c.ends_with(b"E Password: \n")).await;
        drop(child);
        assert_eq!(task.await.unwrap().unwrap(), 10);
        let content = std::fs::read(&path).unwrap();
        assert_eq!(content, b"@0\nE Password: \ne \n");
        assert_eq!(
            parse_all(&content, 100),
            [line(0, LineKind::Stderr, b"Password: ")]
        );
    }

    #[tokio::test]
    async fn line_cap_writes_fragments_and_drops_nothing() {
        // One read per 64 KiB: 150 000 bytes then the newline.
        let mut long = x(150_000, b'x');
        long.push(b'\n');
        let mut expected = b"@0\nO ".to_vec();
        expected.extend(x(LOG_LINE_CAP, b'x'));
        expected.extend(b"\nO ");
        expected.extend(x(LOG_LINE_CAP, b'x'));
        expected.extend(b"\no ");
        expected.extend(x(150_000 - 2 * LOG_LINE_CAP, b'x'));
        expected.push(b'\n');
        assert_eq!(pumped([&long], no_secrets()).await, expected);

        // A line that crosses the cap inside the read that completes it.
        let mut second = x(10_000, b'y');
        second.extend(b"\nok\n");
        let mut expected = b"@0\nO ".to_vec();
        expected.extend(x(60_000, b'x'));
        expected.extend(x(LOG_LINE_CAP - 60_000, b'y'));
        expected.extend(b"\no ");
        expected.extend(x(70_000 - LOG_LINE_CAP, b'y'));
        expected.extend(b"\no ok\n");
        assert_eq!(pumped([x(60_000, b'x'), second], no_secrets()).await, expected);

        // No newline at all: the cap flushes, the end of the stream completes.
        let mut expected = b"@0\nO ".to_vec();
        expected.extend(x(LOG_LINE_CAP, b'z'));
        expected.extend(b"\no ");
        expected.extend(x(70_000 - LOG_LINE_CAP, b'z'));
        expected.push(b'\n');
        let content = pumped([x(70_000, b'z')], no_secrets()).await;
        assert_eq!(content, expected);
        assert_eq!(
            parse_all(&content, usize::MAX),
            [line(0, LineKind::Stdout, &x(70_000, b'z'))]
        );
    }

    #[tokio::test]
    async fn remainder_without_trailing_newline_is_a_complete_record() {
        assert_eq!(pumped(["a\nb"], no_secrets()).await, b"@0\no a\no b\n");
        assert_eq!(pumped(["a", "b", "c"], no_secrets()).await, b"@0\no abc\n");
        assert_eq!(pumped(Vec::<Vec<u8>>::new(), no_secrets()).await, b"");
        assert_eq!(pumped(["\n"], no_secrets()).await, b"@0\no \n");
    }

    #[tokio::test]
    async fn bytes_are_kept_as_received() {
        let raw = b"\xff\xfe bad utf8 \r\x1b[31mred\x1b[0m \x00 \x1b]52;c;aGk=\x07\n";
        let content = pumped([&raw[..]], no_secrets()).await;
        let mut expected = b"@0\no ".to_vec();
        expected.extend_from_slice(&raw[..raw.len() - 1]);
        expected.push(b'\n');
        assert_eq!(content, expected);
        assert_eq!(
            parse_all(&content, LOG_LINE_CAP),
            [line(0, LineKind::Stdout, &raw[..raw.len() - 1])]
        );
    }

    // --- masking ------------------------------------------------------------------------------

    #[tokio::test]
    async fn masks_secrets_within_a_line() {
        let m = secrets(&["hunter2", "", "s3cr3t-token"]);
        assert_eq!(
            pumped(
                ["user=admin pw=hunter2 again hunter2\nAuthorization: s3cr3t-token\n"],
                m
            )
            .await,
            b"@0\no user=admin pw=*** again ***\no Authorization: ***\n"
        );
    }

    #[tokio::test]
    async fn masks_a_secret_split_across_reads() {
        let m = secrets(&["hunter2"]);
        assert_eq!(
            pumped(["pw=hun", "ter2\nnext hunt", "er2 end\n"], m.clone()).await,
            b"@0\no pw=***\no next *** end\n"
        );
        // Split right at the line cap: the secret prefix is held back from the fragment.
        let mut first = x(LOG_LINE_CAP - 3, b'a');
        first.extend(b"hun");
        let mut expected = b"@0\nO ".to_vec();
        expected.extend(x(LOG_LINE_CAP - 3, b'a'));
        expected.extend(b"\no ***!\n");
        assert_eq!(pumped([first, b"ter2!\n".to_vec()], m).await, expected);
    }

    #[tokio::test]
    async fn idle_flush_holds_back_a_possible_secret_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = frozen(&path);
        let (mut child, ours) = tokio::io::duplex(1024);
        let task = tokio::spawn(pump(ours, Stream::Stdout, log, secrets(&["hunter2"])));
        child.write_all(b"pw=hun").await.unwrap();
        assert_eq!(wait_for(&path, |c| !c.is_empty()).await, b"@0\nO pw=\n");
        child.write_all(b"ter2 ok\n").await.unwrap();
        drop(child);
        task.await.unwrap().unwrap();
        let content = std::fs::read(&path).unwrap();
        assert_eq!(content, b"@0\nO pw=\no *** ok\n");
        assert_eq!(
            parse_all(&content, 100),
            [line(0, LineKind::Stdout, b"pw=*** ok")]
        );
    }

    #[tokio::test]
    async fn masks_at_end_of_stream() {
        let m = secrets(&["hunter2"]);
        assert_eq!(pumped(["token hunter2"], m.clone()).await, b"@0\no token ***\n");
        assert_eq!(
            pumped(["token hun", "ter2"], m.clone()).await,
            b"@0\no token ***\n"
        );
        // Only a prefix: at the end of the stream it is just text.
        assert_eq!(pumped(["ends with hun"], m).await, b"@0\no ends with hun\n");
    }

    // --- writer -------------------------------------------------------------------------------

    #[test]
    fn annotations_are_split_per_line_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let start = Instant::now() + Duration::from_secs(3600);
        let mut w = LogWriter::create(&path, start)
            .unwrap()
            .with_masker(secrets(&["hunter2"]));
        w.annotate("$ deploy --token hunter2\nsecond line").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"@0\n# $ deploy --token ***\n# second line\n"
        );
    }

    #[test]
    fn reopening_a_torn_file_terminates_the_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        std::fs::write(&path, b"@3\no whole\no torn").unwrap();
        let start = Instant::now() + Duration::from_secs(3600);
        LogWriter::create(&path, start)
            .unwrap()
            .annotate("again")
            .unwrap();
        let content = std::fs::read(&path).unwrap();
        assert_eq!(content, b"@3\no whole\no torn\n@0\n# again\n");
        assert_eq!(
            parse_all(&content, 100),
            [
                line(3, LineKind::Stdout, b"whole"),
                line(3, LineKind::Stdout, b"torn"),
                line(0, LineKind::Note, b"again")
            ]
        );
    }

    #[tokio::test]
    async fn pumps_a_real_child() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.log");
        let log = Arc::new(Mutex::new(LogWriter::create(&path, Instant::now()).unwrap()));
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "seq 1 3000; printf 'no newline'"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let n = pump(child.stdout.take().unwrap(), Stream::Stdout, log, no_secrets())
            .await
            .unwrap();
        child.wait().await.unwrap();
        let lines = read_log(&path).unwrap();
        let mut expected: Vec<Vec<u8>> = (1..=3000).map(|i: u32| i.to_string().into_bytes()).collect();
        expected.push(b"no newline".to_vec());
        assert_eq!(lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>(), expected);
        assert_eq!(n, expected.iter().map(|l| l.len() as u64 + 1).sum::<u64>() - 1);
        let t: Vec<u64> = lines.iter().map(|l| l.t_ms).collect();
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test]
    async fn a_log_that_cannot_be_written_is_drained_and_named() {
        // /dev/full: every write fails with ENOSPC. The child must still run to its end (not die
        // of SIGPIPE), and the writer names the error and the file.
        let log = Arc::new(Mutex::new(
            LogWriter::create(Path::new("/dev/full"), Instant::now()).unwrap(),
        ));
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "seq 1 200000 || exit 7; exit 3"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let result = pump(
            child.stdout.take().unwrap(),
            Stream::Stdout,
            log.clone(),
            no_secrets(),
        )
        .await;
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3), "{status:?}");
        let e = result.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc_enospc()));
        assert_eq!(
            log.lock().unwrap().failure().as_deref(),
            Some("no space left on device writing /dev/full")
        );
    }

    fn libc_enospc() -> i32 {
        nix::errno::Errno::ENOSPC as i32
    }

    // --- parser -------------------------------------------------------------------------------

    const SAMPLE: &[u8] =
        b"@0\n# $ ./deploy.sh eu-west\no plain\nO frag-\ne err \xff\xfe\n@5\nO ment\nE part\n\
o  done\r\x1b[31mred\x1b[0m\n@7\ne ial\no \n# exit 1 after 2.1s\n";

    fn sample_lines() -> Vec<LogLine> {
        vec![
            line(0, LineKind::Note, b"$ ./deploy.sh eu-west"),
            line(0, LineKind::Stdout, b"plain"),
            line(0, LineKind::Stderr, b"err \xff\xfe"),
            line(0, LineKind::Stdout, b"frag-ment done\r\x1b[31mred\x1b[0m"),
            line(5, LineKind::Stderr, b"partial"),
            line(7, LineKind::Stdout, b""),
            line(7, LineKind::Note, b"exit 1 after 2.1s"),
        ]
    }

    #[test]
    fn parser_round_trip_at_every_split_point() {
        let expected = sample_lines();
        assert_eq!(parse_all(SAMPLE, 1000), expected);
        for i in 0..=SAMPLE.len() {
            let mut p = LogParser::new(1000);
            let mut out = Vec::new();
            p.feed(&SAMPLE[..i], &mut out);
            p.feed(&SAMPLE[i..], &mut out);
            p.finish(&mut out);
            assert_eq!(out, expected, "split at {i}");
        }
        for i in 0..=SAMPLE.len() {
            for j in i..=SAMPLE.len() {
                let mut p = LogParser::new(1000);
                let mut out = Vec::new();
                for piece in [&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]] {
                    p.feed(piece, &mut out);
                }
                p.finish(&mut out);
                assert_eq!(out, expected, "split at {i} and {j}");
            }
        }
        let mut p = LogParser::new(1000);
        let mut out = Vec::new();
        for b in SAMPLE {
            p.feed(std::slice::from_ref(b), &mut out);
        }
        p.finish(&mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn parser_emits_lines_as_soon_as_they_are_complete() {
        let mut p = LogParser::new(100);
        let mut out = Vec::new();
        p.feed(b"@1\nO abc\no d", &mut out);
        assert!(out.is_empty());
        p.feed(b"ef\n", &mut out);
        assert_eq!(out, [line(1, LineKind::Stdout, b"abcdef")]);
    }

    #[test]
    fn parser_truncates_at_max_line() {
        let lines = parse_all(b"o 0123456789\nO 01234\nO 56789\no ab\no ok\n# 0123456789\n", 8);
        let cut = |kind, text: &[u8]| LogLine {
            t_ms: 0,
            kind,
            text: text.to_vec(),
            truncated: true,
        };
        assert_eq!(
            lines,
            [
                cut(LineKind::Stdout, b"01234567"),
                cut(LineKind::Stdout, b"01234567"),
                line(0, LineKind::Stdout, b"ok"),
                cut(LineKind::Note, b"01234567"),
            ]
        );
        // A record arriving in pieces is cut while buffering; memory stays bounded.
        let mut p = LogParser::new(8);
        let mut out = Vec::new();
        p.feed(b"e 0123", &mut out);
        for _ in 0..10_000 {
            p.feed(b"456789abcdef", &mut out);
        }
        assert!(p.partial.len() <= 8 + 24);
        p.feed(b"\ne next\n", &mut out);
        assert_eq!(
            out,
            [
                cut(LineKind::Stderr, b"01234567"),
                line(0, LineKind::Stderr, b"next")
            ]
        );
        // Fragments beyond the cut are skipped, not kept.
        let mut p = LogParser::new(8);
        for _ in 0..10_000 {
            p.feed(b"O 0123456789\n", &mut out);
        }
        assert!(p.joiners[0].text.len() <= 8);
    }

    #[test]
    fn parser_skips_unknown_and_malformed_records() {
        let lines = parse_all(
            b"x future record\nofoo\n@abc\n@\n\n@99999999999999999999999\no ok\n@4\ne fine\n",
            100,
        );
        assert_eq!(
            lines,
            [
                line(0, LineKind::Stdout, b"ok"),
                line(4, LineKind::Stderr, b"fine")
            ]
        );
    }

    #[test]
    fn finish_emits_unfinished_fragments_in_start_order() {
        let mut p = LogParser::new(100);
        let mut out = Vec::new();
        p.feed(b"E b1\n@3\nO a1\nE b2\no unrelated", &mut out);
        assert!(out.is_empty());
        p.finish(&mut out);
        assert_eq!(
            out,
            [
                line(3, LineKind::Stdout, b"a1unrelated"),
                line(0, LineKind::Stderr, b"b1b2"),
            ]
        );
    }

    #[test]
    fn feed_with_borrows_without_allocating_lines() {
        let mut p = LogParser::new(100);
        let mut seen = Vec::new();
        p.feed_with(b"@2\no one\ne two\n", |l| {
            seen.push((l.t_ms, l.kind, l.text.to_vec()))
        });
        assert_eq!(
            seen,
            [
                (2, LineKind::Stdout, b"one".to_vec()),
                (2, LineKind::Stderr, b"two".to_vec())
            ]
        );
    }
}
