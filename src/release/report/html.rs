//! The report as one self-contained HTML file: inline CSS (with print rules), the Gantt chart as
//! inline SVG, no script and no external asset. Every text that came from the journal, a plan
//! journal or a child is sanitised and escaped ([`push_escaped`]).

use std::fmt::Write as _;

use super::gantt;
use super::{Report, Run, Tail, human_ms, metric_delta, metric_value, push_escaped, stamp};

const CSS: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1b1b1b; background: #fff; margin: 2rem auto; max-width: 1120px; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #e3e3e3; padding-bottom: .2rem; margin: 2.2rem 0 .6rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 .8rem; }
th, td { border: 1px solid #dcdcdc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f5f7; font-weight: 600; }
table.kv th { width: 11rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f7f7f8; border: 1px solid #e4e4e7; border-radius: 4px; padding: .5rem .7rem;
  font-size: 12px; white-space: pre-wrap; word-break: break-all; margin: .3rem 0 .8rem; }
.muted { color: #666; }
.badge { display: inline-block; padding: 0 .45em; border-radius: 3px; color: #fff; font-size: .85em;
  font-weight: 600; background: #455a64; }
.b-succeeded { background: #2e7d32; } .b-failed, .b-rolled_back, .b-rollback_failed, .b-rejected,
.b-partially_rolled_back, .b-attention { background: #c62828; } .b-timed_out { background: #ef6c00; }
.b-error { background: #ad1457; } .b-interrupted { background: #6a1b9a; } .b-cancelled, .b-skipped
{ background: #757575; } .b-running, .b-paused, .b-scheduled { background: #1565c0; }
.legend { margin: .3rem 0 .8rem; font-size: .9em; }
.legend span.sw { display: inline-block; width: .9em; height: .9em; border-radius: 2px; vertical-align: -.1em;
  margin: 0 .3em 0 1em; }
.gantt-wrap { overflow-x: auto; border: 1px solid #e4e4e7; border-radius: 4px; padding: .4rem; }
svg.gantt { display: block; max-width: 100%; height: auto; }
.ok { color: #2e7d32; } .bad { color: #c62828; }
.warn { background: #fff8e1; border: 1px solid #ffe082; padding: .4rem .7rem; border-radius: 4px; }
footer { margin-top: 2.5rem; font-size: .85em; color: #666; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, pre, .gate, .failure { break-inside: avoid; page-break-inside: avoid; }
  .gantt-wrap { overflow: visible; border: none; padding: 0; }
  .badge, .legend span.sw, svg.gantt { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Escaped text.
fn e(out: &mut String, s: &str) {
    push_escaped(out, s);
}

fn opt_stamp(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(stamp).unwrap_or_else(|| "–".into())
}

/// A state or outcome word as a badge (its word always shown: colour is never the only sign).
fn badge(out: &mut String, word: &str) {
    badge_as(out, word, &word.replace('_', " "));
}

/// A badge coloured as `word`, saying `label`.
fn badge_as(out: &mut String, word: &str, label: &str) {
    out.push_str("<span class=\"badge b-");
    e(out, word);
    out.push_str("\">");
    e(out, label);
    out.push_str("</span>");
}

fn kv(out: &mut String, key: &str, value: &str) {
    out.push_str("<tr><th>");
    e(out, key);
    out.push_str("</th><td>");
    e(out, value);
    out.push_str("</td></tr>");
}

fn tail(out: &mut String, t: &Tail, what: &str) {
    if let Some(why) = &t.missing {
        out.push_str("<p class=\"muted\">");
        e(out, why);
        out.push_str("</p>");
        return;
    }
    if t.lines.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{what}: no output</p>");
        return;
    }
    let of = t.total.map(|n| format!(" of {n}")).unwrap_or_default();
    let _ = write!(
        out,
        "<p class=\"muted\">{what}: last {}{of} line(s)</p><pre>",
        t.lines.len()
    );
    for (i, l) in t.lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        e(out, l);
    }
    out.push_str("</pre>");
}

/// Markdown notes (as `Notes::markdown` writes them: `## Heading`, `- item`) as HTML.
fn notes_markdown(out: &mut String, text: &str) {
    let mut in_list = false;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                out.push_str("<ul>");
                in_list = true;
            }
            out.push_str("<li>");
            e(out, item);
            out.push_str("</li>");
            continue;
        }
        if in_list {
            out.push_str("</ul>");
            in_list = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            out.push_str("<h3>");
            e(out, h);
            out.push_str("</h3>");
        } else if !line.is_empty() {
            out.push_str("<p>");
            e(out, line);
            out.push_str("</p>");
        }
    }
    if in_list {
        out.push_str("</ul>");
    }
}

pub fn render(r: &Report) -> String {
    let runs: Vec<&Run> = r.runs().collect();
    let mut out = String::with_capacity(16 * 1024 + runs.len() * 900);
    let s = &r.summary;
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta name=\"generator\" content=\"flightdeck report\"><title>Release ");
    e(&mut out, &s.id);
    out.push_str(" of ");
    e(&mut out, &s.plan);
    out.push_str("</title><style>");
    out.push_str(CSS);
    out.push_str("</style></head><body>\n");

    // ---- summary
    out.push_str("<header><h1>Release ");
    e(&mut out, &s.id);
    out.push_str(" <span class=\"muted\">of plan ");
    e(&mut out, &s.plan);
    out.push_str("</span></h1><p>");
    badge(&mut out, &s.state);
    if !s.reason.is_empty() {
        out.push(' ');
        e(&mut out, &s.reason);
    }
    out.push_str("</p></header>\n<section id=\"summary\"><h2>Summary</h2><table class=\"kv\">");
    kv(&mut out, "Plan", &s.plan);
    kv(&mut out, "Version", &s.version);
    kv(&mut out, "Type", &s.rtype);
    kv(&mut out, "Started by", &s.started_by);
    out.push_str("<tr><th>Outcome</th><td>");
    badge(&mut out, &s.state);
    if !s.reason.is_empty() {
        out.push(' ');
        e(&mut out, &s.reason);
    }
    out.push_str("</td></tr>");
    kv(&mut out, "Started", &opt_stamp(s.started_at));
    kv(&mut out, "Finished", &opt_stamp(s.finished_at));
    kv(
        &mut out,
        "Duration",
        &s.duration_ms.map(human_ms).unwrap_or_else(|| "unfinished".into()),
    );
    if !s.only.is_empty() {
        kv(&mut out, "Partial", &s.only.join(", "));
    }
    if let Some(c) = &s.commit {
        kv(&mut out, "Commit", c);
    }
    if let Some(t) = &s.tag {
        kv(&mut out, "Tag", t);
    }
    if let Some(a) = &s.attention {
        kv(&mut out, "Needs attention", a);
    }
    out.push_str("</table></section>\n");

    // ---- timeline
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
    if runs.is_empty() {
        out.push_str("<p class=\"muted\">Nothing ran.</p>");
    } else {
        out.push_str("<div class=\"gantt-wrap\">");
        out.push_str(&gantt::svg(&runs, r.generated_at));
        out.push_str("</div><div class=\"legend\">");
        for (o, word) in gantt::LEGEND {
            let _ = write!(
                out,
                "<span class=\"sw\" style=\"background:{}\"></span>{word}",
                gantt::colour(*o)
            );
        }
        out.push_str(" <span class=\"muted\">(dashed outline: a rollback run)</span></div>");
    }
    out.push_str("<h3>Stages</h3><table><tr><th>Stage</th><th>Environment</th><th>Status</th><th>Started</th><th>Finished</th><th>Duration</th><th>Runs</th><th>Reason</th></tr>");
    for st in &r.timeline {
        out.push_str("<tr><td>");
        e(&mut out, &st.id);
        out.push_str("</td><td>");
        e(&mut out, st.environment.as_deref().unwrap_or("–"));
        out.push_str("</td><td>");
        badge(&mut out, st.status);
        let _ = write!(
            out,
            "</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>",
            opt_stamp(st.started_at),
            opt_stamp(st.finished_at),
            st.started_at
                .zip(st.finished_at)
                .map(|(a, b)| human_ms((b - a).num_milliseconds()))
                .unwrap_or_else(|| "–".into()),
            st.targets
                .iter()
                .map(|t| t.attempts.len() + t.rollbacks.len())
                .sum::<usize>()
        );
        e(&mut out, st.reason.as_deref().unwrap_or(""));
        out.push_str("</td></tr>");
    }
    out.push_str("</table>");
    if !runs.is_empty() {
        out.push_str("<h3>Runs</h3><table><tr><th>Run</th><th>Kind</th><th>Attempt</th><th>Started</th><th>Finished</th><th>Duration</th><th>Outcome</th></tr>");
        for run in &runs {
            out.push_str("<tr><td>");
            e(&mut out, &run.label());
            let _ = write!(
                out,
                "</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>",
                run.kind,
                run.attempt,
                stamp(run.started_at),
                opt_stamp(run.finished_at),
                human_ms(run.ms(r.generated_at)),
            );
            badge(&mut out, run.outcome.unwrap_or("running"));
            if let Some(t) = &run.outcome_text
                && run.failed()
            {
                out.push(' ');
                e(&mut out, t);
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");

    // ---- gates
    out.push_str("<section id=\"gates\"><h2>Gates</h2>");
    if r.gates.is_empty() {
        out.push_str("<p class=\"muted\">No gate applies to this release.</p>");
    }
    for g in &r.gates {
        out.push_str("<div class=\"gate\"><h3>Gate ");
        e(&mut out, &g.name);
        out.push(' ');
        match g.satisfied {
            true => badge_as(&mut out, "succeeded", "satisfied"),
            false => badge_as(&mut out, "paused", "not satisfied"),
        }
        out.push_str("</h3><p>");
        match (&g.reached_by, g.reached_at) {
            (Some(stage), Some(at)) => {
                out.push_str("Reached by stage ");
                e(&mut out, stage);
                let _ = write!(out, " at {}. ", stamp(at));
            }
            _ => out.push_str("Not reached. "),
        }
        let _ = write!(out, "Needs {} approval(s)", g.approvals_needed);
        if !g.approvers.is_empty() {
            out.push_str(" from ");
            e(&mut out, &g.approvers.join(", "));
        }
        if g.signed {
            out.push_str(", signed with a key of its signers file");
        }
        out.push_str(".</p>");
        if !g.checklist.is_empty() {
            out.push_str("<table><tr><th>#</th><th>Item</th><th>Done</th><th>By</th><th>When</th><th>Note / evidence</th></tr>");
            for it in &g.checklist {
                let _ = write!(out, "<tr><td class=\"num\">{}</td><td>", it.number);
                e(&mut out, &it.text);
                if it.automatic {
                    out.push_str(" <span class=\"muted\">(automatic check)</span>");
                }
                let _ = write!(
                    out,
                    "</td><td>{}</td><td>",
                    if it.done {
                        "<span class=\"ok\">✔ yes</span>"
                    } else {
                        "<span class=\"bad\">✘ no</span>"
                    }
                );
                match (&it.ticked_by, &it.check) {
                    (Some(by), _) => {
                        e(&mut out, by);
                        let _ = write!(out, "</td><td>{}</td><td>", opt_stamp(it.ticked_at));
                        e(&mut out, it.note.as_deref().unwrap_or(""));
                    }
                    (None, Some(c)) => {
                        let _ = write!(out, "automatic</td><td>{}</td><td>", stamp(c.started_at));
                        badge(&mut out, c.outcome.unwrap_or("running"));
                        if let Some(t) = &c.outcome_text
                            && c.outcome != Some("succeeded")
                        {
                            out.push(' ');
                            e(&mut out, t);
                        }
                        tail(&mut out, &c.tail, "output");
                    }
                    (None, None) => out.push_str("–</td><td>–</td><td>"),
                }
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
        if g.approvals.is_empty() {
            out.push_str("<p class=\"muted\">No approval.</p>");
        } else {
            out.push_str("<table><tr><th>Approved by</th><th>When</th><th>Note</th><th>Counts</th><th>Signature</th></tr>");
            for a in &g.approvals {
                out.push_str("<tr><td>");
                e(&mut out, &a.by);
                let _ = write!(out, "</td><td>{}</td><td>", stamp(a.at));
                e(&mut out, &a.note);
                out.push_str("</td><td>");
                out.push_str(if a.expired { "no: expired" } else { "yes" });
                out.push_str("</td><td>");
                match &a.signature {
                    None => out.push_str("<span class=\"muted\">unsigned</span>"),
                    Some(sig) => {
                        out.push_str("key <code>");
                        e(&mut out, sig.key.as_deref().unwrap_or("unknown"));
                        out.push_str("</code> ");
                        if sig.verified {
                            out.push_str("<span class=\"ok\">✔ verified</span>");
                        } else {
                            out.push_str("<span class=\"bad\">✘ not verified</span> ");
                            e(&mut out, sig.problem.as_deref().unwrap_or(""));
                        }
                    }
                }
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
        }
        for f in &g.refused {
            out.push_str("<p class=\"warn\">Refused ");
            e(&mut out, &f.asked);
            out.push_str(" by ");
            e(&mut out, &f.by);
            if let Some(at) = f.at {
                let _ = write!(out, " at {}", stamp(at));
            }
            out.push_str(": ");
            e(&mut out, &f.reason);
            out.push_str("</p>");
        }
        for b in &g.bad_signatures {
            out.push_str("<p class=\"warn\">Signature does not hold: ");
            e(&mut out, b);
            out.push_str("</p>");
        }
        if let Some(rj) = &g.rejected {
            out.push_str("<p class=\"warn\">Rejected by ");
            e(&mut out, &rj.by);
            out.push_str(": ");
            e(&mut out, &rj.reason);
            out.push_str("</p>");
        }
        out.push_str("</div>");
    }
    out.push_str("</section>\n");

    // ---- failed runs
    out.push_str("<section id=\"failures\"><h2>Failed runs</h2>");
    if r.failures.is_empty() {
        out.push_str("<p class=\"muted\">No run failed.</p>");
    }
    for f in &r.failures {
        out.push_str("<div class=\"failure\"><h3>");
        e(&mut out, &f.run.name());
        out.push(' ');
        badge(&mut out, f.run.outcome.unwrap_or("failed"));
        out.push_str("</h3><p>");
        e(&mut out, f.run.outcome_text.as_deref().unwrap_or(""));
        let _ = write!(
            out,
            ", after {}, started {}",
            human_ms(f.run.ms(r.generated_at)),
            stamp(f.run.started_at)
        );
        if let Some(reason) = &f.reason {
            out.push_str(". Stage: ");
            e(&mut out, reason);
        }
        out.push_str(". Log <code>");
        e(&mut out, &f.run.log);
        out.push_str("</code>.</p>");
        tail(&mut out, &f.tail, "output");
        out.push_str("</div>");
    }
    out.push_str("</section>\n");

    // ---- drift
    out.push_str("<section id=\"drift\"><h2>Drift</h2>");
    for (title, side) in [
        ("Before (at the start)", &r.drift.before),
        ("After (at the end)", &r.drift.after),
    ] {
        let _ = write!(out, "<h3>{title}</h3>");
        let Some(d) = side else {
            out.push_str("<p class=\"muted\">no drift snapshot</p>");
            continue;
        };
        if let Some(why) = &d.unreadable {
            out.push_str("<p class=\"warn\">");
            e(&mut out, &d.file);
            out.push_str(" cannot be read: ");
            e(&mut out, why);
            out.push_str("</p>");
            continue;
        }
        let _ = write!(out, "<p>Probed {}, {} key(s)", opt_stamp(d.taken_at), d.keys);
        if let Some(b) = &d.baseline {
            out.push_str(", compared with ");
            e(&mut out, b);
        }
        out.push_str(".</p><table><tr><th>Column</th><th>Version</th><th>Drift</th><th>Keys</th></tr>");
        for c in &d.columns {
            out.push_str("<tr><td>");
            e(&mut out, &c.name);
            if c.baseline {
                out.push_str(" <span class=\"muted\">(baseline)</span>");
            }
            out.push_str("</td><td>");
            e(&mut out, c.version.as_deref().unwrap_or("–"));
            out.push_str("</td><td>");
            if let Some(err) = &c.error {
                out.push_str("<span class=\"bad\">probe failed:</span> ");
                e(&mut out, err);
            } else if c.baseline {
                out.push_str("baseline");
            } else if c.in_sync {
                out.push_str("<span class=\"ok\">in sync</span>");
            } else {
                let _ = write!(
                    out,
                    "<span class=\"bad\">{} differ, {} missing, {} extra</span>",
                    c.differs, c.missing, c.extra
                );
            }
            out.push_str("</td><td>");
            for k in &c.keys {
                out.push_str("<code>");
                e(&mut out, &k.key);
                out.push_str("</code> ");
                e(&mut out, k.mark);
                out.push_str(": ");
                e(&mut out, k.baseline.as_deref().unwrap_or("∅"));
                out.push_str(" → ");
                e(&mut out, k.value.as_deref().unwrap_or("∅"));
                out.push_str("<br>");
            }
            if c.more > 0 {
                let _ = write!(out, "<span class=\"muted\">… {} more</span>", c.more);
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
        for err in &d.errors {
            out.push_str("<p class=\"warn\">");
            e(&mut out, err);
            out.push_str("</p>");
        }
    }
    if !r.drift.changed.is_empty() {
        out.push_str(
            "<h3>Changed during the release</h3><table><tr><th>Column</th><th>Summary</th><th>Keys</th></tr>",
        );
        for c in &r.drift.changed {
            out.push_str("<tr><td>");
            e(&mut out, &c.column);
            out.push_str("</td><td>");
            e(&mut out, &c.summary);
            out.push_str("</td><td>");
            for ch in &c.changes {
                out.push_str("<code>");
                e(&mut out, &ch.key);
                out.push_str("</code>: ");
                e(&mut out, ch.old.as_deref().unwrap_or("∅"));
                out.push_str(" → ");
                e(&mut out, ch.new.as_deref().unwrap_or("∅"));
                out.push_str("<br>");
            }
            if c.more > 0 {
                let _ = write!(out, "<span class=\"muted\">… {} more</span>", c.more);
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");

    // ---- release notes
    out.push_str("<section id=\"notes\"><h2>Release notes</h2>");
    match &r.notes {
        None => out.push_str("<p class=\"muted\">The journal names no commits (no git repository).</p>"),
        Some(n) => {
            out.push_str("<p>");
            match (&n.base_tag, &n.base) {
                (Some(t), _) => {
                    out.push_str("Since ");
                    e(&mut out, t);
                }
                (None, Some(b)) => {
                    out.push_str("Since ");
                    e(&mut out, &b.chars().take(7).collect::<String>());
                }
                (None, None) => out.push_str("From the first commit"),
            }
            out.push_str(" to <code>");
            e(&mut out, &n.head.chars().take(7).collect::<String>());
            let _ = write!(
                out,
                "</code>: {} commit(s){}. <span class=\"muted\">(source: {})</span></p>",
                n.commits.len() + n.omitted,
                if n.omitted > 0 {
                    format!(", {} not listed", n.omitted)
                } else {
                    String::new()
                },
                n.source
            );
            if let Some(md) = &n.markdown {
                notes_markdown(&mut out, md);
            }
            if !n.commits.is_empty() {
                out.push_str("<table><tr><th>Commit</th><th>Time</th><th>Subject</th><th>Author</th></tr>");
                for c in &n.commits {
                    out.push_str("<tr><td><code>");
                    e(&mut out, &c.short);
                    let _ = write!(out, "</code></td><td>{}</td><td>", stamp(c.time));
                    if let Some(k) = &c.kind {
                        out.push_str("<span class=\"muted\">");
                        e(&mut out, k);
                        if let Some(sc) = &c.scope {
                            out.push('(');
                            e(&mut out, sc);
                            out.push(')');
                        }
                        out.push_str(if c.breaking { "!" } else { "" });
                        out.push_str(":</span> ");
                    }
                    e(&mut out, c.subject.as_deref().unwrap_or("–"));
                    out.push_str("</td><td>");
                    e(&mut out, c.author.as_deref().unwrap_or("–"));
                    out.push_str("</td></tr>");
                }
                out.push_str("</table>");
            }
        }
    }
    out.push_str("</section>\n");

    // ---- incidents and rollbacks
    out.push_str("<section id=\"incidents\"><h2>Incidents</h2>");
    if r.incidents.is_empty() {
        out.push_str("<p class=\"muted\">No incident names this release.</p>");
    } else {
        out.push_str("<table><tr><th>#</th><th>Environment</th><th>Summary</th><th>Opened</th><th>Resolved</th><th>Relation</th></tr>");
        for i in &r.incidents {
            let inc = &i.incident;
            let _ = write!(out, "<tr><td class=\"num\">{}</td><td>", inc.number);
            e(&mut out, &inc.env);
            out.push_str("</td><td>");
            e(&mut out, &inc.summary);
            out.push_str("</td><td>");
            e(&mut out, &inc.opened_by);
            let _ = write!(out, " at {}</td><td>", stamp(inc.opened_at));
            match (&inc.resolved_by, inc.resolved_at) {
                (Some(by), Some(at)) => {
                    e(&mut out, by);
                    let _ = write!(out, " at {}", stamp(at));
                    if !inc.note.is_empty() {
                        out.push_str(": ");
                        e(&mut out, &inc.note);
                    }
                }
                _ => out.push_str("<span class=\"bad\">open</span>"),
            }
            out.push_str("</td><td>");
            e(&mut out, &i.relation);
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n<section id=\"rollbacks\"><h2>Rollbacks</h2>");
    if r.rollbacks.requests.is_empty() && r.rollbacks.round.is_none() {
        out.push_str("<p class=\"muted\">Never rolled back.</p>");
    }
    if !r.rollbacks.requests.is_empty() {
        out.push_str("<table><tr><th>Asked by</th><th>When</th><th>Scope</th><th>Answer</th></tr>");
        for q in &r.rollbacks.requests {
            out.push_str("<tr><td>");
            e(&mut out, &q.by);
            let _ = write!(out, "</td><td>{}</td><td>", stamp(q.at));
            let mut scope = match &q.stage {
                Some(s) => format!("from stage {s}"),
                None => "the whole release".into(),
            };
            if !q.targets.is_empty() {
                scope.push_str(&format!(", targets {}", q.targets.join(", ")));
            }
            if !q.forced_over.is_empty() {
                scope.push_str(&format!("; forced over {}", q.forced_over.join("; ")));
            }
            e(&mut out, &scope);
            out.push_str("</td><td>");
            out.push_str(match q.accepted {
                Some(true) => "accepted",
                Some(false) => "refused",
                None => "pending",
            });
            if let Some(m) = &q.message {
                out.push_str(": ");
                e(&mut out, m);
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    if let Some(round) = &r.rollbacks.round {
        out.push_str("<p>Rollback: ");
        e(&mut out, &round.reason);
        out.push_str("; order: ");
        e(&mut out, &round.order.join(", "));
        out.push_str("; ");
        out.push_str(match round.ok {
            Some(true) => "<span class=\"ok\">finished</span>",
            Some(false) => "<span class=\"bad\">failed</span>",
            None => "running",
        });
        out.push_str(".</p>");
    }
    out.push_str("</section>\n");

    // ---- review
    out.push_str("<section id=\"review\"><h2>Post-release review</h2>");
    let rv = &r.review;
    if rv.went_well.is_empty() && rv.went_wrong.is_empty() && rv.actions.is_empty() {
        out.push_str("<p class=\"muted\">Nobody reviewed it yet.</p>");
    }
    for (title, list) in [("Went well", &rv.went_well), ("Went wrong", &rv.went_wrong)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, "<h3>{title}</h3><ul>");
        for said in list {
            out.push_str("<li>");
            e(&mut out, &said.text);
            out.push_str(" <span class=\"muted\">(");
            e(&mut out, &said.by);
            let _ = write!(out, ", {})</span></li>", stamp(said.at));
        }
        out.push_str("</ul>");
    }
    if !rv.actions.is_empty() {
        out.push_str("<h3>Action items</h3><table><tr><th>#</th><th>Action</th><th>Owner</th><th>Due</th><th>State</th></tr>");
        for a in &rv.actions {
            let _ = write!(out, "<tr><td class=\"num\">{}</td><td>", a.number);
            e(&mut out, &a.text);
            out.push_str("</td><td>");
            e(&mut out, &a.owner);
            let _ = write!(out, "</td><td>{}</td><td>", a.due);
            if a.open {
                out.push_str(if a.overdue {
                    "<span class=\"bad\">open, OVERDUE</span>"
                } else {
                    "open"
                });
            } else {
                out.push_str("closed");
                if let Some(by) = &a.closed_by {
                    out.push_str(" by ");
                    e(&mut out, by);
                }
                if let Some(n) = &a.note {
                    out.push_str(": ");
                    e(&mut out, n);
                }
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</section>\n");

    // ---- metrics
    out.push_str("<section id=\"metrics\"><h2>Delivery metrics: what this release changed</h2>");
    let m = &r.metrics;
    if let Some(note) = &m.note {
        out.push_str("<p class=\"muted\">");
        e(&mut out, note);
        out.push_str("</p>");
    } else {
        out.push_str("<p>On ");
        e(&mut out, m.env.as_deref().unwrap_or(""));
        let _ = write!(
            out,
            ", {} to {}.</p><table><tr><th>Metric</th><th>Before (without it)</th><th>After (with it)</th><th>Change</th></tr>",
            opt_stamp(m.from),
            opt_stamp(m.to)
        );
        for f in &m.figures {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                f.name.replace('_', " "),
                metric_value(f.unit, f.before),
                metric_value(f.unit, f.after),
                metric_delta(f.unit, f.delta)
            );
        }
        out.push_str("</table><p class=\"muted\">");
        e(&mut out, &m.method);
        out.push_str("</p>");
    }
    out.push_str("</section>\n");

    if !r.warnings.is_empty() {
        out.push_str("<section id=\"warnings\"><h2>Could not be read</h2><ul>");
        for w in &r.warnings {
            out.push_str("<li>");
            e(&mut out, w);
            out.push_str("</li>");
        }
        out.push_str("</ul></section>\n");
    }
    let _ = write!(
        out,
        "<footer>Generated by flightdeck {} at {} from the release's journal (hash chain checked).</footer>\n</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        stamp(r.generated_at)
    );
    out
}
