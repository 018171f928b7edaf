//! Signed approvals: the statement an approver signs, OpenSSH's `allowed_signers` file, and
//! SSH signatures (`ssh-keygen -Y sign` format, namespace [`NAMESPACE`]).
//!
//! Verifying is pure (the `ssh-key` crate: no process, no key material beyond public keys), so
//! every reader of a journal, the fold included, checks every signature the same way. Signing is
//! left to OpenSSH's own `ssh-keygen -Y sign`, as git does: it reads any key OpenSSH reads, asks
//! for a passphrase where it must, and uses ssh-agent when the key is in it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, SecondsFormat, Utc};

/// The sshsig namespace of flightdeck's approvals.
pub const NAMESPACE: &str = "flightdeck";

/// What an approver signs: the plan, the release (id and version), the gate, the hash of the
/// journal line they saw last, and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub plan: String,
    pub release: String,
    pub version: String,
    pub gate: String,
    pub seen: String,
    pub at: DateTime<Utc>,
}

impl Statement {
    /// The text signed, one `key: value` per line.
    pub fn text(&self) -> String {
        format!(
            "flightdeck approval\nplan: {}\nrelease: {}\nversion: {}\ngate: {}\nseen: {}\ntime: {}\n",
            self.plan,
            self.release,
            self.version,
            self.gate,
            self.seen,
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// Read a statement's text back (`None`: not one).
    pub fn parse(text: &str) -> Option<Statement> {
        let mut lines = text.lines();
        if lines.next()? != "flightdeck approval" {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            let l = lines.next()?;
            l.strip_prefix(name)?.strip_prefix(": ").map(str::to_string)
        };
        let plan = field("plan")?;
        let release = field("release")?;
        let version = field("version")?;
        let gate = field("gate")?;
        let seen = field("seen")?;
        let at = DateTime::parse_from_rfc3339(&field("time")?)
            .ok()?
            .with_timezone(&Utc);
        let s = Statement {
            plan,
            release,
            version,
            gate,
            seen,
            at,
        };
        (s.text() == text).then_some(s)
    }
}

/// One line of an `allowed_signers` file.
#[derive(Debug, Clone)]
struct Entry {
    principals: Vec<String>,
    namespaces: Option<Vec<String>>,
    key: ssh_key::PublicKey,
}

/// OpenSSH's `allowed_signers`: who may sign, with which key (`principals [options] key`).
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    entries: Vec<Entry>,
}

/// Split a line into whitespace-separated tokens, keeping double-quoted parts together.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `a,b="x,y",c` → `a`, `b="x,y"`, `c`: commas inside quotes stay.
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

impl AllowedSigners {
    /// Parse the file's text; the first bad line (1-based) and why.
    pub fn parse(text: &str) -> Result<AllowedSigners, (usize, String)> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| Err((i + 1, why));
            let t = tokens(line);
            if t.len() < 3 {
                return bad("expected `principals [options] keytype key`".into());
            }
            let principals: Vec<String> = unquote(&t[0]).split(',').map(str::to_string).collect();
            let mut k = 1;
            let mut namespaces = None;
            if !is_key_type(&t[1]) {
                for opt in split_options(&t[1]) {
                    let (name, value) = opt.split_once('=').unwrap_or((&opt, ""));
                    match name.to_ascii_lowercase().as_str() {
                        "namespaces" => {
                            namespaces = Some(unquote(value).split(',').map(str::to_string).collect())
                        }
                        other => {
                            return bad(format!(
                                "option `{other}` is not supported (flightdeck reads `namespaces` only)"
                            ));
                        }
                    }
                }
                k = 2;
            }
            if t.len() < k + 2 {
                return bad("no key after the principals and options".into());
            }
            let key = match ssh_key::PublicKey::from_openssh(&format!("{} {}", t[k], t[k + 1])) {
                Ok(key) => key,
                Err(e) => return bad(format!("not a public key: {e}")),
            };
            entries.push(Entry {
                principals,
                namespaces,
                key,
            });
        }
        Ok(AllowedSigners { entries })
    }

    /// Check that `signature` (armored SSHSIG) is `principal`'s over `message` in [`NAMESPACE`],
    /// made with a key this file lists for them; why not.
    pub fn verify(&self, principal: &str, message: &[u8], signature: &str) -> Result<(), String> {
        let sig = ssh_key::SshSig::from_pem(signature).map_err(|e| format!("not an SSH signature: {e}"))?;
        if sig.namespace() != NAMESPACE {
            return Err(format!(
                "signed for namespace `{}`, not `{NAMESPACE}`",
                sig.namespace()
            ));
        }
        let mine: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.principals.iter().any(|p| matches(p, principal)))
            .filter(|e| {
                e.namespaces
                    .as_ref()
                    .is_none_or(|ns| ns.iter().any(|n| matches(n, NAMESPACE)))
            })
            .collect();
        if mine.is_empty() {
            return Err(format!("{principal} has no key in the signers file"));
        }
        let Some(entry) = mine.iter().find(|e| e.key.key_data() == sig.public_key()) else {
            return Err(format!(
                "signed with a key the signers file does not list for {principal}"
            ));
        };
        entry
            .key
            .verify(NAMESPACE, message, &sig)
            .map_err(|e| format!("the signature does not verify: {e}"))
    }
}

/// The fingerprint of the key that made `signature` (armored SSHSIG), as `ssh-keygen -l` shows
/// it (`SHA256:...`); `None` when it is not an SSH signature. Says nothing of whether the
/// signature holds: see [`AllowedSigners::verify`].
pub fn signer_fingerprint(signature: &str) -> Option<String> {
    let sig = ssh_key::SshSig::from_pem(signature).ok()?;
    Some(sig.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string())
}

/// An `allowed_signers` principal pattern (`*` and `?` wildcards) against a name, without regard
/// to ASCII case (as flightdeck compares people).
fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.trim().as_bytes(), name.trim().as_bytes())
}

/// Sign `message` with `key` (a private key file, or a public one whose private half is in
/// ssh-agent) by `ssh-keygen -Y sign`; the armored signature, or why not (one line).
///
/// It runs in a session of its own, without the terminal: a passphrase prompt would land in the
/// middle of the cockpit's screen. A key with a passphrase is used through ssh-agent.
pub fn sign(key: &Path, message: &[u8]) -> Result<String, String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .env("SSH_ASKPASS_REQUIRE", "never");
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen (OpenSSH's client): {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(message)
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("ssh-keygen: {e}"))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(format!(
            "ssh-keygen could not sign with {}: {why} (a key with a passphrase must be in ssh-agent: ssh-add it)",
            key.display()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| "ssh-keygen wrote a signature that is not text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_reads_back_exactly() {
        let s = Statement {
            plan: "shop".into(),
            release: "2.4.0".into(),
            version: "2.4.0".into(),
            gate: "prod-signoff".into(),
            seen: "ab".repeat(32),
            at: DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(Statement::parse(&s.text()), Some(s.clone()));
        assert!(Statement::parse(&s.text().replace("gate: prod", "gate: staging\nx: prod")).is_none());
    }

    #[test]
    fn principals_match_with_wildcards_and_without_case() {
        assert!(matches("carol", "Carol"));
        assert!(matches("*@example.com", "carol@example.com"));
        assert!(matches("c?rol", "carol"));
        assert!(!matches("carol", "caroline"));
    }

    #[test]
    fn the_signers_file_is_parsed_and_unsupported_options_named() {
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let text = format!("# CAB\ncarol,dan {key} carol@laptop\nerin namespaces=\"git,flightdeck\" {key}\n");
        let s = AllowedSigners::parse(&text).unwrap();
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].principals, ["carol", "dan"]);
        assert_eq!(
            s.entries[1].namespaces.as_deref(),
            Some(&["git".to_string(), "flightdeck".to_string()][..])
        );
        let err = AllowedSigners::parse(&format!("carol valid-before=20270101 {key}\n")).unwrap_err();
        assert_eq!(err.0, 1);
        assert!(
            err.1.contains("option `valid-before` is not supported"),
            "{}",
            err.1
        );
        let err = AllowedSigners::parse("carol ssh-ed25519 notbase64\n").unwrap_err();
        assert!(err.1.starts_with("not a public key"), "{}", err.1);
    }
}
