//! A compact summary of a drift matrix for a screen: per column (an environment, or one of its
//! targets) the version it runs, how far that is from the baseline's (and the release's) version
//! in git, how many keys drift, and the first drifting keys with both values, shortened. Built
//! once from a snapshot or a fresh run, so a 20,000-key state never travels further than here.
//! No UI here: the cockpit renders an [`Overview`].

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::compare::{Column, ColumnError, ColumnKind, Mark, Matrix};
use super::report::{clean, shorten};
use super::snapshot::{END_SNAPSHOT, START_SNAPSHOT, Snapshot, saved_runs};
use crate::plan::{DriftConfig, Plan};

/// Drifting keys kept per column (the rest are only counted).
pub const KEYS_KEPT: usize = 100;
/// Characters kept of a key or a value (longer ones end with `…`).
pub const TEXT_KEPT: usize = 120;

/// How far one version is from another in git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distance {
    /// What it is compared with (`staging`, `release 2.4.0`).
    pub other: String,
    /// Commits this one has that the other lacks; `None`: either version is unknown to git.
    pub ahead: Option<usize>,
    /// Commits the other has that this one lacks.
    pub behind: Option<usize>,
}

impl Distance {
    /// `2 commits behind staging`, `1 commit ahead of staging`, `1 ahead of and 2 behind
    /// staging`, `the same commit as staging`, `not comparable with staging`.
    pub fn text(&self) -> String {
        let o = &self.other;
        let commits = |n: usize| format!("{n} commit{}", if n == 1 { "" } else { "s" });
        match (self.ahead, self.behind) {
            (Some(0), Some(0)) => format!("the same commit as {o}"),
            (Some(0), Some(b)) => format!("{} behind {o}", commits(b)),
            (Some(a), Some(0)) => format!("{} ahead of {o}", commits(a)),
            (Some(a), Some(b)) => format!("{a} ahead of and {b} behind {o}"),
            _ => format!("not comparable with {o}"),
        }
    }
}

/// One drifting key of a column: the baseline's value and the column's (shortened, control
/// characters escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDiff {
    pub key: String,
    /// [`Mark::Differs`], [`Mark::Missing`] or [`Mark::Extra`].
    pub mark: Mark,
    pub baseline: Option<String>,
    pub value: Option<String>,
}

/// One column of the matrix, summarized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRow {
    /// `env` or `env/target`.
    pub column: String,
    pub env: String,
    pub target: Option<String>,
    /// The column everything is compared with.
    pub baseline: bool,
    /// The value of the plan's `version_key`.
    pub version: Option<String>,
    /// Its distance from the baseline's version (when both are known to git).
    pub vs_baseline: Option<Distance>,
    /// Its distance from the release's version (when the release's version is a known tag).
    pub vs_release: Option<Distance>,
    pub differs: usize,
    pub missing: usize,
    pub extra: usize,
    /// The probe failed (its message): nothing can be said about this column.
    pub error: Option<String>,
    /// The baseline could be read, so the counts mean something.
    pub compared: bool,
    /// The first [`KEYS_KEPT`] drifting keys, in key order.
    pub diffs: Vec<KeyDiff>,
    /// Drifting keys not kept in `diffs`.
    pub more: usize,
}

impl EnvRow {
    /// Keys differing, missing or extra.
    pub fn drifting(&self) -> usize {
        self.differs + self.missing + self.extra
    }

    /// Read, compared, and nothing drifts.
    pub fn in_sync(&self) -> bool {
        self.error.is_none() && self.compared && self.drifting() == 0
    }
}

/// A drift matrix, summarized for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Where it came from (`drift-end.json of 2.4.0`, `saved run ...`, `probed now`).
    pub source: String,
    pub taken_at: DateTime<Utc>,
    /// The baseline column's name, if there is one.
    pub baseline: Option<String>,
    /// The key naming the running version.
    pub version_key: String,
    /// Keys compared (ignored keys left out).
    pub keys: usize,
    /// One per column, the baseline first.
    pub rows: Vec<EnvRow>,
}

impl Overview {
    /// Columns that drift from the baseline.
    pub fn drifting(&self) -> usize {
        self.rows.iter().filter(|r| r.drifting() > 0).count()
    }

    /// Columns whose probe failed.
    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.error.is_some()).count()
    }
}

/// The newest drift state for a release: its `drift-end.json`, else its `drift-start.json`, else
/// the newest run saved in `runs_dir` (`plans/<plan>/drift/`).
pub fn newest_snapshot(release_dir: Option<&Path>, runs_dir: &Path) -> Option<PathBuf> {
    if let Some(dir) = release_dir {
        for name in [END_SNAPSHOT, START_SNAPSHOT] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    saved_runs(runs_dir).pop()
}

/// The probe columns of a snapshot as matrix columns (a column that failed then carries its
/// error).
pub fn snapshot_columns(snap: &Snapshot) -> Vec<Column> {
    snap.columns
        .iter()
        .map(|c| Column {
            name: c.name.clone(),
            env: c.env.clone(),
            target: c.target.clone(),
            kind: ColumnKind::Probe,
            state: match &c.error {
                Some(e) => Err(ColumnError {
                    column: c.name.clone(),
                    message: e.strip_prefix(&format!("{}: ", c.name)).unwrap_or(e).to_string(),
                    stderr: Vec::new(),
                }),
                None => Ok(c.state.clone()),
            },
        })
        .collect()
}

/// Which of `columns` is the plan's baseline: the column named like it (`env/target`), else the
/// environment's first column; without a plan (or a match), the first column.
pub fn baseline_index(plan: Option<&Plan>, columns: &[Column]) -> Option<usize> {
    if columns.is_empty() {
        return None;
    }
    let Some(spec) = plan.and_then(Plan::drift_baseline) else {
        return Some(0);
    };
    columns
        .iter()
        .position(|c| c.name == spec)
        .or_else(|| columns.iter().position(|c| c.env == spec))
        .or(Some(0))
}

/// Summarize a snapshot compared with the plan's baseline (its ignore patterns applied).
pub fn of_snapshot(
    plan: Option<&Plan>,
    snap: &Snapshot,
    release_version: Option<&str>,
    source: String,
) -> Overview {
    let columns = snapshot_columns(snap);
    let baseline = baseline_index(plan, &columns);
    let ignore = plan.map(super::ignore_of).unwrap_or_default();
    let matrix = Matrix::build(columns, baseline, &ignore);
    summarize(plan, &matrix, release_version, source, snap.taken_at)
}

/// Summarize `matrix`: versions (the plan's `version_key`), their distance in git from the
/// baseline's and the release's version (when the plan is in a repository), drift counts and the
/// first drifting keys of each column.
pub fn summarize(
    plan: Option<&Plan>,
    matrix: &Matrix,
    release_version: Option<&str>,
    source: String,
    taken_at: DateTime<Utc>,
) -> Overview {
    let version_key = plan.map_or(DriftConfig::DEFAULT_VERSION_KEY, |p| p.drift.version_key.as_str());
    let columns = matrix.columns();
    let base = matrix.baseline();
    let version_of = |c: &Column| {
        c.state
            .as_ref()
            .ok()
            .and_then(|s| s.get(version_key))
            .map(|v| shorten(&clean(v), TEXT_KEPT).into_owned())
    };
    let mut rows: Vec<EnvRow> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| EnvRow {
            column: c.name.clone(),
            env: c.env.clone(),
            target: c.target.clone(),
            baseline: Some(i) == base,
            version: version_of(c),
            vs_baseline: None,
            vs_release: None,
            differs: 0,
            missing: 0,
            extra: 0,
            error: c.state.as_ref().err().map(|e| e.message.clone()),
            compared: false,
            diffs: Vec::new(),
            more: 0,
        })
        .collect();
    // Counts from the matrix's summaries (one per column but the baseline, in column order).
    let others = (0..columns.len()).filter(|i| Some(*i) != base);
    for (i, s) in others.zip(matrix.summaries()) {
        let r = &mut rows[i];
        r.differs = s.differs;
        r.missing = s.missing;
        r.extra = s.extra;
        r.compared = s.compared && !s.unavailable;
    }
    if let Some(b) = base {
        rows[b].compared = columns[b].state.is_ok();
    }
    // The drifting keys, row by row of the matrix.
    for row in 0..matrix.row_count() {
        if !matrix.row_drifts(row) {
            continue;
        }
        for (c, r) in rows.iter_mut().enumerate() {
            let mark = matrix.mark(row, c);
            if !mark.is_drift() {
                continue;
            }
            if r.diffs.len() >= KEYS_KEPT {
                r.more += 1;
                continue;
            }
            let text = |v: Option<&str>| v.map(|v| shorten(&clean(v), TEXT_KEPT).into_owned());
            r.diffs.push(KeyDiff {
                key: shorten(&clean(matrix.key(row)), TEXT_KEPT).into_owned(),
                mark,
                baseline: text(matrix.baseline_value(row)),
                value: text(matrix.cell(row, c).value),
            });
        }
    }
    // Versions in git (best effort: no repository, no distances).
    if let Some(plan) = plan
        && rows.iter().any(|r| r.version.is_some())
        && let Ok(repo) = crate::git::Repo::open(plan)
    {
        let raw = |c: &Column| {
            c.state
                .as_ref()
                .ok()
                .and_then(|s| s.get(version_key))
                .map(str::to_string)
        };
        let base_version = base.and_then(|b| raw(&columns[b]).map(|v| (columns[b].name.clone(), v)));
        let release = release_version.filter(|v| repo.resolve(v).is_some());
        for (c, r) in columns.iter().zip(rows.iter_mut()) {
            let Some(v) = raw(c) else { continue };
            if let Some((bname, bv)) = &base_version
                && !r.baseline
            {
                let d = repo.version_drift(&c.name, &v, bname, bv);
                r.vs_baseline = Some(Distance {
                    other: bname.clone(),
                    ahead: d.ahead,
                    behind: d.behind,
                });
            }
            if let Some(rv) = release {
                let d = repo.version_drift(&c.name, &v, "release", rv);
                r.vs_release = Some(Distance {
                    other: format!("release {rv}"),
                    ahead: d.ahead,
                    behind: d.behind,
                });
            }
        }
    }
    Overview {
        source,
        taken_at,
        baseline: base.map(|b| columns[b].name.clone()),
        version_key: version_key.to_string(),
        keys: matrix.row_count(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::State;
    use crate::drift::compare::Ignore;

    fn col(name: &str, pairs: &[(&str, &str)]) -> Column {
        let (env, target) = match name.split_once('/') {
            Some((e, t)) => (e.to_string(), Some(t.to_string())),
            None => (name.to_string(), None),
        };
        Column {
            name: name.into(),
            env,
            target,
            kind: ColumnKind::Probe,
            state: Ok(State::from_pairs(pairs.iter().copied()).unwrap()),
        }
    }

    #[test]
    fn summarizes_counts_versions_and_keys() {
        let mut broken = col("prod/us", &[]);
        broken.state = Err(ColumnError {
            column: "prod/us".into(),
            message: "exit 3".into(),
            stderr: vec![],
        });
        let m = Matrix::build(
            vec![
                col("staging", &[("version", "1.2.0"), ("a", "1"), ("b", "2")]),
                col("prod/eu", &[("version", "1.1.0"), ("a", "1"), ("c", "x")]),
                broken,
            ],
            Some(0),
            &Ignore::default(),
        );
        let o = summarize(None, &m, None, "test".into(), Utc::now());
        assert_eq!(o.baseline.as_deref(), Some("staging"));
        assert_eq!(o.rows.len(), 3);
        let eu = &o.rows[1];
        assert_eq!(eu.version.as_deref(), Some("1.1.0"));
        assert_eq!((eu.differs, eu.missing, eu.extra), (1, 1, 1));
        assert_eq!(eu.diffs.len(), 3);
        assert_eq!(eu.diffs[2].key, "version");
        assert_eq!(eu.diffs[2].baseline.as_deref(), Some("1.2.0"));
        assert_eq!(eu.diffs[2].value.as_deref(), Some("1.1.0"));
        assert_eq!(o.rows[2].error.as_deref(), Some("exit 3"));
        assert!(!o.rows[2].in_sync());
        assert!(o.rows[0].baseline && o.rows[0].compared);
        assert_eq!((o.drifting(), o.failed()), (1, 1));
    }

    #[test]
    fn keeps_a_bounded_number_of_keys() {
        let many: Vec<(String, String)> = (0..500).map(|i| (format!("k{i}"), i.to_string())).collect();
        let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let m = Matrix::build(vec![col("a", &pairs), col("b", &[])], Some(0), &Ignore::default());
        let o = summarize(None, &m, None, String::new(), Utc::now());
        assert_eq!(o.rows[1].missing, 500);
        assert_eq!(
            (o.rows[1].diffs.len(), o.rows[1].more),
            (KEYS_KEPT, 500 - KEYS_KEPT)
        );
    }

    #[test]
    fn distances_read_as_words() {
        let d = |a, b| Distance {
            other: "staging".into(),
            ahead: a,
            behind: b,
        };
        assert_eq!(d(Some(0), Some(2)).text(), "2 commits behind staging");
        assert_eq!(d(Some(1), Some(0)).text(), "1 commit ahead of staging");
        assert_eq!(d(Some(1), Some(2)).text(), "1 ahead of and 2 behind staging");
        assert_eq!(d(Some(0), Some(0)).text(), "the same commit as staging");
        assert_eq!(d(None, None).text(), "not comparable with staging");
    }
}
