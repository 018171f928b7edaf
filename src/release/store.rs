//! `flightdeck store migrate|status|import DIR|export DIR`, and which store a command uses:
//! `--store URL`, else `FLIGHTDECK_STORE`, else `[plan] store`, else the local data directory.

use std::path::Path;

use color_eyre::eyre::{Result, eyre};

use super::{Context, exit, usage};
use crate::journal::Store;
use crate::pgstore::{self, PgStore, SCHEMA_VERSION, Transfer};

/// The shared store selected, and what selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub url: String,
    pub source: String,
}

impl Context {
    /// The shared store this command would use (`None`: the local data directory).
    pub fn shared_store(&self) -> Result<Option<Selected>> {
        let given = |url: &str, source: &str| -> Result<Option<Selected>> {
            if !pgstore::is_postgres_url(url) {
                return Err(usage(format!(
                    "{source}: `{}` is not a PostgreSQL URL (postgres://host/db)",
                    pgstore::redact(url)
                )));
            }
            Ok(Some(Selected {
                url: url.to_string(),
                source: source.to_string(),
            }))
        };
        if let Some(url) = &self.store_url {
            return given(url, "--store");
        }
        if let Some(url) = std::env::var("FLIGHTDECK_STORE").ok().filter(|u| !u.is_empty()) {
            return given(&url, "FLIGHTDECK_STORE");
        }
        // The plan's choice, when there is a plan that loads (its problems are `check`'s).
        let Ok(path) = self.plan_path() else {
            return Ok(None);
        };
        Ok(crate::plan::load(&path)
            .ok()
            .and_then(|p| p.store)
            .map(|url| Selected {
                url,
                source: format!("[plan] store in {}", path.display()),
            }))
    }

    /// Commands other than `store` work on the local data directory only, so far: refuse one
    /// when a shared store is selected, rather than let it quietly use local files nobody else
    /// sees.
    pub fn local_store_only(&self, command: &str) -> Result<()> {
        match self.shared_store()? {
            None => Ok(()),
            Some(s) => Err(usage(format!(
                "`{command}` does not run on the PostgreSQL store yet ({} selects {}); `flightdeck store export DIR` copies it into a local data directory for `--data-dir DIR`",
                s.source,
                pgstore::redact(&s.url)
            ))),
        }
    }

    fn selected(&self) -> Result<Selected> {
        self.shared_store()?.ok_or_else(|| {
            usage("no shared store selected: give --store URL, set FLIGHTDECK_STORE, or set `store = \"postgres://host/db\"` in [plan]")
        })
    }

    /// `store migrate`.
    pub fn store_migrate(&self) -> Result<u8> {
        let s = self.selected()?;
        let mut pg = PgStore::connect(&s.url)?;
        let m = pg.migrate()?;
        if m.from == m.to {
            crate::outln!("{}: schema version {} is current", pg.url, m.to);
        } else {
            crate::outln!("{}: schema migrated from version {} to {}", pg.url, m.from, m.to);
        }
        Ok(exit::OK)
    }

    /// `store status [--json]`.
    pub fn store_status(&self, json: bool) -> Result<u8> {
        let s = self.selected()?;
        let mut pg = PgStore::open(&s.url)?;
        let st = pg.status()?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        if json {
            let notify = match &st.notify {
                Ok(d) => serde_json::json!({"listen": true, "ms": ms(*d)}),
                Err(why) => serde_json::json!({"listen": false, "polling": true, "why": why}),
            };
            let v = serde_json::json!({
                "url": st.url,
                "source": s.source,
                "server": st.server,
                "schema": st.schema,
                "schema_known": SCHEMA_VERSION,
                "plans": st.plans,
                "releases": st.releases,
                "events": st.events,
                "chunks": st.chunks,
                "chunk_bytes": st.chunk_bytes,
                "round_trip_ms": ms(st.round_trip),
                "notify": notify,
            });
            crate::outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(exit::OK);
        }
        crate::outln!("store         {} (from {})", st.url, s.source);
        crate::outln!("server        PostgreSQL {}", st.server);
        crate::outln!(
            "schema        version {} (this flightdeck: {SCHEMA_VERSION})",
            st.schema
        );
        crate::outln!(
            "holds         {} plan(s), {} release(s), {} event(s), {} file chunk(s) ({})",
            st.plans,
            st.releases,
            st.events,
            st.chunks,
            bytes(st.chunk_bytes as u64)
        );
        crate::outln!("round trip    {:.2} ms (median of 5)", ms(st.round_trip));
        match &st.notify {
            Ok(d) => crate::outln!(
                "live updates  LISTEN/NOTIFY: a notification came back in {:.1} ms",
                ms(*d)
            ),
            Err(why) => crate::outln!("live updates  polling: {why}"),
        }
        Ok(exit::OK)
    }

    /// `store import DIR`.
    pub fn store_import(&self, dir: &Path) -> Result<u8> {
        if !dir.join("plans").is_dir() {
            return Err(usage(format!(
                "{}: not a flightdeck data directory (it has no plans/ folder)",
                dir.display()
            )));
        }
        let s = self.selected()?;
        let mut pg = PgStore::open(&s.url)?;
        let t = pg.import(&Store {
            root: dir.to_path_buf(),
        })?;
        say("imported", &t, &format!("{} into {}", dir.display(), pg.url));
        Ok(if t.refused.is_empty() {
            exit::OK
        } else {
            exit::FAILED
        })
    }

    /// `store export DIR`.
    pub fn store_export(&self, dir: &Path) -> Result<u8> {
        let s = self.selected()?;
        let mut pg = PgStore::open(&s.url)?;
        let t = pg.export(dir).map_err(|e| eyre!(e))?;
        say("exported", &t, &format!("{} into {}", pg.url, dir.display()));
        Ok(exit::OK)
    }
}

fn say(what: &str, t: &Transfer, from_to: &str) {
    let unchanged = if t.unchanged > 0 {
        format!(" ({} already up to date)", t.unchanged)
    } else {
        String::new()
    };
    crate::outln!(
        "{what} {from_to}: {} journal(s), {} line(s){unchanged}; {} file(s), {}",
        t.journals,
        t.lines,
        t.files,
        bytes(t.bytes)
    );
    for r in &t.refused {
        crate::errln!("flightdeck: {r}");
    }
}

/// `3.4 MiB`.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
