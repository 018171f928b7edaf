//! Writing a run log: [`pump`] (one per child stream) into a shared [`LogWriter`].

use std::borrow::Cow;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use memchr::{memchr, memchr_iter, memrchr};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{IDLE_FLUSH, LOG_LINE_CAP, Masker};

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
pub(super) enum Clock {
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
    pub(super) clock: Clock,
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
