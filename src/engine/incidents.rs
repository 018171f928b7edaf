//! Incidents: a plan's own hash-chained journal, `<data>/plans/<plan>/.incidents/incidents.jsonl`
//! (beside the release folders; a dot folder, so it is never taken for a release), appended with
//! the same [`Journal`] as a release's (lock, chain, fsync) and read with the chain checked.
//!
//! Its events: [`Event::IncidentOpened`] (numbers 1, 2, 3... assigned under the journal's lock,
//! so two people opening one at once get two numbers), [`Event::IncidentResolved`] and
//! [`Event::IncidentLinked`] (a rollback request or a redeploy release started while the incident
//! was open on an environment it touches). [`fold`] turns them into [`Incident`]s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::plan_journal::PlanJournal;
use crate::event::{Event, Record};
use crate::journal::{Journal, JournalError, Store};
use crate::mask::Masker;

/// The incidents folder in a plan's folder.
pub const DIR: &str = crate::journal::replica::PLAN_JOURNALS[0].0;
/// The incidents journal in [`DIR`].
pub const FILE: &str = crate::journal::replica::PLAN_JOURNALS[0].1;

/// A recovery linked to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub release: String,
    /// `rollback` or `redeploy`.
    pub kind: String,
    /// The rollback request's sequence number in the release's journal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<u64>,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One incident as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub number: u64,
    pub env: String,
    pub release: Option<String>,
    pub summary: String,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The resolution note (empty: none).
    pub note: String,
    pub links: Vec<Link>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Resolved minus opened (the time to restore service), once resolved.
    pub fn recovery_ms(&self) -> Option<i64> {
        Some((self.resolved_at? - self.opened_at).num_milliseconds())
    }

    /// Resolved minus the first linked recovery (rollback or redeploy), once resolved.
    pub fn after_first_link_ms(&self) -> Option<i64> {
        let first = self.links.iter().map(|l| l.at).min()?;
        Some((self.resolved_at? - first).num_milliseconds())
    }
}

/// The incidents the records describe, by number.
pub fn fold<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<Incident> {
    let mut by: BTreeMap<u64, Incident> = BTreeMap::new();
    for rec in records {
        match &rec.event {
            Event::IncidentOpened {
                number,
                env,
                release,
                summary,
            } => {
                by.entry(*number).or_insert_with(|| Incident {
                    number: *number,
                    env: env.clone(),
                    release: release.clone(),
                    summary: summary.clone(),
                    opened_by: rec.actor.clone(),
                    opened_at: rec.ts,
                    resolved_by: None,
                    resolved_at: None,
                    note: String::new(),
                    links: Vec::new(),
                });
            }
            Event::IncidentResolved { number, note } => {
                if let Some(i) = by.get_mut(number)
                    && i.resolved_at.is_none()
                {
                    i.resolved_by = Some(rec.actor.clone());
                    i.resolved_at = Some(rec.ts);
                    i.note = note.clone();
                }
            }
            Event::IncidentLinked {
                number,
                release,
                recovery,
                request,
            } => {
                if let Some(i) = by.get_mut(number) {
                    i.links.push(Link {
                        release: release.clone(),
                        kind: recovery.clone(),
                        request: *request,
                        by: rec.actor.clone(),
                        at: rec.ts,
                    });
                }
            }
            _ => {}
        }
    }
    by.into_values().collect()
}

/// Why an incident could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// No incident of that number (exit 2).
    #[error("no incident #{number} ({})", if *.count == 0 { "there are none yet".to_string() } else { format!("incidents are numbered 1 to {}", .count) })]
    Unknown { number: u64, count: u64 },
    /// Resolved before (exit 1).
    #[error("incident #{number} was already resolved by {by} at {}", .at.format("%Y-%m-%d %H:%M:%S UTC"))]
    AlreadyResolved {
        number: u64,
        by: String,
        at: DateTime<Utc>,
    },
}

/// A plan's incidents journal.
#[derive(Debug, Clone)]
pub struct Incidents {
    journal: PlanJournal,
}

impl Incidents {
    /// The incidents of the plan whose folder is `plan_dir`.
    pub fn at(plan_dir: &Path) -> Incidents {
        Incidents {
            journal: PlanJournal::at(plan_dir, (DIR, FILE)),
        }
    }

    /// The incidents of `plan` in `store`.
    pub fn of_plan(store: &Store, plan: &str) -> Result<Incidents, JournalError> {
        Ok(Incidents::at(&store.plan_dir(plan)?))
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        self.journal.path()
    }

    /// Its `head` file (the last line written, for `verify`).
    pub fn head(&self) -> PathBuf {
        self.journal.head()
    }

    /// Every incident, by number; none when the journal does not exist yet. A line that does not
    /// chain is an error naming the file and the line (nothing is acted on then).
    pub fn load(&self) -> Result<Vec<Incident>, JournalError> {
        Ok(fold(&self.journal.records()?))
    }

    /// Every incident up to the first line that does not chain, and that line's error if any
    /// (for views that must still show what they can).
    pub fn load_lenient(&self) -> Result<(Vec<Incident>, Option<JournalError>), JournalError> {
        let (records, broken) = self.journal.records_lenient()?;
        Ok((fold(&records), broken))
    }

    fn writer(&self, masker: Arc<Masker>) -> Result<Journal, JournalError> {
        self.journal.writer(masker)
    }

    /// Open an incident as `actor`: its number is the next one, assigned under the journal's
    /// lock. Returns it as written.
    pub fn open(
        &self,
        masker: Arc<Masker>,
        actor: &str,
        env: &str,
        release: Option<&str>,
        summary: &str,
    ) -> Result<Incident, JournalError> {
        let mut j = self.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let number = fold(seen).iter().map(|i| i.number).max().unwrap_or(0) + 1;
            Ok::<_, JournalError>(vec![Event::IncidentOpened {
                number,
                env: env.to_string(),
                release: release.map(str::to_string),
                summary: summary.to_string(),
            }])
        })?;
        let all = fold(seen.iter().chain(&written));
        Ok(all.into_iter().last().expect("the incident just opened"))
    }

    /// Resolve incident `number` as `actor` (checked under the journal's lock: resolving twice
    /// is refused). Returns it resolved.
    pub fn resolve(
        &self,
        masker: Arc<Masker>,
        actor: &str,
        number: u64,
        note: &str,
    ) -> Result<Incident, IncidentError> {
        if !self.path().exists() {
            return Err(IncidentError::Unknown { number, count: 0 });
        }
        let mut j = self.writer(masker)?;
        let (written, seen) = j.append_checked(actor, |seen| {
            let all = fold(seen);
            let Some(i) = all.iter().find(|i| i.number == number) else {
                let count = all.iter().map(|i| i.number).max().unwrap_or(0);
                return Err(IncidentError::Unknown { number, count });
            };
            if let (Some(by), Some(at)) = (&i.resolved_by, i.resolved_at) {
                return Err(IncidentError::AlreadyResolved {
                    number,
                    by: by.clone(),
                    at,
                });
            }
            Ok(vec![Event::IncidentResolved {
                number,
                note: note.to_string(),
            }])
        })?;
        let all = fold(seen.iter().chain(&written));
        Ok(all
            .into_iter()
            .find(|i| i.number == number)
            .expect("the incident just resolved"))
    }

    /// Link every incident open on one of `envs` to a recovery of `release` (`kind`: `rollback`
    /// or `redeploy`; `request`: the rollback request's sequence number), as `actor`, under the
    /// journal's lock. Returns the numbers linked (none: nothing is written, and a plan without
    /// incidents gets no incidents journal).
    pub fn link(
        &self,
        actor: &str,
        envs: &[String],
        release: &str,
        kind: &str,
        request: Option<u64>,
    ) -> Result<Vec<u64>, JournalError> {
        if !self.path().exists() {
            return Ok(Vec::new());
        }
        // Only ids, names and numbers: nothing to mask.
        let mut j = self.writer(Arc::new(Masker::new(Vec::<String>::new())))?;
        let (written, _) = j.append_checked(actor, |seen| {
            Ok::<_, JournalError>(
                fold(seen)
                    .iter()
                    .filter(|i| i.is_open() && envs.contains(&i.env))
                    .map(|i| Event::IncidentLinked {
                        number: i.number,
                        release: release.to_string(),
                        recovery: kind.to_string(),
                        request,
                    })
                    .collect(),
            )
        })?;
        Ok(written
            .iter()
            .filter_map(|r| match &r.event {
                Event::IncidentLinked { number, .. } => Some(*number),
                _ => None,
            })
            .collect())
    }
}

/// Link the incidents open on `env_names` of `plan` to `release_id`, a recovery of `kind`
/// (`rollback` or `redeploy`) started by `actor`. The redeploy path calls this when it creates a
/// release of type `rollback`; rollback requests link themselves in `engine::request::submit`.
pub fn link_open_incidents(
    store: &Store,
    plan: &str,
    env_names: &[String],
    release_id: &str,
    kind: &str,
    actor: &str,
) -> Result<Vec<u64>, JournalError> {
    Incidents::of_plan(store, plan)?.link(actor, env_names, release_id, kind, None)
}

/// The release live on `env` of `plan` (a fanned-out environment whose targets differ: the
/// newest live among them), the default an incident is about.
pub fn live_release(
    store: &Store,
    plan: &crate::plan::Plan,
    env: &str,
) -> Result<Option<String>, JournalError> {
    let h = super::history::History::open(store, &plan.name)?;
    let open = h.open_releases()?;
    let rows = super::envs::places(plan, &h, &open);
    let own = rows.iter().find(|p| p.env == env && p.target.is_none());
    Ok(own
        .and_then(|p| p.live.as_ref())
        .or_else(|| {
            rows.iter()
                .filter(|p| p.env == env && p.target.is_some())
                .filter_map(|p| p.live.as_ref())
                .max_by_key(|d| d.at)
        })
        .map(|d| d.id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Arc<Masker> {
        Arc::new(Masker::new(Vec::<String>::new()))
    }

    #[test]
    fn numbers_count_up_and_resolving_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inc = Incidents::at(dir.path());
        assert!(inc.load().unwrap().is_empty());
        assert!(matches!(
            inc.resolve(none(), "a", 1, ""),
            Err(IncidentError::Unknown { number: 1, count: 0 })
        ));
        let one = inc.open(none(), "alice", "prod", Some("1.0"), "500s").unwrap();
        let two = inc.open(none(), "bob", "staging", None, "slow").unwrap();
        assert_eq!((one.number, two.number), (1, 2));
        assert_eq!(one.opened_by, "alice");
        let linked = inc
            .link("carol", &["prod".into(), "qa".into()], "1.0", "rollback", Some(7))
            .unwrap();
        assert_eq!(linked, [1]);
        let r = inc.resolve(none(), "dave", 1, "rolled back").unwrap();
        assert_eq!(r.resolved_by.as_deref(), Some("dave"));
        assert_eq!(r.note, "rolled back");
        assert!(
            r.recovery_ms().unwrap() >= 0 && r.after_first_link_ms().unwrap() <= r.recovery_ms().unwrap()
        );
        assert_eq!(r.links[0].request, Some(7));
        assert!(matches!(
            inc.resolve(none(), "dave", 1, ""),
            Err(IncidentError::AlreadyResolved { number: 1, .. })
        ));
        assert!(matches!(
            inc.resolve(none(), "dave", 3, ""),
            Err(IncidentError::Unknown { number: 3, count: 2 })
        ));
        // Resolved incidents are not linked any more.
        assert!(
            inc.link("c", &["prod".into()], "1.1", "redeploy", None)
                .unwrap()
                .is_empty()
        );
        let all = inc.load().unwrap();
        assert_eq!(all.len(), 2);
        assert!(!all[0].is_open() && all[1].is_open());
    }

    #[test]
    fn link_open_incidents_links_a_redeploy_on_the_plans_journal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            root: dir.path().to_path_buf(),
        };
        let inc = Incidents::of_plan(&store, "shop").unwrap();
        inc.open(none(), "alice", "prod", Some("2.4.0"), "down").unwrap();
        inc.open(none(), "alice", "staging", None, "slow").unwrap();
        let linked =
            link_open_incidents(&store, "shop", &["prod".into()], "2.3.1", "redeploy", "bob").unwrap();
        assert_eq!(linked, [1]);
        let all = inc.load().unwrap();
        assert_eq!(
            all[0].links,
            [Link {
                release: "2.3.1".into(),
                kind: "redeploy".into(),
                request: None,
                by: "bob".into(),
                at: all[0].links[0].at,
            }]
        );
        assert!(all[1].links.is_empty());
    }

    #[test]
    fn a_rollback_touches_the_environments_of_its_stages_that_deployed() {
        use crate::event::{Outcome, RunKey, RunKind, StageDecl};
        let decl = |id: &str, needs: &[&str], env: Option<&str>, has_rollback: bool| StageDecl {
            id: id.into(),
            needs: needs.iter().map(|n| n.to_string()).collect(),
            environment: env.map(str::to_string),
            targets: vec![],
            gates: vec![],
            has_rollback,
            retries: 0,
        };
        let mut events = vec![Event::ReleaseCreated {
            id: "1.0".into(),
            version: "1.0".into(),
            rtype: Default::default(),
            plan: "p".into(),
            plan_path: "/nowhere/flightdeck.toml".into(),
            stages: vec![
                decl("stage", &[], Some("staging"), true),
                decl("prod", &["stage"], Some("prod"), true),
                decl("dr", &["stage"], Some("dr"), false),
                decl("qa", &[], Some("qa"), true),
            ],
            gates: vec![],
            only: vec![],
        }];
        // Deployed: stage, prod, dr; qa's deploy failed.
        for (id, ok) in [("stage", true), ("prod", true), ("dr", true), ("qa", false)] {
            let run = RunKey {
                stage: id.into(),
                target: None,
                attempt: 1,
            };
            events.push(Event::RunStarted {
                run: run.clone(),
                run_kind: RunKind::Deploy,
                log: format!("logs/{id}.1.log"),
            });
            events.push(Event::RunFinished {
                run,
                run_kind: RunKind::Deploy,
                outcome: if ok { Outcome::Succeeded } else { Outcome::TimedOut },
                duration_ms: 1,
            });
        }
        let recs: Vec<Record> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| Record {
                seq: i as u64 + 1,
                ts: Utc::now(),
                actor: "driver".into(),
                prev: String::new(),
                event,
            })
            .collect();
        let st = crate::engine::state::ReleaseState::from_records(&recs);
        use crate::engine::request::rollback_envs;
        // dr has no rollback command, qa never deployed.
        assert_eq!(rollback_envs(&st, None), ["staging", "prod"]);
        assert_eq!(rollback_envs(&st, Some("prod")), ["prod"]);
        assert_eq!(rollback_envs(&st, Some("stage")), ["staging", "prod"]);
        assert!(rollback_envs(&st, Some("qa")).is_empty());
    }

    #[test]
    fn linking_without_an_incidents_journal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let inc = Incidents::at(dir.path());
        assert!(
            inc.link("a", &["prod".into()], "1.0", "rollback", None)
                .unwrap()
                .is_empty()
        );
        assert!(!inc.path().exists());
    }

    #[test]
    fn secrets_in_summaries_and_notes_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let inc = Incidents::at(dir.path());
        let m = Arc::new(Masker::new(vec!["hunter22".to_string()]));
        inc.open(m.clone(), "a", "prod", None, "token hunter22 leaked")
            .unwrap();
        inc.resolve(m, "a", 1, "rotated hunter22").unwrap();
        let text = std::fs::read_to_string(inc.path()).unwrap();
        assert!(!text.contains("hunter22"), "{text}");
    }

    #[test]
    fn a_line_that_does_not_chain_is_refused_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let inc = Incidents::at(dir.path());
        inc.open(none(), "a", "prod", None, "one").unwrap();
        inc.open(none(), "a", "prod", None, "two").unwrap();
        let text = std::fs::read_to_string(inc.path()).unwrap();
        std::fs::write(
            inc.path(),
            text.replace("\"two\"", "\"TWO\"").replace("\"one\"", "\"ONE\""),
        )
        .unwrap();
        let err = inc.load().unwrap_err();
        assert!(err.to_string().contains("incidents.jsonl:2:"), "{err}");
        let err = inc.open(none(), "a", "prod", None, "three").unwrap_err();
        assert!(err.to_string().contains("incidents.jsonl:2:"), "{err}");
    }
}
