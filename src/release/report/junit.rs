//! The report as JUnit XML, for CI systems that show test results: one `<testsuite>` for the
//! release, one `<testcase>` per run (each deploy attempt and rollback run of a stage, on a
//! target): `classname` is `plan.stage`, `name` `stage[/target] attempt N`, `time` its duration
//! in seconds; a run that did not succeed has a `<failure>` with its outcome, the stage's
//! reason and the end of its output; a skipped stage (and a stage that never ran) is a
//! `<testcase>` with `<skipped>`. Everything from the journal is sanitised and escaped.

use std::fmt::Write as _;

use super::{Report, Run, push_escaped, stamp};

fn e(out: &mut String, s: &str) {
    push_escaped(out, s);
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

enum Case<'a> {
    Run(&'a Run),
    /// A stage with no run: skipped (with its reason), or never reached.
    Stage {
        id: &'a str,
        skipped: bool,
        reason: Option<&'a str>,
    },
}

pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let now = r.generated_at;
    let mut cases: Vec<Case<'_>> = Vec::new();
    for st in &r.timeline {
        let mut ran = false;
        for t in &st.targets {
            for run in t.attempts.iter().chain(t.rollbacks.iter()) {
                ran = true;
                cases.push(Case::Run(run));
            }
        }
        if !ran || st.status == "skipped" {
            cases.push(Case::Stage {
                id: &st.id,
                skipped: st.status == "skipped",
                reason: st.reason.as_deref(),
            });
        }
    }
    let tests = cases.len();
    let failures = cases
        .iter()
        .filter(|c| matches!(c, Case::Run(run) if run.failed()))
        .count();
    let passed = cases
        .iter()
        .filter(|c| matches!(c, Case::Run(run) if run.outcome == Some("succeeded")))
        .count();
    // Runs still going and stages that did not run.
    let skipped = tests - failures - passed;
    let time = s
        .duration_ms
        .unwrap_or_else(|| r.runs().map(|run| run.ms(now)).sum());
    let mut out = String::with_capacity(1024 + tests * 300);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"flightdeck\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">",
        secs(time)
    );
    out.push_str("  <testsuite name=\"");
    e(&mut out, &format!("{} {}", s.plan, s.id));
    let _ = write!(
        out,
        "\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\"",
        secs(time)
    );
    if let Some(t) = s.started_at {
        let _ = write!(out, " timestamp=\"{}\"", t.format("%Y-%m-%dT%H:%M:%S"));
    }
    out.push_str(">\n    <properties>\n");
    let mut prop = |name: &str, value: &str| {
        let _ = write!(out, "      <property name=\"{name}\" value=\"");
        e(&mut out, value);
        out.push_str("\"/>\n");
    };
    prop("plan", &s.plan);
    prop("release", &s.id);
    prop("version", &s.version);
    prop("type", &s.rtype);
    prop("started_by", &s.started_by);
    prop("state", &s.state);
    if !s.reason.is_empty() {
        prop("reason", &s.reason);
    }
    if let Some(t) = s.started_at {
        prop("started_at", &stamp(t));
    }
    if let Some(t) = s.finished_at {
        prop("finished_at", &stamp(t));
    }
    if let Some(c) = &s.commit {
        prop("commit", c);
    }
    out.push_str("    </properties>\n");
    for c in &cases {
        match c {
            Case::Run(run) => {
                out.push_str("    <testcase classname=\"");
                e(&mut out, &format!("{}.{}", s.plan, run.stage));
                out.push_str("\" name=\"");
                e(&mut out, &run.name());
                let _ = write!(out, "\" time=\"{}\"", secs(run.ms(now)));
                if run.failed() {
                    out.push_str(">\n      <failure message=\"");
                    let failure = r.failure_of(run);
                    let mut message = run.outcome_text.clone().unwrap_or_default();
                    if let Some(reason) = failure.and_then(|f| f.reason.as_deref()) {
                        message.push_str(": ");
                        message.push_str(reason);
                    }
                    e(&mut out, &message);
                    out.push_str("\" type=\"");
                    e(&mut out, run.outcome.unwrap_or("failed"));
                    out.push_str("\">");
                    if let Some(f) = failure {
                        if let Some(why) = &f.tail.missing {
                            e(&mut out, why);
                        }
                        for (i, l) in f.tail.lines.iter().enumerate() {
                            if i > 0 {
                                out.push('\n');
                            }
                            e(&mut out, l);
                        }
                    }
                    out.push_str("</failure>\n    </testcase>\n");
                } else if run.outcome.is_none() {
                    out.push_str(">\n      <skipped message=\"still running\"/>\n    </testcase>\n");
                } else {
                    out.push_str("/>\n");
                }
            }
            Case::Stage { id, skipped, reason } => {
                out.push_str("    <testcase classname=\"");
                e(&mut out, &format!("{}.{}", s.plan, id));
                out.push_str("\" name=\"");
                e(&mut out, id);
                out.push_str("\" time=\"0.000\">\n      <skipped message=\"");
                let why = match (skipped, reason) {
                    (true, Some(r)) => format!("skipped: {r}"),
                    (true, None) => "skipped".to_string(),
                    (false, _) => "not run".to_string(),
                };
                e(&mut out, &why);
                out.push_str("\"/>\n    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
