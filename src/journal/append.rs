//! Appending to a journal from any process: exclusive lock, catch up on what others appended,
//! chain, write once, fsync.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use super::read::{Chain, TailKind, classify_tail, split_lines, torn_path};
use super::{JournalError, Record, io_err, line_hash};
use crate::event::Event;
use crate::mask::Masker;

/// An open journal, ready to append. Cheap to keep open for a process's lifetime.
pub struct Journal {
    path: PathBuf,
    /// `head`: the last line's sequence number and hash, rewritten in place on every commit.
    head: Option<File>,
    file: File,
    masker: Arc<Masker>,
    /// Bytes of the file we have accounted for (everything up to the last complete line).
    len: u64,
    next_seq: u64,
    last_hash: String,
    /// Made to exist before every write: the release's "open" marker (see
    /// [`super::ReleaseDir::open_marker`]), so the finished-release index never trusts an entry
    /// whose journal grew after it was closed.
    open_marker: Option<PathBuf>,
    /// The shared store this journal mirrors, when the data directory is a replica's.
    replica: Option<(&'static super::replica::Shared, super::replica::JournalKey)>,
}

impl Journal {
    /// The chain position as read so far.
    fn chain(&self) -> Chain {
        Chain {
            next_seq: self.next_seq,
            last_hash: self.last_hash.clone(),
        }
    }

    fn broken(&self, line: usize, reason: String) -> JournalError {
        JournalError::Broken {
            path: self.path.clone(),
            line,
            reason,
        }
    }
}

impl Journal {
    /// Open (creating if needed) the journal at `path`. `masker` masks secret values in the
    /// free-text fields of every event appended (see [`Event::visit_text_mut`]).
    pub fn open(path: &Path, masker: Arc<Masker>) -> Result<Journal, JournalError> {
        let replica = super::replica::for_path(path);
        if replica.is_some() {
            super::replica::claim()?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err(path))?;
        let head = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.with_file_name("head"))
            .ok();
        Ok(Journal {
            path: path.to_path_buf(),
            head,
            file,
            masker,
            len: 0,
            next_seq: 1,
            last_hash: String::new(),
            open_marker: None,
            replica,
        })
    }

    /// Before every write, make sure `marker` exists (created empty, its folder too).
    pub fn marking_open(mut self, marker: PathBuf) -> Journal {
        self.open_marker = Some(marker);
        self
    }

    /// Bytes of the journal accounted for: every complete line read or written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been read or written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether someone else appended since we last looked (one `fstat`, no lock).
    pub fn has_news(&self) -> bool {
        self.file.metadata().map(|m| m.len() != self.len).unwrap_or(true)
    }

    /// Append `events` as one durable batch by `actor`; returns the records as written.
    pub fn append(&mut self, actor: &str, events: Vec<Event>) -> Result<Vec<Record>, JournalError> {
        self.append_checked(actor, |_| Ok::<_, JournalError>(events))
            .map(|(r, _)| r)
    }

    /// Under the append lock: catch up with the journal, let `decide` look at every record written
    /// so far (by any process) and return the events to append (or an error, appending nothing).
    /// This makes "check, then append" atomic across processes (e.g. refusing a second approval
    /// by the same person). Returns (written, seen before).
    pub fn append_checked<E, F>(&mut self, actor: &str, decide: F) -> Result<(Vec<Record>, Vec<Record>), E>
    where
        E: From<JournalError>,
        F: FnOnce(&[Record]) -> Result<Vec<Event>, E>,
    {
        let (mut txn, seen) = self.begin()?;
        let events = decide(&seen)?;
        let written: Vec<Record> = events.into_iter().map(|e| txn.push(actor, e)).collect();
        txn.commit(true)?;
        Ok((written, seen))
    }

    /// Start a transaction: take the append lock and catch up with what others appended (returned
    /// in order). Records pushed to the transaction get their final sequence numbers at once, so a
    /// driver can fold them before they are written; nothing is durable, and no effect may happen,
    /// until [`Txn::commit`]. Dropping the transaction discards what was pushed.
    pub fn begin(&mut self) -> Result<(Txn<'_>, Vec<Record>), JournalError> {
        self.file.lock().map_err(io_err(&self.path))?;
        // On a replica, the store's lock too, and what the store holds beyond the local file.
        let caught_up = self.catch_up().and_then(|mut seen| {
            let Some((replica, key)) = self.replica.clone() else {
                return Ok((seen, None));
            };
            match replica.begin(&key, self.next_seq - 1) {
                Ok(b) => {
                    seen.extend(self.take_down(&b.lines)?);
                    // Lines this driver wrote while the store was out of reach go first, in
                    // order, with whatever this transaction adds.
                                        let unsent = if b.last + 1 < self.next_seq {
                        // Only the driver that wrote them sends them (with its epoch).
                        if !replica.may_buffer(&key) {
                            return Err(JournalError::Store(format!(
                                "{}: the driver here has {} line(s) the shared store does not have yet (written while it was out of reach); try again once it has sent them",
                                self.path.display(),
                                self.next_seq - 1 - b.last
                            )));
                        }
                        self.lines_after(b.last)?
                    } else {
                        Vec::new()
                    };
                    Ok((
                        seen,
                        Some(Remote {
                            txn: b.txn,
                            unsent,
                            store_last: b.last,
                        }),
                    ))
                }
                // The store is out of reach: the driver holding the lease writes on here (fsynced,
                // in order) and sends it all once the store is back.
                Err(JournalError::StoreUnreachable(_)) if replica.may_buffer(&key) => Ok((seen, None)),
                Err(e) => Err(e),
            }
        });
        match caught_up {
            Ok((seen, remote)) => {
                // What a dropped transaction returns to: after what others wrote, before ours.
                let saved = (self.next_seq, self.last_hash.clone());
                let txn = Txn {
                    journal: self,
                    buf: Vec::new(),
                    saved,
                    done: false,
                    remote,
                };
                Ok((txn, seen))
            }
            Err(e) => {
                let _ = self.file.unlock();
                Err(e)
            }
        }
    }

    /// Bring down what the shared store holds beyond the local file (a replica's journal), without
    /// taking the store's lock: how observers catch up. The lines read; none without a replica.
    pub fn pull(&mut self) -> Result<Vec<Record>, JournalError> {
        let Some((replica, key)) = self.replica.clone() else {
            return Ok(Vec::new());
        };
        self.file.lock().map_err(io_err(&self.path))?;
        let result = self.catch_up().and_then(|_| {
            let lines = replica.read_after(&key, self.next_seq - 1)?;
            self.take_down(&lines)
        });
        let _ = self.file.unlock();
        result
    }

    /// Under the local lock, after catching up locally: check that `lines` (from the store)
    /// continue the chain, and write them to the local file.
    fn take_down(&mut self, lines: &[String]) -> Result<Vec<Record>, JournalError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let mut chain = self.chain();
        let mut records = Vec::with_capacity(lines.len());
        let mut buf = Vec::new();
        for line in lines {
            let at = chain.line();
            let rec = chain
                .link(line.as_bytes())
                .map_err(|reason| self.broken(at, format!("the shared store's line: {reason}")))?;
            records.push(rec);
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        if let Some(marker) = &self.open_marker {
            mark(marker)?;
        }
        self.file.write_all(&buf).map_err(io_err(&self.path))?;
        self.len += buf.len() as u64;
        (self.next_seq, self.last_hash) = (chain.next_seq, chain.last_hash);
        self.write_head();
        Ok(records)
    }

    /// The head lets `verify` notice an altered last line; it is advisory, so not fsynced.
    /// Fixed width, so rewriting it in place never leaves a longer old tail behind.
    fn write_head(&self) {
        if let Some(head) = &self.head {
            use std::os::unix::fs::FileExt;
            let _ = head.write_at(
                format!("{:020} {}\n", self.next_seq - 1, self.last_hash).as_bytes(),
                0,
            );
        }
    }

    /// Read everything appended since we last looked (under the lock), checking the hash chain
    /// line by line. The first line that does not chain (or is no record) stops everything with
    /// [`JournalError::Broken`]: nothing from it on is acted on, and it is never "repaired".
    /// Only a torn write (an unterminated last line that is no record) is set aside: appended to
    /// `journal.torn` and cut off, so the chain continues from the last whole line. An
    /// unterminated last line that is a chained record only lost its newline: it is kept and
    /// terminated.
    fn catch_up(&mut self) -> Result<Vec<Record>, JournalError> {
        let size = self.file.metadata().map_err(io_err(&self.path))?.len();
        if size == self.len {
            return Ok(Vec::new());
        }
        if size < self.len {
            let line = self.next_seq as usize - 1;
            return Err(self.broken(
                line.max(1),
                format!(
                    "the journal shrank to {size} bytes below the {} already read: lines were removed",
                    self.len
                ),
            ));
        }
        let mut data = Vec::with_capacity(size.saturating_sub(self.len) as usize);
        self.file
            .seek(SeekFrom::Start(self.len))
            .map_err(io_err(&self.path))?;
        (&self.file)
            .take(size.saturating_sub(self.len))
            .read_to_end(&mut data)
            .map_err(io_err(&self.path))?;
        let (lines, tail) = split_lines(&data);
        let mut chain = self.chain();
        let mut records = Vec::with_capacity(lines.len());
        for line in lines {
            let at = chain.line();
            let rec = chain.link(line).map_err(|reason| self.broken(at, reason))?;
            records.push(rec);
            self.len += line.len() as u64 + 1;
            (self.next_seq, self.last_hash) = (chain.next_seq, chain.last_hash.clone());
        }
        let at = chain.line();
        match classify_tail(&mut chain, tail) {
            TailKind::None => {}
            TailKind::Record(rec) => {
                // Its newline was lost: terminate it before anything is appended after it.
                self.file.write_all(b"\n").map_err(io_err(&self.path))?;
                self.len += tail.len() as u64 + 1;
                (self.next_seq, self.last_hash) = (chain.next_seq, chain.last_hash);
                records.push(*rec);
            }
            TailKind::Torn(bytes) => {
                // A process died mid-append: its bytes were never part of the chain. Kept aside
                // (with a newline of their own), never deleted; `verify` reports them.
                let side = torn_path(&self.path);
                let mut kept = bytes.to_vec();
                kept.push(b'\n');
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&side)
                    .map_err(io_err(&side))?;
                f.write_all(&kept).map_err(io_err(&side))?;
                f.sync_data().map_err(io_err(&side))?;
                self.file.set_len(self.len).map_err(io_err(&self.path))?;
            }
            TailKind::Broken(reason) => return Err(self.broken(at, reason)),
        }
        Ok(records)
    }
}

/// An open append transaction: holds the journal's append lock until committed or dropped.
pub struct Txn<'a> {
    journal: &'a mut Journal,
    buf: Vec<u8>,
    /// Chain position before the transaction, restored if it is dropped uncommitted.
    saved: (u64, String),
    done: bool,
    /// The append on the shared store (holding its lock), on a replica.
    remote: Option<Remote>,
}

/// An append on the shared store: its transaction, and the local lines the store does not have
/// yet (written while it was out of reach), sent first.
struct Remote {
    txn: Box<dyn super::replica::ReplicaTxn>,
    unsent: Vec<String>,
    /// The store's last sequence number when the transaction began.
    store_last: u64,
}

impl Txn<'_> {
    /// Add an event; returns its record exactly as written (sequence number and chain link final,
    /// secrets masked in its free-text fields), so what a caller folds is what the chain holds.
    pub fn push(&mut self, actor: &str, mut event: Event) -> Record {
        let j = &mut *self.journal;
        // Secrets are masked in the free-text values only, before serialising: never in keys,
        // kinds, ids, numbers or hashes (masking the JSON line would rewrite its structure).
        if !j.masker.is_empty() {
            event.visit_text_mut(&mut |text| {
                if let std::borrow::Cow::Owned(masked) = j.masker.mask_str(text) {
                    *text = masked;
                }
            });
        }
        let rec = Record {
            seq: j.next_seq,
            ts: Utc::now(),
            actor: actor.to_string(),
            prev: std::mem::take(&mut j.last_hash),
            event,
        };
        let line = serde_json::to_string(&rec).expect("records always serialize");
        j.last_hash = line_hash(line.as_bytes());
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        j.next_seq += 1;
        rec
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The journal's length (bytes) as caught up, before anything pushed here is written.
    pub fn journal_len(&self) -> u64 {
        self.journal.len
    }

    /// Write everything pushed with one `write`, fsync when `durable`, release the lock.
    /// (`durable = false` is for records whose loss in an OS crash is covered otherwise; a later
    /// durable commit flushes them too.)
    pub fn commit(mut self, durable: bool) -> Result<(), JournalError> {
        self.done = true;
        let j = &mut *self.journal;
        let result = (|| {
            // The store first: the local file only ever holds what the store took, but for what
            // the driver writes while the store is out of reach (sent first next time).
            let mut durable = durable;
            if let Some(remote) = self.remote.take() {
                let text = std::str::from_utf8(&self.buf).expect("records are JSON text");
                let mut lines = remote.unsent.clone();
                lines.extend(text.lines().map(str::to_string));
                if !lines.is_empty() {
                    match remote.txn.commit(&lines) {
                        Ok(()) => {}
                        Err(JournalError::StoreUnreachable(_))
                            if j.replica.as_ref().is_some_and(|(r, k)| r.may_buffer(k)) =>
                        {
                            durable = true;
                        }
                        Err(e) => {
                            // Refused (another driver took over meanwhile): what was written
                            // here alone is set aside, so the local file is the store's again.
                            if !remote.unsent.is_empty() {
                                j.set_aside_unsent(remote.store_last)?;
                                self.saved = (j.next_seq, j.last_hash.clone());
                            }
                            return Err(e);
                        }
                    }
                }
            } else if j.replica.is_some() {
                // Written while the store is out of reach: fsynced, always.
                durable = true;
            }
            if self.buf.is_empty() {
                return Ok(());
            }
            if let Some(marker) = &j.open_marker {
                mark(marker)?;
            }
            j.file.write_all(&self.buf).map_err(io_err(&j.path))?;
            if durable {
                j.file.sync_data().map_err(io_err(&j.path))?;
            }
            j.len += self.buf.len() as u64;
            j.write_head();
            // A release's files (its plan copy, drift snapshots, notes) follow its journal up.
            if let Some((replica, key)) = &j.replica
                && super::replica::is_release(key)
                && let Some(dir) = j.path.parent()
                && let Err(e) = replica.put_files(key, dir)
            {
                eprintln!("flightdeck: {e}");
            }
            Ok(())
        })();
        if result.is_err() {
            (j.next_seq, j.last_hash) = std::mem::take(&mut self.saved);
        }
        let _ = j.file.unlock();
        result
    }
}

impl Journal {
    /// Every byte of the journal accounted for (its whole lines), read from the start.
    fn read_all(&mut self) -> Result<Vec<u8>, JournalError> {
        let mut data = Vec::with_capacity(self.len as usize);
        self.file.seek(SeekFrom::Start(0)).map_err(io_err(&self.path))?;
        (&self.file)
            .take(self.len)
            .read_to_end(&mut data)
            .map_err(io_err(&self.path))?;
        Ok(data)
    }

    /// The local file's lines after sequence number `seq` (read from the start: only lines
    /// written while the store was out of reach are ever looked for this way).
    fn lines_after(&mut self, seq: u64) -> Result<Vec<String>, JournalError> {
        let data = self.read_all()?;
        let text = String::from_utf8_lossy(&data);
        Ok(text.lines().skip(seq as usize).map(str::to_string).collect())
    }

    /// Cut the local file back to the store's `store_last` lines, keeping what is cut in
    /// `journal.unsent` beside it (never deleted): lines written while the store was out of reach
    /// that the store then refused.
    fn set_aside_unsent(&mut self, store_last: u64) -> Result<(), JournalError> {
        let data = self.read_all()?;
        let mut kept = 0usize;
        let mut last_hash = String::new();
        for line in data.split_inclusive(|b| *b == b'\n').take(store_last as usize) {
            kept += line.len();
            last_hash = line_hash(line.strip_suffix(b"\n").unwrap_or(line));
        }
        let side = self.path.with_file_name("journal.unsent");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&side)
            .map_err(io_err(&side))?;
        f.write_all(&data[kept..]).map_err(io_err(&side))?;
        f.sync_data().map_err(io_err(&side))?;
        self.file.set_len(kept as u64).map_err(io_err(&self.path))?;
        self.len = kept as u64;
        self.next_seq = store_last + 1;
        self.last_hash = last_hash;
        self.write_head();
        eprintln!(
            "flightdeck: {}: the shared store refused the lines written while it was out of reach; they are kept in {}",
            self.path.display(),
            side.display()
        );
        Ok(())
    }
}

/// Create `marker` (and its folder) unless it exists.
fn mark(marker: &Path) -> Result<(), JournalError> {
    if marker.exists() {
        return Ok(());
    }
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(marker)
        .map(drop)
        .map_err(io_err(marker))
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        if !self.done {
            (self.journal.next_seq, self.journal.last_hash) = std::mem::take(&mut self.saved);
            let _ = self.journal.file.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Verified;
    use crate::journal::read::{read_journal, verify};
    use std::path::Path;

    fn note(n: usize) -> Event {
        Event::Note {
            message: format!("note {n}"),
        }
    }

    #[test]
    fn appends_from_many_handles_and_threads_form_one_intact_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let masker = Arc::new(Masker::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (path, masker) = (path.clone(), masker.clone());
                std::thread::spawn(move || {
                    let mut j = Journal::open(&path, masker).unwrap();
                    for i in 0..25 {
                        j.append(&format!("t{t}"), vec![note(i), note(i + 100)]).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (recs, warnings) = read_journal(&path).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(recs.len(), 200);
        assert!(
            recs.iter().enumerate().all(|(i, r)| r.seq == i as u64 + 1),
            "dense sequence numbers"
        );
        let head = std::fs::read_to_string(dir.path().join("head")).unwrap();
        assert_eq!(
            verify(&path, Some(&head)).unwrap(),
            Verified::Intact { lines: 200 }
        );
    }

    #[test]
    fn a_dropped_transaction_leaves_no_trace_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        j.append("a", vec![note(1)]).unwrap();
        {
            let (mut txn, _) = j.begin().unwrap();
            let rec = txn.push("a", note(2));
            assert_eq!(rec.seq, 2);
        }
        let written = j.append("a", vec![note(3)]).unwrap();
        assert_eq!(written[0].seq, 2, "the dropped record's number is reused");
        let head = std::fs::read_to_string(dir.path().join("head")).unwrap();
        assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 2 });
    }

    #[test]
    fn secrets_are_masked_in_journal_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path, Arc::new(Masker::new(vec!["hunter22".to_string()]))).unwrap();
        j.append(
            "a",
            vec![Event::Note {
                message: "token hunter22 leaked".into(),
            }],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("hunter22") && text.contains("token *** leaked"),
            "{text}"
        );
    }

    #[test]
    fn secrets_that_json_escapes_are_masked_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let secret = r#"pa"ss\word"#;
        let mut j = Journal::open(&path, Arc::new(Masker::new(vec![secret.to_string()]))).unwrap();
        j.append(
            "a",
            vec![Event::Note {
                message: format!("login with {secret} failed"),
            }],
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("login with *** failed"), "{text}");
        assert!(!text.contains("ss\\\\word"), "{text}");
        // Still a valid, verifiable journal.
        let (recs, _) = crate::journal::read_journal(&path).unwrap();
        assert_eq!(recs.len(), 1);
    }

    /// With `TOK=o` (or any secret spelling a key, a kind, digits or hex) masking whole lines
    /// rewrote the JSON: `actor` became `act***r` and the line no longer parsed.
    #[test]
    fn a_secret_spelling_a_key_or_a_kind_masks_text_only() {
        for secret in ["actor", "release_created", "note", "2026", "seq", "prev"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            let mut j = Journal::open(&path, Arc::new(Masker::new(vec![secret.to_string()]))).unwrap();
            let written = j
                .append(
                    "alice",
                    vec![
                        Event::Note {
                            message: format!("saw {secret} here"),
                        },
                        Event::Approved {
                            gate: "prod".into(),
                            note: secret.into(),
                            signed: None,
                        },
                    ],
                )
                .unwrap();
            j.append("driver", vec![note(1)]).unwrap();
            let (recs, warnings) = read_journal(&path).unwrap();
            assert!(warnings.is_empty(), "{secret}: {warnings:?}");
            assert_eq!(recs.len(), 3, "{secret}");
            assert_eq!(
                &recs[..2],
                &written[..],
                "{secret}: what was folded is what was written"
            );
            assert_eq!(
                recs[0].event,
                Event::Note {
                    message: "saw *** here".into()
                }
            );
            assert_eq!(recs[0].actor, "alice");
            let head = std::fs::read_to_string(dir.path().join("head")).unwrap();
            assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 3 });
        }
    }

    /// A journal of `n` notes and its lines.
    fn journal_of(n: usize) -> (tempfile::TempDir, PathBuf, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        for i in 0..n {
            j.append("a", vec![note(i)]).unwrap();
        }
        (dir, path, j)
    }

    fn add_bytes(path: &Path, bytes: &[u8]) {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    /// A record that looks right but was not appended by a journal: `prev` is made up.
    fn forged(seq: u64) -> String {
        let rec = Record {
            seq,
            ts: Utc::now(),
            actor: "mallory".into(),
            prev: "0".repeat(64),
            event: Event::Approved {
                gate: "prod".into(),
                note: String::new(),
                signed: None,
            },
        };
        serde_json::to_string(&rec).unwrap()
    }

    #[test]
    fn a_forged_line_stops_every_appender_and_is_kept() {
        let (_d, path, _) = journal_of(2);
        add_bytes(&path, format!("{}\n", forged(3)).as_bytes());
        let before = std::fs::read(&path).unwrap();
        // A fresh handle (a request command) and one that had read the first lines (a driver).
        let mut fresh = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        let err = fresh.append("bob", vec![note(9)]).unwrap_err();
        match &err {
            JournalError::Broken { line, reason, .. } => {
                assert_eq!(*line, 3);
                assert!(reason.contains("prev"), "{reason}");
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("journal.jsonl:3:"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "nothing appended, nothing removed"
        );
        let (recs, warnings) = read_journal(&path).unwrap();
        assert_eq!(recs.len(), 2, "the records before the broken line");
        assert!(matches!(
            warnings[..],
            [crate::journal::LoadWarning::Broken { line: 3, .. }]
        ));
    }

    #[test]
    fn a_driver_that_has_read_the_journal_finds_a_forged_line_on_its_next_catch_up() {
        let (_d, path, mut j) = journal_of(2);
        add_bytes(&path, format!("{}\n", forged(3)).as_bytes());
        assert!(matches!(
            j.begin().err(),
            Some(JournalError::Broken { line: 3, .. })
        ));
        // And stays stopped.
        assert!(matches!(
            j.append("driver", vec![note(3)]),
            Err(JournalError::Broken { line: 3, .. })
        ));
    }

    #[test]
    fn a_whole_line_that_is_no_record_is_never_repaired() {
        for junk in ["{\"garbage\": true}\n", "not json at all\n", "\n"] {
            let (_d, path, _) = journal_of(2);
            add_bytes(&path, junk.as_bytes());
            let before = std::fs::read(&path).unwrap();
            let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
            assert!(
                matches!(
                    j.append("a", vec![note(5)]),
                    Err(JournalError::Broken { line: 3, .. })
                ),
                "{junk:?}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), before, "{junk:?} was kept");
            let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
            assert!(
                matches!(
                    verify(&path, Some(&head)).unwrap(),
                    Verified::Altered { line: 3, .. }
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_torn_tail_is_set_aside_never_deleted_and_verify_says_so() {
        let (_d, path, _) = journal_of(2);
        let torn = br#"{"seq":3,"ts":"2026-01-01T00:00:00Z","act"#;
        add_bytes(&path, torn);
        let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
        assert_eq!(
            verify(&path, Some(&head)).unwrap(),
            Verified::Torn {
                line: 3,
                bytes: torn.len()
            }
        );
        let (recs, warnings) = read_journal(&path).unwrap();
        assert_eq!(recs.len(), 2);
        assert!(matches!(
            warnings[..],
            [crate::journal::LoadWarning::TornLastLine { line: 3, .. }]
        ));

        let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        let written = j.append("a", vec![note(3)]).unwrap();
        assert_eq!(written[0].seq, 3, "the chain continues from the last whole line");
        let side = std::fs::read(crate::journal::torn_path(&path)).unwrap();
        assert_eq!(side, [&torn[..], b"\n"].concat(), "the torn bytes are kept aside");
        let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
        assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 3 });
    }

    #[test]
    fn a_record_that_only_lost_its_newline_is_kept_and_terminated() {
        let (_d, path, _) = journal_of(1);
        let text = std::fs::read_to_string(&path).unwrap();
        let first_hash = line_hash(text.trim_end().as_bytes());
        let rec = Record {
            seq: 2,
            ts: Utc::now(),
            actor: "a".into(),
            prev: first_hash,
            event: note(2),
        };
        add_bytes(&path, serde_json::to_string(&rec).unwrap().as_bytes());
        let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
        assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 2 });
        assert_eq!(read_journal(&path).unwrap().0.len(), 2);
        let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        assert_eq!(j.append("a", vec![note(3)]).unwrap()[0].seq, 3);
        assert!(!crate::journal::torn_path(&path).exists());
        let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
        assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 3 });
    }

    #[test]
    fn an_unterminated_record_that_does_not_chain_is_broken_not_torn() {
        let (_d, path, _) = journal_of(2);
        add_bytes(&path, forged(3).as_bytes());
        let before = std::fs::read(&path).unwrap();
        let mut j = Journal::open(&path, Arc::new(Masker::new(Vec::new()))).unwrap();
        assert!(matches!(
            j.append("a", vec![note(3)]),
            Err(JournalError::Broken { line: 3, .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!crate::journal::torn_path(&path).exists());
    }

    #[test]
    fn verify_names_a_line_added_after_the_last_one_written() {
        let (_d, path, _) = journal_of(3);
        add_bytes(&path, format!("{}\n", forged(4)).as_bytes());
        let head = std::fs::read_to_string(path.with_file_name("head")).unwrap();
        match verify(&path, Some(&head)).unwrap() {
            Verified::Altered { line, reason } => {
                assert_eq!(line, 4, "{reason}");
                assert!(reason.contains("added by something else"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tail_stops_at_the_first_line_that_does_not_chain() {
        let (_d, path, mut j) = journal_of(2);
        let mut tail = crate::journal::Tail::new(&path);
        assert_eq!(tail.poll().unwrap().len(), 2);
        j.append("a", vec![note(2)]).unwrap();
        add_bytes(&path, format!("{}\n", forged(4)).as_bytes());
        let recs = tail.poll().unwrap();
        assert_eq!(recs.len(), 1, "the good record before the broken line");
        assert!(matches!(
            tail.broken(),
            Some(JournalError::Broken { line: 4, .. })
        ));
        assert!(matches!(tail.poll(), Err(JournalError::Broken { line: 4, .. })));
        // A tail that starts on a broken journal reports it at once.
        let mut fresh = crate::journal::Tail::new(&path);
        assert_eq!(fresh.poll().unwrap().len(), 3);
        assert!(fresh.broken().is_some());
    }

    mod masking_property {
        use super::*;
        use crate::event::{Outcome, RunKey, RunKind};
        use proptest::prelude::*;

        /// Secrets that spell parts of a journal line, and random ones made of its characters.
        fn secret() -> impl Strategy<Value = String> {
            let spelled = prop::sample::select(vec![
                "seq",
                "ts",
                "actor",
                "prev",
                "kind",
                "event",
                "release_created",
                "approved",
                "run_finished",
                "note",
                "message",
                "outcome",
                "error",
                "driver",
                "stage",
                "1234",
                "2026",
                "0000",
                "00:00",
                "abcdef",
                "deadbeef",
                "e3b0c442",
                "\"seq\"",
                "\":\"",
                "\",\"",
                "\\\\",
                "a\\b",
                "a \"q\" b",
                "    ",
                " ",
                "null",
                "true",
                "false",
                "{\"",
                "\"}",
                ":1,",
                "logs/",
                ".log",
            ])
            .prop_map(String::from);
            let chars: Vec<char> = "seqtkindprvacoly_0123456789abcdef\"\\ :,{}/.-T".chars().collect();
            let random = prop::collection::vec(prop::sample::select(chars), 1..10)
                .prop_map(|v| v.into_iter().collect::<String>());
            prop_oneof![spelled, random]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
            #[test]
            fn every_line_parses_verifies_and_masks_text_only(secret in secret(), n in 1usize..4) {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("journal.jsonl");
                let masker = Arc::new(Masker::new(vec![secret.clone()]));
                let mut j = Journal::open(&path, masker).unwrap();
                let key = RunKey { stage: "deploy".into(), target: Some("eu-1".into()), attempt: 1 };
                let mut written = Vec::new();
                for i in 0..n {
                    let text = format!("{i} before {secret} after {secret}");
                    written.extend(j.append("alice", vec![
                        Event::Note { message: text.clone() },
                        Event::RunStarted { run: key.clone(), run_kind: RunKind::Deploy, log: "logs/deploy.eu-1.1.log".into() },
                        Event::RunFinished {
                            run: key.clone(),
                            run_kind: RunKind::Deploy,
                            outcome: Outcome::Error { message: text.clone() },
                            duration_ms: 1234,
                        },
                        Event::Approved { gate: "prod".into(), note: secret.clone(), signed: None },
                        Event::StageSkipped { stage: "deploy".into(), reason: text },
                    ]).unwrap());
                }
                // Every line parses, and is what the appender returned (and a driver folds).
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    prop_assert!(serde_json::from_str::<Record>(line).is_ok(), "{line}");
                }
                let (recs, warnings) = read_journal(&path).unwrap();
                prop_assert!(warnings.is_empty(), "{:?}", warnings);
                prop_assert_eq!(&recs, &written);
                let head = std::fs::read_to_string(dir.path().join("head")).unwrap();
                prop_assert_eq!(verify(&path, Some(&head)).unwrap(), Verified::Intact { lines: 5 * n });
                for r in &recs {
                    prop_assert_eq!(&r.actor, "alice");
                    let mut ev = r.event.clone();
                    ev.visit_text_mut(&mut |t| assert!(!t.contains(secret.as_str()), "{t:?} holds {secret:?}"));
                    match &r.event {
                        Event::RunStarted { run, log, .. } => {
                            prop_assert_eq!(run, &key);
                            prop_assert_eq!(log.as_str(), "logs/deploy.eu-1.1.log");
                        }
                        Event::RunFinished { run, duration_ms, .. } => {
                            prop_assert_eq!(run, &key);
                            prop_assert_eq!(*duration_ms, 1234);
                        }
                        Event::Approved { gate, note, .. } => {
                            prop_assert_eq!(gate.as_str(), "prod");
                            prop_assert_eq!(note.as_str(), "***");
                        }
                        Event::StageSkipped { stage, .. } => prop_assert_eq!(stage.as_str(), "deploy"),
                        Event::Note { message } => prop_assert!(message.contains("***"), "{}", message),
                        other => prop_assert!(false, "unexpected {:?}", other),
                    }
                }
            }
        }
    }
}
