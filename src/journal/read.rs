//! Reading a journal: whole-file load that checks the hash chain as it folds, the incremental
//! [`Chain`] every reader shares, and `verify`.

use std::path::{Path, PathBuf};

use super::{JournalError, Record, io_err, line_hash};

/// Something found while loading that readers must know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// The last line was cut short (a crash mid-write: no newline, not a record); it was ignored
    /// and the next append sets it aside (see [`torn_path`]).
    TornLastLine { line: usize, bytes: usize },
    /// Line `line` does not chain to the one before (or is no record): the records before it
    /// were loaded, nothing from it on. The release needs a person's attention.
    Broken { line: usize, reason: String },
}

impl LoadWarning {
    /// The broken line's warning, if this is one.
    pub fn broken(&self) -> Option<(usize, &str)> {
        match self {
            LoadWarning::Broken { line, reason } => Some((*line, reason)),
            LoadWarning::TornLastLine { .. } => None,
        }
    }
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadWarning::TornLastLine { line, bytes } => {
                write!(
                    f,
                    "ignored a torn last journal line {line} ({bytes} bytes; a crash mid-write)"
                )
            }
            LoadWarning::Broken { line, reason } => write!(
                f,
                "line {line} breaks the hash chain ({reason}); nothing from it on is acted on"
            ),
        }
    }
}

/// The reason of the first line of a journal that does not chain, as the state shows it.
pub fn attention_reason(path: &Path, warnings: &[LoadWarning]) -> Option<String> {
    warnings.iter().find_map(|w| {
        w.broken().map(|(line, reason)| {
            format!(
                "{}:{line}: the journal's hash chain is broken ({reason})",
                path.display()
            )
        })
    })
}

/// Where torn journal writes are set aside (appended, never deleted): `journal.torn` next to
/// the journal.
pub fn torn_path(journal: &Path) -> PathBuf {
    journal.with_extension("torn")
}

/// Split `data` into complete lines plus an optional unterminated tail.
pub(crate) fn split_lines(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        lines.push(&data[start..end]);
        start = end + 1;
    }
    (lines, &data[start..])
}

/// The hash chain as read so far: every reader that acts on a journal checks each line with it.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The sequence number (= 1-based line number) the next line must have.
    pub next_seq: u64,
    /// SHA-256 of the last line accepted (empty before the first).
    pub last_hash: String,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            next_seq: 1,
            last_hash: String::new(),
        }
    }
}

impl Chain {
    /// The line number of the next line.
    pub fn line(&self) -> usize {
        self.next_seq as usize
    }

    /// Parse `line` (without its newline) and check that it is the next link of the chain; the
    /// record, or why not.
    pub fn link(&mut self, line: &[u8]) -> Result<Record, String> {
        let rec: Record = serde_json::from_slice(line).map_err(|e| format!("not a journal record: {e}"))?;
        self.check(&rec)?;
        self.last_hash = line_hash(line);
        self.next_seq += 1;
        Ok(rec)
    }

    fn check(&self, rec: &Record) -> Result<(), String> {
        if rec.seq != self.next_seq {
            return Err(format!(
                "sequence number {} where {} was expected",
                rec.seq, self.next_seq
            ));
        }
        if rec.prev != self.last_hash {
            return Err(if self.next_seq == 1 {
                "the first line names a line before it".to_string()
            } else {
                format!(
                    "its `prev` is not the hash of line {}: it was not appended after that line",
                    self.next_seq - 1
                )
            });
        }
        Ok(())
    }
}

/// What the end of a journal holds after its last newline.
pub(crate) enum TailKind<'a> {
    None,
    /// A whole record whose newline was lost (it parses and chains). Boxed: a record is large.
    Record(Box<Record>),
    /// A torn write: not a record at all.
    Torn(&'a [u8]),
    /// A record that does not chain.
    Broken(String),
}

/// Classify the unterminated `tail` after the lines `chain` accepted (advancing it for a record).
pub(crate) fn classify_tail<'a>(chain: &mut Chain, tail: &'a [u8]) -> TailKind<'a> {
    if tail.is_empty() {
        return TailKind::None;
    }
    if serde_json::from_slice::<Record>(tail).is_err() {
        return TailKind::Torn(tail);
    }
    match chain.link(tail) {
        Ok(r) => TailKind::Record(Box::new(r)),
        Err(reason) => TailKind::Broken(reason),
    }
}

/// Parse every record of a journal, checking the hash chain: at the first line that does not
/// chain (or is not a record) the records before it are returned with a
/// [`LoadWarning::Broken`]; an unterminated last line that is not a record is a torn write
/// ([`LoadWarning::TornLastLine`]).
pub fn read_journal(path: &Path) -> Result<(Vec<Record>, Vec<LoadWarning>), JournalError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    Ok(parse_journal(&data))
}

pub(crate) fn parse_journal(data: &[u8]) -> (Vec<Record>, Vec<LoadWarning>) {
    let (lines, tail) = split_lines(data);
    let mut records = Vec::with_capacity(lines.len());
    let mut chain = Chain::default();
    for line in lines.iter() {
        let at = chain.line();
        match chain.link(line) {
            Ok(r) => records.push(r),
            Err(reason) => return (records, vec![LoadWarning::Broken { line: at, reason }]),
        }
    }
    let at = chain.line();
    let warnings = match classify_tail(&mut chain, tail) {
        TailKind::None => vec![],
        TailKind::Record(r) => {
            records.push(*r);
            vec![]
        }
        TailKind::Torn(bytes) => vec![LoadWarning::TornLastLine {
            line: at,
            bytes: bytes.len(),
        }],
        TailKind::Broken(reason) => vec![LoadWarning::Broken { line: at, reason }],
    };
    (records, warnings)
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every line chains to the one before; `lines` records checked.
    Intact { lines: usize },
    /// The first line that was altered (1-based) and why we know.
    Altered { line: usize, reason: String },
    /// The chain is intact up to `line`, which is an unterminated torn write of `bytes` bytes
    /// not set aside yet (the next append moves it to [`torn_path`]).
    Torn { line: usize, bytes: usize },
}

/// Check the hash chain: every line's `prev` must be the SHA-256 of the line before it, sequence
/// numbers must be dense, and the line the `head` file (written on each append) names must still
/// hash as it did. Names the first line that was altered (or added by something else), or a
/// torn last line not set aside yet.
pub fn verify(journal: &Path, head: Option<&str>) -> Result<Verified, JournalError> {
    let data = std::fs::read(journal).map_err(io_err(journal))?;
    let (mut lines, tail) = split_lines(&data);
    let head = head.map(|h| {
        let mut parts = h.split_whitespace();
        let seq: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (seq, parts.next().unwrap_or("").to_string())
    });
    let torn = !tail.is_empty() && serde_json::from_slice::<Record>(tail).is_err();
    if !tail.is_empty() && !torn {
        // A record whose newline was lost is checked like any line.
        lines.push(tail);
    }
    let mut prev_hash = String::new();
    for (i, line) in lines.iter().enumerate() {
        let lineno = i + 1;
        let rec: Record = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                return Ok(Verified::Altered {
                    line: lineno,
                    reason: format!("not a valid record: {e}"),
                });
            }
        };
        // The sequence number first: a deleted or inserted line is named where it happened, not
        // as an alteration of the intact line before it (whose hash the next line no longer holds).
        if rec.seq != lineno as u64 {
            return Ok(Verified::Altered {
                line: lineno,
                reason: format!("sequence number {} where {lineno} was expected", rec.seq),
            });
        }
        if rec.prev != prev_hash {
            // When the line before is the last one flightdeck wrote (the head file says so and
            // it still hashes the same), this line was added by something else. Otherwise the
            // line before no longer is what was written (or this line's `prev` was changed).
            let before_is_head = i > 0
                && head
                    .as_ref()
                    .is_some_and(|(seq, hash)| *seq == i && *hash == prev_hash);
            return Ok(if i == 0 || before_is_head {
                Verified::Altered {
                    line: lineno,
                    reason: if i == 0 {
                        "the first line names a line before it".into()
                    } else {
                        format!(
                            "line {lineno} does not chain to line {i}, the last line flightdeck wrote: it was added by something else"
                        )
                    },
                }
            } else {
                Verified::Altered {
                    line: lineno - 1,
                    reason: format!("line {lineno} records a different hash for line {}", lineno - 1),
                }
            });
        }
        prev_hash = line_hash(line);
    }
    if let Some((head_seq, head_hash)) = &head {
        let (head_seq, n) = (*head_seq, lines.len());
        if head_seq > n {
            return Ok(Verified::Altered {
                line: n + 1,
                reason: format!("the journal ends at line {n} but {head_seq} lines were written"),
            });
        }
        // Lines after the head's are a batch whose head update was lost in a crash; the line the
        // head names must still be what was written.
        if head_seq >= 1 && line_hash(lines[head_seq - 1]) != *head_hash {
            return Ok(Verified::Altered {
                line: head_seq,
                reason: "the line does not match the hash recorded when it was written".into(),
            });
        }
    }
    if torn {
        return Ok(Verified::Torn {
            line: lines.len() + 1,
            bytes: tail.len(),
        });
    }
    Ok(Verified::Intact { lines: lines.len() })
}
