//! `flightdeck review RELEASE`: a post-release review (see `engine::reviews`), journaled in
//! `<data>/plans/<plan>/.reviews/reviews.jsonl`: what went well, what did not, action items with
//! an owner and a due date (`--close N` closes one); without anything to add, it shows the review.

use std::sync::Arc;

use color_eyre::eyre::Result;
use serde_json::json;

use super::incident::{journal_refusal, text_arg};
use super::{Context, exit, refused, usage};
use crate::ansi::clean;
use crate::engine::driver::masker_for;
use crate::engine::reviews::{Entries, Review, ReviewError, Reviews, parse_due, parse_template, template};

/// What `review` was asked to do.
#[derive(Debug, Default)]
pub struct ReviewArgs {
    pub went_well: Vec<String>,
    pub went_wrong: Vec<String>,
    pub actions: Vec<String>,
    pub owners: Vec<String>,
    pub dues: Vec<String>,
    pub editor: bool,
    pub close: Option<u64>,
    pub note: String,
    pub json: bool,
}

impl Context {
    pub fn review(&self, release: &str, args: ReviewArgs) -> Result<u8> {
        let plan = self.load_plan()?;
        let store = self.store()?;
        let id = match store.release(&plan.name, release) {
            Ok(rdir) if rdir.journal().is_file() => rdir.id,
            _ => {
                return Err(usage(format!(
                    "release `{}` not found for plan `{}`",
                    clean(release),
                    plan.name
                )));
            }
        };
        let reviews = Reviews::of_plan(&store, &plan.name)?;
        let masker = Arc::new(masker_for(&plan));
        let actor = self.actor();
        if let Some(number) = args.close {
            let note = text_arg("the note", &args.note, false)?;
            let a = reviews
                .close(masker, &actor, &id, number, &note)
                .map_err(|e| match e {
                    ReviewError::Journal(j) => journal_refusal(j),
                    e @ ReviewError::Unknown { .. } => usage(e.to_string()),
                    e @ ReviewError::AlreadyClosed { .. } => refused(e.to_string()),
                })?;
            crate::outln!(
                "action item #{} of {} closed by {}: {} (owner {}, due {})",
                a.number,
                clean(&id),
                clean(&actor),
                clean(&a.text),
                clean(&a.owner),
                a.due
            );
            return Ok(exit::OK);
        }
        let mut entries = entries_of(&args)?;
        if args.editor {
            let edited = edit(&plan.name, &id)?;
            entries.went_well.extend(edited.went_well);
            entries.went_wrong.extend(edited.went_wrong);
            entries.actions.extend(edited.actions);
            if entries.is_empty() {
                return Err(refused("nothing recorded: the review was left empty".to_string()));
            }
        }
        if entries.is_empty() {
            let review = reviews.of_release(&id).map_err(journal_refusal)?;
            print_review(&plan.name, &review, args.json);
            return Ok(exit::OK);
        }
        let before = reviews.of_release(&id).map_err(journal_refusal)?.actions.len();
        let review = reviews
            .record(masker, &actor, &id, &entries)
            .map_err(journal_refusal)?;
        if args.json {
            print_review(&plan.name, &review, true);
        } else {
            let added: Vec<String> = review.actions[before.min(review.actions.len())..]
                .iter()
                .map(|a| format!("#{}", a.number))
                .collect();
            let actions = if added.is_empty() {
                String::new()
            } else {
                format!(", action item(s) {}", added.join(" "))
            };
            crate::outln!(
                "review of {} recorded by {}: {} went well, {} went wrong{actions}",
                clean(&id),
                clean(&actor),
                entries.went_well.len(),
                entries.went_wrong.len()
            );
        }
        Ok(exit::OK)
    }
}

/// The entries given by flags: each `--action` with its `--owner` and `--due`, in order.
fn entries_of(args: &ReviewArgs) -> Result<Entries> {
    let (a, o, d) = (args.actions.len(), args.owners.len(), args.dues.len());
    if a != o || a != d {
        return Err(usage(format!(
            "each --action needs its own --owner and --due, in the same order ({a} --action, {o} --owner, {d} --due)"
        )));
    }
    let mut e = Entries::default();
    for t in &args.went_well {
        e.went_well.push(text_arg("--went-well", t, true)?);
    }
    for t in &args.went_wrong {
        e.went_wrong.push(text_arg("--went-wrong", t, true)?);
    }
    for ((text, owner), due) in args.actions.iter().zip(&args.owners).zip(&args.dues) {
        let text = text_arg("--action", text, true)?;
        let owner = text_arg("--owner", owner, true)?;
        let due = parse_due(due).map_err(|why| usage(format!("--due: {why}")))?;
        e.actions.push((text, owner, due));
    }
    Ok(e)
}

/// `$EDITOR` (else `$VISUAL`, else `vi`) on the template; what it was filled in with.
fn edit(plan: &str, release: &str) -> Result<Entries> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(format!("review-{plan}-{release}.md"));
    std::fs::write(&path, template(plan, release))?;
    let editor = std::env::var("EDITOR")
        .or_else(|_| std::env::var("VISUAL"))
        .unwrap_or_else(|_| "vi".to_string());
    // Through the shell, as git does: EDITOR may carry arguments (`code --wait`).
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("flightdeck-editor")
        .arg(&path)
        .status()
        .map_err(|e| refused(format!("cannot start the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(refused(format!(
            "the editor `{editor}` exited with {status}: nothing recorded"
        )));
    }
    let text = std::fs::read_to_string(&path)?;
    let entries = parse_template(&text).map_err(|(line, why)| {
        usage(format!(
            "{}:{line}: {why} (nothing recorded)",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
    })?;
    for t in entries.went_well.iter().chain(&entries.went_wrong) {
        text_arg("an item", t, true)?;
    }
    for (t, o, _) in &entries.actions {
        text_arg("an action item", t, true)?;
        text_arg("an owner", o, true)?;
    }
    Ok(entries)
}

fn print_review(plan: &str, r: &Review, json: bool) {
    let now = chrono::Utc::now();
    if json {
        let actions: Vec<serde_json::Value> = r
            .actions
            .iter()
            .map(|a| {
                let mut v = json!(a);
                v["open"] = json!(a.is_open());
                v["overdue"] = json!(a.overdue(now));
                v
            })
            .collect();
        crate::outln!(
            "{}",
            json!({"plan": plan, "release": r.release, "went_well": r.went_well, "went_wrong": r.went_wrong, "actions": actions})
        );
        return;
    }
    let mut s = format!("review of {} {}\n", clean(plan), clean(&r.release));
    if r.went_well.is_empty() && r.went_wrong.is_empty() && r.actions.is_empty() {
        s.push_str("  nobody reviewed it yet (`flightdeck review RELEASE --went-well T --went-wrong T --action T --owner NAME --due DATE`, or `--editor`)\n");
    }
    for (title, items) in [("went well", &r.went_well), ("went wrong", &r.went_wrong)] {
        if items.is_empty() {
            continue;
        }
        s.push_str(&format!("  {title}\n"));
        for i in items {
            s.push_str(&format!(
                "    - {}  ({}, {})\n",
                clean(&i.text),
                clean(&i.by),
                i.at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    if !r.actions.is_empty() {
        s.push_str("  action items\n");
    }
    for a in &r.actions {
        let state = match &a.closed {
            Some(c) => format!(
                "closed by {} {}{}",
                clean(&c.by),
                c.at.format("%Y-%m-%d"),
                if c.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", clean(&c.text))
                }
            ),
            None if a.overdue(now) => "OVERDUE".to_string(),
            None => "open".to_string(),
        };
        s.push_str(&format!(
            "    #{} {}  owner {}  due {}  {state}\n",
            a.number,
            clean(&a.text),
            clean(&a.owner),
            a.due
        ));
    }
    crate::term::out_text(&s);
}
