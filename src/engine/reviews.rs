//! Post-release reviews: what went well, what did not, and action items with an owner and a
//! due date, closed one by one. A plan's own hash-chained journal,
//! `<data>/plans/<plan>/.reviews/reviews.jsonl` ([`PlanJournal`]): a review is written after
//! its release finished, so it never reopens that release's journal (nor its index line).
//! Action items are numbered per release, under the journal's lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::plan_journal::PlanJournal;
use crate::event::{Event, Record};
use crate::journal::{JournalError, Store};
use crate::mask::Masker;

pub const DIR: &str = crate::journal::replica::PLAN_JOURNALS[2].0;
pub const FILE: &str = crate::journal::replica::PLAN_JOURNALS[2].1;

/// One thing said in a review, by whom and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Said {
    pub text: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// An action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub release: String,
    pub number: u64,
    pub text: String,
    pub owner: String,
    pub due: NaiveDate,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    pub closed: Option<Said>,
}

impl Action {
    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    /// Open past its due date (the day after it, in UTC).
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.is_open() && now.date_naive() > self.due
    }
}

/// A release's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub release: String,
    pub went_well: Vec<Said>,
    pub went_wrong: Vec<Said>,
    pub actions: Vec<Action>,
}

/// The reviews the records describe, by release (in the order first reviewed).
pub fn fold<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<Review> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Review> = BTreeMap::new();
    fn entry<'m>(
        by: &'m mut BTreeMap<String, Review>,
        order: &mut Vec<String>,
        release: &str,
    ) -> &'m mut Review {
        if !by.contains_key(release) {
            order.push(release.to_string());
        }
        by.entry(release.to_string()).or_insert_with(|| Review {
            release: release.to_string(),
            went_well: Vec::new(),
            went_wrong: Vec::new(),
            actions: Vec::new(),
        })
    }
    for rec in records {
        let said = |text: &String| Said {
            text: text.clone(),
            by: rec.actor.clone(),
            at: rec.ts,
        };
        match &rec.event {
            Event::ReviewNoted {
                release,
                went_well,
                went_wrong,
            } => {
                let r = entry(&mut by, &mut order, release);
                r.went_well.extend(went_well.iter().map(said));
                r.went_wrong.extend(went_wrong.iter().map(said));
            }
            Event::ActionAdded {
                release,
                number,
                text,
                owner,
                due,
            } => {
                let r = entry(&mut by, &mut order, release);
                if !r.actions.iter().any(|a| a.number == *number) {
                    r.actions.push(Action {
                        release: release.clone(),
                        number: *number,
                        text: text.clone(),
                        owner: owner.clone(),
                        due: *due,
                        added_by: rec.actor.clone(),
                        added_at: rec.ts,
                        closed: None,
                    });
                }
            }
            Event::ActionClosed {
                release,
                number,
                note,
            } => {
                if let Some(a) = entry(&mut by, &mut order, release)
                    .actions
                    .iter_mut()
                    .find(|a| a.number == *number && a.closed.is_none())
                {
                    a.closed = Some(said(note));
                }
            }
            _ => {}
        }
    }
    order.into_iter().filter_map(|r| by.remove(&r)).collect()
}

/// What a review adds: its entries and action items (text, owner, due).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    pub went_well: Vec<String>,
    pub went_wrong: Vec<String>,
    pub actions: Vec<(String, String, NaiveDate)>,
}

impl Entries {
    pub fn is_empty(&self) -> bool {
        self.went_well.is_empty() && self.went_wrong.is_empty() && self.actions.is_empty()
    }
}

/// Why an action item could not be closed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// No action item of that number (exit 2).
    #[error("release {release} has no action item #{number} ({})", if *.count == 0 { "its review has none".to_string() } else { format!("its action items are numbered 1 to {}", .count) })]
    Unknown {
        release: String,
        number: u64,
        count: u64,
    },
    /// Closed before (exit 1).
    #[error("action item #{number} of {release} was already closed by {by} at {}", .at.format("%Y-%m-%d %H:%M:%S UTC"))]
    AlreadyClosed {
        release: String,
        number: u64,
        by: String,
        at: DateTime<Utc>,
    },
}

/// A plan's reviews journal.
#[derive(Debug, Clone)]
pub struct Reviews {
    journal: PlanJournal,
}

impl Reviews {
    /// The reviews of the plan whose folder is `plan_dir`.
    pub fn at(plan_dir: &Path) -> Reviews {
        Reviews {
            journal: PlanJournal::at(plan_dir, (DIR, FILE)),
        }
    }

    /// The reviews of `plan` in `store`.
    pub fn of_plan(store: &Store, plan: &str) -> Result<Reviews, JournalError> {
        Ok(Reviews::at(&store.plan_dir(plan)?))
    }

    pub fn path(&self) -> &Path {
        self.journal.path()
    }

    /// Every review; none when there is no journal yet. A line that does not chain is an error
    /// naming the file and the line.
    pub fn load(&self) -> Result<Vec<Review>, JournalError> {
        Ok(fold(&self.journal.records()?))
    }

    /// `release`'s review (empty when nobody reviewed it yet).
    pub fn of_release(&self, release: &str) -> Result<Review, JournalError> {
        Ok(self
            .load()?
            .into_iter()
            .find(|r| r.release == release)
            .unwrap_or_else(|| Review {
                release: release.to_string(),
                went_well: Vec::new(),
                went_wrong: Vec::new(),
                actions: Vec::new(),
            }))
    }

    /// Record `entries` about `release` as `actor`: one durable batch, the action items numbered
    /// on from the release's last one under the journal's lock. Returns the review as it now is.
    pub fn record(
        &self,
        masker: Arc<Masker>,
        actor: &str,
        release: &str,
        entries: &Entries,
    ) -> Result<Review, JournalError> {
        let mut j = self.journal.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let mut events = Vec::new();
            if !entries.went_well.is_empty() || !entries.went_wrong.is_empty() {
                events.push(Event::ReviewNoted {
                    release: release.to_string(),
                    went_well: entries.went_well.clone(),
                    went_wrong: entries.went_wrong.clone(),
                });
            }
            let last = fold(seen)
                .into_iter()
                .find(|r| r.release == release)
                .and_then(|r| r.actions.iter().map(|a| a.number).max())
                .unwrap_or(0);
            for (n, (text, owner, due)) in entries.actions.iter().enumerate() {
                events.push(Event::ActionAdded {
                    release: release.to_string(),
                    number: last + 1 + n as u64,
                    text: text.clone(),
                    owner: owner.clone(),
                    due: *due,
                });
            }
            Ok::<_, JournalError>(events)
        })?;
        Ok(fold(seen.iter().chain(&written))
            .into_iter()
            .find(|r| r.release == release)
            .expect("the review just written"))
    }

    /// Close action item `number` of `release` as `actor` (checked under the journal's lock:
    /// closing twice is refused). Returns it closed.
    pub fn close(
        &self,
        masker: Arc<Masker>,
        actor: &str,
        release: &str,
        number: u64,
        note: &str,
    ) -> Result<Action, ReviewError> {
        let unknown = |count| ReviewError::Unknown {
            release: release.to_string(),
            number,
            count,
        };
        if !self.path().exists() {
            return Err(unknown(0));
        }
        let mut j = self.journal.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let review = fold(seen).into_iter().find(|r| r.release == release);
            let actions = review.map(|r| r.actions).unwrap_or_default();
            let Some(a) = actions.iter().find(|a| a.number == number) else {
                return Err(unknown(actions.iter().map(|a| a.number).max().unwrap_or(0)));
            };
            if let Some(c) = &a.closed {
                return Err(ReviewError::AlreadyClosed {
                    release: release.to_string(),
                    number,
                    by: c.by.clone(),
                    at: c.at,
                });
            }
            Ok(vec![Event::ActionClosed {
                release: release.to_string(),
                number,
                note: note.to_string(),
            }])
        })?;
        Ok(fold(seen.iter().chain(&written))
            .into_iter()
            .find(|r| r.release == release)
            .and_then(|r| r.actions.into_iter().find(|a| a.number == number))
            .expect("the action item just closed"))
    }
}

/// The template `review --editor` opens.
pub fn template(plan: &str, release: &str) -> String {
    format!(
        "# Review of {plan} {release}. Lines starting with # are ignored; empty items are left out.\n\
         # One item per line, starting with `- `. An action item: `- what | owner | YYYY-MM-DD`.\n\
         \n\
         ## Went well\n- \n\n## Went wrong\n- \n\n## Actions\n- \n"
    )
}

/// Read a filled-in [`template`]; an error names the line (1-based) and what is wrong.
pub fn parse_template(text: &str) -> Result<Entries, (usize, String)> {
    #[derive(Clone, Copy)]
    enum Section {
        None,
        Well,
        Wrong,
        Actions,
    }
    let mut section = Section::None;
    let mut out = Entries::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || (line.starts_with('#') && !line.starts_with("##")) {
            continue;
        }
        if let Some(head) = line.strip_prefix("##") {
            section = match head.trim().to_ascii_lowercase().as_str() {
                "went well" => Section::Well,
                "went wrong" => Section::Wrong,
                "actions" => Section::Actions,
                other => {
                    return Err((
                        n,
                        format!(
                            "unknown section `{other}` (the sections are: Went well, Went wrong, Actions)"
                        ),
                    ));
                }
            };
            continue;
        }
        let Some(item) = line.strip_prefix('-') else {
            return Err((n, "an item starts with `- `".into()));
        };
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match section {
            Section::None => return Err((n, "an item before any `## ` section".into())),
            Section::Well => out.went_well.push(item.to_string()),
            Section::Wrong => out.went_wrong.push(item.to_string()),
            Section::Actions => {
                let parts: Vec<&str> = item.split('|').map(str::trim).collect();
                let [text, owner, due] = parts[..] else {
                    return Err((n, "an action item is `- what | owner | YYYY-MM-DD`".into()));
                };
                if text.is_empty() || owner.is_empty() {
                    return Err((n, "an action item needs what and an owner".into()));
                }
                let due = parse_due(due).map_err(|e| (n, e))?;
                out.actions.push((text.to_string(), owner.to_string(), due));
            }
        }
    }
    Ok(out)
}

/// A due date, `YYYY-MM-DD`.
pub fn parse_due(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("due date `{}` is not a date YYYY-MM-DD ({e})", s.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_reads_back_and_bad_lines_are_named() {
        let filled = template("shop", "1.0")
            .replace("## Went well\n- ", "## Went well\n- quick rollback")
            .replace(
                "## Went wrong\n- ",
                "## Went wrong\n- slow canary\n- noisy alerts",
            )
            .replace("## Actions\n- ", "## Actions\n- tune alerts | bob | 2026-12-10");
        let e = parse_template(&filled).unwrap();
        assert_eq!(e.went_well, ["quick rollback"]);
        assert_eq!(e.went_wrong, ["slow canary", "noisy alerts"]);
        assert_eq!(
            e.actions,
            [(
                "tune alerts".to_string(),
                "bob".to_string(),
                NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()
            )]
        );
        assert!(parse_template(&template("shop", "1.0")).unwrap().is_empty());
        let bad = "## Actions\n- tune alerts | bob\n";
        assert_eq!(parse_template(bad).unwrap_err().0, 2);
        let bad = "## Actions\n- tune | bob | 2026-13-40\n";
        let (line, why) = parse_template(bad).unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("2026-13-40"), "{why}");
        assert_eq!(parse_template("## Lessons\n").unwrap_err().0, 1);
        assert_eq!(parse_template("- orphan\n").unwrap_err().0, 1);
    }
}
