//! `{placeholder}` commands: parsing (for validation) and rendering with shell quoting.
//!
//! Syntax: `{name}` where name is `[A-Za-z_][A-Za-z0-9_]*` is a placeholder; `{{` and `}}` are
//! literal braces; `${NAME}` is a shell parameter and left alone; any other brace (`awk '{print $1}'`,
//! `{a,b}`) is literal text. Values are substituted shell-quoted, so a version string can never inject
//! a command.

use super::model::Template;

/// Placeholders every command may use (subject to `{env}`/`{target}` needing an environment/targets).
/// `commit` and `notes_file` come from git (empty for a plan outside a repository).
pub const KNOWN: &[&str] = &[
    "version",
    "type",
    "release",
    "stage",
    "env",
    "target",
    "commit",
    "notes_file",
];

/// One `{name}` occurrence: byte offset of the `{` in the template and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub offset: usize,
    pub name: String,
}

enum Piece<'a> {
    Text(&'a str),
    Var(usize, &'a str),
}

fn pieces(s: &str) -> Vec<Piece<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                out.push(Piece::Text(&s[lit_start..i + 1]));
                i += 2;
                lit_start = i;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                out.push(Piece::Text(&s[lit_start..i + 1]));
                i += 2;
                lit_start = i;
            }
            b'{' if i == 0 || b[i - 1] != b'$' => {
                let name_len = b[i + 1..]
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                    .unwrap_or(b.len() - i - 1);
                let valid =
                    name_len > 0 && !b[i + 1].is_ascii_digit() && b.get(i + 1 + name_len) == Some(&b'}');
                if valid {
                    out.push(Piece::Text(&s[lit_start..i]));
                    out.push(Piece::Var(i, &s[i + 1..i + 1 + name_len]));
                    i += name_len + 2;
                    lit_start = i;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push(Piece::Text(&s[lit_start..]));
    out
}

impl Template {
    pub fn new(s: impl Into<String>) -> Self {
        Template(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Every `{name}` in the template, in order.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        pieces(&self.0)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Var(offset, name) => Some(Placeholder {
                    offset,
                    name: name.to_string(),
                }),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// Substitute every placeholder with its value from `lookup`, shell-quoted. A placeholder the
    /// lookup does not know renders as an empty quoted string (validation rejects those up front).
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(self.0.len() + 16);
        for p in pieces(&self.0) {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(_, name) => out.push_str(&shell_quote(&lookup(name).unwrap_or_default())),
            }
        }
        out
    }
}

/// Quote `s` for POSIX `sh`: left bare when it is made only of safe characters, else single-quoted
/// with embedded single quotes written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-/:=@%+,".contains(&c));
    if safe {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<String> {
        Template::new(s)
            .placeholders()
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn finds_placeholders_and_leaves_shell_braces_alone() {
        assert_eq!(names("./deploy.sh {env} {version}"), ["env", "version"]);
        assert_eq!(
            names("echo ${HOME} {{literal}} awk '{print $1}' {a,b} {1x}"),
            Vec::<String>::new()
        );
        assert_eq!(names("{target}"), ["target"]);
        assert_eq!(Template::new("x {bogus}").placeholders()[0].offset, 2);
    }

    #[test]
    fn renders_quoted_values() {
        let t = Template::new("deploy {version} {{x}} ${HOME} {env}");
        let out = t.render(|n| match n {
            "version" => Some("1.2.3".into()),
            "env" => Some("a b".into()),
            _ => None,
        });
        assert_eq!(out, "deploy 1.2.3 {x} ${HOME} 'a b'");
    }

    #[test]
    fn quoting_defeats_injection() {
        assert_eq!(shell_quote("1.0; rm -rf /"), "'1.0; rm -rf /'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote("a'b $(echo x) `y` \"z\"")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a'b $(echo x) `y` \"z\"");
    }
}
