//! State formats: a probe's output (or a desired-state file) read into a flat [`State`].
//!
//! - JSON: an object; nested objects become dotted keys (`a.b`), arrays are indexed (`a.0`).
//!   Values are rendered as text: strings without quotes, numbers and booleans as written, `null`
//!   as `null`, an empty object or array as `{}` / `[]`.
//! - TOML: a table, flattened the same way (numbers and dates in TOML's canonical form).
//! - kv: `key=value` lines; `#` comments and blank lines are skipped and whitespace around keys and
//!   values is trimmed.
//!
//! Detection ([`parse`] without a forced format): JSON when the text starts with `{` (after
//! whitespace); otherwise `key=value` lines, unless the text uses TOML syntax (`[table]` headers, or
//! quoted, array or inline-table values) and parses as TOML.

use std::fmt;

use crate::plan::StateFormat;

use super::state::{State, TooLarge};

/// Deepest nesting of JSON objects and arrays accepted.
const MAX_DEPTH: usize = 256;
/// How much of an offending line an error quotes.
const QUOTE_CHARS: usize = 60;

/// Why a text is not a state in the expected format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// 1-based line of the problem, when it has one.
    pub line: Option<usize>,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FormatError {}

impl From<TooLarge> for FormatError {
    fn from(e: TooLarge) -> Self {
        FormatError {
            line: None,
            message: e.to_string(),
        }
    }
}

fn error_at(line: usize, message: impl Into<String>) -> FormatError {
    FormatError {
        line: Some(line),
        message: message.into(),
    }
}

/// Read `text` as a state in `format`, or in the detected format when `None`. Returns the state
/// and the format it was read as.
pub fn parse(text: String, format: Option<StateFormat>) -> Result<(State, StateFormat), FormatError> {
    let format = match format {
        Some(f) => f,
        None if text.trim_start().starts_with('{') => StateFormat::Json,
        None => return detect_kv_or_toml(text),
    };
    let state = match format {
        StateFormat::Json => parse_json(&text)?,
        StateFormat::Toml => parse_toml(&text)?,
        StateFormat::Kv => {
            let spans = kv_spans(&text)?;
            kv_state(text, spans)?
        }
    };
    Ok((state, format))
}

/// The format a file is read in by its extension (`.json`, `.toml`, `.kv`/`.env`/`.properties`),
/// `None` when the extension says nothing.
pub fn format_for_path(path: &std::path::Path) -> Option<StateFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "json" => Some(StateFormat::Json),
        "toml" => Some(StateFormat::Toml),
        "kv" | "env" | "properties" => Some(StateFormat::Kv),
        _ => None,
    }
}

fn detect_kv_or_toml(text: String) -> Result<(State, StateFormat), FormatError> {
    let kv = kv_spans(&text);
    let tomlish = match &kv {
        Ok(spans) => spans.iter().any(|&(_, (a, b))| {
            let v = &text[a..b];
            v.starts_with(['"', '\'', '[', '{'])
        }),
        Err(_) => true,
    };
    if tomlish && let Ok(state) = parse_toml(&text) {
        return Ok((state, StateFormat::Toml));
    }
    match kv {
        Ok(spans) => Ok((kv_state(text, spans)?, StateFormat::Kv)),
        Err(kv_error) => {
            // Text with [table] headers was meant as TOML: its own error says more.
            let has_header = text.lines().any(|l| {
                let l = l.trim();
                l.starts_with('[') && l.ends_with(']')
            });
            if has_header && let Err(toml_error) = parse_toml(&text) {
                return Err(toml_error);
            }
            Err(kv_error)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// key=value lines

type Range = (usize, usize);

/// The key and value ranges of every `key=value` line of `text`.
fn kv_spans(text: &str) -> Result<Vec<(Range, Range)>, FormatError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 32);
    let mut start = 0;
    let mut line = 0;
    while start < bytes.len() {
        line += 1;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let (a, b) = trim(bytes, start, end);
        start = end + 1;
        if a == b || bytes[a] == b'#' {
            continue;
        }
        let Some(eq) = memchr::memchr(b'=', &bytes[a..b]).map(|i| a + i) else {
            return Err(error_at(
                line,
                format!("expected key=value, found {}", quote(&text[a..b])),
            ));
        };
        let key = trim(bytes, a, eq);
        if key.0 == key.1 {
            return Err(error_at(
                line,
                format!("expected a key before `=`, found {}", quote(&text[a..b])),
            ));
        }
        out.push((key, trim(bytes, eq + 1, b)));
    }
    Ok(out)
}

fn kv_state(text: String, spans: Vec<(Range, Range)>) -> Result<State, FormatError> {
    let mut state = State::over(text)?;
    state.reserve(spans.len());
    for (k, v) in spans {
        state.push_range(k, v);
    }
    Ok(state)
}

/// `bytes[a..b]` without ASCII whitespace at either end.
fn trim(bytes: &[u8], mut a: usize, mut b: usize) -> Range {
    while a < b && bytes[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && bytes[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    (a, b)
}

/// `"text"` for messages: shortened, control characters escaped.
fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(QUOTE_CHARS).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

// ---------------------------------------------------------------------------------------------
// TOML

fn parse_toml(text: &str) -> Result<State, FormatError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start).min(text.len());
        let line = text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let first = e.message().lines().next().unwrap_or("invalid TOML").to_string();
        error_at(line, format!("invalid TOML: {first}"))
    })?;
    let mut state = State::new();
    let mut key = String::new();
    flatten_toml_table(&table, &mut key, &mut state)?;
    Ok(state)
}

fn flatten_toml_table(table: &toml::Table, key: &mut String, out: &mut State) -> Result<(), TooLarge> {
    if table.is_empty() && !key.is_empty() {
        return out.push(key, "{}");
    }
    for (k, v) in table {
        let len = key.len();
        if len > 0 {
            key.push('.');
        }
        key.push_str(k);
        flatten_toml_value(v, key, out)?;
        key.truncate(len);
    }
    Ok(())
}

fn flatten_toml_value(value: &toml::Value, key: &mut String, out: &mut State) -> Result<(), TooLarge> {
    match value {
        toml::Value::String(s) => out.push(key, s),
        toml::Value::Integer(i) => out.push(key, &i.to_string()),
        toml::Value::Float(f) => out.push(key, &f.to_string()),
        toml::Value::Boolean(b) => out.push(key, if *b { "true" } else { "false" }),
        toml::Value::Datetime(d) => out.push(key, &d.to_string()),
        toml::Value::Array(items) if items.is_empty() => out.push(key, "[]"),
        toml::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = key.len();
                key.push('.');
                key.push_str(&i.to_string());
                flatten_toml_value(item, key, out)?;
                key.truncate(len);
            }
            Ok(())
        }
        toml::Value::Table(t) => flatten_toml_table(t, key, out),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON: a small flattening parser, so that numbers keep their spelling, errors name their line and
// no tree of values is built.

fn parse_json(text: &str) -> Result<State, FormatError> {
    let mut p = JsonParser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        key: String::new(),
        scratch: String::new(),
        out: State::new(),
    };
    p.skip_ws();
    match p.peek() {
        Some(b'{') => {}
        Some(_) => return Err(p.error(format!("expected a JSON object, found {}", p.found()))),
        None => return Err(p.error("expected a JSON object, found nothing")),
    }
    p.value(0)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error(format!(
            "expected the end after the JSON object, found {}",
            p.found()
        )));
    }
    Ok(p.out)
}

struct JsonParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// The dotted key of the value being read.
    key: String,
    /// A decoded string with escapes.
    scratch: String,
    out: State,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn line(&self) -> usize {
        let at = self.pos.min(self.bytes.len());
        self.bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn error(&self, message: impl Into<String>) -> FormatError {
        error_at(self.line(), message)
    }

    /// What is at the current position, for "found ..." in messages.
    fn found(&self) -> String {
        let rest = &self.text[self.pos.min(self.text.len())..];
        match rest.chars().next() {
            None => "the end of the text".to_string(),
            Some(c) => {
                let word: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !",:{}[]\"".contains(*c))
                    .take(20)
                    .collect();
                let shown = if word.is_empty() { c.to_string() } else { word };
                format!("`{}`", super::report::clean(&shown))
            }
        }
    }

    fn expect_byte(&mut self, b: u8, what: &str) -> Result<(), FormatError> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.found())))
        }
    }

    fn emit(&mut self, value: &str) -> Result<(), FormatError> {
        Ok(self.out.push(&self.key, value)?)
    }

    /// Read one value at the current key.
    fn value(&mut self, depth: usize) -> Result<(), FormatError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("objects and arrays nested deeper than {MAX_DEPTH}")));
                }
                self.object(depth + 1)
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error(format!("objects and arrays nested deeper than {MAX_DEPTH}")));
                }
                self.array(depth + 1)
            }
            Some(b'"') => {
                let (start, end, escaped) = self.string()?;
                if escaped {
                    let v = std::mem::take(&mut self.scratch);
                    let r = self.emit(&v);
                    self.scratch = v;
                    r
                } else {
                    let v = &self.text[start..end];
                    Ok(self.out.push(&self.key, v)?)
                }
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), FormatError> {
        self.pos += 1; // {
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            if !self.key.is_empty() {
                self.emit("{}")?;
            }
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error(format!("expected a quoted key, found {}", self.found())));
            }
            let (start, end, escaped) = self.string()?;
            let len = self.key.len();
            if len > 0 {
                self.key.push('.');
            }
            if escaped {
                self.key.push_str(&self.scratch);
            } else {
                self.key.push_str(&self.text[start..end]);
            }
            self.expect_byte(b':', "`:` after the key")?;
            self.value(depth)?;
            self.key.truncate(len);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error(format!("expected `,` or `}}`, found {}", self.found()))),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), FormatError> {
        self.pos += 1; // [
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return self.emit("[]");
        }
        let mut index = 0usize;
        loop {
            let len = self.key.len();
            if len > 0 {
                self.key.push('.');
            }
            self.key.push_str(itoa(index, &mut [0u8; 20]));
            self.value(depth)?;
            self.key.truncate(len);
            index += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error(format!("expected `,` or `]`, found {}", self.found()))),
            }
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), FormatError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            self.emit(word)
        } else {
            Err(self.error(format!("expected a value, found {}", self.found())))
        }
    }

    fn number(&mut self) -> Result<(), FormatError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let mut ok = digits(self);
        // No leading zeros: `0` alone, or a digit 1-9 first.
        if ok && self.bytes[int_start] == b'0' && self.pos - int_start > 1 {
            ok = false;
        }
        if ok && self.peek() == Some(b'.') {
            self.pos += 1;
            ok = digits(self);
        }
        if ok && matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            ok = digits(self);
        }
        if !ok
            || self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            self.pos = start;
            return Err(self.error(format!("expected a number, found {}", self.found())));
        }
        let text = self.text;
        self.emit(&text[start..self.pos])
    }

    /// Read a string at `"`. Returns the raw range between the quotes and whether it had escapes
    /// (then the decoded text is in `scratch`).
    fn string(&mut self) -> Result<(usize, usize, bool), FormatError> {
        self.pos += 1; // "
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((start, self.pos - 1, false));
                }
                Some(b'\\') => break,
                Some(b) if b < 0x20 => {
                    return Err(self.error("control character in a string (escape it)"));
                }
                Some(_) => self.pos += 1,
            }
        }
        self.scratch.clear();
        self.scratch.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            self.scratch.push_str(&self.text[run..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok((start, self.pos - 1, true));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            self.scratch.push(c);
                            continue;
                        }
                        _ => return Err(self.error(format!("invalid escape `\\{}`", self.found()))),
                    };
                    self.pos += 1;
                    self.scratch.push(c);
                }
                Some(_) => return Err(self.error("control character in a string (escape it)")),
            }
        }
    }

    /// After `\u`: four hex digits, and a low surrogate's `\uXXXX` after a high one.
    fn unicode_escape(&mut self) -> Result<char, FormatError> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate in a `\\u` escape"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("unpaired surrogate in a `\\u` escape"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate in a `\\u` escape"))
    }

    fn hex4(&mut self) -> Result<u32, FormatError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match digits {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("expected four hex digits after `\\u`")),
        }
    }
}

/// `n` in decimal, written into `buf`.
fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str, format: Option<StateFormat>) -> (Vec<(String, String)>, StateFormat) {
        let (state, f) = parse(text.to_string(), format).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let pairs = state
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (pairs, f)
    }

    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn err(text: &str, format: Option<StateFormat>) -> String {
        parse(text.to_string(), format)
            .err()
            .unwrap_or_else(|| panic!("should not parse:\n{text}"))
            .to_string()
    }

    #[test]
    fn nested_json_is_flattened_with_values_as_written() {
        let text = r#"
            {
              "app": {"name": "shop", "replicas": 3, "ratio": 1.50, "big": 1e3, "debug": false},
              "owner": null,
              "tags": ["a", {"x": -0.5}, [true]],
              "empty": {}, "none": [],
              "esc": "tab\there \"q\" \u00e9 \ud83d\ude00 \/"
            }
        "#;
        let (got, format) = pairs(text, None);
        assert_eq!(format, StateFormat::Json);
        assert_eq!(
            got,
            kv(&[
                ("app.name", "shop"),
                ("app.replicas", "3"),
                ("app.ratio", "1.50"),
                ("app.big", "1e3"),
                ("app.debug", "false"),
                ("owner", "null"),
                ("tags.0", "a"),
                ("tags.1.x", "-0.5"),
                ("tags.2.0", "true"),
                ("empty", "{}"),
                ("none", "[]"),
                ("esc", "tab\there \"q\" é 😀 /"),
            ])
        );
    }

    #[test]
    fn arrays_count_past_nine() {
        let items: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        let (got, _) = pairs(&format!("{{\"a\": [{}]}}", items.join(",")), None);
        assert_eq!(got.len(), 12);
        assert_eq!(got[11], ("a.11".to_string(), "11".to_string()));
    }

    #[test]
    fn bad_json_names_the_line_and_what_was_expected() {
        assert_eq!(
            err("{\n  \"a\": 1,\n  \"b\": tru\n}", None),
            "line 3: expected a value, found `tru`"
        );
        assert_eq!(
            err("{\"a\": 1\n\"b\": 2}", None),
            "line 2: expected `,` or `}`, found `\"`"
        );
        assert_eq!(err("{\"a\": 01}", None), "line 1: expected a number, found `01`");
        assert_eq!(
            err("{\"a\": 1} x", None),
            "line 1: expected the end after the JSON object, found `x`"
        );
        assert_eq!(err("{\"a\": \"x", None), "line 1: unterminated string");
        assert_eq!(
            err("[1, 2]", Some(StateFormat::Json)),
            "line 1: expected a JSON object, found `[`"
        );
        assert_eq!(err("{a: 1}", None), "line 1: expected a quoted key, found `a`");
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(300), "]".repeat(300));
        assert!(err(&deep, None).contains("nested deeper than 256"));
    }

    #[test]
    fn toml_tables_are_flattened() {
        let text = "version = \"2.4.1\"\n[db]\npool = 20\nhosts = [\"a\", \"b\"]\n[db.tls]\non = true\n\
                    [[workers]]\nname = \"w1\"\n[empty]\n";
        let (mut got, format) = pairs(text, None);
        assert_eq!(format, StateFormat::Toml);
        got.sort();
        assert_eq!(
            got,
            kv(&[
                ("db.hosts.0", "a"),
                ("db.hosts.1", "b"),
                ("db.pool", "20"),
                ("db.tls.on", "true"),
                ("empty", "{}"),
                ("version", "2.4.1"),
                ("workers.0.name", "w1"),
            ])
        );
        assert_eq!(
            err("[db]\npool = = 3\n", Some(StateFormat::Toml))
                .split(':')
                .next(),
            Some("line 2")
        );
    }

    #[test]
    fn kv_lines_with_comments_blank_lines_and_spaces() {
        let text = "# the app\n\n  version = 2.4.1 \nurl=http://x/?a=b\r\nempty=\n   # indented comment\nk.v = a b  \n";
        let (got, format) = pairs(text, None);
        assert_eq!(format, StateFormat::Kv);
        assert_eq!(
            got,
            kv(&[
                ("version", "2.4.1"),
                ("url", "http://x/?a=b"),
                ("empty", ""),
                ("k.v", "a b"),
            ])
        );
    }

    #[test]
    fn kv_garbage_names_the_line() {
        assert_eq!(
            err("a=1\n# fine\ngarbage here\nb=2\n", None),
            "line 3: expected key=value, found \"garbage here\""
        );
        assert_eq!(
            err("a=1\n = 2\n", Some(StateFormat::Kv)),
            "line 2: expected a key before `=`, found \"= 2\""
        );
        let long = format!("a=1\n{}\n", "x".repeat(200));
        let message = err(&long, None);
        assert!(
            message.starts_with("line 2: expected key=value, found \"xxx"),
            "{message}"
        );
        assert!(message.ends_with("…\""), "{message}");
        assert_eq!(
            err("bad\u{1b}[2J\n", None),
            "line 1: expected key=value, found \"bad\\u{1b}[2J\""
        );
    }

    #[test]
    fn detection_prefers_kv_and_takes_toml_syntax_as_toml() {
        // Plain lines stay kv even where they are also TOML: values as written.
        let (got, f) = pairs("a = 1.50\nb = 0x10\n", None);
        assert_eq!((f, got), (StateFormat::Kv, kv(&[("a", "1.50"), ("b", "0x10")])));
        // Quoted values are TOML strings.
        let (got, f) = pairs("name = \"shop\"\nreplicas = 3\n", None);
        assert_eq!(
            (f, got),
            (StateFormat::Toml, kv(&[("name", "shop"), ("replicas", "3")]))
        );
        // A quote that is not TOML stays a kv value.
        let (got, f) = pairs("greeting = \"hi\" there\n", None);
        assert_eq!((f, got), (StateFormat::Kv, kv(&[("greeting", "\"hi\" there")])));
        // Forced kv keeps the quotes.
        let (got, _) = pairs("name = \"shop\"\n", Some(StateFormat::Kv));
        assert_eq!(got, kv(&[("name", "\"shop\"")]));
        // Headers that do not parse as TOML: the TOML error.
        assert!(err("[db]\npool = = 1\n", None).starts_with("line 2: invalid TOML"));
        // Empty output is an empty state.
        let (got, _) = pairs("\n  \n", None);
        assert!(got.is_empty());
    }

    #[test]
    fn paths_choose_formats_by_extension() {
        use std::path::Path;
        assert_eq!(format_for_path(Path::new("a/prod.JSON")), Some(StateFormat::Json));
        assert_eq!(format_for_path(Path::new("prod.toml")), Some(StateFormat::Toml));
        assert_eq!(format_for_path(Path::new("prod.env")), Some(StateFormat::Kv));
        assert_eq!(format_for_path(Path::new("prod.txt")), None);
        assert_eq!(format_for_path(Path::new("prod")), None);
    }

    #[test]
    fn itoa_writes_decimal() {
        assert_eq!(itoa(0, &mut [0; 20]), "0");
        assert_eq!(itoa(1234567, &mut [0; 20]), "1234567");
        assert_eq!(itoa(usize::MAX, &mut [0; 20]), usize::MAX.to_string());
    }
}
