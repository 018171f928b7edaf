//! The finished-release index against what can go wrong around it: a driver killed between its
//! last append and indexing the release, an index deleted or of another format, a journal that
//! grew after its release was indexed, a journal that does not chain. The journals stay the only
//! source of truth: in each case the answer is what folding them says.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use flightdeck::engine::history::{History, INDEX};
use flightdeck::event::{Event, FinalState, Outcome, Record, RunKey, RunKind, StageDecl};
use flightdeck::journal::{ReleaseDir, Store};
use flightdeck::mask::Masker;

fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store {
        root: tmp.path().join("data"),
    };
    (tmp, store)
}

/// A release of plan `p` whose one stage deployed `staging`; finished when `finish` is given.
/// Written through the release's journal writer, like the driver writes.
fn release(store: &Store, version: &str, finish: Option<FinalState>) -> ReleaseDir {
    let rdir = store.create_release("p", version).unwrap();
    let mut j = rdir.journal_writer(Arc::new(Masker::new(Vec::new()))).unwrap();
    let run = RunKey {
        stage: "deploy".into(),
        target: None,
        attempt: 1,
    };
    let mut events = vec![
        Event::ReleaseCreated {
            id: rdir.id.clone(),
            version: version.into(),
            rtype: Default::default(),
            plan: "p".into(),
            plan_path: "/nowhere/flightdeck.toml".into(),
            stages: vec![StageDecl {
                id: "deploy".into(),
                needs: vec![],
                environment: Some("staging".into()),
                targets: vec![],
                gates: vec![],
                has_rollback: false,
                retries: 0,
            }],
            gates: vec![],
            only: vec![],
        },
        Event::RunStarted {
            run: run.clone(),
            run_kind: RunKind::Deploy,
            log: "logs/deploy.1.log".into(),
        },
        Event::RunFinished {
            run,
            run_kind: RunKind::Deploy,
            outcome: Outcome::Succeeded,
            duration_ms: 10,
        },
        Event::StageSucceeded {
            stage: "deploy".into(),
        },
    ];
    if let Some(state) = finish {
        events.push(Event::ReleaseFinished {
            state,
            reason: String::new(),
        });
    }
    j.append("alice", events).unwrap();
    rdir
}

fn finished_ids(h: &History) -> Vec<String> {
    h.finished().map(|s| s.id).collect()
}

#[test]
fn a_release_finished_but_never_indexed_is_indexed_by_the_next_reader() {
    // As if its driver was killed right after appending `release_finished`.
    let (_tmp, store) = store();
    let r = release(&store, "1.0", Some(FinalState::Succeeded));
    assert!(r.is_marked_open(), "every append marks the release open");
    let h = History::open(&store, "p").unwrap();
    assert!(
        h.open_releases().unwrap().is_empty(),
        "found finished: closed, not open"
    );
    assert!(!r.is_marked_open(), "closed by the reader");
    assert_eq!(finished_ids(&h), ["1.0"]);
    let s = h.finished().next().unwrap();
    assert_eq!(s.started_by, "alice");
    assert_eq!(s.state, FinalState::Succeeded);
    assert_eq!(s.envs.len(), 1);
    assert_eq!(s.envs[0].env, "staging");
}

#[test]
fn an_unfinished_release_stays_open_and_out_of_the_index() {
    let (_tmp, store) = store();
    release(&store, "1.0", Some(FinalState::Succeeded));
    let open = release(&store, "1.1", None);
    let h = History::open(&store, "p").unwrap();
    let o = h.open_releases().unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].rdir.id, "1.1");
    assert!(open.is_marked_open());
    assert_eq!(finished_ids(&h), ["1.0"]);
}

#[test]
fn a_deleted_index_is_rebuilt_with_the_same_answers_and_markers_for_the_unfinished() {
    let (_tmp, store) = store();
    for v in ["1.0", "1.1", "1.2"] {
        release(&store, v, Some(FinalState::Succeeded));
    }
    let open = release(&store, "1.3", None);
    let h = History::open(&store, "p").unwrap();
    h.open_releases().unwrap();
    let before = finished_ids(&h);
    assert_eq!(before.len(), 3);
    let index = store.plan_dir("p").unwrap().join(INDEX);
    std::fs::remove_file(&index).unwrap();
    // The open marker is lost too (a data dir from before markers existed).
    open.unmark_open().unwrap();
    let h = History::open(&store, "p").unwrap();
    assert!(index.is_file());
    let mut after = finished_ids(&h);
    after.sort();
    assert_eq!(after, ["1.0", "1.1", "1.2"]);
    assert!(
        open.is_marked_open(),
        "the rebuild marks the unfinished release open"
    );
    // An index of another format is rebuilt too.
    std::fs::write(&index, "{\"flightdeck_index\":999,\"plan\":\"p\"}\n").unwrap();
    let h = History::open(&store, "p").unwrap();
    assert_eq!(finished_ids(&h).len(), 3);
}

#[test]
fn a_journal_that_grew_after_indexing_is_folded_again() {
    let (_tmp, store) = store();
    let r = release(&store, "1.0", Some(FinalState::Succeeded));
    let h = History::open(&store, "p").unwrap();
    h.open_releases().unwrap();
    assert!(!r.is_marked_open());
    // Appended behind the index's back (no marker): a note changes nothing but the length, a
    // reopening makes it unfinished.
    let line = {
        let (recs, _) = flightdeck::journal::read_journal(&r.journal()).unwrap();
        let last = recs.last().unwrap();
        let prev = std::fs::read_to_string(r.journal()).unwrap();
        let prev_line = prev.lines().last().unwrap().to_string();
        let rec = Record {
            seq: last.seq + 1,
            ts: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().unwrap(),
            actor: "bob".into(),
            prev: flightdeck::journal::line_hash(prev_line.as_bytes()),
            event: Event::Note {
                message: "late note".into(),
            },
        };
        serde_json::to_string(&rec).unwrap()
    };
    let mut text = std::fs::read_to_string(r.journal()).unwrap();
    text.push_str(&line);
    text.push('\n');
    std::fs::write(r.journal(), text).unwrap();
    let s = h.finished().next().unwrap();
    assert_eq!(
        s.journal_len,
        std::fs::metadata(r.journal()).unwrap().len(),
        "folded again"
    );
}

#[test]
fn a_journal_that_does_not_chain_is_never_indexed() {
    let (_tmp, store) = store();
    let r = release(&store, "1.0", Some(FinalState::Succeeded));
    // Alter a line in the middle: the chain breaks there, before `release_finished`.
    let text = std::fs::read_to_string(r.journal()).unwrap();
    std::fs::write(
        r.journal(),
        text.replacen("logs/deploy.1.log", "logs/deploy.X.log", 1),
    )
    .unwrap();
    let h = History::open(&store, "p").unwrap();
    let open = h.open_releases().unwrap();
    assert_eq!(open.len(), 1, "it stays open, needing attention");
    assert!(open[0].state.attention.is_some());
    assert!(finished_ids(&h).is_empty());
    assert!(r.is_marked_open());
}

#[test]
fn an_index_from_before_metrics_is_rebuilt_with_what_metrics_needs() {
    let (_tmp, store) = store();
    release(&store, "1.0", Some(FinalState::Succeeded));
    let h = History::open(&store, "p").unwrap();
    h.open_releases().unwrap();
    let index = store.plan_dir("p").unwrap().join(INDEX);
    let text = std::fs::read_to_string(&index).unwrap();
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["revision"], 1);
    // As an older binary wrote it: no revision in the header, no `shipped` nor `deploy`.
    let mut line: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(line["shipped"], serde_json::json!([]));
    assert_eq!(line["envs"][0]["deploy"]["ok"], true);
    line.as_object_mut().unwrap().remove("shipped");
    line["envs"][0].as_object_mut().unwrap().remove("deploy");
    let old_line = line.to_string();
    std::fs::write(
        &index,
        format!("{{\"flightdeck_index\":1,\"plan\":\"p\"}}\n{old_line}\n"),
    )
    .unwrap();

    // The line loads as it is (the fields are optional) ...
    let old: flightdeck::engine::history::Summary = serde_json::from_str(&old_line).unwrap();
    assert_eq!(old.shipped, None);
    assert_eq!(old.envs[0].deploy, None);
    // ... and the index is rebuilt once, filling them.
    let h = History::open(&store, "p").unwrap();
    let s = h.finished().next().unwrap();
    assert_eq!(s.shipped, Some(vec![]));
    assert!(s.envs[0].deploy.is_some_and(|d| d.ok));
    assert!(
        std::fs::read_to_string(&index)
            .unwrap()
            .contains("\"revision\":1")
    );

    // A line an older binary appended to a current index lacks them too: `complete` folds its
    // journal again (the index is left as it is).
    std::fs::write(
        &index,
        format!("{{\"flightdeck_index\":1,\"plan\":\"p\",\"revision\":1}}\n{old_line}\n"),
    )
    .unwrap();
    let h = History::open(&store, "p").unwrap();
    let s = h.finished().next().unwrap();
    assert_eq!(s.shipped, None);
    let s = h.complete(s);
    assert_eq!(s.shipped, Some(vec![]));
    assert!(s.envs[0].deploy.is_some_and(|d| d.ok));
}
