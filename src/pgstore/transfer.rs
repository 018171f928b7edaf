//! `store import DIR` (a local data directory into the store) and `store export DIR` (back into
//! a new local data directory), hash chains intact: journals move line for line, byte for byte,
//! so `verify` passes on either side.
//!
//! Import checks each journal's chain first and refuses one that does not verify (it is named;
//! the others go on). Importing again adds only what is new: a journal the store already holds
//! takes the lines after its last one, provided the lines it has are the same. Run logs and other
//! release files go in as chunks of [`CHUNK`] bytes. Derived files (the finished-release index,
//! open markers, `.latest`, `head`) and locks are not copied: export writes `head` from the last
//! line, and the index is rebuilt from the journals on first use.

use std::io::Read;
use std::path::{Path, PathBuf};

use sqlx::Row;

use super::{PgStore, StoreError};
use crate::journal::store::check_component;
use crate::journal::{self, JournalError, Store, Verified, io_error};

/// The size of a chunk of a run log or release file.
pub const CHUNK: usize = 64 * 1024;

use crate::journal::replica::PLAN_JOURNALS;

/// What an import or export moved, and what it refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transfer {
    pub journals: usize,
    pub lines: u64,
    pub files: usize,
    pub bytes: u64,
    /// Journals already up to date.
    pub unchanged: usize,
    /// What was not moved, and why (one line each).
    pub refused: Vec<String>,
}

/// Files of a release folder that are not copied: the journal (its lines are), its head (made
/// again from the last line), locks.
fn copied(rel: &str) -> bool {
    rel != "journal.jsonl" && rel != "head" && !rel.ends_with(".lock")
}

impl PgStore {
    /// Copy the local data directory `from` into the store.
    pub fn import(&mut self, from: &Store) -> Result<Transfer, StoreError> {
        let mut t = Transfer::default();
        // The plans, and the workspaces' folders (`@NAME`, their trains journal only).
        for plan in from.plans()?.into_iter().chain(from.workspace_folders()?) {
            let plan_dir = from.plan_dir(&plan)?;
            for rdir in from.releases(Some(&plan))? {
                let head = std::fs::read_to_string(rdir.head()).ok();
                if !self.import_journal(&plan, &rdir.id, &rdir.journal(), head.as_deref(), &mut t)? {
                    continue;
                }
                for (rel, path) in files_under(&rdir.path)? {
                    if copied(&rel) {
                        let data = read_all(&path)?;
                        self.put_file(&plan, &rdir.id, &rel, &data)?;
                        t.files += 1;
                        t.bytes += data.len() as u64;
                    }
                }
            }
            // The plan-level journals (incidents, ad-hoc freezes), named on the store by their
            // folder.
            for (name, file) in PLAN_JOURNALS {
                let path = plan_dir.join(name).join(file);
                if path.exists() {
                    let head = std::fs::read_to_string(path.with_file_name("head")).ok();
                    self.import_journal(&plan, name, &path, head.as_deref(), &mut t)?;
                }
            }
        }
        Ok(t)
    }

    /// One journal: verified, then the lines the store does not hold yet. `false`: refused.
    fn import_journal(
        &mut self,
        plan: &str,
        name: &str,
        path: &Path,
        head: Option<&str>,
        t: &mut Transfer,
    ) -> Result<bool, StoreError> {
        let n = match journal::verify(path, head)? {
            Verified::Intact { lines } => lines,
            // The lines before a torn last write chain; the torn bytes stay behind.
            Verified::Torn { line, .. } => line - 1,
            Verified::Altered { line, reason } => {
                t.refused.push(format!(
                    "{}:{line}: altered ({reason}); not imported",
                    path.display()
                ));
                return Ok(false);
            }
        };
        let data = read_all(path)?;
        let mut lines = Vec::with_capacity(n);
        for (i, l) in data.split(|b| *b == b'\n').take(n).enumerate() {
            match String::from_utf8(l.to_vec()) {
                Ok(s) => lines.push(s),
                Err(_) => {
                    t.refused
                        .push(format!("{}:{}: not UTF-8; not imported", path.display(), i + 1));
                    return Ok(false);
                }
            }
        }
        let have = match self.last(plan, name)? {
            None => 0,
            Some((seq, hash)) => {
                let seq = seq as usize;
                if seq > lines.len() || journal::line_hash(lines[seq - 1].as_bytes()) != hash {
                    t.refused.push(format!(
                        "{}: the store holds a different journal for {plan}/{name} ({seq} lines); not imported",
                        path.display()
                    ));
                    return Ok(false);
                }
                seq
            }
        };
        if have == lines.len() {
            t.unchanged += 1;
            return Ok(true);
        }
        for batch in lines[have..].chunks(1000) {
            self.append(plan, name, None, batch)?;
        }
        t.journals += 1;
        t.lines += (lines.len() - have) as u64;
        Ok(true)
    }

    /// Store a release file (replacing what the store held under that name), in chunks.
    pub fn put_file(&mut self, plan: &str, release: &str, path: &str, data: &[u8]) -> Result<(), StoreError> {
        let r = self.rt.block_on(async {
            let mut tx = sqlx::Connection::begin(&mut self.conn).await?;
            sqlx::query("DELETE FROM fd_chunks WHERE plan = $1 AND release = $2 AND path = $3")
                .bind(plan)
                .bind(release)
                .bind(path)
                .execute(&mut *tx)
                .await?;
            // An empty file is one empty chunk: it exists.
            let chunks: Vec<&[u8]> = if data.is_empty() {
                vec![&[][..]]
            } else {
                data.chunks(CHUNK).collect()
            };
            for (n, chunk) in chunks.into_iter().enumerate() {
                sqlx::query(
                    "INSERT INTO fd_chunks (plan, release, path, n, data) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(plan)
                .bind(release)
                .bind(path)
                .bind(n as i64)
                .bind(chunk)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        });
        r.map_err(|e| self.sql_error("storing a release file", e))
    }

    /// A release's files: path → bytes.
    pub fn files(&mut self, plan: &str, release: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query("SELECT path, data FROM fd_chunks WHERE plan = $1 AND release = $2 ORDER BY path, n")
                .bind(plan)
                .bind(release)
                .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading release files", e))?;
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for row in rows {
            let path: String = row.get(0);
            let data: Vec<u8> = row.get(1);
            match out.last_mut() {
                Some((p, d)) if *p == path => d.extend_from_slice(&data),
                _ => out.push((path, data)),
            }
        }
        Ok(out)
    }

    /// Write everything the store holds into `to`, a new (or empty) local data directory.
    pub fn export(&mut self, to: &Path) -> Result<Transfer, StoreError> {
        if std::fs::read_dir(to).is_ok_and(|mut d| d.next().is_some()) {
            return Err(StoreError::Journal(JournalError::Io {
                path: to.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "not empty: export writes a new data directory, never over one",
                ),
            }));
        }
        let mut t = Transfer::default();
        for (plan, id) in self.releases()? {
            check_component("plan name", &plan)?;
            check_component("release id", &id)?;
            let dir = to.join("plans").join(&plan).join(&id);
            self.export_journal(&plan, &id, &dir.join("journal.jsonl"), &mut t)?;
            for (rel, data) in self.files(&plan, &id)? {
                let path = safe_join(&dir, &rel)?;
                write_file(&path, &data)?;
                t.files += 1;
                t.bytes += data.len() as u64;
            }
        }
        // The plan-level journals, also of plans with no release.
        for (plan, name, _) in self.journals()? {
            if let Some((_, file)) = PLAN_JOURNALS.iter().find(|(n, _)| *n == name) {
                check_component("plan name", &plan)?;
                let path = to.join("plans").join(&plan).join(name.as_str()).join(file);
                self.export_journal(&plan, &name, &path, &mut t)?;
            }
        }
        Ok(t)
    }

    /// One journal into `path`, and its `head` beside it.
    fn export_journal(
        &mut self,
        plan: &str,
        name: &str,
        path: &Path,
        t: &mut Transfer,
    ) -> Result<(), StoreError> {
        let mut text = String::new();
        let mut last = 0u64;
        loop {
            let page = self.read_after(plan, name, last, 10_000)?;
            if page.is_empty() {
                break;
            }
            for (seq, line) in page {
                text.push_str(&line);
                text.push('\n');
                last = seq;
            }
        }
        write_file(path, text.as_bytes())?;
        if let Some((seq, hash)) = self.last(plan, name)? {
            write_file(
                &path.with_file_name("head"),
                format!("{seq:020} {hash}\n").as_bytes(),
            )?;
        }
        t.journals += 1;
        t.lines += last;
        Ok(())
    }
}

/// Every regular file under `dir`, with its path relative to `dir` (`/`-separated), sorted.
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, JournalError> {
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(io_error(&d))? {
            let entry = entry.map_err(io_error(&d))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let ft = entry.file_type().map_err(io_error(&entry.path()))?;
            if ft.is_dir() {
                todo.push((rel, entry.path()));
            } else if ft.is_file() {
                out.push((rel, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `rel` (from the store: not trusted) under `dir`, each part one plain folder name.
fn safe_join(dir: &Path, rel: &str) -> Result<PathBuf, JournalError> {
    let mut path = dir.to_path_buf();
    for part in rel.split('/') {
        check_component("release file", part)?;
        path.push(part);
    }
    Ok(path)
}

fn read_all(path: &Path) -> Result<Vec<u8>, JournalError> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_error(path))?;
    Ok(data)
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), JournalError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(path, data).map_err(io_error(path))
}
