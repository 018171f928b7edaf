//! The store's schema, versioned. Migrations run in one transaction under an advisory lock (two
//! processes migrating at once wait for each other), on first use and by `store migrate`. A
//! schema newer than this binary knows is refused and left as it is.
//!
//! Tables:
//! - `fd_meta`: the schema version.
//! - `fd_releases`: a plan's releases.
//! - `fd_events`: every journal's lines, byte for byte (`journal` is the release id, or
//!   `.incidents` for a plan's incidents journal), with each line's hash and, for the driver's
//!   appends, its epoch. Guarded by `fd_events_guard` (below) and never updated or deleted.
//! - `fd_leases`: one row per release: the driver holding it, until when, and its epoch (a
//!   fencing token that only grows: a lease is given up by expiring it, never by deleting the
//!   row, so an epoch is never handed out twice).
//! - `fd_chunks`: run logs and release files (`plan.toml`, `logs/…`) in numbered chunks. A run
//!   log is streamed while it grows: each chunk carries its byte offset (`off`, version 2), and
//!   observers are told of new output on `flightdeck_output` (plan, release, path).

use super::{PgStore, StoreError};

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i64 = 2;

/// The key of the advisory lock migrations hold.
const MIGRATION_LOCK: i64 = 0x666c_6967_6874;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2];

const V1: &str = r#"
CREATE TABLE fd_meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE fd_releases (
    plan text NOT NULL,
    id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (plan, id)
);
CREATE TABLE fd_events (
    plan text NOT NULL,
    journal text NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    line text NOT NULL,
    hash text NOT NULL,
    epoch bigint,
    appended_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (plan, journal, seq)
);
CREATE TABLE fd_leases (
    plan text NOT NULL,
    release text NOT NULL,
    epoch bigint NOT NULL CHECK (epoch > 0),
    holder text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (plan, release)
);
CREATE TABLE fd_chunks (
    plan text NOT NULL,
    release text NOT NULL,
    path text NOT NULL,
    n bigint NOT NULL CHECK (n >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (plan, release, path, n)
);

-- Every line must follow the journal's last one, and a driver's line must carry the epoch of
-- the release's lease (read FOR SHARE: a takeover waits for an append under way, and an append
-- after a takeover sees the new epoch). Then observers are told: plan, journal, seq.
CREATE FUNCTION fd_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held bigint;
    last_seq bigint;
    last_hash text;
    rec jsonb;
BEGIN
    IF NEW.epoch IS NOT NULL THEN
        SELECT epoch INTO held FROM fd_leases
            WHERE plan = NEW.plan AND release = NEW.journal FOR SHARE;
        IF held IS DISTINCT FROM NEW.epoch THEN
            RAISE EXCEPTION 'release %/%: an append with driver epoch % was refused: the lease is at epoch % (another driver took over)',
                NEW.plan, NEW.journal, NEW.epoch, COALESCE(held::text, 'none')
                USING ERRCODE = 'FD001';
        END IF;
    END IF;
    SELECT seq, hash INTO last_seq, last_hash FROM fd_events
        WHERE plan = NEW.plan AND journal = NEW.journal ORDER BY seq DESC LIMIT 1;
    BEGIN
        rec := NEW.line::jsonb;
    EXCEPTION WHEN others THEN
        RAISE EXCEPTION 'journal %/%: line % is not a JSON record', NEW.plan, NEW.journal, NEW.seq
            USING ERRCODE = 'FD002';
    END;
    IF NEW.seq <> COALESCE(last_seq, 0) + 1 OR (rec->>'seq') IS DISTINCT FROM NEW.seq::text THEN
        RAISE EXCEPTION 'journal %/%: line % does not follow line % (sequence numbers are dense)',
            NEW.plan, NEW.journal, NEW.seq, COALESCE(last_seq, 0)
            USING ERRCODE = 'FD002';
    END IF;
    IF COALESCE(rec->>'prev', '') <> COALESCE(last_hash, '') THEN
        RAISE EXCEPTION 'journal %/%: line % does not chain to line % (its prev is not that line''s hash)',
            NEW.plan, NEW.journal, NEW.seq, COALESCE(last_seq, 0)
            USING ERRCODE = 'FD002';
    END IF;
    IF NEW.hash <> encode(sha256(convert_to(NEW.line, 'UTF8')), 'hex') THEN
        RAISE EXCEPTION 'journal %/%: line % is stored with a hash that is not its own',
            NEW.plan, NEW.journal, NEW.seq
            USING ERRCODE = 'FD002';
    END IF;
    PERFORM pg_notify('flightdeck_events',
        json_build_object('plan', NEW.plan, 'journal', NEW.journal, 'seq', NEW.seq)::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER fd_events_guard BEFORE INSERT ON fd_events
    FOR EACH ROW EXECUTE FUNCTION fd_events_guard();

-- Append-only: a journal line is never changed or removed.
CREATE FUNCTION fd_events_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal lines are append-only: % refused', TG_OP USING ERRCODE = 'FD002';
END
$$;
CREATE TRIGGER fd_events_frozen BEFORE UPDATE OR DELETE ON fd_events
    FOR EACH ROW EXECUTE FUNCTION fd_events_frozen();
"#;

/// Version 2: run logs streamed while they grow (a chunk's byte offset in its file), and output
/// notified.
const V2: &str = r#"
ALTER TABLE fd_chunks ADD COLUMN off bigint;
CREATE FUNCTION fd_output_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flightdeck_output',
        json_build_object('plan', NEW.plan, 'release', NEW.release, 'path', NEW.path)::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER fd_output_notify AFTER INSERT ON fd_chunks
    FOR EACH ROW WHEN (NEW.off IS NOT NULL) EXECUTE FUNCTION fd_output_notify();
"#;

/// What [`PgStore::migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: i64,
    pub to: i64,
}

impl PgStore {
    /// The schema version the store holds (0: none yet).
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        let pinned = self.pin();
        let r = self.rt.block_on(async {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('fd_meta') IS NOT NULL")
                .fetch_one(&mut self.conn)
                .await?;
            if !exists {
                return Ok(0);
            }
            let v: Option<String> =
                sqlx::query_scalar("SELECT value FROM fd_meta WHERE key = 'schema_version'")
                    .fetch_optional(&mut self.conn)
                    .await?;
            Ok::<_, sqlx::Error>(v.and_then(|v| v.parse().ok()).unwrap_or(0))
        });
        let r = self.unpin(pinned, r);
        r.map_err(|e| self.sql_error("reading the schema version", e))
    }

    /// Bring the schema to [`SCHEMA_VERSION`]; a newer one is refused and left as it is.
    pub fn migrate(&mut self) -> Result<Migrated, StoreError> {
        let url = self.url.clone();
        let r = self.rt.block_on(async {
            let mut tx = sqlx::Connection::begin(&mut self.conn).await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('fd_meta') IS NOT NULL")
                .fetch_one(&mut *tx)
                .await?;
            let from = if exists {
                let v: Option<String> =
                    sqlx::query_scalar("SELECT value FROM fd_meta WHERE key = 'schema_version'")
                        .fetch_optional(&mut *tx)
                        .await?;
                v.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0)
            } else {
                0
            };
            if from > SCHEMA_VERSION {
                tx.rollback().await?;
                return Ok(Err(from));
            }
            for m in &MIGRATIONS[from as usize..] {
                sqlx::raw_sql(*m).execute(&mut *tx).await?;
            }
            if from < SCHEMA_VERSION {
                sqlx::query(
                    "INSERT INTO fd_meta (key, value) VALUES ('schema_version', $1)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                )
                .bind(SCHEMA_VERSION.to_string())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(from))
        });
        match r.map_err(|e| self.sql_error("migrating the schema", e))? {
            Ok(from) => Ok(Migrated {
                from,
                to: SCHEMA_VERSION,
            }),
            Err(found) => Err(StoreError::Newer {
                url,
                found,
                known: SCHEMA_VERSION,
            }),
        }
    }
}
