//! Loading a plan: read the file, parse it ([`super::raw`]), validate it ([`super::validate`]) and
//! turn every issue into a [`Problem`] with its line and column.
use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Plan;
use super::raw;
use super::source::{Issue, SourceMap};
use super::validate;

/// One problem in a plan file, shown as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no flightdeck.toml in {0} or any parent directory (use --plan FILE or FLIGHTDECK_PLAN)")]
    NotFound(PathBuf),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

/// `flightdeck.toml` in `start` or its nearest parent that has one.
pub fn find_plan_file(start: &Path) -> Result<PathBuf, PlanError> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join("flightdeck.toml");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(PlanError::NotFound(start.to_path_buf()))
}

/// Read and validate the plan at `path`.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let text =
        crate::files::read_text_bounded(path, crate::files::MAX_INPUT).map_err(|source| PlanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    load_str(&text, path)
}

/// Validate plan text; `path` names the file in problems and sets the plan's directory.
///
/// On failure every problem found is returned, sorted by position.
pub fn load_str(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let issues = match raw::parse(text) {
        Err(syntax) => syntax,
        Ok((parsed, mut issues)) => {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let dir = absolute
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            let (plan, more) = validate::validate(&parsed, &SourceMap::new(text), absolute, dir);
            issues.extend(more);
            if issues.is_empty() {
                return Ok(plan);
            }
            issues
        }
    };
    Err(PlanError::Invalid {
        problems: problems(text, path, issues),
    })
}

/// Issues as problems with line and column, sorted by position, duplicates removed.
pub(super) fn problems(text: &str, path: &Path, mut issues: Vec<Issue>) -> Vec<Problem> {
    issues.sort();
    issues.dedup();
    let map = SourceMap::new(text);
    issues
        .into_iter()
        .map(|issue| {
            let (line, col) = map.line_col(issue.at);
            Problem {
                file: path.to_path_buf(),
                line,
                col,
                message: issue.message,
            }
        })
        .collect()
}
