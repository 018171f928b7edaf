//! Validation: the raw file becomes a [`Plan`], and every problem is reported with its location:
//! unknown keys, missing and out-of-range values, names, references (`needs`, `environment`,
//! `gate`), cycles, durations and placeholders.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde_aux::serde_introspection::serde_introspect;
use toml::Spanned;

use super::duration::{format_duration, parse_duration};
use super::hint;
use super::model::{
    ChecklistItem, CrossNeed, Environment, Gate, GitConfig, OnFailure, Plan, ReleaseType, Stage, Template,
    Watch,
};
use super::model::{DriftCheck, DriftConfig, StateFormat};
use super::raw::{
    Count, DurationValue, List, OneOrMany, Parsed, RawChecklistItem, RawEnvironment, RawFreeze, RawGate,
    RawPlan, RawStage, RawWatch, Section, Span, Table, Text,
};
use super::raw::{RawDrift, RawDriftCheck, RawNotify};
use super::source::{Issue, SourceMap};
use super::template::KNOWN;

pub(super) const DEFAULT_MAX_PARALLEL: usize = 8;
/// The longest name that becomes part of a file name (plan, stage, target, environment, gate):
/// a stage and a target together in a log file name stay within a file system's 255 bytes.
pub const MAX_NAME: usize = 100;
/// What gate checks may use: they run before any stage, environment or target is chosen.
pub(super) const GATE_PLACEHOLDERS: &[&str] = &["version", "type", "release"];
/// What probes may use: they run outside any release.
pub(super) const PROBE_PLACEHOLDERS: &[&str] = &["env", "target"];

/// Check `parsed` and build the plan. The plan is only meaningful when no issues are returned.
pub(super) fn validate(
    parsed: &Parsed,
    src: &SourceMap<'_>,
    path: PathBuf,
    dir: PathBuf,
) -> (Plan, Vec<Issue>) {
    let mut check = Checker {
        parsed,
        src,
        issues: Vec::new(),
    };
    let file = parsed.file.get_ref();
    check.unknown_keys(file, "at top level");

    let (name, max_parallel, (secrets, secret_locations)) = check.plan_section();
    let environments = check.environments(&dir);
    let drift = check.drift_section(&environments);
    let teams = check.teams();
    let freezes = check.freezes(&environments);
    let freeze_override_approvals = check.freeze_override_approvals();
    let gates = check.gates(&environments, &drift, &teams, &dir);
    let stages = check.stages(&environments, &gates);
    let git = check.git_config(&dir);
    let check_timeout = check.check_timeout();
    let store = check.store();
    let notify = check.notify(&environments);

    let plan = Plan {
        path,
        dir,
        name,
        max_parallel,
        secrets,
        secret_locations,
        environments,
        stages,
        gates,
        git,
        drift,
        check_timeout,
        store,
        teams,
        freezes,
        freeze_override_approvals,
        notify,
    };
    (plan, check.issues)
}

struct Checker<'a> {
    parsed: &'a Parsed,
    src: &'a SourceMap<'a>,
    issues: Vec<Issue>,
}

/// Where a command's placeholders are checked: a stage's `run`/`rollback`, or a gate's check.
enum Scope<'s> {
    Stage {
        label: &'s str,
        field: &'s str,
        environment: Option<&'s str>,
        env: Option<&'s Environment>,
    },
    GateCheck {
        gate: &'s str,
    },
    /// The probe of an environment.
    Probe {
        env: &'s str,
        has_targets: bool,
    },
}

impl Scope<'_> {
    /// `stage `build` run`, `check of gate `cab``.
    fn describe(&self) -> String {
        match self {
            Scope::Stage { label, field, .. } => format!("{label} {field}"),
            Scope::GateCheck { gate } => format!("check of gate `{gate}`"),
            Scope::Probe { env, .. } => format!("probe of environment `{env}`"),
        }
    }
}

impl Checker<'_> {
    fn report(&mut self, at: usize, message: impl Into<String>) {
        self.issues.push(Issue::new(at, message));
    }

    /// Whether the required `key` of `table` is missing (and not merely dropped for a bad type,
    /// which was reported already).
    fn missing<T>(&self, field: &Option<T>, table: &Span, key: &str) -> bool {
        field.is_none() && !self.parsed.was_dropped(table, key)
    }

    fn unknown_keys<T>(&mut self, section: &Section<T>, place: &str) {
        for key in &section.unknown {
            let name = key.get_ref();
            let hint = hint::suffix(name, section.known.iter().copied());
            self.report(key.span().start, format!("unknown key `{name}` {place}{hint}"));
        }
    }

    /// Names that become file names and command-line arguments: the plan's name, stage ids,
    /// targets, environment and gate names. Returns whether `name` is usable.
    /// `kind` names the thing (`target`), `place` where it is (` of environment `prod``).
    fn check_name(&mut self, at: usize, kind: &str, name: &str, place: &str) -> bool {
        if name.is_empty() {
            self.report(at, format!("{kind}{place} must not be empty"));
            return false;
        }
        if name == "." || name == ".." {
            self.report(at, format!("{kind}{place} must not be `{name}`"));
            return false;
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            self.report(
                at,
                format!(
                    "{kind} `{}`{place} may only contain ASCII letters, digits, `.`, `_` and `-`",
                    name.escape_debug()
                ),
            );
            return false;
        }
        if name.len() > MAX_NAME {
            self.report(
                at,
                format!(
                    "{kind}{place} is too long ({} characters; at most {MAX_NAME})",
                    name.len()
                ),
            );
            return false;
        }
        true
    }

    /// `what` names the thing (`secret`), `place` where it is (` of environment `prod``).
    fn check_env_var_name(&mut self, at: usize, what: &str, name: &str, place: &str) {
        if name.is_empty() {
            self.report(at, format!("empty {what} name{place}"));
            return;
        }
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.report(
                at,
                format!(
                    "{what} `{name}`{place} is not a valid environment variable name \
                     (use letters, digits and `_`, not starting with a digit)"
                ),
            );
        }
    }

    /// A count converted to the model's integer type.
    fn count<T: TryFrom<u64> + std::fmt::Display>(
        &mut self,
        value: &Spanned<Count>,
        what: &str,
        max: T,
    ) -> Option<T> {
        let n = value.get_ref().0;
        let converted = T::try_from(n).ok();
        if converted.is_none() {
            self.report(
                value.span().start,
                format!("{what} is too large ({n}; at most {max})"),
            );
        }
        converted
    }

    fn duration(&mut self, value: &Spanned<DurationValue>, field: &str) -> Option<Duration> {
        match value.get_ref() {
            DurationValue::Seconds(n) => Some(Duration::from_secs(*n)),
            DurationValue::Text(text) => match parse_duration(text) {
                Ok(d) => Some(d),
                Err(reason) => {
                    self.report(
                        value.span().start,
                        format!("bad duration `{text}` for `{field}`: {reason}"),
                    );
                    None
                }
            },
        }
    }

    // -----------------------------------------------------------------------------------------

    /// Name, max_parallel, and the secrets' names with where each is named (line, column).
    #[allow(clippy::type_complexity)]
    fn plan_section(&mut self) -> (String, usize, (Vec<String>, Vec<(usize, usize)>)) {
        let file = self.parsed.file.get_ref();
        let root = self.parsed.file.span();
        let Some(section) = &file.plan else {
            if self.missing(&file.plan, &root, "plan") {
                self.report(0, "missing [plan] table with a `name`");
            }
            return (String::new(), DEFAULT_MAX_PARALLEL, Default::default());
        };
        let span = section.span();
        let plan: &Section<RawPlan> = section.get_ref();
        self.unknown_keys(plan, "in [plan]");

        let mut name = String::new();
        match &plan.name {
            Some(n) if n.get_ref().0.trim().is_empty() => {
                self.report(n.span().start, "plan name must not be empty")
            }
            // It names the plan's folder in the data directory.
            Some(n) if self.check_name(n.span().start, "plan name", &n.get_ref().0, "") => {
                name = n.get_ref().0.clone()
            }
            Some(_) => {}
            None if self.missing(&plan.name, &span, "name") => {
                self.report(span.start, "[plan] has no `name`")
            }
            None => {}
        }

        let mut max_parallel = DEFAULT_MAX_PARALLEL;
        if let Some(m) = &plan.max_parallel {
            match self.count(m, "max_parallel", usize::MAX) {
                Some(0) => self.report(m.span().start, "max_parallel must be at least 1"),
                Some(n) => max_parallel = n,
                None => {}
            }
        }

        let mut secrets = Vec::new();
        let mut locations = Vec::new();
        for secret in plan.secrets.iter().flat_map(|s| &s.get_ref().0) {
            let name = &secret.get_ref().0;
            self.check_env_var_name(secret.span().start, "secret", name, "");
            if !secrets.contains(name) {
                secrets.push(name.clone());
                locations.push(self.src.line_col(secret.span().start));
            }
        }
        (name, max_parallel, (secrets, locations))
    }

    /// `store` of `[plan]`: a PostgreSQL URL without a password (credentials come from libpq's
    /// usual sources: PGPASSWORD, PGPASSFILE, ~/.pgpass).
    fn store(&mut self) -> Option<String> {
        let s = self
            .parsed
            .file
            .get_ref()
            .plan
            .as_ref()
            .and_then(|p| p.get_ref().store.clone())?;
        let text = &s.get_ref().0;
        let at = s.span().start;
        let Some(rest) = text
            .strip_prefix("postgres://")
            .or_else(|| text.strip_prefix("postgresql://"))
        else {
            self.report(
                at,
                format!("store `{text}` is not a PostgreSQL URL (postgres://host/db); leave it out for the local data directory"),
            );
            return None;
        };
        // The authority is what comes before the first `/`, `?` or `#`.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let query_password = rest
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|kv| kv.starts_with("password=")));
        if authority
            .rsplit_once('@')
            .is_some_and(|(user, _)| user.contains(':'))
            || query_password
        {
            self.report(
                at,
                "store must not hold a password: the plan is in the repository; use PGPASSWORD, PGPASSFILE or ~/.pgpass",
            );
            return None;
        }
        Some(text.clone())
    }

    /// `check_timeout` of `[plan]`.
    fn check_timeout(&mut self) -> Duration {
        let Some(t) = self
            .parsed
            .file
            .get_ref()
            .plan
            .as_ref()
            .and_then(|p| p.get_ref().check_timeout.clone())
        else {
            return Plan::DEFAULT_CHECK_TIMEOUT;
        };
        match self.duration(&t, "check_timeout") {
            Some(d) if d.is_zero() => {
                self.report(t.span().start, "check_timeout must be greater than 0");
                Plan::DEFAULT_CHECK_TIMEOUT
            }
            Some(d) => d,
            None => Plan::DEFAULT_CHECK_TIMEOUT,
        }
    }

    /// `repo`, `tag_pattern` and `tag_on_success` of `[plan]`.
    fn git_config(&mut self, dir: &Path) -> GitConfig {
        let mut git = GitConfig::default();
        let Some(section) = &self.parsed.file.get_ref().plan else {
            return git;
        };
        let plan: &Section<RawPlan> = section.get_ref();
        if let Some(repo) = &plan.repo {
            let text = &repo.get_ref().0;
            if text.trim().is_empty() {
                self.report(
                    repo.span().start,
                    "repo must not be empty (leave it out to use the repository containing the plan)",
                );
            } else {
                git.repo = Some(dir.join(text));
            }
        }
        if let Some(pattern) = &plan.tag_pattern {
            let text = &pattern.get_ref().0;
            let at = pattern.span().start;
            if !text.contains('*') {
                self.report(
                    at,
                    format!("tag_pattern `{text}` has no `*` for the version (like \"v*\")"),
                );
            } else if !git2::Reference::is_valid_name(&format!("refs/tags/{}", text.replace('*', "1"))) {
                self.report(
                    at,
                    format!("tag_pattern `{text}` cannot match git tag names (no spaces, `..`, `~`, `^`, `:`, `?`, `[` or `\\`)"),
                );
            } else {
                git.tag_pattern = text.clone();
            }
        }
        git.tag_on_success = plan.tag_on_success.as_ref().is_some_and(|t| t.get_ref().0);
        git
    }

    fn environments(&mut self, dir: &Path) -> IndexMap<String, Environment> {
        let mut out = IndexMap::new();
        let Some(table) = &self.parsed.file.get_ref().environments else {
            return out;
        };
        let entries: &Table<Section<RawEnvironment>> = table.get_ref();
        for (key, env) in &entries.0 {
            let name = key.get_ref();
            self.check_name(key.span().start, "environment name", name, "");
            let raw: &Section<RawEnvironment> = env.get_ref();
            self.unknown_keys(raw, &format!("in environment `{name}`"));

            let mut targets: Vec<String> = Vec::new();
            for target in raw.targets.iter().flat_map(|t| &t.get_ref().0) {
                let t = &target.get_ref().0;
                let at = target.span().start;
                if targets.contains(t) {
                    self.report(at, format!("duplicate target `{t}` in environment `{name}`"));
                    continue;
                }
                self.check_name(at, "target", t, &format!(" of environment `{name}`"));
                targets.push(t.clone());
            }

            let mut vars = BTreeMap::new();
            for (var, value) in raw.vars.iter().flat_map(|v| &v.get_ref().0) {
                let place = format!(" of environment `{name}`");
                self.check_env_var_name(var.span().start, "variable", var.get_ref(), &place);
                vars.insert(var.get_ref().clone(), value.get_ref().0.clone());
            }

            let protected = raw.protected.as_ref().is_some_and(|p| p.get_ref().0);
            let mut env = Environment {
                name: name.clone(),
                targets,
                protected,
                vars,
                ..Environment::default()
            };
            self.probe_fields(raw, &mut env, dir);
            out.insert(name.clone(), env);
        }
        out
    }

    /// `probe`, `probe_timeout`, `expect` and `format` of an environment.
    fn probe_fields(&mut self, raw: &RawEnvironment, env: &mut Environment, dir: &Path) {
        let name = env.name.clone();
        if let Some(p) = &raw.probe {
            let command = &p.get_ref().0;
            let scope = Scope::Probe {
                env: &name,
                has_targets: !env.targets.is_empty(),
            };
            if command.trim().is_empty() {
                self.report(p.span().start, format!("empty command in {}", scope.describe()));
            }
            self.placeholders(&p.span(), command, &scope);
            env.probe = Some(Template::new(command.clone()));
        }
        if let Some(t) = &raw.probe_timeout {
            if let Some(d) = self.duration(t, "probe_timeout") {
                if d.is_zero() {
                    self.report(
                        t.span().start,
                        format!("probe_timeout of environment `{name}` must be greater than 0"),
                    );
                } else {
                    env.probe_timeout = d;
                }
            }
            if raw.probe.is_none() {
                self.report(
                    t.span().start,
                    format!("probe_timeout is set on environment `{name}` but it has no probe"),
                );
            }
        }
        if let Some(e) = &raw.expect {
            let text = &e.get_ref().0;
            let path = dir.join(text);
            if text.trim().is_empty() {
                self.report(
                    e.span().start,
                    format!("expect of environment `{name}` must not be empty"),
                );
            } else if !path.is_file() {
                let what = if path.exists() {
                    "is not a file"
                } else {
                    "does not exist (paths are relative to the plan's directory)"
                };
                self.report(
                    e.span().start,
                    format!("expect file `{text}` of environment `{name}` {what}"),
                );
            } else {
                env.expect = Some(path);
            }
        }
        if let Some(f) = &raw.format {
            let text = f.get_ref().0.as_str();
            match StateFormat::ALL.into_iter().find(|x| x.as_str() == text) {
                Some(format) => env.format = Some(format),
                None => {
                    let names: Vec<&str> = StateFormat::ALL.iter().map(|x| x.as_str()).collect();
                    let hint = hint::suffix(text, names.iter().copied());
                    self.report(
                        f.span().start,
                        format!(
                            "unknown format `{text}` in environment `{name}` (expected {}){hint}",
                            or_list(&names)
                        ),
                    );
                }
            }
            if raw.probe.is_none() && raw.expect.is_none() {
                self.report(
                    f.span().start,
                    format!("format is set on environment `{name}` but it has no probe or expect"),
                );
            }
        }
    }

    /// An environment named in drift settings: `None` (reported) when it is not defined or has
    /// nothing to compare (`needs_probe`: no probe; else: neither probe nor expect). `subject`
    /// starts the message: "[drift] uses baseline environment".
    fn drift_env<'e>(
        &mut self,
        value: &Spanned<Text>,
        subject: &str,
        environments: &'e IndexMap<String, Environment>,
        needs_probe: bool,
    ) -> Option<&'e Environment> {
        let name = value.get_ref().0.as_str();
        let at = value.span().start;
        let Some(env) = environments.get(name) else {
            let hint = hint::suffix(name, environments.keys().map(String::as_str));
            self.report(at, format!("{subject} `{name}`, which is not defined{hint}"));
            return None;
        };
        if needs_probe && env.probe.is_none() {
            self.report(at, format!("{subject} `{name}`, which has no probe"));
            return None;
        }
        if env.probe.is_none() && env.expect.is_none() {
            self.report(
                at,
                format!("{subject} `{name}`, which has no probe or expect file"),
            );
            return None;
        }
        Some(env)
    }

    fn drift_section(&mut self, environments: &IndexMap<String, Environment>) -> DriftConfig {
        let mut config = DriftConfig::default();
        let Some(section) = &self.parsed.file.get_ref().drift else {
            return config;
        };
        let raw: &Section<RawDrift> = section.get_ref();
        self.unknown_keys(raw, "in [drift]");
        if let Some(b) = &raw.baseline
            && self
                .drift_env(b, "[drift] uses baseline environment", environments, false)
                .is_some()
        {
            config.baseline = Some(b.get_ref().0.clone());
        }
        for pattern in raw.ignore.iter().flat_map(|i| &i.get_ref().0) {
            let text = &pattern.get_ref().0;
            if text.is_empty() {
                self.report(pattern.span().start, "empty pattern in [drift] ignore");
            } else if !config.ignore.contains(text) {
                config.ignore.push(text.clone());
            }
        }
        if let Some(k) = &raw.version_key {
            let text = &k.get_ref().0;
            if text.trim().is_empty() {
                self.report(k.span().start, "[drift] version_key must not be empty");
            } else {
                config.version_key = text.clone();
            }
        }
        config
    }

    /// `drift = { env = "...", baseline = "..." }` of a checklist item (`place` names the item).
    fn drift_check(
        &mut self,
        place: &str,
        value: &Spanned<Section<RawDriftCheck>>,
        environments: &IndexMap<String, Environment>,
        config: &DriftConfig,
    ) -> Option<DriftCheck> {
        let raw: &Section<RawDriftCheck> = value.get_ref();
        let span = value.span();
        self.unknown_keys(raw, &format!("in the drift check of {place}"));
        let what = format!("the drift check of {place} uses environment");
        let baseline_what = format!("the drift check of {place} uses baseline environment");
        let env = match &raw.env {
            Some(e) => self.drift_env(e, &what, environments, true),
            None => {
                if self.missing(&raw.env, &span, "env") {
                    self.report(span.start, format!("the drift check of {place} has no `env`"));
                }
                None
            }
        };
        let baseline = match &raw.baseline {
            Some(b) => self
                .drift_env(b, &baseline_what, environments, false)
                .map(|e| (e.name.as_str(), b.span().start, "")),
            None if self.parsed.was_dropped(&span, "baseline") => None,
            None => {
                let default = config.baseline.as_deref().or_else(|| {
                    environments
                        .values()
                        .find(|e| e.probe.is_some() || e.expect.is_some())
                        .map(|e| e.name.as_str())
                });
                match default {
                    Some(b) => Some((b, span.start, " (the default baseline)")),
                    None => {
                        self.report(
                            span.start,
                            format!("the drift check of {place} has no baseline: no environment has a probe"),
                        );
                        None
                    }
                }
            }
        };
        let env = env?;
        if let Some((b, at, note)) = baseline
            && b == env.name
        {
            self.report(
                at,
                format!(
                    "the drift check of {place} compares environment `{b}` with itself{note}; \
                     set another `baseline`"
                ),
            );
            return None;
        }
        baseline?;
        Some(DriftCheck {
            env: env.name.clone(),
            baseline: raw.baseline.as_ref().map(|b| b.get_ref().0.clone()),
        })
    }

    /// `[plan] freeze_override_approvals`: at least 1 (default 1).
    fn freeze_override_approvals(&mut self) -> u32 {
        let Some(n) = self
            .parsed
            .file
            .get_ref()
            .plan
            .as_ref()
            .and_then(|p| p.get_ref().freeze_override_approvals.clone())
        else {
            return 1;
        };
        match self.count(&n, "freeze_override_approvals", u32::MAX as usize) {
            Some(0) => {
                self.report(n.span().start, "freeze_override_approvals must be at least 1");
                1
            }
            Some(v) => v as u32,
            None => 1,
        }
    }

    /// The environments `list` names, each reported at its place unless the plan has it
    /// (`where_`: `freeze 2`); `None` when one is unknown.
    fn known_environments(
        &mut self,
        list: &Spanned<List<Text>>,
        environments: &IndexMap<String, Environment>,
        where_: &str,
    ) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut ok = true;
        for e in &list.get_ref().0 {
            let name = &e.get_ref().0;
            if environments.contains_key(name) {
                out.push(name.clone());
            } else {
                let hint = hint::suffix(name, environments.keys().map(String::as_str));
                self.report(
                    e.span().start,
                    format!("unknown environment `{name}` in {where_}{hint}"),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// `[[notify]]`: each with one of `webhook` (an http or https URL) or `run` (a command), a
    /// non-empty `on` of known events, optional known `environments`, `retries` and `timeout`.
    fn notify(&mut self, environments: &IndexMap<String, Environment>) -> Vec<super::model::Notify> {
        use super::model::{NOTIFY_EVENTS, Notify, NotifySink};
        let mut out = Vec::new();
        let Some(list) = &self.parsed.file.get_ref().notify else {
            return out;
        };
        for (i, entry) in list.get_ref().0.iter().enumerate() {
            let at = entry.span().start;
            let raw: &Section<RawNotify> = entry.get_ref();
            let n = i + 1;
            self.unknown_keys(raw, &format!("in notify {n}"));
            let mut ok = true;
            let sink = match (&raw.webhook, &raw.run) {
                (Some(url), None) => {
                    let u = url.get_ref().0.trim().to_string();
                    let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
                    let host = u
                        .split_once("://")
                        .map_or("", |(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""));
                    if !scheme_ok || host.is_empty() || u.chars().any(char::is_whitespace) {
                        self.report(
                            url.span().start,
                            format!("notify {n}: `webhook` must be an http:// or https:// URL with a host"),
                        );
                        ok = false;
                    }
                    NotifySink::Webhook(u)
                }
                (None, Some(cmd)) => {
                    let c = cmd.get_ref().0.trim().to_string();
                    if c.is_empty() {
                        self.report(cmd.span().start, format!("notify {n}: `run` must not be empty"));
                        ok = false;
                    }
                    NotifySink::Run(c)
                }
                (Some(_), Some(cmd)) => {
                    self.report(
                        cmd.span().start,
                        format!("notify {n} has both `webhook` and `run`: give one (write two [[notify]] for both)"),
                    );
                    ok = false;
                    NotifySink::Run(String::new())
                }
                (None, None) => {
                    self.report(at, format!("notify {n} has neither `webhook` nor `run`"));
                    ok = false;
                    NotifySink::Run(String::new())
                }
            };
            let mut on = Vec::new();
            match &raw.on {
                None => {
                    self.report(
                        at,
                        format!(
                            "notify {n} has no `on` (the events it hears of: {})",
                            NOTIFY_EVENTS.join(", ")
                        ),
                    );
                    ok = false;
                }
                Some(list) if list.get_ref().0.is_empty() => {
                    self.report(list.span().start, format!("`on` of notify {n} is empty"));
                    ok = false;
                }
                Some(list) => {
                    for e in &list.get_ref().0 {
                        let name = e.get_ref().0.trim();
                        if NOTIFY_EVENTS.contains(&name) {
                            if !on.iter().any(|o| o == name) {
                                on.push(name.to_string());
                            }
                        } else {
                            let hint = hint::suffix(name, NOTIFY_EVENTS.iter().copied());
                            self.report(
                                e.span().start,
                                format!(
                                    "unknown event `{name}` in notify {n}{hint} (known: {})",
                                    NOTIFY_EVENTS.join(", ")
                                ),
                            );
                            ok = false;
                        }
                    }
                }
            }
            let mut envs = Vec::new();
            if let Some(list) = &raw.environments {
                match self.known_environments(list, environments, &format!("notify {n}")) {
                    Some(known) => envs = known,
                    None => ok = false,
                }
            }
            let retries = match &raw.retries {
                Some(r) => self.count(r, "retries", 20u32).unwrap_or(0),
                None => Notify::DEFAULT_RETRIES,
            };
            let timeout = match &raw.timeout {
                Some(t) => match self.duration(t, "timeout") {
                    Some(d) if !d.is_zero() && d <= Duration::from_secs(300) => d,
                    Some(_) => {
                        self.report(
                            t.span().start,
                            "a notify's timeout must be more than 0 and at most 5m",
                        );
                        ok = false;
                        Notify::DEFAULT_TIMEOUT
                    }
                    None => {
                        ok = false;
                        Notify::DEFAULT_TIMEOUT
                    }
                },
                None => Notify::DEFAULT_TIMEOUT,
            };
            if ok {
                out.push(Notify {
                    sink,
                    on,
                    environments: envs,
                    retries,
                    timeout,
                });
            }
        }
        out
    }

    /// `[[freeze]]`: each on known environments, with a reason, and either a cron window
    /// (`cron`, `duration`, optional `timezone`, default UTC) or a fixed one (`from`, `to`).
    fn freezes(&mut self, environments: &IndexMap<String, Environment>) -> Vec<super::freeze::Freeze> {
        use super::freeze::{Freeze, When};
        let mut out = Vec::new();
        let Some(list) = &self.parsed.file.get_ref().freeze else {
            return out;
        };
        for (i, entry) in list.get_ref().0.iter().enumerate() {
            let at = entry.span().start;
            let raw: &Section<RawFreeze> = entry.get_ref();
            let place = format!("in freeze {}", i + 1);
            self.unknown_keys(raw, &place);
            let mut ok = true;
            let mut envs = Vec::new();
            match &raw.environments {
                None => {
                    self.report(at, format!("freeze {} has no `environments`", i + 1));
                    ok = false;
                }
                Some(list) if list.get_ref().0.is_empty() => {
                    self.report(
                        list.span().start,
                        format!("environments of freeze {} is empty", i + 1),
                    );
                    ok = false;
                }
                Some(list) => match self.known_environments(list, environments, &format!("freeze {}", i + 1))
                {
                    Some(known) => envs = known,
                    None => ok = false,
                },
            }
            let reason = match &raw.reason {
                Some(r) if !r.get_ref().0.trim().is_empty() => r.get_ref().0.trim().to_string(),
                Some(r) => {
                    self.report(r.span().start, "a freeze's reason must not be empty");
                    ok = false;
                    String::new()
                }
                None => {
                    self.report(
                        at,
                        format!(
                            "freeze {} has no `reason` (it is shown to whoever it stops)",
                            i + 1
                        ),
                    );
                    ok = false;
                    String::new()
                }
            };
            let when = match (&raw.cron, &raw.from, &raw.to) {
                (Some(cron), None, None) => {
                    let text = cron.get_ref().0.trim().to_string();
                    if let Err(e) = croner::Cron::from_str(&text) {
                        self.report(cron.span().start, format!("bad cron expression `{text}`: {e}"));
                        ok = false;
                    }
                    let duration = match &raw.duration {
                        Some(d) => match self.duration(d, "duration") {
                            Some(d) if !d.is_zero() => d,
                            Some(_) => {
                                self.report(d.span().start, "a freeze's duration must be greater than 0");
                                ok = false;
                                Duration::ZERO
                            }
                            None => {
                                ok = false;
                                Duration::ZERO
                            }
                        },
                        None => {
                            self.report(
                                cron.span().start,
                                format!("freeze {} has a `cron` but no `duration`", i + 1),
                            );
                            ok = false;
                            Duration::ZERO
                        }
                    };
                    let timezone = match &raw.timezone {
                        None => chrono_tz::UTC,
                        Some(tz) => match tz.get_ref().0.parse::<chrono_tz::Tz>() {
                            Ok(tz) => tz,
                            Err(_) => {
                                self.report(
                                    tz.span().start,
                                    format!(
                                        "unknown time zone `{}` (an IANA name, like Europe/Berlin)",
                                        tz.get_ref().0
                                    ),
                                );
                                ok = false;
                                chrono_tz::UTC
                            }
                        },
                    };
                    When::Cron {
                        cron: text,
                        duration,
                        timezone,
                    }
                }
                (None, Some(from), Some(to)) => {
                    let mut time = |v: &Spanned<Text>, name: &str| match chrono::DateTime::parse_from_rfc3339(
                        v.get_ref().0.trim(),
                    ) {
                        Ok(t) => Some(t),
                        Err(e) => {
                            self.report(
                                v.span().start,
                                format!(
                                    "bad `{name}` time `{}`: {e} (RFC 3339, like 2026-12-20T00:00:00+01:00)",
                                    v.get_ref().0
                                ),
                            );
                            None
                        }
                    };
                    match (time(from, "from"), time(to, "to")) {
                        (Some(f), Some(t)) if t > f => When::Fixed { from: f, to: t },
                        (Some(_), Some(_)) => {
                            self.report(to.span().start, format!("freeze {} ends before it starts", i + 1));
                            continue;
                        }
                        _ => continue,
                    }
                }
                _ => {
                    self.report(
                        at,
                        format!("freeze {} needs either `cron` (with `duration`, optionally `timezone`) or `from` and `to`", i + 1),
                    );
                    continue;
                }
            };
            if ok {
                out.push(Freeze {
                    environments: envs,
                    reason,
                    when,
                });
            }
        }
        out
    }

    /// `[teams]`: each a list of names (trimmed, not empty, each person once).
    fn teams(&mut self) -> IndexMap<String, Vec<String>> {
        let mut out = IndexMap::new();
        let Some(table) = &self.parsed.file.get_ref().teams else {
            return out;
        };
        for (key, members) in &table.get_ref().0 {
            let name = key.get_ref();
            self.check_name(key.span().start, "team name", name, "");
            let mut people: Vec<String> = Vec::new();
            for m in &members.get_ref().0 {
                let person = m.get_ref().0.trim();
                if person.is_empty() || person.chars().any(char::is_control) {
                    self.report(
                        m.span().start,
                        format!("a member of team `{name}` must be a name (not empty, printable)"),
                    );
                } else if !people.iter().any(|p| p.eq_ignore_ascii_case(person)) {
                    people.push(person.to_string());
                }
            }
            if members.get_ref().0.is_empty() {
                self.report(members.span().start, format!("team `{name}` has nobody in it"));
            }
            out.insert(name.clone(), people);
        }
        out
    }

    /// A gate's approval policy: who may approve (teams expanded), self-approval, expiry; a
    /// policy that can never be met is reported where it is written.
    fn approval_policy(
        &mut self,
        gate: &str,
        raw: &RawGate,
        approvals: u32,
        teams: &IndexMap<String, Vec<String>>,
    ) -> (Vec<String>, Option<Vec<String>>, bool, Option<Duration>) {
        let mut written = Vec::new();
        let mut eligible: Option<Vec<String>> = None;
        if let Some(list) = &raw.approvers {
            let mut people: Vec<String> = Vec::new();
            let mut add = |p: &str| {
                if !people.iter().any(|q| q.eq_ignore_ascii_case(p)) {
                    people.push(p.to_string());
                }
            };
            for entry in &list.get_ref().0 {
                let text = entry.get_ref().0.trim();
                written.push(text.to_string());
                if let Some(team) = text.strip_prefix('@') {
                    match teams.get(team) {
                        Some(members) => members.iter().for_each(|m| add(m)),
                        None => {
                            let hint = hint::suffix(team, teams.keys().map(String::as_str));
                            let known = if teams.is_empty() {
                                "there is no [teams] table".to_string()
                            } else {
                                format!(
                                    "teams: {}",
                                    teams.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                                )
                            };
                            self.report(
                                entry.span().start,
                                format!(
                                    "unknown team `@{team}` in approvers of gate `{gate}` ({known}){hint}"
                                ),
                            );
                        }
                    }
                } else if text.is_empty() || text.chars().any(char::is_control) {
                    self.report(
                        entry.span().start,
                        format!("an approver of gate `{gate}` must be a name or @team"),
                    );
                } else {
                    add(text);
                }
            }
            if list.get_ref().0.is_empty() {
                self.report(
                    list.span().start,
                    format!("approvers of gate `{gate}` is empty, so nobody could approve it; remove it to let anyone approve"),
                );
            }
            if approvals as usize > people.len()
                && let Some(a) = &raw.approvals
            {
                self.report(
                    a.span().start,
                    format!(
                        "gate `{gate}` needs {approvals} approvals but only {} people may approve it ({}): it could never open",
                        people.len(),
                        written.join(", ")
                    ),
                );
            }
            eligible = Some(people);
        }
        let allow_self = raw.allow_self_approval.as_ref().is_some_and(|f| f.get_ref().0);
        let expires = match &raw.expires {
            Some(e) => match self.duration(e, "expires") {
                Some(d) if d.is_zero() => {
                    self.report(e.span().start, "expires must be greater than 0");
                    None
                }
                d => d,
            },
            None => None,
        };
        (written, eligible, allow_self, expires)
    }

    /// A gate's `signers`: an OpenSSH `allowed_signers` file that must be there and parse.
    fn signers(&mut self, gate: &str, value: &Spanned<Text>, dir: &Path) -> Option<(PathBuf, String)> {
        let rel = &value.get_ref().0;
        let path = dir.join(rel);
        let at = value.span().start;
        let text = match crate::files::read_text_bounded(&path, crate::files::MAX_INPUT) {
            Ok(t) => t,
            Err(e) => {
                self.report(
                    at,
                    format!("signers file `{rel}` of gate `{gate}` cannot be read: {e}"),
                );
                return None;
            }
        };
        if let Err((line, why)) = crate::sign::AllowedSigners::parse(&text) {
            self.report(
                at,
                format!(
                    "signers file `{rel}` of gate `{gate}`: {}:{line}: {why}",
                    path.display()
                ),
            );
            return None;
        }
        Some((path, text))
    }

    fn gates(
        &mut self,
        environments: &IndexMap<String, Environment>,
        drift: &DriftConfig,
        teams: &IndexMap<String, Vec<String>>,
        dir: &Path,
    ) -> IndexMap<String, Gate> {
        let mut out = IndexMap::new();
        let Some(table) = &self.parsed.file.get_ref().gates else {
            return out;
        };
        let entries: &Table<Section<RawGate>> = table.get_ref();
        for (key, gate) in &entries.0 {
            let name = key.get_ref();
            self.check_name(key.span().start, "gate name", name, "");
            let raw: &Section<RawGate> = gate.get_ref();
            self.unknown_keys(raw, &format!("in gate `{name}`"));

            let approvals = raw
                .approvals
                .as_ref()
                .and_then(|a| self.count(a, "approvals", u32::MAX))
                .unwrap_or(0);
            let required_for = raw.required_for.as_ref().map(|r| self.required_for(name, r));
            let checklist = raw
                .checklist
                .as_ref()
                .map(|c| self.checklist(name, c, environments, drift))
                .unwrap_or_default();
            let (approvers, eligible, allow_self_approval, expires) =
                self.approval_policy(name, raw, approvals, teams);
            let signers = raw.signers.as_ref().and_then(|s| self.signers(name, s, dir));
            out.insert(
                name.clone(),
                Gate {
                    name: name.clone(),
                    approvals,
                    approvers,
                    eligible,
                    allow_self_approval,
                    expires,
                    signers,
                    required_for,
                    checklist,
                },
            );
        }
        out
    }

    fn required_for(&mut self, gate: &str, list: &Spanned<List<Text>>) -> Vec<ReleaseType> {
        let names: Vec<&str> = ReleaseType::EVERY.iter().map(|t| t.as_str()).collect();
        let mut types = Vec::new();
        for entry in &list.get_ref().0 {
            let text = &entry.get_ref().0;
            match ReleaseType::named(text) {
                Some(t) if !types.contains(&t) => types.push(t),
                Some(_) => {}
                None => {
                    let hint = hint::suffix(text, names.iter().copied());
                    self.report(
                        entry.span().start,
                        format!(
                            "unknown release type `{text}` in required_for of gate `{gate}` (expected {}){hint}",
                            or_list(&names)
                        ),
                    );
                }
            }
        }
        if list.get_ref().0.is_empty() {
            self.report(
                list.span().start,
                format!(
                    "required_for of gate `{gate}` is empty, so the gate would never apply; \
                     remove it to apply the gate to every release"
                ),
            );
        }
        types
    }

    fn checklist(
        &mut self,
        gate: &str,
        list: &Spanned<List<Section<RawChecklistItem>>>,
        environments: &IndexMap<String, Environment>,
        drift_config: &DriftConfig,
    ) -> Vec<ChecklistItem> {
        let mut items: Vec<ChecklistItem> = Vec::new();
        for (i, entry) in list.get_ref().0.iter().enumerate() {
            let place = format!("checklist item {} of gate `{gate}`", i + 1);
            let raw: &Section<RawChecklistItem> = entry.get_ref();
            self.unknown_keys(raw, &format!("in {place}"));
            let item = match &raw.item {
                Some(t) if t.get_ref().0.trim().is_empty() => {
                    self.report(t.span().start, format!("{place} has an empty `item`"));
                    continue;
                }
                Some(t) => t,
                None => {
                    if self.missing(&raw.item, &entry.span(), "item") {
                        self.report(entry.span().start, format!("{place} has no `item`"));
                    }
                    continue;
                }
            };
            let text = item.get_ref().0.clone();
            if items.iter().any(|c| c.item == text) {
                self.report(
                    item.span().start,
                    format!("duplicate checklist item `{text}` in gate `{gate}`"),
                );
            }
            let check = raw.check.as_ref().map(|c| {
                let command = &c.get_ref().0;
                let scope = Scope::GateCheck { gate };
                if command.trim().is_empty() {
                    self.report(c.span().start, format!("empty command in {}", scope.describe()));
                }
                self.placeholders(&c.span(), command, &scope);
                Template::new(command.clone())
            });
            let drift = raw.drift.as_ref().and_then(|d| {
                if raw.check.is_some() {
                    self.report(
                        d.span().start,
                        format!("{place} has both `check` and `drift`; use one"),
                    );
                }
                self.drift_check(&place, d, environments, drift_config)
            });
            items.push(ChecklistItem {
                item: text,
                check,
                drift,
            });
        }
        items
    }

    fn stages(
        &mut self,
        environments: &IndexMap<String, Environment>,
        gates: &IndexMap<String, Gate>,
    ) -> Vec<Stage> {
        let file = self.parsed.file.get_ref();
        let root = self.parsed.file.span();
        let list: &[Spanned<Section<RawStage>>] =
            file.stage.as_ref().map_or(&[][..], |s| s.get_ref().0.as_slice());
        if list.is_empty() {
            let at = match (&file.stage, &file.plan) {
                (Some(s), _) => Some(s.span().start),
                (None, _) if !self.missing(&file.stage, &root, "stage") => None,
                (None, Some(plan)) => Some(plan.span().start),
                (None, None) => Some(0),
            };
            if let Some(at) = at {
                self.report(at, "plan has no stages");
            }
            return Vec::new();
        }

        // Ids first: every reference below resolves against them.
        let mut first_by_id: HashMap<&str, usize> = HashMap::new();
        let mut labels = Vec::with_capacity(list.len());
        for (i, stage) in list.iter().enumerate() {
            let raw: &Section<RawStage> = stage.get_ref();
            let mut label = format!("stage[{}]", i + 1);
            match &raw.id {
                Some(id) => {
                    let text = id.get_ref().0.as_str();
                    let at = id.span().start;
                    if self.check_name(at, "stage id", text, "") {
                        label = format!("stage `{text}`");
                    }
                    if let Some(&first) = first_by_id.get(text) {
                        let first_at = list[first].get_ref().id.as_ref().map_or(0, |s| s.span().start);
                        let line = self.src.line(first_at);
                        self.report(
                            at,
                            format!("duplicate stage id `{text}` (first defined at line {line})"),
                        );
                    } else {
                        first_by_id.insert(text, i);
                    }
                }
                None => {
                    if self.missing(&raw.id, &stage.span(), "id") {
                        self.report(stage.span().start, format!("{label} has no `id`"));
                    }
                }
            }
            labels.push(label);
        }
        let mut ids_in_order: Vec<&str> = first_by_id.keys().copied().collect();
        ids_in_order.sort_by_key(|id| first_by_id[id]);

        let mut stages = Vec::with_capacity(list.len());
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); list.len()];
        for (i, stage) in list.iter().enumerate() {
            let raw: &Section<RawStage> = stage.get_ref();
            let label = labels[i].as_str();
            self.unknown_keys(raw, &format!("in {label}"));

            let mut needs = Vec::new();
            let mut after: Vec<CrossNeed> = Vec::new();
            for need in raw.needs.iter().flat_map(|n| &n.get_ref().0) {
                let name = need.get_ref().0.as_str();
                let at = need.span().start;
                // `plan:stage`: a stage of another plan's release in the same train, checked
                // against the workspace (`check` there); only its form is checked here.
                if let Some((other, stage)) = name.split_once(':') {
                    let (other, stage) = (other.trim(), stage.trim());
                    if other.is_empty() || stage.is_empty() || stage.contains(':') {
                        self.report(
                            at,
                            format!("{label} needs `{name}`: another plan's stage is written `plan:stage`"),
                        );
                    } else if after.iter().any(|n| n.plan == other && n.stage == stage) {
                        self.report(at, format!("{label} lists `{name}` in needs twice"));
                    } else {
                        let (line, col) = self.src.line_col(at);
                        after.push(CrossNeed {
                            plan: other.to_string(),
                            stage: stage.to_string(),
                            line,
                            col,
                        });
                    }
                    continue;
                }
                if needs.iter().any(|n| n == name) {
                    self.report(at, format!("{label} lists `{name}` in needs twice"));
                    continue;
                }
                needs.push(name.to_string());
                match first_by_id.get(name) {
                    Some(&j) if j == i => self.report(at, format!("{label} needs itself")),
                    Some(&j) => edges[i].push(j),
                    None => {
                        let hint = hint::suffix(name, ids_in_order.iter().copied());
                        self.report(at, format!("{label} needs `{name}`, which is not a stage{hint}"));
                    }
                }
            }

            let environment = raw.environment.as_ref().map(|e| e.get_ref().0.clone());
            let env = environment.as_deref().and_then(|name| environments.get(name));
            if let (Some(e), None) = (&raw.environment, env) {
                let name = &e.get_ref().0;
                let hint = hint::suffix(name, environments.keys().map(String::as_str));
                self.report(
                    e.span().start,
                    format!("{label} uses environment `{name}`, which is not defined{hint}"),
                );
            }

            let stage_scope = |field| Scope::Stage {
                label,
                field,
                environment: environment.as_deref(),
                env,
            };
            let run = match &raw.run {
                Some(run) => {
                    if matches!(run.get_ref(), OneOrMany::Many(list) if list.is_empty()) {
                        self.report(run.span().start, format!("run of {label} is an empty list"));
                    }
                    self.commands(run, &stage_scope("run"))
                }
                None => {
                    if self.missing(&raw.run, &stage.span(), "run") {
                        self.report(stage.span().start, format!("{label} has no `run` command"));
                    }
                    Vec::new()
                }
            };
            let rollback = raw
                .rollback
                .as_ref()
                .map(|r| self.commands(r, &stage_scope("rollback")))
                .unwrap_or_default();

            let timeout = raw.timeout.as_ref().and_then(|t| {
                let d = self.duration(t, "timeout")?;
                if d.is_zero() {
                    self.report(
                        t.span().start,
                        format!("timeout of {label} must be greater than 0"),
                    );
                }
                Some(d)
            });
            let retries = raw
                .retries
                .as_ref()
                .and_then(|r| self.count(r, "retries", u32::MAX))
                .unwrap_or(0);

            let mut stage_gates = Vec::new();
            if let (Some(_), Some(alias)) = (&raw.gate, &raw.gates) {
                self.report(
                    alias.span().start,
                    format!("{label} sets both `gate` and `gates`; use one"),
                );
            }
            for (span, name) in raw.gate.iter().chain(&raw.gates).flat_map(OneOrMany::items) {
                if gates.contains_key(name) {
                    if !stage_gates.iter().any(|g| g == name) {
                        stage_gates.push(name.to_string());
                    }
                } else {
                    let hint = hint::suffix(name, gates.keys().map(String::as_str));
                    self.report(
                        span.start,
                        format!("{label} uses gate `{name}`, which is not defined{hint}"),
                    );
                }
            }

            let mut concurrency = 1;
            if let Some(c) = &raw.concurrency {
                let at = c.span().start;
                match self.count(c, "concurrency", usize::MAX) {
                    Some(0) => self.report(at, format!("concurrency of {label} must be at least 1")),
                    Some(n) => concurrency = n,
                    None => {}
                }
                match (&environment, env) {
                    (None, _) => {
                        self.report(
                            at,
                            format!("concurrency is set on {label} but it has no environment"),
                        );
                    }
                    (Some(name), Some(e)) if e.targets.is_empty() => self.report(
                        at,
                        format!("concurrency is set on {label} but its environment `{name}` has no targets"),
                    ),
                    _ => {}
                }
            }

            let on_failure = raw
                .on_failure
                .as_ref()
                .map_or(OnFailure::Halt, |o| self.on_failure(label, o));
            let watch = raw.watch.as_ref().and_then(|w| self.watch(label, w));

            stages.push(Stage {
                id: raw
                    .id
                    .as_ref()
                    .map(|id| id.get_ref().0.clone())
                    .unwrap_or_default(),
                needs,
                after,
                environment,
                run,
                rollback,
                timeout,
                retries,
                gates: stage_gates,
                concurrency,
                on_failure,
                watch,
            });
        }

        for cycle in cycles(&edges) {
            let at = list[cycle[0]]
                .get_ref()
                .id
                .as_ref()
                .map_or(0, |id| id.span().start);
            let path: Vec<&str> = cycle
                .iter()
                .chain(&cycle[..1])
                .map(|&i| stages[i].id.as_str())
                .collect();
            self.report(at, format!("stages form a cycle: {}", path.join(" -> ")));
        }
        stages
    }

    fn commands(&mut self, value: &Spanned<OneOrMany>, scope: &Scope<'_>) -> Vec<Template> {
        let mut out = Vec::new();
        for (span, command) in OneOrMany::items(value) {
            if command.trim().is_empty() {
                self.report(span.start, format!("empty command in {}", scope.describe()));
            }
            self.placeholders(&span, command, scope);
            out.push(Template::new(command));
        }
        out
    }

    fn placeholders(&mut self, span: &Span, command: &str, scope: &Scope<'_>) {
        for p in Template::new(command).placeholders() {
            let at = self.src.string_offset(span.clone(), p.offset);
            let name = p.name.as_str();
            let message = match *scope {
                Scope::Stage {
                    label,
                    environment,
                    env,
                    ..
                } => match name {
                    _ if !KNOWN.contains(&name) => Some(unknown_placeholder(name, &scope.describe(), KNOWN)),
                    "env" if environment.is_none() => {
                        Some(format!("{{env}} used in {label} but it has no environment"))
                    }
                    "target" => match (environment, env) {
                        (None, _) => Some(format!("{{target}} used in {label} but it has no environment")),
                        (Some(e), Some(env)) if env.targets.is_empty() => Some(format!(
                            "{{target}} used in {label} but its environment `{e}` has no targets"
                        )),
                        _ => None,
                    },
                    _ => None,
                },
                Scope::GateCheck { gate } if !GATE_PLACEHOLDERS.contains(&name) => {
                    Some(if KNOWN.contains(&name) {
                        format!(
                            "placeholder `{{{name}}}` is not available in gate checks (gate `{gate}`); available: {}",
                            GATE_PLACEHOLDERS.join(", ")
                        )
                    } else {
                        unknown_placeholder(name, &scope.describe(), GATE_PLACEHOLDERS)
                    })
                }
                Scope::GateCheck { .. } => None,
                Scope::Probe { env, .. } if !PROBE_PLACEHOLDERS.contains(&name) => {
                    Some(if KNOWN.contains(&name) {
                        format!(
                            "placeholder `{{{name}}}` is not available in probes (environment `{env}`); available: {}",
                            PROBE_PLACEHOLDERS.join(", ")
                        )
                    } else {
                        unknown_placeholder(name, &scope.describe(), PROBE_PLACEHOLDERS)
                    })
                }
                Scope::Probe { env, has_targets } => (name == "target" && !has_targets).then(|| {
                    format!("{{target}} used in the probe of environment `{env}` but it has no targets")
                }),
            };
            if let Some(message) = message {
                self.report(at, message);
            }
        }
    }

    fn on_failure(&mut self, label: &str, value: &Spanned<Text>) -> OnFailure {
        let text = value.get_ref().0.as_str();
        let parsed: Result<OnFailure, serde::de::value::Error> =
            OnFailure::deserialize(text.into_deserializer());
        parsed.unwrap_or_else(|_| {
            let variants = serde_introspect::<OnFailure>();
            let hint = hint::suffix(text, variants.iter().copied());
            self.report(
                value.span().start,
                format!(
                    "unknown on_failure `{text}` in {label} (expected {}){hint}",
                    or_list(variants)
                ),
            );
            OnFailure::default()
        })
    }

    fn watch(&mut self, label: &str, value: &Spanned<Section<RawWatch>>) -> Option<Watch> {
        let raw = value.get_ref();
        let span = value.span();
        self.unknown_keys(raw, &format!("in watch of {label}"));
        for (field, key) in [(&raw.every, "every"), (&raw.window, "for")] {
            if self.missing(field, &span, key) {
                self.report(span.start, format!("watch of {label} needs `{key}`"));
            }
        }
        let every_value = raw.every.as_ref()?;
        let window_value = raw.window.as_ref()?;
        let every = self.duration(every_value, "watch.every");
        let window = self.duration(window_value, "watch.for");
        let (every, window) = (every?, window?);
        if every.is_zero() {
            self.report(
                every_value.span().start,
                format!("watch.every of {label} must be greater than 0"),
            );
        } else if window < every {
            self.report(
                window_value.span().start,
                format!(
                    "watch.for of {label} ({}) must be at least watch.every ({})",
                    format_duration(window),
                    format_duration(every)
                ),
            );
        }
        Some(Watch { every, window })
    }
}

fn unknown_placeholder(name: &str, place: &str, known: &[&str]) -> String {
    let hint = hint::did_you_mean(name, known.iter().copied())
        .map(|c| format!("; did you mean `{{{c}}}`?"))
        .unwrap_or_default();
    format!(
        "unknown placeholder `{{{name}}}` in {place}{hint} (known: {})",
        known.join(", ")
    )
}

/// "a, b or c".
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// One cycle per strongly connected group of stages (each distinct knot reported once), as stage
/// indices: the group's first stage in file order, then the shortest way back to it along `needs`.
pub(super) fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for group in strongly_connected(edges) {
        if group.len() < 2 {
            continue;
        }
        let members: HashSet<usize> = group.iter().copied().collect();
        let start = *group.iter().min().expect("non-empty group");
        // Breadth-first from `start`, within the group, until a stage that needs `start`.
        let mut previous: HashMap<usize, usize> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut last = None;
        while let Some(node) = queue.pop_front() {
            if edges[node].contains(&start) {
                last = Some(node);
                break;
            }
            for &next in &edges[node] {
                if members.contains(&next) && next != start && !previous.contains_key(&next) {
                    previous.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let Some(mut node) = last else { continue };
        let mut cycle = vec![node];
        while node != start {
            node = previous[&node];
            cycle.push(node);
        }
        cycle.reverse();
        out.push(cycle);
    }
    out.sort_by_key(|c| c[0]);
    out
}

/// Tarjan's algorithm, iterative (deep plans cannot overflow the stack).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut groups = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(root, 0)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = work.last_mut() {
            if let Some(&to) = edges[node].get(*next) {
                *next += 1;
                if index[to] == usize::MAX {
                    index[to] = counter;
                    low[to] = counter;
                    counter += 1;
                    stack.push(to);
                    on_stack[to] = true;
                    work.push((to, 0));
                } else if on_stack[to] {
                    low[node] = low[node].min(index[to]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                let mut group = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    group.push(member);
                    if member == node {
                        break;
                    }
                }
                groups.push(group);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load::{PlanError, load_str};
    use super::*;

    fn load(text: &str) -> Result<Plan, Vec<String>> {
        load_str(text, Path::new("plan.toml")).map_err(|e| match e {
            PlanError::Invalid { problems } => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        })
    }

    fn problems(text: &str) -> Vec<String> {
        load(text)
            .err()
            .unwrap_or_else(|| panic!("should not load:\n{text}"))
    }

    fn plan(text: &str) -> Plan {
        load(text).unwrap_or_else(|p| panic!("should load:\n{}", p.join("\n")))
    }

    const HEAD: &str = "[plan]\nname = \"p\"\n";

    #[test]
    fn secret_values_too_short_to_mask_are_refused_where_they_are_named() {
        let p = plan(&format!(
            "{HEAD}secrets = [\"LONG\", \"TOK\",\n  \"EMPTY\", \"UNSET\", \"LINES\"]\n[[stage]]\nid = \"s\"\nrun = \"true\"\n"
        ));
        let value = |name: &str| match name {
            "LONG" => Some("hunter22".to_string()),
            "TOK" => Some("o".to_string()),
            "EMPTY" => Some(String::new()),
            "LINES" => Some("ab\ncd\n".to_string()),
            _ => None,
        };
        let Err(PlanError::Invalid { problems }) = p.check_secret_values(value) else {
            panic!("short secrets must be refused");
        };
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[0].contains(":3:20: secret `TOK` is only 1 byte(s) long"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains(":4:3: secret `EMPTY` is set but empty"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("secret `LINES` has no line of 4 bytes"),
            "{}",
            lines[2]
        );
        assert!(
            lines
                .iter()
                .all(|l| l.contains("at least 4 bytes") && !l.contains('\n'))
        );
        // Unset and long enough are fine.
        assert!(
            p.check_secret_values(|n| (n == "LONG").then(|| "abcd".into()))
                .is_ok()
        );
    }

    #[test]
    fn every_default() {
        let p = plan(&format!(
            "{HEAD}[environments.e]\n[[stage]]\nid = \"s\"\nrun = \"true\"\n[gates.g]\nchecklist = [{{ item = \"i\" }}]\n"
        ));
        assert_eq!(p.name, "p");
        assert_eq!(p.max_parallel, 8);
        assert!(p.secrets.is_empty());
        assert!(p.path.is_absolute() && p.path.ends_with("plan.toml"));
        assert_eq!(Some(p.dir.as_path()), p.path.parent());

        let env = &p.environments["e"];
        assert_eq!(
            env,
            &Environment {
                name: "e".into(),
                ..Environment::default()
            }
        );

        let stage = &p.stages[0];
        assert_eq!(
            stage,
            &Stage {
                id: "s".into(),
                needs: vec![],
                after: vec![],
                environment: None,
                run: vec![Template::new("true")],
                rollback: vec![],
                timeout: None,
                retries: 0,
                gates: vec![],
                concurrency: 1,
                on_failure: OnFailure::Halt,
                watch: None,
            }
        );

        let gate = &p.gates["g"];
        assert_eq!(gate.approvals, 0);
        assert_eq!(gate.required_for, None);
        assert_eq!(gate.checklist, [ChecklistItem::manual("i")]);
    }

    #[test]
    fn absent_sections_are_empty() {
        let p = plan(&format!("{HEAD}[[stage]]\nid = \"s\"\nrun = \"true\"\n"));
        assert!(p.environments.is_empty() && p.gates.is_empty());
        assert_eq!(p.stages.len(), 1);
    }

    #[test]
    fn alternative_spellings_resolve() {
        let p = plan(&format!(
            "{HEAD}[environments.prod]\ntargets = [\"a\", \"b\"]\n\
             [[stage]]\nid = \"s\"\nenvironment = \"prod\"\nrun = [\"x {{target}}\", \"y\"]\n\
             rollback = [\"u {{env}}\"]\ntimeout = 90\ngates = [\"g\", \"g\"]\nconcurrency = 2\n\
             on_failure = \"continue\"\nwatch = {{ every = 5, for = \"1m\" }}\n[gates.g]\n"
        ));
        let s = &p.stages[0];
        assert_eq!(s.run, [Template::new("x {target}"), Template::new("y")]);
        assert_eq!(s.rollback, [Template::new("u {env}")]);
        assert_eq!(s.timeout, Some(Duration::from_secs(90)));
        assert_eq!(s.gates, ["g"]);
        assert_eq!(s.concurrency, 2);
        assert_eq!(s.on_failure, OnFailure::Continue);
        assert_eq!(
            s.watch,
            Some(Watch {
                every: Duration::from_secs(5),
                window: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn drift_settings_resolve() {
        // Unit tests run in the package root: `expect` resolves against the plan's directory.
        let p = plan(&format!(
            "{HEAD}[environments.staging]\nprobe = \"cat s.kv\"\n\
             [environments.prod]\ntargets = [\"eu\"]\nprobe = \"p {{env}} {{target}}\"\nprobe_timeout = 90\n\
             expect = \"tests/fixtures/plans/good/state/prod.json\"\nformat = \"toml\"\n\
             [environments.bare]\n\
             [drift]\nignore = [\"*.at\", \"*.at\", \"b?\"]\n\
             [[stage]]\nid = \"s\"\nrun = \"true\"\n\
             [gates.g]\nchecklist = [{{ item = \"i\", drift = {{ env = \"prod\" }} }}, \
             {{ item = \"j\", drift = {{ env = \"staging\", baseline = \"prod\" }} }}]\n"
        ));
        let staging = &p.environments["staging"];
        assert_eq!(staging.probe, Some(Template::new("cat s.kv")));
        assert_eq!(staging.probe_timeout, Duration::from_secs(30));
        assert_eq!((staging.expect.as_ref(), staging.format), (None, None));
        let prod = &p.environments["prod"];
        assert_eq!(prod.probe, Some(Template::new("p {env} {target}")));
        assert_eq!(prod.probe_timeout, Duration::from_secs(90));
        let expect = prod.expect.as_ref().unwrap();
        assert!(expect.is_absolute() && expect.ends_with("tests/fixtures/plans/good/state/prod.json"));
        assert_eq!(prod.format, Some(StateFormat::Toml));
        assert_eq!(p.environments["bare"].probe, None);

        assert_eq!(
            p.drift,
            DriftConfig {
                baseline: None,
                ignore: vec!["*.at".into(), "b?".into()],
                version_key: "version".into(),
            }
        );
        assert_eq!(p.drift_baseline(), Some("staging"));
        let items = &p.gates["g"].checklist;
        assert!(items.iter().all(ChecklistItem::is_automatic));
        let first = items[0].drift.as_ref().unwrap();
        assert_eq!(
            first,
            &DriftCheck {
                env: "prod".into(),
                baseline: None
            }
        );
        assert_eq!(p.baseline_for(first), Some("staging"));
        assert_eq!(p.baseline_for(items[1].drift.as_ref().unwrap()), Some("prod"));

        // Without probes there is no default baseline.
        let bare = plan(&format!(
            "{HEAD}[environments.e]\n[[stage]]\nid = \"s\"\nrun = \"true\"\n"
        ));
        assert_eq!(bare.drift_baseline(), None);
        assert_eq!(bare.drift, DriftConfig::default());
    }

    #[test]
    fn placeholders_are_checked_in_their_scope() {
        // Everything allowed: no problems.
        plan(&format!(
            "{HEAD}[environments.prod]\ntargets = [\"a\"]\n\
             [[stage]]\nid = \"s\"\nenvironment = \"prod\"\n\
             run = \"d {{version}} {{type}} {{release}} {{stage}} {{env}} {{target}} ${{HOME}} {{{{x}}}} {{1}}\"\n\
             [gates.g]\nchecklist = [{{ item = \"i\", check = \"c {{version}} {{type}} {{release}}\" }}]\n"
        ));
        let got = problems(&format!(
            "{HEAD}[[stage]]\nid = \"s\"\nrun = 'a {{vrsion}} {{env}}'\n\
             [gates.g]\nchecklist = [{{ item = \"i\", check = \"c {{target}} {{bogus}}\" }}]\n"
        ));
        assert_eq!(
            got,
            [
                "plan.toml:5:10: unknown placeholder `{vrsion}` in stage `s` run; did you mean `{version}`? \
                 (known: version, type, release, stage, env, target, commit, notes_file)",
                "plan.toml:5:19: {env} used in stage `s` but it has no environment",
                "plan.toml:7:39: placeholder `{target}` is not available in gate checks (gate `g`); \
                 available: version, type, release",
                "plan.toml:7:48: unknown placeholder `{bogus}` in check of gate `g` (known: version, type, release)",
            ]
        );
    }

    #[test]
    fn references_suggest_the_closest_name() {
        let got = problems(&format!(
            "{HEAD}[environments.staging]\n[[stage]]\nid = \"build\"\nrun = \"m\"\n\
             [[stage]]\nid = \"t\"\nneeds = [\"buidl\"]\nenvironment = \"stagin\"\ngate = \"sigoff\"\nrun = \"m\"\n\
             [gates.signoff]\n"
        ));
        assert_eq!(
            got,
            [
                "plan.toml:9:10: stage `t` needs `buidl`, which is not a stage; did you mean `build`?",
                "plan.toml:10:15: stage `t` uses environment `stagin`, which is not defined; did you mean `staging`?",
                "plan.toml:11:8: stage `t` uses gate `sigoff`, which is not defined; did you mean `signoff`?",
            ]
        );
    }

    #[test]
    fn a_type_error_does_not_also_count_as_missing() {
        let got = problems("[plan]\nname = 1\n[[stage]]\nid = 2\nrun = {}\n");
        assert_eq!(
            got,
            [
                "plan.toml:2:8: plan.name: expected a string, found integer 1",
                "plan.toml:4:6: stage[1].id: expected a string, found integer 2",
                "plan.toml:5:7: stage[1].run: expected a string or a list of strings, found table",
            ]
        );
    }

    #[test]
    fn cycles_are_reported_at_the_first_stage_in_file_order() {
        let got = problems(&format!(
            "{HEAD}[[stage]]\nid = \"x\"\nrun = \"m\"\n\
             [[stage]]\nid = \"b\"\nneeds = [\"a\"]\nrun = \"m\"\n\
             [[stage]]\nid = \"a\"\nneeds = [\"b\", \"x\"]\nrun = \"m\"\n"
        ));
        assert_eq!(got, ["plan.toml:7:6: stages form a cycle: b -> a -> b"]);
    }

    #[test]
    fn finds_each_cycle_once_starting_at_its_first_stage() {
        // 0 -> 1 -> 2 -> 0 (one knot), 3 -> 4 -> 3 (another), 5 needs 0 (no cycle).
        let edges = vec![vec![1], vec![2], vec![0], vec![4], vec![3], vec![0]];
        assert_eq!(cycles(&edges), vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn reports_the_shortest_way_back() {
        // 0 -> 1 -> 2 -> 3 -> 0 and the shortcut 1 -> 0.
        let edges = vec![vec![1], vec![2, 0], vec![3], vec![0]];
        assert_eq!(cycles(&edges), vec![vec![0, 1]]);
    }

    #[test]
    fn a_dag_has_no_cycles() {
        let edges = vec![vec![], vec![0], vec![0, 1], vec![2], vec![1, 3]];
        assert!(cycles(&edges).is_empty());
        assert_eq!(strongly_connected(&edges).len(), 5);
    }

    #[test]
    fn long_chains_do_not_overflow() {
        let n = 100_000;
        let mut edges: Vec<Vec<usize>> = (0..n).map(|i| vec![i + 1]).collect();
        edges[n - 1] = vec![0];
        let found = cycles(&edges);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].len(), n);
    }

    #[test]
    fn or_list_reads_naturally() {
        assert_eq!(or_list(&["halt"]), "halt");
        assert_eq!(
            or_list(&["halt", "rollback", "continue"]),
            "halt, rollback or continue"
        );
    }
}
