//! A plan's own small hash-chained journals, beside its release folders in dot folders (never
//! taken for releases): incidents, ad-hoc freezes, post-release reviews. Each is appended with
//! the same [`Journal`] as a release's (lock, chain, fsync), mirrored by a shared store like one
//! (`journal::replica::PLAN_JOURNALS`), and read with the chain checked; what its records mean
//! is its own module's fold.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::event::Record;
use crate::journal::{Journal, JournalError, LoadWarning, read_journal};
use crate::mask::Masker;

/// One plan journal's file.
#[derive(Debug, Clone)]
pub struct PlanJournal {
    path: PathBuf,
}

impl PlanJournal {
    /// The journal `(dir, file)` (an entry of `PLAN_JOURNALS`) of the plan whose folder is
    /// `plan_dir`.
    pub fn at(plan_dir: &Path, (dir, file): (&str, &str)) -> PlanJournal {
        PlanJournal {
            path: plan_dir.join(dir).join(file),
        }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its `head` file (the last line written, for `verify`).
    pub fn head(&self) -> PathBuf {
        self.path.with_file_name("head")
    }

    /// Every record up to the first line that does not chain, and that line's error if any (for
    /// views that must still show what they can); none when the journal does not exist yet.
    pub fn records_lenient(&self) -> Result<(Vec<Record>, Option<JournalError>), JournalError> {
        if !self.path.exists() {
            return Ok((Vec::new(), None));
        }
        let (records, warnings) = read_journal(&self.path)?;
        let broken = warnings
            .iter()
            .find_map(LoadWarning::broken)
            .map(|(line, reason)| JournalError::Broken {
                path: self.path.clone(),
                line,
                reason: reason.to_string(),
            });
        Ok((records, broken))
    }

    /// Every record; a line that does not chain is an error naming the file and the line
    /// (nothing is acted on then).
    pub fn records(&self) -> Result<Vec<Record>, JournalError> {
        match self.records_lenient()? {
            (_, Some(broken)) => Err(broken),
            (records, None) => Ok(records),
        }
    }

    /// The journal, opened to append (its folder made first).
    pub fn writer(&self, masker: Arc<Masker>) -> Result<Journal, JournalError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(crate::journal::io_error(dir))?;
        }
        Journal::open(&self.path, masker)
    }
}
