//! Positions in the plan text: byte offsets to 1-based line:column (columns in characters), and
//! offsets inside string values (past the quotes and escapes) back to the source.

use std::ops::Range;

/// One problem before it is given a file name: the byte offset it points at and its message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Issue {
    pub at: usize,
    pub message: String,
}

impl Issue {
    pub fn new(at: usize, message: impl Into<String>) -> Self {
        Issue {
            at,
            message: message.into(),
        }
    }
}

pub(super) struct SourceMap<'a> {
    text: &'a str,
    /// Byte offset where each line starts; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap { text, line_starts }
    }

    /// 1-based line and column (in characters) of byte `offset`; offsets past the end or inside a
    /// character are moved back to the nearest character start.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let mut line_start = self.line_starts[line];
        if line == 0 && self.text.starts_with('\u{feff}') {
            // A byte order mark is not a column.
            line_start = '\u{feff}'.len_utf8().min(offset);
        }
        let col = self.text[line_start..offset].chars().count() + 1;
        (line + 1, col)
    }

    /// 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// Source offset of byte `inner` of the *decoded* string whose TOML literal (quotes included)
    /// spans `span`. Exact for every string form: literal and basic, single and multi-line, with
    /// escapes and line-ending backslashes. Falls back to the literal's start for non-strings.
    pub fn string_offset(&self, span: Range<usize>, inner: usize) -> usize {
        let Some(raw) = self.text.get(span.clone()) else {
            return span.start;
        };
        let (quote, basic) = if raw.starts_with("\"\"\"") {
            (3, true)
        } else if raw.starts_with("'''") {
            (3, false)
        } else if raw.starts_with('"') {
            (1, true)
        } else if raw.starts_with('\'') {
            (1, false)
        } else {
            return span.start;
        };
        let mut pos = quote;
        // A newline right after the opening delimiter of a multi-line string is not content.
        if quote == 3 {
            if raw[pos..].starts_with("\r\n") {
                pos += 2;
            } else if raw[pos..].starts_with('\n') {
                pos += 1;
            }
        }
        let end = raw.len().saturating_sub(quote).max(pos);
        if !basic {
            return span.start + (pos + inner).min(end);
        }
        let bytes = raw.as_bytes();
        let mut decoded = 0;
        while pos < end && decoded < inner {
            if bytes[pos] != b'\\' {
                let ch_len = raw[pos..].chars().next().map_or(1, char::len_utf8);
                decoded += ch_len;
                pos += ch_len;
                continue;
            }
            let (raw_len, decoded_len) = match bytes.get(pos + 1) {
                Some(b'u') => (6, unicode_len(raw.get(pos + 2..pos + 6))),
                Some(b'U') => (10, unicode_len(raw.get(pos + 2..pos + 10))),
                Some(b'x') => (4, unicode_len(raw.get(pos + 2..pos + 4))),
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    // Line-ending backslash: it and all whitespace after it vanish.
                    let skip = raw[pos + 1..end]
                        .find(|c: char| !c.is_whitespace())
                        .unwrap_or(end - pos - 1);
                    (1 + skip, 0)
                }
                _ => (2, 1),
            };
            decoded += decoded_len;
            pos += raw_len;
        }
        span.start + pos.min(end)
    }
}

/// UTF-8 length of the character a `\u`/`\U`/`\x` escape's hex digits name.
fn unicode_len(hex: Option<&str>) -> usize {
    hex.and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "ab\nçd = 1\n\nx";
        let map = SourceMap::new(text);
        assert_eq!(map.line_col(0), (1, 1));
        assert_eq!(map.line_col(2), (1, 3));
        assert_eq!(map.line_col(3), (2, 1));
        // `d` follows a two-byte character: byte 5, column 2.
        assert_eq!(map.line_col(5), (2, 2));
        // Inside the two-byte character: moved back to its start.
        assert_eq!(map.line_col(4), (2, 1));
        assert_eq!(map.line_col(10), (2, 7));
        assert_eq!(map.line_col(11), (3, 1));
        assert_eq!(map.line_col(12), (4, 1));
        assert_eq!(map.line_col(999), (4, 2));
        assert_eq!(map.line(12), 4);
    }

    #[test]
    fn a_byte_order_mark_is_not_a_column() {
        let map = SourceMap::new("\u{feff}a = 1");
        assert_eq!(map.line_col(3), (1, 1));
        assert_eq!(map.line_col(5), (1, 3));
        assert_eq!(map.line_col(0), (1, 1));
    }

    /// Where the `{` of `{x}` lands for the TOML literal `lit` placed after `k = `.
    fn brace_col(lit: &str) -> usize {
        let text = format!("k = {lit}");
        let decoded: String = toml::from_str::<toml::Table>(&text).unwrap()["k"]
            .as_str()
            .unwrap()
            .to_string();
        let inner = decoded.find("{x}").unwrap();
        let map = SourceMap::new(&text);
        let at = map.string_offset(4..text.len(), inner);
        assert_eq!(&text[at..at + 3], "{x}", "{lit}");
        map.line_col(at).1
    }

    #[test]
    fn string_offsets_map_through_quotes_and_escapes() {
        assert_eq!(brace_col(r#""a {x}""#), 8);
        assert_eq!(brace_col("'a {x}'"), 8);
        assert_eq!(brace_col(r#""é\t\"\u00e9 {x}""#), 18);
        assert_eq!(brace_col(r#""\U0001F600 {x}""#), 17);
        assert_eq!(brace_col("\"\"\"\nab {x}\"\"\""), 4);
        assert_eq!(brace_col("'''\nab {x}'''"), 4);
        assert_eq!(brace_col("\"\"\"a \\\n     b {x}\"\"\""), 8);
    }

    #[test]
    fn string_offset_of_non_strings_is_the_value_start() {
        let map = SourceMap::new("k = 12");
        assert_eq!(map.string_offset(4..6, 1), 4);
    }
}
