//! The append-only, hash-chained journal of a release, its folder and its locks.
//!
//! Every line of `journal.jsonl` is one [`Record`]. Appends from any process happen under an
//! exclusive lock on the journal file itself, are written with one `write` and fsynced before the
//! call returns, so an event's effect never counts before the event is durable.

mod append;
mod read;
pub mod store;
mod tail;

pub use append::{Journal, Txn};
pub mod replica;
pub use notify::RecursiveMode;
pub use read::{LoadWarning, Verified, attention_reason, read_journal, torn_path, verify};
pub use store::{DriverLock, DriverProbe, ReleaseDir, Store};
pub use tail::{SyncWaker, Tail, Waker, watch_changes};

use std::path::PathBuf;

pub use crate::event::Record;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A line that does not chain to the one before (or is no record): nothing from it on is
    /// acted on, and the release needs a person's attention.
    #[error(
        "{}:{line}: the journal's hash chain is broken ({reason}); nothing from this line on is acted on (`flightdeck verify` checks the whole journal)",
        path.display()
    )]
    Broken {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// The shared store failed or refused (one line, naming the store).
    #[error("{0}")]
    Store(String),
    /// The shared store is out of reach (one line, naming it): worth retrying later.
    #[error("{0}")]
    StoreUnreachable(String),
    #[error("release `{0}` not found{1}")]
    NotFound(String, String),
    #[error("{0}")]
    Ambiguous(String),
    /// A name that would not be one plain folder name in the data directory.
    #[error("{what} `{name}` cannot be a folder name in the data directory: {reason}")]
    BadName {
        what: String,
        name: String,
        reason: String,
    },
}

/// An I/O error with the path it happened at (one line: `PATH: cause`).
pub fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    io_err(path)
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// SHA-256 of a line (without its newline), hex.
pub fn line_hash(line: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(line))
}
