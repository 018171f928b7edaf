//! Drift snapshots: the full key/value state of every probe column at one moment, as JSON.
//!
//! `flightdeck drift` saves each run as `<data>/plans/<plan>/drift/<UTC time>.json`; the engine
//! records one at a release's start and end (`drift-start.json`, `drift-end.json` in the release
//! folder). [`changes_since`] compares a snapshot with the current state.
//!
//! ```json
//! {"taken_at": "2025-01-31T12:00:00.123Z", "plan": "storefront",
//!  "columns": [{"name": "prod/eu-west", "env": "prod", "target": "eu-west",
//!               "state": {"version": "2.4.1", "db.pool": "20"}},
//!              {"name": "prod/us-east", "env": "prod", "target": "us-east",
//!               "error": "prod/us-east: exit 3", "state": {}}]}
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DriftError;
use super::compare::{Column, ColumnKind, Ignore, natural_cmp};
use super::state::{State, push_json_str};

/// A release's snapshot taken when it starts, in its folder.
pub const START_SNAPSHOT: &str = "drift-start.json";
/// A release's snapshot taken when it ends, in its folder.
pub const END_SNAPSHOT: &str = "drift-end.json";
/// The folder of a plan's data directory (`<data>/plans/<plan>/`) holding saved runs.
pub const RUNS_DIR: &str = "drift";

/// A snapshot as read back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Snapshot {
    /// When the probes ran.
    pub taken_at: DateTime<Utc>,
    /// The plan's name.
    pub plan: String,
    /// The probe columns, in the order they were shown.
    pub columns: Vec<SnapshotColumn>,
}

/// One probe column of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SnapshotColumn {
    /// `env` or `env/target`.
    pub name: String,
    pub env: String,
    #[serde(default)]
    pub target: Option<String>,
    /// Why the column could not be read then (its state is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub state: State,
}

impl Snapshot {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&SnapshotColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Write the probe columns of `columns` (desired-state columns are left out) to `path`, through
/// a temporary file renamed into place, so a reader never sees half a snapshot. Streams from the
/// columns' states: nothing is copied.
pub fn write_snapshot(
    path: &Path,
    plan: &str,
    taken_at: DateTime<Utc>,
    columns: &[Column],
) -> Result<(), DriftError> {
    let io = |source| DriftError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        buf.extend_from_slice(b"{\"taken_at\":");
        serde_json::to_writer(&mut buf, &taken_at)?;
        buf.extend_from_slice(b",\"plan\":");
        push_json_str(&mut buf, plan);
        buf.extend_from_slice(b",\"columns\":[");
        let probes = columns.iter().filter(|c| c.kind == ColumnKind::Probe);
        for (i, c) in probes.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"name\":");
            push_json_str(&mut buf, &c.name);
            buf.extend_from_slice(b",\"env\":");
            push_json_str(&mut buf, &c.env);
            buf.extend_from_slice(b",\"target\":");
            match &c.target {
                Some(t) => push_json_str(&mut buf, t),
                None => buf.extend_from_slice(b"null"),
            }
            if let Err(e) = &c.state {
                buf.extend_from_slice(b",\"error\":");
                push_json_str(&mut buf, &e.to_string());
            }
            buf.extend_from_slice(b",\"state\":");
            match &c.state {
                Ok(state) => state.push_json(&mut buf),
                Err(_) => buf.extend_from_slice(b"{}"),
            }
            buf.push(b'}');
            file.write_all(&buf)?;
            buf.clear();
        }
        buf.extend_from_slice(b"]}\n");
        file.write_all(&buf)?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Read a snapshot written by [`write_snapshot`].
pub fn load_snapshot(path: &Path) -> Result<Snapshot, DriftError> {
    let text =
        crate::files::read_bounded(path, crate::files::MAX_INPUT).map_err(|source| DriftError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::from_slice(&text).map_err(|e| DriftError::Snapshot {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Where a run taken at `taken_at` is saved: `<runs_dir>/<UTC time>.json`, with `-2`, `-3`...
/// when a run of the same millisecond is there already.
pub fn run_path(runs_dir: &Path, taken_at: DateTime<Utc>) -> PathBuf {
    let stem = taken_at.format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let mut path = runs_dir.join(format!("{stem}.json"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = runs_dir.join(format!("{stem}-{n}.json"));
    }
    path
}

/// The saved runs in `runs_dir`, oldest first.
pub fn saved_runs(runs_dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(runs_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    // `<time>.json`, then `<time>-2.json`, `<time>-3.json`...
    let key = |p: &PathBuf| -> (String, u32) {
        let stem = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        match stem
            .rsplit_once('-')
            .and_then(|(base, n)| Some((base.to_string(), n.parse().ok()?)))
        {
            Some(k) => k,
            None => (stem, 1),
        }
    };
    runs.sort_by_cached_key(key);
    runs
}

/// How many saved runs `flightdeck drift` keeps per plan (each is a full snapshot).
pub const KEEP_RUNS: usize = 200;

/// Delete all but the newest `keep` saved runs. Best effort: a run that cannot be removed now
/// is removed by a later call.
pub fn prune_runs(runs_dir: &Path, keep: usize) {
    let runs = saved_runs(runs_dir);
    let extra = runs.len().saturating_sub(keep);
    for old in &runs[..extra] {
        let _ = std::fs::remove_file(old);
    }
}

/// One key that changed: `old` is `None` for an added key, `new` for a removed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    /// The value in the snapshot.
    pub old: Option<String>,
    /// The value now.
    pub new: Option<String>,
}

/// How a column compares with its snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum Since {
    /// Both were read; see the changes.
    Compared,
    /// The snapshot has no such column (a new environment or target).
    NotInSnapshot,
    /// The column could not be read then.
    WasUnavailable(String),
    /// The column cannot be read now.
    Unavailable(String),
}

/// What changed in one column since a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnChanges {
    /// The column's name (`env` or `env/target`).
    pub column: String,
    #[serde(flatten)]
    pub since: Since,
    /// Changed, added and removed keys, in natural key order.
    pub changes: Vec<Change>,
}

impl ColumnChanges {
    /// `prod/us-east: 1 changed, 2 added`, `prod/eu-west: no changes`, ...
    pub fn summary(&self) -> String {
        let what = match &self.since {
            Since::NotInSnapshot => "not in the snapshot".to_string(),
            Since::WasUnavailable(e) => format!("unavailable in the snapshot ({e})"),
            Since::Unavailable(e) => format!("unavailable now ({e})"),
            Since::Compared if self.changes.is_empty() => "no changes".to_string(),
            Since::Compared => {
                let count = |f: fn(&Change) -> bool| self.changes.iter().filter(|c| f(c)).count();
                let changed = count(|c| c.old.is_some() && c.new.is_some());
                let added = count(|c| c.old.is_none());
                let removed = count(|c| c.new.is_none());
                let mut parts = Vec::new();
                for (n, word) in [(changed, "changed"), (added, "added"), (removed, "removed")] {
                    if n > 0 {
                        parts.push(format!("{n} {word}"));
                    }
                }
                parts.join(", ")
            }
        };
        format!("{}: {what}", self.column)
    }
}

/// What changed in each probe column of `now` since `old` (keys matching `ignore` left out).
pub fn changes_since(old: &Snapshot, now: &[Column], ignore: &Ignore) -> Vec<ColumnChanges> {
    let mut out = Vec::new();
    for column in now.iter().filter(|c| c.kind == ColumnKind::Probe) {
        let (since, changes) = match (old.column(&column.name), &column.state) {
            (None, _) => (Since::NotInSnapshot, Vec::new()),
            (Some(_), Err(e)) => (Since::Unavailable(e.message.clone()), Vec::new()),
            (Some(then), Ok(_)) if then.error.is_some() => (
                Since::WasUnavailable(then.error.clone().unwrap_or_default()),
                Vec::new(),
            ),
            (Some(then), Ok(state)) => (Since::Compared, diff(&then.state, state, ignore)),
        };
        out.push(ColumnChanges {
            column: column.name.clone(),
            since,
            changes,
        });
    }
    out
}

/// Keys changed, added and removed from `then` to `now`.
fn diff(then: &State, now: &State, ignore: &Ignore) -> Vec<Change> {
    fn map(s: &State) -> HashMap<&str, &str> {
        let mut m = HashMap::with_capacity(s.len());
        for (k, v) in s.iter() {
            m.insert(k, v);
        }
        m
    }
    let (old, new) = (map(then), map(now));
    let mut changes: Vec<Change> = Vec::new();
    for (&k, &v) in &new {
        match old.get(k) {
            Some(&o) if o == v => {}
            o => changes.push(Change {
                key: k.to_string(),
                old: o.map(|s| s.to_string()),
                new: Some(v.to_string()),
            }),
        }
    }
    for (&k, &o) in &old {
        if !new.contains_key(k) {
            changes.push(Change {
                key: k.to_string(),
                old: Some(o.to_string()),
                new: None,
            });
        }
    }
    changes.retain(|c| ignore.is_empty() || !ignore.matches(&c.key));
    changes.sort_by(|a, b| natural_cmp(&a.key, &b.key));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::compare::ColumnError;

    use crate::drift::compare::test_column as column;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-01-31T12:00:00.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn writes_and_reads_back_probe_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/drift-start.json");
        let failed = Column {
            state: Err(ColumnError {
                column: "prod/b".into(),
                message: "exit 3".into(),
                stderr: vec![],
            }),
            ..column("prod/b", &[])
        };
        let expected = Column {
            kind: ColumnKind::Expected,
            ..column("prod (expected)", &[("x", "1")])
        };
        let cols = vec![column("prod/a", &[("k", "v"), ("n", "1")]), failed, expected];
        write_snapshot(&path, "shop", at(), &cols).unwrap();
        let snap = load_snapshot(&path).unwrap();
        assert_eq!(snap.plan, "shop");
        assert_eq!(snap.taken_at, at());
        assert_eq!(snap.columns.len(), 2, "the expected column is not saved");
        assert_eq!(snap.columns[0].name, "prod/a");
        assert_eq!(snap.columns[0].target.as_deref(), Some("a"));
        assert_eq!(snap.columns[0].state.get("n"), Some("1"));
        assert_eq!(snap.columns[1].error.as_deref(), Some("prod/b: exit 3"));
        assert!(snap.columns[1].state.is_empty());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_bad_snapshot_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{\"nope\": 1}").unwrap();
        let e = load_snapshot(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: not a drift snapshot: ", path.display())),
            "{e}"
        );
        let e = load_snapshot(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }

    #[test]
    fn only_the_newest_runs_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut made = Vec::new();
        for i in 0..5 {
            let p = run_path(dir.path(), at() + chrono::Duration::seconds(i));
            std::fs::write(&p, "{}").unwrap();
            made.push(p);
        }
        prune_runs(dir.path(), 3);
        assert_eq!(saved_runs(dir.path()), made[2..]);
    }

    #[test]
    fn run_paths_are_timestamps_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let first = run_path(dir.path(), at());
        assert_eq!(first.file_name().unwrap(), "20250131T120000.123Z.json");
        std::fs::write(&first, "{}").unwrap();
        let second = run_path(dir.path(), at());
        assert_eq!(second.file_name().unwrap(), "20250131T120000.123Z-2.json");
        std::fs::write(&second, "{}").unwrap();
        assert_eq!(saved_runs(dir.path()), [first, second]);
    }

    #[test]
    fn changes_since_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let then = vec![
            column(
                "prod/a",
                &[
                    ("same", "1"),
                    ("changed", "old"),
                    ("gone", "x"),
                    ("t.updated_at", "1"),
                ],
            ),
            column("prod/b", &[("k", "v")]),
        ];
        write_snapshot(&path, "shop", at(), &then).unwrap();
        let snap = load_snapshot(&path).unwrap();
        let now = vec![
            column(
                "prod/a",
                &[
                    ("same", "1"),
                    ("changed", "new"),
                    ("new", "5"),
                    ("t.updated_at", "2"),
                ],
            ),
            column("prod/b", &[("k", "v")]),
            column("prod/c", &[("k", "v")]),
        ];
        let changes = changes_since(&snap, &now, &Ignore::new(["*.updated_at"]));
        assert_eq!(changes.len(), 3);
        assert_eq!(
            changes[0].changes,
            [
                Change {
                    key: "changed".into(),
                    old: Some("old".into()),
                    new: Some("new".into())
                },
                Change {
                    key: "gone".into(),
                    old: Some("x".into()),
                    new: None
                },
                Change {
                    key: "new".into(),
                    old: None,
                    new: Some("5".into())
                },
            ]
        );
        assert_eq!(changes[0].summary(), "prod/a: 1 changed, 1 added, 1 removed");
        assert_eq!(changes[1].summary(), "prod/b: no changes");
        assert_eq!(changes[2].summary(), "prod/c: not in the snapshot");
        let json = serde_json::to_value(&changes[2]).unwrap();
        assert_eq!(json["status"], "not_in_snapshot");
    }
}
