//! The store as the replica behind a local data directory ([`crate::journal::replica`]): appends
//! under the journal's advisory lock held from `begin` to `commit` (a session lock, so the driver
//! can fold what it read before it decides what to append), the driver's lease with its fencing
//! epoch renewed by a thread of its own, and release files copied up and down when they change.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;

use super::{PgStore, StoreError, journal::Lease};
use crate::journal::JournalError;
use crate::journal::replica::{Begun, JournalKey, LeaseState, Replica, ReplicaTxn};

/// How long a driver's lease lasts unless renewed (renewed every third of it): how soon `resume`
/// elsewhere may take a dead driver's release over. `FLIGHTDECK_LEASE_TTL` (seconds) changes it.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// The lease time in force: `FLIGHTDECK_LEASE_TTL` seconds (at least 1), else [`LEASE_TTL`].
pub fn lease_ttl() -> Duration {
    std::env::var("FLIGHTDECK_LEASE_TTL")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 1.0)
        .map_or(LEASE_TTL, Duration::from_secs_f64)
}

/// Files of a release folder that are not copied: the journal (it goes line by line), its head,
/// the driver's lock and log (this machine's), torn lines set aside.
const LOCAL_ONLY: [&str; 5] = [
    "journal.jsonl",
    "head",
    "driver.lock",
    "driver.log",
    "journal.torn",
];

struct Held {
    lease: Lease,
    /// Set by the renewing thread when the lease was lost; set by `drop_lease` to stop it.
    lost: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// The output streamer: told to stop, woken, then waited for (its last output goes up
    /// before the driver ends).
    streamer: Option<Streamer>,
}

struct Streamer {
    wake: std::sync::mpsc::SyncSender<()>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// At most this much output per row.
pub const OUTPUT_ROW: usize = 64 * 1024;
/// Output is sent up at most this long after it was written (and batched meanwhile).
pub const OUTPUT_BATCH: Duration = Duration::from_millis(100);

/// Stream the run logs in `logs` (of the release `key`) up to the store while they grow: woken
/// by inotify, it waits [`OUTPUT_BATCH`] to batch, then sends what is new in rows of at most
/// [`OUTPUT_ROW`]; idle, it sleeps. Stopped, it sends what is left, then ends.
fn stream_output(url: &str, key: JournalKey, logs: std::path::PathBuf) -> Result<Streamer, JournalError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (wake, rx) = std::sync::mpsc::sync_channel::<()>(1);
    let mut store = PgStore::connect(url).map_err(journal_error)?;
    let mut sent = store
        .output_held(&key.plan, &key.journal)
        .map_err(journal_error)?;
    let _ = std::fs::create_dir_all(&logs);
    let changed = wake.clone();
    let watcher = crate::journal::watch_changes(&logs, move || {
        let _ = changed.try_send(());
    });
    let halt = stop.clone();
    let thread = std::thread::Builder::new()
        .name("flightdeck-output".into())
        .spawn(move || {
            let _watcher = watcher;
            loop {
                let stopping = rx.recv().is_err() || halt.load(Ordering::SeqCst);
                if !stopping {
                    std::thread::sleep(OUTPUT_BATCH);
                    while rx.try_recv().is_ok() {}
                }
                if let Err(e) = send_output(&mut store, &key, &logs, &mut sent) {
                    eprintln!("flightdeck: streaming output to the shared store: {e}");
                }
                if stopping || halt.load(Ordering::SeqCst) {
                    break;
                }
            }
        })
        .map_err(|e| JournalError::Store(format!("cannot start streaming output: {e}")))?;
    Ok(Streamer { wake, stop, thread })
}

/// Send what the logs hold beyond what was sent (`sent`: path → (bytes, chunks)).
fn send_output(
    store: &mut PgStore,
    key: &JournalKey,
    logs: &Path,
    sent: &mut HashMap<String, (u64, i64)>,
) -> Result<(), StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(entries) = std::fs::read_dir(logs) else {
        return Ok(());
    };
    let mut rows: Vec<(String, i64, u64, Vec<u8>)> = Vec::new();
    let mut flush = |rows: &mut Vec<(String, i64, u64, Vec<u8>)>, sent: &mut HashMap<String, (u64, i64)>| {
        store.put_output(&key.plan, &key.journal, rows)?;
        for (p, n, o, d) in rows.drain(..) {
            sent.insert(p, (o + d.len() as u64, n + 1));
        }
        Ok::<_, StoreError>(())
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let rel = format!("logs/{name}");
        let (off, n) = sent.get(&rel).copied().unwrap_or((0, 0));
        let Ok(mut f) = std::fs::File::open(entry.path()) else {
            continue;
        };
        let size = f.metadata().map_or(0, |m| m.len());
        if size <= off || f.seek(SeekFrom::Start(off)).is_err() {
            continue;
        }
        let (mut at, mut next) = (off, n);
        let mut buf = vec![0u8; OUTPUT_ROW];
        while at < size {
            let want = ((size - at) as usize).min(OUTPUT_ROW);
            if f.read_exact(&mut buf[..want]).is_err() {
                break;
            }
            rows.push((rel.clone(), next, at, buf[..want].to_vec()));
            at += want as u64;
            next += 1;
            // Sent 64 rows at a time: memory stays bounded during a flood.
            if rows.len() >= 64 {
                flush(&mut rows, sent)?;
            }
        }
    }
    if !rows.is_empty() {
        flush(&mut rows, sent)?;
    }
    Ok(())
}

/// The store behind this process's data directory.
pub struct PgReplica {
    url: String,
    conn: Arc<Mutex<Slot>>,
    leases: Mutex<HashMap<JournalKey, Held>>,
    /// Release files as last copied up or down: path → (length, modification time).
    files: Mutex<HashMap<std::path::PathBuf, (u64, Option<std::time::SystemTime>)>>,
    holder: String,
    /// The connection's options (the follower's LISTEN connection uses them).
    opts: sqlx::postgres::PgConnectOptions,
}

/// The replica's connection: made again on the next call after it was lost.
struct Slot {
    url: String,
    store: Option<PgStore>,
}

/// Run `f` where a [`PgStore`] may block: a [`PgStore`] blocks on a small runtime of its own,
/// which cannot be done (nor dropped) on a thread that drives another runtime (the driver's):
/// there, `f` runs on a scoped thread of its own while this one waits, as a blocking call would.
fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
}

/// Run `f` on the connection (connecting first if it was lost; dropping it when it is lost).
fn with_store<T: Send>(
    conn: &Mutex<Slot>,
    f: impl FnOnce(&mut PgStore) -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    blocking(|| {
        let mut slot = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.store.is_none() {
            slot.store = Some(noted(PgStore::connect(&slot.url))?);
        }
        let r = noted(f(slot.store.as_mut().expect("connected above")));
        if r.as_ref().is_err_and(StoreError::unreachable) {
            slot.store = None;
        }
        r
    })
}

/// Tell the process's store health (`status`, the cockpit) whether the store answered.
fn noted<T>(r: Result<T, StoreError>) -> Result<T, StoreError> {
    crate::journal::replica::report_reachable(match &r {
        Err(e) if e.unreachable() => Err(e.cause_said()),
        _ => Ok(()),
    });
    r
}

/// Take the connection out of the slot for a transaction (connecting one if it is out or in
/// use by another transaction): a transaction's statements must all go on its connection, with
/// no other call's in between, and nothing may wait on the slot while it is open.
fn take_store(conn: &Mutex<Slot>) -> Result<PgStore, StoreError> {
    blocking(|| {
        let (taken, url) = {
            let mut slot = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (slot.store.take(), slot.url.clone())
        };
        match taken {
            Some(store) => Ok(store),
            None => noted(PgStore::connect(&url)),
        }
    })
}

/// Give a transaction's connection back to the slot (or drop it, if the slot has another).
fn put_back(conn: &Mutex<Slot>, store: PgStore) {
    blocking(move || {
        let mut slot = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.store.is_none() {
            slot.store = Some(store);
        } else {
            drop(slot);
            drop(store);
        }
    });
}

fn journal_error(e: StoreError) -> JournalError {
    if e.unreachable() {
        JournalError::StoreUnreachable(e.to_string())
    } else {
        JournalError::Store(e.to_string())
    }
}

fn lock_key(key: &JournalKey) -> String {
    format!("flightdeck/{}/{}", key.plan, key.journal)
}

impl PgReplica {
    /// Connect (bringing the schema up to date) as `holder` (who drives, in leases).
    pub fn open(url: &str, holder: &str) -> Result<PgReplica, StoreError> {
        let store = PgStore::open(url)?;
        Ok(PgReplica::with_connection(
            url,
            holder,
            store.opts.clone(),
            Some(store),
        ))
    }

    /// [`PgReplica::open`], or, when the store is out of reach, one that connects on its next
    /// use (the reason is returned with it): a mirror stays readable while its store is away.
    pub fn open_or_offline(url: &str, holder: &str) -> Result<(PgReplica, Option<StoreError>), StoreError> {
        match PgStore::open(url) {
            Ok(store) => Ok((
                PgReplica::with_connection(url, holder, store.opts.clone(), Some(store)),
                None,
            )),
            Err(e) if e.unreachable() => {
                let opts: sqlx::postgres::PgConnectOptions =
                    super::options(url).map_err(|_| StoreError::Connect {
                        url: super::redact(url),
                        cause: "not a PostgreSQL URL".into(),
                    })?;
                Ok((PgReplica::with_connection(url, holder, opts, None), Some(e)))
            }
            Err(e) => Err(e),
        }
    }

    fn with_connection(
        url: &str,
        holder: &str,
        opts: sqlx::postgres::PgConnectOptions,
        store: Option<PgStore>,
    ) -> PgReplica {
        PgReplica {
            opts,
            url: url.to_string(),
            conn: Arc::new(Mutex::new(Slot {
                url: url.to_string(),
                store,
            })),
            leases: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            holder: holder.to_string(),
        }
    }

    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut PgStore) -> Result<T, StoreError> + Send,
    ) -> Result<T, JournalError> {
        with_store(&self.conn, f).map_err(journal_error)
    }

    fn epoch(&self, key: &JournalKey) -> Option<i64> {
        let leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        leases.get(key).map(|h| h.lease.epoch)
    }
}

impl PgStore {
    /// Open a transaction holding journal `key`'s advisory lock (waiting at most 30 s for it).
    /// A transaction lock, not a session one: it ends with the transaction whatever happens to
    /// the client, and it works behind a pooler in transaction mode (PgBouncer), where a session
    /// lock would stay with a server connection that others go on to use.
    fn begin_locked(&mut self, key: &str) -> Result<(), StoreError> {
        let r = self.rt.block_on(async {
            sqlx::raw_sql("BEGIN; SET LOCAL lock_timeout = '30s'")
                .execute(&mut self.conn)
                .await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut self.conn)
                .await
        });
        self.in_txn = true;
        r.map(drop).map_err(|e| self.sql_error("locking a journal", e))
    }

    /// End the transaction `begin_locked` opened: commit it, or roll it back.
    fn end_txn(&mut self, commit: bool) -> Result<(), StoreError> {
        let sql = if commit { "COMMIT" } else { "ROLLBACK" };
        let r = self.rt.block_on(sqlx::raw_sql(sql).execute(&mut self.conn));
        self.in_txn = false;
        r.map(drop).map_err(|e| self.sql_error("committing an append", e))
    }

    /// Under the journal's lock: its lines after `after`, and its last sequence number, in one
    /// round trip.
    fn lines_and_last(
        &mut self,
        plan: &str,
        journal: &str,
        after: u64,
    ) -> Result<(Vec<String>, u64), StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "WITH m AS (SELECT max(seq) AS last FROM fd_events WHERE plan = $1 AND journal = $2)
                 SELECT m.last, e.line FROM m LEFT JOIN fd_events e
                   ON e.plan = $1 AND e.journal = $2 AND e.seq > $3
                 ORDER BY e.seq",
            )
            .bind(plan)
            .bind(journal)
            .bind(after as i64)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading a journal", e))?;
        let last = rows
            .first()
            .and_then(|r| r.get::<Option<i64>, _>(0))
            .map_or(0, |l| l as u64);
        let lines = rows
            .into_iter()
            .filter_map(|r| r.get::<Option<String>, _>(1))
            .collect();
        Ok((lines, last))
    }

    /// Under the journal's lock, knowing its last line is `after`: append `lines` in one
    /// statement (atomic by itself; the schema's guard checks each line in order).
    fn append_after(
        &mut self,
        plan: &str,
        journal: &str,
        epoch: Option<i64>,
        after: u64,
        lines: &[String],
    ) -> Result<(), StoreError> {
        if after == 0 && !journal.starts_with('.') {
            let pinned = self.pin();
            let r = self.rt.block_on(
                sqlx::query("INSERT INTO fd_releases (plan, id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(plan)
                    .bind(journal)
                    .execute(&mut self.conn),
            );
            let r = self.unpin(pinned, r);
            r.map_err(|e| self.sql_error("appending to a journal", e))?;
        }
        let hashes: Vec<String> = lines
            .iter()
            .map(|l| crate::journal::line_hash(l.as_bytes()))
            .collect();
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "INSERT INTO fd_events (plan, journal, seq, line, hash, epoch)
                 SELECT $1, $2, $3 + t.o, t.l, t.h, $4
                   FROM unnest($5::text[], $6::text[]) WITH ORDINALITY AS t(l, h, o)
                  ORDER BY t.o",
            )
            .bind(plan)
            .bind(journal)
            .bind(after as i64)
            .bind(epoch)
            .bind(lines)
            .bind(&hashes)
            .execute(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        r.map(drop)
            .map_err(|e| self.sql_error("appending to a journal", e))
    }

    /// Every journal and its last sequence number, releases in the order they were created.
    pub fn journals(&mut self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT e.plan, e.journal, max(e.seq), min(coalesce(r.created_at, '-infinity'))
                   FROM fd_events e LEFT JOIN fd_releases r ON r.plan = e.plan AND r.id = e.journal
                  GROUP BY e.plan, e.journal ORDER BY 4, 1, 2",
            )
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("listing journals", e))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get::<i64, _>(2) as u64))
            .collect())
    }

    /// The release's files and their sizes.
    pub fn file_sizes(&mut self, plan: &str, release: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT path, sum(length(data))::bigint FROM fd_chunks WHERE plan = $1 AND release = $2 AND off IS NULL GROUP BY path",
            )
            .bind(plan)
            .bind(release)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("listing release files", e))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get::<i64, _>(1) as u64))
            .collect())
    }

    /// Streamed output: the run logs of a release so far, path → (bytes held, chunks held).
    pub fn output_held(
        &mut self,
        plan: &str,
        release: &str,
    ) -> Result<HashMap<String, (u64, i64)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT path, coalesce(sum(length(data)), 0)::bigint, count(*) FROM fd_chunks
                  WHERE plan = $1 AND release = $2 AND off IS NOT NULL GROUP BY path",
            )
            .bind(plan)
            .bind(release)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading streamed output", e))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), (r.get::<i64, _>(1) as u64, r.get::<i64, _>(2))))
            .collect())
    }

    /// Append streamed output: `(path, n, off, bytes)` rows in one transaction.
    pub fn put_output(
        &mut self,
        plan: &str,
        release: &str,
        rows: &[(String, i64, u64, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let r = self.rt.block_on(async {
            let mut tx = sqlx::Connection::begin(&mut self.conn).await?;
            for (path, n, off, data) in rows {
                sqlx::query(
                    "INSERT INTO fd_chunks (plan, release, path, n, off, data) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(plan)
                .bind(release)
                .bind(path)
                .bind(n)
                .bind(*off as i64)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        });
        r.map_err(|e| self.sql_error("streaming output", e))
    }

    /// Streamed output of `path` from byte `from` on (whole chunks, in order).
    pub fn output_from(
        &mut self,
        plan: &str,
        release: &str,
        path: &str,
        from: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT off, data FROM fd_chunks WHERE plan = $1 AND release = $2 AND path = $3
                  AND off IS NOT NULL AND off + length(data) > $4 ORDER BY n",
            )
            .bind(plan)
            .bind(release)
            .bind(path)
            .bind(from as i64)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading streamed output", e))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get::<Vec<u8>, _>(1)))
            .collect())
    }

    /// One release file's bytes.
    pub fn file(&mut self, plan: &str, release: &str, path: &str) -> Result<Vec<u8>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT data FROM fd_chunks WHERE plan = $1 AND release = $2 AND path = $3 ORDER BY n",
            )
            .bind(plan)
            .bind(release)
            .bind(path)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading a release file", e))?;
        Ok(rows.into_iter().flat_map(|r| r.get::<Vec<u8>, _>(0)).collect())
    }

    /// Who holds the release's lease while it has not expired: (host, pid).
    pub fn lease_holder(&mut self, plan: &str, release: &str) -> Result<Option<(String, u32)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT host, pid FROM fd_leases WHERE plan = $1 AND release = $2 AND expires_at > clock_timestamp()",
            )
            .bind(plan)
            .bind(release)
            .fetch_optional(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let row = r.map_err(|e| self.sql_error("reading the driver's lease", e))?;
        Ok(row.map(|r| (r.get(0), r.get::<i32, _>(1).max(0) as u32)))
    }
}

struct PgTxn {
    conn: Arc<Mutex<Slot>>,
    /// The transaction's connection, out of the slot until it ends.
    store: Option<PgStore>,
    key: JournalKey,
    epoch: Option<i64>,
    /// The journal's last sequence number on the store, read under the lock.
    last: u64,
}

impl PgTxn {
    /// End the transaction (rolled back on any error) and give its connection back, unless it
    /// was lost.
    fn finish(&mut self, outcome: Result<(), StoreError>) -> Result<(), StoreError> {
        let Some(mut store) = self.store.take() else {
            return outcome;
        };
        let (store, outcome) = blocking(move || {
            // A connection whose transaction may still be open is never given back.
            let mut clean = true;
            let outcome = noted(match outcome {
                Ok(()) => store.end_txn(true),
                Err(e) => {
                    clean = !e.unreachable() && store.end_txn(false).is_ok();
                    Err(e)
                }
            });
            if !clean || outcome.as_ref().is_err_and(StoreError::unreachable) {
                drop(store);
                return (None, outcome);
            }
            (Some(store), outcome)
        });
        if let Some(store) = store {
            put_back(&self.conn, store);
        }
        outcome
    }
}

impl ReplicaTxn for PgTxn {
    fn commit(mut self: Box<Self>, lines: &[String]) -> Result<(), JournalError> {
        let (key, epoch, last) = (self.key.clone(), self.epoch, self.last);
        let store = self.store.as_mut().expect("open until it ends");
        let appended = blocking(|| store.append_after(&key.plan, &key.journal, epoch, last, lines));
        self.finish(appended).map_err(journal_error)
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        if self.store.is_some() {
            let _ = self.finish(Err(StoreError::Sql {
                url: String::new(),
                what: "an append".into(),
                cause: "given up".into(),
            }));
        }
    }
}

impl Replica for PgReplica {
    fn begin(&self, key: &JournalKey, after: u64) -> Result<Begun, JournalError> {
        let epoch = self.epoch(key);
        let mut txn = PgTxn {
            conn: self.conn.clone(),
            store: Some(take_store(&self.conn).map_err(journal_error)?),
            key: key.clone(),
            epoch,
            last: 0,
        };
        let store = txn.store.as_mut().expect("just taken");
        let read = blocking(|| {
            store.begin_locked(&lock_key(key))?;
            store.lines_and_last(&key.plan, &key.journal, after)
        });
        let (lines, last) = match read {
            Ok(read) => read,
            Err(e) => return Err(journal_error(txn.finish(Err(e)).unwrap_err())),
        };
        txn.last = last;
        Ok(Begun {
            txn: Box::new(txn),
            lines,
            last,
        })
    }

    fn may_buffer(&self, key: &JournalKey) -> bool {
        self.lease_held(key) == Some(true)
    }

    fn read_after(&self, key: &JournalKey, after: u64) -> Result<Vec<String>, JournalError> {
        self.with(|s| s.read_after(&key.plan, &key.journal, after, i64::MAX))
            .map(|rows| rows.into_iter().map(|(_, l)| l).collect())
    }

    fn journals(&self) -> Result<Vec<(JournalKey, u64)>, JournalError> {
        self.with(|s| s.journals()).map(|rows| {
            rows.into_iter()
                .map(|(plan, journal, last)| (JournalKey { plan, journal }, last))
                .collect()
        })
    }

    fn put_files(&self, key: &JournalKey, dir: &Path) -> Result<(), JournalError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || LOCAL_ONLY.contains(&name.as_str()) || name.starts_with('.') {
                continue;
            }
            let seen = (meta.len(), meta.modified().ok());
            let path = entry.path();
            {
                let files = self
                    .files
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if files.get(&path) == Some(&seen) {
                    continue;
                }
            }
            let data = std::fs::read(&path).map_err(crate::journal::io_error(&path))?;
            self.with(|s| s.put_file(&key.plan, &key.journal, &name, &data))?;
            let mut files = self
                .files
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            files.insert(path, seen);
        }
        Ok(())
    }

    fn get_files(&self, key: &JournalKey, dir: &Path) -> Result<(), JournalError> {
        // Run logs as far as they were streamed: what the local copy lacks, appended.
        let held = self.with(|s| s.output_held(&key.plan, &key.journal))?;
        for (rel, (size, _)) in held {
            let Some(name) = rel
                .strip_prefix("logs/")
                .filter(|n| !n.contains('/') && !n.starts_with('.'))
            else {
                continue;
            };
            let path = dir.join("logs").join(name);
            let have = std::fs::metadata(&path).map_or(0, |m| m.len());
            if have >= size {
                continue;
            }
            let chunks = self.with(|s| s.output_from(&key.plan, &key.journal, &rel, have))?;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(crate::journal::io_error(&path))?;
            let mut pos = have;
            for (off, data) in chunks {
                // Chunks are contiguous: a gap would mean a chunk not committed yet.
                if off > pos {
                    break;
                }
                let skip = ((pos - off) as usize).min(data.len());
                use std::io::Write;
                f.write_all(&data[skip..])
                    .map_err(crate::journal::io_error(&path))?;
                pos = off + data.len() as u64;
            }
        }
        let sizes = self.with(|s| s.file_sizes(&key.plan, &key.journal))?;
        for (name, size) in sizes {
            // Only plain names, never over what stays local.
            if name.contains('/') || name.starts_with('.') || LOCAL_ONLY.contains(&name.as_str()) {
                continue;
            }
            let path = dir.join(&name);
            if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
                continue;
            }
            let data = self.with(|s| s.file(&key.plan, &key.journal, &name))?;
            // Whole or not at all: written aside, then renamed into place.
            let tmp = dir.join(format!(".{name}.pulled"));
            std::fs::write(&tmp, &data).map_err(crate::journal::io_error(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(crate::journal::io_error(&path))?;
            if let Ok(m) = std::fs::metadata(&path) {
                let mut files = self
                    .files
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                files.insert(path, (m.len(), m.modified().ok()));
            }
        }
        Ok(())
    }

    fn driver(&self, key: &JournalKey) -> Option<(String, u32)> {
        self.with(|s| s.lease_holder(&key.plan, &key.journal))
            .ok()
            .flatten()
    }

    fn take_lease(
        &self,
        key: &JournalKey,
        on_change: Box<dyn Fn(LeaseState) + Send + Sync>,
    ) -> Result<Result<(), String>, JournalError> {
        let ttl = lease_ttl();
        let host = crate::journal::replica::hostname();
        let pid = std::process::id();
        let mut got =
            self.with(|s| s.acquire_lease(&key.plan, &key.journal, &self.holder, &host, pid, ttl))?;
        // Held by a driver of this machine that is gone: its lease is expired now, and taken.
        if let Err(held) = &got
            && crate::journal::replica::dead_here(&held.host, held.pid as u32)
        {
            let epoch = held.epoch;
            got = self.with(|s| {
                s.expire_lease(&key.plan, &key.journal, epoch)?;
                s.acquire_lease(&key.plan, &key.journal, &self.holder, &host, pid, ttl)
            })?;
        }
        let lease = match got {
            Ok(lease) => lease,
            Err(held) => {
                return Ok(Err(format!(
                    "driven by {} (pid {} on {}) until its lease expires at {}",
                    held.holder,
                    held.pid,
                    held.host,
                    held.expires_at.format("%H:%M:%S UTC")
                )));
            }
        };
        let lost = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        // Renewed on a connection of its own, every third of the lease: a renewal that finds the
        // lease taken over marks it lost; one that cannot reach the store before it expires
        // lapses it until a renewal works again.
        let (url, mut renewing, flag, halt) = (self.url.clone(), lease.clone(), lost.clone(), stop.clone());
        std::thread::Builder::new()
            .name("flightdeck-lease".into())
            .spawn(move || {
                let mut store = PgStore::connect(&url).ok();
                let mut lapsed = false;
                while !halt.load(Ordering::SeqCst) {
                    std::thread::park_timeout(ttl / 3);
                    if halt.load(Ordering::SeqCst) {
                        break;
                    }
                    if store.is_none() {
                        store = PgStore::connect(&url).ok();
                    }
                    match store.as_mut().map(|s| s.renew_lease(&mut renewing, ttl)) {
                        Some(Ok(true)) => {
                            if std::mem::take(&mut lapsed) {
                                on_change(LeaseState::Held);
                            }
                        }
                        Some(Ok(false)) => {
                            flag.store(true, Ordering::SeqCst);
                            on_change(LeaseState::Lost);
                            break;
                        }
                        // Out of reach: tried again; past the expiry another driver may take
                        // over, so the driver starts nothing new until the lease is renewed.
                        Some(Err(_)) | None => {
                            store = None;
                            if !lapsed && chrono::Utc::now() > renewing.expires_at {
                                lapsed = true;
                                on_change(LeaseState::Lapsed);
                            }
                        }
                    }
                }
            })
            .map_err(|e| JournalError::Store(format!("cannot start the lease's renewal: {e}")))?;
        // The driver's run logs follow it up, so that a cockpit elsewhere follows them live.
        let logs = crate::journal::replica::root()
            .map(|root| crate::journal::replica::path_of(root, key))
            .and_then(|p| p.parent().map(|d| d.join("logs")));
        let streamer = match logs {
            Some(logs) => Some(stream_output(&self.url, key.clone(), logs)?),
            None => None,
        };
        let mut leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        leases.insert(
            key.clone(),
            Held {
                lease,
                lost,
                stop,
                streamer,
            },
        );
        Ok(Ok(()))
    }

    fn drop_lease(&self, key: &JournalKey) {
        let held = {
            let mut leases = self
                .leases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            leases.remove(key)
        };
        if let Some(h) = held {
            h.stop.store(true, Ordering::SeqCst);
            if let Some(st) = h.streamer {
                st.stop.store(true, Ordering::SeqCst);
                let _ = st.wake.try_send(());
                let _ = st.thread.join();
            }
            let _ = self.with(|s| s.release_lease(&h.lease));
        }
    }

    fn lease_held(&self, key: &JournalKey) -> Option<bool> {
        let leases = self
            .leases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        leases.get(key).map(|h| !h.lost.load(Ordering::SeqCst))
    }
}

impl PgReplica {
    /// Keep the local mirror following the store, on a thread of its own: LISTEN first, then
    /// bring down everything after what the mirror has, then each journal notified as it is
    /// notified; with no notification for a while (or LISTEN impossible, behind a pooler in
    /// transaction mode), everything again, as a safety net. Notifications are lost across
    /// reconnects, so nothing depends on them alone. Local observers (the driver, the cockpit,
    /// a command waiting for an answer) see the mirror's files change, as ever.
    pub fn follow(&self) {
        let url = self.url.clone();
        let opts = self.opts.clone();
        let spawned = std::thread::Builder::new()
            .name("flightdeck-follow".into())
            .spawn(move || {
                use crate::journal::replica::{pull, pull_all};
                use crate::journal::replica::{report_notify, report_reachable};
                let probe = format!("flightdeck_probe_{}", std::process::id());
                let poll = |why: String| -> ! {
                    report_notify(Err(format!("{why}; it reads the store every {}s", POLLED.as_secs())));
                    loop {
                        let _ = pull_all();
                        std::thread::sleep(POLLED);
                    }
                };
                if super::pooled(&url) {
                    poll("the URL says a pooler in transaction mode (statement-cache-capacity=0), where LISTEN does not work".into());
                }
                loop {
                    let channels = [super::journal::CHANNEL, OUTPUT_CHANNEL, probe.as_str()];
                    let listener = super::Listener::connect(&opts, &url, &channels);
                    let _ = pull_all();
                    let mut listener = match listener {
                        Ok(l) => l,
                        Err(e) => {
                            report_reachable(Err(e.cause_said()));
                            std::thread::sleep(POLL);
                            continue;
                        }
                    };
                    // Is anything notified here? Behind a pooler in transaction mode nothing
                    // is: then this process reads everything every POLLED, and says so.
                    match listener.probe(&probe, PROBE_WAIT) {
                        Ok(true) => report_notify(Ok(())),
                        Ok(false) => {
                            drop(listener);
                            poll(format!(
                                "a notification it sent itself did not come back within {}s: behind a pooler in transaction mode LISTEN does not work",
                                PROBE_WAIT.as_secs()
                            ));
                        }
                        Err(e) if e.unreachable() => continue,
                        // The probe itself refused (a pooler that mixes up statements): no
                        // notifications here either.
                        Err(e) => {
                            drop(listener);
                            poll(format!("notifications cannot be tested here ({})", e.cause_said()));
                        }
                    }
                    let _ = pull_all();
                    loop {
                        let first = match listener.recv_raw(POLL) {
                            Ok(Some(p)) => p,
                            Ok(None) => {
                                let _ = pull_all();
                                continue;
                            }
                            Err(_) => break,
                        };
                        // What else was told meanwhile: each journal pulled once.
                        let mut told = std::collections::BTreeSet::new();
                        let mut payload = Some(first);
                        while let Some(p) = payload.take() {
                            if let Ok(t) = serde_json::from_str::<Told>(&p)
                                && !already_here(&t)
                            {
                                told.insert(t.key());
                            }
                            payload = listener.recv_raw(Duration::ZERO).ok().flatten();
                        }
                        for key in told {
                            let _ = pull(&key);
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("flightdeck: cannot follow the shared store: {e}");
        }
    }
}

/// The channel new output is notified on (`fd_output_notify`).
pub const OUTPUT_CHANNEL: &str = "flightdeck_output";

/// What a notification tells: a journal's new line, or a release's new output.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum Told {
    Line { plan: String, journal: String, seq: u64 },
    Output { plan: String, release: String },
}

impl Told {
    fn key(self) -> JournalKey {
        match self {
            Told::Line { plan, journal, .. } => JournalKey { plan, journal },
            Told::Output { plan, release } => JournalKey {
                plan,
                journal: release,
            },
        }
    }
}

/// Whether the mirror has what a notification tells of already: a line it holds (its own
/// appends), or output this process streams itself (it drives that release).
fn already_here(t: &Told) -> bool {
    use crate::journal::replica::{installed, path_of, root};
    let (Some(replica), Some(root)) = (installed(), root()) else {
        return false;
    };
    match t {
        Told::Line { plan, journal, seq } => {
            let key = JournalKey {
                plan: plan.clone(),
                journal: journal.clone(),
            };
            let head = path_of(root, &key).with_file_name("head");
            std::fs::read_to_string(head)
                .ok()
                .and_then(|h| h.split_whitespace().next()?.parse::<u64>().ok())
                .is_some_and(|have| have >= *seq)
        }
        Told::Output { plan, release } => {
            let key = JournalKey {
                plan: plan.clone(),
                journal: release.clone(),
            };
            replica.lease_held(&key) == Some(true)
        }
    }
}

/// How long the follower waits for a notification before it reads everything again anyway.
const POLL: Duration = Duration::from_secs(5);
/// How long the follower waits for the notification it sent itself, once connected.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// How often a follower that cannot be notified (behind a pooler) reads everything.
const POLLED: Duration = Duration::from_secs(1);
