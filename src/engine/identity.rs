//! Who acts. A name enters through `--as`, `FLIGHTDECK_USER`, git's `user.name` or `$USER`; it is
//! trimmed and must be printable ([`normalize`]). Names are compared without regard to case or
//! surrounding blanks ([`same`]), so `bob`, `BOB` and `bob ` are one person, also in journals
//! written before names were normalised.

/// The longest name accepted.
pub const MAX_NAME: usize = 128;

/// `raw` trimmed; refused when empty, longer than [`MAX_NAME`] characters or holding a control
/// character (an escape sequence or a newline would reach every terminal that shows it).
pub fn normalize(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("a name must not be empty".into());
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the name \"{}\" holds control characters (escape sequences, newlines, tabs); use a plain name",
            name.escape_debug()
        ));
    }
    let n = name.chars().count();
    if n > MAX_NAME {
        return Err(format!("a name may have at most {MAX_NAME} characters, not {n}"));
    }
    Ok(name.to_string())
}

/// The form names are compared in: trimmed and case-folded.
pub fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether two names are the same person.
pub fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim()) || key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_be_printable() {
        assert_eq!(normalize("  bob ").unwrap(), "bob");
        assert!(normalize("").is_err());
        assert!(normalize(" \t ").is_err());
        assert!(normalize("a\nb").is_err());
        let e = normalize("evil\x1b]0;pwned\x07").unwrap_err();
        assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e}");
        assert!(normalize(&"x".repeat(129)).is_err());
        assert_eq!(normalize("Zoë").unwrap(), "Zoë");
    }

    #[test]
    fn comparison_ignores_case_and_blanks() {
        assert!(same("bob", "BOB"));
        assert!(same("bob", "bob "));
        assert!(same("Zoë", "ZOË"));
        assert!(!same("bob", "rob"));
    }
}
