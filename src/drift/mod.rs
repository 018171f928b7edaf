//! Environment drift: probes print each environment's state, desired-state files say what it
//! should be, and a matrix compares every column with a baseline. Of git, drift needs only
//! "which commit runs where" ([`version_drift`], through [`crate::git`], which owns notes, tags
//! and versions). No UI here: the CLI and the cockpit render the
//! [`Matrix`].
//!
//! ```no_run
//! # async fn demo(plan: &flightdeck::plan::Plan) -> Result<(), flightdeck::drift::DriftError> {
//! use flightdeck::drift::{self, ProbeOptions, Selection};
//! let matrix = drift::run(plan, &Selection::default(), &ProbeOptions::default()).await?;
//! for s in matrix.summaries() {
//!     println!("{}", s.text()); // prod/us-east: 3 differ, 1 missing
//! }
//! # Ok(()) }
//! ```
//!
//! - [`probe`]: running probes (process groups, timeouts, bounded output).
//! - [`format`]: JSON, TOML and `key=value` output flattened into a [`State`].
//! - [`compare`]: the [`Matrix`], marks, summaries and ignore globs.
//! - [`snapshot`]: saved runs, a release's start/end snapshots, changes since a snapshot.
//! - [`report`]: the matrix as text or JSON.

pub mod compare;
pub mod format;
pub mod overview;
pub mod probe;
pub mod report;
pub mod snapshot;
pub mod state;

use std::path::{Path, PathBuf};

use chrono::Utc;

pub use compare::{Cell, Column, ColumnError, ColumnKind, Ignore, Mark, Matrix, Summary};
pub use probe::{ProbeOptions, ProbeSpec};
pub use snapshot::{Snapshot, load_snapshot};
pub use state::State;

use crate::git;
use crate::plan::{DriftCheck, Environment, Plan, StateFormat};

/// Why drift could not run at all (a probe that fails is not this: it is a [`ColumnError`]).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// What was asked does not fit the plan (an unknown environment, no probes...).
    #[error("{0}")]
    Usage(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a drift snapshot: {message}", path.display())]
    Snapshot { path: PathBuf, message: String },
}

/// Which environments to compare, with what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Environment names, or `env/target` for a single target; empty: every environment with a
    /// probe or an `expect` file.
    pub envs: Vec<String>,
    /// An environment (its first probe column, else its desired state) or an `env/target`
    /// column; `None`: the plan's ([`Plan::drift_baseline`]).
    pub baseline: Option<String>,
}

/// Where a column's state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Probe(ProbeSpec),
    /// A desired-state file, read in `format` (else by its extension, else detected).
    Expected {
        path: PathBuf,
        format: Option<StateFormat>,
    },
}

/// A column to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPlan {
    /// `env`, `env/target` or `env (expected)`.
    pub name: String,
    pub env: String,
    /// The target a probe column runs for.
    pub target: Option<String>,
    /// A probe to run or a file to read.
    pub source: Source,
}

/// The columns of a drift run, the baseline's first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// In display order.
    pub columns: Vec<ColumnPlan>,
    /// Index of the baseline column in `columns`.
    pub baseline: usize,
}

fn usage(message: impl Into<String>) -> DriftError {
    DriftError::Usage(message.into())
}

/// `"; did you mean `x`?"` or nothing.
fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    crate::plan::did_you_mean(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn env_named<'p>(plan: &'p Plan, name: &str, role: &str) -> Result<&'p Environment, DriftError> {
    plan.environments.get(name).ok_or_else(|| {
        usage(format!(
            "{role} `{name}` is not an environment of plan `{}`{}",
            plan.name,
            hint(name, plan.environments.keys().map(String::as_str))
        ))
    })
}

/// The probe column of `env` (for `target`, when it has targets).
pub fn probe_column(plan: &Plan, env: &Environment, target: Option<&str>) -> Option<ColumnPlan> {
    let template = env.probe.as_ref()?;
    let command = template.render(|name| match name {
        "env" => Some(env.name.clone()),
        "target" => target.map(str::to_string),
        _ => None,
    });
    let mut vars: Vec<(String, String)> = env.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.push(("FLIGHTDECK_ENV".into(), env.name.clone()));
    vars.push(("FLIGHTDECK_TARGET".into(), target.unwrap_or_default().to_string()));
    let name = Column::probe_name(&env.name, target);
    Some(ColumnPlan {
        name: name.clone(),
        env: env.name.clone(),
        target: target.map(str::to_string),
        source: Source::Probe(ProbeSpec {
            column: name,
            env: env.name.clone(),
            target: target.map(str::to_string),
            command,
            cwd: plan.dir.clone(),
            vars,
            timeout: env.probe_timeout,
            format: env.format,
        }),
    })
}

/// Every probe column of `env`: one per target, or one for the environment.
pub fn probe_columns(plan: &Plan, env: &Environment) -> Vec<ColumnPlan> {
    if env.targets.is_empty() {
        probe_column(plan, env, None).into_iter().collect()
    } else {
        env.targets
            .iter()
            .filter_map(|t| probe_column(plan, env, Some(t)))
            .collect()
    }
}

/// The desired-state column of `env`, when it has an `expect` file.
pub fn expected_column(env: &Environment) -> Option<ColumnPlan> {
    let path = env.expect.clone()?;
    Some(ColumnPlan {
        name: Column::expected_name(&env.name),
        env: env.name.clone(),
        target: None,
        source: Source::Expected {
            path,
            format: env.format,
        },
    })
}

/// The baseline column for `spec` (an environment or `env/target`).
fn baseline_column(plan: &Plan, spec: &str) -> Result<ColumnPlan, DriftError> {
    let (env_name, target) = match spec.split_once('/') {
        Some((e, t)) => (e, Some(t)),
        None => (spec, None),
    };
    let env = env_named(plan, env_name, "baseline")?;
    if let Some(t) = target {
        if !env.targets.iter().any(|x| x == t) {
            return Err(usage(format!(
                "baseline `{spec}`: environment `{env_name}` has no target `{t}`{}",
                hint(t, env.targets.iter().map(String::as_str))
            )));
        }
        return probe_column(plan, env, Some(t)).ok_or_else(|| {
            usage(format!(
                "baseline `{spec}`: environment `{env_name}` has no probe"
            ))
        });
    }
    probe_columns(plan, env)
        .into_iter()
        .next()
        .or_else(|| expected_column(env))
        .ok_or_else(|| {
            usage(format!(
                "baseline `{env_name}` has no probe or expect, so there is nothing to compare with"
            ))
        })
}

/// The columns `selection` asks for, the baseline's first, then in plan order.
pub fn layout(plan: &Plan, selection: &Selection) -> Result<Layout, DriftError> {
    let base_spec = match selection.baseline.as_deref().or_else(|| plan.drift_baseline()) {
        Some(b) => b.to_string(),
        None => {
            return Err(usage(format!(
                "no environment of plan `{}` has a probe or an expect file \
                 (add `probe = \"...\"` to an [environments.NAME] table)",
                plan.name
            )));
        }
    };
    let baseline = baseline_column(plan, &base_spec)?;

    let mut wanted: Vec<ColumnPlan> = Vec::new();
    if selection.envs.is_empty() {
        for env in plan.environments.values() {
            wanted.extend(probe_columns(plan, env));
            wanted.extend(expected_column(env));
        }
    } else {
        // Each asked-for environment (or target), in plan order.
        let mut asked: Vec<(usize, ColumnPlan)> = Vec::new();
        for spec in &selection.envs {
            let (env_name, target) = match spec.split_once('/') {
                Some((e, t)) => (e, Some(t)),
                None => (spec.as_str(), None),
            };
            let env = env_named(plan, env_name, "--env")?;
            let order = plan.environments.get_index_of(env_name).unwrap_or(usize::MAX);
            match target {
                Some(t) => {
                    let Some(i) = env.targets.iter().position(|x| x == t) else {
                        return Err(usage(format!(
                            "environment `{env_name}` has no target `{t}`{}",
                            hint(t, env.targets.iter().map(String::as_str))
                        )));
                    };
                    let column = probe_column(plan, env, Some(t))
                        .ok_or_else(|| usage(format!("environment `{env_name}` has no probe")))?;
                    asked.push((order * 1_000_000 + i, column));
                }
                None => {
                    let mut columns = probe_columns(plan, env);
                    columns.extend(expected_column(env));
                    if columns.is_empty() {
                        return Err(usage(format!(
                            "environment `{env_name}` has no probe or expect file"
                        )));
                    }
                    asked.extend(
                        columns
                            .into_iter()
                            .enumerate()
                            .map(|(i, c)| (order * 1_000_000 + i, c)),
                    );
                }
            }
        }
        asked.sort_by_key(|(order, _)| *order);
        wanted.extend(asked.into_iter().map(|(_, c)| c));
    }
    let mut columns = vec![baseline];
    for column in wanted {
        if !columns.iter().any(|c| c.name == column.name) {
            columns.push(column);
        }
    }
    Ok(Layout { columns, baseline: 0 })
}

/// Read a desired-state file.
fn read_expected(
    column: &str,
    path: &Path,
    format: Option<StateFormat>,
    masker: &crate::mask::Masker,
) -> Result<State, ColumnError> {
    let error = |message: String| ColumnError {
        column: column.to_string(),
        message: masker.mask_str(&message).into_owned(),
        stderr: Vec::new(),
    };
    let bytes = crate::files::read_bounded(path, crate::files::MAX_INPUT)
        .map_err(|e| error(format!("{}: {e}", path.display())))?;
    let text =
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    let format = format.or_else(|| format::format_for_path(path));
    format::parse(text, format)
        .map(|(state, _)| state.masked(masker))
        .map_err(|e| error(format!("{}: {e}", path.display())))
}

/// Fill the columns of `layout`: probes run concurrently (at most `opts.parallel` at once) while
/// the desired-state files are read. A column that cannot be read carries its error.
pub async fn collect(layout: &Layout, opts: &ProbeOptions) -> Vec<Column> {
    let mut probes = Vec::new();
    let mut files = Vec::new();
    for (i, c) in layout.columns.iter().enumerate() {
        match &c.source {
            Source::Probe(spec) => probes.push((i, spec.clone())),
            Source::Expected { path, format } => files.push((i, c.name.clone(), path.clone(), *format)),
        }
    }
    let masker = opts.masker.clone();
    let reading = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(i, name, path, format)| (i, read_expected(&name, &path, format, &masker)))
            .collect::<Vec<_>>()
    });
    let (indexes, specs): (Vec<usize>, Vec<ProbeSpec>) = probes.into_iter().unzip();
    let probed = probe::run_probes(specs, opts).await;
    let mut states: Vec<Option<Result<State, ColumnError>>> = layout.columns.iter().map(|_| None).collect();
    for (i, r) in indexes.into_iter().zip(probed) {
        states[i] = Some(r);
    }
    if let Ok(read) = reading.await {
        for (i, r) in read {
            states[i] = Some(r);
        }
    }
    layout
        .columns
        .iter()
        .zip(states)
        .map(|(c, state)| Column {
            name: c.name.clone(),
            env: c.env.clone(),
            target: c.target.clone(),
            kind: match c.source {
                Source::Probe(_) => ColumnKind::Probe,
                Source::Expected { .. } => ColumnKind::Expected,
            },
            state: state.unwrap_or_else(|| {
                Err(ColumnError {
                    column: c.name.clone(),
                    message: "could not be read".to_string(),
                    stderr: Vec::new(),
                })
            }),
        })
        .collect()
}

/// The plan's ignore patterns.
pub fn ignore_of(plan: &Plan) -> Ignore {
    Ignore::new(plan.drift.ignore.iter().cloned())
}

/// Run the probes `selection` asks for and compare them with the baseline.
pub async fn run(plan: &Plan, selection: &Selection, opts: &ProbeOptions) -> Result<Matrix, DriftError> {
    let layout = layout(plan, selection)?;
    let columns = collect(&layout, opts).await;
    Ok(Matrix::build(columns, Some(layout.baseline), &ignore_of(plan)))
}

/// What [`snapshot_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Where the snapshot was written.
    pub path: PathBuf,
    /// Probe columns saved (failed ones included, with their error).
    pub columns: usize,
    /// Entries saved over all columns.
    pub entries: usize,
    /// The probes that failed.
    pub errors: Vec<ColumnError>,
}

/// Run every probe of the plan and save the states to `path` (for the engine: a release's
/// `drift-start.json` and `drift-end.json`). `Ok(None)` when no environment has a probe (nothing
/// is written). A failing probe does not fail the snapshot: its column is saved with its error
/// and listed in [`SnapshotInfo::errors`].
pub async fn snapshot_to(
    plan: &Plan,
    path: &Path,
    opts: &ProbeOptions,
) -> Result<Option<SnapshotInfo>, DriftError> {
    let columns: Vec<ColumnPlan> = plan
        .environments
        .values()
        .flat_map(|env| probe_columns(plan, env))
        .collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let taken_at = Utc::now();
    let columns = collect(&Layout { columns, baseline: 0 }, opts).await;
    let (plan_name, target, cols) = (plan.name.clone(), path.to_path_buf(), columns);
    let info = tokio::task::spawn_blocking(move || {
        snapshot::write_snapshot(&target, &plan_name, taken_at, &cols)?;
        Ok::<_, DriftError>(SnapshotInfo {
            path: target,
            columns: cols.len(),
            entries: cols
                .iter()
                .filter_map(|c| c.state.as_ref().ok())
                .map(State::len)
                .sum(),
            errors: cols
                .iter()
                .filter_map(|c| c.state.as_ref().err().cloned())
                .collect(),
        })
    })
    .await
    .map_err(|e| DriftError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })??;
    Ok(Some(info))
}

/// How a drift checklist item came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Every probe column of the environment matches the baseline (after `ignore`): tick it.
    InSync,
    /// Some key differs, is missing or is extra.
    Drifted,
    /// A probe failed or the baseline could not be read: nothing can be said.
    Error,
}

/// The verdict of a drift checklist item, with what to show and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckVerdict {
    /// Passed, drifted, or could not be decided.
    pub outcome: CheckOutcome,
    /// One line: `prod in sync with staging`, `prod drifts from staging: prod/us-east: 1 differs`,
    /// or the error.
    pub summary: String,
    /// The drifting rows, the summaries and any probe errors, as plain text (for the check's log).
    pub report: String,
}

impl CheckVerdict {
    /// Whether the item passes (ticks).
    pub fn passed(&self) -> bool {
        self.outcome == CheckOutcome::InSync
    }
}

/// Evaluate a drift checklist item (`drift = { env, baseline }`): run the probes of `check.env`
/// and of its baseline, compare them (the plan's `ignore` applied) and say whether it passes.
///
/// This is what the driver calls for an automatic checklist item whose `drift` is set, in place
/// of running a `check` command. It never fails as a Rust error: a probe that fails, times out or
/// prints garbage gives [`CheckOutcome::Error`] with the reason in the summary. Probes end with
/// their process groups when the future is dropped (a cancelled release).
pub async fn evaluate_check(plan: &Plan, check: &DriftCheck, opts: &ProbeOptions) -> CheckVerdict {
    let error = |summary: String| CheckVerdict {
        outcome: CheckOutcome::Error,
        report: format!("{summary}\n"),
        summary,
    };
    let Some(base_spec) = plan.baseline_for(check) else {
        return error(format!(
            "drift check of `{}`: no baseline (set `baseline` on the item or in [drift])",
            check.env
        ));
    };
    let baseline = match baseline_column(plan, base_spec) {
        Ok(b) => b,
        Err(e) => return error(format!("drift check of `{}`: {e}", check.env)),
    };
    let Some(env) = plan.environments.get(&check.env) else {
        return error(format!("drift check: `{}` is not an environment", check.env));
    };
    let base_name = baseline.name.clone();
    let mut columns = vec![baseline];
    columns.extend(
        probe_columns(plan, env)
            .into_iter()
            .filter(|c| c.name != base_name),
    );
    if columns.len() < 2 {
        return error(format!(
            "drift check of `{}`: the environment has no probe",
            check.env
        ));
    }
    let layout = Layout { columns, baseline: 0 };
    let matrix = Matrix::build(collect(&layout, opts).await, Some(0), &ignore_of(plan));

    let base_name = &matrix.columns()[0].name;
    let drifting: Vec<String> = matrix
        .summaries()
        .iter()
        .filter(|s| !s.unavailable && !s.in_sync())
        .map(Summary::text)
        .collect();
    let errors: Vec<String> = matrix.errors().map(|e| e.to_string()).collect();
    let (outcome, summary) = if !errors.is_empty() {
        let first = matrix
            .errors()
            .next()
            .map(|e| format!("{}: {}", e.column, e.message));
        (
            CheckOutcome::Error,
            format!(
                "cannot compare {} with {base_name}: {}",
                check.env,
                first.unwrap_or_default()
            ),
        )
    } else if drifting.is_empty() {
        (
            CheckOutcome::InSync,
            format!("{} in sync with {base_name}", check.env),
        )
    } else {
        (
            CheckOutcome::Drifted,
            format!("{} drifts from {base_name}: {}", check.env, drifting.join("; ")),
        )
    };
    let mut report = Vec::new();
    let style = report::TextStyle {
        only_diff: true,
        ..report::TextStyle::default()
    };
    let _ = report::write_matrix(&mut report, &matrix, style);
    for e in &errors {
        report.extend_from_slice(format!("{e}\n").as_bytes());
    }
    CheckVerdict {
        outcome,
        summary,
        report: String::from_utf8_lossy(&report).into_owned(),
    }
}

/// Which commit each probe column runs, against the baseline: the `[drift] version_key` values
/// resolved in the plan's repository (`prod/eu-west runs v2.3.1 (a1b2c3d), 14 commits behind
/// staging`). Empty when the baseline reports no version or the plan is not in a repository; a
/// version that does not resolve shows as unknown.
pub fn version_drift(plan: &Plan, matrix: &Matrix) -> Vec<git::VersionDrift> {
    let key = plan.drift.version_key.as_str();
    let columns = matrix.columns();
    let Some(b) = matrix.baseline() else {
        return Vec::new();
    };
    let Some(base_version) = columns[b].state.as_ref().ok().and_then(|s| s.get(key)) else {
        return Vec::new();
    };
    let Ok(repo) = git::Repo::open(plan) else {
        return Vec::new();
    };
    columns
        .iter()
        .enumerate()
        .filter(|(i, c)| *i != b && c.kind == compare::ColumnKind::Probe)
        .filter_map(|(_, c)| {
            let version = c.state.as_ref().ok()?.get(key)?;
            Some(repo.version_drift(&c.name, version, &columns[b].name, base_version))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> (tempfile::TempDir, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flightdeck.toml");
        std::fs::write(&path, text).unwrap();
        let plan = crate::plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
        (dir, plan)
    }

    const PLAN: &str = r#"
[plan]
name = "p"
[environments.staging]
probe = "echo a=1; echo b=2"
[environments.prod]
targets = ["eu", "us"]
probe = "echo a=1; echo b={target}"
[environments.qa]
[[stage]]
id = "s"
run = "true"
"#;

    fn names(layout: &Layout) -> Vec<&str> {
        layout.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn layouts_put_the_baseline_first() {
        let (_d, p) = plan(PLAN);
        let all = layout(&p, &Selection::default()).unwrap();
        assert_eq!(names(&all), ["staging", "prod/eu", "prod/us"]);
        let Source::Probe(spec) = &all.columns[2].source else {
            panic!("a probe")
        };
        assert_eq!(spec.command, "echo a=1; echo b=us");
        assert!(spec.vars.contains(&("FLIGHTDECK_TARGET".into(), "us".into())));
        assert_eq!(spec.timeout, std::time::Duration::from_secs(30));

        let sel = Selection {
            envs: vec!["prod/us".into()],
            baseline: Some("prod/eu".into()),
        };
        assert_eq!(names(&layout(&p, &sel).unwrap()), ["prod/eu", "prod/us"]);
        let sel = Selection {
            envs: vec!["prod".into()],
            baseline: None,
        };
        assert_eq!(
            names(&layout(&p, &sel).unwrap()),
            ["staging", "prod/eu", "prod/us"]
        );
    }

    #[test]
    fn unknown_names_are_usage_errors_with_hints() {
        let (_d, p) = plan(PLAN);
        let err = |envs: &[&str], baseline: Option<&str>| {
            layout(
                &p,
                &Selection {
                    envs: envs.iter().map(|s| s.to_string()).collect(),
                    baseline: baseline.map(str::to_string),
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            err(&["prd"], None),
            "--env `prd` is not an environment of plan `p`; did you mean `prod`?"
        );
        assert_eq!(err(&["prod/ue"], None), "environment `prod` has no target `ue`");
        assert_eq!(err(&["qa"], None), "environment `qa` has no probe or expect file");
        assert_eq!(
            err(&[], Some("stagin")),
            "baseline `stagin` is not an environment of plan `p`; did you mean `staging`?"
        );
        assert_eq!(
            err(&[], Some("qa")),
            "baseline `qa` has no probe or expect, so there is nothing to compare with"
        );
    }

    #[test]
    fn runs_and_compares() {
        let (_d, p) = plan(PLAN);
        let m = block(run(&p, &Selection::default(), &ProbeOptions::default())).unwrap();
        let texts: Vec<String> = m.summaries().iter().map(Summary::text).collect();
        assert_eq!(texts, ["prod/eu: 1 differs", "prod/us: 1 differs"]);
    }

    #[test]
    fn drift_checks_pass_fail_and_error() {
        let (_d, p) = plan(
            r#"
[plan]
name = "p"
[drift]
ignore = ["b"]
[environments.staging]
probe = "echo a=1; echo b=2"
[environments.prod]
targets = ["eu", "us"]
probe = "echo a=1; echo b={target}"
[environments.dev]
probe = "echo a=2"
[environments.broken]
probe = "echo nope >&2; exit 4"
[[stage]]
id = "s"
run = "true"
"#,
        );
        let check = |env: &str| {
            block(evaluate_check(
                &p,
                &DriftCheck {
                    env: env.into(),
                    baseline: None,
                },
                &ProbeOptions::default(),
            ))
        };
        let ok = check("prod");
        assert!(ok.passed(), "{ok:?}");
        assert_eq!(ok.summary, "prod in sync with staging");

        let bad = check("dev");
        assert_eq!(bad.outcome, CheckOutcome::Drifted);
        assert_eq!(bad.summary, "dev drifts from staging: dev: 1 differs");
        assert!(
            bad.report.contains("a    1                   ≠ 2"),
            "{}",
            bad.report
        );

        let broken = check("broken");
        assert_eq!(broken.outcome, CheckOutcome::Error);
        assert_eq!(
            broken.summary,
            "cannot compare broken with staging: broken: exit 4"
        );
        assert!(broken.report.contains("stderr: nope"), "{}", broken.report);
    }

    #[test]
    fn snapshots_hold_every_probe_column() {
        let (d, p) = plan(PLAN);
        let path = d.path().join("rel/drift-start.json");
        let info = block(snapshot_to(&p, &path, &ProbeOptions::default()))
            .unwrap()
            .unwrap();
        assert_eq!((info.columns, info.entries, info.errors.len()), (3, 6, 0));
        let snap = load_snapshot(&path).unwrap();
        let names: Vec<&str> = snap.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["staging", "prod/eu", "prod/us"]);
        assert_eq!(snap.columns[2].state.get("b"), Some("us"));

        let (_d, none) = plan("[plan]\nname = \"p\"\n[[stage]]\nid = \"s\"\nrun = \"true\"\n");
        assert_eq!(
            block(snapshot_to(&none, &path, &ProbeOptions::default())).unwrap(),
            None
        );
    }
}
