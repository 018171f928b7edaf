//! `flightdeck-workspace.toml`: the plans a team releases together (listed or globbed), and the
//! settings of their release trains (`[train] on_failure`, `[train.gates.NAME]`). Loading checks
//! the file itself; [`check_workspace`] also loads every plan and checks what crosses plans:
//! `needs = ["billing:deploy-prod"]` references and cycles through them, as `file:line:col`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::hint;
use super::load::{PlanError, Problem, problems};
use super::model::Plan;
use super::raw::{self, RawTrainGate, RawWorkspaceFile, Section};
use super::source::Issue;

/// The workspace file's name, looked for like the plan's.
pub const WORKSPACE_FILE: &str = "flightdeck-workspace.toml";

/// A workspace as its file says (the plans not loaded yet).
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// The workspace file (absolute).
    pub path: PathBuf,
    pub name: String,
    /// The plan files, in the order the file lists them (a glob's matches sorted), each once.
    pub plans: Vec<PathBuf>,
    pub train: TrainSettings,
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainSettings {
    /// A member's failure rolls back the members that completed (newest first).
    pub rollback_on_failure: bool,
    pub gates: Vec<TrainGate>,
}

/// `[train.gates.NAME]`: one approval (and checklist) in the train's journal that every
/// member's stages on `environment` wait for.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainGate {
    pub name: String,
    /// Default: each member plan's last environment in stage order.
    pub environment: Option<String>,
    pub approvals: u32,
    pub checklist: Vec<String>,
    /// Who may approve; anyone when empty.
    pub approvers: Vec<String>,
}

impl TrainGate {
    /// The environment whose stages of `plan` wait for this gate.
    pub fn environment_in(&self, plan: &Plan) -> Option<String> {
        match &self.environment {
            Some(e) => Some(e.clone()),
            None => plan.stages.iter().rev().find_map(|s| s.environment.clone()),
        }
    }
}

/// `flightdeck-workspace.toml` in `start` or its nearest parent, and how many folders up it is.
pub fn find_workspace_file(start: &Path) -> Option<(PathBuf, usize)> {
    start.ancestors().enumerate().find_map(|(up, d)| {
        let candidate = d.join(WORKSPACE_FILE);
        candidate.is_file().then_some((candidate, up))
    })
}

/// Read and check the workspace file at `path` (not its plans: see [`check_workspace`]).
pub fn load_workspace(path: &Path) -> Result<Workspace, PlanError> {
    let text =
        crate::files::read_text_bounded(path, crate::files::MAX_INPUT).map_err(|source| PlanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    load_workspace_str(&text, path)
}

/// [`load_workspace`] of `text`.
pub fn load_workspace_str(text: &str, path: &Path) -> Result<Workspace, PlanError> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let (ws, issues) = match raw::parse_as::<RawWorkspaceFile>(text) {
        Err(syntax) => (None, syntax),
        Ok((parsed, mut issues)) => {
            let mut check = WsChecker {
                issues: Vec::new(),
                dropped: parsed.dropped.clone(),
            };
            let root = parsed.file.span();
            let ws = check.workspace(parsed.file.get_ref(), &root, &absolute);
            issues.extend(check.issues);
            (Some(ws), issues)
        }
    };
    match ws {
        Some(ws) if issues.is_empty() => Ok(ws),
        _ => Err(PlanError::Invalid {
            problems: problems(text, path, issues),
        }),
    }
}

/// Every plan of the workspace loaded and checked, and the references between them: every
/// problem of every file at once (sorted by file, then position).
pub fn check_workspace(ws: &Workspace) -> Result<Vec<Plan>, PlanError> {
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    for path in &ws.plans {
        match super::load(path) {
            Ok(p) => plans.push(p),
            Err(PlanError::Invalid { problems: more }) => problems.extend(more),
            Err(e @ (PlanError::Io { .. } | PlanError::NotFound(_))) => problems.push(Problem {
                file: ws.path.clone(),
                line: 1,
                col: 1,
                message: e.to_string(),
            }),
        }
    }
    problems.extend(cross_problems(ws, &plans));
    if problems.is_empty() {
        Ok(plans)
    } else {
        Err(PlanError::Invalid { problems })
    }
}

/// What only the whole workspace shows: two plans of one name, `plan:stage` needs naming no
/// such plan or stage, cycles through them, train gates on an environment no plan has.
pub fn cross_problems(ws: &Workspace, plans: &[Plan]) -> Vec<Problem> {
    let mut out = Vec::new();
    let at_ws = |message: String| Problem {
        file: ws.path.clone(),
        line: 1,
        col: 1,
        message,
    };
    let mut by_name: BTreeMap<&str, &Plan> = BTreeMap::new();
    for p in plans {
        if let Some(first) = by_name.insert(&p.name, p) {
            out.push(at_ws(format!(
                "plans {} and {} are both named `{}`: plan names must be unique in a workspace",
                first.path.display(),
                p.path.display(),
                p.name
            )));
        }
    }
    // Every stage of every plan is a node; intra-plan needs and cross-plan needs are edges.
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut nodes: Vec<(&Plan, usize)> = Vec::new();
    for p in plans {
        for (i, s) in p.stages.iter().enumerate() {
            index.insert((&p.name, &s.id), nodes.len());
            nodes.push((p, i));
        }
    }
    let mut edges = vec![Vec::new(); nodes.len()];
    for (n, &(p, i)) in nodes.iter().enumerate() {
        let stage = &p.stages[i];
        for need in &stage.needs {
            if let Some(&to) = index.get(&(p.name.as_str(), need.as_str())) {
                edges[n].push(to);
            }
        }
        for need in &stage.after {
            let problem = |message: String| Problem {
                file: p.path.clone(),
                line: need.line,
                col: need.col,
                message,
            };
            let label = format!("stage `{}`", stage.id);
            if need.plan == p.name {
                out.push(problem(format!(
                    "{label} needs `{}`, a stage of its own plan: write `{}`",
                    need.name(),
                    need.stage
                )));
                continue;
            }
            let Some(other) = by_name.get(need.plan.as_str()) else {
                let hint = hint::suffix(&need.plan, by_name.keys().copied());
                out.push(problem(format!(
                    "{label} needs `{}`, but the workspace {} has no plan `{}`{hint}",
                    need.name(),
                    ws.name,
                    need.plan
                )));
                continue;
            };
            match index.get(&(other.name.as_str(), need.stage.as_str())) {
                Some(&to) => edges[n].push(to),
                None => {
                    let hint = hint::suffix(&need.stage, other.stages.iter().map(|s| s.id.as_str()));
                    out.push(problem(format!(
                        "{label} needs `{}`, but plan `{}` has no stage `{}`{hint}",
                        need.name(),
                        other.name,
                        need.stage
                    )));
                }
            }
        }
    }
    for cycle in super::validate::cycles(&edges) {
        // Only cycles that cross plans are new here: a plan's own are reported by its check.
        let (first_plan, _) = nodes[cycle[0]];
        if cycle.iter().all(|&n| std::ptr::eq(nodes[n].0, first_plan)) {
            continue;
        }
        let names: Vec<String> = cycle
            .iter()
            .chain(&cycle[..1])
            .map(|&n| format!("{}:{}", nodes[n].0.name, nodes[n].0.stages[nodes[n].1].id))
            .collect();
        // Reported where the cycle first steps into another plan.
        let (p, i) = cycle
            .iter()
            .zip(cycle.iter().cycle().skip(1))
            .find(|(a, b)| !std::ptr::eq(nodes[**a].0, nodes[**b].0))
            .map(|(a, _)| nodes[*a])
            .unwrap_or(nodes[cycle[0]]);
        let (line, col) = p.stages[i].after.first().map_or((1, 1), |n| (n.line, n.col));
        out.push(Problem {
            file: p.path.clone(),
            line,
            col,
            message: format!("stages form a cycle across plans: {}", names.join(" -> ")),
        });
    }
    for gate in &ws.train.gates {
        if let Some(env) = &gate.environment
            && !plans.iter().any(|p| p.environments.contains_key(env))
        {
            out.push(at_ws(format!(
                "train gate `{}` is for environment `{env}`, which no plan of the workspace has",
                gate.name
            )));
        }
    }
    out
}

struct WsChecker {
    issues: Vec<Issue>,
    /// What the parser took out for a wrong type (already reported): not also "missing".
    dropped: Vec<(std::ops::Range<usize>, Option<String>)>,
}

impl WsChecker {
    /// Report that `key` of the table spanning `table` is missing, unless it was there with a
    /// wrong type (reported already).
    fn missing(&mut self, table: &std::ops::Range<usize>, key: &str, message: &str) {
        let dropped = self
            .dropped
            .iter()
            .any(|(span, k)| span == table && k.as_deref().is_none_or(|k| k == key));
        if !dropped {
            self.report(table.start, message);
        }
    }

    fn report(&mut self, at: usize, message: impl Into<String>) {
        self.issues.push(Issue::new(at, message));
    }

    fn unknown_keys<T>(&mut self, section: &Section<T>, place: &str) {
        for key in &section.unknown {
            let name = key.get_ref();
            let hint = hint::suffix(name, section.known.iter().copied());
            self.report(key.span().start, format!("unknown key `{name}` {place}{hint}"));
        }
    }

    fn workspace(
        &mut self,
        file: &Section<RawWorkspaceFile>,
        root: &std::ops::Range<usize>,
        path: &Path,
    ) -> Workspace {
        self.unknown_keys(file, "at the top level");
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut ws = Workspace {
            path: path.to_path_buf(),
            name: String::new(),
            plans: Vec::new(),
            train: TrainSettings::default(),
        };
        let Some(section) = &file.workspace else {
            self.missing(
                root,
                "workspace",
                "no [workspace] table (it names the workspace and lists its plans)",
            );
            return ws;
        };
        let raw = section.get_ref();
        self.unknown_keys(raw, "in [workspace]");
        match &raw.name {
            Some(n) if valid_name(&n.get_ref().0) => ws.name = n.get_ref().0.clone(),
            Some(n) => self.report(
                n.span().start,
                format!(
                    "workspace name `{}` may hold only letters, digits, `.`, `_` and `-`",
                    n.get_ref().0.escape_debug()
                ),
            ),
            None => self.missing(&section.span(), "name", "[workspace] has no `name`"),
        }
        match &raw.plans {
            None => self.missing(
                &section.span(),
                "plans",
                "[workspace] has no `plans` (plan files or globs)",
            ),
            Some(list) if list.get_ref().0.is_empty() => self.report(
                list.span().start,
                "`plans` is empty: list the plan files (or globs)",
            ),
            Some(list) => {
                for entry in &list.get_ref().0 {
                    let pattern = entry.get_ref().0.as_str();
                    let at = entry.span().start;
                    for found in self.plan_files(at, &dir, pattern) {
                        if !ws.plans.contains(&found) {
                            ws.plans.push(found);
                        }
                    }
                }
            }
        }
        if let Some(train) = &file.train {
            let raw = train.get_ref();
            self.unknown_keys(raw, "in [train]");
            if let Some(f) = &raw.on_failure {
                match f.get_ref().0.as_str() {
                    "halt" => {}
                    "rollback" => ws.train.rollback_on_failure = true,
                    other => self.report(
                        f.span().start,
                        format!(
                            "on_failure of [train] is `{}`; expected `halt` or `rollback`",
                            other.escape_debug()
                        ),
                    ),
                }
            }
            for (name, gate) in raw.gates.iter().flat_map(|g| &g.get_ref().0) {
                if let Some(g) = self.gate(name, gate) {
                    ws.train.gates.push(g);
                }
            }
        }
        ws
    }

    fn gate(&mut self, name: &Spanned<String>, gate: &Spanned<Section<RawTrainGate>>) -> Option<TrainGate> {
        let raw = gate.get_ref();
        let label = format!("[train.gates.{}]", name.get_ref());
        self.unknown_keys(raw, &format!("in {label}"));
        if !valid_name(name.get_ref()) {
            self.report(
                name.span().start,
                format!(
                    "train gate name `{}` may hold only letters, digits, `.`, `_` and `-`",
                    name.get_ref().escape_debug()
                ),
            );
            return None;
        }
        let approvals = match &raw.approvals {
            None => 1,
            Some(a) if a.get_ref().0 == 0 || a.get_ref().0 > 100 => {
                self.report(a.span().start, format!("approvals of {label} must be 1 to 100"));
                1
            }
            Some(a) => a.get_ref().0 as u32,
        };
        let texts = |list: &Option<Spanned<raw::List<raw::Text>>>| -> Vec<(usize, String)> {
            list.iter()
                .flat_map(|l| &l.get_ref().0)
                .map(|t| (t.span().start, t.get_ref().0.clone()))
                .collect()
        };
        let mut checklist = Vec::new();
        for (at, item) in texts(&raw.checklist) {
            if item.trim().is_empty() || item.chars().any(char::is_control) {
                self.report(
                    at,
                    format!("checklist item of {label} must be plain, non-empty text"),
                );
            } else {
                checklist.push(item);
            }
        }
        let mut approvers = Vec::new();
        for (at, who) in texts(&raw.approvers) {
            let who = who.trim();
            if who.is_empty() || who.chars().any(char::is_control) {
                self.report(at, format!("approver of {label} must be a plain, non-empty name"));
            } else if !approvers.iter().any(|a: &String| a.eq_ignore_ascii_case(who)) {
                approvers.push(who.to_string());
            }
        }
        if approvers.len() < approvals as usize && !approvers.is_empty() {
            self.report(
                gate.span().start,
                format!(
                    "{label} needs {approvals} approvals but only {} people may approve it: it could never open",
                    approvers.len()
                ),
            );
        }
        Some(TrainGate {
            name: name.get_ref().clone(),
            environment: raw.environment.as_ref().map(|e| e.get_ref().0.clone()),
            approvals,
            checklist,
            approvers,
        })
    }

    /// The plan files `pattern` names, relative to `dir`: a file, or a glob matching at least one.
    fn plan_files(&mut self, at: usize, dir: &Path, pattern: &str) -> Vec<PathBuf> {
        if pattern.trim().is_empty() {
            self.report(at, "an entry of `plans` is empty");
            return Vec::new();
        }
        let full = dir.join(pattern);
        let is_glob = pattern.contains(['*', '?', '[']);
        if !is_glob {
            if full.is_file() {
                return vec![normal(&full)];
            }
            let why = if full.is_dir() {
                format!(
                    "plan `{pattern}` is a folder; name its plan file (`{}`)",
                    Path::new(pattern).join("flightdeck.toml").display()
                )
            } else {
                format!("plan `{pattern}` does not exist ({})", full.display())
            };
            self.report(at, why);
            return Vec::new();
        }
        let Some(text) = full.to_str() else {
            self.report(
                at,
                format!("plan glob `{pattern}` is not valid UTF-8 once joined to the workspace's folder"),
            );
            return Vec::new();
        };
        match glob::glob(text) {
            Err(e) => {
                self.report(
                    at,
                    format!("plan glob `{pattern}` is not a valid pattern: {}", e.msg),
                );
                Vec::new()
            }
            Ok(paths) => {
                let mut found: Vec<PathBuf> = paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .map(|p| normal(&p))
                    .collect();
                found.sort();
                if found.is_empty() {
                    self.report(at, format!("plan glob `{pattern}` matches no file"));
                }
                found
            }
        }
    }
}

/// `a/b/../c` as `a/c` (no file system access: the paths are shown to people).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, files: &[&str]) -> (tempfile::TempDir, Result<Workspace, PlanError>) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let path = dir.path().join(WORKSPACE_FILE);
        let r = load_workspace_str(text, &path);
        (dir, r)
    }

    fn problems(r: Result<Workspace, PlanError>) -> Vec<String> {
        match r {
            Err(PlanError::Invalid { problems }) => problems
                .iter()
                .map(|p| format!("{}:{}: {}", p.line, p.col, p.message))
                .collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn plans_are_listed_or_globbed_in_order_each_once() {
        let (dir, r) = load(
            "[workspace]\nname = \"shop\"\nplans = [\"b/flightdeck.toml\", \"*/flightdeck.toml\"]\n\n[train]\non_failure = \"rollback\"\n\n[train.gates.board]\napprovals = 2\napprovers = [\"ann\", \"Ann\", \"bob\"]\nchecklist = [\"ticket\"]\n",
            &[
                "a/flightdeck.toml",
                "b/flightdeck.toml",
                "c/flightdeck.toml",
                "c/other.toml",
            ],
        );
        let ws = r.unwrap();
        let names: Vec<PathBuf> = ws
            .plans
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            ["b/flightdeck.toml", "a/flightdeck.toml", "c/flightdeck.toml"].map(PathBuf::from)
        );
        assert!(ws.train.rollback_on_failure);
        let g = &ws.train.gates[0];
        assert_eq!((g.name.as_str(), g.approvals), ("board", 2));
        assert_eq!(g.approvers, ["ann", "bob"]);
        assert_eq!(g.checklist, ["ticket"]);
    }

    #[test]
    fn every_problem_of_the_file_is_named_at_its_place() {
        let (dir, r) = load(
            "[workspace]\nname = \"a shop\"\nplans = [\"missing/flightdeck.toml\", \"dir\", \"\"]\n\n[train.gates.\"x y\"]\n\n[train.gates.ok]\napprovals = 0\nwho = 1\n",
            &["dir/flightdeck.toml"],
        );
        let missing = dir.path().join("missing/flightdeck.toml");
        assert_eq!(
            problems(r),
            [
                "2:8: workspace name `a shop` may hold only letters, digits, `.`, `_` and `-`".to_string(),
                format!(
                    "3:10: plan `missing/flightdeck.toml` does not exist ({})",
                    missing.display()
                ),
                "3:37: plan `dir` is a folder; name its plan file (`dir/flightdeck.toml`)".to_string(),
                "3:44: an entry of `plans` is empty".to_string(),
                "5:14: train gate name `x y` may hold only letters, digits, `.`, `_` and `-`".to_string(),
                "8:13: approvals of [train.gates.ok] must be 1 to 100".to_string(),
                "9:1: unknown key `who` in [train.gates.ok]".to_string(),
            ]
        );
    }

    #[test]
    fn a_file_without_workspace_table_says_what_it_needs() {
        let (_dir, r) = load("[train]\n", &[]);
        assert_eq!(
            problems(r),
            ["1:1: no [workspace] table (it names the workspace and lists its plans)"]
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_said_once_not_also_missing() {
        let (_dir, r) = load("[workspace]\nname = 3\nplans = \"a/flightdeck.toml\"\n", &[]);
        assert_eq!(
            problems(r),
            [
                "2:8: workspace.name: expected a string, found integer 3",
                "3:9: workspace.plans: expected a list of strings, found string",
            ]
        );
        let (_dir, r) = load("workspace = 3\n", &[]);
        assert_eq!(
            problems(r),
            ["1:13: workspace: expected a table, found integer 3"]
        );
        // Missing, it is said missing.
        let (_dir, r) = load("[workspace]\nname = \"w\"\n", &[]);
        assert_eq!(
            problems(r),
            ["1:1: [workspace] has no `plans` (plan files or globs)"]
        );
    }

    #[test]
    fn paths_are_shown_without_dot_dot() {
        assert_eq!(normal(Path::new("/w/a/../b/./c")), PathBuf::from("/w/b/c"));
    }
}
