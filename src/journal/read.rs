//! Reading a journal: whole-file load (torn last line tolerated) and hash-chain verification.

use std::path::Path;

use super::{JournalError, Record, io_err, line_hash};

/// Something odd but not fatal found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// The last line was cut short (a crash mid-write); it was ignored.
    TornLastLine { line: usize, bytes: usize },
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
        }
    }
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

/// Parse every record of a journal. A last line that is unterminated or does not parse is a torn
/// write and is skipped with a warning; a bad line anywhere else is an error.
pub fn read_journal(path: &Path) -> Result<(Vec<Record>, Vec<LoadWarning>), JournalError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    parse_journal(&data, path)
}

pub(crate) fn parse_journal(
    data: &[u8],
    path: &Path,
) -> Result<(Vec<Record>, Vec<LoadWarning>), JournalError> {
    let (lines, tail) = split_lines(data);
    let mut records = Vec::with_capacity(lines.len());
    let mut warnings = Vec::new();
    let n = lines.len();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) if i + 1 == n && tail.is_empty() => {
                warnings.push(LoadWarning::TornLastLine {
                    line: i + 1,
                    bytes: line.len(),
                });
            }
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    if !tail.is_empty() {
        warnings.push(LoadWarning::TornLastLine {
            line: n + 1,
            bytes: tail.len(),
        });
    }
    Ok((records, warnings))
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every line chains to the one before; `lines` records checked.
    Intact { lines: usize },
    /// The first line that was altered (1-based) and why we know.
    Altered { line: usize, reason: String },
}

/// Check the hash chain: every line's `prev` must be the SHA-256 of the line before it, sequence
/// numbers must be dense, and the last line must match the `head` file written on each append.
/// Names the first line that was altered.
pub fn verify(journal: &Path, head: Option<&str>) -> Result<Verified, JournalError> {
    let data = std::fs::read(journal).map_err(io_err(journal))?;
    let (lines, _torn) = split_lines(&data);
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
            // This line's link does not match the line before: either the line before was changed,
            // or this line's `prev` was. Both mean the earlier line no longer is what was written.
            let altered = if i == 0 { 1 } else { lineno - 1 };
            return Ok(Verified::Altered {
                line: altered,
                reason: format!(
                    "line {lineno} records a different hash for line {}",
                    lineno.saturating_sub(1).max(1)
                ),
            });
        }
        prev_hash = line_hash(line);
    }
    if let (Some(head), Some(last)) = (head, lines.last()) {
        let mut parts = head.split_whitespace();
        let head_seq: usize = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let head_hash = parts.next().unwrap_or("");
        if head_seq == lines.len() && head_hash != line_hash(last) {
            return Ok(Verified::Altered {
                line: lines.len(),
                reason: "the last line does not match the hash recorded when it was written".into(),
            });
        }
        if head_seq > lines.len() {
            return Ok(Verified::Altered {
                line: lines.len() + 1,
                reason: format!(
                    "the journal ends at line {} but {head_seq} lines were written",
                    lines.len()
                ),
            });
        }
    }
    Ok(Verified::Intact { lines: lines.len() })
}
