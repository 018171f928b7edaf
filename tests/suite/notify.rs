//! Stakeholder notifications (`[[notify]]`) against real HTTP servers on 127.0.0.1 started by the
//! test: one that answers 200, one that answers 500 twice and then 200, one that never answers;
//! and a command that gets the message on stdin. Every attempt's outcome is journaled; the
//! release goes on and finishes while the hanging endpoint is still being tried; the webhook
//! URL (it may hold a token) never reaches the journal.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{DEADLINE, Workspace, wait_until};
use serde_json::Value;

/// How a test server answers its n-th request (0-based): a status, or never.
#[derive(Clone, Copy)]
enum Answer {
    Always200,
    Fail500Twice,
    Never,
}

struct Server {
    port: u16,
    /// The bodies received, in order.
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Server {
    fn start(answer: Answer) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let got = bodies.clone();
        std::thread::spawn(move || {
            // Connections that are never answered are kept open.
            let mut held: Vec<TcpStream> = Vec::new();
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                got.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                let status = match answer {
                    Answer::Always200 => Some(200),
                    Answer::Fail500Twice if n < 2 => Some(500),
                    Answer::Fail500Twice => Some(200),
                    Answer::Never => None,
                };
                match status {
                    Some(code) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        );
                    }
                    None => held.push(stream),
                }
            }
        });
        Server { port, bodies }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Whether a `notify-send` naming `arg` runs.
fn sender_running(arg: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("notify-send") && c.contains(arg)
        })
    })
}

fn sent(ws: &Workspace, rule: u64) -> Vec<Value> {
    ws.events("1.0", "notify_sent")
        .into_iter()
        .filter(|e| e["rule"] == rule)
        .collect()
}

#[test]
fn every_outcome_is_journaled_and_a_hanging_endpoint_never_holds_the_release() {
    let (ok, flaky, hang) = (
        Server::start(Answer::Always200),
        Server::start(Answer::Fail500Twice),
        Server::start(Answer::Never),
    );
    let plan = format!(
        r#"
[plan]
name = "told"

[environments.staging]

[environments.prod]

[gates.go]
approvals = 1
approvers = ["carol"]

[[stage]]
id = "deploy"
environment = "prod"
run = "echo deployed {{version}}"

[[stage]]
id = "verify"
needs = ["deploy"]
gate = "go"
environment = "prod"
run = "echo verified"

[[notify]]
webhook = "{ok}"
on = ["gate_waiting", "release_finished"]

[[notify]]
webhook = "{flaky}"
on = ["release_finished"]
retries = 3

[[notify]]
webhook = "{hang}"
on = ["gate_waiting"]
timeout = "3s"
retries = 1

[[notify]]
run = "cat > told.json"
on = ["release_finished"]
environments = ["prod"]

[[notify]]
run = "touch never-told"
on = ["release_finished"]
environments = ["staging"]
"#,
        ok = ok.url("/hooks/T000/B000/S3CRET-TOKEN"),
        flaky = flaky.url("/flaky"),
        hang = hang.url("/hang"),
    );
    let ws = Workspace::new(&plan);
    ws.expect(["run", "1.0", "--detach", "--as", "releaser"], 0);
    ws.wait_for_event("1.0", "gate_reached", |_| true);
    // The gate's message names who can approve and how.
    wait_until(DEADLINE, "the gate_waiting message", || !ok.received().is_empty());
    let gate = &ok.received()[0];
    assert_eq!(gate["event"], "gate_waiting");
    assert_eq!(gate["release"], "1.0");
    assert_eq!(gate["environments"][0], "prod");
    let text = gate["text"].as_str().unwrap();
    assert!(
        text.contains("told 1.0 waits at gate go before verify: 1 approval(s) from carol")
            && text.contains("`flightdeck approve 1.0 go`")
            && text.contains("`a` in the cockpit"),
        "{text}"
    );
    // The hanging endpoint holds its connection; the release goes on regardless.
    wait_until(DEADLINE, "the hanging endpoint was called", || {
        !hang.received().is_empty()
    });
    ws.expect(["approve", "1.0", "go", "--as", "carol"], 0);
    ws.wait_for_state("1.0", "succeeded");
    assert!(
        sent(&ws, 2).is_empty(),
        "the release finished while the hanging endpoint's first attempt was still on: {:?}",
        sent(&ws, 2)
    );
    // Then every outcome is journaled.
    wait_until(DEADLINE, "every message delivered or given up", || {
        let last = |rule| sent(&ws, rule).last().map(|e| e["outcome"].clone());
        last(1) == Some("delivered".into())
            && last(2) == Some("given_up".into())
            && last(3) == Some("delivered".into())
            && sent(&ws, 0)
                .iter()
                .filter(|e| e["outcome"] == "delivered")
                .count()
                == 2
    });
    let rdir = ws.release_dir("1.0").to_string_lossy().into_owned();
    wait_until(DEADLINE, "the release's sender ends", || !sender_running(&rdir));
    let outcomes = |rule| -> Vec<(u64, String)> {
        sent(&ws, rule)
            .iter()
            .map(|e| {
                (
                    e["attempt"].as_u64().unwrap(),
                    e["outcome"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        outcomes(1),
        [
            (1, "retrying".into()),
            (2, "retrying".into()),
            (3, "delivered".into())
        ]
    );
    assert!(sent(&ws, 1)[0]["why"] == "HTTP 500", "{:?}", sent(&ws, 1));
    assert_eq!(outcomes(2), [(1, "retrying".into()), (2, "given_up".into())]);
    assert!(
        sent(&ws, 2)[1]["why"]
            .as_str()
            .unwrap()
            .contains("no answer within 3s"),
        "{:?}",
        sent(&ws, 2)
    );
    assert_eq!(flaky.received().len(), 3);
    assert_eq!(flaky.received()[2]["event"], "release_finished");
    assert_eq!(ok.received()[1]["text"], "told 1.0 succeeded");
    // The command got the message on stdin; the one filtered to staging never ran.
    let told: Value = serde_json::from_str(&std::fs::read_to_string(ws.file("told.json")).unwrap()).unwrap();
    assert_eq!(told["event"], "release_finished");
    assert_eq!(told["record"]["kind"], "release_finished");
    assert!(!ws.file("never-told").exists());
    assert!(sent(&ws, 4).is_empty());
    // Where a message went is named by host; the URL's token never reaches the journal.
    assert_eq!(sent(&ws, 0)[0]["to"], format!("webhook 127.0.0.1:{}", ok.port));
    let journal = std::fs::read_to_string(ws.release_dir("1.0").join("journal.jsonl")).unwrap();
    assert!(!journal.contains("S3CRET-TOKEN"), "{journal}");
    ws.expect(["verify", "1.0"], 0);
    // `status` says how the messages fared.
    let status = common::stdout_of(&ws.expect(["status", "1.0"], 0));
    assert!(
        status.contains(&format!(
            "notifications: 4 delivered, 0 retrying, 1 given up (last: webhook 127.0.0.1:{} given up after attempt 2: no answer within 3s)",
            hang.port
        )),
        "{status}"
    );
}

#[test]
fn a_bad_notify_is_refused_at_its_line() {
    let ws = Workspace::new(
        r#"
[plan]
name = "told"

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "true"

[[notify]]
webhook = "ftp://example.com/x"
on = ["release_finshed"]
environments = ["qa"]
"#,
    );
    let out = ws.expect(["check"], 2);
    let err = common::stderr_of(&out);
    for want in [
        "flightdeck.toml:13:11: notify 1: `webhook` must be an http:// or https:// URL with a host",
        "flightdeck.toml:14:7: unknown event `release_finshed` in notify 1; did you mean `release_finished`?",
        "flightdeck.toml:15:17: unknown environment `qa` in notify 1",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

#[test]
fn an_opened_incident_is_told_by_a_sender_of_its_own() {
    let ok = Server::start(Answer::Always200);
    let plan = format!(
        r#"
[plan]
name = "paged"

[environments.staging]

[environments.prod]

[[stage]]
id = "deploy"
environment = "prod"
run = "true"

[[notify]]
webhook = "{}"
on = ["incident_opened"]
environments = ["prod"]
"#,
        ok.url("/page")
    );
    let ws = Workspace::new(&plan);
    ws.expect(["run", "1.0"], 0);
    // Not about prod: nobody is told.
    ws.expect(["incident", "open", "--env", "staging", "slow"], 0);
    ws.expect(["incident", "open", "--env", "prod", "checkout answers 500"], 0);
    wait_until(DEADLINE, "the incident's message", || !ok.received().is_empty());
    let got = &ok.received()[0];
    assert_eq!(got["event"], "incident_opened");
    assert_eq!(
        got["text"],
        "paged: incident #2 opened on prod (release 1.0) by tester: checkout answers 500"
    );
    let journal = ws.data_dir().join("plans/paged/.incidents/incidents.jsonl");
    wait_until(DEADLINE, "its outcome journaled", || {
        std::fs::read_to_string(&journal).is_ok_and(|t| t.contains(r#""outcome":"delivered""#))
    });
    assert_eq!(ok.received().len(), 1);
    // With nothing left to deliver, its sender ends (it never idles).
    let journal_arg = journal.to_string_lossy().into_owned();
    wait_until(DEADLINE, "the sender ends", || !sender_running(&journal_arg));
    ws.expect(["verify", "--incidents"], 0);
    let listed = common::stdout_of(&ws.expect(["incident", "list", "--json"], 0));
    assert!(listed.contains("checkout answers 500"), "{listed}");
}
