//! The shared store on PostgreSQL: the same journals (the same JSON lines, the same hash chain),
//! run logs and release files as a local data directory, in a database that operators on
//! several machines reach.
//!
//! - [`schema`]: the versioned schema, migrated on first use; a newer one is refused, never
//!   altered. The database itself guards every journal: a line must follow the last one (dense
//!   sequence, `prev` = SHA-256 of the line before, its own hash), and a line appended with a
//!   driver's epoch must carry the epoch of the release's lease (a fencing token), so a driver
//!   whose lease was taken over can never write again.
//! - [`journal`]: appends (one transaction, serialised per journal by an advisory transaction
//!   lock), reads, leases, and LISTEN/NOTIFY (a notification carries only the plan, the journal
//!   and the sequence number; readers always read what follows the last line they have).
//! - [`transfer`]: `store import DIR` and `store export DIR`, chains intact.
//!
//! Connections take libpq's usual sources for what the URL leaves out (PGHOST, PGPORT, PGUSER,
//! PGPASSWORD, PGPASSFILE or ~/.pgpass, PGSSLMODE, PGSSLROOTCERT), and TLS (`sslmode=require`,
//! `verify-ca`, `verify-full`) through rustls. Calls block: each [`PgStore`] runs its own small
//! runtime, so the synchronous callers (the command line) need none.

pub mod journal;
pub mod replica;
pub mod schema;
pub mod transfer;

use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

pub use journal::{Lease, LeaseHeld, Listener, Notice};
pub use schema::SCHEMA_VERSION;
pub use transfer::Transfer;

/// How long connecting may take before it counts as failed.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with the store: one line each, naming the store (never its password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: cannot connect: {cause}")]
    Connect { url: String, cause: String },
    #[error(
        "{url}: the store's schema is version {found}, newer than this flightdeck knows ({known}); use a newer flightdeck (the store was left as it is)"
    )]
    Newer { url: String, found: i64, known: i64 },
    #[error("{url}: {what}: {cause}")]
    Sql {
        url: String,
        what: String,
        cause: String,
    },
    /// The connection was lost (or never made) under a call: the store is out of reach.
    #[error("{url}: {what}: {cause}")]
    Lost {
        url: String,
        what: String,
        cause: String,
    },
    /// An append with a driver's epoch that is not the lease's any more.
    #[error("{url}: {cause}")]
    Fenced { url: String, cause: String },
    /// An append that does not follow the journal's last line.
    #[error("{url}: {cause}")]
    Chain { url: String, cause: String },
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

/// The SQLSTATE the schema raises for an append with a stale epoch.
pub const STALE_EPOCH: &str = "FD001";
/// The SQLSTATE the schema raises for a line that does not follow the journal's last one.
pub const NOT_CHAINED: &str = "FD002";

/// `url` without its password (in the authority or as a `password=` parameter): what may be
/// shown and journaled.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some(("password", _)) => "password=***".to_string(),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Whether `url` names a PostgreSQL store.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The connection options of `url` (what it leaves out comes from libpq's environment). No
/// `extra_float_digits` at startup: PgBouncer refuses startup parameters it does not know, and
/// no value read here is a float.
pub(crate) fn options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let opts: PgConnectOptions = url.parse()?;
    Ok(opts.application_name("flightdeck").extra_float_digits(None))
}

/// Whether `url` says the store is behind a pooler in transaction mode that keeps no prepared
/// statements (PgBouncer before 1.21): `statement-cache-capacity=0`. Then every call runs in a
/// transaction of its own (the pooler hands a server connection over only between
/// transactions, and a statement's Parse and Bind must reach the same one), and nothing waits
/// for notifications (LISTEN cannot work there).
pub fn pooled(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, q)| {
        q.split('&')
            .any(|kv| kv.replace(' ', "") == "statement-cache-capacity=0")
    })
}

/// A connection to the store.
pub struct PgStore {
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) conn: PgConnection,
    pub(crate) opts: PgConnectOptions,
    /// The URL as shown: without the password.
    pub url: String,
    /// Behind a pooler in transaction mode that keeps no prepared statements (the URL says
    /// `statement-cache-capacity=0`): every statement runs in a transaction, so that its Parse
    /// and its Bind reach one server connection.
    pub(crate) pinned: bool,
    /// A transaction of ours is open on the connection (nothing more to pin).
    pub(crate) in_txn: bool,
}

/// What `store status` shows.
#[derive(Debug, Clone)]
pub struct Status {
    pub url: String,
    pub server: String,
    pub schema: i64,
    pub plans: i64,
    pub releases: i64,
    pub events: i64,
    /// Run logs and release files: rows and bytes.
    pub chunks: i64,
    pub chunk_bytes: i64,
    /// The median of a few `SELECT 1` round trips.
    pub round_trip: Duration,
    /// How long a notification took to come back on a second connection, or why none came
    /// (behind a pooler in transaction mode LISTEN does not work: observers then poll).
    pub notify: Result<Duration, String>,
}

impl StoreError {
    /// Whether the store is out of reach (rather than refusing): worth retrying later.
    pub fn unreachable(&self) -> bool {
        matches!(self, StoreError::Connect { .. } | StoreError::Lost { .. })
    }

    /// The error without the store's name in front (for where the store is named already).
    pub fn cause_said(&self) -> String {
        match self {
            StoreError::Connect { cause, .. } => format!("cannot connect: {cause}"),
            StoreError::Lost { what, cause, .. } | StoreError::Sql { what, cause, .. } => {
                format!("{what}: {cause}")
            }
            StoreError::Newer { .. } | StoreError::Journal(_) => self.to_string(),
            StoreError::Fenced { cause, .. } | StoreError::Chain { cause, .. } => cause.clone(),
        }
    }
}

impl PgStore {
    /// Connect, without looking at the schema.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let shown = redact(url);
        let failed = |cause: String| StoreError::Connect {
            url: shown.clone(),
            cause,
        };
        let opts = options(url).map_err(|e| failed(one_line(&e)))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let conn = rt
            .block_on(async {
                tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts)).await
            })
            .map_err(|_| failed(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| failed(one_line(&e)))?;
        Ok(PgStore {
            rt,
            conn,
            opts,
            url: shown,
            pinned: pooled(url),
            in_txn: false,
        })
    }

    /// Connect and bring the schema up to date (a newer schema is refused).
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let mut s = PgStore::connect(url)?;
        s.migrate()?;
        Ok(s)
    }

    /// Behind a pooler (see [`pooled`]), open a transaction so that the next statements' Parse
    /// and Bind reach one server connection; `Ok(false)`: nothing to do.
    pub(crate) fn pin(&mut self) -> Result<bool, sqlx::Error> {
        if !self.pinned || self.in_txn {
            return Ok(false);
        }
        self.rt.block_on(sqlx::raw_sql("BEGIN").execute(&mut self.conn))?;
        Ok(true)
    }

    /// End what [`PgStore::pin`] began: committed when `r` is a success, else rolled back.
    pub(crate) fn unpin<T>(
        &mut self,
        pinned: Result<bool, sqlx::Error>,
        r: Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        match pinned {
            Err(e) => return Err(e),
            Ok(false) => return r,
            Ok(true) => {}
        }
        let end = if r.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.rt.block_on(sqlx::raw_sql(end).execute(&mut self.conn));
        let v = r?;
        ended?;
        Ok(v)
    }

    /// An error of `what` as one line naming the store; the schema's own refusals keep theirs.
    pub(crate) fn sql_error(&self, what: &str, e: sqlx::Error) -> StoreError {
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()));
        let cause = match e.as_database_error() {
            Some(d) => d.message().to_string(),
            None => one_line(&e),
        };
        // A statement's Bind that reached another server connection than its Parse: a pooler in
        // transaction mode (said as such below, never taken for the store being away).
        let mixed = code.as_deref() == Some("08P01") && cause.contains("prepared statement");
        let lost = !mixed
            && matches!(
                e,
                sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            )
            || e.as_database_error().is_some_and(|d| {
                d.code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08"))
            });
        if lost {
            return StoreError::Lost {
                url: self.url.clone(),
                what: what.to_string(),
                cause,
            };
        }
        match code.as_deref() {
            // A named prepared statement missing or already there: the connection is shared
            // per transaction by a pooler that does not keep statements (PgBouncer before 1.21).
            Some("26000" | "42P05") | Some("08P01") => StoreError::Sql {
                url: self.url.clone(),
                what: what.to_string(),
                cause: format!(
                    "{cause} (a pooler in transaction mode that does not keep prepared statements, such as PgBouncer before 1.21: add `statement-cache-capacity=0` to the store's URL, and flightdeck runs every call in a transaction of its own)"
                ),
            },
            Some(STALE_EPOCH) => StoreError::Fenced {
                url: self.url.clone(),
                cause,
            },
            Some(NOT_CHAINED) => StoreError::Chain {
                url: self.url.clone(),
                cause,
            },
            _ => StoreError::Sql {
                url: self.url.clone(),
                what: what.to_string(),
                cause,
            },
        }
    }

    /// The server's connections (every backend serving a client).
    pub fn count_connections(&mut self) -> Result<i64, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                .fetch_one(&mut self.conn),
        );
        let r = self.unpin(pinned, r);
        r.map_err(|e| self.sql_error("counting connections", e))
    }

    /// The figures `store status` shows.
    pub fn status(&mut self) -> Result<Status, StoreError> {
        let schema = self.schema_version()?;
        let pinned = self.pin();
        let r = self.rt.block_on(async {
            let server: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(&mut self.conn)
                .await?;
            let row = sqlx::query(
                "SELECT (SELECT count(DISTINCT plan) FROM fd_releases),
                        (SELECT count(*) FROM fd_releases),
                        (SELECT count(*) FROM fd_events),
                        (SELECT count(*) FROM fd_chunks),
                        (SELECT COALESCE(sum(octet_length(data)), 0)::bigint FROM fd_chunks)",
            )
            .fetch_one(&mut self.conn)
            .await?;
            let mut trips = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                sqlx::query("SELECT 1").execute(&mut self.conn).await?;
                trips.push(t.elapsed());
            }
            trips.sort();
            Ok::<_, sqlx::Error>((server, row, trips[trips.len() / 2]))
        });
        let r = self.unpin(pinned, r);
        let (server, row, round_trip) = r.map_err(|e| self.sql_error("reading the store's figures", e))?;
        let notify = self.notify_round_trip();
        Ok(Status {
            url: self.url.clone(),
            server,
            schema,
            plans: row.get(0),
            releases: row.get(1),
            events: row.get(2),
            chunks: row.get(3),
            chunk_bytes: row.get(4),
            round_trip,
            notify,
        })
    }

    /// LISTEN on a second connection, NOTIFY from this one: how long it took to arrive, or why
    /// it did not (within 2 s).
    fn notify_round_trip(&mut self) -> Result<Duration, String> {
        let channel = format!("flightdeck_probe_{}", std::process::id());
        let mut listener =
            Listener::connect(&self.opts, &self.url, &[channel.as_str()]).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let pinned = self.pin();
        let r = self.rt.block_on(
            sqlx::query("SELECT pg_notify($1, 'probe')")
                .bind(&channel)
                .execute(&mut self.conn),
        );
        self.unpin(pinned, r).map_err(|e| one_line(&e))?;
        match listener.recv_raw(Duration::from_secs(2)) {
            Ok(Some(_)) => Ok(t.elapsed()),
            Ok(None) => Err(
                "no notification arrived within 2s (behind a pooler in transaction mode LISTEN does not work): observers poll".into(),
            ),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A sqlx error as one line.
pub(crate) fn one_line(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://ops:s3cr3t@db.example.com:5432/flightdeck?sslmode=verify-full"),
            "postgres://ops:***@db.example.com:5432/flightdeck?sslmode=verify-full"
        );
        assert_eq!(
            redact("postgresql://db/fd?user=ops&password=hunter2&sslmode=require"),
            "postgresql://db/fd?user=ops&password=***&sslmode=require"
        );
        assert_eq!(redact("postgres://ops@db/fd"), "postgres://ops@db/fd");
        assert_eq!(redact("postgres:///fd"), "postgres:///fd");
        // A `@` in the password, percent-encoded or not: everything before the last `@` is the
        // user part.
        assert_eq!(redact("postgres://ops:a@b@db/fd"), "postgres://ops:***@db/fd");
    }
}
