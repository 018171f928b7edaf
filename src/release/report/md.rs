//! The report as Markdown (the default format, also what a terminal shows): every text that came
//! from the journal, a plan journal or a child sanitised (`ansi::clean`), table cells with their
//! `|` escaped, output in fences longer than any run of backticks it holds.

use std::fmt::Write as _;

use super::{Report, Tail, human_ms, metric_delta, metric_value, stamp};
use crate::ansi::clean;

/// Sanitised text for prose: `&`, `<` and `>` as entities too, so that no journal or child text
/// becomes HTML where the Markdown is rendered.
fn c(s: &str) -> String {
    entities(&clean(s))
}

fn entities(s: &str) -> String {
    if !s.contains(['&', '<', '>']) {
        return s.to_string();
    }
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Sanitised text for a table cell.
fn cell(s: &str) -> String {
    let s = c(s);
    if s.contains('|') { s.replace('|', "\\|") } else { s }
}

fn opt_stamp(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(stamp).unwrap_or_else(|| "–".into())
}

/// A section's heading, after a blank line (whatever the section before ended with).
fn section(out: &mut String, title: &str) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    let _ = writeln!(out, "## {title}\n");
}

/// A fenced block of sanitised lines.
fn fenced(out: &mut String, lines: &[String]) {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|ch| ch != '`').map(str::len))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}text");
    // Inside a fence nothing is rendered: sanitised only.
    for l in lines {
        let _ = writeln!(out, "{}", clean(l));
    }
    let _ = writeln!(out, "{fence}");
}

fn tail(out: &mut String, t: &Tail, indent: &str) {
    if let Some(why) = &t.missing {
        let _ = writeln!(out, "{indent}_{}_", c(why));
        return;
    }
    if t.lines.is_empty() {
        let _ = writeln!(out, "{indent}_no output_");
        return;
    }
    let of = t.total.map(|n| format!(" of {n}")).unwrap_or_default();
    let _ = writeln!(out, "{indent}Last {}{of} line(s) of output:\n", t.lines.len());
    let mut block = String::new();
    fenced(&mut block, &t.lines);
    for l in block.lines() {
        let _ = writeln!(out, "{indent}{l}");
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let s = &r.summary;
    let now = r.generated_at;
    let _ = writeln!(out, "# Release {} of plan {}\n", c(&s.id), c(&s.plan));

    // ---- summary
    section(&mut out, "Summary");
    let _ = writeln!(out, "| | |\n|---|---|");
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(out, "| {k} | {} |", cell(v));
    };
    row("plan", &s.plan);
    row("version", &s.version);
    row("type", &s.rtype);
    row("started by", &s.started_by);
    let outcome = if s.reason.is_empty() {
        s.state.clone()
    } else {
        format!("{}: {}", s.state, s.reason)
    };
    row("outcome", &outcome);
    row("started", &opt_stamp(s.started_at));
    row("finished", &opt_stamp(s.finished_at));
    row(
        "duration",
        &s.duration_ms.map(human_ms).unwrap_or_else(|| "unfinished".into()),
    );
    if !s.only.is_empty() {
        row("partial", &s.only.join(", "));
    }
    if let Some(commit) = &s.commit {
        row("commit", commit);
    }
    if let Some(tag) = &s.tag {
        row("tag", tag);
    }
    if let Some(a) = &s.attention {
        row("needs attention", a);
    }

    // ---- timeline
    section(&mut out, "Timeline");
    let _ = writeln!(
        out,
        "| stage | environment | status | started | finished | duration | reason |\n|---|---|---|---|---|---|---|"
    );
    for st in &r.timeline {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&st.id),
            cell(st.environment.as_deref().unwrap_or("–")),
            st.status,
            opt_stamp(st.started_at),
            opt_stamp(st.finished_at),
            st.started_at
                .zip(st.finished_at)
                .map(|(a, b)| human_ms((b - a).num_milliseconds()))
                .unwrap_or_else(|| "–".into()),
            cell(st.reason.as_deref().unwrap_or(""))
        );
    }
    let runs: Vec<_> = r.runs().collect();
    if runs.is_empty() {
        let _ = writeln!(out, "\nNothing ran.");
    } else {
        let _ = writeln!(
            out,
            "\n| run | kind | attempt | started | finished | duration | outcome |\n|---|---|---|---|---|---|---|"
        );
        for run in &runs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&run.label()),
                run.kind,
                run.attempt,
                stamp(run.started_at),
                opt_stamp(run.finished_at),
                human_ms(run.ms(now)),
                cell(run.outcome_text.as_deref().unwrap_or("running"))
            );
        }
    }

    // ---- gates
    section(&mut out, "Gates");
    if r.gates.is_empty() {
        let _ = writeln!(out, "No gate applies to this release.");
    }
    for g in &r.gates {
        let _ = writeln!(
            out,
            "### Gate {}: {}\n",
            c(&g.name),
            if g.satisfied { "satisfied" } else { "not satisfied" }
        );
        match (&g.reached_by, g.reached_at) {
            (Some(stage), Some(at)) => {
                let _ = write!(out, "Reached by stage {} at {}. ", c(stage), stamp(at));
            }
            _ => out.push_str("Not reached. "),
        }
        let _ = write!(out, "Needs {} approval(s)", g.approvals_needed);
        if !g.approvers.is_empty() {
            let _ = write!(out, " from {}", c(&g.approvers.join(", ")));
        }
        if g.signed {
            out.push_str(", signed with a key of its signers file");
        }
        out.push_str(".\n\n");
        for it in &g.checklist {
            let mark = if it.done { "x" } else { " " };
            let auto = if it.automatic { " (automatic check)" } else { "" };
            let _ = write!(out, "- [{mark}] {}. {}{auto}", it.number, c(&it.text));
            if let Some(by) = &it.ticked_by {
                let _ = write!(out, ": ticked by {} at {}", c(by), opt_stamp(it.ticked_at));
                if let Some(n) = &it.note {
                    let _ = write!(out, " (note: {})", c(n));
                }
            }
            out.push('\n');
            if let Some(chk) = &it.check {
                let _ = writeln!(
                    out,
                    "  - check started {}: {}",
                    stamp(chk.started_at),
                    c(chk.outcome_text.as_deref().unwrap_or("running"))
                );
                tail(&mut out, &chk.tail, "    ");
            }
        }
        if g.approvals.is_empty() {
            out.push_str("- no approval\n");
        }
        for a in &g.approvals {
            let _ = write!(out, "- approved by {} at {}", c(&a.by), stamp(a.at));
            if !a.note.is_empty() {
                let _ = write!(out, " (note: {})", c(&a.note));
            }
            if a.expired {
                out.push_str(" (expired: does not count)");
            }
            match &a.signature {
                None => out.push_str("; unsigned"),
                Some(sig) => {
                    let _ = write!(
                        out,
                        "; signed, key {}",
                        c(sig.key.as_deref().unwrap_or("unknown"))
                    );
                    if sig.verified {
                        out.push_str(", verified");
                    } else {
                        let _ = write!(out, ", NOT verified: {}", c(sig.problem.as_deref().unwrap_or("")));
                    }
                }
            }
            out.push('\n');
        }
        for f in &g.refused {
            let _ = writeln!(
                out,
                "- refused {} by {}{}: {}",
                c(&f.asked),
                c(&f.by),
                f.at.map(|t| format!(" at {}", stamp(t))).unwrap_or_default(),
                c(&f.reason)
            );
        }
        for b in &g.bad_signatures {
            let _ = writeln!(out, "- signature does not hold: {}", c(b));
        }
        if let Some(rj) = &g.rejected {
            let _ = writeln!(out, "- rejected by {}: {}", c(&rj.by), c(&rj.reason));
        }
        out.push('\n');
    }

    // ---- failed runs
    section(&mut out, "Failed runs");
    if r.failures.is_empty() {
        let _ = writeln!(out, "No run failed.\n");
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "### {}: {}\n",
            c(&f.run.name()),
            c(f.run.outcome_text.as_deref().unwrap_or(""))
        );
        let _ = write!(
            out,
            "Started {}, ran {}",
            stamp(f.run.started_at),
            human_ms(f.run.ms(now))
        );
        if let Some(reason) = &f.reason {
            let _ = write!(out, "; the stage: {}", c(reason));
        }
        let _ = writeln!(out, "; log `{}`.\n", c(&f.run.log));
        tail(&mut out, &f.tail, "");
        out.push('\n');
    }

    // ---- drift
    section(&mut out, "Drift");
    for (title, side) in [
        ("Before (at the start)", &r.drift.before),
        ("After (at the end)", &r.drift.after),
    ] {
        let _ = writeln!(out, "### {title}\n");
        let Some(d) = side else {
            let _ = writeln!(out, "no drift snapshot\n");
            continue;
        };
        if let Some(why) = &d.unreadable {
            let _ = writeln!(out, "{} cannot be read: {}\n", c(&d.file), c(why));
            continue;
        }
        let _ = writeln!(
            out,
            "Probed {}, {} key(s){}.\n",
            opt_stamp(d.taken_at),
            d.keys,
            d.baseline
                .as_deref()
                .map(|b| format!(", compared with {}", c(b)))
                .unwrap_or_default()
        );
        let _ = writeln!(out, "| column | version | drift | keys |\n|---|---|---|---|");
        for col in &d.columns {
            let drift = if let Some(err) = &col.error {
                format!("probe failed: {}", cell(err))
            } else if col.baseline {
                "baseline".into()
            } else if col.in_sync {
                "in sync".into()
            } else {
                format!(
                    "{} differ, {} missing, {} extra",
                    col.differs, col.missing, col.extra
                )
            };
            let mut keys: Vec<String> = col
                .keys
                .iter()
                .map(|k| {
                    format!(
                        "`{}` {}: {} → {}",
                        cell(&k.key).replace('`', "'"),
                        k.mark,
                        cell(k.baseline.as_deref().unwrap_or("∅")),
                        cell(k.value.as_deref().unwrap_or("∅"))
                    )
                })
                .collect();
            if col.more > 0 {
                keys.push(format!("… {} more", col.more));
            }
            let _ = writeln!(
                out,
                "| {}{} | {} | {drift} | {} |",
                cell(&col.name),
                if col.baseline { " (baseline)" } else { "" },
                cell(col.version.as_deref().unwrap_or("–")),
                keys.join("<br>")
            );
        }
        for err in &d.errors {
            let _ = writeln!(out, "\n- probe error: {}", c(err));
        }
        out.push('\n');
    }
    if !r.drift.changed.is_empty() {
        let _ = writeln!(out, "### Changed during the release\n");
        for ch in &r.drift.changed {
            let _ = writeln!(out, "- {}", c(&ch.summary));
            for k in &ch.changes {
                let _ = writeln!(
                    out,
                    "  - `{}`: {} → {}",
                    c(&k.key).replace('`', "'"),
                    c(k.old.as_deref().unwrap_or("∅")),
                    c(k.new.as_deref().unwrap_or("∅"))
                );
            }
            if ch.more > 0 {
                let _ = writeln!(out, "  - … {} more", ch.more);
            }
        }
        out.push('\n');
    }

    // ---- notes
    section(&mut out, "Release notes");
    match &r.notes {
        None => {
            let _ = writeln!(out, "The journal names no commits (no git repository).\n");
        }
        Some(n) => {
            let since = match (&n.base_tag, &n.base) {
                (Some(t), _) => format!("since {}", c(t)),
                (None, Some(b)) => format!("since {}", c(&b.chars().take(7).collect::<String>())),
                (None, None) => "from the first commit".into(),
            };
            let _ = writeln!(
                out,
                "{} commit(s) {since} to {}{} (source: {}).\n",
                n.commits.len() + n.omitted,
                c(&n.head.chars().take(7).collect::<String>()),
                if n.omitted > 0 {
                    format!(", {} not listed", n.omitted)
                } else {
                    String::new()
                },
                n.source
            );
            if let Some(md) = &n.markdown {
                // Its headings one level down, under this section.
                for l in crate::ansi::clean_lines(md).lines() {
                    let l = entities(l);
                    match l.strip_prefix("## ") {
                        Some(h) => {
                            let _ = writeln!(out, "### {h}");
                        }
                        None => {
                            let _ = writeln!(out, "{l}");
                        }
                    }
                }
                out.push('\n');
            }
            if !n.commits.is_empty() {
                let _ = writeln!(out, "| commit | time | subject | author |\n|---|---|---|---|");
                for cm in &n.commits {
                    let subject = match (&cm.kind, &cm.subject) {
                        (Some(k), Some(sub)) => format!(
                            "{k}{}{}: {sub}",
                            cm.scope.as_deref().map(|s| format!("({s})")).unwrap_or_default(),
                            if cm.breaking { "!" } else { "" }
                        ),
                        (None, Some(sub)) => sub.clone(),
                        (_, None) => "–".into(),
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        cell(&cm.short),
                        stamp(cm.time),
                        cell(&subject),
                        cell(cm.author.as_deref().unwrap_or("–"))
                    );
                }
                out.push('\n');
            }
        }
    }

    // ---- incidents, rollbacks
    section(&mut out, "Incidents");
    if r.incidents.is_empty() {
        let _ = writeln!(out, "No incident names this release.");
    }
    for i in &r.incidents {
        let inc = &i.incident;
        let _ = write!(
            out,
            "- #{} on {}: {} ({}); opened by {} at {}",
            inc.number,
            c(&inc.env),
            c(&inc.summary),
            c(&i.relation),
            c(&inc.opened_by),
            stamp(inc.opened_at)
        );
        match (&inc.resolved_by, inc.resolved_at) {
            (Some(by), Some(at)) => {
                let _ = write!(out, "; resolved by {} at {}", c(by), stamp(at));
                if !inc.note.is_empty() {
                    let _ = write!(out, " ({})", c(&inc.note));
                }
            }
            _ => out.push_str("; OPEN"),
        }
        out.push('\n');
    }
    section(&mut out, "Rollbacks");
    if r.rollbacks.requests.is_empty() && r.rollbacks.round.is_none() {
        let _ = writeln!(out, "Never rolled back.");
    }
    for q in &r.rollbacks.requests {
        let _ = write!(
            out,
            "- asked by {} at {}: {}",
            c(&q.by),
            stamp(q.at),
            match &q.stage {
                Some(s) => format!("from stage {}", c(s)),
                None => "the whole release".into(),
            }
        );
        if !q.targets.is_empty() {
            let _ = write!(out, ", targets {}", c(&q.targets.join(", ")));
        }
        if !q.forced_over.is_empty() {
            let _ = write!(out, "; forced over {}", c(&q.forced_over.join("; ")));
        }
        let _ = write!(
            out,
            "; {}",
            match q.accepted {
                Some(true) => "accepted",
                Some(false) => "refused",
                None => "pending",
            }
        );
        if let Some(m) = &q.message {
            let _ = write!(out, ": {}", c(m));
        }
        out.push('\n');
    }
    if let Some(round) = &r.rollbacks.round {
        let _ = writeln!(
            out,
            "- rollback: {}; order: {}; {}",
            c(&round.reason),
            c(&round.order.join(", ")),
            match round.ok {
                Some(true) => "finished",
                Some(false) => "FAILED",
                None => "running",
            }
        );
    }

    // ---- review
    section(&mut out, "Post-release review");
    let rv = &r.review;
    if rv.went_well.is_empty() && rv.went_wrong.is_empty() && rv.actions.is_empty() {
        let _ = writeln!(out, "Nobody reviewed it yet.");
    }
    for (title, list) in [("Went well", &rv.went_well), ("Went wrong", &rv.went_wrong)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for said in list {
            let _ = writeln!(out, "- {} ({}, {})", c(&said.text), c(&said.by), stamp(said.at));
        }
        out.push('\n');
    }
    if !rv.actions.is_empty() {
        let _ = writeln!(out, "### Action items\n");
        let _ = writeln!(out, "| # | action | owner | due | state |\n|---|---|---|---|---|");
        for a in &rv.actions {
            let state = if a.open {
                if a.overdue {
                    "open, OVERDUE".to_string()
                } else {
                    "open".to_string()
                }
            } else {
                format!(
                    "closed{}{}",
                    a.closed_by
                        .as_deref()
                        .map(|b| format!(" by {}", c(b)))
                        .unwrap_or_default(),
                    a.note
                        .as_deref()
                        .map(|n| format!(": {}", c(n)))
                        .unwrap_or_default()
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                a.number,
                cell(&a.text),
                cell(&a.owner),
                a.due,
                cell(&state)
            );
        }
    }

    // ---- metrics
    section(&mut out, "Delivery metrics: what this release changed");
    let m = &r.metrics;
    if let Some(note) = &m.note {
        let _ = writeln!(out, "{}", c(note));
    } else {
        let _ = writeln!(
            out,
            "On {}, {} to {}.\n",
            c(m.env.as_deref().unwrap_or("")),
            opt_stamp(m.from),
            opt_stamp(m.to)
        );
        let _ = writeln!(
            out,
            "| metric | before (without it) | after (with it) | change |\n|---|---|---|---|"
        );
        for f in &m.figures {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                f.name.replace('_', " "),
                metric_value(f.unit, f.before),
                metric_value(f.unit, f.after),
                metric_delta(f.unit, f.delta)
            );
        }
        let _ = writeln!(out, "\n{}", c(&m.method));
    }
    if !r.warnings.is_empty() {
        section(&mut out, "Could not be read");
        for w in &r.warnings {
            let _ = writeln!(out, "- {}", c(w));
        }
    }
    let _ = writeln!(
        out,
        "\n_Generated by flightdeck {} at {} from the release's journal (hash chain checked)._",
        env!("CARGO_PKG_VERSION"),
        stamp(now)
    );
    out
}
