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
        // In a workspace: its plans' choice, when they agree (a train's members share a store).
        if self.in_workspace() {
            return self.workspace_store();
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

    /// The store the plans of the workspace name with `[plan] store`: none, or the one they all
    /// name; plans that name different stores are refused (a train's releases share one).
    fn workspace_store(&self) -> Result<Option<Selected>> {
        let Ok(path) = self.workspace_path() else {
            return Ok(None);
        };
        let Ok(ws) = crate::plan::workspace::load_workspace(&path) else {
            return Ok(None);
        };
        let mut named: Vec<(String, String)> = Vec::new();
        for file in &ws.plans {
            if let Ok(p) = crate::plan::load(file)
                && let Some(url) = p.store
            {
                named.push((p.name, url));
            }
        }
        match named.first() {
            None => Ok(None),
            Some((_, url)) if named.iter().all(|(_, u)| u == url) => Ok(Some(Selected {
                url: url.clone(),
                source: format!("[plan] store of the plans of {}", path.display()),
            })),
            Some(_) => Err(usage(format!(
                "the plans of workspace {} name different stores ({}): a workspace's releases share one; give --store or FLIGHTDECK_STORE",
                ws.name,
                named
                    .iter()
                    .map(|(p, u)| format!("{p}: {}", pgstore::redact(u)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// When a shared store is selected: make the data directory its local mirror (the one given
    /// with `--data-dir`, else one of this user's per store), install the store behind it for
    /// the rest of the process, and bring the mirror up to date. Every command then works on the
    /// mirror as on a data directory of its own, while every append goes to the store first.
    /// The driver it starts finds the store the same way (FLIGHTDECK_STORE in its environment).
    pub fn attach_shared_store(&mut self) -> Result<()> {
        let Some(s) = self.shared_store()? else {
            return Ok(());
        };
        let root = match &self.data_dir {
            Some(d) => d.clone(),
            None => mirror_dir(&s.url)?,
        };
        claim_mirror(&root, &s.url)?;
        // A mirror that exists stays readable while its store is out of reach: said, once.
        let has_copy = root.join("plans").exists();
        let (replica, away) = pgstore::replica::PgReplica::open_or_offline(&s.url, &self.actor())?;
        if let Some(e) = &away
            && !has_copy
        {
            return Err(eyre!("{e}"));
        }
        let replica = std::sync::Arc::new(replica);
        crate::journal::replica::install(&root, replica.clone(), &pgstore::redact(&s.url));
        self.data_dir = Some(root);
        // The driver this process may start inherits it (never on its command line).
        if std::env::var("FLIGHTDECK_STORE").ok().as_deref() != Some(s.url.as_str()) {
            // SAFETY: set before any thread of ours that reads the environment is started.
            unsafe { std::env::set_var("FLIGHTDECK_STORE", &s.url) };
        }
        match away {
            None => {
                crate::journal::replica::pull_all()?;
            }
            Some(e) => {
                crate::journal::replica::report_reachable(Err(e.cause_said()));
                crate::errln!(
                    "flightdeck: the shared store is out of reach ({e}): this is this machine's copy of it as last read; nothing can be changed until it is back"
                )
            }
        }
        replica.follow();
        Ok(())
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

/// This user's mirror of the store at `url`: `<cache>/flightdeck/stores/<host>-<db>-<hash>`.
fn mirror_dir(url: &str) -> Result<std::path::PathBuf> {
    use sha2::Digest;
    let shown = pgstore::redact(url);
    let hash = hex::encode(sha2::Sha256::digest(shown.as_bytes()));
    let slug: String = shown
        .split_once("://")
        .map_or(shown.as_str(), |(_, rest)| rest)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(48)
        .collect();
    let dirs = directories::ProjectDirs::from("", "", "flightdeck")
        .ok_or_else(|| usage("no home directory for the store's local mirror; give --data-dir DIR"))?;
    Ok(dirs
        .cache_dir()
        .join("stores")
        .join(format!("{slug}-{}", &hash[..12])))
}

/// A data directory mirrors one store only: its `.store` names it (written with the first thing
/// written there); one that mirrors another store, or holds releases of its own, is refused.
fn claim_mirror(root: &Path, url: &str) -> Result<()> {
    let marker = root.join(crate::journal::replica::MARKER);
    let shown = pgstore::redact(url);
    match std::fs::read_to_string(&marker) {
        Ok(held) if held.trim() == shown => Ok(()),
        Ok(held) => Err(usage(format!(
            "{}: this data directory mirrors the store {}, not {shown}; give another --data-dir",
            root.display(),
            held.trim()
        ))),
        Err(_) => {
            // A release folder: `plans/<plan>/<id>/journal.jsonl` (saved drift runs and the
            // like are no releases).
            let has_releases = std::fs::read_dir(root.join("plans")).is_ok_and(|plans| {
                plans.flatten().any(|plan| {
                    std::fs::read_dir(plan.path()).is_ok_and(|ids| {
                        ids.flatten()
                            .any(|id| id.path().join(crate::journal::replica::RELEASE_JOURNAL).is_file())
                    })
                })
            });
            if has_releases {
                return Err(usage(format!(
                    "{}: this data directory holds releases of its own; `flightdeck store import {}` copies them into the store, and another --data-dir (or none) mirrors it",
                    root.display(),
                    root.display()
                )));
            }
            Ok(())
        }
    }
}
