//! Ad-hoc freezes: added outside the plan in the middle of an incident (`freeze add`), ended by
//! `freeze remove N` or by their `until`. A plan's own hash-chained journal,
//! `<data>/plans/<plan>/.freezes/freezes.jsonl`, appended with the same [`Journal`] as a
//! release's (lock, chain, fsync) and read with the chain checked. Every driver of the plan
//! holds its deploys back on a frozen environment as for a `[[freeze]]` of the plan.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan_journal::PlanJournal;
use crate::event::{Event, Record};
use crate::journal::{Journal, JournalError};
use crate::mask::Masker;
use crate::plan::freeze::{Freeze, When};

/// The freezes folder in a plan's folder, and its journal.
pub const DIR: &str = crate::journal::replica::PLAN_JOURNALS[1].0;
pub const FILE: &str = crate::journal::replica::PLAN_JOURNALS[1].1;

/// One ad-hoc freeze as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdHoc {
    pub number: u64,
    pub environments: Vec<String>,
    pub reason: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Ended early (`freeze remove`): by whom, when.
    pub removed: Option<(String, DateTime<Utc>)>,
}

impl AdHoc {
    /// The window it holds: from its adding to `until` or its removal, whichever comes first.
    pub fn as_freeze(&self) -> Freeze {
        let end = self
            .removed
            .as_ref()
            .map_or(self.until, |(_, at)| (*at).min(self.until));
        let end = end.max(self.added_at);
        Freeze {
            environments: self.environments.clone(),
            reason: format!(
                "{} (ad-hoc freeze #{} by {})",
                self.reason, self.number, self.added_by
            ),
            when: When::Fixed {
                from: self.added_at.fixed_offset(),
                to: end.fixed_offset(),
            },
        }
    }
}

/// The freezes the events describe, by number.
pub fn fold<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<AdHoc> {
    let mut out: Vec<AdHoc> = Vec::new();
    for r in records {
        match &r.event {
            Event::FreezeAdded {
                number,
                environments,
                until,
                reason,
            } => out.push(AdHoc {
                number: *number,
                environments: environments.clone(),
                reason: reason.clone(),
                added_by: r.actor.clone(),
                added_at: r.ts,
                until: *until,
                removed: None,
            }),
            Event::FreezeRemoved { number } => {
                if let Some(f) = out
                    .iter_mut()
                    .find(|f| f.number == *number && f.removed.is_none())
                {
                    f.removed = Some((r.actor.clone(), r.ts));
                }
            }
            _ => {}
        }
    }
    out
}

/// Why a freeze could not be removed.
#[derive(Debug, thiserror::Error)]
pub enum FreezeError {
    #[error("no ad-hoc freeze #{number} (there are {count})")]
    Unknown { number: u64, count: u64 },
    #[error("ad-hoc freeze #{number} was already ended by {by}")]
    AlreadyEnded { number: u64, by: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A plan's ad-hoc freezes journal.
#[derive(Debug, Clone)]
pub struct Freezes {
    journal: PlanJournal,
}

impl Freezes {
    /// The freezes of the plan whose folder is `plan_dir`.
    pub fn at(plan_dir: &Path) -> Freezes {
        Freezes {
            journal: PlanJournal::at(plan_dir, (DIR, FILE)),
        }
    }

    pub fn path(&self) -> &Path {
        self.journal.path()
    }

    /// Every ad-hoc freeze; none when there is no journal yet. A line that does not chain is an
    /// error naming the file and the line.
    pub fn load(&self) -> Result<Vec<AdHoc>, JournalError> {
        Ok(fold(&self.journal.records()?))
    }

    fn writer(&self, masker: Arc<Masker>) -> Result<Journal, JournalError> {
        self.journal.writer(masker)
    }

    /// Add a freeze as `actor`; its number is the next one, assigned under the journal's lock.
    pub fn add(
        &self,
        masker: Arc<Masker>,
        actor: &str,
        environments: &[String],
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<AdHoc, JournalError> {
        let mut j = self.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let number = fold(seen).iter().map(|f| f.number).max().unwrap_or(0) + 1;
            Ok::<_, JournalError>(vec![Event::FreezeAdded {
                number,
                environments: environments.to_vec(),
                until,
                reason: reason.to_string(),
            }])
        })?;
        Ok(fold(seen.iter().chain(&written))
            .pop()
            .expect("the freeze just added"))
    }

    /// End freeze `number` now, as `actor`.
    pub fn remove(&self, masker: Arc<Masker>, actor: &str, number: u64) -> Result<AdHoc, FreezeError> {
        if !self.path().exists() {
            return Err(FreezeError::Unknown { number, count: 0 });
        }
        let mut j = self.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let all = fold(seen);
            let Some(f) = all.iter().find(|f| f.number == number) else {
                let count = all.iter().map(|f| f.number).max().unwrap_or(0);
                return Err(FreezeError::Unknown { number, count });
            };
            if let Some((by, _)) = &f.removed {
                return Err(FreezeError::AlreadyEnded {
                    number,
                    by: by.clone(),
                });
            }
            Ok(vec![Event::FreezeRemoved { number }])
        })?;
        Ok(fold(seen.iter().chain(&written))
            .into_iter()
            .find(|f| f.number == number)
            .expect("the freeze just ended"))
    }
}
