//! Journals on the store: appends (one transaction each, serialised per journal by
//! `pg_advisory_xact_lock`; the schema's guard checks the chain and the epoch), reads, driver
//! leases with their fencing epochs, and LISTEN/NOTIFY.
//!
//! Why a lease row with an epoch and not an advisory session lock alone: a session lock lives as
//! long as its connection on the server. When the network drops, the server may keep the dead
//! backend (and the lock) until TCP keepalives end it, while the client cannot tell; when the
//! backend is killed, the lock is gone at once, while the client still believes it holds it and
//! goes on acting. Either way two drivers can believe they own one release. With a lease, the
//! database decides: every line the driver appends carries its epoch and is refused once another
//! driver took the lease over (after it expired), whatever the old driver believes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::{PgStore, StoreError, one_line};
use crate::journal::line_hash;

/// The channel the schema notifies appends on.
pub const CHANNEL: &str = "flightdeck_events";

/// A driver's lease on a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub plan: String,
    pub release: String,
    /// The fencing token: every append of this driver carries it.
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
}

/// Who holds a lease that has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHeld {
    pub holder: String,
    pub host: String,
    pub pid: i32,
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
}

/// A notification: a line was appended to `journal` of `plan`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Notice {
    pub plan: String,
    pub journal: String,
    pub seq: u64,
}

/// The key of a journal's advisory lock.
fn lock_key(plan: &str, journal: &str) -> String {
    format!("flightdeck/{plan}/{journal}")
}

impl PgStore {
    /// The last line of a journal: its sequence number and hash (`None`: it has none).
    pub fn last(&mut self, plan: &str, journal: &str) -> Result<Option<(u64, String)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT seq, hash FROM fd_events WHERE plan = $1 AND journal = $2 ORDER BY seq DESC LIMIT 1",
            )
            .bind(plan)
            .bind(journal)
            .fetch_optional(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let row = r.map_err(|e| self.sql_error("reading a journal's last line", e))?;
        Ok(row.map(|r| (r.get::<i64, _>(0) as u64, r.get::<String, _>(1))))
    }

    /// Append `lines` (each a whole record, without its newline, numbered on from the journal's
    /// last line) in one transaction; with `epoch`, as the driver holding the release's lease.
    /// Creates the release's row on its first line. Refused as a whole when a line does not
    /// follow ([`StoreError::Chain`]) or the epoch is stale ([`StoreError::Fenced`]).
    pub fn append(
        &mut self,
        plan: &str,
        journal: &str,
        epoch: Option<i64>,
        lines: &[String],
    ) -> Result<(), StoreError> {
        let r = self.rt.block_on(async {
            let mut tx = sqlx::Connection::begin(&mut self.conn).await?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(lock_key(plan, journal))
                .execute(&mut *tx)
                .await?;
            if !journal.starts_with('.') {
                sqlx::query("INSERT INTO fd_releases (plan, id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(plan)
                    .bind(journal)
                    .execute(&mut *tx)
                    .await?;
            }
            let last: Option<i64> =
                sqlx::query_scalar("SELECT max(seq) FROM fd_events WHERE plan = $1 AND journal = $2")
                    .bind(plan)
                    .bind(journal)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut seq = last.unwrap_or(0);
            for line in lines {
                seq += 1;
                sqlx::query(
                    "INSERT INTO fd_events (plan, journal, seq, line, hash, epoch) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(plan)
                .bind(journal)
                .bind(seq)
                .bind(line)
                .bind(line_hash(line.as_bytes()))
                .bind(epoch)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        });
        r.map_err(|e| self.sql_error("appending to a journal", e))
    }

    /// The lines of a journal after sequence number `after`, in order (at most `limit`).
    pub fn read_after(
        &mut self,
        plan: &str,
        journal: &str,
        after: u64,
        limit: i64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "SELECT seq, line FROM fd_events WHERE plan = $1 AND journal = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            )
            .bind(plan)
            .bind(journal)
            .bind(after as i64)
            .bind(limit)
            .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("reading a journal", e))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get::<String, _>(1)))
            .collect())
    }

    /// The plans the store holds, and each plan's releases, oldest first.
    pub fn releases(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query("SELECT plan, id FROM fd_releases ORDER BY plan, created_at, id")
                .fetch_all(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        let rows = r.map_err(|e| self.sql_error("listing releases", e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Take the lease on a release for `ttl`: when nobody holds it, or its holder let it expire
    /// (then with the next epoch). `Err(held)`: someone holds it until `held.expires_at`.
    pub fn acquire_lease(
        &mut self,
        plan: &str,
        release: &str,
        holder: &str,
        host: &str,
        pid: u32,
        ttl: Duration,
    ) -> Result<Result<Lease, LeaseHeld>, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(async {
            let row = sqlx::query(
                "INSERT INTO fd_leases AS l (plan, release, epoch, holder, host, pid, expires_at)
                 VALUES ($1, $2, 1, $3, $4, $5, clock_timestamp() + $6 * interval '1 millisecond')
                 ON CONFLICT (plan, release) DO UPDATE
                    SET epoch = l.epoch + 1, holder = EXCLUDED.holder, host = EXCLUDED.host,
                        pid = EXCLUDED.pid, expires_at = EXCLUDED.expires_at
                    WHERE l.expires_at <= clock_timestamp()
                 RETURNING epoch, expires_at",
            )
            .bind(plan)
            .bind(release)
            .bind(holder)
            .bind(host)
            .bind(pid as i32)
            .bind(ttl.as_millis() as f64)
            .fetch_optional(&mut self.conn)
            .await?;
            if let Some(row) = row {
                return Ok(Ok(Lease {
                    plan: plan.to_string(),
                    release: release.to_string(),
                    epoch: row.get(0),
                    expires_at: row.get(1),
                }));
            }
            let row = sqlx::query(
                "SELECT holder, host, pid, epoch, expires_at FROM fd_leases WHERE plan = $1 AND release = $2",
            )
            .bind(plan)
            .bind(release)
            .fetch_one(&mut self.conn)
            .await?;
            Ok::<_, sqlx::Error>(Err(LeaseHeld {
                holder: row.get(0),
                host: row.get(1),
                pid: row.get(2),
                epoch: row.get(3),
                expires_at: row.get(4),
            }))
        });
        let r = self.unpin(pinned, r);
        r.map_err(|e| self.sql_error("taking the driver's lease", e))
    }

    /// Extend the lease for `ttl` from now, while it is still this epoch's (even if it expired
    /// and nobody took it over). `Ok(false)`: another driver holds it now.
    pub fn renew_lease(&mut self, lease: &mut Lease, ttl: Duration) -> Result<bool, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "UPDATE fd_leases SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
                 WHERE plan = $1 AND release = $2 AND epoch = $3 RETURNING expires_at",
            )
            .bind(&lease.plan)
            .bind(&lease.release)
            .bind(lease.epoch)
            .bind(ttl.as_millis() as f64)
            .fetch_optional(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        match r.map_err(|e| self.sql_error("renewing the driver's lease", e))? {
            Some(row) => {
                lease.expires_at = row.get(0);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Expire the lease of `epoch` (a dead driver's), if it is still that epoch's.
    pub fn expire_lease(&mut self, plan: &str, release: &str, epoch: i64) -> Result<(), StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "UPDATE fd_leases SET expires_at = '-infinity' WHERE plan = $1 AND release = $2 AND epoch = $3",
            )
            .bind(plan)
            .bind(release)
            .bind(epoch)
            .execute(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        r.map(|_| ())
            .map_err(|e| self.sql_error("expiring a dead driver's lease", e))
    }

    /// Give the lease up: it expires now (the row stays, so its epoch is never handed out again).
    pub fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query(
                "UPDATE fd_leases SET expires_at = '-infinity' WHERE plan = $1 AND release = $2 AND epoch = $3",
            )
            .bind(&lease.plan)
            .bind(&lease.release)
            .bind(lease.epoch)
            .execute(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        r.map(|_| ())
            .map_err(|e| self.sql_error("giving the driver's lease up", e))
    }
}

/// A connection that LISTENs: notifications of appends (or any channel).
pub struct Listener {
    rt: tokio::runtime::Runtime,
    /// Always `Some` but in `drop` (which ends it inside its runtime, as sqlx needs).
    listener: Option<PgListener>,
    url: String,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _in = self.rt.enter();
        drop(self.listener.take());
    }
}

impl Listener {
    /// LISTEN on [`CHANNEL`] on a connection of its own.
    pub fn open(store: &PgStore) -> Result<Listener, StoreError> {
        Listener::connect(&store.opts, &store.url, &[CHANNEL])
    }

    pub(crate) fn connect(
        opts: &PgConnectOptions,
        url: &str,
        channels: &[&str],
    ) -> Result<Listener, StoreError> {
        let failed = |e: sqlx::Error| StoreError::Connect {
            url: url.to_string(),
            cause: one_line(&e),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Connect {
                url: url.to_string(),
                cause: e.to_string(),
            })?;
        let listener = rt.block_on(async {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(super::CONNECT_TIMEOUT)
                .connect_with(opts.clone())
                .await?;
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen_all(channels.iter().copied()).await?;
            Ok::<_, sqlx::Error>(l)
        });
        Ok(Listener {
            rt,
            listener: Some(listener.map_err(failed)?),
            url: url.to_string(),
        })
    }

    /// The next notification's payload within `wait`; `Ok(None)`: none came (or the connection
    /// was lost and is being made again: notifications are lost then, so readers read what
    /// follows their last line anyway).
    pub fn recv_raw(&mut self, wait: Duration) -> Result<Option<String>, StoreError> {
        let listener = self.listener.as_mut().expect("a listener until dropped");
        let r = self
            .rt
            .block_on(async { tokio::time::timeout(wait, listener.try_recv()).await });
        match r {
            Err(_) => Ok(None),
            Ok(Ok(n)) => Ok(n.map(|n| n.payload().to_string())),
            Ok(Err(e)) => Err(StoreError::Sql {
                url: self.url.clone(),
                what: "listening for appends".into(),
                cause: one_line(&e),
            }),
        }
    }

    /// Whether a notification this connection sends itself comes back within `wait` (it must
    /// LISTEN on `channel`): behind a pooler in transaction mode it never does, LISTEN having run
    /// on a server connection that went back to the pool. Other notifications that arrive
    /// meanwhile are dropped (the caller reads everything after this anyway).
    pub fn probe(&mut self, channel: &str, wait: Duration) -> Result<bool, StoreError> {
        let nonce = format!("probe-{}-{:?}", std::process::id(), std::time::Instant::now());
        let listener = self.listener.as_mut().expect("a listener until dropped");
        let sent = self.rt.block_on(
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(&nonce)
                .execute(&mut *listener),
        );
        sent.map_err(|e| {
            let (url, what, cause) = (self.url.clone(), "listening for appends".into(), one_line(&e));
            // The server refused it (not the connection lost): no retrying will help.
            if e.as_database_error().is_some() {
                StoreError::Sql { url, what, cause }
            } else {
                StoreError::Lost { url, what, cause }
            }
        })?;
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self.recv_raw(left)?.as_deref() == Some(nonce.as_str()) {
                return Ok(true);
            }
        }
    }

    /// The next append notified within `wait`.
    pub fn recv(&mut self, wait: Duration) -> Result<Option<Notice>, StoreError> {
        Ok(self.recv_raw(wait)?.and_then(|p| serde_json::from_str(&p).ok()))
    }
}
