//! Drift for people and for programs: the matrix as aligned text (values shortened with `…`, a
//! distinct symbol per mark, colours only when asked for) or as JSON, streamed (a large matrix is
//! never built up as a JSON tree).
//!
//! Probe output is hostile: every value, key and stderr line is shown with control characters
//! escaped, so nothing a probe prints can move the cursor or change the terminal.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::compare::{Cell, ColumnError, ColumnKind, Mark, Matrix};
use super::snapshot::{ColumnChanges, Since};
use super::state::push_json_str;

/// Widest a value column gets; longer values are shortened with `…`.
pub const VALUE_WIDTH: usize = 24;
/// Widest the key column gets.
pub const KEY_WIDTH: usize = 48;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// How the text report looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextStyle {
    /// ANSI colours (on top of the symbols, never instead of them).
    pub color: bool,
    /// Only rows where some cell drifts.
    pub only_diff: bool,
    /// Widest a value column gets.
    pub value_width: usize,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            color: false,
            only_diff: false,
            value_width: VALUE_WIDTH,
        }
    }
}

/// `s` with control characters escaped (`\n`, `\u{1b}`).
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_debug().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect(),
    )
}

/// `s` in at most `width` characters: cut with `…` at the end.
pub fn shorten(s: &str, width: usize) -> Cow<'_, str> {
    if s.chars().count() <= width {
        return Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    Cow::Owned(out)
}

/// `s` in at most `width` characters: cut with `…` in the middle (for keys, whose ends matter).
fn shorten_middle(s: &str, width: usize) -> Cow<'_, str> {
    let n = s.chars().count();
    if n <= width || width < 3 {
        return shorten(s, width);
    }
    let tail = (width - 1) / 2;
    let head = width - 1 - tail;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    Cow::Owned(out)
}

/// The symbol of a mark: distinct for each, so the matrix reads without colours.
pub fn symbol(mark: Mark) -> &'static str {
    match mark {
        Mark::Baseline | Mark::Unknown | Mark::Absent => "",
        Mark::Same => "=",
        Mark::Differs => "≠",
        Mark::Missing => "∅",
        Mark::Extra => "+",
        Mark::Unavailable => "!",
    }
}

fn mark_color(mark: Mark) -> &'static str {
    match mark {
        Mark::Same => DIM,
        Mark::Differs => YELLOW,
        Mark::Missing => RED,
        Mark::Extra => CYAN,
        Mark::Unavailable => RED,
        Mark::Baseline | Mark::Unknown | Mark::Absent => "",
    }
}

/// What a cell shows: `=`, `≠ value`, `∅`, `+ value`, the value itself, or nothing.
fn cell_text(cell: Cell<'_>, width: usize) -> String {
    let sym = symbol(cell.mark);
    match (cell.mark, cell.value) {
        (Mark::Same | Mark::Missing | Mark::Unavailable, _) => sym.to_string(),
        (Mark::Differs | Mark::Extra, Some(v)) => {
            let v = clean(v);
            format!("{sym} {}", shorten(&v, width.saturating_sub(2)))
        }
        (_, Some(v)) => shorten(&clean(v), width).into_owned(),
        (_, None) => String::new(),
    }
}

fn header(m: &Matrix, c: usize) -> String {
    let name = clean(&m.columns()[c].name).into_owned();
    if m.baseline() == Some(c) {
        format!("{name} (baseline)")
    } else {
        name
    }
}

/// Write `text` left-aligned in `width` characters (wider text is written whole).
fn pad(w: &mut impl Write, text: &str, width: usize) -> io::Result<()> {
    w.write_all(text.as_bytes())?;
    for _ in text.chars().count()..width {
        w.write_all(b" ")?;
    }
    Ok(())
}

/// The matrix, a legend and one summary line per column.
pub fn write_matrix(w: &mut impl Write, m: &Matrix, style: TextStyle) -> io::Result<()> {
    let paint = |code: &'static str| if style.color { code } else { "" };
    let rows: Vec<usize> = (0..m.row_count())
        .filter(|&r| !style.only_diff || m.row_drifts(r))
        .collect();
    let ncols = m.columns().len();
    let headers: Vec<String> = (0..ncols).map(|c| header(m, c)).collect();
    let mut key_width = "KEY".len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for &r in &rows {
        key_width = key_width.max(clean(m.key(r)).chars().count().min(KEY_WIDTH));
        for (c, width) in widths.iter_mut().enumerate() {
            let shown = cell_text(m.cell(r, c), style.value_width).chars().count();
            *width = (*width).max(shown);
        }
    }

    if rows.is_empty() && style.only_diff {
        writeln!(w, "no key drifts")?;
    } else if m.row_count() == 0 {
        writeln!(w, "no keys")?;
    } else {
        write!(w, "{}", paint(BOLD))?;
        pad(w, "KEY", key_width)?;
        for (c, h) in headers.iter().enumerate() {
            w.write_all(b"  ")?;
            if c + 1 == ncols {
                w.write_all(h.as_bytes())?;
            } else {
                pad(w, h, widths[c])?;
            }
        }
        writeln!(w, "{}", paint(RESET))?;
        let mut line: Vec<u8> = Vec::with_capacity(256);
        for &r in &rows {
            line.clear();
            pad(&mut line, &shorten_middle(&clean(m.key(r)), KEY_WIDTH), key_width)?;
            for (c, &width) in widths.iter().enumerate() {
                line.extend_from_slice(b"  ");
                let cell = m.cell(r, c);
                let text = cell_text(cell, style.value_width);
                let color = paint(mark_color(cell.mark));
                line.extend_from_slice(color.as_bytes());
                pad(&mut line, &text, width)?;
                if !color.is_empty() {
                    line.extend_from_slice(RESET.as_bytes());
                }
            }
            // No trailing spaces when the last cells are empty.
            while line.last() == Some(&b' ') {
                line.pop();
            }
            line.push(b'\n');
            w.write_all(&line)?;
        }
        let mut legend = vec!["= same as baseline", "≠ differs", "∅ missing", "+ extra"];
        if m.has_errors() {
            legend.push("! unavailable");
        }
        writeln!(w, "{}{}{}", paint(DIM), legend.join("   "), paint(RESET))?;
    }
    writeln!(w)?;
    write_summaries(w, m, style)
}

/// One line per column: `prod/us-east: 3 differ, 1 missing`, `prod/eu-west: in sync`, or the
/// error of a column that could not be read.
pub fn write_summaries(w: &mut impl Write, m: &Matrix, style: TextStyle) -> io::Result<()> {
    let paint = |code: &'static str| if style.color { code } else { "" };
    if let Some(b) = m.baseline() {
        let column = &m.columns()[b];
        match &column.state {
            Ok(_) => writeln!(w, "baseline: {}", clean(&column.name))?,
            Err(e) => writeln!(
                w,
                "{}baseline: {}: failed: {}{}",
                paint(RED),
                clean(&column.name),
                clean(&e.message),
                paint(RESET)
            )?,
        }
    }
    let mut summaries = m.summaries().iter();
    for (c, column) in m.columns().iter().enumerate() {
        if Some(c) == m.baseline() {
            continue;
        }
        let Some(s) = summaries.next() else { break };
        match &column.state {
            Err(e) => writeln!(
                w,
                "{}{}: failed: {}{}",
                paint(RED),
                clean(&column.name),
                clean(&e.message),
                paint(RESET)
            )?,
            Ok(_) if s.in_sync() => writeln!(w, "{}{}{}", paint(GREEN), clean(&s.text()), paint(RESET))?,
            Ok(_) => writeln!(w, "{}{}{}", paint(YELLOW), clean(&s.text()), paint(RESET))?,
        }
    }
    Ok(())
}

/// Each error with its stderr tail: `prod/us-east: exit 3` then `  stderr: ...` lines.
pub fn write_errors<'a>(
    w: &mut impl Write,
    errors: impl IntoIterator<Item = &'a ColumnError>,
) -> io::Result<()> {
    for e in errors {
        writeln!(w, "flightdeck: {}: {}", clean(&e.column), clean(&e.message))?;
        for line in &e.stderr {
            writeln!(w, "  stderr: {}", clean(line))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON

fn json_opt(buf: &mut Vec<u8>, s: Option<&str>) -> io::Result<()> {
    match s {
        Some(s) => push_json_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
    Ok(())
}

fn json_value(w: &mut impl Write, v: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::from)
}

/// The matrix as one JSON object:
///
/// ```json
/// {"baseline": "staging", "drift": true, "errors_found": false,
///  "columns": [{"name": "staging", "env": "staging", "target": null, "kind": "probe",
///               "baseline": true, "error": null}, ...],
///  "rows": [{"key": "db.pool", "cells": [{"value": "20", "mark": "baseline"},
///                                        {"value": "10", "mark": "differs"}]}, ...],
///  "summaries": [{"column": "prod", "same": 1, "differs": 1, "missing": 0, "extra": 0,
///                 "unavailable": false, "compared": true, "in_sync": false,
///                 "text": "prod: 1 differs"}],
///  "errors": [{"column": "...", "message": "exit 3", "stderr": ["..."]}],
///  "snapshot": "/path/to/the/saved/run.json"}
/// ```
///
/// Marks: `baseline`, `same`, `differs`, `missing`, `extra`, `absent`, `unknown` (the baseline
/// could not be read), `unavailable` (this column could not be read). `only_diff` keeps only the
/// rows where some cell drifts.
pub fn write_matrix_json(
    w: &mut impl Write,
    m: &Matrix,
    only_diff: bool,
    snapshot: Option<&Path>,
    versions: &[crate::git::VersionDrift],
) -> io::Result<()> {
    // Written through a buffer of our own (a large matrix is a million small pieces).
    const FLUSH_AT: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    buf.extend_from_slice(b"{\"baseline\":");
    json_opt(&mut buf, m.baseline().map(|b| m.columns()[b].name.as_str()))?;
    write!(
        buf,
        ",\"drift\":{},\"errors_found\":{},\"columns\":[",
        m.has_drift(),
        m.has_errors()
    )?;
    for (c, column) in m.columns().iter().enumerate() {
        if c > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"name\":");
        push_json_str(&mut buf, &column.name);
        buf.extend_from_slice(b",\"env\":");
        push_json_str(&mut buf, &column.env);
        buf.extend_from_slice(b",\"target\":");
        json_opt(&mut buf, column.target.as_deref())?;
        let kind = match column.kind {
            ColumnKind::Probe => "probe",
            ColumnKind::Expected => "expected",
        };
        write!(
            buf,
            ",\"kind\":\"{kind}\",\"baseline\":{},\"error\":",
            m.baseline() == Some(c)
        )?;
        json_opt(&mut buf, column.state.as_ref().err().map(|e| e.message.as_str()))?;
        buf.push(b'}');
    }
    buf.extend_from_slice(b"],\"rows\":[");
    let ncols = m.columns().len();
    // Per row, the baseline's value as JSON, copied into every cell that is the same.
    let mut base_json: Vec<u8> = Vec::new();
    let mut first = true;
    for r in 0..m.row_count() {
        if only_diff && !m.row_drifts(r) {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(b"{\"key\":");
        push_json_str(&mut buf, m.key(r));
        buf.extend_from_slice(b",\"cells\":[");
        base_json.clear();
        match m.baseline_value(r) {
            Some(v) => push_json_str(&mut base_json, v),
            None => base_json.extend_from_slice(b"null"),
        }
        for c in 0..ncols {
            if c > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"value\":");
            let mark = m.mark(r, c);
            match mark {
                // The baseline's own value, or the same text.
                Mark::Same | Mark::Baseline => buf.extend_from_slice(&base_json),
                _ => match m.cell(r, c).value {
                    Some(v) => push_json_str(&mut buf, v),
                    None => buf.extend_from_slice(b"null"),
                },
            }
            buf.extend_from_slice(b",\"mark\":\"");
            buf.extend_from_slice(mark.as_str().as_bytes());
            buf.extend_from_slice(b"\"}");
        }
        buf.extend_from_slice(b"]}");
        if buf.len() >= FLUSH_AT {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(b"],\"summaries\":[");
    for (i, s) in m.summaries().iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(b"{\"column\":");
        push_json_str(&mut buf, &s.column);
        write!(
            buf,
            ",\"same\":{},\"differs\":{},\"missing\":{},\"extra\":{},\"unavailable\":{},\"compared\":{},\"in_sync\":{},\"text\":",
            s.same,
            s.differs,
            s.missing,
            s.extra,
            s.unavailable,
            s.compared,
            s.in_sync()
        )?;
        push_json_str(&mut buf, &s.text());
        buf.push(b'}');
    }
    buf.extend_from_slice(b"],\"errors\":");
    json_value(&mut buf, &m.errors().collect::<Vec<_>>())?;
    buf.extend_from_slice(b",\"snapshot\":");
    json_opt(&mut buf, snapshot.map(|p| p.to_str().unwrap_or_default()))?;
    buf.extend_from_slice(b",\"versions\":[");
    for (i, v) in versions.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        json_value(&mut buf, v)?;
        buf.pop_if(|b| *b == b'}');
        buf.extend_from_slice(b",\"text\":");
        push_json_str(&mut buf, &v.to_string());
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}\n");
    w.write_all(&buf)
}

// ---------------------------------------------------------------------------------------------
// Changes since a snapshot

/// What changed since a release started: per column a summary, then `~ key: old -> new`,
/// `+ key: new`, `- key: old` lines.
pub fn write_changes(
    w: &mut impl Write,
    release: &str,
    taken_at: DateTime<Utc>,
    changes: &[ColumnChanges],
    style: TextStyle,
) -> io::Result<()> {
    let paint = |code: &'static str| if style.color { code } else { "" };
    writeln!(
        w,
        "{}since release {} started ({}){}",
        paint(BOLD),
        clean(release),
        taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
        paint(RESET)
    )?;
    let width = style.value_width.max(8) * 2;
    for c in changes {
        let color = match &c.since {
            Since::Compared if c.changes.is_empty() => GREEN,
            Since::Compared => YELLOW,
            Since::NotInSnapshot => "",
            Since::WasUnavailable(_) | Since::Unavailable(_) => RED,
        };
        writeln!(w, "{}{}{}", paint(color), clean(&c.summary()), paint(RESET))?;
        for change in &c.changes {
            let key = clean(&change.key);
            let show = |v: &str| shorten(&clean(v), width).into_owned();
            match (&change.old, &change.new) {
                (Some(o), Some(n)) => writeln!(
                    w,
                    "  {}≠ {key}: {} -> {}{}",
                    paint(YELLOW),
                    show(o),
                    show(n),
                    paint(RESET)
                )?,
                (None, Some(n)) => writeln!(w, "  {}+ {key}: {}{}", paint(CYAN), show(n), paint(RESET))?,
                (Some(o), None) => writeln!(w, "  {}- {key}: {}{}", paint(RED), show(o), paint(RESET))?,
                (None, None) => {}
            }
        }
    }
    Ok(())
}

/// The changes as JSON: `{"since": {"release": ..., "taken_at": ...}, "changed": bool,
/// "columns": [{"column": ..., "status": "compared", "changes": [{"key", "old", "new"}]}],
/// "errors": [...], "snapshot": ...}`.
pub fn write_changes_json<'a>(
    w: &mut impl Write,
    release: &str,
    taken_at: DateTime<Utc>,
    changes: &[ColumnChanges],
    errors: impl IntoIterator<Item = &'a ColumnError>,
    snapshot: Option<&Path>,
) -> io::Result<()> {
    let errors: Vec<&ColumnError> = errors.into_iter().collect();
    let value = serde_json::json!({
        "since": { "release": release, "taken_at": taken_at },
        "changed": changes.iter().any(|c| !c.changes.is_empty()),
        "columns": changes,
        "errors": errors,
        "snapshot": snapshot,
    });
    json_value(w, &value)?;
    w.write_all(b"\n")
}

// ---------------------------------------------------------------------------------------------
// `flightdeck drift`

/// How `flightdeck drift` prints.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintOptions<'a> {
    /// JSON instead of text.
    pub json: bool,
    /// Only rows where some cell drifts.
    pub only_diff: bool,
    /// ANSI colours in the text (a terminal, and no `NO_COLOR`).
    pub color: bool,
    /// Which commit each environment runs against the baseline ([`super::version_drift`]).
    pub versions: &'a [crate::git::VersionDrift],
}

/// Exit code: nothing drifts (or changed since the snapshot).
pub const EXIT_IN_SYNC: u8 = 0;
/// Exit code: something drifts (or changed).
pub const EXIT_DRIFT: u8 = 1;
/// Exit code: some column could not be read.
pub const EXIT_ERROR: u8 = 2;

/// Print a drift run to stdout (text or JSON; errors with their stderr tails to stderr) while the
/// run is saved on another thread as `<runs_dir>/<UTC time>.json`. With `since` (a release id and
/// its start snapshot), print what changed since then instead of the matrix (keys matching
/// `ignore` left out).
///
/// Returns the exit code: [`EXIT_ERROR`] when a column could not be read (the others are still
/// shown), else [`EXIT_DRIFT`] when something drifts (or changed since the snapshot), else
/// [`EXIT_IN_SYNC`]. A closed stdout (`| head`) is not an error.
pub fn print_run(
    matrix: &Matrix,
    plan: &str,
    taken_at: DateTime<Utc>,
    runs_dir: &Path,
    since: Option<(&str, &super::Snapshot)>,
    ignore: &super::Ignore,
    opts: PrintOptions<'_>,
) -> Result<u8, super::DriftError> {
    let versions = opts.versions;
    let path = super::snapshot::run_path(runs_dir, taken_at);
    let changes = since.map(|(_, snap)| super::snapshot::changes_since(snap, matrix.columns(), ignore));
    let (saved, printed) = std::thread::scope(|scope| {
        let saver = scope.spawn(|| super::snapshot::write_snapshot(&path, plan, taken_at, matrix.columns()));
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        let style = TextStyle {
            color: opts.color,
            only_diff: opts.only_diff,
            ..TextStyle::default()
        };
        let printed = match (&changes, since) {
            (Some(changes), Some((release, snap))) if opts.json => write_changes_json(
                &mut out,
                release,
                snap.taken_at,
                changes,
                matrix.errors(),
                Some(&path),
            ),
            (Some(changes), Some((release, snap))) => {
                write_changes(&mut out, release, snap.taken_at, changes, style)
            }
            _ if opts.json => write_matrix_json(&mut out, matrix, opts.only_diff, Some(&path), versions),
            _ => write_matrix(&mut out, matrix, style).and_then(|()| {
                // Which commit each environment runs, against the baseline (from git).
                versions
                    .iter()
                    .try_for_each(|v| writeln!(out, "{}", clean(&v.to_string())))
            }),
        }
        .and_then(|()| out.flush());
        let saved = saver.join().unwrap_or_else(|_| {
            Err(super::DriftError::Io {
                path: path.clone(),
                source: io::Error::other("saving the snapshot panicked"),
            })
        });
        (saved, printed)
    });
    if !opts.json {
        let _ = write_errors(&mut io::stderr().lock(), matrix.errors());
    }
    match printed {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            return Err(super::DriftError::Io {
                path: "<stdout>".into(),
                source: e,
            });
        }
        _ => {}
    }
    saved?;
    super::snapshot::prune_runs(runs_dir, super::snapshot::KEEP_RUNS);
    let changed = changes.is_some_and(|c| c.iter().any(|c| !c.changes.is_empty()));
    Ok(if matrix.has_errors() {
        EXIT_ERROR
    } else if (since.is_some() && changed) || (since.is_none() && matrix.has_drift()) {
        EXIT_DRIFT
    } else {
        EXIT_IN_SYNC
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::compare::{Column, Ignore};

    use crate::drift::compare::test_column as column;

    fn sample() -> Matrix {
        Matrix::build(
            vec![
                column(
                    "staging",
                    &[
                        ("a", "1"),
                        ("b", "a very long value that will not fit"),
                        ("c", "3"),
                    ],
                ),
                column("prod/eu", &[("a", "1"), ("b", "other"), ("d", "x\u{1b}[2Jy")]),
                column(
                    "prod/us",
                    &[
                        ("a", "1"),
                        ("b", "a very long value that will not fit"),
                        ("c", "3"),
                    ],
                ),
            ],
            Some(0),
            &Ignore::default(),
        )
    }

    fn text(m: &Matrix, style: TextStyle) -> String {
        let mut out = Vec::new();
        write_matrix(&mut out, m, style).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_matrix_reads_without_colour() {
        let got = text(&sample(), TextStyle::default());
        let expected = "\
KEY  staging (baseline)       prod/eu        prod/us
a    1                        =              =
b    a very long value that…  ≠ other        =
c    3                        ∅              =
d                             + x\\u{1b}[2Jy
= same as baseline   ≠ differs   ∅ missing   + extra

baseline: staging
prod/eu: 1 differs, 1 missing, 1 extra
prod/us: in sync
";
        assert_eq!(got, expected);
        assert!(!got.contains('\x1b'));
    }

    #[test]
    fn only_diff_keeps_drifting_rows() {
        let got = text(
            &sample(),
            TextStyle {
                only_diff: true,
                ..TextStyle::default()
            },
        );
        let keys: Vec<&str> = got.lines().skip(1).take(3).map(|l| &l[..1]).collect();
        assert_eq!(keys, ["b", "c", "d"]);
    }

    #[test]
    fn colours_only_when_asked_and_symbols_stay() {
        let got = text(
            &sample(),
            TextStyle {
                color: true,
                ..TextStyle::default()
            },
        );
        assert!(got.contains("\x1b[33m≠ other"), "{got}");
        assert!(got.contains("\x1b[31m∅"), "{got}");
        // The hostile value is escaped even in colour.
        assert!(!got.contains("\x1b[2J"));
    }

    #[test]
    fn failed_columns_are_named() {
        let failed = Column {
            state: Err(ColumnError {
                column: "prod/x".into(),
                message: "timed out after 1s".into(),
                stderr: vec!["slow\u{7}".into()],
            }),
            ..column("prod/x", &[])
        };
        let m = Matrix::build(
            vec![column("s", &[("a", "1")]), failed],
            Some(0),
            &Ignore::default(),
        );
        let got = text(&m, TextStyle::default());
        assert!(got.contains("a    1             !\n"), "{got}");
        assert!(got.contains("! unavailable"), "{got}");
        assert!(got.ends_with("prod/x: failed: timed out after 1s\n"), "{got}");
        let mut err = Vec::new();
        write_errors(&mut err, m.errors()).unwrap();
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "flightdeck: prod/x: timed out after 1s\n  stderr: slow\\u{7}\n"
        );
    }

    #[test]
    fn json_has_columns_rows_cells_summaries_and_errors() {
        let mut out = Vec::new();
        write_matrix_json(&mut out, &sample(), false, Some(Path::new("/d/run.json")), &[]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["baseline"], "staging");
        assert_eq!(v["drift"], true);
        assert_eq!(v["columns"][1]["target"], "eu");
        assert_eq!(v["columns"][0]["baseline"], true);
        assert_eq!(v["rows"].as_array().unwrap().len(), 4);
        assert_eq!(v["rows"][1]["key"], "b");
        assert_eq!(
            v["rows"][1]["cells"][1],
            serde_json::json!({"value": "other", "mark": "differs"})
        );
        assert_eq!(
            v["rows"][2]["cells"][1],
            serde_json::json!({"value": null, "mark": "missing"})
        );
        assert_eq!(v["rows"][3]["cells"][0]["mark"], "absent");
        assert_eq!(
            v["summaries"][0]["text"],
            "prod/eu: 1 differs, 1 missing, 1 extra"
        );
        assert_eq!(v["summaries"][1]["in_sync"], true);
        assert_eq!(v["errors"], serde_json::json!([]));
        assert_eq!(v["snapshot"], "/d/run.json");

        let mut out = Vec::new();
        write_matrix_json(&mut out, &sample(), true, None, &[]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn shortening() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abcd", 4), "abcd");
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten_middle("service.component.key", 11), "servi…t.key");
        assert_eq!(clean("a\nb\tc"), "a\\nb\\tc");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
    }
}
