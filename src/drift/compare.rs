//! The drift matrix: a row per key (the union over every column, ignored keys left out, sorted), a
//! column per environment or `env/target` (plus one per desired-state file), each cell compared
//! with the baseline column.
//!
//! Built in one pass per column: keys are interned once (a hash map from text to a number), each
//! column keeps a dense `key -> entry` index, and the rows are sorted once. Cells are computed
//! when asked for, so nothing is copied per cell.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use serde::Serialize;

use super::state::State;

/// What a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// A probe's output: the environment's (or target's) current state.
    Probe,
    /// The environment's desired-state file (`expect`).
    Expected,
}

/// A column that could not be read: a failed probe, a timeout, output in no known format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnError {
    /// The column's name (`prod/us-east`, `prod (expected)`).
    pub column: String,
    /// What went wrong, e.g. `exit 3`, `timed out after 30s`, `line 3: expected key=value, ...`.
    pub message: String,
    /// The last lines the probe wrote to stderr (at most [`super::probe::STDERR_LINES`]).
    pub stderr: Vec<String>,
}

impl std::fmt::Display for ColumnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.column, self.message)?;
        for line in &self.stderr {
            write!(f, "\n  stderr: {line}")?;
        }
        Ok(())
    }
}

/// One column of the matrix, with its state or the error that left it without one.
#[derive(Debug, Clone)]
pub struct Column {
    /// `env`, `env/target` or `env (expected)`.
    pub name: String,
    /// The environment the column belongs to.
    pub env: String,
    /// The target a probe column ran for.
    pub target: Option<String>,
    pub kind: ColumnKind,
    /// `Err`: the column could not be read; its cells are [`Mark::Unavailable`].
    pub state: Result<State, ColumnError>,
}

impl Column {
    /// The name of a probe column: `env` or `env/target`.
    pub fn probe_name(env: &str, target: Option<&str>) -> String {
        match target {
            Some(t) => format!("{env}/{t}"),
            None => env.to_string(),
        }
    }

    /// The name of an environment's desired-state column: `env (expected)`.
    pub fn expected_name(env: &str) -> String {
        format!("{env} (expected)")
    }
}

/// A cell compared with the baseline column's cell in the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Mark {
    /// A value of the baseline column itself.
    Baseline,
    /// The same value as the baseline.
    Same,
    /// Another value than the baseline's.
    Differs,
    /// The baseline has the key, this column does not.
    Missing,
    /// This column has the key, the baseline does not.
    Extra,
    /// Neither this column nor the baseline has the key.
    Absent,
    /// The baseline could not be read, so the value cannot be compared.
    Unknown,
    /// This column could not be read.
    Unavailable,
}

impl Mark {
    /// Whether the cell is drift: differs, missing or extra.
    pub fn is_drift(self) -> bool {
        matches!(self, Mark::Differs | Mark::Missing | Mark::Extra)
    }

    /// The mark's name in JSON: `baseline`, `same`, `differs`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Baseline => "baseline",
            Mark::Same => "same",
            Mark::Differs => "differs",
            Mark::Missing => "missing",
            Mark::Extra => "extra",
            Mark::Absent => "absent",
            Mark::Unknown => "unknown",
            Mark::Unavailable => "unavailable",
        }
    }
}

/// One cell: the column's value for the row's key (if it has one) and how it compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    /// The column's value; for a cell that is the same as the baseline, the baseline's.
    pub value: Option<&'a str>,
    pub mark: Mark,
}

/// How one column compares with the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The column's name.
    pub column: String,
    /// Keys with the baseline's value.
    pub same: usize,
    /// Keys with another value.
    pub differs: usize,
    /// Keys of the baseline this column lacks.
    pub missing: usize,
    /// Keys this column has and the baseline lacks.
    pub extra: usize,
    /// The column could not be read (see the matrix's errors).
    pub unavailable: bool,
    /// Whether there was a baseline to compare with (false when it could not be read).
    pub compared: bool,
}

impl Summary {
    /// Nothing differs, is missing or is extra (and the column and the baseline were read).
    pub fn in_sync(&self) -> bool {
        !self.unavailable && self.compared && self.differs + self.missing + self.extra == 0
    }

    /// `prod/us-east: 3 differ, 1 missing`, `prod/eu-west: in sync`, `prod/ap-south: unavailable`.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.differs > 0 {
            let verb = if self.differs == 1 { "differs" } else { "differ" };
            parts.push(format!("{} {verb}", self.differs));
        }
        if self.missing > 0 {
            parts.push(format!("{} missing", self.missing));
        }
        if self.extra > 0 {
            parts.push(format!("{} extra", self.extra));
        }
        let what = if self.unavailable {
            "unavailable".to_string()
        } else if !self.compared {
            "not compared (the baseline is unavailable)".to_string()
        } else if parts.is_empty() {
            "in sync".to_string()
        } else {
            parts.join(", ")
        };
        format!("{}: {what}", self.column)
    }
}

/// Glob patterns on keys: `*` matches any run of characters (dots included), `?` one character,
/// everything else itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<String>,
}

impl Ignore {
    /// Ignore keys matching any of `patterns`.
    pub fn new(patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Ignore {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether some pattern matches all of `key`.
    pub fn matches(&self, key: &str) -> bool {
        self.patterns.iter().any(|p| glob_match(p, key))
    }

    /// Whether there are no patterns (nothing is ignored).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// Whether `pattern` matches all of `text` (`*`: any run of characters, `?`: one character).
/// Linear in practice: one backtracking point (the last `*`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // After the last `*` seen: the pattern position after it, and where in the text it resumes.
    let mut star: Option<(usize, usize)> = None;
    let char_len = |b: u8| match b {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, ti));
                continue;
            }
            Some(b'?') => {
                pi += 1;
                ti += char_len(t[ti]);
                continue;
            }
            Some(&c) if c == t[ti] => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                let next = st + char_len(t[st]);
                star = Some((sp, next));
                pi = sp;
                ti = next;
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Keys in natural order: runs of digits compare as numbers (`a.2` before `a.10`), everything else
/// byte by byte; ties (`a.01` and `a.1`) fall back to plain byte order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < x.len() && x[i].is_ascii_digit() {
                i += 1;
            }
            while j < y.len() && y[j].is_ascii_digit() {
                j += 1;
            }
            let (mut ni, mut nj) = (&x[si..i], &y[sj..j]);
            while ni.len() > 1 && ni[0] == b'0' {
                ni = &ni[1..];
            }
            while nj.len() > 1 && nj[0] == b'0' {
                nj = &nj[1..];
            }
            let ord = ni.len().cmp(&nj.len()).then_with(|| ni.cmp(nj));
            if ord != Ordering::Equal {
                return ord;
            }
            continue;
        }
        if x[i] != y[j] {
            return x[i].cmp(&y[j]);
        }
        i += 1;
        j += 1;
    }
    (x.len() - i).cmp(&(y.len() - j)).then_with(|| x.cmp(y))
}

/// An entry index meaning "this column does not have the key".
const NONE: u32 = u32::MAX;

/// The comparison of every column with the baseline column.
///
/// Marks are computed once, column by column in the order the probes printed their keys (so the
/// baseline's values are read in that order too, sequentially when the orders agree), and kept
/// row-major, one byte per cell. A cell that is the same as the baseline shows the baseline's
/// value, so reading a row touches each column's values only where they differ.
#[derive(Debug)]
pub struct Matrix {
    columns: Vec<Column>,
    baseline: Option<usize>,
    /// Interned keys: key id -> text.
    keys: Vec<Box<str>>,
    /// Key ids of the rows, in natural order; ignored keys are not rows.
    rows: Vec<u32>,
    /// Per column: key id -> index of the key's (last) entry in the column's state, or [`NONE`].
    index: Vec<Vec<u32>>,
    /// `rows x columns`, row-major.
    marks: Vec<Mark>,
    /// Per row: whether some cell drifts.
    row_drift: Vec<bool>,
    /// One per column except the baseline, in column order.
    summaries: Vec<Summary>,
}

impl Matrix {
    /// Compare `columns` with the column at `baseline` (`None`: nothing to compare with; every
    /// value is [`Mark::Unknown`]). Keys matching `ignore` are left out.
    pub fn build(columns: Vec<Column>, baseline: Option<usize>, ignore: &Ignore) -> Matrix {
        let baseline = baseline.filter(|&b| b < columns.len());
        let ncols = columns.len();

        // Intern the keys: per column, entry -> key id and key id -> (last) entry.
        let largest = columns
            .iter()
            .filter_map(|c| c.state.as_ref().ok())
            .map(State::len)
            .max()
            .unwrap_or(0);
        let mut ids: HashMap<Box<str>, u32, FxBuild> =
            HashMap::with_capacity_and_hasher(largest, FxBuild::new());
        let mut index: Vec<Vec<u32>> = Vec::with_capacity(ncols);
        let mut key_ids: Vec<Vec<u32>> = Vec::with_capacity(ncols);
        // The last column read: probes usually print their keys in the same order, so the key at
        // the same position there is the first guess (a comparison instead of a hash lookup).
        let mut previous: Option<usize> = None;
        for (c, column) in columns.iter().enumerate() {
            let mut idx: Vec<u32> = Vec::new();
            let mut of_entry: Vec<u32> = Vec::new();
            if let Ok(state) = &column.state {
                idx.reserve(state.len());
                of_entry.reserve_exact(state.len());
                let guess = previous.and_then(|p| Some((columns[p].state.as_ref().ok()?, &key_ids[p])));
                for (entry, (key, _)) in state.iter().enumerate() {
                    let guessed = guess.and_then(|(state, ids)| {
                        let id = *ids.get(entry)?;
                        (state.entry(entry).0 == key).then_some(id)
                    });
                    let id = match guessed.or_else(|| ids.get(key).copied()) {
                        Some(id) => id,
                        None => {
                            let id = ids.len() as u32;
                            ids.insert(key.into(), id);
                            id
                        }
                    };
                    of_entry.push(id);
                    let id = id as usize;
                    if id >= idx.len() {
                        idx.resize(id + 1, NONE);
                    }
                    idx[id] = entry as u32;
                }
            }
            if column.state.is_ok() {
                previous = Some(c);
            }
            index.push(idx);
            key_ids.push(of_entry);
        }
        let mut keys: Vec<Box<str>> = vec![Box::from(""); ids.len()];
        for (key, id) in ids {
            keys[id as usize] = key;
        }

        // Rows: every key not ignored, in natural order.
        let mut rows: Vec<u32> = (0..keys.len() as u32)
            .filter(|&id| ignore.is_empty() || !ignore.matches(&keys[id as usize]))
            .collect();
        rows.sort_unstable_by(|&a, &b| natural_cmp(&keys[a as usize], &keys[b as usize]));
        let mut row_of = vec![NONE; keys.len()];
        for (r, &id) in rows.iter().enumerate() {
            row_of[id as usize] = r as u32;
        }

        // Marks, column by column, in each column's own order.
        let mut marks = vec![Mark::Absent; rows.len() * ncols];
        let base = baseline.and_then(|b| columns[b].state.as_ref().ok().map(|s| (b, s)));
        for (c, column) in columns.iter().enumerate() {
            let state = match &column.state {
                Ok(s) => s,
                Err(_) => {
                    for r in 0..rows.len() {
                        marks[r * ncols + c] = Mark::Unavailable;
                    }
                    continue;
                }
            };
            let idx = &index[c];
            let live = |e: usize, id: u32| idx[id as usize] == e as u32 && row_of[id as usize] != NONE;
            match base {
                Some((b, _)) if b == c => {
                    for (e, &id) in key_ids[c].iter().enumerate() {
                        if live(e, id) {
                            marks[row_of[id as usize] as usize * ncols + c] = Mark::Baseline;
                        }
                    }
                }
                None => {
                    for (e, &id) in key_ids[c].iter().enumerate() {
                        if live(e, id) {
                            marks[row_of[id as usize] as usize * ncols + c] = Mark::Unknown;
                        }
                    }
                }
                Some((b, base_state)) => {
                    let base_idx = &index[b];
                    for (e, &id) in key_ids[c].iter().enumerate() {
                        if !live(e, id) {
                            continue;
                        }
                        let be = base_idx.get(id as usize).copied().unwrap_or(NONE);
                        let mark = if be == NONE {
                            Mark::Extra
                        } else if state.same_value(e, base_state, be as usize) {
                            Mark::Same
                        } else {
                            Mark::Differs
                        };
                        marks[row_of[id as usize] as usize * ncols + c] = mark;
                    }
                    // Keys of the baseline this column lacks.
                    for (e, &id) in key_ids[b].iter().enumerate() {
                        let r = row_of[id as usize];
                        if r == NONE || base_idx[id as usize] != e as u32 {
                            continue;
                        }
                        let cell = &mut marks[r as usize * ncols + c];
                        if *cell == Mark::Absent {
                            *cell = Mark::Missing;
                        }
                    }
                }
            }
        }

        // Summaries and rows that drift.
        let compared = base.is_some();
        let mut row_drift = vec![false; rows.len()];
        let mut summaries = Vec::with_capacity(ncols);
        for (c, column) in columns.iter().enumerate() {
            if Some(c) == baseline {
                continue;
            }
            let mut s = Summary {
                column: column.name.clone(),
                same: 0,
                differs: 0,
                missing: 0,
                extra: 0,
                unavailable: column.state.is_err(),
                compared,
            };
            for (r, drift) in row_drift.iter_mut().enumerate() {
                let mark = marks[r * ncols + c];
                match mark {
                    Mark::Same => s.same += 1,
                    Mark::Differs => s.differs += 1,
                    Mark::Missing => s.missing += 1,
                    Mark::Extra => s.extra += 1,
                    _ => {}
                }
                *drift |= mark.is_drift();
            }
            summaries.push(s);
        }

        Matrix {
            columns,
            baseline,
            keys,
            rows,
            index,
            marks,
            row_drift,
            summaries,
        }
    }

    /// The columns, in display order (the baseline first when built by [`super::run`]).
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Index of the baseline column.
    pub fn baseline(&self) -> Option<usize> {
        self.baseline
    }

    /// Number of rows (keys not ignored).
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// The key of row `row`.
    pub fn key(&self, row: usize) -> &str {
        &self.keys[self.rows[row] as usize]
    }

    /// Whether some cell of row `row` drifts (differs, missing or extra).
    pub fn row_drifts(&self, row: usize) -> bool {
        self.row_drift[row]
    }

    fn value(&self, column: usize, key: u32) -> Option<&str> {
        let entry = *self.index[column].get(key as usize)?;
        if entry == NONE {
            return None;
        }
        let state = self.columns[column].state.as_ref().ok()?;
        Some(state.entry(entry as usize).1)
    }

    /// How the cell of row `row` in column `column` compares with the baseline.
    pub fn mark(&self, row: usize, column: usize) -> Mark {
        self.marks[row * self.columns.len() + column]
    }

    /// The cell of row `row` in column `column`.
    pub fn cell(&self, row: usize, column: usize) -> Cell<'_> {
        let mark = self.mark(row, column);
        let key = self.rows[row];
        let value = match mark {
            // The same text as the baseline's: read there (one place per row).
            Mark::Same => self.baseline.and_then(|b| self.value(b, key)),
            Mark::Baseline | Mark::Differs | Mark::Extra | Mark::Unknown => self.value(column, key),
            Mark::Missing | Mark::Absent | Mark::Unavailable => None,
        };
        Cell { value, mark }
    }

    /// The baseline's value in row `row`.
    pub fn baseline_value(&self, row: usize) -> Option<&str> {
        self.baseline.and_then(|b| self.value(b, self.rows[row]))
    }

    /// How each column (except the baseline) compares with the baseline, in column order.
    pub fn summaries(&self) -> &[Summary] {
        &self.summaries
    }

    /// The columns that could not be read.
    pub fn errors(&self) -> impl Iterator<Item = &ColumnError> {
        self.columns.iter().filter_map(|c| c.state.as_ref().err())
    }

    /// Whether some column drifts from the baseline.
    pub fn has_drift(&self) -> bool {
        self.summaries.iter().any(|s| s.differs + s.missing + s.extra > 0)
    }

    /// Whether some column could not be read.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The matrix's columns, given back.
    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }
}

/// FxHash (as in rustc) with a per-process random seed: fast on short keys, and a probe cannot
/// prepare keys that collide.
#[derive(Clone, Copy)]
struct FxBuild(u64);

impl FxBuild {
    fn new() -> Self {
        FxBuild(std::collections::hash_map::RandomState::new().hash_one(0x9e37_79b9_u64))
    }
}

impl BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(self.0)
    }
}

struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A probe column named `env` or `env/target` holding `pairs` (for the drift modules' tests).
#[cfg(test)]
pub(crate) fn test_column(name: &str, pairs: &[(&str, &str)]) -> Column {
    let (env, target) = match name.split_once('/') {
        Some((e, t)) => (e.to_string(), Some(t.to_string())),
        None => (name.to_string(), None),
    };
    Column {
        name: name.to_string(),
        env,
        target,
        kind: ColumnKind::Probe,
        state: Ok(State::from_pairs(pairs.iter().copied()).unwrap()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_column as column;

    fn failed(name: &str) -> Column {
        Column {
            state: Err(ColumnError {
                column: name.to_string(),
                message: "exit 3".into(),
                stderr: vec!["boom".into()],
            }),
            ..column(name, &[])
        }
    }

    fn grid(m: &Matrix) -> Vec<String> {
        (0..m.row_count())
            .map(|r| {
                let cells: Vec<String> = (0..m.columns().len())
                    .map(|c| {
                        let cell = m.cell(r, c);
                        format!("{}:{}", cell.mark.as_str(), cell.value.unwrap_or("-"))
                    })
                    .collect();
                format!("{} {}", m.key(r), cells.join(" "))
            })
            .collect()
    }

    #[test]
    fn marks_same_differs_missing_extra() {
        let m = Matrix::build(
            vec![
                column("staging", &[("a", "1"), ("b", "2"), ("c", "3")]),
                column("prod/eu", &[("a", "1"), ("b", "9"), ("d", "4")]),
            ],
            Some(0),
            &Ignore::default(),
        );
        assert_eq!(
            grid(&m),
            [
                "a baseline:1 same:1",
                "b baseline:2 differs:9",
                "c baseline:3 missing:-",
                "d absent:- extra:4",
            ]
        );
        assert_eq!(m.summaries().len(), 1);
        let s = &m.summaries()[0];
        assert_eq!((s.same, s.differs, s.missing, s.extra), (1, 1, 1, 1));
        assert_eq!(s.text(), "prod/eu: 1 differs, 1 missing, 1 extra");
        assert!(!s.in_sync());
        assert!(m.has_drift() && !m.has_errors());
        assert_eq!(
            (0..4).map(|r| m.row_drifts(r)).collect::<Vec<_>>(),
            [false, true, true, true]
        );
    }

    #[test]
    fn the_last_of_repeated_keys_counts() {
        let m = Matrix::build(
            vec![column("a", &[("k", "1")]), column("b", &[("k", "2"), ("k", "1")])],
            Some(0),
            &Ignore::default(),
        );
        assert_eq!(grid(&m), ["k baseline:1 same:1"]);
        assert!(!m.has_drift());
        assert_eq!(m.summaries()[0].text(), "b: in sync");
    }

    #[test]
    fn summaries_count_and_pluralize() {
        let s = Summary {
            column: "prod/us-east".into(),
            same: 10,
            differs: 3,
            missing: 1,
            extra: 0,
            unavailable: false,
            compared: true,
        };
        assert_eq!(s.text(), "prod/us-east: 3 differ, 1 missing");
        let gone = Summary {
            unavailable: true,
            ..s.clone()
        };
        assert_eq!(gone.text(), "prod/us-east: unavailable");
        assert!(!gone.in_sync());
    }

    #[test]
    fn ignored_keys_are_not_rows() {
        let ignore = Ignore::new(["*.updated_at", "build.id", "tmp?"]);
        let m = Matrix::build(
            vec![
                column(
                    "s",
                    &[
                        ("db.updated_at", "1"),
                        ("build.id", "7"),
                        ("x", "1"),
                        ("tmp1", "a"),
                    ],
                ),
                column(
                    "p",
                    &[
                        ("db.updated_at", "2"),
                        ("build.id", "8"),
                        ("x", "1"),
                        ("tmp22", "b"),
                    ],
                ),
            ],
            Some(0),
            &ignore,
        );
        assert_eq!(grid(&m), ["tmp22 absent:- extra:b", "x baseline:1 same:1"]);
    }

    #[test]
    fn globs_match_whole_keys() {
        assert!(glob_match("*.updated_at", "db.primary.updated_at"));
        assert!(glob_match("*.updated_at", ".updated_at"));
        assert!(!glob_match("*.updated_at", "updated_at"));
        assert!(!glob_match("*.updated_at", "db.updated_at.x"));
        assert!(glob_match("build.id", "build.id"));
        assert!(!glob_match("build.id", "build.ids"));
        assert!(!glob_match("build.id", "xbuild.id"));
        assert!(glob_match("a?c", "abc") && glob_match("a?c", "aéc"));
        assert!(!glob_match("a?c", "ac") && !glob_match("a?c", "abbc"));
        assert!(glob_match("*", "") && glob_match("**", "x.y"));
        assert!(glob_match("a*b*c", "a.x.b.y.b.c"));
        assert!(!glob_match("a*b*c", "a.x.b.y.c.d"));
        assert!(glob_match("*é", "xxé") && !glob_match("?", "éé"));
        assert!(glob_match("", "") && !glob_match("", "a"));
        // Long texts do not backtrack exponentially.
        let text = "a".repeat(10_000);
        assert!(!glob_match("*a*a*a*a*b", &text));
    }

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut keys = vec!["a.10", "a.2", "a.1", "b", "a", "a.01", "a.1.x", "A"];
        keys.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(keys, ["A", "a", "a.01", "a.1", "a.1.x", "a.2", "a.10", "b"]);
        assert_eq!(natural_cmp("x9", "x10"), Ordering::Less);
        assert_eq!(natural_cmp("same", "same"), Ordering::Equal);
    }

    #[test]
    fn failed_columns_are_unavailable_and_a_failed_baseline_compares_nothing() {
        let m = Matrix::build(
            vec![
                column("s", &[("a", "1")]),
                failed("p/x"),
                column("p/y", &[("a", "2")]),
            ],
            Some(0),
            &Ignore::default(),
        );
        assert_eq!(grid(&m), ["a baseline:1 unavailable:- differs:2"]);
        assert!(m.has_errors() && m.has_drift());
        assert_eq!(m.summaries()[0].text(), "p/x: unavailable");
        assert_eq!(
            m.errors().next().unwrap().to_string(),
            "p/x: exit 3\n  stderr: boom"
        );

        let m = Matrix::build(
            vec![failed("s"), column("p", &[("a", "2")])],
            Some(0),
            &Ignore::default(),
        );
        assert_eq!(grid(&m), ["a unavailable:- unknown:2"]);
        assert!(!m.has_drift());
        assert_eq!(
            m.summaries()[0].text(),
            "p: not compared (the baseline is unavailable)"
        );
        assert!(!m.summaries()[0].in_sync());
    }

    #[test]
    fn many_keys_build_quickly_enough_to_test() {
        let pairs: Vec<(String, String)> = (0..50_000).map(|i| (format!("k.{i}"), i.to_string())).collect();
        let state = State::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let mut other = state.clone();
        other.push("k.7", "changed").unwrap();
        let cols = vec![
            Column {
                state: Ok(state),
                ..column("a", &[])
            },
            Column {
                state: Ok(other),
                ..column("b", &[])
            },
        ];
        let m = Matrix::build(cols, Some(0), &Ignore::default());
        assert_eq!(m.row_count(), 50_000);
        assert_eq!(m.key(7), "k.7");
        assert_eq!(m.key(49_999), "k.49999");
        assert_eq!(m.summaries()[0].text(), "b: 1 differs");
    }
}
