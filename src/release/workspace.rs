//! `flightdeck ws status` and `ws envs`: a workspace's plans side by side, from the model the
//! cockpit's workspace board draws too ([`crate::engine::board`]).

use chrono::{DateTime, Utc};
use color_eyre::eyre::Result;
use serde_json::json;

use super::envs::ago;
use super::{Context, exit};
use crate::ansi::clean;
use crate::engine::board::{self, Board, Cell, Row};

impl Context {
    /// The workspace's board, read now.
    pub fn ws_board(&self) -> Result<Board> {
        let (ws, plans) = self.load_workspace()?;
        let store = self.store()?;
        Ok(board::load(&store, &ws.name, &plans, Utc::now()))
    }

    /// `ws status [--json]`: every plan's releases, newest first (the unfinished ones and the
    /// newest finished ones), with state, progress and what each needs; then the trains.
    pub fn ws_status(&self, json: bool) -> Result<u8> {
        let b = self.ws_board()?;
        let now = Utc::now();
        if json {
            crate::outln!("{}", serde_json::to_string_pretty(&status_json(&b))?);
            return Ok(exit::OK);
        }
        for line in status_lines(&b, now) {
            crate::outln!("{line}");
        }
        Ok(exit::OK)
    }

    /// `ws envs [--json]`: services × environments, the live version in each cell, drift marked,
    /// deploys in progress shown.
    pub fn ws_envs(&self, json: bool) -> Result<u8> {
        let b = self.ws_board()?;
        let m = b.matrix(&board::Filter::default());
        if json {
            let services: Vec<serde_json::Value> = m
                .rows
                .iter()
                .map(|r| {
                    let cells: serde_json::Map<String, serde_json::Value> = m
                        .environments
                        .iter()
                        .zip(&r.cells)
                        .map(|(e, c)| (e.clone(), serde_json::to_value(c).unwrap_or_default()))
                        .collect();
                    json!({ "plan": r.plan, "environments": cells })
                })
                .collect();
            let v = json!({
                "workspace": b.workspace,
                "environments": m.environments,
                "services": services,
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(exit::OK);
        }
        for line in envs_lines(&b) {
            crate::outln!("{line}");
        }
        Ok(exit::OK)
    }
}

/// `ws status --json`: the workspace, its counts, each plan's releases, the trains.
pub fn status_json(b: &Board) -> serde_json::Value {
    json!({
        "workspace": b.workspace,
        "counts": b.counts(),
        "plans": b.plans,
        "trains": b.trains,
    })
}

/// The headline: `workspace commerce: 3 plans · 1 running · 1 paused · 1 failed`.
fn headline(b: &Board) -> String {
    let c = b.counts();
    let mut s = format!("workspace {}: {} plan(s)", clean(&b.workspace), b.plans.len());
    for (n, what) in [
        (c.running, "running"),
        (c.paused, "paused"),
        (c.failed, "failed"),
        (c.waiting_on_people, "waiting on people"),
    ] {
        if n > 0 {
            s.push_str(&format!(" · {n} {what}"));
        }
    }
    s
}

/// `ws status`'s lines: the headline, a table of every plan's releases, then the trains.
pub fn status_lines(b: &Board, now: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![headline(b), String::new()];
    let mut table: Vec<[String; 8]> = vec![[
        "PLAN".into(),
        "RELEASE".into(),
        "TYPE".into(),
        "STATE".into(),
        "PROGRESS".into(),
        "NEEDS / DOING".into(),
        "TRAIN".into(),
        "STARTED".into(),
    ]];
    for p in &b.plans {
        if let Some(e) = &p.error {
            table.push([
                p.plan.clone(),
                "—".into(),
                String::new(),
                String::new(),
                String::new(),
                format!("could not be read: {e}"),
                String::new(),
                String::new(),
            ]);
        }
        if p.releases.is_empty() && p.error.is_none() {
            table.push([
                p.plan.clone(),
                "—".into(),
                String::new(),
                String::new(),
                String::new(),
                "no releases yet".into(),
                String::new(),
                String::new(),
            ]);
        }
        for (i, r) in p.releases.iter().enumerate() {
            table.push(release_cells(r, i == 0, now));
        }
        if p.older {
            table.push([
                String::new(),
                "…".into(),
                String::new(),
                String::new(),
                String::new(),
                "older releases left out (`flightdeck list` in its folder lists them)".into(),
                String::new(),
                String::new(),
            ]);
        }
    }
    // The train column only when a release is a train's.
    let trains = table.iter().skip(1).any(|r| !r[6].is_empty());
    let table: Vec<Vec<String>> = table
        .into_iter()
        .map(|r| {
            r.into_iter()
                .enumerate()
                .filter(|(i, _)| trains || *i != 6)
                .map(|(_, c)| clean(&c).into_owned())
                .collect()
        })
        .collect();
    out.extend(table_lines(&table));
    if !b.trains.is_empty() {
        out.push(String::new());
        out.push("TRAINS".into());
        for t in &b.trains {
            out.extend(super::train::train_lines(t, now));
        }
    }
    out
}

/// A release's cells in `ws status`'s table (the plan's name on its first row only).
fn release_cells(r: &Row, first: bool, now: DateTime<Utc>) -> [String; 8] {
    let name = if r.id == r.version {
        r.version.clone()
    } else {
        format!("{} ({})", r.version, r.id)
    };
    let mut doing = r.doing();
    if let Some(p) = &r.partial {
        doing = if doing.is_empty() {
            p.clone()
        } else {
            format!("{doing}; {p}")
        };
    }
    let started = match (r.scheduled_at, r.created_at) {
        (Some(at), _) => format!("starts {}", at.format("%Y-%m-%d %H:%M UTC")),
        (None, Some(at)) => ago(now, at),
        (None, None) => "—".into(),
    };
    [
        if first { r.plan.clone() } else { String::new() },
        name,
        r.rtype.clone(),
        r.state.clone(),
        format!("{}/{}", r.stages_done, r.stages),
        if doing.is_empty() { "—".into() } else { doing },
        r.train.clone().unwrap_or_default(),
        started,
    ]
}

/// `ws envs`'s lines: a row per service, a column per environment, then the targets of the
/// environments whose targets differ, and what the marks mean.
pub fn envs_lines(b: &Board) -> Vec<String> {
    let m = b.matrix(&board::Filter::default());
    let mut out = Vec::new();
    if m.rows.is_empty() {
        out.push(format!("workspace {}: no plans", clean(&b.workspace)));
        return out;
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["SERVICE".to_string()];
    head.extend(m.environments.iter().cloned());
    table.push(head);
    let mut notes: Vec<String> = Vec::new();
    for r in &m.rows {
        let mut line = vec![r.plan.clone()];
        for (env, c) in m.environments.iter().zip(&r.cells) {
            line.push(c.as_ref().map_or_else(|| "·".to_string(), Cell::text));
            if let Some(c) = c.as_ref().filter(|c| c.mixed) {
                let targets: Vec<String> = c
                    .targets
                    .iter()
                    .map(|t| format!("{} {}", t.target, t.version.as_deref().unwrap_or("—")))
                    .collect();
                notes.push(format!("{} on {env}: {}", r.plan, targets.join(", ")));
            }
        }
        table.push(line);
    }
    let table: Vec<Vec<String>> = table
        .into_iter()
        .map(|r| r.into_iter().map(|c| clean(&c).into_owned()).collect())
        .collect();
    out.extend(table_lines(&table));
    for n in notes {
        out.push(format!("  {}", clean(&n)));
    }
    out.push(String::new());
    out.push(
        "≠N: N keys drift from the baseline (newest probe)  !: the probe failed  mixed: targets run \
         different versions  → V (state): deploying now  —: nothing live  ·: no such environment"
            .into(),
    );
    out
}

/// Columns padded to their widest cell, two spaces apart (rows of any length).
fn table_lines<R: AsRef<[String]>>(rows: &[R]) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let n = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|c| c.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.as_ref().iter().enumerate() {
                line.push_str(cell);
                if i + 1 < r.as_ref().len() {
                    line.push_str(&" ".repeat(widths[i] - cell.width() + 2));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}
