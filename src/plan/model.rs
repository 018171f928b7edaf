//! The validated, resolved plan: what the engine runs. Built by [`super::load`] from `flightdeck.toml`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A whole release plan, validated: every `needs`, `environment` and `gate` reference resolves,
/// the stage graph is acyclic and every placeholder is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Absolute path of the plan file.
    pub path: PathBuf,
    /// Directory commands run in (the plan file's directory).
    pub dir: PathBuf,
    pub name: String,
    pub max_parallel: usize,
    /// Names of environment variables whose values are masked everywhere.
    pub secrets: Vec<String>,
    /// Where each of `secrets` is named in the plan file (1-based line and column), in the same
    /// order (`(0, 0)` when unknown).
    pub secret_locations: Vec<(usize, usize)>,
    /// In file order.
    pub environments: IndexMap<String, Environment>,
    /// In file order (which is also a valid tie-break order for the DAG).
    pub stages: Vec<Stage>,
    /// In file order.
    pub gates: IndexMap<String, Gate>,
    /// `repo`, `tag_pattern` and `tag_on_success` of `[plan]`.
    pub git: GitConfig,
    /// The `[drift]` table.
    pub drift: DriftConfig,
    /// `[plan] check_timeout`: how long an automatic checklist check (a command or a drift
    /// check) may run before it is ended (SIGTERM, grace, SIGKILL) and counts as timed out.
    pub check_timeout: Duration,
    /// `[plan] store`: the shared store's URL (`postgres://host/db`; never credentials), chosen
    /// when neither `--store` nor `FLIGHTDECK_STORE` names one. `None`: the local data dir.
    pub store: Option<String>,
    /// `[teams]`: team name → its people, in file order.
    pub teams: IndexMap<String, Vec<String>>,
    /// `[[freeze]]`: when stages on some environments do not start, in file order.
    pub freezes: Vec<super::freeze::Freeze>,
    /// `[plan] freeze_override_approvals`: distinct people (not whoever started the release)
    /// whose `override-freeze` lets a release's stages through a window in force (default 1).
    pub freeze_override_approvals: u32,
    /// `[[notify]]`: who hears of what, in file order.
    pub notify: Vec<Notify>,
}

/// The events a `[[notify]]` can be `on`.
pub const NOTIFY_EVENTS: [&str; 6] = [
    "gate_waiting",
    "stage_failed",
    "rollback_started",
    "rollback_finished",
    "release_finished",
    "incident_opened",
];

/// A `[[notify]]`: where messages about some events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub sink: NotifySink,
    /// Names from [`NOTIFY_EVENTS`].
    pub on: Vec<String>,
    /// Only messages about these environments; empty: all.
    pub environments: Vec<String>,
    /// Attempts after the first before giving up.
    pub retries: u32,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Notify {
    pub const DEFAULT_RETRIES: u32 = 5;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// What it is called where it is shown (journal, status, cockpit): never the webhook's URL,
    /// which may hold a secret, only its host.
    pub fn label(&self) -> String {
        match &self.sink {
            NotifySink::Webhook(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit('@').next().unwrap_or_default();
                format!("webhook {host}")
            }
            NotifySink::Run(cmd) => format!("run `{cmd}`"),
        }
    }
}

/// Where a `[[notify]]` sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifySink {
    /// An HTTP(S) URL: each message POSTed as JSON.
    Webhook(String),
    /// A shell command (in the plan's folder): each message as JSON on its stdin.
    Run(String),
}

impl Plan {
    /// The check timeout used when the plan sets none.
    pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
}

/// How the plan finds its git repository and names its release tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConfig {
    /// `[plan] repo`, resolved against the plan's directory; `None`: the repository containing
    /// the plan file.
    pub repo: Option<PathBuf>,
    /// A glob on tag names (`*` matches any text); the part before the first `*` is the prefix
    /// a version may omit (`2.3.1` stands for the tag `v2.3.1` under `v*`).
    pub tag_pattern: String,
    /// Create an annotated tag for the version at the release's head commit when it succeeds.
    pub tag_on_success: bool,
}

impl GitConfig {
    /// The tag pattern used when the plan sets none.
    pub const DEFAULT_TAG_PATTERN: &'static str = "v*";
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            repo: None,
            tag_pattern: Self::DEFAULT_TAG_PATTERN.to_string(),
            tag_on_success: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: String,
    pub targets: Vec<String>,
    pub protected: bool,
    pub vars: BTreeMap<String, String>,
    /// The command that prints this environment's current state (per target where it has
    /// targets); placeholders `{env}` and `{target}`.
    pub probe: Option<Template>,
    /// How long a probe may run before its process group is ended (default 30s).
    pub probe_timeout: Duration,
    /// The desired-state file, resolved against the plan's directory.
    pub expect: Option<PathBuf>,
    /// Forces the format of the probe's output and of the `expect` file (default: detected).
    pub format: Option<StateFormat>,
}

impl Environment {
    /// The probe timeout used when the plan sets none.
    pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            name: String::new(),
            targets: Vec::new(),
            protected: false,
            vars: BTreeMap::new(),
            probe: None,
            probe_timeout: Self::DEFAULT_PROBE_TIMEOUT,
            expect: None,
            format: None,
        }
    }
}

/// How a probe's output or a desired-state file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFormat {
    /// A JSON object: nested objects flattened to dotted keys, arrays indexed (`a.0`).
    Json,
    /// A TOML table, flattened like JSON.
    Toml,
    /// `key=value` lines; `#` comments and blank lines are skipped.
    Kv,
}

impl StateFormat {
    /// Every format, in the order messages list them.
    pub const ALL: [StateFormat; 3] = [Self::Json, Self::Toml, Self::Kv];
    /// The name used in the plan: `json`, `toml`, `kv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Toml => "toml",
            Self::Kv => "kv",
        }
    }
}

impl fmt::Display for StateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[drift]` table: how environments are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftConfig {
    /// The environment the others are compared with; `None`: see [`Plan::drift_baseline`].
    pub baseline: Option<String>,
    /// Glob patterns on keys left out of every comparison (`*` matches any run of characters,
    /// dots included; `?` one character).
    pub ignore: Vec<String>,
    /// The key whose value names the version an environment runs.
    pub version_key: String,
}

impl DriftConfig {
    /// The version key used when the plan sets none.
    pub const DEFAULT_VERSION_KEY: &'static str = "version";
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            baseline: None,
            ignore: Vec::new(),
            version_key: Self::DEFAULT_VERSION_KEY.to_string(),
        }
    }
}

/// A checklist item that passes when `env` does not drift from `baseline` (after `ignore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftCheck {
    pub env: String,
    /// `None`: the plan's baseline ([`Plan::drift_baseline`]).
    pub baseline: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub id: String,
    pub needs: Vec<String>,
    /// `needs = ["billing:deploy-prod"]`: stages of other plans' releases in the same train
    /// (met outside a train).
    pub after: Vec<CrossNeed>,
    pub environment: Option<String>,
    /// Commands run in order with `sh -c`; the first failure fails the run. Never empty.
    pub run: Vec<Template>,
    /// Commands that undo the stage (per target where fanned out); empty when none.
    pub rollback: Vec<Template>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub gates: Vec<String>,
    /// Fan-out limit over the environment's targets (default 1).
    pub concurrency: usize,
    pub on_failure: OnFailure,
    pub watch: Option<Watch>,
}

/// A stage of another plan that a stage waits for in a train, and where the plan names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossNeed {
    pub plan: String,
    pub stage: String,
    /// 1-based, in the plan file.
    pub line: usize,
    pub col: usize,
}

impl CrossNeed {
    /// `plan:stage`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.plan, self.stage)
    }
}

/// A command with `{placeholder}`s, validated at load time. `{{` and `}}` are literal braces and
/// `${NAME}` is left to the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub every: Duration,
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gate {
    pub name: String,
    /// Distinct people who must approve.
    pub approvals: u32,
    /// Who may approve, as written (`@cab`, `lead`); empty: anyone.
    pub approvers: Vec<String>,
    /// The people `approvers` names, teams expanded (`None`: anyone).
    pub eligible: Option<Vec<String>>,
    /// Whoever started the release may approve its gates (default: no).
    pub allow_self_approval: bool,
    /// An approval older than this when the gate is reached no longer counts.
    pub expires: Option<Duration>,
    /// `signers`: the OpenSSH `allowed_signers` file approvals must be signed by a key of
    /// (resolved against the plan's directory), and its text as read when the plan was loaded.
    pub signers: Option<(PathBuf, String)>,
    /// Release types this gate applies to; `None` means all.
    pub required_for: Option<Vec<ReleaseType>>,
    pub checklist: Vec<ChecklistItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistItem {
    pub item: String,
    /// Automatic items: the command's exit 0 ticks the item.
    pub check: Option<Template>,
    /// Automatic items: ticked when the environment does not drift from its baseline. At most
    /// one of `check` and `drift` is set.
    pub drift: Option<DriftCheck>,
}

impl ChecklistItem {
    /// A manual item (ticked by a person).
    pub fn manual(item: impl Into<String>) -> Self {
        ChecklistItem {
            item: item.into(),
            check: None,
            drift: None,
        }
    }

    /// Whether the item is ticked by the driver (a `check` command or a `drift` check).
    pub fn is_automatic(&self) -> bool {
        self.check.is_some() || self.drift.is_some()
    }
}

pub use crate::event::{OnFailure, ReleaseType};

/// The shortest secret value that can be masked: masking a shorter one (`o`, `1`, `id`) would
/// hide ordinary text everywhere it is shown.
pub const MIN_SECRET_LEN: usize = 4;

impl Plan {
    /// Refuse secret values that cannot be masked safely: set but empty, or shorter than
    /// [`MIN_SECRET_LEN`] bytes (a multi-line value: none of its lines long enough). `value` looks
    /// a secret's variable up (the environment); an unset variable is fine (nothing to mask).
    /// Every such secret is one problem at its place in the plan file.
    pub fn check_secret_values(
        &self,
        value: impl Fn(&str) -> Option<String>,
    ) -> Result<(), super::PlanError> {
        let mut problems = Vec::new();
        for (i, name) in self.secrets.iter().enumerate() {
            let Some(v) = value(name) else { continue };
            let why = if v.is_empty() {
                "is set but empty".to_string()
            } else if v.len() < MIN_SECRET_LEN {
                format!("is only {} byte(s) long", v.len())
            } else if v.contains('\n') && v.split('\n').all(|l| l.trim().len() < MIN_SECRET_LEN) {
                format!("has no line of {MIN_SECRET_LEN} bytes or more")
            } else {
                continue;
            };
            let (line, col) = self.secret_locations.get(i).copied().unwrap_or((0, 0));
            problems.push(super::Problem {
                file: self.path.clone(),
                line,
                col,
                message: format!(
                    "secret `{name}` {why}: a secret value must be at least {MIN_SECRET_LEN} bytes, or masking it would hide ordinary text (set a longer value or unset {name})"
                ),
            });
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(super::PlanError::Invalid { problems })
        }
    }

    /// [`Plan::check_secret_values`] against this process's environment.
    pub fn check_secrets_in_env(&self) -> Result<(), super::PlanError> {
        self.check_secret_values(|name| std::env::var(name).ok())
    }

    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    /// The targets a stage runs on: the environment's targets when it has some, else one run
    /// with no target (`None`).
    pub fn targets_of(&self, stage: &Stage) -> Vec<Option<String>> {
        match stage.environment.as_ref().and_then(|e| self.environments.get(e)) {
            Some(env) if !env.targets.is_empty() => env.targets.iter().cloned().map(Some).collect(),
            _ => vec![None],
        }
    }

    /// The environment drift compares with by default: `[drift] baseline`, else the first
    /// environment (in file order) that has a probe or an `expect` file.
    pub fn drift_baseline(&self) -> Option<&str> {
        self.drift.baseline.as_deref().or_else(|| {
            self.environments
                .values()
                .find(|e| e.probe.is_some() || e.expect.is_some())
                .map(|e| e.name.as_str())
        })
    }

    /// The baseline of a drift checklist item: its own, else [`Plan::drift_baseline`].
    pub fn baseline_for<'a>(&'a self, check: &'a DriftCheck) -> Option<&'a str> {
        check.baseline.as_deref().or_else(|| self.drift_baseline())
    }

    /// Gates of `stage` that apply to releases of type `rtype`.
    pub fn gates_for<'a>(
        &'a self,
        stage: &'a Stage,
        rtype: ReleaseType,
    ) -> impl Iterator<Item = &'a Gate> + 'a {
        stage
            .gates
            .iter()
            .filter_map(|g| self.gates.get(g))
            .filter(move |g| g.required_for.as_ref().is_none_or(|types| types.contains(&rtype)))
    }
}

impl Gate {
    /// 1-based item number or text or a unique prefix of the text -> index.
    pub fn find_item(&self, spec: &str) -> Result<usize, String> {
        if let Ok(n) = spec.parse::<usize>() {
            if n >= 1 && n <= self.checklist.len() {
                return Ok(n - 1);
            }
            return Err(format!(
                "gate `{}` has {} checklist items; there is no item {n}",
                self.name,
                self.checklist.len()
            ));
        }
        if let Some(i) = self.checklist.iter().position(|c| c.item == spec) {
            return Ok(i);
        }
        let lower = spec.to_lowercase();
        let hits: Vec<usize> = (0..self.checklist.len())
            .filter(|&i| self.checklist[i].item.to_lowercase().starts_with(&lower))
            .collect();
        match hits.as_slice() {
            [i] => Ok(*i),
            [] => Err(format!(
                "gate `{}` has no checklist item `{spec}`; items: {}",
                self.name,
                self.item_list()
            )),
            _ => Err(format!(
                "`{spec}` matches several items of gate `{}`: {}",
                self.name,
                hits.iter()
                    .map(|&i| format!("{}. {}", i + 1, self.checklist[i].item))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }

    fn item_list(&self) -> String {
        self.checklist
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}. {}", i + 1, c.item))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
