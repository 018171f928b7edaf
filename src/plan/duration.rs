//! Durations as written in plans and shown to people: `250ms`, `30s`, `10m`, `1h30m`, `2d`.
//!
//! A duration is one or more `<number><unit>` pieces that are added up; units are `ms`, `s`, `m`,
//! `h` and `d`. Whitespace between pieces is allowed (`1h 30m`). [`format_duration`] writes the
//! canonical form, which [`parse_duration`] reads back exactly (to the millisecond).

use std::time::Duration;

const UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

const EXAMPLES: &str = "e.g. 30s, 10m, 1h30m";

/// Parse `"1h30m"`-style text. The error is a short reason, meant to follow
/// "bad duration `...`: ".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("it is empty ({EXAMPLES})"));
    }
    let mut total_ms: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            return Err(if c.is_alphabetic() {
                format!("expected a number before `{}` ({EXAMPLES})", leading_word(rest))
            } else {
                format!("unexpected `{c}` ({EXAMPLES})")
            });
        }
        let number = &rest[..digits];
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(match rest.chars().next() {
                None => format!("missing unit after `{number}` (ms, s, m, h or d; {EXAMPLES})"),
                Some('.') => format!("fractions are not supported ({EXAMPLES})"),
                Some(c) => format!("unexpected `{c}` after `{number}` ({EXAMPLES})"),
            });
        }
        let unit = &rest[..unit_len];
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(format!(
                "unknown unit `{unit}` (use ms, s, m, h or d; {EXAMPLES})"
            ));
        };
        let piece = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .and_then(|ms| total_ms.checked_add(ms));
        total_ms = piece.ok_or_else(|| "it is too large".to_string())?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Duration::from_millis(total_ms))
}

fn leading_word(s: &str) -> &str {
    let end = s.find(|c: char| !c.is_alphabetic()).unwrap_or(s.len());
    &s[..end]
}

/// The canonical short form: `0s`, `250ms`, `1m30s`, `2d3h`. Sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for &(name, scale) in UNITS.iter().rev() {
        let scale = u128::from(scale);
        let n = ms / scale;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(name);
            ms %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_single_and_combined_pieces() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("30s"), Ok(ms(30_000)));
        assert_eq!(parse_duration("10m"), Ok(ms(600_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("2d"), Ok(ms(2 * 86_400_000)));
        assert_eq!(parse_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("1m30s500ms"), Ok(ms(90_500)));
        assert_eq!(parse_duration(" 1h 30m "), Ok(ms(5_400_000)));
        assert_eq!(parse_duration("0s"), Ok(ms(0)));
    }

    #[test]
    fn rejects_bad_text_with_a_reason() {
        let err = |s: &str| parse_duration(s).unwrap_err();
        assert_eq!(err(""), "it is empty (e.g. 30s, 10m, 1h30m)");
        assert_eq!(
            err("10"),
            "missing unit after `10` (ms, s, m, h or d; e.g. 30s, 10m, 1h30m)"
        );
        assert_eq!(
            err("10 minutes"),
            "unknown unit `minutes` (use ms, s, m, h or d; e.g. 30s, 10m, 1h30m)"
        );
        assert_eq!(err("m"), "expected a number before `m` (e.g. 30s, 10m, 1h30m)");
        assert_eq!(err("1.5h"), "fractions are not supported (e.g. 30s, 10m, 1h30m)");
        assert_eq!(err("-5s"), "unexpected `-` (e.g. 30s, 10m, 1h30m)");
        assert_eq!(err("5s!"), "unexpected `!` (e.g. 30s, 10m, 1h30m)");
        assert_eq!(err("99999999999999999999d"), "it is too large");
        assert_eq!(err("999999999999d"), "it is too large");
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_micros(999)), "0s");
        assert_eq!(format_duration(ms(250)), "250ms");
        assert_eq!(format_duration(ms(90_000)), "1m30s");
        assert_eq!(format_duration(ms(3_600_000)), "1h");
        assert_eq!(format_duration(ms(86_400_000 + 3 * 3_600_000)), "1d3h");
        assert_eq!(format_duration(ms(1_500)), "1s500ms");
    }

    #[test]
    fn format_round_trips() {
        for n in [1, 999, 1_000, 61_001, 5_400_000, 90_061_001, 7 * 86_400_000] {
            assert_eq!(parse_duration(&format_duration(ms(n))), Ok(ms(n)), "{n} ms");
        }
    }
}
