//! Loading and validating a plan. (Being written.)
use std::fmt;
use std::path::{Path, PathBuf};

use super::model::Plan;

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
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.col, self.message)
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
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Io { path: path.to_path_buf(), source })?;
    load_str(&text, path)
}

/// Validate plan text; `path` names the file in problems and sets the plan's directory.
pub fn load_str(_text: &str, path: &Path) -> Result<Plan, PlanError> {
    Err(PlanError::Invalid {
        problems: vec![Problem { file: path.to_path_buf(), line: 1, col: 1, message: "not yet".into() }],
    })
}
