//! Appending to a journal from any process: exclusive lock, catch up on what others appended,
//! chain, write once, fsync.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use super::read::split_lines;
use super::{JournalError, Record, io_err, line_hash};
use crate::engine::event::Event;
use crate::engine::output::Masker;

/// An open journal, ready to append. Cheap to keep open for a process's lifetime.
pub struct Journal {
    path: PathBuf,
    head_path: PathBuf,
    file: File,
    masker: Arc<Masker>,
    /// Bytes of the file we have accounted for (everything up to the last complete line).
    len: u64,
    next_seq: u64,
    last_hash: String,
}

impl Journal {
    /// Open (creating if needed) the journal at `path`. `masker` masks secret values in every line.
    pub fn open(path: &Path, masker: Arc<Masker>) -> Result<Journal, JournalError> {
        let file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io_err(path))?;
        let head_path = path.with_file_name("head");
        Ok(Journal { path: path.to_path_buf(), head_path, file, masker, len: 0, next_seq: 1, last_hash: String::new() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `events` as one durable batch by `actor`; returns the records as written.
    pub fn append(&mut self, actor: &str, events: Vec<Event>) -> Result<Vec<Record>, JournalError> {
        self.append_checked(actor, |_| Ok::<_, JournalError>(events)).map(|(r, _)| r)
    }

    /// Under the append lock: catch up with the journal, let `decide` look at every record written
    /// so far (by any process) and return the events to append (or an error, appending nothing).
    /// This makes "check, then append" atomic across processes (e.g. refusing a second approval
    /// by the same person).
    pub fn append_checked<E, F>(&mut self, actor: &str, decide: F) -> Result<(Vec<Record>, Vec<Record>), E>
    where
        E: From<JournalError>,
        F: FnOnce(&[Record]) -> Result<Vec<Event>, E>,
    {
        let path = self.path.clone();
        self.file.lock().map_err(io_err(&path))?;
        let result = (|| {
            let seen = self.catch_up()?;
            let events = decide(&seen)?;
            let written = self.write_locked(actor, events)?;
            Ok((written, seen))
        })();
        let _ = self.file.unlock();
        result
    }

    /// Read everything appended since we last looked (under the lock). A torn unterminated tail
    /// left by a crashed writer is cut off so the chain continues from the last whole line.
    fn catch_up(&mut self) -> Result<Vec<Record>, JournalError> {
        let size = self.file.metadata().map_err(io_err(&self.path))?.len();
        if size == self.len {
            return Ok(Vec::new());
        }
        let mut data = Vec::with_capacity((size - self.len) as usize);
        self.file.seek(SeekFrom::Start(self.len)).map_err(io_err(&self.path))?;
        (&self.file).take(size - self.len).read_to_end(&mut data).map_err(io_err(&self.path))?;
        let (lines, tail) = split_lines(&data);
        let mut records = Vec::with_capacity(lines.len());
        let mut consumed = 0u64;
        let count = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => {
                    self.next_seq = r.seq + 1;
                    self.last_hash = line_hash(line);
                    records.push(r);
                    consumed += line.len() as u64 + 1;
                }
                Err(e) if i + 1 == count && tail.is_empty() => {
                    // A torn last line that happens to end in a newline: drop it like a torn tail.
                    let _ = e;
                    break;
                }
                Err(e) => {
                    return Err(JournalError::Corrupt {
                        path: self.path.clone(),
                        line: self.next_seq as usize,
                        message: e.to_string(),
                    });
                }
            }
        }
        self.len += consumed;
        if self.len < size {
            // Torn write by a process that died mid-append: never part of the chain.
            self.file.set_len(self.len).map_err(io_err(&self.path))?;
        }
        Ok(records)
    }

    fn write_locked(&mut self, actor: &str, events: Vec<Event>) -> Result<Vec<Record>, JournalError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut buf = Vec::with_capacity(256 * events.len());
        let mut records = Vec::with_capacity(events.len());
        let now = Utc::now();
        for event in events {
            let rec = Record {
                seq: self.next_seq,
                ts: now,
                actor: actor.to_string(),
                prev: std::mem::take(&mut self.last_hash),
                event,
            };
            let json = serde_json::to_string(&rec).expect("records always serialize");
            let line = self.masker.mask_str(&json);
            self.last_hash = line_hash(line.as_bytes());
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            self.next_seq += 1;
            records.push(rec);
        }
        self.file.write_all(&buf).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.len += buf.len() as u64;
        // The head lets `verify` notice an altered last line; it is advisory, so not fsynced.
        let _ = std::fs::write(&self.head_path, format!("{} {}\n", self.next_seq - 1, self.last_hash));
        Ok(records)
    }
}
